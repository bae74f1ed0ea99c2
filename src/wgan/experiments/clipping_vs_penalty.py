"""WGAN-GP paper, Figure 1: what weight clipping does to a critic, and what the gradient penalty does instead.

Every critic here faces the toy code's fixed generator (``FIXED_GENERATOR`` in gan_toy.py): fake = real + N(0, I),
the data blurred by unit Gaussian noise, so the only thing that changes during training is the critic.

(a) Value surfaces. A critic of 3 hidden ReLU layers (gan_toy.py's shape) is trained to (near) optimality on
    8gaussians, 25gaussians and swissroll, once with weight clipping (WGAN Algorithm 1: c = 0.01, RMSProp 5e-5,
    the config defaults for ``wgan``) and once with the gradient penalty (lambda = 10, the experiments' Adam).
    The paper: clipping biases the critic towards simple functions that miss the higher moments of the data;
    the GP critic follows the data. Here the clipped critics come out as smooth pyramids centred on the data
    (the fakes are the data spread out, so "lower where it is wider" is what a simple function can see). We
    score each critic by its optimality (E f(real) - E f(fake)) / (L W1) on fresh samples, with L the largest
    input-gradient norm we find (over the grid, the real and the fake points) and W1 the exact distance
    (:func:`wgan.distances.w1`): by the Kantorovich-Rubinstein duality it is at most ~1, and 1 only for an optimal
    critic. (A linear critic scores 0: the fakes have the data's mean.)

    With lambda = 10 the penalised critic first settles on a cone of slope 1 that rises *away* from the data
    (estimate < 0: the penalty is met, the sign is wrong) and leaves it only after some 500 to 2000 Adam
    steps, a time that depends on the seed (we saw one stay past 2000); the toy code's lambda = 0.1 leaves at
    once. Hence the penalised critics' 2000 steps at the quick size. The value surfaces go to the figure only;
    the numbers keep the scores.

(b) Weight histograms of the swissroll critics of (a). Clipping piles the weights up at -c and +c; we report the
    fraction of weight-matrix entries within 1 % of the largest |w| (for a clipped critic that is +-c), for both
    critics. The He-uniform initialisation (gan_toy.py's) puts almost every weight beyond c = 0.01, so most
    weights reach the bounds at the very first clip, and the pile-up after training cannot tell training's
    push from the first clip's. We report that fraction too, and, as the claim that can fail, how many of the
    weights the first clip left inside training pushed out to the bounds (full size only: the quick size's
    steps move few of them that far).

(c) Exploding and vanishing gradients. A deep critic (12 hidden ReLU layers, no batch norm, as in the paper) is
    trained a little on swissroll with c in {0.1, 0.01, 0.001} and with the penalty. As in the paper (Sec. 3,
    "the norm of the gradient of the critic's loss with respect to successive layers of activations") we take
    the gradient of the critic's loss E f(fake) - E f(real) with respect to each hidden layer's output on a
    batch of real and fake points. The gradient with respect to the layers' *weights* is not used: for the
    clipped nets its real and fake halves cancel to float round-off (their output barely depends on the
    input), so it reads 0 at some layers. The measurement runs in float64 so that 1e-30 is not rounded to 0.

Reference: I. Gulrajani, F. Ahmed, M. Arjovsky, V. Dumoulin, A. Courville, "Improved Training of Wasserstein
GANs", NeurIPS 2017, Figure 1 and Sec. 3; gan_toy.py in github.com/igul222/improved_wgan_training.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .. import distances
from ..config import make_config
from ..data.toy import toy_sampler
from ..objectives import Objective, build_objective, critic_gradient_norm
from . import ADAM, PENALTY_WEIGHT, Batch, Claim, ExperimentResult, build_critic, figure_png, new_figure, train_critic

NAME = "clipping-vs-penalty"
PAPER = ('"Gradient penalty in WGANs does not exhibit undesired behavior like weight clipping." (Gulrajani et al., '
         '"Improved Training of Wasserstein GANs", NeurIPS 2017, Figure 1). Paraphrased from that caption and '
         'Sec. 3: critics trained to optimality with weight clipping miss the higher moments of the data, the '
         'gradients of deep clipped critics explode or vanish, and clipping pushes the weights to the two ends of '
         'the clipping range; with the gradient penalty none of this happens.')
DATASETS = ("8gaussians", "25gaussians", "swissroll")
HISTOGRAM_DATASET = "swissroll"  # whose critics' weights (b) shows
FIXED_GENERATOR_NOISE = 1.0  # gan_toy.py FIXED_GENERATOR: real + 1. * N(0, I)
CLIP = 0.01  # (a) and (b): WGAN Algorithm 1's c, also the config default for "wgan"
CLIPS = (0.1, 0.01, 0.001)  # (c): the thresholds of WGAN-GP Figure 1b
SURFACE_DEPTH = 3  # gan_toy.py's critic: 3 hidden ReLU layers
DEEP_DEPTH = 12  # WGAN-GP Sec. 3: "12-layer ReLU MLPs without batch normalization"
NEAR_MAX = 0.01  # a weight is "at the bound" when |w| >= (1 - 0.01) max |w|
EVAL_SAMPLES = 1024  # real and fake points for the estimate, exact W1 and the layer gradients
RESOLUTION = 72  # grid points per side of a value surface
SURFACE_MARGIN = 1.0  # the plotted square reaches this far beyond the real data
HISTOGRAM_BINS = 41
# The claims' thresholds (see _claims)
PILE_UP = 0.5
NO_PILE_UP = 0.05
VANISHING_RATIO = 1e3  # last / first layer at c = 0.01 and 0.001: at least 3 orders of magnitude
EXPLODING_RATIO = 0.1  # last / first layer at c = 0.1: at least 10x larger next to the input
STABLE_RATIO = 1e2  # the penalised critic: last / first within [1 / 100, 100]


@dataclass(frozen=True)
class Size:
    width: int  # hidden units of the surface critics (gan_toy.py: 512)
    clip_steps: int  # RMSProp steps of each clipped surface critic
    penalty_steps: int  # Adam steps of each penalised surface critic
    deep_width: int  # hidden units of the 12-layer critics
    deep_steps: int  # their training steps ("trained a little")
    batch_size: int  # of the surface critics
    deep_batch_size: int  # of the 12-layer critics


QUICK = Size(width=64, clip_steps=500, penalty_steps=2000, deep_width=128, deep_steps=500, batch_size=128,
             deep_batch_size=32)
FULL = Size(width=256, clip_steps=5000, penalty_steps=5000, deep_width=128, deep_steps=1500, batch_size=256,
            deep_batch_size=128)


def _objective(width: int, depth: int, clip: float | None) -> Objective:
    """WGAN with clipping at ``clip`` (its paper's RMSProp), or WGAN-GP (lambda 10, the experiments' Adam)."""
    if clip is None:
        return build_objective(make_config(algorithm="wgan-gp", width=width, depth=depth, **ADAM,
                                           penalty_weight=PENALTY_WEIGHT))
    return build_objective(make_config(algorithm="wgan", width=width, depth=depth, clip=clip))


def _data(dataset: str, rng: torch.Generator) -> tuple[Batch, Batch]:
    """Samplers of the real data and of the fixed generator real + N(0, I), both from ``rng``."""
    sampler = toy_sampler(dataset, "cpu")

    def fake(n: int) -> Tensor:
        return sampler.sample(n, rng) + FIXED_GENERATOR_NOISE * torch.randn((n, 2), generator=rng)

    return (lambda n: sampler.sample(n, rng)), fake


def _trained(dataset: str, width: int, depth: int, clip: float | None, steps: int, batch_size: int,
             seed: int) -> tuple[nn.Module, Objective]:
    objective = _objective(width, depth, clip)
    critic = build_critic(objective.config, (2,), seed)
    real, fake = _data(dataset, torch.Generator().manual_seed(seed))
    train_critic(objective, critic, real, fake, steps, batch_size, torch.Generator().manual_seed(seed))
    return critic, objective


def _weights(critic: nn.Module) -> Tensor:
    """Every entry of the critic's weight matrices (biases left out), flattened."""
    return torch.cat([layer.weight.detach().flatten() for layer in critic.modules() if isinstance(layer, nn.Linear)])


def fraction_near_max(weights: Tensor) -> float:
    """Fraction of weights with |w| >= (1 - NEAR_MAX) max |w|: the pile-up at +-c of a clipped critic."""
    size = weights.abs()
    return float((size >= (1 - NEAR_MAX) * size.max()).float().mean())


def activation_gradient_norms(critic: nn.Module, real: Tensor, fake: Tensor) -> list[float]:
    """||d loss / d h_l|| for each hidden layer output h_l (layer 1 next to the input), in float64.

    loss = mean f(fake) - mean f(real), the WGAN critic's loss; h_l is the batch of ReLU outputs of layer l.
    """
    critic = copy.deepcopy(critic).double()
    hidden, outputs = torch.cat([real, fake]).double(), []
    for layer in critic.net:
        hidden = layer(hidden)
        if isinstance(layer, nn.ReLU):
            outputs.append(hidden)
    scores = hidden.squeeze(1)
    loss = scores[len(real):].mean() - scores[: len(real)].mean()
    return [float(gradient.norm()) for gradient in torch.autograd.grad(loss, outputs)]


def _surface(critic: nn.Module, real: Tensor, fake: Tensor, w1: float) -> tuple[dict, np.ndarray]:
    """The critic's scores (estimate, L, optimality (E f(real) - E f(fake)) / (L W1), the plotted square's extent)
    and its values on that square around the data, (RESOLUTION, RESOLUTION): row y, column x, as contourf takes."""
    low = float(real.min()) - SURFACE_MARGIN
    high = float(real.max()) + SURFACE_MARGIN
    ticks = torch.linspace(low, high, RESOLUTION)
    grid = torch.cartesian_prod(ticks, ticks).flip(1)  # (y, x) pairs -> (x, y), x fastest, as a meshgrid
    with torch.no_grad():
        values = critic(grid)
        estimate = float(critic(real).mean() - critic(fake).mean())
    lipschitz = float(critic_gradient_norm(critic, torch.cat([grid, real, fake])).max())
    scores = {"extent": [low, high], "estimate": estimate, "lipschitz": lipschitz,
              "optimality": estimate / (lipschitz * w1)}
    return scores, values.reshape(RESOLUTION, RESOLUTION).numpy()


def run(quick: bool = True, seed: int = 0) -> ExperimentResult:
    """Train the surface critics and the deep critics at the quick or full size; see the module docstring."""
    size = QUICK if quick else FULL
    numbers: dict = {"clip": CLIP, "clips": list(CLIPS), "fixed_generator_noise": FIXED_GENERATOR_NOISE}
    real_points, surfaces = {}, {}

    # (a) and (b): value surfaces of both critics on the three sets, weights of the swissroll pair
    for dataset in DATASETS:
        real, fake = _data(dataset, torch.Generator().manual_seed(seed + 1))
        real, fake = real(EVAL_SAMPLES), fake(EVAL_SAMPLES)
        real_points[dataset] = real.numpy()
        numbers[f"w1_{dataset}"] = w1 = distances.w1(real, fake)
        for method, clip, steps in (("clipping", CLIP, size.clip_steps), ("penalty", None, size.penalty_steps)):
            critic, objective = _trained(dataset, size.width, SURFACE_DEPTH, clip, steps, size.batch_size, seed)
            scores, surfaces[method, dataset] = _surface(critic, real, fake, w1)
            numbers.update({f"{key}_{method}_{dataset}": value for key, value in scores.items()})
            if dataset == HISTOGRAM_DATASET:
                weights = _weights(critic)
                bound = float(weights.abs().max())
                counts, edges = np.histogram(weights.numpy(), bins=HISTOGRAM_BINS, range=(-bound, bound))
                numbers.update({f"weight_histogram_{method}": counts.tolist(),
                                f"weight_bin_edges_{method}": edges.tolist(),
                                f"fraction_near_max_{method}": fraction_near_max(weights)})
                if clip is not None:
                    first = _weights(build_critic(objective.config, (2,), seed)).clamp(-clip, clip)
                    inside = first.abs() < (1 - NEAR_MAX) * clip
                    numbers["fraction_near_max_clipping_first_clip"] = fraction_near_max(first)
                    numbers["fraction_pushed_to_bounds"] = float(
                        (weights[inside].abs() >= (1 - NEAR_MAX) * clip).float().mean())

    # (c): layer gradients of deep critics on swissroll
    real, fake = _data("swissroll", torch.Generator().manual_seed(seed + 1))
    real, fake = real(EVAL_SAMPLES), fake(EVAL_SAMPLES)
    for name, clip in [*((f"clip_{clip:g}", clip) for clip in CLIPS), ("penalty", None)]:
        critic, _ = _trained("swissroll", size.deep_width, DEEP_DEPTH, clip, size.deep_steps, size.deep_batch_size,
                             seed)
        norms = activation_gradient_norms(critic, real, fake)
        numbers[f"layer_gradient_norms_{name}"] = norms
        numbers[f"layer_gradient_ratio_{name}"] = norms[-1] / norms[0]  # last (output side) / first (input side)

    figure = _figure(numbers, real_points, surfaces)
    return ExperimentResult(NAME, numbers, _claims(numbers, quick), figure, PAPER)


def _percent(fraction: float) -> str:
    """'96.2 %', '0.00076 %': three significant digits, so that a tiny fraction does not read as 0."""
    return f"{100 * fraction:.3g} %"


def _claims(numbers: dict, quick: bool) -> list[Claim]:
    def per_set(key: str) -> str:
        return ", ".join(f"{dataset} {numbers[f'{key}_{dataset}']:.2f}" for dataset in DATASETS)

    opt_clip = [numbers[f"optimality_clipping_{dataset}"] for dataset in DATASETS]
    opt_gp = [numbers[f"optimality_penalty_{dataset}"] for dataset in DATASETS]
    pile_clip, pile_gp = numbers["fraction_near_max_clipping"], numbers["fraction_near_max_penalty"]
    ratio = {clip: numbers[f"layer_gradient_ratio_clip_{clip:g}"] for clip in CLIPS}
    ratio_gp = numbers["layer_gradient_ratio_penalty"]
    return [
        Claim(f"(a) the penalised critic is nearer the optimal critic than the clipped one (c = {CLIP:g}) on "
              "every set: higher optimality (E f(real) - E f(fake)) / (L W1)",
              f"penalty: {per_set('optimality_penalty')}; clipping: {per_set('optimality_clipping')}",
              all(gp > clip for gp, clip in zip(opt_gp, opt_clip))),
        Claim(f"(b) clipping piles the weights up at +-c: more than {PILE_UP:.0%} of the swissroll critic's "
              "weights lie within 1 % of +-c after training",
              f"{pile_clip:.1%} (right after the first clip of the He-initialised weights: "
              f"{numbers['fraction_near_max_clipping_first_clip']:.1%}; of the weights that clip left inside, "
              f"training pushed {numbers['fraction_pushed_to_bounds']:.1%} to the bounds)", pile_clip > PILE_UP),
        *([] if quick else [  # the quick size's few steps move few weights that far
            Claim(f"(b) training, not the first clip alone, puts them there: of the weights that the first clip of "
                  f"the He initialisation left inside +-c, more than {PILE_UP:.0%} end within 1 % of +-c",
                  f"{numbers['fraction_pushed_to_bounds']:.1%}", numbers["fraction_pushed_to_bounds"] > PILE_UP)]),
        Claim(f"(b) the penalised critic's weights spread out: fewer than {NO_PILE_UP:.0%} lie within 1 % of its "
              "largest |w|", _percent(pile_gp), pile_gp < NO_PILE_UP),
        Claim(f"(c) clipping with c = 0.001 and 0.01 makes the 12-layer critic's gradients vanish towards the "
              f"input: last / first layer >= {VANISHING_RATIO:.0e}",
              f"c = 0.001: {ratio[0.001]:.1e}; c = 0.01: {ratio[0.01]:.1e}",
              min(ratio[0.001], ratio[0.01]) >= VANISHING_RATIO),
        Claim(f"(c) clipping with c = 0.1 makes them explode towards the input: last / first layer <= "
              f"{EXPLODING_RATIO:g}", f"{ratio[0.1]:.1e}", ratio[0.1] <= EXPLODING_RATIO),
        Claim(f"(c) with the gradient penalty they stay within 2 orders of magnitude: last / first layer in "
              f"[{1 / STABLE_RATIO:g}, {STABLE_RATIO:g}]", f"{ratio_gp:.2f}",
              1 / STABLE_RATIO <= ratio_gp <= STABLE_RATIO),
    ]


def _figure(numbers: dict, real_points: dict[str, np.ndarray], surfaces: dict[tuple[str, str], np.ndarray]) -> bytes:
    figure = new_figure(figsize=(13.5, 13.5))
    grid = figure.add_gridspec(3, 3, height_ratios=[1, 1, 0.9], hspace=0.35, wspace=0.25)
    for row, (method, label) in enumerate((("clipping", f"weight clipping, c = {CLIP:g}"),
                                           ("penalty", f"gradient penalty, λ = {PENALTY_WEIGHT:g}"))):
        for column, dataset in enumerate(DATASETS):
            axes = figure.add_subplot(grid[row, column])
            low, high = numbers[f"extent_{method}_{dataset}"]
            ticks = np.linspace(low, high, RESOLUTION)
            axes.contourf(ticks, ticks, surfaces[method, dataset], levels=20, cmap="Greys")  # as training draws f
            real = real_points[dataset]
            axes.scatter(real[:, 0], real[:, 1], s=2, c="#f28e2b", linewidths=0, alpha=0.8)
            axes.set(xlim=(low, high), ylim=(low, high), aspect="equal", xticks=[], yticks=[],
                     title=f"{dataset}: optimality {numbers[f'optimality_{method}_{dataset}']:.2f}")
            axes.title.set_fontsize(9)
            if column == 0:
                axes.set_ylabel(f"(a) {label}", fontsize=11)

    layers = figure.add_subplot(grid[2, 2])
    colours = {"clip_0.1": "#e15759", "clip_0.01": "#f28e2b", "clip_0.001": "#b07aa1", "penalty": "#4e79a7"}
    for name, colour in colours.items():
        norms = numbers[f"layer_gradient_norms_{name}"]
        label = "gradient penalty" if name == "penalty" else f"clipping c = {name.removeprefix('clip_')}"
        layers.semilogy(range(1, len(norms) + 1), norms, "o-", markersize=3, color=colour,
                        label=f"{label} (last / first {numbers[f'layer_gradient_ratio_{name}']:.0e})")
    layers.set(xlabel="hidden layer (1 = next to the input)", ylabel="||d loss / d layer output|| (log)",
               title=f"(c) gradient norms through a {DEEP_DEPTH}-layer\ncritic on swissroll")
    layers.title.set_fontsize(10)
    layers.grid(alpha=0.3, which="major")
    layers.legend(fontsize=7, loc="best")

    for column, (method, colour, title) in enumerate((("clipping", "#e15759", f"weight clipping, c = {CLIP:g}"),
                                                      ("penalty", "#4e79a7", "gradient penalty"))):
        axes = figure.add_subplot(grid[2, column])
        edges = np.array(numbers[f"weight_bin_edges_{method}"])
        axes.stairs(numbers[f"weight_histogram_{method}"], edges, fill=True, color=colour, alpha=0.7)
        axes.set(xlabel="weight value", ylabel="weights per bin (log)", yscale="log",
                 title=f"(b) swissroll critic's weights, {title}:\n"
                       f"{_percent(numbers[f'fraction_near_max_{method}'])} within 1 % of the largest |w|")
        axes.title.set_fontsize(10)
        axes.grid(alpha=0.3)
    figure.suptitle("Weight clipping vs gradient penalty (WGAN-GP Fig. 1): critics against the fixed generator "
                    "real + N(0, I)\n(a) value surfaces with the real points: darker is a higher critic value f(x), "
                    "each surface on its own scale", fontsize=12, y=0.95)
    return figure_png(figure)
