"""Virtual environments for the backends, built from the pinned files in ``adapters/requirements``.

The frameworks cannot share an interpreter (MXNet 1.9.1 needs numpy<1.24; TensorFlow then
Paddle in one process segfaults), so each gets its own venv.  Where they live:

* ``$POOLING_XFW_ENVS`` if set, else ``$XDG_CACHE_HOME/pooling-xfw/envs`` (``~/.cache/...``):
  outside the clone, so clones on the same machine share them.
* A venv is keyed by its pins: ``<root>/<backend>-<fingerprint[:8]>/``, the fingerprint being a
  hash of ``<backend>.txt`` and the base interpreter's version.  Clones with the same pins share
  one venv; clones with different pins each have their own, side by side, and never rebuild
  each other's.  ``<root>/<name>/pooling-xfw.json`` (the stamp) is written last, once the
  framework imports; it records the full fingerprint, the pins' directory that built it and
  every pins' directory that used it (with the day it last did).  No stamp, or a stamp with
  another fingerprint, means the venv is rebuilt; a matching stamp means it is reused at once.
* A backend may name another release of its framework than the pinned one: ``BACKEND@VERSION``
  (``onnxruntime@1.22.1``).  Its pins are ``<backend>.txt`` with the framework's own pin set to
  VERSION and the companion pins of ``versions.txt`` that match it (or, where those cannot
  install it, a file ``<backend>@<version>.txt`` of its own); its venv is keyed like any other,
  ``<root>/onnxruntime@1.22.1-<fingerprint[:8]>/``, by the hash of those pins.  The plain name
  keeps meaning the pinned version.
* Versions before the keying kept one venv per backend at ``<root>/<backend>/``.  Such a venv
  whose stamp matches the pins is used where it is (a venv cannot be moved: its paths are baked
  in; it is not rebuilt either); one that does not match is left alone: a clone of an earlier
  version may still use it (and would rebuild it in place), so it is listed and removable with
  ``envs prune`` like any other.

A user can bring their own interpreter for a backend with ``POOLING_XFW_PYTHON_<BACKEND>``
(e.g. ``POOLING_XFW_PYTHON_PYTORCH=~/miniconda3/envs/torch/bin/python``) or the CLI's
``--python BACKEND=PATH``; such an interpreter is used as it is and never modified.

The worker needs no install of this project in the venv: the toolkit's sources are shipped to it
through its gateway (``bootstrap``), and it imports only numpy, those sources and its own
framework; the caller's ``PYTHONPATH`` is not passed on.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable

from .. import registry
from .worker import QUIET

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_INSTALLED_REQUIREMENTS = Path(__file__).resolve().parents[1] / "adapters" / "requirements"
#: the pins: ``adapters/requirements`` at the top of a checkout, ``pooling_xfw/adapters/...`` once installed
REQUIREMENTS_DIR = (_INSTALLED_REQUIREMENTS if _INSTALLED_REQUIREMENTS.is_dir()
                    else PROJECT_ROOT / "adapters" / "requirements")
_BUILT_IN_PINS = REQUIREMENTS_DIR.resolve()
STAMP = "pooling-xfw.json"
_PYTHON_VERSION = sys.version.split()[0]
#: (venv, pins' directory) whose use this process has already recorded in the venv's stamp
_noted: set[tuple[Path, str]] = set()
_overrides: dict[str, str] = {}


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/pooling-xfw`` (default ``~/.cache/pooling-xfw``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "pooling-xfw"


def envs_root() -> Path:
    """The directory holding every backend venv (see the module docstring)."""
    explicit = os.environ.get("POOLING_XFW_ENVS")
    if explicit:
        return Path(explicit).expanduser()
    return cache_root() / "envs"


def check_root(create: bool = False) -> Path:
    """The root, when venvs can be built there; else ``PoolingError``, one line naming
    ``POOLING_XFW_ENVS`` and the path: it is not a directory, a missing parent (of
    ``POOLING_XFW_ENVS``; the default's parents are made, as for any cache), or not writable.
    With ``create`` the root is made (tried for real: permission bits do not stop root)."""
    from pooling_xfw.errors import PoolingError

    root = envs_root()
    explicit = bool(os.environ.get("POOLING_XFW_ENVS"))

    def fail(why: str):
        given = f"got {str(root)!r}" if explicit else f"unset, so {str(root)!r}"
        raise PoolingError(f"POOLING_XFW_ENVS: {given}: {why}; allowed: a writable directory, "
                           f"or one to create in an existing directory")

    if root.exists() and not root.is_dir():
        fail("not a directory")
    if not root.exists():
        if explicit and not root.parent.is_dir():
            fail(f"{root.parent} " + ("is not a directory" if root.parent.exists() else
                                      "does not exist"))
        existing = next(p for p in root.parents if p.exists())
        if not existing.is_dir():
            fail(f"{existing} is not a directory")
        if not create:
            if not os.access(existing, os.W_OK | os.X_OK):
                fail(f"{existing} is not writable")
            return root
        try:
            root.mkdir(parents=not explicit, exist_ok=True)
        except OSError as exc:
            fail(f"cannot be made ({exc.strerror or exc})")
    try:
        tempfile.TemporaryFile(dir=root).close()
    except OSError as exc:
        fail(f"not writable ({exc.strerror or exc})")
    return root


#: the version in ``BACKEND@VERSION``: a release number, ASCII digits and dots, maybe a pre-
#: or post-release suffix and a local label (``2.0.0rc1``, ``1.2.post1``, ``2.13.0+cpu``)
VERSION_PATTERN = re.compile(r"(?P<release>[0-9]+(\.[0-9]+)*)(?P<pre>(a|b|rc)[0-9]+)?"
                             r"(?P<post>\.post[0-9]+)?(?P<local>\+[a-z0-9]+(\.[a-z0-9]+)*)?",
                             re.ASCII | re.IGNORECASE)
#: how a backend is named, for error messages
NAME_FORM = "BACKEND or BACKEND@VERSION"
#: the companion pins of versions other than the pinned one (see that file)
VERSIONS_TABLE = "versions.txt"
#: frameworks whose other versions are not built unless asked for with this variable set to 1:
#: what such a build would download
LARGE_VARIABLE = "POOLING_XFW_ALLOW_LARGE"


def split_name(name: str) -> tuple[str, str | None]:
    """``("onnxruntime", "1.22.1")`` of ``onnxruntime@1.22.1``; ``(name, None)`` of a plain
    name."""
    backend, sep, version = name.partition("@")
    return backend, (version if sep else None)


def normalized_version(version: str) -> str:
    """One spelling of each version (PEP 440's equality): release numbers without leading
    zeros, at least three of them and no trailing zeros beyond (``01.22.1``, ``1.22.1.0`` ->
    ``1.22.1``; ``2.0`` -> ``2.0.0``), the pre- and post-release numbers likewise, the local
    label in lower case (``2.13.0+CPU`` -> ``2.13.0+cpu``)."""
    found = VERSION_PATTERN.fullmatch(version)
    if found is None:
        return version
    release = [int(part) for part in found["release"].split(".")]
    while len(release) > 3 and release[-1] == 0:
        release.pop()
    release += [0] * (3 - len(release))
    pre = found["pre"] or ""
    if pre:
        kind = re.match(r"[a-z]+", pre.lower()).group(0)
        pre = f"{kind}{int(pre[len(kind):])}"
    post = f".post{int(found['post'][5:])}" if found["post"] else ""
    return ".".join(map(str, release)) + pre + post + (found["local"] or "").lower()


def _public(version: str) -> str:
    """A normalized version without its local label (``2.13.0+cpu`` -> ``2.13.0``): what a
    pin ``==2.13.0`` installs either way."""
    return normalized_version(version).split("+")[0]


def canonical(name: str) -> str:
    """The environment a backend name selects: the plain name for its pinned version however
    the version is spelled (``onnxruntime@1.32.0``, ``@01.32.0``, ``@1.32.0.0``, and
    ``pytorch@2.13.0+cpu``, the pinned release as its column shows it), else
    ``BACKEND@VERSION`` with the version normalized (``normalized_version``)."""
    backend, version = split_name(name)
    if version is None or name_problem(name):
        return name
    pinned = pinned_version(backend)
    if pinned is not None and _public(version) == _public(pinned):
        return backend
    return f"{backend}@{normalized_version(version)}"


def framework_of(name: str) -> str:
    """The backend (adapter, framework) of a name, its version left off."""
    return split_name(name)[0]


def name_problem(name: str) -> str | None:
    """What is wrong with a backend name, in a few words; None when it is one."""
    backend, version = split_name(name)
    if not registry.known(backend):
        return f"unknown backend {backend!r}"
    if version is not None and not version:
        return "no version after '@'"
    if version is not None and not VERSION_PATTERN.fullmatch(version):
        return f"{version!r} is not a version number"
    return None


def allowed_names() -> str:
    """Every backend's name, ``each as BACKEND or BACKEND@VERSION (e.g. NAME@ITS_PIN)``."""
    names = registry.names()
    example = next((f"{n}@{pinned_version(n)}" for n in names if pinned_version(n)), "")
    return f"{', '.join(names)}, each as {NAME_FORM}" + (f" (e.g. {example})" if example else "")


def check_backend(name: str) -> str:
    """``name`` when it names a backend (``pytorch``, ``onnxruntime@1.22.1``); else
    ``PoolingError``, one line."""
    from pooling_xfw.errors import PoolingError

    problem = name_problem(name) if isinstance(name, str) else "not a string"
    if problem:
        raise PoolingError(f"backend: got {name!r}: {problem}; allowed: {allowed_names()}")
    return name


def label(name: str, framework_version: str | None = None) -> str:
    """A report's column title: ``pytorch 2.13.0+cpu``, ``onnxruntime 1.22.1`` (the version the
    worker said, else the one asked for, else the name alone)."""
    backend, version = split_name(name)
    shown = framework_version or version
    return f"{backend} {shown}" if shown else backend


def _package(line: str) -> str | None:
    """The package a pin line names (``torch==2.13.0`` -> ``torch``), None for a comment."""
    text = line.split("#", 1)[0].strip()
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", text)
    return match.group(0).lower().replace("_", "-") if match else None


def _pins_dir(backend: str, directory: Path | None = None) -> Path:
    """Where ``backend``'s pins are: ``directory`` when given, else beside its adapter (this
    checkout's ``REQUIREMENTS_DIR`` for the built-in backends)."""
    if directory:
        return Path(directory)
    own = registry.get(backend).requirements.parent
    return REQUIREMENTS_DIR if own == _BUILT_IN_PINS else own


def pinned_version(backend: str, directory: Path | None = None) -> str | None:
    """The version ``<backend>.txt`` pins its framework at (its first package's pin)."""
    try:
        lines = (_pins_dir(backend, directory) / f"{backend}.txt").read_text().splitlines()
    except (OSError, KeyError):
        return None
    for line in lines:
        if _package(line) == registry.get(backend).packages[0] and "==" in line:
            return line.split("#", 1)[0].split("==", 1)[1].strip()
    return None


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("rc")[0].split("a")[0]
                                                   .split("b")[0].split(".post")[0]))


def _in_range(version: str, ranges: str) -> bool:
    """Whether ``version`` meets every bound of ``ranges`` (``<1.19``, ``>=1.2,<2``)."""
    have = _release(version)
    for bound in ranges.split(","):
        op, want = re.match(r"\s*(<=|>=|==|<|>)\s*(\S+)", bound).groups()
        want_t = _release(want)
        width = max(len(have), len(want_t))
        a, b = have + (0,) * (width - len(have)), want_t + (0,) * (width - len(want_t))
        if not {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b}[op]:
            return False
    return True


def companion_pins(backend: str, version: str, directory: Path | None = None) -> list[str]:
    """The lines of ``versions.txt`` for ``backend`` whose range holds ``version``: their pins,
    in the order written (a later pin of a package replaces an earlier one)."""
    try:
        lines = (_pins_dir(backend, directory) / VERSIONS_TABLE).read_text().splitlines()
    except OSError:
        return []
    pins = []
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 3 and fields[0] == backend and _in_range(version, fields[1]):
            pins += fields[2:]
    return pins


def pins_text(name: str, directory: Path | None = None) -> bytes:
    """What ``name``'s venv installs (and is keyed by): ``<backend>.txt`` as it is for a plain
    name or the pinned version; ``<backend>@<version>.txt`` when there is one; else
    ``<backend>.txt`` with the framework's own pins set to the version and the companion pins
    of ``versions.txt`` applied.  The rule, written once."""
    backend, version = split_name(name)
    directory = _pins_dir(backend, directory)
    packages = registry.get(backend).packages
    base = directory / f"{backend}.txt"
    pinned = pinned_version(backend, directory)
    if version is None or (pinned is not None and _public(version) == _public(pinned)):
        return base.read_bytes()
    version = normalized_version(version)  # one venv per version however it is written
    name = f"{backend}@{version}"
    own = directory / f"{name}.txt"
    if own.is_file():
        return own.read_bytes()
    lines = base.read_text().splitlines()
    replace = {package: f"{package}=={version}" for package in packages}
    for pin in companion_pins(backend, version, directory):
        replace[_package(pin)] = pin
    out = [f"# {name}: {base.name} with {', '.join(packages)} at {version}"
           f" and the companion pins of {VERSIONS_TABLE}"]
    for line in lines:
        package = _package(line)
        out.append(replace.pop(package) if package in replace else line)
    out += replace.values()  # companions the base file does not pin
    return ("\n".join(out) + "\n").encode()


def large_build(name: str) -> str | None:
    """Why building ``name``'s venv is refused (a download of several GB), with how to build it
    anyway; None when it is not (or ``POOLING_XFW_ALLOW_LARGE=1`` allows it)."""
    backend, version = split_name(canonical(name))
    declared = registry.get(backend)
    if version is None or not declared.large_build or os.environ.get(LARGE_VARIABLE) == "1":
        return None
    return (f"{backend} other than {pinned_version(backend)} downloads {declared.large_build}, "
            f"not built unless asked for: {LARGE_VARIABLE}=1 pooling-xfw envs create --backends "
            f"{name}, or --python {name}=PATH (a Python with numpy and "
            f"{declared.module} {version})")


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


def requirements(backend: str) -> Path:
    """The pins' file of a backend (``<backend>.txt``; for ``BACKEND@VERSION`` its own file when
    there is one, else the file its pins are derived from, see ``pins_text``)."""
    backend = canonical(backend)
    directory = _pins_dir(framework_of(backend))
    own = directory / f"{backend}.txt"
    return own if "@" not in backend or own.is_file() else (
        directory / f"{framework_of(backend)}.txt")


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


def _python_version_of(python: str) -> str | None:
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
    if version is None or _wanted(version, _PYTHON_VERSION):
        return sys.executable, _PYTHON_VERSION
    if version in _base_found:
        return _base_found[version]
    found = None
    short = ".".join(version.split(".")[:2])
    on_path = shutil.which(f"python{short}")
    if on_path and _wanted(version, _python_version_of(on_path)):
        found = on_path, _python_version_of(on_path)
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
                got = _python_version_of(candidate)
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


def unavailable_reason(backend: str) -> str:
    """Why ``backend`` has no interpreter, and the fix, in one line."""
    if base_python_version(backend) and base_python(backend) is None:
        return f"{base_python_missing(backend)}; fix: {fix_command(backend)}"
    not_there = not_on_index(backend)
    if not_there:
        return not_there
    if large_build(backend):
        return f"no {backend} environment: {large_build(backend)}"
    return f"no {backend} environment; fix: {fix_command(backend)}"


def not_on_index(backend: str) -> str | None:
    """When the last build of ``BACKEND@VERSION``'s venv failed because the package index has no
    such version (pip's "No matching distribution"): that, with the fix, in one line."""
    name, version = split_name(backend)
    if version is None:
        return None
    try:
        log = (envs_root() / f"{env_name(backend)}.log").read_text(errors="replace")
    except OSError:
        return None
    found = re.search(r"No matching distribution found for (\S+)", log)
    if not found:
        return None
    offered = re.search(r"\(from versions: ([^)]*)\)", log)
    newest = ", ".join(offered.group(1).split(", ")[-3:]) if offered else ""
    package = _package(found.group(1)) or registry.get(name).packages[0]  # or a companion's
    return (f"{found.group(1)} is not on the package index (pip: no matching distribution)"
            + (f", its newest there: {newest}" if newest else "")
            + f"; fix: another version, from `pip index versions {package}`")


def _base_version(backend: str) -> str:
    """The base Python version ``backend``'s venv is keyed by (the one asked for, while no
    such Python is found)."""
    found = base_python(backend)
    return found[1] if found else base_python_version(backend)


def _fingerprint_of(pins: bytes, python_version: str) -> str:
    digest = hashlib.sha256(pins)
    digest.update(python_version.encode())
    return digest.hexdigest()[:16]


def fingerprint(backend: str) -> str:
    """Hash of the pinned requirements (``pins_text``) and the base interpreter's version: a
    change rebuilds."""
    return _fingerprint_of(pins_text(backend), _base_version(backend))


def env_name(backend: str) -> str:
    """``<backend>-<fingerprint[:8]>``: the name of the venv built from this checkout's pins
    (the backend's ``canonical`` name: the pinned version, however spelled, is the plain
    name's venv)."""
    return f"{canonical(backend)}-{fingerprint(backend)[:8]}"


def env_dir(backend: str) -> Path:
    """Where the venv built from this checkout's pins is (or will be built)."""
    return envs_root() / env_name(backend)


def _legacy_dir(backend: str) -> Path:
    """The one unkeyed venv per backend of versions before the keying (plain names only)."""
    return envs_root() / framework_of(backend)


def _python_in(venv: Path) -> Path:
    return venv / "bin" / "python"


def _read_stamp(venv: Path) -> dict:
    try:
        stamp = json.loads((venv / STAMP).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(stamp, dict):
        return {}
    if not isinstance(stamp.get("used_by"), dict):
        stamp["used_by"] = {}
    return stamp


def _write_stamp(venv: Path, stamp: dict) -> None:
    """Atomically: a reader sees the old stamp or the new one, never half of one."""
    partial = venv / f"{STAMP}.{os.getpid()}.tmp"
    try:
        partial.write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")
        os.replace(partial, venv / STAMP)
    finally:
        partial.unlink(missing_ok=True)


def _matches(venv: Path, backend: str) -> bool:
    return (_read_stamp(venv).get("fingerprint") == fingerprint(backend)
            and _python_in(venv).exists())


def current_dir(backend: str) -> Path | None:
    """The venv this checkout's pins select: its keyed venv, else an unkeyed one of an earlier
    version built from the same pins (used where it is); None when neither is there."""
    for venv in (env_dir(backend), _legacy_dir(backend))[:1 if "@" in canonical(backend)
                                                          else 2]:
        if _matches(venv, backend):
            return venv
    return None


def is_current(backend: str) -> bool:
    """True when a venv built from the current pins is there."""
    return current_dir(backend) is not None


def _today() -> str:
    return time.strftime("%Y-%m-%d")


def _note_use(venv: Path) -> None:
    """Record in the venv's stamp that this checkout's pins use it (once a day, best effort:
    a read-only root or a busy lock only skips the record)."""
    me = str(REQUIREMENTS_DIR)
    if (venv, me) in _noted:
        return
    _noted.add((venv, me))
    stamp = _read_stamp(venv)
    if not stamp or stamp["used_by"].get(me) == _today():
        return
    try:
        lock = _acquire(venv, wait=False)
        if lock is None:
            return
        with lock:
            stamp = _read_stamp(venv)
            if stamp:
                stamp["used_by"][me] = _today()
                _write_stamp(venv, stamp)
    except OSError:
        pass


def interpreter(backend: str) -> str | None:
    """The interpreter a worker for ``backend`` runs with, or None when there is none yet."""
    chosen = user_interpreter(backend)
    if chosen:
        return chosen
    venv = current_dir(backend)
    if venv is None:
        return None
    _note_use(venv)
    return str(_python_in(venv))


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


#: what a worker needs besides its framework (pyproject's numpy and Python requirements)
MIN_NUMPY, MIN_PYTHON = (1, 21), (3, 10)

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


def _chosen_by(backend: str) -> str:
    """How the user chose ``backend``'s interpreter, as they wrote it."""
    if backend in _overrides:
        return f"--python {backend}={_overrides[backend]}"
    return f"POOLING_XFW_PYTHON_{backend.upper()}={user_interpreter(backend)}"


def inspect(backend: str, timeout: float = 120.0) -> EnvStatus:
    """Probe one backend's interpreter: does it import its framework, and which versions?"""
    if user_interpreter(backend):
        return probe(backend, user_interpreter(backend), timeout, chosen_by=_chosen_by(backend))
    venv = current_dir(backend)
    if venv is None:
        others = sorted(p.name for p in _all_dirs() if _backend_of(p.name) == backend)
        state = "stale" if others else "missing"
        detail = f"no environment for these pins ({env_name(backend)}) in {envs_root()}"
        if base_python_version(backend) and base_python(backend) is None:
            detail = base_python_missing(backend)
        if others:
            detail += f"; others there: {', '.join(others)}"
        return EnvStatus(backend, state, None, detail=detail, fix=fix_command(backend))
    return probe(backend, str(_python_in(venv)), timeout)


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
                           version else _public(found) == _public(version)):
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


def _backend_of(name: str) -> str | None:
    """The backend of a venv's directory name (``paddle``, ``paddle-1a2b3c4d``,
    ``onnxruntime@1.22.1-1a2b3c4d``: the name with its version), else None."""
    head, sep, key = name.rpartition("-")
    if not sep:  # unkeyed, of an earlier version: plain names only
        return name if registry.known(name) else None
    if len(key) == 8 and all(c in "0123456789abcdef" for c in key) and not name_problem(head):
        return head
    return None


def _all_dirs() -> list[Path]:
    """Every venv directory in the root, keyed or of an earlier version, stamped or not."""
    try:
        entries = sorted(envs_root().iterdir())
    except OSError:
        return []
    return [p for p in entries if p.is_dir() and _backend_of(p.name)]


def _lock_path(venv: Path) -> Path:
    return venv.parent / f".{venv.name}.lock"


def _acquire(venv: Path, wait: bool = True):
    """The open lock file of ``venv``, locked; None when another process holds it and ``wait``
    is false.  A lock file removed (by ``prune``) while waiting for it is opened again."""
    path = _lock_path(venv)
    while True:
        lock = open(path, "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            if os.fstat(lock.fileno()).st_ino == os.stat(path).st_ino:
                return lock
        except BlockingIOError:
            lock.close()
            return None
        except FileNotFoundError:
            pass
        except BaseException:
            lock.close()
            raise
        lock.close()


def _holder(venv: Path) -> str:
    """Who holds the lock of ``venv``, as its holder wrote it in the lock file."""
    try:
        info = json.loads(_lock_path(venv).read_text())
        return (f"pid {info['pid']} ({info['doing']} {venv.name} for {info['pins']} "
                f"since {info['since']})")
    except (OSError, ValueError, KeyError, TypeError):
        return f"another process (it holds the lock of {venv.name})"


@contextlib.contextmanager
def _locked(venv: Path, doing: str, waiting: Callable[[str], None] | None = None,
            wait: bool = True):
    """Serialize work on one venv across processes and clones sharing the root; the holder
    writes who it is into the lock file, and a process that has to wait says for whom.
    Yields True once locked; with ``wait`` false, False at once when another holds it."""
    lock = _acquire(venv, wait=False)
    if lock is None and not wait:
        yield False
        return
    if lock is None:
        if waiting:
            waiting(f"waiting for {_holder(venv)}")
        lock = _acquire(venv)
    with lock:
        lock.truncate(0)
        lock.write(json.dumps({"pid": os.getpid(), "doing": doing, "pins": str(REQUIREMENTS_DIR),
                               "since": time.strftime("%H:%M:%S")}))
        lock.flush()
        try:
            yield True
        finally:
            lock.truncate(0)


# --- every venv in the root: list and prune ---------------------------------------------------

@dataclasses.dataclass
class Venv:
    """One venv directory in the root, as ``envs list`` and ``envs prune`` see it."""

    path: Path
    backend: str
    fingerprint: str | None  # None: no stamp (a build failed, or is under way)
    used_by: dict[str, str]  # pins' directory -> the day it last used this venv
    still: dict[str, str]  # of those, why each no longer does ("" when it still does)
    here: bool  # this checkout's pins select it

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def unkeyed(self) -> bool:
        return self.name == self.backend

    @property
    def state(self) -> str:
        if self.fingerprint is None:
            return "incomplete"
        if self.here:
            return "used here"
        if any(not why for why in self.still.values()):
            return "in use"
        return "unused"

    @property
    def removable(self) -> bool:
        return self.state in ("unused", "incomplete")


def _why_not_used(pins: str, backend: str, stamp: dict) -> str:
    """Empty when the pins' directory ``pins`` still selects the venv of ``stamp``."""
    try:
        now = _fingerprint_of(pins_text(backend, Path(pins)),
                              stamp.get("python") or _PYTHON_VERSION)
    except OSError:
        return "gone"
    return "" if now == stamp.get("fingerprint") else "its pins changed since"


def _describe(venv: Path) -> Venv:
    backend = _backend_of(venv.name)
    stamp = _read_stamp(venv)
    used_by = stamp.get("used_by", {})
    return Venv(venv, backend, stamp.get("fingerprint"), dict(used_by),
                {pins: _why_not_used(pins, backend, stamp) for pins in used_by},
                here=current_dir(backend) == venv)


def environments(backends: Iterable[str] | None = None) -> list[Venv]:
    """Every venv in the root (keyed or unkeyed, complete or not) of these backends (a plain
    name takes in every version of its framework, ``BACKEND@VERSION`` that version alone;
    None: every backend's)."""
    chosen = set(registry.names() if backends is None else backends)
    return [_describe(p) for p in _all_dirs()
            if _backend_of(p.name) in chosen or framework_of(_backend_of(p.name)) in chosen]


def _running() -> dict[str, int]:
    """The program (``argv[0]``) of every process this user can see, with one pid of each."""
    programs: dict[str, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv0 = (entry / "cmdline").read_bytes().split(b"\0", 1)[0]
        except OSError:
            continue
        programs.setdefault(os.fsdecode(argv0), int(entry.name))
    return programs


def prune(backends: Iterable[str] | None = None, dry_run: bool = False,
          progress: Callable[[str], None] = print) -> list[Venv]:
    """Remove the unused venvs (no checkout recorded in the stamp still has their pins; a
    venv of an earlier version records none) and the incomplete ones (no stamp), with their
    log and lock; a venv whose lock is held (a build under way) or whose python runs is kept.
    Returns those removed (or, with ``dry_run``, those that would be)."""
    removed = []
    running = _running()
    for venv in environments(backends):
        if not venv.removable:
            continue
        pid = next((pid for prog, pid in running.items()
                    if prog.startswith(str(venv.path) + os.sep)), None)
        if pid is not None:
            progress(f"kept {venv.name} ({venv.state}): its python runs (pid {pid})")
            continue
        if dry_run:
            progress(f"would remove {venv.name} ({venv.state})")
            removed.append(venv)
            continue
        with _locked(venv.path, "removing", wait=False) as held:
            if not held:
                progress(f"kept {venv.name} ({venv.state}): held by {_holder(venv.path)}")
                continue
            venv = _describe(venv.path)  # as it is now that no build can start
            if not venv.removable:
                continue
            shutil.rmtree(venv.path)
            for leftover in (envs_root() / f"{venv.name}.log", _lock_path(venv.path)):
                leftover.unlink(missing_ok=True)
        progress(f"removed {venv.name} ({venv.state})")
        removed.append(venv)
    if not dry_run:
        _remove_leftovers()
    return removed


def _remove_leftovers() -> None:
    """Lock and log files of venvs no longer there (a lock only when no one holds it)."""
    root = envs_root()
    for lock_path in root.glob(".*.lock"):
        name = lock_path.name[1:-len(".lock")]
        if _backend_of(name) and not (root / name).exists():
            lock = _acquire(root / name, wait=False)
            if lock is not None:
                with lock:
                    if not (root / name).exists():  # no build started before we locked
                        lock_path.unlink(missing_ok=True)
                        (root / f"{name}.log").unlink(missing_ok=True)


def _run(cmd: list[str], log) -> None:
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)


#: in a venv of ``BACKEND@VERSION``: the pins it was built from (derived, see ``pins_text``)
PINS_FILE = "pooling-xfw-requirements.txt"


def _build(backend: str, target: Path, log, say: Callable[[str], None]) -> None:
    """A venv at ``target`` with the pins of ``backend`` installed (raises CalledProcessError)."""
    python, version = base_python(backend)
    say(f"creating venv (Python {version})")
    _run([python, "-m", "venv", str(target)], log)
    pins = requirements(backend)
    if "@" in backend:  # derived pins: written into the venv, installed from there
        pins = target / PINS_FILE
        pins.write_bytes(pins_text(backend))
    say(f"installing {pins} (log: {log.name})")
    _run([str(_python_in(target)), "-m", "pip", "install", "--quiet", "-r", str(pins)], log)


def create_one(backend: str, progress: Callable[[str, str], None]) -> EnvStatus:
    """Build (or reuse) the venv for ``backend``'s pins; another venv is never touched."""
    def say(message: str) -> None:
        progress(backend, message)

    if user_interpreter(backend):
        say("using the interpreter you chose")
        return inspect(backend)
    if base_python(backend) is None:
        say(f"unavailable: {unavailable_reason(backend)}")
        return EnvStatus(backend, "missing", None, detail=base_python_missing(backend),
                         fix=fix_command(backend))
    if large_build(backend) and current_dir(backend) is None:
        say(f"not built: {large_build(backend)}")
        return EnvStatus(backend, "missing", None, detail=large_build(backend))
    venv = current_dir(backend)  # a stamp is written last and atomically: no lock to read it
    if venv is None:
        check_root(create=True)
        with _locked(env_dir(backend), "building", waiting=say):
            venv = current_dir(backend)  # built meanwhile by the process we waited for?
            if venv is None:
                return _build_here(backend, say)
    _note_use(venv)
    say("up to date" if venv == env_dir(backend) else
        f"up to date (built by an earlier version, used where it is: {venv})")
    return EnvStatus(backend, "ready", str(_python_in(venv)))


def _build_here(backend: str, say: Callable[[str], None]) -> EnvStatus:
    """Build ``env_dir(backend)`` (its lock held), stamped once its framework imports."""
    target = env_dir(backend)
    if target.exists():
        say("build incomplete: removing it")
        shutil.rmtree(target)
    log_path = envs_root() / f"{target.name}.log"
    with open(log_path, "w") as log:
        try:
            _build(backend, target, log, say)
        except subprocess.CalledProcessError as exc:
            log.flush()
            missing = not_on_index(backend)
            if missing:  # nothing to keep: the next create tries again
                shutil.rmtree(target, ignore_errors=True)
                say(f"unavailable: {missing}")
                return EnvStatus(backend, "unavailable", None, detail=missing.split("; fix: ")[0],
                                 fix=missing.split("; fix: ")[1])
            say(f"FAILED ({exc.cmd[-1]}); see {log_path}")
            return EnvStatus(backend, "broken", None, detail=f"install failed, see {log_path}",
                             fix=fix_command(backend))
    say("checking the import")
    status = probe(backend, str(_python_in(target)))
    if status.state == "ready":
        me = str(REQUIREMENTS_DIR)
        _write_stamp(target, {"fingerprint": fingerprint(backend), "backend": backend,
                              "python": _base_version(backend),
                              "pins": (requirements(backend).name if "@" not in backend
                                       or requirements(backend).name == f"{backend}.txt"
                                       else f"{requirements(backend).name} + {VERSIONS_TABLE}"),
                              "built_by": me, "built": _today(), "used_by": {me: _today()}})
        _noted.add((target, me))
    say(status.state if status.state != "ready" else
        f"ready ({registry.get(backend).module} {status.framework_version})")
    return status


def create(backends: Iterable[str] | None = None, jobs: int = 4,
           progress: Callable[[str, str], None] | None = None) -> list[EnvStatus]:
    """Create every requested environment (None: the default backends'), in parallel;
    returns their statuses in order."""
    names = [check_backend(b) for b in (registry.defaults() if backends is None else backends)]
    if any(not user_interpreter(b) and not is_current(b) for b in names):
        check_root(create=True)  # one error before any build starts
    report = progress if progress is not None else (
        lambda b, msg: print(f"[envs] {b}: {msg}", file=sys.stderr, flush=True))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda b: create_one(b, report), names))


def reexec_under(backend: str) -> None:
    """Replace this process by the same script under ``backend``'s interpreter.

    For scripts (examples, benchmarks) that need one framework in-process: they call this when
    the framework does not import here."""
    python = interpreter(backend)
    if python is None:
        module = registry.get(backend).module
        sys.exit(f"{module} is not importable here and the {backend} "
                 f"environment is missing: run `{fix_command(backend)}`")
    os.execve(python, [python, *sys.argv], quiet_env())
