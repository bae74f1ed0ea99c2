"""The n_critic schedule: the WGAN reference warm-up (100 critic steps for the first 25 generator iterations and
every 500th), plain n_critic without it, the counts a real short training run actually makes, and the order of
the steps: the critic catches up with each generator step before anything is logged, evaluated or saved."""

import copy
from collections import Counter

import pytest

import torch

from wgan.api import _assemble
from wgan.config import make_config
from wgan.trainer import critic_steps


def _warmup_count(iterations, n_critic, warm_steps, warm_iters, every):
    """Total critic steps over ``iterations`` generator iterations, counted from the rule by hand."""
    warm = set(range(min(warm_iters, iterations))) | set(range(0, iterations, every))
    return len(warm) * warm_steps + (iterations - len(warm)) * n_critic


# --------------------------------------------------------------------------------------- the rule itself
def test_wgan_warmup_gives_100_critic_steps_for_the_first_25_generator_iterations():
    config = make_config(algorithm="wgan")
    assert [critic_steps(config, i) for i in range(25)] == [100] * 25


def test_wgan_gives_5_critic_steps_after_the_first_25_except_every_500th():
    config = make_config(algorithm="wgan")
    assert all(critic_steps(config, i) == 5 for i in range(25, 500))
    assert critic_steps(config, 500) == 100
    assert critic_steps(config, 501) == 5
    assert critic_steps(config, 999) == 5
    assert critic_steps(config, 1000) == 100
    assert critic_steps(config, 1500) == 100
    assert critic_steps(config, 1499) == 5


def test_wgan_makes_7470_critic_steps_in_its_first_1000_generator_iterations():
    config = make_config(algorithm="wgan")
    # 25 warm-up iterations (i = 0 among them), i = 500, and 1000 - 26 ordinary ones
    expected = 25 * 100 + 100 + 5 * (1000 - 26)
    assert expected == 7470 == _warmup_count(1000, 5, 100, 25, 500)
    assert sum(critic_steps(config, i) for i in range(1000)) == expected


@pytest.mark.parametrize("algorithm,n_critic", [("wgan-gp", 5), ("wgan-lp", 5), ("gan", 1), ("gan-ns", 1)])
def test_without_warmup_every_iteration_gets_n_critic(algorithm, n_critic):
    config = make_config(algorithm=algorithm)
    assert config.warmup is False
    assert {critic_steps(config, i) for i in range(0, 1001)} == {n_critic}


def test_wgan_with_warmup_off_always_gets_n_critic():
    config = make_config(algorithm="wgan", warmup=False, n_critic=3)
    assert {critic_steps(config, i) for i in range(0, 1001)} == {3}


def test_penalty_algorithms_follow_the_warmup_fields_when_it_is_switched_on():
    config = make_config(algorithm="wgan-gp", warmup=True, warmup_critic_steps=9, warmup_generator_iters=1,
                         warmup_every=4)
    assert [critic_steps(config, i) for i in range(9)] == [9, 5, 5, 5, 9, 5, 5, 5, 9]


@pytest.mark.parametrize("n_critic,warm_steps,warm_iters,every,iterations", [
    (2, 7, 3, 10, 50),
    (5, 3, 0, 4, 21),
    (1, 20, 12, 5, 30),
    (4, 4, 2, 7, 40),
])
def test_custom_warmup_fields_set_the_counts(n_critic, warm_steps, warm_iters, every, iterations):
    config = make_config(algorithm="wgan", n_critic=n_critic, warmup_critic_steps=warm_steps,
                         warmup_generator_iters=warm_iters, warmup_every=every)
    for i in range(iterations):
        warm = i < warm_iters or i % every == 0
        assert critic_steps(config, i) == (warm_steps if warm else n_critic), i
    total = sum(critic_steps(config, i) for i in range(iterations))
    assert total == _warmup_count(iterations, n_critic, warm_steps, warm_iters, every)


def test_custom_warmup_example_has_135_critic_steps():
    # warm iterations 0, 1, 2, 10, 20, 30, 40: 7 * 7 + 43 * 2
    config = make_config(algorithm="wgan", n_critic=2, warmup_critic_steps=7, warmup_generator_iters=3,
                         warmup_every=10)
    assert sum(critic_steps(config, i) for i in range(50)) == 135


# ----------------------------------------------------------------------------------- a real training run
# the runs' evaluations at their ends, whose values these tests do not read: 100 samples, not the toy default's
# 20,000 (the exact W1 of 2000 took over a second a run); they draw from a stream of their own
UNREAD_EVAL_SAMPLES = 100


def _counting_trainer(**settings):
    config = make_config(data="8gaussians", width=8, depth=1, batch_size=8, eval_every=10_000, log_every=10_000,
                         device="cpu", eval_samples=UNREAD_EVAL_SAMPLES, **settings)
    trainer = _assemble(config, lambda: None)
    per_iteration = Counter()
    generator_steps = []
    critic_step, generator_step = trainer.critic_step, trainer.generator_step

    def counting_critic_step(*fake):
        per_iteration[trainer.iteration] += 1
        return critic_step(*fake)

    def counting_generator_step():
        generator_steps.append(trainer.iteration)
        return generator_step()

    trainer.critic_step = counting_critic_step
    trainer.generator_step = counting_generator_step
    return trainer, per_iteration, generator_steps


def test_short_wgan_run_makes_the_critic_steps_the_warmup_rule_gives():
    trainer, per_iteration, generator_steps = _counting_trainer(
        algorithm="wgan", iterations=30, warmup_critic_steps=3, warmup_generator_iters=2, warmup_every=10)
    history = trainer.fit(progress=False)
    # warm iterations 0, 1, 10, 20 get 3 steps, the other 26 get n_critic = 5; the run ends with the critic
    # catching up with the last generator: the (warm, 30 % 10 == 0) phase that precedes generator step 30
    assert sum(per_iteration.values()) == 4 * 3 + 26 * 5 + 3 == 145
    assert {i for i, n in per_iteration.items() if n == 3} == {0, 1, 10, 20, 30}
    assert all(per_iteration[i] == 5 for i in range(30) if i not in (0, 1, 10, 20))
    assert generator_steps == list(range(30))
    assert trainer.iteration == 30
    # without a run folder the last iteration is logged and evaluated as with one
    assert [row["iteration"] for row in history] == [30, 30]
    assert "train/estimate" in history[0] and "eval/w1" in history[1]


def test_short_wgan_gp_run_makes_n_critic_steps_per_generator_step():
    trainer, per_iteration, generator_steps = _counting_trainer(algorithm="wgan-gp", iterations=6, n_critic=3)
    trainer.fit(progress=False)
    assert per_iteration == Counter({i: 3 for i in range(7)})  # 6 generator steps, each followed by a phase
    assert generator_steps == list(range(6))


def test_linear_lr_decay_falls_from_lr_to_zero_and_constant_otherwise():
    from wgan.trainer import learning_rate

    config = make_config(algorithm="wgan-gp", lr=1e-3, iterations=100, lr_decay="linear")
    assert learning_rate(config, 0) == 1e-3
    assert learning_rate(config, 50) == pytest.approx(5e-4)
    assert learning_rate(config, 99) == pytest.approx(1e-5)
    constant = make_config(algorithm="wgan-gp", lr=1e-3, iterations=100, lr_decay="none")
    assert {learning_rate(constant, i) for i in (0, 50, 99)} == {1e-3}


def test_training_applies_the_decayed_rate_to_both_optimisers():
    config = make_config(algorithm="wgan-gp", iterations=4, lr=1e-3, lr_decay="linear", width=8, depth=1,
                         batch_size=8, n_critic=2, eval_samples=UNREAD_EVAL_SAMPLES)
    trainer = _assemble(config, lambda: None)
    rates = {"critic": [], "generator": []}
    critic_step, generator_step = trainer.critic_step, trainer.generator_step

    def recording(step, optimizer, name):
        def record(*fake):
            rates[name].append((trainer.iteration, optimizer.param_groups[0]["lr"]))
            return step(*fake)
        return record

    trainer.critic_step = recording(critic_step, trainer.critic_optimizer, "critic")
    trainer.generator_step = recording(generator_step, trainer.generator_optimizer, "generator")
    trainer.fit(progress=False)
    assert rates["generator"] == [(i, pytest.approx(1e-3 * (1 - i / 4))) for i in range(4)]
    # each generator step's rate also drives the critic steps before it, down to 0 for the closing phase
    assert rates["critic"] == [(i, pytest.approx(1e-3 * (1 - i / 4))) for i in range(5) for _ in range(2)]


def _steps_and_evaluations(**settings) -> str:
    """Train a tiny run and spell what it did: c a critic step, G a generator step, then each evaluation."""
    config = make_config(data="8gaussians", width=8, depth=1, batch_size=8, n_critic=2, device="cpu", **settings)
    trainer = _assemble(config, lambda: None)
    events = []
    critic_step, generator_step = trainer.critic_step, trainer.generator_step
    trainer.critic_step = lambda *fake: events.append("c") or critic_step(*fake)
    trainer.generator_step = lambda: events.append("G") or generator_step()
    trainer.evaluator = lambda iteration, average: events.append(f" evaluate {iteration} ") or {}
    trainer.fit(progress=False)
    return "".join(events)


def test_every_evaluation_sees_a_critic_that_has_caught_up_with_the_current_generator():
    done = _steps_and_evaluations(algorithm="wgan-gp", iterations=9, eval_every=3, log_every=3)
    assert done == "cc" + "".join("GccGccGcc" + f" evaluate {3 * i} " for i in (1, 2, 3))


def test_a_warm_up_phase_is_read_after_n_critic_steps_and_finished_after_the_boundary():
    # warm iterations 0 and every 4th get 6 critic steps, the others n_critic = 2
    done = _steps_and_evaluations(algorithm="wgan", iterations=8, eval_every=4, log_every=4, warmup_critic_steps=6,
                                  warmup_generator_iters=1, warmup_every=4)
    assert done == "ccccccGccGccGccGcc evaluate 4 ccccGccGccGccGcc evaluate 8 "


def test_a_checkpoint_written_before_the_critic_caught_up_continues_as_the_plain_loop_would():
    config = make_config(algorithm="wgan-gp", data="8gaussians", width=8, depth=1, batch_size=8, iterations=6,
                         lr_decay="linear", device="cpu", eval_samples=UNREAD_EVAL_SAMPLES)
    straight = _assemble(config, lambda: None)
    straight.fit(progress=False)
    older = _assemble(config, lambda: None)  # what the plain loop saved after 3 iterations: critic steps behind
    for _ in range(3):
        older.critic_steps_until(critic_steps(config, older.iteration))
        older.generator_step()
        older.iteration += 1
        older.critic_steps_done = 0
    state = older.state_dict()
    del state["critic_steps_done"]
    resumed = _assemble(config, lambda: None)
    resumed.load_state_dict(state)
    resumed.fit(progress=False)
    for name, module in (("generator", straight.generator), ("critic", straight.critic)):
        for key, tensor in module.state_dict().items():
            assert torch.equal(tensor, getattr(resumed, name).state_dict()[key]), (name, key)


# ------------------------------------------------------------------------------ the generated batches of a phase
@pytest.mark.parametrize("model, passes", [(dict(data="8gaussians", width=8, depth=1), [15]),
                                           (dict(data="digits", model="dcgan", width=8, generator_norm="none"), [15]),
                                           (dict(data="digits", model="dcgan", width=8), [3] * 5)],
                         ids=["mlp", "dcgan-without-batch-norm", "dcgan-with-batch-norm"])
def test_each_critic_step_of_a_phase_gets_its_own_batch_of_the_generator_on_its_own_noise(model, passes):
    """One pass makes a phase's batches, except through batch norm (each batch then normalised alone, as its
    own pass does); either way every step gets G(z) of fresh noise, the batch that a pass of its own gives."""
    config = make_config(algorithm="wgan-gp", batch_size=3, n_critic=5, device="cpu", **model)
    trainer = _assemble(config, lambda: None)
    generator, stream_state = copy.deepcopy(trainer.generator), trainer.stream.get_state()
    rows, fakes = [], []
    generate, critic_step = trainer._generate, trainer.critic_step
    trainer._generate = lambda noise: rows.append(len(noise)) or generate(noise)

    def recording_critic_step(fake=None):
        stats, real, fake = critic_step(fake)
        fakes.append(fake)
        return stats, real, fake

    trainer.critic_step = recording_critic_step
    trainer.critic_steps_until(5)
    assert rows == passes and [len(fake) for fake in fakes] == [3] * 5
    trainer.stream.generator.set_state(stream_state)
    phase_noise = trainer.stream.normal(3, config.latent_dim, batches=5).split(3) if len(passes) == 1 else None
    for step, fake in enumerate(fakes):
        if phase_noise is not None:
            noise = phase_noise[step]
        else:
            trainer.stream.sample(trainer.sampler, 3)  # the step's real batch, drawn before its noise
            noise = trainer.stream.normal(3, config.latent_dim)
            trainer.stream.uniform(3)  # then its interpolation weights
        with torch.no_grad():
            torch.testing.assert_close(fake, generator(noise), rtol=1e-5, atol=1e-6)
    assert all(not torch.equal(first, second) for first, second in zip(fakes, fakes[1:]))
