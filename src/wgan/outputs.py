"""Samples of a trained run as files a user opens: the array, an image grid, a folder of images, a latent
interpolation strip, a scatter of points (their first two coordinates) or histograms of 1-D ones. ``wgan sample``
picks one by the form of ``--out``.

Pure functions over arrays and a generator module: the CLI and Python callers hand in what they sampled. Every
output is written atomically, a folder included (its files go into a hidden sibling folder that is renamed into
place in one step), so a failed write leaves nothing behind.

Images are generator outputs in [-1, 1] (tanh), mapped to 0..255 by :func:`wgan.plots.unit_pixels`. A grid or a
strip is a plain PNG at the images' own resolution with 1-pixel white lines between them: no title, margins or
resampling, so that it goes into a paper or a slide as the generator made it.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import uuid
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import plots
from .config import Config
from .data import build_sampler, is_missing_path
from .errors import WganError
from .metrics import evaluation_mode
from .runs import atomic_write, atomic_write_bytes

FORMS = "a .npy file (the array), a .png file (a grid of images, an interpolation strip, a scatter of points " \
        "(their first two coordinates) or histograms of 1-D ones) or a folder ending in / (one PNG per image)"


def output_form(out: str | os.PathLike) -> str:
    """"array" (.npy), "png" (.png) or "folder" (a path ending in a slash, or an existing folder)."""
    text = os.fspath(out) if isinstance(out, (str, os.PathLike)) else None
    if not isinstance(text, str):  # (a path object may give bytes)
        raise WganError(f"out is a path (str or pathlib.Path), not the {type(out).__name__} {out!r}: give {FORMS}")
    if text.endswith(("/", os.sep)) or Path(text).is_dir():
        return "folder"
    forms = {".npy": "array", ".png": "png"}
    suffix = Path(text).suffix.lower()
    if suffix not in forms:
        raise WganError(f"output '{text}' has no known form: give {FORMS}")
    return forms[suffix]


def write_samples(samples: np.ndarray, out: str | os.PathLike, config: Config, seed: int = 0, title: str = "") -> str:
    """Write ``samples`` (n, *shape) in the form ``out`` names (:func:`output_form`) and say what was written.

    Images (n, C, H, W) go to any form; points (n, d) to an array or a scatter beside ``n`` real points of the
    run's data (``config``), drawn with ``seed`` (of their first two coordinates where d > 2), and 1-D points
    (n, 1) likewise to a histogram of each (:func:`wgan.plots.point_scatter`, headed by ``title``); not to a folder.
    """
    form = output_form(out)
    if form == "array":
        atomic_write(out, lambda file: np.save(file, samples))
        return f"an array of shape {samples.shape}"
    if samples.ndim == 4:
        if form == "folder":
            write_image_folder(samples, out)
            return f"{_images(len(samples))} of {_size(samples)} as PNG files"
        grid = write_grid(samples, out)
        return f"a grid of {_images(len(samples))} of {_size(samples)} ({grid.shape[1]} x {grid.shape[0]} pixels)"
    figure = "histogram" if samples.shape[1] == 1 else "scatter"
    if form == "png":
        real = real_points(config, len(samples), seed)
        if real.shape[1:] != samples.shape[1:]:
            raise WganError(f"a .png of points draws the run's data beside them, and its data '{config.data}' now "
                            f"holds points of {real.shape[1]} coordinates where the run generates {samples.shape[1]}: "
                            "it changed since the run trained; write the samples to a .npy file, or put the data back")
        atomic_write_bytes(out, plots.point_scatter(real, samples, title))
        return f"a {figure} of {len(samples):,} generated point{'s' * (len(samples) != 1)} beside as many of the data"
    raise WganError(f"output '{os.fspath(out)}' is for images; this run's samples are points of shape "
                    f"{samples.shape[1:]}: write them to a .npy file or a .png {figure}")


def _images(count: int) -> str:
    """'1 image', '64 images'."""
    return f"{count} image{'s' if count != 1 else ''}"


def _size(images: np.ndarray) -> str:
    """'16 x 16 grey' or '32 x 32 RGB' for images (n, C, H, W)."""
    return f"{images.shape[3]} x {images.shape[2]} {'grey' if images.shape[1] == 1 else 'RGB'}"


def write_grid(images: np.ndarray, path: str | os.PathLike, columns: int | None = None) -> np.ndarray:
    """Write (k, C, H, W) images in [-1, 1] to ``path`` as one PNG grid (:func:`wgan.plots.image_grid`, ``columns``
    wide, by default ceil(sqrt(k))) and return the grid's (height, width, C) pixels in [0, 1]."""
    grid = plots.image_grid(images, columns)
    atomic_write_bytes(path, plots.image_png(grid))
    return grid


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's; a number no process has is not one of ours
        return True
    return True


def write_image_folder(images: np.ndarray, folder: str | os.PathLike) -> Path:
    """Write each of (n, C, H, W) images in [-1, 1] as ``folder/000000.png``, ... at its own resolution.

    ``folder`` must be new or empty: the files are written into a hidden sibling folder that then replaces it
    in one rename, so that on any failure (a full disk, Ctrl-C) the sibling is removed and ``folder`` is as it
    was. A folder that holds files is refused rather than replaced: it may be anything of the user's. The
    sibling's name holds its writer's host and process id: one left by a process of this host since killed
    outright (which removes nothing) is removed by the next write to ``folder``.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise WganError(f"output '{folder}/' is a file, not a folder: give a new or empty folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise WganError(f"output folder '{folder}' holds files already: give a new or empty folder (the images "
                        "are written as 000000.png, 000001.png, ...)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())
    ours = re.compile(rf"\.{re.escape(folder.name)}\.{re.escape(host)}-([0-9]+)\.[0-9a-f]{{8}}\.tmp")
    for stale in folder.parent.glob(f".{glob.escape(folder.name)}.*.tmp"):
        writer = ours.fullmatch(stale.name)
        if writer is not None and not _alive(int(writer.group(1))):
            shutil.rmtree(stale, ignore_errors=True)
    staging = folder.parent / f".{folder.name}.{host}-{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    staging.mkdir()  # with the usual permissions (the umask's), which the renamed folder keeps
    try:
        for index, pixels in enumerate(plots.unit_pixels(images)):
            atomic_write_bytes(staging / f"{index:06d}.png", plots.image_png(pixels))
        os.replace(staging, folder)  # over an empty folder too
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def real_points(config: Config, n: int, seed: int = 0) -> np.ndarray:
    """``n`` points of the run's data (``config.data``), drawn on the host with ``seed``."""
    if is_missing_path(config.data):
        raise WganError(f"a .png of points draws the run's data beside them, and its data '{config.data}' is not "
                        "where its config.toml says: write the samples to a .npy file, or put the data back")
    sampler = build_sampler(config.data, "cpu", config.data_dir, config.image_size)
    return sampler.sample(n, torch.Generator().manual_seed(seed)).numpy()


def slerp(start: torch.Tensor, end: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of ``start`` and ``end`` (r, d) at fractions ``t`` (s,): (r, s, d).

    slerp(a, b, t) = sin((1 - t) w) / sin w * a + sin(t w) / sin w * b, with w the angle between a and b.
    Between two draws of a d-dimensional standard normal it keeps the norm near sqrt(d), where the generator's
    training noise lies; a straight line passes through norms near sqrt(d / 2), which the generator never saw
    (White 2016, "Sampling Generative Networks", arXiv:1609.04468). Its ends are exactly ``start`` and ``end``.
    Rows of (nearly) parallel vectors, where w is 0, are interpolated linearly.
    """
    cosine = torch.nn.functional.cosine_similarity(start, end, dim=1).clamp(-1, 1)
    angle = torch.arccos(cosine)[:, None, None]  # (r, 1, 1) against t as (1, s, 1)
    t = t[None, :, None]
    sine = torch.sin(angle)
    parallel = sine < 1e-6
    safe = torch.where(parallel, torch.ones_like(sine), sine)
    weight_start = torch.where(parallel, 1 - t, torch.sin((1 - t) * angle) / safe)
    weight_end = torch.where(parallel, t, torch.sin(t * angle) / safe)
    return weight_start * start[:, None] + weight_end * end[:, None]


def interpolation_noise(latent_dim: int, rows: int, seed: int, device: torch.device | str = "cpu"
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """The ends of ``rows`` interpolations: (rows, latent_dim) starts and ends, drawn as 2 * rows standard normal
    vectors from ``seed`` on the CPU and moved to ``device`` (row r runs from vector 2r to 2r + 1), the noise
    ``Run.sample(2 * rows, seed)`` uses."""
    noise = torch.randn(2 * rows, latent_dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)
    noise = noise.to(device)
    return noise[0::2], noise[1::2]


def interpolation_strip(generator: nn.Module, latent_dim: int, rows: int, steps: int, seed: int = 0
                        ) -> np.ndarray:
    """The generator's outputs along ``rows`` spherical interpolations (:func:`slerp`) of ``steps`` points each
    between two noise vectors (:func:`interpolation_noise`), ends included: (rows, steps, *sample_shape)."""
    if steps < 2:
        raise WganError(f"an interpolation needs at least 2 images (its two ends), got {steps}: give --interpolate 2 "
                        "or more")
    device = next(generator.parameters()).device
    start, end = interpolation_noise(latent_dim, rows, seed, device)
    noise = slerp(start, end, torch.linspace(0, 1, steps, device=device))
    with evaluation_mode(generator), torch.no_grad():
        images = generator(noise.reshape(rows * steps, latent_dim)).float().cpu().numpy()
    return images.reshape(rows, steps, *images.shape[1:])


def write_interpolation(generator: nn.Module, latent_dim: int, out: str | os.PathLike, rows: int, steps: int,
                        seed: int = 0) -> str:
    """Write :func:`interpolation_strip` to the PNG ``out``, one interpolation a row; say what was written."""
    if output_form(out) != "png":
        raise WganError(f"an interpolation strip is a PNG image: give a .png file, not '{os.fspath(out)}'")
    strip = interpolation_strip(generator, latent_dim, rows, steps, seed)
    if strip.ndim != 5:
        raise WganError(f"interpolation strips are for image runs; this run's samples have shape "
                        f"{strip.shape[2:]}: draw samples to a .npy or .png file instead")
    write_grid(strip.reshape(rows * steps, *strip.shape[2:]), out, columns=steps)
    return f"{rows} interpolation{'s' if rows > 1 else ''} of {_images(steps)} of {_size(strip[0])}"
