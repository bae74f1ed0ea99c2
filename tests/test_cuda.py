"""The CUDA path, on a machine with a GPU: ``pytest -m cuda`` (benchmarks/gpu_check.sh runs it).

Deselected by default (pyproject.toml): CI has no GPU. These tests ask what only a GPU can answer: that the
training steps never make the host wait for the device (torch.cuda's sync debug mode turns any synchronising
call into an error), that TF32 follows its setting, and that compiled and float16 training run there.
"""

from __future__ import annotations

import pytest
import torch

import wgan
from wgan.api import _assemble
from wgan.config import make_config

pytestmark = pytest.mark.cuda
SMALL = dict(width=16, depth=2, batch_size=32, eval_samples=200, log_every=1000, eval_every=1000, device="cuda")
DATA = {"points": dict(data="8gaussians"), "images": dict(data="digits", model="dcgan", width=8)}


def _no_host_waits(trainer, steps: int = 3) -> None:
    trainer.critic_step()  # first calls make their lazy state (the scaler's scale, cuBLAS handles)
    trainer.generator_step()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(steps):
            trainer.critic_step()
            trainer.generator_step()
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("kind", list(DATA))
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_wgan_gp_steps_never_wait_for_the_host(kind, precision):
    config = make_config(algorithm="wgan-gp", precision=precision, **SMALL, **DATA[kind])
    _no_host_waits(_assemble(config, lambda: None, scores=False))


@pytest.mark.parametrize("kind", list(DATA))
@pytest.mark.parametrize("precision", ["fp32", "bf16"])  # fp16 with RMSProp reads its inf check on the host
def test_wgan_steps_never_wait_for_the_host(kind, precision):
    config = make_config(algorithm="wgan", precision=precision, **SMALL, **DATA[kind])
    _no_host_waits(_assemble(config, lambda: None, scores=False))


@pytest.mark.parametrize("tf32", [True, False])
def test_tf32_follows_its_setting(tf32):
    _assemble(make_config(tf32=tf32, **SMALL), lambda: None, scores=False)
    assert torch.backends.cuda.matmul.allow_tf32 is tf32 and torch.backends.cudnn.allow_tf32 is tf32


def test_the_python_api_leaves_the_callers_tf32_switches_as_they_were():
    torch.set_float32_matmul_precision("highest")  # the caller's full float32, and a run that takes TF32
    torch.backends.cudnn.allow_tf32 = False
    wgan.train(iterations=1, write=False, progress=False, tf32=True, **SMALL)
    assert torch.get_float32_matmul_precision() == "highest" and torch.backends.cudnn.allow_tf32 is False


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_a_run_trains_on_the_gpu_and_its_checkpoint_loads_on_the_cpu(tmp_path, precision):
    run = wgan.train(iterations=4, precision=precision, out=str(tmp_path), name=precision, progress=False,
                     **dict(SMALL, eval_every=2))
    assert next(run.generator.parameters()).is_cuda
    assert all(torch.isfinite(torch.tensor(row["eval/w1"])) for row in run.history if "eval/w1" in row)
    loaded = wgan.load_run(tmp_path / precision, checkpoint="latest", device="cpu")  # its stream is CUDA's
    assert loaded.iteration == 4 and loaded.sample(10).shape == (10, 2)
    on_the_gpu = wgan.load_run(tmp_path / precision, checkpoint="latest", device="cuda")
    assert abs(on_the_gpu.sample(10, seed=3) - loaded.sample(10, seed=3)).max() < 1e-3  # the same noise
    resumed = wgan.resume(tmp_path / precision, iterations=6, device="cpu", progress=False)
    assert resumed.iteration == 6 and not next(resumed.generator.parameters()).is_cuda


@pytest.mark.parametrize("algorithm", ["wgan-gp", "wgan"])  # WGAN: RMSProp's compiled step, rate and counts on the GPU
def test_compiled_training_on_the_gpu_computes_what_the_plain_modules_compute(algorithm):
    settings = dict(SMALL, iterations=3, tf32=False, algorithm=algorithm, lr_decay="linear", warmup=False,
                    **DATA["images"])
    plain = wgan.train(write=False, progress=False, **settings)
    compiled = wgan.train(write=False, progress=False, compile=True, **settings)
    for a, b in zip(plain.critic.parameters(), compiled.critic.parameters()):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-5)
