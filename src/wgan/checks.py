"""Checks of the values a caller hands the library (numbers read as real arrays, seeds, on/off switches), and
of the memory they would take.

Each raises :class:`~wgan.errors.WganError` naming the argument, what it holds and what was expected, where numpy
or torch would warn and go on (complex numbers lose their imaginary part) or fail deep inside with a message about
their own internals.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import WganError

LARGEST_SEED = 2**62  # a seed plus the offsets added to it (evaluation, iteration) stays within torch's 64 bits
TORCH_SEEDS = 2**32  # torch's CPU generator (mt19937) keeps a seed's low 32 bits: 7 and 7 + 2**32 draw alike


def real_array(x: Any, name: str, *, keep_float32: bool = False) -> np.ndarray:
    """``x`` (array-like, or a tensor on any device) as a float64 numpy array, float32 kept as it is with
    ``keep_float32``; complex numbers, and what does not read as numbers, are refused."""
    if x is None:
        raise WganError(f"{name} is None; expected numbers: pass a numpy array or tensor")
    if isinstance(x, np.ma.MaskedArray):  # np.asarray would keep the masked values and drop the mask
        raise WganError(f"{name} is a masked array, whose mask the measures would ignore: pass {name}.compressed() "
                        "(the values not masked) or a filled array")
    if isinstance(x, torch.Tensor):
        if x.device.type == "meta":
            raise WganError(f"{name} is a meta tensor, which holds no values: pass a tensor with data")
        x = x.detach().cpu()
        x = x.to_dense() if x.layout != torch.strided else x  # a sparse tensor's values, zeros in place
        x = (x.float() if x.dtype == torch.bfloat16 else x).numpy()  # numpy has no bfloat16
    try:
        array = np.asarray(x)
    except (TypeError, ValueError, OverflowError) as error:  # OverflowError: an integer beyond float64
        raise WganError(f"{name} could not be read as numbers ({error}); pass a numpy array or tensor") from None
    if array.dtype.kind in "USO" and any(isinstance(item, (str, bytes)) for item in array.flat):
        raise WganError(f"{name} holds text; expected numbers: convert it first (np.asarray(..., dtype=float))")
    if np.iscomplexobj(array):
        raise WganError(f"{name} holds complex numbers; expected real ones: pass its real part (.real) or its "
                        "modulus (abs) if that is what is meant")
    if array.dtype.kind in "iu" and array.size and (array.max() > 2**53 or array.min() < -(2**53)):
        raise WganError(f"{name} holds integers beyond 2^53, which float64 cannot hold exactly (2^62 + 1 and 2^62 "
                        "would be one number): subtract a common offset first, or pass floats")
    if keep_float32 and array.dtype == np.float32:
        return array
    try:
        return array.astype(np.float64)
    except (TypeError, ValueError, OverflowError) as error:
        raise WganError(f"{name} could not be read as numbers ({error}); pass a numpy array or tensor") from None


def whole_number(value: Any, name: str, least: int, example: int) -> int:
    """``value`` as an int if it is a whole number (numpy's too, not a bool) of at least ``least``, else
    :class:`WganError` naming ``name`` with an ``example``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise WganError(f"{name} is {value!r}; expected a whole number of at least {least}, such as {example}")
    return int(value)


def check_seed(seed: Any, name: str = "seed") -> int:
    """``seed`` if it is a whole number no larger than :data:`LARGEST_SEED` either way, else :class:`WganError`
    naming ``name``. For numpy's generators, which tell apart all of these; see :func:`check_torch_seed`."""
    whole = _whole(seed)
    if whole is None or abs(whole) > LARGEST_SEED:
        raise WganError(f"{name} must be a whole number between -2**62 and 2**62, got {seed!r}")
    return whole


def check_torch_seed(seed: Any, name: str = "seed") -> int:
    """``seed`` if it is a whole number from 0 to ``2**32 - 1``, the seeds torch's CPU generator tells apart, else
    :class:`WganError` naming ``name``: it keeps a seed's low 32 bits, so a larger or a negative seed would
    silently draw the numbers of one of these."""
    whole = _whole(seed)
    if whole is None or not 0 <= whole < TORCH_SEEDS:
        raise WganError(f"{name} must be a whole number from 0 to 2**32 - 1 (torch's generator keeps 32 bits of a "
                        f"seed: any other would draw the numbers of one of these), got {seed!r}")
    return whole


def _whole(seed: Any) -> int | None:
    """``seed`` as a Python int where it is a whole number (numpy's integers included, bools not), else None."""
    if isinstance(seed, np.integer):
        return int(seed)
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def numpy_seed(seed: Any, name: str = "seed") -> int:
    """A checked ``seed`` (:func:`check_seed`) as numpy's generators take it, which refuse negative numbers: its
    value modulo 2**64, the same number for every seed from 0 up."""
    return check_seed(seed, name) % 2**64


def check_fits_in_memory(bytes_needed: float, what: str, fix: str, device: torch.device | str = "cpu") -> None:
    """Refuse work whose arrays would take more than ``device``'s free memory (the host's available memory for
    the CPU), before numpy or torch asks for it: their allocators fail with a line about their own internals, or
    the kernel ends the process."""
    device = torch.device(device)
    free = free_memory(device)
    if bytes_needed > free:
        where = "this machine" if device.type == "cpu" else str(device)
        raise WganError(f"{what} needs about {bytes_needed / 1e9:,.1f} GB and {where} has {free / 1e9:,.1f} GB "
                        f"free: {fix}")


def check_flag(value: Any, name: str, *, none: bool = False) -> bool | None:
    """``value`` if it is True or False (or None, with ``none``: the default it stands for), else
    :class:`WganError`: 0, "no" or "yes" would otherwise be taken for what Python's truth says."""
    if isinstance(value, (bool, np.bool_)) or (none and value is None):
        return None if value is None else bool(value)
    allowed = "True, False or None" if none else "True or False"
    raise WganError(f"{name} must be {allowed}, got {value!r}")


def free_memory(device: torch.device) -> int:
    """Bytes free on ``device``: the GPU's free memory, or the host's available memory (/proc/meminfo)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
