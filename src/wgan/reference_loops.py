"""The reference training loops, written the straightforward way: what `wgan`'s trainer is measured against.

These are deliberately not the :class:`~wgan.trainer.Trainer` (one training loop trains; these are the thing
compared with). They follow the structure of the published code, rewritten here from the papers' Algorithm 1:

- :class:`WGANGPLoop`, WGAN-GP's Algorithm 1 as its authors' code runs it (``gan_toy.py``, ``gan_mnist.py``):
  per critic step, the real batch, the generated batch and the penalty each go through their own forward and
  backward pass, the penalty's input gradient by double backward through autograd, then a plain Adam step.
- :class:`WGANLoop`, WGAN's Algorithm 1 as the official code runs it (``main.py``): the clipping as a Python loop
  over the critic's parameters at the start of each critic step (so the generator's step sees the critic as its
  last RMSProp step left it), real and generated batches in separate forward and backward passes, a plain RMSProp
  step, and, with ``config.warmup``, the code's warm-up (``Diters = 100`` for the first 25 generator iterations
  and every 500th, from the config's warm-up fields).

Both take the same configuration, models, data and seed as the trainer, so that a benchmark or an experiment can
run one setting through either; both draw real samples, noise and interpolation weights from their own stream
in the order of the published code (so they train the same way, not the same numbers). ``--precision`` bf16
and fp16 wrap their forward passes in autocast, as the trainer does, so that precisions compare like for like
(fp16 without loss scaling: these loops are timed, not trusted for training in fp16).
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import Tensor, nn

from .config import AUTOCAST_DTYPES, Config
from .data.sampler import Sampler
from .errors import WganError


class ReferenceLoop:
    """One generator iteration at a time: ``n_critic`` critic steps, then one generator step."""

    def __init__(self, config: Config, generator: nn.Module, critic: nn.Module, sampler: Sampler):
        self.config, self.generator, self.critic, self.sampler = config, generator, critic, sampler
        self.device = sampler.device
        self.rng = torch.Generator(self.device).manual_seed(config.seed)
        self.generator_optimizer = self.optimizer(generator)
        self.critic_optimizer = self.optimizer(critic)
        self.generator_iterations = 0

    def optimizer(self, module: nn.Module) -> torch.optim.Optimizer:
        raise NotImplementedError

    def autocast(self):
        dtype = AUTOCAST_DTYPES.get(self.config.precision)
        return torch.autocast(self.device.type, dtype=dtype) if dtype else nullcontext()

    def noise(self) -> Tensor:
        return torch.randn(self.config.batch_size, self.config.latent_dim, generator=self.rng, device=self.device)

    def score(self, x: Tensor) -> Tensor:
        """mean f(x) over the batch, the scalar the published code backpropagates."""
        with self.autocast():
            return self.critic(x).float().mean()

    def critic_step(self) -> None:
        raise NotImplementedError

    def generator_step(self) -> None:
        """-mean f(G(z)), with the critic's parameters frozen (``requires_grad = False``), as both codes do."""
        for parameter in self.critic.parameters():
            parameter.requires_grad = False
        self.generator.zero_grad()
        with self.autocast():
            fake = self.generator(self.noise())
        (-self.score(fake)).backward()
        self.generator_optimizer.step()
        for parameter in self.critic.parameters():
            parameter.requires_grad = True

    def critic_steps(self) -> int:
        """Critic steps before the next generator step."""
        return self.config.n_critic

    def iteration(self) -> None:
        for _ in range(self.critic_steps()):
            self.critic_step()
        self.generator_step()
        self.generator_iterations += 1

    def fake(self) -> Tensor:
        with torch.no_grad(), self.autocast():
            return self.generator(self.noise()).float()


class WGANGPLoop(ReferenceLoop):
    """WGAN-GP (Gulrajani et al. 2017, Algorithm 1) in the structure of its authors' code."""

    def optimizer(self, module: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(module.parameters(), lr=self.config.lr, betas=(self.config.beta1, self.config.beta2))

    def critic_step(self) -> None:
        self.critic.zero_grad()
        real = self.sampler.sample(self.config.batch_size, self.rng)
        (-self.score(real)).backward()
        fake = self.fake()
        self.score(fake).backward()
        self.penalty(real, fake).backward()
        self.critic_optimizer.step()

    def penalty(self, real: Tensor, fake: Tensor) -> Tensor:
        """lambda E[(||grad D(x_hat)||_2 - 1)^2] by double backward (``calc_gradient_penalty``)."""
        alpha = torch.rand((len(real),) + (1,) * (real.dim() - 1), generator=self.rng, device=self.device)
        interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        with self.autocast():
            scores = self.critic(interpolates).float()
        (gradients,) = torch.autograd.grad(scores, interpolates, grad_outputs=torch.ones_like(scores),
                                           create_graph=True)
        return self.config.penalty_weight * ((gradients.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


class WGANLoop(ReferenceLoop):
    """WGAN with weight clipping (Arjovsky et al. 2017, Algorithm 1) in the structure of the official code."""

    def optimizer(self, module: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.RMSprop(module.parameters(), lr=self.config.lr)

    def critic_steps(self) -> int:
        """``Diters``: 100 (``warmup_critic_steps``) for the first 25 generator iterations and every 500th, with
        the warm-up; else ``n_critic``."""
        config, done = self.config, self.generator_iterations
        warming = done < config.warmup_generator_iters or done % config.warmup_every == 0
        return config.warmup_critic_steps if config.warmup and warming else config.n_critic

    def critic_step(self) -> None:
        for parameter in self.critic.parameters():
            parameter.data.clamp_(-self.config.clip, self.config.clip)
        self.critic.zero_grad()
        (-self.score(self.sampler.sample(self.config.batch_size, self.rng))).backward()
        self.score(self.fake()).backward()
        self.critic_optimizer.step()


REFERENCE_LOOPS: dict[str, type[ReferenceLoop]] = {"wgan": WGANLoop, "wgan-gp": WGANGPLoop}


def reference_loop(config: Config, generator: nn.Module, critic: nn.Module, sampler: Sampler) -> ReferenceLoop:
    """The reference loop of ``config.algorithm`` (wgan or wgan-gp) over these models and data."""
    if config.algorithm not in REFERENCE_LOOPS:
        raise WganError(f"no reference loop for {config.algorithm}: there are {', '.join(REFERENCE_LOOPS)} (the "
                        "published loops this compares with)")
    return REFERENCE_LOOPS[config.algorithm](config, generator, critic, sampler)
