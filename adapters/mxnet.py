"""MXNet 1.9.1: ``pool2d`` computed with ``npx.pooling``.

Native: ``npx.pooling`` with symmetric pads smaller than the window (MKLDNN rejects
``pad >= kernel``; a 4-tuple ``pad`` is silently cut to its first two values, so per-side pads
are never passed), ``pooling_convention='valid'`` for floor and ``'full'`` for ceil when no
window is dropped at any input size (``full`` keeps a last window that starts in the padding,
PyTorch and the reference drop it: ``spec.ceil_keeps_every_window``), and ``'full'`` cropped to
the spec's window count computed from the input's shape when the code runs where some size
drops one (``emulation.keep_spec_windows``),
``count_include_pad``, NCHW and NHWC layouts.  Emulated: SAME and SAME_LOWER (MXNet has no SAME:
pads computed from the input's shape when the code runs), asymmetric and wide pads,
dilation (MXNet has none), lp.

Padding is done with the legacy ``mx.nd.pad`` (NCHW only, transposed around for NHWC):
``mx.np.pad`` in 1.9.1 ignores ``constant_values`` and always pads with 0, which would let the
padding win a max on negative inputs.  MXNet pools no integers: integer max/min are computed in
float64 and cast back, exact for |values| < 2**53 (larger values are refused, not rounded);
int16 and unsigned inputs wider than 8 bits are handed over widened (it has no such tensors).

Adaptive avg: native ``mx.nd.contrib.AdaptiveAvgPooling2D`` (legacy NDArray, NCHW only; its
bins are the reference's; not in ``npx``).  Adaptive max: MXNet has none, so it is emulated
from ``npx.pooling``: per axis, the max pooling (stride 1) of both bin lengths, concatenated,
and ``mnp.take`` of each bin's window, the bins computed from the input's shape when the code
runs (``emulation._runtime_axis``): the code holds for every size.  An output axis given as None
is the input's size read at run time (``H = x.shape[2]``), never a number baked in.  Global
max/avg: native ``npx.pooling(global_pool=True)`` (Gluon's ``GlobalMaxPool2D`` /
``GlobalAvgPool2D``; it ignores ``kernel`` and ``pad``), NCHW and NHWC.  Its max pooling ignores
NaN and gives the dtype's lowest finite value for a window of only -inf (reported as
differences).
"""
from __future__ import annotations

from pooling_xfw.adapter import bind, bind_adaptive, bind_grad
from pooling_xfw.argmax_plan import cells_of, unpooled_shape
from pooling_xfw.backend import (CONVENTIONS, EARLIER_PROBE, FIRST_MACHINE, FLOATS, GRADIENT_ERROR,
                                  ANY_CPU_PLAN, INTEL_XEON, MAX_TIES_BACKWARD, NAN_IN_A_MAX,
                                  ONLY_INFINITE, ZEN4, Backend, recorded)
from pooling_xfw.emulation import keep_spec_windows, output_size_at_run_time
from pooling_xfw.layout import channels_last, of_rank, permutation
from pooling_xfw.vocabulary import Vocabulary, index_list
from pooling_xfw.spec import ceil_keeps_every_window, size_dependent

from . import mxnet_dialect


def _layout_argument(layout: str) -> dict:
    """``layout=...`` for a channels-last layout; nothing for its channels-first default."""
    return {"layout": layout} if channels_last(layout) else {}


class MXNet(Vocabulary):
    name = "mxnet"
    # measured: its 1-D and 2-D average of a window of padding only, padding not counted, is 0
    # (3-D's NaN); a translation that needs NaN there emulates the divisor at every rank
    avg_empty_is_zero = True
    imports = ("import mxnet as mx", "from mxnet import np as mnp, npx", "npx.set_np()")
    functions = {"maximum": "mnp.maximum", "abs": "mnp.abs", "ones_like": "mnp.ones_like",
                 "zeros_like": "mnp.zeros_like", "where": "mnp.where"}
    layouts = ("NCHW", "NHWC")
    tensor_dtypes = ("float16", "float32", "float64", "int8", "uint8", "int32", "int64")

    def namespace(self):
        import mxnet as mx
        from mxnet import np as mnp, npx

        npx.set_np()
        from mxnet.gluon import nn

        return {"mx": mx, "mnp": mnp, "npx": npx, "nn": nn}

    def to_tensor(self, ns, array):
        return ns["mnp"].array(array, dtype=array.dtype)

    def to_numpy(self, ns, tensor):
        return tensor.asnumpy()

    backward = ("from mxnet import autograd", "x.attach_grad()", "with autograd.record():",
                "    {forward}", "y.backward(grad_output)", "grad_input = x.grad")

    def gradient(self, ns, forward, x, grad_output):
        x.attach_grad()
        with ns["mx"].autograd.record():
            y = forward(x)
        y.backward(grad_output)
        return y, x.grad

    def at_rank(self, rank):
        # contrib.AdaptiveAvgPooling2D is 2-D only (a 3-D or 5-D input is an error)
        return self if rank == 2 else self.variant(adaptive_avg_native=False)

    #: whether its adaptive average is ``contrib.AdaptiveAvgPooling2D`` (2-D only)
    adaptive_avg_native = True

    def pad(self, plan, v, pads, value, layout):
        # mx.nd.pad: 4-D and 5-D channels-first arrays only; a 1-D input gets an H of 1
        first = of_rank("NCHW", len(pads))
        if layout != first:
            v = self.transpose(plan, v, permutation(layout, first))
        if len(pads) == 1:
            v = plan.call("mnp.expand_dims", v, 2)
            pads = ((0, 0), *pads)
        legacy = plan.call(".as_nd_ndarray", v)
        padded = plan.call("mx.nd.pad", legacy, mode="constant",
                           pad_width=(0, 0, 0, 0, *(p for pair in pads for p in pair)),
                           constant_value=value)
        v = plan.call(".as_np_ndarray", padded)
        if len(layout) == 3:
            v = plan.call("mnp.squeeze", v, axis=2)
        return self.transpose(plan, v, permutation(first, layout)) if layout != first else v

    def pool(self, plan, v, mode, kernel, stride, layout):
        return plan.call("npx.pooling", v, kernel=tuple(kernel), stride=tuple(stride),
                         pool_type=mode, **_layout_argument(layout))

    def cast(self, plan, v, dtype):
        return plan.call(".astype", v, dtype)

    unpool_convention = "tensor"
    unpool_crash = "its scatter_nd segfaults on index -1 (measured: the worker exits)"
    # its pipeline's argmax is -1 for a window of only NaN or -inf (its max gives the lowest
    # finite value there, which no cell equals); a window of only float32's lowest is found
    # (measured, float32 and float64: a 2x2 window of NaN or -inf segfaults, or "munmap_chunk():
    # invalid pointer", a window of -3.4028e38 unpools to its cell)
    no_index_at_or_below = "-inf"

    def native_unpool(self, plan, geom, v, indices, layout):
        """MXNet has no unpooling: ``mx.nd.scatter_nd`` of the values at their whole-tensor
        indices into a flat array of the output's size (measured: a cell written twice keeps
        the last value, no sum), reshaped."""
        shape = unpooled_shape(geom, layout)
        total = cells_of(shape)
        where = plan.call(".as_nd_ndarray", self.reshape(plan, indices, (1, -1)))
        values = plan.call(".as_nd_ndarray", self.reshape(plan, v, (-1,)))
        flat = plan.call("mx.nd.scatter_nd", values, where, shape=(plan.let("cells", total),))
        plan.emulate("unpooling: MXNet has none; mx.nd.scatter_nd of the values at their "
                     "indices")
        return self.reshape(plan, plan.call(".as_np_ndarray", flat), shape)

    def arange(self, plan, count):
        return plan.call("mnp.arange", count, dtype="float64")

    def transpose(self, plan, v, perm):
        return plan.call("mnp.transpose", v, axes=tuple(perm))

    def native(self, plan, geom, v, layout, mode):
        spec = geom.spec
        if any(d != 1 for d in spec.dilation) or spec.padding in ("same", "same_lower"):
            return None  # no SAME: pads computed from the input's shape when the code runs
        if not geom.symmetric:
            return None
        pads = tuple(g.pad_before for g in geom.axes)
        if any(p >= k for p, k in zip(pads, spec.pool_size)):
            return None  # MKLDNN: "Check failed: pad_l[0] < kernel[0]"
        crop = False
        if size_dependent(spec):  # ceil_mode, a stride above 1
            convention = "full"  # at every size, also where ceil and floor agree
            # 'full' keeps a window the spec drops at some sizes: cropped at run time
            crop = not ceil_keeps_every_window(spec)
        elif geom.output_rule() == "floor":
            convention = "valid"
        else:
            return None  # neither 'valid' nor 'full' makes exactly these windows
        kwargs = dict(kernel=spec.pool_size, stride=spec.stride, pad=pads, pool_type=mode)
        if convention == "full":
            kwargs["pooling_convention"] = "full"
        if mode == "avg":
            kwargs["count_include_pad"] = spec.count_include_pad
        y = plan.call("npx.pooling", v, **kwargs, **_layout_argument(layout))
        return keep_spec_windows(plan, geom, y, layout) if crop else y


    def adaptive_layouts(self, mode):
        # contrib.AdaptiveAvgPooling2D has no layout (NCHW only)
        return ("NCHW",) if mode == "avg" and self.adaptive_avg_native else self.layouts

    def native_adaptive(self, plan, geom, v, layout, mode):
        if mode != "avg" or not self.adaptive_avg_native:
            return None  # no adaptive max in MXNet, no 1-D or 3-D adaptive average
        legacy = plan.call(".as_nd_ndarray", v)
        pooled = plan.call("mx.nd.contrib.AdaptiveAvgPooling2D", legacy,
                           output_size=output_size_at_run_time(plan, geom))
        return plan.call(".as_np_ndarray", pooled)

    def native_global(self, plan, geom, v, layout, mode):
        if mode == "lp":
            return None
        return plan.call("npx.pooling", v, pool_type=mode, global_pool=True,
                         **_layout_argument(layout))

    def gather(self, plan, v, indices, axis):
        index = plan.call("mnp.array", index_list(indices), dtype="int64")
        return plan.call("mnp.take", v, index, axis=axis)

    def concat(self, plan, values, axis):
        return plan.call("mnp.concatenate", list(values), axis=axis)


VOCABULARY = MXNet()
pool2d, plan, run = bind(VOCABULARY)
adaptive_pool2d, global_pool2d, adaptive_plan, global_plan = bind_adaptive(VOCABULARY)
pool2d_grad = bind_grad(VOCABULARY)

MEASURED = (ZEN4, INTEL_XEON)
EITHER_WAY = f"{ZEN4}, MKLDNN on and off"
MKLDNN_ON = f"{INTEL_XEON}, MKLDNN on (its default)"
NAN_KERNELS = ("MXNet's max pooling runs the MKLDNN kernel picked for the CPU, whose vector max "
               "instructions treat NaN by instruction set (x86's maxps returns its second "
               "operand, ARM's fmax NaN)")
#: its oneDNN backward of an average with ceil_mode, padding not counted and padding (float16
#: and float32; float64 takes MXNet's own kernel and runs)
ONEDNN_DESCRIPTOR = "could not create a descriptor for a pooling forward propagation primitive"
BACKEND = Backend(
    name="mxnet", title="MXNet", dialect=mxnet_dialect,
    module="mxnet", packages=("mxnet",), position=100,
    aliases=("mx", "gluon"),
    # the engine that calls each operator at once in the calling thread: the same kernels,
    # and a small case's call took 245 microseconds, not 432 (the threaded engine's hand-off
    # to its own thread); a large one's the same (118 and 39 ms, max 3x3/s2 and avg 2x2/s2 of
    # 8x64x112x112, against 119 and 41)
    environment={"MXNET_STORAGE_FALLBACK_LOG_VERBOSE": "0", "MXNET_ENGINE_TYPE": "NaiveEngine"},
    known={
        **recorded(NAN_IN_A_MAX, {"ignored": MEASURED}, ("pool2d", "adaptive", "global"),
                   FLOATS),
        **recorded(NAN_IN_A_MAX, {"ignored": (FIRST_MACHINE, *MEASURED)}, "pool2d", "float32"),
        **recorded(ONLY_INFINITE, {"finite extreme": (FIRST_MACHINE, *MEASURED)}, "pool2d",
                   ("float16", "float32")),
        **recorded(ONLY_INFINITE, {"finite extreme": (FIRST_MACHINE, *MEASURED),
                                    "infinity": EARLIER_PROBE}, "pool2d", "float64"),
        **recorded(ONLY_INFINITE, {"finite extreme": MEASURED}, ("adaptive", "global"),
                   FLOATS),
        **recorded(MAX_TIES_BACKWARD, {"agree": ANY_CPU_PLAN}),
        **recorded(CONVENTIONS, {"differs: NaN in the window ignored; the reference propagates NaN": (EITHER_WAY, MKLDNN_ON)},
                   ("NaN in a max window", "NaN in an adaptive max bin (4 -> 3)",
                    "NaN in a global max"), why=NAN_KERNELS),
        **recorded(CONVENTIONS, {"differs: NaN in the window ignored; the reference propagates "
                                 "NaN": MKLDNN_ON},
                   ("1-D NaN in a max window", "3-D NaN in a max window"), why=NAN_KERNELS),
        **recorded(CONVENTIONS, {
            "differs: a NaN in a max window: the reference sends the window's gradient to its "
            "first NaN; mxnet outputs the max of the other cells and sends the gradient to a "
            "cell that is not NaN": (EITHER_WAY, MKLDNN_ON)}, "backward: NaN in a max window",
            why="the gradient goes to the cell the forward's MKLDNN kernel picked"),
        **recorded(CONVENTIONS, {
            "native": (f"{ZEN4}, MKLDNN on", MKLDNN_ON),
            "differs: a window of only -inf: the reference sends its gradient to the window's "
            "first cell; mxnet drops the gradient (0 on every cell the window reads)":
                f"{ZEN4}, MKLDNN off (MXNET_MKLDNN_ENABLED=0)"},
            "backward: max of a window of only -inf",
            why="MXNet's MKLDNN kernels (its x86 builds, on by default) send the gradient of a "
                "window of only -inf to its first cell; its own kernels, which run where MKLDNN "
                "is not used, drop it"),
        **recorded(GRADIENT_ERROR, {ONEDNN_DESCRIPTOR: MEASURED},
                   ("backward: avg ceil_mode, padding not counted (5x5 k2 s2 p1)",
                    "backward: avg ceil_mode, padding not counted, float16 (5x5 k2 s2 p1)",
                    "backward: avg ceil_mode='keep', padding not counted (5x5 k2 s2 p1)"),
                   why="MXNet's oneDNN backward of an average with ceil_mode and padding not "
                       "counted"),
    })
