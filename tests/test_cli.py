"""The command line, run as a user runs it: exit codes, formats, errors, the HTML in a browser."""
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw import registry

from . import warm_cli

ROOT = Path(__file__).resolve().parents[1]


#: variables a command may be given and still run in the warm driver: they change nothing a
#: pipe shows (colour is for a terminal only)
_WARM_SAFE = {"NO_COLOR"}


#: options that choose a backend's interpreter or gateway: they take effect when its worker
#: starts, so a command giving them runs in a process of its own
_STARTS_WORKERS = {"--python", "--gateway"}


def cli(*args, env=None, check_exit=None, umask=None, cwd=ROOT, fresh=False):
    """``pooling-xfw ARGS``: its exit code, stdout and stderr.  In the tests' warm driver
    (``warm_cli``: its workers started once), unless it needs a process of its own: ``env``
    beyond ``_WARM_SAFE``, a ``umask``, an option of ``_STARTS_WORKERS``, or ``fresh`` (what a
    first start says)."""
    if (not fresh and umask is None and not set(env or {}) - _WARM_SAFE
            and not _STARTS_WORKERS & set(args)):
        proc = warm_cli.run(list(args), cwd, dict(os.environ))
    else:
        proc = subprocess.run([sys.executable, "-m", "pooling_xfw", *args], capture_output=True,
                              text=True, cwd=cwd, env={**os.environ, **(env or {})},
                              timeout=600,
                              preexec_fn=None if umask is None else (lambda: os.umask(umask)))
    if check_exit is not None:
        assert proc.returncode == check_exit, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def _one_line_error(proc, *fragments):
    """One error line on stderr, holding every fragment, and no traceback."""
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [l for l in proc.stderr.splitlines() if l.startswith("pooling-xfw: error:")]
    assert len(errors) == 1 and all(f in errors[0] for f in fragments), proc.stderr


@pytest.fixture(scope="module")
def report_json(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.json"
    proc = cli("report", "--format", "json", "--output", str(out), check_exit=0, fresh=True)
    assert "starting" in proc.stderr and proc.stdout == ""
    return json.loads(out.read_text())


def test_report_runs_every_chapter_example_on_every_backend(report_json):
    assert report_json["schema"] == "pooling-xfw/report/1"
    assert [c["name"] for c in report_json["cases"]] == [c.name for c in px.cases.CHAPTER]
    assert list(report_json["backends"]) == list(registry.defaults())
    for info in report_json["backends"].values():
        assert info["status"] == "ready" and info["framework_version"] and info["numpy_version"]
    for case, chapter in zip(report_json["cases"], px.cases.CHAPTER):
        assert case["reference_matches_expected"] is True
        assert case["expected"] == chapter.expected.tolist()
        for result in case["results"].values():
            assert result["status"] == "agree" and result["max_abs_diff"] == 0
            assert result["output"] == chapter.expected.tolist()
            assert result["how"]["path"] in ("native", "emulated") and result["how"]["code"]
    assert report_json["summary"] == {"agree": 6 * len(registry.defaults()), "differ": 0, "error": 0,
                                      "unavailable": 0, "mismatch": 0, "exit_code": 0}


def test_text_report_is_a_table_with_versions():
    proc = cli("report", env={"NO_COLOR": "1"}, check_exit=0)
    lines = proc.stdout.splitlines()
    header = next(l for l in lines if l.startswith("case"))
    for token in ("chapter", "mxnet 1.9.1", "pytorch 2.13.0", "tensorflow 2.21.0", "paddle 3.3.1",
                  "jax 0.12.0.1", "onnxruntime 1.32.0"):
        assert token in header
    rows = [l for l in lines if l.split() and l.split()[0] in {c.name for c in px.cases.CHAPTER}]
    assert len(rows) == 6 and all(l.split()[1:] == ["ok"] + ["agree"] * 6 for l in rows)
    assert "\033[" not in proc.stdout
    assert "summary: 36 agree, 0 differ, 0 error, 0 unavailable; exit 0" in proc.stdout


def test_markdown_report():
    out = cli("report", "--format", "markdown", "--cases", "pool2d-avg", check_exit=0).stdout
    assert "| case | chapter | mxnet 1.9.1 |" in out and "| pool2d-avg | ok | agree |" in out


@pytest.fixture(scope="module")
def nan_input(tmp_path_factory):
    path = tmp_path_factory.mktemp("inputs") / "nan.npy"
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4) - 8
    x[0, 0, 1, 1] = np.nan
    np.save(path, x)
    return path


def test_a_difference_exits_1_and_says_why(nan_input):
    proc = cli("compare", "--input", str(nan_input), "--kernel", "2", "--verbose",
               env={"NO_COLOR": "1"}, check_exit=1)
    assert "cli / tensorflow: differ: 1 of 4 differ; first at (0, 0, 0, 0): -4.0 vs " \
           "reference nan (NaN in the window ignored" in proc.stdout
    assert "y = F.max_pool2d(x, kernel_size=(2, 2), stride=(2, 2))" in proc.stdout
    assert "at (0, 0, 0, 0): tensorflow -4.0  reference nan" in proc.stdout


def test_a_backend_that_cannot_run_exits_3():
    proc = cli("compare", "--shape", "1,1,4,4", "--kernel", "2", "--format", "json",
               env={"POOLING_XFW_PYTHON_PADDLE": "/nonexistent/python"}, check_exit=3)
    doc = json.loads(proc.stdout)
    assert doc["backends"]["paddle"]["status"] == "unavailable"
    assert doc["cases"][0]["results"]["paddle"]["status"] == "unavailable"
    assert doc["cases"][0]["results"]["pytorch"]["status"] == "agree"


def test_python_flag_points_a_backend_at_an_interpreter():
    proc = cli("--python", "mxnet=/nonexistent/python", "compare", "--shape", "4,4",
               "--kernel", "2", "--backends", "mxnet,pytorch", "--format", "json",
               check_exit=3)
    doc = json.loads(proc.stdout)
    assert "/nonexistent/python" in doc["backends"]["mxnet"]["detail"]
    assert list(doc["backends"]) == ["mxnet", "pytorch"]


@pytest.fixture
def docs_kept():
    """docs/conventions.md's bytes before the test; put back after it, whatever the test did."""
    page = ROOT / "docs" / "conventions.md"
    before = page.read_bytes()
    yield before
    if page.read_bytes() != before:
        page.write_bytes(before)


NO_PADDLE = ["--python", "paddle=/nonexistent/python"]
NO_TF = {"POOLING_XFW_PYTHON_TENSORFLOW": "/nonexistent/python"}
CANNOT_START = "cannot start /nonexistent/python"


@pytest.mark.parametrize("args,env,code,fragments", [
    (NO_PADDLE + ["audit-chapter"], None, 3,
     ["could not run paddle (", CANNOT_START, "): the audit is incomplete"]),
    (["explain", "pytorch", "nn.MaxPool2d(2)", "tensorflow",
      "tf.keras.layers.MaxPool2D(pool_size=2)"], NO_TF, 3,
     ["could not run tensorflow (", CANNOT_START, "): the witness was not run"]),
    (["explain", "pytorch", "nn.MaxPool2d(3, padding=1, stride=2)", "tensorflow",
      "tf.keras.layers.MaxPool2D(pool_size=[3, 3], padding='same', strides=2)"], NO_TF, 1,
     ["could not run tensorflow (", CANNOT_START, "): the witness was not run"]),
    (NO_PADDLE + ["conventions", "--backends", "pytorch,paddle"], None, 3,
     ["could not run paddle (", CANNOT_START, "): the table is incomplete"]),
    (NO_PADDLE + ["conventions", "--update-docs"], None, 3,
     ["could not run paddle (", CANNOT_START, "): the table would be incomplete; "
                                              "docs/conventions.md not written"]),
    (["conventions", "--backends", "pytorch", "--update-readme"], None, 2,
     ["error: --update-docs: got --backends pytorch; allowed: every backend",
      "docs/conventions.md not written"]),
], ids=["audit-chapter", "explain-equivalent-witness-not-run",
        "explain-not-equivalent-stays-1", "conventions", "conventions-update-docs",
        "conventions-update-readme-its-former-name-some-backends"])
def test_a_backend_that_could_not_run_is_named_in_one_line(docs_kept, args, env, code,
                                                           fragments):
    proc = cli(*args, env=env, check_exit=code)
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("pooling-xfw:")]
    assert len(lines) == 1 and all(f in lines[0] for f in fragments), proc.stderr
    assert (ROOT / "docs" / "conventions.md").read_bytes() == docs_kept
    if "audit-chapter" in args:
        assert "maxpool-k3 / paddle: could not run; on X-100: - (reference [[-90.]]: not run)" \
            in proc.stdout


@pytest.mark.parametrize("args,message", [
    (["compare", "--shape", "1,1,4,4", "--kernel", "9"], "--kernel 9: got kernel 9"),
    (["compare", "--shape", "1,1,4,4", "--kernel", "2", "--padding", "1,2,3,4"],
     "--padding 1,2,3,4: 4 values; allowed:"),
    (["compare", "--shape", "1,1,4,4", "--kernel", "2", "--mode", "mean"],
     "--mode mean: unknown mode; allowed: max, avg, min, lp"),
    (["compare", "--shape", "1,1,4,4", "--kernel", "2", "--layout", "CHWN"], "--layout CHWN: "),
    (["compare", "--shape", "1,x", "--kernel", "2"], "--shape 1,x: 'x' is not an int"),
    (["compare", "--input", "/nonexistent.npy", "--kernel", "2"],
     "--input /nonexistent.npy: cannot read"),
    (["compare", "--shape", "4,4", "--kernel", "2", "--backends", "caffe"],
     "--backends caffe: unknown backend 'caffe'"),
    (["report", "--cases", "nope"], "--cases nope: unknown case 'nope'; allowed: pool2d-max"),
    (["report", "--format", "yaml"], "--format yaml: unknown format"),
    (["frobnicate"], "frobnicate: unknown command"),
], ids=["kernel-too-large", "padding-3-values", "unknown-mode", "unknown-layout", "bad-shape",
        "missing-input", "unknown-backend", "unknown-case", "unknown-format", "unknown-command"])
def test_usage_errors_are_one_line_and_exit_2(args, message):
    proc = cli(*args, check_exit=2)
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and "starting" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def _npy(tmp_path, kind: str) -> str:
    """A broken .npy file: empty, not a .npy at all, or cut in its header or its data."""
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((1, 1, 40, 40), np.float32))
    data = {"empty": b"", "garbage": bytes(range(7, 37)), "cut-header": good.read_bytes()[:100],
            "cut-data": good.read_bytes()[:1000]}[kind]
    path = tmp_path / f"{kind}.npy"
    path.write_bytes(data)
    return str(path)


HUGE = "10000000,10000000"  # 1.2 PB to make: beyond any machine's memory


@pytest.mark.parametrize("args,fragments", [
    (["compare", "--input", "npy:empty", "--kernel", "2"],
     ["--input ", ": cannot read it as a .npy array", "(the file is empty)"]),
    (["compare", "--input", "npy:garbage", "--kernel", "2"],
     ["--input ", ": cannot read it", "not a .npy file"]),
    (["compare", "--input", "npy:cut-header", "--kernel", "2"],
     ["--input ", ": cannot read it", "reading array header"]),
    (["compare", "--input", "npy:cut-data", "--kernel", "2"],
     ["--input ", ": cannot read it", "its header says (1, 1, 40, 40) of float32, 6.4 kB, and "
                                      "the file holds 872 B after it"]),
    (["compare", "--shape", HUGE, "--kernel", "2"],
     [f"--shape {HUGE}: the 10000000 x 10000000 float32 input", "would need 1.2 PB",
      "more than this machine's memory"]),
    (["compare", "--shape", "1,1,99999999999999999999,4", "--kernel", "2"],
     ["--shape 1,1,99999999999999999999,4: ", "would need 4.8 ZB", "machine's memory"]),
    (["compare", "--shape", "1,1,4,4", "--kernel", "2", "--stride", "99999999999999999999"],
     ["--stride 99999999999999999999: 99999999999999999999 is 2**63 or more; allowed: an int "
      ">= 1 and < 2**63"]),
    (["translate", "--from", "pytorch", "nn.MaxPool2d(3)", "--shape", f"1,1,{HUGE}"],
     [f"--shape 1,1,{HUGE}: the random", "would need 2.0 PB", "machine's memory"]),
    (["translate", "--from", "pytorch", "nn.MaxPool2d(3)", "--shape",
      "1,1,99999999999999999999,4", "--no-verify"],
     ["--shape 1,1,99999999999999999999,4: ", "2**63 or more; allowed:", "product is < 2**63"]),
    (["explain", "pytorch", "nn.MaxPool2d(3)", "pytorch", "nn.MaxPool2d(3, stride=1)",
      "--shape", f"1,1,{HUGE}"],
     [f"--shape 1,1,{HUGE}: the 10000000 x 10000000 inputs",
      "would need 1.6 PB", "machine's memory"]),
], ids=["npy-empty", "npy-garbage", "npy-cut-in-header", "npy-cut-in-data", "shape-huge",
        "shape-beyond-int64", "stride-beyond-int64", "translate-shape-huge",
        "translate-no-verify-beyond-int64", "explain-shape-huge"])
def test_bad_inputs_and_sizes_are_one_line_exit_2(tmp_path, args, fragments):
    args = [_npy(tmp_path, a[4:]) if a.startswith("npy:") else a for a in args]
    proc = cli(*args, check_exit=2)
    _one_line_error(proc, *fragments)
    assert proc.stderr.count("\n") == 1 and "starting" not in proc.stderr


def test_translate_no_verify_renders_a_huge_shape_without_making_it():
    proc = cli("translate", "--from", "tensorflow",
               "AveragePooling2D(pool_size=3, strides=2, padding='same')", "--shape",
               f"1,{HUGE},3", "--no-verify", check_exit=0)
    assert "output 5000000x5000000" in proc.stdout and "F.avg_pool2d(" in proc.stdout
    assert proc.stderr == ""


def test_pickled_input_is_refused(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    proc = cli("compare", "--input", str(path), "--kernel", "2", check_exit=2)
    assert f"--input {path}: cannot read" in proc.stderr and "pickle" in proc.stderr.lower()


def test_padding_forms_on_the_command_line(tmp_path):
    out = tmp_path / "r.json"
    cli("compare", "--shape", "1,5,6,2", "--values", "negative", "--kernel", "2,3",
        "--stride", "1", "--padding", "1:0,0:2", "--layout", "NHWC", "--mode", "avg",
        "--exclude-pad", "--ceil-mode", "--format", "json", "--output", str(out), check_exit=0)
    spec = json.loads(out.read_text())["cases"][0]["spec"]
    assert spec["padding"] == [[1, 0], [0, 2]] and spec["count_include_pad"] is False
    assert spec["pool_size"] == [2, 3] and spec["layout"] == "NHWC" and spec["ceil_mode"]


def test_cases_from_a_json_file(tmp_path):
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps([{"name": "neg", "input": [[-1, -2], [-3, -4]],
                                  "kwargs": {"pool_size": 2, "padding": 1, "stride": 2},
                                  "expected": [[-1, -2], [-3, -4]]}]))
    doc = json.loads(cli("report", "--cases", str(cases), "--format", "json",
                         check_exit=0).stdout)
    assert doc["cases"][0]["reference_matches_expected"] is True


@pytest.mark.parametrize("case,code,note", [
    ({"name": "neg", "input": [[-1, -2], [-3, -4]], "expected": [[-1, -2], [-3, -5]],
      "kwargs": {"pool_size": 2, "padding": 1, "stride": 2}}, 1,
     "neg: MISMATCH: the reference does not match the case's expected output (1 of 4 cells "
     "differ; first at (1, 1): expected -5.0, reference -4.0)"),
    ({"name": "wide", "input": [[1, 2], [3, 4]], "expected": [[4, 4]],
      "kwargs": {"pool_size": 2}}, 1,
     "wide: MISMATCH: the reference does not match the case's expected output (expected shape "
     "(1, 2), reference (1, 1))"),
    ({"name": "ninth", "input": [[1, 0, 0], [0, 0, 0], [0, 0, 0]], "expected": [[0.1111111]],
      "kwargs": {"pool_size": 3, "mode": "avg"}}, 0, None),
], ids=["value-differs-exits-1", "shape-differs-exits-1", "avg-within-tolerance-exits-0"])
def test_a_case_file_whose_expected_output_is_not_the_reference(tmp_path, case, code, note):
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps([case]))
    text = cli("report", "--cases", str(cases), "--backends", "pytorch", env={"NO_COLOR": "1"},
               check_exit=code)
    assert "Traceback" not in text.stderr
    row = next(l.split() for l in text.stdout.splitlines() if l.startswith(case["name"] + " "))
    assert row == [case["name"], "MISMATCH" if code else "ok", "agree"]
    if code:
        assert note in text.stdout.splitlines()
        assert text.stdout.rstrip().endswith("0 unavailable, 1 MISMATCH their expected output; "
                                             "exit 1")
    doc = json.loads(cli("report", "--cases", str(cases), "--backends", "pytorch",
                         "--format", "json", check_exit=code).stdout)
    assert doc["cases"][0]["reference_matches_expected"] is (code == 0)
    assert doc["summary"]["mismatch"] == (1 if code else 0)
    assert doc["cases"][0]["expected_detail"] == ("" if note is None else note.split("(", 1)[1]
                                                  .rsplit(")", 1)[0])


def test_output_is_written_atomically(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("old report\n")
    cli("report", "--cases", "pool2d-max", "--output", str(target), check_exit=0)
    assert target.read_text().startswith("pooling-xfw")
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]  # no temporary left behind


@pytest.mark.parametrize("umask,existing,expected", [
    (0o022, None, 0o644), (0o077, None, 0o600), (0o002, None, 0o664),
    (0o022, 0o600, 0o600), (0o077, 0o644, 0o644), (0o022, 0o640, 0o640),
], ids=["new-umask-022", "new-umask-077", "new-umask-002", "replaced-0600-kept",
        "replaced-0644-kept-under-umask-077", "replaced-0640-kept"])
def test_output_mode_is_the_umasks_or_the_replaced_files(tmp_path, umask, existing, expected):
    target = tmp_path / "report.txt"
    if existing is not None:
        target.write_text("old report\n")
        target.chmod(existing)
    cli("report", "--cases", "pool2d-max", "--backends", "pytorch", "--output", str(target),
        umask=umask, check_exit=0)
    assert target.read_text().startswith("pooling-xfw")
    assert oct(target.stat().st_mode & 0o7777) == oct(expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


@pytest.mark.parametrize("existing", [True, False], ids=["to-a-file", "dangling"])
def test_output_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path, existing):
    real = tmp_path / "reports" / "latest.txt"
    real.parent.mkdir()
    if existing:
        real.write_text("old report\n")
        real.chmod(0o640)
    link = tmp_path / "report.txt"
    link.symlink_to(Path("reports") / "latest.txt")
    cli("report", "--cases", "pool2d-max", "--backends", "pytorch", "--output", str(link),
        umask=0o022, check_exit=0)
    assert link.is_symlink() and os.readlink(link) == str(Path("reports") / "latest.txt")
    assert real.read_text().startswith("pooling-xfw")
    assert oct(real.stat().st_mode & 0o7777) == oct(0o640 if existing else 0o644)
    assert sorted(p.name for p in real.parent.iterdir()) == ["latest.txt"]


def test_output_to_a_descriptor_is_written_in_place(tmp_path):
    link = tmp_path / "out"  # a link to /dev/stdout: the same path through one more link
    link.symlink_to("/dev/stdout")
    proc = cli("report", "--cases", "pool2d-max", "--backends", "pytorch", "--output",
               str(link), check_exit=0, fresh=True)  # its own fd 1
    assert proc.stdout.startswith("pooling-xfw") and "summary: 1 agree" in proc.stdout
    assert link.is_symlink() and os.readlink(link) == "/dev/stdout"


@pytest.mark.parametrize("where,message", [
    ("/proc/r.txt", "--output: cannot write '/proc/r.txt' (cannot create a file in its "
                    "directory"),
    ("full", "(No space left on device); nothing was written in its place"),
], ids=["a-place-that-takes-no-files", "a-full-disk"])
def test_output_that_cannot_be_written_is_one_line_exit_2(tmp_path, where, message):
    if where == "full":  # a link to the device that is always full: the real write error
        where = tmp_path / "report.txt"
        where.symlink_to("/dev/full")
    proc = cli("report", "--cases", "pool2d-max", "--backends", "pytorch", "--output",
               str(where), check_exit=2)
    _one_line_error(proc, message)
    if isinstance(where, Path):
        assert where.is_symlink() and os.readlink(where) == "/dev/full"


@pytest.mark.parametrize("where,message", [
    ("", "--output: cannot write '' (an empty path); allowed: a file path"),
    ("loop", "(a symlink loop)"),
], ids=["empty", "a-symlink-loop"])
def test_output_that_names_no_file_is_refused_and_nothing_replaced(tmp_path, where, message):
    """An empty --output is not stdout, and a symlink loop is not replaced by a file."""
    if where == "loop":
        where = tmp_path / "loop"
        where.symlink_to(tmp_path / "loop2")
        (tmp_path / "loop2").symlink_to(where)
    proc = cli("compare", "--shape", "4,4", "--kernel", "2", "--backends", "pytorch",
               "--output", str(where), check_exit=2)
    _one_line_error(proc, message)
    assert proc.stdout == "" and "starting" not in proc.stderr  # refused before any work
    if where:
        assert where.is_symlink() and os.readlink(where) == str(tmp_path / "loop2")


@pytest.mark.parametrize("where,message", [
    ("fifo", "--output: cannot write '{path}' (a named pipe nothing reads)"),
    ("slash", "--output: cannot write '{path}' (it ends with /, which names a directory)"),
    ("the-input", "--output {path}: the file --input reads: it would be replaced by the report"),
], ids=["a-pipe-nothing-reads", "a-trailing-slash", "the-input-itself"])
def test_output_that_would_block_or_destroy_is_refused_before_any_work(tmp_path, where,
                                                                       message):
    x = tmp_path / "x.npy"
    np.save(x, np.ones((4, 4), np.float32))
    path = {"fifo": tmp_path / "pipe", "slash": f"{tmp_path}/out.txt/", "the-input": x}[where]
    if where == "fifo":
        os.mkfifo(path)
    proc = cli("compare", "--input", str(x), "--kernel", "2", "--backends", "pytorch",
               "--output", str(path), check_exit=2)
    _one_line_error(proc, message.format(path=path))
    assert "starting" not in proc.stderr and np.load(x).shape == (4, 4)


def test_the_top_level_help_names_every_default_backend():
    text = cli("--help", check_exit=0).stdout
    described = " ".join(text.split("exit codes:")[0].split())
    for name in registry.defaults():
        assert name in described, (name, described)
    assert "TensorFlow and Paddle:" not in text


def test_envs_list():
    proc = cli("envs", "list", check_exit=0)
    for backend in ("mxnet", "pytorch", "tensorflow", "paddle"):
        assert any(l.split()[:2] == [backend, "ready"] for l in proc.stdout.splitlines())


# --- the command line as a person reads it -------------------------------------------------------

def _commands(parser=None, path=()):
    """Every command of the CLI: (the words typed before ``--help``, its parser)."""
    import argparse

    from pooling_xfw.cli import build_parser

    parser = parser or build_parser()
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, path + (name,))
    return found


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "pooling_xfw"],
    [str(Path(sys.executable).parent / "pooling-xfw")],
], ids=["python -m pooling_xfw", "pooling-xfw script"])
def test_version_prints_the_name_and_the_version(command):
    proc = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"pooling-xfw {px.__version__}\n", "")


@pytest.mark.parametrize("path", [p for p, _ in _commands()],
                         ids=lambda p: " ".join(p) or "top level")
def test_help_is_plain_text_for_a_terminal(path):
    proc = cli(*path, "--help", env={"COLUMNS": "100"}, check_exit=0)
    text = proc.stdout
    assert text.startswith("usage: pooling-xfw") and proc.stderr == ""
    for raw in ("``", ":func:", ":class:", ":mod:", ":meth:", ":data:", ".. "):
        assert raw not in text, (raw, text)
    assert "`" not in text, text
    description = text.split("\n\n")[1]  # what the command does, under the usage
    assert not description.startswith(("options:", "positional arguments:")), text
    parser = dict(_commands())[path]
    assert all(a.help for a in parser._actions), [a.dest for a in parser._actions if not a.help]


@pytest.mark.parametrize("args,message", [
    ([], "a command is required; allowed: envs, report, compare, translate, explain, "
         "audit-chapter, scan, conventions"),
    (["frobnicate"], "frobnicate: unknown command; allowed: envs, report, compare, "),
    (["envs"], "envs: an action is required; allowed: create, list"),
    (["report", "--format", "yaml"], "--format yaml: unknown format; allowed: text, markdown"),
    (["report", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["compare", "--shape", "4,4"], "--kernel, --adaptive or --global is required; allowed: "
                                     "one of --kernel 3|2,3 (pooling with a window), "
                                     "--adaptive H,W"),
    (["compare", "--shape", "4,4", "--kernel", "2", "--jobs", "2"],
     "unrecognized arguments: --jobs 2"),
    (["explain", "pytorch"], "the following arguments are required: CALL_A"),
], ids=["no-command", "unknown-command", "envs-without-action", "unknown-format",
        "unknown-option", "missing-kernel", "option-of-another-command", "explain-missing-call"])
def test_usage_errors_have_one_prefix(args, message):
    proc = cli(*args, check_exit=2)
    assert proc.stderr.startswith(f"pooling-xfw: error: {message}"), proc.stderr
    assert proc.stderr.count("error:") == 1 and proc.stderr.count("pooling-xfw:") == 1
    assert proc.stderr.endswith("\n") and proc.stderr.count("\n") == 1 and proc.stdout == ""


def _one_usage_line(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("pooling-xfw: error: ") and proc.stdout == "", proc.stderr
    return proc.stderr[len("pooling-xfw: error: "):].rstrip("\n")


_SIZES = "allowed: an int >= 1 and < 2**63, or one per spatial axis as w, h,w or d,h,w"


@pytest.mark.parametrize("args,starts,allowed", [
    (["--kernel", "-3"], "--kernel -3: -3 is below 1", _SIZES + " (e.g. 3 or 2,3)"),
    (["--kernel", "2,3,4,5"], "--kernel 2,3,4,5: 4 values", _SIZES),
    (["--kernel", "2,3,4"], "--kernel 2,3,4: got (2, 3, 4)",
     "allowed: an int >= 1 and < 2**63 (C int64), or a pair (h, w) of such ints"),
    (["--kernel", "two"], "--kernel two: 'two' is not an int", _SIZES),
    (["--kernel", "9"], "--kernel 9: got kernel 9 with dilation 1 along H, a window of 9 cells",
     "allowed: a window no larger than the padded input"),
    (["--kernel", "2", "--stride", "-1,2"], "--stride -1,2: -1 is below 1",
     _SIZES + " (e.g. 2 or 2,3)"),
    (["--kernel", "2", "--stride", "1.5"], "--stride 1.5: '1.5' is not an int", _SIZES),
    (["--kernel", "2", "--dilation", "0"], "--dilation 0: 0 is below 1", _SIZES),
    (["--kernel", "2", "--padding", "-1"], "--padding -1: -1 is below 0",
     "allowed: an int >= 0, one per spatial axis (ph,pw), before:after per axis (e.g. 2:0,0:1; "
     "2:0 for one axis), same, same_lower or "
     "valid"),
    (["--kernel", "2", "--padding", "1,2,3,4"], "--padding 1,2,3,4: 4 values",
     "allowed: an int >= 0"),
    (["--kernel", "2", "--padding", "1:2:3,0"], "--padding 1:2:3,0: '1:2:3' is not before:after",
     "allowed: an int >= 0"),
    (["--kernel", "2", "--padding", "3"],
     "--padding 3: got (3, 3) along H, where output window 0 reads only padding",
     "allowed: pads that leave every window at least one input cell"),
    (["--kernel", "2", "--mode", "mean"], "--mode mean: unknown mode",
     "allowed: max, avg, min, lp"),
    (["--kernel", "2", "--mode", "maxx"], "--mode maxx: unknown mode (did you mean max?)",
     "allowed: max, avg, min, lp"),
    (["--kernel", "2", "--layout", "CHWN"], "--layout CHWN: unknown layout",
     "allowed: NCW, NWC, NCHW, NHWC, NCDHW, NDHWC"),
    (["--kernel", "2", "--layout", "NCW"], "--shape 1,1,4,4: 4 sizes",
     "allowed: 1 to 3 sizes >= 1, comma-separated: W, C,W or N,C,W (W,C or N,W,C for NWC), "
     "e.g. 1,3,8"),
    (["--kernel", "3", "--layout", "NCDHW"], "--kernel 3: got kernel 3 with dilation 1 along D",
     "allowed: a window no larger than the padded input"),
    (["--kernel", "2", "--mode", "lp", "--p", "0"], "--p 0: not > 0",
     "allowed: a finite number > 0 (the power of lp pooling)"),
    (["--kernel", "2", "--mode", "lp", "--p", "inf"], "--p inf: not finite", "allowed: a finite"),
    (["--kernel", "2", "--seed", "-1"], "--seed -1: -1 is below 0", "allowed: an int >= 0"),
    (["--kernel", "2", "--seed", "x"], "--seed x: 'x' is not an int", "allowed: an int >= 0"),
    (["--kernel", "2", "--format", "yaml"], "--format yaml: unknown format",
     "allowed: text, markdown, json, html"),
    (["--kernel", "2", "--dtype", "float8"], "--dtype float8: unknown dtype", "allowed: float16,"),
], ids=["kernel-negative", "kernel-four-values", "kernel-three-values-in-2d",
        "kernel-not-an-int", "kernel-larger-than-input", "stride-negative", "stride-not-an-int",
        "dilation-zero", "padding-negative", "padding-four-values", "padding-three-pads",
        "padding-only-windows", "mode-unknown", "mode-close-name", "layout-unknown",
        "shape-of-another-rank", "kernel-larger-than-a-3d-input", "p-zero", "p-infinite", "seed-negative",
        "seed-not-an-int", "format-unknown", "dtype-unknown"])
def test_flag_errors_echo_what_was_typed(args, starts, allowed):
    message = _one_usage_line(cli("compare", "--shape", "1,1,4,4", *args))
    assert message.startswith(starts) and allowed in message, message
    assert "(-" not in message and "((" not in message and "pool_size" not in message, message


# --- compare --adaptive / --global ---------------------------------------------------------------

def _parsed_case(*args):
    """The case ``compare`` would run for these options (parsed and checked; nothing runs)."""
    from pooling_xfw import cli
    from pooling_xfw.cli.inputs import single_case

    return single_case(cli.build_parser().parse_args(
        ["compare", "--shape", "1,1,7,7", *args]))


@pytest.mark.parametrize("args,op,kwargs", [
    (["--adaptive", "3,4"], "adaptive", {"output_size": (3, 4), "mode": "max"}),
    (["--adaptive", "5"], "adaptive", {"output_size": 5, "mode": "max"}),
    (["--adaptive", "-,3"], "adaptive", {"output_size": (None, 3), "mode": "max"}),
    (["--adaptive", "None,3"], "adaptive", {"output_size": (None, 3), "mode": "max"}),
    (["--adaptive", ",3"], "adaptive", {"output_size": (None, 3), "mode": "max"}),
    (["--adaptive", "3,-"], "adaptive", {"output_size": (3, None), "mode": "max"}),
    (["--adaptive", "0,2", "--mode", "AVG"], "adaptive", {"output_size": (0, 2), "mode": "avg"}),
    (["--adaptive=-,3", "--layout", "nhwc"], "adaptive",
     {"output_size": (None, 3), "mode": "max", "layout": "NHWC"}),
    (["--global"], "global", {"mode": "max", "p": 2.0, "keepdims": True}),
    (["--global", "--mode", "avg", "--no-keepdims"], "global",
     {"mode": "avg", "p": 2.0, "keepdims": False}),
    (["--global", "--mode", "lp", "--p", "3", "--keepdims"], "global",
     {"mode": "lp", "p": 3.0, "keepdims": True}),
], ids=["h-w", "one-int", "dash-keeps-h", "none-keeps-h", "empty-keeps-h", "dash-keeps-w",
        "zero-empties-h", "nhwc", "global-max", "global-avg-no-keepdims", "global-lp-p3"])
def test_compare_reads_adaptive_and_global_options(args, op, kwargs):
    case = _parsed_case(*args)
    assert case.op == op and case.kwargs == {"layout": "NCHW", **kwargs}, case.kwargs


@pytest.mark.parametrize("args,op,spec", [
    (["--adaptive", "3,-", "--mode", "avg"], "adaptive",
     {"output_size": [3, None], "mode": "avg", "layout": "NCHW"}),
    (["--global", "--mode", "lp", "--p", "3", "--no-keepdims"], "global",
     {"mode": "lp", "p": 3.0, "keepdims": False, "layout": "NCHW"}),
], ids=["adaptive-7-to-3-rows-kept", "global-lp-no-keepdims"])
def test_compare_runs_adaptive_and_global_on_every_backend(args, op, spec):
    from pooling_xfw.report import jsonable

    doc = json.loads(cli("compare", "--shape", "2,3,7,5", "--format", "json", *args,
                         check_exit=0).stdout)
    case = doc["cases"][0]
    assert case["op"] == op and case["spec"] == spec
    x = np.asarray(case["input"], np.float32)
    kwargs = {k: v for k, v in spec.items() if k != "output_size"}
    reference = (px.adaptive_pool2d(x, tuple(spec["output_size"]), **kwargs) if op == "adaptive"
                 else px.global_pool2d(x, **kwargs))
    assert case["reference"] == jsonable(reference)
    assert {n: r["status"] for n, r in case["results"].items()} == dict.fromkeys(
        registry.defaults(), "agree")


_ONE_OP = ("allowed: one of --kernel 3|2,3 (pooling with a window), --adaptive H,W (adaptive "
           "pooling to that output size) or --global (global pooling)")
_NO_WINDOW = ("--stride, --padding, --dilation, --ceil-mode, --exclude-pad and --divisor with "
              "--kernel")
_OUTPUT_SIZE = ("allowed: an int >= 0 (every axis), or one per spatial axis (w, h,w or d,h,w), "
                "each an int >= 0 or - (None, or nothing")


@pytest.mark.parametrize("args,starts,allowed", [
    (["--adaptive", "3,4", "--kernel", "2"],
     "--adaptive 3,4: not with --kernel 2: one operation per compare", _ONE_OP),
    (["--global", "--kernel", "2"], "--global: not with --kernel 2: one operation per compare",
     _ONE_OP),
    (["--global", "--adaptive", "3"], "--global: not with --adaptive 3: one operation",
     _ONE_OP),
    ([], "--kernel, --adaptive or --global is required", _ONE_OP),
    (["--adaptive", "3,4,5,6"], "--adaptive 3,4,5,6: 4 values", _OUTPUT_SIZE),
    (["--adaptive", "x,3"], "--adaptive x,3: 'x' is not an int", _OUTPUT_SIZE),
    (["--adaptive", "-1"], "--adaptive -1: -1 is below 0", _OUTPUT_SIZE),
    (["--adaptive", "-"], "--adaptive -: no output size", _OUTPUT_SIZE),
    (["--adaptive", "99999999999999999999"], "--adaptive 99999999999999999999: "
                                             "99999999999999999999 is 2**63 or more",
     _OUTPUT_SIZE),
    (["--adaptive", "100000000,100000000"],
     "--adaptive 100000000,100000000: the output of an input of shape (1, 1, 7, 7) in float32 "
     "would need", "allowed: an output that fits in memory"),
    (["--adaptive", "3", "--stride", "2"],
     "--stride 2: not with --adaptive 3: adaptive pooling has no window",
     "allowed: --mode max|avg and --layout with --adaptive; " + _NO_WINDOW),
    (["--adaptive", "3", "--padding", "same"],
     "--padding same: not with --adaptive 3: adaptive pooling has no window", _NO_WINDOW),
    (["--global", "--ceil-mode"], "--ceil-mode: not with --global: global pooling has no "
                                  "window",
     "allowed: --mode max|avg|lp, --p, --keepdims/--no-keepdims and --layout with --global"),
    (["--global", "--dilation", "2"], "--dilation 2: not with --global", _NO_WINDOW),
    (["--global", "--exclude-pad"], "--exclude-pad: not with --global", _NO_WINDOW),
    (["--adaptive", "3", "--p", "3"],
     "--p 3: not with --adaptive 3: adaptive pooling has no lp mode",
     "allowed: --p with --kernel or --global, and --mode lp"),
    (["--kernel", "2", "--no-keepdims"],
     "--no-keepdims: not with --kernel 2: only global pooling drops H and W",
     "allowed: --no-keepdims with --global"),
    (["--adaptive", "3", "--keepdims"], "--keepdims: not with --adaptive 3",
     "allowed: --keepdims with --global"),
    (["--adaptive", "3", "--mode", "min"], "--mode min: not a mode of --adaptive",
     "allowed: max, avg with --adaptive"),
    (["--adaptive", "3", "--mode", "lp"], "--mode lp: not a mode of --adaptive",
     "allowed: max, avg with --adaptive"),
    (["--global", "--mode", "min"], "--mode min: not a mode of --global",
     "allowed: max, avg, lp with --global"),
    (["--global", "--mode", "avgg"], "--mode avgg: unknown mode (did you mean avg?)",
     "allowed: max, avg, lp"),
    (["--global", "--mode", "lp", "--p", "-1"], "--p -1: not > 0", "allowed: a finite number"),
    (["--global", "--layout", "CHWN"], "--layout CHWN: unknown layout", "allowed: NCW, NWC, NCHW, NHWC, NCDHW, NDHWC"),
    (["--global", "--p", "3"], "--p 3: not with --mode max: p is the power of lp pooling",
     "allowed: --p with --mode lp"),
    (["--kernel", "2", "--mode", "avg", "--p", "3"],
     "--p 3: not with --mode avg: p is the power of lp pooling", "allowed: --p with --mode lp"),
], ids=["adaptive-with-kernel", "global-with-kernel", "global-with-adaptive", "no-operation",
        "adaptive-three-values", "adaptive-not-an-int", "adaptive-negative", "adaptive-dash-alone",
        "adaptive-beyond-int64", "adaptive-larger-than-memory", "adaptive-with-stride",
        "adaptive-with-padding", "global-with-ceil-mode", "global-with-dilation",
        "global-with-exclude-pad", "adaptive-with-p", "kernel-with-no-keepdims",
        "adaptive-with-keepdims", "adaptive-min", "adaptive-lp", "global-min",
        "global-mode-close-name", "global-p-negative", "global-layout-unknown",
        "global-max-with-p", "kernel-avg-with-p"])
def test_adaptive_and_global_usage_errors_name_the_options_as_typed(args, starts, allowed):
    message = _one_usage_line(cli("compare", "--shape", "1,1,7,7", *args))
    assert message.startswith(starts) and allowed in message, message
    assert "output_size" not in message and "keepdims=" not in message, message


@pytest.mark.parametrize("array,problem", [
    (np.zeros((1, 1, 1, 4, 4), np.float32), "got '<array of rank 5>'; allowed: rank 2 (H, W)"),
    (np.zeros((4, 4), np.complex64), "got dtype complex64; allowed: integer or real floating"),
    (None, "cannot read it as a .npy array without pickles"),
], ids=["rank-5", "complex-dtype", "not-npy"])
def test_input_errors_name_the_file_and_what_is_wrong(tmp_path, array, problem):
    path = tmp_path / "x.npy"
    if array is None:
        path.write_text("not an array")
    else:
        np.save(path, array)
    message = _one_usage_line(cli("compare", "--input", str(path), "--kernel", "2"))
    assert message.startswith(f"--input {path}: {problem}"), message


@pytest.mark.parametrize("command,shape,problem,allowed", [
    ("compare", "1,x,4", "'x' is not an int", "allowed: 2 to 4 sizes >= 1, comma-separated"),
    ("compare", "0", "1 size", "allowed: 2 to 4 sizes >= 1, comma-separated"),
    ("compare", "", "empty", "allowed: 2 to 4 sizes >= 1, comma-separated"),
    ("compare", "4,-4", "-4 is below 1", "allowed: 2 to 4 sizes >= 1, comma-separated"),
    ("compare", "4,,4", "'' is not an int", "allowed: 2 to 4 sizes >= 1, comma-separated"),
    ("compare", "1,1,1,4,4", "5 sizes", "allowed: 2 to 4 sizes >= 1, comma-separated"),
    ("compare", "100000,100000,100000",
     "the 100000 x 100000 x 100000 float32 input (randn, made in float64) would need 12.0 PB",
     "allowed: a shape whose input fits in memory"),
    ("translate", "8,8,x", "'x' is not an int", "allowed: 2 to 4 sizes >= 1, comma-separated"),
], ids=["not-an-int", "one-size", "empty", "negative-size", "empty-size", "five-sizes",
        "larger-than-memory", "translate-not-an-int"])
def test_shape_errors_name_the_shape_and_its_form(command, shape, problem, allowed):
    import shlex

    extra = (["--kernel", "2"] if command == "compare"
             else ["nn.MaxPool2d(2)", "--from", "pytorch", "--no-verify"])
    message = _one_usage_line(cli(command, "--shape", shape, *extra))
    assert message.startswith(f"--shape {shlex.quote(shape)}: {problem}"), message
    assert allowed in message, message


_BACKENDS_ALLOWED = "allowed: mxnet, pytorch, tensorflow, paddle, jax, onnxruntime"
_PORTING_SOURCES = "allowed: mxnet, pytorch, tensorflow, paddle, jax"


@pytest.mark.parametrize("args,starts", [
    (["compare", "--shape", "4,4", "--kernel", "2", "--backends", "torch"],
     "--backends torch: unknown backend 'torch' (did you mean pytorch?)"),
    (["report", "--backends", "mxnet,tf"],
     "--backends mxnet,tf: unknown backend 'tf' (did you mean tensorflow?)"),
    (["report", "--backends", "caffe"], "--backends caffe: unknown backend 'caffe'; "),
    (["report", "--backends", ","], "--backends ,: no backend named; "),
    (["envs", "list", "--backends", "pytorch,mx"],
     "--backends pytorch,mx: unknown backend 'mx' (did you mean mxnet?)"),
    (["conventions", "--backends", "padle"],
     "--backends padle: unknown backend 'padle' (did you mean paddle?)"),
    (["translate", "nn.MaxPool2d(2)", "--from", "torch", "--shape", "4,4"],
     "--from torch: unknown backend (did you mean pytorch?)"),
    (["translate", "nn.MaxPool2d(2)", "--from", "pytorch", "--shape", "4,4", "--to", "torch"],
     "--to torch: unknown backend 'torch' (did you mean pytorch?)"),
    (["explain", "torch", "nn.MaxPool2d(2)", "pytorch", "nn.MaxPool2d(2)"],
     "FRAMEWORK_A torch: unknown backend (did you mean pytorch?)"),
    (["--python", "torch=/usr/bin/python3", "envs", "list"],
     "--python torch=/usr/bin/python3: unknown backend 'torch' (did you mean pytorch?)"),
    (["--gateway", "tf=popen", "envs", "list"],
     "--gateway tf=popen: unknown backend 'tf' (did you mean tensorflow?)"),
], ids=["compare-torch", "report-tf-among-two", "report-caffe", "report-none", "envs-list-mx",
        "conventions-typo", "translate-from", "translate-to", "explain-framework", "python-pair",
        "gateway-pair"])
def test_backend_names_name_the_flag_and_the_backends(args, starts):
    """Every known backend is allowed; a porting source (``translate --from``, ``explain``)
    is one of the five the parser reads (onnxruntime is a target only)."""
    message = _one_usage_line(cli(*args))
    source = args[0] in ("translate", "explain") and "--to" not in args
    allowed = _PORTING_SOURCES if source else _BACKENDS_ALLOWED
    assert message.startswith(starts) and allowed in message, message
    assert source == (_BACKENDS_ALLOWED not in message), message


def test_backend_names_are_read_in_any_case():
    proc = cli("translate", "nn.MaxPool2d(2)", "--from", "PyTorch", "--shape", "4,4",
               "--to", "MXNet,Paddle", "--no-verify", check_exit=0)
    assert "source (pytorch): nn.MaxPool2d" in proc.stdout
    assert "# mxnet: native" in proc.stdout and "# paddle: native" in proc.stdout


@pytest.mark.parametrize("values", ["negative", "randn"])
def test_negative_values_are_refused_for_an_unsigned_dtype(values):
    message = _one_usage_line(cli("compare", "--shape", "4,4", "--kernel", "2", "--values",
                                  values, "--dtype", "uint8"))
    assert message.startswith(f"--values {values} --dtype uint8: "), message
    assert "allowed: --values arange with an unsigned --dtype" in message, message


def test_an_unsigned_dtype_defaults_to_arange_values():
    doc = json.loads(cli("compare", "--shape", "3,3", "--kernel", "2", "--dtype", "uint8",
                         "--backends", "pytorch", "--format", "json", check_exit=0).stdout)
    assert doc["cases"][0]["input"] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


_NEG_CASE = [{"name": "neg", "input": [[-1, -2], [-3, -4]],
              "kwargs": {"pool_size": 2, "padding": 1, "stride": 2},
              "expected": [[-1, -2], [-3, -4]]}]


@pytest.mark.parametrize("files,cases,exit_code,outcome", [
    ({"pool2d-max": "not the case"}, "pool2d-max", 0, "pool2d-max"),
    ({"pool2d-max.json": _NEG_CASE}, "pool2d-max", 0, "pool2d-max"),
    ({"mycases": _NEG_CASE}, "./mycases", 0, "neg"),
    ({"mycases.json": _NEG_CASE}, "mycases.json", 0, "neg"),
    ({"sub/mycases": _NEG_CASE}, "sub/mycases", 0, "neg"),
    ({"mycases": _NEG_CASE}, "mycases", 2,
     "--cases mycases: unknown case 'mycases' (a file by that name is here: write ./mycases to "
     "read it); allowed: pool2d-max, pool2d-avg, "),
    ({}, "pool2d-mx", 2, "--cases pool2d-mx: unknown case 'pool2d-mx' (did you mean pool2d-max?)"),
    ({}, "nope.json", 2, "--cases nope.json: cannot read it (FileNotFoundError"),
    ({}, "", 2, "--cases '': no case named; allowed: "),
    ({"bad.json": [dict(_NEG_CASE[0], kwargs={"pool_size": 9})]}, "bad.json", 2,
     "--cases bad.json: case 'neg': pool_size: got kernel 9 with dilation 1 along H"),
], ids=["file-named-like-a-case", "json-file-named-like-a-case", "dot-slash-file", "json-file",
        "path-with-a-slash", "bare-name-of-a-file", "close-case-name", "missing-json-file",
        "empty", "case-that-does-not-fit"])
def test_cases_names_and_files_are_told_apart(tmp_path, files, cases, exit_code, outcome):
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(content if isinstance(content, str) else json.dumps(content))
    proc = cli("report", "--cases", cases, "--backends", "pytorch", "--format", "json",
               cwd=tmp_path)
    if exit_code == 2:
        message = _one_usage_line(proc)
        assert message.startswith(outcome), message
    else:
        assert proc.returncode == 0, proc.stderr
        assert [c["name"] for c in json.loads(proc.stdout)["cases"]] == [outcome]


@pytest.mark.parametrize("content,problem", [
    ({"name": "neg"}, "the file holds a JSON object, not a list of cases"),
    ("a string", "the file holds a JSON string, not a list of cases"),
    ([1], "case 1 is a JSON number, not an object"),
    ([{"name": "neg", "input": [[1]]}], "case 1 ('neg') has no kwargs"),
    ([{"input": [[1]]}], "case 1 has no name and no kwargs"),
    ([{"name": "neg", "input": [[1]], "kwargs": [2]}],
     "case 1 ('neg'): kwargs is a JSON list, not an object of the op's arguments"),
], ids=["an-object", "a-string", "a-number-for-a-case", "no-kwargs", "no-name-no-kwargs",
        "kwargs-a-list"])
def test_a_case_file_of_another_shape_says_what_it_holds(tmp_path, content, problem):
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(content))
    message = _one_usage_line(cli("report", "--cases", str(path)))
    assert message == (f"--cases {path}: {problem}; allowed: a JSON list of {{name, input, "
                       f"kwargs}}"), message


@pytest.mark.parametrize("item,problem", [
    (dict(input=[[-1, 2], [3, 4]], dtype="uint8"),
     "case 'c': input: -1 does not fit uint8 (whole numbers 0 to 255)"),
    (dict(input=[[1.5, 2], [3, 4]], dtype="int32"), "case 'c': input: 1.5 does not fit int32"),
    (dict(input=[[1e300, 2], [3, 4]], dtype="float16"),
     "case 'c': input: 1e+300 is beyond float16's range (it would become inf)"),
    (dict(input=[[1, 2], [3, "x"]]), "case 'c': input: cannot read input as numbers"),
    (dict(input=[[1, 2], [3, 4]], expected="abc"),
     "case 'c': expected: cannot read expected as numbers"),
    (dict(input=[[1, 2], [3, 4]], kwargs={"pool_size": 2, "foo": 1}),
     "case 'c': foo: got 1, not an argument of op='pool2d'; allowed: pool_size, mode"),
], ids=["negative-uint8", "fraction-int32", "beyond-float16", "a-word", "expected-a-word",
        "unknown-argument"])
def test_a_case_file_value_its_dtype_cannot_hold_is_refused(tmp_path, item, problem):
    """Never a silent wrap, truncation or inf: the case, the field and the value, one line."""
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([{"name": "c", "kwargs": {"pool_size": 2}, **item}]))
    message = _one_usage_line(cli("report", "--cases", str(path)))
    assert message.startswith(f"--cases {path}: {problem}"), message


def test_an_expected_average_of_integers_is_read_as_the_float64_it_is(tmp_path):
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([{"name": "c", "input": [[1, 2], [3, 4]], "dtype": "int32",
                                 "kwargs": {"pool_size": 2, "mode": "avg"},
                                 "expected": [[2.5]]}]))
    proc = cli("report", "--cases", str(path), "--backends", "pytorch", check_exit=0)
    assert "c     ok" in proc.stdout.replace("  expected", ""), proc.stdout


@pytest.mark.parametrize("flag,kind", [
    ("--cases", "fifo"), ("--cases", "device"), ("--cases", "duplicate-names"),
    ("--input", "fifo"), ("--input", "device"), ("--input", "huge-header")],
    ids=lambda v: v.lstrip("-"))
def test_a_file_that_is_no_regular_file_is_refused_without_reading(tmp_path, flag, kind):
    """A named pipe with no writer would block a read forever, /dev/zero never ends, and a
    .npy header may claim more than the file (or the machine) holds: refused, one line, at
    once."""
    if kind == "fifo":
        path = tmp_path / "pipe.json"
        os.mkfifo(path)
        problem = "a named pipe, not a regular file"
    elif kind == "device":
        path, problem = Path("/dev/zero"), "a character device, not a regular file"
    elif kind == "duplicate-names":
        path = tmp_path / "twice.json"
        case = {"name": "a", "input": [[1, 2], [3, 4]], "kwargs": {"pool_size": 2}}
        path.write_text(json.dumps([case, case]))
        problem = "case 2's name 'a' is the name of an earlier case"
    else:
        path = tmp_path / "huge.npy"
        with open(path, "wb") as out:
            np.lib.format.write_array_header_1_0(out, {"descr": "<f4", "fortran_order": False,
                                                      "shape": (1, 1, 200000, 200000)})
            out.write(b"0" * 64)
        problem = "its header says (1, 1, 200000, 200000) of float32, 160.0 GB"
    args = (["report", "--cases", str(path)] if flag == "--cases" else
            ["compare", "--input", str(path), "--kernel", "2"])
    proc = subprocess.run([sys.executable, "-m", "pooling_xfw", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert problem in _one_usage_line(proc), proc.stderr


@pytest.mark.parametrize("name,problem", [
    ("two\nlines", "case 1's name 'two\\nlines' has a control character"),
    ("carriage\rreturn", "case 1's name 'carriage\\rreturn' has a control character"),
    ("\x1b[31mred", "case 1's name '\\x1b[31mred' has a control character"),
    ("line\u2028separator", "case 1's name 'line\\u2028separator' has a control character"),
    ("", "case 1's name '' is empty"),
    (7, "case 1's name 7 is not a string"),
], ids=["newline", "carriage-return", "terminal-escape", "unicode-line-separator", "empty",
        "not-a-string"])
def test_case_names_that_would_break_a_table_are_refused(tmp_path, name, problem):
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([dict(_NEG_CASE[0], name=name)]))
    message = _one_usage_line(cli("report", "--cases", str(path)))
    assert message.startswith(f"--cases {path}: {problem}; allowed: a name on one line"), message


def _report_doc(cases, backends=("pytorch",)):
    """A report document as ``report.build`` makes it, every backend agreeing (none runs)."""
    from pooling_xfw.report import SCHEMA, jsonable

    info = {"status": "ready", "framework_version": "1.0", "numpy_version": np.__version__,
            "python": None, "host": None, "where": "this machine", "detail": ""}
    doc = {"schema": SCHEMA, "tool_version": px.__version__, "numpy_version": np.__version__,
           "backends": {b: dict(info) for b in backends}, "cases": []}
    for case in cases:
        reference = px.pool2d(case.input, **case.kwargs)
        agree = {"status": "agree", "max_abs_diff": 0.0, "output": reference, "detail": "",
                 "how": None, "differing": None}
        doc["cases"].append({
            "name": case.name, "title": case.title, "spec": px.make_spec(**case.kwargs).kwargs(),
            "input": case.input, "reference": reference, "expected": case.expected,
            "reference_matches_expected": None if case.expected is None else bool(
                np.array_equal(case.expected, reference)),
            "results": {b: dict(agree) for b in backends}})
    count = len(cases) * len(backends)
    doc["summary"] = {"agree": count, "differ": 0, "error": 0, "unavailable": 0, "exit_code": 0}
    return jsonable(doc)


def _user_case(name, expected=True):
    x = np.array([[-1.0, -2.0], [-3.0, -4.0]], np.float32)
    return px.cases.Case(name, name, x, {"pool_size": 2}, x[:1, :1] if expected else None)


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_a_table_escapes_control_characters_in_case_names(fmt):
    from pooling_xfw.report import render

    doc = _report_doc([_user_case("two\nlines\x1b[31m"), _user_case("plain")])
    doc["cases"][0]["results"]["pytorch"].update(status="error", detail="it broke")
    text = render(doc, fmt)
    assert "two\\nlines\\x1b[31m" in text and "\x1b" not in text
    rows = [l for l in text.splitlines() if "lines" in l or "plain" in l]
    assert len(rows) == 3, rows  # two table rows and the error note, each on one line


def _impostor():
    """A user's case named like a chapter example, with other numbers."""
    chapter = px.cases.CHAPTER[0]
    return px.cases.Case(chapter.name, chapter.title, chapter.input + 1, chapter.kwargs,
                         chapter.expected + 1)


@pytest.mark.parametrize("cases,header,legend", [
    (lambda: px.cases.CHAPTER[:2], ["case", "chapter", "pytorch 1.0"],
     "chapter: the reference equals the output printed in the chapter"),
    (lambda: [_user_case("mine")], ["case", "expected", "pytorch 1.0"],
     "expected: the reference equals the case's expected output"),
    (lambda: [_user_case("mine"), _user_case("other", expected=False)],
     ["case", "expected", "pytorch 1.0"], "-: the case gives no expected output"),
    (lambda: [_impostor()], ["case", "expected", "pytorch 1.0"],
     "expected: the reference equals the case's expected output"),
    (lambda: [px.cases.CHAPTER[0], _user_case("mine")], ["case", "expected", "pytorch 1.0"],
     "(the output printed in the chapter for its examples)"),
    (lambda: [_user_case("cli", expected=False)], ["case", "pytorch 1.0"], None),
], ids=["chapter-examples", "user-cases", "user-case-without-expected",
        "user-case-named-like-a-chapter-example", "chapter-and-user-cases", "no-expected-output"])
def test_the_expected_column_is_chapter_only_for_the_chapters_examples(cases, header, legend):
    from pooling_xfw.report import render

    text = render(_report_doc(list(cases())), "text")
    lines = text.splitlines()
    assert re.split(r"\s{2,}", lines[2].strip()) == header, lines[2]
    if legend:
        assert legend in text
    if header[1] != "chapter":
        assert "chapter:" not in text and "pooling-xfw audit-chapter" not in text, text
    markdown = render(_report_doc(list(cases())), "markdown")
    assert "| " + " | ".join(header) + " |" in markdown


def test_a_report_of_user_cases_titles_the_column_expected(tmp_path):
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(_NEG_CASE))
    out = cli("report", "--cases", str(path), "--backends", "pytorch", env={"NO_COLOR": "1"},
              check_exit=0).stdout
    header = next(l for l in out.splitlines() if l.startswith("case"))
    assert header.split()[:2] == ["case", "expected"] and "chapter" not in out, out


@pytest.mark.parametrize("cases,backends,counted", [
    (1, 1, "1 case x 1 backend,"), (2, 1, "2 cases x 1 backend,"),
    (1, 2, "1 case x 2 backends,"), (3, 4, "3 cases x 4 backends,"),
], ids=["1-case-1-backend", "2-cases-1-backend", "1-case-2-backends", "3-cases-4-backends"])
@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_the_summary_counts_cases_and_backends_in_words(cases, backends, counted, fmt):
    from pooling_xfw.report import render

    names = ("mxnet", "pytorch", "tensorflow", "paddle")[:backends]
    text = render(_report_doc([_user_case(f"c{i}") for i in range(cases)], names), fmt)
    assert text.splitlines()[0] == f"pooling-xfw {px.__version__}: {counted} reference numpy " \
                                   f"{np.__version__}"


def test_compare_of_one_case_on_one_backend_says_so():
    out = cli("compare", "--shape", "4,4", "--kernel", "2", "--backends", "pytorch",
              check_exit=0).stdout
    assert out.startswith(f"pooling-xfw {px.__version__}: 1 case x 1 backend, reference numpy")
    assert not re.search(r"\b1 (cases|backends)\b", out), out


_X_2D = "# x: the input X, shape (8, 8) (H, W), float32, as a 4-D NCHW array (1, 1, 8, 8) = " \
        "X[None, None]"
_Y_2D = "# y: (1, 1, 4, 4) NCHW; the result, shape (4, 4) (H, W), is y[0, 0]"


@pytest.mark.parametrize("args,x_line,y_line,blocks", [
    (["translate", "nn.MaxPool2d(2)", "--from", "pytorch", "--shape", "8,8", "--no-verify"],
     _X_2D, _Y_2D, len(registry.defaults())),
    (["translate", "tf.keras.layers.MaxPool2D(2)", "--from", "tensorflow", "--shape", "8,8,3",
      "--no-verify"],
     "# x: the input X, shape (8, 8, 3) (H, W, C), float32, as a 4-D NHWC array (1, 8, 8, 3) = "
     "X[None]", "# y: (1, 4, 4, 3) NHWC; the result, shape (4, 4, 3) (H, W, C), is y[0]",
     len(registry.defaults())),
    (["translate", "nn.MaxPool2d(2)", "--from", "pytorch", "--shape", "1,3,8,8", "--no-verify"],
     "# x: the input X, shape (1, 3, 8, 8) (N, C, H, W), float32", None, len(registry.defaults())),
    (["compare", "--shape", "8,8", "--kernel", "2", "--backends", "pytorch,tensorflow",
      "--verbose"], _X_2D, _Y_2D, 2),
    (["compare", "--shape", "3,8,8", "--kernel", "2", "--backends", "mxnet", "--verbose",
      "--dtype", "int32"],
     "# x: the input X, shape (3, 8, 8) (C, H, W), int32, as a 4-D NCHW array (1, 3, 8, 8) = "
     "X[None]", "    # y: (1, 3, 4, 4) NCHW; the result, shape (3, 4, 4) (C, H, W), is y[0]", 1),
    (["compare", "--shape", "8,8", "--layout", "NHWC", "--kernel", "2", "--backends", "paddle",
      "--verbose"],
     "# x: the input X, shape (8, 8) (H, W), float32, as a 4-D NHWC array (1, 8, 8, 1) = "
     "X[None, :, :, None]", "# y: (1, 4, 4, 1) NHWC; the result, shape (4, 4) (H, W), is "
     "y[0, :, :, 0]", 1),
    (["compare", "--shape", "7,7", "--adaptive", "3", "--backends", "pytorch,tensorflow",
      "--verbose"],
     "# x: the input X, shape (7, 7) (H, W), float32, as a 4-D NCHW array (1, 1, 7, 7) = "
     "X[None, None]", "# y: (1, 1, 3, 3) NCHW; the result, shape (3, 3) (H, W), is y[0, 0]", 2),
    (["compare", "--shape", "2,3,7,7", "--global", "--no-keepdims", "--backends",
      "mxnet,tensorflow", "--verbose"],
     "# x: the input X, shape (2, 3, 7, 7) (N, C, H, W), float32",
     "# y: (2, 3, 1, 1) NCHW; the result, shape (2, 3) (N, C), H and W dropped, is "
     "y[:, :, 0, 0]", 2),
    (["compare", "--shape", "7,7,3", "--layout", "NHWC", "--global", "--mode", "avg",
      "--no-keepdims", "--backends", "paddle", "--verbose"],
     "# x: the input X, shape (7, 7, 3) (H, W, C), float32, as a 4-D NHWC array (1, 7, 7, 3) = "
     "X[None]", "# y: (1, 1, 1, 3) NHWC; the result, shape (3,) (C), H and W dropped, is "
     "y[0, 0, 0, :]", 1),
    (["compare", "--shape", "7,7", "--global", "--no-keepdims", "--backends", "pytorch",
      "--verbose"],
     "# x: the input X, shape (7, 7) (H, W), float32, as a 4-D NCHW array (1, 1, 7, 7) = "
     "X[None, None]", "# y: (1, 1, 1, 1) NCHW; the result, shape (), H and W dropped, is "
     "y[0, 0, 0, 0]", 1),
], ids=["translate-HW", "translate-HWC", "translate-NCHW", "compare-HW-in-workers",
        "compare-CHW-int32", "compare-HW-NHWC", "compare-adaptive-HW", "compare-global-NCHW-dropped",
        "compare-global-HWC-dropped", "compare-global-HW-dropped"])
def test_the_code_shown_states_the_inputs_rank_and_layout(args, x_line, y_line, blocks):
    out = cli(*args, env={"NO_COLOR": "1"}, check_exit=0).stdout
    lines = [l.strip() for l in out.splitlines()]
    assert lines.count(x_line.strip()) == blocks, out
    assert lines.count(y_line.strip()) == blocks if y_line else "# y:" not in out, out
    assert "4-D NCHW array of" not in out and "4-D NHWC array of" not in out


# --- the HTML report in a real headless browser --------------------------------------------------

def _browser(html_path: Path, *args: str, size="1200,900") -> str:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (make test installs it)"
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                               "--disable-quic", "--no-first-run",
                               "--disable-background-networking", "--disable-component-update",
                               "--disable-sync", f"--user-data-dir={profile}",
                               f"--window-size={size}", *args, html_path.as_uri()],
                              capture_output=True, text=True, timeout=120, check=True).stdout


def _screenshot(html_path: Path, png: Path) -> None:
    _browser(html_path, f"--screenshot={png}")


def _pixels(png: Path, rgb: tuple) -> int:
    from PIL import Image

    image = np.asarray(Image.open(png).convert("RGB")).astype(int)
    return int((np.abs(image - np.array(rgb)).sum(axis=-1) <= 6).sum())


def test_html_report_renders_heatmaps_and_where_backends_differ(tmp_path, nan_input):
    page = tmp_path / "report.html"
    cli("compare", "--input", str(nan_input), "--kernel", "2", "--format", "html",
        "--output", str(page), check_exit=1)
    text = page.read_text()
    assert "http://" not in text and "https://" not in text and "<script" not in text
    # input, reference, each backend's output, and a map of where for each one that differs
    differing = len(re.findall(r"<figcaption>where [^<]*differs", text))
    assert text.count("<figure>") == 2 + len(registry.defaults()) + differing and differing >= 2
    png = tmp_path / "report.png"
    _screenshot(page, png)
    from PIL import Image

    assert Image.open(png).size == (1200, 900)
    assert _pixels(png, (0x1a, 0x7f, 0x37)) > 50  # the green "agree" badges
    assert _pixels(png, (0xcf, 0x22, 0x2e)) > 500  # red "differ" badges and where-maps
    assert _pixels(png, (0xff, 0x00, 0xff)) > 500  # NaN cells
    assert _pixels(png, (68, 1, 84)) > 100  # the lowest input value in the colour map


# the page as a browser lays it out: a copy of the report (the report itself has no scripts) with
# a probe that writes every figure's box, its planes' boxes and the legends' into the DOM
_PROBE = """<script>
const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom] };
const page = {width: document.documentElement.clientWidth,
  scroll_width: document.documentElement.scrollWidth,
  figures: [...document.querySelectorAll("figure")].map(f => ({
    caption: f.querySelector("figcaption").textContent.trim(), box: box(f),
    planes: [...f.querySelectorAll("svg")].map(box)})),
  legends: [...document.querySelectorAll(".legend")].map(
    l => ({text: l.textContent, box: box(l)}))};
const out = document.createElement("pre");
out.id = "probe"; out.textContent = JSON.stringify(page); document.body.appendChild(out);
</script>"""


def _layout(page: Path) -> dict:
    probed = page.with_name(page.stem + "-probe.html")
    probed.write_text(page.read_text().replace("</body>", _PROBE + "</body>"))
    dom = _browser(probed, "--dump-dom")
    return json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)[1]))


class _Page(HTMLParser):
    """A report as read: its figures (caption -> the titles of its cells), its table rows (the
    cells' text) and its spec lines."""

    def __init__(self, text: str):
        super().__init__()
        self.figures, self.rows, self.specs = {}, [], []
        self._in, self._caption, self._titles = None, "", None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "figure":
            self._caption, self._titles = "", []
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append("")
        elif tag == "title" and self._titles is not None:
            self._titles.append("")
        if tag in ("figcaption", "title", "td", "th") or ("class", "spec") in attrs:
            self._in = tag if tag != "p" else "spec"
            if self._in == "spec":
                self.specs.append("")

    def handle_data(self, data):
        if self._in == "figcaption":
            self._caption += data
        elif self._in == "title" and self._titles:
            self._titles[-1] += data
        elif self._in in ("td", "th"):
            self.rows[-1][-1] += data
        elif self._in == "spec":
            self.specs[-1] += data

    def handle_endtag(self, tag):
        if tag == "figure":
            self.figures[" ".join(self._caption.split())] = self._titles
            self._titles = None
        if tag in ("figcaption", "title", "td", "th", "p"):
            self._in = None


def _cells(text: str) -> dict:
    """Each heatmap cell's title -> its fill colour and whether it is marked beyond the scale."""
    cells = {}
    for title, body in re.findall(r"<g><title>(.*?)</title>(.*?)</g>", text):
        fill = re.search(r'<rect [^>]*fill="(#[0-9a-f]{6})"', body)[1]
        cells[html.unescape(title)] = (fill, "<path" in body)
    return cells


@pytest.fixture(scope="module")
def nonfinite_page(tmp_path_factory):
    """MXNet gives float32's lowest (-3.4e38) for a window of only -inf, PyTorch -inf."""
    where = tmp_path_factory.mktemp("nonfinite")
    x = np.array([[-np.inf, -np.inf, -6, np.inf], [-np.inf, -np.inf, -2, -1], [0, 1, 2, 3],
                  [4, 5, 6, np.nan]], dtype=np.float32).reshape(1, 1, 4, 4)
    np.save(where / "x.npy", x)
    cli("compare", "--input", str(where / "x.npy"), "--kernel", "2", "--backends",
        "mxnet,pytorch", "--format", "html", "--output", str(where / "report.html"),
        check_exit=1)
    return where / "report.html"


def test_html_nonfinite_values_have_their_own_colours_and_exact_values(nonfinite_page):
    text = nonfinite_page.read_text()
    cells = _cells(text)
    lowest = cells["mxnet (0, 0, 0, 0) = -3.4028234663852886e+38"]
    minus_inf = cells["reference (0, 0, 0, 0) = -inf"]
    assert cells["pytorch (0, 0, 0, 0) = -inf"] == minus_inf == cells["input (0, 0, 0, 0) = -inf"]
    plus_inf = cells["reference (0, 0, 0, 1) = inf"]
    assert cells["mxnet (0, 0, 0, 1) = inf"] == plus_inf == cells["input (0, 0, 0, 3) = inf"]
    nan = cells["reference (0, 0, 1, 1) = nan"]
    finite = {c for title, c in cells.items() if re.search(r"= -?\d", title)}
    # -3.4e38 is finite: the scale's lowest colour (that of -6, the lowest finite input), marked
    # as beyond the scale; -inf, +inf and NaN each have a colour no finite value has
    assert lowest == (cells["input (0, 0, 0, 2) = -6.0"][0], True)
    assert len({minus_inf, plus_inf, nan, lowest}) == 4
    assert not {minus_inf, plus_inf, nan} & finite
    legend = _layout(nonfinite_page)["legends"]
    assert len(legend) == 1 and legend[0]["box"][3] > legend[0]["box"][1]
    for key in ("-inf", "+inf", "NaN", "below the scale"):
        assert key in legend[0]["text"]
    png = nonfinite_page.with_suffix(".png")
    _screenshot(nonfinite_page, png)
    for fill, _ in (minus_inf, plus_inf, nan):
        rgb = tuple(int(fill[i:i + 2], 16) for i in (1, 3, 5))
        assert _pixels(png, rgb) > 300  # each drawn large enough to see, and in the legend


@pytest.fixture(scope="module", params=[((1, 40, 3, 2), "NHWC"), ((1, 2, 24, 24), "NCHW")],
                ids=["tall-nhwc", "1x2x24x24"])
def differing_page(request, tmp_path_factory):
    """A NaN in each channel: TensorFlow ignores it (and more backends may), so maps of where."""
    shape, layout = request.param
    where = tmp_path_factory.mktemp("differing")
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    x[(0, 5, 1, 0) if layout == "NHWC" else (0, 0, 5, 1)] = np.nan
    x[(0, 30, 2, 1) if layout == "NHWC" else (0, 1, 20, 22)] = np.nan
    np.save(where / "x.npy", x)
    cli("compare", "--input", str(where / "x.npy"), "--kernel", "2", "--stride", "1",
        "--layout", layout, "--format", "html", "--output", str(where / "report.html"),
        check_exit=1)
    return where / "report.html"


def test_html_where_maps_sit_beside_the_outputs_in_chromium(differing_page):
    page = _layout(differing_page)
    assert page["scroll_width"] <= page["width"]  # nothing wider than the window
    figures = {f["caption"]: f for f in page["figures"]}
    assert all(f["box"][2] <= page["width"] for f in figures.values())
    for f in figures.values():  # the planes (channels) of a figure side by side
        assert len({p[1] for p in f["planes"]}) == 1, f
        assert all(a[2] <= b[0] for a, b in zip(f["planes"], f["planes"][1:])), f
    assert len(figures["input"]["planes"]) == 2
    differing = [c.split()[1] for c in figures if c.startswith("where ")]
    assert "tensorflow" in differing
    for name in differing:
        out = next(f for c, f in figures.items() if c.split()[0] == name)
        where = figures[f"where {name} differs"]
        assert where["box"][1] == out["box"][1] and where["box"][0] >= out["box"][2]
        sizes = [[p[2] - p[0], p[3] - p[1]] for p in out["planes"]]
        assert [[p[2] - p[0], p[3] - p[1]] for p in where["planes"]] == sizes
        assert [p[1] for p in where["planes"]] == [p[1] for p in out["planes"]]
    assert len(page["legends"]) == 1 and "NaN" in page["legends"][0]["text"]
    assert "differs" in page["legends"][0]["text"]
    png = differing_page.with_suffix(".png")
    _screenshot(differing_page, png)
    assert _pixels(png, (0xcf, 0x22, 0x2e)) > 200  # the differing cells, red
    assert _pixels(png, (0xff, 0x00, 0xff)) > 50  # NaN cells


@pytest.fixture(scope="module")
def chapter_page(tmp_path_factory):
    """The chapter's first example, the same with a wrong printed output, and an lp case."""
    where = tmp_path_factory.mktemp("chapter")
    x3 = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    (where / "cases.json").write_text(json.dumps([
        {"name": "pool2d-max", "input": x3, "kwargs": {"pool_size": 2},
         "expected": [[4, 5], [7, 8]]},
        {"name": "misprinted", "input": x3, "kwargs": {"pool_size": 2},
         "expected": [[4, 5], [7, 9]]},
        {"name": "lp3", "input": x3, "kwargs": {"pool_size": 2, "mode": "lp", "p": 3}}]))
    cli("report", "--cases", str(where / "cases.json"), "--format", "html", "--output",
        str(where / "report.html"), check_exit=1)  # a MISMATCH exits 1
    return where / "report.html"


def test_html_shows_the_chapters_output_and_a_mismatch_as_the_text_report(chapter_page):
    page = _Page(chapter_page.read_text())
    rows = {r[0]: r[1:] for r in page.rows if r and r[0] in ("case", "pool2d-max",
                                                              "misprinted", "lp3")}
    assert rows["case"][:2] == ["expected", "mxnet 1.9.1"]  # not every case is the chapter's
    assert rows["pool2d-max"] == ["ok"] + ["agree"] * len(registry.defaults())
    assert rows["misprinted"] == ["MISMATCH"] + ["agree"] * len(registry.defaults())
    assert rows["lp3"][0] == "-"
    assert "chapter ok" in page.figures and "expected MISMATCH" in page.figures
    assert "expected (1, 1) = 9.0" in page.figures["expected MISMATCH"]
    assert page.figures["where the reference differs from the expected output"] == [
        "(0, 0): reference 4.0, expected 4.0", "(0, 1): reference 5.0, expected 5.0",
        "(1, 0): reference 7.0, expected 7.0", "(1, 1): reference 8.0, expected 9.0 differs"]
    assert ("expected: the reference equals the case&#x27;s expected output (the output "
            "printed in the chapter for its examples)") in chapter_page.read_text()


def test_html_shows_p_only_for_lp(chapter_page):
    specs = _Page(chapter_page.read_text()).specs
    assert len(specs) == 3
    assert "p=" not in specs[0] and "p=" not in specs[1] and "p=3" in specs[2]
    assert "mode=lp" in specs[2] and "mode=max" in specs[0]


def test_html_report_of_the_chapters_size_in_chromium(chapter_page):
    page = _layout(chapter_page)
    assert page["scroll_width"] <= page["width"] and len(page["legends"]) == 3
    figures = {f["caption"]: f for f in page["figures"]}
    chapter, where = figures["expected MISMATCH"], figures[
        "where the reference differs from the expected output"]
    assert where["box"][1] == chapter["box"][1] and where["box"][0] >= chapter["box"][2]
    assert figures["input"]["planes"][0][2] - figures["input"]["planes"][0][0] >= 3 * 24
    png = chapter_page.with_suffix(".png")
    _screenshot(chapter_page, png)
    assert _pixels(png, (0x1a, 0x7f, 0x37)) > 300  # the "agree" and "ok" badges
    assert _pixels(png, (0xcf, 0x22, 0x2e)) > 100  # MISMATCH and its map


# --- cases with an op: adaptive and global pooling in a report ------------------------------------

_OP_CASES = [
    {"name": "head-global-avg", "op": "global", "input": {"shape": [2, 6, 7, 7]},
     "kwargs": {"mode": "avg", "keepdims": False}},
    {"name": "adaptive-7-to-3", "op": "adaptive",
     "input": {"shape": [1, 2, 7, 7], "values": "arange"},
     "kwargs": {"output_size": [3, None], "mode": "max"}},
    {"name": "global-lp-nhwc", "op": "global", "input": {"shape": [5, 4, 3], "seed": 1},
     "kwargs": {"mode": "lp", "p": 3, "layout": "NHWC"}},
    {"name": "plain", "input": [[1, 2], [3, 4]], "kwargs": {"pool_size": 2}, "expected": [[4]]},
]


@pytest.fixture(scope="module")
def op_report(tmp_path_factory):
    """A report of a case file holding adaptive, global and pool2d cases, as JSON."""
    path = tmp_path_factory.mktemp("ops") / "cases.json"
    path.write_text(json.dumps(_OP_CASES))
    return json.loads(cli("report", "--cases", str(path), "--backends", "pytorch,tensorflow",
                          "--format", "json", check_exit=0).stdout)


@pytest.mark.parametrize("number", range(len(_OP_CASES)),
                         ids=[c["name"] for c in _OP_CASES])
def test_a_case_file_runs_each_cases_op(op_report, number):
    from pooling_xfw.cases import generate
    from pooling_xfw.report import jsonable

    item, case = _OP_CASES[number], op_report["cases"][number]
    op = item.get("op", "pool2d")
    given = item["input"]
    x = (np.asarray(given, np.float32) if isinstance(given, list) else
         generate(tuple(given["shape"]), given.get("values", "randn"), given.get("seed", 0)))
    run = {"pool2d": px.pool2d, "adaptive": px.adaptive_pool2d, "global": px.global_pool2d}[op]
    kwargs = dict(item["kwargs"])
    if op == "adaptive":
        kwargs["output_size"] = tuple(kwargs["output_size"])
    assert case["op"] == op and case["input"] == jsonable(x)
    assert case["reference"] == jsonable(run(x, **kwargs))
    spec = (px.make_spec(**kwargs).kwargs() if op == "pool2d" else item["kwargs"])
    assert all(case["spec"][k] == v for k, v in jsonable(spec).items()), case["spec"]
    assert "op" not in case["spec"] and ("pool_size" in case["spec"]) == (op == "pool2d")
    assert [r["status"] for r in case["results"].values()] == ["agree", "agree"]


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_a_table_of_cases_with_ops_names_each_op(op_report, fmt):
    from pooling_xfw.report import render

    text = render(op_report, fmt)
    rows = {}
    for line in text.splitlines():
        cells = ([c.strip() for c in line.strip("|").split("|")] if fmt == "markdown"
                 else re.split(r"\s{2,}", line.strip()))
        rows[cells[0]] = cells[1:3]
    assert rows["case"] == ["op", "expected"]
    assert rows["head-global-avg"] == ["global avg (H, W dropped)", "-"]
    assert rows["adaptive-7-to-3"] == ["adaptive max (3, None)", "-"]
    assert rows["global-lp-nhwc"] == ["global lp p=3 NHWC", "-"]
    assert rows["plain"] == ["pool2d max", "ok"]


def test_a_table_of_pool2d_cases_has_no_op_column(report_json):
    from pooling_xfw.report import render

    header = next(l for l in render(report_json, "text").splitlines() if l.startswith("case"))
    assert re.split(r"\s{2,}", header)[:2] == ["case", "chapter"]


@pytest.mark.parametrize("adaptive,shape", [("0", (1, 1, 0, 0)), ("0,3", (1, 1, 0, 3)),
                                            ("3,0", (1, 1, 3, 0))])
def test_an_empty_adaptive_axis_is_drawn_and_its_shape_kept(tmp_path, adaptive, shape):
    """Nested lists lose the sizes after an empty axis ([[[]]]): the document gives every
    array's shape, and the page draws an output without cells as its shape."""
    page, doc = tmp_path / "empty.html", tmp_path / "empty.json"
    for fmt, out in (("html", page), ("json", doc)):
        cli("compare", "--shape", "1,1,4,4", "--adaptive", adaptive, "--mode", "avg",
            "--backends", "pytorch,onnxruntime", "--format", fmt, "--output", str(out),
            check_exit=0)
    assert page.read_text().count(f"empty: shape {shape}, no cells") == 3  # reference, both
    case = json.loads(doc.read_text())["cases"][0]
    assert case["reference_shape"] == list(shape)
    assert [r["output_shape"] for r in case["results"].values()] == [list(shape)] * 2
    assert case["expected_shape"] is None


def test_html_shows_each_cases_op_and_its_own_arguments(op_report):
    from pooling_xfw.report import render

    text = render(op_report, "html")
    page = _Page(text)
    assert page.specs == [
        "global_pool2d: mode=avg, keepdims=False, layout=NCHW",
        "adaptive_pool2d: output_size=(3, None), mode=max, layout=NCHW",
        "global_pool2d: mode=lp, p=3.0, keepdims=True, layout=NHWC",
        "pool2d: pool_size=[2, 2], mode=max, stride=[1, 1], padding=[[0, 0], [0, 0]], "
        "dilation=[1, 1], ceil_mode=False, count_include_pad=True, layout=NCHW"]
    rows = {r[0]: r[1] for r in page.rows if len(r) > 1}
    assert rows["case"] == "op" and rows["adaptive-7-to-3"] == "adaptive max (3, None)"
    # a global pooling without keepdims drawn per channel (the first 4), one cell each, like
    # its input, not as one (N, C) plane
    head = _Page(text.split("<section")[1])
    reference = head.figures["reference"]
    assert len(reference) == 4 and reference[0].startswith("reference (0, 0, 0, 0) = ")
    assert len(head.figures["input"]) == 4 * 7 * 7


_ONE_CASE = {"name": "c", "input": [[1, 2], [3, 4]], "kwargs": {"pool_size": 2}}


@pytest.mark.parametrize("case,starts", [
    (dict(_ONE_CASE, kwargs={"op": "global"}),
     "case 'c': op inside kwargs; allowed: \"op\" beside \"kwargs\""),
    (dict(_ONE_CASE, op="adaptiv"), "case 'c': op: got 'adaptiv'; allowed: 'pool2d' (or "
                                    "'pool', 'pool1d', 'pool3d'), 'adaptive', 'global'"),
    (dict(_ONE_CASE, op="adaptive"),
     "case 'c': pool_size: got 2, not an argument of op='adaptive'; allowed: output_size, mode, "
     "layout"),
    (dict(_ONE_CASE, op="adaptive", kwargs={"mode": "avg"}),
     "case 'c': output_size: got nothing; allowed: an int, or a pair (h, w)"),
    (dict(_ONE_CASE, op="global", kwargs={"keepdims": "no"}),
     "case 'c': keepdims: got 'no'; allowed: True or False"),
    (dict(_ONE_CASE, op="global", kwargs={"mode": "min"}),
     "case 'c': mode: got 'min'; allowed: 'max', 'avg', 'lp'"),
    (dict(_ONE_CASE, op="adaptive", kwargs={"output_size": [10 ** 8, 10 ** 8]}),
     "case 'c': output_size: got (100000000, 100000000); the output of an input of shape (2, 2)"),
    (dict(_ONE_CASE, input={"shape": [1, 1, 1, 1, 1, 7]}),
     "case 'c': the generated input shape [1, 1, 1, 1, 1, 7] is not 1 to 5 ints >= 1; allowed: "
     "{\"shape\""),
    (dict(_ONE_CASE, input={"shape": [7]}),
     "case 'c': X: got '<array of rank 1>'; allowed: rank 2 (H, W)"),
    (dict(_ONE_CASE, input={"shape": [7, 7], "values": "ones"}),
     "case 'c': the generated input values 'ones' is not one of arange, randn, negative"),
    (dict(_ONE_CASE, input={"shape": [7, 7], "seed": -1}),
     "case 'c': the generated input seed -1 is not an int >= 0"),
    (dict(_ONE_CASE, input={"shape": [7, 7], "size": 3}),
     "case 'c': the generated input has 'size'"),
    (dict(_ONE_CASE, input={"shape": [10 ** 6] * 4}),
     "case 'c': the generated input shape [1000000, 1000000, 1000000, 1000000] would need"),
], ids=["op-inside-kwargs", "op-unknown", "adaptive-with-pool-size", "adaptive-without-output-size",
        "global-keepdims-not-a-bool", "global-min", "adaptive-larger-than-memory",
        "generated-rank-6", "generated-rank-1-for-2d", "generated-values-unknown",
        "generated-seed-negative",
        "generated-unknown-key", "generated-larger-than-memory"])
def test_case_file_ops_and_generated_inputs_are_checked_before_any_backend(tmp_path, case,
                                                                           starts):
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([case]))
    message = _one_usage_line(cli("report", "--cases", str(path)))
    assert message.startswith(f"--cases {path}: {starts}"), message


# --- the backward pass: compare / report --grad --------------------------------------------------

@pytest.mark.parametrize("args,grad", [
    ([], None),
    (["--grad"], ("first", "ones", 0)),
    (["--grad", "--ties", "SPLIT"], ("split", "ones", 0)),
    (["--grad", "--ties", "all", "--grad-output", "randn", "--seed", "3"], ("all", "randn", 3)),
], ids=["no-grad", "grad-defaults", "ties-any-case", "randn-with-seed"])
def test_compare_reads_the_grad_options(args, grad):
    from pooling_xfw import cli as command
    from pooling_xfw.cli.inputs import single_case

    parsed = command.build_parser().parse_args(["compare", "--shape", "1,1,4,4", "--kernel", "2",
                                                *args])
    single_case(parsed)
    options = parsed.grad_options
    assert (None if options is None else (options.ties, options.grad_output, options.seed)) == grad


_GRAD_WITH_KERNEL = "allowed: --grad with --kernel"
_GRAD_FLOAT = "allowed: --grad with a float16, float32 or float64 input"


@pytest.mark.parametrize("args,starts,allowed", [
    (["compare", "--shape", "1,1,4,4", "--kernel", "2", "--ties", "split"],
     "--ties split: not without --grad", "allowed: --ties with --grad"),
    (["compare", "--shape", "1,1,4,4", "--kernel", "2", "--grad-output", "randn"],
     "--grad-output randn: not without --grad", "allowed: --grad-output with --grad"),
    (["compare", "--shape", "1,1,4,4", "--kernel", "2", "--grad", "--dtype", "int32"],
     "--grad: not with --dtype int32: a gradient needs a float input", _GRAD_FLOAT),
    (["compare", "--shape", "1,1,4,4", "--kernel", "2", "--grad", "--ties", "firts"],
     "--ties firts: unknown ties rule (did you mean first?)", "allowed: first, split, all"),
    (["compare", "--shape", "1,1,4,4", "--kernel", "2", "--grad", "--grad-output", "zeros"],
     "--grad-output zeros: unknown upstream gradient", "allowed: ones, randn"),
    (["compare", "--shape", "1,1,4,4", "--kernel", "2", "--grad", "--grad-output", "randn",
      "--seed", "-1"], "--seed -1: -1 is below 0", "allowed: an int >= 0"),
    (["report", "--seed", "3"], "--seed 3: not without --grad --grad-output randn",
     "allowed: --seed with --grad --grad-output randn"),
    (["report", "--grad", "--ties", "x"], "--ties x: unknown ties rule",
     "allowed: first, split, all"),
], ids=["ties-without-grad", "grad-output-without-grad", "grad-with-int-dtype", "ties-close-name", "grad-output-unknown", "grad-seed-negative",
        "report-seed-without-randn", "report-ties-unknown"])
def test_grad_usage_errors_name_the_options_as_typed(args, starts, allowed):
    message = _one_usage_line(cli(*args))
    assert message.startswith(starts) and allowed in message, message


@pytest.mark.parametrize("kind,starts", [
    ("int-input", "--grad: not with --input {path} (dtype int32): a gradient needs a float input"),
    ("int-case", "--grad: not with --cases {path}: case 'ints': its input's dtype int32 has no "
                 "gradient"),
], ids=["int-input", "int-case"])
def test_grad_refuses_an_input_or_a_case_without_a_gradient(tmp_path, kind, starts):
    if kind == "int-input":
        path = tmp_path / "x.npy"
        np.save(path, np.arange(16, dtype=np.int32).reshape(4, 4))
        args = ["compare", "--input", str(path), "--kernel", "2", "--grad"]
    else:
        path = tmp_path / "cases.json"
        case = {"name": "ints", "input": [[1, 2], [3, 4]], "dtype": "int32",
                "kwargs": {"pool_size": 2}}
        path.write_text(json.dumps([case]))
        args = ["report", "--grad", "--cases", str(path)]
    message = _one_usage_line(cli(*args))
    assert message.startswith(starts.format(path=path)), message


@pytest.mark.parametrize("args", [
    ["--shape", "2,3,7,9", "--adaptive", "3,4"],
    ["--layout", "NCDHW", "--shape", "1,2,5,6,7", "--adaptive", "2,3,4", "--mode", "avg"],
    ["--shape", "2,3,5,6", "--global", "--no-keepdims", "--mode", "avg"],
], ids=["adaptive-2d-max", "adaptive-3d-avg", "global-keras-head"])
def test_adaptive_and_global_pooling_compare_their_gradients(args):
    """Every framework with autograd agrees with ``px.adaptive_pool2d_grad`` (and the 3-D one)
    and with the global pooling's gradient, Keras' dropped axes included; ONNX Runtime, with
    no autograd, is not compared."""
    proc = cli("compare", *args, "--grad", env={"NO_COLOR": "1"}, check_exit=0)
    row = next(l for l in proc.stdout.splitlines() if l.startswith("cli "))
    cells = re.split(r"\s{2,}", row.strip())[2:]  # after the case and the operation
    assert len(cells) == 6 and all(re.fullmatch(r"agree\*? / agree", c) for c in cells[:5]), row
    assert re.fullmatch(r"agree\*? / -", cells[5]), row


@pytest.fixture(scope="module")
def tied_ones(tmp_path_factory):
    """All 1, 1x1x6x6: every window a tie.  Paddle runs a dilated max as the elementwise
    maximum of strided slices, whose gradient splits ties (measured): forward agree, backward
    differ, the same on every machine (a property of the plan)."""
    path = tmp_path_factory.mktemp("ties") / "ones.npy"
    np.save(path, np.ones((1, 1, 6, 6), np.float32))
    return path


_DILATED = ["--kernel", "2", "--dilation", "2", "--stride", "1"]


@pytest.mark.parametrize("grad,code", [([], 0), (["--grad"], 1)], ids=["forward-only",
                                                                         "with-grad"])
def test_a_gradient_that_differs_exits_1_like_a_forward_difference(tied_ones, grad, code):
    proc = cli("compare", "--input", str(tied_ones), *_DILATED, "--backends", "paddle,pytorch",
               *grad, env={"NO_COLOR": "1"}, check_exit=code)
    row = next(l for l in proc.stdout.splitlines() if l.startswith("cli "))
    if not grad:
        assert row.split() == ["cli", "agree*", "agree"], row
        return
    cells = re.split(r"\s{2,}", row.strip())
    assert cells[1].startswith("agree* / DIFFER ") and cells[2] == "agree / agree", row
    assert "ties in a window: paddle's gradient matches ties='split'" in proc.stdout
    assert "; backward: 1 agree, 1 differ, 0 error, 0 unavailable; exit 1" in proc.stdout


@pytest.fixture(scope="module")
def grad_doc(tied_ones):
    """``compare --grad --format json`` of the tied input on every backend, as the CLI wrote it."""
    proc = cli("compare", "--input", str(tied_ones), *_DILATED, "--grad", "--format", "json",
               check_exit=1)
    return json.loads(proc.stdout)


def test_grad_json_has_the_reference_gradient_and_each_backends(grad_doc, tied_ones):
    case = grad_doc["cases"][0]
    x = np.load(tied_ones)
    kwargs = dict(pool_size=2, dilation=2, stride=1)
    assert case["grad"]["ties"] == "first" and case["grad"]["grad_output"] == "ones"
    assert case["grad"]["seed"] is None
    assert case["grad"]["upstream"] == np.ones_like(px.pool2d(x, **kwargs)).tolist()
    assert case["grad"]["reference"] == px.pool2d_grad(x, **kwargs).tolist()
    statuses = {}
    for name, r in case["results"].items():
        statuses[name] = r["grad_status"]
        if r["grad_status"] in ("error", "unavailable", "not compared"):  # none, and why
            assert r["grad_input"] is None and r["grad_detail"]
            continue
        assert np.asarray(r["grad_input"]).shape == x.shape
        if r["grad_status"] == "agree":
            assert r["grad_input"] == case["grad"]["reference"] and not r["grad_detail"]
        else:
            assert r["grad_max_abs_diff"] > 0 and r["grad_differing"] and r["grad_detail"]
            index, value, reference = r["grad_differing"][0]
            assert r["grad_input"][0][0][index[2]][index[3]] == value
            assert case["grad"]["reference"][0][0][index[2]][index[3]] == reference
    assert statuses["paddle"] == "differ" and statuses["pytorch"] == "agree"
    # a dilated max: JAX has no VJP for it; ONNX Runtime has no autograd at all
    assert statuses["jax"] == "not compared" and "VJP" in case["results"]["jax"]["grad_detail"]
    assert statuses["onnxruntime"] == "not compared"
    assert grad_doc["summary"]["grad"] == {s: list(statuses.values()).count(s) for s in (
        "agree", "differ", "error", "unavailable", "not compared")}
    assert grad_doc["summary"]["exit_code"] == 1


def test_grad_json_schema_documents_the_backward_fields():
    from pooling_xfw.report import SCHEMA_DOC

    for field in ('"grad_status"', '"grad_max_abs_diff"', '"grad_input"', '"grad_detail"',
                  '"grad_differing"', '"grad"', '"upstream"', '"reference"', '"ties"'):
        assert field in SCHEMA_DOC, field


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_grad_tables_read_forward_slash_backward(grad_doc, fmt):
    from pooling_xfw.report import render
    from pooling_xfw.report.table import result_cell

    text = render(grad_doc, fmt)
    results = grad_doc["cases"][0]["results"]
    row = next(l for l in text.splitlines() if l.startswith(("cli ", "| cli |")))
    cells = ([c.strip() for c in row.strip("| ").split("|")] if fmt == "markdown"
             else re.split(r"\s{2,}", row.strip()))
    for name, cell in zip(results, cells[1:]):
        r = results[name]
        backward = result_cell({"status": r["grad_status"],
                                "max_abs_diff": r["grad_max_abs_diff"]})
        assert cell == f"{result_cell(r)} / {backward}", (name, cell)
    assert "each backend: forward / backward" in text and "ties='first'" in text
    assert f"cli / paddle: backward differ: {results['paddle']['grad_detail']}" in text
    s = grad_doc["summary"]["grad"]
    assert s["not compared"] == 2 and results["onnxruntime"]["grad_status"] == "not compared"
    assert results["jax"]["grad_status"] == "not compared"  # no VJP for a dilated max
    assert (f"backward: {s['agree']} agree, {s['differ']} differ, {s['error']} error, "
            f"{s['unavailable']} unavailable, 2 not compared; exit 1") in text
    assert "-: not compared, the framework has no gradient" in text


@pytest.mark.parametrize("command", [
    ["compare", "--shape", "2,3,9,9", "--kernel", "3", "--stride", "2", "--padding", "1"],
    ["report", "--cases", "pool2d-avg,maxpool-k3-p1-s2"],
], ids=["compare", "report"])
def test_grad_on_every_default_backend_exits_0_when_every_gradient_agrees(command):
    """ONNX Runtime has no autograd by design: its backward is not compared, which is no failure
    to run (exit 0, as translate and conventions treat it), and its cell reads '-'."""
    proc = cli(*command, "--grad", env={"NO_COLOR": "1"}, check_exit=0)
    assert "1 not compared" in proc.stdout or "2 not compared" in proc.stdout, proc.stdout
    lines = proc.stdout.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("case"))
    columns = re.split(r"\s{2,}", lines[start].strip())
    ort = next(c for c in columns if c.startswith("onnxruntime"))
    table = lines[start + 1:lines.index("", start)]
    assert len(table) == (1 if command[0] == "compare" else 2)
    for row in table:
        cells = dict(zip(columns, re.split(r"\s{2,}", row.strip())))
        assert cells[ort] == "agree / -" and all(
            cells[c] in ("agree / agree", "agree* / agree") for c in columns[1:]
            if c != ort and c not in ("chapter", "op")), row


def test_grad_html_draws_each_gradient_and_where_it_differs(grad_doc, tmp_path):
    from pooling_xfw.report import render
    from pooling_xfw.report.table import backend_cell

    page = tmp_path / "grad.html"
    page.write_text(render(grad_doc, "html"))
    parsed = _Page(page.read_text())
    results = grad_doc["cases"][0]["results"]
    versions = {n: grad_doc["backends"][n]["framework_version"] for n in results}
    assert "upstream gradient (ones)" in parsed.figures
    reference = parsed.figures["reference gradient (ties=first)"]
    assert len(reference) == 36 and "reference gradient (0, 0, 0, 0) = 1.0" in reference
    for name, r in results.items():
        if r["grad_input"] is None:  # error / not compared: its figure says there is none
            assert parsed.figures[f"{name} {versions[name]} gradient {r['grad_status']}"] == []
            continue
        titles = parsed.figures[f"{name} {versions[name]} gradient {r['grad_status']}"]
        assert len(titles) == 36
        assert f"{name} gradient (0, 0, 0, 1) = {float(r['grad_input'][0][0][0][1])!r}" in titles
        assert (f"where the {name} gradient differs" in parsed.figures) == (
            r["grad_status"] == "differ")
    row = next(row for row in parsed.rows if row and row[0] == "cli")
    assert row[1:] == [backend_cell(r, grad=True) for r in results.values()]
    assert [c.split(" / ")[1].split()[0] for c in row[1:]] == [
        {"agree": "agree", "differ": "DIFFER", "error": "ERROR", "unavailable": "n/a",
         "not compared": "-"}[
            r["grad_status"]] for r in results.values()]
    layout = _layout(page)
    figures = {f["caption"]: f for f in layout["figures"]}
    out = figures[f"paddle {versions['paddle']} gradient differ"]
    where = figures["where the paddle gradient differs"]
    assert where["box"][1] == out["box"][1] and where["box"][0] >= out["box"][2]
    assert len(layout["legends"]) == 2  # the forward's scale and the gradients'
