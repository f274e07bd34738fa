"""A self-contained HTML report: every case's input, reference and each backend's output as
small heatmaps (inline SVG, no scripts, no network), and where a backend differs, a map of where."""
from __future__ import annotations

import html
import math

import numpy as np

from ..compare import DEFAULT_TOLERANCE

_STOPS = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]  # viridis
_STATUS_COLOR = {"agree": "#1a7f37", "differ": "#cf222e", "error": "#9a6700",
                 "unavailable": "#6e7781"}
CELL = 26
_LOOSEST = DEFAULT_TOLERANCE["float16"]  # a map of where is drawn at the loosest tolerance


def _array(nested) -> np.ndarray:
    def fix(v):
        return float(v) if isinstance(v, str) else v

    def walk(v):
        return [walk(x) for x in v] if isinstance(v, list) else fix(v)

    return np.array(walk(nested), dtype=np.float64)


def _planes(a: np.ndarray, layout: str) -> list[np.ndarray]:
    """The (H, W) planes to draw: the first batch item, up to four channels."""
    if a.ndim == 2:
        return [a]
    if layout == "NHWC":
        a = np.moveaxis(a, -1, -3)
    a = a.reshape((-1,) + a.shape[-3:])[0]
    return [a[c] for c in range(min(a.shape[0], 4))]


def _color(t: float) -> str:
    t = min(max(t, 0.0), 1.0) * (len(_STOPS) - 1)
    i = min(int(t), len(_STOPS) - 2)
    f = t - i
    rgb = [round(a + (b - a) * f) for a, b in zip(_STOPS[i], _STOPS[i + 1])]
    return "#%02x%02x%02x" % tuple(rgb)


def _label(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if abs(v) >= 1e5:
        return f"{v:.0e}"
    return f"{v:.3g}"


def _heatmap(plane: np.ndarray, lo: float, hi: float, mask: np.ndarray | None = None) -> str:
    h, w = plane.shape
    cells = []
    for i in range(h):
        for j in range(w):
            v = plane[i, j]
            if mask is not None:
                fill = "#cf222e" if mask[i, j] else "#eaeef2"
            elif math.isnan(v):
                fill = "#ff00ff"
            else:
                fill = _color((min(max(v, lo), hi) - lo) / (hi - lo) if hi > lo else 0.5)
            cells.append(f'<rect x="{j * CELL}" y="{i * CELL}" width="{CELL}" height="{CELL}" '
                         f'fill="{fill}"><title>[{i}, {j}] = {_label(v)}</title></rect>')
            if h * w <= 64 and mask is None:
                dark = not math.isnan(v) and hi > lo and (v - lo) / (hi - lo) < 0.6
                cells.append(f'<text x="{j * CELL + CELL / 2}" y="{i * CELL + CELL / 2 + 4}" '
                             f'fill="{"#fff" if dark else "#000"}">{_label(v)}</text>')
    return (f'<svg width="{w * CELL}" height="{h * CELL}" viewBox="0 0 {w * CELL} {h * CELL}" '
            f'role="img">{"".join(cells)}</svg>')


def _figure(title: str, a: np.ndarray, layout: str, lo: float, hi: float,
            status: str | None = None, mask=None) -> str:
    badge = (f' <span class="badge" style="background:{_STATUS_COLOR[status]}">{status}</span>'
             if status else "")
    maps = "".join(_heatmap(p, lo, hi, m) for p, m in zip(
        _planes(a, layout), _planes(mask, layout) if mask is not None else [None] * 4))
    return f'<figure><figcaption>{html.escape(title)}{badge}</figcaption>{maps}</figure>'


def _range(arrays) -> tuple[float, float]:
    finite = np.concatenate([a[np.isfinite(a)].ravel() for a in arrays] or [np.zeros(1)])
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)


def _case(case: dict, backends: dict) -> str:
    layout = case["spec"]["layout"]
    x, ref = _array(case["input"]), _array(case["reference"])
    lo, hi = _range([x, ref])
    figs = [_figure("input", x, layout, lo, hi), _figure("reference", ref, layout, lo, hi)]
    notes, details = [], []
    for name, r in case["results"].items():
        title = f"{name} {backends[name].get('framework_version') or ''}".strip()
        if r["output"] is None:
            figs.append(f'<figure><figcaption>{html.escape(title)} <span class="badge" '
                        f'style="background:{_STATUS_COLOR[r["status"]]}">{r["status"]}</span>'
                        f'</figcaption><p class="none">no output</p></figure>')
        else:
            out = _array(r["output"])
            figs.append(_figure(title, out, layout, lo, hi, r["status"]))
            if r["status"] == "differ" and out.shape == ref.shape:
                where = ~((out == ref) | (np.isnan(out) & np.isnan(ref)))
                if case["spec"]["mode"] in ("avg", "lp"):  # within tolerance is not a difference
                    where &= ~np.isclose(out, ref, rtol=_LOOSEST[0], atol=_LOOSEST[1])
                figs.append(_figure(f"where {name} differs", out, layout, lo, hi, mask=where))
        if r["detail"]:
            details.append(f"<li><b>{html.escape(name)}</b> {r['status']}: "
                           f"{html.escape(r['detail'])}</li>")
        if r.get("how"):
            notes.append(f"<li><b>{html.escape(name)}</b> ({r['how']['path']}):"
                         f"<pre>{html.escape(r['how']['code'])}</pre></li>")
    spec = ", ".join(f"{k}={v}" for k, v in case["spec"].items())
    return (f'<section><h2>{html.escape(case["name"])}</h2><p>{html.escape(case["title"])}</p>'
            f'<p class="spec">{html.escape(spec)}</p><div class="figs">{"".join(figs)}</div>'
            + (f'<ul class="detail">{"".join(details)}</ul>' if details else "")
            + f'<details><summary>how each backend computed it</summary><ul>{"".join(notes)}'
              f'</ul></details></section>')


_CSS = """
body{font:14px system-ui,sans-serif;margin:24px;color:#1f2328}
h1{font-size:20px} h2{font-size:16px;margin:0 0 4px}
section{border:1px solid #d0d7de;border-radius:6px;padding:12px;margin:12px 0}
.figs{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
figure{margin:0} figcaption{font-size:12px;margin-bottom:4px}
svg{display:block;margin-bottom:4px} text{font-size:9px;text-anchor:middle}
.detail{color:#cf222e}
.badge{color:#fff;border-radius:8px;padding:0 6px;font-size:11px}
.spec{font-family:monospace;font-size:12px;color:#57606a}
pre{background:#f6f8fa;padding:6px;font-size:11px;overflow:auto}
table{border-collapse:collapse} td,th{border:1px solid #d0d7de;padding:2px 8px;font-size:12px}
"""


def render_html(doc: dict) -> str:
    rows = "".join(f"<tr><td>{html.escape(n)}</td><td>{i.get('framework_version') or '-'}</td>"
                   f"<td>{i.get('numpy_version') or '-'}</td>"
                   f"<td>{html.escape(i.get('host') or '-')}</td><td>{i['status']}</td>"
                   f"<td>{html.escape(i.get('detail') or '')}</td></tr>"
                   for n, i in doc["backends"].items())
    s = doc["summary"]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>pooling-xfw report</title>"
            f"<style>{_CSS}</style></head><body><h1>pooling-xfw {doc['tool_version']} report"
            f"</h1><p>{s['agree']} agree, {s['differ']} differ, {s['error']} error, "
            f"{s['unavailable']} unavailable. Reference: numpy {doc['numpy_version']}.</p>"
            f"<table><tr><th>backend</th><th>framework</th><th>numpy</th><th>host</th><th>status</th>"
            f"<th>detail</th></tr>{rows}</table>"
            + "".join(_case(c, doc["backends"]) for c in doc["cases"]) + "</body></html>\n")
