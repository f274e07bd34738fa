"""What every framework's dialect shares: the call read, and the helpers its reader uses.

A dialect (``adapters/<name>_dialect.py``, beside the adapter that names it in its
``Backend``) says how a framework's users spell pooling; ``pooling_xfw.porting.parse`` is the
one AST reader that uses them.  A dialect module holds:

* ``IMPORTS``: the import lines of the call as its framework runs it (``NativeCall.source_plan``);
* ``SIGNATURES``: each function's parameters (a space-separated string) and defaults (``NO``:
  required), by its canonical name (``nn.MaxPool2d``);
* ``SPELLINGS``: each full name its imports may give a call (``torch.nn.MaxPool2d``) -> the
  canonical name; ``OTHER_POOLING``: full names of its pooling calls found but not read
  (unpooling, fractional: ``scan`` lists them); ``NOT_A_FUNCTION``: full names that do not exist,
  with why;
* ``DEFAULT_IMPORTS``: what a prefix means in a text that imports nothing (``F``);
* ``NAN_POLICY``: how its max treats a NaN (the conventions table measured it);
* ``to_spec(native, args)``: the call's arguments into the neutral spec (``native.spec``), with
  its defaults, notes and what the spec cannot hold.

and, where the framework needs them: ``nan_policy(native)`` / ``tie_policy(native)`` (an
operation that differs from ``NAN_POLICY`` / the first extreme); ``WRITTEN`` (names that mean
one call whatever the imports: MXNet's ``F.Pooling``); ``PAD_FUNCTION`` (``(full name, as the
source plan spells it)``: an explicit constant pad before the pooling) with its
``PAD_PARAMETERS``; ``UNPOOLING`` (full name -> canonical name of its unpooling calls, read
after a pooling that returns its indices) with ``UNPOOL_SIGNATURES`` (canonical name ->
``(params, defaults, functional)``, the values and indices aside) and ``UNPOOL_APPLIED`` (the
parameters a layer is applied with after them); ``argmax_convention(native, args)`` (a call
that always returns its argmax: its index convention); ``FUNCTION_ARGUMENTS`` (arguments that
are functions, JAX's ``lax.max``: {parameter: {full name: as the source plan spells it}}); ``CONSTANTS`` (calls that wrap a
literal, ``tf.constant``) and ``INFINITIES`` (its spellings of inf); ``read_divisor(node,
pool, function, reader)`` (a window sum divided, JAX's); ``source_call(plan, native, x)`` (the
call as written, where it is not ``function(x, **arguments)``); ``redirect(found)`` (where
another framework's call is read); ``RECIPES`` (known broken ports, ``explain``).

Nothing here imports a framework, the registry or the porting assistant: the dialects import
this module, and the reader reaches them through the registry.
"""
from __future__ import annotations

import ast
import dataclasses
from types import ModuleType
from typing import Callable

from .errors import PoolingError
from .layout import LAYOUTS_BY_RANK, axis_names, full_pads, of_rank, spatial_list
from .ops import ADAPTIVE, GLOBAL, POOL, Operation
from .plan import Plan, Var

#: a required parameter, in a dialect's ``SIGNATURES``
NO = object()
#: the parameter names that are the pooled input (never read as an argument)
INPUTS = ("input", "x", "data", "value", "operand", "inputs")
_INFINITIES = ("np.inf", "math.inf", "numpy.inf", "float('inf')", 'float("inf")', "onp.inf",
               "np.Inf")


@dataclasses.dataclass
class UnpoolCall:
    """The unpooling that follows a pooling with indices in the text (``nn.MaxUnpool2d``,
    ``F.max_unpool2d``): its canonical name, its arguments as written (the values and indices
    aside), and where it is a layer, the keywords it is applied with."""

    function: str
    arguments: dict
    applied: dict = dataclasses.field(default_factory=dict)
    written: str = ""
    functional: bool = True  # it takes the values and indices (else a layer applied to them)


@dataclasses.dataclass
class NativeCall:
    """A framework's pooling call read into the neutral spec, plus what the spec cannot hold."""

    framework: str
    text: str
    function: str
    arguments: dict  # the call's own arguments, by name, as written (the input excluded)
    spec: dict  # px.pool2d keyword arguments
    defaulted: list[str] = dataclasses.field(default_factory=list)
    pad_value: float | None = None  # constant of an explicit pad (None: none, or identity)
    recipe_pads: tuple | None = None  # (before, after) of that pad, per spatial axis
    #: the framework's max of a window of padding only (``ceil_mode="keep"``'s, or of pads a
    #: window wide): "lowest", the dtype's lowest finite value (its max starts from it: MXNet,
    #: Paddle); "": the neutral spec's -inf
    empty_max: str = ""
    #: its average of such a window where padding is not counted: "zero" (MXNet); "": the
    #: neutral spec's 0/0, NaN
    empty_average: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)
    written: str = ""  # the function as the text spells it
    pad_function: str = ""  # the explicit pad before the pooling, as its source plan calls it
    #: a window sum divided: by a number (the window's size) or "ones" (the same pooling of
    #: ones: the cells counted); None: no division
    divisor: float | str | None = None
    global_window: bool = False  # the window is the input's spatial axes, whatever their size
    #: which operation the spec is of (``pooling_xfw.ops``): ``POOL`` (``px.pool2d``'s
    #: keywords), ``ADAPTIVE`` (``px.adaptive_pool2d``'s: output_size, mode, layout) or
    #: ``GLOBAL`` (``px.global_pool2d``'s: mode, p, keepdims, layout)
    op: Operation = POOL
    dialect: ModuleType | None = dataclasses.field(default=None, repr=False, compare=False)
    #: the unpooling at the call's indices that follows it (``op`` is then ``POOL_UNPOOL``)
    unpool: UnpoolCall | None = None

    def source_plan(self) -> Plan:
        """The call as written, executable by that framework's worker and renderable."""
        dialect = self.dialect
        plan = Plan(self.framework, dialect.IMPORTS)
        plan.input_note = f"{len(self.spec['layout'])}-D {self.spec['layout']} array"
        x = Var("x")
        if self.recipe_pads is not None:
            widths = [list(p) for p in full_pads(self.spec["layout"], self.recipe_pads)]
            x = plan.call(self.pad_function, x, widths, constant_values=self.pad_value)
        own = getattr(dialect, "source_call", None)
        if own is None or own(plan, self, x) is None:
            if takes_input(dialect, self.function):
                plan.call(self.function, x, **self.arguments)
            else:
                layer = plan.call(self.function, **self.arguments)
                plan.call("op:call", layer, x)
        if self.unpool is not None:
            self._unpool_steps(plan)
        return plan

    def _unpool_steps(self, plan: Plan) -> None:
        """The unpooling after the pooling's pair: the result (unpooled, indices)."""
        pooled = Var(plan.steps[-1].out)
        values, indices = (plan.call("op:getitem", pooled, i) for i in (0, 1))
        call = self.unpool
        if call.functional:
            out = plan.call(call.function, values, indices, **call.arguments)
        else:
            layer = plan.call(call.function, **call.arguments)
            out = plan.call("op:call", layer, values, indices, **call.applied)
        plan.call("op:pair", out, indices)


@dataclasses.dataclass
class Reader:
    """What a call is read with: its framework's ``dialect``, the text's ``imports`` and star
    imports (``read_imports``), and the ``names`` it bound to literals earlier."""

    dialect: ModuleType
    imports: dict = dataclasses.field(default_factory=dict)
    stars: tuple = ()
    names: dict = dataclasses.field(default_factory=dict)

    def full_name(self, name: str) -> str | None:
        """``name`` as the text's imports reach it, else as the dialect's usual names do."""
        return (full_name(name, self.imports, self.stars, self.dialect.SPELLINGS)
                or full_name(name, self.dialect.DEFAULT_IMPORTS))

    def canonical(self, name: str) -> str | None:
        """The dialect's canonical name of the pooling call written ``name``, else None."""
        return self.dialect.SPELLINGS.get(self.full_name(name))

    def literal(self, node):
        """``literal(node)`` with the names bound so far and the dialect's constants."""
        return literal(node, self.names, self.dialect)

    def bind(self, function: str, call: ast.Call, signature: tuple | None = None) -> dict:
        """The call's arguments by name, as literals (the input excluded); defaults are not
        filled in: the dialect's ``to_spec`` applies its own.  An argument that is a function
        (``FUNCTION_ARGUMENTS``) is kept as its full name.  ``signature``: ``(params,
        defaults)`` read with, else the dialect's ``SIGNATURES[function]``."""
        params, defaults = signature or self.dialect.SIGNATURES[function]
        params = params.split()
        if len(call.args) > len(params):
            raise PoolingError(f"call: {function} got {len(call.args)} positional arguments; "
                               f"allowed: at most {len(params)} ({', '.join(params)})")
        given = dict(zip(params, call.args))
        for kw in call.keywords:
            if kw.arg is None:
                raise PoolingError(f"call: **{ast.unparse(kw.value)} is not read (its keys are "
                                   f"known only when the code runs); allowed: arguments "
                                   f"written out")
            if kw.arg not in params:
                raise PoolingError(f"call: {function} got an unexpected argument {kw.arg!r}; "
                                   f"allowed: {', '.join(params)}")
            if kw.arg in given:
                raise PoolingError(f"call: {function} got {kw.arg!r} twice")
            given[kw.arg] = kw.value
        functions = getattr(self.dialect, "FUNCTION_ARGUMENTS", {})
        args = {}
        for name, default in zip(params, defaults):
            if name == "name" and name in given:  # a layer's name changes no number
                try:
                    args[name] = self.literal(given[name])
                except PoolingError:
                    pass  # built at run time (name + "_pool"): left out, as it does not matter
            elif name in functions and name in given:
                args[name] = self._function(given[name], functions[name])
            elif name in given and name not in INPUTS:
                args[name] = self.literal(given[name])
            elif name not in given and default is NO and name not in INPUTS:
                raise PoolingError(f"call: {function} needs {name!r}")
        return args

    def _function(self, node, allowed: dict) -> str:
        """An argument that is a function (``lax.max``), as its full name."""
        try:
            written = dotted(node)
        except PoolingError:
            written = ast.unparse(node)
        full = self.full_name(written)
        if full not in allowed:
            raise PoolingError(f"call: got the reduction {ast.unparse(node)!r}; allowed: "
                               f"{', '.join(allowed)} (through the imports)")
        return full


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A known broken port (``explain(call, frm, name, "recipe")``): ``what`` it is, ``why`` it
    breaks, and ``plan(output_size, mode, layout, shape)``, its framework's ``Plan`` on a
    4-D input of ``shape``, where it is run (None: documented, not run; ``breaks_at``: the
    output sizes it was measured to break at, up to ``porting.recipes.LIMIT``).  A recipe run
    gives the neutral numbers exactly where ``holds`` (the output size divides the axis)."""

    name: str
    what: str
    why: str
    plan: Callable | None = None
    breaks_at: frozenset = frozenset()
    framework: str | None = None  # where it runs: its dialect's backend (porting.recipes sets it)

    def holds(self, n: int, o: int) -> bool | None:
        """Whether the recipe gives the neutral numbers for an axis of ``n`` cells pooled to
        ``o`` (None: not known here)."""
        if self.framework is None:
            return None
        return o > 0 and n % o == 0


def takes_input(dialect: ModuleType, function: str) -> bool:
    """Whether ``function`` (a canonical name of ``dialect``) takes the input as its first
    argument (a functional) rather than building a layer applied to it later."""
    return dialect.SIGNATURES[function][0].split()[0] in INPUTS


def pair(value):
    """An int or a tuple of ints, as written; anything else is refused (3.7 is not 3)."""
    def one(v):
        if isinstance(v, bool) or not isinstance(v, int):
            raise PoolingError(f"call: got {value!r} where an int or a tuple of ints belongs")
        return v

    if isinstance(value, (list, tuple)):
        return tuple(one(v) for v in value)
    return one(value)


def allow_pads_of_a_window(native) -> None:
    """Where the call's pads can make a window of padding only (a pad at least the window's
    extent on some side, or pads around a dilated window, which can step over a small input),
    the neutral spec allows such windows (``allow_empty_windows=True``), as the framework
    does: the call pools them rather than refusing."""
    spec = native.spec
    padding = spec["padding"]
    if isinstance(padding, str):
        return
    rank = len(spec["layout"]) - 2

    def each(value):
        return [value] * rank if isinstance(value, int) else list(value)

    for k, d, p in zip(each(spec["pool_size"]), each(spec.get("dilation", 1)), each(padding)):
        sides = (p, p) if isinstance(p, int) else tuple(p)
        if max(sides) >= d * (k - 1) + 1 or (d > 1 and max(sides) > 0):
            spec["allow_empty_windows"] = True
            return


def dotted(node) -> str:
    """``a.b.c`` of a name or an attribute chain; ``PoolingError`` for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    raise PoolingError(f"call: got {ast.unparse(node)!r}; allowed: a framework pooling call")


def literal(node, names: dict, dialect: ModuleType | None = None):
    """A literal (ints, floats, strings, tuples, lists, None, bools), a name bound to one, a
    call that wraps one (the dialect's ``CONSTANTS``) or a spelling of inf (and the dialect's
    ``INFINITIES``); anything else is refused."""
    wrappers = getattr(dialect, "CONSTANTS", ())
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.Name) and node.id not in ("None", "True", "False"):
        raise PoolingError(f"call: argument {node.id!r} is a variable (its value is known only "
                           f"when the code runs); allowed: literals or names bound to literals "
                           f"earlier in the text")
    if isinstance(node, ast.Call) and ast.unparse(node.func) in wrappers:
        return literal(node.args[0], names, dialect)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -literal(node.operand, names, dialect)
    text = ast.unparse(node)
    if text in _INFINITIES + tuple(getattr(dialect, "INFINITIES", ())):
        return float("inf")
    if text in ("float('-inf')", 'float("-inf")'):
        return float("-inf")
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise PoolingError(f"call: argument {ast.unparse(node)!r} is not a literal; allowed: "
                           f"literals or names bound to literals earlier in the text") from None


def read_imports(tree: ast.AST) -> tuple[dict, list]:
    """The names a module's import lines bind -> the full module or object name, and the
    modules star-imported (``from torch.nn import *``)."""
    names, stars = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:  # import torch.nn binds torch
                    head = alias.name.split(".")[0]
                    names[head] = head
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name == "*":
                    stars.append(node.module)
                else:
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names, stars


def full_name(name: str, imports: dict, stars=(), found_in_stars=()) -> str | None:
    """``name`` as its imports reach it (``nn.MaxPool2d`` with ``from torch import nn``:
    ``torch.nn.MaxPool2d``); a bare name from a star import when it is one of
    ``found_in_stars``; None when its first name is not imported."""
    head, _, rest = name.partition(".")
    if head in imports:
        return imports[head] + (f".{rest}" if rest else "")
    for module in stars:
        if not rest and f"{module}.{head}" in found_in_stars:
            return f"{module}.{head}"
    return None


def spatial_rank(function: str) -> int:
    """How many spatial axes a pooling call pools, from its name: ``MaxPool1d``,
    ``max_pool3d``, ``GlobalAveragePooling1D`` (1 or 3); 2 for any other name."""
    tail = function.rsplit(".", 1)[-1].lower()
    return next((n for n in (1, 3) if tail.endswith(f"{n}d")), 2)


def at_rank(layout: str, function: str) -> str:
    """``layout`` (a 2-D layout as a framework's argument names it: ``"NCHW"`` / ``"NHWC"``)
    at the rank the call's name says (``MaxPool1d``: ``"NCW"``); a layout of another rank as
    given (``"NCDHW"``)."""
    if layout in LAYOUTS_BY_RANK[2]:
        return of_rank(layout, spatial_rank(function))
    return layout


def output_size(value, spatial: int = 2):
    """An adaptive call's output_size, as written: an int or one int >= 0 (or None) per
    spatial axis, as a tuple of ``spatial`` entries."""
    def one(v):
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise PoolingError(f"call: got output_size={value!r}; allowed: an int >= 0 or "
                               f"{spatial} ints >= 0 or None")
        return v

    if isinstance(value, (list, tuple)):
        if len(value) != spatial:
            names = ", ".join(n.lower() for n in axis_names(spatial))
            raise PoolingError(f"call: got output_size={value!r}; allowed: an int or "
                               f"({names}) ({spatial}-D pooling)")
        return tuple(one(v) for v in value)
    return (one(value),) * spatial


def adaptive_or_global(native: NativeCall, args: dict, layout: str, *,
                       keepdims: bool = True, none_keeps_an_axis: bool = True) -> None:
    """An adaptive call or a global layer into ``px.adaptive_pool`` / ``px.global_pool``'s
    keywords, its mode from its name; ``layout``: the call's, as its dialect reads it (a 2-D
    name such as ``"NCHW"`` is read at the call's rank: ``AdaptiveAvgPool1d``'s ``"NCW"``);
    ``keepdims``: a global layer's default; ``none_keeps_an_axis``: whether the framework takes
    None in an output size (measured: MXNet and Keras raise).  An adaptive pooling to 1 on
    every axis is the global pooling it is (the same numbers by definition), its axes kept."""
    f = native.function
    mode = "max" if "max" in f.lower() else "avg"
    spatial = spatial_rank(f)
    layout = at_rank(layout, f) if isinstance(layout, str) else layout
    if layout not in LAYOUTS_BY_RANK[spatial]:
        first, last = LAYOUTS_BY_RANK[spatial]
        raise PoolingError(f"call: got layout {layout!r}; allowed: {first!r} or {last!r} "
                           f"(channels_first / channels_last)")
    if "Global" in f:
        native.op = GLOBAL
        native.spec = dict(mode=mode, p=2.0, keepdims=bool(args.get("keepdims", keepdims)),
                           layout=layout)
        return
    size = output_size(args["output_size"], spatial)
    if size == (1,) * spatial:
        native.op = GLOBAL
        native.spec = dict(mode=mode, p=2.0, keepdims=True, layout=layout)
        names = spatial_list(layout)
        native.notes.append(f"an adaptive pooling to {' x '.join('1' * spatial)} is global "
                            f"pooling ({names} kept)")
        return
    if not none_keeps_an_axis and None in size:
        raise PoolingError(f"call: {f}(output_size={args['output_size']!r}) raises in "
                           f"{native.framework} (measured); allowed: ints (None keeps an axis "
                           f"where the framework takes it)")
    native.op = ADAPTIVE
    native.spec = dict(output_size=size, mode=mode, layout=layout)


def is_adaptive_or_global(function: str) -> bool:
    """Whether a canonical name is an adaptive call or a global layer (read by
    ``adaptive_or_global``)."""
    return "Adaptive" in function or "adaptive" in function or "Global" in function
