"""Shared fixtures: one pool of warm backend workers for the whole session.

The backend tests run the real frameworks in their own environments (``make test`` builds
them); a missing environment is a failure, never a skip.
"""
import contextlib

import pytest

from pooling_xfw.runtime.client import WorkerPool
from pooling_xfw.runtime.envs import BACKENDS


@contextlib.contextmanager
def started(names, fix: str = "run `make envs`"):
    """A pool with the workers of ``names`` started, and their hellos; one that could not
    start fails the test with ``fix`` (never a skip)."""
    with WorkerPool() as workers:
        hellos = workers.start(list(names))
        missing = {b: str(h) for b, h in hellos.items() if isinstance(h, Exception)}
        assert not missing, f"backend workers could not start ({fix}): {missing}"
        yield workers, hellos


@pytest.fixture(scope="session")
def pool():
    with started(BACKENDS) as (workers, _):
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
