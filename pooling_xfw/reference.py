"""The framework-neutral numpy reference: ``pool2d`` driven by a resolved ``Geometry``.

Separable and vectorized: a window reduces one spatial axis at a time (in 2-D a row pass, then
a column pass), each a loop over the *taps* of the window along that axis (k strided slices),
never over output positions; a large input goes a few (N, C) planes at a time, so each axis'
intermediate result is read back from the cache.  Padding is
materialized with the reduction's identity, so it never wins: ``-inf`` for max (the integer
minimum for integer inputs), ``+inf`` for min, ``0`` for sums; the avg divisor comes from the
geometry, never from the fill (ONNX's reference marks padding with NaN and so drops real NaNs).

Special values: a NaN in a window makes that window's max, min, avg and lp NaN (``np.maximum``
propagates it; PyTorch agrees, TensorFlow and MXNet ignore it, Paddle only sees it when it is
scanned last).  A window of only ``-inf`` has max ``-inf`` (PyTorch agrees; TensorFlow, MXNet and
Paddle return the lowest finite value).

Dtypes: max/min keep the input dtype, integers included.  avg and lp of floats keep the float
dtype and accumulate in at least float32 (float16 sums in float32); of integers they return
float64.  Extended precision (``longdouble``, float128 on x86-64) is refused, as complex is: no
framework pools it.

Range: a result is finite wherever the true result is.  Sums run plainly, with numpy's
floating-point overflow (and, for lp, underflow) flag watched; only when it is raised is the
work redone, for the windows it hurt: avg sums the window scaled by ``2**-ceil(log2(k))``, ``k``
the window's cell count (exact: a power of two), and scales the mean back; lp computes
``m * (sum (|x|/m)**p)**(1/p)`` with ``m`` the window's largest ``|x|`` for the windows whose
plain sum of powers overflowed or fell below the smallest normal number.  Every other window
keeps its plain sum, bit for bit.
"""
from __future__ import annotations

import glob
import itertools
import math

import numpy as np

from .errors import PoolingError
from .layout import spatial_index
from .spec import AxisGeometry, Geometry, make_spec, resolve, spatial_axes

_ALLOWED_DTYPES = "integer or real floating arrays (int8..int64, uint8..uint64, float16/32/64)"
_FLOATS = "efd"  # float16, float32, float64 (of either byte order); not longdouble ('g')


def as_input(X) -> np.ndarray:
    """``X`` as an ndarray of a poolable dtype (``PoolingError`` otherwise); never copies."""
    try:
        x = np.asarray(X)
    except (ValueError, TypeError) as exc:
        raise PoolingError(f"X: got an object numpy cannot read as an array ({exc}); allowed: "
                           f"{_ALLOWED_DTYPES}") from None
    if x.dtype.kind not in "iu" and x.dtype.char not in _FLOATS:
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


def _pad_for(arr: np.ndarray, axis: int, g: AxisGeometry, fill) -> np.ndarray:
    """``arr`` padded along ``axis`` with what the windows read: pads and ceil overhang."""
    after = g.span - g.pad_before - g.size  # padding + overhang actually read (may be < 0)
    if g.pad_before or after > 0:
        arr = _pad_axis(arr, axis, g.pad_before, max(after, 0), fill)
    return arr


def _tap(g: AxisGeometry, j: int) -> slice:
    """Tap ``j`` of every window along one axis of the padded array, as one strided slice."""
    start = j * g.dilation
    return slice(start, start + (g.out - 1) * g.stride + 1, g.stride)


def _reduce_axis(arr: np.ndarray, axis: int, g: AxisGeometry, op, fill,
                 out: np.ndarray | None = None) -> np.ndarray:
    """Pool one axis: ``op``-reduce the k taps of every window (k strided slices), into
    ``out`` where given (of ``arr``'s dtype and the pooled shape)."""
    arr = _pad_for(arr, axis, g, fill)
    index = [slice(None)] * arr.ndim

    def tap(j):
        index[axis] = _tap(g, j)
        return arr[tuple(index)]

    if g.kernel == 1:
        if out is None:
            return tap(0).copy()
        out[...] = tap(0)
        return out
    result = op(tap(0), tap(1), out=out)
    for j in range(2, g.kernel):
        op(result, tap(j), out=result)
    return result


def _cache_bytes() -> int:
    """The input bytes ``_separable`` pools at a time: half this core's L2 cache where the OS
    says its size (Linux's ``/sys/devices/system/cpu/cpu0/cache``), so each axis'
    intermediate results are read back from the cache, not from memory; 512 KiB where it does
    not; within 256 KiB..4 MiB."""
    units = {"K": 1 << 10, "M": 1 << 20}
    for index in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index*")):
        try:
            with open(f"{index}/level") as f:
                level = f.read().strip()
            with open(f"{index}/size") as f:
                size = f.read().strip()
        except OSError:
            continue
        if level == "2" and size[:-1].isdigit() and size[-1] in units:
            return min(max(int(size[:-1]) * units[size[-1]] // 2, 256 << 10), 4 << 20)
    return 512 << 10


#: see ``_cache_bytes``
CHUNK_BYTES = _cache_bytes()


def _separable(x: np.ndarray, geom: Geometry, op, fill) -> np.ndarray:
    """The window reduced one spatial axis at a time, the first first: its taps are whole
    contiguous rows or planes (vectorized), and the last axis, whose taps are strided, is
    reduced last, on the smallest array.  A C-contiguous input is pooled a few (N, C) planes
    at a time (``CHUNK_BYTES``), each chunk through every axis while it is in the cache, into
    one output (the same numbers: every plane is pooled on its own)."""
    axes = spatial_axes(x.ndim, geom.spec.layout)
    planes = x.reshape((-1,) + x.shape[axes[0]:]) if x.flags.c_contiguous else x[None]
    per = max(1, CHUNK_BYTES // max(planes[0].nbytes, 1))

    def pooled(part, first, out=None):
        last = first + len(axes) - 1
        for axis, g in zip(range(first, last + 1), geom.axes):
            part = _reduce_axis(part, axis, g, op, fill, out if axis == last else None)
        return part

    if per >= len(planes):
        return pooled(x, axes[0])
    shape = list(planes.shape)
    for axis, g in zip(range(1, len(axes) + 1), geom.axes):
        shape[axis] = g.out
    out = np.empty(shape, x.dtype)  # op of two arrays of x's dtype: x's dtype
    for start in range(0, len(planes), per):
        pooled(planes[start:start + per], 1, out[start:start + per])
    return out.reshape(x.shape[:axes[0]] + out.shape[1:])


def accumulator_dtype(dtype: np.dtype) -> np.dtype:
    """What avg and lp sum in: float64 for integers, at least float32 for floats."""
    if dtype.kind != "f":
        return np.dtype(np.float64)
    return np.promote_types(dtype, np.float32)


def work_dtype(mode: str, dtype: np.dtype) -> np.dtype:
    """What ``mode`` pools ``dtype`` in: max/min in the dtype itself, avg/lp in
    ``accumulator_dtype``."""
    return np.dtype(dtype) if mode in ("max", "min") else accumulator_dtype(dtype)


def output_dtype(mode: str, dtype: np.dtype) -> np.dtype:
    """max/min keep the input dtype; avg/lp keep a float dtype and give float64 for integers."""
    if mode in ("max", "min") or dtype.kind == "f":
        return dtype
    return np.dtype(np.float64)


def _spatial(values: np.ndarray, ndim: int, layout: str) -> np.ndarray:
    """Reshape an array over the output's spatial axes ((out_h, out_w) in 2-D) to broadcast
    against the output of rank ``ndim``."""
    shape = [1] * ndim
    for axis, size in zip(spatial_axes(ndim, layout), values.shape):
        shape[axis] = size
    return values.reshape(shape)


def _taps(arr: np.ndarray, geom: Geometry):
    """Every tap of the window in row-major order, each an output-shaped view of the
    zero-padded ``arr``."""
    axes = spatial_axes(arr.ndim, geom.spec.layout)
    for axis, g in zip(axes, geom.axes):
        arr = _pad_for(arr, axis, g, 0)
    for taps in itertools.product(*(range(g.kernel) for g in geom.axes)):
        yield arr[spatial_index(arr.ndim, geom.spec.layout,
                                [_tap(g, t) for g, t in zip(geom.axes, taps)])]


def _mean(values: np.ndarray, geom: Geometry) -> np.ndarray:
    """avg of ``geom``'s windows in ``values.dtype`` (``mean_of``)."""
    divisor = _spatial(geom.divisor().astype(values.dtype), values.ndim, geom.spec.layout)
    return mean_of(values, lambda v: _separable(v, geom, np.add, 0), divisor,
                   math.prod(g.kernel for g in geom.axes))


def mean_of(values: np.ndarray, window_sum, divisor: np.ndarray, taps: int) -> np.ndarray:
    """avg in ``values.dtype``: ``window_sum(values) / divisor``, the plain window sums; where a
    partial sum overflowed, the sum of the window scaled by ``2**-ceil(log2(taps))`` (exact: a
    power of two; ``taps``: the most cells a window sums), so the mean is finite.
    ``window_sum`` maps an array to its window sums (a new array); ``divisor`` broadcasts
    against them.  Shared by ``pool2d`` and the adaptive and global poolings."""
    try:
        with np.errstate(over="raise", invalid="ignore"):  # inf - inf is NaN, no warning
            total = window_sum(values)
        with np.errstate(divide="ignore", invalid="ignore"):  # divisor=0 ("mean"): inf
            total /= divisor
        return total
    except FloatingPointError:
        pass
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        total = window_sum(values)
        total /= divisor
    shift = (taps - 1).bit_length()  # 2**shift >= taps
    down, up = values.dtype.type(2.0 ** -shift), values.dtype.type(2.0 ** shift)
    with np.errstate(invalid="ignore"):
        scaled = window_sum(values * down)  # |partial sums| <= max |x|
    hurt = ~np.isfinite(total)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a mean past the max
        total[hurt] = (scaled / divisor * up)[hurt]
    return total


def _p_norm(values: np.ndarray, geom: Geometry, p: float) -> np.ndarray:
    """lp in ``values.dtype``: ``(sum |x|**p)**(1/p)``; where the plain sum of powers
    overflowed or fell below the smallest normal number, ``m * (sum (|x|/m)**p)**(1/p)`` with
    ``m`` the window's largest ``|x|`` (every ratio <= 1, one of them exactly 1)."""
    work = values.dtype

    def power(base):
        return base * base if p == 2 else base ** work.type(p)

    def root(total, out=None):
        return np.sqrt(total, out=out) if p == 2 else np.power(total, work.type(1 / p), out=out)

    try:
        with np.errstate(over="raise", under="raise"):
            total = _separable(power(np.abs(values)), geom, np.add, 0)
            return root(total, out=total)
    except FloatingPointError:
        pass
    magnitudes = np.abs(values)
    with np.errstate(over="ignore", under="ignore"):
        total = _separable(power(magnitudes), geom, np.add, 0)
        result = root(total)
    peak = _separable(magnitudes, geom, np.maximum, 0)
    with np.errstate(invalid="ignore"):
        hurt = (np.isfinite(peak) & (peak > 0)
                & ~(np.isfinite(total) & (total >= np.finfo(work).tiny)))
    if not hurt.any():
        return result
    scale = np.where(hurt, peak, work.type(1))
    ratios = np.zeros_like(result)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for tap in _taps(magnitudes, geom):
            ratios += power(tap / scale)
        scaled = scale * root(ratios)
    result[hurt] = scaled[hurt]
    return result


def pool_geometry(x: np.ndarray, geom: Geometry) -> np.ndarray:
    """Pool a validated array with a resolved geometry (the reference's core)."""
    mode = geom.spec.mode
    work = work_dtype(mode, x.dtype)
    geom.check_fits(x.shape, work)  # before anything of that size is allocated
    if mode in ("max", "min"):
        op = np.maximum if mode == "max" else np.minimum
        return _separable(x, geom, op, identity(x.dtype, mode))
    values = x.astype(work, copy=False)
    total = _mean(values, geom) if mode == "avg" else _p_norm(values, geom, geom.spec.p)
    with np.errstate(over="ignore"):  # beyond the output dtype's range: inf, as frameworks give
        return total.astype(output_dtype(mode, x.dtype), copy=False)


def pool2d(X, pool_size, mode: str = "max", *, stride=1, padding=0, dilation=1,
           ceil_mode: bool | str = False, count_include_pad: bool = True, layout: str = "NCHW",
           p: float = 2, divisor: int | None = None, divisor_of: str = "sum",
           allow_empty_windows: bool = False) -> np.ndarray:
    """2-D max / avg / min / lp pooling of ``X`` with every convention explicit.

    Defaults are the chapter's: stride 1, no padding.  See ``pooling_xfw.spec`` for the
    output-size, ceil and divisor rules and this module's docstring for NaN, inf and dtypes.

    Args:
        X: (H, W), (C, H, W) / (H, W, C) or (N, C, H, W) / (N, H, W, C) per ``layout``; a
            float or integer array.
        pool_size: the window, an int or (kh, kw), each >= 1.
        mode: ``"max"``, ``"avg"``, ``"min"`` or ``"lp"``.
        stride: an int or (sh, sw), each >= 1 (default 1, the chapter's; the layers default to
            the window).
        padding: an int, ``(ph, pw)``, ``((top, bottom), (left, right))``, ``"valid"``,
            ``"same"`` (an odd pad at the bottom/right, as TensorFlow) or ``"same_lower"`` (at
            the top/left); explicit pads are at most half the window.
        dilation: an int or (dh, dw), each >= 1.
        ceil_mode: False (floor); True, a last partial window too (PyTorch, ONNX: dropped
            when it would start in the padding); or ``"keep"``, that window kept as well
            (MXNet ``'full'``, Paddle's ``ceil_mode``), its value that of a window of
            padding only (``allow_empty_windows``).
        count_include_pad: avg divides by the window's cells, padding included (True) or the
            real cells only (False).
        layout: ``"NCHW"`` or ``"NHWC"``.
        p: the power of lp pooling, a finite number > 0.
        divisor: avg only: divide each window by this non-zero int instead (PyTorch's
            ``divisor_override``, ``count_include_pad`` then ignored; ``divisor=1`` is sum
            pooling, MXNet's ``pool_type='sum'``).  None: by the count.
        divisor_of: ``"sum"`` (the window's sum / ``divisor``, PyTorch's rule) or ``"mean"``
            (the window's average times its cell count / ``divisor``, Paddle's
            ``divisor_override``; ``divisor=0`` then gives inf, as Paddle does).
        allow_empty_windows: allow windows that read only padding (pads of a window or
            more, a dilation stepping over the input): max gives -inf (integers: the dtype's
            lowest), min +inf (the highest), lp 0, avg 0 with padding counted and NaN
            (0/0) without.  False: such pads are refused.

    Returns:
        The pooled array, in ``X``'s rank and layout (max/min keep the dtype; avg and lp give
        float64 for integers, the input's float dtype otherwise).

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _pooled(2, X, pool_size, mode, stride=stride, padding=padding, dilation=dilation,
                   ceil_mode=ceil_mode, count_include_pad=count_include_pad, layout=layout, p=p,
                   divisor=divisor, divisor_of=divisor_of,
                   allow_empty_windows=allow_empty_windows)


def _pooled(rank: int | None, X, pool_size, mode: str, **kwargs) -> np.ndarray:
    """``X`` pooled over ``rank`` spatial axes (None: as many as ``kwargs["layout"]`` has)."""
    spec = make_spec(pool_size, mode, rank=rank, **kwargs)
    x = as_input(X)
    return pool_geometry(x, resolve(spec, x.shape))


def pool1d(X, pool_size, mode: str = "max", *, stride=1, padding=0, dilation=1,
           ceil_mode: bool | str = False, count_include_pad: bool = True, layout: str = "NCW",
           p: float = 2, divisor: int | None = None, divisor_of: str = "sum",
           allow_empty_windows: bool = False) -> np.ndarray:
    """1-D max / avg / min / lp pooling of ``X`` over W: ``px.pool2d``'s conventions on one
    axis (text and audio models: PyTorch's ``nn.MaxPool1d``, Keras' ``MaxPooling1D``).

    Args:
        X: (W,), (C, W) / (W, C) or (N, C, W) / (N, W, C) per ``layout``.
        pool_size: the window, an int or ``(k,)``.
        mode: ``"max"``, ``"avg"``, ``"min"`` or ``"lp"``.
        stride: an int or ``(s,)`` (default 1).
        padding: an int, ``(p,)``, ``((before, after),)``, ``"valid"``, ``"same"`` or
            ``"same_lower"``; a bare ``(before, after)`` is refused as ambiguous.
        dilation: an int or ``(d,)``.
        ceil_mode: as ``px.pool2d``'s.
        count_include_pad: as ``px.pool2d``'s.
        layout: ``"NCW"`` or ``"NWC"``.
        p: the power of lp pooling.
        divisor: as ``px.pool2d``'s.
        divisor_of: as ``px.pool2d``'s.
        allow_empty_windows: as ``px.pool2d``'s.

    Returns:
        The pooled array in ``X``'s rank and layout.

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _pooled(1, X, pool_size, mode, stride=stride, padding=padding, dilation=dilation,
                   ceil_mode=ceil_mode, count_include_pad=count_include_pad, layout=layout, p=p,
                   divisor=divisor, divisor_of=divisor_of,
                   allow_empty_windows=allow_empty_windows)


def pool3d(X, pool_size, mode: str = "max", *, stride=1, padding=0, dilation=1,
           ceil_mode: bool | str = False, count_include_pad: bool = True, layout: str = "NCDHW",
           p: float = 2, divisor: int | None = None, divisor_of: str = "sum",
           allow_empty_windows: bool = False) -> np.ndarray:
    """3-D max / avg / min / lp pooling of ``X`` over D, H and W: ``px.pool2d``'s conventions
    on three axes (video and volumes: PyTorch's ``nn.MaxPool3d``, Keras' ``MaxPooling3D``).

    Args:
        X: (D, H, W), (C, D, H, W) / (D, H, W, C) or (N, C, D, H, W) / (N, D, H, W, C) per
            ``layout``.
        pool_size: the window, an int or ``(kd, kh, kw)``.
        mode: ``"max"``, ``"avg"``, ``"min"`` or ``"lp"``.
        stride: an int or ``(sd, sh, sw)`` (default 1).
        padding: an int, ``(pd, ph, pw)``, one ``(before, after)`` pair per axis,
            ``"valid"``, ``"same"`` or ``"same_lower"``.
        dilation: an int or ``(dd, dh, dw)``.
        ceil_mode: as ``px.pool2d``'s.
        count_include_pad: as ``px.pool2d``'s.
        layout: ``"NCDHW"`` or ``"NDHWC"``.
        p: the power of lp pooling.
        divisor: as ``px.pool2d``'s.
        divisor_of: as ``px.pool2d``'s.
        allow_empty_windows: as ``px.pool2d``'s.

    Returns:
        The pooled array in ``X``'s rank and layout.

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _pooled(3, X, pool_size, mode, stride=stride, padding=padding, dilation=dilation,
                   ceil_mode=ceil_mode, count_include_pad=count_include_pad, layout=layout, p=p,
                   divisor=divisor, divisor_of=divisor_of,
                   allow_empty_windows=allow_empty_windows)


def pool(X, pool_size, mode: str = "max", *, layout: str, stride=1, padding=0, dilation=1,
         ceil_mode: bool | str = False, count_include_pad: bool = True, p: float = 2,
         divisor: int | None = None, divisor_of: str = "sum",
         allow_empty_windows: bool = False) -> np.ndarray:
    """``px.pool1d``, ``pool2d`` or ``pool3d``, as many spatial axes as ``layout`` names: code
    that serves every rank (``layout="NCDHW"`` pools D, H and W).

    Args:
        X: an input of ``layout``'s rank, or one or two less (N, or N and C, left out).
        pool_size: an int, or one int per spatial axis; every other argument as the rank's
            own function takes it.
        mode: ``"max"``, ``"avg"``, ``"min"`` or ``"lp"``.
        layout: one of ``"NCW"``, ``"NWC"``, ``"NCHW"``, ``"NHWC"``, ``"NCDHW"``, ``"NDHWC"``.
        stride: as ``px.pool2d``'s, one per axis.
        padding: as ``px.pool2d``'s, one per axis.
        dilation: as ``px.pool2d``'s, one per axis.
        ceil_mode: as ``px.pool2d``'s.
        count_include_pad: as ``px.pool2d``'s.
        p: the power of lp pooling.
        divisor: as ``px.pool2d``'s.
        divisor_of: as ``px.pool2d``'s.
        allow_empty_windows: as ``px.pool2d``'s.

    Returns:
        The pooled array in ``X``'s rank and layout.

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _pooled(None, X, pool_size, mode, stride=stride, padding=padding, dilation=dilation,
                   ceil_mode=ceil_mode, count_include_pad=count_include_pad, layout=layout, p=p,
                   divisor=divisor, divisor_of=divisor_of,
                   allow_empty_windows=allow_empty_windows)
