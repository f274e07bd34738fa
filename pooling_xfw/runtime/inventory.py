"""Every venv in the environments' root, as ``envs list`` shows them and ``envs prune`` removes
them: each with its fingerprint, whether a checkout still selects it (and which pins used it,
on which day), and whether it is in use or unfinished."""
from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Callable, Iterable

from .. import registry
from .interpreters import RUNNING_PYTHON
from .pins import framework_of, pins_text
from .venvs import (acquire_lock, all_venv_dirs, backend_of_dir, current_dir, fingerprint_of,
                    holding_lock, lock_file, lock_holder, read_stamp, envs_root)


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
        now = fingerprint_of(pins_text(backend, Path(pins)),
                              stamp.get("python") or RUNNING_PYTHON)
    except OSError:
        return "gone"
    return "" if now == stamp.get("fingerprint") else "its pins changed since"


def _describe(venv: Path) -> Venv:
    backend = backend_of_dir(venv.name)
    stamp = read_stamp(venv)
    used_by = stamp.get("used_by", {})
    return Venv(venv, backend, stamp.get("fingerprint"), dict(used_by),
                {pins: _why_not_used(pins, backend, stamp) for pins in used_by},
                here=current_dir(backend) == venv)


def environments(backends: Iterable[str] | None = None) -> list[Venv]:
    """Every venv in the root (keyed or unkeyed, complete or not) of these backends (a plain
    name takes in every version of its framework, ``BACKEND@VERSION`` that version alone;
    None: every backend's)."""
    chosen = set(registry.names() if backends is None else backends)
    return [_describe(p) for p in all_venv_dirs()
            if backend_of_dir(p.name) in chosen or framework_of(backend_of_dir(p.name)) in chosen]


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
        with holding_lock(venv.path, "removing", wait=False) as held:
            if not held:
                progress(f"kept {venv.name} ({venv.state}): held by {lock_holder(venv.path)}")
                continue
            venv = _describe(venv.path)  # as it is now that no build can start
            if not venv.removable:
                continue
            shutil.rmtree(venv.path)
            for leftover in (envs_root() / f"{venv.name}.log", lock_file(venv.path)):
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
        if backend_of_dir(name) and not (root / name).exists():
            lock = acquire_lock(root / name, wait=False)
            if lock is not None:
                with lock:
                    if not (root / name).exists():  # no build started before we locked
                        lock_path.unlink(missing_ok=True)
                        (root / f"{name}.log").unlink(missing_ok=True)
