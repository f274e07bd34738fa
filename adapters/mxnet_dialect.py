"""How MXNet users spell pooling: Gluon layers, ``npx.pooling`` and the legacy NDArray/Symbol
``Pooling`` operator (GluonCV's ``F.Pooling`` in ``hybrid_forward``); see
``pooling_xfw.dialect``.

NCHW unless ``layout`` says otherwise; a Gluon layer's stride defaults to its window,
``npx.pooling``'s to 1; ``pooling_convention='full'`` (a layer's ``ceil_mode``) keeps a window
that starts in the padding; extra ``pad`` entries are dropped, silently.
"""
from __future__ import annotations

from pooling_xfw.dialect import NO, adaptive_or_global, is_adaptive_or_global, pair
from pooling_xfw.errors import PoolingError
from pooling_xfw.ops import GLOBAL

IMPORTS = ("from mxnet import np as mnp, npx", "from mxnet.gluon import nn", "npx.set_np()")

_OPERATOR = ("data kernel pool_type global_pool cudnn_off pooling_convention stride pad p_value "
             "count_include_pad layout name")
SIGNATURES = {
    "nn.MaxPool2D": ("pool_size strides padding layout ceil_mode",
                     ((2, 2), None, 0, "NCHW", False)),
    "nn.AvgPool2D": ("pool_size strides padding ceil_mode layout count_include_pad",
                     ((2, 2), None, 0, False, "NCHW", True)),
    "nn.GlobalAvgPool2D": ("layout", ("NCHW",)),
    "nn.GlobalMaxPool2D": ("layout", ("NCHW",)),
    "mx.nd.contrib.AdaptiveAvgPooling2D": ("data output_size name", (NO, 1, None)),
    # MXNet 1.9.1's positional order; kernel is needed unless global_pool=True
    "npx.pooling": ("data kernel pool_type global_pool cudnn_off pooling_convention stride pad "
                    "p_value count_include_pad layout",
                    (NO, None, "max", False, False, "valid", None, None, None, None, None)),
    # the same registered operator through the legacy NDArray API (GluonCV's F.Pooling in
    # hybrid_forward is mx.nd.Pooling or mx.sym.Pooling); the source plan runs mx.nd's
    "mx.nd.Pooling": (_OPERATOR, (NO, None, "max", False, False, "valid", None, None, None,
                                  None, None, None)),
    "mx.sym.Pooling": (_OPERATOR, (NO, None, "max", False, False, "valid", None, None, None,
                                   None, None, None)),
}

SPELLINGS = {
    **{f"mxnet.gluon.nn.{name}": f"nn.{name}" for name in (
        "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D")},
    **{f"mxnet.{module}.contrib.AdaptiveAvgPooling2D": "mx.nd.contrib.AdaptiveAvgPooling2D"
       for module in ("nd", "ndarray", "sym", "symbol")},
    "mxnet.npx.pooling": "npx.pooling",
    **{f"{module}.Pooling": "mx.nd.Pooling" for module in ("mxnet.nd", "mxnet.ndarray")},
    **{f"{module}.Pooling": "mx.sym.Pooling" for module in ("mxnet.sym", "mxnet.symbol")},
}
#: hybrid_forward's ``F`` is mx.nd or mx.sym: ``F.Pooling`` is the same operator either way
WRITTEN = {"F.Pooling": "mxnet.nd.Pooling"}

OTHER_POOLING = tuple(f"mxnet.gluon.nn.{n}" for n in ("MaxPool1D", "MaxPool3D", "AvgPool1D",
                                                      "AvgPool3D"))
NOT_A_FUNCTION: dict[str, str] = {}

DEFAULT_IMPORTS = {"mx": "mxnet", "mxnet": "mxnet", "nn": "mxnet.gluon.nn",
                   "gluon": "mxnet.gluon", "npx": "mxnet.npx", "nd": "mxnet.nd",
                   "sym": "mxnet.sym", "F": "mxnet.nd"}

NAN_POLICY = "ignores NaN"
_LEGACY = ("mx.nd.Pooling", "mx.sym.Pooling", "mx.nd.contrib.AdaptiveAvgPooling2D")


def source_call(plan, native, x):
    """The legacy NDArray API runs on a legacy array: the call between ``as_nd_ndarray`` and
    ``as_np_ndarray`` (mx.sym's operator run as mx.nd's); None for the others."""
    if native.function not in _LEGACY:
        return None
    legacy = plan.call(".as_nd_ndarray", x)
    function = "mx.nd.Pooling" if native.function.endswith("Pooling") else native.function
    pooled = plan.call(function, legacy, **native.arguments)
    return plan.call(".as_np_ndarray", pooled)


def to_spec(native, args) -> None:
    """An MXNet call into the neutral spec."""
    f = native.function
    if is_adaptive_or_global(f):
        # measured: MXNet raises on None in an output size
        adaptive_or_global(native, args, args.get("layout", "NCHW"), none_keeps_an_axis=False)
        return
    if f in ("npx.pooling", "mx.nd.Pooling", "mx.sym.Pooling"):
        global_window = bool(args.get("global_pool", False))
        if args.get("kernel") is None and not global_window:
            raise PoolingError(f"call: {f} needs 'kernel' (unless global_pool=True)")
        kernel = pair(args["kernel"]) if args.get("kernel") is not None else (1, 1)
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
        global_window = False
        kernel = pair(args.get("pool_size", (2, 2)))
        stride = args.get("strides")
        if stride is None:
            native.defaulted.append("stride")
        stride = pair(stride) if stride is not None else kernel
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
        native.notes.append("pooling_convention='same' is rejected for 2-D pooling in MXNet "
                            "1.9.1")
    if mode == "lp" and p % 2:
        native.notes.append(f"MXNet's lp pooling raises x, not |x|, to p={p:g}: with an odd p, "
                            f"negative inputs differ from the neutral spec")
    native.keeps_padding_windows = convention == "full"
    # measured (the cross-check test): MXNet's average of a kept window of padding only is 0
    native.kept_average = "zero"
    native.spec = dict(pool_size=kernel, mode=mode, stride=pair(stride), padding=pair(pad),
                       dilation=1, ceil_mode=convention == "full", count_include_pad=include,
                       layout=layout, p=p)
    if global_window:
        _global_window(native)


def _global_window(native) -> None:
    """``global_pool=True``: the window is the whole input, whatever its size (the call's
    kernel, stride, pad and pooling_convention are ignored): global pooling, keeping H and W."""
    spec = native.spec
    if spec["mode"] not in ("max", "avg", "lp"):
        raise PoolingError(f"call: {native.function}(pool_type={spec['mode']!r}, "
                           f"global_pool=True) has no neutral spec; allowed: pool_type 'max', "
                           f"'avg' or 'lp'")
    native.op = GLOBAL
    native.global_window = True
    native.spec = dict(mode=spec["mode"], p=spec["p"], keepdims=True, layout=spec["layout"])
    native.keeps_padding_windows = False
    native.defaulted = []
    native.notes[:] = [n for n in native.notes if "pad=" not in n and "convention" not in n]
    native.notes.append("global_pool=True: the window is the whole input (kernel, stride and "
                        "pad ignored): global pooling, H and W kept as 1")
