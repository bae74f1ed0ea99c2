"""The Python API: train, resume, load a run, draw samples. The CLI is a thin layer over these functions.

>>> import wgan
>>> run = wgan.train(data="25gaussians", algorithm="wgan-gp", iterations=2000)   # doctest: +SKIP
>>> run.history[-1]["eval/w1"], run.generator                                    # doctest: +SKIP

This module wires the pieces together (config -> sampler -> models -> objective -> trainer -> evaluation ->
run folder); each piece lives in its own module and knows nothing of the others downstream.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import plots
from .config import Config, make_config, resolve
from .data import build_sampler
from .data.sampler import Sampler
from .errors import WganError
from .metrics import Scorer, critic_values, evaluate, evaluation_mode
from .metrics.image_scorer import image_scorer
from .models import build_models, count_parameters
from .objectives import Objective, build_objective
from .runs import RunFolder
from .trainer import Trainer

EVAL_SEED_OFFSET = 1  # evaluation noise comes from seed + 1, apart from the training stream


@dataclass
class Run:
    """A trained (or loaded) run: its folder, settings, history of logged rows and the trained modules."""

    path: Path | None
    config: Config
    generator: nn.Module
    critic: nn.Module
    history: list[dict[str, Any]]
    iteration: int

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` generated samples as a numpy array of shape (n, *sample_shape)."""
        return generate(self.generator, self.config.latent_dim, n, seed)


def pick_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else CPU; an unavailable CUDA device is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise WganError(f"device '{name}' was asked for but this machine has no CUDA GPU: use --device cpu")
    return device


def generate(generator: nn.Module, latent_dim: int, n: int, seed: int) -> np.ndarray:
    """``n`` samples from ``generator`` (in eval mode) with noise from ``seed``, on the host."""
    device = next(generator.parameters()).device
    rng = torch.Generator(device).manual_seed(seed)
    with evaluation_mode(generator), torch.no_grad():
        return generator(torch.randn(n, latent_dim, generator=rng, device=device)).float().cpu().numpy()


def _summary(scalars: dict[str, float], objective: Objective) -> str:
    """'W estimate 0.100 | exact W1 0.185 | modes 9/25 | high quality 20%' for figure titles."""
    parts = [f"{objective.estimate_name} {scalars['estimate']:.3f}", f"exact W1 {scalars['w1']:.3f}"]
    if "modes_covered" in scalars:
        parts += [f"modes {scalars['modes_covered']}/{scalars['modes_total']}",
                  f"high quality {scalars['high_quality']:.0%}"]
    if "fd" in scalars:
        parts += [f"FD {scalars['fd']:.2f}", f"classes {scalars['classes_covered']}/{scalars['classes_total']}",
                  f"confidence {scalars['confidence']:.2f}"]
    return " | ".join(parts)


GRID_SAMPLES = 64  # images in each evaluation's sample grid: always the first noise vectors of the fixed seed


def _evaluator(run: RunFolder, config: Config, generator: nn.Module, critic: nn.Module, objective: Objective,
               sampler: Sampler, scorer: Scorer | None):
    """Metrics and a figure at each evaluation point: samples over the critic's landscape for points, a grid
    of generated images from the same noise every time for images."""

    def evaluate_at(iteration: int) -> dict[str, float]:
        result = evaluate(generator, critic, objective, sampler, config.latent_dim, config.eval_samples,
                          config.seed + EVAL_SEED_OFFSET, config.batch_size, scorer)
        title = f"{config.algorithm} on {Path(config.data).name}, iteration {iteration}\n" \
                f"{_summary(result.scalars, objective)}"
        if len(sampler.shape) == 3:
            figure = plots.sample_grid(result.fake[:GRID_SAMPLES], title)
        else:
            landscape = (lambda points: critic_values(critic, points, sampler.device)) if sampler.shape == (2,) \
                else None
            figure = plots.critic_landscape(result.real, result.fake, landscape, title)
        run.write_figure(f"samples/iter_{iteration:06d}.png", figure)
        return result.scalars

    return evaluate_at


def _assemble(config: Config, open_run: Callable[[], RunFolder | None], scores: bool = True,
              progress: bool = False) -> Trainer:
    """Build sampler, models and objective (and, with ``scores``, the image scorer), then ``open_run()``: a new
    folder only once all input is checked."""
    device = pick_device(config.device)
    sampler = build_sampler(config.data, device, config.data_dir, config.image_size)
    torch.manual_seed(config.seed)
    generator, critic = (module.to(device) for module in build_models(config, sampler.shape))
    objective = build_objective(config)
    scorer = image_scorer(config, sampler, progress) if scores else None
    run = open_run()
    evaluator = _evaluator(run, config, generator, critic, objective, sampler, scorer) if run is not None else None
    return Trainer(config, generator, critic, objective, sampler, run, evaluator)


def _finish(trainer: Trainer, progress: bool) -> Run:
    run = trainer.run
    try:
        trainer.fit(progress=progress)
    finally:
        if run is not None and run.history:
            run.write_figure("curves.png", plots.training_curves(
                run.history, trainer.objective.estimate_name,
                f"{trainer.config.algorithm} on {Path(trainer.config.data).name}"))
            if len(trainer.sampler.shape) == 3:
                grids = sorted((run.path / "samples").glob("iter_*.png"))
                if grids:
                    run.write_figure("progress.gif", plots.progress_gif([grid.read_bytes() for grid in grids]))
    return Run(run.path if run else None, trainer.config, trainer.generator, trainer.critic, trainer.history,
               trainer.iteration)


def describe(trainer: Trainer) -> str:
    """One line on what is about to run: models' sizes, device, algorithm."""
    config = trainer.config
    return (f"{config.algorithm} on {config.data} | generator {count_parameters(trainer.generator):,} and critic "
            f"{count_parameters(trainer.critic):,} parameters | {trainer.device} {config.precision} | "
            f"{config.iterations} iterations" + (f" or {config.max_minutes:g} minutes of training, whichever comes "
                                                 "first" if config.max_minutes else ""))


def train(config: Config | None = None, *, write: bool = True, progress: bool = True, **settings: Any) -> Run:
    """Train a GAN/WGAN and return the :class:`Run`.

    Parameters
    ----------
    config : Config, optional
        Settings from :func:`~wgan.config.make_config`; or give keyword ``settings`` instead, e.g.
        ``train(algorithm="wgan")`` (``make_config(file, **settings)`` combines a file with settings).
    write : bool
        Write the run folder (config, metrics, figures, checkpoints). Without it, nothing touches the disk.
    progress : bool
        Show a progress bar.
    """
    if config is not None and settings:
        raise WganError("give train() either a Config or keyword settings, not both: "
                        "make_config(file, **settings) combines a file with settings")
    config = resolve(config) if config is not None else make_config(**settings)
    trainer = _assemble(config, (lambda: RunFolder.create(config)) if write else (lambda: None), progress=progress)
    if progress:
        print(describe(trainer) + (f" | run folder {trainer.run.path}" if trainer.run else ""))
    return _finish(trainer, progress)


def resume(path: str | Path, iterations: int | None = None, progress: bool = True,
           max_minutes: float | None = None, eval_every: int | None = None) -> Run:
    """Continue the run in ``path`` from its latest checkpoint, optionally to a new number of iterations or a
    new training-time budget (``max_minutes``, counted from the run's start), evaluating every ``eval_every``
    iterations from here on if given.

    The continuation is bit-exact: the same random streams and losses as a run that was never interrupted
    (evaluations draw from their own stream, so how often they come does not change the training).
    """
    run = RunFolder.open(path)
    config = run.config()
    changes = {name: value for name, value in (("iterations", iterations), ("max_minutes", max_minutes),
                                               ("eval_every", eval_every)) if value is not None}
    config = resolve(dataclasses.replace(config, **changes))
    trainer = _assemble(config, lambda: run, progress=progress)
    trainer.load_state_dict(run.load_checkpoint("latest", trainer.device))
    if trainer.finished:
        raise WganError(f"run '{path}' already reached iteration {trainer.iteration} of {config.iterations} "
                        f"after {trainer.train_seconds / 60:.1f} minutes of training: pass a larger --iterations "
                        "(or --max-minutes) to continue it")
    run.rewind(trainer.iteration)
    if progress:
        print(describe(trainer) + f" | resuming {run.path} at iteration {trainer.iteration}")
    return _finish(trainer, progress)


def _load(path: str | Path, checkpoint: str, device: str) -> tuple[RunFolder, Trainer]:
    if checkpoint not in ("best", "latest"):
        raise WganError(f"checkpoint '{checkpoint}' is not known: choose best or latest")
    run = RunFolder.open(path)
    trainer = _assemble(resolve(dataclasses.replace(run.config(), device=device)), lambda: None, scores=False)
    trainer.load_state_dict(run.load_checkpoint(checkpoint, trainer.device))
    return run, trainer


def load_run(path: str | Path, checkpoint: str = "best", device: str = "cpu") -> Run:
    """Load a trained run's modules from a checkpoint (``best`` by exact W1, or ``latest``)."""
    run, trainer = _load(path, checkpoint, device)
    return Run(run.path, trainer.config, trainer.generator, trainer.critic, run.history, trainer.iteration)


def evaluate_run(path: str | Path, checkpoint: str = "best", samples: int | None = None, device: str = "cpu"
                 ) -> dict[str, float]:
    """Evaluate a saved run's checkpoint on fresh samples: the critic's estimate, exact W1, and mode coverage
    (mixtures) or the classifier's scores (labelled images)."""
    _, trainer = _load(path, checkpoint, device)
    config = trainer.config
    n = config.eval_samples if samples is None else samples
    if n < 2:
        raise WganError(f"samples must be at least 2, got {n}")
    result = evaluate(trainer.generator, trainer.critic, trainer.objective, trainer.sampler, config.latent_dim, n,
                      config.seed + EVAL_SEED_OFFSET, config.batch_size,
                      image_scorer(config, trainer.sampler, progress=False))
    return {"iteration": trainer.iteration, **result.scalars}
