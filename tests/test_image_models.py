"""The convolutional generators and critics (DCGAN, WGAN-GP ResNet): shapes, ranges, the layers asked for, the
DCGAN initialisation, gradient flow and the per-sample independence that gradient penalties need."""

import pytest
import torch
from torch import nn

from wgan.errors import WganError
from wgan.models.dcgan import ConstantFilterGenerator, DCGANCritic, DCGANGenerator
from wgan.models.resnet import ResNetCritic, ResNetGenerator

LATENT = 6
WIDTH = 8


def _has(module, kind):
    return any(isinstance(layer, kind) for layer in module.modules())


@pytest.mark.parametrize("image_size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_dcgan_generator_maps_noise_to_images_in_minus_one_one(image_size, channels, batch_norm):
    generator = DCGANGenerator(LATENT, channels, image_size, width=WIDTH, batch_norm=batch_norm)
    images = generator(torch.randn(3, LATENT))
    assert images.shape == (3, channels, image_size, image_size)
    assert images.abs().max() <= 1


@pytest.mark.parametrize("image_size", [16, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_constant_filter_generator_maps_noise_to_images_in_minus_one_one(image_size, channels):
    images = ConstantFilterGenerator(LATENT, channels, image_size, width=WIDTH)(torch.randn(2, LATENT))
    assert images.shape == (2, channels, image_size, image_size)
    assert images.abs().max() <= 1


@pytest.mark.parametrize("image_size", [16, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("norm", ["none", "layer", "batch"])
def test_dcgan_critic_gives_one_raw_score_per_image(image_size, channels, norm):
    critic = DCGANCritic(channels, image_size, width=WIDTH, norm=norm)
    assert critic(torch.randn(3, channels, image_size, image_size)).shape == (3,)


@pytest.mark.parametrize("channels", [1, 3])
def test_resnet_generator_maps_noise_to_32x32_images_in_minus_one_one(channels):
    images = ResNetGenerator(LATENT, channels, width=WIDTH)(torch.randn(2, LATENT))
    assert images.shape == (2, channels, 32, 32)
    assert images.abs().max() <= 1


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("norm", ["none", "layer"])
def test_resnet_critic_gives_one_raw_score_per_image(channels, norm):
    assert ResNetCritic(channels, width=WIDTH, norm=norm)(torch.randn(3, channels, 32, 32)).shape == (3,)


def test_critics_score_a_single_image():
    assert DCGANCritic(3, 32, width=WIDTH, norm="layer")(torch.randn(1, 3, 32, 32)).shape == (1,)
    assert ResNetCritic(3, width=WIDTH)(torch.randn(1, 3, 32, 32)).shape == (1,)


def test_dcgan_generator_channel_pyramid_halves_from_width_times_size_over_8_to_width():
    generator = DCGANGenerator(LATENT, 3, 64, width=WIDTH)
    outputs = [layer.out_channels for layer in generator.modules() if isinstance(layer, nn.ConvTranspose2d)]
    assert outputs == [8 * WIDTH, 4 * WIDTH, 2 * WIDTH, WIDTH, 3]


def test_dcgan_critic_channels_double_from_width_to_one_score_at_4x4():
    critic = DCGANCritic(3, 64, width=WIDTH)
    outputs = [layer.out_channels for layer in critic.modules() if isinstance(layer, nn.Conv2d)]
    assert outputs == [WIDTH, 2 * WIDTH, 4 * WIDTH, 8 * WIDTH, 1]


def test_dcgan_generator_without_batch_norm_has_no_normalisation_layers():
    generator = DCGANGenerator(LATENT, 3, 32, width=WIDTH, batch_norm=False)
    assert not _has(generator, (nn.BatchNorm2d, nn.GroupNorm))
    assert _has(DCGANGenerator(LATENT, 3, 32, width=WIDTH), nn.BatchNorm2d)


def test_constant_filter_generator_has_no_batch_norm_and_width_filters_in_every_hidden_layer():
    generator = ConstantFilterGenerator(LATENT, 3, 64, width=WIDTH)
    convs = [layer for layer in generator.modules() if isinstance(layer, nn.ConvTranspose2d)]
    assert [conv.in_channels for conv in convs] == [LATENT] + [WIDTH] * 4
    assert [conv.out_channels for conv in convs] == [WIDTH] * 4 + [3]
    assert not _has(generator, nn.BatchNorm2d)


@pytest.mark.parametrize("norm, kind", [("layer", nn.GroupNorm), ("batch", nn.BatchNorm2d)])
def test_critic_norm_picks_the_normalisation_layer_and_none_has_none(norm, kind):
    for make in (lambda norm: DCGANCritic(3, 32, width=WIDTH, norm=norm),
                 lambda norm: ResNetCritic(3, width=WIDTH, norm=norm)):
        assert _has(make(norm), kind)
        assert not _has(make("none"), (nn.BatchNorm2d, nn.GroupNorm))


def test_layer_norm_is_group_norm_with_one_group():
    critic = DCGANCritic(3, 32, width=WIDTH, norm="layer")
    assert all(layer.num_groups == 1 for layer in critic.modules() if isinstance(layer, nn.GroupNorm))


def test_dcgan_init_draws_conv_weights_from_n_0_002_and_batch_norm_scales_from_n_1_002():
    torch.manual_seed(0)
    generator, critic = DCGANGenerator(100, 3, 32), DCGANCritic(3, 32, norm="batch")
    convs = [layer.weight for model in (generator, critic) for layer in model.modules()
             if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d))]
    weights = torch.cat([weight.detach().flatten() for weight in convs])
    assert weights.mean().abs() < 1e-3
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)
    norms = [layer for model in (generator, critic) for layer in model.modules() if isinstance(layer, nn.BatchNorm2d)]
    scales = torch.cat([layer.weight.detach() for layer in norms])
    assert scales.mean().item() == pytest.approx(1.0, abs=0.01)
    assert scales.std().item() == pytest.approx(0.02, rel=0.2)
    assert all(layer.bias.abs().max() == 0 for layer in norms)
    assert all(conv.bias is None for model in (generator, critic) for conv in model.modules()
               if isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)))


def _models():
    return [("dcgan", DCGANGenerator(LATENT, 3, 32, width=WIDTH), DCGANCritic(3, 32, width=WIDTH, norm="layer")),
            ("dcgan_nobn", DCGANGenerator(LATENT, 3, 32, width=WIDTH, batch_norm=False),
             DCGANCritic(3, 32, width=WIDTH, norm="batch")),
            ("constant", ConstantFilterGenerator(LATENT, 3, 32, width=WIDTH), DCGANCritic(3, 32, width=WIDTH)),
            ("resnet", ResNetGenerator(LATENT, 3, width=WIDTH), ResNetCritic(3, width=WIDTH, norm="layer"))]


@pytest.mark.parametrize("name, generator, critic", _models(), ids=[name for name, *_ in _models()])
def test_gradients_reach_every_parameter_of_generator_and_critic(name, generator, critic):
    critic(generator(torch.randn(4, LATENT))).mean().backward()
    for model in (generator, critic):
        for parameter_name, parameter in model.named_parameters():
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, parameter_name


def _score_of_sample_1_moves_when_sample_0_changes(critic):
    images = torch.randn(3, 3, 32, 32)
    changed = images.clone()
    changed[0] = torch.randn(3, 32, 32)
    return not torch.allclose(critic(images)[1], critic(changed)[1])


@pytest.mark.parametrize("norm", ["none", "layer"])
def test_critic_scores_each_sample_on_its_own_without_batch_norm(norm):
    assert not _score_of_sample_1_moves_when_sample_0_changes(DCGANCritic(3, 32, width=WIDTH, norm=norm))
    assert not _score_of_sample_1_moves_when_sample_0_changes(ResNetCritic(3, width=WIDTH, norm=norm))


def test_batch_norm_critic_in_train_mode_couples_the_samples_of_a_batch():
    # why gradient penalties forbid it: the score of one sample, and so its gradient, depends on the others
    assert _score_of_sample_1_moves_when_sample_0_changes(DCGANCritic(3, 32, width=WIDTH, norm="batch"))


@pytest.mark.parametrize("image_size", [8, 24, 48, 100])
def test_unsupported_image_size_raises_a_wgan_error_naming_it(image_size):
    for make in (lambda: DCGANGenerator(LATENT, 3, image_size), lambda: ConstantFilterGenerator(LATENT, 3, image_size),
                 lambda: DCGANCritic(3, image_size)):
        with pytest.raises(WganError, match=rf"image size {image_size} .*power of two"):
            make()


def test_unknown_critic_norm_raises_a_wgan_error():
    with pytest.raises(WganError, match="norm 'instance'"):
        DCGANCritic(3, 32, width=WIDTH, norm="instance")
