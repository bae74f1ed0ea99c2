"""Figures of a run: samples over the critic's landscape, and training curves.

Both functions take plain arrays, draw with matplotlib's non-interactive Agg backend and return the figure's
PNG bytes; the run folder writes them atomically.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

REAL_COLOUR, FAKE_COLOUR = "#f28e2b", "#4e79a7"


def figure_png(figure: plt.Figure) -> bytes:
    """The figure as PNG bytes (closed afterwards)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def critic_landscape(real: np.ndarray, fake: np.ndarray, critic: Callable[[np.ndarray], np.ndarray] | None,
                     title: str, resolution: int = 128) -> bytes:
    """Real and generated points over the contour of the critic's value, as in WGAN-GP's toy figures.

    Parameters
    ----------
    real, fake : (n, d) arrays; the first two coordinates are drawn.
    critic : maps (m, 2) grid points to (m,) values, or None to draw points only (data of more than 2 dims).
    """
    points = np.concatenate([real[:, :2], fake[:, :2]])
    low, high = np.percentile(points, [0.5, 99.5], axis=0)
    margin = 0.15 * np.maximum(high - low, 1e-3)
    low, high = low - margin, high + margin
    figure, axes = plt.subplots(figsize=(5.2, 5))
    if critic is not None:
        xs, ys = np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)
        grid_x, grid_y = np.meshgrid(xs, ys)
        values = critic(np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)).reshape(grid_x.shape)
        filled = axes.contourf(grid_x, grid_y, values, levels=24, cmap="Greys", alpha=0.8)
        figure.colorbar(filled, ax=axes, fraction=0.046, pad=0.04, label="critic value f(x)")
    axes.scatter(real[:, 0], real[:, 1], s=3, c=REAL_COLOUR, alpha=0.5, label="real", linewidths=0)
    axes.scatter(fake[:, 0], fake[:, 1], s=3, c=FAKE_COLOUR, alpha=0.5, label="generated", linewidths=0)
    axes.set(xlim=(low[0], high[0]), ylim=(low[1], high[1]), title=title, aspect="equal")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, markerscale=4, frameon=False)
    return figure_png(figure)


def _series(history: Sequence[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [(row["iteration"], row[key]) for row in history if key in row]
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows], dtype=float)


def training_curves(history: Sequence[dict], estimate_name: str, title: str) -> bytes:
    """The critic's estimate (training batches and evaluation samples) and the exact W1, against iterations."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    steps, values = _series(history, "train/estimate")
    if len(steps):
        left.plot(steps, values, color="#bbbbbb", linewidth=1, label="training batch")
    steps, values = _series(history, "eval/estimate")
    if len(steps):
        left.plot(steps, values, "o-", color=FAKE_COLOUR, markersize=3, label="evaluation samples")
    left.set(xlabel="generator iteration", ylabel=estimate_name, title=f"critic's {estimate_name}")
    left.legend()
    steps, values = _series(history, "eval/w1")
    if len(steps):
        right.plot(steps, values, "o-", color=REAL_COLOUR, markersize=3, label="exact W1")
        right.set_ylim(bottom=0)
    right.set(xlabel="generator iteration", ylabel="exact W1 (generated vs data)", title="exact W1 (POT)")
    steps, values = _series(history, "eval/modes_covered")
    if len(steps):
        modes = right.twinx()
        modes.step(steps, values, where="post", color="#59a14f", label="modes covered")
        modes.set(ylabel="modes covered", ylim=(0, max(row.get("eval/modes_total", 1) for row in history) + 0.5))
        modes.legend(loc="center right")
    right.legend(loc="upper right")
    for axes in (left, right):
        axes.grid(alpha=0.3)
    figure.suptitle(title)
    return figure_png(figure)
