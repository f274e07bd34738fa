"""Building a framework's venv from its pins: pip against uv, side by side in one run.

For each backend asked for, four venvs from the same pins, in this order: pip with an empty
cache (cold), uv with an empty cache, pip again with the cache the first build filled (warm),
uv again likewise.  Each time is the install alone (the venv is made first, not timed).  The
four venvs must hold the same packages (``pip freeze``), else the run says so and fails: a
faster installer that installs something else measures nothing.  uv is given the index settings
pip has here (``pooling_xfw.runtime.installer``), as the environments' builds give it.

Usage: ``python benchmarks/bench_install.py [--backends onnxruntime,jax,pytorch]``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pooling_xfw.runtime import envs, installer  # noqa: E402


def _install(kind: str, base_python: str, pins: Path, cache: Path, venv: Path) -> tuple[float,
                                                                                        str]:
    """Seconds ``kind`` takes to install ``pins`` into a new venv at ``venv``, and its freeze."""
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    os.environ[installer.VARIABLE] = kind
    command, extra = installer.commands(python, str(pins))[0]
    env = {**os.environ, **extra, "PIP_CACHE_DIR": str(cache / "pip"),
           "UV_CACHE_DIR": str(cache / "uv")}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    freeze = subprocess.run([python, "-m", "pip", "freeze", "--all", "--exclude", "pip",
                             "--exclude", "setuptools"], capture_output=True, text=True,
                            check=True).stdout
    return seconds, freeze


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="onnxruntime,jax,pytorch")
    args = parser.parse_args()
    print("backend      | pip cold | uv cold | ratio | pip warm | uv warm | ratio")
    failed = False
    for backend in args.backends.split(","):
        base_python, _ = envs.base_python(backend)
        pins = envs.requirements(backend)
        with tempfile.TemporaryDirectory(prefix="bench-install-") as work:
            work = Path(work)
            times, freezes = {}, set()
            for warmth in ("cold", "warm"):
                for kind in ("pip", "uv"):
                    seconds, freeze = _install(kind, base_python, pins, work / f"cache-{kind}",
                                               work / f"{kind}-{warmth}")
                    times[kind, warmth] = seconds
                    freezes.add(freeze)
        same = len(freezes) == 1
        failed |= not same
        print(f"{backend:12} | {times['pip', 'cold']:7.1f}s | {times['uv', 'cold']:6.1f}s | "
              f"{times['uv', 'cold'] / times['pip', 'cold']:.2f}x | {times['pip', 'warm']:7.1f}s"
              f" | {times['uv', 'warm']:6.1f}s | {times['uv', 'warm'] / times['pip', 'warm']:.2f}x"
              + ("" if same else "  DIFFERENT PACKAGES INSTALLED"), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
