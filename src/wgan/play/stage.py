"""The panels of one page of ``wgan play``, trained in turn by one thread, and the messages that report them.

One thread owns every panel of a page: it applies the page's commands between iterations (so no command ever
meets a half-taken step), then steps each running panel by one generator iteration in turn. Panels started
together with one seed therefore stay at the same iteration: GAN, WGAN and WGAN-GP side by side are compared at
equal training, and two panels never compete for the cores. Every :data:`FRAME_SECONDS` each panel that moved
sends a frame (:meth:`~wgan.play.panel.Panel.frame`).

A command that cannot be carried out (a setting out of range, a panel that does not exist) and a panel whose
training fails or diverges produce an ``error`` message for the page and a line in the server's log; the
thread and the other panels carry on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import Config
from ..errors import WganError
from .panel import Diverged, Panel

FRAME_SECONDS = 0.1  # a frame per panel at most every 0.1 s while it trains: after every step of the toy defaults
MAX_PANELS = 4  # panels per page
IDLE_WAIT_SECONDS = 0.5  # how long the thread sleeps on an empty command queue when nothing trains
THREAD_NAME = "wgan-play-stage"

log = logging.getLogger("wgan.play")


@dataclass(frozen=True)
class Command:
    """A checked command from the page: ``action`` on ``panel`` (``"*"``: every panel, for start, pause, step
    and reset), with the panel's resolved ``config`` for ``add`` and ``configure``."""

    action: str
    panel: str
    config: Config | None = None


ACTIONS = ("add", "configure", "start", "pause", "step", "reset", "remove")


class Stage:
    """The thread that trains a page's panels; ``publish(message)`` is called from it with every message for the
    page (a dict that JSON can carry). :meth:`submit` and :meth:`close` may be called from any thread."""

    def __init__(self, publish: Callable[[dict[str, Any]], None], frame_seconds: float = FRAME_SECONDS,
                 warn: Callable[[str], None] = log.warning):
        self.publish, self.frame_seconds, self.warn = publish, frame_seconds, warn
        self.panels: dict[str, Panel] = {}
        self.running: set[str] = set()
        self._commands: queue.SimpleQueue[Command | None] = queue.SimpleQueue()
        self._closing = threading.Event()  # set by close: the commands still queued are not carried out
        self._moved: set[str] = set()  # panels with a change not yet shown in a frame
        self._last_frame = 0.0
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def submit(self, command: Command) -> None:
        self._commands.put(command)

    def close(self, timeout: float = 30.0) -> None:
        """Stop after the current step and free every panel, leaving the commands still queued (a page that sent
        3000 steps and closed had them all trained first); wait for that up to ``timeout`` seconds (0: not at
        all, the thread ends on its own)."""
        self._closing.set()
        self._commands.put(None)  # wakes a thread waiting for a command
        if timeout:
            self.wait(timeout)

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the thread to end (after :meth:`close`)."""
        self._thread.join(timeout)

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    @property
    def alive(self) -> bool:
        """Whether the thread still runs: a closed page's stage until the step under way ends."""
        return self._thread.is_alive()

    # The thread ----------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._closing.is_set():
            try:  # every queued command is applied before the next step; with nothing to train, wait for one
                command = self._commands.get(block=not self.running, timeout=IDLE_WAIT_SECONDS)
            except queue.Empty:
                self._train_round()
                continue
            if command is None:
                break
            self._apply(command)
        self.panels.clear()

    def _train_round(self) -> None:
        """One iteration of each running panel, then the frames that are due."""
        for name in sorted(self.running):
            self._guarded(name, lambda name=name: self._step(name))
        if self._moved and time.perf_counter() - self._last_frame >= self.frame_seconds:
            self._frames()

    def _apply(self, command: Command) -> None:
        try:
            names = self._targets(command)
        except WganError as error:
            self._error(command.panel, str(error))
            return
        for name in names:
            self._guarded(name, lambda name=name: self._carry_out(command, name))
        self._frames()

    def _targets(self, command: Command) -> list[str]:
        if command.panel == "*":
            if command.action in ("add", "configure", "remove"):
                raise WganError(f"'{command.action}' needs one panel's name, not '*'")
            return sorted(self.panels)
        if command.action == "add":
            if command.panel in self.panels:
                raise WganError(f"panel {command.panel!r} exists already: send 'configure' to change it")
            if len(self.panels) >= MAX_PANELS:
                raise WganError(f"a page holds at most {MAX_PANELS} panels: remove one first")
        elif command.panel not in self.panels:
            raise WganError(f"there is no panel {command.panel!r}: send 'add' first")
        return [command.panel]

    def _carry_out(self, command: Command, name: str) -> None:
        action = command.action
        if action in ("add", "configure", "reset"):
            self.panels[name] = Panel(command.config or self.panels[name].config)  # kept if that fails
            if action == "add":
                self.running.discard(name)
        elif action == "remove":
            del self.panels[name]
            self.running.discard(name)
            self._moved.discard(name)
            self.publish({"type": "removed", "panel": name})
            return
        elif action in ("step", "start") and self.panels[name].finished:
            self.running.discard(name)
            self._state(name, _finished(self.panels[name]))
            return
        elif action == "step":
            self.running.discard(name)
            self._step(name)
        elif action == "start":
            self.running.add(name)
        elif action == "pause":
            self.running.discard(name)
        self._state(name)

    def _step(self, name: str) -> None:
        panel = self.panels[name]
        panel.step()
        self._moved.add(name)
        if panel.finished and name in self.running:
            self.running.discard(name)
            self._state(name, _finished(panel))

    def _frames(self) -> None:
        for name in sorted(self._moved & set(self.panels)):
            self._guarded(name, lambda name=name: self.publish({"type": "frame", "panel": name,
                                                                **self.panels[name].frame()}))
        self._moved.clear()
        self._last_frame = time.perf_counter()

    def _state(self, name: str, note: str = "") -> None:
        """The panel's settings and whether it trains, after any change to either (a new panel, a reset)."""
        panel = self.panels[name]
        self._moved.add(name)
        self.publish({"type": "panel", "panel": name, "running": name in self.running,
                      "iteration": panel.iteration, "note": note, **panel.describe()})

    def _guarded(self, name: str, work: Callable[[], None]) -> None:
        """Run ``work`` for panel ``name``; a failure stops that panel alone and is reported."""
        try:
            work()
        except (WganError, Diverged) as problem:
            self.running.discard(name)
            self._error(name, str(problem))
        except Exception as failure:  # a bug or an exhausted machine: keep the page and the other panels going
            log.exception("panel %r failed", name)
            self.running.discard(name)
            self._error(name, f"training stopped: {type(failure).__name__}: {failure}")

    def _error(self, name: str | None, message: str) -> None:
        self.warn(f"panel {name!r}: {message}")
        self.publish({"type": "error", "panel": name, "message": " ".join(message.split()),
                      "running": name in self.running})


def _finished(panel: Panel) -> str:
    return (f"finished its {panel.iteration} iterations: Reset to watch it again, or give more iterations (the "
            "panel starts over with them)")


def stepping() -> bool:
    """Whether a page's thread is still training somewhere in this process (a step, which cannot be cut short)."""
    return any(thread.name == THREAD_NAME and thread.is_alive() for thread in threading.enumerate())
