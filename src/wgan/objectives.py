"""The algorithms as objectives: the critic's loss, the generator's loss and the critic's constraint.

Each class is one paper's algorithm in code; the trainer calls the same three phases for all of them:

1. ``critic_loss(critic, real, fake, stream)`` -> (loss to minimise, named scalars), once per critic step;
2. ``constrain(critic)`` after every critic update (weight clipping for WGAN, nothing otherwise);
3. ``generator_loss(critic, fake)`` -> (loss to minimise, named scalars), once per generator step.

``estimate(critic_real, critic_fake)`` is the distance the critic estimates: mean f(real) - mean f(fake) for the
Wasserstein objectives (Kantorovich-Rubinstein duality, WGAN Eq. 2-3) and the Jensen-Shannon estimate
log 2 + V(D, G) / 2 for the GAN (Goodfellow et al. 2014, Theorem 1: V = 2 JS - log 4 at the optimal D).
Critic outputs are raw scores (logits for the GAN); losses are computed in float32 whatever the autocast dtype.
Random draws come from a :class:`~wgan.randomness.RandomStream`, which gives each process its rows of the draw
one process would make for the global batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import Config
from .models.split_batch_norm import batches_apart, splits_batches
from .randomness import RandomStream

Stats = dict[str, Tensor]


def interpolation_weights(real: Tensor, stream: RandomStream) -> Tensor:
    """One e ~ U[0, 1] per sample, shaped to broadcast over ``real`` (WGAN-GP Algorithm 1, line 4)."""
    return stream.uniform(len(real), *(1,) * (real.dim() - 1), dtype=real.dtype)


def interpolate(real: Tensor, fake: Tensor, stream: RandomStream) -> Tensor:
    """Points x_hat = e x + (1 - e) G(z) with one e ~ U[0, 1] per sample (WGAN-GP Algorithm 1, line 6)."""
    return torch.lerp(fake, real, interpolation_weights(real, stream))


def uncompiled(module: nn.Module) -> nn.Module:
    """The module under a ``torch.compile`` wrapper (whose graphs cannot be differentiated twice), else itself."""
    return getattr(module, "_orig_mod", module)


def input_gradient(critic: nn.Module, points: Tensor, create_graph: bool = False,
                   loss_scale: Tensor | None = None) -> Tensor:
    """grad_x f(x) at each of ``points``, same shape as ``points``.

    Critics that are piecewise linear in x (``critic.piecewise_linear``: ReLU and leaky-ReLU MLPs, the DCGAN
    critic without norm) give it in closed form (:mod:`wgan.models.piecewise`); any other critic goes through
    autograd, uncompiled. With ``create_graph`` the result stays
    differentiable with respect to the critic's weights, as a penalty needs.

    Under float16 autocast the backward pass through the critic (or the closed-form product) is taken on the
    scaled sum ``loss_scale * sum f(x)`` and the gradient divided by ``loss_scale`` after it (PyTorch's automatic mixed
    precision recipe for gradient penalties): small gradients would otherwise flush to zero in float16. An
    overflow gives an infinite norm, and the gradient scaler then skips the step.
    """
    if getattr(critic, "piecewise_linear", False):
        with torch.set_grad_enabled(create_graph):
            gradient = critic.input_gradient(points.detach(), loss_scale)
        # unscaled in float32: in float16 the quotient would flush to zero again
        return gradient if loss_scale is None else gradient.float() / loss_scale
    points = points.detach().requires_grad_(True)
    with torch.enable_grad():
        output = uncompiled(critic)(points).float().sum()
        if loss_scale is not None:
            output = output * loss_scale
        (gradient,) = torch.autograd.grad(output, points, create_graph=create_graph)
    return gradient if loss_scale is None else gradient / loss_scale


def critic_gradient_norm(critic: nn.Module, points: Tensor, create_graph: bool = False,
                         loss_scale: Tensor | None = None) -> Tensor:
    """Per-sample ||grad_x f(x)||_2 at ``points``, shape (n,), the gradient flattened per sample."""
    return input_gradient(critic, points, create_graph, loss_scale).float().flatten(1).norm(dim=1)


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, weight: float, stream: RandomStream,
                     one_sided: bool = False, loss_scale: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The penalty on the critic's gradient norm at random interpolates of real and fake samples.

    Two-sided (WGAN-GP, Gulrajani et al. 2017, Eq. 3):  lambda E[(||grad D(x_hat)||_2 - 1)^2].
    One-sided (WGAN-LP, Petzka et al. 2018, Eq. 8):     lambda E[max(0, ||grad D(x_hat)||_2 - 1)^2].
    ``loss_scale`` is the float16 gradient scaler's current scale (see :func:`input_gradient`).

    Returns
    -------
    penalty : Tensor
        Scalar, differentiable with respect to the critic's weights.
    norms : Tensor
        (n,) gradient norms at the interpolates, detached.
    """
    norms = critic_gradient_norm(critic, interpolate(real, fake, stream), create_graph=True, loss_scale=loss_scale)
    excess = norms - 1
    if one_sided:
        excess = excess.clamp(min=0)
    return weight * excess.square().mean(), norms.detach()


def has_batch_norm(module: nn.Module) -> bool:
    """Whether any layer of ``module`` is a batch norm (whose output depends on the rest of the batch)."""
    return any(isinstance(layer, nn.modules.batchnorm._BatchNorm) for layer in module.modules())


class Objective:
    """Base of the Wasserstein objectives: the critic f maximises E f(real) - E f(fake) (WGAN Eq. 3)."""

    estimate_name = "W estimate"

    def __init__(self, config: Config):
        self.config = config

    def estimate(self, critic_real: Tensor, critic_fake: Tensor) -> Tensor:
        """mean f(real) - mean f(fake): the critic's estimate of W(Pr, Pg) up to its Lipschitz constant."""
        return critic_real.float().mean() - critic_fake.float().mean()

    def critic_scores(self, critic: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        """f(real), f(fake) from one forward pass over both batches.

        A batch-norm critic normalises each batch with its own statistics, as the reference code (WGAN main.py,
        and DCGAN's) does by passing the real and the generated batch separately: one pass with mixed statistics
        would compute another function. Its one pass normalises the two batches apart
        (:mod:`wgan.models.split_batch_norm`); a critic with other batch-norm layers gets two passes.
        """
        if not has_batch_norm(critic):
            scores = critic(torch.cat([real, fake])).float().flatten()
        elif splits_batches(critic):
            with batches_apart(critic, [len(real), len(fake)]):
                scores = critic(torch.cat([real, fake])).float().flatten()
        else:
            return critic(real).float().flatten(), critic(fake).float().flatten()
        return scores[: len(real)], scores[len(real):]

    def critic_loss(self, critic: nn.Module, real: Tensor, fake: Tensor, stream: RandomStream,
                    loss_scale: Tensor | None = None) -> tuple[Tensor, Stats]:
        """The critic's loss on one batch and its named scalars; ``stream`` gives any random draws and
        ``loss_scale`` is the float16 gradient scaler's scale (both used by the penalties only)."""
        critic_real, critic_fake = self.critic_scores(critic, real, fake)
        estimate = self.estimate(critic_real, critic_fake)
        return -estimate, {"critic_loss": -estimate.detach(), "estimate": estimate.detach()}

    def generator_loss(self, critic: nn.Module, fake: Tensor) -> tuple[Tensor, Stats]:
        """-mean f(G(z)) (WGAN Algorithm 1, line 10)."""
        loss = -critic(fake).float().mean()
        return loss, {"generator_loss": loss.detach()}

    def constrain(self, critic: nn.Module) -> None:
        """Enforce the critic's Lipschitz constraint after an update; penalties need nothing here."""


class WGAN(Objective):
    """WGAN with weight clipping (Arjovsky et al. 2017, Algorithm 1).

    Critic: minimise mean f(fake) - mean f(real), then clip every critic parameter to [-c, c] (line 7), which
    keeps f in a compact family of K-Lipschitz functions. Generator: minimise -mean f(G(z)).

    As in Algorithm 1, the first update starts from the initial parameters w0, unclipped; the official code
    (``main.py``) clamps at the start of every critic step instead, which differs from this only before the
    first (:class:`wgan.reference_loops.WGANLoop` keeps its order).
    """

    @torch.no_grad()
    def constrain(self, critic: nn.Module) -> None:
        for parameter in critic.parameters():
            parameter.clamp_(-self.config.clip, self.config.clip)


class WGANGP(Objective):
    """WGAN-GP (Gulrajani et al. 2017, Algorithm 1, Eq. 3).

    Critic: minimise mean D(fake) - mean D(real) + lambda E[(||grad D(x_hat)||_2 - 1)^2],
    x_hat = e x + (1 - e) G(z), e ~ U[0, 1] per sample. Generator: minimise -mean D(G(z)).
    """

    one_sided = False

    def critic_loss(self, critic: nn.Module, real: Tensor, fake: Tensor, stream: RandomStream,
                    loss_scale: Tensor | None = None) -> tuple[Tensor, Stats]:
        """With a critic that has ``penalised_loss`` (the piecewise-linear MLP and DCGAN critics) and no float16
        loss scale, the loss and its weight gradient come from one pass over the three batches
        (:mod:`wgan.models.penalised_loss`), the same random draws and the same mathematics as the two terms
        below."""
        if loss_scale is None and getattr(critic, "piecewise_linear", False) and hasattr(critic, "penalised_loss"):
            loss, estimate, penalty, norms = critic.penalised_loss(
                real, fake, interpolation_weights(real, stream), self.config.penalty_weight, self.one_sided,
                compiled=self.config.compile)
        else:
            critic_real, critic_fake = self.critic_scores(critic, real, fake)
            estimate = self.estimate(critic_real, critic_fake)
            penalty, norms = gradient_penalty(critic, real, fake, self.config.penalty_weight, stream,
                                              self.one_sided, loss_scale)
            loss = penalty - estimate
        return loss, {"critic_loss": loss.detach(), "estimate": estimate.detach(), "penalty": penalty.detach(),
                      "penalty_grad_norm": norms.mean()}


class WGANLP(WGANGP):
    """WGAN-LP (Petzka et al. 2018, Eq. 8): the one-sided penalty lambda E[max(0, ||grad D(x_hat)|| - 1)^2].

    It only penalises gradients steeper than 1, which is what the Lipschitz constraint asks.
    """

    one_sided = True


class GAN(Objective):
    """The standard GAN (Goodfellow et al. 2014, Eq. 1) with D(x) = sigmoid(critic(x)).

    Discriminator: maximise V = E log D(x) + E log(1 - D(G(z))), i.e. minimise
    softplus(-s(x)) + softplus(s(G(z))) in terms of the logit s. Generator (minimax): minimise
    E log(1 - D(G(z))) = -E softplus(s(G(z))), whose gradient vanishes when D rejects the fakes confidently.
    """

    estimate_name = "JS estimate"

    def estimate(self, critic_real: Tensor, critic_fake: Tensor) -> Tensor:
        """log 2 + V / 2, which equals JS(Pr, Pg) when D is optimal (Goodfellow et al. 2014, Theorem 1)."""
        value = -F.softplus(-critic_real.float()).mean() - F.softplus(critic_fake.float()).mean()
        return math.log(2) + value / 2

    def critic_loss(self, critic: nn.Module, real: Tensor, fake: Tensor, stream: RandomStream,
                    loss_scale: Tensor | None = None) -> tuple[Tensor, Stats]:
        critic_real, critic_fake = self.critic_scores(critic, real, fake)
        loss = F.softplus(-critic_real).mean() + F.softplus(critic_fake).mean()
        return loss, {"critic_loss": loss.detach(), "estimate": math.log(2) - loss.detach() / 2}

    def generator_loss(self, critic: nn.Module, fake: Tensor) -> tuple[Tensor, Stats]:
        loss = -F.softplus(critic(fake).float()).mean()
        return loss, {"generator_loss": loss.detach()}


class NonSaturatingGAN(GAN):
    """The standard GAN with the -log D(G(z)) generator loss (Goodfellow et al. 2014, Sec. 3).

    Generator: minimise -E log D(G(z)) = E softplus(-s(G(z))): same fixed point, strong gradients early on.
    """

    def generator_loss(self, critic: nn.Module, fake: Tensor) -> tuple[Tensor, Stats]:
        loss = F.softplus(-critic(fake).float()).mean()
        return loss, {"generator_loss": loss.detach()}


OBJECTIVES: dict[str, type[Objective]] = {
    "gan": GAN,
    "gan-ns": NonSaturatingGAN,
    "wgan": WGAN,
    "wgan-gp": WGANGP,
    "wgan-lp": WGANLP,
}


def build_objective(config: Config) -> Objective:
    return OBJECTIVES[config.algorithm](config)
