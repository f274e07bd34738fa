"""What every pooling operation is: one object that owns its arguments and their checks, its
reference, its planner entry, whether it has a gradient, its command-line option and its
labels (PyTorch's OpInfo keeps an op's facts in one place the same way).

The operations are ``pooling_xfw.ops.POOL`` (``px.pool2d``: a window, stride, padding...),
``ADAPTIVE`` (``px.adaptive_pool2d``: an output size) and ``GLOBAL`` (``px.global_pool2d``:
the whole input).  Shared code receives an ``Operation`` and calls its methods; the
operation's ``name`` (``"pool2d"``, ``"adaptive"``, ``"global"``) is how the public API
(``compare(..., op="adaptive")``), the JSON report and the worker protocol spell it, and
``ops.get`` turns it back into the object at those edges.
"""
from __future__ import annotations

import numpy as np

from ..errors import PoolingError
from ..layout import rank as layout_rank
from ..plan import Plan, Var


class Operation:
    """One pooling operation; subclassed once per operation (see the module docstring)."""

    #: how the API (``op=``), a report's JSON and the worker protocol name it
    name = ""
    #: other names ``op=`` takes for it (``"pool3d"``: the same operation on three axes)
    aliases: tuple[str, ...] = ()
    #: what it is, in a few words ("pooling with a window")
    title = ""
    #: the reference function computing it (``px.<function>``)
    function = ""
    #: its keyword arguments besides ``X``, in order
    arguments: tuple[str, ...] = ()
    #: its modes
    modes: tuple[str, ...] = ()
    #: whether ``compare(..., grad=True)`` and ``report --grad`` take it
    has_gradient = False
    #: whether its window, stride and padding are the user's (what a divisor's cause reads)
    has_window = False
    #: the ``compare`` option that chooses it, and its value's form ("3|2,3"; "" a switch)
    flag = ""
    flag_value = ""
    #: what else it takes on the command line (a usage error's "allowed")
    options = ""
    #: the option's value's name in the help ("" for a switch: ``flag_value`` is empty) and
    #: the help's text
    metavar = ""
    flag_help = ""
    #: what the option does, in a usage error's list of the operations (default: ``title``)
    flag_meaning = ""
    #: whether its output can drop the spatial axes (``--keepdims`` / ``--no-keepdims``)
    drops_axes = False
    #: how the planner's elementwise emulation of a max reads its windows
    taps = "strided slices"
    #: how many arrays it returns: 2 for (judged output, a second judged output: the values
    #: of a pooling with indices)
    outputs = 1
    #: what the second output is, in a difference's detail ("values: 2 of 384 differ")
    second_name = "values"
    #: the option of another operation its own option refines (``--indices`` with ``--kernel``)
    refines = ""
    #: how many arrays a backend receives: 2 for (values, indices: unpooling)
    inputs = 1
    #: whether its plan unpools at the indices its own max pooling gave (a pipeline)
    unpools_own_indices = False

    def __repr__(self) -> str:
        return f"<operation {self.name}>"

    # --- arguments and geometry -----------------------------------------------------------
    def command_line(self, args, typed, layout: str) -> tuple[dict, dict]:
        """Its keyword arguments from ``compare``'s options (``args``), each value read by
        ``typed`` (which checks it as the option it was typed for), and for each argument the
        option it came from and its text (an error found later names the option)."""
        raise NotImplementedError

    def resolve_case(self, case: dict, X, grad: bool):
        """Validate ``case`` (its keyword arguments, consumed) and ``X`` (a float array when
        ``grad``) into the worker's keyword arguments, the input and its geometry
        (``PoolingError`` naming the argument)."""
        raise NotImplementedError

    def geometry(self, x_shape, **kwargs):
        """The geometry of these keyword arguments on an input of ``x_shape``."""
        raise NotImplementedError

    def kwargs(self, geometry) -> dict:
        """The operation's keyword arguments of ``geometry`` (JSON-friendly)."""
        raise NotImplementedError

    def output_shape(self, geometry, input_shape) -> tuple[int, ...]:
        """The shape of the operation's output for an input of ``input_shape``."""
        raise NotImplementedError

    def pool(self, x: np.ndarray, geometry) -> np.ndarray:
        """The reference's numbers for a validated input, its spatial axes kept (the numpy
        reference; ``finish`` shapes them)."""
        raise NotImplementedError

    def finish(self, geometry, out: np.ndarray) -> np.ndarray:
        """``pool``'s output in the shape the operation returns."""
        return out

    def reference(self, x: np.ndarray, geometry) -> np.ndarray:
        """The reference's output for a validated input."""
        return self.finish(geometry, self.pool(x, geometry))

    def more_inputs(self, geometry) -> list[np.ndarray]:
        """The arrays a backend receives after ``x`` (``inputs == 2``: the indices)."""
        return []

    def reference_pair(self, x: np.ndarray, geometry) -> tuple[np.ndarray, np.ndarray]:
        """The reference's two outputs (``outputs == 2``): the judged one and the second."""
        raise NotImplementedError

    def pair_shapes(self, geometry, input_shape) -> tuple[tuple, tuple]:
        """The shapes of a plan's two results (``outputs == 2``), in the plan's order: the
        second output's, then the judged one's."""
        shape = self.output_shape(geometry, input_shape)
        return shape, shape

    def compute(self, X, **kwargs) -> np.ndarray:
        """The reference's output of ``X`` for these keyword arguments (``px.<function>``)."""
        from ..reference import as_input

        x = as_input(X)
        return self.reference(x, self.geometry(x.shape, **kwargs))

    def reference_grad(self, x: np.ndarray, kwargs: dict, grad_output, ties: str):
        """The reference's gradient of ``x`` for these keyword arguments with the upstream
        ``grad_output`` and ``ties``; None where the reference has none."""
        if not self.has_gradient:
            return None
        return self.gradient(x, self.geometry(x.shape, **kwargs), grad_output, ties)

    def gradient(self, x: np.ndarray, geometry, grad_output, ties: str) -> np.ndarray:
        """The reference's gradient of a validated float input for a resolved geometry, with
        the upstream ``grad_output`` (None: ones; shaped as this operation's output) and
        ``ties`` (``compare``'s judge and its diagnosis of the difference)."""
        from ..gradient import grad_geometry

        return grad_geometry(x, geometry, grad_output, ties)

    def cells_read(self, geometry, windows: np.ndarray, x_shape) -> np.ndarray:
        """The input cells (a bool array of ``x_shape``) read by the output windows marked
        in ``windows`` (shaped as the output, spatial axes kept)."""
        from ..gradient import _avg_grad

        return _avg_grad(windows.astype(np.float64), geometry, x_shape) > 0

    # --- the planner's entry --------------------------------------------------------------
    def layouts(self, vocab, mode: str) -> tuple[str, ...]:
        """The layouts ``vocab``'s framework computes this operation in."""
        return vocab.layouts

    def dtypes(self, vocab) -> tuple[str, ...]:
        """The dtypes ``vocab``'s framework takes this operation's max in."""
        return vocab.pool_dtypes

    def own_call(self, vocab, mode: str) -> bool:
        """Whether ``vocab`` has a call of its own for this operation (beside plain pooling),
        whose layouts are then the ones the plan transposes to."""
        return False

    def native(self, vocab, plan: Plan, geom, v: Var, layout: str, mode: str) -> Var | None:
        """One framework call computing ``geom`` in ``mode``, or None."""
        return vocab.native(plan, geom, v, layout, mode)

    def emulate(self, vocab, plan: Plan, geom, v: Var, layout: str, mode: str,
                slices: bool) -> Var:
        """``geom`` in ``mode`` from the framework's plain pooling and elementwise ops."""
        raise NotImplementedError

    def keeps_axes(self, spec: dict) -> bool:
        """Whether its output, for the JSON ``spec``, keeps the input's spatial axes."""
        return True

    # --- the sizes a translation is checked at (``porting.sizes``) ---------------------------
    def sample_limit(self, kwargs: dict) -> int:
        """Input sizes 1..limit sampled per axis to find where a translation's code holds."""
        return 16

    def period(self, kwargs: dict) -> tuple[int, ...]:
        """Per spatial axis, the input sizes after which its windows repeat their pattern."""
        return (1,) * layout_rank(kwargs["layout"])

    def small_size(self, kwargs: dict) -> tuple[int, ...]:
        """A small input size worth verifying at (the smallest that is not one cell: a Keras
        adaptive max of 1 cell is SIGFPE)."""
        return (2,) * layout_rank(kwargs["layout"])

    # --- labels ---------------------------------------------------------------------------
    def cell(self, spec: dict) -> str:
        """The operation in a report's table, from its JSON spec: ``pool2d max``."""
        return f"{self.name} {spec['mode']}"

    def describe(self, geometry) -> str:
        """The resolved operation in words (``translate``)."""
        raise NotImplementedError

    def no_gradient(self) -> str:
        """Why ``grad=True`` is refused for this operation ("" where it has a gradient)."""
        return "" if self.has_gradient else f"{self.name} pooling has no gradient yet"


def check_arguments(op: Operation, case: dict, extra: tuple[str, ...] = ()) -> None:
    """Every keyword of ``case`` is one of ``op``'s arguments (or ``extra``)."""
    for name in case:
        if name not in op.arguments + extra:
            raise PoolingError(f"{name}: got {case[name]!r}, not an argument of "
                               f"op={op.name!r}; allowed: {', '.join(op.arguments)}")
