"""Multilayer perceptrons for the generator and the critic.

The WGAN-GP toy experiments use 3 hidden layers of 512 ReLU units for both networks (gan_toy.py); the WGAN
paper's MLP image experiment uses 4 layers of 512 (Sec. 4.3). Normalisation, when asked, sits between each
hidden linear layer and its activation. The critic outputs one raw score per sample (a logit for the GAN).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .activations import LeakyReLU, ReLU
from .penalised_loss import PenalisedLossMixin
from .piecewise import activation_slopes

LEAKY_SLOPE = 0.2
ACTIVATION_LAYERS = {"relu": ReLU, "leaky_relu": lambda: LeakyReLU(LEAKY_SLOPE), "elu": nn.ELU,
                     "tanh": nn.Tanh}
PIECEWISE_LINEAR_SLOPES = {"relu": 0.0, "leaky_relu": LEAKY_SLOPE}  # slope of the activation where x < 0
NORM_LAYERS = {"none": lambda width: nn.Identity(), "layer": nn.LayerNorm, "batch": nn.BatchNorm1d}


def mlp(inputs: int, outputs: int, width: int, depth: int, activation: str, norm: str) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units: (Linear -> norm -> activation) x depth -> Linear.

    Initialised as the WGAN-GP toy code does (tflib ``Linear``): hidden layers He-uniform (variance 2 / fan_in,
    He et al. 2015), the output layer Glorot-uniform (variance 2 / (fan_in + fan_out)), biases zero.
    """
    layers: list[nn.Module] = []
    for layer in range(depth):
        hidden = nn.Linear(inputs if layer == 0 else width, width)
        nn.init.kaiming_uniform_(hidden.weight, nonlinearity="relu")
        layers += [hidden, NORM_LAYERS[norm](width), ACTIVATION_LAYERS[activation]()]
    output = nn.Linear(width if depth else inputs, outputs)
    nn.init.xavier_uniform_(output.weight)
    for linear in (*layers, output):
        if isinstance(linear, nn.Linear):
            nn.init.zeros_(linear.bias)
    return nn.Sequential(*[layer for layer in layers if not isinstance(layer, nn.Identity)], output)


class MLPGenerator(nn.Module):
    """G(z): noise (n, latent_dim) -> samples (n, *sample_shape)."""

    def __init__(self, latent_dim: int, sample_shape: tuple[int, ...], width: int, depth: int, activation: str,
                 norm: str):
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        self.net = mlp(latent_dim, math.prod(sample_shape), width, depth, activation, norm)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.sample_shape)


class MLPCritic(PenalisedLossMixin, nn.Module):
    """f(x): samples (n, *sample_shape) -> scores (n,).

    With ReLU or leaky ReLU and no normalisation the critic is piecewise linear in x: its input gradient has a
    closed form (:meth:`input_gradient`), and WGAN-GP's loss and its weight gradient come from one pass over the
    real, generated and interpolate batches (:meth:`penalised_loss`), both without double backprop.
    """

    def __init__(self, sample_shape: tuple[int, ...], width: int, depth: int, activation: str, norm: str):
        super().__init__()
        self.net = mlp(math.prod(sample_shape), 1, width, depth, activation, norm)
        self.negative_slope = PIECEWISE_LINEAR_SLOPES.get(activation) if norm == "none" else None
        self.piecewise_linear = self.negative_slope is not None

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1)).squeeze(1)

    def input_gradient(self, x: Tensor, scale: Tensor | None = None) -> Tensor:
        """grad_x f(x) per sample, shape (n, *sample_shape), differentiable with respect to the weights, in closed
        form (:mod:`wgan.models.piecewise`): the same penalty gradient as double backprop at about half the cost.
        With ``scale``, the gradient of ``scale * f`` (a float16 loss scale, so small gradients do not flush).
        """
        if not self.piecewise_linear:
            raise TypeError("input_gradient needs a ReLU or leaky-ReLU critic without normalisation")
        linears = [layer for layer in self.net if isinstance(layer, nn.Linear)]
        slopes = []
        with torch.no_grad():
            hidden = x.flatten(1)
            for linear in linears[:-1]:
                pre_activation = linear(hidden)
                slopes.append(activation_slopes(pre_activation, self.negative_slope))
                hidden = pre_activation * slopes[-1]
        output = linears[-1].weight if scale is None else linears[-1].weight * scale
        gradient = output.to(slopes[0].dtype if slopes else x.dtype).expand(len(x), -1)
        for linear, slope in zip(reversed(linears[:-1]), reversed(slopes)):
            gradient = (gradient * slope) @ linear.weight
        return gradient.view_as(x)
