"""Points of one column (n, 1) train, evaluate and sample like 2-D ones, and are drawn along x: histograms of the
real and generated points over the same bins, the critic's value f(x) as a curve over the same range."""

import io

import numpy as np
import pytest
from PIL import Image

import wgan
from wgan import plots
from wgan.cli import main

TINY = dict(width=8, depth=1, batch_size=16, eval_samples=64, log_every=2, iterations=4, eval_every=2,
            progress=False)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def line_run(tmp_path_factory, one_thread):
    """A tiny run on 500 draws of a standard normal, kept as an (n, 1) .npy file."""
    folder = tmp_path_factory.mktemp("runs")
    np.save(folder / "line.npy", np.random.default_rng(0).normal(size=(500, 1)).astype(np.float32))
    wgan.train(data=str(folder / "line.npy"), out=str(folder), name="line", **TINY)
    return folder / "line"


def normal_points(n: int, mean: float = 0.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, 1.0, size=(n, 1)).astype(np.float32)


def drawn_figures(monkeypatch) -> list:
    """The figures the plots draw from now on, kept instead of saved (their PNG bytes are empty)."""
    figures = []
    monkeypatch.setattr(plots, "figure_png", lambda figure, tight=True: figures.append(figure) or b"")
    return figures


def test_a_training_run_on_one_column_writes_its_figures_and_checkpoints(line_run):
    frames = sorted((line_run / "samples").glob("iter_*.png"))
    assert [frame.name for frame in frames] == ["iter_000002.png", "iter_000004.png"]
    assert {path.name for path in (line_run / "checkpoints").iterdir()} >= {"latest.pt", "best.pt"}
    assert Image.open(line_run / "progress.gif").n_frames == len(frames)
    assert (line_run / "curves.png").read_bytes().startswith(PNG_SIGNATURE)


def test_a_one_column_run_samples_to_an_array_and_to_histograms_and_evaluates(line_run, tmp_path, capsys):
    assert main(["sample", "--run", str(line_run), "--n", "300", "--out", str(tmp_path / "x.npy")]) == 0
    assert np.load(tmp_path / "x.npy").shape == (300, 1)
    assert main(["sample", "--run", str(line_run), "--n", "300", "--out", str(tmp_path / "x.png")]) == 0
    assert "histogram of 300 generated points" in capsys.readouterr().out
    width, height = Image.open(tmp_path / "x.png").size
    assert height > 0.5 * width  # two panels, one above the other
    scores = wgan.evaluate_run(line_run, samples=64)
    assert np.isfinite(scores["w1"]) and np.isfinite(scores["estimate"])


def test_the_landscape_and_the_scatter_of_one_column_are_png_images():
    real, fake = normal_points(400), normal_points(300, mean=2.0, seed=1)
    for png in (plots.critic_landscape(real, fake, lambda points: points[:, 0] ** 2, "title"),
                plots.critic_landscape(real, fake, None, "title"),
                plots.point_scatter(real, fake)):
        assert png.startswith(PNG_SIGNATURE)
        assert Image.open(io.BytesIO(png)).size[0] > 100


def test_the_critic_curve_spans_the_histograms_range_of_x(monkeypatch):
    figures = drawn_figures(monkeypatch)
    real, fake = normal_points(400), normal_points(400, mean=3.0, seed=1)
    plots.critic_landscape(real, fake, lambda points: -points[:, 0], "title")
    density, values = figures[0].axes
    (curve,) = values.get_lines()
    assert curve.get_label() == "critic value f(x)"
    np.testing.assert_allclose(curve.get_xdata()[[0, -1]], density.get_xlim())
    np.testing.assert_allclose(curve.get_ydata(), -curve.get_xdata())
    outside = int((fake[:, 0] > density.get_xlim()[1]).sum())
    assert outside > 0 and [text.get_text() for text in density.get_legend().get_texts()] == [
        "real", f"generated ({outside} of 400 outside the view)", "critic value f(x)"]


@pytest.mark.parametrize("dimensions", [1, 2])
def test_the_landscapes_of_a_run_share_the_real_points_view_whatever_the_generator(monkeypatch, dimensions):
    # each frame took its limits from its own real and generated points: in progress.gif the fixed real data
    # seemed to zoom in and out as the generator moved
    figures = drawn_figures(monkeypatch)
    real = np.random.default_rng(0).normal(size=(500, dimensions))
    fakes = [np.random.default_rng(1).normal(scale=scale, size=(500, dimensions)) for scale in (0.1, 4.0)]
    for fake in fakes:
        plots.critic_landscape(real, fake, None, "title")
    views = [(figure.axes[0].get_xlim(), figure.axes[0].get_ylim() if dimensions == 2 else None) for figure in figures]
    assert views[0] == views[1]
    low, high = views[0][0]
    assert low < np.percentile(real[:, 0], 1) and high > np.percentile(real[:, 0], 99) and high < 4
    (bottom, top) = views[0][1] or (-np.inf, np.inf)
    outside = int(np.sum((fakes[1][:, 0] < low) | (fakes[1][:, 0] > high) |
                         (fakes[1][:, -1] < bottom) | (fakes[1][:, -1] > top)))
    labels = [figure.axes[0].get_legend().get_texts()[1].get_text() for figure in figures]
    assert labels == ["generated", f"generated ({outside} of 500 outside the view)"] and outside > 100
    if dimensions == 1:  # the generated histogram's area is the share of its points inside the view, not 1
        x, y = figures[1].axes[0].patches[2].get_path().vertices.T  # its filled outline, closed on y = 0
        area = abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2
        assert area == pytest.approx(1 - outside / 500, rel=1e-6)


def test_real_and_generated_histograms_share_their_bins_and_x_limits(monkeypatch):
    figures = drawn_figures(monkeypatch)
    real, fake = normal_points(400), normal_points(100, mean=5.0, seed=1)
    plots.point_scatter(real, fake)
    top, bottom = figures[0].axes
    assert top.get_xlim() == bottom.get_xlim()
    edges = [patch.get_path().vertices[:, 0] for axes in (top, bottom) for patch in axes.patches]
    assert all(np.array_equal(np.unique(edges[0]), np.unique(other)) for other in edges[1:])
    low, high = top.get_xlim()
    assert low < real.min() and high > fake.max() * 0.9


def test_a_one_column_runs_landscapes_draw_the_critics_value(tmp_path, monkeypatch, one_thread):
    critics = []
    draw = plots.critic_along_x
    monkeypatch.setattr(plots, "critic_along_x",
                        lambda real, fake, critic, *rest: critics.append(critic) or draw(real, fake, critic, *rest))
    np.save(tmp_path / "line.npy", normal_points(200))
    wgan.train(data=str(tmp_path / "line.npy"), out=str(tmp_path), name="line", **TINY)
    assert len(critics) == 2 and all(critic is not None for critic in critics)


def test_real_points_that_do_not_spread_along_an_axis_still_get_a_view(monkeypatch):
    # the view was the real points' alone: the parallel lines' x (all 0) was +-1.5e-4 wide, a blank sliver with
    # every generated point outside, and real points all at one place framed nothing at all
    figures = drawn_figures(monkeypatch)
    rng = np.random.default_rng(0)
    lines = np.c_[np.zeros(500), rng.random(500)], np.c_[np.full(500, 0.5), rng.random(500)]
    plots.critic_landscape(*lines, lambda points: points[:, 0], "title")
    plots.critic_landscape(np.zeros((400, 1)), normal_points(400, mean=1.0), None, "title")
    square, one_point = figures[0].axes[0], figures[1].axes[0]
    (left, right), (bottom, top) = square.get_xlim(), square.get_ylim()
    assert right - left == pytest.approx(top - bottom) and left < -0.5 and right > 0.5
    assert square.get_legend().get_texts()[1].get_text() == "generated"
    low, high = one_point.get_xlim()
    assert low < 0 and high > np.percentile(normal_points(400, mean=1.0), 99)
