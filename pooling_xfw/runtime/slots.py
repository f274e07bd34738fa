"""This machine's cores as compute slots, taken by the workers on it.

Six single-thread workers pooling a large input at once, on two cores, take turns every few
milliseconds and evict each other's caches.  A large request is instead computed holding one of
``cores`` slots: at most that many of a pool's workers compute a large case at once, each with
its share of threads (``limits.worker_threads``), and the others wait for a slot, not for the
CPU.  The caller takes none: its reference and its judging overlap with the workers (taking
slots too, it waited behind them: on this project's 2-core machine a large average compare
then took 0.97-1.39x as long as without slots, from run to run; with the workers' alone,
0.91-1.04x, max and average, best of 15).

A slot is an exclusive ``flock`` on one of ``cores`` files in the pool's shared directory: a
process that dies holding one releases it with its last descriptor, so a crash never blocks the
others.  Small requests never wait: their cost is the message, not the compute.  Where
``flock`` does not exist (Windows), or ``POOLING_XFW_COMPUTE_SLOTS=0``, every process computes
at once, as the OS schedules them.
"""
from __future__ import annotations

import contextlib
import os
import time

try:
    import fcntl
except ImportError:  # Windows: no flock, no slots
    fcntl = None

#: inputs of at least this many bytes are computed in a slot (a ResNet-stem activation is 25.7 MB;
#: a 1x3x64x64 float32 case, 48 KiB, is answered before a slot would be free)
SLOT_BYTES = 1 << 20
#: the waits between tries, in seconds: short at first (a slot held for a small large case frees
#: within a millisecond), then no more often than this
FIRST_WAIT, LONGEST_WAIT = 0.0002, 0.002


def slot_count() -> int:
    """How many processes compute a large case at once: ``POOLING_XFW_COMPUTE_SLOTS`` (0: no
    slots), else the cores this process may run on.

    Raises:
        PoolingError: the variable is set to anything but a whole number >= 0.
    """
    text = os.environ.get("POOLING_XFW_COMPUTE_SLOTS", "").strip()
    if text:
        if not text.isdigit():
            from ..errors import PoolingError

            raise PoolingError(f"POOLING_XFW_COMPUTE_SLOTS: got {text!r}; allowed: a whole "
                               f"number of processes >= 1, or 0 for no slots")
        return int(text)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def create(directory: str) -> list[str]:
    """The slot files of a pool, made in ``directory`` (its shared directory): their paths, none
    where slots are off or cannot be had."""
    count = slot_count()
    if fcntl is None or count < 1:
        return []
    paths = [os.path.join(directory, f"slot-{index}") for index in range(count)]
    for path in paths:
        with open(path, "a"):
            pass
    return paths


class Slots:
    """One process's handle on a pool's slot files (``create``'s paths; empty: no slots)."""

    def __init__(self, paths: list[str] | tuple[str, ...] = ()):
        self.paths = list(paths) if fcntl is not None else []
        self._fds: list[int] | None = None
        self._next = os.getpid()  # processes start their tries at different slots

    def _open(self) -> list[int]:
        if self._fds is None:
            fds = []
            try:
                for path in self.paths:
                    fds.append(os.open(path, os.O_RDONLY))
            except OSError:  # the pool's directory is gone: compute without a slot
                for fd in fds:
                    os.close(fd)
                fds = []
            self._fds = fds
        return self._fds

    def _take(self) -> int | None:
        """A slot's descriptor, once one is free (None: there are no slots)."""
        fds = self._open()
        if not fds:
            return None
        wait = FIRST_WAIT
        while True:
            for step in range(len(fds)):
                fd = fds[(self._next + step) % len(fds)]
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                except OSError:  # not lockable here (a file system without flock)
                    return None
                self._next += 1
                return fd
            time.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT)

    @contextlib.contextmanager
    def held(self, nbytes: int):
        """Compute inside: a slot held when ``nbytes`` (the case's input) is at least
        ``SLOT_BYTES``, nothing otherwise."""
        fd = self._take() if nbytes >= SLOT_BYTES else None
        try:
            yield
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        for fd in self._fds or ():
            os.close(fd)
        self._fds = None


#: no slots: everything computes at once
NO_SLOTS = Slots()
