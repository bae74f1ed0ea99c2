import tracemalloc

import numpy as np
import pytest
import torch

import wgan
from wgan.data import DATASET_NAMES, TensorSampler, build_sampler
from wgan.data.points import load_points, points_sampler
from wgan.data.toy import GaussianMixtureSampler
from wgan.errors import WganError


def write(path, text):
    path.write_text(text)
    return path


def refused(path, *fragments):
    """Load ``path``, expect a one-line WganError naming the file and every fragment, and return the message."""
    with pytest.raises(WganError) as error:
        load_points(path)
    message = str(error.value)
    assert "\n" not in message
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


# --- reading good files -------------------------------------------------------------------------------------


def test_a_csv_of_numbers_loads_as_float32_n_by_d(tmp_path):
    x = load_points(write(tmp_path / "p.csv", "1,2,3\n4.5, -5e-1 ,6\n"))
    assert x.dtype == torch.float32
    torch.testing.assert_close(x, torch.tensor([[1.0, 2.0, 3.0], [4.5, -0.5, 6.0]]))


def test_a_csv_header_row_of_names_is_skipped(tmp_path):
    x = load_points(write(tmp_path / "p.csv", 'x,"y"\n1,2\n3,4\n'))
    torch.testing.assert_close(x, torch.tensor([[1.0, 2.0], [3.0, 4.0]]))


def test_pandas_header_numbering_unnamed_columns_is_skipped_and_whole_number_points_are_kept(tmp_path):
    # pd.DataFrame(np.array(...)).to_csv(path, index=False) writes "0,1": it was read as the point (0, 1)
    x = load_points(write(tmp_path / "p.csv", "0,1\n0.5,-2.0\n1.0,3.25\n"))
    torch.testing.assert_close(x, torch.tensor([[0.5, -2.0], [1.0, 3.25]]))
    kept = load_points(write(tmp_path / "whole.csv", "0,1\n1,0\n0.5,0.5\n"))  # a row of whole numbers: points
    assert kept.shape == (3, 2)


@pytest.mark.parametrize("text", [",0,1\n0,1.5,2.5\n1,3.5,4.5\n2,5.5,6.5\n", ",0\n0,1.5\n1,2.5\n",
                                  ",0,1\n3,1.5,2.5\n7,3.5,4.5\n"])
def test_pandas_index_over_numbered_columns_is_told_to_save_with_index_false(tmp_path, text):
    # the header was taken as data: "row 1 column 1 is '' ... a missing value ... df.dropna()"
    refused(write(tmp_path / "p.csv", text), "begins with a column of row numbers under an empty name",
            "to_csv(path, index=False)")


def test_blank_trailing_lines_of_a_csv_are_ignored(tmp_path):
    x = load_points(write(tmp_path / "p.csv", "1,2\n3,4\n\n  \n\n"))
    assert x.shape == (2, 2)


def test_a_one_column_csv_gives_n_by_1_points(tmp_path):
    assert load_points(write(tmp_path / "p.csv", "1\n2\n3\n")).shape == (3, 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.uint8])
def test_a_numeric_npy_loads_as_float32_with_its_values(tmp_path, dtype):
    data = np.arange(12).reshape(4, 3).astype(dtype)
    np.save(tmp_path / "p.npy", data)
    x = load_points(tmp_path / "p.npy")
    assert x.dtype == torch.float32
    torch.testing.assert_close(x, torch.arange(12.0).reshape(4, 3))


def test_an_upper_case_extension_is_accepted(tmp_path):
    assert load_points(write(tmp_path / "P.CSV", "1,2\n3,4\n")).shape == (2, 2)


# --- the errors ---------------------------------------------------------------------------------------------


def test_a_missing_file_is_named_and_said_not_to_exist(tmp_path):
    refused(tmp_path / "nowhere.csv", "does not exist")


def test_a_directory_is_refused(tmp_path):
    (tmp_path / "d.npy").mkdir()
    refused(tmp_path / "d.npy", "is not a file")


def test_an_unsupported_extension_lists_npy_and_csv(tmp_path):
    refused(write(tmp_path / "p.txt", "1,2\n3,4\n"), "'.txt'", ".npy", ".csv")


def test_a_ragged_csv_names_the_row_and_both_widths(tmp_path):
    refused(write(tmp_path / "p.csv", "1,2,3\n4,5,6\n7,8\n"), "row 3 has 2 columns but row 1 has 3")


def test_a_ragged_csv_after_a_header_counts_rows_from_the_header(tmp_path):
    refused(write(tmp_path / "p.csv", "a,b\n1,2\n3\n"), "row 3 has 1 columns but row 2 has 2")


def test_a_non_numeric_csv_field_names_its_row_and_column(tmp_path):
    refused(write(tmp_path / "p.csv", "1,2\n3,4\n5,abc\n"), "row 3 column 2", "'abc'", "not a number")


def test_an_empty_csv_field_is_not_a_number(tmp_path):
    refused(write(tmp_path / "p.csv", "1,2\n3,\n"), "row 2 column 2", "''")


def test_a_first_row_mixing_names_and_numbers_is_not_a_header(tmp_path):
    # it said "only a first row of column names may hold text" of the first row
    refused(write(tmp_path / "p.csv", "x,2020\n2,3\n4,5\n"), "row 1 column 1", "'x'",
            "skipped only when none of them reads as a number: rename those that do (e.g. y2020) or delete the row")


@pytest.mark.parametrize("text, fragments", [
    # each was told "a first row of column names is skipped only when none of them reads as a number"
    ("1,2,\n3,4,\n", ["row 1 column 3 is ''", "the row ends with a comma: remove the commas at the ends"]),
    ("1,NA\n3,4\n", ["row 1 column 2 is 'NA'", "a missing value", "drop the rows with missing values"]),
    ('"1,000",2\n3,4\n', ["row 1 column 1 is '1,000'", "without thousands separators (1000)"]),
    # a row as wide as the first was told to drop its trailing comma, which made it ragged
    ("1,2\n3,\n5,6\n", ["row 2 column 2 is ''", "a missing value", "df.dropna()"]),
    ("x,y\n1.5,\n3,4\n", ["row 2 column 2 is ''", "a missing value"]),
    ("x,y,\n1,2,\n", ["row 2 column 3 is ''", "the row ends with a comma"]),
    ("3,\n5,6\n", ["row 1 column 2 is ''", "or, where the rows below hold a number there, fill in the missing value"]),
    ("1,,2\n3,4,5\n", ["row 1 column 2 is ''", "a missing value"]),
    # semicolons with decimal commas were "ragged", without a word of the separator
    ("1,5;2,25\n3;4\n", ["row 1 column 2 is '5;2'", "separated by semicolons", "a point in each (1.5, not 1,5)"]),
    ("1,5\n2;3\n", ["row 2 has 1 columns but row 1 has 2", "separated by semicolons"]),
    # spaces between the numbers were "every field must be a number", after a first row read as names
    ("1.5 2.5\n3 4\n", ["row 2 column 1 is '3 4'", "separated by spaces", "a point in each (1.5, not 1,5)"]),
    ("x y\n1.5  -2\n", ["row 2 column 1 is '1.5  -2'", "separated by spaces"]),
    # Python's float() reads digits grouped by underscores, so "1_000" trained as 1000
    ("1_000,2\n3,4\n", ["row 1 column 1 is '1_000'", "without underscores (1000)"]),
    ("1,2\n3,4_5\n", ["row 2 column 2 is '4_5'", "without underscores (45)"]),
    ("1_000,2_000\n3,4\n", ["row 1 column 1 is '1_000'", "without underscores (1000)"]),  # not a header
    ("1_5\n3\n", ["row 1 column 1 is '1_5'", "without underscores (15)"]),
])
def test_csv_fields_that_tables_write_say_what_to_change(tmp_path, text, fragments):
    refused(write(tmp_path / "p.csv", text), *fragments)


def test_reading_a_csv_takes_a_few_times_its_size_in_memory(tmp_path):
    path = tmp_path / "p.csv"
    np.savetxt(path, np.random.default_rng(0).normal(size=(20_000, 2)), delimiter=",", fmt="%.6f")
    tracing = tracemalloc.is_tracing()  # (PYTHONTRACEMALLOC)
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        before = tracemalloc.get_traced_memory()[0]
        points = load_points(path)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()
    assert points.shape == (20_000, 2) and peak < 4 * path.stat().st_size  # the fields as strings: 16 times


def test_blank_lines_before_the_first_row_are_skipped(tmp_path):
    assert load_points(write(tmp_path / "p.csv", "\n\nx,y\n1,2\n3,4\n")).tolist() == [[1, 2], [3, 4]]
    refused(write(tmp_path / "q.csv", "\nx,2020\n1,2\n3,4\n"), "row 2 column 1 is 'x'", "rename those that do")


def test_a_blank_line_between_csv_rows_is_named(tmp_path):
    refused(write(tmp_path / "p.csv", "1,2\n\n3,4\n"), "row 2 is blank")


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_nan_or_inf_in_a_csv_gives_the_count_and_first_row(tmp_path, bad):
    text = f"x,y\n1,2\n3,{bad}\n{bad},{bad}\n"
    refused(write(tmp_path / "p.csv", text), "3 NaN or infinite", "first in row 3")


def test_nan_or_inf_in_an_npy_gives_the_count_and_first_row(tmp_path):
    data = np.zeros((10, 2))
    data[4, 1], data[7, 0] = np.nan, np.inf
    np.save(tmp_path / "p.npy", data)
    refused(tmp_path / "p.npy", "2 NaN or infinite", "row index 4")


def test_values_beyond_float32_range_count_as_infinite(tmp_path):
    np.save(tmp_path / "p.npy", np.array([[1.0], [1e300]]))
    refused(tmp_path / "p.npy", "1 NaN or infinite", "row index 1")


def test_points_beyond_float16s_range_are_refused_for_float16_training_before_a_folder(tmp_path):
    # every step's products were infinite: three rollbacks, then "the learning rate is likely too high"
    np.save(tmp_path / "far.npy", np.full((100, 2), 7e4) + np.random.default_rng(1).normal(size=(100, 2)))
    with pytest.raises(WganError, match=r"the points in '.*far.npy' reach 7e\+04, beyond float16's largest number "
                                        r"\(65504\): --precision fp16 cannot hold them; use bf16 or fp32"):
        wgan.train(data=str(tmp_path / "far.npy"), precision="fp16", iterations=2, out=str(tmp_path / "runs"),
                   progress=False)
    assert not (tmp_path / "runs").exists()


def test_a_1d_npy_says_to_reshape_to_n_by_1(tmp_path):
    np.save(tmp_path / "p.npy", np.arange(5.0))
    refused(tmp_path / "p.npy", "1-D", "(5,)", "(N, 1)")


def test_a_3d_npy_gives_its_shape_and_asks_for_2d(tmp_path):
    np.save(tmp_path / "p.npy", np.zeros((4, 2, 2)))
    refused(tmp_path / "p.npy", "(4, 2, 2)", "2-D")


def test_an_object_npy_is_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "p.npy", np.array([[1, "a"], [2, None]], dtype=object), allow_pickle=True)
    refused(tmp_path / "p.npy", "object", "expected numbers")


def test_a_string_npy_gives_its_dtype(tmp_path):
    np.save(tmp_path / "p.npy", np.array([["1", "2"], ["3", "4"]]))
    refused(tmp_path / "p.npy", "<U1", "expected numbers")


def test_a_file_that_is_not_npy_is_refused_as_unreadable(tmp_path):
    (tmp_path / "p.npy").write_bytes(b"1,2\n3,4\n")
    refused(tmp_path / "p.npy", "not a readable .npy")


def test_a_truncated_npy_is_refused_as_unreadable(tmp_path):
    np.save(tmp_path / "p.npy", np.zeros((100, 3)))
    data = (tmp_path / "p.npy").read_bytes()
    (tmp_path / "p.npy").write_bytes(data[: len(data) // 2])
    refused(tmp_path / "p.npy", "not a readable .npy")


def test_a_csv_that_is_not_text_is_refused(tmp_path):
    (tmp_path / "p.csv").write_bytes(b"\xff\xfe\x00\x81\x82")
    refused(tmp_path / "p.csv", "not a readable CSV")


def test_a_single_point_is_too_few(tmp_path):
    refused(write(tmp_path / "p.csv", "x,y\n1,2\n"), "has 1 point:", "at least 2")
    np.save(tmp_path / "p.npy", np.zeros((1, 3)))
    refused(tmp_path / "p.npy", "has 1 point:", "at least 2")


def test_an_empty_csv_has_no_points(tmp_path):
    refused(write(tmp_path / "p.csv", ""), "has 0 points")
    refused(write(tmp_path / "q.csv", "x,y\n"), "has 0 points")


def test_zero_columns_are_refused(tmp_path):
    np.save(tmp_path / "p.npy", np.zeros((5, 0)))
    refused(tmp_path / "p.npy", "no columns")


# --- samplers -----------------------------------------------------------------------------------------------


def test_points_sampler_draws_rows_of_the_file_reproducibly(tmp_path):
    data = np.arange(20.0).reshape(10, 2)
    np.save(tmp_path / "p.npy", data)
    sampler = points_sampler(tmp_path / "p.npy", "cpu")
    assert isinstance(sampler, TensorSampler) and sampler.shape == (2,) and sampler.modes is None
    a = sampler.sample(500, torch.Generator().manual_seed(1))
    b = sampler.sample(500, torch.Generator().manual_seed(1))
    assert a.dtype == torch.float32 and a.shape == (500, 2)
    assert torch.equal(a, b)
    rows = {tuple(row) for row in data.tolist()}
    drawn = {tuple(row) for row in a.tolist()}
    assert drawn == rows  # every drawn row is a data row, and 500 draws reach all 10


def test_build_sampler_takes_a_csv_or_npy_path(tmp_path):
    write(tmp_path / "p.csv", "1,2,3\n4,5,6\n")
    sampler = build_sampler(str(tmp_path / "p.csv"), "cpu")
    assert isinstance(sampler, TensorSampler) and sampler.shape == (3,)
    np.save(tmp_path / "p.npy", np.zeros((3, 4)))
    assert build_sampler(tmp_path / "p.npy", "cpu").shape == (4,)


def test_build_sampler_reports_a_missing_data_file_as_missing(tmp_path):
    with pytest.raises(WganError, match="does not exist"):
        build_sampler(str(tmp_path / "gone.npy"), "cpu")


def test_build_sampler_treats_an_existing_file_of_another_type_as_a_path(tmp_path):
    with pytest.raises(WganError, match="expected .npy or .csv"):
        build_sampler(str(write(tmp_path / "p.txt", "1\n2\n")), "cpu")


def test_build_sampler_takes_a_toy_name():
    assert isinstance(build_sampler("8gaussians", "cpu"), GaussianMixtureSampler)


def test_an_unknown_data_name_lists_the_names_and_mentions_files():
    with pytest.raises(WganError) as error:
        build_sampler("8gausians", "cpu")
    message = str(error.value)
    assert "'8gausians'" in message and "\n" not in message
    assert all(name in message for name in DATASET_NAMES)
    assert ".npy" in message and ".csv" in message


def test_points_too_large_to_square_in_float32_are_refused_naming_their_size(tmp_path):
    # 1e38 passed (it fits float32) and training ended "done" with an estimate of -inf
    np.save(tmp_path / "huge.npy", np.array([[1e38, 2.0], [-1e38, 4.0]]))
    with pytest.raises(WganError, match=r"holds values up to 1e\+38 in size, beyond 1e\+18: .* scale the points down"):
        load_points(tmp_path / "huge.npy")
    np.save(tmp_path / "large.npy", np.array([[1e17, 2.0], [-1e17, 4.0]]))
    assert load_points(tmp_path / "large.npy").shape == (2, 2)


@pytest.mark.parametrize("mean, std, warned", [(1000.0, 50.0, True), (0.0, 50.0, True), (3.0, 2.0, False)])
def test_training_on_points_far_from_the_toy_scale_warns_and_says_how_to_scale_them(tmp_path, capsys, mean, std,
                                                                                      warned):
    # points centred at 1000 trained to an exact W1 of about 490 and stayed there, without a word
    points = np.random.default_rng(0).normal(mean, std, size=(300, 2)).astype(np.float32)
    np.save(tmp_path / "points.npy", points)
    wgan.train(data=str(tmp_path / "points.npy"), iterations=1, eval_every=1, width=8, eval_samples=100,
               write=False, progress=False)
    error = capsys.readouterr().err
    assert ("wgan: warning: the points in" in error) == warned, error
    if warned:
        assert f"standard deviations up to {points.std(axis=0, ddof=1).max():.3g}" in error
        assert "(x - mean) / std" in error


def test_a_points_file_numpy_cannot_allocate_is_called_truncated_not_damaged(tmp_path):
    # "is not a readable .npy array (Unable to allocate 72.8 TiB ...): write it again", for a truncated file
    path = tmp_path / "points.npy"
    with open(path, "wb") as file:
        np.lib.format.write_array_header_1_0(file, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 10)})
    with pytest.raises(WganError, match=r"points.npy' is truncated: its header declares"):
        load_points(path)
