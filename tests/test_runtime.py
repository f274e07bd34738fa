"""Environments, workers and fault containment, with real workers in real environments."""
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw.runtime import envs, protocol
from pooling_xfw.runtime.client import WorkerFailure, WorkerPool
from pooling_xfw.runtime.envs import BACKENDS

X16 = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
EXPECTED_FRAMEWORK = {"mxnet": "1.9.1", "pytorch": "2.13.0", "tensorflow": "2.21.0",
                      "paddle": "3.3.1"}


def _pin(backend: str, package: str) -> str:
    for line in envs.requirements(backend).read_text().splitlines():
        if line.startswith(package + "=="):
            return line.split("==")[1]
    raise AssertionError(f"{package} is not pinned for {backend}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_worker_reports_the_pinned_framework_and_numpy(pool, backend):
    hello = pool.start([backend])[backend]
    assert hello.framework_version.startswith(EXPECTED_FRAMEWORK[backend])
    assert hello.numpy_version == _pin(backend, "numpy")
    result = px.compare(X16, 2, backends=[backend], pool=pool).results[backend]
    assert result.framework_version == hello.framework_version


def test_mxnet_runs_on_numpy_older_than_1_24(pool):
    major, minor = map(int, pool.start(["mxnet"])["mxnet"].numpy_version.split(".")[:2])
    assert (major, minor) < (1, 24)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int64", "uint16"])
@pytest.mark.parametrize("backend", ["mxnet", "pytorch"])
def test_npy_round_trip_across_numpy_versions(pool, backend, dtype):
    x = (np.arange(60).reshape(3, 4, 5) - 30).astype(dtype)[:, ::2, ::-1]  # not contiguous
    reply, arrays = pool.worker(backend).request({"op": "echo"}, [x, x.T])
    assert reply["status"] == "ok"
    for sent, back in zip([x, x.T], arrays):
        assert back.dtype == sent.dtype and back.shape == sent.shape
        np.testing.assert_array_equal(back, sent)


def test_wire_format_refuses_pickles():
    with pytest.raises(ValueError):
        protocol.encode({}, [np.array([object()], dtype=object)])


# --- fault containment ---------------------------------------------------------------------------

@pytest.fixture
def hook_pool(monkeypatch):
    """A separate pool whose workers accept the fault-injection hooks."""
    monkeypatch.setenv("POOLING_XFW_TEST_HOOKS", "1")
    with WorkerPool() as workers:
        yield workers


def _others_agree(pool, failing):
    others = [b for b in BACKENDS if b != failing]
    result = px.compare(X16, 3, padding=1, stride=2, backends=others, pool=pool)
    assert all(r.status == "agree" for r in result.results.values()), result.results


def test_missing_environment_is_unavailable_with_the_fix(tmp_path, monkeypatch, pool):
    monkeypatch.setenv("POOLING_XFW_ENVS", str(tmp_path / "nowhere"))
    for backend in ("mxnet", "pytorch", "tensorflow"):  # keep paddle on its real interpreter
        monkeypatch.setenv(f"POOLING_XFW_PYTHON_{backend.upper()}",
                           str(envs.PROJECT_ROOT / ".." / "not-a-python"))
    with WorkerPool() as fresh:
        result = px.compare(X16, 2, pool=fresh)
    paddle = result.results.pop("paddle")
    assert paddle.status == "unavailable" and "envs create --backends paddle" in paddle.detail
    for name, outcome in result.results.items():
        assert outcome.status == "unavailable", (name, outcome)
        assert "not-a-python" in outcome.detail
    assert not result.ok


def test_a_broken_interpreter_is_unavailable(tmp_path, monkeypatch):
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'import sys; sys.exit(\"no torch here\")'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("POOLING_XFW_PYTHON_PYTORCH", str(fake))
    with WorkerPool(start_timeout=60) as fresh:
        outcome = px.compare(X16, 2, backends=["pytorch"], pool=fresh).results["pytorch"]
    assert outcome.status == "error" and "exited with status 1" in outcome.detail


def test_worker_killed_mid_call_is_an_error_then_restarts(hook_pool):
    hook_pool.start(BACKENDS)
    worker = hook_pool.worker("tensorflow")
    pid = worker.hello.pid
    threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()
    with pytest.raises(WorkerFailure, match="killed by SIGKILL while computing"):
        worker.request({"op": "test-hook", "action": "sleep", "seconds": 30}, timeout=20)
    _others_agree(hook_pool, "tensorflow")
    again = px.compare(X16, 2, backends=["tensorflow"], pool=hook_pool).results["tensorflow"]
    assert again.status == "agree" and hook_pool.worker("tensorflow").hello.pid != pid


def test_segfault_is_an_error_and_others_are_unaffected(hook_pool):
    hook_pool.start(BACKENDS)
    with pytest.raises(WorkerFailure, match="killed by SIGSEGV"):
        hook_pool.worker("paddle").request({"op": "test-hook", "action": "segfault"})
    _others_agree(hook_pool, "paddle")


def test_hang_past_the_timeout_is_an_error_then_restarts(hook_pool):
    hook_pool.start(["mxnet"])
    worker = hook_pool.worker("mxnet")
    worker.send({"op": "test-hook", "action": "sleep", "seconds": 60})
    started = time.monotonic()
    with pytest.raises(WorkerFailure, match=r"timed out after 1 s"):
        worker.receive(timeout=1)
    assert time.monotonic() - started < 10
    assert not worker.alive()
    assert px.compare(X16, 2, backends=["mxnet"], pool=hook_pool).results["mxnet"].status == "agree"


def test_compare_reports_a_hang_as_error(hook_pool):
    hook_pool.start(["pytorch"])
    hook_pool.worker("pytorch").send({"op": "test-hook", "action": "sleep", "seconds": 60})
    # the worker is busy with the sleep; compare's request queues behind it and times out
    outcome = px.compare(X16, 2, backends=["pytorch"], pool=hook_pool,
                         timeout=1).results["pytorch"]
    assert outcome.status == "error" and "timed out" in outcome.detail


@pytest.mark.parametrize("backend", BACKENDS)
def test_framework_error_is_one_line_with_the_frameworks_message(hook_pool, backend):
    hook_pool.start([backend])
    reply, _ = hook_pool.worker(backend).request(
        {"op": "test-hook", "action": "framework-error"}, [X16])
    assert reply["status"] == "error" and reply["kind"] == "BackendError"
    assert reply["message"].startswith(f"{backend}: ") and "\n" not in reply["message"]


def test_invalid_arguments_fail_before_any_backend_runs():
    with pytest.raises(px.PoolingError, match="^mode: got 'mean'"):
        px.compare(X16, 2, "mean", pool=WorkerPool())
    with pytest.raises(px.PoolingError, match="^backend: got 'jax'"):
        px.compare(X16, 2, backends=["jax"], pool=WorkerPool())


# --- environments ------------------------------------------------------------------------------

def test_envs_root_is_overridable(monkeypatch, tmp_path):
    monkeypatch.setenv("POOLING_XFW_ENVS", str(tmp_path))
    assert envs.env_dir("paddle") == tmp_path / "paddle"


def test_a_changed_pin_changes_only_that_fingerprint(monkeypatch, tmp_path):
    before = {b: envs.fingerprint(b) for b in BACKENDS}
    changed = tmp_path / "requirements"
    changed.mkdir()
    for backend in BACKENDS:
        text = envs.requirements(backend).read_text()
        (changed / f"{backend}.txt").write_text(text + ("# bump\n" if backend == "paddle" else ""))
    monkeypatch.setattr(envs, "REQUIREMENTS_DIR", changed)
    after = {b: envs.fingerprint(b) for b in BACKENDS}
    assert [b for b in BACKENDS if before[b] != after[b]] == ["paddle"]


def test_envs_create_reuses_current_environments_in_seconds():
    started = time.monotonic()
    statuses = envs.create(BACKENDS, progress=lambda *a: None)
    assert [s.state for s in statuses] == ["ready"] * 4
    assert time.monotonic() - started < 5


def test_every_framework_is_pinned():
    for backend, package in [("mxnet", "mxnet"), ("pytorch", "torch"),
                             ("tensorflow", "tensorflow-cpu"), ("paddle", "paddlepaddle")]:
        assert _pin(backend, package)


def test_in_process_fast_path_when_the_framework_is_already_imported(tmp_path):
    """In the PyTorch environment, with torch imported: no worker, the same result."""
    import subprocess

    script = tmp_path / "here.py"
    script.write_text(
        "import numpy as np, torch, pooling_xfw as px\n"
        "from pooling_xfw.runtime.client import WorkerPool\n"
        "x = -np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)\n"
        "with WorkerPool() as pool:\n"
        "    here = px.compare(x, 3, 'avg', padding=1, backends=['pytorch'], pool=pool)\n"
        "    assert not pool._workers, 'a worker was started'\n"
        "    there = px.compare(x, 3, 'avg', padding=1, backends=['pytorch'], pool=pool,\n"
        "                       inprocess=False)\n"
        "    assert pool._workers\n"
        "a, b = here.results['pytorch'], there.results['pytorch']\n"
        "assert (a.status, a.max_abs_diff, a.framework_version, a.how) == "
        "(b.status, b.max_abs_diff, b.framework_version, b.how), (a, b)\n"
        "assert np.array_equal(a.output, b.output) and a.status == 'agree'\n"
        "print('ok')\n")
    proc = subprocess.run([envs.interpreter("pytorch"), str(script)], capture_output=True,
                          text=True, env=envs.quiet_env(), timeout=300)
    assert proc.stdout.strip().endswith("ok"), proc.stdout + proc.stderr


def test_a_backend_runs_on_an_interpreter_the_user_already_has(tmp_path, monkeypatch):
    """POOLING_XFW_PYTHON_<BACKEND>: any interpreter with the framework (here a wrapper around
    the managed one, standing in for a user's own conda env) is used as it is."""
    own = tmp_path / "my-python"
    own.write_text(f"#!/bin/sh\nexec {envs.interpreter('mxnet')} \"$@\"\n")
    own.chmod(0o755)
    monkeypatch.setenv("POOLING_XFW_PYTHON_MXNET", str(own))
    assert envs.interpreter("mxnet") == str(own)
    assert envs.inspect("mxnet").state == "ready"
    with WorkerPool() as fresh:
        outcome = px.compare(X16, 3, padding=1, stride=2, backends=["mxnet"],
                             pool=fresh).results["mxnet"]
        assert fresh.worker("mxnet").python == str(own)
    assert outcome.status == "agree" and outcome.framework_version == "1.9.1"
