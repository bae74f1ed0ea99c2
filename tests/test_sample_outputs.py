"""``wgan sample`` writes what --out names (an array, an image grid, a folder of images, an interpolation strip, a
scatter of 2-D points) and refuses the rest in one line without writing; a point run's progress.gif; --help
keeps hyphenated names whole."""

import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import wgan
from wgan import outputs
from wgan.cli import main
from wgan.errors import WganError

TINY = dict(width=8, batch_size=16, eval_samples=64, log_every=2, iterations=4, eval_every=2, progress=False)
SIDE = 16  # the smallest image side the DCGAN models take


@pytest.fixture(scope="module")
def image_run(tmp_path_factory, one_thread):
    """A tiny run on RGB images of coloured squares, kept in a .npy file: unlabelled, so no classifier to train."""
    folder = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(0)
    images = np.zeros((64, SIDE, SIDE, 3), np.uint8)
    for image, (top, left), colour in zip(images, rng.integers(0, SIDE - 6, (64, 2)), rng.integers(0, 256, (64, 3))):
        image[top:top + 6, left:left + 6] = colour
    np.save(folder / "squares.npy", images)
    wgan.train(data=str(folder / "squares.npy"), image_size=SIDE, out=str(folder), name="images", **TINY)
    return folder / "images"


@pytest.fixture(scope="module")
def point_run(tmp_path_factory, one_thread):
    folder = tmp_path_factory.mktemp("runs")
    wgan.train(data="8gaussians", depth=1, out=str(folder), name="points", **TINY)
    return folder / "points"


def sample(run, *flags: str) -> int:
    return main(["sample", "--run", str(run), *flags])


def levels(images: np.ndarray) -> np.ndarray:
    """(k, C, H, W) images in [-1, 1] as the (k, H, W, C) 0..255 levels their PNGs hold."""
    return np.rint((images.transpose(0, 2, 3, 1) + 1) * 127.5).astype(int)


def test_a_png_out_writes_one_grid_of_the_samples_at_their_own_resolution(image_run, tmp_path):
    assert sample(image_run, "--n", "10", "--seed", "2", "--out", str(tmp_path / "grid.png")) == 0
    grid = Image.open(tmp_path / "grid.png")
    # 10 images: ceil(sqrt(10)) = 4 columns, 3 rows, each image 16 pixels plus a 1-pixel line, one more to close
    assert grid.mode == "RGB" and grid.size == (4 * (SIDE + 1) + 1, 3 * (SIDE + 1) + 1)
    samples = wgan.load_run(image_run).sample(10, 2)
    pixels = np.asarray(grid).astype(int)
    cell = SIDE + 1
    first = pixels[1:1 + SIDE, 1:1 + SIDE]
    last = pixels[1 + 2 * cell:1 + 2 * cell + SIDE, 1 + cell:1 + cell + SIDE]  # the 10th: row 2, column 1
    assert np.abs(first - levels(samples)[0]).max() <= 1 and np.abs(last - levels(samples)[9]).max() <= 1


def test_the_python_api_writes_what_wgan_sample_writes(image_run, tmp_path):
    # Python users had no public way to write a grid or a scatter
    assert sample(image_run, "--n", "6", "--seed", "3", "--out", str(tmp_path / "cli.png")) == 0
    said = wgan.load_run(image_run).save_samples(tmp_path / "api.png", 6, seed=3)
    assert said.startswith("a grid of 6 images")
    assert (tmp_path / "api.png").read_bytes() == (tmp_path / "cli.png").read_bytes()


def test_one_image_is_said_in_the_singular(image_run, tmp_path, capsys):  # "wrote a grid of 1 images"
    assert sample(image_run, "--n", "1", "--out", str(tmp_path / "one.png")) == 0
    assert f"a grid of 1 image of {SIDE} x {SIDE}" in capsys.readouterr().out


def test_a_folder_out_writes_one_png_per_sample_at_the_images_size(image_run, tmp_path):
    assert sample(image_run, "--n", "5", "--out", f"{tmp_path / 'images'}/") == 0
    files = sorted((tmp_path / "images").iterdir())
    assert [file.name for file in files] == [f"{index:06d}.png" for index in range(5)]
    assert {(Image.open(file).size, Image.open(file).mode) for file in files} == {((SIDE, SIDE), "RGB")}
    expected = levels(wgan.load_run(image_run).sample(5, 0))
    assert np.abs(np.asarray(Image.open(files[4])).astype(int) - expected[4]).max() <= 1
    assert [path.name for path in tmp_path.iterdir()] == ["images"]  # no staging folder left beside it


def test_a_staging_folder_left_by_a_writer_killed_outright_is_removed_by_the_next_write(tmp_path):
    # kill -9 of `wgan sample --out DIR/` left its hidden staging folder beside DIR for good
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())
    stale = tmp_path / f".images.{host}-{ended.stdout.strip()}.0a1b2c3d.tmp"
    kept = [tmp_path / f".images.{host}-{os.getpid()}.4e5f6a7b.tmp",  # a writer still running
            tmp_path / f".images.another-host-{ended.stdout.strip()}.0a1b2c3d.tmp",  # one this host cannot see
            tmp_path / f".images.2024.{host}-{ended.stdout.strip()}.0a1b2c3d.tmp"]  # a writer of images.2024
    for folder in (stale, *kept):
        folder.mkdir()
        (folder / "000000.png").write_bytes(b"half")
    outputs.write_image_folder(np.zeros((2, 1, 4, 4)), tmp_path / "images")
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([*(path.name for path in kept), "images"])
    assert sorted(path.name for path in (tmp_path / "images").iterdir()) == ["000000.png", "000001.png"]


def test_grey_images_map_minus_one_to_black_and_one_to_white(tmp_path):
    images = np.array([-1.0, 0.0, 1.0, 2.0]).reshape(1, 1, 2, 2)  # 2.0: outside tanh's range, clipped
    outputs.write_image_folder(images, tmp_path / "grey")
    png = Image.open(tmp_path / "grey" / "000000.png")
    assert png.mode == "L" and np.asarray(png).tolist() == [[0, 128], [255, 255]]


def test_a_folder_that_fails_half_way_leaves_nothing_and_says_so_in_one_line(image_run, tmp_path, monkeypatch,
                                                                              capsys):
    written = []

    def fill_up(path, data):
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        written.append(path)

    monkeypatch.setattr(outputs, "atomic_write_bytes", fill_up)
    assert sample(image_run, "--n", "5", "--out", f"{tmp_path / 'images'}/") == 2
    error = capsys.readouterr().err
    assert error.startswith("wgan: error: cannot write") and "No space left" in error and error.count("\n") == 1
    assert len(written) == 2 and not any(tmp_path.iterdir())


def test_the_interpolation_strip_has_k_images_a_row_that_end_at_the_generators_outputs(image_run, tmp_path):
    assert sample(image_run, "--n", "2", "--interpolate", "5", "--seed", "3", "--out", str(tmp_path / "s.png")) == 0
    assert Image.open(tmp_path / "s.png").size == (5 * (SIDE + 1) + 1, 2 * (SIDE + 1) + 1)
    run = wgan.load_run(image_run)
    strip = outputs.interpolation_strip(run.generator, run.config.latent_dim, rows=2, steps=5, seed=3)
    assert strip.shape == (2, 5, 3, SIDE, SIDE)
    noise = torch.randn(4, run.config.latent_dim, generator=torch.Generator().manual_seed(3))  # 2 rows, 2 ends each
    with torch.no_grad():
        ends = run.generator.eval()(noise).numpy()
    np.testing.assert_allclose(strip[:, 0], ends[0::2], atol=1e-5)
    np.testing.assert_allclose(strip[:, -1], ends[1::2], atol=1e-5)
    assert np.abs(strip[:, 2] - strip[:, 0]).max() > 0  # the middle is somewhere else


def test_slerp_keeps_gaussian_noise_at_its_norm_where_a_straight_line_halves_its_square():
    start, end = torch.randn(2, 64, 4096, generator=torch.Generator().manual_seed(0))
    middle = outputs.slerp(start, end, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.equal(middle[:, 0], start) and torch.equal(middle[:, 2], end)
    norms = middle[:, 1].norm(dim=1) / 4096 ** 0.5
    straight = ((start + end) / 2).norm(dim=1) / 4096 ** 0.5
    assert torch.allclose(norms, torch.ones(64), atol=0.05)
    assert torch.allclose(straight, torch.full((64,), 0.5 ** 0.5), atol=0.05)


def test_a_npy_out_round_trips_the_samples(point_run, tmp_path):
    assert sample(point_run, "--n", "7", "--seed", "4", "--out", str(tmp_path / "s.npy")) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), wgan.load_run(point_run).sample(7, 4))


def test_a_png_out_of_a_point_run_is_a_scatter_beside_the_data(point_run, tmp_path, capsys):
    assert sample(point_run, "--n", "200", "--out", str(tmp_path / "scatter.png")) == 0
    assert "scatter of 200 generated points" in capsys.readouterr().out
    width, height = Image.open(tmp_path / "scatter.png").size
    assert width > 1.5 * height  # two panels side by side


def test_a_scatter_of_a_run_whose_data_file_changed_shape_says_so(tmp_path, capsys):
    # "real points have 2 coordinates and fake ones 1: draw points of the same dimension", of a run the user never
    # told to draw anything of another dimension
    data = tmp_path / "points.csv"
    data.write_text("\n".join(str(value) for value in np.linspace(-1, 1, 64)) + "\n")
    wgan.train(data=str(data), depth=1, out=str(tmp_path), name="line", **TINY)
    data.write_text("\n".join(f"{value},{value}" for value in np.linspace(-1, 1, 64)) + "\n")
    capsys.readouterr()
    assert sample(tmp_path / "line", "--n", "5", "--out", str(tmp_path / "line.png")) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (  # after the warning that the data changed
        f"wgan: error: a .png of points draws the run's data beside them, and its data '{data}' now holds points of 2 "
        "coordinates where the run generates 1: it changed since the run trained; write the samples to a .npy file, "
        "or put the data back")
    assert not (tmp_path / "line.png").exists()


def test_the_scatter_is_headed_by_the_run_it_was_drawn_from(point_run, tmp_path, monkeypatch):
    titles, scatter = [], outputs.plots.point_scatter  # it had no title: two files of two runs looked alike
    monkeypatch.setattr(outputs.plots, "point_scatter", lambda *args: titles.append(args[2]) or scatter(*args))
    assert sample(point_run, "--n", "20", "--seed", "3", "--out", str(tmp_path / "scatter.png")) == 0
    assert titles == ["points: wgan-gp on 8gaussians, iteration 4, generator (seed 3)"]


def test_a_point_run_animates_its_landscapes_in_one_frame_per_evaluation(point_run):
    frames = sorted((point_run / "samples").glob("iter_*.png"))
    assert [frame.name for frame in frames] == ["iter_000002.png", "iter_000004.png"]
    sizes = {Image.open(frame).size for frame in frames}
    gif = Image.open(point_run / "progress.gif")
    assert len(sizes) == 1 and gif.n_frames == len(frames) and gif.size == sizes.pop()


@pytest.mark.parametrize("which, flags", [
    ("image_run", ["--out", "samples.jpg"]),
    ("image_run", ["--out", "samples"]),
    ("image_run", ["--interpolate", "4", "--out", "strip.npy"]),
    ("image_run", ["--interpolate", "1", "--out", "strip.png"]),
    ("point_run", ["--out", "images/"]),
    ("point_run", ["--interpolate", "4", "--out", "strip.png"]),
])
def test_an_out_that_does_not_fit_the_run_is_one_line_and_writes_nothing(which, flags, request, tmp_path,
                                                                         monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert sample(request.getfixturevalue(which), "--n", "3", *flags) == 2
    error = capsys.readouterr().err
    assert error.startswith("wgan: error:") and error.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_a_folder_that_holds_files_is_refused_and_kept(image_run, tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep me")
    assert sample(image_run, "--n", "3", "--out", str(tmp_path)) == 2
    assert "holds files already" in capsys.readouterr().err
    assert [path.name for path in tmp_path.iterdir()] == ["mine.txt"]


def test_an_out_beneath_a_file_names_the_file(point_run, tmp_path, capsys):  # it said "(File exists)"
    (tmp_path / "afile").write_text("")
    assert sample(point_run, "--n", "3", "--out", str(tmp_path / "afile" / "z.npy")) == 2
    assert capsys.readouterr().err.strip() == (f"wgan: error: cannot write '{tmp_path / 'afile' / 'z.npy'}': "
                                               f"'{tmp_path / 'afile'}' is a file, not a folder; choose another place")


def test_points_of_more_than_two_dimensions_are_drawn_by_their_first_two_coordinates_as_in_training(tmp_path,
                                                                                                    capsys):
    # training drew them so, and `wgan sample --out m.png` refused them
    points = np.random.default_rng(0).normal(size=(300, 3))
    np.savetxt(tmp_path / "points.csv", points, delimiter=",")
    wgan.train(data=str(tmp_path / "points.csv"), out=str(tmp_path), name="run", **TINY)
    assert sample(tmp_path / "run", "--n", "200", "--out", str(tmp_path / "m.png")) == 0
    assert "a scatter of 200 generated points beside as many of the data" in capsys.readouterr().out
    assert Image.open(tmp_path / "m.png").size[0] > 400
    assert sample(tmp_path / "run", "--n", "5", "--out", str(tmp_path / "folder") + "/") == 2
    assert capsys.readouterr().err.strip().endswith("is for images; this run's samples are points of shape (3,): "
                                                    "write them to a .npy file or a .png scatter")
    assert not (tmp_path / "folder").exists()


def test_experiment_help_keeps_hyphenated_names_whole_at_80_columns(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["experiment", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "mode-collapse" in help_text and not any(line.endswith("-") for line in help_text.splitlines())


def test_image_samples_are_in_minus_one_to_one_whatever_the_generator_puts_out(image_run):
    # the MLP generator (the reference code's) has no output tanh: samples came back from -3.1 to 2.6, while the
    # docs and `wgan sample --help` promise [-1, 1] and (x + 1) * 127.5 overflowed uint8
    run = wgan.train(data=str(image_run.parent / "squares.npy"), image_size=SIDE, model="mlp", write=False, **TINY)
    with torch.no_grad():
        for parameter in run.generator.parameters():
            parameter.mul_(50)
    samples = run.sample(200)
    assert samples.min() >= -1 and samples.max() <= 1 and np.isin([-1.0, 1.0], samples).all()


@pytest.mark.parametrize("device", ["gpu", "mps", "cuda:x"])
def test_a_device_train_would_refuse_is_refused_by_load_and_eval_too(point_run, device):
    # `wgan sample --device gpu` and load_run(device="gpu") sampled on the CPU, unsaid
    for load in (wgan.load_run, wgan.evaluate_run):
        with pytest.raises(WganError, match=f"device '{device}' is not known: use auto, cpu, cuda or cuda:N"):
            load(point_run, device=device)


class _BytesPath(os.PathLike):
    def __fspath__(self):
        return b"samples.npy"


@pytest.mark.parametrize("out", [None, 123, b"samples.npy", _BytesPath()])
def test_an_out_that_is_not_a_path_is_named(point_run, out):  # a bare TypeError from os.fspath, or bytes taken
    with pytest.raises(WganError, match=rf"out is a path \(str or pathlib.Path\), not the {type(out).__name__} "):
        wgan.load_run(point_run).save_samples(out, 3)


def test_an_out_that_is_the_runs_data_file_is_refused_and_the_data_kept(image_run, capsys):
    # `wgan sample --out squares.npy` replaced the 64 training images with the samples, and a resume then trained on
    # them after a warning that the data had changed
    data = image_run.parent / "squares.npy"
    before = data.read_bytes()
    assert sample(image_run, "--n", "3", "--out", str(data)) == 2
    assert capsys.readouterr().err.strip() == (f"wgan: error: out '{data}' is the data file the run trains on: samples "
                                               "written there would replace it; give another name")
    with pytest.raises(WganError, match="is the data file the run trains on"):
        wgan.load_run(image_run).save_samples(data, 3)
    assert data.read_bytes() == before


def test_an_out_inside_the_runs_folder_of_images_is_refused(tmp_path, capsys, one_thread):
    # a grid written among the images became a training image of every later run and resume on that folder
    images = tmp_path / "images"
    images.mkdir()
    for index, colour in enumerate(np.random.default_rng(0).integers(0, 256, (24, 3))):
        Image.new("RGB", (SIDE, SIDE), tuple(int(c) for c in colour)).save(images / f"{index}.png")
    run = wgan.train(data=str(images), image_size=SIDE, out=str(tmp_path / "runs"), name="folder", **TINY).path
    for out in (images / "grid.png", images / "generated" / "", images / "strip.png"):
        flags = ["--interpolate", "2"] if out.name == "strip.png" else []
        assert sample(run, "--n", "3", *flags, "--out", str(out) + ("/" if out.name == "generated" else "")) == 2
        assert (f"lies inside the folder of images '{images}' that the run trains on: samples written there would "
                "become training data; give a name outside it") in capsys.readouterr().err
    assert sorted(path.name for path in images.iterdir()) == sorted(f"{index}.png" for index in range(24))


@pytest.mark.parametrize("inside", ["samples/iter_000004.png", "curves.png", "checkpoints/best.npy", "config.toml.png"])
def test_an_out_among_the_runs_own_files_is_refused_and_they_are_kept(point_run, inside, capsys):
    # `wgan sample --out RUN/samples/iter_000030.png` replaced the evaluation figure progress.gif is drawn from
    out = point_run / inside
    before = out.read_bytes() if out.is_file() else None
    if inside == "config.toml.png":  # a name of the user's own beside the run's files: written
        assert sample(point_run, "--n", "3", "--out", str(out)) == 0
        return
    assert sample(point_run, "--n", "3", "--out", str(out)) == 2
    assert capsys.readouterr().err.strip().startswith(f"wgan: error: out '{out}' is among the files the run writes "
                                                      f"itself ({inside})")
    assert (out.read_bytes() if out.is_file() else None) == before
    with pytest.raises(WganError, match="is among the files the run writes itself"):
        wgan.load_run(point_run).save_samples(out, 3)
