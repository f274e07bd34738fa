"""Pads computed from the input's shape when a plan runs: the spec's rules as run-time code
(``plan.Expr``), and plans of size-dependent specs that are the same code at every size."""
import numpy as np
import pytest

from adapters import mxnet, paddle, pytorch, tensorflow
from pooling_xfw import ops
from pooling_xfw.ops import POOL
from pooling_xfw.errors import PoolingError
from pooling_xfw.plan import Expr, Plan, Var
from pooling_xfw.planner import build_plan
from pooling_xfw.porting.sizes import code_lines
from pooling_xfw.spec import (ceil_keeps_every_window, ceil_windows, make_spec, reach_after,
                              resolve, same_pads, size_dependent)

from . import brute

VOCABULARIES = {v.VOCABULARY.name: v.VOCABULARY for v in (mxnet, pytorch, tensorflow, paddle)}


def _shape_of(n: int) -> np.ndarray:
    return np.zeros((1, 1, n, 1))


def _value(expr, n: int) -> int:
    """``expr`` evaluated, checked against its rendered Python code run on the same input."""
    env = {"x": _shape_of(n)}
    if not isinstance(expr, Expr):
        return expr
    value = expr.evaluate(env)
    assert eval(expr.render(), {}, env) == value, expr.render()
    return value


AXES = [(n, k, s, pads) for n in range(1, 15) for k in (1, 2, 3, 4) for s in (1, 2, 3)
        for pads in ("same", "same_lower", (0, 0), (1, 0), (0, 1), (1, 1), (2, 1), (0, 3))]


@pytest.mark.parametrize("ceil", [False, True])
def test_runtime_rules_are_the_naive_windows(ceil):
    """The SAME pads, ceil window count and the cells read after the input, as run-time
    expressions of ``x.shape``, against ``tests/brute.py``'s enumeration of the windows."""
    H = Expr.dim("x", 2)
    checked = 0
    for n, k, s, pads in AXES:
        try:
            pb, pa = brute._pads(n, k, s, 1, pads)
            windows = brute._windows(n, k, s, 1, pb, pa, ceil)
        except brute.Invalid:
            continue
        if isinstance(pads, str):
            ebefore, eafter = same_pads(H, k, s, pads == "same_lower")
            assert (_value(ebefore, n), _value(eafter, n)) == (pb, pa), (n, k, s, pads)
        else:
            ebefore, eafter = pb, pa
        if not ceil:
            continue
        out = ceil_windows(H, ebefore, eafter, k, s)
        assert _value(out, n) == len(windows), (n, k, s, pads)
        last_end = (len(windows) - 1) * s + k  # in padded coordinates
        assert _value(reach_after(H, ebefore, k, s, out), n) == max(last_end - pb - n, 0)
        checked += 1
    assert checked > 300 or not ceil


def test_expr_renders_as_python_and_round_trips_as_json():
    H = Expr.dim("x", 2)
    plan = Plan("test", ())
    p = plan.let("ph", ((-(-H // 2) - 1) * 2 + 3 - H).at_least(0))
    plan.call("F.pad", Var("x"), (p // 2, p - p // 2), value=0)
    assert plan.render().splitlines() == [
        "ph = max((-(-x.shape[2] // 2) - 1) * 2 + 3 - x.shape[2], 0)",
        "y = F.pad(x, (ph // 2, ph - ph // 2), value=0)"]
    again = Plan.from_json(plan.to_json())
    assert again.render() == plan.render()
    assert ((H + 1 + 1 - 3) * 1 // 1).render() == "x.shape[2] - 1"
    with pytest.raises(TypeError, match="no truth value"):
        bool(H >= 2)


SIZE_DEPENDENT = [
    dict(pool_size=3, stride=2, padding="same"),
    dict(pool_size=3, stride=2, padding="same", mode="avg", count_include_pad=False),
    dict(pool_size=3, stride=2, padding="same", mode="avg"),
    dict(pool_size=(2, 3), stride=(3, 2), padding="same_lower", mode="min"),
    dict(pool_size=2, stride=2, padding="same", mode="lp", p=3),
    dict(pool_size=3, stride=2, padding="same", dilation=2),
    dict(pool_size=3, stride=2, padding=1, ceil_mode=True),
    dict(pool_size=2, stride=2, padding=1, ceil_mode=True),
    dict(pool_size=2, stride=2, padding=1, ceil_mode=True, mode="avg"),
    dict(pool_size=2, stride=3, ceil_mode=True, mode="avg", count_include_pad=False),
    dict(pool_size=(3, 1), stride=(2, 1), padding=((2, 0), (0, 1)), ceil_mode=True),
    dict(pool_size=3, stride=2, padding=((1, 0), (0, 2)), ceil_mode=True, mode="avg"),
    dict(pool_size=2, stride=2, padding=1, ceil_mode=True, dilation=2, mode="avg"),
    dict(pool_size=3, stride=2, padding="same", ceil_mode=True, mode="avg"),
    dict(pool_size=3, stride=2, padding=1, ceil_mode=True, layout="NHWC", mode="avg"),
]


# uint8 for max/min only: an average of integers is planned as floats
@pytest.mark.parametrize("kwargs,dtype", [
    pytest.param(k, d, id="-".join(f"{key}={value}" for key, value in k.items()) + f"-{d}")
    for k in SIZE_DEPENDENT for d in ("float32", "float64", "uint8")
    if d != "uint8" or k.get("mode", "max") in ("max", "min")])
@pytest.mark.parametrize("backend", sorted(VOCABULARIES))
def test_a_size_dependent_spec_is_the_same_code_at_every_size(backend, kwargs, dtype):
    """Every framework's plan renders the same statements for every input size 1..14 the spec
    pools (H and W alike, and an oblong pair): SAME and ceil are the framework's own where it
    spells them for every size, else pads computed from ``x.shape`` when the code runs."""
    spec = make_spec(**kwargs)
    assert size_dependent(spec)
    layout = spec.layout
    codes = {}
    for h, w in [(n, n) for n in range(1, 15)] + [(5, 8), (8, 5), (1, 9)]:
        shape = (1, 2, h, w) if layout == "NCHW" else (1, h, w, 2)
        try:
            geom = resolve(spec, shape)
        except PoolingError:
            continue
        plan = build_plan(VOCABULARIES[backend], POOL, geom, np.dtype(dtype), shape)
        codes.setdefault(code_lines(plan.render()), []).append((h, w))
    assert len(codes) == 1, "\n\n".join(f"{sizes}:\n" + "\n".join(code)
                                         for code, sizes in codes.items())
    (code, sizes), = codes.items()
    assert len(sizes) >= 10
    native_same = backend in ("tensorflow", "paddle") and spec.padding == "same" and (
        not spec.ceil_mode) and (spec.mode in ("max", "min") or not spec.count_include_pad) and (
        spec.dilation == (1, 1)) and spec.mode != "lp"
    native_ceil = spec.ceil_mode and not isinstance(spec.padding, str) and spec.dilation == (
        1, 1) and spec.mode in ("max", "avg", "min") and (
        backend == "pytorch" and all(a == b and a <= k // 2 for (a, b), k in
                                     zip(spec.padding, spec.pool_size))
        or backend in ("mxnet", "paddle") and ceil_keeps_every_window(spec))
    # Paddle's float64 max pooling starts from float32's lowest: taken as strided slices
    slices = backend == "paddle" and dtype != "float32" and spec.mode in ("max", "min")
    reads_shape = any("x.shape[" in line for line in code)
    assert reads_shape or native_same or native_ceil or not (
        spec.padding in ("same", "same_lower") or slices), "\n".join(code)
    if (native_same or native_ceil) and not slices:
        assert not reads_shape, "\n".join(code)


def test_the_ceil_spellings_that_hold_for_every_size():
    """MXNet 'full' and Paddle ceil_mode keep a last window that starts in the padding: they
    compute the spec at every size exactly when no size drops one (``pa + s <= extent``)."""
    keeps = make_spec(3, stride=2, padding=1, ceil_mode=True)
    drops = make_spec(2, stride=2, padding=1, ceil_mode=True)
    assert ceil_keeps_every_window(keeps) and not ceil_keeps_every_window(drops)
    for spec, expect in ((keeps, True), (drops, False)):
        kept_everywhere = True
        for n in range(1, 30):
            try:
                windows = brute._windows(n, spec.pool_size[0], spec.stride[0], 1, 1, 1, True)
            except brute.Invalid:
                continue
            room = n + 2 - spec.pool_size[0]
            kept_everywhere &= len(windows) == -(-room // spec.stride[0]) + 1
        assert kept_everywhere == expect


# --- adaptive bins computed when the code runs -------------------------------------------------

def _adaptive_plan(backend, output_size, mode, dtype, hw, layout="NCHW"):
    from pooling_xfw.adaptive import make_adaptive_spec, resolve_adaptive

    shape = (1, 2, *hw) if layout == "NCHW" else (1, *hw, 2)
    geom = resolve_adaptive(make_adaptive_spec(output_size, mode, layout), shape)
    return build_plan(VOCABULARIES[backend], ops.ADAPTIVE, geom, np.dtype(dtype), shape)


def test_runtime_bins_are_the_reference_bins():
    """The emulation's run-time rule, for every n 1..40 and o 1..40: the lets of one plan
    (``k``, ``l``, the gather's indices), evaluated for ``n`` and as their rendered Python,
    pick for output ``i`` the window of ``Bins(n, o)``'s bin ``i``: index ``< n - k + 1`` is
    the ``k``-cell window starting there, else the ``l``-cell one starting ``n - k + 1`` later."""
    from pooling_xfw.adaptive import Bins

    for o in range(2, 41):
        plan = _adaptive_plan("tensorflow", (o, None), "max", "float32", (7, 3))
        lets = [s for s in plan.steps if s.fn == "op:let"]
        assert [s.out for s in lets] == ["H", "kh", "lh", "ih"], plan.render()
        for n in range(1, 41):
            env = {"x": np.zeros((1, 2, n, 3))}
            for step in lets:
                env[step.out] = step.args[0].evaluate(env)
                assert eval(step.args[0].render(), dict(env)) == env[step.out]
            k, longer, index = env["kh"], env["lh"], env["ih"]
            assert 1 <= k <= longer <= n
            bins, shorter_windows = Bins(n, o), n - k + 1
            picked = [(i, k) if i < shorter_windows else (i - shorter_windows, longer)
                      for i in index]
            assert picked == list(zip(bins.starts.tolist(), bins.lengths.tolist())), (n, o)


ADAPTIVE = [(7, 7), (3, 5), (1, 4), (5, None), (None, 3), (0, 3), (20, 2)]


@pytest.mark.parametrize("dtype", ["float32", "float64", "uint8"])
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("output_size", ADAPTIVE, ids=str)
@pytest.mark.parametrize("backend", sorted(VOCABULARIES))
def test_an_adaptive_plan_is_the_same_code_at_every_size(backend, output_size, mode, dtype):
    """Every framework's adaptive plan renders the same statements for every input size 1..14
    (and oblong pairs): native ops with a None axis read ``x.shape``, and the emulations
    (TensorFlow; MXNet's max) compute their bins from it.  The one exception: Paddle's float64
    max (its max starts from float32's lowest), taps whose number depends on the size."""
    codes = {}
    for hw in [(n, n) for n in range(1, 15)] + [(5, 8), (8, 5), (1, 9)]:
        plan = _adaptive_plan(backend, output_size, mode, dtype, hw)
        codes.setdefault(code_lines(plan.render()), []).append(hw)
    taps = backend == "paddle" and mode == "max" and dtype == "float64"
    if taps and 0 not in output_size:
        assert len(codes) > 1
        return
    assert len(codes) == 1, "\n\n".join(f"{sizes}:\n" + "\n".join(code)
                                         for code, sizes in codes.items())
    (code, _), = codes.items()
    emulated = backend == "tensorflow" or (backend == "mxnet" and mode == "max")
    reads_shape = any("x.shape[" in line for line in code)
    if None in output_size or emulated and 0 not in output_size and output_size != (1, 1):
        assert reads_shape, "\n".join(code)
