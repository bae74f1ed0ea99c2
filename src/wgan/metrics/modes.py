"""Mode coverage of a generator on Gaussian-mixture toy data (8 Gaussians on a ring, 25 on a grid).

A generated sample is *high quality* when it lies within ``n_std`` standard deviations of the nearest mixture
centre, and a mode is *covered* when enough high-quality samples land on it. This is the evaluation of the
2-D toy problems in Metz et al. 2017 (unrolled GAN), Srivastava et al. 2017 (VEEGAN) and the toy figures of
Gulrajani et al. 2017 (WGAN-GP), with the covering threshold made explicit (see :func:`mode_coverage`).

References
----------
.. [1] L. Metz, B. Poole, D. Pfau, J. Sohl-Dickstein, "Unrolled Generative Adversarial Networks", ICLR 2017.
.. [2] A. Srivastava, L. Valkov, C. Russell, M. Gutmann, C. Sutton, "VEEGAN: Reducing Mode Collapse in GANs
   using Implicit Variational Learning", NeurIPS 2017, Sec. 5.1.
.. [3] I. Gulrajani, F. Ahmed, M. Arjovsky, V. Dumoulin, A. Courville, "Improved Training of Wasserstein
   GANs", NeurIPS 2017, Sec. 4 and Fig. 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from wgan.checks import real_array
from wgan.errors import WganError

__all__ = ["ModeCoverage", "mode_coverage"]


@dataclass(frozen=True, eq=False)
class ModeCoverage:
    """How many mixture modes a set of samples covers, and how many of the samples are good.

    Attributes
    ----------
    covered : int
        Number of modes that received at least ``min_count`` high-quality samples.
    total : int
        Number of modes ``k``.
    high_quality : float
        Fraction of all samples within ``n_std * std`` of their nearest centre.
    counts : numpy.ndarray of int64, shape (k,)
        High-quality samples assigned to each mode (by nearest centre).
    min_count : int
        The number of high-quality samples a mode needed to count as covered.
    """

    covered: int
    total: int
    high_quality: float
    counts: np.ndarray
    min_count: int


def _as_tensor(x, name: str, device: torch.device) -> torch.Tensor:
    if isinstance(x, torch.Tensor) and not x.is_complex():  # on its device
        t = x.detach().to(device=device, dtype=torch.float64)
    else:
        t = torch.as_tensor(real_array(x, name), device=device)
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise WganError(f"{name} has shape {tuple(t.shape)}; expected a non-empty array of shape (count, d)")
    if not bool(torch.isfinite(t).all()):
        raise WganError(f"{name} contains NaN or inf entries; expected finite coordinates; fix the input")
    return t


def _number(x, name: str, ok, what: str) -> float:
    """``x`` as a float, checked by ``ok``; the message says ``what`` was expected (True is no number here)."""
    if isinstance(x, (bool, np.bool_)):
        raise WganError(f"{name} is {x!r}; expected {what}")
    try:
        value = float(x)
    except (TypeError, ValueError):
        raise WganError(f"{name} is {x!r}; expected {what}") from None
    if not (math.isfinite(value) and ok(value)):
        raise WganError(f"{name} is {value:g}; expected {what}")
    return value


def mode_coverage(samples, centres, std, *, n_std: float = 3.0, min_share: float = 0.25) -> ModeCoverage:
    r"""Count the Gaussian-mixture modes that a set of generated samples covers.

    A sample :math:`x` is *high quality* when :math:`\min_j \|x - c_j\|_2 \le n_{std} \, \sigma`, and is then
    assigned to its nearest centre. With :math:`n` samples and :math:`k` modes, mode :math:`j` is *covered*
    when it receives at least

    .. math:: n_{min} = \max\left(1, \left\lceil s \, \frac{n}{k} \right\rceil\right), \qquad s = \text{min\_share},

    high-quality samples: by default a quarter of the share it would get if the samples were spread evenly.

    Why a fraction of the fair share and not a single sample: a generator that has not learned a mode still
    puts the odd sample near it (its tails, or a sample in transit between modes), so one hit says nothing;
    counting the mode needs a real fraction of the mass. A quarter of the fair share tolerates the unequal
    mode weights of a generator that has not converged (a mode at a quarter of its weight is there, just
    underweighted) while rejecting stray samples, whose number does not grow with :math:`n`.

    Parameters
    ----------
    samples : array_like or torch.Tensor, shape (n, d)
        Generated samples. A tensor is processed on its own device.
    centres : array_like or torch.Tensor, shape (k, d)
        Centres of the mixture components.
    std : float
        Per-coordinate standard deviation :math:`\sigma` of each (isotropic) component.
    n_std : float, default 3.0
        Radius of the high-quality ball in units of ``std``. In 2-D a real sample falls inside
        :math:`3\sigma` with probability :math:`1 - e^{-9/2} \approx 0.989` (the radius is
        :math:`\sigma \chi_2`); in high dimension the radius must grow like :math:`\sqrt{d}`.
    min_share : float, default 0.25
        Fraction :math:`s \in [0, 1]` of the fair share :math:`n / k` a mode needs to count as covered.

    Returns
    -------
    ModeCoverage
        ``covered``, ``total`` (= k), ``high_quality`` (fraction of samples), ``counts`` (k,) and
        ``min_count`` (= :math:`n_{min}`).

    References
    ----------
    Metz et al., "Unrolled GANs", ICLR 2017; Srivastava et al., "VEEGAN", NeurIPS 2017, Sec. 5.1 (high
    quality = within three standard deviations of a mode); Gulrajani et al., "Improved Training of
    Wasserstein GANs", NeurIPS 2017, Fig. 1.
    """
    device = samples.device if isinstance(samples, torch.Tensor) else torch.device("cpu")
    x = _as_tensor(samples, "samples", device)
    c = _as_tensor(centres, "centres", device)
    if x.shape[1] != c.shape[1]:
        raise WganError(
            f"samples have dimension {x.shape[1]} but centres have dimension {c.shape[1]}; "
            "pass centres in the space of the samples"
        )
    repeated = torch.nonzero(torch.triu((torch.cdist(c, c) == 0), diagonal=1))
    if len(repeated):
        first, second = repeated[0].tolist()
        raise WganError(f"centres {first} and {second} are the same point; the samples near it would count for "
                        "one of them alone: give each mode once")
    std = _number(std, "std", lambda v: v > 0, "a positive standard deviation per coordinate")
    n_std = _number(n_std, "n_std", lambda v: v > 0, "a positive radius in standard deviations, such as 3")
    min_share = _number(
        min_share, "min_share", lambda v: 0 <= v <= 1, "a fraction of the fair share in [0, 1], such as 0.25"
    )

    n, k = x.shape[0], c.shape[0]
    # Coordinate differences, not the |x|^2 + |c|^2 - 2 x.c expansion: a sample on a centre is at distance 0.
    dist = torch.cdist(x, c, compute_mode="donot_use_mm_for_euclid_dist")  # (n, k)
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist <= n_std * std
    counts = torch.bincount(nearest[good], minlength=k).cpu().numpy().astype(np.int64)
    # Rounding to 9 digits first keeps exact shares exact (0.07 * 200 / 7 is 2.0000000000000004 in floats).
    min_count = max(1, math.ceil(round(min_share * n / k, 9)))
    return ModeCoverage(
        covered=int((counts >= min_count).sum()),
        total=k,
        high_quality=float(good.sum().item()) / n,
        counts=counts,
        min_count=min_count,
    )
