"""The Python API: train, resume, load a run, draw samples. The CLI is a thin layer over these functions.

>>> import wgan
>>> run = wgan.train(data="25gaussians", algorithm="wgan-gp", iterations=2000)   # doctest: +SKIP
>>> run.history[-1]["eval/w1"], run.generator                                    # doctest: +SKIP

This module wires the pieces together (config -> sampler -> models -> objective -> trainer -> evaluation ->
run folder); each piece lives in its own module and knows nothing of the others downstream.

Launched by torchrun, :func:`train` and :func:`resume` train on all the processes it started
(:mod:`wgan.distributed`); rank 0 writes the run folder and returns the history, the others an empty one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import plots
from .checks import check_fits_in_memory, check_flag, check_torch_seed, whole_number
from .cpu_precision import emulated
from .config import (FIELDS, PATHS, Config, check_every_setting_counts, device_name, make_config, resolve, typed,
                     with_absolute_paths)
from .data import build_sampler, fingerprint, users_own
from .data.points import scale_warning
from .data.sampler import RecordedShape, Sampler, TensorSampler
from .distributed import (World, check_batch, joined, normalised_batch, pick_device, sync_batch_norm,
                          world_size_from_environment)
from .errors import Interrupted, Stopped, WganError, reason, remedy
from .exits import tell_launcher_the_run
from .metrics import Scorer, critic_values, evaluate, evaluation_mode
from .metrics.image_scorer import ImageScorer, image_scorer
from .models import build_models, check_fits, count_parameters
from .objectives import OBJECTIVES, Objective, build_objective
from .outputs import output_form, write_samples
from .process_settings import leaves_the_process_as_it_was
from .randomness import global_cpu_seed
from .resume_rules import (DECAY_CHOICES, RESUMABLE, best_kept_in_history, extended, iterations_edited_by_hand,
                           require_kept, require_trained_settings, require_unfinished)
from .runs import (CURVES, DATA_RECORD, FIGURE_PREFIX, METRIC_CARD, METRICS_FILE, PROGRESS, RunFolder,
                   refuse_the_runs_own)
from .signals import STOP_SIGNALS, Passed, as_ctrl_c, let_pass, signals_handled
from .trainer import Trainer

EVAL_SEED_OFFSET = 1  # evaluation noise comes from seed + 1, apart from the training stream
GENERATED_AT_ONCE = 4096  # samples per generator call when drawing many (generate)


@dataclass(repr=False)
class Run:
    """A trained (or loaded) run: its folder, settings, history of logged rows and the trained modules, with the
    moving average of the generator's weights when the run kept one (``ema_decay``), else ``None``. ``iteration``
    is the modules' own; the history is the whole run's, also past a loaded best checkpoint's iteration (its rows
    are those with ``row["iteration"] <= run.iteration``).

    The generator and its average come in eval mode, as :meth:`sample` runs them: a batch-norm generator uses
    its running statistics, and calling it changes nothing. The critic comes in training mode, as the logged
    estimate reads it (a batch-norm critic normalises each batch by its own statistics). Images are generated
    as ``(n, C, H, W)`` in [-1, 1] (clipped there, as the figures and scores take them: the MLP generator of
    the reference code has no output tanh); points as ``(n, d)`` in the data's units.
    """

    path: Path | None
    config: Config
    generator: nn.Module
    critic: nn.Module
    history: list[dict[str, Any]]
    iteration: int
    average: nn.Module | None = None

    def __repr__(self) -> str:
        """One line, as a notebook shows the value of ``wgan.train(...)``: not every setting and logged row."""
        where = str(self.path) if self.path is not None else "not written"
        return (f"Run({where}: {self.config.algorithm} on {self.config.data}, iteration {self.iteration}, "
                f"{len(self.history)} logged rows{', with a moving average' if self.average is not None else ''})")

    def pick_generator(self, ema: bool | None = None) -> nn.Module:
        """The generator to sample: the moving average when the run has one (or ``ema=True``, which requires
        it), the trained generator itself with ``ema=False``."""
        ema = check_flag(ema, "ema", none=True)
        if ema and self.average is None:
            raise WganError("this run has no moving average of its generator (it was trained without "
                            "--ema-decay): leave out --ema (ema=True in Python) to use the generator itself")
        return self.average if self.average is not None and ema is not False else self.generator

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, ema: bool | None = None) -> np.ndarray:
        """``n`` generated samples as a numpy array of shape (n, *sample_shape), from :meth:`pick_generator`."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
            raise WganError(f"n must be a positive whole number of samples, got {n!r}")
        samples = generate(self.pick_generator(ema), self.config.latent_dim, int(n), check_torch_seed(seed))
        return np.clip(samples, -1, 1, out=samples) if samples.ndim == 4 else samples

    def save_samples(self, out: str | os.PathLike, n: int, seed: int = 0, ema: bool | None = None) -> str:
        """Write ``n`` samples (:meth:`sample`) in the form ``out`` names, as ``wgan sample --out`` does:
        ``FILE.npy`` the array; ``FILE.png`` a grid of the images, or a scatter of points beside as many of the
        data (their first two coordinates; histograms of 1-D ones); ``DIR/`` one PNG per image. Returns what was
        written, in words."""
        form = output_form(out)  # a mistyped out fails before anything is drawn
        if self.path is not None:
            refuse_the_runs_own(self.path, out)
        refuse_the_data(self.config, out)
        drawn_by = "moving average" if self.pick_generator(ema) is self.average else "generator"
        title = (f"{self.path.name if self.path is not None else 'run'}: {self.config.algorithm} on "
                 f"{Path(self.config.data).name}, iteration {self.iteration}, {drawn_by} (seed {seed})")
        samples = self.sample(n, seed, ema)
        if samples.ndim == 2 and form == "png" and self.path is not None:  # drawn beside the data: which data?
            changed = _data_change(self.path, self.config, "the figure draws the data as it is now")
            if changed:
                print(f"wgan: warning: {changed}", file=sys.stderr)
        return write_samples(samples, out, self.config, seed, title)


def generate(generator: nn.Module, latent_dim: int, n: int, seed: int) -> np.ndarray:
    """``n`` samples from ``generator`` (in eval mode) with noise from ``seed``, on the host: the noise drawn at
    once on the CPU (the same noise whatever the generator's device), the generator run on
    :data:`GENERATED_AT_ONCE` of it at a time, so that its activations take the same memory whatever ``n`` (a
    million 16x16 images at once took 24 GB)."""
    device = next(generator.parameters()).device
    check_fits_in_memory(4 * n * latent_dim, f"the noise of {n:,} samples", "draw fewer", device)
    noise = torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float32).to(device)
    with evaluation_mode(generator), torch.no_grad():
        first, *rest = noise.split(GENERATED_AT_ONCE)
        parts = [generator(first).float().cpu().numpy()]
        check_fits_in_memory(2 * n * parts[0][0].nbytes, f"{n:,} samples of shape {parts[0].shape[1:]} (the parts "
                             "and their concatenation)", "draw fewer")
        return np.concatenate(parts + [generator(part).float().cpu().numpy() for part in rest])


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


def _evaluator(run: RunFolder | None, config: Config, generator: nn.Module, critic: nn.Module,
               objective: Objective, sampler: Sampler, scorer: Scorer | None, normalised_batch: int):
    """Metrics at each evaluation point, of the generator and (keys prefixed ``ema_``) of its moving average when
    there is one; with a run folder and ``config.figures``, a figure of each: samples over the critic's landscape
    for points, a grid of generated images from the same noise every time for images (the average's under
    ``samples/ema/``). A batch-norm critic is read over batches of ``normalised_batch``, the rows it normalised
    over in training."""

    def scores(module: nn.Module, iteration: int, folder: str, prefix: str) -> dict[str, float]:
        result = evaluate(module, critic, objective, sampler, config.latent_dim, config.eval_samples,
                          config.seed + EVAL_SEED_OFFSET, normalised_batch, scorer)
        if run is not None and config.figures:
            which = " (moving average)" if prefix else ""
            title = f"{config.algorithm} on {Path(config.data).name}{which}, iteration {iteration}\n" \
                    f"{_summary(result.scalars, objective)}"
            if len(sampler.shape) == 3:
                figure = plots.sample_grid(result.fake[:GRID_SAMPLES], title)
            else:
                landscape = (lambda points: critic_values(critic, points, sampler.device)) \
                    if sampler.shape in ((1,), (2,)) else None
                figure = plots.critic_landscape(result.real, result.fake, landscape, title)
            run.write_figure(f"{folder}/{FIGURE_PREFIX}{iteration:06d}.png", figure)
        return {prefix + key: value for key, value in result.scalars.items()}

    def evaluate_at(iteration: int, average: nn.Module | None) -> dict[str, float]:
        scalars = scores(generator, iteration, "samples", "")
        if average is not None:
            scalars |= scores(average, iteration, "samples/ema", "ema_")
        return scalars

    return evaluate_at


def _assemble(config: Config, open_run: Callable[[], RunFolder | None], scores: bool = True,
              progress: bool = False, world: World = World(), recorded_shape: tuple[int, ...] | None = None,
              shape_only: bool = False) -> Trainer:
    """Build sampler, models and objective on every rank, and on the writing rank the image scorer (with
    ``scores``) and then ``open_run()``: a new folder only once all input is checked. Every rank has checked
    its input before the trainer wraps the models for DistributedDataParallel (which talks to the others).

    ``recorded_shape`` is the samples' shape a resumed or loaded run's checkpoint records, which images are
    drawn in (a grey folder that the run read as RGB); with ``shape_only`` the models are built from it alone.
    """

    def prepare():
        # the paths may differ between nodes
        world.require_as_rank_0({name: value for name, value in config.to_dict().items() if name not in PATHS})
        device = pick_device(config.device, world)
        if device.type == "cuda":  # TF32 tensor cores for float32 matmuls and convolutions, unless refused
            torch.set_float32_matmul_precision("high" if config.tf32 else "highest")
            torch.backends.cudnn.allow_tf32 = config.tf32
        channels = recorded_shape[0] if recorded_shape is not None and len(recorded_shape) == 3 else None
        sampler = RecordedShape(config.data, recorded_shape, device) if shape_only \
            else build_sampler(config.data, device, config.data_dir, config.image_size, channels)
        check_fits(config, sampler.shape, device)
        _check_data_fits(config, sampler.shape, config.eval_samples, device)
        _check_precision_holds(config, sampler)
        with global_cpu_seed(config.seed):  # the caller's random state is left as it was
            generator, critic = (module.to(device) for module in build_models(config, sampler.shape))
        if config.sync_batchnorm:
            generator, critic = (sync_batch_norm(module, world, device) for module in (generator, critic))
        objective = build_objective(config)
        scorer = image_scorer(config, sampler, progress) if scores and world.is_writer else None
        _check_enough_for_scores(scorer, config.eval_samples, "--eval-samples", "eval_samples")
        run = open_run() if world.is_writer else None
        if run is not None and scorer is not None:  # what the image scores can be compared with
            run.write_json(METRIC_CARD, scorer.card(config.eval_samples))
        rows = normalised_batch(config.batch_size, world.size, config.sync_batchnorm)
        evaluator = _evaluator(run, config, generator, critic, objective, sampler, scorer, rows) \
            if world.is_writer else None
        return sampler, generator, critic, objective, run, evaluator

    sampler, generator, critic, objective, run, evaluator = world.all_succeed(prepare)
    return Trainer(config, generator, critic, objective, sampler, run, evaluator, world)


def _check_data_fits(config: Config, shape: tuple[int, ...], samples: int, device: torch.device) -> None:
    """Refuse batches or evaluation samples whose data alone would not fit in ``device``'s memory, before a
    step allocates them (the networks' activations come on top): a training phase's noise and generated
    batches (up to n_critic of them in one pass) with its real batch, and ``samples`` noise, generated and real
    samples at an evaluation."""
    row = math.prod(shape)
    check_fits_in_memory(4 * config.batch_size * (config.n_critic * (config.latent_dim + row) + row),
                         f"a batch of {config.batch_size:,} with n_critic {config.n_critic}",
                         "lower batch_size (--batch-size) or n_critic", device)
    check_fits_in_memory(4 * samples * (config.latent_dim + 2 * row), f"{samples:,} evaluation samples",
                         "lower eval_samples (--eval-samples, --samples)", device)


def _check_precision_holds(config: Config, sampler: Sampler) -> None:
    """Refuse float16 training on points beyond float16's range: the networks' first products would be infinite
    at every step, and each rollback would blame the learning rate."""
    if config.precision == "fp16" and isinstance(sampler, TensorSampler) and len(sampler.shape) == 1:
        largest, limit = sampler.data.abs().max().item(), torch.finfo(torch.float16).max
        if largest > limit:
            raise WganError(f"the points in '{config.data}' reach {largest:.3g}, beyond float16's largest number "
                            f"({limit:g}): --precision fp16 cannot hold them; use bf16 or fp32, or standardise each "
                            "column ((x - mean) / std)")


def _check_enough_for_scores(scorer: ImageScorer | None, samples: int, flag: str, keyword: str) -> None:
    """Refuse, before any training or evaluation, fewer generated images than the image scores take; the
    message names the command line's ``flag`` and Python's ``keyword`` for the setting."""
    if scorer is not None and samples < scorer.fewest_samples:
        raise WganError(f"{flag} {samples} is too few for the image scores, which compare each generated image "
                        f"with its nearest others: pass {flag} {scorer.fewest_samples} or more ({keyword}= in "
                        "Python)")


def _finish(trainer: Trainer, progress: bool, passed: Passed) -> Run:
    """Train, then draw the run's curves (also after a stop or an error), and give the folder back.

    ``passed`` counts the stop signals let pass once training has ended (while it trains, the trainer's handlers
    take them: a Ctrl-C that stopped it counts as the first, so that a second one interrupts the figures at once).
    A file the run cannot write (a full disk, a folder made read-only) stops it with one line: every file is
    written atomically, so the checkpoints written before are intact.
    """
    run = trainer.run
    try:
        trainer.fit(progress=progress)
    except BaseException as error:
        passed.interrupts += trainer.stop_signal == "SIGINT"
        if run is not None:
            _close(trainer, run, quietly=True)  # the error in flight says what went wrong
        if isinstance(error, OSError):
            raise _training_stopped_writing(error, trainer) from None
        if isinstance(error, Stopped):  # the run so far, for the caller (with write=False, all there is of it)
            error.run = _as_run(trainer, run.path if run else None, trainer.history)
        raise
    passed.interrupts += trainer.stop_signal == "SIGINT"  # the run finished at the iteration it was asked to
    if run is not None:
        try:
            _close(trainer, run, quietly=False)
        except KeyboardInterrupt:  # a second Ctrl-C: a resume would refuse the finished run
            raise Interrupted(str(run.path), finished=True) from None
    return _as_run(trainer, run.path if run else None, trainer.history)


def _as_run(trainer: Trainer, path: Path | None, history: list[dict[str, Any]]) -> Run:
    """The trainer's modules as a :class:`Run`, its generators in eval mode (see there)."""
    average = trainer.average.module if trainer.average else None
    for generator in (trainer.generator, average):
        if generator is not None:
            generator.eval()
    return Run(path, trainer.config, trainer.generator, trainer.critic, history, trainer.iteration, average)


def _close(trainer: Trainer, run: RunFolder, quietly: bool) -> None:
    """Draw the curves and give the folder back. A figure that cannot be drawn (a full disk, a damaged figure
    in samples/) is a warning unless ``quietly`` (another error is already on its way): the run is complete
    without it, and a resume would refuse to train a finished run again."""
    try:
        _draw_curves(trainer, run)
    except (OSError, _DamagedFigure) as error:
        if not quietly:
            why = str(error) if isinstance(error, _DamagedFigure) else \
                f"'{error.filename or run.path}': {reason(error)}"
            print(f"wgan: warning: curves.png and progress.gif were not all drawn ({why}): the run is complete, its "
                  f"checkpoints and metrics are saved (draw them later with `wgan plot {shlex.quote(str(run.path))}`)",
                  file=sys.stderr)
    finally:
        run.close()


def _training_stopped_writing(error: OSError, trainer: Trainer) -> WganError:
    """One line for a file the run could not write, with where its last checkpoint is."""
    run = trainer.run
    where = error.filename or (run.path if run else "the run folder")
    stopped = f"cannot write '{where}' ({reason(error)}): training stopped at iteration {trainer.iteration}"
    if run is None or not run.resumable():  # a new run's folder, then removed: nothing in it could be resumed
        return WganError(f"{stopped}, before its first checkpoint, so its folder is removed: {remedy(error)}, and "
                         "start it again")
    return WganError(f"{stopped}; the checkpoints written before are intact (the last at iteration "
                     f"{trainer.last_good_iteration}): {remedy(error)}, and continue with `wgan train --resume "
                     f"{shlex.quote(str(run.path))}`")


def _draw_curves(trainer: Trainer, run: RunFolder) -> None:
    """The figures over the run's course as it ends (:func:`_draw_run_figures`), unless ``figures`` is off."""
    if run.history and trainer.config.figures:
        _draw_run_figures(run, trainer.config)


def _draw_run_figures(run: RunFolder, config: Config) -> list[Path]:
    """curves.png from the run's history, and progress.gif from its per-evaluation figures (the sample grids of
    images, the samples over the critic's landscape of points) where it has any; returns the paths written."""
    curves = plots.training_curves(run.history, OBJECTIVES[config.algorithm].estimate_name,
                                   f"{config.algorithm} on {Path(config.data).name}",
                                   images=config.image_size is not None)
    written = [run.write_figure(CURVES, curves)]
    frames = run.evaluation_figures()
    if frames:
        try:
            animation = plots.progress_gif([frame.read_bytes() for frame in frames])
        except WganError:  # a frame that is not an image
            raise _DamagedFigure("a figure in samples/ is not an image") from None
        written.append(run.write_figure(PROGRESS, animation))
    return written


def plot_run(path: str | Path) -> list[Path]:
    """Draw a run's figures over its whole course from what it logged, as the run draws them when it ends:
    curves.png from metrics.jsonl and, where it has evaluation figures in samples/, progress.gif from them;
    each replaces the one there (its checkpoints, logs and samples/ are only read). For a run trained with
    ``figures`` off (curves.png alone: it drew no evaluation figures), one stopped as its last figures were being
    drawn, or one whose figures were deleted. Returns the paths written. A run that a training holds is refused
    (its lock): plot it once that training has ended."""
    run = RunFolder.open(path)
    config = run.recorded_config()
    if not run.history:
        raise WganError(f"run '{run.path}' has logged nothing yet ({METRICS_FILE} holds no rows): there are no "
                        "curves to draw before its first logged iteration")
    run.lock()
    try:
        return _draw_run_figures(run, config)
    except _DamagedFigure as error:
        raise WganError(f"run '{run.path}': curves.png is drawn, progress.gif is not: {error} (move it out of "
                        "samples/, and plot again)") from None
    except OSError as error:
        raise WganError(f"cannot write '{error.filename or run.path}' ({reason(error)}): {remedy(error)}, and "
                        "plot again") from None
    finally:
        run.close()


class _DamagedFigure(Exception):
    """A run's evaluation figure that is no longer an image, met as progress.gif is drawn from them."""


def describe(trainer: Trainer) -> str:
    """One line on what is about to run: models' sizes, device(s), algorithm."""
    config, world = trainer.config, trainer.world
    processes = f" | {world.size} processes x {trainer.rows} of each batch of {config.batch_size}" \
        if world.size > 1 else ""
    return (f"{config.algorithm} on {config.data} | generator {count_parameters(trainer.generator):,} and critic "
            f"{count_parameters(trainer.critic):,} parameters | {trainer.device} {config.precision}{processes} | "
            f"{config.iterations} iterations" + (f" or {config.max_minutes:g} minutes of training, whichever comes "
                                                 "first" if config.max_minutes else ""))


@leaves_the_process_as_it_was
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
    **settings
        Any setting of :class:`~wgan.config.Config` by name: ``help(wgan.Config)`` lists each with its default
        (the same as ``wgan train --help``).

    Started by torchrun, every process calls this and they train together (:mod:`wgan.distributed`);
    ``batch_size`` is then the global batch, and it must split evenly over the processes.
    """
    if config is not None and settings:
        raise WganError("give train() either a Config or keyword settings, not both: "
                        "make_config(file, **settings) combines a file with settings")
    write, progress = check_flag(write, "write"), check_flag(progress, "progress")
    if config is not None and not isinstance(config, Config):
        raise WganError(f"train() takes a Config or keyword settings, not the {type(config).__name__} {config!r}: "
                        "train(make_config('settings.toml')) reads a file, train(iterations=500) sets one value")
    config = with_absolute_paths(resolve(config) if config is not None else make_config(**settings))
    check_every_setting_counts(config)
    check_batch(config.batch_size, world_size_from_environment())
    if config.sync_batchnorm and world_size_from_environment() == 1:  # a resume may go on in one process
        raise WganError("sync_batchnorm has no effect in one process, whose batch norm sees the whole batch already: "
                        "leave --sync-batchnorm out, or train on several processes (--nproc, torchrun)")
    if write:
        _require_out_outside_the_images(config)
    # A stop signal never meets its default action from here to the end (wgan.signals): let pass, and handed on
    # once the processes have finished together, under the handlers of joining, building and training.
    with let_pass() as passed, joined() as world:
        progress = progress and world.is_writer
        created: list[RunFolder] = []  # the new folder, once made (while the trainer is still being built)

        def new_folder() -> RunFolder:
            created.append(_new_run_folder(config))
            return created[0]

        try:
            with signals_handled(STOP_SIGNALS, as_ctrl_c):  # (a SIGTERM had left a folder without a checkpoint)
                trainer = _assemble(config, new_folder if write else (lambda: None), progress=progress, world=world)
                if world.is_writer:
                    for warning in _start_warnings(trainer):
                        print(f"wgan: warning: {warning}", file=sys.stderr)
                if progress:
                    print(describe(trainer) + (f" | run folder {trainer.run.path}" if trainer.run else ""))
            return _finish(trainer, progress, passed)
        except Exception:  # an error, not a stop (which saves a checkpoint) or an interrupt (below)
            if created:  # (the agent of `--nproc` stops this rank with SIGTERM as another fails: let pass)
                created[0].discard_if_unresumable()
            raise
        except (Stopped, Interrupted):
            raise
        except KeyboardInterrupt:
            raise Interrupted(_kept(created[0] if created else None)) from None


def _start_warnings(trainer: Trainer) -> list[str]:
    """What a new run should be told before it trains: points far from the defaults' scale, a learning rate
    that decays over more iterations than a time budget may reach, and a precision this CPU only emulates."""
    config, sampler, warnings = trainer.config, trainer.sampler, []
    if slow := emulated(config.precision, trainer.device):
        warnings.append(f"{slow}: use --precision fp32")
    if isinstance(sampler, TensorSampler) and len(sampler.shape) == 1 \
            and (far := scale_warning(sampler.data, config.data)):
        warnings.append(far)
    end = config.lr_decay_end or config.iterations
    if config.lr_decay == "linear" and end < config.iterations:
        warnings.append(f"the learning rate reaches 0 at iteration {end:,} (lr_decay_end), and the last "
                        f"{config.iterations - end:,} iterations train at rate 0, changing nothing: give an end at "
                        "--iterations (or leave it out)")
    if config.lr_decay == "linear" and config.max_minutes:
        warnings.append(f"the learning rate decays linearly to 0 at iteration {end:,}, and --max-minutes "
                        f"{config.max_minutes:g} may stop the run long before: set --iterations to about what the "
                        "budget reaches, or --lr-decay none")
    return warnings


def _kept(run: RunFolder | None) -> str | None:
    """The path of ``run``'s folder if it holds a checkpoint to resume, else None (the folder removed)."""
    if run is None:
        return None
    run.discard_if_unresumable()
    return str(run.path) if run.path.exists() else None


def _require_out_outside_the_images(config: Config) -> None:
    """Refuse a run folder inside the folder of images the run trains on: its figures (curves, sample grids)
    are images, which this run's resume and every later run on that folder would read as data."""
    images = users_own(config.data, config.data_dir)
    if images is not None and images.is_dir() and _lies_within(config.out, images):
        raise WganError(f"out '{config.out}' lies inside the folder of images '{images.resolve()}' that the run trains "
                        "on: its figures would become training data; choose an out folder outside it (--out)")


def refuse_the_data(config: Config, out: str | os.PathLike) -> None:
    """Refuse ``out`` where samples written there would change the data the run of ``config`` trains on: its
    data file, which they would replace, or a place in its folder of images, where they would become images of
    its resume and of every later run on that folder."""
    data = users_own(config.data, config.data_dir)
    if data is None or not _lies_within(out, data):
        return
    if data.is_dir():
        raise WganError(f"out '{os.fspath(out)}' lies inside the folder of images '{data.resolve()}' that the run "
                        "trains on: samples written there would become training data; give a name outside it")
    raise WganError(f"out '{os.fspath(out)}' is the data file the run trains on: samples written there would replace "
                    "it; give another name")


def _lies_within(path: str | os.PathLike, place: Path) -> bool:
    """Whether ``path`` is ``place`` or lies inside it, links followed."""
    path, place = Path(os.path.realpath(path)), Path(os.path.realpath(place))
    return path == place or place in path.parents


def _new_run_folder(config: Config) -> RunFolder:
    """A new run's folder, with the fingerprint of the data it starts on (what a resume compares)."""
    run = RunFolder.create(config)
    tell_launcher_the_run(run.path, new=True, made_out=run.made_out)
    run.write_json(DATA_RECORD, {"data": config.data, "fingerprint": fingerprint(config.data, config.data_dir)})
    return run


@leaves_the_process_as_it_was
def resume(path: str | Path, iterations: int | None = None, progress: bool = True,
           max_minutes: float | None = None, eval_every: int | None = None, decay: str | None = None,
           device: str | None = None, **others: Any) -> Run:
    """Continue the run in ``path`` from its latest checkpoint, optionally to a new number of iterations or a
    new training-time budget (``max_minutes``, counted from the run's start), evaluating every ``eval_every``
    iterations from here on if given, and on another ``device`` (a run trained on a GPU continues on the CPU).
    Its other settings are those it was trained with: another setting (``lr=``) may be given only with the run's
    own value (the command or call that started the run, given again), and a different one is refused with a
    line that names both.

    The continuation is bit-exact: the same random streams and losses as a run that was never interrupted
    (evaluations draw from their own stream, so how often they come does not change the training), apart from
    what docs/RELIABILITY.md lists (a time budget's last evaluation stays, a rollback after a resume between two
    evaluations returns to the resumed checkpoint). A run may
    continue on another number of processes than it started on: its checkpoint is the same either way. Rank 0
    alone reads the folder and hands the settings and the checkpoint to the others. It holds the folder's lock
    while it trains, and a latest checkpoint that is missing or damaged is replaced by the previous one, with a
    warning.

    A learning rate that decays linearly to 0 at the last iteration (``lr_decay = linear``) would jump when
    ``iterations`` moves that end: ``decay = "restart"`` starts a new decay from the base rate at the resumed
    iteration down to 0 at the new end (the default, also after an earlier resume kept the end); ``"keep"``
    keeps the decay's end where it was (the rate stays 0 after it). A line says which; ``decay`` given where
    nothing decays or the end does not move is refused.
    """
    unknown = [name for name in others if name not in FIELDS]
    if unknown:
        raise WganError(f"resume() got an unknown keyword {unknown[0]!r}: it takes iterations=, max_minutes=, "
                        "eval_every=, decay=, device= and progress=, and the run's other settings as trained")
    if decay not in (None, *DECAY_CHOICES):
        raise WganError(f"decay '{decay}' is not known: choose restart or keep")
    progress = check_flag(progress, "progress")
    changes = {name: value for name, value in zip(RESUMABLE, (iterations, max_minutes, eval_every, device))
               if value is not None}

    def read() -> tuple[RunFolder, Config, dict[str, Any], list[str], str]:
        run = RunFolder.open(path)
        tell_launcher_the_run(run.path, new=False)
        run.lock()
        try:
            state, fallback = run.load_resumable()
            saved = run.config()
            require_trained_settings(run, saved, state)
            require_kept(saved, others)
            saved, given, edit = iterations_edited_by_hand(saved, state, changes)
            changed = typed(dataclasses.replace(saved, **given))
            require_unfinished(path, changed, state)
            config, note = extended(saved, changed, state["iteration"], decay)
            check_batch(config.batch_size, world_size_from_environment(), kept=True)
            changed = _data_change(run.path, config, "training continues on the data as it is now")
        except BaseException:  # whatever went wrong, the folder is not left locked for the rest of the process
            run.close()
            raise
        notes = [line for line in (fallback, edit, note, changed) if line]
        return run, config, state, notes, "latest" if fallback is None else "previous"

    with let_pass() as passed, joined() as world:  # as in train()
        progress = progress and world.is_writer
        run = None
        try:
            with signals_handled(STOP_SIGNALS, as_ctrl_c):
                run, config, state, notes, resumed = world.all_succeed(
                    read if world.is_writer else lambda: (None,) * 3 + ([], ""))
                config, state = world.share((config, state))
                trainer = _assemble(config, lambda: run, progress=progress, world=world,
                                    recorded_shape=_recorded_shape(state))
                trainer.load_state_dict(state)
                if trainer.stream_restarted and world.is_writer:
                    notes.append(f"the run's random stream was saved on another kind of device than {trainer.device}"
                                 ", which cannot continue it: it starts afresh from the seed and iteration, so this "
                                 "continuation draws other numbers than the run would have drawn there")
                if run is not None:
                    run.write_config(config)
                    run.rewind(trainer.iteration)
                    notes += best_kept_in_history(run, trainer, resumed)
                for note in notes:  # a fallback to the previous checkpoint, what happens to the decay
                    print(f"wgan: warning: {note}", file=sys.stderr)
                if progress:
                    print(describe(trainer) + f" | resuming {run.path} at iteration {trainer.iteration}")
        except BaseException:
            if run is not None:
                run.close()
            raise
        return _finish(trainer, progress, passed)


def _data_change(folder: Path, config: Config, what_follows: str) -> str | None:
    """A line saying that the data of the run in ``folder`` is not what the run started on (its fingerprint,
    recorded then, differs) and ``what_follows``, or None; runs written before the record have none to compare."""
    record = folder / DATA_RECORD
    if not record.is_file():
        return None
    try:
        started_on = json.loads(record.read_bytes()).get("fingerprint")
    except (ValueError, AttributeError):  # not JSON, not text, or not the record's object: damaged
        return (f"{record} is damaged, so whether the data changed since the run started on it is not known: "
                f"{what_follows}")
    now = fingerprint(config.data, config.data_dir)
    if started_on is None or now is None or started_on == now:  # (data that is not there: its reader says so)
        return None
    return f"the data {config.data!r} changed since the run started on it: {what_follows}"


def build_trainer(config: Config) -> Trainer:
    """A trainer for ``config`` (resolved and checked here) in this process alone, with no run folder and no
    image scores: for code that drives the steps itself (:meth:`Trainer.step`), such as ``wgan play``."""
    return _assemble(resolve(config), lambda: None, scores=False)


def _load(path: str | Path, checkpoint: str, device: str | torch.device, needs_data: bool = True
          ) -> tuple[RunFolder, Trainer, dict[str, Any]]:
    """The run in ``path`` with its ``checkpoint`` loaded, and that checkpoint. Without ``needs_data``
    (sampling), the models are built from the samples' shape the checkpoint records, without reading the data:
    data that has moved, or been replaced since, does not stop a trained generator from sampling. A checkpoint
    written before the shape was recorded builds them from the data."""
    if checkpoint not in ("best", "latest"):
        raise WganError(f"checkpoint '{checkpoint}' is not known: choose best or latest")
    device = device_name(device)
    run = RunFolder.open(path)
    state = run.load_checkpoint(checkpoint, "cpu")  # moved to the device by load_state_dict
    shape_only = not needs_data and "sample_shape" in state
    recorded = run.recorded_config() if shape_only else run.config()  # config() names data that has moved
    require_trained_settings(run, recorded, state)
    config = typed(dataclasses.replace(recorded, device=device))
    trainer = _assemble(config if shape_only else resolve(config), lambda: None, scores=False,
                        recorded_shape=_recorded_shape(state), shape_only=shape_only)
    trainer.load_state_dict(state)
    return run, trainer, state


def _recorded_shape(state: dict[str, Any]) -> tuple[int, ...] | None:
    """The samples' shape a checkpoint records (None in one written before it was recorded)."""
    return tuple(state["sample_shape"]) if "sample_shape" in state else None


@leaves_the_process_as_it_was
def load_run(path: str | Path, checkpoint: str = "best", device: str | torch.device = "cpu") -> Run:
    """Load a trained run's modules from a checkpoint (``best``: the lowest FD for labelled images, else the
    lowest exact W1, of the moving average when the run kept one; or ``latest``), built from the
    samples' shape the checkpoint records: a run whose data has moved or changed since loads too (it can be
    sampled; evaluating it reads the data). Its history is the whole run's, beyond the best checkpoint too
    (:class:`Run`)."""
    run, trainer, _ = _load(path, checkpoint, device, needs_data=False)
    return _as_run(trainer, run.path, run.history)


@leaves_the_process_as_it_was
def evaluate_run(path: str | Path, checkpoint: str = "best", samples: int | None = None,
                 device: str | torch.device = "cpu", ema: bool | None = None, seed: int | None = None
                 ) -> dict[str, Any]:
    """Evaluate a saved run's checkpoint: the critic's estimate, exact W1, and mode coverage (mixtures) or the
    classifier's scores (labelled images) with their ``metric_card``; of the generator's moving average when the
    run kept one, unless ``ema=False`` (see :meth:`Run.pick_generator`). ``generator`` in the result says which.
    Data that changed since the run started on it is scored as it is now, with a warning, as a resume warns.

    The noise and real samples come from the run's evaluation stream (its seed + 1), so that the scores of a
    checkpoint are those training logged for it (at the same number of samples, on the kind of device it trained
    on: a GPU's generator draws other numbers than the CPU's); ``seed`` draws them from that
    seed's stream instead, e.g. to see how much the scores move from one draw to another. ``seed`` in the result
    says which stream, and ``samples`` how many were scored (eval_samples unless ``samples`` is given).
    """
    samples = None if samples is None else whole_number(samples, "samples", 2, 10000)
    seed = None if seed is None else check_torch_seed(seed)
    run, trainer, state = _load(path, checkpoint, device)
    config = trainer.config
    changed = _data_change(run.path, config, "the scores compare the generator with the data as it is now")
    if changed:
        print(f"wgan: warning: {changed}", file=sys.stderr)
    n = config.eval_samples if samples is None else samples
    _check_data_fits(config, trainer.sampler.shape, n, trainer.device)
    loaded = _as_run(trainer, run.path, run.history)
    generator = loaded.pick_generator(ema)
    scorer = image_scorer(config, trainer.sampler, progress=False)
    _check_enough_for_scores(scorer, n, "--samples", "samples")
    drawn = config.seed + EVAL_SEED_OFFSET if seed is None else seed
    result = evaluate(generator, trainer.critic, trainer.objective, trainer.sampler, config.latent_dim, n, drawn,
                      state.get("normalised_batch", config.batch_size), scorer)
    card = {"metric_card": scorer.card(n)} if scorer is not None else {}
    return {"iteration": trainer.iteration, "generator": "moving average" if generator is loaded.average
            else "generator", "seed": drawn, "samples": n, **result.scalars, **card}
