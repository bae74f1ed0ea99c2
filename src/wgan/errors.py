"""The error types for problems a user can fix, and the words for the system's refusals.

Every check of user input raises :class:`WganError` with a message that names the value, what was expected
and what to do. The CLI prints the message on one line and exits with status 2; library callers catch it.
"""

import errno
from pathlib import Path

FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # a full disk, a quota, a file-size limit (ulimit -f)
FORBIDDEN = (errno.EACCES, errno.EPERM, errno.EROFS)
IN_THE_WAY = (errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.ELOOP)  # a folder, file or link where it should not be


class WganError(ValueError):
    """A problem with the user's input (configuration, data file, run folder): the message says how to fix it."""


def one_line(error: BaseException) -> str:
    """An exception's message on one line (its whitespace runs, newlines included, made one space), to quote
    inside a WganError's message; the exception's type name where it has no message."""
    return " ".join(str(error).split()) or type(error).__name__


class Stopped(KeyboardInterrupt):
    """Training stopped before its end at a stop signal (Ctrl-C, or SIGTERM or SIGUSR1 as schedulers send them
    before preempting a job), at the end of an iteration, after saving its latest checkpoint where the run writes
    one: ``wgan.resume`` (``wgan train --resume``) continues it exactly.

    A KeyboardInterrupt, as a Ctrl-C is in Python, so that a loop over runs that catches Exception stops too.
    ``run`` is the :class:`~wgan.api.Run` as trained up to the stop (set by :func:`wgan.train` and
    :func:`wgan.resume`; None where the trainer was driven by other code).
    """

    def __init__(self, signal_name: str, iteration: int, run_path: str | None):
        super().__init__(f"stopped by {signal_name} at iteration {iteration}")
        self.signal_name, self.iteration, self.run_path = signal_name, iteration, run_path
        self.run = None


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped training at once (a second one, or one before the loop took over the signal): ``run_path``
    is the run folder kept with the checkpoint it last wrote, or None where the run had written none (its folder
    is then removed: nothing in it could be resumed). ``finished``: the run had trained all its iterations, and
    its last figures (curves.png, progress.gif) were being drawn."""

    def __init__(self, run_path: str | None, finished: bool = False):
        super().__init__()
        self.run_path, self.finished = run_path, finished


class SamplesNotFinite(WganError):
    """The generator's samples hold NaN or infinity (a diverged generator, or batch-norm statistics that
    diverged): there is nothing to score. Training rolls back on it (``on_nan``)."""


def reason(error: OSError) -> str:
    """Why the system refused, for a message: the error's text for its errno ("No space left on device"), or its
    message when it has none (numpy's short write says "8000 requested and 0 written")."""
    return error.strerror or str(error)


def remedy(error: OSError) -> str:
    """What to do about ``error``, for a message: make room, fix permissions, or move aside what is in the way."""
    if error.errno in FULL:
        return "make room"
    if error.errno in FORBIDDEN:
        return "make it readable and writable (chmod u+rw), or use a folder you can write in"
    if error.errno in IN_THE_WAY:
        return "move aside what is in its place"
    return "fix that"


def refused(error: OSError) -> str:
    """One line for a read or write the system refused: the file, why, and what to do."""
    where = f" '{error.filename}'" if error.filename is not None else ""
    return f"cannot use{where} ({reason(error)}): {remedy(error)}, and try again"


def output_refused(path: str | Path, error: OSError) -> WganError:
    """One line for an output the file system refused, naming a file that stands where a folder should: above
    ``path``, or ``path`` itself where the system would not make it a folder."""
    absolute = Path(path).absolute()
    places = (absolute, *absolute.parents) if error.errno in (errno.EEXIST, errno.ENOTDIR) else absolute.parents
    blocking = next((place for place in places if place.is_file()), None)
    if blocking is not None:  # the system's words for it are "File exists" or "Not a directory"
        return WganError(f"cannot write '{path}': '{blocking}' is a file, not a folder; choose another place")
    return WganError(f"cannot write '{path}' ({reason(error)}): choose a place you can write to")
