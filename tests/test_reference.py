"""The numpy reference, specified: the chapter, the conventions, special values, errors."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pooling_xfw as px
from pooling_xfw import textbook

from . import brute
from .test_ranks import check_pool

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


# --- the range of the dtype: no overflow where the true result is finite ----------------------

F64, F32 = np.finfo(np.float64).max, np.finfo(np.float32).max


@pytest.mark.parametrize("x,pool_size,kwargs,expected", [
    # the mean of equal values is that value, even when their sum is beyond the dtype's range
    (np.full((1, 1, 2, 2), 1e308), 2, {}, [[1e308]]),
    (np.full((2, 2), F64), 2, {}, [[F64]]),
    (np.full((2, 2), F32, np.float32), 2, {}, [[F32]]),
    # a partial sum beyond the range (M + M) cancels: the mean is 0
    (np.array([[F64, F64], [-F64, -F64]]), 2, {}, [[0.0]]),
    # padding counted: the corner windows hold 1 of 4 cells, edge ones 2 of 4, the middle 4
    (np.full((2, 2), F64), 2, dict(padding=1),
     [[F64 / 4, F64 / 2, F64 / 4], [F64 / 2, F64, F64 / 2], [F64 / 4, F64 / 2, F64 / 4]]),
    # a large window beside an ordinary one: the ordinary one keeps its exact mean
    (np.array([[F64, F64, 1.0, 2.0]]), (1, 2), dict(stride=2), [[F64, 1.5]]),
    # a window whose sum overflows, then meets -inf: the mean is -inf, not NaN (inf - inf)
    (np.array([[F64, F64, -np.inf]]), (1, 3), {}, [[-np.inf]]),
], ids=["1e308", "float64-max", "float32-max", "cancelling", "padding-counted",
        "beside-ordinary", "overflowing-then-minus-inf"])
def test_avg_is_finite_wherever_the_mean_is(x, pool_size, kwargs, expected):
    out = px.pool2d(x, pool_size, "avg", **kwargs)
    np.testing.assert_array_equal(out.reshape(np.shape(expected)), np.array(expected, x.dtype))


@pytest.mark.parametrize("x,p,expected", [
    # 3-4-5: sqrt(3**2 + 4**2) * scale, whose squares are beyond (or below) the dtype's range
    (np.array([[3e200, -4e200]]), 2, 5e200),
    (np.array([[3e-200, 4e-200]]), 2, 5e-200),
    (np.array([[3e20, 4e20]], np.float32), 2, 5e20),
    (np.array([[3e-30, -4e-30]], np.float32), 2, 5e-30),
    # one cell: (|v|**p)**(1/p) = |v|, for the largest value and a subnormal one
    (np.array([[-F64]]), 3, F64),
    (np.array([[5e-324]]), 2, 5e-324),
    # the exact p-norm: (8 * (2**1000)**3)**(1/3) = 2 * 2**1000 = 2**1001
    (np.full((2, 4), 2.0**1000), 3, 2.0**1001),
    # beyond the range the p-norm is inf: |F64| + |F64| (p=1)
    (np.array([[F64, F64]]), 1, np.inf),
], ids=["float64-huge", "float64-tiny", "float32-huge", "float32-tiny", "one-cell-max",
        "one-cell-subnormal", "cube-root", "beyond-range"])
def test_lp_is_finite_wherever_the_p_norm_is(x, p, expected):
    out = px.pool2d(x, x.shape, "lp", p=p)
    assert out.dtype == x.dtype
    np.testing.assert_allclose(out[0, 0], np.array(expected, x.dtype),
                               rtol=4 * np.finfo(x.dtype).eps)


def test_float16_avg_of_the_largest_float16_values():
    # float16 sums in float32, where 4 * 65504 is ordinary: the mean is 65504, not inf
    x = np.full((2, 2), np.finfo(np.float16).max, np.float16)
    assert px.pool2d(x, 2, "avg")[0, 0] == np.finfo(np.float16).max


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
    (dict(X=np.zeros((4, 4), np.longdouble)), "X"),
    (dict(stride=10**30), "stride"), (dict(pool_size=(2, 2**63)), "pool_size"),
    (dict(dilation=np.uint64(2**63)), "dilation"), (dict(padding=((0, 2**63), (0, 0))), "padding"),
    (dict(padding=2**62), "padding"), (dict(padding=10**9), "padding"),
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


def test_longdouble_is_refused_naming_the_dtype_and_the_allowed_ones():
    # numpy's extended precision (float128 on x86-64) has no framework counterpart
    x = np.arange(16, dtype=np.longdouble).reshape(4, 4)
    allowed = r"; allowed: integer or real floating arrays \(.*float16/32/64\)$"
    with pytest.raises(px.PoolingError, match=rf"^X: got dtype {np.dtype(np.longdouble)}{allowed}"):
        px.pool2d(x, 2, "avg")
    with pytest.raises(px.PoolingError, match=r"^X: got dtype "):
        px.compare(x, 2, "avg", backends=["pytorch"], pool=object())  # before any backend


# --- sizes are bounded before anything is allocated ----------------------------------------------

@pytest.mark.parametrize("pool_size,kwargs,message", [
    # pads of 10**9 read by a window dilated to 2 * 10**9 + 1 cells, on a 4x4 float64 plane:
    # (4 + 2 * 10**9)**2 cells * 8 bytes = 3.2e19 bytes
    (3, dict(padding=10**9, dilation=10**9),
     r"^padding: got 1000000000; the padded input 1 x 1 x 2000000004 x 2000000004 of float64 "
     r"would need 32\.0 EB, more than this machine's memory \(.*\); allowed: "),
    # per side, with windows long enough to reach the input:
    # (4 + 10**9) * (4 + 10**9 + 2) cells of 8 bytes = 8.0e18 bytes
    ((10**9 + 1, 10**9 + 3), dict(padding=((10**9, 0), (0, 10**9 + 2))),
     r"^padding: got \(\(1000000000, 0\), \(0, 1000000002\)\); the padded input "
     r"1 x 1 x 1000000004 x 1000000006 of float64 would need 8\.0 EB"),
    # 'same' pads a window of extent 2 * 10**9 + 1 with (4 - 1) + 2 * 10**9 + 1 - 4 cells
    (3, dict(padding="same", dilation=10**9), r"^padding: got 'same'; the padded input "
     r"1 x 1 x 2000000004 x 2000000004 of float64 would need 32\.0 EB"),
    # int64 overflow: a padded length beyond 2**63 - 1 cells (4 + 2 * 2**62)
    (3, dict(padding=(2**62, 0)), r"^padding: got \(4611686018427387904, 0\); along H the "
     r"padded input would be 9223372036854775812 cells; allowed: .*2\*\*63"),
    (3, dict(stride=10**30), r"^stride: got 10{30}; allowed: an int >= 1 and < 2\*\*63"),
], ids=["padding-1e9", "per-side-pads", "same-huge-dilation", "padded-beyond-int64",
        "stride-beyond-int64"])
def test_sizes_beyond_memory_or_int64_are_refused(pool_size, kwargs, message):
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(px.PoolingError, match=message):
        px.pool2d(x, pool_size, "avg", **kwargs)
    with pytest.raises(px.PoolingError, match=message):  # before any backend starts:
        px.compare(x, pool_size, "avg", backends=["pytorch"], pool=object(), **kwargs)


def test_pads_of_only_padding_windows_are_refused_without_allocating():
    # 10**9 pads and a 3-cell window: window 0 reads only padding (once: a MemoryError)
    with pytest.raises(px.PoolingError, match=r"^padding: got .* window 0 reads only padding"):
        px.pool2d(np.zeros((1, 1, 4, 4)), 3, padding=10**9)


@pytest.mark.parametrize("stride", [10**9, 2**63 - 1], ids=["1e9", "int64-max"])
def test_a_huge_stride_takes_one_window(stride):
    x = np.arange(16.0).reshape(4, 4)
    np.testing.assert_array_equal(px.pool2d(x, 3, stride=stride), [[10.0]])  # max of x[:3, :3]


def test_output_shape_is_arithmetic_and_takes_any_int64_size():
    # nothing is allocated: only the padded input of an actual pooling has to fit in memory
    # a window of 10**9 + 1 cells over 10**9 pads a side: 4 + 2 * 10**9 - 10**9 windows
    assert px.output_shape((1, 1, 4, 4), 10**9 + 1, padding=10**9) == (1, 1, 10**9 + 4,
                                                                        10**9 + 4)
    assert px.output_shape((4, 4), (1, 4), stride=(1, 2**63 - 1)) == (4, 1)


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


def draw_layout_and_shape(draw) -> tuple[str, list[int]]:
    """A layout and a shape of rank 2 to 4 in it: H and W in 1..7, the other axes 1 or 2."""
    layout = draw(st.sampled_from(LAYOUTS))
    rank = draw(st.integers(2, 4))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    lead = [draw(st.integers(1, 2)) for _ in range(rank - 2)]
    shape = lead + [h, w] if layout == "NCHW" or rank == 2 else lead[:-1] + [h, w] + lead[-1:]
    return layout, shape


@st.composite
def pooling_problems(draw):
    layout, shape = draw_layout_and_shape(draw)
    dtype = draw(st.sampled_from(["float32", "float64", "float16", "int32"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(-9, 10, size=shape).astype(dtype)
    if dtype.startswith("float"):
        draw_special_values(draw, x, rng)
    kwargs = draw_pooling_kwargs(draw, layout, [1.0, 2.0, 3.0])
    return x, draw(SIZES), kwargs


def draw_special_values(draw, x: np.ndarray, rng) -> None:
    """Sometimes up to three NaN or infinities, written into ``x`` (a float array) in place."""
    if draw(st.booleans()):
        flat = x.reshape(-1)
        for value in draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf]), max_size=3)):
            flat[rng.integers(flat.size)] = value


def draw_pooling_kwargs(draw, layout: str, p_values) -> dict:
    """``px.pool2d``'s keywords past the window: every mode, padding, dilation and convention
    (``p`` from ``p_values``), valid or not for the input (the caller decides what to do)."""
    from .test_ranks import draw_divisor

    mode = draw(st.sampled_from(["max", "avg", "min", "lp"]))
    return dict(mode=mode, stride=draw(SIZES.filter(lambda s: s != 4)), padding=draw(PADDINGS),
                dilation=draw(st.sampled_from([1, 2, (1, 2)])), ceil_mode=draw(st.booleans()),
                count_include_pad=draw(st.booleans()), layout=layout,
                p=draw(st.sampled_from(p_values)), **draw_divisor(draw, mode))


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(pooling_problems())
def test_reference_matches_brute_force(problem):
    check_pool(2, problem)


# values near both ends of each dtype's range (and mixed in one window), held to the exact
# brute force: small integers times a power of two, so no result sits on a rounding boundary
EXPONENTS = {"float64": [-1070, -1030, -600, 0, 600, 1018],
             "float32": [-146, -130, -70, 0, 60, 122], "float16": [-24, -14, 0, 12]}


@st.composite
def extreme_problems(draw):
    dtype = draw(st.sampled_from(sorted(EXPONENTS)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    exponents = rng.choice(EXPONENTS[dtype], size=shape)
    x = np.ldexp(rng.integers(-9, 10, size=shape).astype(np.float64), exponents).astype(dtype)
    kwargs = dict(mode=draw(st.sampled_from(["avg", "lp"])), stride=draw(SIZES),
                  padding=draw(PADDINGS), dilation=draw(st.sampled_from([1, 2])),
                  ceil_mode=draw(st.booleans()), count_include_pad=draw(st.booleans()),
                  p=draw(st.sampled_from([0.5, 1.0, 2.0, 3.0])))
    return x, draw(SIZES), kwargs


# the reference's own rounding, relative to each window's magnitude (sum |x| / divisor for avg,
# the p-norm itself for lp): a few float32/float64 sums and powers; float16's one rounding of a
# float32 result
EXTREME_RTOL = {"float16": 2 * 2.0**-10, "float32": 16 * 2.0**-23, "float64": 16 * 2.0**-52}


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(extreme_problems())
def test_reference_matches_exact_brute_force_at_the_ends_of_the_range(problem):
    x, pool_size, kwargs = problem
    try:
        expected = brute.pool(x, pool_size, **kwargs)
    except brute.Invalid:
        return  # invalid geometries are the other brute-force test's business
    out = px.pool2d(x, pool_size, **kwargs)
    magnitude = (brute.pool(np.abs(x), pool_size, **kwargs) if kwargs["mode"] == "avg"
                 else expected)
    rtol = EXTREME_RTOL[x.dtype.name]
    atol = float(np.finfo(x.dtype).smallest_subnormal)
    with np.errstate(over="ignore"):
        same = out == expected.astype(x.dtype)  # inf where the true result is beyond the dtype
    close = np.abs(out.astype(np.float64) - expected) <= rtol * magnitude + atol
    assert (same | close).all(), (out[~(same | close)], expected[~(same | close)])


# --- every spatial axis alike ---------------------------------------------------------------------

def _one_axis(n: int, k: int, s: int, d: int, pads: tuple[int, int], ceil: bool):
    from pooling_xfw.spec import _resolve_axis

    return _resolve_axis("W", n, k, s, d, pads, ceil)


@pytest.mark.parametrize("padding", [0, (1, 2), ((2, 0), (0, 1)), "same", "same_lower"],
                         ids=["no-pad", "pads-1-2", "asymmetric", "same", "same-lower"])
@pytest.mark.parametrize("ceil_mode", [False, True], ids=["floor", "ceil"])
def test_a_geometry_is_one_rule_per_axis(padding, ceil_mode):
    """``resolve`` applies one per-axis rule to each spatial axis in turn: the geometry's axes
    are each axis resolved alone, named D, H, W by rank."""
    from pooling_xfw.layout import axis_names

    spec = px.make_spec((3, 2), stride=(2, 1), padding=padding, dilation=(1, 2),
                        ceil_mode=ceil_mode)
    geom = px.resolve(spec, (1, 1, 11, 8))
    resolved = px.resolve_padding((1, 1, 11, 8), (3, 2), stride=(2, 1), padding=padding,
                                  dilation=(1, 2), ceil_mode=ceil_mode)
    assert geom.axes == tuple(_one_axis(n, k, s, d, p, ceil_mode) for n, k, s, d, p in zip(
        (11, 8), (3, 2), (2, 1), (1, 2), resolved))
    assert geom.out == tuple(g.out for g in geom.axes) == px.output_shape(
        (11, 8), (3, 2), stride=(2, 1), padding=padding, dilation=(1, 2), ceil_mode=ceil_mode)
    assert axis_names(1) == ("W",) and axis_names(2) == ("H", "W") and axis_names(3) == (
        "D", "H", "W")


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("count_include_pad", [True, False], ids=["count-pad", "real-cells"])
def test_the_divisor_of_any_number_of_axes_counts_each_windows_cells(rank, count_include_pad):
    """A geometry of 1, 2 or 3 axes divides each window by the cells it reads (padding counted
    or not), counted here by sliding the window over a padded array of ones, cell by cell."""
    import dataclasses
    import itertools

    from pooling_xfw.spec import Geometry

    shapes = ((8, 3, 2, 1, (1, 1), True), (6, 2, 2, 2, (1, 0), False), (5, 3, 1, 1, (0, 1), True))
    axes = tuple(_one_axis(*a) for a in shapes[:rank])
    spec = dataclasses.replace(px.make_spec(2), count_include_pad=count_include_pad)
    divisor = Geometry(spec, axes).divisor()
    assert divisor.shape == tuple(g.out for g in axes)
    padded = [g.pad_before + g.size + g.pad_after for g in axes]
    beyond = [(0, max(0, g.reach - n)) for g, n in zip(axes, padded)]  # the ceil overhang
    counted = np.pad(np.ones(padded), beyond)  # padding counted, the overhang past it not
    real = np.pad(np.pad(np.ones([g.size for g in axes]),
                         [(g.pad_before, g.pad_after) for g in axes]), beyond)
    for index in itertools.product(*(range(g.out) for g in axes)):
        window = tuple(slice(i * g.stride, i * g.stride + g.extent, g.dilation)
                       for i, g in zip(index, axes))
        expected = (counted if count_include_pad else real)[window].sum()
        assert divisor[index] == expected, (index, divisor[index], expected)
