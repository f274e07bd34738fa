"""The interpreters a backend runs with: the base Python its venv is built on (this one, or a
pyenv version its pins ask for), the user's own (``--python BACKEND=PATH`` or
``POOLING_XFW_PYTHON_<BACKEND>``, used as it is), and the probe that says what an interpreter
holds and, when it cannot run the backend, what is wrong and the command that fixes it."""
from __future__ import annotations

import dataclasses
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from .. import registry
from .pins import (LARGE_VARIABLE, PROJECT_ROOT, check_backend, large_build, normalized_version,
                   public_version, requirements, split_name)
from .worker import QUIET


_overrides: dict[str, str] = {}


def set_interpreter(backend: str, python: str) -> None:
    """Point ``backend`` at an existing interpreter (the CLI's ``--python BACKEND=PATH``)."""
    _overrides[check_backend(backend)] = python


def forget_interpreters() -> None:
    _overrides.clear()


def user_interpreter(backend: str) -> str | None:
    """The interpreter the user chose for ``backend`` (flag first, then environment variable)."""
    if "@" in backend:  # no variable name holds '@' and '.': the flag only
        return _overrides.get(backend)
    return _overrides.get(backend) or os.environ.get(f"POOLING_XFW_PYTHON_{backend.upper()}")


def base_python_version(backend: str) -> str | None:
    """The Python version ``backend``'s pins ask for, from a ``# python: X.Y[.Z]`` line among
    the comment lines heading them (like tox's ``basepython``), else None (any: this one)."""
    try:
        lines = requirements(backend).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].partition(":")
        if sep and key.strip().lower() == "python" and value.strip():
            return value.strip()
    return None


def python_version_of(python: str) -> str | None:
    """The version ``python`` runs as, or None when it does not run (a pyenv shim of a version
    not selected exits with an error)."""
    try:
        proc = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = proc.stdout.strip()
    return text if proc.returncode == 0 and text[:1].isdigit() else None


def _pyenv() -> str | None:
    """pyenv's executable: on PATH, else in ``$PYENV_ROOT`` or ``~/.pyenv`` (often off PATH)."""
    found = shutil.which("pyenv")
    if found:
        return found
    for root in (os.environ.get("PYENV_ROOT"), Path.home() / ".pyenv"):
        candidate = Path(root or "") / "bin" / "pyenv"
        if root and candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _wanted(version: str, found: str | None) -> bool:
    return found is not None and (found == version or found.startswith(version + "."))


_base_found: dict[str, tuple[str, str] | None] = {}


def base_python(backend: str) -> tuple[str, str] | None:
    """``(interpreter, version)`` that ``backend``'s venv is built from: this Python when the
    pins name no version or this one; else ``python<X.Y>`` on PATH, then pyenv's (``pyenv
    prefix X.Y``); None when none is found (``base_python_missing`` says how to fix it)."""
    version = base_python_version(backend)
    if version is None or _wanted(version, RUNNING_PYTHON):
        return sys.executable, RUNNING_PYTHON
    if version in _base_found:
        return _base_found[version]
    found = None
    short = ".".join(version.split(".")[:2])
    on_path = shutil.which(f"python{short}")
    if on_path and _wanted(version, python_version_of(on_path)):
        found = on_path, python_version_of(on_path)
    pyenv = _pyenv() if found is None else None
    if pyenv:
        try:
            proc = subprocess.run([pyenv, "prefix", version], capture_output=True, text=True,
                                  timeout=60)
            prefix = proc.stdout.strip().splitlines()[-1] if proc.returncode == 0 else ""
        except (OSError, subprocess.TimeoutExpired, IndexError):
            prefix = ""
        for name in (f"python{short}", "python3"):
            candidate = str(Path(prefix) / "bin" / name)
            if prefix and os.path.isfile(candidate):
                got = python_version_of(candidate)
                if _wanted(version, got):
                    found = candidate, got
                    break
    _base_found[version] = found
    return found


def base_python_missing(backend: str) -> str:
    """What is missing, in one line, when ``backend``'s base Python is not found."""
    version = base_python_version(backend)
    short = ".".join(version.split(".")[:2])
    return (f"{backend} needs Python {version} ({requirements(backend).name}: '# python: "
            f"{version}'), found neither as python{short} on PATH nor through pyenv")


@dataclasses.dataclass
class EnvStatus:
    """What ``envs list`` shows for one backend."""

    backend: str
    state: str  # ready | missing | stale | broken
    python: str | None
    framework_version: str | None = None
    numpy_version: str | None = None
    detail: str = ""
    fix: str = ""
    where: str = "this machine"


# in a syntax old interpreters parse too, so that they can say their version
_VERSION_PROBE = """\
import importlib, json, sys
found = {"python": sys.version.split()[0]}
for key, name in (("numpy", "numpy"), ("framework", MODULE)):
    try:
        found[key] = str(importlib.import_module(name).__version__)
    except BaseException as exc:
        found[key + "_error"] = "%s: %s" % (type(exc).__name__, exc)
        break
print(json.dumps(found))
"""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split(".")[:2]:
        digits = "".join(itertools.takewhile(str.isdigit, part))
        parts.append(int(digits or 0))
    return tuple(parts)


def probe(backend: str, python: str, timeout: float = 120.0,
          chosen_by: str | None = None) -> EnvStatus:
    """Run ``python`` once, as a worker runs: ready when it is a Python recent enough that
    imports numpy (recent enough) and the backend's framework.  Otherwise the status says what
    is wrong and how to fix it: for an interpreter the user chose (``chosen_by``: the flag or
    variable, as written), in that interpreter, since rebuilding pooling-xfw's own venv would
    not change it; for a managed venv, by building it anew."""
    module = registry.get(backend).module
    if chosen_by:
        name = chosen_by.split("=", 1)[0]
        drop = (f"leave out {name}" if name.startswith("--") else f"unset {name}") + (
            " to use pooling-xfw's own environment")
        install = f"{python} -m pip install -r {requirements(backend)}, or {drop}"
        repoint = f"point {name} at a Python with numpy and {module}, or {drop}"
    else:
        install = repoint = f"rm -r {Path(python).parents[1]}; {fix_command(backend)}"

    def broken(detail: str, fix: str) -> EnvStatus:
        return EnvStatus(backend, "broken", python, fix=fix,
                         detail=f"{chosen_by}: {detail}" if chosen_by else detail)

    if chosen_by:
        found = python if os.sep in python else shutil.which(python)
        if not found or not os.path.exists(found):
            return broken("no such file", repoint)
        if os.path.isdir(found):
            return broken("a directory, not an interpreter", repoint)
        if not os.access(found, os.X_OK):
            return broken("not executable", repoint)
    code = _VERSION_PROBE.replace("MODULE", repr(module))
    try:
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True,
                              timeout=timeout, env=worker_env())
    except subprocess.TimeoutExpired:
        return broken(f"no answer within {timeout:g} s (importing numpy and {module})", install)
    except OSError as exc:
        return broken(f"cannot run it ({exc.strerror or exc})", repoint)
    lines = proc.stdout.strip().splitlines()
    try:
        found = json.loads(lines[-1])
        assert isinstance(found, dict) and "python" in found
    except (IndexError, ValueError, AssertionError):
        if proc.returncode < 0:
            return broken(f"killed by {_signal_name(-proc.returncode)} while importing "
                          f"numpy and {module}", install)
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return broken(f"printed no versions: is it a Python interpreter? ({last})", repoint)
    if _version(found["python"]) < MIN_PYTHON:
        return broken(f"Python {found['python']}; pooling-xfw needs Python >= "
                      f"{'.'.join(map(str, MIN_PYTHON))}", repoint)
    for key, what in (("numpy", "numpy"), ("framework", module)):
        error = found.get(f"{key}_error")
        if not error and key not in found:
            return broken(f"did not say its {what} version: is it a Python interpreter?",
                          repoint)
        if error:
            last = [line for line in error.splitlines() if line.strip()][-1]
            return broken(f"{what} does not import there: {last}", install)
        if key == "numpy" and _version(found["numpy"]) < MIN_NUMPY:
            return broken(f"numpy {found['numpy']} there; pooling-xfw needs numpy >= "
                          f"{'.'.join(map(str, MIN_NUMPY))}", install)
    wrong = wrong_version(backend, found["framework"])
    if wrong:
        return broken(wrong, repoint if chosen_by else install)
    return EnvStatus(backend, "ready", python, found["framework"], found["numpy"])


def wrong_version(backend: str, found: str) -> str | None:
    """For ``BACKEND@VERSION``: what is wrong when the interpreter runs another version; None
    when it is right.  A local label (``+cpu``) counts where it is asked for: ``2.13.0`` is run
    by a ``2.13.0+cpu`` build, ``2.13.0+gpu`` is not."""
    name, version = split_name(backend)
    if version is None or (normalized_version(found) == normalized_version(version) if "+" in
                           version else public_version(found) == public_version(version)):
        return None  # a local label asked for (+cpu) is the one the build must report
    return f"it runs {registry.get(name).module} {found}, not {version}"


def worker_env() -> dict[str, str]:
    """Environment for a worker process: framework log noise off and nothing of the caller's
    module path (``PYTHONPATH``, ``PYTHONHOME``): the toolkit is shipped to it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(QUIET)
    env.update(registry.quiet_environment())
    return env


def quiet_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a script of this checkout run by a backend's interpreter (examples,
    benchmarks, probes): the project root importable, framework log noise off."""
    env = worker_env()
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


RUNNING_PYTHON = sys.version.split()[0]


def fix_command(backend: str) -> str:
    """How to get ``backend`` an environment (first its base Python, when that is missing)."""
    create = f"pooling-xfw envs create --backends {backend}"
    if large_build(backend):
        create = f"{LARGE_VARIABLE}=1 {create}"
    version = base_python_version(backend)
    if version and base_python(backend) is None:
        short = ".".join(version.split(".")[:2])
        return (f"`pyenv install {version}` then `{create}`, or --python {backend}="
                f"/path/to/python{short} (a Python {version} with numpy and "
                f"{registry.get(backend).module})")
    return create


#: what a worker needs besides its framework (pyproject's numpy and Python requirements)
MIN_NUMPY, MIN_PYTHON = (1, 21), (3, 10)


def how_chosen(backend: str) -> str:
    """How the user chose ``backend``'s interpreter, as they wrote it."""
    if backend in _overrides:
        return f"--python {backend}={_overrides[backend]}"
    return f"POOLING_XFW_PYTHON_{backend.upper()}={user_interpreter(backend)}"
