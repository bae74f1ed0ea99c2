"""The training curves draw every series the run logged, including one logged once."""

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from wgan import plots
from wgan.errors import WganError


def test_a_single_evaluation_shows_its_classes_and_modes_as_points(monkeypatch):
    """A run evaluated once (a short run) has one point per series: a step line alone would draw nothing."""
    figures = []
    monkeypatch.setattr(plots, "figure_png", lambda figure, tight=True: figures.append(figure) or b"")
    images = [{"iteration": 400, "train/estimate": 0.7, "eval/estimate": 0.74, "eval/w1": 5.5, "eval/fd": 4.6,
               "eval/classes_covered": 10, "eval/classes_total": 10}]
    points = [{"iteration": 400, "eval/w1": 0.1, "eval/modes_covered": 8, "eval/modes_total": 8}]
    plots.training_curves(images, "W estimate", "images", images=True)
    plots.training_curves(points, "W estimate", "points", images=False)
    for figure, label in zip(figures, ("classes generated", "modes covered")):
        (line,) = [line for axes in figure.axes for line in axes.get_lines() if line.get_label() == label]
        assert line.get_marker() == "o" and list(line.get_xdata()) == [400]


def test_the_w1_panel_has_one_legend_above_both_curves(monkeypatch):
    """W1 falls from the top left and the modes rise to the top right: one legend for both, drawn in a band above
    them, crosses neither."""
    figures = []
    monkeypatch.setattr(plots, "figure_png", lambda figure, tight=True: figures.append(figure) or b"")
    history = [{"iteration": 250 * k, "eval/w1": 0.8 / k, "eval/modes_covered": min(25, 5 * k), "eval/modes_total": 25}
               for k in range(1, 21)]
    plots.training_curves(history, "W estimate", "points", images=False)
    figure = figures[0]
    figure.canvas.draw()
    legends = [axes.get_legend() for axes in figure.axes if axes.get_legend() is not None]
    w1, modes = ([axes for axes in figure.axes if label in [line.get_label() for line in axes.get_lines()]][0]
                 for label in ("exact W1", "modes covered"))
    panel_legends = [legend for legend in legends if legend.axes in (w1, modes)]
    assert len(panel_legends) == 1
    assert [text.get_text() for text in panel_legends[0].get_texts()] == ["exact W1", "modes covered"]
    box = panel_legends[0].get_window_extent()
    for axes, values in ((w1, [row["eval/w1"] for row in history]), (modes, [25])):
        top_of_curve = axes.transData.transform((0, max(values)))[1]
        assert box.y0 > top_of_curve


def test_images_without_labels_get_pixel_w1_fitted_to_its_band_and_scored_ones_a_legend_off_the_curves(monkeypatch):
    figures = []
    monkeypatch.setattr(plots, "figure_png", lambda figure, tight=True: figures.append(figure) or b"")
    unlabelled = [{"iteration": 50 * k, "eval/estimate": 1.0, "eval/w1": 38.0 - 0.1 * k} for k in range(1, 6)]
    plots.training_curves(unlabelled, "W estimate", "a folder of images", images=True)
    (w1,) = [axes for axes in figures[0].axes if "exact W1 in pixel space" == axes.get_title()]
    low, high = w1.get_ylim()
    assert 37.0 < low < 37.5 and 37.9 < high < 38.5  # the band the curve moves in, not from 0
    scored = [{"iteration": 50 * k, "eval/w1": 5.0, "eval/fd": 100.0 / k, "eval/classes_covered": min(10, 3 * k),
               "eval/classes_total": 10} for k in range(1, 6)]
    plots.training_curves(scored, "W estimate", "digits", images=True)
    figure = figures[1]
    figure.canvas.draw()
    (quality,) = [axes for axes in figure.axes if axes.get_title() == "image quality"]
    legend = quality.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == ["Frechet distance", "classes generated"]
    assert legend.get_window_extent().y1 < quality.get_window_extent().y0  # below the panel, off both curves


def test_one_training_row_is_a_visible_point_and_zero_modes_or_classes_sit_above_the_axis(monkeypatch):
    # a run logged once drew "training batch" in the legend and nothing on the panel; 0 modes hid on the axis
    figures = []
    monkeypatch.setattr(plots, "figure_png", lambda figure, tight=True: figures.append(figure) or b"")
    history = [{"iteration": 30, "train/estimate": 0.5, "eval/estimate": 0.4, "eval/w1": 1.0, "eval/modes_covered": 0,
                "eval/modes_total": 8, "eval/fd": 90.0, "eval/classes_covered": 0, "eval/classes_total": 10}]
    plots.training_curves(history, "W estimate", "points", images=False)
    lines = {line.get_label(): line for axes in figures[0].axes for line in axes.get_lines()}
    assert lines["training batch"].get_marker() == "o"
    for label in ("modes covered", "classes generated"):
        assert lines[label].axes.get_ylim()[0] < 0


POINTS = np.random.default_rng(0).random((50, 2))


@pytest.mark.parametrize("draw, named", [
    (lambda: plots.point_scatter(POINTS[:, 0], POINTS[:, 0]), "real has shape (50,); expected a non-empty (n, d)"),
    (lambda: plots.point_scatter(np.full((5, 2), np.nan), POINTS), "real holds NaN or inf"),
    (lambda: plots.point_scatter(POINTS, POINTS[:, :1]), "real points have 2 coordinates and fake ones 1"),
    (lambda: plots.critic_landscape(POINTS, POINTS, None, "t", resolution=1), "resolution is 1; expected a whole"),
    (lambda: plots.image_grid(np.zeros((8, 8, 8, 3))), "images have shape (8, 8, 8, 3); expected a non-empty (k, C"),
    (lambda: plots.image_grid(np.zeros((0, 1, 8, 8))), "images have shape (0, 1, 8, 8)"),
    (lambda: plots.sample_grid(np.zeros((4, 2, 8, 8)), "t"), "images have shape (4, 2, 8, 8)"),
    (lambda: plots.progress_gif([]), "progress_gif needs at least one frame"),
    (lambda: plots.training_curves([{"eval/w1": 0.5}], "W", "t", images=False), "history must be rows of logged"),
    # these were IndexError, ValueError from numpy and Pillow's UnidentifiedImageError
    (lambda: plots.histogram_pair(np.full((5, 1), np.nan), POINTS[:, :1]), "real holds NaN or inf"),
    (lambda: plots.histogram_pair(POINTS[:0, :1], POINTS[:, :1]), "real has shape (0, 1)"),
    (lambda: plots.histogram_pair(POINTS, POINTS), "histogram_pair draws points of one coordinate, and these have 2"),
    (lambda: plots.critic_landscape(POINTS, POINTS, lambda x: x, "t"), "the critic gave 32768 values for 16384 "),
    (lambda: plots.progress_gif([b"junk"]), "frame 0 is not the bytes of an image"),
])
def test_a_figure_of_the_wrong_input_is_one_line_naming_it(draw, named):
    # each failed inside numpy, matplotlib or Pillow (IndexError, ZeroDivisionError, KeyError...) or drew nonsense
    with pytest.raises(WganError) as error:
        draw()
    assert str(error.value).startswith(named)


def test_figures_take_lists_and_tensors_of_points_and_images():
    assert plots.point_scatter(POINTS.tolist(), torch.from_numpy(POINTS)).startswith(b"\x89PNG")
    for column in (POINTS[:, 0], POINTS[:, :1].tolist(), torch.from_numpy(POINTS[:, 0])):  # a TypeError, an IndexError
        assert plots.histogram_pair(column, POINTS[:, :1]).startswith(b"\x89PNG")
    assert plots.image_grid(torch.zeros(4, 1, 8, 8)).shape == (19, 19, 1)


def test_a_sample_grid_without_its_title_keeps_the_whole_grid_and_no_title_pixel():
    # the image experiments showed each run's saved grid with its own title, shrunk to about 5 px
    white = np.ones((4, 1, 8, 8))  # images as white as the figure: any dark pixel is the title's
    titled = np.asarray(Image.open(io.BytesIO(plots.sample_grid(white, "a long dark title " * 3))))
    grid = plots.untitled_sample_grid(plots.sample_grid(white, "a long dark title " * 3))
    assert titled.min() < 100 and grid.min() == 255
    assert grid.shape[0] > 0.85 * titled.shape[0] and grid.shape[1:] == titled.shape[1:]


@pytest.mark.parametrize("size, count", [(128, 64), (1024, 4)])
def test_a_sample_grid_of_large_images_keeps_every_separating_line(size, count):
    # 64 images of 128x128 (a grid 1033 px wide) were drawn on 640 px by sampling: most 1-px lines dropped out,
    # and four of 1024x1024 showed as one grey square
    dark = -np.ones((count, 1, size, size))
    pixels = np.asarray(Image.open(io.BytesIO(plots.sample_grid(dark, "t"))).convert("L"))
    grid = plots.untitled_sample_grid(plots.sample_grid(dark, "t"))
    middle = np.asarray(Image.fromarray(grid).convert("L"))[grid.shape[0] // 2]  # a row across the images
    inside = middle[np.flatnonzero(middle < 128)[0]:np.flatnonzero(middle < 128)[-1] + 1]
    lines = np.count_nonzero(np.diff((inside > 128).astype(int)) == 1)  # dark to light: one per separator
    assert lines == math.isqrt(count) - 1, lines
    assert max(pixels.shape) <= 2400  # the figure stops growing


def test_a_sample_grid_of_small_images_keeps_its_size():
    assert Image.open(io.BytesIO(plots.sample_grid(np.zeros((64, 1, 28, 28)), "t"))).size == (660, 726)


def _figures_drawn(monkeypatch) -> list:
    figures = []
    monkeypatch.setattr(plots, "figure_png", lambda figure, tight=True: figures.append(figure) or b"")
    return figures


def test_points_whose_columns_spread_on_different_scales_get_an_axis_each(monkeypatch):
    # at an equal aspect a column in the thousands left one within 1 a flat line, in the sample scatter and in
    # the training figures alike
    figures = _figures_drawn(monkeypatch)
    rng = np.random.default_rng(0)
    real = np.c_[rng.normal(3000, 500, 1000), rng.normal(0.5, 0.01, 1000)]
    fake = np.c_[rng.normal(3000, 500, 1000), rng.normal(0.5, 0.02, 1000)]
    plots.point_scatter(real, fake)
    plots.critic_landscape(real, fake, None, "title")
    for axes in (figures[0].axes[0], figures[1].axes[0]):
        low, high = axes.get_ylim()
        assert axes.get_aspect() == "auto" and 0.3 < low < 0.5 < high < 0.7
    circles = np.random.default_rng(1).normal(size=(500, 2))  # comparable spreads: one scale, circles round
    plots.point_scatter(circles, circles)
    assert figures[2].axes[0].get_aspect() == 1.0


def test_the_sample_figures_count_the_points_their_view_leaves_out(monkeypatch):
    # the scatter hid 19 of 2000 generated points, the 1-D histograms both tails, without a word
    figures = _figures_drawn(monkeypatch)
    real = np.random.default_rng(0).normal(size=(1000, 2))
    fake = np.concatenate([real[:990], np.full((10, 2), 100.0)])
    plots.point_scatter(real, fake)
    plots.point_scatter(real[:, :1], fake[:, :1])
    for figure in figures:
        titles = [axes.get_title() for axes in figure.axes]
        assert titles[1].startswith("generated (1,000 points, ") and titles[1].endswith(" outside the view)")
        assert int(titles[1].split(", ")[1].split()[0]) >= 10
    assert plots.outside(fake, np.array([-5, -5]), np.array([5, 5])) == 10


def test_a_figure_at_its_own_size_has_the_pixels_savefig_gives_it():
    """Drawn once and encoded by Pillow, a figure at its own size is the image matplotlib's savefig writes."""
    figure, axes = plots.subplots(figsize=(4, 3))
    axes.scatter(POINTS[:, 0], POINTS[:, 1], c=plots.FAKE_COLOUR, s=5)
    axes.set(title="points", xlabel="x")
    saved = io.BytesIO()
    figure.savefig(saved, format="png", dpi=plots.FIGURE_DPI)
    ours = np.asarray(Image.open(io.BytesIO(plots.figure_png(figure, tight=False))))
    assert ours.shape == (3 * plots.FIGURE_DPI, 4 * plots.FIGURE_DPI, 4)
    assert np.array_equal(ours, np.asarray(Image.open(saved)))


def _drawn_within_the_figure(figure) -> bool:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure).draw()  # lays the figure out as figure_png does
    drawn, edges = figure.get_tightbbox(), figure.bbox_inches
    return drawn.x0 >= edges.x0 and drawn.y0 >= edges.y0 and drawn.x1 <= edges.x1 and drawn.y1 <= edges.y1


@pytest.mark.parametrize("draw", [
    lambda: plots.training_curves([{"iteration": 10 * k, "train/estimate": 1.0 / k, "eval/estimate": 1.2 / k,
                                    "eval/w1": 0.8 / k, "eval/modes_covered": k, "eval/modes_total": 25}
                                   for k in range(1, 6)], "W estimate", "wgan-gp on 25gaussians", images=False),
    lambda: plots.training_curves([{"iteration": 10 * k, "eval/estimate": 1.2 / k, "eval/w1": 40.0 - k,
                                    "eval/fd": 100.0 / k, "eval/classes_covered": k, "eval/classes_total": 10}
                                   for k in range(1, 6)], "W estimate", "wgan on mnist", images=True),
    lambda: plots.point_scatter(np.c_[POINTS, POINTS[:, :1]], POINTS[:, [1, 0, 0]], "wgan-gp on points.npy"),
    lambda: plots.histogram_pair(POINTS[:, :1], POINTS[:, 1:], "wgan-gp on line.csv"),
], ids=["curves", "image-curves", "scatter", "histograms"])
def test_figures_saved_uncropped_draw_everything_within_their_edges(monkeypatch, draw):
    """The curves and the scatters are saved at their own size (constrained layout), not cropped to what they
    draw: every label, legend and title lies within the figure."""
    figures = []
    monkeypatch.setattr(plots, "figure_png", lambda figure, tight=True: figures.append((figure, tight)) or b"")
    draw()
    ((figure, tight),) = figures
    assert not tight and _drawn_within_the_figure(figure)
