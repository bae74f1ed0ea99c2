"""The generator's moving average (``--ema-decay``) against the generator itself, in one run.

    python benchmarks/ema_quality.py --preset mnist-wgan-gp --read-at 659 1929 --eval-every 659 \
        --data-dir ../shared/data/mnist
    python benchmarks/ema_quality.py --data 25gaussians --seeds 0 1 2
    python benchmarks/ema_quality.py --table

Every evaluation of a run with a moving average scores the generator and the average on the same noise
(``eval/...`` and ``eval/ema_...`` in metrics.jsonl), so one run answers "does the average help here" at each of
its evaluation points, with no difference of seed, data or schedule between the two. Runs stop at a number of
iterations rather than a time budget (pass the iterations a budget reached, e.g. from
benchmarks/results/image_quality.jsonl), so that a busy machine changes the wall time but not the figures; a run
folder that exists is continued (bit-exact) rather than trained again. One JSON line per run and read-out point
goes to --results: the generator's and the average's scores side by side.
"""

from __future__ import annotations

from pathlib import Path

import torch
from command import Parser, positive_float, positive_int, run
from results_file import add_output_arguments, append, prepare, read

import wgan
from wgan.errors import WganError

SCORES = {"images": ("fd", "classes_covered", "confidence"), "points": ("w1", "modes_covered", "high_quality")}


def scores_at(history: list[dict], iteration: int) -> dict:
    """The generator's and the average's scores at the evaluation of ``iteration``."""
    evaluations = {row["iteration"]: row for row in history if "eval/w1" in row}
    if iteration not in evaluations:
        raise unevaluated(iteration, f"at {', '.join(map(str, sorted(evaluations)))}")
    row = evaluations[iteration]
    kind = "images" if "eval/fd" in row else "points"
    return {name: value for score in SCORES[kind]
            for name, value in ((score, row.get(f"eval/{score}")), (f"ema_{score}", row.get(f"eval/ema_{score}")))
            if value is not None}


def unevaluated(iteration: int, evaluations: str) -> WganError:
    """The error for a --read-at point where the run has no evaluation (``evaluations`` says where it has)."""
    return WganError(f"--read-at {iteration}: the run has no evaluation there (it evaluates {evaluations}): give "
                     "iterations among them, or an --eval-every that divides yours")


def table(results: Path) -> str:
    lines = ["| run | seed | iteration | ema_decay | scores: generator -> moving average |", "|---|---|---|---|---|"]
    for r in read(results, needs=("run", "seed", "iteration", "ema_decay")):
        kind = "images" if "fd" in r else "points"
        pairs = ", ".join(f"{score} {r[score]:.4g} -> {r['ema_' + score]:.4g}" for score in SCORES[kind]
                          if score in r)
        lines.append(f"| {r['run']} | {r['seed']} | {r['iteration']} | {r['ema_decay']} | {pairs} |")
    return "\n".join(lines)


def main() -> None:
    parser = Parser(__doc__)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--preset", help="an image preset (with --data-dir)")
    which.add_argument("--data", help="a toy set, trained with the defaults")
    parser.add_argument("--data-dir", default="", help="folder of the MNIST IDX files")
    parser.add_argument("--ema-decay", type=positive_float, default=0.999, help="default: 0.999")
    parser.add_argument("--read-at", type=positive_int, nargs="*", default=[],
                        help="iterations to read (evaluation points); the run trains to the last; default: the "
                        "run's last iteration")
    parser.add_argument("--eval-every", type=positive_int, default=None, help="default: the data's")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch threads; default: torch's")
    add_output_arguments(parser, "benchmarks/runs/ema", "benchmarks/results/ema_quality.jsonl")
    args = parser.parse_args()
    if args.table:
        print(table(Path(args.results)))
        return
    if args.preset is None and args.data is None:  # it trained the default toy set, recorded as run "None"
        parser.error("give --preset (with --data-dir) or --data: the run to measure")
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = {"preset": args.preset, "data_dir": args.data_dir} if args.preset else {"data": args.data}
    if args.read_at:
        settings["iterations"] = max(args.read_at)
    if args.eval_every:
        settings["eval_every"] = args.eval_every
    label = args.preset or args.data
    folders = {seed: Path(args.out) / f"{label}-ema{args.ema_decay:g}-{args.precision}-s{seed}" for seed in args.seeds}
    if not all(folder.exists() for folder in folders.values()):  # a new run evaluates where its settings say
        config = wgan.make_config(**settings, ema_decay=args.ema_decay, precision=args.precision)
        for iteration in args.read_at:
            if iteration % config.eval_every and iteration != config.iterations:
                raise unevaluated(iteration, f"every {config.eval_every} iterations and at the last, "
                                             f"{config.iterations}")
    results = prepare(Path(args.results))
    for seed, folder in folders.items():
        if folder.exists():  # read again, or continue an interrupted (or shorter) run
            run = wgan.load_run(folder, "latest")
            if run.iteration < settings.get("iterations", run.iteration):
                run = wgan.resume(folder, iterations=settings["iterations"])
        else:
            run = wgan.train(**settings, ema_decay=args.ema_decay, seed=seed, precision=args.precision,
                             out=args.out, name=folder.name)
        for iteration in args.read_at or [run.iteration]:
            append(results, {"run": label, "seed": seed, "precision": args.precision, "ema_decay": args.ema_decay,
                             "iteration": iteration, **scores_at(run.history, iteration)})


if __name__ == "__main__":
    run(main)
