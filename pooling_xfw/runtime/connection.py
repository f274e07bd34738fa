"""One worker, from the calling side: started through its gateway, its hello read, requests
pipelined with tickets and replies matched to them; every fault (a crash, a kill, a timeout, a
stray message) a ``WorkerFailure`` with a one-line reason and where its log is."""
from __future__ import annotations

import collections
import dataclasses
import itertools
import os
import signal
import threading
import time
from pathlib import Path


from . import envs, gateways, transfer
from .limits import call_timeout, log_dir, start_timeout, waitable, worker_threads
from .shared_memory import SharedDir


LOG_LIMIT_BYTES = 4 << 20


class WorkerFailure(RuntimeError):
    """The worker could not answer: missing, crashed, killed, timed out or broken."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status  # "unavailable" or "error"
        self.reason = reason


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
        self.choices: tuple = ()  # what its spec was resolved from (``gateways.choices``)
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
                hooks=os.environ.get("POOLING_XFW_TEST_HOOKS") == "1", threads=self.threads,
                slots=self._shared.slot_paths if self._shared is not None else ()))
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
        if not self._connected.wait(waitable(timeout)):
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
            return self._channel.receive(waitable(timeout))
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
