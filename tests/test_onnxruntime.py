"""The ONNX Runtime backend.

Its forward grid, chapter cases and NaN/-inf outcomes are ``test_adapters``' matrix, as for
every default backend; here: global and adaptive pooling, float64 computed in float64, its
nodes, and the divergences measured on ONNX Runtime 1.32.0 (CPU), each asserted as what the toolkit
promises for whatever came back: ``agree`` exactly when the output is the reference, else
``differ`` with the cause, and the outcome among those recorded with where they were seen.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw import registry
from pooling_xfw.runtime import envs
from tests.conftest import started
from tests.test_adapters import _input

ORT = "onnxruntime"


@pytest.fixture(scope="module")
def ort_pool():
    with started([ORT]) as (workers, _):
        yield workers


def _compare(pool, X, *args, **kwargs):
    return px.compare(X, *args, backends=[ORT], pool=pool, **kwargs).results[ORT]


def test_a_default_backend_with_its_own_venv():
    assert ORT in registry.defaults() and envs.check_backend(ORT) == ORT
    assert envs.base_python_version(ORT) is None  # built from the toolkit's own Python


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32"])
@pytest.mark.parametrize("op,kwargs", [("global", dict(mode="max")), ("global", dict(mode="avg")),
                                       ("global", dict(mode="lp", p=3)),
                                       ("global", dict(mode="avg", keepdims=False,
                                                       layout="NHWC")),
                                       ("adaptive", dict(output_size=(3, 4), mode="max")),
                                       ("adaptive", dict(output_size=(3, 4), mode="avg"))],
                         ids=["gmax", "gavg", "glp3", "gavg-nhwc-dropped", "amax", "aavg"])
def test_global_and_adaptive(ort_pool, op, kwargs, dtype):
    x = _input(dtype, kwargs.get("layout", "NCHW"))
    outcome = _compare(ort_pool, x, op=op, **kwargs)
    assert outcome.status == "agree", outcome.detail


# --- float64: only MaxPool has a kernel; the rest is emulated in float64, never float32 -------

@pytest.mark.parametrize("op,kwargs,node", [
    ("pool2d", dict(pool_size=3, mode="avg", stride=2, padding=1), "AveragePool"),
    ("pool2d", dict(pool_size=2, mode="lp", p=2), "LpPool"),
    ("global", dict(mode="avg"), "GlobalAveragePool"),
    ("global", dict(mode="max"), "GlobalMaxPool"),
], ids=["avg", "lp", "global-avg", "global-max"])
def test_float64_is_computed_in_float64(ort_pool, op, kwargs, node):
    """Values 1 + k*2**-40 are not float32 numbers: a float32 computation would round them
    away; the float64 result agrees at float64's tolerance, and the float32-only node is not
    in the model."""
    x = 1 + np.arange(36, dtype=np.float64).reshape(1, 1, 6, 6) * 2.0 ** -40
    if op == "pool2d":
        outcome = _compare(ort_pool, x, **kwargs)
    else:
        outcome = _compare(ort_pool, x, op=op, **kwargs)
    assert outcome.status == "agree", outcome.detail
    assert outcome.output.dtype == np.float64
    assert f"'{node}'" not in outcome.how["code"]
    assert "TensorProto.FLOAT," not in outcome.how["code"]
    assert np.unique(outcome.output).size == outcome.output.size or op == "global"
    if op == "global" and kwargs["mode"] == "max":
        assert "'MaxPool'" in outcome.how["code"]
    else:
        assert "NOT_IMPLEMENTED" in " ".join(outcome.how["emulated_by"])


@pytest.mark.parametrize("row,dtype", [([np.inf, 1, 2, 3], "float64"),
                                       ([1e17, 1, 2, 3, 4, 5], "float64"),
                                       ([2**60, 1, 2, 3, 4, 5], "int64")],
                         ids=["inf-first", "1e17-first", "int64-2**60-first"])
def test_a_float64_adaptive_average_sums_each_bins_own_cells(ort_pool, row, dtype):
    """No float64 AveragePool: each bin is its own cells' mean (a Slice and a ReduceMean per
    bin), never a difference of running sums, which carried the inf or the 1e17 into every
    later bin (``[inf, nan, nan, nan]``, ``[1e17, 0, 0, 0, 0, 0]``); larger inputs too."""
    x = np.array(row, dtype).reshape(1, 1, 1, -1)
    outcome = _compare(ort_pool, x, op="adaptive", output_size=(1, x.shape[-1]), mode="avg")
    assert outcome.status == "agree", outcome.detail
    assert "'CumSum'" not in outcome.how["code"] and "'ReduceMean'" in outcome.how["code"]
    big = np.random.default_rng(0).normal(0, 1e3, (2, 3, 19, 23)).astype(dtype)
    big[0, 0, 3, 4], big[1, 2, 0, 0] = row[0], -row[0] if dtype == "float64" else 7
    for output_size in ((7, 7), (5, None), (1, 1), (30, 4)):
        outcome = _compare(ort_pool, big, op="adaptive", output_size=output_size, mode="avg")
        assert outcome.status == "agree", (output_size, outcome.detail)


def test_float32_uses_the_native_nodes(ort_pool):
    x = _input("float32", "NCHW")
    for kwargs, node in ((dict(pool_size=3, mode="avg", stride=2, padding=1), "AveragePool"),
                         (dict(pool_size=2, mode="lp", p=2), "LpPool")):
        outcome = _compare(ort_pool, x, **kwargs)
        assert outcome.status == "agree" and outcome.how["path"] == "native", outcome.how
        assert f"helper.make_node('{node}'" in outcome.how["code"]


# --- SAME with dilation, pads >= the kernel: explicit pads ---------------------------------------

def test_same_with_dilation_uses_explicit_pads(ort_pool):
    """ONNX Runtime computes SAME pads as if the window were not dilated (k3 d2 over 5 cells:
    3 outputs where SAME gives 5): the adapter passes SAME's pads computed from the input's
    shape when the code runs, never auto_pad, and the same code holds at other sizes."""
    for size in (5, 6, 9):
        x = np.arange(size * size, dtype=np.float32).reshape(1, 1, size, size)
        outcome = _compare(ort_pool, x, 3, dilation=2, padding="same")
        assert outcome.status == "agree", outcome.detail
        assert outcome.output.shape == (1, 1, size, size)
        code = outcome.how["code"]
        assert "auto_pad" not in code and "pads=[ph // 2, pw // 2, ph - ph // 2, pw - pw // 2]" \
            in code and "helper.make_node('MaxPool'" in code, code
    plain = _compare(ort_pool, x, 3, stride=2, padding="same")
    assert plain.status == "agree" and "auto_pad='SAME_UPPER'" in plain.how["code"]


def test_pads_not_smaller_than_the_kernel_are_padded_explicitly(ort_pool):
    """"Pad should be smaller than kernel" (rejected at session creation): a Pad node."""
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4) - 20
    outcome = _compare(ort_pool, x, 2, padding=2, dilation=2)
    assert outcome.status == "agree", outcome.detail
    assert "helper.make_node('Pad'" in outcome.how["code"]


# --- NaN and -inf: ONNX Runtime's own answers, reported ---------------------------------------

def test_nan_with_and_without_the_indices_output():
    """The adapter never asks for MaxPool's Indices; asked for, they change the value: on
    [5, 5 | 1, nan | 3, 3] (k2 s2) the NaN window is nan without Indices and 1 with them."""
    code = (
        "import numpy as np, onnxruntime as ort\n"
        "from onnx import TensorProto, helper\n"
        "x = np.array([5, 5, 1, np.nan, 3, 3], np.float32).reshape(1, 1, 1, 6)\n"
        "def run(outputs):\n"
        "    node = helper.make_node('MaxPool', ['x'], outputs, kernel_shape=[1, 2], "
        "strides=[1, 2])\n"
        "    info = [helper.make_tensor_value_info(o, TensorProto.FLOAT if o == 'y' else "
        "TensorProto.INT64, None) for o in outputs]\n"
        "    graph = helper.make_graph([node], 'g', [helper.make_tensor_value_info('x', "
        "TensorProto.FLOAT, [1, 1, 1, 6])], info)\n"
        "    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 22)])\n"
        "    s = ort.InferenceSession(model.SerializeToString(), "
        "providers=['CPUExecutionProvider'])\n"
        "    return s.run(None, {'x': x})[0].ravel().tolist()\n"
        "print(run(['y']), run(['y', 'i']))\n")
    proc = subprocess.run([envs.interpreter(ORT), "-c", code], capture_output=True, text=True,
                          env=envs.quiet_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    without, with_indices = (eval(part.replace("nan", "float('nan')"))  # noqa: S307
                             for part in proc.stdout.strip().replace("] [", "]|[").split("|"))
    assert np.isnan(without[1]) and without[0] == 5 and without[2] == 3
    assert with_indices == [5, 1, 3]


def test_global_max_nan_depends_on_the_order(ort_pool):
    first = _compare(ort_pool, np.array([[np.nan, 1], [2, 3]], np.float32), op="global")
    last = _compare(ort_pool, np.array([[0, 1], [2, np.nan]], np.float32), op="global")
    assert "'GlobalMaxPool'" in first.how["code"]
    outcomes = {(float(first.output.ravel()[0]), first.status),
                (float(np.nan_to_num(last.output.ravel()[0], nan=-1)), last.status)}
    assert outcomes == {(3.0, "differ"), (-1.0, "agree")}, outcomes
    assert "NaN in the window ignored" in first.detail


# --- gradients: none, said so -----------------------------------------------------------------

def test_gradient_is_not_compared_with_the_reason(ort_pool):
    x = _input("float32", "NCHW")
    result = px.compare(x, 3, stride=2, padding=1, grad=True, backends=[ORT], pool=ort_pool)
    outcome = result.results[ORT]
    assert outcome.status == "agree", outcome.detail  # the forward still ran and is judged
    assert outcome.grad_status == "not compared" and outcome.grad_input is None
    assert result.ok  # nothing to compare is not a failure
    assert "no autograd" in outcome.grad_detail and "InferenceSession" in outcome.grad_detail


# --- the code shown and the model exported --------------------------------------------------------

def test_rendered_code_runs_as_printed_in_a_fresh_interpreter(ort_pool, tmp_path):
    x = _input("float32", "NHWC")
    outcome = _compare(ort_pool, x, 3, "avg", stride=2, padding="same", count_include_pad=False,
                       layout="NHWC")
    assert outcome.status == "agree", outcome.detail
    np.save(tmp_path / "x.npy", x)
    script = (f"import numpy as np\nx = np.load({str(tmp_path / 'x.npy')!r})\n"
              f"{outcome.how['code']}\nnp.save({str(tmp_path / 'y.npy')!r}, y)\n")
    proc = subprocess.run([envs.interpreter(ORT), "-c", script], capture_output=True,
                          text=True, env=envs.quiet_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), outcome.output)


def test_compare_save_onnx_writes_a_model_that_runs_in_a_fresh_session(tmp_path):
    out = tmp_path / "models"
    proc = subprocess.run([sys.executable, "-m", "pooling_xfw", "compare", "--shape",
                           "1,2,6,6", "--kernel", "3", "--stride", "2", "--padding", "1",
                           "--backends", ORT, "--save-onnx", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    models = sorted(out.glob("*.onnx"))
    assert len(models) == 1 and models[0].name.startswith("MaxPool-"), models
    assert f"wrote {models[0]}" in proc.stderr
    x = np.random.default_rng(3).standard_normal((1, 2, 6, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    script = ("import numpy as np, onnxruntime as ort\n"
              f"s = ort.InferenceSession({str(models[0])!r}, "
              "providers=['CPUExecutionProvider'])\n"
              f"y = s.run(None, {{'x': np.load({str(tmp_path / 'x.npy')!r})}})[0]\n"
              f"np.save({str(tmp_path / 'y.npy')!r}, y)\n")
    run = subprocess.run([envs.interpreter(ORT), "-c", script], capture_output=True, text=True,
                         env=envs.quiet_env(), timeout=120)
    assert run.returncode == 0, run.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"),
                                  px.pool2d(x, 3, stride=2, padding=1))


def test_save_onnx_without_the_backend_is_a_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pooling_xfw", "compare", "--shape", "1,1,4,4",
                           "--kernel", "2", "--backends", "pytorch", "--save-onnx",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f"pooling-xfw: error: --save-onnx {tmp_path}: no onnxruntime backend"), proc.stderr


@pytest.mark.parametrize("folder,problem", [
    ("", "empty"),
    ("dangling", "a symlink to {tmp}/nowhere, which does not exist"),
    ("loop", "a symlink loop"),
    ("/proc/1/nope", "cannot be made (No such file or directory)"),
    ("afile", "not a directory"),
    ("afile/sub", "{tmp}/afile is not a directory"),
    ("missing/sub", "{tmp}/missing does not exist"),
], ids=["empty", "dangling-symlink", "symlink-loop", "a-place-that-takes-no-directories",
        "a-file", "under-a-file", "under-a-missing-directory"])
def test_save_onnx_to_a_folder_it_cannot_use_is_a_usage_error(tmp_path, folder, problem):
    """One line, exit 2, before any worker starts: the folder named as typed and what is
    wrong with it."""
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop")
    (tmp_path / "afile").write_text("")
    typed = folder if folder.startswith("/") or not folder else str(tmp_path / folder)
    proc = subprocess.run([sys.executable, "-m", "pooling_xfw", "compare", "--shape", "1,1,4,4",
                           "--kernel", "2", "--backends", ORT, "--save-onnx", typed],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    shown = f"'{typed}'" if not typed else typed
    assert proc.stderr.strip().splitlines() == [
        f"pooling-xfw: error: --save-onnx {shown}: {problem.format(tmp=tmp_path)}; allowed: a "
        f"directory, or one to create in an existing directory"], proc.stderr


def test_save_onnx_names_this_runs_models_only_and_blames_no_framework_for_a_write(tmp_path):
    """A folder holding a file of another run, a dangling link and, once, a directory where the
    model's file would go: the files this run wrote are named, nothing else; a model that cannot
    be written is the toolkit's error, said as such, never ONNX Runtime's."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "Older-0000000000.onnx").write_bytes(b"")
    (folder / "dangling.onnx").symlink_to(tmp_path / "nowhere")
    args = [sys.executable, "-m", "pooling_xfw", "compare", "--shape", "1,1,7,7", "--kernel",
            "2", "--backends", ORT, "--save-onnx", str(folder)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    wrote = [line for line in proc.stderr.splitlines() if " wrote " in line]
    assert len(wrote) == 1 and "MaxPool-" in wrote[0], proc.stderr
    model = wrote[0].split(" wrote ", 1)[1]
    (folder / os.path.basename(model)).unlink()
    (folder / os.path.basename(model)).mkdir()  # the model's name taken by a directory
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr
    assert "PoolingError: POOLING_XFW_SAVE_ONNX: cannot write" in proc.stdout
    assert "(Is a directory)" in proc.stdout and "BackendError" not in proc.stdout
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["Older-0000000000.onnx", "dangling.onnx", os.path.basename(model)])  # no leftovers


def test_an_lp_power_past_int64_is_the_plans_own_arithmetic_not_an_attribute_overflow(ort_pool):
    """LpPool's p is an int64 attribute: p = 1e20 does not fit, so the plan computes lp from
    Pow and a window sum (where x**1e20 underflows: the plan's own arithmetic, said so), never
    an ONNX attribute overflow blamed on ONNX Runtime."""
    x = np.arange(1, 17, dtype=np.float32).reshape(1, 1, 4, 4) / 32
    outcome = _compare(ort_pool, x, 2, mode="lp", p=1e20)
    assert "'LpPool'" not in outcome.how["code"] and "BackendError" not in outcome.detail
    assert outcome.status == "differ" and "pooling-xfw's own plan" in outcome.detail, \
        outcome.detail
