"""A backend worker: ``python -m pooling_xfw.runtime.worker BACKEND``, run by that backend's
interpreter.  It imports numpy, ``pooling_xfw`` and its own framework only, says hello with the
versions, then answers ``pool2d`` requests until its input closes.

The protocol travels on the original stdout, which is moved to a private descriptor first:
anything a framework prints goes to stderr, which the client sends to a log, never to the
user's terminal.
"""
from __future__ import annotations

import importlib
import os
import platform
import sys
import time


def _protocol_streams():
    out_fd = os.dup(1)
    os.dup2(2, 1)  # framework prints land on stderr
    return os.fdopen(0, "rb", buffering=0), os.fdopen(out_fd, "wb")


def main(backend: str) -> int:
    inp, out = _protocol_streams()
    import numpy as np

    from pooling_xfw.runtime import protocol
    from pooling_xfw.runtime.envs import FRAMEWORK_MODULE

    hooks = os.environ.get("POOLING_XFW_TEST_HOOKS") == "1"
    started = time.perf_counter()
    try:
        adapter = importlib.import_module(f"adapters.{backend}")
        namespace = adapter.VOCABULARY.namespace()  # the framework import, paid once
        version = importlib.import_module(FRAMEWORK_MODULE[backend]).__version__
    except Exception as exc:  # a broken environment: say why, then stop
        protocol.write(out, {"protocol": protocol.PROTOCOL_VERSION, "ok": False,
                             "error": f"{type(exc).__name__}: {exc}"})
        return 1
    del namespace
    protocol.write(out, {"protocol": protocol.PROTOCOL_VERSION, "ok": True, "backend": backend,
                         "framework_version": version, "numpy_version": np.__version__,
                         "python": platform.python_version(), "pid": os.getpid(),
                         "import_seconds": time.perf_counter() - started})
    read_exact = protocol.stream_reader(inp)
    while True:
        try:
            request, arrays = protocol.read(read_exact)
        except protocol.ProtocolError:
            return 0  # the client closed our input
        op = request.get("op")
        if op == "pool2d":
            protocol.write(out, *pool2d_reply(adapter, request["kwargs"], arrays[0]))
        elif op == "run-plan":  # a native call as the user wrote it (the porting assistant)
            protocol.write(out, *_run_plan(adapter, request, arrays))
        elif op == "echo":  # the array round trip, across numpy versions
            protocol.write(out, {"status": "ok"}, arrays)
        elif op == "test-hook" and hooks and request.get("action") == "run-code":
            protocol.write(out, *_run_code(adapter, request, arrays))
        elif op == "test-hook" and hooks and request.get("action") == "framework-error":
            protocol.write(out, *_framework_error(adapter, arrays))
        elif op == "test-hook" and hooks:
            _test_hook(request)
            protocol.write(out, {"status": "ok"})
        else:
            protocol.write(out, {"status": "error", "kind": "ProtocolError",
                                 "message": f"unknown op {op!r}"})


def pool2d_reply(adapter, kwargs: dict, x):
    """Run one ``pool2d`` request with ``adapter``: (reply header, [output]).  Shared by the
    worker and ``compare``'s in-process path, so both report alike."""
    from pooling_xfw.errors import PoolingError

    started = time.perf_counter()
    try:
        output, plan = adapter.run(x, **kwargs)
    except PoolingError as exc:
        return {"status": "error", "kind": "PoolingError", "message": str(exc)}, []
    except Exception as exc:  # BackendError carries the framework's one-line message
        message = " ".join(str(exc).split())[:500]
        return {"status": "error", "kind": type(exc).__name__, "message": message}, []
    return {"status": "ok", "how": plan.describe(),
            "seconds": time.perf_counter() - started}, [output]


def _run_plan(adapter, request, arrays):
    from adapters._base import execute
    from pooling_xfw.plan import Plan

    try:
        output = execute(adapter.VOCABULARY, Plan.from_json(request["plan"]), arrays[0])
    except Exception as exc:
        return {"status": "error", "kind": type(exc).__name__,
                "message": " ".join(str(exc).split())[:500]}, []
    return {"status": "ok"}, [output]


def _run_code(adapter, request, arrays):
    """Execute a rendered snippet as printed (tests: the code shown is code that runs)."""
    vocab = adapter.VOCABULARY
    scope = {"x": vocab.to_tensor(vocab.namespace(), arrays[0])}
    try:
        exec(request["code"], scope)  # noqa: S102 - the caller's own snippet, test hooks only
        return {"status": "ok"}, [vocab.to_numpy(vocab.namespace(), scope["y"])]
    except Exception as exc:
        return {"status": "error", "kind": type(exc).__name__, "message": str(exc)[:500]}, []


def _framework_error(adapter, arrays):
    """Make the framework itself fail (a stride of 0) through the adapter's error path."""
    from adapters._base import BackendError, execute
    from pooling_xfw.plan import Plan, Var

    vocab = adapter.VOCABULARY
    plan = Plan(vocab.name, vocab.imports)
    vocab.pool(plan, Var("x"), "max", (2, 2), (0, 0), vocab.layouts[0])
    try:
        execute(vocab, plan, arrays[0])
    except BackendError as exc:
        return {"status": "error", "kind": "BackendError", "message": str(exc)}, []
    return {"status": "ok"}, []


def _test_hook(request):
    """Faults for the tests of fault containment (enabled by POOLING_XFW_TEST_HOOKS=1 only)."""
    action = request.get("action")
    if action == "sleep":
        time.sleep(float(request.get("seconds", 3600)))
    elif action == "die":
        os._exit(int(request.get("code", 9)))
    elif action == "segfault":
        import ctypes

        ctypes.string_at(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
