"""The data interface the trainer sees: endless batches drawn on the device.

A sampler holds its data (or the recipe for it) on one device and draws a batch with one tensor operation
from an explicit ``torch.Generator``, so that a run's random stream can be saved and resumed exactly.
There are no per-sample Python loops and no host round trips on this path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from ..errors import WganError


@dataclass(frozen=True)
class Modes:
    """The centres of a Gaussian mixture and its per-coordinate standard deviation (in the sampler's units)."""

    centres: torch.Tensor  # (k, d)
    std: float


class Sampler(Protocol):
    """Draws batches of real data.

    Attributes
    ----------
    shape : tuple of int
        Shape of one sample: ``(d,)`` for points, ``(C, H, W)`` for images.
    device : torch.device
        Where batches are made.
    modes : Modes or None
        The mixture's centres when the data is a known Gaussian mixture (for mode-coverage metrics).
    """

    shape: tuple[int, ...]
    device: torch.device
    modes: Modes | None

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Return ``n`` samples, a float32 tensor of shape ``(n, *shape)`` on ``device``."""
        ...


@dataclass(frozen=True)
class RecordedShape:
    """Stands in for a run's data when its generator is loaded for sampling: the samples' shape, as the run's
    checkpoint records it, is all the models are built from, so data that has moved or changed since does not
    matter. It draws nothing."""

    data: str
    shape: tuple[int, ...]
    device: torch.device
    modes: None = None

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        raise WganError(f"this run was loaded for sampling, without its data '{self.data}': evaluate or resume it "
                        "to draw from the data")


class TensorSampler:
    """Uniform draws with replacement from a fixed tensor of samples kept on the device.

    Parameters
    ----------
    data : torch.Tensor
        ``(N, *shape)`` samples; moved to ``device`` once.
    device : torch.device
    """

    modes: Modes | None = None

    def __init__(self, data: torch.Tensor, device: torch.device | str):
        self.device = torch.device(device)
        self.data = data.to(self.device)
        self.shape = tuple(self.data.shape[1:])

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        index = torch.randint(len(self.data), (n,), generator=generator, device=self.device)
        return self.data[index].float()
