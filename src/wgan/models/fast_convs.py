"""The DCGAN's convolutions in the forms oneDNN computes fastest, each equal to torch's layer.

Two layers of the DCGAN (Radford et al. 2016; the official WGAN code's ``DCGAN_G`` and ``DCGAN_D``) are dense
maps written as convolutions:

* the generator's first layer, ConvTranspose(latent, C, k, 1, 0) on the noise seen as a 1x1 map:
  out[n, c, i, j] = sum_l z[n, l] W[l, c, i, j], i.e. out = z W with W viewed as (latent, C k k);
* the critic's last layer, Conv(C, 1, k, 1, 0) on a k x k map: f(x)[n] = sum_{c,i,j} W[0, c, i, j] x[n, c, i, j],
  i.e. f = x W^T with x and W flattened.

Two more touch the image, with its one to three channels: the critic's first layer, Conv(channels, C, 4, 2, 1)
(for one channel only: :func:`image_conv`), and the generator's last, ConvTranspose(C, channels, 4, 2, 1). A
stride-2 4x4 convolution is a stride-1 2x2 convolution of the padded input rearranged by space-to-depth (each 2x2
block of pixels becomes 4 channels):

    y[n, o, i, j] = sum_{c,a,b,u,v} W[o, c, 2u + a, 2v + b] s[n, (c, a, b), i + u, j + v],
    s[n, (c, a, b), p, q] = pad(x)[n, c, 2p + a, 2q + b],

and the transposed convolution is its adjoint: a stride-1 transposed convolution, depth-to-space, then the
padding cropped. With one image channel oneDNN runs the stride-1 forms about twice as fast as the strided ones.

The hidden stride-2 layers are torch's convolutions, except on the CPU: in bf16 their weight gradients, and the
layers onto or from 4x4 maps themselves, are matrix products (:mod:`wgan.models.strided_products`); in float32 the
layers onto 4x4 and 8x8 maps and from 4x4 maps take Winograd's fewer products (where oneDNN's float32 kernels are
the faster, only the convolutions onto 4x4 maps do: :mod:`wgan.models.winograd`).

Together these make a DCGAN 32 WGAN iteration 1.20x faster in bf16 (2026-12-04) and 1.26x in float32 (2026-12-05)
than with torch's layers (``benchmarks/throughput.py --against torch-layers``, 2-core Intel Xeon with AMX;
docs/BENCHMARKS.md).
The classes here keep torch's layer, its parameter and its state-dict entry, and compute the same function
another way. The dense forms flatten in (height, width, channel) order, in which channels-last tensors are
already laid out, so that neither the activations nor the weights are copied. :func:`torch_layers_` turns them
back into torch's own layers, as the published code builds them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import activations, split_batch_norm, strided_products, winograd


class OnePixelConvTranspose2d(nn.ConvTranspose2d):
    """ConvTranspose2d(in_channels, out_channels, kernel_size, stride 1, padding 0, no bias) for 1x1 inputs:
    (n, in_channels, 1, 1) -> (n, out_channels, kernel_size, kernel_size), as one matrix product (channels-last
    output)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=False)

    def forward(self, z: Tensor) -> Tensor:
        height, width = self.kernel_size
        weight = self.weight.permute(0, 2, 3, 1).reshape(self.in_channels, -1)  # (in, height * width * out)
        out = z.reshape(len(z), self.in_channels) @ weight
        return out.view(len(z), height, width, self.out_channels).permute(0, 3, 1, 2)


class WholeInputConv2d(nn.Conv2d):
    """Conv2d(in_channels, out_channels, kernel_size, stride 1, padding 0, no bias) for inputs of the kernel's
    size: (n, in_channels, kernel_size, kernel_size) -> (n, out_channels, 1, 1), as one matrix product."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != self.kernel_size:
            raise ValueError(f"{type(self).__name__} takes inputs of its kernel's size {tuple(self.kernel_size)}, "
                             f"got {tuple(x.shape[-2:])}")
        return self.with_weight(x, self.weight)

    def with_weight(self, x: Tensor, weight: Tensor) -> Tensor:
        """This layer's map with ``weight`` in place of its own."""
        return (_rows(x) @ _rows(weight).T).view(len(x), self.out_channels, 1, 1)

    def adjoint(self, y: Tensor, weight: Tensor) -> Tensor:
        """The adjoint map applied to ``y`` (n, out_channels, 1, 1): y W, each row a (in_channels, k, k) map."""
        height, width = self.kernel_size
        flat = y.reshape(len(y), self.out_channels) @ _rows(weight)
        return flat.view(len(y), height, width, self.in_channels).permute(0, 3, 1, 2)

    def weight_gradient(self, x: Tensor, dy: Tensor) -> Tensor:
        """dL/dW = dy^T x for the output gradient ``dy``, shape (out_channels, in_channels, k, k)."""
        height, width = self.kernel_size
        flat = dy.reshape(len(dy), self.out_channels).T @ _rows(x)
        return flat.view(self.out_channels, height, width, self.in_channels).permute(0, 3, 1, 2)


def _rows(x: Tensor) -> Tensor:
    """(n, c, h, w) -> (n, h * w * c): each map flattened in (height, width, channel) order, a view when ``x`` is
    channels-last."""
    return x.permute(0, 2, 3, 1).reshape(len(x), -1)


def space_to_depth(x: Tensor) -> Tensor:
    """s[n, (c, a, b), p, q] = pad(x)[n, c, 2p + a, 2q + b]: (n, c, h, w) padded by one pixel on each side ->
    (n, 4c, h/2 + 1, w/2 + 1), channels-last, in one copy. ``h`` and ``w`` are even."""
    n, channels, height, width = x.shape
    rows, columns = height // 2 + 1, width // 2 + 1
    blocks = F.pad(x, (1, 1, 1, 1)).view(n, channels, rows, 2, columns, 2)
    return blocks.permute(0, 2, 4, 1, 3, 5).reshape(n, rows, columns, 4 * channels).permute(0, 3, 1, 2)


def depth_to_space(s: Tensor) -> Tensor:
    """The adjoint of :func:`space_to_depth`: (n, 4c, p, q) -> (n, c, 2p - 2, 2q - 2), the blocks put back in
    place and the one-pixel border (the padding) dropped."""
    n, depth, height, width = s.shape
    blocks = s.view(n, depth // 4, 2, 2, height, width).permute(0, 4, 2, 5, 3, 1)
    pixels = blocks.reshape(n, 2 * height, 2 * width, depth // 4)[:, 1:-1, 1:-1]
    return pixels.permute(0, 3, 1, 2)


def _stride_one_kernel(weight: Tensor) -> Tensor:
    """W'[o, (c, a, b), u, v] = W[o, c, 2u + a, 2v + b]: a (o, c, 4, 4) kernel -> (o, 4c, 2, 2)."""
    outputs, inputs = weight.shape[:2]
    return weight.view(outputs, inputs, 2, 2, 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(outputs, 4 * inputs, 2, 2)


def _stride_two_kernel(kernel: Tensor) -> Tensor:
    """The inverse of :func:`_stride_one_kernel`: a (o, 4c, 2, 2) kernel -> (o, c, 4, 4)."""
    outputs, depth = kernel.shape[:2]
    return kernel.reshape(outputs, depth // 4, 2, 2, 2, 2).permute(0, 1, 4, 2, 5, 3).reshape(outputs, depth // 4, 4, 4)


class SpaceToDepthConv2d(nn.Conv2d):
    """Conv2d(in_channels, out_channels, 4, stride 2, padding 1, no bias), computed as a 2x2 stride-1
    convolution of :func:`space_to_depth` of the input: for the critic's first layer, on the image's channels."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 4, stride=2, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.with_weight(x, self.weight)

    def with_weight(self, x: Tensor, weight: Tensor) -> Tensor:
        """This layer's map with ``weight`` in place of its own."""
        return F.conv2d(space_to_depth(x), _stride_one_kernel(weight))

    def adjoint(self, y: Tensor, weight: Tensor) -> Tensor:
        """The adjoint map, ConvTranspose(out_channels, in_channels, 4, 2, 1) with ``weight``, applied to ``y``:
        the convolution's input gradient for the output gradient ``y`` (see the module's docstring)."""
        return depth_to_space(F.conv_transpose2d(y, _stride_one_kernel(weight)))

    @staticmethod
    def weight_gradient(x: Tensor, dy: Tensor, weight: Tensor) -> Tensor:
        """dL/dW at the input ``x`` for the output gradient ``dy`` (``weight`` gives the shape and dtype): the
        stride-1 kernel's, by oneDNN, put back in the 4x4 order."""
        return _stride_two_kernel(torch.ops.aten.convolution_backward(
            dy, space_to_depth(x), _stride_one_kernel(weight), None, (1, 1), (0, 0), (1, 1), False, (0, 0), 1,
            (False, True, False))[1])


def image_conv(channels: int, out_channels: int) -> nn.Conv2d:
    """The critic's first layer, Conv(channels, out_channels, 4, 2, 1), no bias: by space-to-depth for one image
    channel, where that is faster (bf16 forward 0.48 ms against 1.05, batch 64 at 32x32, Intel Xeon with AMX);
    torch's for three, where space-to-depth is slower (0.81 against 0.59; float32 2.2 against 0.8)."""
    if channels == 1:
        return SpaceToDepthConv2d(channels, out_channels)
    return nn.Conv2d(channels, out_channels, 4, 2, 1, bias=False)


class SpaceToDepthConvTranspose2d(nn.ConvTranspose2d):
    """ConvTranspose2d(in_channels, out_channels, 4, stride 2, padding 1, no bias), computed as a 2x2 stride-1
    transposed convolution followed by :func:`depth_to_space`: for the generator's last layer, to the image's
    channels."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 4, stride=2, padding=1, bias=False)

    def forward(self, y: Tensor) -> Tensor:
        return depth_to_space(F.conv_transpose2d(y, _stride_one_kernel(self.weight)))


class StridedConv2d(nn.Conv2d):
    """Conv2d(in_channels, out_channels, 4, stride 2, padding 1, no bias): the critic's hidden layers. On the CPU
    in bf16 by :mod:`wgan.models.strided_products`, in float32 onto 4x4 maps (and 8x8 ones where it pays) by
    :mod:`wgan.models.winograd`."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 4, stride=2, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if strided_products.pays(x):
            return strided_products.conv2d(x, self.weight)
        if winograd.pays(x):
            return winograd.conv2d(x, self.weight)
        return super().forward(x)


class StridedConvTranspose2d(nn.ConvTranspose2d):
    """ConvTranspose2d(in_channels, out_channels, 4, stride 2, padding 1, no bias): the generator's hidden
    layers. On the CPU in bf16 by :mod:`wgan.models.strided_products`, in float32 from 4x4 maps by
    :mod:`wgan.models.winograd` where it pays."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 4, stride=2, padding=1, bias=False)

    def forward(self, y: Tensor) -> Tensor:
        if strided_products.pays(y):
            return strided_products.conv_transpose2d(y, self.weight)
        if winograd.pays(y, transposed=True):
            return winograd.conv_transpose2d(y, self.weight)
        return super().forward(y)


def conv_transpose(conv: nn.Conv2d, y: Tensor) -> Tensor:
    """The adjoint of the convolution ``conv`` (its input gradient for the output gradient ``y``), computed in
    ``y``'s dtype and differentiable with respect to ``conv``'s weight: the transposed convolution with its
    weight, stride and padding."""
    if isinstance(conv, StridedConv2d) and strided_products.pays(y):
        return strided_products.conv_transpose2d(y, conv.weight)
    if isinstance(conv, StridedConv2d) and winograd.pays(y, transposed=True):
        return winograd.conv_transpose2d(y, conv.weight)
    return adjoint(conv, y, conv.weight.to(y.dtype))


def convolve(conv: nn.Conv2d, x: Tensor, weight: Tensor) -> Tensor:
    """``conv``'s map (any bias-free convolution of this module or torch's) with ``weight`` in place of its own:
    for code that finds the weight gradient itself (:mod:`wgan.models.penalised_loss`, which sends the float32
    layers for which :func:`wgan.models.winograd.pays` holds to that module itself)."""
    if isinstance(conv, (SpaceToDepthConv2d, WholeInputConv2d)):
        return conv.with_weight(x, weight)
    if isinstance(conv, StridedConv2d) and strided_products.pays(x):
        return strided_products.convolution(x, weight)
    return F.conv2d(x, weight, stride=conv.stride, padding=conv.padding)


def adjoint(conv: nn.Conv2d, y: Tensor, weight: Tensor) -> Tensor:
    """The adjoint of :func:`convolve` ``(conv, ., weight)`` applied to ``y``, computed as that does."""
    if isinstance(conv, (SpaceToDepthConv2d, WholeInputConv2d)):
        return conv.adjoint(y, weight)
    if isinstance(conv, StridedConv2d) and strided_products.pays(y):
        return strided_products.transposed_convolution(y, weight)
    return F.conv_transpose2d(y, weight, stride=conv.stride, padding=conv.padding)


def weight_gradient(conv: nn.Conv2d, x: Tensor, dy: Tensor, weight: Tensor) -> Tensor:
    """dL/dW of :func:`convolve` ``(conv, ., weight)`` at the input ``x`` for the output gradient ``dy``: in
    bf16 on the CPU a :class:`StridedConv2d`'s is a matrix product (:mod:`wgan.models.strided_products`), as in
    its backward pass; torch's layers get oneDNN's."""
    if isinstance(conv, WholeInputConv2d):
        return conv.weight_gradient(x, dy)
    if isinstance(conv, SpaceToDepthConv2d):
        return conv.weight_gradient(x, dy, weight)
    if isinstance(conv, StridedConv2d) and strided_products.pays(dy):
        return strided_products.weight_gradient(x, dy.contiguous(memory_format=torch.channels_last), weight)
    return torch.ops.aten.convolution_backward(dy, x, weight, None, conv.stride, conv.padding, conv.dilation,
                                               False, (0, 0), 1, (False, True, False))[1]


_TORCH_LAYERS = {OnePixelConvTranspose2d: nn.ConvTranspose2d, WholeInputConv2d: nn.Conv2d,
                 SpaceToDepthConv2d: nn.Conv2d, SpaceToDepthConvTranspose2d: nn.ConvTranspose2d,
                 StridedConv2d: nn.Conv2d, StridedConvTranspose2d: nn.ConvTranspose2d,
                 activations.ReLU: nn.ReLU, activations.LeakyReLU: nn.LeakyReLU,
                 split_batch_norm.SplitBatchNorm2d: nn.BatchNorm2d}


def torch_layers_(module: nn.Module) -> nn.Module:
    """Turn each layer of this module, of :mod:`wgan.models.activations` and of :mod:`wgan.models.split_batch_norm`
    inside ``module`` into torch's own layer, in place (the same parameters and function, computed by torch's
    layers, as the published code builds it). Returns ``module``."""
    for layer in module.modules():
        if type(layer) in _TORCH_LAYERS:
            layer.__class__ = _TORCH_LAYERS[type(layer)]  # the subclasses add no state: only the forward changes
    return module
