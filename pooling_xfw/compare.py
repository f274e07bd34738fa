"""``px.compare``: the reference against every backend, each in its own worker process.

Statuses: ``agree``; ``differ`` (with the first differing position and, where the cause is a
known framework behaviour, the reason); ``error`` (the framework raised, crashed, was killed
or timed out: the reason in one line); ``unavailable`` (no environment: the fix).

Tolerances: max and min compare exactly (NaN equal to NaN; integers in their own dtype).  avg
and lp compare with ``numpy.isclose`` and a default per output dtype, ``DEFAULT_TOLERANCE``
(sums in another order differ in the last bits); ``rtol``/``atol`` override the defaults and
must be real, finite and >= 0 (``check_tolerance``).  ``judge`` raises the absolute part, per
output cell, to rtol times that cell's scale.  ``input_scale(x, spec)`` gives each window's own
magnitude: the same pooling (same geometry and divisor) of ``|x|``, so mean |x| for avg (a sum
of large values that cancel loses digits relative to them, not to the result) and the p-norm
itself for lp (a sum of powers does not cancel); a window that reads an inf or NaN gets no
absolute slack (its result compares exactly), and a large value in one window widens no other
window's tolerance.  ``input_scale(x)``, without the spec, is the largest finite |x| for every
cell: the older, coarser rule, which is what ``compare`` still passes until its body hands
``judge`` the spec (``input_scale(x, spec)``).
"""
from __future__ import annotations

import dataclasses
import importlib
import math
import numbers
import sys

import numpy as np

from .errors import PoolingError
from .reference import as_input, pool_geometry
from .runtime import envs
from .runtime.client import CALL_TIMEOUT, WorkerFailure, WorkerPool, default_pool
from .spec import PoolSpec, make_spec, resolve

STATUSES = ("agree", "differ", "error", "unavailable")
#: (rtol, atol) for avg / lp, by output dtype
DEFAULT_TOLERANCE = {"float16": (2e-3, 2e-3), "float32": (1e-5, 1e-6),
                     "float64": (1e-10, 1e-12)}


@dataclasses.dataclass
class BackendResult:
    backend: str
    status: str
    output: np.ndarray | None = None
    max_abs_diff: float | None = None
    detail: str = ""
    framework_version: str | None = None
    numpy_version: str | None = None
    how: dict | None = None  # the plan: path, emulated_by, calls, code
    differing: list | None = None  # [(index, value, reference), ...], at most 20


@dataclasses.dataclass
class Comparison:
    input: np.ndarray
    spec: dict
    reference: np.ndarray
    results: dict[str, BackendResult]
    rtol: float | None
    atol: float | None

    @property
    def ok(self) -> bool:
        """True when every requested backend agrees with the reference."""
        return all(r.status == "agree" for r in self.results.values())


def input_scale(x: np.ndarray, spec: PoolSpec | None = None) -> float | np.ndarray:
    """The magnitude each output cell's absolute tolerance is relative to.

    With the pooling's ``spec``: per output cell, the same pooling of ``|x|`` in float64 (mean
    |x| for avg, the p-norm for lp; 0 for max/min, which compare exactly, and where a window
    reads an inf or NaN).  Without: the largest finite magnitude in ``x`` (0 for none), one
    number for every cell.
    """
    if spec is None:
        finite = (np.abs(x[np.isfinite(x)]) if x.dtype.kind == "f"
                  else np.abs(x.astype(np.float64)))
        return float(finite.max()) if finite.size else 0.0
    if spec.mode in ("max", "min"):
        return 0.0
    magnitude = pool_geometry(np.abs(x.astype(np.float64)), resolve(spec, x.shape))
    magnitude[~np.isfinite(magnitude)] = 0.0
    return magnitude


def check_tolerance(rtol=None, atol=None) -> None:
    """Refuse (``PoolingError``) an ``rtol`` or ``atol`` that is not None or a real, finite
    number >= 0."""
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value is None:
            continue
        if (not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_))
                or not math.isfinite(value) or value < 0):
            raise PoolingError(f"{name}: got {value!r}; allowed: None (the default for the "
                               f"output dtype) or a real, finite number >= 0")


def tolerance(mode: str, dtype: np.dtype, rtol=None, atol=None) -> tuple[float, float]:
    """(rtol, atol) for ``mode`` and the output ``dtype``: 0 for max/min, else the defaults of
    ``DEFAULT_TOLERANCE`` where ``rtol``/``atol`` is None."""
    check_tolerance(rtol, atol)
    if mode in ("max", "min"):
        return 0.0, 0.0
    default = DEFAULT_TOLERANCE.get(np.dtype(dtype).name, DEFAULT_TOLERANCE["float64"])
    return (default[0] if rtol is None else float(rtol)), (default[1] if atol is None
                                                           else float(atol))


def compare(X, pool_size, mode: str = "max", *, backends=None, rtol=None, atol=None,
            pool: WorkerPool | None = None, timeout: float = CALL_TIMEOUT,
            inprocess: bool = True, **pool2d_kwargs) -> Comparison:
    """Run ``px.pool2d(X, pool_size, mode, **pool2d_kwargs)`` and every backend's adapter.

    ``backends``: names among ``"mxnet"``, ``"pytorch"``, ``"tensorflow"``, ``"paddle"`` (all
    by default).  Invalid arguments raise ``PoolingError`` before any backend runs.  A backend
    whose framework is already imported in this process runs here (``inprocess=False``: always
    in its worker), with the same statuses; the others run in their workers, in parallel.
    """
    check_tolerance(rtol, atol)
    spec = make_spec(pool_size, mode, **pool2d_kwargs)
    x = as_input(X)
    reference = pool_geometry(x, resolve(spec, x.shape))
    names = list(envs.BACKENDS) if backends is None else [
        envs.check_backend(b) for b in ([backends] if isinstance(backends, str) else backends)]
    tol = tolerance(spec.mode, reference.dtype, rtol, atol)
    scale = input_scale(x)
    results: dict[str, BackendResult] = {}
    local = [n for n in names if inprocess and envs.FRAMEWORK_MODULE[n] in sys.modules]
    for name in local:
        results[name] = _run_here(name, spec, x, reference, tol, scale)
    remote = [n for n in names if n not in local]
    pool = (pool or default_pool()) if remote else pool
    hellos = pool.start(remote) if remote else {}
    request = {"op": "pool2d", "kwargs": spec.kwargs()}
    sent = []
    for name in remote:
        hello = hellos[name]
        if isinstance(hello, WorkerFailure):
            results[name] = BackendResult(name, hello.status, detail=hello.reason)
            continue
        results[name] = BackendResult(name, "error", framework_version=hello.framework_version,
                                      numpy_version=hello.numpy_version)
        try:
            pool.worker(name).send(request, [x])
            sent.append(name)
        except WorkerFailure as failure:
            results[name].detail = failure.reason
    for name in sent:  # all workers compute at once; collect in order
        result = results[name]
        try:
            reply, arrays = pool.worker(name).receive(timeout)
        except WorkerFailure as failure:
            result.detail = failure.reason
            continue
        _take_reply(result, reply, arrays, reference, tol, scale)
    return Comparison(x, spec.kwargs(), reference, {n: results[n] for n in names}, rtol, atol)


def _take_reply(result: BackendResult, reply: dict, arrays, reference, tol, scale) -> None:
    """A ``pool2d`` reply (from a worker or in-process) into ``result``: error or judged."""
    if reply.get("status") != "ok":
        result.detail = f"{reply.get('kind')}: {reply.get('message')}"
        return
    result.how, result.output = reply.get("how"), arrays[0]
    judge(result, reference, tol, scale)


def _run_here(name: str, spec, x, reference, tol, scale) -> BackendResult:
    """The in-process path: the framework is already imported here, so no worker is needed
    (and none is risked: importing another framework here could crash this process)."""
    from .runtime.worker import pool2d_reply

    adapter = importlib.import_module(f"adapters.{name}")
    result = BackendResult(name, "error",
                           framework_version=sys.modules[envs.FRAMEWORK_MODULE[name]].__version__,
                           numpy_version=np.__version__)
    _take_reply(result, *pool2d_reply(adapter, spec.kwargs(), x), reference, tol, scale)
    return result


def judge(result: BackendResult, reference: np.ndarray, tol: tuple[float, float],
          scale: float | np.ndarray = 0.0, against: str = "reference") -> None:
    """Set ``status``, ``max_abs_diff``, ``detail`` and ``differing`` from the output.

    ``scale``: ``input_scale``'s magnitude, one per output cell (an array of the reference's
    shape) or one for all; avg/lp sums of large values that cancel lose digits relative to the
    values summed, not the result, so each cell's absolute tolerance is at least rtol times its
    scale.  ``against``: what ``reference`` is, in the detail; known framework causes are named
    only against the neutral reference.
    """
    out = result.output
    if out.shape != reference.shape:
        result.status = "differ"
        result.max_abs_diff = math.inf
        result.detail = f"output shape {out.shape}, reference {reference.shape}"
        return
    a, b = out.astype(np.float64), reference.astype(np.float64)
    if out.dtype.kind in "iu" and reference.dtype.kind in "iu":
        same = out == reference  # exact in the integer dtype (float64 would merge 2**62 + 1)
    else:
        same = (a == b) | (np.isnan(a) & np.isnan(b))
    if tol != (0.0, 0.0):
        same |= np.isclose(a, b, rtol=tol[0], atol=np.maximum(tol[1], tol[0] * scale),
                           equal_nan=True)
    with np.errstate(invalid="ignore"):
        diff = np.where(same, 0.0, np.abs(a - b))
    diff[~same & ~np.isfinite(diff)] = math.inf
    result.max_abs_diff = float(diff.max()) if diff.size else 0.0
    bad = np.argwhere(~same)
    if not len(bad):
        result.status = "agree"
        if out.dtype != reference.dtype:
            result.detail = f"dtype {out.dtype}, reference {reference.dtype}"
        return
    result.status = "differ"
    result.differing = [(tuple(int(i) for i in idx), out[tuple(idx)].item(),
                         reference[tuple(idx)].item()) for idx in bad[:20]]
    index, value, expected = result.differing[0]
    reason = _known_cause(value, expected, out.dtype) if against == "reference" else ""
    result.detail = (f"{len(bad)} of {reference.size} differ; first at {index}: {value!r} vs "
                     f"{against} {expected!r}" + (f" ({reason})" if reason else ""))


def _known_cause(value, expected, dtype: np.dtype) -> str:
    """Name the framework behaviour behind a difference, where it is a known one."""
    if isinstance(expected, float) and math.isnan(expected) and not (
            isinstance(value, float) and math.isnan(value)):
        return "NaN in the window ignored; the reference propagates NaN"
    if dtype.kind == "f" and isinstance(expected, float) and math.isinf(expected):
        info = np.finfo(dtype)
        lowest = {float(info.min), float(np.finfo(np.float32).min)}
        if expected < 0 and value in lowest:
            return "a window of only -inf gives the lowest finite value; the reference -inf"
        if expected > 0 and -value in lowest:
            return "a window of only +inf gives the largest finite value; the reference +inf"
    return ""
