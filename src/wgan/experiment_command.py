"""`wgan experiment`: run the papers' experiments (:mod:`wgan.experiments`) from the command line, after checking
their options and the places they write (the pages' folder, the MNIST runs' folder, the MNIST files) before any of
them runs; each experiment's pages are written as it ends, so that a stop or a failure later loses none.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import tempfile
from pathlib import Path

from .checks import check_torch_seed
from .errors import WganError, output_refused, reason
from .experiments import EXPERIMENTS, IMAGE_EXPERIMENTS, ByHand, ExperimentResult, ImageData
from .experiments.image_runs import PRESET_MINUTES, check_mnist_files
from .experiments.report import write_report

EXPERIMENT_RUNS = "runs/experiments"  # where `wgan experiment --data-dir` keeps its MNIST runs


def _command_line(args: argparse.Namespace, name: str) -> str:
    """The command line that makes experiment ``name`` as ``args`` did, for its page."""
    words = ["wgan", "experiment", args.name, *(["--quick"] if args.quick else []), "--out", args.out,
             *(["--seed", str(args.seed)] if args.seed else [])]
    if name in IMAGE_EXPERIMENTS and args.data_dir is not None:
        words += ["--data-dir", args.data_dir, "--runs", args.runs, "--minutes", f"{args.minutes:g}"]
    return shlex.join(words)  # a path with a space is quoted, as a shell would need it pasted


def run_experiments(args: argparse.Namespace) -> None:
    """``wgan experiment NAME`` (or ``all``): check every option and place first, then run each experiment,
    print its claims and write its pages as it ends (and the report, kept current)."""
    if args.name != "all" and args.name not in EXPERIMENTS:
        raise WganError(f"unknown experiment '{args.name}': choose one of {', '.join(EXPERIMENTS)}, or all")
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        raise WganError(f"--data-dir '{args.data_dir}' is not a folder: give the folder that holds the MNIST IDX "
                        "files (train-images-idx3-ubyte.gz ...), or leave it out to use the built-in digits")
    if not (args.minutes > 0 and math.isfinite(args.minutes)):
        raise WganError(f"--minutes must be a positive number, got {args.minutes:g}: the training time of each "
                        "MNIST run")
    check_torch_seed(args.seed, "--seed")
    _check_image_flags_count(args)
    if not args.out.strip():  # Path("") is the working directory, where the pages went
        raise WganError("--out is empty: name the folder for the pages, e.g. --out experiments")
    out = Path(args.out)
    _check_writable(out, "--out")
    _check_mnist_runs(args)
    names = list(EXPERIMENTS) if args.name == "all" else [args.name]
    reported = (out / "report.md").is_file()  # an earlier 'all' report, kept current as each experiment ends
    for name in EXPERIMENTS if reported else names:  # what the pages and the report will show: read before
        ByHand.read(out / name)                      # anything runs, as the pages of the others that it shows
        if name not in names and (out / name / "results.json").is_file():
            ExperimentResult.read(out / name)
    for name in names:
        _check_page_places(out, name, args.quick)
    results = []
    for name in names:
        size = "quick size: a smoke test, too short for the paper's claims" if args.quick else "full size"
        print(f"running {name} ({size})...", flush=True)
        images = {"data": ImageData(args.data_dir, Path(args.runs), args.minutes)} if name in IMAGE_EXPERIMENTS else {}
        result = EXPERIMENTS[name](quick=args.quick, seed=args.seed, **images)
        result.command = _command_line(args, name)
        for claim in result.claims:
            print(f"  [{'holds' if claim.holds else 'DOES NOT HOLD'}] {claim.text}: {claim.measured}")
        results.append(result)
        result.write(out / name)  # each page once its experiment ends: a stop or a failure later loses none of them
        print(f"written to {out / name}/ (figure.png, results.json, README.md) and {out / name}.md")
        if reported:
            _write_report(out, [ExperimentResult.read(out / each) for each in EXPERIMENTS
                                if (out / each / "results.json").is_file()], "report updated")
    if args.name == "all":
        _write_report(out, results, "report")


def _check_image_flags_count(args: argparse.Namespace) -> None:
    """--data-dir feeds the image experiments alone, and --runs and --minutes the MNIST runs that it starts:
    refused where nothing would read them, as `wgan train` refuses settings its run would ignore."""
    if args.data_dir is not None and args.name != "all" and args.name not in IMAGE_EXPERIMENTS:
        raise WganError(f"--data-dir has no effect on {args.name}: only the image experiments "
                        f"({', '.join(IMAGE_EXPERIMENTS)}) read it; leave it out")
    if args.data_dir is not None and args.quick:
        raise WganError("--data-dir has no effect with --quick, whose image runs train on the built-in 8x8 digits: "
                        "leave one of them out")
    if args.data_dir is None:
        for flag, value, default in (("--runs", args.runs, EXPERIMENT_RUNS), ("--minutes", args.minutes,
                                                                              PRESET_MINUTES)):
            if value != default:
                raise WganError(f"{flag} has no effect without --data-dir: it is for the image experiments' MNIST "
                                "runs; give --data-dir MNIST_DIR, or leave it out")


def _check_mnist_runs(args: argparse.Namespace) -> None:
    """With --data-dir: the MNIST files that the preset runs read are there, and --runs can hold the runs. Checked
    before anything runs: a folder without the files was found after meaningful-loss's toy runs (minutes), and a
    --runs that is a file when the first MNIST run started, in a message naming --out."""
    if args.data_dir is None:
        return
    try:
        check_mnist_files(args.data_dir)
    except WganError as error:
        raise WganError(f"--data-dir: {error}") from None
    if not args.runs.strip():  # Path("") is the working directory
        raise WganError("--runs is empty: name the folder for the MNIST runs, e.g. --runs runs")
    _check_writable(Path(args.runs), "--runs")


def _write_report(out: Path, results: list[ExperimentResult], said: str) -> None:
    """The report over ``results`` in ``out``, and a line that begins with ``said``."""
    try:
        write_report(results, out)
    except OSError as error:
        raise output_refused(error.filename or out, error) from None
    print(f"{said}: {out / 'report.md'} and {out / 'report.html'}")


def _check_page_places(out: Path, name: str, quick: bool) -> None:
    """Before experiment ``name`` runs: its folder and its page beside it can be written where a folder and a
    file are, and a --quick run does not replace the full size's results (hours of training, for some)."""
    for place, folder in ((out / name, True), (out / f"{name}.md", False)):
        if place.exists() and place.is_dir() != folder:
            raise WganError(f"'{place}' is a {'folder' if place.is_dir() else 'file'}, where {name} writes its "
                            f"{'folder' if folder else 'page'}: move it away, or choose another --out")
    saved = out / name / "results.json"
    if quick and saved.is_file():
        try:
            command = ExperimentResult.read(out / name).made_with
        except WganError:  # a result that does not read is no loss: the run replaces it
            return
        if "--quick" not in shlex.split(command):
            raise WganError(f"'{out / name}' holds {name}'s full-size results (made with `{command}`), which a "
                            "--quick run would replace: choose another --out, or move the folder away")


def _check_writable(folder: Path, flag: str) -> None:
    """Raise WganError, naming ``flag`` (the option that gave ``folder``), unless ``folder`` is, or can be made as,
    a folder this process can write in: checked before a long run, without making it."""
    existing = next(path for path in (folder.absolute(), *folder.absolute().parents) if path.exists())
    if not existing.is_dir():
        raise WganError(f"{flag} '{folder}' needs '{existing}' to be a folder, but it is a file: choose another "
                        f"folder for {flag}")
    try:  # a folder made and removed at once: os.access says yes to root where the file system says no (/proc)
        os.rmdir(tempfile.mkdtemp(prefix=".wgan-check-", dir=existing))
    except OSError as error:
        raise WganError(f"cannot write in '{existing}' ({reason(error)}), where {flag} '{folder}' is: choose a folder "
                        f"you can write to for {flag}") from None
