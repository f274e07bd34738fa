"""Read a framework's own pooling call, as a user writes it, into the neutral spec.

The text is parsed with ``ast`` (never evaluated): arguments must be literals, or names bound
earlier in the same text to literals or ``tf.constant(literal)``.  Each framework's defaults
apply (a layer's stride is its window; ``npx.pooling`` and ``tf.nn.pool`` default to 1; Paddle
averages exclude padding; TensorFlow is NHWC).  What the neutral spec cannot hold is said, not
guessed: a ``tf.pad`` with zeros before a max pool (``pad_value``), MXNet ``full`` / Paddle
``ceil_mode`` keeping a window that starts in the padding (``keeps_padding_windows``), MXNet
dropping extra pad entries; and refused with the reason: ``divisor_override`` (Paddle's is not
even sum/d), ``return_indices``/``return_mask``, padding ops other than TensorFlow's constant
``tf.pad``.

JAX (``--from jax``): ``lax.reduce_window`` with ``lax.max`` / ``lax.min`` and their identity
as init, or ``lax.add`` with 0 divided by the window's size (avg counting padding) or by the
same ``reduce_window`` of ``jnp.ones_like(x)`` (avg excluding it); ``flax.linen`` /
``flax.nnx`` ``max_pool``, ``avg_pool``, ``pool`` and ``flax.linen.pooling.min_pool`` (NHWC,
stride 1 by default), also bound with ``functools.partial``; a ``jnp.pad`` before them, as
``tf.pad``.  ONNX Runtime is a target only (``NOT_READ``).

Adaptive and global calls (``nn.AdaptiveAvgPool2d``, ``F.adaptive_*_pool2d``, Keras'
``Global*Pooling2D`` and Keras 3's ``Adaptive*Pooling2D``, Gluon's ``Global*Pool2D``, Paddle's
``nn.Adaptive*Pool2D`` / ``F.adaptive_*``, MXNet's ``contrib.AdaptiveAvgPooling2D`` and
``global_pool=True``) are read into ``px.adaptive_pool2d`` / ``px.global_pool2d``'s keywords
(``NativeCall.op``); an adaptive pooling to 1 x 1 is read as the global pooling it is.
"""
from __future__ import annotations

import ast
import dataclasses

from ..errors import PoolingError
from ..plan import Plan, Var
from ..runtime.envs import PORTING_SOURCES, TARGETS_ONLY

_IMPORTS = {
    "pytorch": ("import torch", "from torch import nn", "import torch.nn.functional as F"),
    "tensorflow": ("import tensorflow as tf",),
    "mxnet": ("from mxnet import np as mnp, npx", "from mxnet.gluon import nn", "npx.set_np()"),
    "paddle": ("import paddle", "from paddle import nn", "import paddle.nn.functional as F"),
    # the worker's namespace (adapters/jax.py): jax_enable_x64 is set there
    "jax": ("import jax", "jax.config.update('jax_enable_x64', True)", "import jax.numpy as jnp",
            "from jax import lax", "import flax.linen as nn"),
}

# canonical function -> (parameter names in order, defaults, takes an input first)
_NO = object()  # a required parameter
_SIGNATURES = {
    "pytorch": {
        "nn.MaxPool2d": ("kernel_size stride padding dilation return_indices ceil_mode",
                         (_NO, None, 0, 1, False, False)),
        "nn.AvgPool2d": ("kernel_size stride padding ceil_mode count_include_pad divisor_override",
                         (_NO, None, 0, False, True, None)),
        "nn.LPPool2d": ("norm_type kernel_size stride ceil_mode", (_NO, _NO, None, False)),
        "F.max_pool2d": ("input kernel_size stride padding dilation ceil_mode return_indices",
                         (_NO, _NO, None, 0, 1, False, False)),
        "F.avg_pool2d": ("input kernel_size stride padding ceil_mode count_include_pad "
                         "divisor_override", (_NO, _NO, None, 0, False, True, None)),
        "F.lp_pool2d": ("input norm_type kernel_size stride ceil_mode",
                        (_NO, _NO, _NO, None, False)),
        # the aten op itself: no return_indices; stride [] (the window) by default
        "torch.max_pool2d": ("input kernel_size stride padding dilation ceil_mode",
                             (_NO, _NO, None, 0, 1, False)),
        "nn.AdaptiveAvgPool2d": ("output_size", (_NO,)),
        "nn.AdaptiveMaxPool2d": ("output_size return_indices", (_NO, False)),
        "F.adaptive_avg_pool2d": ("input output_size", (_NO, _NO)),
        "F.adaptive_max_pool2d": ("input output_size return_indices", (_NO, _NO, False)),
    },
    "tensorflow": {
        "tf.nn.max_pool2d": ("input ksize strides padding data_format name",
                             (_NO, _NO, _NO, _NO, "NHWC", None)),
        "tf.nn.avg_pool2d": ("input ksize strides padding data_format name",
                             (_NO, _NO, _NO, _NO, "NHWC", None)),
        # TF2's N-D names (a 4-D input: the 2-D pooling); data_format None is NHWC
        "tf.nn.max_pool": ("input ksize strides padding data_format name",
                           (_NO, _NO, _NO, _NO, None, None)),
        "tf.nn.avg_pool": ("input ksize strides padding data_format name",
                           (_NO, _NO, _NO, _NO, None, None)),
        # TF1's: the input is `value` (or `input=`)
        "tf.compat.v1.nn.max_pool": ("value ksize strides padding data_format name input",
                                     (_NO, _NO, _NO, _NO, "NHWC", None, None)),
        "tf.compat.v1.nn.avg_pool": ("value ksize strides padding data_format name input",
                                     (_NO, _NO, _NO, _NO, "NHWC", None, None)),
        "tf.nn.pool": ("input window_shape pooling_type strides padding data_format dilations name",
                       (_NO, _NO, _NO, None, "VALID", None, None, None)),
        "tf.keras.layers.MaxPool2D": ("pool_size strides padding data_format name",
                                      ((2, 2), None, "valid", None, None)),
        "tf.keras.layers.AveragePooling2D": ("pool_size strides padding data_format name",
                                             (_NO, None, "valid", None, None)),
        # Keras' global layers drop H and W unless keepdims=True (tf.reduce_mean / reduce_max)
        "tf.keras.layers.GlobalAveragePooling2D": ("data_format keepdims name",
                                                   (None, False, None)),
        "tf.keras.layers.GlobalMaxPooling2D": ("data_format keepdims name", (None, False, None)),
        # Keras 3 (keras.layers; tf.keras is Keras 3 from TensorFlow 2.16)
        "tf.keras.layers.AdaptiveAveragePooling2D": ("output_size data_format name",
                                                     (_NO, None, None)),
        "tf.keras.layers.AdaptiveMaxPooling2D": ("output_size data_format name",
                                                 (_NO, None, None)),
    },
    "mxnet": {
        "nn.MaxPool2D": ("pool_size strides padding layout ceil_mode",
                         ((2, 2), None, 0, "NCHW", False)),
        "nn.AvgPool2D": ("pool_size strides padding ceil_mode layout count_include_pad",
                         ((2, 2), None, 0, False, "NCHW", True)),
        "nn.GlobalAvgPool2D": ("layout", ("NCHW",)),
        "nn.GlobalMaxPool2D": ("layout", ("NCHW",)),
        "mx.nd.contrib.AdaptiveAvgPooling2D": ("data output_size name", (_NO, 1, None)),
        # MXNet 1.9.1's positional order; kernel is needed unless global_pool=True
        "npx.pooling": ("data kernel pool_type global_pool cudnn_off pooling_convention stride "
                        "pad p_value count_include_pad layout",
                        (_NO, None, "max", False, False, "valid", None, None, None, None, None)),
        # the same registered operator through the legacy NDArray API (GluonCV's F.Pooling in
        # hybrid_forward is mx.nd.Pooling or mx.sym.Pooling); the source plan runs mx.nd's
        "mx.nd.Pooling": ("data kernel pool_type global_pool cudnn_off pooling_convention "
                          "stride pad p_value count_include_pad layout name",
                          (_NO, None, "max", False, False, "valid", None, None, None, None,
                           None, None)),
        "mx.sym.Pooling": ("data kernel pool_type global_pool cudnn_off pooling_convention "
                           "stride pad p_value count_include_pad layout name",
                           (_NO, None, "max", False, False, "valid", None, None, None, None,
                            None, None)),
    },
    "paddle": {
        "nn.MaxPool2D": ("kernel_size stride padding return_mask ceil_mode data_format name",
                         (_NO, None, 0, False, False, "NCHW", None)),
        "nn.AvgPool2D": ("kernel_size stride padding ceil_mode exclusive divisor_override "
                         "data_format name", (_NO, None, 0, False, True, None, "NCHW", None)),
        "F.max_pool2d": ("x kernel_size stride padding return_mask ceil_mode data_format name",
                         (_NO, _NO, None, 0, False, False, "NCHW", None)),
        "F.avg_pool2d": ("x kernel_size stride padding ceil_mode exclusive divisor_override "
                         "data_format name", (_NO, _NO, None, 0, False, True, None, "NCHW", None)),
        "F.lp_pool2d": ("x norm_type kernel_size stride padding ceil_mode data_format name",
                        (_NO, _NO, _NO, None, 0, False, "NCHW", None)),
        "nn.LPPool2D": ("norm_type kernel_size stride padding ceil_mode data_format name",
                        (_NO, _NO, None, 0, False, "NCHW", None)),
        "nn.AdaptiveAvgPool2D": ("output_size data_format name", (_NO, "NCHW", None)),
        "nn.AdaptiveMaxPool2D": ("output_size return_mask name", (_NO, False, None)),
        "F.adaptive_avg_pool2d": ("x output_size data_format name", (_NO, _NO, "NCHW", None)),
        "F.adaptive_max_pool2d": ("x output_size return_mask name", (_NO, _NO, False, None)),
    },
    "jax": {
        # jax 0.12's order; window_strides None is 1 on every axis
        "lax.reduce_window": ("operand init_value computation window_dimensions window_strides "
                              "padding base_dilation window_dilation",
                              (_NO, _NO, _NO, _NO, None, "VALID", None, None)),
        # Flax pools the axes between the first and the last (NHWC); strides None is 1, not
        # the window; flax.nnx's are the same functions (nnx.max_pool is linen.max_pool)
        "nn.max_pool": ("inputs window_shape strides padding", (_NO, _NO, None, "VALID")),
        "nn.avg_pool": ("inputs window_shape strides padding count_include_pad",
                        (_NO, _NO, None, "VALID", True)),
        "nn.pooling.min_pool": ("inputs window_shape strides padding", (_NO, _NO, None, "VALID")),
        "nn.pool": ("inputs init reduce_fn window_shape strides padding",
                    (_NO, _NO, _NO, _NO, _NO, _NO)),
    },
}

#: the frameworks whose calls are read, and the backends that are targets only (with why)
READABLE, NOT_READ = PORTING_SOURCES, TARGETS_ONLY
assert set(READABLE) == set(_SIGNATURES), "a reader per porting source, one source per reader"


def _spellings() -> dict:
    """Every spelling understood, as the full name the call's imports reach (``tf.nn.max_pool``
    with ``import tensorflow as tf`` is ``tensorflow.nn.max_pool``) -> (framework, signature)."""
    table = {}
    for module in ("torch.nn", "torch.nn.modules.pooling"):
        for name in ("MaxPool2d", "AvgPool2d", "LPPool2d"):
            table[f"{module}.{name}"] = ("pytorch", f"nn.{name}")
    for module in ("torch.nn", "torch.nn.modules.pooling"):
        for name in ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
            table[f"{module}.{name}"] = ("pytorch", f"nn.{name}")
    for name in ("max_pool2d", "avg_pool2d", "lp_pool2d", "adaptive_avg_pool2d",
                 "adaptive_max_pool2d"):
        table[f"torch.nn.functional.{name}"] = ("pytorch", f"F.{name}")
    table["torch.max_pool2d"] = ("pytorch", "torch.max_pool2d")
    for name in ("max_pool2d", "avg_pool2d", "pool", "max_pool", "avg_pool"):
        table[f"tensorflow.nn.{name}"] = ("tensorflow", f"tf.nn.{name}")
    for name in ("max_pool", "avg_pool", "max_pool2d", "avg_pool2d"):  # all take `value`/input
        key = "max_pool" if name.startswith("max") else "avg_pool"
        table[f"tensorflow.compat.v1.nn.{name}"] = ("tensorflow", f"tf.compat.v1.nn.{key}")
    for module in ("tensorflow.keras.layers", "keras.layers", "tf_keras.layers",
                   "keras.src.layers", "tensorflow.compat.v1.keras.layers"):
        for name, key in (("MaxPool2D", "MaxPool2D"), ("MaxPooling2D", "MaxPool2D"),
                          ("AveragePooling2D", "AveragePooling2D"),
                          ("AvgPool2D", "AveragePooling2D"),
                          ("GlobalAveragePooling2D", "GlobalAveragePooling2D"),
                          ("GlobalAvgPool2D", "GlobalAveragePooling2D"),
                          ("GlobalMaxPooling2D", "GlobalMaxPooling2D"),
                          ("GlobalMaxPool2D", "GlobalMaxPooling2D")):
            table[f"{module}.{name}"] = ("tensorflow", f"tf.keras.layers.{key}")
    for module in ("tensorflow.keras.layers", "keras.layers", "keras.src.layers"):
        for name in ("AdaptiveAveragePooling2D", "AdaptiveMaxPooling2D"):  # Keras 3 only
            table[f"{module}.{name}"] = ("tensorflow", f"tf.keras.layers.{name}")
    for name in ("MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D"):
        table[f"mxnet.gluon.nn.{name}"] = ("mxnet", f"nn.{name}")
    for module in ("nd", "ndarray", "sym", "symbol"):
        table[f"mxnet.{module}.contrib.AdaptiveAvgPooling2D"] = (
            "mxnet", "mx.nd.contrib.AdaptiveAvgPooling2D")
    table["mxnet.npx.pooling"] = ("mxnet", "npx.pooling")
    for module in ("mxnet.nd", "mxnet.ndarray"):
        table[f"{module}.Pooling"] = ("mxnet", "mx.nd.Pooling")
    for module in ("mxnet.sym", "mxnet.symbol"):
        table[f"{module}.Pooling"] = ("mxnet", "mx.sym.Pooling")
    for name in ("MaxPool2D", "AvgPool2D", "LPPool2D", "AdaptiveAvgPool2D", "AdaptiveMaxPool2D"):
        table[f"paddle.nn.{name}"] = ("paddle", f"nn.{name}")
    for name in ("max_pool2d", "avg_pool2d", "lp_pool2d", "adaptive_avg_pool2d",
                 "adaptive_max_pool2d"):
        table[f"paddle.nn.functional.{name}"] = ("paddle", f"F.{name}")
    table["jax.lax.reduce_window"] = ("jax", "lax.reduce_window")
    for module in ("flax.linen", "flax.linen.pooling", "flax.nnx"):
        for name in ("max_pool", "avg_pool", "pool"):
            table[f"{module}.{name}"] = ("jax", f"nn.{name}")
    for module in ("flax.linen.pooling", "flax.nnx"):  # flax.linen itself has no min_pool
        table[f"{module}.min_pool"] = ("jax", "nn.pooling.min_pool")
    return table


SPELLINGS = _spellings()

#: pooling calls of the frameworks read that are found but not read into a pool2d spec (scan
#: reports them as not understood, with this reason)
OTHER_POOLING = {
    **{f"torch.nn.{n}": "pytorch" for n in (
        "MaxUnpool2d", "FractionalMaxPool2d", "MaxPool1d", "MaxPool3d", "AvgPool1d",
        "AvgPool3d")},
    **{f"torch.nn.functional.{n}": "pytorch" for n in ("max_unpool2d", "fractional_max_pool2d")},
    **{f"{m}.{n}": "tensorflow" for m in ("tensorflow.keras.layers", "keras.layers",
                                          "tf_keras.layers") for n in (
        "MaxPooling1D", "MaxPooling3D", "AveragePooling1D", "AveragePooling3D")},
    **{f"tensorflow.nn.{n}": "tensorflow" for n in ("max_pool_with_argmax", "fractional_max_pool",
                                                     "max_pool3d", "avg_pool3d")},
    **{f"mxnet.gluon.nn.{n}": "mxnet" for n in ("MaxPool1D", "MaxPool3D", "AvgPool1D",
                                                 "AvgPool3D")},
    **{f"paddle.nn.{n}": "paddle" for n in ("MaxUnPool2D",)},
    **{f"paddle.nn.functional.{n}": "paddle" for n in ("max_unpool2d",)},
    "flax.linen.min_pool": "jax",
}

#: why a call found is not read, by its full name (the others: by its name, ``scan``)
NOT_A_FUNCTION = {"flax.linen.min_pool": "flax.linen exports no min_pool (AttributeError, "
                                         "flax 0.12): it is flax.linen.pooling.min_pool or "
                                         "flax.nnx.min_pool"}

#: what a call's text means by a prefix when it imports nothing (the names people write)
DEFAULT_IMPORTS = {
    "pytorch": {"torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional"},
    "tensorflow": {"tf": "tensorflow", "keras": "keras", "layers": "tensorflow.keras.layers",
                   "tf_keras": "tf_keras"},
    "mxnet": {"mx": "mxnet", "mxnet": "mxnet", "nn": "mxnet.gluon.nn", "gluon": "mxnet.gluon",
              "npx": "mxnet.npx", "nd": "mxnet.nd", "sym": "mxnet.sym", "F": "mxnet.nd"},
    "paddle": {"paddle": "paddle", "nn": "paddle.nn", "F": "paddle.nn.functional"},
    # the d2l chapter's JAX tab: from flax import linen as nn; from jax import numpy as jnp
    "jax": {"jax": "jax", "lax": "jax.lax", "jnp": "jax.numpy", "flax": "flax",
            "nn": "flax.linen", "nnx": "flax.nnx", "np": "numpy", "math": "math",
            "partial": "functools.partial", "functools": "functools"},
}


def understood(framework: str) -> str:
    """The spellings understood for ``framework``, as one phrase (refusals list them)."""
    by_module: dict[str, list[str]] = {}
    for full, (fw, _) in SPELLINGS.items():
        if fw == framework and ".modules." not in full and ".src." not in full:
            module, _, name = full.rpartition(".")
            by_module.setdefault(module, []).append(name)
    return "; ".join(f"{m}.{'/'.join(names)}" for m, names in by_module.items()) + (
        " (through the imports the text or file makes)")


def read_imports(tree: ast.AST) -> tuple[dict, list]:
    """The names a module's import lines bind -> the full module or object name, and the
    modules star-imported (``from torch.nn import *``)."""
    names, stars = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:  # import torch.nn binds torch
                    head = alias.name.split(".")[0]
                    names[head] = head
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name == "*":
                    stars.append(node.module)
                else:
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names, stars


def full_name(dotted: str, imports: dict, stars=()) -> str | None:
    """``dotted`` as its imports reach it (``nn.MaxPool2d`` with ``from torch import nn``:
    ``torch.nn.MaxPool2d``); None when its first name is not imported."""
    head, _, rest = dotted.partition(".")
    if head in imports:
        return imports[head] + (f".{rest}" if rest else "")
    for module in stars:
        if not rest and f"{module}.{head}" in SPELLINGS | OTHER_POOLING:
            return f"{module}.{head}"
    return None


def identify(dotted: str, imports: dict, stars=(), framework: str | None = None):
    """(framework, signature key, full name) of a pooling call written ``dotted``; None when it
    is no pooling call understood.  ``framework`` given: a name no import binds is read with
    that framework's usual names (``nn``, ``F``, ``tf``, ``layers``, ``npx``, a bare class)."""
    full = full_name(dotted, imports, stars)
    if full is None and framework is not None:
        full = full_name(dotted, DEFAULT_IMPORTS[framework])
        if full is None and "." not in dotted:  # a bare name, imported as is
            full = next((k for k, (fw, _) in SPELLINGS.items()
                         if fw == framework and k.rsplit(".", 1)[1] == dotted), None)
    if full is None and dotted.startswith("F.") and dotted[2:] == "Pooling" and (
            framework in (None, "mxnet")):
        full = "mxnet.nd.Pooling"  # hybrid_forward's F: mx.nd or mx.sym, the same operator
    if full in SPELLINGS:
        return (*SPELLINGS[full], full)
    return None


NAN_POLICY = {"pytorch": "propagates NaN", "tensorflow": "ignores NaN", "mxnet": "ignores NaN",
              "paddle": "returns NaN only when it is the last element scanned",
              "jax": "propagates NaN"}


def nan_policy(native) -> str:
    """How the call's own max treats a NaN (measured: the conventions table), by operation:
    Keras' global layers are reductions (tf.reduce_max propagates NaN), Paddle's adaptive max
    ignores NaN."""
    if native.framework == "tensorflow" and "Global" in native.function:
        return "propagates NaN"
    if native.framework == "paddle" and native.op != "pool2d":
        return "ignores NaN"
    return NAN_POLICY[native.framework]


def tie_policy(native) -> str:
    """Where the call's own max/min sends the gradient of a window whose extreme is tied, as
    ``px.pool2d_grad``'s ``ties`` (measured through each framework's autograd, the call as
    written): every pooling op, adaptive and global ones included, sends it to the first extreme
    in row-major order (``"first"``); Keras' global layers are ``tf.reduce_max``, which splits it
    evenly among the tied cells (``"split"``)."""
    if native.framework == "tensorflow" and "Global" in native.function:
        return "split"
    return "first"


@dataclasses.dataclass
class NativeCall:
    """A framework's pooling call read into the neutral spec, plus what the spec cannot hold."""

    framework: str
    text: str
    function: str
    arguments: dict  # the call's own arguments, by name, as written (the input excluded)
    spec: dict  # px.pool2d keyword arguments
    defaulted: list[str] = dataclasses.field(default_factory=list)
    pad_value: float | None = None  # constant of an explicit tf.pad (None: none, or identity)
    recipe_pads: tuple | None = None  # ((top, bottom), (left, right)) of that tf.pad
    keeps_padding_windows: bool = False  # MXNet 'full' / Paddle ceil_mode keep such windows
    notes: list[str] = dataclasses.field(default_factory=list)
    written: str = ""  # the function as the text spells it (tf.compat.v1.nn.max_pool, F.Pooling)
    pad_function: str = ""  # the explicit pad before the pooling: tf.pad or jnp.pad
    #: JAX's window sum divided: by a number (the window's size) or "ones" (the same
    #: reduce_window of ones: the cells counted); None: no division
    divisor: float | str | None = None
    global_window: bool = False  # MXNet global_pool=True: the window is the input's (H, W)
    #: which pooling the spec is: "pool2d" (``px.pool2d``'s keywords), "adaptive"
    #: (``px.adaptive_pool2d``'s: output_size, mode, layout) or "global" (``px.global_pool2d``'s:
    #: mode, p, keepdims, layout)
    op: str = "pool2d"

    def source_plan(self) -> Plan:
        """The call as written, executable by that framework's worker and renderable."""
        plan = Plan(self.framework, _IMPORTS[self.framework])
        plan.input_note = f"4-D {self.spec['layout']} array"
        x = Var("x")
        if self.recipe_pads is not None:
            (top, bottom), (left, right) = self.recipe_pads
            widths = ([[0, 0], [top, bottom], [left, right], [0, 0]]
                      if self.spec["layout"] == "NHWC" else
                      [[0, 0], [0, 0], [top, bottom], [left, right]])
            x = plan.call(self.pad_function or "tf.pad", x, widths,
                          constant_values=self.pad_value)
        if self.function in ("mx.nd.Pooling", "mx.sym.Pooling",
                             "mx.nd.contrib.AdaptiveAvgPooling2D"):  # the legacy NDArray API
            legacy = plan.call(".as_nd_ndarray", x)
            function = ("mx.nd.Pooling" if self.function.endswith("Pooling")
                        else self.function)
            pooled = plan.call(function, legacy, **self.arguments)
            plan.call(".as_np_ndarray", pooled)
        elif self.framework == "jax":
            _jax_source(plan, self, x)
        elif _takes_input(self.framework, self.function):
            plan.call(self.function, x, **self.arguments)
        else:
            layer = plan.call(self.function, **self.arguments)
            plan.call("op:call", layer, x)
        return plan


def _takes_input(framework: str, function: str) -> bool:
    names = _SIGNATURES[framework][function][0].split()
    return names[0] in _INPUTS


_INPUTS = ("input", "x", "data", "value", "operand", "inputs")
#: JAX's reductions as functions (``lax.max``), by full name -> the name the worker runs
_REDUCERS = {"jax.lax.max": "lax.max", "jax.lax.min": "lax.min", "jax.lax.add": "lax.add"}


def _jax_source(plan: Plan, native: "NativeCall", x) -> None:
    """A JAX call as written: the reduction as the function it names, the positional order of
    ``lax.reduce_window`` / ``flax.linen.pool``, and a division by a number or by the same
    reduce_window of ones."""
    from ..plan import Attr

    args = dict(native.arguments)
    for name in ("computation", "reduce_fn"):
        if name in args:
            args[name] = Attr(_REDUCERS[args[name]])
    params, defaults = _SIGNATURES["jax"][native.function]
    # the required ones positionally, as written (flax.linen.pool takes no keywords there)
    positional = [args.pop(name) for name, default in zip(params.split(), defaults)
                  if default is _NO and name not in _INPUTS]

    def pooled(v):
        return plan.call(native.function, v, *positional, **args)

    y = pooled(x)
    if native.divisor == "ones":
        y = plan.call("op:div", y, pooled(plan.call("jnp.ones_like", x)))
    elif native.divisor is not None:
        y = plan.call("op:div", y, native.divisor)


def _canonical(framework: str, name: str, imports: dict | None = None, stars=()) -> str:
    found = identify(name, imports or {}, stars, framework)
    if found is None or found[0] != framework:
        if found is None:  # another framework's, by its usual names?
            found = next((f for fw in READABLE if fw != framework
                          for f in [identify(name, imports or {}, stars, fw)] if f), None)
        whose = f" (that is {found[0]}'s {found[2]})" if found else ""
        if found and found[0] == "tensorflow" and framework == "jax" and "keras" in found[2]:
            whose += (": Keras layers are read with --from tensorflow (Keras 3's pooling layers "
                      "are one definition on every backend, JAX's included)")
        full = full_name(name, imports or {}, stars) or full_name(name, DEFAULT_IMPORTS.get(
            framework, {}))
        if full in NOT_A_FUNCTION:
            whose = f" ({NOT_A_FUNCTION[full]})"
        raise PoolingError(f"call: got {name!r} for {framework}{whose}; allowed: "
                           f"{understood(framework)}")
    return found[1]


def _dotted(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    raise PoolingError(f"call: got {ast.unparse(node)!r}; allowed: a framework pooling call")


def _literal(node, names: dict):
    """A literal (ints, floats, strings, tuples, lists, None, bools), a name bound to one, or
    ``tf.constant(literal)``; anything else is refused."""
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.Name) and node.id not in ("None", "True", "False"):
        raise PoolingError(f"call: argument {node.id!r} is a variable (its value is known only "
                           f"when the code runs); allowed: literals or names bound to literals "
                           f"earlier in the text")
    if isinstance(node, ast.Call) and ast.unparse(node.func) in ("tf.constant", "constant"):
        return _literal(node.args[0], names)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_literal(node.operand, names)
    text = ast.unparse(node)
    if text in ("np.inf", "math.inf", "numpy.inf", "float('inf')", 'float("inf")', "jnp.inf",
                "jax.numpy.inf", "onp.inf", "np.Inf", "jnp.Inf"):
        return float("inf")
    if text in ("float('-inf')", 'float("-inf")'):
        return float("-inf")
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise PoolingError(f"call: argument {ast.unparse(node)!r} is not a literal; allowed: "
                           f"literals or names bound to literals earlier in the text") from None


def _bind(framework: str, function: str, call: ast.Call, names: dict,
          imports: dict | None = None) -> dict:
    """The call's arguments by name, as literals (the input excluded); defaults are not filled
    in: each framework's reader applies its own.  JAX's reduction (``lax.max``) is kept as the
    full name its ``imports`` give it."""
    params, defaults = _SIGNATURES[framework][function]
    params = params.split()
    if len(call.args) > len(params):
        raise PoolingError(f"call: {function} got {len(call.args)} positional arguments; "
                           f"allowed: at most {len(params)} ({', '.join(params)})")
    given = dict(zip(params, call.args))
    for kw in call.keywords:
        if kw.arg is None:
            raise PoolingError(f"call: **{ast.unparse(kw.value)} is not read (its keys are "
                               f"known only when the code runs); allowed: arguments written "
                               f"out")
        if kw.arg not in params:
            raise PoolingError(f"call: {function} got an unexpected argument {kw.arg!r}; "
                               f"allowed: {', '.join(params)}")
        if kw.arg in given:
            raise PoolingError(f"call: {function} got {kw.arg!r} twice")
        given[kw.arg] = kw.value
    args = {}
    for name, default in zip(params, defaults):
        if name == "name" and name in given:  # a layer's name changes no number
            try:
                args[name] = _literal(given[name], names)
            except PoolingError:
                pass  # built at run time (name + "_pool"): left out, as it does not matter
        elif name in ("computation", "reduce_fn") and name in given:
            args[name] = _reducer(given[name], imports)
        elif name in given and name not in _INPUTS:
            args[name] = _literal(given[name], names)
        elif name not in given and default is _NO and name not in _INPUTS:
            raise PoolingError(f"call: {function} needs {name!r}")
    return args


def _reducer(node, imports: dict | None) -> str:
    """``lax.max`` / ``lax.min`` / ``lax.add`` (through the imports) as its full name."""
    try:
        dotted = _dotted(node)
    except PoolingError:
        dotted = ast.unparse(node)
    full = full_name(dotted, imports or {}) or full_name(dotted, DEFAULT_IMPORTS["jax"])
    if full not in _REDUCERS:
        raise PoolingError(f"call: got the reduction {ast.unparse(node)!r}; allowed: "
                           f"{', '.join(_REDUCERS)} (through the imports)")
    return full


def check_readable(framework: str) -> None:
    """PoolingError unless ``framework``'s calls are read (``READABLE``), saying why not."""
    if framework not in READABLE:
        why = f" ({NOT_READ[framework]})" if framework in NOT_READ else ""
        raise PoolingError(f"from: got {framework!r}{why}; allowed: {', '.join(READABLE)}")


def parse(framework: str, text: str | None = None, *, function: str | None = None,
          shape=None, **arguments) -> NativeCall:
    """Read ``text`` (one call, or a few statements such as the chapter's ``tf.pad`` recipe,
    optionally after the import lines that say what its prefixes are), or a call given as
    ``function`` and keyword ``arguments``:
    ``parse("pytorch", function="nn.MaxPool2d", kernel_size=3, stride=2)``.  ``shape``: the
    input's shape, needed only by a call whose window is the input (MXNet ``global_pool``)."""
    check_readable(framework)
    if text is None:
        if function is None:
            raise PoolingError("call: got neither text nor function=; allowed: one of them")
        given = [f"{k}={v!r}" for k, v in arguments.items()]  # literals, read back by ast
        if _takes_input(framework, _canonical(framework, function)):
            given.insert(0, "x")
        text = f"{function}({', '.join(given)})"
    try:
        tree = ast.parse(text.strip())
    except SyntaxError as exc:
        raise PoolingError(f"call: cannot parse {text!r} ({exc.msg}); allowed: Python call "
                           f"syntax") from None
    except (RecursionError, MemoryError):  # ast's own limit on nesting
        raise PoolingError(f"call: cannot parse {text[:60]!r}... (nested too deeply for "
                           f"Python's parser); allowed: Python call syntax") from None
    return _guarded(framework, text, lambda: _read(framework, text, tree, shape))


def _guarded(framework: str, text: str, read):
    try:
        return read()
    except PoolingError:
        raise
    except (RecursionError, MemoryError):
        raise PoolingError(f"call: cannot read {text[:60]!r}... (nested too deeply to read); "
                           f"allowed: {understood(framework)}, with literal arguments") from None
    except (IndexError, KeyError, StopIteration, TypeError, ValueError, OverflowError,
            AttributeError) as exc:
        raise PoolingError(f"call: cannot read {text!r} ({type(exc).__name__}: {exc}); "
                           f"allowed: {understood(framework)}, with literal arguments") from None


def unwrap(node, imports: dict, stars=(), framework: str | None = None):
    """A pooling expression as people write it -> (the pooling call, the divisor node or
    None), or None when ``node`` is none: a call; ``functools.partial(f, **keywords)`` (the
    function with its keywords: applied to an input later); JAX's window sum divided,
    ``lax.reduce_window(...) / d``."""
    divisor = None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(
            node.left, ast.Call):
        node, divisor = node.left, node.right
    if not isinstance(node, ast.Call) or not isinstance(node.func, (ast.Name, ast.Attribute)):
        return None
    func = _dotted(node.func)
    if _is_partial(func, imports, stars, framework) and node.args and isinstance(
            node.args[0], (ast.Name, ast.Attribute)) and identify(
                _dotted(node.args[0]), imports, stars, framework):
        if len(node.args) > 1:
            raise PoolingError(f"call: {ast.unparse(node)!r} binds the input positionally; "
                               f"allowed: partial(f, keyword=...) applied to the input later")
        inner = ast.Call(node.args[0], [ast.Name("x", ast.Load())], node.keywords)
        return ast.copy_location(inner, node), divisor
    if identify(func, imports, stars, framework):
        return node, divisor
    return None


def _someone_elses(func: str, imports: dict, stars, framework: str) -> bool:
    """Whether ``func`` is another framework's pooling call, or a name known not to exist."""
    full = full_name(func, imports, stars) or full_name(func, DEFAULT_IMPORTS[framework])
    return full in NOT_A_FUNCTION or any(identify(func, imports, stars, fw)
                                         for fw in READABLE if fw != framework)


def _is_partial(func: str, imports: dict, stars=(), framework=None) -> bool:
    full = full_name(func, imports, stars) or (
        full_name(func, DEFAULT_IMPORTS[framework]) if framework else None)
    return full == "functools.partial"


def read_call(call: ast.AST, imports: dict, stars=(), text: str | None = None,
              shape=None) -> NativeCall:
    """One pooling call found in a file (``scan``), read with that file's ``imports``
    (``read_imports``): its arguments must be literals; ``call`` may also be one of the forms
    ``unwrap`` reads.  PoolingError says why not."""
    text = text or ast.unparse(call)
    found = unwrap(call, imports, stars)
    if found is None:
        raise PoolingError(f"call: {ast.unparse(call)!r} is no pooling call understood")
    pool, divisor = found
    framework, function, _ = identify(_dotted(pool.func), imports, stars)
    return _guarded(framework, text, lambda: _native(framework, function, pool, {}, text, shape,
                                                     imports, stars, divisor))


#: each framework's explicit pad before a max pool (the chapter's TensorFlow and JAX tabs)
_PAD_FUNCTIONS = {"tensorflow": ("tensorflow.pad", "tf.pad"), "jax": ("jax.numpy.pad", "jnp.pad")}


def _pad_function(framework: str, func: str, imports: dict, stars=()) -> str | None:
    """How the source plan spells ``func`` when it is ``framework``'s pad, else None."""
    if framework not in _PAD_FUNCTIONS:
        return None
    full, spelled = _PAD_FUNCTIONS[framework]
    if func == "pad" and framework == "tensorflow" or full in (
            full_name(func, imports, stars), full_name(func, DEFAULT_IMPORTS[framework])):
        return spelled
    return None


def _read(framework: str, text: str, tree: ast.Module, shape=None) -> NativeCall:
    imports, stars = read_imports(tree)
    names, pads, pool, layer, divisor, pad_function = {}, None, None, None, None, ""
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue  # read above: they say what the call's prefixes are
        value = stmt.value if isinstance(stmt, (ast.Assign, ast.Expr)) else None
        target = stmt.targets[0].id if isinstance(stmt, ast.Assign) and len(
            stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) else None
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Call):
            value = value.func  # the layer applied at once: MaxPool2D(2)(x)
        func = _dotted(value.func) if isinstance(value, ast.Call) and isinstance(
            value.func, (ast.Name, ast.Attribute)) else None
        found = unwrap(value, imports, stars, framework) if pool is None and value else None
        padder = func and pads is None and _pad_function(framework, func, imports, stars)
        if found:
            (pool, divisor), layer = found, target
        elif padder:
            pads, pad_function = value, padder
        elif target and func in ("tf.constant", "constant") or (
                target and not isinstance(value, ast.Call) and value is not None):
            names[target] = _literal(value, names)
        elif func is not None and pool is not None and func == layer:
            continue  # the layer applied to an input: pool2d(X)
        else:
            if func and pool is None and _someone_elses(func, imports, stars, framework):
                _canonical(framework, func, imports, stars)  # says whose it is
            raise PoolingError(
                f"call: {ast.unparse(stmt)!r} is not understood; allowed: one {framework} "
                f"pooling call ({understood(framework)}), literal bindings"
                + (f", and {_PAD_FUNCTIONS[framework][1]}(..., constant) before it"
                   if framework in _PAD_FUNCTIONS else ""))
    if pool is None:
        raise PoolingError(f"call: no {framework} pooling call in {text!r}; allowed: "
                           f"{understood(framework)}")
    function = _canonical(framework, _dotted(pool.func), imports, stars)
    native = _native(framework, function, pool, names, text, shape, imports, stars, divisor)
    if pads is not None:
        native.pad_function = pad_function
        _pad_recipe(native, pads, names)
    return native


def _native(framework: str, function: str, pool: ast.Call, names: dict, text: str,
            shape, imports: dict | None = None, stars=(), divisor=None) -> NativeCall:
    args = _bind(framework, function, pool, names, imports)
    _refuse_unexpressible(function, args)
    native = NativeCall(framework, text, function, args, {})
    native.written = _dotted(pool.func)
    if divisor is not None:
        if framework != "jax":
            raise PoolingError(f"call: {ast.unparse(pool)} / ...: a division is read after "
                               f"JAX's window sum only; allowed: the call alone")
        native.divisor = _read_divisor(divisor, pool, function, names, imports or {}, stars)
    if "Adaptive" in function or "adaptive" in function or "Global" in function:
        _adaptive_or_global(native, args)
    else:
        _TO_SPEC[framework](native, args)
    if native.global_window:
        _global_window(native)
    return native


def _global_window(native: NativeCall) -> None:
    """MXNet ``global_pool=True``: the window is the whole input, whatever its size (the call's
    kernel, stride, pad and pooling_convention are ignored): global pooling, keeping H and W."""
    spec = native.spec
    if spec["mode"] not in ("max", "avg", "lp"):
        raise PoolingError(f"call: {native.function}(pool_type={spec['mode']!r}, "
                           f"global_pool=True) has no neutral spec; allowed: pool_type 'max', "
                           f"'avg' or 'lp'")
    native.op = "global"
    native.spec = dict(mode=spec["mode"], p=spec["p"], keepdims=True, layout=spec["layout"])
    native.keeps_padding_windows = False
    native.defaulted = []
    native.notes[:] = [n for n in native.notes if "pad=" not in n and "convention" not in n]
    native.notes.append("global_pool=True: the window is the whole input (kernel, stride and "
                        "pad ignored): global pooling, H and W kept as 1")


def _output_size(value):
    """An adaptive call's output_size, as written: an int or a pair of ints or None."""
    def one(v):
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise PoolingError(f"call: got output_size={value!r}; allowed: an int >= 0 or a "
                               f"pair of ints >= 0 or None")
        return v

    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise PoolingError(f"call: got output_size={value!r}; allowed: an int or a pair "
                               f"(h, w) (2-D pooling)")
        return tuple(one(v) for v in value)
    return (one(value), one(value))


def _adaptive_or_global(native: NativeCall, args: dict) -> None:
    """Adaptive calls (torch, Paddle, MXNet contrib, Keras 3) and global layers (Keras, Gluon)
    into ``px.adaptive_pool2d`` / ``px.global_pool2d``'s keywords.  An adaptive pooling to
    1 x 1 is the global pooling it is (the same numbers by definition), H and W kept."""
    f, fw = native.function, native.framework
    mode = "max" if "max" in f.lower() else "avg"
    if fw == "tensorflow":
        layout = "NCHW" if args.get("data_format") == "channels_first" else "NHWC"
    elif fw == "mxnet":
        layout = args.get("layout", "NCHW")
    else:
        layout = args.get("data_format", "NCHW")
    if layout not in ("NCHW", "NHWC"):
        raise PoolingError(f"call: got layout {layout!r}; allowed: 'NCHW' or 'NHWC' "
                           f"(channels_first / channels_last)")
    if "Global" in f:
        keepdims = bool(args.get("keepdims", fw != "tensorflow"))
        native.op = "global"
        native.spec = dict(mode=mode, p=2.0, keepdims=keepdims, layout=layout)
        if fw == "tensorflow":
            native.notes.append(f"Keras' {f.rsplit('.', 1)[1]} is tf.reduce_"
                                f"{'mean' if mode == 'avg' else 'max'} over H and W"
                                + ("" if keepdims else ", which drops them (keepdims=False, "
                                   "Keras' default)"))
        return
    size = _output_size(args["output_size"])
    if size == (1, 1):
        native.op = "global"
        native.spec = dict(mode=mode, p=2.0, keepdims=True, layout=layout)
        native.notes.append("an adaptive pooling to 1 x 1 is global pooling (H and W kept)")
        return
    if fw in ("mxnet", "tensorflow") and None in size:
        raise PoolingError(f"call: {f}(output_size={args['output_size']!r}) raises in "
                           f"{fw} (measured); allowed: ints (None keeps an axis in PyTorch "
                           f"and Paddle only)")
    native.op = "adaptive"
    native.spec = dict(output_size=size, mode=mode, layout=layout)
    if fw == "paddle" and mode == "max":
        native.notes.append("Paddle's adaptive max ignores NaN and gives float32's lowest for "
                            "a bin of only -inf")


def _refuse_unexpressible(function: str, args: dict) -> None:
    """Arguments that change what the call returns beyond any neutral spec: say so."""
    for name, harmless in (("return_indices", False), ("return_mask", False),
                           ("divisor_override", None)):
        if args.get(name, harmless) not in (harmless, None):
            why = (": it also returns the argmax positions (fed to an unpool), whose "
                   "numbering differs between frameworks" if name.startswith("return_")
                   else "")
            raise PoolingError(f"call: {function}({name}={args[name]!r}) has no neutral "
                               f"spec{why}; allowed: {name}={harmless!r}")


def _pad_recipe(native: NativeCall, call: ast.Call, names: dict) -> None:
    """An explicit constant pad before the pooling (``tf.pad``, ``jnp.pad``): its pads become
    the spec's, and a pad value that is not the reduction's identity is said."""
    pad = native.pad_function or "tf.pad"
    params = (["tensor", "paddings", "mode", "constant_values", "name"] if pad == "tf.pad"
              else ["array", "pad_width", "mode"])
    given = dict(zip(params, call.args))
    given.update({k.arg: k.value for k in call.keywords})
    widths = "paddings" if pad == "tf.pad" else "pad_width"
    unknown = set(given) - set(params) - {"constant_values"}
    if unknown:
        raise PoolingError(f"call: {pad} got {', '.join(sorted(unknown))}; allowed: "
                           f"{', '.join(params[1:])}, constant_values")
    paddings = _literal(given[widths], names)
    mode = _literal(given["mode"], names) if "mode" in given else "CONSTANT"
    value = _literal(given["constant_values"], names) if "constant_values" in given else 0
    layout = native.spec.get("layout", "NHWC")
    if str(mode).upper() != "CONSTANT" or not isinstance(value, (int, float)) or not (
            isinstance(paddings, (list, tuple)) and len(paddings) == 4):
        raise PoolingError(f"call: {pad}(mode={mode!r}) with {paddings}; allowed: constant "
                           f"padding of a 4-D {layout} array, each axis a (before, after) pair "
                           f"(other modes have no neutral spec)")
    if native.spec["padding"] not in ("valid", ((0, 0), (0, 0))):
        raise PoolingError(f"call: {pad} followed by a padded pooling; allowed: 'valid' after "
                           f"it")
    hw = (1, 2) if layout == "NHWC" else (2, 3)
    if any(tuple(paddings[i]) != (0, 0) for i in range(4) if i not in hw):
        raise PoolingError(f"call: {pad} pads the batch or channel axis ({paddings}); allowed: "
                           f"padding of H and W only ({layout})")
    rows, cols = tuple(_pair(tuple(paddings[hw[0]]))), tuple(_pair(tuple(paddings[hw[1]])))
    native.recipe_pads = (rows, cols)
    native.pad_value = float(value)
    native.spec["padding"] = (rows, cols)
    identity = {"max": float("-inf"), "min": float("inf")}
    if native.spec["mode"] == "avg":
        native.spec["count_include_pad"] = True  # zeros in the sum, counted in the divisor
        if value != 0:
            native.notes.append(f"{pad} with {value}: the average counts {value} for padding, "
                                f"which no neutral spec expresses")
    elif native.spec["mode"] in identity and value != identity[native.spec["mode"]]:
        mode = native.spec["mode"]
        bound = ">=" if mode == "max" else "<="
        native.notes.append(
            f"{pad} pads with {value:g}, not {identity[mode]}: the {mode} equals the neutral "
            f"spec only where every window that reaches the padding has a {mode}imum "
            f"{bound} {value:g}" + (", e.g. on non-negative inputs when padding with 0"
                                    if mode == "max" and value == 0 else ""))


def _pair(value):
    """An int or a tuple of ints, as written; anything else is refused (3.7 is not 3)."""
    def one(v):
        if isinstance(v, bool) or not isinstance(v, int):
            raise PoolingError(f"call: got {value!r} where an int or a tuple of ints belongs")
        return v

    if isinstance(value, (list, tuple)):
        return tuple(one(v) for v in value)
    return one(value)


def _torch(native, args):
    f = native.function
    mode = "max" if "max" in f.lower() else "avg" if "avg" in f.lower() else "lp"
    kernel = _pair(args["kernel_size"])
    spec = dict(pool_size=kernel, mode=mode, stride=_pair(args.get("stride") or kernel),
                padding=_pair(args.get("padding", 0)), dilation=_pair(args.get("dilation", 1)),
                ceil_mode=bool(args.get("ceil_mode", False)),
                count_include_pad=bool(args.get("count_include_pad", True)), layout="NCHW",
                p=float(args.get("norm_type", 2)))
    if args.get("stride") is None:
        native.defaulted.append("stride")
    if mode == "lp":
        native.notes.append("PyTorch's lp_pool2d raises x, not |x|, to the power p (negative "
                            "inputs with odd p differ) and over-counts the ceil overhang")
    native.spec = spec


def _tf_hw(value, layout: str):
    """TensorFlow's ksize / strides: an int, [k], [h, w], or the 4-D form in ``layout``."""
    if not isinstance(value, (list, tuple)):
        return _pair(value)
    value = _pair(tuple(value))
    if len(value) in (1, 2):
        return value[0] if len(value) == 1 else value
    if len(value) == 4:
        return value[1:3] if layout == "NHWC" else value[2:4]
    raise PoolingError(f"call: got {list(value)}; allowed: an int, [k], [h, w] or a 4-D list")


def _tensorflow(native, args):
    f = native.function
    if f.startswith("tf.keras"):
        layout = "NCHW" if args.get("data_format") == "channels_first" else "NHWC"
        kernel = _tf_hw(args.get("pool_size", (2, 2)), layout)
        stride = args.get("strides")
        if stride is None:
            native.defaulted.append("stride")
        stride = _tf_hw(stride, layout) if stride is not None else kernel
        padding = str(args.get("padding", "valid")).lower()
        mode = "max" if "Max" in f else "avg"
        dilation = 1
    else:
        layout = "NCHW" if args.get("data_format") in ("NCHW", "channels_first") else "NHWC"
        kernel = _tf_hw(args.get("ksize", args.get("window_shape")), layout)
        stride = args.get("strides")
        if stride is None:
            native.defaulted.append("stride")
            stride = 1  # tf.nn.pool's default
        stride = _tf_hw(stride, layout)
        padding = args.get("padding", "VALID")
        mode = ("max" if "max" in f else "avg" if "avg" in f
                else str(args["pooling_type"]).lower().replace("average", "avg"))
        dilation = _tf_hw(args.get("dilations") or 1, layout)
    if isinstance(padding, str):
        padding = padding.lower()
    else:  # explicit [[0, 0], [t, b], [l, r], [0, 0]] in the data format's order
        rows_cols = padding[1:3] if layout == "NHWC" else padding[2:4]
        padding = tuple(tuple(_pair(tuple(p))) for p in rows_cols)
    native.spec = dict(pool_size=kernel, mode=mode, stride=stride, padding=padding,
                       dilation=dilation, ceil_mode=False,
                       count_include_pad=not (mode == "avg" and padding == "same"),
                       layout=layout, p=2.0)
    if mode == "avg" and padding == "same":
        native.notes.append("TensorFlow's SAME average excludes padding from the divisor")


def _mxnet(native, args):
    f = native.function
    if f in ("npx.pooling", "mx.nd.Pooling", "mx.sym.Pooling"):
        native.global_window = bool(args.get("global_pool", False))
        if args.get("kernel") is None and not native.global_window:
            raise PoolingError(f"call: {f} needs 'kernel' (unless global_pool=True)")
        kernel = _pair(args["kernel"]) if args.get("kernel") is not None else (1, 1)
        stride = args.get("stride")
        if stride is None:
            native.defaulted.append("stride")
            stride = 1  # npx.pooling's default stride is 1, unlike the layers
        pad = args.get("pad") or 0
        mode = str(args.get("pool_type", "max"))
        convention = args.get("pooling_convention", "valid")
        include = args.get("count_include_pad")
        include = True if include is None else bool(include)
        layout = args.get("layout") or "NCHW"
        p = float(args.get("p_value") or 2)
    else:
        kernel = _pair(args.get("pool_size", (2, 2)))
        stride = args.get("strides")
        if stride is None:
            native.defaulted.append("stride")
        stride = _pair(stride) if stride is not None else kernel
        pad = args.get("padding", 0)
        mode = "max" if "Max" in f else "avg"
        convention = "full" if args.get("ceil_mode") else "valid"
        include = bool(args.get("count_include_pad", True))
        layout = args.get("layout", "NCHW")
        p = 2.0
    if isinstance(pad, (list, tuple)) and len(pad) > 2:
        native.notes.append(f"MXNet uses only the first two entries of pad={tuple(pad)}: it "
                            f"pools with pad={tuple(pad[:2])}, silently")
        pad = tuple(pad[:2])
    if convention == "same":
        native.notes.append("pooling_convention='same' is rejected for 2-D pooling in MXNet 1.9.1")
    if mode == "lp" and p % 2:
        native.notes.append(f"MXNet's lp pooling raises x, not |x|, to p={p:g}: with an odd p, "
                            f"negative inputs differ from the neutral spec")
    native.keeps_padding_windows = convention == "full"
    native.spec = dict(pool_size=kernel, mode=mode, stride=_pair(stride), padding=_pair(pad),
                       dilation=1, ceil_mode=convention == "full", count_include_pad=include,
                       layout=layout, p=p)


def _paddle(native, args):
    f = native.function
    mode = "max" if "max" in f.lower() else "avg" if "avg" in f.lower() else "lp"
    kernel = _pair(args["kernel_size"])
    stride = args.get("stride")
    if stride is None:
        native.defaulted.append("stride")
    padding = args.get("padding", 0)
    if isinstance(padding, str):
        padding = padding.lower()
    elif isinstance(padding, (list, tuple)) and len(padding) == 4 and all(
            isinstance(v, int) for v in padding):
        padding = ((padding[0], padding[1]), (padding[2], padding[3]))  # [t, b, l, r]
    elif isinstance(padding, (list, tuple)) and len(padding) in (2, 4) and all(
            isinstance(p, (list, tuple)) for p in padding):
        layout = args.get("data_format", "NCHW")
        pairs = padding if len(padding) == 2 else (
            padding[2:4] if layout == "NCHW" else padding[1:3])
        padding = tuple(tuple(_pair(tuple(p))) for p in pairs)
    else:
        padding = _pair(padding)
    ceil = bool(args.get("ceil_mode", False))
    native.keeps_padding_windows = ceil
    native.spec = dict(pool_size=kernel, mode=mode,
                       stride=_pair(stride) if stride is not None else kernel, padding=padding,
                       dilation=1, ceil_mode=ceil,
                       count_include_pad=not bool(args.get("exclusive", True)),
                       layout=args.get("data_format", "NCHW"),
                       p=float(args.get("norm_type", 2)))
    if mode == "avg" and "exclusive" not in args:
        native.notes.append("Paddle's average excludes padding by default (exclusive=True)")
    spec = native.spec
    asymmetric = spec["padding"] == "same" or (isinstance(spec["padding"], tuple) and any(
        isinstance(p, tuple) and p[0] != p[1] for p in spec["padding"]))
    if mode == "avg" and spec["count_include_pad"] and asymmetric:
        native.notes.append("Paddle 3.3.1's exclusive=False divides windows wrongly when the "
                            "pads are asymmetric (measured): this call differs from the neutral "
                            "spec there")
    if mode == "lp" and spec["p"] % 2:
        native.notes.append(f"Paddle's lp pooling raises x, not |x|, to p={spec['p']:g}: with "
                            f"an odd p, negative inputs differ from the neutral spec")


def _jax_padding(padding, axes: int, where: str):
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
    return tuple(tuple(_pair(tuple(p))) for p in padding)


def _jax_mode(native, reducer: str, init) -> str:
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
    if native.divisor is None:
        raise PoolingError(f"call: {native.written} with {reducer} is a window sum, which has "
                           f"no neutral spec; allowed: the sum divided by the window's size "
                           f"(`/ (kh * kw)`: avg, padding counted) or by the same reduce_window "
                           f"of jnp.ones_like(x) (avg, padding excluded)")
    return "avg"


def _jax(native, args):
    f = native.function
    if f == "lax.reduce_window":
        _jax_reduce_window(native, args)
        return
    window = args["window_shape"]
    if not (isinstance(window, tuple) and len(window) == 2):
        raise PoolingError(f"call: {native.written}(window_shape={window!r}); allowed: a tuple "
                           f"(kh, kw) (flax pools the axes between the first and the last: H "
                           f"and W of NHWC; an int or a list raises TypeError in flax)")
    strides = args.get("strides")
    if strides is None:
        native.defaulted.append("stride")
        strides = (1, 1)  # flax's default is 1, not the window
    elif not (isinstance(strides, tuple) and len(strides) == 2):
        raise PoolingError(f"call: {native.written}(strides={strides!r}); allowed: a tuple "
                           f"(sh, sw) (a list raises TypeError in flax)")
    padding = _jax_padding(args.get("padding", "VALID"), 2, "window_shape")
    if f == "nn.pool":
        mode = _jax_mode(native, args["reduce_fn"], args["init"])
    else:
        mode = {"nn.max_pool": "max", "nn.avg_pool": "avg"}.get(f, "min")
        if native.divisor is not None:
            raise PoolingError(f"call: {native.written}(...) / ...; allowed: the call alone")
    include = bool(args.get("count_include_pad", True)) if f == "nn.avg_pool" else (
        native.divisor != "ones")
    native.spec = dict(pool_size=_pair(window), mode=mode, stride=_pair(strides),
                       padding=padding, dilation=1, ceil_mode=False, count_include_pad=include,
                       layout="NHWC", p=2.0)
    _jax_notes(native)
    _check_divisor(native)


def _jax_notes(native) -> None:
    spec = native.spec
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


def _jax_reduce_window(native, args):
    w = args["window_dimensions"]
    if not (isinstance(w, (list, tuple)) and len(w) == 4):
        raise PoolingError(f"call: {native.written}(window_dimensions={w!r}); allowed: 4 ints, "
                           f"one per axis of a 4-D input (2-D pooling: 1 on batch and channels)")
    window = _pair(tuple(w))
    strides = args.get("window_strides")
    if strides is None:
        native.defaulted.append("stride")
    strides = _pair(tuple(strides)) if strides is not None else (1, 1, 1, 1)
    dilation = args.get("window_dilation")
    dilation = _pair(tuple(dilation)) if dilation is not None else (1, 1, 1, 1)
    base = args.get("base_dilation")
    if base is not None and tuple(base) != (1, 1, 1, 1):
        raise PoolingError(f"call: {native.written}(base_dilation={base!r}) inserts holes of "
                           f"the init value between the input's cells: no neutral spec; "
                           f"allowed: base_dilation None or all 1")
    if any(len(v) != 4 for v in (strides, dilation)):
        raise PoolingError(f"call: {native.written}: window_strides and window_dilation take 4 "
                           f"ints, one per axis; allowed: 4 ints")
    padding = _jax_padding(args.get("padding", "VALID"), 4, "the input")
    used = {i for i in range(4) if window[i] != 1 or strides[i] != 1 or dilation[i] != 1 or (
        isinstance(padding, tuple) and padding[i] != (0, 0))}
    if used <= {1, 2}:
        layout, hw = "NHWC", (1, 2)
    elif used <= {2, 3}:
        layout, hw = "NCHW", (2, 3)
    else:
        raise PoolingError(f"call: {native.written} pools axes {sorted(used)} of the input; "
                           f"allowed: H and W only, axes 1 and 2 (NHWC, JAX's) or 2 and 3 "
                           f"(NCHW), with window, stride and dilation 1 and no padding on the "
                           f"others")
    mode = _jax_mode(native, args["computation"], args["init_value"])
    if isinstance(padding, tuple):
        padding = (padding[hw[0]], padding[hw[1]])
    native.spec = dict(pool_size=(window[hw[0]], window[hw[1]]), mode=mode,
                       stride=(strides[hw[0]], strides[hw[1]]), padding=padding,
                       dilation=(dilation[hw[0]], dilation[hw[1]]), ceil_mode=False,
                       count_include_pad=native.divisor != "ones", layout=layout, p=2.0)
    if not used:
        native.notes.append("a 1 x 1 window with stride 1: the input itself (read as NHWC, "
                            "JAX's layout)")
    elif used == {2}:
        native.notes.append("only axis 2 is pooled: read as W of NHWC (JAX's layout); as H of "
                            "NCHW it is the same numbers")
    _jax_notes(native)
    _check_divisor(native)


def _check_divisor(native) -> None:
    """A number dividing the window sum must be the window's size: the average."""
    d = native.divisor
    if isinstance(d, (int, float)):
        k = native.spec["pool_size"]
        size = k[0] * k[1]
        if d != size:
            raise PoolingError(f"call: {native.written}(...) / {d:g}: the window sum divided by "
                               f"{d:g}, not by the window's {k[0]} x {k[1]} = {size} cells, has "
                               f"no neutral spec; allowed: / {size} (avg, padding counted) or "
                               f"/ the same reduce_window of jnp.ones_like(x)")


def _number(node, names: dict, imports: dict, stars=()):
    """A divisor written as a number: literals, names bound to them, ``*`` / ``+`` / ``-`` of
    them, ``np.prod`` / ``math.prod`` / ``jnp.prod`` of a literal tuple, ``float(...)``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Add, ast.Sub)):
        a, b = _number(node.left, names, imports, stars), _number(node.right, names, imports,
                                                                   stars)
        return a * b if isinstance(node.op, ast.Mult) else a + b if isinstance(
            node.op, ast.Add) else a - b
    if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)) and len(
            node.args) == 1 and not node.keywords:
        func = _dotted(node.func)
        full = full_name(func, imports, stars) or full_name(func, DEFAULT_IMPORTS["jax"])
        if full in ("numpy.prod", "math.prod", "jax.numpy.prod"):
            values = _literal(node.args[0], names)
            product = 1
            for v in values:
                product *= v
            return product
        if func == "float":
            return float(_number(node.args[0], names, imports, stars))
    value = _literal(node, names)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PoolingError(f"call: divisor {ast.unparse(node)!r}; allowed: a number")
    return value


def _read_divisor(node, pool: ast.Call, function: str, names: dict, imports: dict, stars=()):
    """What JAX's window sum is divided by: a number (checked against the window's size by the
    reader), or ``"ones"``: the same pooling call of ``jnp.ones_like(x)`` (or ``jnp.ones`` of
    the input's shape), the cells each window counts."""
    if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
        found = identify(_dotted(node.func), imports, stars, "jax")
        if found is not None:
            if found[1] != function:
                raise PoolingError(f"call: divided by {ast.unparse(node)!r}, another pooling; "
                                   f"allowed: the same {function} of jnp.ones_like(x)")
            ones = node.args[0] if node.args else next(
                (k.value for k in node.keywords if k.arg in _INPUTS), None)
            head = _dotted(ones.func) if isinstance(ones, ast.Call) and isinstance(
                ones.func, (ast.Name, ast.Attribute)) else ""
            full = full_name(head, imports, stars) or full_name(head, DEFAULT_IMPORTS["jax"])
            if full not in ("jax.numpy.ones_like", "jax.numpy.ones"):
                raise PoolingError(f"call: divided by {ast.unparse(node)!r}; allowed: the same "
                                   f"{function} of jnp.ones_like(x), the cells each window "
                                   f"counts")
            mine = _bind("jax", function, pool, names, imports)
            theirs = _bind("jax", function, node, names, imports)
            for side in (mine, theirs):
                side.pop("init_value", None), side.pop("init", None)
                side.pop("computation", None), side.pop("reduce_fn", None)
            if mine != theirs:
                raise PoolingError(f"call: the divisor's window, strides or padding "
                                   f"({theirs}) differ from the sum's ({mine}); allowed: the "
                                   f"same ones")
            return "ones"
    return _number(node, names, imports, stars)


_TO_SPEC = {"pytorch": _torch, "tensorflow": _tensorflow, "mxnet": _mxnet, "paddle": _paddle,
            "jax": _jax}
