"""A max pooling with indices followed by the unpooling at them (SegNet's encoder and decoder),
read, run and translated as one operation (``op="max_pool_unpool"``, ``compare --kernel K
--pool-unpool default|input``, porting of ``nn.MaxPool2d(..., return_indices=True)`` then
``nn.MaxUnpool2d``).

Every target computes the pair in its own ops: its argmax (native, or emulated where it has
none), its indices converted to the plane's ``y*W + x`` and from the plane's to the convention
its unpooling takes (``tensor`` for ONNX Runtime, JAX and MXNet, ``tf_batch`` for TensorFlow),
the unpooled size read from the input's shape when the code runs.  Its outputs, the unpooled
array and the plane indices, are judged against the source call as written.
"""
import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw import registry
from pooling_xfw.errors import PoolingError
from pooling_xfw.porting.parse import parse

from .test_cli import cli

BACKENDS = registry.defaults()

#: the issue's pair, as a PyTorch model writes it, and the same with the input's size
SEGNET = """
pool = nn.MaxPool2d(2, return_indices=True)
unpool = nn.MaxUnpool2d(2)
y, i = pool(x)
out = unpool(y, i)
"""

#: (id, framework, the two calls, an input shape): layers and functionals, the unpooling's
#: default size and the input's, overlapping padded windows (cells two windows share), odd
#: sizes, 1-D and 3-D
TRANSLATED = [
    ("pytorch-segnet", "pytorch", SEGNET, (1, 3, 8, 8)),
    ("pytorch-functional-3s2p1-input-size", "pytorch",
     "y, i = F.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)\n"
     "out = F.max_unpool2d(y, i, 3, stride=2, padding=1, output_size=x.size())", (2, 4, 9, 9)),
    ("pytorch-1d-input-size", "pytorch",
     "pool = nn.MaxPool1d(2, return_indices=True)\nunpool = nn.MaxUnpool1d(2)\n"
     "y, i = pool(x)\nout = unpool(y, i, output_size=x.shape)", (2, 3, 11)),
    ("pytorch-3d", "pytorch",
     "y, i = F.max_pool3d(x, 2, return_indices=True)\nout = F.max_unpool3d(y, i, 2)",
     (1, 2, 4, 6, 6)),
    ("paddle-functional", "paddle",
     "y, mask = F.max_pool2d(x, 2, 2, return_mask=True)\nout = F.max_unpool2d(y, mask, 2, 2)",
     (1, 3, 8, 8)),
    ("paddle-layers-input-size", "paddle",
     "pool = nn.MaxPool2D(2, 2, return_mask=True)\n"
     "unpool = nn.MaxUnPool2D(2, 2, output_size=x.shape)\ny, m = pool(x)\nout = unpool(y, m)",
     (1, 3, 7, 9)),
]


@pytest.fixture(scope="module")
def translated(pool):
    return {name: px.translate(text, framework, shape, pool=pool)
            for name, framework, text, shape in TRANSLATED}


@pytest.mark.parametrize("name", [t[0] for t in TRANSLATED])
def test_the_pair_translates_into_every_framework(translated, name):
    """The source as written agrees with the neutral spec; every target's printed code returns
    (unpooled, indices) and gives the source's own, indices exactly, at three sizes or more
    (the unpooling's default size is defined at sizes a window count fills: 8x8, 6x6, 2x2 for
    a 2x2 window).  Below the window, where Paddle's pooling still returns a result (an empty
    one), a target whose code differs there is held to the spec's sizes, as for every Paddle
    call."""
    t = translated[name]
    assert t.source.op is px.ops.POOL_UNPOOL and t.source.unpool is not None
    assert t.source_check.startswith("agrees with the neutral spec"), t.source_check
    for backend, target in t.targets.items():
        held = t.source.framework == "paddle" and "below, paddle's call returns a result" in \
            target.verdict
        assert target.kind in ("native", "emulated") or held, (backend, target.verdict)
        assert target.check.startswith("agrees with the source call on "), (backend,
                                                                            target.check)
        agreed = [shape for shape, line in target.checked.items() if line.startswith("agrees")]
        assert len(agreed) >= 3, (backend, target.checked)
        assert target.code.splitlines()[-1].startswith("y = "), backend


def test_the_issues_pair_at_several_sizes(translated):
    """``nn.MaxPool2d(2, return_indices=True)`` then ``nn.MaxUnpool2d(2)``: all six targets agree
    with PyTorch at 8x8, 6x6 and 2x2, the unpooled array and the indices alike; PyTorch and
    Paddle natively, ONNX Runtime with its own MaxPool and MaxUnpool, TensorFlow, JAX and MXNet
    with their recipes."""
    t = translated["pytorch-segnet"]
    sizes = {(1, 3, 8, 8), (1, 3, 6, 6), (1, 3, 2, 2)}
    for backend, target in t.targets.items():
        assert sizes <= {s for s, line in target.checked.items()
                         if line.startswith("agrees with the source call")}, (backend,
                                                                              target.checked)
    kinds = {backend: target.kind for backend, target in t.targets.items()}
    assert kinds == {"pytorch": "native", "paddle": "native", "onnxruntime": "native",
                     "tensorflow": "emulated", "jax": "emulated", "mxnet": "emulated"}


def test_the_index_conversions_are_written_in_each_frameworks_code(translated):
    """The plane's indices made in each framework's own ops: TensorFlow's argmax floor-divided
    by C, then ``p*C + c + n*cells*C`` (its recipe's ``tf_batch``) and written once
    (``tensor_scatter_nd_update``: ``scatter_nd`` would sum a cell two windows share); ONNX
    Runtime's whole-tensor index modulo the plane, then ``Range`` offsets per plane for
    ``MaxUnpool``; JAX and MXNet offsets from their ``arange``."""
    assert "// x.shape[1]" in translated["pytorch-segnet"].targets["tensorflow"].code
    t = translated["pytorch-functional-3s2p1-input-size"]
    tf_code = t.targets["tensorflow"].code  # its argmax takes no explicit pads: emulated
    assert "tf.tensor_scatter_nd_update" in tf_code and "tf.scatter_nd(" not in tf_code
    assert "'Mod'" in t.targets["onnxruntime"].code and "'Range'" in t.targets[
        "onnxruntime"].code and "'MaxUnpool'" in t.targets["onnxruntime"].code
    assert "jnp.put" in t.targets["jax"].code and "jnp.arange(x.shape[0] * x.shape[1]" in \
        t.targets["jax"].code
    assert "F.max_unpool2d" in t.targets["pytorch"].code
    assert "output_size=[x.shape[2], x.shape[3]]" in t.targets["pytorch"].code


def test_the_source_runs_as_written(translated):
    """The source plan is the user's two calls: the layer built, applied, its pair unpacked,
    the unpooling layer applied to it."""
    code = translated["pytorch-segnet"].source.source_plan().render()
    assert "nn.MaxUnpool2d(kernel_size=2)" in code and "return_indices=True" in code
    assert code.splitlines()[-1].startswith("y = (")


def test_the_default_size_is_defined_where_every_argmax_fits():
    """The unpooling's default plane, ``(out - 1)*stride + kernel`` cells per axis, holds an
    argmax of a 5x5 input's 2x2 windows only below cell 16: the cell 18 it may name is
    outside, where PyTorch raises "Found an invalid max index"; the spec refuses the size and
    says why, and ``unpooled="input"`` holds there."""
    x = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
    with pytest.raises(PoolingError, match="cell 18 of the 5x5 plane"):
        px.ops.POOL_UNPOOL.compute(x, pool_size=2, stride=2)
    op = px.ops.POOL_UNPOOL
    _, unpooled = op.reference_pair(x, op.geometry(x.shape, pool_size=2, stride=2,
                                                   unpooled="input"))
    assert unpooled.shape == (1, 1, 5, 5) and unpooled[0, 0, 3, 3] == 18


PAIRS = [((1, 2, 7, 7), dict(pool_size=3, stride=2, padding=1)),
         ((2, 3, 8, 6), dict(pool_size=2, stride=2)),
         ((1, 2, 9, 9), dict(pool_size=3, stride=3, ceil_mode=True)),
         ((2, 3, 7, 5), dict(pool_size=(2, 3), stride=(2, 1), layout="NCHW")),
         ((2, 5, 4), dict(pool_size=2, stride=1, layout="NCW"))]


def _cells_read(geometry, window, spatial) -> list[int]:
    """The plane indices of the input cells ``window`` reads (padding left out)."""
    cells = []
    for taps in np.ndindex(*[g.kernel for g in geometry.axes]):
        at = tuple(o * g.stride - g.pad_before + k * g.dilation
                   for o, g, k in zip(window, geometry.axes, taps))
        if all(0 <= a < size for a, size in zip(at, spatial)):
            cells.append(int(np.ravel_multi_index(at, spatial)))
    return cells


@pytest.mark.parametrize("shape,kwargs", PAIRS, ids=[str(k) for _, k in PAIRS])
def test_the_reference_against_a_window_by_window_loop(shape, kwargs):
    """Unpooled to the input's size: each window's first maximum (row-major) holds its value,
    every other cell 0; the indices are those cells, y*W + x."""
    x = np.random.default_rng(0).integers(-3, 4, size=shape).astype(np.float32)  # ties
    op = px.ops.POOL_UNPOOL
    geometry = op.geometry(x.shape, mode="max", unpooled="input", **kwargs)
    indices, unpooled = op.reference_pair(x, geometry)
    expected = np.zeros_like(x)
    spatial = x.shape[2:]
    flat = x.reshape(x.shape[:2] + (-1,))
    for n, c in np.ndindex(*x.shape[:2]):
        for window in np.ndindex(*geometry.out):
            cells = _cells_read(geometry, window, spatial)
            best = max(cells, key=lambda cell: (flat[n, c, cell], -cell))  # the first maximum
            assert indices[(n, c) + window] == best
            expected.reshape(flat.shape)[n, c, best] = flat[n, c, best]
    np.testing.assert_array_equal(unpooled, expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_segnet_activation_in_every_backend(pool, backend):
    """(2, 64, 112, 112) float32, 2/2 to the default size (SegNet's first encoder block at
    a 224 input), random: every backend's own pair agrees, indices and unpooled array."""
    x = np.random.default_rng(11).standard_normal((2, 64, 112, 112)).astype(np.float32)
    result = px.compare(x, 2, stride=2, op="max_pool_unpool", backends=[backend],
                        pool=pool).results[backend]
    assert result.status == "agree", result.detail


def test_nan_is_judged_with_its_cause(pool):
    """A NaN in a window: a backend whose argmax ignores it differs, in its indices and its
    unpooled array, with the cause named for each."""
    x = np.random.default_rng(5).standard_normal((1, 2, 6, 6)).astype(np.float32)
    x[0, 0, 2, 3] = np.nan
    comparison = px.compare(x, 2, stride=2, op="max_pool_unpool", backends=BACKENDS,
                            pool=pool)
    for name, result in comparison.results.items():
        if result.status == "differ":
            assert "NaN in the window ignored" in result.detail and "unpooled:" in \
                result.detail, (name, result.detail)
        else:
            assert result.status == "agree", (name, result.detail)
    assert comparison.results["pytorch"].status == "agree"


#: a 4x4 input, one 2x2 window (of four) filled with ...: the pipeline's own argmax there, and
#: whether it crashes the unpooling at it (measured, float32 and float64: Paddle's and MXNet's
#: heap corrupted or a segfault, the worker hanging or dead)
WINDOW_OF = {"NaN": np.nan, "-inf": -np.inf, "float32's lowest": np.finfo(np.float32).min,
             "one NaN": None}
#: the backends whose unpooling crashes on -1, by the windows where their own argmax is -1
MINUS_ONE_IN = {"paddle": {"NaN", "-inf", "float32's lowest"}, "mxnet": {"NaN", "-inf"}}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("window", list(WINDOW_OF))
def test_a_window_whose_argmax_is_minus_one_is_not_unpooled_where_that_crashes(pool, window,
                                                                               dtype):
    """Where a backend's own argmax is -1 (a window of only NaN or -inf; for Paddle, whose max
    starts from float32's lowest, of that value too) and its unpooling crashes on -1, the case
    is not run: an error naming why, at once, not a hung worker; every other backend runs."""
    x = np.arange(16, dtype=dtype).reshape(1, 1, 4, 4)
    if WINDOW_OF[window] is None:
        x[0, 0, 0, 0] = np.nan
    else:
        x[0, 0, :2, :2] = WINDOW_OF[window]
    comparison = px.compare(x, 2, stride=2, op="max_pool_unpool", backends=BACKENDS,
                            pool=pool, timeout=60)
    for name, result in comparison.results.items():
        if window in MINUS_ONE_IN.get(name, ()):
            assert result.status == "error" and ": not run: a window has no cell above" in \
                result.detail and "index is -1" in result.detail, (name, result.detail)
        else:
            assert "not run" not in result.detail and "timed out" not in result.detail and \
                "worker" not in result.detail, (name, result.detail)


def test_a_kept_window_of_padding_only_is_judged_in_every_backend(pool):
    """(1, 1, 5), 2/2, padding 1, ceil_mode "keep": the last window reads padding only, so
    every argmax there is -1.  Each backend's outcome, as measured: not run where -1 crashes
    the unpooling (MXNet, Paddle), refused by the unpooling (PyTorch, TensorFlow), refused by
    the planner (ONNX Runtime numbers a padded input), and JAX's ``put`` writing -1 to the
    plane's last cell, judged against the unpooled array's own cells (whose shape is not the
    windows', so no window is blamed)."""
    x = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 5)
    comparison = px.compare(x, 2, stride=2, padding=1, ceil_mode="keep", layout="NCW",
                            op="max_pool_unpool", unpooled="input", backends=BACKENDS,
                            pool=pool, timeout=60)
    details = {name: result.detail for name, result in comparison.results.items()}
    for name in ("mxnet", "paddle"):
        assert ": not run: a window has no cell above" in details[name], details[name]
    assert "invalid max index: -1" in details["pytorch"], details["pytorch"]
    assert "does not index into shape" in details["tensorflow"], details["tensorflow"]
    assert "numbers the cells of an input it pads first" in details["onnxruntime"]
    jax = comparison.results["jax"]
    assert jax.status == "differ" and "unpooled: 1 of 5 differ" in jax.detail, jax.detail


#: (the text, what the refusal names): the unpooling must invert the pooling before it
REFUSED = [
    ("y, i = F.max_pool2d(x, 2, return_indices=True)\nout = F.max_unpool2d(y, i, 3)",
     "allowed: the pooling's own kernel_size (2, 2)"),
    ("y, i = F.max_pool2d(x, 2, return_indices=True)\nout = F.max_unpool2d(i, y, 2)",
     "allowed: the pooling's own y, i, in that order"),
    ("y, i = F.max_pool2d(x, 2, return_indices=True)\n"
     "out = F.max_unpool2d(y, i, 2, output_size=[8, 8])",
     "a literal size holds at one input size only"),
    ("y = F.max_pool2d(x, 2)\nout = F.max_unpool2d(y, y, 2)", "the pooling's results are not "
                                                              "named"),
    ("y, i = F.avg_pool2d(x, 2), None\nout = F.max_unpool2d(y, i, 2)", "not understood"),
    ("pool = nn.MaxPool2d(2, return_indices=True)\nunpool = nn.MaxUnpool2d(2)\ny, i = pool(x)",
     "is never applied"),
]


@pytest.mark.parametrize("text,says", REFUSED, ids=[s for _, s in REFUSED])
def test_an_unpooling_that_does_not_invert_the_pooling_is_refused(text, says):
    with pytest.raises(PoolingError, match="^call: ") as caught:
        parse("pytorch", text)
    assert says in str(caught.value), str(caught.value)


def test_the_command_line(pool):
    """``compare --kernel 3 --stride 2 --padding 1 --pool-unpool input`` runs every backend;
    ``--pool-unpool`` without ``--kernel`` and an unknown size are usage errors."""
    proc = cli("compare", "--shape", "1,2,7,7", "--kernel", "3", "--stride", "2", "--padding",
               "1", "--pool-unpool", "input", "--backends", "pytorch,tensorflow")
    assert proc.returncode == 0 and "pool2d max, unpooled" in proc.stdout, proc.stderr
    for args, says in ((["--pool-unpool", "input"], "not without --kernel"),
                       (["--kernel", "2", "--pool-unpool", "half"], "unknown unpooled size")):
        proc = cli("compare", "--shape", "1,1,4,4", *args)
        assert proc.returncode == 2 and says in proc.stderr, proc.stderr
