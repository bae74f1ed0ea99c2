r"""Image metrics: how far generated images are from the data, seen by a classifier of the data and in pixels.

- :func:`frechet_distance` and :func:`feature_statistics`: the Frechet distance between Gaussians fitted to two
  feature sets, the FID of Heusel et al. with the penultimate layer of a classifier of the dataset in place of
  Inception-v3 (:mod:`wgan.metrics.classifier`).
- :func:`reference_statistics` and :func:`classifier_scores`: the features and predicted classes of a reference
  set (the test split) once, then per generated set the Frechet distance (``fd``), the KID, precision, recall,
  density and coverage of the features (:mod:`wgan.metrics.feature_metrics`), the classes it covers, the KL
  divergence of its predicted-class histogram from the reference's, and the classifier's mean confidence. These
  are the "number of modes" and "KL of the class distribution" of Metz et al. (unrolled GAN) and Srivastava et
  al. (VEEGAN, stacked MNIST), and the Inception-Score ingredients (confident, diverse predictions).
- :func:`pixel_distances`: exact and sliced W1 between flattened images in [-1, 1].

Images are ``(N, C, S, S)``, uint8 pixels or floats in [-1, 1] (see :func:`wgan.metrics.classifier.check_images`).
Problems with the input raise :class:`wgan.errors.WganError`.

References
----------
.. [1] M. Heusel, H. Ramsauer, T. Unterthiner, B. Nessler, S. Hochreiter, "GANs Trained by a Two Time-Scale
   Update Rule Converge to a Local Nash Equilibrium", NeurIPS 2017 (the FID).
.. [2] D. C. Dowson, B. V. Landau, "The Frechet distance between multivariate normal distributions", J.
   Multivariate Analysis 12(3), 1982.
.. [3] L. Metz, B. Poole, D. Pfau, J. Sohl-Dickstein, "Unrolled Generative Adversarial Networks", ICLR 2017,
   Sec. 3.3 (modes and KL of the class histogram on stacked MNIST).
.. [4] A. Srivastava, L. Valkov, C. Russell, M. Gutmann, C. Sutton, "VEEGAN", NeurIPS 2017, Sec. 5.2.
.. [5] T. Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016 (the Inception Score).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..checks import numpy_seed
from ..distances import kl, power_of_two_above, sliced_w1, w1
from ..errors import WganError
from .classifier import Classifier, check_images, classify, to_unit_range
from .feature_metrics import ReferenceFeatures, feature_scores, finite_array, reference_features

__all__ = [
    "ReferenceStatistics",
    "classifier_scores",
    "feature_statistics",
    "frechet_distance",
    "pixel_distances",
    "reference_statistics",
]

MIN_SHARE = 0.25  # a class is generated when it gets a quarter of the predictions the reference's share gives it
CLASS_EPS = 1e-6  # added to every class share before the KL, so a class the reference lacks gives a finite KL


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and covariance of a feature set, the Gaussian that the Frechet distance compares.

    .. math:: \mu = \frac1n \sum_i f_i, \qquad \Sigma = \frac{1}{n - 1} \sum_i (f_i - \mu)(f_i - \mu)^\top.

    Parameters
    ----------
    features : array_like or torch.Tensor, shape (n, d)
        At least two samples.

    Returns
    -------
    mu : numpy.ndarray, shape (d,)
    sigma : numpy.ndarray, shape (d, d)
    """
    f = finite_array(features, "features", "(n, d)", 2)
    if len(f) < 2:
        raise WganError(f"features hold {len(f)} sample; expected at least 2 to estimate a covariance")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _psd_root(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a covariance; eigenvalues below zero (rounding) are taken as zero."""
    values, vectors = np.linalg.eigh(sigma)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


COVARIANCE_TOL = 1e-6  # relative to a covariance's largest entry: its asymmetry and negative eigenvalues from rounding


def _check_covariance(sigma: np.ndarray, name: str) -> None:
    """A covariance is symmetric positive semi-definite, up to rounding: anything else has no Frechet distance
    (the formula would return a number all the same)."""
    scale = max(float(np.abs(sigma).max()), np.finfo(np.float64).tiny)
    if np.abs(sigma - sigma.T).max() > COVARIANCE_TOL * scale:
        raise WganError(f"{name} is not symmetric (largest |sigma - sigma.T| {np.abs(sigma - sigma.T).max():.3g}): "
                        "pass a covariance matrix, e.g. numpy.cov(features, rowvar=False)")
    lowest = float(np.linalg.eigvalsh(sigma).min())
    if lowest < -COVARIANCE_TOL * scale * len(sigma):
        raise WganError(f"{name} is not positive semi-definite (an eigenvalue of {lowest:.3g}): pass a covariance "
                        "matrix, e.g. numpy.cov(features, rowvar=False)")


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    r"""Frechet (2-Wasserstein squared) distance between two Gaussians, the FID formula.

    .. math::
        d^2 = \|\mu_1 - \mu_2\|_2^2 + \mathrm{Tr}\left(\Sigma_1 + \Sigma_2 - 2 (\Sigma_1 \Sigma_2)^{1/2}\right).

    Parameters
    ----------
    mu1, mu2 : array_like, shape (d,)
        Means.
    sigma1, sigma2 : array_like, shape (d, d)
        Covariances (symmetric positive semi-definite).

    Returns
    -------
    float
        :math:`d^2 \ge 0`; 0 for equal Gaussians, :math:`\|\mu_1 - \mu_2\|^2` for equal covariances.

    Notes
    -----
    :math:`\Sigma_1 \Sigma_2` is similar to :math:`M = \Sigma_1^{1/2} \Sigma_2 \Sigma_1^{1/2}` (by continuity
    also when :math:`\Sigma_1` is singular), which is symmetric positive semi-definite, so
    :math:`\mathrm{Tr}(\Sigma_1 \Sigma_2)^{1/2} = \sum_k \sqrt{\lambda_k(M)}`. Computing it from the
    eigenvalues of :math:`M` (``numpy.linalg.eigh``, rounding below zero clipped) needs neither the complex
    ``scipy.linalg.sqrtm`` of the non-symmetric product nor the ``eps * I`` that pytorch-fid adds when that
    fails on a singular product, e.g. with fewer samples than feature dimensions. The result is clipped at 0.

    References
    ----------
    Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium",
    NeurIPS 2017, Eq. 6; Dowson and Landau, J. Multivariate Analysis 12(3), 1982.
    """
    mu1, mu2 = finite_array(mu1, "mu1", "(d,)", 1), finite_array(mu2, "mu2", "(d,)", 1)
    sigma1, sigma2 = finite_array(sigma1, "sigma1", "(d, d)", 2), finite_array(sigma2, "sigma2", "(d, d)", 2)
    d = len(mu1)
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise WganError(
            f"mu1 has shape {mu1.shape}, mu2 {mu2.shape}, sigma1 {sigma1.shape} and sigma2 {sigma2.shape}; "
            "expected means (d,) and covariances (d, d) of the same d features"
        )
    for name, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
        _check_covariance(sigma, name)
    # computed for the Gaussians scaled by a power of two s to entries of at most 1, and scaled back (d^2 scales
    # with s^2): the products of covariances of 1e200 overflowed (d^2 0), those of 1e-200 underflowed
    scale = power_of_two_above(max(np.abs(mu1).max(), np.abs(mu2).max(),
                                   np.sqrt(np.abs(sigma1).max()), np.sqrt(np.abs(sigma2).max())))
    mu1, mu2, sigma1, sigma2 = mu1 / scale, mu2 / scale, sigma1 / scale / scale, sigma2 / scale / scale
    root1 = _psd_root(sigma1)
    product = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh(0.5 * (product + product.T))
    trace_root = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    value = max(0.0, float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_root))
    value = value * scale * scale  # (scale**2 alone may overflow)
    if not math.isfinite(value):
        raise WganError("the Frechet distance of these Gaussians overflows float64: divide both means by the same "
                        "factor s and the covariances by s^2 (the distance scales with s^2), and multiply it back")
    return value


@dataclass(frozen=True, eq=False)
class ReferenceStatistics:
    """What the image metrics compare generated images with: a reference set seen by the classifier.

    Attributes
    ----------
    mu : numpy.ndarray, shape (F,)
        Mean of the penultimate features.
    sigma : numpy.ndarray, shape (F, F)
        Their covariance.
    class_shares : numpy.ndarray, shape (K,)
        Fraction of the reference images the classifier assigns to each class (its predictions, not the labels,
        so that its mistakes affect the reference and the generated histograms alike).
    count : int
        Number of reference images.
    features : ReferenceFeatures
        The features themselves with what the KID, precision, recall, density and coverage need of them (k-NN
        radii, KID subsets), computed once (:func:`wgan.metrics.feature_metrics.reference_features`).
    """

    mu: np.ndarray
    sigma: np.ndarray
    class_shares: np.ndarray
    count: int
    features: ReferenceFeatures


def _class_counts(logits: torch.Tensor) -> np.ndarray:
    return torch.bincount(logits.argmax(dim=1), minlength=logits.shape[1]).numpy().astype(np.int64)


def reference_statistics(classifier: Classifier, images, *, batch_size: int = 500) -> ReferenceStatistics:
    """Features, their mean, covariance and k-NN radii, and predicted-class shares of reference ``images`` (e.g.
    the test split).

    Parameters
    ----------
    classifier : Classifier
        Run in eval mode, without gradients, in batches of ``batch_size`` on its device.
    images : torch.Tensor, shape (N, C, S, S)
        uint8 pixels or floats in [-1, 1], at the classifier's size; more than 5 (the k-NN radii of density).

    Returns
    -------
    ReferenceStatistics
    """
    features, logits = classify(classifier, images, batch_size=batch_size)
    mu, sigma = feature_statistics(features)
    return ReferenceStatistics(mu, sigma, _class_counts(logits) / len(logits), len(logits),
                               reference_features(features))


def classifier_scores(
    classifier: Classifier,
    generated,
    reference: ReferenceStatistics,
    *,
    batch_size: int = 500,
    min_share: float = MIN_SHARE,
) -> dict[str, float]:
    r"""Score generated images against a reference set through the dataset's classifier.

    With :math:`n` generated images, :math:`g_k` the fraction predicted as class :math:`k` and :math:`r_k` the
    reference's share (:attr:`ReferenceStatistics.class_shares`):

    - ``fd``: :func:`frechet_distance` between the Gaussians of the generated and the reference features.
    - ``kid`` and ``kid_std``: the Kernel Inception Distance of the features and its standard deviation over
      subsets (:func:`wgan.metrics.feature_metrics.kid`: 100 subsets of up to 1000 a side, seed 0, the same
      subsets at every evaluation); no ``kid_std`` where both sets are within 1000 images and so one subset
      (the built-in digits' 360 held-out images against up to 1000 generated).
    - ``precision``, ``recall`` (k = 3) and ``density``, ``coverage`` (k = 5) of the features
      (:func:`wgan.metrics.feature_metrics.manifold_scores`).
    - ``classes_covered``: the classes :math:`k` with :math:`r_k > 0` that receive at least
      :math:`\max(1, \lceil s \, n \, r_k \rceil)` predictions, :math:`s` = ``min_share`` (a quarter by default).
      As for mixture modes (:func:`wgan.metrics.modes.mode_coverage`), one stray prediction does not make a
      class generated: a collapsed generator still yields the odd ambiguous image that the classifier puts in
      a missing class, and that number does not grow with :math:`n`. A quarter of the reference's share
      accepts a class the generator makes at a quarter of its weight (there, just under-weighted) and rejects
      those strays; the reference's share, not :math:`n / K`, keeps unequal classes fair.
    - ``classes_total``: the classes present in the reference, :math:`\#\{k : r_k > 0\}`.
    - ``class_kl``: :math:`KL(\tilde g \,\|\, \tilde r)` with :math:`\tilde p_k = (p_k + \epsilon) / (1 + K
      \epsilon)`, :math:`\epsilon` = ``CLASS_EPS`` = 1e-6: 0 for the reference's own histogram, :math:`\log K`
      for a generator of one class among :math:`K` equal ones, and finite (about :math:`g_k \log(g_k /
      \epsilon)`) when the generator makes a class the reference lacks.
    - ``confidence``: the mean over images of the largest softmax probability; low when the images look like
      no class in particular.

    The KID and the k-NN scores come from :func:`wgan.metrics.feature_metrics.feature_scores` with the
    reference's prepared features, so an evaluation pays only for the generated side.

    Parameters
    ----------
    classifier : Classifier
        The classifier the reference statistics were computed with.
    generated : torch.Tensor, shape (n, C, S, S)
        Generated images, floats in [-1, 1] (or uint8); more than ``precision_k`` of the reference's features
        (3: the k-NN radii of recall).
    reference : ReferenceStatistics
    batch_size : int, default 500
    min_share : float, default 0.25

    Returns
    -------
    dict of str to float
        Keys ``fd``, ``kid``, ``kid_std`` (with several KID subsets, above), ``precision``, ``recall``,
        ``density``, ``coverage``, ``classes_covered``, ``classes_total``, ``class_kl``, ``confidence``.

    References
    ----------
    Heusel et al., NeurIPS 2017 (FID); Binkowski et al., ICLR 2018 (KID); Kynkaanniemi et al., NeurIPS 2019
    (precision and recall); Naeem et al., ICML 2020 (density and coverage); Metz et al., "Unrolled GANs", ICLR
    2017, Sec. 3.3, and Srivastava et al., "VEEGAN", NeurIPS 2017, Sec. 5.2 (modes and the KL of the class
    histogram); Salimans et al., NeurIPS 2016 (confident predictions).
    """
    if not (isinstance(min_share, (int, float)) and 0.0 <= min_share <= 1.0):
        raise WganError(f"min_share is {min_share!r}; expected a fraction of the reference share in [0, 1], e.g. 0.25")
    # recall needs each generated image's k nearest other generated images
    generated = check_images(generated, "generated", min_count=reference.features.precision_k + 1)
    features, logits = classify(classifier, generated, batch_size=batch_size)
    shares = reference.class_shares
    if features.shape[1] != len(reference.mu) or logits.shape[1] != len(shares):
        raise WganError(
            f"the classifier gives {features.shape[1]} features and {logits.shape[1]} classes but the reference "
            f"statistics have {len(reference.mu)} and {len(shares)}: compute them with the same classifier"
        )
    mu, sigma = feature_statistics(features)
    n = len(logits)
    counts = _class_counts(logits)
    # Rounding to 9 digits first keeps exact shares exact (0.1 * 30 is 3.0000000000000004 in floats).
    min_counts = np.maximum(1, np.ceil(np.round(min_share * n * shares, 9)))
    present = shares > 0
    k = len(shares)
    smooth = [(p + CLASS_EPS) / (1.0 + k * CLASS_EPS) for p in (counts / n, shares)]
    return {
        "fd": frechet_distance(mu, sigma, reference.mu, reference.sigma),
        **feature_scores(reference.features, features),
        "classes_covered": int(np.sum(present & (counts >= min_counts))),
        "classes_total": int(np.sum(present)),
        "class_kl": kl(*smooth),
        "confidence": float(torch.softmax(logits.double(), dim=1).max(dim=1).values.mean()),
    }


def pixel_distances(real, fake, n: int = 2000, seed: int = 0) -> dict[str, float]:
    """Exact and sliced W1 between random subsets of real and generated images, flattened, in [-1, 1].

    Each set is subsampled to ``n`` images without replacement (all of it when smaller) from ``seed``, the
    images are scaled to [-1, 1] and flattened to vectors of ``C * S * S`` coordinates, and the distances are
    :func:`wgan.distances.w1` (exact, euclidean ground cost) and :func:`wgan.distances.sliced_w1` (200 random
    directions drawn from ``seed``). The exact solve grows as ``n^2``: 2000 takes seconds.

    Parameters
    ----------
    real, fake : torch.Tensor, shape (N, C, S, S)
        uint8 pixels or floats in [-1, 1], the same ``(C, S, S)``; at least 2 each.
    n : int, default 2000
    seed : int, default 0

    Returns
    -------
    dict of str to float
        Keys ``pixel_w1`` and ``pixel_sliced_w1``.
    """
    real, fake = check_images(real, "real"), check_images(fake, "fake")
    if real.shape[1:] != fake.shape[1:]:
        raise WganError(
            f"real images have shape {tuple(real.shape[1:])} but fake images {tuple(fake.shape[1:])}: "
            "compare images of the same size and channels"
        )
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise WganError(f"n is {n!r}; expected an integer of at least 2 images per set, such as 2000")
    rng = np.random.default_rng(numpy_seed(seed))
    x, y = (
        to_unit_range(images[torch.as_tensor(rng.choice(len(images), min(n, len(images)), replace=False))])
        .flatten(start_dim=1)
        for images in (real, fake)
    )
    return {"pixel_w1": w1(x, y), "pixel_sliced_w1": sliced_w1(x, y, seed=seed)}
