"""What the quality benchmarks share: where runs and results go, the loss-vs-quality rank correlation, and
printing a results file as a table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from wgan.errors import WganError
from wgan.runs import json_value

from command import append_line, readable, writable


def add_output_arguments(parser: argparse.ArgumentParser, out: str, results: str) -> None:
    """--out (run folders), --results (a JSON-lines file, appended to) and --table (print it and stop)."""
    parser.add_argument("--out", default=out, help=f"folder for the run folders; default: {out}")
    parser.add_argument("--results", default=results, help=f"JSON-lines file the results are appended to; "
                        f"default: {results}")
    parser.add_argument("--table", action="store_true", help="print the results file as a Markdown table and stop")


def prepare(results: Path) -> Path:
    """``results``, its folder made, once it is known that it can be written: checked before the runs, not
    after them."""
    results.parent.mkdir(parents=True, exist_ok=True)
    return writable(results)


def append(results: Path, row: dict) -> None:
    """Append one result to the JSON-lines file and print it."""
    append_line(results, row)
    print(json.dumps(row), flush=True)


def read(results: Path, needs: tuple[str, ...] = ()) -> list[dict]:
    """The rows of a results file, each a JSON object holding the keys ``needs`` (those a script's table reads).
    A file that does not exist, or a line that is not such a row (a file another script wrote, say), is one line
    naming it."""
    try:
        lines = readable(results, "results file").read_bytes().decode().splitlines()
    except UnicodeDecodeError:
        raise WganError(f"results file '{results}' is not text: give a JSON-lines file this script wrote") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        row = json_value(line)
        missing = [key for key in needs if key not in row] if isinstance(row, dict) else None
        if missing is None or missing:
            problem = "is not a JSON object" if missing is None else f"has no {missing[0]!r}"
            raise WganError(f"results file '{results}', line {number}, {problem}: give a results file this script "
                            "wrote (--results)")
        rows.append(row)
    return rows


def rank_correlation(estimates: list[float], quality: list[float]) -> float | None:
    """Spearman's rank correlation of the critic's estimate with a quality measure over the evaluation points,
    or None (JSON null) where it is undefined: fewer than 3 points, or either series constant."""
    if len(estimates) < 3 or np.ptp(estimates) == 0 or np.ptp(quality) == 0:
        return None
    return float(spearmanr(estimates, quality).statistic)


def correlation_text(value: float | None) -> str:
    """A rank correlation for a table: two decimals, or '-' where it is undefined."""
    return "-" if value is None else f"{value:.2f}"
