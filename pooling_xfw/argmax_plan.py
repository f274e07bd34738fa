"""The plan of max (or min) pooling with each window's argmax (``ops.INDICES``): the framework's
values and its indices, the pair ``(values, indices)`` as the plan's result.

Native where the framework has the call (``Vocabulary.native_indices``: PyTorch's
``return_indices``, Paddle's ``return_mask``, TensorFlow's ``max_pool_with_argmax``, ONNX
``MaxPool``'s second output), around it the planner's usual steps: a transpose to the layout
the call takes, a cast to a dtype it takes (integers in float64, exact below 2**53, larger
refused), min as the max of ``-x`` (``~x`` for integers: the same cell wins, ties kept in
order).  The indices come in the call's own convention (``Plan.index_convention``); the adapter
converts them in numpy to the one asked for.

Emulated where not (MXNet and JAX have no such call; TensorFlow's takes 2-D SAME or VALID
only): the values are the framework's own pooling, exactly the plan ``build_plan`` makes for
``px.pool2d``, and the winner is found from them, written once here.  Each cell is numbered by
its flat position in its plane (``arange``, reshaped to the plane), the input and the numbers
are padded alike (the numbers with -1), and for each tap of the window, in reverse row-major
order, a window takes the tap's number where the tap's cell equals the window's value and is a
cell (number >= 0): the last write is the first such tap, the reference's winner (padding never
wins, a window of padding only keeps -1).  Where the window's value is NaN, a second pass takes
its first NaN (``c != c``) instead.  A framework whose max ignores NaN gets the index of the
value it gave: its indices agree with its own values, and differ from the reference where they
do.
"""
from __future__ import annotations

import itertools

import numpy as np

from .layout import of_rank, permutation, spatial_axes
from .ops import POOL
from .plan import Expr, Plan, Var
from .emulation import runtime_pads
from .planner import EXACT_FLOAT64, build_plan, handover_dtype, start_plan
from .reference import output_dtype
from .spec import Geometry
from .vocabulary import Vocabulary


def build_indices_plan(vocab: Vocabulary, geom: Geometry, dtype: np.dtype,
                       shape: tuple[int, ...] | None = None) -> Plan:
    """The calls ``vocab``'s framework makes for the max (or min) pooling with indices
    (``ops.INDICES``) of ``geom`` on a full-rank input of ``dtype``: its result the pair
    (values, indices), the indices in ``Plan.index_convention`` read in
    ``Plan.index_layout``."""
    rank = len(geom.axes)
    at_rank = vocab.at_rank(rank)
    plan = _native(at_rank, geom, dtype, shape)
    if plan is not None:
        return plan
    try:
        return _emulated(at_rank, geom, dtype, shape)
    except NotImplementedError:  # a primitive the emulation needs, not spelled for it
        raise NotImplementedError(
            f"{vocab.name}: no pooling with indices for this spec, and its argmax is not "
            f"emulated (the primitives it needs are not spelled for {vocab.name})") from None


def _taken_by(vocab: Vocabulary, plan: Plan, spec, dtype: np.dtype, layouts, dtypes,
              what: str, inputs: tuple[Var, ...]) -> tuple[tuple[Var, ...], str, np.dtype]:
    """``inputs`` (the plan's input and any beside it, in ``spec.layout``) as a call that
    takes only ``layouts`` (channel orders) and ``dtypes`` (``what``: "pooling with indices",
    "unpooling") takes them: transposed to its first layout where it lacks the requested one,
    the first input cast to the dtype it computes in (float16 in float32 where it takes
    that, else float64: exact for integers below 2**53, larger refused).  Returns the inputs,
    the layout and that dtype."""
    rank = len(spec.pool_size)
    layouts = [of_rank(order, rank) for order in layouts]
    layout = spec.layout if spec.layout in layouts else layouts[0]
    work = (dtype if dtype.name in dtypes else
            np.dtype(np.float32) if dtype == np.float16 and "float32" in dtypes
            else np.dtype(np.float64))
    plan.computes_in = work.name
    if layout != spec.layout:
        inputs = tuple(vocab.transpose(plan, v, permutation(spec.layout, layout))
                       for v in inputs)
        plan.adapt(f"transposed to {layout}: its {what} takes {layout} only")
    if work != dtype:
        inputs = (vocab.cast(plan, inputs[0], work.name),) + inputs[1:]
        plan.adapt(f"cast {dtype.name} to {work.name}: its {what} takes no {dtype.name}" +
                   ("; exact for |values| < 2**53, larger refused" if dtype.kind in "iu"
                    else ""))
        if dtype.kind in "iu":
            plan.exact_below = EXACT_FLOAT64
    return inputs, layout, work


def _native(vocab: Vocabulary, geom: Geometry, dtype: np.dtype, shape) -> Plan | None:
    spec = geom.spec
    plan = start_plan(vocab, geom, dtype, shape)
    given, dtype = dtype, handover_dtype(vocab, dtype)
    (v,), layout, work = _taken_by(vocab, plan, spec, dtype, vocab.index_layouts,
                                   vocab.index_dtypes, "pooling with indices", (Var("x"),))
    flip = None
    if spec.mode == "min":
        flip = vocab.invert if work.kind in "iu" else vocab.negative
        v = flip(plan, v)
        plan.adapt("min pooling as the max of " + ("~x" if work.kind in "iu" else "-x") +
                   ": the same cell wins")
    got = vocab.native_indices(plan, geom, v, layout)
    if got is None:
        return None
    values, indices, convention = got
    if convention != "plane" and not plan.index_pads:  # written out, as the code runs
        indices, convention = _as_plane(vocab, plan, indices, convention, geom, layout)
    if flip is not None:
        values = flip(plan, values)
    out = output_dtype(spec.mode, given)
    if out.name not in vocab.tensor_dtypes:
        plan.handback = out.name  # converted back after the framework (exact: integer values)
        out = dtype
    if out != work:
        values = vocab.cast(plan, values, out.name)
    if layout != spec.layout:
        back = permutation(layout, spec.layout)
        values = vocab.transpose(plan, values, back)
        indices = vocab.transpose(plan, indices, back)
    plan.index_convention, plan.index_layout = convention, layout
    vocab.finish(plan, values, dtype, out, spec.layout, second=indices)
    return plan


def _emulated(vocab: Vocabulary, geom: Geometry, dtype: np.dtype, shape) -> Plan:
    spec = geom.spec
    plan = build_plan(vocab, POOL, geom, dtype, shape, finish=False)
    values = Var(plan.steps[-1].out) if plan.steps else Var("x")
    layout, ndim = spec.layout, len(spec.layout)
    axes = spatial_axes(ndim, layout)
    numbers = numbered_cells(vocab, plan, layout)
    run = runtime_pads(plan, geom)  # pads (and ceil overhang) read from x.shape: any size
    pads, reads = (run.full() if run is not None else geom.pads), []
    padded, padded_numbers = Var("x"), numbers
    if any(isinstance(p, Expr) or p for pair in pads for p in pair):
        padded = vocab.pad(plan, padded, tuple(pads), 0, layout)
        padded_numbers = vocab.pad(plan, numbers, tuple(pads), -1, layout)
    for taps in itertools.product(*(range(g.kernel) for g in geom.axes)):
        index = [slice(None)] * ndim
        for axis, g, tap in zip(axes, geom.axes, taps):
            # counted from the padded axis's end: the floor pooling's window count at any size
            start, end = tap * g.dilation, (g.kernel - 1 - tap) * g.dilation
            index[axis] = slice(start, -end if end else None, g.stride)
        reads.append((vocab.getitem(plan, padded, tuple(index)),
                      vocab.getitem(plan, padded_numbers, tuple(index))))
    none = vocab.multiply(plan, vocab.ones_like(plan, reads[0][1]), -1.0)
    found = _first(vocab, plan, reads, none, lambda cell: vocab.equal(plan, cell, values))
    if np.dtype(plan.computes_in).kind == "f":
        first_nan = _first(vocab, plan, reads, none,
                           lambda cell: vocab.not_equal(plan, cell, cell))
        found = vocab.where(plan, vocab.not_equal(plan, values, values), first_nan, found)
    indices = vocab.cast(plan, found, "int64")
    plan.emulate(f"argmax: {vocab.name} has no pooling with indices for this spec; each "
                 f"window's first cell equal to its value (its first NaN where the value is "
                 f"NaN), from the cells numbered y*W + x and padded with -1, one tap at a time")
    plan.index_convention, plan.index_layout = "plane", layout
    out = output_dtype(spec.mode, np.dtype(dtype))
    given = handover_dtype(vocab, np.dtype(dtype))
    vocab.finish(plan, values, given, out if out.name in vocab.tensor_dtypes else given,
                 layout, second=indices)
    return plan


def _as_plane(vocab: Vocabulary, plan: Plan, indices: Var, convention: str, geom: Geometry,
              layout: str) -> tuple[Var, str]:
    """The framework's indices as plane indices (``y*W + x``), with its own ops: TensorFlow's
    ``(y*W + x)*C + c`` floor-divided by C, a whole-tensor index of a channels-first layout
    taken modulo the plane's cells; a negative index (no cell) kept as the framework gave it
    (judged as such).  Another convention stays as it is, converted after the call."""
    given = geom.spec.layout
    if convention == "tf":
        plane = vocab.floor_divide(plan, indices, Expr.dim("x", given.index("C")))
    elif convention == "tensor" and layout.index("C") == 1:
        plane = vocab.remainder(plan, indices, cells_of(
            [Expr.dim("x", axis) for axis in spatial_axes(len(given), given)]))
    else:
        return indices, convention
    plan.adapt(f"its {convention!r} indices converted to the plane's y*W + x")
    return vocab.where(plan, vocab.at_least(plan, indices, 0), plane, indices), "plane"


def _first(vocab: Vocabulary, plan: Plan, reads, none: Var, hit) -> Var:
    """Per window, the number of its first tap whose cell ``hit`` marks and that is a cell
    (not padding): the taps written last to first, so the first one's write stays."""
    found = none
    for cell, number in reversed(reads):
        is_cell = vocab.where(plan, vocab.at_least(plan, number, 0), number, found)
        found = vocab.where(plan, hit(cell), is_cell, found)
    return found


def numbered_cells(vocab: Vocabulary, plan: Plan, layout: str) -> Var:
    """Each spatial cell of the input ``x`` numbered by its flat position in its plane
    (``y*W + x``), float64, shaped as ``x`` with N and C of 1 (it broadcasts)."""
    ndim = len(layout)
    axes = spatial_axes(ndim, layout)
    sizes = [Expr.dim("x", axis) for axis in axes]
    shape = [1] * ndim
    for axis, size in zip(axes, sizes):
        shape[axis] = size
    return vocab.reshape(plan, vocab.arange(plan, plan.let("cells", cells_of(sizes))), shape)


def build_unpool_plan(vocab: Vocabulary, geom, dtype: np.dtype,
                      shape: tuple[int, ...] | None = None) -> Plan:
    """The calls ``vocab``'s framework makes to unpool values of ``dtype`` (the plan's ``x``)
    at ``indices`` (the plan's second input, int64, shaped as ``x``, in
    ``Plan.index_convention`` read in ``Plan.index_layout``: the adapter converts the plane
    indices to it first) to ``geom.output_size`` (an ``ops.unpool.UnpoolGeometry``).

    Raises:
        NotImplementedError: the framework has no unpooling, nor a scatter it is spelled with.
    """
    spec = geom.spec
    vocab = vocab.at_rank(len(geom.output_size))
    plan = Plan(vocab.name, vocab.imports)
    given, dtype = dtype, handover_dtype(vocab, dtype)
    if dtype != given:
        plan.handover = dtype.name
    (v, index), layout, work = _taken_by(vocab, plan, spec, dtype, vocab.unpool_layouts,
                                         vocab.unpool_dtypes, "unpooling",
                                         (Var("x"), Var("indices")))
    if work.name not in vocab.unpool_dtypes:
        raise NotImplementedError(f"{vocab.name}: its unpooling has no {dtype.name} kernel, "
                                  f"and a cast to a narrower dtype would round the values")
    plan.index_convention, plan.index_layout = vocab.unpool_convention, layout
    described = f"shape {tuple(shape)}, " if shape is not None else ""
    plan.input_note = (f"the pooled values, {described}{spec.layout}, {dtype}; indices: each "
                       f"one's argmax, int64, in the {vocab.unpool_convention!r} convention of "
                       f"{layout}")
    y = vocab.native_unpool(plan, geom, v, index, layout)
    if y is None:
        raise NotImplementedError(f"{vocab.name}: no unpooling op, nor a scatter it is "
                                  f"spelled with, for this spec")
    if work != dtype:
        y = vocab.cast(plan, y, dtype.name)
    if layout != spec.layout:
        y = vocab.transpose(plan, y, permutation(layout, spec.layout))
    vocab.finish(plan, y, dtype, dtype, spec.layout)
    return plan


def unpooled_shape(geom, layout: str) -> list:
    """The unpooled output's full shape in ``layout`` (a kernel's): N and C read from the plan's
    input ``x`` when it runs (in the requested layout), the spatial sizes ``geom``'s."""
    given = geom.spec.layout
    n, c = Expr.dim("x", 0), Expr.dim("x", given.index("C"))
    spatial = iter(geom.output_size)
    return [n if letter == "N" else c if letter == "C" else next(spatial) for letter in layout]


def cells_of(shape: list):
    """The product of a shape's sizes (an ``Expr`` where some are read at run time)."""
    total = shape[0]
    for size in shape[1:]:
        total = total * size
    return total


def unpool_pads(spec) -> tuple[int, ...]:
    """The pads a framework's unpooling takes (each axis's before: they only set its default
    output size, checked against the size asked for); 0 for a named padding."""
    if isinstance(spec.padding, str):
        return (0,) * len(spec.pool_size)
    return tuple(before for before, _ in spec.padding)
