"""The framework-neutral numpy reference: ``pool2d`` driven by a resolved ``Geometry``.

Separable and vectorized: a 2-D window reduces as a column pass then a row pass, each a loop
over the *taps* of the window (k strided slices), never over output positions.  Padding is
materialized with the reduction's identity, so it never wins: ``-inf`` for max (the integer
minimum for integer inputs), ``+inf`` for min, ``0`` for sums; the avg divisor comes from the
geometry, never from the fill (ONNX's reference marks padding with NaN and so drops real NaNs).

Special values: a NaN in a window makes that window's max, min, avg and lp NaN (``np.maximum``
propagates it; PyTorch agrees, TensorFlow and MXNet ignore it, Paddle only sees it when it is
scanned last).  A window of only ``-inf`` has max ``-inf`` (PyTorch agrees; TensorFlow, MXNet and
Paddle return the lowest finite value).

Dtypes: max/min keep the input dtype, integers included.  avg and lp of floats keep the float
dtype and accumulate in at least float32 (float16 sums in float32); of integers they return
float64.
"""
from __future__ import annotations

import numpy as np

from .errors import PoolingError
from .spec import AxisGeometry, Geometry, make_spec, resolve, spatial_axes

_ALLOWED_DTYPES = "integer or real floating arrays (int8..int64, uint8..uint64, float16/32/64)"


def as_input(X) -> np.ndarray:
    """``X`` as an ndarray of a poolable dtype (``PoolingError`` otherwise); never copies."""
    try:
        x = np.asarray(X)
    except (ValueError, TypeError) as exc:
        raise PoolingError(f"X: got an object numpy cannot read as an array ({exc}); allowed: "
                           f"{_ALLOWED_DTYPES}") from None
    if x.dtype.kind not in "iuf":
        raise PoolingError(f"X: got dtype {x.dtype}; allowed: {_ALLOWED_DTYPES}")
    return x


def identity(dtype: np.dtype, mode: str):
    """The value padding takes so that it never wins a max (or min)."""
    if dtype.kind == "f":
        return -np.inf if mode == "max" else np.inf
    info = np.iinfo(dtype)
    return info.min if mode == "max" else info.max


def _pad_axis(arr: np.ndarray, axis: int, before: int, after: int, fill) -> np.ndarray:
    shape = list(arr.shape)
    shape[axis] += before + after
    out = np.empty(shape, arr.dtype)
    index = [slice(None)] * arr.ndim
    index[axis] = slice(before, before + arr.shape[axis])
    out[tuple(index)] = arr
    for edge in (slice(0, before), slice(before + arr.shape[axis], None)):
        index[axis] = edge
        out[tuple(index)] = fill
    return out


def _reduce_axis(arr: np.ndarray, axis: int, g: AxisGeometry, op, fill) -> np.ndarray:
    """Pool one axis: ``op``-reduce the k taps of every window (k strided slices)."""
    after = g.span - g.pad_before - g.size  # padding + overhang actually read (may be < 0)
    if g.pad_before or after > 0:
        arr = _pad_axis(arr, axis, g.pad_before, max(after, 0), fill)
    index = [slice(None)] * arr.ndim

    def tap(j):
        start = j * g.dilation
        index[axis] = slice(start, start + (g.out - 1) * g.stride + 1, g.stride)
        return arr[tuple(index)]

    if g.kernel == 1:
        return tap(0).copy()
    result = op(tap(0), tap(1))
    for j in range(2, g.kernel):
        op(result, tap(j), out=result)
    return result


def _separable(x: np.ndarray, geom: Geometry, op, fill) -> np.ndarray:
    h_axis, w_axis = spatial_axes(x.ndim, geom.spec.layout)
    return _reduce_axis(_reduce_axis(x, w_axis, geom.cols, op, fill), h_axis, geom.rows, op, fill)


def accumulator_dtype(dtype: np.dtype) -> np.dtype:
    """What avg and lp sum in: float64 for integers, at least float32 for floats."""
    if dtype.kind != "f":
        return np.dtype(np.float64)
    return np.promote_types(dtype, np.float32)


def output_dtype(mode: str, dtype: np.dtype) -> np.dtype:
    """max/min keep the input dtype; avg/lp keep a float dtype and give float64 for integers."""
    if mode in ("max", "min") or dtype.kind == "f":
        return dtype
    return np.dtype(np.float64)


def _spatial(values: np.ndarray, ndim: int, layout: str) -> np.ndarray:
    """Reshape an (out_h, out_w) array to broadcast against the output of rank ``ndim``."""
    shape = [1] * ndim
    h_axis, w_axis = spatial_axes(ndim, layout)
    shape[h_axis], shape[w_axis] = values.shape
    return values.reshape(shape)


def pool_geometry(x: np.ndarray, geom: Geometry) -> np.ndarray:
    """Pool a validated array with a resolved geometry (the reference's core)."""
    mode = geom.spec.mode
    if mode in ("max", "min"):
        op = np.maximum if mode == "max" else np.minimum
        return _separable(x, geom, op, identity(x.dtype, mode))
    work = accumulator_dtype(x.dtype)
    values = x.astype(work, copy=False)
    p = geom.spec.p
    if mode == "lp":
        values = np.abs(values)
        values = values * values if p == 2 else values ** work.type(p)
    total = _separable(values, geom, np.add, 0)
    if mode == "avg":
        total /= _spatial(geom.divisor().astype(work), x.ndim, geom.spec.layout)
    else:
        total = np.sqrt(total, out=total) if p == 2 else total ** work.type(1 / p)
    return total.astype(output_dtype(mode, x.dtype), copy=False)


def pool2d(X, pool_size, mode: str = "max", *, stride=1, padding=0, dilation=1,
           ceil_mode: bool = False, count_include_pad: bool = True, layout: str = "NCHW",
           p: float = 2) -> np.ndarray:
    """2-D max / avg / min / lp pooling of ``X`` with every convention explicit.

    ``X`` is (H, W), (C, H, W) / (H, W, C) or (N, C, H, W) / (N, H, W, C) per ``layout``; the
    output keeps its rank and layout.  Defaults are the chapter's: stride 1, no padding.
    ``padding``: int, ``(ph, pw)``, ``((top, bottom), (left, right))``, ``"valid"``,
    ``"same"`` (odd pad bottom/right, as TensorFlow) or ``"same_lower"`` (odd pad top/left).
    See ``pooling_xfw.spec`` for the output-size, ceil and divisor rules and this module's
    docstring for NaN, inf and dtypes.  Raises ``PoolingError`` on any invalid argument.
    """
    spec = make_spec(pool_size, mode, stride=stride, padding=padding, dilation=dilation,
                     ceil_mode=ceil_mode, count_include_pad=count_include_pad, layout=layout,
                     p=p)
    x = as_input(X)
    return pool_geometry(x, resolve(spec, x.shape))
