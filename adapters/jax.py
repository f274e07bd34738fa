"""JAX: ``pool2d`` computed with ``flax.linen`` pooling and ``jax.lax.reduce_window``.

Native: ``nn.max_pool`` / ``nn.avg_pool`` (Flax's pooling layers, thin wrappers of
``lax.reduce_window``) with ``'VALID'``, ``'SAME'`` (JAX's SAME puts the odd cell after, as the
spec's ``same``; ``lax.padtype_to_pads``) or explicit per-side pads of any size; avg with
``count_include_pad`` (Flax divides by the pooled ones mask when it is False; that mask is
JAX's default float, float64 under ``jax_enable_x64``, so a float32 quotient is cast back).  Dilated max:
``lax.reduce_window(x, -inf, lax.max, ..., window_dilation=...)`` (Flax has no dilation).
Emulated (see ``pooling_xfw.planner``): ceil mode (JAX has none: explicit ``jnp.pad`` of the
overhang and a crop; Flax's ``count_include_pad=True`` would count the overhang, the reference
does not, so the divisor is the ones mask pooled the same way), dilated avg, lp.  Kernels are
NHWC (Flax pools the axes between the first and the last: an NCHW array would be pooled over
C and H), so NCHW input is transposed.  float64 needs ``jax_enable_x64`` (set at import; without
it JAX silently computes float64 input in float32).  Max/min in the input dtype, every integer
dtype included (SAME padding and ``-inf`` init become the dtype's minimum); avg/lp in float32
or float64, as the reference: Flax's avg accumulates in the input dtype, so float16 would
overflow (a 64x64 window of 1000 gives inf) and bfloat16 round (the mean of 1..256 gives 130).

Adaptive: JAX and Flax have no adaptive op, so it is emulated with ``nn.max_pool`` /
``nn.avg_pool`` and static bins (as TensorFlow's).  Global max/avg: ``jnp.max`` / ``jnp.mean``
over H and W with ``keepdims=True`` (what Flax models write for global average pooling);
global lp as pool2d's lp.

Gradients: ``jax.vjp`` of the plan.  JAX has no VJP for a max ``reduce_window`` with window
dilation ("VJP not implemented for select_and_gather (MaxPool) with window dilation"): that
gradient is reported as JAX's error, not emulated away.
"""
from __future__ import annotations

import numpy as np

from pooling_xfw.adapter import bind, bind_adaptive, bind_grad
from pooling_xfw.argmax_plan import cells_of, unpooled_shape
from pooling_xfw.backend import (ANY_CPU_PLAN, FLOATS, INTEL_XEON, MAX_TIES_BACKWARD, NAN_IN_A_MAX,
                                  ONLY_INFINITE, ZEN4, Backend, recorded)
from pooling_xfw.plan import Attr
from pooling_xfw.vocabulary import ALL_DTYPES, Vocabulary, index_list
from pooling_xfw.layout import full_pads, spatial_axes
from pooling_xfw.spec import size_dependent

from . import jax_dialect

ENABLE_X64 = "jax.config.update('jax_enable_x64', True)"


class Jax(Vocabulary):
    name = "jax"
    max_keeps_inf = True  # measured: -inf for a window of only -inf, at every rank
    imports = ("import jax", ENABLE_X64, "import jax.numpy as jnp", "from jax import lax",
               "import flax.linen as nn")
    functions = {"maximum": "jnp.maximum", "abs": "jnp.abs", "ones_like": "jnp.ones_like",
                 "zeros_like": "jnp.zeros_like", "where": "jnp.where"}
    layouts = ("NHWC",)
    pool_dtypes = ALL_DTYPES
    no_gradient_for = {"VJP not implemented for select_and_gather":
                       "jax has no VJP for a dilated max or min reduce_window"}

    def namespace(self):
        import jax

        jax.config.update("jax_enable_x64", True)
        import flax.linen as nn
        import jax.numpy as jnp
        from jax import lax

        return {"jax": jax, "jnp": jnp, "lax": lax, "nn": nn}

    def to_tensor(self, ns, array):
        return ns["jnp"].asarray(array)

    def to_numpy(self, ns, tensor):
        return np.array(tensor)

    backward = ("def forward(x):", "    {forward}", "    return y",
                "y, pullback = jax.vjp(forward, x)", "grad_input, = pullback(grad_output)")

    def gradient(self, ns, forward, x, grad_output):
        y, pullback = ns["jax"].vjp(forward, x)
        # the upstream gradient in the output's dtype, as the user's would be: a call written
        # by the user (flax's avg_pool with count_include_pad=False) gives float64 under
        # jax_enable_x64, whose VJP refuses a float32 cotangent
        grad, = pullback(ns["jnp"].asarray(grad_output, dtype=y.dtype))
        return y, grad

    def pad(self, plan, v, pads, value, layout):
        return plan.call("jnp.pad", v, full_pads(layout, pads), constant_values=value)

    def pool(self, plan, v, mode, kernel, stride, layout):
        return plan.call(f"nn.{mode}_pool", v, tuple(kernel), strides=tuple(stride),
                         padding="VALID")

    def cast(self, plan, v, dtype):
        return plan.call(".astype", v, Attr(f"jnp.{dtype}"))

    unpool_layouts = ("NCHW",)
    unpool_dtypes = ("float16", "float32", "float64")
    unpool_convention = "tensor"

    def native_unpool(self, plan, geom, v, indices, layout):
        """JAX has no unpooling: ``jnp.put`` of the values at their whole-tensor indices
        into zeros of the output's size (``x.at[i].set``), reshaped."""
        shape = unpooled_shape(geom, layout)
        total = cells_of(shape)
        zeros = plan.call("jnp.zeros_like", v, shape=(plan.let("cells", total),))
        flat = plan.call("jnp.put", zeros, self.reshape(plan, indices, (-1,)),
                         self.reshape(plan, v, (-1,)), inplace=False)
        plan.emulate("unpooling: JAX has none; jnp.put of the values at their indices")
        return self.reshape(plan, flat, shape)

    def arange(self, plan, count):
        return plan.call("jnp.arange", count, dtype=Attr("jnp.float64"))

    def invert(self, plan, v):
        return plan.call("jnp.invert", v)

    def transpose(self, plan, v, perm):
        return plan.call("jnp.transpose", v, tuple(perm))

    def native(self, plan, geom, v, layout, mode):
        spec = geom.spec
        if geom.output_rule() != "floor" or spec.ceil_mode and size_dependent(spec):
            # no ceil mode: the planner pads the overhang explicitly and crops, with the pads
            # computed from the input's shape when the code runs (a size whose ceil and floor
            # agree would otherwise print code that holds for such sizes only)
            return None
        dilated = any(d != 1 for d in spec.dilation)
        if spec.padding in ("same", "same_lower") and not dilated:
            # JAX's own SAME / SAME_LOWER (lax.padtype_to_pads): the code then holds for every
            # input size, as the user writes it
            padding = spec.padding.upper()
        elif all(pair == (0, 0) for pair in geom.pads):
            padding = "VALID"
        else:
            padding = tuple(tuple(pair) for pair in geom.pads)
        if dilated:
            if mode != "max":
                return None  # a dilated average: the planner's strided slices
            dtype = np.dtype(plan.computes_in)
            # the init value must have the operand's dtype (a Python int is int64 under x64)
            init = float("-inf") if dtype.kind == "f" else plan.call(
                "jnp.array", int(np.iinfo(dtype).min), Attr(f"jnp.{dtype.name}"))
            pads = padding if isinstance(padding, str) else ((0, 0), *padding, (0, 0))
            return plan.call("lax.reduce_window", v, init, Attr("lax.max"),
                             (1, *spec.pool_size, 1), (1, *spec.stride, 1), pads,
                             window_dilation=(1, *spec.dilation, 1))
        call = dict(strides=spec.stride, padding=padding)
        if mode == "max":
            return plan.call("nn.max_pool", v, spec.pool_size, **call)
        if spec.count_include_pad or padding == "VALID":
            return plan.call("nn.avg_pool", v, spec.pool_size, **call)
        y = plan.call("nn.avg_pool", v, spec.pool_size, **call, count_include_pad=False)
        if plan.computes_in != "float64":
            # its divisor is a ones array of JAX's default float, float64 under
            # jax_enable_x64: the quotient is promoted (the backward then refuses a float32
            # upstream gradient)
            plan.adapt(f"cast back to {plan.computes_in}: nn.avg_pool(count_include_pad=False) "
                       f"divides by a float64 ones mask under jax_enable_x64")
            y = self.cast(plan, y, plan.computes_in)
        return y

    def global_layouts(self, mode):
        # a reduction over H and W takes either layout; Flax's pooling NHWC only
        return ("NHWC", "NCHW") if mode != "lp" else self.layouts

    def native_global(self, plan, geom, v, layout, mode):
        if mode == "lp":
            return None
        axes = spatial_axes(len(layout), layout)
        return plan.call("jnp.max" if mode == "max" else "jnp.mean", v, axis=axes,
                         keepdims=True)

    def gather(self, plan, v, indices, axis):
        # jnp.take takes no list (JAX refuses Python sequences as arrays)
        return plan.call("jnp.take", v, plan.call("jnp.asarray", index_list(indices)), axis=axis)

    def concat(self, plan, values, axis):
        return plan.call("jnp.concatenate", list(values), axis=axis)


VOCABULARY = Jax()
pool2d, plan, run = bind(VOCABULARY)
adaptive_pool2d, global_pool2d, adaptive_plan, global_plan = bind_adaptive(VOCABULARY)
pool2d_grad = bind_grad(VOCABULARY)

MEASURED = (ZEN4, INTEL_XEON)
BACKEND = Backend(
    name="jax", title="JAX", dialect=jax_dialect,
    module="jax", packages=("jax", "jaxlib"), position=500,
    aliases=("flax", "lax"),
    environment={"JAX_PLATFORMS": "cpu"},  # no probe for GPU/TPU plugins, nor its warning
    known={
        **recorded(NAN_IN_A_MAX, {"propagated": MEASURED}, ("pool2d", "adaptive", "global"),
                   FLOATS),
        **recorded(ONLY_INFINITE, {"infinity": MEASURED}, ("pool2d", "adaptive", "global"),
                   FLOATS),
        # a dilated max it emulates shares a tie; its own dilated max has no VJP
        **recorded(MAX_TIES_BACKWARD, {"agree": ANY_CPU_PLAN, "split": ANY_CPU_PLAN,
                                       "uneven": ANY_CPU_PLAN,
                                       "no dilated-max VJP": ANY_CPU_PLAN}),
    })
