"""The benchmark scripts meet the wgan command's promise on bad input: one line naming the problem, exit status 2,
no traceback, before anything is measured (each printed a traceback, or measured and then failed to write)."""

import contextlib
import io
import json
import os
import runpy
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from command import settings  # noqa: E402  (the benchmarks' modules, found beside the scripts)
from toy_quality import table  # noqa: E402

from wgan.process_settings import leaves_the_process_as_it_was  # noqa: E402


SCRIPT_SECONDS = 120  # a refusal takes seconds: a script still going after this is measuring


class _Overran(Exception):
    """A benchmark script ran past :data:`SCRIPT_SECONDS` in the test process."""


def _run_script(command: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run ``python benchmarks/SCRIPT ARGS`` in ``cwd``: its exit status, stdout and stderr. Within this process
    (a refusal comes before anything is measured, so each case is spared a new interpreter's start, 3 s of imports
    and most of these tests' time), but for play_page.py, whose Playwright driver writes to the process's own
    stderr. An exception the script lets out fails the test as its traceback would, a warning it gives is a line
    of its stderr, and a script still running after SCRIPT_SECONDS fails the test instead of measuring in it."""
    script = str(BENCHMARKS / command[0])
    if command[0] == "play_page.py":
        done = subprocess.run([sys.executable, script, *command[1:]], cwd=cwd, capture_output=True, text=True,
                              timeout=SCRIPT_SECONDS)
        return done.returncode, done.stdout, done.stderr
    out, err, threads = io.StringIO(), io.StringIO(), torch.get_num_threads()

    def overran(number, frame):
        raise _Overran(f"{command[0]} ran past {SCRIPT_SECONDS} s: it measures instead of refusing")

    previous = signal.signal(signal.SIGALRM, overran)
    signal.alarm(SCRIPT_SECONDS)
    with (pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err),
          warnings.catch_warnings(record=True) as warned):
        warnings.simplefilter("always")
        patch.chdir(cwd)
        patch.setattr(sys, "argv", [script, *command[1:]])
        try:  # (leaves_the_process_as_it_was: the TF32 switches a CUDA trainer sets, as the API's calls do)
            leaves_the_process_as_it_was(runpy.run_path)(script, run_name="__main__")
            status = 0
        except SystemExit as ended:  # sys.exit(text) prints the text and exits with 1
            status = ended.code if isinstance(ended.code, int) else 0 if ended.code is None else 1
            if isinstance(ended.code, str):
                print(ended.code, file=sys.stderr)
        finally:  # the worker's alarm and thread share as they were
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
            torch.set_num_threads(threads)
    said = "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno) for w in warned)
    return status, out.getvalue(), err.getvalue() + said


@pytest.mark.parametrize("command, named", [
    (["throughput.py", "--config", "toy", "--window", "-5"], "argument --window: '-5' is not a positive whole number"),
    (["throughput.py", "--config", "toy", "--set", "nonsense=1"], "unknown setting 'nonsense'"),
    (["throughput.py", "--config", "toy", "--json", "/nonexistent/x.json"], "cannot write '/nonexistent/x.json'"),
    (["toy_quality.py", "--runs", "wgan-gp"], "--runs 'wgan-gp' is not ALGORITHM:PRECISION"),
    (["preset_scores.py", "--budgets", "missing.jsonl"], "--budgets file 'missing.jsonl' does not exist"),
    # a setting the script sets itself was a TypeError ("got multiple values"); an algorithm without a reference
    # loop was a ValueError traceback
    (["throughput.py", "--config", "toy", "--set", "precision=bf16"], "--set precision: this script sets precision "
                                                                      "itself; give --precision"),
    (["toy_quality.py", "--runs", "wgan-gp:fp32", "--set", "iterations=5"], "give --iterations"),
    (["throughput.py", "--algorithm", "gan", "--window", "1", "--windows", "1", "--warmup", "0", "--against",
      "reference"], "no reference loop for gan"),
    (["image_floor.py", "--data-dir", ".", "--device", "cuda"], "has no CUDA GPU: use --device cpu"),  # a traceback
    (["image_floor.py", "--data-dir", ".", "--device", "gpu"], "device 'gpu' is not known"),
    # a soak too short for a slope was a numpy error or a one-point "slope"; files given for the figures were
    # found unwritable only after the measurement
    (["soak.py", "--iterations", "10", "--eval-every", "100"], "gives 1 evaluation(s); the memory's slope needs"),
    (["soak.py", "--json", "/nonexistent/x.jsonl"], "cannot write '/nonexistent/x.jsonl'"),
    (["soak.py", "--set", "eval_every=5"], "--set eval_every: this script sets eval_every itself; give --eval-every"),
    (["ema_quality.py", "--read-at", "4"], "give --preset (with --data-dir) or --data"),  # trained run "None"
    (["play_soak.py", "--minutes", "0.5"], "--minutes 0.5 holds under 4 cycles of 12.5 s"),
    (["play_soak.py", "--minutes", "1", "--seconds", "1", "--json", "/nonexistent/x.jsonl"], "cannot write"),
    (["play_page.py", "--json", "/nonexistent/x.jsonl"], "cannot write '/nonexistent/x.jsonl'"),
    (["play_page.py", "--screenshot", "/nonexistent/play.png"], "cannot write '/nonexistent/play.png'"),
    (["play_page.py", "--rounds", "0", "--chromium", "/nonexistent/chromium"],  # a Playwright traceback
     "--chromium '/nonexistent/chromium' did not start"),
    # a point between evaluations was a StopIteration traceback after the training
    (["ema_quality.py", "--data", "8gaussians", "--read-at", "3", "7", "--eval-every", "5"],
     "--read-at 3: the run has no evaluation there (it evaluates every 5 iterations and at the last, 7)"),
])
def test_a_benchmark_given_bad_input_says_so_in_one_line_and_exits_2(tmp_path, command, named):
    status, out, error = _run_script(command, tmp_path)
    assert status == 2 and out == "", (status, error)
    error = error.strip()
    assert error.startswith(f"{command[0]}: error: ") and named in error and len(error.splitlines()) == 1
    assert not any(tmp_path.iterdir())  # throughput left an empty --json file after a refusal


def test_a_results_file_checked_before_a_refused_measurement_is_not_left_empty(tmp_path):
    status, _, _ = _run_script(["throughput.py", "--set", "nope=1", "--json", str(tmp_path / "e.jsonl")], tmp_path)
    assert status == 2 and not (tmp_path / "e.jsonl").exists()


def test_the_gpu_check_reads_help_and_refuses_other_options_instead_of_running(tmp_path):
    # --help was taken for the output file's name and the whole check ran
    script = str(BENCHMARKS / "gpu_check.sh")
    shown = subprocess.run(["bash", script, "--help"], capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0 and "benchmarks/gpu_check.sh [OUT.json]" in shown.stdout
    refused = subprocess.run(["bash", script, "--bogus"], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "unknown option '--bogus'" in refused.stderr


def test_set_values_are_json_where_they_read_as_json_and_text_otherwise():
    assert settings(["batch_size=64", "compile=true", "model=dcgan", "data_dir=../shared/data/mnist",
                     'name="quoted"']) == {"batch_size": 64, "compile": True, "model": "dcgan",
                                          "data_dir": "../shared/data/mnist", "name": "quoted"}


def test_the_toy_quality_table_names_the_iterations_its_runs_reached(tmp_path):
    # a 20-iteration run was shown under "W1 @5k"
    row = {"algorithm": "wgan-gp", "precision": "fp32", "data": "8gaussians", "iterations": 20, "seconds": 6.0,
           "w1_1k": 0.7, "w1_end": 0.7, "w1_best": 0.7, "spearman": None}
    (tmp_path / "short.jsonl").write_text(json.dumps(row) + "\n")
    assert table(tmp_path / "short.jsonl").splitlines()[0].startswith(
        "| algorithm | precision | data | W1 @1k or the end | W1 @20 | best W1 |")
    (tmp_path / "long.jsonl").write_text(json.dumps(row | {"iterations": 5000}) + "\n")
    assert "| W1 @1k | W1 @5k |" in table(tmp_path / "long.jsonl")


@pytest.mark.parametrize("script", ["toy_quality.py", "ema_quality.py", "image_quality.py", "preset_scores.py"])
@pytest.mark.parametrize("content, named", [
    ("{\"preset\": \n", "line 1, is not a JSON object"),  # cut short: a JSONDecodeError traceback
    ("[1, 2]\n", "line 1, is not a JSON object"),
    ("{\"benchmark\": \"play_soak\"}\n", "line 1, has no "),  # another script's file: a KeyError traceback
    ("\xff\n", "is not text"),
])
def test_a_results_file_this_script_did_not_write_is_one_line(tmp_path, script, content, named):
    (tmp_path / "results.jsonl").write_bytes(content.encode("latin-1"))
    status, _, error = _run_script([script, "--table", "--results", "results.jsonl"], tmp_path)
    assert status == 2 and error.count("\n") == 1, error
    assert f"results file 'results.jsonl'" in error and named in error


def test_the_toy_quality_table_shows_a_data_set_of_its_own_after_the_toy_sets(tmp_path):
    # a run on the parallel lines (any set outside the three) was a ValueError traceback
    row = {"algorithm": "wgan", "precision": "fp32", "iterations": 20, "seconds": 6.0, "w1_1k": 0.7, "w1_end": 0.7,
           "w1_best": 0.7, "spearman": None}
    (tmp_path / "r.jsonl").write_text("".join(json.dumps(row | {"data": data}) + "\n"
                                              for data in ("parallel-lines", "8gaussians")))
    assert [line.split(" | ")[2] for line in table(tmp_path / "r.jsonl").splitlines()[2:]] == [
        "8gaussians", "parallel-lines"]


def test_toy_quality_refuses_a_run_folder_it_made_before_and_names_its_own_options(tmp_path):
    # the refusal came from a worker after the real-data floors, and told the user to give --name or --resume,
    # which the script does not have
    (tmp_path / "runs" / "wgan-gp-8gaussians-fp32-s0").mkdir(parents=True)
    status, out, error = _run_script(["toy_quality.py", "--runs", "wgan-gp:fp32", "--data", "8gaussians",
                                      "--iterations", "4", "--out", "runs", "--results", "r.jsonl"], tmp_path)
    assert status == 2 and out == "" and error.count("\n") == 1, error
    assert "run folder 'runs/wgan-gp-8gaussians-fp32-s0' already exists" in error
    assert "give another --out" in error and "--name" not in error


def test_ctrl_c_stops_toy_quality_and_its_workers_without_a_traceback(tmp_path):
    # the workers, which Ctrl-C reaches too, printed a KeyboardInterrupt traceback each, and a Stopped one when
    # the pool terminated them
    process = subprocess.Popen([sys.executable, str(BENCHMARKS / "toy_quality.py"), "--runs", "wgan-gp:fp32",
                                "--data", "8gaussians", "--iterations", "100000", "--workers", "1", "--out", "runs",
                                "--results", "r.jsonl"], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert process.stdout.readline().startswith("real-data floor 8gaussians")
        deadline = time.monotonic() + 120  # the worker starts, imports and trains: a Ctrl-C while the pool starts
        while not (tmp_path / "runs" / "wgan-gp-8gaussians-fp32-s0").is_dir():  # is not seen
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGINT)
        out, error = process.communicate(timeout=60)
    finally:  # a run of 100,000 iterations is not left behind by a failure
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130 and error.strip() == "toy_quality.py: interrupted", error


def test_a_toy_quality_run_writes_its_result_and_ends_without_a_leaked_semaphore_warning(tmp_path):
    # the pool's terminate() at the end of its with block left the workers' semaphores to the resource tracker
    result = subprocess.run([sys.executable, str(BENCHMARKS / "toy_quality.py"), "--runs", "wgan-gp:fp32", "--data",
                             "8gaussians", "--iterations", "4", "--eval-every", "2", "--workers", "1", "--out",
                             str(tmp_path / "runs"), "--results", str(tmp_path / "results.jsonl"), "--set",
                             "width=64", "eval_samples=500"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "leaked" not in result.stderr, result.stderr
    assert json.loads((tmp_path / "results.jsonl").read_text())["iterations"] == 4


def test_the_soak_runs_and_writes_its_figures(tmp_path):
    # every run was a TypeError traceback once the API's _finish took the signals let pass
    done = subprocess.run([sys.executable, str(BENCHMARKS / "soak.py"), "--iterations", "20", "--eval-every", "5",
                           "--json", "soak.jsonl", "--set", "width=64", "eval_samples=500"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads((tmp_path / "soak.jsonl").read_text())
    assert row["iterations"] == 20 and row["evaluations"] >= 4 and row["open_files_last"] > 0
    assert row["settings"] == {"width": 64, "eval_samples": 500}


SLEEPS_UNDER_RUN = """
import sys, time
sys.path.insert(0, sys.argv[1])
from command import run

def main():
    try:
        print("started", flush=True)
        time.sleep(60)
    finally:
        open(sys.argv[2], "w").close()

run(main)
"""


def test_a_sigterm_to_a_benchmark_runs_its_clean_up_and_exits_as_a_ctrl_c(tmp_path):
    # play_page.py's wgan play server outlived a SIGTERM (timeout's, a scheduler's) as an orphan using the CPU
    script = subprocess.Popen([sys.executable, "-c", SLEEPS_UNDER_RUN, str(BENCHMARKS), str(tmp_path / "cleaned")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert script.stdout.readline() == "started\n"
        script.send_signal(signal.SIGTERM)
        _, stderr = script.communicate(timeout=30)
    finally:
        script.kill()
    assert script.returncode == 130 and stderr.strip() == "-c: interrupted"
    assert (tmp_path / "cleaned").exists()


def test_throughput_refuses_a_precision_this_cpu_only_emulates_before_it_measures(monkeypatch):
    # on an AVX2 CPU its bf16 matmul peak alone (66 products of 2048 x 2048 at 64 s each) ran over an hour
    import throughput
    from wgan.errors import WganError

    monkeypatch.setattr(throughput, "emulated", lambda precision, device: f"this CPU has no {precision} instructions")
    monkeypatch.setattr(throughput, "measure", lambda *args: pytest.fail("measured"))
    monkeypatch.setattr(sys, "argv", ["throughput.py", "--config", "toy", "--precision", "bf16", "--set", "width=8"])
    with pytest.raises(WganError, match="^this CPU has no bf16 instructions, so that its timings here measure that "
                                        "emulation: time --precision fp32$"):
        throughput.main()


def test_the_cpus_matmul_peak_is_the_faster_of_torchs_product_and_onednns(monkeypatch):
    # in float32 torch multiplies through MKL, which oneDNN outran on an AMD EPYC with AVX-512 (209 GFLOP/s
    # against 151): the peak was MKL's, and a fraction of it could pass 100%
    import throughput

    monkeypatch.setattr(torch, "matmul", lambda a, b: time.sleep(0.01) or a @ b)  # 2 * 8**3 FLOPs in 10 ms
    peak = throughput.matmul_peak(torch.float32, torch.device("cpu"), size=8, repeats=2)
    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", lambda *arguments: pytest.fail("not timed"))
    with pytest.raises(pytest.fail.Exception, match="not timed"):
        throughput.matmul_peak(torch.float32, torch.device("cpu"), size=8, repeats=2)
    assert peak > 2 * 8**3 / 0.01 * 10  # oneDNN's, not the slowed matmul's
