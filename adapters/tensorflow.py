"""TensorFlow: pooling of 1, 2 or 3 spatial axes computed with ``tf.nn`` pooling
(``tf.nn.max_pool1d`` ... ``avg_pool3d``, one per rank; 2-D named below).

Native: ``tf.nn.max_pool2d`` / ``avg_pool2d`` with ``'VALID'``; ``'SAME'`` when the spec is
``same`` (for avg only where the padding does not count: TF's SAME divisor excludes it); max
with explicit per-side pads each smaller than the window (TF's limit); dilated max via
``tf.nn.pool`` (stride 1, no padding only).  TF has no ceil mode, no avg padding argument and no
``count_include_pad``: those are emulated (explicit ``tf.pad`` with -inf or 0, a ones mask for
the divisor); ceil mode's overhang pad (and SAME_LOWER's or an include-pad SAME's pads) is
computed from ``x.shape`` when the code runs, with the spec's rule (``ceil_windows``: the last
window kept unless it would start in the after-padding), so the code holds for every size.  CPU kernels are NHWC-only (NCHW needs oneDNN and no explicit pads), so NCHW
input is transposed.  Max/min in the input dtype for float16/32/64, int8/32/64 and uint8 (other
integers in float64, exact for |values| < 2**53, larger refused); avg/lp in float32 or float64
(TF avg takes floats only).  3-D: its CPU kernels take float32 only (float16 and float64:
"NotFoundError: no CPU kernel"), so a float16 max is taken in float32 (exact), and a float64 max
or average is the elementwise maximum or sum of the window's strided slices in float64; explicit
pads are taken by ``tf.nn.max_pool1d`` and ``max_pool2d`` only, so 3-D pads are ``tf.pad``; its
3-D ``SAME`` leaves a negative pad unclamped (windows shifted where the stride is the window + 2
or more), so such a spec's pads are computed at run time too.

Adaptive: TensorFlow has no adaptive op, so it is emulated with its own pooling, the bins
computed from the input's shape when the code runs (``emulation._runtime_axis``), so the code
holds for every input size: per axis of ``n`` cells and ``o`` outputs, ``k = -(-n // o)``, one
``tf.nn.max_pool2d``/``avg_pool2d`` of every window of ``k`` cells and one of ``min(k + 1, n)``
(stride 1: a bin is ``k`` or ``k + 1`` cells long), ``tf.concat`` and one ``tf.gather`` of each
bin's window, its indices a list computed from ``n`` (what Keras 3's ``AdaptiveMaxPooling2D``
does on TensorFlow, for one size).  ``o == 1`` is one pooling of window ``n``; an output axis
given as None is left as it is (every bin one cell).  Never ``tf.split`` (it refuses sizes that
do not divide: tensorflow/addons#2321) and never a window wider than the input (SIGFPE under oneDNN:
tensorflow#125509): a bin is never longer than its axis.  The max pooling ignores NaN and gives
the lowest finite value for a bin of only -inf (reported as differences).  Global max/avg:
``tf.reduce_max`` / ``tf.reduce_mean`` over H and W with ``keepdims=True``, in either layout
(what Keras' ``GlobalMaxPooling2D`` / ``GlobalAveragePooling2D`` compute): a reduction, which
propagates NaN, unlike TF's max pooling; global lp as pool2d's lp.
"""
from __future__ import annotations

from pooling_xfw.adapter import bind, bind_adaptive, bind_grad
from pooling_xfw.argmax_plan import cells_of, unpooled_shape
from pooling_xfw.backend import (ANY_CPU, ANY_CPU_PLAN, CONVENTIONS, EARLIER_PROBE, FIRST_MACHINE,
                                  FLOATS, INTEL_XEON, MAX_TIES_BACKWARD, NAN_IN_A_MAX,
                                  ONLY_INFINITE, ZEN4, Backend, recorded)
from pooling_xfw.plan import Attr
from pooling_xfw.vocabulary import Vocabulary, index_list
from pooling_xfw.layout import full_pads, spatial_axes
from pooling_xfw.spec import size_dependent

from . import tensorflow_dialect


class TensorFlow(Vocabulary):
    name = "tensorflow"
    imports = ("import tensorflow as tf",)
    functions = {"maximum": "tf.maximum", "abs": "tf.abs", "ones_like": "tf.ones_like",
                 "zeros_like": "tf.zeros_like", "where": "tf.where"}
    layouts = ("NHWC",)
    pool_dtypes = ("float16", "float32", "float64", "int8", "int32", "int64", "uint8")

    def namespace(self):
        import tensorflow as tf

        return {"tf": tf}

    def to_tensor(self, ns, array):
        return ns["tf"].constant(array)

    def to_numpy(self, ns, tensor):
        return tensor.numpy()

    backward = ("with tf.GradientTape() as tape:", "    tape.watch(x)", "    {forward}",
                "grad_input = tape.gradient(y, x, output_gradients=grad_output)")

    def gradient(self, ns, forward, x, grad_output):
        with ns["tf"].GradientTape() as tape:
            tape.watch(x)
            y = forward(x)
        return y, tape.gradient(y, x, output_gradients=grad_output)

    def at_rank(self, rank):
        if rank != 3:
            return self
        missing = "its 3-D pooling has no float64 CPU kernel (NotFoundError)"
        return self.variant(pool_dtypes=("float32",), max_missing={"float64": missing},
                            avg_missing={"float64": missing})

    def pad(self, plan, v, pads, value, layout):
        return plan.call("tf.pad", v, [list(pair) for pair in full_pads(layout, pads)],
                         constant_values=value)

    def pool(self, plan, v, mode, kernel, stride, layout):
        return plan.call(f"tf.nn.{mode}_pool{len(kernel)}d", v, ksize=tuple(kernel),
                         strides=tuple(stride), padding="VALID")

    def cast(self, plan, v, dtype):
        return plan.call("tf.cast", v, Attr(f"tf.{dtype}"))

    def arange(self, plan, count):
        return plan.call("tf.range", count, dtype=Attr("tf.float64"))

    def reshape(self, plan, v, shape):
        return plan.call("tf.reshape", v, list(shape))

    def invert(self, plan, v):
        return plan.call("tf.bitwise.invert", v)

    def transpose(self, plan, v, perm):
        return plan.call("tf.transpose", v, perm=list(perm))

    def native(self, plan, geom, v, layout, mode):
        spec = geom.spec
        if spec.ceil_mode and size_dependent(spec):
            return None  # no ceil mode: the overhang pad computed from the shape at run time
        floor = geom.output_rule() == "floor"
        no_pads = all(pair == (0, 0) for pair in geom.pads)
        rank = len(geom.axes)
        if any(d != 1 for d in spec.dilation):
            if mode == "max" and no_pads and floor and all(s == 1 for s in spec.stride):
                return plan.call("tf.nn.pool", v, window_shape=spec.pool_size,
                                 pooling_type="MAX", padding="VALID", dilations=spec.dilation)
            return None
        call = dict(ksize=spec.pool_size, strides=spec.stride)
        # the spec's same is TF's own SAME (odd cell after), even where this size needs no
        # pads: the code then holds for every size, not only for this one
        if (spec.padding == "same" and floor and (mode == "max" or not spec.count_include_pad)
                and not tensorflow_dialect.same_shifts_windows(spec.pool_size, spec.stride,
                                                               rank)):
            return plan.call(f"tf.nn.{mode}_pool{rank}d", v, **call, padding="SAME")
        if spec.padding in ("same", "same_lower"):
            return None  # SAME_LOWER, or SAME counting the padding: pads at run time
        if no_pads and floor:
            return plan.call(f"tf.nn.{mode}_pool{rank}d", v, **call, padding="VALID")
        fits = all(p < k for pair, k in zip(geom.pads, spec.pool_size) for p in pair)
        if mode == "max" and floor and fits and rank < 3:  # max_pool3d takes no explicit pads
            return plan.call(f"tf.nn.max_pool{rank}d", v, **call, padding=[
                list(pair) for pair in full_pads(layout, geom.pads)])
        return None


    index_layouts = ("NHWC",)
    index_dtypes = ("float16", "float32", "float64")

    def native_indices(self, plan, geom, v, layout):
        """``tf.nn.max_pool_with_argmax``: 2-D, NHWC, SAME or VALID only, no dilation; its
        indices ``(y*W + x)*C + c`` (``include_batch_in_index=False``)."""
        spec = geom.spec
        if len(geom.axes) != 2 or any(d != 1 for d in spec.dilation) or (
                spec.ceil_mode and size_dependent(spec)) or geom.output_rule() != "floor":
            return None
        if spec.padding == "same":
            padding = "SAME"
        elif all(pair == (0, 0) for pair in geom.pads):
            padding = "VALID"
        else:
            return None  # explicit pads: its argmax takes SAME or VALID only
        pair = plan.call("tf.nn.max_pool_with_argmax", v, ksize=spec.pool_size,
                         strides=spec.stride, padding=padding)
        return plan.call("op:getitem", pair, 0), plan.call("op:getitem", pair, 1), "tf"

    unpool_layouts = ("NHWC",)
    unpool_dtypes = ("float16", "float32", "float64")
    unpool_convention = "tf_batch"

    def native_unpool(self, plan, geom, v, indices, layout):
        """TensorFlow has no unpooling; its recipe: ``tf.scatter_nd`` of the values at their
        ``include_batch_in_index=True`` indices into a flat NHWC tensor, reshaped (a cell
        written twice is summed)."""
        shape = unpooled_shape(geom, layout)
        total = plan.let("cells", cells_of(shape))
        where, values = self.reshape(plan, indices, [-1, 1]), self.reshape(plan, v, [-1])
        if geom.write_once:  # a cell windows share written once, not summed
            flat = plan.call("tf.tensor_scatter_nd_update",
                             plan.call("tf.zeros", [total], dtype=Attr(f"tf.{plan.computes_in}")), where, values)
            plan.emulate("unpooling: TensorFlow has none; tf.tensor_scatter_nd_update of the "
                         "values at their indices into zeros (a cell windows share written "
                         "once: scatter_nd would sum it)")
        else:
            flat = plan.call("tf.scatter_nd", where, values, [total])
            plan.emulate("unpooling: TensorFlow has none; tf.scatter_nd of the values at their "
                         "max_pool_with_argmax(include_batch_in_index=True) indices")
        return self.reshape(plan, flat, shape)

    def global_layouts(self, mode):
        # a reduction over H and W takes either layout; its pooling kernels NHWC only
        return ("NHWC", "NCHW") if mode != "lp" else self.layouts

    def native_global(self, plan, geom, v, layout, mode):
        if mode == "lp":
            return None
        axes = list(spatial_axes(len(layout), layout))
        reduce = "tf.reduce_max" if mode == "max" else "tf.reduce_mean"
        return plan.call(reduce, v, axis=axes, keepdims=True)

    def reduce(self, plan, v, mode, axis):
        reduce = "tf.reduce_mean" if mode == "avg" else "tf.reduce_max"
        return plan.call(reduce, v, axis=axis, keepdims=True)

    def gather(self, plan, v, indices, axis):
        return plan.call("tf.gather", v, index_list(indices), axis=axis)

    def concat(self, plan, values, axis):
        return plan.call("tf.concat", list(values), axis=axis)


VOCABULARY = TensorFlow()
pool2d, plan, run = bind(VOCABULARY)
adaptive_pool2d, global_pool2d, adaptive_plan, global_plan = bind_adaptive(VOCABULARY)
pool2d_grad = bind_grad(VOCABULARY)

MEASURED = (ZEN4, INTEL_XEON)
ONEDNN_ON = f"{INTEL_XEON}, oneDNN on (its default)"
ONEDNN_OFF = f"{INTEL_XEON}, oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)"
EITHER_WAY = f"{ZEN4}, oneDNN on and off"
NAN_KERNELS = ("TensorFlow's max pooling runs the oneDNN kernel picked for the CPU, whose vector "
               "max instructions treat NaN by instruction set (x86's maxps returns its second "
               "operand, ARM's fmax NaN); it has been reported to differ even between channels "
               "(tensorflow/tensorflow#125965)")
BACKEND = Backend(
    name="tensorflow", title="TensorFlow", dialect=tensorflow_dialect,
    module="tensorflow", packages=("tensorflow-cpu",),
    position=300, aliases=("tf", "keras"),
    environment={"TF_CPP_MIN_LOG_LEVEL": "3"},  # its C++ banners (oneDNN, cpu features)
    known={
        **recorded(NAN_IN_A_MAX, {"ignored": MEASURED}, ("pool2d", "adaptive"), FLOATS),
        **recorded(NAN_IN_A_MAX, {"ignored": (FIRST_MACHINE, *MEASURED)}, "pool2d", "float32"),
        # Keras' global max is tf.reduce_max, a reduction
        **recorded(NAN_IN_A_MAX, {"propagated": ANY_CPU}, "global", FLOATS),
        **recorded(ONLY_INFINITE, {"infinity": (FIRST_MACHINE, ONEDNN_ON),
                                    "finite extreme": (EITHER_WAY, ONEDNN_OFF)}, "pool2d",
                   "float16"),
        **recorded(ONLY_INFINITE, {"finite extreme": (FIRST_MACHINE, *MEASURED)}, "pool2d",
                   "float32"),
        **recorded(ONLY_INFINITE, {"finite extreme": (FIRST_MACHINE, *MEASURED),
                                    "infinity": EARLIER_PROBE}, "pool2d", "float64"),
        **recorded(ONLY_INFINITE, {"finite extreme": EITHER_WAY, "infinity": ONEDNN_ON},
                   "adaptive", "float16"),
        **recorded(ONLY_INFINITE, {"finite extreme": MEASURED}, "adaptive",
                   ("float32", "float64")),
        **recorded(ONLY_INFINITE, {"infinity": ANY_CPU}, "global", FLOATS),
        **recorded(MAX_TIES_BACKWARD, {"agree": ANY_CPU_PLAN}),
        **recorded(CONVENTIONS, {"differs: NaN in the window ignored; the reference propagates NaN": (EITHER_WAY, ONEDNN_ON)},
                   ("NaN in a max window", "NaN in an adaptive max bin (4 -> 3)"),
                   why=NAN_KERNELS),
        **recorded(CONVENTIONS, {"differs: NaN in the window ignored; the reference propagates "
                                 "NaN": ONEDNN_ON},
                   ("1-D NaN in a max window", "3-D NaN in a max window"), why=NAN_KERNELS),
        **recorded(CONVENTIONS, {"native": (ONEDNN_ON, FIRST_MACHINE),
                                  "differs: a window of only -inf gives the lowest finite value; "
                                  "the reference -inf": (EITHER_WAY, ONEDNN_OFF)},
                   "max of a float16 window of only -inf",
                   why="TensorFlow's float16 max pooling runs a kernel picked for the CPU and "
                       "its oneDNN setting"),
        **recorded(CONVENTIONS, {"native": (EITHER_WAY, ONEDNN_ON)},
                   "backward: NaN in a max window",
                   why="the gradient goes to the cell the forward's oneDNN kernel picked"),
    })
