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

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, env=None, check_exit=None, umask=None):
    proc = subprocess.run([sys.executable, "-m", "pooling_xfw", *args], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, **(env or {})}, timeout=600,
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
    proc = cli("report", "--format", "json", "--output", str(out), check_exit=0)
    assert "starting" in proc.stderr and proc.stdout == ""
    return json.loads(out.read_text())


def test_report_runs_every_chapter_example_on_every_backend(report_json):
    assert report_json["schema"] == "pooling-xfw/report/1"
    assert [c["name"] for c in report_json["cases"]] == [c.name for c in px.cases.CHAPTER]
    assert set(report_json["backends"]) == {"mxnet", "pytorch", "tensorflow", "paddle"}
    for info in report_json["backends"].values():
        assert info["status"] == "ready" and info["framework_version"] and info["numpy_version"]
    for case, chapter in zip(report_json["cases"], px.cases.CHAPTER):
        assert case["reference_matches_expected"] is True
        assert case["expected"] == chapter.expected.tolist()
        for result in case["results"].values():
            assert result["status"] == "agree" and result["max_abs_diff"] == 0
            assert result["output"] == chapter.expected.tolist()
            assert result["how"]["path"] in ("native", "emulated") and result["how"]["code"]
    assert report_json["summary"] == {"agree": 24, "differ": 0, "error": 0, "unavailable": 0,
                                      "mismatch": 0, "exit_code": 0}


def test_text_report_is_a_table_with_versions():
    proc = cli("report", env={"NO_COLOR": "1"}, check_exit=0)
    lines = proc.stdout.splitlines()
    header = next(l for l in lines if l.startswith("case"))
    for token in ("chapter", "mxnet 1.9.1", "pytorch 2.13.0", "tensorflow 2.21.0", "paddle 3.3.1"):
        assert token in header
    rows = [l for l in lines if l.split() and l.split()[0] in {c.name for c in px.cases.CHAPTER}]
    assert len(rows) == 6 and all(l.split()[1:] == ["ok"] + ["agree"] * 4 for l in rows)
    assert "\033[" not in proc.stdout
    assert "summary: 24 agree, 0 differ, 0 error, 0 unavailable; exit 0" in proc.stdout


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
def readme_kept():
    """README.md's bytes before the test; put back after it, whatever the test did."""
    readme = ROOT / "README.md"
    before = readme.read_bytes()
    yield before
    if readme.read_bytes() != before:
        readme.write_bytes(before)


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
    (NO_PADDLE + ["conventions", "--update-readme"], None, 3,
     ["could not run paddle (", CANNOT_START, "): the table would be incomplete; README.md "
                                              "not written"]),
    (["conventions", "--backends", "pytorch", "--update-readme"], None, 2,
     ["error: --update-readme: got --backends pytorch; allowed: all four backends",
      "README.md not written"]),
], ids=["audit-chapter", "explain-equivalent-witness-not-run",
        "explain-not-equivalent-stays-1", "conventions", "conventions-update-readme",
        "conventions-update-readme-some-backends"])
def test_a_backend_that_could_not_run_is_named_in_one_line(readme_kept, args, env, code,
                                                           fragments):
    proc = cli(*args, env=env, check_exit=code)
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("pooling-xfw:")]
    assert len(lines) == 1 and all(f in lines[0] for f in fragments), proc.stderr
    assert (ROOT / "README.md").read_bytes() == readme_kept
    if "audit-chapter" in args:
        assert "maxpool-k3 / paddle: could not run; on X-100: - (reference [[-90.]]: not run)" \
            in proc.stdout


@pytest.mark.parametrize("args,message", [
    (["compare", "--shape", "1,1,4,4", "--kernel", "9"], "--kernel (pool_size): got kernel 9"),
    (["compare", "--shape", "1,1,4,4", "--kernel", "2", "--padding", "1,2,3"],
     "--padding (padding): got (1, 2, 3); allowed:"),
    (["compare", "--shape", "1,1,4,4", "--kernel", "2", "--mode", "mean"],
     "--mode (mode): got 'mean'; allowed: 'max', 'avg', 'min', 'lp'"),
    (["compare", "--shape", "1,1,4,4", "--kernel", "2", "--layout", "CHWN"], "--layout (layout)"),
    (["compare", "--shape", "1,x", "--kernel", "2"], "--shape: got '1,x'"),
    (["compare", "--input", "/nonexistent.npy", "--kernel", "2"], "--input: cannot read"),
    (["compare", "--shape", "4,4", "--kernel", "2", "--backends", "jax"], "backend: got 'jax'"),
    (["report", "--cases", "nope"], "case: got 'nope'; allowed: pool2d-max"),
    (["report", "--format", "yaml"], "invalid choice: 'yaml'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
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
     ["--input: cannot read", "(the file is empty)"]),
    (["compare", "--input", "npy:garbage", "--kernel", "2"],
     ["--input: cannot read", "not a .npy file"]),
    (["compare", "--input", "npy:cut-header", "--kernel", "2"],
     ["--input: cannot read", "reading array header"]),
    (["compare", "--input", "npy:cut-data", "--kernel", "2"],
     ["--input: cannot read", "could only read 218 elements"]),
    (["compare", "--shape", HUGE, "--kernel", "2"],
     [f"--shape: got '{HUGE}'; the 10000000 x 10000000 float32 input", "would need 1.2 PB",
      "more than this machine's memory"]),
    (["compare", "--shape", "1,1,99999999999999999999,4", "--kernel", "2"],
     ["--shape: got '1,1,99999999999999999999,4'", "would need 4.8 ZB", "machine's memory"]),
    (["compare", "--shape", "1,1,4,4", "--kernel", "2", "--stride", "99999999999999999999"],
     ["--stride (stride): got 99999999999999999999; allowed: an int >= 1 and < 2**63"]),
    (["translate", "--from", "pytorch", "nn.MaxPool2d(3)", "--shape", f"1,1,{HUGE}"],
     [f"--shape: got '1,1,{HUGE}'; the random", "would need 2.0 PB", "machine's memory"]),
    (["translate", "--from", "pytorch", "nn.MaxPool2d(3)", "--shape",
      "1,1,99999999999999999999,4", "--no-verify"],
     ["--shape: got '1,1,99999999999999999999,4'; allowed:", "product is < 2**63"]),
    (["explain", "pytorch", "nn.MaxPool2d(3)", "pytorch", "nn.MaxPool2d(3, stride=1)",
      "--shape", f"1,1,{HUGE}"],
     ["--shape: got (1, 1, 10000000, 10000000); the 10000000 x 10000000 inputs",
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
    assert "--input: cannot read" in proc.stderr and "pickle" in proc.stderr.lower()


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
               str(link), check_exit=0)
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


def test_envs_list():
    proc = cli("envs", "list", check_exit=0)
    for backend in ("mxnet", "pytorch", "tensorflow", "paddle"):
        assert any(l.split()[:2] == [backend, "ready"] for l in proc.stdout.splitlines())


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
    assert text.count("<figure>") == 8  # input, reference, 4 backends, 2 maps of where
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
    assert rows["case"][:2] == ["chapter", "mxnet 1.9.1"]
    assert rows["pool2d-max"] == ["ok"] + ["agree"] * 4
    assert rows["misprinted"] == ["MISMATCH"] + ["agree"] * 4
    assert rows["lp3"][0] == "-"
    assert "chapter ok" in page.figures and "chapter MISMATCH" in page.figures
    assert "chapter (1, 1) = 9.0" in page.figures["chapter MISMATCH"]
    assert page.figures["where the reference differs from the chapter"] == [
        "(0, 0): reference 4.0, chapter 4.0", "(0, 1): reference 5.0, chapter 5.0",
        "(1, 0): reference 7.0, chapter 7.0", "(1, 1): reference 8.0, chapter 9.0 differs"]
    assert "chapter: the reference equals the output printed in the chapter" in \
        chapter_page.read_text()


def test_html_shows_p_only_for_lp(chapter_page):
    specs = _Page(chapter_page.read_text()).specs
    assert len(specs) == 3
    assert "p=" not in specs[0] and "p=" not in specs[1] and "p=3" in specs[2]
    assert "mode=lp" in specs[2] and "mode=max" in specs[0]


def test_html_report_of_the_chapters_size_in_chromium(chapter_page):
    page = _layout(chapter_page)
    assert page["scroll_width"] <= page["width"] and len(page["legends"]) == 3
    figures = {f["caption"]: f for f in page["figures"]}
    chapter, where = figures["chapter MISMATCH"], figures[
        "where the reference differs from the chapter"]
    assert where["box"][1] == chapter["box"][1] and where["box"][0] >= chapter["box"][2]
    assert figures["input"]["planes"][0][2] - figures["input"]["planes"][0][0] >= 3 * 24
    png = chapter_page.with_suffix(".png")
    _screenshot(chapter_page, png)
    assert _pixels(png, (0x1a, 0x7f, 0x37)) > 300  # the "agree" and "ok" badges
    assert _pixels(png, (0xcf, 0x22, 0x2e)) > 100  # MISMATCH and its map
