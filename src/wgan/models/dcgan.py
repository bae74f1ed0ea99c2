"""DCGAN convolutional generator and critic, shaped as in the official WGAN code.

The official WGAN code (martinarjovsky/WassersteinGAN, ``models/dcgan.py``) builds the DCGAN of Radford et al.
(2016) for any power-of-two image size: ``DCGAN_G`` (batch norm), ``DCGAN_G_nobn`` (none, the WGAN paper's
Sec. 4.3 and Figures 5-6 "without batch normalization") and ``DCGAN_D``. Every convolution has a 4x4 kernel and
no bias, as there. For an image of side s = 2^k and base width w (``ngf`` / ``ndf`` there):

* generator: z (n, latent_dim) -> (n, latent_dim, 1, 1) -> ConvT(latent_dim, w*s/8, 4, 1, 0) -> 4x4, then
  ConvT(4, 2, 1) layers halving the channels and doubling the side up to s/2 with w channels, then
  ConvT(w, channels, 4, 2, 1) -> tanh: images (n, channels, s, s) in [-1, 1]. BN + ReLU after each hidden layer.
* critic: images (n, channels, s, s) -> Conv(channels, w, 4, 2, 1) -> LeakyReLU(0.2), then Conv(4, 2, 1)
  layers doubling the channels and halving the side down to 4x4 (w*s/8 channels), each with the chosen norm,
  then Conv(w*s/8, 1, 4, 1, 0) -> raw scores (n,). No sigmoid: the GAN objective applies the logistic loss.
  The official critic averages the scores over the batch; here it returns one per sample.

Initialisation, both from DCGAN (Sec. 4) and the official WGAN ``main.py``: conv weights N(0, 0.02), batch-norm
scales N(1, 0.02), batch-norm shifts 0.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import WganError
from .activations import LeakyReLU, ReLU
from .fast_convs import (OnePixelConvTranspose2d, SpaceToDepthConvTranspose2d, StridedConv2d, StridedConvTranspose2d,
                         WholeInputConv2d, conv_transpose, image_conv)
from .penalised_loss import PenalisedLossMixin
from .piecewise import activation_slopes
from .split_batch_norm import SplitBatchNorm2d

LEAKY_SLOPE = 0.2  # DCGAN Sec. 4: leaky ReLU slope in the discriminator
INIT_STD = 0.02  # DCGAN Sec. 4: weights from N(0, 0.02)
SMALLEST_IMAGE_SIZE = 16  # the generator's first layer makes 4x4 and the last doubles, so at least 4 -> 8 -> 16
CRITIC_NORMS = ("none", "layer", "batch")


def check_image_size(image_size: int) -> int:
    """Return ``image_size`` if the DCGAN models can make it (a power of two >= 16), else raise WganError."""
    if image_size < SMALLEST_IMAGE_SIZE or image_size & (image_size - 1):
        raise WganError(f"image size {image_size} is not supported by the DCGAN models: use a power of two of at "
                        f"least {SMALLEST_IMAGE_SIZE} (16, 32, 64, 128, ...), e.g. resize the images to 32 or 64")
    return image_size


def conv_norm(norm: str, channels: int) -> list[nn.Module]:
    """The normalisation layer for conv features of ``channels`` channels, as a list (empty for "none").

    "layer" is ``nn.GroupNorm(1, channels)``: it normalises each sample over (C, H, W) with a per-channel scale
    and shift, the layer-norm replacement for batch norm the WGAN-GP paper suggests (Gulrajani et al. 2017,
    Sec. 4). "batch" is :class:`~wgan.models.split_batch_norm.SplitBatchNorm2d` (``nn.BatchNorm2d`` that can
    normalise two stacked batches apart); it couples the samples of a batch, so a critic with it is incompatible
    with per-sample gradient penalties (WGAN-GP, Sec. 4): the score of one sample then depends on the others.
    """
    if norm == "none":
        return []
    if norm == "layer":
        return [nn.GroupNorm(1, channels)]
    if norm == "batch":
        return [SplitBatchNorm2d(channels)]
    raise WganError(f"norm {norm!r} is not known for convolutional models: use one of {', '.join(CRITIC_NORMS)}")


def dcgan_init_(module: nn.Module) -> nn.Module:
    """Initialise ``module`` in place as DCGAN does: every conv weight N(0, 0.02), every batch-norm scale
    N(1, 0.02) and shift 0, any bias 0. Other layers (e.g. GroupNorm) keep their defaults. Returns ``module``.

    A module on the meta device (sized, not trained: :func:`wgan.models.check_fits`) holds no values to draw, and
    is left as it is: torch draws normal values there through a Python reference that imports torch._dynamo,
    about 1.7 s of CPU time at the start of every image run."""
    if any(parameter.is_meta for parameter in module.parameters()):
        return module
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, INIT_STD)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, INIT_STD)
            nn.init.zeros_(layer.bias)
    return module


def _upsample(in_channels: int, out_channels: int, batch_norm: bool) -> list[nn.Module]:
    """ConvT(4, 2, 1): doubles the side. Then batch norm (optional) and ReLU."""
    norm = [nn.BatchNorm2d(out_channels)] if batch_norm else []
    return [StridedConvTranspose2d(in_channels, out_channels), *norm, ReLU()]


def _transposed_generator(latent_dim: int, channels: int, widths: list[int], batch_norm: bool) -> nn.Sequential:
    """ConvT 1x1 -> 4x4 to widths[0] channels, ConvT(4, 2, 1) through widths[1:], ConvT(4, 2, 1) to images, tanh.

    The side is 4 * 2^len(widths): each hidden width after the first and the output layer double it once. The
    first layer is a matrix product and the last a stride-1 convolution with depth-to-space, the hidden ones
    torch's with bf16 weight gradients as matrix products (:mod:`wgan.models.fast_convs`).
    """
    norm = [nn.BatchNorm2d(widths[0])] if batch_norm else []
    layers: list[nn.Module] = [OnePixelConvTranspose2d(latent_dim, widths[0], 4), *norm, ReLU()]
    for inputs, outputs in zip(widths, widths[1:]):
        layers += _upsample(inputs, outputs, batch_norm)
    layers += [SpaceToDepthConvTranspose2d(widths[-1], channels), nn.Tanh()]
    return dcgan_init_(nn.Sequential(*layers))


class DCGANGenerator(nn.Module):
    """G(z): noise (n, latent_dim) -> images (n, channels, image_size, image_size) in [-1, 1].

    ``DCGAN_G`` of the official WGAN code (``DCGAN_G_nobn`` with ``batch_norm=False``): a 4x4 map of
    width * image_size / 8 channels (256 for 32x32, 512 for 64x64 at width 64), halved at each 2x upsampling
    down to ``width`` at image_size / 2, then a transposed conv to ``channels`` and tanh.
    """

    def __init__(self, latent_dim: int, channels: int, image_size: int, width: int = 64, batch_norm: bool = True):
        super().__init__()
        hidden_layers = check_image_size(image_size).bit_length() - 3  # sides 4, 8, ..., image_size / 2
        widths = [width * 2 ** (hidden_layers - 1 - layer) for layer in range(hidden_layers)]
        self.net = _transposed_generator(latent_dim, channels, widths, batch_norm)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z[:, :, None, None])


class ConstantFilterGenerator(nn.Module):
    """G(z): noise (n, latent_dim) -> images (n, channels, image_size, image_size) in [-1, 1].

    The weak generator of the WGAN paper's Figure 6 ablation (Arjovsky et al. 2017, Sec. 4.3): the DCGAN
    generator without batch norm and with a constant number of filters, ``width`` in every hidden layer, in
    place of the DCGAN channel pyramid. Layers as :class:`DCGANGenerator` with ``batch_norm=False``.
    """

    def __init__(self, latent_dim: int, channels: int, image_size: int, width: int = 64):
        super().__init__()
        hidden_layers = check_image_size(image_size).bit_length() - 3
        self.net = _transposed_generator(latent_dim, channels, [width] * hidden_layers, batch_norm=False)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z[:, :, None, None])


class DCGANCritic(PenalisedLossMixin, nn.Module):
    """f(x): images (n, channels, image_size, image_size) -> raw scores (n,).

    ``DCGAN_D`` of the official WGAN code: Conv(4, 2, 1) to ``width`` channels and LeakyReLU(0.2) (no norm on
    the first layer, as in DCGAN), then Conv(4, 2, 1) layers doubling the channels, each followed by ``norm``
    and LeakyReLU(0.2), down to a 4x4 map of width * image_size / 8 channels, then a 4x4 conv to one score.
    The layers compute as :mod:`wgan.models.fast_convs` describes (the same function as torch's).

    ``norm``: "none" (the default; what gradient penalties need), "layer" (``nn.GroupNorm(1, C)``: per-sample
    normalisation over C, H, W, the WGAN-GP paper's replacement for batch norm) or "batch" (the official WGAN
    critic's choice with weight clipping; it mixes the samples of a batch, so it is incompatible with
    per-sample gradient penalties).

    Without norm the critic is piecewise linear in x (bias-free convolutions, leaky ReLU): its input gradient
    has a closed form (:meth:`input_gradient`), and WGAN-GP's loss and its weight gradient come from one pass
    over the real, generated and interpolate batches (:meth:`penalised_loss`), both without double backprop.
    """

    negative_slope = LEAKY_SLOPE

    def __init__(self, channels: int, image_size: int, width: int = 64, norm: str = "none"):
        super().__init__()
        side = check_image_size(image_size) // 2
        layers: list[nn.Module] = [image_conv(channels, width), LeakyReLU(LEAKY_SLOPE)]
        while side > 4:
            layers += [StridedConv2d(width, 2 * width), *conv_norm(norm, 2 * width),
                       LeakyReLU(LEAKY_SLOPE)]
            width, side = 2 * width, side // 2
        layers.append(WholeInputConv2d(width, 1, 4))
        self.net = dcgan_init_(nn.Sequential(*layers))
        self.piecewise_linear = norm == "none"

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten()

    def input_gradient(self, x: Tensor, scale: Tensor | None = None) -> Tensor:
        """grad_x f(x) per sample, shape (n, channels, image_size, image_size), differentiable with respect to
        the weights, in closed form (:mod:`wgan.models.piecewise`): each convolution's transpose applied to the
        slopes times the gradient at its output, from the last layer's kernel (the gradient at the 4x4 map)
        down to the image. About half the cost of double backprop through the convolutions (float32). With
        ``scale``, the gradient of ``scale * f`` (a float16 loss scale, so small gradients do not flush).
        """
        if not self.piecewise_linear:
            raise TypeError("input_gradient needs the critic without normalisation")
        convs = [layer for layer in self.net if isinstance(layer, nn.Conv2d)]
        slopes = []
        with torch.no_grad():
            hidden = x
            for conv in convs[:-1]:
                pre_activation = conv(hidden)
                slopes.append(activation_slopes(pre_activation, LEAKY_SLOPE))
                hidden = pre_activation * slopes[-1]
        output = convs[-1].weight if scale is None else convs[-1].weight * scale
        gradient = output.to(slopes[-1].dtype).expand(len(x), -1, -1, -1)
        for conv, slope in zip(reversed(convs[:-1]), reversed(slopes)):
            gradient = conv_transpose(conv, gradient * slope)
        return gradient

