"""Hypothesis-driven differential test: random specs and inputs, every default backend at once.

Bounded and reproducible (``derandomize``: the same examples on every run).  Inputs are finite
(NaN and infinities are covered as known divergences in ``test_adapters``).  8-bit inputs'
sides are sometimes past the cell counts an 8-bit index holds (H*W > 127 / 255); the 8-bit NHWC
one-channel inputs that once broke PyTorch's integer max pool are always among the examples.
"""
import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import pooling_xfw as px

from .test_reference import PADDINGS, SIZES


SIDES = st.integers(1, 9)
SIDES_8BIT = SIDES | st.sampled_from([12, 16, 23, 40])
INTEGERS = ["int32", "int8", "uint8"]


def _values(seed: int, shape, dtype: str) -> np.ndarray:
    x = np.random.default_rng(seed).normal(-1, 4, size=shape)
    if dtype == "uint8":
        return np.round(np.abs(x)).astype(dtype)
    return np.round(x).astype(dtype) if dtype in INTEGERS else x.astype(dtype)


@st.composite
def problems(draw):
    mode = draw(st.sampled_from(["max", "avg", "min", "lp"]))
    dtype = draw(st.sampled_from(["float32", "float64"] + (INTEGERS if mode != "lp" else [])))
    layout = draw(st.sampled_from(["NCHW", "NHWC"]))
    sides = SIDES_8BIT if dtype in ("int8", "uint8") else SIDES
    h, w = draw(sides), draw(sides)
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    shape = (n, c, h, w) if layout == "NCHW" else (n, h, w, c)
    x = _values(draw(st.integers(0, 2**32 - 1)), shape, dtype)
    pool_size, kwargs = draw_spec(draw, x, mode, layout)
    return x, pool_size, mode, kwargs


def draw_spec(draw, x: np.ndarray, mode: str, layout: str) -> tuple:
    """A random window and every px.pool2d convention for ``x``: (pool_size, kwargs); a draw
    the input cannot take (a window or pad too large) becomes a 1x1 window without padding."""
    kwargs = dict(stride=draw(SIZES), padding=draw(PADDINGS),
                  dilation=draw(st.sampled_from([1, 1, 2, (2, 1)])),
                  ceil_mode=draw(st.booleans()), count_include_pad=draw(st.booleans()),
                  layout=layout, p=draw(st.sampled_from([1.0, 2.0, 3.0])))
    pool_size = draw(SIZES)
    try:
        px.pool2d(x, pool_size, mode, **kwargs)
    except px.PoolingError:
        kwargs["padding"], pool_size = 0, 1
    return pool_size, kwargs


def _nhwc_one_channel(dtype: str, shape, mode: str, pool_size=2, **kwargs):
    return _values(1, shape, dtype), pool_size, mode, dict(layout="NHWC", **kwargs)


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(problem=problems())
@example(problem=_nhwc_one_channel("int8", (1, 12, 11, 1), "max", stride=2))
@example(problem=_nhwc_one_channel("uint8", (1, 16, 16, 1), "max", stride=2))
@example(problem=_nhwc_one_channel("int8", (2, 40, 37, 1), "max", 3, stride=2, padding=1))
@example(problem=_nhwc_one_channel("uint8", (2, 64, 48, 1), "min", 3, stride=2, padding=1))
@example(problem=_nhwc_one_channel("uint8", (1, 23, 40, 1), "max", 2, padding="same",
                                   ceil_mode=True))
def test_every_backend_agrees_with_the_reference(pool, problem):
    x, pool_size, mode, kwargs = problem
    result = px.compare(x, pool_size, mode, pool=pool, **kwargs)
    failures = {b: f"{r.status}: {r.detail}" for b, r in result.results.items()
                if r.status != "agree"}
    assert not failures, failures
