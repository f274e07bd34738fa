"""What the isolated workers cost, measured side by side in one run.

  cold:   the first ``px.compare`` across every default backend (workers start in parallel) against
          the sum of each framework's bare ``python -c "import X"`` in its own environment;
          target <= 0.7x that sum.
  warm:   ``px.compare`` of a 1x1x4x4 input across all of them, after 20 of the same: the
          median of 300; target <= 5 ms.
  batch:  1,000 small comparisons across every default backend, pipelined (``px.compare_many``)
          against one ``px.compare`` at a time, in cases per second.
  large:  a warm ``px.compare`` of a 8x64x112x112 float32 activation (max 3x3/s2/p1, avg 2x2/s2)
          across all of them, against the sum of the frameworks' own in-process pooling of
          the same numpy input (each adapter's ``pool2d``, warm, in its own environment) plus
          the reference's; target <= 1.0x; measured with the pool's compute slots and without,
          interleaved in one run.
  memory: peak resident memory of the calling process comparing a ``--memory-gib`` input on every
          default backend, as a multiple of the input; target <= 3x.

Usage: ``python benchmarks/bench_compare.py [--batch 1000] [--memory-gib 1] [--skip-memory]``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import pooling_xfw as px  # noqa: E402
from pooling_xfw import registry
from pooling_xfw.reference import pool2d  # noqa: E402
from pooling_xfw.runtime import envs  # noqa: E402
from pooling_xfw.runtime.client import WorkerPool  # noqa: E402

LARGE = (8, 64, 112, 112)
LARGE_CASES = {"max 3x3/s2/p1": dict(pool_size=3, mode="max", stride=2, padding=1),
               "avg 2x2/s2": dict(pool_size=2, mode="avg", stride=2)}
# run by each backend's interpreter: its adapter's pool2d on the same input, warm, best of 5
_IN_PROCESS = """
import json, sys, time, numpy as np
from pooling_xfw.adapters import {backend} as adapter
x = np.random.default_rng(0).standard_normal({shape}).astype(np.float32)
cases = json.loads(sys.argv[1])
out = {{}}
for name, kwargs in cases.items():
    adapter.pool2d(x, **kwargs)
    times = []
    for _ in range(5):
        start = time.perf_counter(); adapter.pool2d(x, **kwargs); times.append(time.perf_counter() - start)
    out[name] = min(times)
print(json.dumps(out))
"""
_MEMORY = """
import json, resource, sys, numpy as np, pooling_xfw as px
gib = float(sys.argv[1])
n = int(gib * (1 << 30) / 4 / (64 * 512 * 512))
x = np.random.default_rng(0).standard_normal((max(n, 1), 64, 512, 512), dtype=np.float32)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
result = px.compare(x, 3, stride=2, padding=1)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"input": x.nbytes, "peak": peak, "before": base,
                  "statuses": {b: r.status for b, r in result.results.items()}}))
"""


@contextlib.contextmanager
def slots_off():
    """Pools made inside have no compute slots (``POOLING_XFW_COMPUTE_SLOTS=0``)."""
    before = os.environ.get("POOLING_XFW_COMPUTE_SLOTS")
    os.environ["POOLING_XFW_COMPUTE_SLOTS"] = "0"
    try:
        yield
    finally:
        if before is None:
            del os.environ["POOLING_XFW_COMPUTE_SLOTS"]
        else:
            os.environ["POOLING_XFW_COMPUTE_SLOTS"] = before


def bare_import_seconds(backend: str) -> float:
    python = envs.interpreter(backend)
    start = time.perf_counter()
    subprocess.run([python, "-c", f"import {registry.get(backend).module}"], check=True,
                   capture_output=True, env=envs.quiet_env())
    return time.perf_counter() - start


def in_process_seconds(backend: str) -> dict[str, float]:
    code = _IN_PROCESS.format(backend=backend, shape=LARGE)
    proc = subprocess.run([envs.interpreter(backend), "-c", code, json.dumps(LARGE_CASES)],
                          check=True, capture_output=True, text=True, env=envs.quiet_env())
    return json.loads(proc.stdout.splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--memory-gib", type=float, default=1.0)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)

    for backend in registry.defaults():  # warm the OS file cache for both measurements alike
        bare_import_seconds(backend)
    imports = {b: bare_import_seconds(b) for b in registry.defaults()}
    with WorkerPool() as pool:
        start = time.perf_counter()
        first = px.compare(x, 3, padding=1, stride=2, pool=pool)
        cold = time.perf_counter() - start
        assert first.ok, {b: r.detail for b, r in first.results.items()}
        for _ in range(20):  # warm: every framework past its first calls of this case
            px.compare(x, 3, "avg", padding=1, stride=2, pool=pool)
        warm = []
        for _ in range(300):
            start = time.perf_counter()
            px.compare(x, 3, "avg", padding=1, stride=2, pool=pool)
            warm.append(time.perf_counter() - start)
        rng = np.random.default_rng(0)
        cases = [dict(X=rng.standard_normal((1, 2, 6, 6)).astype(np.float32), pool_size=int(k),
                      mode=str(rng.choice(["max", "avg"])), stride=int(rng.integers(1, 3)),
                      padding=int(rng.integers(0, k // 2 + 1)))
                 for k in rng.integers(1, 4, size=args.batch)]
        start = time.perf_counter()
        pipelined = px.compare_many(cases, pool=pool)
        batch = time.perf_counter() - start
        start = time.perf_counter()
        one_by_one = [px.compare(**case, pool=pool) for case in cases]
        sequential = time.perf_counter() - start
        assert all(c.ok for c in pipelined) and all(c.ok for c in one_by_one)

        big = np.random.default_rng(0).standard_normal(LARGE).astype(np.float32)
        large = {}
        with slots_off(), WorkerPool() as unslotted:  # the same workers, computing at once
            for name, kwargs in LARGE_CASES.items():
                runs = {"slots": lambda: px.compare(big, pool=pool, **kwargs),
                        "no slots": lambda: px.compare(big, pool=unslotted, **kwargs),
                        "reference": lambda: pool2d(big, **kwargs)}
                assert all(run().ok for run in list(runs.values())[:2])
                times = {what: [] for what in runs}
                for _ in range(7):  # interleaved, so both settings see the same machine
                    for what, run in runs.items():
                        times[what] += timeit.repeat(run, number=1, repeat=1)
                large[name] = {what: min(seconds) for what, seconds in times.items()}
    frameworks = {b: in_process_seconds(b) for b in registry.defaults()}

    total = sum(imports.values())
    print("bare import, each framework in its own environment:")
    for backend, seconds in imports.items():
        print(f"    {backend:<11} {seconds:6.2f} s")
    print(f"    sum         {total:6.2f} s")
    print(f"cold: first compare across {len(registry.defaults())} backends {cold:6.2f} s = {cold / total:.2f}x the sum"
          f" (target <= 0.70x)")
    print(f"warm: compare of 1x1x4x4 across {len(registry.defaults())}: median {statistics.median(warm) * 1e3:.1f} ms,"
          f" best {min(warm) * 1e3:.1f} ms (target <= 5 ms)")
    print(f"batch: {args.batch} comparisons across {len(registry.defaults())}: pipelined {args.batch / batch:.0f} "
          f"cases/s, one at a time {args.batch / sequential:.0f} cases/s "
          f"({sequential / batch:.2f}x)")
    for name, seconds in large.items():
        own = {b: frameworks[b][name] for b in registry.defaults()}
        budget = sum(own.values()) + seconds["reference"]
        parts = ", ".join(f"{b} {t * 1e3:.0f}" for b, t in own.items())
        print(f"large {name} on {'x'.join(map(str, LARGE))} float32: compare "
              f"{seconds['slots'] * 1e3:.0f} ms ({seconds['no slots'] * 1e3:.0f} ms without "
              f"compute slots: {seconds['slots'] / seconds['no slots']:.2f}x); frameworks "
              f"in-process {parts}, reference {seconds['reference'] * 1e3:.0f} (sum "
              f"{budget * 1e3:.0f} ms): {seconds['slots'] / budget:.2f}x (target <= 1.0x; "
              f"without slots {seconds['no slots'] / budget:.2f}x)")
    if not args.skip_memory:
        proc = subprocess.run([sys.executable, "-c", _MEMORY, str(args.memory_gib)],
                              check=True, capture_output=True, text=True,
                              env=envs.quiet_env())
        m = json.loads(proc.stdout.splitlines()[-1])
        print(f"memory: {m['input'] / 2**30:.2f} GiB input, max 3x3/s2/p1 on every backend "
              f"({', '.join(f'{b} {s}' for b, s in m['statuses'].items())}): caller peak "
              f"{m['peak'] / 2**30:.2f} GiB = {m['peak'] / m['input']:.2f}x the input "
              f"(target <= 3x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
