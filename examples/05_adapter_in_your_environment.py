"""Use an adapter directly in your own environment: here PyTorch's, with torch imported in-process.

pooling_xfw.adapters.<backend>.pool2d has px.pool2d's exact signature and semantics and returns numpy;
pooling_xfw.adapters.<backend>.plan(...) shows the calls it makes (the code below is what ran).
"""
from _show import np, px

try:
    import torch  # noqa: F401
except ImportError:
    from pooling_xfw.runtime.envs import reexec_under

    reexec_under("pytorch")

from pooling_xfw.adapters import pytorch  # noqa: E402

X = -np.arange(1, 26, dtype=np.float32).reshape(1, 1, 5, 5)
kwargs = dict(stride=2, padding=((1, 0), (1, 0)))  # per-side pads: torch's max_pool2d has none
out, plan = pytorch.run(X, 3, **kwargs)
print("pooling_xfw.adapters.pytorch.pool2d(X, 3, stride=2, padding=((1, 0), (1, 0)))")
print(out[0, 0])
print(f"equals px.pool2d: {np.array_equal(out, px.pool2d(X, 3, **kwargs))}")
print(f"path: {plan.path} ({'; '.join(plan.emulated_by)})\n")
print(plan.render())
raise SystemExit(0 if np.array_equal(out, px.pool2d(X, 3, **kwargs)) else 1)
