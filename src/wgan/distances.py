"""Distances between probability distributions: TV, KL, JS and the Wasserstein-1 distance.

What is here
------------
- ``tv``, ``kl``, ``js``: total variation, Kullback-Leibler and Jensen-Shannon between discrete probability
  vectors; ``tv_density``, ``kl_density``, ``js_density``: the same for densities sampled on a uniform grid.
- ``w1``: the exact Wasserstein-1 (earth mover's) distance between two weighted empirical distributions in
  any dimension, solved as a linear program by POT's network simplex (``ot.emd2``), or, for small sets of as
  many equally weighted points, as the assignment problem it then is (scipy's ``linear_sum_assignment``).
- ``w1_1d``: the closed form of W1 on the real line from the sorted samples, no linear program.
- ``sliced_w1``: the sliced W1, the mean of ``w1_1d`` over random one-dimensional projections.
- ``parallel_lines``: the closed forms of Example 1 of the WGAN paper, where W1 is continuous in the
  parameter and JS, KL and TV are not.

All functions take numpy arrays or torch tensors (converted to float64 numpy on the CPU, detached) and return
Python floats. Logarithms are natural. Problems with the input raise :class:`wgan.errors.WganError`.

References
----------
.. [1] M. Arjovsky, S. Chintala, L. Bottou, "Wasserstein GAN", ICML 2017, Sec. 2 (the four distances and
   Example 1, learning parallel lines).
.. [2] C. Villani, "Optimal Transport: Old and New", Springer 2009, Ch. 5-6 (the Kantorovich-Rubinstein
   duality :math:`W_1(P, Q) = \\sup_{\\|f\\|_L \\le 1} E_P f - E_Q f` and the 1-D formula).
.. [3] R. Flamary et al., "POT: Python Optimal Transport", JMLR 22(78), 2021 (``ot.dist``, ``ot.emd2``).
.. [4] N. Bonneel, J. Rabin, G. Peyre, H. Pfister, "Sliced and Radon Wasserstein barycenters of measures",
   JMIV 51, 2015 (the sliced distance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from wgan.checks import check_fits_in_memory, check_flag, numpy_seed, real_array
from wgan.errors import WganError

__all__ = [
    "ParallelLinesDistances",
    "js",
    "js_density",
    "kl",
    "kl_density",
    "parallel_lines",
    "parallel_lines_curves",
    "sliced_w1",
    "tv",
    "tv_density",
    "w1",
    "w1_1d",
]

PROB_TOL = 1e-6  # how far from 1 the sum of a probability vector (or weight vector) may be
DENSITY_TOL = 1e-3  # how far from 1 the Riemann sum of a density on a grid may be (discretisation error)
EMD_MAX_ITER = 10**7  # network-simplex iterations; enough for 2000 x 2000 problems with room to spare
# Sets of at most this many equally weighted points a side are matched by the assignment solver, not POT, whose
# import (scikit-learn and scipy.stats with it) takes 1.8 s of CPU: a process that measures small samples, as a
# short run evaluating 500 samples does, saves it. The solver's time grows faster than the simplex's: on 2-D
# points around 8 far Gaussians 0.10 s against 0.03 at 500 a side, 0.76 s against 0.12 at 1000 (AMD EPYC,
# 2026-12-07); the two agree to float64 rounding. A process that measures often pays that difference each time:
# the live page's frame, 200 points a side, takes 10.5 ms against POT's 6.0 while the generated points lie far
# from the 8 Gaussians (2.8 against 5.0 once they cover them).
ASSIGNMENT_MAX = 500
# Ground distances, computed by scipy's cdist from coordinate differences: close points keep all their digits,
# which the expansion |x|^2 + |y|^2 - 2 x.y (POT's "euclidean" branch) loses; and at 2000 x 2000 images of 256
# pixels it takes a fifth of the time of POT's Minkowski branch, which loops over the coordinates in Python.
_METRICS = ("euclidean", "cityblock")
# float64 n x m arrays the exact W1 holds at once: the cost matrix, its scaled copy and POT's (its peak memory
# measured at 6.1 of them for 2,000 x 2,000 and 3,000 x 3,000 samples, 2026-12-06)
COST_COPIES = 6
# bytes per sample that w1_1d holds at its peak: the sorted samples, the levels of their quantile functions, the
# pieces' widths, indices and gaps (measured at 91 for 2,000,000 samples a side, 2026-12-06)
SORTED_BYTES_PER_SAMPLE = 96
PROJECTION_COPIES = 3  # float64 arrays of the projected samples sliced_w1 holds at once: projections, sorted, pieces


# ----------------------------------------------------------------------------------------------- input checks
def _to_numpy(x, name: str) -> np.ndarray:
    """``x`` as a float64 numpy array (torch tensors detached and moved to the CPU), of real numbers."""
    return real_array(x, name)


def _check_finite(x: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(x)):
        raise WganError(f"{name} contains NaN or inf entries; expected finite numbers; remove or fix them first")


def _masses(
    p: np.ndarray, name: str, *, normalize: bool, tol: float, total: str, fix: str = "or pass normalize=True"
) -> np.ndarray:
    """Check that ``p`` is a non-negative finite vector of total ``1 +- tol``, and return ``p / sum(p)``.

    Dividing by the sum also inside the tolerance makes the result a probability vector up to rounding,
    so that closed forms (JS of disjoint supports = log 2) come out to the last digit.
    """
    normalize = check_flag(normalize, "normalize")  # "no" would otherwise normalise, being a true string
    if p.size == 0:
        raise WganError(f"{name} is empty; expected at least one entry")
    _check_finite(p, name)
    if np.any(p < 0):
        raise WganError(f"{name} has negative entries (min {p.min():.6g}); expected masses >= 0; clip or fix the input")
    with np.errstate(over="ignore"):  # a sum that overflows is handled below
        s = float(p.sum())
    if normalize and s == math.inf:  # finite masses whose sum overflows: the same distribution, scaled down
        p = p / p.max()
        s = float(p.sum())
    if normalize:
        if s <= 0:
            raise WganError(f"{name} has {total} 0; cannot normalize an all-zero input; pass a non-zero one")
    elif abs(s - 1.0) > tol * (1 + 1e-9):  # at the tolerance itself by rounding: 1001 cells of 0.001 sum to 1.001
        raise WganError(
            f"{name} has {total} {s:.8g}, expected 1 within {tol:g}; divide it by its sum {fix}"
        )
    return p / s


def _pair(p, q, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    p, q = _to_numpy(p, names[0]), _to_numpy(q, names[1])
    if p.shape != q.shape:
        raise WganError(
            f"{names[0]} has shape {p.shape} but {names[1]} has shape {q.shape}; pass two arrays of the same shape"
        )
    return p, q


def _probabilities(p, q, normalize: bool) -> tuple[np.ndarray, np.ndarray]:
    p, q = _pair(p, q, ("p", "q"))
    kw = {"normalize": normalize, "tol": PROB_TOL, "total": "sum"}
    return _masses(p, "p", **kw), _masses(q, "q", **kw)


def _cell_masses(f, g, dx, normalize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Densities on a uniform grid -> probability vectors of the cells, ``f * dx / sum(f * dx)``."""
    f, g = _pair(f, g, ("f", "g"))
    dx = _positive_scalar(dx, "dx", "the cell volume of the grid (product of the spacings)")
    kw = {"normalize": normalize, "tol": DENSITY_TOL, "fix": "(check dx) or pass normalize=True"}
    return (
        _masses(f * dx, "f", total="integral sum(f)*dx", **kw),
        _masses(g * dx, "g", total="integral sum(g)*dx", **kw),
    )


def _scalar(x, name: str) -> float:
    if isinstance(x, (bool, np.bool_)) or str(getattr(x, "dtype", "")) in ("bool", "torch.bool"):  # numpy, torch
        raise WganError(f"{name} is {x!r}; expected a number, not a truth value")  # True was theta 1
    arr = _to_numpy(x, name)
    if arr.ndim != 0:
        raise WganError(f"{name} has shape {arr.shape}; expected a single number")
    value = float(arr)
    if not math.isfinite(value):
        raise WganError(f"{name} is {value}; expected a finite number")
    return value


def _positive_scalar(x, name: str, what: str) -> float:
    value = _scalar(x, name)
    if value <= 0:
        raise WganError(f"{name} is {value:g}; expected a positive number, {what}")
    return value


def _points(x, name: str) -> np.ndarray:
    """Samples as an ``(n, d)`` float64 array; a 1-D array is ``n`` points on the line."""
    x = _to_numpy(x, name)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise WganError(f"{name} has shape {x.shape}; expected samples of shape (n, d) or (n,)")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise WganError(f"{name} has shape {x.shape}; expected at least one sample with at least one coordinate")
    _check_finite(x, name)
    return x


def _same_dimension(x: np.ndarray, y: np.ndarray) -> None:
    if x.shape[1] != y.shape[1]:
        raise WganError(
            f"x has points of dimension {x.shape[1]} but y of dimension {y.shape[1]}; "
            "pass samples from the same space"
        )


def _weights(a, n: int, name: str, sample: str) -> np.ndarray:
    if a is None:
        return np.full(n, 1.0 / n)
    if isinstance(a, str) and a in _METRICS:  # w1(x, y, "cityblock")
        raise WganError(f"{name} (the weights of {sample}) is {a!r}, a ground distance: give it by name, "
                        f"metric={a!r}")
    a = _to_numpy(a, name)
    if a.ndim != 1 or a.shape[0] != n:
        raise WganError(f"{name} has shape {a.shape}; expected one weight per sample of {sample}, shape ({n},)")
    return _masses(a, name, normalize=False, tol=PROB_TOL, total="sum", fix="first")


# ------------------------------------------------------------------------------------- discrete distributions
def _tv(p: np.ndarray, q: np.ndarray) -> float:
    return float(0.5 * np.abs(p - q).sum())


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    support = p > 0
    if np.any(q[support] == 0):
        return math.inf
    p, q = p[support], q[support]
    with np.errstate(over="ignore"):
        ratio = p / q
    # p / q overflows only for q below ~1e-308 * p; there the difference of logs is still finite and exact enough.
    log_ratio = np.where(np.isfinite(ratio), np.log(ratio), np.log(p) - np.log(q))
    return max(0.0, float(np.sum(p * log_ratio)))  # KL >= 0; the max removes rounding below zero


def _js(p: np.ndarray, q: np.ndarray) -> float:
    """JS = 1/2 sum p log(2p / (p + q)) + 1/2 sum q log(2q / (p + q)): the KLs to the mixture m = (p + q) / 2,
    with m's halving inside the ratio, where it cannot underflow (m of a p of 5e-324 was 0, and JS infinite)."""
    total = p + q

    def half(mass: np.ndarray) -> float:
        support = mass > 0
        return 0.5 * float(np.sum(mass[support] * np.log(2.0 * (mass[support] / total[support]))))

    return min(math.log(2.0), max(0.0, half(p) + half(q)))  # in [0, log 2]; the clips remove rounding


def tv(p, q, *, normalize: bool = False) -> float:
    r"""Total variation distance between two discrete probability vectors.

    .. math:: \delta(P, Q) = \sup_A |P(A) - Q(A)| = \tfrac12 \sum_i |p_i - q_i| \in [0, 1].

    Parameters
    ----------
    p, q : array_like or torch.Tensor, any shape, the same for both
        Non-negative entries summing to 1 (within 1e-6).
    normalize : bool, default False
        Divide each input by its sum instead of requiring that it sums to 1.

    Returns
    -------
    float
        1 for disjoint supports, 0 for equal vectors.

    References
    ----------
    Arjovsky, Chintala, Bottou, "Wasserstein GAN", 2017, Sec. 2 (the TV distance :math:`\delta`).
    """
    return _tv(*_probabilities(p, q, normalize))


def kl(p, q, *, normalize: bool = False) -> float:
    r"""Kullback-Leibler divergence :math:`KL(P \| Q)` between two discrete probability vectors (natural log).

    .. math:: KL(P \| Q) = \sum_{i:\, p_i > 0} p_i \log \frac{p_i}{q_i},

    with :math:`0 \log 0 = 0`, and :math:`+\infty` when some :math:`p_i > 0` has :math:`q_i = 0`
    (P is not absolutely continuous with respect to Q). Not symmetric.

    Parameters
    ----------
    p, q : array_like or torch.Tensor, any shape, the same for both
        Non-negative entries summing to 1 (within 1e-6).
    normalize : bool, default False
        Divide each input by its sum instead of requiring that it sums to 1.

    Returns
    -------
    float
        In :math:`[0, +\infty]`; ``float('inf')`` on support mismatch.

    References
    ----------
    Arjovsky, Chintala, Bottou, "Wasserstein GAN", 2017, Sec. 2.
    """
    return _kl(*_probabilities(p, q, normalize))


def js(p, q, *, normalize: bool = False) -> float:
    r"""Jensen-Shannon divergence between two discrete probability vectors (natural log).

    .. math:: JS(P, Q) = \tfrac12 KL(P \| M) + \tfrac12 KL(Q \| M), \qquad M = \tfrac12 (P + Q).

    Always finite, in :math:`[0, \log 2]`, and exactly :math:`\log 2` when the supports are disjoint.
    This is the divergence itself, not its square root (``scipy.spatial.distance.jensenshannon`` returns
    :math:`\sqrt{JS}`).

    Parameters
    ----------
    p, q : array_like or torch.Tensor, any shape, the same for both
        Non-negative entries summing to 1 (within 1e-6).
    normalize : bool, default False
        Divide each input by its sum instead of requiring that it sums to 1.

    Returns
    -------
    float

    References
    ----------
    Arjovsky, Chintala, Bottou, "Wasserstein GAN", 2017, Sec. 2.
    """
    return _js(*_probabilities(p, q, normalize))


# -------------------------------------------------------------------------------------- densities on a grid
def tv_density(f, g, dx, *, normalize: bool = False) -> float:
    r"""Total variation between two densities sampled on the same uniform grid.

    .. math:: \delta(P, Q) = \tfrac12 \int |f - g| \approx \tfrac12 \sum_i |f_i - g_i| \, \Delta x.

    Parameters
    ----------
    f, g : array_like or torch.Tensor, any shape (the grid), the same for both
        Density values at the grid points; each must integrate to 1 (``sum(f) * dx``, within 1e-3).
    dx : float
        Volume of one grid cell (the product of the spacings on a multi-dimensional grid).
    normalize : bool, default False
        Divide the cell masses by their total instead of requiring that it is 1.

    Returns
    -------
    float

    Notes
    -----
    The densities become the cell masses :math:`f_i \Delta x` (renormalised to sum 1 to remove the
    discretisation error) and the discrete :func:`tv` is applied to them.
    """
    return tv(*_cell_masses(f, g, dx, normalize))


def kl_density(f, g, dx, *, normalize: bool = False) -> float:
    r""":math:`KL(P \| Q) = \int f \log (f / g)` for densities sampled on the same uniform grid.

    Parameters
    ----------
    f, g : array_like or torch.Tensor, any shape (the grid), the same for both
        Density values at the grid points; each must integrate to 1 (``sum(f) * dx``, within 1e-3).
    dx : float
        Volume of one grid cell.
    normalize : bool, default False
        Divide the cell masses by their total instead of requiring that it is 1.

    Returns
    -------
    float
        ``float('inf')`` where some cell has ``f > 0 = g``.

    Notes
    -----
    Computed as the discrete :func:`kl` of the cell masses :math:`f_i \Delta x`; the factor
    :math:`\Delta x` cancels inside the log, so this is the Riemann sum of the integral.
    """
    return kl(*_cell_masses(f, g, dx, normalize))


def js_density(f, g, dx, *, normalize: bool = False) -> float:
    r"""Jensen-Shannon divergence between densities sampled on the same uniform grid (natural log).

    Parameters
    ----------
    f, g : array_like or torch.Tensor, any shape (the grid), the same for both
        Density values at the grid points; each must integrate to 1 (``sum(f) * dx``, within 1e-3).
    dx : float
        Volume of one grid cell.
    normalize : bool, default False
        Divide the cell masses by their total instead of requiring that it is 1.

    Returns
    -------
    float
        In :math:`[0, \log 2]`.

    Notes
    -----
    Computed as the discrete :func:`js` of the cell masses :math:`f_i \Delta x`.
    """
    return js(*_cell_masses(f, g, dx, normalize))


# ----------------------------------------------------------------------------------------------- Wasserstein
def w1(x, y, a=None, b=None, *, metric: str = "euclidean") -> float:
    r"""Exact Wasserstein-1 distance between two weighted empirical distributions.

    .. math::
        W_1(P, Q) = \min_{\gamma \in \Pi(a, b)} \sum_{i,j} \gamma_{ij} \, c(x_i, y_j)
        = \sup_{\|f\|_L \le 1} E_P f - E_Q f,

    with :math:`P = \sum_i a_i \delta_{x_i}`, :math:`Q = \sum_j b_j \delta_{y_j}`, :math:`\Pi(a, b)` the
    couplings with those marginals and :math:`c` the ground distance (the second form is the
    Kantorovich-Rubinstein duality that the WGAN critic estimates).

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (n, d) or (n,)
        Samples of P; a 1-D array is ``n`` points on the line.
    y : array_like or torch.Tensor, shape (m, d) or (m,)
        Samples of Q, in the same dimension ``d``.
    a : array_like, shape (n,), optional
        Weights of ``x``: non-negative, summing to 1 within 1e-6. Uniform ``1/n`` when omitted.
    b : array_like, shape (m,), optional
        Weights of ``y``, likewise.
    metric : {"euclidean", "cityblock"}, default "euclidean"
        Ground distance :math:`c`: the L2 norm or the L1 norm of :math:`x - y`.

    Returns
    -------
    float

    Notes
    -----
    The cost matrix is ``scipy.spatial.distance.cdist`` (computed from coordinate differences, so that close
    points keep all their digits) of the points scaled to coordinates of at most 1, and scaled to entries of at
    most 1 (W1 scales with both, and the simplex's tolerances are fixed numbers; the scales are powers of two),
    and the linear program is solved exactly by ``ot.emd2`` (network simplex) with up to
    ``EMD_MAX_ITER`` iterations. With ``n = m`` points a side, weights omitted and ``n`` at most
    ``ASSIGNMENT_MAX``, the couplings' extreme points are the permutations (Birkhoff-von Neumann), so that
    :math:`W_1 = \min_\sigma \frac{1}{n} \sum_i c(x_i, y_{\sigma(i)})`, solved exactly by
    ``scipy.optimize.linear_sum_assignment`` without POT's import. Time and memory grow as ``n * m``: a few
    thousand samples a side is the practical limit; beyond it use :func:`sliced_w1` or subsample.

    References
    ----------
    Arjovsky, Chintala, Bottou, "Wasserstein GAN", 2017, Sec. 2 and 3; Villani, "Optimal Transport: Old
    and New", 2009, Thm. 5.10 and Remark 6.5; Flamary et al., "POT", JMLR 2021 (``ot.emd2``); Peyre and
    Cuturi, "Computational Optimal Transport", 2019, Prop. 2.1 (equal weights: an assignment).
    """
    if metric not in _METRICS:
        raise WganError(f"metric is {metric!r}; expected one of {sorted(_METRICS)}; pick one of those")
    x, y = _points(x, "x"), _points(y, "y")
    _same_dimension(x, y)
    matching = a is None and b is None and x.shape[0] == y.shape[0] <= ASSIGNMENT_MAX
    a = _weights(a, x.shape[0], "a", "x")
    b = _weights(b, y.shape[0], "b", "y")
    # scipy.spatial (and POT, where it solves) take up to two seconds to import: only a process that measures W1
    # pays, not every start of the command line
    from scipy.spatial.distance import cdist

    check_fits_in_memory(COST_COPIES * 8 * x.shape[0] * y.shape[0], f"the exact W1 between {x.shape[0]:,} and "
                         f"{y.shape[0]:,} samples", "subsample both sets, or use sliced_w1")
    # Points of no weight change nothing: left out, they do not set the scale below.
    x, a, y, b = x[a > 0], a[a > 0], y[b > 0], b[b > 0]
    # Solved on coordinates and costs of at most 1, and scaled back (a distance scales with the points): the
    # squares in the costs underflowed at 1e-200 times the points (W1 0) and overflowed at 1e200, and the simplex's
    # fixed tolerances made 1e-15 times them 37% too far apart. The scales are powers of two, which divide exactly.
    size = power_of_two_above(max(np.abs(x).max(), np.abs(y).max()))
    cost = cdist(x / size, y / size, metric)
    if matching:
        from scipy.optimize import linear_sum_assignment

        return _finite(float(cost[linear_sum_assignment(cost)].mean()) * size)
    import ot

    scale = power_of_two_above(cost.max())
    value, log = ot.emd2(a, b, cost / scale, numItermax=EMD_MAX_ITER, log=True)
    if log["result_code"] != 1:
        raise WganError(
            f"the exact W1 between {x.shape[0]} and {y.shape[0]} samples did not reach optimality "
            f"({log['warning']}); subsample both sets or use sliced_w1"
        )
    return _finite(float(value) * scale * size)


def power_of_two_above(value: float) -> float:
    """The smallest power of two at least ``value`` (1 for 0: nothing to scale), at most float64's largest,
    2^1023: a scale to divide by without rounding."""
    return float(np.ldexp(1.0, min(int(np.frexp(value)[1]), 1023))) if value > 0 else 1.0


def _finite(distance: float) -> float:
    """``distance`` if float64 held it: points far enough apart (1e155 in a coordinate) overflow it."""
    if not math.isfinite(distance):
        raise WganError("the distances between these points overflow float64: divide both sets by the same "
                        "factor (a W1 distance scales with it) and multiply the result back")
    return distance


def _w1_sorted(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    r"""W1 between uniform empirical distributions on the line from samples sorted along axis 0.

    Uses the quantile form :math:`W_1 = \int_0^1 |F_x^{-1}(u) - F_y^{-1}(u)| \, du`: both quantile
    functions are constant between the levels :math:`i/n` and :math:`j/m`, so the integral is a sum over the
    at most ``n + m`` pieces of their union. The levels are counted in units of ``1/lcm(n, m)``, integers, so
    that equal levels coincide exactly. Extra axes (columns) are independent problems, which lets
    :func:`sliced_w1` solve all projections at once.
    """
    n, m = xs.shape[0], ys.shape[0]
    unit = n * m // math.gcd(n, m)  # lcm: level i/n is i * (unit // n) units
    step_x, step_y = unit // n, unit // m
    levels = np.union1d(np.arange(1, n + 1, dtype=np.int64) * step_x, np.arange(1, m + 1, dtype=np.int64) * step_y)
    widths = np.diff(levels, prepend=0) / unit
    # On (levels[k-1], levels[k]] the quantile of x is its sample number ceil(levels[k] / step_x) - 1.
    ix = -(-levels // step_x) - 1
    iy = -(-levels // step_y) - 1
    gaps = np.abs(xs[ix] - ys[iy])
    return np.tensordot(widths, gaps, axes=(0, 0))


def w1_1d(x, y) -> float:
    r"""Wasserstein-1 distance between two empirical distributions on the real line, in closed form.

    .. math::
        W_1(P, Q) = \int_{\mathbb{R}} |F_P(t) - F_Q(t)| \, dt = \int_0^1 |F_P^{-1}(u) - F_Q^{-1}(u)| \, du,

    with :math:`F` the empirical CDFs (uniform weights ``1/n`` and ``1/m``; the sizes may differ).

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (n,) or (n, 1)
    y : array_like or torch.Tensor, shape (m,) or (m, 1)

    Returns
    -------
    float

    Notes
    -----
    Two sorts and one pass over the ``n + m`` pieces of the quantile functions:
    :math:`O((n + m) \log(n + m))`; no linear program.

    References
    ----------
    Villani, "Optimal Transport: Old and New", 2009, Remark 2.19; Ramdas, Garcia Trillos, Cuturi, "On
    Wasserstein two-sample testing", Entropy 19(2), 2017.
    """
    x, y = _points(x, "x"), _points(y, "y")
    for name, z in (("x", x), ("y", y)):
        if z.shape[1] != 1:
            raise WganError(f"{name} has shape {z.shape}; expected 1-D samples, shape (n,); use w1 or sliced_w1")
    check_fits_in_memory(SORTED_BYTES_PER_SAMPLE * (x.shape[0] + y.shape[0]), f"w1_1d of {x.shape[0]:,} and "
                         f"{y.shape[0]:,} samples", "subsample both sets")
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is named by _finite
        return _finite(float(_w1_sorted(np.sort(x[:, 0]), np.sort(y[:, 0]))))


def sliced_w1(x, y, *, n_projections: int = 200, seed: int = 0) -> float:
    r"""Sliced Wasserstein-1 distance: the mean W1 of one-dimensional projections.

    .. math::
        SW_1(P, Q) = E_{\theta \sim U(S^{d-1})} \, W_1(\theta_\# P, \theta_\# Q)
        \approx \frac1L \sum_{l=1}^{L} W_1(\{x_i \cdot \theta_l\}, \{y_j \cdot \theta_l\}),

    a Monte Carlo estimate over :math:`L` directions drawn uniformly on the unit sphere (normalised
    Gaussian vectors). :math:`SW_1 \le W_1`; for a shift :math:`Q = P + s` it equals
    :math:`|s| \, E|\cos \angle(\theta, s)|`, which is :math:`2|s|/\pi` in 2-D.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (n, d) or (n,)
    y : array_like or torch.Tensor, shape (m, d) or (m,)
    n_projections : int, default 200
        Number of directions :math:`L`; the estimate's relative error falls as :math:`1/\sqrt{L}`.
    seed : int, default 0
        Seed of the numpy Generator that draws the directions.

    Returns
    -------
    float

    Notes
    -----
    Cost :math:`O(L (n + m) (d + \log(n + m)))`; all projections are solved together by the 1-D quantile
    formula of :func:`w1_1d`.

    References
    ----------
    Bonneel, Rabin, Peyre, Pfister, "Sliced and Radon Wasserstein barycenters of measures", JMIV 2015;
    Flamary et al., "POT", JMLR 2021 (``ot.sliced_wasserstein_distance``, the same estimator for W_p).
    """
    x, y = _points(x, "x"), _points(y, "y")
    _same_dimension(x, y)
    if isinstance(n_projections, bool) or not isinstance(n_projections, (int, np.integer)) or n_projections < 1:
        raise WganError(f"n_projections is {n_projections!r}; expected a positive integer such as 200")
    rng = np.random.default_rng(numpy_seed(seed))
    check_fits_in_memory(PROJECTION_COPIES * 8 * int(n_projections) * (x.shape[0] + y.shape[0] + x.shape[1]),
                         f"sliced_w1 with {int(n_projections):,} projections", "use fewer n_projections")
    theta = rng.standard_normal((int(n_projections), x.shape[1]))
    theta /= np.linalg.norm(theta, axis=1, keepdims=True)
    # projected from points scaled by a power of two to coordinates of at most 1, and scaled back (each W1
    # scales with the points): projections of points near 1.5e308 overflowed, though the answer was finite
    size = power_of_two_above(max(np.abs(x).max(), np.abs(y).max()))
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is named by _finite
        per_direction = _w1_sorted(np.sort((x / size) @ theta.T, axis=0), np.sort((y / size) @ theta.T, axis=0))
        return _finite(float(per_direction.mean()) * size)


# ------------------------------------------------------------------------------ Example 1 of the WGAN paper
@dataclass(frozen=True)
class ParallelLinesDistances:
    """The four distances between P0 and P_theta of the parallel-lines example (Arjovsky et al. 2017, Ex. 1)."""

    w: float  # Wasserstein-1 (EM) distance, |theta|
    js: float  # Jensen-Shannon divergence, log 2 or 0
    kl: float  # KL(P_theta || P0) (and KL(P0 || P_theta)), inf or 0
    tv: float  # total variation, 1 or 0


def parallel_lines(theta) -> ParallelLinesDistances:
    r"""Closed-form distances of Example 1 of the WGAN paper: learning parallel lines.

    With :math:`Z \sim U[0, 1]`, :math:`P_0` is the law of :math:`(0, Z)` and :math:`P_\theta` the law of
    :math:`(\theta, Z)` in :math:`\mathbb{R}^2`. Then

    .. math::
        W(P_0, P_\theta) = |\theta|, \quad
        JS(P_0, P_\theta) = \begin{cases} \log 2 & \theta \ne 0 \\ 0 & \theta = 0 \end{cases}, \quad
        KL = \begin{cases} +\infty & \theta \ne 0 \\ 0 & \theta = 0 \end{cases}, \quad
        \delta = \begin{cases} 1 & \theta \ne 0 \\ 0 & \theta = 0 \end{cases}.

    Only W is continuous in :math:`\theta` and gives a gradient towards :math:`\theta = 0`.

    Parameters
    ----------
    theta : float
        Horizontal offset of the second line.

    Returns
    -------
    ParallelLinesDistances

    References
    ----------
    Arjovsky, Chintala, Bottou, "Wasserstein GAN", 2017, Example 1 and Figure 1.
    """
    t = _scalar(theta, "theta")
    if t == 0.0:
        return ParallelLinesDistances(w=0.0, js=0.0, kl=0.0, tv=0.0)
    return ParallelLinesDistances(w=abs(t), js=math.log(2.0), kl=math.inf, tv=1.0)


def parallel_lines_curves(thetas) -> dict[str, np.ndarray]:
    """:func:`parallel_lines` over an array of thetas, for plotting Figure 1 of the WGAN paper.

    Parameters
    ----------
    thetas : array_like, shape (t,)

    Returns
    -------
    dict of str to numpy.ndarray, each of shape (t,)
        Keys ``"theta"``, ``"w"``, ``"js"``, ``"kl"``, ``"tv"``.
    """
    t = _to_numpy(thetas, "thetas")
    if sum(size > 1 for size in t.shape) > 1:  # a grid of thetas came back flattened (a column is one line)
        raise WganError(f"thetas has shape {t.shape}; expected a 1-D array of thetas")
    t = t.reshape(-1)
    for place, theta in enumerate(t):
        _scalar(theta, f"thetas[{place}]")
    rows = [parallel_lines(v) for v in t]
    return {"theta": t, **{k: np.array([getattr(r, k) for r in rows]) for k in ("w", "js", "kl", "tv")}}
