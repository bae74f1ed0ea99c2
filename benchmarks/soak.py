"""Soak: a long toy run with frequent evaluations, watching the process's resident memory and open files.

    python benchmarks/soak.py                       # 20,000 iterations, an evaluation every 100
    python benchmarks/soak.py --iterations 2000     # a shorter look
    python benchmarks/soak.py --set algorithm=wgan data=25gaussians   # another configuration

Trains the toy configuration (WGAN-GP on 8gaussians, the defaults, or what --set gives) into a run folder, and
at every evaluation records the resident set size (VmRSS in /proc/self/status) and the number of open file
descriptors (/proc/self/fd). Prints the figures after warm-up (the first 10% of evaluations): the first and last
values, the largest rise, and the least-squares slope of memory per 1000 iterations; ``--json`` appends them, with
the settings given by --set. Nothing is asserted: the bound it is judged against is in docs/RELIABILITY.md.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import wgan
from wgan.api import _assemble, _finish
from wgan.runs import RunFolder
from wgan.signals import Passed

from wgan.errors import WganError

from command import Parser, append_line, positive_int, run, settings, writable

MIN_EVALUATIONS = 4  # after the warm-up's tenth (at least one), three points for a slope


def resident_megabytes(pid: int | str = "self") -> float:
    """The resident set size of process ``pid`` (this one by default), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def open_files(pid: int | str = "self") -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def main() -> None:
    parser = Parser(__doc__)
    parser.add_argument("--iterations", type=positive_int, default=20000)
    parser.add_argument("--eval-every", type=positive_int, default=100)
    parser.add_argument("--json", type=Path, help="append the figures to this JSON-lines file")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="other settings of the run, e.g. --set algorithm=wgan width=64 eval_samples=500")
    args = parser.parse_args()
    extra = settings(args.set, own={"iterations": "give --iterations", "eval_every": "give --eval-every",
                                    "out": "the soak trains in a temporary folder", "name": "the soak names its run"})
    evaluations = -(-args.iterations // args.eval_every)  # every --eval-every iterations and at the end
    if evaluations < MIN_EVALUATIONS:
        raise WganError(f"--iterations {args.iterations} with --eval-every {args.eval_every} gives {evaluations} "
                        f"evaluation(s); the memory's slope needs at least {MIN_EVALUATIONS}: raise --iterations or "
                        "lower --eval-every")
    writable(args.json)

    samples: list[tuple[int, float, int]] = []
    with tempfile.TemporaryDirectory() as out:
        config = wgan.make_config(iterations=args.iterations, eval_every=args.eval_every, out=out, name="soak",
                                  **extra)
        trainer = _assemble(config, lambda: RunFolder.create(config))
        evaluate = trainer.evaluator

        def watched(iteration: int, average) -> dict[str, float]:
            scalars = evaluate(iteration, average)
            samples.append((iteration, resident_megabytes(), open_files()))
            return scalars

        trainer.evaluator = watched
        started = time.perf_counter()
        _finish(trainer, progress=True, passed=Passed())
        minutes = (time.perf_counter() - started) / 60
    warm = samples[max(1, len(samples) // 10):]
    iterations, memory, files = (np.array(column) for column in zip(*warm))
    slope = float(np.polyfit(iterations, memory, 1)[0]) * 1000
    result = {"iterations": args.iterations, "eval_every": args.eval_every, "settings": extra, "minutes": minutes,
              "evaluations": len(samples), "warm_from_iteration": int(iterations[0]),
              "rss_mb_first": float(memory[0]), "rss_mb_last": float(memory[-1]), "rss_mb_max": float(memory.max()),
              "rss_mb_rise": float(memory.max() - memory[0]), "rss_mb_per_1000_iterations": slope,
              "open_files_first": int(files[0]), "open_files_last": int(files[-1]), "open_files_max": int(files.max())}
    print(json.dumps(result, indent=1))
    if args.json:
        append_line(args.json, result)


if __name__ == "__main__":
    run(main)
