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
"""
from __future__ import annotations

import atexit
import collections
import dataclasses
import itertools
import math
import os
import select
import shutil
import signal
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

import numpy as np

from .. import registry
from ..errors import PoolingError
from . import envs, gateways, transfer

DEFAULT_START_TIMEOUT, DEFAULT_CALL_TIMEOUT = 300.0, 120.0
LOG_LIMIT_BYTES = 4 << 20


class WorkerFailure(RuntimeError):
    """The worker could not answer: missing, crashed, killed, timed out or broken."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status  # "unavailable" or "error"
        self.reason = reason


def seconds_from_env(name: str, default: float) -> float:
    """A timeout from the environment: a number of seconds > 0 (``PoolingError`` otherwise)."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise PoolingError(f"{name}: got {text!r}; allowed: a number of seconds > 0, e.g. "
                           f"{default:g}")
    return value


def _waitable(seconds: float) -> float:
    """A wait of ``seconds`` as a lock can wait: at most ``threading.TIMEOUT_MAX`` (about 292
    years here), which is as long as forever (``1e300`` overflows a lock's timestamp)."""
    return min(seconds, threading.TIMEOUT_MAX)


def worker_threads(local: bool) -> int | None:
    """Intra-op threads for one worker's framework: ``POOLING_XFW_WORKER_THREADS`` (a whole
    number >= 1), else for a worker on this machine its share of the cores, else None (the
    framework's default, on a machine of its own)."""
    text = os.environ.get("POOLING_XFW_WORKER_THREADS", "").strip()
    if text:
        if not (text.isdigit() and int(text) >= 1):
            raise PoolingError(f"POOLING_XFW_WORKER_THREADS: got {text!r}; allowed: a whole "
                               f"number of threads >= 1")
        return int(text)
    if not local:
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    return max(1, cores // len(registry.defaults()))


def start_timeout() -> float:
    return seconds_from_env("POOLING_XFW_START_TIMEOUT", DEFAULT_START_TIMEOUT)


def call_timeout() -> float:
    return seconds_from_env("POOLING_XFW_CALL_TIMEOUT", DEFAULT_CALL_TIMEOUT)


def log_dir() -> Path:
    explicit = os.environ.get("POOLING_XFW_LOGS")
    if explicit:
        return Path(explicit).expanduser()
    return envs.cache_root() / "logs"


def _open_log(backend: str, spec: str) -> Path:
    """The backend's log file, started anew past ``LOG_LIMIT_BYTES``, with a line for this
    start."""
    path = log_dir() / f"{backend}.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = "w" if path.exists() and path.stat().st_size > LOG_LIMIT_BYTES else "a"
        with open(path, mode) as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} caller pid {os.getpid()}: "
                      f"starting {spec}\n")
    except OSError:
        path = Path(os.devnull)
    return path


@dataclasses.dataclass
class Hello:
    backend: str
    framework_version: str
    numpy_version: str
    python: str
    host: str
    pid: int
    import_seconds: float
    where: str  # "this machine", a host or host:port
    local: bool  # shares this machine's memory
    threads: str | None = None  # the framework's intra-op threads, where this toolkit set them
    machine: dict | None = None  # the worker's CPU and OS (``worker.machine``), where it says


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


# --- shared memory ---------------------------------------------------------------------------

def _shm_root() -> str:
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
        root = _shm_root()
        for stale in Path(root).glob(f"{self.PREFIX}*"):
            pid = stale.name[len(self.PREFIX):].split("-")[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                shutil.rmtree(stale, ignore_errors=True)
        self.path = tempfile.mkdtemp(prefix=f"{self.PREFIX}{os.getpid()}-", dir=root)
        self._names = itertools.count()
        self._spare: dict[str, int] = {}  # released input files -> their size

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


@dataclasses.dataclass
class Ticket:
    """A request in flight: its id, and the shared-memory files to remove once answered."""

    id: int
    output_path: str | None
    owned_inputs: list[str]


class Worker:
    """One backend's worker: an execnet gateway and the channel of its serve loop."""

    def __init__(self, backend: str, spec: str, shared: "SharedDir | None" = None):
        self.backend = backend
        self.spec = spec
        self.local = gateways.is_local(spec)
        self.where = gateways.where(spec)
        self.log_path = _open_log(backend, spec)
        self.threads = worker_threads(self.local)
        self.hello: Hello | None = None
        self._shared = shared if self.local else None
        self._launcher = gateways.Launcher(self.log_path)
        self._group = self._gateway = self._channel = None
        self._connected = threading.Event()
        self._outcome: object = None
        self._ids = itertools.count()
        self._pending: collections.deque[Ticket] = collections.deque()
        self._answers: dict[int, object] = {}
        self._broken: WorkerFailure | None = None

    # --- life cycle -----------------------------------------------------------------------------
    @property
    def python(self) -> str:
        """The interpreter named in the gateway spec (the spec itself when it names none)."""
        marker = "python="
        return self.spec.split(marker, 1)[1].split("//")[0] if marker in self.spec else self.spec

    def start(self) -> None:
        """Start the gateway in the background (``wait_ready`` collects the hello)."""
        threading.Thread(target=self._connect, name=f"pooling-xfw-start-{self.backend}",
                         daemon=True).start()

    def _connect(self) -> None:
        import execnet

        from .. import registry
        from .bootstrap import BOOTSTRAP, payload

        try:
            self._group = execnet.Group(execmodel=self._launcher.execmodel)
            self._gateway = self._group.makegateway(self.spec)
            self._channel = self._gateway.remote_exec(BOOTSTRAP)
            declared = registry.get(self.backend)
            self._channel.send(payload(
                self.backend, declared.adapter, declared.dialect,
                hooks=os.environ.get("POOLING_XFW_TEST_HOOKS") == "1", threads=self.threads))
            self._outcome = self._channel.receive()
        except BaseException as exc:  # noqa: BLE001 - every start failure becomes a status
            self._outcome = exc
        finally:
            self._connected.set()

    def wait_ready(self, timeout: float | None = None, configured: float | None = None
                   ) -> Hello:
        """The worker's hello, waiting at most ``timeout`` seconds (the time left of the start
        timeout, ``configured``, which a failure names: the value the user set)."""
        if self.hello is not None:
            return self.hello
        timeout = start_timeout() if timeout is None else timeout
        if not self._connected.wait(_waitable(timeout)):
            self.stop()
            shown = timeout if configured is None else configured
            raise self._failure("error", f"did not start within {shown:g} s "
                                         f"(POOLING_XFW_START_TIMEOUT)")
        outcome = self._outcome
        if isinstance(outcome, BaseException):
            raise self._start_failure(outcome)
        self.hello = self._check_hello(outcome)
        return self.hello

    def _check_hello(self, hello) -> Hello:
        from .worker import HELLO_KEYS, PROTOCOL

        if not isinstance(hello, dict) or hello.get("protocol") != PROTOCOL:
            self.stop()
            raise self._failure("error", f"worker sent {str(hello)[:80]!r} where a hello of "
                                         f"protocol {PROTOCOL} was expected")
        if not hello.get("ok"):
            self.stop()
            raise self._failure("unavailable", f"{self.python} cannot run the {self.backend} "
                                               f"adapter: {hello.get('error')}")
        missing = [key for key in HELLO_KEYS if key not in hello]
        if missing:
            self.stop()
            raise self._failure("error", f"worker's hello lacks {', '.join(missing)}")
        wrong = envs.wrong_version(self.backend, str(hello["framework_version"]))
        if wrong:  # BACKEND@VERSION run by an interpreter of another version
            self.stop()
            raise self._failure("unavailable", f"{self.python} cannot run {self.backend}: {wrong}")
        return Hello(self.backend, str(hello["framework_version"]), str(hello["numpy_version"]),
                     str(hello["python"]), str(hello["host"]), int(hello["pid"]),
                     float(hello["import_seconds"]), self.where, self.local,
                     hello.get("threads"), hello.get("machine"))

    def _start_failure(self, exc: BaseException) -> WorkerFailure:
        """Why the gateway did not come up, in one line."""
        if isinstance(exc, FileNotFoundError) or isinstance(exc, PermissionError):
            self.stop()
            return self._failure("unavailable", f"cannot start {self.python}: {exc.strerror}")
        if isinstance(exc, ConnectionError) and not self._launcher.processes:
            self.stop()  # a socket gateway: no worker ever answered
            return self._failure("error", f"could not connect to {self.where} "
                                          f"({type(exc).__name__}: {exc.strerror or exc}); is "
                                          f"an execnet socket server listening there?")
        banner = self._unread_output() if isinstance(exc, AssertionError) else b""
        if banner:
            self.stop()
            text = "..." + banner.decode(errors="replace").strip()[:60]
            return self._failure("error", f"{self.python} printed {text!r} before "
                                          f"Python started (a banner in a wrapper script?); "
                                          f"allowed: an interpreter whose standard output is "
                                          f"Python's own")
        return self._died("starting", exc)

    def _unread_output(self) -> bytes:
        """What a process printed on its standard output that execnet did not read (its
        buffer first: execnet read through it)."""
        procs = self._launcher.processes
        if not procs or procs[0].stdout is None:
            return b""
        stream, data = procs[0].stdout, b""
        os.set_blocking(stream.fileno(), False)
        for _ in range(10):
            try:
                chunk = stream.read1(200)
            except (BlockingIOError, ValueError, OSError):
                chunk = None
            if chunk:
                data += chunk
            elif chunk == b"" or len(data) >= 200:
                break
            else:
                time.sleep(0.02)
        return data

    def alive(self) -> bool:
        return self.hello is not None and self._broken is None and (
            not self._launcher.processes or self._launcher.exit_status() is None)

    def stop(self) -> None:
        """Kill the worker's process group (or cut its socket); idempotent."""
        self._launcher.kill()
        if self._gateway is not None:
            try:
                self._gateway.exit()
            except Exception:  # noqa: BLE001 - the process is gone already
                pass
        self._fail_pending(self._broken or WorkerFailure("error", "worker stopped"))

    # --- requests -------------------------------------------------------------------------------
    def send(self, header: dict, inputs=()) -> Ticket:
        """Queue a request; ``inputs``: arrays, or descriptors already in shared memory.
        Returns at once: several requests may be in flight (answered in order)."""
        return self.send_batch([(header, inputs)])[0]

    def send_batch(self, requests) -> list[Ticket]:
        """Queue several ``(header, inputs)`` requests as one message (one reply message
        answers them all); their tickets, in order."""
        if self._broken is not None or self.hello is None:
            raise self._broken or WorkerFailure("error", "worker not running")
        tickets, messages, chunked = [], [], []
        for header, inputs in requests:
            ticket = Ticket(next(self._ids), None, [])
            if self._shared is not None:
                ticket.output_path = self._shared.new_path(f"out-{self.backend}")
            descriptors = [self._describe(item, ticket, chunked) for item in inputs]
            messages.append({**header, "id": ticket.id, "inputs": descriptors,
                             "output_path": ticket.output_path})
            tickets.append(ticket)
        try:
            self._channel.send(transfer.encode(
                messages[0] if len(messages) == 1 else {"batch": messages}, "inputs"))
            for array in chunked:
                transfer.send_chunks(self._channel, array)
        except (OSError, EOFError) as exc:
            for ticket in tickets:
                self._cleanup(ticket)
            raise self._died("sending the request", exc) from None
        self._pending.extend(tickets)
        return tickets

    def _describe(self, item, ticket: Ticket, chunked: list) -> dict:
        """An input's descriptor: as given, in shared memory (a local worker), inline, or
        announcing chunks (appended to ``chunked``)."""
        if isinstance(item, dict):
            return item
        shared = self._shared.put(f"in-{self.backend}", item) if self._shared else None
        if shared is not None:
            ticket.owned_inputs.append(shared["shm"])
            return shared
        descriptor, array = transfer.pack(item)
        if array is not None:
            chunked.append(array)
        return descriptor

    def receive(self, timeout: float | None = None, ticket: Ticket | None = None):
        """The reply to ``ticket`` (default: the oldest in flight) as (header, arrays).
        ``timeout``: the longest wait for each reply (and each chunk) from the worker."""
        timeout = call_timeout() if timeout is None else timeout
        if ticket is None:
            if not self._pending:
                raise self._broken or WorkerFailure("error", "no request in flight")
            ticket = self._pending[0]
        while ticket.id not in self._answers:
            if not self._pending:
                raise self._broken or WorkerFailure("error", "worker not running")
            self._read_next(timeout)
        answer = self._answers.pop(ticket.id)
        if isinstance(answer, WorkerFailure):
            raise answer
        return answer

    def request(self, header: dict, inputs=(), timeout: float | None = None):
        return self.receive(timeout, self.send(header, inputs))

    def _read_next(self, timeout: float) -> None:
        """Read the next reply message (one reply, or a batch of them) and file its answers."""
        try:
            message = transfer.decode(self._next_message(timeout, "computing"), "outputs")
            batch = message.get("batch") if isinstance(message, dict) else None
            replies = batch if isinstance(batch, list) else [message]
            answered = [self._read_reply(ticket, reply, timeout)
                        for ticket, reply in zip(list(self._pending), replies)]
            if len(replies) > len(answered):
                raise self._unexpected(replies[len(answered)], None)
        except WorkerFailure as failure:
            self.stop_with(failure)
            return
        except (ValueError, KeyError, TypeError) as exc:
            self.stop_with(self._failure("error", f"worker sent an unreadable array ({exc}); "
                                                  f"restarted next call"))
            return
        for ticket, reply, outputs, arrays in answered:
            self._pending.popleft()
            for descriptor in outputs:  # mapped: the files can go (their pages stay mapped)
                transfer.unlink_quietly(descriptor.get("shm"))
            self._cleanup(ticket)
            self._answers[ticket.id] = (reply, arrays)

    def _read_reply(self, ticket: Ticket, reply, timeout: float):
        """One reply of a message, checked against the request it must answer, with its
        arrays (reading their chunks)."""
        if not isinstance(reply, dict) or reply.get("id") != ticket.id or not isinstance(
                reply.get("outputs"), list):
            raise self._unexpected(reply, ticket)
        outputs = reply.pop("outputs")
        arrays = [transfer.receive(d, lambda: self._next_message(timeout, "sending"),
                                   writable=True) for d in outputs]
        return ticket, reply, outputs, arrays

    def _unexpected(self, reply, ticket: Ticket | None) -> WorkerFailure:
        wanted = f"the reply to request {ticket.id}" if ticket else "nothing more"
        return self._failure("error", f"worker sent {str(reply)[:80]!r} where {wanted} was "
                                      f"expected; restarted next call")

    def _next_message(self, timeout: float, doing: str):
        try:
            return self._channel.receive(_waitable(timeout))
        except self._channel.TimeoutError:
            raise self._failure("error", f"timed out after {timeout:g} s while {doing} "
                                         f"(POOLING_XFW_CALL_TIMEOUT); restarted next call"
                                ) from None
        except (EOFError, OSError, self._channel.RemoteError) as exc:
            raise self._died(doing, exc) from None

    def stop_with(self, failure: WorkerFailure) -> None:
        self._broken = failure
        self.stop()

    def _fail_pending(self, failure: WorkerFailure) -> None:
        while self._pending:
            ticket = self._pending.popleft()
            self._cleanup(ticket, unanswered=True)
            self._answers[ticket.id] = failure

    def _cleanup(self, ticket: Ticket, unanswered: bool = False) -> None:
        """Remove a request's input files, and for one never answered whatever part of its
        outputs the worker had written."""
        for path in ticket.owned_inputs:
            transfer.unlink_quietly(path)
        if unanswered and ticket.output_path:
            directory, stem = os.path.split(ticket.output_path)
            for name in os.listdir(directory) if os.path.isdir(directory) else ():
                if name.startswith(stem + "-"):
                    transfer.unlink_quietly(os.path.join(directory, name))

    # --- why it failed --------------------------------------------------------------------------
    def _failure(self, status: str, reason: str) -> WorkerFailure:
        return WorkerFailure(status, f"{reason} (log: {self.log_path})")

    def _last_log_line(self) -> str:
        """The last line this worker's own process wrote to stderr (never one of an earlier
        run, nor of another caller's worker writing to the same log at the same time)."""
        lines = self._launcher.last_lines()
        return lines[-1][:300] if lines else ""

    def _died(self, doing: str, exc: BaseException | None = None) -> WorkerFailure:
        code = None
        for _ in range(50):  # a dying process needs a moment to be reaped
            code = self._launcher.exit_status()
            if code is not None or not self._launcher.processes:
                break
            time.sleep(0.02)
        if code is not None and code < 0:
            how = f"killed by {_signal_name(code)}"
        elif code is not None:
            how = f"exited with status {code}"
        else:  # alive, or on another machine: the stream itself broke (garbage, a cut socket)
            lines = [line for line in str(exc).splitlines() if line.strip()]
            detail = " ".join(lines[-1].split())[:160] if lines else ""  # a traceback's last
            how = f"broke the connection ({type(exc).__name__}{': ' + detail if detail else ''})"
        last = self._last_log_line()
        failure = self._failure("error", f"worker {how} while {doing}" +
                                (f" ({last})" if last else "") + "; restarted next call")
        self._broken = failure
        self.stop()
        return failure


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
        if running is not None and running.alive():  # its gateway was resolved when it started
            return running
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


def log(message: str) -> None:
    print(f"[pooling-xfw] {message}", file=sys.stderr, flush=True)
