"""What bounds a worker, from the environment: its timeouts (``POOLING_XFW_START_TIMEOUT``,
``POOLING_XFW_CALL_TIMEOUT``), its framework's threads (``POOLING_XFW_WORKER_THREADS``) and where
its log goes (``POOLING_XFW_LOGS``); and ``log``, the toolkit's own line on stderr."""
from __future__ import annotations

import math
import os
import sys
import threading
from pathlib import Path


from .. import registry
from ..errors import PoolingError
from . import envs


DEFAULT_START_TIMEOUT, DEFAULT_CALL_TIMEOUT = 300.0, 120.0


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


def waitable(seconds: float) -> float:
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


def log(message: str) -> None:
    print(f"[pooling-xfw] {message}", file=sys.stderr, flush=True)
