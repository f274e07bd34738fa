"""The report as one JSON-able document (schema ``pooling-xfw/report/1``, ``SCHEMA_DOC``):
``build(cases, backends)`` runs every case through ``compare_many`` (with ``GradOptions``, the
backward pass too) and gathers each backend's environment, status and numbers."""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Iterable

import numpy as np

from ..version import __version__
from ..cases import Case
from ..compare import (GRAD_STATUSES, BackendResult, compare_many, input_scale, judge,
                       resolve_case, tolerance)
from ..errors import PoolingError
from ..gradient import check_ties, output_shape_of
from ..reference import work_dtype
from ..runtime.client import WorkerFailure, default_pool
from .. import registry
from ..runtime.envs import label, split_name


SCHEMA = "pooling-xfw/report/1"


SCHEMA_DOC = """\
{
  "schema": "pooling-xfw/report/1",
  "tool_version": str, "numpy_version": str,
  "backends": {name: {"status": "ready"|"unavailable"|"error", "label": str,
                      "version": str|null, "framework_version": str|null,
                      "numpy_version": str|null, "python": str|null, "host": str|null,
                      "where": str|null, "machine": {"arch", "cpu", "family", "vector",
                      "cores", "os"}|null, "detail": str}},
  "cases": [{"name": str, "title": str, "op": "pool2d"|"adaptive"|"global",
             "spec": {the op's keyword arguments:
                      pool2d: pool_size, mode, stride, padding, dilation, ceil_mode,
                              count_include_pad, layout, p;
                      adaptive (px.adaptive_pool2d): output_size [h|null, w|null] (null keeps
                              that axis), mode, layout;
                      global (px.global_pool2d): mode, p, keepdims, layout},
             "input": array, "reference": array, "reference_shape": [int],
             "expected": array|null, "expected_shape": [int]|null,
             "reference_matches_expected": bool|null, "expected_detail": str,
             "results": {name: {"status": "agree"|"differ"|"error"|"unavailable",
                                "max_abs_diff": number|null, "output": array|null,
                                "output_shape": [int]|null,
                                "detail": str,
                                "how": {"path": "native"|"emulated", "emulated_by": [str],
                                        "adaptations": [str], "computes_in": str,
                                        "calls": [str], "code": str}|null,
                                "differing": [[index, value, reference], ...]|null,
                                with --grad only (the backward pass):
                                "grad_status": "agree"|"differ"|"error"|"unavailable"|
                                               "not compared",
                                "grad_max_abs_diff": number|null, "grad_input": array|null,
                                "grad_detail": str,
                                "grad_differing": [[index, value, reference], ...]|null}},
             with --grad only:
             "grad": {"ties": "first"|"split"|"all", "grad_output": "ones"|"randn",
                      "seed": int|null, "upstream": array, "reference": array}}],
  "summary": {"agree": int, "differ": int, "error": int, "unavailable": int, "mismatch": int,
              with --grad only: "grad": {"agree": int, "differ": int, "error": int,
                                         "unavailable": int, "not compared": int},
              "exit_code": int}
}
With --grad (pool2d cases of a float input only), each case's backward pass: "grad.upstream" is
the upstream gradient (the output's shape: ones, or for "randn" numpy's
default_rng([seed, 1]).standard_normal in the input's dtype), "grad.reference" is
px.pool2d_grad's gradient with respect to the input (the input's shape) for "grad.ties", and
each result's "grad_input" is the framework's own autograd gradient of the plan it ran, judged
against it into "grad_status" ("differ": "grad_detail" says how many cells, the first, and the
cause where the data shows a known one; "not compared": the framework has no gradient by
design, "grad_detail" says why, and the exit code does not count it).  The summary counts
forward statuses at the top and backward ones in "grad".
A global pooling with "keepdims": false has no H and W axes in its reference and outputs
((N, C) for an (N, C, H, W) input).
A case's "expected" (the chapter's printed output, or a case file's) is held to the reference as
a backend is (max/min exactly, avg/lp within the tolerance); "mismatch" counts the cases whose
reference does not match it, "expected_detail" says where.  Exit code: 1 when a backend differs
(forward, or backward with --grad) or a case mismatches its expected output; else 3 when a
backend could not run; else 0.
A backend's name is BACKEND, at the version its pins give, or BACKEND@VERSION for another version
of its framework in an environment of its own ("NAME@1.22.1"; its "version" is "1.22.1", null
for BACKEND); "label" is its column's title, "NAME 1.22.1" (the framework's version
its worker reported, else the one asked for).
Arrays are nested lists; non-finite numbers are the strings "nan", "inf" and "-inf".  Nested
lists lose the sizes after an empty axis (an adaptive pooling to 0 rows of a (1, 1, 4, 4) input
is [[[]]]): "reference_shape", "expected_shape" and "output_shape" give every array's shape."""


def jsonable(value):
    """Arrays to nested lists, non-finite floats to "nan" / "inf" / "-inf" (strict JSON)."""
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.generic,)):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def exit_code(counts: dict) -> int:
    """1 when any backend differs (forward, or backward in ``counts["grad"]``), or a case's
    reference does not match its expected output; else 3 when any backend could not run (either
    pass); else 0.  A gradient not compared (a framework without autograd) changes nothing."""
    grad = counts.get("grad") or {}
    if counts["differ"] or counts.get("mismatch") or grad.get("differ"):
        return EXIT_DIFFER
    if counts["error"] or counts["unavailable"] or grad.get("error") or grad.get("unavailable"):
        return EXIT_UNAVAILABLE
    return EXIT_OK


#: the upstream gradients a report can use: ones, or seeded normal noise
GRAD_OUTPUTS = ("ones", "randn")


@dataclasses.dataclass(frozen=True)
class GradOptions:
    """The backward pass of a report: ``ties`` for the reference (``px.pool2d_grad``), the
    upstream gradient (``"ones"`` or ``"randn"``, normal noise of ``seed`` on its own stream:
    ``numpy.random.default_rng([seed, 1])``, in the input's dtype)."""

    ties: str = "first"
    grad_output: str = "ones"
    seed: int = 0

    def __post_init__(self):
        check_ties(self.ties)
        if self.grad_output not in GRAD_OUTPUTS:
            raise PoolingError(f"grad_output: got {self.grad_output!r}; allowed: "
                               f"{', '.join(map(repr, GRAD_OUTPUTS))}")
        if type(self.seed) is not int or self.seed < 0:
            raise PoolingError(f"seed: got {self.seed!r}; allowed: an int >= 0")

    def upstream(self, x: np.ndarray, geometry) -> np.ndarray | None:
        """The upstream gradient for input ``x`` pooled by ``geometry`` (None: ones)."""
        if self.grad_output == "ones":
            return None
        shape = output_shape_of(x.shape, geometry)
        return np.random.default_rng([self.seed, 1]).standard_normal(shape).astype(x.dtype)

    def entry(self) -> dict:
        return {"ties": self.ties, "grad_output": self.grad_output,
                "seed": self.seed if self.grad_output == "randn" else None}


def case_arguments(case: Case, grad: GradOptions | None = None) -> dict:
    """``case`` as ``compare_many`` takes it, with the backward pass when ``grad`` is given
    (``PoolingError`` naming the case for an operation or input that has no gradient)."""
    arguments = case.arguments()
    if grad is None:
        return arguments
    if not case.operation.has_gradient:
        raise PoolingError(f"case {case.name!r}: {case.operation.no_gradient()}; "
                           f"allowed: the backward pass of pool2d cases only")
    _, _, x, geometry = resolve_case(case.arguments())
    if x.dtype.kind != "f":
        raise PoolingError(f"case {case.name!r}: input of dtype {x.dtype} has no gradient; "
                           f"allowed: the backward pass of float16, float32 or float64 inputs")
    return dict(arguments, grad=True, ties=grad.ties, grad_output=grad.upstream(x, geometry))


def build(cases: Iterable[Case], backends: Iterable[str] | None = None, pool=None,
          progress: Callable[[str], None] | None = None,
          grad: GradOptions | None = None) -> dict:
    """Run every case on every backend; the report document (see ``SCHEMA_DOC``).  ``grad``:
    the backward pass too, judged against ``px.pool2d_grad``; ``backends``: the default ones
    when None."""
    backends = registry.defaults() if backends is None else backends
    cases = list(cases)
    for case in cases:  # every argument checked before any worker starts (nothing computed)
        check_case(case, grad)
    pool = pool or default_pool()
    names = list(backends)
    hellos = pool.start(names, progress=progress)
    doc = {"schema": SCHEMA, "tool_version": __version__, "numpy_version": np.__version__,
           "backends": {name: _backend_entry(name, hellos[name]) for name in names}, "cases": []}
    counts = dict.fromkeys(("agree", "differ", "error", "unavailable", "mismatch"), 0)
    grad_counts = dict.fromkeys(GRAD_STATUSES, 0)
    comparisons = compare_many([case_arguments(case, grad) for case in cases], backends=names,
                               pool=pool)
    for case, result in zip(cases, comparisons):
        expected = case.expected
        matches, detail = _matches_expected(case, result)
        counts["mismatch"] += matches is False
        spec = {k: v for k, v in result.spec.items() if k != "op"}
        entry = {"name": case.name, "title": case.title, "op": case.op, "spec": spec,
                 "input": case.input, "reference": result.reference,
                 "reference_shape": list(result.reference.shape), "expected": expected,
                 "expected_shape": None if expected is None else list(np.shape(expected)),
                 "reference_matches_expected": matches, "expected_detail": detail,
                 "results": {}}
        for name, r in result.results.items():
            counts[r.status] += 1
            entry["results"][name] = {"status": r.status, "max_abs_diff": r.max_abs_diff,
                                      "output": r.output, "output_shape": None if r.output is
                                      None else list(r.output.shape),
                                      "detail": r.detail, "how": r.how,
                                      "differing": r.differing}
            if grad is not None:
                grad_counts[r.grad_status] += 1
                entry["results"][name].update(
                    grad_status=r.grad_status, grad_max_abs_diff=r.grad_max_abs_diff,
                    grad_input=r.grad_input, grad_detail=r.grad_detail,
                    grad_differing=r.grad_differing)
        if grad is not None:
            upstream = (result.grad_output if result.grad_output is not None else
                        np.ones(result.reference.shape, result.grad_reference.dtype))
            entry["grad"] = {**grad.entry(), "upstream": upstream,
                             "reference": result.grad_reference}
        doc["cases"].append(entry)
    if grad is not None:
        counts["grad"] = grad_counts
    doc["summary"] = {**counts, "exit_code": exit_code(counts)}
    return jsonable(doc)


def check_case(case: Case, grad: GradOptions | None = None):
    """A case's operation, its arguments and its input validated together (``PoolingError``
    naming the case and the argument; nothing computed): ``compare``'s resolved case; with
    ``grad``, its backward pass too."""
    try:
        resolved = resolve_case(case_arguments(case, grad))
    except TypeError as exc:  # a case file's kwargs that pool2d does not take
        raise PoolingError(f"case {case.name!r}: {exc}; allowed: px.pool2d's keyword "
                           f"arguments (op 'pool2d'), output_size, mode and layout (op "
                           f"'adaptive'), mode, p, keepdims and layout (op 'global')") from None
    _, _, x, geometry = resolved
    geometry.check_fits(x.shape, work_dtype(geometry.spec.mode, x.dtype))
    return resolved


def _matches_expected(case: Case, result) -> tuple[bool | None, str]:
    """Whether the reference matches ``case.expected`` (None: the case has none), judged as a
    backend's output is judged against the reference, and where not, the first difference."""
    if case.expected is None:
        return None, ""
    reference = np.asarray(result.reference)
    _, _, x, geometry = resolve_case(case.arguments())
    probe = BackendResult("expected", "", output=np.asarray(case.expected))
    judge(probe, reference, tolerance(geometry.spec.mode, reference.dtype, result.rtol,
                                      result.atol),
          lambda: input_scale(x, geometry), "the expected output")
    if probe.status == "agree":
        return True, ""
    if not probe.differing:  # another shape
        return False, f"expected shape {probe.output.shape}, reference {reference.shape}"
    count = probe.detail.split(" of ", 1)[0]
    index, value, ref = probe.differing[0]
    return False, (f"{count} of {reference.size} cells differ; first at {index}: expected "
                   f"{value!r}, reference {ref!r}")


def _backend_entry(name: str, hello) -> dict:
    """What the report says of one backend's worker: versions and where it runs, or why not;
    its column's ``label`` and the ``version`` asked for (``onnxruntime@1.22.1``; None: the
    pinned one)."""
    asked = {"version": split_name(name)[1]}
    if isinstance(hello, WorkerFailure):
        return {"status": hello.status, "label": label(name), **asked, "framework_version": None,
                "numpy_version": None, "python": None, "host": None, "where": None,
                "machine": None, "detail": hello.reason}
    return {"status": "ready", "label": label(name, hello.framework_version), **asked,
            "framework_version": hello.framework_version,
            "numpy_version": hello.numpy_version, "python": hello.python, "host": hello.host,
            "where": hello.where, "machine": hello.machine, "detail": ""}


EXIT_OK, EXIT_DIFFER, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3
