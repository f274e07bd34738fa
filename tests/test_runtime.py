"""Environments, workers and fault containment, with real workers in real environments."""
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw.runtime import client, envs, pins as pin_files, transfer
from pooling_xfw.runtime.client import WorkerFailure, WorkerPool
from pooling_xfw import registry

BACKENDS = registry.defaults()

from .conftest import run_in_backend_env

X16 = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
EXPECTED_FRAMEWORK = {"mxnet": "1.9.1", "pytorch": "2.13.0", "tensorflow": "2.21.0",
                      "paddle": "3.3.1", "jax": "0.12.0.1", "onnxruntime": "1.32.0"}


def _pin(backend: str, package: str) -> str:
    for line in envs.requirements(backend).read_text().splitlines():
        if line.startswith(package + "=="):
            return line.split("==")[1]
    raise AssertionError(f"{package} is not pinned for {backend}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_worker_reports_the_pinned_framework_numpy_and_host(pool, backend):
    hello = pool.start([backend])[backend]
    assert hello.framework_version.startswith(EXPECTED_FRAMEWORK[backend])
    assert hello.numpy_version == _pin(backend, "numpy")
    assert hello.where == "this machine" and hello.local and hello.host
    result = px.compare(X16, 2, backends=[backend], pool=pool).results[backend]
    assert result.framework_version == hello.framework_version


def test_mxnet_runs_on_numpy_older_than_1_24(pool):
    major, minor = map(int, pool.start(["mxnet"])["mxnet"].numpy_version.split(".")[:2])
    assert (major, minor) < (1, 24)


# --- arrays across: inline, shared memory, every size ----------------------------------------------

SIZES = {  # name -> shape (float32 unless the dtype says otherwise)
    "empty spatial axis": (2, 3, 0, 5),
    "one element": (1,),
    "0-d (a global pooling of an (H, W) input, H and W dropped)": (),
    "exactly the inline limit": (transfer.INLINE_BYTES // 4,),
    "one past the inline limit": (transfer.INLINE_BYTES // 4 + 1,),
    "4 MiB in shared memory": (1, 16, 256, 256),
}


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int64", "uint16"])
@pytest.mark.parametrize("backend", ["mxnet", "pytorch"])  # numpy 1.23 and numpy 2
@pytest.mark.parametrize("size", list(SIZES), ids=str)
def test_arrays_round_trip_across_numpy_versions(pool, backend, dtype, size):
    count = int(np.prod(SIZES[size]))
    x = (np.arange(count) % 251 - 125).astype(dtype).reshape(SIZES[size])
    strided = (np.arange(60).reshape(3, 4, 5) - 30).astype(dtype)[:, ::2, ::-1]
    reply, arrays = pool.worker(backend).request({"op": "echo"}, [x, strided])
    assert reply["status"] == "ok"
    for sent, back in zip([x, strided], arrays):
        assert back.dtype == sent.dtype and back.shape == sent.shape
        np.testing.assert_array_equal(back, sent)


def test_pickles_are_refused_on_the_wire():
    with pytest.raises(ValueError, match="pickles are refused"):
        transfer.pack(np.array([object()], dtype=object))


def test_a_big_byte_order_swapped_input_arrives_as_numbers():
    x = np.arange(1 << 15, dtype=">f8").reshape(1, 1, 128, 256)
    back = transfer.receive(*_through_chunks(x))
    assert back.dtype == x.dtype and np.array_equal(back, x)


def _through_chunks(x):
    """``x`` sent as for a worker on another machine, into a list of messages."""

    class Recorder:
        sent = []

        def send(self, item):
            self.sent.append(item)

    descriptor, chunked = transfer.pack(x)
    recorder = Recorder()
    transfer.send_chunks(recorder, chunked)
    assert "chunks" in descriptor and len(recorder.sent) == descriptor["chunks"] + 1
    messages = iter(recorder.sent)
    return descriptor, lambda: next(messages)


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (1, 1, 128, 128), (1, 1, 128, 129),
                                   (8, 64, 112, 112)],
                         ids=["1 element", "exactly the old 64 KiB pipe edge", "past it",
                              "ResNet stem activation 8x64x112x112"])
def test_every_backend_agrees_at_every_size(pool, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    tiny = shape[-1] == 1  # one element: the window and stride of 1 are all there is
    for mode, window, kwargs in [("max", 3, dict(stride=2, padding=1)),
                                 ("avg", 2, dict(stride=2))]:
        result = px.compare(x, 1 if tiny else window, mode, pool=pool,
                            **({} if tiny else kwargs))
        assert result.ok, {b: r.detail for b, r in result.results.items()}


@pytest.mark.parametrize("shape,layout", [
    ((5, 3, 9, 8), "NCHW"), ((1, 7, 9, 8), "NCHW"), ((6, 9, 8), "NCHW"),
    ((5, 9, 8, 3), "NHWC"), ((9, 8, 3), "NHWC"),
], ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else v)
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_a_large_reference_in_blocks_gives_the_same_numbers(monkeypatch, shape, layout, mode):
    from pooling_xfw import blocks as in_blocks
    from pooling_xfw.reference import pool_geometry

    x = np.random.default_rng(2).standard_normal(shape)
    spec = px.make_spec(3, mode, stride=2, padding=1, layout=layout)
    whole = pool_geometry(x, px.resolve(spec, x.shape))
    monkeypatch.setattr(in_blocks, "REFERENCE_BLOCK_BYTES", 9 * 8 * 8 * 2)  # ~2 planes
    blocks = in_blocks.reference_in_blocks(x, px.resolve(spec, x.shape))
    assert blocks.dtype == whole.dtype and np.array_equal(blocks, whole)


def test_shared_memory_keeps_only_reusable_inputs_and_is_removed_on_close():
    """After each comparison no output file is left, and at most a few input files are kept
    to be written over by the next input of a similar size (beside the pool's compute slots);
    closing removes it all."""
    x = np.ones((2, 8, 64, 64), np.float32)
    y = np.ones((1, 1, 700, 700), np.float32)
    shared = client.SharedDir
    with WorkerPool() as fresh:
        kept = []
        for array in (x, x * 2, y, x * 3, y):
            result = px.compare(array, 2, backends=["pytorch", "paddle"], pool=fresh)
            assert result.ok and result.results["paddle"].output.max() == array.max()
            directory = Path(fresh.shared.path)
            slots = {Path(path).name for path in fresh.shared.slot_paths}  # the pool's own
            files = sorted(f for f in directory.iterdir() if f.name not in slots)
            assert all(f.name.startswith("in-") for f in files), files
            assert len(files) <= shared.KEEP_FILES
            assert sum(f.stat().st_size for f in files) <= shared.KEEP_BYTES
            kept.append({f.name for f in files})
        assert kept[0] == kept[1] and kept[2] == kept[4]  # written over, not made anew
    assert not directory.exists()


def test_pipelined_batch_equals_one_at_a_time(pool):
    rng = np.random.default_rng(1)
    cases = [dict(X=rng.standard_normal((1, 2, 7, 7)).astype(np.float32), pool_size=k,
                  mode=mode, stride=s, padding=k // 2)
             for k, mode, s in [(3, "max", 2), (2, "avg", 1), (3, "avg", 2), (1, "min", 1)] * 5]
    batch = px.compare_many(cases, pool=pool)
    assert len(batch) == len(cases)
    for case, together in zip(cases, batch):
        alone = px.compare(**case, pool=pool)
        np.testing.assert_array_equal(together.reference, alone.reference)
        for name in BACKENDS:
            assert together.results[name].status == alone.results[name].status == "agree"
            np.testing.assert_array_equal(together.results[name].output,
                                          alone.results[name].output)


def test_one_message_carries_a_batch_of_inline_shared_and_chunked_arrays(pool):
    """A batch of requests is one message each way; its arrays travel every way there is:
    inline, shared memory (a local worker) and chunks (a worker on another machine, here a
    worker given no shared memory)."""
    arrays = [np.arange(n, dtype=np.float32) for n in
              (1, transfer.INLINE_BYTES // 4, transfer.INLINE_BYTES // 4 + 1, 3 << 20)]
    pool.start(["pytorch"])
    chunked = client.Worker("pytorch", pool.worker("pytorch").spec, shared=None)
    chunked.start()
    try:
        chunked.wait_ready()
        for worker in (pool.worker("pytorch"), chunked):
            tickets = worker.send_batch([({"op": "echo"}, [a]) for a in arrays])
            for ticket, array in zip(tickets, arrays):
                _, (echoed,) = worker.receive(ticket=ticket)
                np.testing.assert_array_equal(echoed, array)
    finally:
        chunked.stop()


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


def _wrapper(tmp_path, name: str, body: str) -> str:
    script = tmp_path / name
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


def test_missing_environment_is_unavailable_with_the_fix(tmp_path, monkeypatch, pool):
    monkeypatch.setenv("POOLING_XFW_ENVS", str(tmp_path / "nowhere"))
    for backend in set(BACKENDS) - {"paddle"}:  # keep paddle on its real interpreter
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


def test_a_broken_interpreter_is_an_error_with_its_last_words(tmp_path, monkeypatch):
    fake = _wrapper(tmp_path, "python",
                    f"exec {sys.executable} -c 'import sys; sys.exit(\"no torch here\")'")
    monkeypatch.setenv("POOLING_XFW_PYTHON_PYTORCH", fake)
    with WorkerPool(start_timeout=60) as fresh:
        outcome = px.compare(X16, 2, backends=["pytorch"], pool=fresh).results["pytorch"]
    assert outcome.status == "error" and "exited with status 1" in outcome.detail
    assert "no torch here" in outcome.detail and "log: " in outcome.detail


def test_a_failures_last_words_are_this_runs_never_an_earlier_runs(tmp_path, monkeypatch):
    """The backend's log is shared by every run: a worker that says nothing before it dies gets
    no line of an earlier one's (/bin/ls complaining, then /bin/true exiting in silence)."""
    monkeypatch.setenv("POOLING_XFW_LOGS", str(tmp_path))
    details = []
    for python in ("/bin/ls", "/bin/true"):
        with WorkerPool(start_timeout=60) as fresh:
            details.append(px.compare(X16, 2, backends=["pytorch"], pool=fresh, gateways={
                "pytorch": f"popen//python={python}"}).results["pytorch"].detail)
    assert "/bin/ls: cannot access" in details[0], details[0]
    assert "exited with status 0 while starting; restarted" in details[1], details[1]
    assert "/bin/ls" not in details[1] and "cannot access" not in details[1], details[1]
    assert "/bin/ls: cannot access" in (tmp_path / "pytorch.log").read_text()  # still logged


def test_a_failures_last_words_are_its_own_when_runs_overlap(tmp_path, monkeypatch):
    """Two callers start a backend at the same time, their workers writing to the same log:
    each failure quotes its own worker's last words, never the other's."""
    monkeypatch.setenv("POOLING_XFW_LOGS", str(tmp_path))
    details: dict[str, list[str]] = {"/bin/ls": [], "/bin/true": []}

    def run(python):
        with WorkerPool(start_timeout=60) as fresh:
            details[python].append(px.compare(X16, 2, backends=["pytorch"], pool=fresh,
                                              gateways={"pytorch": f"popen//python={python}"}
                                              ).results["pytorch"].detail)

    for _ in range(4):
        threads = [threading.Thread(target=run, args=(p,)) for p in details]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert len(details["/bin/true"]) == 4 and len(details["/bin/ls"]) == 4
    assert all("/bin/ls" not in d and "cannot access" not in d for d in details["/bin/true"]), \
        details["/bin/true"]
    assert all("/bin/ls: cannot access" in d for d in details["/bin/ls"]), details["/bin/ls"]


def test_a_banner_before_python_is_an_error_not_a_length(tmp_path, monkeypatch):
    banner = _wrapper(tmp_path, "python",
                      f"echo 'Welcome to the cluster'\nexec {envs.interpreter('mxnet')} \"$@\"")
    monkeypatch.setenv("POOLING_XFW_PYTHON_MXNET", banner)
    with WorkerPool(start_timeout=60) as fresh:
        outcome = px.compare(X16, 2, backends=["mxnet", "paddle"], pool=fresh).results
    assert outcome["mxnet"].status == "error"
    assert "before Python started" in outcome["mxnet"].detail
    assert "elcome to the cluster" in outcome["mxnet"].detail
    assert outcome["paddle"].status == "agree"


def test_an_interpreter_that_hangs_at_start_is_started_once_per_run(tmp_path, monkeypatch):
    """Two interpreters that never start: each is launched once for the whole run (not once per
    case), and each failure names the start timeout the user set, 3 s, though the second was
    left less of it to wait (the first had used it up): never the time that was left."""
    for backend in ("tensorflow", "mxnet"):
        monkeypatch.setenv(f"POOLING_XFW_PYTHON_{backend.upper()}", _wrapper(
            tmp_path, f"{backend}-python", f"echo started >> {tmp_path}/{backend}.launches\n"
                                           f"sleep 600"))
    cases = [px.cases.by_name(n) for n in ("pool2d-max", "pool2d-avg", "maxpool-k3")]
    from pooling_xfw import report

    with WorkerPool(start_timeout=3) as fresh:
        doc = report.build(cases, ["tensorflow", "mxnet", "pytorch"], pool=fresh)
        leftover = [p.pid for b in ("tensorflow", "mxnet")
                    for p in fresh._workers[b]._launcher.processes]
    for backend in ("tensorflow", "mxnet"):
        assert (tmp_path / f"{backend}.launches").read_text() == "started\n"
        assert doc["backends"][backend]["status"] == "error"
        assert "did not start within 3 s (POOLING_XFW_START_TIMEOUT)" in doc["backends"][
            backend]["detail"], doc["backends"][backend]["detail"]
    for case in doc["cases"]:
        assert case["results"]["tensorflow"]["status"] == "error"
        assert case["results"]["mxnet"]["status"] == "error"
        assert case["results"]["pytorch"]["status"] == "agree"
    assert not any(_alive(pid) for pid in leftover)


@pytest.mark.parametrize("variable", ["POOLING_XFW_START_TIMEOUT", "POOLING_XFW_CALL_TIMEOUT"])
def test_a_timeout_longer_than_a_lock_can_wait_is_forever(variable, monkeypatch):
    """1e300 s is past what a lock can wait (``threading.TIMEOUT_MAX``): it waits that long,
    which is forever, instead of overflowing."""
    monkeypatch.setenv(variable, "1e300")
    with WorkerPool() as fresh:
        outcome = px.compare(X16, 2, backends=["pytorch"], pool=fresh).results["pytorch"]
    assert outcome.status == "agree", outcome.detail


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is not alive
        return stat.read().split(")")[-1].split()[0] != "Z"


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


def test_worker_killed_in_the_middle_of_a_large_transfer(hook_pool):
    hook_pool.start(["pytorch", "mxnet"])
    pid = hook_pool.worker("pytorch").hello.pid
    big = np.ones((8, 64, 224, 224), np.float32)  # 100 MB: the worker is still mapping it
    threading.Timer(0.05, os.kill, (pid, signal.SIGKILL)).start()
    outcome = px.compare(big, 2, stride=2, backends=["pytorch", "mxnet"], pool=hook_pool)
    assert outcome.results["pytorch"].status == "error"
    assert "SIGKILL" in outcome.results["pytorch"].detail
    assert outcome.results["mxnet"].status == "agree"
    assert px.compare(X16, 2, backends=["pytorch"], pool=hook_pool).ok


def test_a_worker_dying_inside_a_batch_fails_the_whole_batch_then_restarts(hook_pool):
    hook_pool.start(["mxnet"])
    worker = hook_pool.worker("mxnet")
    tickets = worker.send_batch([({"op": "echo"}, [X16]),
                                 ({"op": "test-hook", "action": "die", "code": 7}, []),
                                 ({"op": "echo"}, [X16])])
    for ticket in tickets:  # the replies travel together: none came
        with pytest.raises(WorkerFailure, match="exited with status 7"):
            worker.receive(ticket=ticket)
    assert px.compare(X16, 2, backends=["mxnet"], pool=hook_pool).ok


def test_segfault_is_an_error_and_others_are_unaffected(hook_pool):
    hook_pool.start(BACKENDS)
    with pytest.raises(WorkerFailure, match="killed by SIGSEGV"):
        hook_pool.worker("paddle").request({"op": "test-hook", "action": "segfault"})
    _others_agree(hook_pool, "paddle")


@pytest.mark.parametrize("action,reason", [
    ("garbage", "broke the connection"),
    ("huge-garbage", "timed out after 5 s"),  # the frame claims 1.6 GB: never completes
    ("truncate", "exited with status 3"),
], ids=["a frame of no known type", "a frame announcing 1.6 GB", "half a frame then death"])
def test_a_worker_that_breaks_the_stream_is_an_error_for_it_alone(hook_pool, action, reason):
    hook_pool.start(BACKENDS)
    worker = hook_pool.worker("mxnet")
    worker.send({"op": "test-hook", "action": action})
    outcome = px.compare(X16, 2, pool=hook_pool, timeout=5)  # queued behind the hook
    assert outcome.results["mxnet"].status == "error"
    assert reason in outcome.results["mxnet"].detail
    assert all(outcome.results[b].status == "agree" for b in BACKENDS if b != "mxnet")
    assert px.compare(X16, 2, backends=["mxnet"], pool=hook_pool).ok  # restarted


def test_hang_past_the_timeout_is_an_error_then_restarts(hook_pool):
    hook_pool.start(["mxnet"])
    worker = hook_pool.worker("mxnet")
    worker.send({"op": "test-hook", "action": "sleep", "seconds": 60})
    started = time.monotonic()
    with pytest.raises(WorkerFailure, match=r"timed out after 1 s"):
        worker.receive(timeout=1)
    assert time.monotonic() - started < 60  # it did not wait for the hang to end
    assert not worker.alive()
    assert px.compare(X16, 2, backends=["mxnet"], pool=hook_pool).results["mxnet"].status == "agree"


def test_timeout_in_the_middle_of_a_reply(hook_pool):
    hook_pool.start(["paddle"])
    with pytest.raises(WorkerFailure, match=r"timed out after 2 s while sending"):
        hook_pool.worker("paddle").request({"op": "test-hook", "action": "half-reply"},
                                           timeout=2)
    assert px.compare(X16, 2, backends=["paddle"], pool=hook_pool).ok


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
    assert not re.search(r"(\w+): \1: ", reply["message"]), reply["message"]  # named once
    assert "Traceback" not in reply["message"], reply["message"]  # what failed, not where


def test_invalid_arguments_fail_before_any_backend_runs():
    with pytest.raises(px.PoolingError, match="^mode: got 'mean'"):
        px.compare(X16, 2, "mean", pool=WorkerPool())
    with pytest.raises(px.PoolingError, match="^backend: got 'caffe'"):
        px.compare(X16, 2, backends=["caffe"], pool=WorkerPool())
    with pytest.raises(px.PoolingError, match=r"^backends: got \[\]"):
        px.compare(X16, 2, backends=[], pool=WorkerPool())
    with pytest.raises(px.PoolingError, match="^gateways\\['pytorch'\\]: got 'ftp=x'"):
        px.compare(X16, 2, gateways={"pytorch": "ftp=x"}, pool=WorkerPool())


@pytest.mark.parametrize("value", ["abc", "nan", "0", "-5", "inf"])
@pytest.mark.parametrize("name", ["POOLING_XFW_CALL_TIMEOUT", "POOLING_XFW_START_TIMEOUT"])
def test_a_bad_timeout_is_a_usage_error(monkeypatch, capsys, name, value):
    from pooling_xfw.cli import main

    monkeypatch.setenv(name, value)
    assert main(["compare", "--shape", "1,1,4,4", "--kernel", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{name}: got {value!r}" in err and "> 0" in err


def test_local_workers_share_the_cores_unless_told(monkeypatch):
    """Four frameworks computing at once get a share of the cores each, not a thread per core
    each; ``POOLING_XFW_WORKER_THREADS`` sets it (PyTorch asked for its own count)."""
    cores = len(os.sched_getaffinity(0))
    code = "import torch\ny = x * 0 + torch.get_num_threads()"
    monkeypatch.setenv("POOLING_XFW_TEST_HOOKS", "1")
    for setting, expected in ((None, max(1, cores // 4)), (2, 2)):
        if setting:
            monkeypatch.setenv("POOLING_XFW_WORKER_THREADS", str(setting))
        with WorkerPool() as fresh:
            assert fresh.start(["pytorch"])["pytorch"].threads == str(expected)
            _, (threads,) = fresh.worker("pytorch").request(
                {"op": "test-hook", "action": "run-code", "code": code}, [X16])
            assert threads.flat[0] == min(expected, cores)  # PyTorch caps it at the cores


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_thread_count_is_a_usage_error(monkeypatch, capsys, value):
    from pooling_xfw.cli import main

    monkeypatch.setenv("POOLING_XFW_WORKER_THREADS", value)
    assert main(["compare", "--shape", "1,1,4,4", "--kernel", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"POOLING_XFW_WORKER_THREADS: got {value!r}" in err


# --- signals, leftovers, the caller's site-packages ---------------------------------------------------

_HANGING_CALLER = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    from pooling_xfw.runtime import client
    pool = client.WorkerPool()
    pool.start(["mxnet", "pytorch"])
    print(pool.worker("mxnet").hello.pid, pool.worker("pytorch").hello.pid, pool.shared.path,
          flush=True)
    client.install_signal_handlers()
    pool.worker("mxnet").request({"op": "test-hook", "action": "sleep", "seconds": 600})
""")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
                         ids=lambda s: signal.Signals(s).name)
def test_a_signal_to_the_caller_kills_every_worker(tmp_path, signum):
    script = tmp_path / "caller.py"
    script.write_text(_HANGING_CALLER)
    env = dict(os.environ, POOLING_XFW_TEST_HOOKS="1",
               PYTHONPATH=str(envs.PROJECT_ROOT))
    caller = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              env=env)
    mxnet_pid, pytorch_pid, shared = caller.stdout.readline().split()
    time.sleep(0.5)  # the request is in flight
    caller.send_signal(signum)
    caller.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(int(p)) for p in (mxnet_pid, pytorch_pid)):
        time.sleep(0.1)
    assert not _alive(int(mxnet_pid)) and not _alive(int(pytorch_pid))
    assert not Path(shared).exists()


def test_a_run_leaves_no_temporary_directories(tmp_path):
    """Nothing of the run is left in the temp dir or shared memory (other runs on the machine
    may come and go meanwhile: only this run's names count, its pid in them)."""
    before = set(os.listdir("/tmp")) | set(os.listdir(client.shm_root()))
    proc = subprocess.Popen([sys.executable, "-m", "pooling_xfw", "compare", "--shape",
                             "2,16,64,64", "--kernel", "2", "--backends", "pytorch,mxnet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(envs.PROJECT_ROOT)))
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    after = set(os.listdir("/tmp")) | set(os.listdir(client.shm_root()))
    left = [n for n in after - before if n.startswith("pooling-xfw") and (
        f"-{proc.pid}-" in n or not n.split("-")[2].isdigit())]
    assert not left


def test_an_installed_copy_does_not_put_its_site_packages_on_the_workers_path(tmp_path):
    """A non-editable install beside numpy 2 in the caller's path: MXNet (numpy 1.23) still
    imports in its worker, because the worker gets the toolkit shipped, not the path."""
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(site), str(envs.PROJECT_ROOT)], check=True, timeout=300)
    assert not (site / "adapters").exists(), "a top-level `adapters` is another project's name"
    assert (site / "pooling_xfw" / "adapters" / "requirements" / "mxnet.txt").is_file()
    numpy_site = Path(np.__file__).resolve().parents[1]
    code = ("import numpy as np, pooling_xfw as px; "
            "from pooling_xfw.runtime import envs; assert envs.requirements('mxnet').is_file(); "
            "assert 'site' in px.__file__, px.__file__; "
            "r = px.compare(np.arange(16.).reshape(1, 1, 4, 4), 2, backends=['mxnet']); "
            "print(r.results['mxnet'].status, r.results['mxnet'].detail)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path,
                          env=dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{numpy_site}"))
    assert proc.stdout.startswith("agree"), proc.stdout + proc.stderr


# --- environments ------------------------------------------------------------------------------

def test_envs_root_is_overridable(monkeypatch, tmp_path):
    monkeypatch.setenv("POOLING_XFW_ENVS", str(tmp_path))
    assert envs.env_dir("paddle") == tmp_path / f"paddle-{envs.fingerprint('paddle')[:8]}"


def test_a_changed_pin_changes_only_that_fingerprint(monkeypatch, tmp_path):
    before = {b: envs.fingerprint(b) for b in BACKENDS}
    changed = tmp_path / "requirements"
    changed.mkdir()
    for backend in BACKENDS:
        text = envs.requirements(backend).read_text()
        (changed / f"{backend}.txt").write_text(text + ("# bump\n" if backend == "paddle" else ""))
    monkeypatch.setattr(pin_files, "REQUIREMENTS_DIR", changed)
    after = {b: envs.fingerprint(b) for b in BACKENDS}
    assert [b for b in BACKENDS if before[b] != after[b]] == ["paddle"]


def test_envs_create_reuses_current_environments():
    said = []
    statuses = envs.create(BACKENDS, progress=lambda b, message: said.append((b, message)))
    assert [s.state for s in statuses] == ["ready"] * len(BACKENDS)
    assert sorted(b for b, _ in said) == sorted(BACKENDS)
    assert all(message.startswith("up to date") for _, message in said), said  # nothing built


def test_every_framework_is_pinned():
    for backend, package in [("mxnet", "mxnet"), ("pytorch", "torch"),
                             ("tensorflow", "tensorflow-cpu"), ("paddle", "paddlepaddle"),
                             ("jax", "jax"), ("jax", "jaxlib"), ("onnxruntime", "onnxruntime"),
                             ("onnxruntime", "onnx")]:
        assert _pin(backend, package)


def test_in_process_fast_path_when_the_framework_is_already_imported(tmp_path):
    """In the PyTorch environment, with torch imported: no worker, the same result."""
    run_in_backend_env("pytorch", (
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
        "print('ok')\n"), tmp_path)


def test_a_backend_runs_on_an_interpreter_the_user_already_has(tmp_path, monkeypatch):
    """POOLING_XFW_PYTHON_<BACKEND>: any interpreter with the framework (here a wrapper around
    the managed one, standing in for a user's own conda env) is used as it is."""
    own = _wrapper(tmp_path, "my-python", f"exec {envs.interpreter('mxnet')} \"$@\"")
    monkeypatch.setenv("POOLING_XFW_PYTHON_MXNET", own)
    assert envs.interpreter("mxnet") == own
    assert envs.inspect("mxnet").state == "ready"
    with WorkerPool() as fresh:
        outcome = px.compare(X16, 3, padding=1, stride=2, backends=["mxnet"],
                             pool=fresh).results["mxnet"]
        assert fresh.worker("mxnet").python == own
    assert outcome.status == "agree" and outcome.framework_version == "1.9.1"


# --- a worker's plans, kept by case --------------------------------------------------------------

_PLANS_AGREE = textwrap.dedent("""
    import numpy as np
    from pooling_xfw import ops, registry
    from pooling_xfw.adapter import Plans, run
    from pooling_xfw.schedule import Job

    vocab = registry.get({backend!r}).adapter.VOCABULARY
    rng = np.random.default_rng(0)
    cases = [dict(pool_size=3, mode="avg", stride=2, padding=1),  # natively or emulated
             dict(pool_size=2, mode="max", ceil_mode=True, layout="NHWC"),
             dict(pool_size=3, mode="avg", count_include_pad=False, padding=1),
             dict(op="adaptive", output_size=3, mode="avg"),
             dict(op="global", mode="max", keepdims=False)]
    plans = Plans()
    for dtype in ("float32", "float64"):
        for shape in ((1, 2, 7, 6), (2, 3, 5, 9)):
            for case in cases:
                x = rng.standard_normal(shape).astype(dtype)
                job = Job(dict(X=x, **case), None, None)
                fresh, plan = run(vocab, job.op, x, **job.kwargs)
                for _ in range(2):  # planned, then found
                    kept, described = plans.run(vocab, job.op, x, **job.kwargs)
                    assert np.array_equal(kept, fresh, equal_nan=True), case
                    assert described == plan.describe(), (case, described, plan.describe())
                x2 = rng.standard_normal(shape).astype(dtype)  # other values: the same plan
                assert np.array_equal(plans.run(vocab, job.op, x2, **job.kwargs)[0],
                                      run(vocab, job.op, x2, **job.kwargs)[0], equal_nan=True)
    assert len(plans) == 2 * 2 * len(cases)  # one per case, shape and dtype
    bounded = Plans(limit=3)
    for n in range(4, 9):
        bounded.run(vocab, ops.POOL, np.zeros((1, 1, n, n), "float32"),
                    **Job(dict(X=np.zeros((1, 1, n, n), "float32"), pool_size=2), None,
                          None).kwargs)
    assert [key[3] for key in bounded.keys()] == [(1, 1, n, n) for n in (6, 7, 8)]  # oldest out
    print("ok")
""")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_repeated_case_runs_its_kept_plan_with_the_same_output_and_description(backend,
                                                                                 tmp_path):
    """A worker keeps its plans by case (``adapter.Plans``): what a kept plan gives, output and
    description, is what planning afresh gives, for other input values as well; the oldest
    goes first past the limit."""
    run_in_backend_env(backend, _PLANS_AGREE.format(backend=backend), tmp_path)



def test_a_running_worker_follows_a_new_choice_of_interpreter(tmp_path, monkeypatch):
    """A pool keeps a backend's running worker while nothing the user chose changes; another
    interpreter chosen (``POOLING_XFW_PYTHON_<BACKEND>``, ``--python``) starts a worker on it,
    and dropping the choice goes back to the venv's (``cli.main`` called again in one process
    used to keep the first worker)."""
    wrapper = tmp_path / "python"
    wrapper.write_text(f"#!/bin/sh\nexec {envs.interpreter('pytorch')} \"$@\"\n")
    wrapper.chmod(0o755)
    with WorkerPool() as pool:
        def pid_and_spec():
            hello = pool.start(["pytorch"])["pytorch"]
            assert not isinstance(hello, Exception), hello
            return hello.pid, pool.worker("pytorch").spec

        first = pid_and_spec()
        assert pid_and_spec() == first  # warm: the same worker
        monkeypatch.setenv("POOLING_XFW_PYTHON_PYTORCH", str(wrapper))
        chosen = pid_and_spec()
        assert chosen[0] != first[0] and chosen[1].endswith(f"python={wrapper}")
        assert pid_and_spec() == chosen
        monkeypatch.delenv("POOLING_XFW_PYTHON_PYTORCH")
        back = pid_and_spec()
        assert back[0] != chosen[0] and back[1] == first[1]


def test_a_kept_plan_is_run_only_by_the_vocabulary_that_made_it(monkeypatch):
    """Two vocabularies of one name (a backend's test double beside it) never share a plan:
    the second plans its own, which then replaces the first's."""
    import types

    from pooling_xfw import adapter, ops
    from pooling_xfw.schedule import Job

    x = np.zeros((1, 1, 4, 4), np.float32)
    kwargs = Job(dict(X=x, pool_size=2), None, None).kwargs
    planned = []

    def plan_of(vocab, op, x, **kwargs):
        planned.append(vocab)
        return types.SimpleNamespace(describe=lambda: {"by": id(vocab)}), op.geometry(
            x.shape, **kwargs), x

    monkeypatch.setattr(adapter, "plan_of", plan_of)
    monkeypatch.setattr(adapter, "run_plan", lambda vocab, plan, geom, x, shape: vocab)
    first, second = types.SimpleNamespace(name="same"), types.SimpleNamespace(name="same")
    plans = adapter.Plans()
    assert plans.run(first, ops.POOL, x, **kwargs)[0] is first
    assert plans.run(first, ops.POOL, x, **kwargs)[1] == {"by": id(first)}
    assert plans.run(second, ops.POOL, x, **kwargs) == (second, {"by": id(second)})
    assert planned == [first, second] and len(plans) == 1
