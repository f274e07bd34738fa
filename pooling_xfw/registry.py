"""Every backend the toolkit knows: the declarations (``pooling_xfw.backend.Backend``) collected.

The built-in ones are the modules of ``pooling_xfw.adapters`` (``adapters/`` in a checkout)
that declare ``BACKEND``: adding a framework is adding its adapter module (with its dialect
and its requirements file); nothing here names one.  A backend kept out of the tree is an
importable adapter module named in ``POOLING_XFW_ADAPTERS`` (comma-separated), or loaded in
code with ``load``; ``register`` adds a declaration made in code.  These are the only imports
by computed name, and the only place that imports adapters: shared code asks the registry
(``get``, ``defaults``, ``porting_sources``, ...).

A framework is never imported here: an adapter imports its framework lazily, in its worker.
"""
from __future__ import annotations

import dataclasses
import importlib
import os
import pkgutil

from .backend import Backend

_declared: dict[str, Backend] = {}
_discovered = False


def _adapter_modules() -> list[str]:
    """The modules of ``pooling_xfw.adapters``, its private ones (a leading ``_``) and the
    dialects (``*_dialect``) aside."""
    from . import adapters

    return [f"{adapters.__name__}.{info.name}"
            for info in pkgutil.iter_modules(adapters.__path__)
            if not info.name.startswith("_") and not info.name.endswith("_dialect")]


#: adapter modules outside the tree to load with the built-in ones, comma-separated
ADAPTERS_VARIABLE = "POOLING_XFW_ADAPTERS"


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True  # first: a module being loaded may ask the registry
    extra = [m.strip() for m in os.environ.get(ADAPTERS_VARIABLE, "").split(",") if m.strip()]
    for name in _adapter_modules() + extra:
        load(name)


def load(module: str) -> Backend:
    """Import the adapter module ``module`` (dotted name), which declares ``BACKEND``, and
    register that backend, its ``adapter`` that module; returns it."""
    imported = importlib.import_module(module)
    declared = getattr(imported, "BACKEND", None)
    if not isinstance(declared, Backend):
        raise TypeError(f"{module} declares no BACKEND (a pooling_xfw.backend.Backend)")
    if declared.adapter is None:
        declared = dataclasses.replace(declared, adapter=imported)
        imported.BACKEND = declared
    return register(declared)


def register(backend: Backend) -> Backend:
    """Add ``backend`` (replacing one of the same name); returns it.  Its adapter's vocabulary
    must carry its name (the plans it renders are labelled with it), and it has a dialect
    (the porting assistant reads its users' calls) or says why it is a target only."""
    if backend.adapter is None or getattr(backend.vocabulary, "name", None) != backend.name:
        raise TypeError(f"backend {backend.name!r}: its adapter's VOCABULARY.name must be "
                        f"{backend.name!r}")
    if (backend.dialect is None) == (not backend.target_only):
        raise TypeError(f"backend {backend.name!r}: a dialect, or target_only saying why it "
                        f"has none (not both)")
    _declared[backend.name] = backend
    return backend


def unregister(name: str) -> None:
    """Forget a backend registered by ``register`` or ``load`` (a test double, when done)."""
    _declared.pop(name, None)


def backends() -> tuple[Backend, ...]:
    """Every backend known, in column order."""
    _discover()
    return tuple(sorted(_declared.values(), key=lambda b: (b.position, b.name)))


def names() -> tuple[str, ...]:
    """Every backend's name, in column order."""
    return tuple(b.name for b in backends())


def defaults() -> tuple[str, ...]:
    """The backends a command runs when none are named: a column each."""
    return tuple(b.name for b in backends() if b.default)


def porting_sources() -> tuple[str, ...]:
    """The backends whose own pooling calls the porting assistant reads."""
    return tuple(b.name for b in backends() if b.porting_source)


def targets_only() -> dict[str, str]:
    """The backends that are porting targets only, each with why."""
    return {b.name: b.target_only for b in backends() if not b.porting_source}


def quiet_environment() -> dict[str, str]:
    """Every backend's log noise off (``Backend.environment``), for a process that may import
    any of them."""
    return {k: v for b in backends() for k, v in b.environment.items()}


def aliases() -> dict[str, str]:
    """The names people type for a backend (``torch``), each with the backend's."""
    return {alias: b.name for b in backends() for alias in b.aliases}


def get(name: str) -> Backend:
    """The declaration of ``name`` (``pytorch``, or ``pytorch@2.5.1`` or ``pytorch:gpu-box``:
    its framework's); ``KeyError`` when no backend has that name."""
    framework = name.partition(":")[0].partition("@")[0]
    if framework not in _declared:
        _discover()
    return _declared[framework]


def known(name: str) -> bool:
    """Whether a backend (its framework, for ``BACKEND@VERSION``) has that name."""
    try:
        get(name)
    except KeyError:
        return False
    return True


def markdown() -> str:
    """Every backend's declaration as a markdown table (the docs' backends page)."""
    lines = ["| backend | module | pins | runs by default | porting | names people type | "
             "known outcomes |", "|---|---|---|---|---|---|---|"]
    for b in backends():
        porting = "source and target" if b.porting_source else f"target only: {b.target_only}"
        lines.append(f"| {b.name} ({b.title}) | `{b.module}` | `{b.requirements.name}` "
                     f"({', '.join(b.packages)}) | {'yes' if b.default else 'no'} | {porting} | "
                     f"{', '.join(b.aliases) or '-'} | {len(b.known)} situations |")
    return "\n".join(lines) + "\n"
