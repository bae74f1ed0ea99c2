"""The WGAN papers' small experiments, one module each: ``run(quick, seed) -> ExperimentResult``.

Each experiment measures what a paper states, checks each statement as a :class:`Claim` with the measured value,
and draws one figure. ``quick=True`` is the size the tests use (a minute or so on two CPU cores);
``quick=False`` is the size for the documentation. :meth:`ExperimentResult.write` leaves ``figure.png``,
``results.json`` and a ``README.md`` page in a folder, and the same page as ``<name>.md`` beside the folder, each
written atomically. The page quotes the paper's claim, shows the figure and the table of checked claims, and
gives the command that makes it. What people measure beyond the run lives beside it in the folder, where wgan reads
it and never writes (:class:`ByHand`): claims measured by hand, which join or stand in for the run's in the tables,
and notes, which the page shows after them; so writing a result again, or the report over several, keeps them.

>>> from wgan.experiments import EXPERIMENTS
>>> result = EXPERIMENTS["optimal-critic"](quick=True)     # doctest: +SKIP
>>> result.write("docs/experiments/optimal-critic")         # doctest: +SKIP

The helpers below are shared by the experiments: a critic trained to (near) optimality against fixed
distributions, and a matplotlib figure as PNG bytes.
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..checks import check_flag, check_torch_seed
from ..config import Config, make_config
from ..errors import WganError, output_refused
from ..models import build_models
from ..objectives import Objective, build_objective
from ..optimizers import OneGroupOptimizer
from ..plots import figure_png, new_figure, subplots
from ..randomness import RandomStream, global_cpu_seed
from ..runs import atomic_write_bytes
from ..trainer import make_optimizer

Batch = Callable[[int], Tensor]  # n -> (n, d) samples; each experiment draws them from its own torch.Generator

# The networks of every experiment here: small ReLU MLP critics, trained with the project's point-data Adam
# (lr 1e-3, betas 0.5 / 0.9; config.POINT_DATA_OVERRIDES) whatever the objective, and WGAN-GP's own lambda = 10
# (Gulrajani et al. 2017, Alg. 1) instead of the toy code's 0.1, so that the critic stays near 1-Lipschitz and
# its estimate is close to W: with the two-sided penalty a critic facing a shift W has slope 1 + W / (2 lambda).
CRITIC_WIDTH, CRITIC_DEPTH = 64, 2
PENALTY_WEIGHT = 10.0
ADAM = {"optimizer": "adam", "lr": 1e-3, "beta1": 0.5, "beta2": 0.9}


NO_WHY = "The measurements do not say why."  # shown for a failing claim that has no ``why``


@dataclass(frozen=True)
class Claim:
    """One statement of a paper, what we measured for it, and whether the measurement bears it out.

    ``why`` is what the same measurements say about the reason should the claim not hold (an undertrained run,
    a dead critic, the evaluation points out of order), so that a "no" comes with its explanation; pages show
    it for failing claims only.
    """

    text: str
    measured: str
    holds: bool
    why: str = ""


@dataclass(frozen=True)
class ByHand:
    """What people measured beyond an experiment's run, kept in its folder: ``claims-by-hand.json``, a list of
    claims ({"text", "measured", "holds", "why"}), each with an optional "replaces" (the text of the run's claim it
    stands in for; without one it is added after them), and ``notes.md``, Markdown shown on the page after the
    claims, its links relative to its own folder (as a Markdown file's are). wgan reads both and never writes
    them."""

    claims: tuple[tuple[str, Claim], ...] = ()  # (text of the run's claim replaced, or "", the claim)
    notes: str = ""

    CLAIMS_FILE, NOTES_FILE = "claims-by-hand.json", "notes.md"

    @classmethod
    def read(cls, folder: str | Path) -> ByHand:
        """The additions in ``folder``; none where its files are missing."""
        folder = Path(folder)
        claims_file, notes_file = folder / cls.CLAIMS_FILE, folder / cls.NOTES_FILE
        try:
            entries = json.loads(claims_file.read_text()) if claims_file.is_file() else []
            if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
                raise TypeError("expected a JSON list of objects, one per claim")
            claims = tuple((entry.pop("replaces", ""), Claim(**entry)) for entry in entries)
            for replaced, claim in claims:
                if not isinstance(claim.holds, bool) or not all(isinstance(words, str) for words in
                                                                (replaced, claim.text, claim.measured, claim.why)):
                    raise TypeError(f"claim {claim.text!r}: holds must be true or false and the rest text")
        except (ValueError, TypeError, AttributeError) as error:
            raise WganError(f"{claims_file} is not a list of claims ({error}): each needs text, measured and "
                            "holds, and may give why and replaces") from None
        try:
            notes = notes_file.read_text(encoding="utf-8").strip() if notes_file.is_file() else ""
        except UnicodeDecodeError as error:
            raise WganError(f"{notes_file} is not UTF-8 text (byte {error.start} cannot be read): save it as "
                            "UTF-8") from None
        return cls(claims, notes)

    def applied_to(self, claims: list[Claim]) -> list[Claim]:
        """The run's ``claims`` with each claim measured by hand in place of the one it replaces; the others after
        them, with any whose claim the run no longer makes (nothing measured by hand is dropped)."""
        shown, added = list(claims), []
        for replaced, claim in self.claims:
            index = next((i for i, old in enumerate(shown) if replaced and old.text == replaced), None)
            if index is None:
                added.append(claim)
            else:
                shown[index] = claim
        return shown + added


# A relative link's target and what comes before it: "](target", "](<target with spaces>", and a reference
# definition's "[label]: target" (plain or in angle brackets; not a footnote's "[^1]: text"); not a URL, an
# absolute path or an anchor.
_RELATIVE_LINK = re.compile(r"(\]\(|^ {0,3}\[(?!\^)[^\]\n]+\]:[ \t]*)(?:(<)(?![A-Za-z][A-Za-z0-9+.-]*:|/|#)([^>\n]+)"
                            r"|(?![A-Za-z][A-Za-z0-9+.-]*:|/|#|<)([^)\s]+))", re.MULTILINE)
_FENCED_CODE = re.compile(r"^ {0,3}(```|~~~).*?(^ {0,3}\1[^\n]*$|\Z)", re.MULTILINE | re.DOTALL)  # kept as written


def _links_from(folder: str, markdown: str) -> str:
    """``markdown`` written in the folder that ``folder`` leads to, with its relative links as the page where
    ``folder`` starts sees them: "NAME/../images/x.png" as "images/x.png"."""
    def seen_from_the_page(link: re.Match) -> str:
        before, bracket, bracketed, plain = link.groups()
        return before + (bracket or "") + posixpath.normpath(folder + (bracketed or plain))

    pieces, start = [], 0
    for code in _FENCED_CODE.finditer(markdown):
        pieces += [_RELATIVE_LINK.sub(seen_from_the_page, markdown[start:code.start()]), code.group()]
        start = code.end()
    return "".join(pieces) + _RELATIVE_LINK.sub(seen_from_the_page, markdown[start:])


@dataclass
class ExperimentResult:
    """What an experiment leaves: named numbers (plain floats and lists), checked claims and one figure.

    ``paper`` is the statement of the paper that the experiment checks, quoted (or marked as paraphrased) with
    its reference; it heads the experiment's page. ``command`` is the command line that made the result, shown
    on the page (default: ``wgan experiment NAME --out docs/experiments``).
    """

    name: str
    numbers: dict[str, float | list]
    claims: list[Claim] = field(default_factory=list)
    figure_png: bytes = b""
    paper: str = ""
    command: str = ""
    by_hand: ByHand = field(default_factory=ByHand)

    def __repr__(self) -> str:  # the numbers and the figure's bytes ran to 400 KB in a notebook
        held = sum(claim.holds for claim in self.shown_claims)
        return f"ExperimentResult({self.name}: {held} of {len(self.shown_claims)} claims hold)"

    @property
    def all_hold(self) -> bool:
        return all(claim.holds for claim in self.claims)

    @property
    def shown_claims(self) -> list[Claim]:
        """The claims the page and the report show: the run's, with those measured by hand (:class:`ByHand`)."""
        return self.by_hand.applied_to(self.claims)

    @property
    def failures(self) -> list[Claim]:
        """The shown claims that do not hold, in order."""
        return [claim for claim in self.shown_claims if not claim.holds]

    def to_dict(self) -> dict:
        return {"name": self.name, "paper": self.paper, "command": self.command,
                "numbers": _json_numbers(self.numbers), "claims": [asdict(claim) for claim in self.claims]}

    def page(self, folder: str = "") -> str:
        """The Markdown page: the paper's claim, the figure, the claim / measured / holds table and the command.

        ``folder`` leads from the page to the folder that holds ``figure.png`` and ``results.json``: "" for the
        README.md inside it, "NAME/" for the NAME.md beside it. The notes measured by hand follow the claims, their
        relative links taken from the folder to the page.
        """
        def cell(text: str) -> str:  # a bare "|" (as in |theta|) would end the table cell
            return text.replace("|", "\\|")

        quote = ["## The paper's claim", "", f"> {self.paper}", ""] if self.paper else []
        rows = [f"| {cell(claim.text)} | {cell(claim.measured)} | {'yes' if claim.holds else '**no**'} |"
                for claim in self.shown_claims]
        notes = _links_from(folder, self.by_hand.notes)
        return "\n".join([
            f"# {self.name}", "", *quote, f"![{self.name}]({folder}figure.png)", "",
            "## What we measured", "", "| claim | measured | holds |", "|---|---|---|", *rows, "",
            *failure_section([("", claim) for claim in self.failures]), *([notes, ""] if notes else []),
            f"Every number measured is in [results.json]({folder}results.json).", "", "## The command", "",
            f"    {self.made_with}", "",
            "made this page (`--quick` runs the small size the tests use; without it, the full size, the "
            "documentation's).", ""])

    @property
    def made_with(self) -> str:
        """The command that made the result; for a result saved before commands were recorded, the command of the
        documentation's pages, which made them."""
        return self.command or f"wgan experiment {self.name} --out docs/experiments"

    @classmethod
    def read(cls, folder: str | Path) -> ExperimentResult:
        """The result that :meth:`write` left in ``folder`` (its results.json and figure.png), with what was
        measured there by hand."""
        folder = Path(folder)
        try:
            saved = json.loads((folder / "results.json").read_text(encoding="utf-8"))
            result = cls(saved["name"], saved["numbers"], [Claim(**claim) for claim in saved["claims"]],
                         (folder / "figure.png").read_bytes(), saved["paper"], saved.get("command", ""))
        except (OSError, ValueError, TypeError, KeyError) as error:  # JSON's and UTF-8's errors are ValueErrors
            why = (f"no {error}" if isinstance(error, KeyError) else
                   f"{Path(error.filename).name}: {error.strerror}" if isinstance(error, OSError) else error)
            raise WganError(f"'{folder}' does not hold an experiment's result as wgan writes it ({why}): run the "
                            f"experiment again into it, or move the folder away") from None
        return replace(result, by_hand=ByHand.read(folder))

    def write(self, out_dir: str | Path) -> Path:
        """Write ``figure.png``, ``results.json`` and ``README.md`` into ``out_dir`` (created if missing), and the
        same page as ``<name>.md`` beside ``out_dir``, linking into it.

        So ``wgan experiment NAME --out docs/experiments`` leaves ``docs/experiments/NAME/`` and
        ``docs/experiments/NAME.md``. The pages show what ``out_dir`` holds measured by hand (:class:`ByHand`),
        which is left as it is. A name that is not one file name, or a place the file system refuses, is a
        :class:`WganError`.
        """
        if self.name in ("", ".", "..") or Path(self.name).name != self.name or "\0" in self.name:
            raise WganError(f"experiment name {self.name!r} is not a single file name: its page is written as "
                            f"NAME.md beside '{out_dir}'; give a name without '/' (and not '.' or '..')")
        out = Path(out_dir)
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"  # strict JSON: see _json_numbers
        shown = replace(self, by_hand=ByHand.read(out))
        try:
            atomic_write_bytes(out / "figure.png", self.figure_png)
            atomic_write_bytes(out / "results.json", text.encode())
            atomic_write_bytes(out / "README.md", shown.page().encode())
            atomic_write_bytes(out.parent / f"{self.name}.md", shown.page(f"{out.name}/").encode())
        except OSError as error:
            raise output_refused(error.filename or out, error) from None
        return out


def _json_numbers(value: Any) -> Any:
    """``value`` (numbers, lists and dicts of them) with each float that JSON cannot hold, NaN or an infinity, as
    the text Python prints for it ("nan", "inf", "-inf"): a measurement that came out so (a constant estimate's
    undefined rank correlation, a gradient that underflowed to 0 under a ratio) is written and seen, not lost with
    the run in an error."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_numbers(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_numbers(item) for item in value]
    return value


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, infinite (or NaN for 0 / 0) where the denominator is 0: a gradient norm can
    underflow to 0, where a ratio of two is still the measurement."""
    if denominator:
        return numerator / denominator
    return math.copysign(math.inf, numerator) if numerator else math.nan


def failure_section(failures: list[tuple[str, Claim]]) -> list[str]:
    """Markdown lines "## Where a claim does not hold": each (experiment, claim) that fails, with its ``why``.

    An empty experiment name leaves it out (an experiment's own page); no failures give no lines.
    """
    if not failures:
        return []
    return ["## Where a claim does not hold", "",
            *(f"- {experiment + ': ' if experiment else ''}*{claim.text}*. "
              f"{claim.why or NO_WHY}" for experiment, claim in failures), ""]


# ----------------------------------------------------------------------------------------------- shared helpers
def make_objective(algorithm: str, **settings) -> Objective:
    """The objective of ``algorithm`` with the experiments' critic and optimiser settings (above)."""
    penalty = {"penalty_weight": PENALTY_WEIGHT} if algorithm in ("wgan-gp", "wgan-lp") else {}
    config = make_config(algorithm=algorithm, width=CRITIC_WIDTH, depth=CRITIC_DEPTH, **ADAM, **penalty,
                         **settings)
    return build_objective(config)


def build_critic(config: Config, sample_shape: tuple[int, ...], seed: int) -> nn.Module:
    """A fresh MLP critic of ``config.width`` x ``config.depth``, initialised from ``seed`` alone.

    The global torch seed is forked, so building a critic neither depends on nor disturbs the caller's stream.
    """
    with global_cpu_seed(seed):
        _, critic = build_models(config, sample_shape)
    return critic


def train_critic(objective: Objective, critic: nn.Module, real: Batch, fake: Batch, steps: int, batch_size: int,
                 rng: torch.Generator, optimizer: OneGroupOptimizer | None = None) -> float:
    """``steps`` updates of ``critic`` on fresh batches of fixed ``real`` and ``fake`` distributions.

    With enough steps this approaches the optimal critic of ``objective`` (the WGAN critic of the KR duality, or
    the GAN's D* = p_r / (p_r + p_g)). Returns the objective's estimate on the last batch.
    """
    optimizer = optimizer or make_optimizer(critic.parameters(), objective.config)
    stream, stats = RandomStream(rng), {}
    for _ in range(steps):
        loss, stats = objective.critic_loss(critic, real(batch_size), fake(batch_size), stream)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        objective.constrain(critic)
    return float(stats["estimate"]) if stats else float("nan")


# The registry: experiment name -> run(quick=True, seed=0). Imported last because the modules use the classes above.
from . import (  # noqa: E402
    clipping_vs_penalty, generator_ablation, lipschitz, meaningful_loss, mode_collapse, optimal_critic,
    parallel_lines, vanishing_gradients)
from .image_runs import ImageData  # noqa: E402


@dataclass(frozen=True)
class CheckedRun:
    """An experiment's ``run(quick=True, seed=0, ...)`` with ``quick`` and ``seed`` checked as the rest of the API
    checks them (a float seed was torch's RuntimeError, and quick="yes" was taken for True). A class, not a
    closure, so that the registry's entries pickle (for a pool of processes); ``__wrapped__`` is the run."""

    run: Callable[..., ExperimentResult]

    def __call__(self, quick: bool = True, seed: int = 0, **others: Any) -> ExperimentResult:
        return self.run(quick=check_flag(quick, "quick"), seed=check_torch_seed(seed), **others)

    def __repr__(self) -> str:  # each experiment's function is called run: its module says which
        return f"CheckedRun({self.run.__module__}.{self.run.__qualname__})"

    @property
    def __wrapped__(self) -> Callable[..., ExperimentResult]:
        return self.run


EXPERIMENTS: dict[str, Callable[..., ExperimentResult]] = {name: CheckedRun(run) for name, run in {
    "parallel-lines": parallel_lines.run,
    "optimal-critic": optimal_critic.run,
    "vanishing-gradients": vanishing_gradients.run,
    "clipping-vs-penalty": clipping_vs_penalty.run,
    "lipschitz": lipschitz.run,
    "mode-collapse": mode_collapse.run,
    "meaningful-loss": meaningful_loss.run,
    "no-batchnorm": generator_ablation.make_experiment("no-batchnorm"),
    "mlp-generator": generator_ablation.make_experiment("mlp-generator"),
}.items()}
# These train on images and also take ``data=ImageData(...)``: MNIST presets or the built-in digits.
IMAGE_EXPERIMENTS = ("meaningful-loss", "no-batchnorm", "mlp-generator")
# What each reproduces, in a line: its module's first, or the generator that the paper's Sec. 4.3 takes away.
SUMMARIES = {
    **{name: module.__doc__.strip().splitlines()[0].rstrip(".") for name, module in (
        ("parallel-lines", parallel_lines), ("optimal-critic", optimal_critic),
        ("vanishing-gradients", vanishing_gradients), ("clipping-vs-penalty", clipping_vs_penalty),
        ("lipschitz", lipschitz), ("mode-collapse", mode_collapse), ("meaningful-loss", meaningful_loss))},
    **{name: f"WGAN paper, Sec. 4.3: WGAN still learns with {generator.description}; the standard GAN does not"
       for name, generator in generator_ablation.GENERATORS.items()},
}

__all__ = ["EXPERIMENTS", "IMAGE_EXPERIMENTS", "SUMMARIES", "Claim", "ExperimentResult", "ImageData", "build_critic",
           "figure_png", "make_objective", "new_figure", "ratio", "subplots", "train_critic"]
