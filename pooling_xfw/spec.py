"""The neutral pooling spec and its geometry: the only place the convention arithmetic lives.

``PoolSpec`` is what the user meant (validated, input-independent).  ``Geometry`` is that spec
resolved against an input's (H, W): per-side pads, output size, and which cells each window
reads.  The reference and every adapter consume a ``Geometry``; none recomputes it.

Conventions (one axis; ``n`` input length, ``k`` window, ``s`` stride, ``d`` dilation,
``e = d*(k-1)+1`` the window's extent, ``pb``/``pa`` pads before/after):

* explicit pads: ``out = floor((n+pb+pa-e)/s) + 1`` (PyTorch, ONNX, Paddle, MXNet ``valid``).
* ``"valid"``: explicit pads of 0.
* ``"same"`` (TensorFlow ``SAME``, ONNX ``SAME_UPPER``): ``out = ceil(n/s)``, total pad
  ``max((out-1)*s + e - n, 0)``, ``pb = total//2`` and the odd cell after (bottom/right).
* ``"same_lower"`` (ONNX ``SAME_LOWER``): as ``same`` with the odd cell before (top/left).
* ``ceil_mode=True``: ``out = ceil((n+pb+pa-e)/s) + 1``, then the last window is dropped when
  it would start inside the after-padding or beyond, ``(out-1)*s >= n+pb`` (PyTorch's
  ``pooling_output_shape`` and ONNX).  ``ceil_mode="keep"``: the same count without the drop
  (MXNet ``pooling_convention='full'``, GluonCV's ``ceil_mode=True``, Paddle's ``ceil_mode``):
  the window kept reads no input cell.  Windows may then reach past the padded border
  ("overhang"): those cells are not padding, they never count in a divisor and never win a max.
* empty windows, that read only padding or overhang (pads of a window or more, a dilation
  that steps over the input, or ``"keep"``'s last window), are refused unless
  ``allow_empty_windows=True`` (``"keep"`` allows its own).  Their value is the reduction's
  over no cell: max ``-inf`` (integers: the dtype's lowest), min ``+inf`` (the highest), lp 0,
  avg 0 where the divisor counts padding and NaN (0/0) where it counts no cell.  Measured: MXNet
  and Paddle give the max as the lowest finite value; PyTorch, TensorFlow, ONNX Runtime refuse.
* avg divisor, ``divisor=d`` (``arguments.DIVISOR_RULES``): ``d`` for every window (PyTorch's
  ``divisor_override``), or the count below times ``d`` over the window's cells (Paddle's).
* avg divisor, ``count_include_pad=True``: window taps inside ``[-pb, n+pa)``, i.e. the
  padding counts and the ceil overhang does not (PyTorch, MXNet, Paddle ``exclusive=False``).
  ``False``: taps inside ``[0, n)`` only (PyTorch ``count_include_pad=False``, Paddle's default
  ``exclusive=True``, TensorFlow ``SAME``).  Taps are dilation-aware: a dilated window's divisor
  counts only the cells it reads.

Because a 2-D window is the product of a row window and a column window, every per-window
quantity (tap validity, divisor) is the outer product of two per-axis vectors.

Sizes are bounded before anything is allocated: every window, stride, dilation and pad is an
int below ``2**63`` (C int64, as the frameworks take them), and so is every padded length
(input + pads + ceil overhang) once resolved; resolving allocates at most a few vectors of one
entry per output window.  ``Geometry.check_fits`` refuses a pooling whose padded input, in the
dtype it is pooled in, would take more bytes than this machine's physical memory (the output is
never larger); ``px.pool2d`` and ``px.compare`` call it before allocating.  ``output_shape`` and
``resolve_padding`` are arithmetic and take any int64 size.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from typing import Sequence

import numpy as np

from .errors import PoolingError
from .arguments import (MAX_SIZE, Pads, PaddingArg, check_ceil_mode, check_divisor, fail,
                        format_bytes, memory_limit, normalize_padding, sizes)
from .layout import axis_names, check_layout, spatial_axes
from .layout import rank as spatial_rank

MODES = ("max", "avg", "min", "lp")

@dataclasses.dataclass(frozen=True)
class PoolSpec:
    """A validated, input-independent pooling request (the arguments of ``px.pool1d``,
    ``px.pool2d`` or ``px.pool3d``: one size per spatial axis of ``layout``)."""

    pool_size: tuple[int, ...]
    mode: str = "max"
    stride: tuple[int, ...] = (1, 1)
    padding: str | Pads = ((0, 0), (0, 0))
    dilation: tuple[int, ...] = (1, 1)
    ceil_mode: bool | str = False
    count_include_pad: bool = True
    layout: str = "NCHW"
    p: float = 2.0
    #: windows that read only padding allowed (their values: the module's docstring)
    allow_empty_windows: bool = False
    #: avg: divide each window by this instead (``arguments.DIVISOR_RULES``); None: the count
    divisor: int | None = None
    divisor_of: str = "sum"

    def kwargs(self) -> dict:
        """The spec as ``px.pool*d`` keyword arguments (JSON-friendly; the divisor only where
        one is given)."""
        out = dataclasses.asdict(self)
        for key in ("pool_size", "stride", "dilation"):
            out[key] = list(out[key])
        if not isinstance(self.padding, str):
            out["padding"] = [list(p) for p in self.padding]
        if self.divisor is None:
            del out["divisor"], out["divisor_of"]
        if not self.allow_empty_windows:
            del out["allow_empty_windows"]
        return out

    def divides_padding(self) -> bool:
        """Whether an avg divides a window of padding only by a non-zero divisor (it gives 0,
        not 0/0): padding counted, or ``divisor=d`` of the sum."""
        return self.count_include_pad or (self.divisor is not None and self.divisor_of == "sum")


def make_spec(pool_size, mode: str = "max", *, stride=1, padding: PaddingArg = 0, dilation=1,
              ceil_mode: bool | str = False, count_include_pad: bool = True,
              layout: str = "NCHW", p: float = 2, divisor=None, divisor_of: str = "sum",
              allow_empty_windows: bool = False, rank: int | None = None) -> PoolSpec:
    """Validate ``px.pool*d``'s arguments into a ``PoolSpec``.

    Args:
        pool_size: the window; it and every other argument as ``px.pool2d`` takes them.
        rank: the number of spatial axes the caller pools (``px.pool2d``: 2), ``layout``
            then one of that rank's; None: any rank's layout, which says the rank.

    Returns:
        The ``PoolSpec``: one size per spatial axis, padding one pair per axis or its name,
        every flag a bool; independent of any input (``resolve`` applies it to one).

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    if not isinstance(mode, str) or mode.lower() not in MODES:
        raise fail("mode", mode, ", ".join(repr(m) for m in MODES))
    layout = check_layout(layout, rank)
    rank = spatial_rank(layout)
    ceil_mode = check_ceil_mode(ceil_mode)
    for name, flag in (("count_include_pad", count_include_pad),
                       ("allow_empty_windows", allow_empty_windows)):
        if not isinstance(flag, (bool, np.bool_)):
            raise fail(name, flag, "True or False")
    if (not isinstance(p, numbers.Real) or isinstance(p, bool) or not math.isfinite(p)
            or p <= 0):
        raise fail("p", p, "a finite number > 0 (the power of 'lp' pooling)")
    divisor, divisor_of = check_divisor(divisor, divisor_of, mode.lower())
    return PoolSpec(
        pool_size=sizes("pool_size", pool_size, 1, rank), mode=mode.lower(),
        stride=sizes("stride", stride, 1, rank), padding=normalize_padding(padding, rank),
        dilation=sizes("dilation", dilation, 1, rank), ceil_mode=ceil_mode,
        count_include_pad=bool(count_include_pad), layout=layout, p=float(p),
        divisor=divisor, divisor_of=divisor_of, allow_empty_windows=bool(allow_empty_windows))


@dataclasses.dataclass(frozen=True)
class AxisGeometry:
    """One spatial axis of a resolved pooling: which cells each output window reads."""

    size: int
    kernel: int
    stride: int
    dilation: int
    pad_before: int
    pad_after: int
    out: int

    @property
    def extent(self) -> int:
        """Cells spanned by one window, ``d*(k-1)+1``."""
        return self.dilation * (self.kernel - 1) + 1

    @property
    def span(self) -> int:
        """Cells from the padded start to the end of the last window."""
        return (self.out - 1) * self.stride + self.extent

    @property
    def overhang(self) -> int:
        """Cells past the padded border that ceil_mode's last window reaches (never padding)."""
        return overhang_cells(self.size, self.pad_before, self.pad_after, self.extent,
                              self.stride, self.out)

    @property
    def reach(self) -> int:
        """Cells a pooling materializes along this axis: the padded input, or up to the end of
        the last window where ceil_mode's overhang reaches past it."""
        return max(self.pad_before + self.size + self.pad_after, self.span)

    def tap_positions(self) -> np.ndarray:
        """(out, kernel) input index of every tap; may be < 0 or >= size (padding/overhang)."""
        starts = np.arange(self.out) * self.stride - self.pad_before
        return starts[:, None] + np.arange(self.kernel)[None, :] * self.dilation

    def _taps_inside(self, low: int, high: int) -> np.ndarray:
        """Per window, how many taps ``start + j*d`` (``0 <= j < k``) lie in ``[low, high)``:
        ``j`` from ``ceil((low - start)/d)`` to ``ceil((high - start)/d)``, clipped to [0, k]."""
        starts = np.arange(self.out, dtype=np.int64) * self.stride - self.pad_before
        first = np.maximum(-((starts - low) // self.dilation), 0)
        stop = np.minimum(-((starts - high) // self.dilation), self.kernel)
        return np.maximum(stop - first, 0)  # 0 also where first > k or stop < 0

    def real_taps(self) -> np.ndarray:
        """Per window, how many taps read real input cells."""
        return self._taps_inside(0, self.size)

    def padded_taps(self) -> np.ndarray:
        """Per window, how many taps lie inside the padded input (real cells + padding)."""
        return self._taps_inside(-self.pad_before, self.size + self.pad_after)

    def first_empty_window(self) -> int | None:
        """The first window that reads no input cell, only padding or overhang (None when
        there is none), found without enumerating the windows.

        Window ``i`` starts at ``s_i = i*stride - pb``.  It reads no input cell when its last
        tap is before the input (``s_i + (k-1)*d < 0``: a prefix of the windows), when it
        starts after it (``s_i >= n``: a suffix), or, only possible when ``d > n``, when its
        taps step over the input: ``s_i mod d >= n``.  That residue repeats with period
        ``d / gcd(stride, d)`` and takes distinct values within a period, at most ``n`` of them
        below ``n``: the first ``min(out, period, n + 1)`` windows decide it.
        """
        n, s, d, pb = self.size, self.stride, self.dilation, self.pad_before
        if (self.kernel - 1) * d - pb < 0:
            return 0
        found = []
        if d > n:
            count = min(self.out, d // math.gcd(s, d), n + 1)
            index = np.arange(count, dtype=np.int64 if (count + 1) * d <= MAX_SIZE else object)
            residues = (index * (s % d) + (-pb) % d) % d
            late = np.flatnonzero(residues >= n)
            if late.size:
                found.append(int(late[0]))
        if (self.out - 1) * s - pb >= n:  # the first window starting past the input
            found.append(-(-(n + pb) // s))
        return min(found) if found else None

    def floor_out(self) -> int:
        """Windows a floor-mode pooling of the padded input makes (no ceil, no drop rule)."""
        return (self.size + self.pad_before + self.pad_after - self.extent) // self.stride + 1

    def ceil_keep_out(self) -> int:
        """Windows of ceil mode without the drop rule (MXNet ``full``, Paddle ``ceil_mode``)."""
        room = self.size + self.pad_before + self.pad_after - self.extent
        return -(-room // self.stride) + 1

    def divisor(self, count_include_pad: bool) -> np.ndarray:
        """Per window, the taps an avg divides by (read-only: computed once per geometry)."""
        return _axis_divisor(self, bool(count_include_pad))


@functools.lru_cache(maxsize=1024)
def _axis_divisor(geom: AxisGeometry, count_include_pad: bool) -> np.ndarray:
    taps = geom.padded_taps() if count_include_pad else geom.real_taps()
    taps.flags.writeable = False
    return taps


# --- the per-axis rules, written once ---------------------------------------------------------
# ``n`` is an int, or a size read when a plan runs (``plan.Expr``: the same integer arithmetic,
# ``at_least`` for ``max``, ``>=`` counting 1 or 0): the planner builds from these the code that
# computes SAME pads and ceil overhang from the input's shape at run time.  ``bind(name, value)``
# names an intermediate value (a line of that code); for ints it is the value itself.

def _keep(name, value):
    return value


def _at_least(value, floor: int):
    """``max(value, floor)``, for an int or a run-time size expression."""
    return max(value, floor) if isinstance(value, numbers.Integral) else value.at_least(floor)


def at_most(value, ceiling: int):
    """``min(value, ceiling)``, for an int or a run-time size expression."""
    return min(value, ceiling) if isinstance(value, numbers.Integral) else value.at_most(ceiling)


def same_pads(n, extent: int, s: int, lower: bool = False, bind=_keep):
    """``(pb, pa)`` of ``"same"`` (TensorFlow ``SAME``, ONNX ``SAME_UPPER``: the odd cell
    after) or, ``lower``, ``"same_lower"`` (the odd cell before): a total of
    ``max((ceil(n/s)-1)*s + extent - n, 0)`` cells."""
    total = bind("p", _at_least((-(-n // s) - 1) * s + extent - n, 0))
    small = total // 2
    large = total - small
    return (large, small) if lower else (small, large)


def ceil_windows(n, pb, pa, extent: int, s: int, bind=_keep, keep: bool = False):
    """Windows of ``ceil_mode``: ``ceil((n+pb+pa-extent)/s) + 1``, less the last when it would
    start inside the after-padding or beyond, ``(out-1)*s >= n+pb`` (PyTorch's
    ``pooling_output_shape``, ONNX); ``keep``: not less (``ceil_mode="keep"``)."""
    out = -(-(n + pb + pa - extent) // s) + 1
    if keep:
        return out
    out = bind("c", out)
    return out - ((out - 1) * s >= n + pb)


def window_count(n, pb, pa, extent: int, s: int, ceil_mode: bool | str = False, bind=_keep):
    """Windows along an axis of ``n`` cells padded ``pb`` + ``pa``: the floor rule
    ``(n+pb+pa-extent)//s + 1``, or ``ceil_windows`` under ``ceil_mode``."""
    if ceil_mode:
        return ceil_windows(n, pb, pa, extent, s, bind, keep=ceil_mode == "keep")
    return (n + pb + pa - extent) // s + 1


def reach_after(n, pb, extent: int, s: int, out):
    """Cells after the input that the last of ``out`` windows reads: after-padding and ceil
    overhang (``pa`` may be more: cells no window reads)."""
    return _at_least((out - 1) * s + extent - (n + pb), 0)


def overhang_cells(n, pb, pa, extent: int, s: int, out):
    """Cells past the padded border that the last of ``out`` windows reaches (ceil mode's
    overhang; never padding, never counted)."""
    return _at_least((out - 1) * s + extent - (n + pb + pa), 0)


@functools.lru_cache(maxsize=1024)
def _resolve_axis(axis: str, n: int, k: int, s: int, d: int, padding, ceil_mode: bool | str
                  ) -> AxisGeometry:
    """One axis's pads and output length, in Python ints (nothing allocated)."""
    extent = d * (k - 1) + 1
    if isinstance(padding, str):
        if padding == "valid":
            pb = pa = 0
        else:
            pb, pa = same_pads(n, extent, s, lower=padding == "same_lower")
    else:
        pb, pa = padding
    room = n + pb + pa - extent
    if room < 0:
        raise PoolingError(
            f"pool_size: got kernel {k} with dilation {d} along {axis}, a window of {extent} "
            f"cells, for a padded input of {n + pb + pa} ({n} + pads {pb}+{pa}); allowed: a "
            f"window no larger than the padded input")
    return AxisGeometry(n, k, s, d, pb, pa, int(window_count(n, pb, pa, extent, s, ceil_mode)))


def size_dependent(spec: "PoolSpec") -> bool:
    """Whether the spec's pads or window count along some axis change with the input's size
    beyond the plain floor rule: ``"same"``/``"same_lower"`` (the pads follow the size modulo
    the stride), or ``ceil_mode`` with a stride above 1 (a last partial window at some sizes;
    with stride 1, ceil and floor agree everywhere)."""
    return spec.padding in ("same", "same_lower") or (
        spec.ceil_mode and any(s > 1 for s in spec.stride))


def ceil_keeps_every_window(spec: "PoolSpec") -> bool:
    """Whether a framework keeping a window that starts in the padding (MXNet ``'full'``,
    Paddle ``ceil_mode``) computes the spec's windows at every input size: ``ceil_mode="keep"``,
    or ``ceil_mode=True`` where its drop rule never drops (``ceil_never_drops``)."""
    return spec.ceil_mode == "keep" or ceil_never_drops(spec)


def may_have_empty_windows(spec: "PoolSpec") -> bool:
    """Whether some input size gives the spec a window of padding only (allowed, or kept)."""
    return spec.allow_empty_windows or keeps_a_dropped_window(spec)


def keeps_a_dropped_window(spec: "PoolSpec") -> bool:
    """Whether ``ceil_mode="keep"`` keeps, at some size, a window that PyTorch's and ONNX's
    ``ceil_mode`` drop (their own ceil mode then cannot compute it)."""
    return spec.ceil_mode == "keep" and not ceil_never_drops(spec)


def ceil_never_drops(spec: "PoolSpec") -> bool:
    """Whether PyTorch's drop rule (``ceil_mode=True``) never drops a last window of the
    spec's, at any input size, so that ``True`` and ``"keep"`` agree everywhere.  The drop
    ``(out-1)*s >= n+pb`` happens at some size exactly when ``pa + s > extent``
    (``(out-1)*s - (n+pb+pa-extent)`` reaches ``s - 1``)."""
    if isinstance(spec.padding, str):
        return spec.padding == "valid" and all(
            s <= d * (k - 1) + 1 for k, s, d in zip(spec.pool_size, spec.stride, spec.dilation))
    return all(pa + s <= d * (k - 1) + 1 for (_, pa), k, s, d in
               zip(spec.padding, spec.pool_size, spec.stride, spec.dilation))


@functools.lru_cache(maxsize=1024)
def _check_axis(axis: str, geom: AxisGeometry, padding, empty_allowed: bool, keep: bool
                ) -> None:
    """Refuse a padded length beyond int64 and, unless ``empty_allowed``, windows of padding
    only; ``keep``: ``ceil_mode="keep"``, whose kept last window is allowed (``padding``: the
    user's value, for the message)."""
    if geom.reach > MAX_SIZE:
        raise _fail_size("padding", padding,
                         f"along {axis} the padded input would be {geom.reach} cells",
                         "pads and windows whose padded length is < 2**63 cells (C int64)")
    if empty_allowed:
        return
    if keep:  # the windows PyTorch's drop rule leaves must each read an input cell
        geom = dataclasses.replace(geom, out=ceil_windows(
            geom.size, geom.pad_before, geom.pad_after, geom.extent, geom.stride))
    empty = geom.first_empty_window()
    if empty is not None:
        raise PoolingError(
            f"padding: got {(geom.pad_before, geom.pad_after)} along {axis}, where output "
            f"window {empty} reads only padding (input {geom.size}, kernel {geom.kernel}, "
            f"stride {geom.stride}, dilation {geom.dilation}); allowed: pads that leave every "
            f"window at least one input cell, or allow_empty_windows=True (such a window's "
            f"max is -inf, its avg 0, or NaN where padding is not counted)")


def _fail_size(arg: str, value, what: str, allowed: str) -> PoolingError:
    return PoolingError(f"{arg}: got {value!r}; {what}; allowed: {allowed}")


def _as_given(padding: str | Pads):
    """A normalized padding in the shortest form that means it: 'same', 1, (1, 2) or pads."""
    if isinstance(padding, str):
        return padding
    if all(before == after for before, after in padding):
        each = tuple(before for before, _ in padding)
        return each[0] if len(set(each)) == 1 else each
    return padding


class SpatialAxes:
    """What a resolved geometry of any rank says of its ``axes`` (one per spatial axis, in the
    layout's order, each with its output length ``out``)."""

    axes: tuple

    @property
    def rows(self):
        """The first spatial axis (H in 2-D), for code written for 2-D."""
        return self.axes[0]

    @property
    def cols(self):
        """The last spatial axis (W), for code written for 2-D."""
        return self.axes[-1]

    @property
    def out(self) -> tuple[int, ...]:
        """The output's length along each spatial axis."""
        return tuple(a.out for a in self.axes)

    @property
    def out_hw(self) -> tuple[int, ...]:
        return self.out

    def pooled_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """``input_shape`` with each spatial axis replaced by its output length (the spatial
        axes kept, whatever the operation then does with them)."""
        shape = [int(v) for v in input_shape]
        for axis, out in zip(spatial_axes(len(shape), self.spec.layout), self.out):
            shape[axis] = out
        return tuple(shape)


@dataclasses.dataclass(frozen=True)
class Geometry(SpatialAxes):
    """A ``PoolSpec`` resolved against an input's spatial axes: one ``AxisGeometry`` per axis,
    in the layout's order (H, W for 2-D), every rule applied per axis alike."""

    spec: PoolSpec
    axes: tuple[AxisGeometry, ...]

    @property
    def pads(self) -> Pads:
        """Resolved ``(before, after)`` per axis (``((top, bottom), (left, right))`` in 2-D),
        before any ceil overhang."""
        return tuple((g.pad_before, g.pad_after) for g in self.axes)

    @property
    def symmetric(self) -> bool:
        return all(a == b for a, b in self.pads)

    def divisor(self) -> np.ndarray:
        """The avg divisor, shaped as the output's spatial axes: the pooling of a ones array,
        per ``count_include_pad`` (the outer product of each axis's); with ``divisor=d``,
        ``d`` everywhere ("sum") or that count times ``d`` over the window's cells ("mean":
        the average times the cells over ``d``, ``arguments.DIVISOR_RULES``)."""
        spec = self.spec
        count = functools.reduce(np.multiply.outer,
                                 (g.divisor(spec.count_include_pad) for g in self.axes))
        if spec.divisor is None:
            return count
        if spec.divisor_of == "sum":
            return np.full(np.shape(count), float(spec.divisor))
        return count * (spec.divisor / math.prod(spec.pool_size))

    def output_rule(self) -> str | None:
        """Which plain output-size rule yields exactly these windows on both axes: "floor"
        (every framework's floor mode; also what ceil_mode leaves after dropping a window),
        "ceil" (ceil without a drop rule: MXNet ``full``, Paddle ``ceil_mode``), or None."""
        if all(g.out == g.floor_out() for g in self.axes):
            return "floor"
        if all(g.out == g.ceil_keep_out() for g in self.axes):
            return "ceil"
        return None

    def empty_windows(self) -> np.ndarray:
        """Which output windows read no input cell, shaped as the output's spatial axes; where
        the spec allows none, one False that broadcasts (nothing the output's size allocated)."""
        if not (self.spec.allow_empty_windows or self.spec.ceil_mode == "keep"):
            return np.zeros((1,) * len(self.axes), bool)
        return functools.reduce(np.logical_or.outer, (g.real_taps() == 0 for g in self.axes))

    def has_overhang(self) -> bool:
        return any(g.overhang for g in self.axes)

    def check_fits(self, input_shape: Sequence[int], dtype) -> None:
        """Refuse (``PoolingError``) a pooling of an input of ``input_shape`` whose padded
        input (pads and ceil overhang included) in ``dtype`` would take more bytes than this
        machine's physical memory: it could never be allocated.  The output is never larger."""
        dtype = np.dtype(dtype)
        shape = [int(v) for v in input_shape]
        for axis, g in zip(spatial_axes(len(input_shape), self.spec.layout), self.axes):
            shape[axis] = g.reach
        need, limit = math.prod(shape) * dtype.itemsize, memory_limit()
        if need <= limit:
            return
        what = (f"the padded input {' x '.join(map(str, shape))} of {dtype.name} would need "
                f"{format_bytes(need)}, more than this machine's memory ({format_bytes(limit)})")
        allowed = ("a padded input (input + pads + ceil_mode overhang, in the dtype pooled in) "
                   "that fits in memory")
        if any(map(any, self.pads)):
            raise _fail_size("padding", _as_given(self.spec.padding), what, allowed)
        if self.has_overhang():
            raise _fail_size("ceil_mode", True, what, allowed)
        raise _fail_size("X", f"<{dtype.name} array of shape {tuple(input_shape)}>", what,
                         allowed)


def resolve(spec: PoolSpec, input_shape: Sequence[int]) -> Geometry:
    """Resolve ``spec`` against a full input shape, one spatial axis at a time.

    Args:
        spec: a ``PoolSpec`` (``make_spec``'s).
        input_shape: the input's shape, rank 2 to 4, in ``spec.layout``.

    Returns:
        The ``Geometry``: per spatial axis, the pads, the output length and the windows.

    Raises:
        PoolingError: an empty spatial axis, a window larger than the padded input, a window
            of padding only, or a padded length beyond int64, naming the argument.
    """
    sizes = [int(input_shape[a]) for a in spatial_axes(len(input_shape), spec.layout)]
    names = axis_names(len(spec.pool_size))
    if min(sizes) < 1:
        raise fail("X", f"<array of shape {tuple(input_shape)}>",
                    f"non-empty {' and '.join(names)}")
    named = isinstance(spec.padding, str)  # 'valid' / 'same' / 'same_lower': per axis alike
    axes = tuple(_resolve_axis(name, n, spec.pool_size[i], spec.stride[i], spec.dilation[i],
                               spec.padding if named else spec.padding[i], spec.ceil_mode)
                 for i, (name, n) in enumerate(zip(names, sizes)))
    given = _as_given(spec.padding)
    for name, g in zip(names, axes):
        _check_axis(name, g, given, spec.allow_empty_windows, spec.ceil_mode == "keep")
    return Geometry(spec, axes)


def output_shape(input_shape: Sequence[int], pool_size, *, stride=1, padding: PaddingArg = 0,
                 dilation=1, ceil_mode: bool | str = False, layout: str = "NCHW",
                 allow_empty_windows: bool = False) -> tuple[int, ...]:
    """The output shape of ``px.pool2d`` for an input of ``input_shape``.

    Args:
        input_shape: the input's shape, rank 2 to 4, in ``layout``.
        pool_size: the window; it and every other argument as ``px.pool2d`` takes them.

    Returns:
        The output's shape, of the same rank and layout, nothing computed.

    Raises:
        PoolingError: an invalid argument, as ``px.pool2d`` would raise it.
    """
    spec = make_spec(pool_size, stride=stride, padding=padding, dilation=dilation,
                     ceil_mode=ceil_mode, layout=layout,
                     allow_empty_windows=allow_empty_windows)
    return resolve(spec, input_shape).pooled_shape(input_shape)


def resolve_padding(input_shape: Sequence[int], pool_size, *, stride=1,
                    padding: PaddingArg = 0, dilation=1, ceil_mode: bool | str = False,
                    layout: str = "NCHW", allow_empty_windows: bool = False) -> Pads:
    """Per-side pads ``((top, bottom), (left, right))`` that ``padding`` means for this input.

    ``"same"`` puts the odd cell at the bottom/right, ``"same_lower"`` at the top/left.  Ceil
    overhang is not padding and is not included.

    Args:
        input_shape: the input's shape, rank 2 to 4, in ``layout``.
        pool_size: the window; it and every other argument as ``px.pool2d`` takes them.

    Returns:
        ``(before, after)`` per spatial axis.

    Raises:
        PoolingError: an invalid argument, as ``px.pool2d`` would raise it.
    """
    spec = make_spec(pool_size, stride=stride, padding=padding, dilation=dilation,
                     ceil_mode=ceil_mode, layout=layout,
                     allow_empty_windows=allow_empty_windows)
    return resolve(spec, input_shape).pads
