"""The calling side of backend workers, on execnet: start them in parallel, keep them warm,
pipeline requests, contain every fault.

``WorkerPool`` owns one worker per backend for its lifetime (``default_pool()`` lives as long
as the calling process).  What a worker does wrong becomes a ``WorkerFailure`` for that backend
only, with a one-line reason and where its log is:

* it cannot start (no interpreter, an import error, a banner printed before Python, a hang
  longer than ``POOLING_XFW_START_TIMEOUT``): reported once and not retried while the pool
  lives (``close()`` forgets it);
* it crashes, is killed, exceeds ``POOLING_XFW_CALL_TIMEOUT``, sends something that is not a
  message or a reply to another request: its process group is killed, every request still in
  flight fails alike, and the next call starts it afresh.

Timeouts (seconds, > 0): ``POOLING_XFW_START_TIMEOUT`` (default 300: the framework import
included) and ``POOLING_XFW_CALL_TIMEOUT`` (default 120: with requests pipelined, the longest
wait for the *next* reply).  Framework noise goes to ``<logs>/<backend>.log`` (``$POOLING_XFW_LOGS``,
default ``~/.cache/pooling-xfw/logs``), never to the terminal.

Threads: a worker on this machine gives its framework ``POOLING_XFW_WORKER_THREADS`` intra-op
threads, by default its share of the cores (cores // the number of default backends, at least
1): the workers compute at once, and frameworks each spinning a thread per core made a 4x4
average pooling take milliseconds.  A worker on another machine keeps its framework's default.
A worker on this machine computes a large case holding one of the pool's compute slots
(``slots``), so no more of them compute at once than there are cores.
"""
from __future__ import annotations

import atexit
import os
import signal
import threading
import time
import weakref

import numpy as np

from . import envs, gateways
from .connection import Hello, Worker, WorkerFailure
from .limits import (DEFAULT_CALL_TIMEOUT, DEFAULT_START_TIMEOUT, call_timeout, log, log_dir,
                     seconds_from_env, start_timeout, worker_threads)
from .shared_memory import SharedDir, shm_root
from .slots import slot_count

__all__ = ["WorkerPool", "default_pool", "stop_all_workers", "install_signal_handlers",
           "Worker", "WorkerFailure", "Hello", "SharedDir", "shm_root", "call_timeout",
           "start_timeout", "worker_threads", "slot_count", "seconds_from_env", "log", "log_dir",
           "DEFAULT_CALL_TIMEOUT", "DEFAULT_START_TIMEOUT"]


_live_pools: "weakref.WeakSet[WorkerPool]" = weakref.WeakSet()


class WorkerPool:
    """Warm workers, one per backend; usable as a context manager.

    ``gateways``: backend -> execnet gateway spec (see ``gateways``), e.g.
    ``{"pytorch": "ssh=gpu-box//python=/opt/venv/bin/python"}``; the others run locally."""

    def __init__(self, start_timeout: float | None = None, call_timeout: float | None = None,
                 gateways: dict[str, str] | None = None):
        self._workers: dict[str, Worker] = {}
        self._failed: dict[tuple[str, str], WorkerFailure] = {}
        self.gateways: dict[str, str] = {}
        self.set_gateways(gateways or {})
        self.start_timeout = start_timeout
        self.call_timeout = call_timeout
        self._shared: SharedDir | None = None
        _live_pools.add(self)

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def set_gateways(self, mapping: dict[str, str]) -> None:
        """Run these backends through these gateway specs (a worker on another spec restarts)."""
        for backend, spec in mapping.items():
            self.gateways[envs.check_backend(backend)] = gateways.check_spec(
                spec, f"gateways[{backend!r}]")
            running = self._workers.get(backend)
            if running is not None and running.spec != spec:
                running.stop()

    @property
    def shared(self) -> SharedDir:
        if self._shared is None:
            self._shared = SharedDir()
        return self._shared

    def share(self, x: np.ndarray) -> dict | None:
        """``x`` written once to shared memory for every local worker (None when it is small
        enough to travel in the message); give it back with ``unshare`` once answered."""
        return self.shared.lend("in", x)

    def unshare(self, descriptor: dict | None) -> None:
        if descriptor and self._shared is not None:
            self._shared.release(descriptor)

    def _spawn(self, backend: str) -> Worker:
        running = self._workers.get(backend)
        choices = gateways.choices(backend, self.gateways)
        if running is not None and running.alive() and running.choices == choices:
            return running  # its spec was resolved from these choices when it started
        spec = gateways.spec_for(backend, self.gateways)
        if spec is None:
            raise WorkerFailure("unavailable", envs.unavailable_reason(backend))
        if (backend, spec) in self._failed:
            raise self._failed[backend, spec]
        worker = self._workers.get(backend)
        if worker is not None and (worker.spec != spec or not worker.alive()):
            worker.stop()
            worker = None
        if worker is None:
            worker = self._workers[backend] = Worker(
                backend, spec, self.shared if gateways.is_local(spec) else None)
            worker.start()
        worker.choices = choices
        return worker

    def start(self, backends, progress=None) -> dict[str, Hello | WorkerFailure]:
        """Start every backend's worker at once and wait for all; returns hello or failure.
        A backend that failed to start is not tried again while this pool lives."""
        spawned: dict[str, Worker | WorkerFailure] = {}
        for backend in backends:
            try:
                spawned[backend] = self._spawn(backend)
            except WorkerFailure as failure:
                spawned[backend] = failure
        timeout = self.start_timeout if self.start_timeout is not None else start_timeout()
        deadline = time.monotonic() + timeout
        results: dict[str, Hello | WorkerFailure] = {}
        for backend, worker in spawned.items():
            if isinstance(worker, WorkerFailure):
                results[backend] = worker
                continue
            if progress and worker.hello is None:
                progress(f"starting {backend} worker ({worker.where})")
            try:
                results[backend] = worker.wait_ready(max(deadline - time.monotonic(), 0.01),
                                                     timeout)
            except WorkerFailure as failure:
                if worker.hello is None:  # it never started: remember, do not retry
                    self._failed[backend, worker.spec] = failure
                results[backend] = failure
        return results

    def worker(self, backend: str) -> Worker:
        return self._workers[backend]

    def close(self) -> None:
        """Stop every worker, remove the shared-memory files, forget start failures."""
        for worker in self._workers.values():
            worker.stop()
        self._workers.clear()
        self._failed.clear()
        if self._shared is not None:
            self._shared.remove()
            self._shared = None

    def kill(self) -> None:
        """``close`` from a signal handler: no waiting on gateways, only kills and removals."""
        for worker in list(self._workers.values()):
            worker._launcher.kill()
        if self._shared is not None:
            self._shared.remove()


_default: WorkerPool | None = None


def default_pool() -> WorkerPool:
    """The pool that lives as long as the calling process."""
    global _default
    if _default is None:
        _default = WorkerPool()
        atexit.register(_default.close)
    return _default


def stop_all_workers() -> None:
    for pool in list(_live_pools):
        pool.kill()


def install_signal_handlers() -> dict:
    """SIGINT, SIGTERM and SIGHUP kill every worker's process group (and remove the shared
    memory) before this process ends as the signal says.  For the main thread of a program
    (the CLI); a library caller's workers also end by themselves when their pipe closes.
    Returns the handlers replaced (for ``signal.signal`` to put back)."""

    def handler(signum, frame):
        stop_all_workers()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, handler)
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}


