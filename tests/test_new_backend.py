"""Adding a backend touches its adapter, its dialect and its requirements file, nothing else.

The proof: a throwaway backend, a test double whose "framework" is numpy, written here into a
temporary folder as the three files the docs' recipe asks for (``docs/adding-a-backend.md``),
registered from there, and run by ``compare`` (in this process and in a worker), ``report``
and ``conventions``, then by the command line with the adapter named in
``POOLING_XFW_ADAPTERS``.  No file of the toolkit changes for it.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw import registry
from pooling_xfw.runtime import envs
from pooling_xfw.runtime.client import WorkerPool

NAME = "numpydouble"

ADAPTER = '''\
"""A test double: a backend whose framework is numpy's sliding windows."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from pooling_xfw.adapter import bind, bind_adaptive, bind_grad
from pooling_xfw.argmax_plan import unpooled_shape
from pooling_xfw.backend import Backend
from pooling_xfw.vocabulary import ALL_DTYPES, Vocabulary, index_list

import xfw_numpy_double_dialect


def windows(x, mode, kernel, stride):
    """Unpadded floor-mode pooling of the spatial axes (every axis after N and C: 1-D, 2-D or
    3-D), window by window."""
    spatial = tuple(range(2, x.ndim))
    w = sliding_window_view(x, tuple(kernel), axis=spatial)
    w = w[(slice(None), slice(None), *(slice(None, None, s) for s in stride))]
    taps = tuple(range(-len(kernel), 0))
    return w.max(axis=taps) if mode == "max" else w.mean(axis=taps, dtype=x.dtype)


def scatter(values, indices, shape):
    """Each value at its flat index in a zeros array of ``shape`` (-1: written nowhere)."""
    out = np.zeros(int(np.prod(shape)), values.dtype)
    kept = indices.reshape(-1) >= 0
    out[indices.reshape(-1)[kept]] = values.reshape(-1)[kept]
    return out.reshape(shape)


class NumpyDouble(Vocabulary):
    name = "numpydouble"
    imports = ("import numpy as np", "from xfw_numpy_double import scatter, windows")
    pool_dtypes = ALL_DTYPES
    functions = {"maximum": "np.maximum", "abs": "np.abs", "ones_like": "np.ones_like",
                 "zeros_like": "np.zeros_like", "where": "np.where"}
    no_autograd = "numpydouble has no autograd: numpy computes forward only"

    def namespace(self):
        return {"np": np, "windows": windows, "scatter": scatter}

    def to_tensor(self, ns, array):
        return np.array(array)

    def to_numpy(self, ns, tensor):
        return np.asarray(tensor)

    def pad(self, plan, v, pads, value, layout):
        return plan.call("np.pad", v, ((0, 0), (0, 0), *map(tuple, pads)),
                         constant_values=value)

    def pool(self, plan, v, mode, kernel, stride, layout):
        return plan.call("windows", v, mode, list(kernel), list(stride))

    def reduce(self, plan, v, mode, axis):
        return plan.call("np.mean" if mode == "avg" else "np.max", v, axis=axis, keepdims=True)

    def cast(self, plan, v, dtype):
        return plan.call(".astype", v, dtype)

    def arange(self, plan, count):  # numbers the cells: the argmax where it has no call
        return plan.call("np.arange", count, dtype="float64")

    unpool_convention = "tensor"  # scatter's flat index

    def native_unpool(self, plan, geom, v, indices, layout):
        return plan.call("scatter", v, indices, unpooled_shape(geom, layout))

    def invert(self, plan, v):
        return plan.call("np.invert", v)

    def transpose(self, plan, v, perm):
        return plan.call("np.transpose", v, tuple(perm))

    def gather(self, plan, v, indices, axis):
        return plan.call("np.take", v, index_list(indices), axis=axis)

    def concat(self, plan, values, axis):
        return plan.call("np.concatenate", list(values), axis=axis)


VOCABULARY = NumpyDouble()
pool2d, plan, run = bind(VOCABULARY)
adaptive_pool2d, global_pool2d, adaptive_plan, global_plan = bind_adaptive(VOCABULARY)
pool2d_grad = bind_grad(VOCABULARY)

BACKEND = Backend(name="numpydouble", title="NumPy test double", module="numpy",
                  packages=("numpy",), dialect=xfw_numpy_double_dialect)
'''

DIALECT = '''\
"""How the test double's users spell pooling: ``double.max_pool(x, k, s)``."""
from pooling_xfw.dialect import NO, pair

IMPORTS = ("import numpy as np", "import xfw_numpy_double as double")
SIGNATURES = {"double.max_pool": ("x window stride", (NO, NO, None))}
SPELLINGS = {"xfw_numpy_double.max_pool": "double.max_pool"}
OTHER_POOLING = ()
NOT_A_FUNCTION = {}
DEFAULT_IMPORTS = {"double": "xfw_numpy_double"}
NAN_POLICY = "propagates NaN"


def to_spec(native, args):
    window = pair(args["window"])
    native.spec = dict(pool_size=window, mode="max", stride=pair(args.get("stride") or window),
                       padding=0, dilation=1, ceil_mode=False, count_include_pad=True,
                       layout="NCHW", p=2.0)
'''

PINS = "# the test double: numpy alone\nnumpy\n"


@pytest.fixture
def double(tmp_path, monkeypatch):
    """The test double's three files in a temporary folder, registered, run by this
    interpreter (numpy is its framework); forgotten afterwards."""
    (tmp_path / "xfw_numpy_double.py").write_text(ADAPTER)
    (tmp_path / "xfw_numpy_double_dialect.py").write_text(DIALECT)
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / f"{NAME}.txt").write_text(PINS)
    monkeypatch.syspath_prepend(str(tmp_path))
    declared = registry.load("xfw_numpy_double")
    envs.set_interpreter(NAME, sys.executable)
    yield declared
    envs.forget_interpreters()
    registry.unregister(NAME)
    for module in ("xfw_numpy_double", "xfw_numpy_double_dialect"):
        sys.modules.pop(module, None)


def test_the_double_is_a_backend_like_the_others(double):
    assert NAME in registry.names() and NAME in registry.defaults()
    assert registry.names()[-1] == NAME  # no position declared: after the built-in ones
    assert double.requirements.read_text() == PINS
    assert NAME in registry.porting_sources()
    assert envs.check_backend(NAME) == NAME


@pytest.mark.parametrize("inprocess", [True, False], ids=["in-process", "in-a-worker"])
def test_compare_runs_the_double(double, inprocess):
    x = np.arange(1, 37, dtype=np.float32).reshape(1, 1, 6, 6)
    with WorkerPool() as workers:
        result = px.compare(x, 3, "avg", stride=2, padding=1, backends=[NAME], pool=workers,
                            inprocess=inprocess, grad=True)
    outcome = result.results[NAME]
    assert (outcome.status, outcome.how["path"]) == ("agree", "emulated"), outcome.detail
    np.testing.assert_allclose(outcome.output, result.reference, rtol=1e-6)
    assert outcome.grad_status == "not compared" and "no autograd" in outcome.grad_detail


def test_the_double_propagates_a_nan_as_the_reference_does(double):
    """A NaN in a max window: numpy's max propagates it, as the reference does, so the double
    agrees where TensorFlow, MXNet and ONNX Runtime record a difference."""
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    x[0, 0, 0, 0] = np.nan
    with WorkerPool() as workers:
        result = px.compare(x, 2, stride=2, backends=[NAME], pool=workers, inprocess=False)
    assert result.results[NAME].status == "agree"


def test_report_and_conventions_have_a_column_for_the_double(double):
    from pooling_xfw import conventions, report

    with WorkerPool() as workers:
        doc = report.build(px.cases.CHAPTER, backends=[NAME], pool=workers)
        rows = conventions.measure(workers, backends=[NAME])
    assert doc["backends"][NAME]["status"] == "ready"
    assert {c["results"][NAME]["status"] for c in doc["cases"]} == {"agree"}
    table = conventions.markdown(rows, [NAME])
    assert table.splitlines()[0].startswith(f"| convention | {NAME} ")
    assert conventions.could_not_run(rows) == {}
    forward = [results[NAME] for probe, results in rows if not probe.grad]
    assert all(r.status == "agree" for r in forward), [r.detail for r in forward
                                                       if r.status != "agree"]


def test_the_doubles_dialect_is_read(double):
    from pooling_xfw.porting import parse

    native = parse(NAME, "double.max_pool(x, 3, 2)")
    assert native.spec["pool_size"] == 3 and native.spec["stride"] == 2
    assert "windows" not in native.source_plan().render()  # the call as its users write it


def test_the_command_line_runs_the_double(double, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(tmp_path), POOLING_XFW_ADAPTERS="xfw_numpy_double")
    proc = subprocess.run(
        [sys.executable, "-m", "pooling_xfw", "--python", f"{NAME}={sys.executable}", "compare",
         "--shape", "1,1,6,6", "--kernel", "2", "--backends", f"pytorch,{NAME}", "--format",
         "json"],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)["cases"][0]["results"]
    assert results[NAME]["status"] == "agree" and results["pytorch"]["status"] == "agree"
    listed = subprocess.run([sys.executable, "-m", "pooling_xfw", "compare", "--help"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert NAME in listed.stdout, textwrap.shorten(listed.stdout, 300)
