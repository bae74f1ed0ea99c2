"""The run folder ``<out>/<name>/``: what a run leaves behind, and the one way each thing is written.

```
config.toml          resolved settings (every default filled in)
metrics.jsonl        one JSON object per log or evaluation point: {"iteration": k, "train/...": x, "eval/...": y}
tensorboard/         the same scalars as TensorBoard events
samples/iter_K.png   at each evaluation: real vs generated points over the critic's landscape, or a grid of
                     generated images (samples/ema/: the generator's moving average's, where it has one)
curves.png           the critic's estimate and the exact W1 (or the image scores) against iterations
progress.gif         the evaluations' figures in order
checkpoints/latest.pt, checkpoints/best.pt   everything needed to resume (see Trainer.state_dict)
checkpoints/previous.pt                      the latest checkpoint before the last one, to fall back on
checkpoints/latest-damaged.pt                a damaged latest checkpoint that a resume fell back from
checkpoints/best-dropped.pt                  a best checkpoint of iterations a resume dropped
data.json            the fingerprint of the user's data the run started on (a resume says when it changed)
metric_card.json     an image run's: what its scores were measured with
eval_best.json, eval_latest.json             written by `wgan eval`: the scores of that checkpoint
.lock                the process that is writing the folder
```

Every file is written atomically (a temporary file in the same folder, then ``os.replace``), so an interrupted
run never leaves a half-written checkpoint or figure, and what was saved before stays intact. Checkpoints carry
a checksum (:mod:`wgan.checkpoints`); a resume whose latest checkpoint is missing or damaged falls back on the
previous one. A process that writes a folder holds a lock on it, so that a second one cannot write it at the
same time; the lock goes with the process, however it ends. A process killed in the middle of a write leaves a
hidden temporary file beside the one it was writing (never that file torn), which the next writer removes; a
metrics line cut short by a crash is dropped when the folder is read again.
"""

from __future__ import annotations

import fcntl
import io
import itertools
import json
import os
import shlex
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

from . import checkpoints
from .config import Config, load_toml, make_config, to_toml, typed
from .data import USERS_OWN, is_missing_path, reads_data_dir
from .errors import IN_THE_WAY, WganError, reason, refused, remedy
from .run_files import (CONFIG_FILE, CURVES, DATA_RECORD, LOCK_FILE, METRIC_CARD, METRICS_FILE, OWN_FILES, OWN_FOLDERS,
                        PROGRESS)

FIGURE_PREFIX = "iter_"  # samples/iter_000500.png: the figure of the evaluation at iteration 500
RECORDED = ("algorithm", "data")  # settings that every config.toml of a run holds
_UMASK = os.umask(0)
os.umask(_UMASK)  # read once: new files get the usual permissions (mkstemp would make them owner-only)
DAMAGED_LATEST = "latest-damaged.pt"  # a latest checkpoint that a resume found damaged and fell back from
DROPPED_BEST = "best-dropped.pt"  # a best checkpoint later than the one such a resume continued from


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any],
                 before_replace: Callable[[], Any] | None = None) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path`` in one step;
    ``before_replace()``, if given, runs between the two, once the new content is on disk.

    A Ctrl-C during the write surfaces as ``KeyboardInterrupt`` even when the writer's own clean-up fails on the
    half-written file and raises something else in its place (``torch.save`` finishing its zip archive does). An
    ``OSError`` names ``path`` (or where a rename was refused), not the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, 0o666 & ~_UMASK)
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if not isinstance(error, KeyboardInterrupt) and _interrupted(error):
            raise KeyboardInterrupt from error
        if isinstance(error, OSError) and error.errno is not None:  # named by the file the user knows: a full
            # disk's write names none, and a rename names its hidden source before the destination that refused it
            known = error.filename2 or (error.filename if error.filename not in (None, temporary) else path)
            raise OSError(error.errno, error.strerror, str(known)) from None  # (its subclass, by the errno)
        raise
    return path


def _serialised(value: Any) -> memoryview:
    """``torch.save``'s bytes of ``value``, made in memory."""
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getbuffer()


def _interrupted(error: BaseException) -> bool:
    """Whether a KeyboardInterrupt is among the exceptions that ``error`` was raised while handling."""
    context = error.__context__
    while context is not None:
        if isinstance(context, KeyboardInterrupt):
            return True
        context = context.__context__
    return False


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda file: file.write(data))


def _data_name(config: Config) -> str:
    """What a run's default name calls its data: the data set's name, or the file or folder that ``data_dir``
    gives for data ``folder`` and ``array`` (a folder named by ``.`` or ``..`` is called by its own name, a link by
    its own, not its target's; the root, which has none, by the data's kind)."""
    if config.data in USERS_OWN and config.data_dir:
        return Path(os.path.abspath(config.data_dir)).stem or config.data
    return Path(config.data).stem


class RunFolder:
    """Reads and writes one run folder. Create it with :meth:`create`; reopen it with :meth:`open`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.history: list[dict[str, Any]] = []
        self._tensorboard = None
        self._lock: int | None = None  # the open lock file, while this process writes the folder
        self._damaged_latest = False  # the latest checkpoint is one a resume fell back from
        self.made_out: Path | None = None  # the outermost folder that create() made for ``out``, if it made one

    @classmethod
    def create(cls, config: Config) -> RunFolder:
        """Make a new folder for ``config`` and write its resolved config.

        A name given by the user must be free (a run is never overwritten); the default name
        ``<algorithm>-<data>`` (the data's file or folder name, that of ``data_dir`` for data ``folder`` and
        ``array``) gets a number when taken. The folders made for ``out`` (``made_out``, the outermost) go with
        the run folder where it is discarded, if nothing else was put in them.
        """
        out = Path(config.out)
        stem = config.name or f"{config.algorithm}-{_data_name(config)}"
        path, number = out / stem, 1
        try:
            made_out = _outermost_missing(out)
            if out.is_file():
                raise WganError(f"out '{out}' is a file: choose a folder for the run folders (--out)")
            if out.is_symlink() and not out.exists():
                raise WganError(f"out '{out}' is a link to '{os.readlink(out)}', which is not there: make that "
                                "folder, or choose another --out")
            out.mkdir(parents=True, exist_ok=True)
            while True:  # made, not looked for first: runs started at once in one out folder each get their own
                try:
                    path.mkdir()
                    break
                except FileNotFoundError:  # a run that failed meanwhile removed the out folder it made, left empty
                    out.mkdir(parents=True)
                except FileExistsError:
                    if config.name:
                        raise _name_taken(path) from None
                    number += 1
                    path = out / f"{stem}-{number}"
        except WganError:
            raise
        except (OSError, ValueError) as error:  # ValueError: a NUL character, which no path can hold
            why = reason(error) if isinstance(error, OSError) else str(error)
            raise WganError(f"cannot make the run folder '{path}' ({why}): choose an --out you can write to, and "
                            "a --name that a folder can have") from None
        folder = cls(path)
        folder.made_out = made_out
        try:
            folder.lock()
            folder.write_config(config)
        except BaseException as error:  # a full disk, a signal: the new folder holds nothing worth keeping
            folder.close()
            shutil.rmtree(path, ignore_errors=True)
            _remove_empty_folders(path.parent, made_out)
            if isinstance(error, OSError):
                raise WganError(f"cannot write the new run folder '{path}' ({reason(error)}): {remedy(error)}, "
                                "and try again") from None
            raise
        return folder

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        """Reopen an existing run folder (to resume, sample or evaluate) and read its metrics log."""
        if not isinstance(path, (str, os.PathLike)):
            raise WganError(f"a run folder is a path (str or pathlib.Path), not the {type(path).__name__} {path!r}: "
                            "give the folder that `wgan train` made")
        if not os.fspath(path).strip():
            raise WganError("the run folder's path is empty (an unset shell variable?): give the folder that "
                            "`wgan train` made")
        folder = cls(Path(path))
        if not folder.path.exists():
            raise WganError(f"'{path}' does not exist: give a run folder that `wgan train` made (check the path; "
                            f"relative paths start in {Path.cwd()})")
        if not (folder.path / CONFIG_FILE).is_file():
            inside = next((parent for parent in folder.path.parents if (parent / CONFIG_FILE).is_file()), None)
            hint = f"the run folder that holds it is '{inside}'" if inside else "give a folder that `wgan train` made"
            raise WganError(f"'{path}' is not a run folder (no {CONFIG_FILE}): {hint}")
        metrics = folder.path / METRICS_FILE
        if metrics.is_file():
            try:
                logged = metrics.read_bytes()
            except OSError as error:  # its permissions
                raise WganError(refused(error)) from None
            folder.history = parse_rows(logged.decode(errors="replace"), metrics)  # a bad byte: a bad line
        return folder

    def lock(self) -> None:
        """Hold the folder's lock until :meth:`close` (or this process's end), or say who holds it.

        An advisory ``flock`` on ``.lock``, which records the holder's process id and host: the kernel releases
        it when the holder exits, even when killed, so a lock left by a dead process is simply taken over. A
        folder this process cannot write in (read-only, another user's) is one line: what takes the lock writes.
        """
        try:
            handle = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
        except OSError as error:
            raise WganError(f"run folder '{self.path}' cannot be written ({reason(error)}): "
                            + ("move aside what is in the place of its .lock" if error.errno in IN_THE_WAY else
                               "make it writable (chmod -R u+w), or copy it to a folder you can write in")) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            os.close(handle)
            raise WganError(f"run folder '{self.path}' is in use by {holder}: wait for it to finish, or stop it "
                            "first") from None
        os.ftruncate(handle, 0)
        os.write(handle, f"process {os.getpid()} on {socket.gethostname()}\n".encode())
        self._lock = handle
        self._remove_stale_temporary_files()

    def _remove_stale_temporary_files(self) -> None:
        """Remove the temporary files of :func:`atomic_write` left in the folder by a writer killed in the middle
        of a write: called with the lock held, so no writer of the run's own files is alive. Hidden folders are
        not entered, nor removed: ``wgan sample --out RUN/gen/`` stages its images in one
        (:func:`wgan.outputs.write_image_folder`), alive or not, and removes its own."""
        for folder, subfolders, files in os.walk(self.path):
            subfolders[:] = [name for name in subfolders if not name.startswith(".")]
            for name in files:
                if name.startswith(".") and name.endswith(".tmp"):
                    (Path(folder) / name).unlink(missing_ok=True)

    def in_use_by(self) -> str | None:
        """Who holds the folder's lock (a process training the run, as :meth:`lock` records it), or None: probed
        with a shared lock, given back at once."""
        try:
            handle = os.open(self.path / LOCK_FILE, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder(handle)
        finally:
            os.close(handle)  # which gives the probe's lock back
        return None

    def config(self, needs_data: bool = True) -> Config:
        """The run's settings (config.toml), checked as a new run's are. With ``needs_data`` (loading the run to
        evaluate or resume it), data that is no longer where they say is named as the run's first."""
        missing = self.missing_data() if needs_data else None
        if missing is not None:
            raise WganError(f"run '{self.path}' was trained on {missing[0]} '{missing[1]}', which is not there any "
                            "more: put it back there (the run's config.toml names it) to evaluate or resume the run")
        self._require_recorded_settings()
        try:
            return make_config(self.path / CONFIG_FILE)
        except WganError as error:
            if str(self.path / CONFIG_FILE) in str(error):
                raise
            raise WganError(f"{self.path / CONFIG_FILE}: {error} (the run's settings, edited since it was made?)") \
                from None

    def recorded_config(self) -> Config:
        """The settings as config.toml records them, resolved when they were written: each value's type checked,
        but nothing that reads the data, which may have moved (for sampling a run without its data)."""
        return typed(Config(**self._require_recorded_settings()))

    def _require_recorded_settings(self) -> dict[str, Any]:
        """config.toml's settings, which record the run's algorithm and data (every run writes them): one that
        lacks them was emptied or cut short, and read with the defaults it would build other networks."""
        settings = load_toml(self.path / CONFIG_FILE)
        lacking = [name for name in RECORDED if name not in settings]
        if lacking:
            raise WganError(f"{self.path / CONFIG_FILE} lacks {' and '.join(lacking)}, which every run records: it "
                            "was emptied or cut short; restore it (from a backup or the command that made the run)")
        return settings

    def missing_data(self) -> tuple[str, str] | None:
        """("data" or "data_dir", the path) of the run's data file or folder that is no longer where config.toml
        says, or None (a config.toml that does not read is left to :func:`make_config` to name). A data_dir that
        the data does not read (recorded by runs made before that was refused) is not looked for."""
        try:
            settings = load_toml(self.path / CONFIG_FILE)
        except WganError:
            return None
        data, data_dir = settings.get("data"), settings.get("data_dir")
        if not isinstance(data, str):
            return None
        if is_missing_path(data):
            return "data", data
        if isinstance(data_dir, str) and data_dir and reads_data_dir(data) and is_missing_path(data_dir):
            return "data_dir", data_dir
        return None

    def write_config(self, config: Config) -> None:
        """Record the settings the run continues with (a resume's new iterations, budget, decay window)."""
        atomic_write_bytes(self.path / CONFIG_FILE, to_toml(config).encode())

    @property
    def name(self) -> str:
        return self.path.name

    # Scalars -------------------------------------------------------------------------------------------------
    def log(self, iteration: int, scalars: dict[str, float]) -> None:
        """Append one row of named scalars to metrics.jsonl and TensorBoard."""
        row = {"iteration": iteration, **scalars}
        self.history.append(row)
        with open(self.path / METRICS_FILE, "a") as file:
            file.write(json.dumps(row) + "\n")
        writer = self._writer(iteration)
        for key, value in scalars.items():
            writer.add_scalar(key, value, iteration)

    def _writer(self, iteration: int):
        if self._tensorboard is None:
            from torch.utils.tensorboard import SummaryWriter  # slow import, only needed once logging starts

            # purge_step hides events a resumed run re-logs after its checkpoint
            self._tensorboard = SummaryWriter(str(self.path / "tensorboard"), purge_step=iteration)
        return self._tensorboard

    def rewind(self, iteration: int) -> None:
        """Drop what was logged after ``iteration`` (a resumed or rolled-back run logs it again): the rows of
        metrics.jsonl, TensorBoard's events (its writer is reopened to purge them) and the evaluations' figures,
        which would otherwise stay in samples/ and progress.gif where the run resumed from an earlier checkpoint
        (previous.pt) or evaluates at other iterations now."""
        drop_rows_after(self.history, iteration)
        text = "".join(json.dumps(row) + "\n" for row in self.history)
        atomic_write_bytes(self.path / METRICS_FILE, text.encode())
        self._close_tensorboard()
        for folder in (self.path / "samples", self.path / "samples" / "ema"):
            for number, figure in _numbered_figures(folder):
                if number > iteration:
                    figure.unlink(missing_ok=True)

    def _close_tensorboard(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None

    def close(self) -> None:
        """Close the TensorBoard writer and give the lock back."""
        self._close_tensorboard()
        if self._lock is not None:
            os.close(self._lock)  # closing the file releases its flock
            self._lock = None

    def resumable(self) -> bool:
        """Whether the folder holds a checkpoint a resume can start from (latest, or previous to fall back on)."""
        return resumable(self.path)

    def discard_if_unresumable(self) -> None:
        """Remove the folder, closing it first, when it holds no checkpoint (a new run that failed before its
        first one: nothing in it can be resumed)."""
        if not self.resumable():
            self.close()
            discard_if_unresumable(self.path, self.made_out)

    # Files ---------------------------------------------------------------------------------------------------
    def write_figure(self, relative: str, png: bytes) -> Path:
        return atomic_write_bytes(self.path / relative, png)

    def evaluation_figures(self) -> list[Path]:
        """The figures of the evaluations (``samples/iter_K.png``) in the order of K, which the names' order is
        not past K = 999,999 (``iter_1000000`` sorts before ``iter_999000``)."""
        return [figure for _, figure in sorted(_numbered_figures(self.path / "samples"))]

    def write_json(self, relative: str, value: Any) -> Path:
        return atomic_write_bytes(self.path / relative, (json.dumps(value, indent=1) + "\n").encode())

    def checkpoint_path(self, which: str) -> Path:
        return checkpoint_path(self.path, which)

    def save_checkpoint(self, state: dict[str, Any], which: str) -> Path:
        """Write checkpoint ``which`` (latest or best) atomically, with its checksum. The latest one it replaces
        becomes ``previous``, the fallback of a resume, once the new one is written: a write that fails or is
        killed leaves the latest as it was, and no moment but the one between two renames lacks a latest.

        The checkpoint is serialised in memory and then written, so that a file system that refuses the bytes (a
        full disk) raises its ``OSError``, which the caller reports in one line; ``torch.save`` writing into
        the file itself would turn it into a ``RuntimeError`` of its zip writer."""
        path = self.checkpoint_path(which)

        def keep_as_previous():
            if which == "latest" and path.is_file():
                os.replace(path, self._damaged_name() if self._damaged_latest else self.checkpoint_path("previous"))
                self._damaged_latest = False

        return atomic_write(path, lambda file: file.write(_serialised(checkpoints.pack(state))), keep_as_previous)

    def load_checkpoint(self, which: str = "latest", device: torch.device | str = "cpu") -> dict[str, Any]:
        path = self.checkpoint_path(which)
        if not path.is_file():
            other = "latest" if which == "best" else "best"
            training = None if self.checkpoint_path(other).is_file() else self.in_use_by()
            instead = (f"pick --checkpoint {other} (checkpoint='{other}' in Python)"
                       if self.checkpoint_path(other).is_file() else
                       f"nor a {other} one yet: {training} is training it and writes its first checkpoint at its "
                       "first evaluation; wait for that" if training else
                       f"nor a {other} one: put its checkpoints back in {path.parent}, or train the run again")
            raise WganError(f"run folder '{self.path}' has no {which} checkpoint ({path}): {instead}")
        try:
            return checkpoints.unpack(path, device)
        except WganError as damaged:  # best.pt, the default of eval and sample: latest.pt may serve instead
            if which != "best" or not self.checkpoint_path("latest").is_file():
                raise
            raise WganError(f"{damaged}; pick --checkpoint latest (checkpoint='latest' in Python)") from None

    def load_resumable(self) -> tuple[dict[str, Any], str | None]:
        """The latest checkpoint, or the previous one when the latest is missing or damaged: the state and a
        one-line warning when it fell back (None otherwise). A damaged latest is renamed ``latest-damaged.pt`` by
        the next checkpoint, which would otherwise make it ``previous`` in place of the state resumed from (a
        resume refused before then leaves it where it is); one the system will not open is not damaged, and is
        refused in one line."""
        if not self.resumable():
            if self.checkpoint_path("best").is_file():  # latest.pt and previous.pt moved or deleted
                raise WganError(f"run folder '{self.path}' has no latest or previous checkpoint to resume from, only "
                                f"best.pt: copy it to {self.checkpoint_path('latest')} to resume from the best "
                                "iteration (the rows logged after it are dropped)")
            evaluated = [row["iteration"] for row in self.history if any(key.startswith("eval/") for key in row)]
            if evaluated:  # each evaluation wrote a checkpoint: they were moved or deleted
                raise WganError(f"run folder '{self.path}' has no checkpoint in {self.checkpoint_path('latest').parent}"
                                f", though it was evaluated (and checkpointed) up to iteration {evaluated[-1]}: put "
                                "its checkpoints back there, or train it again under another --name")
            raise WganError(f"run folder '{self.path}' has no checkpoint yet: it stopped before its first "
                            "checkpoint was written (at its first evaluation), so there is nothing to resume; train "
                            "it again under another --name (or delete the folder)")
        latest = self.checkpoint_path("latest")
        if latest.is_file():
            checkpoints.require_readable(latest)
            try:
                return self.load_checkpoint("latest"), None
            except WganError as damaged:
                if not self.checkpoint_path("previous").is_file():
                    raise
                problem = str(damaged)
        else:
            problem = f"run folder '{self.path}' has no latest checkpoint ({latest})"
        try:
            state = self.load_checkpoint("previous")
        except WganError as previous_damaged:
            best = self.checkpoint_path("best")
            instead = (f"copy {best} to {latest} to resume from the best iteration (the rows logged after it are "
                       "dropped)" if best.is_file() else "train the run again under another --name")
            raise WganError(f"{problem}, and its fallback cannot serve: {previous_damaged}; {instead}") from None
        if latest.is_file():  # set aside by the next checkpoint, which would otherwise make it the fallback
            self._damaged_latest = True
            problem += f" (the next checkpoint keeps it as {self._damaged_name().name})"
        return state, f"{problem}; resuming from the previous checkpoint, iteration {state['iteration']}"

    def _damaged_name(self) -> Path:
        """Where a damaged latest checkpoint goes: ``latest-damaged.pt``, numbered beside earlier ones."""
        return _unused(self.checkpoint_path("latest").with_name(DAMAGED_LATEST))

    def checkpoint_iteration(self, which: str) -> int | None:
        """The iteration of checkpoint ``which``; None where there is none or it cannot be read (damaged, or
        refused by the system)."""
        try:
            return checkpoints.unpack(self.checkpoint_path(which))["iteration"]
        except (WganError, OSError):
            return None

    def set_aside_best(self) -> Path:
        """Rename best.pt to ``best-dropped.pt`` (numbered beside earlier ones), in one step: a best.pt that the
        run's history no longer holds (a resume dropped the rows of its iteration)."""
        best = self.checkpoint_path("best")
        dropped = _unused(best.with_name(DROPPED_BEST))
        os.replace(best, dropped)
        return dropped

    def copy_checkpoint(self, source: str, target: str) -> None:
        """Write checkpoint ``source``'s file as checkpoint ``target``, atomically."""
        atomic_write_bytes(self.checkpoint_path(target), self.checkpoint_path(source).read_bytes())


def _unused(first: Path) -> Path:
    """``first``, or where it is taken the first free one of ``first`` numbered from 2 (``latest-damaged-2.pt``)."""
    numbered = (first.with_stem(f"{first.stem}-{number}") for number in itertools.count(2))
    return next(path for path in itertools.chain([first], numbered) if not path.exists())


def _name_taken(path: Path) -> WganError:
    """Why a run cannot be made at ``path``, the folder of the name the user gave, which is there already."""
    if not path.is_dir():  # a file, a link to nothing
        return WganError(f"'{path}' is already there and is no run folder: choose another --name (or move it away)")
    if not (path / CONFIG_FILE).is_file():  # another start of this name, under way
        return WganError(f"'{path}' is a folder without a {CONFIG_FILE}: another run of this --name is starting, or "
                         "one failed to start, or it is no run's; choose another --name")
    return WganError(f"run folder '{path}' already exists: choose another --name, or continue it with `wgan train "
                     f"--resume {shlex.quote(str(path))}`")


def _holder(lock: int) -> str:
    """Who holds the lock whose file is open as ``lock``, as :meth:`RunFolder.lock` wrote it."""
    return os.read(lock, 200).decode(errors="replace").strip() or "another process"


def refuse_the_runs_own(folder: str | os.PathLike, out: str | os.PathLike) -> None:
    """Refuse ``out`` where it is one of the files the run in ``folder`` writes itself (its settings, records,
    figures, checkpoints), which samples written there would replace: `wgan sample --out
    RUN/samples/iter_000030.png` overwrote the evaluation figure that progress.gif is drawn from."""
    try:
        inside = Path(os.path.realpath(out)).relative_to(os.path.realpath(folder)).parts
    except ValueError:  # outside the run folder
        return
    if inside and (inside[0] in OWN_FOLDERS or len(inside) == 1 and inside[0] in OWN_FILES):
        raise WganError(f"out '{os.fspath(out)}' is among the files the run writes itself ({Path(*inside)}): "
                        f"samples there would replace it; give a name of your own, e.g. "
                        f"{Path(folder) / 'generated.npy'}")


def checkpoint_path(folder: Path, which: str) -> Path:
    """Where the run folder ``folder`` keeps checkpoint ``which`` (latest, previous, best)."""
    return folder / "checkpoints" / f"{which}.pt"


def resumable(folder: Path) -> bool:
    """Whether the run folder ``folder`` holds a checkpoint a resume can start from (latest, or previous to fall
    back on)."""
    return checkpoint_path(folder, "latest").is_file() or checkpoint_path(folder, "previous").is_file()


def discard_if_unresumable(folder: Path, made_out: Path | None = None) -> None:
    """Remove the run folder ``folder`` when it holds no checkpoint (a new run that failed before its first one:
    nothing in it can be resumed), by whoever knows it ended: its own process, or the launcher of its ranks; and
    the folders up to ``made_out`` that the run made for its ``out``, where they are left empty."""
    if not resumable(folder):
        shutil.rmtree(folder, ignore_errors=True)
        _remove_empty_folders(folder.parent, made_out)


def _outermost_missing(folder: Path) -> Path | None:
    """The outermost of ``folder`` and its parents that is not there (what ``mkdir(parents=True)`` makes first),
    or None where ``folder`` is."""
    missing = None
    for place in (folder, *folder.parents):
        if place.exists() or place.is_symlink():
            break
        missing = place
    return missing


def _remove_empty_folders(folder: Path, outermost: Path | None) -> None:
    """Remove ``folder`` and its parents up to ``outermost`` (one of them) while each is empty: a folder that
    anything else was put in (another run's folder) stays, and so do those around it."""
    if outermost is None or (outermost != folder and outermost not in folder.parents):
        return
    for place in (folder, *folder.parents):
        try:
            place.rmdir()
        except OSError:  # not empty, or not ours to remove
            return
        if place == outermost:
            return


def drop_rows_after(history: list[dict[str, Any]], iteration: int) -> None:
    """Drop the rows of ``history`` logged after ``iteration``, in place (the trainer and its run folder share
    the list)."""
    history[:] = [row for row in history if row["iteration"] <= iteration]


def json_value(line: str) -> Any:
    """The JSON value ``line`` holds, or None where it holds none (a line cut short, text)."""
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


def _numbered_figures(folder: Path) -> list[tuple[int, Path]]:
    """(K, path) of each evaluation figure ``iter_K.png`` in ``folder`` (K in ASCII digits: ``int`` refuses the
    superscripts that ``str.isdigit`` takes, in a stray ``iter_².png``)."""
    numbered = ((figure.stem[len(FIGURE_PREFIX):], figure) for figure in folder.glob(f"{FIGURE_PREFIX}*.png"))
    return [(int(number), figure) for number, figure in numbered if number.isascii() and number.isdigit()]


def parse_rows(text: str, log: Path, first_line: int = 1) -> list[dict[str, Any]]:
    """The rows of the metrics log ``log`` (or of its part from line ``first_line`` on); a last line cut short by
    a crash is left out. Every row is written with its newline, so a crash leaves a cut line without one: a line that
    ends with a newline and is not a row (a JSON object with its iteration) was written by something else, and
    is an error wherever it is."""
    lines = text.split("\n")
    rows = []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        row = json_value(line)
        if isinstance(row, dict) and isinstance(row.get("iteration"), int):
            rows.append(row)
        elif number < len(lines) - 1:
            raise WganError(f"{log} line {number + first_line} is not a row of the log (a JSON object with its "
                            "iteration): the run folder was edited by hand; restore the line or delete it")
    return rows
