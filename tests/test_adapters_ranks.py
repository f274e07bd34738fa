"""Every backend pools one and three spatial axes, with its own kernels, and gives the
reference's numbers: a grid of 1-D and 3-D specs, dtypes and both layouts, the sizes audio and
video models pool at, and the backward pass through each framework's autograd.

Ids read as the spec: ``pytorch-3d-avg-k3s2-p1-NDHWC-ceil-float32``.
"""
import itertools

import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw import registry

BACKENDS = registry.defaults()
LAYOUTS = {1: ("NCW", "NWC"), 3: ("NCDHW", "NDHWC")}
SHAPES = {1: (2, 3, 19), 3: (2, 3, 5, 7, 6)}  # N, C and the spatial axes, channels first
PADDINGS = {"p0": 0, "p1": 1, "asym": "asym", "same": "same", "samelower": "same_lower"}
DTYPES = {"max": ["float32", "float64", "float16", "int32", "uint8"],
          "min": ["float32", "int32"], "avg": ["float32", "float64", "float16", "int32"],
          "lp": ["float32", "float64"]}


def _input(rank: int, dtype: str, layout: str) -> np.ndarray:
    """Mixed signs, the first cells of every axis all negative (padding could win there)."""
    rng = np.random.default_rng(11)
    x = rng.integers(-9, 10, size=SHAPES[rank]).astype(np.float64)
    corner = (slice(None), slice(None), *[slice(0, 3)] * rank)
    x[corner] = -np.abs(x[corner]) - 1
    x = np.abs(x) if dtype == "uint8" else x
    x = x.astype(dtype)
    return np.moveaxis(x, 1, -1) if layout.endswith("C") else x


def _grid(rank: int):
    """Every (mode, padding, layout, ceil); window, stride, dilation, the divisor's rule and
    the dtype rotate through their values."""
    rotation = itertools.count()
    windows = {1: [2, 3, 4], 3: [2, 3, (1, 3, 3), (3, 2, 1)]}[rank]
    strides = {1: [1, 2, 3], 3: [1, 2, (1, 2, 2)]}[rank]
    for mode, (pad_name, padding), layout, ceil in itertools.product(
            DTYPES, PADDINGS.items(), LAYOUTS[rank], (False, True)):
        i = next(rotation)
        window, stride = windows[i % len(windows)], strides[(i // 2) % len(strides)]
        if padding == "asym":
            padding = ((1, 0),) + ((0, 1),) * (rank - 1)
        dilation = 2 if i % 5 == 0 else 1
        include = mode != "avg" or i % 3 != 0
        dtype = DTYPES[mode][i % len(DTYPES[mode])]
        kwargs = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil,
                      count_include_pad=include, layout=layout, p=3 if i % 4 == 0 else 2)
        try:  # keep only specs the reference accepts for this input
            px.pool(_input(rank, "float32", layout), window, mode, **kwargs)
        except px.PoolingError:
            continue
        label = "x".join(map(str, window)) if isinstance(window, tuple) else str(window)
        step = "x".join(map(str, stride)) if isinstance(stride, tuple) else str(stride)
        name = "-".join(filter(None, [
            f"{rank}d", mode, f"k{label}s{step}", pad_name, layout, "ceil" if ceil else "",
            f"d{dilation}" if dilation > 1 else "", "" if include else "exclpad",
            f"p{kwargs['p']}" if mode == "lp" else "", dtype]))
        yield name, rank, window, mode, dtype, kwargs


GRID = list(_grid(1)) + list(_grid(3))


@pytest.mark.parametrize("name,rank,window,mode,dtype,kwargs", GRID, ids=[g[0] for g in GRID])
@pytest.mark.parametrize("backend", BACKENDS)
def test_grid_at_ranks_1_and_3_against_the_reference(pool, backend, name, rank, window, mode,
                                                      dtype, kwargs):
    x = _input(rank, dtype, kwargs["layout"])
    outcome = px.compare(x, window, mode, backends=[backend], pool=pool, **kwargs).results[backend]
    assert outcome.status == "agree", f"{outcome.status}: {outcome.detail}"
    assert outcome.output.dtype == px.pool(x, window, mode, **kwargs).dtype
    assert outcome.framework_version and outcome.how["path"] in ("native", "emulated")


def test_grid_covers_both_ranks_every_mode_padding_and_layout():
    names = " ".join(g[0] for g in GRID)
    for token in ["1d-", "3d-", "max-", "avg-", "min-", "lp-", "-same-", "-samelower-", "-asym-",
                  "-ceil", "-d2", "-exclpad", "float16", "float64", "int32", "uint8", "-NCW-",
                  "-NWC-", "-NCDHW-", "-NDHWC-", "k1x3x3", "s1x2x2"]:
        assert token in names, token


# --- adaptive and global pooling of one and three axes -------------------------------------------
HEADS = [
    ("1d-adaptive-avg-8", dict(op="adaptive", output_size=8, mode="avg"), 1),
    ("1d-adaptive-max-5", dict(op="adaptive", output_size=5, mode="max"), 1),
    ("1d-global-avg-dropped", dict(op="global", mode="avg", keepdims=False), 1),
    ("3d-adaptive-avg-1x1x1", dict(op="adaptive", output_size=(1, 1, 1), mode="avg"), 3),
    ("3d-adaptive-max-2xNonex3", dict(op="adaptive", output_size=(2, None, 3), mode="max"), 3),
    ("3d-global-max", dict(op="global", mode="max"), 3),
    ("3d-global-lp", dict(op="global", mode="lp", p=2), 3),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout_index", [0, 1], ids=["channels-first", "channels-last"])
@pytest.mark.parametrize("name,kwargs,rank", HEADS, ids=[h[0] for h in HEADS])
@pytest.mark.parametrize("backend", BACKENDS)
def test_adaptive_and_global_heads(pool, backend, name, kwargs, rank, layout_index, dtype):
    layout = LAYOUTS[rank][layout_index]
    x = _input(rank, dtype, layout)
    outcome = px.compare(x, backends=[backend], pool=pool, layout=layout,
                         **kwargs).results[backend]
    assert outcome.status == "agree", f"{outcome.status}: {outcome.detail}"


# --- the sizes models pool at ---------------------------------------------------------------------
REAL = [
    # a speech front end: 1 s of 16 kHz audio, 64 channels, pooled 4x
    ("audio-max-k4s4", (8, 64, 16000), dict(pool_size=4, stride=4, layout="NCW")),
    ("audio-avg-k3s2p1", (8, 64, 16000), dict(pool_size=3, mode="avg", stride=2, padding=1,
                                              layout="NCW")),
    # the C3D / R3D stem pool on a 16-frame 56x56 clip
    ("video-c3d-stem", (2, 64, 16, 56, 56), dict(pool_size=(1, 3, 3), stride=(1, 2, 2),
                                                 padding=(0, 1, 1), layout="NCDHW")),
    ("video-avg-2", (2, 64, 16, 56, 56), dict(pool_size=2, mode="avg", stride=2,
                                              layout="NCDHW")),
    ("video-head", (2, 64, 16, 56, 56), dict(op="adaptive", output_size=1, mode="avg",
                                             layout="NCDHW")),
]


@pytest.mark.parametrize("name,shape,kwargs", REAL, ids=[r[0] for r in REAL])
@pytest.mark.parametrize("backend", BACKENDS)
def test_audio_and_video_activations(pool, backend, name, shape, kwargs):
    x = np.random.default_rng(3).standard_normal(shape, dtype=np.float32)
    outcome = px.compare(x, backends=[backend], pool=pool, **kwargs).results[backend]
    assert outcome.status == "agree", f"{outcome.status}: {outcome.detail}"


# --- the backward pass -----------------------------------------------------------------------------
BACKWARD = [
    ("1d-max-k3s2p1", 1, dict(pool_size=3, stride=2, padding=1)),
    ("1d-avg-k4s3-ceil-exclpad", 1, dict(pool_size=4, mode="avg", stride=3, ceil_mode=True,
                                          count_include_pad=False)),
    ("3d-max-stem", 3, dict(pool_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))),
    ("3d-avg-k2s2", 3, dict(pool_size=2, mode="avg", stride=2)),
    ("3d-lp-k2", 3, dict(pool_size=2, mode="lp", p=2)),
]


@pytest.mark.parametrize("layout_index", [0, 1], ids=["channels-first", "channels-last"])
@pytest.mark.parametrize("name,rank,kwargs", BACKWARD, ids=[b[0] for b in BACKWARD])
@pytest.mark.parametrize("backend", BACKENDS)
def test_backward_through_each_frameworks_autograd(pool, backend, name, rank, kwargs,
                                                   layout_index):
    layout = LAYOUTS[rank][layout_index]
    x = np.random.default_rng(5).standard_normal(  # distinct values: no ties
        [2, 3, *([5, 6, 7][3 - rank:])]).astype(np.float64)
    x = np.moveaxis(x, 1, -1) if layout.endswith("C") else x
    outcome = px.compare(x, grad=True, backends=[backend], pool=pool, layout=layout,
                         **kwargs).results[backend]
    assert outcome.status == "agree", f"{outcome.status}: {outcome.detail}"
    if registry.get(backend).vocabulary.no_autograd:
        assert outcome.grad_status == "not compared", outcome.grad_detail
    else:
        assert outcome.grad_status == "agree", f"{outcome.grad_status}: {outcome.grad_detail}"


#: a clip with fewer frames than the window, padded to take it (found by ``fuzz``): PyTorch's
#: avg_pool3d refuses an axis shorter than its window whatever the padding (measured: "input
#: image (T: 2 H: 8 W: 8) smaller than kernel size (kT: 3 ...)"); avg_pool1d/2d take it
SHORT_CLIP = [("count-pad", dict(count_include_pad=True)),
              ("exclude-pad", dict(count_include_pad=False))]


@pytest.mark.parametrize("name,kwargs", SHORT_CLIP, ids=[s[0] for s in SHORT_CLIP])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_clip_shorter_than_the_window_averages_in_every_backend(pool, backend, name, kwargs):
    x = np.random.default_rng(2).standard_normal((1, 2, 2, 8, 8)).astype(np.float32)
    result = px.compare(x, 3, "avg", stride=1, padding=1, layout="NCDHW", backends=[backend],
                        pool=pool, **kwargs).results[backend]
    assert result.status == "agree", result.detail
    if backend == "pytorch":
        assert result.how["path"] == "emulated"


#: the backward pass's outcome where it agrees: "not compared" for a framework with no autograd
_BACKWARD = {name: "not compared" if registry.get(name).vocabulary.no_autograd else "agree"
             for name in BACKENDS}


#: 3-D SAME with a stride of the window + 2 or more (found by ``fuzz``): TensorFlow's
#: max_pool3d / avg_pool3d leave the negative SAME pad unclamped (measured: 9 cells, window 1,
#: stride 3 read cells 1, 4, 7; window 2, stride 5 read 2-3 and 7-8; its backward takes the
#: unshifted windows, so the max's gradient is 0 there); 1-D and 2-D clamp it.  Its plan computes
#: the pads from the shape instead; the other frameworks take SAME from the planner too.
STRIDE_PAST_WINDOW = [("max-k1s3", dict(pool_size=1, stride=3, mode="max")),
                      ("max-k2s5", dict(pool_size=2, stride=5, mode="max")),
                      ("avg-k2s5", dict(pool_size=(2, 1, 2), stride=(5, 3, 4), mode="avg",
                                        count_include_pad=False))]


@pytest.mark.parametrize("layout", ["NCDHW", "NDHWC"])
@pytest.mark.parametrize("name,kwargs", STRIDE_PAST_WINDOW, ids=[s[0] for s in STRIDE_PAST_WINDOW])
@pytest.mark.parametrize("backend", BACKENDS)
def test_3d_same_with_a_stride_past_the_window_reads_the_reference_cells(pool, backend, name,
                                                                         kwargs, layout):
    x = np.random.default_rng(3).standard_normal((2, 3, 9, 11, 9)).astype(np.float32)
    x = np.moveaxis(x, 1, -1) if layout == "NDHWC" else x
    result = px.compare(x, padding="same", layout=layout, grad=True, backends=[backend],
                        pool=pool, **kwargs).results[backend]
    assert (result.status, result.grad_status) == ("agree", _BACKWARD[backend]), (
        result.detail, result.grad_detail)


#: a 3-D max window with no cell above -inf, in a channels-last input (found by ``fuzz``):
#: PyTorch's channels-last max_pool3d kernel starts each window's index at its first cell's
#: h*W + w without d*H*W (measured, float16/32/64 and bfloat16, C > 1: 9 cells of depth 3 and
#: window 1 give indices 0-3 at every depth), so its indices and its gradient went to depth 0.
#: Its plan pools a channels-first copy.
ONLY_MINUS_INF = [("k1", dict(pool_size=1)), ("k2x1x1", dict(pool_size=(2, 1, 1), stride=1))]


@pytest.mark.parametrize("layout", ["NCDHW", "NDHWC"])
@pytest.mark.parametrize("name,kwargs", ONLY_MINUS_INF, ids=[s[0] for s in ONLY_MINUS_INF])
def test_pytorch_3d_windows_of_only_minus_inf_index_and_gradient_in_either_layout(
        pool, name, kwargs, layout):
    """The other frameworks' windows of only -inf are the conventions table's rows (their
    named causes); PyTorch's max keeps -inf and names the window's first cell, as the
    reference does, in both layouts."""
    x = np.random.default_rng(4).standard_normal((2, 3, 3, 2, 2)).astype(np.float32)
    x[:, :, 1:] = -np.inf  # depths 1 and 2 of every channel: only -inf
    x = np.moveaxis(x, 1, -1) if layout == "NDHWC" else x
    forward = px.compare(x, mode="max", layout=layout, grad=True, backends=["pytorch"],
                         pool=pool, **kwargs).results["pytorch"]
    assert (forward.status, forward.grad_status) == ("agree", "agree"), (
        forward.detail, forward.grad_detail)
    argmax = px.compare(x, op="pool_with_indices", layout=layout, backends=["pytorch"],
                        pool=pool, **kwargs).results["pytorch"]
    assert argmax.status == "agree", argmax.detail
