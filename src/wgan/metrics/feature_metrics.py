r"""Sample-based distances between two feature sets: KID, k-NN precision and recall, density and coverage.

The Frechet distance (:mod:`wgan.metrics.images`) compares two Gaussians fitted to the features; these compare
the samples themselves:

- :func:`kid`: the Kernel Inception Distance of Binkowski et al. [1]_, an unbiased estimate of the squared MMD
  with a cubic polynomial kernel, averaged over random subsets.
- :func:`manifold_scores`: precision and recall of Kynkaanniemi et al. [2]_ (is each fake sample inside the
  real samples' k-NN balls, and each real sample inside the fake ones'?) and density and coverage of Naeem et
  al. [3]_ (how many real balls hold each fake sample, and how many real balls hold any).
- :func:`knn_distances`: the radii those balls are made of.
- :func:`reference_features` and :func:`feature_scores`: all of them against a fixed real set, whose own part
  of the work (its k-NN radii, its KID subsets and their kernel means) is done once, so that scoring a fake
  set pays only for the fake side.

Features are ``(n, d)`` arrays or tensors. Matrix products run in the features' precision: float32 for float32
features (the classifier's), float64 otherwise; their rounding, about 1e-7 of a product, is that of the features
themselves. The kernel means of :func:`kid`, which cancel to a few digits, are summed in float64. On the MNIST
classifier's features (10,000 a side) float32 products move the KID by 2e-7 (its standard deviation over
subsets is 3.6) and the density by 8e-5 (4 of 50,000 ball memberships on a ball's edge) from a float64
computation, and leave precision, recall and coverage unchanged. Distances are computed in blocks of
:data:`BLOCK` entries, so two sets of 10,000 samples never hold a 10,000 x 10,000 matrix. Problems with the
input raise :class:`wgan.errors.WganError`.

References
----------
.. [1] M. Binkowski, D. J. Sutherland, M. Arbel, A. Gretton, "Demystifying MMD GANs", ICLR 2018 (the KID, the
   unbiased MMD^2 estimator and the cubic polynomial kernel).
.. [2] T. Kynkaanniemi, T. Karras, S. Laine, J. Lehtinen, T. Aila, "Improved Precision and Recall Metric for
   Assessing Generative Models", NeurIPS 2019 (k-NN balls, k = 3).
.. [3] M. F. Naeem, S. J. Oh, Y. Uh, Y. Choi, J. Yoo, "Reliable Fidelity and Diversity Metrics for Generative
   Models", ICML 2020 (density and coverage, k = 5).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..checks import check_seed, numpy_seed, real_array, whole_number
from ..errors import WganError

__all__ = [
    "ReferenceFeatures",
    "feature_scores",
    "finite_array",
    "kid",
    "knn_distances",
    "manifold_scores",
    "reference_features",
]

KID_SUBSETS = 100  # the KID averaged over 100 random subsets (torchmetrics' KernelInceptionDistance defaults) ...
KID_SUBSET_SIZE = 1000  # ... of 1000 samples a side
KID_SEED = 0  # the subsets' draw: fixed, so successive evaluations of a run see the same subsets
PRECISION_K = 3  # Kynkaanniemi et al. 2019: k = 3, the neighbourhood size the paper settles on
DENSITY_K = 5  # Naeem et al. 2020: k = 5, the paper's recommendation for density and coverage
BLOCK = 2**22  # entries per block of a distance matrix, 16 MB in float32 (fewer, larger blocks ran faster)


def finite_array(x, name: str, shape: str, ndim: int, *, keep_float32: bool = False) -> np.ndarray:
    """``x`` as a finite float64 array of ``ndim`` dimensions (``shape`` names the expected shape in messages);
    float32 input stays float32 with ``keep_float32``."""
    a = real_array(x, name, keep_float32=keep_float32)
    if a.ndim != ndim or 0 in a.shape:
        raise WganError(f"{name} has shape {a.shape}; expected a non-empty array of shape {shape}")
    if not np.all(np.isfinite(a)):
        raise WganError(f"{name} contains NaN or inf entries; expected finite numbers; fix the input")
    return a


def _features(x, name: str, min_count: int, why: str) -> torch.Tensor:
    """A checked ``(n, d)`` feature set of at least ``min_count`` samples, as a CPU tensor: float32 if it is,
    else float64."""
    a = finite_array(x, name, "(n, d)", 2, keep_float32=True)
    if len(a) < min_count:
        raise WganError(f"{name} hold {len(a)} samples; expected at least {min_count} ({why}): pass more samples")
    return torch.from_numpy(a)


def _match(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and fake features of one dimension, in one precision (float64 unless both are float32)."""
    if x.shape[1] != y.shape[1]:
        raise WganError(f"real features have {x.shape[1]} dimensions but fake features {y.shape[1]}: "
                        "compare features of the same extractor")
    dtype = torch.promote_types(x.dtype, y.dtype)
    return x.to(dtype), y.to(dtype)


# ------------------------------------------------------------------------------------------------- k-NN balls
def _squared_distance_blocks(a: torch.Tensor, b: torch.Tensor) -> Iterator[tuple[slice, torch.Tensor]]:
    r"""Squared distances of the rows of ``a`` to all of ``b``, a block of rows at a time: ``(rows, D)`` with
    ``D[i, j]`` = :math:`\|a_i\|^2 + \|b_j\|^2 - 2 a_i \cdot b_j` for ``i`` in ``rows`` (one matrix product a
    block; rounding may leave the entry of a coincident pair slightly below zero)."""
    a_squared, b_squared = (a * a).sum(dim=1, keepdim=True), (b * b).sum(dim=1)
    step = max(1, BLOCK // len(b))
    for start in range(0, len(a), step):
        rows = slice(start, start + step)
        yield rows, torch.addmm(b_squared, a[rows], b.T, alpha=-2.0).add_(a_squared[rows])


def _knn_squared(x: torch.Tensor, k: int) -> torch.Tensor:
    """Squared distances of each row of ``x`` to its ``k`` nearest other rows, ascending, ``(n, k)``."""
    out = torch.empty(len(x), k, dtype=x.dtype)
    for rows, block in _squared_distance_blocks(x, x):
        own = torch.arange(len(block))
        block[own, own + rows.start] = torch.inf  # a sample is not its own neighbour (a copy of it is)
        out[rows] = block.topk(k, dim=1, largest=False).values
    return out.clamp_(min=0.0)


def knn_distances(features, k: int) -> np.ndarray:
    r"""Distances of each sample to its ``k`` nearest other samples: the radii of the k-NN balls.

    .. math:: \mathrm{NND}_j(x_i) = \|x_i - \mathrm{NN}_j(x_i)\|_2, \qquad j = 1, \dots, k,

    where :math:`\mathrm{NN}_j(x_i)` is the j-th nearest sample of the set other than :math:`x_i` itself (an
    exact copy of :math:`x_i` elsewhere in the set is a neighbour at distance 0).

    Parameters
    ----------
    features : array_like or torch.Tensor, shape (n, d)
        At least ``k + 1`` samples.
    k : int
        Neighbours per sample, at least 1.

    Returns
    -------
    numpy.ndarray, shape (n, k)
        Row i ascending, float64; its last column is :math:`\mathrm{NND}_k`, the radius of the k-NN ball of
        [2]_ and [3]_.
    """
    k = whole_number(k, "k", 1, PRECISION_K)
    x = _features(features, "features", k + 1, f"k = {k} neighbours besides the sample itself")
    return _knn_squared(x, k).double().sqrt_().numpy()


def _manifold(x: torch.Tensor, real_knn_squared: torch.Tensor, y: torch.Tensor, precision_k: int,
              density_k: int) -> dict[str, float]:
    """:func:`manifold_scores` from the real set's squared k-NN radii, compared with squared distances."""
    real_precision, real_density = real_knn_squared[:, precision_k - 1], real_knn_squared[:, density_k - 1]
    fake_radius = _knn_squared(y, precision_k)[:, -1]
    fake_inside = torch.zeros(len(y), dtype=torch.bool)  # y_j in some real precision ball
    real_inside = torch.zeros(len(x), dtype=torch.bool)  # x_i in some fake ball
    real_covered = torch.zeros(len(x), dtype=torch.bool)  # some y_j in x_i's density ball
    in_density_balls = 0
    for rows, block in _squared_distance_blocks(y, x):  # block[j, i] = ||y_j - x_i||^2
        fake_inside[rows] = (block <= real_precision).any(dim=1)
        real_inside |= (block <= fake_radius[rows, None]).any(dim=0)
        inside = block <= real_density
        in_density_balls += int(inside.count_nonzero())
        real_covered |= inside.any(dim=0)
    return {
        "precision": float(fake_inside.double().mean()),
        "recall": float(real_inside.double().mean()),
        "density": in_density_balls / (density_k * len(y)),
        "coverage": float(real_covered.double().mean()),
    }


def manifold_scores(real, fake, *, precision_k: int = PRECISION_K, density_k: int = DENSITY_K) -> dict[str, float]:
    r"""Precision and recall (k-NN manifolds) and density and coverage of fake samples against real ones.

    With real samples :math:`x_1..x_N`, fake ones :math:`y_1..y_M`, the closed ball
    :math:`B(c, r) = \{z : \|z - c\|_2 \le r\}` and :math:`\mathrm{NND}_k` the distance to the k-th nearest
    other sample of the same set (:func:`knn_distances`):

    .. math::
        \mathrm{precision} &= \frac1M \sum_j 1\left[\exists i: y_j \in B(x_i, \mathrm{NND}_{k_p}(x_i))\right],
        \qquad
        \mathrm{recall} = \frac1N \sum_i 1\left[\exists j: x_i \in B(y_j, \mathrm{NND}_{k_p}(y_j))\right], \\
        \mathrm{density} &= \frac{1}{k_d M} \sum_j \sum_i 1\left[y_j \in B(x_i, \mathrm{NND}_{k_d}(x_i))\right],
        \qquad
        \mathrm{coverage} = \frac1N \sum_i 1\left[\exists j: y_j \in B(x_i, \mathrm{NND}_{k_d}(x_i))\right],

    :math:`k_p` = ``precision_k`` and :math:`k_d` = ``density_k``. Precision is the share of fake samples that
    look real (fidelity), recall the share of the real ones the fake set can produce (diversity). Density
    counts how many real balls hold each fake sample, so that a few real outliers with large balls do not make
    every fake sample count as real; it is about 1 for a fake set drawn like the real one and may exceed 1.
    Coverage asks only the real balls, which are reliable, whether any fake sample falls in them. A set
    against itself (no ties) gives precision = recall = coverage = 1 and density = (k_d + 1) / k_d: each sample
    lies in its own ball and in exactly k_d others'.

    Parameters
    ----------
    real, fake : array_like or torch.Tensor, shape (N, d) and (M, d)
        More than ``max(precision_k, density_k)`` real and more than ``precision_k`` fake samples.
    precision_k : int, default 3
    density_k : int, default 5

    Returns
    -------
    dict of str to float
        Keys ``precision``, ``recall``, ``density``, ``coverage``.

    References
    ----------
    Kynkaanniemi et al., NeurIPS 2019 (precision and recall, k = 3); Naeem et al., ICML 2020 (density and
    coverage, k = 5).
    """
    precision_k = whole_number(precision_k, "precision_k", 1, PRECISION_K)
    density_k = whole_number(density_k, "density_k", 1, DENSITY_K)
    k = max(precision_k, density_k)
    why = "the k-NN radii need k neighbours besides the sample"
    x, y = _match(_features(real, "real features", k + 1, why), _features(fake, "fake features", precision_k + 1, why))
    return _manifold(x, _knn_squared(x, k), y, precision_k, density_k)


# ------------------------------------------------------------------------------------------------------- KID
def _subsets(n: int, subsets: int, subset_size: int, seed: int, side: int) -> torch.Tensor:
    """``(subsets, subset_size)`` sample indices of a set of ``n``, each row drawn without replacement; ``side``
    0 (real) and 1 (fake) are independent streams of ``seed``, so the real subsets do not depend on the fake set.
    A set of at most ``subset_size`` samples has one subset, all of it (``(1, n)``): every draw would be it."""
    if subset_size >= n:
        return torch.arange(n)[None]
    rng = np.random.default_rng([numpy_seed(seed), side])
    return torch.from_numpy(np.stack([rng.choice(n, subset_size, replace=False) for _ in range(subsets)]))


def _kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Polynomial kernel matrices ``(a_i . b_j / d + 1)^3`` of a batch of subset pairs, ``(B, m, d)`` and
    ``(B, n, d)`` to ``(B, m, n)``, in the features' precision."""
    return torch.baddbmm(torch.ones((), dtype=a.dtype), a, b.transpose(1, 2), alpha=1.0 / a.shape[2]).pow_(3)


def _batch(size: int) -> int:
    """Subset pairs per batched product, so that a batch of kernel matrices holds about :data:`BLOCK` entries."""
    return max(1, BLOCK // size**2)


def _within_means(z: torch.Tensor, subsets: torch.Tensor) -> np.ndarray:
    """Each subset's kernel mean over its pairs ``i != j``, summed in float64, ``(len(subsets),)``."""
    means = []
    for batch in subsets.split(_batch(subsets.shape[1])):
        values = _kernel(z[batch], z[batch])
        total = values.sum(dim=(1, 2), dtype=torch.float64)
        m = batch.shape[1]
        means.append((total - values.diagonal(dim1=1, dim2=2).sum(dim=1, dtype=torch.float64)) / (m * (m - 1)))
    return torch.cat(means).numpy()


def _cross_means(x: torch.Tensor, real_subsets: torch.Tensor, y: torch.Tensor, fake_subsets: torch.Tensor
                 ) -> np.ndarray:
    """The kernel mean between the s-th real and s-th fake subset, for every s; a side with one subset (a whole
    set) pairs it with each of the other side's."""
    pairs = max(len(real_subsets), len(fake_subsets))
    step = _batch(max(real_subsets.shape[1], fake_subsets.shape[1]))
    means = []
    for start in range(0, pairs, step):
        count = min(step, pairs - start)
        i, j = (s.expand(count, -1) if len(s) == 1 else s[start:start + count] for s in (real_subsets, fake_subsets))
        means.append(_kernel(x[i], y[j]).mean(dim=(1, 2), dtype=torch.float64))
    return torch.cat(means).numpy()


def _kid_estimates(x: torch.Tensor, real_subsets: torch.Tensor, real_means: np.ndarray, y: torch.Tensor,
                   subsets: int, subset_size: int, seed: int) -> np.ndarray:
    """The subsets' estimates of :func:`kid` from the real subsets and their kernel means, drawing the fake
    subsets: one where both sets are within a subset's size."""
    fake_subsets = _subsets(len(y), subsets, subset_size, seed, 1)
    return real_means + _within_means(y, fake_subsets) - 2.0 * _cross_means(x, real_subsets, y, fake_subsets)


def kid(real, fake, *, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
        seed: int = KID_SEED) -> tuple[float, float]:
    r"""Kernel Inception Distance: the unbiased squared MMD with a cubic polynomial kernel, over random subsets.

    With the kernel :math:`k(x, y) = (x \cdot y / d + 1)^3` of ``d``-dimensional features, a subset
    :math:`X` of :math:`m` real and a subset :math:`Y` of :math:`n` fake samples,

    .. math::
        \widehat{\mathrm{MMD}}^2_u = \frac{1}{m(m-1)} \sum_{i \ne i'} k(x_i, x_{i'})
        + \frac{1}{n(n-1)} \sum_{j \ne j'} k(y_j, y_{j'}) - \frac{2}{mn} \sum_{i, j} k(x_i, y_j),

    an unbiased estimate of :math:`\mathrm{MMD}^2`, which is 0 for equal distributions: unlike the FD it has no
    bias that depends on the sample size, and it can be slightly negative. It is computed for ``subsets`` pairs
    of subsets, each drawn without replacement from its set, and averaged. The real subsets are drawn from
    ``seed`` independently of the fake set, so a fixed real set can keep them (:func:`reference_features`).

    Parameters
    ----------
    real, fake : array_like or torch.Tensor, shape (N, d) and (M, d)
        At least 2 samples each.
    subsets : int, default 100
    subset_size : int, default 1000
        Samples in a subset: :math:`m = \min(` ``subset_size`` :math:`, N)` and
        :math:`n = \min(` ``subset_size`` :math:`, M)`.
    seed : int, default 0
        The subsets' draw.

    Returns
    -------
    (float, float)
        The mean of the subsets' estimates :math:`v_s` and their standard deviation
        :math:`\sqrt{\frac1S \sum_s (v_s - \bar v)^2}`. A set within ``subset_size`` is its own only subset;
        when both are, the estimate is computed once and its standard deviation is 0.

    References
    ----------
    Binkowski et al., "Demystifying MMD GANs", ICLR 2018.
    """
    subsets = whole_number(subsets, "subsets", 1, KID_SUBSETS)
    subset_size = whole_number(subset_size, "subset_size", 2, KID_SUBSET_SIZE)
    seed = check_seed(seed)
    why = "the unbiased estimate needs pairs"
    x, y = _match(_features(real, "real features", 2, why), _features(fake, "fake features", 2, why))
    real_subsets = _subsets(len(x), subsets, subset_size, seed, 0)
    estimates = _kid_estimates(x, real_subsets, _within_means(x, real_subsets), y, subsets, subset_size, seed)
    return float(estimates.mean()), float(estimates.std())


# ------------------------------------------------------------------------------------- against a fixed real set
@dataclass(frozen=True, eq=False)
class ReferenceFeatures:
    """A real feature set prepared for :func:`feature_scores`: what of the metrics depends on it alone.

    Attributes
    ----------
    samples : torch.Tensor, shape (N, d)
        The features, float32 if given so, else float64.
    knn_squared : torch.Tensor, shape (N, max(precision_k, density_k))
        Squared distances of each sample to its nearest others, ascending (:func:`knn_distances`, squared).
    real_subsets : torch.Tensor, shape (kid_subsets, m) or (1, N)
        The real KID subsets (sample indices; one, all of it, for a set within ``kid_subset_size``) ...
    real_means : numpy.ndarray, shape (len(real_subsets),)
        ... and their kernel means over pairs.
    precision_k, density_k, kid_subsets, kid_subset_size, seed : int
        The settings (see :func:`manifold_scores` and :func:`kid`).
    """

    samples: torch.Tensor
    knn_squared: torch.Tensor
    real_subsets: torch.Tensor
    real_means: np.ndarray
    precision_k: int
    density_k: int
    kid_subsets: int
    kid_subset_size: int
    seed: int

    def parameters(self, fake_count: int) -> dict[str, dict]:
        """The metrics' settings against ``fake_count`` fake samples, as plain numbers and strings: what a reader
        needs to know to compare two scores."""
        ball = "closed, radius = distance to the k-th nearest other sample of the same set"
        return {
            "kid": {"kernel": "(x.y / d + 1)^3",
                    "estimator": "unbiased MMD^2, mean and std over subsets (a set within the subset size is its "
                                 "own only subset)",
                    "subsets": self.kid_subsets, "real_subset_size": self.real_subsets.shape[1],
                    "fake_subset_size": min(self.kid_subset_size, fake_count), "seed": self.seed},
            "precision_recall": {"k": self.precision_k, "ball": ball},
            "density_coverage": {"k": self.density_k, "ball": ball},
        }


def reference_features(features, *, precision_k: int = PRECISION_K, density_k: int = DENSITY_K,
                       kid_subsets: int = KID_SUBSETS, kid_subset_size: int = KID_SUBSET_SIZE,
                       seed: int = KID_SEED) -> ReferenceFeatures:
    """Prepare a real feature set once (its k-NN radii, KID subsets and their kernel means) for scoring fake
    sets with :func:`feature_scores`.

    Parameters
    ----------
    features : array_like or torch.Tensor, shape (N, d)
        More than ``max(precision_k, density_k)`` samples.
    precision_k, density_k : int, default 3 and 5
        As in :func:`manifold_scores`.
    kid_subsets, kid_subset_size, seed : int, default 100, 1000 and 0
        As ``subsets``, ``subset_size`` and ``seed`` in :func:`kid`.

    Returns
    -------
    ReferenceFeatures
    """
    precision_k = whole_number(precision_k, "precision_k", 1, PRECISION_K)
    density_k = whole_number(density_k, "density_k", 1, DENSITY_K)
    kid_subsets = whole_number(kid_subsets, "kid_subsets", 1, KID_SUBSETS)
    kid_subset_size = whole_number(kid_subset_size, "kid_subset_size", 2, KID_SUBSET_SIZE)
    seed = check_seed(seed)
    k = max(precision_k, density_k)
    x = _features(features, "real features", k + 1, "the k-NN radii need k neighbours besides the sample")
    real_subsets = _subsets(len(x), kid_subsets, kid_subset_size, seed, 0)
    return ReferenceFeatures(x, _knn_squared(x, k), real_subsets, _within_means(x, real_subsets), precision_k,
                             density_k, kid_subsets, kid_subset_size, seed)


def feature_scores(reference: ReferenceFeatures, fake) -> dict[str, float]:
    """KID, precision, recall, density and coverage of fake features against a prepared real set.

    The same numbers as :func:`kid` and :func:`manifold_scores` of the reference's samples and ``fake`` with the
    reference's settings, at the cost of the fake side alone.

    Parameters
    ----------
    reference : ReferenceFeatures
        From :func:`reference_features`.
    fake : array_like or torch.Tensor, shape (M, d)
        More than ``reference.precision_k`` samples.

    Returns
    -------
    dict of str to float
        Keys ``kid``, ``kid_std``, ``precision``, ``recall``, ``density``, ``coverage``; ``kid_std`` only where
        there are several subsets, not where both sets are within ``kid_subset_size`` and make one (its 0 there
        would read as an exact KID).
    """
    k = reference.precision_k
    y = _features(fake, "fake features", k + 1, f"the k-NN radii need k = {k} neighbours besides the sample")
    x, y = _match(reference.samples, y)
    estimates = _kid_estimates(x, reference.real_subsets, reference.real_means, y, reference.kid_subsets,
                               reference.kid_subset_size, reference.seed)
    spread = {"kid_std": float(estimates.std())} if len(estimates) > 1 else {}
    return {"kid": float(estimates.mean()), **spread,
            **_manifold(x, reference.knn_squared.to(x.dtype), y, k, reference.density_k)}
