"""The DCGAN's stride-2 4x4 convolutions (padding 1) onto 4x4 and 8x8 maps, and their transposes from 4x4 maps, in
float32 on the CPU by Winograd's minimal filtering F(4x4, 2x2) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
Networks", CVPR 2016): 25 multiplications per map and channel pair where the direct form takes 64.

A stride-2 4x4 convolution with padding 1 is a stride-1 2x2 convolution of the padded input rearranged by
space-to-depth (:mod:`wgan.models.fast_convs`); onto a 4x4 map its input s is 5x5:

    y[n, i, j, o] = sum_{r, t in {0, 1}} sum_k s[n, i + r, j + t, k] W'[r, t, k, o],
    s[n, p, q, (a, b, c)] = pad(x)[n, 2p + a, 2q + b, c],   W'[r, t, (a, b, c), o] = W[o, c, 2r + a, 2t + b].

Along one axis F(4, 2), the Toom-Cook algorithm at the points 0, 1, -1, -1/2 and infinity, gives the four outputs
y_i = g0 d_i + g1 d_(i+1) of a two-tap filter g from the five inputs d with five products:
y = A^T [(G g) * (B^T d)], with

    A^T = [[1, 1, 1, 8, 0], [0, 1, -1, -4, 0], [0, 1, 1, 2, 0], [0, 1, -1, -1, 1]],
    G = [[-1, 0], [1/6, 1/6], [-1/2, 1/2], [1/3, -1/6], [0, 1/2]],
    B^T = [[-1, -2, 1, 2, 0], [0, 1, 3, 2, 0], [0, -1, -1, 2, 0], [0, -1, 0, 1, 0], [0, -1, -2, 1, 2]].

In two dimensions the 4x4 output map is one tile: V = B^T s B and U = G W' G^T hold 25 positions per channel, and
the sum over the channels k of U * V is, at each position, one matrix product of (n, k) by (k, o); Y = A^T M A.
The transforms are the Kronecker products of these matrices applied to the positions, each one product of a
(25, 25) matrix by the batch laid out position by position. Every map is linear, so the rest runs the same chain
backwards:

- the transposed convolution (the convolution's adjoint, and its input gradient): dM = A dY A^T, dV = dM U^T
  (25 products), ds = B dV B^T, dx = the adjoint of space-to-depth;
- the weight gradient: dU = dM^T V (25 products over the batch), dW' = G^T dU G.

An 8x8 output map is four tiles, tile (t, u) the outputs [4t, 4t + 4) x [4u, 4u + 4) from s[4t + p, 4u + q],
p, q < 5 (neighbouring tiles share a row or column of s): the tiles are rows of the same products. There the
convolution and its weight gradient run here, its input gradient is oneDNN's transposed convolution: the adjoint
would have to sum the shared positions back, and the whole layer this way made training slower (0.97x).

The result differs from the direct sum by rounding alone (relative error ~1e-6 in float32). Why: oneDNN runs
these float32 shapes near the matmul peak, and 25/64 of the products beat it by more than the transforms cost
(2-core Intel Xeon with AMX, 192 rows of the DCGAN 32 critic's 128->256 layer: 7.3 ms against oneDNN's 11.8, its
transpose 6.6 against 10.5, its weight gradient 8.5 against 11.7; a DCGAN 32 WGAN iteration 1.15x faster, WGAN-GP
1.16x, 1.21x and 1.22x under torch.compile, in-process A/B, 2026-12-05). Onto 8x8 maps the forward pass keeps its
tiles V for the weight gradient, which then costs 25 products and the transform of dy (the DCGAN 32 critic's 64->128
layer, 128 rows: 3.5 ms against oneDNN's 7.7; the forward pass 5.9 against 5.9-7.3); against oneDNN's kernels there,
DCGAN 32 WGAN 1.039x, 1.047x and 1.064x under torch.compile, WGAN-GP 1.017x and 1.031x, DCGAN 64 WGAN 1.031x
(in-process A/B, 10-24 rounds of 1-2 iterations, 2026-12-05). Not so where oneDNN's float32 kernels beat MKL's,
which makes the 25 batched products here (:func:`wgan.cpu_precision.onednn_multiplies_float32_faster`: an AMD CPU
with AVX-512): on a 2-core AMD EPYC (Zen 4) the layer onto 8x8 maps by oneDNN instead made DCGAN 32 WGAN-GP 1.075x and
1.048x faster and DCGAN 32 WGAN 1.002x and 1.047x (14 rounds of 2 iterations), the transposed layers from 4x4 maps
(the generator's) by oneDNN too WGAN-GP 1.023x and 1.028x and WGAN 1.007x (12-16 rounds), while the convolution onto
4x4 maps (the critic's, with its transpose and weight gradient) by Winograd's still paid: by oneDNN, WGAN-GP 0.957x
(in-process A/B, 2026-12-07/08). There only that layer runs here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..cpu_precision import onednn_multiplies_float32_faster

A_T = ((1, 1, 1, 8, 0), (0, 1, -1, -4, 0), (0, 1, 1, 2, 0), (0, 1, -1, -1, 1))
G = ((-1, 0), (1 / 6, 1 / 6), (-1 / 2, 1 / 2), (1 / 3, -1 / 6), (0, 1 / 2))
B_T = ((-1, -2, 1, 2, 0), (0, 1, 3, 2, 0), (0, -1, -1, 2, 0), (0, -1, 0, 1, 0), (0, -1, -2, 1, 2))
SIDE = 4  # a tile's height and width
# whether oneDNN's float32 kernels beat MKL's here, where only the convolution onto 4x4 maps is Winograd's (the
# module's docstring): read once, a constant to torch.compile (which would break its graph to read the CPU's kind)
ONEDNN_FASTER = onednn_multiplies_float32_faster()


def pays(x: Tensor, transposed: bool = False) -> bool:
    """Whether layers compute ``x``, the input of the convolution (or with ``transposed`` of its transpose), here:
    float32 on the CPU (not under a lower autocast dtype), the small map (the convolution's output, the transpose's
    input) 4x4, or 8x8 for the convolution; where oneDNN's float32 kernels are the faster only the convolution onto
    a 4x4 map (the module's docstring)."""
    lower = torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") != torch.float32
    small_map = tuple(x.shape[-2:]) if transposed else (x.shape[-2] // 2, x.shape[-1] // 2)
    if ONEDNN_FASTER:
        sides = () if transposed else (SIDE,)
    else:
        sides = (SIDE,) if transposed else (SIDE, 2 * SIDE)
    return (x.device.type == "cpu" and x.dtype == torch.float32 and not lower and small_map[0] == small_map[1]
            and small_map[0] in sides)


def _kronecker(matrix: tuple[tuple[float, ...], ...]) -> Tensor:
    """The transform of the 2-D positions, row-major, from a 1-D one: kron(M, M) (float64; cast where used)."""
    m = torch.tensor(matrix, dtype=torch.float64)
    return torch.kron(m, m)


# kron(A^T, A^T) (16, 25), kron(G, G) (25, 4), kron(B^T, B^T) (25, 25)
OUTPUT_TRANSFORM, KERNEL_TRANSFORM, INPUT_TRANSFORM = (_kronecker(m) for m in (A_T, G, B_T))


def _positions(x: Tensor) -> Tensor:
    """s by position and tile: (25, n * t * t * 4c), rows (p, q), columns (n, tile row, tile column, a, b, c), for
    x (n, c, 8t, 8t): tile (r, u) holds s[4r + p, 4u + q]."""
    n, channels, height, width = x.shape
    padded = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1).contiguous()  # (n, 8t + 2, 8t + 2, c)
    batch, row, column = padded.stride()[:3]
    positions = padded.as_strided((SIDE + 1, SIDE + 1, n, height // (2 * SIDE), width // (2 * SIDE), 2, 2, channels),
                                  (2 * row, 2 * column, batch, 2 * SIDE * row, 2 * SIDE * column, row, column, 1))
    return positions.reshape((SIDE + 1) ** 2, -1)


def _positions_adjoint(s: Tensor, n: int, channels: int) -> Tensor:
    """The adjoint of :func:`_positions` on one tile: (25, n * 4c) -> the gradient at x, (n, c, 8, 8),
    channels-last."""
    blocks = s.view(SIDE + 1, SIDE + 1, n, 2, 2, channels).permute(2, 0, 3, 1, 4, 5)  # [n, p, a, q, b, c]
    padded = blocks.reshape(n, 2 * SIDE + 2, 2 * SIDE + 2, channels)
    return padded[:, 1:-1, 1:-1].permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)


def kernel(weight: Tensor) -> Tensor:
    """U = G W' G^T as (25, o, 4c), for a convolution's (o, c, 4, 4) weight (cheapest from channels-last)."""
    outputs, inputs = weight.shape[:2]
    taps = weight.permute(0, 2, 3, 1).reshape(outputs, 2, 2, 2, 2, inputs)  # [o, r, a, t, b, c]
    taps = taps.permute(1, 3, 0, 2, 4, 5)  # [r, t, o, a, b, c]
    return (KERNEL_TRANSFORM.to(weight.dtype) @ taps.reshape(4, -1)).view(-1, outputs, 4 * inputs)


def tiles(x: Tensor) -> Tensor:
    """V = B^T s B: (25, n t t, 4c), rows (n, tile row, tile column), for x (n, c, 8t, 8t)."""
    return (INPUT_TRANSFORM.to(x.dtype) @ _positions(x)).view(25, -1, 4 * x.shape[1])


def gradient_tiles(dy: Tensor) -> Tensor:
    """dM = A dY A^T: (25, n t t, o), for an output gradient dy (n, o, 4t, 4t) (or a transposed convolution's
    input)."""
    n, outputs, height, width = dy.shape
    blocks = dy.permute(0, 2, 3, 1).reshape(n, height // SIDE, SIDE, width // SIDE, SIDE, outputs)
    by_position = blocks.permute(2, 4, 0, 1, 3, 5).reshape(SIDE * SIDE, -1)  # (i, j) rows, (n, tiles, o) columns
    return (OUTPUT_TRANSFORM.T.to(dy.dtype) @ by_position).view(25, -1, outputs)


def output(tiles: Tensor, kernel: Tensor, side: int = SIDE) -> Tensor:
    """The convolution from its input's tiles V and its kernel U: y = A^T [V U] A, (n, o, side, side),
    channels-last."""
    per_side, outputs = side // SIDE, kernel.shape[1]
    products = torch.bmm(tiles, kernel.transpose(1, 2))  # (25, n t t, o)
    y = OUTPUT_TRANSFORM.to(tiles.dtype) @ products.view(25, -1)  # (16, n t t o), rows (i, j)
    y = y.view(SIDE, SIDE, -1, per_side, per_side, outputs).permute(2, 3, 0, 4, 1, 5)  # [n, tile row, i, ...]
    return y.contiguous().view(-1, side, side, outputs).permute(0, 3, 1, 2)


def input_gradient(gradient_tiles: Tensor, kernel: Tensor) -> Tensor:
    """The transposed convolution from a 4x4 map, from its input's tiles dM (:func:`gradient_tiles`) and the kernel U:
    dx = the adjoint of space-to-depth of B [dM U^T] B^T, (n, c, 8, 8), channels-last."""
    n, inputs = gradient_tiles.shape[1], kernel.shape[2] // 4
    products = torch.bmm(gradient_tiles, kernel)  # (25, n, 4c)
    return _positions_adjoint(INPUT_TRANSFORM.T.to(products.dtype) @ products.view(25, -1), n, inputs)


def weight_gradient_of_tiles(gradient_tiles: Tensor, tiles: Tensor) -> Tensor:
    """dW = G^T [dM^T V] G, (o, c, 4, 4), channels-last, from the output gradient's tiles and the input's."""
    products = torch.bmm(gradient_tiles.transpose(1, 2), tiles)  # (25, o, 4c)
    outputs, inputs = products.shape[1], products.shape[2] // 4
    taps = (KERNEL_TRANSFORM.T.to(products.dtype) @ products.view(25, -1)).view(2, 2, outputs, 2, 2, inputs)
    return taps.permute(2, 0, 3, 1, 4, 5).reshape(outputs, 4, 4, inputs).permute(0, 3, 1, 2)


class Convolution(torch.autograd.Function):
    """y = conv2d(x, W, stride 2, padding 1), or with ``transposed`` z = conv_transpose2d(x, W, 2, 1), its
    adjoint, keeping for the backward pass the transforms it made: the kernel U and the input's tiles (V for the
    convolution, dM for the transpose), so that backward transforms only the output gradient, once, and computes
    the input gradient (the other map) and the weight gradient from it, each only where autograd asks for it.
    Onto an 8x8 map the input gradient is oneDNN's transposed convolution (see the module's docstring).
    A backward pass that builds a graph (double backward, as a gradient penalty through autograd takes) makes
    the transforms again from x and W, so that the graph reaches them (not under torch.compile, whose compiled
    backward pass is not differentiated again).
    Against autograd's backward pass through the same transforms: DCGAN 32 WGAN in float32 1.032x, 1.051x under
    torch.compile (in-process A/B, 2-core Intel Xeon with AMX, 2026-12-05)."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, transposed: bool) -> Tensor:
        weights = kernel(weight)
        inputs = gradient_tiles(x) if transposed else tiles(x)
        ctx.save_for_backward(x, weight, inputs, weights)
        ctx.transposed = transposed
        return input_gradient(inputs, weights) if transposed else output(inputs, weights, x.shape[-1] // 2)

    @staticmethod
    def backward(ctx, gradient: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        x, weight, inputs, weights = ctx.saved_tensors
        if torch.is_grad_enabled() and not torch.compiler.is_compiling():
            weights, inputs = kernel(weight), gradient_tiles(x) if ctx.transposed else tiles(x)
        if ctx.transposed:  # z = adjoint(y): dy = conv(dz), dW = the convolution's weight gradient at dz for dy = y
            gradients = tiles(gradient)
            dx = output(gradients, weights) if ctx.needs_input_grad[0] else None
            dw = weight_gradient_of_tiles(inputs, gradients) if ctx.needs_input_grad[1] else None
        else:
            one_tile = gradient.shape[-1] == SIDE
            gradients = gradient_tiles(gradient) if one_tile or ctx.needs_input_grad[1] else None
            dx = None
            if ctx.needs_input_grad[0]:
                dx = (input_gradient(gradients, weights) if one_tile
                      else F.conv_transpose2d(gradient, weight, stride=2, padding=1))
            dw = weight_gradient_of_tiles(gradients, inputs) if ctx.needs_input_grad[1] else None
        return dx, dw, None


def conv2d(x: Tensor, weight: Tensor) -> Tensor:
    """conv2d(x, W, stride 2, padding 1) onto a 4x4 or 8x8 map, by :class:`Convolution`."""
    return Convolution.apply(x, weight, False)


def conv_transpose2d(y: Tensor, weight: Tensor) -> Tensor:
    """conv_transpose2d(y, W, stride 2, padding 1) from a 4x4 map, by :class:`Convolution`."""
    return Convolution.apply(y, weight, True)
