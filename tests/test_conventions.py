"""The docs' conventions table is what running the code gives today, on any machine.

A framework's own answer for a special value (NaN, a window of only -inf) may depend on the
CPU, through the kernel it picks (oneDNN, MKLDNN, MLAS): its backend declares those cells
(``Backend.known``) with every outcome recorded, the table marks them, and a marked cell may
read any of them and nothing else.  Every other cell must read the same on every machine; the table's one
machine line (CPU, cores, OS, versions) may read anything.
"""
import os
import platform
import re
from pathlib import Path

import numpy as np
import pytest

from pooling_xfw import conventions
from pooling_xfw import registry
from pooling_xfw.compare import BackendResult

BACKENDS = registry.defaults()
from pooling_xfw.runtime.worker import machine

PAGE = Path(__file__).resolve().parents[1] / "docs" / "conventions.md"
MEASURED_ON = "Measured on: "


@pytest.fixture(scope="module")
def measured(pool):
    return conventions.measure(pool=pool)


def _docs_block() -> str:
    return conventions.generated(PAGE.read_text(), conventions.TABLE_START,
                                 conventions.TABLE_END)


def test_the_docs_conventions_table_is_generated_and_current(measured):
    stale = conventions.differences(_docs_block(), measured)
    assert not stale, "run: pooling-xfw conventions --update-docs\n" + "\n".join(stale)


def test_the_docs_backends_table_is_the_declarations():
    recorded = conventions.generated(PAGE.with_name("backends.md").read_text(),
                                     conventions.BACKENDS_START, conventions.BACKENDS_END)
    assert recorded == registry.markdown().strip(), "run: pooling-xfw conventions --update-docs"


def test_the_table_says_which_machine_measured_it(measured):
    """One line, in portable terms: CPU model and architecture, logical CPUs, OS, the
    reference's numpy and each worker's framework and numpy; no host name, no path."""
    lines = [line for line in conventions.markdown(measured).splitlines()
             if line.startswith(MEASURED_ON)]
    assert len(lines) == 1, lines
    line, here = lines[0], machine()
    assert here["cpu"] and here["cpu"] in line and platform.machine() in line, line
    assert f"{os.cpu_count()} logical CPUs" in line and platform.system() in line, line
    assert f"the reference: numpy {np.__version__}" in line, line
    for backend, result in measured[0][1].items():
        assert (f"{backend} {result.framework_version} with numpy {result.numpy_version}"
                in line), (backend, line)
    assert sum(line.startswith(MEASURED_ON) for line in _docs_block().splitlines()) == 1


def test_the_table_names_no_host_and_no_path(measured):
    for text in (conventions.markdown(measured), _docs_block()):
        assert platform.node() not in text
        assert not re.search(r"(^|[\s(])(/[\w.+-]+){2,}", text), re.search(
            r"(^|[\s(])(/[\w.+-]+){2,}", text)


def test_each_worker_reports_its_machine(pool):
    hellos = pool.start(BACKENDS)
    for backend, hello in hellos.items():
        assert hello.machine == machine(), backend  # the workers share this machine


def _accepted(probe, backend, result) -> bool:
    """A backward row's cell that is the framework's own gradient failing, as recorded: no
    autograd (``not compared``), or the autograd raising what its backend records there
    (``Probe.grad_error``)."""
    if not probe.grad or result.status not in ("agree", "differ"):
        return False
    if result.grad_status == "not compared":
        return True
    return result.grad_status == "error" and probe.grad_error(backend, result.grad_detail)


def test_every_row_agrees_but_the_special_values_which_name_their_cause(measured):
    """What the toolkit promises on any machine: every convention gives the reference's numbers
    on every backend (a backward row: the reference's gradient, where the framework has one and
    its autograd runs); NaN and only-(-inf) windows may differ, and a backward row where a
    plan's gradient routes ties otherwise, and then say why."""
    for probe, results in measured:
        for backend, result in results.items():
            status, detail = ((result.grad_status, result.grad_detail) if probe.grad
                              else (result.status, result.detail))
            where = f"{probe.name} on {backend}: {status}: {detail}"
            if _accepted(probe, backend, result):
                continue
            if probe.causes and status == "differ":
                assert any(cause in detail for cause in probe.causes), where
            else:
                assert status == "agree", where


def test_the_gradients_that_do_not_exist_read_so(measured):
    """ONNX Runtime has no autograd: every backward cell says so, briefly (the legend has the
    reason).  JAX has no VJP for a dilated max, by design: that cell says so, briefly."""
    text = conventions.markdown(measured)
    rows = {probe.name: dict(zip(BACKENDS, conventions._cells(line)[1:]))
            for probe in conventions.PROBES for line in text.splitlines()
            if line.startswith(f"| {probe.label} |")}
    for probe in conventions.PROBES:
        if probe.grad:
            assert rows[probe.name]["onnxruntime"] == "not compared: onnxruntime has no autograd"
    dilated = rows["backward: max ties, dilation 2 (all 1, k2 d2 s1)"]["jax"]
    assert dilated == ("not compared: jax has no VJP for a dilated max or min reduce_window"), \
        dilated
    assert "onnxruntime has no autograd: an InferenceSession" in text
    assert conventions.could_not_run(measured) == {}


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


def _cell_of(text: str, row: str, column: str) -> str:
    index = 1 + list(BACKENDS).index(column)
    line = next(l for l in text.splitlines() if l.startswith(f"| {row}"))
    return [c.strip() for c in line.strip().strip("|").split("|")][index]


def _mark_of(text: str, row: str, column: str) -> str:
    """The footnote sign a marked cell ends with."""
    sign = _cell_of(text, row, column).rsplit(" ", 1)[-1]
    assert sign in conventions.SIGNS or re.fullmatch(r"\[\d+\]", sign), (row, column, sign)
    return sign


def _set_marked(text: str, row: str, column: str, value: str) -> str:
    """A marked cell set to ``value``, its mark kept."""
    return _set_cell(text, row, column, f"{value} {_mark_of(text, row, column)}")


def _other_outcome(text: str, row: str, column: str, outcomes: tuple[str, str]) -> str:
    """The cell set to the recorded outcome this machine did not measure (either may be the
    one measured: which depends on the CPU)."""
    mark = _mark_of(text, row, column)
    measured = _cell_of(text, row, column).removesuffix(f" {mark}")
    assert measured in outcomes, (row, column, measured)
    return _set_marked(text, row, column, outcomes[1 - outcomes.index(measured)])


def _drop_lines(text: str, start: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(start))


NAN_IGNORED = conventions.DIFFERS + "NaN in the window ignored; the reference propagates NaN"
LOWEST = conventions.DIFFERS + "a window of only -inf gives the lowest finite value; the reference -inf"
MX_DROPS = ("**differs**: a window of only -inf: the reference sends its gradient to the "
            "window's first cell; mxnet drops the gradient (0 on every cell the window reads)")

TOLERATED = {  # what another machine's run may legitimately have written
    "another-cpu": lambda t: re.sub(
        r"^Measured on: .*$", "Measured on: Intel(R) Xeon(R) Gold 6338 (x86_64, AVX-512), 64 "
        "logical CPUs, Linux; the frameworks: pytorch 2.13.0+cpu with numpy 2.0.0", t, flags=re.M),
    "tensorflow-float16-window-of-only-minus-inf-the-other-outcome": lambda t: _other_outcome(
        t, "max of a float16 window of only -inf", "tensorflow", ("native", LOWEST)),
    "mxnet-gradient-of-a-window-of-only-minus-inf-the-other-outcome": lambda t: _other_outcome(
        t, "backward: max of a window of only -inf", "mxnet", ("native", MX_DROPS)),
}

CAUGHT = {  # stale in what must not vary, or an outcome never recorded
    "a-framework-version": lambda t: _set_cell(t, "convention", "paddle", "paddle 0.0"),
    "a-row-path": lambda t: _set_cell(t, "max k3 s2 p1, symmetric pads", "paddle",
                                      "emulated: explicit padding"),
    "a-row-differing": lambda t: _set_cell(t, "max of int32", "mxnet", NAN_IGNORED),
    "a-row-missing": lambda t: _drop_lines(t, "| NHWC layout |"),
    "an-unmarked-special-value-cell": lambda t: _set_cell(t, "NaN in a max window", "pytorch",
                                                          NAN_IGNORED),
    "an-unmarked-cell-in-a-marked-row": lambda t: _set_cell(
        t, "max of a float16 window of only -inf", "mxnet", "native"),
    "a-float32-minus-inf-cell": lambda t: _set_cell(t, "max of a window of only -inf",
                                                    "tensorflow", "native"),
    "a-marked-cell-never-recorded-outcome": lambda t: _set_marked(
        t, "NaN in a max window", "tensorflow", "native"),
    "a-marked-cell-unrecorded-cause": lambda t: _set_marked(
        t, "max of a float16 window of only -inf", "tensorflow",
        "**differs**: 1 of 4 differ; first at (0, 0, 0, 0): 0.0 vs reference -inf"),
    "a-marked-cell-cause-of-another-row": lambda t: _set_marked(
        t, "max of a float16 window of only -inf", "tensorflow", NAN_IGNORED),
    "a-marked-cell-without-its-mark": lambda t: _set_cell(
        t, "max of a float16 window of only -inf", "tensorflow", "native"),
    "no-machine-line": lambda t: _drop_lines(t, MEASURED_ON),
    "two-machine-lines": lambda t: _drop_lines(t, "native: one framework").replace(
        "A backward cell", MEASURED_ON + "elsewhere\n\nA backward cell"),
    "a-backward-row-path": lambda t: _set_cell(t, "backward: avg 'same', padding not counted",
                                               "tensorflow", "emulated: divisor"),
    "a-backward-row-known-difference-gone": lambda t: _set_cell(
        t, "backward: max ties, dilation 2", "paddle", "emulated: dilation"),
    "a-backward-row-missing": lambda t: _drop_lines(t, "| backward: max ties in one window"),
    "a-backward-special-row-forward-cause": lambda t: _set_marked(
        t, "backward: NaN in a max window", "mxnet", NAN_IGNORED),
    "a-gradient-unavailable-becoming-native": lambda t: _set_cell(
        t, "backward: lp, p=2", "onnxruntime", "native"),
    "a-gradient-error-gone": lambda t: _set_cell(
        t, "backward: max ties, dilation 2", "jax", "native"),
    "the-legend": lambda t: t.replace("native: one framework pooling call", "native: a call"),
    "a-recorded-outcome-in-the-legend": lambda t: t.replace("oneDNN on and off", "oneDNN on"),
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


# --- the same, on rows made up here: no framework runs ------------------------------------------

def _result(backend, status="agree", path="native", detail="", grad=None, grad_detail=""):
    return BackendResult(backend, status, how={"path": path, "emulated_by": []},
                         detail=detail, framework_version="1.0", numpy_version="2.0",
                         grad_status=grad, grad_detail=grad_detail)


def _probe(name):
    return next(p for p in conventions.PROBES if p.name.startswith(name))


def _doctored_rows(**measured_now):
    """Three rows, every backend native, but ``measured_now`` {backend: (row, result)}."""
    rows = conventions.Measured()
    for name in ("max k3 s2 p1", "max of a float16 window of only -inf",
                 "backward: max of a window of only -inf"):
        probe = _probe(name)
        grad = "agree" if probe.grad else None
        results = {b: _result(b, grad=grad) for b in BACKENDS}
        for backend, (row, result) in measured_now.items():
            if name == row:
                results[backend] = result
        rows.append((probe, results))
    rows.machines = {}
    return rows


def test_the_currency_check_on_a_doctored_table():
    """A recorded table whose unmarked cell changed is stale; one whose marked cell reads
    another recorded outcome is current; so is one measured on another machine."""
    rows = _doctored_rows()
    recorded = conventions.markdown(rows)
    assert conventions.differences(recorded, rows) == []
    unmarked = _set_cell(recorded, "max k3 s2 p1", "paddle", "emulated: explicit padding")
    assert conventions.differences(unmarked, rows) == [
        "line 3: '" + unmarked.splitlines()[2] + "', now '" + recorded.splitlines()[2] + "'"]
    also_unmarked = _set_cell(recorded, "max of a float16 window", "mxnet", LOWEST)
    assert conventions.differences(also_unmarked, rows)
    alternative = _set_marked(recorded, "max of a float16 window", "tensorflow", LOWEST)
    assert alternative != recorded
    assert conventions.differences(alternative, rows) == []
    never = _set_marked(recorded, "max of a float16 window", "tensorflow", NAN_IGNORED)
    assert "never" not in conventions.differences(never, rows)[0]  # recorded, not measured
    assert conventions.differences(never, rows)[0].startswith(
        "max of a float16 window of only -inf: tensorflow: ")
    unmarked_alternative = _set_cell(recorded, "max of a float16 window", "tensorflow", LOWEST)
    assert conventions.differences(unmarked_alternative, rows)
    elsewhere = re.sub(r"^Measured on: .*$", "Measured on: another CPU entirely", recorded,
                       flags=re.M)
    assert conventions.differences(elsewhere, rows) == []


def test_an_outcome_never_recorded_is_caught_when_measured():
    """Measured now, a marked cell's outcome that no backend records fails the check, even where
    the recorded table says the same: record it, with where it was seen."""
    unrecorded = _result("tensorflow", "differ", detail="1 of 4 differ (0.0 vs reference -inf)")
    rows = _doctored_rows(tensorflow=("max of a float16 window of only -inf", unrecorded))
    found = conventions.differences(conventions.markdown(rows), rows)
    assert len(found) == 1 and "never recorded" in found[0], found
    recorded = _result("tensorflow", "differ", detail=f"1 of 4 differ ({LOWEST.removeprefix(conventions.DIFFERS)})")
    rows = _doctored_rows(tensorflow=("max of a float16 window of only -inf", recorded))
    assert conventions.differences(conventions.markdown(rows), rows) == []


NO_AUTOGRAD = "onnxruntime has no autograd: an InferenceSession runs the model forward only"
VJP = ("jax has no VJP for a dilated max or min reduce_window (jax: NotImplementedError: VJP "
       "not implemented for select_and_gather (MaxPool) with window dilation, got "
       "window_dilation=(1, 2, 2, 1).)")
ONEDNN = ("BackendError: mxnet: MXNetError: could not create a descriptor for a pooling forward "
          "propagation primitive")


def _one_row(name, **results):
    rows = conventions.Measured()
    rows.append((_probe(name), {b: results.get(b) or _result(
        b, grad="agree" if _probe(name).grad else None) for b in BACKENDS}))
    rows.machines = {}
    return rows


@pytest.mark.parametrize("name,result,runs", [
    ("backward: lp", _result("onnxruntime", grad="not compared", grad_detail=NO_AUTOGRAD), True),
    ("backward: max ties, dilation 2", _result("jax", grad="not compared", grad_detail=VJP),
     True),
    ("backward: avg ceil_mode, padding not counted, float16",
     _result("mxnet", grad="error", grad_detail=ONEDNN), True),
    ("backward: lp", _result("mxnet", grad="error", grad_detail=ONEDNN), False),
    ("backward: lp", BackendResult("onnxruntime", "unavailable", detail="no environment",
                                   grad_status="unavailable", grad_detail="no environment"),
     False),
    ("max k3 s2 p1", BackendResult("onnxruntime", "error", detail="worker died"), False),
], ids=["no-autograd", "no-gradient-by-design", "recorded-gradient-error",
        "unrecorded-gradient-error", "no-environment", "forward-error"])
def test_what_counts_as_could_not_run(name, result, runs):
    rows = _one_row(name, **{result.backend: result})
    assert (conventions.could_not_run(rows) == {}) == runs


@pytest.mark.parametrize("runs", [True, False], ids=["no-autograd-written", "unrun-refused"])
def test_update_docs_refuses_only_an_incomplete_table(monkeypatch, runs):
    from pooling_xfw import cli

    onnx = (_result("onnxruntime", grad="not compared", grad_detail=NO_AUTOGRAD) if runs else
            BackendResult("onnxruntime", "unavailable", detail="no environment"))
    rows = _one_row("backward: lp", onnxruntime=onnx)
    written = []
    monkeypatch.setattr(conventions, "measure", lambda backends: rows)
    monkeypatch.setattr(conventions, "update_page", lambda path, text, *marks: written.append(
        text))
    code = cli.main(["conventions", "--update-docs"])
    assert code == (cli.EXIT_OK if runs else cli.EXIT_UNAVAILABLE)
    assert len(written) == (2 if runs else 0)  # the conventions table, the backends table


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
    readme = [line for line in _docs_block().splitlines() if line.startswith(f"| {row}")]
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
    cells = dict(zip(BACKENDS, conventions._cells(row)[1:]))
    for backend, r in doc["cases"][0]["results"].items():
        cell = cells[backend]
        if probe.marked(backend):
            marks = conventions._marks(measured, BACKENDS)
            cell = conventions._unmark(cell, conventions._mark(probe, backend, marks))
        if r["grad_status"] == "agree":
            assert cell == conventions._path_cell(r["how"]), (backend, row)
        elif r["grad_status"] == "not compared":  # no autograd: the reason's first clause
            assert cell == f"not compared: {conventions._no_autograd(r['grad_detail'])}", (
                backend, row)
        elif r["grad_status"] == "error":  # the framework's autograd raised: its message
            assert cell.startswith(f"error: {backend}'s autograd raised ") and (
                cell.endswith(r["grad_detail"].split(f"{backend}: ", 1)[1])), (backend, row)
        else:
            assert r["grad_status"] == "differ", r
            assert cell == f"**differs**: {conventions._cause(r['grad_detail'])}"
    statuses = {r["grad_status"] for r in doc["cases"][0]["results"].values()}
    differs = "differ" in statuses or doc["summary"]["differ"]
    # a gradient that does not exist (ONNX Runtime) or raised (JAX): compare's exit 3
    unrun = bool(statuses & {"error", "unavailable"})
    assert proc.returncode == (1 if differs else 3 if unrun else 0), proc.stderr


def test_a_worker_on_another_machine_is_named_with_it():
    rows = _one_row("max k3 s2 p1")
    elsewhere = dict(machine(), cpu="Some Other CPU", cores=64)
    rows.machines = {"jax": elsewhere, "onnxruntime": None}
    line = conventions.machine_line(rows)
    assert line.startswith(MEASURED_ON + conventions.describe_machine(machine()) + ";"), line
    assert "jax 1.0 with numpy 2.0 on Some Other CPU (" in line and "64 logical CPUs" in line
    assert "onnxruntime 1.0 with numpy 2.0 (its machine not reported)" in line, line
    assert "pytorch 1.0 with numpy 2.0," in line, line  # this machine: not repeated
    assert platform.node() not in line
