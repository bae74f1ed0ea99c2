"""Training throughput of a configuration, beside the machine's measured matmul peak.

    python benchmarks/throughput.py --config toy --precision bf16
    python benchmarks/throughput.py --config dcgan32 --precision fp32 --window 40 --warmup 10
    python benchmarks/throughput.py --config toy --against reference     # beside the reference loop
    python benchmarks/throughput.py --algorithm wgan --data mnist --set data_dir=../shared/data/mnist
    torchrun --standalone --nproc_per_node 2 benchmarks/throughput.py --config toy     # 2 processes

Named configurations (--config): ``toy`` (WGAN-GP, MLP 512x3, batch 256), ``dcgan32`` and ``dcgan64`` (WGAN with
the official DCGAN at 32x32 and 64x64, batch 64), ``dcgan32-gp`` (WGAN-GP with the DCGAN critic, no batch norm in
it) and ``resnet32`` (WGAN-GP with its ResNet, batch 64); the image ones train on the built-in 8x8 digits
resized, which costs what any data of that size costs. The warm-up schedule is off so that every iteration is
alike.

``--against reference`` also times the reference loop of the configuration (:mod:`wgan.reference_loops`: the
published code's structure, on copies of the same initial models with torch's own layers in the default memory
layout), its windows alternating with ours in the same process, and prints both rates and their ratio.
``--against torch-layers`` times our trainer beside itself with torch's convolutions in place of the DCGAN layers
of :mod:`wgan.models.fast_convs` (the dense layers as matrix products, the image-side layers by space-to-depth,
in bf16 the stride-2 layers onto and from 4x4 maps and the weight gradients as matrix products).

Prints generator iterations/s (median of the timed windows after a warm-up; with ``--against``, the ratio is the
median of the ratios of the rounds' adjacent windows), the FLOPs of one generator iteration
(matmul and convolution FLOPs, forward and backward, counted over one real iteration), the matmul peak of this
machine in the same dtype (a large square product, torch's matmul or on the CPU oneDNN's, whichever is faster,
measured in the same process) and the fraction of that peak the training reaches. Under torchrun, each rank trains
its share of every batch; the figures are rank 0's, and the share of an iteration that the gradient all-reduces take
is measured by timing all-reduces of the same sizes alone. ``--json FILE`` appends the figures as one JSON line.
Nothing here is asserted: speed is reported, not tested.
"""

from __future__ import annotations

import copy
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

import wgan
from wgan.api import _assemble
from wgan.cpu_precision import emulated
from wgan.distributed import exit_process, joined
from wgan.errors import WganError
from wgan.models.fast_convs import torch_layers_
from wgan.models.penalised_loss import _onednn_product
from wgan.reference_loops import reference_loop
from wgan.trainer import Trainer

from command import Parser, append_line, count, positive_int, run, settings, writable

CONFIGS: dict[str, dict] = {
    "toy": dict(algorithm="wgan-gp", data="8gaussians"),
    "dcgan32": dict(algorithm="wgan", data="digits", model="dcgan", image_size=32),
    "dcgan32-gp": dict(algorithm="wgan-gp", data="digits", model="dcgan", image_size=32),
    "resnet32": dict(algorithm="wgan-gp", data="digits", model="resnet", image_size=32),
    "dcgan64": dict(algorithm="wgan", data="digits", model="dcgan", image_size=64),
}
LABELS = {"reference": "reference loop", "torch-layers": "wgan with torch's layers"}  # --against: what is timed
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def fused_linear_flops(x: torch.Tensor, weight: torch.Tensor, *args, out_val=None, **kwargs) -> int:
    """2 M K N for oneDNN's product with its bias and activation fused (the one-pass loss's dense layers in bf16:
    ``wgan.models.penalised_loss``), x (M, K) and weight (N, K); torch's FLOP formulas do not know it."""
    return 2 * x.numel() * weight.shape[0]


class FlopCount(TorchDispatchMode):
    """Matmul and convolution FLOPs of everything run inside it, by torch's FLOP formulas.

    ``FlopCounterMode`` itself tracks modules with hooks that break ``autograd.grad`` through a conv critic (the
    penalty's double backward); this counts the same operators without tracking modules.
    """

    def __init__(self):
        super().__init__()
        self.formulas = dict(FlopCounterMode(display=False).flop_registry)
        if torch.backends.mkldnn.is_available():  # where wgan.models.penalised_loss uses the fused product
            self.formulas[torch.ops.mkldnn._linear_pointwise] = fused_linear_flops
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = self.formulas.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def matmul_peak(dtype: torch.dtype, device: torch.device, size: int = 2048, repeats: int = 20) -> float:
    """FLOP/s of a size x size matrix product (2 size^3 FLOPs), best of a few timed runs; on the CPU the faster of
    torch's matmul and oneDNN's product, so that the peak is the machine's (in float32 torch multiplies through
    MKL, which oneDNN outran on a 2-core AMD EPYC with AVX-512: 209 GFLOP/s against 151, 2026-12-07)."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    products = [torch.matmul]
    if device.type == "cpu" and torch.backends.mkldnn.is_available():
        products.append(lambda x, y: _onednn_product(x, y.t()))  # the trainer's float32 dense products there
    best = 0.0
    for product in products:
        for _ in range(3):
            for _ in range(2):
                product(a, b)
            _wait(device)
            start = time.perf_counter()
            for _ in range(repeats):
                product(a, b)
            _wait(device)
            best = max(best, 2 * size**3 * repeats / (time.perf_counter() - start))
    return best


def machine_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model name from /proc/cpuinfo."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                platform.processor() or "cpu")


def _wait(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def all_reduce_seconds(trainer: Trainer, repeats: int = 20) -> float:
    """Seconds of the gradient all-reduces of one generator iteration (n_critic of the critic's gradients, one
    of the generator's), each timed alone on tensors of their size."""
    def timed(elements: int) -> float:
        buffer = torch.zeros(elements, device=trainer.device)
        dist.all_reduce(buffer)
        _wait(trainer.device)
        start = time.perf_counter()
        for _ in range(repeats):
            dist.all_reduce(buffer)
        _wait(trainer.device)
        return (time.perf_counter() - start) / repeats

    sizes = [sum(p.numel() for p in module.parameters()) for module in (trainer.critic, trainer.generator)]
    return trainer.config.n_critic * timed(sizes[0]) + timed(sizes[1])


def trainer_iterations(trainer: Trainer) -> Callable[[int], None]:
    """``count`` generator iterations of the trainer as training runs them (``Trainer.step``: a generator step,
    then n_critic critic steps; the warm-up is off here), without its logging and evaluations."""
    def iterate(count: int) -> None:
        for _ in range(count):
            trainer.step()
        _wait(trainer.device)

    return iterate


def reference_iterations(trainer: Trainer) -> Callable[[int], None]:
    """``count`` generator iterations of the reference loop of the trainer's configuration, on copies of its
    initial models as the published code builds them: torch's own convolution layers, in the default memory layout
    (channels-last weights and the layers of wgan.models.fast_convs are the trainer's choices)."""
    generator, critic = (torch_layers_(copy.deepcopy(module)).to(memory_format=torch.contiguous_format)
                         for module in (trainer.generator, trainer.critic))
    loop = reference_loop(trainer.config, generator, critic, trainer.sampler)

    def iterate(count: int) -> None:
        for _ in range(count):
            loop.iteration()
        _wait(trainer.device)

    return iterate


def torch_layer_iterations(config: wgan.Config, world) -> Callable[[int], None]:
    """``count`` generator iterations of a second trainer of the same configuration and initial models whose
    layers of :mod:`wgan.models.fast_convs` are torch's convolutions: what those layers gain."""
    trainer = _assemble(config, lambda: None, scores=False, world=world)
    torch_layers_(trainer.generator)
    torch_layers_(trainer.critic)
    return trainer_iterations(trainer)


def measure(loops: dict[str, Callable[[int], None]], window: int, warmup: int, windows: int) -> dict[str, dict]:
    """Each loop's rate (median of ``windows`` windows), its FLOPs per generator iteration and the time of its
    first iteration. The loops' windows alternate, in rounds of one window each whose order flips from one round
    to the next, so that a slow spell of a shared machine falls on all of them."""
    figures = {}
    for name, iterate in loops.items():
        started = time.perf_counter()
        iterate(1)
        first_iteration = time.perf_counter() - started  # includes torch.compile's compile time, when on
        iterate(warmup)
        # counted with compiled code run eagerly (the same FLOPs): counted under the dispatch mode, compiled
        # modules ran 15% slower afterwards (DCGAN 32 WGAN bf16 with --compile, 2026-12-04)
        with torch.compiler.set_stance("force_eager"), FlopCount() as counter:
            iterate(1)
        figures[name] = {"windows": [], "flops": counter.total, "first_iteration_seconds": first_iteration}
    for round_ in range(windows):
        for name, iterate in (loops.items() if round_ % 2 == 0 else reversed(loops.items())):
            start = time.perf_counter()
            iterate(window)
            figures[name]["windows"].append(window / (time.perf_counter() - start))
    for figure in figures.values():
        figure["iterations_per_second"] = statistics.median(figure["windows"])
    return figures


def results(trainer: Trainer, figures: dict[str, dict], peak: float) -> dict:
    """The figures as one flat record: ours, and the compared loop's beside it when one was timed."""
    config, world = trainer.config, trainer.world
    result = {
        "machine": machine_name(trainer.device), "threads": torch.get_num_threads(), "torch": torch.__version__,
        "processes": world.size, "algorithm": config.algorithm, "data": config.data, "model": config.model,
        "image_size": config.image_size, "batch_size": config.batch_size, "n_critic": config.n_critic,
        "precision": config.precision, "compile": config.compile, "matmul_peak_gflops": peak / 1e9,
    }
    for name, figure in figures.items():
        prefix = "" if name == "wgan" else f"{name}_"
        rate, flops = figure["iterations_per_second"], figure["flops"]  # flops: this rank's share of a batch
        result |= {f"{prefix}iterations_per_second": rate, f"{prefix}windows": figure["windows"],
                   f"{prefix}first_iteration_seconds": figure["first_iteration_seconds"],
                   f"{prefix}gflop_per_iteration_per_process": flops / 1e9,
                   f"{prefix}achieved_gflops_per_process": rate * flops / 1e9,
                   f"{prefix}fraction_of_peak": rate * flops / peak}
    against = next(iter(figures.keys() - {"wgan"}), None)  # the loop compared with, if any
    if against:
        rounds = zip(figures["wgan"]["windows"], figures[against]["windows"])  # each round's two windows, adjacent
        result |= {"against": against, "speedup": statistics.median(ours / theirs for ours, theirs in rounds)}
    if world.size > 1:
        seconds = all_reduce_seconds(trainer)
        result |= {"all_reduce_seconds_per_iteration": seconds,
                   "all_reduce_share": seconds * result["iterations_per_second"]}
    return result


def report(result: dict) -> None:
    print(f"machine: {result['machine']}, {result['threads']} threads x {result['processes']} process(es), "
          f"torch {result['torch']}")
    print(f"config: {result['algorithm']} on {result['data']}, {result['model']}, image size {result['image_size']}, "
          f"batch {result['batch_size']}, n_critic {result['n_critic']}, {result['precision']}"
          + (", compiled" if result["compile"] else ""))
    print(f"matmul peak ({result['precision']}): {result['matmul_peak_gflops']:.0f} GFLOP/s")
    against = result.get("against")
    for prefix, name in (("", "wgan"), (f"{against}_", LABELS.get(against))):
        if f"{prefix}iterations_per_second" not in result:  # nothing compared with
            continue
        print(f"{name}: {result[f'{prefix}iterations_per_second']:.2f} generator iterations/s (windows: "
              f"{', '.join(f'{r:.2f}' for r in result[f'{prefix}windows'])}); "
              f"{result[f'{prefix}gflop_per_iteration_per_process']:.2f} GFLOP per iteration (per process); "
              f"{result[f'{prefix}achieved_gflops_per_process']:.0f} GFLOP/s, "
              f"{result[f'{prefix}fraction_of_peak']:.0%} of the peak; first iteration "
              f"{result[f'{prefix}first_iteration_seconds']:.1f} s")
    if "speedup" in result:
        print(f"wgan / {LABELS[against]}: {result['speedup']:.2f}x (median of the rounds' ratios)")
    if "all_reduce_share" in result:
        print(f"gradient all-reduces: {1000 * result['all_reduce_seconds_per_iteration']:.1f} ms per iteration, "
              f"{result['all_reduce_share']:.0%} of it (timed alone)")


def main() -> None:
    parser = Parser(__doc__)
    parser.add_argument("--config", choices=tuple(CONFIGS), help="a named configuration (see above)")
    parser.add_argument("--algorithm", help="default: the configuration's, else wgan-gp")
    parser.add_argument("--data", help="default: the configuration's, else 8gaussians")
    parser.add_argument("--precision", default="fp32", choices=tuple(DTYPES))
    parser.add_argument("--compile", action="store_true", help="torch.compile the forward passes")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--window", type=positive_int, default=60, help="generator iterations per timed window")
    parser.add_argument("--windows", type=positive_int, default=3, help="timed windows per loop; with --against, many "
                        "short windows make the ratio robust to a shared machine's changing speed")
    parser.add_argument("--warmup", type=count, default=20, help="untimed generator iterations first")
    parser.add_argument("--json", type=Path, help="append the figures to this JSON-lines file")
    parser.add_argument("--against", choices=tuple(LABELS), help="also time, windows alternating with ours, the "
                        "reference loop of the configuration (wgan.reference_loops) or our trainer with torch's "
                        "convolutions for the DCGAN layers of wgan.models.fast_convs, and print the ratio")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="other settings, each value read as JSON where it can be (numbers, true), else "
                        "as text, e.g. --set model=dcgan batch_size=64 data_dir=../shared/data/mnist")
    args = parser.parse_args()

    writable(args.json)
    chosen = dict(CONFIGS.get(args.config, {}))
    chosen |= {key: value for key, value in (("algorithm", args.algorithm), ("data", args.data)) if value}
    chosen |= settings(args.set, own={"precision": "give --precision", "compile": "give --compile",
                                      "device": "give --device",
                                      "warmup": "it is off, so that every timed iteration is alike"})
    config = wgan.make_config(**{"algorithm": "wgan-gp", **chosen}, precision=args.precision,
                              compile=args.compile, device=args.device, warmup=False)
    with joined() as world:
        trainer = _assemble(config, lambda: None, scores=False, world=world)
        if slow := emulated(config.precision, trainer.device):  # its matmul peak alone took an hour
            raise WganError(f"{slow}, so that its timings here measure that emulation: time --precision fp32")
        loops = {"wgan": trainer_iterations(trainer)}
        if args.against == "reference":
            loops["reference"] = reference_iterations(trainer)
        elif args.against == "torch-layers":
            loops["torch-layers"] = torch_layer_iterations(config, world)
        figures = measure(loops, args.window, args.warmup, args.windows)
        result = results(trainer, figures, matmul_peak(DTYPES[config.precision], trainer.device))
        result["config"] = args.config
    if world.is_writer:
        report(result)
        if args.json:
            append_line(args.json, result)


if __name__ == "__main__":
    run(main)
    exit_process(0)  # a rank under torchrun: not through the interpreter's teardown, where gloo may abort it
