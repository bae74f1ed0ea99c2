"""WGAN paper, Figure 2: the optimal GAN discriminator saturates; the optimal WGAN critic has a clean gradient.

Two 1-D Gaussians far apart relative to their width (the paper does not give their parameters; here real
N(-1, 0.2^2) and fake N(1, 0.2^2), ten standard deviations apart). A GAN discriminator and two critics, small
ReLU MLPs on the line, are each trained to (near) optimality on them: the paper's WGAN critic, its weights clipped
to [-c, c], and a WGAN-GP critic. Then, at the fake samples:

- the discriminator D = sigmoid(s) is ~0, and the gradient that the minimax generator receives,
  d/dx log(1 - D(x)) = -D(x) s'(x), is vanishingly small (we report mean |D s'| over fakes, and also the
  gradient of D itself, mean |D (1 - D) s'|, which is the same to first order in D);
- the optimal critic f is linear between the two supports, so the generator gets a gradient of constant size
  that points towards the data (the trained ones come near it: the clipped critic's slope varies by under 1%
  over the gap, the WGAN-GP critic's by more, within a factor 1.4 at the quick size). Clipping bounds f's
  Lipschitz constant by some K that the clip sets, not by 1: the clipped critic is K times a 1-Lipschitz function
  (the paper's Sec. 3), its slope the same K at every point of the gap between the supports, and small (~2e-3 at
  c = 0.01) but orders of magnitude above the minimax gradient. The WGAN-GP critic's slope is ~1 (mean |f'| over
  fakes).

With the two-sided penalty of weight lambda the optimal critic between the supports is linear with slope
1 + W / (2 lambda) rather than exactly 1 (maximise s W - lambda (s - 1)^2): 1.1 here at WGAN-GP's lambda = 10.

Reference: M. Arjovsky, S. Chintala, L. Bottou, "Wasserstein GAN", ICML 2017, Figure 2 and Sec. 3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..objectives import input_gradient
from . import PENALTY_WEIGHT, Claim, ExperimentResult, build_critic, figure_png, make_objective, subplots, train_critic

NAME = "optimal-critic"
PAPER = ('"Optimal discriminator and critic when learning to differentiate two Gaussians. As we can see, the '
         'discriminator of a minimax GAN saturates and results in vanishing gradients. Our WGAN critic provides very '
         'clean gradients on all parts of the space." (Arjovsky, Chintala, Bottou, "Wasserstein GAN", ICML 2017, '
         'caption of Figure 2)')
REAL_MEAN, FAKE_MEAN, STD = -1.0, 1.0, 0.2
W_EXACT = abs(FAKE_MEAN - REAL_MEAN)  # W1 between two Gaussians of equal width is the distance of their means
SLOPE_PREDICTED = 1.0 + W_EXACT / (2.0 * PENALTY_WEIGHT)
EVAL_SAMPLES = 4096  # fresh fake (and real) samples at which gradients and the estimate are read
LINE = np.linspace(-3.0, 3.0, 601)  # where the functions are drawn
GAP = np.abs(LINE) <= 0.6  # the gap between the supports, beyond 2 sd of each: where the critics are linear
GAP_SPREAD = 0.1  # a linear critic's slope over the gap varies by less than this fraction of its mean


@dataclass(frozen=True)
class Size:
    steps: int  # Adam steps for each network
    batch_size: int


QUICK = Size(steps=1000, batch_size=256)
FULL = Size(steps=5000, batch_size=512)


def _gaussian(mean: float, rng: torch.Generator):
    return lambda n: mean + STD * torch.randn((n, 1), generator=rng)


def _density(mean: float) -> np.ndarray:
    return np.exp(-0.5 * ((LINE - mean) / STD) ** 2) / (STD * math.sqrt(2.0 * math.pi))


def _trained(algorithm: str, size: Size, seed: int):
    """A network trained with ``algorithm`` on real vs fake, its objective and the random stream it used."""
    objective = make_objective(algorithm)
    rng = torch.Generator().manual_seed(seed)
    critic = build_critic(objective.config, (1,), seed)
    train_critic(objective, critic, _gaussian(REAL_MEAN, rng), _gaussian(FAKE_MEAN, rng), size.steps,
                 size.batch_size, rng)
    return critic, objective, rng


def run(quick: bool = True, seed: int = 0) -> ExperimentResult:
    """Train both networks at the quick (tests) or full (documentation) size; see the module docstring."""
    size = QUICK if quick else FULL
    line = torch.tensor(LINE, dtype=torch.float32)[:, None]
    numbers: dict = {"x": LINE.tolist(), "real_density": _density(REAL_MEAN).tolist(),
                     "fake_density": _density(FAKE_MEAN).tolist(), "w_exact": W_EXACT,
                     "critic_slope_predicted": SLOPE_PREDICTED}

    discriminator, gan, rng = _trained("gan", size, seed)
    fakes = _gaussian(FAKE_MEAN, rng)(EVAL_SAMPLES)
    with torch.no_grad():
        logit_line, logit_fakes = discriminator(line), discriminator(fakes)
    d_line, d_fakes = torch.sigmoid(logit_line), torch.sigmoid(logit_fakes)
    slope_line, slope_fakes = input_gradient(discriminator, line)[:, 0], input_gradient(discriminator, fakes)[:, 0]
    numbers.update(
        discriminator=d_line.tolist(),
        minimax_gradient=(d_line * slope_line).abs().tolist(),  # |d/dx log(1 - D(x))| = D |s'|
        discriminator_at_fakes=float(d_fakes.mean()),
        minimax_gradient_at_fakes=float((d_fakes * slope_fakes).abs().mean()),
        discriminator_gradient_at_fakes=float((d_fakes * (1 - d_fakes) * slope_fakes).abs().mean()),
        discriminator_logit_slope_at_fakes=float(slope_fakes.abs().mean()),
    )

    for algorithm, key in (("wgan", "clipped_critic"), ("wgan-gp", "critic")):
        numbers.update(_critic_numbers(algorithm, key, size, seed, line))
    return ExperimentResult(NAME, numbers, _claims(numbers), _figure(numbers), PAPER)


def _critic_numbers(algorithm: str, key: str, size: Size, seed: int, line: torch.Tensor) -> dict:
    """The values and slopes of a critic trained with ``algorithm``, under names that start with ``key``."""
    critic, objective, rng = _trained(algorithm, size, seed)
    reals, fakes = _gaussian(REAL_MEAN, rng)(EVAL_SAMPLES), _gaussian(FAKE_MEAN, rng)(EVAL_SAMPLES)
    with torch.no_grad():
        values, estimate = critic(line), objective.estimate(critic(reals), critic(fakes))
    slopes = input_gradient(critic, line)[:, 0].abs().numpy()
    gap = slopes[GAP]
    return {key: values.tolist(), f"{key}_estimate": float(estimate), f"{key}_gradient": slopes.tolist(),
            f"{key}_slope_at_fakes": float(input_gradient(critic, fakes)[:, 0].abs().mean()),
            f"{key}_gap_slope": float(gap.mean()), f"{key}_gap_spread": float((gap.max() - gap.min()) / gap.mean())}


def _claims(numbers: dict) -> list[Claim]:
    minimax, slope = numbers["minimax_gradient_at_fakes"], numbers["critic_slope_at_fakes"]
    clipped, clipped_gap = numbers["clipped_critic_slope_at_fakes"], numbers["clipped_critic_gap_slope"]
    ratio = clipped / minimax if minimax > 0 else math.inf
    spread = numbers["clipped_critic_gap_spread"]
    estimate = numbers["critic_estimate"]
    predicted = W_EXACT * SLOPE_PREDICTED
    return [
        Claim("the optimal discriminator saturates: the minimax gradient |d log(1 - D)/dx| at the fakes is "
              "< 1e-3 and orders of magnitude (>= 100x) below the slope of the WGAN critic (weight clipping)",
              f"{minimax:.1e} (D at fakes {numbers['discriminator_at_fakes']:.1e}); clipped critic / discriminator "
              f"= {ratio:.1e}", minimax < 1e-3 and ratio >= 100),
        Claim(f"the WGAN critic (weight clipping, the paper's) is linear between the supports: its slope |f'| "
              f"varies by < {GAP_SPREAD:.0%} of its mean over |x| <= 0.6, and at the fakes it is at least half "
              f"that slope", f"slope {clipped_gap:.2e} over the gap, varying by {spread:.1%}; {clipped:.2e} at the "
              f"fakes ({clipped / clipped_gap:.2f} of it)", spread < GAP_SPREAD and clipped >= 0.5 * clipped_gap),
        Claim("the WGAN-GP critic's slope |f'| at the fakes is ~1 (within [0.8, 1.2])",
              f"{slope:.3f} (theory for lambda = {PENALTY_WEIGHT:g}: {SLOPE_PREDICTED:.3f})", 0.8 <= slope <= 1.2),
        Claim("the WGAN-GP critic's estimate E f(real) - E f(fake) is W (1 + W / (2 lambda)) within 10 %",
              f"{estimate:.3f} vs {predicted:.3f} (W = {W_EXACT:g})", abs(estimate - predicted) <= 0.1 * predicted),
    ]


def _figure(numbers: dict) -> bytes:
    x = np.array(numbers["x"])
    figure, (values, gradients) = subplots(1, 2, figsize=(12, 4.8))

    values.fill_between(x, numbers["real_density"], color="#59a14f", alpha=0.25, label="real density")
    values.fill_between(x, numbers["fake_density"], color="#4e79a7", alpha=0.25, label="fake density")
    values.plot(x, numbers["discriminator"], color="#e15759", label="GAN discriminator D(x)")
    critic, clipped = np.array(numbers["critic"]), np.array(numbers["clipped_critic"])
    slope = numbers["clipped_critic_gap_slope"]
    values.plot(x, (clipped - clipped.min()) / slope, color="#f28e2b",
                label=f"WGAN critic, clipped: f(x) / {slope:.1e}, its slope (shifted to min 0)")
    values.plot(x, critic - critic.min(), color="#4e79a7", label="WGAN-GP critic f(x) (shifted to min 0)")
    values.set(xlabel="x", ylabel="value", title="(a) the trained discriminator and critics")

    floor = 1e-16  # the axis' bottom: smaller gradients (and exact zeros, where D underflows) are drawn on it
    gradients.semilogy(x, np.maximum(numbers["minimax_gradient"], floor), color="#e15759",
                       label="|d/dx log(1 - D(x))|: minimax generator gradient (clipped at 1e-16)")
    gradients.semilogy(x, np.maximum(numbers["clipped_critic_gradient"], floor), color="#f28e2b",
                       label="|f'(x)|: WGAN critic, clipped")
    gradients.semilogy(x, np.maximum(numbers["critic_gradient"], floor), color="#4e79a7",
                       label="|f'(x)|: WGAN-GP critic")
    gradients.axvspan(FAKE_MEAN - 2 * STD, FAKE_MEAN + 2 * STD, color="#4e79a7", alpha=0.12, label="fakes (±2 sd)")
    gradients.axvspan(REAL_MEAN - 2 * STD, REAL_MEAN + 2 * STD, color="#59a14f", alpha=0.12, label="reals (±2 sd)")
    gradients.set(xlabel="x", ylabel="gradient magnitude", ylim=(floor, 1e3),
                  title="(b) the gradient a generator at x would receive")
    for ax in (values, gradients):
        ax.grid(alpha=0.3)
    # below the panels: inside, wherever they went, they covered a curve (the minimax gradient's fall, the critics)
    for ax in (values, gradients):
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    figure.suptitle(f"Optimal discriminator vs critics, real N({REAL_MEAN:g}, {STD:g}²) and fake "
                    f"N({FAKE_MEAN:g}, {STD:g}²): D saturates, the critics' gradients do not vanish")
    figure.tight_layout()
    return figure_png(figure)
