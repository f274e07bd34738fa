"""How TensorFlow and Keras users spell pooling: ``tf.nn`` (TF2's and TF1's names,
``tf.nn.pool``), Keras layers (``tf.keras``, Keras 3's ``keras.layers``, ``tf_keras``), and a
``tf.pad`` before a max pool (the d2l chapter's tab); see ``pooling_xfw.dialect``.

NHWC unless ``data_format`` says otherwise; a layer's stride defaults to its window,
``tf.nn.pool``'s to 1; SAME averages exclude padding; Keras' global layers are reductions that
drop H and W unless ``keepdims=True``.
"""
from __future__ import annotations

from pooling_xfw.dialect import NO, Recipe, adaptive_or_global, is_adaptive_or_global, pair
from pooling_xfw.errors import PoolingError
from pooling_xfw.ops import GLOBAL
from pooling_xfw.plan import Plan, Var

IMPORTS = ("import tensorflow as tf",)

SIGNATURES = {
    "tf.nn.max_pool2d": ("input ksize strides padding data_format name",
                         (NO, NO, NO, NO, "NHWC", None)),
    "tf.nn.avg_pool2d": ("input ksize strides padding data_format name",
                         (NO, NO, NO, NO, "NHWC", None)),
    # TF2's N-D names (a 4-D input: the 2-D pooling); data_format None is NHWC
    "tf.nn.max_pool": ("input ksize strides padding data_format name",
                       (NO, NO, NO, NO, None, None)),
    "tf.nn.avg_pool": ("input ksize strides padding data_format name",
                       (NO, NO, NO, NO, None, None)),
    # TF1's: the input is `value` (or `input=`)
    "tf.compat.v1.nn.max_pool": ("value ksize strides padding data_format name input",
                                 (NO, NO, NO, NO, "NHWC", None, None)),
    "tf.compat.v1.nn.avg_pool": ("value ksize strides padding data_format name input",
                                 (NO, NO, NO, NO, "NHWC", None, None)),
    "tf.nn.pool": ("input window_shape pooling_type strides padding data_format dilations name",
                   (NO, NO, NO, None, "VALID", None, None, None)),
    "tf.keras.layers.MaxPool2D": ("pool_size strides padding data_format name",
                                  ((2, 2), None, "valid", None, None)),
    "tf.keras.layers.AveragePooling2D": ("pool_size strides padding data_format name",
                                         (NO, None, "valid", None, None)),
    # Keras' global layers drop H and W unless keepdims=True (tf.reduce_mean / reduce_max)
    "tf.keras.layers.GlobalAveragePooling2D": ("data_format keepdims name", (None, False, None)),
    "tf.keras.layers.GlobalMaxPooling2D": ("data_format keepdims name", (None, False, None)),
    # Keras 3 (keras.layers; tf.keras is Keras 3 from TensorFlow 2.16)
    "tf.keras.layers.AdaptiveAveragePooling2D": ("output_size data_format name",
                                                 (NO, None, None)),
    "tf.keras.layers.AdaptiveMaxPooling2D": ("output_size data_format name", (NO, None, None)),
}

_KERAS = ("tensorflow.keras.layers", "keras.layers", "tf_keras.layers", "keras.src.layers",
          "tensorflow.compat.v1.keras.layers")
_KERAS_NAMES = {"MaxPool2D": "MaxPool2D", "MaxPooling2D": "MaxPool2D",
                "AveragePooling2D": "AveragePooling2D", "AvgPool2D": "AveragePooling2D",
                "GlobalAveragePooling2D": "GlobalAveragePooling2D",
                "GlobalAvgPool2D": "GlobalAveragePooling2D",
                "GlobalMaxPooling2D": "GlobalMaxPooling2D", "GlobalMaxPool2D": "GlobalMaxPooling2D"}

SPELLINGS = {
    **{f"tensorflow.nn.{name}": f"tf.nn.{name}" for name in (
        "max_pool2d", "avg_pool2d", "pool", "max_pool", "avg_pool")},
    # TF1's: all take `value` (or input=)
    **{f"tensorflow.compat.v1.nn.{name}": "tf.compat.v1.nn." + (
        "max_pool" if name.startswith("max") else "avg_pool")
       for name in ("max_pool", "avg_pool", "max_pool2d", "avg_pool2d")},
    **{f"{module}.{name}": f"tf.keras.layers.{key}" for module in _KERAS
       for name, key in _KERAS_NAMES.items()},
    **{f"{module}.{name}": f"tf.keras.layers.{name}"  # Keras 3 only
       for module in ("tensorflow.keras.layers", "keras.layers", "keras.src.layers")
       for name in ("AdaptiveAveragePooling2D", "AdaptiveMaxPooling2D")},
}

OTHER_POOLING = (
    *(f"{m}.{n}" for m in ("tensorflow.keras.layers", "keras.layers", "tf_keras.layers")
      for n in ("MaxPooling1D", "MaxPooling3D", "AveragePooling1D", "AveragePooling3D")),
    *(f"tensorflow.nn.{n}" for n in ("max_pool_with_argmax", "fractional_max_pool",
                                     "max_pool3d", "avg_pool3d")),
)
NOT_A_FUNCTION: dict[str, str] = {}

DEFAULT_IMPORTS = {"tf": "tensorflow", "keras": "keras", "layers": "tensorflow.keras.layers",
                   "tf_keras": "tf_keras", "pad": "tensorflow.pad"}

NAN_POLICY = "ignores NaN"
#: the chapter's explicit pad before a max pool: ``tf.pad(X, paddings, constant_values=c)``
PAD_FUNCTION = ("tensorflow.pad", "tf.pad")
PAD_PARAMETERS = ("tensor", "paddings", "mode", "constant_values", "name")
CONSTANTS = ("tf.constant", "constant")


def nan_policy(native) -> str:
    """Keras' global layers are reductions: ``tf.reduce_max`` propagates NaN."""
    return "propagates NaN" if "Global" in native.function else NAN_POLICY


def tie_policy(native) -> str:
    """Keras' global layers are ``tf.reduce_max``, which splits a tied extreme's gradient
    evenly among the tied cells; the pooling ops send it to the first."""
    return "split" if "Global" in native.function else "first"


def _hw(value, layout: str):
    """TensorFlow's ksize / strides: an int, [k], [h, w], or the 4-D form in ``layout``."""
    if not isinstance(value, (list, tuple)):
        return pair(value)
    value = pair(tuple(value))
    if len(value) in (1, 2):
        return value[0] if len(value) == 1 else value
    if len(value) == 4:
        return value[1:3] if layout == "NHWC" else value[2:4]
    raise PoolingError(f"call: got {list(value)}; allowed: an int, [k], [h, w] or a 4-D list")


def to_spec(native, args) -> None:
    """A TensorFlow or Keras call into the neutral spec."""
    f = native.function
    if is_adaptive_or_global(f):
        _adaptive_or_global(native, args)
        return
    if f.startswith("tf.keras"):
        layout = "NCHW" if args.get("data_format") == "channels_first" else "NHWC"
        kernel = _hw(args.get("pool_size", (2, 2)), layout)
        stride = args.get("strides")
        if stride is None:
            native.defaulted.append("stride")
        stride = _hw(stride, layout) if stride is not None else kernel
        padding = str(args.get("padding", "valid")).lower()
        mode = "max" if "Max" in f else "avg"
        dilation = 1
    else:
        layout = "NCHW" if args.get("data_format") in ("NCHW", "channels_first") else "NHWC"
        kernel = _hw(args.get("ksize", args.get("window_shape")), layout)
        stride = args.get("strides")
        if stride is None:
            native.defaulted.append("stride")
            stride = 1  # tf.nn.pool's default
        stride = _hw(stride, layout)
        padding = args.get("padding", "VALID")
        mode = ("max" if "max" in f else "avg" if "avg" in f
                else str(args["pooling_type"]).lower().replace("average", "avg"))
        dilation = _hw(args.get("dilations") or 1, layout)
    if isinstance(padding, str):
        padding = padding.lower()
    else:  # explicit [[0, 0], [t, b], [l, r], [0, 0]] in the data format's order
        rows_cols = padding[1:3] if layout == "NHWC" else padding[2:4]
        padding = tuple(tuple(pair(tuple(p))) for p in rows_cols)
    native.spec = dict(pool_size=kernel, mode=mode, stride=stride, padding=padding,
                       dilation=dilation, ceil_mode=False,
                       count_include_pad=not (mode == "avg" and padding == "same"),
                       layout=layout, p=2.0)
    if mode == "avg" and padding == "same":
        native.notes.append("TensorFlow's SAME average excludes padding from the divisor")


def _adaptive_or_global(native, args) -> None:
    layout = "NCHW" if args.get("data_format") == "channels_first" else "NHWC"
    # measured: Keras raises on None in an output size
    adaptive_or_global(native, args, layout, keepdims=False, none_keeps_an_axis=False)
    if native.op is GLOBAL and "Global" in native.function:
        mode, keepdims = native.spec["mode"], native.spec["keepdims"]
        native.notes.append(f"Keras' {native.function.rsplit('.', 1)[1]} is tf.reduce_"
                            f"{'mean' if mode == 'avg' else 'max'} over H and W"
                            + ("" if keepdims else ", which drops them (keepdims=False, "
                               "Keras' default)"))


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
