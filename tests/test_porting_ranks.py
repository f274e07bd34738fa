"""The porting assistant at 1 and 3 spatial axes: every framework's 1-D and 3-D spellings read
into the neutral spec (each checked against the framework running the call as written),
translated for every target with code that holds at every size or says where it does not,
explained against another framework's call, and found by ``scan``."""
import numpy as np
import pytest

from pooling_xfw import porting, registry
from pooling_xfw.errors import PoolingError
from pooling_xfw.porting.scan import scan

from .test_cli import cli
from .test_porting import check_spelling

BACKENDS = registry.defaults()

# --- each spelling, read, equals its framework running it ---------------------------------------

#: (framework, imports, call, input shape, how the worker runs it, what the reader makes of it)
SPELLINGS = [
    # PyTorch: layers and functionals, channels first
    ("pytorch", "from torch import nn", "nn.MaxPool1d(3, stride=2, padding=1)", (2, 3, 17),
     "y = {call}(x)", dict(layout="NCW", pool_size=3, stride=2, padding=1)),
    ("pytorch", "import torch.nn.functional as F",
     "F.avg_pool1d(x, 4, 4, ceil_mode=True, count_include_pad=False)", (1, 2, 18),
     "y = {call}", dict(layout="NCW", mode="avg", ceil_mode=True, count_include_pad=False)),
    ("pytorch", "from torch import nn", "nn.AdaptiveAvgPool1d(5)", (2, 3, 13), "y = {call}(x)",
     dict(layout="NCW", output_size=(5,))),
    ("pytorch", "from torch import nn",
     "nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))", (1, 2, 4, 9, 9),
     "y = {call}(x)", dict(layout="NCDHW", pool_size=(1, 3, 3), stride=(1, 2, 2))),
    ("pytorch", "import torch.nn.functional as F",
     "F.avg_pool3d(x, 2, stride=2, ceil_mode=True)", (1, 1, 5, 6, 7), "y = {call}",
     dict(layout="NCDHW", mode="avg", ceil_mode=True)),
    ("pytorch", "from torch import nn", "nn.AdaptiveMaxPool3d((2, 3, 4))", (1, 2, 5, 7, 9),
     "y = {call}(x)", dict(layout="NCDHW", output_size=(2, 3, 4))),
    # TensorFlow: Keras layers with data_format, tf.nn per rank and tf.nn.pool
    ("tensorflow", "from tensorflow import keras", "keras.layers.MaxPooling1D(3, 2, 'same')",
     (2, 17, 3), "y = {call}(x)", dict(layout="NWC", padding="same")),
    ("tensorflow", "from tensorflow import keras",
     "keras.layers.AveragePooling1D(2, data_format='channels_first')", (1, 3, 9),
     "y = {call}(x)", dict(layout="NCW", mode="avg", stride=2)),
    ("tensorflow", "from tensorflow import keras", "keras.layers.GlobalAveragePooling1D()",
     (2, 11, 3), "y = {call}(x)", dict(layout="NWC", keepdims=False)),
    ("tensorflow", "import tensorflow as tf", "tf.nn.max_pool1d(x, 3, 2, 'VALID')", (1, 12, 2),
     "y = {call}", dict(layout="NWC", pool_size=3, stride=2)),
    ("tensorflow", "import tensorflow as tf",
     "tf.nn.pool(x, [3], 'AVG', strides=[2], padding='SAME')", (1, 10, 2), "y = {call}",
     dict(layout="NWC", mode="avg", count_include_pad=False)),
    ("tensorflow", "from tensorflow import keras",
     "keras.layers.MaxPooling3D((1, 3, 3), strides=(1, 2, 2), padding='same')",
     (1, 3, 9, 9, 2), "y = {call}(x)", dict(layout="NDHWC", pool_size=(1, 3, 3))),
    ("tensorflow", "from tensorflow import keras",
     "keras.layers.AveragePooling3D(2, data_format='channels_first')", (1, 2, 4, 6, 6),
     "y = {call}(x)", dict(layout="NCDHW", mode="avg")),
    ("tensorflow", "from tensorflow import keras",
     "keras.layers.GlobalAveragePooling3D(data_format='channels_first', keepdims=True)",
     (2, 3, 4, 5, 6), "y = {call}(x)", dict(layout="NCDHW", keepdims=True)),
    ("tensorflow", "import tensorflow as tf", "tf.nn.avg_pool3d(x, 2, 2, 'SAME')",
     (1, 5, 5, 5, 2), "y = {call}", dict(layout="NDHWC", mode="avg", padding="same")),
    ("tensorflow", "import tensorflow as tf",
     "tf.nn.pool(x, (2, 2, 2), 'MAX', strides=(2, 2, 2))", (1, 4, 6, 6, 1), "y = {call}",
     dict(layout="NDHWC", pool_size=(2, 2, 2))),
    ("tensorflow", "import tensorflow as tf",
     "tf.nn.max_pool(x, [1, 3, 3, 3, 1], [1, 2, 2, 2, 1], 'VALID')", (1, 7, 7, 7, 1),
     "y = {call}", dict(layout="NDHWC", pool_size=(3, 3, 3))),
    # Paddle: 1-D takes NCL only (no data_format); 3-D padding of six values
    ("paddle", "from paddle import nn", "nn.MaxPool1D(3, 2, 1)", (2, 3, 15), "y = {call}(x)",
     dict(layout="NCW", padding=1)),
    ("paddle", "import paddle.nn.functional as F", "F.avg_pool1d(x, 2, 2, [1, 0])", (1, 2, 9),
     "y = {call}", dict(layout="NCW", padding=((1, 0),), count_include_pad=False)),
    ("paddle", "from paddle import nn", "nn.AdaptiveAvgPool1D(4)", (1, 2, 9), "y = {call}(x)",
     dict(layout="NCW", output_size=(4,))),
    ("paddle", "import paddle.nn.functional as F",
     "F.max_pool3d(x, 3, 2, [0, 0, 1, 1, 1, 1], data_format='NDHWC')", (1, 4, 7, 7, 2),
     "y = {call}", dict(layout="NDHWC", padding=((0, 0), (1, 1), (1, 1)))),
    ("paddle", "from paddle import nn", "nn.AvgPool3D((1, 3, 3), (1, 2, 2), (0, 1, 1))",
     (1, 2, 3, 8, 8), "y = {call}(x)", dict(layout="NCDHW", count_include_pad=False)),
    ("paddle", "from paddle import nn", "nn.AdaptiveAvgPool3D(1)", (2, 3, 4, 5, 6),
     "y = {call}(x)", dict(layout="NCDHW", keepdims=True)),
    # MXNet: Gluon per rank (1-D puts layout before ceil_mode) and the operator's 3-tuple kernel
    ("mxnet", "from mxnet.gluon import nn", "nn.MaxPool1D(3, 2, 1)", (2, 3, 15),
     "y = {call}(x)", dict(layout="NCW", padding=1)),
    ("mxnet", "from mxnet.gluon import nn", "nn.AvgPool1D(2, layout='NWC')", (1, 9, 2),
     "y = {call}(x)", dict(layout="NWC", mode="avg")),
    ("mxnet", "from mxnet.gluon import nn", "nn.GlobalMaxPool1D()", (2, 3, 7), "y = {call}(x)",
     dict(layout="NCW")),
    ("mxnet", "from mxnet.gluon import nn",
     "nn.MaxPool3D((1, 3, 3), (1, 2, 2), (0, 1, 1))", (1, 2, 3, 9, 9), "y = {call}(x)",
     dict(layout="NCDHW", pool_size=(1, 3, 3))),
    ("mxnet", "import mxnet as mx",
     "mx.nd.Pooling(x.as_nd_ndarray(), kernel=(2, 2, 2), stride=(2, 2, 2), pool_type='avg')",
     (1, 2, 4, 6, 6), "y = {call}.as_np_ndarray()", dict(layout="NCDHW", mode="avg")),
    ("mxnet", "from mxnet import npx",
     "npx.pooling(x, kernel=(3,), stride=(2,), pad=(1,), pool_type='max')", (1, 2, 11),
     "y = {call}", dict(layout="NCW", pool_size=(3,))),
    # JAX: Flax with a 1- or 3-element window (channels last), lax.reduce_window of 3 or 5 ints
    ("jax", "import flax.linen as nn", "nn.max_pool(x, (3,), strides=(2,), padding='SAME')",
     (2, 17, 3), "y = {call}", dict(layout="NWC", padding="same")),
    ("jax", "import flax.linen as nn",
     "nn.avg_pool(x, (1, 3, 3), strides=(1, 2, 2), padding=((0, 0), (1, 1), (1, 1)))",
     (1, 3, 9, 9, 2), "y = {call}", dict(layout="NDHWC", count_include_pad=True)),
    ("jax", "import jax.numpy as jnp\nfrom jax import lax",
     "lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2, 2), (1, 1, 2, 2, 2), 'VALID')",
     (1, 2, 4, 6, 6), "y = {call}", dict(layout="NCDHW", pool_size=(2, 2, 2))),
    ("jax", "from jax import lax",
     "lax.reduce_window(x, 0., lax.add, (1, 4, 1), (1, 4, 1), 'VALID') / 4", (1, 16, 3),
     "y = {call}", dict(layout="NWC", mode="avg", pool_size=(4,))),
]


def _id(spelling) -> str:
    framework, _, call, shape, _, _ = spelling
    return f"{framework}-{call.split('(')[0]}-{len(shape) - 2}d"


@pytest.mark.parametrize("framework,imports,call,shape,runs,expected", SPELLINGS,
                         ids=[f"{_id(s)}-{i}" for i, s in enumerate(SPELLINGS)])
def test_each_spelling_is_read_as_its_framework_runs_it(hook_pool, framework, imports, call,
                                                        shape, runs, expected):
    native = check_spelling(hook_pool, framework, imports, call, shape, runs)
    assert {k: native.spec[k] for k in expected} == expected


@pytest.mark.parametrize("framework,call,message", [
    ("jax", "nn.max_pool(x, (2, 2, 2, 2))", "a tuple of 1 to 3 ints"),
    ("jax", "nn.max_pool(x, (3,), strides=(2, 2))", "a tuple of 1 ints"),
    ("jax", "lax.reduce_window(x, -jnp.inf, lax.max, (1, 3), (1, 1), 'VALID')", "3 to 5 ints"),
    ("tensorflow", "tf.nn.max_pool1d(x, 3, 2, 'VALID', data_format='NCHW')",
     "allowed: 'NCW' or 'NWC'"),
    ("tensorflow", "tf.nn.max_pool3d(x, [1, 2, 2, 1], 2, 'VALID')", "3 ints or 5"),
    ("pytorch", "nn.AdaptiveAvgPool3d((1, 1))", "(d, h, w) (3-D pooling)"),
    ("pytorch", "nn.AdaptiveAvgPool1d((2, 2))", "(w) (1-D pooling)"),
], ids=["flax-4-axes", "flax-strides-length", "reduce-window-2-ints", "tf-1d-data-format",
        "tf-3d-ksize-length", "torch-adaptive-3d-pair", "torch-adaptive-1d-pair"])
def test_a_call_of_the_wrong_length_for_its_rank_is_refused_naming_what_fits(framework, call,
                                                                              message):
    with pytest.raises(PoolingError, match="^call: ") as info:
        porting.parse(framework, call)
    assert message in str(info.value)


def test_mxnet_drops_pad_entries_past_its_kernels_rank_and_the_note_says_so():
    """Measured (MXNet 1.9.1): ``pad=(1, 2)`` with a 1-D kernel pools with pad 1, and
    ``pad=(0, 1, 0, 1, 0, 1)`` with a 3-D kernel with pad (0, 1, 0)."""
    for call, kept in (("npx.pooling(x, kernel=(3,), pad=(1, 2))", (1,)),
                       ("npx.pooling(x, kernel=(3, 3, 3), pad=(0, 1, 0, 1, 0, 1))", (0, 1, 0))):
        native = porting.parse("mxnet", call)
        assert native.spec["padding"] == kept
        assert any(f"it pools with pad={kept}, silently" in n for n in native.notes)


@pytest.mark.parametrize("framework,text,pads,value", [
    ("tensorflow", "X_padded = tf.pad(X, [[0, 0], [1, 0], [0, 0]])\n"
                   "pool = tf.keras.layers.MaxPool1D(3, padding='valid', strides=2)\n"
                   "pool(X_padded)", ((1, 0),), 0.0),
    ("jax", "xp = jnp.pad(x, ((0, 0), (1, 1), (0, 1), (1, 0), (0, 0)), "
            "constant_values=-jnp.inf)\nnn.max_pool(xp, (3, 3, 3), strides=(2, 2, 2))",
     ((1, 1), (0, 1), (1, 0)), float("-inf")),
], ids=["tf-pad-then-1d", "jnp-pad-then-3d"])
def test_an_explicit_pad_before_the_pooling_is_read_on_every_spatial_axis(framework, text, pads,
                                                                          value):
    native = porting.parse(framework, text)
    assert native.recipe_pads == pads and native.spec["padding"] == pads
    assert native.pad_value == value
    assert bool(native.notes) == (value == 0.0)  # zeros before a max: said


def test_a_pad_of_the_channels_before_a_1d_pooling_is_refused():
    with pytest.raises(PoolingError, match="pads the batch or channel axis .* allowed: padding "
                                           "of W only"):
        porting.parse("tensorflow", "xp = tf.pad(x, [[0, 0], [1, 1], [1, 0]])\n"
                                    "tf.keras.layers.MaxPool1D(3)(xp)")


# --- translate ----------------------------------------------------------------------------------

#: the issue's audio and video calls, and each framework's own spelling as a source
TRANSLATIONS = [
    ("pytorch", "nn.MaxPool1d(4, stride=4)", (2, 4, 64)),
    ("pytorch", "nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))",
     (1, 2, 4, 14, 14)),
    ("tensorflow", "keras.layers.AveragePooling1D(3, 2, 'same')", (2, 20, 3)),
    ("paddle", "nn.AvgPool3D(2, 2, ceil_mode=True, exclusive=False)", (1, 2, 5, 7, 7)),
    ("mxnet", "nn.MaxPool1D(3, 2, 1, ceil_mode=True)", (1, 2, 16)),
    ("jax", "nn.avg_pool(x, (2, 2, 2), strides=(2, 2, 2), padding='SAME')", (1, 5, 6, 7, 2)),
]


@pytest.mark.parametrize("framework,call,shape", TRANSLATIONS,
                         ids=[f"{f}-{c.split('(')[0]}-{len(s) - 2}d" for f, c, s in
                              TRANSLATIONS])
def test_translate_at_ranks_1_and_3_runs_every_target_and_they_agree(pool, framework, call,
                                                                      shape):
    result = porting.translate(call, framework, shape, pool=pool)
    layout = result.source.spec["layout"]
    assert len(layout) == len(shape)
    assert result.source_check == "agrees with the neutral spec"
    assert set(result.targets) == set(BACKENDS)
    for target in result.targets.values():
        assert target.kind in ("native", "emulated", "size-dependent"), target.verdict
        assert len(target.checked) >= 4, target.checked
        for size, line in target.checked.items():
            expected = "agrees with the source call" if target.holds_for(
                porting.sizes.spatial_of(size, layout)) else "refused"
            assert line == expected, (target.backend, size, line)


def test_tensorflows_3d_max_gradient_goes_to_every_tied_cell_and_translate_says_so(pool):
    """Measured: ``MaxPool3DGrad`` gives each tied cell of a window the window's whole
    gradient (the 1-D and 2-D kernels give it to the first); a translation from it names both
    tie policies where the targets' backward passes differ."""
    result = porting.translate("keras.layers.MaxPooling3D(2)", "tensorflow", (1, 4, 4, 4, 1),
                               to=["tensorflow", "pytorch"], pool=pool)
    assert porting.tie_policy(result.source) == "all"
    assert result.targets["tensorflow"].grad_check.startswith("agrees")
    torch_grad = result.targets["pytorch"].grad_check
    assert torch_grad.startswith("DIFFERS") and "ties='all'" in torch_grad \
        and "ties='first'" in torch_grad
    assert porting.tie_policy(porting.parse("tensorflow", "keras.layers.MaxPooling1D(2)")) \
        == "first"


#: calls whose targets' code holds at some sizes only, at ranks 1 and 3
SIZED = [
    ("pytorch", "nn.MaxPool1d(2, stride=2, padding=1, ceil_mode=True)", (1, 1, 6)),
    ("tensorflow", "keras.layers.MaxPooling1D(3, 2, 'same')", (1, 8, 1)),
    ("pytorch", "nn.AvgPool3d(2, stride=3, ceil_mode=True)", (1, 1, 8, 8, 8)),
]


@pytest.mark.parametrize("framework,call,shape", SIZED,
                         ids=[f"{f}-{c.split('(')[0]}-{len(s) - 2}d" for f, c, s in SIZED])
def test_printed_code_gives_the_source_numbers_or_refuses_at_every_size(hook_pool, framework,
                                                                        call, shape):
    """Each target's code, as printed, at every size 1..12 (1-D) or 1..6 on each axis at once
    and three oblong blocks (3-D): the source call's numbers where its verdict says it holds, a
    ValueError naming the condition where it does not."""
    result = porting.translate(call, framework, shape, verify=False)
    kwargs = porting.neutral_kwargs(result.source)
    layout = kwargs["layout"]
    spatial = len(layout) - 2
    sizes = ([(n,) for n in range(1, 13)] if spatial == 1 else
             [(n,) * 3 for n in range(1, 7)] + [(2, 5, 7), (7, 5, 2), (4, 8, 3)])
    hook_pool.start(BACKENDS)
    ran = {name: {"held": 0, "refused": 0} for name in result.targets}
    for i, spatial_sizes in enumerate(sizes):
        size = porting.sizes.with_spatial(shape, layout, spatial_sizes)
        if not porting.sizes.defined(result.source.op, kwargs, size):
            continue
        x = porting.random_input(size, layout, seed=i)
        source = porting.run_native(result.source, x, hook_pool)
        for name, target in result.targets.items():
            reply, arrays = hook_pool.worker(name).request(
                {"op": "test-hook", "action": "run-code", "code": target.code}, [x])
            if target.holds_for(spatial_sizes):
                ran[name]["held"] += 1
                assert reply["status"] == "ok", (name, spatial_sizes, reply)
                np.testing.assert_allclose(arrays[0], source, rtol=1e-5, atol=1e-5,
                                           err_msg=f"{name} {spatial_sizes}")
            else:
                ran[name]["refused"] += 1
                assert reply["status"] == "error" and reply["kind"] == "ValueError"
                assert "this translation holds for" in reply["message"]
    for name, target in result.targets.items():
        assert ran[name]["held"] >= 3, (name, ran[name])
        assert (ran[name]["refused"] > 0) == (target.kind == "size-dependent"), (name, ran[name])


@pytest.mark.parametrize("call,shape,guard", [
    ("keras.layers.AveragePooling1D(3, strides=2)", (1, 9, 2), "W = x.shape[1]"),
    ("keras.layers.AveragePooling3D(3, strides=2)", (1, 9, 9, 9, 1),
     "D, H, W = x.shape[1], x.shape[2], x.shape[3]"),
], ids=["keras-1d-valid-below-the-window", "keras-3d-valid-below-the-window"])
def test_a_target_that_fails_where_only_the_source_pools_is_guarded_on_every_axis(
        hook_pool, call, shape, guard):
    """Below the window Keras' 'valid' returns an empty output where the neutral spec pools
    nothing; MXNet's pooling raises there ("kernel <= dshape + 2*pad"), so its code is held to
    the sizes the spec defines, and its guard reads every spatial axis: at 2 cells it refuses,
    at 3 it gives the source's numbers."""
    result = porting.translate(call, "tensorflow", shape, pool=hook_pool)
    layout = result.source.spec["layout"]
    target = result.targets["mxnet"]
    assert target.kind == "size-dependent", target.verdict
    assert guard in target.code and "below, " in target.verdict
    assert result.targets["jax"].kind in ("native", "emulated")
    hook_pool.start(["mxnet"])
    spatial = len(layout) - 2
    for n, holds in ((2, False), (3, True), (5, True)):
        x = porting.random_input(porting.sizes.with_spatial(shape, layout, (n,) * spatial),
                                 layout, 0)
        reply, arrays = hook_pool.worker("mxnet").request(
            {"op": "test-hook", "action": "run-code", "code": target.code}, [x])
        if holds:
            assert reply["status"] == "ok", reply
            np.testing.assert_allclose(arrays[0], porting.run_native(result.source, x, hook_pool),
                                       rtol=1e-5, atol=1e-5)
        else:
            assert reply["kind"] == "ValueError" and "holds for" in reply["message"], reply


# --- explain ------------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b,kinds", [
    (("pytorch", "nn.MaxPool1d(3, stride=2, padding=1)"),
     ("tensorflow", "keras.layers.MaxPooling1D(3, 2, 'same')"),
     {"layout", "output-shape rule", "SAME split side", "padding", "NaN policy"}),
    (("pytorch", "nn.AvgPool3d(2)"), ("mxnet", "nn.AvgPool3D(2)"), set()),
    (("pytorch", "nn.AvgPool3d(3, stride=2, padding=1)"),
     ("paddle", "nn.AvgPool3D(3, 2, 1)"), {"divisor"}),
], ids=["torch-vs-keras-1d-same", "torch-vs-gluon-3d-equivalent", "torch-vs-paddle-3d-divisor"])
def test_explain_at_ranks_1_and_3_classifies_each_cause(pool, a, b, kinds):
    result = porting.explain(a[1], a[0], b[1], b[0], pool=pool, verify=False)
    found = {c.kind for c in result.causes} - {"gradient ties"}
    assert found <= kinds and (found or not kinds), (found, kinds)
    assert result.equivalent == (not (kinds - {"layout", "NaN policy"}))
    if not result.equivalent:
        assert result.witness is not None and result.witness.ndim == len(result.a.spec["layout"])


def test_explain_refuses_two_calls_of_different_ranks():
    with pytest.raises(PoolingError, match="pools 1 spatial axis, B .* 2: no input both "
                                                   "take; allowed: two calls of the same rank"):
        porting.explain("nn.MaxPool1d(2)", "pytorch", "nn.MaxPool2d(2)", "pytorch", verify=False)


# --- scan and the command line ------------------------------------------------------------------

MODEL = '''\
import torch
from torch import nn
from tensorflow import keras


class AudioNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool1d(4, stride=4)
        self.head = nn.AdaptiveAvgPool1d(1)


class C3DStem(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool1 = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.head = nn.AdaptiveAvgPool3d((1, 1, 1))


video = keras.layers.AveragePooling3D((1, 2, 2), data_format="channels_first")
text = keras.layers.GlobalMaxPooling1D()
'''


def test_scan_reads_and_translates_1d_and_3d_pooling(tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    result = scan(str(tmp_path), shape=(1, 3, 32, 32))
    by_call = {e.call: e for e in result.entries}
    assert len(by_call) == 6 and all(e.understood for e in by_call.values()), \
        [(e.call, e.why) for e in result.entries]
    layouts = {call.split("(")[0]: e.spec["layout"] for call, e in by_call.items()}
    assert layouts == {"nn.MaxPool1d": "NCW", "nn.AdaptiveAvgPool1d": "NCW",
                       "nn.MaxPool3d": "NCDHW", "nn.AdaptiveAvgPool3d": "NCDHW",
                       "keras.layers.AveragePooling3D": "NCDHW",
                       "keras.layers.GlobalMaxPooling1D": "NWC"}
    for entry in by_call.values():
        assert entry.targets and all(t.verdict.split(":")[0] in (
            "native", "emulated", "size-dependent") for t in entry.targets.values()), entry


def test_cli_translate_and_explain_take_a_shape_of_the_calls_rank():
    out = cli("translate", "--from", "pytorch", "nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))",
              "--shape", "2,64,16,56,56", "--no-verify", "--to", "onnxruntime",
              check_exit=0).stdout
    assert "for input (2, 64, 16, 56, 56): pads ((0, 0), (1, 1), (1, 1)), output 16x28x28" in out
    assert "kernel_shape=[1, 3, 3], strides=[1, 2, 2], pads=[0, 1, 1, 0, 1, 1]" in out
    out = cli("translate", "--from", "tensorflow", "keras.layers.MaxPooling1D(4)", "--shape",
              "8,16000,64", "--no-verify", "--to", "pytorch", check_exit=0).stdout
    assert "t2 = F.max_pool1d(t1, kernel_size=(4,), stride=(4,))" in out
    out = cli("explain", "pytorch", "nn.MaxPool1d(3, stride=2, padding=1)", "tensorflow",
              "keras.layers.MaxPooling1D(3, 2, 'same')", "--shape", "1,1,6", "--no-verify",
              check_exit=1).stdout
    assert "verdict: NOT equivalent" in out and "smallest input that shows it, shape (1, 1, 6)" \
        in out
    err = cli("translate", "--from", "pytorch", "nn.MaxPool1d(4)", "--shape", "1,3,8,8",
              "--no-verify", check_exit=2).stderr
    assert "--shape 1,3,8,8: 4 sizes; allowed: 1 to 3 sizes >= 1, comma-separated: W, C,W or " \
           "N,C,W" in err
