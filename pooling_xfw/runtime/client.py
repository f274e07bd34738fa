"""The calling side of backend workers: start them in parallel, keep them warm, contain faults.

``WorkerPool`` owns one worker per backend for its lifetime (a module-level default pool lives
as long as the calling process).  A worker that crashes, is killed or exceeds its timeout is
reported as such and started afresh on the next call; the other workers are untouched.
"""
from __future__ import annotations

import atexit
import dataclasses
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from . import envs, protocol

START_TIMEOUT = float(os.environ.get("POOLING_XFW_START_TIMEOUT", 300))
CALL_TIMEOUT = float(os.environ.get("POOLING_XFW_CALL_TIMEOUT", 120))


class WorkerFailure(RuntimeError):
    """The worker could not answer: missing, crashed, killed, timed out or broken."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status  # "unavailable" or "error"
        self.reason = reason


@dataclasses.dataclass
class Hello:
    backend: str
    framework_version: str
    numpy_version: str
    python: str
    pid: int
    import_seconds: float


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class Worker:
    """One backend's worker process."""

    def __init__(self, backend: str, python: str, log_dir: Path):
        self.backend = backend
        self.python = python
        self.log_path = log_dir / f"{backend}.log"
        self.hello: Hello | None = None
        self._proc: subprocess.Popen | None = None
        self._buffer = b""

    # --- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Spawn the process (returns at once; ``wait_ready`` collects the hello)."""
        log = open(self.log_path, "ab")
        self._proc = subprocess.Popen(
            [self.python, "-m", "pooling_xfw.runtime.worker", self.backend],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=envs.quiet_env(),
            start_new_session=True)
        log.close()
        self._buffer = b""
        self.hello = None

    def wait_ready(self, timeout: float = START_TIMEOUT) -> Hello:
        if self.hello is not None:
            return self.hello
        header, _ = self._read(timeout, "starting")
        if header.get("protocol") != protocol.PROTOCOL_VERSION:
            self.stop()
            raise WorkerFailure("error", f"worker speaks protocol {header.get('protocol')}, "
                                         f"expected {protocol.PROTOCOL_VERSION}")
        if not header.get("ok"):
            self.stop()
            raise WorkerFailure("unavailable", f"{self.python} cannot run the {self.backend} "
                                               f"adapter: {header.get('error')}")
        self.hello = Hello(self.backend, header["framework_version"], header["numpy_version"],
                           header["python"], header["pid"], header["import_seconds"])
        return self.hello

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream:
                stream.close()
        self._proc = None
        self.hello = None

    # --- requests -----------------------------------------------------------------------------
    def send(self, header: dict, arrays: list[np.ndarray] = ()) -> None:
        try:
            self._proc.stdin.write(protocol.encode(header, arrays))
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError, AttributeError):
            raise self._died("sending the request") from None

    def receive(self, timeout: float = CALL_TIMEOUT) -> tuple[dict, list[np.ndarray]]:
        return self._read(timeout, "computing")

    def request(self, header: dict, arrays: list[np.ndarray] = (),
                timeout: float = CALL_TIMEOUT) -> tuple[dict, list[np.ndarray]]:
        self.send(header, arrays)
        return self.receive(timeout)

    # --- internals ----------------------------------------------------------------------------
    def _read(self, timeout: float, doing: str) -> tuple[dict, list[np.ndarray]]:
        deadline = time.monotonic() + timeout

        def read_exact(n: int) -> bytes:
            while len(self._buffer) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.stop()
                    raise WorkerFailure("error", f"timed out after {timeout:g} s while {doing}; "
                                                 f"restarted next call")
                fd = self._proc.stdout.fileno()
                ready, _, _ = select.select([fd], [], [], left)
                if ready:
                    chunk = os.read(fd, max(n - len(self._buffer), 1 << 16))
                    if not chunk:
                        raise self._died(doing)
                    self._buffer += chunk
            data, self._buffer = self._buffer[:n], self._buffer[n:]
            return data

        if self._proc is None:
            raise WorkerFailure("error", "worker not running")
        return protocol.read(read_exact)

    def _last_log_line(self) -> str:
        try:
            lines = [l for l in self.log_path.read_text(errors="replace").splitlines() if l.strip()]
        except OSError:
            return ""
        return lines[-1][:300] if lines else ""

    def _died(self, doing: str) -> WorkerFailure:
        code = self._proc.wait() if self._proc else None
        how = (f"killed by {_signal_name(code)}" if code is not None and code < 0
               else f"exited with status {code}")
        last = self._last_log_line()
        self.stop()
        return WorkerFailure("error", f"worker {how} while {doing}" + (f" ({last})" if last else "")
                             + "; restarted next call")


class WorkerPool:
    """Warm workers, one per backend; usable as a context manager."""

    def __init__(self, start_timeout: float = START_TIMEOUT):
        self._workers: dict[str, Worker] = {}
        self._log_dir = Path(tempfile.mkdtemp(prefix="pooling-xfw-logs-"))
        self._lock = threading.Lock()
        self.start_timeout = start_timeout

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _spawn(self, backend: str) -> Worker:
        python = envs.interpreter(backend)
        if python is None:
            raise WorkerFailure("unavailable", f"no {backend} environment; fix: "
                                               f"{envs.fix_command(backend)}")
        worker = self._workers.get(backend)
        if worker is None or worker.python != python:
            if worker:
                worker.stop()
            worker = self._workers[backend] = Worker(backend, python, self._log_dir)
        if not worker.alive():
            try:
                worker.start()
            except OSError as exc:
                raise WorkerFailure("unavailable", f"cannot start {python}: {exc}") from None
        return worker

    def start(self, backends, progress=None) -> dict[str, Hello | WorkerFailure]:
        """Start every backend's worker at once and wait for all; returns hello or failure."""
        spawned: dict[str, Worker | WorkerFailure] = {}
        for backend in backends:
            try:
                spawned[backend] = self._spawn(backend)
            except WorkerFailure as failure:
                spawned[backend] = failure
        results: dict[str, Hello | WorkerFailure] = {}
        for backend, worker in spawned.items():
            if isinstance(worker, WorkerFailure):
                results[backend] = worker
                continue
            if progress and worker.hello is None:
                progress(f"starting {backend} worker")
            try:
                results[backend] = worker.wait_ready(self.start_timeout)
            except WorkerFailure as failure:
                results[backend] = failure
        return results

    def worker(self, backend: str) -> Worker:
        return self._workers[backend]

    def close(self) -> None:
        for worker in self._workers.values():
            worker.stop()
        self._workers.clear()


_default: WorkerPool | None = None


def default_pool() -> WorkerPool:
    """The pool that lives as long as the calling process."""
    global _default
    if _default is None:
        _default = WorkerPool()
        atexit.register(_default.close)
    return _default


def log(message: str) -> None:
    print(f"[pooling-xfw] {message}", file=sys.stderr, flush=True)
