"""How TensorFlow and Keras users spell pooling: ``tf.nn`` (TF2's and TF1's names,
``tf.nn.pool``), Keras layers (``tf.keras``, Keras 3's ``keras.layers``, ``tf_keras``), and a
``tf.pad`` before a max pool (the d2l chapter's tab), over 1, 2 or 3 spatial axes
(``MaxPooling1D``, ``tf.nn.max_pool3d``, ``tf.nn.pool`` with a 3-element window); see
``pooling_xfw.dialect``.

Channels last (NWC, NHWC, NDHWC) unless ``data_format`` says otherwise; a layer's stride
defaults to its window, ``tf.nn.pool``'s to 1; SAME averages exclude padding; Keras' global
layers are reductions that drop the spatial axes unless ``keepdims=True``.
"""
from __future__ import annotations

from pooling_xfw.dialect import (NO, Recipe, adaptive_or_global, is_adaptive_or_global, pair,
                                 spatial_rank)
from pooling_xfw.errors import PoolingError
from pooling_xfw.layout import (LAYOUTS, LAYOUTS_BY_RANK, check_layout, of_rank, spatial_axes,
                                spatial_list)
from pooling_xfw.ops import GLOBAL
from pooling_xfw.plan import Plan, Var

IMPORTS = ("import tensorflow as tf",)

_NN = ("input ksize strides padding data_format name", (NO, NO, NO, NO, None, None))
SIGNATURES = {
    # tf.nn's per-rank names: data_format None is channels last (NWC, NHWC, NDHWC)
    **{f"tf.nn.{mode}_pool{n}d": _NN for mode in ("max", "avg") for n in (1, 2, 3)},
    # TF2's N-D names (the input's rank says which pooling: the ksize of N+2 ints tells it
    # here, else 2-D); data_format None is channels last
    "tf.nn.max_pool": _NN,
    "tf.nn.avg_pool": _NN,
    # TF1's: the input is `value` (or `input=`)
    "tf.compat.v1.nn.max_pool": ("value ksize strides padding data_format name input",
                                 (NO, NO, NO, NO, "NHWC", None, None)),
    "tf.compat.v1.nn.avg_pool": ("value ksize strides padding data_format name input",
                                 (NO, NO, NO, NO, "NHWC", None, None)),
    # 2-D NHWC only, SAME or VALID; returns (values, argmax): (y*W + x)*C + c, plus
    # n*H*W*C with include_batch_in_index=True
    "tf.nn.max_pool_with_argmax": ("input ksize strides padding data_format output_dtype "
                                   "include_batch_in_index name",
                                   (NO, NO, NO, NO, "NHWC", None, False, None)),
    # N-D: the window_shape's length is the number of spatial axes
    "tf.nn.pool": ("input window_shape pooling_type strides padding data_format dilations name",
                   (NO, NO, NO, None, "VALID", None, None, None)),
    "tf.keras.layers.MaxPool1D": ("pool_size strides padding data_format name",
                                  (2, None, "valid", None, None)),
    "tf.keras.layers.MaxPool2D": ("pool_size strides padding data_format name",
                                  ((2, 2), None, "valid", None, None)),
    "tf.keras.layers.MaxPool3D": ("pool_size strides padding data_format name",
                                  ((2, 2, 2), None, "valid", None, None)),
    **{f"tf.keras.layers.AveragePooling{n}D": ("pool_size strides padding data_format name",
                                               (NO, None, "valid", None, None))
       for n in (1, 2, 3)},
    # Keras' global layers drop the spatial axes unless keepdims=True (tf.reduce_mean / max)
    **{f"tf.keras.layers.Global{mode}Pooling{n}D": ("data_format keepdims name",
                                                     (None, False, None))
       for mode in ("Average", "Max") for n in (1, 2, 3)},
    # Keras 3 (keras.layers; tf.keras is Keras 3 from TensorFlow 2.16)
    **{f"tf.keras.layers.Adaptive{mode}Pooling{n}D": ("output_size data_format name",
                                                       (NO, None, None))
       for mode in ("Average", "Max") for n in (1, 2, 3)},
}

_KERAS = ("tensorflow.keras.layers", "keras.layers", "tf_keras.layers", "keras.src.layers",
          "tensorflow.compat.v1.keras.layers")
_KERAS_NAMES = {alias.format(n): key.format(n) for n in (1, 2, 3) for alias, key in (
    ("MaxPool{}D", "MaxPool{}D"), ("MaxPooling{}D", "MaxPool{}D"),
    ("AveragePooling{}D", "AveragePooling{}D"), ("AvgPool{}D", "AveragePooling{}D"),
    ("GlobalAveragePooling{}D", "GlobalAveragePooling{}D"),
    ("GlobalAvgPool{}D", "GlobalAveragePooling{}D"),
    ("GlobalMaxPooling{}D", "GlobalMaxPooling{}D"), ("GlobalMaxPool{}D", "GlobalMaxPooling{}D"))}

SPELLINGS = {
    **{f"tensorflow.nn.{name}": f"tf.nn.{name}" for name in (
        "pool", "max_pool", "avg_pool", "max_pool_with_argmax",
        *(f"{mode}_pool{n}d" for mode in ("max", "avg") for n in (1, 2, 3)))},
    # TF1's: all take `value` (or input=)
    **{f"tensorflow.compat.v1.nn.{name}": "tf.compat.v1.nn." + (
        "max_pool" if name.startswith("max") else "avg_pool")
       for name in ("max_pool", "avg_pool", "max_pool2d", "avg_pool2d")},
    **{f"{module}.{name}": f"tf.keras.layers.{key}" for module in _KERAS
       for name, key in _KERAS_NAMES.items()},
    **{f"{module}.Adaptive{mode}Pooling{n}D": f"tf.keras.layers.Adaptive{mode}Pooling{n}D"
       for module in ("tensorflow.keras.layers", "keras.layers", "keras.src.layers")
       for mode in ("Average", "Max") for n in (1, 2, 3)},  # Keras 3 only
}

OTHER_POOLING = (
    *(f"tensorflow.nn.{n}" for n in ("fractional_max_pool", "fractional_avg_pool")),
)
NOT_A_FUNCTION: dict[str, str] = {}

DEFAULT_IMPORTS = {"tf": "tensorflow", "keras": "keras", "layers": "tensorflow.keras.layers",
                   "tf_keras": "tf_keras", "pad": "tensorflow.pad"}

NAN_POLICY = "ignores NaN"
#: the chapter's explicit pad before a max pool: ``tf.pad(X, paddings, constant_values=c)``
PAD_FUNCTION = ("tensorflow.pad", "tf.pad")
PAD_PARAMETERS = ("tensor", "paddings", "mode", "constant_values", "name")
CONSTANTS = ("tf.constant", "constant")


def argmax_convention(native, args) -> str:
    """``max_pool_with_argmax`` returns its argmax too, numbered ``(y*W + x)*C + c`` ("tf"),
    plus ``n*H*W*C`` with ``include_batch_in_index=True`` ("tf_batch"); "" for the others."""
    if native.function != "tf.nn.max_pool_with_argmax":
        return ""
    return "tf_batch" if args.get("include_batch_in_index") else "tf"


def nan_policy(native) -> str:
    """Keras' global layers are reductions: ``tf.reduce_max`` propagates NaN."""
    return "propagates NaN" if "Global" in native.function else NAN_POLICY


def tie_policy(native) -> str:
    """Keras' global layers are ``tf.reduce_max``, which splits a tied extreme's gradient
    evenly among the tied cells; 3-D max pooling (``MaxPool3DGrad``) gives every tied cell the
    window's whole gradient (measured: an all-equal 2x2x2 window gets 1 in all 8 cells); the
    1-D and 2-D pooling ops send it to the first."""
    if "Global" in native.function:
        return "split"
    return "all" if native.op.has_window and len(native.spec["layout"]) == 5 else "first"


_FORMATS = {"channels_first": "NCHW", "channels_last": "NHWC", None: "NHWC"}


def _layout(data_format, spatial: int) -> str:
    """The layout a ``data_format`` names at ``spatial`` spatial axes: Keras'
    ``channels_first`` / ``channels_last`` (None: last), or tf.nn's ``"NCW"``, ``"NHWC"``,
    ``"NCDHW"``..., whose letters must be of that rank."""
    if data_format in _FORMATS:
        return of_rank(_FORMATS[data_format], spatial)
    layout = data_format
    if not isinstance(layout, str) or len(layout) != spatial + 2:
        raise PoolingError(f"call: got data_format={data_format!r} for {spatial}-D pooling; "
                           f"allowed: {' or '.join(map(repr, LAYOUTS_BY_RANK[spatial]))}")
    return check_layout(layout, spatial)


def _spatial_rank(native, args) -> int:
    """How many axes a TensorFlow call pools: its name's (``max_pool3d``, ``MaxPooling1D``),
    ``tf.nn.pool``'s window_shape, a data_format of that rank, or the N+2 ints of an N-D
    name's ksize / strides; 2 when nothing says."""
    f = native.function
    named = spatial_rank(f)
    if f.rsplit(".", 1)[1] not in ("max_pool", "avg_pool", "pool"):
        return named
    data_format = args.get("data_format")
    if isinstance(data_format, str) and data_format.upper() in LAYOUTS:
        return len(data_format) - 2
    if f == "tf.nn.pool":
        window = args["window_shape"]
        return len(window) if isinstance(window, (list, tuple)) else 2
    for name in ("ksize", "strides"):
        value = args.get(name)
        if isinstance(value, (list, tuple)) and len(value) in (3, 5):
            return len(value) - 2
    return 2


def _per_axis(value, layout: str):
    """TensorFlow's ksize / strides: an int, [k], one per spatial axis, or one per axis of
    the input in ``layout``'s order (1 on N and C)."""
    spatial = len(layout) - 2
    if not isinstance(value, (list, tuple)):
        return pair(value)
    value = pair(tuple(value))
    if len(value) == 1:
        return value[0]
    if len(value) == spatial:
        return value
    if len(value) == spatial + 2:
        return tuple(value[i] for i in spatial_axes(len(layout), layout))
    raise PoolingError(f"call: got {list(value)}; allowed: an int, [k], {spatial} ints or "
                       f"{spatial + 2} (one per axis of a {layout} input)")


def to_spec(native, args) -> None:
    """A TensorFlow or Keras call into the neutral spec."""
    f = native.function
    if is_adaptive_or_global(f):
        _adaptive_or_global(native, args)
        return
    layout = _layout(args.get("data_format"), _spatial_rank(native, args))
    if f.startswith("tf.keras"):
        kernel = _per_axis(args.get("pool_size", (2,) * (len(layout) - 2)), layout)
        stride = args.get("strides")
        if stride is None:
            native.defaulted.append("stride")
        stride = _per_axis(stride, layout) if stride is not None else kernel
        padding = str(args.get("padding", "valid")).lower()
        mode = "max" if "Max" in f else "avg"
        dilation = 1
    else:
        kernel = _per_axis(args.get("ksize", args.get("window_shape")), layout)
        stride = args.get("strides")
        if stride is None:
            native.defaulted.append("stride")
            stride = 1  # tf.nn.pool's default
        stride = _per_axis(stride, layout)
        padding = args.get("padding", "VALID")
        mode = ("max" if "max" in f else "avg" if "avg" in f
                else str(args["pooling_type"]).lower().replace("average", "avg"))
        dilation = _per_axis(args.get("dilations") or 1, layout)
    if isinstance(padding, str):
        padding = padding.lower()
    else:  # explicit [[0, 0], [before, after]..., [0, 0]] in the data format's order
        padding = tuple(tuple(pair(tuple(padding[i])))
                        for i in spatial_axes(len(layout), layout))
    native.spec = dict(pool_size=kernel, mode=mode, stride=stride, padding=padding,
                       dilation=dilation, ceil_mode=False,
                       count_include_pad=not (mode == "avg" and padding == "same"),
                       layout=layout, p=2.0)
    if mode == "avg" and padding == "same":
        native.notes.append("TensorFlow's SAME average excludes padding from the divisor")
    if padding == "same" and same_shifts_windows(kernel, stride, len(layout) - 2):
        native.notes.append(
            "its 3-D SAME leaves a negative pad unclamped: at a size n where (out-1)*stride + "
            "window - n <= -2 (a stride of the window + 2 or more) its windows start "
            "(n - (out-1)*stride - window) // 2 cells later, and its gradient takes the "
            "unshifted windows; the translation reads SAME's own cells")


def same_shifts_windows(kernel, stride, rank: int) -> bool:
    """Whether TensorFlow's own ``SAME`` shifts this spec's windows at some input size:
    ``max_pool3d`` and ``avg_pool3d`` leave a negative pad unclamped (measured; 1-D and 2-D
    clamp it), and a total of ``(out-1)*s + k - n <= -2``, which a stride of the window + 2 or
    more gives at some sizes, starts every window ``-total // 2`` cells later (9 cells, window
    1, stride 3: cells 1, 4, 7, not 0, 3, 6); their backward takes the unshifted windows.
    ``kernel`` and ``stride``: an int or one per spatial axis."""
    each = [v if isinstance(v, tuple) else (v,) * rank for v in (kernel, stride)]
    return rank == 3 and any(s >= k + 2 for k, s in zip(*each))


def _adaptive_or_global(native, args) -> None:
    layout = _layout(args.get("data_format"), spatial_rank(native.function))
    # measured: Keras raises on None in an output size
    adaptive_or_global(native, args, layout, keepdims=False, none_keeps_an_axis=False)
    if native.op is GLOBAL and "Global" in native.function:
        mode, keepdims = native.spec["mode"], native.spec["keepdims"]
        them = "it" if len(layout) == 3 else "them"
        native.notes.append(f"Keras' {native.function.rsplit('.', 1)[1]} is tf.reduce_"
                            f"{'mean' if mode == 'avg' else 'max'} over {spatial_list(layout)}"
                            + ("" if keepdims else f", which drops {them} (keepdims=False, "
                                                   f"Keras' default)"))


def _split_plan(output_size, mode: str, layout: str, shape) -> Plan:
    oh, ow = output_size
    plan = Plan("tensorflow", IMPORTS)
    h_axis = 1 if layout == "NHWC" else 2
    rows = plan.call("tf.split", Var("x"), oh, axis=h_axis)
    rows = plan.call("tf.stack", rows, axis=h_axis)
    cols = plan.call("tf.split", rows, ow, axis=h_axis + 2)
    cols = plan.call("tf.stack", cols, axis=h_axis + 2)
    plan.call("tf.reduce_mean" if mode == "avg" else "tf.reduce_max", cols,
              axis=[h_axis + 1, h_axis + 3])
    return plan


RECIPES = {
    "tfa-split": Recipe(
        "tfa-split",
        "tensorflow-addons AdaptiveAveragePooling2D / AdaptiveMaxPooling2D (<= 0.23): tf.split "
        "into equal parts, stacked and reduced",
        "tf.split needs the output size to divide the axis: any other size raises "
        "InvalidArgumentError (tensorflow/addons#2321); where it runs, its equal parts are the "
        "neutral bins", plan=_split_plan),
}
