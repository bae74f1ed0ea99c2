"""`wgan train --nproc N`: start N ranks of ``wgan`` on this machine through torchrun's own API, and end with
one status and one line for the user, whichever way the ranks ended.

The ranks tell the launcher what it cannot see itself (:mod:`wgan.exits`): rank 0 writes its exit status, and
the run folder's path once it has opened it, into files whose names the launch puts in their environment. From
these and torchrun's failure records the launcher names the rank that failed first and says how to continue.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import runs
from .exits import (EXIT_INTERRUPTED, EXIT_LOST_PEER, EXIT_STOPPED, EXIT_USER_ERROR, NEW_FOLDER, OUTCOME_FILE,
                    RESUMED_FOLDER, RUN_FOLDER_FILE)
from .processes import child_processes, started_rank

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
    # c10d's C++ warnings, each with a stack trace, as a rank's first try at the store fails and its retry succeeds
    # (a loaded machine): errors still show, and a user's own level is kept
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")
    for name in list(logging.root.manager.loggerDict):  # failures and stops get our one line, not its log
        if name.startswith("torch.distributed.elastic"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    arguments = get_args_parser().parse_args(["--standalone", f"--nproc-per-node={nproc}",
                                              f"--signals-to-handle={LAUNCHER_SIGNALS}", "--module", "wgan", *argv])
    with tempfile.TemporaryDirectory(prefix="wgan-launch-") as folder:
        told = {OUTCOME_FILE: os.path.join(folder, "rank0-status"), RUN_FOLDER_FILE: os.path.join(folder, "run")}
        os.environ.update(told)
        try:
            with _later_signals_passed_to_rank_0():
                return _launched(run, arguments, told[OUTCOME_FILE], told[RUN_FOLDER_FILE], nproc)
        finally:
            for name in told:  # for this launch only: a later one, or a script, has its own
                del os.environ[name]


@contextlib.contextmanager
def _later_signals_passed_to_rank_0() -> Iterator[None]:
    """Inside the block, torchrun's handler of the launcher's signals takes the first one alone: it raises in the
    agent, which passes that signal to the ranks and waits for them to end (30 s, then SIGKILL). A later signal
    is passed to rank 0 instead (:func:`deciding_rank`; a second Ctrl-C stops it at once, as it stops one
    process, and the others find it gone): raised again, it broke off that wait, and the launcher returned while
    rank 0 was still saving ("stopped by SIGINT before the processes could save", then rank 0's line after the
    shell's prompt), and the ranks never got it."""
    from torch.distributed.elastic.multiprocessing import api

    raising = api._terminate_process_handler  # looked up by name as the agent installs it for each signal
    received: list[int] = []

    def first_raised_later_passed_on(number: int, frame: Any) -> None:
        ranks = child_processes(os.getpid())
        if not received or not ranks:  # (no ranks found: all ended, or no /proc to find them by)
            received.append(number)
            raising(number, frame)
        for pid in deciding_rank(ranks):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, number)

    api._terminate_process_handler = first_raised_later_passed_on
    try:
        yield
    finally:
        api._terminate_process_handler = raising


def deciding_rank(ranks: list[int]) -> list[int]:
    """Rank 0 of the processes ``ranks`` (by the RANK its environment was started with), or all of them where it
    is not among them (ended). Rank 0 alone is sent a second Ctrl-C: ranks stopped at once each on their own
    waited for each other, one in a collective operation and another for rank 0's word, until torchrun's agent
    killed them 30 s later, rank 0 before it could say anything."""
    return next(([pid] for pid in ranks if started_rank(pid) == 0), ranks)


def _launched(run: Callable[[Any], Any], arguments: Any, outcome: str, run_folder: str, nproc: int
              ) -> tuple[int, str]:
    """torchrun's ``run(arguments)``, and the status and line that :func:`launch` returns for it."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    try:
        run(arguments)
        ended: Exception | None = None
    except (SignalException, ChildFailedError) as error:
        ended = error
    _discard_new_folder_left_unresumable(run_folder)  # every rank has ended by now
    if isinstance(ended, SignalException):
        if os.path.exists(outcome):  # rank 0 has said where it stopped and how to resume, or why not
            with open(outcome) as file:
                return int(file.read()), ""
        return 128 + ended.sigval, (f"stopped by {ended.sigval.name} before the processes could save: "
                                    f"{_resume_advice(run_folder, nproc)}")
    if isinstance(ended, ChildFailedError):
        for status in (EXIT_USER_ERROR, EXIT_STOPPED):  # rank 0 has said what happened
            if any(failure.exitcode == status for failure in ended.failures.values()):
                return status, ""
        rank, failure = first_failure(ended.failures)
        how = (f"was stopped by signal {failure.signal_name()}" if failure.exitcode < 0
               else f"exited with status {failure.exitcode}")
        return 1, (f"error: rank {rank} of {nproc} (pid {failure.pid}) {how}, and the other ranks were stopped; "
                   f"{_resume_advice(run_folder, nproc)}")
    return 0, ""


def _told_run(run_folder: str) -> tuple[str, str, Path | None] | None:
    """What rank 0 wrote into the file ``run_folder`` (:func:`wgan.exits.tell_launcher_the_run`): whether this
    launch made its run folder or resumed it (:data:`NEW_FOLDER`, :data:`RESUMED_FOLDER`), the folder's
    absolute path, and the outermost folder it made for its ``out`` (None if none); None where it wrote nothing
    (no folder opened yet) or not in that form."""
    try:
        with open(run_folder) as file:
            made, _, folder = file.read().partition("\n")
    except FileNotFoundError:
        return None
    folder, _, made_out = folder.partition("\n")
    if made not in (NEW_FOLDER, RESUMED_FOLDER) or not os.path.isabs(folder):
        return None
    return made, folder, Path(made_out) if os.path.isabs(made_out) else None


def _discard_new_folder_left_unresumable(run_folder: str) -> None:
    """Remove the run folder this launch made if it holds no checkpoint, as rank 0 does when it fails, for a
    rank 0 that ended before it could: torchrun's agent kills a rank that has not ended 30 s after its SIGTERM,
    gloo can abort a rank as it fails, and the ranks do not catch SIGHUP. Only a run folder (its config file
    there) that rank 0 said it made is removed, never one it resumed, with the folders it made for its out where
    they are left empty."""
    told = _told_run(run_folder)
    if told is not None and told[0] == NEW_FOLDER and (Path(told[1]) / runs.CONFIG_FILE).is_file():
        runs.discard_if_unresumable(Path(told[1]), told[2])


def _resume_advice(run_folder: str, nproc: int) -> str:
    """How to continue a launch that failed: with the run folder that rank 0 wrote into the file ``run_folder``,
    or by starting again where there is none (not opened yet, or a new one removed)."""
    told = _told_run(run_folder)
    if told is None:
        return "the run had opened no folder yet: start it again"
    made, folder, _ = told
    if os.path.isdir(folder):
        return f"continue from its last checkpoint with `wgan train --resume {shlex.quote(folder)} --nproc {nproc}`"
    if made == NEW_FOLDER:  # nothing in it could be resumed
        return f"the run stopped before its first checkpoint, and its folder {folder} is removed: start it again"
    return (f"its run folder {folder} is no longer there (moved or removed): resume it where it is now, with "
            f"`wgan train --resume FOLDER --nproc {nproc}`")
