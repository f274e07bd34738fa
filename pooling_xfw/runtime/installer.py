"""How a framework's venv gets its pins: ``uv pip install`` where uv is in the calling
environment (the Makefile's pins it), else ``pip install``; uv failing is said in the build's
log and pip runs instead.  ``POOLING_XFW_INSTALLER=pip`` (or ``uv``) chooses.

uv is handed the package index settings pip has here, read from ``pip config list`` (its
configuration files and ``PIP_*`` variables): the index, the extra indexes, the find-links
folders, the constraint files and the certificate bundle, and pip's choice among indexes (the
best version across all of them, uv's ``unsafe-best-match``), so both install the same
versions from the same places.  ``benchmarks/bench_install.py`` measures the two side by side.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import re
import subprocess
import sys

#: the variable that chooses the installer
VARIABLE = "POOLING_XFW_INSTALLER"
INSTALLERS = ("uv", "pip")

#: pip's settings uv takes, each as its flag (values split on white space, one flag each)
_FLAGS = {"index-url": "--index-url", "extra-index-url": "--extra-index-url",
          "find-links": "--find-links", "constraint": "--constraint"}
_SETTING = re.compile(r"^(?P<scope>[^.\s]*)\.(?P<key>[a-z-]+)='(?P<value>.*)'$")


def chosen() -> str:
    """``uv`` or ``pip``: the variable's choice, else uv where it is importable here."""
    asked = os.environ.get(VARIABLE, "").strip().lower()
    if asked:
        if asked not in INSTALLERS:
            from ..errors import PoolingError

            raise PoolingError(f"{VARIABLE}: got {asked!r}; allowed: {', '.join(INSTALLERS)}")
        return asked
    return "uv" if importlib.util.find_spec("uv") is not None else "pip"


def commands(python: str, pins: str) -> list[tuple[list[str], dict]]:
    """The install commands of ``pins`` into the venv of ``python``, in the order to try them,
    each with the environment variables it adds: uv's first where it is chosen, pip's last."""
    pip = ([python, "-m", "pip", "install", "--quiet", "-r", pins], {})
    if chosen() != "uv":
        return [pip]
    flags, env = uv_settings()
    uv = ([sys.executable, "-m", "uv", "pip", "install", "--quiet", "--python", python,
           "--index-strategy", "unsafe-best-match", *flags, "-r", pins], env)
    return [uv, pip]


@functools.lru_cache(maxsize=1)
def uv_settings() -> tuple[tuple[str, ...], dict]:
    """pip's index settings here as uv's flags, and its certificate bundle as uv's variable."""
    try:
        listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                                capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        listed = ""
    values: dict[str, str] = {}
    for line in listed.splitlines():  # later scopes (user, site, env) override earlier ones
        found = _SETTING.match(line.strip())
        if found:
            values[found["key"]] = found["value"]
    flags: list[str] = []
    for key, flag in _FLAGS.items():
        for value in values.get(key, "").split():
            flags += [flag, value]
    if values.get("no-index", "").lower() in ("1", "true", "yes", "on"):
        flags.append("--no-index")
    env = {"SSL_CERT_FILE": values["cert"]} if values.get("cert") else {}
    return tuple(flags), env


__all__ = ["VARIABLE", "INSTALLERS", "chosen", "commands", "uv_settings"]
