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
W1 is 0.12; after the critic's 5 steps against that generator it reads 0.09 (docs/history/BENCHMARKS-2026-11.md).
The order of the random draws, and so the training, is that of the plain loop; a run only ends with n_critic more
critic steps.
"""

from __future__ import annotations

import copy
import math
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
from torch import Tensor, nn

from .allocator import keep_freed_memory
from .config import AUTOCAST_DTYPES, Config
from .data.sampler import Sampler
from .distributed import World, normalised_batch
from .ema import GeneratorAverage
from .errors import SamplesNotFinite, Stopped, WganError
from .objectives import Objective, critic_gradient_norm, has_batch_norm, interpolate
from .optimizers import Adam, OneGroupOptimizer, RMSprop
from .progress import Progress
from .randomness import RandomStream
from .runs import RunFolder, drop_rows_after
from .signals import STOP_SIGNALS, signals_handled

# evaluator(iteration, average) -> scalars, with ``average`` the generator's moving average or None.
Evaluator = Callable[[int, "nn.Module | None"], dict[str, float]]
# The evaluation metric that picks checkpoints/best.pt, lower is better: the Frechet distance where the data
# has a classifier (images), else exact W1; that of the generator's moving average where there is one, since
# sampling and evaluating a run use it.
BEST_SCORES = ("ema_fd", "fd", "ema_w1", "w1")


def best_score(scalars: dict[str, float]) -> float:
    """The score of an evaluation's ``scalars`` that picks best.pt (the first of :data:`BEST_SCORES` there),
    lower is better; infinity where there is none."""
    return next((scalars[name] for name in BEST_SCORES if name in scalars), math.inf)


# Checkpoint entries an older version did not write: critic_steps_done (before the critic caught up at
# boundaries), the gradient scalers (before float16), the rollback count and learning-rate scale, the generator's
# moving average (before it existed: it starts at the generator's weights), the samples' shape (before a run could
# be sampled without its data), the rows a batch-norm critic normalised over (before several processes).
OPTIONAL_STATE = ("critic_steps_done", "generator_scaler", "critic_scaler", "rollbacks", "lr_scale",
                  "generator_average", "sample_shape", "normalised_batch")
FRESH_NOISE_SEED_STEP = 1_000_003  # a rollback's noise stream: seed + this x rollbacks


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
    """The learning rate at generator iteration ``iteration`` (from 0): constant, or decayed linearly to 0 as in
    the WGAN-GP reference code, from ``lr_decay_start`` (0) to ``lr_decay_end`` (0: ``config.iterations``) and
    held there. A function of the iteration alone, so resuming needs no scheduler state."""
    if config.lr_decay == "linear":
        start, end = config.lr_decay_start, config.lr_decay_end or config.iterations
        return config.lr * min(1.0, max(0.0, 1 - (iteration - start) / (end - start)))
    return config.lr


def out_of_time(config: Config, train_seconds: float) -> bool:
    """Whether ``train_seconds`` of training spent the run's ``max_minutes`` (0: no budget)."""
    return config.max_minutes > 0 and train_seconds >= 60 * config.max_minutes


def make_optimizer(parameters, config: Config) -> OneGroupOptimizer:
    """RMSProp (WGAN: momentum-free, since momentum destabilises the critic, Sec. 3) or Adam with betas
    (:mod:`wgan.optimizers`: torch's computations, without importing torch._dynamo).

    Adam runs torch's fused kernel; RMSProp has none and takes the multi-tensor (foreach) path, which on the
    CPU is a loop of per-tensor operations: with ``config.compile`` its step is compiled (one pass over each
    tensor instead of five), its learning rate a tensor that :meth:`OneGroupOptimizer.set_lr` fills in place, so
    that a decaying rate is read by the compiled step rather than compiled into it again at every value. DCGAN 32
    WGAN under --compile, against the same run with torch's step: 1.006x-1.025x in float32 (five runs), 1.018x and
    1.036x in bf16 (in-process A/B, 12-24 rounds of 2-4 iterations, 2-core Intel Xeon with AMX, 2026-12-04/05).
    """
    if config.optimizer == "adam":
        return Adam(parameters, lr=config.lr, betas=(config.beta1, config.beta2))
    optimizer = RMSprop(parameters, lr=config.lr, tensor_lr=config.compile)
    if config.compile:
        optimizer.step = torch.compile(optimizer.step)
    return optimizer


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
        ``evaluator(iteration, average) -> scalars``, called every ``config.eval_every`` iterations and at the
        end, with the generator's moving average (``None`` without one).
    world : World
        The processes training together (one by default); this one takes ``batch_size / world.size`` rows of
        every batch.

    Precision: ``bf16`` and ``fp16`` run the forward passes under autocast with float32 weights. ``fp16`` adds
    one gradient scaler per optimiser (PyTorch's automatic mixed precision): the losses are scaled before their
    backward pass, the gradients unscaled before the step, and a step whose gradients hold inf or NaN is
    skipped while the scale is lowered; the penalty's input gradient is scaled too (see
    :func:`~wgan.objectives.input_gradient`). With ``config.compile`` the generator's and the critic's forward
    passes, and WGAN-GP's one-pass critic loss, are compiled by ``torch.compile``. With ``config.ema_decay`` a
    moving average of the generator's weights (:attr:`average`, :mod:`wgan.ema`) follows every generator step. On
    the CPU, the process's malloc is set to keep the memory each step frees for the next (:mod:`wgan.allocator`).
    """

    def __init__(self, config: Config, generator: nn.Module, critic: nn.Module, objective: Objective,
                 sampler: Sampler, run: RunFolder | None = None, evaluator: Evaluator | None = None,
                 world: World = World()):
        self.config, self.generator, self.critic, self.objective = config, generator, critic, objective
        self.sampler, self.run, self.evaluator, self.world = sampler, run, evaluator, world
        self.device = sampler.device
        if self.device.type == "cpu":
            keep_freed_memory()
        self.rows = config.batch_size // world.size  # this process's share of each batch
        self.stream = RandomStream.seeded(config.seed, self.device, world.shard)
        # The modules as the steps call them: compiled if asked (for static shapes: training's batches keep
        # theirs, and Inductor failed on the DCGAN's dynamic ones), and in DistributedDataParallel for the step
        # that trains them (the other network's forward pass stays outside it: no gradient to share).
        self._generate, self._score = (torch.compile(module, dynamic=False) if config.compile else module
                                       for module in (generator, critic))
        self._generator_replica, self._critic_replica = world.wrap(self._generate), world.wrap(self._score)
        self._generator_has_batch_norm = has_batch_norm(generator)
        self.generator_optimizer = make_optimizer(generator.parameters(), config)
        self.critic_optimizer = make_optimizer(critic.parameters(), config)
        self.generator_scaler, self.critic_scaler = (torch.amp.GradScaler(self.device.type,
                                                                          enabled=config.precision == "fp16")
                                                     for _ in range(2))
        self.average = GeneratorAverage(generator, config.ema_decay) if config.ema_decay else None
        self.iteration = 0
        self.stream_restarted = False  # the loaded random stream was another kind of device's (RandomStream.restore)
        self.critic_steps_done = 0  # critic steps already taken against the current generator
        self.train_seconds = 0.0  # time spent in training steps (not evaluations), for config.max_minutes
        self.best_score = math.inf
        self.rollbacks = 0  # times the run rolled back from NaN or infinity
        self.lr_scale = 1.0  # halved at each rollback with on_nan = halve-lr
        self.stop_signal: str | None = None  # the name of a stop signal received, until the run stops
        self._last_good: dict[str, Any] = {}  # the state a rollback returns to (set by fit)
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
            "rollbacks": self.rollbacks,
            "lr_scale": self.lr_scale,
            "config": self.config.to_dict(),
            "sample_shape": list(self.sampler.shape),  # what the models are built for, to sample without the data
            "normalised_batch": normalised_batch(self.config.batch_size, self.world.size, self.config.sync_batchnorm),
        } | ({"generator_average": self.average.state_dict()} if self.average else {})

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output. A checkpoint of an older version may lack the entries of
        :data:`OPTIONAL_STATE`: one written before the critic caught up at boundaries lacks ``critic_steps_done``,
        and its run continues exactly, from the critic steps it had not yet taken; one written before float16
        training lacks the (then unused) gradient scalers' states. A random stream saved on another kind of device
        starts afresh (:meth:`RandomStream.restore`), and :attr:`stream_restarted` says so."""
        missing = sorted(self.state_dict().keys() - state.keys() - set(OPTIONAL_STATE))
        if missing:
            raise WganError(f"the checkpoint lacks {', '.join(missing)}: an older version of wgan wrote it; "
                            "train the run again with this version")
        try:
            self.generator.load_state_dict(state["generator"])
            self.critic.load_state_dict(state["critic"])
        except RuntimeError as error:  # torch lists every mismatched tensor over many lines
            raise WganError(f"the checkpoint's networks do not fit the ones built for this run's data "
                            f"{self.config.data!r} (samples of shape {tuple(self.sampler.shape)}): the data changed "
                            "since the run was trained, or another version of wgan wrote the checkpoint "
                            f"({str(error).splitlines()[-1].strip()}); train a new run") from None
        self.generator_optimizer.load_state_dict(state["generator_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        for name in ("generator_scaler", "critic_scaler"):
            if state.get(name):
                getattr(self, name).load_state_dict(state[name])
        self.iteration = state["iteration"]
        self.stream_restarted = not self.stream.restore(state["rng"], self.config.seed, self.iteration)
        self.critic_steps_done = state.get("critic_steps_done", 0)
        self.train_seconds = state["train_seconds"]
        self.best_score = state["best_score"]
        self.rollbacks, self.lr_scale = state.get("rollbacks", 0), state.get("lr_scale", 1.0)
        if self.average is not None:
            if "generator_average" in state:
                self.average.load_state_dict(state["generator_average"])
            else:
                self.average.reset()

    # Steps ---------------------------------------------------------------------------------------------------
    def _autocast(self):
        if self.config.precision in AUTOCAST_DTYPES:
            return torch.autocast(self.device.type, dtype=AUTOCAST_DTYPES[self.config.precision])
        return nullcontext()

    def _noise(self, batches: int = 1) -> Tensor:
        """z for ``batches`` batches of this process's rows, drawn at once (:meth:`RandomStream.normal`)."""
        return self.stream.normal(self.rows, self.config.latent_dim, batches=batches)

    def _generated(self, batches: int) -> tuple[Tensor, ...]:
        """``batches`` batches G(z) of fresh noise, for as many critic steps, from one forward pass.

        The critic steps between two generator steps all see the same generator, so G over [z_1; ...; z_k] is
        G(z_1), ..., G(z_k): k fresh batches, each from its own noise, as Algorithm 1 draws them step by step,
        in one pass whose products have k times the rows (toy WGAN-GP: 1.08x a training iteration in bf16,
        1.03x in float32, in-process A/B, 2-core Intel Xeon with AMX). A generator with batch norm, whose output
        on a sample depends on the rest of its batch, is called once per batch (see :meth:`critic_steps_until`).
        """
        with torch.no_grad(), self._autocast():
            return self._generate(self._noise(batches)).float().split(self.rows)

    def _loss_scale(self, scaler: torch.amp.GradScaler) -> Tensor | None:
        """The scaler's current scale as a device tensor (no host synchronisation), or None without one."""
        return scaler.scale(torch.ones((), device=self.device)) if scaler.is_enabled() else None

    @staticmethod
    def _update(loss: Tensor, optimizer: OneGroupOptimizer, scaler: torch.amp.GradScaler) -> None:
        """Backward pass and step, through the gradient scaler (which passes everything through when off).

        The gradients are unscaled before the step so that they are the true ones whatever the optimiser's
        kernel (a fused Adam would otherwise leave them scaled); a step with inf or NaN in them is skipped.
        """
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        if scaler.is_enabled():
            scaler.unscale_(optimizer)
        scaler.step(optimizer)
        scaler.update()

    def critic_step(self, fake: Tensor | None = None) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """One critic update on a fresh real batch and a generated batch, ``fake`` or else a fresh one made here;
        returns stats and the batches."""
        real = self.stream.sample(self.sampler, self.rows)
        if fake is None:
            (fake,) = self._generated(1)
        with self._autocast():
            loss, stats = self.objective.critic_loss(self._critic_replica, real, fake, self.stream,
                                                     self._loss_scale(self.critic_scaler))
        self._update(loss, self.critic_optimizer, self.critic_scaler)
        self.objective.constrain(self.critic)
        return stats, real, fake

    def critic_steps_until(self, total: int) -> tuple[dict[str, Tensor], Tensor, Tensor] | None:
        """Critic steps against the current generator, at the learning rate of generator step
        ``self.iteration``, until ``total`` have been taken; the last step's stats and batches, if any. The
        generated batches are made up to ``n_critic`` at a time (:meth:`_generated`); a generator with batch norm
        (or n_critic = 1) makes each in its step, after the step's real batch, the order of the published loops."""
        self._set_learning_rate(learning_rate(self.config, self.iteration))
        together = 1 if self._generator_has_batch_norm else self.config.n_critic
        last = None
        while self.critic_steps_done < total:
            batches = min(together, total - self.critic_steps_done)
            # a single batch is made inside its step (fake=None), after the step's real batch
            for fake in self._generated(batches) if batches > 1 else (None,):
                last = self.critic_step(fake)
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
        """Gradient norms for the log: the critic's at interpolates (its own seed), the generator's last one. A
        batch-norm critic's pass over the interpolates leaves its running statistics as they were: how often a
        run logs does not change its checkpoints."""
        stream = RandomStream.seeded(self.config.seed + self.iteration, self.device, self.world.shard)
        with buffers_kept(self.critic):
            critic_norm = critic_gradient_norm(self.critic, interpolate(real, fake, stream)).mean()
        return {"critic_grad_norm": critic_norm, "generator_grad_norm": gradient_norm(self.generator)}

    def step(self) -> tuple[dict[str, Tensor], dict[str, Tensor], Tensor, Tensor]:
        """One generator iteration of Algorithm 1 with the critic steps around it (the rest of a warm-up phase
        before, n_critic after); nothing logged, evaluated or saved. Returns the generator step's stats, the last
        critic step's stats and that step's real and generated batches."""
        self.critic_steps_until(critic_steps(self.config, self.iteration))  # the rest of a warm-up phase
        generator_stats = self.generator_step()
        self.iteration += 1
        if self.average is not None:
            self.average.update(self.iteration)
        self.critic_steps_done = 0
        critic_stats, real, fake = self.critic_steps_until(min(self.config.n_critic,
                                                               critic_steps(self.config, self.iteration)))
        return generator_stats, critic_stats, real, fake

    # Loop ----------------------------------------------------------------------------------------------------
    def _stopping(self) -> tuple[bool, bool]:
        """(finished, stop): whether ``config.iterations`` are done or ``config.max_minutes`` of training time
        spent (by rank 0's clock), and whether a stop signal came (to any rank); the same on every rank."""
        spent, stop = self.world.agree(out_of_time(self.config, self.train_seconds), self.stop_signal is not None)
        return self.iteration >= self.config.iterations or spent, stop

    def fit(self, progress: bool = True) -> list[dict[str, Any]]:
        """Train until ``config.iterations`` are done, or ``config.max_minutes`` of training time spent (from the
        current iteration); returns the history of logged rows.

        Training time is measured around the steps and log points only, so evaluations do not eat a time
        budget; on a GPU it is measured at the host, which runs ahead of the device between log points.

        SIGTERM, SIGINT and SIGUSR1 (what schedulers send before they preempt a job) stop the run at the end of
        the current iteration: the latest checkpoint is written and :class:`~wgan.errors.Stopped` raised; a
        second SIGINT stops at once (files are written atomically, so none is left torn). NaN or infinity in
        a logged scalar or a weight, found at a log point, rolls the run back (:attr:`Config.on_nan`).
        """
        with self._stop_on_signals():  # first: a signal between the caller's handlers and these is not lost
            bar = Progress(self.config.iterations, self.iteration, self.run.name if self.run else "training",
                           progress)
            self._last_good = self._snapshot()
            try:
                finished, stop = self._stopping()
                while not (finished or stop):
                    try:
                        finished, stop = self._iteration(bar)
                    except _Diverged as diverged:
                        self._roll_back(diverged)
                        bar.restart(self.iteration)
                        finished, stop = self._stopping()
                        if stop:  # the stop's checkpoint, of the state rolled back to: a new run may have none yet
                            self._save(improved=False)
            finally:
                bar.close()
        if stop and not finished:
            raise Stopped(self.stop_signal or "a signal to another process", self.iteration,
                          str(self.run.path) if self.run else None)
        return self.history

    def _iteration(self, bar: Progress) -> tuple[bool, bool]:
        """One generator iteration and what follows it (log, evaluation, checkpoint); returns :meth:`_stopping`."""
        config = self.config
        started = time.perf_counter()
        generator_stats, critic_stats, real, fake = self.step()
        bar.update()
        logged = self.iteration % config.log_every == 0
        if logged:  # the row's training time counts this iteration's step; the log's own time, the next row's
            self.train_seconds += time.perf_counter() - started
            started = time.perf_counter()
            self._log_step(critic_stats, generator_stats, real, fake, bar)
        self.train_seconds += time.perf_counter() - started
        finished, stop = self._stopping()
        if finished and not logged:
            self._log_step(critic_stats, generator_stats, real, fake, bar)
        if self.iteration % config.eval_every == 0 or finished:
            self._evaluate_and_save()
        elif stop:
            self._save(improved=False)
        return finished, stop

    @contextmanager
    def _stop_on_signals(self) -> Iterator[None]:
        """While training, a stop signal asks for a stop at the end of the iteration (a second SIGINT: now)."""

        def request_stop(number: int, frame) -> None:
            if number == signal.SIGINT and self.stop_signal is not None:
                raise KeyboardInterrupt
            self.stop_signal = signal.Signals(number).name

        with signals_handled(STOP_SIGNALS, request_stop):
            yield

    def _log_step(self, critic_stats: dict[str, Tensor], generator_stats: dict[str, Tensor], real: Tensor,
                  fake: Tensor, bar: Progress) -> None:
        """Log the last step's scalars, averaged over the ranks (the one host synchronisation between
        evaluations), after checking them and the weights for NaN and infinity."""
        stats = {**critic_stats, **generator_stats, **self._diagnostics(real, fake)}
        stats = self.world.mean(stats | {"finite weights": self._weights_finite().float()})
        scalars = {f"train/{key}": value.item() for key, value in stats.items()}
        if scalars.pop("train/finite weights") < 1:
            raise _Diverged("a weight or batch-norm statistic", self.iteration)
        if self.generator_scaler.is_enabled() and not math.isfinite(scalars["train/generator_grad_norm"]):
            # float16: the scaler skipped the step whose gradients overflowed (and lowered its scale), as it does
            # in the first steps from its initial scale; nothing diverged and there is no gradient to log
            del scalars["train/generator_grad_norm"]
        broken = next((name for name, value in scalars.items() if not math.isfinite(value)), None)
        if broken is not None:
            raise _Diverged(f"{broken} ({scalars[broken]})", self.iteration)
        if self.critic_scaler.is_enabled():
            scalars["train/loss_scale"] = self.critic_scaler.get_scale()
        self._log(scalars | {"time/train_minutes": self.train_seconds / 60})
        bar.note(self.iteration, f"{self.objective.estimate_name} {scalars['train/estimate']:.4f}")

    def _weights_finite(self) -> Tensor:
        """Whether every weight and buffer (batch norm's running statistics) of both networks is finite, as a
        device tensor (no synchronisation)."""
        return torch.stack([torch.isfinite(tensor).all() for module in (self.generator, self.critic)
                            for tensor in (*module.parameters(), *module.buffers())]).all()

    @property
    def last_good_iteration(self) -> int:
        """The iteration of the last state known good: the last checkpoint, or where :meth:`fit` started."""
        return self._last_good.get("iteration", self.iteration)

    def _snapshot(self) -> dict[str, Any]:
        """A copy of the state on the host: where a rollback returns to."""
        return _to_host(self.state_dict())

    def _roll_back(self, diverged: _Diverged) -> None:
        """Return to the last good state and continue with a fresh noise stream (and half the learning rates
        with ``on_nan = halve-lr``), or stop with a message after ``nan_retries`` rollbacks."""
        config = self.config
        self.rollbacks += 1
        back_to = self._last_good["iteration"]
        if config.on_nan == "stop" or self.rollbacks > config.nan_retries:
            done = f"after {self.rollbacks - 1} rollbacks " if self.rollbacks > 1 else ""
            halved = f"; halved {self.rollbacks - 1} times, it reached {config.lr * self.lr_scale:g}"
            remedy = "lower --lr (lr= in Python)" + (halved if config.on_nan == "halve-lr" else
                                                     ", or use --on-nan halve-lr (on_nan='halve-lr')")
            raise WganError(
                f"training diverged: {diverged.what} is not finite at iteration {diverged.iteration} {done}"
                f"(last good state: iteration {back_to}). The learning rate ({config.lr:g}) is likely too high for "
                f"this model and objective{' in float16' if config.precision == 'fp16' else ''}: {remedy}")
        rollbacks, lr_scale = self.rollbacks, self.lr_scale * (0.5 if config.on_nan == "halve-lr" else 1.0)
        self.load_state_dict(_to_host(self._last_good))  # a copy: the CPU optimisers take its tensors as theirs
        self.rollbacks, self.lr_scale = rollbacks, lr_scale
        self.stream.generator.manual_seed(config.seed + FRESH_NOISE_SEED_STEP * rollbacks)
        if self.run is not None:
            self.run.rewind(back_to)  # its files, and the history it shares with the trainer
        else:
            drop_rows_after(self.history, back_to)
        if self.world.is_writer:
            print(f"wgan: warning: {diverged.what} is not finite at iteration {diverged.iteration}: rolled back to "
                  f"iteration {back_to}, continuing with a fresh noise stream"
                  + (f" and learning rate x{lr_scale:g}" if lr_scale != 1 else "")
                  + f" (rollback {rollbacks} of at most {config.nan_retries})", file=sys.stderr)

    def _set_learning_rate(self, lr: float) -> None:
        for optimizer in (self.generator_optimizer, self.critic_optimizer):
            optimizer.set_lr(lr * self.lr_scale)

    def _log(self, scalars: dict[str, float]) -> None:
        """Record a row: in the run folder, or in memory without one; on the writing rank only."""
        if self.run is not None:
            self.run.log(self.iteration, scalars)
        elif self.world.is_writer:
            self.history.append({"iteration": self.iteration, **scalars})

    def _evaluate_and_save(self) -> None:
        """Evaluate, log, and checkpoint (latest; best by FD or exact W1 when this is the lowest so far). A state
        whose weights or running statistics are not finite, or whose evaluation is not (generated samples, the
        estimate or a score: weights finite but so large that the critic overflows), is neither logged nor
        saved: the run rolls back instead."""
        finite = bool(self._weights_finite().item())  # each rank's own: batch norm's statistics are per rank
        scalars, broken = {}, None
        if finite and self.evaluator is not None:
            try:
                with self.world.by_itself(self.generator, self.critic):
                    scalars = self.evaluator(self.iteration, self.average.module if self.average else None)
            except SamplesNotFinite:
                broken = "the evaluation's generated samples"
            broken = broken or next((f"eval/{name} ({value})" for name, value in scalars.items()
                                     if not math.isfinite(value)), None)
        evaluation_broken, weights_broken = self.world.agree(broken is not None, not finite)  # every rank rolls back
        if weights_broken:
            raise _Diverged("a weight or batch-norm statistic", self.iteration)
        if evaluation_broken:
            raise _Diverged(broken or "rank 0's evaluation", self.iteration)
        if scalars:
            self._log({f"eval/{key}": value for key, value in scalars.items()})
        score = best_score(scalars)
        improved = score < self.best_score
        self.best_score = min(self.best_score, score)
        self._save(improved)

    def _save(self, improved: bool) -> None:
        """Checkpoint best when ``improved``, then latest, on the writing rank; remember the state as good once
        latest is written (a write that fails leaves the last good state the one on disk, which a full disk's
        message names). Best goes first: latest records the best score so far, and a process killed between the
        two writes must not leave a latest whose best was never written (a resume would not write it again
        unless a later evaluation beat it). The state is copied to the host once, for the checksums, the files and
        the rollback alike (on a GPU, each of them copied it from the device)."""
        state = _to_host(self.state_dict())
        if self.run is not None:
            if improved:
                self.run.save_checkpoint(state, "best")
            self.run.save_checkpoint(state, "latest")
        self._last_good = state


@contextmanager
def buffers_kept(module: nn.Module) -> Iterator[None]:
    """``module``'s buffers (batch norm's running statistics) as they were before the block, once it ends."""
    kept = [(buffer, buffer.clone()) for buffer in module.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in kept:
                buffer.copy_(value)


class _Diverged(Exception):
    """NaN or infinity in ``what`` at ``iteration``: the run rolls back (see :meth:`Trainer._roll_back`)."""

    def __init__(self, what: str, iteration: int):
        super().__init__(what)
        self.what, self.iteration = what, iteration


def _to_host(value: Any) -> Any:
    """A copy of a (nested) state on the host."""
    if isinstance(value, Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {key: _to_host(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_host(item) for item in value)
    return copy.deepcopy(value)
