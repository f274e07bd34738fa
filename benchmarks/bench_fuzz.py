"""What a fuzz campaign runs at, measured side by side in one run.

  small:    small cases (1x1x8x8 to 1x3x16x16 float32, max and avg, windows 2 and 3) across
            the six default backends, in cases per second: one ``compare_many`` case per case,
            against the same cases stacked 16 to a call on the batch axis (``fuzz``'s groups);
            target >= 2,000 cases/s.
  campaign: ``fuzz``'s own campaign (every operation, rank, dtype and special value; the
            findings classified, the unexplained shrunk), in cases per second end to end.

Usage: ``python benchmarks/bench_fuzz.py [--cases 512] [--campaign 256]``.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from pooling_xfw import registry  # noqa: E402
from pooling_xfw.compare import compare_many  # noqa: E402
from pooling_xfw.fuzz import campaign as fuzz  # noqa: E402
from pooling_xfw.runtime.client import WorkerPool  # noqa: E402

GROUP = 16
SPECS = [dict(pool_size=2, mode="max", stride=2), dict(pool_size=3, mode="max", stride=2,
                                                        padding=1),
         dict(pool_size=2, mode="avg", stride=2), dict(pool_size=3, mode="avg", stride=1)]


def _small(count: int, seed: int = 0) -> list[list[dict]]:
    """``count`` small cases in groups of ``GROUP`` sharing a spec and shape."""
    rng = np.random.default_rng(seed)
    groups = []
    for g in range(count // GROUP):
        spec = SPECS[g % len(SPECS)]
        shape = (1, int(rng.integers(1, 4)), *[int(rng.integers(8, 17))] * 2)
        groups.append([dict(X=rng.standard_normal(shape).astype(np.float32), **spec)
                       for _ in range(GROUP)])
    return groups


def _rate(run, count: int, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=512)
    parser.add_argument("--campaign", type=int, default=256)
    args = parser.parse_args()
    backends = list(registry.defaults())
    with WorkerPool() as pool:
        pool.start(backends)
        groups = _small(args.cases)
        flat = [case for group in groups for case in group]
        stacked = [dict(group[0], X=np.concatenate([c["X"] for c in group])) for group in groups]
        compare_many(flat[:GROUP], backends=backends, pool=pool)  # warm every kernel once
        compare_many(stacked[:4], backends=backends, pool=pool)
        each = _rate(lambda: compare_many(flat, backends=backends, pool=pool), len(flat))
        grouped = _rate(lambda: compare_many(stacked, backends=backends, pool=pool), len(flat))
        print(f"small, {len(flat)} cases on {len(backends)} backends: one call per case "
              f"{each:,.0f} cases/s; {GROUP} stacked per call {grouped:,.0f} cases/s "
              f"({grouped / each:.1f}x); target >= 2,000 cases/s: "
              f"{'met' if grouped >= 2000 else 'not met'}")
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            done = fuzz.run(fuzz.start(0, backends, tuple(fuzz.OPERATIONS)), Path(folder),
                            cases=args.campaign, pool=pool, progress=lambda line: None)
            took = time.perf_counter() - start
        print(f"campaign, seed 0, {len(done.done)} cases on {len(backends)} backends: "
              f"{len(done.done) / took:,.1f} cases/s end to end ({len(done.clusters)} clusters, "
              f"{len(done.unexplained)} unexplained)")


if __name__ == "__main__":
    main()
