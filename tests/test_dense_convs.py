"""The DCGAN's dense layers computed as matrix products equal torch's convolutions, values and gradients."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from wgan.models.dcgan import DCGANCritic, DCGANGenerator
from wgan.models.dense_convs import OnePixelConvTranspose2d, WholeInputConv2d, torch_layers_

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


def test_torch_layers_gives_torchs_layers_computing_the_same_function_with_the_same_parameters():
    torch.manual_seed(0)
    generator, critic = DCGANGenerator(16, 1, 16, width=8), DCGANCritic(1, 16, width=8)
    plain_generator, plain_critic = torch_layers_(copy.deepcopy(generator)), torch_layers_(copy.deepcopy(critic))
    assert type(plain_generator.net[0]) is nn.ConvTranspose2d and type(plain_critic.net[-1]) is nn.Conv2d
    assert type(generator.net[0]) is OnePixelConvTranspose2d and type(critic.net[-1]) is WholeInputConv2d
    z = torch.randn(4, 16)
    images = generator(z)
    torch.testing.assert_close(plain_generator(z), images)
    torch.testing.assert_close(plain_critic(images), critic(images))
    assert plain_critic.state_dict().keys() == critic.state_dict().keys()
    weight = critic.net[-1].weight
    assert torch_layers_(critic).net[-1].weight is weight  # in place: an optimiser's parameters stay its own
