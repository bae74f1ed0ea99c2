"""The training loop: n_critic critic steps, then one generator step, for any objective, models and data.

The loop is Algorithm 1 of both WGAN papers with the algorithm-specific parts left to the
:class:`~wgan.objectives.Objective`. Every random number comes from one stream on the device
(:class:`~wgan.randomness.RandomStream`) whose state is checkpointed, so a resumed run reproduces an
uninterrupted one bit for bit. Scalars stay on the device between log points: the hot path never waits for the
host.

With several processes (:mod:`wgan.distributed`) every rank runs this loop on its share of each global batch;
the loop only asks its :class:`~wgan.distributed.World` to wrap the modules, average the logged scalars and
agree on when a time budget is spent, and leaves writing to the rank that writes.

Each generator step is followed at once by n_critic of the critic steps that precede the next one, so at every
iteration boundary (log, evaluation, checkpoint) the critic has caught up with the current generator. That is
where Algorithm 1 reads its estimate: the critic, trained towards sup_f E f(real) - E f(fake) against this
generator. A warm-up phase's further steps come after the boundary, so that every reading follows the same
number of steps (read after all 100, the clipped critic's estimate at every 500th iteration stood 2-4 times
above its neighbours on 8gaussians).

Read straight after a generator step instead, the estimate is biased low by that step, which moved the samples
up the critic's slope: on swissroll (WGAN-GP toy defaults, seed 0) it read -0.05 at iteration 1000, where exact
W1 is 0.12; after the critic's 5 steps against that generator it reads 0.09 (docs/BENCHMARKS.md). The order of
the random draws, and so the training, is that of the plain loop; a run only ends with n_critic more critic
steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .config import Config
from .data.sampler import Sampler
from .distributed import World
from .errors import WganError
from .objectives import Objective, critic_gradient_norm, interpolate
from .randomness import RandomStream
from .runs import RunFolder

Evaluator = Callable[[int], dict[str, float]]
# The evaluation metric that picks checkpoints/best.pt, lower is better: the Frechet distance where the data
# has a classifier (images), else exact W1.
BEST_SCORES = ("fd", "w1")
# Checkpoint entries an older version did not write: critic_steps_done (before the critic caught up at
# boundaries) and the gradient scalers (before float16).
OPTIONAL_STATE = ("critic_steps_done", "generator_scaler", "critic_scaler")
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}  # precision -> autocast dtype (fp32: none)


def critic_steps(config: Config, iteration: int) -> int:
    """Critic updates before generator update number ``iteration`` (counted from 0).

    With the reference warm-up (WGAN main.py) the critic gets ``warmup_critic_steps`` updates for the first
    ``warmup_generator_iters`` generator iterations and every ``warmup_every``-th one, so that it stays close
    to optimal; otherwise ``n_critic``.
    """
    if config.warmup and (iteration < config.warmup_generator_iters or iteration % config.warmup_every == 0):
        return config.warmup_critic_steps
    return config.n_critic


def learning_rate(config: Config, iteration: int) -> float:
    """The learning rate at generator iteration ``iteration`` (from 0): constant, or decayed linearly to 0 at
    ``config.iterations`` as in the WGAN-GP reference code. A function of the iteration alone, so resuming
    needs no scheduler state."""
    if config.lr_decay == "linear":
        return config.lr * (1 - iteration / config.iterations)
    return config.lr


def make_optimizer(parameters, config: Config) -> torch.optim.Optimizer:
    """RMSProp (WGAN: momentum-free, since momentum destabilises the critic, Sec. 3) or Adam with betas.

    Adam runs its fused kernel; torch's RMSProp has none and takes the multi-tensor (foreach) path.
    """
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=config.lr, foreach=True)
    return torch.optim.Adam(parameters, lr=config.lr, betas=(config.beta1, config.beta2), fused=True)


def gradient_norm(module: nn.Module) -> Tensor:
    """||grad||_2 over all of a module's parameters, from the last backward pass."""
    norms = [parameter.grad.norm() for parameter in module.parameters() if parameter.grad is not None]
    return torch.stack(norms).norm() if norms else torch.zeros(())


class Trainer:
    """Trains ``generator`` against ``critic`` with ``objective`` on batches from ``sampler``.

    Parameters
    ----------
    run : RunFolder, optional
        Where scalars, figures and checkpoints go; without it nothing is written.
    evaluator : callable, optional
        ``evaluator(iteration) -> scalars``, called every ``config.eval_every`` iterations and at the end.
    world : World
        The processes training together (one by default); this one takes ``batch_size / world.size`` rows of
        every batch.

    Precision: ``bf16`` and ``fp16`` run the forward passes under autocast with float32 weights. ``fp16`` adds
    one gradient scaler per optimiser (PyTorch's automatic mixed precision): the losses are scaled before their
    backward pass, the gradients unscaled before the step, and a step whose gradients hold inf or NaN is
    skipped while the scale is lowered; the penalty's input gradient is scaled too (see
    :func:`~wgan.objectives.input_gradient`). With ``config.compile`` the generator's and the critic's forward
    passes are compiled by ``torch.compile``.
    """

    def __init__(self, config: Config, generator: nn.Module, critic: nn.Module, objective: Objective,
                 sampler: Sampler, run: RunFolder | None = None, evaluator: Evaluator | None = None,
                 world: World = World()):
        self.config, self.generator, self.critic, self.objective = config, generator, critic, objective
        self.sampler, self.run, self.evaluator, self.world = sampler, run, evaluator, world
        self.device = sampler.device
        self.rows = config.batch_size // world.size  # this process's share of each batch
        self.stream = RandomStream.seeded(config.seed, self.device, world.shard)
        # The modules as the steps call them: compiled if asked, and in DistributedDataParallel for the step
        # that trains them (the other network's forward pass stays outside it: no gradient to share).
        self._generate, self._score = (torch.compile(module) if config.compile else module
                                       for module in (generator, critic))
        self._generator_replica, self._critic_replica = world.wrap(self._generate), world.wrap(self._score)
        self.generator_optimizer = make_optimizer(generator.parameters(), config)
        self.critic_optimizer = make_optimizer(critic.parameters(), config)
        self.generator_scaler, self.critic_scaler = (torch.amp.GradScaler(self.device.type,
                                                                          enabled=config.precision == "fp16")
                                                     for _ in range(2))
        self.iteration = 0
        self.critic_steps_done = 0  # critic steps already taken against the current generator
        self.train_seconds = 0.0  # time spent in training steps (not evaluations), for config.max_minutes
        self.best_score = math.inf
        self.history: list[dict[str, Any]] = run.history if run is not None else []

    # State ---------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: models, optimisers, random state, step, best score, config."""
        return {
            "generator": self.generator.state_dict(),
            "critic": self.critic.state_dict(),
            "generator_optimizer": self.generator_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "generator_scaler": self.generator_scaler.state_dict(),
            "critic_scaler": self.critic_scaler.state_dict(),
            "rng": self.stream.get_state(),
            "iteration": self.iteration,
            "critic_steps_done": self.critic_steps_done,
            "train_seconds": self.train_seconds,
            "best_score": self.best_score,
            "config": self.config.to_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output. A checkpoint written before the critic caught up at boundaries
        lacks ``critic_steps_done``; its run continues exactly, from the critic steps it had not yet taken. One
        written before float16 training lacks the (then unused) gradient scalers' states."""
        missing = sorted(self.state_dict().keys() - state.keys() - set(OPTIONAL_STATE))
        if missing:
            raise WganError(f"the checkpoint lacks {', '.join(missing)}: an older version of wgan wrote it; "
                            "train the run again with this version")
        self.generator.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["critic"])
        self.generator_optimizer.load_state_dict(state["generator_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        for name in ("generator_scaler", "critic_scaler"):
            if state.get(name):
                getattr(self, name).load_state_dict(state[name])
        self.stream.set_state(state["rng"])
        self.iteration = state["iteration"]
        self.critic_steps_done = state.get("critic_steps_done", 0)
        self.train_seconds = state["train_seconds"]
        self.best_score = state["best_score"]

    # Steps ---------------------------------------------------------------------------------------------------
    def _autocast(self):
        if self.config.precision in AUTOCAST_DTYPES:
            return torch.autocast(self.device.type, dtype=AUTOCAST_DTYPES[self.config.precision])
        return nullcontext()

    def _noise(self) -> Tensor:
        return self.stream.normal(self.rows, self.config.latent_dim)

    def _loss_scale(self, scaler: torch.amp.GradScaler) -> Tensor | None:
        """The scaler's current scale as a device tensor (no host synchronisation), or None without one."""
        return scaler.scale(torch.ones((), device=self.device)) if scaler.is_enabled() else None

    @staticmethod
    def _update(loss: Tensor, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler) -> None:
        """Backward pass and step, through the gradient scaler (which passes everything through when off).

        The gradients are unscaled before the step so that they are the true ones whatever the optimiser's
        kernel (a fused Adam would otherwise leave them scaled); a step with inf or NaN in them is skipped.
        """
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if scaler.is_enabled():
            scaler.unscale_(optimizer)
        scaler.step(optimizer)
        scaler.update()

    def critic_step(self) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """One critic update on a fresh real batch and a fresh generated batch; returns stats and the batches."""
        real = self.stream.sample(self.sampler, self.rows)
        with torch.no_grad(), self._autocast():
            fake = self._generate(self._noise()).float()
        with self._autocast():
            loss, stats = self.objective.critic_loss(self._critic_replica, real, fake, self.stream,
                                                     self._loss_scale(self.critic_scaler))
        self._update(loss, self.critic_optimizer, self.critic_scaler)
        self.objective.constrain(self.critic)
        return stats, real, fake

    def critic_steps_until(self, total: int) -> tuple[dict[str, Tensor], Tensor, Tensor] | None:
        """Critic steps against the current generator, at the learning rate of generator step
        ``self.iteration``, until ``total`` have been taken; the last step's stats and batches, if any."""
        self._set_learning_rate(learning_rate(self.config, self.iteration))
        last = None
        while self.critic_steps_done < total:
            last = self.critic_step()
            self.critic_steps_done += 1
        return last

    def generator_step(self) -> dict[str, Tensor]:
        """One generator update; the critic's weights are frozen so no gradient is computed for them."""
        self.critic.requires_grad_(False)
        with self._autocast():
            loss, stats = self.objective.generator_loss(self._score, self._generator_replica(self._noise()))
        self._update(loss, self.generator_optimizer, self.generator_scaler)
        self.critic.requires_grad_(True)
        return stats

    def _diagnostics(self, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        """Gradient norms for the log: the critic's at interpolates (its own seed), the generator's last one."""
        stream = RandomStream.seeded(self.config.seed + self.iteration, self.device, self.world.shard)
        return {"critic_grad_norm": critic_gradient_norm(self.critic, interpolate(real, fake, stream)).mean(),
                "generator_grad_norm": gradient_norm(self.generator)}

    # Loop ----------------------------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """Reached ``config.iterations``, or spent ``config.max_minutes`` of training time when that is set
        (by rank 0's clock, for every rank)."""
        if self.iteration >= self.config.iterations:
            return True
        return self.config.max_minutes > 0 and self.world.agree(self.train_seconds >= 60 * self.config.max_minutes)

    def fit(self, progress: bool = True) -> list[dict[str, Any]]:
        """Train until :attr:`finished` (from the current iteration); returns the history of logged rows.

        Training time is measured around the steps and log points only, so evaluations do not eat a time
        budget; on a GPU it is measured at the host, which runs ahead of the device between log points.
        """
        config = self.config
        bar = tqdm(total=config.iterations, initial=self.iteration, disable=not progress, unit="it",
                   desc=self.run.name if self.run else "training", dynamic_ncols=True, mininterval=0.5)
        try:
            finished = self.finished
            while not finished:
                started = time.perf_counter()
                self.critic_steps_until(critic_steps(config, self.iteration))  # the rest of a warm-up phase
                generator_stats = self.generator_step()
                self.iteration += 1
                self.critic_steps_done = 0
                critic_stats, real, fake = self.critic_steps_until(min(config.n_critic,
                                                                       critic_steps(config, self.iteration)))
                bar.update()
                logged = self.iteration % config.log_every == 0
                if logged:
                    self._log_step(critic_stats, generator_stats, real, fake, bar)
                self.train_seconds += time.perf_counter() - started
                finished = self.finished
                if finished and not logged:
                    self._log_step(critic_stats, generator_stats, real, fake, bar)
                if self.iteration % config.eval_every == 0 or finished:
                    self._evaluate_and_save()
        finally:
            bar.close()
            if self.run is not None:
                self.run.close()
        return self.history

    def _log_step(self, critic_stats: dict[str, Tensor], generator_stats: dict[str, Tensor], real: Tensor,
                  fake: Tensor, bar: tqdm) -> None:
        """Log the last step's scalars, averaged over the ranks (the one host synchronisation between
        evaluations)."""
        stats = self.world.mean({**critic_stats, **generator_stats, **self._diagnostics(real, fake)})
        scalars = {f"train/{key}": value.item() for key, value in stats.items()}
        if self.critic_scaler.is_enabled():
            scalars["train/loss_scale"] = self.critic_scaler.get_scale()
        self._log(scalars | {"time/train_minutes": self.train_seconds / 60})
        bar.set_postfix_str(f"{self.objective.estimate_name} {scalars['train/estimate']:.4f}")

    def _set_learning_rate(self, lr: float) -> None:
        for optimizer in (self.generator_optimizer, self.critic_optimizer):
            for group in optimizer.param_groups:
                group["lr"] = lr

    def _log(self, scalars: dict[str, float]) -> None:
        """Record a row: in the run folder, or in memory without one; on the writing rank only."""
        if self.run is not None:
            self.run.log(self.iteration, scalars)
        elif self.world.is_writer:
            self.history.append({"iteration": self.iteration, **scalars})

    def _evaluate_and_save(self) -> None:
        """Evaluate, log, and checkpoint (latest; best by FD or exact W1 when this is the lowest so far)."""
        if self.evaluator is None:
            scalars = {}
        else:
            with self.world.by_itself(self.generator, self.critic):
                scalars = self.evaluator(self.iteration)
        if scalars:
            self._log({f"eval/{key}": value for key, value in scalars.items()})
        score = next((scalars[name] for name in BEST_SCORES if name in scalars), math.inf)
        improved = score < self.best_score
        self.best_score = min(self.best_score, score)
        if self.run is not None:
            state = self.state_dict()
            self.run.save_checkpoint(state, "latest")
            if improved:
                self.run.save_checkpoint(state, "best")
