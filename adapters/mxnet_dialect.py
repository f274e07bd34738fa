"""How MXNet users spell pooling: Gluon layers, ``npx.pooling`` and the legacy NDArray/Symbol
``Pooling`` operator (GluonCV's ``F.Pooling`` in ``hybrid_forward``), over 1, 2 or 3 spatial
axes (``MaxPool1D``, a 3-tuple ``kernel``); see ``pooling_xfw.dialect``.

Channels first (NCW, NCHW, NCDHW: the operator's from its kernel's length) unless ``layout``
says otherwise; a Gluon layer's stride defaults to its window,
``npx.pooling``'s to 1; ``pooling_convention='full'`` (a layer's ``ceil_mode``) keeps a window
that starts in the padding; extra ``pad`` entries are dropped, silently.
"""
from __future__ import annotations

from pooling_xfw.dialect import NO, adaptive_or_global, at_rank, is_adaptive_or_global, pair
from pooling_xfw.errors import PoolingError
from pooling_xfw.layout import of_rank, spatial_list
from pooling_xfw.ops import GLOBAL

IMPORTS = ("from mxnet import np as mnp, npx", "from mxnet.gluon import nn", "npx.set_np()")

_OPERATOR = ("data kernel pool_type global_pool cudnn_off pooling_convention stride pad p_value "
             "count_include_pad layout name")
SIGNATURES = {
    # MXNet 1.9.1's positional orders: the 1-D layers put layout before ceil_mode
    "nn.MaxPool1D": ("pool_size strides padding layout ceil_mode", (2, None, 0, "NCW", False)),
    "nn.MaxPool2D": ("pool_size strides padding layout ceil_mode",
                     ((2, 2), None, 0, "NCHW", False)),
    "nn.MaxPool3D": ("pool_size strides padding ceil_mode layout",
                     ((2, 2, 2), None, 0, False, "NCDHW")),
    "nn.AvgPool1D": ("pool_size strides padding layout ceil_mode count_include_pad",
                     (2, None, 0, "NCW", False, True)),
    "nn.AvgPool2D": ("pool_size strides padding ceil_mode layout count_include_pad",
                     ((2, 2), None, 0, False, "NCHW", True)),
    "nn.AvgPool3D": ("pool_size strides padding ceil_mode layout count_include_pad",
                     ((2, 2, 2), None, 0, False, "NCDHW", True)),
    **{f"nn.Global{mode}Pool{n}D": ("layout", (layout,)) for mode in ("Avg", "Max")
       for n, layout in ((1, "NCW"), (2, "NCHW"), (3, "NCDHW"))},
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
    **{f"mxnet.gluon.nn.{kind}{n}D": f"nn.{kind}{n}D" for kind in (
        "MaxPool", "AvgPool", "GlobalAvgPool", "GlobalMaxPool") for n in (1, 2, 3)},
    **{f"mxnet.{module}.contrib.AdaptiveAvgPooling2D": "mx.nd.contrib.AdaptiveAvgPooling2D"
       for module in ("nd", "ndarray", "sym", "symbol")},
    "mxnet.npx.pooling": "npx.pooling",
    **{f"{module}.Pooling": "mx.nd.Pooling" for module in ("mxnet.nd", "mxnet.ndarray")},
    **{f"{module}.Pooling": "mx.sym.Pooling" for module in ("mxnet.sym", "mxnet.symbol")},
}
#: hybrid_forward's ``F`` is mx.nd or mx.sym: ``F.Pooling`` is the same operator either way
WRITTEN = {"F.Pooling": "mxnet.nd.Pooling"}

OTHER_POOLING: tuple[str, ...] = ()
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
        adaptive_or_global(native, args, args.get("layout", at_rank("NCHW", f)),
                           none_keeps_an_axis=False)
        return
    if f in ("npx.pooling", "mx.nd.Pooling", "mx.sym.Pooling"):
        global_window = bool(args.get("global_pool", False))
        if args.get("kernel") is None and not global_window:
            raise PoolingError(f"call: {f} needs 'kernel' (unless global_pool=True)")
        kernel = pair(args["kernel"]) if args.get("kernel") is not None else (1, 1)
        layout = args.get("layout") or _layout_of(kernel)
        if args.get("kernel") is None:  # a global window: of the layout's rank
            kernel = (1,) * (len(layout) - 2)
        stride = args.get("stride")
        if stride is None:
            native.defaulted.append("stride")
            stride = 1  # npx.pooling's default stride is 1, unlike the layers
        pad = args.get("pad") or 0
        mode = str(args.get("pool_type", "max"))
        convention = args.get("pooling_convention", "valid")
        include = args.get("count_include_pad")
        include = True if include is None else bool(include)
        p = float(args.get("p_value") or 2)
    else:
        global_window = False
        layout = args.get("layout", at_rank("NCHW", f))
        kernel = pair(args.get("pool_size", (2,) * (len(layout) - 2)))
        stride = args.get("strides")
        if stride is None:
            native.defaulted.append("stride")
        stride = pair(stride) if stride is not None else kernel
        pad = args.get("padding", 0)
        mode = "max" if "Max" in f else "avg"
        convention = "full" if args.get("ceil_mode") else "valid"
        include = bool(args.get("count_include_pad", True))
        p = 2.0
    spatial = len(layout) - 2
    divisor = None
    if mode == "sum":  # sum pooling: the average with a divisor of 1
        mode, divisor = "avg", 1
    if isinstance(pad, (list, tuple)) and len(pad) > spatial:
        first = {1: "entry", 2: "two entries", 3: "three entries"}[spatial]
        native.notes.append(f"MXNet uses only the first {first} of pad={tuple(pad)}: it pools "
                            f"with pad={tuple(pad[:spatial])}, silently (measured at every "
                            f"rank)")
        pad = tuple(pad[:spatial])
    if convention == "same":
        native.notes.append(f"pooling_convention='same' raises for {spatial}-D pooling in "
                            f"MXNet 1.9.1 (measured)")
    if mode == "lp" and p % 2:
        native.notes.append(f"MXNet's lp pooling raises x, not |x|, to p={p:g}: with an odd p, "
                            f"negative inputs differ from the neutral spec")
    # measured (the cross-check test): MXNet's max of a kept window of padding only is the
    # dtype's lowest finite value, its average 0 whether padding counts or not
    native.empty_max, native.empty_average = "lowest", "zero"
    native.spec = dict(pool_size=kernel, mode=mode, stride=pair(stride), padding=pair(pad),
                       dilation=1, ceil_mode="keep" if convention == "full" else False,
                       count_include_pad=include, layout=layout, p=p)
    if divisor is not None:
        native.spec.update(divisor=divisor, divisor_of="sum")
        native.notes.append("pool_type='sum': the average with divisor=1, each window's sum")
    if global_window:
        _global_window(native)


def _layout_of(kernel) -> str:
    """The operator's default layout for a kernel of one int per spatial axis: NCW, NCHW or
    NCDHW (an int kernel: 2-D)."""
    spatial = len(kernel) if isinstance(kernel, tuple) and len(kernel) in (1, 2, 3) else 2
    return of_rank("NCHW", spatial)


def _global_window(native) -> None:
    """``global_pool=True``: the window is the whole input, whatever its size (the call's
    kernel, stride, pad and pooling_convention are ignored): global pooling, keeping its
    spatial axes."""
    spec = native.spec
    if spec["mode"] not in ("max", "avg", "lp") or spec.get("divisor") is not None:
        pool_type = "sum" if spec.get("divisor") is not None else spec["mode"]
        raise PoolingError(f"call: {native.function}(pool_type={pool_type!r}, "
                           f"global_pool=True) has no neutral spec; allowed: pool_type 'max', "
                           f"'avg' or 'lp'")
    native.op = GLOBAL
    native.global_window = True
    native.spec = dict(mode=spec["mode"], p=spec["p"], keepdims=True, layout=spec["layout"])
    native.defaulted = []
    native.notes[:] = [n for n in native.notes if "pad=" not in n and "convention" not in n]
    native.notes.append(f"global_pool=True: the window is the whole input (kernel, stride and "
                        f"pad ignored): global pooling, {spatial_list(spec['layout'])} kept "
                        f"as 1")
