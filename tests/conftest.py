"""Shared fixtures: one pool of warm backend workers for the whole session.

The backend tests run the real frameworks in their own environments (``make test`` builds
them); a missing environment is a failure, never a skip.
"""
import pytest

from pooling_xfw.runtime.client import WorkerPool
from pooling_xfw.runtime.envs import BACKENDS


@pytest.fixture(scope="session")
def pool():
    with WorkerPool() as workers:
        started = workers.start(BACKENDS)
        missing = {b: str(h) for b, h in started.items() if isinstance(h, Exception)}
        assert not missing, f"backend workers could not start: {missing}"
        yield workers


@pytest.fixture(scope="module")
def hook_pool():
    """Workers that also accept the test hooks (a snippet run as printed, faults)."""
    import os

    os.environ["POOLING_XFW_TEST_HOOKS"] = "1"
    try:
        with WorkerPool() as workers:
            yield workers
    finally:
        del os.environ["POOLING_XFW_TEST_HOOKS"]
