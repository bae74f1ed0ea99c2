"""The moving average of the generator's weights (wgan.ema): its ramp, its update, and a run that keeps one."""

import sys

import pytest
import torch
from torch import nn

import wgan
from wgan.cli import main
from wgan.ema import GeneratorAverage, average_decay
from wgan.runs import RunFolder

TINY = dict(width=16, depth=2, batch_size=32, eval_samples=200, log_every=5, seed=2, figures=False)  # drawn: below


def test_the_ramp_forgets_the_initial_weights_fast_and_then_holds_the_decay():
    assert average_decay(0.999, 1) == pytest.approx(0.1)
    assert average_decay(0.999, 9) == pytest.approx(0.5)
    assert average_decay(0.999, 100_000) == 0.999
    assert average_decay(0.9, 1000) == 0.9


def test_each_update_is_the_ramped_lerp_and_buffers_are_the_generators():
    generator = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    average = GeneratorAverage(generator, decay=0.99)
    expected = [p.detach().clone() for p in generator.parameters()]
    for step in (1, 2, 3):
        with torch.no_grad():
            for parameter in generator.parameters():
                parameter.add_(torch.randn_like(parameter))
        generator(torch.randn(8, 3))  # moves the running statistics
        beta = average_decay(0.99, step)
        expected = [beta * e + (1 - beta) * p.detach() for e, p in zip(expected, generator.parameters())]
        average.update(step)
    for got, want in zip(average.module.parameters(), expected):
        torch.testing.assert_close(got, want)
    torch.testing.assert_close(average.module[1].running_mean, generator[1].running_mean)
    assert not any(p.requires_grad for p in average.module.parameters()) and not average.module.training
    # the critic steps after a generator step move the generator's statistics again: a copy made at the update
    # lagged n_critic passes behind at every evaluation and checkpoint
    generator(torch.randn(8, 3))
    assert all(torch.equal(mine, its) for mine, its in zip(average.module.buffers(), generator.buffers()))
    state = {name: value.clone() for name, value in average.state_dict().items()}
    state["1.running_mean"] += 1  # a checkpoint's stale copy (older code) does not overwrite the generator's own
    state["0.weight"] += 1  # while its weights are loaded
    before = generator[1].running_mean.clone()
    average.load_state_dict(state)
    assert torch.equal(generator[1].running_mean, before) and torch.equal(average.module[0].weight, state["0.weight"])


def test_a_batch_norm_generators_average_resumes_bit_for_bit_with_the_generators_statistics(tmp_path):
    common = dict(data="digits", model="dcgan", image_size=16, width=8, batch_size=16, eval_samples=64, eval_every=2,
                  ema_decay=0.9, lr_decay="none", n_critic=2, warmup=False, out=str(tmp_path), progress=False)
    straight = wgan.train(name="straight", iterations=4, **common)
    wgan.train(name="split", iterations=2, **common)
    resumed = wgan.resume(tmp_path / "split", iterations=4, progress=False)
    for mine, its in ((straight.average, resumed.average), (straight.generator, resumed.generator)):
        assert all(torch.equal(a, b) for a, b in zip(mine.state_dict().values(), its.state_dict().values()))
    saved = RunFolder.open(tmp_path / "split").load_checkpoint("latest")
    statistics = [name for name in saved["generator"] if "running" in name or "num_batches" in name]
    assert statistics and all(torch.equal(saved["generator_average"][name], saved["generator"][name])
                               for name in statistics)  # the average's statistics are the generator's


def test_a_run_with_an_average_evaluates_both_checkpoints_it_and_resumes_it_exactly(tmp_path):
    common = dict(TINY, out=str(tmp_path), eval_every=2, ema_decay=0.9, lr_decay="none", figures=True)
    straight = wgan.train(name="straight", iterations=4, progress=False, **common)
    row = straight.history[-1]
    assert {"eval/w1", "eval/ema_w1", "eval/ema_modes_covered", "eval/ema_estimate"} <= row.keys()
    assert (tmp_path / "straight" / "samples" / "ema" / "iter_000004.png").is_file()
    assert "generator_average" in RunFolder.open(tmp_path / "straight").load_checkpoint("latest")

    wgan.train(name="split", iterations=2, progress=False, **common)
    resumed = wgan.resume(tmp_path / "split", iterations=4, progress=False)
    for got, want in zip(resumed.average.parameters(), straight.average.parameters()):
        assert torch.equal(got, want)
    assert not all(torch.equal(a, g) for a, g in zip(straight.average.parameters(),
                                                     straight.generator.parameters()))


def test_sample_and_eval_use_the_average_unless_told_otherwise(tmp_path, capsys):
    run = wgan.train(name="run", iterations=4, eval_every=4, out=str(tmp_path), progress=False, ema_decay=0.9,
                     **TINY)
    assert (run.sample(5, seed=1) == wgan.api.generate(run.average, run.config.latent_dim, 5, 1)).all()
    assert (run.sample(5, seed=1, ema=False) == wgan.api.generate(run.generator, run.config.latent_dim, 5, 1)).all()
    assert wgan.evaluate_run(tmp_path / "run", samples=100)["generator"] == "moving average"
    assert wgan.evaluate_run(tmp_path / "run", samples=100)["samples"] == 100  # eval_best.json did not say
    assert wgan.evaluate_run(tmp_path / "run", samples=100, ema=False)["generator"] == "generator"

    for flags, drawn_by in (([], "its moving average"), (["--no-ema"], "its generator")):  # the line did not say
        assert main(["sample", "--run", str(tmp_path / "run"), "--n", "5", "--out", str(tmp_path / "s.npy"),
                     *flags]) == 0
        assert f"(best, iteration 4, {drawn_by}) to " in capsys.readouterr().out

    plain = wgan.train(name="plain", iterations=2, eval_every=2, out=str(tmp_path), progress=False, **TINY)
    assert plain.average is None
    assert main(["eval", "--run", str(tmp_path / "plain"), "--samples", "50", "--ema"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.endswith("to use the generator itself\n")  # eval said "to sample"


def test_ema_decay_outside_0_to_1_is_one_line(capsys, tmp_path):
    assert main(["train", "--ema-decay", "1.5", "--out", str(tmp_path)]) == 2
    assert "ema_decay must lie in [0, 1)" in capsys.readouterr().err and not any(tmp_path.iterdir())


def test_without_a_terminal_progress_is_one_plain_line_per_log_point(tmp_path, capsys):
    assert not sys.stderr.isatty()  # as in a batch job, whose output is a file
    assert main(["train", "--iterations", "4", "--log-every", "2", "--eval-every", "4", "--width", "8", "--depth", "1",
                 "--batch-size", "16", "--eval-samples", "100", "--out", str(tmp_path), "--name", "run"]) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.out + captured.err
    lines = [line for line in captured.out.splitlines() if "it/s" in line]
    assert [line.split(" | ")[0] for line in lines] == ["run: iteration 2/4", "run: iteration 4/4"]
