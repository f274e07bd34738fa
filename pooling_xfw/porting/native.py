"""Running a framework's own pooling call as written, in its worker (``run_native``; its
gradient, ``run_native_grad``), and its numbers by the neutral semantics (``evaluate``)."""
from __future__ import annotations

import numpy as np

from ..compare import judge
from ..errors import PoolingError
from ..layout import full_pads, spatial_axes
from ..reference import _spatial
from ..runtime.client import WorkerFailure, default_pool
from ..spec import resolve
from .parse import NativeCall


def run_native(native: NativeCall, x: np.ndarray, pool=None):
    """The call exactly as the user wrote it, in its framework's worker: its output, or the
    pair (values, indices) of a call that also returns its argmax."""
    pool = pool or default_pool()
    hello = pool.start([native.framework])[native.framework]
    if isinstance(hello, WorkerFailure):
        raise hello
    reply, arrays = pool.worker(native.framework).request(
        {"op": "run-plan", "plan": native.source_plan().to_json()}, [x])
    if reply["status"] != "ok":
        raise WorkerFailure("error", f"{reply['kind']}: {reply['message']}")
    return arrays[0] if len(arrays) == 1 else tuple(arrays)


def run_plan_grad(framework: str, plan, x: np.ndarray, grad_output: np.ndarray, pool=None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``plan`` (a native call's ``source_plan()`` or an adapter's plan) run in ``framework``'s
    worker inside its autograd, backpropagated with ``grad_output`` (the output's shape):
    (output, gradient with respect to ``x``)."""
    pool = pool or default_pool()
    hello = pool.start([framework])[framework]
    if isinstance(hello, WorkerFailure):
        raise hello
    reply, arrays = pool.worker(framework).request(
        {"op": "run-plan", "plan": plan.to_json(), "grad": True}, [x, grad_output])
    if reply["status"] != "ok":
        raise WorkerFailure("error", f"{reply['kind']}: {reply['message']}")
    return arrays[0], arrays[1]


def run_native_grad(native: NativeCall, x: np.ndarray, grad_output: np.ndarray, pool=None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The call as the user wrote it, inside its framework's autograd: (output, gradient)."""
    return run_plan_grad(native.framework, native.source_plan(), x, grad_output, pool)


def tie_input(shape, seed: int = 0) -> np.ndarray:
    """Small integers (-2 to 2) in float32: ties inside windows and across overlapping ones
    everywhere, the inputs on which tie policies route gradients differently."""
    rng = np.random.default_rng(seed)
    return rng.integers(-2, 3, size=shape).astype(np.float32)


def upstream_gradient(shape, seed: int = 0) -> np.ndarray:
    """An upstream gradient of integers 1 to 4: each window's weight shows where it went."""
    return np.random.default_rng(seed).integers(1, 5, size=shape).astype(np.float32)


def neutral_kwargs(native: NativeCall) -> dict:
    """The call's neutral keywords: ``px.pool2d``'s, or for an adaptive or global call
    ``px.adaptive_pool2d``'s / ``px.global_pool2d``'s (``native.op``)."""
    spec = dict(native.spec)
    if not native.op.has_window:
        return spec
    return {"pool_size": spec.pop("pool_size"), "mode": spec.pop("mode"), **spec}


def case_of(native: NativeCall, x: np.ndarray) -> dict:
    """One ``compare_many`` case: the call's neutral keywords on ``x``."""
    return dict(X=x, op=native.op.name, **neutral_kwargs(native))


def evaluate(native: NativeCall, x: np.ndarray) -> np.ndarray:
    """What the call computes, by the neutral semantics: the reference, plus a ``tf.pad`` with a
    constant that is not the reduction's identity (any finite one before a max, a non-zero one
    before an average), and the framework's own value for a window of padding only
    (``ceil_mode="keep"``'s, or pads a window wide) where it is not the neutral one: MXNet's
    and Paddle's max the dtype's lowest finite value (``empty_max``), MXNet's average 0 where
    padding is not counted (``empty_average``)."""
    kwargs = neutral_kwargs(native)
    if not native.op.has_window:
        return native.op.compute(x, **kwargs)
    if native.pad_value is not None and (kwargs["mode"] in ("max", "min")
                                         or native.pad_value != 0):
        x = np.pad(x, full_pads(kwargs["layout"], native.recipe_pads, x.ndim),
                   constant_values=native.pad_value)
        kwargs["padding"] = 0
    out = native.op.compute(x, **kwargs)
    own_max = native.empty_max == "lowest" and kwargs["mode"] == "max"
    own_average = native.empty_average == "zero" and kwargs["mode"] == "avg"
    if (own_max or own_average) and out.dtype.kind == "f":
        empty = resolve(native.op.spec_of(kwargs), x.shape).empty_windows()
        if empty.any():
            empty = np.broadcast_to(_spatial(empty, out.ndim, kwargs["layout"]), out.shape)
            out = out.copy()
            out[empty] = np.finfo(out.dtype).min if own_max else 0
    return out


def shape_only(shape) -> np.ndarray:
    """A float32 array of ``shape`` that takes no memory (every cell is one zero)."""
    try:
        return np.broadcast_to(np.zeros((), np.float32), shape)
    except ValueError:  # more cells than numpy can index
        raise PoolingError(f"shape: got {tuple(shape)}; allowed: fewer than 2**63 cells in "
                           f"all (C int64)") from None


def random_input(shape, layout: str, seed: int = 0) -> np.ndarray:
    """Values in [-10, 10), rounded to quarters (sums stay exact), with the first corner (the
    first half of every spatial axis: the top-left quadrant in 2-D) all negative: windows at
    the border where padding would win a max if it were not -inf."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(-10, 10, size=shape) * 4) / 4
    corner = [slice(None)] * len(shape)
    for axis in spatial_axes(len(shape), layout):
        corner[axis] = slice(0, -(-shape[axis] // 2))
    x[tuple(corner)] = -np.abs(x[tuple(corner)]) - 0.25
    return x.astype(np.float32)


COULD_NOT_RUN = "could not run: "


#: a backward check that cannot exist (a framework without autograd): shown, not a failure
NOT_COMPARED = "not compared: "


#: each ``ties`` policy in words
TIES_WORDS = {"first": "sends a tied window's gradient to its first extreme",
              "split": "splits a tied window's gradient evenly among its extremes",
              "all": "gives every tied extreme the window's whole gradient"}


def check_agreement(out, expected, tol, scale: float,
               what: str = "the neutral spec") -> tuple[str, float]:
    """``out`` judged against ``expected`` as ``compare`` judges: (verdict line, max |diff|).
    A pair (values, indices) is judged as two: the indices exactly, then the values."""
    from ..compare import BackendResult

    if isinstance(expected, tuple):
        line, diff = check_agreement(out[1], expected[1], (0.0, 0.0), 0.0, what)
        if not line.startswith("agrees"):
            return f"{line.replace('DIFFERS: ', 'DIFFERS: indices: ', 1)}", diff
        line, diff = check_agreement(out[0], expected[0], tol, scale, what)
        return (line if line.startswith("agrees") else
                line.replace("DIFFERS: ", "DIFFERS: values: ", 1)), diff

    probe = BackendResult("", "", output=out)
    judge(probe, expected, tol, scale, "reference" if what == "the neutral spec" else what)
    verdict = f"agrees with {what}" if probe.status == "agree" else f"DIFFERS: {probe.detail}"
    return verdict, probe.max_abs_diff
