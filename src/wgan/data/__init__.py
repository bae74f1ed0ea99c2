"""Real data for training: a named data set or the user's own file, as a :class:`Sampler` on the device."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from wgan.data.images import IMAGE_DATASETS, IMAGE_EXTENSIONS, ImageSampler, build_image_sampler, list_images, \
    npy_header
from wgan.data.points import POINT_FILE_SUFFIXES, load_points, points_sampler
from wgan.data.sampler import Modes, Sampler, TensorSampler
from wgan.data.toy import TOY_DATASETS, toy_sampler
from wgan.errors import WganError

# Every named point data set: name -> factory(device). Image sets are in data.images.IMAGE_DATASETS.
DATASETS: dict[str, Callable[[torch.device | str], Sampler]] = {**TOY_DATASETS}
TOY_DATASET_NAMES = tuple(TOY_DATASETS)
DATASET_NAMES = tuple(DATASETS) + tuple(IMAGE_DATASETS)


def build_sampler(data: str | os.PathLike, device: torch.device | str, data_dir: str | os.PathLike = "",
                  image_size: int | None = None, channels: int | None = None) -> Sampler:
    """The sampler for ``data``: a data set name (see ``DATASET_NAMES``), a .npy or .csv file of points, or
    image data (a folder of images, a .npz file or a .npy file of rank 3 or 4; see
    :func:`~wgan.data.images.build_image_sampler`, which reads named image sets from ``data_dir`` and resizes
    to ``image_size``, and matches a grey set to the ``channels`` a resumed or loaded run was built for).

    A name wins over a file of the same name in the working directory; write ``./name`` for the file.
    """
    data = os.fspath(data)
    if data in DATASETS:
        return DATASETS[data](device)
    if data_kind(data) == "images":
        return build_image_sampler(data, device, data_dir or None, image_size, channels=channels)
    if data.lower().endswith(POINT_FILE_SUFFIXES) or Path(data).is_file():
        return points_sampler(data, device)
    raise WganError(
        f"unknown data {data!r}: expected a data set name ({', '.join(DATASET_NAMES)}), a folder of images, "
        f"or the path of a file ending in {' or '.join(POINT_FILE_SUFFIXES)} or .npz"
    )


def reads_data_dir(data: str | os.PathLike) -> bool:
    """Whether ``data`` is read from ``data_dir``: a named image set of files (MNIST's, CIFAR-10's), or "folder" or
    "array" with data_dir as the folder or file; not points, digits (bundled) or a path, read where it is."""
    entry = IMAGE_DATASETS.get(os.fspath(data))
    return entry is not None and entry.needs_path


def is_missing_path(data: str | os.PathLike) -> bool:
    """Whether ``data`` is a path that is not there: no data set's name, and no file or folder of that name (a
    misspelt path, or a run's data moved since its config.toml was written)."""
    data = os.fspath(data)
    return data not in DATASET_NAMES and not Path(data).exists()


USERS_OWN = ("folder", "array")  # the image set names whose data_dir is the user's own folder or file


def users_own(data: str | os.PathLike, data_dir: str | os.PathLike = "") -> Path | None:
    """The user's own file or folder that the run reads: ``data`` itself, or ``data_dir`` for "folder" and
    "array"; None for a named data set (and for a path that is not there)."""
    data = os.fspath(data)
    if data in DATASET_NAMES and data not in USERS_OWN or data in USERS_OWN and not data_dir:
        return None  # a named set, or "folder" without its data_dir (not the working directory, Path("") reads)
    path = Path(data_dir if data in USERS_OWN else data)
    return path if path.exists() else None


def fingerprint(data: str | os.PathLike, data_dir: str | os.PathLike = "") -> str | None:
    """SHA-256 of the user's data behind ``data`` (see :func:`users_own`): a file's bytes, or a folder's images
    (their paths, sizes and modification times, in order: other files are not read); None for a named data set,
    whose content does not change, or a path that is not there. A resumed run compares it with the one its folder
    recorded at the start, to say when the data changed in between."""
    path = users_own(data, data_dir)
    if path is None:
        return None
    digest = hashlib.sha256()
    if path.is_file():
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(2**20), b""):
                digest.update(block)
    else:
        for image in list_images(path):
            status = image.stat()
            digest.update(f"{image.relative_to(path)}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def data_kind(data: str | os.PathLike) -> str:
    """"points" (toy sets, N x d files) or "images" (image set names, folders, .npz, .npy of rank 3 or 4).

    A .npy file is told apart by the rank its header declares, read without its data (so that a truncated file
    or one of objects goes to the loader of its kind, which names the problem); a file whose header cannot be read
    counts as points, whose loader then names the problem.
    """
    data = os.fspath(data)
    if data in DATASETS:
        return "points"
    path = Path(data)
    if data in IMAGE_DATASETS or path.is_dir() or path.suffix.lower() in IMAGE_EXTENSIONS | {".npz"}:
        return "images"  # a single image file among them, which the image loader refuses
    if path.suffix.lower() == ".npy" and path.is_file():
        try:
            with open(path, "rb") as file:
                header = npy_header(file)
            rank = len(header[0]) if header is not None else np.load(path, mmap_mode="r").ndim
        except Exception:  # any damage: the points loader reads it again and names the problem
            return "points"
        return "images" if rank >= 3 else "points"
    return "points"


__all__ = [
    "DATASETS",
    "DATASET_NAMES",
    "IMAGE_DATASETS",
    "ImageSampler",
    "build_image_sampler",
    "POINT_FILE_SUFFIXES",
    "TOY_DATASETS",
    "TOY_DATASET_NAMES",
    "Modes",
    "Sampler",
    "TensorSampler",
    "build_sampler",
    "data_kind",
    "fingerprint",
    "load_points",
    "points_sampler",
    "toy_sampler",
]
