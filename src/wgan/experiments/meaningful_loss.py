"""WGAN paper, Sec. 4.2 and Figs. 3-4: the critic's estimate of W tracks sample quality; the GAN's loss does not.

The WGAN paper plots the critic's estimate of the EM distance during training beside samples and reads a
"clear correlation between lower error and better sample quality" (Fig. 3), while the GAN's JS estimate shows
no such relation (Fig. 4). Here each algorithm trains with the project's public API (:func:`wgan.train`) and
its defaults, the Wasserstein critics with the reference code's warm-up (100 critic steps per generator step
for the first 25, so that the critic is near optimal before its estimate is first read; WGAN-GP gets it too on
the toy set and on digits, shortened there; the MNIST presets run as they are). At every evaluation point the
run logs the critic's estimate on held-out samples (mean f(real) - mean f(fake) for WGAN and WGAN-GP;
log 2 + V(D, G) / 2, the JS estimate, for the minimax GAN) beside a measure of sample quality that needs no
critic:

- on ``25gaussians``: the exact W1 between generated and real points (POT; 2000 a side at the full size);
- on images: the Frechet distance of the project's classifier's features to held-out images
  (:mod:`wgan.metrics.images`), on MNIST with the presets ``mnist-wgan``, ``mnist-wgan-gp`` and ``mnist-gan``
  when ``--data-dir`` gives the MNIST files, else on the built-in digits (:mod:`wgan.experiments.image_runs`).

The claim is measured as the Spearman rank correlation between estimate and quality over a run's evaluation
points: a meaningful loss ranks the evaluation points as the quality does (close to 1).

Sizes: the quick size trains WGAN-GP and the GAN with small networks briefly (about a minute) and checks only
that the WGAN-GP estimate falls with the exact W1 on the toy set (Spearman 0.60 to 0.94 over seeds 0-3). Its
digits runs are drawn but not checked: in their 200 iterations the FD barely moves (81.1 to 85.7 over seeds
0-3; seed 0: 83.6 -> 83.5), and their Spearman, -0.09 to 0.89, ranks noise. The GAN's rank correlation at that
size is as often high as low: it needs the full size to be compared. The full size trains the toy set with
3 x 128 networks for 3000 iterations (the mode-collapse experiment's networks), and the image runs of
:mod:`~wgan.experiments.image_runs` (10 minutes of training per MNIST preset unless ``ImageData.minutes`` says
otherwise).

References: M. Arjovsky, S. Chintala, L. Bottou, "Wasserstein GAN", ICML 2017, Sec. 4.2, Figs. 3-4;
C. Spearman, "The proof and measurement of association between two things", 1904.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from ..api import train
from . import Claim, ExperimentResult, figure_png, subplots
from .image_runs import QUICK_CHECK, ImageData, check_mnist_files, image_run

NAME = "meaningful-loss"
ALGORITHMS = {"wgan": "WGAN (clipping)", "wgan-gp": "WGAN-GP", "gan": "GAN (minimax)"}
QUICK_ALGORITHMS = ("wgan-gp", "gan")  # the quick size leaves out WGAN's slow clipped critic
SETTINGS = {  # data -> (the quality score logged at each evaluation, its label)
    "25gaussians": ("w1", "exact W1"),
    "images": ("fd", "Frechet distance"),
}
MEANINGFUL = 0.8  # Spearman at the full size for the Wasserstein critics
QUICK_CHECKED = ("25gaussians",)  # the settings whose quick runs are long enough for the quality to move
CLIPPED_SCALE = {  # why a clipped critic's estimate may not rank quality, added to a failing claim's why
    "wgan": " A clipped critic estimates K W for a Lipschitz constant K that the clipping does not fix: K changes "
            "as training pushes weights to the bounds (the lipschitz experiment measures it drifting), so the "
            "estimate can stay level while the samples improve."}
PAPER = ('"We can see a clear correlation between lower error and better sample quality." (Arjovsky, Chintala, '
         'Bottou, "Wasserstein GAN", ICML 2017, caption of Figure 3; Figure 4 shows the GAN\'s JS estimate, which '
         'does not track sample quality)')


@dataclass(frozen=True)
class Size:
    iterations: int  # generator iterations on the toy set
    width: int  # hidden units of both MLPs
    evaluations: int  # evaluation points per run
    samples: int  # generated (and real) samples per evaluation


QUICK = Size(iterations=600, width=64, evaluations=6, samples=300)
FULL = Size(iterations=3000, width=128, evaluations=20, samples=2000)


def _toy_history(algorithm: str, size: Size, seed: int) -> dict[str, list[float]]:
    """Train one run on the toy set and return its evaluation points: iteration, estimate and exact W1."""
    warmup = {"warmup": True} if algorithm == "wgan-gp" else {}  # WGAN has the reference warm-up by default
    run = train(data="25gaussians", algorithm=algorithm, iterations=size.iterations, width=size.width,
                eval_every=size.iterations // size.evaluations, eval_samples=size.samples, seed=seed, write=False,
                progress=False, **warmup)  # the history is all we keep: no folder, no figures
    rows = [row for row in run.history if "eval/w1" in row]
    return {"iteration": [row["iteration"] for row in rows], "estimate": [row["eval/estimate"] for row in rows],
            "quality": [row["eval/w1"] for row in rows]}


def _image_history(algorithm: str, quick: bool, seed: int, data: ImageData) -> dict[str, list[float]]:
    run = image_run(algorithm, "dcgan", quick, seed, data)
    return {"iteration": [row["iteration"] for row in run.evaluations], "estimate": run.series("estimate"),
            "quality": run.series("fd"), "data": run.data}


def _spearman(history: dict[str, list[float]]) -> float:
    from scipy.stats import spearmanr  # scipy.stats takes most of a second to import: paid here, not by the CLI

    return float(spearmanr(history["estimate"], history["quality"]).statistic)


def _out_of_order(history: dict[str, list[float]], label: str, shown: int = 3) -> str:
    """Why the ranks disagree: the successive evaluation points between which estimate and quality move in
    opposite directions (the first ``shown`` of them, with their values)."""
    iterations, estimate, quality = history["iteration"], history["estimate"], history["quality"]
    against = [i for i in range(len(iterations) - 1)
               if (estimate[i + 1] - estimate[i]) * (quality[i + 1] - quality[i]) < 0]
    steps = "; ".join(f"iterations {iterations[i]} -> {iterations[i + 1]}: estimate {estimate[i]:.3g} -> "
                      f"{estimate[i + 1]:.3g}, {label} {quality[i]:.3g} -> {quality[i + 1]:.3g}"
                      for i in against[:shown])
    more = f" and {len(against) - shown} more" if len(against) > shown else ""
    which = f" ({steps}{more})" if against else ""
    return (f"Over {len(iterations)} evaluation points, the estimate moves against the {label} between "
            f"{len(against)} of the {len(iterations) - 1} pairs of successive points{which}.")


def run(quick: bool = True, seed: int = 0, data: ImageData = ImageData()) -> ExperimentResult:
    if data.data_dir is not None and not quick:  # before the toy runs (minutes), not after them
        check_mnist_files(data.data_dir)
    size = QUICK if quick else FULL
    algorithms = QUICK_ALGORITHMS if quick else tuple(ALGORITHMS)
    histories = {"25gaussians": {algorithm: _toy_history(algorithm, size, seed) for algorithm in algorithms},
                 "images": {algorithm: _image_history(algorithm, quick, seed, data) for algorithm in algorithms}}
    rho = {setting: {algorithm: _spearman(history) for algorithm, history in runs.items()}
           for setting, runs in histories.items()}
    numbers = {"spearman": rho, "histories": histories, "toy_iterations": size.iterations}
    claims = _claims(numbers, quick)
    return ExperimentResult(NAME, numbers, claims, _figure(histories, rho), PAPER)


def _claims(numbers: dict, quick: bool) -> list[Claim]:
    """The checked claims, from the measured numbers alone (the Spearman correlations and the histories)."""
    rho, histories = numbers["spearman"], numbers["histories"]
    claims = []
    for setting, (_, label) in SETTINGS.items():
        algorithms = list(rho[setting])
        measured = ", ".join(f"{ALGORITHMS[algorithm]} {rho[setting][algorithm]:.2f}" for algorithm in algorithms)
        if quick:
            if setting in QUICK_CHECKED:
                claims.append(Claim(f"{QUICK_CHECK}{setting}: the WGAN-GP critic's estimate falls as the {label} "
                                    "falls (Spearman > 0)", measured, rho[setting]["wgan-gp"] > 0,
                                    _out_of_order(histories[setting]["wgan-gp"], label)))
            continue
        for algorithm in ("wgan", "wgan-gp"):
            claims.append(Claim(f"{setting}: the {ALGORITHMS[algorithm]} critic's estimate ranks the evaluation "
                                f"points as the {label} does (Spearman >= {MEANINGFUL})", measured,
                                rho[setting][algorithm] >= MEANINGFUL,
                                _out_of_order(histories[setting][algorithm], label) + CLIPPED_SCALE.get(algorithm, "")))
        claims.append(Claim(f"{setting}: the GAN's JS estimate tracks the {label} less than the WGAN-GP critic's "
                            "estimate does (lower Spearman)", measured, rho[setting]["gan"] < rho[setting]["wgan-gp"]))
    return claims


def _figure(histories: dict, rho: dict) -> bytes:
    """One row per data set, one panel per algorithm: estimate (left axis) and quality (right) over training."""
    algorithms = list(histories["images"])
    figure, axes = subplots(len(SETTINGS), len(algorithms), figsize=(4.2 * len(algorithms), 3.3 * len(SETTINGS)),
                            squeeze=False)
    for row, (setting, (_, label)) in enumerate(SETTINGS.items()):
        for column, algorithm in enumerate(algorithms):
            history, left, title = histories[setting][algorithm], axes[row][column], ALGORITHMS[algorithm]
            left.plot(history["iteration"], history["estimate"], "o-", color="#4e79a7", markersize=3)
            left.set_ylabel("JS estimate (a lower bound)" if algorithm == "gan" else "W estimate", color="#4e79a7")
            right = left.twinx()
            right.plot(history["iteration"], history["quality"], "s--", color="#f28e2b", markersize=3)
            right.set_ylabel(label, color="#f28e2b")
            left.set(title=f"{title}, {history.get('data', setting)}\nSpearman {rho[setting][algorithm]:.2f}",
                     xlabel="generator iteration")
            left.title.set_fontsize(9)
            left.grid(alpha=0.3)
    figure.suptitle(textwrap.fill(
        "Does the loss track sample quality? (WGAN Figs. 3-4): each critic's estimate (blue, left axis) against a "
        "quality score that needs no critic (orange, right; lower is better). Spearman near 1: the estimate ranks "
        "the evaluation points as the quality does. The GAN's JS estimate, log 2 + V(D, G) / 2, bounds JS from "
        "below: it is negative where D is worse than chance.", 60 * len(algorithms)), fontsize=10)
    figure.tight_layout()
    return figure_png(figure)
