"""``translate(call, frm, shape)``: parse the call, render the code each framework runs for the
same numbers (the adapters' plans: the code shown is the code that runs), and verify by running
the source call as written and every target on a random input with negative values."""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import registry
from ..compare import compare_many, input_scale, tolerance
from ..errors import PoolingError, one_line
from ..layout import full_pads, spatial_names
from ..reference import as_input, work_dtype
from ..spec import may_have_empty_windows
from ..runtime.client import WorkerFailure, default_pool
from . import sizes
from .parse import NativeCall, parse
from .native import (COULD_NOT_RUN, NOT_COMPARED, TIES_WORDS, case_of, check_agreement, evaluate,
                     neutral_kwargs, random_input, run_native, run_native_grad, run_plan_grad,
                     shape_only, tie_input, upstream_gradient)


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

    def holds_for(self, spatial) -> bool:
        """Whether the printed code holds for an input of these spatial sizes (the spec
        defining it)."""
        return all(c.holds(n) for c, n in zip(self.conditions, spatial))


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
    #: what every target gives a window of padding only (``planner.build_plan``'s ``empty``):
    #: "lowest" where the call's max gives the dtype's lowest finite value (MXNet, Paddle),
    #: "neutral" where it gives the neutral spec's value; "" where no size has such a window
    empty: str = ""
    #: "zero" where the call's average of such a window is 0 though padding is not counted
    #: (MXNet): the targets are held to the sizes without one
    empty_average: str = ""

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
        function = src.function + (f", then {src.unpool.function} at its indices"
                                   if src.unpool is not None else "")
        lines = [f"source ({src.framework}): {function}", "neutral spec: "
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
    kwargs = neutral_kwargs(native)
    geom = sizes.resolve_op(native.op, kwargs, shape)  # arithmetic only: does it fit?
    if verify:  # the input is made, and pooled: it must fit, checked before it is made
        geom.check_fits(shape, work_dtype(kwargs["mode"], np.dtype(np.float32)))
        x = random_input(shape, kwargs["layout"], seed)
    else:  # rendering needs the input's shape and dtype only: a view of one cell, no memory
        x = shape_only(shape)
    geometry = native.op.describe(geom)
    empty, empty_average = _own_empty_value(native, kwargs)
    padding_only = geom.empty_windows() if native.op.has_window else None
    if padding_only is not None and padding_only.any():
        geometry += (f"; {int(padding_only.sum())} window(s) of padding only, where "
                     f"{native.framework} gives " + (
                         "the dtype's lowest finite value" if empty == "lowest" else
                         "0" if empty_average else "the neutral value"))
    names = [to] if isinstance(to, str) else list(to or registry.defaults())
    constant = constant_pad(native)
    targets = {name: _target(name, kwargs, x, native.op, constant, empty, empty_average)
               for name in names}
    result = Translation(native, shape, geometry, targets, constant_pad=constant,
                         empty=empty, empty_average=empty_average)
    if verify:
        _verify(result, kwargs, pool or default_pool(), seed)
        _verify_outside(result, kwargs, pool or default_pool(), seed)
        if native.op.has_gradient:
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


def _own_empty_value(native: NativeCall, kwargs: dict) -> tuple[str, str]:
    """``(empty, empty_average)`` where some size gives the call a window of padding only
    (``spec.may_have_empty_windows``): ``empty`` "lowest" for a max whose framework starts it
    from the dtype's lowest finite value (MXNet, Paddle: every target gives that value too),
    else "neutral" (every target gives the neutral spec's value, also where its own kernel
    would not); ``empty_average`` "zero" for an average whose padding is not counted but that
    gives 0 there (MXNet: the targets are held to the sizes without such a window)."""
    spec = native.op.spec_of(kwargs) if native.op.has_window else None
    if spec is None or not may_have_empty_windows(spec):
        return "", ""
    mode = spec.mode
    own_average = mode == "avg" and not spec.divides_padding() and native.empty_average == "zero"
    return ("lowest" if mode == "max" and native.empty_max == "lowest" else
            "" if own_average else "neutral"), ("zero" if own_average else "")


def _plan_of(adapter, op, x, kwargs: dict, constant: tuple | None = None, empty: str = ""):
    """``adapter``'s plan of the operation ``op`` with the neutral keywords on ``x``; with
    ``constant``, ``(pads, value)``, the input padded with it first and pooled without
    padding (the call as written); ``empty``: as ``planner.build_plan``'s."""
    from ..adapter import plan_of

    if constant is not None:
        kwargs = dict(kwargs, padding=0, constant_pad=constant)
    if empty:
        kwargs = dict(kwargs, empty=empty)
    return plan_of(adapter.VOCABULARY, op, x, **kwargs)[0]


def _padded_case(native: NativeCall, x: np.ndarray, constant: tuple) -> dict:
    """The call as written, as one ``compare_many`` case: ``x`` padded with the constant,
    pooled without padding."""
    case = case_of(native, np.pad(x, full_pads(native.spec["layout"], constant[0], x.ndim),
                                  constant_values=constant[1]))
    case["padding"] = 0
    return case


def _target(name: str, kwargs: dict, x: np.ndarray, op, constant: tuple | None = None,
            empty: str = "", empty_average: str = "") -> Target:
    """``name``'s code for the spec, and the sizes it holds for: the code planned for ``x``'s
    shape, checked against the plans of every other size (``sizes``); narrowed code says so in
    its verdict and refuses, when run, the sizes it does not hold for.  ``empty`` and
    ``empty_average``: ``_own_empty_value``'s."""
    adapter = _adapter(name)

    def render(shape):
        return _plan_of(adapter, op, shape_only(shape), kwargs, constant, empty).render()

    def no_empty_window(shape, axis: int) -> bool:  # the source's average of one differs
        if not empty_average:
            return True
        return bool((sizes.resolve_op(op, kwargs, shape).axes[axis].real_taps() > 0).all())

    try:
        plan = _plan_of(adapter, op, x, kwargs, constant, empty)
        alternative = "" if constant is None else _plan_of(adapter, op, x, kwargs).render()
    except PoolingError as exc:
        return Target(name, f"impossible: {exc}", "", [])
    conds = sizes.conditions(render, op, kwargs, x.shape, also=no_empty_window)
    code = plan.render()
    verdict = plan.path
    if not all(c.everywhere for c in conds):
        verdict = f"size-dependent: valid for {sizes.summary(conds)}"
        if empty_average:
            verdict += ("; a window of padding only averages to 0 in the source call where "
                        "the neutral spec, not counting padding, gives NaN (0/0): sizes "
                        "without one")
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
    inputs = [random_input(shape, layout, seed + i) for i, shape in enumerate(shapes)]
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
    comparisons = compare_many([case_of(result.source, x) if constant is None else
                                _padded_case(result.source, x, constant) for x in inputs],
                               backends=names, pool=pool)
    tol = tolerance(kwargs["mode"], comparisons[0].reference.dtype)
    own = result.empty == "lowest" or result.empty_average
    if sources is not None:  # the source as written against the spec it names
        checks = [check_agreement(src, evaluate(result.source, x) if own else
                                  _neutral_output(op, x, kwargs), tol,
                                  input_scale(x, sizes.resolve_op(op, kwargs, x.shape)))[0]
                  for src, x in zip(sources, inputs)]
        bad = [(s, c) for s, c in zip(shapes, checks) if not c.startswith("agrees")]
        result.source_check = (f"{bad[0][1]} (input {bad[0][0]})" if bad
                               else "agrees with the neutral spec" + (
                                   f", {result.source.framework}'s own value aside for a window "
                                   f"of padding only (" + ("the dtype's lowest finite value"
                                                           if result.empty == "lowest"
                                                           else "0")
                                   + ")" if own else ""))
    for name in names:
        target = result.targets[name]
        for i, (shape, comparison, x) in enumerate(zip(shapes, comparisons, inputs)):
            if target.conditions and not target.holds_for(sizes.spatial_of(shape, layout)):
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
            output = r.output
            if op.outputs == 2:  # (values, indices), the indices in the source's convention
                output = (r.values, r.output)
                if sources is None:
                    expected = _neutral_output(op, x, kwargs)
            if result.empty and sources is not None:  # the printed code's own values
                try:
                    output = _run_printed(target, x, pool).reshape(r.output.shape)
                except WorkerFailure as failure:
                    target.checked[shape] = f"error: {failure.reason}"
                    continue
            line, diff = check_agreement(output, expected, tol, scale, what)
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
    return arrays[0] if len(arrays) == 1 else tuple(arrays)


def _verify_outside(result: Translation, kwargs, pool, seed: int) -> None:
    """Sizes the neutral spec does not define (an input smaller than the window,
    ``sizes.undefined_shapes``) where the source call still returns a result (TensorFlow's and
    Flax's ``'VALID'`` an empty output, PyTorch's ``ceil_mode`` one window reaching past a
    1x1 input): each target's printed code runs there too, and a target that raises or gives
    other numbers is narrowed to the sizes the spec defines, its verdict saying why and its
    code refusing the others (MXNet's pooling raises "kernel <= dshape + 2*pad" there)."""
    layout = kwargs["layout"]
    for shape in sizes.undefined_shapes(result.source.op, kwargs, result.shape):
        x = random_input(shape, layout, seed)
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
            differs = next((d for d in map(_differs, _parts(out), _parts(expected)) if d), "")
            if differs:
                target.outside[shape] = differs
    for target in result.targets.values():
        if target.outside:
            _narrow_to_the_spec(result, target, kwargs)


def _parts(out) -> tuple:
    """An output as a tuple of arrays (a pooling with indices gives two)."""
    return out if isinstance(out, tuple) else (out,)


def _differs(out: np.ndarray, expected: np.ndarray) -> str:
    """How a target's output differs from the source call's where the spec defines nothing
    (the shape, or the numbers), or ""."""
    out = out.reshape(expected.shape) if out.size == expected.size else out
    if out.shape != expected.shape:
        return f"gives shape {out.shape} where the source gives {expected.shape}"
    if not np.allclose(out.astype(np.float64), expected.astype(np.float64), equal_nan=True,
                       rtol=1e-5, atol=1e-6):
        return "gives other numbers"
    return ""


def _narrow_to_the_spec(result: Translation, target: Target, kwargs) -> None:
    """``target`` held to the sizes the neutral spec defines (its code guarded): below them the
    source call returns a result this code does not (``target.outside``)."""
    layout = kwargs["layout"]
    smallest = sizes.smallest_defined(result.source.op, kwargs, result.shape)
    target.conditions = [c.at_least(n) for c, n in zip(
        target.conditions or [sizes.AxisCondition(a, 1, 1, (0,), (), True)
                              for a in spatial_names(layout)], smallest)]
    shape, what = next(iter(target.outside.items()))
    hw = sizes.label(shape, layout)
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


def _neutral_output(op, x: np.ndarray, kwargs: dict):
    """The neutral semantics' output of the operation ``op`` with ``kwargs`` on ``x`` (the pair
    (values, indices) of a pooling with indices)."""
    if op.outputs == 2:
        indices, values = op.reference_pair(as_input(x), op.geometry(x.shape, **kwargs))
        return values, indices
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
    autograd, on inputs with ties (``tie_input``) and an upstream gradient of small integers,
    at the sizes the forward check ran; a difference names each side's tie policy where the
    reference's ``ties`` policies tell them apart."""
    from ..adapter import as_full

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
        x = tie_input(shape, seed + i)
        expected = _neutral_output(op, x, kwargs)
        up = upstream_gradient(expected.shape, seed + i)
        spatial = sizes.spatial_of(shape, layout)
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
            if target.conditions and not target.holds_for(spatial):
                target.grad_checked[shape] = "refused"
                continue
            try:
                plan = _plan_of(_adapter(name), op, x, kwargs, result.constant_pad,
                                result.empty)
                x_full = as_full(x, layout).astype(plan.handover or x.dtype, copy=False)
                up_full = as_full(up, layout) if op.keeps_axes(kwargs) else up.reshape(
                    _run_plan(name, plan, x_full, pool).shape)  # the plan's own shape
                _, grad = run_plan_grad(name, plan, x_full, up_full, pool)
            except (WorkerFailure, PoolingError) as exc:
                gap = _adapter(name).VOCABULARY.gradient_gap(str(exc))
                target.grad_checked[shape] = (f"{NOT_COMPARED}{gap}" if gap
                                              else f"error: {exc}")
                continue
            grad = grad.reshape(x.shape) if grad.size == x.size else grad
            line, diff = check_agreement(grad, source_grad, tol, scale,
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
        return sizes.label(shape, layout)

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


