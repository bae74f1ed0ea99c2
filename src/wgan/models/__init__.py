"""The one place that builds generators and critics from a :class:`~wgan.config.Config`: :data:`GENERATORS`,
:data:`CRITICS`, and :data:`MODELS` for the pairs that ``model`` names."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..checks import free_memory
from .dcgan import ConstantFilterGenerator, DCGANCritic, DCGANGenerator
from .mlp import MLPCritic, MLPGenerator
from .resnet import ResNetCritic, ResNetGenerator

if TYPE_CHECKING:  # config imports the models' size checks, so the models import it only for type hints
    from ..config import Config

Builder = Callable[["Config", tuple[int, ...]], nn.Module]


def _mlp_generator(config: Config, shape: tuple[int, ...]) -> nn.Module:
    return MLPGenerator(config.latent_dim, shape, config.generator_width, config.depth, config.activation,
                        config.generator_norm)


def _dcgan_generator(config: Config, shape: tuple[int, ...]) -> nn.Module:
    return DCGANGenerator(config.latent_dim, shape[0], shape[-1], config.generator_width,
                          config.generator_norm == "batch")


def _constant_filter_generator(config: Config, shape: tuple[int, ...]) -> nn.Module:
    return ConstantFilterGenerator(config.latent_dim, shape[0], shape[-1], config.generator_width)


def _resnet_generator(config: Config, shape: tuple[int, ...]) -> nn.Module:
    return ResNetGenerator(config.latent_dim, shape[0], config.generator_width)


def _mlp_critic(config: Config, shape: tuple[int, ...]) -> nn.Module:
    return MLPCritic(shape, config.critic_width, config.depth, config.activation, config.critic_norm)


def _dcgan_critic(config: Config, shape: tuple[int, ...]) -> nn.Module:
    return DCGANCritic(shape[0], shape[-1], config.critic_width, config.critic_norm)


def _resnet_critic(config: Config, shape: tuple[int, ...]) -> nn.Module:
    return ResNetCritic(shape[0], config.critic_width, config.critic_norm)


# config.generator_model and config.critic_model -> builder (the official WGAN code's --mlp_G / --mlp_D choose
# the two networks separately, as these do)
GENERATORS: dict[str, Builder] = {"mlp": _mlp_generator, "dcgan": _dcgan_generator,
                                  "dcgan-constant": _constant_filter_generator, "resnet": _resnet_generator}
CRITICS: dict[str, Builder] = {"mlp": _mlp_critic, "dcgan": _dcgan_critic, "resnet": _resnet_critic}
# config.model, which sets both networks -> (generator, critic). WGAN Fig. 6's generator keeps the DCGAN critic.
MODELS: dict[str, tuple[str, str]] = {"mlp": ("mlp", "mlp"), "dcgan": ("dcgan", "dcgan"),
                                      "dcgan-constant": ("dcgan-constant", "dcgan"), "resnet": ("resnet", "resnet")}


def build_models(config: Config, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """Return (generator, critic) of ``config.generator_model`` and ``config.critic_model`` for samples of
    ``sample_shape``, initialised from the current torch seed (the generator first)."""
    shape = tuple(sample_shape)
    built = ((GENERATORS[config.generator_model](config, shape), config.generator_model),
             (CRITICS[config.critic_model](config, shape), config.critic_model))
    # Convolution weights in channels-last layout: oneDNN's fast path on CPUs (measured in a quick probe: +5% in
    # float32, +17% in bf16 for the DCGAN); the same function either way.
    return tuple(module if model == "mlp" else module.to(memory_format=torch.channels_last)
                 for module, model in built)


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


# float32 copies each parameter has in training: the weight, its gradient, and the optimiser's state (Adam's two
# moments; RMSProp has one, so this is the larger)
TRAINING_COPIES = 4


def check_fits(config: Config, sample_shape: tuple[int, ...], device: torch.device) -> None:
    """Raise :class:`~wgan.errors.WganError` when the models of ``config`` cannot be trained in the memory
    ``device`` has free, before any of it is allocated (the models are sized on torch's meta device)."""
    from ..errors import WganError

    widths = f"--width ({config.width})" if config.width is not None else \
        f"--generator-width ({config.generator_width}), --critic-width ({config.critic_width})"
    lower = f"lower {widths}, --depth or --latent-dim ({config.latent_dim})"
    try:
        with torch.device("meta"):
            sizes = [count_parameters(module) for module in build_models(config, sample_shape)]
    except (RuntimeError, TypeError) as error:  # a layer whose size 64 bits cannot hold: "Storage size calculation
        if "overflow" not in str(error).lower():  # overflowed", or a size beyond 2**63 ("Overflow when unpacking")
            raise
        raise WganError(f"the models have layers too large to count in 64 bits: {lower}") from None
    needed, free = TRAINING_COPIES * 4 * sum(sizes), free_memory(device)
    if needed > free:
        raise WganError(f"the generator ({sizes[0]:,} parameters) and the critic ({sizes[1]:,}) need about "
                        f"{needed / 1e9:,.1f} GB to train (weights, gradients and optimiser state in float32), and "
                        f"{device} has {free / 1e9:,.1f} GB free: {lower}")
