"""The stop signals of a training process, and how each phase of a run answers them.

SIGTERM, SIGINT and SIGUSR1 are what a user's Ctrl-C and a scheduler about to preempt a job send. A run answers
them by phase, so that none ends the process half-way through what it writes:

- while it is built, each interrupts at once, as a Ctrl-C does (:func:`as_ctrl_c`): nothing is saved yet;
- while it trains, each asks for a stop at the end of the iteration, after its checkpoint
  (:meth:`wgan.trainer.Trainer.fit`), and a second SIGINT stops at once;
- once training has ended, while the run draws its figures, removes a new folder that an error left without a
  checkpoint, or waits for its other processes, each is let pass (:func:`let_pass`): the process ends within
  seconds anyway. Ended there by one, it lost the figures of a finished run for good, left a folder that nothing
  could resume, or cut off the other processes, which reported a lost contact.

:func:`let_pass` holds from the build to the end, under the handlers of the build and of training, so that a
signal never meets its default action between two phases: the agent of `wgan train --nproc` sends SIGTERM to
the other ranks as one fails, at the moment they find the failure themselves and leave training.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def let_pass() -> Iterator[None]:
    """Inside the block, the stop signals are let pass, a second SIGINT excepted, which interrupts at once (a
    user who insists)."""
    interrupts = 0

    def note(number: int, frame: Any) -> None:
        nonlocal interrupts
        if number == signal.SIGINT:
            interrupts += 1
            if interrupts > 1:
                raise KeyboardInterrupt

    with signals_handled(STOP_SIGNALS, note):
        yield
