"""The DCGAN's convolutions computed other ways (dense layers as matrix products, image-side layers by space-to-depth,
bf16 stride-2 layers and weight gradients as matrix products, float32 stride-2 layers on 4x4 maps by Winograd's
algorithm) equal torch's convolutions, values and gradients."""

import copy
import types

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from wgan.models.dcgan import DCGANCritic, DCGANGenerator
from wgan.models import activations, strided_products, winograd
from wgan.models.fast_convs import (OnePixelConvTranspose2d, SpaceToDepthConv2d, SpaceToDepthConvTranspose2d,
                                    StridedConv2d, StridedConvTranspose2d, WholeInputConv2d, conv_transpose,
                                    image_conv, torch_layers_)

LAYOUTS = (torch.contiguous_format, torch.channels_last)


def _values_and_gradients(layer: nn.Module, forward, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    x = x.detach().clone().requires_grad_()
    out = forward(x)
    out.backward(torch.arange(out.numel(), dtype=out.dtype).reshape(out.shape).sin())
    gradients = layer.weight.grad.clone(), x.grad
    layer.weight.grad = None
    return out.detach(), *gradients


@pytest.mark.parametrize("layout", LAYOUTS)
def test_one_pixel_transposed_convolution_equals_torchs_on_a_1x1_map(layout):
    torch.manual_seed(0)
    layer = OnePixelConvTranspose2d(10, 6, 4).to(memory_format=layout)
    z = torch.randn(5, 10, 1, 1)
    ours = _values_and_gradients(layer, layer, z)
    torchs = _values_and_gradients(layer, lambda x: F.conv_transpose2d(x, layer.weight), z)
    assert ours[0].shape == (5, 6, 4, 4)
    for mine, reference in zip(ours, torchs):
        torch.testing.assert_close(mine, reference)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_whole_input_convolution_equals_torchs_on_a_map_of_the_kernels_size(layout):
    torch.manual_seed(0)
    layer = WholeInputConv2d(7, 3, 4).to(memory_format=layout)
    x = torch.randn(5, 7, 4, 4).to(memory_format=layout)
    ours = _values_and_gradients(layer, layer, x)
    torchs = _values_and_gradients(layer, lambda x: F.conv2d(x, layer.weight), x)
    assert ours[0].shape == (5, 3, 1, 1)
    for mine, reference in zip(ours, torchs):
        torch.testing.assert_close(mine, reference)


def test_whole_input_convolution_refuses_a_map_of_another_size():
    with pytest.raises(ValueError, match=r"kernel's size \(4, 4\), got \(8, 8\)"):
        WholeInputConv2d(2, 1, 4)(torch.zeros(1, 2, 8, 8))


def _torchs_transpose(layer: nn.Module):
    return lambda y: F.conv_transpose2d(y, layer.weight, stride=2, padding=1)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("channels", (1, 3))
def test_space_to_depth_layers_equal_torchs_strided_convolution_and_its_transpose(layout, channels):
    torch.manual_seed(0)
    conv = SpaceToDepthConv2d(channels, 8).to(memory_format=layout)
    x = torch.randn(5, channels, 16, 12).to(memory_format=layout)
    ours = _values_and_gradients(conv, conv, x)
    torchs = _values_and_gradients(conv, lambda x: F.conv2d(x, conv.weight, stride=2, padding=1), x)
    assert ours[0].shape == (5, 8, 8, 6)
    for mine, reference in zip(ours, torchs):
        torch.testing.assert_close(mine, reference)
    y = torch.randn(5, 8, 8, 6).to(memory_format=layout)
    adjoint = _values_and_gradients(conv, lambda y: conv_transpose(conv, y), y)
    torchs = _values_and_gradients(conv, _torchs_transpose(conv), y)
    for mine, reference in zip(adjoint, torchs):
        torch.testing.assert_close(mine, reference)
    upsampling = SpaceToDepthConvTranspose2d(8, channels).to(memory_format=layout)
    ours = _values_and_gradients(upsampling, upsampling, y)
    torchs = _values_and_gradients(upsampling, _torchs_transpose(upsampling), y)
    assert ours[0].shape == (5, channels, 16, 12)
    for mine, reference in zip(ours, torchs):
        torch.testing.assert_close(mine, reference)


def test_the_critics_first_layer_is_space_to_depth_for_one_image_channel_and_torchs_for_three():
    assert type(image_conv(1, 8)) is SpaceToDepthConv2d and type(image_conv(3, 8)) is nn.Conv2d
    assert type(DCGANCritic(3, 16, width=8).net[0]) is nn.Conv2d
    conv = image_conv(3, 8)
    assert (conv.stride, conv.padding, conv.kernel_size, conv.bias) == ((2, 2), (1, 1), (4, 4), None)


@pytest.mark.parametrize("side", (4, 8, 16))
@pytest.mark.parametrize("layout", LAYOUTS)
def test_weight_gradient_as_a_matrix_product_equals_torchs(side, layout):
    torch.manual_seed(0)
    x = torch.randn(3, 6, 2 * side, 2 * side).to(memory_format=layout)
    dy = torch.randn(3, 10, side, side).to(memory_format=layout)
    expected = torch.nn.grad.conv2d_weight(x, (10, 6, 4, 4), dy, stride=2, padding=1)
    # sums of up to 3 * 16 * 16 products of N(0, 1) values (about 30 in size), in another order: float32 rounding
    torch.testing.assert_close(strided_products.conv_weight_gradient(x, dy), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("side", ((1, 1), (2, 4), (4, 4)))
@pytest.mark.parametrize("layout", LAYOUTS)
def test_strided_convolution_and_its_transpose_as_products_equal_torchs_on_maps_up_to_4x4(side, layout):
    """Exact in float64: the convolution onto the map by im2col, the transposed one from it by its four phases."""
    torch.manual_seed(0)
    height, width = side
    x = torch.randn(3, 6, 2 * height, 2 * width, dtype=torch.float64).to(memory_format=layout)
    y = torch.randn(3, 10, height, width, dtype=torch.float64).to(memory_format=layout)
    weight = torch.randn(10, 6, 4, 4, dtype=torch.float64).to(memory_format=layout)
    torch.testing.assert_close(strided_products.convolution(x, weight), F.conv2d(x, weight, stride=2, padding=1))
    torch.testing.assert_close(strided_products.transposed_convolution(y, weight),
                               F.conv_transpose2d(y, weight, stride=2, padding=1))


@pytest.mark.parametrize("side", (4, 8))
def test_strided_convolutions_are_products_on_maps_up_to_4x4_and_onednns_on_larger_ones(side, monkeypatch):
    kernels = []
    functional = types.SimpleNamespace(pad=F.pad, conv2d=lambda *a, **k: kernels.append("conv2d") or F.conv2d(*a, **k),
                                       conv_transpose2d=lambda *a, **k: kernels.append("conv_transpose2d")
                                       or F.conv_transpose2d(*a, **k))
    monkeypatch.setattr(strided_products, "F", functional)
    x, y, weight = torch.randn(2, 3, 2 * side, 2 * side), torch.randn(2, 5, side, side), torch.randn(5, 3, 4, 4)
    assert strided_products.convolution(x, weight).shape == y.shape
    assert strided_products.transposed_convolution(y, weight).shape == x.shape
    assert kernels == ([] if side <= 4 else ["conv2d", "conv_transpose2d"])


def _strided_cases(side: int) -> tuple[tuple[nn.Module, torch.Tensor], list]:
    """A critic's stride-2 layer and an input onto a side x side map, and (layer, ours, torch's, input) for the
    three maps of the stride-2 layers: the convolution, its transpose (the critic's input gradient) and the
    generator's layer from a side x side map."""
    torch.manual_seed(0)
    conv, upsampling = StridedConv2d(8, 16), StridedConvTranspose2d(16, 8)
    x = torch.randn(4, 8, 2 * side, 2 * side).to(memory_format=torch.channels_last)
    y = torch.randn(4, 16, side, side).to(memory_format=torch.channels_last)
    return (conv, x), [(conv, conv, lambda x: F.conv2d(x, conv.weight, stride=2, padding=1), x),
                       (conv, lambda y: conv_transpose(conv, y), _torchs_transpose(conv), y),
                       (upsampling, upsampling, _torchs_transpose(upsampling), y)]


def _bf16_values_and_gradients(layer: nn.Module, forward, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    with torch.autocast("cpu", torch.bfloat16):
        return _values_and_gradients(layer, forward, x)


@pytest.mark.parametrize("side", (4, 8, 16))
def test_strided_layers_in_bf16_take_weight_gradients_as_matrix_products_up_to_8x8_maps(side, monkeypatch):
    """Values and gradients as torch's in bf16 (float32 sums rounded once: equal up to bf16's rounding), and the
    weight gradient's matrix product used exactly where the output map of the convolution has at most 8x8 pixels
    (on 4x4 maps the layers themselves are products too)."""
    products = []
    product = strided_products.conv_weight_gradient
    monkeypatch.setattr(strided_products, "conv_weight_gradient", lambda *a: products.append(1) or product(*a))
    (conv, x), cases = _strided_cases(side)
    for layer, ours, torchs, inputs in cases:
        for mine, reference in zip(_bf16_values_and_gradients(layer, ours, inputs),
                                   _bf16_values_and_gradients(layer, torchs, inputs)):
            assert mine.dtype == reference.dtype
            torch.testing.assert_close(mine, reference, rtol=1.6e-2, atol=1e-2 * reference.abs().max().item())
    assert len(products) == (3 if side <= 8 else 0)
    _values_and_gradients(conv, conv, x)  # float32: no product (oneDNN's kernels, or Winograd's on 4x4 maps)
    assert len(products) == (3 if side <= 8 else 0)


def test_a_frozen_strided_layer_in_bf16_gives_its_input_gradient_without_a_weight_gradient(monkeypatch):
    """The generator's step backpropagates through the critic with its weights frozen: the input gradient is
    torch's, and no weight gradient is computed (it cost two matrix products per iteration)."""
    products = []
    product = strided_products.conv_weight_gradient
    monkeypatch.setattr(strided_products, "conv_weight_gradient", lambda *a: products.append(1) or product(*a))
    torch.manual_seed(0)
    conv = StridedConv2d(8, 16).requires_grad_(False)
    x = torch.randn(4, 8, 16, 16).to(memory_format=torch.channels_last).requires_grad_(True)
    with torch.autocast("cpu", torch.bfloat16):
        (gradient,) = torch.autograd.grad(conv(x).float().square().sum(), x)
        (expected,) = torch.autograd.grad(F.conv2d(x, conv.weight, stride=2, padding=1).float().square().sum(), x)
    assert products == [] and conv.weight.grad is None
    torch.testing.assert_close(gradient, expected, rtol=1.6e-2, atol=1e-2 * expected.abs().max().item())


def _spied(monkeypatch) -> list[str]:
    calls = []
    for name in ("output", "input_gradient", "weight_gradient_of_tiles"):
        function = getattr(winograd, name)
        monkeypatch.setattr(winograd, name, lambda *a, f=function, n=name: calls.append(n) or f(*a))
    return calls


@pytest.fixture
def mkl_faster(monkeypatch):
    """This machine taken for a CPU whose MKL multiplies float32 faster than oneDNN (an Intel one), whatever it is."""
    monkeypatch.setattr(winograd, "ONEDNN_FASTER", False)


@pytest.mark.parametrize("side", (2, 4, 8, 16))
def test_strided_layers_in_float32_use_winograd_onto_4x4_and_8x8_maps_and_from_4x4_maps(side, monkeypatch,
                                                                                       mkl_faster):
    """Values, input and weight gradients as torch's up to float32 rounding (sums of 8 x 16 products of N(0, 1)
    values, taken another way), by Winograd's algorithm exactly where the small map is 4x4, and for the
    convolution's value and weight gradient where it is 8x8 (its input gradient is oneDNN's there)."""
    calls = _spied(monkeypatch)
    for layer, ours, torchs, inputs in _strided_cases(side)[1]:
        for mine, reference in zip(_values_and_gradients(layer, ours, inputs),
                                   _values_and_gradients(layer, torchs, inputs)):
            torch.testing.assert_close(mine, reference, rtol=1e-5, atol=1e-5 * reference.abs().max().item())
    expected = {4: ["output", "input_gradient", "weight_gradient_of_tiles"] * 3,
                8: ["output", "weight_gradient_of_tiles"]}.get(side, [])
    assert sorted(calls) == sorted(expected)


@pytest.mark.parametrize("side", (4, 8))
def test_where_onednn_multiplies_float32_faster_winograd_takes_only_the_convolution_onto_4x4_maps(side, monkeypatch):
    """On an AMD CPU with AVX-512 oneDNN's kernels make the convolution onto an 8x8 map and the transposed ones from
    4x4 maps (measured faster there); Winograd's still make the convolution onto a 4x4 map, with its input and weight
    gradients, and every value and gradient is torch's up to rounding."""
    monkeypatch.setattr(winograd, "ONEDNN_FASTER", True)
    calls = _spied(monkeypatch)
    for layer, ours, torchs, inputs in _strided_cases(side)[1]:
        for mine, reference in zip(_values_and_gradients(layer, ours, inputs),
                                   _values_and_gradients(layer, torchs, inputs)):
            torch.testing.assert_close(mine, reference, rtol=1e-5, atol=1e-5 * reference.abs().max().item())
    assert sorted(calls) == (sorted(["output", "input_gradient", "weight_gradient_of_tiles"]) if side == 4 else [])


@pytest.mark.parametrize("onednn_faster", (False, True))
def test_torch_compile_takes_a_strided_layer_onto_an_8x8_map_in_one_graph(onednn_faster, monkeypatch):
    """Which kernels make the layer is a constant to torch.compile: finding the CPU's kind broke its graph."""
    monkeypatch.setattr(winograd, "ONEDNN_FASTER", onednn_faster)
    conv = StridedConv2d(8, 16)
    explanation = torch._dynamo.explain(lambda x: conv(x).sum())(torch.randn(2, 8, 16, 16))
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1


def test_winograd_leaves_bf16_and_float64_strided_layers_to_other_kernels(monkeypatch):
    calls = _spied(monkeypatch)
    conv = StridedConv2d(8, 16)
    x = torch.randn(2, 8, 8, 8)
    with torch.autocast("cpu", torch.bfloat16):
        conv(x).float().sum().backward()
    conv.double()(x.double()).sum().backward()
    assert calls == []


@pytest.mark.parametrize("side", (4, 8))
def test_a_frozen_strided_layer_in_float32_gives_its_input_gradient_without_a_weight_gradient(side, monkeypatch,
                                                                                               mkl_faster):
    calls = _spied(monkeypatch)
    torch.manual_seed(0)
    conv = StridedConv2d(8, 16).requires_grad_(False)
    x = torch.randn(4, 8, 2 * side, 2 * side).to(memory_format=torch.channels_last).requires_grad_(True)
    (gradient,) = torch.autograd.grad(conv(x).square().sum(), x)
    (expected,) = torch.autograd.grad(F.conv2d(x, conv.weight, stride=2, padding=1).square().sum(), x)
    assert calls == (["output", "input_gradient"] if side == 4 else ["output"]) and conv.weight.grad is None
    torch.testing.assert_close(gradient, expected, rtol=1e-5, atol=1e-5 * expected.abs().max().item())


@pytest.mark.parametrize("transposed, side", ((False, 8), (False, 16), (True, 4)))
def test_double_backward_through_a_winograd_layer_equals_torchs(transposed, side):
    """A gradient penalty through autograd differentiates the backward pass: the transforms the forward pass
    kept are made again from x and W there, so the penalty's weight gradient is torch's (onto a 4x4 map, an
    8x8 one, and from a 4x4 map)."""
    torch.manual_seed(0)
    layer = StridedConvTranspose2d(16, 8) if transposed else StridedConv2d(8, 16)
    x = torch.randn(3, layer.in_channels, side, side).to(memory_format=torch.channels_last)
    torchs = _torchs_transpose(layer) if transposed else lambda x: F.conv2d(x, layer.weight, stride=2, padding=1)

    def penalty_gradient(forward):
        inputs = x.clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(forward(inputs).square().sum(), inputs, create_graph=True)
        return torch.autograd.grad(gradient.square().sum(), layer.weight)[0]

    expected = penalty_gradient(torchs)
    torch.testing.assert_close(penalty_gradient(layer), expected, rtol=1e-5, atol=1e-5 * expected.abs().max().item())


def test_torch_layers_gives_torchs_layers_computing_the_same_function_with_the_same_parameters():
    torch.manual_seed(0)
    generator, critic = DCGANGenerator(16, 1, 32, width=8), DCGANCritic(1, 32, width=8)
    plain_generator, plain_critic = torch_layers_(copy.deepcopy(generator)), torch_layers_(copy.deepcopy(critic))
    ours = [type(layer) for layer in [*generator.modules(), *critic.modules()]]
    assert {OnePixelConvTranspose2d, StridedConvTranspose2d, SpaceToDepthConvTranspose2d, SpaceToDepthConv2d,
            StridedConv2d, WholeInputConv2d, activations.ReLU, activations.LeakyReLU} <= set(ours)
    torchs = {type(layer) for layer in [*plain_generator.modules(), *plain_critic.modules()]}
    assert torchs & {nn.Conv2d, nn.ConvTranspose2d} == {nn.Conv2d, nn.ConvTranspose2d}
    assert not torchs & set(ours) - {nn.Sequential, nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.BatchNorm2d,
                                      type(generator), type(critic)}
    z = torch.randn(4, 16)
    images = generator(z)
    torch.testing.assert_close(plain_generator(z), images)
    torch.testing.assert_close(plain_critic(images), critic(images))
    assert plain_critic.state_dict().keys() == critic.state_dict().keys()
    weight = critic.net[-1].weight
    assert torch_layers_(critic).net[-1].weight is weight  # in place: an optimiser's parameters stay its own
