"""Training throughput of a configuration, beside the machine's measured matmul peak.

    python benchmarks/throughput.py --algorithm wgan-gp --precision fp32
    python benchmarks/throughput.py --algorithm wgan-gp --precision bf16
    python benchmarks/throughput.py --algorithm wgan --data mnist --set data_dir='"../shared/data/mnist"'

Prints generator iterations/s (median of 3 timed windows after a warm-up), the FLOPs of one generator
iteration (matmul and convolution FLOPs, forward and backward, counted by torch's FlopCounterMode over one
real iteration), the matmul peak of this machine in the same dtype (a large square matmul, measured in the same
process) and the fraction of that peak the training reaches. Nothing here is asserted: speed is reported, not
tested.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

import wgan
from wgan.api import _assemble


def matmul_peak(dtype: torch.dtype, device: torch.device, size: int = 2048, repeats: int = 20) -> float:
    """FLOP/s of a size x size matmul (2 size^3 FLOPs), best of a few timed runs."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    best = 0.0
    for _ in range(3):
        for _ in range(2):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algorithm", default="wgan-gp")
    parser.add_argument("--data", default="8gaussians")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--window", type=int, default=60, help="generator iterations per timed window")
    parser.add_argument("--warmup", type=int, default=20, help="untimed generator iterations first")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="other settings as JSON values, e.g. --set model='\"dcgan\"' batch_size=64")
    args = parser.parse_args()

    settings = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    config = wgan.make_config(algorithm=args.algorithm, data=args.data, precision=args.precision,
                              device=args.device, warmup=False, **settings)
    trainer = _assemble(config, lambda: None, scores=False)
    device = trainer.device

    def iterate(count: int) -> None:
        for _ in range(count):
            for _ in range(config.n_critic):
                trainer.critic_step()
            trainer.generator_step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    iterate(args.warmup)
    with FlopCounterMode(display=False) as counter:
        iterate(1)
    flops = counter.get_total_flops()
    rates = []
    for _ in range(3):
        start = time.perf_counter()
        iterate(args.window)
        rates.append(args.window / (time.perf_counter() - start))
    rate = statistics.median(rates)
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    peak = matmul_peak(dtype, device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"machine: {name}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"config: {config.algorithm} on {config.data}, {config.model} width {config.width}, depth {config.depth}, "
          f"image size {config.image_size}, batch {config.batch_size}, n_critic {config.n_critic}, "
          f"{config.precision}")
    print(f"generator iterations/s: {rate:.2f} (windows: {', '.join(f'{r:.2f}' for r in rates)})")
    print(f"GFLOP per generator iteration: {flops / 1e9:.1f}")
    print(f"achieved: {rate * flops / 1e9:.0f} GFLOP/s; matmul peak ({args.precision}): {peak / 1e9:.0f} GFLOP/s; "
          f"fraction of peak: {rate * flops / peak:.0%}")


if __name__ == "__main__":
    main()
