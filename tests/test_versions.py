"""Versions side by side: ``--backends onnxruntime@1.22.1,onnxruntime``.

A backend named ``BACKEND@VERSION`` runs the same adapter in a venv of its own, whose pins are
derived from ``<backend>.txt`` (``pins_text``); the plain name keeps meaning the pinned version.
The real comparisons use ONNX Runtime (small wheels): ``make envs`` builds ``EXTRA`` beside the
pinned one.  No test here installs another PyTorch (those are CUDA builds of several GB): its
refusal is tested, never a build.
"""
import itertools
import json
import re
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw import report
from pooling_xfw.cases import CHAPTER
from pooling_xfw.errors import PoolingError
from pooling_xfw.runtime import envs, pins as pin_files, venvs

from .conftest import played_by, started

ROOT = Path(__file__).resolve().parents[1]
#: the other ONNX Runtime ``make envs`` builds (the Makefile's EXTRA_VERSIONS)
EXTRA = "onnxruntime@1.22.1"
PINNED = "onnxruntime"
BOTH = [EXTRA, PINNED]


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "pooling_xfw", *args], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, **(env or {})}, timeout=600)


def _usage_line(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr.removeprefix("pooling-xfw: error: ").rstrip("\n")


# --- names ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,split", [
    ("onnxruntime", ("onnxruntime", None)),
    ("onnxruntime@1.22.1", ("onnxruntime", "1.22.1")),
    ("paddle@2.6.2", ("paddle", "2.6.2")),
    ("pytorch@2.5.1", ("pytorch", "2.5.1")),
    ("tensorflow@2.16.0rc0", ("tensorflow", "2.16.0rc0")),
    ("jax@0.4.30", ("jax", "0.4.30")),
    ("mxnet@1.9.1.post1", ("mxnet", "1.9.1.post1")),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_name_is_a_backend_and_maybe_a_version(name, split):
    assert envs.check_backend(name) == name and envs.split_name(name) == split


@pytest.mark.parametrize("typed,says", [
    ("pytorch@", "'pytorch@': no version after '@'"),
    ("pytorch@abc", "'pytorch@abc': 'abc' is not a version number"),
    ("pytorch@2.5.1@3", "'2.5.1@3' is not a version number"),
    ("torch@2.5", "unknown backend 'torch' (did you mean pytorch@2.5?)"),
    ("onnx@1.22.1", "unknown backend 'onnx' (did you mean onnxruntime@1.22.1?)"),
    ("onnxruntime@1.32.0,onnxruntime", "'onnxruntime@1.32.0' and 'onnxruntime' are the same"),
], ids=["no-version", "not-a-number", "two-ats", "alias-with-version", "alias-onnx",
        "pinned-twice"])
def test_malformed_names_are_one_usage_line_naming_backends_and_the_form(typed, says):
    line = _usage_line(cli("compare", "--shape", "4,4", "--kernel", "2", "--backends", typed))
    assert line.startswith(f"--backends {typed}: ") and says in line, line
    assert "allowed: " in line and ("BACKEND@VERSION" in line or "each backend" in line), line


def test_names_are_read_in_any_case_and_one_environment_named_twice_is_refused():
    """The command line and the API alike: a name given twice, in any case or spelling of its
    version, is a usage error naming both, never merged in silence."""
    from pooling_xfw.cli.args import backends_named as _backends

    assert _backends("onnxruntime@1.22.1, PyTorch") == [EXTRA, "pytorch"]
    for typed, says in (("onnxruntime@1.22.1, ONNXRuntime@1.22.1", "'onnxruntime@1.22.1' twice"),
                        ("pytorch,pytorch", "'pytorch' twice"),
                        ("onnxruntime@1.22.1,onnxruntime@01.22.1.0",
                         "'onnxruntime@1.22.1' and 'onnxruntime@01.22.1.0' are the same version"),
                        ("pytorch,pytorch@2.13.0+cpu",
                         "'pytorch' and 'pytorch@2.13.0+cpu' are the same version")):
        with pytest.raises(PoolingError, match=re.escape(says)):
            _backends(typed)
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    for names in (["pytorch", "pytorch"], [EXTRA, "onnxruntime@1.22.1.0"]):
        with pytest.raises(PoolingError, match="twice|the same version"):
            px.compare(x, 2, backends=names)


@pytest.mark.parametrize("typed,canonical", [
    ("onnxruntime@1.32.0", "onnxruntime"), ("onnxruntime@01.32.0", "onnxruntime"),
    ("onnxruntime@1.32.0.0", "onnxruntime"), ("pytorch@2.13.0+cpu", "pytorch"),
    ("pytorch@2.13.0+CPU", "pytorch"), ("jax@0.12.0.1", "jax"),
    ("onnxruntime@01.22.1", "onnxruntime@1.22.1"), ("onnxruntime@1.22.1.0", "onnxruntime@1.22.1"),
    ("paddle@2.6", "paddle@2.6.0"), ("pytorch@2.5.1+cpu", "pytorch@2.5.1+cpu"),
    ("tensorflow@2.16.0RC01", "tensorflow@2.16.0rc1"),
])
def test_each_version_has_one_spelling_and_the_pinned_one_is_the_plain_name(typed, canonical):
    """PEP 440's equality: one venv per version however it is written; the pinned version,
    with or without the local label its column shows, is the plain name's own venv."""
    assert envs.check_backend(typed) == typed and envs.canonical(typed) == canonical
    assert envs.env_name(typed) == envs.env_name(canonical)


def test_a_local_label_the_pinned_build_does_not_report_is_not_run_as_it():
    """``pytorch@2.13.0+gpu`` names the pinned release's venv, whose build reports +cpu: the
    worker says it runs another version, never a silent +cpu column labelled +gpu."""
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    result = px.compare(x, 2, backends=["pytorch@2.13.0+gpu"]).results["pytorch@2.13.0+gpu"]
    assert result.status == "unavailable"
    assert "it runs torch 2.13.0+cpu, not 2.13.0+gpu" in result.detail, result.detail


@pytest.mark.parametrize("typed", ["onnxruntime@１.22.1", "onnxruntime@1.22.1٠"],
                         ids=["full-width-digit", "arabic-indic-digit"])
def test_a_version_of_digits_other_than_ascii_is_refused(typed):
    with pytest.raises(PoolingError, match="is not a version number"):
        envs.check_backend(typed)


@pytest.mark.parametrize("name", ["onnxruntime", "pytorch", "jax"])
def test_naming_the_pinned_version_runs_the_plain_names_venv(name):
    """``--backends onnxruntime@1.32.0`` (the pinned version) is the very venv of
    ``onnxruntime``: it runs, nothing is built, and its fix line never names another venv."""
    pinned = f"{name}@{envs.pinned_version(name)}"
    assert envs.interpreter(pinned) == envs.interpreter(name) is not None
    proc = cli("compare", "--shape", "4,4", "--kernel", "2", "--backends", pinned)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{name} {envs.pinned_version(name)}" in proc.stdout


def test_the_python_api_checks_names_alike():
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    for bad, says in (("pytorch@", "no version"), ("pytorch@abc", "not a version number"),
                      ("torch@2.5", "unknown backend 'torch'")):
        with pytest.raises(PoolingError, match=says) as caught:
            px.compare(x, 2, backends=[bad])
        assert str(caught.value).startswith("backend: got ") and "BACKEND@VERSION" in str(
            caught.value)
    with pytest.raises(PoolingError, match="the same version"):
        px.compare(x, 2, backends=["onnxruntime", f"onnxruntime@{envs.pinned_version(PINNED)}"])


def test_a_version_is_for_backends_not_for_translation_targets():
    line = _usage_line(cli("translate", "nn.MaxPool2d(2)", "--from", "pytorch", "--shape", "4,4",
                           "--to", EXTRA, "--no-verify"))
    assert line.startswith(f"--to {EXTRA}: ") and "a version is run by --backends" in line, line


# --- pins and venvs ---------------------------------------------------------------------------

def _pins(name: str) -> list[str]:
    return [l for l in envs.pins_text(name).decode().splitlines() if not l.startswith("#")]


@pytest.mark.parametrize("name,pins", [
    ("onnxruntime@1.22.1", ["onnxruntime==1.22.1", "onnx==1.17.0", "numpy==2.4.6"]),
    ("onnxruntime@1.16.3", ["onnxruntime==1.16.3", "onnx==1.17.0", "numpy==1.26.4"]),
    ("paddle@2.6.2", ["paddlepaddle==2.6.2", "numpy==1.26.4"]),
    ("jax@0.4.30", ["jax==0.4.30", "jaxlib==0.4.30", "flax==0.12.12", "numpy==2.4.6"]),
], ids=["ort-numpy2", "ort-numpy1", "paddle2-numpy1", "jax-and-jaxlib"])
def test_pins_of_a_version_are_the_backends_with_its_framework_and_companions(name, pins):
    assert _pins(name) == pins
    # jax's base Python line stays where base_python_version reads it
    assert envs.base_python_version(name) == envs.base_python_version(envs.framework_of(name))


def test_the_plain_name_and_the_pinned_version_are_the_pins_file_itself():
    pinned = f"onnxruntime@{envs.pinned_version(PINNED)}"
    assert envs.pins_text(PINNED) == envs.pins_text(pinned) == envs.requirements(
        PINNED).read_bytes()
    assert envs.fingerprint(pinned) == envs.fingerprint(PINNED)
    assert envs.env_name(EXTRA).startswith(f"{EXTRA}-") and envs.env_name(EXTRA) != envs.env_name(
        PINNED)


def test_a_file_of_its_own_replaces_the_derived_pins(tmp_path, monkeypatch):
    for file in ("onnxruntime.txt", "versions.txt"):
        (tmp_path / file).write_bytes((pin_files.REQUIREMENTS_DIR / file).read_bytes())
    monkeypatch.setattr(pin_files, "REQUIREMENTS_DIR", tmp_path)
    derived = envs.fingerprint("onnxruntime@1.21.0")
    (tmp_path / "onnxruntime@1.21.0.txt").write_text("onnxruntime==1.21.0\nnumpy==2.4.6\n")
    assert envs.pins_text("onnxruntime@1.21.0") == b"onnxruntime==1.21.0\nnumpy==2.4.6\n"
    assert envs.fingerprint("onnxruntime@1.21.0") != derived


@pytest.fixture
def fake_root(tmp_path, monkeypatch):
    """A temporary POOLING_XFW_ENVS whose builds are faked: ``bin/python`` runs this
    interpreter, where paddle is played by ``json`` (its ``__version__`` is the one built)."""
    import json as played

    monkeypatch.setenv("POOLING_XFW_ENVS", str(tmp_path / "envs"))
    played_by(monkeypatch, "paddle", "json")
    made = []

    def build(backend, target, log, say):
        made.append(target.name)
        python = target / "bin" / "python"
        python.parent.mkdir(parents=True)
        python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        python.chmod(0o755)

    monkeypatch.setattr(venvs, "_build", build)
    return tmp_path / "envs", made, played.__version__


def test_two_versions_get_two_venvs_and_a_second_create_reuses_both(fake_root):
    root, made, version = fake_root
    names = ["paddle", f"paddle@{version}"]
    said = []
    first = envs.create(names, progress=lambda b, m: said.append(f"{b}: {m}"))
    assert [s.state for s in first] == ["ready", "ready"], said
    # built in parallel: in whichever order the builds finish
    assert sorted(made) == sorted(envs.env_name(n) for n in names) and len(set(made)) == 2
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(made)
    said = []
    second = envs.create(names, progress=lambda b, m: said.append(f"{b}: {m}"))
    assert len(made) == 2, said  # nothing built: each said "up to date"
    assert sorted(said) == sorted(f"{n}: up to date" for n in names)
    assert [s.python for s in second] == [s.python for s in first]
    built = next(m for m in made if m.startswith(f"paddle@{version}-"))  # in whichever order
    stamp = json.loads((root / built / envs.STAMP).read_text())
    assert stamp["backend"] == f"paddle@{version}" and stamp["fingerprint"] == envs.fingerprint(
        f"paddle@{version}")
    listed = {v.backend: v.state for v in envs.environments(["paddle"])}
    assert listed == {"paddle": "used here", f"paddle@{version}": "used here"}


def test_an_interpreter_of_another_version_is_not_taken_for_the_one_asked(fake_root):
    root, made, version = fake_root
    envs.set_interpreter("paddle@9.9.9", sys.executable)
    try:
        status = envs.inspect("paddle@9.9.9")
    finally:
        envs.forget_interpreters()
    assert status.state == "broken" and f"it runs json {version}, not 9.9.9" in status.detail


# --- the real thing: two ONNX Runtimes ------------------------------------------------------

@pytest.fixture(scope="module")
def two():
    with started(BOTH, f"run `make envs`: it builds {EXTRA}") as (workers, hellos):
        assert hellos[EXTRA].framework_version == "1.22.1"
        assert hellos[PINNED].framework_version == envs.pinned_version(PINNED)
        yield workers


def test_envs_create_reuses_both_real_venvs_and_envs_list_shows_them():
    proc = cli("envs", "create", "--backends", ",".join(BOTH))
    assert proc.returncode == 0, proc.stderr
    assert f"[envs] {EXTRA}: up to date" in proc.stderr and f"[envs] {PINNED}: up to date" in (
        proc.stderr)
    listed = cli("envs", "list", "--backends", EXTRA)
    assert listed.returncode == 0, listed.stderr
    row = next(l for l in listed.stdout.splitlines() if l.strip().startswith(EXTRA + " "))
    assert row.split()[1:3] == ["ready", "1.22.1"], listed.stdout
    assert envs.env_name(EXTRA) in listed.stdout
    # the plain name lists every version's venv of its framework
    assert envs.env_name(EXTRA) in cli("envs", "list", "--backends", PINNED).stdout


def test_the_chapter_examples_agree_on_both_versions(two):
    results = px.compare_many([dict(X=c.input, **c.kwargs) for c in CHAPTER], backends=BOTH,
                              pool=two)
    for case, result in zip(CHAPTER, results):
        assert list(result.results) == BOTH
        for name, r in result.results.items():
            assert r.status == "agree", (case.name, name, r.detail)


def _grid():
    rng = np.random.default_rng(0)
    cases = []
    for (h, w), k, s, pad, ceil, cip, mode, dt in itertools.product(
            [(5, 5), (6, 7)], [2, 3], [1, 2], [0, 1, "same"], [False, True], [True, False],
            ["max", "avg", "lp"], ["float32", "float16", "float64"]):
        if mode == "max" and not cip:
            continue
        kwargs = dict(pool_size=k, mode=mode, stride=s, padding=pad, ceil_mode=ceil,
                      count_include_pad=cip)
        x = rng.standard_normal((1, 2, h, w)).astype(dt)
        try:
            px.pool2d(x, **kwargs)
        except PoolingError:
            continue
        cases.append(dict(X=x, **kwargs))
    for dt in ("float32", "float16", "float64"):
        for cell in (0, 1, 4, 5):  # a NaN at each place of the first 2x2 window
            x = np.arange(16, dtype=dt).reshape(1, 1, 4, 4)
            x.flat[cell] = np.nan
            cases += [dict(X=x, pool_size=2, stride=2), dict(X=x, pool_size=3, stride=1)]
        x = np.arange(16, dtype=dt).reshape(1, 1, 4, 4)
        x[0, 0, :2, :2] = -np.inf
        cases.append(dict(X=x, pool_size=2, stride=2))
    return cases


def test_a_grid_gives_the_reference_or_a_difference_with_its_cause_on_both(two):
    """Every result agrees or differs with its cause named; where the versions part is the
    README's list: avg 'same' counting padding, and (on this machine) float64 max with NaN or
    only -inf.  Special values vary with the CPU (see the conventions table's daggers), so on
    another machine they may part elsewhere or not at all; the divisor may not."""
    cases = _grid()
    assert len(cases) > 400
    results = px.compare_many(cases, backends=BOTH, pool=two)
    parted = set()
    for case, result in zip(cases, results):
        for name, r in result.results.items():
            assert r.status in ("agree", "differ"), (name, r.detail)
            if r.status == "differ":
                assert r.detail.endswith(")") and " (" in r.detail, (name, r.detail)
        new, old = result.results[PINNED], result.results[EXTRA]
        if new.status != old.status:
            special = not np.isfinite(case["X"]).all()
            parted.add("special float64" if special and case["X"].dtype == np.float64 else
                       f"{case.get('mode', 'max')} {case.get('padding')} "
                       f"count_include_pad={case.get('count_include_pad')}"
                       if not special else f"special {case['X'].dtype}")
            assert new.status == "agree", (new.detail, old.detail)
    assert "avg same count_include_pad=True" in parted, parted
    assert parted <= {"avg same count_include_pad=True", "special float64", "special float32",
                      "special float16"}, parted


def test_the_readme_case_where_the_versions_differ(two):
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    result = px.compare(x, 2, mode="avg", padding="same", backends=BOTH, pool=two)
    old, new = result.results[EXTRA], result.results[PINNED]
    assert new.status == "agree" and old.status == "differ"
    np.testing.assert_array_equal(result.reference[0, 0, 3], [6.25, 6.75, 7.25, 3.75])
    np.testing.assert_array_equal(old.output[0, 0, 3], [12.5, 13.5, 14.5, 7.5])
    np.testing.assert_array_equal(old.output[0, 0, :3], result.reference[0, 0, :3])
    assert "padding left out of the divisor: divides by 2 where the reference" in old.detail
    assert "auto_pad='SAME_UPPER', count_include_pad=1" in old.how["code"]
    y = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    y[0, 0, :2, :2] = -np.inf
    result = px.compare(y, 2, stride=2, backends=BOTH, pool=two)
    for r in result.results.values():  # measured: 1.22.1 float64's lowest, 1.32.0 -inf (a CPU's)
        assert r.status == "agree" or (
            r.output[0, 0, 0, 0] == np.finfo(np.float64).min
            and "a window of only -inf gives the lowest finite value" in r.detail), r.detail


def test_report_text_markdown_json_and_html_have_a_column_per_version(two):
    cases = [c for c in CHAPTER if c.name in ("pool2d-max", "pool2d-avg")]
    doc = report.build(cases, BOTH, pool=two)
    assert list(doc["backends"]) == BOTH
    assert doc["backends"][EXTRA]["label"] == "onnxruntime 1.22.1"
    assert doc["backends"][EXTRA]["version"] == "1.22.1"
    assert doc["backends"][PINNED]["label"] == f"onnxruntime {envs.pinned_version(PINNED)}"
    assert doc["backends"][PINNED]["version"] is None
    assert all(list(c["results"]) == BOTH for c in doc["cases"])
    assert json.loads(report.render(doc, "json"))["backends"][EXTRA]["label"] == (
        "onnxruntime 1.22.1")
    pinned = f"onnxruntime {envs.pinned_version(PINNED)}"
    text = report.render(doc, "text")
    header = next(l for l in text.splitlines() if l.startswith("case"))
    assert header.split() == ["case", "chapter", "onnxruntime", "1.22.1", "onnxruntime",
                              envs.pinned_version(PINNED)], header
    assert "@" not in header
    assert f"| onnxruntime 1.22.1 | {pinned} |" in report.render(doc, "markdown")
    page = report.render(doc, "html")
    assert f"<th>onnxruntime 1.22.1</th><th>{pinned}</th>" in page
    assert report.exit_code(doc["summary"]) == 0


def test_cli_exit_codes_with_two_versions():
    agree = cli("report", "--cases", "pool2d-max", "--backends", ",".join(BOTH))
    assert agree.returncode == 0, agree.stderr
    assert "onnxruntime 1.22.1" in agree.stdout
    differ = cli("compare", "--shape", "1,1,4,4", "--values", "arange", "--kernel", "2",
                 "--stride", "1", "--padding", "same", "--mode", "avg", "--backends",
                 ",".join(BOTH))
    assert differ.returncode == 1, differ.stderr
    assert "padding left out of the divisor" in differ.stdout


# --- what cannot be built ------------------------------------------------------------------

def test_another_pytorch_is_refused_not_downloaded(tmp_path):
    env = {"POOLING_XFW_ENVS": str(tmp_path / "envs"), "POOLING_XFW_ALLOW_LARGE": ""}
    proc = cli("envs", "create", "--backends", "pytorch@2.5.1", env=env)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr
    assert "pytorch other than 2.13.0 downloads a CUDA build of several GB" in proc.stderr
    assert "POOLING_XFW_ALLOW_LARGE=1 pooling-xfw envs create --backends pytorch@2.5.1" in (
        proc.stderr)
    assert not any(p.is_dir() for p in (tmp_path / "envs").glob("*")), "nothing is built"
    run = cli("compare", "--shape", "4,4", "--kernel", "2", "--backends", "pytorch@2.5.1",
              "--format", "json", env=env)
    assert run.returncode == 3, run.stderr
    result = json.loads(run.stdout)["cases"][0]["results"]["pytorch@2.5.1"]
    assert result["status"] == "unavailable" and "CUDA build of several GB" in result["detail"]


def test_a_version_the_index_lacks_is_unavailable_with_the_reason_and_fix(tmp_path):
    env = {"POOLING_XFW_ENVS": str(tmp_path / "envs")}
    proc = cli("envs", "create", "--backends", "onnxruntime@0.0.1", env=env)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr
    line = next(l for l in proc.stderr.splitlines() if "unavailable:" in l)
    assert "onnxruntime==0.0.1 is not on the package index" in line, line
    assert "fix: another version, from `pip index versions onnxruntime`" in line, line
    assert not any(p.is_dir() for p in (tmp_path / "envs").glob("onnxruntime@0.0.1-*"))
    run = cli("compare", "--shape", "4,4", "--kernel", "2", "--backends", "onnxruntime@0.0.1",
              env=env)
    assert run.returncode == 3 and "is not on the package index" in run.stdout, run.stdout


def test_the_conventions_table_has_a_column_per_version():
    proc = cli("conventions", "--backends", ",".join(BOTH))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    pinned = f"onnxruntime {envs.pinned_version(PINNED)}"
    assert lines[0] == f"| convention | onnxruntime 1.22.1 | {pinned} |"
    rows = [l.strip("| ").split(" | ") for l in lines[2:] if l.startswith("| ")]
    parted = {cells[0]: cells[1] for cells in rows if cells[1] != cells[2]}
    float64_empty = "max of a float64 window of padding only (k2 s1 p2)"
    nan_first = "argmax of a NaN first in its window (k2 s2)"
    assert list(parted) == ["avg 'same', padding counted", float64_empty, nan_first], parted
    assert parted["avg 'same', padding counted"].startswith(
        "**differs**: padding left out of the divisor")
    # 1.22.1's MaxPool with Indices ignores a NaN that is its window's first cell; the pinned
    # one keeps it (as wave 3 measured for it)
    assert parted[nan_first].startswith("**differs**: NaN in the window ignored")
    # 1.22.1's float64 MaxPool starts from the lowest finite value, the pinned one's from -inf
    assert parted[float64_empty].startswith(
        "**differs**: a window of padding only gives -1.7976931e+308, the lowest finite value")
