"""Known broken ports of adaptive pooling found in the wild, for ``explain``.

A recipe is named, not parsed: ``explain(call, frm, "tfa-split", "recipe")`` compares the
adaptive (or global) call with the recipe applied to the same output size, mode and layout,
says for which input sizes the recipe gives the call's numbers and why not elsewhere, and (with
``verify``) runs the recipe in its framework on the smallest size where it breaks and on one
where it holds.  Each recipe is declared in the dialect of the framework it was written for
(``RECIPES``, ``pooling_xfw.dialect.Recipe``); this module collects them.
"""
from __future__ import annotations

import dataclasses

from .. import registry
from ..dialect import Recipe
from ..errors import PoolingError
from ..plan import Plan

#: sizes judged per axis
LIMIT = 24


def recipes() -> dict[str, Recipe]:
    """Every recipe the dialects declare, by name, each with the backend it runs in (none for
    a recipe documented, not run)."""
    found = {}
    for backend in registry.backends():
        for name, r in getattr(backend.dialect, "RECIPES", {}).items():
            found[name] = dataclasses.replace(r, framework=backend.name if r.plan else None)
    return found


def recipe(name: str) -> Recipe:
    known = recipes()
    if name not in known:
        raise PoolingError(f"call: got recipe {name!r}; allowed: {', '.join(known)}")
    return known[name]


def recipe_plan(r: Recipe, output_size: tuple, mode: str, layout: str, shape: tuple) -> Plan:
    """The recipe as its framework runs it on a 4-D input of ``shape`` (in ``layout``)."""
    return r.plan(tuple(output_size), mode, layout, tuple(shape))
