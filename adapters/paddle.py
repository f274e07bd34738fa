"""Paddle: ``pool2d`` computed with ``paddle.nn.functional`` pooling.

Native: ``F.max_pool2d`` / ``F.avg_pool2d`` with ``padding='SAME'`` for the spec's ``same``
(max, and avg excluding padding: Paddle's own SAME puts the odd cell after, as TensorFlow), else
with per-side pads ``[top, bottom, left, right]``
(any size; validated first, since Paddle silently accepts negative pads and windows larger
than the input), ``exclusive = not count_include_pad`` (Paddle's default ``exclusive=True``
excludes padding), ``ceil_mode`` at every size (Paddle keeps a last window that starts in the padding and fills
it with -3.4e38 or NaN: where the spec drops one at some size, ``spec.ceil_keeps_every_window``
False, the output is cropped to the spec's window count computed from the input's shape when
the code runs, ``emulation.keep_spec_windows``), NCHW and NHWC.  Emulated with pads computed from
the input's shape when the code runs (for every size): SAME_LOWER, and SAME for avg counting
the padding.  Emulated: dilation (Paddle has none), lp, and
include-pad avg with asymmetric pads:
measured on 3.3.1, ``exclusive=False`` with pads ``[2, 0, 0, 1]`` divides the last column's
windows by 6 instead of 9 (its divisor clips a window's end with the start-side pad).
float64 max/min: measured on 3.3.1, its float64 max pooling starts from (and pads with)
float32's lowest, -3.4028e38, padded or not, so a window of values all below it (-1e300, or
-inf) gives -3.4028e38: a float64 max is taken as strided slices with ``paddle.maximum``
(which propagates NaN), after ``F.pad`` with -inf.
Paddle pools no integers on CPU: integer max/min are computed in float64 and cast back, exact for |values| < 2**53 (larger
values are refused, not rounded); float16 in float32 (its CPU ``pad3d`` and ``maximum``
kernels have no float16).  uint16 and wider unsigned inputs are handed over widened:
``paddle.to_tensor`` reads a uint16 array as bfloat16.

Adaptive: native ``F.adaptive_avg_pool2d`` (NCHW and NHWC) and ``F.adaptive_max_pool2d`` (NCHW
only: ``data_format`` is a TypeError, so NHWC is transposed); Paddle's bins are the reference's.
Global max/avg: the same ops with output size 1.  Measured on 3.3.1: its adaptive max ignores
NaN and gives -3.4028e38 for a bin of only -inf (reported as differences), and its float64
adaptive max starts from float32's lowest like its max pooling (-1e300 gives -3.4028e38), so a
float64 adaptive max is the elementwise maximum (``paddle.maximum``) of each bin's taps,
gathered with ``paddle.gather``: their number depends on the size, so that code holds for the
input size it was planned for (the native ops hold for every size; an output axis given as None
is the input's size read when the code runs).  No float16 or integer kernels: as for pool2d.
"""
from __future__ import annotations

import numpy as np

from pooling_xfw.adapter import bind, bind_adaptive, bind_grad
from pooling_xfw.argmax_plan import unpool_pads, unpooled_shape
from pooling_xfw.backend import (ANY_CPU, ANY_CPU_PLAN, FIRST_MACHINE, FLOAT64_BACKWARD_IN_FLOAT32,
                                  INTEL_XEON, MAX_TIES_BACKWARD, NAN_IN_A_MAX,
                                  ONLY_INFINITE, ZEN4, Backend, recorded)
from pooling_xfw.emulation import keep_spec_windows, output_size_at_run_time
from pooling_xfw.vocabulary import Vocabulary, index_list
from pooling_xfw.layout import channels_last
from pooling_xfw.spec import ceil_keeps_every_window, size_dependent

from . import paddle_dialect


def _data_format(layout: str) -> str:
    """Paddle's name of ``layout``: its 1-D layouts say L for the length (``"NCL"``)."""
    return layout.replace("W", "L") if len(layout) == 3 else layout


def _format_argument(layout: str) -> dict:
    """``data_format=...`` for a channels-last layout; nothing for its channels-first default
    (which its 1-D pooling, having no ``data_format``, is always given)."""
    return {"data_format": _data_format(layout)} if channels_last(layout) else {}


class Paddle(Vocabulary):
    name = "paddle"
    imports = ("import paddle", "import paddle.nn.functional as F")
    functions = {"maximum": "paddle.maximum", "abs": "paddle.abs",
                 "ones_like": "paddle.ones_like",
                 "zeros_like": "paddle.zeros_like", "where": "paddle.where"}
    layouts = ("NCHW", "NHWC")
    pool_dtypes = ("float32", "float64")  # float16: no CPU kernel for pad3d or maximum
    # uint16 is not here: paddle.to_tensor reads a uint16 array as bfloat16
    tensor_dtypes = ("float16", "float32", "float64", "int8", "uint8", "int16", "int32", "int64")
    # F.max_pool2d of float64 starts from float32's lowest: np.full((1, 1, 3, 3), -1e300) gives
    # -3.4028e38 with padding=1 and without
    max_pool_start = {"float64": float(np.finfo(np.float32).min)}

    def namespace(self):
        import paddle
        import paddle.nn.functional as F

        return {"paddle": paddle, "F": F, "nn": paddle.nn}

    def to_tensor(self, ns, array):
        return ns["paddle"].to_tensor(array)

    def to_numpy(self, ns, tensor):
        return tensor.numpy()

    backward = ("x.stop_gradient = False", "{forward}",
                "grad_input, = paddle.grad([y], [x], [grad_output])")

    def gradient(self, ns, forward, x, grad_output):
        x.stop_gradient = False
        y = forward(x)
        grad_input, = ns["paddle"].grad([y], [x], [grad_output])
        return y, grad_input

    def at_rank(self, rank):
        # 1-D pooling has no data_format (NCL only: max_pool1d, avg_pool1d, adaptive_*_pool1d)
        return self.variant(layouts=("NCHW",)) if rank == 1 else self

    def pad(self, plan, v, pads, value, layout):
        # F.pad's pairs run from the last axis back: [left, right, top, bottom] in 2-D
        return plan.call("F.pad", v, [p for pair in reversed(pads) for p in pair], value=value,
                         data_format=_data_format(layout))

    def pool(self, plan, v, mode, kernel, stride, layout):
        return plan.call(f"F.{mode}_pool{len(kernel)}d", v, kernel_size=tuple(kernel),
                         stride=tuple(stride), **_format_argument(layout))

    def power(self, plan, v, exponent):
        # ``t ** 0.333`` rounds a Python exponent to float32 (float64 results off by ~3e-8):
        # pass the exponent as a tensor of the working dtype
        e = plan.call("paddle.full", [], exponent, dtype=plan.computes_in)
        return plan.call("paddle.pow", v, e)

    def cast(self, plan, v, dtype):
        return plan.call("paddle.cast", v, dtype)

    def arange(self, plan, count):
        return plan.call("paddle.arange", count, dtype="float64")

    index_layouts = ("NCHW",)  # return_mask: "only support data_format 'NCHW'"
    index_dtype = "int32"  # return_mask's
    unpool_crash = ("its max_unpool corrupts its heap on index -1 (measured: \"malloc(): "
                    "invalid next size\", then the process hangs)")

    def native_unpool(self, plan, geom, v, indices, layout):
        """``F.max_unpool2d(x, indices, kernel, stride, padding, output_size=...)``, NCHW.
        ``max_unpool1d`` takes the output's whole shape (measured: ``output_size=[30]`` is
        read as ``[30, 1]`` and refused, "dim 0 must be between 0 and 2"; ``[N, C, 30]``
        works)."""
        spec = geom.spec
        rank = len(geom.output_size)
        size = unpooled_shape(geom, layout) if rank == 1 else list(geom.output_size)
        return plan.call(f"F.max_unpool{rank}d", v, indices, kernel_size=spec.pool_size,
                         stride=spec.stride, padding=unpool_pads(spec), output_size=size)

    def native_indices(self, plan, geom, v, layout):
        """``F.max_pool2d(..., return_mask=True)``: plane indices (``y*W + x``, int32), where its
        ``max_pool2d`` takes the spec in one call, with symmetric pads (asymmetric pads and a
        mask: an error) and no SAME."""
        if not geom.symmetric or geom.spec.padding in ("same", "same_lower"):
            return None
        pair = self.native_with(plan, geom, v, layout, "return_mask")
        return None if pair is None else (*pair, "plane")

    def transpose(self, plan, v, perm):
        return plan.call("paddle.transpose", v, perm=list(perm))

    def native(self, plan, geom, v, layout, mode):
        spec = geom.spec
        if any(d != 1 for d in spec.dilation):
            return None
        same = spec.padding in ("same", "same_lower")
        if same and (spec.padding == "same_lower" or spec.ceil_mode
                     or (mode == "avg" and spec.count_include_pad)):
            return None  # not its own SAME: pads computed from the input's shape at run time
        crop = False
        if spec.ceil_mode and size_dependent(spec):
            ceil = True  # at every size, also where ceil and floor agree
            # its ceil_mode keeps a window the spec drops at some sizes: cropped at run time
            crop = not ceil_keeps_every_window(spec)
        elif geom.output_rule() == "floor":
            ceil = False
        else:
            return None  # neither its floor nor its ceil_mode makes exactly these windows
        kwargs = dict(kernel_size=spec.pool_size, stride=spec.stride)
        if same:
            kwargs["padding"] = "SAME"  # its own SAME (odd cell after): holds for every size
        elif any(pair != (0, 0) for pair in geom.pads):
            # flat (before, after) per axis in order: [top, bottom, left, right] in 2-D (3-D
            # refuses three pairs: "Invalid padding")
            kwargs["padding"] = [p for pair in geom.pads for p in pair]
        if ceil:
            kwargs["ceil_mode"] = True
        if mode == "avg":
            if spec.count_include_pad and not geom.symmetric:
                return None  # its include-pad divisor clips the end with the *start* pad
            kwargs["exclusive"] = not spec.count_include_pad  # Paddle's default excludes
        y = plan.call(f"F.{mode}_pool{len(geom.axes)}d", v, **kwargs,
                      **_format_argument(layout))
        return keep_spec_windows(plan, geom, y, layout) if crop else y


    def adaptive_layouts(self, mode):
        # F.adaptive_max_pool2d has no data_format (NCHW only)
        return ("NCHW",) if mode == "max" else self.layouts

    global_layouts = adaptive_layouts  # its global max is F.adaptive_max_pool2d(x, 1)

    def native_adaptive(self, plan, geom, v, layout, mode):
        return plan.call(f"F.adaptive_{mode}_pool{len(geom.axes)}d", v,
                         list(output_size_at_run_time(plan, geom)), **_format_argument(layout))

    def native_global(self, plan, geom, v, layout, mode):
        if mode == "lp":
            return None
        return plan.call(f"F.adaptive_{mode}_pool{len(geom.axes)}d", v, 1,
                         **_format_argument(layout))

    def gather(self, plan, v, indices, axis):
        index = plan.call("paddle.to_tensor", index_list(indices), dtype="int64")
        return plan.call("paddle.gather", v, index, axis=axis)

    def concat(self, plan, values, axis):
        return plan.call("paddle.concat", list(values), axis=axis)


VOCABULARY = Paddle()
pool2d, plan, run = bind(VOCABULARY)
adaptive_pool2d, global_pool2d, adaptive_plan, global_plan = bind_adaptive(VOCABULARY)
pool2d_grad = bind_grad(VOCABULARY)

MEASURED = (ZEN4, INTEL_XEON)
BACKEND = Backend(
    name="paddle", title="Paddle", dialect=paddle_dialect,
    module="paddle", packages=("paddlepaddle",), position=400,
    aliases=("paddlepaddle", "pd"),
    environment={"GLOG_minloglevel": "2",  # its glog
                 "FLAGS_call_stack_level": "0"},  # one-line errors
    causes={FLOAT64_BACKWARD_IN_FLOAT32: "Paddle's float64 avg-pooling backward divides by a "
                                         "float32 divisor"},
    known={
        # float16 is pooled in float32 (no CPU kernels); float64 max is paddle.maximum of
        # slices (or of each bin's taps)
        **recorded(NAN_IN_A_MAX, {"NaN only as the last cell scanned": MEASURED}, "pool2d",
                   "float16"),
        **recorded(NAN_IN_A_MAX, {"NaN only as the last cell scanned": (FIRST_MACHINE,
                                                                         *MEASURED)},
                   "pool2d", "float32"),
        **recorded(NAN_IN_A_MAX, {"ignored": MEASURED}, ("adaptive", "global"),
                   ("float16", "float32")),
        **recorded(NAN_IN_A_MAX, {"propagated": ANY_CPU}, ("pool2d", "adaptive", "global"),
                   "float64"),
        # float16 pooled in float32: float32's lowest overflows back to -inf in float16
        **recorded(ONLY_INFINITE, {"infinity": (FIRST_MACHINE, *MEASURED)}, "pool2d",
                   "float16"),
        **recorded(ONLY_INFINITE, {"finite extreme": (FIRST_MACHINE, *MEASURED)}, "pool2d",
                   "float32"),
        **recorded(ONLY_INFINITE, {"infinity": MEASURED}, ("adaptive", "global"), "float16"),
        **recorded(ONLY_INFINITE, {"finite extreme": MEASURED}, ("adaptive", "global"),
                   "float32"),
        **recorded(ONLY_INFINITE, {"infinity": ANY_CPU}, ("pool2d", "adaptive", "global"),
                   "float64"),
        # its emulations (float64 max/min, min) share a tie as their maximum does; its float64
        # avg backward is float32-accurate
        **recorded(MAX_TIES_BACKWARD, {"agree": ANY_CPU_PLAN, "split": ANY_CPU_PLAN,
                                       "uneven": ANY_CPU_PLAN, "float32": ANY_CPU_PLAN}),
    })
