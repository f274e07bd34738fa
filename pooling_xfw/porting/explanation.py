"""``explain(call_a, frm_a, call_b, frm_b)``: are two calls equivalent?  If not, each cause,
classified, with the smallest input that shows the difference."""
from __future__ import annotations

import dataclasses
import functools
import itertools
import math

import numpy as np

from ..adaptive import AdaptiveGeometry
from ..compare import tolerance
from ..errors import PoolingError
from ..layout import (AXIS_WORDS, channels_last, full_shape, of_rank, rank, spatial_list,
                      spatial_names)
from ..runtime.client import WorkerFailure, default_pool
from . import sizes
from .parse import NativeCall, nan_policy, parse, tie_policy
from .native import (COULD_NOT_RUN, TIES_WORDS, evaluate, neutral_kwargs, run_native,
                     run_native_grad)


CAUSES = ("layout", "keepdims", "mode", "window", "default stride", "stride", "dilation",
          "lp power", "output-shape rule", "SAME split side", "padding", "pad value", "divisor",
          "empty window", "cells read", "NaN policy", "gradient ties", "argmax")


@dataclasses.dataclass
class Cause:
    kind: str
    detail: str
    sizes: list = dataclasses.field(default_factory=list)  # input sizes where it applies


@dataclasses.dataclass
class Explanation:
    a: NativeCall
    b: NativeCall
    causes: list[Cause]
    witness: np.ndarray | None = None
    witness_outputs: dict = dataclasses.field(default_factory=dict)  # label -> array or str
    #: each framework that could not run the witness, and why (empty when all ran)
    unrun: dict = dataclasses.field(default_factory=dict)
    #: the input sizes (one per spatial axis) both calls accept that were judged, and those
    #: where they differ
    tried: list = dataclasses.field(default_factory=list)
    bites: list = dataclasses.field(default_factory=list)
    #: the backward pass (max/min calls equivalent forward): an input with ties, the upstream
    #: gradient, and each framework's gradient of it by its autograd (label -> array or str)
    grad_witness: np.ndarray | None = None
    grad_upstream: np.ndarray | None = None
    grad_outputs: dict = dataclasses.field(default_factory=dict)

    @property
    def grad_equivalent(self) -> bool:
        """False when the two calls route a tied window's gradient differently (by their tie
        policies, or as run on the witness with ties): the same outputs, another training."""
        return not any(c.kind == "gradient ties" for c in self.causes)

    @property
    def equivalent(self) -> bool:
        """True when they compute the same numbers on the same data (transposed between layouts
        when theirs differ) at every size judged, NaN inputs aside: the NaN policy is reported
        on its own.  Judged by which input cells each output window reads and, for avg, the
        divisor (``reads``), not by where padded taps fall."""
        return not self.bites

    @property
    def verdict(self) -> str:
        if not self.equivalent:
            return "NOT equivalent"
        kinds = {c.kind for c in self.causes}
        return ("equivalent" if self.grad_equivalent else
                "equivalent forward, NOT backward (ties)") + "".join(text for kind, text in (
            ("layout", ", with the input transposed between layouts"),
            ("keepdims", f", with {spatial_list(self.a.spec['layout'])} of size 1 dropped "
                         f"or kept"),
            ("NaN policy", ", except on inputs with NaN")) if kind in kinds)

    def to_text(self) -> str:
        a, b = self.a, self.b
        verdict = self.verdict
        lines = [f"A ({a.framework}): {a.function}  " + short_form(a),
                 f"B ({b.framework}): {b.function}  " + short_form(b), f"verdict: {verdict}"]
        if len(self.tried) > 1:
            lines.append(f"the outputs differ on {len(self.bites)} of the {len(self.tried)} "
                         f"input sizes ({sizes_tried(self.a.spec['layout'])}) both calls "
                         f"accept")
        lines += [f"  - {c.kind}: {c.detail}" for c in self.causes]
        if self.witness is not None:
            lines.append(f"smallest input that shows it, shape {self.witness.shape}:")
            lines.append("  " + np.array2string(self.witness, separator=", ").replace("\n", ""))
            for label, value in self.witness_outputs.items():
                shown = value if isinstance(value, str) else np.array2string(
                    np.asarray(value), separator=", ").replace("\n", "")
                lines.append(f"  {label}: {shown}")
        if self.grad_witness is not None:
            flat = " ".join(f"{v:g}" for v in self.grad_upstream.reshape(-1)[:12])
            lines.append(f"input with ties, shape {self.grad_witness.shape}, every cell "
                         f"{self.grad_witness.reshape(-1)[0]:g}; upstream gradient {flat}"
                         + (" ..." if self.grad_upstream.size > 12 else "") + ":")
            for label, value in self.grad_outputs.items():
                shown = value if isinstance(value, str) else np.array2string(
                    np.asarray(value), separator=", ").replace("\n", "")
                lines.append(f"  {label}: {shown}")
        return "\n".join(lines) + "\n"


def short_form(native: NativeCall) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in native.spec.items() if k != "p" or
                     native.spec["mode"] == "lp")


def to_layout(x: np.ndarray, src: str, dst: str) -> np.ndarray:
    """A full array in layout ``src`` transposed to ``dst`` (the same spatial axes)."""
    if src == dst:
        return x
    return np.moveaxis(x, 1, -1) if channels_last(dst) else np.moveaxis(x, -1, 1)


def _channels_first(layout: str) -> str:
    return of_rank("NCHW", rank(layout))


#: the sizes judged per spatial axis: 1..9 for 1-D and 2-D, 1..6 for 3-D (216 shapes)
SIZES_PER_RANK = {1: 9, 2: 9, 3: 6}


def sizes_tried(layout: str) -> str:
    """The sizes judged, in words: ``H, W in 1..9``."""
    return f"{', '.join(spatial_names(layout))} in 1..{SIZES_PER_RANK[rank(layout)]}"


def _per_axis(value, spatial: int) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * spatial


def _label(spatial) -> str:
    return "x".join(map(str, spatial))


def _geometry(native: NativeCall, spatial):
    kwargs = neutral_kwargs(native)
    shape = full_shape(spatial, kwargs["layout"])
    try:
        return sizes.resolve_op(native.op, kwargs, shape)
    except PoolingError:
        return None


def _causes_for(a: NativeCall, b: NativeCall, hw) -> list[Cause]:
    sa, sb = a.spec, b.spec
    n = len(hw)
    found = []
    if _per_axis(sa["stride"], n) != _per_axis(sb["stride"], n):
        defaulted = [f"{c.framework} {c.function} took its default"
                     for c in (a, b) if "stride" in c.defaulted]
        found.append(Cause("default stride" if defaulted else "stride",
                           f"{_per_axis(sa['stride'], n)} vs {_per_axis(sb['stride'], n)}"
                           + (f" ({'; '.join(defaulted)})" if defaulted else "")))
    if _per_axis(sa["dilation"], n) != _per_axis(sb["dilation"], n):
        found.append(Cause("dilation", f"{sa['dilation']} vs {sb['dilation']}"))
    if sa["mode"] == sb["mode"] == "lp" and sa["p"] != sb["p"]:
        found.append(Cause("lp power", f"p={sa['p']:g} vs p={sb['p']:g}"))
    ga, gb = _geometry(a, hw), _geometry(b, hw)
    if ga is None or gb is None:
        return found
    where = f"for {_label(hw)}"
    same_taps = all(np.array_equal(ta.tap_positions(), tb.tap_positions()) for ta, tb in
                    zip(ga.axes, gb.axes))
    if ga.pads != gb.pads:
        strings = {sa["padding"], sb["padding"]} & {"same", "same_lower"}
        mirrored = ga.pads == tuple(p[::-1] for p in gb.pads)
        if strings and mirrored:
            found.append(Cause("SAME split side", f"{where}: pads {ga.pads} vs {gb.pads}: the "
                                                  f"odd pad cell on opposite sides"))
        elif ga.out != gb.out:
            found.append(Cause("output-shape rule", f"{where}: pads {ga.pads} vs {gb.pads} give "
                                                    f"{ga.out} vs {gb.out} windows"))
        elif not same_taps:
            found.append(Cause("padding", f"{where}: pads {ga.pads} vs {gb.pads} shift the "
                                          f"windows"))
    elif ga.out != gb.out and sa["ceil_mode"] != sb["ceil_mode"]:
        found.append(Cause("output-shape rule", f"{where}: ceil_mode {sa['ceil_mode']} vs "
                                                f"{sb['ceil_mode']} give {ga.out} vs "
                                                f"{gb.out} windows"))
    if ga.out == gb.out and _empty_value(a, ga) != _empty_value(b, gb):
        found.append(Cause("empty window", f"{where}: a window of padding only gives "
                                           f"{_empty_value(a, ga)} in {a.framework}, "
                                           f"{_empty_value(b, gb)} in {b.framework}"))
    mode = sa["mode"]
    pads_used = any(p != (0, 0) for p in ga.pads + gb.pads)
    padder = next((n for n in (a, b) if n.pad_value is not None), None)
    if padder and pads_used and mode in ("max", "min") and np.isfinite(padder.pad_value):
        extreme = "max" if mode == "max" else "min"
        bound = ">=" if mode == "max" else "<="
        found.append(Cause("pad value", f"{padder.framework} pads with {padder.pad_value:g} "
                                        f"({padder.pad_function}) where {extreme} pooling "
                                        f"needs {'-' if mode == 'max' else ''}inf: equal only "
                                        f"when windows at the border have a {extreme} {bound} "
                                        f"{padder.pad_value:g}"))
    elif padder and pads_used and mode in ("avg", "lp") and padder.pad_value != 0:
        found.append(Cause("pad value", f"{padder.framework} pads with {padder.pad_value:g} "
                                        f"({padder.pad_function}), which the average sums "
                                        f"where the neutral "
                                        f"spec's padding adds 0"))
    if mode == "avg" and pads_used and sa["count_include_pad"] != sb["count_include_pad"]:
        def says(n):
            return "counts" if n.spec["count_include_pad"] else "excludes"

        found.append(Cause("divisor", f"{a.framework} {says(a)} padding in the divisor, "
                                      f"{b.framework} {says(b)} it"))
    return found


def _dropped(native: NativeCall) -> bool:
    """Whether the call's output drops its spatial axes (a global pooling with
    keepdims=False)."""
    return not native.op.keeps_axes(native.spec)


def _merge(found: list[Cause], tried: int, layout: str) -> list[Cause]:
    """One cause per kind; a size-dependent one says on how many of the sizes tried it bites."""
    merged: dict[str, Cause] = {}
    for cause in found:
        if cause.kind in merged:
            merged[cause.kind].sizes += [s for s in cause.sizes
                                         if s not in merged[cause.kind].sizes]
        else:
            merged[cause.kind] = cause
    for cause in merged.values():
        if tried > 1 and cause.sizes and len(cause.sizes) < tried:
            spared = tried - len(cause.sizes)
            cause.detail += (f"; shape-dependent: bites on {len(cause.sizes)} of the {tried} "
                             f"input sizes ({sizes_tried(layout)}) both calls accept, not on "
                             f"the other {spared}")
    return [merged[k] for k in CAUSES if k in merged]


def _witness(a: NativeCall, b: NativeCall, sizes, shape=None) -> np.ndarray | None:
    """The smallest input (by cells; of ``shape`` when given, in A's layout) on which the
    neutral evaluations of ``a`` and ``b`` differ: ramps up and down, shifted below zero, and
    a spike on each cell over a negative ramp (a cell one window reads and the other not)."""
    layout = a.spec["layout"]
    first = _channels_first(layout)
    for spatial in sorted(sizes, key=lambda s: (math.prod(s), s)):
        full = shape if shape is not None else full_shape(spatial, layout)
        plane = np.arange(math.prod(spatial), dtype=np.float32).reshape(spatial)
        spikes = []
        for cell in range(min(plane.size, 256)):
            spike = plane - 100
            spike.flat[cell] = 1000
            spikes.append(spike)
        for p in [plane, plane - 100, -plane, 100 - plane, *spikes]:
            nchw = np.broadcast_to(p, to_layout(np.zeros(full), layout, first).shape)
            xa = np.ascontiguousarray(to_layout(nchw, first, layout))
            xb = np.ascontiguousarray(to_layout(nchw, first, b.spec["layout"]))
            try:
                ya = evaluate(a, xa)
                yb = to_layout(evaluate(b, xb), b.spec["layout"], layout)
            except PoolingError:
                continue
            yb = yb.reshape(ya.shape) if yb.size == ya.size else yb  # keepdims aside
            if ya.shape != yb.shape or not np.array_equal(ya, yb, equal_nan=True):
                return xa
    return None


def _axis_reads(native: NativeCall, geom, axis: int) -> tuple:
    """Per output window along one axis: the input cells it reads, how many taps it has in the
    padding (before the ceil overhang), and how many the avg divides by."""
    g = geom.axes[axis]
    if isinstance(geom, AdaptiveGeometry):  # each bin's cells, no padding, its length
        return tuple((tuple(range(int(s), int(e))), 0, int(e - s))
                     for s, e in zip(g.starts, g.ends))
    taps = g.tap_positions()
    padded = g.padded_taps() - g.real_taps()
    divisor = g.divisor(native.spec.get("count_include_pad", True))
    return tuple((tuple(int(t) for t in row if 0 <= t < g.size), int(p), int(d))
                 for row, p, d in zip(taps, padded, divisor))


def _empty_value(native: NativeCall, geom) -> str | None:
    """What the call gives for a window of padding only at this size (None where it has none):
    the neutral value, or the framework's own (``empty_max``, ``empty_average``; measured in the
    cross-check test)."""
    if geom is None or not native.op.has_window or not geom.empty_windows().any():
        return None
    mode = native.spec["mode"]
    if mode == "max":
        return "the lowest finite value" if native.empty_max == "lowest" else "-inf"
    if mode == "min":
        return "+inf"
    if mode == "lp":
        return "0"
    return "0" if geom.spec.divides_padding() or native.empty_average == "zero" else "NaN"


def reads(native: NativeCall, hw) -> tuple:
    """What the call computes at input size ``hw``, as data: per output window, which input
    cells it reads, and what else enters its value (the avg divisor, a padding constant that is
    not the reduction's identity, a window of padding only that the framework keeps).  Two
    calls compute the same numbers on every input of that size exactly when these are equal
    (NaN aside): a cell read by one window and not by the other makes a difference on some
    input, and so does another divisor."""
    geom = _geometry(native, hw)
    spec = native.spec
    mode = spec["mode"]
    along = [_axis_reads(native, geom, axis) for axis in range(len(hw))]
    every = [w for axis in along for w in axis]
    kept = _empty_value(native, geom)
    single = all(len(c) == 1 for c, _, _ in every)
    pads_touched = any(p for _, p, _ in every)
    if mode in ("max", "min"):
        finite = native.pad_value is not None and np.isfinite(native.pad_value)
        constant = native.pad_value if finite and pads_touched else None
        divisor = None
    else:
        constant = native.pad_value if native.pad_value not in (None, 0) and pads_touched \
            else None
        divisor = functools.reduce(np.multiply.outer, [np.array([d for _, _, d in axis])
                                                       for axis in along])
    if single and constant is None and mode != "lp" and (divisor is None or (divisor == 1).all()):
        mode, divisor = "one cell", None  # the max, min or mean of one cell is that cell
    return (mode, spec.get("p") if mode == "lp" else None, kept,
            tuple(tuple(c for c, _, _ in axis) for axis in along),
            None if divisor is None else divisor.tobytes(),
            None if constant is None else (constant, tuple(tuple(p for _, p, _ in axis)
                                                           for axis in along)))


def _first_window_cells(native: NativeCall, spatial) -> int:
    """How many input cells the call's first output window reads at these sizes."""
    geom = _geometry(native, spatial)
    return math.prod(len(_axis_reads(native, geom, axis)[0][0]) for axis in range(len(spatial)))


def _first_difference(a: NativeCall, b: NativeCall, hw) -> str:
    """The first output window whose cells or divisor differ, said in words."""
    ga, gb = _geometry(a, hw), _geometry(b, hw)
    for axis, letter in enumerate(spatial_names(a.spec["layout"])):
        name = AXIS_WORDS[letter][:-1]  # row, column, plane
        ra, rb = _axis_reads(a, ga, axis), _axis_reads(b, gb, axis)
        if len(ra) != len(rb):
            return f"{len(ra)} vs {len(rb)} windows along the {name}s"
        for i, (wa, wb) in enumerate(zip(ra, rb)):
            if wa[0] != wb[0]:
                return f"window {i} reads {name}s {list(wa[0])} vs {list(wb[0])}"
            if a.spec["mode"] == "avg" and wa[2] != wb[2]:
                return f"window {i} divides by {wa[2]} vs {wb[2]} {name} taps"
    return "the windows of padding only, or the padding's value"


def explain_calls(call_a: str, frm_a: str, call_b: str, frm_b: str, shape=None,
                  verify: bool = True, pool=None) -> Explanation:
    """Are two native calls equivalent?  Each cause, classified, and the smallest input that
    shows the difference (run in both frameworks when ``verify``).  ``shape``: the input shape
    (in A's layout) to judge; by default every size from 1 to 9 on each spatial axis (1 to 6
    in 3-D: ``SIZES_PER_RANK``).  Both calls pool as many axes (1-D, 2-D or 3-D)."""
    a, b = parse(frm_a, call_a), parse(frm_b, call_b)
    ra, rb = rank(a.spec["layout"]), rank(b.spec["layout"])
    if ra != rb:
        raise PoolingError(f"call: A ({a.framework} {a.function}) pools {ra} spatial "
                           f"axis{'es' if ra > 1 else ''}, B ({b.framework} {b.function}) "
                           f"{rb}: no input both take; allowed: two calls of the same rank "
                           f"(1-D, 2-D or 3-D)")
    found = []
    if a.spec["layout"] != b.spec["layout"]:
        found.append(Cause("layout", f"{a.framework} takes {a.spec['layout']}, {b.framework} "
                                     f"{b.spec['layout']}: transpose the input between them"))
    witness_shape = None
    if shape is not None:
        dims = tuple(int(v) for v in shape)
        sizes_ = [sizes.spatial_of(dims, a.spec["layout"])]
        _check_witness_fits(shape, sizes_[0])
        witness_shape = dims
    else:
        sizes_ = list(itertools.product(range(1, SIZES_PER_RANK[ra] + 1), repeat=ra))
    valid = [hw for hw in sizes_ if _geometry(a, hw) and _geometry(b, hw)]
    if not valid:
        raise PoolingError(f"shape: got {shape}; allowed: an input both calls can pool")
    bites = [hw for hw in valid if reads(a, hw) != reads(b, hw)]
    if _dropped(a) != _dropped(b):
        keeper, dropper = (b, a) if _dropped(a) else (a, b)
        names = spatial_names(keeper.spec["layout"])
        kept = ", ".join("1" if "output_size" not in keeper.spec else
                         name if o is None else str(o)
                         for name, o in zip(names, keeper.spec.get("output_size", names)))
        found.append(Cause("keepdims", f"{keeper.framework} keeps "
                                       f"{spatial_list(keeper.spec['layout'])} ({kept}), "
                                       f"{dropper.framework} drops them: (N, C, {kept}) vs "
                                       f"(N, C)" + ("" if bites else ", the same numbers")))
    for hw in bites:
        here = []
        if a.spec["mode"] != b.spec["mode"]:
            here.append(Cause("mode", f"{a.spec['mode']} vs {b.spec['mode']}"))
        if a.op.has_window and b.op.has_window:
            if _per_axis(a.spec["pool_size"], ra) != _per_axis(b.spec["pool_size"], ra):
                here.append(Cause("window", f"{a.spec['pool_size']} vs {b.spec['pool_size']}"))
            here += _causes_for(a, b, hw)
        if not [c for c in here if c.kind != "layout"]:
            here.append(Cause("cells read", f"for {_label(hw)}: {_first_difference(a, b, hw)}"))
        for cause in here:
            cause.sizes.append(hw)
            found.append(cause)
    argmax = [n for n in (a, b) if n.op.outputs == 2]
    if len(argmax) == 1:  # said, and the values compared: the indices are the other call's
        found.append(Cause("argmax", f"{argmax[0].framework} {argmax[0].function} also returns "
                                     f"each window's argmax (plane indices); the other call "
                                     f"the values only: the values are what is compared"))
    if a.spec["mode"] in ("max", "min") and nan_policy(a) != nan_policy(b):
        found.append(Cause("NaN policy", f"{a.framework} {a.function} {nan_policy(a)}; "
                                         f"{b.framework} {b.function} {nan_policy(b)}"))
    result = Explanation(a, b, _merge(found, len(valid), a.spec["layout"]), tried=valid,
                         bites=bites)
    result.witness = _witness(a, b, bites, witness_shape)
    if result.witness is None and any(c.kind == "NaN policy" for c in result.causes):
        result.witness = _nan_witness(a, b, verify, (pool or default_pool()) if verify else None,
                                      result.unrun, valid)
    if result.witness is not None:
        _run_witness(result, verify, pool)
    if result.equivalent and a.spec["mode"] in ("max", "min"):
        _gradient_ties(result, valid, witness_shape, verify, pool)
    return result


def _gradient_ties(result: Explanation, valid: list, shape, verify: bool, pool) -> None:
    """Calls equivalent forward: do they route a tied window's gradient alike?  Said from each
    call's tie policy (``parse.tie_policy``), and shown (``verify``) by running an input whose
    cells are all equal through both frameworks' autograd with an upstream gradient of 1, 2,
    3, ... (one weight per output cell, so where each window's gradient went can be read)."""
    a, b = result.a, result.b
    ta, tb = tie_policy(a), tie_policy(b)
    said = None
    if ta != tb:
        said = Cause("gradient ties", f"{a.framework} {a.function} {TIES_WORDS[ta]} (ties={ta!r}); "
                                      f"{b.framework} {b.function} {TIES_WORDS[tb]} (ties={tb!r})"
                                      f": the same outputs, other gradients wherever a window's "
                                      f"extreme is tied (zeros after a ReLU, saturated or "
                                      f"quantized values)")
        result.causes.append(said)
    if not verify or a.op.outputs == 2 or b.op.outputs == 2:
        return  # a call returning its argmax too is not backpropagated as written here
    layout = a.spec["layout"]

    hw = next((hw for hw in sorted(valid, key=lambda s: (math.prod(s), s))
               if _first_window_cells(a, hw) > 1), None)
    if hw is None:
        return
    full = shape if shape is not None else full_shape(hw, layout)
    x = np.full(full, 5, np.float32)
    xb = np.ascontiguousarray(to_layout(x, layout, b.spec["layout"]))
    pool = pool or default_pool()
    try:
        ya, yb = run_native(a, x, pool), run_native(b, xb, pool)
        up = np.arange(1, ya.size + 1, dtype=np.float32).reshape(ya.shape)
        first = _channels_first(layout)
        nchw = (to_layout(up, layout, first) if up.ndim == len(layout)
                else up.reshape(up.shape + (1,) * rank(layout)))
        up_b = np.ascontiguousarray(to_layout(nchw, first, b.spec["layout"])).reshape(
            yb.shape)
        ga = run_native_grad(a, x, up, pool)[1]
        gb = to_layout(run_native_grad(b, xb, up_b, pool)[1], b.spec["layout"], layout)
    except (WorkerFailure, PoolingError) as exc:
        result.grad_outputs["gradient"] = f"{COULD_NOT_RUN}{exc}"
        result.unrun.setdefault("gradient", str(exc))
        return
    result.grad_witness, result.grad_upstream = x, up
    result.grad_outputs[f"A {a.framework} gradient"] = _squeeze(ga, a)
    result.grad_outputs[f"B {b.framework} gradient"] = _squeeze(gb, a)
    tol = tolerance("avg", np.dtype(np.float32))
    same = ga.shape == gb.shape and np.allclose(ga, gb, rtol=tol[0], atol=tol[1])
    if said is not None and same:
        said.detail += "; not seen on the input with ties run below"
    elif said is None and not same:
        result.causes.append(Cause("gradient ties", f"measured: {a.framework} and "
                                                    f"{b.framework} send a tied window's "
                                                    f"gradient to different cells (below)"))


#: bytes per cell of a spatial block that the witness search makes: the input and its shift
#: by -100 in float32, and each call's neutral evaluation of them
WITNESS_BYTES_PER_CELL = 16


def _check_witness_fits(shape, spatial: tuple) -> None:
    """Refuse a ``shape`` whose witness inputs (one cell per spatial position) would not fit in
    memory (before any is made): one line with the bytes they would take."""
    from ..spec import format_bytes, memory_limit

    need, limit = math.prod(spatial) * WITNESS_BYTES_PER_CELL, memory_limit()
    if need > limit:
        raise PoolingError(f"shape: got {tuple(shape)}; the {' x '.join(map(str, spatial))} "
                           f"inputs that show a "
                           f"difference would need {format_bytes(need)}, more than this "
                           f"machine's memory ({format_bytes(limit)}); allowed: a shape whose "
                           f"input fits in memory")


def _nan_witness(a: NativeCall, b: NativeCall, verify: bool, pool,
                 unrun: dict, sizes=None) -> np.ndarray | None:
    """The smallest input with a NaN on which the two frameworks' outputs differ (run in both
    when ``verify``; else the smallest whose first window has other cells beside the NaN).
    A framework that could not run goes into ``unrun`` (framework: why), and no witness."""
    first = _channels_first(a.spec["layout"])
    spatial_rank = rank(a.spec["layout"])
    sizes = sorted(sizes or [(n,) * spatial_rank for n in range(1, 10)],
                   key=lambda s: (math.prod(s), s))
    for spatial in sizes:
        for cell in (0, -1):  # the first cell, then the last
            x = np.arange(math.prod(spatial), dtype=np.float32).reshape(1, 1, *spatial)
            x.flat[cell] = np.nan
            xa = to_layout(x, first, a.spec["layout"])
            if _geometry(a, spatial) is None:
                continue
            if not verify:
                if _first_window_cells(a, spatial) > 1:
                    return xa
                continue
            outputs = []
            for native, xin in ((a, xa), (b, to_layout(x, first, b.spec["layout"]))):
                try:
                    outputs.append(values_of(run_native(native, xin, pool)))
                except (WorkerFailure, PoolingError) as exc:
                    unrun[native.framework] = str(exc)
                    return None
            ya, yb = outputs[0], to_layout(outputs[1], b.spec["layout"], a.spec["layout"])
            yb = yb.reshape(ya.shape) if yb.size == ya.size else yb  # keepdims aside
            if ya.shape != yb.shape or not np.array_equal(ya, yb, equal_nan=True):
                return xa
    return None


def _run_witness(result: Explanation, verify: bool, pool) -> None:
    a, b, x = result.a, result.b, result.witness
    xb = to_layout(x, a.spec["layout"], b.spec["layout"])
    for label, native, xin in (("A", a, x), ("B", b, xb)):
        key = f"{label} {native.framework}"
        if not verify:
            result.witness_outputs[key + " (neutral semantics)"] = _squeeze(evaluate(native, xin),
                                                                            native)
            continue
        try:
            result.witness_outputs[key] = _squeeze(values_of(run_native(native, xin, pool)),
                                                   native)
        except (WorkerFailure, PoolingError) as exc:
            result.witness_outputs[key] = f"{COULD_NOT_RUN}{exc}"
            result.unrun.setdefault(native.framework, str(exc))


def values_of(out) -> np.ndarray:
    """A call's values: its output, or the first of the pair a call returning its argmax
    gives."""
    return out[0] if isinstance(out, tuple) else out


def _squeeze(y: np.ndarray, native: NativeCall) -> np.ndarray:
    """The first plane (a 1-D call's first row; a 3-D call's first (H, W) plane), for
    display."""
    layout = native.spec["layout"]
    if y.ndim == len(layout):
        y = to_layout(y, layout, _channels_first(layout))
        return y[(0,) * (y.ndim - min(2, rank(layout)))]  # indexed: an empty output has no -1
    return y[(0,) * (y.ndim - 2)]
