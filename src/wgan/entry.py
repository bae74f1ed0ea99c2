"""The ``wgan`` command's entry point (and ``python -m wgan``'s): it imports the CLI inside a guard, so that a
Ctrl-C during the second that importing torch takes ends with one line and status 130, as a Ctrl-C later does,
instead of a traceback. Nothing has been read or written by then.

SIGINT is held (blocked) while the libraries import and delivered once they have: a Ctrl-C that lands inside an
import leaves that module half made, and torch's C extension imports numpy in a way that turns the interrupt into
something else. Sent about 0.25 s after the start (inside numpy's import), a Ctrl-C ended 10 of 15 launches in
a traceback (RecursionError, "module 'numpy' has no attribute 'subtract'", "initialization failed") or was lost
while the run trained on (2-core Intel Xeon, 2026-12-06).
"""

import os
import signal
import sys

from .exits import EXIT_INTERRUPTED, OUTCOME_FILE, tell_launcher

HOLDS_SIGNALS = hasattr(signal, "pthread_sigmask")  # POSIX; elsewhere a Ctrl-C comes when it comes
INTERRUPTED_WHILE_STARTING = "wgan: interrupted while starting, before anything was read or written"


def main() -> None:
    try:
        if HOLDS_SIGNALS:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            from .cli import main as run_command
            from .distributed import exit_process
        finally:
            if HOLDS_SIGNALS:  # a Ctrl-C held meanwhile is raised here, as KeyboardInterrupt
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    except KeyboardInterrupt:
        if os.environ.get("RANK", "0") == "0":  # one line for all the ranks of a launch, and not the launcher's
            print("\n" + INTERRUPTED_WHILE_STARTING, file=sys.stderr)
            tell_launcher(OUTCOME_FILE, str(EXIT_INTERRUPTED))
        sys.exit(EXIT_INTERRUPTED)
    exit_process(run_command())
