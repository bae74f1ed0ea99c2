"""The WGAN-GP residual generator and critic for 32x32 images (CIFAR-10).

Gulrajani et al. (2017), "Improved Training of Wasserstein GANs", Appendix (CIFAR-10 ResNet) and the official
``gan_cifar_resnet.py``. Both networks are stacks of pre-activation residual blocks of two 3x3 convolutions
with ``width`` channels (128 in the paper):

* generator: z (n, latent_dim) -> Linear -> (n, width, 4, 4) -> 3 up-blocks (4 -> 8 -> 16 -> 32, batch norm)
  -> BN -> ReLU -> 3x3 conv to ``channels`` -> tanh: images (n, channels, 32, 32) in [-1, 1].
* critic: images (n, channels, 32, 32) -> first down-block (32 -> 16) -> down-block (16 -> 8) -> 2 blocks at
  8x8 -> ReLU -> mean over the 8x8 positions -> Linear(width, 1): raw scores (n,). No batch norm: the gradient
  penalty is per sample (WGAN-GP Sec. 4); layer norm is optional (``nn.GroupNorm(1, C)``, see
  :func:`~wgan.models.dcgan.conv_norm`).

Upsampling is nearest-neighbour 2x (the code's ``depth_to_space`` of four copies), downsampling a 2x2 mean pool.
Initialisation follows the code's tflib layers: convs inside the blocks "He" uniform with variance
4 / (fan_in + fan_out) (= 2 / fan_in when the widths are equal), shortcuts, the linear layers and the output
conv Glorot uniform (variance 2 / (fan_in + fan_out)), biases 0, batch norm scale 1 and shift 0.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from ..errors import WganError
from .activations import ReLU
from .dcgan import conv_norm

IMAGE_SIZE = 32  # the only size these models make and score
RESAMPLES = ("up", "down", None)


def _conv(in_channels: int, out_channels: int, kernel_size: int, he: bool) -> nn.Conv2d:
    """A same-padding conv initialised as tflib ``Conv2D``: uniform, variance 4 (he) or 2 over fan_in + fan_out."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
    nn.init.xavier_uniform_(conv.weight, gain=math.sqrt(2.0) if he else 1.0)
    nn.init.zeros_(conv.bias)
    return conv


def _linear(inputs: int, outputs: int) -> nn.Linear:
    """A linear layer initialised as tflib ``Linear``: Glorot uniform, bias 0."""
    linear = nn.Linear(inputs, outputs)
    nn.init.xavier_uniform_(linear.weight)
    nn.init.zeros_(linear.bias)
    return linear


def _resampler(resample: str | None) -> list[nn.Module]:
    if resample == "up":
        return [nn.Upsample(scale_factor=2, mode="nearest")]
    if resample == "down":
        return [nn.AvgPool2d(2)]
    return []


class ResidualBlock(nn.Module):
    """x -> shortcut(x) + conv2(act(norm(conv1(act(norm(x)))))), with act = ReLU, 3x3 convs.

    ``resample="up"`` upsamples before conv1 (``UpsampleConv``), ``"down"`` mean-pools after conv2
    (``ConvMeanPool``; conv1 then keeps ``in_channels``, as in the code), ``None`` keeps the side. The shortcut
    is the identity when neither the side nor the channels change, else the same resampling and a 1x1 conv
    (mean pooling before a 1x1 conv equals pooling after it; before is cheaper).
    Shapes: (n, in_channels, s, s) -> (n, out_channels, s', s') with s' = 2s, s / 2 or s.
    """

    def __init__(self, in_channels: int, out_channels: int, resample: str | None, norm: str):
        super().__init__()
        if resample not in RESAMPLES:
            raise WganError(f"resample {resample!r} is not known: use 'up', 'down' or None")
        hidden = in_channels if resample == "down" else out_channels
        self.main = nn.Sequential(
            *conv_norm(norm, in_channels), ReLU(), *_resampler("up" if resample == "up" else None),
            _conv(in_channels, hidden, 3, he=True), *conv_norm(norm, hidden), ReLU(),
            _conv(hidden, out_channels, 3, he=True), *_resampler("down" if resample == "down" else None))
        if in_channels == out_channels and resample is None:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(*_resampler(resample), _conv(in_channels, out_channels, 1, he=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut(x) + self.main(x)


class FirstCriticBlock(nn.Module):
    """The critic's "optimised" first block (``OptimizedResBlockDisc1``): no norm or activation on the images.

    x -> MeanPool(Conv1x1(x)) + MeanPool(conv2(ReLU(conv1(x)))), 3x3 convs.
    Shapes: (n, in_channels, s, s) -> (n, out_channels, s / 2, s / 2).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.main = nn.Sequential(_conv(in_channels, out_channels, 3, he=True), ReLU(),
                                  _conv(out_channels, out_channels, 3, he=True), nn.AvgPool2d(2))
        self.shortcut = nn.Sequential(nn.AvgPool2d(2), _conv(in_channels, out_channels, 1, he=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut(x) + self.main(x)


class ResNetGenerator(nn.Module):
    """G(z): noise (n, latent_dim) -> images (n, channels, 32, 32) in [-1, 1] (WGAN-GP CIFAR-10 generator)."""

    def __init__(self, latent_dim: int, channels: int, width: int = 128):
        super().__init__()
        self.width = width
        self.input = _linear(latent_dim, 4 * 4 * width)
        self.blocks = nn.Sequential(*[ResidualBlock(width, width, "up", "batch") for _ in range(3)])
        self.output = nn.Sequential(nn.BatchNorm2d(width), ReLU(), _conv(width, channels, 3, he=False),
                                    nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:
        return self.output(self.blocks(self.input(z).view(len(z), self.width, 4, 4)))


class ResNetCritic(nn.Module):
    """f(x): images (n, channels, 32, 32) -> raw scores (n,) (WGAN-GP CIFAR-10 critic).

    ``norm`` applies inside the blocks after the first: "none" (the paper's choice), "layer"
    (``nn.GroupNorm(1, C)``, the code's optional layer norm over C, H, W) or "batch" (incompatible with
    per-sample gradient penalties: it mixes the samples of a batch).
    """

    def __init__(self, channels: int, width: int = 128, norm: str = "none"):
        super().__init__()
        self.blocks = nn.Sequential(FirstCriticBlock(channels, width), ResidualBlock(width, width, "down", norm),
                                    ResidualBlock(width, width, None, norm), ResidualBlock(width, width, None, norm),
                                    ReLU())
        self.output = _linear(width, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.output(self.blocks(x).mean(dim=(2, 3))).squeeze(1)
