"""The image runs behind the image experiments: the paper's MNIST presets when MNIST is at hand, the built-in
scikit-learn digits otherwise.

With ``data_dir`` (a folder of MNIST IDX files) at the full size, a run is the preset of the algorithm and model
(``mnist-wgan-nobn`` for WGAN with Fig. 6's generator; :data:`wgan.config.PRESETS`) trained for ``minutes``
(:data:`PRESET_MINUTES` unless given) of training time on this machine, evaluated every :data:`PRESET_EVAL_EVERY`
generator iterations, in ``runs/<preset>-fp32-s<seed>``. These are the folder names and settings of
``benchmarks/image_quality.py``: a run that the benchmark or an earlier experiment left there is read back, not
trained again (one that stopped short of the budget is resumed to it, one that went past is read up to it). A run
is labelled with the minutes it had trained where it reached the budget, and the budget beside them where the two
differ (a first iteration, with the warm-up's extra critic steps, may take longer than a short budget).

Without ``data_dir``, and at the quick size, the same algorithm and model train on the 8x8 digits (resized to
16 x 16, built in) for a fixed number of iterations with narrow networks, in memory. WGAN's warm-up
of 100 critic steps for 25 generator iterations would take most of such a short run; it is shortened to
:data:`DIGITS_WARMUP` generator iterations and given to both Wasserstein critics (WGAN-GP's too), so that the
critic is close to optimal when its first estimate is read, as the WGAN paper's reading of the estimate assumes.

Each run is scored by the project's classifier metrics (:mod:`wgan.metrics.images`): the Frechet distance of the
classifier's features to held-out images (FD), the classes generated and the mean confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api import EVAL_SEED_OFFSET, GRID_SAMPLES, Run, load_run, resume, train
from ..checks import TORCH_SEEDS
from ..config import PRESETS, make_config
from ..data.images import SPLITS, find_mnist_files
from ..errors import WganError
from ..plots import sample_grid
from ..runs import RunFolder

PRESET_MINUTES = 10.0  # default training time per MNIST run: the shorter budget of the image benchmark
QUICK_CHECK = "quick size, a smoke test too short for the paper's claim: "  # how a quick size's claims begin
PRESET_EVAL_EVERY = 150  # between evaluations of runs trained here; runs read back keep their own
DIGITS_WARMUP = 5  # generator iterations with the warm-up's extra critic steps, on digits


@dataclass(frozen=True)
class ImageData:
    """Where the image experiments get their data and keep their MNIST runs."""

    data_dir: str | None = None  # MNIST IDX files; None: the built-in digits
    runs: Path = Path("runs/experiments")
    minutes: float = PRESET_MINUTES  # training time of each MNIST run


@dataclass(frozen=True)
class DigitsSize:
    iterations: int
    width: dict[str, int]  # model -> base channels (DCGAN) or hidden units (MLP)
    evaluations: int  # the last at the end: one every ceil(iterations / evaluations)
    samples: int  # generated images scored per evaluation


DIGITS_QUICK = DigitsSize(iterations=200, width={"dcgan": 16, "dcgan-constant": 16, "mlp": 64}, evaluations=6,
                          samples=1000)
DIGITS_FULL = DigitsSize(iterations=2000, width={"dcgan": 32, "dcgan-constant": 32, "mlp": 256}, evaluations=20,
                         samples=2000)


@dataclass(frozen=True)
class ImageRun:
    """One run's evaluation rows (``iteration`` and the ``eval/`` scores) and its last sample grid (PNG)."""

    data: str  # "MNIST, preset mnist-wgan-nobn, 10 min", "... 0.651 min (budget 0.01)" or "digits 16x16, ..."
    evaluations: list[dict[str, Any]]
    grid_png: bytes

    def series(self, score: str) -> list[float]:
        return [row[f"eval/{score}"] for row in self.evaluations]

    @property
    def last(self) -> dict[str, Any]:
        return self.evaluations[-1]


def preset_name(algorithm: str, model: str, critic: str | None = None) -> str:
    """The MNIST preset that trains ``algorithm`` with the generator ``model`` and the critic ``critic`` (by default
    the one ``model`` names as a pair), e.g. ('wgan', 'mlp', 'dcgan') -> 'mnist-wgan-mlp'."""
    wanted = make_config(data="mnist", data_dir=".", model=model, critic_model=critic, algorithm=algorithm)
    for name in PRESETS:
        preset = make_config(preset=name, data_dir=".")
        if (preset.algorithm, preset.generator_model, preset.critic_model) == (
                algorithm, wanted.generator_model, wanted.critic_model):
            return name
    raise ValueError(f"no MNIST preset trains {algorithm} with the {wanted.generator_model} generator and the "
                     f"{wanted.critic_model} critic")


def image_run(algorithm: str, model: str, quick: bool, seed: int, data: ImageData,
              critic: str | None = None) -> ImageRun:
    """Train (or read back) ``algorithm`` with the generator ``model`` and the critic ``critic`` (by default the
    one ``model`` names) on MNIST or the digits, as the module docstring says."""
    if data.data_dir is not None and not quick:
        return _preset_run(preset_name(algorithm, model, critic), seed, data)
    return _digits_run(algorithm, model, critic, DIGITS_QUICK if quick else DIGITS_FULL, seed)


def check_mnist_files(data_dir: str) -> None:
    """Raise :class:`WganError` unless ``data_dir`` holds the MNIST files that a preset run reads: the train split
    that it trains on and the test split that its scorer holds out (:mod:`wgan.metrics.image_scorer`). They are
    found, not read, so that a missing one is refused before anything trains."""
    for split in SPLITS:
        find_mnist_files(data_dir, split)


def train_preset(preset: str, folder: Path, minutes: float, data_dir: str, precision: str = "fp32", seed: int = 0,
                 eval_every: int | None = None) -> Run:
    """Train the MNIST ``preset`` into ``folder`` until ``minutes`` of training time, or resume it there when the
    folder holds a run already (keeping its own ``eval_every`` unless given; new runs: :data:`PRESET_EVAL_EVERY`).
    A run that stopped at ``minutes`` already (e.g. in an experiment) is read back from its latest checkpoint;
    one that went past it is refused, as no checkpoint holds its state at the budget.
    """
    if not _holds_run_of(folder, preset):
        return train(preset=preset, data_dir=data_dir, precision=precision, seed=seed, iterations=10**7,
                     max_minutes=minutes, eval_every=eval_every or PRESET_EVAL_EVERY, out=str(folder.parent),
                     name=folder.name, progress=False)
    end = _budget_end(RunFolder.open(folder).history, minutes)
    if end is None:
        return resume(folder, max_minutes=minutes, eval_every=eval_every, progress=False)
    run = load_run(folder, "latest")
    if run.iteration != end:
        raise WganError(f"run '{folder}' went past {minutes:g} minutes of training (it reached {minutes:g} at "
                        f"iteration {end}, its checkpoint is at {run.iteration}): measure that budget in a new "
                        "run folder")
    return run


def _holds_run_of(folder: Path, preset: str) -> bool:
    """Whether ``folder`` holds a run; raise :class:`WganError` if that run trained another algorithm or other
    networks than ``preset`` (e.g. one made when the preset of that name meant an MLP critic)."""
    if not (folder / "config.toml").is_file():
        return False
    trained, wanted = make_config(folder / "config.toml"), make_config(preset=preset, data_dir=".")
    networks = [(config.algorithm, config.generator_model, config.critic_model) for config in (trained, wanted)]
    if networks[0] != networks[1]:
        (algorithm, generator, critic), (_, wanted_generator, wanted_critic) = networks
        raise WganError(f"run '{folder}' trained {algorithm} with the {generator} generator and the {critic} critic, "
                        f"not preset {preset}'s {wanted_generator} and {wanted_critic}: move it away to measure the "
                        "preset")
    return True


def _preset_run(preset: str, seed: int, data: ImageData) -> ImageRun:
    folder = data.runs / f"{preset}-fp32-s{seed}"
    if not _holds_run_of(folder, preset) or _budget_end(RunFolder.open(folder).history, data.minutes) is None:
        print(f"  training {preset} to {data.minutes:g} minutes in {folder}", flush=True)
        train_preset(preset, folder, data.minutes, data.data_dir, seed=seed)
    history = RunFolder.open(folder).history
    reached = _budget_row(history, data.minutes)
    rows = [row for row in history if "eval/fd" in row and row["iteration"] <= reached["iteration"]]
    grid = folder / "samples" / f"iter_{rows[-1]['iteration']:06d}.png"
    trained = f"{reached['time/train_minutes']:.3g}"
    budget = "" if trained == f"{data.minutes:.3g}" else f" (budget {data.minutes:g})"
    return ImageRun(f"MNIST, preset {preset}, {trained} min{budget}", rows, grid.read_bytes())


def _budget_row(history: list[dict[str, Any]], minutes: float) -> dict[str, Any] | None:
    """The first logged row at which the run's training time reached ``minutes``, or None if it has not."""
    return next((row for row in history if row.get("time/train_minutes", 0) >= minutes), None)


def _budget_end(history: list[dict[str, Any]], minutes: float) -> int | None:
    """The iteration at which the run's training time reached ``minutes``, or None if it has not."""
    reached = _budget_row(history, minutes)
    return None if reached is None else reached["iteration"]


def _digits_run(algorithm: str, model: str, critic: str | None, size: DigitsSize, seed: int) -> ImageRun:
    warmup = {"warmup": True, "warmup_generator_iters": DIGITS_WARMUP} if algorithm in ("wgan", "wgan-gp") else {}
    critic = critic or make_config(data="digits", model=model).critic_model
    run = train(data="digits", algorithm=algorithm, model=model, critic_model=critic,
                generator_width=size.width[model], critic_width=size.width[critic],
                iterations=size.iterations, eval_every=math.ceil(size.iterations / size.evaluations),
                eval_samples=size.samples, seed=seed, write=False, progress=False, **warmup)
    rows = [row for row in run.history if "eval/fd" in row]
    # the last evaluation's grid, from its noise (the evaluation stream's first vectors, whose seed torch keeps
    # the low 32 bits of; other batches round otherwise): trained into a folder, the run drew a figure at every
    # evaluation, curves.png and progress.gif, and saved its checkpoints, none of them read: 1.7 s of a quick GAN
    # run's 11.5 (one thread, 2-core AMD EPYC)
    samples = run.sample(GRID_SAMPLES, seed=(seed + EVAL_SEED_OFFSET) % TORCH_SEEDS)
    grid = sample_grid(samples, f"{algorithm} on digits, iteration {run.iteration}")
    return ImageRun(f"digits 16x16, {size.iterations} iterations", rows, grid)
