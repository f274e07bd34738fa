"""How PyTorch users spell pooling: ``torch.nn`` layers, ``torch.nn.functional`` and the aten
op ``torch.max_pool2d`` (the porting assistant reads them; see ``pooling_xfw.dialect``), over
1, 2 or 3 spatial axes (``MaxPool1d``, ``max_pool3d``).

Channels first always (NCW, NCHW, NCDHW); a layer's or function's stride defaults to its window (``stride=None``); the
average counts padding unless ``count_include_pad=False``.
"""
from __future__ import annotations

from pooling_xfw.dialect import (NO, Recipe, adaptive_or_global, at_rank, is_adaptive_or_global,
                                 pair)
from pooling_xfw.plan import Plan, Var

IMPORTS = ("import torch", "from torch import nn", "import torch.nn.functional as F")

_MAX = ("kernel_size stride padding dilation return_indices ceil_mode",
        (NO, None, 0, 1, False, False))
_AVG = ("kernel_size stride padding ceil_mode count_include_pad divisor_override",
        (NO, None, 0, False, True, None))
_LP = ("norm_type kernel_size stride ceil_mode", (NO, NO, None, False))


def _functional(layer):
    """A functional's signature from its layer's: the input first, then the same parameters
    (``F.max_pool*d`` puts ``ceil_mode`` before ``return_indices``)."""
    params, defaults = layer
    params = params.replace("return_indices ceil_mode", "ceil_mode return_indices")
    return f"input {params}", (NO, *defaults)


SIGNATURES = {
    **{f"nn.MaxPool{n}d": _MAX for n in (1, 2, 3)},
    # AvgPool1d has no divisor_override
    "nn.AvgPool1d": (_AVG[0].rsplit(" ", 1)[0], _AVG[1][:-1]),
    **{f"nn.AvgPool{n}d": _AVG for n in (2, 3)},
    **{f"nn.LPPool{n}d": _LP for n in (1, 2, 3)},
    **{f"F.max_pool{n}d": _functional(_MAX) for n in (1, 2, 3)},
    "F.avg_pool1d": _functional((_AVG[0].rsplit(" ", 1)[0], _AVG[1][:-1])),
    **{f"F.avg_pool{n}d": _functional(_AVG) for n in (2, 3)},
    **{f"F.lp_pool{n}d": _functional(_LP) for n in (1, 2, 3)},
    # the aten op itself: no return_indices; stride [] (the window) by default
    "torch.max_pool2d": ("input kernel_size stride padding dilation ceil_mode",
                         (NO, NO, None, 0, 1, False)),
    **{f"nn.AdaptiveAvgPool{n}d": ("output_size", (NO,)) for n in (1, 2, 3)},
    **{f"nn.AdaptiveMaxPool{n}d": ("output_size return_indices", (NO, False))
       for n in (1, 2, 3)},
    **{f"F.adaptive_avg_pool{n}d": ("input output_size", (NO, NO)) for n in (1, 2, 3)},
    **{f"F.adaptive_max_pool{n}d": ("input output_size return_indices", (NO, NO, False))
       for n in (1, 2, 3)},
}

SPELLINGS = {
    **{f"{module}.{name}{n}d": f"nn.{name}{n}d"
       for module in ("torch.nn", "torch.nn.modules.pooling")
       for name in ("MaxPool", "AvgPool", "LPPool", "AdaptiveAvgPool", "AdaptiveMaxPool")
       for n in (1, 2, 3)},
    **{f"torch.nn.functional.{name}{n}d": f"F.{name}{n}d" for name in (
        "max_pool", "avg_pool", "lp_pool", "adaptive_avg_pool", "adaptive_max_pool")
       for n in (1, 2, 3)},
    "torch.max_pool2d": "torch.max_pool2d",
}

#: the unpooling read after a pooling that returns its indices (``porting.unpooling``): the
#: parameters besides the values and indices, and whether it takes them (a functional)
UNPOOL_SIGNATURES = {
    **{f"nn.MaxUnpool{n}d": ("kernel_size stride padding", (NO, None, 0), False)
       for n in (1, 2, 3)},
    **{f"F.max_unpool{n}d": ("kernel_size stride padding output_size", (NO, None, 0, None), True)
       for n in (1, 2, 3)},
}
UNPOOLING = {
    **{f"{module}.MaxUnpool{n}d": f"nn.MaxUnpool{n}d"
       for module in ("torch.nn", "torch.nn.modules.pooling") for n in (1, 2, 3)},
    **{f"torch.nn.functional.max_unpool{n}d": f"F.max_unpool{n}d" for n in (1, 2, 3)},
}
#: a layer applied: ``unpool(values, indices, output_size=None)``
UNPOOL_APPLIED = "output_size"

OTHER_POOLING = (
    *(f"torch.nn.{n}" for n in ("MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
                                "FractionalMaxPool2d", "FractionalMaxPool3d")),
    *(f"torch.nn.functional.{n}" for n in ("max_unpool1d", "max_unpool2d", "max_unpool3d",
                                           "fractional_max_pool2d", "fractional_max_pool3d")),
)
NOT_A_FUNCTION: dict[str, str] = {}

DEFAULT_IMPORTS = {"torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional"}

NAN_POLICY = "propagates NaN"


def to_spec(native, args) -> None:
    """A PyTorch call into the neutral spec (channels first; the stride defaults to the
    window)."""
    f = native.function
    layout = at_rank("NCHW", f)
    if is_adaptive_or_global(f):
        adaptive_or_global(native, args, layout)
        return
    mode = "max" if "max" in f.lower() else "avg" if "avg" in f.lower() else "lp"
    kernel = pair(args["kernel_size"])
    native.spec = dict(pool_size=kernel, mode=mode, stride=pair(args.get("stride") or kernel),
                       padding=pair(args.get("padding", 0)),
                       dilation=pair(args.get("dilation", 1)),
                       ceil_mode=bool(args.get("ceil_mode", False)),
                       count_include_pad=bool(args.get("count_include_pad", True)),
                       layout=layout, p=float(args.get("norm_type", 2)))
    if args.get("stride") is None:
        native.defaulted.append("stride")
    if args.get("divisor_override") is not None:  # the window's sum over it
        native.spec.update(divisor=args["divisor_override"], divisor_of="sum")
        native.notes.append("divisor_override: each window's sum over it, count_include_pad "
                            "ignored")
    if mode == "lp":
        native.notes.append(f"PyTorch's lp_pool{len(layout) - 2}d raises x, not |x|, to the "
                            f"power p (negative inputs with odd p differ) and over-counts the "
                            f"ceil overhang")


def _reshape_plan(output_size, mode: str, layout: str, shape) -> Plan:
    oh, ow = output_size
    plan = Plan("pytorch", ("import torch",))
    n, c, h, w = shape if layout == "NCHW" else (shape[0], shape[3], shape[1], shape[2])
    v = Var("x") if layout == "NCHW" else plan.call(".permute", Var("x"), 0, 3, 1, 2)
    v = plan.call(".reshape", v, n, c, oh, h // oh, ow, w // ow)
    v = plan.call(".mean" if mode == "avg" else ".amax", v, (3, 5))
    if layout == "NHWC":
        plan.call(".permute", v, 0, 2, 3, 1)
    return plan


RECIPES = {
    # the same idiom in JAX and numpy: exact where o divides the axis; elsewhere the reshape
    # raises, and a version that crops to o * (H // o) first drops the last H % o rows
    "reshape": Recipe(
        "reshape", "x.reshape(N, C, o, H // o, o, W // o) reduced over the two inner axes",
        "the reshape needs H = o * (H // o): other sizes raise, and cropping to o * (H // o) "
        "first drops the last H % o rows (wrong numbers); where it runs, its blocks are the "
        "neutral bins", plan=_reshape_plan),
}
