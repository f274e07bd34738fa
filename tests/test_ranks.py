"""1-D and 3-D pooling: the reference, its gradient, adaptive and global pooling held to the
brute force (which walks each window of any number of axes), and the rules a rank adds to the
arguments (one size per axis, padding spellings, the layouts of each rank)."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pooling_xfw as px
from pooling_xfw import reference

from . import brute

DATA = Path(__file__).parent / "data"
LAYOUTS = {1: ("NCW", "NWC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}
POOL = {1: px.pool1d, 2: px.pool2d, 3: px.pool3d}
GRAD = {1: px.pool1d_grad, 2: px.pool2d_grad, 3: px.pool3d_grad}
ADAPTIVE = {1: px.adaptive_pool1d, 2: px.adaptive_pool2d, 3: px.adaptive_pool3d}
GLOBAL = {1: px.global_pool1d, 2: px.global_pool2d, 3: px.global_pool3d}
#: spatial lengths drawn per rank: the brute force walks every window, so 3-D stays small
LENGTHS = {1: (1, 12), 2: (1, 8), 3: (2, 6)}


def _shape(draw, rank: int, layout: str) -> tuple[int, ...]:
    """A shape in ``layout``: the spatial axes, with N and C, only C, or neither."""
    spatial = [draw(st.integers(*LENGTHS[rank])) for _ in range(rank)]
    lead = draw(st.sampled_from([(), (2,), (2, 3)]))
    if not lead:
        return tuple(spatial)
    channels = lead[-1]
    return (*lead[:-1], *spatial, channels) if layout.endswith("C") else (*lead, *spatial)


def _per_axis(draw, rank: int, values):
    """An int, or one per axis."""
    return draw(st.one_of(values, st.tuples(*[values] * rank)))


def _padding(draw, rank: int):
    return draw(st.one_of(
        st.sampled_from(["valid", "same", "same_lower", "SAME"]),
        st.integers(0, 1),
        st.tuples(*[st.integers(0, 1)] * rank),
        st.tuples(*[st.tuples(st.integers(0, 2), st.integers(0, 2))] * rank)))


def draw_input(draw, rank: int, largest: int = 9, specials: int = 3):
    """A layout of ``rank`` and an input in it: integers in [-largest, largest] in a float or
    int32 dtype, a float one half the time with up to ``specials`` NaN and infinities."""
    layout = draw(st.sampled_from(LAYOUTS[rank]))
    shape = _shape(draw, rank, layout)
    dtype = draw(st.sampled_from(["float32", "float64", "float16", "int32"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(-largest, largest + 1, size=shape).astype(dtype)
    if dtype.startswith("float") and draw(st.booleans()):
        flat = x.reshape(-1)
        for value in draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf]),
                                   max_size=specials)):
            flat[rng.integers(flat.size)] = value
    return layout, x


@st.composite
def problems(draw, rank: int):
    layout, x = draw_input(draw, rank)
    kwargs = dict(mode=draw(st.sampled_from(["max", "avg", "min", "lp"])),
                  stride=_per_axis(draw, rank, st.integers(1, 3)), padding=_padding(draw, rank),
                  dilation=_per_axis(draw, rank, st.integers(1, 2)),
                  ceil_mode=draw(st.sampled_from([False, True, "keep"])),
                  count_include_pad=draw(st.booleans()),
                  layout=layout, p=draw(st.sampled_from([1.0, 2.0, 3.0])))
    kwargs.update(draw_divisor(draw, kwargs["mode"]))
    kwargs.update(draw_empty_windows(draw, rank))
    return x, _per_axis(draw, rank, st.integers(1, 3)), kwargs


def draw_empty_windows(draw, rank: int) -> dict:
    """A fifth of the problems allow windows of padding only, with pads up to 4 on a side
    (wider than the windows drawn, up to 3)."""
    if draw(st.integers(0, 4)):
        return {}
    return dict(allow_empty_windows=True, padding=draw(
        st.tuples(*[st.tuples(st.integers(0, 4), st.integers(0, 4))] * rank)))


def draw_divisor(draw, mode: str) -> dict:
    """Half of the avg problems divide by a divisor: PyTorch's rule or Paddle's, negative and
    0 included (0 is refused by the first and gives inf by the second)."""
    if mode != "avg" or not draw(st.booleans()):
        return {}
    return dict(divisor=draw(st.sampled_from([1, 2, 3, -2, 0])),
                divisor_of=draw(st.sampled_from(["sum", "mean"])))


def check_pool(rank: int, problem) -> None:
    """``px.pool{rank}d`` (and ``px.pool``) of a drawn problem against the brute force: the
    same refusals, max/min exactly in the input's dtype, avg/lp within rounding."""
    x, pool_size, kwargs = problem
    try:
        expected = brute.pool(x, pool_size, **kwargs)
    except brute.Invalid:
        with pytest.raises(px.PoolingError):
            POOL[rank](x, pool_size, **kwargs)
        return
    out = POOL[rank](x, pool_size, **kwargs)
    np.testing.assert_array_equal(out, px.pool(x, pool_size, **kwargs))  # the generic form
    assert out.shape == expected.shape
    if kwargs["mode"] in ("max", "min"):
        assert out.dtype == x.dtype
        if x.dtype.kind == "i":  # a window of no cell: the integer's lowest (highest for min)
            info = np.iinfo(x.dtype)
            expected = np.where(np.isneginf(expected), info.min,
                                np.where(np.isposinf(expected), info.max, expected))
        np.testing.assert_array_equal(out, expected.astype(x.dtype))
    else:
        rtol = 2e-3 if x.dtype == np.float16 else 1e-5
        np.testing.assert_allclose(out.astype(np.float64), expected, rtol=rtol, atol=rtol)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(problems(1))
def test_pool1d_matches_brute_force(problem):
    check_pool(1, problem)


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(problems(3))
def test_pool3d_matches_brute_force(problem):
    check_pool(3, problem)


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rank=st.sampled_from([1, 2, 3]), data=st.data())
def test_pooled_one_plane_at_a_time_the_numbers_are_the_same(monkeypatch, rank, data):
    """The reference pools an input a few (N, C) planes at a time (``CHUNK_BYTES``, half the
    core's L2 cache): with chunks of one plane, every problem still gives the brute force's
    numbers and refusals, in either layout."""
    monkeypatch.setattr(reference, "CHUNK_BYTES", 1)
    check_pool(rank, data.draw(problems(rank)))


def _check_grad(rank: int, problem, ties: str) -> None:
    x, pool_size, kwargs = problem
    if kwargs.get("divisor") == 0:
        return  # refused, or inf: the forward test's
    x = x.astype(np.float64)
    try:
        out = brute.pool(x, pool_size, **kwargs)
    except brute.Invalid:
        return  # refusals are the forward test's
    up = np.random.default_rng(0).integers(1, 5, size=out.shape).astype(np.float64)
    expected = brute.pool_grad(x, up, pool_size, ties=ties, **kwargs)
    grad = GRAD[rank](x, pool_size, grad_output=up, ties=ties, **kwargs)
    np.testing.assert_allclose(grad, expected, rtol=1e-9, atol=1e-12)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(problems(1), st.sampled_from(["first", "split", "all"]))
def test_pool1d_grad_matches_brute_force(problem, ties):
    _check_grad(1, problem, ties)


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(problems(3), st.sampled_from(["first", "split", "all"]))
def test_pool3d_grad_matches_brute_force(problem, ties):
    _check_grad(3, problem, ties)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(rank=st.sampled_from([1, 3]), data=st.data())
def test_adaptive_and_global_pooling_match_brute_force(rank, data):
    layout = data.draw(st.sampled_from(LAYOUTS[rank]))
    shape = _shape(data.draw, rank, layout)
    x = np.random.default_rng(data.draw(st.integers(0, 99))).normal(size=shape)
    mode = data.draw(st.sampled_from(["max", "avg"]))
    size = data.draw(st.tuples(*[st.one_of(st.none(), st.integers(0, 6))] * rank))
    np.testing.assert_allclose(ADAPTIVE[rank](x, size, mode, layout=layout),
                               brute.adaptive(x, size, mode, layout), rtol=1e-12)
    whole = brute.adaptive(x, (1,) * rank, mode, layout)
    np.testing.assert_allclose(GLOBAL[rank](x, mode, layout=layout), whole, rtol=1e-12)
    dropped = GLOBAL[rank](x, mode, layout=layout, keepdims=False)
    assert dropped.shape == tuple(n for axis, n in enumerate(x.shape)
                                  if axis not in _spatial(x.ndim, rank, layout))


ADAPTIVE_GRAD = {1: px.adaptive_pool1d_grad, 2: px.adaptive_pool2d_grad,
                 3: px.adaptive_pool3d_grad}


@settings(max_examples=300, deadline=None, derandomize=True)
@given(rank=st.sampled_from([1, 2, 3]), data=st.data())
def test_adaptive_pooling_gradient_matches_brute_force(rank, data):
    """Bins that share cells (7 -> 3), outputs larger than the input and of size 0, None
    keeping an axis, ties (values drawn from a few integers), NaN, each ``ties`` policy, both
    layouts: ``px.adaptive_pool{rank}d_grad`` against the bin-by-bin definition."""
    layout = data.draw(st.sampled_from(LAYOUTS[rank]))
    shape = _shape(data.draw, rank, layout)
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    x = rng.integers(-2, 3, size=shape).astype(np.float64)
    if data.draw(st.booleans()):
        x.flat[rng.integers(0, x.size)] = np.nan
    mode = data.draw(st.sampled_from(["max", "avg"]))
    ties = data.draw(st.sampled_from(["first", "split", "all"]))
    size = data.draw(st.tuples(*[st.one_of(st.none(), st.integers(0, 7))] * rank))
    out = ADAPTIVE[rank](x, size, mode, layout=layout)
    up = rng.integers(1, 5, size=out.shape).astype(np.float64)
    grad = ADAPTIVE_GRAD[rank](x, size, mode, grad_output=up, ties=ties, layout=layout)
    assert grad.shape == x.shape and grad.dtype == x.dtype
    np.testing.assert_allclose(grad, brute.adaptive_grad(x, up, size, mode, layout, ties),
                               rtol=1e-12, atol=1e-12)


def _spatial(ndim: int, rank: int, layout: str) -> range:
    first = ndim - rank - (1 if layout.endswith("C") and ndim > rank else 0)
    return range(first, first + rank)


# --- what a rank adds to the arguments ----------------------------------------------------------

def test_a_bare_pair_is_ambiguous_padding_for_one_axis():
    with pytest.raises(px.PoolingError, match=r"padding: .*ambiguous.*\(\(1, 0\),\)"):
        px.pool1d(np.zeros((1, 1, 5)), 2, padding=(1, 0))
    np.testing.assert_array_equal(px.pool1d(np.arange(5.0), 2, stride=2, padding=((1, 0),)),
                                  [0, 2, 4])


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("padding", ["int", "per axis", "pairs"])
def test_every_padding_spelling_means_the_same_pads(rank, padding):
    x = np.arange(5.0 ** rank).reshape((5,) * rank)
    given = {"int": 1, "per axis": (1,) * rank, "pairs": ((1, 1),) * rank}[padding]
    np.testing.assert_array_equal(POOL[rank](x, 3, "avg", padding=given),
                                  POOL[rank](x, 3, "avg", padding=((1, 1),) * rank))


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("other", [1, 2, 3])
def test_each_rank_takes_only_its_own_layouts(rank, other):
    layout = LAYOUTS[other][0]
    x = np.zeros((2,) * (other + 2))
    if other == rank:
        POOL[rank](x, 1, layout=layout)
        return
    allowed = " or ".join(f"'{a}'" for a in LAYOUTS[rank])
    with pytest.raises(px.PoolingError, match=f"layout: got '{layout}'; allowed: {allowed}"):
        POOL[rank](x, 1, layout=layout)


@pytest.mark.parametrize("rank", [1, 3])
@pytest.mark.parametrize("arg", ["pool_size", "stride", "dilation"])
def test_a_size_with_the_wrong_number_of_axes_names_the_argument(rank, arg):
    wrong = (2,) * (rank + 1)
    kwargs = {"pool_size": 1, arg: wrong}
    with pytest.raises(px.PoolingError, match=re.escape(f"{arg}: got {wrong}; allowed: an int")):
        POOL[rank](np.zeros((3,) * rank), **kwargs)


def test_an_input_of_the_wrong_rank_names_x_and_the_ranks_allowed():
    with pytest.raises(px.PoolingError, match=r"X: got .*rank 6.*rank 3 \(D, H, W\), 4 \(C, D, "
                                              r"H, W\) / \(D, H, W, C\), or 5"):
        px.pool3d(np.zeros((1,) * 6), 1)


def test_output_shape_resolve_padding_and_cost_take_any_rank():
    stem = dict(stride=(1, 2, 2), padding=(0, 1, 1), layout="NCDHW")
    assert px.output_shape((2, 64, 16, 56, 56), (1, 3, 3), **stem) == (2, 64, 16, 28, 28)
    assert px.resolve_padding((8, 64, 16000), 4, stride=4, padding="same",
                              layout="NCW") == ((0, 0),)
    cost = px.pool_cost((8, 64, 16000), 4, stride=4, layout="NCW")
    assert (cost.windows, cost.reads) == (8 * 64 * 4000, 8 * 64 * 4000 * 4)


# --- the ONNX backend node tests of 1-D and 3-D pooling ---------------------------------------
# tests/data/onnx_node_pool.{json,npz}: every 1-D and 3-D MaxPool, AveragePool and LpPool case of
# onnx 1.23.2's onnx/backend/test/case/node/{maxpool,averagepool,lppool}.py, with the expected
# output onnx's own helper computes (regenerated by tests/data/make_onnx_node_pool.py)

NODE_TESTS = json.loads((DATA / "onnx_node_pool.json").read_text())
MODES = {"MaxPool": "max", "AveragePool": "avg", "LpPool": "lp"}


def _node_input(case: dict, stored) -> np.ndarray:
    if case["input"] == "stored":
        return stored[case["name"] + "/input"]
    stream = np.random.RandomState(NODE_TESTS["seed"])
    for shape in case["draws"]:
        x = stream.randn(*shape)
    return x.astype(case["dtype"])


def _node_kwargs(op: str, attributes: dict, rank: int) -> dict:
    """The node's attributes as ``px.pool``'s keywords, ONNX's defaults spelled out (strides and
    dilations 1, no pads, ``count_include_pad=0``, ``p=2``)."""
    pads = attributes.get("pads", [0] * 2 * rank)
    return dict(mode=MODES[op], stride=tuple(attributes.get("strides", [1] * rank)),
                padding=tuple(zip(pads[:rank], pads[rank:])),
                dilation=tuple(attributes.get("dilations", [1] * rank)),
                ceil_mode=bool(attributes.get("ceil_mode", 0)),
                count_include_pad=bool(attributes.get("count_include_pad", 0)),
                p=attributes.get("p", 2), layout=LAYOUTS[rank][0])


@pytest.mark.parametrize("case", NODE_TESTS["cases"], ids=lambda case: case["name"])
def test_reference_gives_the_onnx_node_tests_outputs(case):
    stored = np.load(DATA / "onnx_node_pool.npz")
    x = _node_input(case, stored)
    rank = x.ndim - 2
    kwargs = _node_kwargs(case["op"], case["attributes"], rank)
    out = px.pool(x, tuple(case["attributes"]["kernel_shape"]), **kwargs)
    expected = stored[case["name"] + "/output"]
    assert out.shape == expected.shape and out.dtype == expected.dtype
    if kwargs["mode"] == "max":
        np.testing.assert_array_equal(out, expected)
    else:
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
