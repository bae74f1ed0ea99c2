"""The critic's empirical Lipschitz constant during training: weight clipping fixes some K, the penalty targets 1.

WGAN (Arjovsky et al. 2017, Sec. 3) clips every critic weight to [-c, c], which makes the critic K-Lipschitz for
some K that depends on c and the architecture, so it estimates K W rather than W ("the fact that the constant
K depends on c ... does not matter for the gradient's direction"). WGAN-GP (Gulrajani et al. 2017, Sec. 4)
instead penalises (||grad f|| - 1)^2 at interpolates, which drives the constant towards 1 itself.

Here a small generator and critic are trained together on 8gaussians with the project's Trainer, once with
clipping (the paper's c = 0.01 and RMSProp 5e-5) and once with the penalty (lambda = 10, the experiments' Adam),
both with n_critic = 5 and no warm-up so that they differ only in the constraint. Every few generator iterations,
on fresh real, generated and interpolated points (drawn from a probe stream apart from training's):

(i)  the largest input-gradient norm ||grad_x f(x)|| over the three sets of points;
(ii) the largest slope |f(x) - f(y)| / ||x - y|| over random pairs of real and generated points.

Both are lower bounds on the critic's Lipschitz constant; (ii) needs no gradient. Iteration 0 is the shared
initial critic before any constraint has acted. The initial critic is the same for both algorithms.

References: M. Arjovsky, S. Chintala, L. Bottou, "Wasserstein GAN", ICML 2017, Sec. 3 and Algorithm 1;
I. Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017, Sec. 4 and Algorithm 1.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..api import _assemble
from ..config import make_config
from ..objectives import critic_gradient_norm, interpolate
from ..randomness import RandomStream
from ..trainer import Trainer, critic_steps
from . import ADAM, PENALTY_WEIGHT, Claim, ExperimentResult, figure_png, ratio, subplots

NAME = "lipschitz"
PAPER = ('"Weight clipping is a clearly terrible way to enforce a Lipschitz constraint." (Arjovsky, Chintala, '
         'Bottou, "Wasserstein GAN", ICML 2017, Sec. 3). Paraphrased: a clipped critic is K-Lipschitz for some '
         'unknown K set by the clipping box rather than 1-Lipschitz, while WGAN-GP penalises the norm of the '
         'critic\'s gradient towards 1 (Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017, '
         'Sec. 4).')
DATA = "8gaussians"
ALGORITHMS = {"wgan": "weight clipping (WGAN, c = 0.01)",
              "wgan-gp": f"gradient penalty (WGAN-GP, λ = {PENALTY_WEIGHT:g})"}
COLOURS = {"wgan": "#e15759", "wgan-gp": "#4e79a7"}
WIDTH, DEPTH = 64, 3  # both networks: small, to stay fast; the constant's behaviour does not need 512 units
N_CRITIC = 5  # both papers' Algorithm 1
PROBE_SAMPLES = 512  # real and generated points per check (and as many interpolates)
PROBE_PAIRS = 4096  # random pairs for the slope
MIN_PAIR_DISTANCE = 1e-6  # pairs closer than this (the same point twice) have no slope
NEAR_ONE = (0.5, 2.0)  # the penalised critic's constant, once settled, lies here
SETTLED_FRACTION = 1 / 3  # the claims on the penalised critic read the checks of the last third of training
FAR_BELOW_ONE = 0.1  # the clipped critic's stays below this after its first update


@dataclass(frozen=True)
class Size:
    iterations: int  # generator iterations
    every: int  # check the constant every this many
    batch_size: int


QUICK = Size(iterations=300, every=20, batch_size=256)
FULL = Size(iterations=3000, every=100, batch_size=256)


def _trainer(algorithm: str, size: Size, seed: int) -> Trainer:
    """The project's trainer for ``algorithm`` on the CPU, built without touching the caller's random state."""
    settings = {**ADAM, "penalty_weight": PENALTY_WEIGHT} if algorithm == "wgan-gp" else {}
    config = make_config(data=DATA, algorithm=algorithm, width=WIDTH, depth=DEPTH, iterations=size.iterations,
                         batch_size=size.batch_size, n_critic=N_CRITIC, warmup=False, device="cpu", seed=seed,
                         **settings)
    with torch.random.fork_rng(devices=[]):  # _assemble seeds the global generator to build the models
        return _assemble(config, lambda: None)


def max_pair_slope(critic: nn.Module, points: Tensor, pairs: int, rng: torch.Generator) -> float:
    """max |f(x) - f(y)| / ||x - y|| over ``pairs`` random pairs of ``points``: a lower bound on Lip(f)."""
    first = torch.randint(len(points), (pairs,), generator=rng)
    second = torch.randint(len(points), (pairs,), generator=rng)
    with torch.no_grad():
        values = critic(points).float()
    distance = (points[first] - points[second]).flatten(1).norm(dim=1)
    apart = distance > MIN_PAIR_DISTANCE
    return float(((values[first] - values[second]).abs()[apart] / distance[apart]).max())


def _probe(trainer: Trainer, rng: torch.Generator) -> tuple[float, float]:
    """(max gradient norm over real, fake and interpolates, max pairwise slope over real and fake)."""
    real = trainer.sampler.sample(PROBE_SAMPLES, rng)
    with torch.no_grad():
        fake = trainer.generator(torch.randn(PROBE_SAMPLES, trainer.config.latent_dim, generator=rng)).float()
    points = torch.cat([real, fake, interpolate(real, fake, RandomStream(rng))])
    gradient = float(critic_gradient_norm(trainer.critic, points).max())
    return gradient, max_pair_slope(trainer.critic, torch.cat([real, fake]), PROBE_PAIRS, rng)


def _train_and_probe(algorithm: str, size: Size, seed: int) -> tuple[list[float], list[float]]:
    trainer = _trainer(algorithm, size, seed)
    probe_rng = torch.Generator().manual_seed(seed + 1)  # apart from the trainer's stream, the same for both
    gradients, slopes = [], []
    for iteration in range(size.iterations + 1):
        if iteration % size.every == 0 or iteration == size.iterations:
            gradient, slope = _probe(trainer, probe_rng)
            gradients.append(gradient)
            slopes.append(slope)
        if iteration == size.iterations:
            break
        for _ in range(critic_steps(trainer.config, iteration)):
            trainer.critic_step()
        trainer.generator_step()
    return gradients, slopes


def run(quick: bool = True, seed: int = 0) -> ExperimentResult:
    """Train with both constraints at the quick (tests) or full (documentation) size; see the module docstring."""
    size = QUICK if quick else FULL
    checks = sorted({*range(0, size.iterations + 1, size.every), size.iterations})
    numbers: dict = {"iterations": checks}
    for algorithm in ALGORITHMS:
        gradients, slopes = _train_and_probe(algorithm, size, seed)
        key = algorithm.replace("-", "_")
        numbers[f"max_gradient_norm_{key}"] = gradients
        numbers[f"max_pair_slope_{key}"] = slopes
    return ExperimentResult(NAME, numbers, _claims(numbers), _figure(numbers), PAPER)


def settled(series: list[float]) -> float:
    """The median of a measure's checks over the last third of training. A largest value over a few thousand
    points moves from check to check (the quick run's largest gradient norm: 1.2 to 2.3 over its last checks and
    seeds), so a claim on one check would turn on that check's draw."""
    return statistics.median(series[-max(1, round(len(series) * SETTLED_FRACTION)):])


def _claims(numbers: dict) -> list[Claim]:
    low, high = NEAR_ONE
    gp_gradients, gp_slopes = numbers["max_gradient_norm_wgan_gp"], numbers["max_pair_slope_wgan_gp"]
    gp_gradient, gp_slope = settled(gp_gradients), settled(gp_slopes)
    last_third = "median of the checks of the last third of training"
    clipped = numbers["max_gradient_norm_wgan"][1:] + numbers["max_pair_slope_wgan"][1:]  # after the first update
    clip_gradient = numbers["max_gradient_norm_wgan"][1:]
    drift = ratio(max(clip_gradient), min(clip_gradient))
    return [
        Claim(f"WGAN-GP targets 1: the critic's largest gradient norm, once settled ({last_third}), is within "
              f"[{low:g}, {high:g}]", f"{gp_gradient:.2f} (at the end {gp_gradients[-1]:.2f}; range after "
              f"iteration 0: {min(gp_gradients[1:]):.2f} to {max(gp_gradients[1:]):.2f})", low <= gp_gradient <= high),
        Claim(f"WGAN-GP: the largest pairwise slope over real and generated points, once settled ({last_third}), "
              f"is within [{low:g}, {high:g}]", f"{gp_slope:.2f} (at the end {gp_slopes[-1]:.2f})",
              low <= gp_slope <= high),
        Claim(f"weight clipping (c = 0.01) fixes some small, unknown K instead of 1: both measures stay below "
              f"{FAR_BELOW_ONE:g} after the first critic update", f"{min(clipped):.1e} to {max(clipped):.1e}; the "
              f"gradient measure drifts by a factor {drift:.1f} during training", max(clipped) < FAR_BELOW_ONE),
    ]


def _figure(numbers: dict) -> bytes:
    figure, panels = subplots(1, 2, figsize=(12, 4.4), sharey=True)
    measures = (("max_gradient_norm", "(i) max ||∇f(x)|| over real, generated and interpolated points"),
                ("max_pair_slope", "(ii) max |f(x) - f(y)| / ||x - y|| over random real / generated pairs"))
    iterations = numbers["iterations"]
    for axes, (measure, title) in zip(panels, measures):
        axes.axhspan(*NEAR_ONE, color="#59a14f", alpha=0.12, label=f"[{NEAR_ONE[0]:g}, {NEAR_ONE[1]:g}]")
        axes.axhline(1.0, color="#59a14f", linewidth=1)
        for algorithm, label in ALGORITHMS.items():
            axes.semilogy(iterations, numbers[f"{measure}_{algorithm.replace('-', '_')}"], "o-", markersize=3,
                          color=COLOURS[algorithm], label=label)
        axes.set(xlabel="generator iteration", title=title)
        axes.title.set_fontsize(10)
        axes.grid(alpha=0.3)
    panels[0].set_ylabel("empirical Lipschitz constant (log)")
    panels[0].legend(fontsize=8, loc="center right")
    figure.suptitle(f"The critic's empirical Lipschitz constant while training on {DATA}: clipping fixes an unknown "
                    "K ≪ 1, the gradient penalty holds it near 1\n(iteration 0: the initial critic both share, "
                    "before any constraint acts)", fontsize=11)
    figure.tight_layout()
    return figure_png(figure)
