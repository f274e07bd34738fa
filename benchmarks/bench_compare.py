"""What the isolated workers cost, measured side by side in one run.

  cold:  the first ``px.compare`` across all four backends (workers start in parallel) against
         the sum of each framework's bare ``python -c "import X"`` in its own environment;
         target <= 0.7x that sum.
  warm:  a further ``px.compare`` of a 1x1x4x4 input across all four; target < 20 ms.
  batch: 1,000 small comparisons across all four backends, in cases per second.

Usage: ``python benchmarks/bench_compare.py [--batch 1000]``.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import pooling_xfw as px  # noqa: E402
from pooling_xfw.runtime import envs  # noqa: E402
from pooling_xfw.runtime.client import WorkerPool  # noqa: E402


def bare_import_seconds(backend: str) -> float:
    python = envs.interpreter(backend)
    start = time.perf_counter()
    subprocess.run([python, "-c", f"import {envs.FRAMEWORK_MODULE[backend]}"], check=True,
                   capture_output=True, env=envs.quiet_env())
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)

    for backend in envs.BACKENDS:  # warm the OS file cache for both measurements alike
        bare_import_seconds(backend)
    imports = {b: bare_import_seconds(b) for b in envs.BACKENDS}
    with WorkerPool() as pool:
        start = time.perf_counter()
        first = px.compare(x, 3, padding=1, stride=2, pool=pool)
        cold = time.perf_counter() - start
        assert first.ok, {b: r.detail for b, r in first.results.items()}
        warm = []
        for _ in range(50):
            start = time.perf_counter()
            px.compare(x, 3, "avg", padding=1, stride=2, pool=pool)
            warm.append(time.perf_counter() - start)
        rng = np.random.default_rng(0)
        specs = [dict(pool_size=int(k), mode=str(rng.choice(["max", "avg"])),
                      stride=int(rng.integers(1, 3)), padding=int(rng.integers(0, k // 2 + 1)))
                 for k in rng.integers(1, 4, size=args.batch)]
        inputs = [rng.standard_normal((1, 2, 6, 6)).astype(np.float32) for _ in specs]
        start = time.perf_counter()
        agree = sum(px.compare(xi, **spec, pool=pool).ok for xi, spec in zip(inputs, specs))
        batch = time.perf_counter() - start

    total = sum(imports.values())
    print("bare import, each framework in its own environment:")
    for backend, seconds in imports.items():
        print(f"    {backend:<11} {seconds:6.2f} s")
    print(f"    sum         {total:6.2f} s")
    print(f"cold: first compare across four backends {cold:6.2f} s = {cold / total:.2f}x the sum"
          f" (target <= 0.70x)")
    print(f"warm: compare of 1x1x4x4 across four: median {statistics.median(warm) * 1e3:.1f} ms,"
          f" best {min(warm) * 1e3:.1f} ms (target < 20 ms)")
    print(f"batch: {args.batch} comparisons across four in {batch:.2f} s = "
          f"{args.batch / batch:.0f} cases/s ({agree} all-agree)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
