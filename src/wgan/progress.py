"""Progress of a training run: a live bar on a terminal, one plain line per log point anywhere else.

A batch job's output is a file, and a progress bar's carriage-return redraws (twice a second) fill it with
thousands of half-lines; there the run prints a line each time it logs, with the iteration, the critic's
estimate and the rate.
"""

from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm


class Progress:
    """Iterations done out of ``total``, shown as a tqdm bar when ``sys.stderr`` (where tqdm draws) is a
    terminal, else as plain lines on stdout at each :meth:`note`; nothing at all unless ``show``."""

    def __init__(self, total: int, done: int, name: str, show: bool = True):
        self.total, self.name = total, name
        self.live = show and sys.stderr.isatty()
        self.plain = show and not self.live
        self._bar = tqdm(total=total, initial=done, disable=not self.live, unit="it", desc=name,
                         dynamic_ncols=True, mininterval=0.5)
        self._since = (done, time.perf_counter())  # for the plain lines' rate

    def update(self) -> None:
        """One more iteration done."""
        self._bar.update()

    def restart(self, done: int) -> None:
        """Show ``done`` iterations again (after a rollback)."""
        self._bar.reset(total=self.total)
        self._bar.update(done)
        self._since = (done, time.perf_counter())

    def note(self, iteration: int, text: str) -> None:
        """What the last log point said: beside the bar, or as a line of its own with the rate since the last."""
        self._bar.set_postfix_str(text)
        if self.plain:
            before, then = self._since
            now = time.perf_counter()
            rate = (iteration - before) / (now - then) if now > then else 0.0
            self._since = (iteration, now)
            print(f"{self.name}: iteration {iteration}/{self.total} | {text} | {rate:.2f} it/s", flush=True)

    def close(self) -> None:
        self._bar.close()
