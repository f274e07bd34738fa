"""What a campaign writes to its folder: ``cases.json`` (each cluster's minimal case, which
``pooling-xfw report --cases`` replays) and the summary, one row per cluster with its count,
its minimal case, the outputs side by side and its cause or "unexplained", as text, markdown,
JSON (strict: NaN and infinities written as strings) and HTML.  ``cases.json`` writes its
inputs' NaN and infinities as Python's ``json`` does (``NaN``, ``Infinity``), which the case
files ``report --cases`` reads take."""
from __future__ import annotations

import html
import json
from pathlib import Path

from ..conventions import describe_machine

#: the files ``write`` makes
FILES = ("cases.json", "summary.txt", "summary.md", "summary.json", "summary.html")


def write(campaign, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = _rows(campaign)
    cases = []
    for row, cluster in zip(rows, _ordered(campaign)):
        case = dict(cluster.minimal, name=row["case"])
        case["kwargs"] = {k: v for k, v in case["kwargs"].items() if k != "grad"}  # --grad's
        cases.append({k: case[k] for k in ("name", "op", "dtype", "input", "kwargs")})
    (folder / "cases.json").write_text(json.dumps(cases), encoding="utf-8")
    summary = {"seed": campaign.seed, "grad": campaign.grad, "backends": campaign.backends,
               "operations": list(campaign.operations), "cases": len(campaign.done),
               "clusters": len(rows), "unexplained": sum(not r["explained"] for r in rows),
               "could_not_run": campaign.unrun, "stopped": campaign.stopped,
               "machines": {name: describe_machine(campaign.machines[name])
                            for name in campaign.backends if campaign.machines.get(name)},
               "rows": rows}
    (folder / "summary.json").write_text(json.dumps(summary, indent=1, allow_nan=False),
                                         encoding="utf-8")
    (folder / "summary.txt").write_text(_text(summary), encoding="utf-8")
    (folder / "summary.md").write_text(_markdown(summary), encoding="utf-8")
    (folder / "summary.html").write_text(_html(summary), encoding="utf-8")


def _ordered(campaign) -> list:
    """Unexplained clusters first, then by how many cases show them."""
    return sorted(campaign.clusters.values(),
                  key=lambda c: (c.explained, -len(c.cases), c.backend, c.signature))


def _rows(campaign) -> list[dict]:
    rows = []
    for number, cluster in enumerate(_ordered(campaign), 1):
        minimal = cluster.minimal
        rows.append({"cluster": number, "backend": cluster.backend, "status": cluster.status,
                     "explained": cluster.explained,
                     "cause": cluster.signature if cluster.explained else "unexplained",
                     "signature": cluster.signature, "count": len(cluster.cases),
                     "first": cluster.cases[0], "case": f"cluster-{number}-{cluster.backend}",
                     "op": minimal["op"], "shape": minimal["shape"], "dtype": minimal["dtype"],
                     "kwargs": minimal["kwargs"], "detail": cluster.detail,
                     "outputs": cluster.outputs})
    return rows


def _headline(summary: dict) -> str:
    line = (f"fuzz seed {summary['seed']}{' (forward and backward)' if summary['grad'] else ''}"
            f": {summary['cases']} cases on "
            f"{', '.join(summary['backends'])}; {summary['clusters']} clusters, "
            f"{summary['unexplained']} unexplained")
    if summary["could_not_run"]:
        line += "; could not run: " + "; ".join(f"{b} ({why})" for b, why in
                                                summary["could_not_run"].items())
    return line + (f"; {summary['stopped']}" if summary["stopped"] else "")


def _case_words(row: dict) -> str:
    kwargs = ", ".join(f"{k}={v!r}" for k, v in row["kwargs"].items())
    return f"{row['op']} {row['dtype']} {tuple(row['shape'])} {kwargs}"


def _machine_lines(summary: dict) -> list[str]:
    """Each column's machine, where some column runs on another (``pytorch:gpu-box``)."""
    machines = summary["machines"]
    if len(set(machines.values())) < 2 and not any(":" in name for name in machines):
        return []
    return [f"{name} runs on {machine}" for name, machine in machines.items()]


def _text(summary: dict) -> str:
    lines = [_headline(summary), *_machine_lines(summary), ""]
    for row in summary["rows"]:
        lines.append(f"#{row['cluster']} {row['backend']} {row['status']} x{row['count']}: "
                     f"{row['cause']}")
        lines.append(f"    minimal case {row['case']}: {_case_words(row)}")
        lines.append(f"    {row['detail']}")
        for name, value in row["outputs"].items():
            lines.append(f"    {name}: {value}")
    return "\n".join(lines) + "\n"


def _markdown(summary: dict) -> str:
    lines = [f"# {_headline(summary)}", "", *(f"- {line}" for line in _machine_lines(summary)),
             "", "| # | backend | outcome | cases | cause | minimal case |", "|---|---|---|---|---|---|"]
    for row in summary["rows"]:
        cells = [str(row["cluster"]), row["backend"], row["status"], str(row["count"]),
                 row["cause"], f"`{_case_words(row)}`"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    for row in summary["rows"]:
        lines += ["", f"## #{row['cluster']} {row['backend']}: {row['cause']}", "",
                  row["detail"], "", "```text"]
        lines += [f"{name}: {value}" for name, value in row["outputs"].items()] + ["```"]
    return "\n".join(lines) + "\n"


def _html(summary: dict) -> str:
    escape = html.escape
    rows = "".join(
        f"<tr class=\"{'explained' if r['explained'] else 'unexplained'}\"><td>{r['cluster']}</td>"
        f"<td>{escape(r['backend'])}</td><td>{escape(r['status'])}</td><td>{r['count']}</td>"
        f"<td>{escape(r['cause'])}</td><td><code>{escape(_case_words(r))}</code></td>"
        f"<td><pre>{escape(chr(10).join(f'{n}: {v}' for n, v in r['outputs'].items()))}"
        f"</pre></td></tr>" for r in summary["rows"])
    return (f"<!doctype html><meta charset=\"utf-8\"><title>{escape(_headline(summary))}"
            f"</title><style>td{{vertical-align:top;border-bottom:1px solid #ccc}}"
            f".unexplained td:nth-child(5){{color:#b00;font-weight:bold}}</style>"
            f"<h1>{escape(_headline(summary))}</h1>"
            + "".join(f"<p>{escape(line)}</p>" for line in _machine_lines(summary)) +
            f"<table><tr><th>#</th><th>backend</th>"
            f"<th>outcome</th><th>cases</th><th>cause</th><th>minimal case</th>"
            f"<th>outputs side by side</th></tr>{rows}</table>\n")
