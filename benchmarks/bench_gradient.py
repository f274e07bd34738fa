"""The reference gradient ``px.pool2d_grad`` against PyTorch's own backward, side by side.

On (8, 64, 112, 112) float32 with a seeded upstream gradient, single-threaded, for max
3x3/s2/p1 and avg 2x2/s2: the reference in this process, PyTorch in its own environment (a
child process that stays up), measured in alternating rounds so that both see the same load.
Each figure is the best over every round.

What ``pool2d_grad`` computes is ``dL/dX`` from ``X`` and the upstream gradient.  PyTorch gets
the same numbers from:

* max: its forward (``max_pool2d`` with ``X.requires_grad``, which records each window's
  argmax) then its backward (adds the upstream gradient at those indices).  Its backward alone
  starts from the argmax the forward saved; the reference finds the winners itself, so the
  target compares it with forward + backward.  The backward alone is printed too.
* avg: its backward alone (it reads no ``X``, like the reference's).

Target: reference <= 1.0x PyTorch's time, both cases.  The two gradients are checked equal
first (max exactly, avg within 1e-6).  Usage:
``python benchmarks/bench_gradient.py [--rounds 5] [--repeat 5]``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import pooling_xfw as px  # noqa: E402
from pooling_xfw.runtime import envs  # noqa: E402

SHAPE = (8, 64, 112, 112)
CASES = {"max 3x3/s2/p1": dict(pool_size=3, mode="max", stride=2, padding=1),
         "avg 2x2/s2": dict(pool_size=2, mode="avg", stride=2)}


def inputs(kwargs: dict) -> tuple[np.ndarray, np.ndarray]:
    """The seeded input and upstream gradient (the child makes the same ones)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE).astype(np.float32)
    return x, rng.standard_normal(px.pool2d(x, **kwargs).shape).astype(np.float32)


# PyTorch's side, in its own interpreter: one JSON request per line on stdin, one reply per line
_CHILD = r"""
import json, sys, time
import numpy as np, torch
import torch.nn.functional as F
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[1])
from benchmarks.bench_gradient import CASES, inputs
state = {}
for line in sys.stdin:
    request = json.loads(line)
    name = request["case"]
    if name not in state:
        kwargs = dict(CASES[name])
        k, mode = kwargs.pop("pool_size"), kwargs.pop("mode")
        pool = F.max_pool2d if mode == "max" else F.avg_pool2d
        x, up = (torch.from_numpy(a) for a in inputs(CASES[name]))
        x.requires_grad_(True)
        def forward_backward(pool=pool, x=x, up=up, k=k, kwargs=kwargs):
            return torch.autograd.grad(pool(x, k, **kwargs), x, up)[0]
        y = pool(x, k, **kwargs)
        def backward(y=y, x=x, up=up):
            return torch.autograd.grad(y, x, up, retain_graph=True)[0]
        state[name] = (forward_backward, backward)
    forward_backward, backward = state[name]
    if "save" in request:
        np.save(request["save"], forward_backward().numpy())
        print(json.dumps({}), flush=True)
        continue
    reply = {}
    for label, fn in (("forward+backward", forward_backward), ("backward", backward)):
        fn()
        times = []
        for _ in range(request["repeat"]):
            start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
        reply[label] = min(times)
    print(json.dumps(reply), flush=True)
"""


class Torch:
    """The PyTorch child process: ``ask(case, ...)`` sends one request, returns its reply."""

    def __init__(self):
        python = envs.interpreter("pytorch")
        if python is None:
            sys.exit("the pytorch environment is missing: run `make envs`")
        root = str(Path(__file__).resolve().parents[1])
        self.proc = subprocess.Popen(
            [python, "-c", _CHILD, root], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env=envs.quiet_env({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}))
        self.version = subprocess.run([python, "-c", "import torch; print(torch.__version__)"],
                                      capture_output=True, text=True, check=True,
                                      env=envs.quiet_env()).stdout.strip()

    def ask(self, case: str, **request) -> dict:
        self.proc.stdin.write(json.dumps(dict(request, case=case)) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"the PyTorch process ended (exit {self.proc.wait()})")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def reference_seconds(x: np.ndarray, up: np.ndarray, kwargs: dict, repeat: int) -> float:
    px.pool2d_grad(x, grad_output=up, **kwargs)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        px.pool2d_grad(x, grad_output=up, **kwargs)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch = Torch()
    best: dict[str, dict[str, float]] = {name: {} for name in CASES}
    try:
        data = {name: inputs(kwargs) for name, kwargs in CASES.items()}
        with tempfile.TemporaryDirectory() as tmp:
            for name, kwargs in CASES.items():
                path = str(Path(tmp) / "grad.npy")
                torch.ask(name, save=path)
                theirs, ours = np.load(path), px.pool2d_grad(data[name][0],
                                                              grad_output=data[name][1], **kwargs)
                if kwargs["mode"] == "max":
                    np.testing.assert_array_equal(ours, theirs)
                else:
                    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
        for _ in range(args.rounds):  # alternating: both sides see the same load
            for name, kwargs in CASES.items():
                times = dict(torch.ask(name, repeat=args.repeat),
                             reference=reference_seconds(*data[name], kwargs, args.repeat))
                for label, seconds in times.items():
                    best[name][label] = min(seconds, best[name].get(label, float("inf")))
    finally:
        torch.close()

    print(f"numpy {np.__version__}, torch {torch.version} (1 thread); "
          f"{'x'.join(map(str, SHAPE))} float32, seeded upstream gradient; best of "
          f"{args.rounds} alternating rounds x {args.repeat}\n")
    print(f"    {'case':<14} {'reference':>10} {'torch fwd+bwd':>14} {'torch bwd':>10} "
          f"{'ref/fwd+bwd':>12} {'ref/bwd':>8}  target")
    ok = True
    for name, kwargs in CASES.items():
        t = best[name]
        target = "forward+backward" if kwargs["mode"] == "max" else "backward"
        ratio = t["reference"] / t[target]
        ok &= ratio <= 1.0
        short = "fwd+bwd" if target == "forward+backward" else "bwd"
        print(f"    {name:<14} {t['reference'] * 1e3:8.1f}ms {t['forward+backward'] * 1e3:12.1f}ms"
              f" {t['backward'] * 1e3:8.1f}ms {t['reference'] / t['forward+backward']:12.2f}"
              f" {t['reference'] / t['backward']:8.2f}  ref/{short} {ratio:.2f} <= 1.00")
    print("\ntarget: " + ("met" if ok else "NOT met"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
