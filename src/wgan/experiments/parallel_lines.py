"""WGAN paper, Example 1 and Figure 1: learning parallel lines.

P_0 is the law of (0, Z) and P_theta the law of (theta, Z) in the plane, Z ~ U[0, 1]. For theta != 0 the two
lines are disjoint, so JS = log 2, KL = +inf and TV = 1 whatever theta is, while W(P_0, P_theta) = |theta|.
Only W is continuous in theta and gives a gradient towards theta = 0. This module measures that four ways:

1. the closed forms (:func:`wgan.distances.parallel_lines_curves`);
2. estimates from samples: exact-OT W1 (:func:`wgan.distances.w1`), and JS and TV of 2-D histograms;
3. what trained networks estimate: a WGAN-GP critic's mean f(real) - mean f(fake), which should follow
   |theta| (fitted as a |theta| + b), and a GAN discriminator's log 2 + V / 2, which should sit at log 2;
4. learning theta itself by gradient descent from theta = 1 against a near-optimal critic: WGAN moves theta to
   0; the minimax GAN's gradient vanishes (its discriminator is saturated), so theta stays near 1.

The critic uses the gradient penalty (Gulrajani et al. 2017) rather than weight clipping, because a GP critic is
close to 1-Lipschitz and so estimates W itself; a clipped critic estimates W only up to an unknown factor K.
With the two-sided penalty the optimal critic here is linear in x with slope 1 + |theta| / (2 lambda), so the
estimate is |theta| + theta^2 / (2 lambda): within 5 % of W at lambda = 10 (WGAN-GP's value) for |theta| <= 1.
Networks and optimiser: :data:`wgan.experiments.ADAM` and friends, the same for both objectives.

Reference: M. Arjovsky, S. Chintala, L. Bottou, "Wasserstein GAN", ICML 2017, Example 1, Figure 1 and Sec. 3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from .. import distances
from ..data.toy import ParallelLinesSampler
from ..objectives import Objective
from ..trainer import make_optimizer
from . import Claim, ExperimentResult, build_critic, figure_png, make_objective, subplots, train_critic

if TYPE_CHECKING:
    from matplotlib.axes import Axes

NAME = "parallel-lines"
PAPER = ('For every θ ≠ 0, W(P0, Pθ) = |θ|, JS(P0, Pθ) = log 2, KL = +∞ and TV = 1 (paraphrased); '
         '"When θt → 0, the sequence (Pθt)t∈ℕ converges to P0 under the EM distance, but does not converge at all '
         'under either the JS, KL, reverse KL, or TV divergences." (Arjovsky, Chintala, Bottou, "Wasserstein GAN", '
         'ICML 2017, Example 1 and Figure 1)')
LOG2 = math.log(2.0)
ESTIMATE_SAMPLES = 4096  # fresh samples on which a trained critic's estimate is read
THETA_START = 1.0  # Example 1 learns theta from here towards the data at theta = 0
THETA_LR = 0.02  # plain gradient descent on theta: the step is the gradient itself, so vanishing gradients show
# Histograms: bins of width 0.1 in x centred on 0 (the line of P_0 sits in the middle of one bin), 10 in y.
HIST_X_EDGES = np.linspace(-1.05, 1.05, 22)
HIST_Y_EDGES = np.linspace(0.0, 1.0, 11)
HIST_BIN_WIDTH = float(HIST_X_EDGES[1] - HIST_X_EDGES[0])


@dataclass(frozen=True)
class Size:
    closed_form_thetas: int  # points of the closed-form curves on [-1, 1]
    thetas: int  # grid of thetas on [-1, 1] for the sample and network estimates (odd, so that 0 is on it)
    ot_samples: int  # samples per distribution for exact-OT W1 (O(n^3))
    histogram_samples: int  # samples per distribution for the JS / TV histograms
    critic_steps: int  # Adam steps that train each fresh critic to (near) optimality
    batch_size: int
    warmup_steps: int  # critic steps before the first theta step when learning theta
    critic_steps_per_theta_step: int
    theta_steps: int


QUICK = Size(closed_form_thetas=401, thetas=11, ot_samples=500, histogram_samples=10_000, critic_steps=300,
             batch_size=256, warmup_steps=200, critic_steps_per_theta_step=5, theta_steps=100)
FULL = Size(closed_form_thetas=2001, thetas=21, ot_samples=2000, histogram_samples=100_000, critic_steps=2000,
            batch_size=512, warmup_steps=1000, critic_steps_per_theta_step=10, theta_steps=200)


class LineGenerator(nn.Module):
    """g_theta(z) = (theta, z): the one-parameter generator of Example 1; z ~ U[0, 1] has shape (n, 1)."""

    def __init__(self, theta: float):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(float(theta)))

    def forward(self, z: Tensor) -> Tensor:
        return torch.cat([self.theta.expand(len(z), 1), z], dim=1)


def _objective(algorithm: str) -> Objective:
    return make_objective(algorithm, data="parallel-lines")


def _lines(theta: float, seed: int) -> tuple[ParallelLinesSampler, ParallelLinesSampler, torch.Generator]:
    """P_0, P_theta and one random stream. Every theta reuses the same seed (common random numbers), so the
    estimates differ across thetas by theta, not by the draw."""
    return ParallelLinesSampler("cpu", 0.0), ParallelLinesSampler("cpu", theta), torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------------------- estimates from samples
def _histogram(points: np.ndarray) -> np.ndarray:
    counts, _, _ = np.histogram2d(points[:, 0], points[:, 1], bins=(HIST_X_EDGES, HIST_Y_EDGES))
    return counts


def sample_estimates(thetas: np.ndarray, size: Size, seed: int) -> dict[str, list]:
    """Exact-OT W1 between ``ot_samples`` points of P_0 and P_theta, and JS / TV of their 2-D histograms."""
    w1, js, tv = [], [], []
    for theta in thetas:
        p0, p_theta, rng = _lines(float(theta), seed)
        real, fake = p0.sample(size.ot_samples, rng).numpy(), p_theta.sample(size.ot_samples, rng).numpy()
        w1.append(distances.w1(real, fake))
        real, fake = (sampler.sample(size.histogram_samples, rng).numpy() for sampler in (p0, p_theta))
        p, q = _histogram(real), _histogram(fake)
        js.append(distances.js(p, q, normalize=True))
        tv.append(distances.tv(p, q, normalize=True))
    return {"w1_samples": w1, "js_histogram": js, "tv_histogram": tv}


# ------------------------------------------------------------------------------------------ network estimates
def critic_estimate(algorithm: str, theta: float, size: Size, seed: int) -> float:
    """Train a fresh critic of ``algorithm`` on P_0 vs P_theta and read its estimate on fresh samples."""
    objective = _objective(algorithm)
    p0, p_theta, rng = _lines(theta, seed)
    critic = build_critic(objective.config, (2,), seed)
    train_critic(objective, critic, lambda n: p0.sample(n, rng), lambda n: p_theta.sample(n, rng),
                 size.critic_steps, size.batch_size, rng)
    with torch.no_grad():
        real, fake = p0.sample(ESTIMATE_SAMPLES, rng), p_theta.sample(ESTIMATE_SAMPLES, rng)
        return float(objective.estimate(critic(real), critic(fake)))


def fit_abs(thetas: np.ndarray, values: np.ndarray) -> tuple[float, float, float]:
    """Least-squares fit values ~ a |theta| + b; returns (a, b, R^2)."""
    slope, intercept = np.polyfit(np.abs(thetas), values, 1)
    residual = values - (slope * np.abs(thetas) + intercept)
    r2 = 1.0 - float(np.sum(residual**2)) / float(np.sum((values - values.mean()) ** 2))
    return float(slope), float(intercept), r2


def learn_theta(algorithm: str, size: Size, seed: int) -> tuple[list[float], list[float]]:
    """Gradient descent on theta from THETA_START against a critic kept near its optimum.

    The critic first takes ``warmup_steps`` steps, then alternates ``critic_steps_per_theta_step`` steps with one
    plain gradient step on theta of the objective's generator loss (WGAN: -mean f(g_theta(z)); minimax GAN:
    mean log(1 - D(g_theta(z)))). Returns the trajectory of theta (start included) and the gradients.
    """
    objective = _objective(algorithm)
    generator = LineGenerator(THETA_START)
    p0, _, rng = _lines(THETA_START, seed)
    critic = build_critic(objective.config, (2,), seed)
    critic_optimizer = make_optimizer(critic.parameters(), objective.config)
    theta_optimizer = torch.optim.SGD(generator.parameters(), lr=THETA_LR)

    def fake(n: int) -> Tensor:
        with torch.no_grad():
            return generator(torch.rand((n, 1), generator=rng))

    trajectory, gradients = [generator.theta.item()], []
    for step in range(size.theta_steps):
        steps = size.warmup_steps if step == 0 else size.critic_steps_per_theta_step
        train_critic(objective, critic, lambda n: p0.sample(n, rng), fake, steps, size.batch_size, rng,
                     critic_optimizer)
        loss, _ = objective.generator_loss(critic, generator(torch.rand((size.batch_size, 1), generator=rng)))
        theta_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        gradients.append(generator.theta.grad.item())
        theta_optimizer.step()
        trajectory.append(generator.theta.item())
    return trajectory, gradients


# --------------------------------------------------------------------------------------------------- the figure
def _split_at_zero(axes: Axes, theta: np.ndarray, values: np.ndarray, **style) -> None:
    """Draw a curve that jumps at theta = 0 as two branches and a dot, so the discontinuity shows."""
    for side in (theta < 0, theta > 0):
        axes.plot(theta[side], values[side], **style)
        style.pop("label", None)
    zero = theta == 0
    axes.plot(theta[zero], values[zero], "o", color=style.get("color"), markersize=5)


def _figure(numbers: dict, thetas: np.ndarray) -> bytes:
    theta = np.array(numbers["theta_closed"])
    figure, axes = subplots(2, 2, figsize=(11, 8.5))
    (closed, samples), (nets, learning) = axes

    closed.plot(theta, numbers["w_closed"], color="#4e79a7", label=r"$W = |\theta|$")
    _split_at_zero(closed, theta, np.array(numbers["tv_closed"]), color="#59a14f", linestyle="--",
                   label=r"TV (1 for $\theta \neq 0$)")
    _split_at_zero(closed, theta, np.array(numbers["js_closed"]), color="#e15759",
                   label=r"JS ($\log 2$ for $\theta \neq 0$)")
    closed.text(0.02, 0.04, r"KL $= +\infty$ for every $\theta \neq 0$", transform=closed.transAxes, fontsize=9)
    closed.annotate(r"all four 0 at $\theta = 0$", xy=(0.0, 0.0), xytext=(-0.5, 0.12), fontsize=9,
                    arrowprops={"arrowstyle": "-", "color": "#888888"})
    closed.set(title="(a) closed forms (WGAN Example 1)", xlabel=r"$\theta$", ylabel="distance")

    samples.plot(theta, numbers["w_closed"], color="#bbbbbb", label=r"$|\theta|$")
    samples.plot(thetas, numbers["w1_samples"], "o", color="#4e79a7", label="W1, exact OT on samples")
    samples.plot(thetas, numbers["js_histogram"], "s", color="#e15759", label="JS of 2-D histograms")
    samples.plot(thetas, numbers["tv_histogram"], "^", color="#59a14f", label="TV of 2-D histograms",
                 markerfacecolor="none")
    samples.axhline(LOG2, color="#e15759", linewidth=0.8, linestyle=":")
    samples.set(title=f"(b) from samples (histogram bins {HIST_BIN_WIDTH:g} wide in x)", xlabel=r"$\theta$",
                ylabel="estimate")

    slope, intercept = numbers["critic_fit_slope"], numbers["critic_fit_intercept"]
    nets.plot(theta, numbers["w_closed"], color="#bbbbbb", label=r"$W = |\theta|$")
    nets.plot(theta, slope * np.abs(theta) + intercept, color="#4e79a7", linewidth=0.8, linestyle="--",
              label=rf"fit ${slope:.2f}|\theta| {intercept:+.3f}$ ($R^2$ = {numbers['critic_fit_r2']:.3f})")
    nets.plot(thetas, numbers["critic_estimate_wgan_gp"], "o", color="#4e79a7",
              label=r"WGAN-GP critic: $E_{P_0} f - E_{P_\theta} f$")
    nets.plot(thetas, numbers["js_estimate_gan"], "s", color="#e15759",
              label=r"GAN discriminator: $\log 2 + V/2$")
    nets.axhline(LOG2, color="#e15759", linewidth=0.8, linestyle=":")
    nets.set(title="(c) what a trained critic / discriminator estimates", xlabel=r"$\theta$", ylabel="estimate")

    for key, colour, label in (("theta_trajectory_wgan", "#4e79a7", "WGAN-GP critic"),
                               ("theta_trajectory_gan", "#e15759", "minimax GAN discriminator")):
        learning.plot(numbers[key], color=colour, label=label)
    learning.axhline(0.0, color="#bbbbbb", linewidth=0.8)
    learning.set(title=rf"(d) learning $\theta$ by gradient descent (step {THETA_LR:g} $\times$ gradient)",
                 xlabel="gradient-descent step", ylabel=r"$\theta$", ylim=(-0.1, 1.1))

    for ax in axes.flat:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    figure.suptitle(r"Learning parallel lines (WGAN Example 1): only W is continuous in $\theta$ and gives a "
                    "gradient")
    figure.tight_layout()
    return figure_png(figure)


# ------------------------------------------------------------------------------------------------------ the run
def run(quick: bool = True, seed: int = 0) -> ExperimentResult:
    """Run Example 1 at the quick (tests) or full (documentation) size; see the module docstring."""
    size = QUICK if quick else FULL
    closed = distances.parallel_lines_curves(np.linspace(-1.0, 1.0, size.closed_form_thetas))
    thetas = np.linspace(-1.0, 1.0, size.thetas)
    numbers: dict = {
        "theta_closed": closed["theta"].tolist(),
        "w_closed": closed["w"].tolist(),
        "js_closed": closed["js"].tolist(),
        "tv_closed": closed["tv"].tolist(),
        "kl_closed": closed["kl"].tolist(),  # +inf off theta = 0, written "inf" (results.json is strict JSON)
        "theta_grid": thetas.tolist(),
        **sample_estimates(thetas, size, seed),
        "critic_estimate_wgan_gp": [critic_estimate("wgan-gp", float(t), size, seed) for t in thetas],
        "js_estimate_gan": [critic_estimate("gan", float(t), size, seed) for t in thetas],
    }
    slope, intercept, r2 = fit_abs(thetas, np.array(numbers["critic_estimate_wgan_gp"]))
    numbers.update(critic_fit_slope=slope, critic_fit_intercept=intercept, critic_fit_r2=r2)
    for algorithm, key in (("wgan-gp", "wgan"), ("gan", "gan")):
        trajectory, gradients = learn_theta(algorithm, size, seed)
        numbers[f"theta_trajectory_{key}"] = trajectory
        numbers[f"theta_gradient_{key}"] = gradients
        numbers[f"theta_final_{key}"] = trajectory[-1]
    claims = _claims(numbers, closed, thetas)
    return ExperimentResult(NAME, numbers, claims, _figure(numbers, thetas), PAPER)


def _claims(numbers: dict, closed: dict, thetas: np.ndarray) -> list[Claim]:
    off = closed["theta"] != 0
    js_gap = float(np.max(np.abs(closed["js"][off] - LOG2)))
    kl_infinite = bool(np.all(np.isinf(closed["kl"][off])))
    w1_error = float(np.max(np.abs(np.array(numbers["w1_samples"]) - np.abs(thetas))))
    separated = np.abs(thetas) > HIST_BIN_WIDTH / 2  # P_theta's line falls in another bin column than P_0's
    js_hist = np.array(numbers["js_histogram"])[separated]
    tv_hist = np.array(numbers["tv_histogram"])[separated]
    hist_gap = max(float(np.max(np.abs(js_hist - LOG2))), float(np.max(np.abs(tv_hist - 1.0))))
    gan = np.array(numbers["js_estimate_gan"])
    gan_gap = float(np.max(np.abs(gan[thetas != 0] - LOG2)))
    gan_at_zero = float(np.abs(gan[thetas == 0]).max())
    r2, slope = numbers["critic_fit_r2"], numbers["critic_fit_slope"]
    wgan_final, gan_final = numbers["theta_final_wgan"], numbers["theta_final_gan"]
    return [
        Claim("closed form: JS(P0, P_theta) = log 2 for every theta != 0 and KL = +inf",
              f"max |JS - log 2| = {js_gap:.1e}; KL infinite: {kl_infinite}", js_gap == 0.0 and kl_infinite),
        Claim("exact-OT W1 of samples follows |theta| (within 0.05)", f"max |W1 - |theta|| = {w1_error:.3f}",
              w1_error < 0.05),
        Claim(f"from histograms, JS = log 2 and TV = 1 once the lines fall in different bins (|theta| > "
              f"{HIST_BIN_WIDTH / 2:g})", f"max deviation {hist_gap:.1e} over {int(separated.sum())} thetas",
              hist_gap < 1e-9),
        Claim("the WGAN-GP critic's estimate is linear in |theta|: R^2 of a|theta| + b >= 0.95, slope ~ 1",
              f"R^2 = {r2:.4f}, slope a = {slope:.3f}", r2 >= 0.95 and 0.8 <= slope <= 1.2),
        Claim("the GAN discriminator's JS estimate is flat at log 2 for theta != 0 (within 0.05) and ~0 at 0",
              f"max |est - log 2| = {gan_gap:.4f}; |est| at 0 = {gan_at_zero:.4f}",
              gan_gap < 0.05 and gan_at_zero < 0.05),
        Claim("WGAN (the WGAN-GP critic of the estimates above): gradient descent on theta from 1 reaches "
              "|theta| < 0.1",
              f"final theta = {wgan_final:.4f}", abs(wgan_final) < 0.1),
        Claim("minimax GAN: the saturated discriminator's gradient vanishes, theta stays > 0.9",
              f"final theta = {gan_final:.4f}", abs(gan_final) > 0.9),
    ]
