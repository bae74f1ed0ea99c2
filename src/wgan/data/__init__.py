"""Real data for training: a named data set or the user's own file, as a :class:`Sampler` on the device."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch

from wgan.data.points import POINT_FILE_SUFFIXES, load_points, points_sampler
from wgan.data.sampler import Modes, Sampler, TensorSampler
from wgan.data.toy import TOY_DATASETS, toy_sampler
from wgan.errors import WganError

# Every named data set: name -> factory(device). Other data modules (images) add their registries here.
DATASETS: dict[str, Callable[[torch.device | str], Sampler]] = {**TOY_DATASETS}
TOY_DATASET_NAMES = tuple(TOY_DATASETS)
DATASET_NAMES = tuple(DATASETS)


def build_sampler(data: str | os.PathLike, device: torch.device | str) -> Sampler:
    """The sampler for ``data``: a data set name (see ``DATASET_NAMES``) or the path of a .npy or .csv file.

    A name wins over a file of the same name in the working directory; write ``./name`` for the file.
    """
    data = os.fspath(data)
    if data in DATASETS:
        return DATASETS[data](device)
    if data.lower().endswith(POINT_FILE_SUFFIXES) or Path(data).is_file():
        return points_sampler(data, device)
    raise WganError(
        f"unknown data {data!r}: expected a data set name ({', '.join(DATASETS)}) "
        f"or the path of a file ending in {' or '.join(POINT_FILE_SUFFIXES)}"
    )


__all__ = [
    "DATASETS",
    "DATASET_NAMES",
    "POINT_FILE_SUFFIXES",
    "TOY_DATASETS",
    "TOY_DATASET_NAMES",
    "Modes",
    "Sampler",
    "TensorSampler",
    "build_sampler",
    "load_points",
    "points_sampler",
    "toy_sampler",
]
