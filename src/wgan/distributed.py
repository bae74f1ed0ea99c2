"""Training on several processes with torch.distributed: which process this is, and what it asks of the others.

Launch with PyTorch's own launcher, one process per GPU (or a few per CPU machine)::

    torchrun --standalone --nproc_per_node 4 -m wgan train --preset mnist-wgan-gp --data-dir DIR
    torchrun --nnodes 2 --node_rank 0 --nproc_per_node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
        -m wgan train ...           # and --node_rank 1 on the second machine
    wgan train --nproc 2 ...        # the same as torchrun --standalone --nproc_per_node 2 (:mod:`wgan.launcher`)

How the work is shared among the W processes ("ranks"):

- ``batch_size`` is the global batch B. Each rank draws every batch at size B from the run's one random stream,
  seeded alike on every rank, and keeps its B / W rows (:class:`~wgan.randomness.RandomStream`): the ranks
  together see the real samples, noise and interpolation weights of one process.
- DistributedDataParallel averages the ranks' gradients. Each rank's loss is a mean over its rows, so the
  average is the mean over the global batch: the gradient of one process, up to the order of floating-point
  sums. Every rank then takes the same optimiser step, clipping and learning rate, so the parameters stay
  equal on all ranks; logged scalars are averaged over the ranks (:meth:`World.mean`).
- Batch norm normalises over a rank's own B / W rows. With ``sync_batchnorm`` the layers become
  ``nn.SyncBatchNorm`` and normalise over the global batch, as one process does (CUDA only: torch's
  SyncBatchNorm runs on GPUs).
- Rank 0 alone writes the run folder, logs, evaluates and checkpoints; a resumed run is read by rank 0 and
  handed to the others. A checkpoint is the same whatever the number of ranks that wrote it.
- Rank 0's clock decides when a time budget is spent, for all, and a stop signal that reaches any rank stops
  all of them at the end of the same iteration (:meth:`World.agree`).
- A rank that dies: torchrun's agent sees it and stops the other ranks of the machine (``--max-restarts 0``,
  the default), and the ranks of other machines lose their connection to it and stop with a message; the
  run continues from its last checkpoint with ``wgan train --resume``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from .errors import WganError
from .exits import OUTCOME_FILE, tell_launcher
from .processes import parent_ending
from .randomness import Shard
from .signals import STOP_SIGNALS, as_ctrl_c, signals_handled

T = TypeVar("T")


class ParallelModule(DistributedDataParallel):
    """DistributedDataParallel that also answers for its module's own attributes (``critic.input_gradient``,
    ``critic.piecewise_linear``), so that the objectives treat a wrapped critic like the plain one.

    ``penalised_loss`` (:mod:`wgan.models.penalised_loss`), where the module has one, is called through
    DistributedDataParallel's forward pass (:meth:`through_forward`): it finds the weight gradient without
    calling the module's ``forward``, and DDP averages over the ranks only the gradients of what its own forward
    pass computed.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "module":  # not set yet: the wrapper is still being built
                raise
            attribute = getattr(self.module, name)
            return self.through_forward(attribute) if name == "penalised_loss" else attribute

    def through_forward(self, method: Callable[..., T]) -> Callable[..., T]:
        """``method`` of the module called as DDP's forward pass: DDP's forward runs the module's ``forward``,
        set to ``method`` for that call (the module's own ``forward``, e.g. a compiled one, is put back after),
        so that the backward pass of what it returns averages the gradients over the ranks as any step does."""
        def call(*args: Any, **kwargs: Any) -> T:
            module = self.module
            own = vars(module).get("forward")  # set on the instance by torch.compile's wrapper, else absent
            module.forward = method
            try:
                return self(*args, **kwargs)
            finally:
                if own is None:
                    del module.forward
                else:
                    module.forward = own
        return call


@dataclass
class World:
    """This process's place among the ranks of a run; one process alone by default."""

    rank: int = 0
    size: int = 1
    control: Any = None  # a gloo process group for host-side messages (no device synchronisation)
    alone: Any = None  # a process group of rank 0 alone, for what rank 0 computes by itself

    @property
    def is_writer(self) -> bool:
        """Whether this rank writes the run folder, logs, evaluates and checkpoints (rank 0)."""
        return self.rank == 0

    @property
    def shard(self) -> Shard:
        return Shard(self.rank, self.size)

    def wrap(self, module: nn.Module) -> nn.Module:
        """The module as the training steps call it: in DistributedDataParallel when there are several ranks.

        Buffers are not broadcast at each forward pass: the only ones are batch norms' running statistics, which
        training does not use (they are the evaluation's, and rank 0's are saved).
        """
        if self.size == 1:
            return module
        # A conv weight with one input channel kept channels-last has strides (C*k*k, 1, k, 1), and autograd hands
        # back its gradient as (k*k, k*k, k, 1): the same memory order spelt two ways. DDP's stride check sees two
        # layouts and copies the gradient into its bucket (a few KB); its warning about it, raised in the backward
        # passes, says nothing a user can act on. Set for the process here, where it trains on several ranks, and
        # not as wgan is imported (a filter in the caller's process).
        warnings.filterwarnings("ignore", "Grad strides do not match bucket view strides", UserWarning)
        device = next(module.parameters()).device
        with warnings.catch_warnings():  # its successor, forward_sync_buffers=False, still syncs buffers at init
            warnings.filterwarnings("ignore", "`broadcast_buffers` is deprecated", FutureWarning)
            return ParallelModule(module, device_ids=[device] if device.type == "cuda" else None,
                                  broadcast_buffers=False)

    @contextmanager
    def by_itself(self, *modules: nn.Module) -> Iterator[None]:
        """Let this rank run ``modules`` alone (rank 0's evaluations): their SyncBatchNorm layers normalise over
        what this rank gives them instead of waiting for the other ranks."""
        layers = [layer for module in modules for layer in module.modules() if isinstance(layer, nn.SyncBatchNorm)]
        groups = [layer.process_group for layer in layers]
        for layer in layers:
            layer.process_group = self.alone
        try:
            yield
        finally:
            for layer, group in zip(layers, groups):
                layer.process_group = group

    def mean(self, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
        """Each scalar averaged over the ranks, in one all-reduce (identity for one process)."""
        if self.size == 1 or not tensors:
            return tensors
        stacked = torch.stack([value.float() for value in tensors.values()])
        dist.all_reduce(stacked)
        return dict(zip(tensors, (stacked / self.size).unbind()))

    def agree(self, rank_0_says: bool, any_says: bool) -> tuple[bool, bool]:
        """(rank 0's ``rank_0_says``, whether any rank's ``any_says`` is true), the same on every rank: one
        host-side all-reduce, no device synchronisation (e.g. rank 0's clock on a time budget, and a stop
        signal that reached some ranks)."""
        if self.size == 1:
            return rank_0_says, any_says
        box = torch.tensor([rank_0_says and self.rank == 0, any_says], dtype=torch.uint8)
        dist.all_reduce(box, op=dist.ReduceOp.MAX, group=self.control)
        return bool(box[0]), bool(box[1])

    def share(self, value: T) -> T:
        """Rank 0's ``value`` (any picklable object, e.g. a checkpoint), on every rank."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0, group=self.control)
        return box[0]

    def require_as_rank_0(self, settings: dict[str, Any]) -> None:
        """Raise :class:`WganError` on a rank whose ``settings`` differ from rank 0's: ranks given different
        settings (a script that varies them, nodes started with other flags) would wait on each other for ever
        in collectives that do not match."""
        first = self.share(settings)
        differ = [name for name, value in settings.items() if first.get(name) != value]
        if differ:
            raise WganError("settings differ from rank 0's (" + ", ".join(
                f"{name} {settings[name]!r} against {first.get(name)!r}" for name in differ) + "): give every process "
                "of a run the same settings")

    def all_succeed(self, action: Callable[[], T]) -> T:
        """Run ``action`` on every rank; when it raises :class:`WganError` on any, raise it on every rank.

        So a problem found on one rank (a missing file on one machine, an existing run folder on rank 0) stops
        all of them together instead of leaving the others waiting; the message names the ranks it came from
        when they are not all alike or not rank 0's alone, and rank 0 prints it (see :func:`report`).
        """
        try:
            result, message = action(), None
        except WganError as error:
            result, message = None, str(error)
        if self.size == 1:
            if message is not None:
                raise WganError(message)
            return result
        messages: list[str | None] = [None] * self.size
        dist.all_gather_object(messages, message, group=self.control)
        failed = {rank: text for rank, text in enumerate(messages) if text is not None}
        if failed:
            if set(failed) == {0} or (len(failed) == self.size and len(set(failed.values())) == 1):
                raise WganError(failed[0])  # rank 0's alone (the writer's checks: a folder there already) or all's
            raise WganError("; ".join(f"on rank {rank}: {text}" for rank, text in failed.items()))
        return result


# How a collective fails when another rank has gone: gloo's transport raises a plain RuntimeError with one of these.
_LOST_PEER_MESSAGES = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "Timed out")


def lost_peer(error: BaseException) -> str | None:
    """What ``error`` says when it means that another rank has gone (stopped, or stopped answering), in a few
    words; None when this rank itself went wrong."""
    text = str(error)
    known = next((message for message in _LOST_PEER_MESSAGES if message in text), None)
    if known is None and isinstance(error, dist.DistError):
        known = (text.strip().splitlines() or [type(error).__name__])[0]
    return known


def normalised_batch(batch_size: int, world_size: int, sync_batchnorm: bool) -> int:
    """The rows a batch-norm critic normalises over in training: each rank's share of the batch, or the whole
    batch when batch norm is synchronised; evaluations read the critic over batches of that size."""
    return batch_size if sync_batchnorm else batch_size // world_size


def world_size_from_environment() -> int:
    """The number of ranks torchrun started (``WORLD_SIZE``), 1 outside torchrun; a WORLD_SIZE that is not a
    whole number of at least 1 is a :class:`WganError`."""
    text = os.environ.get("WORLD_SIZE", "1")
    if not (_is_whole_number(text) and int(text) >= 1):
        raise WganError(f"the environment's WORLD_SIZE {text!r} is not a number of processes of at least 1: unset "
                        "it, or start the processes with torchrun or `wgan train --nproc N`, which set it")
    return int(text)


def _check_rank_environment(size: int) -> None:
    """torchrun's other variables, as a process of ``size`` > 1 needs them: RANK from 0 to size - 1 (one beyond
    waited for peers that never come), and where rank 0 listens."""
    rank = os.environ.get("RANK", "")
    if not (_is_whole_number(rank) and int(rank) < size):
        raise WganError(f"the environment's RANK {rank!r} is not a rank of WORLD_SIZE {size} (0 to {size - 1}): "
                        "start the processes with torchrun or `wgan train --nproc N`, which set both")
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if not os.environ.get(name):
            raise WganError(f"WORLD_SIZE is {size} but the environment has no {name}: start the processes with "
                            "torchrun or `wgan train --nproc N`, which set it")
    port = os.environ["MASTER_PORT"]
    if not (_is_whole_number(port) and 1 <= int(port) <= 65535):
        raise WganError(f"the environment's MASTER_PORT {port!r} is not a port number (1 to 65535): start the "
                        "processes with torchrun or `wgan train --nproc N`, which set it")


def _is_whole_number(text: str) -> bool:
    """Whether ``text`` is written in the digits 0-9 alone (``str.isdigit`` also takes "²", which int() refuses)."""
    return text.isascii() and text.isdigit()


def exit_process(status: int) -> NoReturn:
    """End the process with ``status``: a rank under torchrun now, its output flushed, without the interpreter's
    teardown; a process alone as usual (``sys.exit``).

    torch's gloo backend sometimes aborts a rank in that teardown, after its work is done and its process group
    destroyed: "terminate called without an active exception" (what a C++ thread destroyed while still joinable
    prints), SIGABRT, no Python frame left; in about 3 of 100 two-rank torchrun launches on a 2-core Intel Xeon
    (2026-12-03). torchrun then reports the finished rank as failed and stops the others. For a rank whose files
    are closed the teardown has nothing left to do.
    """
    if os.environ.get("RANK") == "0":  # what rank 0 ended with, for the launcher
        tell_launcher(OUTCOME_FILE, str(status))
    if os.environ.get("WORLD_SIZE", "1") == "1":
        sys.exit(status)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def launched_by_wgan() -> bool:
    """Whether this process is a rank of `wgan train --nproc` (:func:`wgan.launcher.launch`), which reports a
    failure itself."""
    return bool(os.environ.get(OUTCOME_FILE))


def prints_errors() -> bool:
    """Whether this process reports user errors: rank 0, or a process outside torchrun (where a RANK left in the
    environment means nothing). Every rank finds the same problems in the settings, and
    :meth:`World.all_succeed` gathers the rest to rank 0."""
    return os.environ.get("RANK", "0") == "0" or os.environ.get("WORLD_SIZE", "1") == "1"


# How long a rank other than 0 waits for rank 0 to have reported the error they share (see :func:`report`).
REPORT_WAIT_SECONDS = 30.0


def report(message: str, of_the_run_folder: bool = False) -> None:
    """Print ``message`` (a user error or a stop, found alike on every rank) to stderr once for all the ranks.

    Rank 0 prints it and then says so in torchrun's store; a rank that is not 0 waits for that word before it
    goes on to exit. torchrun stops every rank once one has exited, so without the wait a rank that found the
    error first (rank 0 may still be importing) could get rank 0 stopped before it had printed anything. A rank
    that hears nothing within :data:`REPORT_WAIT_SECONDS` (rank 0 found no error, or is gone) prints the message
    itself, unless it is ``of_the_run_folder``: where a stopped run's checkpoint is, which rank 0 alone knows (the
    others' line named the folder None) and says whenever training stops. A Ctrl-C ends the wait as if nothing
    was heard (an error found on this rank alone would otherwise go unsaid). Outside torchrun the process just
    prints it.
    """
    key = f"wgan/reported/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}"  # one key per attempt
    if prints_errors():
        print(message, file=sys.stderr, flush=True)  # first: nothing may stand between rank 0 and its line
        store = _launcher_store()
        if store is not None:
            try:
                store.set(key, "1")
            except (RuntimeError, dist.DistError):  # the agent has gone: no rank is left waiting for the word
                pass
        return
    store = _launcher_store()
    try:
        heard = store is not None and _heard(store, key, time.monotonic() + REPORT_WAIT_SECONDS)
    except KeyboardInterrupt:  # a Ctrl-C passed on by the launcher: the wait ends, and an error may be this rank's
        heard = False
    if not (heard or of_the_run_folder):
        print(message, file=sys.stderr, flush=True)


def _heard(store: dist.Store, key: str, deadline: float) -> bool:
    """Whether ``key`` appears in ``store`` before ``deadline`` (polled: ``Store.wait`` would print c10d's own
    timeout warnings); False too when the store goes, with rank 0's agent."""
    try:
        while not store.check([key]):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
    except (RuntimeError, dist.DistError):
        return False
    return True


def _launcher_store() -> dist.Store | None:
    """A client of the key-value store that torchrun's agent keeps for its workers, None when there is none (or
    this process is alone, or the agent has gone).

    The store's address is tried first with a plain connection, refused at once where the agent has gone (its
    launcher killed), and none is tried while the agent is ending (:func:`~wgan.processes.parent_ending`: a rank
    stopped by the agent's death may get there before its socket closes): torch's store client would connect,
    wait, and try again for a minute, printing c10d's stack traces.
    """
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True" or world_size_from_environment() == 1:
        return None
    try:
        address = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
        if parent_ending() or not _answers(address):
            return None
        return dist.TCPStore(*address, is_master=False, timeout=timedelta(seconds=REPORT_WAIT_SECONDS))
    except (KeyError, ValueError, RuntimeError, dist.DistError):
        return None


def pick_device(name: str, world: World) -> torch.device:
    """``auto`` is CUDA when available, else CPU; an unavailable CUDA device is a user error. With several
    ranks, each takes the GPU of its ``LOCAL_RANK`` (one GPU per rank). A GPU is given with its index (``cuda``
    is the current one): torch.device("cuda") is not equal to the "cuda:0" that tensors report."""
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise WganError(f"device '{name}' was asked for but this machine has no CUDA GPU: use --device cpu "
                        "(device='cpu' in Python)")
    if name == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    if world.size == 1:
        index = int(name.partition(":")[2] or torch.cuda.current_device())
        if index >= torch.cuda.device_count():
            raise WganError(f"device '{name}' is not on this machine, which has {torch.cuda.device_count()} GPU(s): "
                            f"use cuda:0 to cuda:{torch.cuda.device_count() - 1}, or cuda for the first")
        return torch.device("cuda", index)
    if name not in ("auto", "cuda"):
        raise WganError(f"device '{name}' names one GPU, but with {world.size} processes each takes the GPU of "
                        "its LOCAL_RANK: use --device cuda")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if local_rank >= torch.cuda.device_count():
        raise WganError(f"LOCAL_RANK {local_rank} has no GPU of its own ({torch.cuda.device_count()} on this "
                        "machine): start at most that many processes per machine (--nproc_per_node)")
    return torch.device("cuda", local_rank)


def check_batch(batch_size: int, world_size: int, kept: bool = False, most: int = 16) -> None:
    """The global batch must split evenly over the ranks; ``kept``: the batch size is a resumed run's, which the
    number of processes must fit instead (the numbers offered go up to ``most``, what the launch may start)."""
    if batch_size % world_size == 0:
        return
    if kept:
        fitting = ", ".join(str(n) for n in range(1, min(batch_size, most) + 1) if batch_size % n == 0)
        raise WganError(f"the run's batch_size {batch_size} does not split over {world_size} processes, and a resume "
                        f"keeps it: resume on a number of processes that divides {batch_size}, such as {fitting}")
    raise WganError(f"batch_size {batch_size} does not split over {world_size} processes: choose a multiple "
                    f"of {world_size} (it is the global batch; each process takes batch_size / {world_size})")


def sync_batch_norm(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    """``module`` with its batch norms normalising over the global batch (``nn.SyncBatchNorm``)."""
    if world.size == 1:
        return module
    if device.type != "cuda":
        raise WganError("sync_batchnorm needs CUDA (torch's SyncBatchNorm runs on GPUs): on CPUs each process "
                        "normalises over its own share of the batch; leave --sync-batchnorm out")
    return nn.SyncBatchNorm.convert_sync_batchnorm(module)


@contextmanager
def joined() -> Iterator[World]:
    """The world of this process, from torchrun's environment: one process alone outside torchrun.

    Joins the process group unless the caller has already: NCCL for CUDA tensors and gloo for CPU tensors on a
    machine with GPUs (whichever device the settings pick), gloo alone otherwise; and a gloo group for host-side
    messages. It stays joined for the rest of the process, so that a script may train again: a group left and
    joined again under torchrun hung or failed in 5 of 8 scripts that trained three times (a later ``wgan.train``
    waited in ``init_process_group``, 2-core Intel Xeon, 2026-12-06).
    """
    size = world_size_from_environment()
    if size == 1:
        yield World()
        return
    with signals_handled(STOP_SIGNALS, as_ctrl_c):  # a stop signal while the processes meet: no run yet
        _end_with_the_launcher()
        created = not dist.is_initialized()
        if created:  # from torchrun's variables (a script that joined by other means has checked its own)
            _check_rank_environment(size)
            if torch.cuda.is_available():
                torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
            backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
            if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":  # torchrun's agents have met already
                dist.init_process_group(backend)
            else:
                rank = int(os.environ["RANK"])
                dist.init_process_group(backend, store=_met(size, rank), rank=rank, world_size=size)
        control = dist.group.WORLD if dist.get_backend() == "gloo" else dist.new_group(backend="gloo")
        alone = dist.new_group([0])
    yield World(dist.get_rank(), dist.get_world_size(), control, alone)
    # Together, once rank 0 has written its last file (after a failure: exits). A stop signal here is let pass by
    # the caller's handler (wgan.train's): one that the launcher passed on here cut rank 0 off from this rank.
    dist.barrier(group=control)


# How long processes started by hand wait for each other (torch's own default for gloo), and when they say so.
MEETING_MINUTES, MEETING_SAID_AFTER_SECONDS = 30, 10
MEETING_HANDSHAKE_SECONDS = 30  # how long a rank waits on what answers at rank 0's address (not rank 0: refused)


def _met(size: int, rank: int) -> dist.Store:
    """The store of processes started by hand (RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set without
    torchrun) once all ``size`` of them have come: rank 0 keeps it at MASTER_ADDR:MASTER_PORT.

    They wait for each other here, in Python, before torch's process group: there the wait is torch's, which a
    Ctrl-C does not reach and which says nothing for 30 minutes (a rank started alone looked hung). Here a
    process that waits says so after :data:`MEETING_SAID_AFTER_SECONDS`, and gives up after
    :data:`MEETING_MINUTES` with one line.
    """
    address = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    where = f"[{address[0]}]:{address[1]}" if ":" in address[0] else f"{address[0]}:{address[1]}"
    started, said = time.monotonic(), False

    def waited(what: str) -> None:
        nonlocal said
        waiting = time.monotonic() - started
        if waiting > MEETING_MINUTES * 60:
            raise WganError(f"rank {rank} of {size} waited {MEETING_MINUTES} minutes for {what} at {where}: start "
                            "every process with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE")
        if not said and waiting > MEETING_SAID_AFTER_SECONDS:
            print(f"wgan: rank {rank} of {size} is waiting for {what} at {where}: start every process with the "
                  "same MASTER_ADDR, MASTER_PORT and WORLD_SIZE, or stop this one with Ctrl-C", file=sys.stderr,
                  flush=True)
            said = True
        time.sleep(0.1)

    try:
        if rank == 0:
            store = dist.TCPStore(*address, size, is_master=True, wait_for_workers=False,
                                  timeout=timedelta(minutes=MEETING_MINUTES))
            store.set("wgan/world_size", str(size))
        else:
            while not _answers(address):  # torch's client would retry in C++, deaf to Ctrl-C, printing stack traces
                waited("rank 0")
            store = _store_client(address, size, rank, where)
            rank_0_size = int(store.get("wgan/world_size"))
            if rank_0_size != size:
                raise WganError(f"rank {rank} was started with WORLD_SIZE {size} and rank 0 with {rank_0_size}: give "
                                "every process the same WORLD_SIZE")
    except (RuntimeError, dist.DistError) as error:  # the port taken, or something else than rank 0 answers there
        what = "listen" if rank == 0 else "reach rank 0's store"
        raise WganError(f"rank {rank} cannot {what} at {where} ({str(error).strip().splitlines()[0][:200]}): give "
                        "every process a free MASTER_PORT, the same for all") from None
    store.add("wgan/met", 1)
    while store.add("wgan/met", 0) < size:
        waited("the other processes")
    return store


def _store_client(address: tuple[str, int], size: int, rank: int, where: str) -> dist.Store:
    """A client of rank 0's store at ``address``, made in a thread that this one waits for (a Ctrl-C reaches the
    wait): what answers there may be another program, which leaves torch's handshake waiting for ever."""
    made: dict[str, Any] = {}

    def connect() -> None:
        try:
            made["store"] = dist.TCPStore(*address, size, is_master=False,
                                          timeout=timedelta(seconds=MEETING_HANDSHAKE_SECONDS))
        except (RuntimeError, dist.DistError) as error:
            made["error"] = error

    thread = threading.Thread(target=connect, name="wgan-store-client", daemon=True)
    thread.start()
    thread.join(MEETING_HANDSHAKE_SECONDS)
    if "error" in made:
        raise made["error"]
    if "store" not in made:
        raise WganError(f"rank {rank}: what answers at {where} is not rank 0 (no reply in "
                        f"{MEETING_HANDSHAKE_SECONDS} s): give every process a free MASTER_PORT, the same for all")
    return made["store"]


def _answers(address: tuple[str, int]) -> bool:
    """Whether something listens at ``address`` (a plain connection, closed at once)."""
    try:
        socket.create_connection(address, timeout=1).close()
        return True
    except OSError:
        return False


PR_SET_PDEATHSIG = 1  # Linux's prctl option: the signal this process gets when its parent ends
LAUNCHER_ENDED = getattr(signal, "SIGRTMIN", None)  # (Linux) a real-time signal, which nothing else sends a rank


def _end_with_the_launcher() -> None:
    """Have Linux stop this rank with one SIGTERM when its parent ends (torchrun's agent, or `wgan train
    --nproc`): a launcher killed outright (SIGKILL, the out-of-memory killer) left its ranks training on their
    own, holding the run folder's lock. SIGTERM stops a training rank at the end of its iteration, after saving.

    Linux signals the rank as each thread of its parent ends, that is again as each further thread of a killed
    launcher ends (2 or 3 times within 95 ms, measured): a SIGTERM after the stop had been taken met its default
    action, and rank 0 ended before it said where its checkpoint is. So the parent's end comes as a signal of its
    own, passed on as one SIGTERM (:func:`_launcher_ended`), where this is the main thread (the only one that
    may set a handler; elsewhere, SIGTERM each time). Processes started by hand have no launcher: their parent (a
    shell, or init once it has gone) is left alone."""
    if not sys.platform.startswith("linux") or "TORCHELASTIC_RUN_ID" not in os.environ:
        return
    once = threading.current_thread() is threading.main_thread()
    if once:
        signal.signal(LAUNCHER_ENDED, _launcher_ended)
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, LAUNCHER_ENDED if once else signal.SIGTERM)
    if os.getppid() == 1:  # the parent ended before the request: nothing will send it
        os.kill(os.getpid(), signal.SIGTERM)


def _launcher_ended(number: int, frame: Any) -> None:
    """The launcher's first thread has ended: SIGTERM to this rank, once; the ends of its other threads are
    ignored."""
    signal.signal(LAUNCHER_ENDED, signal.SIG_IGN)
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, 0)
    os.kill(os.getpid(), signal.SIGTERM)
