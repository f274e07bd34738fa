"""Judging a backend's output against the reference: statuses, tolerances and the known
framework behaviours a difference is named by.

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
cell (one number).  Large outputs are judged in blocks of ``JUDGE_BLOCK`` cells, so the
caller's memory stays near the input plus the outputs.
"""
from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from . import ops
from .blocks import reference_in_blocks
from .errors import PoolingError
from .spec import PoolSpec, resolve



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
    #: a pooling with indices (``ops.INDICES``): the values of the call, beside its indices
    values: np.ndarray | None = None


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
        same = cells_agree(o, r, tol, flat_scale[block] if np.ndim(flat_scale) else flat_scale,
                     bounds, start)
        if np.count_nonzero(same) == same.size:
            continue
        misses = np.flatnonzero(~same)
        found = _largest_difference(o[misses], r[misses])
        worst = found if math.isnan(found) or math.isnan(worst) else max(worst, found)
        count += misses.size
        bad.extend(int(i) + start for i in misses[:20 - len(bad)])
    return count, worst, bad


def cells_agree(out: np.ndarray, reference: np.ndarray, tol, scale, bounds: dict | None = None,
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


def _known_cause(value, expected, dtype: np.dtype) -> str:
    """Name the framework behaviour behind a difference, where it is a known one."""
    if isinstance(expected, float) and math.isnan(expected) and not (
            isinstance(value, float) and math.isnan(value)):
        return "NaN in the window ignored; the reference propagates NaN"
    if (dtype.kind == "f" and value == 0 and isinstance(expected, float) and expected != 0
            and abs(expected) < np.finfo(dtype).tiny):
        return ("a subnormal result flushed to zero (the CPU's flush-to-zero mode); the "
                "reference keeps it")
    if (dtype.kind == "f" and isinstance(value, float) and math.isinf(value)
            and isinstance(expected, float) and math.isfinite(expected)
            and abs(expected) > float(np.finfo(dtype).max) / 64
            and (value > 0) == (expected > 0)):
        return (f"an intermediate sum overflowed {dtype} to {value}: the framework's window "
                f"sum passes the largest {dtype}; the reference rescales a sum that would, and "
                f"its average is finite")
    if dtype.kind == "f" and isinstance(expected, float) and math.isinf(expected):
        info = np.finfo(dtype)
        lowest = {float(info.min), float(np.finfo(np.float32).min)}
        if expected < 0 and value in lowest:
            return "a window of only -inf gives the lowest finite value; the reference -inf"
        if expected > 0 and -value in lowest:
            return "a window of only +inf gives the largest finite value; the reference +inf"
    return ""


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
