"""The weight gradient of the DCGAN's stride-2 4x4 convolutions (padding 1) as one matrix product.

A convolution y = conv(x, W) is a matrix product with im2col, y[(n, i, j), o] = sum_{(u, v, c)}
cols(x)[(n, i, j), (u, v, c)] W[o, c, u, v], where cols(x) holds, for each output pixel, its k x k x c window of
pad(x); hence its weight gradient is dW = dy^T cols(x). A transposed convolution z = conv_transpose(y, W) is the
adjoint of conv(., W), so its weight gradient is the convolution's with the roles exchanged: input dz, output
gradient y.

Why: in bf16 on a CPU with AMX, oneDNN's weight-gradient kernels for these shapes run 3-6 times slower than the
forward convolution (2-core Intel Xeon, 2026-12-02: the DCGAN 32 critic's 128->256 layer 3.5 ms as a product
against 20 ms; its 64->128 layer 4.9 against 8.7 ms), and in a bf16 DCGAN 32 WGAN iteration they took half the
time of all convolution backward passes. On maps larger than 8x8 oneDNN's kernel wins again (the 64->128 layer
of a 64x64 critic: 29 ms against 14), so the product is used up to :data:`WEIGHT_GRADIENT_MAX_PIXELS`. In
float32 oneDNN's weight gradient is as fast as its forward pass, and nothing here is used. oneDNN's transposed
convolutions (the input gradients) stay: as a product and col2im they were faster alone on 4x4 maps and slower
in training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

WEIGHT_GRADIENT_MAX_PIXELS = 64  # output maps up to 8x8 (measured faster up to 8x8, slower at 16x16)


def conv_weight_gradient(x: Tensor, dy: Tensor) -> Tensor:
    """dL/dW of y = conv(x, W, stride 2, padding 1), 4x4 kernels, for dL/dy = ``dy``, as one matrix product:

        dW[o, c, u, v] = sum_{n,i,j} dy[n, o, i, j] pad(x)[n, c, 2i + u, 2j + v] = (dy^T cols(x))[o, (u, v, c)].

    Shape (o, c, 4, 4), channels-last, in ``dy``'s dtype."""
    n, channels = x.shape[:2]
    height, width = dy.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1)).contiguous(memory_format=torch.channels_last)
    batch, _, row, column = padded.stride()
    windows = padded.as_strided((n, height, width, 4, 4, channels), (batch, 2 * row, 2 * column, row, column, 1))
    cols = windows.reshape(n * height * width, 16 * channels)
    gradient = dy.transpose(0, 1).reshape(dy.shape[1], -1) @ cols  # dy^T copied: faster than a transposed operand
    return gradient.view(-1, 4, 4, channels).permute(0, 3, 1, 2)


def weight_gradient(x: Tensor, dy: Tensor, weight: Tensor) -> Tensor:
    """dL/dW of conv(x, W, 2, 1): :func:`conv_weight_gradient` on small maps, oneDNN's kernel on larger ones."""
    if dy.shape[-2] * dy.shape[-1] <= WEIGHT_GRADIENT_MAX_PIXELS:
        return conv_weight_gradient(x, dy)
    return torch.ops.aten.convolution_backward(dy, x, weight, None, (2, 2), (1, 1), (1, 1), False, (0, 0), 1,
                                               (False, True, False))[1]


class StridedConvolution(torch.autograd.Function):
    """y = conv2d(x, W, stride 2, padding 1), or with ``transposed`` z = conv_transpose2d(x, W, 2, 1), its adjoint.
    Backward: the input gradient is the other one applied to the output gradient (oneDNN's kernels), and the
    weight gradient is :func:`weight_gradient`, for the transposed convolution with the roles of its input and
    output gradient exchanged; each only where autograd asks for it (the generator's step does not for the
    frozen critic's weights)."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, transposed: bool) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.transposed = transposed
        return (F.conv_transpose2d if transposed else F.conv2d)(x, weight, stride=2, padding=1)

    @staticmethod
    def backward(ctx, dy: Tensor) -> tuple[Tensor | None, Tensor, None]:
        x, weight = ctx.saved_tensors
        dy = dy.contiguous(memory_format=torch.channels_last)
        adjoint = F.conv2d if ctx.transposed else F.conv_transpose2d
        dx = adjoint(dy, weight, stride=2, padding=1) if ctx.needs_input_grad[0] else None
        dw = weight_gradient(*((dy, x) if ctx.transposed else (x, dy)), weight) if ctx.needs_input_grad[1] else None
        return dx, dw, None


def conv2d(x: Tensor, weight: Tensor) -> Tensor:
    """conv2d(x, W, stride 2, padding 1) in bf16, by :class:`StridedConvolution`."""
    return StridedConvolution.apply(x.to(torch.bfloat16), weight.to(torch.bfloat16), False)


def conv_transpose2d(y: Tensor, weight: Tensor) -> Tensor:
    """conv_transpose2d(y, W, stride 2, padding 1) in bf16, by :class:`StridedConvolution`."""
    return StridedConvolution.apply(y.to(torch.bfloat16), weight.to(torch.bfloat16), True)


def pays(x: Tensor) -> bool:
    """Whether layers compute this input in bf16 on the CPU (under autocast or not): where the product pays."""
    dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype
    return x.device.type == "cpu" and dtype == torch.bfloat16
