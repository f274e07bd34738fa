"""How Paddle users spell pooling: ``paddle.nn`` layers and ``paddle.nn.functional``, over 1,
2 or 3 spatial axes (``MaxPool1D``, ``avg_pool3d``); see ``pooling_xfw.dialect``.

Channels first (NCL, NCHW, NCDHW) unless ``data_format`` says otherwise (1-D max and average
pooling take no data_format: NCL only); the stride defaults to the window; the average
excludes padding by default (``exclusive=True``); ``ceil_mode`` keeps a window that starts in
the padding; ``padding`` may be ``[t, b, l, r]`` or pairs in the data format's order.
"""
from __future__ import annotations

from pooling_xfw.dialect import (NO, adaptive_or_global, allow_pads_of_a_window, at_rank,
                                 is_adaptive_or_global, pair)
from pooling_xfw.layout import spatial_axes
from pooling_xfw.ops import ADAPTIVE

IMPORTS = ("import paddle", "from paddle import nn", "import paddle.nn.functional as F")

_MAX = "kernel_size stride padding return_mask ceil_mode"
_AVG = "kernel_size stride padding ceil_mode exclusive divisor_override"
SIGNATURES = {
    # 1-D: no data_format (NCL only), and the average's exclusive comes before ceil_mode
    "nn.MaxPool1D": (f"{_MAX} name", (NO, None, 0, False, False, None)),
    "nn.AvgPool1D": ("kernel_size stride padding exclusive ceil_mode name",
                     (NO, None, 0, True, False, None)),
    "F.max_pool1d": (f"x {_MAX} name", (NO, NO, None, 0, False, False, None)),
    "F.avg_pool1d": ("x kernel_size stride padding exclusive ceil_mode name",
                     (NO, NO, None, 0, True, False, None)),
    **{f"nn.MaxPool{n}D": (f"{_MAX} data_format name", (NO, None, 0, False, False, layout, None))
       for n, layout in ((2, "NCHW"), (3, "NCDHW"))},
    **{f"nn.AvgPool{n}D": (f"{_AVG} data_format name",
                           (NO, None, 0, False, True, None, layout, None))
       for n, layout in ((2, "NCHW"), (3, "NCDHW"))},
    **{f"F.max_pool{n}d": (f"x {_MAX} data_format name",
                           (NO, NO, None, 0, False, False, layout, None))
       for n, layout in ((2, "NCHW"), (3, "NCDHW"))},
    **{f"F.avg_pool{n}d": (f"x {_AVG} data_format name",
                           (NO, NO, None, 0, False, True, None, layout, None))
       for n, layout in ((2, "NCHW"), (3, "NCDHW"))},
    **{f"F.lp_pool{n}d": ("x norm_type kernel_size stride padding ceil_mode data_format name",
                          (NO, NO, NO, None, 0, False, layout, None))
       for n, layout in ((1, "NCL"), (2, "NCHW"))},
    **{f"nn.LPPool{n}D": ("norm_type kernel_size stride padding ceil_mode data_format name",
                          (NO, NO, None, 0, False, layout, None))
       for n, layout in ((1, "NCL"), (2, "NCHW"))},
    "nn.AdaptiveAvgPool1D": ("output_size name", (NO, None)),
    **{f"nn.AdaptiveAvgPool{n}D": ("output_size data_format name", (NO, layout, None))
       for n, layout in ((2, "NCHW"), (3, "NCDHW"))},
    **{f"nn.AdaptiveMaxPool{n}D": ("output_size return_mask name", (NO, False, None))
       for n in (1, 2, 3)},
    "F.adaptive_avg_pool1d": ("x output_size name", (NO, NO, None)),
    **{f"F.adaptive_avg_pool{n}d": ("x output_size data_format name", (NO, NO, layout, None))
       for n, layout in ((2, "NCHW"), (3, "NCDHW"))},
    **{f"F.adaptive_max_pool{n}d": ("x output_size return_mask name", (NO, NO, False, None))
       for n in (1, 2, 3)},
}

SPELLINGS = {
    **{f"paddle.nn.{name}": f"nn.{name}" for name in (
        "LPPool1D", "LPPool2D",
        *(f"{kind}{n}D" for kind in ("MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool")
          for n in (1, 2, 3)))},
    **{f"paddle.nn.functional.{name}": f"F.{name}" for name in (
        "lp_pool1d", "lp_pool2d",
        *(f"{kind}{n}d" for kind in ("max_pool", "avg_pool", "adaptive_avg_pool",
                                     "adaptive_max_pool") for n in (1, 2, 3)))},
}

#: the unpooling read after a pooling that returns its mask (``porting.unpooling``): the
#: parameters besides the values and indices, and whether it takes them (a functional)
UNPOOL_SIGNATURES = {
    **{f"nn.MaxUnPool{n}D": ("kernel_size stride padding data_format output_size name",
                             (NO, None, 0, layout, None, None), False)
       for n, layout in ((1, "NCL"), (2, "NCHW"), (3, "NCDHW"))},
    **{f"F.max_unpool{n}d": ("kernel_size stride padding data_format output_size name",
                             (NO, None, 0, layout, None, None), True)
       for n, layout in ((1, "NCL"), (2, "NCHW"), (3, "NCDHW"))},
}
UNPOOLING = {
    **{f"paddle.nn.MaxUnPool{n}D": f"nn.MaxUnPool{n}D" for n in (1, 2, 3)},
    **{f"paddle.nn.functional.max_unpool{n}d": f"F.max_unpool{n}d" for n in (1, 2, 3)},
}
#: a layer applied: ``unpool(x, indices)`` (its output size is the layer's)
UNPOOL_APPLIED = ""

OTHER_POOLING = (*(f"paddle.nn.MaxUnPool{n}D" for n in (1, 2, 3)),
                 *(f"paddle.nn.functional.max_unpool{n}d" for n in (1, 2, 3)))
NOT_A_FUNCTION: dict[str, str] = {}

DEFAULT_IMPORTS = {"paddle": "paddle", "nn": "paddle.nn", "F": "paddle.nn.functional"}

NAN_POLICY = "returns NaN only when it is the last element scanned"


def nan_policy(native) -> str:
    """Its adaptive (and global) max ignores NaN, and so does its max with
    ``return_mask=True`` (measured: the conventions table)."""
    return NAN_POLICY if native.op.has_window and native.op.outputs == 1 else "ignores NaN"


#: Paddle's names of the 1-D layouts (L: length)
_LAYOUTS = {"NCL": "NCW", "NLC": "NWC"}


def _padding(padding, layout: str):
    """Paddle's ``padding``: a string, an int, one int per spatial axis, (before, after) for
    each spatial axis flat (``[t, b, l, r]``; ``[before, after]`` in 1-D), or (before, after)
    pairs for the spatial axes or for every axis in ``layout``'s order."""
    spatial = len(layout) - 2
    if isinstance(padding, str):
        return padding.lower()
    if isinstance(padding, (list, tuple)) and all(isinstance(v, int) for v in padding):
        if len(padding) == 2 * spatial:
            return tuple((padding[2 * i], padding[2 * i + 1]) for i in range(spatial))
        return pair(padding)
    if isinstance(padding, (list, tuple)) and len(padding) in (spatial, spatial + 2) and all(
            isinstance(p, (list, tuple)) for p in padding):
        pairs = padding if len(padding) == spatial else [
            padding[i] for i in spatial_axes(len(layout), layout)]
        return tuple(tuple(pair(tuple(p))) for p in pairs)
    return pair(padding)


def to_spec(native, args) -> None:
    """A Paddle call into the neutral spec."""
    f = native.function
    layout = at_rank(_LAYOUTS.get(args.get("data_format"), args.get("data_format", "NCHW")), f)
    if is_adaptive_or_global(f):
        adaptive_or_global(native, args, layout)
        if native.op is ADAPTIVE and native.spec["mode"] == "max":
            native.notes.append("Paddle's adaptive max ignores NaN and gives float32's lowest "
                                "for a bin of only -inf")
        return
    mode = "max" if "max" in f.lower() else "avg" if "avg" in f.lower() else "lp"
    kernel = pair(args["kernel_size"])
    stride = args.get("stride")
    if stride is None:
        native.defaulted.append("stride")
    # measured: Paddle keeps a last window that starts in the padding, takes pads of a window
    # or more, and gives such a window's max as float32's lowest (float64 too)
    native.empty_max = "lowest"
    padding = _padding(args.get("padding", 0), layout)
    native.spec = dict(pool_size=kernel, mode=mode,
                       stride=pair(stride) if stride is not None else kernel,
                       padding=padding, dilation=1,
                       ceil_mode="keep" if args.get("ceil_mode", False) else False,
                       count_include_pad=not bool(args.get("exclusive", True)),
                       layout=layout, p=float(args.get("norm_type", 2)))
    allow_pads_of_a_window(native)
    if native.spec.get("allow_empty_windows"):
        native.notes.append("a pad of a window or more: Paddle pools windows of padding only "
                            "(max float32's lowest, average 0, or NaN where padding is not "
                            "counted)")
    if mode == "avg" and "exclusive" not in args:
        native.notes.append("Paddle's average excludes padding by default (exclusive=True)")
    if args.get("divisor_override") is not None:  # measured: its average x cells / d
        native.spec.update(divisor=args["divisor_override"], divisor_of="mean")
        native.notes.append("Paddle's divisor_override scales the average: each window's "
                            "average (its exclusive and ceil rules) times its cells over it, "
                            "not PyTorch's sum over it (the same where padding counts and no "
                            "window overhangs)")
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
