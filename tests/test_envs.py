"""The managed environments: keyed by their pins, listed with who uses them, pruned, locked.

Every test here works in a temporary ``POOLING_XFW_ENVS``.  A venv is either real but small
(numpy only, from pip's cache; the backend's framework played by a module of the standard
library) or faked by a ``bin/python`` that runs the calling interpreter, where only the
bookkeeping around the build is under test.
"""
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pooling_xfw.errors import PoolingError
from pooling_xfw.runtime import envs, installer, pins as pin_files, venvs
from .conftest import played_by
from pooling_xfw import registry

BACKENDS = registry.defaults()

ROOT = Path(__file__).resolve().parents[1]


def _numpy_pin() -> str:
    line = next(l for l in envs.requirements("paddle").read_text().splitlines()
                if l.startswith("numpy=="))
    return line.split("==")[1]


def _checkout(tmp_path: Path, name: str, extra: str = "") -> Path:
    """The pins of a checkout named ``name``: numpy only, ``extra`` appended to each file."""
    pins = tmp_path / name / "adapters" / "requirements"
    pins.mkdir(parents=True)
    for backend in BACKENDS:
        (pins / f"{backend}.txt").write_text(f"numpy=={_numpy_pin()}\n{extra}")
    return pins


@pytest.fixture
def root(tmp_path, monkeypatch):
    path = tmp_path / "envs"
    monkeypatch.setenv("POOLING_XFW_ENVS", str(path))
    for backend in BACKENDS:
        monkeypatch.delenv(f"POOLING_XFW_PYTHON_{backend.upper()}", raising=False)
    played_by(monkeypatch, "paddle", "json")  # has a __version__, like one
    return path


class Messages(list):
    def __call__(self, backend, message):
        self.append(f"{backend}: {message}")


def test_two_checkouts_with_different_pins_keep_their_own_environment(tmp_path, root,
                                                                      monkeypatch):
    """Real venvs (numpy from pip's cache): neither checkout rebuilds the other's."""
    first, second = _checkout(tmp_path, "a"), _checkout(tmp_path, "b", "# b differs\n")
    monkeypatch.setattr(pin_files, "REQUIREMENTS_DIR", first)
    [a] = envs.create(["paddle"], progress=Messages())
    monkeypatch.setattr(pin_files, "REQUIREMENTS_DIR", second)
    [b] = envs.create(["paddle"], progress=Messages())
    assert a.state == b.state == "ready" and a.python != b.python
    for pins, status in ((first, a), (second, b)):
        monkeypatch.setattr(pin_files, "REQUIREMENTS_DIR", pins)
        said = Messages()
        [again] = envs.create(["paddle"], progress=said)
        assert again.state == "ready" and again.python == status.python
        assert said == ["paddle: up to date"]
        assert envs.interpreter("paddle") == status.python


def test_a_venv_is_installed_with_uv_and_pip_takes_over_where_uv_fails(tmp_path, root,
                                                                       monkeypatch):
    """uv (pinned in the calling environment) installs the pins; uv failing (here: pointed at
    an index with nothing on it) is said, and pip installs them instead."""
    monkeypatch.setattr(pin_files, "REQUIREMENTS_DIR", _checkout(tmp_path, "a"))
    monkeypatch.delenv(installer.VARIABLE, raising=False)
    said = Messages()
    [status] = envs.create(["paddle"], progress=said)
    log = (root / f"{envs.env_name('paddle')}.log").read_text()
    assert status.state == "ready" and " -m uv pip install " in log, log
    assert any("with uv" in m for m in said) and "uv failed" not in log
    empty = tmp_path / "empty-index"
    empty.mkdir()
    monkeypatch.setattr(installer, "uv_settings", lambda: (
        ("--index-url", empty.as_uri(), "--find-links", str(empty)), {}))
    monkeypatch.setattr(pin_files, "REQUIREMENTS_DIR", _checkout(tmp_path, "b", "# b\n"))
    said = Messages()
    [status] = envs.create(["paddle"], progress=said)
    log = (root / f"{envs.env_name('paddle')}.log").read_text()
    assert status.state == "ready" and "uv failed: pip installs the pins instead" in log, log
    assert "paddle: uv failed (see the log): pip instead" in said


def test_uv_is_handed_the_index_settings_pip_has(monkeypatch):
    listed = ("global.index-url='https://mirror.example/simple'\n"
              "global.extra-index-url='file:///srv/a/simple file:///srv/b/simple'\n"
              "install.find-links='/srv/wheels'\n"
              ":env:.constraint='/etc/pip-caps.txt'\n"
              ":env:.cert='/etc/ssl/bundle.pem'\n"
              "global.timeout='60'\n")
    monkeypatch.setattr(installer.subprocess, "run",
                        lambda *a, **k: installer.subprocess.CompletedProcess(a, 0, listed, ""))
    installer.uv_settings.cache_clear()
    try:
        flags, env = installer.uv_settings()
    finally:
        installer.uv_settings.cache_clear()
    assert flags == ("--index-url", "https://mirror.example/simple",
                     "--extra-index-url", "file:///srv/a/simple",
                     "--extra-index-url", "file:///srv/b/simple",
                     "--find-links", "/srv/wheels", "--constraint", "/etc/pip-caps.txt")
    assert env == {"SSL_CERT_FILE": "/etc/ssl/bundle.pem"}


@pytest.mark.parametrize("value,first", [("pip", "pip"), ("uv", "uv"), (" UV ", "uv")])
def test_the_installer_variable_chooses(monkeypatch, value, first):
    monkeypatch.setenv(installer.VARIABLE, value)
    tries = installer.commands("/venv/bin/python", "pins.txt")
    assert tries[0][0][2] == first and tries[-1][0][2:4] == ["pip", "install"]


def test_an_installer_that_is_not_one_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv(installer.VARIABLE, "conda")
    with pytest.raises(PoolingError, match="^POOLING_XFW_INSTALLER: got 'conda'; allowed: uv, "
                                           "pip$"):
        installer.commands("/venv/bin/python", "pins.txt")


def _fake_python(venv: Path) -> Path:
    """``venv/bin/python``: the calling interpreter (numpy there; paddle played by json)."""
    python = venv / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    return python


@pytest.fixture
def builds(monkeypatch):
    """Builds faked: each records the venv's name and makes a ``bin/python``."""
    made = []

    def build(backend, target, log, say):
        made.append(target.name)
        _fake_python(target)

    monkeypatch.setattr(venvs, "_build", build)
    return made


def test_an_unkeyed_environment_of_an_earlier_version_is_used_where_it_is(root, builds):
    """``<root>/<backend>`` with a matching stamp is reused in place, never moved nor rebuilt;
    one built from other pins is left alone (a clone of that version may still use it)."""
    legacy = root / "paddle"
    python = _fake_python(legacy)
    (legacy / envs.STAMP).write_text(json.dumps({"fingerprint": envs.fingerprint("paddle"),
                                                 "python": "3.x"}))
    other = root / "mxnet"
    _fake_python(other)
    (other / envs.STAMP).write_text(json.dumps({"fingerprint": "0" * 16, "python": "3.x"}))
    said = Messages()
    statuses = envs.create(["paddle", "mxnet"], progress=said)
    assert statuses[0].python == envs.interpreter("paddle") == str(python)
    assert builds == [envs.env_name("mxnet")]
    assert (other / envs.STAMP).exists() and (other / "bin" / "python").exists()
    assert any(m.startswith("paddle: up to date (built by an earlier version") for m in said)
    used_by = json.loads((legacy / envs.STAMP).read_text())["used_by"]
    assert list(used_by) == [str(pin_files.REQUIREMENTS_DIR)]


def _cli(capsys, *args) -> tuple[int, str]:
    from pooling_xfw import cli

    code = cli.main(list(args))
    return code, capsys.readouterr().out


def test_envs_list_shows_every_environment_with_its_fingerprint_and_who_uses_it(
        tmp_path, root, builds, monkeypatch, capsys):
    first, second = _checkout(tmp_path, "a"), _checkout(tmp_path, "b", "# b differs\n")
    names = {}
    for pins in (first, second):
        monkeypatch.setattr(pin_files, "REQUIREMENTS_DIR", pins)
        envs.create(["paddle"], progress=Messages())
        names[pins] = (envs.env_name("paddle"), envs.fingerprint("paddle"))
    (first / "paddle.txt").write_text("numpy==1.0\n")  # checkout a moves on: its venv is unused
    monkeypatch.setattr(pin_files, "REQUIREMENTS_DIR", second)
    code, out = _cli(capsys, "envs", "list", "--backends", "paddle")
    assert code == 0
    rows = out.splitlines()
    old = rows.index(next(r for r in rows if r.split()[:1] == [names[first][0]]))
    assert rows[old].split()[1:] == [names[first][1], "unused"]
    assert rows[old + 1].split() == ["used", "by", f"{first},", "last", time.strftime("%Y-%m-%d"),
                                     "(its", "pins", "changed", "since)"]
    mine = rows.index(next(r for r in rows if r.split()[:1] == [names[second][0]]))
    assert rows[mine].split()[1:] == [names[second][1], "used", "here"]
    assert rows[mine + 1].split()[:3] == ["used", "by", f"{second},"]


def test_envs_prune_removes_only_what_no_checkout_uses(tmp_path, root, builds, monkeypatch,
                                                       capsys):
    first, second = _checkout(tmp_path, "a"), _checkout(tmp_path, "b", "# b differs\n")
    for pins in (first, second):
        monkeypatch.setattr(pin_files, "REQUIREMENTS_DIR", pins)
        envs.create(["paddle"], progress=Messages())
    used_by_a = envs.env_dir("paddle")  # b's pins
    monkeypatch.setattr(pin_files, "REQUIREMENTS_DIR", first)
    mine = envs.env_dir("paddle")
    (second / "paddle.txt").write_text("numpy==1.0\n")  # b moves on: its venv is unused
    (root / "mxnet-0123abcd").mkdir()  # a build that failed: no stamp
    other = root / "mxnet"  # an earlier version's venv, of pins no checkout recorded
    _fake_python(other)
    (other / envs.STAMP).write_text(json.dumps({"fingerprint": "0" * 16, "python": "3.x"}))
    (root / "mxnet.log").write_text("its build log\n")
    busy = root / "pytorch-0123abcd"  # unused, but its python runs right now
    (busy / "bin").mkdir(parents=True)
    (busy / "bin" / "python").symlink_to("/bin/sleep")
    sleeper = subprocess.Popen([str(busy / "bin" / "python"), "60"])
    try:
        cmdline = Path(f"/proc/{sleeper.pid}/cmdline")
        for _ in range(500):  # Popen returns while exec may still be setting up the arguments
            if cmdline.read_bytes().startswith(os.fsencode(busy)):
                break
            time.sleep(0.01)
        code, out = _cli(capsys, "envs", "prune", "--dry-run")
        assert code == 0 and sorted(out.splitlines()) == [
            "kept pytorch-0123abcd (incomplete): its python runs (pid %d)" % sleeper.pid,
            "would remove mxnet (unused)", "would remove mxnet-0123abcd (incomplete)",
            f"would remove {used_by_a.name} (unused)"]
        assert used_by_a.exists() and other.exists()
        code, out = _cli(capsys, "envs", "prune")
        assert code == 0 and "removed mxnet (unused)" in out.splitlines()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == sorted(
        [mine.name, f"{mine.name}.log", busy.name])
    assert sorted(p.name for p in root.glob(".*.lock")) == [f".{mine.name}.lock"]
    code, out = _cli(capsys, "envs", "prune", "--backends", "paddle")
    assert out == f"nothing to remove in {root}\n"


def test_a_waiting_create_says_which_process_and_checkout_it_waits_for(tmp_path, root,
                                                                       monkeypatch):
    pins = _checkout(tmp_path, "a")
    builder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from pooling_xfw.runtime import envs, pins, venvs
            pins.REQUIREMENTS_DIR = Path({str(pins)!r})
            import dataclasses
            from pooling_xfw import registry
            registry.register(dataclasses.replace(registry.get("paddle"), module="json"))
            def build(backend, target, log, say):
                print("building", flush=True)
                time.sleep(3)
                python = target / "bin" / "python"
                python.parent.mkdir(parents=True)
                python.write_text("#!/bin/sh\\nexec {sys.executable} \\"$@\\"\\n")
                python.chmod(0o755)
            venvs._build = build
            envs.create(["paddle"], progress=lambda *a: None)
            """)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert builder.stdout.readline() == "building\n"
        monkeypatch.setattr(pin_files, "REQUIREMENTS_DIR", pins)
        said = Messages()
        [status] = envs.create(["paddle"], progress=said)
    finally:
        builder.wait(timeout=60)
    assert status.state == "ready"
    name = envs.env_name("paddle")
    assert len(said) == 2 and said[1] == "paddle: up to date", said
    assert said[0].startswith(f"paddle: waiting for pid {builder.pid} (building {name} for "
                              f"{pins} since "), said


def _script(path: Path, body: str, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(mode)
    return path


OLD_NUMPY = "numpy/__init__.py"


@pytest.mark.parametrize("case", ["missing", "directory", "not executable", "not python",
                                  "old python", "no framework", "no numpy", "old numpy"])
@pytest.mark.parametrize("chosen", ["flag", "variable"])
def test_envs_list_says_what_is_wrong_with_an_interpreter_the_user_chose(
        case, chosen, tmp_path, root, monkeypatch, capsys):
    """Not `envs create` (rebuilding pooling-xfw's own venv does not change the user's
    interpreter): what is wrong with it, and how to fix that interpreter."""
    python = {
        "missing": lambda: tmp_path / "no" / "python",
        "directory": lambda: tmp_path,
        "not executable": lambda: _script(tmp_path / "python", f"exec {sys.executable}", 0o644),
        "not python": lambda: _script(tmp_path / "python", "echo 'this is not python'"),
        "old python": lambda: _script(tmp_path / "python", "echo '{\"python\": \"2.7.18\"}'"),
        "no framework": lambda: _script(tmp_path / "python", f'exec {sys.executable} "$@"'),
        "no numpy": lambda: _script(tmp_path / "python", f'exec {sys.executable} -S "$@"'),
        "old numpy": lambda: _script(tmp_path / "python",
                                     f'PYTHONPATH={tmp_path / "site"} exec {sys.executable} "$@"'),
    }[case]()
    (tmp_path / "site" / "numpy").mkdir(parents=True)
    (tmp_path / "site" / "numpy" / "__init__.py").write_text("__version__ = '1.19.5'\n")
    if chosen == "flag":
        given, args = f"--python mxnet={python}", ["--python", f"mxnet={python}"]
    else:
        given, args = f"POOLING_XFW_PYTHON_MXNET={python}", []
        monkeypatch.setenv("POOLING_XFW_PYTHON_MXNET", str(python))
    code, out = _cli(capsys, *args, "envs", "list", "--backends", "mxnet")
    assert code == 3
    detail = out.splitlines()[2].strip()
    what = {"missing": "no such file", "directory": "a directory, not an interpreter",
            "not executable": "not executable",
            "not python": "printed no versions: is it a Python interpreter? (",
            "old python": "Python 2.7.18; pooling-xfw needs Python >= 3.10",
            "no framework": "mxnet does not import there: ModuleNotFoundError: "
                            "No module named 'mxnet'",
            "no numpy": "numpy does not import there: ModuleNotFoundError: "
                        "No module named 'numpy'",
            "old numpy": "numpy 1.19.5 there; pooling-xfw needs numpy >= 1.21"}[case]
    assert detail.startswith(f"{given}: {what}"), detail
    name = given.split("=")[0]
    drop = f"leave out {name}" if chosen == "flag" else f"unset {name}"
    assert detail.endswith(f", or {drop} to use pooling-xfw's own environment"), detail
    assert "envs create" not in detail


def test_a_broken_managed_environment_is_removed_and_built_anew(root):
    """Its stamp matches, so `envs create` alone would call it up to date."""
    venv = envs.env_dir("mxnet")
    _fake_python(venv)  # the calling interpreter: no mxnet there
    (venv / envs.STAMP).write_text(json.dumps({"fingerprint": envs.fingerprint("mxnet")}))
    status = envs.inspect("mxnet")
    assert (status.state, status.detail) == (
        "broken", "mxnet does not import there: ModuleNotFoundError: No module named 'mxnet'")
    assert status.fix == f"rm -r {venv}; pooling-xfw envs create --backends mxnet"


def _unwritable(tmp_path: Path, fill=lambda path: None) -> tuple[Path, list[str]]:
    """A directory this test's CLI cannot write (``fill`` puts things in it first): mode 555,
    the CLI run in a user namespace of its own when this is root (root writes anywhere)."""
    path = tmp_path / "read-only"
    path.mkdir()
    fill(path)
    path.chmod(0o555)
    if os.geteuid() != 0:
        return path, []
    namespace = subprocess.run(["unshare", "-U", "true"], capture_output=True, text=True)
    assert namespace.returncode == 0, (  # a skip would hide the check as root
        f"as root, this test runs the CLI as another user in a user namespace (unshare -U), "
        f"which this machine refused: {namespace.stderr.strip()}")
    return path, ["unshare", "-U"]


@pytest.mark.parametrize("problem", ["a file", "no parent", "not writable"])
@pytest.mark.parametrize("command", [
    ["envs", "create", "--backends", "paddle"],
    ["report", "--cases", "pool2d-max", "--backends", "paddle,mxnet"],
    ["compare", "--shape", "4,4", "--kernel", "2", "--backends", "paddle"]], ids=lambda c: c[0])
def test_environments_directory_that_cannot_hold_them_is_one_line_exit_2(problem, command,
                                                                        tmp_path):
    prefix = []
    if problem == "a file":
        path = tmp_path / "envs"
        path.write_text("not a directory\n")
        why = "not a directory"
    elif problem == "no parent":
        path = tmp_path / "missing" / "envs"
        why = f"{path.parent} does not exist"
    else:
        path, prefix = _unwritable(tmp_path)
        why = "not writable (Permission denied)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("POOLING_XFW_PYTHON_")}
    env.update(POOLING_XFW_ENVS=str(path), NO_COLOR="1")
    proc = subprocess.run([*prefix, sys.executable, "-m", "pooling_xfw", *command],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert proc.stderr == (f"pooling-xfw: error: POOLING_XFW_ENVS: got {str(path)!r}: {why}; "
                           f"allowed: a writable directory, or one to create in an existing "
                           f"directory\n")


def test_a_read_only_directory_of_current_environments_still_serves(tmp_path):
    def fill(path):
        venv = path / envs.env_name("paddle")
        _fake_python(venv)
        (venv / envs.STAMP).write_text(json.dumps({"fingerprint": envs.fingerprint("paddle")}))
        venv.chmod(0o555)

    path, prefix = _unwritable(tmp_path, fill)
    env = {k: v for k, v in os.environ.items() if not k.startswith("POOLING_XFW_PYTHON_")}
    proc = subprocess.run([*prefix, sys.executable, "-m", "pooling_xfw", "envs", "create",
                           "--backends", "paddle"], capture_output=True, text=True, cwd=ROOT,
                          env={**env, "POOLING_XFW_ENVS": str(path)}, timeout=120)
    assert (proc.returncode, proc.stderr) == (0, "[envs] paddle: up to date\n")


def test_checkouts_with_the_same_pins_share_one_environment_and_each_is_recorded(
        tmp_path, root, builds, monkeypatch):
    first, second = _checkout(tmp_path, "a"), _checkout(tmp_path, "b")
    monkeypatch.setattr(pin_files, "REQUIREMENTS_DIR", first)
    envs.create(["paddle"], progress=Messages())
    monkeypatch.setattr(pin_files, "REQUIREMENTS_DIR", second)
    python = envs.interpreter("paddle")  # a run of b: no build, its use recorded
    assert builds == [envs.env_name("paddle")] and python.startswith(str(envs.env_dir("paddle")))
    [venv] = envs.environments(["paddle"])
    today = time.strftime("%Y-%m-%d")
    assert venv.used_by == {str(first): today, str(second): today}
    assert venv.state == "used here" and venv.still == {str(first): "", str(second): ""}
