"""Gradients: the reference ``px.pool2d_grad`` against a brute force and finite differences."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pooling_xfw as px
from pooling_xfw import gradient, ops, registry
from pooling_xfw.backend import MAX_TIES_BACKWARD

from . import brute
from .test_differential import draw_spec
from .test_reference import (LAYOUTS, SIZES, draw_layout_and_shape, draw_pooling_kwargs,
                             draw_special_values)

# --- the reference, from the definitions -------------------------------------------------------


@st.composite
def gradient_problems(draw):
    layout, shape = draw_layout_and_shape(draw)
    dtype = draw(st.sampled_from(["float32", "float64", "float16"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(-3, 4, size=shape).astype(dtype)  # few values: ties in most windows
    draw_special_values(draw, x, rng)
    kwargs = draw_pooling_kwargs(draw, layout, [1.0, 2.0, 3.0, 0.5])
    ties = draw(st.sampled_from(["first", "split", "all"]))
    return x, draw(SIZES), kwargs, ties, draw(st.integers(0, 2**32 - 1))


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(gradient_problems())
def test_reference_gradient_matches_brute_force(problem):
    x, pool_size, kwargs, ties, seed = problem
    if kwargs.get("divisor") == 0:  # refused ("sum"), or inf ("mean"): the forward test's
        return
    try:
        out_shape = px.output_shape(x.shape, pool_size, stride=kwargs["stride"],
                                    padding=kwargs["padding"], dilation=kwargs["dilation"],
                                    ceil_mode=kwargs["ceil_mode"], layout=kwargs["layout"])
    except px.PoolingError:
        with pytest.raises(px.PoolingError):
            px.pool2d_grad(x, pool_size, ties=ties, **kwargs)
        return
    up = np.random.default_rng(seed).integers(-4, 5, size=out_shape).astype(np.float64)
    expected = brute.pool_grad(x, up, pool_size, ties=ties, **kwargs)
    grad = px.pool2d_grad(x, pool_size, grad_output=up, ties=ties, **kwargs)
    assert grad.shape == x.shape and grad.dtype == x.dtype
    rtol = 2e-3 if x.dtype == np.float16 else 1e-5
    np.testing.assert_allclose(grad.astype(np.float64), expected, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("mode,p", [("max", 2), ("min", 2), ("avg", 2), ("lp", 2), ("lp", 3),
                                    ("lp", 1.5)])
@pytest.mark.parametrize("kwargs", [
    dict(stride=1), dict(stride=2, padding=1), dict(stride=2, ceil_mode=True),
    dict(dilation=2, padding=((0, 2), (1, 0))), dict(padding="same", count_include_pad=False),
], ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_reference_gradient_is_the_derivative(mode, p, kwargs):
    """Central finite differences of sum(pool2d(x) * up), on a tie-free input."""
    rng = np.random.default_rng(7)
    x = rng.permutation(np.arange(1.0, 43.0))[:42].reshape(1, 6, 7) * rng.choice([-1, 1], 42
                                                                                 ).reshape(1, 6, 7)
    x = x / 7  # distinct magnitudes, both signs: no ties, no zero
    up = rng.standard_normal(px.pool2d(x, 3, mode, p=p, **kwargs).shape)
    grad = px.pool2d_grad(x, 3, mode, grad_output=up, p=p, **kwargs)
    eps = 1e-6
    numeric = np.empty_like(x)
    for index in np.ndindex(*x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = ((px.pool2d(plus, 3, mode, p=p, **kwargs) * up).sum()
                          - (px.pool2d(minus, 3, mode, p=p, **kwargs) * up).sum()) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("ties", ["first", "split", "all"])
@pytest.mark.parametrize("mode", ["max", "min"])
@pytest.mark.parametrize("layout,shape", [("NCHW", (3, 5, 9, 8)), ("NHWC", (3, 9, 8, 5)),
                                          ("NCHW", (5, 9, 8)), ("NHWC", (9, 8, 5))])
@pytest.mark.parametrize("part_bytes,dtype", [(1, "float32"), (300, "float16"),
                                             (1 << 30, "float64")])
def test_extremes_are_the_same_whatever_the_parts(monkeypatch, part_bytes, dtype, layout, shape,
                                                  mode, ties):
    """The max/min gradient runs a few planes at a time: one plane, a few, or all at once give
    the brute force's numbers (few values: ties across parts' edges; NaN and -inf in some)."""
    monkeypatch.setattr(gradient, "_PART_BYTES", part_bytes)
    monkeypatch.setattr(gradient, "_PART_WINDOWS", 1)
    parts, run_part = [], gradient._extreme_part
    monkeypatch.setattr(gradient, "_extreme_part",
                        lambda part, *rest: (parts.append(part.shape), run_part(part, *rest)))
    rng = np.random.default_rng(part_bytes + len(shape))
    x = rng.integers(-2, 3, size=shape).astype(dtype)
    x.reshape(-1)[rng.choice(x.size, 6, replace=False)] = [np.nan, np.nan, -np.inf, -np.inf,
                                                           np.inf, np.nan]
    kwargs = dict(stride=2, padding=1, layout=layout)
    up = rng.integers(-4, 5, size=px.pool2d(x, 3, mode, **kwargs).shape).astype(np.float32)
    grad = px.pool2d_grad(x, 3, mode, grad_output=up, ties=ties, **kwargs)
    tol = 2e-3 if dtype == "float16" else 1e-6  # split: shares rounded to the dtype
    np.testing.assert_allclose(grad, brute.pool_grad(x, up, 3, mode, ties=ties, **kwargs),
                               rtol=tol, atol=tol)
    planes = 1 if layout == "NHWC" and len(shape) == 3 else int(
        np.prod(shape[:-3] if layout == "NHWC" else shape[:-2]))
    expected = {1: planes, 1 << 30: 1}.get(part_bytes)  # one plane a part; all in one
    assert expected is None or len(parts) == expected, parts
    assert part_bytes != 300 or len(parts) > 1 or planes == 1, parts  # a few a part


@pytest.mark.parametrize("size,padding,ceil_mode", [(9, 0, False), (9, 1, False), (9, 0, True),
                                                    (8, 1, True), (8, 2, False)])
def test_avg_windows_that_tile_an_axis(size, padding, ceil_mode):
    """stride = kernel: each cell read by at most one window (cells past the last window, the
    padding and the ceil overhang read by none), as the brute force counts them."""
    x = np.random.default_rng(size).standard_normal((2, size, size + 1))
    kwargs = dict(stride=3, padding=padding, ceil_mode=ceil_mode, count_include_pad=False)
    up = np.random.default_rng(1).standard_normal(px.pool2d(x, 3, "avg", **kwargs).shape)
    np.testing.assert_allclose(px.pool2d_grad(x, 3, "avg", grad_output=up, **kwargs),
                               brute.pool_grad(x, up, 3, "avg", **kwargs), rtol=1e-12)


# measured in PyTorch, TensorFlow, Paddle, MXNet and JAX (each the same): up = 1, 10, 100, ...
# per window, so where each window's gradient goes shows in the digits
MEASURED_ROUTING = [
    (np.ones((3, 3)), 2, {}, [1, 10, 0, 100, 1000, 0, 0, 0, 0]),
    (np.array([[0.0, 5], [5, 0]]), 2, {}, [0, 1, 0, 0]),
    (np.array([[-1.0, -2], [-3, -4]]), 3, dict(padding=1), [1111, 0, 0, 0]),
    (np.arange(1.0, 6)[None], (1, 2), dict(stride=(1, 2), ceil_mode=True), [0, 1, 0, 10, 100]),
    (-np.arange(1.0, 6)[None], (1, 2), dict(stride=(1, 2), ceil_mode=True), [1, 0, 10, 0, 100]),
    (np.array([[1.0, 9, 2, 8, 3, 7, 4]]), (1, 3), dict(dilation=(1, 2)), [0, 10, 0, 0, 1, 0, 100]),
    (np.full((1, 7), 5.0), (1, 3), dict(dilation=(1, 2)), [1, 10, 100, 0, 0, 0, 0]),
]


@pytest.mark.parametrize("x,pool_size,kwargs,expected", MEASURED_ROUTING,
                         ids=lambda v: str(v) if isinstance(v, dict) else None)
def test_max_routes_each_window_to_its_first_extreme(x, pool_size, kwargs, expected):
    up = 10.0 ** np.arange(px.pool2d(x, pool_size, **kwargs).size)
    up = up.reshape(px.pool2d(x, pool_size, **kwargs).shape)
    grad = px.pool2d_grad(x, pool_size, grad_output=up, **kwargs)
    np.testing.assert_array_equal(grad.ravel(), expected)


@pytest.mark.parametrize("kwargs,expected", [
    # 1x5 ones, k3 s2 pad1, up 1, 10, 100: measured alike in every framework
    (dict(count_include_pad=True), [1 / 3, 11 / 3, 10 / 3, 110 / 3, 100 / 3]),
    (dict(count_include_pad=False), [1 / 2, 1 / 2 + 10 / 3, 10 / 3, 10 / 3 + 100 / 2, 100 / 2]),
])
def test_avg_divides_by_the_geometrys_divisor(kwargs, expected):
    grad = px.pool2d_grad(np.ones((1, 5)), (1, 3), "avg", stride=(1, 2), padding=(0, 1),
                          grad_output=np.array([[1.0, 10, 100]]), **kwargs)
    np.testing.assert_allclose(grad.ravel(), expected, rtol=1e-15)


def test_avg_same_excludes_the_padding_and_ceil_never_counts_the_overhang():
    # TensorFlow SAME (1x4 k3 s2, pads 0 and 1) and 1x5 k2 s2 ceil, as measured in TF/torch
    same = px.pool2d_grad(np.ones((1, 4)), (1, 3), "avg", stride=(1, 2), padding="same",
                          count_include_pad=False, grad_output=np.array([[1.0, 10]]))
    np.testing.assert_allclose(same.ravel(), [1 / 3, 1 / 3, 1 / 3 + 10 / 2, 10 / 2])
    ceil = px.pool2d_grad(np.ones((1, 5)), (1, 2), "avg", stride=(1, 2), ceil_mode=True,
                          grad_output=np.array([[1.0, 10, 100]]))
    np.testing.assert_allclose(ceil.ravel(), [0.5, 0.5, 5, 5, 100])


@pytest.mark.parametrize("ties,expected", [("first", [1, 0, 0, 0]), ("split", [0.25] * 4),
                                           ("all", [1, 1, 1, 1])])
def test_ties(ties, expected):
    np.testing.assert_array_equal(px.pool2d_grad(np.ones((2, 2)), 2, ties=ties).ravel(),
                                  expected)


@pytest.mark.parametrize("x,expected", [
    ([[1, np.nan], [3, 4]], [0, 1, 0, 0]),
    ([[np.nan, np.nan], [1, 2]], [1, 0, 0, 0]),  # the first NaN (PyTorch: the last)
    ([[-np.inf, -np.inf], [-np.inf, -np.inf]], [1, 0, 0, 0]),
    ([[-np.inf, np.nan], [-np.inf, -np.inf]], [0, 1, 0, 0]),
])
def test_nan_is_the_extreme_and_all_minus_inf_goes_to_the_first_cell(x, expected):
    np.testing.assert_array_equal(px.pool2d_grad(np.array(x), 2).ravel(), expected)


def test_padding_never_receives_gradient_even_in_an_all_minus_inf_window():
    grad = px.pool2d_grad(np.full((2, 2), -np.inf), 3, padding=1)
    np.testing.assert_array_equal(grad.ravel(), [4, 0, 0, 0])  # PyTorch, measured


def test_lp_gradient_is_zero_where_the_window_sum_is_zero():
    np.testing.assert_array_equal(px.pool2d_grad(np.zeros((2, 2)), 2, "lp"), np.zeros((2, 2)))
    grad = px.pool2d_grad(np.array([[3.0, -4], [0, 0]]), 2, "lp")
    np.testing.assert_allclose(grad.ravel(), [0.6, -0.8, 0, 0])


def test_dtype_rank_and_layout_are_the_inputs():
    x = np.random.default_rng(3).standard_normal((2, 6, 5, 3)).astype(np.float16)
    grad = px.pool2d_grad(x, 2, "avg", stride=2, layout="NHWC")
    assert grad.shape == x.shape and grad.dtype == np.float16
    nchw = px.pool2d_grad(np.moveaxis(x, -1, 1), 2, "avg", stride=2)
    np.testing.assert_array_equal(np.moveaxis(nchw, 1, -1), grad)
    assert px.pool2d_grad(x[0, :, :, 0].astype(np.float32), 2).dtype == np.float32


@pytest.mark.parametrize("X,kwargs,arg", [
    (np.ones((4, 4)), dict(ties="last"), "ties"),
    (np.ones((4, 4)), dict(grad_output=np.ones((2, 2))), "grad_output"),
    (np.ones((4, 4)), dict(grad_output=np.ones((3, 3), complex)), "grad_output"),
    (np.ones((4, 4), np.int32), {}, "X"),
    (np.ones((4, 4)), dict(mode="median"), "mode"),
])
def test_errors_name_the_argument(X, kwargs, arg):
    with pytest.raises(px.PoolingError, match=rf"^{arg}: got .*; allowed: "):
        px.pool2d_grad(X, 2, **kwargs)


# --- every backend, with its own autograd ------------------------------------------------------

ORDINARY = [  # (pool_size, mode, kwargs)
    (3, "max", dict(stride=1)),  # overlapping windows
    (3, "max", dict(stride=2, padding=1)),
    (3, "min", dict(stride=2, ceil_mode=True)),
    (2, "max", dict(dilation=2, padding=1)),
    ((2, 3), "max", dict(stride=(2, 1), padding=((1, 0), (0, 2)))),
    (3, "avg", dict(stride=2, padding=1)),
    (3, "avg", dict(stride=2, padding=1, count_include_pad=False)),
    (2, "avg", dict(stride=2, ceil_mode=True)),
    (3, "avg", dict(stride=2, padding="same", count_include_pad=False)),
    (2, "lp", dict(stride=1, p=2)),
]


def _cases(dtype, layout):
    rng = np.random.default_rng(11)
    shape = (2, 3, 9, 8) if layout == "NCHW" else (2, 9, 8, 3)
    cases = []
    for pool_size, mode, kwargs in ORDINARY:
        x = rng.standard_normal(shape).astype(dtype)  # continuous values: no ties
        out = px.pool2d(x, pool_size, mode, layout=layout, **kwargs)
        up = rng.standard_normal(out.shape).astype(dtype)
        cases.append(dict(X=x, pool_size=pool_size, mode=mode, layout=layout, grad=True,
                          grad_output=up, **kwargs))
    return cases


def _gradless(r) -> str | None:
    """Why a backend gave no gradient by design, from its reported reason, else None: ONNX
    Runtime runs inference only (``not compared``: "no autograd"); JAX has no VJP for a dilated
    max or min ``reduce_window`` (``not compared``, its forward judged: "no dilated-max
    VJP")."""
    if r.backend == "onnxruntime" and r.grad_status == "not compared":
        return "no autograd" if "has no autograd" in r.grad_detail else None
    if r.backend == "jax" and r.grad_status == "not compared":
        return "no dilated-max VJP" if "VJP not implemented" in r.grad_detail else None
    return None


def _no_gradient(r, mode: str, dilation) -> bool:
    """Whether ``r`` has no gradient by design for this spec (JAX's only for a dilated max)."""
    why = _gradless(r)
    dilated = dilation not in (1, (1, 1))
    return why == "no autograd" or (why == "no dilated-max VJP" and dilated
                                    and mode in ("max", "min"))


def _float32_only(backend, case):
    """Measured: Paddle's float64 avg-pooling backward divides by a float32 divisor (3.3.1), so
    its float64 avg and lp gradients (lp sums by average pooling) are float32-accurate."""
    return (backend == "paddle" and case["X"].dtype == np.float64
            and case["mode"] in ("avg", "lp"))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_backend_gradient_agrees_on_ordinary_cases(pool, dtype, layout):
    cases = _cases(dtype, layout)
    results = px.compare_many([dict(c) for c in cases], pool=pool)
    failures, float32_only = {}, 0
    for case, result in zip(cases, results):
        assert result.grad_reference is not None
        for name, r in result.results.items():
            where = (name, case["pool_size"], case["mode"],
                     tuple((k, v) for k, v in case.items() if k in ORDINARY_KEYS))
            if r.status != "agree":
                failures[where] = f"forward {r.status}: {r.detail}"
            elif _no_gradient(r, case["mode"], case.get("dilation", 1)):
                continue
            elif _float32_only(name, case) and r.grad_status != "agree":
                # exact where every divisor is a power of two (its reciprocal is float32)
                if "accurate to float32 only" not in r.grad_detail:
                    failures[where] = f"expected float32-accurate: {r.grad_detail}"
                np.testing.assert_allclose(r.grad_input, result.grad_reference, rtol=1e-6,
                                           atol=1e-6)
                float32_only += 1
            elif r.grad_status != "agree":
                failures[where] = f"grad {r.grad_status}: {r.grad_detail}"
            else:
                assert r.grad_input.shape == case["X"].shape
                assert r.grad_input.dtype == case["X"].dtype
    assert not failures, failures
    # where a divisor is 9, 6 or 3: k3 s2 p1 counting the padding or not, and SAME
    assert float32_only == (3 if dtype == "float64" else 0)


ORDINARY_KEYS = ("stride", "padding", "dilation", "ceil_mode", "count_include_pad", "p")


@pytest.mark.parametrize("pool_size,mode,kwargs", [(3, "max", dict(stride=2, padding=1)),
                                                    (2, "avg", dict(stride=2))])
def test_every_backend_gradient_agrees_at_a_realistic_size(pool, pool_size, mode, kwargs):
    """A ResNet stem's activation, 8x64x112x112 float32, with a seeded upstream gradient: one
    comparison, every backend's autograd against the reference."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 64, 112, 112)).astype(np.float32)
    up = rng.standard_normal(px.pool2d(x, pool_size, mode, **kwargs).shape).astype(np.float32)
    result = px.compare(x, pool_size, mode, grad=True, grad_output=up, pool=pool, **kwargs)
    assert {n: (r.status, r.grad_status) for n, r in result.results.items()} == {
        n: ("agree", "not compared" if n == "onnxruntime" else "agree")
        for n in result.results}, {n: r.grad_detail for n, r in result.results.items()}


# measured outcomes per backend: {(grad status, gradient as a tuple)}; a set, since a
# framework's quirk can depend on its kernels (MXNet: MKLDNN for float32, its own for float64;
# Paddle: its pooling op for float32, the elementwise maximum of slices for float64, whose
# gradient is 0 at a NaN and splits the ties of an all -inf window)
NAN, INF = np.nan, np.inf
MEASURED = {
    "nan-last": (np.array([[NAN, NAN], [1, 2]]), {
        "pytorch": {("differ", (0, 1, 0, 0))},  # the last NaN
        "tensorflow": {("agree", (1, 0, 0, 0))},  # y = 2, gradient to the first NaN
        "paddle": {("differ", (0, 0, 0, 1)), ("differ", (0, 0, 0, 0))},
        "mxnet": {("differ", (0, 0, 0, 1))},
        "jax": {("differ", (0, 0, 0, 1))}}),  # to the non-NaN maximum
    "nan-one": (np.array([[1, NAN], [3, 4]]), {
        "pytorch": {("agree", (0, 1, 0, 0))}, "tensorflow": {("differ", (0, 0, 0, 1))},
        "paddle": {("differ", (0, 0, 0, 1)), ("differ", (0, 0, 0, 0))},
        "mxnet": {("differ", (0, 0, 0, 1))}, "jax": {("differ", (0, 0, 0, 1))}}),
    "all-minus-inf": (np.full((2, 2), -INF), {
        "pytorch": {("agree", (1, 0, 0, 0))}, "tensorflow": {("agree", (1, 0, 0, 0))},
        "paddle": {("differ", (0, 0, 0, 0)), ("differ", (0.25, 0.25, 0.25, 0.25))},
        "mxnet": {("agree", (1, 0, 0, 0)), ("differ", (0, 0, 0, 0))},
        "jax": {("agree", (1, 0, 0, 0))}}),
}
for _, outcomes in MEASURED.values():  # inference only: no gradient, and why
    outcomes["onnxruntime"] = {("not compared", None)}
CAUSES = {"nan-last": ("a NaN in a max window",), "nan-one": ("a NaN in a max window",),
          "all-minus-inf": ("a window of only -inf", "matches ties='split'")}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(MEASURED))
def test_nan_and_infinity_divergences_are_reported_with_their_cause(pool, name, dtype):
    x, outcomes = MEASURED[name]
    result = px.compare(x.astype(dtype), 2, stride=2, grad=True, pool=pool)
    for backend, r in result.results.items():
        outcome = (r.grad_status,
                   None if r.grad_input is None else tuple(r.grad_input.ravel().tolist()))
        assert outcome in outcomes[backend], (backend, outcome, r.grad_detail)
        if r.grad_status == "differ":
            assert any(cause in r.grad_detail for cause in CAUSES[name]), (backend,
                                                                           r.grad_detail)


def test_ties_split_by_an_emulated_max_are_reported(pool):
    # Paddle's float64 max is the elementwise maximum of slices (its pooling starts from
    # float32's lowest): paddle.maximum splits a tie's gradient, its pooling op does not
    result = px.compare(np.ones((1, 1, 4, 4)), 2, grad=True, pool=pool)
    split = px.pool2d_grad(np.ones((1, 1, 4, 4)), 2, ties="split")
    for backend, r in result.results.items():
        if r.grad_status == "agree" or _no_gradient(r, "max", 1):
            continue
        assert "matches ties='split'" in r.grad_detail and "elementwise maximum" in r.grad_detail
        np.testing.assert_array_equal(r.grad_input, split)
    assert result.results["pytorch"].grad_status == "agree"  # its native op: the first


def test_lp_gradient_at_a_zero_window_sum_is_zero_in_every_backend(pool):
    # the emulation takes the root only where the sum is not 0 (a plain (sum)**(1/p) gives
    # NaN there in PyTorch, TensorFlow and MXNet)
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 3, 3] = 2
    for p in (2, 3):
        result = px.compare(x, 2, "lp", p=p, grad=True, pool=pool)
        assert {n: (r.status, r.grad_status) for n, r in result.results.items()} == {
            n: ("agree", "not compared" if n == "onnxruntime" else "agree")
            for n in result.results}, p


def test_lp_below_one_at_a_zero_cell(pool):
    # |x|**p with p < 1 has an infinite slope at 0: measured NaN in PyTorch, TensorFlow and
    # MXNet, inf in JAX, 0 in Paddle (and the reference)
    x = np.array([[[[0.0, 1], [2, 3]]]], np.float32)
    result = px.compare(x, 2, "lp", p=0.5, grad=True, pool=pool)
    outcomes = set()
    for backend, r in result.results.items():
        assert r.status == "agree"
        if r.grad_status == "differ":
            assert "lp at a cell that is 0: |x|**0.5 (p < 1)" in r.grad_detail, r.grad_detail
            assert not np.isfinite(r.grad_input[0, 0, 0, 0])
        outcomes.add((backend, r.grad_status))
    assert outcomes == {("pytorch", "differ"), ("tensorflow", "differ"), ("mxnet", "differ"),
                        ("paddle", "agree"), ("jax", "differ"), ("onnxruntime", "not compared")}


def test_rendered_backward_names_the_frameworks_autograd(pool):
    result = px.compare(np.ones((1, 1, 4, 4), np.float32), 2, grad=True, pool=pool)
    spelled = {"pytorch": "y.backward(grad_output)", "tensorflow": "tf.GradientTape()",
               "paddle": "paddle.grad([y], [x], [grad_output])",
               "mxnet": "autograd.record()", "jax": "jax.vjp(forward, x)"}
    for backend, r in result.results.items():
        if backend == "onnxruntime":  # inference only: no backward to show
            assert r.how.get("grad_code") is None and r.grad_status == "not compared"
            continue
        assert spelled[backend] in r.how["grad_code"], r.how["grad_code"]


@pytest.mark.parametrize("kwargs,arg", [
    (dict(X=np.ones((4, 4), np.int32), pool_size=2, grad=True), "X"),
    (dict(X=np.ones((4, 4)), op="adaptive", output_size=2, grad=True, ties="most"), "ties"),
    (dict(X=np.ones((4, 4)), pool_size=2, grad=True, ties="most"), "ties"),
    (dict(X=np.ones((4, 4)), pool_size=2, grad=True, grad_output=np.ones(3)), "grad_output"),
    (dict(X=np.ones((4, 4)), pool_size=2, grad_output=np.ones((3, 3))), "grad_output"),
])
def test_compare_grad_errors_name_the_argument_before_any_backend_runs(kwargs, arg):
    with pytest.raises(px.PoolingError, match=rf"^{arg}: got "):
        px.compare_many([kwargs], backends=["pytorch"], pool=None)


@pytest.mark.parametrize("kwargs,message", [
    (dict(ties="split"), "ties: got 'split' without grad=True; allowed: ties only with "
                         "grad=True"),
    (dict(grad_output=np.ones((1, 1, 3, 3), np.float32), ties="all"),
     "grad_output: got <float32 array of shape (1, 1, 3, 3)> without grad=True"),
    (dict(ties="first"), "ties: got 'first' without grad=True"),
    (dict(grad=1), "grad: got 1; allowed: True or False"),
    (dict(grad=0), "grad: got 0; allowed: True or False"),
    (dict(grad="yes"), "grad: got 'yes'; allowed: True or False"),
], ids=["ties-alone", "grad-output-and-ties", "ties-first-alone", "grad-1", "grad-0",
        "grad-a-word"])
def test_compare_refuses_a_backward_option_without_the_backward_pass(kwargs, message):
    """``compare``'s keyword path as its case path: ``ties`` without ``grad=True`` is refused,
    not ignored, and ``grad`` is a bool (1 is not True, as for ``ceil_mode``)."""
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    with pytest.raises(px.PoolingError) as caught:
        px.compare(x, 2, backends=["pytorch"], pool=None, **kwargs)
    assert str(caught.value).startswith(message), str(caught.value)


def test_compare_takes_numpys_bool_for_grad(pool):
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    result = px.compare(x, 2, backends=["pytorch"], pool=pool, grad=np.True_)
    assert result.results["pytorch"].grad_status == "agree" and result.ties == "first"


# --- the forward's matrices, backward ----------------------------------------------------------

def _policy(r) -> str:
    """How a backend's gradient relates to the reference's (ties="first"), from its verdict:
    ``agree``, a known cause (``split`` evenly, ``uneven`` shares of a window's tied
    extremes, ``float32``-accurate), or ``unexplained`` with the detail."""
    if r.grad_status == "agree":
        return "agree"
    why = _gradless(r)  # no gradient by design, with the reason
    if why:
        return why
    for token, policy in (("matches ties='split'", "split"), ("shared unevenly", "uneven"),
                          ("accurate to float32 only", "float32")):
        if r.grad_status == "differ" and token in r.grad_detail:
            return policy
    return f"unexplained {r.grad_status}: {r.grad_detail}"


# Measured on the grid and in the seeded differential test below: where a window holds equal
# extremes, a framework's pooling op sends the gradient to the first (agree); a plan emulated
# as an elementwise maximum of strided slices shares it (evenly: "split", or unevenly along its
# chain of maxima: "uneven"), PyTorch's for dilation with explicit padding, JAX's for a dilated
# max it emulates (its own dilated max has no VJP: "no dilated-max VJP"), Paddle's for float64
# max/min and min; Paddle's float64 avg backward is float32-accurate; ONNX Runtime has no
# autograd ("no autograd").  These are properties of the plans, not of a CPU: a new outcome
# means a plan or a framework changed.  Each backend declares its own (``Backend.known``).
TIE_POLICIES = {name: set(registry.get(name).outcomes(MAX_TIES_BACKWARD).seen)
                for name in registry.defaults()}
#: the policies a backend's gradient may have on inputs without ties
NO_TIES = {name: {"agree"} | ({"no dilated-max VJP", "no autograd"} & policies)
           for name, policies in TIE_POLICIES.items()}
EMULATION_ONLY = {"split", "uneven"}  # a pooling op itself always sends ties to the first


@pytest.mark.parametrize("layout", LAYOUTS)
def test_chapter_examples_gradient_on_every_backend(pool, layout):
    """The chapter's examples (no ties: one winner per window; avg divisors 4) exactly."""
    cases = [case.with_layout(layout) for case in px.cases.CHAPTER]
    results = px.compare_many([dict(case.arguments(), grad=True) for case in cases], pool=pool)
    for case, result in zip(cases, results):
        reference = px.pool2d_grad(case.input, **case.kwargs)
        np.testing.assert_array_equal(result.grad_reference, reference)
        for name, r in result.results.items():
            if _no_gradient(r, case.kwargs.get("mode", "max"), 1):
                continue
            assert (r.status, r.grad_status) == ("agree", "agree"), (case.name, name,
                                                                     r.grad_detail)
            np.testing.assert_array_equal(r.grad_input, reference)


def _grid_float(dtype: str) -> str:
    return dtype if dtype.startswith("float") else "float64"  # a gradient needs a float


def _distinct(dtype: str, layout: str) -> np.ndarray:
    """The grid's shape with every value distinct, none 0, exact in float16 (k/64, k odd)."""
    from .test_adapters import SHAPE
    x = (np.random.default_rng(7).permutation(np.prod(SHAPE)).reshape(SHAPE) - 125.5) / 32
    x = x.astype(dtype)
    return np.moveaxis(x, 1, -1) if layout == "NHWC" else x


def _grid_outcomes(pool, make_input):
    from .test_adapters import GRID
    cases = [dict(X=make_input(_grid_float(dtype), kwargs["layout"]), pool_size=window,
                  mode=mode, grad=True, **kwargs) for _, window, mode, dtype, kwargs in GRID]
    results = px.compare_many(cases, pool=pool)
    return [(name, r) for (name, *_), result in zip(GRID, results)
            for r in result.results.values()]


def test_grid_gradient_without_ties_agrees_on_every_backend(pool):
    """The forward matrix's specs (integer dtypes as float64) on distinct values: every
    backend's gradient is the reference's, Paddle's float64 avg/lp within float32."""
    failures = {}
    for name, r in _grid_outcomes(pool, _distinct):
        policy = _policy(r)
        float32_only = (r.backend == "paddle" and name.endswith(("float64", "int32", "int8",
                                                                  "int64", "uint8"))
                        and name.startswith(("avg", "lp")))
        if r.status != "agree" or policy not in (NO_TIES[r.backend] | {"float32"} if float32_only
                                                 else NO_TIES[r.backend]):
            failures[(r.backend, name)] = f"{r.status}; {policy}"
    assert not failures, failures


def test_grid_gradient_with_ties_follows_each_frameworks_measured_policy(pool):
    """The forward matrix's own inputs (small integers: ties in most windows): each outcome is
    one of the backend's measured policies, a shared tie only from an emulated plan, and every
    difference names its cause."""
    from .test_adapters import _input
    seen, failures = {}, {}
    for name, r in _grid_outcomes(pool, _input):
        policy = _policy(r)
        seen.setdefault(r.backend, set()).add(policy)
        if r.status != "agree" or policy not in TIE_POLICIES[r.backend]:
            failures[(r.backend, name)] = f"{r.status}; {policy}"
        elif policy in EMULATION_ONLY and r.how["path"] != "emulated":
            failures[(r.backend, name)] = f"{policy} from a {r.how['path']} plan"
    assert not failures, failures
    assert all("agree" in policies for name, policies in seen.items()
               if name != "onnxruntime"), seen


@st.composite
def backend_problems(draw, ties: bool):
    """A random spec and a seeded input: distinct values (``ties=False``) or values from
    {-2, -1, 1, 2} (ties in most windows; no 0, whose lp slope is a separate matter)."""
    mode = draw(st.sampled_from(["max", "avg", "min", "lp"]))
    layout = draw(st.sampled_from(LAYOUTS))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    shape = (n, c, h, w) if layout == "NCHW" else (n, h, w, c)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if ties:
        x = rng.choice([-2.0, -1.0, 1.0, 2.0], size=shape)
    else:
        x = (rng.permutation(np.prod(shape)).reshape(shape) + 1) * rng.choice([-1, 1], shape)
        x = x / 8
    x = x.astype(draw(st.sampled_from(["float32", "float64"])))
    pool_size, kwargs = draw_spec(draw, x, mode, layout)
    up = rng.standard_normal(px.pool2d(x, pool_size, mode, **kwargs).shape).astype(x.dtype)
    return x, pool_size, mode, kwargs, up


def _paddle_float32(r, x, mode) -> bool:
    """Measured: Paddle's float64 avg-pooling backward is float32-accurate (lp sums by it)."""
    return r.backend == "paddle" and x.dtype == np.float64 and mode in ("avg", "lp")


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(problem=backend_problems(ties=False))
def test_every_backend_gradient_agrees_without_ties(pool, problem):
    """Seeded differential: random specs on distinct values, every backend's autograd gives
    the reference gradient (Paddle's float64 avg/lp backward within float32; none where a
    backend has none by design, ``_no_gradient``)."""
    x, pool_size, mode, kwargs, up = problem
    result = px.compare(x, pool_size, mode, grad=True, grad_output=up, pool=pool, **kwargs)
    failures = {}
    for name, r in result.results.items():
        allowed = NO_TIES[name] | ({"float32"} if _paddle_float32(r, x, mode) else set())
        if r.status != "agree" or _policy(r) not in allowed:
            failures[name] = f"{r.status}; {_policy(r)}"
    assert not failures, failures


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(problem=backend_problems(ties=True))
def test_every_backend_gradient_with_ties_follows_its_measured_policy(pool, problem):
    """Seeded differential with ties: each backend's gradient is one of its measured policies
    (``TIE_POLICIES``), a shared tie only from an emulated plan, a difference with its cause."""
    x, pool_size, mode, kwargs, up = problem
    result = px.compare(x, pool_size, mode, grad=True, grad_output=up, pool=pool, **kwargs)
    failures = {}
    for name, r in result.results.items():
        policy = _policy(r)
        if r.status != "agree" or policy not in TIE_POLICIES[name]:
            failures[name] = f"{r.status}; {policy}"
        elif policy in EMULATION_ONLY and r.how["path"] != "emulated":
            failures[name] = f"{policy} from a {r.how['path']} plan"
        elif policy == "float32" and not _paddle_float32(r, x, mode):
            failures[name] = f"float32-accurate {mode} in {x.dtype}"
    assert not failures, failures


# --- adaptive and global pooling --------------------------------------------------------------

#: (shape, layout, operation keywords): bins that share cells (7 -> 3), an output larger than
#: the input, None keeping an axis, both layouts, 1-D and 3-D heads, Keras' dropped axes
HEADS = [
    ((2, 3, 7, 9), "NCHW", dict(op="adaptive", output_size=(3, 4))),
    ((2, 7, 9, 3), "NHWC", dict(op="adaptive", output_size=(3, 4), mode="avg")),
    ((1, 2, 5, 4), "NCHW", dict(op="adaptive", output_size=(7, None))),
    ((2, 3, 13), "NCW", dict(op="adaptive", output_size=5, mode="avg")),
    ((1, 2, 5, 6, 7), "NCDHW", dict(op="adaptive", output_size=(2, 3, 4))),
    ((2, 3, 5, 6), "NCHW", dict(op="global", mode="lp")),
    ((2, 5, 6, 3), "NHWC", dict(op="global", mode="avg", keepdims=False)),
    ((1, 2, 4, 5, 6), "NCDHW", dict(op="global", mode="max")),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,layout,kwargs", HEADS,
                         ids=[f"{k['op']}-{k.get('mode', 'max')}-{layout}-"
                              f"{k.get('output_size', 'whole')}" for _, layout, k in HEADS])
def test_adaptive_and_global_gradients_agree_in_every_autograd(pool, shape, layout, kwargs,
                                                               dtype):
    """Each framework's autograd through its own adaptive or global plan against
    ``px.adaptive_pool2d_grad`` (and 1-D, 3-D) and the windowed gradient of the whole input,
    with a random upstream gradient; ONNX Runtime has no autograd."""
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape).astype(dtype)
    arguments = {k: v for k, v in kwargs.items() if k != "op"}
    out = ops.get(kwargs["op"]).compute(x, layout=layout, **arguments)
    up = rng.standard_normal(out.shape).astype(dtype)
    result = px.compare(x, layout=layout, grad=True, grad_output=up, pool=pool, **kwargs)
    assert result.grad_reference.shape == x.shape
    assert set(result.results) == set(registry.defaults())
    float32_backward = dtype == "float64" and kwargs.get("mode") in ("avg", "lp")
    for name, r in result.results.items():
        assert r.status == "agree", (name, r.detail)
        if name == "onnxruntime":
            assert r.grad_status == "not compared", r.grad_detail
        elif name == "paddle" and float32_backward and r.grad_status == "differ":
            # recorded (FLOAT64_BACKWARD_IN_FLOAT32): float32-accurate, and said so
            assert "divides by a float32 divisor" in r.grad_detail, r.grad_detail
            assert r.grad_max_abs_diff < 1e-6 * float(np.abs(result.grad_reference).max())
        else:
            assert r.grad_status == "agree", (name, r.grad_detail)
