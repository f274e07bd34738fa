"""Windows that read only padding: ``ceil_mode="keep"`` (MXNet's ``pooling_convention='full'``,
GluonCV's and Paddle's ``ceil_mode=True``: a last window that starts in the padding is kept) and
``allow_empty_windows=True`` (pads of a window or more, as Paddle and JAX take them).  Such a
window's value is the reduction's over no cell (max -inf, min +inf, lp 0, avg 0 over a divisor
that counts padding, 0/0 = NaN over one that does not); each framework's own answer is run
here and named where it is another.  The measured numbers are
``../notes/wave3-semantics.md`` sections 5 and 6 (the frameworks' own calls, re-run below)."""
import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw import porting, registry
from pooling_xfw.spec import make_spec, resolve

from .test_cli import cli

BACKENDS = registry.defaults()
L5 = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 5)
LOWEST = float(np.finfo(np.float32).min)
NAN, INF = np.nan, np.inf

#: a framework's own call as written, the numbers it gives (the note's, re-measured here), and
#: the reference's for the spec the call is read into
MEASURED = [
    ("paddle", "F.max_pool1d(x, 2, 2, 1, ceil_mode=True)",
     [1, 3, 5, LOWEST], [1, 3, 5, -INF]),
    ("mxnet", "npx.pooling(x, kernel=(2,), stride=(2,), pad=(1,), pool_type='max', "
              "pooling_convention='full')", [1, 3, 5, LOWEST], [1, 3, 5, -INF]),
    ("pytorch", "F.max_pool1d(x, 2, 2, 1, ceil_mode=True)", [1, 3, 5], [1, 3, 5]),
    ("paddle", "F.avg_pool1d(x, 2, 2, 1, exclusive=False, ceil_mode=True)",
     [0.5, 2.5, 4.5, 0], [0.5, 2.5, 4.5, 0]),
    ("paddle", "F.avg_pool1d(x, 2, 2, 1, ceil_mode=True)", [1, 2.5, 4.5, NAN],
     [1, 2.5, 4.5, NAN]),
    ("mxnet", "npx.pooling(x, kernel=(2,), stride=(2,), pad=(1,), pool_type='avg', "
              "pooling_convention='full')", [0.5, 2.5, 4.5, 0], [0.5, 2.5, 4.5, 0]),
    ("mxnet", "npx.pooling(x, kernel=(2,), stride=(2,), pad=(1,), pool_type='avg', "
              "pooling_convention='full', count_include_pad=False)", [1, 2.5, 4.5, 0],
     [1, 2.5, 4.5, NAN]),
    ("paddle", "F.max_pool1d(x, 3, 3, 1, ceil_mode=True)", [2, 5, LOWEST], [2, 5, -INF]),
    ("paddle", "F.max_pool1d(x, 2, 1, 2)", [LOWEST, 1, 2, 3, 4, 5, 5, LOWEST],
     [-INF, 1, 2, 3, 4, 5, 5, -INF]),
    ("jax", "lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2), (1, 1, 1), "
            "((0, 0), (0, 0), (2, 2)))", [-INF, 1, 2, 3, 4, 5, 5, -INF],
     [-INF, 1, 2, 3, 4, 5, 5, -INF]),
    ("paddle", "F.avg_pool1d(x, 2, 1, 2, exclusive=False)", [0, 0.5, 1.5, 2.5, 3.5, 4.5, 2.5, 0],
     [0, 0.5, 1.5, 2.5, 3.5, 4.5, 2.5, 0]),
    ("paddle", "F.avg_pool1d(x, 2, 1, 2)", [NAN, 1, 1.5, 2.5, 3.5, 4.5, 5, NAN],
     [NAN, 1, 1.5, 2.5, 3.5, 4.5, 5, NAN]),
    ("paddle", "F.avg_pool1d(x, 2, 3, [0, 3])", [1.5, 4.5, -0.0], [1.5, 4.5, NAN]),
]


@pytest.mark.parametrize("framework,call,theirs,ours", MEASURED,
                         ids=[f"{f}-{c.split('(')[0]}-{i}" for i, (f, c, *_) in
                              enumerate(MEASURED)])
def test_each_frameworks_own_call_and_the_reference_on_windows_of_padding(
        pool, framework, call, theirs, ours):
    """The call run in its framework gives the note's numbers; the reference, for the spec the
    call is read into, gives the reduction over no cell; the neutral semantics with the
    framework's own value for such a window (``porting.evaluate``) gives the call's numbers."""
    native = porting.parse(framework, call, shape=L5.shape)
    got = porting.run_native(native, L5, pool).ravel()
    np.testing.assert_allclose(got, theirs, rtol=1e-6, equal_nan=True)
    kwargs = porting.neutral_kwargs(native)
    np.testing.assert_allclose(px.pool1d(L5, **kwargs).ravel(), ours, rtol=1e-6,
                               equal_nan=True)
    evaluated = porting.evaluate(native, L5).ravel()
    same = np.isclose(evaluated, got, rtol=1e-6, equal_nan=True)
    if not same.all():  # Paddle's -0.0 for asymmetric pads not counted: NaN by its own rule
        assert framework == "paddle" and np.all(got[~same] == 0), (evaluated, got)


@pytest.mark.parametrize("ceil_mode,out", [(False, [1, 3, 5]), (True, [1, 3, 5]),
                                           ("keep", [1, 3, 5, -INF]), ("KEEP", [1, 3, 5, -INF])],
                         ids=["floor", "drop", "keep", "keep-any-case"])
def test_ceil_mode_keep_keeps_the_window_pytorch_drops(ceil_mode, out):
    np.testing.assert_array_equal(px.pool1d(L5, 2, stride=2, padding=1,
                                            ceil_mode=ceil_mode).ravel(), out)


@pytest.mark.parametrize("dtype,mode,value", [
    ("float32", "max", -INF), ("float16", "max", -INF), ("float64", "min", INF),
    ("int32", "max", np.iinfo(np.int32).min), ("uint8", "max", 0),
    ("int64", "min", np.iinfo(np.int64).max), ("float32", "lp", 0.0)],
    ids=lambda v: str(v))
def test_a_window_of_padding_only_gives_the_reduction_over_no_cell(dtype, mode, value):
    x = np.arange(1, 6).astype(dtype).reshape(1, 1, 5)
    out = px.pool1d(x, 2, mode, stride=1, padding=2, allow_empty_windows=True)
    assert out.dtype == (x.dtype if mode != "lp" else np.dtype(dtype))
    assert out.ravel()[0] == value and out.ravel()[-1] == value


@pytest.mark.parametrize("kwargs,message", [
    (dict(ceil_mode="full"), "ceil_mode: got 'full'; allowed: False, True (a last window that "
                             "would start in the padding is dropped) or 'keep' (it is kept)"),
    (dict(ceil_mode=1), "ceil_mode: got 1; allowed: False, True"),
    (dict(allow_empty_windows="yes"), "allow_empty_windows: got 'yes'; allowed: True or False"),
    (dict(padding=2), "padding: got (2, 2) along W, where output window 0 reads only padding "
                      "(input 5, kernel 2, stride 1, dilation 1); allowed: pads that leave "
                      "every window at least one input cell, or allow_empty_windows=True"),
    (dict(padding=((0, 4),), stride=2, ceil_mode="keep"), "padding: got (0, 4) along W, where "
                                                          "output window 3 reads only padding"),
], ids=["full-is-keep-by-name", "int", "flag", "pads-refused", "keep-allows-only-its-own"])
def test_a_bad_ceil_mode_or_empty_window_names_the_argument(kwargs, message):
    with pytest.raises(px.PoolingError) as info:
        px.pool1d(L5, 2, **kwargs)
    assert str(info.value).startswith(message), info.value


def test_the_gradient_of_a_window_of_padding_only_goes_nowhere():
    """Max: each window's to its maximum, the kept window's nowhere (Paddle's measured
    ``[1, 0, 1, 0, 1]``); avg: nothing from a window that counts no cell (0/0)."""
    np.testing.assert_array_equal(
        px.pool1d_grad(L5, 2, stride=2, padding=1, ceil_mode="keep").ravel(), [1, 0, 1, 0, 1])
    np.testing.assert_array_equal(
        px.pool1d_grad(L5, 2, "avg", stride=2, padding=1, ceil_mode="keep",
                       count_include_pad=False).ravel(), [1, .5, .5, .5, .5])
    for ties in ("first", "split", "all"):
        grad = px.pool1d_grad(L5, 2, stride=1, padding=2, allow_empty_windows=True, ties=ties)
        np.testing.assert_array_equal(grad.ravel(), [1, 1, 1, 1, 2])


#: (input shape, window, keywords): every rank and both options, with the windows of padding
#: only at the start, the end and (3-D) both; the ResNet-sized and audio-sized inputs at the end
GRID = [
    ((2, 3, 17), 2, dict(stride=2, padding=1, ceil_mode="keep", layout="NCW")),
    ((2, 3, 8, 8), 3, dict(stride=3, padding=1, ceil_mode="keep")),
    ((2, 9, 9, 3), 2, dict(stride=2, padding=1, ceil_mode="keep", layout="NHWC")),
    ((1, 2, 5, 7, 7), 2, dict(stride=2, padding=1, ceil_mode="keep", layout="NCDHW")),
    ((2, 3, 8), 2, dict(padding=2, allow_empty_windows=True, layout="NCW")),
    ((2, 3, 6, 6), 2, dict(stride=3, padding=((0, 3), (3, 0)), allow_empty_windows=True)),
    ((1, 2, 4, 5, 5), 2, dict(padding=2, allow_empty_windows=True, layout="NCDHW")),
    ((4, 64, 55, 55), 2, dict(stride=2, padding=1, ceil_mode="keep")),
    ((4, 16, 16001), 4, dict(stride=4, padding=2, ceil_mode="keep", layout="NCW")),
]
MODES = [("max", True), ("min", True), ("lp", True), ("avg", True), ("avg", False)]


def _grid_id(case) -> str:
    shape, k, kwargs = case
    return "x".join(map(str, shape)) + f"-k{k}-" + ",".join(
        f"{a}={b}" for a, b in kwargs.items() if a != "layout")


@pytest.mark.parametrize("shape,k,kwargs", GRID, ids=[_grid_id(c) for c in GRID])
@pytest.mark.parametrize("mode,counted", MODES, ids=["max", "min", "lp", "avg", "avg-excluded"])
def test_every_backend_agrees_or_names_its_value_for_a_window_of_padding(
        pool, shape, k, kwargs, mode, counted):
    """Every backend gives the reference's numbers, or differs only in windows of padding only,
    with that named as the cause; its gradient agrees (none from such a window) where it has
    one, or raises the error its backend records."""
    x = np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32)
    small = x.size < 100_000  # the gradient at the grid's small sizes
    result = px.compare(x, k, mode, count_include_pad=counted, grad=small, pool=pool,
                        **kwargs)
    geometry = resolve(make_spec(k, mode, count_include_pad=counted, **kwargs), shape)
    empty = geometry.empty_windows()
    assert empty.any()
    spatial = [a for a, name in enumerate(kwargs.get("layout", "NCHW")) if name not in "NC"]
    for name, r in result.results.items():
        if r.status == "differ":
            assert "(a window of padding only gives " in r.detail, (name, r.detail)
            for index, _, _ in r.differing:
                assert empty[tuple(index[a] for a in spatial)], (name, index)
        else:
            assert r.status == "agree", (name, r.detail)
        if not small:
            continue
        if name == "onnxruntime":
            assert r.grad_status == "not compared"
        elif r.grad_status == "error":  # recorded: MXNet's oneDNN average backward
            assert name == "mxnet" and mode == "avg" and not counted, r.grad_detail
            assert "could not create a descriptor for a pooling" in r.grad_detail
        else:
            assert r.grad_status == "agree", (name, r.grad_detail)


def test_the_command_line_keeps_the_window_and_allows_padding_only():
    out = cli("compare", "--shape", "1,2,5,5", "--kernel", "2", "--stride", "2", "--padding",
              "1", "--ceil-mode", "keep", "--backends", "pytorch,jax", "--grad",
              env={"NO_COLOR": "1"}, check_exit=0).stdout
    assert "summary: 2 agree" in out, out
    out = cli("compare", "--shape", "1,2,5,5", "--kernel", "2", "--padding", "2",
              "--allow-empty-windows", "--mode", "avg", "--exclude-pad", "--backends",
              "pytorch,paddle", env={"NO_COLOR": "1"}, check_exit=0).stdout
    assert "summary: 2 agree" in out, out
    err = cli("compare", "--shape", "1,1,5,5", "--kernel", "2", "--ceil-mode", "full",
              check_exit=2).stderr
    assert "--ceil-mode full: unknown ceil rule; allowed: --ceil-mode alone" in err, err
    err = cli("compare", "--shape", "1,1,5,5", "--kernel", "2", "--padding", "2",
              check_exit=2).stderr
    assert "or allow_empty_windows=True" in err, err


@pytest.mark.parametrize("framework,call,shape,narrowed", [
    ("mxnet", "nn.MaxPool2D(2, strides=2, padding=1, ceil_mode=True)", (1, 2, 5, 5), False),
    ("paddle", "nn.AvgPool2D(3, stride=3, padding=1, ceil_mode=True)", (1, 2, 7, 7), False),
    ("jax", "nn.max_pool(x, (2,), strides=(1,), padding=((2, 2),))", (1, 9, 2), False),
    ("mxnet", "nn.AvgPool1D(2, 2, 1, ceil_mode=True, count_include_pad=False)", (1, 2, 6),
     True),
], ids=["mxnet-full-max", "paddle-ceil-avg-excluded", "jax-pads-of-a-window",
        "mxnet-full-avg-excluded"])
def test_translate_reproduces_the_sources_windows_of_padding(pool, framework, call, shape,
                                                            narrowed):
    """Every target's printed code gives the source's numbers on every size it holds for,
    the source's own value for a window of padding only included (the dtype's lowest finite
    value where MXNet's and Paddle's max start from it, -inf where JAX's does not); MXNet's
    average of 0 over no counted cell is held to the sizes without such a window."""
    result = porting.translate(call, framework, shape, pool=pool)
    assert result.source_check.startswith("agrees with the neutral spec"), result.source_check
    for name, target in result.targets.items():
        assert target.check.startswith("agrees with the source call on "), (name, target.check)
        assert "DIFFERS" not in target.grad_check, (name, target.grad_check)
        assert (target.kind == "size-dependent") == narrowed, (name, target.verdict)
        if narrowed:
            assert "sizes without one" in target.verdict and "refuses" in target.check
