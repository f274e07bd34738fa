"""An independent, deliberately naive pooling: one window at a time, from the definitions.

It shares no code with ``pooling_xfw``: it enumerates windows in padded coordinates, classifies
every tap as a real cell, padding, or ceil overhang, and reduces the real cells with Python-level
logic.  Sums are exact (``Fraction`` for avg, 40-digit ``Decimal`` with an unbounded exponent for
lp) and rounded once to float64, so values near the ends of the float range give the true
result (inf only where the true result is beyond float64).  Tests hold the vectorized reference
to it.
"""
import decimal
import itertools
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


def _windows(n, k, s, d, pb, pa, ceil, allow_empty=False):
    """Per window: list of ('real', index) / ('pad', None) / ('overhang', None) taps.
    ``ceil``: False, True (a last window starting in the after-padding dropped) or "keep"
    (kept: it reads no input cell); a window of no input cell is Invalid unless
    ``allow_empty`` or it is the one "keep" kept."""
    e = d * (k - 1) + 1
    length = n + pb + pa
    if length < e:
        raise Invalid("window larger than padded input")
    starts, start = [], 0
    while start <= length - e or (ceil and start < length - e + s):
        starts.append(start)
        start += s
    kept = None
    if ceil and starts[-1] >= n + pb:
        if ceil == "keep":
            kept = len(starts) - 1
        else:
            starts.pop()  # ceil mode: a last window starting in the after-padding is dropped
    windows = []
    for number, start in enumerate(starts):
        taps = []
        for j in range(k):
            pos = start + j * d - pb
            if 0 <= pos < n:
                taps.append(("real", pos))
            elif -pb <= pos < n + pa:
                taps.append(("pad", None))
            else:
                taps.append(("overhang", None))
        if not any(kind == "real" for kind, _ in taps) and not allow_empty and number != kept:
            raise Invalid("a window of padding only")
        windows.append(taps)
    return windows


def _each(v, rank):
    return (v,) * rank if isinstance(v, int) else tuple(v)


def _axis_windows(shape, pool_size, stride, padding, dilation, ceil_mode, allow_empty=False):
    """The windows along each spatial axis of ``shape`` (``_windows``), the padding resolved
    from a word (``_pads``) or given per axis (an int or a (before, after) pair each)."""
    rank = len(shape)
    ks, ss, ds = _each(pool_size, rank), _each(stride, rank), _each(dilation, rank)
    if isinstance(padding, str):
        pads = [_pads(n, k, s, d, padding.lower()) for n, k, s, d in zip(shape, ks, ss, ds)]
    else:
        pads = [_each(v, 2) for v in _each(padding, rank)]
    return [_windows(n, k, s, d, pb, pa, ceil_mode, allow_empty)
            for n, k, s, d, (pb, pa) in zip(shape, ks, ss, ds, pads)]


def _window_cells(per_axis, index):
    """The real cells of output window ``index`` in row-major order, and how many of its taps
    read padding (not ceil overhang)."""
    cells, pads = [], 0
    for taps in itertools.product(*(per_axis[a][i] for a, i in enumerate(index))):
        kinds = [kind for kind, _ in taps]
        if all(kind == "real" for kind in kinds):
            cells.append(tuple(position for _, position in taps))
        elif "overhang" not in kinds:
            pads += 1
    return cells, pads


def _divisor(count, pool_size, rank, divisor, divisor_of):
    """What an avg window of ``count`` cells (padding as counted) is divided by: the count, or
    ``divisor`` ("sum": PyTorch's divisor_override) or the count times ``divisor`` over the
    window's cells ("mean": Paddle's), as an exact rational; ``divisor=0`` of "mean": 0."""
    if divisor is None:
        return count
    if divisor_of == "sum":
        if divisor == 0:
            raise Invalid("divisor 0 divides a sum")
        return divisor
    return Fraction(count * divisor, math.prod(_each(pool_size, rank)))


def pool_plane(plane, pool_size, mode="max", stride=1, padding=0, dilation=1, ceil_mode=False,
               count_include_pad=True, p=2.0, divisor=None, divisor_of="sum",
               allow_empty_windows=False):
    """Pool one float64 array of spatial axes only ((W,), (H, W) or (D, H, W)), one window at
    a time; returns the float64 output.  A window of no input cell: max -inf, min +inf, lp
    0, avg 0 over its count (0/0: NaN)."""
    if divisor is not None and mode != "avg":
        raise Invalid("a divisor divides an avg window only")
    per_axis = _axis_windows(plane.shape, pool_size, stride, padding, dilation, ceil_mode,
                             allow_empty_windows)
    out = np.empty(tuple(len(w) for w in per_axis))
    for index in np.ndindex(*out.shape):
        cells, pads = _window_cells(per_axis, index)
        reals = [float(plane[cell]) for cell in cells]
        if any(math.isnan(v) for v in reals):
            out[index] = math.nan
        elif mode == "max":
            out[index] = max(reals, default=-math.inf)
        elif mode == "min":
            out[index] = min(reals, default=math.inf)
        elif mode == "avg":
            count = len(reals) + (pads if count_include_pad else 0)
            out[index] = _mean(reals, _divisor(count, pool_size, plane.ndim, divisor,
                                               divisor_of))
        else:
            out[index] = _p_norm(reals, p)
    return out


def _mean(values, count):
    """The exact sum divided by ``count``, rounded once (an infinite value wins; +inf - inf is
    NaN; a negative count flips the sign; a count of 0 gives inf with the sum's sign, NaN for
    a sum of 0)."""
    infinities = {v for v in values if math.isinf(v)}
    if infinities:
        if len(infinities) > 1:
            return math.nan
        return infinities.pop() * (1 if count > 0 else -1 if count < 0 else 1)
    total = sum(Fraction(v) for v in values)
    if count == 0:
        return math.nan if total == 0 else math.copysign(math.inf, total)
    return float(total / count)


def _p_norm(values, p):
    """``(sum |v|**p) ** (1/p)`` to 40 digits, with no float range in between."""
    if any(math.isinf(v) for v in values):
        return math.inf
    with decimal.localcontext() as ctx:
        ctx.prec, ctx.Emax, ctx.Emin = 40, decimal.MAX_EMAX, decimal.MIN_EMIN
        power = decimal.Decimal(p)
        total = sum(decimal.Decimal(abs(v)) ** power for v in values)
        return float(total ** (1 / power)) if total else 0.0


def _planes(x, layout):
    """``x`` with its channels moved before the spatial axes (channels-last layouts), and the
    number of spatial axes; ``_back`` undoes the move."""
    rank = len(layout) - 2
    if layout.endswith("C") and x.ndim > rank:
        x = np.moveaxis(x, -1, -rank - 1)
    return x, rank


def _back(out, layout, ndim):
    rank = len(layout) - 2
    return np.moveaxis(out, -rank - 1, -1) if layout.endswith("C") and ndim > rank else out


def pool(x, pool_size, mode="max", layout="NCHW", **kwargs):
    """Apply ``pool_plane`` to every spatial block of an array in ``layout`` (any rank it
    allows: N, or N and C, may be left out)."""
    x = np.asarray(x, dtype=np.float64)
    planes, rank = _planes(x, layout)
    lead = planes.shape[:-rank]
    blocks = [pool_plane(planes[idx], pool_size, mode, **kwargs) for idx in np.ndindex(*lead)]
    out = np.stack(blocks).reshape(lead + blocks[0].shape)
    return _back(out, layout, x.ndim)


def adaptive_bins(n, o):
    """Bin ``i`` of ``o`` over ``n`` cells: ``[floor(i*n/o), ceil((i+1)*n/o))``, with exact
    rationals (no integer-division formula shared with the reference)."""
    return [(math.floor(Fraction(i * n, o)), math.ceil(Fraction((i + 1) * n, o)))
            for i in range(o)]


def adaptive_plane(plane, output_size, mode="max"):
    """Adaptive pooling of one float64 array of spatial axes only, one output cell at a
    time."""
    bins = [adaptive_bins(n, o) for n, o in zip(plane.shape, output_size)]
    out = np.empty(tuple(output_size))
    for index in np.ndindex(*out.shape):
        ranges = [range(*bins[a][i]) for a, i in enumerate(index)]
        cells = [float(plane[cell]) for cell in itertools.product(*ranges)]
        if any(math.isnan(v) for v in cells):
            out[index] = math.nan
        elif mode == "max":
            out[index] = max(cells)
        else:
            out[index] = _mean(cells, len(cells))
    return out


def adaptive(x, output_size, mode="max", layout="NCHW"):
    """``adaptive_plane`` on every spatial block of an array in ``layout``; ``None`` keeps an
    axis."""
    x = np.asarray(x, dtype=np.float64)
    planes, rank = _planes(x, layout)
    sizes = tuple(n if o is None else o for n, o in zip(planes.shape[-rank:], output_size))
    lead = planes.shape[:-rank]
    out = np.empty(lead + sizes)
    for idx in np.ndindex(*lead):
        out[idx] = adaptive_plane(planes[idx], sizes, mode)
    return _back(out, layout, x.ndim)


def adaptive_grad_plane(plane, up, output_size, mode="max", ties="first"):
    """The gradient of ``adaptive_plane``, one bin at a time from the definitions: a max bin's
    gradient to its maximum among its cells in row-major order (its NaNs if it has any;
    ``ties``: the first, split evenly, or all), avg ``up / count`` to each of its cells."""
    bins = [adaptive_bins(n, o) for n, o in zip(plane.shape, output_size)]
    grad = np.zeros(plane.shape)
    for index in np.ndindex(*up.shape):
        cells = list(itertools.product(*[range(*bins[a][i]) for a, i in enumerate(index)]))
        g = float(up[index])
        if mode == "avg":
            for cell in cells:
                grad[cell] += g / len(cells)
            continue
        values = [float(plane[cell]) for cell in cells]
        nans = [cell for cell, v in zip(cells, values) if math.isnan(v)]
        winners = nans or [cell for cell, v in zip(cells, values) if v == max(values)]
        if ties == "first":
            grad[winners[0]] += g
        else:
            for cell in winners:
                grad[cell] += g / len(winners) if ties == "split" else g
    return grad


def adaptive_grad(x, up, output_size, mode="max", layout="NCHW", ties="first"):
    """``adaptive_grad_plane`` on every spatial block of an array in ``layout``; ``None`` keeps
    an axis."""
    x = np.asarray(x, dtype=np.float64)
    planes, rank = _planes(x, layout)
    ups, _ = _planes(np.asarray(up, dtype=np.float64), layout)
    sizes = tuple(n if o is None else o for n, o in zip(planes.shape[-rank:], output_size))
    grad = np.empty(planes.shape)
    for idx in np.ndindex(*planes.shape[:-rank]):
        grad[idx] = adaptive_grad_plane(planes[idx], ups[idx], sizes, mode, ties)
    return _back(grad, layout, x.ndim)


def grad_plane(plane, up, pool_size, mode="max", stride=1, padding=0, dilation=1,
               ceil_mode=False, count_include_pad=True, p=2.0, ties="first", divisor=None,
               divisor_of="sum", allow_empty_windows=False):
    """The gradient of ``pool_plane`` for one float64 array of spatial axes only and its
    upstream gradient ``up`` (the output's shape), one window at a time from the definitions: a max/min window's
    gradient to its extreme among its real cells in row-major order (its NaNs if it has any;
    ``ties``: the first, split evenly, or all), avg ``up / count`` to each real cell, lp
    ``up * sign(v) * (|v| / norm)**(p - 1)`` (0 where v is 0, NaN where the norm is)."""
    per_axis = _axis_windows(plane.shape, pool_size, stride, padding, dilation, ceil_mode,
                             allow_empty_windows)
    grad = np.zeros(plane.shape)
    for index in np.ndindex(*up.shape):  # one window at a time
        cells, pads = _window_cells(per_axis, index)  # real cells in row-major order
        g = float(up[index])
        values = [float(plane[cell]) for cell in cells]
        if mode in ("max", "min") and not cells:
            continue  # a window of no input cell: its gradient goes nowhere
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
            count = _divisor(len(cells) + (pads if count_include_pad else 0), pool_size,
                             plane.ndim, divisor, divisor_of)
            for cell in cells:
                grad[cell] += float(Fraction(g) / count)
        else:
            # the window's output, NaN where it reads a NaN (as pool_plane's), inf beside it too
            norm = math.nan if any(math.isnan(v) for v in values) else _p_norm(values, p)
            for cell, v in zip(cells, values):
                if math.isnan(norm):
                    grad[cell] += math.nan
                elif v != 0:
                    grad[cell] += g * math.copysign(1.0, v) * (abs(v) / norm) ** (p - 1)
    return grad


def pool_grad(x, up, pool_size, mode="max", layout="NCHW", **kwargs):
    """``grad_plane`` on every spatial block of an array in ``layout``."""
    x = np.asarray(x, dtype=np.float64)
    up = np.asarray(up, dtype=np.float64)
    planes, rank = _planes(x, layout)
    ups, _ = _planes(up, layout)
    grad = np.empty(planes.shape)
    for idx in np.ndindex(*planes.shape[:-rank]):
        grad[idx] = grad_plane(planes[idx], ups[idx], pool_size, mode, **kwargs)
    return _back(grad, layout, x.ndim)


def argpool_plane(plane, pool_size, mode="max", stride=1, padding=0, dilation=1,
                  ceil_mode=False, allow_empty_windows=False):
    """Each window's winner, one window at a time: its first NaN, else its first extreme among
    its real cells in row-major order, as a flat position in the plane; -1 for a window of
    padding only."""
    per_axis = _axis_windows(plane.shape, pool_size, stride, padding, dilation, ceil_mode,
                             allow_empty_windows)
    out = np.empty(tuple(len(w) for w in per_axis), np.int64)
    for index in np.ndindex(*out.shape):
        cells, _ = _window_cells(per_axis, index)
        values = [float(plane[cell]) for cell in cells]
        if not cells:
            out[index] = -1
            continue
        nans = [cell for cell, v in zip(cells, values) if math.isnan(v)]
        best = max(values) if mode == "max" else min(values)
        winner = nans[0] if nans else next(c for c, v in zip(cells, values) if v == best)
        out[index] = np.ravel_multi_index(winner, plane.shape)
    return out


def unpool_plane(values, indices, size):
    """Each value written at its flat index in a zero plane of ``size`` (-1: nowhere)."""
    out = np.zeros(math.prod(size))
    for v, i in zip(np.ravel(values), np.ravel(indices)):
        if i >= 0:
            out[i] = v
    return out.reshape(size)
