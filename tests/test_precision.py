"""Mixed precision and compilation: float16 with gradient scaling done right for the penalty, torch.compile.

float16 autocast runs on the CPU too (slowly: these tests keep to a few steps of tiny models), so the scaling
recipe is tested here as it runs on a GPU.
"""

from __future__ import annotations

import logging
import math

import pytest
import torch
from torch import nn

import wgan
from wgan.api import _assemble
from wgan.config import make_config
from wgan.models.dcgan import DCGANCritic
from wgan.objectives import input_gradient

TINY = dict(width=16, depth=2, batch_size=16, eval_samples=200, log_every=1, eval_every=1000, figures=False)


class QuietCritic(nn.Module):
    """f(x) = 1e-6 * sum(W2 relu(W1 x + 1)): its input gradient, about 1e-8 per entry, underflows in float16.

    The hidden bias keeps every pre-activation near 1, so float16's rounding cannot flip a ReLU's slope (a
    pre-activation within rounding of 0 made the float16 gradient differ from float32's in whole terms).
    """

    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.hidden = nn.Linear(8, 32)
        self.out = nn.Linear(32, 1)
        with torch.no_grad():
            self.hidden.weight.copy_(torch.randn(32, 8, generator=generator) * 0.05)
            self.out.weight.copy_(torch.randn(1, 32, generator=generator) * 0.05)
            self.hidden.bias.fill_(1.0)

    def forward(self, x):
        return 1e-6 * self.out(torch.relu(self.hidden(x))).float().squeeze(1)


def test_the_penalty_input_gradient_is_scaled_before_autograd_and_unscaled_after_in_float16():
    critic, points = QuietCritic(), torch.randn(64, 8, generator=torch.Generator().manual_seed(1))
    exact = input_gradient(critic, points)  # float32
    with torch.autocast("cpu", dtype=torch.float16):
        unscaled = input_gradient(critic, points)
        scaled = input_gradient(critic, points, loss_scale=torch.tensor(65536.0))
    assert (unscaled == 0).float().mean() > 0.5  # float16 flushes most of it to zero
    assert torch.allclose(scaled.float(), exact, rtol=2e-2, atol=1e-10)


def test_the_closed_form_input_gradient_of_a_dcgan_critic_is_scaled_in_float16_too():
    torch.manual_seed(0)
    critic = DCGANCritic(1, 16, width=4)
    with torch.no_grad():  # input gradient about 1e-9 per pixel: below float16's smallest subnormal, 6e-8
        critic.net[-1].weight.mul_(1e-5)
    assert critic.piecewise_linear
    points = torch.randn(8, 1, 16, 16, generator=torch.Generator().manual_seed(3))
    exact = input_gradient(critic, points)  # float32
    with torch.autocast("cpu", dtype=torch.float16):
        unscaled = input_gradient(critic, points)
        scaled = input_gradient(critic, points, loss_scale=torch.tensor(65536.0))
    assert (unscaled == 0).float().mean() > 0.5
    assert ((scaled.float() - exact).norm() / exact.norm()).item() < 0.1  # float16 rounding (4% here), no flush


def test_a_loss_scale_leaves_the_float32_input_gradient_as_it_is():
    critic, points = QuietCritic(), torch.randn(16, 8, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(input_gradient(critic, points, loss_scale=torch.tensor(1024.0)),
                          input_gradient(critic, points), rtol=1e-6, atol=0)


@pytest.mark.parametrize("data", ["8gaussians", "digits"])  # closed-form and autograd penalty
def test_float16_training_skips_a_step_whose_gradients_overflow_and_lowers_the_scale(data):
    config = make_config(**dict(TINY, data=data, precision="fp16", width=8))
    trainer = _assemble(config, lambda: None, scores=False)
    scaler = trainer.critic_scaler

    def step_moves_the_weights() -> bool:
        before = [p.detach().clone() for p in trainer.critic.parameters()]
        trainer.critic_step()
        return not all(torch.equal(old, new) for old, new in zip(before, trainer.critic.parameters()))

    trainer.critic_step()  # the scaler makes its scale tensor
    scaler.update(2.0 ** 4)
    assert step_moves_the_weights() and scaler.get_scale() == 2.0 ** 4  # a normal step
    scaler.update(2.0 ** 120)  # so large a scale that the scaled gradients overflow
    assert not step_moves_the_weights()  # the step is skipped
    assert scaler.get_scale() == 2.0 ** 119  # and the scale halved


def test_a_generator_step_skipped_by_the_float16_scaler_is_not_taken_for_divergence():
    # the first steps from the scaler's initial scale overflow and are skipped: the run "diverged" at iteration 1
    run = wgan.train(precision="fp16", iterations=5, lr=1e-7, write=False, progress=False,
                     **dict(TINY, width=32, batch_size=32))
    assert run.iteration == 5
    rows = [row for row in run.history if "train/estimate" in row]
    assert len(rows) == 5 and any("train/generator_grad_norm" not in row for row in rows)
    assert all(math.isfinite(row["train/generator_grad_norm"]) for row in rows if "train/generator_grad_norm" in row)


def test_a_float16_run_logs_its_loss_scale_and_checkpoints_the_scalers(tmp_path):
    run = wgan.train(precision="fp16", iterations=2, out=str(tmp_path), name="half", progress=False, **TINY)
    logged = [row["train/loss_scale"] for row in run.history if "train/estimate" in row]
    assert len(logged) == 2 and logged[0] > 0
    state = torch.load(tmp_path / "half" / "checkpoints" / "latest.pt", weights_only=True)
    assert state["critic_scaler"]["scale"] == logged[-1]
    resumed = wgan.resume(tmp_path / "half", iterations=3, progress=False)
    assert resumed.iteration == 3


@pytest.mark.parametrize("algorithm, lr_decay", [("wgan-gp", "none"), ("wgan", "linear")])
def test_compiled_training_computes_what_the_plain_modules_compute(algorithm, lr_decay):
    """WGAN-GP's compiled one-pass loss; WGAN's compiled RMSProp steps, with a learning rate that decays."""
    settings = dict(TINY, iterations=3, width=8, depth=None, data="digits", algorithm=algorithm, lr_decay=lr_decay,
                    warmup=False)  # depth: the DCGAN's networks have none
    plain = wgan.train(write=False, progress=False, **settings)
    compiled = wgan.train(write=False, progress=False, compile=True, **settings)
    for a, b in zip(plain.critic.parameters(), compiled.critic.parameters()):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)
    estimates = [[row["train/estimate"] for row in run.history if "train/estimate" in row] for run in (plain, compiled)]
    assert estimates[1][-1] == pytest.approx(estimates[0][-1], rel=1e-3)


def test_the_compiled_rmsprop_step_adds_no_line_to_the_output():
    # compiling torch's step with its profiler wrapper printed "Profiler record function ... will be ignored"
    torch._logging._internal.warning_once.cache_clear()  # a warning already given in this process is given again
    lines = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: lines.append(record.getMessage())
    logging.getLogger("torch._dynamo").addHandler(handler)
    try:
        config = make_config(algorithm="wgan", data="8gaussians", compile=True, iterations=2, warmup=False,
                             device="cpu", **TINY)
        _assemble(config, lambda: None).step()
    finally:
        logging.getLogger("torch._dynamo").removeHandler(handler)
    assert lines == []


def test_a_compiled_rmsprop_step_reads_a_decaying_learning_rate_without_being_compiled_again():
    config = make_config(algorithm="wgan", data="8gaussians", compile=True, iterations=6, lr_decay="linear",
                         warmup=False, device="cpu", **TINY)
    trainer = _assemble(config, lambda: None)
    trainer.step()  # compiles the models and both optimisers' steps
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    rates = []
    for _ in range(3):
        trainer.step()
        rates.append(float(trainer.critic_optimizer.param_groups[0]["lr"]))
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs
    assert rates == pytest.approx([config.lr * (1 - iteration / 6) for iteration in (2, 3, 4)])
    state = trainer.generator_optimizer.state_dict()
    state["param_groups"][0]["lr"] = 1e-5  # as a checkpoint of an uncompiled run holds it
    trainer.generator_optimizer.load_state_dict(state)
    rate = trainer.generator_optimizer.param_groups[0]["lr"]
    assert isinstance(rate, torch.Tensor) and rate.item() == pytest.approx(1e-5)


@pytest.mark.parametrize("native", [True, False])
def test_a_run_in_a_precision_this_cpu_only_emulates_is_told_to_use_fp32(monkeypatch, capsys, native):
    # on an AVX2 CPU bf16 trained 14 to 50 times slower than fp32, without a word
    from wgan import cpu_precision

    monkeypatch.setattr(cpu_precision, "runs_natively", lambda precision: native)
    wgan.train(precision="bf16", iterations=1, write=False, progress=False, **TINY)
    warned = "wgan: warning: this CPU has no bf16 instructions (AVX-512 BF16 or AMX): torch emulates them" in \
        capsys.readouterr().err
    assert warned is not native


def test_without_onednns_bf16_the_dense_layers_take_torchs_products_to_the_same_values(monkeypatch):
    # oneDNN's fused bf16 product cannot be made on an AVX2 CPU: "could not create a primitive descriptor"
    from wgan.models import penalised_loss

    layer = nn.Linear(8, 4)
    dense, x = penalised_loss._Dense(layer, torch.bfloat16), torch.randn(5, 8).bfloat16()
    monkeypatch.setattr(penalised_loss, "runs_natively", lambda precision: False)
    assert torch.equal(dense.activated(x, 0.0), torch.addmm(dense.bias, x, dense.weight.t()).relu())
