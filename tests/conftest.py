"""Shared fixtures: one pool of warm backend workers for the whole session.

The backend tests run the real frameworks in their own environments (``make test`` builds
them); a missing environment is a failure, never a skip.
"""
import contextlib
import os
import subprocess
from pathlib import Path

import pytest

from pooling_xfw import registry
from pooling_xfw.runtime.client import WorkerPool

BACKENDS = registry.defaults()


def played_by(monkeypatch, backend: str, module: str) -> None:
    """``backend``'s framework played by ``module`` (one with a ``__version__``, ``json``) for
    one test: its declaration replaced, restored after."""
    import dataclasses

    declared = registry.get(backend)
    monkeypatch.setattr(registry, "_declared", {**registry._declared, backend: dataclasses.replace(
        declared, module=module)})


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


def run_in_backend_env(backend: str, code: str, tmp_path: Path) -> str:
    """Run ``code`` as a script under ``backend``'s interpreter, with this checkout and execnet
    (the toolkit's one dependency besides numpy, as a user's environment has it) importable:
    its stdout, asserted to end with ``ok``."""
    import execnet

    from pooling_xfw.runtime import envs

    script = tmp_path / "here.py"
    script.write_text(code)
    deps = tmp_path / "deps"
    deps.mkdir()
    (deps / "execnet").symlink_to(Path(execnet.__file__).parent)
    env = envs.quiet_env()
    env["PYTHONPATH"] += os.pathsep + str(deps)
    proc = subprocess.run([envs.interpreter(backend), str(script)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.stdout.strip().endswith("ok"), proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """A real sshd on 127.0.0.1 (``loopback.loopback_sshd``): an ssh config file whose host
    ``loopback.HOST`` logs in with a throwaway key."""
    from .loopback import loopback_sshd

    with loopback_sshd(tmp_path_factory.mktemp("sshd")) as config:
        yield config

