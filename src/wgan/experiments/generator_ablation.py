"""WGAN paper, Sec. 4.3 and Figs. 5-7: WGAN still learns with a weak generator; the standard GAN does not.

The WGAN paper trains WGAN and the standard GAN with generators that make GAN training hard: a DCGAN generator
without batch normalisation and with a constant number of filters per layer (Fig. 6 of arXiv:1701.07875), and an
MLP generator of 4 hidden layers of 512 ReLU units (Fig. 7); Fig. 5 shows both with the DCGAN generator. Here
each is an experiment: ``no-batchnorm`` (model ``dcgan-constant``: the critic keeps the DCGAN architecture with
batch norm) and ``mlp-generator`` (model ``mlp``: both networks are MLPs of that size), each training WGAN
(clipping, RMSProp 5e-5) and the minimax GAN (Adam 2e-4, betas 0.5 / 0.999) with that generator.

Data and size (:mod:`wgan.experiments.image_runs`): at the full size with MNIST (``--data-dir``), the presets
``mnist-wgan-nobn`` / ``mnist-gan-nobn`` and ``mnist-wgan-mlp`` / ``mnist-gan-mlp`` for 10 minutes of training
each (``--minutes``); without MNIST, and at the quick size, the built-in digits. The samples are scored by the project's
classifier (:mod:`wgan.metrics.images`): FD, classes generated, confidence.

Claims. "Learns" is read as: generates at least :data:`LEARNED_CLASSES` of the 10 classes and lowers its FD to
under a :data:`LEARNED_FD_FALL` of its first evaluation's. "Markedly worse" is read as: an FD at least
:data:`MARKEDLY` times WGAN's, or fewer classes. The quick size is too short for either to learn, so it checks
only that WGAN's FD falls.

Reference: M. Arjovsky, S. Chintala, L. Bottou, "Wasserstein GAN", ICML 2017, Sec. 4.3, Figs. 5-7.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib.image
import matplotlib.pyplot as plt

from . import Claim, ExperimentResult, figure_png
from .image_runs import ImageData, ImageRun, image_run

ALGORITHMS = {"wgan": "WGAN (clipping)", "gan": "GAN (minimax)"}
COLOURS = {"wgan": "#4e79a7", "gan": "#e15759"}
LEARNED_CLASSES = 9
LEARNED_FD_FALL = 0.25
MARKEDLY = 2.0
GENERATORS = {  # experiment -> (model, its description, the paper's statement, paraphrased)
    "no-batchnorm": ("dcgan-constant", "the DCGAN generator without batch norm and with constant filters",
                     "Paraphrased from Arjovsky, Chintala, Bottou, \"Wasserstein GAN\", ICML 2017, Sec. 4.3 (Fig. 6 "
                     "of arXiv:1701.07875): with a DCGAN generator without batch normalisation and with a constant "
                     "number of filters at every layer, the standard GAN fails to learn, while WGAN still produces "
                     "samples."),
    "mlp-generator": ("mlp", "an MLP generator of 4 hidden layers of 512 ReLU units",
                      "Paraphrased from Arjovsky, Chintala, Bottou, \"Wasserstein GAN\", ICML 2017, Sec. 4.3 (Fig. 7 "
                      "of arXiv:1701.07875): with an MLP generator of 4 layers of 512 ReLU units, WGAN still "
                      "produces samples, of lower quality than with the DCGAN generator and of higher quality than "
                      "the standard GAN's, which shows a significant degree of mode collapse."),
}


def make_experiment(name: str) -> Callable[..., ExperimentResult]:
    """The ``run(quick, seed, data)`` of the experiment ``name`` (a key of :data:`GENERATORS`)."""
    model, description, paper = GENERATORS[name]

    def run(quick: bool = True, seed: int = 0, data: ImageData = ImageData()) -> ExperimentResult:
        runs = {algorithm: image_run(algorithm, model, quick, seed, data) for algorithm in ALGORITHMS}
        wgan, gan = runs["wgan"], runs["gan"]
        numbers = {"data": wgan.data, "model": model,
                   **{f"{algorithm}_{key}": run.series(key) for algorithm, run in runs.items()
                      for key in ("fd", "classes_covered", "confidence", "estimate")},
                   "iterations": [row["iteration"] for row in wgan.evaluations],
                   "gan_iterations": [row["iteration"] for row in gan.evaluations]}
        measured = {algorithm: f"{ALGORITHMS[algorithm]}: FD {run.series('fd')[0]:.1f} -> {run.last['eval/fd']:.1f}, "
                               f"{run.last['eval/classes_covered']}/10 classes, confidence "
                               f"{run.last['eval/confidence']:.2f}" for algorithm, run in runs.items()}
        wgan_fd = wgan.series("fd")
        claims = [Claim(f"WGAN's FD falls during training with {description}", measured["wgan"],
                        wgan_fd[-1] < wgan_fd[0])]
        if not quick:
            claims += [
                Claim(f"WGAN learns with {description}: at least {LEARNED_CLASSES} of 10 classes and an FD under "
                      f"{LEARNED_FD_FALL:g} of its first", measured["wgan"],
                      wgan.last["eval/classes_covered"] >= LEARNED_CLASSES
                      and wgan_fd[-1] < LEARNED_FD_FALL * wgan_fd[0], _why_not_learned(wgan)),
                Claim(f"the standard GAN does markedly worse with the same generator: FD at least {MARKEDLY:g}x "
                      "WGAN's, or fewer classes", f"{measured['gan']}; {measured['wgan']}",
                      gan.last["eval/fd"] >= MARKEDLY * wgan.last["eval/fd"]
                      or gan.last["eval/classes_covered"] < wgan.last["eval/classes_covered"])]
        return ExperimentResult(name, numbers, claims, _figure(runs, description), paper)

    return run


def _why_not_learned(run: ImageRun) -> str:
    """What the run's evaluations say about why it has not learned: a critic that died (its output constant, so
    the estimate is exactly 0 and the generator gets no gradient), or else the FD's course over the run."""
    iterations, fd, estimate = [row["iteration"] for row in run.evaluations], run.series("fd"), run.series("estimate")
    best = min(range(len(fd)), key=fd.__getitem__)
    alive = [i for i, value in enumerate(estimate) if value != 0.0]
    if alive and alive[-1] < len(estimate) - 2:  # a constant critic at the last two evaluations or more
        dead = alive[-1] + 1
        return (f"The critic died: from iteration {iterations[dead]} on its estimate is exactly 0 (its output is "
                f"the same for every image, so the generator gets no gradient) and the FD stays at {fd[-1]:.1f}; "
                f"until then the FD had fallen from {fd[0]:.1f} to {min(fd[:dead + 1]):.1f}.")
    return (f"The run ({run.data}, {iterations[-1]} generator iterations) had not learned digits by its end: FD "
            f"{fd[0]:.1f} at iteration {iterations[0]}, {fd[best]:.1f} at its best (iteration {iterations[best]}), "
            f"{fd[-1]:.1f} at the end, {run.last['eval/classes_covered']}/10 classes; FD along the way: "
            + ", ".join(f"{value:.0f}" for value in fd) + ".")


def _figure(runs: dict[str, ImageRun], description: str) -> bytes:
    """FD over training for both algorithms, and each one's last sample grid."""
    figure, axes = plt.subplots(1, 3, figsize=(14, 4.6), gridspec_kw={"width_ratios": [1.2, 1, 1]})
    for algorithm, run in runs.items():
        iterations = [row["iteration"] for row in run.evaluations]
        axes[0].plot(iterations, run.series("fd"), "o-", color=COLOURS[algorithm], markersize=3,
                     label=ALGORITHMS[algorithm])
    axes[0].set(xlabel="generator iteration", ylabel="FD (classifier features, lower is better)",
                title=f"{runs['wgan'].data}\n{description}")
    axes[0].title.set_fontsize(9)
    axes[0].legend()
    axes[0].grid(alpha=0.3)
    for axis, (algorithm, run) in zip(axes[1:], runs.items()):
        axis.imshow(matplotlib.image.imread(io.BytesIO(run.grid_png), format="png"))
        axis.set_title(f"{ALGORITHMS[algorithm]}: FD {run.last['eval/fd']:.1f}, "
                       f"{run.last['eval/classes_covered']}/10 classes", fontsize=10)
        axis.axis("off")
    figure.tight_layout()
    return figure_png(figure)
