"""Turn a resolved ``Geometry`` into a ``Plan`` of one backend's calls, written once for all four.

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
* dilation the framework lacks: the window as strided slices, reduced one axis at a time;
* a max pooling that starts from a finite value above the dtype's lowest (Paddle's float64
  kernels start from float32's lowest): the same strided slices, reduced with the elementwise
  maximum, after explicit padding with -inf.

Adaptive pooling (an ``AdaptiveGeometry``) asks ``native_adaptive`` for the framework's own
adaptive op; without one it is emulated from the bins, an axis at a time: bins of one length on
a regular stride are one pooling (window = the length, stride = the step); otherwise one
pooling per bin length (at most two, each window no wider than the input) with stride 1,
concatenated, and one gather of each bin's window.  Where the framework's max pooling starts
too high (above), each bin is the elementwise maximum of its taps, gathered.  Global pooling
(a ``GlobalGeometry``: the window of the whole input) asks ``native_global`` for the
framework's own global op, then plans it as the pooling it is.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .adaptive import AdaptiveGeometry, Bins, GlobalGeometry
from .plan import Plan, Var
from .reference import accumulator_dtype, identity, output_dtype
from .spec import AxisGeometry, Geometry, spatial_axes


ALL_DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
              "uint16", "uint32", "uint64")
EXACT_FLOAT64 = 2 ** 53  # integers of larger magnitude are not all representable in float64


class Vocabulary:
    """How one framework spells the primitives; subclassed once per adapter."""

    name = ""
    imports: tuple[str, ...] = ()
    layouts: tuple[str, ...] = ("NCHW",)  # layouts its pooling kernels take
    pool_dtypes: tuple[str, ...] = ("float16", "float32", "float64")  # dtypes its max pools
    tensor_dtypes: tuple[str, ...] = ALL_DTYPES  # numpy dtypes it builds tensors from
    #: by dtype, the finite value its max pooling starts from (and pads with) where that lies
    #: above the dtype's lowest: a window of values all below it comes out as that value
    max_pool_start: dict[str, float] = {}

    # primitives: each appends steps to ``plan`` and returns the Var of the result
    def pad(self, plan: Plan, v: Var, pads, value, layout: str) -> Var:
        raise NotImplementedError

    def pool(self, plan: Plan, v: Var, mode: str, kernel, stride, layout: str) -> Var:
        """Unpadded, floor-mode max/avg pooling (the one primitive every framework has)."""
        raise NotImplementedError

    #: the framework's elementwise functions: {"maximum": ..., "abs": ..., "ones_like": ...,
    #: "zeros_like": ..., "where": ...}
    functions: dict[str, str] = {}

    def where(self, plan: Plan, condition: Var, a: Var, b: Var) -> Var:
        return plan.call(self.functions["where"], condition, a, b)

    def zeros_like(self, plan: Plan, v: Var) -> Var:
        return plan.call(self.functions["zeros_like"], v)

    def maximum(self, plan: Plan, a: Var, b: Var) -> Var:
        return plan.call(self.functions["maximum"], a, b)

    def abs(self, plan: Plan, v: Var) -> Var:
        return plan.call(self.functions["abs"], v)

    def ones_like(self, plan: Plan, v: Var) -> Var:
        return plan.call(self.functions["ones_like"], v)

    def power(self, plan: Plan, v: Var, exponent: float) -> Var:
        return plan.call("op:pow", v, exponent)

    # Python's operators on tensors; a framework whose steps build a graph spells them as nodes
    def add(self, plan: Plan, a: Var, b: Var) -> Var:
        return plan.call("op:add", a, b)

    def multiply(self, plan: Plan, v: Var, factor) -> Var:
        return plan.call("op:mul", v, factor)

    def divide(self, plan: Plan, a: Var, b: Var) -> Var:
        return plan.call("op:div", a, b)

    def negative(self, plan: Plan, v: Var) -> Var:
        return plan.call("op:neg", v)

    def equal(self, plan: Plan, v: Var, value) -> Var:
        return plan.call("op:eq", v, value)

    def getitem(self, plan: Plan, v: Var, index: tuple[slice, ...]) -> Var:
        """``v[index]``: basic slicing of a 4-D tensor (slices with steps >= 1)."""
        return plan.call("op:getitem", v, index)

    def finish(self, plan: Plan, y: Var, dtype: np.dtype, out_dtype: np.dtype,
               layout: str) -> Var:
        """The plan's last steps after ``y``, the result: nothing for an eager framework; a
        graph framework builds and runs its model of the steps here (``x``: a 4-D ``layout``
        array of ``dtype``; ``y``: ``out_dtype``)."""
        return y

    def cast(self, plan: Plan, v: Var, dtype: str) -> Var:
        raise NotImplementedError

    def invert(self, plan: Plan, v: Var) -> Var:
        raise NotImplementedError

    def transpose(self, plan: Plan, v: Var, perm: tuple[int, ...]) -> Var:
        raise NotImplementedError

    def native(self, plan: Plan, geom: Geometry, v: Var, layout: str, mode: str) -> Var | None:
        """One framework call computing ``mode`` ('max' or 'avg') of ``geom``, or None."""
        return None

    def native_lp(self, plan: Plan, geom: Geometry, v: Var, layout: str) -> Var | None:
        """The framework's own lp pooling of ``geom`` (``(sum |x|^p)^(1/p)``, padding adding
        0), or None: then it is emulated from abs, power and a window sum."""
        return None

    # adaptive and global pooling
    def layouts_for(self, op: str, mode: str) -> tuple[str, ...]:
        """The layouts ``op`` ('pool2d', 'adaptive', 'global') in ``mode`` is computed in."""
        return self.layouts

    def dtypes_for(self, op: str) -> tuple[str, ...]:
        """The dtypes ``op``'s max takes (others are cast, as for ``pool_dtypes``)."""
        return self.pool_dtypes

    def native_adaptive(self, plan: Plan, geom: AdaptiveGeometry, v: Var, layout: str,
                        mode: str) -> Var | None:
        """The framework's own adaptive ``mode`` pooling of ``geom``, or None."""
        return None

    def native_global(self, plan: Plan, geom: GlobalGeometry, v: Var, layout: str,
                      mode: str) -> Var | None:
        """The framework's own global ``mode`` ('max' or 'avg') pooling, keeping H and W as
        axes of size 1, or None (then it is planned as the pooling with the whole window)."""
        return None

    def gather(self, plan: Plan, v: Var, indices: list[int], axis: int) -> Var:
        """``v``'s entries ``indices`` along ``axis`` (repeats allowed)."""
        raise NotImplementedError

    def concat(self, plan: Plan, values: list[Var], axis: int) -> Var:
        raise NotImplementedError

    # what a backend needs at run time
    def namespace(self) -> dict:
        raise NotImplementedError

    def to_tensor(self, ns: dict, array: np.ndarray):
        raise NotImplementedError

    def to_numpy(self, ns: dict, tensor) -> np.ndarray:
        raise NotImplementedError

    # the backward pass: the framework's autograd around a plan's steps
    #: why the framework has no gradient to compare (an inference runtime); "" when it has one
    no_autograd: str = ""
    #: ``Plan.backward``: the rendered "record and backprop" (``{forward}``: the steps)
    backward: tuple[str, ...] = ()

    def gradient(self, ns: dict, forward, x, grad_output):
        """``(y, grad_input)``: ``y = forward(x)`` recorded by the framework's autograd and
        backpropagated with ``grad_output`` (tensors in, tensors out), as ``backward`` renders."""
        raise NotImplementedError


TO_NHWC, TO_NCHW = (0, 2, 3, 1), (0, 3, 1, 2)


def hw_index(layout: str, rows: slice, cols: slice) -> tuple[slice, ...]:
    full = slice(None)
    return (full, full, rows, cols) if layout == "NCHW" else (full, rows, cols, full)


def overhang_pads(geom: Geometry) -> tuple[tuple[int, int], tuple[int, int]]:
    """Pads that make every window of ``geom`` lie inside the padded array: the resolved pads
    in full (never trimmed to what one input size reads, so the code holds for other sizes),
    the after side widened to the ceil overhang where that reaches further."""
    return tuple((g.pad_before, max(g.pad_after, g.span - g.pad_before - g.size))
                 for g in (geom.rows, geom.cols))  # type: ignore[return-value]


def handover_dtype(vocab: Vocabulary, dtype: np.dtype) -> np.dtype:
    """The dtype the input is handed to the framework in: its own, or the narrowest wider one
    the framework builds tensors from (e.g. MXNet has no uint16: int32)."""
    if dtype.name in vocab.tensor_dtypes:
        return dtype
    for name in ("int16", "int32", "int64", "float64"):
        if name in vocab.tensor_dtypes and np.can_cast(dtype, name, "safe"):
            return np.dtype(name)
    return np.dtype(np.float64)


def work_dtype(vocab: Vocabulary, mode: str, dtype: np.dtype, op: str = "pool2d") -> np.dtype:
    """What the framework computes in: avg/lp in the reference's accumulator; max/min in the
    input dtype when the framework's ``op`` takes it, else float32 (floats) or float64
    (integers, exact only below 2**53: ``Plan.exact_below`` makes the adapter refuse larger
    values)."""
    if mode in ("avg", "lp"):
        return accumulator_dtype(dtype)
    if dtype.name in vocab.dtypes_for(op):
        return dtype
    return np.promote_types(dtype, np.float32) if dtype.kind == "f" else np.dtype(np.float64)


_AXES = {(2, "NCHW"): "H, W", (2, "NHWC"): "H, W", (3, "NCHW"): "C, H, W",
         (3, "NHWC"): "H, W, C", (4, "NCHW"): "N, C, H, W", (4, "NHWC"): "N, H, W, C"}
#: how a rank 2 or 3 input becomes the 4-D array the plan runs on, and its result comes back
_TO_4D = {(2, "NCHW"): ("X[None, None]", "y[0, 0]"),
          (2, "NHWC"): ("X[None, :, :, None]", "y[0, :, :, 0]"),
          (3, "NCHW"): ("X[None]", "y[0]"), (3, "NHWC"): ("X[None]", "y[0]")}


def as_4d_shape(shape: tuple[int, ...], layout: str) -> tuple[int, ...]:
    """The shape of the 4-D array an input of ``shape`` is pooled as (1s added)."""
    if len(shape) == 4:
        return tuple(shape)
    if len(shape) == 2:
        return (1, 1, *shape) if layout == "NCHW" else (1, *shape, 1)
    return (1, *shape)


def _shape_notes(geom: Geometry, shape: tuple[int, ...], dtype: np.dtype) -> tuple[str, str]:
    """What ``x`` and ``y`` of the rendered code are for an input of ``shape``: its rank and
    axes, and, for rank 2 or 3, the 4-D array it is given as and how the result comes back."""
    layout, rank = geom.spec.layout, len(shape)
    h_axis, w_axis = spatial_axes(rank, layout)
    out = list(shape)
    out[h_axis], out[w_axis] = geom.out_hw
    out = tuple(out)
    x_note = f"the input X, shape {tuple(shape)} ({_AXES[rank, layout]}), {dtype}"
    if isinstance(geom, GlobalGeometry) and not geom.keepdims:
        return ((x_note if rank == 4 else f"{x_note}, as a 4-D {layout} array "
                 f"{as_4d_shape(shape, layout)} = {_TO_4D[rank, layout][0]}"),
                _dropped_note(geom, tuple(shape), as_4d_shape(out, layout)))
    if rank == 4:
        return x_note, ""
    to_4d, back = _TO_4D[rank, layout]
    return (f"{x_note}, as a 4-D {layout} array {as_4d_shape(shape, layout)} = {to_4d}",
            f"{as_4d_shape(out, layout)} {layout}; the result, shape {out} "
            f"({_AXES[rank, layout]}), is {back}")


def _dropped_note(geom: GlobalGeometry, shape: tuple[int, ...], out_4d: tuple[int, ...]) -> str:
    """What ``y`` is for a global pooling that drops H and W (``keepdims=False``): the 4-D
    result, and the index that gives the requested one (the 1-cell H and W, and the axes added
    for a rank 2 or 3 input, taken at 0)."""
    layout, rank = geom.spec.layout, len(shape)
    added = {2: (0, 1) if layout == "NCHW" else (0, 3), 3: (0,), 4: ()}[rank]
    index = ["0" if axis in added or axis in spatial_axes(4, layout) else ":"
             for axis in range(4)]
    final = geom.output_shape(shape)
    axes = ", ".join(a for a in _AXES[rank, layout].split(", ") if a not in ("H", "W"))
    return (f"{out_4d} {layout}; the result, shape {final}"
            f"{f' ({axes})' if axes else ''}, H and W dropped, is y[{', '.join(index)}]")


def operation(geom) -> str:
    """Which pooling a resolved geometry is: 'pool2d', 'adaptive' or 'global'."""
    if isinstance(geom, AdaptiveGeometry):
        return "adaptive"
    return "global" if isinstance(geom, GlobalGeometry) else "pool2d"


def build_plan(vocab: Vocabulary, geom, dtype: np.dtype,
               shape: tuple[int, ...] | None = None) -> Plan:
    """The calls ``vocab``'s framework makes to compute ``geom`` (a ``Geometry``,
    ``AdaptiveGeometry`` or ``GlobalGeometry``) on a 4-D input of ``dtype``; with the input's
    ``shape`` (rank 2 to 4), the rendered code says what ``x`` and ``y`` are for that input."""
    spec = geom.spec
    op = operation(geom)
    plan = Plan(vocab.name, vocab.imports)
    given, dtype = dtype, handover_dtype(vocab, dtype)
    if shape is None:
        plan.input_note = f"4-D {spec.layout} array of {dtype}"
    else:
        plan.input_note, plan.output_note = _shape_notes(geom, tuple(shape), dtype)
    if dtype != given:
        plan.handover = dtype.name
        plan.input_note += f" (the {given.name} input, converted: {vocab.name} has no " \
                           f"{given.name} tensors)"
    mode = spec.mode
    work = work_dtype(vocab, mode, dtype, op)
    plan.computes_in = work.name
    layouts = vocab.layouts_for(op, mode)
    layout = spec.layout if spec.layout in layouts else layouts[0]
    v = Var("x")
    if layout != spec.layout:
        v = vocab.transpose(plan, v, TO_NCHW if layout == "NCHW" else TO_NHWC)
        kind = "pooling kernels" if op == "pool2d" else f"{op} {mode} pooling"
        plan.adapt(f"transposed to {layout}: its {kind} take{'s' * (op != 'pool2d')} "
                   f"{layout} only")
    if work != dtype:
        v = vocab.cast(plan, v, work.name)
        plan.adapt(f"cast {dtype.name} to {work.name}: {_cast_reason(mode, dtype, work)}")
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
        y = _window_sum(vocab, plan, geom, v, layout)
        y = _root(vocab, plan, y, spec.p) if spec.p != 1 else y
    elif mode != "lp":
        start = _max_pool_start_too_high(vocab, mode, given, work)
        if start is not None:
            taps = "gathered taps" if op == "adaptive" else "strided slices"
            plan.emulate(f"elementwise max: its {work.name} max pooling starts from {start:.5g}, "
                         f"so a window of {given.name} values all below it would give "
                         f"{start:.5g}; the window as {taps}, reduced with the "
                         f"elementwise maximum")
            y = None
        elif op == "adaptive":
            y = vocab.native_adaptive(plan, geom, v, layout, mode)
        else:
            y = vocab.native_global(plan, geom, v, layout, mode) if op == "global" else None
            y = y if y is not None else vocab.native(plan, geom, v, layout, mode)
        if y is None and op == "adaptive":
            y = _emulate_adaptive(vocab, plan, geom, v, layout, mode, slices=start is not None)
        elif y is None:
            y = _emulate(vocab, plan, geom, v, layout, mode, slices=start is not None)
    if flip is not None:
        y = flip(plan, y)
    out = output_dtype(spec.mode, given)
    if out.name not in vocab.tensor_dtypes:
        plan.handback = out.name  # converted back after the framework (exact: integer values)
        out = dtype
    if out != work:
        y = vocab.cast(plan, y, out.name)
    if layout != spec.layout:
        y = vocab.transpose(plan, y, TO_NHWC if spec.layout == "NHWC" else TO_NCHW)
    vocab.finish(plan, y, dtype, out, spec.layout)
    return plan


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


def _window_sum(vocab: Vocabulary, plan: Plan, geom: Geometry, v: Var, layout: str,
                scaled: bool = True) -> Var:
    """Sum over each window's cells (padding and overhang add 0).

    ``scaled=False`` may return the sum times a constant instead (the average pooling's
    1/(k_h*k_w), skipped): only for a ratio of two window sums over the same ``geom``'s window
    shape and dilation, where the constant cancels."""
    kh, kw = geom.spec.pool_size
    padded = _padded(vocab, plan, geom, v, 0, layout)
    if geom.spec.dilation != (1, 1):
        plan.emulate("dilation: the window as strided slices, reduced axis by axis")
        return _slice_reduce(vocab, plan, geom, padded, layout, "sum")
    mean = _crop(vocab, plan, geom,
                 vocab.pool(plan, padded, "avg", (kh, kw), geom.spec.stride, layout), layout)
    return vocab.multiply(plan, mean, kh * kw) if scaled else mean


def _emulate(vocab: Vocabulary, plan: Plan, geom: Geometry, v: Var, layout: str,
             mode: str, slices: bool = False) -> Var:
    """``slices``: reduce a max window as strided slices even without dilation."""
    spec = geom.spec
    if mode == "max":
        fill = identity(np.dtype(plan.computes_in), "max")
        fill = float(fill) if np.dtype(plan.computes_in).kind == "f" else int(fill)
        padded = _padded(vocab, plan, geom, v, fill, layout)
        if spec.dilation != (1, 1) or slices:
            if spec.dilation != (1, 1):
                plan.emulate("dilation: the window as strided slices, reduced axis by axis")
            return _slice_reduce(vocab, plan, geom, padded, layout, "max")
        return _crop(vocab, plan, geom, vocab.pool(plan, padded, "max", spec.pool_size,
                                                   spec.stride, layout), layout)
    if spec.count_include_pad and not geom.has_overhang() and spec.dilation == (1, 1):
        padded = _padded(vocab, plan, geom, v, 0, layout)  # every divisor is kh*kw
        return _crop(vocab, plan, geom, vocab.pool(plan, padded, "avg", spec.pool_size,
                                                   spec.stride, layout), layout)
    # avg = window sum / divisor, the divisor being the same pooling of a mask of ones
    total = _window_sum(vocab, plan, geom, v, layout, scaled=False)
    mask = vocab.ones_like(plan, v)
    if spec.count_include_pad and geom.pads != ((0, 0), (0, 0)):
        mask = vocab.pad(plan, mask, geom.pads, 1, layout)
        plan.emulate("divisor: a ones mask padded with 1 (padding counts), pooled the same way")
        count_geom = _without_pads(geom)
    else:
        plan.emulate("divisor: a ones mask, zero-padded, pooled the same way")
        count_geom = geom
    divisor = _window_sum(vocab, plan, count_geom, mask, layout, scaled=False)
    return vocab.divide(plan, total, divisor)


def _without_pads(geom: Geometry) -> Geometry:
    """The geometry of an input that already carries the resolved pads."""

    def shift(g: AxisGeometry) -> AxisGeometry:
        return dataclasses.replace(g, size=g.size + g.pad_before + g.pad_after, pad_before=0,
                                   pad_after=0)

    return dataclasses.replace(geom, rows=shift(geom.rows), cols=shift(geom.cols))


def _padded(vocab: Vocabulary, plan: Plan, geom: Geometry, v: Var, fill, layout: str) -> Var:
    """``v`` padded with ``fill`` so that every window lies inside it."""
    pads = overhang_pads(geom)
    if pads == ((0, 0), (0, 0)):
        return v
    what = "ceil overhang" if geom.pads == ((0, 0), (0, 0)) else "pads"
    plan.emulate(f"explicit padding: {what} {pads} padded with {fill}, then unpadded pooling")
    return vocab.pad(plan, v, pads, fill, layout)


def _crop(vocab: Vocabulary, plan: Plan, geom: Geometry, v: Var, layout: str) -> Var:
    """Drop windows the unpadded pooling adds past ``geom``'s output (ceil's dropped window)."""
    pads = overhang_pads(geom)
    padded = [dataclasses.replace(g, pad_before=p[0], pad_after=p[1])
              for g, p in ((geom.rows, pads[0]), (geom.cols, pads[1]))]
    if all(g.floor_out() == g.out for g in padded):
        return v
    # counted from the end (``:-1``), not as the output size: the code is the same for every
    # input size whose windows are dropped alike
    rows, cols = (slice(None, g.out - p.floor_out() or None) for g, p in
                  ((geom.rows, padded[0]), (geom.cols, padded[1])))
    return vocab.getitem(plan, v, hw_index(layout, rows, cols))


def _slice_reduce(vocab: Vocabulary, plan: Plan, geom: Geometry, padded: Var, layout: str,
                  reduce: str) -> Var:
    """Reduce each window as k strided slices per axis (columns, then rows)."""
    v = padded
    for axis, g, (before, after) in (("W", geom.cols, overhang_pads(geom)[1]),
                                     ("H", geom.rows, overhang_pads(geom)[0])):
        acc = None
        length = before + g.size + after
        for tap in range(g.kernel):
            start = tap * g.dilation
            # the stop counted from the end of the padded axis (the same code for every input
            # size whose last window ends alike)
            cut = slice(start, start + (g.out - 1) * g.stride + 1 - length or None, g.stride)
            index = hw_index(layout, slice(None), cut) if axis == "W" else hw_index(
                layout, cut, slice(None))
            piece = vocab.getitem(plan, v, index)
            acc = piece if acc is None else (
                vocab.maximum(plan, acc, piece) if reduce == "max"
                else vocab.add(plan, acc, piece))
        v = acc
    return v


def _axis_of(layout: str, axis: str) -> int:
    """The index of H or W in a 4-D tensor of ``layout``."""
    return {"NCHW": {"H": 2, "W": 3}, "NHWC": {"H": 1, "W": 2}}[layout][axis]


def _emulate_adaptive(vocab: Vocabulary, plan: Plan, geom: AdaptiveGeometry, v: Var,
                      layout: str, mode: str, slices: bool = False) -> Var:
    """Adaptive ``mode`` pooling from the framework's plain pooling, columns then rows (both
    max and avg are separable: a bin's mean is the mean of its rows' means, every row of a bin
    having the same cells).  ``slices``: a max as the elementwise maximum of gathered taps."""
    if not slices:
        plan.emulate(f"adaptive bins: no adaptive {mode} pooling in {vocab.name}; per axis, "
                     f"one {mode} pooling per bin length and a gather of each bin's window")
    if 0 in geom.out_hw:  # an empty output: its shape, without pooling an empty tensor
        for axis, bins in (("W", geom.cols), ("H", geom.rows)):
            if bins.out == 0:
                v = vocab.getitem(plan, v, _axis_cut(layout, axis, slice(0, 0)))
            elif bins.out != bins.size:
                v = vocab.gather(plan, v, bins.starts.tolist(), _axis_of(layout, axis))
        return v
    for axis, bins in (("W", geom.cols), ("H", geom.rows)):
        v = _adaptive_axis(vocab, plan, v, axis, bins, layout, mode, slices)
    return v


def _axis_cut(layout: str, axis: str, part: slice) -> tuple[slice, ...]:
    """An index taking ``part`` of the H or W axis of a 4-D tensor of ``layout``."""
    return (hw_index(layout, slice(None), part) if axis == "W"
            else hw_index(layout, part, slice(None)))


def _adaptive_axis(vocab: Vocabulary, plan: Plan, v: Var, axis: str, bins: Bins, layout: str,
                   mode: str, slices: bool) -> Var:
    """Reduce every bin of one axis (see ``_emulate_adaptive``)."""
    dim = _axis_of(layout, axis)

    def cut(part: slice) -> Var:
        return vocab.getitem(plan, v, _axis_cut(layout, axis, part))

    def window(length: int, step: int) -> tuple[tuple[int, int], tuple[int, int]]:
        return ((1, length), (1, step)) if axis == "W" else ((length, 1), (step, 1))

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
        return vocab.pool(plan, v, mode, kernel, stride, layout)
    pooled, offsets, offset = [], {}, 0
    for length, _ in bins.groups():  # every window of each bin length, stride 1
        kernel, stride = window(length, 1)
        pooled.append(v if length == 1 else vocab.pool(plan, v, mode, kernel, stride, layout))
        offsets[length] = offset
        offset += bins.size - length + 1
    every = pooled[0] if len(pooled) == 1 else vocab.concat(plan, pooled, dim)
    shorter = bins.lengths == bins.shortest  # the shorter bins' windows come first
    index = bins.starts + np.where(shorter, 0, offsets[bins.longest] if not shorter.all() else 0)
    return vocab.gather(plan, every, index.tolist(), dim)
