"""Other processes as Linux's /proc shows them: a launcher's ranks and which is rank 0, and whether a rank's
launcher is ending.

Each answer is "none" or "no" where there is no /proc (not Linux): the callers then do without.
"""

from __future__ import annotations

import os
from pathlib import Path

PF_EXITING = 0x4  # the kernel's flag of a process whose first thread has begun to exit (/proc/PID/stat's ninth field)


def _status(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command's name (state, parent, ..., flags at index 6), None where
    the process has gone or there is no /proc. (The name, in parentheses, may itself hold spaces and ")".)"""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def child_processes(parent: int) -> list[int]:
    """The ids of the processes whose parent is ``parent`` (the ranks of a launch)."""
    if not os.path.isdir("/proc"):
        return []
    return [int(entry.name) for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and (fields := _status(entry.name)) is not None and int(fields[1]) == parent]


def started_rank(pid: int) -> int | None:
    """The RANK that the process ``pid`` was started with (the environment it was started with, not what it set
    since), None where it has none or has gone."""
    try:
        variables = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    rank = next((variable[5:] for variable in variables if variable.startswith(b"RANK=")), b"")
    return int(rank) if rank.isdigit() else None


def parent_ending() -> bool:
    """Whether this process's parent has begun to end: its first thread exiting or gone (a zombie) while other
    threads of it may still run. Killed, torchrun's agent, which starts its ranks from its first thread, has
    Linux send them their parent-death signal as that thread ends, while its other threads may hold its store's
    socket open a while longer, listening but never answering again (37-48 ms in two kills of three on an idle
    2-core machine)."""
    fields = _status(os.getppid())
    return fields is not None and (fields[0] in ("Z", "X") or bool(int(fields[6]) & PF_EXITING))
