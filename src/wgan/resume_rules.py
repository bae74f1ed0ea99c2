"""What a resume may change, and how the run continues: the settings a run folder's config.toml and a resume's
arguments may differ in from the checkpoint (:data:`RESUMABLE`), a config.toml edited by hand, a run already
finished, the linear decay's window when ``iterations`` moves its end (``--decay restart`` or ``keep``), and
best.pt within the history the resume continues. :func:`wgan.api.resume` applies them in turn.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from .config import FIELDS, PATHS, PER_NETWORK, Config, resolve, toml_value, typed, with_absolute_paths
from .data import DATASET_NAMES
from .errors import WganError
from .runs import CONFIG_FILE, RunFolder
from .trainer import Trainer, best_score, out_of_time

DECAY_CHOICES = ("restart", "keep")
RESUMABLE = ("iterations", "max_minutes", "eval_every", "device")  # the settings a resume may change


def best_kept_in_history(run: RunFolder, trainer: Trainer, resumed: str) -> list[str]:
    """best.pt as of the history a resume continues, from the checkpoint ``resumed`` (latest, or previous after a
    fallback), in a line where it changed: a best.pt of a later iteration (the fallback dropped its rows, or a
    kill came between the writes of best and latest), or one that cannot be read (damaged: sample and eval, whose
    default it is, would fail on it), is set aside as best-dropped.pt; where it is set aside or
    missing, the checkpoint resumed from becomes best.pt if it scored the best so far, else the trainer's best
    score starts afresh, so that the next evaluation writes one (a best.pt set aside by a resume stopped before
    that evaluation was not written again)."""
    iteration = trainer.iteration
    if run.checkpoint_path("best").is_file():
        best = run.checkpoint_iteration("best")
        if best is not None and best <= iteration:
            return []
        why = "cannot be read" if best is None else f"was iteration {best}'s, after the checkpoint resumed from"
        what = f"best.pt {why}: it is kept as {run.set_aside_best().name}"
    elif math.isfinite(trainer.best_score):  # evaluated before, yet no best.pt: removed, or set aside above
        what = "the run has no best.pt"
    else:
        return []
    evaluated = {key.removeprefix("eval/"): value for row in run.history if row["iteration"] == iteration
                 for key, value in row.items() if key.startswith("eval/")}
    score = best_score(evaluated)
    if math.isfinite(score) and score == trainer.best_score:
        run.copy_checkpoint(resumed, "best")
        return [f"{what}; best.pt is now iteration {iteration}'s, the best until then"]
    trainer.best_score = math.inf
    return [f"{what}; the best checkpoint until iteration {iteration} was not kept, so the next evaluation writes "
            "best.pt"]


# Settings whose config.toml value may differ from the one a checkpoint was trained with: what a resume
# changes (config.toml is written as it starts, before its first checkpoint), where this machine keeps things
# (the data's paths are fingerprinted instead: api._data_change) and the run's labels.
MAY_DIFFER_FROM_CHECKPOINT = (*RESUMABLE, "lr_decay_start", "lr_decay_end", *PATHS, "name", "preset")


def require_trained_settings(run: RunFolder, saved: Config, state: dict[str, Any]) -> None:
    """Refuse a config.toml edited since the checkpoint ``state`` was written: a resume would train on with the
    edited settings (another learning rate, algorithm or seed) without a word, and one that changed the models
    or the optimiser fails to load. A named data set counts as a setting, a path to the data does not."""
    trained = state.get("config") or {}  # a checkpoint of an older version records the settings it knew
    edited = [(name, getattr(saved, name), value) for name, value in trained.items()
              if name in FIELDS and getattr(saved, name) != value
              and (name not in MAY_DIFFER_FROM_CHECKPOINT
                   or name == "data" and (value in DATASET_NAMES or saved.data in DATASET_NAMES))]
    if edited:
        said = ", ".join(f"{name} = {_as_written(now)} (trained with {_as_written(then)})"
                         for name, now, then in edited[:3]) + (f" and {len(edited) - 3} more" if edited[3:] else "")
        raise WganError(f"run '{run.path}': its config.toml was edited since the checkpoint was written: {said}; "
                        "a run continues with the settings it was trained with: put them back in config.toml (to "
                        f"train with the new ones, start a new run: wgan train --config {run.path / CONFIG_FILE} "
                        "--name NEW)")


def iterations_edited_by_hand(saved: Config, state: dict[str, Any], changes: dict[str, Any]
                               ) -> tuple[Config, dict[str, Any], str | None]:
    """A config.toml whose ``iterations`` differs from the checkpoint's, under a linear decay whose end follows
    the iterations (``lr_decay_end`` 0) and with the checkpoint's window, was edited by hand: a resume that moves
    that end writes another window with it (a restart's start, a kept end). The edit is taken as ``--iterations``
    would be, so that the decay restarts or keeps its end (:func:`extended`) instead of jumping to the new end.
    The settings to extend from (the trained iterations), the changes (with the edited iterations unless
    ``--iterations`` was given, which a line then need not explain) and a line saying so; or the arguments as
    they were."""
    trained = state.get("config") or {}
    iterations = trained.get("iterations", saved.iterations)
    window = (saved.lr_decay_start, saved.lr_decay_end)
    trained_window = (trained.get("lr_decay_start", 0), trained.get("lr_decay_end", 0))
    if (iterations == saved.iterations or saved.lr_decay != "linear" or saved.lr_decay_end
            or window != trained_window):
        return saved, changes, None
    from_trained = dataclasses.replace(saved, iterations=iterations)
    if "iterations" in changes:
        return from_trained, changes, None
    edit = (f"config.toml's iterations {saved.iterations} (trained with {iterations}) is taken as --iterations "
            f"{saved.iterations} would be")
    return from_trained, {"iterations": saved.iterations, **changes}, edit


def require_kept(saved: Config, given: dict[str, Any]) -> None:
    """Refuse settings ``given`` to a resume beyond those it changes (:data:`RESUMABLE`) that differ from the
    run's ``saved`` ones; given again as the run has them (its first command, with ``--resume`` added), they
    are accepted."""
    asked = with_absolute_paths(typed(dataclasses.replace(saved, **given)))  # the data as the run recorded it

    def kept(name: str) -> bool:
        if name in PER_NETWORK:  # model and width set both networks, unless a per-network flag beside them did
            return all(given.get(each, getattr(asked, name)) == getattr(saved, each) for each in PER_NETWORK[name])
        if name == "out":  # "runs/" is "runs"; a relative path reads from here
            return Path(asked.out).resolve() == Path(saved.out).resolve()
        return getattr(asked, name) == getattr(saved, name)

    def the_runs(name: str) -> str:
        if name in PER_NETWORK and getattr(saved, name) is None:  # a pair of models or widths
            return ", ".join(f"{each} {_as_written(getattr(saved, each))}" for each in PER_NETWORK[name])
        return _as_written(getattr(saved, name))

    differ = [name for name in given if not kept(name)]
    if differ:
        said = ", ".join(f"{name} {_as_written(given[name])} (the run's: {the_runs(name)})" for name in differ)
        plot = ("; `wgan plot RUN_DIR` draws the curves.png of a run trained without figures from its logs"
                if "figures" in differ and given["figures"] else "")
        raise WganError("a resume keeps the settings the run was trained with and changes only its iterations, "
                        f"time budget, evaluation interval and device; these differ: {said}: leave them out, or "
                        f"train a new run to change them{plot}")


def _as_written(value: Any) -> str:
    """A setting's value as config.toml writes it; ``unset`` for None, which it leaves out."""
    return "unset" if value is None else toml_value(value)


def require_unfinished(path: str | Path, config: Config, state: dict[str, Any]) -> None:
    """Refuse to resume a run that ``config`` would stop at once, before anything is built for it (the image
    scores' classifier, the models): its iterations done, or its training time spent (by the checkpoint
    ``state``; one that lacks either is named when it loads)."""
    iteration, train_seconds = state.get("iteration"), state.get("train_seconds")
    if iteration is None or train_seconds is None or config.iterations < 1 or config.max_minutes < 0:
        return  # named when the checkpoint loads, or by the settings' checks
    if iteration < config.iterations and not out_of_time(config, train_seconds):
        return
    larger = "iterations" if iteration >= config.iterations else "max_minutes"
    lift = ", or 0 for no limit: it counts the run's training in all" if larger == "max_minutes" else ""
    raise WganError(f"run '{path}' already reached iteration {iteration} of {config.iterations} after "
                    f"{train_seconds / 60:.3g} minutes of training: pass a larger --{larger.replace('_', '-')} "
                    f"({larger}= in Python{lift}) to continue it")


def extended(saved: Config, changed: Config, iteration: int, decay: str | None) -> tuple[Config, str | None]:
    """The resumed run's settings, with the linear decay's window set by ``decay`` (None: restart) when
    ``iterations`` moved its end; and a line saying what happens to the decay then. ``decay`` given where it
    changes nothing is refused: it would be ignored without a word."""
    moved = changed.iterations != saved.iterations and changed.iterations > iteration
    if saved.lr_decay != "linear" or not moved:
        if decay is not None:
            why = ("the run's learning rate does not decay (lr_decay none)" if saved.lr_decay != "linear" else
                   "only a new --iterations (iterations=) moves the end of the decay")
            raise WganError(f"--decay {decay} (decay='{decay}' in Python) has no effect here: {why}; leave it out")
        return resolve(changed), None
    end = saved.lr_decay_end or saved.iterations
    if decay == "keep":
        note = (f"the learning rate keeps decaying to 0 at iteration {end}, as it did (--decay keep), and stays "
                f"at 0 to iteration {changed.iterations}")
        return resolve(dataclasses.replace(changed, lr_decay_end=end)), note
    note = (f"the linear decay restarts at iteration {iteration} from lr {saved.lr:g} to 0 at iteration "
            f"{changed.iterations} (--decay keep would keep its end at {end})")
    return resolve(dataclasses.replace(changed, lr_decay_start=iteration, lr_decay_end=0)), note
