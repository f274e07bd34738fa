"""Max pooling with each window's argmax in every backend (``op="pool_with_indices"``,
``compare --kernel K --indices CONVENTION``): each framework's own indices, converted to the
convention asked for, agree with the reference's, or differ with a named cause.

The measured numbers are ``../notes/wave3-semantics.md`` section 2, re-run here: its input (N=2,
C=2, 4x4 planes P + 10*(n*C + c)) and its k2 s2 windows, with a tie, a NaN and a 3-way tie.
"""
import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw import registry

from .test_cli import cli

BACKENDS = registry.defaults()
NAN = np.nan
P = np.array([[1, 3, 3, 0], [2, 3, 1, NAN], [5, 5, 0, 2], [5, 4, 2, 1]], np.float32)
NOTE_INPUT = np.stack([np.stack([P + 10 * (n * 2 + c) for c in range(2)]) for n in range(2)])
IGNORED = "NaN in the window ignored"

#: the note's k2 s2 indices of channel n0c0, in each backend's own convention, converted
#: here to "plane", and whether its call keeps the window's NaN
NOTE_K2S2 = {"pytorch": ([1, 7, 8, 11], True), "jax": ([1, 7, 8, 11], True),
             "paddle": ([1, 2, 8, 11], False), "tensorflow": ([1, 2, 8, 11], False),
             "onnxruntime": ([1, 2, 8, 11], False), "mxnet": ([1, 2, 8, 11], False)}


@pytest.fixture(scope="module")
def note_k2s2(pool):
    return {convention: px.compare(NOTE_INPUT, 2, stride=2, op="pool_with_indices",
                                   indices=convention, backends=BACKENDS, pool=pool)
            for convention in ("plane", "tensor", "tf", "tf_batch")}


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_notes_indices_come_back_in_the_plane_convention(note_k2s2, backend):
    """Each framework's indices on the note's input, converted to "plane", are the note's
    (MXNet and JAX have no such call: emulated from their own values, so MXNet, whose max
    ignores NaN, names the 3 where the reference names the NaN)."""
    expected, keeps_nan = NOTE_K2S2[backend]
    result = note_k2s2["plane"].results[backend]
    assert result.output[0, 0].ravel().tolist() == expected
    if keeps_nan:
        assert result.status == "agree", result.detail
    else:
        assert result.status == "differ" and IGNORED in result.detail, result.detail
        assert "values: " in result.detail  # the same call's values differ at the same windows


def test_each_frameworks_own_convention_gives_the_notes_numbers(note_k2s2):
    """Asked for in a framework's own convention, its indices are the numbers the note measured
    from its call: ONNX Runtime's whole-tensor index of n1c1, TensorFlow's (y*W + x)*C + c of
    c0 and c1 and, with the batch term, of n1c0 (the reference's differ where they ignore NaN:
    its winner of W01 is the NaN, plane index 7)."""
    assert note_k2s2["tensor"].results["onnxruntime"].output[1, 1].ravel().tolist() == [
        49, 50, 56, 59]
    tf = note_k2s2["tf"].results["tensorflow"].output
    assert tf[0, 0].ravel().tolist() == [2, 4, 16, 22]
    assert tf[0, 1].ravel().tolist() == [3, 5, 17, 23]
    assert note_k2s2["tf_batch"].results["tensorflow"].output[1, 0].ravel().tolist() == [
        34, 36, 48, 54]
    assert note_k2s2["tf"].reference[0, 0].ravel().tolist() == [2, 14, 16, 22]


@pytest.mark.parametrize("convention", ["tensor", "tf", "tf_batch"])
def test_every_convention_judges_alike(note_k2s2, convention):
    """The same statuses whatever the convention asked for: each backend's indices are
    converted to it before they are judged."""
    plane = {n: r.status for n, r in note_k2s2["plane"].results.items()}
    assert {n: r.status for n, r in note_k2s2[convention].results.items()} == plane


#: (id, input, keyword arguments): ties, NaN, padding, dilation, ceil, the kept window, min,
#: 1-D and 3-D, channels-last
def _ramp(shape, period=5):
    return (np.arange(np.prod(shape)) % period).reshape(shape).astype(np.float32)


#: ONNX Runtime's MaxPool takes pads below the window and drops a last window that starts in
#: the padding: for "keep" and wide pads its argmax runs on the input padded explicitly
GRID = [
    ("k2s2-note", NOTE_INPUT, dict(pool_size=2, stride=2)),
    ("k3s2p1-ties", _ramp((2, 3, 9, 9), 3), dict(pool_size=3, stride=2, padding=1)),
    ("k3s1-nan", NOTE_INPUT, dict(pool_size=3, stride=1)),
    ("k2s1d2-dilation", NOTE_INPUT, dict(pool_size=2, stride=1, dilation=2)),
    ("k3s2-ceil", _ramp((1, 2, 8, 8)), dict(pool_size=3, stride=2, ceil_mode=True)),
    ("k2s2p1-keep", NOTE_INPUT, dict(pool_size=2, stride=2, padding=1, ceil_mode="keep")),
    ("k2s2-asymmetric", NOTE_INPUT, dict(pool_size=2, stride=2, padding=((0, 1), (1, 0)))),
    ("k3-same", _ramp((1, 2, 7, 7)), dict(pool_size=3, stride=2, padding="same")),
    # PyTorch's emulated argmax pads the channels-last input itself (F.pad: C unpadded)
    ("k3-same-nhwc", _ramp((2, 9, 9, 4)), dict(pool_size=3, stride=2, padding="same",
                                               layout="NHWC")),
    ("min-k2s2", NOTE_INPUT, dict(pool_size=2, stride=2, mode="min")),
    ("nhwc-k2s2", NOTE_INPUT.transpose(0, 2, 3, 1).copy(), dict(pool_size=2, stride=2,
                                                                  layout="NHWC")),
    ("1d-k3s2p1", _ramp((2, 3, 31)), dict(pool_size=3, stride=2, padding=1, layout="NCW")),
    ("3d-k2s2", _ramp((1, 2, 4, 6, 6)), dict(pool_size=2, stride=2, layout="NCDHW")),
    ("float64-k2s2", NOTE_INPUT.astype(np.float64), dict(pool_size=2, stride=2)),
    # integers: MXNet and Paddle pool them in float64, the emulated argmax compares there
    ("int32-k3s2-same-nwc", (_ramp((2, 17, 3), 4) - 2).astype(np.int32),
     dict(pool_size=3, stride=2, padding="same_lower", layout="NWC")),
    ("min-k2s1p2-wide", _ramp((1, 2, 5, 5)), dict(pool_size=2, stride=1, padding=2, mode="min",
                                                 allow_empty_windows=True)),
]


@pytest.fixture(scope="module")
def grid(pool):
    cases = [dict(X=x, op="pool_with_indices", **kwargs) for _, x, kwargs in GRID]
    return dict(zip([g[0] for g in GRID], px.compare_many(cases, backends=BACKENDS, pool=pool)))


@pytest.mark.parametrize("name", [g[0] for g in GRID])
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_agrees_or_names_the_cause(grid, name, backend):
    """Agree, or differ with the cause in parentheses after the first differing cell (of the
    indices, or of the values of the same call)."""
    result = grid[name].results[backend]
    assert result.status in ("agree", "differ"), result.detail
    if result.status == "differ":
        assert "(" in result.detail and result.detail.rstrip().endswith(")"), result.detail


@pytest.mark.parametrize("name", ["k3s2p1-ties", "k3s2-ceil", "k3-same", "k3-same-nhwc",
                                  "1d-k3s2p1", "3d-k2s2", "int32-k3s2-same-nwc"])
def test_windows_without_nan_agree_in_every_backend(grid, name):
    """Ties, padding and ceil windows without NaN: the first extreme in row-major order, in
    every framework."""
    statuses = {n: r.status for n, r in grid[name].results.items()}
    assert set(statuses.values()) == {"agree"}, {n: r.detail for n, r in
                                                 grid[name].results.items()}


def test_a_dilated_window_of_padding_only_gets_pytorchs_index_past_the_plane(pool):
    """The note's section 6: PyTorch's ``max_pool1d(L5, 2, 1, 1, dilation=6)`` gives index 5 of
    a 5-cell plane; judged as names-no-cell with the framework's own number in the cause."""
    x = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 5)
    result = px.compare(x, 2, stride=1, padding=1, dilation=6, layout="NCW",
                        op="pool_with_indices", allow_empty_windows=True,
                        backends=["pytorch"], pool=pool).results["pytorch"]
    assert result.status == "differ"
    assert "its index 5 at (N, C) (0, 0)" in result.detail and "names no cell" in result.detail


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_resnet_stem_activation(pool, backend):
    """(2, 64, 112, 112) float32, 3/2/1 (ResNet's max pool), random: every backend agrees."""
    x = np.random.default_rng(7).standard_normal((2, 64, 112, 112)).astype(np.float32)
    result = px.compare(x, 3, stride=2, padding=1, op="pool_with_indices", backends=[backend],
                        pool=pool).results[backend]
    assert result.status == "agree", result.detail


def test_the_command_line(pool):
    """``compare --kernel 2 --indices tf`` runs every backend; ``--indices`` alone, an
    unknown convention and an average are usage errors naming the option."""
    proc = cli("compare", "--shape", "1,2,6,6", "--kernel", "2", "--indices", "tf",
               "--backends", "pytorch,jax")
    assert proc.returncode == 0 and "pool2d max indices (tf)" in proc.stdout, proc.stderr
    for args, says in ((["--indices", "plane"], "not without --kernel"),
                       (["--kernel", "2", "--indices", "rows"], "unknown index convention"),
                       (["--kernel", "2", "--indices", "plane", "--mode", "avg"],
                        "not a mode of --indices")):
        proc = cli("compare", "--shape", "1,1,4,4", *args)
        assert proc.returncode == 2 and says in proc.stderr, proc.stderr


#: calls that also return their argmax, as written in their frameworks, and an input shape
TRANSLATED = [
    ("pytorch", "nn.MaxPool2d(2, return_indices=True)", (1, 3, 8, 8)),
    ("pytorch", "F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, return_indices=True)",
     (2, 4, 9, 9)),
    ("pytorch", "nn.MaxPool1d(3, stride=2, return_indices=True)", (2, 3, 31)),
    ("paddle", "F.max_pool2d(x, 2, 2, return_mask=True)", (1, 2, 8, 8)),
    ("tensorflow", "tf.nn.max_pool_with_argmax(x, 2, 2, 'VALID')", (1, 8, 8, 3)),
    ("tensorflow", "tf.nn.max_pool_with_argmax(x, ksize=3, strides=2, padding='SAME', "
                   "include_batch_in_index=True)", (2, 9, 9, 4)),
]


@pytest.fixture(scope="module")
def translated(pool):
    return {call: px.translate(call, framework, shape, pool=pool)
            for framework, call, shape in TRANSLATED}


@pytest.mark.parametrize("framework,call,shape", TRANSLATED,
                         ids=[f"{f}-{c.split('(')[0]}-{i}" for i, (f, c, _) in
                              enumerate(TRANSLATED)])
def test_a_call_returning_its_argmax_translates_into_every_framework(translated, framework,
                                                                     call, shape):
    """Read in the call's own convention (PyTorch's and Paddle's plane, TensorFlow's
    ``(y*W + x)*C + c``, with the batch term where asked), every target's printed code returns
    the pair (values, indices), its indices converted to that convention in its own ops, and
    gives the source call's own, indices exactly, at every size verified, with a verdict for
    every size the spec defines (native, or emulated: MXNet and JAX number the cells).  Below
    the window, where Paddle's call and TensorFlow's VALID still return a result (an empty
    one), a target whose code differs there is held to the spec's sizes, as for plain
    pooling."""
    t = translated[call]
    convention = ("tf_batch" if "include_batch_in_index=True" in call else
                  "tf" if framework == "tensorflow" else "plane")
    assert t.source.op is px.ops.INDICES and t.source.spec["indices"] == convention
    assert t.source_check.startswith("agrees with the neutral spec"), t.source_check
    for name, target in t.targets.items():
        held = framework in ("paddle", "tensorflow") and target.verdict.startswith(
            "size-dependent: valid for H in 2, 3, 4, 5, ... (H >= 2); W in 2, 3, 4, 5, ... "
            f"(W >= 2); below, {framework}'s call returns a result")
        assert target.verdict in ("native", "emulated") or held, (name, target.verdict)
        assert target.check.startswith("agrees with the source call on "), (name,
                                                                            target.check)
        assert target.code.splitlines()[-1].startswith("y = "), name


def test_the_conversions_are_written_in_each_frameworks_code(translated):
    """TensorFlow's (y*W + x)*C + c floor-divided by C, ONNX's whole-tensor index modulo the
    plane's cells; for TensorFlow's own convention as the source's, the plane's indices times
    C plus c (and n*H*W*C), from the framework's arange: the code printed is the code that
    ran."""
    t = translated["nn.MaxPool2d(2, return_indices=True)"]
    assert "tf.nn.max_pool_with_argmax" in t.targets["tensorflow"].code
    assert "// x.shape[1]" in t.targets["tensorflow"].code
    assert "'Mod'" in t.targets["onnxruntime"].code
    assert "return_mask=True" in t.targets["paddle"].code
    assert "return_indices=True" in t.targets["pytorch"].code
    tf_batch = translated["tf.nn.max_pool_with_argmax(x, ksize=3, strides=2, padding='SAME', "
                          "include_batch_in_index=True)"]
    assert "torch.arange(x.shape[0]" in tf_batch.targets["pytorch"].code  # the batch term
