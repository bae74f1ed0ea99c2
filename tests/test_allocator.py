"""The process's malloc keeps what a training step frees, and gives it back to the caller of the Python API
(wgan.allocator)."""

import ctypes
import platform
import subprocess
import sys

import torch

from wgan import allocator
from wgan.allocator import keep_freed_memory

ON_GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


class MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (malloc.h): the main arena's statistics."""

    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                       "fsmblks", "uordblks", "fordblks", "keepcost")]


def _free_bytes_kept() -> int:
    """Bytes the heap holds free (``fordblks``), ready for the next allocation without new pages."""
    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = MallInfo2
    return mallinfo2().fordblks


def test_glibc_is_set_to_keep_freed_memory_and_other_c_libraries_are_left_alone():
    assert keep_freed_memory() is ON_GLIBC


def test_blocks_a_step_frees_stay_in_the_heap_for_the_next_step():
    keep_freed_memory()
    if not ON_GLIBC:
        return
    block = 4 * 2**20  # bytes
    blocks = [torch.empty(block // 4).fill_(1.0) for _ in range(8)]  # from the heap, not mmap: under 32 MiB
    kept_before = _free_bytes_kept()
    del blocks
    # glibc's defaults would hand all but the trim threshold (128 KiB) of the freed top back to the OS; the heap's
    # own small allocations between the two readings may take a few hundred bytes of it (720 in one CI run)
    assert _free_bytes_kept() - kept_before >= 8 * block - 2**16


CALLER_AFTER_TRAINING = """
import numpy as np, wgan

def resident_megabytes():
    return int(next(line for line in open("/proc/self/status") if line.startswith("VmRSS")).split()[1]) // 1024

wgan.train(iterations=1, width=8, depth=1, batch_size=16, eval_samples=50, write=False, progress=False)
before = resident_megabytes()
arrays = [np.ones(20 * 2**20 // 8) for _ in range(15)]
del arrays
print(resident_megabytes() - before)
"""


def test_the_python_api_gives_the_callers_freed_memory_back_to_the_os():
    # wgan.train, wgan.load_run... left malloc keeping up to 1 GiB: 40 arrays of 20 MB the caller freed afterwards
    # stayed in the process (800 MB). A process of its own: what the test process's earlier tests freed moves
    # glibc's own thresholds
    if not ON_GLIBC:
        return
    kept = subprocess.run([sys.executable, "-c", CALLER_AFTER_TRAINING], capture_output=True, text=True, check=True)
    assert int(kept.stdout) < 150  # megabytes: 300 kept before


def test_malloc_is_set_back_once_and_only_where_wgan_set_it():
    # setting glibc's mmap threshold back by hand turns off the one glibc moves itself: a GPU run, whose trainer
    # never set malloc, left the caller's process faulting more pages than before it trained
    allocator.release_freed_memory()  # whatever ran before
    assert allocator.release_freed_memory() is False  # nothing set, nothing touched
    keep_freed_memory()
    assert allocator.release_freed_memory() is ON_GLIBC
