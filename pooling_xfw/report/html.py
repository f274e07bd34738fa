"""A self-contained HTML report (inline SVG and CSS: no scripts, no network).

It draws the text report's table (cases x backends, with the chapter column), then for each case
heatmaps of the input, the reference, the chapter's printed output (ok or MISMATCH) and each
backend's output, each with, beside it, a map of where it differs from the reference; and a
legend: the colour scale of the finite values and the colours of -inf, +inf and NaN.  With the
backward pass (``report --grad``) each case also draws, on its own colour scale, the upstream
gradient, the reference gradient and each backend's gradient with its backward status, and beside
one that differs a map of where; the table's cells read ``forward / backward``.
"""
from __future__ import annotations

import dataclasses
import html
import math

import numpy as np

from .. import ops
from ..compare import DEFAULT_TOLERANCE
from ..errors import PoolingError
from ..layout import channels_last, spatial_axes
from .table import (backend_cell, backend_label, backward_counts, cell_status,
                    expected_column, grad_note, has_grad, has_op_column, is_chapter_example,
                    op_cell, table_note)

_STOPS = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]  # viridis
_SPECIAL = {"-inf": "#000000", "+inf": "#ff7f0e", "NaN": "#ff00ff"}
_DIFFERS, _SAME = "#cf222e", "#eaeef2"
_STATUS_COLOR = {"agree": "#1a7f37", "differ": "#cf222e", "error": "#9a6700",
                 "unavailable": "#6e7781", "ok": "#1a7f37", "MISMATCH": "#cf222e",
                 "not compared": "#6e7781"}
_LOOSEST = DEFAULT_TOLERANCE["float16"]  # a map of where is drawn at the loosest tolerance


def _array(nested, shape=None) -> np.ndarray:
    """A document's array (nested lists) as float64, of ``shape`` when given: nested lists
    lose the sizes after an empty axis (an adaptive output of 0 rows, ``[[[]]]``)."""
    def walk(v):
        return [walk(x) for x in v] if isinstance(v, list) else float(v)

    a = np.array(walk(nested), dtype=np.float64)
    return a.reshape(shape) if shape is not None and a.size == 0 else a


#: the most cells drawn along an axis (an audio row of 16,000 cells is drawn as its first 128)
MAX_DRAWN = 128


def _planes(a: np.ndarray, layout: str) -> list:
    """The planes drawn of ``a``: its first batch item, up to four channels, each channel's
    spatial block as a plane ((H, W); a 1-D block as one row, a 3-D block its first D); each as
    (label, plane, the index in ``a`` of its cell (i, j)).  An array of rank below 2, or of no
    rank ``layout`` allows (a case file's expected output of another rank), is drawn as a row
    or as it is."""
    if a.ndim < 2:
        row = a.reshape(1, -1) if a.size else a.reshape(1, 0)
        return [("", row, lambda i, j: (j,) if a.ndim else ())]
    try:
        spatial = spatial_axes(a.ndim, layout)
    except PoolingError:
        spatial = (a.ndim - 2, a.ndim - 1)  # another rank's array: its last two axes
        layout = "NCHW"
    rank = len(spatial)
    fixed = {axis: 0 for axis in range(a.ndim) if axis not in spatial}  # batch item 0
    channel = None if a.ndim == rank else (a.ndim - 1 if channels_last(layout) else spatial[0] - 1)
    count = 1 if channel is None else a.shape[channel]
    depth = spatial[0] if rank == 3 else None  # a 3-D block: its first plane along D

    def index(c):
        def at(i, j):
            where = dict(fixed)
            if channel is not None:
                where[channel] = c
            if depth is not None:
                where[depth] = 0
            if rank == 1:
                where[spatial[0]] = j
            else:
                where[spatial[-2]], where[spatial[-1]] = i, j
            return tuple(where[axis] for axis in range(a.ndim))
        return at

    def plane(c):
        where = [0] * a.ndim  # batch item 0, D 0
        if channel is not None:
            where[channel] = c
        for axis in spatial[-2:] if rank > 1 else spatial:
            where[axis] = slice(None)
        block = a[tuple(where)]
        return (block.reshape(1, -1) if rank == 1 else block)[:MAX_DRAWN, :MAX_DRAWN]

    return [(f"ch {c}" if count > 1 else "", plane(c), index(c)) for c in range(min(count, 4))]


def _left_out(a: np.ndarray, layout: str) -> str:
    """What ``_planes`` does not draw, in words (empty when it draws everything)."""
    try:
        spatial = spatial_axes(a.ndim, layout)
    except PoolingError:
        return ""
    rank = len(spatial)
    if a.ndim == rank:
        parts = _cropped(a, spatial)
        return f"drawn: {', '.join(parts)}" if parts else ""
    channels = a.shape[-1 if channels_last(layout) else spatial[0] - 1]
    batch = a.shape[0] if a.ndim == rank + 2 else 1
    parts = ([f"batch item 0 of {batch}"] if batch > 1 else []) + (
        [f"channels 0-3 of {channels}"] if channels > 4 else []) + _cropped(a, spatial)
    return f"drawn: {', '.join(parts)}" if parts else ""


def _cropped(a: np.ndarray, spatial: tuple[int, ...]) -> list[str]:
    """The spatial axes ``_planes`` draws part of: D (its first plane), and an axis longer than
    ``MAX_DRAWN`` (its first cells)."""
    names = ("D", "H", "W")[3 - len(spatial):]
    parts = [f"D 0 of {a.shape[spatial[0]]}"] if len(spatial) == 3 and a.shape[spatial[0]] > 1 \
        else []
    return parts + [f"{name} 0-{MAX_DRAWN - 1} of {a.shape[axis]}"
                    for name, axis in zip(names, spatial) if name != "D"
                    and a.shape[axis] > MAX_DRAWN]


def _color(t: float) -> str:
    t = min(max(t, 0.0), 1.0) * (len(_STOPS) - 1)
    i = min(int(t), len(_STOPS) - 2)
    rgb = [round(a + (b - a) * (t - i)) for a, b in zip(_STOPS[i], _STOPS[i + 1])]
    return "#%02x%02x%02x" % tuple(rgb)


def _dark(fill: str) -> bool:
    r, g, b = (int(fill[k:k + 2], 16) for k in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b < 140


def _exact(v: float) -> str:
    """The value as stored (float64's shortest round trip): the cell's title."""
    return repr(float(v))


def _label(v: float) -> str:
    """The value in at most about five characters: the text drawn in a large cell."""
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    short = [f"{v:.{d}g}" for d in (3, 2, 1)] + ([f"{v:.0f}"] if abs(v) >= 1 else [])
    for text in short:
        if len(text) <= 5 and "e" not in text:
            return text
    mantissa, exponent = f"{v:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _kind(v: float, lo: float, hi: float) -> str:
    """-inf, +inf, NaN, finite, or finite but below / above the colour scale."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+inf" if v > 0 else "-inf"
    return "below" if v < lo else "above" if v > hi else "finite"


def _fill(v: float, lo: float, hi: float) -> str:
    """-inf, +inf and NaN their own colours; finite values on viridis from lo to hi, those
    beyond the scale at its end."""
    kind = _kind(v, lo, hi)
    if kind in _SPECIAL:
        return _SPECIAL[kind]
    return _color((min(max(v, lo), hi) - lo) / (hi - lo) if hi > lo else 0.5)


def _cell(x: int, y: int, size: int, fill: str, title: str, label: str = "",
          beyond: str = "") -> str:
    """One square: its fill, for a value beyond the scale a triangle in its lower-left (below)
    or upper-right (above) corner, its label if any; the title is its tooltip."""
    ink = "#fff" if _dark(fill) else "#000"
    parts = [f'<g><title>{html.escape(title)}</title><rect x="{x}" y="{y}" width="{size}" '
             f'height="{size}" fill="{fill}"/>']
    if beyond:
        t = max(4, size * 2 // 5)
        corner = (f"M{x} {y + size}v{-t}l{t} {t}z" if beyond == "below"
                  else f"M{x + size} {y}v{t}l{-t} {-t}z")
        parts.append(f'<path d="{corner}" fill="{ink}"/>')
    if label:
        parts.append(f'<text x="{x + size / 2}" y="{y + size / 2 + 3}" fill="{ink}">'
                     f'{html.escape(label)}</text>')
    return "".join(parts) + "</g>"


def _svg(shape: tuple, size: int, cells: list[str]) -> str:
    h, w = shape
    return (f'<svg width="{w * size}" height="{h * size}" viewBox="0 0 {w * size} {h * size}" '
            f'role="img">{"".join(cells)}</svg>')


@dataclasses.dataclass
class _Canvas:
    """One case's drawing: its layout, colour scale (lo..hi), cell size in pixels, and the kinds
    of cells drawn so far (for the legend)."""

    layout: str
    lo: float
    hi: float
    size: int
    drawn: set = dataclasses.field(default_factory=set)

    def heatmap(self, name: str, a: np.ndarray) -> str:
        """Each plane of ``a`` as a grid of ``_fill`` colours, beyond-the-scale cells marked,
        each cell titled ``name (index) = exact value``; labelled when cells are large."""
        return self._planes(a, lambda plane, index: [
            self._value_cell(name, v, index(i, j), i, j) for (i, j), v in np.ndenumerate(plane)])

    def _value_cell(self, name: str, v: float, index: tuple, i: int, j: int) -> str:
        kind = _kind(v, self.lo, self.hi)
        self.drawn.add(kind)
        return _cell(j * self.size, i * self.size, self.size, _fill(v, self.lo, self.hi),
                     f"{name} {index} = {_exact(v)}", _label(v) if self.size >= 26 else "",
                     beyond=kind if kind in ("below", "above") else "")

    def where(self, name: str, a: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> str:
        """Where ``a`` differs from ``ref`` (``mask``): red cells where it does, grey where not,
        laid out as ``a``'s heatmap; each cell titled with both exact values."""
        self.drawn.add("where")

        def cell(k: tuple, i: int, j: int) -> str:
            title = (f"{k}: reference {_exact(ref[k])}, {name} {_exact(a[k])}"
                     + (" differs" if mask[k] else ""))
            return _cell(j * self.size, i * self.size, self.size,
                         _DIFFERS if mask[k] else _SAME, title)

        return self._planes(a, lambda plane, index: [
            cell(index(i, j), i, j) for i, j in np.ndindex(plane.shape)])

    def _planes(self, a: np.ndarray, draw) -> str:
        """The planes of ``a`` side by side, each an SVG of the cells ``draw(plane, index)``;
        an array without cells (an adaptive pooling to 0 rows) as its shape in words."""
        if a.size == 0:
            return f'<p class="none">empty: shape {tuple(a.shape)}, no cells</p>'
        return '<div class="planes">' + "".join(
            _plane(label, _svg(plane.shape, self.size, draw(plane, index)))
            for label, plane, index in _planes(a, self.layout)) + "</div>"


def _plane(label: str, svg: str) -> str:
    return f'<div>{f"<small>{label}</small>" if label else ""}{svg}</div>'


def _badge(status: str) -> str:
    return (f' <span class="badge" style="background:{_STATUS_COLOR[status]}">'
            f'{html.escape(status)}</span>')


def _figure(caption: str, body: str, status: str | None = None) -> str:
    return (f'<figure><figcaption>{html.escape(caption)}{_badge(status) if status else ""}'
            f'</figcaption>{body}</figure>')


def _beside(*figures: str) -> str:
    """Figures kept on one row (a backend's output and its map of where)."""
    return f'<div class="beside">{"".join(figures)}</div>'


def _scale(arrays) -> tuple[float, float]:
    """The colour scale: the finite values of the input, the reference and the chapter."""
    finite = np.concatenate([a[np.isfinite(a)].ravel() for a in arrays])
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)


def _cell_size(arrays, layout: str) -> int:
    """Pixels per cell: 30 (labelled) for the chapter's small inputs; less for larger ones, so
    that a plane is at most 400 px high and an output beside its map (2 x up to 4 planes) at most
    about 960 px wide; at least 3."""
    h = max(1, max(_planes(a, layout)[0][1].shape[0] for a in arrays))  # an empty output: 0
    w = max(1, max(_planes(a, layout)[0][1].shape[1] for a in arrays))
    n = len(_planes(arrays[0], layout))
    return max(3, min(30, 400 // h, (960 - 2 * 8 * n) // (2 * n * w)))


def _differs(out: np.ndarray, ref: np.ndarray, mode: str) -> np.ndarray:
    """Where ``out`` is not the reference: NaN equals NaN; avg and lp within tolerance agree."""
    where = ~((out == ref) | (np.isnan(out) & np.isnan(ref)))
    if mode in ("avg", "lp"):
        where &= ~np.isclose(out, ref, rtol=_LOOSEST[0], atol=_LOOSEST[1])
    return where


def _chapter(canvas: _Canvas, case: dict, ref: np.ndarray) -> str:
    """The case's expected output (``chapter`` for the chapter's own examples: the output it
    prints) with the text report's ok / MISMATCH, and, when it differs from the reference,
    beside it where."""
    label = "chapter" if is_chapter_example(case) else "expected"
    expected = _with_hw(case, case["expected"], case.get("expected_shape"))
    status = "ok" if case["reference_matches_expected"] else "MISMATCH"
    fig = _figure(label, canvas.heatmap(label, expected), status)
    if status == "ok" or expected.shape != ref.shape:
        return fig
    mask = _differs(expected, ref, case["spec"]["mode"])
    what = "the chapter" if label == "chapter" else "the expected output"
    return _beside(fig, _figure(f"where the reference differs from {what}",
                                canvas.where(label, expected, ref, mask)))


def _backend(canvas: _Canvas, case: dict, name: str, r: dict, info: dict, ref: np.ndarray,
             mode: str) -> str:
    """A backend's output with its status, and, when it differs, beside it where."""
    title = backend_label(name, info)
    if r["output"] is None:
        return _figure(title, '<p class="none">no output</p>', r["status"])
    out = _with_hw(case, r["output"], r.get("output_shape"))
    fig = _figure(title, canvas.heatmap(name, out), r["status"])
    if r["status"] != "differ" or out.shape != ref.shape:
        return fig
    return _beside(fig, _figure(f"where {name} differs",
                                canvas.where(name, out, ref, _differs(out, ref, mode))))


def _legend(canvas: _Canvas) -> str:
    """The colour scale from its lowest to its highest finite value, and a swatch for each
    other kind of cell drawn in the case."""
    bar = "".join(f'<rect x="{k * 6}" y="0" width="6" height="12" fill="{_color(k / 19)}"/>'
                  for k in range(20))
    items = [f'<span>{html.escape(_label(canvas.lo))} <svg width="120" height="12">{bar}</svg> '
             f'{html.escape(_label(canvas.hi))}</span>']
    words = {"-inf": "-inf", "+inf": "+inf", "NaN": "NaN",
             "below": "finite, below the scale (its lowest colour, marked)",
             "above": "finite, above the scale (its highest colour, marked)"}
    for kind, text in words.items():
        if kind in canvas.drawn:
            fill = _SPECIAL.get(kind) or _color(0.0 if kind == "below" else 1.0)
            items.append(_swatch(fill, text, kind if kind in ("below", "above") else ""))
    if "where" in canvas.drawn:
        items += [_swatch(_DIFFERS, "differs"), _swatch(_SAME, "agrees")]
    return (f'<p class="legend">{"".join(items)} <span class="hint">(exact values: hover over '
            f'a cell)</span></p>')


def _swatch(fill: str, text: str, beyond: str = "") -> str:
    return (f'<span><svg width="14" height="14">{_cell(0, 0, 14, fill, text, beyond=beyond)}'
            f'</svg> {html.escape(text)}</span>')


#: the function each operation is, in the spec line


def _spec(case: dict) -> str:
    """The operation and its arguments (``adaptive_pool2d: output_size=(7, 7), mode=avg,
    layout=NCHW``), ``p`` only for lp pooling."""
    op, spec = ops.get(case.get("op")), case["spec"]
    shown = {k: tuple(v) if k == "output_size" else v for k, v in spec.items()
             if k != "p" or spec["mode"] == "lp"}
    return f"{op.function}: " + ", ".join(f"{k}={v}" for k, v in shown.items())


def _with_hw(case: dict, nested, shape=None) -> np.ndarray:
    """An output (of ``shape``) as drawn: a global pooling's without keepdims gets back its H
    and W axes (of size 1), so that it is drawn per channel like its input, not as one (N, C)
    plane."""
    a = _array(nested, shape)
    spec = case["spec"]
    if ops.get(case.get("op")).keeps_axes(spec):
        return a
    rank = np.ndim(case["input"])
    if a.ndim != rank - 2:  # not the shape asked for: drawn as it is
        return a
    return np.expand_dims(a, spatial_axes(rank, spec["layout"]))


def _figures(case: dict, backends: dict) -> tuple[str, str]:
    """Every figure of a case, and its legend."""
    layout, mode = case["spec"]["layout"], case["spec"]["mode"]
    x = _array(case["input"])
    ref = _with_hw(case, case["reference"], case.get("reference_shape"))
    scaled = [x, ref] + ([] if case["expected"] is None else [
        _with_hw(case, case["expected"], case.get("expected_shape"))])
    canvas = _Canvas(layout, *_scale(scaled), _cell_size(scaled, layout))
    figs = [_figure("input", canvas.heatmap("input", x)),
            _figure("reference", canvas.heatmap("reference", ref))]
    if case["expected"] is not None:
        figs.append(_chapter(canvas, case, ref))
    figs += [_backend(canvas, case, name, r, backends[name], ref, mode)
             for name, r in case["results"].items()]
    return "".join(figs), _legend(canvas)


def _grad_figures(case: dict, backends: dict) -> tuple[str, str]:
    """The backward pass of a case (none without ``--grad``): the upstream gradient, the
    reference gradient and each backend's, a map of where beside one that differs; on their own
    colour scale (that of the upstream and the reference gradient), with its legend."""
    grad = case.get("grad")
    if not grad:
        return "", ""
    layout = case["spec"]["layout"]
    upstream, ref = _array(grad["upstream"]), _array(grad["reference"])
    scaled = [ref, upstream]
    canvas = _Canvas(layout, *_scale(scaled), _cell_size(scaled, layout))
    what = ("ones" if grad["grad_output"] == "ones" else f"randn, seed {grad['seed']}")
    figs = [_figure(f"upstream gradient ({what})", canvas.heatmap("upstream", upstream)),
            _figure(f"reference gradient (ties={grad['ties']})",
                    canvas.heatmap("reference gradient", ref))]
    for name, r in case["results"].items():
        info = backends[name]
        title = f"{backend_label(name, info)} gradient"
        status = r.get("grad_status") or "unavailable"
        if r.get("grad_input") is None:
            figs.append(_figure(title, '<p class="none">no gradient</p>', status))
            continue
        g = _array(r["grad_input"])
        fig = _figure(title, canvas.heatmap(f"{name} gradient", g), status)
        if status == "differ" and g.shape == ref.shape:
            fig = _beside(fig, _figure(f"where the {name} gradient differs", canvas.where(
                f"{name} gradient", g, ref, _differs(g, ref, "avg"))))
        figs.append(fig)
    return "".join(figs), _legend(canvas)


def _case(case: dict, backends: dict, k: int) -> str:
    """A case's section: its name, title and arguments, its figures and legend (and the
    backward pass's), what went wrong and, folded, the code each backend ran."""
    figs, legend = _figures(case, backends)
    grad_figs, grad_legend = _grad_figures(case, backends)
    if grad_figs:
        legend += (f'<h3>backward</h3><div class="figs">{grad_figs}</div>{grad_legend}')
    left_out = _left_out(_array(case["input"]), case["spec"]["layout"])
    details = "".join(f"<li><b>{html.escape(n)}</b> {r['status']}: {html.escape(r['detail'])}"
                      f"</li>" for n, r in case["results"].items() if r["detail"])
    details += "".join(f"<li><b>{html.escape(n)}</b> backward {r['grad_status']}: "
                       f"{html.escape(r['grad_detail'])}</li>"
                       for n, r in case["results"].items()
                       if r.get("grad_detail") and r["grad_detail"] != r["detail"])
    notes = "".join(f"<li><b>{html.escape(n)}</b> ({r['how']['path']}):"
                    f"<pre>{html.escape(r['how']['code'])}</pre>"
                    + (f"backward, by its autograd:<pre>{html.escape(r['how']['grad_code'])}"
                       f"</pre>" if case.get("grad") and r["how"].get("grad_code") else "")
                    + "</li>" for n, r in case["results"].items() if r.get("how"))
    title = f'<p>{html.escape(case["title"])}</p>' if case["title"] != case["name"] else ""
    return (f'<section id="case-{k}"><h2>{html.escape(case["name"])}</h2>{title}'
            f'<p class="spec">{html.escape(_spec(case))}</p>'
            f'<div class="figs">{figs}</div>{legend}'
            + (f'<p class="hint">{left_out}</p>' if left_out else "")
            + (f'<ul class="detail">{details}</ul>' if details else "")
            + f'<details><summary>how each backend computed it</summary><ul>{notes}'
              f'</ul></details></section>')


def _overview(doc: dict) -> str:
    """The text report's table: per case the expected column as the text report titles it
    (chapter / expected: ok, MISMATCH or -; none when no case gives an expected output) and
    each backend's cell (agree, agree*, DIFFER max |diff|, ERROR, n/a; with the backward pass
    ``forward / backward``), coloured by status (the worse of the two)."""
    names = list(doc["backends"])
    grad = has_grad(doc)
    title, legend = expected_column(doc)
    head = "".join(f"<th>{html.escape(backend_label(n, doc['backends'][n]))}</th>"
                   for n in names)
    op_column = has_op_column(doc)
    rows = []
    for k, case in enumerate(doc["cases"]):
        match = case["reference_matches_expected"]
        expected = "-" if match is None else ("ok" if match else "MISMATCH")
        cells = ([(op_cell(case), "inherit")] if op_column else []) + (
            [(expected, _STATUS_COLOR.get(expected, "inherit"))] if title else []) + [
            (backend_cell(case["results"][n], grad),
             _STATUS_COLOR[cell_status(case["results"][n], grad)]) for n in names]
        rows.append(f'<tr><td><a href="#case-{k}">{html.escape(case["name"])}</a></td>' + "".join(
            f'<td style="color:{color}">{html.escape(text)}</td>' for text, color in cells)
            + "</tr>")
    column = ("<th>op</th>" if op_column else "") + (f"<th>{html.escape(title)}</th>" if title else "")
    note = table_note(legend) + (f"; {grad_note(doc)}" if grad_note(doc) else "")
    return (f'<table><tr><th>case</th>{column}{head}</tr>{"".join(rows)}</table>'
            f'<p class="hint">{html.escape(note)}</p>')


def _backends(doc: dict) -> str:
    """Each backend's versions, host and readiness."""
    rows = "".join(f"<tr><td>{html.escape(n)}</td>"
                   f"<td>{html.escape(i.get('framework_version') or i.get('version') or '-')}</td>"
                   f"<td>{i.get('numpy_version') or '-'}</td>"
                   f"<td>{html.escape(i.get('host') or '-')}</td><td>{i['status']}</td>"
                   f"<td>{html.escape(i.get('detail') or '')}</td></tr>"
                   for n, i in doc["backends"].items())
    return (f"<table><tr><th>backend</th><th>framework</th><th>numpy</th><th>host</th>"
            f"<th>status</th><th>detail</th></tr>{rows}</table>")


_CSS = """
body{font:14px system-ui,sans-serif;margin:24px;color:#1f2328}
h1{font-size:20px} h2{font-size:16px;margin:0 0 4px} h3{font-size:14px;margin:12px 0 4px}
section{border:1px solid #d0d7de;border-radius:6px;padding:12px;margin:12px 0}
.figs{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start;overflow-x:auto}
.beside,.planes{display:flex;gap:8px;align-items:flex-start}
.planes small{display:block;font-size:10px;color:#57606a}
figure{margin:0} figcaption{font-size:12px;margin-bottom:4px;white-space:nowrap}
svg{display:block} text{font-size:9px;text-anchor:middle}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;align-items:center;font-size:12px}
.legend span{display:inline-flex;gap:4px;align-items:center}
.hint{font-size:12px;color:#57606a}
.detail{color:#cf222e}
.badge{color:#fff;border-radius:8px;padding:0 6px;font-size:11px}
.spec{font-family:monospace;font-size:12px;color:#57606a}
pre{background:#f6f8fa;padding:6px;font-size:11px;overflow:auto}
table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #d0d7de;padding:2px 8px;font-size:12px}
"""


def render_html(doc: dict) -> str:
    """The whole page: summary, the backends, the table of cases, then each case."""
    s = doc["summary"]
    backward = s.get("grad")
    backward = f" {backward_counts(backward).capitalize()}." if backward else ""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>pooling-xfw report</title>"
            f"<style>{_CSS}</style></head><body><h1>pooling-xfw {doc['tool_version']} report"
            f"</h1><p>{s['agree']} agree, {s['differ']} differ, {s['error']} error, "
            f"{s['unavailable']} unavailable.{backward} Reference: numpy "
            f"{doc['numpy_version']}.</p>"
            + _backends(doc) + _overview(doc)
            + "".join(_case(c, doc["backends"], k) for k, c in enumerate(doc["cases"]))
            + "</body></html>\n")
