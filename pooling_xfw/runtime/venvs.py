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
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable

from .. import registry
from . import installer, pins
from .interpreters import (EnvStatus, base_python, base_python_missing, base_python_version,
                           fix_command, how_chosen, probe, quiet_env, user_interpreter)
from .pins import (VERSIONS_TABLE, canonical, check_backend, framework_of, large_build,
                   name_problem, package_of, pins_text, requirements, split_machine,
                   split_name)

STAMP = "pooling-xfw.json"
#: (venv, pins' directory) whose use this process has already recorded in the venv's stamp
_noted: set[tuple[Path, str]] = set()


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


def _base_version(backend: str) -> str:
    """The base Python version ``backend``'s venv is keyed by (the one asked for, while no
    such Python is found)."""
    found = base_python(backend)
    return found[1] if found else base_python_version(backend)


def fingerprint_of(pins: bytes, python_version: str) -> str:
    digest = hashlib.sha256(pins)
    digest.update(python_version.encode())
    return digest.hexdigest()[:16]


def fingerprint(backend: str) -> str:
    """Hash of the pinned requirements (``pins_text``) and the base interpreter's version: a
    change rebuilds."""
    return fingerprint_of(pins_text(backend), _base_version(backend))


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


def read_stamp(venv: Path) -> dict:
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
    return (read_stamp(venv).get("fingerprint") == fingerprint(backend)
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
    me = str(pins.REQUIREMENTS_DIR)
    if (venv, me) in _noted:
        return
    _noted.add((venv, me))
    stamp = read_stamp(venv)
    if not stamp or stamp["used_by"].get(me) == _today():
        return
    try:
        lock = acquire_lock(venv, wait=False)
        if lock is None:
            return
        with lock:
            stamp = read_stamp(venv)
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


def inspect(backend: str, timeout: float = 120.0) -> EnvStatus:
    """Probe one backend's interpreter: does it import its framework, and which versions?"""
    if user_interpreter(backend):
        return probe(backend, user_interpreter(backend), timeout, chosen_by=how_chosen(backend))
    venv = current_dir(backend)
    if venv is None:
        others = sorted(p.name for p in all_venv_dirs() if backend_of_dir(p.name) == backend)
        state = "stale" if others else "missing"
        detail = f"no environment for these pins ({env_name(backend)}) in {envs_root()}"
        if base_python_version(backend) and base_python(backend) is None:
            detail = base_python_missing(backend)
        if others:
            detail += f"; others there: {', '.join(others)}"
        return EnvStatus(backend, state, None, detail=detail, fix=fix_command(backend))
    return probe(backend, str(_python_in(venv)), timeout)


def backend_of_dir(name: str) -> str | None:
    """The backend of a venv's directory name (``paddle``, ``paddle-1a2b3c4d``,
    ``onnxruntime@1.22.1-1a2b3c4d``: the name with its version), else None."""
    head, sep, key = name.rpartition("-")
    if not sep:  # unkeyed, of an earlier version: plain names only
        return name if registry.known(name) else None
    if len(key) == 8 and all(c in "0123456789abcdef" for c in key) and not name_problem(head):
        return head
    return None


def all_venv_dirs() -> list[Path]:
    """Every venv directory in the root, keyed or of an earlier version, stamped or not."""
    try:
        entries = sorted(envs_root().iterdir())
    except OSError:
        return []
    return [p for p in entries if p.is_dir() and backend_of_dir(p.name)]


def lock_file(venv: Path) -> Path:
    return venv.parent / f".{venv.name}.lock"


def acquire_lock(venv: Path, wait: bool = True):
    """The open lock file of ``venv``, locked; None when another process holds it and ``wait``
    is false.  A lock file removed (by ``prune``) while waiting for it is opened again."""
    path = lock_file(venv)
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


def lock_holder(venv: Path) -> str:
    """Who holds the lock of ``venv``, as its holder wrote it in the lock file."""
    try:
        info = json.loads(lock_file(venv).read_text())
        return (f"pid {info['pid']} ({info['doing']} {venv.name} for {info['pins']} "
                f"since {info['since']})")
    except (OSError, ValueError, KeyError, TypeError):
        return f"another process (it holds the lock of {venv.name})"


@contextlib.contextmanager
def holding_lock(venv: Path, doing: str, waiting: Callable[[str], None] | None = None,
            wait: bool = True):
    """Serialize work on one venv across processes and clones sharing the root; the holder
    writes who it is into the lock file, and a process that has to wait says for whom.
    Yields True once locked; with ``wait`` false, False at once when another holds it."""
    lock = acquire_lock(venv, wait=False)
    if lock is None and not wait:
        yield False
        return
    if lock is None:
        if waiting:
            waiting(f"waiting for {lock_holder(venv)}")
        lock = acquire_lock(venv)
    with lock:
        lock.truncate(0)
        lock.write(json.dumps({"pid": os.getpid(), "doing": doing, "pins": str(pins.REQUIREMENTS_DIR),
                               "since": time.strftime("%H:%M:%S")}))
        lock.flush()
        try:
            yield True
        finally:
            lock.truncate(0)


def _run(cmd: list[str], log, env: dict | None = None) -> None:
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT,
                   env={**os.environ, **env} if env else None)


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
    tries = installer.commands(str(_python_in(target)), str(pins))
    say(f"installing {pins} with {'uv' if len(tries) > 1 else 'pip'} (log: {log.name})")
    for number, (command, env) in enumerate(tries, 1):
        try:
            _run(command, log, env)
            return
        except subprocess.CalledProcessError:
            if number == len(tries):
                raise
            log.write("uv failed: pip installs the pins instead\n")
            say("uv failed (see the log): pip instead")


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
        with holding_lock(env_dir(backend), "building", waiting=say):
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
        me = str(pins.REQUIREMENTS_DIR)
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
    remote = [b for b in names if split_machine(b)[1] is not None]
    if remote:
        from ..errors import PoolingError

        raise PoolingError(f"backends: got {', '.join(remote)}, a column on another machine; "
                           f"allowed: environments of this machine (the other machine's is made "
                           f"there, from the same pins)")
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
    package = package_of(found.group(1)) or registry.get(name).packages[0]  # or a companion's
    return (f"{found.group(1)} is not on the package index (pip: no matching distribution)"
            + (f", its newest there: {newest}" if newest else "")
            + f"; fix: another version, from `pip index versions {package}`")


def unavailable_reason(backend: str) -> str:
    """Why ``backend`` has no interpreter, and the fix, in one line."""
    machine = split_machine(backend)[1]
    if machine is not None:
        return (f"{backend} is a column on the machine {machine!r}, and no gateway reaches it; "
                f"fix: --gateway {backend}=ssh=HOST//python=PATH (or socket=HOST:PORT)")
    if base_python_version(backend) and base_python(backend) is None:
        return f"{base_python_missing(backend)}; fix: {fix_command(backend)}"
    not_there = not_on_index(backend)
    if not_there:
        return not_there
    if large_build(backend):
        return f"no {backend} environment: {large_build(backend)}"
    return f"no {backend} environment; fix: {fix_command(backend)}"
