"""What the quality benchmarks share: where runs and results go, the loss-vs-quality rank correlation, and
printing a results file as a table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from command import readable


def add_output_arguments(parser: argparse.ArgumentParser, out: str, results: str) -> None:
    """--out (run folders), --results (a JSON-lines file, appended to) and --table (print it and stop)."""
    parser.add_argument("--out", default=out, help=f"folder for the run folders; default: {out}")
    parser.add_argument("--results", default=results, help=f"JSON-lines file the results are appended to; "
                        f"default: {results}")
    parser.add_argument("--table", action="store_true", help="print the results file as a Markdown table and stop")


def append(results: Path, row: dict) -> None:
    """Append one result to the JSON-lines file and print it."""
    results.parent.mkdir(parents=True, exist_ok=True)
    with open(results, "a") as file:
        file.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


def read(results: Path) -> list[dict]:
    """The rows of a results file (one that does not exist is one line naming it)."""
    return [json.loads(line) for line in readable(results, "results file").read_text().splitlines() if line.strip()]


def rank_correlation(estimates: list[float], quality: list[float]) -> float | None:
    """Spearman's rank correlation of the critic's estimate with a quality measure over the evaluation points,
    or None (JSON null) where it is undefined: fewer than 3 points, or either series constant."""
    if len(estimates) < 3 or np.ptp(estimates) == 0 or np.ptp(quality) == 0:
        return None
    return float(spearmanr(estimates, quality).statistic)


def correlation_text(value: float | None) -> str:
    """A rank correlation for a table: two decimals, or '-' where it is undefined."""
    return "-" if value is None else f"{value:.2f}"
