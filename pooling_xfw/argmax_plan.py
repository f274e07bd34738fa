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

import dataclasses
import itertools

import numpy as np

from .errors import PoolingError
from .layout import of_rank, permutation, spatial_axes
from .ops import INDICES, POOL, POOL_UNPOOL, Operation
from .ops.unpool import UnpoolGeometry
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
    ``Plan.index_layout``: the convention asked for (``geom.convention``), converted in the
    framework's own ops, unless its call numbers the cells of an input it pads first (ONNX
    Runtime's, ``Plan.index_pads``: converted after the call)."""
    at_rank = vocab.at_rank(len(geom.axes))
    argmax = argmax_steps(at_rank, geom, dtype, shape)
    values, indices, plan, layout = argmax.values, argmax.indices, argmax.plan, geom.spec.layout
    if argmax.layout != layout:
        back = permutation(argmax.layout, layout)
        values = at_rank.transpose(plan, values, back)
        indices = at_rank.transpose(plan, indices, back)
    if plan.index_convention == "plane" != geom.convention and not plan.index_pads:
        sizes = [Expr.dim("x", axis) for axis in spatial_axes(len(layout), layout)]
        indices = from_plane(at_rank, plan, indices, geom.convention, layout, layout, sizes)
        plan.index_convention, plan.index_layout = geom.convention, layout
    at_rank.finish(argmax.plan, values, argmax.dtype, argmax.out_dtype, geom.spec.layout,
                   second=indices)
    return argmax.plan


@dataclasses.dataclass
class Argmax:
    """The steps of a pooling with indices before the plan's result: the values (``out_dtype``)
    and the indices (in ``plan.index_convention``, read in ``plan.index_layout``) of an input
    of ``dtype`` (the one the framework is handed), both in ``layout`` (the call's: the
    spec's, or the one it transposed to)."""

    plan: Plan
    values: Var
    indices: Var
    dtype: np.dtype
    out_dtype: np.dtype
    layout: str


def argmax_steps(vocab: Vocabulary, geom: Geometry, dtype: np.dtype,
                 shape: tuple[int, ...] | None = None) -> Argmax:
    """``build_indices_plan``'s steps, its result not yet made (``vocab`` at the spec's rank):
    the framework's own call where it has one, else the emulation.

    Raises:
        NotImplementedError: neither (a primitive the emulation needs is not spelled)."""
    argmax = _native(vocab, geom, dtype, shape)
    if argmax is not None:
        return argmax
    try:
        return _emulated(vocab, geom, dtype, shape)
    except NotImplementedError:  # a primitive the emulation needs, not spelled for it
        raise NotImplementedError(
            f"{vocab.name}: no pooling with indices for this spec, and its argmax is not "
            f"emulated (the primitives it needs are not spelled for {vocab.name})") from None


def _taken_by(vocab: Vocabulary, plan: Plan, spec, dtype: np.dtype, layouts, dtypes,
              what: str, inputs: tuple[Var, ...], given: str = ""
              ) -> tuple[tuple[Var, ...], str, np.dtype]:
    """``inputs`` (the plan's input and any beside it, in ``given``, else ``spec.layout``) as
    a call that takes only ``layouts`` (channel orders) and ``dtypes`` (``what``: "pooling
    with indices", "unpooling") takes them: kept in ``given`` or the spec's layout where it
    takes that, else transposed to its first layout; the first input cast to the dtype it
    computes in (float16 in float32 where it takes that, else float64: exact for integers
    below 2**53, larger refused).  Returns the inputs, the layout and that dtype."""
    rank = len(spec.pool_size)
    layouts = [of_rank(order, rank) for order in layouts]
    given = given or spec.layout
    layout = next(order for order in (given, spec.layout, layouts[0]) if order in layouts)
    work = (dtype if dtype.name in dtypes else
            np.dtype(np.float32) if dtype == np.float16 and "float32" in dtypes
            else np.dtype(np.float64))
    plan.computes_in = work.name
    if layout != given:
        inputs = tuple(vocab.transpose(plan, v, permutation(given, layout))
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


def _native(vocab: Vocabulary, geom: Geometry, dtype: np.dtype, shape) -> Argmax | None:
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
    asked = convention == geom.convention and layout == spec.layout  # as it comes
    if convention != "plane" and not plan.index_pads and not asked:  # written out
        indices, convention = _as_plane(vocab, plan, indices, convention, geom, layout)
    if flip is not None:
        values = flip(plan, values)
    out = output_dtype(spec.mode, given)
    if out.name not in vocab.tensor_dtypes:
        plan.handback = out.name  # converted back after the framework (exact: integer values)
        out = dtype
    if out != work:
        values = vocab.cast(plan, values, out.name)
    plan.index_convention, plan.index_layout = convention, layout
    return Argmax(plan, values, indices, dtype, out, layout)


def _emulated(vocab: Vocabulary, geom: Geometry, dtype: np.dtype, shape) -> Argmax:
    spec = geom.spec
    plan = build_plan(vocab, POOL, geom, dtype, shape, finish=False)
    values = Var(plan.steps[-1].out) if plan.steps else Var("x")
    layout, ndim = spec.layout, len(spec.layout)
    axes = spatial_axes(ndim, layout)
    numbers = numbered_cells(vocab, plan, layout)
    run = runtime_pads(plan, geom)  # pads (and ceil overhang) read from x.shape: any size
    pads, reads = (run.full() if run is not None else geom.pads), []
    padded, padded_numbers, compared = Var("x"), numbers, values
    # the input arrives in ``given``; the pooling hands its values back in ``out`` (the
    # planner's rule); a pooling computed in another dtype (integers in float64) compares its
    # cells and values there, and pads its cells there (MXNet pads floats only)
    given = handover_dtype(vocab, np.dtype(dtype))
    out = output_dtype(spec.mode, np.dtype(dtype))
    out = out if out.name in vocab.tensor_dtypes else given
    work = np.dtype(plan.computes_in)
    if work != given:
        padded = vocab.cast(plan, padded, work.name)
    if work != out:
        compared = vocab.cast(plan, values, work.name)
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
    found = _first(vocab, plan, reads, none, lambda cell: vocab.equal(plan, cell, compared))
    if np.dtype(dtype).kind == "f":
        first_nan = _first(vocab, plan, reads, none,
                           lambda cell: vocab.not_equal(plan, cell, cell))
        found = vocab.where(plan, vocab.not_equal(plan, values, values), first_nan, found)
    indices = vocab.cast(plan, found, "int64")
    plan.emulate(f"argmax: {vocab.name} has no pooling with indices for this spec; each "
                 f"window's first cell equal to its value (its first NaN where the value is "
                 f"NaN), from the cells numbered y*W + x and padded with -1, one tap at a time")
    plan.index_convention, plan.index_layout = "plane", layout
    return Argmax(plan, values, indices, given, out, layout)


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
    described = f"shape {tuple(shape)}, " if shape is not None else ""
    layout = _unpool_layout(vocab, spec)
    plan.input_note = (f"the pooled values, {described}{spec.layout}, {dtype}; indices: each "
                       f"one's argmax, int64, in the {vocab.unpool_convention!r} convention of "
                       f"{layout}")
    y = _unpooled(vocab, plan, geom, dtype, Var("x"), Var("indices"), "", spec.layout)
    vocab.finish(plan, y, dtype, dtype, spec.layout)
    return plan


def _unpool_layout(vocab: Vocabulary, spec) -> str:
    """The layout ``vocab``'s unpooling computes in: the spec's where it takes it."""
    layouts = [of_rank(order, len(spec.pool_size)) for order in vocab.unpool_layouts]
    return spec.layout if spec.layout in layouts else layouts[0]


def _unpooled(vocab: Vocabulary, plan: Plan, geom, dtype: np.dtype, values: Var, indices: Var,
              source: str, given: str) -> Var:
    """The steps unpooling ``values`` (of ``dtype``, in the layout ``given``) at ``indices``
    (shaped as them): ``source`` "plane", the plane indices converted in the framework's own
    ops to the convention its unpooling takes; "" (an unpooling's own plan), already in it
    (``plan.index_convention``).  Returns the unpooled array, in the spec's layout."""
    spec = geom.spec
    (v, index), layout, work = _taken_by(vocab, plan, spec, dtype, vocab.unpool_layouts,
                                         vocab.unpool_dtypes, "unpooling", (values, indices),
                                         given)
    if work.name not in vocab.unpool_dtypes:
        raise NotImplementedError(f"{vocab.name}: its unpooling has no {dtype.name} kernel, "
                                  f"and a cast to a narrower dtype would round the values")
    if source:
        index = from_plane(vocab, plan, index, vocab.unpool_convention, layout, spec.layout,
                           geom.output_size)
    else:
        plan.index_convention, plan.index_layout = vocab.unpool_convention, layout
    y = vocab.native_unpool(plan, geom, v, index, layout)
    if y is None:
        raise NotImplementedError(f"{vocab.name}: no unpooling op, nor a scatter it is "
                                  f"spelled with, for this spec")
    if work != dtype:
        y = vocab.cast(plan, y, dtype.name)
    if layout != spec.layout:
        y = vocab.transpose(plan, y, permutation(layout, spec.layout))
    return y


def from_plane(vocab: Vocabulary, plan: Plan, plane: Var, convention: str, layout: str,
               given: str, sizes) -> Var:
    """Plane indices (``y*W + x``, int64, read in ``layout``) as ``convention``'s, with the
    framework's own ops, for planes of ``sizes`` (ints or ``Expr``s): ``"tensor"`` of a
    channels-first layout ``(n*C + c)*cells + p``; of a channels-last one, and ``"tf_batch"``,
    ``(n*cells + p)*C + c``; ``"tf"`` ``p*C + c``.  N and C are read from the plan's input
    ``x`` (in ``given``, the requested layout) when it runs; an index below 0 (no cell) stays
    as it is.  The inverse of ``_as_plane``; numpy's is ``indices.convert_indices``."""
    if convention == "plane":
        return plane
    n, c = Expr.dim("x", 0), Expr.dim("x", given.index("C"))
    cells = cells_of(list(sizes))
    if vocab.index_dtype != "int64":  # its own call's: the offsets are int64
        plane = vocab.cast(plan, plane, "int64")

    def numbered(count, letters: str) -> Var:  # 0..count-1 along the axes ``letters``, int64
        shape = [n if a == "N" and "N" in letters else c if a == "C" and "C" in letters else 1
                 for a in layout]
        return vocab.cast(plan, vocab.reshape(plan, vocab.arange(plan, count), shape), "int64")

    if convention == "tensor" and layout.index("C") == 1:
        converted = vocab.add(plan, plane, vocab.scale(plan, numbered(n * c, "NC"), cells))
    else:
        converted = vocab.add(plan, vocab.scale(plan, plane, c), numbered(c, "C"))
        if convention != "tf":
            converted = vocab.add(plan, converted, vocab.scale(plan, numbered(n, "N"), cells * c))
    plan.adapt(f"the plane's indices (y*W + x) converted to the {convention!r} convention")
    return vocab.where(plan, vocab.at_least(plan, plane, 0), converted, plane)


def build_pool_unpool_plan(vocab: Vocabulary, geom, dtype: np.dtype,
                           shape: tuple[int, ...] | None = None) -> Plan:
    """The calls ``vocab``'s framework makes for a max pooling with indices followed by the
    unpooling at them (``ops.POOL_UNPOOL``: SegNet's encoder and decoder), on an input of
    ``dtype``: the result the pair (unpooled, plane indices), each index converted in the
    framework's own ops, from its argmax's convention to the plane's and from the plane's to
    the one its unpooling takes; the unpooled sizes read from the input's shape when the code
    runs (``geom.unpooled_sizes``), so it holds at every size.

    Raises:
        PoolingError: the framework's argmax comes in a convention not converted in its code
            (ONNX Runtime's on an explicitly padded input), or it has no unpooling for the
            dtype.
    """
    spec = geom.spec
    vocab = vocab.at_rank(len(geom.axes))
    try:
        argmax = argmax_steps(vocab, geom, dtype, shape)
        plan = argmax.plan
        if plan.index_convention != "plane" or plan.index_pads:
            raise NotImplementedError(
                f"{vocab.name}: its argmax here numbers the cells of an input it pads first; "
                f"converted after the call, not in its code")
        unpool = UnpoolGeometry(spec, geom.unpooled_sizes(), write_once=True)
        y = _unpooled(vocab, plan, unpool, argmax.out_dtype, argmax.values, argmax.indices,
                      "plane", argmax.layout)
    except NotImplementedError as exc:
        raise PoolingError(f"{exc}") from None
    indices = argmax.indices
    if argmax.layout != spec.layout:
        indices = vocab.transpose(plan, indices, permutation(argmax.layout, spec.layout))
    plan.index_convention, plan.index_layout = "plane", spec.layout
    vocab.finish(plan, y, argmax.dtype, argmax.out_dtype, spec.layout, second=indices)
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


def build_pair_plan(vocab: Vocabulary, op: Operation, geom, dtype: np.dtype,
                    shape: tuple[int, ...] | None = None) -> Plan:
    """The plan of an operation of two outputs (``Operation.outputs == 2``): the argmax's
    (``ops.INDICES``) or the argmax's with the unpooling at it (``ops.POOL_UNPOOL``)."""
    build = {INDICES: build_indices_plan, POOL_UNPOOL: build_pool_unpool_plan}[op]
    return build(vocab, geom, dtype, shape)
