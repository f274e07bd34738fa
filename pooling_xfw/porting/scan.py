"""``scan``: every pooling call of the frameworks read (``parse.readable()``) in a file or a tree,
as a porting worklist.

Files are read with ``ast`` (never imported, never executed).  Each call is found by what its
file's own import lines make of its name (``nn`` is PyTorch's in one file and Gluon's in the
next; ``F.Pooling`` with no import is Gluon's ``hybrid_forward`` F), read into the neutral spec
like ``translate`` reads it (arguments must be literals: a variable is reported as one, not
guessed), and translated to each target with ``translate``: per target the verdict and the
code; adaptive and global calls too (``translate`` reads them), a ``partial`` of a pooling
function as that pooling, and JAX's window sum divided as the average it is; 1-D, 2-D and 3-D
pooling alike.  Calls of the frameworks' other poolings (unpooling, fractional, argmax) are
listed as not understood, with why.

The verdicts are judged for one input shape (``shape``, N, C, H, W; ``input_shape`` gives a
call of another layout the same sizes: N, H, W, C for NHWC, N, C, W for a 1-D call and
N, C, D, H, W with D = min(H, 16), a video clip's frames, for a 3-D call): the code is rendered
for it and, with ``verify``, run on it in every framework against the source call as written.
"""
from __future__ import annotations

import ast
import dataclasses
import io
import json
import os
import tokenize

from ..errors import PoolingError
from ..files import NotRegular, open_regular
from ..layout import channels_last
from .. import registry
from .parse import (full_name, not_a_function, other_pooling, read_call, read_imports, spellings,
                    written)

SCHEMA = "pooling-xfw/scan/1"
VERDICTS = ("native", "emulated", "size-dependent", "impossible")
DEFAULT_SHAPE = (1, 3, 32, 32)



def _pooling_names() -> set[str]:
    """The last name of every pooling call the frameworks have (a call whose prefix no import
    binds is reported when its name is one of these; ``pool`` alone is too common a word)."""
    return {k.rsplit(".", 1)[1] for k in {**spellings(), **other_pooling()}} - {"pool"}

_OTHER_WHY = {
    "npool": "unpooling consumes the indices of a max pool: translate it with that pooling "
             "(translate reads the two calls as one)",
    "argmax": "returns the argmax positions too, numbered differently in each framework",
    "ractional": "fractional max pooling draws random windows: no fixed spec",
}


@dataclasses.dataclass
class TargetEntry:
    verdict: str
    code: str
    reasons: list[str]
    check: str = ""
    details: list[str] = dataclasses.field(default_factory=list)  # ONNX nodes' attributes


@dataclasses.dataclass
class Entry:
    file: str  # relative to the scanned directory (the path as given for a file)
    line: int
    call: str  # the call's text as written
    framework: str | None
    function: str | None  # the full name its imports give (torch.nn.MaxPool2d)
    why: str = ""  # why it is not understood ("" when it is)
    spec: dict | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    targets: dict[str, TargetEntry] = dataclasses.field(default_factory=dict)
    source_check: str = ""

    @property
    def understood(self) -> bool:
        return not self.why

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclasses.dataclass
class Scan:
    root: str
    files: int  # the source files read
    shape: tuple
    to: list[str]
    verified: bool
    entries: list[Entry]
    #: ``.py`` names that are no source to read, each with what it is (a named pipe, a
    #: device: never opened for reading, which could block): they count for nothing
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    #: source files that could not be read (no permission, an encoding their coding line
    #: does not name, a syntax error), each with why: their calls are unknown
    unread: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return self.to or list(registry.defaults())

    def counts(self) -> dict:
        counts = {v: 0 for v in VERDICTS}
        for entry in self.entries:
            for target in entry.targets.values():
                counts[_category(target.verdict)] = counts.get(_category(target.verdict), 0) + 1
        counts["not understood"] = sum(not e.understood for e in self.entries)
        return counts

    @property
    def differs(self) -> list[Entry]:
        """Entries where a verified target (or the source as written) differs."""
        return [e for e in self.entries if any(
            c.startswith("DIFFERS") for c in [e.source_check] + [t.check for t in
                                                                 e.targets.values()])]

    @property
    def unrun(self) -> dict[str, str]:
        found = {}
        for e in self.entries:
            if e.source_check.startswith("could not run: "):
                found.setdefault(e.framework, e.source_check.split(": ", 1)[1])
            for name, t in e.targets.items():
                status, _, detail = t.check.partition(": ")
                if status in ("unavailable", "error"):
                    found.setdefault(name, detail)
        return found

    @property
    def portable(self) -> bool:
        """Every call understood, every target native or emulated, nothing verified differs."""
        counts = self.counts()
        return (counts["not understood"] == 0 and counts["size-dependent"] == 0
                and counts["impossible"] == 0 and not self.differs and not self.unread)

    def summary(self) -> str:
        c = self.counts()
        understood = sum(e.understood for e in self.entries)
        calls = f"{len(self.entries)} pooling call{'' if len(self.entries) == 1 else 's'}"
        files = f"{self.files} file{'' if self.files == 1 else 's'}"
        more = "".join(f"; {len(found)} {what}" for found, what in (
            (self.unread, f"file{'' if len(self.unread) == 1 else 's'} not read"),
            (self.skipped, f"skipped (not {'a regular file' if len(self.skipped) == 1 else 'regular files'})"))
            if found)
        return (f"{calls} in {files}: {understood} "
                f"understood, {c['not understood']} not understood; per call and target: "
                f"{c['native']} native, {c['emulated']} emulated, {c['size-dependent']} "
                f"size-dependent, {c['impossible']} impossible{more}")

    def header(self) -> str:
        how = ("verified: the source call and every target run on a random input of that "
               "shape" if self.verified else "not run (--verify runs them)")
        targets = ", ".join(self.to) or "every framework but the call's own"
        return (f"pooling-xfw scan {self.root}: targets {targets}; judged for input "
                f"{','.join(map(str, self.shape))} (N,C,H,W; N,H,W,C for an NHWC call; N,C,W "
                f"for a 1-D call, N,C,D,H,W with D = min(H, {CLIP_FRAMES}) for a 3-D call); "
                f"{how}")

    def to_text(self) -> str:
        lines = [self.header(), ""]
        for e in self.entries:
            lines.append(f"{printable(e.where)}  {e.framework or '?'}  {printable(e.call)}")
            if not e.understood:
                lines += [f"  not understood: {printable(e.why)}", ""]
                continue
            lines.append(f"  spec: {_spec_text(e.spec)}")
            lines += [f"  note: {n}" for n in e.notes]
            if e.source_check:
                lines.append(f"  source as written vs the neutral spec: {e.source_check}")
            for name, t in e.targets.items():
                why = f"  ({'; '.join(t.reasons)})" if t.reasons else ""
                check = f"  [{t.check}]" if t.check else ""
                lines.append(f"  -> {name}: {t.verdict}{why}{check}")
                lines += [f"       # {d}" for d in t.details]
                lines += [f"       {line}" for line in t.code.splitlines()]
            lines.append("")
        lines.append("summary: " + self.summary())
        lines += [f"  not understood: {printable(e.where)}: {printable(e.why)}"
                  for e in self.entries if not e.understood]
        lines += [f"  not read: {printable(file)}: {why}" for file, why in self.unread]
        lines += [f"  skipped: {printable(file)}: {why}" for file, why in self.skipped]
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        def cell(text: str) -> str:
            return (printable(str(text)).replace("&", "&amp;").replace("<", "&lt;")
                    .replace(">", "&gt;").replace("|", "\\|"))

        lines = [f"# {cell(self.header())}", "", "| where | framework | call | spec | "
                 + " | ".join(self.columns) + " |", "|---" * (4 + len(self.columns)) + "|"]
        for e in self.entries:
            spec = _spec_text(e.spec) if e.understood else f"not understood: {e.why}"
            verdicts = [cell(_verdict_cell(e.targets[n])) if n in e.targets else ""
                        for n in self.columns]
            lines.append(f"| {cell(e.where)} | {e.framework or '?'} | `{cell(e.call)}` | "
                         f"{cell(spec)} | " + " | ".join(verdicts) + " |")
        lines += ["", f"**Summary:** {cell(self.summary())}", ""]
        lines += [f"- not read: `{cell(file)}`: {cell(why)}" for file, why in self.unread]
        lines += [f"- skipped: `{cell(file)}`: {cell(why)}" for file, why in self.skipped]
        if self.unread or self.skipped:
            lines.append("")
        for e in self.entries:
            for name, t in e.targets.items():
                why = f" ({'; '.join(t.reasons)})" if t.reasons else ""
                lines += [f"### {cell(e.where)} -> {name}: {t.verdict}{cell(why)}", "",
                          "```python", t.code, "```", ""]
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps({
            "schema": SCHEMA, "root": self.root, "files": self.files, "shape": list(self.shape),
            "targets": self.to, "verified": self.verified,
            "entries": [{
                "file": e.file, "line": e.line, "call": e.call, "framework": e.framework,
                "function": e.function, "understood": e.understood, "why": e.why or None,
                "spec": _jsonable(e.spec), "notes": e.notes,
                "source_check": e.source_check or None,
                "targets": {n: dataclasses.asdict(t) for n, t in e.targets.items()},
            } for e in self.entries],
            "unread": [{"file": file, "why": why} for file, why in self.unread],
            "skipped": [{"file": file, "why": why} for file, why in self.skipped],
            "summary": self.counts()}, indent=1) + "\n"


def _verdict_cell(t: TargetEntry) -> str:
    check = "" if not t.check else " (agrees)" if t.check.startswith("agrees") else f" ({t.check})"
    return t.verdict + check


def _category(verdict: str) -> str:
    for name in VERDICTS:
        if verdict.startswith(name):
            return name
    return verdict


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _spec_text(spec: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in spec.items() if k != "p" or spec["mode"] == "lp")


# --- finding the calls ----------------------------------------------------------------------------

def printable(text: str) -> str:
    """``text`` with every character that is not printable written as its escape (a newline
    in a file's name as ``\\n``, an ESC as ``\\x1b``): a name shows as one row, and nothing
    of it reaches the terminal as a control sequence."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class _NotRead(Exception):
    """A ``.py`` name that is not read: ``counts`` when it is a source file whose calls stay
    unknown, not when it is no source (a named pipe)."""

    def __init__(self, why: str, counts: bool):
        super().__init__(why)
        self.why, self.counts = why, counts


def read_source(path: str) -> str:
    """A source file's text, decoded as Python does (its PEP 263 coding line, a BOM, else
    UTF-8); ``_NotRead`` with why for anything else.  Opened without blocking and checked to be
    a regular file before a byte is read: a named pipe or a device is never read."""
    try:
        handle = open_regular(path)
    except NotRegular as exc:
        raise _NotRead(exc.what, counts=False) from None
    except OSError as exc:
        raise _NotRead(f"cannot open it ({exc.strerror or exc})", counts=True) from None
    with handle:
        try:
            data = handle.read()
        except OSError as exc:
            raise _NotRead(f"cannot read it ({exc.strerror or exc})", counts=True) from None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        raise _NotRead(f"cannot decode it ({exc})", counts=True) from None


def python_files(path: str) -> list[str]:
    """The .py names of ``path`` (itself when not a directory), sorted; hidden and cache
    directories skipped.  What each name is (a regular file, a pipe) is ``read_source``'s to
    say, when it is read."""
    if os.path.exists(path) and not os.path.isdir(path):
        return [path]
    if not os.path.isdir(path):
        raise PoolingError(f"PATH {path}: no such file or directory; allowed: a .py file or a "
                           f"directory of them")
    found = []
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        found += [os.path.join(folder, f) for f in sorted(files) if f.endswith(".py")]
    return found


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def _other_why(full: str) -> str:
    if full in not_a_function():
        return not_a_function()[full]
    name = full.rsplit(".", 1)[1]
    for key, why in _OTHER_WHY.items():
        if key in name:
            return why
    return "a pooling translate does not read"


def bound_names(tree: ast.AST) -> dict[str, set[str]]:
    """Every name the file binds, in any scope, with what binds it: an import (the module or
    object it names), or the file itself (``"the file's own"``: a function, class, parameter,
    assignment or loop target, ``with``/``except ... as``).  A call through a name only the
    file binds (``avg_pool(x)`` of its own ``def avg_pool``, ``self.max_pool(x)``) is the
    file's, not a framework's; one bound to more than one thing reaches one or the other by the
    code's flow, which a reader of the text cannot tell."""
    names: dict[str, set[str]] = {}
    own = "the file's own"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                head = alias.asname or alias.name.split(".")[0]
                names.setdefault(head, set()).add(alias.name if alias.asname else head)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if alias.name != "*":
                    names.setdefault(alias.asname or alias.name, set()).add(
                        f"{node.module}.{alias.name}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.setdefault(node.name, set()).add(own)
        elif isinstance(node, ast.arg):
            names.setdefault(node.arg, set()).add(own)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.setdefault(node.id, set()).add(own)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.setdefault(node.name, set()).add(own)
    return names


def find_calls(source: str, file: str) -> list[Entry]:
    """Every pooling call in one file's ``source``, each read with the file's imports (or why
    not).  Raises ``SyntaxError`` for a file that does not parse."""
    tree = ast.parse(source)
    imports, stars = read_imports(tree)
    bound = bound_names(tree)
    entries = []
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    divisors = set()  # the reduce_window of ones a window sum is divided by: part of that call
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or node in divisors:
            continue
        dotted = _dotted(node.func)
        if dotted is None:
            continue
        full = full_name(dotted, imports, stars)
        found = node
        if full == "functools.partial" and node.args and _dotted(node.args[0]):
            # partial(nn.max_pool, window_shape=...): the pooling, applied later
            dotted = _dotted(node.args[0])
            full = full_name(dotted, imports, stars)
        parent = parents.get(node)
        known, others = spellings(), other_pooling()
        if full in known and isinstance(parent, ast.BinOp) and isinstance(
                parent.op, ast.Div) and parent.left is node:
            found = parent  # JAX's window sum divided: the average it is
            divisors.update(n for n in ast.walk(parent.right) if isinstance(n, ast.Call))
        text = " ".join((ast.get_source_segment(source, found) or ast.unparse(found)).split())
        text = text.replace("( ", "(").replace(" )", ")")
        if full is None:
            full = written(dotted)  # hybrid_forward(self, F, x): F.Pooling, mx.nd or mx.sym
        last = dotted.rsplit(".", 1)[-1]
        head = dotted.split(".")[0]
        if (full in known or full in others) and len(bound.get(head, ())) > 1:
            entries.append(Entry(file, node.lineno, text, None, None, why=(
                f"{head} is bound to more than one thing in this file ("
                f"{', '.join(sorted(bound[head]))}): which one this call reaches depends on "
                f"the code's flow")))
        elif full in known:
            entries.append(_understood(found, text, file, imports, stars, full))
        elif full in others:
            entries.append(Entry(file, node.lineno, text, others[full], full,
                                 why=_other_why(full)))
        elif full is None and last in _pooling_names() and head not in bound:
            owners = sorted({fw for k, (fw, _) in known.items() if k.endswith("." + last)}
                            | {fw for k, fw in others.items() if k.endswith("." + last)})
            entries.append(Entry(file, node.lineno, text, None, None,
                                 why=f"{head} is not imported in this file, so {dotted} could "
                                     f"be {' or '.join(owners)}'s"))
    entries.sort(key=lambda e: (e.line, e.call))
    return entries


def _understood(node: ast.AST, text: str, file: str, imports: dict, stars, full: str) -> Entry:
    framework = spellings()[full][0]
    entry = Entry(file, node.lineno, text, framework, full)
    try:
        read_call(node, imports, stars, text, shape=(1, 1, 1, 1))  # arguments readable?
    except PoolingError as exc:
        entry.why = str(exc).removeprefix("call: ")
    entry.node = node  # kept for the translation, with the imports that read it
    entry.imports = (imports, stars)
    return entry


def _translation_text(entry: Entry) -> str:
    """The call as ``translate`` reads it: every name its file's imports bind written by its
    full name (the pooling function, JAX's ``lax.max``, ``partial``, ``jnp.ones_like``), after
    the imports of their first modules (the file's other names do not matter: every argument
    is a literal)."""
    node = ast.parse(ast.unparse(entry.node), mode="eval").body
    imports, stars = entry.imports
    heads = []

    class Full(ast.NodeTransformer):
        def visit_Attribute(self, n):  # noqa: N802 - ast's name
            return self._full(n) or self.generic_visit(n)

        def visit_Name(self, n):  # noqa: N802 - ast's name
            return self._full(n) or n

        def _full(self, n):
            dotted = _dotted(n)
            full = dotted and full_name(dotted, imports, stars)
            if not full:
                return None
            parts = full.split(".")
            heads.append(parts[0])
            out = ast.Name(parts[0], ast.Load())
            for part in parts[1:]:
                out = ast.Attribute(out, part, ast.Load())
            return ast.copy_location(out, n)

    node = Full().visit(node)
    lines = [f"import {h}" for h in dict.fromkeys(heads)]
    return "\n".join(lines + [ast.unparse(node)])


#: the depth a 3-D call is judged at: at most 16 frames, C3D's and R(2+1)D's clip length
CLIP_FRAMES = 16


def input_shape(shape: tuple, layout: str) -> tuple:
    """The input a call of ``layout`` is judged on, from the scan's ``shape`` (N, C, H, W):
    the same sizes in the call's order; a 1-D call's axis is W, a 3-D call's depth is
    ``min(H, CLIP_FRAMES)``."""
    n, c, h, w = shape
    spatial = {1: (w,), 2: (h, w), 3: (min(h, CLIP_FRAMES), h, w)}[len(layout) - 2]
    return (n, *spatial, c) if channels_last(layout) else (n, c, *spatial)


def scan(path: str, to=None, shape=DEFAULT_SHAPE, verify: bool = False, pool=None) -> Scan:
    """Every pooling call under ``path``, read and translated to ``to`` (default: every
    framework but the call's own)."""
    from . import parse, translate

    names = [to] if isinstance(to, str) else list(to or [])
    shape = tuple(int(v) for v in shape)
    if len(shape) != 4:
        raise PoolingError(f"shape: got {shape}; allowed: N, C, H, W")
    files = python_files(path)
    root = path if os.path.isdir(path) else os.path.dirname(path) or "."
    entries, skipped, unread = [], [], []
    for file in files:
        name = os.path.relpath(file, root)
        try:
            entries += find_calls(read_source(file), name)
        except _NotRead as exc:
            (unread if exc.counts else skipped).append((name, exc.why))
        except SyntaxError as exc:
            where = f"line {exc.lineno}: " if exc.lineno else ""
            unread.append((name, f"does not parse ({where}{exc.msg}): its calls cannot be read"))
        except (RecursionError, MemoryError):  # ast's own limit on nesting
            unread.append((name, "does not parse (nested too deeply for Python's parser): its "
                                 "calls cannot be read"))
    for entry in entries:
        if entry.understood and entry.function in spellings():
            _translate_entry(entry, names, shape, verify, pool, parse, translate)
        entry.__dict__.pop("node", None)
        entry.__dict__.pop("imports", None)
    return Scan(path, len(files) - len(skipped) - len(unread), shape, names, verify, entries,
                skipped, unread)


def _translate_entry(entry: Entry, names, shape, verify, pool, parse, translate) -> None:
    text = _translation_text(entry)
    targets = names or [n for n in registry.defaults() if n != entry.framework]
    try:
        native = parse(entry.framework, text, shape=shape)
        x_shape = input_shape(shape, native.spec["layout"])
        native = parse(entry.framework, text, shape=x_shape)
        entry.spec, entry.notes = native.spec, native.notes
        result = translate(text, entry.framework, x_shape, to=targets, verify=verify, pool=pool)
    except PoolingError as exc:
        entry.why = str(exc).removeprefix("call: ").removeprefix("shape: ")
        return
    entry.source_check = result.source_check
    for name, t in result.targets.items():
        entry.targets[name] = TargetEntry(t.verdict, t.code, list(t.reasons), t.check,
                                          list(t.details))
