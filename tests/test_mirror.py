"""Every backend's plan, run by numpy (``pooling_xfw.mirror``): the plans' own arithmetic.

No framework runs here.  Each backend's plans, with numpy in place of its framework, give the
reference's numbers on random specs and special values (NaN, infinities, values that swamp
their neighbours, large integers): an emulation whose arithmetic is wrong fails here, whatever
the framework does.  And when a backend's emulated plan differs and its numpy run gives the same
numbers, ``compare`` names pooling-xfw's plan as the cause, not the framework.
"""
import dataclasses
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import pooling_xfw as px
from pooling_xfw import emulation, ops, planner, registry, schedule
from pooling_xfw.blocks import reference_in_blocks
from pooling_xfw.compare import BackendResult, judge, resolve_case, tolerance
from pooling_xfw.mirror import mirror, mirrored_output
from pooling_xfw.plan import Plan, Var

from .test_reference import PADDINGS, SIZES

VOCABULARIES = {name: registry.get(name).vocabulary
                for name in registry.defaults()}


def _special(rng: np.random.Generator, shape, dtype: str, mode: str) -> np.ndarray:
    """Normal noise with NaN, +-inf, a value that swamps its window's others and one near
    the dtype's end (lp: magnitudes whose powers stay finite: its plan sums plain powers)."""
    x = rng.normal(0, 10, size=shape)
    flat = x.reshape(-1)
    picks = rng.choice(flat.size, min(flat.size, 5), replace=False)
    if np.dtype(dtype).kind == "f":
        big = {"float16": 6e4, "float32": 1e17, "float64": 1e17}[dtype]
        for index, value in zip(picks, (np.nan, np.inf, -np.inf, big, -big)):
            flat[index] = value if mode != "lp" or np.isnan(value) else np.sign(value) * 30
        return x.astype(dtype)
    x = np.round(x).astype(dtype)
    info = np.iinfo(dtype)
    x.reshape(-1)[picks[:2]] = (info.max // 2, info.min // 2 if info.min else 0)
    if dtype == "int64" and mode in ("max", "min"):
        x.reshape(-1)[picks[:2]] //= 2**11  # pooled in float64 by some: exact below 2**53
    return x


@st.composite
def cases(draw):
    """A case of any operation, with its input (either layout, several dtypes)."""
    op = draw(st.sampled_from(["pool2d", "adaptive", "global"]))
    modes = {"pool2d": ["max", "avg", "min", "lp"], "adaptive": ["max", "avg"],
             "global": ["max", "avg", "lp"]}[op]
    mode = draw(st.sampled_from(modes))
    dtype = draw(st.sampled_from(["float16", "float32", "float64", "int32", "int64", "uint8"]
                                 if mode != "lp" else ["float32", "float64"]))
    layout = draw(st.sampled_from(["NCHW", "NHWC"]))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    shape = (1, 2, h, w) if layout == "NCHW" else (1, h, w, 2)
    x = _special(np.random.default_rng(draw(st.integers(0, 2**32 - 1))), shape, dtype, mode)
    case = dict(X=x, op=op, mode=mode, layout=layout)
    if op == "adaptive":
        case["output_size"] = (draw(st.integers(0, 10) | st.none()), draw(st.integers(1, 10)))
    elif op == "global":
        case.update(keepdims=draw(st.booleans()), p=draw(st.sampled_from([1.0, 2.0, 3.0])))
    else:
        case.update(pool_size=draw(SIZES), stride=draw(SIZES), padding=draw(PADDINGS),
                    dilation=draw(st.sampled_from([1, 2, (2, 1)])), ceil_mode=draw(st.booleans()),
                    count_include_pad=draw(st.booleans()),
                    p=draw(st.sampled_from([1.0, 2.0, 3.0])))
    return case


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
@example(case=dict(  # ceil mode with stride 1 drops a last window of padding that floor keeps
    X=np.array([[[[2.0]]]], np.float32), op="pool2d", mode="max", layout="NCHW", pool_size=1,
    stride=1, padding=((0, 0), (0, 1)), dilation=2, ceil_mode=True, count_include_pad=False,
    p=1.0))
@example(case=dict(  # ceil mode with stride 2: pads computed from the shape when the code runs
    X=np.array([[[[0.125]]]], np.float32), op="pool2d", mode="max", layout="NCHW", pool_size=1,
    stride=2, padding=((0, 0), (0, 2)), dilation=2, ceil_mode=True, count_include_pad=False,
    p=1.0))
def test_every_backends_plan_computes_the_reference_in_numpy(case):
    try:
        _, _, x, geometry = resolve_case(dict(case))
    except px.PoolingError:
        return  # a draw the reference refuses (a window of padding only): nothing to plan
    with np.errstate(all="ignore"):
        reference = ops.of(geometry).finish(geometry,
                                            reference_in_blocks(x, geometry))
    failures = {}
    for name, vocab in VOCABULARIES.items():
        with np.errstate(all="ignore"):
            out = mirrored_output(vocab, geometry, x)
        result = BackendResult(name, "error", output=out)
        judge(result, reference, tolerance(geometry.spec.mode, reference.dtype))
        if result.status != "agree":
            failures[name] = result.detail
    assert not failures, failures


def test_the_float64_adaptive_average_of_onnxruntime_sums_each_bins_own_cells():
    """The plan that once took prefix-sum differences: ``[inf, 1, 2, 3]`` gave ``[inf, nan,
    nan, nan]`` and ``[1e17, 1, ...]`` ``[1e17, 0, ...]``; its numpy run gives the reference."""
    vocab = VOCABULARIES["onnxruntime"]
    for row in ([np.inf, 1, 2, 3], [1e17, 1, 2, 3, 4, 5], [2**60, 1, 2, 3, 4, 5]):
        x = np.array(row, np.int64 if row[0] == 2**60 else np.float64).reshape(1, 1, 1, -1)
        geometry = resolve_case(dict(X=x, op="adaptive", output_size=(1, x.shape[-1]),
                                     mode="avg"))[3]
        np.testing.assert_array_equal(mirrored_output(vocab, geometry, x),
                                      px.adaptive_pool2d(x, (1, x.shape[-1]), "avg"))


@pytest.mark.parametrize("name", sorted(VOCABULARIES))
def test_a_backends_primitives_are_its_frameworks_own_calls(name):
    """Every emulation is the shared planner's, where the numpy mirror runs it: a backend's
    primitive (pad, pool, cast, ...) is its framework's call, never an emulation of its own
    that a mirror would replace unseen."""
    vocab = VOCABULARIES[name]
    calls = {"pad": (((1, 1), (0, 2)), 0.0, "NCHW"), "pool": ("avg", (2, 2), (1, 1), "NCHW"),
             "cast": ("float32",), "transpose": ((0, 2, 3, 1),), "maximum": (Var("x"),),
             "abs": (), "ones_like": (), "zeros_like": (), "power": (2.0,),
             "add": (Var("x"),), "multiply": (2.0,), "divide": (Var("x"),), "negative": (),
             "equal": (0,), "getitem": ((slice(None), slice(None), slice(1, None),
                                         slice(None)),),
             "gather": ([0, 1], 2), "concat": None}
    for method, args in calls.items():
        for dtype in ("float32", "float64", "int32"):
            plan = Plan(name, vocab.imports, computes_in=dtype)
            try:
                if method == "concat":
                    getattr(vocab, method)(plan, [Var("x"), Var("x")], 2)
                else:
                    getattr(vocab, method)(plan, Var("x"), *args)
            except NotImplementedError:  # a primitive its plans never need (its own adaptive op)
                continue
            assert plan.path == "native" and not plan.emulated_by, (method, dtype,
                                                                   plan.emulated_by)


_EACH_BIN = emulation._each_bin


def _prefix_sum_bins(vocab, plan, v, axis, layout, n, o):
    """A deliberately wrong emulation (the one ONNX Runtime's plan once had): each bin's sum as
    a difference of running sums, which an inf or a swamping value spoils for every later bin."""
    if axis == 0:  # the test's input has one row (H): its one bin as it is
        return _EACH_BIN(vocab, plan, v, axis, layout, n, o)
    dim = emulation._axis_of(layout, axis)
    size = 4  # the test's input length: running sums by shifted adds
    running = v
    for shift in (1, 2):
        before = ((0, 0), (shift, 0))
        shifted = vocab.getitem(plan, vocab.pad(plan, running, before, 0, layout),
                                emulation._axis_cut(layout, axis, slice(0, size)))
        running = vocab.add(plan, running, shifted)
    plan.emulate("prefix sums")
    parts = []
    for i in range(o):  # one cell per bin here: c[i] - c[i - 1]
        last = vocab.getitem(plan, running, emulation._axis_cut(layout, axis, slice(i, i + 1)))
        if i:
            before = vocab.getitem(plan, running,
                                   emulation._axis_cut(layout, axis, slice(i - 1, i)))
            last = vocab.add(plan, last, vocab.negative(plan, before))
        parts.append(last)
    return vocab.concat(plan, parts, dim)


def _job(case):
    job = schedule.Job(dict(case), None, None)
    job.compute_reference()
    return job


def test_a_difference_the_plan_itself_computes_is_named_as_the_plans(monkeypatch):
    """A backend whose emulated plan gives ``[inf, nan, nan, nan]``: the numpy run of the same
    plan gives it too, so the report blames pooling-xfw's plan, not the framework."""
    monkeypatch.setattr(emulation, "_each_bin", _prefix_sum_bins)
    x = np.array([np.inf, 1, 2, 3]).reshape(1, 1, 1, 4)
    case = dict(X=x, op="adaptive", output_size=(1, 4), mode="avg")
    job = _job(case)
    vocab = VOCABULARIES["onnxruntime"]
    wrong = mirrored_output(vocab, job.geometry, x)  # what the worker would have computed
    np.testing.assert_array_equal(wrong, [[[[np.inf, np.nan, np.nan, np.nan]]]])
    plan = planner.build_plan(vocab, job.op, job.geometry, x.dtype, x.shape)
    result = BackendResult("onnxruntime", "error")
    schedule.take_reply(result, {"status": "ok", "how": plan.describe()}, [wrong],
                               job.reference, job.tol, job.scale, job.bounds, job)
    assert result.status == "differ"
    assert "pooling-xfw's own plan, not onnxruntime's behaviour" in result.detail, result.detail
    assert "prefix sums" in result.detail


def test_a_difference_the_plan_does_not_compute_stays_the_frameworks():
    """The same emulated plan, correct: a backend output that differs from it (a framework op
    that ignored a NaN) is not blamed on the plan, and keeps its known cause."""
    x = np.array([[1.0, np.nan, 2.0, 3.0]]).reshape(1, 1, 1, 4)
    job = _job(dict(X=x, op="adaptive", output_size=(1, 2), mode="avg"))
    vocab = VOCABULARIES["onnxruntime"]
    plan = planner.build_plan(vocab, job.op, job.geometry, x.dtype, x.shape)
    assert plan.path == "emulated"
    framework = np.array([[[[1.0, 2.5]]]])  # the NaN ignored
    result = BackendResult("onnxruntime", "error")
    schedule.take_reply(result, {"status": "ok", "how": plan.describe()}, [framework],
                               job.reference, job.tol, job.scale, job.bounds, job)
    assert result.status == "differ"
    assert "pooling-xfw" not in result.detail
    assert "NaN in the window ignored" in result.detail


def test_a_mirror_keeps_the_backends_decisions():
    """The mirror plans what the backend plans (the same layouts, casts and emulations): only
    its steps are numpy's."""
    for name, vocab in VOCABULARIES.items():
        x = np.zeros((1, 5, 5, 2), np.int32)
        geometry = resolve_case(dict(X=x, op="pool2d", pool_size=3, stride=2, padding="same",
                                     mode="min", layout="NHWC"))[3]
        real = planner.build_plan(vocab, ops.of(geometry), geometry, x.dtype, x.shape)
        numpy_plan = planner.build_plan(mirror(vocab), ops.of(geometry), geometry, x.dtype,
                                              x.shape)
        assert dataclasses.astuple(real)[3:9] == dataclasses.astuple(numpy_plan)[3:9], name
