"""`wgan train --nproc N`: start N ranks of ``wgan`` on this machine through torchrun's own API, and end with
one status and one line for the user, whichever way the ranks ended.

The ranks tell the launcher what it cannot see itself (:mod:`wgan.exits`): rank 0 writes its exit status, and
the run folder's path once it has opened it, into files whose names the launch puts in their environment. From
these and torchrun's failure records the launcher names the rank that failed first and says how to continue.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import runs
from .exits import (EXIT_INTERRUPTED, EXIT_LOST_PEER, EXIT_STOPPED, EXIT_USER_ERROR, NEW_FOLDER, OUTCOME_FILE,
                    RUN_FOLDER_FILE)

if TYPE_CHECKING:  # torchrun's modules are imported where a launch needs them
    from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

LAUNCHER_SIGNALS = "SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1"  # passed on to the ranks: torchrun's own, and SIGUSR1


def first_failure(failures: dict[int, ProcessFailure]) -> tuple[int, ProcessFailure]:
    """The rank whose failure stopped the others, and its failure, from torchrun's ``{rank: ProcessFailure}``.

    Ranks that lost contact with it (:data:`EXIT_LOST_PEER`) or that torchrun's agent then stopped with SIGTERM
    (which a rank still starting takes as a Ctrl-C: status 130) are its followers, unless every rank is one.
    Among the rest, the first to fail by torchrun's clock (whole seconds), then the lowest rank: the agent sends
    SIGKILL to a rank that has not ended 30 s after its SIGTERM, and records that failure then, so a rank
    stopped that way comes after the failure that stopped it.
    """
    followers = (EXIT_LOST_PEER, -signal.SIGTERM, EXIT_INTERRUPTED)  # 130: the agent's SIGTERM as a rank starts
    causes = {rank: failure for rank, failure in failures.items() if failure.exitcode not in followers}
    return min((causes or failures).items(), key=lambda item: (item[1].timestamp, item[0]))


def launch(nproc: int, argv: list[str]) -> tuple[int, str]:
    """Start ``wgan`` with ``argv`` on ``nproc`` local processes through torchrun's own API (``--standalone``).

    Returns the exit status and a message for the user, to follow "wgan: ": 0 and none; 2 or 75 and none when the
    ranks stopped on a user error or a stop signal (rank 0 has said so). A signal to this launcher (SIGTERM,
    SIGINT, SIGUSR1, as schedulers send, or SIGHUP, SIGQUIT) is passed to the ranks; the status is then rank 0's
    (75 once it has saved, 130 at a second Ctrl-C or one while it starts), which it writes in the file
    :data:`OUTCOME_FILE` names, or 128 + the signal's number and a line where rank 0 ended without one (killed
    before it could save). Otherwise 1 and a line naming the rank that failed first and how: not the ranks that
    then lost contact with it, nor those torchrun's agent stopped with SIGTERM.
    """
    from torch.distributed.run import get_args_parser, run

    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    for name in list(logging.root.manager.loggerDict):  # failures and stops get our one line, not its log
        if name.startswith("torch.distributed.elastic"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    arguments = get_args_parser().parse_args(["--standalone", f"--nproc-per-node={nproc}",
                                              f"--signals-to-handle={LAUNCHER_SIGNALS}", "--module", "wgan", *argv])
    with tempfile.TemporaryDirectory(prefix="wgan-launch-") as folder:
        told = {OUTCOME_FILE: os.path.join(folder, "rank0-status"), RUN_FOLDER_FILE: os.path.join(folder, "run")}
        os.environ.update(told)
        try:
            return _launched(run, arguments, told[OUTCOME_FILE], told[RUN_FOLDER_FILE], nproc)
        finally:
            for name in told:  # for this launch only: a later one, or a script, has its own
                del os.environ[name]


def _launched(run: Callable[[Any], Any], arguments: Any, outcome: str, run_folder: str, nproc: int
              ) -> tuple[int, str]:
    """torchrun's ``run(arguments)``, and the status and line that :func:`launch` returns for it."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    try:
        run(arguments)
    except SignalException as stop:
        if os.path.exists(outcome):  # rank 0 has said where it stopped and how to resume, or why not
            with open(outcome) as file:
                return int(file.read()), ""
        return 128 + stop.sigval, (f"stopped by {stop.sigval.name} before the processes could save: "
                                   f"{_resume_advice(run_folder, nproc)}")
    except ChildFailedError as error:
        for status in (EXIT_USER_ERROR, EXIT_STOPPED):  # rank 0 has said what happened
            if any(failure.exitcode == status for failure in error.failures.values()):
                return status, ""
        rank, failure = first_failure(error.failures)
        how = (f"was stopped by signal {failure.signal_name()}" if failure.exitcode < 0
               else f"exited with status {failure.exitcode}")
        return 1, (f"error: rank {rank} of {nproc} (pid {failure.pid}) {how}, and the other ranks were stopped; "
                   f"{_resume_advice(run_folder, nproc)}")
    return 0, ""


def _resume_advice(run_folder: str, nproc: int) -> str:
    """How to continue a launch that failed: with the run folder that rank 0 wrote into the file ``run_folder``
    (:func:`wgan.exits.tell_launcher_the_run`), or by starting again where there is none (not opened yet, or removed).

    A new folder without a checkpoint is removed here if rank 0 could not remove it itself: torchrun's agent
    kills a rank that has not ended 30 s after its SIGTERM, and gloo can abort a rank as it fails.
    """
    if not os.path.exists(run_folder):
        return "the run had opened no folder yet: start it again"
    with open(run_folder) as file:
        made, folder = file.read().split("\n", 1)
    if made == NEW_FOLDER:
        runs.discard_if_unresumable(Path(folder))
    if not os.path.isdir(folder):  # a new run's: nothing in it could be resumed
        return f"the run stopped before its first checkpoint, and its folder {folder} is removed: start it again"
    return f"continue from its last checkpoint with `wgan train --resume {shlex.quote(folder)} --nproc {nproc}`"
