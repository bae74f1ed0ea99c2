"""Image quality of the paper's MNIST presets at fixed training-time budgets (WGAN Sec. 4.3, Figs. 5-7).

    python benchmarks/image_quality.py --presets mnist-wgan-gp --minutes 10 30 --data-dir ../shared/data/mnist
    python benchmarks/image_quality.py --table

Each preset trains until the first budget of training time (evaluations are not counted), is evaluated, then
resumes to the next budget. At each evaluation (every --eval-every generator iterations, on 10,000 generated
images) the run logs the classifier's Frechet distance, the classes generated, the class-histogram KL and the
mean confidence (``wgan.metrics.images``), and exact and sliced W1 in pixel space on 2000 images a side. At each
budget one JSON line goes to --results: the last evaluation, the iterations reached, and the Spearman rank
correlation between the critic's estimate and the FD over the run's evaluation points so far. The final sample
grid of each budget is copied to --grids. Runs go to --out. A preset whose run folder already exists is resumed
(budgets already in --results are skipped), so `--minutes 10` for every preset can later be extended with
`--minutes 10 30`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from command import MNIST_DIR, Parser, positive_float, positive_int, run
from results_file import add_output_arguments, append, correlation_text, prepare, rank_correlation, read

import wgan
from wgan.config import PRESETS
from wgan.experiments.image_runs import PRESET_EVAL_EVERY, train_preset

SCORES = ("fd", "classes_covered", "class_kl", "confidence", "w1", "sliced_w1", "estimate")
RECORDED = ("preset", "precision", "budget_minutes", "iterations", "train_minutes", "wall_seconds", "run",
            "evaluations", "spearman_estimate_fd", *SCORES)  # the keys of a results row (record)


def record(run: wgan.Run, preset: str, precision: str, minutes: float, seconds: float) -> dict:
    """The run's state at the end of a budget: its last evaluation and the estimate-vs-FD rank correlation."""
    evaluations = [row for row in run.history if "eval/fd" in row]
    times = [row["time/train_minutes"] for row in run.history if "time/train_minutes" in row]
    last = evaluations[-1]
    spearman = rank_correlation([row["eval/estimate"] for row in evaluations], [row["eval/fd"] for row in evaluations])
    return {"preset": preset, "precision": precision, "budget_minutes": minutes, "iterations": run.iteration,
            "train_minutes": round(times[-1], 2), "wall_seconds": round(seconds, 1), "run": str(run.path),
            "evaluations": len(evaluations), "spearman_estimate_fd": spearman,
            **{name: last[f"eval/{name}"] for name in SCORES}}


def table(results: Path) -> str:
    rows = read(results, needs=RECORDED)
    order = {name: i for i, name in enumerate(PRESETS)}
    rows.sort(key=lambda r: (order.get(r["preset"], 99), r["precision"], r["budget_minutes"]))
    lines = ["| preset | precision | budget | iterations | FD | classes | class KL | confidence | pixel W1 "
             "| sliced W1 | Spearman(estimate, FD) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['preset']} | {r['precision']} | {r['budget_minutes']:g} min | {r['iterations']} "
                     f"| {r['fd']:.2f} | {r['classes_covered']}/10 | {r['class_kl']:.3f} | {r['confidence']:.3f} "
                     f"| {r['w1']:.2f} | {r['sliced_w1']:.3f} | {correlation_text(r['spearman_estimate_fd'])} "
                     f"({r['evaluations']} points) |")
    return "\n".join(lines)


def main() -> None:
    parser = Parser(__doc__)
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--minutes", nargs="+", type=positive_float, default=[10.0, 30.0],
                        help="training-time budgets, increasing; the run resumes from one to the next")
    parser.add_argument("--data-dir", default=str(MNIST_DIR), help=f"folder of the MNIST IDX files; default: "
                        f"{MNIST_DIR}")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--eval-every", type=positive_int, default=None,
                        help=f"generator iterations between evaluations; default: {PRESET_EVAL_EVERY} for a new "
                        "run, and a resumed run keeps its own")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grids", default="docs/images")
    add_output_arguments(parser, "benchmarks/runs/images", "benchmarks/results/image_quality.jsonl")
    args = parser.parse_args()
    if args.table:
        print(table(Path(args.results)))
        return

    results, grids = prepare(Path(args.results)), Path(args.grids)
    grids.mkdir(parents=True, exist_ok=True)
    for preset in args.presets:
        name = f"{preset}-{args.precision}-s{args.seed}"
        earlier = [row for row in read(results, needs=RECORDED) if row["run"] == str(Path(args.out) / name)] \
            if results.exists() else []
        reached = max((row["budget_minutes"] for row in earlier), default=0.0)
        wall_before = max((row["wall_seconds"] for row in earlier), default=0.0)
        start = time.perf_counter()
        for minutes in (budget for budget in args.minutes if budget > reached):
            run = train_preset(preset, Path(args.out) / name, minutes, args.data_dir, args.precision, args.seed,
                               args.eval_every)
            row = record(run, preset, args.precision, minutes, wall_before + time.perf_counter() - start)
            append(results, row)
            last_grid = sorted((run.path / "samples").glob("iter_*.png"))[-1]
            shutil.copyfile(last_grid, grids / f"{name}-{minutes:g}min.png")


if __name__ == "__main__":
    run(main)
