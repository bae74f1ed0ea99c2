"""Following a run folder that a ``wgan train`` elsewhere is writing, for ``wgan watch``.

The trainer appends one JSON row per log point to ``metrics.jsonl`` and writes a figure per evaluation under
``samples/`` (:mod:`wgan.runs`), each file atomically. The follower reads only what was appended since its last
look, whole lines only (a line being written is left for the next look), and starts over when the log got
shorter: a resumed or rolled-back run rewinds it to its checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import WganError, refused
from ..runs import CONFIG_FILE, METRICS_FILE, RunFolder, parse_rows

FIGURE_SUFFIXES = (".png", ".gif")  # the files of a run folder a page may ask for


class RunFollower:
    """What a run folder at ``path`` gains over time; :class:`WganError` if it is not a run folder."""

    def __init__(self, path: str | Path):
        self.folder = RunFolder.open(path)
        self.folder.config(needs_data=False)  # a config.toml that does not read: a user error before anything is served
        self.path = self.folder.path.resolve()
        self._offset = self._lines = 0  # bytes and lines of the log read so far
        self._file = None  # (device, inode) of the log read so far: a rewind writes a new file in its place

    def describe(self) -> dict[str, Any]:
        """The run's name and the settings a reader of its curves needs."""
        config = self.folder.config(needs_data=False)
        return {"name": self.folder.name, "algorithm": config.algorithm, "data": Path(config.data).name,
                "iterations": config.iterations, "eval_every": config.eval_every}

    def new_rows(self) -> tuple[list[dict[str, Any]], bool]:
        """The rows appended since the last call, and whether the log started over (then: all its rows); a
        :class:`WganError` once the folder is gone or its log cannot be read."""
        if not (self.path / CONFIG_FILE).is_file():
            raise WganError(f"the run folder '{self.path}' is gone (deleted or moved): nothing more to follow")
        metrics = self.path / METRICS_FILE
        try:
            with open(metrics, "rb") as file:  # one file throughout, should it be replaced meanwhile
                status = os.fstat(file.fileno())
                replaced = self._file is not None and (status.st_dev, status.st_ino) != self._file
                restarted = status.st_size < self._offset or (replaced and self._offset > 0)
                self._file = status.st_dev, status.st_ino
                if restarted:
                    self._offset = self._lines = 0
                file.seek(self._offset)
                appended = file.read(status.st_size - self._offset)
        except (FileNotFoundError, IsADirectoryError):  # no log yet (or a folder in its place): nothing logged
            restarted, appended = self._offset > 0, b""
            self._offset = self._lines = 0
        except OSError as error:  # unreadable, a link to itself: the page is told, the server goes on
            raise WganError(refused(error)) from None
        complete = appended[:appended.rfind(b"\n") + 1]
        rows = parse_rows(complete.decode(errors="replace"), metrics, first_line=self._lines + 1)
        self._offset, self._lines = self._offset + len(complete), self._lines + complete.count(b"\n")
        return rows, restarted

    def latest_figure(self) -> str | None:
        """The newest evaluation figure, relative to the folder (``samples/iter_000500.png``), or None yet."""
        figures = self.folder.evaluation_figures()
        return figures[-1].relative_to(self.folder.path).as_posix() if figures else None

    def file(self, relative: str) -> Path:
        """The figure ``relative`` names inside the run folder; :class:`WganError` for anything else (a path
        that leaves the folder, another kind of file, a file that is not there)."""
        try:
            candidate = (self.path / relative).resolve()
            found = candidate.is_relative_to(self.path) and candidate.suffix in FIGURE_SUFFIXES \
                and candidate.is_file()
        except (ValueError, OSError):  # a null byte in the name, a name too long for the file system
            found = False
        if not found:
            raise WganError(f"'{relative[:200]}' is not a figure of run '{self.folder.name}'")
        return candidate
