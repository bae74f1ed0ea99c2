"""An exponential moving average (EMA) of the generator's weights, evaluated and sampled beside the generator.

After generator step t (counted from 1) every weight theta of the average moves towards the generator's:

    theta_avg <- beta_t theta_avg + (1 - beta_t) theta,      beta_t = min(decay, t / (9 + t))

The ramp (the ``num_updates`` form of TensorFlow's ``ExponentialMovingAverage``) lets the average forget the
random initial weights in the first steps, where a fixed beta = 0.999 would keep them for thousands of steps;
StyleGAN2 ramps its EMA half-life with the images seen for the same reason. Buffers (batch-norm running
statistics) are the generator's own, not averaged, as StyleGAN2's training loop copies them: the average is read
in eval mode with statistics that suit the generator it follows. They are shared, not copied after each generator
step: the critic steps that follow run the generator in training mode and move its statistics again, and a copy
lagged those n_critic passes behind at every evaluation and checkpoint. Whatever moves the generator's statistics
(running it in training mode) moves the average's too; moving the generator to another device or dtype would
give it new buffers, and the average would keep the old ones (the trainer moves its models before it makes the
average).

Averaging the generator's iterates damps the oscillation of the two-player game around its equilibrium (Yazici
et al., "The Unusual Effectiveness of Averaging in GAN Training", ICLR 2019); Karras et al. (progressive GAN,
ICLR 2018) sample their published images from it. It costs one fused multi-tensor lerp per generator step on the
device, and no host synchronisation.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .errors import WganError


def average_decay(decay: float, step: int) -> float:
    """beta_t = min(decay, t / (9 + t)) after generator step ``step`` = t >= 1 (0.1 at t = 1, 0.5 at t = 9)."""
    return min(decay, step / (9 + step))


class GeneratorAverage:
    """An EMA copy of ``generator`` with decay ``decay``; :attr:`module` is the averaged generator."""

    def __init__(self, generator: nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(generator).requires_grad_(False).eval()
        self._generator = generator
        averaged_layers = dict(self.module.named_modules())
        for name, layer in generator.named_modules():  # the generator's buffers themselves (the docstring)
            for buffer_name, buffer in layer.named_buffers(recurse=False):
                setattr(averaged_layers[name], buffer_name, buffer)

    @torch.no_grad()
    def update(self, step: int) -> None:
        """Move the average towards the generator after generator step ``step`` (from 1)."""
        beta = average_decay(self.decay, step)
        torch._foreach_lerp_(list(self.module.parameters()), list(self._generator.parameters()), 1 - beta)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        """The averaged weights of ``state``; its buffers, the generator's when it was saved (or a copy that lagged
        behind them, in a checkpoint of older code), are left to the generator's own state."""
        buffers = {name for name, _ in self.module.named_buffers()}
        keys = self.module.load_state_dict({name: value for name, value in state.items() if name not in buffers},
                                           strict=False)
        if set(keys.missing_keys) - buffers or keys.unexpected_keys:
            raise WganError(f"the checkpoint's moving average does not fit its generator (missing "
                            f"{sorted(set(keys.missing_keys) - buffers)}, unexpected {keys.unexpected_keys}): "
                            "load it with the settings it was trained with")

    def reset(self) -> None:
        """Start the average at the generator's current weights (a checkpoint written without one)."""
        self.module.load_state_dict(self._generator.state_dict())
