"""compare's judge, specified: per-window tolerances and the tolerance arguments.

No backend runs here: a backend's output is written by hand and judged against the reference.
"""
import math
import re

import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw.compare import BackendResult, check_tolerance, input_scale, judge, tolerance
from pooling_xfw.spec import make_spec


def judged(x, pool_size, mode, output, **kwargs):
    """Judge a hand-written backend ``output`` as compare does, with its default tolerances."""
    reference = px.pool2d(x, pool_size, mode, **kwargs)
    output = np.asarray(output, reference.dtype).reshape(reference.shape)
    result = BackendResult("backend", "", output=output)
    judge(result, reference, tolerance(mode, reference.dtype),
          input_scale(x, make_spec(pool_size, mode, **kwargs)))
    return result


# --- one large value does not blind the other windows ------------------------------------------
#
# Two (1, 2) windows with stride 2: the left one holds a large value, the right one is small and
# its reported value is wrong.  Before, the absolute tolerance was rtol * max|input| for every
# window (float32: 1e-5 * 1e12 = 1e7, so 5e6 for a mean of 1 "agreed"); now each window's
# tolerance is rtol times that window's own magnitude (mean |x| = 1 there; lp of |x| = 5).

@pytest.mark.parametrize("dtype,big,mode,p,wrong_output", [
    # true outputs: avg [big/2, 1]; lp (p=2) of [big, 0] and [3, 4]: [big, 5]
    ("float32", 1e12, "avg", 2, [5e11, 5e6]),    # old atol 1e-5 * 1e12 = 1e7
    ("float64", 1e20, "avg", 2, [5e19, 5e6]),    # old atol 1e-10 * 1e20 = 1e10
    ("float16", 6e4, "avg", 2, [3e4, 50]),       # old atol 2e-3 * 6e4 = 120
    ("float32", 1e12, "lp", 2, [1e12, 6]),       # old atol 1e7; 6 vs the true 5
    ("float64", 1e20, "lp", 1, [1e20, 9]),       # p=1: |3| + |4| = 7, reported 9
], ids=["float32-avg", "float64-avg", "float16-avg", "float32-lp2", "float64-lp1"])
def test_a_large_value_elsewhere_does_not_hide_a_wrong_window(dtype, big, mode, p,
                                                               wrong_output):
    small = [1, 1] if mode == "avg" else [3, 4]
    x = np.array([[big, 0, *small]], dtype)
    result = judged(x, (1, 2), mode, wrong_output, stride=2, p=p)
    assert result.status == "differ"
    assert [index for index, _, _ in result.differing] == [(0, 1)]  # the small window only


@pytest.mark.parametrize("x,mode,output", [
    # [1e12, -1e12, 1, 1]: true mean 0.5; summed left to right in float32, 1e12 + 1 loses
    # the 1, giving (0 + 1) / 4 = 0.25: digits lost relative to the window's own 5e11 mean |x|
    (np.array([[1e12, -1e12, 1, 1]], np.float32), "avg", [0.25]),
    # the same in float64, with 1e20: 1e-10 * 5e19 = 5e9 of slack, well above 0.25
    (np.array([[1e20, -1e20, 1, 1]]), "avg", [0.25]),
    # last-bit differences of an ordinary mean, [1, 2, 3, 4] -> 2.5
    (np.array([[1, 2, 3, 4]], np.float32), "avg", [2.5 * (1 + 4e-6)]),
    # lp has no cancellation: sqrt(9 + 16) = 5 within rtol only
    (np.array([[3, -4, 0, 0]], np.float32), "lp", [5 * (1 - 4e-6)]),
], ids=["float32-cancelling", "float64-cancelling", "float32-last-bits", "float32-lp"])
def test_window_within_its_own_tolerance_agrees(x, mode, output):
    assert judged(x, (1, 4), mode, output).status == "agree"


@pytest.mark.parametrize("output,status", [
    ([math.nan, math.inf], "agree"),
    ([math.nan, 1e30], "differ"),    # an infinite window's magnitude must not widen its atol
    ([0.0, math.inf], "differ"),     # NaN only equals NaN
], ids=["same-non-finite", "finite-for-inf", "number-for-nan"])
def test_non_finite_windows_compare_exactly(output, status):
    x = np.array([[math.nan, 1, math.inf, 1]])  # windows [nan, 1] -> nan, [inf, 1] -> inf
    assert judged(x, (1, 2), "avg", output, stride=2).status == status


def test_max_and_min_stay_exact_next_to_large_values():
    x = np.array([[1e12, 0, 1, 2]], np.float32)  # max of [1, 2] is 2, exactly
    result = judged(x, (1, 2), "max", [1e12, 2 + 2**-20], stride=2)
    assert result.status == "differ"


def test_without_a_spec_the_scale_is_the_largest_finite_magnitude():
    # kept for callers that judge two outputs without knowing the pooling
    assert input_scale(np.array([[1, -7, math.inf, math.nan]])) == 7.0


# --- the tolerance arguments -------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,arg", [
    (dict(rtol=-1), "rtol"), (dict(rtol="a"), "rtol"), (dict(rtol=math.nan), "rtol"),
    (dict(rtol=math.inf), "rtol"), (dict(rtol=True), "rtol"), (dict(rtol=[1e-5]), "rtol"),
    (dict(rtol=1j), "rtol"), (dict(atol=math.nan), "atol"), (dict(atol=-1e-9), "atol"),
    (dict(atol=np.float32("inf")), "atol"), (dict(rtol=1e-5, atol="0"), "atol"),
], ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={v[k]!r}" for k in v))
def test_invalid_tolerance_names_itself(kwargs, arg):
    value = re.escape(repr(kwargs[arg]))
    with pytest.raises(px.PoolingError, match=rf"^{arg}: got {value}; allowed: .*finite"):
        check_tolerance(kwargs.get("rtol"), kwargs.get("atol"))


@pytest.mark.parametrize("rtol,atol", [(None, None), (0, 0), (1e-3, None), (None, 2),
                                       (np.float32(1e-3), np.float64(0.0))],
                         ids=["defaults", "zeros", "rtol-only", "int-atol", "numpy-scalars"])
def test_valid_tolerance_is_accepted(rtol, atol):
    check_tolerance(rtol, atol)


def test_compare_refuses_a_bad_tolerance_before_any_backend_runs():
    with pytest.raises(px.PoolingError, match=r"^rtol: got -1; allowed: "):
        px.compare(np.ones((2, 2)), 2, "avg", backends=["pytorch"], pool=object(), rtol=-1)


@pytest.mark.parametrize("output,largest,cell", [
    ([3.0, 7.0], math.nan, "DIFFER NaN"),      # the NaN window ignored: no distance to a NaN
    ([math.nan, math.inf], math.inf, "DIFFER inf"),  # a window of finite values given as inf
    ([math.nan, 9.0], 2.0, "DIFFER 2"),
], ids=["nan-on-one-side", "inf-on-one-side", "finite"])
def test_the_largest_difference_is_nan_where_a_nan_stands_against_a_number(output, largest,
                                                                          cell):
    from pooling_xfw.report.table import result_cell

    x = np.array([[1.0, math.nan, 3.0, 7.0]], np.float32)
    result = judged(x, (1, 2), "max", output, stride=(1, 2))
    assert result.status == "differ"
    assert (math.isnan(result.max_abs_diff) if math.isnan(largest)
            else result.max_abs_diff == largest), result.max_abs_diff
    assert result_cell({"status": "differ", "max_abs_diff": result.max_abs_diff}) == cell


def test_a_subnormal_flushed_to_zero_is_named():
    x = np.full((1, 2), 1e-40, np.float32)
    result = judged(x, (1, 2), "max", [0.0])
    assert result.status == "differ" and "a subnormal result flushed to zero" in result.detail
