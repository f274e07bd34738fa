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
