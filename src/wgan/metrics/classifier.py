"""A small CNN classifier for the image metrics: trained once per dataset, cached on disk, reused.

The image metrics (:mod:`wgan.metrics.images`) need a network that knows the dataset: its penultimate
activations are the features of a Frechet distance, its predictions the class histogram of a generator.
Inception-v3 plays that part for ImageNet-like photographs (FID); for MNIST-like data a classifier trained
on the dataset itself is the usual substitute, and it runs offline, on a CPU, in minutes.

The network: three 3x3 convolutions with batch normalisation and ReLU, each followed by 2x2 max-pooling while
the feature map is at least 8 pixels wide (so 8x8 digits and 64x64 images both work), an adaptive average
pooling to 4x4, a hidden fully-connected layer of 128 units with ReLU (the *features*) and a linear layer to
the class logits. Batch normalisation lets a few epochs of Adam reach over 99% on MNIST; it makes the
features depend on the mode, so every evaluation runs the network in eval mode (running statistics).
Images enter as float32 in [-1, 1], the range of the generator's tanh; uint8 pixels are scaled by
``x / 127.5 - 1`` as :class:`wgan.data.images.ImageSampler` does.

References
----------
.. [1] Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-based learning applied to document
   recognition", Proc. IEEE 86(11), 1998 (convolutions and pooling for digits).
.. [2] S. Ioffe, C. Szegedy, "Batch Normalization", ICML 2015.
.. [3] D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checks import whole_number
from ..errors import WganError, reason
from ..progress import Progress
from ..randomness import global_cpu_seed
from ..runs import atomic_write

__all__ = [
    "Classifier",
    "TrainedClassifier",
    "check_images",
    "classify",
    "default_cache_dir",
    "load_classifier",
    "to_unit_range",
    "train_classifier",
]

WIDTHS = (16, 32, 64)  # output channels of the three convolutions
POOLED = 4  # side of the feature map after the adaptive pooling
HIDDEN = 128  # penultimate features
LEARNING_RATE = 1e-3  # Adam's default step size (Kingma & Ba 2015, Algorithm 1), decayed linearly to 0
RANGE_TOL = 1e-3  # how far float images may stray outside [-1, 1] (rounding, bf16 generators)
ARCHITECTURE = 1  # part of the cache fingerprint: bump it when the network or its training changes
_INTEGER_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class Classifier(nn.Module):
    """Convolutions, a hidden layer of ``HIDDEN`` features and a linear layer to ``num_classes`` logits.

    Parameters
    ----------
    channels : {1, 3}
    image_size : int
        Side ``S >= 8`` of the square ``(N, channels, S, S)`` inputs.
    num_classes : int
    """

    def __init__(self, channels: int, image_size: int, num_classes: int):
        super().__init__()
        self.channels, self.image_size, self.num_classes = channels, image_size, num_classes
        layers: list[nn.Module] = []
        side, width_in = image_size, channels
        for width in WIDTHS:
            layers += [nn.Conv2d(width_in, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
            if side >= 2 * POOLED:
                layers.append(nn.MaxPool2d(2))
                side //= 2
            width_in = width
        layers += [nn.AdaptiveAvgPool2d(POOLED), nn.Flatten(), nn.Linear(width_in * POOLED**2, HIDDEN), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(HIDDEN, num_classes)
        # Channels-last convolutions train faster on the CPU (oneDNN): 21 against 33 CPU seconds per MNIST epoch.
        self.to(memory_format=torch.channels_last)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations, ``(N, HIDDEN)``, of images ``(N, C, S, S)`` in [-1, 1]."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, ``(N, num_classes)``."""
        return self.head(self.body(x))


@dataclass(frozen=True)
class TrainedClassifier:
    """A classifier in eval mode, its accuracy on the test split and the cache file it lives in."""

    model: Classifier
    test_accuracy: float
    path: Path


def _tensor(x, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach()
    try:
        return torch.as_tensor(np.asarray(x))
    except (TypeError, ValueError) as err:
        raise WganError(f"{name} could not be read as an array ({err}); pass a numpy array or tensor") from None


def check_images(images, name: str = "images", *, min_count: int = 2) -> torch.Tensor:
    """Check a set of square images and return it as a tensor, unchanged (uint8 or float, on its device).

    Parameters
    ----------
    images : torch.Tensor or array_like, shape (N, C, S, S)
        uint8 pixels 0..255, or floats already in [-1, 1]; ``C`` in {1, 3}, ``S >= 8``.
    name : str
        How messages call the input.
    min_count : int
        The fewest images accepted.
    """
    x = _tensor(images, name)
    if x.ndim != 4 or x.shape[1] not in (1, 3) or x.shape[2] != x.shape[3] or x.shape[2] < 8:
        raise WganError(
            f"{name} has shape {tuple(x.shape)}; expected square images (N, C, S, S) with C in {{1, 3}} and S >= 8"
        )
    if len(x) < min_count:
        raise WganError(f"{name} holds {len(x)} images; expected at least {min_count}: pass more samples")
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise WganError(f"{name} has dtype {x.dtype}; expected uint8 pixels or floats in [-1, 1]: convert it")
    low, high = x.aminmax()
    if not (low >= -1.0 - RANGE_TOL and high <= 1.0 + RANGE_TOL):  # also catches NaN
        raise WganError(
            f"{name} holds values in [{low.item():.4g}, {high.item():.4g}], expected [-1, 1]: scale uint8 pixels "
            "by x / 127.5 - 1, or pass them as uint8"
        )
    return x


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """Checked images as float32 in [-1, 1]: uint8 pixels scaled by ``x / 127.5 - 1``, floats kept."""
    return images.float().div_(127.5).sub_(1.0) if images.dtype == torch.uint8 else images.float()


def _labels(labels, name: str, count: int) -> torch.Tensor:
    y = _tensor(labels, name)
    if y.shape != (count,) or y.dtype not in _INTEGER_DTYPES:
        raise WganError(f"{name} has shape {tuple(y.shape)} and dtype {y.dtype}; expected {count} integer labels")
    if int(y.min()) < 0:
        raise WganError(f"{name} has a negative label {int(y.min())}; expected class indices 0, 1, ...")
    return y.long()


@torch.no_grad()
def classify(classifier: Classifier, images, *, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features ``(N, HIDDEN)`` and logits ``(N, num_classes)`` of ``images``, on the CPU.

    The images (uint8, or floats in [-1, 1]; see :func:`check_images`) go through the classifier in eval mode
    in batches of ``batch_size`` on the classifier's device; its mode is restored after.
    """
    x = check_images(images)
    expected = (classifier.channels, classifier.image_size, classifier.image_size)
    if tuple(x.shape[1:]) != expected:
        raise WganError(
            f"images have shape (N, {', '.join(map(str, x.shape[1:]))}) but the classifier was trained on "
            f"(N, {', '.join(map(str, expected))}): pass images of the classifier's dataset and size"
        )
    batch_size = whole_number(batch_size, "batch_size", 1, 500)
    device = next(classifier.parameters()).device
    training = classifier.training
    classifier.eval()
    try:
        batches = (to_unit_range(x[i:i + batch_size].to(device)) for i in range(0, len(x), batch_size))
        features = torch.cat([classifier.features(batch) for batch in batches])
        logits = classifier.head(features)
    finally:
        classifier.train(training)
    return features.cpu(), logits.cpu()


def train_classifier(
    train_images,
    train_labels,
    test_images,
    test_labels,
    *,
    epochs: int = 3,
    batch_size: int = 128,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> tuple[Classifier, float]:
    r"""Train a :class:`Classifier` with Adam and cross-entropy; return it in eval mode with its test accuracy.

    Minimises :math:`-\frac1B \sum_i \log \mathrm{softmax}(f(x_i))_{y_i}` over shuffled mini-batches for
    ``epochs`` passes, Adam with step size ``LEARNING_RATE`` decayed linearly to zero over the training (the
    small late steps settle the weights within a few epochs). The initial weights and the shuffling come from
    ``seed`` alone (the global random state is left as it was), so on the CPU two calls give the same network.

    Parameters
    ----------
    train_images, test_images : torch.Tensor, shape (N, C, S, S)
        uint8 pixels, as :attr:`ImageSampler.images` holds them (already at the run's image size), or floats
        in [-1, 1]. The same ``(C, S, S)`` for both.
    train_labels, test_labels : torch.Tensor, shape (N,)
        Integer classes 0..K-1; ``K`` is the largest label plus one.
    epochs : int, default 3
    batch_size : int, default 128
    seed : int, default 0
    device : torch.device or str, default "cpu"
    progress : bool, default False
        Show the running loss: a tqdm bar on a terminal, else one plain line per epoch on stdout.

    Returns
    -------
    (Classifier, float)
        The network in eval mode, and the fraction of test images it classifies correctly.
    """
    x_train = check_images(train_images, "train_images")
    x_test = check_images(test_images, "test_images")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise WganError(
            f"train_images have images of shape {tuple(x_train.shape[1:])} but test_images of shape "
            f"{tuple(x_test.shape[1:])}: pass both splits at the same size"
        )
    y_train = _labels(train_labels, "train_labels", len(x_train))
    y_test = _labels(test_labels, "test_labels", len(x_test))
    epochs = whole_number(epochs, "epochs", 1, 3)
    batch_size = whole_number(batch_size, "batch_size", 1, 128)
    device = torch.device(device)

    num_classes = int(max(y_train.max(), y_test.max())) + 1
    with global_cpu_seed(seed):
        model = Classifier(x_train.shape[1], x_train.shape[2], num_classes).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    steps_per_epoch = -(-len(x_train) // batch_size)
    total = epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / total)
    shuffle = torch.Generator().manual_seed(seed)
    model.train()
    bar = Progress(total, 0, "classifier", show=progress)
    try:
        for epoch in range(epochs):
            order = torch.randperm(len(x_train), generator=shuffle).to(x_train.device)
            for step, start in enumerate(range(0, len(x_train), batch_size)):
                index = order[start:start + batch_size]
                batch = to_unit_range(x_train[index].to(device))
                loss = F.cross_entropy(model(batch), y_train[index].to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                bar.update()
                # reading the loss synchronises a GPU: on a terminal every 50 steps, else once per epoch
                if (bar.live and step % 50 == 0) or (bar.plain and step == steps_per_epoch - 1):
                    bar.note(epoch * steps_per_epoch + step + 1, f"epoch {epoch + 1}/{epochs}, loss {loss.item():.4f}")
    finally:
        bar.close()
    model.eval()
    _, logits = classify(model, x_test, batch_size=max(batch_size, 500))
    accuracy = float((logits.argmax(dim=1) == y_test.cpu()).float().mean())
    return model, accuracy


def default_cache_dir() -> Path:
    """Where trained classifiers are cached: ``$WGAN_CACHE_DIR`` when set, else ``~/.cache/wgan``."""
    configured = os.environ.get("WGAN_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "wgan"


def _fingerprint(*arrays: torch.Tensor, settings: tuple) -> str:
    """A short hash of the arrays' dtypes, shapes and bytes, and of the training settings."""
    digest = hashlib.sha256(repr((ARCHITECTURE, settings)).encode())
    for array in arrays:
        digest.update(f"{array.dtype}{tuple(array.shape)}".encode())
        digest.update(np.ascontiguousarray(array.cpu().numpy()).data)
    return digest.hexdigest()[:16]


def load_classifier(
    key: str,
    train_images,
    train_labels,
    test_images,
    test_labels,
    *,
    cache_dir: str | os.PathLike | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    epochs: int = 3,
    batch_size: int = 128,
    seed: int = 0,
) -> TrainedClassifier:
    """The classifier of a dataset: loaded from the cache, or trained by :func:`train_classifier` and cached.

    The cache file is ``cache_dir/<key>-<fingerprint>.pt``, where the fingerprint hashes the shapes and bytes of
    the four arrays together with the training settings and the architecture version, so another dataset (or
    the same one at another image size) under the same ``key`` never reuses a cache. The file holds the
    weights, the test accuracy and the network's sizes; it is written atomically and read with
    ``torch.load(weights_only=True)``.

    Parameters
    ----------
    key : str
        A short name for the file, such as ``"mnist-32"``: letters, digits, ``.``, ``_`` and ``-``.
    train_images, train_labels, test_images, test_labels, epochs, batch_size, seed, device, progress
        As in :func:`train_classifier`.
    cache_dir : path, optional
        Defaults to :func:`default_cache_dir`.

    Returns
    -------
    TrainedClassifier
    """
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise WganError(f"key {key!r} is not a plain file name; use letters, digits, '.', '_' and '-', e.g. 'mnist-32'")
    arrays = [_tensor(a, name) for a, name in zip(
        (train_images, train_labels, test_images, test_labels),
        ("train_images", "train_labels", "test_images", "test_labels"),
    )]
    fingerprint = _fingerprint(*arrays, settings=(epochs, batch_size, seed))
    path = Path(cache_dir if cache_dir is not None else default_cache_dir()) / f"{key}-{fingerprint}.pt"
    device = torch.device(device)
    if path.is_file():
        try:
            saved = torch.load(path, map_location=device, weights_only=True)
            with torch.random.fork_rng(devices=[]):  # its initial weights, replaced below, draw nothing of the caller's
                model = Classifier(saved["channels"], saved["image_size"], saved["num_classes"]).to(device)
            model.load_state_dict(saved["state_dict"])
            accuracy = float(saved["test_accuracy"])
        except (OSError, EOFError, pickle.UnpicklingError, RuntimeError, KeyError, TypeError, ValueError) as exc:
            raise WganError(
                f"classifier cache {str(path)!r} is unreadable ({type(exc).__name__}): delete it to retrain"
            ) from exc
        return TrainedClassifier(model.eval(), accuracy, path)

    try:  # before the training whose result it keeps, not after it
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = "a file is in its place" if path.parent.is_file() or exc.errno in (errno.EEXIST, errno.ENOTDIR) \
            else reason(exc)
        raise WganError(f"cannot make the classifier cache folder {str(path.parent)!r} ({why}): set WGAN_CACHE_DIR to "
                        "a folder you can write to (cache_dir= in Python)") from None
    model, accuracy = train_classifier(
        *arrays, epochs=epochs, batch_size=batch_size, seed=seed, device=device, progress=progress
    )
    saved = {
        "state_dict": model.state_dict(),
        "test_accuracy": accuracy,
        "channels": model.channels,
        "image_size": model.image_size,
        "num_classes": model.num_classes,
    }
    try:
        atomic_write(path, lambda file: torch.save(saved, file))
    except OSError as exc:
        raise WganError(f"cannot write the classifier cache {str(path)!r} ({exc}): set WGAN_CACHE_DIR to a folder you "
                        "can write to (cache_dir= in Python)") from exc
    return TrainedClassifier(model, accuracy, path)
