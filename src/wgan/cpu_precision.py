"""Whether this CPU multiplies in bf16 and float16 with instructions of its own, through oneDNN.

oneDNN runs bf16 products on AVX-512 BF16 and AMX, and float16 ones on AVX-512 FP16 and AMX-FP16. On a CPU with
neither (AVX2 alone), torch computes them in a fallback that converts every operand: on a 2-core AMD EPYC with
AVX2 (2026-12-06) a 2048x2048 product took 64 s in bf16 against 0.33 s in float32, and training ran 14 to 50
times slower in bf16 than in float32 (the toy 18-20 times, DCGAN 32 WGAN-GP 50 times), and oneDNN's fused bf16
products (:mod:`wgan.models.penalised_loss`) cannot be made at all.
"""

from __future__ import annotations

import functools

import torch

SUPPORT_CHECKS = {"bf16": "_is_mkldnn_bf16_supported", "fp16": "_is_mkldnn_fp16_supported"}  # torch.ops.mkldnn


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
