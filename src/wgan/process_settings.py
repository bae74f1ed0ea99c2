"""What building a trainer changes in the whole process, and setting it back for the Python API's callers; and
the caller's modes that the API's calls do not take on.

On a GPU :func:`wgan.api._assemble` sets torch's float32 matmul precision and cuDNN's TF32 switch from
``config.tf32``; on the CPU the trainer sets glibc's malloc to keep the memory a step frees
(:mod:`wgan.allocator`). Both are the process's, and a script or notebook that calls ``wgan.train`` goes on
with its own work afterwards: :func:`leaves_the_process_as_it_was` sets them back as such a call returns. It
also runs the call in float32 with gradients, whatever the caller's default dtype (``torch.set_default_dtype``,
the process's: other threads see float32 while a call runs) and grad mode (``torch.no_grad``,
``torch.inference_mode``): the models are float32 (their checkpoints hold float32), and training differentiates.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import torch

from .allocator import release_freed_memory


def leaves_the_process_as_it_was(function: Callable) -> Callable:
    """``function`` (a call of the Python API that builds a trainer) with the process's settings that building
    one changes set back as it returns or raises: on a GPU torch's TF32 switches (``config.tf32``), as the caller
    had them; on the CPU glibc's malloc, which the trainer sets to keep the memory a step frees
    (:func:`~wgan.allocator.keep_freed_memory`) and which would go on keeping what the caller's own work frees,
    to the thresholds glibc starts with (:func:`~wgan.allocator.release_freed_memory`). The call runs with
    gradients on (:func:`_in_float32` for the default dtype)."""

    @functools.wraps(function)
    def setting_them_back(*args: Any, **kwargs: Any) -> Any:
        before, newer_before = _tf32_switches(), _newer_switches()
        try:
            with _in_float32(), torch.inference_mode(False), torch.enable_grad():
                return function(*args, **kwargs)
        finally:
            if before is not None and _tf32_switches() != before:  # a CUDA run set them
                torch.set_float32_matmul_precision(before[0])
                torch.backends.cudnn.allow_tf32 = before[1]
            if _newer_switches() != newer_before:  # the older switches rewrite the newer ones
                for path, value in newer_before.items():
                    setattr(_backend(path), "fp32_precision", value)
            release_freed_memory()

    return setting_them_back


_default_dtype_lock = threading.Lock()
_calls_in_float32 = 0  # the calls under _in_float32 in progress, in all threads
_callers_default_dtype = torch.float32  # the default dtype before the first of them


@contextlib.contextmanager
def _in_float32() -> Iterator[None]:
    """torch's default dtype float32 inside the block (the models and their checkpoints are float32), and the
    caller's set back once the last block in progress in any thread has ended: the default dtype is the
    process's, so that a caller's other threads see float32 meanwhile, and a block that set it back while
    another thread's was still training had that one fail with float64 noise against float32 weights."""
    global _calls_in_float32, _callers_default_dtype
    with _default_dtype_lock:
        if _calls_in_float32 == 0:
            _callers_default_dtype = torch.get_default_dtype()
            torch.set_default_dtype(torch.float32)
        _calls_in_float32 += 1
    try:
        yield
    finally:
        with _default_dtype_lock:
            _calls_in_float32 -= 1
            if _calls_in_float32 == 0:
                torch.set_default_dtype(_callers_default_dtype)


# The per-backend switches of torch's newer API (torch 2.9 on), parents before children: setting a parent's
# may set its children's.
NEWER_SWITCHES = ("", "cuda.matmul", "cudnn", "cudnn.conv", "cudnn.rnn", "mkldnn", "mkldnn.matmul", "mkldnn.conv",
                  "mkldnn.rnn")


def _backend(path: str) -> Any:
    """``torch.backends`` or the backend at ``path`` beneath it ("cudnn.conv")."""
    return functools.reduce(getattr, path.split(".") if path else [], torch.backends)


def _newer_switches() -> dict[str, str]:
    """The newer API's ``fp32_precision`` of each backend of :data:`NEWER_SWITCHES` that this torch has."""
    found = {}
    for path in NEWER_SWITCHES:
        try:
            found[path] = _backend(path).fp32_precision
        except AttributeError:  # an older torch
            continue
    return found


def _tf32_switches() -> tuple[str, bool] | None:
    """torch's float32 matmul precision and cuDNN's TF32 switch, as ``_assemble`` sets them on a GPU; None where
    the caller set torch's newer per-backend ``fp32_precision``, beside which the older switches cannot be read."""
    try:
        return torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    except RuntimeError:  # "a mix of the legacy and new APIs"
        return None
