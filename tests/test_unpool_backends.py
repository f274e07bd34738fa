"""Max unpooling in every backend (``op="max_unpool"``, ``compare --kernel K --unpool``): the
reference pools the input with indices, every backend unpools those values at those indices to
the input's size with its own call (PyTorch's and Paddle's ``max_unpool``, ONNX ``MaxUnpool``) or
its recipe (TensorFlow's ``scatter_nd``, JAX's ``put``, MXNet's ``scatter_nd``).

The measured behaviour is ``../notes/wave3-semantics.md`` section 3, re-run here: the natural
duplicate (k2 s1 of ``[[1,2,3],[4,9,5],[6,7,8]]``: four windows name the 9) is written once,
except by TensorFlow's ``scatter_nd``, which sums it (36); Paddle's ``max_unpool2d`` given -1
corrupts its heap and hangs, so it is not run unless asked, and when asked its worker is
contained by the call timeout.
"""
import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw import registry

from .test_cli import cli

BACKENDS = registry.defaults()
RNG = np.random.default_rng(3)
X = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
NATURAL = np.array([[1, 2, 3], [4, 9, 5], [6, 7, 8]], np.float32).reshape(1, 1, 3, 3)
L5 = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 5)

#: (id, input, keyword arguments): windows apart, overlapping (shared cells), padded, odd
#: sizes (the output larger than the default), channels-last, 1-D, 3-D, float64
GRID = [
    ("k2s2", X, dict(pool_size=2, stride=2)),
    ("k3s2p1-overlap", X, dict(pool_size=3, stride=2, padding=1)),
    ("k2s2-odd", X[:, :, :7, :7].copy(), dict(pool_size=2, stride=2)),
    ("k2s2-nhwc", X.transpose(0, 2, 3, 1).copy(), dict(pool_size=2, stride=2, layout="NHWC")),
    ("1d-k3s3", RNG.standard_normal((2, 4, 30)).astype(np.float32),
     dict(pool_size=3, stride=3, layout="NCW")),
    ("3d-k2s2", RNG.standard_normal((1, 2, 4, 6, 6)).astype(np.float32),
     dict(pool_size=2, stride=2, layout="NCDHW")),
    ("float64-k2s2", X.astype(np.float64), dict(pool_size=2, stride=2)),
    ("natural-duplicate", NATURAL, dict(pool_size=2, stride=1)),
]


@pytest.fixture(scope="module")
def grid(pool):
    cases = [dict(X=x, op="max_unpool", **kwargs) for _, x, kwargs in GRID]
    return dict(zip([g[0] for g in GRID], px.compare_many(cases, backends=BACKENDS, pool=pool)))


#: what each framework does with a cell that several windows name: write it once, or sum
SUMS_DUPLICATES = {"tensorflow"}


@pytest.mark.parametrize("name", [g[0] for g in GRID])
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_unpools_as_the_reference_or_names_the_sum(grid, name, backend):
    """Disjoint windows agree everywhere; where windows share a cell, TensorFlow's recipe sums
    their values (the cause named), every other backend writes the value once.  ONNX Runtime's
    ``MaxUnpool`` has no float64 kernel (NOT_IMPLEMENTED, measured): its error says so."""
    result = grid[name].results[backend]
    shared = name in ("k3s2p1-overlap", "natural-duplicate")
    if backend == "onnxruntime" and name.startswith("float64"):
        assert result.status == "error" and "no float64 kernel" in result.detail, result.detail
    elif backend in SUMS_DUPLICATES and shared:
        assert result.status == "differ" and "values summed" in result.detail, result.detail
    else:
        assert result.status == "agree", result.detail


def test_the_natural_duplicate_is_the_notes_numbers(grid):
    """The note's k2 s1 case: 9 written once (PyTorch, Paddle, ONNX Runtime, JAX, MXNet), 36
    from TensorFlow's scatter_nd."""
    comparison = grid["natural-duplicate"]
    assert comparison.reference[0, 0, 1, 1] == 9
    for name, result in comparison.results.items():
        assert result.output[0, 0, 1, 1] == (36 if name in SUMS_DUPLICATES else 9), name


def test_a_sum_rounded_in_float16_is_named_a_sum(pool):
    """Three windows name the one cell of 2.302734375 (k3 s1 p1): TensorFlow's scatter_nd adds
    the three in float16, 6.90625 (the exact 6.908203125 rounded), and the cause is named as
    it is in float32; every other backend writes the value once."""
    x = np.array([0, 2.302734375, 0], np.float16).reshape(1, 1, 3)
    comparison = px.compare(x, 3, stride=1, padding=1, layout="NCW", op="max_unpool",
                            backends=BACKENDS, pool=pool)
    for name, result in comparison.results.items():
        if name in SUMS_DUPLICATES:
            assert result.output[0, 0, 1] == np.float16(6.90625), result.output
            assert "3 windows name holds their values summed" in result.detail, result.detail
        else:
            assert result.status == "agree", (name, result.detail)


@pytest.fixture(scope="module")
def minus_one(pool):
    """Index -1: MXNet's 'full' / a kept window of padding only (L5, k2 s2 p1)."""
    return px.compare(L5, 2, stride=2, padding=1, ceil_mode="keep", layout="NCW",
                      op="max_unpool", backends=BACKENDS, pool=pool)


def test_an_index_of_minus_one_is_never_run_where_it_crashes(minus_one):
    """Paddle (heap corruption) and MXNet (a segfault) are not run on -1: their status is
    error, with the measured reason and how to run it anyway."""
    for name in ("paddle", "mxnet"):
        detail = minus_one.results[name].detail
        assert minus_one.results[name].status == "error"
        assert "KnownCrash" in detail and "run_known_crashes=True" in detail, detail


def test_an_index_of_minus_one_in_the_others(minus_one):
    """The reference writes nothing for -1; JAX's put wraps it to the last cell (named);
    PyTorch, TensorFlow and ONNX Runtime refuse the call, in their own words."""
    assert minus_one.reference.ravel().tolist() == [1, 0, 3, 0, 5]
    jax = minus_one.results["jax"]
    assert jax.status == "differ" and "wrapped to the plane's last cell" in jax.detail
    for name in ("pytorch", "tensorflow", "onnxruntime"):
        assert minus_one.results[name].status == "error", minus_one.results[name].detail


def test_a_crash_run_on_request_is_contained(pool):
    """Asked for, Paddle's and MXNet's calls on -1 run: each ends as its backend's error (the
    worker dead or past the call timeout), and every other backend keeps its result."""
    comparison = px.compare(L5, 2, stride=2, padding=1, ceil_mode="keep", layout="NCW",
                            op="max_unpool", run_known_crashes=True, backends=BACKENDS,
                            pool=pool, timeout=30)
    for name in ("paddle", "mxnet"):
        result = comparison.results[name]
        assert result.status == "error" and "KnownCrash" not in result.detail, result.detail
    assert comparison.results["jax"].status == "differ"
    # the pool goes on: the restarted workers unpool the next case
    after = px.compare(X, 2, stride=2, op="max_unpool", backends=["paddle", "mxnet"], pool=pool)
    assert {r.status for r in after.results.values()} == {"agree"}


def test_unpooling_at_a_video_size(pool):
    """A (2, 16, 8, 56, 56) float32 activation (a C3D block), 2/2: every backend agrees."""
    x = np.random.default_rng(11).standard_normal((2, 16, 8, 56, 56)).astype(np.float32)
    comparison = px.compare(x, 2, stride=2, layout="NCDHW", op="max_unpool",
                            backends=BACKENDS, pool=pool)
    assert {n: r.status for n, r in comparison.results.items()} == {
        n: "agree" for n in BACKENDS}, {n: r.detail for n, r in comparison.results.items()}


def test_the_command_line():
    """``compare --kernel 2 --unpool``; ``--run-known-crashes`` only with it."""
    proc = cli("compare", "--shape", "1,2,6,6", "--kernel", "2", "--unpool", "--backends",
               "pytorch,jax")
    assert proc.returncode == 0 and "unpool2d" in proc.stdout, proc.stderr
    proc = cli("compare", "--shape", "1,1,4,4", "--kernel", "2", "--run-known-crashes")
    assert proc.returncode == 2 and "not without --unpool" in proc.stderr, proc.stderr
