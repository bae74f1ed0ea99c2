"""Winograd's F(4x4, 2x2) for the DCGAN's stride-2 layers onto 4x4 and 8x8 maps and from 4x4 maps computes the
same function as torch's convolutions: exactly in exact arithmetic, to float64 rounding in float64. (The layers
that use it, in float32 on the CPU: tests/test_fast_convs.py.)"""

from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F

from wgan.models import winograd

LAYOUTS = (torch.contiguous_format, torch.channels_last)


def test_the_one_dimensional_algorithm_is_the_two_tap_correlation_in_exact_arithmetic():
    """y_i = g0 d_i + g1 d_(i+1), i < 4, equals A^T [(G g) * (B^T d)] in rational arithmetic: each
    coefficient of g_k d_l on the right is 1 where l = i + k and 0 elsewhere."""
    a_t, g, b_t = ([[Fraction(v).limit_denominator(6) for v in row] for row in m]
                   for m in (winograd.A_T, winograd.G, winograd.B_T))
    for i in range(4):
        for k in range(2):
            for column in range(5):
                coefficient = sum(a_t[i][j] * g[j][k] * b_t[j][column] for j in range(5))
                assert coefficient == (1 if column == i + k else 0)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("channels", ((5, 7), (1, 3)))
@pytest.mark.parametrize("side", (4, 8))
def test_the_convolution_its_transpose_and_their_gradients_equal_torchs_in_float64(layout, channels, side):
    """conv2d onto a side x side map (one tile, or four) and conv_transpose2d from a 4x4 map, and their input and
    weight gradients (the backward pass of :class:`winograd.Convolution`), against torch's."""
    torch.manual_seed(0)
    inputs, outputs = channels
    x = torch.randn(3, inputs, 2 * side, 2 * side, dtype=torch.float64).to(memory_format=layout)
    y = torch.randn(3, outputs, 4, 4, dtype=torch.float64).to(memory_format=layout)
    weight = torch.randn(outputs, inputs, 4, 4, dtype=torch.float64).to(memory_format=layout)
    cases = ((winograd.conv2d, F.conv2d, x), (winograd.conv_transpose2d, F.conv_transpose2d, y))
    for ours, torchs, argument in cases[:1] if side > 4 else cases:
        argument, weight = argument.detach().requires_grad_(), weight.detach().requires_grad_()
        mine, reference = ours(argument, weight), torchs(argument, weight, stride=2, padding=1)
        torch.testing.assert_close(mine, reference)
        assert mine.is_contiguous(memory_format=torch.channels_last)
        output_gradient = torch.randn_like(reference)
        for gradient, expected in zip(torch.autograd.grad(mine, (argument, weight), output_gradient),
                                      torch.autograd.grad(reference, (argument, weight), output_gradient)):
            torch.testing.assert_close(gradient, expected)
