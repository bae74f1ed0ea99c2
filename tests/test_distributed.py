"""Several processes on torch.distributed (gloo on CPU): two ranks train what one process trains.

How close "the same" is. Every rank draws the global batch from one stream and keeps its rows, and DDP averages
the ranks' gradients, so two ranks compute the one-process gradient with the sums taken in another order. Where
the networks are smooth in their weights (the GAN's logistic loss, an ELU critic, a leaky-ReLU conv critic)
that is all, and after K iterations the weights agree to float32 rounding: within 1e-5 of the distance
training moved them (measured 5e-7 to 1.2e-6 at K = 3 and 10).

A ReLU MLP under a Wasserstein loss adds one effect. The gradient of a bias whose unit is active on as many
real as generated samples is exactly 0 (w (k/n - k/n)); computed, it is a rounding residue such as -7e-9, whose
sign and size depend on the order of the sums. Adam and RMSProp step by g / (|g| + eps), about lr whatever
|g|, so such a weight moves by up to lr in one run and not in the other, and the gap then spreads through the
next gradients. Measured at K = 3, 5 and 10 (benchmarks/rank_equality.py, docs/BENCHMARKS.md): 6e-4 to 1.2e-2 of
the distance moved, against 1.5 to 60 for another seed. Those configurations are held to 5e-2.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

import wgan
from wgan.api import _assemble
from wgan.cli import _without_nproc, main
from wgan.data import build_sampler
from wgan import cli, distributed
from wgan import launcher as launcher_module
from wgan.distributed import World, sync_batch_norm
from wgan.errors import WganError
from wgan.exits import (EXIT_INTERRUPTED, EXIT_LOST_PEER, EXIT_STOPPED, EXIT_USER_ERROR, NEW_FOLDER, OUTCOME_FILE,
                        RESUMED_FOLDER, RUN_FOLDER_FILE, tell_launcher_the_run)
from wgan.launcher import _launched, first_failure, launch
from wgan.processes import child_processes, started_rank
from wgan.randomness import RandomStream, Shard
from wgan.runs import RunFolder

SCRIPT = Path(__file__).parent / "scripts" / "train_on_every_rank.py"
ROUNDING = 1e-5  # of the distance the weights moved: smooth networks
ADAPTIVE_STEP_ON_ZERO_GRADIENT = 5e-2  # ReLU MLPs under a Wasserstein loss (see the module docstring)
# no figures (most of a small run's time, in rank 0) but where a test looks at them
SMALL = dict(width=64, batch_size=64, eval_samples=500, figures=False)
SMALL_FLAGS = ["--width", "64", "--batch-size", "64", "--eval-samples", "500", "--quiet", "--no-figures"]
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}  # 2 ranks x 1 thread on CI's 2 cores

# (settings, tolerance): wgan and wgan-gp as the toy defaults (ReLU MLP, one-pass loss, warm-up, linear
# decay), wgan-gp through autograd (ELU MLP), wgan-gp with a small DCGAN critic (one-pass loss through
# convolutions and their transposes), the minimax GAN.
CONFIGURATIONS = {
    "wgan-relu-mlp": (dict(SMALL, algorithm="wgan", iterations=5, warmup_generator_iters=2,
                           warmup_critic_steps=10), ADAPTIVE_STEP_ON_ZERO_GRADIENT),
    "wgan-gp-relu-mlp": (dict(SMALL, algorithm="wgan-gp", iterations=5), ADAPTIVE_STEP_ON_ZERO_GRADIENT),
    "wgan-gp-elu-mlp": (dict(SMALL, algorithm="wgan-gp", iterations=5, activation="elu"), ROUNDING),
    "wgan-gp-conv": (dict(algorithm="wgan-gp", data="digits", model="dcgan", generator_norm="none", width=8,
                          batch_size=32, eval_samples=200, iterations=5), ROUNDING),
    "gan-relu-mlp": (dict(SMALL, algorithm="gan", iterations=5), ROUNDING),
}
ONE_PASS = {"wgan-gp-relu-mlp", "wgan-gp-conv"}  # the configurations whose critic loss is one pass's


def _flat(*modules: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for module in modules for p in module.parameters()])


def _initial_weights(settings: dict) -> torch.Tensor:
    trainer = _assemble(wgan.make_config(**settings), lambda: None, scores=False)
    return _flat(trainer.generator, trainer.critic)


def _relative_gap(weights: torch.Tensor, reference: torch.Tensor, start: torch.Tensor) -> float:
    """||weights - reference|| as a fraction of the distance training moved the reference from ``start``."""
    return ((weights - reference).norm() / (reference - start).norm()).item()


def _torchrun(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *arguments]
    return subprocess.run(command, env=ONE_THREAD, capture_output=True, text=True, timeout=timeout)


def _wgan(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wgan", *arguments], env=ONE_THREAD, capture_output=True,
                          text=True, timeout=timeout)


def _checkpoint(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "latest.pt", weights_only=True)


# The random streams ----------------------------------------------------------------------------------------
def test_the_shards_of_every_draw_put_together_are_the_draw_of_one_process():
    sampler = build_sampler("25gaussians", "cpu")
    one = RandomStream.seeded(5, "cpu")
    four = [RandomStream.seeded(5, "cpu", Shard(rank, 4)) for rank in range(4)]
    assert torch.equal(one.normal(32, 3), torch.cat([stream.normal(8, 3) for stream in four]))
    # several batches at once (a phase's noise): each batch's shards put together
    ranks_batches = torch.stack([stream.normal(8, 3, batches=2).unflatten(0, (2, 8)) for stream in four], dim=1)
    assert torch.equal(one.normal(32, 3, batches=2), ranks_batches.flatten(0, 2))
    assert torch.equal(one.sample(sampler, 32), torch.cat([stream.sample(sampler, 8) for stream in four]))
    assert all(torch.equal(one.get_state(), stream.get_state()) for stream in four)  # the streams stay in step


def test_the_ranks_command_line_drops_nproc_in_every_spelling():
    assert _without_nproc(["train", "--nproc", "2", "--iterations", "5"]) == ["train", "--iterations", "5"]
    assert _without_nproc(["train", "--nproc=2", "--name", "n"]) == ["train", "--name", "n"]
    assert _without_nproc(["train", "--npr", "4", "--n-critic", "3"]) == ["train", "--n-critic", "3"]


def test_sync_batchnorm_is_refused_on_cpus_with_a_line_that_says_what_each_rank_normalises_over():
    critic = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))
    assert sync_batch_norm(critic, World(), torch.device("cpu")) is critic  # one process: nothing to sync
    with pytest.raises(WganError, match="needs CUDA.*each process normalises over its own share"):
        sync_batch_norm(critic, World(rank=0, size=2), torch.device("cpu"))


def test_rank_0_evaluates_sync_batchnorm_layers_by_itself_and_gives_them_back_their_group():
    critic = torch.nn.SyncBatchNorm.convert_sync_batchnorm(torch.nn.Sequential(torch.nn.BatchNorm2d(4)))
    layer, alone, everyone = critic[0], object(), object()
    layer.process_group = everyone
    with World(rank=0, size=2, alone=alone).by_itself(critic):
        assert layer.process_group is alone
    assert layer.process_group is everyone


# Two ranks train what one process trains -------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_rank_weights(tmp_path_factory):
    """Every configuration trained once on two ranks (one torchrun launch): {name: ([rank 0, rank 1] weights,
    [rank 0, rank 1] critic losses computed in one pass)}."""
    folder = tmp_path_factory.mktemp("two-ranks")
    (folder / "configs.json").write_text(json.dumps([settings for settings, _ in CONFIGURATIONS.values()]))
    done = _torchrun(str(SCRIPT), str(folder / "configs.json"), str(folder / "weights.pt"))
    assert done.returncode == 0, done.stderr[-3000:]
    saved = torch.load(folder / "weights.pt")
    return dict(zip(CONFIGURATIONS, zip(saved["weights"], saved["one_pass_losses"])))


@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_two_ranks_train_the_weights_one_process_trains_and_stay_identical(name, two_rank_weights):
    settings, tolerance = CONFIGURATIONS[name]
    (rank0, rank1), one_pass_losses = two_rank_weights[name]
    assert torch.equal(rank0, rank1)  # DDP hands every rank the same averaged gradient
    # the ranks compute the critic loss as one process does: the ReLU MLP's in one pass, through DDP's forward
    assert one_pass_losses[0] == one_pass_losses[1] and (one_pass_losses[0] > 0) == (name in ONE_PASS)
    one = wgan.train(write=False, progress=False, **settings)
    reference, start = _flat(one.generator, one.critic), _initial_weights(settings)
    assert _relative_gap(rank0, reference, start) < tolerance
    other_seed = wgan.train(write=False, progress=False, **dict(settings, seed=1))
    assert _relative_gap(_flat(other_seed.generator, other_seed.critic), reference, start) > 1  # can fail


# Run folders, resuming, failures -----------------------------------------------------------------------------
SMOOTH = ["--activation", "elu", "--lr-decay", "none", "--eval-every", "3", "--log-every", "1", *SMALL_FLAGS]


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_run_started_on_two_ranks_resumes_on_one_and_back_as_the_uninterrupted_run(tmp_path):
    assert main(["train", "--iterations", "6", "--out", str(tmp_path), "--name", "straight", *SMOOTH]) == 0
    done = _wgan("train", "--iterations", "3", "--out", str(tmp_path), "--name", "two-then-one", "--nproc", "2",
                 *SMOOTH)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["straight", "two-then-one"]  # rank 0 alone wrote
    assert main(["train", "--resume", str(tmp_path / "two-then-one"), "--iterations", "6", "--quiet"]) == 0
    assert main(["train", "--iterations", "3", "--out", str(tmp_path), "--name", "one-then-two", *SMOOTH]) == 0
    done = _wgan("train", "--resume", str(tmp_path / "one-then-two"), "--iterations", "6", "--nproc", "2", "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]

    straight = _checkpoint(tmp_path / "straight")
    start = _initial_weights(dict(SMALL, activation="elu", lr_decay="none"))
    reference = torch.cat([p.flatten() for net in ("generator", "critic") for p in straight[net].values()])
    for name in ("two-then-one", "one-then-two"):
        resumed = _checkpoint(tmp_path / name)
        assert resumed["iteration"] == 6 and torch.equal(resumed["rng"], straight["rng"])
        weights = torch.cat([p.flatten() for net in ("generator", "critic") for p in resumed[net].values()])
        assert _relative_gap(weights, reference, start) < ROUNDING
        rows = _rows(tmp_path / name)
        logged = [row["iteration"] for row in rows if "train/estimate" in row]
        assert logged == [1, 2, 3, 4, 5, 6]  # one row per iteration: none lost, none written twice
        for row, expected in zip(rows, _rows(tmp_path / "straight")):
            assert row["iteration"] == expected["iteration"]
            assert row.get("train/estimate", 0) == pytest.approx(expected.get("train/estimate", 0), rel=1e-4)


def test_a_time_budget_stops_every_rank_at_the_same_iteration(tmp_path):
    done = _wgan("train", "--iterations", "100000", "--max-minutes", "0.02", "--eval-every", "1000", "--out",
                 str(tmp_path), "--name", "budget", "--nproc", "2", *SMALL_FLAGS, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    state = _checkpoint(tmp_path / "budget")
    assert 0 < state["iteration"] < 100000 and state["train_seconds"] >= 0.02 * 60
    assert _rows(tmp_path / "budget")[-1]["iteration"] == state["iteration"]


def test_a_resumed_run_whose_batch_does_not_split_over_the_ranks_is_told_which_numbers_fit(tmp_path, capsys,
                                                                                          monkeypatch):
    # "choose a multiple of 3": a resume cannot change the batch size; and on 2 cores it offered 16, which --nproc
    # then refused ("use at most 8")
    assert main(["train", "--iterations", "2", "--out", str(tmp_path), "--name", "run", *SMALL_FLAGS]) == 0
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "4", "--nproc", "3"]) == 2
    assert capsys.readouterr().err.strip() == (
        "wgan: error: the run's batch_size 64 does not split over 3 processes, and a resume keeps it: resume on a "
        "number of processes that divides 64, such as 1, 2, 4, 8")


def test_a_rank_left_in_the_environment_outside_torchrun_does_not_hide_the_help(monkeypatch, capsys):
    # RANK=1 without WORLD_SIZE printed nothing for --help, and exited 0
    monkeypatch.setenv("RANK", "1")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--help"])
    assert capsys.readouterr().out.startswith("usage: wgan train")


def test_a_batch_that_does_not_split_over_the_ranks_is_one_line_and_no_folder(tmp_path):
    done = _wgan("train", "--batch-size", "63", "--nproc", "2", "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "batch_size 63 does not split over 2 processes" in done.stderr
    done = _torchrun("-m", "wgan", "train", "--batch-size", "63", "--out", str(tmp_path))  # plain torchrun
    assert done.returncode != 0 and done.stderr.count("wgan: error: batch_size 63") == 1  # rank 0 alone says it
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.mark.parametrize("environment, named", [
    ({"WORLD_SIZE": "0"}, "the environment's WORLD_SIZE '0' is not a number of processes of at least 1"),  # % 0
    ({"WORLD_SIZE": "abc"}, "the environment's WORLD_SIZE 'abc' is not a number"),  # int()'s traceback
    ({"WORLD_SIZE": "2"}, "the environment's RANK '' is not a rank of WORLD_SIZE 2 (0 to 1)"),  # torch's traceback
    ({"WORLD_SIZE": "2", "RANK": "5"}, "the environment's RANK '5' is not a rank of WORLD_SIZE 2"),  # hung
    ({"WORLD_SIZE": "2", "RANK": "0"}, "WORLD_SIZE is 2 but the environment has no MASTER_ADDR"),
    ({"WORLD_SIZE": "²"}, "the environment's WORLD_SIZE '²' is not a number"),  # isdigit() took it, int() not
    ({"WORLD_SIZE": "2", "RANK": "²"}, "the environment's RANK '²' is not a rank of WORLD_SIZE 2"),
    ({"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "localhost", "MASTER_PORT": "abc"},
     "the environment's MASTER_PORT 'abc' is not a port number (1 to 65535)"),  # a traceback from the rendezvous
])
def test_a_launch_environment_that_torchrun_would_not_set_is_one_line(tmp_path, monkeypatch, capsys, environment,
                                                                       named):
    for name in ("WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert main(["train", "--iterations", "2", "--out", str(tmp_path / "runs"), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"wgan: error: {named}") and len(error.splitlines()) == 1
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("set_by_user, ranks_get", [(None, "ERROR"), ("INFO", "INFO")])
def test_the_launched_ranks_keep_c10d_retry_warnings_off_the_users_screen(monkeypatch, set_by_user, ranks_get):
    # a rank's first connection to the launcher's store was reset on a loaded machine, and its retry succeeded, but
    # the run's one line came after two C++ stack traces
    import torch.distributed.run as torchrun

    monkeypatch.setenv("TORCH_CPP_LOG_LEVEL", set_by_user or "")  # the test's process gets its own back
    if set_by_user is None:
        monkeypatch.delenv("TORCH_CPP_LOG_LEVEL")
    seen = []
    monkeypatch.setattr(torchrun, "run", lambda arguments: seen.append(os.environ.get("TORCH_CPP_LOG_LEVEL")))
    assert launch(2, ["train"]) == (0, "")
    assert seen == [ranks_get]


def test_more_processes_than_the_machine_could_run_side_by_side_are_refused(tmp_path, capsys):
    # --nproc 100000 started processes for ten minutes, printing nothing
    assert main(["train", "--nproc", "100000", "--out", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err.startswith("wgan: error: --nproc 100000 is more than 4 processes for each of")
    assert not (tmp_path / "runs").exists()


def test_ranks_given_different_settings_stop_with_the_difference_instead_of_waiting_for_ever(tmp_path):
    # rank 0 waited in the last barrier and rank 1 in DDP's all-reduce until killed
    script = tmp_path / "differ.py"
    script.write_text("import os, wgan\nwgan.train(write=False, progress=False, width=16, eval_samples=200, "
                      "iterations=20 + 10 * int(os.environ['RANK']))\n")
    done = _torchrun(str(script), timeout=120)
    assert done.returncode != 0
    assert "WganError: on rank 1: settings differ from rank 0's (iterations 30 against 20)" in done.stderr


def test_a_stop_signal_to_the_launcher_once_training_has_ended_lets_both_ranks_finish(tmp_path):
    # the agent passed it on to rank 1, waiting for rank 0 in the last barrier with SIGTERM's default action: it
    # died, and rank 0, drawing the figures, then lost contact with it (status 3) instead of finishing
    script = tmp_path / "ended.py"
    script.write_text(
        "import os, signal, time, wgan\nfrom wgan import api\ndrawn = api._draw_curves\n"
        "signal.signal(signal.SIGTERM, lambda number, frame: os.write(1, b'handed on\\n'))\n"
        "def signalled_while_drawn(*args):\n    os.kill(os.getppid(), signal.SIGTERM)\n    time.sleep(2)\n"
        "    drawn(*args)\n"
        "api._draw_curves = signalled_while_drawn\n"
        f"run = wgan.train(iterations=4, eval_every=2, out={str(tmp_path)!r}, name='run', progress=False, "
        f"**{SMALL | {'figures': True}})\n"
        "os.write(1, f'trained {run.iteration}\\n'.encode())\n")  # one write
    done = _torchrun(str(script), timeout=120)
    assert done.stdout.count("trained 4") == 2, done.stderr[-2000:]
    assert done.stdout.count("handed on") == 2  # to the script's handler, once both had finished
    assert (tmp_path / "run" / "curves.png").is_file()


ONE_RANKS_STATISTICS_DIVERGE = """
import os, sys, torch, wgan
from wgan.trainer import Trainer
rank, finite, told = int(os.environ["RANK"]), Trainer._weights_finite, []

def rank_1_not_finite_once_at_2(self):  # a batch-norm statistic of rank 1 alone (buffers are not broadcast)
    if rank == 1 and self.iteration == 2 and not told:
        told.append(True)
        return torch.tensor(False)
    return finite(self)

Trainer._weights_finite = rank_1_not_finite_once_at_2
run = wgan.train(iterations=6, eval_every=2, log_every=5, width=16, batch_size=16, eval_samples=100, out=sys.argv[1],
                 name="run", progress=False)
os.write(1, f"rank {rank} trained {run.iteration}\\n".encode())
"""


def test_a_state_not_finite_on_one_rank_at_an_evaluation_rolls_every_rank_back_together(tmp_path):
    # that rank alone rolled back, its next collective met rank 0's other one, and gloo aborted the run
    script = tmp_path / "diverging.py"
    script.write_text(ONE_RANKS_STATISTICS_DIVERGE)
    done = _torchrun(str(script), str(tmp_path / "runs"), timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(done.stdout.split("\n")[:2]) == ["rank 0 trained 6", "rank 1 trained 6"]
    assert "is not finite at iteration 2: rolled back to iteration 0" in done.stderr


def test_a_script_under_torchrun_trains_again_after_a_first_run_and_a_refused_one(tmp_path):
    # the second call left the process group and joined it again, which waited for ever on torchrun's store
    script = tmp_path / "sweep.py"
    script.write_text("import os, wgan\nsettings = dict(write=False, progress=False, width=16, batch_size=32, "
                      "eval_samples=200, iterations=4, eval_every=4)\n"
                      "for seed in (0, 1):\n    wgan.train(seed=seed, **settings)\n"
                      "try:\n    wgan.train(seed=int(os.environ['RANK']), **settings)\n"
                      "except wgan.WganError:\n    pass\n"
                      "os.write(1, f'trained {wgan.train(**settings).iteration}\\n'.encode())\n")  # one write
    done = _torchrun(str(script), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("trained 4") == 2


def test_ranks_whose_launcher_is_killed_stop_and_save_instead_of_training_on_alone(tmp_path):
    # the ranks trained on to the end with nobody watching, and their lock refused the folder's resume; then
    # both ranks tried the dead launcher's store for about 50 s, printing c10d's stack traces, and rank 1 ended
    # with "continue with `wgan train --resume None`"
    command = [sys.executable, "-m", "wgan", "train", "--iterations", "100000", "--log-every", "1", "--eval-every",
               "1000", "--lr-decay", "none", "--out", str(tmp_path), "--name", "orphaned", "--nproc", "2",
               *SMALL_FLAGS]
    with open(tmp_path / "stderr", "w") as stderr:
        launcher = subprocess.Popen(command, env=ONE_THREAD, stdout=subprocess.DEVNULL, stderr=stderr,
                                    start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "orphaned" / "metrics.jsonl").is_file():
            assert time.monotonic() < deadline and launcher.poll() is None
            time.sleep(0.2)
        ranks = child_processes(launcher.pid)
    finally:
        launcher.kill()
    assert len(ranks) == 2
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{rank}").exists() for rank in ranks):  # reaped by init once they end
        assert time.monotonic() < deadline, "the ranks outlived their launcher by 20 s"
        time.sleep(0.2)
    with open(tmp_path / "orphaned" / ".lock") as lock:  # rank 0 has let go of its flock
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    state = _checkpoint(tmp_path / "orphaned")
    assert 0 < state["iteration"] < 1000  # saved at the stop, not at an evaluation
    said = (tmp_path / "stderr").read_text()
    assert said == (f"wgan: stopped by SIGTERM at iteration {state['iteration']}; the latest checkpoint is saved: "
                    f"continue with `wgan train --resume {tmp_path / 'orphaned'}`\n")


def test_a_problem_of_rank_0_alone_and_a_parsing_error_are_said_once_without_a_rank_prefix(tmp_path):
    # "wgan: error: on rank 0: run folder ... already exists"; plain torchrun printed argparse's error twice
    assert main(["train", "--iterations", "2", "--out", str(tmp_path), "--name", "taken", *SMALL_FLAGS]) == 0
    done = _wgan("train", "--nproc", "2", "--out", str(tmp_path), "--name", "taken", *SMALL_FLAGS)
    assert done.returncode == 2 and done.stderr.strip().startswith(
        f"wgan: error: run folder '{tmp_path / 'taken'}' already exists")
    done = _torchrun("-m", "wgan", "train", "--bogus")
    assert done.stderr.count("wgan train: error: unrecognized arguments: --bogus (see wgan train --help)") == 1


def test_a_run_of_two_ranks_with_a_batch_norm_critic_evaluates_later_as_it_did_in_training(tmp_path):
    # wgan eval read the critic over whole batches, training over each rank's half: its estimate differed
    done = _wgan("train", "--nproc", "2", "--data", "digits", "--algorithm", "wgan", "--iterations", "10",
                 "--eval-every", "5", "--batch-size", "32", "--eval-samples", "200", "--warmup-critic-steps", "5",
                 "--out", str(tmp_path), "--name", "bn", "--quiet")
    assert done.returncode == 0, done.stderr
    logged = [row for row in RunFolder.open(tmp_path / "bn").history if "eval/estimate" in row][-1]
    assert wgan.evaluate_run(tmp_path / "bn", "latest")["estimate"] == pytest.approx(logged["eval/estimate"],
                                                                                     rel=1e-6)


@pytest.fixture
def launcher_store(monkeypatch):
    """A key-value store where torchrun's agent keeps one, and this process seen as a rank of two by it."""
    store = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False, timeout=timedelta(seconds=10))
    for name, value in {"TORCHELASTIC_USE_AGENT_STORE": "True", "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": str(store.port), "WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    return store


def test_a_rank_with_a_shared_error_exits_only_once_rank_0_has_printed_it(launcher_store, monkeypatch, capfd):
    monkeypatch.setenv("RANK", "1")
    rank_1 = threading.Thread(target=distributed.report, args=("wgan: error: the same on every rank",))
    rank_1.start()
    rank_1.join(timeout=1.0)
    assert rank_1.is_alive()  # rank 0 has not printed yet: exiting now could get it stopped before it does
    assert capfd.readouterr().err == ""
    monkeypatch.setenv("RANK", "0")
    distributed.report("wgan: error: the same on every rank")
    rank_1.join(timeout=10)
    assert not rank_1.is_alive() and capfd.readouterr().err == "wgan: error: the same on every rank\n"


def test_a_rank_that_hears_nothing_from_rank_0_prints_the_error_itself(launcher_store, monkeypatch, capfd):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setattr(distributed, "REPORT_WAIT_SECONDS", 0.5)
    distributed.report("wgan: error: found on rank 1 alone")
    assert capfd.readouterr().err == "wgan: error: found on rank 1 alone\n"
    distributed.report("wgan: stopped ...: continue with `wgan train --resume None`", of_the_run_folder=True)
    assert capfd.readouterr().err == ""  # where the checkpoint is, rank 0 alone knows and says


def test_a_ctrl_c_to_a_rank_waiting_for_rank_0s_word_ends_the_wait_as_if_unheard(launcher_store, monkeypatch, capfd):
    # a second Ctrl-C, which the launcher passes on, met rank 1 after its stop, waiting to hear that rank 0 had
    # said where the checkpoint is: a KeyboardInterrupt traceback under [rank1]
    monkeypatch.setenv("RANK", "1")

    def ctrl_c(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", ctrl_c)
    distributed.report("wgan: stopped ...: continue with `wgan train --resume None`", of_the_run_folder=True)
    assert capfd.readouterr().err == ""  # where the checkpoint is, rank 0 alone knows and says
    distributed.report("wgan: error: out of memory on rank 1 alone")
    assert capfd.readouterr().err == "wgan: error: out of memory on rank 1 alone\n"  # perhaps no other rank knows


def test_a_rank_whose_launcher_has_gone_prints_at_once_without_c10d_retries(monkeypatch, capfd):
    with socket.socket() as closed:  # a port where nothing listens, as the killed agent's store
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    for name, value in {"TORCHELASTIC_USE_AGENT_STORE": "True", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                        "WORLD_SIZE": "2", "RANK": "1"}.items():
        monkeypatch.setenv(name, value)
    start = time.monotonic()
    distributed.report("wgan: error: found on rank 1 alone")
    assert time.monotonic() - start < 5  # the store's client had retried for about 50 s
    assert capfd.readouterr().err == "wgan: error: found on rank 1 alone\n"  # and printed c10d's stack traces


# A killed launcher, seen by its rank: its first thread has ended (Linux's SIGTERM to the rank goes out then), while
# another thread of it keeps its store's socket open, listening but never answering. (The rank's output goes to
# files: the launcher's own copies of the test's pipes stay open with that thread.)
DYING_LAUNCHER = """
import ctypes, os, socket, subprocess, sys, threading, time
store = socket.socket()
store.bind(("127.0.0.1", 0))
store.listen(8)
rank = sys.argv[1]
environment = {**os.environ, "TORCHELASTIC_USE_AGENT_STORE": "True", "MASTER_ADDR": "127.0.0.1",
               "MASTER_PORT": str(store.getsockname()[1]), "WORLD_SIZE": "2", "RANK": rank}
with open(f"stderr{rank}", "w") as stderr, open(f"took{rank}", "w") as took:
    subprocess.Popen([sys.executable, "-c", sys.argv[2]], env=environment, stdout=took, stderr=stderr)
threading.Thread(target=time.sleep, args=(600,)).start()
ctypes.CDLL(None).pthread_exit(None)
"""
RANK_STOPPED_AS_ITS_LAUNCHER_ENDS = """
import os, time
from pathlib import Path
from wgan import distributed
launcher = Path(f"/proc/{os.getppid()}/stat")
while launcher.read_text().rsplit(")", 1)[1].split()[0] != "Z":  # until the launcher's first thread has ended
    time.sleep(0.01)
start = time.monotonic()
distributed.report("wgan: stopped by SIGTERM at iteration 3", of_the_run_folder=True)
print(time.monotonic() - start)
"""


@pytest.mark.parametrize("rank, said", [("0", "wgan: stopped by SIGTERM at iteration 3\n"), ("1", "")])
def test_a_rank_whose_launcher_is_ending_leaves_its_store_alone_and_exits_at_once(tmp_path, rank, said):
    # with the socket still open, rank 0 (after its line) and rank 1 connected to the store and waited on it:
    # torch's client retried for about a minute, printing c10d's stack traces, and the ranks outlived their
    # killed launcher by more than 20 s
    launcher = subprocess.Popen([sys.executable, "-c", DYING_LAUNCHER, rank, RANK_STOPPED_AS_ITS_LAUNCHER_ENDS],
                                cwd=tmp_path, start_new_session=True)
    try:
        took, deadline = tmp_path / f"took{rank}", time.monotonic() + 30
        while not (took.is_file() and took.read_text().strip()):
            assert time.monotonic() < deadline, (tmp_path / f"stderr{rank}").read_text()[-2000:]
            time.sleep(0.1)
    finally:
        os.killpg(launcher.pid, signal.SIGKILL)
        launcher.wait()
    assert float(took.read_text()) < 5
    assert (tmp_path / f"stderr{rank}").read_text() == said


@pytest.mark.parametrize("world_size, torn_down", [("2", ""), ("1", "torn down\n")])
def test_a_finished_rank_exits_with_its_status_and_output_but_without_the_interpreter_teardown(world_size, torn_down):
    script = ("import atexit; from wgan import distributed; atexit.register(print, 'torn down'); "
              "print('saved', end=''); distributed.exit_process(3)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "WORLD_SIZE": world_size})
    assert (done.returncode, done.stdout) == (3, "saved" + torn_down)  # a rank runs no atexit handler: no teardown


def _failure(rank: int, exitcode: int, timestamp: int) -> ProcessFailure:
    """torchrun's record of a rank that ended with ``exitcode`` (minus a signal), at ``timestamp``."""
    failure = ProcessFailure(local_rank=rank, pid=1000 + rank, exitcode=exitcode, error_file="<none>")
    failure.timestamp = timestamp
    return failure


@pytest.mark.parametrize("failures, first", [
    # rank 1 killed; rank 0 did not end within 30 s of the agent's SIGTERM and was killed then
    ({1: (-signal.SIGKILL, 100), 0: (-signal.SIGKILL, 130)}, 1),
    # rank 1 failed; rank 0 lost contact with it and the agent stopped rank 2, both in the same second
    ({0: (EXIT_LOST_PEER, 100), 1: (1, 100), 2: (-signal.SIGTERM, 100)}, 1),
    ({0: (1, 100), 1: (-signal.SIGSEGV, 100)}, 0),  # in the same second: the lower rank
    ({1: (EXIT_LOST_PEER, 101), 2: (-signal.SIGTERM, 100)}, 2),  # all followers: the first
])
def test_the_launcher_names_the_rank_that_failed_first(failures, first):
    failures = {rank: _failure(rank, exitcode, timestamp) for rank, (exitcode, timestamp) in failures.items()}
    rank, failure = first_failure(failures)
    assert (rank, failure) == (first, failures[first])


def _launch_failing(tmp_path: Path, told: str | None, status: int = -signal.SIGKILL) -> tuple[int, str]:
    """The launcher's status and line after rank 1 ended with ``status``, rank 0 having written ``told`` (or
    nothing) as the run folder's record."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    def run(arguments):
        raise ChildFailedError("wgan", {1: _failure(1, status, 100)})

    record = tmp_path / "told"
    if told is not None:
        record.write_text(told)
    return _launched(run, None, str(tmp_path / "outcome"), str(record), 2)


@pytest.mark.parametrize("made, checkpoint, config, kept", [
    (NEW_FOLDER, None, True, False),  # rank 0 ended before it could remove it: the launcher does
    (NEW_FOLDER, "previous", True, True),  # a checkpoint to resume from: kept
    (NEW_FOLDER, None, False, True),  # not a run folder (no config.toml): never removed
    (RESUMED_FOLDER, None, True, True),  # a folder this launch did not make: never removed
])
def test_the_launcher_removes_a_new_folder_that_rank_0_left_without_a_checkpoint(tmp_path, made, checkpoint, config,
                                                                                  kept):
    folder = tmp_path / "run with space"
    (folder / "checkpoints").mkdir(parents=True)
    if config:
        (folder / "config.toml").write_text("")
    if checkpoint:
        (folder / "checkpoints" / f"{checkpoint}.pt").write_bytes(b"saved")
    status, line = _launch_failing(tmp_path, f"{made}\n{folder}")
    assert status == 1 and folder.exists() == kept
    assert line.endswith(f"continue from its last checkpoint with `wgan train --resume '{folder}' --nproc 2`" if kept
                         else f"the run stopped before its first checkpoint, and its folder {folder} is removed: "
                              "start it again")


@pytest.mark.parametrize("other_run", [False, True])
def test_the_launcher_removes_the_out_folders_rank_0_made_for_a_new_folder_it_removes(tmp_path, other_run):
    # they were left empty, the run folder inside them removed
    folder = tmp_path / "out" / "new" / "run"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text("")
    if other_run:  # started in the folders made for this one
        (tmp_path / "out" / "new" / "other").mkdir()
    status, line = _launch_failing(tmp_path, f"{NEW_FOLDER}\n{folder}\n{tmp_path / 'out'}")
    assert status == 1 and line.endswith(f"its folder {folder} is removed: start it again")
    assert not folder.exists() and (tmp_path / "out" / "new").exists() == other_run


def test_the_launcher_removes_the_new_folder_whatever_the_status_a_rank_ended_with(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.toml").write_text("")
    assert _launch_failing(tmp_path, f"{NEW_FOLDER}\n{folder}", status=EXIT_USER_ERROR) == (2, "")
    assert not folder.exists()


@pytest.mark.parametrize("told", [None, "", NEW_FOLDER, f"{NEW_FOLDER}\n", f"{NEW_FOLDER}\nrelative", "other\n/x"])
def test_a_run_folder_record_not_in_its_form_removes_nothing(tmp_path, monkeypatch, told):
    # a record "new\n" (an empty path) emptied the launcher's working folder; an empty one was a traceback
    monkeypatch.chdir(tmp_path)
    (tmp_path / "relative").mkdir()
    (tmp_path / "config.toml").write_text("")
    (tmp_path / "relative" / "config.toml").write_text("")
    status, line = _launch_failing(tmp_path, told)
    assert status == 1 and line.endswith("the run had opened no folder yet: start it again")
    assert (tmp_path / "config.toml").is_file() and (tmp_path / "relative" / "config.toml").is_file()


def test_a_resumed_folder_gone_is_not_called_removed(tmp_path):
    status, line = _launch_failing(tmp_path, f"{RESUMED_FOLDER}\n{tmp_path / 'moved'}")
    assert line.endswith(f"its run folder {tmp_path / 'moved'} is no longer there (moved or removed): resume it "
                         "where it is now, with `wgan train --resume FOLDER --nproc 2`")


@pytest.mark.parametrize("checkpointed", [True, False], ids=["checkpointed", "before-its-first-checkpoint"])
def test_a_killed_rank_stops_the_others_with_one_line_instead_of_a_hang(tmp_path, checkpointed):
    # before its first checkpoint, the agent's SIGTERM to rank 0 ended it as it handled the lost contact: the new
    # folder stayed, which nothing could resume, and the launcher's line told to resume it
    command = [sys.executable, "-m", "wgan", "train", "--iterations", "1000000", "--log-every", "1", "--out",
               str(tmp_path), "--name", "killed", "--nproc", "2", "--eval-every", "1" if checkpointed else "1000",
               *SMALL_FLAGS]
    launcher = subprocess.Popen(command, env=ONE_THREAD, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    written = tmp_path / "killed" / ("checkpoints/latest.pt" if checkpointed else "metrics.jsonl")
    try:
        deadline = time.monotonic() + 120
        while not written.is_file():  # both ranks are training
            assert time.monotonic() < deadline and launcher.poll() is None
            time.sleep(0.2)
        ranks = {started_rank(pid): pid for pid in child_processes(launcher.pid)}
        os.kill(ranks[1], signal.SIGKILL)
        _, stderr = launcher.communicate(timeout=60)  # no hang: the launcher returns within a minute
    finally:
        launcher.kill()
    assert launcher.returncode == 1
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("wgan: error: rank 1 of 2") and "SIGKILL" in last
    assert "lost contact" not in stderr  # rank 0's line, which the launcher's says better
    if checkpointed:
        assert last.endswith(f"with `wgan train --resume {tmp_path / 'killed'} --nproc 2`")  # it said RUN_DIR
    else:
        assert last.endswith(f"the run stopped before its first checkpoint, and its folder {tmp_path / 'killed'} is "
                             "removed: start it again")
        assert not (tmp_path / "killed").exists()


def _all_succeed(processes: list[subprocess.Popen], timeout: float) -> None:
    """Wait for ``processes`` (killed if still running after ``timeout``) and check that each exited 0."""
    try:
        outcomes = [process.communicate(timeout=timeout) for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert [process.returncode for process in processes] == [0] * len(processes), [err[-2000:] for _, err in outcomes]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_nodes_on_one_machine_meet_through_a_c10d_rendezvous_and_train_what_one_process_trains(tmp_path):
    flags = ["--iterations", "3", "--out", str(tmp_path), "--name", "nodes", *SMOOTH]
    endpoint = f"127.0.0.1:{_free_port()}"
    nodes = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node_rank",
                               str(node), "--nproc_per_node", "1", "--rdzv-backend", "c10d", "--rdzv-endpoint",
                               endpoint, "--rdzv-id", "wgan-test", "-m", "wgan", "train", *flags],
                              env=ONE_THREAD, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for node in (0, 1)]
    _all_succeed(nodes, timeout=240)
    assert main(["train", "--iterations", "3", "--out", str(tmp_path), "--name", "one", *SMOOTH]) == 0
    two, one = _checkpoint(tmp_path / "nodes"), _checkpoint(tmp_path / "one")
    start = _initial_weights(dict(SMALL, activation="elu", lr_decay="none"))
    flat = [torch.cat([p.flatten() for net in ("generator", "critic") for p in state[net].values()])
            for state in (two, one)]
    assert _relative_gap(flat[0], flat[1], start) < ROUNDING
    assert sorted(path.name for path in tmp_path.iterdir()) == ["nodes", "one"]


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP], ids=lambda sent: sent.name)
def test_a_stop_signal_to_the_launcher_stops_every_rank_at_one_iteration_and_rank_0_saves_once(tmp_path, sent):
    # SIGUSR1 (the RELIABILITY job script's) killed the launcher and left the ranks training on their own; a
    # SIGHUP, which the ranks do not catch, exited 75 ("the latest checkpoint is saved") with nothing saved
    command = [sys.executable, "-m", "wgan", "train", "--iterations", "100000", "--log-every", "1", "--eval-every",
               "1000", "--lr-decay", "none", "--out", str(tmp_path), "--name", "stopped", "--nproc", "2",
               *SMALL_FLAGS]
    launcher = subprocess.Popen(command, env=ONE_THREAD, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "stopped" / "metrics.jsonl").is_file():
            assert time.monotonic() < deadline and launcher.poll() is None
            time.sleep(0.2)
        launcher.send_signal(sent)
        _, stderr = launcher.communicate(timeout=60)
    finally:
        launcher.kill()
    lines = stderr.strip().splitlines()
    if sent == signal.SIGHUP:  # the ranks die of it: the launcher says so, and nothing was saved at the signal;
        # rank 0 could not remove its new folder, which held no checkpoint: the launcher does
        assert launcher.returncode == 128 + signal.SIGHUP and lines == [
            "wgan: stopped by SIGHUP before the processes could save: the run stopped before its first checkpoint, "
            f"and its folder {tmp_path / 'stopped'} is removed: start it again"]
        assert not (tmp_path / "stopped").exists()
        return
    assert launcher.returncode == 75
    assert len(lines) == 1 and lines[0].startswith(f"wgan: stopped by {sent.name} at iteration ")  # rank 0 alone
    state = _checkpoint(tmp_path / "stopped")
    assert f"at iteration {state['iteration']};" in lines[0] and 0 < state["iteration"] < 1000
    assert main(["train", "--resume", str(tmp_path / "stopped"), "--iterations", str(state["iteration"] + 2),
                 "--quiet"]) == 0


def test_a_second_ctrl_c_to_the_launcher_reaches_the_ranks_and_the_launcher_ends_after_them(tmp_path):
    # torchrun's handler raised again inside its wait for the ranks: the launcher said "stopped by SIGINT before the
    # processes could save" (130) of a run that rank 0 then saved, rank 0's own line came after the launcher had
    # returned, and the second Ctrl-C never reached the ranks
    command = [sys.executable, "-m", "wgan", "train", "--iterations", "100000", "--log-every", "1", "--eval-every",
               "5", "--lr-decay", "none", "--out", str(tmp_path), "--name", "stopped", "--nproc", "2",
               *SMALL_FLAGS, "--width", "512"]  # iterations long enough for the second Ctrl-C to come as they stop
    launcher = subprocess.Popen(command, env=ONE_THREAD, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "stopped" / "checkpoints" / "latest.pt").is_file():  # (a stop at once keeps it)
            assert time.monotonic() < deadline and launcher.poll() is None
            time.sleep(0.2)
        ranks = child_processes(launcher.pid)
        launcher.send_signal(signal.SIGINT)
        time.sleep(0.05)
        launcher.send_signal(signal.SIGINT)
        _, stderr = launcher.communicate(timeout=60)
        outlived = [pid for pid in ranks if Path(f"/proc/{pid}").exists()]  # reaped by the launcher, or orphans
    finally:
        launcher.kill()
    assert outlived == [] and len(ranks) == 2
    said = {EXIT_INTERRUPTED: "wgan: interrupted at once; the checkpoint last written is kept: continue with ",
            EXIT_STOPPED: "wgan: stopped by SIGINT at iteration "}  # the second Ctrl-C as rank 0 stops, or after
    lines = stderr.strip().splitlines()
    assert launcher.returncode in said and len(lines) == 1 and lines[0].startswith(said[launcher.returncode]), stderr
    iteration = _checkpoint(tmp_path / "stopped")["iteration"]
    assert main(["train", "--resume", str(tmp_path / "stopped"), "--iterations", str(iteration + 2), "--quiet"]) == 0


@pytest.mark.parametrize("ranks", [[4242, 4243], []])
def test_a_later_signal_to_the_launcher_is_passed_to_its_ranks_or_raised_where_there_are_none(monkeypatch, ranks):
    # with no ranks found (all ended, or no /proc) a later signal must still end torchrun's wait, as it did
    from torch.distributed.elastic.multiprocessing import api

    sent = []
    monkeypatch.setattr(launcher_module, "child_processes", lambda parent: ranks)
    monkeypatch.setattr(os, "kill", lambda pid, number: sent.append((pid, number)))
    with launcher_module._later_signals_passed_to_rank_0():
        with pytest.raises(api.SignalException):  # the first: torchrun's agent stops the ranks with it
            api._terminate_process_handler(signal.SIGINT, None)
        if ranks:
            api._terminate_process_handler(signal.SIGINT, None)
            assert sent == [(pid, signal.SIGINT) for pid in ranks]
        else:
            with pytest.raises(api.SignalException):
                api._terminate_process_handler(signal.SIGINT, None)
    assert api._terminate_process_handler.__name__ == "_terminate_process_handler"  # torchrun's own, given back


def test_a_later_signal_goes_to_rank_0_alone_while_it_runs():
    # every rank stopped at once on its own: one waited in a collective operation, another for rank 0's word, until
    # torchrun's agent killed them 30 s later, rank 0 before it could say anything
    ranks = [subprocess.Popen([sys.executable, "-c", "import time; print(flush=True); time.sleep(60)"],
                              env={**os.environ, "RANK": rank}, stdout=subprocess.PIPE) for rank in ("1", "0")]
    try:
        for rank in ranks:  # running: Popen returns as the exec begins, and /proc's environ of a process in the
            rank.stdout.readline()  # middle of its exec read empty under load (both ranks were found, not rank 0)
        pids = [rank.pid for rank in ranks]
        assert launcher_module.deciding_rank(pids) == [pids[1]]
        assert launcher_module.deciding_rank(pids[:1]) == pids[:1]  # rank 0 ended: the others
    finally:
        for rank in ranks:
            rank.kill()
            rank.wait()


@pytest.mark.parametrize("launcher, said", [("torchrun", True), ("wgan train --nproc", False)])
def test_a_rank_that_lost_contact_says_so_unless_the_wgan_launcher_names_the_failure(monkeypatch, capsys, launcher,
                                                                                      said):
    # under `wgan train --nproc` the line came beside the launcher's, which names the rank that failed and how
    def lost(args):
        raise RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer")

    monkeypatch.setattr(cli, "_train", lost)
    monkeypatch.setenv("RANK", "1")
    if launcher != "torchrun":
        monkeypatch.setenv(OUTCOME_FILE, "/nonexistent/status")
    assert main(["train", "--quiet"]) == EXIT_LOST_PEER
    assert ("rank 1 lost contact with the other processes (Connection closed by peer)" in capsys.readouterr().err) \
        == said


def test_processes_started_by_hand_meet_and_train(tmp_path):
    # RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set without torchrun: the processes meet in wgan's own wait
    port = str(_free_port())
    processes = [subprocess.Popen([sys.executable, "-m", "wgan", "train", "--iterations", "3", "--eval-every", "3",
                                   "--out", str(tmp_path), "--name", "by-hand", *SMALL_FLAGS],
                                  env={**ONE_THREAD, "WORLD_SIZE": "2", "RANK": rank, "MASTER_ADDR": "127.0.0.1",
                                       "MASTER_PORT": port}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for rank in ("1", "0")]  # rank 1 first: it waits for rank 0 to listen
    _all_succeed(processes, timeout=180)
    assert _checkpoint(tmp_path / "by-hand")["iteration"] == 3


LONE_RANK = """
import sys
from wgan import distributed
from wgan.cli import main
distributed.MEETING_SAID_AFTER_SECONDS = 0.5
sys.exit(main(["train", "--iterations", "2", "--out", sys.argv[1]]))
"""


@pytest.mark.parametrize("rank, awaited", [("0", "the other processes"), ("1", "rank 0")])
def test_a_process_started_by_hand_without_the_others_says_it_waits_and_stops_at_ctrl_c(tmp_path, rank, awaited):
    # it waited 30 minutes in torch's rendezvous without a word, deaf to Ctrl-C (rank 1 printed c10d's retries)
    port = _free_port()
    lone = subprocess.Popen([sys.executable, "-c", LONE_RANK, str(tmp_path / "runs")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**ONE_THREAD, "WORLD_SIZE": "2", "RANK": rank, "MASTER_ADDR": "127.0.0.1",
                                 "MASTER_PORT": str(port)})
    try:
        said = lone.stderr.readline()
        lone.send_signal(signal.SIGINT)
        _, rest = lone.communicate(timeout=30)
    finally:
        lone.kill()
    assert said == (f"wgan: rank {rank} of 2 is waiting for {awaited} at 127.0.0.1:{port}: start every process with "
                    "the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE, or stop this one with Ctrl-C\n")
    assert lone.returncode == 130 and rest.strip() == ("wgan: interrupted at once, before the run's first checkpoint: "
                                                       "no run folder is left")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("launched", [True, False])
def test_only_a_launched_rank_whose_launcher_has_gone_stops_itself(monkeypatch, launched):
    # a process started by hand whose parent is init (a service, nohup after its shell left) sent itself SIGTERM
    sent, asked = [], []
    monkeypatch.setattr(distributed.ctypes, "CDLL", lambda *args, **kwargs: SimpleNamespace(
        prctl=lambda *request: asked.append(request)))
    monkeypatch.setattr(distributed.os, "getppid", lambda: 1)
    monkeypatch.setattr(distributed.os, "kill", lambda pid, number: sent.append(number))
    monkeypatch.setattr(distributed.signal, "signal", lambda number, handler: None)  # this process's own kept
    if launched:
        monkeypatch.setenv("TORCHELASTIC_RUN_ID", "none")
    else:
        monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    distributed._end_with_the_launcher()
    assert (sent, len(asked)) == (([signal.SIGTERM], 1) if launched else ([], 0))


# A launcher whose threads end one after another once its rank is ready: Linux signals the rank as each thread
# that is its parent at the time ends (a killed launcher's did 2 or 3 times within 95 ms).
LAUNCHER_ENDING_THREAD_BY_THREAD = """
import ctypes, os, subprocess, sys, threading, time
rank = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True,
                        env={**os.environ, "TORCHELASTIC_RUN_ID": "none"})
assert rank.stdout.readline() == "ready\\n"
threading.Thread(target=lambda: (time.sleep(1), os._exit(0))).start()  # ends the launcher a second later
ctypes.CDLL(None).pthread_exit(None)  # its first thread ends now (ctypes has let go of the GIL)
"""
RANK_COUNTING_ITS_STOP_SIGNALS = """
import os, signal, sys, time
from wgan import distributed
received = []
signal.signal(signal.SIGTERM, lambda number, frame: received.append(number))
distributed._end_with_the_launcher()
print("ready", flush=True)
deadline = time.monotonic() + 30
while not received and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(3)  # for the launcher's other thread to end too
with open(sys.argv[1], "w") as out:
    out.write(str(len(received)))
"""


def test_a_launcher_that_ends_thread_by_thread_stops_its_rank_with_one_sigterm(tmp_path):
    # each of the launcher's threads sent SIGTERM as it ended: a second one that came after rank 0 had taken its
    # stop met SIGTERM's default action, which ended rank 0 before it said where its checkpoint was (CI: nothing
    # said)
    counted = tmp_path / "received"
    rank = RANK_COUNTING_ITS_STOP_SIGNALS.replace("sys.argv[1]", repr(str(counted)))
    subprocess.run([sys.executable, "-c", LAUNCHER_ENDING_THREAD_BY_THREAD, rank], timeout=60, check=True)
    deadline = time.monotonic() + 40
    while not (counted.is_file() and counted.read_text()):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert counted.read_text() == "1"


@pytest.fixture
def by_hand(monkeypatch):
    """This process seen as started by hand, rank 0 expected at 127.0.0.1 on a free port (returned)."""
    port = _free_port()
    for name, value in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TORCHELASTIC_USE_AGENT_STORE", raising=False)
    monkeypatch.setattr(distributed, "MEETING_HANDSHAKE_SECONDS", 1)
    return port


def test_processes_started_by_hand_with_different_world_sizes_are_told_so(by_hand):
    # rank 1 of 2 met rank 0 of 4 and waited in torch's process group for ever, deaf to Ctrl-C
    rank_0 = dist.TCPStore("127.0.0.1", by_hand, 4, is_master=True, wait_for_workers=False)
    rank_0.set("wgan/world_size", "4")
    with pytest.raises(WganError, match="rank 1 was started with WORLD_SIZE 2 and rank 0 with 4: give every process "
                                        "the same WORLD_SIZE"):
        distributed._met(2, 1)


def test_a_port_taken_or_answered_by_another_program_is_one_line_for_processes_started_by_hand(by_hand):
    # rank 0 said it "lost contact with the other processes"; rank 1 waited for ever in torch's handshake
    with socket.socket() as other:
        other.bind(("127.0.0.1", by_hand))
        other.listen()
        with pytest.raises(WganError, match=f"rank 0 cannot listen at 127.0.0.1:{by_hand} .*: give every process a "
                                            "free MASTER_PORT"):
            distributed._met(2, 0)
        with pytest.raises(WganError, match=f"rank 1: what answers at 127.0.0.1:{by_hand} is not rank 0 \\(no reply "
                                            "in 1 s\\)"):
            distributed._met(2, 1)
        # torch's client, left waiting in its thread until the other program closes, then gives up with a C++
        # stack trace on stderr: while this test's output is captured, not later in the middle of the test run's
        other.close()
        for client in [thread for thread in threading.enumerate() if thread.name == "wgan-store-client"]:
            client.join()


def test_rank_0_tells_the_launcher_its_run_folder_by_its_absolute_path(tmp_path, monkeypatch):
    # the launcher reads the record from its own working folder, and removes nothing named by a relative path
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(RUN_FOLDER_FILE, str(tmp_path / "told"))
    tell_launcher_the_run("runs/new one", new=True)
    assert (tmp_path / "told").read_text() == f"{NEW_FOLDER}\n{tmp_path / 'runs' / 'new one'}"
    tell_launcher_the_run("made/runs/new one", new=True, made_out="made")  # the folders made for its out
    assert (tmp_path / "told").read_text() == \
        f"{NEW_FOLDER}\n{tmp_path / 'made' / 'runs' / 'new one'}\n{tmp_path / 'made'}"
    assert not (tmp_path / "told.part").exists()


def test_one_process_is_given_its_gpu_with_an_index_and_a_gpu_not_there_is_one_line(monkeypatch):
    # torch.device("cuda") != torch.device("cuda", 0), the device of the tensors on it: the image sampler took a
    # set already on the GPU for one on the host and copied its indices across at every batch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert [distributed.pick_device(name, World()) for name in ("auto", "cuda", "cuda:1")] == \
        [torch.device("cuda", 0), torch.device("cuda", 0), torch.device("cuda", 1)]
    with pytest.raises(WganError, match=r"device 'cuda:2' is not on this machine, which has 2 GPU\(s\): use cuda:0 "):
        distributed.pick_device("cuda:2", World())  # it was CUDA's "invalid device ordinal" at the first use


def test_importing_wgan_adds_no_warnings_filter():
    # distributed.py hid DDP's stride warning in the importing process's own code, whether or not it trained on
    # several ranks
    code = ("import warnings, torch; before = len(warnings.filters); import wgan, wgan.api, wgan.distributed; "
            "print(len(warnings.filters) - before)")
    added = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert added.stdout.strip() == "0", added.stderr
