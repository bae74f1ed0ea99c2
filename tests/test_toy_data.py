import math

import numpy as np
import pytest
import torch
from sklearn.datasets import make_swiss_roll

from wgan.data import TOY_DATASET_NAMES, build_sampler
from wgan.data.toy import TOY_DATASETS, ParallelLinesSampler, toy_sampler
from wgan.errors import WganError

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def draw(name, n, seed=0, device="cpu"):
    sampler = build_sampler(name, device)
    return sampler, sampler.sample(n, torch.Generator(device).manual_seed(seed))


def nearest_centre(x, centres):
    return torch.cdist(x, centres).argmin(dim=1)


def test_toy_dataset_names_are_those_of_gan_toy_and_wgan_example_1():
    assert set(TOY_DATASET_NAMES) == {"8gaussians", "25gaussians", "swissroll", "parallel-lines"}
    assert TOY_DATASET_NAMES == tuple(TOY_DATASETS)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(TOY_DATASETS))
def test_every_toy_batch_is_float32_of_shape_n_by_2_on_the_sampler_device(name, device):
    sampler, x = draw(name, 17, device=device)
    assert sampler.shape == (2,)
    assert sampler.device == torch.device(device)
    assert x.shape == (17, 2) and x.dtype == torch.float32 and x.device.type == device
    assert torch.isfinite(x).all()


@pytest.mark.parametrize("name", sorted(TOY_DATASETS))
def test_toy_batches_stay_float32_under_a_float64_default_dtype(name):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        _, x = draw(name, 8)
    finally:
        torch.set_default_dtype(previous)
    assert x.dtype == torch.float32


@pytest.mark.parametrize("name", sorted(TOY_DATASETS))
def test_the_same_seed_gives_the_same_batch_and_another_seed_another(name):
    _, a = draw(name, 256, seed=3)
    _, b = draw(name, 256, seed=3)
    _, c = draw(name, 256, seed=4)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", sorted(TOY_DATASETS))
def test_consecutive_batches_from_one_generator_differ(name):
    sampler = build_sampler(name, "cpu")
    g = torch.Generator().manual_seed(0)
    assert not torch.equal(sampler.sample(64, g), sampler.sample(64, g))


def test_8gaussians_modes_are_the_compass_directions_at_radius_2_over_1414():
    modes = build_sampler("8gaussians", "cpu").modes
    s = 1 / math.sqrt(2)
    directions = torch.tensor([[1, 0], [-1, 0], [0, 1], [0, -1], [s, s], [s, -s], [-s, s], [-s, -s]])
    assert modes.centres.shape == (8, 2)
    torch.testing.assert_close(modes.centres, directions.float() * 2 / 1.414)
    assert modes.std == pytest.approx(0.02 / 1.414)


def test_25gaussians_modes_are_the_grid_minus_4_to_4_step_2_over_2828():
    modes = build_sampler("25gaussians", "cpu").modes
    ticks = [-4.0, -2.0, 0.0, 2.0, 4.0]
    grid = torch.tensor([[x, y] for x in ticks for y in ticks])
    assert modes.centres.shape == (25, 2)
    torch.testing.assert_close(modes.centres, grid / 2.828)
    assert modes.std == pytest.approx(0.05 / 2.828)


@pytest.mark.parametrize("name, k", [("8gaussians", 8), ("25gaussians", 25)])
def test_mixture_samples_lie_within_5_std_of_a_centre_and_hit_every_centre_evenly(name, k):
    sampler, x = draw(name, 4000)
    centres, std = sampler.modes.centres, sampler.modes.std
    nearest = nearest_centre(x, centres)
    offset = x - centres[nearest]
    assert offset.abs().max() <= 5 * std
    counts = torch.bincount(nearest, minlength=k)
    assert (counts > 0).all()
    assert counts.min() > 4000 / k / 2 and counts.max() < 4000 / k * 1.5
    # the noise within a mode has the stated per-coordinate std
    assert offset.std().item() == pytest.approx(std, rel=0.05)


def test_8gaussians_is_centred_on_the_origin_at_radius_2_over_1414():
    _, x = draw("8gaussians", 4000)
    assert x.mean(dim=0).abs().max() < 0.08  # standard error about 0.016
    assert x.norm(dim=1).mean().item() == pytest.approx(2 / 1.414, abs=0.01)


def test_25gaussians_is_centred_on_the_origin_with_unit_coordinate_std():
    # 2.828 is the coordinate std of the grid, so the scaled set has std about 1 per coordinate
    _, x = draw("25gaussians", 4000)
    assert x.mean(dim=0).abs().max() < 0.08  # standard error about 0.016
    torch.testing.assert_close(x.std(dim=0), torch.ones(2), atol=0.05, rtol=0)


def test_swissroll_mean_and_covariance_match_sklearn_make_swiss_roll():
    n = 20000
    ours = draw("swissroll", n)[1].double().numpy()
    theirs = make_swiss_roll(n_samples=n, noise=0.25, random_state=0)[0][:, [0, 2]] / 7.5

    def moments(x):
        centred = x - x.mean(axis=0)
        products = centred[:, :, None] * centred[:, None, :]  # (n, 2, 2): the covariance is their mean
        return x.mean(axis=0), x.std(axis=0), products.mean(axis=0), products.std(axis=0)

    mean_a, sd_a, cov_a, cov_sd_a = moments(ours)
    mean_b, sd_b, cov_b, cov_sd_b = moments(theirs)
    # 5 standard errors of the difference of two independent estimates
    mean_tol = 5 * np.sqrt((sd_a**2 + sd_b**2) / n)
    cov_tol = 5 * np.sqrt((cov_sd_a**2 + cov_sd_b**2) / n)
    assert (np.abs(mean_a - mean_b) < mean_tol).all(), (mean_a, mean_b, mean_tol)
    assert (np.abs(cov_a - cov_b) < cov_tol).all(), (cov_a, cov_b, cov_tol)


def test_swissroll_points_lie_on_the_spiral_up_to_the_noise():
    # radius t / 7.5 with t in [1.5 pi, 4.5 pi]; the noise 0.25 / 7.5 per coordinate moves it a little
    _, x = draw("swissroll", 4000)
    radius = x.norm(dim=1)
    slack = 5 * 0.25 / 7.5 * math.sqrt(2)
    assert radius.min() > 1.5 * math.pi / 7.5 - slack
    assert radius.max() < 4.5 * math.pi / 7.5 + slack
    assert build_sampler("swissroll", "cpu").modes is None


def test_swissroll_noise_has_std_025_over_75_across_the_spiral():
    # The moments above barely see the noise; the distance to the noiseless curve does. Arms are 2 pi / 7.5
    # apart, far more than the noise, so that distance is |N(0, s^2)| with mean s * sqrt(2 / pi).
    _, x = draw("swissroll", 1000)
    t = torch.linspace(1.5 * math.pi, 4.5 * math.pi, 10000)
    curve = torch.stack((t * torch.cos(t), t * torch.sin(t)), dim=1) / 7.5
    distance = torch.cdist(x, curve).min(dim=1).values
    expected = 0.25 / 7.5 * math.sqrt(2 / math.pi)
    assert distance.mean().item() == pytest.approx(expected, rel=0.1)  # relative standard error about 0.025


@pytest.mark.parametrize("theta", [0.0, 0.3, -1.5])
def test_parallel_lines_first_coordinate_is_exactly_theta_and_second_uniform_on_0_1(theta):
    sampler = ParallelLinesSampler("cpu", theta=theta)
    x = sampler.sample(4000, torch.Generator().manual_seed(0))
    assert (x[:, 0] == torch.tensor(theta, dtype=torch.float32)).all()
    assert x[:, 1].min() >= 0 and x[:, 1].max() <= 1
    assert x[:, 1].mean().item() == pytest.approx(0.5, abs=0.02)  # standard error about 0.0046
    assert x[:, 1].var().item() == pytest.approx(1 / 12, abs=0.01)
    assert sampler.modes is None


def test_parallel_lines_by_name_is_the_data_p0_of_wgan_example_1():
    _, x = draw("parallel-lines", 100)
    assert (x[:, 0] == 0).all()


def test_toy_sampler_passes_options_to_the_dataset():
    x = toy_sampler("parallel-lines", "cpu", theta=2.0).sample(10, torch.Generator().manual_seed(0))
    assert (x[:, 0] == 2.0).all()


def test_a_non_finite_theta_is_refused_with_its_value():
    with pytest.raises(WganError, match="theta nan"):
        ParallelLinesSampler("cpu", theta=float("nan"))


def test_an_unknown_toy_name_lists_the_known_ones():
    with pytest.raises(WganError) as error:
        toy_sampler("9gaussians", "cpu")
    message = str(error.value)
    assert "'9gaussians'" in message and "\n" not in message
    assert all(name in message for name in TOY_DATASETS)
