"""WGAN paper, Sec. 4.3 and Figs. 5-7: WGAN still learns with a weak generator; the standard GAN does not.

The WGAN paper trains WGAN and the standard GAN with generators that make GAN training hard: a DCGAN generator
without batch normalisation and with a constant number of filters per layer (Fig. 6 of arXiv:1701.07875), and an
MLP generator of 4 hidden layers of 512 ReLU units (Fig. 7); Fig. 5 shows both with the DCGAN generator. Here
each is an experiment: ``no-batchnorm`` (generator ``dcgan-constant``) and ``mlp-generator`` (generator ``mlp``),
each training WGAN (clipping, RMSProp 5e-5) and the minimax GAN (Adam 2e-4, betas 0.5 / 0.999) with that
generator against the DCGAN critic with batch norm, as the paper does: "We keep the convolutional DCGAN
architecture for the WGAN critic or the GAN discriminator" (Sec. 4.3).

``mlp-generator`` also trains WGAN with an MLP critic as well (``model mlp``): the paper's own failure case (Fig. 3,
lower half: "both the generator and the discriminator are MLPs [...] Loss is constant and samples are
constant"). Its clipped ReLU critic dies: no unit of one of its hidden layers is active for any input, so its
output is the same for every input, the estimate is exactly 0 and every gradient through that layer, the
generator's among them, is exactly 0: nothing moves again (tests/test_constant_critic.py).

Data and size (:mod:`wgan.experiments.image_runs`): at the full size with MNIST (``--data-dir``), the presets
``mnist-wgan-nobn`` / ``mnist-gan-nobn``, ``mnist-wgan-mlp`` / ``mnist-gan-mlp`` and ``mnist-wgan-mlp-critic`` for
10 minutes of training each (``--minutes``); without MNIST, and at the quick size, the built-in digits. The
samples are scored by the project's classifier (:mod:`wgan.metrics.images`): FD, classes generated, confidence.

Claims. "Learns" is read as: generates at least :data:`LEARNED_CLASSES` of the 10 classes and lowers its FD to
under a :data:`LEARNED_FD_FALL` of its first evaluation's. "Markedly worse" is read as: an FD at least
:data:`MARKEDLY` times WGAN's, or fewer classes. "Loss is constant" is read as: the MLP critic's estimate is exactly
0 at the last two evaluations or more (a dead critic). The quick size is too short for any of these, so it checks
only that WGAN's FD falls.

Reference: M. Arjovsky, S. Chintala, L. Bottou, "Wasserstein GAN", ICML 2017, Sec. 4.3, Figs. 5-7.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..plots import untitled_sample_grid
from . import Claim, ExperimentResult, figure_png, subplots
from .image_runs import QUICK_CHECK, ImageData, ImageRun, image_run

ALGORITHMS = {"wgan": "WGAN (clipping)", "gan": "GAN (minimax)"}
FAILING = "wgan_failing_critic"  # the key of WGAN with the generator's failing critic
LABELS = {**ALGORITHMS, FAILING: "WGAN (clipping), MLP critic"}
COLOURS = {"wgan": "#4e79a7", "gan": "#e15759", FAILING: "#b07aa1"}
LEARNED_CLASSES = 9
LEARNED_FD_FALL = 0.25
MARKEDLY = 2.0
CRITIC = "dcgan"  # Sec. 4.3: the DCGAN critic (discriminator) for every generator


@dataclass(frozen=True)
class Generator:
    model: str
    description: str
    paper: str  # the paper's statement, paraphrased
    failing_critic: str | None = None  # a critic the paper reports WGAN failing with, trained beside as that case


GENERATORS = {
    "no-batchnorm": Generator(
        "dcgan-constant", "the DCGAN generator without batch norm and with constant filters",
        "Paraphrased from Arjovsky, Chintala, Bottou, \"Wasserstein GAN\", ICML 2017, Sec. 4.3 (Fig. 6 of "
        "arXiv:1701.07875): with a DCGAN generator without batch normalisation and with a constant number of "
        "filters at every layer, the standard GAN fails to learn, while WGAN still produces samples."),
    "mlp-generator": Generator(
        "mlp", "an MLP generator of 4 hidden layers of 512 ReLU units",
        "Paraphrased from Arjovsky, Chintala, Bottou, \"Wasserstein GAN\", ICML 2017, Sec. 4.3 (Fig. 7 of "
        "arXiv:1701.07875): with an MLP generator of 4 layers of 512 ReLU units and the DCGAN critic, WGAN still "
        "produces samples, of lower quality than with the DCGAN generator and of higher quality than the standard "
        "GAN's, which shows a significant degree of mode collapse. With an MLP critic as well, training fails: "
        "\"Loss is constant and samples are constant\" (Fig. 3, lower half).", failing_critic="mlp"),
}


def make_experiment(name: str) -> Callable[..., ExperimentResult]:
    """The ``run(quick, seed, data)`` of the experiment ``name`` (a key of :data:`GENERATORS`)."""
    generator = GENERATORS[name]
    description = generator.description

    def run(quick: bool = True, seed: int = 0, data: ImageData = ImageData()) -> ExperimentResult:
        runs = {algorithm: image_run(algorithm, generator.model, quick, seed, data, CRITIC)
                for algorithm in ALGORITHMS}
        if generator.failing_critic and not quick:  # its claim needs the full size: no run at the quick size
            runs[FAILING] = image_run("wgan", generator.model, quick, seed, data, generator.failing_critic)
        wgan, gan = runs["wgan"], runs["gan"]
        numbers = {"data": wgan.data, "model": generator.model, "critic": CRITIC,
                   "failing_critic": generator.failing_critic,
                   **{f"{algorithm}_{key}": run.series(key) for algorithm, run in runs.items()
                      for key in ("fd", "classes_covered", "confidence", "estimate")},
                   **{f"{algorithm}_iterations": [row["iteration"] for row in run.evaluations]
                      for algorithm, run in runs.items() if algorithm != "wgan"},
                   "iterations": [row["iteration"] for row in wgan.evaluations]}
        measured = {algorithm: f"{LABELS[algorithm]}: FD {run.series('fd')[0]:.1f} -> {run.last['eval/fd']:.1f}, "
                               f"{run.last['eval/classes_covered']}/10 classes, confidence "
                               f"{run.last['eval/confidence']:.2f}" for algorithm, run in runs.items()}
        wgan_fd = wgan.series("fd")
        smoke = QUICK_CHECK if quick else ""
        claims = [Claim(f"{smoke}WGAN's FD falls during training with {description}", measured["wgan"],
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
            if generator.failing_critic:
                claims.append(_constant_loss_claim(runs[FAILING], measured[FAILING]))
        return ExperimentResult(name, numbers, claims, _figure(runs, description), generator.paper)

    return run


def _death(run: ImageRun) -> int | None:
    """The index of the evaluation from which the estimate is exactly 0 to the end (at the last two or more):
    a constant critic; 0 for one dead at every evaluation. None while it lives."""
    estimate = run.series("estimate")
    alive = [i for i, value in enumerate(estimate) if value != 0.0]
    dead = alive[-1] + 1 if alive else 0
    return dead if dead <= len(estimate) - 2 else None


def _constant_loss_claim(run: ImageRun, measured: str) -> Claim:
    """Fig. 3, lower half: with an MLP critic too, the loss becomes constant (a critic that died)."""
    dead = _death(run)
    iterations = [row["iteration"] for row in run.evaluations]
    return Claim("with an MLP critic as well (Fig. 3, lower half), WGAN's loss becomes constant: the estimate is "
                 "exactly 0 at the last evaluations",
                 measured + (f"; estimate exactly 0 from iteration {iterations[dead]} on" if dead is not None else
                             f"; last estimate {run.series('estimate')[-1]:.3g}"), dead is not None,
                 "" if dead is not None else _why_not_learned(run))


def _why_not_learned(run: ImageRun) -> str:
    """What the run's evaluations say about why it has not learned: a critic that died (its output constant, so
    the estimate is exactly 0 and the generator gets no gradient), or else the FD's course over the run."""
    iterations, fd = [row["iteration"] for row in run.evaluations], run.series("fd")
    best = min(range(len(fd)), key=fd.__getitem__)
    dead = _death(run)
    if dead is not None:
        before = (f"until then the FD had fallen from {fd[0]:.1f} to {min(fd[:dead + 1]):.1f}" if dead else
                  "it was dead at the first evaluation")
        return (f"The critic died: from iteration {iterations[dead]} on its estimate is exactly 0 (its output is "
                f"the same for every image, so the generator gets no gradient) and the FD stays at {fd[-1]:.1f}; "
                f"{before}.")
    return (f"The run ({run.data}, {iterations[-1]} generator iterations) had not learned digits by its end: FD "
            f"{fd[0]:.1f} at iteration {iterations[0]}, {fd[best]:.1f} at its best (iteration {iterations[best]}), "
            f"{fd[-1]:.1f} at the end, {run.last['eval/classes_covered']}/10 classes; FD along the way: "
            + ", ".join(f"{value:.0f}" for value in fd) + ".")


def _figure(runs: dict[str, ImageRun], description: str) -> bytes:
    """FD over training for every run, and each one's last sample grid."""
    figure, axes = subplots(1, 1 + len(runs), figsize=(4.6 + 4.2 * len(runs), 4.6),
                            gridspec_kw={"width_ratios": [1.2] + [1] * len(runs)})
    for algorithm, run in runs.items():
        iterations = [row["iteration"] for row in run.evaluations]
        axes[0].plot(iterations, run.series("fd"), "o-", color=COLOURS[algorithm], markersize=3,
                     label=LABELS[algorithm])
    axes[0].set(xlabel="generator iteration", ylabel="FD (classifier features, lower is better)",
                title=f"{runs['wgan'].data}\n{description}, DCGAN critic")
    axes[0].title.set_fontsize(9)
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3)
    for axis, (algorithm, run) in zip(axes[1:], runs.items()):
        axis.imshow(untitled_sample_grid(run.grid_png))
        axis.set_title(f"{LABELS[algorithm]}: FD {run.last['eval/fd']:.1f}, "
                       f"{run.last['eval/classes_covered']}/10 classes", fontsize=10)
        axis.axis("off")
    figure.tight_layout()
    return figure_png(figure)
