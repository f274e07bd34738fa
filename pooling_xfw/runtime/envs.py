"""One virtual environment per backend, built from the pinned files in ``adapters/requirements``.

The four frameworks cannot share an interpreter (MXNet 1.9.1 needs numpy<1.24; TensorFlow then
Paddle in one process segfaults), so each gets its own venv.  Where they live:

* ``$POOLING_XFW_ENVS`` if set, else ``$XDG_CACHE_HOME/pooling-xfw/envs`` (``~/.cache/...``):
  outside the clone, so a second clone on the same machine shares them.
* ``<root>/<backend>/`` holds the venv; ``<root>/<backend>/pooling-xfw.json`` is written last and
  records the fingerprint of the pinned requirements it was built from.  No stamp, or a stamp with
  another fingerprint, means the venv is rebuilt; a matching stamp means it is reused at once.

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
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable

from .worker import FRAMEWORK_MODULE, QUIET

BACKENDS = ("mxnet", "pytorch", "tensorflow", "paddle")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
_INSTALLED_REQUIREMENTS = Path(__file__).resolve().parents[1] / "adapters" / "requirements"
#: the pins: ``adapters/requirements`` at the top of a checkout, ``pooling_xfw/adapters/...`` once installed
REQUIREMENTS_DIR = (_INSTALLED_REQUIREMENTS if _INSTALLED_REQUIREMENTS.is_dir()
                    else PROJECT_ROOT / "adapters" / "requirements")
STAMP = "pooling-xfw.json"
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


def check_backend(name: str) -> str:
    from pooling_xfw.errors import PoolingError

    if name not in BACKENDS:
        raise PoolingError(f"backend: got {name!r}; allowed: {', '.join(BACKENDS)}")
    return name


def set_interpreter(backend: str, python: str) -> None:
    """Point ``backend`` at an existing interpreter (the CLI's ``--python BACKEND=PATH``)."""
    _overrides[check_backend(backend)] = python


def forget_interpreters() -> None:
    _overrides.clear()


def user_interpreter(backend: str) -> str | None:
    """The interpreter the user chose for ``backend`` (flag first, then environment variable)."""
    return _overrides.get(backend) or os.environ.get(f"POOLING_XFW_PYTHON_{backend.upper()}")


def requirements(backend: str) -> Path:
    return REQUIREMENTS_DIR / f"{backend}.txt"


def fingerprint(backend: str) -> str:
    """Hash of the pinned requirements and the base interpreter's version: a change rebuilds."""
    digest = hashlib.sha256(requirements(backend).read_bytes())
    digest.update(sys.version.split()[0].encode())
    return digest.hexdigest()[:16]


def env_dir(backend: str) -> Path:
    return envs_root() / backend


def _venv_python(backend: str) -> Path:
    return env_dir(backend) / "bin" / "python"


def _stamp(backend: str) -> dict:
    try:
        return json.loads((env_dir(backend) / STAMP).read_text())
    except (OSError, ValueError):
        return {}


def is_current(backend: str) -> bool:
    """True when the managed venv exists and was built from the current pins."""
    return _stamp(backend).get("fingerprint") == fingerprint(backend) and _venv_python(
        backend).exists()


def interpreter(backend: str) -> str | None:
    """The interpreter a worker for ``backend`` runs with, or None when there is none yet."""
    chosen = user_interpreter(backend)
    if chosen:
        return chosen
    return str(_venv_python(backend)) if is_current(backend) else None


def fix_command(backend: str) -> str:
    return f"pooling-xfw envs create --backends {backend}"


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


_VERSION_PROBE = (
    "import importlib, json, numpy; m = importlib.import_module({module!r}); "
    "print(json.dumps({{'framework': m.__version__, 'numpy': numpy.__version__}}))"
)


def inspect(backend: str, timeout: float = 120.0) -> EnvStatus:
    """Probe one backend's interpreter: does it import its framework, and which versions?"""
    python = interpreter(backend)
    if python is None:
        state = "stale" if env_dir(backend).exists() else "missing"
        return EnvStatus(backend, state, None, detail=f"no current environment in {env_dir(backend)}",
                         fix=fix_command(backend))
    return probe(backend, python, timeout)


def probe(backend: str, python: str, timeout: float = 120.0) -> EnvStatus:
    """Run ``python`` once: ready when it imports numpy and the backend's framework."""
    code = _VERSION_PROBE.format(module=FRAMEWORK_MODULE[backend])
    try:
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True,
                              timeout=timeout, env=quiet_env())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return EnvStatus(backend, "broken", python, detail=str(exc), fix=fix_command(backend))
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1]
        return EnvStatus(backend, "broken", python, detail=last, fix=fix_command(backend))
    versions = json.loads(proc.stdout.strip().splitlines()[-1])
    return EnvStatus(backend, "ready", python, versions["framework"], versions["numpy"])


def worker_env() -> dict[str, str]:
    """Environment for a worker process: framework log noise off and nothing of the caller's
    module path (``PYTHONPATH``, ``PYTHONHOME``): the toolkit is shipped to it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(QUIET)
    return env


def quiet_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a script of this checkout run by a backend's interpreter (examples,
    benchmarks, probes): the project root importable, framework log noise off."""
    env = worker_env()
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


@contextlib.contextmanager
def _locked(backend: str):
    """Serialize builds of one backend across processes and clones sharing the root."""
    envs_root().mkdir(parents=True, exist_ok=True)
    with open(envs_root() / f".{backend}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run(cmd: list[str], log) -> None:
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)


def create_one(backend: str, progress: Callable[[str, str], None]) -> EnvStatus:
    """Build (or reuse) the venv for ``backend``; rebuilds only when its pins changed."""
    if user_interpreter(backend):
        progress(backend, "using the interpreter you chose")
        return inspect(backend)
    with _locked(backend):
        if is_current(backend):
            progress(backend, "up to date")
            return EnvStatus(backend, "ready", str(_venv_python(backend)))
        target = env_dir(backend)
        if target.exists():
            progress(backend, "pins changed or build incomplete: removing the old environment")
            shutil.rmtree(target)
        log_path = envs_root() / f"{backend}.log"
        with open(log_path, "w") as log:
            try:
                progress(backend, "creating venv")
                _run([sys.executable, "-m", "venv", str(target)], log)
                progress(backend, f"installing {requirements(backend).name} (log: {log_path})")
                _run([str(_venv_python(backend)), "-m", "pip", "install", "--quiet",
                      "-r", str(requirements(backend))], log)
            except subprocess.CalledProcessError as exc:
                progress(backend, f"FAILED ({exc.cmd[-1]}); see {log_path}")
                return EnvStatus(backend, "broken", None, detail=f"install failed, see {log_path}",
                                 fix=fix_command(backend))
        progress(backend, "checking the import")
        status = probe(backend, str(_venv_python(backend)))
        if status.state == "ready":
            (target / STAMP).write_text(json.dumps(
                {"fingerprint": fingerprint(backend), "python": sys.version.split()[0]}))
        progress(backend, status.state if status.state != "ready" else
                 f"ready ({FRAMEWORK_MODULE[backend]} {status.framework_version})")
        return status


def create(backends: Iterable[str] = BACKENDS, jobs: int = 4,
           progress: Callable[[str, str], None] | None = None) -> list[EnvStatus]:
    """Create every requested environment, in parallel; returns their statuses in order."""
    names = [check_backend(b) for b in backends]
    report = progress or (lambda b, msg: print(f"[envs] {b}: {msg}", file=sys.stderr, flush=True))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda b: create_one(b, report), names))


def reexec_under(backend: str) -> None:
    """Replace this process by the same script under ``backend``'s interpreter.

    For scripts (examples, benchmarks) that need one framework in-process: they call this when
    the framework does not import here."""
    python = interpreter(backend)
    if python is None:
        sys.exit(f"{FRAMEWORK_MODULE[backend]} is not importable here and the {backend} "
                 f"environment is missing: run `{fix_command(backend)}`")
    os.execve(python, [python, *sys.argv], quiet_env())
