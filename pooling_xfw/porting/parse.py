"""Read a framework's own pooling call, as a user writes it, into the neutral spec.

The text is parsed with ``ast`` (never evaluated): arguments must be literals, or names bound
earlier in the same text to literals or ``tf.constant(literal)``.  Each framework's defaults
apply (a layer's stride is its window; ``npx.pooling`` and ``tf.nn.pool`` default to 1; Paddle
averages exclude padding; TensorFlow is NHWC).  What the neutral spec cannot hold is said, not
guessed: a ``tf.pad`` with zeros before a max pool (``pad_value``), MXNet ``full`` / Paddle
``ceil_mode`` keeping a window that starts in the padding (``keeps_padding_windows``), MXNet
dropping extra pad entries; and refused with the reason: ``divisor_override`` (Paddle's is not
even sum/d), ``return_indices``/``return_mask``, ``global_pool``, padding ops other than
TensorFlow's constant ``tf.pad``.
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
        "tf.keras.layers.MaxPool2D": ("pool_size strides padding data_format name",
                                      ((2, 2), None, "valid", None, None)),
        "tf.keras.layers.AveragePooling2D": ("pool_size strides padding data_format name",
                                             (_NO, None, "valid", None, None)),
    },
    "mxnet": {
        "nn.MaxPool2D": ("pool_size strides padding layout ceil_mode",
                         ((2, 2), None, 0, "NCHW", False)),
        "nn.AvgPool2D": ("pool_size strides padding ceil_mode layout count_include_pad",
                         ((2, 2), None, 0, False, "NCHW", True)),
        # MXNet 1.9.1's positional order
        "npx.pooling": ("data kernel pool_type global_pool cudnn_off pooling_convention stride "
                        "pad p_value count_include_pad layout",
                        (_NO, _NO, "max", False, False, "valid", None, None, None, None, None)),
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
        if old.endswith("."):
            if name.startswith(old):
                name = new + name[len(old):]
        elif name.split(".")[-1] == old:  # a class alias, e.g. MaxPooling2D -> MaxPool2D
            name = name[: len(name) - len(old)] + new
    if "." not in name:  # a bare name, imported as is (MaxPool2D, max_pool2d)
        matches = [k for k in _SIGNATURES[framework] if k.split(".")[-1] == name]
        name = matches[0] if matches else name
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
    text = ast.unparse(node)
    if text in ("np.inf", "math.inf", "numpy.inf", "float('inf')", 'float("inf")'):
        return float("inf")
    if text in ("float('-inf')", 'float("-inf")'):
        return float("-inf")
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise PoolingError(f"call: argument {ast.unparse(node)!r} is not a literal; allowed: "
                           f"literals or names bound to literals earlier in the text") from None


def _bind(framework: str, function: str, call: ast.Call, names: dict) -> dict:
    """The call's arguments by name, as literals (the input excluded); defaults are not filled
    in: each framework's reader applies its own."""
    params, defaults = _SIGNATURES[framework][function]
    params = params.split()
    if len(call.args) > len(params):
        raise PoolingError(f"call: {function} got {len(call.args)} positional arguments; "
                           f"allowed: at most {len(params)} ({', '.join(params)})")
    given = dict(zip(params, call.args))
    for kw in call.keywords:
        if kw.arg not in params:
            raise PoolingError(f"call: {function} got an unexpected argument {kw.arg!r}; "
                               f"allowed: {', '.join(params)}")
        if kw.arg in given:
            raise PoolingError(f"call: {function} got {kw.arg!r} twice")
        given[kw.arg] = kw.value
    args = {}
    for name, default in zip(params, defaults):
        if name in given and name not in ("input", "x", "data"):
            args[name] = _literal(given[name], names)
        elif name not in given and default is _NO and name not in ("input", "x", "data"):
            raise PoolingError(f"call: {function} needs {name!r}")
    return args


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
    try:
        return _read(framework, text, tree)
    except PoolingError:
        raise
    except (IndexError, KeyError, StopIteration, TypeError, ValueError, OverflowError,
            AttributeError) as exc:
        raise PoolingError(f"call: cannot read {text!r} ({type(exc).__name__}: {exc}); "
                           f"allowed: {', '.join(_SIGNATURES[framework])} with literal "
                           f"arguments") from None


def _read(framework: str, text: str, tree: ast.Module) -> NativeCall:
    names, pads, pool, layer = {}, None, None, None
    for stmt in tree.body:
        value = stmt.value if isinstance(stmt, (ast.Assign, ast.Expr)) else None
        target = stmt.targets[0].id if isinstance(stmt, ast.Assign) and len(
            stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) else None
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Call):
            value = value.func  # the layer applied at once: MaxPool2D(2)(x)
        func = _dotted(value.func) if isinstance(value, ast.Call) and isinstance(
            value.func, (ast.Name, ast.Attribute)) else None
        if func and pool is None and _is_pooling(framework, func):
            pool, layer = value, target
        elif func and framework == "tensorflow" and func in ("tf.pad", "pad") and pads is None:
            pads = value
        elif target and func in ("tf.constant", "constant") or (
                target and not isinstance(value, ast.Call) and value is not None):
            names[target] = _literal(value, names)
        elif func is not None and pool is not None and func == layer:
            continue  # the layer applied to an input: pool2d(X)
        else:
            raise PoolingError(
                f"call: {ast.unparse(stmt)!r} is not understood; allowed: one {framework} "
                f"pooling call, literal bindings" + (", and tf.pad(..., 'CONSTANT') before it"
                                                     if framework == "tensorflow" else ""))
    if pool is None:
        raise PoolingError(f"call: no {framework} pooling call in {text!r}; allowed: "
                           f"{', '.join(_SIGNATURES[framework])}")
    function = _canonical(framework, _dotted(pool.func))
    args = _bind(framework, function, pool, names)
    _refuse_unexpressible(function, args)
    native = NativeCall(framework, text, function, args, {})
    _TO_SPEC[framework](native, args)
    if pads is not None:
        _tf_pad_recipe(native, pads, names)
    return native


def _refuse_unexpressible(function: str, args: dict) -> None:
    """Arguments that change what the call returns beyond any neutral spec: say so."""
    for name, harmless in (("return_indices", False), ("return_mask", False),
                           ("global_pool", False), ("divisor_override", None)):
        if args.get(name, harmless) not in (harmless, None):
            raise PoolingError(f"call: {function}({name}={args[name]!r}) has no neutral spec; "
                               f"allowed: {name}={harmless!r}")


def _is_pooling(framework: str, name: str) -> bool:
    try:
        _canonical(framework, name)
    except PoolingError:
        return False
    return True


def _tf_pad_recipe(native: NativeCall, call: ast.Call, names: dict) -> None:
    params = ["tensor", "paddings", "mode", "constant_values", "name"]
    given = dict(zip(params, call.args))
    given.update({k.arg: k.value for k in call.keywords})
    paddings = _literal(given["paddings"], names)
    mode = _literal(given["mode"], names) if "mode" in given else "CONSTANT"
    value = _literal(given["constant_values"], names) if "constant_values" in given else 0
    if str(mode).upper() != "CONSTANT" or len(paddings) != 4:
        raise PoolingError(f"call: tf.pad(mode={mode!r}) with {paddings}; allowed: CONSTANT "
                           f"padding of a 4-D NHWC tensor (other modes have no neutral spec)")
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


_TO_SPEC = {"pytorch": _torch, "tensorflow": _tensorflow, "mxnet": _mxnet, "paddle": _paddle}
