"""Evaluation on points: the critic's estimate sees every evaluation sample, exact W1 and the figure the first
EXACT_SAMPLES of them."""

import copy

import pytest
import torch
from torch import nn

from wgan.config import make_config
from wgan.data import build_sampler
from wgan.distances import w1
from wgan.errors import WganError
from wgan.metrics import EXACT_SAMPLES, evaluate
from wgan.objectives import build_objective


def test_on_points_the_estimate_uses_all_samples_and_exact_w1_the_first_exact_samples():
    sampler = build_sampler("8gaussians", torch.device("cpu"))
    generator, critic = nn.Linear(2, 2), nn.Linear(2, 1)
    with torch.no_grad():  # fixed, not the global generator's draws: a random critic's two means came within 5e-5
        generator.weight.copy_(torch.tensor([[0.5, 0.0], [0.2, 0.3]]))
        generator.bias.zero_()
        critic.weight.copy_(torch.tensor([[1.0, -2.0]]))
    n = EXACT_SAMPLES + 500
    result = evaluate(generator, critic, build_objective(make_config(algorithm="wgan-gp")), sampler, 2, n, seed=7,
                      batch_size=64)
    assert result.real.shape == result.fake.shape == (EXACT_SAMPLES, 2)
    assert abs(result.scalars["w1"] - w1(result.real, result.fake)) < 1e-9

    rng = torch.Generator().manual_seed(7)  # the same draws as evaluate: real first, then the noise
    real = sampler.sample(n, rng)
    with torch.no_grad():
        fake = generator(torch.randn(n, 2, generator=rng))
        everything = (critic(real).mean() - critic(fake).mean()).item()
        first_only = (critic(real[:EXACT_SAMPLES]).mean() - critic(fake[:EXACT_SAMPLES]).mean()).item()
    assert abs(result.scalars["estimate"] - everything) < 1e-5
    assert abs(everything - first_only) > 1e-4  # the test tells the two apart


def test_a_batch_norm_critics_estimate_is_read_batch_by_batch_as_in_training_and_leaves_its_statistics_alone():
    sampler = build_sampler("8gaussians", torch.device("cpu"))
    torch.manual_seed(0)  # weights whose two readings differ clearly (0.18), whatever ran before
    generator = nn.Linear(2, 2)
    critic = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    untouched = copy.deepcopy(critic.state_dict())
    n, batch_size = 640, 64
    result = evaluate(generator, critic, build_objective(make_config(algorithm="wgan")), sampler, 2, n, seed=7,
                      batch_size=batch_size)
    assert critic.training
    assert all(torch.equal(value, untouched[key]) for key, value in critic.state_dict().items())

    rng = torch.Generator().manual_seed(7)
    real = sampler.sample(n, rng)
    with torch.no_grad():
        fake = generator(torch.randn(n, 2, generator=rng))
        in_training = torch.cat([critic(b) for b in real.split(batch_size)]).mean() \
            - torch.cat([critic(b) for b in fake.split(batch_size)]).mean()
        critic.eval()
        with_running_statistics = critic(real).mean() - critic(fake).mean()
    assert abs(result.scalars["estimate"] - in_training.item()) < 1e-5
    assert abs(in_training - with_running_statistics).item() > 1e-2  # the test tells the two readings apart


class _ProcessGroupLike:
    """Stands for the process group a SyncBatchNorm layer holds while rank 0 evaluates alone, which cannot be
    copied ("cannot pickle 'ProcessGroup' object")."""

    def __deepcopy__(self, memo):
        raise TypeError("cannot pickle 'torch._C._distributed_c10d.ProcessGroup' object")


def test_a_sync_batch_norm_critic_is_read_as_in_training_with_its_process_group_kept_not_copied():
    # --sync-batchnorm with a batch-norm critic: rank 0's first evaluation copied the critic, process group and all
    sampler = build_sampler("8gaussians", torch.device("cpu"))
    torch.manual_seed(0)
    generator = nn.Linear(2, 2)
    critic = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(critic))
    group = synced[1].process_group = _ProcessGroupLike()
    objective = build_objective(make_config(algorithm="wgan"))
    plain = evaluate(generator, critic, objective, sampler, 2, 640, seed=7, batch_size=64)
    result = evaluate(generator, synced, objective, sampler, 2, 640, seed=7, batch_size=64)
    assert abs(result.scalars["estimate"] - plain.scalars["estimate"]) < 1e-6 and synced[1].process_group is group


@pytest.mark.parametrize("n, seed, outputs, said", [
    (0, 7, 2, "n is 0; expected a whole number of at least 2"), (-1, 7, 2, "n is -1"), (10, 1.5, 2, "seed"),
    (10, 7, 3, r"the generator makes samples of shape \(3,\), and the data's are \(2,\)")])
def test_evaluate_refuses_what_it_cannot_measure_in_one_line(n, seed, outputs, said):
    # reshape, negative-dimension, manual_seed and matrix-shape errors from inside torch (found by the measuring hunt)
    sampler = build_sampler("8gaussians", torch.device("cpu"))
    with pytest.raises(WganError, match=said):
        evaluate(nn.Linear(2, outputs), nn.Linear(2, 1), build_objective(make_config(algorithm="wgan-gp")), sampler,
                 2, n, seed=seed, batch_size=64)


def test_a_run_of_the_largest_seed_is_evaluated():
    # its evaluation stream, seed + 1, is past the largest seed a run may have, which evaluate refused
    import wgan

    run = wgan.train(seed=2**32 - 1, iterations=1, eval_every=1, width=8, batch_size=16, eval_samples=50, write=False,
                     progress=False)
    assert "eval/w1" in run.history[-1]


def test_seeds_torch_would_alias_are_refused_for_new_runs_and_samples_and_an_older_runs_seed_still_loads(
        tmp_path, monkeypatch):
    # seeds 7 and 7 + 2**32 trained the same run: torch's generator keeps a seed's low 32 bits
    import wgan

    small = dict(iterations=1, eval_every=1, width=8, batch_size=16, eval_samples=50, progress=False)
    for seed in (2**32 + 7, -1):
        with pytest.raises(WganError, match=r"^seed must be a whole number from 0 to 2\*\*32 - 1"):
            wgan.train(seed=seed, out=str(tmp_path), **small)
    assert not any(tmp_path.iterdir())
    run = wgan.train(seed=7, out=str(tmp_path), **small)
    with pytest.raises(WganError, match=r"^seed must be a whole number from 0 to 2\*\*32 - 1"):
        run.sample(10, seed=2**32)
    with pytest.raises(WganError, match=r"^seed must be a whole number from 0 to 2\*\*32 - 1"):
        wgan.evaluate_run(run.path, "latest", seed=-1)
    monkeypatch.setattr(wgan.config, "check_torch_seed", lambda seed: seed)  # as earlier versions let through
    older = wgan.train(seed=-5, out=str(tmp_path), name="older", **small).path
    monkeypatch.undo()
    assert wgan.load_run(older, "latest").config.seed == -5
    assert wgan.evaluate_run(older, "latest")["seed"] == -4
