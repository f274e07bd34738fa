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
import time
from pathlib import Path

import pytest

from pooling_xfw.runtime import envs
from pooling_xfw.runtime.envs import BACKENDS

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
    monkeypatch.setitem(envs.FRAMEWORK_MODULE, "paddle", "json")  # has a __version__, like one
    return path


class Messages(list):
    def __call__(self, backend, message):
        self.append(f"{backend}: {message}")


def test_two_checkouts_with_different_pins_keep_their_own_environment(tmp_path, root,
                                                                      monkeypatch):
    """Real venvs (numpy from pip's cache): neither checkout rebuilds the other's."""
    first, second = _checkout(tmp_path, "a"), _checkout(tmp_path, "b", "# b differs\n")
    monkeypatch.setattr(envs, "REQUIREMENTS_DIR", first)
    [a] = envs.create(["paddle"], progress=Messages())
    monkeypatch.setattr(envs, "REQUIREMENTS_DIR", second)
    [b] = envs.create(["paddle"], progress=Messages())
    assert a.state == b.state == "ready" and a.python != b.python
    for pins, status in ((first, a), (second, b)):
        monkeypatch.setattr(envs, "REQUIREMENTS_DIR", pins)
        said = Messages()
        started = time.monotonic()
        [again] = envs.create(["paddle"], progress=said)
        assert time.monotonic() - started < 2, said
        assert again.state == "ready" and again.python == status.python
        assert said == ["paddle: up to date"]
        assert envs.interpreter("paddle") == status.python


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

    monkeypatch.setattr(envs, "_build", build)
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
    assert list(used_by) == [str(envs.REQUIREMENTS_DIR)]
