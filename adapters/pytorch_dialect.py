"""How PyTorch users spell pooling: ``torch.nn`` layers, ``torch.nn.functional`` and the aten
op ``torch.max_pool2d`` (the porting assistant reads them; see ``pooling_xfw.dialect``).

NCHW always; a layer's or function's stride defaults to its window (``stride=None``); the
average counts padding unless ``count_include_pad=False``.
"""
from __future__ import annotations

from pooling_xfw.dialect import NO, Recipe, adaptive_or_global, is_adaptive_or_global, pair
from pooling_xfw.plan import Plan, Var

IMPORTS = ("import torch", "from torch import nn", "import torch.nn.functional as F")

SIGNATURES = {
    "nn.MaxPool2d": ("kernel_size stride padding dilation return_indices ceil_mode",
                     (NO, None, 0, 1, False, False)),
    "nn.AvgPool2d": ("kernel_size stride padding ceil_mode count_include_pad divisor_override",
                     (NO, None, 0, False, True, None)),
    "nn.LPPool2d": ("norm_type kernel_size stride ceil_mode", (NO, NO, None, False)),
    "F.max_pool2d": ("input kernel_size stride padding dilation ceil_mode return_indices",
                     (NO, NO, None, 0, 1, False, False)),
    "F.avg_pool2d": ("input kernel_size stride padding ceil_mode count_include_pad "
                     "divisor_override", (NO, NO, None, 0, False, True, None)),
    "F.lp_pool2d": ("input norm_type kernel_size stride ceil_mode", (NO, NO, NO, None, False)),
    # the aten op itself: no return_indices; stride [] (the window) by default
    "torch.max_pool2d": ("input kernel_size stride padding dilation ceil_mode",
                         (NO, NO, None, 0, 1, False)),
    "nn.AdaptiveAvgPool2d": ("output_size", (NO,)),
    "nn.AdaptiveMaxPool2d": ("output_size return_indices", (NO, False)),
    "F.adaptive_avg_pool2d": ("input output_size", (NO, NO)),
    "F.adaptive_max_pool2d": ("input output_size return_indices", (NO, NO, False)),
}

SPELLINGS = {
    **{f"{module}.{name}": f"nn.{name}" for module in ("torch.nn", "torch.nn.modules.pooling")
       for name in ("MaxPool2d", "AvgPool2d", "LPPool2d", "AdaptiveAvgPool2d",
                    "AdaptiveMaxPool2d")},
    **{f"torch.nn.functional.{name}": f"F.{name}" for name in (
        "max_pool2d", "avg_pool2d", "lp_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d")},
    "torch.max_pool2d": "torch.max_pool2d",
}

OTHER_POOLING = (
    *(f"torch.nn.{n}" for n in ("MaxUnpool2d", "FractionalMaxPool2d", "MaxPool1d", "MaxPool3d",
                                "AvgPool1d", "AvgPool3d")),
    *(f"torch.nn.functional.{n}" for n in ("max_unpool2d", "fractional_max_pool2d")),
)
NOT_A_FUNCTION: dict[str, str] = {}

DEFAULT_IMPORTS = {"torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional"}

NAN_POLICY = "propagates NaN"


def to_spec(native, args) -> None:
    """A PyTorch call into the neutral spec (NCHW; the stride defaults to the window)."""
    f = native.function
    if is_adaptive_or_global(f):
        adaptive_or_global(native, args, "NCHW")
        return
    mode = "max" if "max" in f.lower() else "avg" if "avg" in f.lower() else "lp"
    kernel = pair(args["kernel_size"])
    native.spec = dict(pool_size=kernel, mode=mode, stride=pair(args.get("stride") or kernel),
                       padding=pair(args.get("padding", 0)),
                       dilation=pair(args.get("dilation", 1)),
                       ceil_mode=bool(args.get("ceil_mode", False)),
                       count_include_pad=bool(args.get("count_include_pad", True)),
                       layout="NCHW", p=float(args.get("norm_type", 2)))
    if args.get("stride") is None:
        native.defaulted.append("stride")
    if mode == "lp":
        native.notes.append("PyTorch's lp_pool2d raises x, not |x|, to the power p (negative "
                            "inputs with odd p differ) and over-counts the ceil overhang")


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
