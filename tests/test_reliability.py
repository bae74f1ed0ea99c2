"""Faults, injected: preemption signals, kills at random moments, damaged checkpoints, divergence, full disks,
unwritable folders, a second writer, a resume that moves the decay's end. Nothing saved is lost, nothing
written is torn, and each fault ends in one line.

The kills at many random moments are long: CI runs 2 of them; ``pytest -m slow tests/test_reliability.py`` runs
the 50 of docs/RELIABILITY.md.
"""

from __future__ import annotations

import copy
import dataclasses
import errno
import io
import json
import math
import os
import pickle
import shutil
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import wgan
from wgan import checkpoints, cli
from wgan.cli import main
from wgan.config import load_toml
from wgan.exits import OUTCOME_FILE
from wgan.errors import Stopped, WganError
from wgan.play.watch import RunFollower
from wgan.resume_rules import require_trained_settings
from wgan.runs import RunFolder, atomic_write
from wgan.trainer import BEST_SCORES, Trainer, learning_rate

# A tiny run draws no figures (drawing is most of its time): the tests of the figures draw them (*TINY_DRAWN)
TINY_DRAWN = ["--width", "16", "--depth", "2", "--batch-size", "32", "--eval-samples", "200", "--quiet"]
TINY = [*TINY_DRAWN, "--no-figures"]
TINY_SETTINGS = dict(width=16, depth=2, batch_size=32, eval_samples=200, figures=False)
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _start(*arguments: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "wgan", *arguments], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _weights(state: dict) -> list[torch.Tensor]:
    return [tensor for net in ("generator", "critic") for tensor in state[net].values()]


def _refusing(opener, refused):
    """``opener`` (open, os.open, ...) as the system runs it where it refuses the paths that ``refused`` picks:
    as root, the tests cannot take a file's permissions away."""
    def opening(path, *arguments, **keywords):
        if refused(Path(path)):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return opener(path, *arguments, **keywords)

    return opening


def _latest(run: Path) -> dict:
    return checkpoints.unpack(run / "checkpoints" / "latest.pt")


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _without_times(rows: list[dict]) -> list[dict]:
    return [{key: value for key, value in row.items() if key != "time/train_minutes"} for row in rows]


# Preemption ---------------------------------------------------------------------------------------------------
# One handler takes the three stop signals (SIGINT adds a second Ctrl-C's branch): SIGTERM and SIGINT here, SIGUSR1
# and SIGINT in the figures' test below
@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT], ids=lambda sent: sent.name)
def test_a_stop_signal_saves_the_latest_checkpoint_and_the_run_resumes_exactly(tmp_path, sent):
    run = tmp_path / "run"
    process = _start("train", "--iterations", "100000", "--eval-every", "1000", "--log-every", "1",
                     "--lr-decay", "none", "--out", str(tmp_path), "--name", "run", *TINY)
    _wait_for(run / "metrics.jsonl", process)
    process.send_signal(sent)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 75
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"wgan: stopped by {sent.name} at iteration ") and f"--resume {run}" in last
    stopped_at = _latest(run)["iteration"]
    assert f"at iteration {stopped_at};" in last and stopped_at < 1000  # saved at the stop, not at an evaluation

    until = stopped_at + 5
    assert main(["train", "--resume", str(run), "--iterations", str(until), "--quiet"]) == 0
    assert main(["train", "--iterations", str(until), "--eval-every", "1000", "--log-every", "1", "--lr-decay",
                 "none", "--out", str(tmp_path), "--name", "straight", *TINY]) == 0
    resumed, straight = _latest(run), _latest(tmp_path / "straight")
    assert all(torch.equal(a, b) for a, b in zip(_weights(resumed), _weights(straight)))
    assert _without_times(_rows(run)) == _without_times(_rows(tmp_path / "straight"))


def test_a_second_ctrl_c_stops_at_once_and_leaves_no_file_torn(tmp_path):
    run = tmp_path / "run"
    # iterations of about a second, so that the first Ctrl-C's stop at the end of one cannot come before the
    # second, sent 0.3 s later: two signals 30 ms apart could both come during one product and reach Python's
    # handler as one (the run then stopped at the iteration's end, exit 75, in full runs of the suite)
    process = _start("train", "--iterations", "100000", "--eval-every", "1", "--batch-size", "4096", "--eval-samples",
                     "500", "--out", str(tmp_path), "--name", "run", "--quiet")
    _wait_for(run / "checkpoints" / "latest.pt", process, seconds=300)
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)  # signals that come while a long product runs reach Python's handler as one: let it run first
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted at once" in stderr and "Traceback" not in stderr, \
        (process.returncode, stderr)
    assert f"continue with `wgan train --resume {run}`" in stderr  # it printed RUN_DIR
    state, _ = RunFolder.open(run).load_resumable()  # whatever was being written, what is there reads back
    assert main(["train", "--resume", str(run), "--iterations", str(state["iteration"] + 1), "--quiet"]) == 0


@pytest.mark.parametrize("when", ["fit", "__init__"])
def test_ctrl_c_before_the_first_checkpoint_leaves_no_run_folder_and_says_so(tmp_path, capsys, monkeypatch, when):
    # it left a folder without a checkpoint and told the user to resume "RUN_DIR"; then, while the trainer was
    # still being built after the folder was made, it left the folder and said that none was left
    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, when, interrupted)
    assert main(["train", "--iterations", "5", "--out", str(tmp_path), "--name", "run", "--quiet"]) == 130
    assert capsys.readouterr().err.strip() == ("wgan: interrupted at once, before the run's first checkpoint: no run "
                                               "folder is left")
    assert list(tmp_path.iterdir()) == []


SIGNAL_WHILE_THE_TRAINER_IS_BUILT = """
import os, signal, sys
from wgan.trainer import Trainer
built = Trainer.__init__

def terminated_while_built(self, *args, **kwargs):  # the new folder is made by now
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))
    built(self, *args, **kwargs)

Trainer.__init__ = terminated_while_built
from wgan.cli import main
sys.exit(main(["train", "--iterations", "5", "--out", sys.argv[1], "--name", "run", "--quiet"]))
"""


@pytest.mark.parametrize("sent", ["SIGTERM", "SIGUSR1"])
def test_a_stop_signal_while_a_new_run_starts_leaves_no_run_folder_and_says_so(tmp_path, sent):
    # it ended the process at once (status 143, or 138) and left a folder without a checkpoint, which nothing resumed
    finished = subprocess.run([sys.executable, "-c", SIGNAL_WHILE_THE_TRAINER_IS_BUILT, str(tmp_path / "runs"), sent],
                              capture_output=True, text=True, env=ENV, timeout=120)
    assert finished.returncode == 130
    assert finished.stderr.strip() == ("wgan: interrupted at once, before the run's first checkpoint: no run folder "
                                       "is left")
    assert not (tmp_path / "runs" / "run").exists()


SIGNAL_WHILE_THE_FIGURES_ARE_DRAWN = """
import os, signal, sys
from wgan import api
drawn = api._draw_curves

def signalled_while_drawn(*args):  # training has ended, its last checkpoint written
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))
    drawn(*args)

api._draw_curves = signalled_while_drawn
from wgan.cli import main
sys.exit(main(["train", "--iterations", "4", "--eval-every", "2", "--out", sys.argv[1], "--name", "run", "--quiet",
               "--width", "16", "--depth", "2", "--batch-size", "32", "--eval-samples", "200"]))
"""


@pytest.mark.parametrize("sent", ["SIGUSR1", "SIGINT"])  # (SIGTERM: the saving test above)
def test_a_stop_signal_once_training_has_ended_lets_the_run_draw_its_figures_and_finish(tmp_path, sent):
    # a scheduler's SIGTERM then ended the process at once (status 143): curves.png and progress.gif were never
    # drawn, and the finished run could not be resumed to draw them
    finished = subprocess.run([sys.executable, "-c", SIGNAL_WHILE_THE_FIGURES_ARE_DRAWN, str(tmp_path), sent],
                              capture_output=True, text=True, env=ENV, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith(f"done: {tmp_path / 'run'}")
    assert (tmp_path / "run" / "curves.png").is_file() and (tmp_path / "run" / "progress.gif").is_file()


CTRL_C_IN_TRAINING_THEN_IN_THE_FIGURES = """
import os, signal, sys
from wgan import api
from wgan.trainer import Trainer
drawn, stepped = api._draw_curves, Trainer.step

def interrupted_in_a_step(self):  # the first Ctrl-C: stop at the end of the iteration
    if self.iteration == 1:
        os.kill(os.getpid(), signal.SIGINT)
    return stepped(self)

def interrupted_while_drawn(*args):  # the second: now
    os.kill(os.getpid(), signal.SIGINT)
    drawn(*args)

Trainer.step, api._draw_curves = interrupted_in_a_step, interrupted_while_drawn
from wgan.cli import main
sys.exit(main(["train", "--iterations", "100", "--out", sys.argv[1], "--name", "run", "--quiet", "--width", "16",
               "--depth", "2", "--batch-size", "32", "--eval-samples", "200"]))
"""


def test_a_second_ctrl_c_while_a_stopped_run_draws_its_figures_interrupts_at_once(tmp_path):
    # it took a third: the count started again once training had ended
    finished = subprocess.run([sys.executable, "-c", CTRL_C_IN_TRAINING_THEN_IN_THE_FIGURES, str(tmp_path)],
                              capture_output=True, text=True, env=ENV, timeout=120)
    assert finished.returncode == 130, finished.stderr
    assert finished.stderr.strip().endswith(f"continue with `wgan train --resume {tmp_path / 'run'}`")


A_SCRIPT_THAT_TRAINS_TWICE = """
import os, signal, sys, wgan
from wgan import api
seen = []
signal.signal(signal.SIGTERM, lambda number, frame: seen.append(number))
drawn = api._draw_curves

def signalled_while_drawn(*args):
    os.kill(os.getpid(), signal.SIGTERM)
    drawn(*args)

api._draw_curves = signalled_while_drawn
for _ in range(2):
    wgan.train(iterations=2, eval_every=2, out=sys.argv[1], progress=False, width=16, depth=2, batch_size=32,
               eval_samples=200)
    print(len(seen))
"""


def test_a_stop_signal_let_pass_as_a_run_ends_reaches_the_scripts_own_handler_after(tmp_path):
    # it was let pass and lost: a script that stops its loop of runs on SIGTERM trained on
    finished = subprocess.run([sys.executable, "-c", A_SCRIPT_THAT_TRAINS_TWICE, str(tmp_path)], capture_output=True,
                              text=True, env=ENV, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split() == ["1", "2"]


INTERRUPT_DURING_AN_IMPORT = """
import os, signal, sys

out, module, held = sys.argv[1:]

class SigintWhenImported:  # a real Ctrl-C, at the moment a user's would most likely come
    def find_spec(self, name, path=None, target=None):
        if name == module:
            with open(held, "w") as file:  # whether it waits until the libraries are imported
                file.write(str(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])))
            os.kill(os.getpid(), signal.SIGINT)

sys.meta_path.insert(0, SigintWhenImported())
sys.argv = ["wgan", "train", "--iterations", "5", "--out", out]
from wgan.entry import main
main()
"""


@pytest.mark.parametrize("module", ["torch", "numpy.linalg"])  # numpy's: inside torch's C extension's import
def test_ctrl_c_while_the_command_still_imports_its_libraries_is_one_line_not_a_traceback(tmp_path, module):
    # the package imported the whole API (and torch) before the CLI could catch anything; then a Ctrl-C that landed
    # inside numpy's import (0.25 s after the start) left it half made: a RecursionError or AttributeError later, or
    # the interrupt lost while the run trained on. The signal is now held until the imports are done.
    # As rank 0 of `wgan train --nproc`, it tells the launcher its status, which had printed a second line
    # ("stopped by SIGINT before the processes could save").
    finished = subprocess.run([sys.executable, "-c", INTERRUPT_DURING_AN_IMPORT, str(tmp_path / "runs"), module,
                               str(tmp_path / "held")], capture_output=True, text=True, timeout=120,
                              env={**ENV, OUTCOME_FILE: str(tmp_path / "outcome")})
    assert finished.returncode == 130
    assert finished.stderr.strip() == "wgan: interrupted while starting, before anything was read or written"
    assert (tmp_path / "held").read_text() == "True"
    assert (tmp_path / "outcome").read_text() == "130"
    assert not (tmp_path / "runs").exists()


def test_ctrl_c_while_the_command_line_is_parsed_is_one_line_not_a_traceback(monkeypatch, capsys):
    # the ranks of `wgan train --nproc` parse their command as a Ctrl-C to the launch reaches them: a traceback
    class Interrupting:
        def parse_known_args(self, argv):
            raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", Interrupting)
    assert cli.main(["train"]) == 130
    assert capsys.readouterr().err.strip() == "wgan: interrupted while starting, before anything was read or written"


def test_importing_the_package_does_not_import_torch_until_a_public_name_is_used():
    shown = subprocess.run([sys.executable, "-c", "import sys, wgan; print('torch' in sys.modules); "
                            "print(wgan.train.__module__, wgan.WganError.__name__); print('torch' in sys.modules)"],
                           capture_output=True, text=True, env=ENV, timeout=120, check=True).stdout.split("\n")
    assert shown[:3] == ["False", "wgan.api WganError", "True"]
    # README's wgan.distances.w1 raised AttributeError after `import wgan` once the names were imported lazily
    used = subprocess.run([sys.executable, "-c", "import wgan; print(wgan.distances.w1([[0.0]], [[2.0]]), "
                           "wgan.plots.__name__, 'distances' in dir(wgan))"],
                          capture_output=True, text=True, env=ENV, timeout=120, check=True).stdout.split()
    assert used == ["2.0", "wgan.plots", "True"]

def test_ctrl_c_inside_a_checkpoint_write_is_an_interrupt_even_when_the_writers_clean_up_fails(tmp_path):
    # torch.save closes its zip archive on the way out; on a half-written file that raises a RuntimeError
    # ("unexpected pos"), which would replace the KeyboardInterrupt and end the CLI in a traceback
    class ZipArchive:
        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            raise RuntimeError("unexpected pos 2126400 vs 2126288")

    def interrupted_save(file):
        with ZipArchive():
            file.write(b"half a checkpoint")
            raise KeyboardInterrupt

    target = tmp_path / "latest.pt"
    target.write_bytes(b"the checkpoint before")
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, interrupted_save)
    assert target.read_bytes() == b"the checkpoint before"
    assert [path.name for path in tmp_path.iterdir()] == ["latest.pt"]  # no temporary file left behind
    with pytest.raises(RuntimeError, match="unexpected pos"):  # a failure with no interrupt behind it stays itself
        atomic_write(target, lambda file: ZipArchive().__exit__())


def test_the_trainer_stops_at_the_end_of_the_iteration_in_which_a_signal_came(tmp_path):
    trainer_run = wgan.make_config(**TINY_SETTINGS, iterations=50, eval_every=100, out=str(tmp_path), name="run")
    step = Trainer.generator_step

    def signalled_at_iteration_7(self):
        if self.iteration == 7:
            os.kill(os.getpid(), signal.SIGUSR1)  # arrives in the middle of iteration 8
        return step(self)

    patch = pytest.MonkeyPatch()
    patch.setattr(Trainer, "generator_step", signalled_at_iteration_7)
    try:
        with pytest.raises(Stopped) as stop:
            try:  # a loop over runs that catches Exception went on to its next run
                wgan.train(trainer_run, progress=False)
            except Exception:
                pytest.fail("the stop was taken for an error")
        with pytest.raises(wgan.Stopped) as unsaved:  # with write=False, the run so far is all there is
            wgan.train(dataclasses.replace(trainer_run, name="unsaved"), write=False, progress=False)
    finally:
        patch.undo()
    assert stop.value.iteration == 8 and stop.value.signal_name == "SIGUSR1"
    assert isinstance(stop.value, KeyboardInterrupt) and stop.value.run.iteration == 8
    assert stop.value.run.path == tmp_path / "run"
    assert unsaved.value.run.iteration == 8 and unsaved.value.run.path is None
    assert _latest(tmp_path / "run")["iteration"] == 8
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL  # the handlers are given back


# Kills at random moments --------------------------------------------------------------------------------------
def _kill_and_resume(tmp_path: Path, kills: int, seed: int) -> None:
    """Kill a run with SIGKILL at ``kills`` random moments of its training (during steps, evaluations and
    checkpoint writes), resuming it each time, then finish it a few evaluations after the last kill and check it
    against a run never killed: same weights, same rows, TensorBoard steps without duplicates, no torn or temporary
    file."""
    every = 20
    flags = ["--eval-every", str(every), "--log-every", "3", "--lr-decay", "none", *TINY]
    planned = ["--iterations", str(300 * kills)]  # more than the kills leave time to train: each lands before the end
    chance = random.Random(seed)
    run, latest = tmp_path / "killed", tmp_path / "killed" / "checkpoints" / "latest.pt"
    for kill in range(kills):
        saved_before = latest.stat().st_mtime_ns if kill else None
        process = _start(*(["train", "--resume", str(run), "--quiet"] if kill else
                           ["train", "--out", str(tmp_path), "--name", "killed", *planned, *flags]))
        deadline = time.monotonic() + 120
        while not latest.exists() or latest.stat().st_mtime_ns == saved_before:  # it trains: it saved again
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1][-2000:]
            time.sleep(0.02)
        time.sleep(chance.uniform(0.0, 1.0))
        assert process.poll() is None, "the run finished before it was killed"
        process.kill()
        process.wait()
        state, _ = RunFolder.open(run).load_resumable()  # a checkpoint always reads back, and the metrics
        assert state["iteration"] % every == 0  # (a kill in a write leaves a hidden .tmp beside the file, not
        # a torn file; the next run of the folder removes it)
    iterations = state["iteration"] + 3 * every  # the rest of the planned run adds nothing to what is checked
    finished = _start("train", "--resume", str(run), "--iterations", str(iterations), "--quiet")
    assert finished.wait(timeout=900) == 0
    assert main(["train", "--out", str(tmp_path), "--name", "straight", "--iterations", str(iterations), *flags]) == 0
    resumed, straight = _latest(run), _latest(tmp_path / "straight")
    assert resumed["iteration"] == iterations and not list(run.rglob("*.tmp"))
    assert all(torch.equal(a, b) for a, b in zip(_weights(resumed), _weights(straight)))
    assert _without_times(_rows(run)) == _without_times(_rows(tmp_path / "straight"))  # no torn or doubled row
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard")).Reload()
    steps = [event.step for event in events.Scalars("train/estimate")]
    assert steps == sorted(set(steps)) == list(range(3, iterations + 1, 3)) + ([iterations] if iterations % 3 else [])


def test_a_run_killed_at_random_moments_resumes_to_what_an_unkilled_run_computes(tmp_path):
    _kill_and_resume(tmp_path, kills=2, seed=0)


@pytest.mark.slow
def test_a_run_killed_at_fifty_random_moments_resumes_to_what_an_unkilled_run_computes(tmp_path):
    _kill_and_resume(tmp_path, kills=50, seed=1)


def test_a_metrics_line_cut_short_by_a_crash_is_dropped_and_the_file_repaired_on_resume(tmp_path):
    assert main(["train", "--iterations", "4", "--eval-every", "2", "--log-every", "1", "--out", str(tmp_path),
                 "--name", "run", *TINY]) == 0
    metrics = tmp_path / "run" / "metrics.jsonl"
    with open(metrics, "a") as file:
        file.write('{"iteration": 5, "train/critic_lo')  # the crash came in the middle of a write
    assert [row["iteration"] for row in RunFolder.open(tmp_path / "run").history][-1] == 4
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "6", "--quiet"]) == 0
    assert [row["iteration"] for row in _rows(tmp_path / "run") if "train/estimate" in row] == [1, 2, 3, 4, 5, 6]


def test_a_whole_metrics_line_that_is_not_json_is_named_even_when_it_is_the_last(tmp_path):
    assert main(["train", "--iterations", "2", "--eval-every", "2", "--log-every", "1", "--out", str(tmp_path),
                 "--name", "run", *TINY]) == 0
    metrics = tmp_path / "run" / "metrics.jsonl"
    rows = metrics.read_text()
    # a whole line ends with its newline: no crash cut it. The one-line file read as an empty history, without a
    # word; a byte that is not UTF-8 was a UnicodeDecodeError traceback; a number, a row the live page choked on
    for edited, line in ((rows + "iteration 3: 0.5\n", rows.count("\n") + 1), ("not a row\n", 1),
                         (rows + "\xff\xfe\n", rows.count("\n") + 1), ("5\n" + rows, 1)):
        metrics.write_bytes(edited.encode("latin-1"))
        with pytest.raises(WganError, match=f"^{metrics} line {line} is not a row of the log .a JSON object"):
            RunFolder.open(tmp_path / "run")
    metrics.write_text(rows + "iteration 3")  # no newline: a cut line, left out
    assert RunFolder.open(tmp_path / "run").history == [json.loads(line) for line in rows.splitlines()]


# Checkpoint integrity -----------------------------------------------------------------------------------------
def _two_checkpoints(tmp_path: Path, tiny: list[str] = TINY) -> Path:
    assert main(["train", "--iterations", "4", "--eval-every", "2", "--lr-decay", "none", "--out", str(tmp_path),
                 "--name", "run", *tiny]) == 0
    return tmp_path / "run" / "checkpoints"


def test_the_latest_checkpoint_stays_in_place_while_the_next_one_is_written(tmp_path, monkeypatch):
    save, present = torch.save, []
    latest = tmp_path / "run" / "checkpoints" / "latest.pt"

    def noting_the_latest(state, file):
        present.append(latest.is_file())
        return save(state, file)

    monkeypatch.setattr("wgan.runs.torch.save", noting_the_latest)
    assert main(["train", "--iterations", "6", "--eval-every", "2", "--lr-decay", "none", "--out", str(tmp_path),
                 "--name", "run", *TINY]) == 0
    assert present.count(True) >= 2 and present == sorted(present)  # once there, never missing during a write


@pytest.mark.parametrize("damage", ["truncated", "altered", "missing"])
def test_a_damaged_latest_checkpoint_falls_back_on_the_previous_one_with_a_warning(tmp_path, capsys, damage):
    folder = _two_checkpoints(tmp_path)
    assert _latest(tmp_path / "run")["iteration"] == 4
    assert checkpoints.unpack(folder / "previous.pt")["iteration"] == 2
    latest = folder / "latest.pt"
    data = latest.read_bytes()
    if damage == "truncated":
        latest.write_bytes(data[: len(data) // 2])
    elif damage == "altered":  # one bit of a weight: unpickling still succeeds, the checksum does not
        state = torch.load(latest, weights_only=True)
        state["critic"]["net.0.weight"][0, 0] += 1e-3
        torch.save(state, latest)
    else:
        latest.unlink()
    damaged = latest.read_bytes() if latest.is_file() else None
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "4", "--quiet"]) == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if line.startswith("wgan: warning:")]
    assert len(warning) == 1 and "resuming from the previous checkpoint, iteration 2" in warning[0]
    if damage == "altered":
        assert "does not match its checksum" in warning[0]
    assert _latest(tmp_path / "run")["iteration"] == 4
    # the one checkpoint since made the damaged file previous.pt, in place of the state resumed from
    assert checkpoints.unpack(folder / "previous.pt")["iteration"] == 2
    if damaged is not None:
        assert "the next checkpoint keeps it as latest-damaged.pt" in warning[0]
        assert (folder / "latest-damaged.pt").read_bytes() == damaged


@pytest.mark.parametrize("best", ["later, after a fallback", "later, after a kill between its write and latest's",
                                  "missing", "damaged"])
@pytest.mark.parametrize("resumed_was_best", [True, False])
def test_a_resume_keeps_best_pt_within_the_history_it_continues(tmp_path, capsys, best, resumed_was_best):
    # eval and sample went on reading best.pt of iteration 400, though the resume from 350 had dropped its rows;
    # and a best.pt set aside by a resume stopped before its next evaluation was never written again
    folder, run = _two_checkpoints(tmp_path), tmp_path / "run"
    resumed = "previous" if best.endswith("fallback") else "latest"
    if best.endswith("latest's"):  # best.pt of iteration 4 written, latest.pt still iteration 2's
        shutil.copyfile(folder / "latest.pt", folder / "best.pt")
        shutil.copyfile(folder / "previous.pt", folder / "latest.pt")
    resumed_at = checkpoints.unpack(folder / f"{resumed}.pt")["iteration"]
    row = next(row for row in RunFolder.open(run).history if row["iteration"] == resumed_at and "eval/w1" in row)
    score = next(row[f"eval/{name}"] for name in BEST_SCORES if f"eval/{name}" in row)
    state = checkpoints.unpack(folder / f"{resumed}.pt")
    state["best_score"] = score if resumed_was_best else score - 1  # else an earlier evaluation was better
    torch.save(checkpoints.pack(state), folder / f"{resumed}.pt")
    if resumed == "previous":
        shutil.copyfile(folder / "latest.pt", folder / "best.pt")  # the best at iteration 4, after the fallback's 2
        (folder / "latest.pt").unlink()
    elif best == "missing":
        (folder / "best.pt").unlink()
    elif best == "damaged":  # sample and eval failed on their default checkpoint until an evaluation beat its score
        (folder / "best.pt").write_bytes(b"damaged")
    later_best = (folder / "best.pt").read_bytes() if best.startswith("later") else None
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--iterations", str(resumed_at + 1), "--quiet"]) == 0
    said = capsys.readouterr().err
    if best.startswith("later"):
        assert "best.pt was iteration 4's, after the checkpoint resumed from: it is kept as best-dropped.pt; " in said
        assert (folder / "best-dropped.pt").read_bytes() == later_best
    elif best == "missing":
        assert "the run has no best.pt; " in said
    else:
        assert "best.pt cannot be read: it is kept as best-dropped.pt; " in said
        assert (folder / "best-dropped.pt").read_bytes() == b"damaged"
    written = checkpoints.unpack(folder / "best.pt")["iteration"]
    if resumed_was_best:
        assert f"best.pt is now iteration {resumed_at}'s, the best until then" in said
        assert written in (resumed_at, resumed_at + 1)
    else:
        assert (f"the best checkpoint until iteration {resumed_at} was not kept, so the next evaluation writes "
                "best.pt") in said
        assert written == resumed_at + 1
    assert wgan.load_run(run).iteration == written


def test_iterations_edited_in_config_toml_extend_the_run_as_the_flag_does_and_a_kept_end_is_not_taken_for_an_edit(
        tmp_path, capsys):
    # the resume took the edited end as the decay's, and the learning rate jumped from 0 to 1/3 of its base
    assert main(["train", "--iterations", "4", "--eval-every", "2", "--out", str(tmp_path), "--name", "edited",
                 *TINY]) == 0
    shutil.copytree(tmp_path / "edited", tmp_path / "flag")
    config = tmp_path / "edited" / "config.toml"
    written = config.read_text()
    config.write_text(written.replace("iterations = 4\n", "iterations = 6\n"))
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "edited"), "--quiet"]) == 0
    said = capsys.readouterr().err
    assert "config.toml's iterations 6 (trained with 4) is taken as --iterations 6 would be" in said
    assert "the linear decay restarts at iteration 4" in said
    assert main(["train", "--resume", str(tmp_path / "flag"), "--iterations", "6", "--quiet"]) == 0
    edited, flag = _latest(tmp_path / "edited"), _latest(tmp_path / "flag")
    assert all(torch.equal(a, b) for a, b in zip(_weights(edited), _weights(flag)))
    # a second --decay keep writes the iterations alone (the end was written by the first): stopped before its
    # first checkpoint, it was taken for a hand edit, and the decay restarted from 0 to the base rate
    assert main(["train", "--resume", str(tmp_path / "flag"), "--iterations", "8", "--decay", "keep", "--quiet"]) == 0
    config = tmp_path / "flag" / "config.toml"
    assert "lr_decay_end = 6\n" in config.read_text()
    config.write_text(config.read_text().replace("iterations = 8\n", "iterations = 10\n"))
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "flag"), "--quiet"]) == 0
    assert "taken as --iterations" not in capsys.readouterr().err
    resumed = RunFolder.open(tmp_path / "flag").config()
    assert [learning_rate(resumed, iteration) for iteration in (8, 9, 10)] == [0, 0, 0]
    # a checkpoint of an earlier window (best.pt before a restart, brought back to the same iterations) still
    # loads: the window does not change a trained model
    early = checkpoints.unpack(tmp_path / "edited" / "checkpoints" / "previous.pt")
    early["config"] |= {"lr_decay_start": 0, "lr_decay_end": 0}
    require_trained_settings(RunFolder.open(tmp_path / "edited"), dataclasses.replace(
        RunFolder.open(tmp_path / "edited").config(), iterations=early["config"]["iterations"]), early)


def test_a_damaged_latest_and_previous_are_both_named_with_what_to_do(tmp_path, capsys):
    # only previous.pt was named, without a word of latest.pt or of best.pt, which could serve
    folder = _two_checkpoints(tmp_path)
    for name in ("latest.pt", "previous.pt"):
        (folder / name).write_bytes(b"x")
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "6", "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith(f"wgan: error: checkpoint '{folder / 'latest.pt'}' ")
    assert f", and its fallback cannot serve: checkpoint '{folder / 'previous.pt'}' " in error
    assert error.endswith(f"copy {folder / 'best.pt'} to {folder / 'latest.pt'} to resume from the best iteration "
                          "(the rows logged after it are dropped)")


def test_a_refused_resume_leaves_a_damaged_latest_where_it_is(tmp_path, capsys):
    # it was renamed as the resume read it, before a setting the resume then refused, without a word
    folder = _two_checkpoints(tmp_path)
    damaged = (folder / "latest.pt").read_bytes()[:1000]
    (folder / "latest.pt").write_bytes(damaged)
    (folder / "latest-damaged.pt").write_bytes(b"an earlier one")
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "4", "--lr", "0.5"]) == 2
    assert (folder / "latest.pt").read_bytes() == damaged
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "4", "--quiet"]) == 0
    assert "the next checkpoint keeps it as latest-damaged-2.pt" in capsys.readouterr().err
    assert (folder / "latest-damaged-2.pt").read_bytes() == damaged
    assert (folder / "latest-damaged.pt").read_bytes() == b"an earlier one"


def test_a_latest_checkpoint_the_system_will_not_open_is_one_line_not_a_fallback(tmp_path, capsys, monkeypatch):
    # it was called damaged, and the resume went back to the previous checkpoint, dropping the rows after it
    folder = _two_checkpoints(tmp_path)
    monkeypatch.setattr("builtins.open", _refusing(open, lambda path: path == folder / "latest.pt"))
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "6", "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (f"wgan: error: checkpoint '{folder / 'latest.pt'}' cannot be opened (Permission denied): make "
                     "it readable (chmod u+r) and try again")
    monkeypatch.undo()
    assert _latest(tmp_path / "run")["iteration"] == 4 and checkpoints.unpack(folder / "previous.pt")["iteration"] == 2


class RunsCode:
    """An object whose unpickling would run code (it asks pickle to call os.system)."""

    def __reduce__(self):
        return os.system, ("touch pwned",)


def test_a_crafted_pickle_that_would_run_code_is_refused_and_not_run(tmp_path, capsys, monkeypatch):
    folder = _two_checkpoints(tmp_path)
    monkeypatch.chdir(tmp_path)
    (folder / "latest.pt").unlink()
    (folder / "previous.pt").unlink()
    (folder / "best.pt").write_bytes(pickle.dumps({"generator": RunsCode()}))
    assert main(["sample", "--run", str(tmp_path / "run"), "--n", "3", "--out", str(tmp_path / "s.npy")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "cannot be read" in error
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "s.npy").exists()


def test_a_run_without_any_checkpoint_says_it_cannot_be_resumed_and_what_to_do(tmp_path, capsys):
    run = RunFolder.create(wgan.make_config(out=str(tmp_path), name="empty"))
    run.close()
    assert main(["train", "--resume", str(tmp_path / "empty")]) == 2
    error = capsys.readouterr().err
    assert "has no checkpoint yet" in error and "--checkpoint" not in error


# Divergence ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("write", [True, False])
def test_a_nan_rolls_the_run_back_to_the_last_good_checkpoint_and_it_finishes(tmp_path, capsys, monkeypatch, write):
    # the NaN comes after the row logged at 15, found at 20: without a run folder, the rows after the last good
    # state stayed in the history and were logged again (5, 10, 15, 15, 20)
    step, poisoned = Trainer.generator_step, []

    def poison_once_at_iteration_17(self):
        if self.iteration == 17 and not poisoned:
            poisoned.append(True)
            with torch.no_grad():
                next(self.critic.parameters()).fill_(float("nan"))
        return step(self)

    monkeypatch.setattr(Trainer, "generator_step", poison_once_at_iteration_17)
    run = wgan.train(**TINY_SETTINGS, iterations=20, eval_every=10, log_every=5, out=str(tmp_path), name="run",
                     write=write, progress=False)
    warning = capsys.readouterr().err
    assert "is not finite at iteration 20: rolled back to iteration 10" in warning
    assert run.iteration == 20 and all(torch.isfinite(p).all() for p in run.critic.parameters())
    assert [row["iteration"] for row in run.history if "train/estimate" in row] == [5, 10, 15, 20]
    if not write:
        return
    logged = [row["iteration"] for row in _rows(tmp_path / "run") if "train/estimate" in row]
    assert logged == [5, 10, 15, 20]  # the diverged row at 20 was not kept; 15 was logged again after
    for which in ("latest", "best", "previous"):
        state = checkpoints.unpack(tmp_path / "run" / "checkpoints" / f"{which}.pt")
        assert all(torch.isfinite(tensor).all() for tensor in _weights(state))
    assert _latest(tmp_path / "run")["rollbacks"] == 1


@pytest.mark.parametrize("poison", ["huge generator weights", "NaN running statistics"])
def test_a_state_finite_in_its_weights_but_not_in_its_evaluation_or_statistics_is_rolled_back(
        tmp_path, capsys, monkeypatch, poison):
    # a generator whose samples overflow (weights x3e38) or whose batch-norm statistics are NaN, its weights all
    # finite: the evaluation stopped the run with the exact W1's "y contains NaN or inf entries", no rollback (and
    # an estimate that overflowed to -Infinity was logged and saved as the last good state)
    step, poisoned = Trainer.step, []

    def poison_once_before_the_evaluation_at_10(self):
        result = step(self)
        if self.iteration == 10 and not poisoned:  # after the steps, which would make a weight NaN
            poisoned.append(True)
            with torch.no_grad():
                if poison == "huge generator weights":
                    list(self.generator.parameters())[-2].mul_(3e38)
                else:
                    next(buffer for name, buffer in self.generator.named_buffers()
                         if name.endswith("running_mean")).fill_(float("nan"))
        return result

    monkeypatch.setattr(Trainer, "step", poison_once_before_the_evaluation_at_10)
    run = wgan.train(**TINY_SETTINGS, iterations=20, eval_every=10, log_every=7, generator_norm="batch",
                     out=str(tmp_path), name="run", progress=False)
    assert "is not finite at iteration 10: rolled back to iteration 0" in capsys.readouterr().err
    assert run.iteration == 20
    rows = _rows(tmp_path / "run")
    assert all(math.isfinite(value) for row in rows for value in row.values())
    assert [row["iteration"] for row in rows if "eval/estimate" in row] == [10, 20]
    for which in ("latest", "best", "previous"):
        state = checkpoints.unpack(tmp_path / "run" / "checkpoints" / f"{which}.pt")
        assert all(torch.isfinite(tensor).all() for network in ("generator", "critic")
                   for tensor in state[network].values() if tensor.is_floating_point())


def test_a_run_that_diverges_again_and_again_stops_naming_the_step_and_the_likely_cause(tmp_path):
    with pytest.raises(WganError, match=r"training diverged: .* is not finite at iteration \d+ after 2 rollbacks"
                                        r".*learning rate \(1e\+06\) is likely too high"):
        wgan.train(**TINY_SETTINGS, lr=1e6, iterations=200, eval_every=10, log_every=5, nan_retries=2,
                   out=str(tmp_path), name="run", progress=False)
    for path in (tmp_path / "run" / "checkpoints").glob("*.pt"):  # a NaN state is never saved
        assert all(torch.isfinite(tensor).all() for tensor in _weights(checkpoints.unpack(path)))


def test_halve_lr_on_nan_halves_the_rates_at_each_rollback(tmp_path, monkeypatch):
    rates, step = [], Trainer.critic_step

    def recording(self, *fake):
        rates.append(self.critic_optimizer.param_groups[0]["lr"])
        return step(self, *fake)

    monkeypatch.setattr(Trainer, "critic_step", recording)
    with pytest.raises(WganError, match="after 2 rollbacks") as stopped:
        wgan.train(**TINY_SETTINGS, lr=1e6, lr_decay="none", iterations=200, eval_every=10, log_every=5,
                   nan_retries=2, on_nan="halve-lr", write=False, progress=False)
    assert sorted(set(rates), reverse=True) == [1e6, 5e5, 2.5e5]
    # the line says how far the halving went, not to use the halving the run already used
    assert str(stopped.value).endswith("lower --lr (lr= in Python); halved 2 times, it reached 250000")


# The disk and the file system ---------------------------------------------------------------------------------
def test_a_full_disk_in_the_middle_of_a_checkpoint_is_one_line_and_the_latest_checkpoint_is_intact(
        tmp_path, capsys, monkeypatch):
    # the fourth checkpoint's file takes 1000 bytes, then the file system refuses more, as a full disk does; its
    # buffer is small, so that the refusal comes while the checkpoint is written, as for any larger than the
    # buffer (torch.save writing into the file turned it into its zip writer's RuntimeError, a traceback)
    class FillingFile(io.FileIO):
        def write(self, data):  # as write(2) on a full disk: what fits, then ENOSPC
            room = 1000 - self.tell()
            if room <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return super().write(memoryview(data)[:room])

    save, fdopen, saved, opened = torch.save, os.fdopen, [], []

    def noting_the_iteration(state, file):
        saved.append(state["iteration"])
        return save(state, file)

    def disk_fills_at_the_fourth_checkpoint(handle, mode):
        if ".pt." in os.readlink(f"/proc/self/fd/{handle}"):  # a checkpoint's temporary file, .latest.pt.*.tmp
            opened.append(handle)
            if len(opened) == 4:
                return io.BufferedWriter(FillingFile(handle, "wb"), buffer_size=64)
        return fdopen(handle, mode)

    monkeypatch.setattr("wgan.runs.torch.save", noting_the_iteration)
    monkeypatch.setattr("wgan.runs.os.fdopen", disk_fills_at_the_fourth_checkpoint)
    code = main(["train", "--iterations", "30", "--eval-every", "5", "--lr-decay", "none", "--out", str(tmp_path),
                 "--name", "run", *TINY])
    monkeypatch.undo()
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "No space left on device" in error and "--resume" in error
    folder = tmp_path / "run" / "checkpoints"
    assert error.startswith(f"wgan: error: cannot write '{folder / 'latest.pt'}' (")  # it named the run folder
    written = saved[:3]  # the fourth was made, but not written
    assert checkpoints.unpack(folder / "latest.pt")["iteration"] == max(written)  # the last good one, whole
    assert f"(the last at iteration {max(written)})" in error  # it named the one that failed to be written
    assert checkpoints.unpack(folder / "previous.pt")["iteration"] == sorted(written)[-2]
    assert not list(folder.glob("*.tmp"))
    assert main(["train", "--resume", str(tmp_path / "run"), "--quiet"]) == 0
    assert "warning" not in capsys.readouterr().err  # no fallback needed
    assert _latest(tmp_path / "run")["iteration"] == 30


@pytest.mark.parametrize("writing", ["write_figure", "log"])
def test_a_full_disk_when_writing_a_figure_or_a_log_line_is_one_line_and_the_run_resumes(
        tmp_path, capsys, monkeypatch, writing):
    write, calls = getattr(RunFolder, writing), []

    def disk_full_at_the_fourth_write(self, *arguments):
        calls.append(True)
        if len(calls) == 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(self, *arguments)

    monkeypatch.setattr(RunFolder, writing, disk_full_at_the_fourth_write)
    code = main(["train", "--iterations", "30", "--eval-every", "5", "--log-every", "5", "--lr-decay", "none",
                 "--out", str(tmp_path), "--name", "run", *TINY_DRAWN])
    monkeypatch.undo()
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "No space left on device" in error
    assert main(["train", "--resume", str(tmp_path / "run"), "--quiet"]) == 0
    assert _latest(tmp_path / "run")["iteration"] == 30


@pytest.mark.parametrize("command", ["train", "sample"])
def test_an_unwritable_place_is_one_line_not_a_traceback(tmp_path, command):
    if command == "train":
        arguments = ["train", "--out", "/proc/forbidden", "--iterations", "2", *TINY]
    else:
        assert main(["train", "--iterations", "2", "--eval-every", "2", "--out", str(tmp_path), "--name", "run",
                     *TINY]) == 0
        arguments = ["sample", "--run", str(tmp_path / "run"), "--n", "3", "--out", "/proc/x/s.npy"]
    result = subprocess.run([sys.executable, "-m", "wgan", *arguments], capture_output=True, text=True, env=ENV,
                            timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("wgan: error: cannot ")


def _full_disk(*arguments):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "config.toml")


@pytest.mark.parametrize("start", ["new", "resume"])
def test_a_full_disk_as_a_run_starts_or_resumes_is_one_line_and_leaves_no_new_folder(tmp_path, capsys, monkeypatch,
                                                                                     start):
    # a traceback (the config's write is outside training), and a new run's folder stayed with its .lock alone:
    # the same command then said the folder exists
    if start == "resume":
        folder = _two_checkpoints(tmp_path).parent
        before = {path.name: path.read_bytes() for path in (folder / "checkpoints").iterdir()}
    monkeypatch.setattr(RunFolder, "write_config", _full_disk)
    capsys.readouterr()
    arguments = ["--resume", str(tmp_path / "run")] if start == "resume" else ["--out", str(tmp_path), "--name",
                                                                               "run", *TINY]
    assert main(["train", *arguments, "--iterations", "6"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "(No space left on device): make room, and try again" in error
    if start == "resume":
        assert {path.name: path.read_bytes() for path in (folder / "checkpoints").iterdir()} == before
    else:
        assert not (tmp_path / "run").exists()


def test_a_new_run_that_cannot_write_its_first_checkpoint_says_its_folder_is_removed(tmp_path, capsys, monkeypatch):
    # it said "continue with `wgan train --resume runs/run`", a folder it had just removed
    def full_disk(self, state, which):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.checkpoint_path(which)))

    monkeypatch.setattr(RunFolder, "save_checkpoint", full_disk)
    assert main(["train", "--iterations", "4", "--eval-every", "2", "--out", str(tmp_path), "--name", "run",
                 *TINY]) == 2
    error = capsys.readouterr().err.strip()
    assert error.endswith("(No space left on device): training stopped at iteration 2, before its first checkpoint, "
                          "so its folder is removed: make room, and start it again")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("problem", ["full disk", "damaged figure"])
def test_a_finished_run_whose_last_figures_cannot_be_drawn_is_a_warning_not_an_error(tmp_path, capsys, monkeypatch,
                                                                                      problem):
    # exit 2 with "make room and continue with --resume", which then refused: the run had reached its iterations
    write = RunFolder.write_figure

    def failing_for_the_gif(self, relative, figure):
        if relative == "progress.gif" and problem == "full disk":
            raise OSError(errno.EFBIG, os.strerror(errno.EFBIG), str(self.path / relative))
        if relative == "curves.png" and problem == "damaged figure":  # drawn just before the gif, from the frames
            (self.path / "samples" / "iter_000002.png").write_bytes(b"not a png")
        return write(self, relative, figure)

    monkeypatch.setattr(RunFolder, "write_figure", failing_for_the_gif)
    assert main(["train", "--iterations", "4", "--eval-every", "2", "--out", str(tmp_path), "--name", "run",
                 *TINY_DRAWN]) == 0
    warning = capsys.readouterr().err.strip()
    assert warning.startswith("wgan: warning: curves.png and progress.gif were not all drawn (")
    assert warning.endswith(f"): the run is complete, its checkpoints and metrics are saved (draw them later with "
                            f"`wgan plot {tmp_path / 'run'}`)")
    assert ("File too large" if problem == "full disk" else "a figure in samples/ is not an image") in warning
    assert _latest(tmp_path / "run")["iteration"] == 4 and (tmp_path / "run" / "curves.png").is_file()


@pytest.mark.parametrize("damage", [b"", b'{"fingerprint": ', b"\xff\xfe garbage", b"[1, 2]"])
def test_a_damaged_data_record_is_a_warning_in_eval_and_resume(tmp_path, capsys, damage):
    # json.loads' traceback in both, though the record only feeds a warning (and a named set's is null)
    folder = _two_checkpoints(tmp_path).parent
    (folder / "data.json").write_bytes(damage)
    capsys.readouterr()
    assert main(["eval", "--run", str(folder)]) == 0
    assert f"wgan: warning: {folder / 'data.json'} is damaged, so whether the data changed since the run started " \
           "on it is not known: the scores compare" in capsys.readouterr().err
    assert main(["train", "--resume", str(folder), "--iterations", "6", "--quiet"]) == 0
    assert "is not known: training continues on the data as it is now" in capsys.readouterr().err
    assert _latest(folder)["iteration"] == 6


def test_a_run_folder_whose_files_the_system_refuses_is_one_line_in_every_command(tmp_path, capsys, monkeypatch):
    # PermissionError's traceback in eval, sample, resume and watch (as root, permissions refuse nothing: the
    # refusal is made here, and a link to itself stands for it in watch)
    folder = _two_checkpoints(tmp_path).parent
    settings = folder / "config.toml"
    monkeypatch.setattr("wgan.runs.load_toml", _refusing(load_toml, lambda path: True))
    for command in (["eval", "--run", str(folder)], ["sample", "--run", str(folder), "--n", "3", "--out",
                                                     str(tmp_path / "s.npy")],
                    ["train", "--resume", str(folder), "--iterations", "8"], ["watch", str(folder), "--port", "0"]):
        capsys.readouterr()
        assert main(command) == 2
        assert capsys.readouterr().err.strip() == (f"wgan: error: cannot use '{settings}' (Permission denied): make "
                                                   "it readable and writable (chmod u+rw), or use a folder you can "
                                                   "write in, and try again")
    monkeypatch.undo()
    follower = RunFollower(folder)
    (folder / "metrics.jsonl").unlink()
    (folder / "metrics.jsonl").symlink_to("metrics.jsonl")
    with pytest.raises(WganError, match=r"cannot use '.*metrics.jsonl' \(Too many levels of symbolic links\): move "
                                        "aside what is in its place"):
        follower.new_rows()  # the server's log had a traceback, the page no word


def test_models_too_large_for_memory_are_refused_before_anything_is_allocated_or_written(tmp_path, capsys):
    assert main(["train", "--width", "100000000", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "parameters" in error and "GB" in error and "lower --width" in error
    assert not any(tmp_path.iterdir())
    assert main(["train", "--latent-dim", "100000000000", "--out", str(tmp_path)]) == 2  # the noise's size too
    assert "--latent-dim (100000000000)" in capsys.readouterr().err


# A resume that moves the end of the decay ---------------------------------------------------------------------
@pytest.mark.parametrize("decay", ["restart", "keep"])
def test_extending_a_decayed_run_restarts_or_keeps_the_decay_and_says_which(tmp_path, capsys, decay):
    assert main(["train", "--iterations", "10", "--eval-every", "10", "--lr-decay", "linear", "--out",
                 str(tmp_path), "--name", "run", *TINY]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "30", "--decay", decay,
                 "--quiet"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("wgan: warning:")]
    assert len(notes) == 1 and f"--decay keep" in notes[0]
    config = RunFolder.open(tmp_path / "run").config()
    rates = [learning_rate(config, iteration) / config.lr for iteration in (5, 10, 20, 30)]
    if decay == "restart":
        assert "restarts at iteration 10" in notes[0]
        assert rates == pytest.approx([1, 1, 0.5, 0])  # from the base rate at 10 down to 0 at 30
    else:
        assert "keeps decaying to 0 at iteration 10" in notes[0]
        assert rates == pytest.approx([0.5, 0, 0, 0])  # the original decay, then 0


def test_a_restart_after_an_earlier_keep_restarts_and_a_decay_that_changes_nothing_is_refused(tmp_path, capsys):
    assert main(["train", "--iterations", "10", "--eval-every", "10", "--lr-decay", "linear", "--out",
                 str(tmp_path), "--name", "run", *TINY]) == 0
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "12", "--decay", "keep", "--quiet"]) == 0
    capsys.readouterr()
    # the kept end stayed and the rate 0 to the end, without a word: the run never changed again
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "16", "--decay", "restart",
                 "--quiet"]) == 0
    assert "restarts at iteration 12" in capsys.readouterr().err
    config = RunFolder.open(tmp_path / "run").config()
    assert [learning_rate(config, iteration) / config.lr for iteration in (12, 14, 16)] == pytest.approx([1, 0.5, 0])
    file = tmp_path / "run" / "config.toml"  # as a resume to 20 leaves it when stopped before its first checkpoint
    assert "lr_decay_start = 12\n" in file.read_text()
    file.write_text(file.read_text().replace("iterations = 16", "iterations = 20").replace("lr_decay_start = 12\n",
                                                                                            "lr_decay_start = 16\n"))
    assert main(["train", "--resume", str(tmp_path / "run"), "--eval-every", "2", "--decay", "keep", "--quiet"]) == 2
    assert ("--decay keep (decay='keep' in Python) has no effect here: only a new --iterations (iterations=) moves "
            "the end of the decay; leave it out") in capsys.readouterr().err
    assert main(["train", "--iterations", "4", "--eval-every", "4", "--lr-decay", "none", "--out", str(tmp_path),
                 "--name", "flat", *TINY]) == 0
    with pytest.raises(WganError, match=r"has no effect here: the run's learning rate does not decay"):
        wgan.resume(tmp_path / "flat", iterations=8, decay="restart")


# Two writers --------------------------------------------------------------------------------------------------
def test_a_second_writer_is_refused_naming_the_holder_and_a_dead_holders_lock_is_taken_over(tmp_path, capsys):
    run = tmp_path / "run"
    holder = _start("train", "--iterations", "100000", "--eval-every", "5", "--out", str(tmp_path), "--name", "run",
                    *TINY)
    try:
        _wait_for(run / "checkpoints" / "latest.pt", holder)
        capsys.readouterr()
        assert main(["train", "--resume", str(run), "--quiet"]) == 2
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1 and f"is in use by process {holder.pid}" in error
    finally:
        holder.kill()
        holder.wait()
    assert main(["train", "--resume", str(run), "--iterations", str(_latest(run)["iteration"] + 2), "--quiet"]) == 0


def test_an_improved_evaluation_writes_best_before_latest(tmp_path, monkeypatch):
    # latest.pt, which records the best score so far, came first: a process killed between the two writes left
    # best.pt an evaluation behind for good (a resume wrote it again only if a later evaluation beat that score)
    written, save = [], RunFolder.save_checkpoint

    def recording(self, state, which):
        written.append((which, state["iteration"]))
        return save(self, state, which)

    monkeypatch.setattr(RunFolder, "save_checkpoint", recording)
    wgan.train(data="8gaussians", iterations=2, eval_every=1, out=str(tmp_path), name="run", progress=False,
               **TINY_SETTINGS)
    assert written[:2] == [("best", 1), ("latest", 1)]  # the first evaluation always improves on none
    assert all(written[written.index(("best", it)) + 1] == ("latest", it) for which, it in written if which == "best")


def test_a_run_folder_that_cannot_be_written_is_one_line_for_resume_and_a_warning_for_eval(tmp_path, capsys,
                                                                                         monkeypatch):
    # a read-only folder (chmod -R a-w, as another user) was a PermissionError traceback from the lock; a lock
    # file the system refuses to open stands in for it here, where the tests may run as root
    assert main(["train", "--iterations", "2", "--eval-every", "2", "--out", str(tmp_path), "--name", "run",
                 *TINY]) == 0
    monkeypatch.setattr("wgan.runs.os.open", _refusing(os.open, lambda path: path.name == ".lock"))
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "4", "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (f"wgan: error: run folder '{tmp_path / 'run'}' cannot be written (Permission denied): make it "
                     "writable (chmod -R u+w), or copy it to a folder you can write in")
    monkeypatch.undo()
    (tmp_path / "run" / ".lock").unlink(missing_ok=True)
    (tmp_path / "run" / ".lock").mkdir()  # what is in its place, not its permissions
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "4", "--quiet"]) == 2
    assert capsys.readouterr().err.strip().endswith("cannot be written (Is a directory): move aside what is in the "
                                                    "place of its .lock")
    assert main(["eval", "--run", str(tmp_path / "run"), "--samples", "100"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["iteration"] == 2  # the scores, printed
    assert captured.err.startswith(f"wgan: warning: {tmp_path / 'run' / 'eval_best.json'} is not written: run "
                                   "folder")


def test_a_reader_that_stops_early_ends_wgan_quietly(tmp_path):
    # `wgan eval ... | head -1` ended in a BrokenPipeError traceback
    assert main(["train", "--iterations", "2", "--eval-every", "2", "--out", str(tmp_path), "--name", "run",
                 *TINY]) == 0
    # the reader has gone before wgan writes (not after its first line, as head's, which the pipe's buffer may
    # take whole before the reader closes it): the same failed write, at a moment that does not depend on timing
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        process = subprocess.run([sys.executable, "-m", "wgan", "eval", "--run", str(tmp_path / "run"), "--samples",
                                  "100"], stdout=write_end, stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(write_end)
    assert process.returncode == 141 and process.stderr == b""


def test_a_damaged_best_checkpoint_points_at_latest(tmp_path, capsys):
    # the missing file's message said to pick latest; the damaged file's did not
    assert main(["train", "--iterations", "2", "--eval-every", "2", "--out", str(tmp_path), "--name", "run",
                 *TINY]) == 0
    (tmp_path / "run" / "checkpoints" / "best.pt").write_bytes(b"not a checkpoint")
    assert main(["sample", "--run", str(tmp_path / "run"), "--n", "2", "--out", str(tmp_path / "s.npy")]) == 2
    assert capsys.readouterr().err.strip().endswith("pick --checkpoint latest (checkpoint='latest' in Python)")
    assert main(["sample", "--run", str(tmp_path / "run"), "--n", "2", "--checkpoint", "latest", "--out",
                 str(tmp_path / "s.npy")]) == 0


def test_how_often_a_run_logs_does_not_change_a_batch_norm_critics_running_statistics():
    # the logged critic_grad_norm passed the interpolates through the critic in training mode, which moved its
    # batch norms' running statistics (num_batches_tracked one more at each log point) and so the checkpoints
    settings = dict(data="digits", algorithm="wgan", model="dcgan", image_size=16, width=8, batch_size=16,
                    n_critic=1, warmup=False, iterations=3, eval_every=3, eval_samples=360, write=False,
                    progress=False)
    runs = [wgan.train(**settings, log_every=every).critic.state_dict() for every in (1, 1000)]
    buffers = [name for name in runs[0] if "running" in name or "num_batches" in name]
    assert buffers and all(torch.equal(runs[0][name], runs[1][name]) for name in buffers)


def test_a_resume_from_an_earlier_checkpoint_drops_the_figures_of_the_iterations_it_drops(tmp_path, capsys):
    # samples/iter_000004.png stayed (and in progress.gif) after the resume fell back on iteration 2 and evaluated
    # at 3 and 6 instead
    folder = _two_checkpoints(tmp_path, TINY_DRAWN)
    (folder / "latest.pt").write_bytes(b"damaged")
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "6", "--eval-every", "3",
                 "--quiet"]) == 0
    figures = sorted(path.name for path in (tmp_path / "run" / "samples").glob("iter_*.png"))
    assert figures == ["iter_000002.png", "iter_000003.png", "iter_000006.png"]


def test_each_logged_row_counts_the_training_time_of_its_own_iteration(tmp_path):
    # time/train_minutes was added after the row was logged: the first row read 0.0 and every row missed its own
    # iteration (a whole warm-up iteration of 100 critic steps, on images)
    run = wgan.train(data="8gaussians", iterations=2, eval_every=2, log_every=1, write=False, progress=False,
                     **TINY_SETTINGS)
    minutes = [row["time/train_minutes"] for row in run.history if "time/train_minutes" in row]
    assert len(minutes) == 2 and 0 < minutes[0] < minutes[1]


def test_a_run_whose_checkpoints_folder_is_gone_is_told_to_put_them_back_and_stray_figures_are_ignored(tmp_path,
                                                                                                    capsys):
    # it said the run "stopped before its first checkpoint was written" and to delete the folder; a stray
    # samples/iter_².png made int() fail in every command that lists the figures
    folder = _two_checkpoints(tmp_path, TINY_DRAWN).parent
    (folder / "samples" / "iter_².png").write_bytes((folder / "samples" / "iter_000002.png").read_bytes())
    assert [figure.name for figure in RunFolder.open(folder).evaluation_figures()] == ["iter_000002.png",
                                                                                       "iter_000004.png"]
    shutil.rmtree(folder / "checkpoints")
    assert main(["train", "--resume", str(folder), "--iterations", "6"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"wgan: error: run folder '{folder}' has no checkpoint in {folder / 'checkpoints'}, though it was evaluated "
        "(and checkpointed) up to iteration 4: put its checkpoints back there, or train it again under another --name")


@pytest.mark.parametrize("in_the_way", ["latest.pt", "previous.pt"])
def test_a_folder_in_the_place_of_a_checkpoint_is_named_with_what_to_do(tmp_path, capsys, in_the_way):
    # latest.pt as a folder named its hidden temporary copy, previous.pt as one named latest.pt; both said "make room"
    folder = _two_checkpoints(tmp_path)
    (folder / in_the_way).unlink()
    (folder / in_the_way).mkdir()
    (folder / in_the_way / "kept").write_text("")  # a folder with something in it: no rename replaces it
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "6", "--quiet"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"wgan: error: cannot write '{folder / in_the_way}' (")
    assert "move aside what is in its place, and continue with `wgan train --resume" in error


@pytest.mark.parametrize("command", ["train", "resume"])
def test_a_second_ctrl_c_while_a_finished_runs_figures_are_drawn_does_not_advise_a_resume(tmp_path, capsys,
                                                                                          monkeypatch, command):
    # it said to continue with `wgan train --resume RUN`, which then refused: the run had reached its iterations
    if command == "resume":
        _two_checkpoints(tmp_path, TINY_DRAWN)
        arguments = ["--resume", str(tmp_path / "run"), "--iterations", "6", "--quiet"]
    else:
        arguments = ["--iterations", "4", "--eval-every", "2", "--out", str(tmp_path), "--name", "run", *TINY_DRAWN]

    def interrupted(trainer, run):  # as the let-pass handler raises at a second Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr("wgan.api._draw_curves", interrupted)
    capsys.readouterr()
    assert main(["train", *arguments]) == 130
    assert capsys.readouterr().err.strip() == (
        f"wgan: interrupted at once as the run's last figures were drawn; the run had finished, and its checkpoints "
        f"and metrics in {tmp_path / 'run'} are saved (curves.png and progress.gif may be missing: draw them with "
        f"`wgan plot {tmp_path / 'run'}`)")
    assert _latest(tmp_path / "run")["iteration"] == (6 if command == "resume" else 4)


def test_a_refused_write_names_its_file_and_keeps_a_message_without_an_errno(tmp_path):
    def full_disk(file):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as write(2): no file named

    def short_write(file):
        raise OSError("100000 requested and 496 written")  # numpy's, on a full disk: no errno

    with pytest.raises(OSError) as refused:
        atomic_write(tmp_path / "a.npy", full_disk)
    assert (refused.value.errno, refused.value.filename) == (errno.ENOSPC, str(tmp_path / "a.npy"))
    with pytest.raises(OSError, match=r"^100000 requested and 496 written$"):  # it read "[Errno None] None: ..."
        atomic_write(tmp_path / "a.npy", short_write)
    assert not list(tmp_path.iterdir())


def test_an_os_error_that_is_not_a_files_problem_is_not_told_to_fix_a_file(monkeypatch):
    # "cannot use (Too many open files): fix that, and try again" would hide where it came from
    def too_many_open_files(args):
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(cli, "_eval", too_many_open_files)
    with pytest.raises(OSError, match="Too many open files"):
        main(["eval", "--run", "anything"])


def test_a_checkpoint_whose_random_stream_is_a_gpus_loads_evaluates_and_resumes_on_the_cpu(tmp_path, capsys):
    # A CUDA generator's state (16 bytes of Philox seed and offset) made load_run, evaluate_run, wgan sample and
    # wgan eval of a GPU-trained run a RuntimeError on the CPU: "Expected a CPUGeneratorImplState of size 5056"
    wgan.train(name="gpu", iterations=2, eval_every=2, out=str(tmp_path), progress=False, **TINY_SETTINGS)
    folder = RunFolder.open(tmp_path / "gpu")
    for which in ("latest", "best"):
        state = folder.load_checkpoint(which)
        state["rng"] = torch.tensor([7] * 8 + [0] * 8, dtype=torch.uint8)  # seed 7..., offset 0, as CUDA saves it
        folder.save_checkpoint(state, which)
    shutil.copytree(tmp_path / "gpu", tmp_path / "again")
    assert wgan.load_run(tmp_path / "gpu").sample(3).shape == (3, 2)
    assert wgan.evaluate_run(tmp_path / "gpu", samples=100)["samples"] == 100
    capsys.readouterr()
    resumed = wgan.resume(tmp_path / "gpu", iterations=4, progress=False)
    assert "wgan: warning: the run's random stream was saved on another kind of device than cpu" in \
        capsys.readouterr().err
    again = wgan.resume(tmp_path / "again", iterations=4, progress=False)  # the fresh stream is the same each time
    assert all(torch.equal(a, b) for a, b in zip(resumed.generator.parameters(), again.generator.parameters()))
    capsys.readouterr()
    wgan.resume(tmp_path / "gpu", iterations=6, progress=False)  # its own stream, saved on the CPU, continues
    assert "random stream" not in capsys.readouterr().err


def test_a_stop_that_comes_as_a_run_rolls_back_saves_the_state_it_rolled_back_to(tmp_path, monkeypatch, capsys):
    # a new run diverging at every step and stopped between two rollbacks said "the latest checkpoint is saved:
    # continue with --resume" of a folder without one, which the resume then refused
    roll_back = Trainer._roll_back

    def rolled_back_then_stopped(self, diverged):
        roll_back(self, diverged)
        self.stop_signal = "SIGTERM"

    monkeypatch.setattr(Trainer, "_roll_back", rolled_back_then_stopped)
    with pytest.raises(Stopped):
        wgan.train(name="run", iterations=4, eval_every=4, log_every=1, lr=1e30, nan_retries=100, out=str(tmp_path),
                   progress=False, **TINY_SETTINGS)
    assert RunFolder.open(tmp_path / "run").load_checkpoint("latest")["iteration"] == 0
    monkeypatch.setattr(Trainer, "fit", lambda self, progress: self.history)  # it resumes (and would diverge again)
    assert wgan.resume(tmp_path / "run", progress=False).iteration == 0


def test_a_run_whose_recorded_name_the_new_checks_refuse_still_evaluates_and_resumes(tmp_path):
    # a name with a space at its end, made by an earlier version: the checks of new names made its folder
    # unreadable ("the run's settings, edited since it was made?")
    wgan.train(name="run", iterations=2, eval_every=2, out=str(tmp_path), progress=False, **TINY_SETTINGS)
    config = tmp_path / "run" / "config.toml"
    config.write_text(config.read_text().replace('name = "run"', 'name = "run "'))
    assert wgan.evaluate_run(tmp_path / "run", samples=50)["iteration"] == 2
    assert wgan.resume(tmp_path / "run", iterations=3, progress=False).iteration == 3


def test_a_rollback_leaves_the_state_it_returns_to_as_it_was_for_the_next_one():
    # on the CPU the optimisers took the good state's tensors as their own, and the steps after a rollback
    # moved them: a second rollback before the next checkpoint returned to the diverged path's moments
    from wgan.api import _assemble
    from wgan.config import make_config
    from wgan.trainer import _Diverged

    trainer = _assemble(make_config(iterations=10, **TINY_SETTINGS), lambda: None)
    trainer._last_good = trainer._snapshot()
    trainer.step()
    trainer._last_good = trainer._snapshot()
    good = copy.deepcopy(trainer._last_good)
    trainer._roll_back(_Diverged("a weight", 2))
    for _ in range(2):
        trainer.step()
    for name in ("critic_optimizer", "generator_optimizer"):
        moments = [value for state in trainer._last_good[name]["state"].values() for value in state.values()]
        kept = [value for state in good[name]["state"].values() for value in state.values()]
        assert moments and all(torch.equal(a, b) for a, b in zip(moments, kept)), name


def test_taking_a_run_folder_removes_its_stale_temporary_files_and_leaves_a_samples_staging_folder(tmp_path):
    # a folder left by a killed `wgan sample --out RUN/gen/` was unlinked as a file: resume and eval failed ("Is a
    # directory"), and the temporary files of a live one inside it would have been removed under it
    assert main(["train", "--iterations", "4", "--eval-every", "2", "--out", str(tmp_path), "--name", "run",
                 *TINY]) == 0
    run = tmp_path / "run"
    killed_writes = [run / ".metrics.jsonl.k3x9q2ab.tmp", run / "checkpoints" / ".latest.pt.0ab1cd2e.tmp"]
    staging = run / ".gen.host-999999.0123abcd.tmp"
    staging.mkdir()
    for path in (*killed_writes, staging / ".000001.png.5tq2mz8w.tmp", staging / "000000.png"):
        path.write_bytes(b"x")
    assert main(["eval", "--run", str(run), "--checkpoint", "latest"]) == 0
    assert main(["train", "--resume", str(run), "--iterations", "6", "--quiet"]) == 0
    assert not any(path.exists() for path in killed_writes)
    assert sorted(path.name for path in staging.iterdir()) == [".000001.png.5tq2mz8w.tmp", "000000.png"]
