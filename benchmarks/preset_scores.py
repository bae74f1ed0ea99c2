"""Every image score of the MNIST presets at the iteration their 30-minute budget reached.

    python benchmarks/preset_scores.py --data-dir ../shared/data/mnist
    python benchmarks/preset_scores.py --table
    python benchmarks/preset_scores.py --budgets benchmarks/results/image_quality_xeon.jsonl --results benchmarks/results/preset_scores_xeon.jsonl

The presets table of docs/BENCHMARKS.md gives the FD, classes, confidence and pixel distances of each preset at
10 and 30 minutes of training. This gives the 30-minute point every score of ``wgan.metrics.images``: FD, KID
(mean and standard deviation over subsets), precision and recall (Kynkaanniemi et al. 2019), density and
coverage (Naeem et al. 2020), with the classes and the confidence.

For each preset, the 30-minute row of the results file that measured it (:data:`THIRTY_MINUTES`, the cpu-2 runs;
or ``--budgets``, one file for every preset) names its run and the iteration it reached. When that run's log holds
an evaluation with every score at that iteration, that evaluation is read; otherwise the preset is trained afresh
to that iteration count (seed 0, one evaluation at the end) in --out, so that the point does not depend on how busy
the machine is; a run stopped on the way is continued from its latest checkpoint (bit-exact). One JSON line per
preset goes to --results.
"""

from __future__ import annotations

import json
from pathlib import Path

from command import MNIST_DIR, PROJECT, Parser, readable, run
from results_file import add_output_arguments, append, prepare, read

import wgan

# preset -> (precision, results file holding its 30-minute row): the rows of the presets table
THIRTY_MINUTES = {
    "mnist-wgan-gp": ("bf16", PROJECT / "benchmarks/results/image_quality_lr2e-4.jsonl"),
    "mnist-wgan": ("fp32", PROJECT / "benchmarks/results/image_quality_as_trained.jsonl"),
    "mnist-gan": ("fp32", PROJECT / "benchmarks/results/image_quality.jsonl"),
    "mnist-wgan-nobn": ("fp32", PROJECT / "benchmarks/results/image_quality_as_trained.jsonl"),
    "mnist-gan-nobn": ("fp32", PROJECT / "benchmarks/results/image_quality.jsonl"),
    "mnist-wgan-mlp": ("fp32", PROJECT / "benchmarks/results/image_quality_mlp_generator.jsonl"),
    "mnist-gan-mlp": ("fp32", PROJECT / "benchmarks/results/image_quality_mlp_generator.jsonl"),
}
SCORED = ("preset", "precision", "iterations", "fd_at_30_minutes", "scores")  # the keys of a results row
SCORES = ("fd", "kid", "kid_std", "precision", "recall", "density", "coverage", "classes_covered", "confidence")


def thirty_minute_row(preset: str, budgets: Path | None = None) -> dict | None:
    """The results row of ``preset`` at 30 minutes, in ``budgets`` or else its file of :data:`THIRTY_MINUTES`,
    or None if it has not been measured."""
    precision, results = THIRTY_MINUTES[preset]
    results = budgets or results
    needs = ("preset", "precision", "budget_minutes", "iterations", "run", "fd")
    rows = [row for row in read(Path(results), needs) if row["preset"] == preset and row["precision"] == precision
            and row["budget_minutes"] == 30] if Path(results).exists() else []
    return rows[-1] if rows else None


def evaluation_at(folder: Path, iteration: int) -> dict | None:
    """The evaluation row of the run in ``folder`` at ``iteration`` if it holds every score, else None."""
    log = folder / "metrics.jsonl"
    if not log.is_file():
        return None
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    rows = [row for row in rows if row.get("iteration") == iteration and all(f"eval/{s}" in row for s in SCORES)]
    return rows[-1] if rows else None


def scores(preset: str, out: Path, data_dir: str, budgets: Path | None = None) -> dict | None:
    """Every score of ``preset`` at its 30-minute iteration: from its run's log, or trained to that iteration."""
    row = thirty_minute_row(preset, budgets)
    if row is None:
        print(f"{preset}: no 30-minute row in {budgets or THIRTY_MINUTES[preset][1]}; skipped", flush=True)
        return None
    precision, iteration = row["precision"], row["iterations"]
    source = Path(row["run"])
    evaluation = evaluation_at(source, iteration)
    if evaluation is None:
        source = out / f"{preset}-{precision}-s0"
        evaluation = evaluation_at(source, iteration)
    if evaluation is None and (source / "checkpoints" / "latest.pt").is_file():
        print(f"{preset}: continuing {source} to iteration {iteration}", flush=True)
        wgan.resume(source, iterations=iteration, eval_every=iteration, progress=False)
        evaluation = evaluation_at(source, iteration)
    elif evaluation is None:
        print(f"{preset}: training to iteration {iteration} in {source}", flush=True)
        wgan.train(preset=preset, precision=precision, iterations=iteration, eval_every=iteration,
                   data_dir=data_dir, out=str(source.parent), name=source.name, progress=False)
        evaluation = evaluation_at(source, iteration)
    return {"preset": preset, "precision": precision, "iterations": iteration, "run": str(source),
            "fd_at_30_minutes": row["fd"], "scores": {name: evaluation[f"eval/{name}"] for name in SCORES}}


def table(results: Path) -> str:
    order = {name: i for i, name in enumerate(THIRTY_MINUTES)}
    rows = sorted(read(results, needs=SCORED), key=lambda r: order.get(r["preset"], 99))
    lines = ["| preset | dtype | iterations | FD (the 30-minute run's) | KID (std) | precision | recall "
             "| density | coverage | classes | confidence |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["scores"]
        lines.append(f"| {r['preset']} | {r['precision']} | {r['iterations']} | {s['fd']:.2f} "
                     f"({r['fd_at_30_minutes']:.2f}) | {s['kid']:.2f} ({s['kid_std']:.2f}) | {s['precision']:.3f} "
                     f"| {s['recall']:.3f} | {s['density']:.3f} | {s['coverage']:.3f} | {s['classes_covered']}/10 "
                     f"| {s['confidence']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = Parser(__doc__)
    parser.add_argument("--presets", nargs="+", default=list(THIRTY_MINUTES), choices=list(THIRTY_MINUTES))
    parser.add_argument("--data-dir", default=str(MNIST_DIR), help=f"folder of the MNIST IDX files; default: "
                        f"{MNIST_DIR}")
    parser.add_argument("--budgets", type=Path, help="the results file (of benchmarks/image_quality.py) whose "
                        "30-minute rows to score, for every preset (default: the cpu-2 runs' files)")
    add_output_arguments(parser, "benchmarks/runs/presets-30min", "benchmarks/results/preset_scores.jsonl")
    args = parser.parse_args()
    if args.budgets is not None:
        readable(args.budgets, "--budgets file")
    results = Path(args.results)
    if args.table:
        print(table(results))
        return
    done = {row["preset"] for row in read(results, needs=SCORED)} if results.exists() else set()
    prepare(results)
    for preset in args.presets:
        if preset in done:
            print(f"{preset}: already in {results}; skipped (remove its line to score it again)", flush=True)
        elif (row := scores(preset, Path(args.out), args.data_dir, args.budgets)) is not None:
            append(results, row)


if __name__ == "__main__":
    run(main)
