"""Shared test fixtures."""

import os

os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")  # read as torch loads: c10d's warnings of a store connection
# retried on a loaded machine (with stack traces) are not the output of the tests that compare a process's stderr
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import HealthCheck, settings

# The fuzz tests' sizes (tests/test_fuzz.py): 100 cases a property by default, 2000 with --hypothesis-profile=full.
# Registered here, before pytest reads --hypothesis-profile; no deadline: a case's time depends on the machine.
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("full", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def pytest_configure(config):
    """Under pytest-xdist (``-n``, as pyproject.toml sets), each worker process gets its share of the cores, and
    so do the processes it starts (``OMP_NUM_THREADS``): two workers of two threads each on CI's two cores would
    oversubscribe OpenMP and run several times slower."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        threads = max(1, (os.cpu_count() or 1) // int(workers))
        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests on one torch thread (the experiments' quick sizes are timed that way)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session", autouse=True)
def classifier_cache(tmp_path_factory):
    """Trained classifiers (the image scores) go to a temporary cache, not the user's ~/.cache/wgan: one that the
    xdist workers share (the cache's files are written atomically), so each classifier is trained once."""
    base = tmp_path_factory.getbasetemp()
    cache = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "wgan-cache"
    cache.mkdir(exist_ok=True)
    patch = pytest.MonkeyPatch()
    patch.setenv("WGAN_CACHE_DIR", str(cache))
    yield
    patch.undo()
