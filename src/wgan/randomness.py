"""The run's random stream, the same whatever the number of processes.

Every process holds the same ``torch.Generator``, seeded alike, and makes every draw at the size of the global
batch; a process keeps its own rows of it (its :class:`Shard`). So the real samples, the noise and the
interpolation weights that W processes see together are exactly those one process sees with the same seed and
global batch, and the streams of all processes stay in step without talking to each other. The cost is drawing
W times the numbers a process uses, which is small beside the networks' work (a batch of noise against the
generator's forward and backward pass over it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .data.sampler import Sampler


@contextmanager
def global_cpu_seed(seed: int) -> Iterator[None]:
    """Within it, torch's global CPU generator starts from ``seed`` (what layers draw their initial weights from,
    built on the CPU); after it, that generator is as it was. No GPU's generator is touched: torch.manual_seed
    would reseed every one, and fork_rng(devices=[]) leaves them so, a change to the caller's CUDA streams."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield


@dataclass(frozen=True)
class Shard:
    """Process ``index`` of ``count`` keeps rows [index * n, (index + 1) * n) of each global draw of count * n."""

    index: int = 0
    count: int = 1

    def take(self, batch: Tensor, dim: int = 0) -> Tensor:
        """This process's rows of a global ``batch`` whose dimension ``dim`` (its rows) is a multiple of
        ``count``."""
        rows = batch.shape[dim] // self.count
        return batch.narrow(dim, self.index * rows, rows)


class RandomStream:
    """Draws for ``rows`` rows of this process, made as part of a draw of ``rows * shard.count`` rows.

    Parameters
    ----------
    generator : torch.Generator
        The stream's state; its device is where the numbers are made. It is used, not copied.
    shard : Shard
        Which rows of each global draw this process keeps; the whole draw by default.
    """

    def __init__(self, generator: torch.Generator, shard: Shard = Shard()):
        self.generator, self.shard = generator, shard

    @classmethod
    def seeded(cls, seed: int, device: torch.device | str, shard: Shard = Shard()) -> RandomStream:
        return cls(torch.Generator(device).manual_seed(seed), shard)

    @property
    def device(self) -> torch.device:
        return self.generator.device

    def normal(self, rows: int, *shape: int, batches: int = 1) -> Tensor:
        """Standard normal numbers, (batches * rows, *shape), float32: ``batches`` global batches drawn at once
        (in one call, as many numbers as that many successive draws), and this process's rows of each, in
        order."""
        draw = torch.randn((batches, rows * self.shard.count, *shape), generator=self.generator, device=self.device)
        return self.shard.take(draw, dim=1).flatten(0, 1)

    def uniform(self, rows: int, *shape: int, dtype: torch.dtype = torch.float32) -> Tensor:
        """U[0, 1) numbers, (rows, *shape)."""
        draw = torch.rand((rows * self.shard.count, *shape), generator=self.generator, device=self.device,
                          dtype=dtype)
        return self.shard.take(draw)

    def sample(self, sampler: Sampler, rows: int) -> Tensor:
        """``rows`` real samples: this process's rows of a global batch drawn from ``sampler``."""
        return self.shard.take(sampler.sample(rows * self.shard.count, self.generator))

    def get_state(self) -> Tensor:
        return self.generator.get_state()

    def restore(self, state: Tensor, seed: int, iteration: int) -> bool:
        """Continue from ``state``, as :meth:`get_state` gave it, and return True; or, where it is another kind of
        device's state (a CPU generator's is 5,056 bytes of Mersenne Twister, a CUDA one's 16 of Philox seed and
        offset: a run trained on a GPU, continued or loaded on the CPU), start afresh from ``seed`` and
        ``iteration`` together and return False: the numbers that follow are not those the run would have drawn
        on its own device."""
        if state.numel() == self.generator.get_state().numel():
            self.generator.set_state(state.cpu())
            return True
        self.generator.manual_seed(int(np.random.SeedSequence([seed, iteration]).generate_state(1, np.uint64)[0]))
        return False
