"""The shape of the code: shared code names no framework, and each framework is declared once.

A framework's facts (its name, module, packages, aliases, dialect, known behaviours) live in
its adapter's ``BACKEND`` declaration and its dialect (``adapters/<name>.py``,
``adapters/<name>_dialect.py``); everything in ``pooling_xfw/`` asks the registry.  These
tests read the sources, run nothing.
"""
import ast
import re
from pathlib import Path

import pytest

import pooling_xfw
from pooling_xfw import registry
from pooling_xfw.backend import CONVENTIONS, GRADIENT_ERROR

PACKAGE = Path(pooling_xfw.__file__).resolve().parent
#: modules whose framework names are data: the chapter's own tabs, as the book prints them
DATA = {"porting/chapter.py": "the d2l chapter's tabs, each as its framework's code"}


def _framework_names() -> set[str]:
    """Every name a framework goes by: the backend's, its title, module, packages and the
    aliases long enough not to be ordinary words (``keras``, ``torch``; not ``tf``, ``pt``)."""
    names = set()
    for b in registry.backends():
        names |= {b.name, b.title, b.module, *b.packages}
        names |= {alias for alias in b.aliases if len(alias) >= 4}
    return {n.lower() for n in names}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _literals_naming_a_framework(path: Path) -> list[str]:
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(
        _framework_names(), key=len, reverse=True))) + r")(?![\w-])", re.IGNORECASE)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    return [f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value[:70]!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in skip and pattern.search(node.value)]


def test_the_framework_names_are_what_the_registry_declares():
    assert {"pytorch", "torch", "tensorflow", "keras", "onnx runtime"} <= _framework_names()


def test_shared_code_names_no_framework_in_a_string():
    """Outside the adapters and their dialects, no string literal (docstrings aside) names a
    framework, except where it is data: shared code asks the registry instead."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).as_posix() not in DATA:
            found += _literals_naming_a_framework(path)
    assert not found, "\n".join(found)


def test_the_data_modules_allowed_to_name_frameworks_exist_and_do():
    for name in DATA:
        assert _literals_naming_a_framework(PACKAGE / name), name


def test_a_string_naming_a_framework_is_caught(tmp_path, monkeypatch):
    """The check itself: a literal naming a framework, in any case, is found; a docstring or a
    word that merely contains a name (``--save-onnx``'s flag text aside) is not."""
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path)
    module = tmp_path / "shared.py"
    module.write_text('"""Docstrings may say PyTorch."""\n'
                      'A = "runs on pytorch"\nB = f"{A} and TensorFlow"\nC = "torchvision"\n')
    assert [line.split(": ", 1)[0] for line in _literals_naming_a_framework(module)] == [
        "shared.py:2", "shared.py:3"]


# --- each framework declared once ----------------------------------------------------------------

@pytest.mark.parametrize("backend", registry.names())
def test_each_backend_is_declared_beside_its_adapter(backend):
    declared = registry.get(backend)
    assert declared.adapter.BACKEND is declared
    assert declared.vocabulary.name == backend
    assert declared.requirements.is_file(), declared.requirements
    assert declared.requirements.parent == Path(declared.adapter.__file__).resolve().parent / (
        "requirements")
    if declared.porting_source:
        assert declared.dialect.__name__ == f"{declared.adapter.__name__}_dialect"
    else:
        assert declared.dialect is None and declared.target_only


def test_the_known_behaviours_name_rows_that_exist():
    """A conventions row a backend records outcomes for is a row of the table."""
    from pooling_xfw.conventions import PROBES

    rows = {p.name for p in PROBES}
    for b in registry.backends():
        for situation in b.known:
            if situation[0] in (CONVENTIONS, GRADIENT_ERROR):
                assert situation[1] in rows, (b.name, situation)
        assert all(outcomes.seen for outcomes in b.known.values()), b.name


# --- files by job, imports you can read -----------------------------------------------------------

#: the layers, lowest first: a module imports from its own layer or a lower one, never a higher
#: one (names are modules or packages under ``pooling_xfw``; ``""`` is the package's own facade)
LAYERS = {
    "foundations": ("errors", "version", "files", "textbook", "_checkout", "backend", "registry",
                    "plan", "layout", "arguments", "spec", "cost"),
    "reference": ("reference", "adaptive", "gradient", "adaptive_gradient", "indices"),
    "planning": ("vocabulary", "emulation", "planner", "argmax_plan", "ops", "adapter", "mirror",
                 "dialect",
                 "blocks"),
    "runtime": ("runtime",),
    "comparison": ("judge", "diagnose", "argmax_diagnosis", "schedule", "compare", "cases", "probes", "conventions"),
    "tools": ("report", "porting", "fuzz"),
    "front": ("cli", "__main__", ""),
}
#: the longest a module may be: one job per module
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name relative to it (``runtime.envs``; the
    package's own ``__init__`` is ``""``)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path, modules) -> set[str]:
    """The package's modules ``name`` imports, at the top or inside a function alike (the
    adapters aside: the registry loads them, by design)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    package = [p for p in package if p]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
            elif (node.module or "").split(".")[0] == "pooling_xfw":
                base = []
                node = ast.ImportFrom(module=node.module.partition(".")[2] or None,
                                      names=node.names, level=1)
            else:
                continue
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{target}.{alias.name}" if target else alias.name
                if full != "adapters":  # the adapters: loaded by the registry, by design
                    found.add(full if full in modules else target)
        elif isinstance(node, ast.Import):
            found |= {a.name.partition(".")[2] for a in node.names
                      if a.name.startswith("pooling_xfw.")}
    return {m for m in found - {name} if m in modules}


def _layer(name: str) -> int:
    for index, members in enumerate(LAYERS.values()):
        if name in members or name.split(".")[0] in members:
            return index
    raise AssertionError(f"{name}: in no layer of LAYERS")


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_every_module_is_in_a_layer_and_imports_none_above_it():
    graph = _graph()
    upward = [f"{m or 'pooling_xfw'} ({list(LAYERS)[_layer(m)]}) imports {t} "
              f"({list(LAYERS)[_layer(t)]})"
              for m, targets in graph.items() for t in sorted(targets) if _layer(t) > _layer(m)]
    assert not upward, "\n".join(upward)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_even_through_a_function_level_import():
    assert not _cycles(_graph())


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_import_reader_sees_relative_absolute_and_function_level_imports(tmp_path):
    module = tmp_path / "probe.py"
    module.write_text("from ..spec import resolve\nfrom pooling_xfw.runtime import envs\n"
                      "from .args import usage_error\n"
                      "def f():\n    from ..report import document\n    import pooling_xfw.ops\n")
    assert _imports("cli.probe", module, _modules() | {"cli.probe": module}) == {
        "spec", "runtime.envs", "cli.args", "report.document", "ops"}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")) + sorted(
    (PACKAGE.parent / "adapters").glob("*.py")), ids=lambda p: p.relative_to(p.parents[1]).as_posix())
def test_no_module_runs_past_its_one_job(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{lines} lines"


def test_modules_are_imported_by_name_not_computed_outside_the_registry():
    """Only the registry imports by computed name (the adapters and dialects, from its table
    in plain sight); everywhere else an import says what it imports."""
    computed = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and (
                    getattr(node.func, "attr", None) == "import_module"
                    or getattr(node.func, "id", None) in ("import_module", "__import__")):
                computed.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not computed, computed


def test_every_package_is_shipped():
    """pyproject's packages list every package of the tree (a new one left out would be missing
    from an install)."""
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"][
        "setuptools"]["packages"])
    on_disk = {".".join(("pooling_xfw",) + p.parent.relative_to(PACKAGE).parts).rstrip(".")
               for p in PACKAGE.rglob("__init__.py")}
    assert on_disk <= listed, on_disk - listed
