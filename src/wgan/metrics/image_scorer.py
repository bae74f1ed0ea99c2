"""The classifier scores of a run on labelled images: its classifier and held-out reference, set up once.

For image data with labels, :func:`image_scorer` gets the dataset's classifier (trained on the training
images the run samples from, or loaded from the cache: :func:`~wgan.metrics.classifier.load_classifier`) and
the reference statistics of held-out images: the test split where the dataset has one (MNIST, Fashion-MNIST,
CIFAR-10), else a fixed fifth of the images (the digits). It returns the :class:`ImageScorer` that
:func:`wgan.metrics.evaluate` calls with all generated images: Frechet distance, KID, precision, recall,
density and coverage of the classifier's features, classes generated, class-histogram KL and mean confidence
(:func:`~wgan.metrics.images.classifier_scores`). Its :meth:`ImageScorer.card` says what those numbers are
comparable with: two runs' scores compare only when their cards agree.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..config import Config
from ..data.images import IMAGE_DATASETS, build_image_sampler
from ..data.sampler import Sampler
from ..errors import WganError
from .classifier import TrainedClassifier, load_classifier
from .feature_metrics import DENSITY_K, PRECISION_K
from .images import CLASS_EPS, MIN_SHARE, ReferenceStatistics, classifier_scores, reference_statistics

HELD_OUT = 0.2  # the fraction of a split-less labelled set kept for the classifier's test and the reference
REFERENCE_FEWEST = max(PRECISION_K, DENSITY_K) + 1  # k-NN radii need k neighbours besides each reference image
SPLIT_SEED = 0  # the permutation that picks it: fixed, so every run of a dataset shares one classifier
NEAR_CHANCE = 0.25  # a test accuracy less than this share of the way from chance to 1 is near chance


def _held_out(config: Config, sampler: Sampler) -> tuple[tuple[torch.Tensor, ...], str]:
    """(train images, train labels, test images, test labels) as uint8 images and int64 labels, and which
    images the test ones are."""
    entry = IMAGE_DATASETS.get(config.data)
    if entry is not None and entry.has_splits:
        test = build_image_sampler(config.data, sampler.device, config.data_dir or None, config.image_size, "test")
        return (sampler.images, sampler.labels, test.images, test.labels), "test split"
    order = torch.randperm(len(sampler.images), generator=torch.Generator().manual_seed(SPLIT_SEED))
    cut = int(len(order) * (1 - HELD_OUT))
    train, test = order[:cut].to(sampler.images.device), order[cut:].to(sampler.images.device)
    split = f"held-out {HELD_OUT:.0%} of the images (permutation seed {SPLIT_SEED})"
    return (sampler.images[train], sampler.labels[train], sampler.images[test], sampler.labels[test]), split


def weights_sha256(module: nn.Module) -> str:
    """SHA-256 of a module's state (parameters and buffers): each entry's name, dtype, shape and values, in
    order, the values as contiguous bytes (so the memory format does not change the checksum)."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class ImageScorer:
    """``scorer(generated) -> scores`` of :func:`~wgan.metrics.images.classifier_scores` against a held-out
    reference, with the :meth:`card` that says what the scores are comparable with.

    Attributes
    ----------
    classifier : TrainedClassifier
        The dataset's classifier, whose penultimate features all feature-space scores use.
    reference : ReferenceStatistics
        Of the held-out images.
    data : str
        The dataset (``Config.data``).
    reference_split : str
        Which images the reference is: ``"test split"``, or a held-out share of a set without one.
    """

    classifier: TrainedClassifier
    reference: ReferenceStatistics
    data: str
    reference_split: str

    @property
    def fewest_samples(self) -> int:
        """The fewest generated images the scores take: recall finds each one's k nearest other generated ones."""
        return self.reference.features.precision_k + 1

    def __call__(self, generated: torch.Tensor) -> dict[str, float]:
        """The scores of all generated images (see :func:`~wgan.metrics.images.classifier_scores`)."""
        return classifier_scores(self.classifier.model, generated, self.reference)

    def card(self, generated_count: int) -> dict:
        """What the scores of ``generated_count`` generated images are comparable with, as a plain JSON-able
        dict: the feature extractor (class, feature dimension, SHA-256 of its weights), the reference (dataset,
        split, count), the generated count, the images (size, channels, value range) and each metric's settings.
        Scores from two cards that differ in any of these are not comparable (KID and k-NN scores also move with
        the sample counts)."""
        model = self.classifier.model
        return {
            "feature_extractor": {
                "class": f"{type(model).__module__}.{type(model).__qualname__}",
                "features": int(self.reference.mu.shape[0]),
                "layer": "penultimate: the hidden fully-connected layer after its ReLU",
                "classes": model.num_classes,
                "weights_sha256": weights_sha256(model),
                "test_accuracy": self.classifier.test_accuracy,
            },
            "reference": {"data": self.data, "split": self.reference_split, "count": self.reference.count},
            "generated": {"count": generated_count},
            "images": {"size": model.image_size, "channels": model.channels, "value_range": [-1.0, 1.0],
                       "scaling": "generated images clipped to [-1, 1]; uint8 pixels p scaled to p / 127.5 - 1"},
            "metrics": {
                "fd": {"statistics": "mean and covariance (n - 1) of the features, float64"},
                **self.reference.features.parameters(generated_count),
                "classes_covered": {"min_share": MIN_SHARE},
                "class_kl": {"epsilon": CLASS_EPS},
            },
        }


def chance_warning(accuracy: float, labels: torch.Tensor) -> str | None:
    """What to say of a classifier whose ``accuracy`` on the held-out images of ``labels`` is near chance (less
    than :data:`NEAR_CHANCE` of the way from chance to 1), None otherwise: the labels do not tell the images apart
    (shuffled apart from them, or of something else), and the scores that rest on the classifier say little.
    Chance is what always naming the most common class scores: 1 / classes where the classes are alike in size."""
    counts = torch.bincount(labels.cpu())
    chance = counts.max().item() / len(labels)
    if accuracy >= chance + NEAR_CHANCE * (1 - chance):
        return None
    return (f"the classifier for the image scores reaches a test accuracy of {accuracy:.3f}, near chance "
            f"({chance:.3f}, the largest of {int((counts > 0).sum())} classes' share of the held-out images): do the "
            "labels belong to their images? Its scores (FD, KID, precision, recall, "
            "density, coverage, classes, confidence) say little; save the data without labels to be scored in pixel "
            "space alone")


def image_scorer(config: Config, sampler: Sampler, progress: bool = False) -> ImageScorer | None:
    """The :class:`ImageScorer` of labelled image data, or None (points, and images without labels, which get
    the pixel-space distances only)."""
    if len(sampler.shape) != 3 or getattr(sampler, "labels", None) is None:
        return None
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(config.data).name) or "images"
    (train_images, train_labels, test_images, test_labels), split = _held_out(config, sampler)
    if len(test_images) < REFERENCE_FEWEST:
        reference = split.split(" (")[0]
        raise WganError(f"data {config.data!r} has too few labelled images for the image scores: their reference, "
                        f"the {reference}, holds {len(test_images)} and needs at least {REFERENCE_FEWEST}: add "
                        "images, or save the data without its labels (the run is then scored in pixel space alone)")
    trained = load_classifier(f"{name}-{config.image_size}", train_images, train_labels, test_images, test_labels,
                              device=sampler.device, progress=progress)
    if progress:
        print(f"classifier for the image scores: test accuracy {trained.test_accuracy:.4f} ({trained.path})")
    if (said := chance_warning(trained.test_accuracy, test_labels)) is not None:
        print(f"wgan: warning: {said}", file=sys.stderr)
    return ImageScorer(trained, reference_statistics(trained.model, test_images), config.data, split)
