"""Offline image datasets: decoded once into a uint8 ``(N, C, H, W)`` tensor, sampled by index on the device.

The loaders read the formats the WGAN experiments used, from files already on disk (nothing is downloaded):

- ``load_idx`` / ``load_mnist_dir``: MNIST and Fashion-MNIST IDX files, raw or gzip.
- ``load_cifar10_dir``: the CIFAR-10 "python version" pickled batches, read with a restricted unpickler.
- ``load_image_folder``: any folder of images (LSUN-style), short side resized then centre-cropped, optionally
  decoded once into a memory-mapped cache for folders larger than memory.
- ``load_array``: ``.npy`` / ``.npz`` arrays.
- ``load_digits``: scikit-learn's bundled 8x8 digits, for tests and quick runs.

Each returns an :class:`ImageSet`. :class:`ImageSampler` turns one into a :class:`~wgan.data.sampler.Sampler`
whose batches are float32 in [-1, 1], the range of the DCGAN generator's tanh output.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import math
import os
import pickle
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable

import numpy as np
import torch
import torch.nn.functional as F

from wgan.checks import check_fits_in_memory
from wgan.data.sampler import Modes
from wgan.errors import WganError, one_line
from wgan.run_files import CONFIG_FILE, LOCK_FILE

if TYPE_CHECKING:
    from PIL import Image

SPLITS = ("train", "test")
# Raster formats Pillow decodes by itself. Pillow also registers stub formats it can only identify (.h5, .grib,
# .mpg, .eps needs Ghostscript), so a folder holding such data files is not mistaken for a folder of images.
IMAGE_EXTENSIONS = frozenset(
    ".png .apng .jpg .jpeg .jpe .jfif .bmp .dib .gif .webp .tif .tiff .ppm .pgm .pbm .pnm .tga .qoi .avif".split()
)
_RESIZE_CHUNK = 4096  # images resized per interpolate call at sampler construction (bounds the float32 copy)


@dataclass(frozen=True)
class ImageSet:
    """A decoded image dataset.

    Attributes
    ----------
    images : torch.Tensor
        ``(N, C, H, W)`` uint8 pixels, 0..255 (in memory, or backed by a memory-mapped cache file).
    labels : torch.Tensor or None
        ``(N,)`` int64 class labels when the dataset has them.
    name : str
        A short name for logs, e.g. ``"mnist-train"``.
    """

    images: torch.Tensor
    labels: torch.Tensor | None
    name: str


def _check_split(split: str, what: str) -> str:
    if split not in SPLITS:
        raise WganError(f"split {split!r} for {what} is not one of {', '.join(SPLITS)}: pass split='train' or 'test'")
    return split


def _existing_dir(directory: str | os.PathLike, what: str) -> Path:
    path = Path(directory)
    if not path.is_dir():
        start = "" if path.is_absolute() else f" (relative paths start in {Path.cwd()})"
        raise WganError(f"{what} directory {str(path)!r} does not exist or is not a directory: check the path{start}")
    return path


def _set(images: np.ndarray, labels: np.ndarray | None, name: str) -> ImageSet:
    """Wrap numpy arrays (already ``(N, C, H, W)`` uint8, writable) as an :class:`ImageSet`."""
    image_tensor = torch.from_numpy(images)
    label_tensor = None if labels is None else torch.from_numpy(labels.astype(np.int64))
    return ImageSet(images=image_tensor, labels=label_tensor, name=name)


# ---------------------------------------------------------------------------------------------------------------
# IDX (MNIST, Fashion-MNIST)

_IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (count, rows, cols)
_IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (count)


def _read_maybe_gzip(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is named ``.gz`` or starts with the gzip magic bytes."""
    if not path.is_file():
        raise WganError(f"file {str(path)!r} does not exist: check the path")
    with open(path, "rb") as f:
        is_gzip = path.suffix == ".gz" or f.read(2) == b"\x1f\x8b"
        f.seek(0)
        if not is_gzip:
            return f.read()
        try:
            return gzip.GzipFile(fileobj=f).read()
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise WganError(f"file {str(path)!r} is truncated or not gzip ({one_line(exc)}): re-copy it") from exc


def _idx_header(raw: bytes, path: Path, magic: int, n_dims: int) -> tuple[int, ...]:
    """Check the magic number and return the dimensions of an IDX file of unsigned bytes."""
    kind = {_IDX_IMAGES_MAGIC: "images", _IDX_LABELS_MAGIC: "labels"}
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic:
        hint = f" (that is an IDX {kind[found]} file)" if found in kind else ""
        raise WganError(
            f"file {str(path)!r} has IDX magic number {found}{hint}, expected {magic} for {kind[magic]}: "
            f"pass the {kind[magic]} file (e.g. train-{kind[magic]}-idx{n_dims}-ubyte.gz)"
        )
    header_bytes = 4 * (1 + n_dims)
    if len(raw) < header_bytes:
        raise WganError(
            f"file {str(path)!r} holds {len(raw)} bytes, too short for an IDX header of {header_bytes} bytes: "
            "re-copy it"
        )
    dims = np.frombuffer(raw, dtype=">u4", count=n_dims, offset=4).tolist()
    shape = " x ".join(str(d) for d in dims)
    if 0 in dims:  # no data (and numpy cannot shape even nothing as 0 x 3e9 x 3e9)
        raise WganError(f"file {str(path)!r} header says {shape}: no data in it, the file is truncated or corrupt, "
                        "re-copy it")
    expected = math.prod(dims)  # exact: a product of 32-bit dimensions overflows int64
    payload = len(raw) - header_bytes
    if payload != expected:
        raise WganError(
            f"file {str(path)!r} header says {shape} = {expected} bytes of data but the file holds {payload}: "
            "the file is truncated or corrupt, re-copy it"
        )
    return tuple(dims)


def load_idx(images_path: str | os.PathLike, labels_path: str | os.PathLike | None = None) -> ImageSet:
    """Load IDX image (and label) files, as distributed for MNIST and Fashion-MNIST, gzip or raw.

    Parameters
    ----------
    images_path : path
        IDX file with magic 2051: ``count, rows, cols`` (big-endian uint32) then ``count * rows * cols`` bytes.
    labels_path : path, optional
        IDX file with magic 2049: ``count`` then ``count`` label bytes; must match the image count.

    Returns
    -------
    ImageSet
        ``images`` of shape ``(count, 1, rows, cols)``.
    """
    images_path = Path(images_path)
    raw = _read_maybe_gzip(images_path)
    count, rows, cols = _idx_header(raw, images_path, _IDX_IMAGES_MAGIC, 3)
    images = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, 1, rows, cols).copy()
    labels = None
    if labels_path is not None:
        labels_path = Path(labels_path)
        raw_labels = _read_maybe_gzip(labels_path)
        (n_labels,) = _idx_header(raw_labels, labels_path, _IDX_LABELS_MAGIC, 1)
        if n_labels != count:
            raise WganError(
                f"label file {str(labels_path)!r} holds {n_labels} labels but image file {str(images_path)!r} "
                f"holds {count} images: pass the matching pair (same split)"
            )
        labels = np.frombuffer(raw_labels, dtype=np.uint8, offset=8)
    name = images_path.name.removesuffix(".gz")
    return _set(images, labels, name)


def _find_first(directory: Path, names: list[str], what: str) -> Path:
    for name in names:
        if (directory / name).is_file():
            return directory / name
    raise WganError(f"no {what} file in {str(directory)!r}: looked for {', '.join(names)}; copy the files there")


FIRST_LABELS = {  # the first ten labels of each split as distributed, which tell MNIST and Fashion-MNIST apart
    "mnist": {"train": [5, 0, 4, 1, 9, 2, 1, 3, 1, 4], "test": [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]},
    "fashion-mnist": {"train": [9, 0, 0, 3, 0, 2, 7, 2, 5, 5], "test": [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]},
}


def find_mnist_files(directory: str | os.PathLike, split: str = "train", *, name: str = "mnist") -> tuple[Path, Path]:
    """The (images, labels) IDX files of the MNIST (or Fashion-MNIST, same file names) ``split`` in ``directory``,
    found without reading them, so that a command can refuse a folder that lacks them before it trains anything.

    Looks for ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` (``t10k-*`` for the test split), each raw
    or with ``.gz``; raises :class:`WganError` naming the file that is missing.
    """
    _check_split(split, name)
    directory = _existing_dir(directory, name)
    prefix = {"train": "train", "test": "t10k"}[split]
    stems = {"images": f"{prefix}-images-idx3-ubyte", "labels": f"{prefix}-labels-idx1-ubyte"}
    return (_find_first(directory, [stems["images"], stems["images"] + ".gz"], f"{name} {split} images"),
            _find_first(directory, [stems["labels"], stems["labels"] + ".gz"], f"{name} {split} labels"))


def load_mnist_dir(directory: str | os.PathLike, split: str = "train", *, name: str = "mnist") -> ImageSet:
    """Load the MNIST (or Fashion-MNIST, same file names) ``split`` from a directory of IDX files, those that
    :func:`find_mnist_files` finds. Returns ``(60000, 1, 28, 28)`` for the MNIST train split.
    """
    images_path, labels_path = find_mnist_files(directory, split, name=name)
    image_set = load_idx(images_path, labels_path)
    for other, first_labels in FIRST_LABELS.items():  # the two sets share file names, shapes and label range
        if other != name and image_set.labels[:len(first_labels[split])].tolist() == first_labels[split]:
            raise WganError(f"the {split} files in {str(images_path.parent)!r} are {other}'s (their first labels are "
                            f"{other}'s), not {name}'s: use --data {other}, or a data_dir that holds {name}'s files")
    return ImageSet(image_set.images, image_set.labels, f"{name}-{split}")


# ---------------------------------------------------------------------------------------------------------------
# CIFAR-10 python batches

def _numpy_reconstructors() -> dict[tuple[str, str], Callable]:
    try:  # numpy >= 2 renamed numpy.core to numpy._core; pickles name either, depending on who wrote them
        from numpy._core import multiarray, numeric
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray, numeric

    def latin1_encode(text: str, encoding: str = "latin1") -> bytes:
        # Python 3 writes bytes at pickle protocol <= 2 as _codecs.encode(text, "latin1"); allow only that.
        if encoding not in ("latin1", "latin-1"):
            raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
        return codecs.encode(text, "latin1")

    allowed = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): latin1_encode,
    }
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct  # protocol <= 4
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer  # protocol 5 (Python 3.8+ default)
    return allowed


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only; any other global (os.system, ...) is refused."""

    _allowed = _numpy_reconstructors()

    def find_class(self, module: str, name: str):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a data batch") from None


def _load_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            # The original batches were written by Python 2: encoding="bytes" keeps their str keys as b"data".
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except Exception as exc:  # a damaged pickle can raise anything while it is read (no code runs: see above)
        raise WganError(
            f"file {str(path)!r} is not a readable CIFAR-10 batch ({one_line(exc)}): re-copy it from the "
            "CIFAR-10 python version archive"
        ) from exc
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        found = sorted(map(repr, batch)) if isinstance(batch, dict) else type(batch).__name__
        raise WganError(
            f"file {str(path)!r} is not a CIFAR-10 batch: expected a dict with keys b'data' and b'labels', "
            f"found {found}; use the CIFAR-10 python version files"
        )
    data, labels = batch[b"data"], np.asarray(batch[b"labels"])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise WganError(
            f"file {str(path)!r}: b'data' is {found}, expected uint8 (N, 3072): use the CIFAR-10 python version files"
        )
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise WganError(
            f"file {str(path)!r}: b'labels' has shape {labels.shape} and dtype {labels.dtype}, expected "
            f"{len(data)} integers: re-copy the file"
        )
    return data, labels


def load_cifar10_dir(directory: str | os.PathLike, split: str = "train") -> ImageSet:
    """Load a CIFAR-10 split from the "python version" batches.

    ``directory`` holds ``data_batch_1`` .. ``data_batch_5`` (train) and ``test_batch`` (test), or is the folder
    the archive was extracted into (with ``cifar-10-batches-py/`` inside). Each batch is a pickled dict with
    ``b"data"``, ``(N, 3072)`` uint8 rows stored channel-major (1024 red, 1024 green, 1024 blue, each row-major
    32 x 32), and ``b"labels"``. Returns ``(50000, 3, 32, 32)`` for the train split.
    """
    _check_split(split, "cifar10")
    directory = _existing_dir(directory, "cifar10")
    if not (directory / "test_batch").exists() and (directory / "cifar-10-batches-py").is_dir():
        directory = directory / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    missing = [name for name in names if not (directory / name).is_file()]
    if missing:
        raise WganError(
            f"cifar10 {split} files missing in {str(directory)!r}: looked for {', '.join(names)}, "
            f"missing {', '.join(missing)}; extract the CIFAR-10 python version there"
        )
    batches = [_load_cifar_batch(directory / name) for name in names]
    data = np.concatenate([d for d, _ in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([lab for _, lab in batches])
    return _set(data, labels, f"cifar10-{split}")


# ---------------------------------------------------------------------------------------------------------------
# Folders of images (LSUN-style)

RUN_FOLDER_MARKS = {CONFIG_FILE, LOCK_FILE}  # what every wgan run folder holds from its start


def list_images(directory: Path) -> list[Path]:
    """Image files under ``directory``, recursively and through links to folders (each folder once, so that a
    link to a folder above ends), in a stable order; hidden files and folders skipped, and named pipes, sockets
    and devices with an image's name (opening a pipe waits for a writer for ever); a broken link is refused. A wgan
    run folder inside, reached through a link (the run's own --out is refused before), is refused: its figures
    would be trained on.
    """
    found, seen = [], set()
    for root, dirs, files in os.walk(directory, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        if RUN_FOLDER_MARKS <= set(files):
            raise WganError(f"'{root}' in the folder of images '{directory}' is a wgan run folder: its figures "
                            "(curves, sample grids) would become training data; move it, or the link to it, out of "
                            "the folder of images")
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for path in (Path(root) / f for f in sorted(files)
                     if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTENSIONS):
            if path.is_symlink() and not path.exists():
                raise WganError(f"file {str(path)!r} is a link to {os.readlink(path)!r}, which does not exist: "
                                "remove the link or put the file back")
            if path.is_file():
                found.append(path)
    return found


HIGH_DEPTH_WHITE = {"I": 65535, "F": 1.0}  # Pillow's integer (16- or 32-bit) and float grey modes -> white


def _eight_bit(img: Image.Image, path: Path) -> Image.Image:
    """A grey image of more than 8 bits as 8-bit grey, its pixels scaled so that its mode's white stays white:
    integers from 0 to 65535 (16-bit PNGs, integer TIFFs) by 255 / 65535, floats (TIFFs) from 0 to 1 by 255.
    Pillow's own conversion clips them at 255 instead."""
    from PIL import Image

    white = HIGH_DEPTH_WHITE[img.mode[0]]
    values = np.asarray(img, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if not (0 <= low and high <= white):  # NaN fails too
        raise WganError(f"file {str(path)!r} holds grey pixels of Pillow's mode {img.mode} from {low:g} to "
                        f"{high:g}, expected 0 to {white:g}: save it as 8-bit, or with pixels in that range")
    return Image.fromarray(np.rint(values * (255 / white)).astype(np.uint8), "L")


def _on_white(img: Image.Image) -> Image.Image:
    """An image with transparency as RGB over a white background: each pixel a (1 - a) white + a colour, a its
    opacity. Dropping the alpha channel instead shows whatever colour the transparent pixels hold (often black,
    or noise that the editor left there)."""
    from PIL import Image

    background = Image.new("RGBA", img.size, (255, 255, 255, 255))
    background.alpha_composite(img.convert("RGBA"))
    return background.convert("RGB")


def _open(path: Path) -> Image.Image:
    """The image file at ``path``, opened lazily by Pillow, without the warning it gives of a large photo."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # a large photo, resized anyway
        return Image.open(path)


def _transparent(img: Image.Image) -> bool:
    """Whether an image has transparency: an alpha channel, or a colour key (a palette's or a grey level's)."""
    return img.mode in ("RGBA", "PA", "LA") or "transparency" in img.info


def _file_transparent(path: Path) -> bool:
    """Whether the image file at ``path`` has transparency (:func:`_transparent`), read from its header alone."""
    with _open(path) as img:
        return _transparent(img)


def _decode(path: Path, image_size: int, channels: int) -> np.ndarray:
    """One image as ``(channels, image_size, image_size)`` uint8: short side resized, then centre-cropped;
    16-bit, 32-bit and float grey images scaled to 8 bits (:func:`_eight_bit`), transparent ones put over white
    (:func:`_on_white`)."""
    from PIL import Image, ImageOps

    try:
        with _open(path) as img:
            img = ImageOps.exif_transpose(img)
            if _transparent(img):
                img = _on_white(img)
            elif img.mode[0] in HIGH_DEPTH_WHITE:  # I, I;16, I;16B... and F
                img = _eight_bit(img, path)
            img = img.convert("L" if channels == 1 else "RGB")
            width, height = img.size
            if min(width, height) != image_size:
                scale = image_size / min(width, height)
                size = (max(image_size, round(width * scale)), max(image_size, round(height * scale)))
                img = img.resize(size, Image.Resampling.BILINEAR)
                width, height = size
            left, top = (width - image_size) // 2, (height - image_size) // 2
            img = img.crop((left, top, left + image_size, top + image_size))
            pixels = np.asarray(img, dtype=np.uint8)
    except WganError:
        raise
    except Exception as exc:  # Pillow's plugins raise many types (OSError, SyntaxError, ValueError, struct.error)
        raise WganError(
            f"file {str(path)!r} has an image extension but Pillow cannot read it ({one_line(exc)}): "
            "remove or replace the file"
        ) from exc
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def _folder_index(directory: Path, files: list[Path], image_size: int, channels: int) -> dict:
    """What a cache was built from: the settings and each file's relative path, size and mtime."""
    entries = []
    for path in files:
        stat = path.stat()
        entries.append([path.relative_to(directory).as_posix(), stat.st_size, stat.st_mtime_ns])
    return {"version": 1, "folder": str(directory), "image_size": image_size, "channels": channels,
            "files": entries}


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cached_folder(directory: Path, files: list[Path], image_size: int, channels: int, cache_dir: Path) -> np.ndarray:
    """Decode ``files`` into a memory-mapped ``.u8`` file in ``cache_dir``, or reuse it if the folder is unchanged."""
    digest = hashlib.sha1(str(directory).encode()).hexdigest()[:12]
    stem = f"{directory.name or 'root'}-{digest}-{image_size}px-{channels}ch"
    data_path, index_path = cache_dir / f"{stem}.u8", cache_dir / f"{stem}.json"
    shape = (len(files), channels, image_size, image_size)
    index = _folder_index(directory, files, image_size, channels)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        if index_path.is_file() and data_path.is_file():
            try:
                unchanged = json.loads(index_path.read_text()) == index
            except (ValueError, OSError):
                unchanged = False
            if unchanged and data_path.stat().st_size == int(np.prod(shape)):
                return np.memmap(data_path, dtype=np.uint8, mode="c", shape=shape)
        # Rebuild: drop the index first so a crash midway never leaves an index describing other data.
        index_path.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=stem, suffix=".tmp")
        os.close(fd)
        try:
            out = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=shape)
            for i, path in enumerate(files):
                out[i] = _decode(path, image_size, channels)
            out.flush()
            del out
            os.replace(tmp, data_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _atomic_write_text(index_path, json.dumps(index))
    except OSError as exc:
        raise WganError(
            f"cannot write the image cache in {str(cache_dir)!r} ({one_line(exc)}): pass a writable cache_dir "
            "with room for it, or none to decode in memory"
        ) from exc
    return np.memmap(data_path, dtype=np.uint8, mode="c", shape=shape)


def _all_grey(images: np.ndarray, chunk: int = 1024) -> bool:
    """Whether every pixel of ``(N, 3, H, W)`` images has equal red, green and blue, read ``chunk`` images at a
    time (they may be a memory-mapped cache larger than memory)."""
    for start in range(0, len(images), chunk):
        part = images[start:start + chunk]
        if not (np.array_equal(part[:, 0], part[:, 1]) and np.array_equal(part[:, 1], part[:, 2])):
            return False
    return True


def _flat_colours(images: np.ndarray, chunk: int = 1024) -> np.ndarray | None:
    """Each image's one colour, ``(N, C)``, where every one of ``(N, C, H, W)`` images is a single flat colour;
    None as soon as a chunk of ``chunk`` images holds one that is not (the first chunk, for pictures)."""
    colours = []
    for start in range(0, len(images), chunk):
        part = np.asarray(images[start:start + chunk])
        pixels = part.reshape(len(part), part.shape[1], -1)
        low = pixels.min(axis=-1)
        if not (low == pixels.max(axis=-1)).all():
            return None
        colours.append(low)
    return np.concatenate(colours)


def _check_not_blank(images: np.ndarray, source: str, transparent: Callable[[], bool] | None = None) -> None:
    """Refuse ``(N, C, H, W)`` images from ``source`` (e.g. ``"file 'x.npy'"``) that are all one and the same flat
    colour (one blank picture, nothing to learn), saying so where ``transparent()`` says their files have
    transparency: transparent pixels are drawn on white, so white shapes that the alpha channel alone draws vanish.
    Flat images of several colours (swatches, opaque RGBA ones too) are a distribution of colours, and stay data."""
    colours = _flat_colours(images)
    if colours is None or not (colours == colours[0]).all():
        return
    count = f"every one of the {len(images):,} images in {source}"
    if transparent is not None and transparent():
        raise WganError(f"{count} decodes to one flat colour: their transparent pixels are drawn on white, so white "
                        "shapes on a transparent background (as icons and glyphs are often saved) vanish; save them "
                        "as shapes on an opaque background, e.g. white on black")
    colour = ", ".join(str(int(value)) for value in colours[0])
    raise WganError(f"{count} is the same flat colour (pixel values {colour}), with nothing to learn: check that "
                    "the data holds the pictures meant and how they were saved")


def load_image_folder(
    directory: str | os.PathLike, image_size: int, channels: int | None = None,
    cache_dir: str | os.PathLike | None = None
) -> ImageSet:
    """Load every image under ``directory`` (recursively) at ``image_size x image_size``.

    Each image is converted to RGB (``channels=3``) or grayscale (``channels=1``), resized so that its short
    side is ``image_size`` and centre-cropped to a square, as in the LSUN bedrooms experiments of the DCGAN and
    WGAN papers. Files whose extension is not an image format (``.txt``, ``.json``...) and hidden files are
    skipped; a file with an image extension that Pillow cannot read is an error.

    Parameters
    ----------
    directory : path
    image_size : int
    channels : {1, 3}, optional
        None (the default): 1 if every pixel of every image is grey (equal red, green and blue: grey files, or
        colour files of grey pictures), else 3.
    cache_dir : path, optional
        When given, the images are decoded once into a memory-mapped file there (``N x C x H x W`` uint8,
        written to a temporary file then renamed) with a JSON index of the folder's files, sizes and mtimes;
        a later load with the same folder, size and channels reuses it without decoding. The returned tensor
        is backed by that file, so folders larger than memory work. When None, images are decoded in memory.
    """
    if not isinstance(image_size, int) or image_size < 1:
        raise WganError(f"image_size {image_size!r} is not a positive integer: pass e.g. image_size=64")
    if channels not in (None, 1, 3):
        raise WganError(f"channels {channels!r} is not 1 or 3: pass 1 for grayscale, 3 for RGB, or None to find "
                        "out from the images")
    directory = _existing_dir(directory, "image folder").resolve()
    files = list_images(directory)
    if not files:
        raise WganError(
            f"no images found in {str(directory)!r} (looked recursively for {', '.join(sorted(IMAGE_EXTENSIONS))}): "
            "point to a folder that contains images"
        )
    decoded = channels or 3
    check_fits_in_memory(len(files) * decoded * image_size**2, f"{len(files):,} images of {image_size}x{image_size}",
                         "lower image_size (--image-size)")
    if cache_dir is not None:
        images = _cached_folder(directory, files, image_size, decoded, Path(cache_dir).resolve())
    else:
        images = np.empty((len(files), decoded, image_size, image_size), dtype=np.uint8)
        for i, path in enumerate(files):
            images[i] = _decode(path, image_size, decoded)
    if channels is None and _all_grey(images):  # a cache's view stays on disk; in memory, a third of the pixels
        images = images[:, :1] if cache_dir is not None else np.ascontiguousarray(images[:, :1])
    _check_not_blank(images, f"the folder {str(directory)!r}", lambda: any(_file_transparent(path) for path in files))
    return _set(images, None, directory.name)


# ---------------------------------------------------------------------------------------------------------------
# Arrays and scikit-learn digits

_ACCEPTED_SHAPES = "(N, H, W), (N, H, W, C) or (N, C, H, W) with C in {1, 3}"


def _to_uint8(dtype: np.dtype) -> str:
    """How to make an array of ``dtype`` one of 8-bit pixels, for the message that refuses it."""
    if dtype.kind == "b":
        return "images.astype(numpy.uint8) * 255 (True as white)"
    if dtype == np.uint16:  # a cast alone would wrap 16-bit values round 256
        return "numpy.rint(images / 257).astype(numpy.uint8) for 16-bit pixels (0 to 65535)"
    return "images.astype(numpy.uint8), if its values are 0 to 255"


def npy_header(file: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype] | None:
    """(shape, Fortran order, dtype) from the header of the .npy file open at its start, without reading its
    data; None for a format version numpy's public readers do not know. ValueError where it is not .npy."""
    version = np.lib.format.read_magic(file)
    read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    return read[version](file) if version in read else None


def npy_too_large(path: Path, error: MemoryError) -> str:
    """Why numpy could not allocate the array it read from ``path``, to follow the file's name: a .npy file shorter
    than its header says (truncated: its header's shape is then no size to go by), or an array larger than the
    memory free."""
    try:
        with open(path, "rb") as file:
            shape, _, dtype = npy_header(file)
            declared = file.tell() + math.prod(shape) * dtype.itemsize
        if os.path.getsize(path) < declared:
            return (f"is truncated: its header declares {declared:,} bytes and it holds {os.path.getsize(path):,}: "
                    "copy or save it again")
    except (OSError, ValueError, TypeError):  # not a .npy file (an .npz archive): only its size is to blame
        pass
    return (f"does not fit in this machine's memory ({one_line(error)}): train on a part of it, e.g. "
            "numpy.save(part, numpy.load(path, mmap_mode='r')[:n])")


SMALLEST_SIDE = 4  # an array of smaller "images" is points or sequences saved in 3-D, not pictures


def _alpha_channel(shape: tuple[int, ...]) -> tuple[int, str] | None:
    """(channels, the slice that drops the last) for images of grey and alpha (2 channels) or RGBA (4), on the last
    axis or on the second (torch's layout); None for any other shape."""
    if len(shape) != 4:
        return None
    first, last = shape[1], shape[-1]
    if last in (2, 4) and first not in (1, 3):
        return last, f"images[..., :{last - 1}]"
    if first in (2, 4) and last > 4:
        return first, f"images[:, :{first - 1}]"
    return None


def load_array(path: str | os.PathLike) -> ImageSet:
    """Load images from a ``.npy`` or ``.npz`` file.

    The array has shape ``(N, H, W)``, ``(N, H, W, C)`` or ``(N, C, H, W)`` (torch's layout, taken where the last
    axis cannot be channels) with ``C`` in {1, 3} and dtype uint8 (0..255) or
    float in [0, 1] (scaled to uint8). In an ``.npz`` the images and the optional labels (N integers) are found by
    their keys (:func:`_archive_keys`); of two unnamed arrays (``numpy.savez(f, images, labels)``), the second is
    the labels when it holds one integer per image.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise WganError(f"file {str(path)!r} is not .npy or .npz: save the images with numpy.save or numpy.savez")
    if not path.is_file():
        raise WganError(f"file {str(path)!r} does not exist: check the path")
    labels = None
    try:
        with path.open("rb") as file:
            one_array = file.read(len(np.lib.format.MAGIC_PREFIX)) == np.lib.format.MAGIC_PREFIX
            file.seek(0)
            header = npy_header(file) if one_array else None
        if suffix == ".npy":
            if header is not None and header[2].hasobject:  # never unpickled
                raise WganError(f"file {str(path)!r} holds Python objects, not pixels: save the images as numbers, "
                                "e.g. numpy.save(path, numpy.stack(images).astype(numpy.uint8))")
            images = np.load(path, allow_pickle=False)
        else:
            if one_array:
                raise WganError(f"file {str(path)!r} holds one .npy array, not an .npz archive: rename it "
                                f"{path.with_suffix('.npy').name}")
            with np.load(path, allow_pickle=False) as archive:
                image_key, label_key = _archive_keys(list(archive.files), path)
                images = archive[image_key]
                labels = None if label_key is None else archive[label_key]
                if archive.files == ["arr_0", "arr_1"]:  # numpy.savez(f, images, labels): one integer per image
                    second = archive["arr_1"]
                    if second.shape == images.shape[:1] and np.issubdtype(second.dtype, np.integer):
                        labels = second
    except WganError:
        raise
    except MemoryError as error:
        raise WganError(f"file {str(path)!r} {npy_too_large(path, error)}") from None
    except Exception as exc:  # a damaged header or archive makes numpy raise ValueError, SyntaxError, BadZipFile...
        # numpy takes a file that is neither .npy nor a zip archive for a pickle, and says so
        why = "neither a .npy array nor an .npz archive" if "pickled" in str(exc) else one_line(exc)
        raise WganError(f"file {str(path)!r} is not a readable numpy file ({why}): re-save it") from None

    found_shape = images.shape
    if images.ndim == 2:
        raise WganError(f"file {str(path)!r} holds a 2-D array of shape {found_shape}, which is points, not images: "
                        "save points one per row with numpy.save as a .npy file (or as a .csv) and give that file "
                        f"as --data; images are {_ACCEPTED_SHAPES}")
    with_alpha = _alpha_channel(found_shape)
    if with_alpha is not None:
        channels, without_it = with_alpha
        raise WganError(f"file {str(path)!r} holds an array of shape {found_shape}, images of {channels} channels "
                        f"({'grey' if channels == 2 else 'RGB'} and alpha): drop the alpha channel, {without_it}, or "
                        "composite them on a background")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim == 4 and images.shape[1] in (1, 3) and images.shape[3] not in (1, 3):
        images = images.transpose(0, 2, 3, 1)  # channels first, as torch keeps images
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.size == 0:
        raise WganError(
            f"file {str(path)!r} holds an array of shape {found_shape}, expected {_ACCEPTED_SHAPES}, not empty: "
            "reshape or transpose it"
        )
    if len(found_shape) == 3 and found_shape[2] in (3, 4) and min(found_shape[:2]) > found_shape[2]:
        raise WganError(
            f"file {str(path)!r} holds an array of shape {found_shape}: {found_shape[0]} images {found_shape[2]} "
            f"pixels wide, or more likely one {found_shape[0]}x{found_shape[1]} image of {found_shape[2]} channels: "
            "save it as image[None], which adds the axis of images"
        )
    if min(images.shape[1:3]) < SMALLEST_SIDE:
        raise WganError(f"file {str(path)!r} holds an array of shape {found_shape}, images "
                        f"{images.shape[1]}x{images.shape[2]} pixels, under {SMALLEST_SIDE} a side: if these are "
                        "points, give one per row in a 2-D array, x.reshape(len(x), -1), saved as .npy")
    if images.dtype == np.uint8:
        if images.max() == 1:
            raise WganError(f"file {str(path)!r} holds uint8 pixels of 0 and 1 alone, which are black on the 0-255 "
                            "scale of uint8 images: multiply them by 255, or save floats in [0, 1]")
        pixels = images
    elif np.issubdtype(images.dtype, np.floating):
        unknown = ~np.isfinite(images)
        if unknown.any():
            first = int(np.flatnonzero(unknown.reshape(len(images), -1).any(axis=1))[0])
            raise WganError(f"file {str(path)!r} holds {int(unknown.sum()):,} NaN or infinite pixels, the first in "
                            f"image {first}: replace them (e.g. numpy.nan_to_num) or drop those images")
        low, high = float(np.min(images)), float(np.max(images))
        if not (0.0 <= low and high <= 1.0):
            raise WganError(
                f"file {str(path)!r} holds floats in [{low}, {high}], expected [0, 1]: scale to [0, 1] or save uint8"
            )
        pixels = np.rint(images * 255.0).astype(np.uint8)
    else:
        raise WganError(
            f"file {str(path)!r} holds dtype {images.dtype}, expected uint8 or float in [0, 1]: convert it, "
            f"e.g. {_to_uint8(images.dtype)}"
        )
    if labels is not None:
        _check_labels(labels, len(pixels), path)
    pixels = np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))
    _check_not_blank(pixels, f"file {str(path)!r}")
    return _set(pixels, labels, path.stem)


IMAGE_KEYS = ("images", "image", "imgs", "x", "x_train", "data")  # an .npz's images, any case, first found
LABEL_KEYS = ("labels", "label", "y", "y_train", "targets", "target")  # and its labels


def _archive_keys(keys: list[str], path: Path) -> tuple[str, str | None]:
    """The keys of an ``.npz``'s images and labels (None without): the first of :data:`IMAGE_KEYS` and
    :data:`LABEL_KEYS` that it holds, in any case. Without an images key, its one array that is not the labels,
    or the first of ``numpy.savez``'s unnamed ``arr_0, arr_1...``; several other named arrays are one line, not a
    guess."""
    by_name = {key.lower(): key for key in reversed(keys)}  # the first of keys differing in case alone
    label_key = next((by_name[name] for name in LABEL_KEYS if name in by_name), None)
    image_key = next((by_name[name] for name in IMAGE_KEYS if name in by_name), None)
    others = [key for key in keys if key != label_key]
    if image_key is None and (len(others) == 1 or others and all(key.startswith("arr_") for key in others)):
        image_key = others[0]
    if image_key is None:
        found = ", ".join(repr(key) for key in keys) or "none"
        raise WganError(f"file {str(path)!r} holds no array named as images (its keys: {found}): save the images "
                        "under the key 'images' (and class indices, if any, under 'labels')")
    return image_key, label_key


def _check_labels(labels: np.ndarray, count: int, path: Path) -> None:
    """The labels of ``count`` images in ``path`` must be class indices: integers from 0 to K - 1 for K classes
    (2 <= K <= ``count``, since the image scores' classifier has one output per index up to the largest, and one
    output tells nothing apart)."""
    renumber = "renumber them 0, 1, ... (numpy.unique(labels, return_inverse=True)[1]) or drop the labels array"
    if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
        raise WganError(f"file {str(path)!r} holds labels of shape {labels.shape} and dtype {labels.dtype}, "
                        f"expected {count} integers: fix or drop the labels array")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= count:
        raise WganError(f"file {str(path)!r} holds labels from {low} to {high} for {count} images, expected class "
                        f"indices from 0 to at most {count - 1}: {renumber}")
    missing = np.setdiff1d(np.arange(high + 1), labels)
    if len(missing):  # 1 to 10 for ten classes: the scores would count an eleventh, 0, that no image is of
        named = ", ".join(map(str, missing[:5])) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise WganError(f"file {str(path)!r} holds labels from {low} to {high} but none of class {named}, expected "
                        f"every class index from 0 to {high} (the image scores count {high + 1} classes): {renumber}")
    if high == 0:  # a classifier of one class is always right: the scores would cover 1/1 at confidence 1
        raise WganError(f"file {str(path)!r} holds labels of one class, 0, for all {count} images, expected at least 2 "
                        "classes for the image scores to mean anything: drop the labels array (the images are then "
                        "scored in pixel space) or give each image its class")


def load_digits() -> ImageSet:
    """scikit-learn's bundled 8x8 handwritten digits (no download): ``(1797, 1, 8, 8)``, 0..16 scaled to 0..255."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8).reshape(-1, 1, 8, 8)
    return _set(images, digits.target, "digits")


# ---------------------------------------------------------------------------------------------------------------
# The sampler

def _fits_on(device: torch.device, nbytes: int) -> bool:
    """Whether a dataset of ``nbytes`` should live on ``device``: on a GPU, if it takes at most half the free memory."""
    if device.type != "cuda":
        return True  # on the CPU "moving" is a no-op, so a memory-mapped set stays mapped
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes <= free // 2


def _resize(images: torch.Tensor, image_size: int, device: torch.device) -> torch.Tensor:
    """Bilinear (antialiased) resize of uint8 ``(N, C, H, W)`` to ``(N, C, image_size, image_size)`` on ``device``,
    after a centre crop to a square where H and W differ (as a folder's images are cropped, not stretched)."""
    height, width = images.shape[2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    images = images[:, :, top:top + side, left:left + side]
    out = torch.empty((len(images), images.shape[1], image_size, image_size), dtype=torch.uint8, device=device)
    for start in range(0, len(images), _RESIZE_CHUNK):
        chunk = images[start:start + _RESIZE_CHUNK].to(device).float()
        chunk = F.interpolate(chunk, size=(image_size, image_size), mode="bilinear", antialias=True,
                              align_corners=False)
        out[start:start + _RESIZE_CHUNK] = chunk.round_().clamp_(0, 255).to(torch.uint8)
    return out


class ImageSampler:
    """Uniform draws with replacement from an :class:`ImageSet`, as float32 in [-1, 1] (``x / 127.5 - 1``).

    The uint8 pixels are copied to ``device`` once (a quarter of the memory of float32) and a batch is one
    ``randint`` and one gather there. If ``image_size`` differs from the set's height or width the whole set is
    resized once, here, with antialiased bilinear interpolation (e.g. MNIST 28 -> 32 for the DCGAN).

    Parameters
    ----------
    image_set : ImageSet
    device : torch.device or str
    image_size : int, optional
        Side of the square images the sampler returns; None keeps the set's size.
    on_device : bool, optional
        Keep the pixels on ``device`` (True) or in host memory (False), e.g. a memory-mapped folder cache larger
        than the GPU; None decides by size (on a GPU: on the device if it takes at most half the free memory).
        Host-resident sets copy each batch to the device and synchronise once per batch to read the indices.
    channels : int, optional
        The channels a run's models were built for, when it resumes or loads: a grey set drawn for a run that
        read it as RGB (folders were read as RGB before grey ones were found) repeats its channel three times.
        None keeps the set's.
    """

    modes: Modes | None = None

    def __init__(
        self,
        image_set: ImageSet,
        device: torch.device | str,
        image_size: int | None = None,
        on_device: bool | None = None,
        channels: int | None = None,
    ):
        images = image_set.images
        if images.dtype != torch.uint8 or images.ndim != 4 or len(images) == 0:
            raise WganError(
                f"image set {image_set.name!r} has images of dtype {images.dtype} and shape {tuple(images.shape)}, "
                "expected uint8 (N, C, H, W) with N >= 1: build it with one of the wgan.data.images loaders"
            )
        if image_size is not None and (not isinstance(image_size, int) or image_size < 1):
            raise WganError(f"image_size {image_size!r} is not a positive integer: pass e.g. image_size=32")
        self.device = torch.device(device)
        self.name = image_set.name
        resize = image_size is not None and tuple(images.shape[2:]) != (image_size, image_size)
        if on_device is None:
            side = image_size if resize else None
            nbytes = images[0].numel() if side is None else images.shape[1] * side * side
            on_device = _fits_on(self.device, nbytes * len(images))
        if resize:
            if not on_device:
                raise WganError(
                    f"image set {image_set.name!r} is kept in host memory and is {images.shape[2]}x{images.shape[3]}, "
                    f"not {image_size}x{image_size}: load it at image_size={image_size} instead of resizing here"
                )
            check_fits_in_memory(len(images) * images.shape[1] * image_size**2
                                 + 4 * min(len(images), _RESIZE_CHUNK) * images.shape[1] * image_size**2,
                                 f"{len(images):,} images resized to {image_size}x{image_size}",
                                 "lower image_size (--image-size)", self.device)
            images = _resize(images, image_size, self.device)
        elif on_device:
            images = images.to(self.device)
        if channels not in (None, images.shape[1]):
            if (images.shape[1], channels) != (1, 3):
                raise WganError(f"image set {image_set.name!r} has {images.shape[1]} channels, the run's networks "
                                f"{channels}: the data changed since the run was trained; train a new run")
            images = images.expand(-1, 3, -1, -1)
        self.images = images
        self.labels = None if image_set.labels is None else image_set.labels.to(self.device)
        self.shape = tuple(images.shape[1:])

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Return ``n`` images, float32 ``(n, C, H, W)`` in [-1, 1] on ``device``, indices drawn from ``generator``."""
        index = torch.randint(len(self.images), (n,), generator=generator, device=self.device)
        if self.images.device != self.device:
            batch = self.images[index.cpu()].to(self.device, non_blocking=True)
        else:
            batch = self.images[index]
        return batch.float().div_(127.5).sub_(1.0)


# ---------------------------------------------------------------------------------------------------------------
# The registry

@dataclass(frozen=True)
class ImageDataset:
    """How to load a named dataset: ``load(path, split, image_size, cache_dir)``; ``path`` is ``data_dir``."""

    load: Callable[[Path | None, str, int | None, Path | None], ImageSet]
    needs_path: bool
    has_splits: bool
    description: str


def _load_folder_entry(path: Path | None, split: str, image_size: int | None, cache_dir: Path | None) -> ImageSet:
    if image_size is None:
        raise WganError(f"a folder of images needs image_size (folder {str(path)!r}): pass e.g. image_size=64")
    return load_image_folder(path, image_size, cache_dir=cache_dir)


IMAGE_DATASETS: dict[str, ImageDataset] = {
    "mnist": ImageDataset(lambda p, s, size, c: load_mnist_dir(p, s, name="mnist"), True, True,
                          "MNIST digits, IDX files in data_dir"),
    "fashion-mnist": ImageDataset(lambda p, s, size, c: load_mnist_dir(p, s, name="fashion-mnist"), True, True,
                                  "Fashion-MNIST, IDX files in data_dir"),
    "cifar10": ImageDataset(lambda p, s, size, c: load_cifar10_dir(p, s), True, True,
                            "CIFAR-10 python batches in data_dir"),
    "digits": ImageDataset(lambda p, s, size, c: load_digits(), False, False,
                           "scikit-learn's bundled 8x8 digits, no files"),
    "folder": ImageDataset(_load_folder_entry, True, False, "a folder of images; data_dir is the folder"),
    "array": ImageDataset(lambda p, s, size, c: load_array(p), True, False,
                          "a .npy or .npz file; data_dir is the file"),
}


def build_image_sampler(
    name_or_path: str | os.PathLike,
    device: torch.device | str,
    data_dir: str | os.PathLike | None = None,
    image_size: int | None = None,
    split: str = "train",
    cache_dir: str | os.PathLike | None = None,
    channels: int | None = None,
) -> ImageSampler:
    """Load a dataset by name (a key of ``IMAGE_DATASETS``) or by path, and wrap it in an :class:`ImageSampler`.

    A name reads its files from ``data_dir`` (``"folder"`` and ``"array"`` take ``data_dir`` as the folder or
    file itself). Anything else is a path: an existing folder is a folder of images, a ``.npy``/``.npz`` file
    an array. ``image_size`` resizes on the device once (folders are decoded at that size directly); ``channels``
    is what a resumed or loaded run's networks were built for (see :class:`ImageSampler`).
    """
    key = str(name_or_path)
    entry = IMAGE_DATASETS.get(key)
    path = None if data_dir is None else Path(data_dir)
    if entry is None:
        path = Path(name_or_path)
        if path.is_dir():
            key, entry = "folder", IMAGE_DATASETS["folder"]
        elif path.suffix.lower() in (".npy", ".npz") and path.is_file():
            key, entry = "array", IMAGE_DATASETS["array"]
        elif path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file():
            raise WganError(f"data {key!r} is one image file: give the folder that holds the images (every image in "
                            "it and its subfolders is read)")
        else:
            raise WganError(
                f"dataset {key!r} is neither a known name ({', '.join(IMAGE_DATASETS)}) nor an existing folder "
                "or .npy/.npz file: check the spelling or the path"
            )
    elif entry.needs_path and path is None:
        what = "file" if key == "array" else "folder"
        raise WganError(f"dataset {key!r} ({entry.description}) needs data_dir: pass the {what} with --data-dir "
                        "(data_dir= in Python)")
    _check_split(split, key)
    if split != "train" and not entry.has_splits:
        raise WganError(f"dataset {key!r} has no {split!r} split, only its one set of images: pass split='train'")
    image_set = entry.load(path, split, image_size, None if cache_dir is None else Path(cache_dir))
    return ImageSampler(image_set, device, image_size=image_size, channels=channels)
