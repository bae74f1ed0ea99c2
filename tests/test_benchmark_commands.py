"""The benchmark scripts meet the wgan command's promise on bad input: one line naming the problem, exit status 2,
no traceback, before anything is measured (each printed a traceback, or measured and then failed to write)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from command import settings  # noqa: E402  (a benchmark's module, found beside the scripts)


@pytest.mark.parametrize("command, named", [
    (["throughput.py", "--config", "toy", "--window", "-5"], "argument --window: '-5' is not a positive whole number"),
    (["throughput.py", "--config", "toy", "--set", "nonsense=1"], "unknown setting 'nonsense'"),
    (["throughput.py", "--config", "toy", "--json", "/nonexistent/x.json"], "cannot write '/nonexistent/x.json'"),
    (["toy_quality.py", "--runs", "wgan-gp"], "--runs 'wgan-gp' is not ALGORITHM:PRECISION"),
    (["preset_scores.py", "--budgets", "missing.jsonl"], "--budgets file 'missing.jsonl' does not exist"),
])
def test_a_benchmark_given_bad_input_says_so_in_one_line_and_exits_2(tmp_path, command, named):
    result = subprocess.run([sys.executable, str(BENCHMARKS / command[0]), *command[1:]], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == "", (result.returncode, result.stderr)
    error = result.stderr.strip()
    assert error.startswith(f"{command[0]}: error: ") and named in error and len(error.splitlines()) == 1


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
