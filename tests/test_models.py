"""The MLP generator and critic: shapes, the layers asked for, and parameter counts against the closed form
d*w + w + (L - 1)(w*w + w) + w*o + o (+ 2w per normalisation layer)."""

import math

import pytest
import torch
from torch import nn

from wgan.config import make_config
from wgan.models import build_models, count_parameters
from wgan.models.dcgan import ConstantFilterGenerator, DCGANCritic, DCGANGenerator
from wgan.models.mlp import MLPCritic, MLPGenerator
from wgan.models.resnet import ResNetCritic, ResNetGenerator

SHAPES = [(2,), (1, 4, 4)]


def _linears(module):
    return [layer for layer in module.modules() if isinstance(layer, nn.Linear)]


def _expected_parameters(inputs, outputs, width, depth, norm):
    if depth == 0:
        return inputs * outputs + outputs
    linear = inputs * width + width + (depth - 1) * (width * width + width) + width * outputs + outputs
    return linear + (2 * width * depth if norm != "none" else 0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("norm", ["none", "layer", "batch"])
def test_generator_maps_noise_to_samples_of_the_sample_shape(shape, norm):
    generator = MLPGenerator(latent_dim=3, sample_shape=shape, width=8, depth=2, activation="relu", norm=norm)
    assert generator(torch.randn(5, 3)).shape == (5, *shape)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "tanh"])
def test_critic_gives_one_score_per_sample(shape, activation):
    critic = MLPCritic(shape, width=8, depth=2, activation=activation, norm="none")
    assert critic(torch.randn(7, *shape)).shape == (7,)


def test_critic_gives_one_score_for_a_single_sample():
    critic = MLPCritic((2,), width=8, depth=2, activation="relu", norm="layer")
    assert critic(torch.randn(1, 2)).shape == (1,)


@pytest.mark.parametrize("depth", [1, 2, 4])
@pytest.mark.parametrize("shape", SHAPES)
def test_mlps_have_depth_hidden_layers_of_width_units(depth, shape):
    width, latent = 12, 3
    generator = MLPGenerator(latent, shape, width, depth, "relu", "none")
    critic = MLPCritic(shape, width, depth, "relu", "none")
    d = math.prod(shape)
    for module, inputs, outputs in ((generator, latent, d), (critic, d, 1)):
        linears = _linears(module)
        assert len(linears) == depth + 1
        assert [(l.in_features, l.out_features) for l in linears] == (
            [(inputs, width)] + [(width, width)] * (depth - 1) + [(width, outputs)])


def test_depth_zero_is_a_single_linear_map():
    critic = MLPCritic((3,), width=12, depth=0, activation="relu", norm="none")
    assert [(l.in_features, l.out_features) for l in _linears(critic)] == [(3, 1)]


@pytest.mark.parametrize("activation,kind", [("relu", nn.ReLU), ("leaky_relu", nn.LeakyReLU), ("elu", nn.ELU),
                                             ("tanh", nn.Tanh)])
def test_each_hidden_layer_has_the_activation_asked_for(activation, kind):
    critic = MLPCritic((2,), width=8, depth=3, activation=activation, norm="none")
    assert sum(isinstance(layer, kind) for layer in critic.modules()) == 3


def test_leaky_relu_slope_is_0_2():
    critic = MLPCritic((2,), width=8, depth=1, activation="leaky_relu", norm="none")
    (leaky,) = [layer for layer in critic.modules() if isinstance(layer, nn.LeakyReLU)]
    assert leaky.negative_slope == pytest.approx(0.2)


@pytest.mark.parametrize("norm,kind", [("layer", nn.LayerNorm), ("batch", nn.BatchNorm1d)])
def test_normalisation_layers_sit_between_each_hidden_linear_and_its_activation(norm, kind):
    for module in (MLPGenerator(2, (2,), 8, 3, "relu", norm), MLPCritic((2,), 8, 3, "relu", norm)):
        layers = list(module.net)
        norms = [i for i, layer in enumerate(layers) if isinstance(layer, kind)]
        assert len(norms) == 3
        for i in norms:
            assert isinstance(layers[i - 1], nn.Linear) and isinstance(layers[i + 1], nn.ReLU)
            size = layers[i].normalized_shape[0] if norm == "layer" else layers[i].num_features
            assert size == 8


def test_no_normalisation_layers_without_norm():
    critic = MLPCritic((2,), 8, 3, "relu", "none")
    assert not any(isinstance(layer, (nn.LayerNorm, nn.BatchNorm1d, nn.Identity)) for layer in critic.modules())


@pytest.mark.parametrize("activation,norm,expected", [("relu", "none", True), ("leaky_relu", "none", True),
                                                      ("elu", "none", False), ("tanh", "none", False),
                                                      ("relu", "layer", False), ("relu", "batch", False)])
def test_critic_is_piecewise_linear_only_with_relu_or_leaky_relu_and_no_norm(activation, norm, expected):
    assert MLPCritic((2,), 8, 2, activation, norm).piecewise_linear is expected


@pytest.mark.parametrize("norm,expected", [("none", True), ("layer", False), ("batch", False)])
def test_dcgan_critic_is_piecewise_linear_only_without_norm(norm, expected):
    critic = DCGANCritic(1, 16, 4, norm)
    assert critic.piecewise_linear is expected
    if not expected:
        with pytest.raises(TypeError):
            critic.input_gradient(torch.zeros(2, 1, 16, 16))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("norm", ["none", "layer", "batch"])
@pytest.mark.parametrize("depth", [1, 3])
def test_build_models_gives_parameter_counts_of_the_closed_form(shape, norm, depth):
    algorithm = "wgan" if norm == "batch" else "wgan-gp"
    config = make_config(algorithm=algorithm, width=16, depth=depth, latent_dim=5, generator_norm=norm,
                         critic_norm=norm)
    generator, critic = build_models(config, shape)
    d = math.prod(shape)
    assert count_parameters(generator) == _expected_parameters(5, d, 16, depth, norm)
    assert count_parameters(critic) == _expected_parameters(d, 1, 16, depth, norm)
    assert count_parameters(critic) == sum(p.numel() for p in critic.parameters())


def test_build_models_follows_the_config():
    config = make_config(width=8, depth=2, latent_dim=4, activation="tanh", critic_norm="layer")
    generator, critic = build_models(config, (1, 4, 4))
    assert isinstance(generator, MLPGenerator) and isinstance(critic, MLPCritic)
    assert generator(torch.randn(3, 4)).shape == (3, 1, 4, 4)
    assert critic(torch.randn(3, 1, 4, 4)).shape == (3,)
    assert any(isinstance(layer, nn.Tanh) for layer in critic.modules())
    assert any(isinstance(layer, nn.LayerNorm) for layer in critic.modules())
    assert not any(isinstance(layer, nn.LayerNorm) for layer in generator.modules())


def test_build_models_is_reproducible_from_the_torch_seed():
    config = make_config(width=8, depth=2)
    torch.manual_seed(3)
    first = build_models(config, (2,))
    torch.manual_seed(3)
    second = build_models(config, (2,))
    for a, b in zip(first, second):
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("generator_model, critic_model, generator_kind, critic_kind, size", [
    ("mlp", "dcgan", MLPGenerator, DCGANCritic, 16),
    ("dcgan", "mlp", DCGANGenerator, MLPCritic, 16),
    ("dcgan-constant", "mlp", ConstantFilterGenerator, MLPCritic, 16),
    ("resnet", "dcgan", ResNetGenerator, DCGANCritic, 32),
    ("mlp", "resnet", MLPGenerator, ResNetCritic, 32),
])
def test_build_models_builds_each_network_from_its_own_model_and_width(generator_model, critic_model, generator_kind,
                                                                       critic_kind, size):
    config = make_config(data="digits", algorithm="wgan", image_size=size, generator_model=generator_model,
                         critic_model=critic_model, generator_width=8, critic_width=4, depth=2, latent_dim=6)
    generator, critic = build_models(config, (1, size, size))
    assert isinstance(generator, generator_kind) and isinstance(critic, critic_kind)
    images = generator(torch.randn(3, 6))
    assert images.shape == (3, 1, size, size) and critic(images).shape == (3,)
    assert (_narrowest_hidden_width(generator), _narrowest_hidden_width(critic)) == (8, 4)
    mlps = [module for module in (generator, critic) if isinstance(module, (MLPGenerator, MLPCritic))]
    assert all(len(_linears(module)) == 3 for module in mlps)  # depth 2: two hidden layers and the output layer


def _narrowest_hidden_width(module):
    """The fewest units or channels of any layer but the output one: an MLP's width, a DCGAN's or ResNet's base."""
    layers = [layer for layer in module.modules() if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    return min(layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels for layer in layers[:-1])
