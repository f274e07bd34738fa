"""The comparison report: cases x backends, as one JSON-able document, rendered four ways.

``build(cases, backends)`` runs every case through ``px.compare`` and returns the document
(schema ``pooling-xfw/report/1``, see ``SCHEMA``); ``render(document, fmt)`` turns it into
text, markdown, json or html; ``write(text, path)`` writes atomically.
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .. import __version__
from ..cases import Case
from ..compare import compare_many
from ..errors import PoolingError
from ..reference import as_input
from ..spec import make_spec, resolve
from ..runtime.client import WorkerFailure, default_pool
from ..runtime.envs import BACKENDS

SCHEMA = "pooling-xfw/report/1"
FORMATS = ("text", "markdown", "json", "html")
EXIT_OK, EXIT_DIFFER, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3

SCHEMA_DOC = """\
{
  "schema": "pooling-xfw/report/1",
  "tool_version": str, "numpy_version": str,
  "backends": {name: {"status": "ready"|"unavailable"|"error", "framework_version": str|null,
                      "numpy_version": str|null, "python": str|null, "host": str|null,
                      "where": str|null, "detail": str}},
  "cases": [{"name": str, "title": str,
             "spec": {pool2d keyword arguments: pool_size, mode, stride, padding, dilation,
                      ceil_mode, count_include_pad, layout, p},
             "input": array, "reference": array, "expected": array|null,
             "reference_matches_expected": bool|null,
             "results": {name: {"status": "agree"|"differ"|"error"|"unavailable",
                                "max_abs_diff": number|null, "output": array|null,
                                "detail": str,
                                "how": {"path": "native"|"emulated", "emulated_by": [str],
                                        "adaptations": [str], "computes_in": str,
                                        "calls": [str], "code": str}|null,
                                "differing": [[index, value, reference], ...]|null}}}],
  "summary": {"agree": int, "differ": int, "error": int, "unavailable": int, "exit_code": int}
}
Arrays are nested lists; non-finite numbers are the strings "nan", "inf" and "-inf"."""


def jsonable(value):
    """Arrays to nested lists, non-finite floats to "nan" / "inf" / "-inf" (strict JSON)."""
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.generic,)):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def exit_code(counts: dict) -> int:
    """1 when any backend differs; else 3 when any could not run; else 0."""
    if counts["differ"]:
        return EXIT_DIFFER
    if counts["error"] or counts["unavailable"]:
        return EXIT_UNAVAILABLE
    return EXIT_OK


def build(cases: Iterable[Case], backends: Iterable[str] = BACKENDS, pool=None,
          progress: Callable[[str], None] | None = None) -> dict:
    """Run every case on every backend; the report document (see ``SCHEMA_DOC``)."""
    cases = list(cases)
    for case in cases:  # every argument checked before any worker starts (nothing computed)
        try:
            resolve(make_spec(**case.kwargs), as_input(case.input).shape)
        except TypeError as exc:  # a case file's kwargs that pool2d does not take
            raise PoolingError(f"case {case.name!r}: {exc}; allowed: px.pool2d's keyword "
                               f"arguments") from None
    pool = pool or default_pool()
    names = list(backends)
    hellos = pool.start(names, progress=progress)
    doc = {"schema": SCHEMA, "tool_version": __version__, "numpy_version": np.__version__,
           "backends": {name: _backend_entry(hellos[name]) for name in names}, "cases": []}
    counts = dict.fromkeys(("agree", "differ", "error", "unavailable"), 0)
    comparisons = compare_many([dict(case.kwargs, X=case.input) for case in cases],
                               backends=names, pool=pool)
    for case, result in zip(cases, comparisons):
        expected = case.expected
        entry = {"name": case.name, "title": case.title, "spec": result.spec,
                 "input": case.input, "reference": result.reference, "expected": expected,
                 "reference_matches_expected": None if expected is None else bool(
                     expected.shape == result.reference.shape
                     and np.array_equal(expected, result.reference, equal_nan=True)),
                 "results": {}}
        for name, r in result.results.items():
            counts[r.status] += 1
            entry["results"][name] = {"status": r.status, "max_abs_diff": r.max_abs_diff,
                                      "output": r.output, "detail": r.detail, "how": r.how,
                                      "differing": r.differing}
        doc["cases"].append(entry)
    doc["summary"] = {**counts, "exit_code": exit_code(counts)}
    return jsonable(doc)


def _backend_entry(hello) -> dict:
    """What the report says of one backend's worker: versions and where it runs, or why not."""
    if isinstance(hello, WorkerFailure):
        return {"status": hello.status, "framework_version": None, "numpy_version": None,
                "python": None, "host": None, "where": None, "detail": hello.reason}
    return {"status": "ready", "framework_version": hello.framework_version,
            "numpy_version": hello.numpy_version, "python": hello.python, "host": hello.host,
            "where": hello.where, "detail": ""}


def render(doc: dict, fmt: str, verbose: bool = False, color: bool = False) -> str:
    if fmt == "json":
        import json

        return json.dumps(doc, indent=1, allow_nan=False) + "\n"
    if fmt == "html":
        from .html import render_html

        return render_html(doc)
    from .table import render_table

    return render_table(doc, markdown=fmt == "markdown", verbose=verbose, color=color)


def check_writable(path: str | os.PathLike) -> Path:
    """``path`` as a file we can write atomically (checked before any work is done)."""
    target = Path(path).absolute()
    problem = ("is a directory" if target.is_dir() else
               "its directory does not exist" if not target.parent.is_dir() else
               "its directory is not writable" if not os.access(target.parent, os.W_OK) else "")
    if problem:
        raise PoolingError(f"--output: cannot write {str(path)!r} ({problem}); allowed: a file "
                           f"in an existing, writable directory")
    return target


def write(text: str, path: str | os.PathLike) -> None:
    """Write ``text`` to ``path`` atomically: a reader sees the old file or the whole new one."""
    target = check_writable(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
