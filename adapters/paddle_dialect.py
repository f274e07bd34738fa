"""How Paddle users spell pooling: ``paddle.nn`` layers and ``paddle.nn.functional``; see
``pooling_xfw.dialect``.

NCHW unless ``data_format`` says otherwise; the stride defaults to the window; the average
excludes padding by default (``exclusive=True``); ``ceil_mode`` keeps a window that starts in
the padding; ``padding`` may be ``[t, b, l, r]`` or pairs in the data format's order.
"""
from __future__ import annotations

from pooling_xfw.dialect import NO, adaptive_or_global, is_adaptive_or_global, pair
from pooling_xfw.ops import ADAPTIVE

IMPORTS = ("import paddle", "from paddle import nn", "import paddle.nn.functional as F")

SIGNATURES = {
    "nn.MaxPool2D": ("kernel_size stride padding return_mask ceil_mode data_format name",
                     (NO, None, 0, False, False, "NCHW", None)),
    "nn.AvgPool2D": ("kernel_size stride padding ceil_mode exclusive divisor_override "
                     "data_format name", (NO, None, 0, False, True, None, "NCHW", None)),
    "F.max_pool2d": ("x kernel_size stride padding return_mask ceil_mode data_format name",
                     (NO, NO, None, 0, False, False, "NCHW", None)),
    "F.avg_pool2d": ("x kernel_size stride padding ceil_mode exclusive divisor_override "
                     "data_format name", (NO, NO, None, 0, False, True, None, "NCHW", None)),
    "F.lp_pool2d": ("x norm_type kernel_size stride padding ceil_mode data_format name",
                    (NO, NO, NO, None, 0, False, "NCHW", None)),
    "nn.LPPool2D": ("norm_type kernel_size stride padding ceil_mode data_format name",
                    (NO, NO, None, 0, False, "NCHW", None)),
    "nn.AdaptiveAvgPool2D": ("output_size data_format name", (NO, "NCHW", None)),
    "nn.AdaptiveMaxPool2D": ("output_size return_mask name", (NO, False, None)),
    "F.adaptive_avg_pool2d": ("x output_size data_format name", (NO, NO, "NCHW", None)),
    "F.adaptive_max_pool2d": ("x output_size return_mask name", (NO, NO, False, None)),
}

SPELLINGS = {
    **{f"paddle.nn.{name}": f"nn.{name}" for name in (
        "MaxPool2D", "AvgPool2D", "LPPool2D", "AdaptiveAvgPool2D", "AdaptiveMaxPool2D")},
    **{f"paddle.nn.functional.{name}": f"F.{name}" for name in (
        "max_pool2d", "avg_pool2d", "lp_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d")},
}

OTHER_POOLING = ("paddle.nn.MaxUnPool2D", "paddle.nn.functional.max_unpool2d")
NOT_A_FUNCTION: dict[str, str] = {}

DEFAULT_IMPORTS = {"paddle": "paddle", "nn": "paddle.nn", "F": "paddle.nn.functional"}

NAN_POLICY = "returns NaN only when it is the last element scanned"


def nan_policy(native) -> str:
    """Its adaptive (and global) max ignores NaN (measured: the conventions table)."""
    return NAN_POLICY if native.op.has_window else "ignores NaN"


def _padding(padding, layout: str):
    """Paddle's ``padding``: a string, an int or pair, ``[t, b, l, r]``, or (before, after)
    pairs for H and W or for every axis in ``layout``'s order."""
    if isinstance(padding, str):
        return padding.lower()
    if isinstance(padding, (list, tuple)) and len(padding) == 4 and all(
            isinstance(v, int) for v in padding):
        return (padding[0], padding[1]), (padding[2], padding[3])  # [t, b, l, r]
    if isinstance(padding, (list, tuple)) and len(padding) in (2, 4) and all(
            isinstance(p, (list, tuple)) for p in padding):
        pairs = padding if len(padding) == 2 else (
            padding[2:4] if layout == "NCHW" else padding[1:3])
        return tuple(tuple(pair(tuple(p))) for p in pairs)
    return pair(padding)


def to_spec(native, args) -> None:
    """A Paddle call into the neutral spec."""
    f = native.function
    if is_adaptive_or_global(f):
        adaptive_or_global(native, args, args.get("data_format", "NCHW"))
        if native.op is ADAPTIVE and native.spec["mode"] == "max":
            native.notes.append("Paddle's adaptive max ignores NaN and gives float32's lowest "
                                "for a bin of only -inf")
        return
    mode = "max" if "max" in f.lower() else "avg" if "avg" in f.lower() else "lp"
    kernel = pair(args["kernel_size"])
    stride = args.get("stride")
    if stride is None:
        native.defaulted.append("stride")
    layout = args.get("data_format", "NCHW")
    ceil = bool(args.get("ceil_mode", False))
    native.keeps_padding_windows = ceil
    native.spec = dict(pool_size=kernel, mode=mode,
                       stride=pair(stride) if stride is not None else kernel,
                       padding=_padding(args.get("padding", 0), layout), dilation=1,
                       ceil_mode=ceil, count_include_pad=not bool(args.get("exclusive", True)),
                       layout=layout, p=float(args.get("norm_type", 2)))
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
