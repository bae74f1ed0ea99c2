"""The one place that builds generators and critics from a :class:`~wgan.config.Config`."""

from __future__ import annotations

from torch import nn

from ..config import Config
from .mlp import MLPCritic, MLPGenerator


def build_models(config: Config, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """Return (generator, critic) for samples of ``sample_shape``, initialised from the current torch seed."""
    generator = MLPGenerator(config.latent_dim, sample_shape, config.width, config.depth, config.activation,
                             config.generator_norm)
    critic = MLPCritic(sample_shape, config.width, config.depth, config.activation, config.critic_norm)
    return generator, critic


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())
