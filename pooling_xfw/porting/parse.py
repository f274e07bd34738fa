"""Read a framework's own pooling call, as a user writes it, into the neutral spec.

One reader for every framework: what differs (signatures, defaults, spellings, imports, NaN
policy, pad functions) is the framework's dialect, ``adapters/<name>_dialect.py``, reached
through the registry (``Backend.dialect``; ``pooling_xfw.dialect`` says what one holds).

The text is parsed with ``ast`` (never evaluated): arguments must be literals, or names bound
earlier in the same text to literals (or to the dialect's ``CONSTANTS`` of one).  Each
framework's defaults apply.  What the neutral spec cannot hold is said, not guessed: an
explicit pad before a max pool with a constant that is not the reduction's identity
(``pad_value``), a ceil mode that keeps a window starting in the padding
(``keeps_padding_windows``), extra pad entries dropped; and refused with the reason:
other padding ops.  A max pooling that returns its indices (``return_indices``,
``return_mask``) is read with them, and with the unpooling at them that follows it
(``porting.unpooling``: the two calls as one operation).  A backend
without a dialect is a porting target only (``registry.targets_only``).

1-D, 2-D and 3-D pooling alike: the call's rank is its dialect's to read (its name, or its
window's length), and its layout says it (``"NCW"``, ``"NDHWC"``).  Adaptive and global calls
are read into ``px.adaptive_pool`` / ``px.global_pool``'s keywords (``NativeCall.op``); an
adaptive pooling to 1 on every axis is read as the global pooling it is.
"""
from __future__ import annotations

import ast
import functools

from .. import registry
from ..dialect import (NativeCall, Reader, dotted, full_name as _full_name, pair, read_imports,
                       takes_input)
from ..errors import PoolingError
from ..layout import spatial_axes, spatial_list
from ..indices import INDEX_WORDS
from ..ops import INDICES
from .unpooling import Pipeline, apply_layer, attach, read_unpool, unpooling_name

__all__ = ["NativeCall", "parse", "read_call", "read_imports", "full_name", "identify",
           "understood", "nan_policy", "tie_policy", "spellings", "other_pooling",
           "not_a_function", "readable", "check_readable", "written"]


def readable() -> tuple[str, ...]:
    """The frameworks whose calls are read: the backends with a dialect."""
    return registry.porting_sources()


def _dialect(framework: str):
    return registry.get(framework).dialect


@functools.lru_cache(maxsize=8)
def _spellings(dialects: tuple) -> dict:
    return {full: (fw, canonical) for fw, dialect in dialects
            for full, canonical in dialect.SPELLINGS.items()}


def spellings() -> dict:
    """Every spelling understood, as the full name the call's imports reach (``tf.nn.max_pool``
    with ``import tensorflow as tf`` is ``tensorflow.nn.max_pool``) -> (framework, canonical
    name)."""
    return _spellings(tuple((fw, _dialect(fw)) for fw in readable()))


def other_pooling() -> dict:
    """Pooling calls of the frameworks read that are found but not read into a spec (``scan``
    reports them as not understood), full name -> framework."""
    return {full: fw for fw in readable() for full in _dialect(fw).OTHER_POOLING}


def not_a_function() -> dict:
    """Why a call found is not read, by its full name: names that do not exist."""
    return {full: why for fw in readable() for full, why in _dialect(fw).NOT_A_FUNCTION.items()}


def understood(framework: str) -> str:
    """The spellings understood for ``framework``, as one phrase (refusals list them)."""
    by_module: dict[str, list[str]] = {}
    for full in _dialect(framework).SPELLINGS:
        if ".modules." not in full and ".src." not in full:
            module, _, name = full.rpartition(".")
            by_module.setdefault(module, []).append(name)
    return "; ".join(f"{m}.{'/'.join(names)}" for m, names in by_module.items()) + (
        " (through the imports the text or file makes)")


def full_name(name: str, imports: dict, stars=()) -> str | None:
    """``name`` as its imports reach it (``nn.MaxPool2d`` with ``from torch import nn``:
    ``torch.nn.MaxPool2d``); None when its first name is not imported."""
    return _full_name(name, imports, stars, spellings().keys() | other_pooling().keys())


def identify(name: str, imports: dict, stars=(), framework: str | None = None):
    """(framework, canonical name, full name) of a pooling call written ``name``; None when
    it is no pooling call understood.  ``framework`` given: a name no import binds is read with
    that framework's usual names (its dialect's ``DEFAULT_IMPORTS``, a bare class name)."""
    table = spellings()
    full = full_name(name, imports, stars)
    if full is None and framework is not None:
        own = _dialect(framework).SPELLINGS
        full = _full_name(name, _dialect(framework).DEFAULT_IMPORTS)
        if full is None and "." not in name:  # a bare name, imported as is
            full = next((k for k in own if k.rsplit(".", 1)[1] == name), None)
    if full is None:
        full = written(name, framework)
    if full in table:
        return (*table[full], full)
    return None


def written(name: str, framework: str | None = None) -> str | None:
    """The full name of a call written ``name`` whatever the imports (a dialect's ``WRITTEN``:
    MXNet's ``F.Pooling`` in ``hybrid_forward``), of ``framework``'s dialect or any; None."""
    frameworks = readable() if framework is None else (framework,)
    return next((getattr(_dialect(fw), "WRITTEN", {})[name] for fw in frameworks
                 if name in getattr(_dialect(fw), "WRITTEN", {})), None)


def nan_policy(native: NativeCall) -> str:
    """How the call's own max treats a NaN (measured: the conventions table), by operation
    where its dialect says so."""
    own = getattr(native.dialect, "nan_policy", None)
    return own(native) if own else native.dialect.NAN_POLICY


def tie_policy(native: NativeCall) -> str:
    """Where the call's own max/min sends the gradient of a window whose extreme is tied, as
    ``px.pool2d_grad``'s ``ties`` (measured through each framework's autograd, the call as
    written): every pooling op, adaptive and global ones included, sends it to the first
    extreme in row-major order (``"first"``) unless its dialect says otherwise."""
    own = getattr(native.dialect, "tie_policy", None)
    return own(native) if own else "first"


def _canonical(framework: str, name: str, imports: dict | None = None, stars=()) -> str:
    found = identify(name, imports or {}, stars, framework)
    if found is None or found[0] != framework:
        if found is None:  # another framework's, by its usual names?
            found = next((f for fw in readable() if fw != framework
                          for f in [identify(name, imports or {}, stars, fw)] if f), None)
        whose = f" (that is {found[0]}'s {found[2]})" if found else ""
        redirect = getattr(_dialect(framework), "redirect", None)
        if found and redirect:
            whose += redirect(found)
        full = full_name(name, imports or {}, stars) or _full_name(
            name, _dialect(framework).DEFAULT_IMPORTS)
        if full in not_a_function():
            whose = f" ({not_a_function()[full]})"
        raise PoolingError(f"call: got {name!r} for {framework}{whose}; allowed: "
                           f"{understood(framework)}")
    return found[1]


def check_readable(framework: str) -> None:
    """PoolingError unless ``framework``'s calls are read, saying why not."""
    if framework not in readable():
        why = registry.targets_only().get(framework)
        why = f" ({why})" if why else ""
        raise PoolingError(f"from: got {framework!r}{why}; allowed: {', '.join(readable())}")


def parse(framework: str, text: str | None = None, *, function: str | None = None,
          shape=None, **arguments) -> NativeCall:
    """Read ``text`` (one call, or a few statements such as the chapter's ``tf.pad`` recipe,
    optionally after the import lines that say what its prefixes are), or a call given as
    ``function`` and keyword ``arguments``:
    ``parse("pytorch", function="nn.MaxPool2d", kernel_size=3, stride=2)``.  ``shape``: the
    input's shape, needed only by a call whose window is the input (MXNet ``global_pool``)."""
    check_readable(framework)
    if text is None:
        if function is None:
            raise PoolingError("call: got neither text nor function=; allowed: one of them")
        given = [f"{k}={v!r}" for k, v in arguments.items()]  # literals, read back by ast
        if takes_input(_dialect(framework), _canonical(framework, function)):
            given.insert(0, "x")
        text = f"{function}({', '.join(given)})"
    try:
        tree = ast.parse(text.strip())
    except SyntaxError as exc:
        raise PoolingError(f"call: cannot parse {text!r} ({exc.msg}); allowed: Python call "
                           f"syntax") from None
    except (RecursionError, MemoryError):  # ast's own limit on nesting
        raise PoolingError(f"call: cannot parse {text[:60]!r}... (nested too deeply for "
                           f"Python's parser); allowed: Python call syntax") from None
    return _guarded(framework, text, lambda: _read(framework, text, tree, shape))


def _guarded(framework: str, text: str, read):
    try:
        return read()
    except PoolingError:
        raise
    except (RecursionError, MemoryError):
        raise PoolingError(f"call: cannot read {text[:60]!r}... (nested too deeply to read); "
                           f"allowed: {understood(framework)}, with literal arguments") from None
    except (IndexError, KeyError, StopIteration, TypeError, ValueError, OverflowError,
            AttributeError) as exc:
        raise PoolingError(f"call: cannot read {text!r} ({type(exc).__name__}: {exc}); "
                           f"allowed: {understood(framework)}, with literal arguments") from None


def unwrap(node, imports: dict, stars=(), framework: str | None = None):
    """A pooling expression as people write it -> (the pooling call, the divisor node or
    None), or None when ``node`` is none: a call; ``functools.partial(f, **keywords)`` (the
    function with its keywords: applied to an input later); a window sum divided,
    ``lax.reduce_window(...) / d`` (read by the dialect's ``read_divisor``)."""
    divisor = None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(
            node.left, ast.Call):
        node, divisor = node.left, node.right
    if not isinstance(node, ast.Call) or not isinstance(node.func, (ast.Name, ast.Attribute)):
        return None
    func = dotted(node.func)
    if _is_partial(func, imports, stars, framework) and node.args and isinstance(
            node.args[0], (ast.Name, ast.Attribute)) and identify(
                dotted(node.args[0]), imports, stars, framework):
        if len(node.args) > 1:
            raise PoolingError(f"call: {ast.unparse(node)!r} binds the input positionally; "
                               f"allowed: partial(f, keyword=...) applied to the input later")
        inner = ast.Call(node.args[0], [ast.Name("x", ast.Load())], node.keywords)
        return ast.copy_location(inner, node), divisor
    if identify(func, imports, stars, framework):
        return node, divisor
    return None


def _someone_elses(func: str, imports: dict, stars, framework: str) -> bool:
    """Whether ``func`` is another framework's pooling call, or a name known not to exist."""
    full = full_name(func, imports, stars) or _full_name(func,
                                                         _dialect(framework).DEFAULT_IMPORTS)
    return full in not_a_function() or any(identify(func, imports, stars, fw)
                                            for fw in readable() if fw != framework)


def _is_partial(func: str, imports: dict, stars=(), framework=None) -> bool:
    full = full_name(func, imports, stars) or (
        _full_name(func, _dialect(framework).DEFAULT_IMPORTS) if framework else None)
    return full == "functools.partial"


def read_call(call: ast.AST, imports: dict, stars=(), text: str | None = None,
              shape=None) -> NativeCall:
    """One pooling call found in a file (``scan``), read with that file's ``imports``
    (``read_imports``): its arguments must be literals; ``call`` may also be one of the forms
    ``unwrap`` reads.  PoolingError says why not."""
    text = text or ast.unparse(call)
    found = unwrap(call, imports, stars)
    if found is None:
        raise PoolingError(f"call: {ast.unparse(call)!r} is no pooling call understood")
    pool, divisor = found
    framework, function, _ = identify(dotted(pool.func), imports, stars)
    reader = Reader(_dialect(framework), imports, tuple(stars))
    return _guarded(framework, text, lambda: _native(framework, function, pool, reader, text,
                                                     divisor))


def _pad_function(reader: Reader, func: str) -> str | None:
    """How the source plan spells ``func`` when it is the dialect's pad, else None."""
    pad = getattr(reader.dialect, "PAD_FUNCTION", None)
    if pad is None:
        return None
    full, spelled = pad
    return spelled if reader.full_name(func) == full else None


def _read(framework: str, text: str, tree: ast.Module, shape=None) -> NativeCall:
    imports, stars = read_imports(tree)
    dialect = _dialect(framework)
    reader = Reader(dialect, imports, tuple(stars))
    pads, pool, layer, divisor, pad_function = None, None, None, None, ""
    pipeline = Pipeline()  # an unpooling after a pooling with indices
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue  # read above: they say what the call's prefixes are
        value = stmt.value if isinstance(stmt, (ast.Assign, ast.Expr)) else None
        target = stmt.targets[0].id if isinstance(stmt, ast.Assign) and len(
            stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) else None
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Call):
            value = value.func  # the layer applied at once: MaxPool2D(2)(x)
        func = dotted(value.func) if isinstance(value, ast.Call) and isinstance(
            value.func, (ast.Name, ast.Attribute)) else None
        found = unwrap(value, imports, stars, framework) if pool is None and value else None
        padder = func and pads is None and _pad_function(reader, func)
        unpooling = unpooling_name(reader, func)
        if found:
            (pool, divisor), layer = found, target
            pipeline.results(stmt, pool.args[0] if pool.args else None)
        elif unpooling:
            read_unpool(reader, unpooling, value, pipeline, target)
        elif padder:
            pads, pad_function = value, padder
        elif target and func in getattr(dialect, "CONSTANTS", ()) or (
                target and not isinstance(value, ast.Call) and value is not None):
            reader.names[target] = reader.literal(value)
        elif func is not None and pool is not None and func == layer:
            pipeline.results(stmt, value.args[0] if value.args else None)
            continue  # the layer applied to an input: pool2d(X)
        elif func is not None and pipeline.layer and func == pipeline.layer:
            apply_layer(reader, value, pipeline)
        else:
            if func and pool is None and _someone_elses(func, imports, stars, framework):
                _canonical(framework, func, imports, stars)  # says whose it is
            pad = getattr(dialect, "PAD_FUNCTION", None)
            raise PoolingError(
                f"call: {ast.unparse(stmt)!r} is not understood; allowed: one {framework} "
                f"pooling call ({understood(framework)}), literal bindings"
                + (f", and {pad[1]}(..., constant) before it" if pad else ""))
    if pool is None:
        raise PoolingError(f"call: no {framework} pooling call in {text!r}; allowed: "
                           f"{understood(framework)}")
    function = _canonical(framework, dotted(pool.func), imports, stars)
    native = _native(framework, function, pool, reader, text, divisor)
    if pads is not None:
        native.pad_function = pad_function
        _pad_recipe(native, pads, reader)
    if pipeline.unpool is not None:
        attach(native, pipeline)
    return native


def _native(framework: str, function: str, pool: ast.Call, reader: Reader, text: str,
            divisor=None) -> NativeCall:
    args = reader.bind(function, pool)
    argmax = _returns_argmax(function, args)
    native = NativeCall(framework, text, function, args, {}, dialect=reader.dialect)
    native.written = dotted(pool.func)
    if divisor is not None:
        read_divisor = getattr(reader.dialect, "read_divisor", None)
        if read_divisor is None:
            raise PoolingError(f"call: {ast.unparse(pool)} / ...: a division is read after a "
                               f"window sum only; allowed: the call alone")
        native.divisor = read_divisor(divisor, pool, function, reader)
    reader.dialect.to_spec(native, args)
    if argmax:  # the values and each window's argmax, numbered in its plane (y*W + x)
        if native.spec.get("mode") != "max" or not native.op.has_window:
            raise PoolingError(f"call: {function}({argmax}=True); allowed: {argmax} with a "
                               f"max pooling with a window")
        native.op = INDICES
        native.spec["indices"] = "plane"
        native.notes.append(f"{argmax}=True: it returns each window's argmax too, numbered "
                            f"y*W + x within each sample and channel (the 'plane' "
                            f"convention); every target's indices are converted to it")
    own = getattr(reader.dialect, "argmax_convention", None)
    convention = own(native, args) if own else ""
    if convention:  # a call that always returns its argmax, in its own numbering
        native.op = INDICES
        native.spec["indices"] = convention
        native.notes.append(f"it returns each window's argmax too, in the {convention!r} "
                            f"convention ({INDEX_WORDS[convention]}); every target's indices "
                            f"are converted to it in its own code")
    return native


def _returns_argmax(function: str, args: dict) -> str:
    """The argument that makes the call return each window's argmax too (``return_indices``,
    ``return_mask``) where it is True, else ""; a value that is not a bool is refused."""
    for name in ("return_indices", "return_mask"):
        value = args.get(name, False)
        if value is True:
            return name
        if value not in (False, None):
            raise PoolingError(f"call: {function}({name}={value!r}); allowed: {name}=True or "
                               f"False")
    return ""


def _pad_recipe(native: NativeCall, call: ast.Call, reader: Reader) -> None:
    """An explicit constant pad before the pooling (``tf.pad``, ``jnp.pad``): its pads become
    the spec's, and a pad value that is not the reduction's identity is said."""
    pad = native.pad_function
    params = list(reader.dialect.PAD_PARAMETERS)
    given = dict(zip(params, call.args))
    given.update({k.arg: k.value for k in call.keywords})
    widths = params[1]
    unknown = set(given) - set(params) - {"constant_values"}
    if unknown:
        raise PoolingError(f"call: {pad} got {', '.join(sorted(unknown))}; allowed: "
                           f"{', '.join(params[1:])}, constant_values")
    paddings = reader.literal(given[widths])
    mode = reader.literal(given["mode"]) if "mode" in given else "CONSTANT"
    value = reader.literal(given["constant_values"]) if "constant_values" in given else 0
    layout = native.spec.get("layout", "NHWC")
    ndim = len(layout)
    if str(mode).upper() != "CONSTANT" or not isinstance(value, (int, float)) or not (
            isinstance(paddings, (list, tuple)) and len(paddings) == ndim):
        raise PoolingError(f"call: {pad}(mode={mode!r}) with {paddings}; allowed: constant "
                           f"padding of a {ndim}-D {layout} array, each axis a (before, after) "
                           f"pair (other modes have no neutral spec)")
    if native.spec["padding"] not in ("valid", ((0, 0),) * (ndim - 2)):
        raise PoolingError(f"call: {pad} followed by a padded pooling; allowed: 'valid' after "
                           f"it")
    spatial = spatial_axes(ndim, layout)
    if any(tuple(paddings[i]) != (0, 0) for i in range(ndim) if i not in spatial):
        raise PoolingError(f"call: {pad} pads the batch or channel axis ({paddings}); allowed: "
                           f"padding of {spatial_list(layout)} only ({layout})")
    pads = tuple(tuple(pair(tuple(paddings[i]))) for i in spatial)
    native.recipe_pads = pads
    native.pad_value = float(value)
    native.spec["padding"] = pads
    identity = {"max": float("-inf"), "min": float("inf")}
    if native.spec["mode"] == "avg":
        native.spec["count_include_pad"] = True  # zeros in the sum, counted in the divisor
        if value != 0:
            native.notes.append(f"{pad} with {value}: the average counts {value} for padding, "
                                f"which no neutral spec expresses")
    elif native.spec["mode"] in identity and value != identity[native.spec["mode"]]:
        mode = native.spec["mode"]
        bound = ">=" if mode == "max" else "<="
        native.notes.append(
            f"{pad} pads with {value:g}, not {identity[mode]}: the {mode} equals the neutral "
            f"spec only where every window that reaches the padding has a {mode}imum "
            f"{bound} {value:g}" + (", e.g. on non-negative inputs when padding with 0"
                                    if mode == "max" and value == 0 else ""))
