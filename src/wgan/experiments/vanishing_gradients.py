"""Arjovsky & Bottou 2017, Theorem 2.4 and Figure 2: the generator's gradient vanishes as D gets better.

When the real and generated distributions have disjoint supports (or lie on low-dimensional manifolds), a perfect
discriminator exists, and as D approaches it the gradient of the minimax generator loss E log(1 - D(G(z)))
goes to 0 (Theorem 2.4). Arjovsky & Bottou froze a DCGAN generator, trained the discriminator from scratch and
watched the generator's gradient norm fall by orders of magnitude; the -log D(G(z)) loss does not vanish but
grows and becomes unstable (their Sec. 2.2.2 and Figure 3). A WGAN critic, kept near 1-Lipschitz, keeps giving a
gradient of roughly constant size (WGAN Sec. 3, WGAN-GP Sec. 2).

Here: the data are the 8 Gaussians; the frozen generator is a random ReLU MLP with a 1-D latent (so its samples
lie on a curve, a set of measure zero), rescaled and moved beside the data so that the supports are disjoint.
A GAN discriminator and a WGAN-GP critic are trained from scratch against it, and every few steps we log the norm
of the gradient with respect to the generator's parameters of
(a) the minimax loss E log(1 - D(G(z))), (b) the -log D(G(z)) loss (both on the GAN discriminator), and
(c) the WGAN loss -E f(G(z)) (on the WGAN-GP critic), each on the same fixed batch of z.

References: M. Arjovsky, L. Bottou, "Towards principled methods for training generative adversarial networks",
ICLR 2017, Theorems 2.1-2.4 and Figures 2-3; M. Arjovsky, S. Chintala, L. Bottou, "Wasserstein GAN", 2017.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ..config import make_config
from ..data.toy import eight_gaussians
from ..models import build_models
from ..objectives import Objective
from ..randomness import global_cpu_seed
from ..trainer import make_optimizer
from . import Claim, ExperimentResult, build_critic, figure_png, make_objective, ratio, subplots, train_critic

NAME = "vanishing-gradients"
PAPER = ("Paraphrased: when the real and generated distributions have disjoint supports or lie on low-dimensional "
         "manifolds and the discriminator is within ε of the optimal one, the gradient of the minimax generator "
         "loss E log(1 - D(G(z))) is at most M ε / (1 - ε), so it vanishes as the discriminator gets better; the "
         "-log D(G(z)) alternative does not vanish but gives unstable updates (Arjovsky & Bottou, \"Towards "
         "Principled Methods for Training Generative Adversarial Networks\", ICLR 2017, Theorem 2.4, Corollary 2.1, "
         "Sec. 2.2.2 and Figures 2-3)")
# The frozen generator: a random MLP with a 1-D latent, its output rescaled to this spread per coordinate and
# centred here, beside the 8 Gaussians (radius 2 / 1.414 = 1.41), so that the two supports are disjoint.
GENERATOR_WIDTH, GENERATOR_DEPTH = 64, 2
GENERATOR_SPREAD = 0.5
GENERATOR_CENTRE = (3.0, 0.0)
GRADIENT_SAMPLES = 1024  # the fixed batch of z on which the generator's gradients are measured
LOSSES = {  # logged name -> the generator loss it is, as the figure labels it
    "minimax": "log(1 - D(G(z)))",
    "non_saturating": "-log D(G(z))",
    "wgan_gp": "-f(G(z)), WGAN-GP critic",
}


@dataclass(frozen=True)
class Size:
    steps: int  # discriminator / critic steps, a multiple of log_every
    log_every: int
    batch_size: int

    def __post_init__(self):
        if self.steps % self.log_every:
            raise ValueError(f"steps {self.steps} is not a multiple of log_every {self.log_every}")


QUICK = Size(steps=1000, log_every=20, batch_size=256)
FULL = Size(steps=5000, log_every=50, batch_size=256)


def frozen_generator(seed: int) -> nn.Module:
    """A random 1-D-latent MLP generator whose samples lie on a curve of the given spread around the centre."""
    config = make_config(latent_dim=1, width=GENERATOR_WIDTH, depth=GENERATOR_DEPTH)
    with global_cpu_seed(seed):
        generator, _ = build_models(config, (2,))
    output = [layer for layer in generator.net if isinstance(layer, nn.Linear)][-1]
    z = torch.randn((GRADIENT_SAMPLES, 1), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():  # an affine map of the output layer: x -> scale * x, then x -> x + shift
        scale = GENERATOR_SPREAD / generator(z).std(dim=0)
        output.weight.mul_(scale[:, None])
        output.bias.mul_(scale)
        output.bias.add_(torch.tensor(GENERATOR_CENTRE) - generator(z).mean(dim=0))
    return generator


def generator_gradient_norm(objective: Objective, critic: nn.Module, generator: nn.Module, z: Tensor) -> float:
    """||d loss / d theta_G||_2 over all generator parameters, for ``objective``'s generator loss."""
    loss, _ = objective.generator_loss(critic, generator(z))
    gradients = torch.autograd.grad(loss, list(generator.parameters()))
    return float(torch.cat([gradient.flatten() for gradient in gradients]).norm())


def _train_and_log(algorithm: str, generator_losses: dict[str, Objective], generator: nn.Module, size: Size,
                   seed: int) -> tuple[dict[str, list[float]], nn.Module]:
    """Train a fresh ``algorithm`` discriminator against the frozen generator; log the generator's gradients."""
    objective = make_objective(algorithm)
    data = eight_gaussians("cpu")
    rng = torch.Generator().manual_seed(seed)
    z_fixed = torch.randn((GRADIENT_SAMPLES, 1), generator=torch.Generator().manual_seed(seed + 1))
    critic = build_critic(objective.config, (2,), seed)
    optimizer = make_optimizer(critic.parameters(), objective.config)
    norms: dict[str, list[float]] = {name: [] for name in generator_losses}

    @torch.no_grad()  # the discriminator's steps leave the generator's gradients alone
    def fake(rows: int) -> Tensor:
        return generator(torch.randn((rows, 1), generator=rng))

    for step in range(0, size.steps + 1, size.log_every):
        for name, loss in generator_losses.items():
            norms[name].append(generator_gradient_norm(loss, critic, generator, z_fixed))
        if step < size.steps:
            train_critic(objective, critic, lambda rows: data.sample(rows, rng), fake, size.log_every,
                         size.batch_size, rng, optimizer)
    return norms, critic


def run(quick: bool = True, seed: int = 0) -> ExperimentResult:
    """Train both networks against the frozen generator at the quick or full size; see the module docstring."""
    size = QUICK if quick else FULL
    generator = frozen_generator(seed)
    gan_norms, discriminator = _train_and_log(
        "gan", {"minimax": make_objective("gan"), "non_saturating": make_objective("gan-ns")}, generator, size, seed)
    wgan_norms, _ = _train_and_log("wgan-gp", {"wgan_gp": make_objective("wgan-gp")}, generator, size, seed)
    norms = {**gan_norms, **wgan_norms}
    numbers: dict = {"steps": list(range(0, size.steps + 1, size.log_every))}
    for name, values in norms.items():
        numbers[f"gradient_norm_{name}"] = values
        numbers[f"decay_{name}"] = ratio(values[0], values[-1])  # first / last: > 1 means the gradient shrank
    with torch.no_grad():
        real = eight_gaussians("cpu").sample(GRADIENT_SAMPLES, torch.Generator().manual_seed(seed))
        fake = generator(torch.randn((GRADIENT_SAMPLES, 1), generator=torch.Generator().manual_seed(seed + 1)))
        numbers["discriminator_at_fakes"] = float(torch.sigmoid(discriminator(fake)).mean())
        numbers["discriminator_at_reals"] = float(torch.sigmoid(discriminator(real)).mean())
    figure = _figure(numbers, real.numpy(), fake.numpy(), discriminator)
    return ExperimentResult(NAME, numbers, _claims(numbers), figure, PAPER)


def _claims(numbers: dict) -> list[Claim]:
    minimax, ns, wgan = (numbers[f"decay_{name}"] for name in ("minimax", "non_saturating", "wgan_gp"))
    return [
        Claim("minimax loss log(1 - D(G(z))): the generator's gradient decays by >= 100x as D is trained",
              f"first / last = {minimax:.1e} (D at fakes {numbers['discriminator_at_fakes']:.1e})", minimax >= 100),
        Claim("-log D(G(z)) loss: the generator's gradient does not vanish (first / last <= 1)",
              f"first / last = {ns:.1e}", ns <= 1.0),  # the figure's legend gives every ratio this way round
        Claim("WGAN-GP loss -f(G(z)): the generator's gradient stays within 10x of its start",
              f"first / last = {wgan:.2f}", 0.1 <= wgan <= 10.0),
    ]


def _figure(numbers: dict, real: np.ndarray, fake: np.ndarray, discriminator: nn.Module) -> bytes:
    figure, (scene, curves) = subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1, 1.3]})

    points = np.concatenate([real, fake])
    low, high = points.min(axis=0) - 0.5, points.max(axis=0) + 0.5
    xs, ys = np.linspace(low[0], high[0], 160), np.linspace(low[1], high[1], 110)
    grid = torch.tensor(np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2), dtype=torch.float32)
    with torch.no_grad():
        d = torch.sigmoid(discriminator(grid)).numpy().reshape(len(ys), len(xs))
    filled = scene.contourf(xs, ys, d, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    figure.colorbar(filled, ax=scene, fraction=0.046, pad=0.04, label="trained D(x)")
    scene.scatter(real[:, 0], real[:, 1], s=3, c="#59a14f", label="data (8 Gaussians)")
    scene.scatter(fake[:, 0], fake[:, 1], s=3, c="black", label="frozen generator (1-D latent)")
    scene.set(xlim=(low[0], high[0]), ylim=(low[1], high[1]), aspect="equal", xlabel="$x_1$", ylabel="$x_2$",
              title="(a) disjoint supports, and the trained D")
    scene.legend(fontsize=8, loc="upper left", markerscale=3)

    steps = numbers["steps"]
    for name, colour in (("minimax", "#e15759"), ("non_saturating", "#f28e2b"), ("wgan_gp", "#4e79a7")):
        curves.semilogy(steps, numbers[f"gradient_norm_{name}"], color=colour,
                        label=f"{LOSSES[name]} (first / last {numbers[f'decay_{name}']:.1e})")
    curves.set(xlabel="discriminator / critic training step", ylabel="||grad of the generator's parameters||",
               title="(b) the generator's gradient as D / f trains")
    curves.grid(alpha=0.3, which="both")
    curves.legend(fontsize=8, loc="best")
    figure.suptitle("Vanishing gradients (Arjovsky & Bottou 2017, Thm. 2.4): minimax GAN vs -log D vs WGAN-GP")
    figure.tight_layout()
    return figure_png(figure)
