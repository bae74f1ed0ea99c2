"""The one place that builds generators and critics from a :class:`~wgan.config.Config`: :data:`MODELS`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from .dcgan import ConstantFilterGenerator, DCGANCritic, DCGANGenerator
from .mlp import MLPCritic, MLPGenerator
from .resnet import ResNetCritic, ResNetGenerator

if TYPE_CHECKING:  # config imports the models' size checks, so the models import it only for type hints
    from ..config import Config

Builder = Callable[["Config", tuple[int, ...]], tuple[nn.Module, nn.Module]]


def _mlp(config: Config, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    return (MLPGenerator(config.latent_dim, shape, config.width, config.depth, config.activation,
                         config.generator_norm),
            MLPCritic(shape, config.width, config.depth, config.activation, config.critic_norm))


def _dcgan(config: Config, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    channels, size = shape[0], shape[-1]
    return (DCGANGenerator(config.latent_dim, channels, size, config.width, config.generator_norm == "batch"),
            DCGANCritic(channels, size, config.width, config.critic_norm))


def _dcgan_constant(config: Config, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    channels, size = shape[0], shape[-1]
    return (ConstantFilterGenerator(config.latent_dim, channels, size, config.width),
            DCGANCritic(channels, size, config.width, config.critic_norm))


def _resnet(config: Config, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    return (ResNetGenerator(config.latent_dim, shape[0], config.width),
            ResNetCritic(shape[0], config.width, config.critic_norm))


MODELS: dict[str, Builder] = {"mlp": _mlp, "dcgan": _dcgan, "dcgan-constant": _dcgan_constant, "resnet": _resnet}


def build_models(config: Config, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """Return (generator, critic) of ``config.model`` for samples of ``sample_shape``, initialised from the
    current torch seed."""
    generator, critic = MODELS[config.model](config, tuple(sample_shape))
    if config.model != "mlp":
        # Convolution weights in channels-last layout: oneDNN's fast path on CPUs (measured in
        # a quick probe: +5% in float32, +17% in bf16 for the DCGAN); the same function either way.
        generator, critic = (module.to(memory_format=torch.channels_last) for module in (generator, critic))
    return generator, critic


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


# float32 copies each parameter has in training: the weight, its gradient, and the optimiser's state (Adam's two
# moments; RMSProp has one, so this is the larger)
TRAINING_COPIES = 4


def check_fits(config: Config, sample_shape: tuple[int, ...], device: torch.device) -> None:
    """Raise :class:`~wgan.errors.WganError` when the models of ``config`` cannot be trained in the memory
    ``device`` has free, before any of it is allocated (the models are sized on torch's meta device)."""
    from ..errors import WganError

    with torch.device("meta"):
        sizes = [count_parameters(module) for module in build_models(config, sample_shape)]
    needed, free = TRAINING_COPIES * 4 * sum(sizes), free_memory(device)
    if needed > free:
        raise WganError(f"the generator ({sizes[0]:,} parameters) and the critic ({sizes[1]:,}) need about "
                        f"{needed / 1e9:,.1f} GB to train (weights, gradients and optimiser state in float32), and "
                        f"{device} has {free / 1e9:,.1f} GB free: lower --width ({config.width}) or --depth")


def free_memory(device: torch.device) -> int:
    """Bytes free on ``device``: the GPU's free memory, or the host's available memory (/proc/meminfo)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
