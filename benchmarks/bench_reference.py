"""Speed and memory of the numpy reference, measured side by side in one run.

  (a) against the chapter's loop (``pooling_xfw.textbook``) on a 1x1x224x224 plane;
  (b) against PyTorch's own CPU pooling, single-threaded and at its default thread count, for
      max 3x3/s2/p1 and avg 2x2/s2 on (8, 64, 112, 112) float32;
  (c) the reference's peak extra memory (tracemalloc, which numpy reports to) against the input;
  (d) 1-D and 3-D against PyTorch single-threaded: max 3/s2/p1 and avg 2/s2 on a
      (2, 64, 16, 56, 56) video clip, max k4/s4 on (8, 64, 16000) audio;
  (e) max pooling with indices (``px.pool2d_with_indices``) against PyTorch's
      ``max_pool2d(return_indices=True)`` single-threaded, 3x3/s2/p1 on (8, 64, 112, 112)
      float32, and unpooling (``px.max_unpool2d``) against ``F.max_unpool2d``.

Targets: >= 1000x the loop; <= 0.5x torch single-threaded; <= 1x torch default threads;
extra memory <= 2x the input; (d) 3-D <= 0.5x and 1-D <= 1.0x torch single-threaded; (e) with
indices <= 1.0x torch single-threaded.  Runs in the PyTorch environment (re-executes itself there when
torch is not importable here).  Usage: ``python benchmarks/bench_reference.py [--repeat N]``.
"""
from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import pooling_xfw as px  # noqa: E402
from pooling_xfw import textbook  # noqa: E402


try:
    import torch
    import torch.nn.functional as F
except ImportError:
    from pooling_xfw.runtime.envs import reexec_under

    reexec_under("pytorch")


def best_of(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_extra_bytes(fn) -> int:
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del result
    return peak


def torch_time(call, threads: int, repeat: int) -> float:
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return best_of(call, repeat)
    finally:
        torch.set_num_threads(saved)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    default_threads = torch.get_num_threads()
    print(f"numpy {np.__version__}, torch {torch.__version__} (default threads "
          f"{default_threads}), best of {args.repeat}\n")

    plane = rng.standard_normal((224, 224)).astype(np.float32)
    loop = best_of(lambda: textbook.pool2d(plane, (2, 2)), max(1, args.repeat // 3))
    ref = best_of(lambda: px.pool2d(plane[None, None], (2, 2)), args.repeat * 10)
    print("(a) max 2x2 stride 1 on 1x1x224x224 float32")
    print(f"    textbook loop {loop * 1e3:9.2f} ms   reference {ref * 1e3:8.3f} ms   "
          f"speed-up {loop / ref:8.0f}x  (target >= 1000x)\n")

    x = rng.standard_normal((8, 64, 112, 112)).astype(np.float32)
    xt = torch.from_numpy(x)
    configs = [
        ("max 3x3/s2/p1", lambda: px.pool2d(x, 3, "max", stride=2, padding=1),
         lambda: F.max_pool2d(xt, 3, stride=2, padding=1)),
        ("avg 2x2/s2", lambda: px.pool2d(x, 2, "avg", stride=2),
         lambda: F.avg_pool2d(xt, 2, stride=2)),
    ]
    print(f"(b) (8, 64, 112, 112) float32 = {x.nbytes / 2**20:.1f} MiB")
    threads = f"torch {default_threads} thr"
    print(f"    {'config':<14} {'reference':>10} {'torch 1 thr':>12} {threads:>12}"
          f" {'ref/t1':>7} {'ref/tN':>7} {'extra mem/input':>16}")
    ok = loop / ref >= 1000
    for name, ours, theirs in configs:
        np.testing.assert_allclose(ours(), theirs().numpy(), rtol=1e-6, atol=1e-6)
        t_ref = best_of(ours, args.repeat)
        t_one = torch_time(theirs, 1, args.repeat)
        t_all = torch_time(theirs, default_threads, args.repeat)
        mem = peak_extra_bytes(ours) / x.nbytes
        print(f"    {name:<14} {t_ref * 1e3:8.2f}ms {t_one * 1e3:10.2f}ms {t_all * 1e3:10.2f}ms"
              f" {t_ref / t_one:7.2f} {t_ref / t_all:7.2f} {mem:15.2f}x")
        ok &= t_ref / t_one <= 0.5 and t_ref / t_all <= 1.0 and mem <= 2.0
    print("\ntargets: ref/t1 <= 0.50, ref/tN <= 1.00, extra mem <= 2.00x: "
          + ("all met" if ok else "NOT all met"))
    ranks(rng, args.repeat)
    with_indices(x, args.repeat)
    return 0


def with_indices(x: np.ndarray, repeat: int) -> bool:
    """(e) the argmax of every window and its inverse scatter, against PyTorch single-threaded,
    the same numbers checked first (indices equal where no window has a tie, as here)."""
    xt = torch.from_numpy(x)
    values, indices = px.pool2d_with_indices(x, 3, stride=2, padding=1)
    tv, ti = F.max_pool2d(xt, 3, stride=2, padding=1, return_indices=True)
    np.testing.assert_array_equal(values, tv.numpy())
    np.testing.assert_array_equal(indices, ti.numpy())
    configs = [
        ("with indices", lambda: px.pool2d_with_indices(x, 3, stride=2, padding=1),
         lambda: F.max_pool2d(xt, 3, stride=2, padding=1, return_indices=True)),
        ("unpool", lambda: px.max_unpool2d(values, indices, 3, stride=2, padding=1,
                                           output_size=x.shape[2:]),
         lambda: F.max_unpool2d(tv, ti, 3, stride=2, padding=1, output_size=x.shape[2:])),
    ]
    print("\n(e) max 3x3/s2/p1 with indices on (8, 64, 112, 112) float32")
    print(f"    {'config':<16} {'reference':>10} {'torch 1 thr':>12} {'ref/t1':>7} {'target':>7}")
    ok = True
    for name, ours, theirs in configs:
        t_ref = best_of(ours, repeat)
        t_one = torch_time(theirs, 1, repeat)
        print(f"    {name:<16} {t_ref * 1e3:8.2f}ms {t_one * 1e3:10.2f}ms {t_ref / t_one:7.2f}"
              f" {1.0:7.2f}")
        ok &= t_ref / t_one <= 1.0
    print("\ntargets (e): " + ("all met" if ok else "NOT all met"))
    return ok


def ranks(rng, repeat: int) -> bool:
    """(d) one and three spatial axes against PyTorch single-threaded: a video clip through
    3-D max 3/s2/p1 and avg 2/s2, and a second of 16 kHz audio through 1-D max k4/s4 (which
    PyTorch computes reading memory once: matching it is the goal)."""
    video = rng.standard_normal((2, 64, 16, 56, 56)).astype(np.float32)
    audio = rng.standard_normal((8, 64, 16000)).astype(np.float32)
    vt, at = torch.from_numpy(video), torch.from_numpy(audio)
    configs = [
        ("3-D max 3/s2/p1", video, lambda: px.pool3d(video, 3, stride=2, padding=1),
         lambda: F.max_pool3d(vt, 3, stride=2, padding=1), 0.5),
        ("3-D avg 2/s2", video, lambda: px.pool3d(video, 2, "avg", stride=2),
         lambda: F.avg_pool3d(vt, 2, stride=2), 0.5),
        ("1-D max k4/s4", audio, lambda: px.pool1d(audio, 4, stride=4),
         lambda: F.max_pool1d(at, 4, stride=4), 1.0),
    ]
    print("\n(d) 1-D and 3-D: (2, 64, 16, 56, 56) and (8, 64, 16000) float32")
    print(f"    {'config':<16} {'reference':>10} {'torch 1 thr':>12} {'ref/t1':>7} {'target':>7}")
    ok = True
    for name, x, ours, theirs, target in configs:
        np.testing.assert_allclose(ours(), theirs().numpy(), rtol=1e-6, atol=1e-6)
        t_ref = best_of(ours, repeat)
        t_one = torch_time(theirs, 1, repeat)
        print(f"    {name:<16} {t_ref * 1e3:8.2f}ms {t_one * 1e3:10.2f}ms {t_ref / t_one:7.2f}"
              f" {target:7.2f}")
        ok &= t_ref / t_one <= target
    print("\ntargets (d): " + ("all met" if ok else "NOT all met"))
    return ok


if __name__ == "__main__":
    raise SystemExit(main())
