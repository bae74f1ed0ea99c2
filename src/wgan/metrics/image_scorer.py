"""The classifier scores of a run on labelled images: its classifier and held-out reference, set up once.

For image data with labels, :func:`image_scorer` gets the dataset's classifier (trained on the training
images the run samples from, or loaded from the cache: :func:`~wgan.metrics.classifier.load_classifier`) and
the reference statistics of held-out images: the test split where the dataset has one (MNIST, Fashion-MNIST,
CIFAR-10), else a fixed fifth of the images (the digits). It returns the scorer that
:func:`wgan.metrics.evaluate` calls with all generated images: Frechet distance of the classifier's features,
classes generated, class-histogram KL and mean confidence (:func:`~wgan.metrics.images.classifier_scores`).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from ..config import Config
from ..data.images import IMAGE_DATASETS, build_image_sampler
from ..data.sampler import Sampler
from .classifier import load_classifier
from .images import classifier_scores, reference_statistics

HELD_OUT = 0.2  # the fraction of a split-less labelled set kept for the classifier's test and the reference
SPLIT_SEED = 0  # the permutation that picks it: fixed, so every run of a dataset shares one classifier


def _held_out(config: Config, sampler: Sampler) -> tuple[torch.Tensor, ...]:
    """(train images, train labels, test images, test labels) as uint8 images and int64 labels."""
    entry = IMAGE_DATASETS.get(config.data)
    if entry is not None and entry.has_splits:
        test = build_image_sampler(config.data, sampler.device, config.data_dir or None, config.image_size, "test")
        return sampler.images, sampler.labels, test.images, test.labels
    order = torch.randperm(len(sampler.images), generator=torch.Generator().manual_seed(SPLIT_SEED))
    cut = int(len(order) * (1 - HELD_OUT))
    train, test = order[:cut].to(sampler.images.device), order[cut:].to(sampler.images.device)
    return sampler.images[train], sampler.labels[train], sampler.images[test], sampler.labels[test]


def image_scorer(config: Config, sampler: Sampler, progress: bool = False):
    """``scorer(generated) -> {fd, classes_covered, classes_total, class_kl, confidence}`` for labelled image
    data, or None (points, and images without labels, which get the pixel-space distances only)."""
    if len(sampler.shape) != 3 or getattr(sampler, "labels", None) is None:
        return None
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(config.data).name) or "images"
    train_images, train_labels, test_images, test_labels = _held_out(config, sampler)
    trained = load_classifier(f"{name}-{config.image_size}", train_images, train_labels, test_images, test_labels,
                              device=sampler.device, progress=progress)
    if progress:
        print(f"classifier for the image scores: test accuracy {trained.test_accuracy:.4f} ({trained.path})")
    reference = reference_statistics(trained.model, test_images)
    return lambda generated: classifier_scores(trained.model, generated, reference)
