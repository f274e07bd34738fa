"""The README's conventions table is what running the code gives today, on any machine.

A framework's own answer for a special value (NaN, a window of only -inf) varies with the CPU,
the oneDNN/MKLDNN kernel path and the version: those rows (marked in the table) may read any of
their recorded outcomes, the adapter's path or a difference naming the row's cause.  Everything
else must read the same on every machine, and the table says which machine measured it.
"""
import platform
import re
from pathlib import Path

import pytest

from pooling_xfw import conventions
from pooling_xfw.runtime.envs import BACKENDS

README = Path(__file__).resolve().parents[1] / "README.md"
MEASURED_ON = "Measured on: "


@pytest.fixture(scope="module")
def measured(pool):
    return conventions.measure(pool=pool)


def _readme_block() -> str:
    content = README.read_text()
    start = content.index(conventions.README_START) + len(conventions.README_START)
    return content[start:content.index(conventions.README_END)].strip()


def test_readme_conventions_table_is_generated_and_current(measured):
    stale = conventions.differences(_readme_block(), measured)
    assert not stale, "run: pooling-xfw conventions --update-readme\n" + "\n".join(stale)


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return models[0] if models else platform.machine()


def test_the_table_says_which_machine_measured_it(measured):
    lines = [line for line in conventions.markdown(measured).splitlines()
             if line.startswith(MEASURED_ON)]
    assert len(lines) == 1, lines
    assert _cpu_model() in lines[0] and platform.machine() in lines[0]
    assert sum(line.startswith(MEASURED_ON) for line in _readme_block().splitlines()) == 1


def test_every_row_agrees_but_the_special_values_which_name_their_cause(measured):
    """What the toolkit promises on any machine: every convention gives the reference's numbers
    on every backend (a backward row: the reference's gradient); NaN and only-(-inf) windows
    may differ, and a backward row where a plan's gradient routes ties otherwise (its known
    cause), and then say why."""
    for probe, results in measured:
        for backend, result in results.items():
            status, detail = ((result.grad_status, result.grad_detail) if probe.grad
                              else (result.status, result.detail))
            where = f"{probe.name} on {backend}: {status}: {detail}"
            if (probe.varies or probe.known) and status == "differ":
                assert any(cause in detail for cause in probe.varies + probe.known), where
            else:
                assert status == "agree", where


# --- what the currency check tolerates, and what it does not ------------------------------------

def _set_cell(text: str, row: str, column: str, value: str) -> str:
    """``text`` with the cell of the row named ``row`` in ``column`` (a backend) replaced."""
    lines = text.splitlines()
    index = 1 + list(BACKENDS).index(column)
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].startswith(row):
            cells[index] = value
            lines[i] = "| " + " | ".join(cells) + " |"
            return "\n".join(lines) + "\n"
    raise AssertionError(f"no row {row!r}")


def _drop_lines(text: str, start: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(start))


NAN_IGNORED = "**differs**: NaN in the window ignored; the reference propagates NaN"

TOLERATED = {  # what another machine's run may legitimately have written
    "another-cpu": lambda t: re.sub(
        r"^Measured on: .*$", "Measured on: Intel(R) Xeon(R) Gold 6338 (x86_64, AVX-512), Linux",
        t, flags=re.M),
    "tensorflow-gives-minus-inf-for-a-window-of-only-minus-inf": lambda t: _set_cell(
        t, "max of a window of only -inf", "tensorflow", "native"),
    "pytorch-ignores-a-nan": lambda t: _set_cell(t, "NaN in a max window", "pytorch", NAN_IGNORED),
    "paddle-keeps-the-gradient-of-a-window-of-only-minus-inf": lambda t: _set_cell(
        t, "backward: max of a window of only -inf", "paddle", "native"),
    "pytorch-drops-the-gradient-of-a-window-of-only-minus-inf": lambda t: _set_cell(
        t, "backward: max of a window of only -inf", "pytorch",
        "**differs**: a window of only -inf: the reference sends its gradient to the window's "
        "first cell; pytorch drops the gradient (0 on every cell the window reads)"),
}

CAUGHT = {  # stale in what must not vary
    "a-framework-version": lambda t: _set_cell(t, "convention", "paddle", "paddle 0.0"),
    "a-row-path": lambda t: _set_cell(t, "max k3 s2 p1, symmetric pads", "paddle",
                                      "emulated: explicit padding"),
    "a-row-differing": lambda t: _set_cell(t, "max of int32", "mxnet", NAN_IGNORED),
    "a-row-missing": lambda t: _drop_lines(t, "| NHWC layout |"),
    "a-special-value-row-path": lambda t: _set_cell(t, "NaN in a max window", "pytorch",
                                                    "emulated: explicit padding"),
    "a-special-value-row-unrecorded-cause": lambda t: _set_cell(
        t, "max of a window of only -inf", "tensorflow",
        "**differs**: 1 of 4 differ; first at (0, 0, 0, 0): 0.0 vs reference -inf"),
    "a-special-value-row-cause-of-another-row": lambda t: _set_cell(
        t, "max of a window of only -inf", "tensorflow", NAN_IGNORED),
    "no-machine-line": lambda t: _drop_lines(t, MEASURED_ON),
    "a-backward-row-path": lambda t: _set_cell(t, "backward: avg 'same', padding not counted",
                                               "tensorflow", "emulated: divisor"),
    "a-backward-row-known-difference-gone": lambda t: _set_cell(
        t, "backward: max ties, dilation 2", "paddle", "emulated: dilation"),
    "a-backward-row-missing": lambda t: _drop_lines(t, "| backward: max ties in one window"),
    "a-backward-special-row-forward-cause": lambda t: _set_cell(
        t, "backward: NaN in a max window", "pytorch", NAN_IGNORED),
    "the-legend": lambda t: t.replace("native: one framework pooling call", "native: a call"),
}


@pytest.mark.parametrize("edit", TOLERATED)
def test_machine_variation_is_not_staleness(measured, edit):
    text = conventions.markdown(measured)
    edited = TOLERATED[edit](text)
    assert edited != text
    assert conventions.differences(edited, measured) == []


@pytest.mark.parametrize("edit", CAUGHT)
def test_a_stale_table_is_caught(measured, edit):
    text = conventions.markdown(measured)
    edited = CAUGHT[edit](text)
    assert edited != text
    assert conventions.differences(edited, measured)


# --- the backward rows -----------------------------------------------------------------------

#: the gradient conventions the table must show, each by the start of its row's name
BACKWARD_ROWS = {
    "ties-in-one-window": "backward: max ties in one window",
    "ties-across-overlapping-windows": "backward: max ties across overlapping windows",
    "nan": "backward: NaN in a max window",
    "all-minus-inf": "backward: max of a window of only -inf",
    "avg-same-divisor": "backward: avg 'same'",
    "avg-ceil-divisor": "backward: avg ceil overhang",
    "avg-exclude-padding": "backward: avg k3 s2 p1, padding not counted",
}


@pytest.mark.parametrize("row", BACKWARD_ROWS.values(), ids=BACKWARD_ROWS.keys())
def test_the_table_has_a_backward_row_for_each_gradient_convention(measured, row):
    probes = [probe for probe, _ in measured if probe.name.startswith(row)]
    assert probes and all(p.grad for p in probes), row
    readme = [line for line in _readme_block().splitlines() if line.startswith(f"| {row}")]
    assert len(readme) == len(probes), row
    for line in readme:
        assert len(line.strip().strip("|").split(" | ")) == 1 + len(BACKENDS), line


def _compare_args(probe) -> list[str]:
    """``pooling-xfw compare`` options for a pool2d probe, as a user would type them."""
    kw = dict(probe.kwargs)
    args = ["--kernel", str(probe.pool_size), "--mode", kw.pop("mode", "max")]
    size = lambda v: ",".join(map(str, v)) if isinstance(v, tuple) else str(v)
    args += ["--stride", size(kw.pop("stride", 1))]  # px.pool2d's default, not the CLI's
    for key, flag in (("padding", "--padding"), ("dilation", "--dilation")):
        if key in kw:
            args += [flag, size(kw.pop(key))]
    if kw.pop("ceil_mode", False):
        args.append("--ceil-mode")
    if not kw.pop("count_include_pad", True):
        args.append("--exclude-pad")
    assert not kw, kw
    return args


@pytest.mark.parametrize("name", [
    "backward: max ties, dilation 2 (all 1, k2 d2 s1)",
    "backward: NaN in a max window",
    "backward: avg 'same', padding not counted",
], ids=["dilated-ties", "nan", "avg-same-exclude"])
def test_a_backward_row_reads_what_compare_grad_says(measured, tmp_path, name):
    """The row's cells are what ``pooling-xfw compare --grad`` reports for the same input:
    an agreeing backend's path, a differing one's cause."""
    import json
    import subprocess
    import sys

    import numpy as np

    probe, results = next((p, r) for p, r in measured if p.name == name)
    np.save(tmp_path / "x.npy", conventions.probe_input(probe.input))
    proc = subprocess.run([sys.executable, "-m", "pooling_xfw", "compare", "--input",
                           str(tmp_path / "x.npy"), *_compare_args(probe), "--grad",
                           "--format", "json"], capture_output=True, text=True, timeout=600)
    doc = json.loads(proc.stdout)
    row = next(line for line in conventions.markdown(measured).splitlines()
               if line.startswith(f"| {probe.label} |"))
    cells = dict(zip(BACKENDS, row.strip().strip("|").split(" | ")[1:]))
    for backend, r in doc["cases"][0]["results"].items():
        if r["grad_status"] == "agree":
            assert cells[backend].strip() == conventions._path_cell(r["how"]), (backend, row)
        else:
            assert r["grad_status"] == "differ", r
            assert cells[backend].strip() == f"**differs**: {conventions._cause(r['grad_detail'])}"
    differs = any(r["grad_status"] == "differ" for r in doc["cases"][0]["results"].values())
    assert proc.returncode == (1 if differs or doc["summary"]["differ"] else 0), proc.stderr
