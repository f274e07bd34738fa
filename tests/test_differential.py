"""Hypothesis-driven differential test: random specs and inputs, all four backends at once.

Bounded and reproducible (``derandomize``: the same examples on every run).  Inputs are finite
(NaN and infinities are covered as known divergences in ``test_adapters``).
"""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pooling_xfw as px

from .test_reference import PADDINGS, SIZES


@st.composite
def problems(draw):
    layout = draw(st.sampled_from(["NCHW", "NHWC"]))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    shape = (n, c, h, w) if layout == "NCHW" else (n, h, w, c)
    mode = draw(st.sampled_from(["max", "avg", "min", "lp"]))
    dtype = draw(st.sampled_from(["float32", "float64"] + (["int32"] if mode != "lp" else [])))
    seed = draw(st.integers(0, 2**32 - 1))
    x = np.random.default_rng(seed).normal(-1, 4, size=shape)
    x = np.round(x).astype(dtype) if dtype == "int32" else x.astype(dtype)
    kwargs = dict(stride=draw(SIZES), padding=draw(PADDINGS),
                  dilation=draw(st.sampled_from([1, 1, 2, (2, 1)])),
                  ceil_mode=draw(st.booleans()), count_include_pad=draw(st.booleans()),
                  layout=layout, p=draw(st.sampled_from([1.0, 2.0, 3.0])))
    pool_size = draw(SIZES)
    try:
        px.pool2d(x, pool_size, mode, **kwargs)
    except px.PoolingError:
        kwargs["padding"] = 0
        pool_size = 1
    return x, pool_size, mode, kwargs


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(problem=problems())
def test_every_backend_agrees_with_the_reference(pool, problem):
    x, pool_size, mode, kwargs = problem
    result = px.compare(x, pool_size, mode, pool=pool, **kwargs)
    failures = {b: f"{r.status}: {r.detail}" for b, r in result.results.items()
                if r.status != "agree"}
    assert not failures, failures
