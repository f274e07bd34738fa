"""Text and markdown renderings of a report document: one row per case, one column per backend.

With the backward pass (``report --grad``), each backend's cell reads ``forward / backward``
(``agree / DIFFER 1``): one glance says which pass differs."""
from __future__ import annotations

from .. import ops
from ..conventions import describe_machine
from ..layout import channels_last
from ..runtime.envs import label as envs_label

_COLORS = {"agree": "32", "differ": "31", "error": "33", "unavailable": "33",
           "not compared": "2"}
EMULATED_NOTE = ("agree*: agrees, computed by an emulation (pads, masks or slices around the "
                 "framework's pooling), not one native call")


def result_cell(result: dict) -> str:
    """A backend's cell: agree (agree* when emulated), DIFFER max |diff|, ERROR, n/a, or -
    (a gradient not compared: the framework has none by design)."""
    status = result["status"]
    if status == "not compared":
        return "-"
    if status == "agree":
        return "agree" + ("*" if (result.get("how") or {}).get("path") == "emulated" else "")
    if status == "differ":  # max |diff|; NaN where a cell is NaN on one side only
        diff = result.get("max_abs_diff")
        if diff == "nan" or (isinstance(diff, float) and diff != diff):
            return "DIFFER NaN"
        return f"DIFFER {diff:.3g}" if isinstance(diff, (int, float)) else f"DIFFER {diff}"
    return "ERROR" if status == "error" else "n/a"


def grad_cell(result: dict) -> str:
    """The backward pass of a backend's cell, like the forward's: agree, DIFFER max |diff|,
    ERROR, n/a or - (not compared)."""
    return result_cell({"status": result.get("grad_status") or "unavailable",
                        "max_abs_diff": result.get("grad_max_abs_diff")})


def has_grad(doc: dict) -> bool:
    """Whether the report compared the backward pass (``report --grad``)."""
    return "grad" in doc["summary"]


def backend_cell(result: dict, grad: bool) -> str:
    """A backend's cell of the table: the forward's, and with ``grad`` `` / `` the backward's."""
    return result_cell(result) + (f" / {grad_cell(result)}" if grad else "")


#: the order in which a cell's colour is chosen: the worse of its two passes
_WORST = ("differ", "error", "unavailable", "agree", "not compared")


def cell_status(result: dict, grad: bool) -> str:
    """The status a backend's cell is coloured by: with ``grad``, the worse of both passes."""
    statuses = {result["status"]} | ({result.get("grad_status") or "unavailable"} if grad
                                     else set())
    return next(s for s in _WORST if s in statuses)


def backward_counts(counts: dict) -> str:
    """``backward: 5 agree, 0 differ, 0 error, 0 unavailable, 1 not compared`` (the last only
    where a framework has no gradient)."""
    text = (f"backward: {counts['agree']} agree, {counts['differ']} differ, {counts['error']} "
            f"error, {counts['unavailable']} unavailable")
    return text + (f", {counts['not compared']} not compared" if counts.get("not compared")
                   else "")


def grad_note(doc: dict) -> str:
    """The line that says what a ``forward / backward`` cell is, with the report's ties and
    upstream gradient (empty without the backward pass)."""
    if not has_grad(doc):
        return ""
    grads = [case["grad"] for case in doc["cases"] if case.get("grad")]
    if not grads:
        return ""
    g = grads[0]
    upstream = ("ones" if g["grad_output"] == "ones" else
                f"randn, seed {g['seed']}")
    absent = ("; -: not compared, the framework has no gradient" if doc["summary"]["grad"].get(
        "not compared") else "")
    return (f"each backend: forward / backward (its autograd's gradient with respect to the "
            f"input against the reference's: px.pool2d_grad, px.adaptive_pool2d_grad for "
            f"adaptive pooling; ties={g['ties']!r}, upstream gradient "
            f"{upstream}){absent}")


def _one_line(text: str) -> str:
    """``text`` with every control character and line separator escaped (``\\n``, ``\\x1b``):
    a name from a case file cannot break a row or send a terminal escape."""
    from ..cases import breaks_a_line

    return "".join(c.encode("unicode_escape").decode("ascii") if breaks_a_line(c) else c
                   for c in str(text))


def _markdown_cell(text: str) -> str:
    """A table cell that cannot break the table or inject markup."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            .replace(">", "&gt;"))


def _paint(text: str, status: str, color: bool) -> str:
    return f"\033[{_COLORS[status]}m{text}\033[0m" if color else text


def _count(number: int, noun: str) -> str:
    """``1 case``, ``2 cases``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def backend_label(name: str, info: dict) -> str:
    """``pytorch 2.13.0+cpu``, ``onnxruntime 1.22.1`` (of ``onnxruntime@1.22.1``): the backend
    and its framework's version (the one asked for while its worker has said none)."""
    return info.get("label") or envs_label(name, info.get("framework_version"))


def _backend_header(name: str, info: dict) -> str:
    """``pytorch 2.13.0+cpu``, and ``@ host`` for a worker on another machine."""
    label = backend_label(name, info)
    where = info.get("where")
    return f"{label} @ {info.get('host') or where}" if where and where != "this machine" else label


def op_cell(case: dict) -> str:
    """A case's operation in a few words: ``pool2d max``, ``adaptive avg (7, 7)``,
    ``adaptive max (None, 3)``, ``global avg``, ``global lp p=3 (H, W dropped)``; `` NHWC``
    after it for that layout."""
    spec = case["spec"]
    text = ops.get(case.get("op")).cell(spec)
    layout = spec.get("layout", "")
    return text + (f" {layout}" if channels_last(layout) else "")


def has_op_column(doc: dict) -> bool:
    """Whether the table says each case's operation: when some case is not a plain pool2d (or
    divides by a divisor given: ``pool2d avg /4``)."""
    return any(ops.get(case.get("op")) is not ops.DEFAULT
               or case.get("spec", {}).get("divisor") is not None for case in doc["cases"])


def is_chapter_example(case: dict) -> bool:
    """Is this report entry one of the chapter's own examples (its name, numbers and pooling),
    not a user's case that only shares a name?"""
    from .document import jsonable
    from ..cases import CHAPTER
    from ..spec import make_spec

    for example in CHAPTER:
        if example.name == case["name"]:
            return (ops.get(case.get("op")) is example.operation
                    and case["input"] == jsonable(example.input)
                    and case["expected"] == jsonable(example.expected)
                    and case["spec"] == jsonable(make_spec(**example.kwargs).kwargs()))
    return False


def expected_column(doc: dict) -> tuple[str | None, str]:
    """The title of the column that holds the reference against each case's expected output
    (None: no case gives one, no column), and its legend."""
    if all(case["expected"] is None for case in doc["cases"]):
        return None, ""
    if all(is_chapter_example(case) for case in doc["cases"]):
        return "chapter", "chapter: the reference equals the output printed in the chapter"
    chapter = any(is_chapter_example(case) for case in doc["cases"])
    legend = ("expected: the reference equals the case's expected output"
              + (" (the output printed in the chapter for its examples)" if chapter else ""))
    if any(case["expected"] is None for case in doc["cases"]):
        legend += "; -: the case gives no expected output"
    return "expected", legend


def table_note(legend: str) -> str:
    """The line under the table: the expected column's legend, then what agree* means."""
    return (legend + "; " if legend else "") + EMULATED_NOTE


def render_table(doc: dict, markdown: bool = False, verbose: bool = False,
                 color: bool = False) -> str:
    names = list(doc["backends"])
    title, legend = expected_column(doc)
    op_column = has_op_column(doc)
    grad = has_grad(doc)
    headers = ["case"] + (["op"] if op_column else []) + ([title] if title else []) + [
        _backend_header(n, doc["backends"][n]) for n in names]
    rows, statuses = [], []
    for case in doc["cases"]:
        match = case["reference_matches_expected"]
        expected = ([op_cell(case)] if op_column else []) + (
            [] if title is None else ["-" if match is None else ("ok" if match else "MISMATCH")])
        rows.append([_one_line(case["name"])] + expected
                    + [backend_cell(case["results"][n], grad) for n in names])
        statuses.append([None] * (1 + len(expected))
                        + [cell_status(case["results"][n], grad) for n in names])
    lines = [f"pooling-xfw {doc['tool_version']}: {_count(len(doc['cases']), 'case')} x "
             f"{_count(len(names), 'backend')}, reference numpy {doc['numpy_version']}", ""]
    if markdown:
        lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(_markdown_cell(c) for c in row) + " |" for row in rows]
    else:
        widths = [max(len(r[i]) for r in rows + [headers]) for i in range(len(headers))]
        lines.append("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
        for row, status in zip(rows, statuses):
            cells = [_paint(c.ljust(w), s, color) if s else c.ljust(w)
                     for c, w, s in zip(row, widths, status)]
            lines.append("  ".join(cells).rstrip())
    lines += ["", table_note(legend)]
    if grad_note(doc):
        lines.append(grad_note(doc))
    if title == "chapter":
        lines.append("the tabs as the chapter wrote them (each framework's own call, its "
                     "defaults, its padding): pooling-xfw audit-chapter")
    lines += _notes(doc, names, verbose, markdown)
    s = doc["summary"]
    mismatch = (f", {s['mismatch']} MISMATCH their expected output" if s.get("mismatch")
                else "")
    backward = s.get("grad")
    backward = f"; {backward_counts(backward)}" if backward else ""
    lines += ["", f"summary: {s['agree']} agree, {s['differ']} differ, {s['error']} error, "
                  f"{s['unavailable']} unavailable{mismatch}{backward}; exit {s['exit_code']}"]
    return "\n".join(lines) + "\n"


def _notes(doc: dict, names: list[str], verbose: bool, markdown: bool) -> list[str]:
    lines = [f"{case['name']}: MISMATCH: the reference does not match the case's expected "
             f"output ({case.get('expected_detail') or 'see the case'})"
             for case in doc["cases"] if case["reference_matches_expected"] is False]
    lines += machine_lines(doc)
    down = {n: i for n, i in doc["backends"].items() if i["status"] != "ready"}
    for name, info in down.items():
        lines.append(f"{name}: {info['status']}: {info['detail']}")
    for case in doc["cases"]:
        for name in names:
            r = case["results"][name]
            if name in down and r["status"] != "agree":
                continue
            if r["status"] != "agree" and r["detail"]:
                lines.append(f"{_one_line(case['name'])} / {name}: {r['status']}: "
                             f"{_one_line(r['detail'])}")
            grad_status = r.get("grad_status")
            if grad_status not in (None, "agree") and r.get("grad_detail") and (
                    r["grad_detail"] != r["detail"]):
                lines.append(f"{_one_line(case['name'])} / {name}: backward {grad_status}: "
                             f"{_one_line(r['grad_detail'])}")
            if verbose and r.get("how"):
                lines += _how(_one_line(case["name"]), name, r, markdown)
    return ["", *lines] if lines else []


def machine_lines(doc: dict) -> list[str]:
    """Where a column runs on another machine: every column's machine, one line each (CPU
    model, vector extension, logical CPUs, OS), so two columns of one framework show what
    differs between them."""
    columns = doc["backends"]
    if all(i.get("where") in (None, "this machine") for i in columns.values()):
        return []
    return [f"{name} runs on {describe_machine(info['machine'])}"
            for name, info in columns.items() if info.get("machine")]


def _how(case: str, backend: str, r: dict, markdown: bool) -> list[str]:
    how = r["how"]
    why = "; ".join(how["emulated_by"] + how["adaptations"])
    lines = [f"{case} / {backend}: {how['path']}, computes in {how['computes_in']}"
             + (f" ({why})" if why else "")]
    code = how["code"].splitlines()
    lines += (["```python", *code, "```"] if markdown else ["    " + l for l in code])
    for index, value, expected in (r.get("differing") or [])[:10]:
        lines.append(f"    at {tuple(index)}: {backend} {value}  reference {expected}")
    if how.get("grad_code") and r.get("grad_status") is not None:
        lines.append(f"{case} / {backend}: backward, by its autograd")
        code = how["grad_code"].splitlines()
        lines += (["```python", *code, "```"] if markdown else ["    " + l for l in code])
    for index, value, expected in (r.get("grad_differing") or [])[:10]:
        lines.append(f"    gradient at {tuple(index)}: {backend} {value}  reference {expected}")
    return lines
