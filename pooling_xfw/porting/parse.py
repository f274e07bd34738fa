"""Read a framework's own pooling call, as a user writes it, into the neutral spec.

The text is parsed with ``ast`` (never evaluated): arguments must be literals, or names bound
earlier in the same text to literals or ``tf.constant(literal)``.  Each framework's defaults
apply (a layer's stride is its window; ``npx.pooling`` and ``tf.nn.pool`` default to 1; Paddle
averages exclude padding; TensorFlow is NHWC).  What the neutral spec cannot hold is said, not
guessed: a ``tf.pad`` with zeros before a max pool (``pad_value``), MXNet ``full`` / Paddle
``ceil_mode`` keeping a window that starts in the padding (``keeps_padding_windows``), MXNet
dropping extra pad entries, ``divisor_override``.
"""
from __future__ import annotations

import ast
import dataclasses

from ..errors import PoolingError
from ..plan import Plan, Var
from ..runtime.envs import BACKENDS

_IMPORTS = {
    "pytorch": ("import torch", "from torch import nn", "import torch.nn.functional as F"),
    "tensorflow": ("import tensorflow as tf",),
    "mxnet": ("from mxnet import np as mnp, npx", "from mxnet.gluon import nn", "npx.set_np()"),
    "paddle": ("import paddle", "from paddle import nn", "import paddle.nn.functional as F"),
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
    },
    "tensorflow": {
        "tf.nn.max_pool2d": ("input ksize strides padding data_format name",
                             (_NO, _NO, _NO, _NO, "NHWC", None)),
        "tf.nn.avg_pool2d": ("input ksize strides padding data_format name",
                             (_NO, _NO, _NO, _NO, "NHWC", None)),
        "tf.nn.pool": ("input window_shape pooling_type strides padding data_format dilations name",
                       (_NO, _NO, _NO, None, "VALID", None, None, None)),
        "tf.keras.layers.MaxPool2D": ("pool_size strides padding data_format",
                                      ((2, 2), None, "valid", None)),
        "tf.keras.layers.AveragePooling2D": ("pool_size strides padding data_format",
                                             (_NO, None, "valid", None)),
    },
    "mxnet": {
        "nn.MaxPool2D": ("pool_size strides padding layout ceil_mode",
                         ((2, 2), None, 0, "NCHW", False)),
        "nn.AvgPool2D": ("pool_size strides padding ceil_mode layout count_include_pad",
                         ((2, 2), None, 0, False, "NCHW", True)),
        "npx.pooling": ("data kernel stride pad pool_type pooling_convention global_pool "
                        "cudnn_off p_value count_include_pad layout",
                        (_NO, _NO, None, None, "max", "valid", False, False, None, None, None)),
    },
    "paddle": {
        "nn.MaxPool2D": ("kernel_size stride padding ceil_mode return_mask data_format name",
                         (_NO, None, 0, False, False, "NCHW", None)),
        "nn.AvgPool2D": ("kernel_size stride padding ceil_mode exclusive divisor_override "
                         "data_format name", (_NO, None, 0, False, True, None, "NCHW", None)),
        "F.max_pool2d": ("x kernel_size stride padding return_mask ceil_mode data_format name",
                         (_NO, _NO, None, 0, False, False, "NCHW", None)),
        "F.avg_pool2d": ("x kernel_size stride padding ceil_mode exclusive divisor_override "
                         "data_format name", (_NO, _NO, None, 0, False, True, None, "NCHW", None)),
        "F.lp_pool2d": ("x norm_type kernel_size stride padding ceil_mode data_format name",
                        (_NO, _NO, _NO, None, 0, False, "NCHW", None)),
    },
}
_ALIASES = {  # prefixes and names users write -> canonical
    "pytorch": [("torch.nn.functional.", "F."), ("nn.functional.", "F."), ("torch.nn.", "nn.")],
    "tensorflow": [("keras.layers.", "tf.keras.layers."), ("layers.", "tf.keras.layers."),
                   ("tf.tf.keras.layers.", "tf.keras.layers."), ("MaxPooling2D", "MaxPool2D"),
                   ("AvgPool2D", "AveragePooling2D")],
    "mxnet": [("mxnet.gluon.nn.", "nn."), ("gluon.nn.", "nn."), ("mx.npx.", "npx."),
              ("mxnet.npx.", "npx.")],
    "paddle": [("paddle.nn.functional.", "F."), ("nn.functional.", "F."), ("paddle.nn.", "nn.")],
}
NAN_POLICY = {"pytorch": "propagates NaN", "tensorflow": "ignores NaN", "mxnet": "ignores NaN",
              "paddle": "returns NaN only when it is the last element scanned"}


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

    def source_plan(self) -> Plan:
        """The call as written, executable by that framework's worker and renderable."""
        plan = Plan(self.framework, _IMPORTS[self.framework])
        plan.input_note = f"4-D {self.spec['layout']} array"
        x = Var("x")
        if self.recipe_pads is not None:
            (top, bottom), (left, right) = self.recipe_pads
            x = plan.call("tf.pad", x, [[0, 0], [top, bottom], [left, right], [0, 0]],
                          constant_values=self.pad_value)
        if _takes_input(self.framework, self.function):
            plan.call(self.function, x, **self.arguments)
        else:
            layer = plan.call(self.function, **self.arguments)
            plan.call("op:call", layer, x)
        return plan


def _takes_input(framework: str, function: str) -> bool:
    names = _SIGNATURES[framework][function][0].split()
    return names[0] in ("input", "x", "data")


def _canonical(framework: str, name: str) -> str:
    for old, new in _ALIASES[framework]:
        if name.startswith(old) or name.endswith(old):
            name = name.replace(old, new)
    if name not in _SIGNATURES[framework] and name.split(".")[-1] in {
            k.split(".")[-1] for k in _SIGNATURES[framework]}:
        short = name.split(".")[-1]
        name = next(k for k in _SIGNATURES[framework] if k.split(".")[-1] == short)
    if name not in _SIGNATURES[framework]:
        raise PoolingError(f"call: got {name!r} for {framework}; allowed: "
                           f"{', '.join(_SIGNATURES[framework])}")
    return name


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
    if isinstance(node, ast.Call) and ast.unparse(node.func) in ("tf.constant", "constant"):
        return _literal(node.args[0], names)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_literal(node.operand, names)
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise PoolingError(f"call: argument {ast.unparse(node)!r} is not a literal; allowed: "
                           f"literals or names bound to literals earlier in the text") from None


def _bind(framework: str, function: str, call: ast.Call, names: dict) -> tuple[dict, list]:
    params, defaults = _SIGNATURES[framework][function]
    params = params.split()
    given = {}
    for name, node in zip(params, call.args):
        given[name] = node
    for kw in call.keywords:
        if kw.arg not in params:
            raise PoolingError(f"call: {function} got an unexpected argument {kw.arg!r}; "
                               f"allowed: {', '.join(params)}")
        given[kw.arg] = kw.value
    args = {}
    for name, default in zip(params, defaults):
        if name in given and name not in ("input", "x", "data"):
            args[name] = _literal(given[name], names)
        elif name not in given and default is _NO and name not in ("input", "x", "data"):
            raise PoolingError(f"call: {function} needs {name!r}")
    defaulted = [p for p, d in zip(params, defaults) if p not in given and d is not _NO]
    return args, defaulted


def parse(framework: str, text: str | None = None, *, function: str | None = None,
          **arguments) -> NativeCall:
    """Read ``text`` (one call, or a few statements such as the chapter's ``tf.pad`` recipe),
    or a call given as ``function`` and keyword ``arguments``:
    ``parse("pytorch", function="nn.MaxPool2d", kernel_size=3, stride=2)``."""
    if framework not in BACKENDS:
        raise PoolingError(f"from: got {framework!r}; allowed: {', '.join(BACKENDS)}")
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
    names, pads, pool = {}, None, None
    for stmt in tree.body:
        value = stmt.value if isinstance(stmt, (ast.Assign, ast.Expr)) else None
        if not isinstance(value, ast.Call):
            continue
        func = _dotted(value.func)
        if func.split(".")[-1] == "pad" and framework == "tensorflow":
            pads = value
        elif func.split(".")[-1] == "constant" and isinstance(stmt, ast.Assign):
            names[stmt.targets[0].id] = _literal(value, names)
        elif pool is None and _is_pooling(framework, func):
            pool = value
    if pool is None:
        raise PoolingError(f"call: no {framework} pooling call in {text!r}; allowed: "
                           f"{', '.join(_SIGNATURES[framework])}")
    function = _canonical(framework, _dotted(pool.func))
    args, defaulted = _bind(framework, function, pool, names)
    native = NativeCall(framework, text, function, args, {})
    _TO_SPEC[framework](native, args, defaulted)
    if pads is not None:
        _tf_pad_recipe(native, pads, names)
    return native


def _is_pooling(framework: str, name: str) -> bool:
    try:
        _canonical(framework, name)
    except PoolingError:
        return False
    return True


def _tf_pad_recipe(native: NativeCall, call: ast.Call, names: dict) -> None:
    paddings = _literal(call.args[1], names) if len(call.args) > 1 else _literal(
        next(k.value for k in call.keywords if k.arg == "paddings"), names)
    mode = _literal(call.args[2], names) if len(call.args) > 2 else "CONSTANT"
    value = next((_literal(k.value, names) for k in call.keywords
                  if k.arg == "constant_values"), 0)
    if str(mode).upper() != "CONSTANT" or len(paddings) != 4:
        raise PoolingError(f"call: tf.pad({mode!r}) with {paddings}; allowed: CONSTANT padding "
                           f"of a 4-D NHWC tensor")
    if native.spec["padding"] not in ("valid", ((0, 0), (0, 0))):
        raise PoolingError("call: tf.pad followed by a padded pooling; allowed: 'valid' after it")
    rows, cols = tuple(paddings[1]), tuple(paddings[2])
    native.recipe_pads = (rows, cols)
    native.pad_value = float(value)
    native.spec["padding"] = (rows, cols)
    if native.spec["mode"] == "avg":
        native.spec["count_include_pad"] = True  # zeros in the sum, counted in the divisor
        if value != 0:
            native.notes.append(f"tf.pad with {value}: the average counts {value} for padding, "
                                f"which no neutral spec expresses")
    elif value != float("-inf"):
        native.notes.append(
            f"tf.pad pads with {value:g}, not -inf: the max equals the neutral spec only where "
            f"every window that reaches the padding has a maximum >= {value:g}, e.g. on "
            f"non-negative inputs when padding with 0")


def _pair(value):
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value)
    return int(value)


def _torch(native, args, defaulted):
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
    if args.get("divisor_override") is not None:
        native.notes.append("divisor_override: the neutral spec has no fixed divisor; "
                            "sum pooling is avg * k_h * k_w")
    if mode == "lp":
        native.notes.append("PyTorch's lp_pool2d raises x, not |x|, to the power p (negative "
                            "inputs with odd p differ) and over-counts the ceil overhang")
    native.spec = spec


def _tensorflow(native, args, defaulted):
    f = native.function
    if f.startswith("tf.keras"):
        kernel = _pair(args.get("pool_size", (2, 2)))
        stride = args.get("strides")
        if stride is None:
            native.defaulted.append("stride")
        stride = _pair(stride) if stride is not None else kernel
        padding = str(args.get("padding", "valid")).lower()
        layout = "NCHW" if args.get("data_format") == "channels_first" else "NHWC"
        mode = "max" if "Max" in f else "avg"
        dilation = 1
    else:
        kernel = _pair(args.get("ksize", args.get("window_shape")))
        stride = args.get("strides")
        if stride is None:
            native.defaulted.append("stride")
            stride = 1  # tf.nn.pool's default
        stride = _pair(stride)
        padding = args.get("padding", "VALID")
        layout = "NCHW" if args.get("data_format") in ("NCHW", "channels_first") else "NHWC"
        mode = ("max" if "max" in f else "avg" if "avg" in f
                else str(args["pooling_type"]).lower().replace("average", "avg"))
        dilation = _pair(args.get("dilations") or 1)
    kernel = kernel if not isinstance(kernel, tuple) or len(kernel) == 2 else kernel[1:3]
    stride = stride if not isinstance(stride, tuple) or len(stride) == 2 else stride[1:3]
    if isinstance(padding, str):
        padding = padding.lower()
    else:  # explicit [[0, 0], [t, b], [l, r], [0, 0]] (NHWC)
        padding = tuple(tuple(p) for p in padding[1:3]) if layout == "NHWC" else tuple(
            tuple(p) for p in padding[2:4])
    native.spec = dict(pool_size=kernel, mode=mode, stride=stride, padding=padding,
                       dilation=dilation, ceil_mode=False,
                       count_include_pad=not (mode == "avg" and padding == "same"),
                       layout=layout, p=2.0)
    if mode == "avg" and padding == "same":
        native.notes.append("TensorFlow's SAME average excludes padding from the divisor")


def _mxnet(native, args, defaulted):
    f = native.function
    if f == "npx.pooling":
        kernel = _pair(args["kernel"])
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
    native.keeps_padding_windows = convention == "full"
    native.spec = dict(pool_size=kernel, mode=mode, stride=_pair(stride), padding=_pair(pad),
                       dilation=1, ceil_mode=convention == "full", count_include_pad=include,
                       layout=layout, p=p)


def _paddle(native, args, defaulted):
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
    elif isinstance(padding, (list, tuple)) and len(padding) == 4:
        layout = args.get("data_format", "NCHW")
        pairs = padding[2:4] if layout == "NCHW" else padding[1:3]
        padding = tuple(tuple(p) for p in pairs)
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
    if args.get("divisor_override") is not None:
        native.notes.append("divisor_override in Paddle is not sum/d (it rescales the mean)")


_TO_SPEC = {"pytorch": _torch, "tensorflow": _tensorflow, "mxnet": _mxnet, "paddle": _paddle}
