"""Configuration: every setting of a run, its default, where that default comes from, and its validation.

A run's settings are resolved once, in this order (later wins): the defaults below, a preset
(:data:`PRESETS`, ``--preset``), a TOML file (``--config``), then flags or keyword arguments. Settings left as
``None`` are derived: the algorithm's from :data:`ALGORITHM_DEFAULTS`, which quote the papers (with
:data:`POINT_DATA_OVERRIDES` on point data), and the data's and model's from :data:`DATA_DEFAULTS` and
:data:`IMAGE_MODEL_DEFAULTS`. :func:`make_config` returns a fully resolved, validated :class:`Config`; every
check of user input starts here and raises :class:`~wgan.errors.WganError`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import textwrap
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checks import check_seed, check_torch_seed
from .data import DATASET_NAMES, data_kind, is_missing_path, reads_data_dir
from .models import CRITICS, GENERATORS, MODELS
from .models.dcgan import check_image_size
from .models.resnet import IMAGE_SIZE as RESNET_IMAGE_SIZE
from .errors import WganError


@dataclass(frozen=True)
class AlgorithmDefaults:
    """The optimiser and constraint settings an algorithm's paper prescribes."""

    optimizer: str
    lr: float
    beta1: float
    beta2: float
    n_critic: int
    clip: float
    penalty_weight: float
    warmup: bool
    source: str
    lr_decay: str = "none"


ALGORITHM_DEFAULTS: dict[str, AlgorithmDefaults] = {
    # Goodfellow et al. 2014, Eq. 1 (minimax); Adam 2e-4, beta1 0.5 from DCGAN (Radford et al. 2016, Sec. 4).
    "gan": AlgorithmDefaults("adam", 2e-4, 0.5, 0.999, 1, 0.0, 0.0, False,
                             "Goodfellow et al. 2014 Alg. 1 with DCGAN's Adam (Radford et al. 2016, Sec. 4)"),
    # Goodfellow et al. 2014, Sec. 3: train G to maximise log D(G(z)) instead; same optimiser as "gan".
    "gan-ns": AlgorithmDefaults("adam", 2e-4, 0.5, 0.999, 1, 0.0, 0.0, False,
                                "Goodfellow et al. 2014 Sec. 3 with DCGAN's Adam (Radford et al. 2016, Sec. 4)"),
    # Arjovsky et al. 2017, Algorithm 1: alpha = 5e-5, c = 0.01, m = 64, n_critic = 5, RMSProp.
    # The warm-up (100 critic steps for the first 25 generator steps and every 500th) is the reference main.py.
    "wgan": AlgorithmDefaults("rmsprop", 5e-5, 0.0, 0.0, 5, 0.01, 0.0, True,
                              "WGAN Algorithm 1 (Arjovsky et al. 2017); warm-up from the reference code"),
    # Gulrajani et al. 2017, Algorithm 1: lambda = 10, n_critic = 5, Adam alpha = 1e-4, beta1 = 0, beta2 = 0.9.
    "wgan-gp": AlgorithmDefaults("adam", 1e-4, 0.0, 0.9, 5, 0.0, 10.0, False,
                                 "WGAN-GP Algorithm 1 (Gulrajani et al. 2017)"),
    # Petzka et al. 2018, Eq. 8: one-sided penalty; WGAN-GP's optimiser and lambda for a like-for-like comparison.
    "wgan-lp": AlgorithmDefaults("adam", 1e-4, 0.0, 0.9, 5, 0.0, 10.0, False,
                                 "Petzka et al. 2018 Eq. 8 with WGAN-GP's Algorithm 1 settings"),
}

# On low-dimensional point data the penalised objectives use the WGAN-GP toy code's lambda = 0.1 ("smaller
# lambda makes things faster for toy tasks, but isn't necessary if you increase CRITIC_ITERS enough", gan_toy.py)
# and Adam betas (0.5, 0.9), with lr 1e-3 (the toy code: 1e-4 for 100k iterations) decayed linearly to 0 as the
# WGAN-GP image code does. Measured in docs/BENCHMARKS.md: with the paper's lambda = 10 and betas (0, 0.9) the
# 8-Gaussians generator oscillates for thousands of iterations; at a constant lr the 25-Gaussians generator
# covers 12 of 25 modes at 5000 iterations, with the decay all 25.
_POINT_DATA_PENALTY = {"penalty_weight": 0.1, "lr": 1e-3, "beta1": 0.5, "lr_decay": "linear",
                       "source": "WGAN-GP toy code gan_toy.py (lambda, betas) and our measurements (lr, decay)"}
POINT_DATA_OVERRIDES: dict[str, dict[str, Any]] = {"wgan-gp": _POINT_DATA_PENALTY, "wgan-lp": _POINT_DATA_PENALTY}
# The betas of the reference WGAN code's Adam (main.py --adam: beta1 0.5, beta2 0.999), for --optimizer adam on an
# algorithm whose paper uses RMSProp: the betas recorded for it (0, 0) would make Adam's step lr * g / |g|.
WGAN_ADAM_BETAS = {"beta1": 0.5, "beta2": 0.999}
PENALISED = ("wgan-gp", "wgan-lp")  # the algorithms with a gradient penalty (and penalty_weight)
MAX_DEPTH = 1000  # hidden layers of an MLP: deeper ones are refused before their layers are built one by one
# Critic steps in one phase (n_critic, warmup_critic_steps): a stop signal is taken at the end of an iteration,
# so a phase of more steps keeps it waiting for all of them (10^30 warm-up steps ignored SIGTERM for good).
MAX_CRITIC_STEPS = 10_000  # the papers take 5 and 100


def algorithm_defaults(algorithm: str, data: str) -> AlgorithmDefaults:
    """The paper's defaults for ``algorithm``, with the toy code's settings where ``data`` is point data."""
    defaults = ALGORITHM_DEFAULTS[algorithm]
    if data_kind(data) == "points" and algorithm in POINT_DATA_OVERRIDES:
        defaults = dataclasses.replace(defaults, **POINT_DATA_OVERRIDES[algorithm])
    return defaults


# Settings that follow the kind of data. Points: the WGAN-GP toy code (gan_toy.py), evaluated every 100 iterations
# on 20,000 samples (the critic's estimate; exact W1 on the first 2000, wgan.metrics). Images: the DCGAN setting
# of the official WGAN code (main.py: batch 64, nz 100, ngf = ndf = 64) at 32x32 as in WGAN-GP's MNIST and
# CIFAR-10 experiments, evaluated every 500 iterations on 10,000 generated images (for the Frechet distance).
DATA_DEFAULTS: dict[str, dict[str, Any]] = {
    "points": {"model": "mlp", "batch_size": 256, "latent_dim": 2, "width": 512, "depth": 3,
               "generator_norm": "none", "critic_norm": "none", "eval_every": 100, "eval_samples": 20000},
    "images": {"model": "dcgan", "batch_size": 64, "latent_dim": 100, "eval_every": 500, "eval_samples": 10000},
}
# Data defaults that are this project's choice rather than the reference code's, with the reason.
OWN_DATA_DEFAULTS = {"eval_samples": "ours: 20,000 pairs cut the noise of the critic's estimate fourfold, "
                                     "the Frechet distance needs >= 10,000 images; docs/BENCHMARKS.md"}
# On images, per model; each network takes its own model's (the generator's also sets latent_dim, an MLP's depth).
# mlp: the WGAN paper's MLP experiment (Sec. 4.3: 4 hidden layers of 512 ReLU units, no normalisation, as the
# reference code's MLP_G / MLP_D). dcgan: DCGAN_G and DCGAN_D of the reference code, both with batch norm (none in
# the critic of the penalised objectives, WGAN-GP Sec. 4). dcgan-constant: Fig. 6's generator, without batch norm
# and with a constant number of filters (a generator only: the model of that name keeps the DCGAN critic).
# resnet: WGAN-GP's CIFAR-10 ResNet.
IMAGE_MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "mlp": {"width": 512, "depth": 4, "generator_norm": "none", "critic_norm": "none"},
    "dcgan": {"width": 64, "generator_norm": "batch", "critic_norm": "batch"},
    "dcgan-constant": {"width": 64, "generator_norm": "none"},
    "resnet": {"width": 128, "latent_dim": 128, "generator_norm": "batch", "critic_norm": "none"},
}
# The side images are resized to: 32 (DCGAN 32x32; MNIST's 28 is resized), 16 for the 8x8 digits (the smallest
# DCGAN size), 64 for folders of photographs (the WGAN paper's LSUN bedrooms).
IMAGE_SIZES = {"digits": 16, "folder": 64}
DEFAULT_IMAGE_SIZE = 32


def default_image_size(data: str) -> int:
    """The side images of ``data`` are resized to unless ``image_size`` is given (see :data:`IMAGE_SIZES`)."""
    if data in IMAGE_SIZES:
        return IMAGE_SIZES[data]
    return IMAGE_SIZES["folder"] if Path(data).is_dir() else DEFAULT_IMAGE_SIZE


def data_defaults(data: str, algorithm: str, generator_model: str | None = None,
                  critic_model: str | None = None) -> dict[str, Any]:
    """Defaults of the settings that depend on the data, each network's model (the data's unless given) and (for
    the critic's norm) the algorithm. Each network takes its own model's width and norm, the generator's also
    sets latent_dim, and depth is that of the MLP among them (None without one)."""
    kind = data_kind(data)
    defaults = dict(DATA_DEFAULTS[kind])
    generator_model = generator_model or MODELS[defaults["model"]][0]
    critic_model = critic_model or MODELS[defaults["model"]][1]
    generator, critic = dict(defaults), dict(defaults)
    if kind == "images":
        generator |= IMAGE_MODEL_DEFAULTS[generator_model]
        critic |= IMAGE_MODEL_DEFAULTS[critic_model]
        defaults["image_size"] = default_image_size(data)
    mlp = [network for network, model in ((generator, generator_model), (critic, critic_model)) if model == "mlp"]
    defaults |= {"generator_model": generator_model, "critic_model": critic_model,
                 "generator_width": generator["width"], "critic_width": critic["width"],
                 "latent_dim": generator["latent_dim"], "generator_norm": generator["generator_norm"],
                 "critic_norm": critic["critic_norm"], "depth": mlp[0]["depth"] if mlp else None}
    if algorithm in PENALISED and defaults["critic_norm"] == "batch":
        defaults["critic_norm"] = "none"
    return defaults


# Small overrides for the WGAN paper's image experiments (Sec. 4.3, Figs. 5-7) on MNIST; add --data-dir.
# The -mlp presets are Fig. 7's: an MLP generator against the DCGAN critic, which Sec. 4.3 keeps for all three
# generators ("We keep the convolutional DCGAN architecture for the WGAN critic or the GAN discriminator"). The
# -mlp-critic presets make the critic an MLP too: the paper's own failure case (Fig. 3, lower half: "Loss is
# constant and samples are constant"; docs/experiments/mlp-generator.md says why).
# mnist-wgan-gp trains at Adam lr 2e-4, the initial rate of the WGAN-GP authors' ResNet code (gan_cifar_resnet.py),
# instead of Algorithm 1's 1e-4: on MNIST it reaches at each iteration about the FD and classifier confidence
# that 1e-4 reaches at twice as many (docs/BENCHMARKS.md, "mnist-wgan-gp at Adam lr 2e-4").
PRESETS: dict[str, dict[str, Any]] = {
    "mnist-wgan": {"data": "mnist", "algorithm": "wgan", "model": "dcgan"},
    "mnist-wgan-gp": {"data": "mnist", "algorithm": "wgan-gp", "model": "dcgan", "lr": 2e-4},
    "mnist-gan": {"data": "mnist", "algorithm": "gan", "model": "dcgan"},
    "mnist-wgan-nobn": {"data": "mnist", "algorithm": "wgan", "model": "dcgan-constant"},
    "mnist-gan-nobn": {"data": "mnist", "algorithm": "gan", "model": "dcgan-constant"},
    "mnist-wgan-mlp": {"data": "mnist", "algorithm": "wgan", "generator_model": "mlp", "critic_model": "dcgan"},
    "mnist-gan-mlp": {"data": "mnist", "algorithm": "gan", "generator_model": "mlp", "critic_model": "dcgan"},
    "mnist-wgan-mlp-critic": {"data": "mnist", "algorithm": "wgan", "model": "mlp"},
    "mnist-gan-mlp-critic": {"data": "mnist", "algorithm": "gan", "model": "mlp"},
}


OPTIMIZERS = ("adam", "rmsprop")
ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh")
NORMS = ("none", "layer", "batch")
PRECISIONS = ("fp32", "bf16", "fp16")
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}  # precision -> autocast dtype (fp32: none)
FLOAT32_LARGEST, FLOAT32_SMALLEST = torch.finfo(torch.float32).max, torch.finfo(torch.float32).tiny
LR_DECAYS = ("none", "linear")
ON_NAN = ("rollback", "halve-lr", "stop")
_PAPER = "WGAN-GP toy code (Gulrajani et al. 2017, gan_toy.py)"


def _setting(default: Any, text: str, source: str = "wgan") -> Any:
    return field(default=default, metadata={"help": text, "source": source})


def _from_algorithm(text: str) -> Any:
    return field(default=None, metadata={"help": text, "source": "algorithm"})


def _from_data(text: str) -> Any:
    return field(default=None, metadata={"help": text, "source": "data"})


@dataclass(frozen=True)
class Config:
    """All settings of a training run. ``None`` means "the algorithm's default" until resolved.

    :func:`make_config` returns it resolved: the defaults that follow the algorithm and the data are filled in.
    To vary a setting they follow (``algorithm``, ``data``, ``model``), call ``make_config`` again with the
    changed settings rather than ``dataclasses.replace``, which would keep the old algorithm's defaults (wgan-gp's
    Adam and clip 0 for a wgan run)."""

    preset: str = _setting("", "start from a preset of the paper's image experiments: "
                           + ", ".join(PRESETS) + " (other settings override it)")
    data: str = _setting("8gaussians", "toy set (8gaussians, 25gaussians, swissroll, parallel-lines), your points "
                         "(.npy or .csv, N rows x d numbers), an image set (mnist, fashion-mnist, cifar10 with "
                         "--data-dir; digits needs no files), a folder of images or a .npy/.npz image array (or "
                         "folder or array, with the path in --data-dir: a config file that other machines read with "
                         "their own path)", _PAPER)
    data_dir: str = _setting("", "folder holding the files of mnist, fashion-mnist or cifar10 (e.g. the IDX files); "
                             "for data folder or array: the folder of images, or the .npy/.npz file")
    algorithm: str = _setting("wgan-gp", "gan, gan-ns, wgan, wgan-gp or wgan-lp")
    iterations: int = _setting(1000, "generator iterations to train for")
    max_minutes: float = _setting(0.0, "stop after this many minutes of training (evaluations not counted); 0: "
                                  "no limit, train for --iterations")
    model: str | None = _from_data("generator and critic: mlp, dcgan, dcgan-constant (WGAN Fig. 6: no batch norm, "
                                   "constant filters, with the DCGAN critic) or resnet (WGAN-GP, 32x32); "
                                   "generator_model and critic_model (--generator-model, --critic-model) "
                                   "override it per network")
    generator_model: str | None = _from_data("the generator alone (the WGAN code's --mlp_G): mlp, dcgan, "
                                             "dcgan-constant or resnet; default: model's")
    critic_model: str | None = _from_data("the critic alone (the WGAN code's --mlp_D): mlp, dcgan or resnet; "
                                          "default: model's")
    image_size: int | None = _from_data("side of the square images the data is resized to")
    batch_size: int | None = _from_data("samples per batch, real and generated")
    latent_dim: int | None = _from_data("dimension of the generator's Gaussian noise z")
    width: int | None = _from_data("both networks' width: MLP hidden units per layer; conv models: base channels "
                                   "(ngf = ndf); generator_width and critic_width override it per network")
    generator_width: int | None = _from_data("the generator's width (ngf); default: width, else its model's")
    critic_width: int | None = _from_data("the critic's width (ndf); default: width, else its model's")
    depth: int | None = _from_data("hidden layers of the MLP generator and critic")
    activation: str = _setting("relu", "MLP hidden activation: relu, leaky_relu, elu or tanh", _PAPER)
    generator_norm: str | None = _from_data("normalisation in the generator: none, layer (MLP only) or batch")
    critic_norm: str | None = _from_data("normalisation in the critic: none, layer or batch (not with penalties, "
                                         "WGAN-GP Sec. 4)")
    optimizer: str | None = _from_algorithm("adam or rmsprop")
    lr: float | None = _from_algorithm("learning rate of both optimisers")
    beta1: float | None = _from_algorithm("Adam beta1")
    beta2: float | None = _from_algorithm("Adam beta2")
    n_critic: int | None = _from_algorithm("critic steps per generator step")
    clip: float | None = _from_algorithm("weight clipping bound c (wgan only)")
    penalty_weight: float | None = _from_algorithm("gradient penalty weight lambda (wgan-gp, wgan-lp)")
    warmup: bool | None = _from_algorithm("reference warm-up: extra critic steps early and periodically")
    lr_decay: str | None = _from_algorithm("learning-rate schedule of both optimisers: none, or linear (to 0 "
                                           "at the last iteration, as the WGAN-GP CIFAR code does)")
    lr_decay_start: int = _setting(0, "iteration the linear decay starts from (a resume with --decay restart sets it)")
    lr_decay_end: int = _setting(0, "iteration the linear decay reaches 0 at; 0: the last iteration (a resume with "
                                 "--decay keep sets it)")
    warmup_critic_steps: int = _setting(100, "critic steps per generator step during the warm-up",
                                        "WGAN reference code main.py")
    warmup_generator_iters: int = _setting(25, "first generator iterations that use the warm-up",
                                           "WGAN reference code main.py")
    warmup_every: int = _setting(500, "also warm up at every this-many-th generator iteration",
                                 "WGAN reference code main.py")
    precision: str = _setting("fp32", "fp32; bf16 autocast (float32 weights, losses in float32); or fp16 autocast "
                              "with a gradient scaler per optimiser (PyTorch AMP: steps with inf/NaN gradients are "
                              "skipped; the penalty's input gradient is scaled too)")
    device: str = _setting("auto", "auto (cuda when available), cpu, cuda or cuda:N; with several processes each "
                           "takes the GPU of its LOCAL_RANK")
    tf32: bool = _setting(True, "on CUDA, float32 matmuls and convolutions on TF32 tensor cores (Ampere and newer; "
                          "10-bit mantissa products, float32 sums); --no-tf32 for full float32")
    compile: bool = _setting(False, "torch.compile the generator's and the critic's forward passes, WGAN-GP's "
                             "one-pass critic loss (a penalty taken by double backward, for critics with layer "
                             "norm or smooth activations, stays uncompiled: torch.compile cannot differentiate "
                             "twice) and RMSProp's step; the first iterations then take the compile time (3-25 s "
                             "on 2 CPU cores); on the CPU it pays most on the DCGAN at 32x32 (1.2x in bf16, "
                             "1.1-1.15x in float32) and least on the toy (1.1x in bf16, 1.02x in float32)")
    sync_batchnorm: bool = _setting(False, "with several processes, batch norm over the whole global batch "
                                    "(nn.SyncBatchNorm, CUDA only) instead of each process's share of it")
    seed: int = _setting(0, "random seed of the models, data and noise, 0 to 2**32 - 1")
    ema_decay: float = _setting(0.0, "keep an exponential moving average of the generator's weights with this "
                                "decay (e.g. 0.999), ramped up as min(decay, t / (9 + t)) after generator step t; "
                                "evaluated beside the generator and used by sample and eval; 0: off",
                                "ours; Karras et al. 2018 (progressive GAN), Yazici et al. 2019")
    on_nan: str = _setting("rollback", "when a loss, the estimate or a weight is NaN or infinite at a log point "
                           "(or a running statistic, the samples or a score at an evaluation): "
                           "rollback (to the last good checkpoint, with a fresh noise stream), halve-lr (the same, "
                           "and halve both learning rates) or stop")
    nan_retries: int = _setting(3, "roll back at most this many times before stopping with a message")
    eval_every: int | None = _from_data("evaluate (exact W1, modes or image scores, figure) and checkpoint every "
                                        "this many iterations")
    eval_samples: int | None = _from_data("generated samples per evaluation (exact W1 and modes use the first "
                                          "2000: O(n^3))")
    log_every: int = _setting(50, "log training scalars every this many iterations")
    figures: bool = _setting(True, "draw each evaluation's figure in samples/ and, as the run ends, curves.png and "
                             "progress.gif; --no-figures for runs read by their numbers alone (a sweep): drawing is "
                             "most of a small run's time, and metrics.jsonl, TensorBoard and the checkpoints are "
                             "written as before")
    name: str = _setting("", "run folder name under --out; when none is given, algorithm-data (numbered if "
                              "taken)")
    out: str = _setting("runs", "folder that holds run folders")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELDS = {f.name: f for f in dataclasses.fields(Config)}
_TYPES = typing.get_type_hints(Config)


def field_type(name: str) -> type:
    """The plain type of a setting (``float`` for ``float | None``)."""
    hint = _TYPES[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def default_text(name: str) -> str:
    """'default: X (source)' for --help and :class:`Config`'s documentation, with the per-algorithm defaults
    spelled out."""
    field = FIELDS[name]
    if field.metadata["source"] == "algorithm":
        values = ", ".join(f"{algorithm} {getattr(defaults, name)}"
                           for algorithm, defaults in ALGORITHM_DEFAULTS.items())
        toy = ", ".join(f"{algorithm} {overrides[name]}" for algorithm, overrides in POINT_DATA_OVERRIDES.items()
                        if name in overrides)
        source = next(iter(POINT_DATA_OVERRIDES.values()))["source"]
        toy = f"; on point data {toy} (from the {source}; docs/BENCHMARKS.md)" if toy else ""
        adam = (f"; with --optimizer adam, an RMSProp algorithm's is {WGAN_ADAM_BETAS[name]} (the WGAN code's)"
                if name in WGAN_ADAM_BETAS else "")
        return f"default per algorithm: {values} (from each algorithm's paper){toy}{adam}"
    if field.metadata["source"] == "data":
        return _data_default_text(name)
    if field.default == "":
        return "default: none"
    return f"default: {field.default!r} (from {field.metadata['source']})"


def _data_default_text(name: str) -> str:
    """'default on points: X (WGAN-GP toy code); on images: Y with dcgan, Z with mlp (...)' for --help, or '' for
    a setting whose default follows another (generator_model follows model)."""
    own = OWN_DATA_DEFAULTS.get(name)
    parts = []
    if name in DATA_DEFAULTS["points"]:
        parts.append(f"on points {DATA_DEFAULTS['points'][name]!r}" + ("" if own else " (WGAN-GP toy code)"))
    if name == "image_size":
        parts.append(f"on images {DEFAULT_IMAGE_SIZE} ("
                     + ", ".join(f"{size} for {data}" for data, size in IMAGE_SIZES.items()) + ")")
    else:
        per_model = {model: defaults.get(name, DATA_DEFAULTS["images"].get(name))
                     for model, defaults in IMAGE_MODEL_DEFAULTS.items()}
        values = set(per_model.values()) - {None}
        if len(values) == 1:
            parts.append(f"on images {values.pop()!r}")
        elif values:
            parts.append("on images " + ", ".join(f"{value!r} with {model}" for model, value in per_model.items()
                                                  if value is not None))
    if not parts:  # a default that follows another setting, which the help text names
        return ""
    note = " ('batch' becomes 'none' for wgan-gp and wgan-lp)" if name == "critic_norm" else ""
    return f"default {'; '.join(parts)}{note} ({own or 'official WGAN / WGAN-GP code'}; see wgan.config)"


def _settings_documentation() -> str:
    """Every setting with its type, what it does and its default, for ``help(Config)`` (the same words as
    ``wgan train --help``)."""
    lines = ["", "", "Settings (each also a flag of ``wgan train`` and a key of a config file)", "-" * 70]
    for name, field in FIELDS.items():
        lines.append(f"{name} : {field_type(name).__name__}")
        default = default_text(name)
        lines += textwrap.wrap(field.metadata["help"] + (f"; {default}" if default else ""), 110,
                               initial_indent="    ", subsequent_indent="    ", break_on_hyphens=False)
    return "\n".join(lines)


PATHS = ("data", "data_dir", "out")  # the settings that may name a file or folder (where, differs between machines)


def _coerce(name: str, value: Any, origin: str) -> Any:
    """Check one value's type; ints are accepted where floats are expected, and numpy's scalars as Python's
    (``np.linspace``'s learning rates, ``np.arange``'s sizes)."""
    if value is None and FIELDS[name].default is None:
        return None
    kind = field_type(name)
    if isinstance(value, (np.integer, np.floating, np.bool_)) and kind in (int, float, bool):
        value = value.item()  # then checked as the Python value it is: a float size is still refused
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is str and isinstance(value, os.PathLike):  # data=Path("points.csv")
        value = os.fspath(value)
    if name == "device" and isinstance(value, torch.device):  # device=torch.device("cuda", 1)
        value = str(value)
    if name in PATHS and isinstance(value, str) and value.startswith("~"):  # as a shell reads it: in a file too
        return os.path.expanduser(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        shown = f" = {value!r}" if len(repr(value)) <= 60 else ""  # not a whole array's repr
        given = type(value).__name__
        samples = name == "data"  # an array, a tensor or a Dataset of the data itself
        raise WganError(f"{origin}: {name}{shown} is {'an' if given[0] in 'aeiou' else 'a'} {given}, expected "
                        f"{kind.__name__}" + (": data is read from a file; save the samples with numpy.save("
                                              "'data.npy', x) (x a numpy array of points (N, d) or of images (N, H, "
                                              "W), (N, H, W, C) or (N, C, H, W); tensor.numpy() of a tensor) and "
                                              "pass data='data.npy'" if samples else ""))
    return value


_PIPED: dict[tuple[str, int, int], bytes] = {}  # what each pipe given as a config file held: it reads once


LARGEST_SETTINGS_FILE = 2**20  # bytes: a run's config.toml is about 3 KB


def _settings_bytes(path: Path) -> bytes:
    """The bytes of a settings file, refused past :data:`LARGEST_SETTINGS_FILE` before they are all read (a
    device such as /dev/zero never ends)."""
    with open(path, "rb") as file:
        data = file.read(LARGEST_SETTINGS_FILE + 1)
    if len(data) > LARGEST_SETTINGS_FILE:
        raise WganError(f"config file '{path}' holds more than {LARGEST_SETTINGS_FILE // 2**20} MB, and a settings "
                        "file is a few dozen `key = value` lines: give the path of a TOML file of settings")
    return data


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read settings from a TOML file of ``key = value`` lines (the format :func:`to_toml` writes). A pipe
    (``--config <(...)``) is read once; a later call for it gets what it held."""
    if not os.fspath(path).strip():
        raise WganError("the config file's path is empty (an unset shell variable?): give the path of a TOML file")
    path = Path(path)
    if path.is_dir() or not path.exists():  # a pipe (--config <(...)) or /dev/null is read as a file
        problem = "is a folder" if path.is_dir() else "does not exist"
        raise WganError(f"config file '{path}' {problem}: give the path of a TOML file")
    try:
        if path.is_file():
            data = _settings_bytes(path)
        else:  # a pipe, known by its inode (a later pipe may take its /dev/fd/N): read once
            status = path.stat()
            pipe = (str(path), status.st_dev, status.st_ino)
            if pipe not in _PIPED:
                _PIPED[pipe] = _settings_bytes(path)
            data = _PIPED[pipe]
        text = data.decode("utf-8-sig")  # a byte-order mark is no error
        table = tomllib.loads(text)
    except RecursionError:  # tomllib's parser recurses into each nested array or table
        raise WganError(f"config file '{path}' is not valid TOML (its values nest too deeply): settings are plain "
                        "`key = value` lines; fix it there") from None
    except UnicodeDecodeError as error:
        raise WganError(f"config file '{path}' is not UTF-8 text (byte {error.start} cannot be read): save it as "
                        "UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        raise WganError(f"config file '{path}' is not valid TOML ({error}): fix it there") from None
    sections = [key for key, value in table.items() if isinstance(value, dict)]
    if sections:
        found = f"a section [{sections[0]}]" if f"[{sections[0]}]" in text else f"a table as the value of {sections[0]}"
        raise WganError(f"config file '{path}' has {found}: settings are plain `key = value` lines with no section "
                        "header (the format of a run's config.toml)")
    return {key: value for key, value in table.items()}


def make_config(file: str | Path | None = None, **overrides: Any) -> Config:
    """Build a resolved, validated :class:`Config` from defaults, an optional TOML file and overrides.

    Overrides equal to ``None`` are ignored, so unset CLI flags do not mask the file's values. A later source's
    ``width`` or ``model`` replaces an earlier one's per-network settings (:data:`PER_NETWORK`), which a run's
    config.toml records beside them; a preset given beside a file that sets all it would is refused.
    """
    if file is not None and not isinstance(file, (str, os.PathLike)):
        keywords = ": settings go as keywords, make_config(**settings)" if isinstance(file, dict) else ""
        raise WganError(f"make_config's file is the path of a TOML file, not a {type(file).__name__}{keywords}")
    settings: dict[str, Any] = {}
    tables = ((f"config file '{file}'", load_toml(file) if file is not None else {}), ("setting", overrides))
    preset = next((table["preset"] for _, table in reversed(tables) if table.get("preset")), "")
    if preset:
        if not isinstance(preset, str) or preset not in PRESETS:
            raise WganError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
        settings.update(PRESETS[preset])
        (file_origin, from_file), (_, options) = tables
        if options.get("preset") and from_file and PRESETS[preset].keys() <= from_file.keys():
            raise WganError(f"preset {preset} has no effect: {file_origin} sets every setting it gives (a run's "
                            "config.toml holds them all); leave out the preset, or start from it alone")
    for origin, table in tables:
        for key in table:
            if key not in FIELDS:
                spelt = key.lower().replace("-", "_")  # a flag's spelling: keys take underscores, in lower case
                close = [spelt] if spelt in FIELDS else [name for name in FIELDS if name.startswith(key[:4])]
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise WganError(f"{origin}: unknown setting {key!r}{hint}; `wgan train --help` lists them all")
        given = {key: _coerce(key, value, origin) for key, value in table.items() if value is not None}
        for whole, parts in PER_NETWORK.items():
            if whole in given:  # it sets both networks: an earlier table's (a run's config.toml's) parts give way
                _require_parts_agree(origin, given, whole, parts)
                settings = {key: value for key, value in settings.items() if key not in parts or key in given}
        settings.update(given)
    return resolve(Config(**settings))


# A setting for both networks -> the settings of each, which override it (a run's config.toml holds all three).
PER_NETWORK = {"width": ("generator_width", "critic_width"), "model": ("generator_model", "critic_model")}


def _require_parts_agree(origin: str, given: dict[str, Any], whole: str, parts: tuple[str, str]) -> None:
    """Refuse a table whose per-network settings both override its ``whole`` with something else: a run's
    config.toml whose width or model alone was edited, where the edit would change nothing."""
    expected = MODELS.get(given[whole], (None, None)) if whole == "model" else (given[whole],) * 2
    if all(part in given and given[part] != value for part, value in zip(parts, expected)):
        raise WganError(f"{origin}: {whole} = {given[whole]!r} but {parts[0]} = {given[parts[0]]!r} and {parts[1]} = "
                        f"{given[parts[1]]!r} override it for both networks: change them too, or delete them so that "
                        f"{whole} sets both")


def typed(config: Config) -> Config:
    """``config`` with the type of each value checked (ints taken where floats are expected), nothing else."""
    return Config(**{name: _coerce(name, value, "setting") for name, value in config.to_dict().items()})


def resolve(config: Config) -> Config:
    """Fill settings left as ``None`` from the algorithm's defaults, then validate the whole config.

    ``model`` and ``width`` set both networks; ``generator_model`` / ``critic_model`` and ``generator_width`` /
    ``critic_width`` override them per network. Once resolved, ``model`` names the pair when :data:`MODELS`
    has one for it (else None: a mixed pair) and ``width`` is the networks' common width (else None).
    """
    config = typed(config)
    if config.algorithm not in ALGORITHM_DEFAULTS:
        raise WganError(f"unknown algorithm {config.algorithm!r}: choose one of {', '.join(ALGORITHM_DEFAULTS)}")
    _require(config.model in (None, *MODELS), f"model {config.model!r} is not known: choose one of {', '.join(MODELS)}")
    generator_model, critic_model = MODELS.get(config.model, (None, None))
    generator_model, critic_model = config.generator_model or generator_model, config.critic_model or critic_model
    _require(generator_model in (None, *GENERATORS),
             f"generator_model {generator_model!r} is not known: choose one of {', '.join(GENERATORS)}")
    _require(critic_model in (None, *CRITICS), f"critic_model {critic_model!r} is not known: choose one of "
             f"{', '.join(CRITICS)}" + (" (dcgan-constant is WGAN Fig. 6's generator; its critic is dcgan)"
                                        if critic_model == "dcgan-constant" else ""))
    defaults = dataclasses.asdict(algorithm_defaults(config.algorithm, config.data))
    if defaults["optimizer"] == "rmsprop" and config.optimizer == "adam":  # WGAN's RMSProp has no betas to give
        defaults |= WGAN_ADAM_BETAS
    defaults |= data_defaults(config.data, config.algorithm, generator_model, critic_model)
    if config.width is not None:
        defaults |= {"generator_width": config.width, "critic_width": config.width}
    filled = {name: defaults[name] for name, value in config.to_dict().items()
              if value is None and name in defaults and name not in ("model", "width")}
    config = dataclasses.replace(config, **filled)
    pair = (config.generator_model, config.critic_model)
    config = dataclasses.replace(config, model=next((name for name, models in MODELS.items() if models == pair), None),
                                 width=config.generator_width if config.generator_width == config.critic_width
                                 else None)
    validate(config)
    return config


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise WganError(message)


def device_name(device: Any) -> str:
    """``device`` (a name or a ``torch.device``) as its name, refused unless auto, cpu, cuda or cuda:N: torch
    reads others ("gpu", "mps") as it can, or not at all."""
    name = str(device) if isinstance(device, torch.device) else device
    _require(isinstance(name, str) and re.fullmatch(r"auto|cpu|cuda(:\d+)?", name) is not None,
             f"device {device!r} is not known: use auto, cpu, cuda or cuda:N")
    return name


def _choice(config: Config, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(config, name)
    _require(value in choices, f"{name} {value!r} is not known: choose one of {', '.join(choices)}")


def validate(config: Config) -> None:
    """Check every setting of a resolved config; raise :class:`WganError` naming the first problem."""
    for name in ("iterations", "batch_size", "latent_dim", "generator_width", "critic_width", "depth", "n_critic",
                 "warmup_critic_steps", "warmup_every", "eval_every", "eval_samples", "log_every", "image_size"):
        value = getattr(config, name)
        _require(value is None or value > 0, f"{name} must be a positive whole number, got {value}")
    _require(config.eval_samples >= 2, f"eval_samples must be at least 2 (the metrics compare sets of samples), "
             f"got {config.eval_samples}")
    try:
        check_seed(config.seed)  # a run written before seeds were held to torch's 32 bits (new runs) still loads
    except WganError:
        check_torch_seed(config.seed)  # raises, naming the seeds a run may be given
    _require(config.depth is None or config.depth <= MAX_DEPTH, f"depth {config.depth} is more than {MAX_DEPTH} "
             "hidden layers: lower --depth (the papers' MLPs have 3 or 4)")
    _require(config.warmup_generator_iters >= 0,
             f"warmup_generator_iters must be 0 or more, got {config.warmup_generator_iters}")
    for name in ("lr", "beta1", "beta2", "clip", "penalty_weight", "max_minutes", "ema_decay"):
        value = getattr(config, name)
        _require(math.isfinite(value), f"{name} must be a finite number, got {value}")
    for name in ("lr", "clip", "penalty_weight"):  # numbers the training multiplies float32 tensors by
        value = getattr(config, name)
        _require(abs(value) <= FLOAT32_LARGEST, f"{name} {value:g} is beyond float32's range ({FLOAT32_LARGEST:.3g}), "
                 "in which training computes with it: every loss it scales would be infinite; give a smaller one")
    _require(not 0 < config.lr < FLOAT32_SMALLEST, f"lr {config.lr:g} is below float32's smallest normal number "
             f"({FLOAT32_SMALLEST:.3g}), in which the updates are computed: they would vanish and train "
             "nothing; give a larger one")
    _require(config.max_minutes >= 0, f"max_minutes must be 0 (no limit) or more, got {config.max_minutes}")
    _require(0 <= config.ema_decay < 1, f"ema_decay must lie in [0, 1) (0: no average), got {config.ema_decay}")
    _require(config.lr > 0, f"lr must be positive, got {config.lr}: try the algorithm's default by leaving it out")
    _require(0 <= config.beta1 < 1 and 0 <= config.beta2 < 1,
             f"Adam betas must lie in [0, 1), got beta1={config.beta1}, beta2={config.beta2}")
    if config.algorithm == "wgan":
        _require(config.clip > 0, f"clip must be positive for wgan (the paper uses 0.01), got {config.clip}")
    else:
        _require(config.clip == 0, f"clip {config.clip} has no effect: only wgan clips the critic's weights, and "
                 f"{config.algorithm} does not; leave clip out, or choose the algorithm wgan")
    if config.algorithm not in PENALISED:
        _require(config.penalty_weight == 0, f"penalty_weight {config.penalty_weight} has no effect: "
                 f"{config.algorithm} has no gradient penalty; leave it out, or choose {' or '.join(PENALISED)}")
    if config.algorithm in PENALISED:
        _require(config.penalty_weight > 0,
                 f"penalty_weight must be positive for {config.algorithm} (the paper uses 10), "
                 f"got {config.penalty_weight}")
        _require(config.critic_norm != "batch",
                 f"critic_norm 'batch' breaks the per-sample gradient penalty of {config.algorithm} "
                 "(WGAN-GP Sec. 4): use 'layer' or 'none'")
    _require(config.batch_size >= 2 or "batch" not in (config.critic_norm, config.generator_norm),
             "batch norm needs batch_size of at least 2")
    _choice(config, "optimizer", OPTIMIZERS)
    _choice(config, "activation", ACTIVATIONS)
    _choice(config, "generator_norm", NORMS)
    _validate_models(config)
    _choice(config, "critic_norm", NORMS)
    _choice(config, "precision", PRECISIONS)
    _choice(config, "lr_decay", LR_DECAYS)
    _choice(config, "on_nan", ON_NAN)
    for name in ("lr_decay_start", "lr_decay_end", "nan_retries"):
        _require(getattr(config, name) >= 0, f"{name} must be 0 or more, got {getattr(config, name)}")
    decay_end = config.lr_decay_end or config.iterations
    _require(config.lr_decay != "linear" or decay_end > config.lr_decay_start,
             f"the linear decay would end (iteration {decay_end}) before it starts ({config.lr_decay_start}): "
             "give a later lr_decay_end or iterations, or an earlier lr_decay_start (a resumed run's config.toml "
             "records where its decay restarted: delete that line to decay from the start)")
    device_name(config.device)
    _require(config.name == "" or (Path(config.name).name == config.name and config.name not in (".", "..")),
             f"run name {config.name!r} must be a plain folder name: not '.' or '..', and without '/'")
    _require(config.data != "", "data is empty: give a toy dataset name or a .npy/.csv file")


def with_absolute_paths(config: Config) -> Config:
    """``config`` with its data file or folder and its ``data_dir`` as absolute paths, so that the run folder's
    config.toml finds them from any working directory (``wgan sample``, ``eval``, ``--resume`` elsewhere)."""
    given = {"data": config.data, "data_dir": config.data_dir}
    paths = {name: str(Path(value).absolute()) for name, value in given.items()
             if value and value not in DATASET_NAMES and Path(value).exists()}
    return dataclasses.replace(config, **paths)


def check_every_setting_counts(config: Config) -> None:
    """Refuse settings of a new run given with a value that nothing in its configuration reads (their defaults
    pass), and names, folders and phases that earlier versions let through. Not part of :func:`validate`: a run
    folder written before these checks must still load."""
    _require(config.name == config.name.strip() and config.name.isprintable(), f"run name {config.name!r} holds "
             "a line break, a tab or another control character, or spaces at its ends: name the run with printable "
             "characters")
    _require(config.out.strip() != "", "out is empty (an unset shell variable?): name the folder that holds the run "
             "folders, e.g. --out runs")
    check_torch_seed(config.seed)
    for name in ("n_critic", "warmup_critic_steps"):
        _require(getattr(config, name) <= MAX_CRITIC_STEPS, f"{name} {getattr(config, name)} is more than "
                 f"{MAX_CRITIC_STEPS:,} critic steps in one phase, which a stop signal (Ctrl-C, a scheduler's "
                 "SIGTERM) would wait for: the papers take 5 and 100")
    if config.optimizer == "rmsprop":  # a beta other than the algorithm's default was given, and RMSProp has none
        defaults = algorithm_defaults(config.algorithm, config.data)
        for name in ("beta1", "beta2"):
            _require(getattr(config, name) == getattr(defaults, name), f"{name} {getattr(config, name)} has no "
                     "effect: RMSProp has no betas (Adam's); leave it out, or choose --optimizer adam")
    points = data_kind(config.data) == "points"
    if points and (config.image_size is not None or config.data_dir):
        _require_data_found(config.data)
    _require(not points or config.image_size is None,
             f"image_size {config.image_size} has no effect: data {config.data!r} is points, not images; leave it out")
    _require(not points or not config.data_dir, f"data_dir {config.data_dir!r} has no effect: data "
             f"{config.data!r} is points, which read no data_dir; leave it out")
    read_where = "comes with scikit-learn, which needs no files" if config.data in DATASET_NAMES else \
        "is read from that path alone"
    _require(points or not config.data_dir or reads_data_dir(config.data), f"data_dir {config.data_dir!r} has no "
             f"effect: data {config.data!r} {read_where}; leave it out")
    given = [f"{name} {getattr(config, name)}" for name in ("lr_decay_start", "lr_decay_end") if getattr(config, name)]
    _require(config.lr_decay == "linear" or not given, f"{' and '.join(given)} {'have' if len(given) > 1 else 'has'} "
             "no effect: lr_decay is none; choose --lr-decay linear, or leave "
             f"{'them' if len(given) > 1 else 'it'} out")
    mlp = "mlp" in (config.generator_model, config.critic_model)
    _require(config.activation == FIELDS["activation"].default or mlp,
             f"activation {config.activation!r} has no effect: only MLPs take it, and the models are "
             f"{config.generator_model} and {config.critic_model}; leave it out, or choose --model mlp")
    _require(config.depth is None or mlp, f"depth {config.depth} has no effect: only MLPs take it, and the models "
             f"are {config.generator_model} and {config.critic_model}; leave it out, or choose --model mlp")
    _require(config.lr_decay_start < config.iterations or config.lr_decay == "none",
             f"lr_decay_start {config.lr_decay_start} has no effect: the run ends at iteration {config.iterations} "
             "before its decay starts (a config.toml of a resumed run carries the start of its restarted decay); "
             "leave it out")
    for name in ("warmup_critic_steps", "warmup_generator_iters", "warmup_every"):
        _require(config.warmup or getattr(config, name) == FIELDS[name].default, f"{name} {getattr(config, name)} "
                 "has no effect: the warm-up is off; leave it out, or turn it on with --warmup")
    _require(config.on_nan != "stop" or config.nan_retries == FIELDS["nan_retries"].default,
             f"nan_retries {config.nan_retries} has no effect: on_nan is stop, which rolls nothing back; leave it "
             "out, or choose --on-nan rollback or halve-lr")


def _require_data_found(data: str) -> None:
    """Before a message that calls ``data`` points (what :func:`data_kind` says of a path that does not exist),
    make sure it exists: a misspelt or moved folder of images is not to be told to use an MLP."""
    _require(not is_missing_path(data), f"data {data!r} is neither a data set name "
             f"({', '.join(DATASET_NAMES)}) nor a file or folder that exists: check the spelling or the path (a run "
             "whose data was moved: put it back where its config.toml says)")


def _validate_models(config: Config) -> None:
    """Each network's model must suit the data: convolutional ones make or read images of a size they can."""
    for name, role in (("generator_model", "makes"), ("critic_model", "reads")):
        model = getattr(config, name)
        if model == "mlp":
            continue
        if data_kind(config.data) == "points":
            _require_data_found(config.data)
        _require(data_kind(config.data) == "images",
                 f"{name} {model!r} {role} images, but data {config.data!r} is points: use mlp (--model mlp)")
        if model == "resnet":
            _require(config.image_size == RESNET_IMAGE_SIZE,
                     f"{name} resnet {role} {RESNET_IMAGE_SIZE}x{RESNET_IMAGE_SIZE} images, not image_size "
                     f"{config.image_size}: use --image-size {RESNET_IMAGE_SIZE} or dcgan")
        else:
            check_image_size(config.image_size)
    _require(config.generator_norm != "layer" or config.generator_model == "mlp",
             f"generator_norm 'layer' is for MLPs; generator_model '{config.generator_model}' takes none or batch")


def toml_value(value: Any) -> str:
    """``value`` as a TOML file writes it: ``0.001``, ``"8gaussians"``, ``true``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # a JSON string (ASCII, control characters escaped) is a valid TOML basic string, except for DEL
    return json.dumps(str(value)).replace("\x7f", "\\u007f")


def to_toml(config: Config) -> str:
    """The resolved config as TOML, one ``key = value`` line per setting, readable by :func:`load_toml`."""
    lines = ["# wgan run configuration (resolved: every default filled in)"]
    lines += [f"{name} = {toml_value(value)}" for name, value in config.to_dict().items() if value is not None]
    return "\n".join(lines) + "\n"


Config.__doc__ += _settings_documentation()  # once every table it quotes is defined
