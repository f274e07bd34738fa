"""Adaptive and global pooling: the reference against a brute-force loop over output cells, its
errors, and every backend against the reference."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pooling_xfw as px
from pooling_xfw.adaptive import Bins

from . import brute

LAYOUTS = ("NCHW", "NHWC")
FLOATS = ("float16", "float32", "float64")
#: avg of a dtype against the exact mean: (rtol, atol); max is exact
AVG_TOLERANCE = {"float16": (2e-3, 2e-3), "float32": (1e-6, 1e-6), "float64": (1e-13, 1e-13)}


def _tolerance(dtype) -> tuple[float, float]:
    return AVG_TOLERANCE.get(np.dtype(dtype).name, AVG_TOLERANCE["float64"])


def _assert_matches_brute(out, x, output_size, mode, layout):
    expected = brute.adaptive(x, output_size, mode, layout)
    assert out.shape == expected.shape
    if mode == "max":
        assert out.dtype == x.dtype
        np.testing.assert_array_equal(out, expected.astype(x.dtype))
    else:
        assert out.dtype == (x.dtype if x.dtype.kind == "f" else np.float64)
        rtol, atol = _tolerance(out.dtype)
        np.testing.assert_allclose(out.astype(np.float64), expected, rtol=rtol, atol=atol)


# --- the bins ----------------------------------------------------------------------------------

# read off PyTorch, Paddle and MXNet with one-hot inputs (the notes' named cases)
MEASURED_BINS = {
    (7, 3): [(0, 3), (2, 5), (4, 7)],
    (5, 3): [(0, 2), (1, 4), (3, 5)],
    (10, 4): [(0, 3), (2, 5), (5, 8), (7, 10)],
    (6, 4): [(0, 2), (1, 3), (3, 5), (4, 6)],
    (3, 5): [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)],
}


@pytest.mark.parametrize("n,o", MEASURED_BINS, ids=lambda v: str(v))
def test_bins_are_the_frameworks_measured_bins(n, o):
    bins = Bins(n, o)
    assert list(zip(bins.starts.tolist(), bins.ends.tolist())) == MEASURED_BINS[n, o]


def test_bins_equal_the_rational_definition_for_every_size_up_to_64():
    for n in range(1, 65):
        for o in range(0, 65):
            bins = Bins(n, o)
            assert list(zip(bins.starts.tolist(), bins.ends.tolist())) == brute.adaptive_bins(
                n, o), (n, o)
            assert len(set(bins.lengths.tolist())) <= 2, (n, o)  # the vectorization relies on it


def test_bins_of_huge_sizes_are_exact():
    """``i*n`` beyond int64: still floor/ceil of the exact rational."""
    n, o = 3 * 10**16, 7 * 10**3
    bins = Bins(n, o)
    for i in (0, 1, o // 2, o - 1):
        assert (int(bins.starts[i]), int(bins.ends[i])) == (i * n // o, -((-(i + 1) * n) // o))


@pytest.mark.parametrize("n,o,step", [(14, 7, 2), (7, 1, 1), (7, 3, 2), (5, 5, 1), (10, 4, None),
                                      (5, 3, None), (3, 5, None)], ids=str)
def test_bins_that_are_a_plain_pooling(n, o, step):
    assert Bins(n, o).step == step


# --- the reference against brute force ----------------------------------------------------------

def _random(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return (rng.standard_normal(shape) * 10).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape, dtype=dtype)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=st.integers(1, 24), w=st.integers(1, 24), oh=st.integers(0, 24) | st.none(),
       ow=st.integers(0, 24) | st.none(), mode=st.sampled_from(["max", "avg"]),
       layout=st.sampled_from(LAYOUTS),
       dtype=st.sampled_from(FLOATS + ("int8", "int32", "int64", "uint8")),
       rank=st.sampled_from([2, 3, 4]), seed=st.integers(0, 2**16))
def test_adaptive_equals_brute_force(h, w, oh, ow, mode, layout, dtype, rank, seed):
    shape = {2: (h, w), 3: (2, h, w), 4: (2, 3, h, w)}[rank]
    x = _random(shape, dtype, seed)
    if layout == "NHWC" and rank > 2:
        x = np.moveaxis(x, -3, -1).copy()
    out = px.adaptive_pool2d(x, (oh, ow), mode, layout=layout)
    _assert_matches_brute(out, x, (oh, ow), mode, layout)


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 24), w=st.integers(1, 24), mode=st.sampled_from(["max", "avg", "lp"]),
       layout=st.sampled_from(LAYOUTS), dtype=st.sampled_from(FLOATS + ("int32",)),
       keepdims=st.booleans(), seed=st.integers(0, 2**16))
def test_global_equals_brute_force(h, w, mode, layout, dtype, keepdims, seed):
    x = _random((2, 3, h, w), dtype, seed)
    if layout == "NHWC":
        x = np.moveaxis(x, 1, -1).copy()
    out = px.global_pool2d(x, mode, p=3, keepdims=keepdims, layout=layout)
    expected = brute.pool(x, (h, w), mode, layout=layout, p=3.0)
    if not keepdims:
        expected = expected.reshape(2, 3)
    assert out.shape == expected.shape
    if mode == "max":
        np.testing.assert_array_equal(out, expected.astype(x.dtype))
    else:
        rtol, atol = _tolerance(out.dtype)
        np.testing.assert_allclose(out.astype(np.float64), expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_global_is_the_mean_and_max_over_the_plane(layout):
    """The realistic classifier head, 8x2048x7x7, against numpy's own reductions."""
    x = _random((8, 2048, 7, 7), "float32", 1)
    axes = (2, 3)
    if layout == "NHWC":
        x, axes = np.moveaxis(x, 1, -1).copy(), (1, 2)
    np.testing.assert_allclose(px.global_pool2d(x, "avg", layout=layout, keepdims=False),
                               x.astype(np.float64).mean(axes), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(px.global_pool2d(x, "max", layout=layout),
                                  x.max(axes, keepdims=True))
    np.testing.assert_array_equal(px.adaptive_pool2d(x, 1, "max", layout=layout),
                                  x.max(axes, keepdims=True))


def test_divisible_adaptive_is_a_reshaped_mean():
    """8x512x14x14 -> 7x7 (a ResNet stage), against numpy's mean over 2x2 blocks."""
    x = _random((8, 512, 14, 14), "float32", 2)
    blocks = x.astype(np.float64).reshape(8, 512, 7, 2, 7, 2)
    np.testing.assert_allclose(px.adaptive_pool2d(x, 7, "avg"), blocks.mean((3, 5)),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(px.adaptive_pool2d(x, (7, 7), "max"),
                                  x.reshape(8, 512, 7, 2, 7, 2).max((3, 5)))


# --- special values and range -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_nan_and_infinities(dtype, mode):
    """5 -> 3 over [1, nan, 3, 4, 5] (NaN propagates) and [-inf, -inf, 3, inf, 5] (a bin of only
    -inf has max -inf; inf - inf is NaN in an avg)."""
    for row in ([1, np.nan, 3, 4, 5], [-np.inf, -np.inf, 3, np.inf, 5],
                [-np.inf, np.inf, 3, np.nan, -np.inf]):
        x = np.array([row], dtype)
        out = px.adaptive_pool2d(x, (1, 3), mode)
        np.testing.assert_array_equal(out, brute.adaptive(x, (1, 3), mode).astype(dtype))


@pytest.mark.parametrize("value,dtype", [(60000.0, "float16"), (1.5e308, "float64"),
                                         (3e38, "float32")], ids=["float16", "float64",
                                                                  "float32"])
def test_avg_is_finite_where_the_mean_is(value, dtype):
    x = np.full((1, 1, 9, 7), value, dtype)
    x[0, 0, ::2] *= 0.75
    out = px.adaptive_pool2d(x, (4, 3), "avg")
    assert np.isfinite(out).all()
    rtol, atol = _tolerance(dtype)
    np.testing.assert_allclose(out.astype(np.float64), brute.adaptive(x, (4, 3), "avg"),
                               rtol=rtol, atol=0)
    assert np.isfinite(px.global_pool2d(x, "avg")).all()


def test_integers_keep_their_dtype_in_max_and_are_exact():
    x = np.array([[2**62 + 1, 2**62, -(2**63)], [5, 2**62 + 3, -1]], np.int64)
    out = px.adaptive_pool2d(x, (1, 2), "max")
    assert out.dtype == np.int64 and out.tolist() == [[2**62 + 3, 2**62 + 3]]
    assert px.global_pool2d(np.array([[1, 2]], np.int32), "avg").tolist() == [[1.5]]


def test_empty_output_axis_and_none():
    x = _random((2, 3, 5, 7), "float32", 3)
    assert px.adaptive_pool2d(x, (0, 3)).shape == (2, 3, 0, 3)
    assert px.adaptive_pool2d(x, 0, "avg").shape == (2, 3, 0, 0)
    np.testing.assert_array_equal(px.adaptive_pool2d(x, (None, None)), x)
    assert px.adaptive_pool2d(x, (None, 3), "avg").shape == (2, 3, 5, 3)


# --- errors: one line naming the argument and what is allowed -------------------------------------

X4 = np.zeros((1, 1, 4, 4), np.float32)


@pytest.mark.parametrize("kwargs,argument", [
    (dict(output_size=-1), "output_size"),
    (dict(output_size=(2, -3)), "output_size"),
    (dict(output_size=2.0), "output_size"),
    (dict(output_size=(2, 3, 4)), "output_size"),
    (dict(output_size=None), "output_size"),
    (dict(output_size=True), "output_size"),
    (dict(output_size="3"), "output_size"),
    (dict(output_size=2**63), "output_size"),
    (dict(output_size=2, mode="min"), "mode"),
    (dict(output_size=2, mode="lp"), "mode"),
    (dict(output_size=2, layout="NWHC"), "layout"),
    (dict(output_size=2, X=np.zeros((1, 1, 1, 4, 4))), "X"),
    (dict(output_size=2, X=np.zeros((1, 1, 0, 4))), "X"),
    (dict(output_size=2, X=np.zeros((2, 2), complex)), "X"),
    (dict(output_size=(10**6, 10**7)), "output_size"),  # 4e13 cells: more than any memory
], ids=lambda v: v if isinstance(v, str) else None)
def test_adaptive_errors_name_the_argument(kwargs, argument):
    kwargs = dict(kwargs)
    x = kwargs.pop("X", X4)
    with pytest.raises(px.PoolingError) as err:
        px.adaptive_pool2d(x, **kwargs)
    message = str(err.value)
    assert message.startswith(f"{argument}: got ") and "allowed" in message
    assert "\n" not in message


@pytest.mark.parametrize("kwargs,argument", [
    (dict(mode="min"), "mode"), (dict(keepdims=1), "keepdims"), (dict(p=0), "p"),
    (dict(layout="CHW"), "layout"), (dict(X=np.zeros(4)), "X"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_global_errors_name_the_argument(kwargs, argument):
    kwargs = dict(kwargs)
    x = kwargs.pop("X", X4)
    with pytest.raises(px.PoolingError) as err:
        px.global_pool2d(x, **kwargs)
    assert str(err.value).startswith(f"{argument}: got ") and "allowed" in str(err.value)
