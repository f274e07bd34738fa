"""The porting assistant: a framework's own pooling call -> the neutral spec -> every framework.

* ``translate(call, frm, shape)``: parse the call, render the code each framework runs for the
  same numbers (the adapters' plans: the code shown is the code that runs), and verify by
  running the source call as written and every target on a random input with negative values.
* ``explain(call_a, frm_a, call_b, frm_b)``: are two calls equivalent?  If not, each cause,
  classified, with the smallest input that shows the difference.
* ``audit_chapter()``: both, over every tab of the chapter and the historical d2l-en 1270/1271
  configurations (``chapter.py``).
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np

from ..adaptive import AdaptiveGeometry
from ..compare import compare_many, input_scale, judge, tolerance
from ..errors import PoolingError, one_line
from ..reference import pool2d, work_dtype
from ..runtime.client import WorkerFailure, default_pool
from .. import registry
from ..spec import make_spec, resolve
from . import recipes, sizes
from .parse import NativeCall, nan_policy, parse, tie_policy

__all__ = ["parse", "NativeCall", "translate", "explain", "Translation", "Explanation",
           "run_native", "evaluate"]


# --- running a native call as written ------------------------------------------------------------

def run_native(native: NativeCall, x: np.ndarray, pool=None) -> np.ndarray:
    """The call exactly as the user wrote it, in its framework's worker."""
    pool = pool or default_pool()
    hello = pool.start([native.framework])[native.framework]
    if isinstance(hello, WorkerFailure):
        raise hello
    reply, arrays = pool.worker(native.framework).request(
        {"op": "run-plan", "plan": native.source_plan().to_json()}, [x])
    if reply["status"] != "ok":
        raise WorkerFailure("error", f"{reply['kind']}: {reply['message']}")
    return arrays[0]


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


def _tie_input(shape, seed: int = 0) -> np.ndarray:
    """Small integers (-2 to 2) in float32: ties inside windows and across overlapping ones
    everywhere, the inputs on which tie policies route gradients differently."""
    rng = np.random.default_rng(seed)
    return rng.integers(-2, 3, size=shape).astype(np.float32)


def _upstream(shape, seed: int = 0) -> np.ndarray:
    """An upstream gradient of integers 1 to 4: each window's weight shows where it went."""
    return np.random.default_rng(seed).integers(1, 5, size=shape).astype(np.float32)


def _neutral_kwargs(native: NativeCall) -> dict:
    """The call's neutral keywords: ``px.pool2d``'s, or for an adaptive or global call
    ``px.adaptive_pool2d``'s / ``px.global_pool2d``'s (``native.op``)."""
    spec = dict(native.spec)
    if not native.op.has_window:
        return spec
    return {"pool_size": spec.pop("pool_size"), "mode": spec.pop("mode"), **spec}


def _case(native: NativeCall, x: np.ndarray) -> dict:
    """One ``compare_many`` case: the call's neutral keywords on ``x``."""
    return dict(X=x, op=native.op.name, **_neutral_kwargs(native))


def evaluate(native: NativeCall, x: np.ndarray) -> np.ndarray:
    """What the call computes, by the neutral semantics: the reference, plus a ``tf.pad`` with a
    constant that is not the reduction's identity (any finite one before a max, a non-zero one
    before an average), and MXNet/Paddle keeping a window that starts in the padding (its cells
    are NaN here: the neutral spec has no value for a window of padding only)."""
    kwargs = _neutral_kwargs(native)
    if not native.op.has_window:
        return native.op.compute(x, **kwargs)
    if native.pad_value is not None and (kwargs["mode"] in ("max", "min")
                                         or native.pad_value != 0):
        (top, bottom), (left, right) = native.recipe_pads
        h_axis = x.ndim - 3 if kwargs["layout"] == "NHWC" else x.ndim - 2
        widths = [(0, 0)] * x.ndim
        widths[h_axis], widths[h_axis + 1] = (top, bottom), (left, right)
        x = np.pad(x, widths, constant_values=native.pad_value)
        kwargs["padding"] = 0
    out = pool2d(x, **kwargs)
    if native.keeps_padding_windows and kwargs["ceil_mode"]:
        geom = resolve(make_spec(**kwargs), x.shape)
        extra = [g.ceil_keep_out() - g.out for g in (geom.rows, geom.cols)]
        if any(extra):
            h_axis = x.ndim - 3 if kwargs["layout"] == "NHWC" else x.ndim - 2
            widths = [(0, 0)] * out.ndim
            widths[h_axis], widths[h_axis + 1] = (0, extra[0]), (0, extra[1])
            out = np.pad(out.astype(np.float64), widths, constant_values=np.nan)
    return out


def _shape_only(shape) -> np.ndarray:
    """A float32 array of ``shape`` that takes no memory (every cell is one zero)."""
    try:
        return np.broadcast_to(np.zeros((), np.float32), shape)
    except ValueError:  # more cells than numpy can index
        raise PoolingError(f"shape: got {tuple(shape)}; allowed: fewer than 2**63 cells in "
                           f"all (C int64)") from None


def _random_input(shape, layout: str, seed: int = 0) -> np.ndarray:
    """Values in [-10, 10), rounded to quarters (sums stay exact), with the top-left quadrant
    all negative: windows at the border where padding would win a max if it were not -inf."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(-10, 10, size=shape) * 4) / 4
    h_axis = len(shape) - 3 if layout == "NHWC" and len(shape) > 2 else len(shape) - 2
    corner = [slice(None)] * len(shape)
    corner[h_axis] = slice(0, -(-shape[h_axis] // 2))
    corner[h_axis + 1] = slice(0, -(-shape[h_axis + 1] // 2))
    x[tuple(corner)] = -np.abs(x[tuple(corner)]) - 0.25
    return x.astype(np.float32)


# --- translate ------------------------------------------------------------------------------------

COULD_NOT_RUN = "could not run: "
#: a backward check that cannot exist (a framework without autograd): shown, not a failure
NOT_COMPARED = "not compared: "

@dataclasses.dataclass
class Target:
    backend: str
    #: native | emulated (code that holds for every input size the spec defines) |
    #: size-dependent: valid for H in ... | impossible: why
    verdict: str
    code: str
    reasons: list[str]
    check: str = ""  # agreement with the source call on random inputs of several sizes
    max_abs_diff: float | None = None
    #: per axis, the sizes the code holds for (``sizes.AxisCondition``; empty: not computed)
    conditions: list = dataclasses.field(default_factory=list)
    #: the input shapes the check ran, each with what happened: "agrees", "refused", "DIFFERS"
    checked: dict = dataclasses.field(default_factory=dict)
    #: the backward pass: this code's gradient (its framework's autograd) against the source
    #: call's, on inputs with ties, at the same sizes (empty: not verified)
    grad_check: str = ""
    grad_max_abs_diff: float | None = None
    grad_checked: dict = dataclasses.field(default_factory=dict)
    #: lines shown under the verdict: ONNX's pooling nodes with every attribute (defaults too)
    details: list = dataclasses.field(default_factory=list)
    #: the printed code without its size guard, as a plan (what runs at any size)
    plan: object = dataclasses.field(default=None, repr=False)
    #: sizes the neutral spec does not define (below the window) where the source call returns
    #: a result and this code does not return the same: shape -> what it does
    outside: dict = dataclasses.field(default_factory=dict)
    #: for a call that pads with a constant that is not the reduction's identity (a ``tf.pad``
    #: with zeros before a max pool): the code of the pooling the spec names, padding that
    #: never wins, beside the code above, which pads as the call does
    alternative: str = ""

    @property
    def kind(self) -> str:
        """The verdict's kind: native, emulated, size-dependent or impossible."""
        return self.verdict.split(":")[0]

    def holds_for(self, hw) -> bool:
        """Whether the printed code holds for an input of this (H, W) (the spec defining it)."""
        return all(c.holds(n) for c, n in zip(self.conditions, hw))


@dataclasses.dataclass
class Translation:
    source: NativeCall
    shape: tuple
    geometry: str
    targets: dict[str, Target]
    source_check: str = ""
    #: ``(pads, value)`` where the call pads with a constant that is not the reduction's
    #: identity: every target pads so too (the numbers the trained model computes)
    constant_pad: tuple | None = None

    @property
    def unrun(self) -> dict[str, str]:
        """Each framework that could not run in the verification, and why (empty when all
        ran, or nothing was verified)."""
        found = {}
        if self.source_check.startswith(COULD_NOT_RUN):
            found[self.source.framework] = self.source_check[len(COULD_NOT_RUN):]
        for t in self.targets.values():
            status, _, detail = t.check.partition(": ")
            if status in ("unavailable", "error"):
                found.setdefault(t.backend, detail)
        return found

    def to_text(self) -> str:
        src = self.source
        lines = [f"source ({src.framework}): {src.function}", "neutral spec: "
                 + ", ".join(f"{k}={v!r}" for k, v in src.spec.items()),
                 f"for input {self.shape}: {self.geometry}"]
        if src.defaulted:
            lines.append(f"from {src.framework}'s defaults: {', '.join(src.defaulted)}")
        lines += [f"note: {n}" for n in src.notes]
        if self.source_check:
            lines.append(f"source as written vs the neutral spec: {self.source_check}")
        if self.constant_pad is not None:
            pads, value = self.constant_pad
            lines.append(f"translated as written: each target pads with {value:g} {pads}, as "
                         f"{src.pad_function or 'the call'} does, then pools without padding (the "
                         f"numbers the model computes); the pooling the spec names, whose "
                         f"padding never wins, follows each target's code")
        lines += ["", f"{'target':<11} {'verdict':<14} check"]
        for t in self.targets.values():
            lines.append(f"{t.backend:<11} {t.kind:<14} {t.check}")
            if t.grad_check:
                lines.append(f"{'':<27}backward: {t.grad_check}")
        for t in self.targets.values():
            why = f"  ({'; '.join(t.reasons)})" if t.reasons else ""
            lines += ["", f"# {t.backend}: {t.verdict}{why}"] + [f"# {d}" for d in t.details]
            lines.append(t.code)
            if t.alternative:
                lines += ["", f"# {t.backend}, the pooling the spec names (padding never wins: "
                              f"not the call as written)", t.alternative]
        return "\n".join(lines) + "\n"


def _adapter(backend: str):
    return registry.get(backend).adapter


def translate(call: str, frm: str, shape, to=None, verify: bool = True, pool=None,
              seed: int = 0) -> Translation:
    """Parse ``call`` (``frm``'s syntax), render it for every target, and verify by running."""
    shape = tuple(int(v) for v in shape)
    native = parse(frm, call, shape=shape)
    kwargs = _neutral_kwargs(native)
    geom = sizes.resolve_op(native.op, kwargs, shape)  # arithmetic only: does it fit?
    if verify:  # the input is made, and pooled: it must fit, checked before it is made
        geom.check_fits(shape, work_dtype(kwargs["mode"], np.dtype(np.float32)))
        x = _random_input(shape, kwargs["layout"], seed)
    else:  # rendering needs the input's shape and dtype only: a view of one cell, no memory
        x = _shape_only(shape)
    geometry = native.op.describe(geom)
    if native.op.has_window and native.keeps_padding_windows and kwargs["ceil_mode"] and any(
            g.ceil_keep_out() != g.out for g in (geom.rows, geom.cols)):
        geometry += (f"; {native.framework} keeps a last window that starts in the padding "
                     f"(the neutral spec drops it: its value is undefined here)")
    names = [to] if isinstance(to, str) else list(to or registry.defaults())
    constant = constant_pad(native)
    targets = {name: _target(name, kwargs, x, native.op, constant) for name in names}
    result = Translation(native, shape, geometry, targets, constant_pad=constant)
    if verify:
        _verify(result, kwargs, pool or default_pool(), seed)
        _verify_outside(result, kwargs, pool or default_pool(), seed)
        _verify_grad(result, kwargs, pool or default_pool(), seed)
    return result


def constant_pad(native: NativeCall) -> tuple | None:
    """``(pads, value)`` of a call that pads its input with a constant that is not the
    reduction's identity (any finite one before a max or min, a non-zero one before an average:
    the chapter's ``tf.pad`` with zeros, then ``'valid'``); None otherwise."""
    if not native.op.has_window or native.pad_value is None or native.recipe_pads is None:
        return None
    if native.spec["mode"] in ("max", "min") or native.pad_value != 0:
        return native.recipe_pads, native.pad_value
    return None


def _plan_of(adapter, op, x, kwargs: dict, constant: tuple | None = None):
    """``adapter``'s plan of the operation ``op`` with the neutral keywords on ``x``; with
    ``constant``, ``(pads, value)``, the input padded with it first and pooled without
    padding (the call as written)."""
    from ..adapter import plan_of

    if constant is not None:
        kwargs = dict(kwargs, padding=0, constant_pad=constant)
    return plan_of(adapter.VOCABULARY, op, x, **kwargs)[0]


def _padded_case(native: NativeCall, x: np.ndarray, constant: tuple) -> dict:
    """The call as written, as one ``compare_many`` case: ``x`` padded with the constant,
    pooled without padding."""
    (top, bottom), (left, right) = constant[0]
    h_axis = x.ndim - 3 if native.spec["layout"] == "NHWC" else x.ndim - 2
    widths = [(0, 0)] * x.ndim
    widths[h_axis], widths[h_axis + 1] = (top, bottom), (left, right)
    case = _case(native, np.pad(x, widths, constant_values=constant[1]))
    case["padding"] = 0
    return case


def _target(name: str, kwargs: dict, x: np.ndarray, op,
            constant: tuple | None = None) -> Target:
    """``name``'s code for the spec, and the sizes it holds for: the code planned for ``x``'s
    shape, checked against the plans of every other size (``sizes``); narrowed code says so in
    its verdict and refuses, when run, the sizes it does not hold for."""
    adapter = _adapter(name)

    def render(shape):
        return _plan_of(adapter, op, _shape_only(shape), kwargs, constant).render()

    try:
        plan = _plan_of(adapter, op, x, kwargs, constant)
        alternative = "" if constant is None else _plan_of(adapter, op, x, kwargs).render()
    except PoolingError as exc:
        return Target(name, f"impossible: {exc}", "", [])
    conds = sizes.conditions(render, op, kwargs, x.shape)
    code = plan.render()
    verdict = plan.path
    if not all(c.everywhere for c in conds):
        verdict = f"size-dependent: valid for {sizes.summary(conds)}"
        code = sizes.insert_precondition(code, sizes.precondition(conds, kwargs["layout"]))
    return Target(name, verdict, code, plan.emulated_by + plan.adaptations, conditions=conds,
                  details=adapter.VOCABULARY.plan_details(plan), plan=plan,
                  alternative=alternative)


def _verify(result: Translation, kwargs, pool, seed: int) -> None:
    """Run the source call as written and every target on random inputs of several sizes
    (``sizes.verification_shapes``): a target's code where it holds for the size, and the
    record that it refuses the size where it does not."""
    op = result.source.op
    shapes = sizes.verification_shapes(op, kwargs, result.shape)
    layout = kwargs["layout"]
    inputs = [_random_input(shape, layout, seed + i) for i, shape in enumerate(shapes)]
    sources = []
    for x in inputs:
        try:
            sources.append(run_native(result.source, x, pool))
        except WorkerFailure as failure:
            result.source_check = f"{COULD_NOT_RUN}{failure.reason}"
            sources = None
            break
    names = [n for n, t in result.targets.items() if t.kind != "impossible"]
    constant = result.constant_pad
    comparisons = compare_many([_case(result.source, x) if constant is None else
                                _padded_case(result.source, x, constant) for x in inputs],
                               backends=names, pool=pool)
    tol = tolerance(kwargs["mode"], comparisons[0].reference.dtype)
    if sources is not None:  # the source as written against the spec it names
        checks = [_agreement(src, _neutral_output(op, x, kwargs), tol,
                             input_scale(x, sizes.resolve_op(op, kwargs, x.shape)))[0]
                  for src, x in zip(sources, inputs)]
        bad = [(s, c) for s, c in zip(shapes, checks) if not c.startswith("agrees")]
        result.source_check = (f"{bad[0][1]} (input {bad[0][0]})" if bad
                               else "agrees with the neutral spec")
    for name in names:
        target = result.targets[name]
        for i, (shape, comparison, x) in enumerate(zip(shapes, comparisons, inputs)):
            hw = sizes.hw_of(shape, layout)
            if target.conditions and not target.holds_for(hw):
                target.checked[shape] = "refused"
                continue
            r = comparison.results[name]
            scale = input_scale(x, sizes.resolve_op(op, kwargs, x.shape)) if constant is None \
                else input_scale(comparison.input, sizes.resolve_op(
                    op, dict(kwargs, padding=0), comparison.input.shape))
            if r.output is None:
                target.checked[shape] = f"{r.status}: {r.detail}"
                continue
            expected, what = ((comparison.reference, "the neutral spec") if sources is None
                              else (sources[i], "the source call"))
            line, diff = _agreement(r.output, expected, tol, scale, what)
            target.checked[shape] = line
            if diff is not None:
                target.max_abs_diff = max(target.max_abs_diff or 0.0, diff)
        target.check = _summarize(target.checked, layout)


def _run_printed(target: Target, x: np.ndarray, pool) -> np.ndarray:
    """``target``'s printed code, without its size guard, on ``x`` (any size) in its
    framework's worker."""
    hello = pool.start([target.backend])[target.backend]
    if isinstance(hello, WorkerFailure):
        raise hello
    reply, arrays = pool.worker(target.backend).request(
        {"op": "run-plan", "plan": target.plan.to_json()}, [x])
    if reply["status"] != "ok":
        raise WorkerFailure("error", f"{reply['kind']}: {reply['message']}")
    return arrays[0]


def _verify_outside(result: Translation, kwargs, pool, seed: int) -> None:
    """Sizes the neutral spec does not define (an input smaller than the window,
    ``sizes.undefined_shapes``) where the source call still returns a result (TensorFlow's and
    Flax's ``'VALID'`` an empty output, PyTorch's ``ceil_mode`` one window reaching past a
    1x1 input): each target's printed code runs there too, and a target that raises or gives
    other numbers is narrowed to the sizes the spec defines, its verdict saying why and its
    code refusing the others (MXNet's pooling raises "kernel <= dshape + 2*pad" there)."""
    layout = kwargs["layout"]
    for shape in sizes.undefined_shapes(result.source.op, kwargs, result.shape):
        x = _random_input(shape, layout, seed)
        try:
            expected = run_native(result.source, x, pool)
        except (WorkerFailure, PoolingError):
            continue  # the source refuses it too
        for target in result.targets.values():
            if target.kind == "impossible" or target.plan is None:
                continue
            try:
                out = _run_printed(target, x, pool)
            except WorkerFailure as failure:
                target.outside[shape] = f"raises {failure.reason}"
                continue
            out = out.reshape(expected.shape) if out.size == expected.size else out
            if out.shape != expected.shape or not np.allclose(
                    out.astype(np.float64), expected.astype(np.float64), equal_nan=True,
                    rtol=1e-5, atol=1e-6):
                target.outside[shape] = (f"gives shape {out.shape} where the source gives "
                                         f"{expected.shape}" if out.shape != expected.shape
                                         else "gives other numbers")
    for target in result.targets.values():
        if target.outside:
            _narrow_to_the_spec(result, target, kwargs)


def _narrow_to_the_spec(result: Translation, target: Target, kwargs) -> None:
    """``target`` held to the sizes the neutral spec defines (its code guarded): below them the
    source call returns a result this code does not (``target.outside``)."""
    layout = kwargs["layout"]
    smallest = sizes.smallest_defined(result.source.op, kwargs, result.shape)
    target.conditions = [c.at_least(n) for c, n in zip(
        target.conditions or [sizes.AxisCondition(a, 1, 1, (0,), (), True) for a in sizes.AXES],
        smallest)]
    shape, what = next(iter(target.outside.items()))
    hw = "x".join(map(str, sizes.hw_of(shape, layout)))
    why = (f"below, {result.source.framework}'s call returns a result the neutral spec does "
           f"not define, and this code {one_line(what, 160)} (input {hw})")
    target.verdict = f"size-dependent: valid for {sizes.summary(target.conditions)}; {why}"
    target.code = sizes.insert_precondition(target.plan.render(), sizes.precondition(
        target.conditions, layout))
    short = "raises" if what.startswith("raises") else what.split(" where")[0]
    target.reasons = list(target.reasons) + [
        f"held to the sizes the neutral spec defines: below them {result.source.framework}'s "
        f"call returns a result and this code {short}"]
    target.check += (f"; refuses {hw} as printed (below the window, where the source call "
                     f"returns a result, the code unguarded {short})")


def _neutral_output(op, x: np.ndarray, kwargs: dict) -> np.ndarray:
    """The neutral semantics' output of the operation ``op`` with ``kwargs`` on ``x``."""
    return op.compute(x, **kwargs)


def tie_policy_of(grad, x: np.ndarray, up: np.ndarray, op, kwargs: dict, tol) -> str | None:
    """Which of ``px.pool2d_grad``'s ``ties`` policies ``grad`` (a max/min gradient of ``x``
    with the upstream ``up``) follows: "first", "split" or "all"; None when none or when the
    reference has no gradient of the operation ``op`` (``Operation.reference_grad``)."""
    if kwargs["mode"] not in ("max", "min"):
        return None
    for ties in ("first", "split", "all"):
        ref = op.reference_grad(x, kwargs, up, ties)
        if ref is None:
            return None
        if ref.shape == grad.shape and np.allclose(grad, ref, rtol=tol[0], atol=tol[1]):
            return ties
    return None


#: each ``ties`` policy in words
TIES_WORDS = {"first": "sends a tied window's gradient to its first extreme",
              "split": "splits a tied window's gradient evenly among its extremes",
              "all": "gives every tied extreme the window's whole gradient"}


def _emulated_by(target: Target) -> str:
    """``": emulated by ..."`` from a target's reasons, or nothing."""
    return "".join(f": {r}" for r in target.reasons[:1] if target.kind != "native")


def _run_plan(framework: str, plan, x: np.ndarray, pool) -> np.ndarray:
    """An adapter's ``plan`` run forward in ``framework``'s worker, as it stands."""
    reply, arrays = pool.worker(framework).request({"op": "run-plan", "plan": plan.to_json()},
                                                   [x])
    if reply["status"] != "ok":
        raise WorkerFailure("error", f"{reply['kind']}: {reply['message']}")
    return arrays[0]


def _verify_grad(result: Translation, kwargs: dict, pool, seed: int) -> None:
    """The backward pass of every target against the source call's, each in its framework's
    autograd, on inputs with ties (``_tie_input``) and an upstream gradient of small integers,
    at the sizes the forward check ran; a difference names each side's tie policy where the
    reference's ``ties`` policies tell them apart."""
    from ..adapter import as_4d

    src, op, layout = result.source, result.source.op, kwargs["layout"]
    shapes = sizes.verification_shapes(op, kwargs, result.shape)
    names = []
    for n, t in result.targets.items():
        no_autograd = getattr(_adapter(n).VOCABULARY, "no_autograd", "")
        if no_autograd and t.kind != "impossible":  # forward only: said, not counted
            t.grad_check = f"{NOT_COMPARED}{no_autograd}"
        elif t.kind != "impossible":
            names.append(n)
    tol = tolerance("avg", np.dtype(np.float32))
    for i, shape in enumerate(shapes):
        x = _tie_input(shape, seed + i)
        expected = _neutral_output(op, x, kwargs)
        up = _upstream(expected.shape, seed + i)
        hw = sizes.hw_of(shape, layout)
        if evaluate(src, x).shape != expected.shape:
            for name in names:
                result.targets[name].grad_checked[shape] = (
                    f"{NOT_COMPARED}the source call keeps a window of padding only")
            continue
        if expected.size == 0:  # PyTorch refuses the backward of an empty output
            for name in names:
                result.targets[name].grad_checked[shape] = (
                    f"{NOT_COMPARED}an empty output has no gradient")
            continue
        try:
            _, source_grad = run_native_grad(src, x, up, pool)
        except (WorkerFailure, PoolingError) as exc:
            gap = _adapter(src.framework).VOCABULARY.gradient_gap(str(exc))
            for name in names:
                result.targets[name].grad_checked.setdefault(shape, (
                    f"{NOT_COMPARED}the source call has no gradient: {gap}" if gap else
                    f"error: the source call's gradient could not run: {exc}"))
            continue
        scale = float(np.abs(source_grad).max()) if source_grad.size else 0.0
        for name in names:
            target = result.targets[name]
            if target.conditions and not target.holds_for(hw):
                target.grad_checked[shape] = "refused"
                continue
            try:
                plan = _plan_of(_adapter(name), op, x, kwargs, result.constant_pad)
                x4 = as_4d(x, layout).astype(plan.handover or x.dtype, copy=False)
                up4 = as_4d(up, layout) if op.keeps_axes(kwargs) else up.reshape(
                    _run_plan(name, plan, x4, pool).shape)  # the plan's own shape
                _, grad = run_plan_grad(name, plan, x4, up4, pool)
            except (WorkerFailure, PoolingError) as exc:
                gap = _adapter(name).VOCABULARY.gradient_gap(str(exc))
                target.grad_checked[shape] = (f"{NOT_COMPARED}{gap}" if gap
                                              else f"error: {exc}")
                continue
            grad = grad.reshape(x.shape) if grad.size == x.size else grad
            line, diff = _agreement(grad, source_grad, tol, scale,
                                    "the source call's gradient")
            if line.startswith("DIFFERS"):
                theirs = tie_policy_of(grad, x, up, op, kwargs, tol)
                ours = tie_policy_of(source_grad, x, up, op, kwargs, tol)
                if ours and theirs != ours:
                    line += (f" (ties: {src.framework}'s call {TIES_WORDS[ours]}, ties="
                             f"{ours!r}; {name}'s code " + (
                                 f"{TIES_WORDS[theirs]}, ties={theirs!r})" if theirs else
                                 f"shares it otherwise, by none of ties='first', 'split', "
                                 f"'all'{_emulated_by(result.targets[name])})"))
            target.grad_checked[shape] = line
            if diff is not None:
                target.grad_max_abs_diff = max(target.grad_max_abs_diff or 0.0, diff)
    for name in names:
        target = result.targets[name]
        target.grad_check = _summarize(target.grad_checked, layout).replace(
            "agrees with the source call's gradient on",
            "agrees with the source call's gradient (inputs with ties) on")


def _summarize(checked: dict, layout: str) -> str:
    """One line: agreement on how many sizes, which were refused, the first difference."""
    def hw(shape):
        return "x".join(map(str, sizes.hw_of(shape, layout)))

    agree = [hw(s) for s, c in checked.items() if c.startswith("agrees")]
    refused = [hw(s) for s, c in checked.items() if c == "refused"]
    other = [(s, c) for s, c in checked.items() if not c.startswith(("agrees", NOT_COMPARED))
             and c != "refused"]
    if other:
        shape, line = other[0]
        if line.startswith(("unavailable", "error")):
            return line
        return f"{line} (input {hw(shape)})"
    if not agree and any(c.startswith(NOT_COMPARED) for c in checked.values()):
        return next(c for c in checked.values() if c.startswith(NOT_COMPARED))
    what = agree and next(c for c in checked.values() if c.startswith("agrees"))
    text = f"{what} on {len(agree)} sizes ({', '.join(agree)})" if agree else "nothing run"
    return text + (f"; refuses {', '.join(refused)} as printed" if refused else "")


def _agreement(out, expected, tol, scale: float,
               what: str = "the neutral spec") -> tuple[str, float]:
    """``out`` judged against ``expected`` as ``compare`` judges: (verdict line, max |diff|)."""
    from ..compare import BackendResult

    probe = BackendResult("", "", output=out)
    judge(probe, expected, tol, scale, "reference" if what == "the neutral spec" else what)
    verdict = f"agrees with {what}" if probe.status == "agree" else f"DIFFERS: {probe.detail}"
    return verdict, probe.max_abs_diff


# --- explain --------------------------------------------------------------------------------------

CAUSES = ("layout", "keepdims", "mode", "window", "default stride", "stride", "dilation",
          "lp power", "output-shape rule", "SAME split side", "padding", "pad value", "divisor",
          "ceil clamp", "cells read", "NaN policy", "gradient ties")


@dataclasses.dataclass
class Cause:
    kind: str
    detail: str
    sizes: list = dataclasses.field(default_factory=list)  # input (H, W) where it applies


@dataclasses.dataclass
class Explanation:
    a: NativeCall
    b: NativeCall
    causes: list[Cause]
    witness: np.ndarray | None = None
    witness_outputs: dict = dataclasses.field(default_factory=dict)  # label -> array or str
    #: each framework that could not run the witness, and why (empty when all ran)
    unrun: dict = dataclasses.field(default_factory=dict)
    #: the input (H, W) both calls accept that were judged, and those where they differ
    tried: list = dataclasses.field(default_factory=list)
    bites: list = dataclasses.field(default_factory=list)
    #: the backward pass (max/min calls equivalent forward): an input with ties, the upstream
    #: gradient, and each framework's gradient of it by its autograd (label -> array or str)
    grad_witness: np.ndarray | None = None
    grad_upstream: np.ndarray | None = None
    grad_outputs: dict = dataclasses.field(default_factory=dict)

    @property
    def grad_equivalent(self) -> bool:
        """False when the two calls route a tied window's gradient differently (by their tie
        policies, or as run on the witness with ties): the same outputs, another training."""
        return not any(c.kind == "gradient ties" for c in self.causes)

    @property
    def equivalent(self) -> bool:
        """True when they compute the same numbers on the same data (transposed between layouts
        when theirs differ) at every size judged, NaN inputs aside: the NaN policy is reported
        on its own.  Judged by which input cells each output window reads and, for avg, the
        divisor (``reads``), not by where padded taps fall."""
        return not self.bites

    @property
    def verdict(self) -> str:
        if not self.equivalent:
            return "NOT equivalent"
        kinds = {c.kind for c in self.causes}
        return ("equivalent" if self.grad_equivalent else
                "equivalent forward, NOT backward (ties)") + "".join(text for kind, text in (
            ("layout", ", with the input transposed between layouts"),
            ("keepdims", ", with H and W of size 1 dropped or kept"),
            ("NaN policy", ", except on inputs with NaN")) if kind in kinds)

    def to_text(self) -> str:
        a, b = self.a, self.b
        verdict = self.verdict
        lines = [f"A ({a.framework}): {a.function}  " + _short(a),
                 f"B ({b.framework}): {b.function}  " + _short(b), f"verdict: {verdict}"]
        if len(self.tried) > 1:
            lines.append(f"the outputs differ on {len(self.bites)} of the {len(self.tried)} "
                         f"input sizes (H, W in 1..9) both calls accept")
        lines += [f"  - {c.kind}: {c.detail}" for c in self.causes]
        if self.witness is not None:
            lines.append(f"smallest input that shows it, shape {self.witness.shape}:")
            lines.append("  " + np.array2string(self.witness, separator=", ").replace("\n", ""))
            for label, value in self.witness_outputs.items():
                shown = value if isinstance(value, str) else np.array2string(
                    np.asarray(value), separator=", ").replace("\n", "")
                lines.append(f"  {label}: {shown}")
        if self.grad_witness is not None:
            flat = " ".join(f"{v:g}" for v in self.grad_upstream.reshape(-1)[:12])
            lines.append(f"input with ties, shape {self.grad_witness.shape}, every cell "
                         f"{self.grad_witness.reshape(-1)[0]:g}; upstream gradient {flat}"
                         + (" ..." if self.grad_upstream.size > 12 else "") + ":")
            for label, value in self.grad_outputs.items():
                shown = value if isinstance(value, str) else np.array2string(
                    np.asarray(value), separator=", ").replace("\n", "")
                lines.append(f"  {label}: {shown}")
        return "\n".join(lines) + "\n"


def _short(native: NativeCall) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in native.spec.items() if k != "p" or
                     native.spec["mode"] == "lp")


def _to_layout(x: np.ndarray, src: str, dst: str) -> np.ndarray:
    if src == dst:
        return x
    return np.moveaxis(x, 1, -1) if dst == "NHWC" else np.moveaxis(x, -1, 1)


def _pairs(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _geometry(native: NativeCall, hw):
    kwargs = _neutral_kwargs(native)
    shape = (1, 1, *hw) if kwargs["layout"] == "NCHW" else (1, *hw, 1)
    try:
        return sizes.resolve_op(native.op, kwargs, shape)
    except PoolingError:
        return None


def _causes_for(a: NativeCall, b: NativeCall, hw) -> list[Cause]:
    sa, sb = a.spec, b.spec
    found = []
    if _pairs(sa["stride"]) != _pairs(sb["stride"]):
        defaulted = [f"{n.framework} {n.function} took its default"
                     for n in (a, b) if "stride" in n.defaulted]
        found.append(Cause("default stride" if defaulted else "stride",
                           f"{_pairs(sa['stride'])} vs {_pairs(sb['stride'])}"
                           + (f" ({'; '.join(defaulted)})" if defaulted else "")))
    if _pairs(sa["dilation"]) != _pairs(sb["dilation"]):
        found.append(Cause("dilation", f"{sa['dilation']} vs {sb['dilation']}"))
    if sa["mode"] == sb["mode"] == "lp" and sa["p"] != sb["p"]:
        found.append(Cause("lp power", f"p={sa['p']:g} vs p={sb['p']:g}"))
    ga, gb = _geometry(a, hw), _geometry(b, hw)
    if ga is None or gb is None:
        return found
    where = f"for {hw[0]}x{hw[1]}"
    same_taps = all(np.array_equal(ta.tap_positions(), tb.tap_positions()) for ta, tb in
                    ((ga.rows, gb.rows), (ga.cols, gb.cols)))
    if ga.pads != gb.pads:
        strings = {sa["padding"], sb["padding"]} & {"same", "same_lower"}
        mirrored = ga.pads == tuple(p[::-1] for p in gb.pads)
        if strings and mirrored:
            found.append(Cause("SAME split side", f"{where}: pads {ga.pads} vs {gb.pads}: the "
                                                  f"odd pad cell on opposite sides"))
        elif ga.out_hw != gb.out_hw:
            found.append(Cause("output-shape rule", f"{where}: pads {ga.pads} vs {gb.pads} give "
                                                    f"{ga.out_hw} vs {gb.out_hw} windows"))
        elif not same_taps:
            found.append(Cause("padding", f"{where}: pads {ga.pads} vs {gb.pads} shift the "
                                          f"windows"))
    elif ga.out_hw != gb.out_hw and sa["ceil_mode"] != sb["ceil_mode"]:
        found.append(Cause("output-shape rule", f"{where}: ceil_mode {sa['ceil_mode']} vs "
                                                f"{sb['ceil_mode']} give {ga.out_hw} vs "
                                                f"{gb.out_hw} windows"))
    if same_taps or ga.out_hw == gb.out_hw:
        for native, geom in ((a, ga), (b, gb)):
            if native.keeps_padding_windows and native.spec["ceil_mode"] and any(
                    g.ceil_keep_out() != g.out for g in (geom.rows, geom.cols)):
                found.append(Cause("ceil clamp", f"{where}: {native.framework} keeps a last "
                                                 f"window that starts in the padding"))
    mode = sa["mode"]
    pads_used = ga.pads != ((0, 0), (0, 0)) or gb.pads != ((0, 0), (0, 0))
    padder = next((n for n in (a, b) if n.pad_value is not None), None)
    if padder and pads_used and mode in ("max", "min") and np.isfinite(padder.pad_value):
        extreme = "max" if mode == "max" else "min"
        bound = ">=" if mode == "max" else "<="
        found.append(Cause("pad value", f"{padder.framework} pads with {padder.pad_value:g} "
                                        f"({padder.pad_function}) where {extreme} pooling "
                                        f"needs {'-' if mode == 'max' else ''}inf: equal only "
                                        f"when windows at the border have a {extreme} {bound} "
                                        f"{padder.pad_value:g}"))
    elif padder and pads_used and mode in ("avg", "lp") and padder.pad_value != 0:
        found.append(Cause("pad value", f"{padder.framework} pads with {padder.pad_value:g} "
                                        f"({padder.pad_function}), which the average sums "
                                        f"where the neutral "
                                        f"spec's padding adds 0"))
    if mode == "avg" and pads_used and sa["count_include_pad"] != sb["count_include_pad"]:
        def says(n):
            return "counts" if n.spec["count_include_pad"] else "excludes"

        found.append(Cause("divisor", f"{a.framework} {says(a)} padding in the divisor, "
                                      f"{b.framework} {says(b)} it"))
    return found


def _dropped(native: NativeCall) -> bool:
    """Whether the call's output drops H and W (a global pooling with keepdims=False)."""
    return not native.op.keeps_axes(native.spec)


def _merge(found: list[Cause], tried: int) -> list[Cause]:
    """One cause per kind; a size-dependent one says on how many of the sizes tried it bites."""
    merged: dict[str, Cause] = {}
    for cause in found:
        if cause.kind in merged:
            merged[cause.kind].sizes += [s for s in cause.sizes
                                         if s not in merged[cause.kind].sizes]
        else:
            merged[cause.kind] = cause
    for cause in merged.values():
        if tried > 1 and cause.sizes and len(cause.sizes) < tried:
            spared = tried - len(cause.sizes)
            cause.detail += (f"; shape-dependent: bites on {len(cause.sizes)} of the {tried} "
                             f"input sizes (H, W in 1..9) both calls accept, not on the other "
                             f"{spared}")
    return [merged[k] for k in CAUSES if k in merged]


def _witness(a: NativeCall, b: NativeCall, sizes, shape=None) -> np.ndarray | None:
    """The smallest input (by H*W; of ``shape`` when given, in A's layout) on which the
    neutral evaluations of ``a`` and ``b`` differ: ramps up and down, shifted below zero, and
    a spike on each cell over a negative ramp (a cell one window reads and the other not)."""
    layout = a.spec["layout"]
    for h, w in sorted(sizes, key=lambda hw: (hw[0] * hw[1], hw)):
        full = shape if shape is not None else _to_layout(np.zeros((1, 1, h, w)), "NCHW",
                                                          layout).shape
        plane = np.arange(h * w, dtype=np.float32).reshape(h, w)
        spikes = []
        for cell in range(min(h * w, 256)):
            spike = plane - 100
            spike.flat[cell] = 1000
            spikes.append(spike)
        for p in [plane, plane - 100, -plane, 100 - plane, *spikes]:
            nchw = np.broadcast_to(p, _to_layout(np.zeros(full), layout, "NCHW").shape)
            xa = np.ascontiguousarray(_to_layout(nchw, "NCHW", layout))
            xb = np.ascontiguousarray(_to_layout(nchw, "NCHW", b.spec["layout"]))
            try:
                ya = evaluate(a, xa)
                yb = _to_layout(evaluate(b, xb), b.spec["layout"], layout)
            except PoolingError:
                continue
            yb = yb.reshape(ya.shape) if yb.size == ya.size else yb  # keepdims aside
            if ya.shape != yb.shape or not np.array_equal(ya, yb, equal_nan=True):
                return xa
    return None


def _axis_reads(native: NativeCall, geom, axis: int) -> tuple:
    """Per output window along one axis: the input cells it reads, how many taps it has in the
    padding (before the ceil overhang), and how many the avg divides by."""
    g = (geom.rows, geom.cols)[axis]
    if isinstance(geom, AdaptiveGeometry):  # each bin's cells, no padding, its length
        return tuple((tuple(range(int(s), int(e))), 0, int(e - s))
                     for s, e in zip(g.starts, g.ends))
    taps = g.tap_positions()
    padded = g.padded_taps() - g.real_taps()
    divisor = g.divisor(native.spec.get("count_include_pad", True))
    return tuple((tuple(int(t) for t in row if 0 <= t < g.size), int(p), int(d))
                 for row, p, d in zip(taps, padded, divisor))


def reads(native: NativeCall, hw) -> tuple:
    """What the call computes at input size ``hw``, as data: per output window, which input
    cells it reads, and what else enters its value (the avg divisor, a padding constant that is
    not the reduction's identity, a window of padding only that the framework keeps).  Two
    calls compute the same numbers on every input of that size exactly when these are equal
    (NaN aside): a cell read by one window and not by the other makes a difference on some
    input, and so does another divisor."""
    geom = _geometry(native, hw)
    spec = native.spec
    mode = spec["mode"]
    rows, cols = _axis_reads(native, geom, 0), _axis_reads(native, geom, 1)
    extra = (0, 0)
    if native.keeps_padding_windows and spec["ceil_mode"]:
        extra = tuple(g.ceil_keep_out() - g.out for g in (geom.rows, geom.cols))
    # a kept window of padding only (measured: the cross-check test): MXNet's avg, and any
    # avg that counts padding, gives 0; MXNet's and Paddle's max float32's lowest; Paddle's
    # avg without padding its own value
    kept = None if not any(extra) else (
        "zero" if mode == "avg" and (spec["count_include_pad"] or native.kept_average == "zero")
        else "lowest" if mode == "max" else native.kept_average or native.framework)
    single = all(len(c) == 1 for c, _, _ in rows + cols)
    pads_touched = any(p for _, p, _ in rows + cols)
    if mode in ("max", "min"):
        finite = native.pad_value is not None and np.isfinite(native.pad_value)
        constant = native.pad_value if finite and pads_touched else None
        divisor = None
    else:
        constant = native.pad_value if native.pad_value not in (None, 0) and pads_touched \
            else None
        divisor = np.outer([d for _, _, d in rows], [d for _, _, d in cols])
    if single and constant is None and mode != "lp" and (divisor is None or (divisor == 1).all()):
        mode, divisor = "one cell", None  # the max, min or mean of one cell is that cell
    return (mode, spec.get("p") if mode == "lp" else None, extra, kept,
            tuple(c for c, _, _ in rows), tuple(c for c, _, _ in cols),
            None if divisor is None else divisor.tobytes(),
            None if constant is None else (constant, tuple(p for _, p, _ in rows),
                                           tuple(p for _, p, _ in cols)))


def _first_difference(a: NativeCall, b: NativeCall, hw) -> str:
    """The first output window whose cells or divisor differ, said in words."""
    ga, gb = _geometry(a, hw), _geometry(b, hw)
    for axis, name in ((0, "row"), (1, "column")):
        ra, rb = _axis_reads(a, ga, axis), _axis_reads(b, gb, axis)
        if len(ra) != len(rb):
            return f"{len(ra)} vs {len(rb)} windows along the {name}s"
        for i, (wa, wb) in enumerate(zip(ra, rb)):
            if wa[0] != wb[0]:
                return f"window {i} reads {name}s {list(wa[0])} vs {list(wb[0])}"
            if a.spec["mode"] == "avg" and wa[2] != wb[2]:
                return f"window {i} divides by {wa[2]} vs {wb[2]} {name} taps"
    return "the windows of padding only, or the padding's value"


def explain(call_a: str, frm_a: str, call_b: str, frm_b: str, shape=None, verify: bool = True,
            pool=None) -> Explanation:
    """Are two native calls equivalent?  Each cause, classified, and the smallest input that
    shows the difference (run in both frameworks when ``verify``).  ``shape``: the input shape
    (in A's layout) to judge; by default every H, W from 1 to 9.  ``frm_b="recipe"``:
    ``call_b`` names a known broken port of A's adaptive pooling (``recipes.recipes()``)."""
    if frm_b == "recipe":
        return explain_recipe(call_a, frm_a, call_b, shape=shape, verify=verify, pool=pool)
    a, b = parse(frm_a, call_a), parse(frm_b, call_b)
    found = []
    if a.spec["layout"] != b.spec["layout"]:
        found.append(Cause("layout", f"{a.framework} takes {a.spec['layout']}, {b.framework} "
                                     f"{b.spec['layout']}: transpose the input between them"))
    witness_shape = None
    if shape is not None:
        dims = tuple(int(v) for v in shape)
        sizes_ = [dims[-3:-1] if a.spec["layout"] == "NHWC" and len(dims) > 2 else dims[-2:]]
        _check_witness_fits(shape, *sizes_[0])
        witness_shape = dims
    else:
        sizes_ = [(h, w) for h in range(1, 10) for w in range(1, 10)]
    valid = [hw for hw in sizes_ if _geometry(a, hw) and _geometry(b, hw)]
    if not valid:
        raise PoolingError(f"shape: got {shape}; allowed: an input both calls can pool")
    bites = [hw for hw in valid if reads(a, hw) != reads(b, hw)]
    if _dropped(a) != _dropped(b):
        keeper, dropper = (b, a) if _dropped(a) else (a, b)
        kept = ("1, 1" if "output_size" not in keeper.spec else ", ".join(
            "H" if o is None else str(o) for o in keeper.spec["output_size"]).replace(
                "H, H", "H, W"))
        found.append(Cause("keepdims", f"{keeper.framework} keeps H and W ({kept}), "
                                       f"{dropper.framework} drops them: (N, C, {kept}) vs "
                                       f"(N, C)" + ("" if bites else ", the same numbers")))
    for hw in bites:
        here = []
        if a.spec["mode"] != b.spec["mode"]:
            here.append(Cause("mode", f"{a.spec['mode']} vs {b.spec['mode']}"))
        if a.op.has_window and b.op.has_window:
            if _pairs(a.spec["pool_size"]) != _pairs(b.spec["pool_size"]):
                here.append(Cause("window", f"{a.spec['pool_size']} vs {b.spec['pool_size']}"))
            here += _causes_for(a, b, hw)
        if not [c for c in here if c.kind != "layout"]:
            here.append(Cause("cells read", f"for {hw[0]}x{hw[1]}: {_first_difference(a, b, hw)}"))
        for cause in here:
            cause.sizes.append(hw)
            found.append(cause)
    if a.spec["mode"] in ("max", "min") and nan_policy(a) != nan_policy(b):
        found.append(Cause("NaN policy", f"{a.framework} {a.function} {nan_policy(a)}; "
                                         f"{b.framework} {b.function} {nan_policy(b)}"))
    result = Explanation(a, b, _merge(found, len(valid)), tried=valid, bites=bites)
    result.witness = _witness(a, b, bites, witness_shape)
    if result.witness is None and any(c.kind == "NaN policy" for c in result.causes):
        result.witness = _nan_witness(a, b, verify, (pool or default_pool()) if verify else None,
                                      result.unrun, valid)
    if result.witness is not None:
        _run_witness(result, verify, pool)
    if result.equivalent and a.spec["mode"] in ("max", "min"):
        _gradient_ties(result, valid, witness_shape, verify, pool)
    return result


def _gradient_ties(result: Explanation, valid: list, shape, verify: bool, pool) -> None:
    """Calls equivalent forward: do they route a tied window's gradient alike?  Said from each
    call's tie policy (``parse.tie_policy``), and shown (``verify``) by running an input whose
    cells are all equal through both frameworks' autograd with an upstream gradient of 1, 2,
    3, ... (one weight per output cell, so where each window's gradient went can be read)."""
    a, b = result.a, result.b
    ta, tb = tie_policy(a), tie_policy(b)
    said = None
    if ta != tb:
        said = Cause("gradient ties", f"{a.framework} {a.function} {TIES_WORDS[ta]} (ties={ta!r}); "
                                      f"{b.framework} {b.function} {TIES_WORDS[tb]} (ties={tb!r})"
                                      f": the same outputs, other gradients wherever a window's "
                                      f"extreme is tied (zeros after a ReLU, saturated or "
                                      f"quantized values)")
        result.causes.append(said)
    if not verify:
        return
    layout = a.spec["layout"]

    def wide(hw):  # the first window reads more than one cell
        geom = _geometry(a, hw)
        return len(_axis_reads(a, geom, 0)[0][0]) * len(_axis_reads(a, geom, 1)[0][0]) > 1

    hw = next((hw for hw in sorted(valid, key=lambda s: (s[0] * s[1], s)) if wide(hw)), None)
    if hw is None:
        return
    full = shape if shape is not None else _to_layout(np.zeros((1, 1, *hw)), "NCHW",
                                                        layout).shape
    x = np.full(full, 5, np.float32)
    xb = np.ascontiguousarray(_to_layout(x, layout, b.spec["layout"]))
    pool = pool or default_pool()
    try:
        ya, yb = run_native(a, x, pool), run_native(b, xb, pool)
        up = np.arange(1, ya.size + 1, dtype=np.float32).reshape(ya.shape)
        nchw = (_to_layout(up, layout, "NCHW") if up.ndim == 4
                else up.reshape(up.shape + (1, 1)))
        up_b = np.ascontiguousarray(_to_layout(nchw, "NCHW", b.spec["layout"])).reshape(
            yb.shape)
        ga = run_native_grad(a, x, up, pool)[1]
        gb = _to_layout(run_native_grad(b, xb, up_b, pool)[1], b.spec["layout"], layout)
    except (WorkerFailure, PoolingError) as exc:
        result.grad_outputs["gradient"] = f"{COULD_NOT_RUN}{exc}"
        result.unrun.setdefault("gradient", str(exc))
        return
    result.grad_witness, result.grad_upstream = x, up
    result.grad_outputs[f"A {a.framework} gradient"] = _squeeze(ga, a)
    result.grad_outputs[f"B {b.framework} gradient"] = _squeeze(gb, a)
    tol = tolerance("avg", np.dtype(np.float32))
    same = ga.shape == gb.shape and np.allclose(ga, gb, rtol=tol[0], atol=tol[1])
    if said is not None and same:
        said.detail += "; not seen on the input with ties run below"
    elif said is None and not same:
        result.causes.append(Cause("gradient ties", f"measured: {a.framework} and "
                                                    f"{b.framework} send a tied window's "
                                                    f"gradient to different cells (below)"))


#: bytes per cell of an (H, W) plane that the witness search makes: the input and its shift by
#: -100 in float32, and each call's neutral evaluation of them
WITNESS_BYTES_PER_CELL = 16


def _check_witness_fits(shape, h: int, w: int) -> None:
    """Refuse a ``shape`` whose (H, W) witness inputs would not fit in memory (before any is
    made): one line with the bytes they would take."""
    from ..spec import format_bytes, memory_limit

    need, limit = h * w * WITNESS_BYTES_PER_CELL, memory_limit()
    if need > limit:
        raise PoolingError(f"shape: got {tuple(shape)}; the {h} x {w} inputs that show a "
                           f"difference would need {format_bytes(need)}, more than this "
                           f"machine's memory ({format_bytes(limit)}); allowed: a shape whose "
                           f"input fits in memory")


def _nan_witness(a: NativeCall, b: NativeCall, verify: bool, pool,
                 unrun: dict, sizes=None) -> np.ndarray | None:
    """The smallest input with a NaN on which the two frameworks' outputs differ (run in both
    when ``verify``; else the smallest whose first window has other cells beside the NaN).
    A framework that could not run goes into ``unrun`` (framework: why), and no witness."""
    sizes = sorted(sizes or [(n, n) for n in range(1, 10)], key=lambda hw: (hw[0] * hw[1], hw))
    for h, w in sizes:
        for row, col in ((0, 0), (h - 1, w - 1)):
            x = np.arange(h * w, dtype=np.float32).reshape(1, 1, h, w)
            x[0, 0, row, col] = np.nan
            xa = _to_layout(x, "NCHW", a.spec["layout"])
            geom = _geometry(a, (h, w))
            if geom is None:
                continue
            if not verify:
                if len(_axis_reads(a, geom, 0)[0][0]) * len(_axis_reads(a, geom, 1)[0][0]) > 1:
                    return xa
                continue
            outputs = []
            for native, xin in ((a, xa), (b, _to_layout(x, "NCHW", b.spec["layout"]))):
                try:
                    outputs.append(run_native(native, xin, pool))
                except (WorkerFailure, PoolingError) as exc:
                    unrun[native.framework] = str(exc)
                    return None
            ya, yb = outputs[0], _to_layout(outputs[1], b.spec["layout"], a.spec["layout"])
            yb = yb.reshape(ya.shape) if yb.size == ya.size else yb  # keepdims aside
            if ya.shape != yb.shape or not np.array_equal(ya, yb, equal_nan=True):
                return xa
    return None


def _run_witness(result: Explanation, verify: bool, pool) -> None:
    a, b, x = result.a, result.b, result.witness
    xb = _to_layout(x, a.spec["layout"], b.spec["layout"])
    for label, native, xin in (("A", a, x), ("B", b, xb)):
        key = f"{label} {native.framework}"
        if not verify:
            result.witness_outputs[key + " (neutral semantics)"] = _squeeze(evaluate(native, xin),
                                                                            native)
            continue
        try:
            result.witness_outputs[key] = _squeeze(run_native(native, xin, pool), native)
        except (WorkerFailure, PoolingError) as exc:
            result.witness_outputs[key] = f"{COULD_NOT_RUN}{exc}"
            result.unrun.setdefault(native.framework, str(exc))


def _squeeze(y: np.ndarray, native: NativeCall) -> np.ndarray:
    """The first (H, W) plane, for display."""
    y = _to_layout(y, native.spec["layout"], "NCHW") if y.ndim == 4 else y
    return y[(0,) * (y.ndim - 2)]  # indexed, not reshaped: an empty output has no -1 to infer


# --- known broken recipes -------------------------------------------------------------------------

@dataclasses.dataclass
class RecipeExplanation:
    """An adaptive call against a known recipe for it: where the recipe holds and why not."""

    a: NativeCall
    recipe: object  # pooling_xfw.dialect.Recipe
    output_size: tuple
    holds: list  # (H, W) in 1..LIMIT where the recipe gives the call's numbers
    judged: int  # how many (H, W) were judged (0: the recipe is documented, not modelled)
    runs: dict = dataclasses.field(default_factory=dict)  # "HxW" -> what its framework did
    unrun: dict = dataclasses.field(default_factory=dict)
    note: str = ""  # a size it holds at that was not run, and why

    @property
    def equivalent(self) -> bool:
        """False where the recipe breaks for some size judged (keras-jax: for an output size
        measured to give NaN)."""
        if not self.judged:
            return self.measured and not set(self.output_size) & self.recipe.breaks_at
        return len(self.holds) == self.judged

    @property
    def measured(self) -> bool:
        """Whether the documented recipe (keras-jax) was measured at this output size."""
        return all(1 <= o <= recipes.LIMIT for o in self.output_size)

    @property
    def verdict(self) -> str:
        if not self.judged and not self.measured:
            return (f"not known: measured for output sizes 1 to {recipes.LIMIT} only, "
                    f"not run here")
        if not self.judged and self.equivalent:
            return ("equivalent where measured (no NaN for this output size with n <= 24), "
                    "not run here")
        if self.judged and self.equivalent:
            return f"equivalent on every size judged (H, W in 1..{recipes.LIMIT})"
        return "NOT equivalent"

    @property
    def causes(self) -> list:
        return [Cause("recipe", self.recipe.why)]

    def to_text(self) -> str:
        r, (oh, ow) = self.recipe, self.output_size
        lines = [f"A ({self.a.framework}): {self.a.function}  " + _short(self.a),
                 f"B (recipe {r.name}): {r.what}", f"verdict: {self.verdict}",
                 f"  - recipe: {r.why}"]
        if self.judged and 0 in self.output_size:
            lines.append(f"  gives A's numbers on none of the {self.judged} input sizes (H, W in "
                         f"1..{recipes.LIMIT}): it divides each axis by the output size, here 0")
        elif self.judged:
            lines.append(f"  gives A's numbers on {len(self.holds)} of the {self.judged} input "
                         f"sizes (H, W in 1..{recipes.LIMIT}): H % {oh} == 0 and W % {ow} == 0")
        else:
            lines.append("  parse-only: documented from measurements, not run here")
        lines += [f"  run in {r.framework} at {hw}: {what}" for hw, what in self.runs.items()]
        lines += [f"  {self.note}"] if self.note else []
        return "\n".join(lines) + "\n"


#: the largest (H, W) plane a recipe is run at past the judged sizes (cells)
RECIPE_RUN_CELLS = 1 << 20


def _recipe_witnesses(grid, holds, output) -> list[tuple[int, int]]:
    """The sizes a recipe is run at: the smallest where it breaks (one at least as large as
    the output, where there is one), and the smallest where it holds with more than one cell
    per bin (past the judged sizes, twice the output size, when none of them holds, or the
    output size itself, one cell per bin, where twice is more than ``RECIPE_RUN_CELLS``; none
    for an output size of 0, which it never computes, nor one too large to run here)."""
    def by_area(found):
        return sorted(found, key=lambda s: (s[0] * s[1], s))

    breaks = by_area(hw for hw in grid if hw not in holds)
    broken = next((hw for hw in breaks if min(hw) >= max(output)), breaks[0] if breaks else None)
    held = next((hw for hw in by_area(holds) if min(hw) > 1), None)
    if held is None and min(output) > 0:
        held = next(((k * output[0], k * output[1]) for k in (2, 1)
                     if k * output[0] * k * output[1] <= RECIPE_RUN_CELLS), None)
    return [hw for hw in (broken, held) if hw is not None]


def explain_recipe(call_a: str, frm_a: str, name: str, shape=None, verify: bool = True,
                   pool=None) -> RecipeExplanation:
    """``call_a`` (an adaptive or global call) against the recipe ``name`` for the same output
    size, mode and layout: the sizes where the recipe gives its numbers, and (``verify``) the
    recipe run in its framework where it breaks and where it holds."""
    r = recipes.recipe(name)
    a = parse(frm_a, call_a)
    if a.op.has_window or a.spec["mode"] not in ("max", "avg"):
        raise PoolingError(f"call: got {call_a!r} for recipe {name!r}; allowed: an adaptive or "
                           f"global max/avg call (the recipes port adaptive pooling)")
    layout = a.spec["layout"]
    output = a.spec.get("output_size", (1, 1))  # a global call: one cell per plane
    if None in output:
        raise PoolingError(f"call: got output_size {a.spec['output_size']}; allowed: ints for "
                           f"a recipe (they take no None)")
    grid = [(h, w) for h in range(1, recipes.LIMIT + 1) for w in range(1, recipes.LIMIT + 1)]
    if r.framework is None:
        return RecipeExplanation(a, r, output, [], 0)
    holds = [hw for hw in grid if r.holds(hw[0], output[0]) and r.holds(hw[1], output[1])]
    result = RecipeExplanation(a, r, output, holds, len(grid))
    if shape is not None:
        base = tuple(int(v) for v in shape)
        hw0 = sizes.hw_of(base, layout)
    else:
        base, hw0 = ((1, 2, 1, 1) if layout == "NCHW" else (1, 1, 1, 2)), None
    tries = [hw0] if hw0 else _recipe_witnesses(grid, holds, output)
    if not hw0 and len(tries) < 2 and min(output) > 0:
        result.note = (f"not run where it holds: its smallest such input, {output[0]}x"
                       f"{output[1]}, is more than {RECIPE_RUN_CELLS} cells")
    if not verify:
        return result
    pool = pool or default_pool()
    for hw in tries:
        x_shape = sizes.with_hw(base, layout, hw)
        x = _random_input(x_shape, layout)
        label = f"{hw[0]}x{hw[1]}"
        try:
            plan = recipes.recipe_plan(r, output, a.spec["mode"], layout, x_shape)
        except ZeroDivisionError as exc:  # its own arithmetic, before any framework call
            result.runs[label] = (f"raises ZeroDivisionError: {exc} (its axis // output size, "
                                  f"with an output size of 0)")
            continue
        try:
            hello = pool.start([r.framework])[r.framework]
            if isinstance(hello, WorkerFailure):
                raise hello
            reply, arrays = pool.worker(r.framework).request(
                {"op": "run-plan", "plan": plan.to_json()}, [x])
        except WorkerFailure as failure:
            result.unrun[r.framework] = failure.reason
            result.runs[label] = f"{COULD_NOT_RUN}{failure.reason}"
            continue
        if reply["status"] != "ok":
            message = re.sub(r"\{\{[^}]*\}\}\s*", "", reply["message"])  # TF's node names
            result.runs[label] = f"raises {message[:200]}"
            continue
        expected = evaluate(a, x)
        got = arrays[0].reshape(expected.shape) if arrays[0].size == expected.size else arrays[0]
        tol = tolerance(a.spec["mode"], expected.dtype)
        result.runs[label] = _agreement(got, expected, tol,
                                        input_scale(x, sizes.resolve_op(
                                            a.op, _neutral_kwargs(a), x.shape)), "A")[0]
    return result
