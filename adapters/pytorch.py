"""PyTorch: pooling of 1, 2 or 3 spatial axes computed with ``torch.nn.functional`` pooling
(``F.max_pool1d`` ... ``F.avg_pool3d``, one per rank; 2-D named below).

Native: ``F.max_pool2d`` / ``F.avg_pool2d`` with symmetric pads of at most half the (dilated)
window (PyTorch's limit), ``ceil_mode`` (PyTorch's drop rule is the reference's),
``count_include_pad``, and dilation for max.  Emulated (see ``pooling_xfw.planner``):
SAME and SAME_LOWER (PyTorch's pooling has no
``padding='same'``: ``F.pad`` with pads computed from ``x.shape`` when the code runs, so it
holds for every size), asymmetric and wide pads, dilated avg, lp (``F.lp_pool2d`` has no padding and
over-counts ceil overhang).  Layout: NCHW kernels, NHWC transposed (cloned with NCHW
strides for integers and for a 3-D max or min: the channels-last integer kernel overflows its
index, ``max_pool3d``'s channels-last index leaves out the depth, and a one-channel transpose
would still count as channels-last).  Computes max/min in the input
dtype (signed integers and uint8; wider unsigned in float64, exact for values < 2**53, larger
refused), avg/lp in float32 or float64 (``F.avg_pool2d`` of int64 truncates).  1-D max takes
no integers (``max_pool1d``: "not implemented for 'Long'"): they are pooled in float64.

Adaptive: native ``F.adaptive_max_pool2d`` / ``F.adaptive_avg_pool2d`` (PyTorch's bins are the
reference's; an axis given as ``None`` is the input's size read when the code runs, ``H =
x.shape[2]``, never a number baked in); they take floats only ("not implemented for
'Int'"), so integers are pooled in float64 (exact below 2**53, larger refused).  Global max/avg:
native ``F.adaptive_*_pool2d(x, 1)`` (torchvision's ``AdaptiveAvgPool2d((1, 1))`` head) for
floats, ``F.max_pool2d`` with the whole window for integers; global lp as pool2d's lp.
"""
from __future__ import annotations

import numpy as np

from pooling_xfw.adapter import bind, bind_adaptive, bind_grad
from pooling_xfw.argmax_plan import unpool_pads
from pooling_xfw.backend import (ANY_CPU_PLAN, FIRST_MACHINE, FLOATS, INTEL_XEON, MAX_TIES_BACKWARD,
                                  NAN_IN_A_MAX, ONLY_INFINITE, ZEN4, Backend, recorded)
from pooling_xfw.plan import Attr
from pooling_xfw.emulation import output_size_at_run_time
from pooling_xfw.spec import keeps_a_dropped_window
from pooling_xfw.vocabulary import Vocabulary

from . import pytorch_dialect

#: the modes its average kernels compute (no index, so no channels-last index to go wrong)
AVERAGES = ("avg", "lp")


def _c_strides(array: np.ndarray) -> tuple[int, ...]:
    """The strides of a fresh C-ordered array of ``array``'s shape and dtype."""
    strides, step = [], array.itemsize
    for n in reversed(array.shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def _pair_kwargs(**kwargs):
    return {k: v for k, v in kwargs.items() if v is not None}


class Torch(Vocabulary):
    name = "pytorch"
    max_keeps_inf = True  # measured: -inf for a window of only -inf, at every rank
    imports = ("import torch", "import torch.nn.functional as F")
    functions = {"maximum": "torch.maximum", "abs": "torch.abs", "ones_like": "torch.ones_like",
                 "zeros_like": "torch.zeros_like", "where": "torch.where"}
    layouts = ("NCHW",)
    pool_dtypes = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8")

    def namespace(self):
        import torch
        import torch.nn.functional as F

        return {"torch": torch, "F": F, "nn": torch.nn}

    def to_tensor(self, ns, array):
        # torch.from_numpy shares the array's memory and keeps its strides: copy an array that is
        # read-only (a memory map opened "r": the tensor would be writable; PyTorch warns) or not
        # laid out with plain C strides (numpy calls a one-channel NCHW view of NHWC data
        # contiguous, but its strides are channels-last to PyTorch, whose integer max pool then
        # takes the channels-last kernel)
        if not array.flags.writeable or array.strides != _c_strides(array):
            array = np.array(array, order="C", copy=True)
        return ns["torch"].from_numpy(array)

    def to_numpy(self, ns, tensor):
        return tensor.detach().contiguous().numpy()

    backward = ("x.requires_grad_()", "{forward}", "y.backward(grad_output)",
                "grad_input = x.grad")

    def gradient(self, ns, forward, x, grad_output):
        x.requires_grad_()
        y = forward(x)
        y.backward(grad_output)
        return y, x.grad

    def at_rank(self, rank):
        # max_pool1d: "not implemented for 'Long'" (nor Int, Short, Char, Byte)
        return self.variant(pool_dtypes=FLOATS) if rank == 1 else self

    def pad(self, plan, v, pads, value, layout):
        # F.pad's pairs run from the last axis back: (left, right, top, bottom) in 2-D; a
        # channels-last layout's C comes first, unpadded
        pairs = ((0, 0),) * (layout[-1] == "C") + tuple(reversed(pads))
        return plan.call("F.pad", v, tuple(p for pair in pairs for p in pair), value=value)

    def pool(self, plan, v, mode, kernel, stride, layout):
        return plan.call(f"F.{mode}_pool{len(kernel)}d", v, kernel_size=tuple(kernel),
                         stride=tuple(stride))

    def cast(self, plan, v, dtype):
        return plan.call(".to", v, Attr(f"torch.{dtype}"))

    def arange(self, plan, count):
        return plan.call("torch.arange", count, dtype=Attr("torch.float64"))

    def invert(self, plan, v):
        return plan.call("torch.bitwise_not", v)

    def transpose(self, plan, v, perm):
        v = plan.call(".permute", v, *perm)
        if perm[1] == len(perm) - 1 and (np.dtype(plan.computes_in).kind in "iu" or (
                len(perm) == 5 and plan.mode not in AVERAGES)):  # to NC...
            # its channels-last kernels (measured, CPU): the integer max pool indexes with the
            # element type (int8 overflows past 127 cells); max_pool3d starts a window's index at
            # its first cell's h*W + w, without d*H*W, so a window of only -inf (padding
            # included) names depth 0: its indices, and its gradient, go to another cell (an
            # average pools no index: it takes the permuted tensor as it is).  Hand it an NC...
            # copy.  Not ``.contiguous()``: with one channel the permuted tensor is
            # already contiguous, keeps its channels-last strides and so the channels-last
            # kernel; a clone in contiguous_format gets channels-first strides
            v = plan.call(".clone", v, memory_format=Attr("torch.contiguous_format"))
        return v

    def native(self, plan, geom, v, layout, mode, divisor_override=None):
        spec = geom.spec
        if spec.padding in ("same", "same_lower"):
            return None  # no SAME: the pads alternate with the size's parity (run-time pads)
        if not geom.symmetric or keeps_a_dropped_window(spec):
            return None  # its ceil_mode drops a window that starts in the padding
        pads = tuple(g.pad_before for g in geom.axes)
        if any(p > k // 2 for p, k in zip(pads, spec.pool_size)):
            return None  # "pad should be at most half of kernel size" (CPU: raw, not dilated)
        common = dict(kernel_size=spec.pool_size, stride=spec.stride,
                      padding=pads if any(pads) else None,
                      ceil_mode=True if spec.ceil_mode else None)
        rank, dilated = len(geom.axes), any(d != 1 for d in spec.dilation)
        if mode == "max":
            return plan.call(f"F.max_pool{rank}d", v, **_pair_kwargs(
                **common, dilation=spec.dilation if dilated else None))
        if dilated:
            return None  # F.avg_pool2d has no dilation
        if rank == 3 and any(g.size < k for g, k in zip(geom.axes, spec.pool_size)):
            # measured: avg_pool3d refuses an axis shorter than the window, its padding aside
            # ("input image (T: 1 H: 5 W: 5) smaller than kernel size"); 1-D and 2-D take it
            return None  # the planner pads explicitly, then pools
        return plan.call(f"F.avg_pool{rank}d", v, **_pair_kwargs(
            **common, count_include_pad=None if spec.count_include_pad or divisor_override
            else False, divisor_override=divisor_override))

    index_dtypes = FLOATS

    def native_indices(self, plan, geom, v, layout):
        """``F.max_pool2d(..., return_indices=True)``: plane indices (``y*W + x``), where its
        ``max_pool2d`` takes the spec (``native``'s rule)."""
        pair = self.native_with(plan, geom, v, layout, "return_indices")
        return None if pair is None else (*pair, "plane")

    unpool_dtypes = FLOATS

    def native_unpool(self, plan, geom, v, indices, layout):
        """``F.max_unpool2d(x, indices, kernel, stride, padding, output_size)``: plane
        indices; its output size must lie within a stride of its default (a ValueError)."""
        spec = geom.spec
        return plan.call(f"F.max_unpool{len(geom.output_size)}d", v, indices,
                         kernel_size=spec.pool_size, stride=spec.stride,
                         padding=unpool_pads(spec), output_size=list(geom.output_size))

    def native_divisor(self, plan, geom, v, layout):
        """``F.avg_pool2d/3d(..., divisor_override=d)``: the window's sum over ``d`` (its
        "sum" rule); ``avg_pool1d`` has no ``divisor_override``."""
        spec = geom.spec
        if spec.divisor_of != "sum" or len(geom.axes) == 1 or plan.computes_in in self.avg_missing:
            return None
        return self.native(plan, geom, v, layout, "avg", divisor_override=spec.divisor)


    def adaptive_dtypes(self):
        return FLOATS

    def native_adaptive(self, plan, geom, v, layout, mode):
        return plan.call(f"F.adaptive_{mode}_pool{len(geom.axes)}d", v,
                         output_size_at_run_time(plan, geom))

    def native_global(self, plan, geom, v, layout, mode):
        if plan.computes_in not in FLOATS:
            return None  # its adaptive pooling takes no integers: F.max_pool2d does
        return plan.call(f"F.adaptive_{mode}_pool{len(geom.axes)}d", v, 1)


VOCABULARY = Torch()
pool2d, plan, run = bind(VOCABULARY)
adaptive_pool2d, global_pool2d, adaptive_plan, global_plan = bind_adaptive(VOCABULARY)
pool2d_grad = bind_grad(VOCABULARY)

MEASURED = (ZEN4, INTEL_XEON)
BACKEND = Backend(
    name="pytorch", title="PyTorch", dialect=pytorch_dialect,
    module="torch", packages=("torch",), position=200,
    aliases=("torch", "pt"),
    large_build="a CUDA build of several GB",  # the index's default torch wheel, unpinned
    known={
        **recorded(NAN_IN_A_MAX, {"propagated": MEASURED}, ("pool2d", "adaptive", "global"),
                   FLOATS),
        **recorded(NAN_IN_A_MAX, {"propagated": (FIRST_MACHINE, *MEASURED)}, "pool2d",
                   "float32"),
        **recorded(ONLY_INFINITE, {"infinity": (FIRST_MACHINE, *MEASURED)}, "pool2d", FLOATS),
        **recorded(ONLY_INFINITE, {"infinity": MEASURED}, ("adaptive", "global"), FLOATS),
        # an emulated plan (dilation with explicit padding) shares a tie as its maximum does
        **recorded(MAX_TIES_BACKWARD, {"agree": ANY_CPU_PLAN, "split": ANY_CPU_PLAN,
                                       "uneven": ANY_CPU_PLAN}),
    })
