"""Max (and min) pooling with the argmax of each window, the index conventions of the frameworks,
and unpooling: ``px.pool2d_with_indices``, ``px.convert_indices``, ``px.max_unpool2d`` (and the
other ranks).

The winner of a window is the reference's, the cell the gradient goes to with ``ties="first"``:
its first extreme in row-major order within the window, or its first NaN (a NaN makes the window
NaN); padding never wins, even against a real -inf; a window of padding only has no winner and
its index is -1 (Paddle's own marker for that window).  It is found one spatial axis at a time,
the last axis first: along an axis, each (window, cells of the later axes) keeps its first best
tap, so the winner is the lexicographically first cell among the window's extremes.

Index conventions (``INDEX_CONVENTIONS``), each an int64 position of the winning cell:

* ``"plane"``: the flat position within its (N, C) plane of the unpadded input, row-major over
  the spatial axes, ``y*W + x`` (PyTorch's ``return_indices``, int64; Paddle's ``return_mask``,
  int32; ``max_unpool`` takes it);
* ``"tensor"``: the flat position in the input array as given, in the C order of its layout
  (for NCHW ``((n*C + c)*H + y)*W + x``: ONNX ``MaxPool``'s second output, ``storage_order=0``);
* ``"tf"``: ``(y*W + x)*C + c``, the position within one sample laid out channels-last
  (TensorFlow's ``max_pool_with_argmax``, ``include_batch_in_index=False``);
* ``"tf_batch"``: that plus ``n*H*W*C`` (``include_batch_in_index=True``).

Unpooling is the inverse scatter, PyTorch's rule (``F.max_unpool2d``): each value goes to the flat
position its index names in the output plane of ``output_size`` (by default
``(in - 1)*stride - pads + kernel`` per axis), every other cell is 0.  Two windows that share a
winner write the same value (the same input cell): that is checked, and an index outside the
plane (other than -1, which writes nothing) is refused, naming it.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import PoolingError
from .layout import channels_last, check_layout
from .layout import rank as layout_rank
from .reference import CHUNK_BYTES, _pad_for, _tap, as_input, identity
from .spec import Geometry, make_spec, resolve

INDEX_CONVENTIONS = ("plane", "tensor", "tf", "tf_batch")
#: each convention's numbering, in words
INDEX_WORDS = {"plane": "y*W + x within each sample and channel",
               "tensor": "the flat position in the input array, in its layout's C order",
               "tf": "(y*W + x)*C + c within each sample",
               "tf_batch": "((n*H + y)*W + x)*C + c"}


def check_convention(name: str, value) -> str:
    """An index convention checked (``PoolingError`` naming ``name`` otherwise)."""
    if not isinstance(value, str) or value.lower() not in INDEX_CONVENTIONS:
        raise PoolingError(f"{name}: got {value!r}; allowed: "
                           f"{', '.join(map(repr, INDEX_CONVENTIONS))}")
    return value.lower()


def _planes_first(x: np.ndarray, layout: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """``x`` as (N, C, *spatial), channels before the spatial axes (a view where it can be),
    with the (N, C) that an input of lower rank stands for as 1s."""
    rank = layout_rank(layout)
    lead = x.ndim - rank  # 0, 1 (C) or 2 (N, C)
    if channels_last(layout) and lead:
        x = np.moveaxis(x, -1, lead - 1)
    return x.reshape((1,) * (2 - lead) + x.shape), x.shape[-rank:]


def _planes_shape(shape, layout: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``_planes_first``'s (N, C) and spatial sizes for an array of ``shape``, nothing
    allocated."""
    full, spatial = _planes_first(np.broadcast_to(np.int8(0), tuple(shape)), layout)
    return full.shape[:2], spatial


def _back(a: np.ndarray, layout: str, ndim: int) -> np.ndarray:
    """An (N, C, *out) array back in ``layout`` at the input's rank ``ndim``."""
    rank = layout_rank(layout)
    lead = ndim - rank
    a = a.reshape(a.shape[2 - lead:]) if lead < 2 else a
    if channels_last(layout) and lead:
        a = np.moveaxis(a, lead - 1, -1)
    return a


def _axis_pass(values, carried, axis: int, g, mode: str, fill, padded: bool):
    """One axis of the argmax: per window along ``axis`` (and every cell of the other axes),
    the first best tap's value, its position along the axis, and the positions the later axes
    chose there (``carried``; -1: padding).  Returns (values, [position, *carried])."""
    better_than = np.greater if mode == "max" else np.less
    floats = values.dtype.kind == "f"
    values = _pad_for(values, axis, g, fill)
    carried = [_pad_for(c, axis, g, -1) for c in carried]
    shape = [1] * values.ndim
    shape[axis] = g.out
    starts = np.arange(g.out, dtype=np.int64) * g.stride - g.pad_before
    index = [slice(None)] * values.ndim
    best = best_at = kept = None
    for j in range(g.kernel):
        index[axis] = _tap(g, j)
        v = values[tuple(index)]
        at = starts + j * g.dilation
        at = np.where((at >= 0) & (at < g.size), at, -1).astype(np.int32).reshape(shape)
        picks = [c[tuple(index)] for c in carried]
        if best is None:
            best = v.copy()
            best_at = np.broadcast_to(at, v.shape).copy()
            kept = [p.copy() for p in picks]
            continue
        better = better_than(v, best)
        if floats:
            better |= np.isnan(v) & ~np.isnan(best)
        if padded:  # a real cell wins a tie against padding (-inf against -inf)
            real = at >= 0
            for p in picks:
                real = real & (p >= 0)
            unreal = best_at < 0
            for k in kept:
                unreal = unreal | (k < 0)
            better |= (v == best) & unreal & real
        np.copyto(best, v, where=better)
        np.copyto(best_at, at, where=better)
        for k, p in zip(kept, picks):
            np.copyto(k, p, where=better)
    return best, [best_at] + kept


def _argpool_fast(planes: np.ndarray, geom: Geometry, mode: str, fill
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``_argpool`` for planes with no NaN and no cell equal to the padding's value, so that
    padding never needs reading and equality with the extreme finds the winners: per axis, the
    last first, each tap over the block of windows where it reads a real cell (a strided view,
    no padded copy); the extreme, the first tap equal to it (counted as the taps before it that
    are not) and the later axes' taps carried from it; then each winner's plane index from its
    window's start and taps."""
    extreme = np.maximum if mode == "max" else np.minimum
    values, taps = planes, []
    for axis in range(planes.ndim - 1, 0, -1):
        g = geom.axes[axis - 1]
        shape = list(values.shape)
        shape[axis] = g.out
        blocks = []  # per tap: (its cells, in its phase, the windows it reads them for)
        index = [slice(None)] * values.ndim
        last = axis == values.ndim - 1 and g.stride > 1
        # strided views of the last axis are several times slower: its phases, contiguous
        source_of = ([np.ascontiguousarray(values[..., p::g.stride]) for p in range(g.stride)]
                     if last else None)
        for j in range(g.kernel):
            offset = j * g.dilation - g.pad_before
            first = max(0, -(offset // g.stride))  # ceil(-offset / s)
            stop = min(g.out, -((offset - g.size) // g.stride))  # ceil((size - offset) / s)
            if first >= stop:
                blocks.append(None)
                continue
            start = first * g.stride + offset
            if last:
                index[axis] = slice(start // g.stride, start // g.stride + stop - first)
                cells = source_of[start % g.stride][tuple(index)]
            else:
                index[axis] = slice(start, (stop - 1) * g.stride + offset + 1, g.stride)
                cells = values[tuple(index)]
            index[axis] = slice(first, stop)
            blocks.append((cells, tuple(index)))
        best = np.full(shape, fill, values.dtype)
        for found in filter(None, blocks):
            extreme(best[found[1]], found[0], out=best[found[1]])
        winner = np.zeros(shape, np.min_scalar_type(g.kernel))
        before = np.ones(shape, bool)
        differs = np.empty(shape, bool)
        for found in blocks[:-1]:
            if found is not None:  # a tap of padding is not the extreme
                if found[1][axis] != slice(0, g.out):
                    differs.fill(True)
                np.not_equal(found[0], best[found[1]], out=differs[found[1]])
                np.logical_and(before, differs, out=before)
            np.add(winner, before, out=winner)
        carried = []
        for t in taps:  # the later axes' taps, taken from this axis' winning tap: the sum
            # of each tap's times whether it won (np.copyto with where= is several times slower)
            kept, part = np.zeros(shape, t.dtype), np.empty(shape, t.dtype)
            for j, found in enumerate(blocks):
                if found is not None:
                    offset = j * g.dilation - g.pad_before
                    window, into = found[1][axis], found[1]
                    index[axis] = slice(window.start * g.stride + offset,
                                        (window.stop - 1) * g.stride + offset + 1, g.stride)
                    np.equal(winner[into], j, out=differs[into])
                    np.multiply(differs[into], t[tuple(index)], out=part[into])
                    np.add(kept[into], part[into], out=kept[into])
            carried.append(kept)
        values, taps = best, [winner] + carried
    strides = np.cumprod((planes.shape[1:] + (1,))[::-1])[::-1][1:]  # per spatial axis
    flat = np.zeros((1,) + values.shape[1:], np.int64)
    for a, (g, step) in enumerate(zip(geom.axes, strides)):
        shape = [1] * values.ndim
        shape[a + 1] = g.out
        flat = flat + ((np.arange(g.out, dtype=np.int64) * g.stride - g.pad_before)
                       * step).reshape(shape)
    flat = np.broadcast_to(flat, values.shape).copy()
    for t, g, step in zip(taps, geom.axes, strides):
        flat += t * np.int64(g.dilation * step)
    empty = geom.empty_windows()
    if empty.any():
        flat[:, empty] = -1
    return values, flat


def _argpool(planes: np.ndarray, geom: Geometry, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(values, plane indices) of (P, *spatial) planes: the last axis first, then each earlier
    one; -1 where a window reads only padding."""
    rank = planes.ndim - 1
    padded = any(g.pad_before or g.pad_after or g.overhang for g in geom.axes)
    fill = identity(planes.dtype, mode)
    if not (planes.dtype.kind == "f" and np.isnan(planes).any()) and not (
            padded and (planes == fill).any()):
        return _argpool_fast(planes, geom, mode, fill)
    values, carried = planes, []
    for axis in range(rank, 0, -1):
        values, carried = _axis_pass(values, carried, axis, geom.axes[axis - 1], mode, fill,
                                     padded)
    flat = np.zeros(values.shape, np.int64)
    invalid = np.zeros(values.shape, bool)
    step = 1
    for axis in range(rank, 0, -1):
        coord = carried[axis - 1]
        flat += coord.astype(np.int64) * step
        invalid |= coord < 0
        step *= planes.shape[axis]
    flat[invalid] = -1
    return values, flat


def pool_with_indices(rank: int | None, X, pool_size, mode: str = "max", *,
                      indices: str = "plane", **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """``px.pool*d_with_indices``: (values, int64 indices), each in ``X``'s rank and layout."""
    convention = check_convention("indices", indices)
    spec = make_spec(pool_size, mode, rank=rank, **kwargs)
    if spec.mode not in ("max", "min"):
        raise PoolingError(f"mode: got {mode!r}; allowed: 'max' or 'min' (a window's argmax)")
    x = as_input(X)
    geom = resolve(spec, x.shape)
    geom.check_fits(x.shape, x.dtype)
    full, spatial = _planes_first(x, spec.layout)
    work = full.astype(np.float32) if full.dtype == np.float16 else full
    planes = work.reshape((-1,) + spatial)
    per = max(1, CHUNK_BYTES // max(planes[0].nbytes, 1))
    values = np.empty((planes.shape[0],) + geom.out, work.dtype)
    flat = np.empty((planes.shape[0],) + geom.out, np.int64)
    for start in range(0, planes.shape[0], per):
        part = slice(start, start + per)
        values[part], flat[part] = _argpool(planes[part], geom, spec.mode)
    values = values.astype(x.dtype, copy=False).reshape(full.shape[:2] + geom.out)
    flat = flat.reshape(full.shape[:2] + geom.out)
    if convention != "plane":
        flat = _encode(flat, convention, full.shape[:2], spatial, x.shape, spec.layout)
    return _back(values, spec.layout, x.ndim), _back(flat, spec.layout, x.ndim)


def _encode(plane: np.ndarray, convention: str, nc, spatial, input_shape, layout: str):
    """Plane indices of an (N, C, *out) array as ``convention``'s (-1 stays -1)."""
    n = np.arange(nc[0], dtype=np.int64).reshape((-1, 1) + (1,) * len(spatial))
    c = np.arange(nc[1], dtype=np.int64).reshape((1, -1) + (1,) * len(spatial))
    cells = math.prod(spatial)
    if convention == "tensor":
        if channels_last(layout):  # (N, *spatial, C): each spatial cell holds C values
            out = (n * cells + plane) * nc[1] + c
        else:
            out = (n * nc[1] + c) * cells + plane
    else:  # tf: (position * C + c), tf_batch: and n * cells * C
        out = plane * nc[1] + c + (n * cells * nc[1] if convention == "tf_batch" else 0)
    return np.where(plane < 0, -1, out)


def _decode(index: np.ndarray, convention: str, nc, spatial, layout: str,
            strict: bool = True) -> np.ndarray:
    """``convention``'s indices of an (N, C, *out) array as plane indices (-1 stays -1); an
    index that names another (N, C) plane than its window's is refused (``strict=False``:
    written as ``NAMES_NO_CELL``)."""
    n = np.arange(nc[0], dtype=np.int64).reshape((-1, 1) + (1,) * len(spatial))
    c = np.arange(nc[1], dtype=np.int64).reshape((1, -1) + (1,) * len(spatial))
    cells = math.prod(spatial)
    if convention == "plane":
        plane, n_of, c_of = index, n, c
    elif convention == "tensor" and not channels_last(layout):
        plane, rest = index % cells, index // cells
        n_of, c_of = rest // nc[1], rest % nc[1]
    else:  # channels-last order: (position * C + c), with n * cells * C for tf_batch/tensor
        c_of, rest = index % nc[1], index // nc[1]
        plane = rest % cells
        n_of = rest // cells if convention != "tf" else n
    wrong = ((index >= 0) & ((plane < 0) | (plane >= cells) | (n_of != n) | (c_of != c))
             | (index < -1))
    if not strict:
        return np.where(wrong, NAMES_NO_CELL, np.where(index < 0, -1, plane))
    if wrong.any():
        at = tuple(int(i) for i in np.argwhere(wrong)[0])
        raise PoolingError(f"indices: got {int(index[at])} at (N, C) position {at[:2]} as "
                           f"{convention!r} indices; allowed: -1 or a position of a cell of "
                           f"that sample and channel ({cells} cells of {tuple(spatial)})")
    return np.where(index < 0, -1, plane)


#: what ``framework_indices`` writes for an index that names no cell of its window's sample and
#: channel (never a reference's index: those are -1 or a cell)
NAMES_NO_CELL = -2


def framework_indices(index: np.ndarray, input_shape, layout: str, source: str,
                      source_layout: str, target: str, pads=()) -> tuple[np.ndarray, str]:
    """A framework's indices (shaped as the pooled output in ``layout``, in ``source``'s
    convention read in ``source_layout``) in ``target``'s convention, to be judged: an index
    that names no cell of its own sample and channel becomes ``NAMES_NO_CELL``, and the note
    says the first (where it was, the framework's number); "" when there is none.  ``pads``:
    (before, after) per spatial axis of an input the framework saw padded: its indices number
    that padded input's cells, and one that names a padding cell is -1 (no cell)."""
    full, _ = _planes_first(np.asarray(index).astype(np.int64), layout)
    _, spatial = _planes_shape(input_shape, layout)
    nc = full.shape[:2]
    if pads:
        padded = tuple(n + b + a for n, (b, a) in zip(spatial, pads))
        plane = _decode(full, source, nc, padded, source_layout, strict=False)
        named = plane >= 0
        where = np.unravel_index(np.where(named, plane, 0), padded)
        inside = named.copy()
        coords = []
        for coord, n, (before, _) in zip(where, spatial, pads):
            coord = coord - before
            inside &= (coord >= 0) & (coord < n)
            coords.append(np.clip(coord, 0, n - 1))
        plane = np.where(inside, np.ravel_multi_index(coords, spatial),
                         np.where(plane == NAMES_NO_CELL, NAMES_NO_CELL, -1))
    else:
        plane = _decode(full, source, nc, spatial, source_layout, strict=False)
    note = ""
    if (plane == NAMES_NO_CELL).any():
        at = tuple(int(i) for i in np.argwhere(plane == NAMES_NO_CELL)[0])
        note = (f"its index {int(full[at])} at (N, C) {at[:2]}, window {at[2:]} names no cell "
                f"of that sample and channel ({int(np.prod(spatial))} cells of "
                f"{tuple(spatial)}), read as {source!r} indices; judged as {NAMES_NO_CELL}")
    out = plane if target == "plane" else np.where(
        plane == NAMES_NO_CELL, NAMES_NO_CELL,
        _encode(plane, target, nc, spatial, input_shape, layout))
    return _back(out, layout, np.ndim(index)), note


def indices_for(plane: np.ndarray, output_shape, layout: str, target: str,
                target_layout: str) -> np.ndarray:
    """Plane indices (shaped as the pooled values in ``layout``) as ``target``'s convention
    read in ``target_layout``, for an unpooled output of ``output_shape`` (in ``layout``): the
    indices a framework's unpooling takes; -1 stays -1."""
    full, _ = _planes_first(np.asarray(plane).astype(np.int64), layout)
    _, spatial = _planes_shape(output_shape, layout)
    out = full if target == "plane" else _encode(full, target, full.shape[:2], spatial,
                                                  output_shape, target_layout)
    return _back(out, layout, np.ndim(plane))


def convert_indices(indices, input_shape, *, layout: str = "NCHW", source: str = "plane",
                    target: str = "tensor") -> np.ndarray:
    """Indices of one convention as another (``INDEX_CONVENTIONS``).

    Args:
        indices: an int array shaped as the pooled output, in ``layout`` (the second result of
            ``px.pool2d_with_indices``, or a framework's, moved to ``layout``); -1 marks a
            window of padding only and stays -1.
        input_shape: the shape of the input that was pooled, in ``layout``.
        layout: any rank's layout (NCW, NCHW, NDHWC, ...).
        source: the convention of ``indices``.
        target: the convention wanted.

    Returns:
        int64 indices of ``target``'s convention, shaped as ``indices``.

    Raises:
        PoolingError: an unknown convention or layout, shapes that do not match, or an index
            that names no cell of its own sample and channel.
    """
    source, target = check_convention("source", source), check_convention("target", target)
    layout = check_layout(layout)
    index = np.asarray(indices)
    if index.dtype.kind not in "iu":
        raise PoolingError(f"indices: got dtype {index.dtype}; allowed: an integer array")
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != index.ndim or len(shape) < layout_rank(layout):
        raise PoolingError(f"input_shape: got {shape} for indices of shape {index.shape}; "
                           f"allowed: the pooled input's shape, of the indices' rank")
    planes, spatial = _planes_shape(shape, layout)
    full, _ = _planes_first(index.astype(np.int64), layout)
    if full.shape[:2] != planes:
        raise PoolingError(f"input_shape: got {shape} for indices of shape {index.shape}; "
                           f"allowed: the same N and C")
    plane = _decode(full, source, full.shape[:2], spatial, layout)
    out = plane if target == "plane" else _encode(plane, target, full.shape[:2], spatial,
                                                   shape, layout)
    return _back(out, layout, index.ndim)


def max_unpool(rank: int | None, values, indices, pool_size, *, stride=None, padding=0,
               output_size=None, convention: str = "plane", layout: str = "NCHW") -> np.ndarray:
    """``px.max_unpool*d``: each value scattered to the cell its index names."""
    convention = check_convention("convention", convention)
    spec = make_spec(pool_size, "max", stride=pool_size if stride is None else stride,
                     padding=padding, layout=layout, rank=rank)
    if isinstance(spec.padding, str):
        raise PoolingError(f"padding: got {padding!r}; allowed: an int or pads per axis (the "
                           f"unpooled size needs them)")
    v = as_input(values)
    index = np.asarray(indices)
    if index.dtype.kind not in "iu" or index.shape != v.shape:
        raise PoolingError(f"indices: got a {index.dtype} array of shape {index.shape}; "
                           f"allowed: integers shaped as values {v.shape}")
    full_v, pooled = _planes_first(v, spec.layout)
    full_i, _ = _planes_first(index.astype(np.int64), spec.layout)
    default = tuple((n - 1) * s - pb - pa + k for n, s, (pb, pa), k in
                    zip(pooled, spec.stride, spec.padding, spec.pool_size))
    if output_size is None:
        sizes = default
    else:
        sizes = tuple(int(s) for s in np.atleast_1d(output_size))[-len(pooled):]
        if len(sizes) != len(pooled) or min(sizes) < 1:
            raise PoolingError(f"output_size: got {output_size!r}; allowed: {len(pooled)} "
                               f"sizes >= 1, one per spatial axis (default {default})")
    if convention != "plane":
        full_i = _decode(full_i, convention, full_i.shape[:2], sizes, spec.layout)
    cells = math.prod(sizes)
    flat_i = full_i.reshape(full_i.shape[0] * full_i.shape[1], -1)
    flat_v = full_v.reshape(flat_i.shape)
    bad = (flat_i < -1) | (flat_i >= cells)
    if bad.any():
        p, w = (int(a) for a in np.argwhere(bad)[0])
        raise PoolingError(f"indices: got {int(flat_i[p, w])} in (N, C) plane {p}; allowed: -1 "
                           f"(a window of padding only: nothing written) or 0..{cells - 1}, a "
                           f"flat position in the output plane of {sizes}")
    out = np.zeros((flat_i.shape[0], cells), v.dtype)
    where = flat_i + (np.arange(flat_i.shape[0], dtype=np.int64) * cells)[:, None]
    written = flat_i >= 0
    if not written.all():
        where, flat_v = where[written], flat_v[written]
    flat_out = out.reshape(-1)
    flat_out[where] = flat_v  # where windows share a cell, one of their values stays
    kept = flat_out[where]
    clash = kept != flat_v
    if clash.any() and kept.dtype.kind == "f":
        clash &= ~(np.isnan(kept) & np.isnan(flat_v))  # NaN written where NaN is: the same
    if clash.any():  # another value written to the same cell
        i = np.flatnonzero(clash)[0]
        raise PoolingError(f"values: got {flat_v.reshape(-1)[i].item()!r} and "
                           f"{kept.reshape(-1)[i].item()!r} for the same index "
                           f"{int(where.reshape(-1)[i] % cells)} of plane "
                           f"{int(where.reshape(-1)[i] // cells)}; allowed: equal values where "
                           f"windows share a cell (the same input cell)")
    out = out.reshape(full_v.shape[:2] + sizes)
    return _back(out, spec.layout, v.ndim)


def pool2d_with_indices(X, pool_size, mode: str = "max", *, stride=1, padding=0, dilation=1,
                        ceil_mode: bool | str = False, layout: str = "NCHW",
                        indices: str = "plane", allow_empty_windows: bool = False
                        ) -> tuple[np.ndarray, np.ndarray]:
    """2-D max (or min) pooling and the position of each window's winner.

    Args:
        X: as ``px.pool2d`` takes it.
        pool_size: the window; it and stride, padding, dilation, ceil_mode, layout and
            allow_empty_windows as ``px.pool2d`` takes them.
        mode: ``"max"`` or ``"min"``.
        indices: the index convention, ``INDEX_CONVENTIONS``: ``"plane"`` (PyTorch's, Paddle's),
            ``"tensor"`` (ONNX's), ``"tf"`` or ``"tf_batch"`` (TensorFlow's, without or with
            the batch term).

    Returns:
        ``(values, indices)``: ``px.pool2d``'s values, and int64 indices of the same shape:
        each window's first extreme in row-major order (its first NaN where it has one; -1
        for a window of padding only).

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return pool_with_indices(2, X, pool_size, mode, stride=stride, padding=padding,
                             dilation=dilation, ceil_mode=ceil_mode, layout=layout,
                             indices=indices, allow_empty_windows=allow_empty_windows)


def pool1d_with_indices(X, pool_size, mode: str = "max", *, layout: str = "NCW", **kwargs
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``px.pool2d_with_indices`` over one spatial axis (NCW/NWC): the same arguments (one
    size per axis) and results."""
    return pool_with_indices(1, X, pool_size, mode, layout=layout, **kwargs)


def pool3d_with_indices(X, pool_size, mode: str = "max", *, layout: str = "NCDHW", **kwargs
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``px.pool2d_with_indices`` over three spatial axes (NCDHW/NDHWC): the same arguments
    (one size per axis) and results."""
    return pool_with_indices(3, X, pool_size, mode, layout=layout, **kwargs)


def max_unpool2d(values, indices, pool_size, *, stride=None, padding=0, output_size=None,
                 convention: str = "plane", layout: str = "NCHW") -> np.ndarray:
    """The inverse scatter of ``px.pool2d_with_indices``: PyTorch's ``F.max_unpool2d``.

    Args:
        values: the pooled values, (N, C, h, w) or a lower rank, in ``layout``.
        indices: their indices, of ``values``' shape, in ``convention``.
        pool_size: the pooling's window (an int or per axis).
        stride: its stride (None: the window, as ``nn.MaxUnpool2d``).
        padding: its padding, an int, per axis, or per side.
        output_size: the unpooled spatial sizes (default ``(in - 1)*stride - pads + kernel``
            per axis); every index is a flat position in a plane of that size.
        convention: the indices' convention (``INDEX_CONVENTIONS``).
        layout: ``"NCHW"`` or ``"NHWC"``.

    Returns:
        An array of ``values``' dtype and layout, each value at its index, 0 elsewhere.

    Raises:
        PoolingError: an index outside the plane (-1 writes nothing), two different values for
            one cell, or an invalid argument, naming it.
    """
    return max_unpool(2, values, indices, pool_size, stride=stride, padding=padding,
                      output_size=output_size, convention=convention, layout=layout)


def max_unpool1d(values, indices, pool_size, *, layout: str = "NCW", **kwargs) -> np.ndarray:
    """``px.max_unpool2d`` over one spatial axis (NCW/NWC)."""
    return max_unpool(1, values, indices, pool_size, layout=layout, **kwargs)


def max_unpool3d(values, indices, pool_size, *, layout: str = "NCDHW", **kwargs) -> np.ndarray:
    """``px.max_unpool2d`` over three spatial axes (NCDHW/NDHWC)."""
    return max_unpool(3, values, indices, pool_size, layout=layout, **kwargs)
