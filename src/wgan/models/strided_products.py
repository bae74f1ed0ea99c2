"""The DCGAN's stride-2 4x4 convolutions (padding 1) in bf16 on the CPU as matrix products, where oneDNN is slower.

A convolution y = conv(x, W) is a matrix product with im2col, y[(n, i, j), o] = sum_{(u, v, c)}
cols(x)[(n, i, j), (u, v, c)] W[o, c, u, v], where cols(x) holds, for each output pixel, its k x k x c window of
pad(x); hence its weight gradient is dW = dy^T cols(x). A transposed convolution z = conv_transpose(y, W) is the
adjoint of conv(., W), so its weight gradient is the convolution's with the roles exchanged: input dz, output
gradient y. Its output splits into four phases, the pixels (2a + r, 2b + s) for r, s in {0, 1}, and each phase is
a stride-1 2x2 convolution of pad(y) (the sub-pixel form of a transposed convolution):

    z[n, o, 2a + r, 2b + s] = sum_{c; u, v in {0, 1}} pad(y)[n, c, a + r + u, b + s + v] W[c, o, 3-r-2u, 3-s-2v],

one product of the 2x2 windows of pad(y) with a (4c, o) matrix per phase, the four in one batched product.

Why: in bf16 on a CPU with AMX, oneDNN's kernels for these shapes run slower than matrix products of the same FLOPs,
even with the copies the products need (2-core Intel Xeon, batch 64): the weight gradient of the DCGAN 32 critic's
128->256 layer took 20 ms against 3.5 ms as a product, its 64->128 layer's 8.7 against 4.9 (2026-12-02); that
128->256 layer itself 4.3-4.9 ms against 2.4-3.1 as a product, and its transpose on the 4x4 map 5.2-7.0 ms against
3.0-3.4 by phases (2026-12-03). Both 4x4 forms together: a DCGAN 32 WGAN iteration 1.14x faster in bf16, WGAN-GP
1.18x (in-process A/B, 12 rounds of 2 iterations, 2026-12-03). On larger maps oneDNN wins again (the transpose on an
8x8 map: 4.6 ms by phases against 2.9; the weight gradient of a 64x64 critic's 64->128 layer: 29 ms against 14),
hence the limits :data:`PRODUCT_MAX_PIXELS` and :data:`WEIGHT_GRADIENT_MAX_PIXELS`. In float32 oneDNN's kernels are
as fast as the products or faster (the transpose on a 4x4 map: 8.6-9.6 ms against 10.4-11.0 by phases), and nothing
here is used: the layers onto and from 4x4 maps take fewer products there (:mod:`wgan.models.winograd`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

PRODUCT_MAX_PIXELS = 16  # convolutions onto, and transposed ones from, maps up to 4x4 (faster at 4x4, slower at 8x8)
WEIGHT_GRADIENT_MAX_PIXELS = 64  # output maps up to 8x8 (measured faster up to 8x8, slower at 16x16)


def _windows(x: Tensor, height: int, width: int) -> Tensor:
    """cols(x): the 4x4 windows of pad(x) at stride 2, rows (n, i, j) for an output of height x width, columns
    (u, v, c); one copy."""
    n, channels = x.shape[:2]
    padded = F.pad(x, (1, 1, 1, 1)).contiguous(memory_format=torch.channels_last)
    batch, _, row, column = padded.stride()
    windows = padded.as_strided((n, height, width, 4, 4, channels), (batch, 2 * row, 2 * column, row, column, 1))
    return windows.reshape(n * height * width, 16 * channels)


def convolution(x: Tensor, weight: Tensor) -> Tensor:
    """conv2d(x, W, stride 2, padding 1): y = cols(x) W^T, one product onto maps of up to
    :data:`PRODUCT_MAX_PIXELS`, oneDNN's kernel onto larger ones. Channels-last."""
    height, width = x.shape[-2] // 2, x.shape[-1] // 2
    if height * width > PRODUCT_MAX_PIXELS:
        return F.conv2d(x, weight, stride=2, padding=1)
    flat = _windows(x, height, width) @ weight.permute(0, 2, 3, 1).reshape(len(weight), -1).T
    return flat.view(len(x), height, width, len(weight)).permute(0, 3, 1, 2)


def transposed_convolution(y: Tensor, weight: Tensor) -> Tensor:
    """conv_transpose2d(y, W, stride 2, padding 1), W (in, out, 4, 4): from maps of up to
    :data:`PRODUCT_MAX_PIXELS`, the four phases of the output (see the module's docstring) as one batched
    product, z_rs = windows(pad(y)) W_rs, W_rs[(u, v, c), o] = W[c, o, 3 - r - 2u, 3 - s - 2v]; from larger maps,
    oneDNN's kernel. Channels-last."""
    n, channels, height, width = y.shape
    if height * width > PRODUCT_MAX_PIXELS:
        return F.conv_transpose2d(y, weight, stride=2, padding=1)
    outputs = weight.shape[1]
    padded = F.pad(y, (1, 1, 1, 1)).contiguous(memory_format=torch.channels_last)
    batch, _, row, column = padded.stride()
    strides = (row, column, batch, row, column, row, column, 1)  # of windows[r, s, n, a, b, u, v, c]
    windows = padded.as_strided((2, 2, n, height, width, 2, 2, channels), strides)
    flipped = weight.flip(2, 3).view(channels, outputs, 2, 2, 2, 2)  # row 3 - r - 2u of W at [u, r], column too
    taps = flipped.permute(3, 5, 2, 4, 0, 1)  # [r, s, u, v, c, o]
    phases = torch.bmm(windows.reshape(4, n * height * width, 4 * channels), taps.reshape(4, 4 * channels, outputs))
    pixels = phases.view(2, 2, n, height, width, outputs).permute(2, 3, 0, 4, 1, 5)  # [n, a, r, b, s, o]
    return pixels.reshape(n, 2 * height, 2 * width, outputs).permute(0, 3, 1, 2)


def conv_weight_gradient(x: Tensor, dy: Tensor) -> Tensor:
    """dL/dW of y = conv(x, W, stride 2, padding 1), 4x4 kernels, for dL/dy = ``dy``, as one matrix product:

        dW[o, c, u, v] = sum_{n,i,j} dy[n, o, i, j] pad(x)[n, c, 2i + u, 2j + v] = (dy^T cols(x))[o, (u, v, c)].

    Shape (o, c, 4, 4), channels-last, in ``dy``'s dtype."""
    height, width = dy.shape[-2:]
    # dy^T copied to rows first: faster than a product with its transposed view, which Inductor passes instead
    # of copying when a reshape asks for the copy (DCGAN 32 WGAN 1.04x, WGAN-GP 1.02x under --compile)
    gradient = dy.transpose(0, 1).contiguous().view(dy.shape[1], -1) @ _windows(x, height, width)
    return gradient.view(dy.shape[1], 4, 4, x.shape[1]).permute(0, 3, 1, 2)


def weight_gradient(x: Tensor, dy: Tensor, weight: Tensor) -> Tensor:
    """dL/dW of conv(x, W, 2, 1): :func:`conv_weight_gradient` on small maps, oneDNN's kernel on larger ones."""
    if dy.shape[-2] * dy.shape[-1] <= WEIGHT_GRADIENT_MAX_PIXELS:
        return conv_weight_gradient(x, dy)
    return torch.ops.aten.convolution_backward(dy, x, weight, None, (2, 2), (1, 1), (1, 1), False, (0, 0), 1,
                                               (False, True, False))[1]


class StridedConvolution(torch.autograd.Function):
    """y = conv2d(x, W, stride 2, padding 1), or with ``transposed`` z = conv_transpose2d(x, W, 2, 1), its adjoint,
    each by :func:`convolution` or :func:`transposed_convolution`. Backward: the input gradient is the other one
    applied to the output gradient, and the weight gradient is :func:`weight_gradient`, for the transposed
    convolution with the roles of its input and output gradient exchanged; each only where autograd asks for it
    (the generator's step does not for the frozen critic's weights)."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, transposed: bool) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.transposed = transposed
        return (transposed_convolution if transposed else convolution)(x, weight)

    @staticmethod
    def backward(ctx, dy: Tensor) -> tuple[Tensor | None, Tensor, None]:
        x, weight = ctx.saved_tensors
        dy = dy.contiguous(memory_format=torch.channels_last)
        adjoint = convolution if ctx.transposed else transposed_convolution
        dx = adjoint(dy, weight) if ctx.needs_input_grad[0] else None
        dw = weight_gradient(*((dy, x) if ctx.transposed else (x, dy)), weight) if ctx.needs_input_grad[1] else None
        return dx, dw, None


def conv2d(x: Tensor, weight: Tensor) -> Tensor:
    """conv2d(x, W, stride 2, padding 1) in bf16, by :class:`StridedConvolution`."""
    return StridedConvolution.apply(x.to(torch.bfloat16), weight.to(torch.bfloat16), False)


def conv_transpose2d(y: Tensor, weight: Tensor) -> Tensor:
    """conv_transpose2d(y, W, stride 2, padding 1) in bf16, by :class:`StridedConvolution`."""
    return StridedConvolution.apply(y.to(torch.bfloat16), weight.to(torch.bfloat16), True)


def pays(x: Tensor) -> bool:
    """Whether layers compute this input in bf16 on the CPU (under autocast or not): where the products pay."""
    dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype
    return x.device.type == "cpu" and dtype == torch.bfloat16
