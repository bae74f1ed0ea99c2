"""The settings a panel of ``wgan play`` lets its user change, their bounds, and their check.

A page sends a panel's settings as a JSON object of the names in :data:`EDITABLE`; a value left out (or
``null``) takes the project's default for the data and algorithm (:mod:`wgan.config`: the papers' settings,
with the WGAN-GP toy code's on point data). Everything is checked twice: against :data:`LIMITS` here, which
keep one panel from taking the machine (a width of 10^6 units, a batch of 10^8 points), then by
:func:`~wgan.config.make_config`, which checks every setting of a run. A problem is one
:class:`~wgan.errors.WganError` line naming the setting and what to give instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..config import ALGORITHM_DEFAULTS, Config, make_config
from ..data import TOY_DATASET_NAMES
from ..errors import WganError


@dataclass(frozen=True)
class Limit:
    """A numeric setting's type and inclusive bounds (``low`` excluded when ``open_low``)."""

    kind: type
    low: float
    high: float
    open_low: bool = False

    def check(self, name: str, value: Any) -> int | float:
        """``value`` as a number of this kind within the bounds, else a :class:`WganError` saying what to give."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (self.kind is int and isinstance(value, float) and not value.is_integer()):
            what = "a whole number" if self.kind is int else "a number"
            raise WganError(f"{name} must be {what}, got {_shown(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise WganError(f"{name} must be a finite number, got {value!r}")
        low_ok = value > self.low if self.open_low else value >= self.low  # exact for ints beyond float's range
        if not (low_ok and value <= self.high):
            low, high = (f"{bound}" if self.kind is int else f"{bound:g}" for bound in (self.low, self.high))
            raise WganError(f"{name} must be {'above' if self.open_low else 'at least'} {low} and at most {high}, "
                            f"got {_shown(value)}")  # the seed's 2147483647, not 2.14748e+09
        return self.kind(value)


def _shown(value: Any) -> str:
    """``value`` as a message quotes it: a whole number of more than 20 digits by its size alone."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**20:
        return f"a number of {len(str(abs(value)))} digits"
    return repr(value)


# The bounds of a panel's numeric settings: wide enough for every experiment a class would try, narrow enough
# that one panel cannot exhaust a laptop's memory or stall the page for minutes per step.
LIMITS: dict[str, Limit] = {
    "n_critic": Limit(int, 1, 100),
    "lr": Limit(float, 0.0, 1.0, open_low=True),
    "clip": Limit(float, 0.0, 10.0, open_low=True),
    "penalty_weight": Limit(float, 0.0, 1000.0, open_low=True),
    "batch_size": Limit(int, 1, 4096),
    "width": Limit(int, 1, 1024),
    "iterations": Limit(int, 1, 1_000_000),
    "seed": Limit(int, 0, 2**31 - 1),
}
# Each bound above alone keeps a step within seconds; together they did not (batch 4096, width 1024 and
# n_critic 100: one step over 250 s, the page's pause and other panels waiting for it). A step's products grow
# as batch_size x width^2 x n_critic: at most this many times the default panel's (256 x 512^2 x 5), about 0.07 s
# a step on 2 cores (Intel Xeon), so some 5 s at the most.
MOST_WORK_PER_STEP = 64
CHOICES: dict[str, tuple[str, ...]] = {"data": TOY_DATASET_NAMES, "algorithm": tuple(ALGORITHM_DEFAULTS)}
EDITABLE = (*CHOICES, *LIMITS)  # every setting a page may send, in the order the page shows them
DEFAULTS = {"data": "8gaussians", "algorithm": "wgan-gp", "seed": 0}  # a new panel's, beside the config's
USED_BY = {"clip": ("wgan",), "penalty_weight": ("wgan-gp", "wgan-lp")}  # settings only some algorithms read


def panel_config(settings: Any, device: str = "cpu") -> Config:
    """The resolved :class:`Config` of a panel from the page's ``settings`` object (see the module docstring).

    Panels train on ``device`` without a run folder; they never stop on their own before ``iterations``.
    """
    if not isinstance(settings, dict):
        raise WganError(f"settings must be an object of name: value, got {type(settings).__name__}")
    unknown = sorted(set(settings) - set(EDITABLE))
    if unknown:
        raise WganError(f"setting {unknown[0]!r} cannot be changed here: use {', '.join(EDITABLE)}")
    given = {name: value for name, value in settings.items() if value is not None}
    for name, choices in CHOICES.items():
        if name in given and given[name] not in choices:
            raise WganError(f"{name} {given[name]!r} is not known: choose one of {', '.join(choices)}")
    checked = {name: LIMITS[name].check(name, value) for name, value in given.items() if name in LIMITS}
    config = make_config(**(DEFAULTS | given | checked), device=device)
    work = _step_work(config) / _DEFAULT_WORK
    if work > MOST_WORK_PER_STEP:
        steps = (f"the warm-up's {config.warmup_critic_steps} critic steps" if _critic_steps(config) > config.n_critic
                 else f"n_critic {config.n_critic}")
        raise WganError(f"batch_size {config.batch_size}, width {config.critic_width} and {steps} make a step "
                        f"{work:,.0f} times the default panel's work, over the {MOST_WORK_PER_STEP} times that keep "
                        "a step within seconds: lower one of them")
    return config


def _critic_steps(config: Config) -> int:
    """The most critic steps in one of a panel's steps: n_critic, or the warm-up's (WGAN's, on by default)."""
    return max(config.n_critic, config.warmup_critic_steps if config.warmup else 0)


def _step_work(config: Config) -> int:
    """What a training step's products grow as: batch_size x width^2 x critic steps (the widest layers)."""
    return config.batch_size * max(config.critic_width, config.generator_width) ** 2 * _critic_steps(config)


_DEFAULT_WORK = _step_work(make_config(**DEFAULTS))


def shown(config: Config) -> dict[str, Any]:
    """The editable settings of a resolved config, as the page shows them: every default filled in, and
    ``None`` for a setting the algorithm does not read (the clip value of WGAN-GP)."""
    return {name: getattr(config, name) if config.algorithm in USED_BY.get(name, (config.algorithm,)) else None
            for name in EDITABLE}
