"""Hostile and odd input, generated: every case is either accepted or refused with a WganError (one line, exit 2
from the CLI); no other exception escapes, and nothing is written.

Hypothesis generates the cases: 100 a property in the default run (CI), 2000 with
``pytest tests/test_fuzz.py --hypothesis-profile=full --hypothesis-show-statistics`` (docs/RELIABILITY.md).
"""

from __future__ import annotations

import gzip
import io
import math
import pickle
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from wgan.config import FIELDS, make_config
from wgan.data import build_sampler
from wgan.data.images import load_array, load_cifar10_dir, load_idx, load_image_folder
from wgan.errors import WganError
from wgan.runs import RunFolder

ODD_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), ODD_TEXT, st.sampled_from(["", " ", "0", "-1", "1e400", "nan"]),
    st.lists(st.integers(), max_size=3),
)


def _accepted_or_refused(action) -> object | None:
    """Run ``action``; a WganError is a refusal (None); anything else raised fails the property."""
    try:
        return action()
    except WganError as error:
        assert "\n" not in str(error).strip(), "a refusal is one line"
        return None


def _written(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


# Settings, from keyword arguments and from TOML -----------------------------------------------------------------
@given(st.dictionaries(st.one_of(st.sampled_from(sorted(FIELDS)), ODD_TEXT), ODD_VALUES, max_size=6))
def test_any_settings_are_a_config_or_one_line(settings_dict):
    config = _accepted_or_refused(lambda: make_config(**settings_dict))
    if config is not None:
        assert all(getattr(config, name) is not None for name in ("lr", "batch_size", "iterations"))


TOML_VALUES = st.one_of(st.integers(min_value=-(10**20), max_value=10**20), st.floats(), st.booleans(),
                        st.text(max_size=20).map(lambda text: '"' + text.replace("\\", "").replace('"', "") + '"'),
                        st.sampled_from(["nan", "inf", "-inf", "[1, 2]", "{}", '"""x"""', "1979-05-27", ""]))


@given(st.lists(st.tuples(st.one_of(st.sampled_from(sorted(FIELDS)), st.text(max_size=12)), TOML_VALUES),
                max_size=6), st.binary(max_size=40))
def test_any_toml_file_is_a_config_or_one_line(lines, junk):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.toml"
        text = "\n".join(f"{key} = {value}" for key, value in lines)
        path.write_bytes(text.encode(errors="surrogatepass") + (b"\n" + junk if junk else b""))
        _accepted_or_refused(lambda: make_config(path))


@given(st.sampled_from(sorted(FIELDS)), TOML_VALUES)
def test_a_hand_edited_run_config_is_read_or_refused_in_one_line(key, value):
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        run.mkdir()
        (run / "config.toml").write_text(f"{key} = {value}\n")
        _accepted_or_refused(lambda: RunFolder.open(run).config())


# Point files ------------------------------------------------------------------------------------------------
def _valid_npy(rows: int, columns: int) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(rows * columns, dtype=np.float32).reshape(rows, columns))
    return buffer.getvalue()


@given(st.integers(1, 50), st.integers(1, 4), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)),
                                                         max_size=8), st.integers(0, 400))
def test_a_mutated_npy_file_of_points_is_data_or_one_line(rows, columns, flips, cut):
    data = bytearray(_valid_npy(rows, columns))
    for position, value in flips:
        if position < len(data):
            data[position] = value
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "points.npy"
        path.write_bytes(bytes(data[: len(data) - cut] if cut < len(data) else data))
        before = _written(Path(folder))
        sampler = _accepted_or_refused(lambda: build_sampler(path, "cpu"))
        if sampler is not None:
            assert math.isfinite(float(sampler.data.float().abs().max()))
        assert _written(Path(folder)) == before


@given(st.sampled_from([np.float64, np.int8, np.uint16, np.complex64, np.bool_, np.float16, object, "U3"]),
       st.sampled_from([(), (5,), (2, 3), (1, 2, 3, 4, 5), (0, 2), (3, 0)]))
def test_arrays_of_any_dtype_and_rank_are_data_or_one_line(dtype, shape):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "array.npy"
        np.save(path, np.zeros(shape, dtype=dtype), allow_pickle=True)
        _accepted_or_refused(lambda: build_sampler(path, "cpu"))


CSV_CELLS = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str),
                      st.sampled_from(["", " ", "x", "1,2", '"3"', "\t", "1e999", "--1", "0x10"]), ODD_TEXT)


@given(st.lists(st.lists(CSV_CELLS, min_size=1, max_size=4), max_size=12), st.sampled_from([",", ";", " ", "\t"]))
def test_any_csv_file_is_points_or_one_line(rows, separator):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "points.csv"
        path.write_text("\n".join(separator.join(row) for row in rows), errors="surrogatepass")
        _accepted_or_refused(lambda: build_sampler(path, "cpu"))


# Image files ------------------------------------------------------------------------------------------------
@given(st.sampled_from([2051, 2049, 0, 0x0803, 2052]), st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=4),
       st.integers(0, 100), st.booleans())
@example(2051, [0, 3_036_988_439, 3_037_012_561], 0, False)  # no images, in a shape numpy cannot make
def test_an_idx_file_with_any_header_and_length_is_images_or_one_line(magic, dims, payload, zipped):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", dim) for dim in dims)
    raw = header + bytes(payload)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("images.idx" + (".gz" if zipped else ""))
        path.write_bytes(gzip.compress(raw) if zipped else raw)
        _accepted_or_refused(lambda: load_idx(path))


def _image_bytes(kind: str, side: int) -> bytes:
    """An image of mode ``kind``, ``side`` pixels a side, of a diagonal ramp (images of one flat colour are refused
    as data)."""
    buffer = io.BytesIO()
    ramp = (np.add.outer(np.arange(side), np.arange(side)) * 255 // max(1, 2 * side - 2)).astype(np.uint8)
    if kind == "16-bit":
        Image.fromarray(ramp.astype(np.uint16) * 257).save(buffer, format="PNG")
    elif kind == "palette":
        Image.fromarray(ramp).convert("P").save(buffer, format="PNG")
    elif kind == "cmyk":
        Image.fromarray(ramp).convert("CMYK").save(buffer, format="JPEG")
    elif kind == "animated":
        frames = [Image.fromarray(ramp // value) for value in (1, 2, 4)]
        frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    elif kind == "bomb":  # a PNG header claiming 100,000 x 100,000 pixels, then nothing
        Image.new("L", (side, side)).save(buffer, format="PNG")
        data = bytearray(buffer.getvalue())
        data[16:24] = struct.pack(">II", 100_000, 100_000)
        return bytes(data)
    elif kind == "rgba":
        Image.fromarray(np.stack([ramp, ramp, ramp, 255 - ramp], axis=-1), "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


@given(st.lists(st.tuples(st.sampled_from(["16-bit", "palette", "cmyk", "animated", "bomb", "rgba", "zero-byte",
                                           "random", "truncated"]), st.integers(1, 40), st.binary(max_size=64)),
                min_size=1, max_size=4),
       st.sampled_from([1, 3]))
def test_a_folder_of_odd_images_is_images_or_one_line(files, channels):
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as cache:
        images = Path(folder)
        for number, (kind, side, junk) in enumerate(files):
            if kind == "zero-byte":
                data = b""
            elif kind == "random":
                data = junk
            elif kind == "truncated":
                data = _image_bytes("rgba", side)[: max(1, len(junk))]
            else:
                data = _image_bytes(kind, side)
            (images / f"{number}.{'gif' if kind == 'animated' else 'jpg' if kind == 'cmyk' else 'png'}").write_bytes(
                data)
        before = _written(images)
        loaded = _accepted_or_refused(lambda: load_image_folder(images, 16, channels, cache_dir=cache))
        if loaded is not None:
            assert loaded.images.shape[1:] == (channels, 16, 16)
        assert _written(images) == before


@given(st.one_of(st.binary(max_size=200),
                 st.dictionaries(st.sampled_from([b"data", b"labels", "data", b"x"]),
                                 st.one_of(st.integers(), st.lists(st.integers(0, 9), max_size=5), st.none()),
                                 max_size=3).map(pickle.dumps)))
def test_a_cifar_batch_of_any_content_is_images_or_one_line(content):
    with tempfile.TemporaryDirectory() as folder:
        for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
            (Path(folder) / name).write_bytes(content)
        _accepted_or_refused(lambda: load_cifar10_dir(folder))


@given(st.binary(max_size=300))
def test_any_npz_bytes_are_images_or_one_line(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "images.npz"
        path.write_bytes(content)
        _accepted_or_refused(lambda: load_array(path))


@pytest.mark.parametrize("kind", ["16-bit", "palette", "cmyk", "animated", "rgba"])
def test_each_odd_image_mode_loads(tmp_path, kind):
    (tmp_path / f"a.{'gif' if kind == 'animated' else 'jpg' if kind == 'cmyk' else 'png'}").write_bytes(
        _image_bytes(kind, 20))
    loaded = load_image_folder(tmp_path, 16, 3, cache_dir=tmp_path / "cache")
    assert loaded.images.shape == (1, 3, 16, 16)
