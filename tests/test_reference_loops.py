"""The reference loops (what the trainer's speed is measured against) train what their papers' Algorithm 1 says."""

from __future__ import annotations

import pytest
import torch

from wgan.api import _assemble
from wgan.config import make_config
from wgan.errors import WganError
from wgan.objectives import gradient_penalty
from wgan.randomness import RandomStream
from wgan.reference_loops import WGANGPLoop, WGANLoop, reference_loop

SMALL = dict(width=32, depth=2, batch_size=32, eval_samples=200)


def _loop(**settings):
    trainer = _assemble(make_config(**{**SMALL, **settings}), lambda: None, scores=False)
    return reference_loop(trainer.config, trainer.generator, trainer.critic, trainer.sampler), trainer


def test_the_reference_penalty_by_double_backward_equals_the_trainers_closed_form_penalty():
    loop, trainer = _loop(algorithm="wgan-gp")
    real, fake = loop.sampler.sample(32, loop.rng), loop.fake()
    state = loop.rng.get_state()
    reference = loop.penalty(real, fake)
    loop.rng.set_state(state)  # the same interpolation weights for ours
    ours, _ = gradient_penalty(trainer.critic, real, fake, trainer.config.penalty_weight, RandomStream(loop.rng))
    assert torch.allclose(reference, ours, rtol=1e-5)


@pytest.mark.parametrize("data", ["8gaussians", "digits"])
def test_the_wgan_reference_loop_clips_every_critic_weight_at_each_critic_step_and_trains_both_networks(data):
    loop, _ = _loop(algorithm="wgan", data=data, warmup=False,
                    **({"model": "dcgan", "width": 8} if data == "digits" else {}))
    assert isinstance(loop, WGANLoop)
    before = {module: [p.detach().clone() for p in module.parameters()] for module in (loop.generator, loop.critic)}
    loop.iteration()
    for module, old in before.items():  # (the critic's output bias has no gradient under the WGAN loss)
        assert sum(not torch.equal(a, b) for a, b in zip(old, module.parameters())) >= len(old) - 1
    assert all(p.requires_grad for p in loop.critic.parameters())  # unfrozen after the generator step
    loop.critic_optimizer.param_groups[0]["lr"] = 0.0  # a step that moves nothing shows the clamp before it
    loop.critic_step()
    assert all(p.abs().max() <= loop.config.clip for p in loop.critic.parameters())


def test_the_wgan_reference_loop_warms_up_as_the_official_code_does():
    loop, _ = _loop(algorithm="wgan")
    steps = {}
    for done in (0, 24, 25, 499, 500):
        loop.generator_iterations = done
        steps[done] = loop.critic_steps()
    assert steps == {0: 100, 24: 100, 25: 5, 499: 5, 500: 100}
    assert _loop(algorithm="wgan", warmup=False)[0].critic_steps() == 5


def test_the_wgan_gp_reference_loop_runs_on_a_conv_critic_in_bf16():
    loop, _ = _loop(algorithm="wgan-gp", data="digits", model="dcgan", width=8, precision="bf16")
    assert isinstance(loop, WGANGPLoop)
    before = [p.detach().clone() for p in loop.critic.parameters()]
    loop.iteration()
    assert sum(not torch.equal(old, new) for old, new in zip(before, loop.critic.parameters())) >= len(before) - 1
    assert all(torch.isfinite(p).all() for p in loop.critic.parameters())


def test_there_is_no_reference_loop_for_the_gans():
    with pytest.raises(WganError, match="no reference loop for gan"):  # one line from benchmarks, not a traceback
        _loop(algorithm="gan")
