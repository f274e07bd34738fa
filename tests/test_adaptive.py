"""Adaptive and global pooling: the reference against a brute-force loop over output cells, its
errors, and every backend against the reference."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pooling_xfw as px
from pooling_xfw import ops
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
    _assert_names(px.adaptive_pool2d, kwargs, argument)


def _assert_names(function, kwargs: dict, argument: str) -> None:
    """``function(X, **kwargs)`` (``X`` from kwargs, else ``X4``) raises one line starting
    with ``argument: got`` and saying what is allowed."""
    kwargs = dict(kwargs)
    x = kwargs.pop("X", X4)
    with pytest.raises(px.PoolingError) as err:
        function(x, **kwargs)
    message = str(err.value)
    assert message.startswith(f"{argument}: got ") and "allowed" in message
    assert "\n" not in message


@pytest.mark.parametrize("kwargs,argument", [
    (dict(mode="min"), "mode"), (dict(keepdims=1), "keepdims"), (dict(p=0), "p"),
    (dict(layout="CHW"), "layout"), (dict(X=np.zeros(4)), "X"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_global_errors_name_the_argument(kwargs, argument):
    _assert_names(px.global_pool2d, kwargs, argument)


# --- px.compare: the operations and their arguments --------------------------------------------

@pytest.mark.parametrize("kwargs,message", [
    (dict(op="adaptive"), "^output_size: got nothing"),
    (dict(op="adaptive", output_size=3, pool_size=2), "^pool_size: got 2, not an argument of "
                                                      "op='adaptive'; allowed: output_size"),
    (dict(op="global", stride=2), "^stride: got 2, not an argument of op='global'"),
    (dict(op="global", output_size=1), "^output_size: got 1, not an argument of op='global'"),
    (dict(op="adaptive", output_size=-2), "^output_size: got -2; allowed"),
    (dict(op="adaptive", output_size=2, mode="lp"), "^mode: got 'lp'; allowed: 'max', 'avg'"),
    (dict(op="pool4d", output_size=2), "^op: got 'pool4d'; allowed: 'pool2d' \\(or 'pool', "
                                        "'pool1d', 'pool3d'\\), 'adaptive', 'global'"),
    (dict(), "^pool_size: got nothing"),
], ids=["no-output-size", "pool-size-with-adaptive", "stride-with-global",
        "output-size-with-global", "negative-output-size", "adaptive-lp", "unknown-op",
        "pool2d-without-pool-size"])
def test_compare_refuses_what_an_operation_does_not_take(kwargs, message):
    from pooling_xfw.runtime.client import WorkerPool

    with pytest.raises(px.PoolingError, match=message):
        px.compare(X4, pool=WorkerPool(), **kwargs)


# --- every backend against the reference ---------------------------------------------------------

from pooling_xfw import registry  # noqa: E402
from pooling_xfw.backend import NAN_IN_A_MAX, NAN_OUTCOMES, ONLY_INFINITE  # noqa: E402

BACKENDS = registry.defaults()

from .conftest import run_in_backend_env  # noqa: E402
from .test_adapters import assert_judged_rightly  # noqa: E402

# (n, o) along one axis: the notes' named cases (7 -> 3, 5 -> 3, 10 -> 4, 6 -> 4, 3 -> 5, ...), the
# sizes Keras 3 on JAX gets wrong (7 -> 7, 14 -> 7, 24 -> 7, 13 -> 13, 15 -> 15), the edges (1 in
# or out, None, 0), then sizes drawn from 1..24 in and out
AXIS_CASES = [(7, 3), (5, 3), (10, 4), (6, 4), (3, 5), (2, 5), (1, 3), (4, 4), (7, 1), (14, 7),
              (7, 7), (24, 7), (13, 13), (15, 15), (24, 24), (1, 24), (24, 1), (1, 1),
              (9, None), (6, 0)]
AXIS_CASES += [tuple(int(v) for v in pair)
               for pair in np.random.default_rng(12).integers(1, 25, size=(28, 2))]


def _sizes():
    """(H, W) -> (oh, ow): rows and columns each run through every axis case, in different
    orders, so every axis case meets several others."""
    count = len(AXIS_CASES)
    for i, (h, oh) in enumerate(AXIS_CASES):
        w, ow = AXIS_CASES[(7 * i + 3) % count]
        yield (h, w), (oh, ow)


SIZES = list(_sizes())


def _input(shape, dtype, layout, seed=0):
    x = _random((2, 3) + shape, dtype, seed)
    return np.moveaxis(x, 1, -1).copy() if layout == "NHWC" else x


def _assert_all_agree(comparisons, backend, what):
    for (label, case), result in zip(what, comparisons):
        outcome = result.results[backend]
        assert outcome.status == "agree", f"{label}: {outcome.status}: {outcome.detail}"
        assert outcome.output.dtype == result.reference.dtype, label


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_adaptive_on_every_backend(pool, backend, layout, dtype):
    """Every size pair of ``SIZES`` in float32, every second one in the other dtypes (the bins
    are the same arithmetic in every dtype; each dtype's kernels meet every axis case), max and
    avg, as one pipelined batch per backend."""
    sizes = SIZES if dtype == "float32" else SIZES[::2]
    cases = [(f"{mode} {hw} -> {out}", dict(X=_input(hw, dtype, layout, seed=i), op="adaptive",
                                            output_size=out, mode=mode, layout=layout))
             for i, (hw, out) in enumerate(sizes) for mode in ("max", "avg")]
    results = px.compare_many([case for _, case in cases], backends=[backend], pool=pool)
    _assert_all_agree(results, backend, cases)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_adaptive_of_integers_on_every_backend(pool, backend, layout):
    cases = [(f"{mode} {dtype} {hw} -> {out}",
              dict(X=_input(hw, dtype, layout, seed=i), op="adaptive", output_size=out,
                   mode=mode, layout=layout))
             for i, (hw, out) in enumerate(SIZES[::3]) for mode in ("max", "avg")
             for dtype in ("int32", "uint8")]
    results = px.compare_many([case for _, case in cases], backends=[backend], pool=pool)
    _assert_all_agree(results, backend, cases)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_global_on_every_backend(pool, backend, layout):
    cases = []
    for i, ((h, w), _) in enumerate(SIZES):
        for mode in ("max", "avg", "lp"):
            dtype = (FLOATS + ("int32",))[i % 4]
            keepdims = i % 3 != 0
            cases.append((f"{mode} {dtype} {h}x{w} keepdims={keepdims}",
                          dict(X=_input((h, w), dtype, layout, seed=i), op="global", mode=mode,
                               keepdims=keepdims, p=3 if i % 2 else 2, layout=layout)))
    results = px.compare_many([case for _, case in cases], backends=[backend], pool=pool)
    _assert_all_agree(results, backend, cases)


@pytest.mark.parametrize("backend", BACKENDS)
def test_realistic_heads_on_every_backend(pool, backend):
    """A ResNet-50 head (8x2048x7x7 global avg, both layouts, both keepdims) and a ResNet stage
    resized by adaptive pooling (8x512x14x14 -> 7x7, max and avg)."""
    head = _random((8, 2048, 7, 7), "float32", 4)
    stage = _random((8, 512, 14, 14), "float32", 5)
    cases = [
        ("global avg NCHW", dict(X=head, op="global", mode="avg")),
        ("global avg NHWC, keepdims=False",
         dict(X=np.moveaxis(head, 1, -1).copy(), op="global", mode="avg", keepdims=False,
              layout="NHWC")),
        ("adaptive avg 14 -> 7", dict(X=stage, op="adaptive", output_size=7, mode="avg")),
        ("adaptive max 14 -> 7", dict(X=stage, op="adaptive", output_size=(7, 7), mode="max")),
        ("adaptive avg 14 -> 7 NHWC", dict(X=np.moveaxis(stage, 1, -1).copy(), op="adaptive",
                                           output_size=7, mode="avg", layout="NHWC")),
    ]
    results = px.compare_many([case for _, case in cases], backends=[backend], pool=pool)
    _assert_all_agree(results, backend, cases)
    assert results[1].reference.shape == (8, 2048)


# --- special values: what stays a real difference -------------------------------------------------
# As for pool2d (tests/test_adapters.py): a framework's own answer for a NaN or a bin of only -inf
# varies with the CPU and its kernel path, so these tests assert what the toolkit promises for
# whatever came back (the reference is right; agree exactly when the output is the reference; a
# difference names its cause) and record the outcomes seen, with where.


def _nan_input(dtype):
    """5 -> 3 on two rows: bins [0,2) [1,4) [3,5); a NaN first, inside and last in a bin."""
    return np.array([[[[1, np.nan, 3, 4, 5], [np.nan, 2, 3, 4, np.nan]]]], dtype)


def _nan_policies(x, op):
    """What a max returns with the NaN propagated, ignored, or kept only where it is its bin's
    last (first) cell in row-major order (no bin is all NaN)."""
    size = (2, 3) if op == "adaptive" else (1, 1)
    ignored = np.where(np.isnan(x), -np.inf, x)
    return {"propagated": brute.adaptive(x, size, "max"),
            "ignored": brute.adaptive(ignored, size, "max"),
            "NaN only as the last cell scanned": _nan_at(x, size, -1),
            "NaN only as the first cell scanned": _nan_at(x, size, 0)}


def _nan_at(x, size, position: int) -> np.ndarray:
    """Each bin's max with its NaN ignored unless the cell at ``position`` of the bin, in
    row-major order, is NaN (then NaN): a max kernel comparing as ``a > b``."""
    def bins(n, o):
        return [(i * n // o, -(-(i + 1) * n // o)) for i in range(o)]

    out = np.empty(x.shape[:2] + size, x.dtype)
    for a, (r0, r1) in enumerate(bins(x.shape[2], size[0])):
        for b, (c0, c1) in enumerate(bins(x.shape[3], size[1])):
            cells = x[:, :, r0:r1, c0:c1].reshape(*x.shape[:2], -1)
            best = np.where(np.isnan(cells), -np.inf, cells).max(axis=-1)
            out[:, :, a, b] = np.where(np.isnan(cells[..., position]), np.nan, best)
    return out


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("op", ["adaptive", "global"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_in_a_max_bin(pool, backend, op, dtype):
    x = _nan_input(dtype)
    extra = dict(output_size=(2, 3)) if op == "adaptive" else {}
    result = px.compare(x, op=op, mode="max", backends=[backend], pool=pool, **extra)
    policies = _nan_policies(x, op)
    np.testing.assert_array_equal(result.reference, policies["propagated"].astype(dtype))
    outcome = result.results[backend]
    assert_judged_rightly(outcome, result.reference, "NaN in the window ignored")
    seen = {name for name, expected in policies.items()
            if np.array_equal(outcome.output, expected.astype(dtype), equal_nan=True)}
    recorded = registry.get(backend).outcomes(NAN_IN_A_MAX, op, dtype).seen
    assert seen & set(recorded), (f"{backend} {op} {dtype} gave {outcome.output.tolist()} "
                                  f"({', '.join(seen) or 'no known policy'}); recorded: "
                                  f"{dict(recorded)}: add it to its backend's known outcomes, "
                                  f"with where it was seen")


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("op", ["adaptive", "global"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_bin_of_only_minus_inf(pool, backend, op, dtype):
    """Adaptive 5 -> 3 of [-inf, -inf, 3, inf, 5] (the notes' row): -inf, inf, inf; global max
    of a 2x2 plane of -inf: -inf."""
    if op == "adaptive":
        x = np.array([[[[-np.inf, -np.inf, 3, np.inf, 5]]]], dtype)
        result = px.compare(x, op=op, output_size=(1, 3), backends=[backend], pool=pool)
        np.testing.assert_array_equal(result.reference.ravel(), [-np.inf, np.inf, np.inf])
    else:
        x = np.full((1, 1, 2, 2), -np.inf, dtype)
        result = px.compare(x, op=op, backends=[backend], pool=pool)
        np.testing.assert_array_equal(result.reference.ravel(), [-np.inf])
    outcome = result.results[backend]
    assert_judged_rightly(outcome, result.reference, "only -inf")
    np.testing.assert_array_equal(outcome.output.ravel()[1:], result.reference.ravel()[1:])
    got = outcome.output.ravel()[0]
    seen = {name for name, value in [("infinity", -np.inf),
                                     ("finite extreme", np.finfo(dtype).min),
                                     ("finite extreme", np.finfo(np.float32).min)]
            if got == value}
    recorded = registry.get(backend).outcomes(ONLY_INFINITE, op, dtype).seen
    assert seen & set(recorded), (f"{backend} {op} {dtype} gave {got!r}; recorded: "
                                  f"{dict(recorded)}: add it to its backend's known outcomes, "
                                  f"with where it was seen")


@pytest.mark.parametrize("situation", [NAN_IN_A_MAX, ONLY_INFINITE])
def test_every_backend_records_its_outcomes_for_every_case(situation):
    """Each default backend declares what it gave, and where, for every pooling and float
    dtype; each outcome is one the tests know how to recognise."""
    known = {NAN_IN_A_MAX: set(NAN_OUTCOMES), ONLY_INFINITE: {"infinity", "finite extreme"}}
    for backend in BACKENDS:
        for op in ("pool2d", "adaptive", "global"):
            for dtype in FLOATS:
                recorded = registry.get(backend).outcomes(situation, op, dtype)
                assert recorded is not None, (backend, situation, op, dtype)
                assert recorded.seen and set(recorded.seen) <= known[situation], recorded
                assert all(recorded.seen.values()), (backend, op, dtype)


# --- how: native where the framework has the op, emulated (and how) where not ---------------------

PATHS = {  # (backend, op, mode, dtype): path
    ("pytorch", "adaptive", "max", "float32"): "native",
    ("pytorch", "adaptive", "avg", "float32"): "native",
    ("pytorch", "global", "avg", "float32"): "native",
    ("paddle", "adaptive", "max", "float32"): "native",
    ("paddle", "adaptive", "avg", "float32"): "native",
    ("paddle", "adaptive", "max", "float64"): "emulated",  # starts from float32's lowest
    ("mxnet", "adaptive", "avg", "float32"): "native",
    ("mxnet", "adaptive", "max", "float32"): "emulated",  # no adaptive max
    ("mxnet", "global", "max", "float32"): "native",
    ("tensorflow", "adaptive", "max", "float32"): "emulated",  # no adaptive op
    ("tensorflow", "adaptive", "avg", "float64"): "emulated",
    ("tensorflow", "global", "avg", "float32"): "native",
    ("tensorflow", "global", "lp", "float32"): "emulated",
}
NATIVE_CALL = {"pytorch": "F.adaptive_", "paddle": "F.adaptive_",
               "mxnet": ("AdaptiveAvgPooling2D", "global_pool=True"),
               "tensorflow": ("tf.reduce_max", "tf.reduce_mean")}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("backend,op,mode,dtype", PATHS, ids="-".join)
def test_plan_path(pool, backend, op, mode, dtype, layout):
    """7x10 -> 3x4: rows of one bin length at this size (window 3, stride 2), columns two; the
    emulations compute both from the input's shape when the code runs."""
    x = _input((7, 10), dtype, layout)
    extra = dict(output_size=(3, 4)) if op == "adaptive" else {}
    outcome = px.compare(x, op=op, mode=mode, layout=layout, backends=[backend], pool=pool,
                         **extra).results[backend]
    assert outcome.status == "agree", outcome.detail
    path = PATHS[backend, op, mode, dtype]
    assert outcome.how["path"] == path, outcome.how
    code = outcome.how["code"]
    if path == "native":
        assert any(call in code for call in np.atleast_1d(NATIVE_CALL[backend])), code
    else:
        assert outcome.how["emulated_by"], outcome.how
    assert "split" not in code


@pytest.mark.parametrize("backend,op,mode,says", [
    ("tensorflow", "adaptive", "avg", "transposed to NHWC: its pooling kernels take NHWC only"),
    ("onnxruntime", "adaptive", "max", None),  # NCHW: nothing transposed
    ("paddle", "adaptive", "max", "transposed to NCHW: its adaptive max pooling takes NCHW only"),
], ids=["emulated-from-its-pooling", "nothing-to-transpose", "its-own-op"])
def test_a_transposition_names_the_op_that_needs_it(backend, op, mode, says):
    """An adaptive pooling the framework has not (TensorFlow) is emulated with its plain
    pooling, whose kernels need the layout; one it has (Paddle's adaptive max) needs it itself."""
    from pooling_xfw import planner
    from pooling_xfw.adaptive import make_adaptive_spec, resolve_adaptive

    vocab = __import__(f"pooling_xfw.adapters.{backend}", fromlist=["VOCABULARY"]).VOCABULARY
    layout = "NCHW" if backend != "paddle" else "NHWC"
    x = np.zeros((1, 2, 7, 7) if layout == "NCHW" else (1, 7, 7, 2), np.float32)
    geom = resolve_adaptive(make_adaptive_spec(3, mode, layout), x.shape)
    adaptations = planner.build_plan(vocab, ops.of(geom), geom, x.dtype, x.shape).adaptations
    transposed = [a for a in adaptations if a.startswith("transposed")]
    assert transposed == ([says] if says else []), adaptations


def test_tensorflow_never_pools_a_window_wider_than_its_input():
    """Every bin length is at most its axis: the windows TF's emulation pools with, for every
    size pair 1..24, fit the tensor they pool (a wider VALID window is SIGFPE under oneDNN).
    The bins are computed when the code runs: each plan's ``op:let`` values are evaluated for
    the input size, and the gather's indices are checked to lie inside what they index."""
    from types import SimpleNamespace

    from pooling_xfw.adapters import tensorflow
    from pooling_xfw.plan import Expr

    def value(arg, env):
        return arg.evaluate(env) if isinstance(arg, Expr) else arg

    for o in range(1, 25):
        plan = tensorflow.adaptive_plan(np.zeros((1, 5, 5, 1), np.float32), o, "max",
                                        layout="NHWC")
        assert plan.runs_shape_code or o == 1
        for n in range(1, 25):  # one plan, every size
            env = {"x": SimpleNamespace(shape=(1, n, n, 1))}
            sizes = {"x": (n, n)}
            for step in plan.steps:
                kwargs = dict(step.kwargs)
                if step.fn == "op:let":
                    env[step.out] = value(step.args[0], env)
                elif step.fn == "tf.nn.max_pool2d":
                    source = sizes[step.args[0].name]
                    kernel = [value(k, env) for k in kwargs["ksize"]]
                    assert all(1 <= k <= s for k, s in zip(kernel, source)), (n, o, kernel)
                    sizes[step.out] = tuple((s - k) // st + 1
                                            for s, k, st in zip(source, kernel,
                                                                kwargs["strides"]))
                elif step.fn in ("tf.gather", "tf.concat"):
                    source = sizes[(step.args[0][0] if step.fn == "tf.concat"
                                    else step.args[0]).name]
                    axis = kwargs["axis"]
                    if step.fn == "tf.gather":
                        index = value(step.args[1], env)
                        assert all(0 <= i < source[axis - 1] for i in index), (n, o, index)
                        length = len(index)
                    else:
                        length = sum(sizes[v.name][axis - 1] for v in step.args[0])
                    sizes[step.out] = tuple(length if i == axis - 1 else v
                                            for i, v in enumerate(source))
            assert sizes[plan.steps[-1].out] == (o, o), (n, o, sizes)


IN_PROCESS = """
import numpy as np, paddle, pooling_xfw as px
from pooling_xfw.runtime.client import WorkerPool
x = np.random.default_rng(0).standard_normal((2, 3, 7, 10)).astype(np.float32)
with WorkerPool() as pool:
    for op, extra in (("adaptive", dict(output_size=(3, None))), ("global", dict(keepdims=False))):
        here = px.compare(x, op=op, mode="max", backends=["paddle"], pool=pool, **extra)
        assert not pool._workers, "a worker was started"
        there = px.compare(x, op=op, mode="max", backends=["paddle"], pool=pool,
                           inprocess=False, **extra)
        a, b = here.results["paddle"], there.results["paddle"]
        assert a.status == b.status == "agree", (a, b)
        assert a.how == b.how and np.array_equal(a.output, b.output)
        pool.close()
print("ok")
"""


def test_in_process_path_runs_adaptive_and_global(tmp_path):
    """In Paddle's environment, with paddle imported: no worker, the same result as one."""
    run_in_backend_env("paddle", IN_PROCESS, tmp_path)


# --- the code shown is the code that ran; large inputs ---------------------------------------------

@pytest.mark.parametrize("op,mode,dtype", [("adaptive", "max", "float32"),
                                           ("adaptive", "avg", "float32"),
                                           ("adaptive", "max", "float64"),
                                           ("global", "max", "float32"),
                                           ("global", "lp", "float64")], ids="-".join)
def test_the_rendered_plan_runs_as_printed(hook_pool, op, mode, dtype):
    """Each backend's ``how["code"]`` (7x10 -> 3x4: a strided pooling and two bin lengths), run
    as text in its worker, gives the numbers ``compare`` judged."""
    x = _input((7, 10), dtype, "NCHW")
    extra = dict(output_size=(3, 4)) if op == "adaptive" else {}
    result = px.compare(x, op=op, mode=mode, pool=hook_pool, **extra)
    for name, outcome in result.results.items():
        assert outcome.status == "agree", (name, outcome.detail)
        reply, arrays = hook_pool.worker(name).request(
            {"op": "test-hook", "action": "run-code", "code": outcome.how["code"]}, [x])
        assert reply["status"] == "ok", (name, reply)
        np.testing.assert_array_equal(arrays[0], outcome.output, err_msg=name)


@pytest.mark.parametrize("case", [dict(op="adaptive", output_size=(3, 5), mode="avg"),
                                  dict(op="adaptive", output_size=(4, None), mode="max"),
                                  dict(op="global", mode="lp", keepdims=False)],
                         ids=["adaptive-avg", "adaptive-max-None", "global-lp"])
def test_a_large_reference_in_blocks_gives_the_same_numbers(monkeypatch, case):
    from pooling_xfw import blocks as in_blocks
    from pooling_xfw.compare import resolve_case

    x = _random((5, 7, 9, 11), "float32", 6)
    op, _, _, geometry = resolve_case(dict(case, X=x))
    whole = ops.of(geometry).finish(geometry, in_blocks.reference_in_blocks(x, geometry))
    monkeypatch.setattr(in_blocks, "REFERENCE_BLOCK_BYTES", 1000)  # blocks of a few planes
    blocks = ops.of(geometry).finish(geometry, in_blocks.reference_in_blocks(x, geometry))
    np.testing.assert_array_equal(blocks, whole)
    direct = (px.adaptive_pool2d(x, **{k: v for k, v in case.items() if k != "op"})
              if op is ops.ADAPTIVE else px.global_pool2d(x, "lp", keepdims=False))
    np.testing.assert_array_equal(whole, direct)


BIG = np.array([[2**62 + 1, 0, 7], [-(2**62) - 1, 5, 3]], np.int64)


@pytest.mark.parametrize("backend", BACKENDS)
def test_int64_beyond_2_53_in_an_adaptive_max_is_exact_or_refused(pool, backend):
    """TensorFlow's and JAX's emulations pool int64 itself; the native adaptive ops take floats
    only (and MXNet's pooling no integers, ONNX Runtime's MaxPool no int64), so int64 is pooled
    in float64 there: refused, never rounded."""
    outcome = px.compare(BIG, op="adaptive", output_size=(1, 2), backends=[backend],
                         pool=pool).results[backend]
    if backend in ("tensorflow", "jax"):  # they pool int64 itself
        assert outcome.status == "agree" and outcome.output.tolist() == [[2**62 + 1, 7]]
    else:
        assert outcome.status == "error", outcome.detail
        assert "pools int64 in float64: |values| < 2**53" in outcome.detail
