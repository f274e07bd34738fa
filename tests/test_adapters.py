"""Every backend, through its adapter in its own worker, gives the reference's numbers.

Max and min compare exactly; avg and lp within ``px.compare``'s default tolerance per dtype
(float16 2e-3, float32 1e-5 relative, float64 1e-10).  Each id reads as the spec it tests,
e.g. ``pytorch-avg-k3s2-same-NHWC-ceil-exclpad-float16``.
"""
import itertools

import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw import registry
from pooling_xfw.backend import NAN_IN_A_MAX, ONLY_INFINITE

BACKENDS = registry.defaults()

LAYOUTS = ("NCHW", "NHWC")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", px.cases.CHAPTER, ids=lambda c: c.name)
@pytest.mark.parametrize("backend", BACKENDS)
def test_chapter_example_on_every_backend(pool, backend, case, layout):
    case = case.with_layout(layout)
    result = px.compare(case.input, backends=[backend], pool=pool, **case.kwargs)
    outcome = result.results[backend]
    assert outcome.status == "agree", outcome.detail
    np.testing.assert_array_equal(outcome.output, case.expected)


# --- the grid ----------------------------------------------------------------------------------
PADDINGS = {"p0": 0, "p1": 1, "asym": ((2, 0), (0, 1)), "wide": 2, "same": "same",
            "samelower": "same_lower", "valid": "valid"}
WINDOWS = [1, 2, 3, 4, (2, 3), (3, 1)]
STRIDES = [1, 2, 3, (2, 1)]
DTYPES = {"max": ["float32", "float64", "float16", "int32", "int64", "uint8"],
          "min": ["float32", "int32", "float64", "int8"],
          "avg": ["float32", "float64", "float16", "int32"],
          "lp": ["float32", "float64"]}
SHAPE = (2, 3, 7, 6)  # N, C, H, W


def _input(dtype: str, layout: str) -> np.ndarray:
    """Mixed signs, and an all-negative top-left corner so that padding could win there."""
    rng = np.random.default_rng(7)
    x = rng.integers(-9, 10, size=SHAPE).astype(np.float64)
    x[:, :, :3, :3] = -rng.integers(1, 10, size=(2, 3, 3, 3))
    if dtype == "uint8":
        x = np.abs(x)
    x = x.astype(dtype)
    return np.moveaxis(x, 1, -1) if layout == "NHWC" else x


def _label(v) -> str:
    return "x".join(map(str, v)) if isinstance(v, tuple) else str(v)


def _grid():
    """Every (mode, padding, layout, ceil) for each backend; window, stride, dilation,
    count_include_pad and dtype rotate through their values so each appears many times."""
    rotation = itertools.count()
    for mode, (pad_name, padding), layout, ceil in itertools.product(
            DTYPES, PADDINGS.items(), LAYOUTS, (False, True)):
        for _ in range(2):
            i = next(rotation)
            window, stride = WINDOWS[i % len(WINDOWS)], STRIDES[(i // 2) % len(STRIDES)]
            dilation = 2 if i % 5 == 0 else 1
            include = mode != "avg" or i % 3 != 0
            dtype = DTYPES[mode][i % len(DTYPES[mode])]
            kwargs = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil,
                          count_include_pad=include, layout=layout, p=3 if i % 4 == 0 else 2)
            try:  # keep only specs the reference accepts for this input
                px.output_shape(_input("float32", layout).shape, window, **{
                    k: kwargs[k] for k in ("stride", "padding", "dilation", "ceil_mode", "layout")})
            except px.PoolingError:
                continue
            name = "-".join(filter(None, [
                mode, f"k{_label(window)}s{_label(stride)}", pad_name, layout,
                "ceil" if ceil else "", f"d{dilation}" if dilation > 1 else "",
                "" if include else "exclpad", f"p{kwargs['p']}" if mode == "lp" else "", dtype]))
            yield name, window, mode, dtype, kwargs


GRID = list(_grid())


@pytest.mark.parametrize("name,window,mode,dtype,kwargs", GRID, ids=[g[0] for g in GRID])
@pytest.mark.parametrize("backend", BACKENDS)
def test_grid_against_the_reference(pool, backend, name, window, mode, dtype, kwargs):
    x = _input(dtype, kwargs["layout"])
    outcome = px.compare(x, window, mode, backends=[backend], pool=pool, **kwargs).results[backend]
    assert outcome.status == "agree", f"{outcome.status}: {outcome.detail}"
    assert outcome.output.dtype == px.pool2d(x, window, mode, **kwargs).dtype


def test_grid_covers_the_issue_matrix():
    names = " ".join(g[0] for g in GRID)
    for token in ["max-", "avg-", "min-", "lp-", "-same-", "-samelower-", "-valid-", "-asym-",
                  "-wide-", "-ceil", "-d2", "-exclpad", "float16", "int32", "uint8", "NHWC",
                  "k2x3", "k4"]:
        assert token in names, token


# --- what stays a real difference ----------------------------------------------------------------
# A framework's own answer for a NaN or an infinity in a window varies with the CPU, its
# oneDNN/MKLDNN kernel path and its version, so these tests assert what the toolkit promises for
# WHATEVER came back: the reference is right; the status is ``agree`` exactly when the output is
# the reference; a difference names its cause.  What each framework returned is recorded as the
# set of outcomes seen, each with where it was seen; the tests assert membership, so a new
# outcome is noticed (record it, with where), and no one machine's value is required.

FLOATS = ("float16", "float32", "float64")


def assert_judged_rightly(outcome, reference: np.ndarray, cause: str) -> None:
    """``agree`` exactly when the output is the reference (NaN equal to NaN), else ``differ``
    naming ``cause``."""
    assert outcome.output.shape == reference.shape, outcome.detail
    if np.array_equal(outcome.output, reference, equal_nan=True):
        assert outcome.status == "agree", outcome.detail
    else:
        assert outcome.status == "differ", f"{outcome.status}: {outcome.detail}"
        assert cause in outcome.detail, outcome.detail


def _nan_windows(dtype: str) -> np.ndarray:
    """4x4, k2 s2: each window holds one NaN, at scan position 0, 3, 1, 2 respectively."""
    x = np.arange(1, 17, dtype=dtype).reshape(1, 1, 4, 4)
    for (r, c) in [(0, 0), (1, 3), (2, 1), (3, 2)]:
        x[0, 0, r, c] = np.nan
    return x


def _windows(x):
    """The four k2 s2 windows of a 4x4 array, each as its cells in scan order."""
    return x.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(2, 2, 4)


NAN_POLICIES = {  # what a max returns for a window holding a NaN, window by window (NAN_OUTCOMES)
    "propagated": lambda w: np.where(np.isnan(w).any(axis=-1), np.nan, np.nanmax(w, axis=-1)),
    "ignored": lambda w: np.nanmax(w, axis=-1),
    "NaN only as the last cell scanned": lambda w: np.where(np.isnan(w[..., -1]), np.nan,
                                                            np.nanmax(w, axis=-1)),
    "NaN only as the first cell scanned": lambda w: np.where(np.isnan(w[..., 0]), np.nan,
                                                             np.nanmax(w, axis=-1)),
}
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_in_a_max_window(pool, backend, dtype):
    x = _nan_windows(dtype)
    result = px.compare(x, 2, stride=2, backends=[backend], pool=pool)
    np.testing.assert_array_equal(result.reference, np.full((1, 1, 2, 2), np.nan, dtype))
    outcome = result.results[backend]
    assert_judged_rightly(outcome, result.reference, "NaN in the window ignored")
    got = outcome.output[0, 0]
    policies = {name for name, policy in NAN_POLICIES.items()
                if np.array_equal(got, policy(_windows(x[0, 0])), equal_nan=True)}
    recorded = registry.get(backend).outcomes(NAN_IN_A_MAX, "pool2d", dtype).seen
    assert policies & set(recorded), (
        f"{backend} {dtype} gave {got.tolist()} ({', '.join(policies) or 'no known policy'}); "
        f"recorded: {dict(recorded)}: add it to its backend's known outcomes, with where it was "
        f"seen")


def _extreme(dtype: str, mode: str) -> float:
    """The finite value at the reference's infinity's end of ``dtype``'s range."""
    return np.finfo(dtype).min if mode == "max" else np.finfo(dtype).max


@pytest.mark.parametrize("mode,infinity", [("max", -np.inf), ("min", np.inf)],
                         ids=["max-of-only-minus-inf", "min-of-only-plus-inf"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_window_of_only_infinity(pool, backend, dtype, mode, infinity):
    """Max of a window of only -inf is -inf (min of only +inf: +inf); a framework's lowest
    (largest) finite value there is a difference named as such.  Min is -max(-x) everywhere."""
    sign = 1 if mode == "max" else -1
    x = sign * np.arange(16, dtype=dtype).reshape(1, 1, 4, 4)
    x[0, 0, :2, :2] = infinity
    result = px.compare(x, 2, mode, stride=2, backends=[backend], pool=pool)
    np.testing.assert_array_equal(result.reference[0, 0], [[infinity, sign * 7],
                                                          [sign * 13, sign * 15]])
    outcome = result.results[backend]
    assert_judged_rightly(outcome, result.reference, f"only {'-' if sign > 0 else '+'}inf")
    np.testing.assert_array_equal(outcome.output[0, 0].ravel()[1:], [sign * 7, sign * 13,
                                                                     sign * 15])
    got = outcome.output[0, 0, 0, 0]
    seen = {name for name, value in [("infinity", infinity),
                                     ("finite extreme", _extreme(dtype, mode))] if got == value}
    recorded = registry.get(backend).outcomes(ONLY_INFINITE, "pool2d", dtype).seen
    assert seen & set(recorded), (f"{backend} {dtype} {mode} gave {got!r}; recorded: "
                                  f"{dict(recorded)}: add it to its backend's known outcomes, "
                                  f"with where it was seen")


# --- finite values a framework's own pooling mishandles ------------------------------------------

BEYOND_FLOAT32 = {  # name: (window, kwargs); 3x3 input
    "k3-p1": (3, dict(padding=1)),
    "k3-p0": (3, dict(padding=0)),
    "k2-asym": (2, dict(padding=((1, 0), (0, 1)))),
    "k2-same": (2, dict(padding="same")),
    "k2s2-p1-ceil": (2, dict(stride=2, padding=1, ceil_mode=True)),
    "k3-p1-NHWC": (3, dict(padding=1, layout="NHWC")),
}


@pytest.mark.parametrize("mode", ["max", "min"])
@pytest.mark.parametrize("geometry", BEYOND_FLOAT32)
@pytest.mark.parametrize("backend", BACKENDS)
def test_float64_values_beyond_float32s_range(pool, backend, geometry, mode):
    """-1e300 is a float64 like any other: its max is -1e300 (min of 1e300: 1e300), padding or
    not.  Paddle's float64 max pooling starts from (and pads with) float32's lowest, -3.4e38,
    which beats -1e300."""
    window, kwargs = BEYOND_FLOAT32[geometry]
    value = -1e300 if mode == "max" else 1e300
    x = np.full((1, 1, 3, 3), value)
    result = px.compare(x, window, mode, backends=[backend], pool=pool, **kwargs)
    assert result.reference.size and (result.reference == value).all()
    outcome = result.results[backend]
    assert outcome.status == "agree", outcome.detail
    assert (outcome.output == value).all()


# --- how: native where the framework can, emulated (and why) where it cannot -----------------------

@pytest.mark.parametrize("backend,window,kwargs,path", [
    ("pytorch", 3, dict(padding=1, stride=2), "native"),
    ("pytorch", 3, dict(padding=((1, 0), (1, 0)), stride=2), "emulated"),
    ("pytorch", 2, dict(padding=1, stride=2, ceil_mode=True), "native"),
    ("tensorflow", 3, dict(padding="same", stride=2), "native"),
    ("tensorflow", 3, dict(padding=1, stride=2), "native"),
    ("tensorflow", 3, dict(padding=1, stride=2, ceil_mode=True), "emulated"),
    ("mxnet", 3, dict(padding=1, stride=2, ceil_mode=True), "native"),
    ("mxnet", 2, dict(padding=1, stride=2, ceil_mode=True, input=5), "emulated"),
    ("mxnet", 3, dict(dilation=2), "emulated"),
    ("paddle", 3, dict(padding=((2, 0), (0, 1))), "native"),
    ("paddle", 3, dict(padding=1, stride=2, ceil_mode=True), "native"),
    ("paddle", 2, dict(padding=1, stride=2, ceil_mode=True, input=5), "emulated"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_plan_path(pool, backend, window, kwargs, path):
    """6x6 unless stated: k3 s2 p1 ceil keeps 4 windows everywhere.  On 5x5, k2 s2 p1 ceil's
    last window starts in the padding and is dropped, which MXNet ``full`` and Paddle's ceil
    do not do (on 6x6 there is none to drop): their ceil mode, cropped to the spec's count
    computed from the input's shape when the code runs, the same code for every size."""
    n = kwargs.pop("input", 6)
    x = np.arange(n * n, dtype=np.float32).reshape(1, 1, n, n) - 30
    outcome = px.compare(x, window, backends=[backend], pool=pool, **kwargs).results[backend]
    assert outcome.status == "agree", outcome.detail
    assert outcome.how["path"] == path, outcome.how
    assert path == "native" or outcome.how["emulated_by"]
    if kwargs.get("ceil_mode") and n == 5 and backend in ("mxnet", "paddle"):
        assert ("ceil_mode=True" if backend == "paddle" else "'full'") in outcome.how["code"]
        assert "[:, :, :oh, :ow]" in outcome.how["code"]


# --- dtypes at the boundary ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["int16", "uint16", "uint32", "uint64", "int8", "uint8"])
@pytest.mark.parametrize("mode", ["max", "min", "avg"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_integer_dtype_is_handed_over_exactly(pool, backend, mode, dtype):
    info = np.iinfo(dtype)
    x = np.array([[info.min, info.min + 1, 7, 9], [3, 5, min(info.max, 2**40), 1]], dtype)
    outcome = px.compare(x, 2, mode, padding=1, backends=[backend], pool=pool).results[backend]
    assert outcome.status == "agree", outcome.detail
    assert outcome.output.dtype == px.pool2d(x, 2, mode, padding=1).dtype


BIG = np.array([[2**62 + 1, 0], [-(2**62) - 1, 5]], np.int64)


@pytest.mark.parametrize("backend", BACKENDS)
def test_int64_beyond_2_53_is_exact_or_refused_never_rounded(pool, backend):
    outcome = px.compare(BIG, (1, 2), backends=[backend], pool=pool).results[backend]
    if backend in ("pytorch", "tensorflow", "jax"):  # they pool int64 natively
        assert outcome.status == "agree" and outcome.output[0, 0] == 2**62 + 1
    else:  # only in float64: refused with the reason
        assert outcome.status == "error"
        assert "pools int64 in float64: |values| < 2**53" in outcome.detail


def test_compare_sees_a_difference_of_one_in_int64():
    from pooling_xfw.compare import BackendResult, judge

    result = BackendResult("x", "", output=np.array([2**62], np.int64))
    judge(result, np.array([2**62 + 1], np.int64), (0.0, 0.0))
    assert result.status == "differ"


@pytest.mark.parametrize("mode", ["max", "min"])
@pytest.mark.parametrize("h,w", [(12, 11), (16, 16), (64, 48)], ids=["12x11", "16x16", "64x48"])
@pytest.mark.parametrize("channels", [1, 2, 3], ids=lambda c: f"C{c}")
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_nhwc_integers_on_more_cells_than_the_dtype_counts(pool, backend, dtype, channels, h, w,
                                                           mode):
    """H*W (and H*W*C) past 127 / 255: PyTorch's channels-last integer max pool indexes with
    the element type; with one channel the transposed tensor is also channels-last."""
    info = np.iinfo(dtype)
    x = (np.arange(2 * h * w * channels) % 100 + max(info.min, -50)).astype(dtype)
    x = x.reshape(2, h, w, channels)
    result = px.compare(x, 2, mode, stride=2, layout="NHWC", backends=[backend], pool=pool)
    windows = x[:, : h // 2 * 2, : w // 2 * 2].reshape(2, h // 2, 2, w // 2, 2, channels)
    expected = getattr(windows, mode)(axis=(2, 4))
    np.testing.assert_array_equal(result.reference, expected)
    outcome = result.results[backend]
    assert outcome.status == "agree", f"{outcome.status}: {outcome.detail}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_big_endian_input(pool, backend):
    x = np.arange(16, dtype=">f4").reshape(4, 4) - 8
    outcome = px.compare(x, 2, "avg", padding=1, backends=[backend], pool=pool).results[backend]
    assert outcome.status == "agree", outcome.detail


@pytest.mark.parametrize("backend", BACKENDS)
def test_cancelling_large_averages_are_judged_against_the_input_scale(pool, backend):
    x = np.array([[2**31 - 1, -(2**31), 1]], np.int64)
    outcome = px.compare(x, (1, 3), "avg", backends=[backend], pool=pool).results[backend]
    assert outcome.status == "agree", outcome.detail


# --- inputs as they come: read-only, memory-mapped, views ---------------------------------------
# Through a worker an input arrives as a fresh copy; with the framework imported in the caller,
# ``px.compare`` hands the caller's own array to the adapter.  So these run in each backend's own
# interpreter, on memory maps opened read-only (``np.load(..., mmap_mode="r")``) and views of
# them, with warnings as errors (PyTorch warns before sharing a read-only buffer).

READ_ONLY = {  # name: (stored array, view of the read-only map, window, mode, kwargs)
    "float32-max-k3s2p1": ("f32", "as is", 3, "max", dict(stride=2, padding=1)),
    "float32-avg-same-exclpad": ("f32", "as is", 3, "avg",
                                 dict(stride=2, padding="same", count_include_pad=False)),
    "float64-min-asym": ("f64", "as is", 2, "min", dict(padding=[[1, 0], [0, 1]])),
    "float64-max-p1": ("f64", "as is", 3, "max", dict(padding=1)),
    "float16-lp-p1": ("f16", "as is", 2, "lp", dict(padding=1)),
    "float32-max-d2": ("f32", "as is", 2, "max", dict(dilation=2)),
    "float32-avg-ceil-NHWC": ("f32", "channels last", 3, "avg",
                              dict(stride=2, padding=1, ceil_mode=True, layout="NHWC")),
    "int8-max-NHWC": ("i8", "channels last", 2, "max", dict(stride=2, layout="NHWC")),
    "uint16-max-p1": ("u16", "as is", 3, "max", dict(padding=1)),
    "big-endian-float32-avg": (">f4", "as is", 2, "avg", dict(padding=1)),
    "int8-one-channel-NCHW-view-of-NHWC": ("i8-hwc1", "NCHW view", 2, "max", dict(stride=2)),
    "float32-broadcast": ("row", "broadcast", 3, "max", dict(padding=1)),
}


def _stored(kind: str) -> np.ndarray:
    rng = np.random.default_rng(11)
    x = rng.integers(-9, 10, size=(2, 3, 7, 6))
    return {"f32": x.astype(np.float32), "f64": x * 1.5, "f16": x.astype(np.float16),
            "i8": x.astype(np.int8), "u16": (x + 9).astype(np.uint16) * 7000,
            ">f4": x.astype(">f4"),
            "i8-hwc1": rng.integers(-128, 128, size=(2, 16, 16, 1)).astype(np.int8),
            "row": np.arange(-4.0, 4.0, dtype=np.float32)}[kind]


IN_PROCESS = """
import json, sys, warnings
import numpy as np
import {module}  # the framework: compare now runs its adapter here, on the array as given
import pooling_xfw as px

warnings.simplefilter("error")
VIEWS = {{"as is": lambda m: m, "channels last": lambda m: np.moveaxis(m, 1, -1),
          "NCHW view": lambda m: m.transpose(0, 3, 1, 2),
          "broadcast": lambda m: np.broadcast_to(m, (1, 2, 8, 8))}}
results = {{}}
for name, (path, view, window, mode, kwargs) in json.loads(sys.argv[1]).items():
    mapped = np.load(path, mmap_mode="r")
    x = VIEWS[view](mapped)
    assert not x.flags.writeable
    try:
        r = px.compare(x, window, mode, backends=["{backend}"], **kwargs).results["{backend}"]
        results[name] = [r.status, r.detail]
    except Exception as exc:
        results[name] = ["raised", f"{{type(exc).__name__}}: {{exc}}"]
print(json.dumps(results))
"""

_in_process_results: dict = {}


def _run_in_process(backend: str, tmp_path_factory) -> dict:
    """Every READ_ONLY case, in ``backend``'s interpreter (once per backend)."""
    import json
    import subprocess

    from pooling_xfw.runtime import envs

    if backend not in _in_process_results:
        folder = tmp_path_factory.mktemp(f"read-only-{backend}")
        cases = {}
        for name, (kind, view, window, mode, kwargs) in READ_ONLY.items():
            path = folder / f"{kind}.npy"
            np.save(path, _stored(kind))
            path.chmod(0o444)
            cases[name] = [str(path), view, window, mode, kwargs]
        script = folder / "in_process.py"
        script.write_text(IN_PROCESS.format(module=registry.get(backend).module,
                                            backend=backend))
        proc = subprocess.run([envs.interpreter(backend), str(script), json.dumps(cases)],
                              capture_output=True, text=True, env=envs.quiet_env(),
                              timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        _in_process_results[backend] = json.loads(proc.stdout.strip().splitlines()[-1])
        for name, (kind, *_rest) in READ_ONLY.items():  # the stored inputs are untouched
            np.testing.assert_array_equal(np.load(folder / f"{kind}.npy"), _stored(kind))
    return _in_process_results[backend]


@pytest.mark.parametrize("case", READ_ONLY)
@pytest.mark.parametrize("backend", BACKENDS)
def test_read_only_input_in_process(tmp_path_factory, backend, case):
    status, detail = _run_in_process(backend, tmp_path_factory)[case]
    assert status == "agree", f"{status}: {detail}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_adapter_outside_its_environment_says_where_it_runs(monkeypatch, backend):
    """An adapter used where its framework does not import fails on use with one line naming
    the backend, its module and the fix, not an ImportError from deep inside the adapter.  The
    framework is made unimportable here (``sys.modules[module] = None``), so the test runs the
    same whichever frameworks this interpreter has."""
    import sys

    from pooling_xfw.adapter import BackendError

    declared = registry.get(backend)
    monkeypatch.setitem(sys.modules, declared.module, None)
    with pytest.raises(BackendError) as caught:
        declared.adapter.pool2d(np.ones((1, 1, 4, 4), np.float32), 2)
    message = str(caught.value)
    assert message.startswith(f"{backend}: its framework ({declared.module}) cannot be "
                              f"imported by this interpreter")
    assert f"pooling-xfw envs create --backends {backend}" in message
    assert caught.value.__cause__ is None and "\n" not in message
