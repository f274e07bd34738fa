"""The gradient of ``px.pool1d``, ``pool2d`` and ``pool3d``: ``pool2d_grad`` (and
``pool1d_grad``, ``pool3d_grad``), the vector-Jacobian product in numpy.

``pool2d_grad(X, ...)`` returns ``dL/dX`` for ``L = sum(pool2d(X, ...) * grad_output)``, in the
shape, layout and dtype of ``X``, driven by the forward's own resolved ``Geometry`` (pads, output
sizes, ceil overhang, divisors: ``pooling_xfw.spec``), so both passes read the same windows.
Vectorized like the forward: a loop over the taps of the window (strided views), never over
windows; max/min read each tap only where it is a real cell and run a few planes at a time, then
send each window's gradient to its winner with one ``np.add.at`` on flat indices.  Each window's
upstream gradient goes:

* max / min: to the window's extreme.  ``ties`` decides among equal extremes:
  ``"first"``, the first in row-major order within the window, what every framework's pooling op
  does (PyTorch, TensorFlow, Paddle, MXNet, JAX; overlapping and dilated windows included: each
  window routes to its own first); ``"split"``, divided evenly among them, what a global max
  written as a reduction does (``torch.amax``, ``tf.reduce_max`` i.e. Keras'
  ``GlobalMaxPooling2D``, ``paddle.max``, ``jnp.max``); ``"all"``, the full gradient to each of
  them (``mx.nd.max``).  Padding and ceil overhang never receive gradient: a window of only
  ``-inf`` (``+inf`` for min) sends it to its first real cell like any tie (PyTorch's
  ``max_pool2d`` starts its argmax at the window's first real cell); a window of padding only
  (``allow_empty_windows``, ``ceil_mode="keep"``) sends it nowhere (Paddle's backward skips it).
  NaN: the forward propagates it, so a NaN is its window's extreme and the gradient goes to the
  window's first NaN (``ties`` applies among NaNs).  PyTorch routes it to the last NaN,
  TensorFlow to a NaN while outputting the max of the rest, Paddle and MXNet to the max of the
  rest: ``px.compare(..., grad=True)`` reports those as differences with the cause.
* avg: ``grad_output / divisor`` to every cell the window reads, the divisor from the geometry
  (``count_include_pad``, SAME and ceil overhang as in the forward); cells of the padding get
  their share, which is dropped with the padding; a window of padding only gives none.  NaN
  and inf in ``X`` do not matter.
* lp, ``y = (sum |x|**p)**(1/p)``: ``grad_output * sign(x) * (|x| / y)**(p - 1)``, and 0 at every
  cell that is 0 (so a window whose sum is 0 gives 0, as PyTorch's own ``F.lp_pool2d``, whose
  ``relu`` masks the root's infinite slope; the same formula computed naively gives NaN there).
  A window whose result is NaN sends NaN to every cell it reads.

``grad_output``: the upstream gradient, shaped as the pooled output; ones when omitted.  The
result has ``X``'s float dtype, computed in at least float32 (float16 in float32, rounded once).
Integer inputs are refused: a gradient needs a float input (no framework differentiates one).
"""
from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from .errors import PoolingError
from .reference import _pad_for, _p_norm, _spatial, _tap, accumulator_dtype, as_input
from .layout import channels_last, spatial_index
from .spec import AxisGeometry, Geometry, make_spec, resolve, spatial_axes

TIES = ("first", "split", "all")


def check_ties(ties) -> str:
    """``ties`` checked: one of ``TIES`` (``PoolingError`` naming the argument otherwise)."""
    if not isinstance(ties, str) or ties.lower() not in TIES:
        raise PoolingError(f"ties: got {ties!r}; allowed: {', '.join(map(repr, TIES))}")
    return ties.lower()


def grad_input(X) -> np.ndarray:
    """``X`` as an array a gradient can be taken of: a float16/32/64 array (``PoolingError``
    otherwise)."""
    x = as_input(X)
    if x.dtype.kind != "f":
        raise PoolingError(f"X: got dtype {x.dtype} for a gradient; allowed: float16, float32 or "
                           f"float64 arrays (a gradient needs a float input)")
    return x


def output_shape_of(shape, geom: Geometry) -> tuple[int, ...]:
    """The pooled output's shape for an input of ``shape`` (same rank and layout)."""
    return geom.pooled_shape(shape)


def upstream(grad_output, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """``grad_output`` checked against the pooled output's ``shape``, in ``dtype`` (ones when
    None)."""
    if grad_output is None:
        return np.ones(shape, dtype)
    try:
        up = np.asarray(grad_output)
    except (TypeError, ValueError) as exc:
        raise PoolingError(f"grad_output: got an object numpy cannot read as an array ({exc}); "
                           f"allowed: a real array of the pooled output's shape {shape}") from None
    if up.dtype.kind not in "iuf" or up.dtype.char == "g":
        raise PoolingError(f"grad_output: got dtype {up.dtype}; allowed: a real (integer or "
                           f"float16/32/64) array of the pooled output's shape {shape}")
    if up.shape != tuple(shape):
        raise PoolingError(f"grad_output: got shape {up.shape}; allowed: the pooled output's "
                           f"shape {tuple(shape)}")
    return up.astype(dtype, copy=False)


def pool2d_grad(X, pool_size, mode: str = "max", *, grad_output=None, ties: str = "first",
                stride=1, padding=0, dilation=1, ceil_mode: bool | str = False,
                count_include_pad: bool = True, layout: str = "NCHW", p: float = 2,
                divisor: int | None = None, divisor_of: str = "sum",
                allow_empty_windows: bool = False) -> np.ndarray:
    """The gradient of ``px.pool2d(X, pool_size, mode, ...)`` with respect to ``X``: the
    vector-Jacobian product with ``grad_output`` (ones when omitted), shaped and typed as ``X``.

    See this module's docstring for padding, NaN, inf and lp at 0.

    Args:
        X: a float input, as ``px.pool2d`` takes it.
        pool_size: as ``px.pool2d``'s.
        mode: as ``px.pool2d``'s.
        grad_output: the upstream gradient, shaped as the output (None: ones).
        ties: where a max/min window's gradient goes among equal extremes: ``"first"`` (every
            framework's pooling op), ``"split"`` (a max written as a reduction:
            ``torch.amax``, ``tf.reduce_max``) or ``"all"`` (``mx.nd.max``).
        stride: as ``px.pool2d``'s.
        padding: as ``px.pool2d``'s.
        dilation: as ``px.pool2d``'s.
        ceil_mode: as ``px.pool2d``'s.
        count_include_pad: as ``px.pool2d``'s.
        layout: as ``px.pool2d``'s.
        p: as ``px.pool2d``'s.
        divisor: as ``px.pool2d``'s.
        divisor_of: as ``px.pool2d``'s.
        allow_empty_windows: as ``px.pool2d``'s.

    Returns:
        The gradient with respect to ``X``, shaped and typed as ``X``.

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _grad(2, X, pool_size, mode, grad_output, ties, stride=stride, padding=padding,
                 dilation=dilation, ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                 layout=layout, p=p, divisor=divisor, divisor_of=divisor_of,
                 allow_empty_windows=allow_empty_windows)


def pool_grad(X, pool_size, mode: str = "max", *, layout: str, grad_output=None,
              ties: str = "first", **kwargs) -> np.ndarray:
    """The gradient of ``px.pool(X, pool_size, mode, layout=layout, ...)``: ``pool1d_grad``,
    ``pool2d_grad`` or ``pool3d_grad`` as ``layout``'s rank says.

    Args:
        X: a float input, as ``px.pool`` takes it.
        pool_size: as ``px.pool``'s.
        mode: as ``px.pool``'s.
        layout: any rank's layout, as ``px.pool``'s.
        grad_output: the upstream gradient, shaped as the output (None: ones).
        ties: as ``px.pool2d_grad``'s.
        **kwargs: stride, padding, dilation, ceil_mode, count_include_pad, p, divisor,
            divisor_of and allow_empty_windows, as ``px.pool``'s.

    Returns:
        The gradient with respect to ``X``, shaped and typed as ``X``.

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _grad(None, X, pool_size, mode, grad_output, ties, layout=layout, **kwargs)


def _grad(rank: int | None, X, pool_size, mode, grad_output, ties, **kwargs) -> np.ndarray:
    spec = make_spec(pool_size, mode, rank=rank, **kwargs)
    ties = check_ties(ties)
    x = grad_input(X)
    return grad_geometry(x, resolve(spec, x.shape), grad_output, ties)


def pool1d_grad(X, pool_size, mode: str = "max", *, grad_output=None, ties: str = "first",
                stride=1, padding=0, dilation=1, ceil_mode: bool | str = False,
                count_include_pad: bool = True, layout: str = "NCW", p: float = 2,
                divisor: int | None = None, divisor_of: str = "sum",
                allow_empty_windows: bool = False) -> np.ndarray:
    """The gradient of ``px.pool1d(X, pool_size, mode, ...)`` with respect to ``X``, by
    ``px.pool2d_grad``'s rules (ties, NaN, padding).

    Args:
        X: a float input, as ``px.pool1d`` takes it.
        pool_size: as ``px.pool1d``'s; every other argument too.
        mode: as ``px.pool1d``'s.
        grad_output: the upstream gradient, shaped as the output (None: ones).
        ties: as ``px.pool2d_grad``'s.
        stride: as ``px.pool1d``'s.
        padding: as ``px.pool1d``'s.
        dilation: as ``px.pool1d``'s.
        ceil_mode: as ``px.pool1d``'s.
        count_include_pad: as ``px.pool1d``'s.
        layout: ``"NCW"`` or ``"NWC"``.
        p: as ``px.pool1d``'s.
        divisor: as ``px.pool2d``'s.
        divisor_of: as ``px.pool2d``'s.
        allow_empty_windows: as ``px.pool2d``'s.

    Returns:
        The gradient with respect to ``X``, shaped and typed as ``X``.

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _grad(1, X, pool_size, mode, grad_output, ties, stride=stride, padding=padding,
                 dilation=dilation, ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                 layout=layout, p=p, divisor=divisor, divisor_of=divisor_of,
                 allow_empty_windows=allow_empty_windows)


def pool3d_grad(X, pool_size, mode: str = "max", *, grad_output=None, ties: str = "first",
                stride=1, padding=0, dilation=1, ceil_mode: bool | str = False,
                count_include_pad: bool = True, layout: str = "NCDHW", p: float = 2,
                divisor: int | None = None, divisor_of: str = "sum",
                allow_empty_windows: bool = False) -> np.ndarray:
    """The gradient of ``px.pool3d(X, pool_size, mode, ...)`` with respect to ``X``, by
    ``px.pool2d_grad``'s rules (ties, NaN, padding).

    Args:
        X: a float input, as ``px.pool3d`` takes it.
        pool_size: as ``px.pool3d``'s.
        mode: as ``px.pool3d``'s.
        grad_output: the upstream gradient, shaped as the output (None: ones).
        ties: as ``px.pool2d_grad``'s.
        stride: as ``px.pool3d``'s.
        padding: as ``px.pool3d``'s.
        dilation: as ``px.pool3d``'s.
        ceil_mode: as ``px.pool3d``'s.
        count_include_pad: as ``px.pool3d``'s.
        layout: ``"NCDHW"`` or ``"NDHWC"``.
        p: as ``px.pool3d``'s.
        divisor: as ``px.pool2d``'s.
        divisor_of: as ``px.pool2d``'s.
        allow_empty_windows: as ``px.pool2d``'s.

    Returns:
        The gradient with respect to ``X``, shaped and typed as ``X``.

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _grad(3, X, pool_size, mode, grad_output, ties, stride=stride, padding=padding,
                 dilation=dilation, ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                 layout=layout, p=p, divisor=divisor, divisor_of=divisor_of,
                 allow_empty_windows=allow_empty_windows)


def grad_geometry(x: np.ndarray, geom: Geometry, grad_output=None, ties: str = "first"
                  ) -> np.ndarray:
    """The gradient of a validated float array with a resolved geometry, of any rank."""
    work = accumulator_dtype(x.dtype)
    geom.check_fits(x.shape, work)
    shape = output_shape_of(x.shape, geom)
    # ones, when omitted, as a read-only broadcast: nothing of the output's size is written
    up = (np.broadcast_to(np.ones((), work), shape) if grad_output is None
          else upstream(grad_output, shape, work))
    mode = geom.spec.mode
    if mode == "avg":
        grad = _avg_grad(up, geom, x.shape)
    elif mode == "lp":
        grad = _lp_grad(x.astype(work, copy=False), up, geom)
    else:
        grad = _extreme_grad(x, up, geom, ties)
    return grad.astype(x.dtype, copy=False)


# --- scattering a window's gradient back onto the cells it reads -----------------------------

def _padded_length(g: AxisGeometry) -> int:
    """The length of one axis as the windows read it (the forward's ``_pad_for``)."""
    return max(g.pad_before + g.size, g.span)


def _scatter_axis(values: np.ndarray, axis: int, g: AxisGeometry) -> np.ndarray:
    """The transpose of a sum over one axis's windows: each window's value added to every cell
    it reads (k strided views; within one tap the windows' cells are distinct), then the
    padding and overhang dropped."""
    if g.stride == g.kernel and (g.dilation == 1 or g.kernel == 1):
        return _tile_axis(values, axis, g)
    shape = list(values.shape)
    shape[axis] = _padded_length(g)
    out = np.zeros(shape, values.dtype)
    index = [slice(None)] * out.ndim
    for j in range(g.kernel):
        index[axis] = _tap(g, j)
        out[tuple(index)] += values
    index[axis] = slice(g.pad_before, g.pad_before + g.size)
    return out[tuple(index)]


def _tile_axis(values: np.ndarray, axis: int, g: AxisGeometry) -> np.ndarray:
    """``_scatter_axis`` where the windows tile the axis (stride = kernel, no dilation): each
    cell is read by at most one window, so the scatter is ``np.repeat`` (the same numbers,
    several times faster than k strided additions into a last axis)."""
    tiled = np.repeat(values, g.kernel, axis=axis)  # the span: out * kernel cells
    index = [slice(None)] * tiled.ndim
    covered = min(g.span, g.pad_before + g.size)  # cells past the last window get nothing
    index[axis] = slice(g.pad_before, covered)
    if covered == g.pad_before + g.size:
        return tiled[tuple(index)]
    shape = list(values.shape)
    shape[axis] = g.size
    out = np.zeros(shape, values.dtype)
    part = [slice(None)] * out.ndim
    part[axis] = slice(0, covered - g.pad_before)
    out[tuple(part)] = tiled[tuple(index)]
    return out


def _avg_grad(up: np.ndarray, geom: Geometry, shape) -> np.ndarray:
    """``up / divisor`` to every cell each window reads: separable, one spatial axis at a time,
    the last first (in 2-D k_h + k_w strided additions)."""
    layout = geom.spec.layout
    with np.errstate(divide="ignore", invalid="ignore"):  # divisor=0 (Paddle's rule): inf
        share = up / _spatial(geom.divisor().astype(up.dtype), up.ndim, layout)
    empty = geom.empty_windows()
    if empty.any():
        share = np.where(_spatial(empty, up.ndim, layout), 0, share).astype(up.dtype)
    for axis, g in reversed(tuple(zip(spatial_axes(len(shape), geom.spec.layout), geom.axes))):
        share = _scatter_axis(share, axis, g)
    return share


class _Taps:
    """The window's taps in row-major order over two arrays padded alike: a padded value array
    (read) and a zero gradient array (written), with which taps read real cells."""

    def __init__(self, values: np.ndarray, geom: Geometry, fill, grad_dtype: np.dtype):
        self.geom = geom
        self.spatial = spatial_axes(values.ndim, geom.spec.layout)
        for axis, g in zip(self.spatial, geom.axes):
            values = _pad_for(values, axis, g, fill)
        self.values = values
        self.grad = np.zeros(self.values.shape, grad_dtype)
        self.real = [self._real_taps(g) for g in geom.axes]
        self.padded = any(not r.all() for r in self.real)

    @staticmethod
    def _real_taps(g: AxisGeometry) -> np.ndarray:
        """(out, kernel): which taps of each window read an input cell (not padding/overhang)."""
        positions = g.tap_positions()
        return (positions >= 0) & (positions < g.size)

    def __iter__(self):
        """(value view, gradient view, real mask or None) per tap, each output-shaped."""
        layout, ndim = self.geom.spec.layout, self.values.ndim
        for taps in itertools.product(*(range(g.kernel) for g in self.geom.axes)):
            index = spatial_index(ndim, layout, [_tap(g, t) for g, t in zip(self.geom.axes, taps)])
            mask = (_spatial(functools.reduce(np.multiply.outer, (
                real[:, t] for real, t in zip(self.real, taps))), ndim, layout)
                    if self.padded else None)
            yield self.values[index], self.grad[index], mask

    def result(self) -> np.ndarray:
        """The gradient of the input cells (padding and overhang dropped)."""
        return self.grad[spatial_index(self.grad.ndim, self.geom.spec.layout, [
            slice(g.pad_before, g.pad_before + g.size) for g in self.geom.axes])]


class _RealTaps:
    """The window's taps in row-major order, each restricted to the windows where it reads a
    real cell: per tap, the block of outputs it is real over and the matching view of ``x``.

    Along one axis, tap ``a`` of window ``i`` reads ``i*s + a*d - pad``, real for a contiguous
    run of ``i``, so no padding is materialized and nothing is masked.  The views come from the
    stride's phases of ``x`` (in 2-D ``x[..., r::s_h, c::s_w]``), copied contiguous once when the
    last spatial axis is the array's last and its stride is above 1: a strided last axis makes
    every tap's arithmetic several times slower, and the copy is one pass over ``x``."""

    def __init__(self, x: np.ndarray, geom: Geometry):
        self.x, self.geom = x, geom
        self.spatial = spatial_axes(x.ndim, geom.spec.layout)
        self.copy_phases = self.spatial[-1] == x.ndim - 1 and geom.axes[-1].stride > 1
        self._phases: dict[tuple[int, ...], np.ndarray] = {}
        self.taps = []  # (number, taps, output block index, phases, view index), real taps only
        per_axis = [[self._axis(g, t) for t in range(g.kernel)] for g in geom.axes]
        for number, taps in enumerate(itertools.product(*(range(g.kernel) for g in geom.axes))):
            parts = [along[t] for along, t in zip(per_axis, taps)]
            if all(part is not None for part in parts):
                self.taps.append((number, taps, self.index([part[0] for part in parts]),
                                  tuple(part[1] for part in parts),
                                  self.index([part[2] for part in parts])))

    @staticmethod
    def _axis(g: AxisGeometry, a: int):
        """Tap ``a`` along one axis: (output slice, phase, slice of that phase), or None where it
        reads no real cell of any window."""
        offset = a * g.dilation - g.pad_before
        first = max(0, -(offset // g.stride))  # ceil(-offset / s)
        stop = min(g.out, -((offset - g.size) // g.stride))  # ceil((size - offset) / s)
        if first >= stop:
            return None
        position = first * g.stride + offset
        phase, start = position % g.stride, position // g.stride
        return slice(first, stop), phase, slice(start, start + stop - first)

    def index(self, slices) -> tuple:
        """An index of ``x``: ``slices``, one per spatial axis, there."""
        return spatial_index(self.x.ndim, self.geom.spec.layout, slices)

    def phase(self, phase: tuple[int, ...]) -> np.ndarray:
        if phase not in self._phases:
            view = self.x[self.index([slice(p, None, g.stride)
                                      for p, g in zip(phase, self.geom.axes)])]
            self._phases[phase] = np.ascontiguousarray(view) if self.copy_phases else view
        return self._phases[phase]

    def __iter__(self):
        """(tap number in row-major order, the tap per axis, output block, values there)."""
        for number, taps, out, phase, view in self.taps:
            yield number, taps, out, self.phase(phase)[view]


_PART_BYTES = 1 << 19  # the input a part holds: its taps' passes then run in the CPU's cache
_PART_WINDOWS = 1 << 14  # but at least this many windows, so that per-call costs stay small


def _extreme_grad(x: np.ndarray, up: np.ndarray, geom: Geometry, ties: str) -> np.ndarray:
    """max/min: each window's gradient to its extreme (a NaN where it has one), per ``ties``.

    Planes are independent, so the work runs a few planes at a time (``_PART_BYTES`` of input,
    the passes over the taps then reading memory once, and at least ``_PART_WINDOWS`` windows
    where a plane has few, as for a global window), on ``(N*C, H, W)`` for NCHW.  float16 is
    compared in float32 (exact, and several times faster in numpy)."""
    grad = np.zeros(x.shape, up.dtype)
    xs, ups, grads = x, up, grad
    layout = geom.spec.layout
    if x.ndim == len(layout) and not channels_last(layout):
        xs, ups, grads = (a.reshape((-1,) + a.shape[2:]) for a in (x, up, grad))
    if spatial_axes(xs.ndim, layout)[0] == 0:  # (H, W) or (H, W, C): one part
        _extreme_part(xs, ups, grads, geom, ties)
        return grad
    windows = ups[0].size
    step = max(1, _PART_BYTES // max(xs[0].nbytes, 1), -(-_PART_WINDOWS // max(windows, 1)))
    for start in range(0, xs.shape[0], step):
        part = slice(start, start + step)
        _extreme_part(xs[part], ups[part], grads[part], geom, ties)
    return grad


def _extreme_part(x: np.ndarray, up: np.ndarray, grad: np.ndarray, geom: Geometry, ties: str
                  ) -> None:
    """``_extreme_grad`` of one part, added into ``grad`` (C-contiguous, ``x``'s shape).

    The extremes are recomputed over the real taps (NaN propagates, as in ``pool2d``); a tap
    hits where it equals its window's extreme, or is a NaN (a NaN cell makes its window NaN).
    ``"first"``: one pass over the taps marks each window's first hit, then one
    ``np.add.at`` on flat indices sends ``up`` there (a cell's contributions summed in
    row-major order of the windows, in ``up``'s dtype).  ``"split"`` / ``"all"``: per tap,
    ``up / hits`` or ``up`` added where it hits (summed in tap order)."""
    if x.dtype == np.float16:
        x = x.astype(np.float32)  # exact: the same order, ties and NaNs
    taps = _RealTaps(x, geom)
    mode = geom.spec.mode
    y = np.full(up.shape, np.inf if mode == "min" else -np.inf, x.dtype)
    reduce = np.minimum if mode == "min" else np.maximum
    for _, _, out, value in taps:
        reduce(y[out], value, out=y[out])
    any_nan = bool(np.isnan(y).any())
    hit = np.empty(y.shape, bool)

    def hits(out, value):
        np.equal(value, y[out], out=hit[out])
        if any_nan:
            hit[out] |= np.isnan(value)
        return hit[out]

    if ties == "first":
        # each window's first hit, the least tap number among its hits, kept branch-free as
        # the largest of hit * (n_taps - number) (np.copyto with where= is several times
        # slower on these views); every window has a hit, so first = n_taps - that
        n_taps = math.prod(g.kernel for g in geom.axes)
        kind = np.min_scalar_type(n_taps)
        rank = np.zeros(y.shape, kind)
        scratch = np.empty(y.shape, kind)
        for number, _, out, value in taps:
            candidate = np.multiply(hits(out, value), kind.type(n_taps - number),
                                    out=scratch[out], dtype=kind)
            np.maximum(rank[out], candidate, out=rank[out])
        empty = rank == 0  # a window of padding only: no cell to send its gradient to
        first = np.subtract(kind.type(n_taps), rank, out=rank)
        first[empty] = 0
        # flat index in grad of each window's winner: its first cell's plus the tap's offset
        strides = np.cumprod((x.shape[1:] + (1,))[::-1])[::-1]  # C-order, in elements
        offsets = functools.reduce(np.add.outer, (
            np.arange(g.kernel) * g.dilation * strides[axis]
            for axis, g in zip(taps.spatial, geom.axes)))
        along = dict(zip(taps.spatial, geom.axes))
        base = np.zeros((1,) * y.ndim, np.intp)
        for axis, size in enumerate(y.shape):
            steps = np.arange(size, dtype=np.intp)
            if axis in along:
                steps = steps * along[axis].stride - along[axis].pad_before
            shape = [1] * y.ndim
            shape[axis] = size
            base = base + (steps * strides[axis]).reshape(shape)
        flat = offsets.ravel().astype(np.intp)[first]
        flat += base
        sent = np.ascontiguousarray(up)
        if empty.any():
            keep = ~empty
            flat, sent = flat[keep], sent[keep]
        np.add.at(grad.reshape(-1), flat.reshape(-1), sent.reshape(-1))
        return
    if ties == "split":
        count = np.zeros(y.shape, np.int64)
        for _, _, out, value in taps:
            count[out] += hits(out, value)
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 hits: a window of padding
            up = up / count  # its extreme is one of its real cells, if it has one
    for _, tap, out, value in taps:
        cells = grad[taps.index([_cells(g, t, out[axis])
                                 for g, t, axis in zip(geom.axes, tap, taps.spatial)])]
        np.add(cells, up[out], out=cells, where=hits(out, value))


def _cells(g: AxisGeometry, tap: int, windows: slice) -> slice:
    """The input cells tap ``tap`` reads for the windows ``windows`` (all real), as a slice."""
    start = windows.start * g.stride + tap * g.dilation - g.pad_before
    return slice(start, start + (windows.stop - windows.start - 1) * g.stride + 1, g.stride)


def _lp_grad(x: np.ndarray, up: np.ndarray, geom: Geometry) -> np.ndarray:
    """lp: ``up * (|x| / y)**(p - 1)`` summed over the windows reading a cell, times
    ``sign(x)``; 0 where ``|x|`` is 0, NaN where the window's result is NaN."""
    p = geom.spec.p
    magnitudes = np.abs(x)
    y = _p_norm(magnitudes, geom, p)
    nan_windows = np.isnan(y)
    taps = _Taps(magnitudes, geom, 0, up.dtype)
    exponent = x.dtype.type(p - 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        for value, grad, mask in taps:
            share = value / y
            share **= exponent
            share *= up
            share[value == 0] = 0  # a cell that is 0 gets 0 (also where the window sum is 0)
            share[nan_windows] = np.nan  # a NaN window: NaN to every cell it reads
            grad += share
        sign = np.sign(x)
        sign[np.isnan(x)] = 1  # a NaN cell no window reads keeps gradient 0
        return taps.result() * sign
