"""How ``wgan`` ends: its exit statuses, and the files through which the ranks of `wgan train --nproc` tell its
launcher (:mod:`wgan.launcher`) how they ended and which run folder they wrote.

Statuses: 0 done; 1 a rank of a launch failed (the launcher's line names it); 2 a problem with the input, the
file system or memory, said in one line; 3 a rank that lost contact with another, which stopped first; 75 stopped
by a signal after saving (sysexits.h EX_TEMPFAIL: try again); 130 stopped at once by a Ctrl-C (a shell's status
for a process that SIGINT ends, 128 + 2); 141 the reader of the output gone (128 + SIGPIPE, as `head` leaves a
tool that SIGPIPE ends). A launch that a signal ended before its ranks could save returns 128 + the signal.

Imported by the entry point before torch is: nothing here imports more than the standard library.
"""

from __future__ import annotations

import os
import signal

EXIT_USER_ERROR = 2
EXIT_LOST_PEER = 3
EXIT_STOPPED = 75
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE

# The environment variables naming the files a launch reads once its ranks have ended: rank 0's exit status,
# and the run folder's path after a line saying whether this launch made it or resumed it
OUTCOME_FILE = "WGAN_OUTCOME_FILE"
RUN_FOLDER_FILE = "WGAN_RUN_FOLDER_FILE"
NEW_FOLDER, RESUMED_FOLDER = "new", "resumed"


def tell_launcher(variable: str, text: str) -> None:
    """Write ``text`` into the file that the environment's ``variable`` names for `wgan train --nproc`
    (:func:`wgan.launcher.launch`); nothing outside such a launch."""
    told = os.environ.get(variable)
    if told:
        try:
            with open(told + ".part", "w") as file:
                file.write(text)
            os.replace(told + ".part", told)  # whole or not at all: the launcher reads it after any end
        except OSError:  # the launcher has gone, and its folder with it: nobody is left to read it
            pass


def tell_launcher_the_run(folder: str | os.PathLike, new: bool, made_out: str | os.PathLike | None = None) -> None:
    """Tell the launcher the run folder's path, and whether this launch made it (``new``), so that its line after
    a failure names the folder to resume, or a new folder left without a checkpoint is removed, with the folders
    it made for its ``out`` from ``made_out`` (the outermost) where they are left empty."""
    made = f"\n{os.path.abspath(made_out)}" if made_out is not None else ""
    tell_launcher(RUN_FOLDER_FILE, f"{NEW_FOLDER if new else RESUMED_FOLDER}\n{os.path.abspath(folder)}{made}")
