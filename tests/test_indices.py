"""Max and min pooling with the argmax of each window, the frameworks' index conventions, and
unpooling: the reference held to a window-by-window brute force at every rank (hypothesis), to
the index numbers the frameworks give on the measured cases (``../notes/wave3-semantics.md``
sections 2 and 3), and unpooling as the inverse scatter."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pooling_xfw as px
from pooling_xfw.layout import spatial_axes

from . import brute
from .test_ranks import LAYOUTS, _padding, _per_axis, _shape, draw_input

WITH = {1: px.pool1d_with_indices, 2: px.pool2d_with_indices, 3: px.pool3d_with_indices}
UNPOOL = {1: px.max_unpool1d, 2: px.max_unpool2d, 3: px.max_unpool3d}
NAN = np.nan
#: the note's input: 2x2 channels of P + 10*(n*C + c), 4x4, with ties, a NaN and a 3-way tie
P = np.array([[1, 3, 3, 0], [2, 3, 1, NAN], [5, 5, 0, 2], [5, 4, 2, 1]], np.float32)
X = np.stack([np.stack([P + 10 * (n * 2 + c) for c in range(2)]) for n in range(2)])


@st.composite
def problems(draw, rank: int):
    layout, x = draw_input(draw, rank, largest=3, specials=4)  # few values: many ties
    kwargs = dict(stride=_per_axis(draw, rank, st.integers(1, 3)),
                  padding=_padding(draw, rank),
                  dilation=_per_axis(draw, rank, st.integers(1, 2)),
                  ceil_mode=draw(st.sampled_from([False, True, "keep"])), layout=layout)
    if not draw(st.integers(0, 3)):
        kwargs.update(allow_empty_windows=True, padding=draw(st.tuples(
            *[st.tuples(st.integers(0, 3), st.integers(0, 3))] * rank)))
    return x, _per_axis(draw, rank, st.integers(1, 3)), draw(st.sampled_from(["max", "min"])), \
        kwargs


def _planes(a, rank, layout):
    """``a`` as a list of its spatial planes, channels first."""
    if layout.endswith("C") and a.ndim > rank:
        a = np.moveaxis(a, -1, -rank - 1)
    return a.reshape((-1,) + a.shape[-rank:])


def check(rank, problem):
    x, k, mode, kwargs = problem
    layout = kwargs["layout"]
    brute_kwargs = {key: v for key, v in kwargs.items() if key != "layout"}
    try:
        expected = [brute.argpool_plane(p.astype(np.float64), k, mode, **brute_kwargs)
                    for p in _planes(x, rank, layout)]
    except brute.Invalid:
        with pytest.raises(px.PoolingError):
            WITH[rank](x, k, mode, **kwargs)
        return
    values, indices = WITH[rank](x, k, mode, **kwargs)
    np.testing.assert_array_equal(values, px.pool(x, k, mode, **kwargs))
    assert indices.dtype == np.int64 and indices.shape == values.shape
    got = _planes(indices, rank, layout)
    np.testing.assert_array_equal(got, np.stack(expected))
    # every convention round-trips through the others
    for convention in px.INDEX_CONVENTIONS:
        other = px.convert_indices(indices, x.shape, layout=layout, source="plane",
                                   target=convention)
        _, direct = WITH[rank](x, k, mode, indices=convention, **kwargs)
        np.testing.assert_array_equal(other, direct)
        np.testing.assert_array_equal(px.convert_indices(other, x.shape, layout=layout,
                                                         source=convention, target="plane"),
                                      indices)


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(rank=st.sampled_from([1, 2, 3]), data=st.data())
def test_indices_match_brute_force_at_every_rank(rank, data):
    check(rank, data.draw(problems(rank)))


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(rank=st.sampled_from([1, 2, 3]), data=st.data())
def test_unpooling_scatters_each_value_to_its_index(rank, data):
    """Non-overlapping windows (stride = window), no padding: the unpooled array holds each
    window's max at its argmax, 0 elsewhere (the brute scatter); pooling it again gives the
    values back."""
    layout = data.draw(st.sampled_from(LAYOUTS[rank]))
    shape = _shape(data.draw, rank, layout)
    k = data.draw(_st_sizes(rank))
    x = np.random.default_rng(data.draw(st.integers(0, 99))).standard_normal(shape)
    try:
        values, indices = WITH[rank](x, k, stride=k, layout=layout)
    except px.PoolingError:
        return  # a window larger than the input
    size = [x.shape[a] for a in spatial_axes(x.ndim, layout)]
    out = UNPOOL[rank](values, indices, k, layout=layout, output_size=size)
    assert out.shape == x.shape
    expected = [brute.unpool_plane(v, i, tuple(size)) for v, i in
                zip(_planes(values, rank, layout), _planes(indices, rank, layout))]
    np.testing.assert_array_equal(_planes(out, rank, layout), np.stack(expected))
    np.testing.assert_array_equal(px.pool(np.where(out == 0, -np.inf, out), k, stride=k,
                                          layout=layout), values)


def _st_sizes(rank):
    return st.one_of(st.integers(1, 3), st.tuples(*[st.integers(1, 3)] * rank))


def test_the_notes_indices_per_convention():
    """The measured numbers of the note (k2 s2 on the 2x2x4x4 input): PyTorch's and Paddle's
    plane indices, ONNX Runtime's tensor indices and TensorFlow's, where each framework's NaN
    rule is the reference's (the NaN window W01 aside: TF and ORT ignore that NaN)."""
    _, plane = px.pool2d_with_indices(X, 2, stride=2)
    np.testing.assert_array_equal(plane[0, 0].ravel(), [1, 7, 8, 11])  # PyTorch
    np.testing.assert_array_equal(plane[1, 1].ravel(), [1, 7, 8, 11])
    _, tensor = px.pool2d_with_indices(X, 2, stride=2, indices="tensor")
    ort = {(0, 1): [17, 18, 24, 27], (1, 1): [49, 50, 56, 59]}  # W01: ORT ignores the NaN
    for nc, expected in ort.items():
        got = tensor[nc].ravel()
        np.testing.assert_array_equal(got[[0, 2, 3]], np.array(expected)[[0, 2, 3]])
        assert got[1] == expected[1] - 2 + 7  # the NaN's cell (7), not the 3's (2)
    _, tf = px.pool2d_with_indices(X, 2, stride=2, indices="tf")
    np.testing.assert_array_equal(tf[0, 0].ravel()[[0, 2, 3]], [2, 16, 22])
    np.testing.assert_array_equal(tf[0, 1].ravel()[[0, 2, 3]], [3, 17, 23])
    _, tf_batch = px.pool2d_with_indices(X, 2, stride=2, indices="tf_batch")
    assert tf_batch[1].min() >= 32 and tf_batch[1].max() <= 55
    # padding, dilation and ceil: PyTorch's numbers
    np.testing.assert_array_equal(
        px.pool2d_with_indices(X, 2, stride=2, padding=1)[1][0, 0].ravel(),
        [0, 1, 3, 8, 9, 7, 12, 13, 15])
    np.testing.assert_array_equal(
        px.pool2d_with_indices(X, 2, stride=1, dilation=2)[1][0, 0].ravel(), [8, 9, 12, 7])
    y5 = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
    np.testing.assert_array_equal(px.pool2d_with_indices(y5, 2, stride=2, ceil_mode=True)[1]
                                  .ravel(), [6, 8, 9, 16, 18, 19, 21, 23, 24])
    # Paddle's ceil_mode keeps a window of padding only: index -1
    L5 = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 5)
    np.testing.assert_array_equal(
        px.pool1d_with_indices(L5, 2, stride=2, padding=1, ceil_mode="keep")[1].ravel(),
        [0, 2, 4, -1])


def test_unpooling_takes_a_shared_cell_once_and_refuses_bad_indices():
    """The note's duplicate: max-pool k2 s1 of a 3x3 whose centre is 9 gives four copies of
    index 4, each 9: written once.  Different values for one cell, an index past the plane,
    and an index below -1 are refused, naming them."""
    x = np.array([[1, 2, 3], [4, 9, 5], [6, 7, 8]], np.float32).reshape(1, 1, 3, 3)
    values, indices = px.pool2d_with_indices(x, 2, stride=1)
    np.testing.assert_array_equal(indices.ravel(), [4, 4, 4, 4])
    out = px.max_unpool2d(values, indices, 2, stride=1)
    assert out.shape == (1, 1, 3, 3) and out[0, 0, 1, 1] == 9 and out.sum() == 9
    with pytest.raises(px.PoolingError, match=r"^values: got [1-4]\.0 and [1-4]\.0 for the same "
                                              r"index 4 of plane 0; allowed: equal values"):
        px.max_unpool2d(np.array([1, 2, 3, 4], np.float32).reshape(1, 1, 2, 2), indices, 2,
                        stride=1)
    with pytest.raises(px.PoolingError, match=r"^indices: got 99 in \(N, C\) plane 0; allowed: "
                                              r"-1 .* or 0\.\.8, a flat position"):
        px.max_unpool2d(values, np.full((1, 1, 2, 2), 99), 2, stride=1)
    with pytest.raises(px.PoolingError, match=r"^indices: got -2 in"):
        px.max_unpool2d(values, np.full((1, 1, 2, 2), -2), 2, stride=1)
    with pytest.raises(px.PoolingError, match=r"^convention: got 'onnx'; allowed: 'plane', "):
        px.max_unpool2d(values, indices, 2, convention="onnx")
    with pytest.raises(px.PoolingError, match=r"^mode: got 'avg'; allowed: 'max' or 'min'"):
        px.pool2d_with_indices(x, 2, "avg")


def test_a_larger_output_size_keeps_each_plane_index():
    """PyTorch's rule: an index is a position in the output plane of ``output_size``; a larger
    plane keeps the flat positions (so the cells shift), in every (N, C) plane."""
    values, indices = px.pool2d_with_indices(X, 2, stride=2)
    out = px.max_unpool2d(values, indices, 2, output_size=(5, 5))
    assert out.shape == (2, 2, 5, 5)
    for n in range(2):
        for c in range(2):
            flat = out[n, c].ravel()
            np.testing.assert_array_equal(flat[indices[n, c].ravel()], values[n, c].ravel())
