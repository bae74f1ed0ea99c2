"""Keep the memory a training step frees for the next step, instead of handing it back to the OS.

A CPU training step allocates and frees the same tensors, a few hundred KiB to a few MiB each, at every step.
glibc's malloc, with its defaults, serves blocks above a moving threshold (128 KiB at first) with ``mmap`` and
returns the top of its heap to the OS once more than 128 KiB there are free; either way the next step gets
fresh pages, and the kernel zeroes and maps each one on its first touch. Measured on a 2-core Intel Xeon, one
process, per generator iteration: 4,000 page faults and 12 ms of system time in a 100 ms WGAN-GP toy iteration
(bf16), 27,000 faults and 73 ms in a 800 ms DCGAN 32 WGAN-GP one; with the thresholds below, under 100 faults
and about 1 ms. The price is that the heap keeps up to ``KEPT_FREE_BYTES`` it no longer uses: the Python API's
calls that build a trainer (``wgan.train``, ``resume``, ``load_run``, ``evaluate_run``) set the thresholds back
and hand the free heap back as they return (:func:`release_freed_memory`), so that the caller's own work does not
keep it.
"""

from __future__ import annotations

import ctypes
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h
MMAP_THRESHOLD_BYTES = 32 * 2**20  # blocks up to this size come from the heap (glibc's maximum on 64-bit)
KEPT_FREE_BYTES = 2**30  # free memory at the top of the heap kept before any is returned to the OS
GLIBC_DEFAULT_BYTES = 128 * 2**10  # glibc's initial mmap and trim thresholds (mallopt(3))


_kept = False  # whether keep_freed_memory set the thresholds, and release_freed_memory has not set one back


def _glibc() -> ctypes.CDLL | None:
    """The C library, where it is glibc (whose mallopt parameters these are); None elsewhere."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(None)


def keep_freed_memory() -> bool:
    """Set glibc's malloc to reuse freed blocks of up to 32 MiB and keep up to 1 GiB free; returns whether it
    could (False with another C library, where nothing changes). The setting is the whole process's."""
    global _kept
    libc = _glibc()
    if libc is None:
        return False
    _kept = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
                 and libc.mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES))
    return _kept


def release_freed_memory() -> bool:
    """Set glibc's thresholds back to the values it starts with (128 KiB each) where :func:`keep_freed_memory`
    raised them, and hand the heap's free memory back to the OS; returns whether it did. For the Python API's
    calls, which return to the caller's own work: with the thresholds left at 32 MiB and 1 GiB, arrays the
    caller frees later stay in the process (40 freed arrays of 20 MB kept 800 MB; with the trim threshold alone
    set back, 15 of them still kept 300 MB in a test process whose heap held other blocks above them). glibc
    moves its mmap threshold up by itself as large blocks are freed until a program sets it, and it has no way
    to start again: from the trainer's first setting on, blocks from 128 KiB up come from mmap each time (a 4 MB
    array allocated 2,000 times faults 6,001 pages where the moving threshold faulted 503). A process that never
    built a trainer on the CPU (a GPU run's) is left as it was."""
    global _kept
    libc = _glibc()
    if libc is None or not _kept:
        return False
    _kept = False
    reset = bool(libc.mallopt(M_MMAP_THRESHOLD, GLIBC_DEFAULT_BYTES)
                 and libc.mallopt(M_TRIM_THRESHOLD, GLIBC_DEFAULT_BYTES))
    libc.malloc_trim(0)
    return reset
