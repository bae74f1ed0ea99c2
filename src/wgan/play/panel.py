"""One panel of ``wgan play``: a run of the project's own :class:`~wgan.trainer.Trainer` on a 2-D set, stepped one
generator iteration at a time, and the frames that show it.

A frame is what the page draws: the same :data:`FRAME_SAMPLES` real points and the samples the generator
makes from the same noise every frame (so that each point moves smoothly as training goes), the critic's value
f(x) on a :data:`LANDSCAPE_SIZE`-square grid over a view fixed when the panel starts, and three numbers: the
critic's estimate mean f(real) - mean f(fake) on those points (WGAN Eq. 3; the JS estimate for the GANs), the
exact W1 between them (optimal transport, :func:`wgan.distances.w1`) and, on the mixtures, the modes covered (the
registry of :mod:`wgan.metrics`, as every evaluation computes them). Exact W1 between two samples of n points lies
above the distance between the distributions by a sampling term (0.19 at n = 200 on 8gaussians, two samples of the
data itself): the page says how many points it used.

A frame costs one forward pass of the generator (200 rows) and one of the critic (real, generated and grid
points together: the toy critics have no batch norm, so each row's value is its own), and an exact W1 of
200 points a side: for the toy defaults on 2 cores of an AMD EPYC with AVX2, 23-28 ms against about 175 ms for
a training iteration (5.7 it/s without the page in benchmarks/play_page.py, which measures what the page costs
training; 2026-12-07).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import torch

from ..api import EVAL_SEED_OFFSET, build_trainer
from ..config import Config
from ..metrics import METRICS, evaluation_mode
from ..plots import square_view
from .settings import shown

FRAME_SAMPLES = 200  # real and generated points per frame: their exact W1 takes 3-11 ms (distances.ASSIGNMENT_MAX)
LANDSCAPE_SIZE = 24  # the critic's value on a 24 x 24 grid (the page smooths it)
VIEW_SAMPLES = 4000  # real points that fix the view
DECIMALS = 4  # coordinates and values sent to the page are rounded to this many decimals
# Building a trainer seeds torch's global generator and then draws the initial weights from it: one build at a
# time, so that pages building panels at once (one thread each) get the weights their seed gives.
_BUILDING = threading.Lock()


class Panel:
    """A trainer for ``config`` (see :func:`wgan.play.settings.panel_config`) and its frames."""

    def __init__(self, config: Config):
        self.config = config
        with _BUILDING:
            self.trainer = build_trainer(config)
        sampler, device = self.trainer.sampler, self.trainer.device
        draws = torch.Generator(device).manual_seed(config.seed + EVAL_SEED_OFFSET)  # apart from training's
        self.view = square_view(sampler.sample(VIEW_SAMPLES, draws).cpu().numpy())
        axes = [np.linspace(self.view[0][i], self.view[1][i], LANDSCAPE_SIZE) for i in range(2)]
        grid_x, grid_y = np.meshgrid(*axes)  # row r holds y = axes[1][r], from the bottom of the view up
        grid = torch.as_tensor(np.stack([grid_x.ravel(), grid_y.ravel()], axis=1), dtype=torch.float32)
        self.real = sampler.sample(FRAME_SAMPLES, draws)
        self.noise = torch.randn(FRAME_SAMPLES, config.latent_dim, generator=draws, device=device)
        self.critic_inputs = torch.cat([self.real, grid.to(device)])  # the generated points go between
        self._rate_mark = (0, time.perf_counter())

    @property
    def iteration(self) -> int:
        return self.trainer.iteration

    @property
    def finished(self) -> bool:
        return self.iteration >= self.config.iterations

    def step(self) -> None:
        """One generator iteration of Algorithm 1 with its critic steps."""
        self.trainer.step()

    def describe(self) -> dict[str, Any]:
        """The panel's settings as the page shows them, with the name of what its critic estimates."""
        return {"settings": shown(self.config), "estimate_name": self.trainer.objective.estimate_name,
                "view": [self.view[0].round(DECIMALS).tolist(), self.view[1].round(DECIMALS).tolist()],
                "landscape_size": LANDSCAPE_SIZE, "frame_samples": FRAME_SAMPLES}

    @torch.no_grad()
    def frame(self) -> dict[str, Any]:
        """The picture and the numbers of the panel now (see the module docstring); ``rate`` is in generator
        iterations per second since the previous frame. Raises :class:`Diverged` when training has produced
        NaN or infinity."""
        trainer = self.trainer
        with evaluation_mode(trainer.generator, trainer.critic):
            fake = trainer.generator(self.noise).float()
            values = trainer.critic(torch.cat([self.critic_inputs[:FRAME_SAMPLES], fake,
                                               self.critic_inputs[FRAME_SAMPLES:]])).float().reshape(-1)
        critic_real, critic_fake, landscape = values.split([FRAME_SAMPLES, FRAME_SAMPLES, LANDSCAPE_SIZE ** 2])
        estimate = trainer.objective.estimate(critic_real, critic_fake).item()
        real, fake = self.real.cpu().numpy(), fake.cpu().numpy()
        if not np.isfinite(fake).all():
            raise Diverged(self.iteration, "the generated samples")
        if not (np.isfinite(estimate) and torch.isfinite(landscape).all()):
            raise Diverged(self.iteration, "the critic's values")
        scalars = {}
        for compute in METRICS.values():
            scalars.update(compute(real, fake, trainer.sampler))
        iteration, now = self.iteration, time.perf_counter()
        rate = (iteration - self._rate_mark[0]) / max(now - self._rate_mark[1], 1e-9)
        self._rate_mark = (iteration, now)
        return {"iteration": iteration, "estimate": round(estimate, 6), "w1": round(scalars["w1"], 6),
                "modes_covered": scalars.get("modes_covered"), "modes_total": scalars.get("modes_total"),
                "rate": round(rate, 2), "real": _rounded(real), "fake": _rounded(fake),
                "landscape": _rounded(landscape.cpu().numpy())}


class Diverged(Exception):
    """Training produced NaN or infinity (a learning rate too high, a penalty weight too large)."""

    def __init__(self, iteration: int, what: str):
        super().__init__(f"training diverged by iteration {iteration}: {what} hold NaN or infinity; lower the "
                         "learning rate and reset")


def _rounded(values: np.ndarray) -> list:
    return values.round(DECIMALS).tolist()
