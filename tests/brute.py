"""An independent, deliberately naive pooling: one window at a time, from the definitions.

It shares no code with ``pooling_xfw``: it enumerates windows in padded coordinates, classifies
every tap as a real cell, padding, or ceil overhang, and reduces the real cells with Python-level
logic.  Sums are exact (``Fraction`` for avg, 40-digit ``Decimal`` with an unbounded exponent for
lp) and rounded once to float64, so values near the ends of the float range give the true
result (inf only where the true result is beyond float64).  Tests hold the vectorized reference
to it.
"""
import decimal
import math
from fractions import Fraction

import numpy as np


class Invalid(Exception):
    """The arguments describe no valid pooling (window too large, or a padding-only window)."""


def _pads(n, k, s, d, padding):
    e = d * (k - 1) + 1
    if padding == "valid":
        return 0, 0
    if padding in ("same", "same_lower"):
        # TensorFlow's documented rule: out = ceil(n / s), pad_along = max((out-1)*s + e - n, 0)
        along = max((math.ceil(n / s) - 1) * s + e - n, 0)
        half = along // 2
        return (half, along - half) if padding == "same" else (along - half, half)
    return padding


def _windows(n, k, s, d, pb, pa, ceil):
    """Per window: list of ('real', index) / ('pad', None) / ('overhang', None) taps."""
    e = d * (k - 1) + 1
    length = n + pb + pa
    if length < e:
        raise Invalid("window larger than padded input")
    starts, start = [], 0
    while start <= length - e or (ceil and start < length - e + s):
        starts.append(start)
        start += s
    if ceil and starts[-1] >= n + pb:
        starts.pop()  # ceil mode: a last window starting in the after-padding is dropped
    windows = []
    for start in starts:
        taps = []
        for j in range(k):
            pos = start + j * d - pb
            if 0 <= pos < n:
                taps.append(("real", pos))
            elif -pb <= pos < n + pa:
                taps.append(("pad", None))
            else:
                taps.append(("overhang", None))
        if not any(kind == "real" for kind, _ in taps):
            raise Invalid("a window of padding only")
        windows.append(taps)
    return windows


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _plane_windows(shape, pool_size, stride, padding, dilation, ceil_mode):
    """The windows of an (H, W) plane along each axis (``_windows``), the padding resolved
    from a word (``_pads``) or given per side."""
    (kh, kw), (sh, sw), (dh, dw) = _pair(pool_size), _pair(stride), _pair(dilation)
    if isinstance(padding, str):
        ph = _pads(shape[0], kh, sh, dh, padding.lower())
        pw = _pads(shape[1], kw, sw, dw, padding.lower())
    else:
        ph, pw = (_pair(v) for v in _pair(padding))
    return (_windows(shape[0], kh, sh, dh, ph[0], ph[1], ceil_mode),
            _windows(shape[1], kw, sw, dw, pw[0], pw[1], ceil_mode))


def pool_plane(plane, pool_size, mode="max", stride=1, padding=0, dilation=1, ceil_mode=False,
               count_include_pad=True, p=2.0):
    """Pool one (H, W) float64 plane; returns a float64 (out_h, out_w) array."""
    rows, cols = _plane_windows(plane.shape, pool_size, stride, padding, dilation, ceil_mode)
    out = np.empty((len(rows), len(cols)))
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            reals, pads = [], 0
            for rkind, r in row:
                for ckind, c in col:
                    if rkind == "real" and ckind == "real":
                        reals.append(float(plane[r, c]))
                    elif "overhang" not in (rkind, ckind):
                        pads += 1
            if any(math.isnan(v) for v in reals):
                out[i, j] = math.nan
            elif mode == "max":
                out[i, j] = max(reals)
            elif mode == "min":
                out[i, j] = min(reals)
            elif mode == "avg":
                out[i, j] = _mean(reals, len(reals) + (pads if count_include_pad else 0))
            else:
                out[i, j] = _p_norm(reals, p)
    return out


def _mean(values, count):
    """The exact sum divided by ``count``, rounded once (an infinite value wins; +inf - inf is
    NaN)."""
    infinities = {v for v in values if math.isinf(v)}
    if infinities:
        return infinities.pop() if len(infinities) == 1 else math.nan
    return float(sum(Fraction(v) for v in values) / count)


def _p_norm(values, p):
    """``(sum |v|**p) ** (1/p)`` to 40 digits, with no float range in between."""
    if any(math.isinf(v) for v in values):
        return math.inf
    with decimal.localcontext() as ctx:
        ctx.prec, ctx.Emax, ctx.Emin = 40, decimal.MAX_EMAX, decimal.MIN_EMIN
        power = decimal.Decimal(p)
        total = sum(decimal.Decimal(abs(v)) ** power for v in values)
        return float(total ** (1 / power)) if total else 0.0


def pool(x, pool_size, mode="max", layout="NCHW", **kwargs):
    """Apply ``pool_plane`` to every (H, W) plane of a rank 2-4 array in ``layout``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        return pool_plane(x, pool_size, mode, **kwargs)
    if layout == "NHWC":
        x = np.moveaxis(x, -1, -3)
    lead = x.shape[:-2]
    planes = [pool_plane(x[idx], pool_size, mode, **kwargs) for idx in np.ndindex(*lead)]
    out = np.stack(planes).reshape(lead + planes[0].shape)
    return np.moveaxis(out, -3, -1) if layout == "NHWC" else out


def adaptive_bins(n, o):
    """Bin ``i`` of ``o`` over ``n`` cells: ``[floor(i*n/o), ceil((i+1)*n/o))``, with exact
    rationals (no integer-division formula shared with the reference)."""
    return [(math.floor(Fraction(i * n, o)), math.ceil(Fraction((i + 1) * n, o)))
            for i in range(o)]


def adaptive_plane(plane, out_h, out_w, mode="max"):
    """Adaptive pooling of one (H, W) float64 plane, one output cell at a time."""
    rows, cols = adaptive_bins(plane.shape[0], out_h), adaptive_bins(plane.shape[1], out_w)
    out = np.empty((out_h, out_w))
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            cells = [float(plane[r, c]) for r in range(r0, r1) for c in range(c0, c1)]
            if any(math.isnan(v) for v in cells):
                out[i, j] = math.nan
            elif mode == "max":
                out[i, j] = max(cells)
            else:
                out[i, j] = _mean(cells, len(cells))
    return out


def adaptive(x, output_size, mode="max", layout="NCHW"):
    """``adaptive_plane`` on every plane of a rank 2-4 array; ``None`` keeps an axis."""
    x = np.asarray(x, dtype=np.float64)
    planes_first = np.moveaxis(x, -1, -3) if (layout == "NHWC" and x.ndim > 2) else x
    h, w = planes_first.shape[-2:]
    oh, ow = (n if o is None else o for n, o in zip((h, w), output_size))
    lead = planes_first.shape[:-2]
    out = np.empty(lead + (oh, ow))
    for idx in np.ndindex(*lead):
        out[idx] = adaptive_plane(planes_first[idx], oh, ow, mode)
    return np.moveaxis(out, -3, -1) if (layout == "NHWC" and x.ndim > 2) else out


def grad_plane(plane, up, pool_size, mode="max", stride=1, padding=0, dilation=1,
               ceil_mode=False, count_include_pad=True, p=2.0, ties="first"):
    """The gradient of ``pool_plane`` for one float64 (H, W) plane and its upstream gradient
    ``up`` (out_h, out_w), one window at a time from the definitions: a max/min window's
    gradient to its extreme among its real cells in row-major order (its NaNs if it has any;
    ``ties``: the first, split evenly, or all), avg ``up / count`` to each real cell, lp
    ``up * sign(v) * (|v| / norm)**(p - 1)`` (0 where v is 0, NaN where the norm is)."""
    rows, cols = _plane_windows(plane.shape, pool_size, stride, padding, dilation, ceil_mode)
    grad = np.zeros(plane.shape)
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            cells, pads = [], 0  # real cells in row-major order within the window
            for rkind, r in row:
                for ckind, c in col:
                    if rkind == "real" and ckind == "real":
                        cells.append((r, c))
                    elif "overhang" not in (rkind, ckind):
                        pads += 1
            g = float(up[i, j])
            values = [float(plane[cell]) for cell in cells]
            if mode in ("max", "min"):
                nans = [cell for cell, v in zip(cells, values) if math.isnan(v)]
                if nans:
                    winners = nans
                else:
                    best = max(values) if mode == "max" else min(values)
                    winners = [cell for cell, v in zip(cells, values) if v == best]
                if ties == "first":
                    grad[winners[0]] += g
                else:
                    for cell in winners:
                        grad[cell] += g / len(winners) if ties == "split" else g
            elif mode == "avg":
                count = len(cells) + (pads if count_include_pad else 0)
                for cell in cells:
                    grad[cell] += g / count
            else:
                norm = _p_norm(values, p)
                for cell, v in zip(cells, values):
                    if math.isnan(norm):
                        grad[cell] += math.nan
                    elif v != 0:
                        grad[cell] += g * math.copysign(1.0, v) * (abs(v) / norm) ** (p - 1)
    return grad


def pool_grad(x, up, pool_size, mode="max", layout="NCHW", **kwargs):
    """``grad_plane`` on every (H, W) plane of a rank 2-4 array in ``layout``."""
    x = np.asarray(x, dtype=np.float64)
    up = np.asarray(up, dtype=np.float64)
    if x.ndim == 2:
        return grad_plane(x, up, pool_size, mode, **kwargs)
    if layout == "NHWC":
        x, up = np.moveaxis(x, -1, -3), np.moveaxis(up, -1, -3)
    grad = np.empty(x.shape)
    for idx in np.ndindex(*x.shape[:-2]):
        grad[idx] = grad_plane(x[idx], up[idx], pool_size, mode, **kwargs)
    return np.moveaxis(grad, -3, -1) if layout == "NHWC" else grad
