"""An exponential moving average (EMA) of the generator's weights, evaluated and sampled beside the generator.

After generator step t (counted from 1) every weight theta of the average moves towards the generator's:

    theta_avg <- beta_t theta_avg + (1 - beta_t) theta,      beta_t = min(decay, t / (9 + t))

The ramp (the ``num_updates`` form of TensorFlow's ``ExponentialMovingAverage``) lets the average forget the
random initial weights in the first steps, where a fixed beta = 0.999 would keep them for thousands of steps;
StyleGAN2 ramps its EMA half-life with the images seen for the same reason. Buffers (batch-norm running
statistics) are copied from the generator, not averaged, as in StyleGAN2's training loop: the average is read in
eval mode with statistics that suit the generator it follows.

Averaging the generator's iterates damps the oscillation of the two-player game around its equilibrium (Yazici
et al., "The Unusual Effectiveness of Averaging in GAN Training", ICLR 2019); Karras et al. (progressive GAN,
ICLR 2018) sample their published images from it. It costs one fused multi-tensor lerp per generator step on the
device, and no host synchronisation.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def average_decay(decay: float, step: int) -> float:
    """beta_t = min(decay, t / (9 + t)) after generator step ``step`` = t >= 1 (0.1 at t = 1, 0.5 at t = 9)."""
    return min(decay, step / (9 + step))


class GeneratorAverage:
    """An EMA copy of ``generator`` with decay ``decay``; :attr:`module` is the averaged generator."""

    def __init__(self, generator: nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(generator).requires_grad_(False).eval()
        self._generator = generator

    @torch.no_grad()
    def update(self, step: int) -> None:
        """Move the average towards the generator after generator step ``step`` (from 1); copy its buffers."""
        beta = average_decay(self.decay, step)
        torch._foreach_lerp_(list(self.module.parameters()), list(self._generator.parameters()), 1 - beta)
        averaged_buffers = list(self.module.buffers())
        if averaged_buffers:
            torch._foreach_copy_(averaged_buffers, list(self._generator.buffers()))

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)

    def reset(self) -> None:
        """Start the average at the generator's current weights (a checkpoint written without one)."""
        self.module.load_state_dict(self._generator.state_dict())
