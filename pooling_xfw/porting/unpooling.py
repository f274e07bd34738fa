"""Reading the unpooling that follows a max pooling with indices, as SegNet writes the pair::

    y, i = F.max_pool2d(x, 2, return_indices=True)      # or pool = nn.MaxPool2d(2, ...)
    out = F.max_unpool2d(y, i, 2)                        # or unpool = nn.MaxUnpool2d(2)
                                                         #    out = unpool(y, i)

The two calls are read as one operation, ``ops.POOL_UNPOOL``: its outputs the unpooled array and
the indices (``y`` itself is in the unpooled array).  The unpooling must invert that pooling:
its values and indices are the pooling's, its window, stride and padding the pooling's (its
default output size is computed from them); its output size is its default or the pooled
input's own (``output_size=x.shape[2:]``, ``x.size()``, ``x.shape``), which every target reads
from the input when its code runs.  What else it could be (a literal size, another pooling's
indices) is refused, naming the argument and what is read.
"""
from __future__ import annotations

import ast
import dataclasses

from ..dialect import NativeCall, Reader, UnpoolCall, dotted
from ..errors import PoolingError
from ..ops import INDICES, POOL_UNPOOL
from ..plan import Expr
from ..spec import make_spec

#: how a pooled input's own size is written, as the unpooling's output size
_INPUT_SIZE = "x.shape, x.shape[2:], x.size(), x.size()[2:] or list(...) of one of them"


@dataclasses.dataclass
class Pipeline:
    """What the statements read so far name: the pooled input, the pooling's two results, and
    the unpooling (its layer's name, until it is applied)."""

    input: str = "x"
    values: str = ""
    indices: str = ""
    layer: str = ""  # the unpooling layer's name, bound in the text
    unpool: UnpoolCall | None = None
    applied: bool = False

    def results(self, stmt: ast.stmt, input_node) -> None:
        """``y, i = ...``: the names the pooling's pair is unpacked into, and its input."""
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Tuple):
            names = [e.id for e in stmt.targets[0].elts if isinstance(e, ast.Name)]
            if len(names) == 2 == len(stmt.targets[0].elts):
                self.values, self.indices = names
        if isinstance(input_node, ast.Name):
            self.input = input_node.id


def unpooling_name(reader: Reader, func: str | None) -> str | None:
    """The canonical name of the dialect's unpooling written ``func``, else None."""
    if func is None:
        return None
    return getattr(reader.dialect, "UNPOOLING", {}).get(reader.full_name(func))


def read_unpool(reader: Reader, function: str, call: ast.Call, pipeline: Pipeline,
                target: str | None) -> None:
    """The unpooling call (a functional given the pooling's results, or a layer built) into
    ``pipeline``."""
    if pipeline.unpool is not None:
        raise PoolingError(f"call: a second unpooling {ast.unparse(call)!r}; allowed: one "
                           f"unpooling after the pooling")
    params, defaults, functional = reader.dialect.UNPOOL_SIGNATURES[function]
    if functional:
        if len(call.args) < 2:
            raise PoolingError(f"call: {function} needs the pooling's values and indices first; "
                               f"got {ast.unparse(call)!r}")
        _check_results(function, call.args[:2], pipeline)
        call = ast.Call(call.func, call.args[2:], call.keywords)
    arguments, size = _bind(reader, function, call, params, defaults)
    pipeline.unpool = UnpoolCall(function, arguments, written=dotted(call.func),
                                 functional=functional)
    pipeline.applied = functional
    pipeline.layer = "" if functional else (target or "")
    if size is not None:
        pipeline.unpool.arguments["output_size"] = size


def apply_layer(reader: Reader, call: ast.Call, pipeline: Pipeline) -> None:
    """``unpool(y, i, ...)``: the unpooling layer applied to the pooling's results."""
    function = pipeline.unpool.function
    if len(call.args) < 2:
        raise PoolingError(f"call: {pipeline.layer}(...) needs the pooling's values and indices; "
                           f"got {ast.unparse(call)!r}")
    _check_results(function, call.args[:2], pipeline)
    params = reader.dialect.UNPOOL_APPLIED
    rest = ast.Call(call.func, call.args[2:], call.keywords)
    applied, size = _bind(reader, function, rest, params, (None,) * len(params.split()))
    if size is not None:
        applied["output_size"] = size
    pipeline.unpool.applied = applied
    pipeline.applied = True


def _check_results(function: str, given, pipeline: Pipeline) -> None:
    names = [dotted(node) if isinstance(node, (ast.Name, ast.Attribute)) else ast.unparse(node)
             for node in given]
    if not pipeline.values:
        raise PoolingError(f"call: {function}({', '.join(names)}): the pooling's results are "
                           f"not named; allowed: values, indices = <the pooling>(x, ..., "
                           f"return_indices=True) before it")
    if names != [pipeline.values, pipeline.indices]:
        raise PoolingError(f"call: {function}({', '.join(names)}); allowed: the pooling's own "
                           f"{pipeline.values}, {pipeline.indices}, in that order")


def _bind(reader: Reader, function: str, call: ast.Call, params: str, defaults
          ) -> tuple[dict, str | None]:
    """The call's arguments as literals, its output size read apart: None where it is not
    given, "default" where it is None, "input" where it is the pooled input's size."""
    size_node = next((k.value for k in call.keywords if k.arg == "output_size"), None)
    names = params.split()
    if size_node is None and "output_size" in names and len(call.args) > names.index(
            "output_size"):
        size_node = call.args[names.index("output_size")]
        call = ast.Call(call.func, call.args[:names.index("output_size")], call.keywords)
    keywords = [k for k in call.keywords if k.arg != "output_size"]
    args = reader.bind(function, ast.Call(call.func, call.args, keywords),
                       (params, defaults)) if params else {}
    if call.args and not params:
        raise PoolingError(f"call: {function} applied with {ast.unparse(call.args[0])!r}; "
                           f"allowed: the values and indices only")
    return args, None if size_node is None else _output_size(function, size_node)


def _output_size(function: str, node) -> str:
    """``"default"`` for None, ``"input"`` for the pooled input's own size."""
    if isinstance(node, ast.Constant) and node.value is None:
        return "default"
    inner = node
    if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id in (
            "list", "tuple") and len(inner.args) == 1:
        inner = inner.args[0]
    if isinstance(inner, ast.Subscript) and isinstance(inner.slice, ast.Slice):
        inner = inner.value
    if isinstance(inner, ast.Call) and not inner.args and isinstance(inner.func, ast.Attribute) \
            and inner.func.attr == "size":
        inner = inner.func
    if isinstance(inner, ast.Attribute) and inner.attr in ("shape", "size") and isinstance(
            inner.value, ast.Name):
        return "input:" + inner.value.id
    raise PoolingError(f"call: {function}(output_size={ast.unparse(node)}); allowed: None (its "
                       f"default) or the pooled input's size ({_INPUT_SIZE}): a literal size "
                       f"holds at one input size only")


def attach(native: NativeCall, pipeline: Pipeline) -> None:
    """The pooling with indices ``native`` and its unpooling read as one operation
    (``ops.POOL_UNPOOL``), its arguments checked against the pooling's."""
    call = pipeline.unpool
    if not pipeline.applied:
        raise PoolingError(f"call: the unpooling layer {pipeline.layer or call.function} is "
                           f"never applied; allowed: {pipeline.layer or 'it'}(values, indices)")
    if native.op is not INDICES:
        raise PoolingError(f"call: {call.function} after {native.function} without its "
                           f"indices; allowed: a max pooling with return_indices=True "
                           f"(return_mask=True) before it")
    spec = native.spec
    kernel = call.arguments["kernel_size"]
    own = make_spec(kernel, "max", stride=call.arguments.get("stride") or kernel,
                    padding=call.arguments.get("padding", 0), layout=spec["layout"])
    pooled = make_spec(spec["pool_size"], "max", stride=spec["stride"], padding=spec["padding"],
                       layout=spec["layout"])
    if (own.pool_size, own.stride, own.padding) != (pooled.pool_size, pooled.stride,
                                                    pooled.padding):
        raise PoolingError(f"call: {call.written}(kernel_size={own.pool_size}, stride="
                           f"{own.stride}, padding={own.padding}); allowed: the pooling's own "
                           f"kernel_size {pooled.pool_size}, stride {pooled.stride} and padding "
                           f"{pooled.padding} (the unpooling inverts that pooling)")
    size = call.applied.get("output_size", call.arguments.get("output_size", "default"))
    if size.startswith("input:"):
        if size != f"input:{pipeline.input}":
            raise PoolingError(f"call: {call.function}(output_size=<{size[6:]}'s size>); "
                               f"allowed: None or the pooled input {pipeline.input}'s size "
                               f"({_INPUT_SIZE.replace('x.', pipeline.input + '.')})")
        size = "input"
    layout = spec["layout"]
    whole = [Expr.dim("x", axis) for axis in range(len(layout))]
    for where in (call.arguments, call.applied):
        if "output_size" in where:  # as the source runs it: the input's whole shape, or None
            where["output_size"] = whole if size == "input" else None
    spec.pop("indices", None)
    spec["unpooled"] = size
    native.op, native.unpool = POOL_UNPOOL, call
    native.notes.append(
        f"{call.written} at the pooling's indices: read as one operation, its outputs the "
        f"unpooled array and the indices; unpooled to " + (
            f"the input's size ({pipeline.input}'s)" if size == "input" else
            "its default size, (out - 1)*stride - 2*padding + kernel per axis: each index is a "
            "position in that plane, so at sizes with cells past the last window's (5x5 with "
            "a 2x2 window) an argmax may fall outside it, an index the unpooling has no cell "
            "for, and the spec is not defined there; output_size=x.shape holds at every "
            "size"))


