"""What the planner writes in a backend's own ops where its pooling kernel cannot: the window
(explicit pads, a mask for the divisor, strided slices for dilation or a max that starts too
high), pads computed from the input's size when the plan runs (``runtime_pads``), and adaptive
bins an axis at a time (``emulate_bins``), so the code holds for every input size."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from .adaptive import AdaptiveGeometry, Bins, GlobalGeometry
from .layout import rank, spatial_index
from .plan import Expr, Plan, Var
from .reference import identity
from .spec import (AxisGeometry, Geometry, at_most, axis_names, ceil_windows, reach_after,
                   same_pads, size_dependent, spatial_axes, window_count)
from .vocabulary import Vocabulary


def _axis_of(layout: str, axis: int) -> int:
    """The tensor axis of spatial axis ``axis`` (0 the first) in a full tensor of ``layout``."""
    return spatial_axes(len(layout), layout)[axis]


def _axis_cut(layout: str, axis: int, part: slice) -> tuple[slice, ...]:
    """An index taking ``part`` of spatial axis ``axis`` of a full tensor of ``layout``."""
    slices = [slice(None)] * rank(layout)
    slices[axis] = part
    return spatial_index(len(layout), layout, slices)


def _window_along(rank_: int, axis: int, length, step=1) -> tuple[tuple, tuple]:
    """``(kernel, stride)`` of a pooling along spatial axis ``axis`` only: ``length`` cells,
    ``step`` apart; 1 on every other axis."""
    kernel, stride = [1] * rank_, [1] * rank_
    kernel[axis], stride[axis] = length, step
    return tuple(kernel), tuple(stride)


def _no_pads(pads) -> bool:
    return all(p == (0, 0) for p in pads)


def overhang_pads(geom: Geometry) -> tuple[tuple[int, int], ...]:
    """Pads that make every window of ``geom`` lie inside the padded array: the resolved pads
    in full (never trimmed to what one input size reads, so the code holds for other sizes),
    the after side widened to the ceil overhang where that reaches further."""
    return tuple((g.pad_before, max(g.pad_after, g.span - g.pad_before - g.size))
                 for g in geom.axes)  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class RuntimePads:
    """Per axis ``(before, after, reach)`` an emulation pads with, some computed from the
    input's shape when the plan runs (``Expr``; ints where an axis does not depend on the
    size): the spec's pads before and after (``after`` as far as a window reads it), and
    ``reach``, the cells after the input up to the end of the last window (padding, then ceil
    overhang).  Padded to ``reach``, a floor pooling makes exactly the spec's windows: cells a
    window would start in past the last one are never added, so nothing is cropped (ceil
    mode's clamp may drop a window that starts in the padding)."""

    axes: tuple  # (before, after, reach) per spatial axis

    def full(self) -> tuple:
        """Pads and overhang: every window inside the padded array, none starting past it."""
        return tuple((b, r) for b, _, r in self.axes)

    def given(self) -> tuple:
        """The spec's pads (what an include-pad divisor counts)."""
        return tuple((b, a) for b, a, _ in self.axes)

    def without_pads(self) -> "RuntimePads":
        """The overhang left for an input that already carries ``given``."""
        return RuntimePads(tuple((0, 0, 0 if r is a else r - a) for _, a, r in self.axes))

    @staticmethod
    def _some(values) -> bool:
        return any(isinstance(v, Expr) or v for v in values)

    def may_pad(self) -> bool:
        """Whether some input size gets pads."""
        return self._some(v for axis in self.axes for v in axis[:2])

    def may_overhang(self) -> bool:
        """Whether some input size gets ceil overhang (cells past the spec's pads)."""
        return any(r is not a if isinstance(r, Expr) else r != a
                   for _, a, r in self.axes)


def runtime_pads(plan: Plan, geom: Geometry) -> RuntimePads | None:
    """For a size-dependent spec (``spec.size_dependent``), the pads computed from the input's
    shape when the plan runs, as ``op:let`` steps of ``plan`` (``H = x.shape[2]``, ``ph =
    ...``); None for any other spec (its resolved pads hold for every size).  An axis whose
    stride is 1 under ``ceil_mode`` (ceil is floor there) keeps its resolved values."""
    spec = geom.spec
    if not size_dependent(spec) or isinstance(geom, GlobalGeometry):
        return None
    axes = []
    for index, (name, g) in enumerate(zip(axis_names(len(geom.axes)), geom.axes)):
        same = spec.padding in ("same", "same_lower")
        if not same and g.stride == 1:  # the same windows at every size: as resolved
            reach = reach_after(g.size, g.pad_before, g.extent, g.stride, g.out)
            axes.append((g.pad_before, min(g.pad_after, reach), reach))
            continue

        def bind(label, value, suffix=name.lower()):
            return plan.let(label + suffix, value)

        n = plan.let(name, Expr.dim("x", _axis_of(spec.layout, index)))
        if same:
            pb, pa = same_pads(n, g.extent, g.stride, spec.padding == "same_lower", bind)
        else:
            pb, pa = g.pad_before, g.pad_after
        if spec.ceil_mode:
            out = bind("o", window_count(n, pb, pa, g.extent, g.stride, spec.ceil_mode, bind))
            reach = bind("r", reach_after(n, pb, g.extent, g.stride, out))
            no_after = isinstance(pa, int) and pa == 0
            axes.append((pb, 0 if no_after else at_most(reach, pa), reach))
        else:  # SAME's windows end where its pads do
            axes.append((pb, pa, pa))
    return RuntimePads(tuple(axes))


def keep_spec_windows(plan: Plan, geom: Geometry, v: Var, layout: str) -> Var:
    """``v``, a ceil-mode pooling that keeps a last window even where it starts in the
    after-padding (MXNet ``'full'``, Paddle ``ceil_mode``), cropped to the spec's windows: on
    each axis with a stride above 1, the first ``ceil_windows`` of them, counted from the
    input's shape when the code runs (2-D: ``oh = ...``; ``y[:, :, :oh, :ow]``), so it holds for
    every size.  The windows kept are the spec's (same starts, same cells)."""
    spec = geom.spec
    plan.emulate("ceil: its ceil mode keeps a last window that starts in the padding, which "
                 "the spec drops at some sizes; cropped to the spec's count, computed from "
                 "the input's shape when the code runs")
    stops = []
    for index, (name, g) in enumerate(zip(axis_names(len(geom.axes)), geom.axes)):
        if g.stride == 1:  # the same windows at every size: a window of padding dropped or not
            stops.append(g.out - g.ceil_keep_out() or None)
            continue
        n = plan.let(name, Expr.dim("x", _axis_of(spec.layout, index)))
        stops.append(plan.let("o" + name.lower(), ceil_windows(
            n, g.pad_before, g.pad_after, g.extent, g.stride,
            lambda label, value, suffix=name.lower(): plan.let(label + suffix, value))))
    return plan.call("op:getitem", v, spatial_index(
        len(layout), layout, [slice(None, stop) for stop in stops]))


def window_sum(vocab: Vocabulary, plan: Plan, geom: Geometry, v: Var, layout: str,
                scaled: bool = True, run: RuntimePads | None = None) -> Var:
    """Sum over each window's cells (padding and overhang add 0).

    ``scaled=False`` may return the sum times a constant instead (the average pooling's
    1/k, ``k`` the window's cells, skipped): only for a ratio of two window sums over the same ``geom``'s window
    shape and dilation, where the constant cancels.  ``run``: pads computed when the plan
    runs (``runtime_pads``) instead of ``geom``'s."""
    cells = math.prod(geom.spec.pool_size)
    padded = _padded(vocab, plan, geom, v, 0, layout, run)
    if _dilated(geom):
        plan.emulate("dilation: the window as strided slices, reduced axis by axis")
        return _slice_reduce(vocab, plan, geom, padded, layout, "sum", run)
    mean = _crop(vocab, plan, geom,
                 _pool(vocab, plan, padded, "avg", geom.spec.pool_size, geom.spec.stride, layout),
                 layout, run)
    return vocab.multiply(plan, mean, cells) if scaled else mean


def _dilated(geom: Geometry) -> bool:
    return any(d != 1 for d in geom.spec.dilation)


def emulate_window(vocab: Vocabulary, plan: Plan, geom: Geometry, v: Var, layout: str,
             mode: str, slices: bool = False, run: RuntimePads | None = None) -> Var:
    """``slices``: reduce a max window as strided slices even without dilation.  ``run``: the
    pads computed when the plan runs (``runtime_pads``), for every input size."""
    spec = geom.spec
    if mode == "max":
        fill = identity(np.dtype(plan.computes_in), "max")
        fill = float(fill) if np.dtype(plan.computes_in).kind == "f" else int(fill)
        padded = _padded(vocab, plan, geom, v, fill, layout, run)
        if _dilated(geom) or slices:
            if _dilated(geom):
                plan.emulate("dilation: the window as strided slices, reduced axis by axis")
            return _slice_reduce(vocab, plan, geom, padded, layout, "max", run)
        return _crop(vocab, plan, geom, _pool(vocab, plan, padded, "max", spec.pool_size,
                                                   spec.stride, layout), layout, run)
    overhang = run.may_overhang() if run else geom.has_overhang()
    if spec.count_include_pad and not overhang and not _dilated(geom):
        padded = _padded(vocab, plan, geom, v, 0, layout, run)  # every divisor is the window
        return _crop(vocab, plan, geom, _pool(vocab, plan, padded, "avg", spec.pool_size,
                                                   spec.stride, layout), layout, run)
    # avg = window sum / divisor, the divisor being the same pooling of a mask of ones
    total = window_sum(vocab, plan, geom, v, layout, scaled=False, run=run)
    mask = vocab.ones_like(plan, v)
    count_run = run
    if spec.count_include_pad and (run.may_pad() if run else not _no_pads(geom.pads)):
        mask = vocab.pad(plan, mask, run.given() if run else geom.pads, 1, layout)
        plan.emulate("divisor: a ones mask padded with 1 (padding counts), pooled the same way")
        count_geom = _without_pads(geom)
        count_run = run.without_pads() if run else None
    else:
        plan.emulate("divisor: a ones mask, zero-padded, pooled the same way")
        count_geom = geom
    divisor = window_sum(vocab, plan, count_geom, mask, layout, scaled=False, run=count_run)
    return vocab.divide(plan, total, divisor)


def _without_pads(geom: Geometry) -> Geometry:
    """The geometry of an input that already carries the resolved pads."""

    def shift(g: AxisGeometry) -> AxisGeometry:
        return dataclasses.replace(g, size=g.size + g.pad_before + g.pad_after, pad_before=0,
                                   pad_after=0)

    return dataclasses.replace(geom, axes=tuple(shift(g) for g in geom.axes))


def _padded(vocab: Vocabulary, plan: Plan, geom: Geometry, v: Var, fill, layout: str,
            run: RuntimePads | None = None) -> Var:
    """``v`` padded with ``fill`` so that every window lies inside it."""
    if run is not None:
        pads = run.full()
        if not (run.may_pad() or run.may_overhang()):
            return v
        what = "pads" if run.may_pad() else "ceil overhang"
        plan.emulate(f"explicit padding: {what} computed from the input's shape when the code "
                     f"runs, padded with {fill}, then unpadded pooling (for every input size)")
        return vocab.pad(plan, v, pads, fill, layout)
    pads = overhang_pads(geom)
    if _no_pads(pads):
        return v
    what = "ceil overhang" if _no_pads(geom.pads) else "pads"
    plan.emulate(f"explicit padding: {what} {pads} padded with {fill}, then unpadded pooling")
    return vocab.pad(plan, v, pads, fill, layout)


def _crop(vocab: Vocabulary, plan: Plan, geom: Geometry, v: Var, layout: str,
          run: RuntimePads | None = None) -> Var:
    """Drop windows the unpadded pooling adds past ``geom``'s output (ceil's dropped window).
    None with ``run``: its pads end where the spec's last window does."""
    if run is not None:
        return v
    pads = overhang_pads(geom)
    padded = [dataclasses.replace(g, pad_before=p[0], pad_after=p[1])
              for g, p in zip(geom.axes, pads)]
    if all(g.floor_out() == g.out for g in padded):
        return v
    # counted from the end (``:-1``), not as the output size: the code is the same for every
    # input size whose windows are dropped alike
    return vocab.getitem(plan, v, spatial_index(len(layout), layout, [
        slice(None, g.out - p.floor_out() or None) for g, p in zip(geom.axes, padded)]))


def _slice_reduce(vocab: Vocabulary, plan: Plan, geom: Geometry, padded: Var, layout: str,
                  reduce: str, run: RuntimePads | None = None) -> Var:
    """Reduce each window as k strided slices per axis (the last axis first): tap ``j`` is the
    slice ``j*d : -(k-1-j)*d : s`` of the padded axis, the floor pooling's windows whatever the
    axis's length.  They are the spec's at every size: the padded array makes exactly the
    spec's windows by the floor rule (its pads, and where they follow the input's size, SAME
    pads and ceil overhang computed from its shape when the code runs: ``runtime_pads``).  The
    one exception, ceil mode with stride 1 dropping a last window that starts in the padding,
    stops the slices where this size's last window ends."""
    v = padded
    for axis, g, (before, after) in reversed(tuple(zip(
            range(len(geom.axes)), geom.axes, overhang_pads(geom)))):  # the last first
        acc = None
        length = before + g.size + after
        # pads computed when the code runs (``run``) end where the spec's windows do; else ceil
        # mode with stride 1 may drop a last window of the padding that floor keeps: then the
        # stop is this size's (the text of another size's code tells them apart)
        floor = run is not None or (length - g.extent) // g.stride + 1 == g.out
        for tap in range(g.kernel):
            start = tap * g.dilation
            cut = slice(start, (start - (g.extent - 1) if floor else
                                start + (g.out - 1) * g.stride + 1 - length) or None, g.stride)
            piece = vocab.getitem(plan, v, _axis_cut(layout, axis, cut))
            acc = piece if acc is None else (
                vocab.maximum(plan, acc, piece) if reduce == "max"
                else vocab.add(plan, acc, piece))
        v = acc
    return v


def _pool(vocab: Vocabulary, plan: Plan, v: Var, mode: str, kernel, stride, layout: str) -> Var:
    """``vocab.pool``; where its average pooling lacks the dtype computed in
    (``vocab.avg_missing``), each window's own cells summed, as strided slices added (the last
    axis first), over the window's cell count.  Every window sums its own cells only: an inf
    or a value that swamps the others stays in its windows (a prefix sum's difference would
    carry it into every later one)."""
    why = vocab.avg_missing.get(plan.computes_in) if mode == "avg" else None
    if why is None:
        return vocab.pool(plan, v, mode, kernel, stride, layout)
    plan.emulate(f"{plan.computes_in} average: {why}; each window's cells summed as strided "
                 f"slices added, in {plan.computes_in}")
    for axis, k, s in reversed(tuple(zip(range(len(kernel)), kernel, stride))):
        if k == 1 and s == 1:
            continue
        acc = None
        for tap in range(k):  # tap ``tap`` of every window: stop where the last window fits
            piece = vocab.getitem(plan, v, _axis_cut(layout, axis,
                                                     slice(tap, (tap - k + 1) or None, s)))
            acc = piece if acc is None else vocab.add(plan, acc, piece)
        v = acc
    return vocab.divide(plan, v, math.prod(kernel))


def _each_bin(vocab: Vocabulary, plan: Plan, v: Var, axis: int, layout: str, n, o: int) -> Var:
    """The mean of every bin's own cells along ``axis`` (``o`` bins over ``n`` cells, ``n`` read
    when the code runs): a slice and a reduction per bin, concatenated.  For an average the
    framework cannot pool in its dtype (``avg_missing``) over bins whose length is known only
    at run time: their cells are summed bin by bin, never as differences of prefix sums, which
    lose every cell after an inf or a value that swamps them (``[1e17, 1, 2]`` -> ``[1e17, 0,
    0]``)."""
    plan.emulate(f"{plan.computes_in} adaptive average: {vocab.avg_missing[plan.computes_in]}; "
                 f"each bin's cells sliced and averaged, bin by bin")
    parts = []
    for i in range(o):
        start = 0 if i == 0 else i * n // o
        end = n if i == o - 1 else -(-n * (i + 1) // o)
        part = vocab.getitem(plan, v, _axis_cut(layout, axis, slice(start, end)))
        parts.append(vocab.reduce(plan, part, "avg", _axis_of(layout, axis)))
    return parts[0] if o == 1 else vocab.concat(plan, parts, _axis_of(layout, axis))


def emulate_bins(vocab: Vocabulary, plan: Plan, geom: AdaptiveGeometry, v: Var,
                      layout: str, mode: str, slices: bool = False) -> Var:
    """Adaptive ``mode`` pooling from the framework's plain pooling, one axis at a time, the last
    first (both max and avg are separable: a bin's mean is the mean of its rows' means, every
    row of a bin having the same cells), with the bins computed from the input's shape when the code runs
    (``_runtime_axis``), so the code holds for every input size.  ``slices``: a max as the
    elementwise maximum of gathered taps, whose number depends on the size: bins for this
    size only (``_adaptive_axis``)."""
    bin_by_bin = mode == "avg" and plan.computes_in in vocab.avg_missing  # ``_each_bin``
    if not slices and (not bin_by_bin or 0 in geom.out):
        plan.emulate(f"adaptive bins: no adaptive {mode} pooling in {vocab.name}; per axis, "
                     f"{mode} poolings of the two bin lengths and a gather of each bin's "
                     f"window, the bins computed from the input's shape when the code runs "
                     f"(for every input size)")
    last_first = tuple(reversed(tuple(enumerate(geom.axes))))
    if 0 in geom.out:  # an empty output: its shape, without pooling an empty tensor
        for axis, bins in last_first:
            if bins.out == 0:
                v = vocab.getitem(plan, v, _axis_cut(layout, axis, slice(0, 0)))
            elif _requested(geom, axis) is not None:  # any cell of each bin: its first
                n = _input_size(plan, geom, axis)
                i = Expr.name("i")
                starts = plan.let("i" + _label(geom, axis), Expr.each("i", bins.out,
                                                                      i * n // bins.out))
                v = vocab.gather(plan, v, starts, _axis_of(layout, axis))
        return v
    for axis, bins in last_first:
        if slices:
            v = _adaptive_axis(vocab, plan, v, axis, bins, layout, mode, slices)
        else:
            v = _runtime_axis(vocab, plan, geom, v, axis, layout, mode)
    return v


def _label(geom, axis: int) -> str:
    """Spatial axis ``axis``'s letter in lower case, as the rendered code's names end (``h``)."""
    return axis_names(len(geom.axes))[axis].lower()


def _requested(geom: AdaptiveGeometry, axis: int) -> int | None:
    """The output size asked for spatial axis ``axis``: an int, or None (the input's size)."""
    return geom.spec.output_size[axis]


def _input_size(plan: Plan, geom, axis: int) -> Expr:
    """``H = x.shape[2]`` (2-D NCHW): the input's size along spatial axis ``axis``, read when
    the code runs."""
    return plan.let(axis_names(len(geom.axes))[axis],
                    Expr.dim("x", _axis_of(geom.spec.layout, axis)))


def output_size_at_run_time(plan: Plan, geom: AdaptiveGeometry) -> tuple:
    """The output size for a native adaptive op (2-D: ``(oh, ow)``): the requested ints, an
    axis asked as None being the input's own size read when the code runs (``H``), so the code
    holds for every size."""
    return tuple(_input_size(plan, geom, axis) if _requested(geom, axis) is None else o
                 for axis, o in enumerate(geom.out))


def _runtime_axis(vocab: Vocabulary, plan: Plan, geom: AdaptiveGeometry, v: Var, axis: int,
                  layout: str, mode: str) -> Var:
    """Reduce every bin of one axis, the bins computed from the input's size ``n`` (``H``)
    when the code runs.  With ``o`` outputs, bin ``i`` is ``[i*n//o, -(-(i+1)*n//o))``; its
    length is ``k = ceil(n/o)`` or ``k + 1`` (``ceil(n/o) + 1`` only where ``o`` does not
    divide ``n``).  So: the ``mode`` pooling of every window of ``k`` cells (stride 1, ``n -
    k + 1`` of them), then of every window of ``min(k + 1, n)`` (never wider than the input),
    concatenated, and one gather of index ``start`` (a short bin) or ``n - k + 1 + start`` (a
    long one).  The same calls at every size (the longer pooling is computed, and not read,
    where ``o`` divides ``n``).  Fast paths only where they hold at every size: an axis asked
    as None (every bin one cell) is left as it is; ``o == 1`` is one pooling of window ``n``."""
    o = _requested(geom, axis)
    if o is None:
        return v  # every bin one cell at every size
    n = _input_size(plan, geom, axis)
    a = _label(geom, axis)
    if mode == "avg" and plan.computes_in in vocab.avg_missing:
        return _each_bin(vocab, plan, v, axis, layout, n, o)

    def window(length) -> tuple[tuple, tuple]:
        return _window_along(len(geom.axes), axis, length)

    if o == 1:  # one bin, the whole axis
        return vocab.pool(plan, v, mode, *window(n), layout)
    k = plan.let("k" + a, -(-n // o))  # ceil(n/o): the shorter bins' length
    longer = plan.let("l" + a, (k + 1).at_most(n))
    every = vocab.concat(plan, [vocab.pool(plan, v, mode, *window(k), layout),
                                vocab.pool(plan, v, mode, *window(longer), layout)],
                         _axis_of(layout, axis))
    i = Expr.name("i")
    start, end = i * n // o, -(-(i + 1) * n // o)
    index = start + (end - start >= k + 1) * (n - k + 1)
    return vocab.gather(plan, every, plan.let("i" + a, Expr.each("i", o, index)),
                        _axis_of(layout, axis))


def _adaptive_axis(vocab: Vocabulary, plan: Plan, v: Var, axis: int, bins: Bins, layout: str,
                   mode: str, slices: bool) -> Var:
    """Reduce every bin of one axis (see ``emulate_bins``)."""
    dim = _axis_of(layout, axis)

    def cut(part: slice) -> Var:
        return vocab.getitem(plan, v, _axis_cut(layout, axis, part))

    def window(length: int, step: int) -> tuple[tuple, tuple]:
        return _window_along(rank(layout), axis, length, step)

    step = bins.step
    if step == 1 and bins.longest == 1:
        return v  # every bin one cell: the axis as it is
    if slices:  # tap j of every bin, the last cell again where a bin is shorter: max only
        acc = None
        for j in range(bins.longest):
            piece = (cut(slice(j, j + (bins.out - 1) * step + 1, step)) if step is not None
                     else vocab.gather(plan, v, bins.tap(j).tolist(), dim))
            acc = piece if acc is None else vocab.maximum(plan, acc, piece)
        return acc
    if step is not None:  # one length on a regular stride: one plain pooling
        kernel, stride = window(bins.longest, step)
        return _pool(vocab, plan, v, mode, kernel, stride, layout)
    pooled, offsets, offset = [], {}, 0
    for length, _ in bins.groups():  # every window of each bin length, stride 1
        kernel, stride = window(length, 1)
        pooled.append(v if length == 1 else _pool(vocab, plan, v, mode, kernel, stride, layout))
        offsets[length] = offset
        offset += bins.size - length + 1
    every = pooled[0] if len(pooled) == 1 else vocab.concat(plan, pooled, dim)
    shorter = bins.lengths == bins.shortest  # the shorter bins' windows come first
    index = bins.starts + np.where(shorter, 0, offsets[bins.longest] if not shorter.all() else 0)
    return vocab.gather(plan, every, index.tolist(), dim)
