"""Where each backend's worker runs: an execnet gateway spec per backend.

* ``popen//python=PATH``: a process on this machine (the default, with the backend's managed
  venv or the interpreter the user chose, see ``envs``); arrays cross through shared memory.
* ``ssh=[user@]host//python=PATH`` (ssh options may follow the host, or a config file with
  ``//ssh_config=FILE``): an interpreter on another machine, started over ssh.
* ``socket=host:port``: an execnet socket server already running on the other machine
  (``python -m execnet.script.socketserver host:port``, which needs execnet there; it runs
  whatever it is sent, so bind it to loopback or a trusted network only).

Across machines arrays travel as ``.npy`` bytes in chunks.  A spec is chosen per backend by
the API's ``gateways={"pytorch": "ssh=gpu-box//python=/opt/venv/bin/python"}`` (a pool
setting), the CLI's ``--gateway pytorch=ssh=...``, or ``POOLING_XFW_GATEWAY_PYTORCH``, in that
order.  Gateway processes are started in their own session (so a terminal's Ctrl-C reaches the
caller, which then stops them all), with stderr in the backend's log file and with no
``PYTHONPATH`` from the caller: the toolkit is shipped to them (``bootstrap``).
"""
from __future__ import annotations

import collections
import os
import socket as _socket
import subprocess
import threading

from ..errors import PoolingError
from . import envs

KINDS = ("popen", "ssh", "socket")
ALLOWED = ("popen//python=PATH, ssh=[user@]host[ options]//python=PATH[//ssh_config=FILE] "
           "or socket=host:port")
_chosen: dict[str, str] = {}


def set_gateway(backend: str, spec: str) -> None:
    """Run ``backend`` through ``spec`` (the CLI's ``--gateway BACKEND=SPEC``)."""
    _chosen[envs.check_backend(backend)] = check_spec(spec, f"--gateway {backend}")


def forget_gateways() -> None:
    _chosen.clear()


def env_var(backend: str) -> str:
    return f"POOLING_XFW_GATEWAY_{backend.upper()}"


def choices(backend: str, pool_setting: dict[str, str] | None = None) -> tuple:
    """What ``spec_for`` resolves ``backend``'s spec from, as the user set it, in its order:
    the pool's gateway, the CLI's, the environment's, the interpreter chosen (a few lookups:
    resolving the spec itself reads the venvs, about a millisecond)."""
    return ((pool_setting or {}).get(backend), _chosen.get(backend),
            os.environ.get(env_var(backend)), envs.user_interpreter(backend))


def check_spec(spec: str, where: str = "gateway") -> str:
    """``spec`` if it is a gateway this toolkit runs; ``PoolingError`` naming ``where`` if not."""
    import execnet

    try:
        parsed = execnet.XSpec(spec) if isinstance(spec, str) else None
    except Exception:  # execnet's parser raises bare errors on malformed specs
        parsed = None
    kinds = [k for k in KINDS if parsed is not None and getattr(parsed, k)]
    bad = (parsed is None or len(kinds) != 1 or parsed.via or parsed.vagrant_ssh
           or (kinds[0] == "socket" and (parsed.python or ":" not in parsed.socket))
           or (kinds[0] == "ssh" and not parsed.ssh.strip()))
    if bad:
        raise PoolingError(f"{where}: got {spec!r}; allowed: {ALLOWED}")
    if kinds[0] == "socket":
        host, _, port = parsed.socket.rpartition(":")
        problem = ("no host before the port" if not host else
                   f"the host {host!r} holds a ':' (the socket gateway takes a host name or an "
                   f"IPv4 address)" if ":" in host else None if (
                       port.isascii() and port.isdigit() and 1 <= int(port) <= 65535)
                   else f"{port!r} is not a port (1 to 65535)")
        if problem:  # said now, not when a worker first tries to connect
            raise PoolingError(f"{where}: got {spec!r}: {problem}; allowed: {ALLOWED}")
    return spec


def spec_for(backend: str, pool_setting: dict[str, str] | None = None) -> str | None:
    """The gateway spec of ``backend``: the pool's setting, the CLI's, the environment's, or a
    local process with the backend's interpreter; None when there is no interpreter yet."""
    pooled, flag, variable, _ = choices(backend, pool_setting)
    chosen = pooled or flag or variable
    if chosen:
        return check_spec(chosen, f"gateways[{backend!r}]" if pooled else env_var(backend))
    if envs.split_machine(backend)[1] is not None:
        return None  # a column on another machine: its gateway only
    python = envs.interpreter(backend)
    return None if python is None else f"popen//python={python}"


def is_local(spec: str) -> bool:
    """True when the worker shares this machine's memory (a ``popen`` gateway)."""
    return spec.startswith("popen")


def where(spec: str) -> str:
    """A short name for where a gateway runs, for messages: ``this machine``, a host, ``h:p``."""
    import execnet

    parsed = execnet.XSpec(spec)
    if parsed.popen:
        return "this machine"
    if parsed.socket:
        return parsed.socket
    return next((word for word in parsed.ssh.split() if not word.startswith("-")), parsed.ssh)


class Launcher:
    """execnet's thread execution model, with what it starts recorded so it can be stopped.

    Processes (``popen``, the ``ssh`` client) start in a new session, with the worker
    environment (``envs.worker_env``) and their stderr read by a thread of this process, which
    appends each line to ``log_path`` and keeps the last ones (``last_lines``): the backend's
    log is shared by every run, so a failure's last words are read from here, this worker's
    own, never from the file.  Sockets are recorded so a gateway that hangs while starting can
    be cut off."""

    TAIL = 20

    def __init__(self, log_path) -> None:
        from execnet.gateway_base import ThreadExecModel

        self.log_path = log_path
        self.processes: list[subprocess.Popen] = []
        self.sockets: list[_socket.socket] = []
        self._lock = threading.Lock()
        self._tail: collections.deque[str] = collections.deque(maxlen=self.TAIL)
        self._readers: list[threading.Thread] = []
        launcher = self

        class Model(ThreadExecModel):
            @property
            def subprocess(self):
                return launcher

            @property
            def socket(self):
                return _RecordingSockets(launcher)

        self.execmodel = Model()

    # the part of the ``subprocess`` module execnet uses
    PIPE = subprocess.PIPE

    def Popen(self, args, stdout, stdin):  # noqa: N802 - execnet calls it by this name
        args = uncompressed(args)
        proc = subprocess.Popen(args, stdout=stdout, stdin=stdin, stderr=subprocess.PIPE,
                                env=envs.worker_env(), start_new_session=True)
        reader = threading.Thread(target=self._read_stderr, args=(proc.stderr,),
                                  name="pooling-xfw-stderr", daemon=True)
        reader.start()
        with self._lock:
            self.processes.append(proc)
            self._readers.append(reader)
        return proc

    def _read_stderr(self, stream) -> None:
        """Each line the process writes to stderr: appended to the log, kept in the tail."""
        try:
            with open(self.log_path, "ab", buffering=0) as log:
                for line in stream:
                    log.write(line)
                    text = line.decode(errors="replace").strip()
                    if text:
                        self._tail.append(text)
        except OSError:
            pass
        finally:
            stream.close()

    def last_lines(self, wait: float = 2.0) -> list[str]:
        """The last lines this launcher's processes wrote to stderr (a process that ended is
        read to its end first, waiting at most ``wait`` seconds)."""
        with self._lock:
            readers = [r for r, p in zip(self._readers, self.processes) if p.poll() is not None]
        for reader in readers:
            reader.join(wait)
        return list(self._tail)

    def kill(self) -> None:
        """Kill every process group started and cut every socket opened."""
        with self._lock:
            processes, sockets = list(self.processes), list(self.sockets)
        for proc in processes:
            kill_group(proc)
        for sock in sockets:
            try:
                sock.shutdown(_socket.SHUT_RDWR)
            except OSError:
                pass

    def exit_status(self) -> int | None:
        """The first process's exit status once it has ended (negative: killed by a signal)."""
        return self.processes[0].poll() if self.processes else None


def uncompressed(args: list[str]) -> list[str]:
    """An ssh gateway's command without the ``-C`` execnet always gives it: zlib compresses an
    array of floats by a few percent at about 25 MB/s, so a 25.7 MB input over loopback took
    1.1 s instead of 0.3 (measured); where the link is slower than the compression, the user's
    ssh config can say ``Compression yes``, which ssh then follows."""
    if len(args) > 1 and os.path.basename(str(args[0])) == "ssh" and args[1] == "-C":
        return [args[0], *args[2:]]
    return list(args)


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


class _RecordingSockets:
    """The ``socket`` module as execnet sees it, recording the sockets it opens."""

    def __init__(self, launcher: Launcher) -> None:
        self._launcher = launcher

    def __getattr__(self, name):
        return getattr(_socket, name)

    def socket(self, *args, **kwargs):
        sock = _socket.socket(*args, **kwargs)
        with self._launcher._lock:
            self._launcher.sockets.append(sock)
        return sock
