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

import numpy as np

from .adaptive import AdaptiveGeometry, Bins, GlobalGeometry
from .plan import Expr, Plan, Var
from .reference import accumulator_dtype, identity, output_dtype
from .spec import (AxisGeometry, Geometry, at_most, ceil_windows, reach_after, same_pads,
                   size_dependent, spatial_axes)


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
    #: by dtype, why its average pooling cannot compute in it (ONNX Runtime's ``AveragePool``
    #: has no float64 kernel): such an average is each window's own cells summed (``_pool``)
    avg_missing: dict[str, str] = {}

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

    def reduce(self, plan: Plan, v: Var, mode: str, axis: int) -> Var:
        """The ``mode`` ('avg') of ``v`` over ``axis``, kept as an axis of size 1: the mean of
        a bin's own cells, where ``avg_missing`` leaves no average pooling for a bin length
        known only when the plan runs."""
        raise NotImplementedError

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
        """One framework call computing ``mode`` ('max' or 'avg') of ``geom``, or None.

        For a size-dependent spec (``spec.size_dependent``: ``"same"``, ``ceil_mode`` with a
        stride above 1), a call only where the framework's own spelling computes the spec at
        every input size (TensorFlow's ``SAME``, PyTorch's ``ceil_mode``); else None, and the
        planner computes the pads from the input's shape when the plan runs."""
        return None

    def native_lp(self, plan: Plan, geom: Geometry, v: Var, layout: str) -> Var | None:
        """The framework's own lp pooling of ``geom`` (``(sum |x|^p)^(1/p)``, padding adding
        0), or None: then it is emulated from abs, power and a window sum."""
        return None

    # adaptive and global pooling
    def adaptive_layouts(self, mode: str) -> tuple[str, ...]:
        """The layouts its adaptive ``mode`` pooling is computed in."""
        return self.layouts

    def global_layouts(self, mode: str) -> tuple[str, ...]:
        """The layouts its global ``mode`` pooling is computed in."""
        return self.layouts

    def adaptive_dtypes(self) -> tuple[str, ...]:
        """The dtypes its adaptive max takes (others are cast, as for ``pool_dtypes``)."""
        return self.pool_dtypes

    def global_dtypes(self) -> tuple[str, ...]:
        """The dtypes its global max takes (others are cast, as for ``pool_dtypes``)."""
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

    def gather(self, plan: Plan, v: Var, indices, axis: int) -> Var:
        """``v``'s entries ``indices`` along ``axis`` (repeats allowed): a list of ints, or an
        ``Expr`` that is one when the plan runs (``index_list`` passes either on)."""
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

    def plan_details(self, plan) -> list[str]:
        """What a translation shows of ``plan`` besides its code, one line each (ONNX
        Runtime: each pooling node with all its attributes); none by default."""
        return []

    # the backward pass: the framework's autograd around a plan's steps
    #: why the framework has no gradient to compare (an inference runtime); "" when it has one
    no_autograd: str = ""
    #: gradients the framework's autograd does not have, by design, for some plans: a fragment of
    #: the error it raises -> why (JAX has no VJP for a dilated max): not compared, as
    #: ``no_autograd``; any other error of its autograd is an error
    no_gradient_for: dict[str, str] = {}

    def gradient_gap(self, message: str) -> str | None:
        """Why there is no gradient to compare, when ``message`` (the autograd's error) is a
        gap by design (``no_gradient_for``); None for any other failure."""
        return next((why for fragment, why in self.no_gradient_for.items()
                     if fragment in message), None)
    #: ``Plan.backward``: the rendered "record and backprop" (``{forward}``: the steps)
    backward: tuple[str, ...] = ()

    def gradient(self, ns: dict, forward, x, grad_output):
        """``(y, grad_input)``: ``y = forward(x)`` recorded by the framework's autograd and
        backpropagated with ``grad_output`` (tensors in, tensors out), as ``backward`` renders."""
        raise NotImplementedError


TO_NHWC, TO_NCHW = (0, 2, 3, 1), (0, 3, 1, 2)


def index_list(indices):
    """Gather indices as a step argument: an ``Expr`` (a list computed when the plan runs) as
    it is, anything else as a list of ints."""
    return indices if isinstance(indices, Expr) else [int(i) for i in indices]


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


def work_dtype(vocab: Vocabulary, mode: str, dtype: np.dtype, op) -> np.dtype:
    """What the framework computes in: avg/lp in the reference's accumulator; max/min in the
    input dtype when the framework's operation ``op`` takes it (``Operation.dtypes``), else
    float32 (floats) or float64 (integers, exact only below 2**53: ``Plan.exact_below`` makes
    the adapter refuse larger values)."""
    if mode in ("avg", "lp"):
        return accumulator_dtype(dtype)
    if dtype.name in op.dtypes(vocab):
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


def build_plan(vocab: Vocabulary, op, geom, dtype: np.dtype,
               shape: tuple[int, ...] | None = None, constant_pad=None) -> Plan:
    """The calls ``vocab``'s framework makes to compute the operation ``op``
    (``pooling_xfw.ops``) of ``geom`` (its geometry) on a 4-D input of ``dtype``; with the input's
    ``shape`` (rank 2 to 4), the rendered code says what ``x`` and ``y`` are for that input.
    ``constant_pad``: ``(((top, bottom), (left, right)), value)``, the input padded with that
    constant first, as a call written after a ``tf.pad`` does (``geom`` is then the pooling
    of the padded input)."""
    spec = geom.spec
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
    layouts = op.layouts(vocab, mode)
    layout = spec.layout if spec.layout in layouts else layouts[0]
    v = Var("x")
    if layout != spec.layout:
        v = vocab.transpose(plan, v, TO_NCHW if layout == "NCHW" else TO_NHWC)
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
        y = _window_sum(vocab, plan, geom, v, layout, run=runtime_pads(plan, geom))
        y = _root(vocab, plan, y, spec.p) if spec.p != 1 else y
    elif mode != "lp":
        start = _max_pool_start_too_high(vocab, mode, given, work)
        if start is not None:
            plan.emulate(f"elementwise max: its {work.name} max pooling starts from {start:.5g}, "
                         f"so a window of {given.name} values all below it would give "
                         f"{start:.5g}; the window as {op.taps}, reduced with the "
                         f"elementwise maximum")
            y = None
        else:
            y = op.native(vocab, plan, geom, v, layout, mode)
        if y is None:
            y = op.emulate(vocab, plan, geom, v, layout, mode, slices=start is not None)
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


@dataclasses.dataclass(frozen=True)
class RuntimePads:
    """Per axis ``(before, after, reach)`` an emulation pads with, some computed from the
    input's shape when the plan runs (``Expr``; ints where an axis does not depend on the
    size): the spec's pads before and after (``after`` as far as a window reads it), and
    ``reach``, the cells after the input up to the end of the last window (padding, then ceil
    overhang).  Padded to ``reach``, a floor pooling makes exactly the spec's windows: cells a
    window would start in past the last one are never added, so nothing is cropped (ceil
    mode's clamp may drop a window that starts in the padding)."""

    rows: tuple
    cols: tuple

    def full(self) -> tuple:
        """Pads and overhang: every window inside the padded array, none starting past it."""
        return tuple((b, r) for b, _, r in (self.rows, self.cols))

    def given(self) -> tuple:
        """The spec's pads (what an include-pad divisor counts)."""
        return tuple((b, a) for b, a, _ in (self.rows, self.cols))

    def without_pads(self) -> "RuntimePads":
        """The overhang left for an input that already carries ``given``."""
        return RuntimePads(*((0, 0, 0 if r is a else r - a) for _, a, r in (self.rows, self.cols)))

    @staticmethod
    def _some(values) -> bool:
        return any(isinstance(v, Expr) or v for v in values)

    def may_pad(self) -> bool:
        """Whether some input size gets pads."""
        return self._some(self.rows[:2] + self.cols[:2])

    def may_overhang(self) -> bool:
        """Whether some input size gets ceil overhang (cells past the spec's pads)."""
        return any(r is not a if isinstance(r, Expr) else r != a
                   for _, a, r in (self.rows, self.cols))


def runtime_pads(plan: Plan, geom: Geometry) -> RuntimePads | None:
    """For a size-dependent spec (``spec.size_dependent``), the pads computed from the input's
    shape when the plan runs, as ``op:let`` steps of ``plan`` (``H = x.shape[2]``, ``ph =
    ...``); None for any other spec (its resolved pads hold for every size).  An axis whose
    stride is 1 under ``ceil_mode`` (ceil is floor there) keeps its resolved values."""
    spec = geom.spec
    if not size_dependent(spec) or isinstance(geom, GlobalGeometry):
        return None
    axes = []
    for index, (name, g) in enumerate((("H", geom.rows), ("W", geom.cols))):
        same = spec.padding in ("same", "same_lower")
        if not same and g.stride == 1:  # the same windows at every size: as resolved
            reach = reach_after(g.size, g.pad_before, g.extent, g.stride, g.out)
            axes.append((g.pad_before, min(g.pad_after, reach), reach))
            continue

        def bind(label, value, suffix=name.lower()):
            return plan.let(label + suffix, value)

        n = plan.let(name, Expr.dim("x", spatial_axes(4, spec.layout)[index]))
        if same:
            pb, pa = same_pads(n, g.extent, g.stride, spec.padding == "same_lower", bind)
        else:
            pb, pa = g.pad_before, g.pad_after
        if spec.ceil_mode:
            out = bind("o", ceil_windows(n, pb, pa, g.extent, g.stride, bind))
            reach = bind("r", reach_after(n, pb, g.extent, g.stride, out))
            no_after = isinstance(pa, int) and pa == 0
            axes.append((pb, 0 if no_after else at_most(reach, pa), reach))
        else:  # SAME's windows end where its pads do
            axes.append((pb, pa, pa))
    return RuntimePads(*axes)


def keep_spec_windows(plan: Plan, geom: Geometry, v: Var, layout: str) -> Var:
    """``v``, a ceil-mode pooling that keeps a last window even where it starts in the
    after-padding (MXNet ``'full'``, Paddle ``ceil_mode``), cropped to the spec's windows: on
    each axis with a stride above 1, the first ``ceil_windows`` of them, counted from the
    input's shape when the code runs (``oh = ...``; ``y[:, :, :oh, :ow]``), so it holds for
    every size.  The windows kept are the spec's (same starts, same cells)."""
    spec = geom.spec
    plan.emulate("ceil: its ceil mode keeps a last window that starts in the padding, which "
                 "the spec drops at some sizes; cropped to the spec's count, computed from "
                 "the input's shape when the code runs")
    stops = []
    for index, (name, g) in enumerate((("H", geom.rows), ("W", geom.cols))):
        if g.stride == 1:  # the same windows at every size: a window of padding dropped or not
            stops.append(g.out - g.ceil_keep_out() or None)
            continue
        n = plan.let(name, Expr.dim("x", spatial_axes(4, spec.layout)[index]))
        stops.append(plan.let("o" + name.lower(), ceil_windows(
            n, g.pad_before, g.pad_after, g.extent, g.stride,
            lambda label, value, suffix=name.lower(): plan.let(label + suffix, value))))
    return plan.call("op:getitem", v, hw_index(layout, slice(None, stops[0]),
                                               slice(None, stops[1])))


def _window_sum(vocab: Vocabulary, plan: Plan, geom: Geometry, v: Var, layout: str,
                scaled: bool = True, run: RuntimePads | None = None) -> Var:
    """Sum over each window's cells (padding and overhang add 0).

    ``scaled=False`` may return the sum times a constant instead (the average pooling's
    1/(k_h*k_w), skipped): only for a ratio of two window sums over the same ``geom``'s window
    shape and dilation, where the constant cancels.  ``run``: pads computed when the plan
    runs (``runtime_pads``) instead of ``geom``'s."""
    kh, kw = geom.spec.pool_size
    padded = _padded(vocab, plan, geom, v, 0, layout, run)
    if geom.spec.dilation != (1, 1):
        plan.emulate("dilation: the window as strided slices, reduced axis by axis")
        return _slice_reduce(vocab, plan, geom, padded, layout, "sum", run)
    mean = _crop(vocab, plan, geom,
                 _pool(vocab, plan, padded, "avg", (kh, kw), geom.spec.stride, layout), layout,
                 run)
    return vocab.multiply(plan, mean, kh * kw) if scaled else mean


def emulate_window(vocab: Vocabulary, plan: Plan, geom: Geometry, v: Var, layout: str,
             mode: str, slices: bool = False, run: RuntimePads | None = None) -> Var:
    """``slices``: reduce a max window as strided slices even without dilation.  ``run``: the
    pads computed when the plan runs (``runtime_pads``), for every input size."""
    spec = geom.spec
    if mode == "max":
        fill = identity(np.dtype(plan.computes_in), "max")
        fill = float(fill) if np.dtype(plan.computes_in).kind == "f" else int(fill)
        padded = _padded(vocab, plan, geom, v, fill, layout, run)
        if spec.dilation != (1, 1) or slices:
            if spec.dilation != (1, 1):
                plan.emulate("dilation: the window as strided slices, reduced axis by axis")
            return _slice_reduce(vocab, plan, geom, padded, layout, "max", run)
        return _crop(vocab, plan, geom, _pool(vocab, plan, padded, "max", spec.pool_size,
                                                   spec.stride, layout), layout, run)
    overhang = run.may_overhang() if run else geom.has_overhang()
    if spec.count_include_pad and not overhang and spec.dilation == (1, 1):
        padded = _padded(vocab, plan, geom, v, 0, layout, run)  # every divisor is kh*kw
        return _crop(vocab, plan, geom, _pool(vocab, plan, padded, "avg", spec.pool_size,
                                                   spec.stride, layout), layout, run)
    # avg = window sum / divisor, the divisor being the same pooling of a mask of ones
    total = _window_sum(vocab, plan, geom, v, layout, scaled=False, run=run)
    mask = vocab.ones_like(plan, v)
    count_run = run
    if spec.count_include_pad and (run.may_pad() if run else geom.pads != ((0, 0), (0, 0))):
        mask = vocab.pad(plan, mask, run.given() if run else geom.pads, 1, layout)
        plan.emulate("divisor: a ones mask padded with 1 (padding counts), pooled the same way")
        count_geom = _without_pads(geom)
        count_run = run.without_pads() if run else None
    else:
        plan.emulate("divisor: a ones mask, zero-padded, pooled the same way")
        count_geom = geom
    divisor = _window_sum(vocab, plan, count_geom, mask, layout, scaled=False, run=count_run)
    return vocab.divide(plan, total, divisor)


def _without_pads(geom: Geometry) -> Geometry:
    """The geometry of an input that already carries the resolved pads."""

    def shift(g: AxisGeometry) -> AxisGeometry:
        return dataclasses.replace(g, size=g.size + g.pad_before + g.pad_after, pad_before=0,
                                   pad_after=0)

    return dataclasses.replace(geom, rows=shift(geom.rows), cols=shift(geom.cols))


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
    if pads == ((0, 0), (0, 0)):
        return v
    what = "ceil overhang" if geom.pads == ((0, 0), (0, 0)) else "pads"
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
              for g, p in ((geom.rows, pads[0]), (geom.cols, pads[1]))]
    if all(g.floor_out() == g.out for g in padded):
        return v
    # counted from the end (``:-1``), not as the output size: the code is the same for every
    # input size whose windows are dropped alike
    rows, cols = (slice(None, g.out - p.floor_out() or None) for g, p in
                  ((geom.rows, padded[0]), (geom.cols, padded[1])))
    return vocab.getitem(plan, v, hw_index(layout, rows, cols))


def _slice_reduce(vocab: Vocabulary, plan: Plan, geom: Geometry, padded: Var, layout: str,
                  reduce: str, run: RuntimePads | None = None) -> Var:
    """Reduce each window as k strided slices per axis (columns, then rows): tap ``j`` is the
    slice ``j*d : -(k-1-j)*d : s`` of the padded axis, the floor pooling's windows whatever the
    axis's length.  They are the spec's at every size: the padded array makes exactly the
    spec's windows by the floor rule (its pads, and where they follow the input's size, SAME
    pads and ceil overhang computed from its shape when the code runs: ``runtime_pads``).  The
    one exception, ceil mode with stride 1 dropping a last window that starts in the padding,
    stops the slices where this size's last window ends."""
    v = padded
    for axis, g, (before, after) in (("W", geom.cols, overhang_pads(geom)[1]),
                                     ("H", geom.rows, overhang_pads(geom)[0])):
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


def _pool(vocab: Vocabulary, plan: Plan, v: Var, mode: str, kernel, stride, layout: str) -> Var:
    """``vocab.pool``; where its average pooling lacks the dtype computed in
    (``vocab.avg_missing``), each window's own cells summed, as strided slices added (columns
    then rows), over the window's cell count.  Every window sums its own cells only: an inf
    or a value that swamps the others stays in its windows (a prefix sum's difference would
    carry it into every later one)."""
    why = vocab.avg_missing.get(plan.computes_in) if mode == "avg" else None
    if why is None:
        return vocab.pool(plan, v, mode, kernel, stride, layout)
    plan.emulate(f"{plan.computes_in} average: {why}; each window's cells summed as strided "
                 f"slices added, in {plan.computes_in}")
    for axis, k, s in (("W", kernel[1], stride[1]), ("H", kernel[0], stride[0])):
        if k == 1 and s == 1:
            continue
        acc = None
        for tap in range(k):  # tap ``tap`` of every window: stop where the last window fits
            piece = vocab.getitem(plan, v, _axis_cut(layout, axis,
                                                     slice(tap, (tap - k + 1) or None, s)))
            acc = piece if acc is None else vocab.add(plan, acc, piece)
        v = acc
    return vocab.divide(plan, v, kernel[0] * kernel[1])


def _each_bin(vocab: Vocabulary, plan: Plan, v: Var, axis: str, layout: str, n, o: int) -> Var:
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
    """Adaptive ``mode`` pooling from the framework's plain pooling, columns then rows (both
    max and avg are separable: a bin's mean is the mean of its rows' means, every row of a bin
    having the same cells), with the bins computed from the input's shape when the code runs
    (``_runtime_axis``), so the code holds for every input size.  ``slices``: a max as the
    elementwise maximum of gathered taps, whose number depends on the size: bins for this
    size only (``_adaptive_axis``)."""
    bin_by_bin = mode == "avg" and plan.computes_in in vocab.avg_missing  # ``_each_bin``
    if not slices and (not bin_by_bin or 0 in geom.out_hw):
        plan.emulate(f"adaptive bins: no adaptive {mode} pooling in {vocab.name}; per axis, "
                     f"{mode} poolings of the two bin lengths and a gather of each bin's "
                     f"window, the bins computed from the input's shape when the code runs "
                     f"(for every input size)")
    if 0 in geom.out_hw:  # an empty output: its shape, without pooling an empty tensor
        for axis, bins in (("W", geom.cols), ("H", geom.rows)):
            if bins.out == 0:
                v = vocab.getitem(plan, v, _axis_cut(layout, axis, slice(0, 0)))
            elif _requested(geom, axis) is not None:  # any cell of each bin: its first
                n = _input_size(plan, geom, axis)
                i = Expr.name("i")
                starts = plan.let("i" + axis.lower(), Expr.each("i", bins.out, i * n // bins.out))
                v = vocab.gather(plan, v, starts, _axis_of(layout, axis))
        return v
    for axis, bins in (("W", geom.cols), ("H", geom.rows)):
        if slices:
            v = _adaptive_axis(vocab, plan, v, axis, bins, layout, mode, slices)
        else:
            v = _runtime_axis(vocab, plan, geom, v, axis, layout, mode)
    return v


def _requested(geom: AdaptiveGeometry, axis: str) -> int | None:
    """The output size asked for ``axis`` ('H' or 'W'): an int, or None (the input's size)."""
    return geom.spec.output_size[0 if axis == "H" else 1]


def _input_size(plan: Plan, geom, axis: str) -> Expr:
    """``H = x.shape[2]`` (or ``W``, per the spec's layout): the input's size along ``axis``,
    read when the code runs."""
    index = 0 if axis == "H" else 1
    return plan.let(axis, Expr.dim("x", spatial_axes(4, geom.spec.layout)[index]))


def out_hw_at_run_time(plan: Plan, geom: AdaptiveGeometry) -> tuple:
    """``(oh, ow)`` for a native adaptive op: the requested ints, an axis asked as None being
    the input's own size read when the code runs (``H``), so the code holds for every size."""
    return tuple(_input_size(plan, geom, axis) if _requested(geom, axis) is None else o
                 for axis, o in zip(("H", "W"), geom.out_hw))


def _runtime_axis(vocab: Vocabulary, plan: Plan, geom: AdaptiveGeometry, v: Var, axis: str,
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
    a = axis.lower()
    if mode == "avg" and plan.computes_in in vocab.avg_missing:
        return _each_bin(vocab, plan, v, axis, layout, n, o)

    def window(length) -> tuple[tuple, tuple[int, int]]:
        return ((1, length), (1, 1)) if axis == "W" else ((length, 1), (1, 1))

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


def _axis_cut(layout: str, axis: str, part: slice) -> tuple[slice, ...]:
    """An index taking ``part`` of the H or W axis of a 4-D tensor of ``layout``."""
    return (hw_index(layout, slice(None), part) if axis == "W"
            else hw_index(layout, part, slice(None)))


def _adaptive_axis(vocab: Vocabulary, plan: Plan, v: Var, axis: str, bins: Bins, layout: str,
                   mode: str, slices: bool) -> Var:
    """Reduce every bin of one axis (see ``emulate_bins``)."""
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
