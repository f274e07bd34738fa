"""A backend's plan with numpy in place of its framework: is a difference the plan's own?

``mirror(vocab)`` is the backend's ``Vocabulary`` with every primitive computed by numpy.  The
planner takes the same decisions with it as with the backend (its layouts, its dtypes, which
poolings are one native call, its own emulations, such as ``avg_missing``'s window sums), so
the mirrored plan has the backend plan's arithmetic step for step; only where the backend
makes one native pooling call does the mirror compute the reference's numbers for that
pooling instead (the framework's own behaviour is what ``compare`` measures, not what is
checked here).

Run on the backend's input, the mirrored plan gives what the plan computes when every
framework op is exact.  Where it gives the backend's differing numbers too, the difference is
the plan's arithmetic (a defect of pooling-xfw's emulation), not the framework's behaviour:
``compare`` says so (``plan_cause``) instead of presenting it as the framework's.  The tests
run every backend's mirrored plans against the reference, which needs no framework at all.
"""
from __future__ import annotations

import copy
import dataclasses
import functools

import numpy as np

from .adaptive import AdaptiveGeometry, pool_adaptive
from .plan import Plan, Var
from .planner import build_plan
from .vocabulary import Vocabulary, index_list
from .reference import pool_geometry
from .layout import full_pads
from .spec import make_spec, resolve


class _Kernels:
    """What a mirrored plan calls besides numpy: the reference's pooling."""

    @staticmethod
    def pool(x: np.ndarray, mode: str, kernel, stride, layout: str) -> np.ndarray:
        """Unpadded floor-mode pooling (the ``pool`` primitive), the reference's numbers."""
        spec = make_spec(tuple(kernel), mode, stride=tuple(stride), layout=layout)
        return pool_geometry(x, resolve(spec, x.shape))

    @staticmethod
    def native(x: np.ndarray, geom, mode: str, layout: str) -> np.ndarray:
        """What a backend's one native call computes when it is exact: the reference's pooling
        of ``geom`` in ``mode``, on ``x`` in the layout the plan computes in."""
        spec = dataclasses.replace(geom.spec, mode=mode, layout=layout)
        if isinstance(geom, AdaptiveGeometry):
            return pool_adaptive(x, dataclasses.replace(geom, spec=spec))
        return pool_geometry(x, dataclasses.replace(geom, spec=spec))

    @staticmethod
    def reduce(x: np.ndarray, mode: str, axis: int) -> np.ndarray:
        return (np.mean if mode == "avg" else np.max)(x, axis=axis, keepdims=True)


class _NumpySteps(Vocabulary):
    """Every primitive the planner and the adapters use, as numpy steps (mixed in before a
    backend's ``Vocabulary``, whose decisions it keeps)."""

    imports = ("import numpy as np",)
    functions = {"maximum": "np.maximum", "abs": "np.abs", "ones_like": "np.ones_like",
                 "zeros_like": "np.zeros_like", "where": "np.where"}

    def namespace(self):
        return {"np": np, "ref": _Kernels}

    def to_tensor(self, ns, array):
        return np.asarray(array)

    def to_numpy(self, ns, tensor):
        return np.asarray(tensor)

    def finish(self, plan, y, dtype, out_dtype, layout):
        return y

    def pad(self, plan, v, pads, value, layout):
        return plan.call("np.pad", v, full_pads(layout, pads), constant_values=value)

    def pool(self, plan, v, mode, kernel, stride, layout):
        return plan.call("ref.pool", v, mode, list(kernel), list(stride), layout)

    def reduce(self, plan, v, mode, axis):
        return plan.call("ref.reduce", v, mode, axis)

    def cast(self, plan, v, dtype):
        return plan.call(".astype", v, dtype)

    def invert(self, plan, v):
        return plan.call("np.invert", v)

    def transpose(self, plan, v, perm):
        return plan.call("np.transpose", v, tuple(perm))

    def where(self, plan, condition, a, b):
        return plan.call("np.where", condition, a, b)

    def zeros_like(self, plan, v):
        return plan.call("np.zeros_like", v)

    def ones_like(self, plan, v):
        return plan.call("np.ones_like", v)

    def maximum(self, plan, a, b):
        return plan.call("np.maximum", a, b)

    def abs(self, plan, v):
        return plan.call("np.abs", v)

    def power(self, plan, v, exponent):
        return plan.call("op:pow", v, exponent)

    def add(self, plan, a, b):
        return plan.call("op:add", a, b)

    def multiply(self, plan, v, factor):
        return plan.call("op:mul", v, factor)

    def divide(self, plan, a, b):
        return plan.call("op:div", a, b)

    def negative(self, plan, v):
        return plan.call("op:neg", v)

    def equal(self, plan, v, value):
        return plan.call("op:eq", v, value)

    def getitem(self, plan, v, index):
        return plan.call("op:getitem", v, index)

    def gather(self, plan, v, indices, axis):
        return plan.call("np.take", v, index_list(indices), axis=axis)

    def concat(self, plan, values, axis):
        return plan.call("np.concatenate", list(values), axis=axis)

    # the backend's one native call: the reference's pooling where the backend makes it
    def _native(self, method: str, plan: Plan, geom, v: Var, layout: str, mode: str,
                *args) -> Var | None:
        scratch = copy.deepcopy(plan)  # the backend's call, planned aside
        if getattr(super(), method)(scratch, geom, v, layout, *args) is None:
            return None
        return plan.call("ref.native", v, geom, mode, layout)

    def native(self, plan, geom, v, layout, mode):
        return self._native("native", plan, geom, v, layout, mode, mode)

    def native_lp(self, plan, geom, v, layout):
        return self._native("native_lp", plan, geom, v, layout, "lp")

    def native_adaptive(self, plan, geom, v, layout, mode):
        return self._native("native_adaptive", plan, geom, v, layout, mode, mode)

    def native_global(self, plan, geom, v, layout, mode):
        return self._native("native_global", plan, geom, v, layout, mode, mode)


@functools.lru_cache(maxsize=None)
def _mirror_class(cls: type) -> type:
    return type(f"NumPy{cls.__name__}", (_NumpySteps, cls), {})


def mirror(vocab: Vocabulary) -> Vocabulary:
    """``vocab`` with numpy in place of its framework (see the module docstring)."""
    return _mirror_class(type(vocab))()


def mirrored_output(vocab: Vocabulary, geom, x: np.ndarray) -> np.ndarray:
    """The output of ``vocab``'s plan for ``geom`` on ``x``, computed by numpy."""
    from . import ops
    from .adapter import run_plan  # the adapters' own run: handover, 4-D, handback

    numpy_vocab = mirror(vocab)
    plan = build_plan(numpy_vocab, ops.of(geom), geom, x.dtype.newbyteorder("="), x.shape)
    return run_plan(numpy_vocab, plan, geom, x, ops.of(geom).output_shape(geom, x.shape))
