"""The 2-D toy distributions of the WGAN and WGAN-GP papers, drawn on the device.

``8gaussians``, ``25gaussians`` and ``swissroll`` are the three toy sets of the WGAN-GP toy experiments
(Gulrajani et al. 2017, Figure 1; ``gan_toy.py`` in gulrajani/improved_wgan_training), with the same
constants and the same final rescaling. ``parallel-lines`` is Example 1 of the WGAN paper (Arjovsky,
Chintala, Bottou 2017): P_theta is the law of (theta, Z) with Z ~ U[0, 1], and the data is P_0.

Each sampler makes a batch with a few tensor operations from the ``torch.Generator`` it is given, so the
random stream is the caller's to save and restore. The generator must live on the sampler's device.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from wgan.data.sampler import Modes, Sampler
from wgan.errors import WganError

# gan_toy.py divides each set by its per-coordinate standard deviation after drawing it (sqrt(2) for the
# radius-2 circle, sqrt(8) for the grid, written 1.414 and 2.828; 7.5 for the roll). We keep its literal
# numbers so that our samples have exactly its distribution.
EIGHT_GAUSSIANS_RADIUS = 2.0
EIGHT_GAUSSIANS_STD = 0.02
EIGHT_GAUSSIANS_SCALE = 1.414
TWENTY_FIVE_GAUSSIANS_STD = 0.05
TWENTY_FIVE_GAUSSIANS_SCALE = 2.828
SWISSROLL_NOISE = 0.25  # sklearn.datasets.make_swiss_roll(noise=0.25)
SWISSROLL_SCALE = 7.5


class GaussianMixtureSampler:
    """An equal-weight mixture of isotropic Gaussians: ``x = c_k + std * eps`` with ``k ~ U{1..K}``.

    Parameters
    ----------
    centres : torch.Tensor
        ``(K, d)`` mixture centres.
    std : float
        Per-coordinate standard deviation of every component.
    device : torch.device or str
    """

    def __init__(self, centres: torch.Tensor, std: float, device: torch.device | str):
        self.device = torch.device(device)
        centres = centres.to(device=self.device, dtype=torch.float32)
        self.shape = tuple(centres.shape[1:])
        self.modes = Modes(centres=centres, std=float(std))

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        centres = self.modes.centres
        k = torch.randint(len(centres), (n,), generator=generator, device=self.device)
        eps = torch.randn((n, *self.shape), generator=generator, device=self.device, dtype=torch.float32)
        return centres[k] + self.modes.std * eps


def eight_gaussians(device: torch.device | str) -> GaussianMixtureSampler:
    """Eight Gaussians on a circle: centres ``2 * u / 1.414`` for the 8 compass directions ``u``, std ``0.02 / 1.414``.

    In ``gan_toy.py`` a point is ``2 * u + 0.02 * eps`` and the whole point is then divided by 1.414; that is
    this mixture, with both the centre and the noise scaled.
    """
    s = 1.0 / math.sqrt(2.0)
    directions = torch.tensor(
        [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [s, s], [s, -s], [-s, s], [-s, -s]]
    )
    return GaussianMixtureSampler(
        directions * EIGHT_GAUSSIANS_RADIUS / EIGHT_GAUSSIANS_SCALE,
        EIGHT_GAUSSIANS_STD / EIGHT_GAUSSIANS_SCALE,
        device,
    )


def twenty_five_gaussians(device: torch.device | str) -> GaussianMixtureSampler:
    """A 5 x 5 grid of Gaussians: centres ``(x, y) / 2.828`` for ``x, y`` in {-4, -2, 0, 2, 4}, std ``0.05 / 2.828``.

    ``gan_toy.py`` shuffles a fixed set of 100 000 points with 4 000 per centre and cycles through it; drawing
    the centre uniformly for each sample gives the same distribution without the finite pool.
    """
    ticks = torch.arange(-4.0, 5.0, 2.0)
    grid = torch.cartesian_prod(ticks, ticks)  # (25, 2), x-major like the original double loop
    return GaussianMixtureSampler(
        grid / TWENTY_FIVE_GAUSSIANS_SCALE, TWENTY_FIVE_GAUSSIANS_STD / TWENTY_FIVE_GAUSSIANS_SCALE, device
    )


class SwissRollSampler:
    """The Swiss roll of ``sklearn.datasets.make_swiss_roll(noise=0.25)``, columns (x, z), divided by 7.5.

    sklearn draws ``t = 1.5 pi (1 + 2u)`` with ``u ~ U[0, 1]``, sets ``(x, y, z) = (t cos t, 21 v, t sin t)``
    and adds ``noise * N(0, I_3)``; ``gan_toy.py`` keeps columns 0 and 2 and divides by 7.5. The height ``y``
    and its noise are dropped there, so we never draw them: the kept columns have the same law.
    """

    modes: Modes | None = None
    shape = (2,)

    def __init__(self, device: torch.device | str, noise: float = SWISSROLL_NOISE):
        self.device = torch.device(device)
        self.noise = float(noise)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        u = torch.rand(n, generator=generator, device=self.device, dtype=torch.float32)
        t = 1.5 * math.pi * (1.0 + 2.0 * u)
        roll = torch.stack((t * torch.cos(t), t * torch.sin(t)), dim=1)
        eps = torch.randn((n, 2), generator=generator, device=self.device, dtype=torch.float32)
        return (roll + self.noise * eps) / SWISSROLL_SCALE


class ParallelLinesSampler:
    """P_theta of WGAN Example 1: the law of ``(theta, Z)`` with ``Z ~ U[0, 1]``; ``theta = 0`` is the data P_0.

    For every theta != 0, W(P_0, P_theta) = |theta| while JS = log 2, KL = +inf and TV = 1: only the
    Wasserstein distance is continuous in theta, which is the paper's case for it.
    """

    modes: Modes | None = None
    shape = (2,)

    def __init__(self, device: torch.device | str, theta: float = 0.0):
        theta = float(theta)
        if not math.isfinite(theta):
            raise WganError(f"parallel-lines theta {theta} is not a finite number: give a real offset such as 0 or 0.5")
        self.device = torch.device(device)
        self.theta = theta

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        z = torch.rand((n, 1), generator=generator, device=self.device, dtype=torch.float32)
        return torch.cat((torch.full_like(z, self.theta), z), dim=1)


# name -> factory(device); the names are those of gan_toy.py's --dataset flag.
TOY_DATASETS: dict[str, Callable[..., Sampler]] = {
    "8gaussians": eight_gaussians,
    "25gaussians": twenty_five_gaussians,
    "swissroll": SwissRollSampler,
    "parallel-lines": ParallelLinesSampler,
}


def toy_sampler(name: str, device: torch.device | str, **options) -> Sampler:
    """Build the toy sampler called ``name`` on ``device``; ``options`` go to its constructor (e.g. ``theta``)."""
    try:
        factory = TOY_DATASETS[name]
    except KeyError:
        raise WganError(
            f"unknown toy dataset {name!r}: expected one of {', '.join(TOY_DATASETS)}"
        ) from None
    return factory(device, **options)
