"""Turn a resolved ``Geometry`` into a ``Plan`` of one backend's calls, written once for all.

An adapter supplies a ``Vocabulary``: how its framework spells a handful of primitives (pad,
an unpadded floor pooling, elementwise maximum, cast, transpose, ...) and, in ``native``, the
single framework call that computes a spec when the framework can express it.  Everything
else is shared here, so a trick that two adapters need exists once:

* layout: transpose in and out when the kernel lacks the requested layout;
* dtype: cast to what the framework can pool, and back to the reference's output dtype;
* min: ``-max(-x)`` for floats, ``~max(~x)`` for integers (exact, no overflow at the minimum);
* lp: ``(sum |x|^p)^(1/p)`` with the sum taken by average pooling, the root taken only where
  the sum is not 0 (0 there), so its gradient is 0 at a zero sum, not 0 * inf = NaN;
* padding the framework cannot take (asymmetric, wider than its limit, SAME_LOWER, ceil
  overhang): pad explicitly with the reduction's identity (``-inf`` for max, 0 for sums) and
  pool without padding;
* a divisor the framework cannot express: the same pooling applied to a mask of ones
  (padding = 1 when it counts, 0 when not; ceil overhang = 0), as Flax does;
* a spec whose pads or last window change with the input's size (``"same"``, ``ceil_mode``:
  ``spec.size_dependent``) that the framework cannot spell for every size: the pads above are
  computed from the input's shape when the plan runs (``op:let`` steps: ``ph = max((-(-H // 2)
  - 1) * 2 + 3 - H, 0)``, from ``spec.same_pads`` / ``ceil_windows`` / ``reach_after``, the
  rules written once), padded up to the end of the last window so that the plain floor
  pooling makes exactly the spec's windows (nothing to crop), and the divisor's mask padded
  the same way: the code, and the plan, hold for every input size;
* dilation the framework lacks: the window as strided slices, reduced one axis at a time;
* a max pooling that starts from a finite value above the dtype's lowest (Paddle's float64
  kernels start from float32's lowest): the same strided slices, reduced with the elementwise
  maximum, after explicit padding with -inf.

Adaptive pooling (an ``AdaptiveGeometry``) asks ``native_adaptive`` for the framework's own
adaptive op; without one it is emulated, an axis at a time, from bins computed from the input's
shape when the code runs (``op:let``: ``kh = -(-H // 7)``, ``ih = [...]``), so the code holds
for every input size: the pooling of every window of the shorter bin length ``ceil(n/o)`` and
of the longer one (each stride 1, no wider than the input), concatenated, and one gather of
each bin's window (``_runtime_axis``).  Where the framework's max pooling starts too high
(above), each bin is the elementwise maximum of its taps, gathered: their number depends on the
size, so those bins are for one size.  Global pooling (a ``GlobalGeometry``: the window of the
whole input) asks ``native_global`` for the framework's own global op, then plans it as the
pooling it is.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from .adaptive import GlobalGeometry
from .emulation import runtime_pads, window_sum
from .layout import (axis_labels, channels_last, full_shape, of_rank, permutation,
                     spatial_names)
from .plan import Plan, Var
from .reference import accumulator_dtype, output_dtype
from .spec import Geometry, spatial_axes
from .vocabulary import Vocabulary


EXACT_FLOAT64 = 2 ** 53  # integers of larger magnitude are not all representable in float64


def handover_dtype(vocab: Vocabulary, dtype: np.dtype) -> np.dtype:
    """The dtype the input is handed to the framework in: its own, or the narrowest wider one
    the framework builds tensors from (e.g. MXNet has no uint16: int32)."""
    if dtype.name in vocab.tensor_dtypes:
        return dtype
    for name in ("int16", "int32", "int64", "float64"):
        if name in vocab.tensor_dtypes and np.can_cast(dtype, name, "safe"):
            return np.dtype(name)
    return np.dtype(np.float64)


def work_dtype(vocab: Vocabulary, mode: str, dtype: np.dtype, op) -> np.dtype:
    """What the framework computes in: avg/lp in the reference's accumulator; max/min in the
    input dtype when the framework's operation ``op`` takes it (``Operation.dtypes``), else
    float32 (floats) or float64 (integers, exact only below 2**53: ``Plan.exact_below`` makes
    the adapter refuse larger values)."""
    if mode in ("avg", "lp"):
        return accumulator_dtype(dtype)
    if dtype.name in op.dtypes(vocab) or dtype.name in vocab.max_missing:
        return dtype  # its own kernel, or the elementwise maximum of slices
    return np.promote_types(dtype, np.float32) if dtype.kind == "f" else np.dtype(np.float64)


def _labels(rank: int, layout: str) -> str:
    """The axes of an input of rank ``rank`` in ``layout``: ``"N, C, H, W"``."""
    return ", ".join(axis_labels(rank, layout))


def _to_full(rank: int, layout: str) -> tuple[str, str]:
    """How an input of rank ``rank`` below the layout's becomes the full array the plan runs
    on, and how its result comes back (2-D: ``X[None, None]`` and ``y[0, 0]``)."""
    if rank == len(layout) - 1:
        return "X[None]", "y[0]"
    if not channels_last(layout):
        return "X[None, None]", "y[0, 0]"
    whole = ":, " * rank
    return f"X[None, {whole}None]", f"y[0, {whole}0]"


def _in_words(names) -> str:
    """``H and W``; ``D, H and W``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _shape_notes(geom: Geometry, shape: tuple[int, ...], dtype: np.dtype) -> tuple[str, str]:
    """What ``x`` and ``y`` of the rendered code are for an input of ``shape``: its rank and
    axes, and, below the layout's rank, the full array it is given as and how the result comes
    back."""
    layout, rank = geom.spec.layout, len(shape)
    full = f"{len(layout)}-D {layout} array"
    out = geom.pooled_shape(shape)
    x_note = f"the input X, shape {tuple(shape)} ({_labels(rank, layout)}), {dtype}"
    if isinstance(geom, GlobalGeometry) and not geom.keepdims:
        return ((x_note if rank == len(layout) else f"{x_note}, as a {full} "
                 f"{full_shape(shape, layout)} = {_to_full(rank, layout)[0]}"),
                _dropped_note(geom, tuple(shape), full_shape(out, layout)))
    if rank == len(layout):
        return x_note, ""
    to_full, back = _to_full(rank, layout)
    return (f"{x_note}, as a {full} {full_shape(shape, layout)} = {to_full}",
            f"{full_shape(out, layout)} {layout}; the result, shape {out} "
            f"({_labels(rank, layout)}), is {back}")


def _dropped_note(geom: GlobalGeometry, shape: tuple[int, ...], out_full: tuple[int, ...]
                  ) -> str:
    """What ``y`` is for a global pooling that drops the spatial axes (``keepdims=False``): the
    full result, and the index that gives the requested one (the 1-cell spatial axes, and the
    axes added for an input below the layout's rank, taken at 0)."""
    layout, rank = geom.spec.layout, len(shape)
    ndim = len(layout)
    added = {ndim: (), ndim - 1: (0,)}.get(rank, (0, ndim - 1) if channels_last(layout)
                                            else (0, 1))  # N, or N and C, left out
    index = ["0" if axis in added or axis in spatial_axes(ndim, layout) else ":"
             for axis in range(ndim)]
    final = geom.output_shape(shape)
    names = spatial_names(layout)
    axes = ", ".join(a for a in axis_labels(rank, layout) if a not in names)
    return (f"{out_full} {layout}; the result, shape {final}"
            f"{f' ({axes})' if axes else ''}, {_in_words(names)} dropped, is "
            f"y[{', '.join(index)}]")


def start_plan(vocab: Vocabulary, geom, dtype: np.dtype,
               shape: tuple[int, ...] | None = None) -> Plan:
    """An empty plan of ``vocab``'s framework for ``geom`` on a full-rank input of ``dtype``:
    what ``x`` and ``y`` are (for the input's ``shape``, when given), and the dtype the input
    is handed over in where the framework has no tensors of its own (``handover_dtype``)."""
    plan = Plan(vocab.name, vocab.imports, mode=geom.spec.mode)
    layout, handed = geom.spec.layout, handover_dtype(vocab, dtype)
    if shape is None:
        plan.input_note = f"{len(layout)}-D {layout} array of {handed}"
    else:
        plan.input_note, plan.output_note = _shape_notes(geom, tuple(shape), handed)
    if handed != dtype:
        plan.handover = handed.name
        plan.input_note += f" (the {dtype.name} input, converted: {vocab.name} has no " \
                           f"{dtype.name} tensors)"
    return plan


def build_plan(vocab: Vocabulary, op, geom, dtype: np.dtype,
               shape: tuple[int, ...] | None = None, constant_pad=None,
               empty: str = "", finish: bool = True) -> Plan:
    """The calls ``vocab``'s framework makes to compute the operation ``op``
    (``pooling_xfw.ops``) of ``geom`` (its geometry) on a full-rank input of ``dtype``; with the
    input's ``shape`` (any rank the layout allows), the rendered code says what ``x`` and ``y`` are for that input.
    ``constant_pad``: ``(((top, bottom), (left, right)), value)``, the input padded with that
    constant first, as a call written after a ``tf.pad`` does (``geom`` is then the pooling
    of the padded input).  ``empty``, what a window of padding only gives where a translation
    reproduces a source call: "lowest", a max that comes out -inf (such a window, or one of
    only -inf) is the dtype's lowest finite value, as the source's max that starts from it
    gives (MXNet, Paddle); "neutral", the neutral spec's value (max -inf, min +inf, an average
    not counting padding NaN) also where the framework's own kernel gives another; "": the
    framework's own (``compare`` judges it).  ``finish=False``: the steps up to the result, in
    the requested layout, without ``Vocabulary.finish`` (``argmax_plan`` adds its own)."""
    spec = geom.spec
    vocab = vocab.at_rank(len(geom.axes))
    plan = start_plan(vocab, geom, dtype, shape)
    given, dtype = dtype, handover_dtype(vocab, dtype)
    mode = spec.mode
    work = work_dtype(vocab, mode, dtype, op)
    plan.computes_in = work.name
    layouts = [of_rank(order, len(geom.axes)) for order in op.layouts(vocab, mode)]
    layout = spec.layout if spec.layout in layouts else layouts[0]
    v = Var("x")
    if layout != spec.layout:
        v = vocab.transpose(plan, v, permutation(spec.layout, layout))
        if mode != "lp" and op.own_call(vocab, mode):
            plan.adapt(f"transposed to {layout}: its {op.name} {mode} pooling takes {layout} "
                       f"only")
        else:  # emulated from its plain pooling: that takes the layout
            plan.adapt(f"transposed to {layout}: its pooling kernels take {layout} only")
    if work != dtype:
        v = vocab.cast(plan, v, work.name)
        plan.adapt(f"cast {dtype.name} to {work.name}: {_cast_reason(mode, dtype, work)}")
    if constant_pad is not None:
        pads, value = constant_pad
        v = vocab.pad(plan, v, pads, value, layout)
        plan.adapt(f"padded with {value:g} first, {pads}, as the source call pads its input, "
                   f"then pooled without padding")
    if given.kind in "iu" and mode in ("max", "min") and work.kind == "f":
        plan.exact_below = EXACT_FLOAT64
    flip = None
    if mode == "min":
        flip = vocab.invert if work.kind in "iu" else vocab.negative
        v = flip(plan, v)
        plan.adapt("min pooling as ~max(~x)" if work.kind in "iu" else "min pooling as -max(-x)")
        mode = "max"
    y = vocab.native_lp(plan, geom, v, layout) if mode == "lp" else None
    if mode == "lp" and y is None:
        v = vocab.abs(plan, v)
        if spec.p != 1:
            v = vocab.power(plan, v, spec.p)
        plan.emulate(f"lp: (sum |x|^{spec.p:g})^(1/{spec.p:g}), the sum by average pooling")
        y = window_sum(vocab, plan, geom, v, layout, run=runtime_pads(plan, geom))
        y = _root(vocab, plan, y, spec.p) if spec.p != 1 else y
    elif mode == "avg" and op.has_window and spec.divisor is not None:
        y = _divided(vocab, plan, op, geom, v, layout)
    elif mode != "lp":
        start = _max_pool_start_too_high(vocab, mode, given, work)
        missing = vocab.max_missing.get(work.name) if mode == "max" else None
        if start is not None:
            plan.emulate(f"elementwise max: its {work.name} max pooling starts from {start:.5g}, "
                         f"so a window of {given.name} values all below it would give "
                         f"{start:.5g}; the window as {op.taps}, reduced with the "
                         f"elementwise maximum")
            y = None
        elif missing:
            plan.emulate(f"elementwise max: {missing}; the window as {op.taps}, reduced with "
                         f"the elementwise maximum in {work.name}")
            y = None
        elif (empty == "neutral" and mode == "avg" and not spec.count_include_pad
              and vocab.avg_empty_is_zero and op.has_window):
            plan.emulate(f"divisor as the cells counted: {vocab.name}'s average of a window of "
                         f"padding only, padding not counted, is 0 where the source gives NaN "
                         f"(0/0)")
            y = None
        else:
            y = op.native(vocab, plan, geom, v, layout, mode)
        if y is None:
            y = op.emulate(vocab, plan, geom, v, layout, mode,
                           slices=start is not None or bool(missing))
        if (empty == "neutral" and mode == "max" and work.kind == "f" and op.has_window
                and not vocab.max_keeps_inf and start is None and not missing):
            y = _empty_as_infinity(vocab, plan, op, geom, v, y, layout, flip is not None)
    if flip is not None:
        y = flip(plan, y)
    if empty == "lowest" and spec.mode == "max" and work.kind == "f":
        lowest = float(np.finfo(given if given.kind == "f" else work).min)
        floor = vocab.multiply(plan, vocab.ones_like(plan, y), lowest)
        y = vocab.where(plan, vocab.equal(plan, y, -np.inf), floor, y)
        plan.adapt(f"-inf as {lowest:.8g}, the dtype's lowest finite value: the source's max "
                   f"starts from it (a window of padding only gives it)")
    out = output_dtype(spec.mode, given)
    if out.name not in vocab.tensor_dtypes:
        plan.handback = out.name  # converted back after the framework (exact: integer values)
        out = dtype
    if out != work:
        y = vocab.cast(plan, y, out.name)
    if layout != spec.layout:
        y = vocab.transpose(plan, y, permutation(layout, spec.layout))
    if finish:
        vocab.finish(plan, y, dtype, out, spec.layout)
    return plan


def _divided(vocab: Vocabulary, plan: Plan, op, geom, v: Var, layout: str) -> Var:
    """avg with ``divisor=d`` (``arguments.DIVISOR_RULES``): the framework's own call where it has
    one (``Vocabulary.native_divisor``); else the window's sum ("sum": padding and overhang add
    0) or its average as the spec without the divisor gives it times its cells ("mean"),
    divided by ``d`` (0: inf, as Paddle gives)."""
    spec = geom.spec
    own = vocab.native_divisor(plan, geom, v, layout)
    if own is not None:
        return own
    if spec.divisor_of == "sum":
        total = window_sum(vocab, plan, geom, v, layout, run=runtime_pads(plan, geom))
        plan.emulate(f"divisor given: the window's sum (padding adds 0) over {spec.divisor}")
    else:
        plain = dataclasses.replace(geom, spec=dataclasses.replace(spec, divisor=None,
                                                                   divisor_of="sum"))
        mean = op.native(vocab, plan, plain, v, layout, "avg")
        if mean is None:
            mean = op.emulate(vocab, plan, plain, v, layout, "avg", slices=False)
        cells = math.prod(spec.pool_size)
        total = vocab.multiply(plan, mean, cells)
        plan.emulate(f"divisor given: the window's average times its {cells} cells, over "
                     f"{spec.divisor} (divisor_of='mean')")
    return vocab.divide(plan, total, spec.divisor)


def _empty_as_infinity(vocab: Vocabulary, plan: Plan, op, geom, v: Var, y: Var, layout: str,
                       flipped: bool) -> Var:
    """``y``, a max pooling, with -inf in every window of padding only, where the framework's
    kernel gives the lowest finite value for a window of only -inf: the same pooling of zeros
    is 0 exactly in the windows that read a cell, and the others take -inf (exact whatever the
    values; the gradient of a kept window is its kernel's)."""
    zeros = vocab.zeros_like(plan, v)
    read = op.native(vocab, plan, geom, zeros, layout, "max")
    if read is None:
        read = op.emulate(vocab, plan, geom, zeros, layout, "max", slices=False)
    infinity = vocab.multiply(plan, vocab.ones_like(plan, y), -np.inf)
    plan.adapt(f"a window of padding only as {'+' if flipped else '-'}inf, as the source "
               f"gives it: {vocab.name}'s max pooling gives the lowest finite value there, so "
               f"the same pooling of zeros (0 where a window reads a cell) marks those windows")
    return vocab.where(plan, vocab.equal(plan, read, 0), y, infinity)


def _root(vocab: Vocabulary, plan: Plan, total: Var, p: float) -> Var:
    """``total ** (1/p)`` taken where the window sum is not 0, and 0 where it is: the same
    numbers, but a gradient of 0 at a zero sum (the plain root's slope there is infinite, and
    autograd gives 0 * inf = NaN; PyTorch's ``F.lp_pool2d`` masks it the same way)."""
    zero = vocab.equal(plan, total, 0)
    safe = vocab.where(plan, zero, vocab.ones_like(plan, total), total)
    root = vocab.power(plan, safe, 1.0 / p)
    return vocab.where(plan, zero, vocab.zeros_like(plan, root), root)


def _max_pool_start_too_high(vocab: Vocabulary, mode: str, given: np.dtype,
                             work: np.dtype) -> float | None:
    """The value ``vocab``'s max pooling in ``work`` starts from when a ``given`` input can hold
    finite values below it (a window of those would come out as that value), else None.

    Per dtype, not per value: a plan never looks at the values.  Integers pooled in a float
    dtype are refused beyond 2**53 in magnitude, so only that range counts for them."""
    start = vocab.max_pool_start.get(work.name)
    if start is None or mode != "max":
        return None
    lowest = float(np.finfo(given).min) if given.kind == "f" else -float(EXACT_FLOAT64)
    return start if lowest < start else None


def _cast_reason(mode: str, dtype: np.dtype, work: np.dtype) -> str:
    if mode in ("avg", "lp") and dtype.kind != "f":
        return "the reference's avg/lp of integers is float64"
    if mode in ("avg", "lp"):
        return "sums accumulate in at least float32, as the reference does"
    if dtype.kind == "f":
        return f"its kernels take no {dtype.name}"
    return f"its pooling takes no {dtype.name}; exact for |values| < 2**53, larger refused"


