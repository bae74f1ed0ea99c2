"""Evaluation during and after training: named metrics over a fixed batch of real and generated samples.

Each metric is a function ``(real, generated, sampler) -> {name: value}`` registered in :data:`METRICS`; it
returns an empty dict when it does not apply (mode coverage needs a known mixture). :func:`evaluate` draws the
samples from a fixed seed, so successive evaluations of a run see the same noise and are comparable, and
never touch the training random stream (a resumed run stays identical to an uninterrupted one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..data.sampler import Sampler
from ..distances import w1
from ..objectives import Objective
from .modes import mode_coverage

Metric = Callable[[np.ndarray, np.ndarray, Sampler], dict[str, float]]
METRICS: dict[str, Metric] = {}


def metric(name: str) -> Callable[[Metric], Metric]:
    """Register a metric under ``name``."""

    def register(function: Metric) -> Metric:
        METRICS[name] = function
        return function

    return register


@metric("w1")
def exact_w1(real: np.ndarray, fake: np.ndarray, sampler: Sampler) -> dict[str, float]:
    """Exact W1 between the generated and the real samples (POT's network simplex, euclidean cost)."""
    return {"w1": w1(real.reshape(len(real), -1), fake.reshape(len(fake), -1))}


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


@torch.no_grad()
def evaluate(generator: nn.Module, critic: nn.Module, objective: Objective, sampler: Sampler, latent_dim: int,
             n: int, seed: int) -> Evaluation:
    """Draw ``n`` real and ``n`` generated samples from ``seed`` and compute every applicable metric.

    ``estimate`` is the objective's distance estimate (mean f(real) - mean f(fake) for WGANs) on these samples.
    """
    rng = torch.Generator(sampler.device).manual_seed(seed)
    with evaluation_mode(generator, critic):
        real = sampler.sample(n, rng)
        fake = generator(torch.randn(n, latent_dim, generator=rng, device=sampler.device)).float()
        scalars = {"estimate": objective.estimate(critic(real), critic(fake)).item()}
    real_array, fake_array = real.cpu().numpy(), fake.cpu().numpy()
    for compute in METRICS.values():
        scalars.update(compute(real_array, fake_array, sampler))
    return Evaluation(scalars, real_array, fake_array)


@torch.no_grad()
def critic_values(critic: nn.Module, points: np.ndarray, device: torch.device) -> np.ndarray:
    """The critic's value f(x) at (m, d) points, as a numpy array (for contour plots)."""
    with evaluation_mode(critic):
        return critic(torch.as_tensor(points, dtype=torch.float32, device=device)).float().cpu().numpy()
