"""A plan: the short list of framework calls an adapter makes, as data.

The same ``Plan`` is executed (with the framework's modules) and rendered as Python code, so the
code a report shows is the code that ran.  A step is a framework function (``"F.max_pool2d"``),
a method (``".permute"``) or a Python operator (``"op:div"``) applied to earlier values, or
``"op:let"``: a named integer computed from the input's shape when the plan runs (an ``Expr``),
so that code planned for one input size can hold for every size (SAME pads, ceil overhang).
"""
from __future__ import annotations

import dataclasses
import math
import operator
from typing import Any

import numpy as np

_OPERATORS = {
    "op:div": ("{0} / {1}", operator.truediv),
    "op:mul": ("{0} * {1}", operator.mul),
    "op:add": ("{0} + {1}", operator.add),
    "op:pow": ("{0} ** {1}", operator.pow),
    "op:neg": ("-{0}", operator.neg),
    "op:getitem": ("{0}[{1}]", operator.getitem),
    "op:eq": ("{0} == {1}", operator.eq),
    "op:ne": ("{0} != {1}", operator.ne),
    "op:ge": ("{0} >= {1}", operator.ge),
    "op:floordiv": ("{0} // {1}", operator.floordiv),
    "op:mod": ("{0} % {1}", operator.mod),
    "op:pair": ("({0}, {1})", lambda a, b: (a, b)),
    "op:call": ("{0}({1})", lambda f, *args: f(*args)),  # any count of arguments: see execute
}


@dataclasses.dataclass(frozen=True)
class Var:
    """A value produced by an earlier step (or the input ``x``)."""

    name: str


@dataclasses.dataclass(frozen=True)
class Attr:
    """A framework attribute used as an argument, e.g. ``torch.float64``."""

    path: str


#: Expr operators: (precedence, Python spelling); a higher precedence binds tighter
_EXPR_OPS = {"ge": (1, "{0} >= {1}"), "add": (2, "{0} + {1}"), "sub": (2, "{0} - {1}"),
             "mul": (3, "{0} * {1}"), "floordiv": (3, "{0} // {1}"), "neg": (4, "-{0}")}
_EXPR_EVAL = {"ge": lambda a, b: int(a >= b), "add": operator.add, "sub": operator.sub,
              "mul": operator.mul, "floordiv": operator.floordiv, "neg": operator.neg,
              "max": max, "min": min}


@dataclasses.dataclass(frozen=True, eq=False)
class Expr:
    """An integer computed when the plan runs, from the input's shape: ``Expr.dim("x", 2)``
    is ``x.shape[2]``, ``Expr.name("ph")`` a value an ``op:let`` step bound earlier, and
    ``+ - * // -e``, ``e >= f`` (1 or 0), ``e.at_least(0)`` (``max(e, 0)``) and
    ``e.at_most(2)`` (``min(e, 2)``) build more; ``Expr.each("i", 7, e)`` is the list
    ``[e for i in range(7)]`` (``e`` reading ``i`` as ``Expr.name("i")``: adaptive bins' indices).

    It has Python's integer arithmetic, so the convention formulas in ``spec.py``, written
    once for ints, give the same formula for a size read at run time; rendered, it is that
    Python expression (``max((-(-H // 2) - 1) * 2 + 3 - H, 0)``), evaluated, the same value."""

    op: str  # "dim", "name", "each", or a key of _EXPR_OPS, "max", "min"
    args: tuple = ()

    @staticmethod
    def each(name: str, count, body: "Expr") -> "Expr":
        """The list ``[body for name in range(count)]`` (a list comprehension, rendered so: it
        reads the names bound before it as module or enclosing-function names, so the code runs
        at module level, in a function, or ``exec``'d with one namespace)."""
        return Expr("each", (name, count, body))

    @staticmethod
    def dim(of: str, axis: int) -> "Expr":
        return Expr("dim", (of, axis))

    @staticmethod
    def name(name: str) -> "Expr":
        return Expr("name", (name,))

    # arithmetic, folding constants (x + 1 + 1 - 3 is x - 1; x + 0, x * 1, x // 1 are x) so
    # the code reads as written
    def _shift(self, c: int) -> "Expr":
        base, offset = self, c
        if self.op in ("add", "sub") and isinstance(self.args[1], int):
            base = self.args[0]
            offset += self.args[1] if self.op == "add" else -self.args[1]
        if offset == 0:
            return base
        return Expr("add", (base, offset)) if offset > 0 else Expr("sub", (base, -offset))

    def __add__(self, other):
        return self._shift(other) if isinstance(other, int) else Expr("add", (self, other))

    def __radd__(self, other):
        return self._shift(other)

    def __sub__(self, other):
        return self._shift(-other) if isinstance(other, int) else Expr("sub", (self, other))

    def __rsub__(self, other):
        return Expr("sub", (other, self))

    def __mul__(self, other):
        return self if isinstance(other, int) and other == 1 else Expr("mul", (self, other))

    def __rmul__(self, other):
        return self if isinstance(other, int) and other == 1 else Expr("mul", (other, self))

    def __floordiv__(self, other):
        return self if isinstance(other, int) and other == 1 else Expr("floordiv", (self, other))

    def __rfloordiv__(self, other):
        return Expr("floordiv", (other, self))

    def __neg__(self):
        return self.args[0] if self.op == "neg" else Expr("neg", (self,))

    def __ge__(self, other):
        return Expr("ge", (self, other))

    def __le__(self, other):  # ``int >= Expr`` reflected: other >= self
        return Expr("ge", (other, self))

    def at_least(self, floor: int) -> "Expr":
        return Expr("max", (self, floor))

    def at_most(self, ceiling: int) -> "Expr":
        return Expr("min", (self, ceiling))

    def __bool__(self):
        raise TypeError("an Expr has no truth value before the plan runs")

    def evaluate(self, env: dict) -> int:
        if self.op == "dim":
            of, axis = self.args
            return int(env[of].shape[axis])
        if self.op == "name":
            return env[self.args[0]]
        if self.op == "each":
            name, count, body = self.args
            count = count.evaluate(env) if isinstance(count, Expr) else count
            return [body.evaluate({**env, name: i}) for i in range(count)]
        values = [a.evaluate(env) if isinstance(a, Expr) else a for a in self.args]
        return _EXPR_EVAL[self.op](*values)

    def precedence(self) -> int:
        return _EXPR_OPS[self.op][0] if self.op in _EXPR_OPS else 5

    def render(self) -> str:
        if self.op == "dim":
            return f"{self.args[0]}.shape[{self.args[1]}]"
        if self.op == "name":
            return self.args[0]
        if self.op == "each":
            name, count, body = self.args
            return (f"[{_render_operand(body, 0)} for {name} in "
                    f"range({_render_operand(count, 0)})]")
        if self.op in ("max", "min"):
            return f"{self.op}(" + ", ".join(_render_operand(a, 0) for a in self.args) + ")"
        level, form = _EXPR_OPS[self.op]
        if self.op == "neg":
            return form.format(_render_operand(self.args[0], level))
        # left-associative: the right operand of - and // needs parentheses at equal precedence
        left = _render_operand(self.args[0], level)
        right = _render_operand(self.args[1], level + (self.op in ("sub", "floordiv", "ge")))
        return form.format(left, right)

    def __repr__(self) -> str:
        return f"Expr({self.render()})"


def _render_operand(value, level: int) -> str:
    if isinstance(value, Expr):
        text = value.render()
        return f"({text})" if value.precedence() < level else text
    text = repr(value)
    return f"({text})" if isinstance(value, int) and value < 0 and level >= 2 else text


@dataclasses.dataclass(frozen=True)
class Call:
    """A call nested as an argument, rendered inline: ``helper.make_opsetid('', 22)``, or a
    method of its first argument (``fn`` starting with ``.``: ``model.SerializeToString()``).
    For frameworks whose steps build a graph, where each step passes built pieces along."""

    fn: str
    args: tuple = ()
    kwargs: tuple = ()  # ((name, value), ...)


@dataclasses.dataclass(frozen=True)
class Step:
    out: str
    fn: str
    args: tuple = ()
    kwargs: tuple = ()  # ((name, value), ...)


def render_value(value: Any) -> str:
    if isinstance(value, Expr):
        return value.render()
    if isinstance(value, Var):
        return value.name
    if isinstance(value, Attr):
        return value.path
    if isinstance(value, Call):
        args = [render_value(a) for a in value.args]
        if value.fn.startswith("."):
            args, head = args[1:], f"{args[0]}{value.fn}"
        else:
            head = value.fn
        args += [f"{k}={render_value(v)}" for k, v in value.kwargs]
        return f"{head}({', '.join(args)})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render_value(k)}: {render_value(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, slice):
        parts = ["" if v is None else render_value(v) for v in (value.start, value.stop,
                                                                value.step)]
        return ":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else "")
    if isinstance(value, float) and math.isinf(value):
        return "float('-inf')" if value < 0 else "float('inf')"
    if isinstance(value, (np.integer, np.floating)):
        return render_value(value.item())
    if isinstance(value, tuple) and value and all(isinstance(v, slice) for v in value):
        return ", ".join(render_value(v) for v in value)
    if isinstance(value, (tuple, list)):
        inner = ", ".join(render_value(v) for v in value)
        if isinstance(value, tuple):
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return f"[{inner}]"
    return repr(value)


def _resolve(value: Any, env: dict, namespace: dict) -> Any:
    if isinstance(value, Var):
        return env[value.name]
    if isinstance(value, Attr):
        return _lookup(value.path, namespace)
    if isinstance(value, Expr):
        return value.evaluate(env)
    if isinstance(value, slice):
        return slice(*(v.evaluate(env) if isinstance(v, Expr) else v
                       for v in (value.start, value.stop, value.step)))
    if isinstance(value, Call):
        args = [_resolve(a, env, namespace) for a in value.args]
        kwargs = {k: _resolve(v, env, namespace) for k, v in value.kwargs}
        if value.fn.startswith("."):
            return getattr(args[0], value.fn[1:])(*args[1:], **kwargs)
        return _lookup(value.fn, namespace)(*args, **kwargs)
    if isinstance(value, dict):
        return {k: _resolve(v, env, namespace) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, env, namespace) for v in value]
    if isinstance(value, tuple):
        return tuple(_resolve(v, env, namespace) for v in value)
    return value


def _lookup(path: str, namespace: dict):
    root, *rest = path.split(".")
    obj = namespace[root]
    for part in rest:
        obj = getattr(obj, part)
    return obj


@dataclasses.dataclass
class Plan:
    """How one backend computes one resolved pooling."""

    backend: str
    imports: tuple[str, ...]
    steps: list[Step] = dataclasses.field(default_factory=list)
    path: str = "native"  # native: one pooling call; emulated: pads/masks/slices around it
    emulated_by: list[str] = dataclasses.field(default_factory=list)
    adaptations: list[str] = dataclasses.field(default_factory=list)
    computes_in: str = ""
    mode: str = ""  # the pooling it computes (``spec.mode``; "" for none: an unpooling)
    input_note: str = ""  # what x is (rendered as a comment before the steps)
    output_note: str = ""  # what y is, when the caller's result is not y itself
    handover: str = ""  # the input is converted to this dtype before the framework sees it
    handback: str = ""  # the output is converted to this dtype after it (exact)
    exact_below: int = 0  # integers pooled in float64: refuse |values| >= this
    #: a plan of the argmax (``ops.INDICES``): the convention its indices come in
    #: (``indices.INDEX_CONVENTIONS``) and the layout that convention is read in; its result is
    #: the pair (values, indices)
    index_convention: str = ""
    index_layout: str = ""
    #: (before, after) per spatial axis: the indices number the cells of the input padded so
    #: (the call ran on an explicitly padded input); () for none
    index_pads: tuple = ()
    #: after a run: the first index that named no cell of its window's plane ("" for none)
    index_note: str = ""
    #: the framework's "record and backprop" around the steps, when the plan's gradient is
    #: taken: lines of code, ``{forward}`` where the steps go (indented like it)
    backward: tuple[str, ...] = ()
    _counter: int = 0

    # --- building -----------------------------------------------------------------------------
    def call(self, fn: str, *args, **kwargs) -> Var:
        self._counter += 1
        return self.call_as(f"t{self._counter}", fn, *args, **kwargs)

    def call_as(self, out: str, fn: str, *args, **kwargs) -> Var:
        """``call``, its result named ``out`` (``graph``, ``model``) in the rendered code."""
        self.steps.append(Step(out, fn, args, tuple(kwargs.items())))
        return Var(out)

    def let(self, name: str, value) -> Any:
        """Bind ``name`` to ``value`` (an ``Expr`` computed when the plan runs; an int is
        returned as it is): a line ``name = ...`` of the code, and ``Expr.name(name)``."""
        if not isinstance(value, Expr):
            return value
        self.steps.append(Step(name, "op:let", (value,)))
        return Expr.name(name)

    @property
    def runs_shape_code(self) -> bool:
        """Whether some value is computed from the input's shape when the plan runs."""
        return any(step.fn == "op:let" for step in self.steps)

    def emulate(self, why: str) -> None:
        self.path = "emulated"
        if why not in self.emulated_by:
            self.emulated_by.append(why)

    def adapt(self, what: str) -> None:
        if what not in self.adaptations:
            self.adaptations.append(what)

    # --- using --------------------------------------------------------------------------------
    def _final(self) -> str:
        return self.steps[-1].out if self.steps else "x"

    def execute(self, namespace: dict, x, **inputs) -> Any:
        """Run the steps on ``x`` (and the further ``inputs`` by name: ``indices``)."""
        env = {"x": x, **inputs}
        for step in self.steps:
            args = [_resolve(a, env, namespace) for a in step.args]
            kwargs = {k: _resolve(v, env, namespace) for k, v in step.kwargs}
            if step.fn == "op:let":
                env[step.out] = args[0]
            elif step.fn == "op:call":  # a layer applied: its inputs and keywords
                env[step.out] = args[0](*args[1:], **kwargs)
            elif step.fn in _OPERATORS:
                env[step.out] = _OPERATORS[step.fn][1](*args)
            elif step.fn.startswith("."):
                env[step.out] = getattr(args[0], step.fn[1:])(*args[1:], **kwargs)
            else:
                env[step.out] = _lookup(step.fn, namespace)(*args, **kwargs)
        return env[self._final()]

    def render(self) -> str:
        """The plan as runnable code: imports, then one line per step, result in ``y``."""
        lines = list(self.imports)
        if self.input_note:
            lines.append(f"# x: {self.input_note}")
        names = {step.out: step.out for step in self.steps}
        if self.steps and self.steps[-1].fn != "op:let":
            names[self.steps[-1].out] = "y"
        for step in self.steps:
            args = [Var(names.get(a.name, a.name)) if isinstance(a, Var) else a
                    for a in step.args]
            kwargs = [(k, Var(names.get(v.name, v.name)) if isinstance(v, Var) else v)
                      for k, v in step.kwargs]
            rendered = [render_value(a) for a in args]
            if step.fn == "op:let":
                expr = rendered[0]
            elif step.fn == "op:call":  # a layer applied to its inputs, with keywords
                given = rendered[1:] + [f"{k}={render_value(v)}" for k, v in kwargs]
                expr = f"{rendered[0]}({', '.join(given)})"
            elif step.fn in _OPERATORS:
                expr = _OPERATORS[step.fn][0].format(*rendered)
            else:
                params = ", ".join(rendered[1:] if step.fn.startswith(".") else rendered)
                params = ", ".join(p for p in [params] + [f"{k}={render_value(v)}"
                                                          for k, v in kwargs] if p)
                expr = (f"{rendered[0]}{step.fn}({params})" if step.fn.startswith(".")
                        else f"{step.fn}({params})")
            lines.append(f"{names[step.out]} = {expr}")
        if self.output_note:
            lines.append(f"# y: {self.output_note}")
        return "\n".join(lines)

    def render_grad(self) -> str:
        """The plan with its framework's backward pass, as runnable code: ``grad_output`` (the
        upstream gradient, shaped as ``y``) in, ``grad_input`` (shaped as ``x``) out."""
        forward = self.render().split("\n")
        imports = [line for line in forward if line in self.imports]
        body = [line for line in forward if line not in self.imports]
        lines = imports + [line for line in self.backward if line.startswith(("import ", "from "))]
        for line in self.backward:
            if line.startswith(("import ", "from ")):
                continue
            if line.strip() == "{forward}":
                indent = line[:len(line) - len(line.lstrip())]
                lines.extend(indent + step for step in body)
            else:
                lines.append(line)
        return "\n".join(lines)

    def to_json(self) -> dict:
        """The plan as plain JSON (for a worker to execute); ``from_json`` inverts it."""
        return {"backend": self.backend, "imports": list(self.imports), "path": self.path,
                "emulated_by": self.emulated_by, "adaptations": self.adaptations,
                "computes_in": self.computes_in, "input_note": self.input_note,
                "output_note": self.output_note,
                "steps": [[s.out, s.fn, _encode(list(s.args)), _encode([list(kv) for kv in
                                                                       s.kwargs])]
                          for s in self.steps]}

    @classmethod
    def from_json(cls, data: dict) -> "Plan":
        plan = cls(data["backend"], tuple(data["imports"]), path=data["path"],
                   emulated_by=list(data["emulated_by"]), adaptations=list(data["adaptations"]),
                   computes_in=data["computes_in"], input_note=data["input_note"],
                   output_note=data.get("output_note", ""))
        for out, fn, args, kwargs in data["steps"]:
            plan.steps.append(Step(out, fn, tuple(_decode(args)),
                                   tuple((k, v) for k, v in _decode(kwargs))))
        plan._counter = len(plan.steps)
        return plan

    def describe(self) -> dict:
        """JSON-friendly summary (what a report shows as "how")."""
        calls = [s.fn for s in self.steps if not s.fn.startswith("op:")]
        described = {"path": self.path, "emulated_by": list(self.emulated_by),
                     "adaptations": list(self.adaptations), "computes_in": self.computes_in,
                     "calls": calls, "code": self.render()}
        if self.backward:
            described["grad_code"] = self.render_grad()
        if self.index_convention:
            described["indices"] = f"{self.index_convention} ({self.index_layout})"
        return described


def _encode(value):
    """JSON-safe tagged form of step arguments (tuples, slices, Vars, Attrs, Exprs, non-finite
    floats)."""
    if isinstance(value, Expr):
        return {"expr": [value.op, [_encode(a) for a in value.args]]}
    if isinstance(value, Var):
        return {"var": value.name}
    if isinstance(value, Attr):
        return {"attr": value.path}
    if isinstance(value, Call):
        return {"call": [value.fn, _encode(list(value.args)),
                         _encode([list(kv) for kv in value.kwargs])]}
    if isinstance(value, slice):
        return {"slice": [_encode(v) for v in (value.start, value.stop, value.step)]}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"dict": [[k, _encode(v)] for k, v in value.items()]}
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}
    return value


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        (tag, inner), = value.items()
        if tag == "expr":
            return Expr(inner[0], tuple(_decode(a) for a in inner[1]))
        if tag == "var":
            return Var(inner)
        if tag == "attr":
            return Attr(inner)
        if tag == "call":
            fn, args, kwargs = inner
            return Call(fn, tuple(_decode(args)), tuple((k, v) for k, v in _decode(kwargs)))
        if tag == "slice":
            return slice(*(_decode(v) for v in inner))
        if tag == "tuple":
            return tuple(_decode(v) for v in inner)
        if tag == "dict":
            return {k: _decode(v) for k, v in inner}
        if tag == "float":
            return float(inner)
    return value
