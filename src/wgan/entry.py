"""The ``wgan`` command's entry point (and ``python -m wgan``'s): it imports the CLI inside a guard, so that a
Ctrl-C during the second that importing torch takes ends with one line and status 130, as a Ctrl-C later does,
instead of a traceback. Nothing has been read or written by then."""

import os
import sys

EXIT_INTERRUPTED = 130  # a shell's status for a process ended by SIGINT (128 + 2)


def main() -> None:
    try:
        from .cli import main as run_command
        from .distributed import exit_process
    except KeyboardInterrupt:
        if os.environ.get("RANK", "0") == "0":  # one line for all the ranks of a launch
            print("\nwgan: interrupted while starting, before anything was read or written", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    exit_process(run_command())
