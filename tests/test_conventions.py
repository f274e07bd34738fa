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
    on every backend; NaN and only-(-inf) windows may differ, and then say why."""
    for probe, results in measured:
        for backend, result in results.items():
            where = f"{probe.name} on {backend}: {result.status}: {result.detail}"
            if probe.varies and result.status == "differ":
                assert any(cause in result.detail for cause in probe.varies), where
            else:
                assert result.status == "agree", where


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
