"""The objectives checked against closed forms: the penalty of a linear critic, per-sample gradient norms, the
closed-form input gradient of ReLU critics against double backprop, interpolates on their segments, weight
clipping, the sign of the W estimate, and the GAN's values at D = 1/2 and at a perfect discriminator."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from scipy.stats import kstest
from torch import nn

from wgan.api import _assemble
from wgan.config import make_config
from wgan.models.dcgan import DCGANCritic
from wgan.models.mlp import MLPCritic
from wgan.randomness import RandomStream
from wgan.objectives import (
    GAN,
    WGAN,
    WGANGP,
    WGANLP,
    NonSaturatingGAN,
    critic_gradient_norm,
    gradient_penalty,
    input_gradient,
    interpolate,
)

LOG2 = math.log(2.0)


class LinearCritic(nn.Module):
    """f(x) = a . flatten(x) + b, whose input gradient is a everywhere."""

    def __init__(self, a: torch.Tensor, b: float = 0.3):
        super().__init__()
        self.linear = nn.Linear(a.numel(), 1)
        with torch.no_grad():
            self.linear.weight.copy_(a.reshape(1, -1))
            self.linear.bias.fill_(b)

    def forward(self, x):
        return self.linear(x.flatten(1)).squeeze(1)


class FirstCoordinate(nn.Module):
    """f(x) = x_0: 1-Lipschitz, gradient e_0 everywhere."""

    def forward(self, x):
        return x[:, 0]


def _vector_with_norm(d: int, norm: float, seed: int = 0) -> torch.Tensor:
    a = torch.randn(d, generator=torch.Generator().manual_seed(seed))
    return a / a.norm() * norm


def _rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _stream(seed: int = 0) -> RandomStream:
    return RandomStream(_rng(seed))


def _batches(shape=(2,), n=32, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *shape, generator=g) + 2.0, torch.randn(n, *shape, generator=g) * 3.0


# ------------------------------------------------------------------------------- penalty of a linear critic
@pytest.mark.parametrize("norm", [0.25, 0.9, 1.7, 4.0])
def test_two_sided_penalty_of_linear_critic_is_lambda_times_squared_excess_of_its_slope(norm):
    critic = LinearCritic(_vector_with_norm(3, norm))
    real, fake = _batches((3,))
    penalty, norms = gradient_penalty(critic, real, fake, weight=7.0, stream=_stream())
    assert penalty.item() == pytest.approx(7.0 * (norm - 1) ** 2, rel=1e-5, abs=1e-6)
    assert torch.allclose(norms, torch.full((32,), norm), rtol=1e-5)


@pytest.mark.parametrize("norm", [0.25, 0.9, 1.7, 4.0])
def test_one_sided_penalty_of_linear_critic_only_charges_slopes_above_one(norm):
    critic = LinearCritic(_vector_with_norm(3, norm))
    real, fake = _batches((3,))
    penalty, _ = gradient_penalty(critic, real, fake, weight=7.0, stream=_stream(), one_sided=True)
    expected = 7.0 * max(0.0, norm - 1) ** 2
    assert penalty.item() == pytest.approx(expected, rel=1e-5, abs=1e-6)
    if norm < 1:
        assert penalty.item() == 0.0


def test_penalty_of_linear_critic_does_not_depend_on_the_batches():
    critic = LinearCritic(_vector_with_norm(2, 2.5))
    values = [gradient_penalty(critic, *_batches(seed=s), weight=10.0, stream=_stream(s))[0].item() for s in range(4)]
    assert values == pytest.approx([10.0 * 1.5 ** 2] * 4, rel=1e-5)


def test_penalty_is_differentiable_with_respect_to_the_critic_weights():
    a = _vector_with_norm(2, 2.0)
    critic = LinearCritic(a)
    penalty, _ = gradient_penalty(critic, *_batches(), weight=10.0, stream=_stream())
    penalty.backward()
    # d/da lambda (||a|| - 1)^2 = 2 lambda (||a|| - 1) a / ||a||
    expected = 2 * 10.0 * (2.0 - 1.0) * a / 2.0
    assert torch.allclose(critic.linear.weight.grad.flatten(), expected, atol=1e-5)
    assert critic.linear.bias.grad is None or critic.linear.bias.grad.abs().item() == 0.0


# ------------------------------------------------------------------------------------ critic gradient norm
def test_gradient_norm_of_linear_critic_is_its_slope_at_every_point():
    critic = LinearCritic(_vector_with_norm(5, 1.3))
    points = torch.randn(17, 5, generator=_rng(3)) * 10
    norms = critic_gradient_norm(critic, points)
    assert norms.shape == (17,)
    assert torch.allclose(norms, torch.full((17,), 1.3), rtol=1e-5)


def test_gradient_norm_of_image_critic_is_per_sample_over_all_pixels():
    a = torch.randn(16, generator=_rng(4))
    critic = LinearCritic(a)
    points = torch.randn(6, 1, 4, 4, generator=_rng(5))
    norms = critic_gradient_norm(critic, points)
    # a norm(dim=1) over (n, 1, 4, 4) would give (n, 4, 4) of |a_ij|, not (n,) of ||a||
    assert norms.shape == (6,)
    assert torch.allclose(norms, torch.full((6,), a.norm().item()), rtol=1e-5)


def test_penalty_of_image_critic_uses_the_norm_over_all_pixels():
    a = _vector_with_norm(16, 0.5)
    critic = LinearCritic(a)
    real, fake = _batches((1, 4, 4), n=8)
    penalty, norms = gradient_penalty(critic, real, fake, weight=10.0, stream=_stream())
    assert norms.shape == (8,)
    assert penalty.item() == pytest.approx(10.0 * 0.25, rel=1e-5)


# ----------------------------------------------------- closed-form input gradient of piecewise-linear critics
def _mlp_critic(activation, norm="none", shape=(3,), seed=0, width=16, depth=3):
    torch.manual_seed(seed)
    return MLPCritic(shape, width=width, depth=depth, activation=activation, norm=norm)


def _dcgan_critic(norm="none", seed=0, channels=2, size=16):
    torch.manual_seed(seed)
    return DCGANCritic(channels, size, width=4, norm=norm).to(memory_format=torch.channels_last)


# (name, critic maker, sample shape, parameters): MLP critics (weights and biases of 4 layers) and the DCGAN
# critic without norm (3 bias-free convolutions at 16x16)
PIECEWISE_LINEAR_CRITICS = [
    ("relu-mlp", lambda seed: _mlp_critic("relu", seed=seed), (3,), 8),
    ("leaky-relu-mlp", lambda seed: _mlp_critic("leaky_relu", seed=seed), (3,), 8),
    ("relu-mlp-on-images", lambda seed: _mlp_critic("relu", shape=(1, 4, 4), seed=seed), (1, 4, 4), 8),
    ("dcgan", lambda seed: _dcgan_critic(seed=seed), (2, 16, 16), 3),
    ("dcgan-32", lambda seed: _dcgan_critic(seed=seed, channels=1, size=32), (1, 32, 32), 4),
]


@pytest.mark.parametrize("name,make_critic,shape,parameters", PIECEWISE_LINEAR_CRITICS,
                         ids=[c[0] for c in PIECEWISE_LINEAR_CRITICS])
def test_closed_form_input_gradient_of_piecewise_linear_critic_equals_autograd(name, make_critic, shape,
                                                                               parameters):
    critic = make_critic(0)
    assert critic.piecewise_linear
    points = torch.randn(20, *shape, generator=_rng(6))
    closed = critic.input_gradient(points)
    x = points.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(critic(x).sum(), x)
    assert closed.shape == points.shape
    assert torch.allclose(closed, auto, atol=1e-6, rtol=1e-5)
    assert auto.abs().max() > 0


@pytest.mark.parametrize("name,make_critic,shape,parameters", PIECEWISE_LINEAR_CRITICS,
                         ids=[c[0] for c in PIECEWISE_LINEAR_CRITICS])
@pytest.mark.parametrize("one_sided", [False, True])
def test_penalty_weight_gradient_of_closed_form_equals_double_backprop(name, make_critic, shape, parameters,
                                                                       one_sided):
    closed_critic = make_critic(1)
    real, fake = _batches(shape, n=24)
    with torch.no_grad():  # steeper than 1 at some points and flatter at others, so both sides are exercised:
        # the input gradient is linear in the output layer's weights, so dividing them by the median norm works
        median = critic_gradient_norm(closed_critic, torch.cat([real, fake])).median()
        closed_critic.net[-1].weight.div_(median)
    autograd_critic = copy.deepcopy(closed_critic)
    autograd_critic.piecewise_linear = False

    grads = []
    penalties = []
    for critic in (closed_critic, autograd_critic):
        penalty, norms = gradient_penalty(critic, real, fake, weight=10.0, stream=_stream(7), one_sided=one_sided)
        critic.zero_grad()
        penalty.backward()
        penalties.append(penalty.item())
        closed_norms = norms if critic is closed_critic else closed_norms
        # the penalty does not depend on the biases (a'' = 0): None on one path is zero on the other
        grads.append([torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in critic.parameters()])

    assert penalties[0] == pytest.approx(penalties[1], rel=1e-5)
    assert len(grads[0]) == len(grads[1]) == parameters
    for closed, auto in zip(*grads):  # relative to the gradient's size: the DCGAN's are about 1e-3
        assert (closed - auto).abs().max() <= 1e-5 * max(auto.abs().max(), 1)
    assert any(g.abs().max() > 0 for g in grads[0])
    assert closed_norms.min() < 1 < closed_norms.max()


@pytest.mark.parametrize("make_critic,shape", [(lambda: _mlp_critic("relu"), (3,)),
                                               (lambda: _dcgan_critic(), (2, 16, 16))], ids=["mlp", "dcgan"])
def test_closed_form_path_is_taken_for_piecewise_linear_critic(make_critic, shape):
    critic = make_critic()
    calls = []
    original = critic.input_gradient

    def spy(x, scale=None):
        calls.append(tuple(x.shape))
        return original(x, scale)

    critic.input_gradient = spy
    gradient_penalty(critic, *_batches(shape), weight=10.0, stream=_stream())
    assert calls == [(32, *shape)]


@pytest.mark.parametrize("activation,norm", [("relu", "layer"), ("tanh", "none"), ("elu", "none"),
                                             ("leaky_relu", "layer")])
def test_critics_that_are_not_piecewise_linear_get_the_penalty_through_autograd(activation, norm):
    critic = _mlp_critic(activation, norm=norm, seed=2)
    assert not critic.piecewise_linear
    with pytest.raises(TypeError):
        critic.input_gradient(torch.zeros(2, 3))
    real, fake = _batches((3,), n=16)
    penalty, norms = gradient_penalty(critic, real, fake, weight=10.0, stream=_stream(8))

    x_hat = interpolate(real, fake, _stream(8)).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
    expected_norms = grad.norm(dim=1)
    assert torch.allclose(norms, expected_norms, rtol=1e-5)
    assert penalty.item() == pytest.approx(10.0 * ((expected_norms - 1) ** 2).mean().item(), rel=1e-5)
    penalty.backward()
    weights = [layer.weight for layer in critic.net if isinstance(layer, nn.Linear)]
    assert all(w.grad is not None and torch.isfinite(w.grad).all() and w.grad.abs().max() > 0 for w in weights)


def test_input_gradient_does_not_touch_the_points_gradient():
    critic = _mlp_critic("relu")
    points = torch.randn(4, 3, requires_grad=True)
    input_gradient(critic, points).sum()
    assert points.grad is None


# --------------------------------------------------------------------------------------------- interpolates
def _segment_coefficients(x_hat, real, fake):
    """e per sample with x_hat = fake + e (real - fake), and the largest distance of x_hat from that point."""
    direction = (real - fake).flatten(1)
    offset = (x_hat - fake).flatten(1)
    e = (offset * direction).sum(1) / direction.square().sum(1)
    residual = (offset - e[:, None] * direction).abs().max()
    return e, residual


@pytest.mark.parametrize("shape", [(2,), (1, 4, 4), (3, 2, 2)])
def test_interpolates_lie_on_the_segment_between_each_real_and_fake_pair(shape):
    real, fake = _batches(shape, n=50)
    x_hat = interpolate(real, fake, _stream(9))
    assert x_hat.shape == real.shape
    e, residual = _segment_coefficients(x_hat, real, fake)
    assert residual.item() < 1e-5
    assert (e >= -1e-6).all() and (e <= 1 + 1e-6).all()


def test_interpolation_uses_one_coefficient_per_sample_across_all_pixels():
    n = 40
    x_hat = interpolate(torch.ones(n, 3, 4, 4), torch.zeros(n, 3, 4, 4), _stream(10))
    # between 1 and 0, x_hat is e itself: every pixel of a sample shares it, samples differ
    per_sample = x_hat.flatten(1)
    assert torch.equal(per_sample, per_sample[:, :1].expand_as(per_sample))
    assert per_sample[:, 0].unique().numel() == n


def test_interpolation_coefficients_are_uniform_on_the_unit_interval():
    n = 20000
    e = interpolate(torch.ones(n, 1), torch.zeros(n, 1), _stream(11)).flatten().numpy()
    assert e.min() >= 0.0 and e.max() <= 1.0
    assert e.mean() == pytest.approx(0.5, abs=0.01)  # sd of the mean: 1/sqrt(12 n) = 0.002
    assert e.var() == pytest.approx(1 / 12, abs=0.003)
    assert kstest(e, "uniform").pvalue > 1e-3


def test_interpolation_is_reproducible_from_the_generator_state():
    real, fake = _batches()
    assert torch.equal(interpolate(real, fake, _stream(12)), interpolate(real, fake, _stream(12)))


# ------------------------------------------------------------------------------------------ weight clipping
def test_clipping_keeps_every_critic_weight_within_c_and_leaves_inner_values_alone():
    config = make_config(algorithm="wgan", batch_size=16, width=16, depth=2)
    c = config.clip
    critic = _mlp_critic("relu", shape=(2,), width=16, depth=2)
    with torch.no_grad():
        for p in critic.parameters():
            p.copy_(torch.randn(p.shape, generator=_rng(13)) * 5 * c)
    before = [p.detach().clone() for p in critic.parameters()]
    WGAN(config).constrain(critic)
    for old, new in zip(before, critic.parameters()):
        assert new.min() >= -c and new.max() <= c
        inside = old.abs() <= c
        assert torch.equal(new[inside], old[inside])
        assert torch.equal(new[~inside], c * old[~inside].sign())
    assert any((old.abs() > c).any() for old in before)


def test_wgan_critic_step_leaves_every_weight_within_c():
    config = make_config(algorithm="wgan", batch_size=16, width=16, depth=2, data="8gaussians")
    trainer = _assemble(config, lambda: None)
    with torch.no_grad():
        for p in trainer.critic.parameters():
            p.mul_(0).add_(torch.randn(p.shape, generator=_rng(14)) * 5)
    trainer.critic_step()
    c = config.clip
    for p in trainer.critic.parameters():
        assert p.min() >= -c and p.max() <= c
    assert any((p.abs() == c).any() for p in trainer.critic.parameters())


def test_penalty_objectives_do_not_clip():
    critic = LinearCritic(_vector_with_norm(2, 5.0))
    before = [p.detach().clone() for p in critic.parameters()]
    for objective in (WGANGP, WGANLP):
        objective(make_config(algorithm="wgan-gp")).constrain(critic)
    assert all(torch.equal(a, b) for a, b in zip(before, critic.parameters()))


# --------------------------------------------------------------------------------------- sign of the estimate
@pytest.mark.parametrize("algorithm", ["wgan", "wgan-gp", "wgan-lp"])
@pytest.mark.parametrize("shift", [0.5, 2.0])
def test_w_estimate_is_the_shift_when_real_lies_ahead_of_fake_along_a_unit_slope_critic(algorithm, shift):
    config = make_config(algorithm=algorithm)
    objective = {"wgan": WGAN, "wgan-gp": WGANGP, "wgan-lp": WGANLP}[algorithm](config)
    fake = torch.randn(64, 2, generator=_rng(15))
    real = torch.randn(64, 2, generator=_rng(16))
    real[:, 0] = fake[:, 0] + shift
    critic = FirstCoordinate()
    estimate = objective.estimate(critic(real), critic(fake))
    assert estimate.item() == pytest.approx(shift, rel=1e-5)
    loss, stats = objective.critic_loss(critic, real, fake, _stream())
    # f(x) = x_0 has gradient norm exactly 1, so WGAN-GP's and WGAN-LP's penalties vanish too
    assert loss.item() == pytest.approx(-shift, rel=1e-5)
    assert stats["estimate"].item() == pytest.approx(shift, rel=1e-5)
    assert stats["critic_loss"].item() == pytest.approx(-shift, rel=1e-5)
    if algorithm != "wgan":
        assert stats["penalty"].item() == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("algorithm", ["wgan", "wgan-gp"])
def test_critic_loss_estimate_is_mean_critic_on_real_minus_mean_on_fake(algorithm):
    config = make_config(algorithm=algorithm)
    objective = WGAN(config) if algorithm == "wgan" else WGANGP(config)
    critic = _mlp_critic("relu", shape=(2,), seed=3)
    real, fake = _batches((2,), n=20)
    loss, stats = objective.critic_loss(critic, real, fake, _stream())
    with torch.no_grad():
        expected = critic(real).mean() - critic(fake).mean()
    assert stats["estimate"].item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-6)
    penalty = stats.get("penalty", torch.zeros(())).item()
    assert loss.item() == pytest.approx(penalty - expected.item(), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("objective_class", [WGAN, GAN])
def test_a_batch_norm_critic_sees_the_real_and_the_generated_batch_separately(objective_class):
    objective = objective_class(make_config(algorithm="wgan" if objective_class is WGAN else "gan"))
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    real, fake = _batches((2,), n=16)
    critic_real, critic_fake = objective.critic_scores(critic, real, fake)
    assert torch.allclose(critic_real, critic(real).flatten()) and torch.allclose(critic_fake, critic(fake).flatten())
    mixed = critic(torch.cat([real, fake])).flatten()
    assert not torch.allclose(critic_real, mixed[:16])  # one pass would normalise with mixed statistics


def test_wasserstein_generator_loss_is_minus_mean_critic_on_fakes():
    objective = WGAN(make_config(algorithm="wgan"))
    fake = torch.randn(10, 2, generator=_rng(17))
    loss, stats = objective.generator_loss(FirstCoordinate(), fake)
    assert loss.item() == pytest.approx(-fake[:, 0].mean().item(), rel=1e-6)
    assert stats["generator_loss"].item() == loss.item()


# ------------------------------------------------------------------------------------------------------ GAN
class ConstantLogit(nn.Module):
    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, x):
        return torch.full((x.shape[0],), self.value)


class SignLogit(nn.Module):
    """Logit +L on points with x_0 > 0 (real), -L otherwise (fake): a perfect discriminator as L grows."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return torch.where(x[:, 0] > 0, self.scale, -self.scale)


@pytest.mark.parametrize("objective_class", [GAN, NonSaturatingGAN])
def test_gan_loss_at_d_one_half_is_2_log_2_and_js_estimate_is_zero(objective_class):
    objective = objective_class(make_config(algorithm="gan"))
    real, fake = _batches((2,), n=8)
    loss, stats = objective.critic_loss(ConstantLogit(0.0), real, fake, _stream())
    assert loss.item() == pytest.approx(2 * LOG2, rel=1e-6)
    assert stats["critic_loss"].item() == pytest.approx(2 * LOG2, rel=1e-6)
    assert stats["estimate"].item() == pytest.approx(0.0, abs=1e-6)
    assert objective.estimate(torch.zeros(8), torch.zeros(8)).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("scale", [5.0, 20.0, 50.0])
def test_js_estimate_of_a_perfect_discriminator_approaches_log_2(scale):
    objective = GAN(make_config(algorithm="gan"))
    real = torch.rand(16, 2, generator=_rng(18)) + 0.1
    fake = -torch.rand(16, 2, generator=_rng(19)) - 0.1
    critic = SignLogit(scale)
    # V = -2 softplus(-L), so log 2 + V / 2 = log 2 - softplus(-L)
    expected = LOG2 - math.log1p(math.exp(-scale))
    _, stats = objective.critic_loss(critic, real, fake, _stream())
    assert stats["estimate"].item() == pytest.approx(expected, abs=1e-6)
    assert objective.estimate(critic(real), critic(fake)).item() == pytest.approx(expected, abs=1e-6)
    if scale == 50.0:
        assert stats["estimate"].item() == pytest.approx(LOG2, abs=1e-6)


def test_gan_estimate_from_critic_loss_matches_estimate_method():
    objective = GAN(make_config(algorithm="gan"))
    critic = _mlp_critic("relu", shape=(2,), seed=4)
    real, fake = _batches((2,), n=12)
    _, stats = objective.critic_loss(critic, real, fake, _stream())
    with torch.no_grad():
        direct = objective.estimate(critic(real), critic(fake))
    assert stats["estimate"].item() == pytest.approx(direct.item(), abs=1e-6)


LOGITS = [-8.0, -2.0, 0.0, 1.5, 6.0]


def test_minimax_generator_loss_is_mean_log_one_minus_d():
    objective = GAN(make_config(algorithm="gan"))
    s = torch.tensor(LOGITS)
    loss, stats = objective.generator_loss(lambda x: x[:, 0], s[:, None])
    expected = sum(math.log(1 - 1 / (1 + math.exp(-v))) for v in LOGITS) / len(LOGITS)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert loss.item() == pytest.approx(-F.softplus(s).mean().item(), rel=1e-6)
    assert stats["generator_loss"].item() == loss.item()


def test_non_saturating_generator_loss_is_mean_minus_log_d():
    objective = NonSaturatingGAN(make_config(algorithm="gan-ns"))
    s = torch.tensor(LOGITS)
    loss, _ = objective.generator_loss(lambda x: x[:, 0], s[:, None])
    expected = sum(-math.log(1 / (1 + math.exp(-v))) for v in LOGITS) / len(LOGITS)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert loss.item() == pytest.approx(F.softplus(-s).mean().item(), rel=1e-6)


def _logit_gradient(objective, logit: float) -> float:
    s = torch.tensor([[logit]], requires_grad=True)
    loss, _ = objective.generator_loss(lambda x: x[:, 0], s)
    loss.backward()
    return s.grad.item()


def test_minimax_generator_gradient_vanishes_when_d_rejects_fakes_and_non_saturating_does_not():
    minimax = GAN(make_config(algorithm="gan"))
    non_saturating = NonSaturatingGAN(make_config(algorithm="gan-ns"))
    for logit in (-5.0, -10.0, -20.0):
        # d/ds [-softplus(s)] = -sigmoid(s) -> 0;  d/ds softplus(-s) = -sigmoid(-s) -> -1
        assert _logit_gradient(minimax, logit) == pytest.approx(-1 / (1 + math.exp(-logit)), rel=1e-4)
        assert _logit_gradient(non_saturating, logit) == pytest.approx(-1 / (1 + math.exp(logit)), rel=1e-4)
    assert abs(_logit_gradient(minimax, -20.0)) < 1e-8
    assert abs(_logit_gradient(non_saturating, -20.0)) > 0.999
    # at D = 1/2 both losses push the logit up at the same rate
    assert _logit_gradient(minimax, 0.0) == pytest.approx(_logit_gradient(non_saturating, 0.0))
