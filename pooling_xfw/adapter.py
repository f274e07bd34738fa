"""What every adapter shares: a framework ``Vocabulary``'s plans, run on numpy inputs.

An adapter module (``adapters/<name>.py``) defines its ``Vocabulary`` and gets its public
functions from here: ``pool2d``, ``adaptive_pool2d``, ``global_pool2d`` (``px``'s signatures,
computed by the framework), their ``plan`` functions (the calls, nothing computed) and
``pool2d_grad`` (the gradient of the very plan ``pool2d`` runs, by the framework's own
autograd: ``Vocabulary.gradient``; an emulated plan is differentiated as the graph it is).
``run`` and ``run_grad`` serve any operation (``pooling_xfw.ops``): the worker calls them,
and keeps its one-output plans in ``Plans``.
"""
from __future__ import annotations

import json
import sys

import numpy as np

from . import registry
from .argmax_plan import build_pair_plan, build_unpool_plan
from .errors import PoolingError, one_line
from .gradient import grad_input, output_shape_of, upstream
from .indices import framework_indices, indices_for
from .layout import full_shape
from .ops import ADAPTIVE, GLOBAL, POOL, Operation
from .plan import Plan
from .planner import build_plan
from .reference import as_input
from .vocabulary import Vocabulary


class BackendError(RuntimeError):
    """The framework itself failed on a valid spec; the message is the framework's, one line."""


class GradientError(BackendError):
    """The framework computed the forward but not its gradient (JAX: no VJP for a dilated max
    ``reduce_window``): ``output`` is the forward's numpy output, ``plan`` the plan."""

    def __init__(self, message: str, output: np.ndarray, plan: Plan):
        super().__init__(message)
        self.output, self.plan = output, plan


class GradientUnavailable(RuntimeError):
    """The framework has no gradient to give (``Vocabulary.no_autograd``, the reason): the
    forward ran, ``output`` and ``plan`` are its own."""

    def __init__(self, reason: str, output: np.ndarray, plan: Plan):
        super().__init__(reason)
        self.output, self.plan = output, plan


def as_full(x: np.ndarray, layout: str) -> np.ndarray:
    """``x`` as the array of the layout's full rank a plan takes (1s added for the axes left
    out: ``layout.full_shape``); a view."""
    return x.reshape(full_shape(x.shape, layout))


def plan_of(vocab: Vocabulary, op: Operation, X, **kwargs) -> tuple[Plan, object, np.ndarray]:
    """The plan ``vocab``'s framework runs for ``op`` with these keyword arguments (nothing is
    computed), with the geometry and the validated input.  ``constant_pad`` (windowed pooling
    only): ``(pads, value)``, the input padded with that constant first, the pooling then of
    the padded input.  ``empty``: what a window of padding only gives (``build_plan``'s)."""
    constant_pad = kwargs.get("constant_pad")
    empty = kwargs.pop("empty", "")
    x = as_input(X)
    geom = op.geometry(x.shape, **kwargs)
    if op.outputs == 2:  # the values and each window's argmax (or what is made of them)
        return (build_pair_plan(vocab, op, geom, x.dtype.newbyteorder("="), x.shape), geom,
                x)
    return (build_plan(vocab, op, geom, x.dtype.newbyteorder("="), x.shape, constant_pad,
                       empty), geom, x)


class KnownCrash(RuntimeError):
    """A call measured to crash its framework's process (``Vocabulary.unpool_crash``), not run
    unless the case asks to."""


def run(vocab: Vocabulary, op: Operation, X, *more, **kwargs) -> tuple[np.ndarray, Plan]:
    """``op`` of ``X`` (and ``more``: the indices of an unpooling) with ``vocab``'s framework;
    returns the numpy output and the plan it ran (an operation of two outputs: ``[indices,
    values]``, the indices in the convention asked for, ``Plan.index_note`` saying the first
    that names no cell)."""
    if op.inputs == 2:
        return run_unpool(vocab, op, X, *more, **kwargs)
    the_plan, geom, x = plan_of(vocab, op, X, **kwargs)
    if op.outputs == 1:
        return run_plan(vocab, the_plan, geom, x, op.output_shape(geom, x.shape)), the_plan
    if op.unpools_own_indices:
        _refuse_a_known_unpool_crash(vocab, the_plan, geom, x)
    values, raw = run_plan(vocab, the_plan, geom, x, op.pair_shapes(geom, x.shape))
    indices, the_plan.index_note = framework_indices(
        raw, x.shape, geom.spec.layout, the_plan.index_convention, the_plan.index_layout,
        geom.convention, the_plan.index_pads)
    return [indices, values], the_plan


class Plans:
    """A worker's plans of one-output operations, by case: the vocabulary, the operation, its
    keyword arguments, the input's shape and dtype (a plan depends on no input value).  A
    repeated case runs its plan again, neither planned nor described again: on this project's
    machine that was 90 to 180 microseconds of a small case's 200 to 1,000 in a worker.  The
    plans stay this cache's own: nothing that runs one changes it."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit  # the most plans kept; the oldest goes first
        self._entries: dict[tuple, tuple] = {}

    def run(self, vocab: Vocabulary, op: Operation, X, **kwargs) -> tuple[np.ndarray, dict]:
        """``run(vocab, op, X, **kwargs)``'s output for a one-output ``op``, and its plan's
        ``describe()``.

        Raises:
            PoolingError: as ``run``, for arguments or an input the operation refuses.
            BackendError: as ``run``, the framework's own failure in one line.
        """
        if op.outputs != 1 or op.inputs != 1:
            raise ValueError(f"Plans.run: op {op.name!r} has {op.inputs} inputs and "
                             f"{op.outputs} outputs; allowed: one of each")
        x = as_input(X)
        key = (vocab.name, op.name, json.dumps(kwargs, sort_keys=True, default=repr), x.shape,
               x.dtype.str)
        entry = self._entries.get(key)
        if entry is None or entry[0] is not vocab:  # planned by another vocabulary of the name
            the_plan, geom, x = plan_of(vocab, op, x, **kwargs)
            entry = (vocab, the_plan, geom, op.output_shape(geom, x.shape),
                     the_plan.describe())
            self._entries.pop(key, None)
            if len(self._entries) >= self.limit:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = entry
        _, the_plan, geom, shape, described = entry
        return run_plan(vocab, the_plan, geom, x, shape), described

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[tuple]:
        """The cases kept, oldest first: (backend, operation, keyword arguments as JSON, input
        shape, input dtype)."""
        return list(self._entries)


def run_grad(vocab: Vocabulary, op: Operation, X, grad_output=None, **kwargs
             ) -> tuple[list[np.ndarray], Plan]:
    """The plan ``run`` would execute, recorded by ``vocab``'s autograd and backpropagated
    with ``grad_output`` (ones when None, shaped as the output): ``[output, gradient with
    respect to X]`` (X's shape and dtype) and the plan, whose ``render_grad()`` is the code.
    Float inputs only, like ``px.pool2d_grad``."""
    the_plan, geom, x = plan_of(vocab, op, X, **kwargs)
    x = grad_input(x)
    shape = op.output_shape(geom, x.shape)  # what the operation returns (axes dropped or not)
    kept = output_shape_of(x.shape, geom)  # the plan's own output: its spatial axes kept
    up = upstream(grad_output, shape, x.dtype).reshape(kept)
    if vocab.no_autograd:  # the forward alone, and why there is no backward
        raise GradientUnavailable(vocab.no_autograd, run_plan(vocab, the_plan, geom, x, shape),
                                  the_plan)
    the_plan.backward = vocab.backward
    layout = geom.spec.layout
    x_full = as_full(x, layout).astype(the_plan.handover or x.dtype.newbyteorder("="), copy=False)
    up_full = as_full(up, layout).astype(up.dtype.newbyteorder("="), copy=False)
    ns = framework_namespace(vocab)
    try:
        y, grad = vocab.gradient(ns, lambda t: the_plan.execute(ns, t), vocab.to_tensor(ns, x_full),
                                 vocab.to_tensor(ns, up_full))
        if grad is None:  # the framework found no path from x to y
            raise RuntimeError("the autograd returned no gradient for the input")
        y, grad = vocab.to_numpy(ns, y), vocab.to_numpy(ns, grad)
    except Exception as exc:  # the framework's own failure, reported in one line
        message = framework_error(vocab, exc)
        try:  # does the forward alone run?  Then only the gradient failed
            forward = execute(vocab, the_plan, x_full)
        except BackendError:
            raise BackendError(message) from exc
        gap = vocab.gradient_gap(message)
        if gap:  # none by design: nothing to compare, as for a framework without autograd
            raise GradientUnavailable(f"{gap} ({message})", forward.reshape(shape),
                                      the_plan) from exc
        raise GradientError(message, forward.reshape(shape), the_plan) from exc
    return [y.reshape(shape), grad.reshape(x.shape)], the_plan


def run_unpool(vocab: Vocabulary, op: Operation, values, indices, **kwargs
               ) -> tuple[np.ndarray, Plan]:
    """``values`` unpooled at ``indices`` (plane convention, shaped as ``values``) with
    ``vocab``'s framework: the indices converted to the convention its call takes first.

    Raises:
        KnownCrash: an index is -1 where the framework's unpooling is measured to crash on it
            (``Vocabulary.unpool_crash``), and the case did not ask to run it.
    """
    x = as_input(values)
    geom = op.geometry(x.shape, **kwargs)
    index = np.asarray(indices)
    if index.shape != x.shape or index.dtype.kind not in "iu":
        raise PoolingError(f"indices: got a {index.dtype} array of shape {index.shape}; "
                           f"allowed: integers shaped as the values {x.shape}")
    the_plan = build_unpool_plan(vocab, geom, x.dtype.newbyteorder("="), x.shape)
    crash = vocab.at_rank(len(geom.output_size)).unpool_crash
    if crash and (index < 0).any() and not geom.run_known_crashes:
        raise KnownCrash(f"{vocab.name}: not run: an index is -1 (a window of padding only), "
                         f"and {crash}; run_known_crashes=True (--run-known-crashes) runs it, "
                         f"the worker contained by the call timeout")
    shape = op.output_shape(geom, x.shape)
    converted = indices_for(index, shape, geom.spec.layout, the_plan.index_convention,
                            the_plan.index_layout)
    return run_plan(vocab, the_plan, geom, x, shape,
                    indices=as_full(converted, geom.spec.layout)), the_plan


def _refuse_a_known_unpool_crash(vocab: Vocabulary, the_plan: Plan, geom, x: np.ndarray
                                 ) -> None:
    """A pipeline's unpooling crashes where its own max pooling gave index -1: a window with no
    cell above ``Vocabulary.no_index_at_or_below`` (NaN, -inf, padding only, and for Paddle's
    ``return_mask`` the value its max pooling starts from; measured: its index is -1 and its
    value -3.4028e38 there).

    Raises:
        KnownCrash: such a window, where the framework's unpooling is measured to crash on -1
            (``Vocabulary.unpool_crash``).
    """
    crash = vocab.at_rank(len(geom.axes)).unpool_crash
    if not crash:
        return
    work = np.dtype(the_plan.computes_in or x.dtype)
    start = -np.inf if vocab.no_index_at_or_below == "-inf" else vocab.max_pool_start.get(
        work.name, np.finfo(work).min if work.kind == "f" else np.iinfo(work).min)
    with np.errstate(invalid="ignore"):
        above = (x.astype(work, copy=False) > start).astype(np.uint8)
    if above.size and POOL.pool(above, geom).min() == 0:
        raise KnownCrash(f"{vocab.name}: not run: a window has no cell above {start:g} (only "
                         f"NaN, values of at most that, or padding), where its max pooling's "
                         f"index is -1, and {crash}")


def run_plan(vocab: Vocabulary, the_plan: Plan, geom, x: np.ndarray, shape,
             **inputs) -> np.ndarray:
    """Execute a plan on ``x`` (at full rank, handed over and back; ``inputs``: the plan's
    other inputs by name, as they are) and shape the output."""
    _check_exact(vocab, the_plan, x)
    full = as_full(x, geom.spec.layout)
    full = full.astype(the_plan.handover or full.dtype.newbyteorder("="), copy=False)
    out = execute(vocab, the_plan, full, **inputs)
    if isinstance(out, tuple):  # (values, indices): the indices as the framework gave them
        values, indices = out  # ``shape``: the pair's shapes (``Operation.pair_shapes``)
        if the_plan.handback:
            values = values.astype(the_plan.handback)
        return values.reshape(shape[0]), indices.reshape(shape[1])
    if the_plan.handback:
        out = out.astype(the_plan.handback)
    return out.reshape(shape)


def _check_exact(vocab: Vocabulary, the_plan: Plan, x: np.ndarray) -> None:
    """Integers the framework can only pool in float64 must be exact there."""
    if the_plan.exact_below and x.size and (
            int(x.max()) >= the_plan.exact_below or int(x.min()) <= -the_plan.exact_below):
        raise PoolingError(
            f"X: got {x.dtype} values up to {max(abs(int(x.min())), int(x.max()))}; allowed "
            f"for {vocab.name}, which pools {x.dtype} in float64: |values| < 2**53")


def framework_namespace(vocab: Vocabulary) -> dict:
    """The names ``vocab``'s plans call (its framework, imported on first use).

    Raises:
        BackendError: the framework cannot be imported in this interpreter (an adapter used
            outside its backend's environment): one line naming the backend, the module and
            where it does run.
    """
    try:
        return vocab.namespace()
    except ImportError as exc:
        module = registry.get(vocab.name).module if vocab.name in registry.names() else "?"
        raise BackendError(
            f"{vocab.name}: its framework ({module}) cannot be imported by this interpreter "
            f"({sys.executable}: {one_line(exc)}); run it in its environment: "
            f"`pooling-xfw envs create --backends {vocab.name}`, then px.compare(..., "
            f"backends=[{vocab.name!r}]) runs it there, or call this adapter from that "
            f"environment's python") from None


def execute(vocab: Vocabulary, the_plan: Plan, x_full: np.ndarray, **inputs) -> np.ndarray:
    """Run ``the_plan`` on a full-rank array (and the further ``inputs`` by name) with
    ``vocab``'s framework; its failures as BackendError."""
    ns = framework_namespace(vocab)
    try:
        out = the_plan.execute(ns, vocab.to_tensor(ns, x_full),
                               **{name: vocab.to_tensor(ns, array)
                                  for name, array in inputs.items()})
        if isinstance(out, (tuple, list)):  # a plan of two results (values, indices)
            return tuple(vocab.to_numpy(ns, part) for part in out)
        return vocab.to_numpy(ns, out)
    except PoolingError:  # the toolkit's own (a model that cannot be saved), not the framework's
        raise
    except Exception as exc:  # the framework's own failure, reported in one line
        raise BackendError(framework_error(vocab, exc)) from exc


def framework_error(vocab: Vocabulary, exc: BaseException) -> str:
    """``NAME: RuntimeError: ...``: the framework's exception in one line, its type named
    once (a message that starts with its own type's name, or carries a C++ traceback whose
    last line says what failed, is cut to that)."""
    kind = type(exc).__name__
    lines = str(exc).splitlines()
    if lines and lines[0].startswith("Traceback (most recent call last)"):
        said = [i for i, line in enumerate(lines) if line.startswith(f"{kind}: ")]
        lines = lines[said[-1]:] if said else lines[-1:]
    text = one_line("\n".join(lines)).removeprefix(f"{kind}: ") or kind
    return f"{vocab.name}: {kind}: {text}"


def bind(vocab: Vocabulary):
    """An adapter module's ``pool2d`` (``px.pool2d``'s exact signature, computed by
    ``vocab``'s framework), ``plan`` (its ``Plan``, nothing computed) and ``run`` (``pool2d``
    that also returns the plan)."""

    def pool2d(X, pool_size, mode: str = "max", *, stride=1, padding=0, dilation=1,
               ceil_mode: bool = False, count_include_pad: bool = True, layout: str = "NCHW",
               p: float = 2) -> np.ndarray:
        return run(vocab, POOL, X, pool_size=pool_size, mode=mode, stride=stride,
                   padding=padding, dilation=dilation, ceil_mode=ceil_mode,
                   count_include_pad=count_include_pad, layout=layout, p=p)[0]

    def plan_for(X, pool_size, mode="max", **kwargs) -> Plan:
        """The ``Plan`` (calls, native/emulated, rendered code) ``pool2d`` runs for these
        arguments; nothing is computed."""
        return plan_of(vocab, POOL, X, pool_size=pool_size, mode=mode, **kwargs)[0]

    def run_with_plan(X, pool_size, mode="max", **kwargs) -> tuple[np.ndarray, Plan]:
        """``pool2d`` that also returns the ``Plan`` it ran."""
        return run(vocab, POOL, X, pool_size=pool_size, mode=mode, **kwargs)

    pool2d.__doc__ = (f"``px.pool2d`` computed with {vocab.name}'s own pooling ops.\n\n"
                      f"Same arguments, conventions and errors as ``pooling_xfw.pool2d``; the "
                      f"calls made are ``plan(...)``'s.")
    return pool2d, plan_for, run_with_plan


def bind_grad(vocab: Vocabulary):
    """An adapter module's ``pool2d_grad`` (``px.pool2d_grad``'s signature but ``ties``: the
    framework routes ties as it does) for ``vocab``."""

    def pool2d_grad(X, pool_size, mode: str = "max", *, grad_output=None, stride=1, padding=0,
                    dilation=1, ceil_mode: bool = False, count_include_pad: bool = True,
                    layout: str = "NCHW", p: float = 2) -> np.ndarray:
        return run_grad(vocab, POOL, X, grad_output, pool_size=pool_size, mode=mode,
                        stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode,
                        count_include_pad=count_include_pad, layout=layout, p=p)[0][1]

    pool2d_grad.__doc__ = (f"The gradient of ``pool2d`` with respect to ``X``, by {vocab.name}'s "
                           f"autograd through the calls ``plan(...)`` shows.")
    return pool2d_grad


def bind_adaptive(vocab: Vocabulary):
    """An adapter module's ``adaptive_pool2d``, ``global_pool2d`` (``px``'s signatures) and
    their ``adaptive_plan`` and ``global_plan`` for ``vocab``."""

    def adaptive_pool2d(X, output_size, mode: str = "max", *, layout: str = "NCHW"
                        ) -> np.ndarray:
        return run(vocab, ADAPTIVE, X, output_size=output_size, mode=mode, layout=layout)[0]

    def global_pool2d(X, mode: str = "max", *, p: float = 2, keepdims: bool = True,
                      layout: str = "NCHW") -> np.ndarray:
        return run(vocab, GLOBAL, X, mode=mode, p=p, keepdims=keepdims, layout=layout)[0]

    def plan_adaptive(X, output_size, mode="max", layout="NCHW") -> Plan:
        """The ``Plan`` ``adaptive_pool2d`` runs for these arguments; nothing is computed."""
        return plan_of(vocab, ADAPTIVE, X, output_size=output_size, mode=mode, layout=layout)[0]

    def plan_global(X, mode="max", **kwargs) -> Plan:
        """The ``Plan`` ``global_pool2d`` runs for these arguments; nothing is computed."""
        return plan_of(vocab, GLOBAL, X, mode=mode, **kwargs)[0]

    for function, reference in ((adaptive_pool2d, "adaptive_pool2d"),
                                (global_pool2d, "global_pool2d")):
        function.__doc__ = (f"``px.{reference}`` computed with {vocab.name}'s own ops.\n\n"
                            f"Same arguments, conventions and errors as ``pooling_xfw."
                            f"{reference}``; the calls made are ``{reference.split('_')[0]}"
                            f"_plan(...)``'s.")
    return adaptive_pool2d, global_pool2d, plan_adaptive, plan_global
