"""``px.compare``: the reference against every backend, each in its own worker process.

Operations (``op``, ``pooling_xfw.ops``): ``"pool2d"`` (``px.pool2d``, the default),
``"adaptive"`` (``px.adaptive_pool2d``: ``output_size`` instead of ``pool_size``) and
``"global"`` (``px.global_pool2d``: no window; ``keepdims``, ``p``).

Statuses: ``agree``; ``differ`` (with the first differing position and, where the cause is a
known framework behaviour, the reason); ``error`` (the framework raised, crashed, was killed
or timed out: the reason in one line); ``unavailable`` (no environment: the fix).  The
backward pass (``grad=True``) has these and ``not compared``: the framework has no gradient by
design (ONNX Runtime's inference sessions), which is measured, not a failure to run.

This module is the public entry; the work is done by ``pooling_xfw.schedule`` (validation,
batching and the workers), ``pooling_xfw.judge`` (statuses and tolerances) and
``pooling_xfw.diagnose`` (the cause of a difference).
"""
from __future__ import annotations

from . import registry
from .errors import PoolingError
from .judge import (DEFAULT_TOLERANCE, GRAD_STATUSES, NOT_COMPARED, STATUSES, BackendResult,
                    Comparison, check_tolerance, input_scale, judge, tolerance)
from .runtime import envs
from .runtime.client import WorkerPool
from .schedule import Job, resolve_case, run

__all__ = ["compare", "compare_many", "backend_names", "same_backend_twice", "resolve_case",
           "Comparison", "BackendResult", "STATUSES", "GRAD_STATUSES", "NOT_COMPARED",
           "DEFAULT_TOLERANCE", "check_tolerance", "tolerance", "input_scale", "judge"]



def compare(X, pool_size=None, mode: str = "max", *, op: str = "pool2d", backends=None,
            rtol=None, atol=None, pool: WorkerPool | None = None, timeout: float | None = None,
            inprocess: bool = True, gateways: dict[str, str] | None = None,
            grad: bool = False, grad_output=None, ties: str | None = None,
            **pool2d_kwargs) -> Comparison:
    """Run ``px.pool2d(X, pool_size, mode, **pool2d_kwargs)`` and every backend's adapter.

    A backend whose framework is already imported in this process runs here, with the same
    statuses; the others run in their workers, in parallel.  Gradients compare with the avg/lp
    tolerances of their dtype, relative per cell to the sum of the magnitudes routed to it
    (``diagnose.grad_scale``).

    Args:
        X: the input, as ``px.pool2d`` takes it.
        pool_size: the window (``op="pool2d"`` only).
        mode: the pooling mode (the operation's own: ``px.pool2d``'s four, adaptive's max/avg,
            global's max/avg/lp).
        op: ``"pool2d"``; ``"adaptive"``: ``px.adaptive_pool2d(X, output_size, mode,
            layout=...)`` instead, e.g. ``compare(X, op="adaptive", output_size=(3, 4),
            mode="avg")``; ``"global"``: ``px.global_pool2d(X, mode, p=..., keepdims=...,
            layout=...)``.  Neither takes a ``pool_size``.  ``"pool_with_indices"``:
            ``px.pool2d_with_indices`` (max or min, ``indices=`` the convention): the judged
            output is the indices, each backend's converted to that convention, and the values
            of the same call are judged too (``argmax_diagnosis``).  ``"max_unpool"``: ``X``
            max-pooled with indices by the reference, then unpooled to ``X``'s size
            (``output_size``) by every backend; ``run_known_crashes=True`` also runs a call
            measured to crash its framework, contained by ``timeout``.
        backends: backend names (``registry.names()``, each maybe ``BACKEND@VERSION``; default:
            every default backend, ``registry.defaults()``).
        rtol: relative tolerance for avg/lp (default: ``DEFAULT_TOLERANCE`` of the dtype).
        atol: absolute tolerance for avg/lp (default: as ``rtol``).
        pool: the ``WorkerPool`` to run in (default: the process's own).
        timeout: the longest wait for a worker's reply (default ``POOLING_XFW_CALL_TIMEOUT``).
        inprocess: False runs every backend in its worker, even one imported here.
        gateways: where some backends' workers run (``{"pytorch": "ssh=host//python=PATH"}``,
            see ``pooling_xfw.runtime.gateways``), set on the pool used.
        grad: the backward pass too (``op="pool2d"``, float inputs): each backend's adapter
            takes the gradient of the plan it runs with its framework's autograd, judged
            against ``px.pool2d_grad`` into each result's ``grad_status``,
            ``grad_max_abs_diff``, ``grad_detail`` and ``grad_input``.
        grad_output: with ``grad``: the upstream gradient, shaped as the output (None: ones).
        ties: with ``grad``: ``"first"`` (None), ``"split"`` or ``"all"``.
        **pool2d_kwargs: the operation's other keyword arguments (``stride``, ``padding``,
            ..., ``layout``; ``output_size``; ``p``, ``keepdims``).

    Returns:
        A ``Comparison``: the reference (and ``grad_reference``), each backend's
        ``BackendResult``, and ``ok``, which covers both passes.

    Raises:
        PoolingError: an invalid argument, before any backend runs, naming it and what is
            allowed (``grad_output`` or ``ties`` without ``grad=True`` too, as the CLI's
            ``--grad-output`` and ``--ties``).
    """
    case = dict(pool2d_kwargs, X=X, mode=mode, op=op, grad=grad)
    case.update({name: value for name, value in (("grad_output", grad_output), ("ties", ties))
                 if value is not None})
    if pool_size is not None:
        case["pool_size"] = pool_size
    return compare_many([case], backends=backends, rtol=rtol, atol=atol, pool=pool,
                        timeout=timeout, inprocess=inprocess, gateways=gateways)[0]


def compare_many(cases, *, backends=None, rtol=None, atol=None, pool: WorkerPool | None = None,
                 timeout: float | None = None, inprocess: bool = True,
                 gateways: dict[str, str] | None = None) -> list[Comparison]:
    """``compare`` for many cases, pipelined: each case goes to every worker before earlier
    replies are awaited (at most ``WINDOW_CASES`` cases or ``WINDOW_BYTES`` of input in
    flight; consecutive small cases share one message, ``BATCH_CASES``/``BATCH_BYTES``), and
    the reference of a case is computed while the workers compute theirs.

    Args:
        cases: dicts of ``compare``'s arguments: ``X``, ``pool_size``, ``mode`` and
            ``px.pool2d``'s keywords, ``grad``, ``grad_output`` and ``ties``; or
            ``op="adaptive"`` with ``output_size``, ``mode``, ``layout``; or ``op="global"``
            with ``mode``, ``p``, ``keepdims``, ``layout``.
        backends: as ``compare``'s.
        rtol: as ``compare``'s.
        atol: as ``compare``'s.
        pool: as ``compare``'s.
        timeout: as ``compare``'s.
        inprocess: as ``compare``'s.
        gateways: as ``compare``'s.

    Returns:
        One ``Comparison`` per case, in order.

    Raises:
        PoolingError: an invalid argument of any case, before any backend runs.
    """
    check_tolerance(rtol, atol)
    names = backend_names(backends)
    jobs = [Job(dict(case), rtol, atol) for case in cases]
    run(jobs, names, pool=pool, timeout=timeout, inprocess=inprocess, gateways=gateways)
    return [job.comparison(names, rtol, atol) for job in jobs]


def backend_names(backends) -> list[str]:
    """The backends asked for, checked (``PoolingError`` naming ``backends``)."""
    if backends is None:
        return list(registry.defaults())
    names = [backends] if isinstance(backends, str) else list(backends)
    if not names:
        raise PoolingError(f"backends: got {names!r}; allowed: one or more of "
                           f"{envs.allowed_names()}")
    for name in names:
        envs.check_backend(name)
    twice = same_backend_twice(names)
    if twice:
        raise PoolingError(f"backends: got {names!r}: {twice}; allowed: each backend and "
                           f"version once")
    return names


def same_backend_twice(names: list[str]) -> str | None:
    """What names one environment twice (``onnxruntime`` and ``onnxruntime@1.32.0`` when 1.32.0
    is the pinned version), else None."""
    seen: dict[str, str] = {}
    for name in names:
        key = envs.canonical(name)
        if key in seen:
            return (f"{seen[key]!r} and {name!r} are the same version" if seen[key] != name
                    else f"{name!r} twice")
        seen[key] = name
    return None


# --- the backward pass -------------------------------------------------------------------------


