"""The process's malloc keeps what a training step frees, and gives it back to the caller of the Python API
(wgan.allocator)."""

import ctypes
import platform
import subprocess
import sys
from pathlib import Path

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


BLOCK = 4 * 2**20  # bytes: from the heap, not mmap, with the thresholds set (under 32 MiB)
FREED_BY_A_STEP = """
import sys, torch
sys.path.insert(0, {tests!r})
from test_allocator import BLOCK, _free_bytes_kept
from wgan.allocator import keep_freed_memory
{setting}
blocks = [torch.empty(BLOCK // 4).fill_(1.0) for _ in range(8)]
before = _free_bytes_kept()
del blocks
print(_free_bytes_kept() - before)
"""


def _kept_of_eight_freed_blocks(setting: str) -> int:
    script = FREED_BY_A_STEP.format(tests=str(Path(__file__).parent), setting=setting)
    return int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)


def test_blocks_a_step_frees_stay_in_the_heap_for_the_next_step():
    # glibc's defaults hand all but the trim threshold (128 KiB) of the freed top back to the OS. A process of its
    # own: in a test process another thread's allocations, or an API call's release as it returns, between the
    # two readings took 8 MB of the 32 in one CI run; the heap's own small allocations may take a few hundred bytes
    if not ON_GLIBC:
        return
    assert _kept_of_eight_freed_blocks("keep_freed_memory()") >= 8 * BLOCK - 2**16
    assert _kept_of_eight_freed_blocks("") < BLOCK  # glibc's defaults: handed back


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
