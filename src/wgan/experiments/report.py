"""One report over several experiments: every figure and one table "experiment / claim / measured / holds?".

Written as Markdown (``report.md``) and as a self-contained HTML page (``report.html``) beside the experiments'
own folders (``<out>/<name>/figure.png``), which both link to.
"""

from __future__ import annotations

import html
from dataclasses import replace
from pathlib import Path

from ..runs import atomic_write_bytes
from . import NO_WHY, ByHand, ExperimentResult, failure_section


def _markdown(results: list[ExperimentResult]) -> str:
    lines = ["# The WGAN papers' claims, measured", "", "| experiment | claim | measured | holds? |",
             "|---|---|---|---|"]
    for result in results:
        for claim in result.shown_claims:
            cells = [result.name, claim.text, claim.measured, "yes" if claim.holds else "**no**"]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    lines += ["", *failure_section([(result.name, claim) for result in results for claim in result.failures])]
    for result in results:
        lines += [f"## {result.name}", "", _made_with(result), "", f"![{result.name}]({result.name}/figure.png)", ""]
    return "\n".join(lines)


def _made_with(result: ExperimentResult) -> str:
    """The line under an experiment's heading: its page, its numbers and the command that measured them (whose
    --quick says when they come from the small size the tests use)."""
    return f"[The page]({result.name}.md), [the numbers]({result.name}/results.json); made with `{result.made_with}`"


def _html(results: list[ExperimentResult]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(result.name)}</td><td>{html.escape(claim.text)}</td>"
        f"<td>{html.escape(claim.measured)}</td><td class={'yes' if claim.holds else 'no'}>"
        f"{'yes' if claim.holds else 'no'}</td></tr>"
        for result in results for claim in result.shown_claims)
    failures = "".join(f"<li>{html.escape(result.name)}: <em>{html.escape(claim.text)}</em>. "
                       f"{html.escape(claim.why or NO_WHY)}</li>"
                       for result in results for claim in result.failures)
    failures = f"<h2>Where a claim does not hold</h2><ul>{failures}</ul>" if failures else ""
    figures = "".join(f"<h2>{html.escape(r.name)}</h2><p><a href='{html.escape(r.name)}.md'>The page</a>, <a "
                      f"href='{html.escape(r.name)}/results.json'>the numbers</a>; made with "
                      f"<code>{html.escape(r.made_with)}</code></p>"
                      f"<img src='{html.escape(r.name)}/figure.png' alt='{html.escape(r.name)}: the figure'>"
                      for r in results)
    return ("<!doctype html><meta charset='utf-8'><title>WGAN claims, measured</title><style>"
            "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.yes{color:#2a7}.no{color:#c33}"
            "img{max-width:100%}</style><h1>The WGAN papers' claims, measured</h1><table><tr><th>experiment"
            f"</th><th>claim</th><th>measured</th><th>holds?</th></tr>{rows}</table>{failures}{figures}\n")


def write_report(results: list[ExperimentResult], out_dir: str | Path) -> Path:
    """Write each result into ``out_dir/<name>/`` and the combined report.md and report.html into ``out_dir``,
    with what each folder there holds measured by hand (:class:`~wgan.experiments.ByHand`)."""
    out = Path(out_dir)
    for result in results:
        result.write(out / result.name)
    results = [replace(result, by_hand=ByHand.read(out / result.name)) for result in results]
    atomic_write_bytes(out / "report.md", _markdown(results).encode())
    atomic_write_bytes(out / "report.html", _html(results).encode())
    return out
