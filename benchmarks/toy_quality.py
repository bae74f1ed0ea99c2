"""Quality of every algorithm on the WGAN-GP toy sets: exact W1, modes, and whether the loss means something.

    python benchmarks/toy_quality.py                       # all algorithms x all sets, 5000 iterations
    python benchmarks/toy_quality.py --runs wgan-gp:fp32 wgan-gp:bf16 --data 8gaussians --iterations 1000

For each (algorithm, data set) it trains with the toy defaults, evaluating every --eval-every iterations (exact
W1 and modes on 2000 generated vs 2000 fresh real samples, the critic's estimate on the point-data default of
20,000 pairs), and prints exact W1 at 1k iterations and at the end, modes covered,
the fraction of high-quality samples, and the Spearman rank correlation between the critic's estimate and the
exact W1 over the evaluation points. Runs go to --out; one JSON line per run is appended to --results.
Runs are spread over --workers processes of --threads torch threads each.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from pathlib import Path

import numpy as np

from wgan.config import make_config
from wgan.errors import WganError

from command import EXIT_INTERRUPTED, Parser, positive_int, run, settings
from results_file import add_output_arguments, append, correlation_text, prepare, rank_correlation, read

ALGORITHMS = ("wgan-gp", "wgan-lp", "wgan", "gan", "gan-ns")
DATASETS = ("8gaussians", "25gaussians", "swissroll")


def real_data_floor(data: str, n: int = 2000, repeats: int = 5) -> list[float]:
    """Exact W1 between two independent n-sample draws of the data itself: the best a generator can score."""
    import torch

    from wgan.data import build_sampler
    from wgan.distances import w1

    sampler = build_sampler(data, "cpu")
    rng = torch.Generator().manual_seed(123)
    return [w1(sampler.sample(n, rng).numpy(), sampler.sample(n, rng).numpy()) for _ in range(repeats)]


def run_one(job: dict) -> dict:
    import torch

    import wgan

    torch.set_num_threads(job.pop("threads"))
    start = time.perf_counter()
    try:
        run = wgan.train(progress=False, **job)
    except KeyboardInterrupt:  # the SIGTERM of the pool's terminate() after a Ctrl-C, which the parent reports
        raise SystemExit(EXIT_INTERRUPTED) from None
    seconds = time.perf_counter() - start
    evals = [row for row in run.history if "eval/w1" in row]
    estimates = [row["eval/estimate"] for row in evals]
    distances = [row["eval/w1"] for row in evals]
    at_1k = next((row for row in evals if row["iteration"] >= 1000), evals[-1])
    last = evals[-1]
    result = {
        "algorithm": job["algorithm"], "data": job["data"], "precision": job["precision"],
        "iterations": run.iteration, "seconds": round(seconds, 1), "run": str(run.path),
        "w1_1k": at_1k["eval/w1"], "w1_end": last["eval/w1"], "w1_best": min(distances),
        "spearman": rank_correlation(estimates, distances),
    }
    if "eval/modes_covered" in last:
        result |= {"modes_1k": at_1k["eval/modes_covered"], "modes_end": last["eval/modes_covered"],
                   "modes_total": last["eval/modes_total"], "high_quality_end": last["eval/high_quality"]}
    return result


def table(results_file: Path) -> str:
    """The results file as a Markdown table, one row per run, in a fixed order."""
    rows = read(results_file, needs=("algorithm", "precision", "data", "iterations", "w1_1k", "w1_end", "w1_best",
                                     "spearman", "seconds"))
    algorithms, datasets = ({name: i for i, name in enumerate(names)} for names in (ALGORITHMS, DATASETS))
    rows.sort(key=lambda r: (algorithms.get(r["algorithm"], 99), r["precision"], datasets.get(r["data"], 99)))
    ends = {r["iterations"] for r in rows}
    end = f"@{_thousands(ends.pop())}" if len(ends) == 1 else "at the end"  # the runs' last evaluation
    first = "@1k" if all(r["iterations"] >= 1000 for r in rows) else "@1k or the end"  # as run_one reads them
    lines = [f"| algorithm | precision | data | W1 {first} | W1 {end} | best W1 | modes {first} | modes {end} | "
             f"high-quality {end} | Spearman(estimate, W1) | wall time |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        modes = (f"{r['modes_1k']}/{r['modes_total']}", f"{r['modes_end']}/{r['modes_total']}",
                 f"{r['high_quality_end']:.0%}") if "modes_end" in r else ("-", "-", "-")
        lines.append(f"| {r['algorithm']} | {r['precision']} | {r['data']} | {r['w1_1k']:.3f} | {r['w1_end']:.3f} "
                     f"| {r['w1_best']:.3f} | {modes[0]} | {modes[1]} | {modes[2]} | {correlation_text(r['spearman'])} "
                     f"| {r['seconds'] / 60:.0f} min |")
    return "\n".join(lines)


def _thousands(iterations: int) -> str:
    """5000 as "5k", 2500 as "2.5k", 800 as "800"."""
    return f"{iterations / 1000:g}k" if iterations >= 1000 else str(iterations)


def _algorithm_and_precision(label: str) -> tuple[str, str]:
    algorithm, colon, precision = label.partition(":")
    if not colon:
        raise WganError(f"--runs {label!r} is not ALGORITHM:PRECISION: write e.g. {label}:fp32")
    return algorithm, precision


def main() -> None:
    parser = Parser(__doc__)
    parser.add_argument("--runs", nargs="+", default=[f"{algorithm}:fp32" for algorithm in ALGORITHMS],
                        metavar="ALGORITHM:PRECISION", help="what to train, in this order, e.g. wgan-gp:bf16")
    parser.add_argument("--data", nargs="+", default=list(DATASETS))
    parser.add_argument("--iterations", type=positive_int, default=5000)
    parser.add_argument("--eval-every", type=positive_int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="other settings for every run, e.g. --set penalty_weight=10 beta1=0 lr=1e-4")
    parser.add_argument("--workers", type=positive_int, default=2)
    parser.add_argument("--threads", type=positive_int, default=1, help="torch threads per worker")
    add_output_arguments(parser, "benchmarks/runs", "benchmarks/results/toy_quality.jsonl")
    args = parser.parse_args()
    if args.table:
        print(table(Path(args.results)))
        return

    extra = settings(args.set, own={name: f"give --{name.replace('_', '-')}" for name in (
        "iterations", "eval_every", "seed", "out")} | {"precision": "give it in --runs (wgan-gp:bf16)",
                                                          "algorithm": "give it in --runs", "data": "give --data",
                                                          "name": "each run is named for its settings"})
    suffix = "".join(f"-{key}{value}" for key, value in extra.items())
    jobs = [dict(algorithm=algorithm, data=data, precision=precision, iterations=args.iterations,
                 eval_every=args.eval_every, seed=args.seed, out=args.out, threads=args.threads,
                 name=f"{algorithm}-{data}-{precision}-s{args.seed}{suffix}", **extra)
            for algorithm, precision in map(_algorithm_and_precision, args.runs) for data in args.data]
    for job in jobs:  # every run's settings and folder checked here, before the workers start
        make_config(**{key: value for key, value in job.items() if key != "threads"})
        if (folder := Path(args.out) / job["name"]).exists():
            raise WganError(f"run folder '{folder}' already exists (each run is named for its settings): remove it, "
                            "or give another --out")
    results = prepare(Path(args.results))
    for data in args.data:
        floor = real_data_floor(data)
        print(f"real-data floor {data}: exact W1 of two 2000-sample draws = {np.mean(floor):.3f} "
              f"(range {min(floor):.3f}-{max(floor):.3f})", flush=True)
    # The workers start ignoring Ctrl-C, and this process stops them (terminate, at the with's end). A Ctrl-C in
    # the moment the pool starts is ignored here too: a second one stops the script.
    interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
    pool = multiprocessing.get_context("spawn").Pool(args.workers)
    signal.signal(signal.SIGINT, interrupt)
    with pool:
        for result in pool.imap_unordered(run_one, jobs):
            append(results, result)
        pool.close()  # the workers exit on their own: the with block's terminate() would leak their semaphores
        pool.join()


if __name__ == "__main__":
    run(main)
