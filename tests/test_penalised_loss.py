"""The WGAN-GP loss of piecewise-linear critics in one pass (wgan.models.penalised_loss) against autograd's double
backprop: the MLP critic and the DCGAN critic without normalisation."""

import copy

import pytest
import torch

from wgan import cpu_precision
from wgan.config import make_config
from wgan.models.dcgan import DCGANCritic
from wgan.models.fast_convs import torch_layers_
from wgan.models.mlp import MLPCritic
from wgan.models import penalised_loss, winograd
from wgan.models.penalised_loss import _activation_backward_, _Dense
from wgan.objectives import WGANGP, WGANLP
from wgan.randomness import RandomStream


def _critic(activation="relu", shape=(3,), depth=3, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    critic = MLPCritic(shape, width=16, depth=depth, activation=activation, norm="none").to(dtype)
    with torch.no_grad():  # biases away from zero, so that their gradients are exercised too
        for layer in critic.net:
            if isinstance(layer, torch.nn.Linear):
                layer.bias.normal_(0, 0.3)
    return critic


def _dcgan_critic(channels=1, image_size=16, seed=0, dtype=torch.float64, norm="none"):
    """A narrow DCGAN critic in the trainer's channels-last layout: for one image channel its first layer is
    the space-to-depth convolution, for three torch's (with ``torch_layers_``, every layer torch's, as
    ``benchmarks/throughput.py --against torch-layers`` trains it)."""
    torch.manual_seed(seed)
    return DCGANCritic(channels, image_size, width=4, norm=norm).to(dtype).to(memory_format=torch.channels_last)


CRITICS = {  # name: (critic, sample shape)
    "relu-mlp": (lambda **kw: _critic("relu", (3,), 3, **kw), (3,)),
    "leaky-mlp-depth-1": (lambda **kw: _critic("leaky_relu", (3,), 1, **kw), (3,)),
    "relu-mlp-on-images": (lambda **kw: _critic("relu", (1, 4, 4), 3, **kw), (1, 4, 4)),
    "dcgan-16-grey": (lambda **kw: _dcgan_critic(1, 16, **kw), (1, 16, 16)),
    "dcgan-32-grey": (lambda **kw: _dcgan_critic(1, 32, **kw), (1, 32, 32)),
    "dcgan-16-colour": (lambda **kw: _dcgan_critic(3, 16, **kw), (3, 16, 16)),
    "dcgan-16-torch-layers": (lambda **kw: torch_layers_(_dcgan_critic(1, 16, **kw)), (1, 16, 16)),
}


def _batches(shape=(3,), n=24, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, *shape, generator=g, dtype=dtype) + 1.0,
            torch.randn(n, *shape, generator=g, dtype=dtype) * 2.0)


def _objective(one_sided: bool):
    return (WGANLP if one_sided else WGANGP)(make_config(algorithm="wgan-lp" if one_sided else "wgan-gp"))


def _double_backprop(critic, real, fake, e, weight, one_sided):
    """WGAN-GP's loss by its definition (Gulrajani et al. 2017, Algorithm 1), the penalty's weight gradient by
    differentiating autograd's input gradient."""
    points = torch.lerp(fake, real, e).requires_grad_(True)
    (gradient,) = torch.autograd.grad(critic(points).sum(), points, create_graph=True)
    norms = gradient.flatten(1).norm(dim=1)
    excess = (norms - 1).clamp(min=0) if one_sided else norms - 1
    estimate = critic(real).mean() - critic(fake).mean()
    return weight * excess.square().mean() - estimate, estimate, norms


def _gradients(loss, critic):
    critic.zero_grad()
    loss.backward()
    return [p.grad.clone() for p in critic.parameters()]


@pytest.mark.parametrize("one_sided", [False, True])
@pytest.mark.parametrize("kind", CRITICS)
def test_one_pass_loss_and_weight_gradient_equal_double_backprop(kind, one_sided):
    build, shape = CRITICS[kind]
    critic = build()
    real, fake = _batches(shape)
    e = torch.rand(len(real), *(1,) * len(shape), generator=torch.Generator().manual_seed(3), dtype=real.dtype)
    with torch.no_grad():  # the input gradient is linear in the output weights: norms about 1, on both sides
        critic.net[-1].weight.div_(critic.penalised_loss(real, fake, e, 10.0)[3].median())
    loss, estimate, penalty, norms = critic.penalised_loss(real, fake, e, 10.0, one_sided)
    expected_loss, expected_estimate, expected_norms = _double_backprop(critic, real, fake, e, 10.0, one_sided)
    assert norms.min() < 1 < norms.max()  # both sides of the penalty are exercised
    assert torch.allclose(norms, expected_norms, rtol=1e-12)
    assert loss.item() == pytest.approx(expected_loss.item(), rel=1e-12)
    assert estimate.item() == pytest.approx(expected_estimate.item(), rel=1e-12)
    assert penalty.item() == pytest.approx((expected_loss + expected_estimate).item(), rel=1e-12)
    gradients, expected_gradients = _gradients(loss, critic), _gradients(expected_loss, critic)
    assert len(gradients) == len(list(critic.parameters()))
    for gradient, expected in zip(gradients, expected_gradients):
        assert gradient.dtype == expected.dtype and gradient.shape == expected.shape
        assert torch.allclose(gradient, expected, rtol=1e-10, atol=1e-13)
    assert all(gradient.abs().max() > 0  # all but the output bias's, which is 0 (as many real as fake rows)
               for gradient, parameter in zip(gradients, critic.parameters()) if parameter is not critic.net[-1].bias)


@pytest.mark.parametrize("kind", ["relu-mlp", "dcgan-16-grey"])
def test_the_compiled_one_pass_loss_computes_the_eager_loss_and_weight_gradient(kind):
    build, shape = CRITICS[kind]
    critic = build()
    real, fake = _batches(shape)
    e = torch.rand(len(real), generator=torch.Generator().manual_seed(3), dtype=real.dtype)
    eager = critic.penalised_loss(real, fake, e, 10.0)
    compiled = critic.penalised_loss(real, fake, e, 10.0, compiled=True)
    for ours, theirs in zip(compiled, eager, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-13)
    for ours, theirs in zip(_gradients(compiled[0], critic), _gradients(eager[0], critic), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-13)


@pytest.fixture(params=["torch's", "oneDNN's"])
def float32_products(request, monkeypatch):
    """The dense layers' float32 products of the one-pass loss by torch's matmul (MKL) and the convolutions onto 8x8
    maps by Winograd's, or both by oneDNN as on a CPU where oneDNN's are the faster (an AMD CPU with AVX-512),
    whatever this machine is."""
    monkeypatch.setattr(penalised_loss, "onednn_multiplies_float32_faster", lambda: request.param == "oneDNN's")
    monkeypatch.setattr(winograd, "ONEDNN_FASTER", request.param == "oneDNN's")
    return request.param


@pytest.mark.parametrize("one_sided", [False, True])
@pytest.mark.parametrize("kind", ["relu-mlp", "dcgan-16-grey", "dcgan-32-grey"])
def test_wgan_gp_objective_gives_the_same_loss_and_gradient_in_one_pass_as_through_autograd(kind, one_sided,
                                                                                            float32_products):
    """In float32 (the DCGAN critic's layers onto 4x4 maps by Winograd's algorithm, for 32x32 images onto 8x8 maps
    by Winograd's or oneDNN's; the MLP's products by MKL or oneDNN) against autograd's double backprop."""
    build, shape = CRITICS[kind]
    critic = build(dtype=torch.float32)
    twin = copy.deepcopy(critic)
    twin.piecewise_linear = False  # the penalty's weight gradient by double backprop through autograd
    real, fake = _batches(shape, dtype=torch.float32)
    results = []
    for model in (critic, twin):
        loss, stats = _objective(one_sided).critic_loss(model, real, fake,
                                                         RandomStream(torch.Generator().manual_seed(5)))
        results.append((loss.item(), {name: value.item() for name, value in stats.items()},
                        _gradients(loss, model)))
    (loss, stats, gradients), (expected_loss, expected_stats, expected_gradients) = results
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    assert stats.keys() == expected_stats.keys()
    for name, value in stats.items():
        assert value == pytest.approx(expected_stats[name], rel=1e-5, abs=1e-7)
    for gradient, expected in zip(gradients, expected_gradients):
        assert torch.allclose(gradient, expected, rtol=1e-4, atol=1e-6)


def test_the_penalty_gradient_is_finite_where_the_critic_is_flat():
    critic = _critic()
    with torch.no_grad():
        critic.net[-1].weight.zero_()  # grad_x f = 0 everywhere: norm 0, penalty lambda
    real, fake = _batches()
    e = torch.rand(len(real), 1, dtype=real.dtype)
    loss, _, penalty, norms = critic.penalised_loss(real, fake, e, 10.0)
    expected_loss = _double_backprop(critic, real, fake, e, 10.0, False)[0]
    assert penalty.item() == pytest.approx(10.0) and norms.abs().max() == 0
    for gradient, expected in zip(_gradients(loss, critic), _gradients(expected_loss, critic)):
        assert torch.isfinite(gradient).all()
        assert torch.allclose(gradient, expected, rtol=1e-10, atol=1e-13)


def test_weight_gradient_scales_with_the_gradient_of_the_loss():
    critic = _critic()
    real, fake = _batches()
    e = torch.rand(len(real), 1, dtype=real.dtype)
    once = _gradients(critic.penalised_loss(real, fake, e, 10.0)[0], critic)
    thrice = _gradients(3 * critic.penalised_loss(real, fake, e, 10.0)[0], critic)
    for one, three in zip(once, thrice):
        assert torch.allclose(three, 3 * one, rtol=1e-12, atol=0)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kind", ["relu-mlp", "leaky-mlp-depth-1", "dcgan-32-grey", "dcgan-16-colour"])
def test_under_bf16_autocast_the_one_pass_gradient_is_as_close_to_float32_as_autograds(kind, seed):
    """In bf16 the layers take the CPU's bf16 paths: the MLP's products with the bias and activation fused, the
    DCGAN's stride-2 layers' weight gradients as matrix products, its first layer's by space-to-depth for one
    channel."""
    build, shape = CRITICS[kind]
    critic = build(dtype=torch.float32, seed=seed)
    real, fake = _batches(shape, dtype=torch.float32, seed=seed)
    e = torch.rand(len(real), *(1,) * len(shape), generator=torch.Generator().manual_seed(seed))
    exact = _gradients(critic.penalised_loss(real, fake, e, 10.0)[0], critic)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = critic.penalised_loss(real, fake, e, 10.0)[0]
        autocast_loss = _double_backprop(critic, real, fake, e, 10.0, False)[0]
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(autocast_loss.item(), rel=2e-2)
    compared = 0
    for ours, autocasts, truth, parameter in zip(_gradients(loss, critic), _gradients(autocast_loss, critic),
                                                 exact, critic.parameters()):
        if parameter is critic.net[-1].bias:  # 0 in exact arithmetic: rounding alone
            continue
        assert ours.dtype == torch.float32
        assert (ours - truth).norm() <= 1.25 * (autocasts - truth).norm() + 1e-3 * truth.norm()
        compared += 1
    assert compared >= 3


@pytest.mark.parametrize("loss_scale,norm,expected", [(None, "none", 1), (torch.tensor(1024.0), "none", 0),
                                                       (None, "layer", 0)],
                         ids=["fp32-or-bf16", "fp16-loss-scale", "layer-norm"])
@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_wgan_gp_takes_the_one_pass_loss_for_a_piecewise_linear_critic_without_loss_scale(model, loss_scale, norm,
                                                                                          expected):
    torch.manual_seed(0)
    if model == "mlp":
        critic, shape = MLPCritic((3,), width=8, depth=2, activation="relu", norm=norm), (3,)
    else:
        critic, shape = _dcgan_critic(dtype=torch.float32, norm=norm), (1, 16, 16)
    calls = []
    original = critic.penalised_loss

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return original(*args, **kwargs)

    critic.penalised_loss = spy
    real, fake = _batches(shape, dtype=torch.float32)
    _objective(False).critic_loss(critic, real, fake, RandomStream(torch.Generator().manual_seed(0)), loss_scale)
    assert len(calls) == expected


def test_one_pass_loss_needs_a_piecewise_linear_critic():
    critic = MLPCritic((3,), width=8, depth=2, activation="tanh", norm="none")
    with pytest.raises(TypeError, match="ReLU or leaky-ReLU"):
        critic.penalised_loss(*_batches(dtype=torch.float32), torch.rand(24, 1), 10.0)
    critic = _dcgan_critic(dtype=torch.float32, norm="layer")
    with pytest.raises(TypeError, match="without normalisation"):
        critic.penalised_loss(*_batches((1, 16, 16), dtype=torch.float32), torch.rand(24), 10.0)


@pytest.mark.parametrize("negative_slope", [0.0, 0.2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_slopes_are_written_over_the_gradient_they_scale(negative_slope, dtype):
    g = torch.Generator().manual_seed(0)
    pre_activation = torch.randn(32, 8, generator=g).to(dtype)
    output = torch.nn.functional.leaky_relu(pre_activation, negative_slope)
    gradient = torch.randn(32, 8, generator=g).to(dtype)
    expected = (gradient.float() * torch.where(pre_activation > 0, 1.0, negative_slope)).to(dtype)  # one rounding
    scaled = _activation_backward_(gradient, output, negative_slope)
    assert scaled.data_ptr() == gradient.data_ptr()  # no new buffer
    assert torch.equal(scaled, expected)


@pytest.mark.parametrize("negative_slope", [0.0, 0.2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_a_dense_layer_gives_its_activation_rounded_once(negative_slope, dtype, float32_products):
    """The bf16 path (the product with the bias and activation fused) and the float32 ones (addmm, then the
    activation; or oneDNN's fused product) all give a(x W^T + b) to the dtype's rounding."""
    g = torch.Generator().manual_seed(0)
    linear = torch.nn.Linear(64, 32)
    layer = _Dense(linear, dtype)
    x = torch.randn(48, 64, generator=g).to(dtype)
    exact = torch.nn.functional.leaky_relu(x.double() @ layer.weight.double().t() + layer.bias.double(),
                                           negative_slope)
    activated = layer.activated(x, negative_slope)
    assert activated.dtype == dtype
    assert torch.allclose(activated.double(), exact, rtol=2 * torch.finfo(dtype).eps, atol=1e-5)


def test_a_dense_layers_float32_maps_by_onednn_are_torchs_to_rounding_and_made_by_onednn(monkeypatch):
    g = torch.Generator().manual_seed(0)
    layer = _Dense(torch.nn.Linear(64, 32), torch.float32)
    layer.bias.normal_(generator=g)
    x, y = torch.randn(48, 64, generator=g), torch.randn(48, 32, generator=g)
    weight, bias = layer.weight.double(), layer.bias.double()
    exact = {"__call__": x.double() @ weight.t() + bias, "linear": x.double() @ weight.t(),
             "adjoint": y.double() @ weight}
    made = []
    product = torch.ops.mkldnn._linear_pointwise
    monkeypatch.setattr(penalised_loss, "onednn_multiplies_float32_faster", lambda: True)
    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", lambda *arguments: made.append(1) or product(*arguments))
    for name, expected in exact.items():
        result = getattr(layer, name)(y if name == "adjoint" else x)
        assert result.dtype == torch.float32 and torch.allclose(result.double(), expected, rtol=1e-5, atol=1e-5)
    assert len(made) == 3  # each by oneDNN


@pytest.mark.parametrize("capability, vendor, takes_onednn", [
    ("AVX512", "AuthenticAMD", True),  # measured: oneDNN's float32 products the faster
    ("AVX512", "GenuineIntel", False),  # MKL is its own vendor's
    ("AVX2", "AuthenticAMD", False),  # not measured
])
def test_onednn_takes_the_float32_products_on_an_amd_cpu_with_avx512(monkeypatch, tmp_path, capability, vendor,
                                                                      takes_onednn):
    cpu_info = tmp_path / "cpuinfo"
    cpu_info.write_text(f"processor\t: 0\nvendor_id\t: {vendor}\n")
    monkeypatch.setattr(cpu_precision, "CPU_INFO", cpu_info)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    assert cpu_precision.onednn_multiplies_float32_faster.__wrapped__() is takes_onednn
    monkeypatch.setattr(cpu_precision, "CPU_INFO", tmp_path / "missing")  # not Linux: torch's products
    assert cpu_precision.onednn_multiplies_float32_faster.__wrapped__() is False
