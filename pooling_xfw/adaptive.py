"""Adaptive and global 2-D pooling: the numpy reference, and the bins every backend consumes.

Adaptive pooling asks for an output size, not a window.  Along an axis of ``n`` input cells
and ``o`` output cells, output cell ``i`` reduces the bin of input cells ``[start, end)`` with

    start = floor(i * n / o),    end = ceil((i + 1) * n / o)

in exact integer arithmetic (``(i*n)//o`` and ``-((-(i+1)*n)//o)``), never in floating point.
That is the rule of every native adaptive op measured, over every pair 1 <= n, o <= 24:
PyTorch ``F.adaptive_avg_pool2d`` / ``adaptive_max_pool2d``, Paddle's of the same names, MXNet
``contrib.AdaptiveAvgPooling2D``, Keras 3's ``AdaptiveAveragePooling2D`` on TensorFlow, and
PyTorch's ONNX (dynamo) export.  (Float arithmetic gets it wrong: XLA computes ``21/7`` as
``3.0000002`` and Keras 3 on JAX then reads past the input, NaN; tensorflow-addons splits the
axis with ``tf.split`` and refuses sizes that do not divide.)

* ``o > n`` is allowed: bins overlap and repeat (3 -> 5: ``[0,1) [0,2) [1,2) [1,3) [2,3)``).
* ``None`` for an axis keeps its size (PyTorch, Paddle): every bin one cell.
* ``0`` gives an empty axis (PyTorch, Paddle, MXNet return an empty tensor).
* When ``o`` divides ``n`` the bins are plain pooling, window = stride = ``n/o``; otherwise
  they have exactly two lengths, ``ceil(n/o)`` and ``ceil(n/o) + 1`` (or ``1`` and ``2`` for
  ``o > n``), overlapping by at most one cell.

Modes: adaptive ``max`` and ``avg``; global ``max``, ``avg`` and ``lp``.  Special values and
dtypes are ``px.pool2d``'s: a NaN in a bin makes its max and avg NaN (PyTorch; Paddle,
TensorFlow's max pooling and MXNet ignore it); a bin of only ``-inf`` has max ``-inf``
(PyTorch; the others give the lowest finite value); max keeps the input dtype, integers
included; avg of integers is float64, of float16 accumulates in float32, and is finite wherever
the true mean is (``reference.mean_of``).

Vectorized: no loop over output cells.  Each axis is reduced in turn (columns, then rows) as
at most ``ceil(n/o) + 1`` taps: tap ``j`` of every bin is one strided slice when the bins are
a plain pooling, else one gather of the cells ``min(start + j, end - 1)`` (a max reads a
bin's last cell again, which changes nothing; a sum masks the taps past a shorter bin's end).

Global pooling is pooling with the window of the whole input (MXNet's ``global_pool=True``,
Gluon's ``GlobalAvgPool2D``, Keras ``GlobalAveragePooling2D``, PyTorch's
``adaptive_avg_pool2d(x, 1)``), computed by ``px.pool2d``'s own code; ``keepdims=False`` drops
the H and W axes (Keras' default).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Sequence

import numpy as np

from .errors import PoolingError
from .reference import _spatial, as_input, mean_of, output_dtype, pool_geometry, work_dtype
from .layout import check_layout, spatial_names
from .layout import rank as layout_rank
from .arguments import MAX_SIZE, fail, format_bytes, is_int, memory_limit
from .spec import Geometry, SpatialAxes, axis_names, make_spec, resolve, spatial_axes

ADAPTIVE_MODES = ("max", "avg")
GLOBAL_MODES = ("max", "avg", "lp")
_PER_AXIS = {1: "(w,)", 2: "a pair (h, w)", 3: "(d, h, w)"}


def _output_size_allowed(rank: int) -> str:
    return (f"an int >= 0 and < 2**63, or {_PER_AXIS[rank]} of such ints or None (None keeps "
            f"that axis's input size)")


@dataclasses.dataclass(frozen=True)
class AdaptiveSpec:
    """A validated adaptive pooling request (the arguments of ``px.adaptive_pool*d``)."""

    output_size: tuple  # one per spatial axis ((h, w) in 2-D), each an int >= 0 or None
    mode: str = "max"
    layout: str = "NCHW"

    def kwargs(self) -> dict:
        """The spec as ``px.adaptive_pool*d`` keyword arguments (JSON-friendly)."""
        return {"output_size": list(self.output_size), "mode": self.mode, "layout": self.layout}


def _mode(mode, allowed: tuple[str, ...]) -> str:
    if not isinstance(mode, str) or mode.lower() not in allowed:
        raise fail("mode", mode, ", ".join(repr(m) for m in allowed))
    return mode.lower()


def make_adaptive_spec(output_size, mode: str = "max", layout: str = "NCHW",
                       rank: int | None = None) -> AdaptiveSpec:
    """Validate ``px.adaptive_pool*d``'s arguments (``PoolingError`` naming the argument);
    ``rank``: the spatial axes the caller pools (None: the layout says)."""
    mode, layout = _mode(mode, ADAPTIVE_MODES), check_layout(layout, rank)
    n = layout_rank(layout)
    each = (output_size,) * n if is_int(output_size) else output_size
    if not isinstance(each, (tuple, list)) or len(each) != n or not all(
            v is None or (is_int(v) and 0 <= v <= MAX_SIZE) for v in each):
        raise fail("output_size", output_size, _output_size_allowed(n))
    return AdaptiveSpec(tuple(None if v is None else int(v) for v in each), mode, layout)


@dataclasses.dataclass(frozen=True)
class Bins:
    """One axis of an adaptive pooling: ``out`` bins over ``size`` input cells."""

    size: int
    out: int

    @functools.cached_property
    def starts(self) -> np.ndarray:
        """First cell of every bin, ``floor(i*n/o)`` (int64, read-only)."""
        return self._bound(np.arange(self.out), floor=True)

    @functools.cached_property
    def ends(self) -> np.ndarray:
        """One past the last cell of every bin, ``ceil((i+1)*n/o)`` (int64, read-only)."""
        return self._bound(np.arange(1, self.out + 1), floor=False)

    def _bound(self, index: np.ndarray, floor: bool) -> np.ndarray:
        if self.out * self.size > MAX_SIZE:  # the products would overflow int64
            index = index.astype(object)
        n, o = self.size, self.out
        bound = (index * n // o) if floor else -((-index * n) // o)
        bound = np.asarray(bound, dtype=np.int64)
        bound.flags.writeable = False
        return bound

    @functools.cached_property
    def lengths(self) -> np.ndarray:
        return self.ends - self.starts

    @property
    def shortest(self) -> int:
        return int(self.lengths.min()) if self.out else 0

    @property
    def longest(self) -> int:
        return int(self.lengths.max()) if self.out else 0

    @property
    def step(self) -> int | None:
        """The stride when the bins are one plain pooling (one length, starts ``i*step``):
        ``o`` divides ``n`` (window = stride = ``n/o``), ``o == 1``, or e.g. 7 -> 3 (window 3,
        stride 2); else None."""
        if self.out == 0 or self.shortest != self.longest:
            return None
        if self.out == 1:
            return 1
        step = int(self.starts[1])
        return step if step and np.array_equal(self.starts, np.arange(self.out) * step) else None

    def groups(self) -> list[tuple[int, np.ndarray]]:
        """The bins by length: ``[(length, bin indices), ...]``, shortest first (at most two)."""
        return [(int(length), np.flatnonzero(self.lengths == length))
                for length in np.unique(self.lengths)]

    def tap(self, j: int) -> np.ndarray:
        """Tap ``j`` of every bin: the cell ``start + j``, or the bin's last cell where the bin
        is shorter than ``j + 1`` (which a max may read again; a sum must mask it)."""
        return np.minimum(self.starts + j, self.ends - 1)


@dataclasses.dataclass(frozen=True)
class AdaptiveGeometry(SpatialAxes):
    """An ``AdaptiveSpec`` resolved against an input's spatial axes: the bins of each axis, in
    the layout's order (H, W for 2-D)."""

    spec: AdaptiveSpec
    axes: tuple[Bins, ...]

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        return self.pooled_shape(input_shape)

    def divisor(self) -> np.ndarray:
        """The cells of every bin, the avg divisor, shaped as the output's spatial axes."""
        return functools.reduce(np.multiply.outer, (b.lengths for b in self.axes))

    def check_fits(self, input_shape: Sequence[int], dtype) -> None:
        """Refuse (``PoolingError`` naming ``output_size``) an output, or the half-pooled array
        (the last axes pooled, the first not yet), that in ``dtype`` would take more bytes than this
        machine's physical memory: with ``o > n`` the output is larger than the input."""
        dtype = np.dtype(dtype)
        cells = math.prod(int(v) for v in input_shape) // max(
            math.prod(b.size for b in self.axes), 1)
        # the axes pool the last first: after the last ``len(axes) - i``, the leading ``i``
        # keep their input's size
        largest = max(math.prod(b.size for b in self.axes[:i]) *
                      math.prod(b.out for b in self.axes[i:]) for i in range(len(self.axes)))
        need = cells * largest * dtype.itemsize
        if need <= memory_limit():
            return
        raise PoolingError(
            f"output_size: got {self.spec.output_size!r}; the output of an input of shape "
            f"{tuple(input_shape)} in {dtype.name} would need {format_bytes(need)}, more than "
            f"this machine's memory ({format_bytes(memory_limit())}); allowed: an output that "
            f"fits in memory")

    def pool(self, x: np.ndarray) -> np.ndarray:
        """The reference's numbers for a validated ``x`` (``pool_adaptive``)."""
        return pool_adaptive(x, self)


def resolve_adaptive(spec: AdaptiveSpec, input_shape: Sequence[int]) -> AdaptiveGeometry:
    """The bins of ``spec`` for an input of ``input_shape`` (rank 2-4, in ``spec.layout``)."""
    sizes = [int(input_shape[a]) for a in spatial_axes(len(input_shape), spec.layout)]
    if min(sizes) < 1:
        raise fail("X", f"<array of shape {tuple(input_shape)}>",
                    f"non-empty {' and '.join(axis_names(len(sizes)))}")
    return AdaptiveGeometry(spec, tuple(Bins(n, n if o is None else o)
                                        for n, o in zip(sizes, spec.output_size)))


def _along(values: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    """A vector reshaped to broadcast along ``axis`` of an array of rank ``ndim``."""
    shape = [1] * ndim
    shape[axis] = values.size
    return values.reshape(shape)


def _reduce_bins(arr: np.ndarray, axis: int, bins: Bins, op) -> np.ndarray:
    """``op``-reduce (``np.maximum`` or ``np.add``) every bin along ``axis``: one strided slice
    or one gather per tap, never a loop over bins."""
    index = [slice(None)] * arr.ndim
    if bins.out == 0:
        index[axis] = slice(0, 0)
        return arr[tuple(index)].copy()
    step, acc = bins.step, None
    for j in range(bins.longest):
        if step is not None:  # a plain pooling: tap j of every bin is one strided slice
            index[axis] = slice(j, j + (bins.out - 1) * step + 1, step)
            piece = arr[tuple(index)]
        else:
            piece = np.take(arr, bins.tap(j), axis=axis)
            if op is np.add and j >= bins.shortest:  # past the end of the shorter bins
                piece = np.where(_along(bins.lengths > j, axis, arr.ndim), piece, 0)
        if acc is None:
            acc = piece.copy() if step is not None else piece
        else:
            op(acc, piece, out=acc)
    return acc


def _bin_reduce(x: np.ndarray, geom: AdaptiveGeometry, op) -> np.ndarray:
    for axis, bins in reversed(tuple(zip(spatial_axes(x.ndim, geom.spec.layout), geom.axes))):
        x = _reduce_bins(x, axis, bins, op)  # the last axis first, as the data lie in memory
    return x


def pool_adaptive(x: np.ndarray, geom: AdaptiveGeometry) -> np.ndarray:
    """Adaptive pooling of a validated array with resolved bins (the reference's core)."""
    mode = geom.spec.mode
    work = work_dtype(mode, x.dtype)
    geom.check_fits(x.shape, work)
    if mode == "max":
        return _bin_reduce(x, geom, np.maximum)
    values = x.astype(work, copy=False)
    divisor = _spatial(geom.divisor().astype(work), x.ndim, geom.spec.layout)
    total = mean_of(values, lambda v: _bin_reduce(v, geom, np.add), divisor,
                    max(math.prod(b.longest for b in geom.axes), 1))
    return total.astype(output_dtype(mode, x.dtype), copy=False)


def adaptive_pool2d(X, output_size, mode: str = "max", *, layout: str = "NCHW") -> np.ndarray:
    """Adaptive 2-D max / avg pooling of ``X`` to ``output_size``, every convention explicit.

    Output cell ``i`` of an axis of ``n`` cells and ``o`` outputs reduces the cells
    ``floor(i*n/o)`` to ``ceil((i+1)*n/o) - 1`` (PyTorch's, Paddle's and MXNet's rule),
    ``o > n`` included.  NaN, -inf and dtypes as ``px.pool2d``: see this module's docstring.

    Args:
        X: (H, W), (C, H, W) / (H, W, C) or (N, C, H, W) / (N, H, W, C) per ``layout``.
        output_size: an int, or a pair (h, w) of ints >= 0 or None (None keeps that axis's
            input size; PyTorch and Paddle).
        mode: ``"max"`` or ``"avg"``.
        layout: ``"NCHW"`` or ``"NHWC"``.

    Returns:
        The pooled array in ``X``'s rank and layout, (H, W) replaced by ``output_size``.

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _adaptive(2, X, output_size, mode, layout)


def _adaptive(rank: int, X, output_size, mode: str, layout: str) -> np.ndarray:
    spec = make_adaptive_spec(output_size, mode, layout, rank)
    x = as_input(X)
    return pool_adaptive(x, resolve_adaptive(spec, x.shape))


def adaptive_pool1d(X, output_size, mode: str = "max", *, layout: str = "NCW") -> np.ndarray:
    """Adaptive 1-D max / avg pooling of ``X`` to ``output_size`` cells of W, by
    ``px.adaptive_pool2d``'s bins (PyTorch's ``F.adaptive_avg_pool1d``).

    Args:
        X: (W,), (C, W) / (W, C) or (N, C, W) / (N, W, C) per ``layout``.
        output_size: an int >= 0, or ``(w,)`` (an int or None: the input's size).
        mode: ``"max"`` or ``"avg"``.
        layout: ``"NCW"`` or ``"NWC"``.

    Returns:
        The pooled array in ``X``'s rank and layout, W replaced by ``output_size``.

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _adaptive(1, X, output_size, mode, layout)


def adaptive_pool3d(X, output_size, mode: str = "max", *, layout: str = "NCDHW") -> np.ndarray:
    """Adaptive 3-D max / avg pooling of ``X`` to ``output_size``, by ``px.adaptive_pool2d``'s
    bins on D, H and W (PyTorch's ``nn.AdaptiveAvgPool3d((1, 1, 1))`` video heads).

    Args:
        X: (D, H, W), (C, D, H, W) / (D, H, W, C) or (N, C, D, H, W) / (N, D, H, W, C) per
            ``layout``.
        output_size: an int >= 0, or ``(d, h, w)``, each an int or None (the input's size).
        mode: ``"max"`` or ``"avg"``.
        layout: ``"NCDHW"`` or ``"NDHWC"``.

    Returns:
        The pooled array in ``X``'s rank and layout, (D, H, W) replaced by ``output_size``.

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _adaptive(3, X, output_size, mode, layout)


@dataclasses.dataclass(frozen=True)
class GlobalGeometry(Geometry):
    """Global pooling of one input: a ``Geometry`` whose window is the whole (H, W), with
    stride 1 and no padding, and whether the output keeps the H and W axes (size 1)."""

    keepdims: bool = True

    def kwargs(self) -> dict:
        """``px.global_pool2d``'s keyword arguments (JSON-friendly)."""
        return {"mode": self.spec.mode, "p": self.spec.p, "keepdims": self.keepdims,
                "layout": self.spec.layout}

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        spatial = spatial_axes(len(input_shape), self.spec.layout)
        return tuple(1 if axis in spatial else int(v) for axis, v in enumerate(input_shape)
                     if self.keepdims or axis not in spatial)

    def finish(self, out: np.ndarray) -> np.ndarray:
        """The pooled output (one cell per spatial axis) in the requested shape: the spatial
        axes dropped unless ``keepdims``."""
        if self.keepdims:
            return out
        return out.reshape(self.output_shape(out.shape))


def resolve_global(X_shape: Sequence[int], mode: str = "max", *, p: float = 2,
                   keepdims: bool = True, layout: str = "NCHW", rank: int | None = None
                   ) -> GlobalGeometry:
    """Validate ``px.global_pool*d``'s arguments and resolve them against an input shape
    (``rank``: the spatial axes the caller pools; None: the layout says)."""
    mode, layout = _mode(mode, GLOBAL_MODES), check_layout(layout, rank)
    if not isinstance(keepdims, (bool, np.bool_)):
        raise fail("keepdims", keepdims, "True or False")
    whole = tuple(int(X_shape[a]) for a in spatial_axes(len(X_shape), layout))
    if min(whole) < 1:
        raise fail("X", f"<array of shape {tuple(X_shape)}>",
                    f"non-empty {' and '.join(spatial_names(layout))}")
    geom = resolve(make_spec(whole, mode, layout=layout, p=p), X_shape)
    return GlobalGeometry(geom.spec, geom.axes, keepdims=bool(keepdims))


def global_pool2d(X, mode: str = "max", *, p: float = 2, keepdims: bool = True,
                  layout: str = "NCHW") -> np.ndarray:
    """Global 2-D max / avg / lp pooling: every (H, W) plane reduced to one value.

    Exactly ``px.pool2d(X, (H, W), mode, p=p, layout=layout)`` (the window of the whole input,
    as MXNet's ``global_pool=True`` and Gluon's global layers define it, and PyTorch's
    ``adaptive_*_pool2d(x, 1)``), so NaN, -inf and dtypes are ``px.pool2d``'s; lp is
    ``(sum |x|^p)^(1/p)`` (MXNet ``pool_type='lp'``, ONNX ``GlobalLpPool``).

    Args:
        X: (H, W), (C, H, W) / (H, W, C) or (N, C, H, W) / (N, H, W, C) per ``layout``.
        mode: ``"max"``, ``"avg"`` or ``"lp"``.
        p: the power of lp pooling, a finite number > 0.
        keepdims: keep H and W as axes of size 1 (PyTorch, Paddle, MXNet, Keras
            ``keepdims=True``); False drops them, (N, C, H, W) -> (N, C) (Keras' default).
        layout: ``"NCHW"`` or ``"NHWC"``.

    Returns:
        One value per (N, C) plane, with or without the H and W axes.

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _global(2, X, mode, p, keepdims, layout)


def _global(rank: int, X, mode: str, p: float, keepdims: bool, layout: str) -> np.ndarray:
    x = as_input(X)
    geom = resolve_global(x.shape, mode, p=p, keepdims=keepdims, layout=layout, rank=rank)
    return geom.finish(pool_geometry(x, geom))


def global_pool1d(X, mode: str = "max", *, p: float = 2, keepdims: bool = True,
                  layout: str = "NCW") -> np.ndarray:
    """Global 1-D max / avg / lp pooling: every W reduced to one value, as
    ``px.global_pool2d`` (Keras' ``GlobalAveragePooling1D`` with ``keepdims=False``).

    Args:
        X: (W,), (C, W) / (W, C) or (N, C, W) / (N, W, C) per ``layout``.
        mode: ``"max"``, ``"avg"`` or ``"lp"``.
        p: the power of lp pooling, a finite number > 0.
        keepdims: keep W as an axis of size 1; False drops it.
        layout: ``"NCW"`` or ``"NWC"``.

    Returns:
        One value per (N, C), with or without the W axis.

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _global(1, X, mode, p, keepdims, layout)


def global_pool3d(X, mode: str = "max", *, p: float = 2, keepdims: bool = True,
                  layout: str = "NCDHW") -> np.ndarray:
    """Global 3-D max / avg / lp pooling: every (D, H, W) volume reduced to one value, as
    ``px.global_pool2d``.

    Args:
        X: (D, H, W), (C, D, H, W) / (D, H, W, C) or (N, C, D, H, W) / (N, D, H, W, C) per
            ``layout``.
        mode: ``"max"``, ``"avg"`` or ``"lp"``.
        p: the power of lp pooling, a finite number > 0.
        keepdims: keep D, H and W as axes of size 1; False drops them.
        layout: ``"NCDHW"`` or ``"NDHWC"``.

    Returns:
        One value per (N, C), with or without the D, H and W axes.

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _global(3, X, mode, p, keepdims, layout)
