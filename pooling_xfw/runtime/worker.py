"""The worker side: runs in a backend's interpreter, on this machine or another, inside an
execnet gateway.

The caller ships this package's sources (``bootstrap.py``), so the interpreter needs only
Python, numpy and its framework.  ``serve`` imports the backend's adapter (paying the framework
import once), says hello on the channel with its versions, host and machine (``machine``), then answers requests in
order until the channel closes.

A request is a dict ``{"id", "op", "inputs": [descriptor], "output_path": str|None, ...}``
followed by the chunks of any chunked input (``transfer``); the reply is
``{"id", "status": "ok"|"error", "outputs": [descriptor], ...}`` followed likewise.  Several
requests may travel as one message, ``{"batch": [request, ...]}``, answered by one
``{"batch": [reply, ...]}`` (chunks of every request, then of every reply, follow in order):
small cases then cost one message each way, not one per case.  Anything a framework prints goes
to stderr (fd 1 is pointed there), which the caller keeps in a log file.

``threads``: the framework's intra-op threads (OpenMP, MKL, TensorFlow's pools), set before
the framework is imported unless this environment already sets them: the caller gives each of
the workers sharing its machine a share of the cores, so the frameworks computing at once do
not each spin a thread per core.  ``slots``: the caller's compute slots (``slots``), one held
while a large request is computed and its outputs written, so no more workers compute at once
than there are cores.
"""
from __future__ import annotations

import os
import platform
import sys
import time

from .slots import NO_SLOTS, Slots

PROTOCOL = 3
#: log noise off in every worker (a backend adds its own: ``Backend.environment``), set before
#: the framework is imported
QUIET = {"KMP_WARNINGS": "0", "PYTHONWARNINGS": "ignore"}
#: what ``threads`` sets (each framework reads one of them when it is imported)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "TF_NUM_INTEROP_THREADS")
HELLO_KEYS = ("protocol", "ok", "backend", "framework_version", "numpy_version", "python",
              "host", "pid", "import_seconds")


_protocol_fd = None  # the gateway's own output stream (the garbage/truncate test hooks)
_slots = NO_SLOTS  # the caller's compute slots, for a worker on its machine


def machine() -> dict:
    """This machine in portable terms (no host name, no path): ``arch`` (``platform.machine``),
    ``cpu`` (the model name in /proc/cpuinfo, else ``platform.processor``), ``family`` (x86
    CPU family and model numbers), ``vector`` (the widest x86 vector extension), ``cores``
    (logical CPUs) and ``os`` (``platform.system``); a value not known is empty."""
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    flags = set(info.get("flags", "").split())
    return {
        "arch": platform.machine(),
        "cpu": info.get("model name") or info.get("Model") or platform.processor(),
        "family": (f"family {info['cpu family']} model {info['model']}"
                   if info.get("cpu family") and info.get("model") else ""),
        "vector": next((name for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"),
                                                ("avx", "AVX")) if flag in flags), ""),
        "cores": os.cpu_count() or 0,
        "os": platform.system(),
    }


def serve(channel, backend: str, adapter: str, hooks: bool = False,
          threads: int | None = None, slots=()) -> None:
    """Answer ``backend`` requests on ``channel`` until it closes, with the adapter module
    ``adapter`` (its dotted name; the registry loads it); ``slots``: the paths of the caller's
    compute slots (none: compute at once)."""
    global _protocol_fd, _slots
    if hooks:
        stream = getattr(channel.gateway._io, "outfile", None)  # pipes; sockets have none
        _protocol_fd = stream.fileno() if stream else None
    os.dup2(2, 1)  # framework prints land in the log, never in the protocol or a terminal
    os.environ.update(QUIET)  # for gateways that did not start with it (ssh, socket)
    for variable in THREAD_VARIABLES if threads else ():
        os.environ.setdefault(variable, str(int(threads)))
    started = time.perf_counter()
    try:
        import numpy as np

        from pooling_xfw import registry

        declared = registry.load(adapter)  # onnxruntime@1.22.1: onnxruntime's adapter
        os.environ.update(declared.environment)
        adapter = declared.adapter
        adapter.VOCABULARY.namespace()  # the framework import, paid once
        version = str(sys.modules[declared.module].__version__)
    except Exception as exc:  # a broken environment: say why, then stop
        channel.send({"protocol": PROTOCOL, "ok": False, "error": _one_line(exc)})
        return
    channel.send({"protocol": PROTOCOL, "ok": True, "backend": backend,
                  "framework_version": version, "numpy_version": np.__version__,
                  "python": platform.python_version(), "host": platform.node(),
                  "pid": os.getpid(), "import_seconds": time.perf_counter() - started,
                  "threads": os.environ.get("OMP_NUM_THREADS"), "machine": machine()})
    from . import transfer

    _slots = Slots(slots or ())
    while True:
        try:
            request = transfer.decode(channel.receive(), "inputs")
        except EOFError:  # the caller closed the channel
            return
        _answer(channel, adapter, request, hooks)


def _answer(channel, adapter, message: dict, hooks: bool) -> None:
    """Answer one message: a request, or a batch of them in one reply."""
    from . import transfer

    batch = message.get("batch") if isinstance(message, dict) else None
    answers = [_compute(channel, adapter, request, hooks) for request in (batch or [message])]
    headers = [header for header, _ in answers]
    channel.send(transfer.encode({"batch": headers} if batch is not None else headers[0],
                                 "outputs"))
    for _, chunked in answers:
        for array in chunked:
            transfer.send_chunks(channel, array)


def _compute(channel, adapter, request: dict, hooks: bool):
    """One request's reply header and the arrays whose chunks follow the reply."""
    from . import transfer

    # writable: a shared input is mapped copy-on-write, so a framework that wraps writable
    # memory without copying (torch.from_numpy) does, and the caller's file stays as written
    inputs = [transfer.receive(d, channel.receive, writable=True)
              for d in request.get("inputs", [])]
    if hooks and request.get("action") == "half-reply":  # a reply that stops mid-array
        channel.send({"id": request.get("id"), "status": "ok", "outputs": [{"chunks": 4}]})
        time.sleep(float(request.get("seconds", 60)))
    with _slots.held(sum(getattr(array, "nbytes", 0) for array in inputs)):
        header, outputs = _dispatch(adapter, request, inputs, hooks)
        packed = [transfer.pack(out, _output_path(request, i)) for i, out in enumerate(outputs)]
    header["id"] = request.get("id")
    header["outputs"] = [descriptor for descriptor, _ in packed]
    return header, [chunked for _, chunked in packed if chunked is not None]


def _output_path(request: dict, index: int) -> str | None:
    prefix = request.get("output_path")
    return f"{prefix}-{index}.npy" if prefix else None


def _dispatch(adapter, request: dict, inputs: list, hooks: bool):
    from pooling_xfw import ops

    kind = request.get("op")
    if kind in {op.name for op in ops.OPERATIONS}:  # a pooling operation
        return op_reply(adapter, ops.get(kind), request["kwargs"], *inputs,
                        grad=bool(request.get("grad")))
    if kind == "run-plan":  # a native call as the user wrote it (the porting assistant)
        return _run_plan(adapter, request, inputs)
    if kind == "echo":  # the array round trip, across numpy versions and transfer ways
        return {"status": "ok"}, inputs
    if kind == "test-hook" and hooks:
        return _test_hook(adapter, request, inputs)
    return {"status": "error", "kind": "ProtocolError", "message": f"unknown op {kind!r}"}, []


def _one_line(exc: BaseException) -> str:
    from pooling_xfw.errors import one_line

    text = one_line(exc, 500)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def op_reply(adapter, op, kwargs: dict, x, *more, grad: bool = False):
    """Run one request of the operation ``op`` (``pooling_xfw.ops``) with ``adapter``: (reply
    header, [output]; with ``grad``, whose optional second input is the upstream gradient,
    [output, gradient]).  Shared by the worker and ``compare``'s in-process path, so both
    report alike."""
    from pooling_xfw.adapter import GradientError, GradientUnavailable, run, run_grad
    from pooling_xfw.errors import PoolingError

    started = time.perf_counter()
    try:
        if not grad and op.inputs == op.outputs == 1:  # a repeated case: its plan again
            output, described = _plans().run(adapter.VOCABULARY, op, x, **kwargs)
            return {"status": "ok", "how": described,
                    "seconds": time.perf_counter() - started}, [output]
        if grad:
            output, plan = run_grad(adapter.VOCABULARY, op, x, *more, **kwargs)
        else:
            output, plan = run(adapter.VOCABULARY, op, x, *more, **kwargs)
    except GradientError as exc:  # the forward ran: its output, and why the gradient did not
        return {"status": "ok", "how": exc.plan.describe(), "grad_error": str(exc),
                "seconds": time.perf_counter() - started}, [exc.output]
    except GradientUnavailable as exc:  # the forward's output, and why no gradient
        return {"status": "ok", "how": exc.plan.describe(), "grad_unavailable": str(exc),
                "seconds": time.perf_counter() - started}, [exc.output]
    except PoolingError as exc:
        return {"status": "error", "kind": "PoolingError", "message": str(exc)}, []
    except Exception as exc:  # BackendError carries the framework's one-line message
        from pooling_xfw.errors import one_line

        message = one_line(exc, 500)
        return {"status": "error", "kind": type(exc).__name__, "message": message}, []
    header = {"status": "ok", "how": plan.describe(), "seconds": time.perf_counter() - started}
    if getattr(plan, "index_note", ""):  # an index that named no cell, before conversion
        header["index_note"] = plan.index_note
    return header, (
                list(output) if isinstance(output, list) else [output])


_PLANS = None


def _plans():
    """This process's plans of one-output operations (``adapter.Plans``), made on first use."""
    global _PLANS
    if _PLANS is None:
        from pooling_xfw.adapter import Plans

        _PLANS = Plans()
    return _PLANS


def _run_plan(adapter, request, inputs):
    """A plan as given; ``"grad": true``: through the framework's autograd too, with the
    upstream gradient as the second input: [output, gradient with respect to the input]."""
    from pooling_xfw.adapter import execute
    from pooling_xfw.plan import Plan

    vocab, the_plan = adapter.VOCABULARY, Plan.from_json(request["plan"])
    try:
        if not request.get("grad"):
            out = execute(vocab, the_plan, inputs[0])
            return {"status": "ok"}, list(out) if isinstance(out, tuple) else [out]
        ns = vocab.namespace()
        y, grad = vocab.gradient(ns, lambda t: the_plan.execute(ns, t),
                                 vocab.to_tensor(ns, inputs[0]), vocab.to_tensor(ns, inputs[1]))
        if grad is None:  # the framework found no path from x to y
            raise RuntimeError("the autograd returned no gradient for the input")
        return {"status": "ok"}, [vocab.to_numpy(ns, y), vocab.to_numpy(ns, grad)]
    except Exception as exc:
        return {"status": "error", "kind": type(exc).__name__,
                "message": " ".join(str(exc).split())[:500]}, []


# --- faults, for the tests of fault containment (POOLING_XFW_TEST_HOOKS=1 in the caller) --------

def _test_hook(adapter, request, inputs):
    action = request.get("action")
    if action == "run-code":
        return _run_code(adapter, request, inputs)
    if action == "framework-error":
        return _framework_error(adapter, inputs)
    if action == "sleep":
        time.sleep(float(request.get("seconds", 3600)))
    elif action == "die":
        os._exit(int(request.get("code", 9)))
    elif action == "segfault":
        import ctypes

        ctypes.string_at(0)
    elif action == "garbage":  # a frame of an unknown message type, into the gateway's stream
        os.write(_protocol_fd, b"\x7f\x00\x00\x00\x01\x00\x00\x00\x10" + b"garbage!" * 2)
        time.sleep(60)
    elif action == "huge-garbage":  # bytes whose length field reads as about 1.6 GB
        os.write(_protocol_fd, b"\x00garbage from a worker\xff" * 64)
        time.sleep(60)
    elif action == "truncate":  # half a message, then death
        os.write(_protocol_fd, b"\x02\x00\x00")
        os._exit(3)
    return {"status": "ok"}, []


def _run_code(adapter, request, inputs):
    """Execute a rendered snippet as printed (tests: the code shown is code that runs)."""
    vocab = adapter.VOCABULARY
    scope = {"x": vocab.to_tensor(vocab.namespace(), inputs[0])}
    try:
        exec(request["code"], scope)  # noqa: S102 - the caller's own snippet, test hooks only
        return {"status": "ok"}, [vocab.to_numpy(vocab.namespace(), scope["y"])]
    except Exception as exc:
        return {"status": "error", "kind": type(exc).__name__, "message": str(exc)[:500]}, []


def _framework_error(adapter, inputs):
    """Make the framework itself fail (a stride of 0) through the adapter's error path."""
    from pooling_xfw.adapter import BackendError, execute
    from pooling_xfw.plan import Plan, Var

    vocab = adapter.VOCABULARY
    plan = Plan(vocab.name, vocab.imports)
    y = vocab.pool(plan, Var("x"), "max", (2, 2), (0, 0), vocab.layouts[0])
    vocab.finish(plan, y, inputs[0].dtype, inputs[0].dtype, vocab.layouts[0])  # a graph: its run
    try:
        execute(vocab, plan, inputs[0])
    except BackendError as exc:
        return {"status": "error", "kind": "BackendError", "message": str(exc)}, []
    return {"status": "ok"}, []
