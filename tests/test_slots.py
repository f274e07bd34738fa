"""Compute slots: no more processes compute a large case at once than there are slots.

Each check records when processes held a slot and asserts how many held one at once; a busy
machine only stretches the intervals, it never makes them overlap more.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from pooling_xfw.errors import PoolingError
from pooling_xfw.runtime import slots
from pooling_xfw.runtime.client import WorkerPool

ROOT = Path(__file__).resolve().parents[1]

#: a process that holds a slot for a large case, sleeps in it and prints when it held it
_HOLDER = textwrap.dedent("""
    import sys, time
    from pooling_xfw.runtime.slots import SLOT_BYTES, Slots
    held = Slots(sys.argv[1:])
    print("ready", flush=True)
    with held.held(SLOT_BYTES):
        start = time.monotonic()
        print("holding", flush=True)
        time.sleep(0.3)
        end = time.monotonic()
    print(start, end, flush=True)
""")


def _holder(paths) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _HOLDER, *paths], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)


def _most_at_once(intervals) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    held = most = 0
    for _, change in events:
        held += change
        most = max(most, held)
    return most


@pytest.mark.parametrize("count", [1, 2], ids=["one slot", "two slots"])
def test_no_more_processes_hold_a_slot_at_once_than_there_are_slots(tmp_path, monkeypatch,
                                                                    count):
    monkeypatch.setenv("POOLING_XFW_COMPUTE_SLOTS", str(count))
    paths = slots.create(str(tmp_path))
    assert len(paths) == count
    holders = [_holder(paths) for _ in range(5)]
    intervals = []
    for proc in holders:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        start, end = map(float, out.split()[-2:])
        intervals.append((start, end))
    assert _most_at_once(intervals) == count  # every process ran; never more than count at once


def test_without_slots_every_process_computes_at_once(tmp_path, monkeypatch):
    """The check above can fail: with no slots the five sleep at once."""
    monkeypatch.setenv("POOLING_XFW_COMPUTE_SLOTS", "0")
    assert slots.create(str(tmp_path)) == []
    holders = [_holder([]) for _ in range(5)]
    for proc in holders:
        assert proc.stdout.readline().strip() == "ready"
    intervals = [tuple(map(float, proc.communicate(timeout=120)[0].split()[-2:]))
                 for proc in holders]
    assert _most_at_once(intervals) > 1


def test_a_process_killed_holding_a_slot_frees_it(tmp_path, monkeypatch):
    import fcntl

    monkeypatch.setenv("POOLING_XFW_COMPUTE_SLOTS", "1")
    (path,) = slots.create(str(tmp_path))
    holder = _holder([path])
    assert holder.stdout.readline().strip() == "ready"
    assert holder.stdout.readline().strip() == "holding"
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    finally:
        os.close(fd)


def test_a_small_case_never_waits_for_a_slot(tmp_path, monkeypatch):
    monkeypatch.setenv("POOLING_XFW_COMPUTE_SLOTS", "1")
    paths = slots.create(str(tmp_path))
    holder = _holder(paths)
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert holder.stdout.readline().strip() == "holding"
        mine = slots.Slots(paths)
        with mine.held(slots.SLOT_BYTES - 1):  # entered while the only slot is held
            assert holder.poll() is None
        mine.close()
    finally:
        holder.wait(timeout=60)


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_a_bad_slot_count_is_a_usage_error(monkeypatch, capsys, value):
    from pooling_xfw.cli import main

    monkeypatch.setenv("POOLING_XFW_COMPUTE_SLOTS", value)
    with pytest.raises(PoolingError, match="POOLING_XFW_COMPUTE_SLOTS: got"):
        slots.slot_count()
    assert main(["compare", "--shape", "1,1,4,4", "--kernel", "2", "--backends",
                 "pytorch"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"POOLING_XFW_COMPUTE_SLOTS: got {value!r}" in err


def test_a_worker_computes_a_large_case_only_in_a_slot(monkeypatch):
    """With one slot, held here, a worker on this machine answers a small request at once and
    writes a large request's output only once the slot is given back."""
    monkeypatch.setenv("POOLING_XFW_COMPUTE_SLOTS", "1")
    large = np.arange(1 << 20, dtype=np.float32).reshape(1, 1, 1024, 1024)  # 4 MiB
    with WorkerPool() as pool:
        assert not isinstance(pool.start(["pytorch"])["pytorch"], Exception)
        worker = pool.worker("pytorch")
        mine = slots.Slots(pool.shared.slot_paths)  # the pool's one slot, taken here
        with mine.held(large.nbytes):
            _, (small,) = worker.request({"op": "echo"}, [large[..., :8, :8]])
            ticket = worker.send({"op": "echo"}, [large])
            time.sleep(0.5)  # time enough to echo 4 MiB many times over, were it not waiting
            written = [name for name in os.listdir(pool.shared.path)
                       if name.startswith(os.path.basename(ticket.output_path))]
        _, (echoed,) = worker.receive(None, ticket)
        mine.close()
    assert np.array_equal(small, large[..., :8, :8]) and np.array_equal(echoed, large)
    assert written == []
