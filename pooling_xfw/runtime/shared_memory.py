"""Inputs shared with the workers on this machine through files in ``/dev/shm`` (a tmpfs),
instead of copied through their pipes: one directory per pool, removed when it closes or its
process is gone."""
from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from . import slots, transfer


def shm_root() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else (
        tempfile.gettempdir())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SharedDir:
    """A private directory in shared memory for one pool's arrays, removed on close; the
    directories of callers that died without closing theirs are removed on creation."""

    PREFIX = "pooling-xfw-"
    #: input files kept for reuse (writing into pages tmpfs already has costs about half as much
    #: as a new file's page faults): at most this many, of at most this many bytes in all
    KEEP_FILES, KEEP_BYTES = 4, 256 << 20

    def __init__(self) -> None:
        root = shm_root()
        for stale in Path(root).glob(f"{self.PREFIX}*"):
            pid = stale.name[len(self.PREFIX):].split("-")[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                shutil.rmtree(stale, ignore_errors=True)
        self.path = tempfile.mkdtemp(prefix=f"{self.PREFIX}{os.getpid()}-", dir=root)
        self._names = itertools.count()
        self._spare: dict[str, int] = {}  # released input files -> their size
        self.slot_paths = slots.create(self.path)  # the cores, for large cases (``slots``)

    def new_path(self, stem: str) -> str:
        return os.path.join(self.path, f"{stem}-{next(self._names)}")

    def put(self, stem: str, array: np.ndarray) -> dict | None:
        """``array`` written to a new ``.npy`` file here: its descriptor, or None when it is
        small enough to travel inside the message."""
        if np.asarray(array).nbytes <= transfer.INLINE_BYTES:
            return None
        path = self.new_path(stem) + ".npy"
        transfer.write_npy(path, array)
        return {"shm": path}

    def lend(self, stem: str, array: np.ndarray) -> dict | None:
        """``put``, into a released file big enough when there is one (its pages exist
        already); give the file back with ``release``."""
        if np.asarray(array).nbytes <= transfer.INLINE_BYTES:
            return None
        array = np.ascontiguousarray(array)
        needed = array.nbytes + 128
        fitting = [p for p, size in self._spare.items() if needed <= size <= 2 * needed]
        if not fitting:
            return self.put(stem, array)
        path = fitting[0]
        del self._spare[path]
        try:
            transfer.write_npy(path, array, truncate=False)
        except OSError:
            transfer.unlink_quietly(path)
            raise
        return {"shm": path}

    def release(self, descriptor: dict | None) -> None:
        """A lent file back: kept for the next ``lend`` (within ``KEEP_FILES``/``KEEP_BYTES``,
        the largest kept), else removed."""
        if not descriptor:
            return
        path = descriptor["shm"]
        try:
            self._spare[path] = os.path.getsize(path)
        except OSError:
            return
        while len(self._spare) > self.KEEP_FILES or sum(self._spare.values()) > self.KEEP_BYTES:
            smallest = min(self._spare, key=self._spare.get)
            del self._spare[smallest]
            transfer.unlink_quietly(smallest)

    def remove(self) -> None:
        self._spare.clear()
        shutil.rmtree(self.path, ignore_errors=True)
