"""Shared test fixtures."""

import pytest
import torch
from hypothesis import HealthCheck, settings

# The fuzz tests' sizes (tests/test_fuzz.py): 100 cases a property by default, 2000 with --hypothesis-profile=full.
# Registered here, before pytest reads --hypothesis-profile; no deadline: a case's time depends on the machine.
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("full", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests on one torch thread (the experiments' quick sizes are timed that way)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session", autouse=True)
def classifier_cache(tmp_path_factory):
    """Trained classifiers (the image scores) go to a temporary cache, not the user's ~/.cache/wgan."""
    patch = pytest.MonkeyPatch()
    patch.setenv("WGAN_CACHE_DIR", str(tmp_path_factory.mktemp("wgan-cache")))
    yield
    patch.undo()
