"""How ``compare_many``'s cases travel: validated into jobs, batched into messages, sent to
every worker before earlier replies are awaited, and each reply judged as it comes back
(``pooling_xfw.judge``, with the causes of ``pooling_xfw.diagnose``); a backend whose framework
is already imported runs in this process instead (``run_here``)."""
from __future__ import annotations

import collections
import dataclasses
import sys

import numpy as np

from . import ops, registry
from .blocks import reference_in_blocks
from .argmax_diagnosis import judge_indices, unpool_cause
from .diagnose import (divisor_cause, empty_window_cause, judge_grad, lowest_skipped_cause,
                       plan_cause)
from .errors import PoolingError
from .gradient import check_ties, upstream
from .judge import NOT_COMPARED, BackendResult, Comparison, input_scale, judge, tolerance
from .reference import work_dtype
from .runtime.client import Hello, WorkerFailure, WorkerPool, default_pool



#: pipelining bounds: cases (and bytes of input) in flight at once
#: pipelining bounds: cases (and bytes of input) in flight at once
WINDOW_CASES, WINDOW_BYTES = 64, 256 << 20


#: small cases travel to a worker together, one message for up to this many (and bytes)
BATCH_CASES, BATCH_BYTES = 16, 1 << 20


def run(jobs: list["Job"], names: list[str], *, pool: WorkerPool | None = None,
        timeout: float | None = None, inprocess: bool = True,
        gateways: dict[str, str] | None = None) -> None:
    """Run every job on every backend of ``names``, into each job's ``results``: pipelined
    through the workers (each batch to every worker before earlier replies are awaited; at
    most ``WINDOW_CASES`` cases or ``WINDOW_BYTES`` of input in flight), each reference
    computed while the workers compute theirs; a backend whose framework is already imported
    here (and ``inprocess``) runs in this process, after the workers' replies.  The workers on
    this machine compute a large case in the pool's compute slots (``runtime.slots``); the
    reference and the judging here take none: they overlap with the workers."""
    local = [n for n in names if inprocess and runs_here(n)]
    remote = [n for n in names if n not in local]
    if remote:
        pool = pool or default_pool()
        pool.set_gateways(gateways or {})
    flight: collections.deque[Job] = collections.deque()
    for batch in batches(jobs):
        submit(pool, remote, batch)
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
            job.results[name] = run_here(name, job)


def runs_here(name: str) -> bool:
    """Whether ``name`` runs in this process: its framework is imported here already, and the
    name selects no other version (its own venv's worker) and no other machine (that
    machine's worker)."""
    return not {"@", ":"} & set(name) and registry.get(name).module in sys.modules


def batches(jobs: list["Job"]):
    """Consecutive jobs grouped into messages: small ones together, a large one alone."""
    batch: list[Job] = []
    for job in jobs:
        if batch and (len(batch) == BATCH_CASES or
                      sum(j.x.nbytes for j in batch) + job.x.nbytes > BATCH_BYTES):
            yield batch
            batch = []
        batch.append(job)
    if batch:
        yield batch


def submit(pool: WorkerPool | None, names: list[str], batch: list["Job"]) -> None:
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


@dataclasses.dataclass
class GradRequest:
    """A ``grad=True`` case: its operation, the upstream gradient (None: ones) and ``ties``."""

    op: object
    kwargs: dict
    grad_output: np.ndarray | None
    ties: str


class Job:
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
            return {"op": self.op.name, "kwargs": self.kwargs}, self.op.more_inputs(
                self.geometry)
        more = [] if self.grad.grad_output is None else [self.grad.grad_output]
        return {"op": self.op.name, "grad": True, "kwargs": self.kwargs}, more

    def compute_reference(self) -> None:
        """The reference's output (and gradient), once."""
        if self.reference is not None:
            return
        if self.op.outputs == 2:  # the indices judged, the values beside them
            self.reference, self.values_reference = self.op.reference_pair(self.x,
                                                                           self.geometry)
        elif self.op.inputs == 2:  # the values and indices unpooled
            self.reference = self.op.reference(self.x, self.geometry)
        else:
            self.reference = self.op.finish(self.geometry,
                                            reference_in_blocks(self.x, self.geometry))
        self.tol = tolerance(self.spec.mode, self.reference.dtype, self.rtol, self.atol)
        self.scale = self._window_scale  # computed only if a plain check fails
        self.bounds: dict = {}  # the tolerance of each block, shared by every backend
        if self.grad is not None:
            self.grad_reference = self.op.gradient(self.x, self.geometry,
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
                take_reply(self.results[name], reply, arrays, self.reference, self.tol,
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


def take_reply(result: BackendResult, reply: dict, arrays, reference, tol, scale,
                bounds: dict | None = None, job: "Job | None" = None) -> None:
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
    if job is not None and job.op.outputs == 2:
        expected = 2
    if len(arrays) != expected:
        result.detail = (f"the worker replied with {len(arrays)} arrays where {expected} "
                         f"{'was' if expected == 1 else 'were'} expected")
        return
    result.how, result.output = reply.get("how"), arrays[0]
    found = []  # the plan's own arithmetic, when that is the cause

    def plan_caused(differing: BackendResult) -> str:
        found.append((plan_cause(differing, job) or empty_window_cause(differing, job)
                      or lowest_skipped_cause(differing, job))
                     if job is not None else "")
        return found[-1]

    if job is not None and job.op.outputs == 2:  # indices, then the values of the same call
        judge_indices(result, arrays[1], reply.get("index_note", ""), job)
        return
    if job is not None and job.op.inputs == 2:  # unpooling
        judge(result, reference, tol, 0.0, cause=lambda differing: unpool_cause(differing, job))
        return
    judge(result, reference, tol, scale, bounds=bounds, cause=plan_caused)
    if result.status == "differ" and job is not None and job.op.has_window and not any(found):
        result.detail += divisor_cause(result, job, tol)
    if grad and reply.get("grad_error"):  # the forward ran, its gradient did not
        result.grad_status, result.grad_detail = "error", f"BackendError: {reply['grad_error']}"
    elif unavailable:  # a framework without autograd: the forward judged, no gradient faked
        result.grad_status, result.grad_detail = NOT_COMPARED, unavailable
    elif grad:
        judge_grad(result, arrays[1], job)


def run_here(name: str, job: "Job") -> BackendResult:
    """The in-process path: the framework is already imported here, so no worker is needed
    (and none is risked: importing another framework here could crash this process)."""
    from .runtime.worker import op_reply

    declared = registry.get(name)
    adapter = declared.adapter
    result = BackendResult(name, "error",
                           framework_version=sys.modules[declared.module].__version__,
                           numpy_version=np.__version__)
    header, more = job.request()
    take_reply(result, *op_reply(adapter, job.op, job.kwargs, job.x, *more,
                                  grad=bool(header.get("grad"))),
                job.reference, job.tol, job.scale, job.bounds, job)
    return result


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
    up = upstream(grad_output, op.output_shape(geometry, x.shape), x.dtype)
    return GradRequest(op, kwargs, up if grad_output is not None else None, ties), kwargs, x, \
        geometry
