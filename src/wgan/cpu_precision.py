"""Which library multiplies fastest on this CPU: whether it multiplies in bf16 and float16 with instructions of its
own, through oneDNN, and whether oneDNN's float32 products beat MKL's (torch's matmul).

oneDNN runs bf16 products on AVX-512 BF16 and AMX, and float16 ones on AVX-512 FP16 and AMX-FP16. On a CPU with
neither (AVX2 alone), torch computes them in a fallback that converts every operand: on a 2-core AMD EPYC with
AVX2 (2026-12-06) a 2048x2048 product took 64 s in bf16 against 0.33 s in float32, and training ran 14 to 50
times slower in bf16 than in float32 (the toy 18-20 times, DCGAN 32 WGAN-GP 50 times), and oneDNN's fused bf16
products (:mod:`wgan.models.penalised_loss`) cannot be made at all.

In float32 torch multiplies through MKL. On an AMD CPU with AVX-512 oneDNN's float32 products ran faster than
MKL's (2-core AMD EPYC, Zen 4, 2026-12-07: a 2048x2048 product at 209 GFLOP/s against 151; the toy critic's
256x512 by 512x512 layer with its bias and ReLU in 0.64 ms against 0.81, its adjoint 201 GFLOP/s against 180).
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

SUPPORT_CHECKS = {"bf16": "_is_mkldnn_bf16_supported", "fp16": "_is_mkldnn_fp16_supported"}  # torch.ops.mkldnn
CPU_INFO = Path("/proc/cpuinfo")  # Linux's: the processor's vendor


@functools.cache
def runs_natively(precision: str) -> bool:
    """Whether oneDNN has this CPU's own instructions for the products of ``precision`` (fp32: always)."""
    if precision not in SUPPORT_CHECKS:
        return True
    return torch.backends.mkldnn.is_available() and getattr(torch.ops.mkldnn, SUPPORT_CHECKS[precision])()


def emulated(precision: str, device: torch.device) -> str | None:
    """What to tell a run in ``precision`` on ``device`` where this CPU has no instructions for its products (the
    remedy is the caller's to add), or None."""
    if device.type != "cpu" or runs_natively(precision):
        return None
    return (f"this CPU has no {precision} instructions (AVX-512 {precision.upper()} or AMX): torch emulates them, "
            f"many times slower than fp32 (training 14 to 50 times slower on an AVX2 CPU)")


@functools.cache
def onednn_multiplies_float32_faster() -> bool:
    """Whether oneDNN's float32 products beat MKL's on this CPU (the module's docstring): an AMD CPU with AVX-512,
    the kind where that was measured; elsewhere (an Intel CPU, whose MKL is its own vendor's, or AVX2 alone) torch's
    products stay."""
    if not torch.backends.mkldnn.is_available() or torch.backends.cpu.get_cpu_capability() != "AVX512":
        return False
    try:
        return "AuthenticAMD" in CPU_INFO.read_text()
    except OSError:  # not Linux
        return False
