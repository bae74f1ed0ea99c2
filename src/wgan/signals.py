"""The stop signals of a training process, and how each phase of a run answers them.

SIGTERM, SIGINT and SIGUSR1 are what a user's Ctrl-C and a scheduler about to preempt a job send. A run answers
them by phase, so that none ends the process half-way through what it writes:

- while it is built, each interrupts at once, as a Ctrl-C does (:func:`as_ctrl_c`): nothing is saved yet;
- while it trains, each asks for a stop at the end of the iteration, after its checkpoint
  (:meth:`wgan.trainer.Trainer.fit`), and a second SIGINT stops at once;
- once training has ended, while the run draws its figures, removes a new folder that an error left without a
  checkpoint, or waits for its other processes, each is let pass (:func:`let_pass`) and handed on once that is
  done. Ended there by one, a process lost the figures of a finished run for good, left a folder that nothing
  could resume, or cut off the other processes, which reported a lost contact.

In :func:`wgan.train` and :func:`wgan.resume`, :func:`let_pass` holds from the build to the end, under the
handlers of the build and of training, so that a signal never meets its default action between two phases: the
agent of `wgan train --nproc` sends SIGTERM to the other ranks as one fails, at the moment they find the failure
themselves and leave training.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


@contextmanager
def signals_handled(numbers: tuple[int, ...], handler: Callable[[int, Any], None]) -> Iterator[None]:
    """``handler`` for the signals ``numbers`` inside the block, the handlers before it restored after; in a
    thread other than the main one, where Python cannot set handlers, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, handler) for number in numbers}
    try:
        yield
    finally:
        for number, before in previous.items():
            signal.signal(number, before)


def as_ctrl_c(number: int, frame: Any) -> None:
    """A stop signal taken as a Ctrl-C: KeyboardInterrupt, which the commands end on with one line (and a new
    run's folder, without a checkpoint yet, removed)."""
    raise KeyboardInterrupt


# Whether a stop signal let pass is raised again once its block has ended, for the caller: a script's loop over
# runs, its own handler, `wgan experiment`. Not inside :func:`not_handed_on`.
hand_on = True


@contextmanager
def not_handed_on() -> Iterator[None]:
    """Inside the block, a stop signal let pass is not handed on: for the `wgan train` command, which ends the
    process once training returns (the run has finished as it would have, and exits 0)."""
    global hand_on
    before, hand_on = hand_on, False
    try:
        yield
    finally:
        hand_on = before


@dataclass
class Passed:
    """What a :func:`let_pass` block let pass: the first stop signal, and the SIGINTs (one that asked training to
    stop counts, added by the caller: a second Ctrl-C interrupts at once, whichever phase it comes in)."""

    first: int | None = None
    interrupts: int = 0


@contextmanager
def let_pass() -> Iterator[Passed]:
    """Inside the block, the stop signals are let pass, a second SIGINT excepted, which interrupts at once (a
    user who insists). The first one let pass is raised again as the block ends without an error, under the
    handlers from before it, where :data:`hand_on`."""
    passed = Passed()

    def note(number: int, frame: Any) -> None:
        if number == signal.SIGINT:
            passed.interrupts += 1
            if passed.interrupts > 1:
                raise KeyboardInterrupt
        passed.first = passed.first or number

    with signals_handled(STOP_SIGNALS, note):
        yield passed
    if passed.first is not None and hand_on:
        signal.raise_signal(passed.first)
