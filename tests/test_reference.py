"""The numpy reference, specified: the chapter, the conventions, special values, errors."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pooling_xfw as px
from pooling_xfw import textbook

from . import brute

LAYOUTS = ["NCHW", "NHWC"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", px.cases.CHAPTER, ids=lambda c: c.name)
def test_chapter_example_gives_the_printed_output(case, layout):
    case = case.with_layout(layout)
    out = px.pool2d(case.input, **case.kwargs)
    np.testing.assert_array_equal(out, case.expected)
    assert out.dtype == case.expected.dtype


def test_defaults_are_the_chapters_stride_1_no_padding():
    X = px.cases.by_name("pool2d-max").input
    np.testing.assert_array_equal(px.pool2d(X, (2, 2)), [[4, 5], [7, 8]])
    np.testing.assert_array_equal(px.pool2d(X, (2, 2), "avg"), [[2, 3], [5, 6]])


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("shape,window", [((3, 3), (2, 2)), ((7, 5), (3, 2)), ((6, 9), (1, 4)),
                                          ((4, 4), (4, 4))], ids=str)
def test_equals_the_textbook_loop_on_its_domain(shape, window, mode):
    X = np.random.default_rng(0).standard_normal(shape)
    np.testing.assert_allclose(px.pool2d(X, window, mode), textbook.pool2d(X, window, mode),
                               rtol=1e-12, atol=0)


# --- exercises 1 and 5 as identities --------------------------------------------------------

def _uniform_conv(x, k, stride, pad):
    """Per-channel cross-correlation of a zero-padded NCHW x with a uniform 1/(kh*kw) kernel."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    windows = np.lib.stride_tricks.sliding_window_view(xp, k, axis=(2, 3))
    kernel = np.full(k, 1.0 / (k[0] * k[1]))
    return np.einsum("nchwij,ij->nchw", windows, kernel)[:, :, ::stride[0], ::stride[1]]


@pytest.mark.parametrize("k,stride,pad", [((2, 2), (1, 1), (0, 0)), ((3, 3), (2, 2), (1, 1)),
                                          ((2, 3), (2, 3), (0, 1)), ((3, 1), (1, 2), (1, 0))],
                         ids=lambda v: "x".join(map(str, v)))
def test_avg_pooling_is_a_uniform_convolution_per_channel(k, stride, pad):
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 8))
    np.testing.assert_allclose(px.pool2d(x, k, "avg", stride=stride, padding=pad),
                               _uniform_conv(x, k, stride, pad), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding", [0, 1, "same", ((2, 0), (0, 1))], ids=str)
def test_min_pooling_is_minus_max_of_minus_x(padding):
    x = np.random.default_rng(2).standard_normal((1, 2, 6, 5))
    np.testing.assert_array_equal(px.pool2d(x, 3, "min", padding=padding),
                                  -px.pool2d(-x, 3, "max", padding=padding))


# --- conventions ------------------------------------------------------------------------------

NEG16 = -np.arange(1, 17, dtype=np.float32).reshape(1, 1, 4, 4)
X16 = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
ONES4 = np.ones((1, 1, 4, 4), np.float32)


@pytest.mark.parametrize("mode,kwargs,x,expected", [
    # padding never wins: the chapter's k3 s2 p1 on an all-negative input (PyTorch's numbers)
    ("max", dict(padding=1, stride=2), NEG16, [[-1, -2], [-5, -6]]),
    # SAME puts the odd pad bottom/right (TensorFlow), same_lower top/left (ONNX SAME_LOWER)
    ("max", dict(padding="same"), X16[0, 0, :, :], [[5, 6, 7, 7], [9, 10, 11, 11],
                                                    [13, 14, 15, 15], [13, 14, 15, 15]]),
    ("max", dict(padding="SAME_LOWER"), X16[0, 0], [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11],
                                                    [12, 13, 14, 15]]),
    # avg divisor: pad counted (PyTorch/MXNet default) or not (Paddle exclusive / TF SAME)
    ("avg", dict(padding=1, stride=2), ONES4, [[4 / 9, 6 / 9], [6 / 9, 1]]),
    ("avg", dict(padding=1, stride=2, count_include_pad=False), ONES4, [[1, 1], [1, 1]]),
    # ceil overhang never counts, padding does (PyTorch/MXNet/Paddle agree)
    ("avg", dict(padding=1, stride=2, ceil_mode=True), ONES4,
     [[4 / 9, 6 / 9, 1 / 3], [6 / 9, 1, 1 / 2], [1 / 3, 1 / 2, 1 / 4]]),
    # dilation 2: the window reads every other cell
    ("max", dict(dilation=2), X16, [[10, 11], [14, 15]]),
], ids=["max-negative-p1", "same-odd-pad-after", "same-lower-odd-pad-before",
        "avg-count-include-pad", "avg-exclude-pad", "avg-ceil-overhang", "max-dilation-2"])
def test_convention(mode, kwargs, x, expected):
    k = 2 if kwargs.get("padding") in ("same", "SAME_LOWER") or "dilation" in kwargs else 3
    out = px.pool2d(x, k, mode, **kwargs)
    np.testing.assert_allclose(out.reshape(np.shape(expected)), expected, rtol=1e-6)


# output sizes measured in PyTorch (floor/ceil with its drop rule) and TensorFlow (SAME)
@pytest.mark.parametrize("n,k,s,pad,ceil,expected", [
    (6, 3, 2, 1, False, 3), (6, 3, 2, 1, True, 4),
    (5, 2, 2, 1, False, 3), (5, 2, 2, 1, True, 3),   # pad-only last window dropped
    (3, 2, 2, 1, True, 2), (4, 3, 2, 1, True, 3), (6, 3, 2, 0, True, 3), (5, 3, 2, 0, True, 2),
    (7, 3, 3, 1, True, 3), (6, 1, 4, 0, True, 2),   # k < s: window past the input dropped
    (6, 3, 2, "same", False, 3), (5, 3, 2, "same", False, 3), (7, 3, 3, "same", False, 3),
    (6, 1, 4, "same", True, 2),
], ids=lambda v: str(v))
def test_output_size(n, k, s, pad, ceil, expected):
    shape = px.output_shape((1, 1, n, n), k, stride=s, padding=pad, ceil_mode=ceil)
    assert shape == (1, 1, expected, expected)


@pytest.mark.parametrize("padding,expected", [
    (1, ((1, 1), (1, 1))), ((0, 2), ((0, 0), (2, 2))), (((2, 0), (0, 1)), ((2, 0), (0, 1))),
    ("valid", ((0, 0), (0, 0))), ("same", ((1, 2), (1, 2))), ("same_lower", ((2, 1), (2, 1))),
], ids=str)
def test_resolve_padding(padding, expected):
    # k4 s1 on 4x4: SAME needs 3 cells, top/left 1 and bottom/right 2 (TensorFlow, measured)
    assert px.resolve_padding((4, 4), 4, padding=padding) == expected


def test_output_keeps_rank_and_layout():
    x = np.zeros((2, 9, 7, 3), np.float32)
    assert px.pool2d(x, 2, stride=2, layout="nhwc").shape == (2, 4, 3, 3)
    assert px.pool2d(x[0], 2, stride=2, layout="NHWC").shape == (4, 3, 3)
    assert px.pool2d(x[0, :, :, 0], 2, stride=2).shape == (4, 3)
    assert px.pool2d(x, 2, stride=2).shape == (2, 9, 3, 1)


# --- special values and dtypes ----------------------------------------------------------------

def test_nan_propagates_to_every_window_that_reads_it():
    x = X16.copy()
    x[0, 0, 1, 1] = np.nan
    for mode in ("max", "min", "avg", "lp"):
        out = px.pool2d(x, 2, mode, stride=2)
        assert np.isnan(out[0, 0, 0, 0]) and not np.isnan(out[0, 0, 1:, :]).any(), mode


def test_infinities():
    x = X16.copy()
    x[0, 0, :2, :2] = -np.inf
    x[0, 0, 3, 3] = np.inf
    out = px.pool2d(x, 2, "max", stride=2)
    assert out[0, 0, 0, 0] == -np.inf and out[0, 0, 1, 1] == np.inf
    assert px.pool2d(x, 2, "min", stride=2)[0, 0, 0, 0] == -np.inf


@pytest.mark.parametrize("dtype,mode,expected", [
    ("int8", "max", "int8"), ("uint8", "min", "uint8"), ("int64", "max", "int64"),
    ("int32", "avg", "float64"), ("int64", "lp", "float64"), ("float16", "avg", "float16"),
    ("float16", "max", "float16"), ("float32", "lp", "float32"), ("float64", "avg", "float64"),
], ids=lambda v: str(v))
def test_dtype_rule(dtype, mode, expected):
    x = (np.arange(16).reshape(4, 4) % 7).astype(dtype)
    assert px.pool2d(x, 2, mode, padding=1).dtype == np.dtype(expected)


def test_integer_max_padding_never_wins():
    x = np.full((3, 3), np.iinfo(np.int16).min, np.int16)
    assert (px.pool2d(x, 3, padding=1) == np.iinfo(np.int16).min).all()


def test_integer_avg_is_exact_not_truncated():
    # PyTorch's int64 avg truncates (-1.25 -> -1); the reference returns the true mean
    x = np.array([[-1, -2], [-1, -1]], np.int64)
    assert px.pool2d(x, 2, "avg")[0, 0] == -1.25


def test_float16_avg_accumulates_in_float32():
    x = np.full((1, 64), 2049, np.float16)  # float16 sums of these round badly
    assert px.pool2d(x, (1, 64), "avg")[0, 0] == np.float16(2049)


def test_lp_pooling_is_the_p_norm_of_each_window():
    x = np.array([[3.0, -4.0]])
    assert px.pool2d(x, (1, 2), "lp")[0, 0] == pytest.approx(5.0)
    assert px.pool2d(x, (1, 2), "lp", p=1)[0, 0] == pytest.approx(7.0)
    assert px.pool2d(x, (1, 2), "lp", p=3, padding=(0, 1)).shape == (1, 3)


# --- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,arg", [
    (dict(mode="mean"), "mode"), (dict(layout="NWHC"), "layout"), (dict(padding="full"), "padding"),
    (dict(pool_size=0), "pool_size"), (dict(pool_size=(2, -1)), "pool_size"),
    (dict(pool_size=2.5), "pool_size"), (dict(stride=0), "stride"), (dict(dilation=0), "dilation"),
    (dict(padding=-1), "padding"), (dict(padding=((1, -1), (0, 0))), "padding"),
    (dict(padding=(1, 0, 1, 0)), "padding"), (dict(padding=True), "padding"),
    (dict(ceil_mode="yes"), "ceil_mode"), (dict(count_include_pad=None), "count_include_pad"),
    (dict(p=0), "p"), (dict(p=float("inf")), "p"),
    (dict(X=np.zeros(4)), "X"), (dict(X=np.zeros((1, 1, 1, 4, 4))), "X"),
    (dict(X=np.zeros((4, 4), complex)), "X"), (dict(X=np.zeros((4, 4), bool)), "X"),
    (dict(X=[["a", "b"], ["c", "d"]]), "X"), (dict(X=np.zeros((1, 1, 0, 4))), "X"),
    (dict(pool_size=5), "pool_size"), (dict(pool_size=2, dilation=4), "pool_size"),
    (dict(pool_size=2, padding=3), "padding"),
    (dict(pool_size=1, stride=1, padding=((0, 0), (0, 2))), "padding"),
], ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={v[k]!r}"[:24] for k in v))
def test_invalid_argument_names_itself(kwargs, arg):
    call = dict(X=np.zeros((1, 1, 4, 4)), pool_size=2)
    call.update(kwargs)
    with pytest.raises(px.PoolingError, match=rf"^{arg}: got .*; allowed: "):
        px.pool2d(call.pop("X"), call.pop("pool_size"), **call)


def test_pooling_error_is_a_value_error():
    assert issubclass(px.PoolingError, ValueError)


# --- exercise 3: cost ---------------------------------------------------------------------------

def test_pool_cost_counts_reads_and_operations():
    cost = px.pool_cost((3, 4, 4), 3, "avg", padding=1, stride=1)
    windows = 3 * 4 * 4
    assert cost.output_shape == (3, 4, 4)
    assert (cost.windows, cost.reads, cost.operations) == (windows, windows * 9, windows * 9)
    assert px.pool_cost((3, 4, 4), 3, "max", padding=1).operations == windows * 8


# --- differential check against the brute force -------------------------------------------------

PADDINGS = st.one_of(
    st.sampled_from(["valid", "same", "same_lower", "SAME"]),
    st.integers(0, 3),
    st.tuples(st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.tuples(st.integers(0, 4), st.integers(0, 4)),
              st.tuples(st.integers(0, 4), st.integers(0, 4))),
)
SIZES = st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4)))


@st.composite
def pooling_problems(draw):
    layout = draw(st.sampled_from(LAYOUTS))
    rank = draw(st.integers(2, 4))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    lead = [draw(st.integers(1, 2)) for _ in range(rank - 2)]
    shape = lead + [h, w] if layout == "NCHW" or rank == 2 else lead[:-1] + [h, w] + lead[-1:]
    dtype = draw(st.sampled_from(["float32", "float64", "float16", "int32"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(-9, 10, size=shape).astype(dtype)
    if dtype.startswith("float") and draw(st.booleans()):
        flat = x.reshape(-1)
        for value in draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf]), max_size=3)):
            flat[rng.integers(flat.size)] = value
    kwargs = dict(mode=draw(st.sampled_from(["max", "avg", "min", "lp"])),
                  stride=draw(SIZES.filter(lambda s: s != 4)), padding=draw(PADDINGS),
                  dilation=draw(st.sampled_from([1, 2, (1, 2)])), ceil_mode=draw(st.booleans()),
                  count_include_pad=draw(st.booleans()), layout=layout,
                  p=draw(st.sampled_from([1.0, 2.0, 3.0])))
    return x, draw(SIZES), kwargs


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(pooling_problems())
def test_reference_matches_brute_force(problem):
    x, pool_size, kwargs = problem
    try:
        expected = brute.pool(x, pool_size, **kwargs)
    except brute.Invalid:
        with pytest.raises(px.PoolingError):
            px.pool2d(x, pool_size, **kwargs)
        return
    out = px.pool2d(x, pool_size, **kwargs)
    assert out.shape == expected.shape
    if kwargs["mode"] in ("max", "min"):
        assert out.dtype == x.dtype
        np.testing.assert_array_equal(out, expected.astype(x.dtype))
    else:
        rtol = 2e-3 if x.dtype == np.float16 else 1e-5
        np.testing.assert_allclose(out.astype(np.float64), expected, rtol=rtol, atol=rtol)
