"""``px.compare``: the reference against every backend, each in its own worker process.

Operations (``op``): ``"pool2d"`` (``px.pool2d``, the default), ``"adaptive"``
(``px.adaptive_pool2d``: ``output_size`` instead of ``pool_size``) and ``"global"``
(``px.global_pool2d``: no window; ``keepdims``, ``p``).

Statuses: ``agree``; ``differ`` (with the first differing position and, where the cause is a
known framework behaviour, the reason); ``error`` (the framework raised, crashed, was killed
or timed out: the reason in one line); ``unavailable`` (no environment: the fix).  The
backward pass (``grad=True``) has these and ``not compared``: the framework has no gradient by
design (ONNX Runtime's inference sessions), which is measured, not a failure to run.

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
cell (one number).  Large inputs are judged in blocks of ``JUDGE_BLOCK`` cells and their
reference and scale computed in blocks of the batch/channel axes, so the caller's memory stays
near the input plus the outputs.
"""
from __future__ import annotations

import collections
import dataclasses
import math
import numbers
import sys

import numpy as np

from . import ops, registry
from .backend import FLOAT64_BACKWARD_IN_FLOAT32
from .errors import PoolingError
from .gradient import check_ties, grad_geometry, grad_input, output_shape_of, upstream
from .reference import as_input, pool_geometry, work_dtype
from .runtime import envs
from .runtime.client import Hello, WorkerFailure, WorkerPool, default_pool
from .spec import PoolSpec, make_spec, resolve, spatial_axes

STATUSES = ("agree", "differ", "error", "unavailable")
#: the backward pass's status where the framework has no gradient by design (ONNX Runtime runs
#: inference only): nothing to compare, which is not a failure to run
NOT_COMPARED = "not compared"
GRAD_STATUSES = STATUSES + (NOT_COMPARED,)
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
    how: dict | None = None  # the plan: path, emulated_by, calls, code (and grad_code)
    differing: list | None = None  # [(index, value, reference), ...], at most 20
    # the backward pass (``compare(..., grad=True)``; None otherwise): the status of the
    # framework's gradient with respect to the input against ``Comparison.grad_reference``
    grad_status: str | None = None
    grad_input: np.ndarray | None = None
    grad_max_abs_diff: float | None = None
    grad_detail: str = ""
    grad_differing: list | None = None


@dataclasses.dataclass
class Comparison:
    input: np.ndarray
    spec: dict
    reference: np.ndarray
    results: dict[str, BackendResult]
    rtol: float | None
    atol: float | None
    #: ``grad=True``: ``px.pool2d_grad``'s gradient, with the upstream gradient and ``ties``
    grad_reference: np.ndarray | None = None
    grad_output: np.ndarray | None = None
    ties: str | None = None

    @property
    def ok(self) -> bool:
        """True when every requested backend agrees with the reference, on the gradient too
        where it was compared (a framework without autograd has none to compare)."""
        return all(r.status == "agree" and r.grad_status in (None, "agree", NOT_COMPARED)
                   for r in self.results.values())


def input_scale(x: np.ndarray, spec=None) -> float | np.ndarray:
    """The magnitude each output cell's absolute tolerance is relative to.

    With the pooling's ``spec`` (a ``PoolSpec``, or a resolved geometry of any operation): per
    output cell, the same pooling of ``|x|`` in float64 (mean |x| for avg, the p-norm for lp; 0
    for max/min, which compare exactly, and where a window reads an inf or NaN).  Without: the
    largest finite magnitude in ``x`` (0 for none), one number for every cell.
    """
    if spec is None:
        finite = (np.abs(x[np.isfinite(x)]) if x.dtype.kind == "f"
                  else np.abs(x.astype(np.float64)))
        return float(finite.max()) if finite.size else 0.0
    geometry = resolve(spec, x.shape) if isinstance(spec, PoolSpec) else spec
    if geometry.spec.mode in ("max", "min"):
        return 0.0
    magnitude = ops.of(geometry).finish(geometry, reference_in_blocks(
        x, geometry, lambda block: np.abs(block.astype(np.float64))))
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


def compare(X, pool_size=None, mode: str = "max", *, op: str = "pool2d", backends=None,
            rtol=None, atol=None, pool: WorkerPool | None = None, timeout: float | None = None,
            inprocess: bool = True, gateways: dict[str, str] | None = None,
            grad: bool = False, grad_output=None, ties: str | None = None,
            **pool2d_kwargs) -> Comparison:
    """Run ``px.pool2d(X, pool_size, mode, **pool2d_kwargs)`` and every backend's adapter.

    ``op="adaptive"``: ``px.adaptive_pool2d(X, output_size, mode, layout=...)`` instead, e.g.
    ``compare(X, op="adaptive", output_size=(3, 4), mode="avg")``; ``op="global"``:
    ``px.global_pool2d(X, mode, p=..., keepdims=..., layout=...)``.  Neither takes a
    ``pool_size``.

    ``backends``: backend names (``registry.names()``, each maybe ``BACKEND@VERSION``;
    default: every default backend, ``registry.defaults()``).  Invalid arguments raise ``PoolingError`` before any backend runs.  A backend
    whose framework is already imported in this process runs here (``inprocess=False``: always
    in its worker), with the same statuses; the others run in their workers, in parallel.
    ``gateways``: where some backends' workers run (``{"pytorch": "ssh=host//python=PATH"}``,
    see ``pooling_xfw.runtime.gateways``), set on the pool used.  ``timeout``: the longest wait
    for a worker's reply (default ``POOLING_XFW_CALL_TIMEOUT``).

    ``grad=True`` (``op="pool2d"``, float inputs): the backward pass too.  Each backend's
    adapter takes the gradient of the plan it runs with its framework's autograd, with the
    upstream gradient ``grad_output`` (shaped as the output; ones when None), and it is judged
    against ``px.pool2d_grad(..., grad_output=..., ties=ties)`` (``Comparison.grad_reference``;
    ``ties`` None is ``"first"``) into ``grad_status``, ``grad_max_abs_diff``, ``grad_detail``
    and ``grad_input`` of each result; ``ok`` covers both passes.  ``grad_output`` and ``ties``
    without ``grad=True`` are refused, as the CLI's ``--grad-output`` and ``--ties``.  Gradients compare with the avg/lp tolerances of their
    dtype, relative per cell to the sum of the magnitudes routed to it (``grad_scale``).
    """
    case = dict(pool2d_kwargs, X=X, mode=mode, op=op, grad=grad)
    case.update({name: value for name, value in (("grad_output", grad_output), ("ties", ties))
                 if value is not None})
    if pool_size is not None:
        case["pool_size"] = pool_size
    return compare_many([case], backends=backends, rtol=rtol, atol=atol, pool=pool,
                        timeout=timeout, inprocess=inprocess, gateways=gateways)[0]


#: pipelining bounds: cases (and bytes of input) in flight at once
WINDOW_CASES, WINDOW_BYTES = 64, 256 << 20
#: small cases travel to a worker together, one message for up to this many (and bytes)
BATCH_CASES, BATCH_BYTES = 16, 1 << 20


def compare_many(cases, *, backends=None, rtol=None, atol=None, pool: WorkerPool | None = None,
                 timeout: float | None = None, inprocess: bool = True,
                 gateways: dict[str, str] | None = None) -> list[Comparison]:
    """``compare`` for many cases, pipelined: each case goes to every worker before earlier
    replies are awaited (at most ``WINDOW_CASES`` cases or ``WINDOW_BYTES`` of input in
    flight; consecutive small cases share one message, ``BATCH_CASES``/``BATCH_BYTES``), and
    the reference of a case is computed while the workers compute theirs.

    ``cases``: dicts of ``compare``'s arguments (``X``, ``pool_size``, ``mode`` and
    ``px.pool2d``'s keywords, ``grad``, ``grad_output`` and ``ties``; or ``op="adaptive"`` with ``output_size``, ``mode``, ``layout``;
    or ``op="global"`` with ``mode``, ``p``, ``keepdims``, ``layout``).  Every case is validated
    before any backend runs."""
    check_tolerance(rtol, atol)
    names = backend_names(backends)
    jobs = [_Job(dict(case), rtol, atol) for case in cases]
    local = [n for n in names if inprocess and "@" not in n  # a version: its own venv
             and registry.get(n).module in sys.modules]
    remote = [n for n in names if n not in local]
    if remote:
        pool = pool or default_pool()
        pool.set_gateways(gateways or {})
    flight: collections.deque[_Job] = collections.deque()
    for batch in _batches(jobs):
        _submit(pool, remote, batch)
        for job in batch:
            flight.append(job)
            job.compute_reference()
        while len(flight) > WINDOW_CASES or (len(flight) > 1 and sum(
                j.x.nbytes for j in flight) > WINDOW_BYTES):
            flight.popleft().collect(pool, timeout)
    while flight:
        flight.popleft().collect(pool, timeout)
    for job in jobs:
        for name in local:
            job.results[name] = _run_here(name, job)
    return [job.comparison(names, rtol, atol) for job in jobs]


def _batches(jobs: list["_Job"]):
    """Consecutive jobs grouped into messages: small ones together, a large one alone."""
    batch: list[_Job] = []
    for job in jobs:
        if batch and (len(batch) == BATCH_CASES or
                      sum(j.x.nbytes for j in batch) + job.x.nbytes > BATCH_BYTES):
            yield batch
            batch = []
        batch.append(job)
    if batch:
        yield batch


def _submit(pool: WorkerPool | None, names: list[str], batch: list["_Job"]) -> None:
    """Send a batch of jobs to every worker, one message each (starting or restarting the
    workers as needed); a worker that cannot start or take them fails these jobs alone."""
    if not names:
        return
    hellos = pool.start(names)
    if any(isinstance(h, Hello) and h.local for h in hellos.values()):
        for job in batch:
            job.shared = pool.share(job.x)
    for name in names:
        hello = hellos[name]
        if isinstance(hello, WorkerFailure):
            for job in batch:
                job.results[name] = BackendResult(name, hello.status, detail=hello.reason)
            continue
        for job in batch:
            job.results[name] = BackendResult(name, "error",
                                              framework_version=hello.framework_version,
                                              numpy_version=hello.numpy_version)
        requests = [(job.request()[0], [job.shared if (job.shared and hello.local) else job.x]
                     + job.request()[1]) for job in batch]
        try:
            tickets = pool.worker(name).send_batch(requests)
        except WorkerFailure as failure:
            for job in batch:
                job.results[name].detail = failure.reason
            continue
        for job, ticket in zip(batch, tickets):
            job.tickets[name] = ticket


#: inputs larger than this are pooled by the reference in blocks of the batch/channel axes
REFERENCE_BLOCK_BYTES = 64 << 20


def reference_in_blocks(x: np.ndarray, geometry, transform=None) -> np.ndarray:
    """The reference's numbers (of ``transform(x)`` when given), computed block by block over
    the axes before H (batch, and channels in NCHW) for a large input, so temporaries stay near
    ``REFERENCE_BLOCK_BYTES`` instead of a multiple of the input (pooling never mixes those
    axes)."""
    transform = transform or (lambda block: block)
    h_axis = spatial_axes(x.ndim, geometry.spec.layout)[0]
    op = ops.of(geometry)

    def pool(array):
        return op.pool(array, geometry)

    if x.nbytes <= 2 * REFERENCE_BLOCK_BYTES or h_axis == 0 or not x.size:
        return pool(transform(x))
    out = None
    for index in _leading_blocks(x.shape[:h_axis], x.nbytes // math.prod(x.shape[:h_axis])):
        part = pool(transform(x[index]))
        if out is None:
            out = np.empty(x.shape[:h_axis] + part.shape[h_axis:], part.dtype)
        out[index] = part
    return out


def _leading_blocks(lead: tuple[int, ...], item_bytes: int) -> list[tuple[slice, ...]]:
    """Index blocks over the leading axes ``lead`` of about ``REFERENCE_BLOCK_BYTES`` each."""
    per_first = item_bytes * math.prod(lead[1:])
    if per_first <= REFERENCE_BLOCK_BYTES or len(lead) == 1:
        step = max(1, REFERENCE_BLOCK_BYTES // per_first)
        return [(slice(i, i + step),) for i in range(0, lead[0], step)]
    step = max(1, REFERENCE_BLOCK_BYTES // item_bytes)
    return [(slice(i, i + 1), slice(j, j + step)) for i in range(lead[0])
            for j in range(0, lead[1], step)]


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
    twice = _same_backend_twice(names)
    if twice:
        raise PoolingError(f"backends: got {names!r}: {twice}; allowed: each backend and "
                           f"version once")
    return names


def _same_backend_twice(names: list[str]) -> str | None:
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


def resolve_case(case: dict):
    """Validate one case (``compare_many``'s dict, ``X`` included; consumed) into its operation
    (``pooling_xfw.ops``; a ``GradRequest`` for ``grad=True``), its keyword arguments as a
    worker receives them, the input and the resolved geometry."""
    X = case.pop("X")
    op = case.pop("op", ops.POOL.name)
    grad = case.pop("grad", False)
    if not isinstance(grad, (bool, np.bool_)):  # 1 is not True here, as for ceil_mode
        raise PoolingError(f"grad: got {grad!r}; allowed: True or False")
    grad = bool(grad)
    for name in ("grad_output", "ties"):  # options of the backward pass, as the CLI's
        value = case.get(name)
        if not grad and value is not None:
            shown = (f"<{value.dtype} array of shape {value.shape}>"
                     if isinstance(value, np.ndarray) else repr(value))
            raise PoolingError(f"{name}: got {shown} without grad=True; allowed: {name} only "
                               f"with grad=True")
    op = ops.get(op)
    if grad and not op.has_gradient:
        raise PoolingError(f"grad: got True for op={op.name!r}; allowed: grad=True with " + (
            " or ".join(f"op={o.name!r}" for o in ops.OPERATIONS if o.has_gradient)) + " only")
    ops.check_arguments(op, case, ("grad_output", "ties") if op.has_gradient else ())
    grad_output, ties = case.pop("grad_output", None), case.pop("ties", None) or "first"
    kwargs, x, geometry = op.resolve_case(case, X, grad)
    if not grad:
        return op, kwargs, x, geometry
    ties = check_ties(ties)
    up = upstream(grad_output, output_shape_of(x.shape, geometry), x.dtype)
    return GradRequest(op, kwargs, up if grad_output is not None else None, ties), kwargs, x, \
        geometry


@dataclasses.dataclass
class GradRequest:
    """A ``grad=True`` case: its operation, the upstream gradient (None: ones) and ``ties``."""

    op: object
    kwargs: dict
    grad_output: np.ndarray | None
    ties: str


class _Job:
    """One case on its way through the workers: validated input, tickets, results."""

    def __init__(self, case: dict, rtol, atol):
        self.op, self.kwargs, self.x, self.geometry = resolve_case(case)
        self.grad = self.op if isinstance(self.op, GradRequest) else None
        if self.grad is not None:
            self.op = self.grad.op
        self.spec = self.geometry.spec
        # the padded input must fit now, before any backend runs (the reference is computed
        # later, while the workers compute)
        self.geometry.check_fits(self.x.shape, work_dtype(self.spec.mode, self.x.dtype))
        self.rtol, self.atol = rtol, atol
        self.reference: np.ndarray | None = None
        self.results: dict[str, BackendResult] = {}
        self.tickets: dict[str, object] = {}
        self.shared: dict | None = None
        self.grad_reference: np.ndarray | None = None

    def request(self) -> tuple[dict, list]:
        """The worker request's op and kwargs, and its inputs after ``x``."""
        if self.grad is None:
            return {"op": self.op.name, "kwargs": self.kwargs}, []
        more = [] if self.grad.grad_output is None else [self.grad.grad_output]
        return {"op": self.op.name, "grad": True, "kwargs": self.kwargs}, more

    def compute_reference(self) -> None:
        if self.reference is None:
            self.reference = self.op.finish(self.geometry,
                                            reference_in_blocks(self.x, self.geometry))
            self.tol = tolerance(self.spec.mode, self.reference.dtype, self.rtol, self.atol)
            self.scale = self._window_scale  # computed only if a plain check fails
            self.bounds: dict = {}  # the tolerance of each block, shared by every backend
            if self.grad is not None:
                self.grad_reference = grad_geometry(self.x, self.geometry,
                                                    self.grad.grad_output, self.grad.ties)
                self.grad_tol = tolerance("avg", self.grad_reference.dtype, self.rtol,
                                          self.atol)

    def _window_scale(self) -> np.ndarray | float:
        if not hasattr(self, "_scale"):
            self._scale = input_scale(self.x, self.geometry)
        return self._scale

    def collect(self, pool: WorkerPool | None, timeout: float | None) -> None:
        """Wait for this case's replies and judge them against the reference."""
        self.compute_reference()
        try:
            for name, ticket in self.tickets.items():
                try:
                    reply, arrays = pool.worker(name).receive(
                        timeout if timeout is not None else pool.call_timeout, ticket)
                except WorkerFailure as failure:
                    self.results[name].detail = failure.reason
                    continue
                _take_reply(self.results[name], reply, arrays, self.reference, self.tol,
                            self.scale, self.bounds, self)
        finally:
            if self.shared:
                pool.unshare(self.shared)
            self.shared, self.tickets = None, {}

    def comparison(self, names, rtol, atol) -> Comparison:
        self.compute_reference()
        spec = self.kwargs if self.op is ops.POOL else dict(op=self.op.name, **self.kwargs)
        if self.grad is None:
            return Comparison(self.x, spec, self.reference,
                              {n: self.results[n] for n in names}, rtol, atol)
        for name in names:  # a backend that never replied: its gradient shares its status
            result = self.results[name]
            if result.grad_status is None:
                result.grad_status = result.status
                result.grad_detail = result.detail
        return Comparison(self.x, spec, self.reference, {n: self.results[n] for n in names},
                          rtol, atol, self.grad_reference, self.grad.grad_output,
                          self.grad.ties)


def _take_reply(result: BackendResult, reply: dict, arrays, reference, tol, scale,
                bounds: dict | None = None, job: "_Job | None" = None) -> None:
    """A ``pool2d`` reply (from a worker or in-process) into ``result``: error or judged
    (with ``job.grad``: the output and the gradient)."""
    grad = job is not None and job.grad is not None
    if reply.get("status") != "ok":
        result.detail = f"{reply.get('kind')}: {reply.get('message')}"
        if grad:
            result.grad_status, result.grad_detail = "error", result.detail
        return
    unavailable = reply.get("grad_unavailable") if grad else None
    expected = 2 if grad and not (unavailable or reply.get("grad_error")) else 1
    if len(arrays) != expected:
        result.detail = (f"the worker replied with {len(arrays)} arrays where {expected} "
                         f"{'was' if expected == 1 else 'were'} expected")
        return
    result.how, result.output = reply.get("how"), arrays[0]
    found = []  # the plan's own arithmetic, when that is the cause

    def plan_caused(differing: BackendResult) -> str:
        found.append(plan_cause(differing, job) if job is not None else "")
        return found[-1]

    judge(result, reference, tol, scale, bounds=bounds, cause=plan_caused)
    if result.status == "differ" and job is not None and job.op.has_window and not any(found):
        result.detail += _divisor_cause(result, job, tol)
    if grad and reply.get("grad_error"):  # the forward ran, its gradient did not
        result.grad_status, result.grad_detail = "error", f"BackendError: {reply['grad_error']}"
    elif unavailable:  # a framework without autograd: the forward judged, no gradient faked
        result.grad_status, result.grad_detail = NOT_COMPARED, unavailable
    elif grad:
        judge_grad(result, arrays[1], job)


def _run_here(name: str, job: "_Job") -> BackendResult:
    """The in-process path: the framework is already imported here, so no worker is needed
    (and none is risked: importing another framework here could crash this process)."""
    from .runtime.worker import op_reply

    declared = registry.get(name)
    adapter = declared.adapter
    result = BackendResult(name, "error",
                           framework_version=sys.modules[declared.module].__version__,
                           numpy_version=np.__version__)
    header, more = job.request()
    _take_reply(result, *op_reply(adapter, job.op, job.kwargs, job.x, *more,
                                  grad=bool(header.get("grad"))),
                job.reference, job.tol, job.scale, job.bounds, job)
    return result


def judge(result: BackendResult, reference: np.ndarray, tol: tuple[float, float],
          scale: float | np.ndarray = 0.0, against: str = "reference",
          bounds: dict | None = None, cause=None) -> None:
    """Set ``status``, ``max_abs_diff``, ``detail`` and ``differing`` from the output.

    ``scale``: ``input_scale``'s magnitude, one per output cell (an array of the reference's
    shape) or one for all, or a function giving it (called only if a cell fails without it);
    avg/lp sums of large values that cancel lose digits relative to the values summed, not the
    result, so each cell's absolute tolerance is at least rtol times its scale.
    ``against``: what ``reference`` is, in the detail; known framework causes are named only
    against the neutral reference.  ``bounds``: a dict kept with ``reference`` for every backend
    judged against it, so each block's tolerance bound is computed once.  ``cause``: a
    function of the differing result giving the difference's cause found from more than the
    values (the plan's own arithmetic, ``plan_cause``), tried before the known framework
    behaviours.
    """
    out = result.output
    if out.shape != reference.shape:
        result.status = "differ"
        result.max_abs_diff = math.inf
        result.detail = f"output shape {out.shape}, reference {reference.shape}"
        return
    count, worst, bad = _scan(out, reference, tol, 0.0 if callable(scale) else scale,
                              bounds if callable(scale) or not np.ndim(scale) else None)
    if count and callable(scale):  # the per-window scale only widens: needed only now
        count, worst, bad = _scan(out, reference, tol, scale())
    result.max_abs_diff = worst
    bad = [np.unravel_index(i, reference.shape) for i in bad]
    if not len(bad):
        result.status = "agree"
        if out.dtype != reference.dtype:
            result.detail = f"dtype {out.dtype}, reference {reference.dtype}"
        return
    result.status = "differ"
    result.differing = [(tuple(int(i) for i in idx), out[tuple(idx)].item(),
                         reference[tuple(idx)].item()) for idx in bad]
    index, value, expected = result.differing[0]
    reason = (cause(result) if cause else "") or (
        _known_cause(value, expected, out.dtype) if against == "reference" else "")
    result.detail = (f"{count} of {reference.size} differ; first at {index}: {value!r} vs "
                     f"{against} {expected!r}" + (f" ({reason})" if reason else ""))


#: output cells judged at once (temporaries of a few such blocks, whatever the output's size)
JUDGE_BLOCK = 1 << 20


def _scan(out: np.ndarray, reference: np.ndarray, tol, scale,
          bounds: dict | None = None) -> tuple[int, float, list[int]]:
    """Cells that differ, block by block: (how many, largest |difference|, the first 20 flat
    indices).  Where the comparison is exact, a block equal to the letter in one dtype costs
    one pass."""
    count, worst, bad = 0, 0.0, []
    flat_out, flat_ref = out.reshape(-1), reference.reshape(-1)
    flat_scale = (np.broadcast_to(scale, reference.shape).reshape(-1) if np.ndim(scale)
                  else scale)
    for start in range(0, flat_ref.size, JUDGE_BLOCK):
        block = slice(start, start + JUDGE_BLOCK)
        o, r = flat_out[block], flat_ref[block]
        if tol == (0.0, 0.0) and o.dtype == r.dtype and np.array_equal(o, r):
            continue
        same = _same(o, r, tol, flat_scale[block] if np.ndim(flat_scale) else flat_scale,
                     bounds, start)
        if np.count_nonzero(same) == same.size:
            continue
        misses = np.flatnonzero(~same)
        found = _largest_difference(o[misses], r[misses])
        worst = found if math.isnan(found) or math.isnan(worst) else max(worst, found)
        count += misses.size
        bad.extend(int(i) + start for i in misses[:20 - len(bad)])
    return count, worst, bad


def _same(out: np.ndarray, reference: np.ndarray, tol, scale, bounds: dict | None = None,
          key: int = 0) -> np.ndarray:
    """Which cells of two flat blocks agree; compared in the wider float dtype of the two (at
    least float32; float64 where an integer is involved), which decides closeness as float64
    would (a difference of close values is exact, of far ones clearly too large)."""
    floats = out.dtype.kind == "f" and reference.dtype.kind == "f"
    work = (np.promote_types(np.result_type(out.dtype, reference.dtype), np.float32) if floats
            else np.dtype(np.float64))
    a, b = out.astype(work, copy=False), reference.astype(work, copy=False)
    if tol == (0.0, 0.0):
        return _equal(out, reference, a, b)
    atol = np.maximum(tol[1], tol[0] * scale)
    if bounds is None:
        bound = _bound(b, tol[0], atol)
    else:
        bound = bounds.get((key, work))
        if bound is None:
            bound = bounds[key, work] = _bound(b, tol[0], atol)
    with np.errstate(over="ignore", invalid="ignore"):  # far apart: not close, no warning
        diff = np.subtract(a, b)
        np.abs(diff, out=diff)
        same = diff <= bound  # a cell with an inf or NaN is not close: see below
    misses = np.flatnonzero(~same)  # infinities and NaN: equal to the letter, or not at all
    same[misses] = _equal(out[misses], reference[misses], a[misses], b[misses])
    return same


def _equal(out, reference, a, b) -> np.ndarray:
    """Equal to the letter, NaN equal to NaN (integers compared in their own dtype: float64
    would merge 2**62 and 2**62 + 1)."""
    if out.dtype.kind in "iu" and reference.dtype.kind in "iu":
        return out == reference
    return (a == b) | (np.isnan(a) & np.isnan(b))


def _bound(b: np.ndarray, rtol: float, atol) -> np.ndarray:
    """``atol + rtol * |b|``: how far from ``b`` a value is still close (``numpy.isclose``'s
    rule, in a few in-place passes instead of its several temporaries), finite everywhere so
    that an inf reference gives no slack."""
    with np.errstate(over="ignore", invalid="ignore"):
        bound = np.abs(b)
        bound *= rtol
        bound += atol
        np.minimum(bound, np.finfo(bound.dtype).max, out=bound)
    return bound


def _largest_difference(out: np.ndarray, reference: np.ndarray) -> float:
    """max |out - reference| over cells that differ, in float64: NaN where a cell is NaN on one
    side only (there is no distance to a NaN: never shown as an infinite one), else inf where
    a side is infinite."""
    with np.errstate(invalid="ignore", over="ignore"):
        a, b = out.astype(np.float64), reference.astype(np.float64)
        if (np.isnan(a) != np.isnan(b)).any():
            return math.nan
        diff = np.abs(a - b)
    diff[~np.isfinite(diff)] = math.inf
    return float(diff.max()) if diff.size else 0.0


#: inputs up to this size are run through the plan's numpy mirror when an emulated plan
#: differs (``plan_cause``): the plan's temporaries in numpy, a few times the input
MIRROR_BYTES = 64 << 20


def plan_cause(result: BackendResult, job: "_Job") -> str:
    """The cause of a difference when it is pooling-xfw's own plan, not the framework: the
    backend's plan is emulated, and the same plan with numpy in place of the framework
    (``mirror``; its one native pooling call, if any, the reference's) gives the backend's
    numbers at every differing cell.  '' otherwise (or for an input over ``MIRROR_BYTES``)."""
    how = result.how or {}
    if (how.get("path") != "emulated" or not result.differing or job.x.nbytes > MIRROR_BYTES
            or result.output.shape != job.reference.shape):
        return ""
    from .mirror import mirrored_output

    try:
        with np.errstate(all="ignore"):
            planned = mirrored_output(registry.get(result.backend).vocabulary, job.geometry,
                                      job.x)
    except Exception:  # noqa: BLE001 - no mirror, no claim: the difference stays unexplained
        return ""
    cells = tuple(np.array([index for index, _, _ in result.differing]).T)
    got = result.output[cells]
    if planned.shape != result.output.shape or not _same(
            got, planned[cells], job.tol, 0.0).all():
        return ""
    return (f"pooling-xfw's own plan, not {result.backend}'s behaviour: the plan's arithmetic, "
            f"run in numpy on this input with every framework op exact, gives these numbers "
            f"too; a defect of pooling-xfw's emulation ({'; '.join(how['emulated_by'])})")


def _known_cause(value, expected, dtype: np.dtype) -> str:
    """Name the framework behaviour behind a difference, where it is a known one."""
    if isinstance(expected, float) and math.isnan(expected) and not (
            isinstance(value, float) and math.isnan(value)):
        return "NaN in the window ignored; the reference propagates NaN"
    if (dtype.kind == "f" and value == 0 and isinstance(expected, float) and expected != 0
            and abs(expected) < np.finfo(dtype).tiny):
        return ("a subnormal result flushed to zero (the CPU's flush-to-zero mode); the "
                "reference keeps it")
    if dtype.kind == "f" and isinstance(expected, float) and math.isinf(expected):
        info = np.finfo(dtype)
        lowest = {float(info.min), float(np.finfo(np.float32).min)}
        if expected < 0 and value in lowest:
            return "a window of only -inf gives the lowest finite value; the reference -inf"
        if expected > 0 and -value in lowest:
            return "a window of only +inf gives the largest finite value; the reference +inf"
    return ""


def _divisor_cause(result: BackendResult, job: "_Job", tol) -> str:
    """`` (padding left out of the divisor ...)`` when an average that should count padding is,
    at every differing cell, the window's sum over a smaller divisor that leaves some padding
    out (between the cells read and the reference's divisor; measured: ONNX Runtime 1.22's
    ``AveragePool`` with ``auto_pad`` SAME leaves the bottom padding out); else ''."""
    spec = job.spec
    if not (spec.mode == "avg" and spec.count_include_pad and result.differing
            and job.x.size <= JUDGE_BLOCK and np.issubdtype(result.output.dtype, np.floating)):
        return ""
    from .reference import pool2d

    ones = np.ones(job.x.shape, np.float64)
    try:
        read = pool2d(ones, **{**job.kwargs, "mode": "lp", "p": 1})  # real cells per window
        divisor = read / pool2d(ones, **job.kwargs)  # the reference's: padding counted
    except PoolingError:
        return ""
    cells = tuple(np.array([index for index, _, _ in result.differing]).T)
    out = result.output[cells].astype(np.float64)
    ref = np.asarray(job.reference, np.float64)[cells]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        used = ref * divisor[cells] / out  # the divisor the framework's output implies
    whole = np.round(used)
    if not (np.all(np.isfinite(used)) and np.allclose(used, whole, rtol=max(tol[0], 1e-3))
            and np.all((whole >= read[cells]) & (whole < divisor[cells]))):
        return ""
    return (f" (padding left out of the divisor: divides by {int(whole[0])} where the reference, "
            f"counting padding, divides by {int(round(divisor[cells][0]))})")


# --- the backward pass -------------------------------------------------------------------------

def grad_scale(job: "_Job") -> np.ndarray:
    """Per input cell, the magnitude its gradient's tolerance is relative to: the sum of the
    magnitudes routed to it (the reference gradient with ``|grad_output|``, and ``|x|`` for
    avg/lp); 0 where that is not finite (those cells compare exactly)."""
    if not hasattr(job, "_grad_scale"):
        up = job.grad.grad_output
        x = job.x if job.spec.mode in ("max", "min") else np.abs(job.x)
        with np.errstate(invalid="ignore", over="ignore"):
            scale = grad_geometry(x, job.geometry, None if up is None else np.abs(up),
                                  job.grad.ties).astype(np.float64)
        scale[~np.isfinite(scale)] = 0.0
        job._grad_scale = scale
    return job._grad_scale


def judge_grad(result: BackendResult, grad: np.ndarray, job: "_Job") -> None:
    """Set ``result``'s ``grad_*`` from the backend's gradient, with the cause of a difference
    where the data shows a known one (``grad_cause``)."""
    scratch = BackendResult(result.backend, "error", output=grad)
    judge(scratch, job.grad_reference, job.grad_tol, lambda: grad_scale(job),
          against="the reference gradient")
    result.grad_input, result.grad_status = grad, scratch.status
    result.grad_max_abs_diff, result.grad_differing = scratch.max_abs_diff, scratch.differing
    result.grad_detail = scratch.detail
    if scratch.status == "differ" and grad.shape == job.grad_reference.shape:
        cause = grad_cause(result, grad, job)
        if cause:
            result.grad_detail += f" ({cause})"


def _where_it_goes(grad: np.ndarray, ref: np.ndarray, cells: np.ndarray, nan_input) -> str:
    """Where a backend's gradient of some windows went, from the cells those windows read."""
    got = grad[cells]
    if not np.any(got):
        return "drops the gradient (0 on every cell the window reads)"
    if float(np.nansum(got)) < float(np.nansum(ref[cells])) - 1e-6 * float(
            np.nansum(np.abs(ref[cells]))):
        return "loses part of the gradient (sent into the padding)"
    if nan_input is not None:
        on_nan = np.any(grad[cells & nan_input])
        on_other = np.any(grad[cells & ~nan_input])
        if on_nan and not on_other:
            return "sends the gradient to another NaN"
        if on_other and not on_nan:
            return "sends the gradient to a cell that is not NaN"
    return "sends the gradient to other cells"


def _read_by(windows: np.ndarray, job: "_Job") -> np.ndarray:
    """The input cells read by the output windows marked in ``windows`` (output-shaped)."""
    from .gradient import _avg_grad

    return _avg_grad(windows.astype(np.float64), job.geometry, job.x.shape) > 0


def _tied_extremes(job: "_Job") -> np.ndarray:
    """The input cells that are an extreme of some window with more than one (the windows'
    extremes given the full gradient each, ``ties="all"``, against an even share,
    ``"split"``: they differ by at least 1/2 exactly there)."""
    with np.errstate(invalid="ignore", over="ignore"):
        every = grad_geometry(job.x, job.geometry, None, "all").astype(np.float64)
        shared = grad_geometry(job.x, job.geometry, None, "split").astype(np.float64)
    return every - shared > 0.25


def _same_total(grad: np.ndarray, ref: np.ndarray, job: "_Job") -> bool:
    """Whether ``grad`` sends as much gradient in total as ``ref`` (none dropped)."""
    total = np.nansum(ref.astype(np.float64))
    return bool(np.isclose(np.nansum(grad.astype(np.float64)), total, rtol=job.grad_tol[0],
                           atol=job.grad_tol[1] * grad.size + job.grad_tol[0] * float(
                               np.nansum(np.abs(ref.astype(np.float64))))))


def _overhang_counted(geometry):
    """``geometry`` with each axis's ceil overhang taken as padding, so that an average that
    counts padding counts it too (what a backward that divides by the whole window computes)."""
    return dataclasses.replace(geometry, **{
        name: dataclasses.replace(g, pad_after=g.pad_after + g.overhang)
        for name, g in (("rows", geometry.rows), ("cols", geometry.cols))})


def grad_cause(result: BackendResult, grad: np.ndarray, job: "_Job") -> str:
    """The known cause of a gradient difference, where the data shows it: every differing
    cell read by a window holding a NaN or only infinities, ties routed by another policy
    (or shared unevenly, every differing cell a tied extreme and no gradient lost), an
    average's ceil overhang counted in its divisor (MXNet's float32 backward, measured),
    lp's NaN at a window sum of 0, or float32 precision in a float64 gradient."""
    ref, mode = job.grad_reference, job.spec.mode
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.isclose(grad.astype(np.float64), ref.astype(np.float64),
                           rtol=job.grad_tol[0],
                           atol=job.grad_tol[1]) | (np.isnan(grad) & np.isnan(ref))
    differ = ~close
    y = job.reference
    causes = []
    if mode in ("max", "min"):
        emulated = " ".join((result.how or {}).get("emulated_by", []))
        why = ("; its plan takes the window as an elementwise maximum of slices, whose "
               "gradient splits ties, where pooling ops send them to the first"
               if "elementwise max" in emulated or "strided slices" in emulated else "")
        for ties in ("split", "all", "first"):
            if ties == job.grad.ties:
                continue
            alt = grad_geometry(job.x, job.geometry, job.grad.grad_output, ties)
            if np.allclose(grad, alt, rtol=job.grad_tol[0], atol=job.grad_tol[1],
                           equal_nan=True):
                return (f"ties in a window: {result.backend}'s gradient matches ties="
                        f"{ties!r}, the reference uses ties={job.grad.ties!r}{why}")
        nan_cells = _read_by(np.isnan(y), job)
        inf_cells = _read_by(np.isinf(y) & ((y < 0) if mode == "max" else (y > 0)), job)
        if (nan_cells | inf_cells)[differ].all():
            out = result.output
            if nan_cells[differ].any():
                kept = (out.shape == y.shape and bool(np.isnan(out[np.isnan(y)]).all()))
                causes.append(f"a NaN in a {mode} window: the reference sends the window's "
                              f"gradient to its first NaN; {result.backend} outputs "
                              f"{'NaN' if kept else 'the ' + mode + ' of the other cells'} "
                              f"and {_where_it_goes(grad, ref, nan_cells, np.isnan(job.x))}")
            if inf_cells[differ].any():
                sign = "-" if mode == "max" else "+"
                cells = inf_cells & ~nan_cells
                causes.append(f"a window of only {sign}inf: the reference sends its gradient "
                              f"to the window's first cell; {result.backend} "
                              f"{_where_it_goes(grad, ref, cells, None)}")
            return "; ".join(causes)
        if job.grad.ties == "first" and _tied_extremes(job)[differ].all() and _same_total(
                grad, ref, job):
            return (f"ties in a window: {result.backend}'s gradient is shared unevenly among "
                    f"a window's tied extremes (an elementwise maximum of equal values shares it "
                    f"between them), the reference uses ties='first'{why}")
    if mode == "avg" and job.spec.count_include_pad and job.geometry.has_overhang():
        counted = _overhang_counted(job.geometry)
        from .gradient import _avg_grad

        up = job.grad.grad_output
        alt = _avg_grad(np.ones(job.reference.shape, ref.dtype) if up is None
                        else up.astype(ref.dtype), counted, job.x.shape)
        if np.allclose(grad, alt, rtol=job.grad_tol[0], atol=job.grad_tol[1]):
            return (f"the ceil overhang counted: {result.backend}'s average backward divides a "
                    f"window that reaches past the padded input by its cells past it too; its "
                    f"forward, like the reference, divides by the cells inside the padded input "
                    f"only")
    if mode == "lp":
        zero = (job.x == 0) & ~np.isfinite(grad) & ~np.isnan(ref)
        if zero[differ].all():
            what = (f"|x|**{job.spec.p:g} (p < 1)" if job.spec.p < 1
                    else "the root of a window sum of 0")
            gives = ("NaN (0 * inf)" if np.isnan(grad[differ]).all() else "inf"
                     if np.isinf(grad[differ]).all() else "NaN (0 * inf) or inf")
            return (f"lp at a cell that is 0: {what} has an infinite slope there, so "
                    f"{result.backend}'s autograd gives {gives}; the reference gives 0")
    if ref.dtype == np.float64 and np.allclose(grad, ref, rtol=1e-6,
                                               atol=1e-6 * float(np.max(grad_scale(job),
                                                                        initial=0)),
                                               equal_nan=True):
        known = registry.get(result.backend).causes.get(FLOAT64_BACKWARD_IN_FLOAT32, "")
        return (f"accurate to float32 only: {result.backend}'s float64 backward computes in "
                f"float32" + (f"; measured: {known}" if known and mode in ("avg", "lp") else ""))
    return ""
