"""Shrinking a case to a minimal one that still shows the same outcome: greedy delta debugging
(Zeller's ddmin, applied to each dimension of a case in turn).

From a case that reproduces, each pass proposes smaller cases, and the first that still
reproduces replaces it; passes repeat until none does or the budget of runs is spent:

1. one sample, one channel;
2. half the cells of each spatial axis (its first half or its last; an adaptive output size
   no larger);
3. fewer special or non-zero values: ddmin over the cells holding them, set to 0 in chunks
   of a half, a quarter, an eighth;
4. a simpler dtype (float32 for float64, float16 and int32);
5. simpler keywords: dilation 1, no ceil mode, no padding, stride 1, a smaller window or
   output size, no divisor, padding counted;
6. one cell less on an axis, at either end; 7. values set to 0 down to single cells.

A proposal the reference refuses is skipped without a run.  ``reproduces`` decides what "the
same outcome" is; the campaign's runs one backend on the case and compares the signature.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from .. import ops
from ..errors import PoolingError
from ..layout import spatial_axes


def shrink(case: dict, reproduces: Callable[[dict], bool], budget: int = 80) -> dict:
    """The smallest case found from ``case`` (``{"op", "X", "kwargs", ...}``) for which
    ``reproduces`` holds, with at most ``budget`` calls of it."""
    runs = 0
    improved = True
    while improved and runs < budget:
        improved = False
        for candidate in _proposals(case):
            if not _valid(candidate):
                continue
            runs += 1
            if reproduces(candidate):
                case, improved = candidate, True
                break
            if runs >= budget:
                break
    return case


def size(case: dict) -> tuple:
    """How large a case is, smallest first: cells, special values, non-zero values, dtype
    width."""
    x = case["X"]
    special = int((~np.isfinite(x)).sum()) if x.dtype.kind == "f" else 0
    return x.size, special, int(np.count_nonzero(x)), x.dtype.itemsize


def _valid(case: dict) -> bool:
    kwargs = dict(case["kwargs"])
    grad = bool(kwargs.pop("grad", False))
    try:
        ops.get(case["op"]).resolve_case(kwargs, case["X"], grad)
    except PoolingError:
        return False
    return True


def _with(case: dict, x: np.ndarray | None = None, **kwargs) -> dict:
    changed = dict(case, kwargs={**case["kwargs"], **kwargs})
    if x is not None:
        changed["X"] = x
    return changed


def _proposals(case: dict) -> Iterator[dict]:
    """Smaller cases, the largest reductions first."""
    x, kwargs = case["X"], case["kwargs"]
    layout = kwargs["layout"]
    for axis in (0, layout.index("C")):  # 1. one sample, one channel (each of them)
        for keep in range(min(x.shape[axis], 4) if x.shape[axis] > 1 else 0):
            yield _with(case, np.take(x, [keep], axis=axis))
    axes = spatial_axes(x.ndim, layout)
    for axis in axes:  # 2. half the cells of each spatial axis, its first or its last half
        n = x.shape[axis]
        if n > 1:
            for cells in (range(n // 2), range(n - n // 2, n)):
                yield _cropped(case, axis, axes.index(axis), cells)
    yield from _fewer_values(case, chunks=8)  # 3.
    if x.dtype != np.float32:  # 4.
        yield _with(case, x.astype(np.float32))
    yield from _simpler_keywords(case)  # 5.
    for axis in axes:  # 6. one cell less, at either end
        n = x.shape[axis]
        if n > 1:
            for cells in (range(n - 1), range(1, n)):
                yield _cropped(case, axis, axes.index(axis), cells)
    yield from _fewer_values(case)  # 7. down to single cells


def _cropped(case: dict, axis: int, index: int, cells: range) -> dict:
    """``case`` with only ``cells`` of the spatial ``axis`` (its ``index``-th); an adaptive
    output size no larger than the cells kept."""
    smaller = _with(case, np.take(case["X"], cells, axis=axis))
    output = case["kwargs"].get("output_size")
    if isinstance(output, list) and output[index] is not None and output[index] > len(cells):
        sizes = list(output)
        sizes[index] = len(cells)
        smaller["kwargs"]["output_size"] = sizes
    return smaller


def _fewer_values(case: dict, chunks: int | None = None) -> Iterator[dict]:
    """ddmin's chunks: the special (non-finite, extreme, denormal) cells first, then every
    non-zero cell, set to 0 a half, a quarter, ... at a time (down to ``chunks`` parts; None:
    single cells)."""
    x = case["X"]
    flat = x.reshape(-1)
    if x.dtype.kind == "f":
        info = np.finfo(x.dtype)
        special = ~np.isfinite(flat) | (np.abs(flat) >= info.max / 2) | (
            (flat != 0) & (np.abs(flat) < info.tiny))
    else:
        info = np.iinfo(x.dtype)
        special = (flat == info.min) | (flat == info.max)
    for cells in (np.flatnonzero(special), np.flatnonzero(flat)):
        parts = 2
        while len(cells) and parts <= 2 * len(cells) and (chunks is None or parts <= chunks):
            for part in np.array_split(cells, min(parts, len(cells))):
                if len(part):
                    zeroed = flat.copy()
                    zeroed[part] = 0
                    yield _with(case, zeroed.reshape(x.shape))
            parts *= 2


def _simpler_keywords(case: dict) -> Iterator[dict]:
    kwargs = case["kwargs"]
    simpler = [("dilation", 1), ("ceil_mode", False), ("padding", 0), ("stride", 1),
               ("count_include_pad", True), ("keepdims", True)]
    for name, value in simpler:
        if name in kwargs and kwargs[name] != value:
            yield _with(case, **{name: value})
    if "divisor" in kwargs:
        yield dict(case, kwargs={k: v for k, v in kwargs.items() if k != "divisor"})
    for name in ("pool_size", "output_size"):
        value = kwargs.get(name)
        if value is None:
            continue
        sizes = [value] if isinstance(value, int) else list(value)
        if any(s > 1 for s in sizes if s is not None):
            smaller = [max(s - 1, 1) if s is not None else s for s in sizes]
            yield _with(case, **{name: smaller[0] if isinstance(value, int) else smaller})
