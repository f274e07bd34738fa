"""A backend on another machine, against the bytes it must move, measured side by side in one run.

Through a real sshd on 127.0.0.1 (a throwaway host key and user key, nothing leaving loopback):

  raw:      ``ssh host cat > /dev/null`` fed the input's bytes (8x64x112x112 float32, 25.7 MB):
            what moving them costs, the connection included; and the same over a connection
            already open (ssh's ControlMaster), the bytes alone.
  compare:  a warm ``px.compare`` of that input (max 3x3/s2/p1) with one backend's worker
            reached through an ssh gateway to that sshd: the input out in chunks, the pooling
            there, the output back, the reference and the judging here.  Target <= 2.0x raw.
  here:     the same compare with the worker on this machine (shared memory), for scale.

Best of 5 each, interleaved.  Usage: ``python benchmarks/bench_remote.py [--backend pytorch]``.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import pooling_xfw as px  # noqa: E402
from pooling_xfw.runtime.client import WorkerPool  # noqa: E402
from tests.loopback import HOST, loopback_sshd, ssh_spec  # noqa: E402

SHAPE = (8, 64, 112, 112)
CASE = dict(pool_size=3, mode="max", stride=2, padding=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="pytorch")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    x = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    payload = x.tobytes()
    with tempfile.TemporaryDirectory() as home, loopback_sshd(Path(home)) as config:
        command = ["ssh", "-F", str(config), HOST, "cat > /dev/null"]
        shared = ["-o", "ControlMaster=auto", "-o", f"ControlPath={home}/control",
                  "-o", "ControlPersist=120"]

        def raw() -> None:
            subprocess.run(command, input=payload, check=True)

        def raw_open() -> None:
            subprocess.run(command[:1] + shared + command[1:], input=payload, check=True)

        with WorkerPool(gateways={args.backend: ssh_spec(config, args.backend)}) as remote, \
                WorkerPool() as local:
            runs = {"raw": raw, "raw, open": raw_open,
                    "compare": lambda: _ok(px.compare(x, pool=remote, backends=[args.backend],
                                                      **CASE)),
                    "here": lambda: _ok(px.compare(x, pool=local, backends=[args.backend],
                                                   **CASE))}
            for run in runs.values():  # warm: workers started, caches filled
                run()
            where = remote.worker(args.backend).where
            times: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(args.repeat):
                for name, run in runs.items():
                    start = time.perf_counter()
                    run()
                    times[name].append(time.perf_counter() - start)
    best = {name: min(seconds) for name, seconds in times.items()}
    mb = x.nbytes / 1e6
    print(f"{'x'.join(map(str, SHAPE))} float32 ({mb:.1f} MB), max 3x3/s2/p1, {args.backend}, "
          f"best of {args.repeat}:")
    print(f"    raw:     ssh {HOST} cat > /dev/null      {best['raw']:6.3f} s "
          f"({mb / best['raw']:.0f} MB/s)")
    print(f"    raw over an open connection               {best['raw, open']:6.3f} s "
          f"({mb / best['raw, open']:.0f} MB/s)")
    print(f"    compare: worker through ssh ({where}) {best['compare']:6.3f} s = "
          f"{best['compare'] / best['raw']:.2f}x raw (target <= 2.0x), "
          f"{best['compare'] / best['raw, open']:.2f}x the bytes alone")
    print(f"    here:    worker on this machine          {best['here']:6.3f} s")
    return 0


def _ok(result) -> None:
    assert result.ok, {name: r.detail for name, r in result.results.items()}


if __name__ == "__main__":
    raise SystemExit(main())
