"""Figures of a run: samples over the critic's landscape (points), sample grids and their progress (images),
plain image grids and scatters of samples, and training curves. One-dimensional points are drawn as histograms
along x (with the critic's value f(x) as a curve over them), where two-dimensional ones are scattered in the plane.

The functions take plain arrays, draw with matplotlib's non-interactive Agg backend (or Pillow for the GIF and
the plain image PNGs) and return the file's bytes; the caller writes them atomically.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from .checks import real_array, whole_number
from .errors import WganError, one_line

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

REAL_COLOUR, FAKE_COLOUR = "#f28e2b", "#4e79a7"
CRITIC_COLOUR = "#333333"  # the critic's value: dark grey, as the 2-D landscape's grey contours
FEWEST_BINS, MOST_BINS = 10, 80  # histograms of 1-D points: about sqrt(n) bins within these bounds


def new_figure(**options: Any) -> Figure:
    """A matplotlib figure of its own (``matplotlib.figure.Figure(**options)``), saved through Agg. pyplot is not
    used: neither its global backend nor its list of open figures is touched (a notebook that runs wgan keeps its
    own backend), and no figure needs closing. matplotlib is imported here, on first use: the import takes about
    half a second that a process drawing nothing (``wgan --help``, a rank other than 0) need not spend."""
    from matplotlib.figure import Figure

    return Figure(**options)


def subplots(rows: int = 1, columns: int = 1, *, figsize: tuple[float, float], layout: str | None = None,
             **options: Any) -> tuple[Figure, Any]:
    """``(figure, axes)`` as ``pyplot.subplots(rows, columns, figsize=..., layout=..., **options)`` gives them, on
    a :func:`new_figure`."""
    figure = new_figure(figsize=figsize, layout=layout)
    return figure, figure.subplots(rows, columns, **options)


FIGURE_DPI = 110


def figure_png(figure: Figure, tight: bool = True, dpi: float = FIGURE_DPI) -> bytes:
    """The figure as PNG bytes, cropped to what it draws when ``tight`` (a figure whose labels may reach past its
    edges: matplotlib's ``bbox_inches="tight"``); otherwise at its own size, so that the frames of an animation
    (one per evaluation) all have one size. A figure at its own size is drawn once, by Agg, and its pixels
    encoded by Pillow: ``savefig`` draws a figure with a layout engine twice (a first draw that renders nothing,
    to lay it out), and placing text is most of a figure's time."""
    buffer = io.BytesIO()
    if tight:
        figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        return buffer.getvalue()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure.set_dpi(dpi)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    Image.fromarray(np.asarray(canvas.buffer_rgba())).save(buffer, format="png")
    return buffer.getvalue()


def _point_pair(real: Any, fake: Any) -> tuple[np.ndarray, np.ndarray]:
    """Real and generated points as finite (n, d) arrays of the same d, neither empty: what the point figures
    draw (a wrong one failed inside matplotlib, or drew nothing)."""
    pair = tuple(real_array(points, name, keep_float32=True) for points, name in ((real, "real"), (fake, "fake")))
    for points, name in zip(pair, ("real", "fake")):
        if points.ndim != 2 or 0 in points.shape:
            raise WganError(f"{name} has shape {points.shape}; expected a non-empty (n, d) array of points")
        if not np.isfinite(points).all():
            raise WganError(f"{name} holds NaN or inf; expected finite points")
    if pair[0].shape[1] != pair[1].shape[1]:
        raise WganError(f"real points have {pair[0].shape[1]} coordinates and fake ones {pair[1].shape[1]}: draw "
                        "points of the same dimension")
    return pair


def _critic_values(critic: Callable[[np.ndarray], Any], points: np.ndarray) -> np.ndarray:
    """The critic's values at (m, d) ``points`` as an (m,) array: one per point, or a line saying what came back."""
    values = np.asarray(critic(points), dtype=float).reshape(-1)
    if values.size != len(points):
        raise WganError(f"the critic gave {values.size} values for {len(points)} points: it must map an (m, d) array "
                        "of points to m values, one per point")
    return values


def _images(images: Any) -> np.ndarray:
    """Images as a finite (k, C, H, W) array with C 1 or 3, k at least 1."""
    images = real_array(images, "images", keep_float32=True)
    if images.ndim != 4 or images.shape[1] not in (1, 3) or 0 in images.shape:
        raise WganError(f"images have shape {images.shape}; expected a non-empty (k, C, H, W) array with C 1 or 3 "
                        "(channels first: images.transpose(0, 3, 1, 2) turns (k, H, W, C) into it)")
    if not np.isfinite(images).all():
        raise WganError("images hold NaN or inf; expected values in [-1, 1]")
    return images


def view_bounds(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (low, high) corners of a view of (n, d) ``points``: their central 99% with a 15% margin, per axis."""
    low, high = np.percentile(points, [0.5, 99.5], axis=0)
    margin = 0.15 * np.maximum(high - low, 1e-3)
    return low - margin, high + margin


def square_view(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`view_bounds` of ``points`` widened to a square (a cube) about its centre, as wide as its widest
    side: drawn at an equal aspect, circles stay round and an axis along which the points do not spread (the
    parallel lines' x) is as wide as the others."""
    low, high = view_bounds(points)
    centre, half = (low + high) / 2, float(np.max(high - low)) / 2
    return centre - half, centre + half


EQUAL_SCALE_SPREADS = 10.0  # axes whose points spread more than this many times apart get a scale each


def framed_view(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """(low, high, aspect) of a view of (n, d) ``points``: their :func:`square_view` at an equal aspect, so that
    circles stay round, where the axes' spreads are within :data:`EQUAL_SCALE_SPREADS` of each other or one of
    them has none (the parallel lines' x); otherwise their :func:`view_bounds`, each axis to its own scale: at
    one scale, a column in the thousands beside one within 1 leaves the second a flat line."""
    low, high = np.percentile(points, [0.5, 99.5], axis=0)
    spreads = high - low
    if spreads.min() == 0 or spreads.max() <= EQUAL_SCALE_SPREADS * spreads.min():
        return (*square_view(points), "equal")
    return (*view_bounds(points), "auto")


def evaluation_view(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """The view of a run's evaluation figures: the :func:`framed_view` of the real points, the same at every
    evaluation of a run (whose real sample is drawn from a fixed seed), so that what moves from frame to frame
    is the generator; of the generated points too where every real one is the same point, a view of nothing."""
    low, high = np.percentile(real, [0.5, 99.5], axis=0)
    return framed_view(real if np.any(high > low) else np.concatenate([real, fake]))


def outside(points: np.ndarray, low: np.ndarray, high: np.ndarray) -> int:
    """How many of the (n, d) ``points`` lie outside the view from ``low`` to ``high`` (per axis)."""
    return int(np.any((points < low) | (points > high), axis=1).sum())


def _counted(name: str, points: np.ndarray, low: np.ndarray, high: np.ndarray) -> str:
    """'generated (2,000 points, 12 outside the view)': a panel's title, with the points it does not show."""
    left_out = outside(points, low, high)
    count = len(points)
    return f"{name} ({count:,} point{'s' * (count != 1)}{f', {left_out:,} outside the view' if left_out else ''})"


def critic_landscape(real: np.ndarray, fake: np.ndarray, critic: Callable[[np.ndarray], np.ndarray] | None,
                     title: str, resolution: int = 128) -> bytes:
    """Real and generated points over the contour of the critic's value, as in WGAN-GP's toy figures; for 1-D
    points, their histograms along x under the critic's value f(x) as a curve (:func:`critic_along_x`).

    Parameters
    ----------
    real, fake : (n, d) arrays; the first two coordinates are drawn (the only one when d is 1).
    critic : maps (m, d) grid points to (m,) values, or None to draw points only (data of more than 2 dims).

    The view is :func:`evaluation_view`'s, and the figure keeps its size whatever its tick labels (constrained
    layout, no tight crop): the frames of a run's progress.gif share their axes. Generated points outside the
    view are counted in the legend.
    """
    real, fake = _point_pair(real, fake)
    resolution = whole_number(resolution, "resolution", 2, 128)
    if real.shape[1] == 1:
        return critic_along_x(real, fake, critic, title, resolution)
    low, high, aspect = evaluation_view(real[:, :2], fake[:, :2])
    figure, axes = subplots(figsize=(6, 5.4), layout="constrained")
    if critic is not None:
        xs, ys = np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)
        grid_x, grid_y = np.meshgrid(xs, ys)
        values = _critic_values(critic, np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)).reshape(grid_x.shape)
        filled = axes.contourf(grid_x, grid_y, values, levels=24, cmap="Greys", alpha=0.8)
        figure.colorbar(filled, ax=axes, fraction=0.046, pad=0.04, label="critic value f(x)")
    axes.scatter(real[:, 0], real[:, 1], s=3, c=REAL_COLOUR, alpha=0.5, label="real", linewidths=0)
    axes.scatter(fake[:, 0], fake[:, 1], s=3, c=FAKE_COLOUR, alpha=0.5, linewidths=0,
                 label=_generated_label(outside(fake[:, :2], low, high), len(fake)))
    axes.set(xlim=(low[0], high[0]), ylim=(low[1], high[1]), aspect=aspect)
    axes.set_title(title, fontsize=10)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, markerscale=4, frameon=False)
    return figure_png(figure, tight=False)


def point_scatter(real: np.ndarray, fake: np.ndarray, title: str = "") -> bytes:
    """Real and generated 2-D points side by side, on the same axes limits, so that each cloud's shape shows
    without the other drawn over it (of points in more dimensions, the first two coordinates, as the training
    figures draw them); 1-D points as two histograms, one above the other (:func:`histogram_pair`).
    ``title``, when given, heads the figure (which run drew the points)."""
    real, fake = _point_pair(real, fake)
    if real.shape[1] == 1:
        return histogram_pair(real, fake, title)
    if real.shape[1] > 2:
        title = f"{title}\n(coordinates 1 and 2 of {real.shape[1]})".strip()
        real, fake = real[:, :2], fake[:, :2]
    low, high, aspect = framed_view(np.concatenate([real, fake]))
    figure, panels = subplots(1, 2, figsize=(9, 4.6), sharex=True, sharey=True, layout="constrained")
    size = float(np.clip(2000 / len(fake), 1, 12))  # fewer points, bigger dots
    for axes, points, colour, name in ((panels[0], real, REAL_COLOUR, "real data"),
                                       (panels[1], fake, FAKE_COLOUR, "generated")):
        axes.scatter(points[:, 0], points[:, 1], s=size, c=colour, alpha=0.6, linewidths=0)
        axes.set(xlim=(low[0], high[0]), ylim=(low[1], high[1]), aspect=aspect,
                 title=_counted(name, points, low, high))
        axes.grid(alpha=0.3)
    figure.suptitle(title)
    return figure_png(figure, tight=False)


def _generated_label(outside: int, total: int) -> str:
    """The legend's name for the generated points, with how many of them lie outside the view, if any."""
    return f"generated ({outside:,} of {total:,} outside the view)" if outside else "generated"


def histogram_edges(view: tuple[np.ndarray, np.ndarray], real: np.ndarray, fake: np.ndarray) -> np.ndarray:
    """The bin edges that both the real and the generated 1-D points (n, 1) are counted in: about sqrt(n) bins
    (between :data:`FEWEST_BINS` and :data:`MOST_BINS`) evenly over ``view``, a (low, high) pair."""
    count = int(np.clip(round(math.sqrt(max(len(real), len(fake)))), FEWEST_BINS, MOST_BINS))
    return np.linspace(view[0][0], view[1][0], count + 1)


def draw_histogram(axes: Axes, values: np.ndarray, edges: np.ndarray, colour: str, label: str) -> None:
    """The density of ``values`` over the evenly spaced ``edges``, as a share of all of them (values outside the
    edges leave the area drawn under 1): filled lightly, with a solid outline that shows through another
    histogram drawn over it."""
    weights = np.full(len(values), 1 / (len(values) * (edges[1] - edges[0])))
    axes.hist(values, bins=edges, weights=weights, histtype="stepfilled", color=colour, alpha=0.25)
    axes.hist(values, bins=edges, weights=weights, histtype="step", color=colour, linewidth=1.5, label=label)


def critic_along_x(real: np.ndarray, fake: np.ndarray, critic: Callable[[np.ndarray], np.ndarray] | None,
                   title: str, resolution: int = 128) -> bytes:
    """The real and generated distributions of 1-D points (n, 1), as histograms over the same bins, and the
    critic's value f(x) as a curve over the same range of x on a second y-axis (none when ``critic`` is None;
    it maps (m, 1) points to m values). The 1-D form of :func:`critic_landscape`, at its size and over its
    :func:`evaluation_view`."""
    low, high, _ = evaluation_view(real, fake)
    edges = histogram_edges((low, high), real, fake)
    figure, axes = subplots(figsize=(6, 5.4), layout="constrained")
    draw_histogram(axes, real[:, 0], edges, REAL_COLOUR, "real")
    draw_histogram(axes, fake[:, 0], edges, FAKE_COLOUR, _generated_label(outside(fake, low, high), len(fake)))
    axes.set(xlim=(edges[0], edges[-1]), xlabel="x", ylabel="density")
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    handles, labels = axes.get_legend_handles_labels()
    if critic is not None:
        xs = np.linspace(edges[0], edges[-1], resolution)
        values = axes.twinx()
        values.plot(xs, _critic_values(critic, xs[:, None]), color=CRITIC_COLOUR, linewidth=1.8,
                    label="critic value f(x)")
        values.set_ylabel("critic value f(x)")
        more_handles, more_labels = values.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    axes.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(handles), frameon=False)
    return figure_png(figure, tight=False)


def histogram_pair(real: np.ndarray, fake: np.ndarray, title: str = "") -> bytes:
    """Histograms of real and generated 1-D points ((n, 1) or (n,) arrays, lists or tensors), one above the other
    over the same bins, x limits and density scale, so that each distribution's shape shows without the other
    drawn over it; ``title`` above."""
    columns = (real_array(points, name, keep_float32=True) for points, name in ((real, "real"), (fake, "fake")))
    real, fake = _point_pair(*(points[:, None] if points.ndim == 1 else points for points in columns))
    if real.shape[1] != 1:
        raise WganError(f"histogram_pair draws points of one coordinate, and these have {real.shape[1]}: draw them "
                        "with point_scatter")
    view = view_bounds(np.concatenate([real, fake]))
    edges = histogram_edges(view, real, fake)
    figure, panels = subplots(2, 1, figsize=(8, 5.6), sharex=True, sharey=True, layout="constrained")
    for axes, points, colour, name in ((panels[0], real, REAL_COLOUR, "real data"),
                                       (panels[1], fake, FAKE_COLOUR, "generated")):
        draw_histogram(axes, points[:, 0], edges, colour, name)
        axes.set(xlim=(edges[0], edges[-1]), ylabel="density", title=_counted(name, points, *view))
        axes.grid(alpha=0.3)
    panels[1].set_xlabel("x")
    figure.suptitle(title)
    return figure_png(figure, tight=False)


def unit_pixels(images: np.ndarray) -> np.ndarray:
    """(k, C, H, W) generator images in [-1, 1] (tanh) as (k, H, W, C) pixels in [0, 1]: -1 is black, 1 white."""
    return np.clip((images.transpose(0, 2, 3, 1) + 1) / 2, 0, 1)


def image_png(pixels: np.ndarray) -> bytes:
    """An (H, W, C) image in [0, 1] as PNG bytes at its own resolution (0..255, rounded): grey when C is 1,
    RGB when C is 3."""
    levels = np.rint(pixels * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(levels[..., 0] if levels.shape[2] == 1 else levels).save(buffer, format="PNG")
    return buffer.getvalue()


def image_grid(images: np.ndarray, columns: int | None = None) -> np.ndarray:
    """Tile (k, C, H, W) images in [-1, 1] into one (rows*(H+1)+1, columns*(W+1)+1, C) array in [0, 1],
    separated by 1-pixel white lines; grey images keep one channel. ``columns`` defaults to ceil(sqrt(k))."""
    images = _images(images)
    count, channels, height, width = images.shape
    columns = math.ceil(math.sqrt(count)) if columns is None else whole_number(columns, "columns", 1, 8)
    rows = math.ceil(count / columns)
    grid = np.ones((rows * (height + 1) + 1, columns * (width + 1) + 1, channels), dtype=np.float32)
    for index, image in enumerate(unit_pixels(images)):
        top, left = 1 + (index // columns) * (height + 1), 1 + (index % columns) * (width + 1)
        grid[top:top + height, left:left + width] = image
    return grid


SAMPLE_GRID_TOP = 0.9  # the top of sample_grid's image, as a fraction of its figure's height: its title is above
SAMPLE_GRID_INCHES = (6.0, 6.6)  # the figure's size; its image's box within it is set by subplots_adjust below
SAMPLE_GRID_WIDEST = 2000  # the most pixels a grid is drawn across


def sample_grid(images: np.ndarray, title: str) -> bytes:
    """A titled grid of generated images (k, C, H, W) in [-1, 1], e.g. the same 64 noise vectors at every
    evaluation so that successive grids show the same samples improving.

    Drawn at least pixel for pixel up to :data:`SAMPLE_GRID_WIDEST` pixels across (the figure's resolution
    grows with the grid: 64 images of 128x128 at 110 dpi lost most of their separating lines to the shrinking),
    and smoothed rather than sampled where a larger grid must still be shrunk."""
    grid = image_grid(images)
    box = (SAMPLE_GRID_INCHES[0] * (0.98 - 0.02), SAMPLE_GRID_INCHES[1] * (SAMPLE_GRID_TOP - 0.02))  # inches
    pixel_for_pixel = max(grid.shape[1] / box[0], grid.shape[0] / box[1])  # dots per inch
    dpi = min(max(FIGURE_DPI, pixel_for_pixel), SAMPLE_GRID_WIDEST / box[0])
    shrunk = pixel_for_pixel > dpi
    figure, axes = subplots(figsize=SAMPLE_GRID_INCHES)
    axes.imshow(grid.squeeze(2) if grid.shape[2] == 1 else grid, cmap="gray", vmin=0, vmax=1,
                interpolation="antialiased" if shrunk else "nearest")
    axes.set_title(title, fontsize=9)
    axes.axis("off")
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=SAMPLE_GRID_TOP)
    return figure_png(figure, tight=False, dpi=dpi)


def untitled_sample_grid(png: bytes) -> np.ndarray:
    """The pixels of a :func:`sample_grid` PNG below its title: the grid alone, for a figure that shows it under
    a title of its own (a run's saved grid, whose title would be shrunk there to a few unreadable pixels)."""
    pixels = np.asarray(Image.open(io.BytesIO(png)))
    return pixels[round(pixels.shape[0] * (1 - SAMPLE_GRID_TOP)):]


def progress_gif(frames: Sequence[bytes], milliseconds: int = 600) -> bytes:
    """An animated GIF of PNG frames (e.g. a run's sample grids in order), the last shown three times longer."""
    milliseconds = whole_number(milliseconds, "milliseconds", 1, 600)
    if not frames:
        raise WganError("progress_gif needs at least one frame (the PNG bytes of each figure, in order)")
    images = []
    for index, frame in enumerate(frames):
        try:
            images.append(Image.open(io.BytesIO(frame)).convert("RGB"))
        except (OSError, TypeError) as error:  # PIL's UnidentifiedImageError is an OSError
            raise WganError(f"frame {index} is not the bytes of an image ({one_line(error)}): give each figure's "
                            "PNG bytes, in order") from None
    size = images[0].size
    images = [image if image.size == size else image.resize(size) for image in images]
    durations = [milliseconds] * (len(images) - 1) + [3 * milliseconds]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return buffer.getvalue()


def _series(history: Sequence[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [(row["iteration"], row[key]) for row in history if key in row]
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows], dtype=float)


def _legend(axes, **options) -> None:
    """A legend for ``axes`` when it has labelled lines."""
    if axes.get_legend_handles_labels()[0]:
        axes.legend(**options)


def training_curves(history: Sequence[dict], estimate_name: str, title: str, *, images: bool) -> bytes:
    """The critic's estimate (training batches and evaluation samples) and the exact W1 against iterations (in
    pixel space for ``images``), and for images with a classifier a third panel: the Frechet distance and the
    classes generated. A run that keeps a moving average of its generator has its exact W1 and FD beside, dashed."""
    if not all(isinstance(row, dict) and "iteration" in row for row in history):
        raise WganError("history must be rows of logged scalars, each a dict with its 'iteration' (a Run's history, "
                        "or the lines of metrics.jsonl)")
    scored = any("eval/fd" in row for row in history)
    figure, panels = subplots(1, 3 if scored else 2, figsize=(16.5 if scored else 11, 4), layout="constrained")
    left, right = panels[0], panels[1]
    steps, values = _series(history, "train/estimate")
    if len(steps):
        left.plot(steps, values, color="#bbbbbb", linewidth=1, label="training batch",  # one row: a point, not
                  marker="o" if len(steps) == 1 else None, markersize=3)  # a line of no length
    steps, values = _series(history, "eval/estimate")
    if len(steps):
        left.plot(steps, values, "o-", color=FAKE_COLOUR, markersize=3, label="evaluation samples")
    left.set(xlabel="generator iteration", ylabel=estimate_name, title=f"critic's {estimate_name}")
    _legend(left)
    steps, values = _series(history, "eval/w1")
    if len(steps):
        right.plot(steps, values, "o-", color=REAL_COLOUR, markersize=3, label="exact W1")
        _average_line(right, history, "eval/ema_w1", REAL_COLOUR)
        if not images:  # points reach W1 near 0; pixel W1 moves within a band far from it: fit the axis to it
            right.set_ylim(bottom=0)
    right.set(xlabel="generator iteration", ylabel="exact W1 (generated vs data)",
              title="exact W1" + (" in pixel space" if images else ""))
    steps, values = _series(history, "eval/modes_covered")
    if len(steps):
        modes = right.twinx()
        modes.step(steps, values, "o-", where="post", color="#59a14f", markersize=3, label="modes covered")
        # one legend for both axes, in one row in a band left free above both curves (a fifth of the height)
        total = max(row.get("eval/modes_total", 1) for row in history)
        modes.set(ylabel="modes covered", ylim=(-0.5, 1.2 * (total + 0.5)))  # a run at 0 modes above the axis
        right.set_ylim(0, 1.2 * right.get_ylim()[1])
        (w1_handles, w1_labels), (modes_handles, modes_labels) = (right.get_legend_handles_labels(),
                                                                  modes.get_legend_handles_labels())
        modes.legend(w1_handles + modes_handles, w1_labels + modes_labels, loc="upper center",
                     ncol=len(w1_handles + modes_handles))
    else:
        _legend(right, loc="upper right")  # empty before the first evaluation (a run stopped early)
    if scored:
        _image_quality(panels[2], history)
    for axes in panels:
        axes.grid(alpha=0.3)
    figure.suptitle(title)
    return figure_png(figure, tight=False)


def _average_line(axes: Axes, history: Sequence[dict], key: str, colour: str) -> None:
    """The moving average's score ``key``, dashed, where the run kept one."""
    steps, values = _series(history, key)
    if len(steps):
        axes.plot(steps, values, "s--", color=colour, markersize=3, alpha=0.7, label="moving average")


def _image_quality(axes: Axes, history: Sequence[dict]) -> None:
    """FD of the classifier's features (left axis) and classes generated (right axis) against iterations."""
    steps, values = _series(history, "eval/fd")
    axes.plot(steps, values, "o-", color="#e15759", markersize=3, label="Frechet distance")
    _average_line(axes, history, "eval/ema_fd", "#e15759")
    wide_range = len(values) and values.min() > 0 and values.max() / values.min() > 20
    axes.set(xlabel="generator iteration", ylabel="FD (classifier features)", title="image quality",
             yscale="log" if wide_range else "linear")
    handles, labels = axes.get_legend_handles_labels()
    steps, values = _series(history, "eval/classes_covered")
    if len(steps):
        classes = axes.twinx()
        classes.step(steps, values, "o-", where="post", color="#59a14f", markersize=3, label="classes generated")
        total = max(row.get("eval/classes_total", 1) for row in history)
        classes.set(ylabel="classes generated", ylim=(-0.5, total + 0.5))
        more_handles, more_labels = classes.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    # below the panel: FD starts at the top left and the classes reach the top right, where a legend would sit
    axes.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=len(handles), frameon=False)
