"""End to end: the API and the CLI train, write a run folder, resume bit-exactly, and refuse bad input cleanly."""

from __future__ import annotations

import fcntl
import json
import pydoc
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import wgan
import wgan.api
import wgan.cli
from wgan.cli import main
from wgan.errors import WganError
from wgan.play.watch import RunFollower
from wgan.resume_rules import require_kept
from wgan.runs import RunFolder
from wgan.trainer import Trainer

# A tiny run draws no figures (drawing is most of its time): the tests of the figures draw them (TINY_DRAWN)
TINY_DRAWN = dict(width=16, depth=2, batch_size=32, eval_samples=200, log_every=5)
TINY = dict(TINY_DRAWN, figures=False)
TINY_DRAWN_FLAGS = ["--width", "16", "--depth", "2", "--batch-size", "32", "--eval-samples", "200", "--log-every", "5"]
TINY_FLAGS = [*TINY_DRAWN_FLAGS, "--no-figures"]


def test_cli_train_writes_a_complete_run_folder(tmp_path, capsys):
    code = main(["train", "--iterations", "20", "--eval-every", "10", "--out", str(tmp_path), "--name", "run",
                 "--quiet", *TINY_DRAWN_FLAGS])
    assert code == 0
    run = tmp_path / "run"
    for name in ("config.toml", "metrics.jsonl", "curves.png", "samples/iter_000010.png",
                 "samples/iter_000020.png", "checkpoints/latest.pt", "checkpoints/best.pt"):
        assert (run / name).is_file(), name
    assert any((run / "tensorboard").iterdir())
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train_rows = [row for row in rows if "train/estimate" in row]
    eval_rows = [row for row in rows if "eval/w1" in row]
    assert [row["iteration"] for row in train_rows] == [5, 10, 15, 20]
    assert [row["iteration"] for row in eval_rows] == [10, 20]
    for key in ("train/critic_loss", "train/penalty", "train/generator_loss", "train/critic_grad_norm",
                "train/generator_grad_norm", "train/penalty_grad_norm"):
        assert np.isfinite(train_rows[-1][key]), key
    assert 0 <= eval_rows[-1]["eval/modes_covered"] <= eval_rows[-1]["eval/modes_total"] == 8
    assert "done:" in capsys.readouterr().out


def test_a_run_without_figures_writes_the_rest_of_its_folder_and_trains_as_a_run_with_them(tmp_path, capsys):
    for name, flags in (("drawn", TINY_DRAWN_FLAGS), ("plain", TINY_FLAGS)):
        assert main(["train", "--iterations", "4", "--eval-every", "2", "--out", str(tmp_path), "--name", name,
                     *flags]) == 0
    drawn, plain = tmp_path / "drawn", tmp_path / "plain"
    assert capsys.readouterr().out.count("figures: ") == 1  # the line naming the figures: the drawn run's alone
    files = {folder: sorted(str(path.relative_to(folder)) for path in folder.rglob("*")
                            if path.is_file() and "tensorboard" not in path.parts) for folder in (drawn, plain)}
    assert {"curves.png", "progress.gif", "samples/iter_000002.png"} <= set(files[drawn])
    assert files[plain] == [name for name in files[drawn] if not name.endswith((".png", ".gif"))]
    assert "figures = false" in (plain / "config.toml").read_text()
    drawn_rows, plain_rows = (RunFolder.open(folder).history for folder in (drawn, plain))
    assert [{key: value for key, value in row.items() if not key.startswith("time/")} for row in plain_rows] == \
        [{key: value for key, value in row.items() if not key.startswith("time/")} for row in drawn_rows]
    (drawn_state, _), (plain_state, _) = (RunFolder.open(folder).load_resumable() for folder in (drawn, plain))
    for network in ("generator", "critic"):
        assert all(torch.equal(drawn_state[network][key], plain_state[network][key]) for key in drawn_state[network])


def test_plot_draws_a_runs_figures_again_as_the_run_drew_them(tmp_path, capsys):
    # a run trained with --no-figures, or stopped at once as it drew them, had no way to get its curves
    for name, flags in (("drawn", TINY_DRAWN_FLAGS), ("plain", TINY_FLAGS)):
        assert main(["train", "--iterations", "4", "--eval-every", "2", "--out", str(tmp_path), "--name", name,
                     "--quiet", *flags]) == 0
    drawn, plain = tmp_path / "drawn", tmp_path / "plain"
    figures = {name: (drawn / name).read_bytes() for name in ("curves.png", "progress.gif")}
    for name in figures:
        (drawn / name).unlink()
    capsys.readouterr()
    assert main(["plot", str(drawn)]) == 0
    assert capsys.readouterr().out == f"wrote {drawn / 'curves.png'} and {drawn / 'progress.gif'}\n"
    assert {name: (drawn / name).read_bytes() for name in figures} == figures
    assert wgan.plot_run(plain) == [plain / "curves.png"]  # it has no evaluation figures to animate
    assert (plain / "curves.png").read_bytes() == figures["curves.png"]  # the same rows, times aside
    assert not (plain / "progress.gif").exists()


def test_plot_refuses_in_one_line_a_run_in_use_one_that_logged_nothing_and_a_damaged_figure(tmp_path, capsys):
    assert main(["train", "--iterations", "2", "--eval-every", "2", "--out", str(tmp_path), "--name", "run",
                 "--quiet", *TINY_DRAWN_FLAGS]) == 0
    run, empty = tmp_path / "run", tmp_path / "empty"
    drawn = {name: (run / name).read_bytes() for name in ("curves.png", "progress.gif")}
    empty.mkdir()
    shutil.copy(run / "config.toml", empty)
    training = RunFolder.open(run)
    training.lock()
    capsys.readouterr()
    try:
        assert main(["plot", str(run)]) == 2
    finally:
        training.close()
    assert main(["plot", str(empty)]) == 2
    (run / "samples" / "iter_000002.png").write_bytes(b"not a png")
    assert main(["plot", str(run)]) == 2
    in_use, nothing_logged, damaged = capsys.readouterr().err.splitlines()
    assert in_use.startswith(f"wgan: error: run folder '{run}' is in use by process ")
    assert nothing_logged == (f"wgan: error: run '{empty}' has logged nothing yet (metrics.jsonl holds no rows): "
                              "there are no curves to draw before its first logged iteration")
    assert damaged == (f"wgan: error: run '{run}': curves.png is drawn, progress.gif is not: a figure in samples/ is "
                       "not an image (move it out of samples/, and plot again)")
    assert (run / "progress.gif").read_bytes() == drawn["progress.gif"]
    assert [path.name for path in empty.iterdir()] == ["config.toml"]  # refused before anything is written


def test_a_resume_asked_to_draw_the_figures_of_a_run_without_them_names_wgan_plot():
    with pytest.raises(WganError, match=r"these differ: figures true \(the run's: false\): leave them out, or train "
                                        r"a new run to change them; `wgan plot RUN_DIR` draws the curves.png of a "
                                        r"run trained without figures from its logs$"):
        require_kept(wgan.make_config(figures=False), {"figures": True})
    with pytest.raises(WganError, match=r"these differ: figures false \(the run's: true\): leave them out, or "
                                        r"train a new run to change them$"):
        require_kept(wgan.make_config(), {"figures": False})


@pytest.mark.parametrize("lr_decay", ["none", "linear"])
def test_resumed_run_equals_an_uninterrupted_run(tmp_path, monkeypatch, lr_decay):
    common = dict(TINY, out=str(tmp_path), eval_every=10, seed=3, lr_decay=lr_decay, iterations=30)
    straight = wgan.train(name="straight", progress=False, **common)

    save = Trainer._evaluate_and_save

    def save_then_crash(trainer):  # the process dies right after the checkpoint of iteration 10
        save(trainer)
        if trainer.iteration == 10:
            raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_evaluate_and_save", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        wgan.train(name="split", progress=False, **common)
    monkeypatch.undo()
    resumed = wgan.resume(tmp_path / "split", progress=False)

    # every logged loss, estimate and metric, bit for bit; only the measured training time may differ
    assert without_times(resumed.history) == without_times(straight.history)
    assert all("time/train_minutes" in row for row in resumed.history if "train/estimate" in row)
    for name, tensor in straight.generator.state_dict().items():
        assert torch.equal(tensor, resumed.generator.state_dict()[name]), name
    for name, tensor in straight.critic.state_dict().items():
        assert torch.equal(tensor, resumed.critic.state_dict()[name]), name
    logged = [json.loads(line) for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert without_times(logged) == without_times(straight.history)


def test_a_run_resumed_with_another_eval_every_trains_the_same_and_evaluates_at_the_new_pace(tmp_path):
    # no decay (it would follow --iterations), and a log at iteration 12, where the first part ends and logs
    common = dict(TINY, out=str(tmp_path), seed=3, lr_decay="none", log_every=6)
    straight = wgan.train(name="straight", iterations=24, eval_every=6, progress=False, **common)
    wgan.train(name="split", iterations=12, eval_every=6, progress=False, **common)
    assert main(["train", "--resume", str(tmp_path / "split"), "--iterations", "24", "--eval-every", "12",
                 "--quiet"]) == 0
    history = [json.loads(line) for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    training = [row for row in without_times(history) if "train/estimate" in row]
    assert training == [row for row in without_times(straight.history) if "train/estimate" in row]
    assert [row["iteration"] for row in history if "eval/w1" in row] == [6, 12, 24]


def without_times(history: list[dict]) -> list[dict]:
    return [{key: value for key, value in row.items() if not key.startswith("time/")} for row in history]


def test_resume_drops_rows_logged_after_the_checkpoint(tmp_path):
    common = dict(TINY, out=str(tmp_path), eval_every=10)
    wgan.train(name="run", iterations=10, progress=False, **common)
    metrics = tmp_path / "run" / "metrics.jsonl"
    with open(metrics, "a") as file:  # rows of an interrupted stretch that never reached a checkpoint
        file.write(json.dumps({"iteration": 15, "train/estimate": 123.0}) + "\n")
    run = wgan.resume(tmp_path / "run", iterations=20, progress=False)
    assert all(row.get("train/estimate") != 123.0 for row in run.history)
    assert [row["iteration"] for row in run.history if "eval/w1" in row] == [10, 20]


def test_sample_and_eval_commands_read_a_trained_run(tmp_path, capsys):
    assert main(["train", "--iterations", "10", "--eval-every", "10", "--out", str(tmp_path), "--name", "run",
                 "--quiet", *TINY_FLAGS]) == 0
    out = tmp_path / "samples.npy"
    assert main(["sample", "--run", str(tmp_path / "run"), "--n", "50", "--out", str(out)]) == 0
    samples = np.load(out)
    assert samples.shape == (50, 2) and np.isfinite(samples).all()
    assert main(["eval", "--run", str(tmp_path / "run"), "--checkpoint", "latest"]) == 0
    scores = json.loads((tmp_path / "run" / "eval_latest.json").read_text())
    assert scores["iteration"] == 10 and scores["w1"] > 0 and scores["modes_total"] == 8
    # the scores training logged for the checkpoint (help said "fresh samples"), and others with --seed
    logged = [row for row in RunFolder.open(tmp_path / "run").history if "eval/w1" in row][-1]
    assert scores["w1"] == logged["eval/w1"] and scores["seed"] == 1
    assert main(["eval", "--run", str(tmp_path / "run"), "--checkpoint", "latest", "--seed", "7"]) == 0
    other = json.loads((tmp_path / "run" / "eval_latest.json").read_text())
    assert other["seed"] == 7 and other["w1"] != scores["w1"] and abs(other["w1"] - scores["w1"]) < 0.5
    capsys.readouterr()
    training = RunFolder.open(tmp_path / "run")
    training.lock()  # as a `wgan train --resume` holds it: eval wrote into a folder in use
    try:
        assert main(["eval", "--run", str(tmp_path / "run")]) == 0
    finally:
        training.close()
    printed = capsys.readouterr()
    assert json.loads(printed.out)["iteration"] == 10 and not (tmp_path / "run" / "eval_best.json").exists()
    assert printed.err.startswith(f"wgan: warning: {tmp_path / 'run' / 'eval_best.json'} is not written: run folder")
    config = tmp_path / "run" / "config.toml"
    recorded = config.read_text()
    config.write_text("")  # load_run said the checkpoint's networks did not fit the data
    assert main(["eval", "--run", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.strip().endswith("config.toml lacks algorithm and data, which every run records: "
                                                    "it was emptied or cut short; restore it (from a backup or the "
                                                    "command that made the run)")
    config.write_text(recorded)
    # what sample and eval say of a checkpoint given for the run folder, and of missing checkpoints
    assert main(["eval", "--run", str(tmp_path / "run" / "checkpoints" / "best.pt")]) == 2
    assert capsys.readouterr().err.strip().endswith(f"not a run folder (no config.toml): the run folder that holds it "
                                                    f"is '{tmp_path / 'run'}'")
    (tmp_path / "run" / "checkpoints" / "best.pt").unlink()
    assert main(["eval", "--run", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.strip().endswith("best.pt): pick --checkpoint latest (checkpoint='latest' in "
                                                    "Python)")
    for checkpoint in (tmp_path / "run" / "checkpoints").iterdir():
        checkpoint.unlink()
    assert main(["eval", "--run", str(tmp_path / "run")]) == 2  # it said "or pick --checkpoint latest" here too
    assert capsys.readouterr().err.strip().endswith(f"best.pt): nor a latest one: put its checkpoints back in "
                                                    f"{tmp_path / 'run' / 'checkpoints'}, or train the run again")
    # a run still training towards its first checkpoint was told to put its checkpoints back
    with open(tmp_path / "run" / ".lock", "r+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("process 4242 on trainer-host\n")
        held.flush()
        assert main(["sample", "--run", str(tmp_path / "run"), "--n", "2", "--out", str(tmp_path / "s.npy")]) == 2
    assert capsys.readouterr().err.strip().endswith("best.pt): nor a latest one yet: process 4242 on trainer-host is "
                                                    "training it and writes its first checkpoint at its first "
                                                    "evaluation; wait for that")


def test_python_api_returns_history_and_trained_modules_without_writing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = wgan.train(data="25gaussians", algorithm="wgan", iterations=3, write=False, progress=False, **TINY)
    assert run.path is None and not any(tmp_path.iterdir())
    assert run.iteration == 3 and run.history[-1]["iteration"] == 3
    evaluated = run.history[-1]  # evaluated as with a run folder: only the figures are skipped
    assert evaluated["eval/w1"] > 0 and evaluated["eval/modes_total"] == 25 and "eval/modes_covered" in evaluated
    assert run.sample(7).shape == (7, 2)
    # a notebook showed every setting, module and logged row
    assert repr(run) == f"Run(not written: wgan on 25gaussians, iteration 3, {len(run.history)} logged rows)"
    for parameter in run.critic.parameters():  # WGAN's clipping held throughout
        assert parameter.abs().max() <= 0.01


def test_the_api_leaves_the_callers_random_state_and_returns_generators_ready_to_call(tmp_path):
    # train() and load_run() reseeded torch's global generator: a notebook's later draws repeated across seeds;
    # a batch-norm generator came in training mode, so calling it moved its running statistics
    before = torch.random.get_rng_state()
    run = wgan.train(data="digits", algorithm="wgan", iterations=2, width=8, batch_size=8, eval_samples=16,
                     warmup=False, out=str(tmp_path), name="digits", progress=False)
    assert torch.equal(torch.random.get_rng_state(), before)
    for loaded in (run, wgan.load_run(tmp_path / "digits")):
        assert torch.equal(torch.random.get_rng_state(), before)
        assert not loaded.generator.training and loaded.critic.training  # the critic as the estimate reads it
        statistics = {name: tensor.clone() for name, tensor in loaded.generator.state_dict().items()}
        drawn = loaded.sample(np.int64(3), seed=1)  # numpy's integers too
        with torch.no_grad():
            called = loaded.generator(torch.randn(3, loaded.config.latent_dim,
                                                  generator=torch.Generator().manual_seed(1))).numpy()
        np.testing.assert_array_equal(called, drawn)
        assert all(torch.equal(tensor, statistics[name]) for name, tensor in loaded.generator.state_dict().items())


def test_module_entry_point_runs_as_a_subprocess():
    # (the fault tests train through `python -m wgan train` in subprocesses of their own)
    result = subprocess.run([sys.executable, "-m", "wgan", "train", "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("usage: wgan train "), result.stderr


def test_the_command_line_starts_without_the_libraries_it_needs_only_to_measure_or_draw():
    slow = ("ot", "sklearn", "scipy.stats", "scipy.spatial", "matplotlib")  # about 2 s of a start, together
    code = f"import sys, wgan.cli; print(*[name for name in {slow!r} if name in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_figures_leave_pyplot_and_the_callers_matplotlib_backend_alone():
    code = ("import sys, matplotlib, numpy as np; matplotlib.use('svg'); from wgan import plots; "
            "png = plots.point_scatter(np.zeros((3, 2)), np.ones((3, 2))); "
            "print(png[:4] == b'\\x89PNG', matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["True", "svg", "False"], result.stdout + result.stderr


def test_help_lists_every_setting_with_its_default_and_source(capsys):
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--lr", "--clip", "--penalty-weight", "--n-critic", "--batch-size", "--warmup", "--precision"):
        assert flag in text
    assert "wgan 5e-05" in text and "wgan-gp 0.0001" in text  # per-algorithm defaults
    assert "from WGAN-GP toy code" in text  # where a default comes from
    eval_samples = text[text.index("--eval-samples EVAL_SAMPLES generated"):text.index("--log-every LOG_EVERY log")]
    assert "(ours:" in eval_samples and "toy code" not in eval_samples  # our own choice is not credited to a paper


def test_the_python_help_of_config_lists_every_setting_with_its_default():
    # help(wgan.Config) showed its signature alone, and help(wgan.train) sent Python users to the command line
    text = " ".join(pydoc.render_doc(wgan.Config).split())
    for name in wgan.config.FIELDS:
        assert f" {name} : " in text, name
    assert "lr : float | learning rate of both optimisers; default per algorithm" in text and "wgan 5e-05" in text
    assert "help(wgan.Config)" in wgan.train.__doc__


def _write(path, text):
    path.write_text(text)
    return str(path)


BAD_INPUTS = {
    "unknown dataset": (["--data", "9gaussians"], "unknown data"),
    "unknown algorithm": (["--algorithm", "wgan-xx"], "unknown algorithm"),
    "negative lr": (["--lr", "-1"], "lr must be positive"),
    "zero clip": (["--algorithm", "wgan", "--clip", "0"], "clip must be positive"),
    "clip without clipping": (["--clip", "-1"], "clip -1.0 has no effect: only wgan clips"),
    "zero batch": (["--batch-size", "0"], "batch_size must be a positive"),
    "zero n_critic": (["--n-critic", "0"], "n_critic must be a positive"),
    "non-numeric flag": (["--lr", "fast"], "invalid float value"),
    "missing file": (["--data", "no/such/points.csv"], "does not exist"),
    "missing config": (["--config", "no/such.toml"], "does not exist"),
    "seed beyond 64 bits": (["--seed", str(2**70)], "seed must be a whole number from 0 to 2**32 - 1"),
    "seed beyond 32 bits": (["--seed", str(2**32)], "from 0 to 2**32 - 1 (torch's generator keeps 32 bits"),
    "negative seed": (["--seed", "-1"], "seed must be a whole number from 0 to 2**32 - 1"),
    "config a folder": (["--config", "/"], "config file '/' is a folder"),
    "negative nan retries": (["--nan-retries", "-1"], "nan_retries must be 0 or more, got -1"),
    "one evaluation sample": (["--eval-samples", "1"], "eval_samples must be at least 2"),
    "mnist without its folder": (["--data", "mnist"], "needs data_dir: pass the folder with --data-dir"),
    "betas with rmsprop": (["--algorithm", "wgan", "--beta1", "0.5"], "beta1 0.5 has no effect: RMSProp"),
    "image size of points": (["--image-size", "16"], "image_size 16 has no effect: data '8gaussians' is points"),
    "data_dir of points": (["--data-dir", "/nowhere"], "data_dir '/nowhere' has no effect"),
    # it named an lr_decay_start 0 that was not given
    "decay end without decay": (["--lr-decay", "none", "--lr-decay-end", "5"], "lr_decay_end 5 has no effect: "
                                                                               "lr_decay is none; choose --lr-decay "
                                                                               "linear, or leave it out"),
    "activation of a dcgan": (["--data", "digits", "--model", "dcgan", "--activation", "tanh"],
                              "activation 'tanh' has no effect: only MLPs take it"),
    "misspelt folder of images": (["--data", "imgaes/", "--model", "dcgan"], "'imgaes/' is neither a data set name"),
    "misspelt data with a size": (["--data", "digts", "--image-size", "16"], "'digts' is neither a data set name"),
    "too few images to score": (["--data", "digits", "--eval-samples", "3"], "--eval-samples 3 is too few for the "
                                "image scores"),
    "decay of a new run": (["--decay", "keep"], "--decay keep has no effect on a new run"),
    "layers beyond 64 bits": (["--width", str(10**10)], "layers too large to count in 64 bits: lower --width"),
    # these two were tracebacks: torch's TypeError "Overflow when unpacking long long", and a read without end
    "latent size beyond 2**63": (["--latent-dim", str(10**19)], "layers too large to count in 64 bits: lower"),
    "config file without end": (["--config", "/dev/zero"], "config file '/dev/zero' holds more than 1 MB"),
    "batch beyond 64 bits": (["--batch-size", str(2**63 - 1)], "a batch of 9,223,372,036,854,775,807 with n_critic"),
    "depth of 1e8": (["--depth", str(10**8)], "depth 100000000 is more than 1000 hidden layers"),  # it hung
    # a stop signal waited for all of them: SIGTERM was ignored for good
    "warm-up of 1e30 steps": (["--algorithm", "wgan", "--warmup-critic-steps", str(10**30)], "warmup_critic_steps "
                              "1000000000000000000000000000000 is more than 10,000 critic steps in one phase"),
    "n_critic of 1e5": (["--n-critic", str(10**5)], "n_critic 100000 is more than 10,000 critic steps in one phase"),
    "sync batch norm alone": (["--sync-batchnorm"], "sync_batchnorm has no effect in one process"),
    # the next four trained, recording a setting that nothing read
    "depth of a dcgan": (["--data", "digits", "--depth", "5"], "depth 5 has no effect: only MLPs take it"),
    "warm-up steps without the warm-up": (["--warmup-critic-steps", "50"], "warmup_critic_steps 50 has no effect: "
                                          "the warm-up is off"),
    "retries that stop": (["--on-nan", "stop", "--nan-retries", "7"], "nan_retries 7 has no effect: on_nan is stop"),
    "a decay that starts after the end": (["--lr-decay", "linear", "--lr-decay-start", "20", "--lr-decay-end", "40",
                                           "--iterations", "5"], "lr_decay_start 20 has no effect: the run ends at "
                                          "iteration 5"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_exit_2_and_no_run_folder(case, tmp_path, capsys):
    flags, expected = BAD_INPUTS[case]
    code = main(["train", "--out", str(tmp_path / "runs"), "--quiet", *flags])
    error = capsys.readouterr().err.strip()
    assert code == 2
    assert expected in error and len(error.splitlines()) == 1 and "Traceback" not in error
    assert not (tmp_path / "runs").exists()


def test_a_setting_of_the_config_file_that_is_refused_names_the_file(tmp_path, capsys):
    # a run's config.toml holds every setting of its algorithm: reused for another one, the user had typed none
    assert main(["train", "--iterations", "2", "--eval-every", "2", "--out", str(tmp_path), "--name", "base",
                 "--quiet", *TINY_FLAGS]) == 0
    config = str(tmp_path / "base" / "config.toml")
    for flags, named in ((["--algorithm", "gan"], "penalty_weight 0.1 has no effect: gan has no gradient penalty"),
                         (["--algorithm", "wgan"], "clip must be positive for wgan")):
        assert main(["train", "--config", config, "--name", "other", "--out", str(tmp_path), *flags]) == 2
        assert capsys.readouterr().err.strip().startswith(f"wgan: error: config file '{config}': {named}")
    bad = _write(tmp_path / "bad.toml", "lr = -0.1\n")
    assert main(["train", "--config", bad, "--out", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err.startswith(f"wgan: error: config file '{bad}': lr must be positive, got -0.1")
    assert main(["train", "--config", bad, "--lr", "-1", "--out", str(tmp_path / "runs")]) == 2  # the flag's value
    assert capsys.readouterr().err.startswith("wgan: error: lr must be positive, got -1")


@pytest.mark.parametrize("content, expected", [
    ("1,2\n3\n5,6\n", "row 2"),       # ragged
    ("1,2\n3,x\n5,6\n", "row 2"),     # non-numeric
    ("1,2\n3,nan\n5,6\n", "NaN"),     # NaN in the data
    ("1;2\n3;4\n5;6\n", "the file seems separated by semicolons; save it with commas"),  # blamed row 2 alone
    ("x\ty\n1\t2\n3\t4\n", "the file seems separated by tabs"),
    ('"1,2\n3,4\n5,6\n', "row 1 opens a quote (\") that is not closed on that row"),  # said "has 0 points"
    (",x,y\n0,1,2\n1,3,4\n2,5,6\n", "as pandas' to_csv writes its index: save it with to_csv(path, index=False)"),
])
def test_bad_csv_data_gives_one_line_exit_2_and_no_run_folder(content, expected, tmp_path, capsys):
    data = _write(tmp_path / "points.csv", content)
    code = main(["train", "--data", data, "--out", str(tmp_path / "runs"), "--quiet"])
    error = capsys.readouterr().err.strip()
    assert code == 2 and expected in error and len(error.splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_bad_input_through_the_real_command_prints_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "wgan", "train", "--data", "nope", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("wgan: error: unknown data") and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())


def test_data_too_large_for_memory_is_refused_before_it_is_allocated(tmp_path, capsys):
    # the API raised torch's "DefaultCPUAllocator: can't allocate memory" (the CLI caught it as below)
    for settings, named in ((dict(batch_size=10**9), "a batch of 1,000,000,000 with n_critic 5 needs about"),
                            (dict(batch_size=10**6, n_critic=10**4), "a batch of 1,000,000 with n_critic 10000 "
                                                                       "needs about"),
                            (dict(eval_samples=10**10), "10,000,000,000 evaluation samples needs about")):
        with pytest.raises(WganError, match=named):
            wgan.train(iterations=2, write=False, progress=False, **(TINY | settings))
    run = wgan.train(iterations=2, eval_every=2, out=str(tmp_path), name="run", progress=False, **TINY)
    with pytest.raises(WganError, match="the noise of 1,000,000,000,000 samples needs about 8,000.0 GB"):
        run.sample(10**12)
    with pytest.raises(WganError, match="lower eval_samples"):
        wgan.evaluate_run(run.path, samples=10**10)
    assert main(["sample", "--run", str(run.path), "--n", str(10**12), "--out", str(tmp_path / "s.npy")]) == 2
    assert capsys.readouterr().err.startswith("wgan: error: the noise of 1,000,000,000,000 samples needs about")


def test_running_out_of_memory_is_one_line_naming_what_to_lower_and_a_failed_run_leaves_no_folder(tmp_path,
                                                                                                      capsys,
                                                                                                      monkeypatch):
    monkeypatch.setattr(wgan.api, "check_fits_in_memory", lambda *args: None)  # the allocation, past the checks
    runs = tmp_path / "runs"
    assert main(["train", "--batch-size", "200000000000", "--iterations", "2", "--out", str(runs), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("wgan: error: out of memory (") and "GB asked for" in error and "--batch-size" in error
    assert len(error.splitlines()) == 1
    assert not runs.exists()  # it failed before its first checkpoint: no folder, nor the out folder made for it
    assert main(["train", "--iterations", "2", "--eval-every", "2", "--out", str(tmp_path), "--name", "run",
                 "--quiet", *TINY_FLAGS]) == 0
    for command, hint in ((["sample", "--n", "100000000000", "--out", str(tmp_path / "s.npy")], "lower --n"),
                          (["eval", "--samples", "100000000000"], "lower --samples")):
        assert main([command[0], "--run", str(tmp_path / "run"), *command[1:]]) == 2
        error = capsys.readouterr().err.strip()
        assert "out of memory" in error and error.endswith(hint) and len(error.splitlines()) == 1
    assert not (tmp_path / "s.npy").exists()


@pytest.mark.parametrize("there, other_run, left", [
    (None, False, None),  # every folder of --out made for the run: none left
    ("out", False, "out"),  # --out was there: it stays
    (None, True, "out/new/runs/other"),  # another run started in the folders made for this one: they stay
])
def test_a_run_that_fails_before_its_first_checkpoint_removes_the_out_folders_it_made(tmp_path, capsys, monkeypatch,
                                                                                       there, other_run, left):
    # they were left empty, the run folder inside them removed
    monkeypatch.setattr(wgan.api, "check_fits_in_memory", lambda *args: None)  # the allocation fails past the checks
    if there:
        (tmp_path / there).mkdir()
    runs = tmp_path / "out" / "new" / "runs"
    if other_run:
        told = wgan.api.tell_launcher_the_run
        monkeypatch.setattr(wgan.api, "tell_launcher_the_run",
                            lambda *args, **kwargs: ((runs / "other").mkdir(), told(*args, **kwargs)))
    assert main(["train", "--batch-size", "200000000000", "--iterations", "2", "--out", str(runs), "--quiet"]) == 2
    assert "out of memory" in capsys.readouterr().err
    kept = [] if left is None else [Path(*Path(left).parts[:depth]) for depth in range(1, len(Path(left).parts) + 1)]
    assert [path.relative_to(tmp_path) for path in sorted(tmp_path.rglob("*"))] == kept  # left, and its parents


def test_many_samples_are_generated_a_part_at_a_time_and_equal_those_made_at_once(tmp_path, monkeypatch):
    run = wgan.train(iterations=2, eval_every=2, write=False, progress=False, **TINY)
    at_once = run.sample(10, seed=3)
    calls = []
    run.generator.register_forward_hook(lambda module, inputs, output: calls.append(len(inputs[0])))
    monkeypatch.setattr(wgan.api, "GENERATED_AT_ONCE", 4)
    np.testing.assert_allclose(run.sample(10, seed=3), at_once, rtol=1e-6, atol=1e-6)
    assert calls == [4, 4, 2]


def test_a_seed_beyond_64_bits_is_refused_by_sample_and_the_api(tmp_path, capsys):
    assert main(["train", "--iterations", "2", "--eval-every", "2", "--out", str(tmp_path), "--name", "run",
                 "--quiet", *TINY_FLAGS]) == 0
    assert main(["sample", "--run", str(tmp_path / "run"), "--n", "3", "--out", str(tmp_path / "s.npy"),
                 "--seed", str(2**70)]) == 2
    assert "--seed must be a whole number" in capsys.readouterr().err
    with pytest.raises(WganError, match="seed must be a whole number"):
        wgan.load_run(tmp_path / "run").sample(3, seed=2**70)
    with pytest.raises(WganError, match="seed must be a whole number"):
        wgan.train(seed=2**70, write=False, progress=False)


def test_ctrl_c_outside_training_says_what_it_left_not_how_to_resume(tmp_path, capsys, monkeypatch):
    def interrupted(*arguments, **settings):
        raise KeyboardInterrupt

    monkeypatch.setattr(wgan.cli.api, "evaluate_run", interrupted)
    assert main(["eval", "--run", str(tmp_path)]) == 130
    error = capsys.readouterr().err.strip()
    assert error == "wgan eval: interrupted; nothing was written"


def test_a_run_folder_finds_its_data_file_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "points.csv", "\n".join(f"{i % 7},{i % 5}" for i in range(100)))
    assert main(["train", "--data", "points.csv", "--iterations", "2", "--eval-every", "2", "--out", "runs",
                 "--name", "run", "--quiet", *TINY_FLAGS]) == 0
    assert f'data = "{tmp_path / "points.csv"}"' in (tmp_path / "runs" / "run" / "config.toml").read_text()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["sample", "--run", str(tmp_path / "runs" / "run"), "--n", "4", "--out", "s.npy"]) == 0
    assert np.load(tmp_path / "elsewhere" / "s.npy").shape == (4, 2)


def test_a_run_whose_data_was_moved_names_it_as_the_runs_data_in_eval_and_resume(tmp_path, capsys):
    # it said "data file ... does not exist: check the path (relative paths start in ...)", a path never typed
    data = _write(tmp_path / "points.csv", "\n".join(f"{i % 7},{i % 5}" for i in range(100)))
    assert main(["train", "--data", data, "--iterations", "2", "--eval-every", "2", "--out", str(tmp_path),
                 "--name", "run", "--quiet", *TINY_FLAGS]) == 0
    (tmp_path / "points.csv").rename(tmp_path / "moved.csv")
    run = str(tmp_path / "run")
    for command in (["eval", "--run", run], ["train", "--resume", run, "--iterations", "4"]):
        assert main(command) == 2
        error = capsys.readouterr().err.strip()
        assert error == (f"wgan: error: run '{run}' was trained on data '{data}', which is not there any more: put it "
                         "back there (the run's config.toml names it) to evaluate or resume the run")
    assert main(["sample", "--run", run, "--n", "4", "--out", str(tmp_path / "scatter.png")]) == 2  # draws the data
    assert "a .png of points draws the run's data beside them" in capsys.readouterr().err
    assert RunFollower(run).describe()["data"] == "points.csv"  # watching a run needs no data


@pytest.mark.parametrize("kind", ["points", "images"])
def test_a_run_is_sampled_without_its_data_or_with_other_data_as_with_its_own(tmp_path, capsys, kind):
    # sample and load_run rebuilt the run from its data: a run folder copied to another machine could not be sampled
    rng = np.random.default_rng(0)
    if kind == "points":
        np.save(tmp_path / "data.npy", rng.standard_normal((200, 2)).astype(np.float32))
        flags = TINY_FLAGS
    else:  # convolutional models, whose settings are checked against the data's kind when a config is resolved
        np.save(tmp_path / "data.npy", rng.integers(0, 256, (200, 16, 16), dtype=np.uint8))
        flags = ["--image-size", "16", "--width", "8", "--eval-samples", "100"]
    assert main(["train", "--data", str(tmp_path / "data.npy"), "--iterations", "2", "--eval-every", "2", "--out",
                 str(tmp_path), "--name", "run", "--quiet", *flags]) == 0
    with_data = wgan.load_run(tmp_path / "run").sample(8, seed=3)
    (tmp_path / "data.npy").rename(tmp_path / "moved.npy")
    np.testing.assert_array_equal(wgan.load_run(tmp_path / "run").sample(8, seed=3), with_data)
    assert main(["sample", "--run", str(tmp_path / "run"), "--n", "8", "--seed", "3", "--out",
                 str(tmp_path / "s.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), with_data)
    # data made again in its place, of another shape or with a NaN, refused the trained generator ("the
    # checkpoint's networks do not fit ...; train a new run", "data file ... has 1 NaN")
    for replaced in (rng.standard_normal((50, 3)), np.full((200, 8, 8) if kind == "images" else (200, 2), np.nan)):
        np.save(tmp_path / "data.npy", replaced.astype(np.float32))
        np.testing.assert_array_equal(wgan.load_run(tmp_path / "run").sample(8, seed=3), with_data)
        assert main(["sample", "--run", str(tmp_path / "run"), "--n", "8", "--seed", "3", "--out",
                     str(tmp_path / "s.npy")]) == 0, capsys.readouterr().err


def test_resuming_on_data_whose_shape_changed_is_one_line(tmp_path, capsys):
    data = _write(tmp_path / "points.csv", "\n".join(f"{i % 7},{i % 5}" for i in range(100)))
    assert main(["train", "--data", data, "--iterations", "2", "--eval-every", "2", "--out", str(tmp_path),
                 "--name", "run", "--quiet", *TINY_FLAGS]) == 0
    _write(tmp_path / "points.csv", "\n".join(f"{i % 7},{i % 5},{i % 3}" for i in range(100)))
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "4", "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert "the data changed since the run was trained" in error and "(3,)" in error
    assert len(error.splitlines()) == 1


def test_resuming_on_data_whose_values_changed_says_so_and_goes_on(tmp_path, capsys):
    data = _write(tmp_path / "points.csv", "\n".join(f"{i % 7},{i % 5}" for i in range(100)))
    assert main(["train", "--data", data, "--iterations", "2", "--eval-every", "2", "--lr-decay", "none",
                 "--out", str(tmp_path), "--name", "run", "--quiet", *TINY_FLAGS]) == 0
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "4", "--quiet"]) == 0
    assert "changed" not in capsys.readouterr().err  # the same data: nothing to say
    _write(tmp_path / "points.csv", "\n".join(f"{i % 7},{i % 6}" for i in range(100)))
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "6", "--quiet"]) == 0
    error = capsys.readouterr().err.strip()
    assert error == f"wgan: warning: the data {data!r} changed since the run started on it: training continues on " \
                    "the data as it is now"
    assert main(["eval", "--run", str(tmp_path / "run")]) == 0  # eval said nothing of it
    assert capsys.readouterr().err.strip() == (f"wgan: warning: the data {data!r} changed since the run started on "
                                               "it: the scores compare the generator with the data as it is now")
    # the scatter drew the changed data as the run's "real data", without a word
    assert main(["sample", "--run", str(tmp_path / "run"), "--n", "50", "--out", str(tmp_path / "s.png")]) == 0
    assert capsys.readouterr().err.strip() == (f"wgan: warning: the data {data!r} changed since the run started on "
                                               "it: the figure draws the data as it is now")
    assert main(["sample", "--run", str(tmp_path / "run"), "--n", "50", "--out", str(tmp_path / "s.npy")]) == 0
    assert capsys.readouterr().err == ""  # the samples alone do not read the data
    (tmp_path / "points.csv").rename(tmp_path / "moved.csv")  # data not there: not "changed", but not there
    assert main(["sample", "--run", str(tmp_path / "run"), "--n", "50", "--out", str(tmp_path / "s.png")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "changed" not in error and "not where" in error


def test_the_python_api_names_a_wrong_argument_in_its_own_terms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WganError, match="write must be True or False, got 'no'"):
        wgan.train(write="no")
    with pytest.raises(WganError, match="make_config's file is the path of a TOML file, not a dict: settings go as "
                                        "keywords"):
        wgan.make_config({"iterations": 3})
    for loader in (wgan.load_run, wgan.resume, wgan.evaluate_run):
        with pytest.raises(WganError, match="a run folder is a path .*, not the NoneType None"):
            loader(None)
    for wrong in (5, "settings.toml"):
        with pytest.raises(WganError, match="train\\(\\) takes a Config or keyword settings"):
            wgan.train(wrong)
    with pytest.raises(WganError, match="data is a ndarray, expected str"):  # not the array's repr
        wgan.train(data=np.zeros((1000, 2)))
    with pytest.raises(WganError, match=r"data is a TensorDataset, expected str: data is read from a file; save the "
                                        r"samples with numpy\.save"):  # it said no more than its type
        wgan.train(data=torch.utils.data.TensorDataset(torch.zeros(10, 2)))
    _write(tmp_path / "points.csv", "\n".join(f"{i % 7},{i % 5}" for i in range(100)))
    run = wgan.train(data=tmp_path / "points.csv", iterations=2, eval_every=2, write=False, progress=False, **TINY)
    assert run.config.data == str(tmp_path / "points.csv")  # a Path is a path
    for n in (0, -1, "10", 2.5):
        with pytest.raises(WganError, match="n must be a positive whole number"):
            run.sample(n)
    for ema in (0, "no"):  # 0 took the average, "no" asked for one
        with pytest.raises(WganError, match=f"ema must be True, False or None, got {ema!r}"):
            run.sample(3, ema=ema)
    saved = wgan.train(data=tmp_path / "points.csv", iterations=2, eval_every=2, out="runs", progress=False, **TINY)
    with pytest.raises(WganError, match="progress must be True or False, got 'no'"):
        wgan.resume(saved.path, iterations=3, progress="no")  # it trained, showing a progress bar
    for samples in (2.5, "100", np.int64(1)):
        expected = f"samples is {samples!r}; expected a whole number of at least 2"
        with pytest.raises(WganError, match=re.escape(expected)):
            wgan.evaluate_run(saved.path, samples=samples)
    # numpy's integers and torch's devices, which sizes and devices are elsewhere, were refused here
    assert wgan.evaluate_run(saved.path, samples=np.int64(50), device=torch.device("cpu"))["iteration"] == 2
    assert wgan.load_run(saved.path, device=torch.device("cpu")).sample(3).shape == (3, 2)


def test_a_run_folder_with_a_setting_that_now_counts_as_ignored_still_loads(tmp_path, capsys):
    assert main(["train", "--iterations", "2", "--eval-every", "2", "--out", str(tmp_path), "--name", "run",
                 "--quiet", *TINY_FLAGS]) == 0
    run = RunFolder.open(tmp_path / "run")  # as a run trained before the check would have it: its settings...
    with open(run.path / "config.toml", "a") as file:
        file.write("image_size = 16\n")
    for which in ("best", "latest"):  # ... and its checkpoints' record of them
        state = run.load_checkpoint(which)
        run.save_checkpoint(state | {"config": state["config"] | {"image_size": 16}}, which)
    assert main(["sample", "--run", str(tmp_path / "run"), "--n", "3", "--out", str(tmp_path / "s.npy")]) == 0
    assert main(["eval", "--run", str(tmp_path / "run")]) == 0
    with pytest.raises(WganError, match="image_size 16 has no effect"):  # a new run with it is refused
        wgan.train(image_size=16, write=False, progress=False)


def test_a_run_stopped_by_its_time_budget_says_so_when_done(tmp_path, capsys):
    assert main(["train", "--max-minutes", "0.001", "--iterations", "100000", "--eval-every", "1000", "--out",
                 str(tmp_path), "--name", "run", "--quiet", *TINY_FLAGS]) == 0
    done = capsys.readouterr().out.splitlines()[0]
    assert done.startswith(f"done: {tmp_path / 'run'} (stopped by --max-minutes 0.001 at iteration ")
    assert done.split(" | ")[0].endswith("of 100000)")


@pytest.mark.parametrize("name, said", [  # each made a folder of that name, and the "done:" line broke in two
    ("a\nb", "run name 'a\\nb' holds a line break, a tab or another control character"),
    ("a\tb", "run name 'a\\tb' holds a line break"), (" ", "run name ' ' holds"), ("\x01", "run name '\\x01' holds"),
])
def test_a_run_name_of_control_characters_or_blanks_is_one_line(tmp_path, capsys, name, said):
    assert main(["train", "--out", str(tmp_path), "--name", name, "--quiet"]) == 2
    assert said in capsys.readouterr().err and not any(tmp_path.iterdir())


def test_an_empty_out_is_refused_not_the_working_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # it wrote ./wgan-gp-8gaussians/
    assert main(["train", "--out", "", "--quiet"]) == 2
    assert "out is empty (an unset shell variable?)" in capsys.readouterr().err and not any(tmp_path.iterdir())


@pytest.mark.parametrize("what, said", [
    ("a file", "is already there and is no run folder: choose another --name"),
    ("a link to nothing", "is already there and is no run folder: choose another --name"),
    ("a folder without config.toml", "is a folder without a config.toml: another run of this --name is starting"),
    ("a link to a run folder", "already exists: choose another --name, or continue it with `wgan train --resume"),
])
def test_a_name_taken_by_what_is_no_run_folder_is_not_offered_for_a_resume(tmp_path, capsys, what, said):
    # each but the last was told "run folder ... already exists: continue it with wgan train --resume"
    if what == "a file":
        (tmp_path / "taken").write_text("")
    elif what == "a link to nothing":
        (tmp_path / "taken").symlink_to(tmp_path / "nowhere")
    elif what == "a link to a run folder":
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "config.toml").write_text("")
        (tmp_path / "taken").symlink_to(tmp_path / "run")
    else:
        (tmp_path / "taken").mkdir()
    assert main(["train", "--out", str(tmp_path), "--name", "taken", "--quiet"]) == 2
    assert said in capsys.readouterr().err


def test_an_out_that_links_to_nothing_says_so(tmp_path, capsys):
    (tmp_path / "out").symlink_to(tmp_path / "nowhere")
    assert main(["train", "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert f"out '{tmp_path / 'out'}' is a link to '{tmp_path / 'nowhere'}', which is not there" in \
        capsys.readouterr().err  # it said "cannot make the run folder (File exists)"


def test_an_existing_run_is_never_overwritten(tmp_path, capsys):
    # and the resume command its line gives can be pasted as it is: a name with a space had broken it in two
    flags = ["train", "--iterations", "2", "--eval-every", "2", "--out", str(tmp_path), "--name", "my run",
             "--quiet", *TINY_FLAGS]
    assert main(flags) == 0
    before = (tmp_path / "my run" / "checkpoints" / "latest.pt").read_bytes()
    assert main(flags) == 2
    assert f"already exists: choose another --name, or continue it with `wgan train --resume '{tmp_path}/my run'`" \
        in capsys.readouterr().err
    assert (tmp_path / "my run" / "checkpoints" / "latest.pt").read_bytes() == before


def test_runs_started_at_once_in_one_out_folder_each_take_the_next_free_number(tmp_path, monkeypatch):
    # the name was looked for, then made: a second run made it in between, and the first stopped with "cannot make
    # the run folder (File exists): choose an --out you can write to"
    make = Path.mkdir

    def another_run_first(self, *args, **kwargs):
        if self == tmp_path / "wgan-gp-8gaussians" and not self.exists():
            make(self)  # the other run's
        return make(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", another_run_first)
    run = wgan.train(iterations=1, out=str(tmp_path), progress=False, **TINY)
    assert run.path == tmp_path / "wgan-gp-8gaussians-2"


def test_an_out_folder_removed_by_a_failing_run_as_this_one_starts_is_made_again(tmp_path, monkeypatch):
    # a run that fails before its first checkpoint removes the out folders it made, left empty: one made for
    # both, between this run's making it and making its own folder in it
    out, make, removed = tmp_path / "new", Path.mkdir, []

    def removed_by_the_other_run(self, *args, **kwargs):
        made = make(self, *args, **kwargs)
        if self == out and not removed:
            removed.append(self.rmdir())
        return made

    monkeypatch.setattr(Path, "mkdir", removed_by_the_other_run)
    run = RunFolder.create(wgan.make_config(out=str(out), name="run"))
    run.close()
    assert removed and (out / "run" / "config.toml").is_file()


@pytest.mark.parametrize("settings, said", [
    (dict(name="a\x00b"), "run name 'a\\x00b' holds a line break, a tab or another control character"),
    (dict(name="n" * 300), "(File name too long): choose an --out you can write to, and a --name that a folder"),
    (dict(out="y" * 300), "(File name too long): choose an --out you can write to"),
    (dict(out="taken.txt"), "out 'taken.txt' is a file: choose a folder for the run folders (--out)"),
])
def test_a_run_folder_that_cannot_be_made_is_one_wgan_error(tmp_path, monkeypatch, settings, said):
    # a NUL character or an overlong out was a raw ValueError or OSError
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken.txt").write_text("")
    with pytest.raises(WganError) as error:
        wgan.train(**{"out": str(tmp_path), **settings}, iterations=1, progress=False, **TINY)
    assert said.format(out=tmp_path) in str(error.value)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["taken.txt"]


def test_a_run_with_only_its_best_checkpoint_says_how_to_resume_from_it(tmp_path, capsys):
    # it said the run "stopped before its first evaluation", with best.pt beside
    assert main(["train", "--iterations", "4", "--eval-every", "2", "--out", str(tmp_path), "--name", "run",
                 "--quiet", *TINY_FLAGS]) == 0
    checkpoints = tmp_path / "run" / "checkpoints"
    for which in ("latest", "previous"):
        (checkpoints / f"{which}.pt").unlink()
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "6", "--quiet"]) == 2
    assert capsys.readouterr().err.strip().endswith(f"only best.pt: copy it to {checkpoints / 'latest.pt'} to resume "
                                                    "from the best iteration (the rows logged after it are dropped)")
    shutil.copy(checkpoints / "best.pt", checkpoints / "latest.pt")
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "6", "--quiet"]) == 0


def test_a_resume_refused_for_any_reason_leaves_the_run_folder_free(tmp_path):
    # a TypeError from iterations="6" left the folder locked by this process until it ended
    run = wgan.train(iterations=2, eval_every=2, out=str(tmp_path), name="run", progress=False, **TINY)
    with pytest.raises(WganError, match="iterations = '6' is a str, expected int"):
        wgan.resume(run.path, iterations="6")
    with pytest.raises(WganError, match="already reached iteration 2 of 1"):
        wgan.resume(run.path, iterations=1)
    assert wgan.resume(run.path, iterations=3, progress=False).iteration == 3


def test_a_resume_before_the_restarted_decay_window_is_refused_as_finished(tmp_path):
    # the run's config.toml holds the decay restarted at the first resume: the decay's window was named instead
    run = wgan.train(iterations=2, eval_every=2, lr_decay="linear", out=str(tmp_path), name="run", progress=False,
                     **TINY)
    wgan.resume(run.path, iterations=4, progress=False)
    with pytest.raises(WganError, match="already reached iteration 4 of 2 .* pass a larger --iterations"):
        wgan.resume(run.path, iterations=2)


def test_a_config_toml_edited_since_the_checkpoint_is_refused_by_resume_eval_and_sample(tmp_path, capsys):
    # a resume trained on with the edited lr (the estimate jumped to 2e4), algorithm or seed without a word
    assert main(["train", "--iterations", "2", "--eval-every", "2", "--out", str(tmp_path), "--name", "run",
                 "--quiet", *TINY_FLAGS]) == 0
    config = tmp_path / "run" / "config.toml"
    recorded = config.read_text()
    config.write_text(recorded.replace("lr = 0.001", "lr = 0.5").replace('data = "8gaussians"', 'data = "25gaussians"'))
    edited = config.read_text()
    for command in (["train", "--resume", str(tmp_path / "run"), "--iterations", "4", "--quiet"],
                    ["eval", "--run", str(tmp_path / "run")],
                    ["sample", "--run", str(tmp_path / "run"), "--n", "2", "--out", str(tmp_path / "s.npy")]):
        assert main(command) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith(f"wgan: error: run '{tmp_path / 'run'}': its config.toml was edited since the "
                                'checkpoint was written: data = "25gaussians" (trained with "8gaussians"), lr = 0.5 '
                                "(trained with 0.001); a run continues with the settings it was trained with")
        assert len(error.splitlines()) == 1 and config.read_text() == edited  # nothing rewritten
    # what a resume may change differs as it should: config.toml is written before the resume's first checkpoint
    config.write_text(recorded.replace("iterations = 2", "iterations = 3").replace('device = "auto"',
                                                                                   'device = "cuda"'))
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "4", "--quiet"]) == 2
    # a GPU run's folder on this machine...
    assert capsys.readouterr().err.strip().endswith("use --device cpu (device='cpu' in Python)")
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "4", "--device", "cpu", "--quiet"]) == 0
    assert wgan.load_run(tmp_path / "run", "latest").iteration == 4  # ... continues on the CPU, as --device says


@pytest.mark.parametrize("flag", ["--resume", "--config"])
def test_an_empty_resume_or_config_path_is_refused_not_taken_for_none(tmp_path, capsys, monkeypatch, flag):
    monkeypatch.chdir(tmp_path)  # `--resume "$RUN"` with RUN unset started a new default run
    assert main(["train", flag, "", "--iterations", "1", "--quiet"]) == 2
    assert "path is empty (an unset shell variable?)" in capsys.readouterr().err and not any(tmp_path.iterdir())
    with pytest.raises(WganError, match="path is empty"):
        wgan.make_config("") if flag == "--config" else wgan.resume("")


def test_resume_refuses_changed_settings_and_finished_runs(tmp_path, capsys):
    assert main(["train", "--iterations", "2", "--eval-every", "2", "--out", str(tmp_path), "--name", "run",
                 "--quiet", *TINY_FLAGS]) == 0
    assert main(["train", "--resume", str(tmp_path / "run"), "--lr", "0.1"]) == 2
    assert "these differ: lr 0.1 (the run's: 0.001)" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "run"), "--config", str(tmp_path / "run" / "config.toml")]) == 2
    assert "only --iterations, --max-minutes, --eval-every and --device may change, not --config" in \
        capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "run"), "--quiet", "--max-minutes", "5"]) == 2
    error = capsys.readouterr().err
    assert "already reached iteration 2" in error  # minutes cannot help:
    assert "pass a larger --iterations (iterations= in Python) to" in error
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "'" + str(tmp_path / "nothing") + "' does not exist: give a run folder" in capsys.readouterr().err


def test_a_finished_run_is_refused_before_anything_is_built_for_it(tmp_path, capsys, monkeypatch):
    # building first printed the image scores' classifier line (and trained it, when not cached) before refusing
    assert main(["train", "--max-minutes", "0.001", "--iterations", "100000", "--eval-every", "1000", "--out",
                 str(tmp_path), "--name", "run", "--quiet", *TINY_FLAGS]) == 0
    capsys.readouterr()
    built = []
    monkeypatch.setattr(wgan.api, "_assemble", lambda *args, **kwargs: built.append(args))
    assert main(["train", "--resume", str(tmp_path / "run")]) == 2
    out, error = capsys.readouterr()
    assert ("pass a larger --max-minutes (max_minutes= in Python, or 0 for no limit: it counts the run's training "
            "in all) to continue it") in error and out == "" and built == []


def test_a_checkpoint_without_a_field_of_this_version_is_one_line_not_a_key_error(tmp_path, capsys):
    assert main(["train", "--iterations", "2", "--eval-every", "2", "--out", str(tmp_path), "--name", "run",
                 "--quiet", *TINY_FLAGS]) == 0
    latest = tmp_path / "run" / "checkpoints" / "latest.pt"
    state = torch.load(latest, weights_only=True)
    for name in ("train_seconds", "format", "checksum"):  # as checkpoints written before the time budget existed
        del state[name]
    torch.save(state, latest)
    before = {path: path.read_bytes() for path in (tmp_path / "run").rglob("*") if path.is_file()}
    assert main(["train", "--resume", str(tmp_path / "run"), "--iterations", "4", "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert "lacks train_seconds" in error and "older version" in error and len(error.splitlines()) == 1
    assert {path: path.read_bytes() for path in (tmp_path / "run").rglob("*") if path.is_file()} == before


def test_a_damaged_checkpoint_is_reported_not_unpickled(tmp_path, capsys):
    assert main(["train", "--iterations", "2", "--eval-every", "2", "--out", str(tmp_path), "--name", "run",
                 "--quiet", *TINY_FLAGS]) == 0
    (tmp_path / "run" / "checkpoints" / "best.pt").write_bytes(b"not a checkpoint")
    assert main(["sample", "--run", str(tmp_path / "run"), "--n", "5", "--out", str(tmp_path / "s.npy")]) == 2
    assert "damaged" in capsys.readouterr().err
    assert not (tmp_path / "s.npy").exists()


def test_resume_refuses_a_setting_it_keeps_or_a_misspelt_keyword_in_one_line(tmp_path):
    # wgan.resume(path, lr=1e-4) was Python's TypeError about an unexpected keyword, which did not say why
    run = wgan.train(data="8gaussians", iterations=2, eval_every=2, out=str(tmp_path), name="run", progress=False,
                     **TINY)
    with pytest.raises(WganError, match=r"a resume keeps the settings the run was trained with .* these differ: "
                                        r"lr 0\.0001 \(the run's: 0\.001\): leave them out"):
        wgan.resume(run.path, iterations=4, lr=1e-4)
    with pytest.raises(WganError, match=r"resume\(\) got an unknown keyword 'iteration': it takes iterations="):
        wgan.resume(run.path, iteration=4)
    assert wgan.load_run(run.path, "latest").iteration == 2  # nothing trained


def test_a_resume_given_the_runs_own_settings_again_continues_it(tmp_path, monkeypatch):
    # the command that started a run, run again with --resume added, was refused for every flag it repeated
    monkeypatch.chdir(tmp_path)
    np.savetxt("points.csv", np.random.default_rng(0).normal(size=(300, 2)), delimiter=",")
    flags = ["--data", "points.csv", "--algorithm", "wgan", "--out", "runs", "--name", "run", "--quiet", *TINY_FLAGS]
    assert main(["train", "--iterations", "2", "--eval-every", "2", *flags]) == 0
    assert main(["train", "--iterations", "4", "--eval-every", "2", "--resume", "runs/run", *flags]) == 0
    assert wgan.load_run("runs/run", "latest").iteration == 4
    run = wgan.resume("runs/run", iterations=6, data=str(tmp_path / "points.csv"), width=16, progress=False)
    assert run.iteration == 6
    # widths set per network beside --width, and --out spelt another way, compare as the run resolved them
    mixed = ["--width", "16", "--critic-width", "32", "--name", "mixed", "--quiet", "--batch-size", "32",
             "--eval-samples", "200"]
    assert main(["train", "--iterations", "2", "--out", "runs/", *mixed]) == 0
    assert main(["train", "--iterations", "4", "--resume", "runs/mixed", "--out", str(tmp_path / "runs"), *mixed]) == 0
    assert main(["train", "--iterations", "6", "--resume", "runs/mixed", "--width", "16"]) == 2  # the critic's 16


def test_a_decay_that_ends_before_the_last_iteration_is_warned_about(capsys):
    # the last iterations trained at rate 0, without a word
    wgan.train(data="8gaussians", iterations=5, eval_every=5, lr_decay_end=2, write=False, progress=False, **TINY)
    assert "wgan: warning: the learning rate reaches 0 at iteration 2 (lr_decay_end), and the last 3 iterations " \
        "train at rate 0" in capsys.readouterr().err


def test_a_time_budget_beside_a_linear_decay_is_warned_about(tmp_path, capsys):
    # a toy run (linear decay by default) stopped by --max-minutes kept almost its whole learning rate, silently
    wgan.train(data="8gaussians", iterations=100000, max_minutes=0.001, write=False, progress=False, **TINY)
    assert "wgan: warning: the learning rate decays linearly to 0 at iteration 100,000, and --max-minutes 0.001 " \
        "may stop the run long before" in capsys.readouterr().err
    wgan.train(data="8gaussians", iterations=2, eval_every=2, write=False, progress=False, **TINY)
    wgan.train(data="8gaussians", iterations=100000, max_minutes=0.001, lr_decay="none", write=False,
               progress=False, **TINY)
    assert "warning" not in capsys.readouterr().err


def test_a_value_of_a_runs_config_toml_that_no_run_could_have_names_the_file(tmp_path, capsys):
    # "iterations must be a positive whole number, got -5", without the file it came from (wgan watch, eval)
    assert main(["train", "--iterations", "2", "--out", str(tmp_path), "--name", "run", "--quiet", *TINY_FLAGS]) == 0
    config = tmp_path / "run" / "config.toml"
    config.write_text(config.read_text().replace("iterations = 2\n", "iterations = -5\n"))
    assert main(["eval", "--run", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.strip() == (f"wgan: error: {config}: iterations must be a positive whole number, "
                                                "got -5 (the run's settings, edited since it was made?)")


def test_building_a_run_reseeds_no_gpu_generator_of_the_caller(monkeypatch):
    # torch.manual_seed inside fork_rng(devices=[]) reseeded every GPU's generator and left it so: a notebook's
    # CUDA stream changed under it at each wgan.train, load_run or evaluate_run
    reseeded = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", reseeded.append)
    monkeypatch.setattr(torch.cuda, "manual_seed", reseeded.append)
    before = torch.get_rng_state()
    wgan.train(iterations=1, width=8, depth=1, batch_size=16, eval_samples=50, write=False, progress=False)
    assert reseeded == [] and torch.equal(torch.get_rng_state(), before)


def test_the_version_is_said_by_the_command_and_the_package(capsys):
    assert main(["--version"]) == 0
    said = capsys.readouterr().out
    assert said == f"wgan {wgan.__version__} (torch {torch.__version__})\n" and wgan.__version__.count(".") >= 1


@pytest.mark.parametrize("name", [".", ".."])
def test_a_run_name_of_dot_or_dot_dot_is_told_so(name):
    with pytest.raises(WganError, match=re.escape(f"run name '{name}' must be a plain folder name: not '.' or '..'")):
        wgan.train(name=name, write=False, progress=False)  # it said "without '/'", and the name had none


def test_the_python_api_trains_for_a_caller_who_set_torchs_newer_precision_switches():
    # reading the older switches beside the newer ones is a RuntimeError ("a mix of the legacy and new APIs"):
    # wgan.train failed on the CPU, before it trained
    before = torch.backends.cuda.matmul.fp32_precision
    torch.backends.cuda.matmul.fp32_precision = "tf32"
    try:
        run = wgan.train(iterations=1, width=8, depth=1, batch_size=16, eval_samples=50, write=False, progress=False)
    finally:
        torch.backends.cuda.matmul.fp32_precision = before
    assert run.iteration == 1


@pytest.fixture
def float64_by_default():
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(torch.float32)


def test_the_python_api_works_for_a_caller_whose_default_dtype_is_float64(tmp_path, float64_by_default):
    # "mat1 and mat2 must have the same dtype" from train, evaluate_run and Run.sample; load_run built float64 models
    settings = dict(width=8, depth=1, batch_size=16, eval_samples=50, log_every=2, eval_every=2, progress=False)
    run = wgan.train(iterations=2, out=str(tmp_path), name="run", **settings)
    assert run.sample(3).dtype == np.float32 and torch.get_default_dtype() == torch.float64
    loaded = wgan.load_run(run.path)
    assert {p.dtype for p in loaded.generator.parameters()} == {torch.float32}
    assert np.array_equal(loaded.sample(3, seed=4), run.sample(3, seed=4))
    assert wgan.evaluate_run(run.path, samples=50)["iteration"] == 2
    assert wgan.resume(run.path, iterations=3).iteration == 3
    assert torch.get_default_dtype() == torch.float64


def test_a_call_that_returns_leaves_float32_to_a_call_still_training_in_another_thread(float64_by_default):
    # the first to return set the caller's float64 back while the other trained on: "mat1 and mat2 must have the
    # same dtype", and the one that ended last set float32 back as the caller's
    settings = dict(width=8, depth=1, batch_size=16, eval_samples=50, log_every=50, eval_every=50, progress=False)
    outcomes = {}

    def run(name, minutes):
        try:
            outcomes[name] = wgan.train(iterations=1_000_000, max_minutes=minutes, write=False, **settings)
        except Exception as error:  # noqa: BLE001 (asserted below)
            outcomes[name] = error

    first, second = (threading.Thread(target=run, args=(name, minutes)) for name, minutes in (("first", 0.05),
                                                                                              ("second", 0.15)))
    first.start()
    while torch.get_default_dtype() != torch.float32:  # the first call has begun
        time.sleep(0.01)
    second.start()
    first.join(timeout=120)
    assert second.is_alive() and torch.get_default_dtype() == torch.float32
    second.join(timeout=120)
    assert all(isinstance(outcomes[name], wgan.Run) for name in ("first", "second")), outcomes
    assert torch.get_default_dtype() == torch.float64


@pytest.mark.parametrize("mode", [torch.no_grad, torch.inference_mode])
def test_the_python_api_trains_inside_a_callers_no_grad_or_inference_mode(tmp_path, mode):
    # "element 0 of tensors does not require grad and does not have a grad_fn", from autograd's depths
    settings = dict(width=8, depth=1, batch_size=16, eval_samples=50, log_every=2, eval_every=2, progress=False)
    with mode():
        run = wgan.train(iterations=2, out=str(tmp_path), name="run", **settings)
        assert wgan.resume(run.path, iterations=3).iteration == 3
        assert not torch.is_grad_enabled()
    assert run.sample(2).shape == (2, 2)


def test_a_wgan_run_from_a_source_tree_without_its_metadata_still_parses_and_says_so(monkeypatch, capsys):
    # importlib.metadata's PackageNotFoundError, raised as the parser was built, was a traceback for every command
    import importlib.metadata

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("wgan 0+unknown (torch ")  # a version packaging can parse


def test_the_python_api_sets_torchs_newer_precision_switches_back_where_a_gpu_run_rewrote_them(monkeypatch):
    # on a GPU _assemble sets the older switches, which rewrite the newer per-backend ones: a caller's
    # cuda.matmul "tf32" came back "ieee"; here the older switches are set as _assemble sets them there
    from wgan.process_settings import leaves_the_process_as_it_was

    def as_on_a_gpu():
        torch.set_float32_matmul_precision("highest")
        torch.backends.cudnn.allow_tf32 = False

    matmul, conv = torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision
    torch.backends.cuda.matmul.fp32_precision = torch.backends.cudnn.conv.fp32_precision = "tf32"
    try:
        leaves_the_process_as_it_was(as_on_a_gpu)()
        assert (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision) == ("tf32",) * 2
    finally:
        torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision = matmul, conv


def _stopped_at_5(config, progress):
    raise wgan.Stopped("SIGINT", 5, "/runs/my run")


def _stopped_at_5_then_a_ctrl_c_as_it_unwinds(config, progress):
    try:
        _stopped_at_5(config, progress)
    finally:
        raise KeyboardInterrupt  # a second Ctrl-C as the call returns, its SIGINT handler the default again


@pytest.mark.parametrize("train, reports", [(_stopped_at_5, 2), (_stopped_at_5_then_a_ctrl_c_as_it_unwinds, 1)])
def test_a_second_ctrl_c_as_a_saved_stop_is_said_says_the_checkpoint_is_kept(monkeypatch, train, reports):
    # under --nproc the launcher passes a second Ctrl-C on to every rank, and one came as rank 1 said its stop: a
    # KeyboardInterrupt traceback; one that came as the stop unwound was told "before the run's first checkpoint:
    # no run folder is left", of a run whose folder held its checkpoints
    said = []

    def report(message, of_the_run_folder=False):
        said.append(message)
        if len(said) == 1 and reports == 2:
            raise KeyboardInterrupt  # as the stop's line is said

    monkeypatch.setattr(wgan.api, "train", train)
    monkeypatch.setattr(wgan.cli.distributed, "report", report)
    assert main(["train", "--iterations", "10"]) == 130
    assert len(said) == reports and said[-1] == ("\nwgan: interrupted at once; the checkpoint last written is kept: "
                                                 "continue with `wgan train --resume '/runs/my run'`")
