"""Evaluation during and after training: named metrics over a fixed batch of real and generated samples.

Each metric is a function ``(real, generated, sampler) -> {name: value}`` registered in :data:`METRICS`; it
returns an empty dict when it does not apply (mode coverage needs a known mixture, the sliced distance is for
images). :func:`evaluate` draws the samples from a fixed seed, so successive evaluations of a run see the same
noise and are comparable, and never touch the training random stream (a resumed run stays identical to an
uninterrupted one). The registry's metrics see at most :data:`EXACT_SAMPLES` samples a side (exact W1 costs
O(n^3)). On points the critic's estimate sees all of them: a forward pass is cheap, and 20,000 pairs instead of
2000 cut its sampling noise about fourfold (SD 0.023 -> 0.006 at a trained swissroll critic). On images a
``scorer`` (the classifier's Frechet distance and class scores, :mod:`wgan.metrics.images`) sees all of them.

The estimate is read from the function the critic was trained as (:func:`estimate_as_trained`). For a batch-norm
critic that is not its eval mode: on MNIST (mnist-wgan, 30 minutes, docs/history/BENCHMARKS-2026-11.md) the
eval-mode estimate stayed at 0.15-0.19 from iteration 600 on while the FD fell 285 -> 77 (Spearman 0.60 over the
run); read as trained it fell 0.42 -> 0.21 with the FD (Spearman 0.99).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..data.sampler import Sampler
from ..distances import sliced_w1, w1
from ..checks import whole_number
from ..errors import SamplesNotFinite, WganError
from ..objectives import Objective, has_batch_norm
from .modes import mode_coverage

Metric = Callable[[np.ndarray, np.ndarray, Sampler], dict[str, float]]
Scorer = Callable[[torch.Tensor], dict[str, float]]  # all generated images -> scores, e.g. the classifier's
METRICS: dict[str, Metric] = {}
EXACT_SAMPLES = 2000  # samples a side for the registry's metrics (exact W1 costs O(n^3))
BATCH = 500  # samples per forward pass of the generator and the critic during evaluation


def metric(name: str) -> Callable[[Metric], Metric]:
    """Register a metric under ``name``."""

    def register(function: Metric) -> Metric:
        METRICS[name] = function
        return function

    return register


@metric("w1")
def exact_w1(real: np.ndarray, fake: np.ndarray, sampler: Sampler) -> dict[str, float]:
    """Exact W1 between the generated and the real samples, euclidean cost (:func:`wgan.distances.w1`: POT's
    network simplex, or for up to ``ASSIGNMENT_MAX`` samples a side the assignment solver)."""
    return {"w1": w1(real.reshape(len(real), -1), fake.reshape(len(fake), -1))}


@metric("sliced_w1")
def pixel_sliced_w1(real: np.ndarray, fake: np.ndarray, sampler: Sampler) -> dict[str, float]:
    """Sliced W1 between generated and real images in pixel space (200 random directions); images only."""
    if len(sampler.shape) == 1:
        return {}
    return {"sliced_w1": sliced_w1(real.reshape(len(real), -1), fake.reshape(len(fake), -1))}


@metric("modes")
def modes(real: np.ndarray, fake: np.ndarray, sampler: Sampler) -> dict[str, float]:
    """Modes covered and the fraction of high-quality samples, for Gaussian mixtures (see metrics.modes)."""
    if sampler.modes is None:
        return {}
    coverage = mode_coverage(fake, sampler.modes.centres.cpu().numpy(), sampler.modes.std)
    return {"modes_covered": coverage.covered, "modes_total": coverage.total, "high_quality": coverage.high_quality}


@dataclass
class Evaluation:
    scalars: dict[str, float]
    real: np.ndarray
    fake: np.ndarray


@contextmanager
def evaluation_mode(*modules: nn.Module) -> Iterator[None]:
    """Put modules in eval mode (batch norm uses its running statistics) and restore their mode after."""
    modes_before = [module.training for module in modules]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for module, training in zip(modules, modes_before):
            module.train(training)


def in_batches(module: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """``module(inputs)`` computed :data:`BATCH` rows at a time (bounded memory for 10,000 images), as float32."""
    return torch.cat([module(chunk).float() for chunk in inputs.split(BATCH)])


def estimate_as_trained(objective: Objective, critic: nn.Module, real: torch.Tensor, generated: torch.Tensor,
                        batch_size: int) -> torch.Tensor:
    """The objective's estimate from the critic's values f(real), f(generated), computed as in training.

    A batch-norm critic normalises each training batch by that batch's own statistics, the real and the
    generated batches apart (WGAN ``main.py``), and that per-batch function is what the critic's steps and
    the weight clipping shape. In eval mode it would normalise by its running averages, a mixture of real
    and generated statistics: another function, never trained. So it is run in train mode, on one copy (the
    running statistics stay untouched), over near-equal batches of about ``batch_size``. Other critics
    compute one function in either mode and are run in eval mode, :data:`BATCH` rows at a time.
    """
    if not has_batch_norm(critic):
        with evaluation_mode(critic):
            return objective.estimate(in_batches(critic, real), in_batches(critic, generated))
    process_groups = {id(layer.process_group): layer.process_group for layer in critic.modules()
                      if isinstance(layer, nn.SyncBatchNorm) and layer.process_group is not None}
    as_in_training = copy.deepcopy(critic, memo=process_groups).train()  # a process group is shared: no copy

    def scores(samples: torch.Tensor) -> torch.Tensor:
        batches = samples.tensor_split(max(1, math.ceil(len(samples) / batch_size)))
        return torch.cat([as_in_training(batch).float() for batch in batches])

    return objective.estimate(scores(real), scores(generated))


@torch.no_grad()
def evaluate(generator: nn.Module, critic: nn.Module, objective: Objective, sampler: Sampler, latent_dim: int,
             n: int, seed: int, batch_size: int, scorer: Scorer | None = None) -> Evaluation:
    """Draw ``n`` generated samples and as many real ones from ``seed`` and compute every applicable metric.

    The registry's metrics see the first :data:`EXACT_SAMPLES` real and generated samples. ``estimate`` is the
    objective's distance estimate (mean f(real) - mean f(fake) for WGANs), as the critic sees the samples in
    training batches of ``batch_size`` (:func:`estimate_as_trained`): all ``n`` pairs on points, the metrics'
    pairs on images, where ``scorer`` sees all ``n`` generated images. Scores other than the estimate see
    generated images clipped to [-1, 1], as an image file would hold them. Generated samples that are not
    finite raise :class:`~wgan.errors.SamplesNotFinite`.
    """
    n = whole_number(n, "n", 2, 1000)  # the metrics compare sets of samples
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):  # (a run's seed + 1 may pass 2**62)
        raise WganError(f"seed is {seed!r}; expected a whole number")
    rng = torch.Generator(sampler.device).manual_seed(seed)
    paired = min(n, EXACT_SAMPLES)
    estimated = n if len(sampler.shape) == 1 else paired
    with evaluation_mode(generator):
        real = sampler.sample(estimated, rng)
        fake = in_batches(generator, torch.randn(n, latent_dim, generator=rng, device=sampler.device))
        if tuple(fake.shape[1:]) != tuple(sampler.shape):
            raise WganError(f"the generator makes samples of shape {tuple(fake.shape[1:])}, and the data's are "
                            f"{tuple(sampler.shape)}: give the generator trained on this data")
        if not torch.isfinite(fake).all():
            raise SamplesNotFinite("the generator's samples hold NaN or infinity: its weights or batch-norm "
                                   "statistics diverged, so there is nothing to score; evaluate another checkpoint")
        estimate = estimate_as_trained(objective, critic, real, fake[:estimated], batch_size)
        scalars = {"estimate": estimate.item()}
        if len(sampler.shape) == 3:  # scored as saved: the reference MLP generator has no output tanh
            fake = fake.clamp(-1, 1)
        if scorer is not None:
            scalars.update(scorer(fake))
    real_array, fake_array = real[:paired].cpu().numpy(), fake[:paired].cpu().numpy()
    for compute in METRICS.values():
        scalars.update(compute(real_array, fake_array, sampler))
    return Evaluation(scalars, real_array, fake_array)


@torch.no_grad()
def critic_values(critic: nn.Module, points: np.ndarray, device: torch.device) -> np.ndarray:
    """The critic's value f(x) at (m, d) points, as a numpy array (for contour plots)."""
    with evaluation_mode(critic):
        return critic(torch.as_tensor(points, dtype=torch.float32, device=device)).float().cpu().numpy()
