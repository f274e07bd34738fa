"""Judging a pooling with indices (``ops.INDICES``): the indices exactly, in the convention asked
for, then the values of the same call; and the cause of a differing index, read from the input
cells the two indices name.

Causes, each named only where every differing window listed shows it (else the difference
stays unexplained):

* an index that names no cell of its window's sample and channel (converted as
  ``indices.NAMES_NO_CELL``; measured: PyTorch's index past the plane for a dilated window of
  padding only, ONNX Runtime's -3);
* NaN in the window ignored: the backend's index names a number where the reference names the
  window's first NaN (TensorFlow and ONNX Runtime keep a NaN only as the window's first cell,
  Paddle never);
* another NaN: both name a NaN, the backend a later one (PyTorch's index is the last NaN's);
* a tie broken otherwise: the two cells hold the same value;
* no winner: the backend says -1 for a window that reads cells, or names a cell for a window
  of padding only.
"""
from __future__ import annotations

import numpy as np

from .diagnose import empty_window_cause
from .indices import NAMES_NO_CELL, _planes_first, convert_indices
from .judge import BackendResult, judge


def judge_indices(result: BackendResult, values: np.ndarray, note: str, job) -> None:
    """Judge ``result.output`` (the backend's indices, converted to the convention asked for)
    against ``job.reference``, then ``values`` against ``job.values_reference``: a difference
    in either makes the result ``differ``, its detail saying which."""
    judge(result, job.reference, (0.0, 0.0), 0.0,
          cause=lambda differing: index_cause(differing, note, job))
    result.values = values
    scratch = BackendResult(result.backend, "error", output=values)
    judge(scratch, job.values_reference, (0.0, 0.0), 0.0,
          cause=lambda differing: empty_window_cause(differing, job))
    if scratch.status != "differ":
        return
    if result.status == "agree":
        result.status, result.max_abs_diff = "differ", scratch.max_abs_diff
        result.differing = []
        result.detail = f"indices agree; {job.op.second_name}: {scratch.detail}"
    else:
        result.detail += f"; {job.op.second_name}: {scratch.detail}"


def index_cause(result: BackendResult, note: str, job) -> str:
    """The cause of the differing indices of ``result`` (see the module docstring), or ''."""
    if not result.differing or result.output.shape != job.reference.shape:
        return ""
    if note and any(value == NAMES_NO_CELL for _, value, _ in result.differing):
        return note
    layout, convention = job.spec.layout, job.geometry.convention
    planes, _ = _planes_first(job.x, layout)
    cells = planes.reshape(planes.shape[:2] + (-1,))
    try:
        got = convert_indices(np.where(result.output == NAMES_NO_CELL, -1, result.output),
                              job.x.shape, layout=layout, source=convention, target="plane")
        expected = convert_indices(job.reference, job.x.shape, layout=layout,
                                   source=convention, target="plane")
    except Exception:  # noqa: BLE001 - indices that do not convert: no claim
        return ""
    got_full, _ = _planes_first(got, layout)
    expected_full, _ = _planes_first(expected, layout)
    kinds = set()
    for where in _differing_cells(result, layout):
        n, c = where[:2]
        mine, theirs = int(got_full[where]), int(expected_full[where])
        kinds.add(_kind(cells[n, c], mine, theirs))
    if "" in kinds or not kinds:
        return ""
    return "; ".join(sorted(kinds))


def _differing_cells(result: BackendResult, layout: str) -> list[tuple[int, ...]]:
    """Each differing cell listed in ``result`` as ``(n, c, *spatial)`` of its array with the
    planes first (``indices._planes_first``), from one mask of the output's size."""
    marked = np.zeros(result.output.shape, bool)
    for index, _, _ in result.differing:
        marked[index] = True
    planes, _ = _planes_first(marked, layout)
    return [tuple(int(i) for i in where) for where in np.argwhere(planes)]


def _kind(plane: np.ndarray, mine: int, theirs: int) -> str:
    """What one differing window shows (its plane's cells, the backend's and the reference's
    plane index)."""
    if theirs < 0:
        return "an index for a window of padding only; the reference -1 (no cell)"
    if mine < 0:
        return "-1 (no cell) for a window that reads cells"
    a, b = plane[mine], plane[theirs]
    a_nan, b_nan = bool(np.isnan(a)) if plane.dtype.kind == "f" else False, \
        bool(np.isnan(b)) if plane.dtype.kind == "f" else False
    if b_nan and not a_nan:
        return ("NaN in the window ignored: the index of a number, the reference's the "
                "window's first NaN")
    if a_nan and b_nan:
        return ("another NaN of the window: a " + ("later" if mine > theirs else "earlier") +
                " one; the reference names its first NaN")
    if a == b:
        return ("a tie broken otherwise: another cell of the same value; the reference names "
                "the first in row-major order")
    return ""


def _epsilon(dtype: np.dtype) -> float:
    """The relative rounding of one addition in ``dtype`` (at least float64's): a sum of n
    values added in float16 is within n of them of the exact sum."""
    return float(np.finfo(dtype).eps) if dtype.kind == "f" else float(np.finfo(np.float64).eps)


def unpool_cause(result: BackendResult, job) -> str:
    """The cause of a differing unpooling, or '': a cell that several windows name holding
    their values summed (TensorFlow's ``scatter_nd`` recipe), or a value written where no index
    names a cell while some index is -1 (a window of padding only written somewhere: JAX's
    ``put`` wraps -1 to the last cell)."""
    if not result.differing or result.output.shape != job.reference.shape:
        return ""
    layout = job.spec.layout
    out_full, _ = _planes_first(result.output, layout)
    reference, _ = _planes_first(job.reference, layout)
    index_full, _ = _planes_first(job.geometry.indices, layout)
    flat = index_full.reshape(index_full.shape[:2] + (-1,))
    values = _planes_first(job.x, layout)[0].reshape(flat.shape)  # the values unpooled
    kinds, summed = set(), set()
    for n, c, *cell in _differing_cells(result, layout):
        value, expected = out_full[(n, c, *cell)].item(), reference[(n, c, *cell)].item()
        plane_cell = int(np.ravel_multi_index(cell, out_full.shape[2:]))
        named = int(np.count_nonzero(flat[n, c] == plane_cell))
        if named > 1 and expected != 0 and np.isclose(value, named * expected,
                                                      rtol=named * _epsilon(out_full.dtype)):
            summed.add(named)
        elif (plane_cell == out_full[n, c].size - 1 and (flat[n, c] < 0).any()
              and np.isin(value, values[n, c][flat[n, c] < 0])):
            kinds.add("index -1 (a window of padding only) wrapped to the plane's last cell, "
                      "its value written there; the reference writes nothing")
        elif named == 0 and expected == 0 and (flat[n, c] < 0).any():
            kinds.add("a value written where no index names a cell, in a plane with index -1 "
                      "(a window of padding only: the reference writes nothing)")
        else:
            return ""
    if summed:
        counts = [str(n) for n in sorted(summed)]
        many = counts[0] if len(counts) == 1 else f"{', '.join(counts[:-1])} or {counts[-1]}"
        kinds.add(f"a cell that {many} windows name holds their values summed "
                  f"(a scatter that adds); the reference writes the one value")
    return "; ".join(sorted(kinds))
