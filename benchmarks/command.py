"""What every benchmark script shares as a command, so that it meets the wgan command's promise on bad input (one
line naming the problem and what to do, exit status 2, no traceback): an argument parser whose errors are one
line, argument types for counts and durations, ``--set KEY=VALUE`` settings, output files checked before the
measurement, and a ``run(main)`` that turns wgan's errors and the file system's into that line."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wgan import cli
from wgan.errors import WganError, reason
from wgan.exits import EXIT_INTERRUPTED, EXIT_USER_ERROR
from wgan.signals import as_ctrl_c, signals_handled

PROJECT = Path(__file__).resolve().parent.parent  # the benchmarks' files are found from here, not the working folder
MNIST_DIR = PROJECT.parent / "shared" / "data" / "mnist"  # the MNIST IDX files beside the project, where they are kept


class Parser(cli.Parser):
    """The wgan command's parser (errors on one line that points at --help), showing the script's docstring in
    --help as it is written."""

    def __init__(self, description: str | None, **options: Any):
        super().__init__(description=description, formatter_class=argparse.RawDescriptionHelpFormatter, **options)


def _number(kind: type, least: float, words: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {words}") from None
        if not value >= least:  # also NaN
            raise argparse.ArgumentTypeError(f"{text!r} is not {words}")
        return value
    parse.__name__ = words  # what argparse names in "invalid ... value"
    return parse


positive_int = _number(int, 1, "a positive whole number")
count = _number(int, 0, "a whole number of 0 or more")
positive_float = _number(float, sys.float_info.min, "a positive number")


def settings(pairs: list[str], own: dict[str, str] | None = None) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as settings: each value as JSON where it reads as JSON (numbers, true, "text"), else
    as the text itself (``data_dir=../shared/data/mnist``). A key in ``own``, which the script sets itself, is
    refused with the option that sets it (``own`` maps key to option)."""
    parsed = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise WganError(f"--set {pair!r} is not KEY=VALUE: write e.g. --set batch_size=64 model=dcgan")
        if key in (own or {}):
            raise WganError(f"--set {key}: this script sets {key} itself; {own[key]}")
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
    return parsed


def writable(path: Path | None) -> Path | None:
    """``path`` (a file the results will be appended to) if it can be, checked before the measurement rather
    than after it: its folder must exist and the file be writable."""
    if path is not None:
        try:
            new = not path.exists()
            with open(path, "a"):
                pass
            if new:  # not left empty should the measurement fail or be stopped
                path.unlink()
        except OSError as error:
            raise WganError(f"cannot write '{path}' ({reason(error)}): choose a file in a folder you can write "
                            "to") from None
    return path


def append_line(path: Path, row: dict) -> None:
    """Append ``row`` to the JSON-lines file at ``path`` as one line."""
    with open(path, "a") as file:
        file.write(json.dumps(row) + "\n")


def readable(path: Path, what: str) -> Path:
    """``path`` if it is a file, else one line naming ``what`` it should be."""
    if not path.is_file():
        raise WganError(f"{what} '{path}' does not exist: give the file (paths are relative to {Path.cwd()})")
    return path


def run(main: Callable[[], None]) -> None:
    """Run a script's ``main``: a WganError or a file the system refuses is one line and exit status 2, a
    Ctrl-C or a SIGTERM exit status 130, as for the wgan command."""
    name = Path(sys.argv[0]).name
    try:
        with signals_handled((signal.SIGTERM,), as_ctrl_c):  # `timeout`'s and schedulers' stop: the finally blocks
            main()                                           # run (a play server started is stopped, not orphaned)
    except WganError as error:
        print(f"{name}: error: {' '.join(str(error).splitlines())}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    except OSError as error:
        print(f"{name}: error: cannot use '{error.filename}' ({reason(error)})", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        print(f"\n{name}: interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
