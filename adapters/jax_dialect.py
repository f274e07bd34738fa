"""How JAX users spell pooling: ``lax.reduce_window`` with ``lax.max`` / ``lax.min`` and their
identity as init, or ``lax.add`` with 0 divided by the window's size (avg counting padding) or
by the same ``reduce_window`` of ``jnp.ones_like(x)`` (avg excluding it); ``flax.linen`` /
``flax.nnx`` ``max_pool``, ``avg_pool``, ``pool`` and ``flax.linen.pooling.min_pool`` (channels
last, stride 1 by default), also bound with ``functools.partial``; a ``jnp.pad`` before them.
Over 1, 2 or 3 spatial axes: a window of that many ints (Flax), or of that many plus two
(``lax.reduce_window``).  See ``pooling_xfw.dialect``.
"""
from __future__ import annotations

import ast
import math

from pooling_xfw.dialect import NO, INPUTS, Recipe, allow_pads_of_a_window, dotted, pair
from pooling_xfw.errors import PoolingError
from pooling_xfw.layout import of_rank, spatial_axes, spatial_names
from pooling_xfw.plan import Attr

# the worker's namespace (adapters/jax.py): jax_enable_x64 is set there
IMPORTS = ("import jax", "jax.config.update('jax_enable_x64', True)", "import jax.numpy as jnp",
           "from jax import lax", "import flax.linen as nn")

SIGNATURES = {
    # jax 0.12's order; window_strides None is 1 on every axis
    "lax.reduce_window": ("operand init_value computation window_dimensions window_strides "
                          "padding base_dilation window_dilation",
                          (NO, NO, NO, NO, None, "VALID", None, None)),
    # Flax pools the axes between the first and the last (NHWC); strides None is 1, not the
    # window; flax.nnx's are the same functions (nnx.max_pool is linen.max_pool)
    "nn.max_pool": ("inputs window_shape strides padding", (NO, NO, None, "VALID")),
    "nn.avg_pool": ("inputs window_shape strides padding count_include_pad",
                    (NO, NO, None, "VALID", True)),
    "nn.pooling.min_pool": ("inputs window_shape strides padding", (NO, NO, None, "VALID")),
    "nn.pool": ("inputs init reduce_fn window_shape strides padding", (NO, NO, NO, NO, NO, NO)),
}

SPELLINGS = {
    "jax.lax.reduce_window": "lax.reduce_window",
    **{f"{module}.{name}": f"nn.{name}" for module in ("flax.linen", "flax.linen.pooling",
                                                       "flax.nnx")
       for name in ("max_pool", "avg_pool", "pool")},
    # flax.linen itself has no min_pool
    **{f"{module}.min_pool": "nn.pooling.min_pool" for module in ("flax.linen.pooling",
                                                                   "flax.nnx")},
}

OTHER_POOLING = ("flax.linen.min_pool",)
NOT_A_FUNCTION = {"flax.linen.min_pool": "flax.linen exports no min_pool (AttributeError, "
                                         "flax 0.12): it is flax.linen.pooling.min_pool or "
                                         "flax.nnx.min_pool"}

# the d2l chapter's JAX tab: from flax import linen as nn; from jax import numpy as jnp
DEFAULT_IMPORTS = {"jax": "jax", "lax": "jax.lax", "jnp": "jax.numpy", "flax": "flax",
                   "nn": "flax.linen", "nnx": "flax.nnx", "np": "numpy", "math": "math",
                   "partial": "functools.partial", "functools": "functools"}

NAN_POLICY = "propagates NaN"
PAD_FUNCTION = ("jax.numpy.pad", "jnp.pad")
PAD_PARAMETERS = ("array", "pad_width", "mode")
INFINITIES = ("jnp.inf", "jax.numpy.inf", "jnp.Inf")
#: its reductions as functions (``lax.max``), by full name -> the name the worker runs
REDUCERS = {"jax.lax.max": "lax.max", "jax.lax.min": "lax.min", "jax.lax.add": "lax.add"}
FUNCTION_ARGUMENTS = {"computation": REDUCERS, "reduce_fn": REDUCERS}


def redirect(found) -> str:
    """Why a Keras layer given as JAX is read with ``--from tensorflow``."""
    if "keras" in found[2]:
        return (": Keras layers are read with --from tensorflow (Keras 3's pooling layers are "
                "one definition on every backend, JAX's included)")
    return ""


def source_call(plan, native, x):
    """A JAX call as written: the reduction as the function it names, the positional order of
    ``lax.reduce_window`` / ``flax.linen.pool``, and a division by a number or by the same
    reduce_window of ones."""
    args = dict(native.arguments)
    for name in FUNCTION_ARGUMENTS:
        if name in args:
            args[name] = Attr(REDUCERS[args[name]])
    params, defaults = SIGNATURES[native.function]
    # the required ones positionally, as written (flax.linen.pool takes no keywords there)
    positional = [args.pop(name) for name, default in zip(params.split(), defaults)
                  if default is NO and name not in INPUTS]

    def pooled(v):
        return plan.call(native.function, v, *positional, **args)

    y = pooled(x)
    if native.divisor == "ones":
        y = plan.call("op:div", y, pooled(plan.call("jnp.ones_like", x)))
    elif native.divisor is not None:
        y = plan.call("op:div", y, native.divisor)
    return y


def _padding(padding, axes: int, where: str):
    """JAX's padding: 'SAME' / 'SAME_LOWER' / 'VALID' (any case, as ``lax.padtype_to_pads``
    reads it) or one (low, high) pair per axis -> the spec's."""
    if isinstance(padding, str):
        name = padding.lower()
        if name not in ("same", "same_lower", "valid"):
            raise PoolingError(f"call: got padding={padding!r}; allowed: 'SAME', 'SAME_LOWER', "
                               f"'VALID' or {axes} (low, high) pairs")
        return name
    if not (isinstance(padding, (list, tuple)) and len(padding) == axes and all(
            isinstance(p, (list, tuple)) and len(p) == 2 for p in padding)):
        raise PoolingError(f"call: got padding={padding!r}; allowed: 'SAME', 'SAME_LOWER', "
                           f"'VALID' or {axes} (low, high) pairs, one per axis of {where}")
    return tuple(tuple(pair(tuple(p))) for p in padding)


def _mode(native, reducer: str, init) -> str:
    """The pooling ``lax.reduce_window`` / ``flax.linen.pool`` computes from its reduction and
    init value (the init enters every window, and pads the input: it must be the identity)."""
    op = reducer.rsplit(".", 1)[1]
    identity = {"max": float("-inf"), "min": float("inf"), "add": 0}[op]
    if isinstance(init, bool) or not isinstance(init, (int, float)) or init != identity:
        raise PoolingError(f"call: {native.written} with {reducer} and init {init!r}: the init "
                           f"value enters every window and fills the padding ({op}(init, "
                           f"window): a window below it reads as it), which no neutral spec "
                           f"expresses; allowed: init {identity} for {reducer}")
    if op != "add":
        return op
    return "avg" if native.divisor is not None else "sum"  # a sum: divisor=1 (_check_divisor)


def to_spec(native, args) -> None:
    """A JAX or Flax call into the neutral spec (NHWC for Flax; ``lax.reduce_window``'s layout
    from the axes it pools)."""
    f = native.function
    if f == "lax.reduce_window":
        _reduce_window(native, args)
        return
    window = args["window_shape"]
    if not (isinstance(window, tuple) and len(window) in (1, 2, 3)):
        raise PoolingError(f"call: {native.written}(window_shape={window!r}); allowed: a tuple "
                           f"of 1 to 3 ints, (kw,), (kh, kw) or (kd, kh, kw) (flax pools the "
                           f"axes between the first and the last: of NWC, NHWC or NDHWC; an int "
                           f"or a list raises TypeError in flax)")
    spatial = len(window)
    strides = args.get("strides")
    if strides is None:
        native.defaulted.append("stride")
        strides = (1,) * spatial  # flax's default is 1, not the window
    elif not (isinstance(strides, tuple) and len(strides) == spatial):
        raise PoolingError(f"call: {native.written}(strides={strides!r}); allowed: a tuple of "
                           f"{spatial} ints, one per axis of the window (a list raises "
                           f"TypeError in flax)")
    padding = _padding(args.get("padding", "VALID"), spatial, "window_shape")
    if f == "nn.pool":
        mode = _mode(native, args["reduce_fn"], args["init"])
    else:
        mode = {"nn.max_pool": "max", "nn.avg_pool": "avg"}.get(f, "min")
        if native.divisor is not None:
            raise PoolingError(f"call: {native.written}(...) / ...; allowed: the call alone")
    include = bool(args.get("count_include_pad", True)) if f == "nn.avg_pool" else (
        native.divisor != "ones")
    native.spec = dict(pool_size=pair(window), mode=mode, stride=pair(strides),
                       padding=padding, dilation=1, ceil_mode=False, count_include_pad=include,
                       layout=of_rank("NHWC", spatial), p=2.0)
    _check_divisor(native)
    allow_pads_of_a_window(native)
    _notes(native)


def _notes(native) -> None:
    spec = native.spec
    if spec.get("divisor") is not None:
        return  # a window sum over a number: no divisor of its own to say
    if spec["mode"] == "avg" and spec["count_include_pad"] and isinstance(
            spec["padding"], tuple) and any(p[0] != p[1] for p in spec["padding"]):
        native.notes.append("JAX's average counts every pad cell in the divisor: pads written "
                            "to emulate ceil mode (an extra one at the end) count that overhang, "
                            "where PyTorch's ceil_mode does not")
    if spec["mode"] == "avg" and spec["count_include_pad"] and spec["padding"] in (
            "same", "same_lower"):
        native.notes.append("this SAME average counts the padding (divides by kh * kw), "
                            "where TensorFlow's SAME average excludes it")
    if spec["mode"] == "avg" and native.function != "lax.reduce_window":
        native.notes.append("Flax's average accumulates in the input dtype (float16 overflows, "
                            "bfloat16 rounds)")


def _reduce_window(native, args) -> None:
    w = args["window_dimensions"]
    if not (isinstance(w, (list, tuple)) and len(w) in (3, 4, 5)):
        raise PoolingError(f"call: {native.written}(window_dimensions={w!r}); allowed: 3 to 5 "
                           f"ints, one per axis of the input (1-D to 3-D pooling: 1 on batch "
                           f"and channels)")
    window, ndim = pair(tuple(w)), len(w)
    strides = args.get("window_strides")
    if strides is None:
        native.defaulted.append("stride")
    strides = pair(tuple(strides)) if strides is not None else (1,) * ndim
    dilation = args.get("window_dilation")
    dilation = pair(tuple(dilation)) if dilation is not None else (1,) * ndim
    base = args.get("base_dilation")
    if base is not None and tuple(base) != (1,) * ndim:
        raise PoolingError(f"call: {native.written}(base_dilation={base!r}) inserts holes of "
                           f"the init value between the input's cells: no neutral spec; "
                           f"allowed: base_dilation None or all 1")
    if any(len(v) != ndim for v in (strides, dilation)):
        raise PoolingError(f"call: {native.written}: window_strides and window_dilation take "
                           f"{ndim} ints, one per axis; allowed: {ndim} ints")
    padding = _padding(args.get("padding", "VALID"), ndim, "the input")
    used = {i for i in range(ndim) if window[i] != 1 or strides[i] != 1 or dilation[i] != 1 or (
        isinstance(padding, tuple) and padding[i] != (0, 0))}
    spatial = ndim - 2
    last, first = of_rank("NHWC", spatial), of_rank("NCHW", spatial)
    if used <= set(range(1, ndim - 1)):
        layout = last
    elif used <= set(range(2, ndim)):
        layout = first
    else:
        raise PoolingError(f"call: {native.written} pools axes {sorted(used)} of the input; "
                           f"allowed: the spatial axes only, axes 1 to {ndim - 2} ({last}, "
                           f"JAX's) or 2 to {ndim - 1} ({first}), with window, stride and "
                           f"dilation 1 and no padding on the others")
    axes = spatial_axes(ndim, layout)
    mode = _mode(native, args["computation"], args["init_value"])
    if isinstance(padding, tuple):
        padding = tuple(padding[i] for i in axes)
    native.spec = dict(pool_size=tuple(window[i] for i in axes), mode=mode,
                       stride=tuple(strides[i] for i in axes), padding=padding,
                       dilation=tuple(dilation[i] for i in axes), ceil_mode=False,
                       count_include_pad=native.divisor != "ones", layout=layout, p=2.0)
    if not used:
        native.notes.append(f"a {' x '.join('1' * spatial)} window with stride 1: the input "
                            f"itself (read as {last}, JAX's layout)")
    elif used <= set(range(2, ndim - 1)):
        native.notes.append(f"only axes {sorted(used)} are pooled: read as {last} (JAX's "
                            f"layout); as {first} it is the same numbers" if len(used) > 1 else
                            f"only axis {min(used)} is pooled: read as "
                            f"{spatial_names(last)[min(used) - 1]} of {last} (JAX's layout); "
                            f"as {spatial_names(first)[min(used) - 2]} of {first} it is the "
                            f"same numbers")
    _check_divisor(native)
    allow_pads_of_a_window(native)
    _notes(native)


def _check_divisor(native) -> None:
    """A number dividing the window sum: the window's size is the average (padding counted);
    another non-zero int is that divisor (``divisor=d``: the sum over it; a sum not divided,
    ``divisor=1``)."""
    d = native.divisor
    if native.spec["mode"] == "sum":  # not divided: the average with divisor=1
        native.spec.update(mode="avg", divisor=1, divisor_of="sum", count_include_pad=True)
        native.notes.append("a window sum: the average with divisor=1 (padding adds 0)")
        return
    if isinstance(d, (int, float)):
        k = native.spec["pool_size"]
        k = k if isinstance(k, tuple) else (k,)
        size = math.prod(k)
        if d == size:
            return
        if d != int(d) or d == 0:
            raise PoolingError(f"call: {native.written}(...) / {d:g}: the window sum divided by "
                               f"{d:g}, no int, has no neutral spec; allowed: / {size} (avg, "
                               f"padding counted), / a non-zero int (divisor=d), or / the same "
                               f"reduce_window of jnp.ones_like(x)")
        native.spec.update(divisor=int(d), divisor_of="sum", count_include_pad=True)
        native.notes.append("a window sum" + (f" over {int(d)}" if d != 1 else "") +
                            f": the average with divisor={int(d)} (padding adds 0)")


def _number(node, reader):
    """A divisor written as a number: literals, names bound to them, ``*`` / ``+`` / ``-`` of
    them, ``np.prod`` / ``math.prod`` / ``jnp.prod`` of a literal tuple, ``float(...)``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Add, ast.Sub)):
        a, b = _number(node.left, reader), _number(node.right, reader)
        return a * b if isinstance(node.op, ast.Mult) else a + b if isinstance(
            node.op, ast.Add) else a - b
    if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)) and len(
            node.args) == 1 and not node.keywords:
        func = dotted(node.func)
        if reader.full_name(func) in ("numpy.prod", "math.prod", "jax.numpy.prod"):
            product = 1
            for v in reader.literal(node.args[0]):
                product *= v
            return product
        if func == "float":
            return float(_number(node.args[0], reader))
    value = reader.literal(node)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PoolingError(f"call: divisor {ast.unparse(node)!r}; allowed: a number")
    return value


def read_divisor(node, pool: ast.Call, function: str, reader):
    """What the window sum is divided by: a number (checked against the window's size by
    ``to_spec``), or ``"ones"``: the same pooling call of ``jnp.ones_like(x)`` (or
    ``jnp.ones`` of the input's shape), the cells each window counts."""
    if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
        found = reader.canonical(dotted(node.func))
        if found is not None:
            if found != function:
                raise PoolingError(f"call: divided by {ast.unparse(node)!r}, another pooling; "
                                   f"allowed: the same {function} of jnp.ones_like(x)")
            ones = node.args[0] if node.args else next(
                (k.value for k in node.keywords if k.arg in INPUTS), None)
            head = dotted(ones.func) if isinstance(ones, ast.Call) and isinstance(
                ones.func, (ast.Name, ast.Attribute)) else ""
            if reader.full_name(head) not in ("jax.numpy.ones_like", "jax.numpy.ones"):
                raise PoolingError(f"call: divided by {ast.unparse(node)!r}; allowed: the same "
                                   f"{function} of jnp.ones_like(x), the cells each window "
                                   f"counts")
            mine, theirs = reader.bind(function, pool), reader.bind(function, node)
            for side in (mine, theirs):
                for name in ("init_value", "init", *FUNCTION_ARGUMENTS):
                    side.pop(name, None)
            if mine != theirs:
                raise PoolingError(f"call: the divisor's window, strides or padding "
                                   f"({theirs}) differ from the sum's ({mine}); allowed: the "
                                   f"same ones")
            return "ones"
    return _number(node, reader)


RECIPES = {
    # Keras 3 on the JAX backend (keras/src/backend/jax/nn.py,
    # _compute_adaptive_pooling_gather_indices; the TensorFlow backend clamps): measured with
    # keras 3.15.1, jax 0.12 on CPU
    "keras-jax": Recipe(
        "keras-jax",
        "Keras 3 AdaptiveAveragePooling2D / AdaptiveMaxPooling2D on the JAX backend",
        "the bins' ends are computed in float32 (XLA:CPU divides by multiplying by 1/o: "
        "21/7 = 3.0000002, whose ceiling is 4) and the gather indices are not clamped, so the "
        "last bins read past the input: NaN (measured with keras 3.15.1, jax 0.12 on CPU: "
        "7 -> 7, 14 -> 7, 224 -> 7 give NaN in 13 of 49 outputs; 46 of the 576 pairs "
        "1 <= n, o <= 24, all with o in 7, 13, 14, 15); not run here: the jax environment holds "
        "JAX and Flax, not Keras", breaks_at=frozenset({7, 13, 14, 15})),
}
