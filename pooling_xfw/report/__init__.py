"""The comparison report: cases x backends, as one JSON-able document, rendered four ways.

``build(cases, backends)`` (``document``) runs every case through ``compare_many`` and returns
the document (schema ``pooling-xfw/report/1``, see ``SCHEMA_DOC``); ``build(...,
grad=GradOptions())`` compares the backward pass too.  ``render(document, fmt)`` turns it into
one of ``FORMATS``; ``write(text, path)`` (``writing``) writes atomically.
"""
from __future__ import annotations

import json

from ..errors import PoolingError

from .document import (EXIT_DIFFER, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, GRAD_OUTPUTS, SCHEMA,
                       SCHEMA_DOC, GradOptions, build, case_arguments, check_case, exit_code,
                       jsonable)
from .html import render_html
from .table import render_table
from .writing import check_writable, write

__all__ = ["build", "render", "write", "check_writable", "FORMATS", "RENDERERS", "GradOptions",
           "GRAD_OUTPUTS", "SCHEMA", "SCHEMA_DOC", "case_arguments", "check_case", "exit_code",
           "jsonable", "EXIT_OK", "EXIT_DIFFER", "EXIT_USAGE", "EXIT_UNAVAILABLE"]


def _json(doc: dict, verbose: bool, color: bool) -> str:
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"


#: each format and its renderer, ``(document, verbose, color) -> text``: a new format is its
#: module beside this one and its line here
RENDERERS = {
    "text": lambda doc, verbose, color: render_table(doc, markdown=False, verbose=verbose,
                                                     color=color),
    "markdown": lambda doc, verbose, color: render_table(doc, markdown=True, verbose=verbose,
                                                         color=color),
    "json": _json,
    "html": lambda doc, verbose, color: render_html(doc),
}
FORMATS = tuple(RENDERERS)


def render(doc: dict, fmt: str, verbose: bool = False, color: bool = False) -> str:
    """The document as text in format ``fmt``, one of ``FORMATS``.

    Args:
        doc: the report document (``build``'s).
        fmt: ``"text"``, ``"markdown"``, ``"json"`` or ``"html"``.
        verbose: text and markdown: each backend's calls and the differing positions too.
        color: text: ANSI colours for the statuses.

    Raises:
        PoolingError: an unknown ``fmt``, naming the formats.
    """
    if fmt not in RENDERERS:
        raise PoolingError(f"format: got {fmt!r}; allowed: {', '.join(FORMATS)}")
    return RENDERERS[fmt](doc, verbose, color)
