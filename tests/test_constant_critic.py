"""How a clipped ReLU critic dies (WGAN Fig. 3, lower half: "Loss is constant and samples are constant").

A tiny MLP/MLP WGAN on 8gaussians (critic 3 x 16 ReLU units, c = 0.01, RMSProp at a high learning rate, as the
paper's failure case) trained by the project's trainer: its critic ends with a hidden layer in which no unit is
active for any real or generated input. Clipping keeps that layer's weights so small that |w . x| < c for every
input, and its biases sit at or near the bound -c, so every unit is off everywhere; the layers after it then see
a constant, the critic's output is the same number for every input and the estimate is exactly 0. The gradients
that reach that layer and the generator pass through its ReLUs, all off, and are exactly 0, so RMSProp (step
lr g / (sqrt(v) + eps)) never moves them again: the state is absorbing. (The layers after it get sums of +-1/n over
identical rows, 0 up to float rounding; whatever that moves, their input stays a constant.)
docs/experiments/mlp-generator.md reads the MNIST runs against this.
"""

import dataclasses

import pytest
import torch
from torch import nn

from wgan.api import _assemble
from wgan.config import make_config

pytestmark = pytest.mark.usefixtures("one_thread")

# Each fit below ends in an evaluation that nothing here reads: on 100 samples, not the toy default's 20,000 (whose
# exact W1 of 2000 took a second a fit); it draws from a stream of its own, so that the training is the same.
TINY = dict(data="8gaussians", algorithm="wgan", model="mlp", width=16, depth=3, lr=2e-3, batch_size=64,
            warmup=False, seed=0, device="cpu", log_every=50, eval_every=10**6, eval_samples=100)
CHUNK, STILL_DEAD, LONGEST = 50, 4, 3000
# Seed 0 kills the first layer within the first 2000 iterations, but a rare input far out in a Gaussian tail can
# switch a unit back on for a while, even once the layer is off for every probe point (and where exactly differs
# between CPUs' float kernels: AMD EPYC, Intel Xeon). Training stops once the layer has been dead at STILL_DEAD
# successive checks, CHUNK iterations apart, without moving in the chunks between them.


def _probe_inputs(trainer) -> torch.Tensor:
    """4096 real and 4096 generated points, the same draws at every call."""
    rng = torch.Generator().manual_seed(7)
    with torch.no_grad():
        return torch.cat([trainer.sampler.sample(4096, rng),
                          trainer.generator(torch.randn(4096, trainer.config.latent_dim, generator=rng))])


def _first_layer_dead(trainer, inputs: torch.Tensor) -> bool:
    first = _linears(trainer.critic)[0]
    with torch.no_grad():
        return bool(((inputs @ first.weight.T + first.bias) <= 0).all())


@pytest.fixture(scope="module")
def trained():
    config = make_config(iterations=CHUNK, **TINY)
    trainer = _assemble(config, lambda: None, scores=False)
    first = _linears(trainer.critic)[0]
    dead_checks = 0
    while dead_checks < STILL_DEAD:
        assert trainer.iteration < LONGEST, f"the first layer was not dead at {STILL_DEAD} checks in a row"
        before = [first.weight.detach().clone(), first.bias.detach().clone()]
        trainer.config = dataclasses.replace(trainer.config, iterations=trainer.iteration + CHUNK)
        trainer.fit(progress=False)
        inputs = _probe_inputs(trainer)
        unmoved = torch.equal(before[0], first.weight) and torch.equal(before[1], first.bias)
        dead_checks = dead_checks + 1 if unmoved and _first_layer_dead(trainer, inputs) else 0
    return trainer, inputs


def _last_estimate(trainer) -> float:
    return next(row["train/estimate"] for row in reversed(trainer.history) if "train/estimate" in row)


def _linears(critic: nn.Module) -> list[nn.Linear]:
    return [layer for layer in critic.modules() if isinstance(layer, nn.Linear)]


def test_the_first_hidden_layer_has_no_active_unit_for_any_real_or_generated_input(trained):
    trainer, inputs = trained
    first = _linears(trainer.critic)[0]
    with torch.no_grad():
        reach = inputs @ first.weight.T  # w . x per input and unit
    clip = trainer.config.clip
    assert (reach + first.bias).max() < 0  # every unit off for every input
    assert reach.abs().max() < clip  # clipping left the weights too small to reach past a bias of size c
    assert (first.bias < 0).all() and (first.bias <= -0.99 * clip).sum() >= len(first.bias) // 2


def test_the_dead_critic_outputs_the_same_number_for_every_input_and_the_estimate_is_exactly_0(trained):
    trainer, inputs = trained
    with torch.no_grad():
        scores = trainer.critic(inputs)
        on_a_dead_layer = trainer.critic.net[2:](torch.zeros(len(inputs), TINY["width"])).squeeze(1)
    assert torch.unique(scores).numel() == 1 and torch.equal(scores, on_a_dead_layer)
    assert _last_estimate(trainer) == 0.0


def test_the_generators_and_the_dead_layers_gradients_are_exactly_0_and_training_on_moves_neither(trained):
    trainer, inputs = trained
    critic, generator = trainer.critic, trainer.generator
    first = _linears(critic)[0]
    loss, _ = trainer.objective.critic_loss(critic, inputs[:4096], inputs[4096:], trainer.stream)
    assert all((gradient == 0).all() for gradient in torch.autograd.grad(loss, [first.weight, first.bias]))
    generator_loss, _ = trainer.objective.generator_loss(critic, generator(torch.randn(256, 2)))
    assert all((gradient == 0).all() for gradient in torch.autograd.grad(generator_loss, list(generator.parameters())))
    before = [p.detach().clone() for p in (*generator.parameters(), first.weight, first.bias)]
    trainer.config = dataclasses.replace(trainer.config, iterations=trainer.iteration + 50)
    trainer.fit(progress=False)
    assert all(torch.equal(old, new) for old, new in zip(before, (*generator.parameters(), first.weight, first.bias)))
    with torch.no_grad():
        assert torch.unique(critic(inputs)).numel() == 1
    assert _last_estimate(trainer) == 0.0
