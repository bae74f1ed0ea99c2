"""Configuration: every setting of a run, its default, where that default comes from, and its validation.

A run's settings are resolved once, in this order (later wins): the defaults below, a TOML file
(``--config``), then flags or keyword arguments. Settings left as ``None`` take the algorithm's defaults from
:data:`ALGORITHM_DEFAULTS`, which quote the papers (with :data:`POINT_DATA_OVERRIDES` on point data). :func:`make_config` returns a fully resolved, validated
:class:`Config`; every check of user input starts here and raises :class:`~wgan.errors.WganError`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
TOY_DATA = ("8gaussians", "25gaussians", "swissroll", "parallel-lines")
POINT_FILE_SUFFIXES = (".csv", ".npy")


def is_point_data(data: str) -> bool:
    """True for the 2-D toy sets and the user's own point files (.csv / .npy of N x d numbers)."""
    return data in TOY_DATA or data.lower().endswith(POINT_FILE_SUFFIXES)


def algorithm_defaults(algorithm: str, data: str) -> AlgorithmDefaults:
    """The paper's defaults for ``algorithm``, with the toy code's settings where ``data`` is point data."""
    defaults = ALGORITHM_DEFAULTS[algorithm]
    if is_point_data(data) and algorithm in POINT_DATA_OVERRIDES:
        defaults = dataclasses.replace(defaults, **POINT_DATA_OVERRIDES[algorithm])
    return defaults


OPTIMIZERS = ("adam", "rmsprop")
ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh")
NORMS = ("none", "layer", "batch")
PRECISIONS = ("fp32", "bf16")
LR_DECAYS = ("none", "linear")
_PAPER = "WGAN-GP toy code (Gulrajani et al. 2017, gan_toy.py)"


def _setting(default: Any, text: str, source: str = "wgan") -> Any:
    return field(default=default, metadata={"help": text, "source": source})


def _from_algorithm(text: str) -> Any:
    return field(default=None, metadata={"help": text, "source": "algorithm"})


@dataclass(frozen=True)
class Config:
    """All settings of a training run. ``None`` means "the algorithm's default" until resolved."""

    data: str = _setting("8gaussians", "toy dataset name (8gaussians, 25gaussians, swissroll, parallel-lines) "
                         "or a path to your own points (.npy or .csv, N rows x d numbers)", _PAPER)
    algorithm: str = _setting("wgan-gp", "gan, gan-ns, wgan, wgan-gp or wgan-lp")
    iterations: int = _setting(1000, "generator iterations to train for")
    batch_size: int = _setting(256, "samples per batch, real and generated", _PAPER)
    latent_dim: int = _setting(2, "dimension of the generator's Gaussian noise z", _PAPER)
    width: int = _setting(512, "hidden units per layer of the MLP generator and critic", _PAPER)
    depth: int = _setting(3, "hidden layers of the MLP generator and critic", _PAPER)
    activation: str = _setting("relu", "hidden activation: relu, leaky_relu, elu or tanh", _PAPER)
    generator_norm: str = _setting("none", "normalisation in the generator: none, layer or batch", _PAPER)
    critic_norm: str = _setting("none", "normalisation in the critic: none, layer or batch (not with penalties)",
                                "WGAN-GP Sec. 4")
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
    warmup_critic_steps: int = _setting(100, "critic steps per generator step during the warm-up",
                                        "WGAN reference code main.py")
    warmup_generator_iters: int = _setting(25, "first generator iterations that use the warm-up",
                                           "WGAN reference code main.py")
    warmup_every: int = _setting(500, "also warm up at every this-many-th generator iteration",
                                 "WGAN reference code main.py")
    precision: str = _setting("fp32", "fp32, or bf16 autocast (float32 weights, penalty in float32)")
    device: str = _setting("auto", "auto (cuda when available), cpu, cuda or cuda:N")
    seed: int = _setting(0, "random seed of the models, data and noise")
    eval_every: int = _setting(100, "evaluate (exact W1, modes, figure) and checkpoint every this many iterations")
    eval_samples: int = _setting(2000, "generated and real samples per evaluation (exact W1 is O(n^3))")
    log_every: int = _setting(50, "log training scalars every this many iterations")
    name: str = _setting("", "run folder name under --out (default: algorithm-data, numbered if taken)")
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


def _coerce(name: str, value: Any, origin: str) -> Any:
    """Check one value's type; ints are accepted where floats are expected."""
    if value is None and FIELDS[name].default is None:
        return None
    kind = field_type(name)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise WganError(f"{origin}: {name} = {value!r} is a {type(value).__name__}, expected {kind.__name__}")
    return value


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read settings from a TOML file of ``key = value`` lines (the format :func:`to_toml` writes)."""
    path = Path(path)
    if not path.is_file():
        raise WganError(f"config file '{path}' does not exist: give the path of a TOML file")
    try:
        table = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise WganError(f"config file '{path}' is not valid TOML ({error}): fix the line it names") from None
    return {key: value for key, value in table.items()}


def make_config(file: str | Path | None = None, **overrides: Any) -> Config:
    """Build a resolved, validated :class:`Config` from defaults, an optional TOML file and overrides.

    Overrides equal to ``None`` are ignored, so unset CLI flags do not mask the file's values.
    """
    settings: dict[str, Any] = {}
    for origin, table in ((f"config file '{file}'", load_toml(file) if file else {}), ("option", overrides)):
        for key, value in table.items():
            if key not in FIELDS:
                close = [name for name in FIELDS if name.startswith(key[:4])]
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise WganError(f"{origin}: unknown setting '{key}'{hint}; `wgan train --help` lists them all")
            if value is not None:
                settings[key] = _coerce(key, value, origin)
    return resolve(Config(**settings))


def resolve(config: Config) -> Config:
    """Fill settings left as ``None`` from the algorithm's defaults, then validate the whole config."""
    config = Config(**{name: _coerce(name, value, "setting") for name, value in config.to_dict().items()})
    if config.algorithm not in ALGORITHM_DEFAULTS:
        raise WganError(f"unknown algorithm '{config.algorithm}': choose one of {', '.join(ALGORITHM_DEFAULTS)}")
    defaults = dataclasses.asdict(algorithm_defaults(config.algorithm, config.data))
    filled = {name: defaults[name] for name, value in config.to_dict().items()
              if value is None and name in defaults}
    config = dataclasses.replace(config, **filled)
    validate(config)
    return config


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise WganError(message)


def _choice(config: Config, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(config, name)
    _require(value in choices, f"{name} '{value}' is not known: choose one of {', '.join(choices)}")


def validate(config: Config) -> None:
    """Check every setting of a resolved config; raise :class:`WganError` naming the first problem."""
    for name in ("iterations", "batch_size", "latent_dim", "width", "depth", "n_critic", "warmup_critic_steps",
                 "warmup_every", "eval_every", "eval_samples", "log_every"):
        value = getattr(config, name)
        _require(value > 0, f"{name} must be a positive whole number, got {value}")
    _require(config.warmup_generator_iters >= 0,
             f"warmup_generator_iters must be 0 or more, got {config.warmup_generator_iters}")
    for name in ("lr", "beta1", "beta2", "clip", "penalty_weight"):
        value = getattr(config, name)
        _require(math.isfinite(value), f"{name} must be a finite number, got {value}")
    _require(config.lr > 0, f"lr must be positive, got {config.lr}: try the algorithm's default by leaving it out")
    _require(0 <= config.beta1 < 1 and 0 <= config.beta2 < 1,
             f"Adam betas must lie in [0, 1), got beta1={config.beta1}, beta2={config.beta2}")
    if config.algorithm == "wgan":
        _require(config.clip > 0, f"clip must be positive for wgan (the paper uses 0.01), got {config.clip}")
    if config.algorithm in ("wgan-gp", "wgan-lp"):
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
    _choice(config, "critic_norm", NORMS)
    _choice(config, "precision", PRECISIONS)
    _choice(config, "lr_decay", LR_DECAYS)
    _require(re.fullmatch(r"auto|cpu|cuda(:\d+)?", config.device) is not None,
             f"device '{config.device}' is not known: use auto, cpu, cuda or cuda:N")
    _require(config.name == "" or (Path(config.name).name == config.name and config.name not in (".", "..")),
             f"run name '{config.name}' must be a plain folder name, without '/'")
    _require(config.data != "", "data is empty: give a toy dataset name or a .npy/.csv file")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # a JSON string (ASCII, control characters escaped) is a valid TOML basic string, except for DEL
    return json.dumps(str(value)).replace("\x7f", "\\u007f")


def to_toml(config: Config) -> str:
    """The resolved config as TOML, one ``key = value`` line per setting, readable by :func:`load_toml`."""
    lines = ["# wgan run configuration (resolved: every default filled in)"]
    lines += [f"{name} = {_toml_value(value)}" for name, value in config.to_dict().items() if value is not None]
    return "\n".join(lines) + "\n"
