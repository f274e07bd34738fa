"""What an adapter supplies to the planner: its framework's spelling of a handful of primitives
(``Vocabulary``: pad, an unpadded floor pooling, elementwise maximum, cast, transpose, ...),
and in ``native`` the one framework call that computes a spec when the framework can express
it; every dtype a framework may be asked to pool (``ALL_DTYPES``)."""
from __future__ import annotations

import copy
import dataclasses

import numpy as np

from .adaptive import AdaptiveGeometry, GlobalGeometry
from .plan import Expr, Plan, Var
from .spec import Geometry


ALL_DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
              "uint16", "uint32", "uint64")


class Vocabulary:
    """How one framework spells the primitives; subclassed once per adapter."""

    name = ""
    imports: tuple[str, ...] = ()
    layouts: tuple[str, ...] = ("NCHW",)  # layouts its pooling kernels take
    pool_dtypes: tuple[str, ...] = ("float16", "float32", "float64")  # dtypes its max pools
    tensor_dtypes: tuple[str, ...] = ALL_DTYPES  # numpy dtypes it builds tensors from
    #: by dtype, the finite value its max pooling starts from (and pads with) where that lies
    #: above the dtype's lowest: a window of values all below it comes out as that value
    max_pool_start: dict[str, float] = {}
    #: by dtype, why its average pooling cannot compute in it (ONNX Runtime's ``AveragePool``
    #: has no float64 kernel): such an average is each window's own cells summed (``_pool``)
    avg_missing: dict[str, str] = {}
    #: by dtype, why it has no max pooling in it (TensorFlow's 3-D max has no float64 CPU
    #: kernel): such a max is the elementwise maximum of the window's strided slices, in the
    #: dtype itself
    max_missing: dict[str, str] = {}
    #: whether its max pooling gives -inf for a window of only -inf at every rank and dtype,
    #: on every CPU measured (the conventions table): a translation that needs -inf for a
    #: window of padding only keeps the framework's kernel only where this holds
    max_keeps_inf: bool = False
    #: whether its average of a window of padding only, padding not counted, is 0 (not 0/0)
    avg_empty_is_zero: bool = False

    def at_rank(self, rank: int) -> "Vocabulary":
        """The vocabulary for pooling ``rank`` spatial axes: itself, or a copy whose
        declarations (``layouts``, ``pool_dtypes``, ``avg_missing``, ``max_missing``, ...)
        say what its kernels of that rank take (``variant``).  Its ``layouts`` name the
        channel order (``"NCHW"``: channels first) at every rank."""
        return self

    def variant(self, **declarations) -> "Vocabulary":
        """A copy with ``declarations`` replacing its own (for ``at_rank``)."""
        other = copy.copy(self)
        for name, value in declarations.items():
            if not hasattr(self, name):
                raise AttributeError(f"{type(self).__name__} declares no {name!r}")
            setattr(other, name, value)
        return other

    # primitives: each appends steps to ``plan`` and returns the Var of the result
    def pad(self, plan: Plan, v: Var, pads, value, layout: str) -> Var:
        raise NotImplementedError

    def pool(self, plan: Plan, v: Var, mode: str, kernel, stride, layout: str) -> Var:
        """Unpadded, floor-mode max/avg pooling (the one primitive every framework has)."""
        raise NotImplementedError

    #: the framework's elementwise functions: {"maximum": ..., "abs": ..., "ones_like": ...,
    #: "zeros_like": ..., "where": ...}
    functions: dict[str, str] = {}

    def where(self, plan: Plan, condition: Var, a: Var, b: Var) -> Var:
        return plan.call(self.functions["where"], condition, a, b)

    def zeros_like(self, plan: Plan, v: Var) -> Var:
        return plan.call(self.functions["zeros_like"], v)

    def maximum(self, plan: Plan, a: Var, b: Var) -> Var:
        return plan.call(self.functions["maximum"], a, b)

    def abs(self, plan: Plan, v: Var) -> Var:
        return plan.call(self.functions["abs"], v)

    def ones_like(self, plan: Plan, v: Var) -> Var:
        return plan.call(self.functions["ones_like"], v)

    def power(self, plan: Plan, v: Var, exponent: float) -> Var:
        return plan.call("op:pow", v, exponent)

    # Python's operators on tensors; a framework whose steps build a graph spells them as nodes
    def add(self, plan: Plan, a: Var, b: Var) -> Var:
        return plan.call("op:add", a, b)

    def multiply(self, plan: Plan, v: Var, factor) -> Var:
        return plan.call("op:mul", v, factor)

    def divide(self, plan: Plan, a: Var, b: Var) -> Var:
        return plan.call("op:div", a, b)

    def negative(self, plan: Plan, v: Var) -> Var:
        return plan.call("op:neg", v)

    def equal(self, plan: Plan, v: Var, value) -> Var:
        return plan.call("op:eq", v, value)

    def not_equal(self, plan: Plan, a: Var, b) -> Var:
        """``a != b`` elementwise (``v != v``: where ``v`` is NaN)."""
        return plan.call("op:ne", a, b)

    def at_least(self, plan: Plan, v: Var, value) -> Var:
        """``v >= value`` elementwise."""
        return plan.call("op:ge", v, value)

    def floor_divide(self, plan: Plan, v: Var, k) -> Var:
        """``v // k`` of an integer tensor (``k``: an int or an ``Expr``)."""
        return plan.call("op:floordiv", v, k)

    def remainder(self, plan: Plan, v: Var, k) -> Var:
        """``v % k`` of an integer tensor, the sign of ``k`` (``k``: an int or an ``Expr``)."""
        return plan.call("op:mod", v, k)

    def scale(self, plan: Plan, v: Var, k) -> Var:
        """``v * k`` of an integer tensor (``k``: an int or an ``Expr``)."""
        return plan.call("op:mul", v, k)

    def arange(self, plan: Plan, count) -> Var:
        """``0, 1, ..., count - 1`` as a 1-D float64 tensor (``count``: an int or an ``Expr``
        read when the plan runs); the argmax's emulation numbers the cells with it."""
        raise NotImplementedError

    def reshape(self, plan: Plan, v: Var, shape) -> Var:
        return plan.call(".reshape", v, tuple(shape))

    def getitem(self, plan: Plan, v: Var, index: tuple[slice, ...]) -> Var:
        """``v[index]``: basic slicing of a full-rank tensor (slices with steps >= 1)."""
        return plan.call("op:getitem", v, index)

    def reduce(self, plan: Plan, v: Var, mode: str, axis: int) -> Var:
        """The ``mode`` ('avg') of ``v`` over ``axis``, kept as an axis of size 1: the mean of
        a bin's own cells, where ``avg_missing`` leaves no average pooling for a bin length
        known only when the plan runs."""
        raise NotImplementedError

    def finish(self, plan: Plan, y: Var, dtype: np.dtype, out_dtype: np.dtype,
               layout: str, second: Var | None = None) -> Var:
        """The plan's last steps after ``y``, the result: nothing for an eager framework; a
        graph framework builds and runs its model of the steps here (``x``: a full-rank ``layout``
        array of ``dtype``; ``y``: ``out_dtype``).  ``second``: a second result (the argmax's
        int64 indices): the plan's result is then the pair ``(y, second)``."""
        return y if second is None else plan.call("op:pair", y, second)

    def cast(self, plan: Plan, v: Var, dtype: str) -> Var:
        raise NotImplementedError

    def invert(self, plan: Plan, v: Var) -> Var:
        raise NotImplementedError

    def transpose(self, plan: Plan, v: Var, perm: tuple[int, ...]) -> Var:
        raise NotImplementedError

    def native(self, plan: Plan, geom: Geometry, v: Var, layout: str, mode: str) -> Var | None:
        """One framework call computing ``mode`` ('max' or 'avg') of ``geom``, or None.

        For a size-dependent spec (``spec.size_dependent``: ``"same"``, ``ceil_mode`` with a
        stride above 1), a call only where the framework's own spelling computes the spec at
        every input size (TensorFlow's ``SAME``, PyTorch's ``ceil_mode``); else None, and the
        planner computes the pads from the input's shape when the plan runs."""
        return None

    def native_divisor(self, plan: Plan, geom: Geometry, v: Var, layout: str) -> Var | None:
        """The framework's own avg pooling of ``geom`` with its ``divisor`` (``spec.divisor``,
        by ``spec.divisor_of``'s rule: PyTorch's ``divisor_override``), or None: then the
        window's sum (or average) is divided by it."""
        return None

    # the argmax (``ops.INDICES``)
    #: the layouts and dtypes its own argmax call takes (where it has one: ``native_indices``)
    index_layouts: tuple[str, ...] = ("NCHW",)
    index_dtypes: tuple[str, ...] = ("float32", "float64")
    #: the integer dtype of its own call's indices (converted to int64 before arithmetic)
    index_dtype: str = "int64"

    def native_indices(self, plan: Plan, geom: Geometry, v: Var, layout: str
                       ) -> tuple[Var, Var, str] | None:
        """The framework's own max pooling with each window's argmax (``geom``, its mode max,
        on ``v`` in ``layout``, one of ``index_layouts``): ``(values, indices, convention)``,
        ``convention`` one of ``indices.INDEX_CONVENTIONS`` read in ``layout``; or None: the
        argmax is then found from the values (``argmax_plan``)."""
        return None

    # unpooling (``ops.UNPOOL``)
    #: the layouts, dtypes and index convention its unpooling takes
    unpool_layouts: tuple[str, ...] = ("NCHW",)
    unpool_dtypes: tuple[str, ...] = ("float32", "float64")
    unpool_convention: str = "plane"
    #: a measured crash of its unpooling given index -1 (a window of padding only): such a
    #: case is not run unless it asks to (``run_known_crashes``); "" where there is none
    unpool_crash: str = ""
    #: where a max pooling's index in its plans is -1 (then crashing an unpooling at it): a
    #: window with no cell above "start" (the value its max pooling starts from,
    #: ``max_pool_start``, else the dtype's lowest) or above "-inf" (only NaN and -inf)
    no_index_at_or_below: str = "start"

    def native_unpool(self, plan: Plan, geom, v: Var, indices: Var, layout: str
                      ) -> Var | None:
        """Its unpooling of values ``v`` at ``indices`` (converted to ``unpool_convention``)
        to ``geom.output_size`` (``ops.unpool.UnpoolGeometry``), or None: no such op."""
        return None

    def native_with(self, plan: Plan, geom: Geometry, v: Var, layout: str, argument: str
                    ) -> tuple[Var, Var] | None:
        """``native``'s max pooling of ``geom`` as one call given ``argument=True`` too (a call
        that then also returns each window's argmax: PyTorch's ``return_indices``, Paddle's
        ``return_mask``), its result split into (values, indices); None, the plan as it was,
        where ``native`` makes no single call."""
        steps = len(plan.steps)
        if self.native(plan, geom, v, layout, "max") is None or len(plan.steps) != steps + 1:
            del plan.steps[steps:]  # none, or a crop after it
            return None
        step = plan.steps[-1]
        plan.steps[-1] = dataclasses.replace(step, kwargs=step.kwargs + ((argument, True),))
        pair = Var(step.out)
        return plan.call("op:getitem", pair, 0), plan.call("op:getitem", pair, 1)

    def native_lp(self, plan: Plan, geom: Geometry, v: Var, layout: str) -> Var | None:
        """The framework's own lp pooling of ``geom`` (``(sum |x|^p)^(1/p)``, padding adding
        0), or None: then it is emulated from abs, power and a window sum."""
        return None

    # adaptive and global pooling
    def adaptive_layouts(self, mode: str) -> tuple[str, ...]:
        """The layouts its adaptive ``mode`` pooling is computed in."""
        return self.layouts

    def global_layouts(self, mode: str) -> tuple[str, ...]:
        """The layouts its global ``mode`` pooling is computed in."""
        return self.layouts

    def adaptive_dtypes(self) -> tuple[str, ...]:
        """The dtypes its adaptive max takes (others are cast, as for ``pool_dtypes``)."""
        return self.pool_dtypes

    def global_dtypes(self) -> tuple[str, ...]:
        """The dtypes its global max takes (others are cast, as for ``pool_dtypes``)."""
        return self.pool_dtypes

    def native_adaptive(self, plan: Plan, geom: AdaptiveGeometry, v: Var, layout: str,
                        mode: str) -> Var | None:
        """The framework's own adaptive ``mode`` pooling of ``geom``, or None."""
        return None

    def native_global(self, plan: Plan, geom: GlobalGeometry, v: Var, layout: str,
                      mode: str) -> Var | None:
        """The framework's own global ``mode`` ('max' or 'avg') pooling, keeping H and W as
        axes of size 1, or None (then it is planned as the pooling with the whole window)."""
        return None

    def gather(self, plan: Plan, v: Var, indices, axis: int) -> Var:
        """``v``'s entries ``indices`` along ``axis`` (repeats allowed): a list of ints, or an
        ``Expr`` that is one when the plan runs (``index_list`` passes either on)."""
        raise NotImplementedError

    def concat(self, plan: Plan, values: list[Var], axis: int) -> Var:
        raise NotImplementedError

    # what a backend needs at run time
    def namespace(self) -> dict:
        raise NotImplementedError

    def to_tensor(self, ns: dict, array: np.ndarray):
        raise NotImplementedError

    def to_numpy(self, ns: dict, tensor) -> np.ndarray:
        raise NotImplementedError

    def plan_details(self, plan) -> list[str]:
        """What a translation shows of ``plan`` besides its code, one line each (ONNX
        Runtime: each pooling node with all its attributes); none by default."""
        return []

    # the backward pass: the framework's autograd around a plan's steps
    #: why the framework has no gradient to compare (an inference runtime); "" when it has one
    no_autograd: str = ""
    #: gradients the framework's autograd does not have, by design, for some plans: a fragment of
    #: the error it raises -> why (JAX has no VJP for a dilated max): not compared, as
    #: ``no_autograd``; any other error of its autograd is an error
    no_gradient_for: dict[str, str] = {}

    def gradient_gap(self, message: str) -> str | None:
        """Why there is no gradient to compare, when ``message`` (the autograd's error) is a
        gap by design (``no_gradient_for``); None for any other failure."""
        return next((why for fragment, why in self.no_gradient_for.items()
                     if fragment in message), None)
    #: ``Plan.backward``: the rendered "record and backprop" (``{forward}``: the steps)
    backward: tuple[str, ...] = ()

    def gradient(self, ns: dict, forward, x, grad_output):
        """``(y, grad_input)``: ``y = forward(x)`` recorded by the framework's autograd and
        backpropagated with ``grad_output`` (tensors in, tensors out), as ``backward`` renders."""
        raise NotImplementedError


TO_NHWC, TO_NCHW = (0, 2, 3, 1), (0, 3, 1, 2)


def index_list(indices):
    """Gather indices as a step argument: an ``Expr`` (a list computed when the plan runs) as
    it is, anything else as a list of ints."""
    return indices if isinstance(indices, Expr) else [int(i) for i in indices]
