"""JAX, a default backend whose venv is built from another Python than the toolkit's.

Its venv is built from ``adapters/requirements/jax.txt``, whose ``# python: 3.12`` line names
the base Python (jax 0.12 needs >= 3.12): found on PATH, then through pyenv.  ``make test``
builds it; a missing environment is a failure here, never a skip.  The forward grid, the
chapter cases and what JAX returns for a NaN or an infinity are ``tests/test_adapters.py``'s
matrix, as for every default backend; here: its environment, integer dtypes pooled in the
dtype itself, adaptive and global pooling, gradients, and JAX's measured
divergences: Flax's low-precision float16 average, no VJP for a dilated max, and the abort of
a ``reduce_window`` with negative padding and a window of 1 (contained in its worker).
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw import registry
from pooling_xfw.runtime import envs, interpreters, pins as pin_files
from pooling_xfw.runtime.client import WorkerFailure, WorkerPool

from .conftest import started
from .test_adapters import _input

JAX = "jax"


@pytest.fixture(scope="module")
def jax_pool():
    with started([JAX]) as (workers, _):  # its own: a test here aborts its worker
        yield workers


def _compare(pool, x, *args, **kwargs):
    return px.compare(x, *args, backends=[JAX], pool=pool, **kwargs).results[JAX]


# --- the registry and the environment -------------------------------------------------------------

def test_jax_is_a_default_backend():
    from pooling_xfw.cli.args import backends_named as _backends
    from pooling_xfw.compare import backend_names

    assert JAX in registry.names() and JAX in registry.defaults()
    assert backend_names(None) == list(registry.defaults()) == _backends(None)
    assert backend_names([JAX]) == [JAX] and _backends("JAX,pytorch") == [JAX, "pytorch"]
    assert registry.get(JAX).module == "jax"


def test_its_pins_name_the_base_python_and_key_the_venv():
    assert envs.base_python_version(JAX) == "3.12"
    assert all(envs.base_python_version(b) is None for b in registry.defaults() if b != JAX)
    python, version = envs.base_python(JAX)
    assert version.startswith("3.12.")
    assert envs.python_version_of(python) == version
    assert envs.fingerprint(JAX) == envs.fingerprint_of(envs.pins_text(JAX), version)
    assert envs.fingerprint(JAX) != envs.fingerprint_of(envs.pins_text(JAX),
                                                         sys.version.split()[0])
    venv = envs.current_dir(JAX)
    assert venv == envs.env_dir(JAX) and venv.name == envs.env_name(JAX)
    assert envs.read_stamp(venv)["python"] == version
    assert envs.python_version_of(envs.interpreter(JAX)) == version


def test_envs_create_reuses_the_venv(capsys):
    from pooling_xfw.cli import main

    before = (envs.env_dir(JAX) / "bin" / "python").stat().st_mtime_ns
    assert main(["envs", "create", "--backends", "jax"]) == 0
    assert "jax: up to date" in capsys.readouterr().err
    assert (envs.env_dir(JAX) / "bin" / "python").stat().st_mtime_ns == before


def _fake_python(folder, name, body):
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def pins_asking(tmp_path, monkeypatch):
    """Pins asking for a given base Python, in a scratch pins' directory."""
    def ask(version):
        pins = tmp_path / "pins"
        pins.mkdir(exist_ok=True)
        (pins / "jax.txt").write_text(f"# python: {version}\njax==0.12.0.1\n")
        monkeypatch.setattr(pin_files, "REQUIREMENTS_DIR", pins)
        monkeypatch.setattr(interpreters, "_base_found", {})
    return ask


def test_base_python_on_path_comes_first(tmp_path, monkeypatch, pins_asking):
    real, version = envs.base_python(JAX)
    pins_asking("3.12")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3.12").symlink_to(real)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert envs.base_python(JAX) == (str(bin_dir / "python3.12"), version)


def test_base_python_through_pyenv_when_path_has_only_a_failing_shim(tmp_path, monkeypatch,
                                                                      pins_asking):
    real, version = envs.base_python(JAX)
    pins_asking("3.12")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_python(bin_dir, "python3.12", "echo 'pyenv: python3.12: command not found' >&2; exit 127")
    _fake_python(bin_dir, "pyenv", f"[ \"$1\" = prefix ] && [ \"$2\" = 3.12 ] && "
                                   f"echo {os.path.dirname(os.path.dirname(real))}")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    python, found = envs.base_python(JAX)
    assert found == version and envs.python_version_of(python) == version
    assert python.startswith(os.path.dirname(os.path.dirname(real)))


def test_a_missing_base_python_is_unavailable_with_the_fix(tmp_path, monkeypatch, pins_asking):
    pins_asking("3.99")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.delenv("POOLING_XFW_PYTHON_JAX", raising=False)
    assert envs.base_python(JAX) is None
    reason = envs.unavailable_reason(JAX)
    assert "\n" not in reason
    for part in ("jax needs Python 3.99", "python3.99 on PATH", "pyenv",
                 "`pyenv install 3.99` then `pooling-xfw envs create --backends jax`",
                 "--python jax=/path/to/python3.99"):
        assert part in reason, reason
    status, = envs.create([JAX], progress=lambda b, m: None)
    assert status.state == "missing" and status.fix == envs.fix_command(JAX)
    assert envs.inspect(JAX).state == "missing"
    with WorkerPool() as workers:
        outcome = px.compare(np.ones((4, 4)), 2, backends=[JAX], pool=workers).results[JAX]
    assert outcome.status == "unavailable" and outcome.detail == reason


# --- the forward: the chapter, the grid, NaN and infinities ---------------------------------------

@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16", "int32", "uint32",
                                   "int64", "uint64"])
@pytest.mark.parametrize("mode", ["max", "min", "avg"])
def test_every_integer_dtype_is_pooled_exactly(jax_pool, mode, dtype):
    """JAX pools every integer dtype (x64 on): max/min in the dtype itself, padding with the
    dtype's minimum; int64 beyond 2**53 is exact, not refused."""
    info = np.iinfo(dtype)
    x = np.array([[info.min, info.min + 1, 7, 9], [3, 5, info.max - 1, 1]], dtype)
    outcome = _compare(jax_pool, x, 2, mode, padding=1)
    assert outcome.status == "agree", outcome.detail
    assert outcome.output.dtype == px.pool2d(x, 2, mode, padding=1).dtype
    if mode != "avg":
        assert outcome.how["computes_in"] == dtype


@pytest.mark.parametrize("window,kwargs,path,call", [
    (3, dict(padding=1, stride=2), "native", "nn.max_pool"),
    (3, dict(padding="same", stride=2, mode="avg", count_include_pad=False), "native",
     "nn.avg_pool"),
    (3, dict(padding=((2, 0), (0, 1))), "native", "nn.max_pool"),
    (2, dict(dilation=2, padding=1), "native", "lax.reduce_window"),
    (3, dict(padding=1, stride=2, ceil_mode=True), "emulated", "jnp.pad"),
    (3, dict(padding=1, stride=2, ceil_mode=True, mode="avg"), "emulated", "jnp.pad"),
    (2, dict(dilation=2, mode="avg"), "emulated", None),
], ids=lambda v: v if isinstance(v, str) else None)
def test_plan_path(jax_pool, window, kwargs, path, call):
    """Flax's pooling where it fits, ``lax.reduce_window`` for a dilated max, emulation for
    ceil (no ceil mode: explicit pads, and the ones mask as the divisor: Flax's
    ``count_include_pad=True`` would count the overhang) and a dilated average."""
    x = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6) - 30
    mode = kwargs.pop("mode", "max")
    outcome = _compare(jax_pool, x, window, mode, **kwargs)
    assert outcome.status == "agree", outcome.detail
    assert outcome.how["path"] == path, outcome.how
    assert path == "native" or outcome.how["emulated_by"]
    assert call is None or call in outcome.how["calls"]
    assert "NHWC only" in " ".join(outcome.how["adaptations"])


def test_ceil_average_is_not_flax_counting_the_overhang(jax_pool):
    """On ones(5), k2 s2 ceil: the reference (and PyTorch) give 1 in the last window; Flax's
    ``avg_pool(count_include_pad=True)`` on the overhang-padded input gives 0.5 on the edges
    and 0.25 in the corner (measured in the JAX interpreter below): the adapter divides by the ones mask instead."""
    x = np.ones((1, 1, 5, 5), np.float32)
    outcome = _compare(jax_pool, x, 2, "avg", stride=2, ceil_mode=True)
    assert outcome.status == "agree", outcome.detail
    np.testing.assert_array_equal(outcome.output, np.ones((1, 1, 3, 3), np.float32))
    flax = _in_jax("import flax.linen as nn\n"
                   "y = nn.avg_pool(jnp.ones((1, 5, 5, 1)), (2, 2), strides=(2, 2), "
                   "padding=((0, 1), (0, 1)))\n"
                   "print(json.dumps(np.asarray(y)[0, :, :, 0].tolist()))")
    real_cells = np.outer([2, 2, 1], [2, 2, 1])  # per window: the last row/column has one
    np.testing.assert_array_equal(flax, real_cells / 4)  # divided by the window's 4 cells


# --- adaptive and global ----------------------------------------------------------------------------

@pytest.mark.parametrize("output_size", [(1, 1), (2, 3), (3, 2), (7, 7), (5, None), (9, 4)],
                         ids=str)
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_adaptive(jax_pool, output_size, mode, layout, dtype):
    """No adaptive op in JAX or Flax: bins emulated with nn.max_pool / nn.avg_pool."""
    x = _input(dtype, layout)
    outcome = _compare(jax_pool, x, op="adaptive", output_size=output_size, mode=mode,
                       layout=layout)
    assert outcome.status == "agree", outcome.detail
    assert outcome.output.dtype == px.adaptive_pool2d(x, output_size, mode, layout=layout).dtype


@pytest.mark.parametrize("mode", ["max", "avg", "lp"])
@pytest.mark.parametrize("keepdims", [True, False])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_global(jax_pool, mode, keepdims, layout):
    x = _input("float32", layout)
    x.flat[5] = np.nan  # jnp.max / jnp.mean propagate it, as the reference
    outcome = _compare(jax_pool, x, op="global", mode=mode, keepdims=keepdims, layout=layout)
    assert outcome.status == "agree", outcome.detail
    assert np.isnan(outcome.output).any()
    if mode != "lp":
        assert f"jnp.{'max' if mode == 'max' else 'mean'}" in outcome.how["calls"]


# --- gradients --------------------------------------------------------------------------------------

GRAD_CASES = {
    "max-k3s2p1": (3, "max", dict(stride=2, padding=1)),
    "max-k2-overlap-ties": (2, "max", dict(stride=1)),
    "min-k2s2-asym": (2, "min", dict(stride=2, padding=((1, 0), (0, 1)))),
    "avg-k3s2p1-exclpad": (3, "avg", dict(stride=2, padding=1, count_include_pad=False)),
    "avg-k3s2-ceil": (3, "avg", dict(stride=2, padding=1, ceil_mode=True)),
    "avg-k2-d2": (2, "avg", dict(dilation=2)),
    "lp-k2s2": (2, "lp", dict(stride=2)),
    "max-k3-same-NHWC": (3, "max", dict(stride=2, padding="same", layout="NHWC")),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", GRAD_CASES)
def test_gradient_agrees(jax_pool, case, dtype):
    """``jax.vjp`` of the plan: ties to the first cell, as the reference's ``ties='first'``."""
    window, mode, kwargs = GRAD_CASES[case]
    x = np.round(_input(dtype, kwargs.get("layout", "NCHW")) / 3)  # many ties
    outcome = _compare(jax_pool, x, window, mode, grad=True, **kwargs)
    assert outcome.status == "agree", outcome.detail
    assert outcome.grad_status == "agree", outcome.grad_detail
    assert "jax.vjp(forward, x)" in outcome.how["grad_code"]


def test_dilated_max_has_no_vjp(jax_pool):
    """The forward is ``lax.reduce_window`` with ``window_dilation`` and agrees; JAX has no
    VJP for it, by design: the gradient is not compared, with the reason and JAX's own error,
    the forward still judged, and nothing failed to run."""
    x = _input("float32", "NCHW")
    result = px.compare(x, 2, stride=1, dilation=2, grad=True, backends=[JAX], pool=jax_pool)
    outcome = result.results[JAX]
    assert outcome.status == "agree", outcome.detail
    assert outcome.grad_status == "not compared"
    assert outcome.grad_detail.startswith("jax has no VJP for a dilated max or min "
                                          "reduce_window (")
    assert "VJP not implemented for select_and_gather (MaxPool) with window dilation" in (
        outcome.grad_detail)
    assert result.ok


# --- measured divergences of JAX's own calls --------------------------------------------------------

def _in_jax(code: str):
    """Run ``code`` in the jax venv's interpreter (x64 on, CPU); its last line, as JSON."""
    prelude = ("import json\nimport numpy as np\nimport jax\n"
               "jax.config.update('jax_enable_x64', True)\nimport jax.numpy as jnp\n")
    proc = subprocess.run([envs.interpreter(JAX), "-c", prelude + code], capture_output=True,
                          text=True, env=envs.worker_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_float16_average_accumulates_in_float16_in_flax_not_here(jax_pool):
    """Flax's ``avg_pool`` sums in the input dtype: a 64x64 window of 1000 in float16 sums past
    65504 and gives inf (``jnp.mean`` gives 1000).  The adapter averages in float32, as the
    reference, and agrees; its plan says so."""
    flax = _in_jax("import flax.linen as nn\n"
                   "x = jnp.full((1, 64, 64, 1), 1000, jnp.float16)\n"
                   "print(json.dumps([float(nn.avg_pool(x, (64, 64))[0, 0, 0, 0]), "
                   "float(jnp.mean(x))]))")
    assert flax[0] == float("inf") and flax[1] == 1000
    x = np.full((1, 1, 64, 64), 1000, np.float16)
    outcome = _compare(jax_pool, x, 64, "avg")
    assert outcome.status == "agree", outcome.detail
    assert outcome.output[0, 0, 0, 0] == 1000
    assert any("cast float16 to float32" in a for a in outcome.how["adaptations"])


def test_bfloat16_average_rounds_in_jax():
    """bfloat16 (no numpy dtype, so not a dtype of the comparison): the mean of 1..256 by a
    reduce_window sum in bfloat16 is not the exact 128.5; in float32 it is."""
    got = _in_jax("from jax import lax\n"
                  "x = jnp.arange(1, 257, dtype=jnp.float32).reshape(1, 16, 16, 1)\n"
                  "def avg(t):\n"
                  "    s = lax.reduce_window(t, jnp.zeros((), t.dtype), lax.add, (1, 16, 16, 1), "
                  "(1, 1, 1, 1), 'VALID')\n"
                  "    return float((s / 256)[0, 0, 0, 0])\n"
                  "print(json.dumps([avg(x.astype(jnp.bfloat16)), avg(x)]))")
    assert got[1] == np.arange(1, 257).mean() and got[0] != got[1]


def test_negative_padding_with_a_window_of_1_aborts_only_its_worker(jax_pool):
    """XLA aborts the process (SIGABRT, a RET_CHECK in its algebraic simplifier) on
    ``lax.reduce_window`` with padding (-1, 0) and a window of 1.  No spec plans a negative pad;
    a plan run as written (the porting assistant's path) can: that request is JAX's ``error``,
    the worker restarts, and the next comparison agrees."""
    from pooling_xfw.plan import Attr, Plan, Var

    plan = Plan(JAX, ("import jax", "from jax import lax"))
    plan.call("lax.reduce_window", Var("x"), float("-inf"), Attr("lax.max"), (1, 1, 1, 1),
              (1, 1, 1, 1), ((0, 0), (-1, 0), (0, 0), (0, 0)))
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    with pytest.raises(WorkerFailure) as failure:
        jax_pool.worker(JAX).request({"op": "run-plan", "plan": plan.to_json()}, [x])
    assert failure.value.status == "error"
    assert "SIGABRT" in failure.value.reason, failure.value.reason
    outcome = _compare(jax_pool, x, 2, layout="NHWC")
    assert outcome.status == "agree", outcome.detail
