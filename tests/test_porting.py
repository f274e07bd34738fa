"""The porting assistant: native calls read with each framework's defaults, rendered for every
framework (the rendered code runs as printed), equivalence explained, the chapter audited."""
import os
import re

import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw import porting
from pooling_xfw.porting import chapter
from pooling_xfw import registry

BACKENDS, PORTING_SOURCES = registry.defaults(), registry.porting_sources()

from .test_cli import cli

# --- parse ------------------------------------------------------------------------------------

@pytest.mark.parametrize("framework,call,expected,defaulted", [
    ("pytorch", "nn.MaxPool2d(3)", dict(pool_size=3, stride=3, padding=0), ["stride"]),
    ("pytorch", "torch.nn.functional.avg_pool2d(x, 3, 2, 1, count_include_pad=False)",
     dict(mode="avg", stride=2, padding=1, count_include_pad=False), []),
    ("pytorch", "F.max_pool2d(x, 2, dilation=2, ceil_mode=True)",
     dict(dilation=2, ceil_mode=True, stride=2), ["stride"]),
    ("tensorflow", "tf.keras.layers.MaxPool2D(pool_size=[3, 3])",
     dict(pool_size=(3, 3), stride=(3, 3), padding="valid", layout="NHWC"), ["stride"]),
    ("tensorflow", "keras.layers.AveragePooling2D(3, 2, padding='same')",
     dict(mode="avg", padding="same", count_include_pad=False), []),
    ("tensorflow", "tf.nn.max_pool2d(x, ksize=3, strides=2, padding=[[0, 0], [1, 0], [0, 2], [0, 0]])",
     dict(padding=((1, 0), (0, 2)), stride=2), []),
    ("tensorflow", "tf.nn.pool(x, window_shape=(2, 2), pooling_type='MAX', dilations=(2, 2))",
     dict(stride=1, dilation=(2, 2)), ["stride"]),
    ("mxnet", "nn.MaxPool2D(3, padding=1, strides=2)", dict(stride=2, padding=1), []),
    ("mxnet", "nn.AvgPool2D(2, ceil_mode=True, count_include_pad=False)",
     dict(mode="avg", stride=2, ceil_mode="keep", count_include_pad=False), ["stride"]),
    ("mxnet", "npx.pooling(x, kernel=(3, 3), pool_type='avg')",
     dict(stride=1, mode="avg", count_include_pad=True), ["stride"]),
    ("paddle", "nn.AvgPool2D(3, padding=1, stride=2)",
     dict(mode="avg", count_include_pad=False), []),
    ("paddle", "F.max_pool2d(x, 3, padding=[1, 0, 2, 0], data_format='NHWC')",
     dict(padding=((1, 0), (2, 0)), layout="NHWC", stride=3), ["stride"]),
    ("paddle", "paddle.nn.MaxPool2D(3, padding='SAME')", dict(padding="same", stride=3), ["stride"]),
], ids=lambda v: v if isinstance(v, str) and "(" in v else None)
def test_parse_with_the_frameworks_defaults(framework, call, expected, defaulted):
    native = porting.parse(framework, call)
    for key, value in expected.items():
        assert native.spec[key] == value, key
    assert native.defaulted == defaulted
    px.pool2d(np.zeros((1, 1, 9, 9), np.float32) if native.spec["layout"] == "NCHW"
              else np.zeros((1, 9, 9, 1), np.float32),
              native.spec["pool_size"], **{k: v for k, v in native.spec.items()
                                           if k != "pool_size"})


def test_parse_a_call_given_as_keyword_arguments():
    native = porting.parse("paddle", function="F.avg_pool2d", kernel_size=2, exclusive=False)
    assert native.spec["count_include_pad"] is True and native.spec["stride"] == 2
    assert native.spec == porting.parse("paddle", "F.avg_pool2d(x, 2, exclusive=False)").spec


@pytest.mark.parametrize("framework,call,note", [
    ("mxnet", "npx.pooling(x, kernel=(3, 3), pad=(1, 0, 1, 0))", "only the first two entries"),
    ("tensorflow", chapter.TABS[1][1]["tensorflow"], "not -inf"),
    ("paddle", "nn.AvgPool2D(3)", "excludes padding by default"),
    ("pytorch", "nn.LPPool2d(3, 2)", "x, not |x|"),
    ("paddle", "nn.AvgPool2D(3, 2, [0, 1, 0, 1], exclusive=False)", "pads are asymmetric"),
    ("paddle", "F.lp_pool2d(x, 1, 2)", "x, not |x|"),
    ("tensorflow", "tf.nn.max_pool3d(x, 1, 3, 'SAME')", "negative pad unclamped"),
    ("tensorflow", "tf.keras.layers.AveragePooling3D(2, (1, 5, 1), padding='same')",
     "negative pad unclamped"),
], ids=["mxnet-pad-4-tuple", "tf-zero-pad-recipe", "paddle-exclusive", "torch-lp",
        "paddle-asymmetric-include-pad", "paddle-lp", "tf-3d-same-stride-past-window",
        "keras-3d-same-stride-past-window"])
def test_parse_says_what_the_spec_cannot_hold(framework, call, note):
    assert any(note in n for n in porting.parse(framework, call).notes)


@pytest.mark.parametrize("call,message", [
    ("nn.MaxPool2d(3, padding=__import__('os').getpid())", "is not a literal"),
    ("nn.Conv2d(3)", "is not understood"),
    ("nn.MaxPool2d(3, padding=", "cannot parse"),
    ("nn.MaxPool2d(3, pading=1)", "unexpected argument 'pading'"),
    ("nn.MaxPool2d()", "needs 'kernel_size'"),
], ids=["no-eval", "not-pooling", "syntax", "typo", "missing-kernel"])
def test_parse_refuses_with_a_clear_error(call, message):
    with pytest.raises(px.PoolingError, match=message):
        porting.parse("pytorch", call)


# --- translate ----------------------------------------------------------------------------------

TRANSLATIONS = [
    ("tensorflow", "AveragePooling2D(pool_size=3, strides=2, padding='same')", (1, 8, 8, 3)),
    ("pytorch", "nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)", (1, 2, 6, 6)),
    ("pytorch", "F.avg_pool2d(x, (2, 3), stride=1, padding=(1, 1), count_include_pad=False)",
     (2, 1, 5, 7)),
    ("mxnet", "nn.MaxPool2D((2, 3), padding=(1, 2), strides=(2, 3))", (1, 1, 4, 4)),
    ("mxnet", "npx.pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type='avg', "
              "pooling_convention='full')", (1, 1, 6, 6)),
    ("paddle", "nn.MaxPool2D(3, stride=2, padding=[2, 0, 0, 1])", (1, 1, 7, 6)),
    ("paddle", "F.avg_pool2d(x, 2, stride=2, exclusive=False, data_format='NHWC')", (1, 6, 6, 2)),
    ("tensorflow", "tf.nn.pool(x, window_shape=(2, 2), pooling_type='MAX', dilations=(2, 2))",
     (1, 7, 7, 1)),
    ("jax", "nn.avg_pool(x, (3, 3), strides=(2, 2), padding='SAME')", (1, 7, 7, 2)),
    ("jax", "lax.reduce_window(x, 0., lax.add, (1, 1, 2, 3), (1, 1, 2, 2), 'SAME') / "
            "lax.reduce_window(jnp.ones_like(x), 0., lax.add, (1, 1, 2, 3), (1, 1, 2, 2), "
            "'SAME')", (1, 2, 7, 6)),
]


@pytest.mark.parametrize("framework,call,shape", TRANSLATIONS,
                         ids=[f"{f}-{c.split('(')[0]}-{i}" for i, (f, c, _) in
                              enumerate(TRANSLATIONS)])
def test_translate_runs_source_and_every_target_and_they_agree(pool, framework, call, shape):
    result = porting.translate(call, framework, shape, pool=pool)
    assert result.source_check == "agrees with the neutral spec"
    assert set(result.targets) == set(BACKENDS)
    checked = porting.sizes.verification_shapes(
        result.source.op, porting.neutral_kwargs(result.source), shape)
    assert len(checked) >= 4  # odd, even, and the given shape
    for target in result.targets.values():
        assert target.kind in ("native", "emulated", "size-dependent"), target.verdict
        assert target.kind == "native" or target.reasons
        assert set(target.checked) == set(checked)
        for size, line in target.checked.items():
            expected = "agrees with the source call" if target.holds_for(
                porting.sizes.spatial_of(size, result.source.spec["layout"])) else "refused"
            assert line == expected, (target.backend, size, line)


# the issue's examples, and calls whose translations hold for some sizes only
SIZED = TRANSLATIONS + [
    ("tensorflow", "layers.MaxPooling2D((3, 3), strides=(2, 2), padding='same')", (1, 8, 8, 3)),
    ("pytorch", "nn.MaxPool2d(2, stride=2, padding=1, ceil_mode=True)", (1, 1, 6, 6)),
    ("pytorch", "nn.AvgPool2d(3, stride=2, ceil_mode=True, count_include_pad=False)",
     (1, 1, 7, 7)),
    ("pytorch", "nn.AvgPool2d(2, stride=3, ceil_mode=True)", (1, 1, 8, 8)),
    # adaptive: TensorFlow's emulation computes its bins from the input's shape (every size)
    ("pytorch", "nn.AdaptiveAvgPool2d(3)", (1, 2, 7, 7)),
    ("paddle", "nn.AdaptiveMaxPool2D((2, 3))", (1, 1, 5, 8)),
    # global: native everywhere, for every size (Keras drops H and W)
    ("tensorflow", "layers.GlobalAveragePooling2D()", (1, 6, 6, 2)),
    ("mxnet", "nn.GlobalMaxPool2D()", (1, 2, 6, 6)),
]
# square sizes, one under most windows, and two oblong ones
HW = [(n, n) for n in range(1, 10)] + [(5, 8), (8, 5)]


def _run_printed(workers, backend, code, x):
    reply, arrays = workers.worker(backend).request(
        {"op": "test-hook", "action": "run-code", "code": code}, [x])
    return reply, (arrays[0] if arrays else None)


@pytest.mark.parametrize("framework,call,shape", SIZED,
                         ids=[f"{f}-{c.split('(')[0]}-{i}" for i, (f, c, _) in enumerate(SIZED)])
def test_printed_code_gives_the_source_numbers_or_refuses_at_every_size(hook_pool, framework,
                                                                        call, shape):
    """Each target's code, pasted as printed, run in its framework at sizes 1..9 and two
    oblong ones: the source call's numbers (run as written) where its verdict says it holds,
    a ValueError naming the condition where it does not."""
    result = porting.translate(call, framework, shape, verify=False)
    kwargs = porting.neutral_kwargs(result.source)
    layout = kwargs["layout"]
    hook_pool.start(BACKENDS)
    ran = {name: {"held": 0, "refused": 0} for name in result.targets}
    for i, hw in enumerate(HW):
        size = porting.sizes.with_spatial(shape, layout, hw)
        if not porting.sizes.defined(result.source.op, kwargs, size):
            continue
        x = porting.random_input(size, layout, seed=i)
        source = porting.run_native(result.source, x, hook_pool)
        for name, target in result.targets.items():
            reply, y = _run_printed(hook_pool, name, target.code, x)
            if target.holds_for(hw):
                ran[name]["held"] += 1
                assert reply["status"] == "ok", (name, hw, reply)
                if "H and W dropped, is y[" in target.code:  # the code's note: y is 4-D
                    y = y.reshape(y.shape[0], -1)
                assert y.shape == source.shape, (name, hw)
                np.testing.assert_allclose(y, source, rtol=1e-5, atol=1e-5,
                                           err_msg=f"{name} {hw}")
            else:
                ran[name]["refused"] += 1
                assert reply["status"] == "error" and reply["kind"] == "ValueError", (name, hw)
                assert "this translation holds for" in reply["message"]
    for name, target in result.targets.items():
        assert ran[name]["held"] >= 3, (name, ran[name])
        assert (ran[name]["refused"] > 0) == (target.kind == "size-dependent"), (name, ran[name])


@pytest.mark.parametrize("framework,call,shape,targets", [
    ("pytorch", "nn.MaxPool2d(3, stride=2, dilation=2)", (1, 1, 9, 9),
     ("paddle", "mxnet", "tensorflow")),
    ("jax", "lax.reduce_window(x, -jnp.inf, lax.max, (1, 3, 3, 1), (1, 2, 2, 1), 'VALID', "
            "window_dilation=(1, 2, 2, 1))", (1, 9, 9, 1), ("mxnet", "tensorflow", "paddle")),
], ids=["torch-dilated-max", "jax-dilated-reduce-window"])
def test_a_dilated_window_as_slices_holds_at_every_size(hook_pool, framework, call, shape,
                                                        targets):
    """The strided slices of a dilated window stop where the floor rule does, counted from the
    axis's end, at any length: the code holds at every size (it once held for odd sizes only,
    and refused 6x6, where it gave the source's numbers)."""
    result = porting.translate(call, framework, shape, to=list(targets), verify=False)
    layout = result.source.spec["layout"]
    hook_pool.start(list(targets) + [framework])
    for name in targets:
        target = result.targets[name]
        assert target.kind == "emulated" and "this translation holds" not in target.code, (
            name, target.verdict)
        for i, hw in enumerate([(6, 6), (8, 10), (12, 7), (5, 5), (9, 9)]):
            x = porting.random_input(porting.sizes.with_spatial(shape, layout, hw), layout, i)
            reply, y = _run_printed(hook_pool, name, target.code, x)
            assert reply["status"] == "ok", (name, hw, reply)
            np.testing.assert_allclose(y, porting.run_native(result.source, x, hook_pool),
                                       err_msg=f"{name} {hw}")


@pytest.mark.parametrize("framework,call,shape,narrowed,kept", [
    ("pytorch", "nn.MaxPool2d(2, ceil_mode=True)", (1, 1, 9, 9), {"mxnet": 2},
     ("pytorch", "tensorflow", "jax")),
    ("tensorflow", "layers.AveragePooling2D(3, strides=2)", (1, 9, 9, 2),
     {"mxnet": 3, "pytorch": 3, "paddle": 3, "onnxruntime": 3}, ("tensorflow", "jax")),
], ids=["torch-ceil-1x1", "keras-valid-below-the-window"])
def test_a_target_that_fails_where_only_the_source_pools_is_narrowed(
        hook_pool, framework, call, shape, narrowed, kept):
    """Below the window the neutral spec pools nothing, but PyTorch's ceil_mode makes one window
    of a 1x1 input and Keras' 'valid' an empty output.  A target whose code raises there (MXNet:
    "kernel <= dshape + 2*pad") or gives another shape says so: its verdict is size-dependent
    with the sizes the spec defines, its code refuses the others; on both sides of that bound
    the code does what its verdict says.  A target that gives the source's result there is not
    narrowed."""
    result = porting.translate(call, framework, shape, pool=hook_pool)
    layout = result.source.spec["layout"]
    for name in kept:
        assert result.targets[name].kind in ("native", "emulated"), result.targets[name].verdict
    for name, bound in narrowed.items():
        target = result.targets[name]
        assert target.kind == "size-dependent", (name, target.verdict)
        assert f"(H >= {bound}); W in" in target.verdict and "below, " in target.verdict
        assert f"refuses {bound - 1}x{bound - 1} as printed" in target.check or \
            "refuses 1x1 as printed" in target.check, target.check
        hook_pool.start([name])
        for hw, holds in (((bound - 1, bound - 1), False), ((bound, bound), True),
                          ((bound + 3, bound), True)):
            x = porting.random_input(porting.sizes.with_spatial(shape, layout, hw), layout, 0)
            reply, y = _run_printed(hook_pool, name, target.code, x)
            if not holds:  # refused as printed, and unguarded it does not give the source's
                assert reply["kind"] == "ValueError" and "holds for" in reply["message"]
                assert target.outside, name
                continue
            assert reply["status"] == "ok", (name, hw, reply)
            np.testing.assert_allclose(y.reshape(-1), porting.run_native(
                result.source, x, hook_pool).reshape(-1), rtol=1e-5, atol=1e-6)


# SAME into a framework without it, ceil mode into TensorFlow: pads computed from x.shape
EVERY_SIZE = [
    ("tensorflow", "layers.MaxPooling2D((3, 3), strides=(2, 2), padding='same')", (1, 8, 8, 3),
     ("pytorch", "mxnet")),
    ("tensorflow", "AveragePooling2D(pool_size=3, strides=2, padding='same')", (1, 7, 7, 2),
     ("pytorch", "mxnet")),
    ("pytorch", "nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)", (1, 2, 6, 6),
     ("tensorflow",)),
    ("pytorch", "nn.AvgPool2d(2, stride=2, padding=1, ceil_mode=True)", (1, 1, 6, 6),
     ("tensorflow", "mxnet", "paddle")),
]


@pytest.mark.parametrize("framework,call,shape,targets", EVERY_SIZE,
                         ids=[f"{f}-{c.split('(')[0]}-{i}" for i, (f, c, _, _) in
                              enumerate(EVERY_SIZE)])
def test_same_and_ceil_translate_for_every_size(pool, framework, call, shape, targets):
    """Where the target has no SAME or no ceil mode, its code computes the pads (or the ceil
    window count) from the input's shape when it runs: one code for every size, verified by
    running it against the source call at the given shape, 5x5 to 8x8 and one smaller than
    the window."""
    result = porting.translate(call, framework, shape, pool=pool)
    assert result.source_check == "agrees with the neutral spec"
    layout = result.source.spec["layout"]
    for name in targets:
        target = result.targets[name]
        assert target.kind == "emulated", (name, target.verdict)
        assert "x.shape[" in target.code and "raise ValueError" not in target.code
        assert all(c.everywhere for c in target.conditions)
        sizes_run = [porting.sizes.spatial_of(s, layout) for s in target.checked]
        assert {h % 2 for h, _ in sizes_run} == {0, 1}
        assert min(h for h, _ in sizes_run) < max(result.source.spec["pool_size"]
                                                  if isinstance(result.source.spec["pool_size"],
                                                                tuple)
                                                  else (result.source.spec["pool_size"],))
        assert set(target.checked.values()) == {"agrees with the source call"}, target.checked


def test_keras_same_becomes_paddles_own_same_and_holds_at_7x7(hook_pool):
    call = "layers.MaxPooling2D((3, 3), strides=(2, 2), padding='same')"
    result = porting.translate(call, "tensorflow", (1, 8, 8, 3), to="paddle", verify=False)
    target = result.targets["paddle"]
    assert target.verdict == "native" and "padding='SAME'" in target.code
    x = porting.random_input((1, 7, 7, 3), "NHWC", seed=7)
    keras = porting.run_native(result.source, x, hook_pool)
    assert keras.shape == px.output_shape(x.shape, 3, stride=2, padding="same", layout="NHWC")
    reply, y = _run_printed(hook_pool, "paddle", target.code, x)
    assert reply["status"] == "ok"
    np.testing.assert_array_equal(y, keras)


def test_d2l_en_1270_port_pads_in_full_and_holds_at_5x5(hook_pool):
    """The PyTorch port of d2l-en 1270's MXNet call, as audit-chapter prints it."""
    (frm, call), (to, _) = chapter.HISTORICAL[0][1:]
    target = porting.translate(call, frm, (1, 1, 4, 4), to=to, verify=False).targets[to]
    assert target.kind == "emulated" and "F.pad(x, (2, 2, 1, 1)" in target.code
    native = porting.parse(frm, call)
    x = porting.random_input((1, 1, 5, 5), "NCHW", seed=5)
    reply, y = _run_printed(hook_pool, to, target.code, x)
    assert reply["status"] == "ok"
    np.testing.assert_array_equal(y, porting.run_native(native, x, hook_pool))


def test_the_source_call_as_written_differs_from_the_spec_and_is_translated_as_written(
        hook_pool):
    """The chapter's TensorFlow tab (tf.pad with zeros, then 'valid' max pooling) is not the
    spec it names: zero padding wins on negative inputs, and the note says so.  Every target's
    code pads with zeros as the tab does, so it gives the tab's numbers (what a model trained
    with it computes), forward and backward; the code of the max pooling the spec names, whose
    padding never wins, is shown beside it."""
    call = chapter.TABS[1][1]["tensorflow"]
    result = porting.translate(call, "tensorflow", (1, 4, 4, 1), pool=hook_pool)
    assert result.source_check.startswith("DIFFERS")  # zero padding won on the negative input
    assert any("pads with 0, not -inf" in note for note in result.source.notes)
    assert "translated as written: each target pads with 0" in result.to_text()
    for name, target in result.targets.items():
        assert target.check.startswith("agrees with the source call on "), (name, target.check)
        assert target.grad_check.startswith(("agrees", "not compared")), (name, target.grad_check)
        assert target.alternative and target.alternative != target.code
        assert any("padded with 0 first" in reason for reason in target.reasons), name
    x = porting.random_input((1, 6, 6, 2), "NHWC", seed=3)  # its top-left corner negative
    source = porting.run_native(result.source, x, hook_pool)
    neutral = px.pool2d(x, **porting.neutral_kwargs(result.source))
    assert not np.array_equal(source, neutral)  # the input on which the two part
    hook_pool.start(list(result.targets))
    for name, target in result.targets.items():
        reply, y = _run_printed(hook_pool, name, target.code, x)
        assert reply["status"] == "ok", (name, reply)
        np.testing.assert_array_equal(y, source, err_msg=name)
        reply, y = _run_printed(hook_pool, name, target.alternative, x)
        assert reply["status"] == "ok", (name, reply)
        np.testing.assert_array_equal(y, neutral, err_msg=name)


# --- explain ------------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b,shape,kinds", [
    (("pytorch", "nn.MaxPool2d(3, padding=1, stride=2)"),
     ("tensorflow", chapter.TABS[1][1]["tensorflow"]), (1, 1, 4, 4),
     {"layout", "pad value", "NaN policy"}),
    (("pytorch", "nn.AvgPool2d(3, padding=1, stride=2)"),
     ("paddle", "nn.AvgPool2D(3, padding=1, stride=2)"), None, {"divisor"}),
    (("tensorflow", "MaxPool2D(2, strides=1, padding='same')"),
     ("paddle", "nn.MaxPool2D(2, stride=1, padding=[1, 0, 1, 0], data_format='NHWC')"),
     (1, 4, 4, 1), {"SAME split side", "NaN policy"}),
    (("pytorch", "nn.MaxPool2d(2, stride=2, padding=1, ceil_mode=True)"),
     ("mxnet", "nn.MaxPool2D(2, strides=2, padding=1, ceil_mode=True)"), (1, 1, 5, 5),
     {"output-shape rule", "NaN policy"}),
    (("paddle", "nn.MaxPool2D(2, stride=2, padding=1, ceil_mode=True)"),
     ("jax", "nn.max_pool(x, (2, 2), strides=(2, 2), padding=((1, 2), (1, 2)))"),
     (1, 5, 5, 1), {"empty window", "layout", "NaN policy"}),
    (("mxnet", "npx.pooling(x, kernel=(3, 3))"), ("mxnet", "nn.MaxPool2D(3)"), None,
     {"default stride"}),
    (("pytorch", "nn.MaxPool2d(2, ceil_mode=True)"), ("pytorch", "nn.MaxPool2d(2)"), (1, 1, 5, 5),
     {"output-shape rule"}),
    (("pytorch", "nn.MaxPool2d(3)"), ("paddle", "nn.MaxPool2D(3, stride=3)"), None,
     {"NaN policy"}),
], ids=["chapter-torch-vs-tf", "divisor", "same-split-side", "ceil-drop-vs-keep",
        "empty-window-value", "default-stride", "ceil-output-shape", "nan-only"])
def test_explain_classifies_each_cause(pool, a, b, shape, kinds):
    result = porting.explain(a[1], a[0], b[1], b[0], shape=shape, pool=pool)
    assert {c.kind for c in result.causes} == kinds
    assert result.equivalent == (kinds <= {"NaN policy", "layout"})
    assert result.witness is not None
    outputs = [v for v in result.witness_outputs.values()]
    assert len(outputs) == 2 and not any(isinstance(v, str) for v in outputs)
    assert outputs[0].shape != outputs[1].shape or not np.array_equal(outputs[0], outputs[1],
                                                                      equal_nan=True)


def test_explain_finds_the_chapter_tf_pad_is_shape_dependent():
    causes = {c.kind: c for c in porting.explain(
        "nn.MaxPool2D(3, padding=1, strides=2)", "mxnet", chapter.TABS[1][1]["tensorflow"],
        "tensorflow", verify=False).causes}
    rule = causes["output-shape rule"]
    assert (4, 4) not in rule.sizes and (5, 5) in rule.sizes
    assert "shape-dependent" in rule.detail


def test_identical_calls_are_equivalent(pool):
    result = porting.explain("nn.MaxPool2d(3, 2, 1)", "pytorch",
                             "F.max_pool2d(x, kernel_size=3, stride=2, padding=1)", "pytorch",
                             pool=pool)
    assert result.causes == [] and result.verdict == "equivalent" and result.witness is None


# --- the chapter, audited -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def audit(pool):
    return chapter.audit_tabs(pool), chapter.audit_history(pool)


def test_every_tab_prints_the_chapters_output(audit):
    tabs, _ = audit
    assert len(tabs) == 20 and all(t.prints_chapter_output for t in tabs)
    assert {t.framework for t in tabs} == {"mxnet", "pytorch", "tensorflow", "paddle", "jax"}


def test_the_jax_tab_is_d2l_ens_verbatim():
    """The JAX tab as data: d2l-en's import cell, then each pooling cell, cited."""
    assert chapter.JAX_SOURCE[:2] == ("d2l-ai/d2l-en",
                                      "chapter_convolutional-neural-networks/pooling.md")
    tabs = [dict(t)["jax"] for _, t in chapter.TABS]
    assert all(t.startswith("from d2l import jax as d2l\nfrom flax import linen as nn\n")
               for t in tabs)
    assert tabs[0].endswith("nn.max_pool(X, window_shape=(3, 3), strides=(3, 3))\n")
    assert "jnp.pad(X, ((0, 0), (1, 0), (1, 0), (0, 0)), mode='constant')" in tabs[1]
    assert tabs[1] == tabs[3]  # the two-channel cell repeats it


def test_only_the_zero_padding_tabs_break_on_negative_inputs(audit):
    """TensorFlow's tf.pad and JAX's jnp.pad pad with 0 before a max: wrong below 0."""
    tabs, _ = audit
    for t in tabs:
        same = np.array_equal(t.on_shifted, t.shifted_reference)
        assert same == (t.framework not in ("tensorflow", "jax") or t.case == "maxpool-k3"), (
            t.case, t)
    by = {(t.case, t.framework): t for t in tabs}
    tf_tab = by[("maxpool-k3-p1-s2", "tensorflow")]
    np.testing.assert_array_equal(tf_tab.on_shifted[0, 0], [[0, 0], [0, -85]])
    np.testing.assert_array_equal(tf_tab.shifted_reference[0, 0], [[-95, -93], [-87, -85]])
    np.testing.assert_array_equal(by[("maxpool-k2x3-p0x1-s2x3", "tensorflow")].on_shifted[0, 0],
                                  [[0, 0], [0, 0]])
    assert "pad value" in dict(tf_tab.causes)
    jax_tab = by[("maxpool-k3-p1-s2", "jax")]
    np.testing.assert_array_equal(jax_tab.on_shifted, tf_tab.on_shifted)
    assert "(jnp.pad)" in dict(jax_tab.causes)["pad value"]


def test_history_d2l_en_1270_and_1271(audit):
    _, history = audit
    rows = {r["name"]: r for r in history}
    out_1270 = rows["d2l-en 1270"]["explanation"].witness_outputs
    np.testing.assert_array_equal(out_1270["A mxnet"], [[0, 3], [8, 11], [12, 15]])
    np.testing.assert_array_equal(out_1270["B pytorch"], [[1, 3], [9, 11], [13, 15]])
    port = rows["d2l-en 1270"]["translation"].targets["pytorch"]
    assert port.verdict == "emulated"
    assert set(port.checked.values()) == {"agrees with the source call"} and len(port.checked) >= 4
    out_1271 = rows["d2l-en 1271"]["explanation"].witness_outputs
    np.testing.assert_array_equal(out_1271["B tensorflow"], [[5, 7], [13, 15]])
    assert "output-shape rule" in {c.kind for c in rows["d2l-en 1271"]["explanation"].causes}


# --- command line -------------------------------------------------------------------------------

def test_cli_translate_explain_audit():
    out = cli("translate", "--from", "tensorflow",
              "AveragePooling2D(pool_size=3, strides=2, padding='same')", "--shape", "1,8,8,3",
              check_exit=0).stdout
    assert "neutral spec: pool_size=3, mode='avg'" in out and "tensorflow  native" in out
    assert "y = tf.nn.avg_pool2d(x, ksize=(3, 3), strides=(2, 2), padding='SAME')" in out
    out = cli("explain", "pytorch", "nn.MaxPool2d(3, padding=1, stride=2)", "tensorflow",
              chapter.TABS[1][1]["tensorflow"], "--shape", "1,1,4,4", check_exit=1).stdout
    assert "verdict: NOT equivalent" in out and "B tensorflow: [[  0.,   0.], [  0., -85.]]" in out
    out = cli("audit-chapter", check_exit=0).stdout
    assert "maxpool-k3-p1-s2 / tensorflow: prints the chapter's output; on X-100: " \
           "[[  0.,   0.], [  0., -85.]]" in out
    assert "maxpool-k3-p1-s2 / jax: prints the chapter's output; on X-100: " \
           "[[  0.,   0.], [  0., -85.]]" in out
    assert "The JAX tab is the English edition's: d2l-ai/d2l-en" in out
    assert cli("translate", "--from", "torch", "nn.MaxPool2d(3)", "--shape", "1,1,4,4",
               check_exit=2).stderr.count("\n") == 1


# --- defects found in review, kept fixed ---------------------------------------------------------

@pytest.mark.parametrize("framework,call,expected", [
    ("mxnet", "npx.pooling(x, (2, 2), 'avg')", dict(mode="avg", stride=1)),  # MXNet's order
    ("paddle", "nn.MaxPool2D(2, 2, 0, False, True)", dict(ceil_mode="keep")),  # return_mask 4th
    ("tensorflow", "tf.nn.max_pool2d(x, ksize=[1, 1, 3, 3], strides=[1, 1, 2, 2], "
                   "padding='VALID', data_format='NCHW')", dict(pool_size=(3, 3), stride=(2, 2))),
    ("tensorflow", "tf.nn.max_pool2d(x, ksize=[3], strides=2, padding='VALID')",
     dict(pool_size=3)),
    ("tensorflow", "layers.MaxPooling2D(2)(x)", dict(pool_size=2, stride=2)),
    ("tensorflow", "tf.keras.layers.MaxPool2D(2, name='pool1')", dict(pool_size=2)),
    ("pytorch", "k = 3\nnn.MaxPool2d(k)", dict(pool_size=3, stride=3)),
    ("paddle", "nn.MaxPool2D(3, padding=[[1, 1], [1, 1]])", dict(padding=((1, 1), (1, 1)))),
    ("paddle", "nn.LPPool2D(2, 3)", dict(mode="lp", p=2.0)),
], ids=["npx-positional", "paddle-return-mask-order", "tf-4d-nchw-ksize", "tf-1-ksize",
        "keras-layer-applied", "keras-name", "bound-literal", "paddle-two-pairs", "paddle-lp"])
def test_parse_review_cases(framework, call, expected):
    spec = porting.parse(framework, call).spec
    for key, value in expected.items():
        assert spec[key] == value, key


@pytest.mark.parametrize("framework,call,message", [
    ("pytorch", "x = F.pad(x, (1, 1, 1, 1), value=-1.0)\ny = F.max_pool2d(x, 3, stride=1)",
     "is not understood"),
    ("pytorch", "nn.MaxPool2d(3.7)", "where an int or a tuple of ints belongs"),
    ("pytorch", "nn.MaxPool2d(3, return_indices=1)", "allowed: return_indices=True or False"),
    ("mxnet", "npx.pooling(x, kernel=(3, 3), pool_type='sum', global_pool=True)",
     "allowed: pool_type 'max', 'avg' or 'lp'"),
    ("tensorflow", "x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode='REFLECT')\n"
                   "y = tf.nn.max_pool2d(x, 3, 1, 'VALID')", "other modes have no neutral spec"),
    ("tensorflow", "tf.pad(x)\ntf.nn.max_pool2d(x, 3, 1, 'VALID')", "cannot read"),
    ("tensorflow", "(a, b) = tf.constant(3)", "is not understood"),
    ("pytorch", "nn.MaxPool2d(3, 1, 0, 1, False, False, 7)", "positional arguments"),
    ("pytorch", "x.max_pool2d(3)", "is not understood"),
], ids=["torch-pad-before", "float-kernel", "return-indices", "global-sum", "reflect-pad",
        "pad-without-paddings", "tuple-target", "too-many-args", "method-call"])
def test_parse_refuses_what_it_cannot_read_faithfully(framework, call, message):
    with pytest.raises(px.PoolingError, match=message) as info:
        porting.parse(framework, call)
    assert "\n" not in str(info.value).split("(", 1)[0]


def test_lp_power_and_avg_pad_value_are_causes():
    lp = porting.explain("nn.LPPool2d(2, 3)", "pytorch", "F.lp_pool2d(x, 4, 3)", "paddle",
                         verify=False)
    assert "lp power" in {c.kind for c in lp.causes} and not lp.equivalent
    recipe = ("x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=5.0)\n"
              "y = tf.nn.avg_pool2d(x, 3, 1, 'VALID')")
    avg = porting.explain("nn.AvgPool2d(3, 1, 1)", "pytorch", recipe, "tensorflow",
                          shape=(1, 1, 4, 4), verify=False)
    assert "pad value" in {c.kind for c in avg.causes} and not avg.equivalent


def test_nan_witness_shows_the_difference(pool):
    result = porting.explain("nn.MaxPool2d(3, stride=2, padding=1)", "pytorch",
                             "nn.MaxPool2D(3, 2, 1)", "paddle", pool=pool)
    a, b = result.witness_outputs.values()
    assert not np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("args", [
    ["translate", "--from", "pytorch", "nn.MaxPool2d(3)", "--shape", "1,1,-4,4"],
    ["compare", "--shape", "1,1,4,4", "--kernel", "2", "--seed", "-1"],
    ["report", "--cases", "pool2d-max", "--output", "/nonexistent/dir/x.txt"],
    ["report", "--cases", "pool2d-max", "--output", "/tmp"],
    ["compare", "--shape", "4,4", "--kernel", "2", "--backends", ","],
], ids=["negative-shape", "negative-seed", "missing-dir", "output-is-dir", "empty-backends"])
def test_cli_review_cases_are_usage_errors(args):
    proc = cli(*args, check_exit=2)
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_markdown_cells_are_escaped(tmp_path):
    import json as _json

    cases = tmp_path / "cases.json"
    cases.write_text(_json.dumps([{"name": "a|<b>", "input": [[1, 2], [3, 4]],
                                   "kwargs": {"pool_size": 2}}]))
    out = cli("report", "--cases", str(cases), "--format", "markdown", "--backends", "pytorch",
              check_exit=0).stdout
    assert "| a\\|&lt;b&gt; |" in out


# --- explain's verdicts, checked by running both calls ------------------------------------------

def _spelling(framework: str, p: dict) -> str:
    """A real call of ``framework`` for the parameters ``p`` (k, s, pad: int or 'same', ceil,
    mode, include: the avg counts padding)."""
    k, s, pad, ceil, mode, include = (p[n] for n in ("k", "s", "pad", "ceil", "mode", "include"))
    if framework == "tensorflow":
        cls = "MaxPool2D" if mode == "max" else "AveragePooling2D"
        return f"tf.keras.layers.{cls}(pool_size={k}, strides={s}, padding='{pad}')"
    if framework == "pytorch":
        if mode == "max":
            return f"nn.MaxPool2d({k}, stride={s}, padding={pad}, ceil_mode={ceil})"
        return (f"nn.AvgPool2d({k}, stride={s}, padding={pad}, ceil_mode={ceil}, "
                f"count_include_pad={include})")
    if framework == "mxnet":
        if mode == "max":
            return f"nn.MaxPool2D({k}, strides={s}, padding={pad}, ceil_mode={ceil})"
        return (f"nn.AvgPool2D({k}, strides={s}, padding={pad}, ceil_mode={ceil}, "
                f"count_include_pad={include})")
    if framework == "jax":  # flax: tuples, NHWC, no ceil mode
        padding = ("'SAME'" if pad == "same" else "'VALID'" if pad in ("valid", 0)
                   else f"(({pad}, {pad}), ({pad}, {pad}))")
        if mode == "max":
            return f"nn.max_pool(x, ({k}, {k}), strides=({s}, {s}), padding={padding})"
        return (f"nn.avg_pool(x, ({k}, {k}), strides=({s}, {s}), padding={padding}, "
                f"count_include_pad={include})")
    padding = "'SAME'" if pad == "same" else pad
    if mode == "max":
        return f"nn.MaxPool2D({k}, stride={s}, padding={padding}, ceil_mode={ceil})"
    return (f"nn.AvgPool2D({k}, stride={s}, padding={padding}, ceil_mode={ceil}, "
            f"exclusive={not include})")


def _random_call(rng, like=None):
    """(framework, call): random parameters, or ``like``'s with one changed (or none)."""
    if like is None:
        p = dict(k=rng.randint(1, 4), s=rng.randint(1, 3), mode=rng.choice(["max", "avg"]),
                 ceil=rng.random() < 0.4, include=rng.random() < 0.5)
        p["pad"] = rng.choice(["same", "valid", *range(p["k"] // 2 + 1)])
    else:
        p = dict(like)
        if rng.random() < 0.6:
            key = rng.choice(["k", "s", "pad", "ceil", "include"])
            p[key] = {"k": rng.randint(1, 4), "s": rng.randint(1, 3), "ceil": not p["ceil"],
                      "include": not p["include"],
                      "pad": rng.choice(["same", "valid", *range(p["k"] // 2 + 1)])}[key]
            if isinstance(p["pad"], int) and p["pad"] > p["k"] // 2:
                p["pad"] = p["k"] // 2
    frameworks = []
    for f in PORTING_SOURCES:
        if f == "jax" and p["ceil"]:
            continue  # no ceil mode in JAX
        if p["pad"] == "same" and f in ("pytorch", "mxnet"):
            continue  # no SAME in their pooling calls
        if isinstance(p["pad"], int) and f == "tensorflow" and p["pad"] > 0:
            continue  # Keras pools 'valid' or 'same' only
        if f == "tensorflow" and p["ceil"]:
            continue
        if f == "tensorflow" and p["mode"] == "avg" and p["pad"] == "same" and p["include"]:
            continue  # Keras' SAME average excludes the padding
        if f == "paddle" and p["mode"] == "avg" and p["include"] and p["pad"] == "same":
            continue  # Paddle's exclusive=False divides asymmetric pads wrongly (measured)
        frameworks.append(f)
    if not frameworks:
        return _random_call(rng, like)
    framework = rng.choice(frameworks)
    if framework in ("tensorflow",) and p["pad"] == 0:
        p["pad"] = "valid"
    if p["pad"] == "valid" and framework != "tensorflow":
        p["pad"] = 0
    return framework, _spelling(framework, p), p


EXPLAIN_PAIRS = int(os.environ.get("EXPLAIN_PAIRS", 300))  # pairs of calls, each judged at two random sizes


def test_explain_verdicts_match_what_the_frameworks_compute(pool):
    """Random pairs of real calls (half of them one parameter apart, or none) at random sizes:
    explain's verdict at that size is "equivalent" exactly when both calls, run in their
    frameworks on a random input, give the same numbers."""
    import random

    rng = random.Random(int(os.environ.get("EXPLAIN_SEED", 11)))
    checked = agreeing = 0
    for _ in range(EXPLAIN_PAIRS):
        fa, ca, pa = _random_call(rng)
        fb, cb, _ = _random_call(rng, pa if rng.random() < 0.7 else None)
        a, b = porting.parse(fa, ca), porting.parse(fb, cb)
        for _ in range(2):
            hw = (rng.randint(1, 9), rng.randint(1, 9))
            if not (porting.explanation._geometry(a, hw) and porting.explanation._geometry(b, hw)):
                continue
            shape = porting.sizes.with_spatial((1, 2, 1, 1) if a.spec["layout"] == "NCHW"
                                          else (1, 1, 1, 2), a.spec["layout"], hw)
            verdict = porting.explain(ca, fa, cb, fb, shape=shape, verify=False)
            # not equivalent: both frameworks differ on the input explain shows; equivalent:
            # they agree on a random input and on ramps up and down
            inputs = [verdict.witness] if verdict.witness is not None and not \
                verdict.equivalent else [porting.random_input(shape, a.spec["layout"], seed=s)
                                         for s in range(2)]
            same = True
            for x in inputs:
                ya = porting.run_native(a, x, pool)
                xb = porting.to_layout(x, a.spec["layout"], b.spec["layout"])
                yb = porting.to_layout(porting.run_native(b, xb, pool), b.spec["layout"],
                                        a.spec["layout"])
                same &= ya.shape == yb.shape and bool(np.allclose(ya, yb, rtol=1e-5, atol=1e-5,
                                                                  equal_nan=True))
            assert verdict.equivalent == same, f"{fa} {ca} | {fb} {cb} | {shape}: " \
                                               f"{verdict.verdict}"
            checked += 1
            agreeing += same
    print("explain pairs checked", checked, "agreeing", agreeing)
    assert checked >= EXPLAIN_PAIRS and 0.2 * checked < agreeing < 0.8 * checked, (checked,
                                                                                  agreeing)


ISSUE_PAIR = (("pytorch", "nn.MaxPool2d(3, padding=1, stride=2)"),
              ("tensorflow", "tf.keras.layers.MaxPool2D(pool_size=[3, 3], padding='same', "
                             "strides=2)"))


def test_explain_issue_pair_equivalent_where_both_frameworks_agree(pool):
    (fa, ca), (fb, cb) = ISSUE_PAIR
    result = porting.explain(ca, fa, cb, fb, shape=(1, 1, 2, 2), pool=pool)
    assert result.equivalent and result.bites == []
    assert result.witness is None or result.witness.shape == (1, 1, 2, 2)  # the NaN witness


def test_explain_bites_are_the_sizes_where_the_frameworks_differ(pool):
    """Over H, W in 1..9: the sizes explain counts are those where running both calls, on the
    input explain would show there or a random one, gives different numbers."""
    (fa, ca), (fb, cb) = ISSUE_PAIR
    a, b = porting.parse(fa, ca), porting.parse(fb, cb)
    result = porting.explain(ca, fa, cb, fb, verify=False)
    differ = []
    for hw in result.tried:
        x = porting.explanation._witness(a, b, [hw])
        x = x if x is not None else porting.random_input((1, 1, *hw), "NCHW")
        ya = porting.run_native(a, x, pool)
        yb = porting.to_layout(porting.run_native(b, porting.to_layout(x, "NCHW", "NHWC"),
                                                   pool), "NHWC", "NCHW")
        if ya.shape != yb.shape or not np.array_equal(ya, yb):
            differ.append(hw)
    assert sorted(result.bites) == sorted(differ) and 0 < len(differ) < len(result.tried)
    assert f"differ on {len(differ)} of the {len(result.tried)}" in result.to_text()


# --- the spellings real code uses, each run as written in its framework ---------------------------

#: (framework, the file's import lines, the call, input shape, the code that runs it: {call} is the
#: call and the result is y).  The parsed spec's px.pool2d must equal the framework's numbers.
SPELLINGS = [
    ("tensorflow", "import tensorflow as tf",
     "tf.nn.max_pool(x, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding='SAME')",
     (1, 7, 6, 2), "y = {call}"),
    ("tensorflow", "import tensorflow as tf",
     "tf.nn.avg_pool(x, ksize=3, strides=2, padding='SAME')", (1, 7, 7, 1), "y = {call}"),
    ("tensorflow", "import tensorflow as tf",
     "tf.nn.max_pool2d(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding='VALID')",
     (2, 5, 5, 3), "y = {call}"),
    ("tensorflow", "import tensorflow as tf",
     "tf.compat.v1.nn.max_pool(value=x, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], "
     "padding='VALID')", (1, 8, 8, 1), "y = {call}"),
    ("tensorflow", "import tensorflow as tf",
     "tf.compat.v1.nn.avg_pool(x, [1, 2, 2, 1], [1, 1, 1, 1], 'SAME')", (1, 5, 5, 2),
     "y = {call}"),
    ("tensorflow", "from tensorflow.keras import layers",
     "layers.MaxPooling2D(pool_size=(3, 3), strides=(2, 2), padding='same')", (1, 7, 7, 2),
     "y = {call}(x)"),
    ("tensorflow", "import keras", "keras.layers.AveragePooling2D(2, padding='same')",
     (1, 5, 5, 1), "y = {call}(x)"),
    ("tensorflow", "from tensorflow.keras.layers import MaxPool2D", "MaxPool2D(3, 1, 'valid')",
     (1, 6, 5, 1), "y = {call}(x)"),
    ("tensorflow", "from keras import layers as L", "L.AvgPool2D(3, strides=2)", (1, 7, 8, 2),
     "y = {call}(x)"),
    ("mxnet", "import mxnet as mx",
     "mx.nd.Pooling(x.as_nd_ndarray(), kernel=(3, 3), stride=(2, 2), pad=(1, 1), "
     "pool_type='max', pooling_convention='full')", (1, 1, 6, 6), "y = {call}.as_np_ndarray()"),
    ("mxnet", "import mxnet as mx",  # GluonCV's hybrid_forward(self, F, x): F is mx.nd here
     "F.Pooling(x.as_nd_ndarray(), kernel=(2, 2), pool_type='avg', stride=(1, 1), pad=(1, 1), "
     "count_include_pad=False)", (1, 2, 5, 4), "F = mx.nd\ny = {call}.as_np_ndarray()"),
    ("mxnet", "import mxnet as mx",
     "F.Pooling(x.as_nd_ndarray(), kernel=(1, 1), pool_type='avg', global_pool=True)",
     (2, 3, 7, 5), "F = mx.nd\ny = {call}.as_np_ndarray()"),
    ("mxnet", "import mxnet as mx",
     "mx.nd.Pooling(data=x.as_nd_ndarray(), kernel=(3, 3), stride=(2, 2), pad=(1, 1), "
     "pool_type='max', global_pool=True)", (1, 2, 6, 9), "y = {call}.as_np_ndarray()"),
    ("mxnet", "import mxnet as mx",
     "mx.sym.Pooling(mx.sym.var('data'), kernel=(3, 3), stride=(2, 2), pool_type='avg')",
     (1, 1, 7, 7),
     "s = {call}\ny = s.eval(ctx=mx.cpu(), data=x.as_nd_ndarray())[0].as_np_ndarray()"),
    ("mxnet", "from mxnet.gluon import nn",
     "nn.MaxPool2D(pool_size=3, strides=2, padding=1, ceil_mode=True)", (1, 1, 7, 7),
     "y = {call}(x)"),
    ("mxnet", "import mxnet as mx", "mx.gluon.nn.AvgPool2D(3, 2, 1, count_include_pad=False)",
     (1, 2, 6, 5), "y = {call}(x)"),
    ("mxnet", "from mxnet import npx",
     "npx.pooling(x, kernel=(2, 2), stride=(2, 2), pooling_convention='full')", (1, 1, 5, 5),
     "y = {call}"),
    ("pytorch", "import torch", "torch.max_pool2d(x, 3, 2, 1, 1, True)", (1, 2, 8, 8),
     "y = {call}"),
    ("pytorch", "import torch",
     "torch.nn.functional.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)",
     (1, 1, 7, 6), "y = {call}"),
    ("pytorch", "import torch", "torch.nn.MaxPool2d(kernel_size=3, stride=2, padding=1)",
     (1, 3, 9, 9), "y = {call}(x)"),
    ("pytorch", "from torch import nn", "nn.AvgPool2d(2, ceil_mode=True)", (1, 1, 5, 5),
     "y = {call}(x)"),
    ("pytorch", "import torch.nn.functional as F", "F.max_pool2d(x, kernel_size=2, stride=1, "
     "dilation=2)", (1, 1, 6, 6), "y = {call}"),
    ("pytorch", "import torch.nn as nn", "nn.LPPool2d(2, 3, stride=2)", (1, 1, 7, 7),
     "y = {call}(x)"),
    ("paddle", "import paddle",
     "paddle.nn.functional.max_pool2d(x, kernel_size=3, stride=2, padding=1, ceil_mode=True)",
     (1, 1, 6, 6), "y = {call}"),
    ("paddle", "import paddle", "paddle.nn.MaxPool2D(3, stride=2, padding='SAME')", (1, 2, 7, 7),
     "y = {call}(x)"),
    ("paddle", "import paddle.nn.functional as F", "F.avg_pool2d(x, 3, 2, 1)", (1, 1, 7, 7),
     "y = {call}"),
    ("paddle", "from paddle import nn", "nn.AvgPool2D(2, exclusive=False)", (1, 1, 6, 4),
     "y = {call}(x)"),
    # adaptive and global pooling (sizes that do not divide; outputs larger than the input)
    ("pytorch", "from torch import nn", "nn.AdaptiveAvgPool2d((1, 1))", (2, 3, 7, 5),
     "y = {call}(x)"),
    ("pytorch", "import torch.nn as nn", "nn.AdaptiveMaxPool2d((3, None))", (1, 2, 7, 5),
     "y = {call}(x)"),
    ("pytorch", "import torch.nn.functional as F", "F.adaptive_avg_pool2d(x, (3, 4))",
     (1, 2, 7, 9), "y = {call}"),
    ("pytorch", "import torch", "torch.nn.functional.adaptive_max_pool2d(x, 5)", (1, 1, 3, 7),
     "y = {call}"),
    ("tensorflow", "from tensorflow.keras import layers", "layers.GlobalAveragePooling2D()",
     (2, 5, 7, 3), "y = {call}(x)"),
    ("tensorflow", "import keras", "keras.layers.GlobalMaxPooling2D(keepdims=True)",
     (1, 6, 5, 2), "y = {call}(x)"),
    ("tensorflow", "import tensorflow as tf",
     "tf.keras.layers.GlobalAvgPool2D(data_format='channels_first', keepdims=True)",
     (1, 2, 6, 5), "y = {call}(x)"),
    ("tensorflow", "from keras import layers", "layers.AdaptiveAveragePooling2D((3, 4))",
     (1, 7, 9, 2), "y = {call}(x)"),
    ("tensorflow", "import keras", "keras.layers.AdaptiveMaxPooling2D(3)", (1, 7, 5, 2),
     "y = {call}(x)"),
    ("mxnet", "from mxnet.gluon import nn", "nn.GlobalAvgPool2D()", (2, 3, 7, 5),
     "y = {call}(x)"),
    ("mxnet", "from mxnet.gluon import nn", "nn.GlobalMaxPool2D(layout='NHWC')", (1, 6, 5, 2),
     "y = {call}(x)"),
    ("mxnet", "from mxnet import npx",
     "npx.pooling(x, kernel=(3, 3), pad=(1, 1), pool_type='avg', global_pool=True)",
     (1, 2, 7, 5), "y = {call}"),
    ("mxnet", "import mxnet as mx",
     "mx.nd.contrib.AdaptiveAvgPooling2D(x.as_nd_ndarray(), output_size=(3, 5))",
     (1, 2, 7, 3), "y = {call}.as_np_ndarray()"),
    ("paddle", "import paddle", "paddle.nn.AdaptiveAvgPool2D(1)", (2, 3, 7, 5),
     "y = {call}(x)"),
    ("paddle", "from paddle import nn", "nn.AdaptiveMaxPool2D((3, None))", (1, 2, 7, 5),
     "y = {call}(x)"),
    ("paddle", "import paddle.nn.functional as F",
     "F.adaptive_avg_pool2d(x, (3, 4), data_format='NHWC')", (1, 7, 9, 2), "y = {call}"),
    ("paddle", "import paddle.nn.functional as F", "F.adaptive_max_pool2d(x, 5)", (1, 1, 3, 7),
     "y = {call}"),
]


@pytest.mark.parametrize("framework,imports,call,shape,runs", SPELLINGS,
                         ids=[f"{f}-{c.split('(')[0]}-{i}" for i, (f, _, c, _, _) in
                              enumerate(SPELLINGS)])
def test_spelling_read_with_its_imports_equals_the_framework_running_it(
        hook_pool, framework, imports, call, shape, runs):
    check_spelling(hook_pool, framework, imports, call, shape, runs)


def check_spelling(hook_pool, framework, imports, call, shape, runs):
    """The call read with its imports, evaluated by the neutral semantics, equals its framework
    running it (``runs``: the statement that does, ``{call}`` in it) on a random input; the
    call as read is returned."""
    native = porting.parse(framework, f"{imports}\n{call}", shape=shape)
    x = porting.random_input(shape, native.spec["layout"], seed=len(call))
    expected = porting.evaluate(native, x)  # their own value for a window of padding only
    hook_pool.start([framework])
    reply, arrays = hook_pool.worker(framework).request(
        {"op": "test-hook", "action": "run-code",
         "code": f"{imports}\n{runs.format(call=call)}"}, [x])
    assert reply["status"] == "ok", reply
    got = arrays[0]
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, equal_nan=True)
    return native


@pytest.mark.parametrize("framework,call,shape", [
    ("tensorflow", "tf.compat.v1.nn.max_pool(x, [1, 3, 3, 1], [1, 2, 2, 1], 'SAME')", (1, 7, 7, 1)),
    ("tensorflow", "tf.nn.avg_pool(x, 2, 1, 'VALID')", (1, 5, 4, 2)),
    ("mxnet", "mx.nd.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type='avg')", (1, 1, 7, 7)),
    ("mxnet", "mx.sym.Pooling(x, kernel=(2, 2), stride=(2, 2), pad=(1, 1))", (1, 1, 6, 6)),
    ("pytorch", "torch.max_pool2d(x, 3, 2, 1)", (1, 1, 8, 8)),
], ids=["tf-compat-v1", "tf-avg-pool", "mx-nd-Pooling", "mx-sym-Pooling", "torch-max-pool2d"])
def test_translate_runs_the_new_spellings_source_plan(pool, framework, call, shape):
    result = porting.translate(call, framework, shape, pool=pool, to="pytorch")
    assert result.source_check == "agrees with the neutral spec"
    target = result.targets["pytorch"]
    assert target.check.startswith("agrees with the source call on "), target.check
    # where the translation holds for some sizes only, it says which and refuses the others
    assert (" refuses " in target.check) == target.verdict.startswith("size-dependent")


@pytest.mark.parametrize("framework,call,function", [
    ("tensorflow", "import tf_keras\ntf_keras.layers.MaxPooling2D(2)", "tf.keras.layers.MaxPool2D"),
    ("tensorflow", "from tensorflow.compat.v1 import nn\nnn.avg_pool2d(x, 2, 2, 'VALID')",
     "tf.compat.v1.nn.avg_pool"),
    ("mxnet", "from mxnet import nd\nnd.Pooling(x, kernel=(2, 2))", "mx.nd.Pooling"),
    ("mxnet", "from mxnet import sym\nsym.Pooling(x, kernel=(2, 2))", "mx.sym.Pooling"),
    ("pytorch", "from torch.nn import *\nMaxPool2d(2)", "nn.MaxPool2d"),
    ("paddle", "import paddle.nn as pnn\npnn.MaxPool2D(2)", "nn.MaxPool2D"),
], ids=["tf_keras", "compat-v1-from-import", "mx-nd-import", "mx-sym-import", "star-import",
        "paddle-nn-alias"])
def test_spelling_resolved_through_the_texts_imports(framework, call, function):
    assert porting.parse(framework, call).function == function


@pytest.mark.parametrize("framework,call,message", [
    ("pytorch", "from mxnet.gluon import nn\nnn.MaxPool2D(2)", "that is mxnet's"),
    ("paddle", "import torch.nn.functional as F\nF.max_pool2d(x, 2)", "that is pytorch's"),
    ("mxnet", "F.max_pool2d(x, 2)", "mxnet.nd.Pooling"),  # lists what is understood
    ("pytorch", "nn.MaxPool2d(k)", "'k' is a variable"),
    ("pytorch", "nn.MaxPool2d(2, **options)", r"\*\*options is not read"),
    ("pytorch", "nn.AvgPool2d(2, return_indices=True)", "return_indices"),
    ("paddle", "F.max_pool2d(x, 2, return_mask='yes')", "allowed: return_mask=True or False"),
    ("mxnet", "mx.nd.Pooling(x, pool_type='max')", "needs 'kernel'"),
], ids=["gluon-nn-for-torch", "torch-F-for-paddle", "lists-understood", "variable", "star-star", "return-indices", "return-mask",
        "no-kernel"])
def test_spelling_refusals_say_why(framework, call, message):
    with pytest.raises(px.PoolingError, match=message) as info:
        porting.parse(framework, call)
    assert "\n" not in str(info.value)


# --- adaptive and global: translations both ways, known broken recipes ----------------------------

@pytest.mark.parametrize("framework,call,shape,to,kind", [
    ("pytorch", "nn.AdaptiveAvgPool2d((1, 1))", (2, 8, 7, 7), "tensorflow", "native"),
    ("tensorflow", "GlobalAveragePooling2D()", (2, 7, 7, 8), "pytorch", "native"),
    # emulated from bins computed from the input's shape when the code runs: every size
    ("pytorch", "nn.AdaptiveAvgPool2d((7, 7))", (1, 4, 14, 14), "tensorflow", "emulated"),
    ("paddle", "nn.AdaptiveMaxPool2D(3)", (1, 2, 7, 7), "mxnet", "emulated"),
], ids=["resnet-head-torch-to-tf", "keras-head-to-torch", "vgg-head-to-tf", "paddle-max-to-mxnet"])
def test_translate_adaptive_and_global_verified(pool, framework, call, shape, to, kind):
    result = porting.translate(call, framework, shape, to=to, pool=pool)
    target = result.targets[to]
    assert result.source_check == "agrees with the neutral spec"
    assert target.kind == kind, target.verdict
    assert target.check.startswith("agrees with the source call on "), target.check
    assert (" refuses " in target.check) == (kind == "size-dependent")
    if kind == "emulated":  # the bins read from the input's shape, no size refused: verified at
        # the given size and at sizes smaller and larger than the output, odd and even
        assert "x.shape[" in target.code and "this translation holds for" not in target.code
        assert int(re.search(r" on (\d+) sizes ", target.check).group(1)) >= 5, target.check


def test_translate_names_the_bins_of_an_empty_axis():
    result = porting.translate("nn.AdaptiveAvgPool2d((0, 3))", "pytorch", (1, 1, 4, 4),
                               to="tensorflow", verify=False)
    assert ("output 0x3; bins of rows none (0 outputs), of columns [0,2) [1,3) [2,4)"
            in result.to_text()), result.to_text()


@pytest.mark.parametrize("recipe,framework", [("tfa-split", "tensorflow"),
                                              ("reshape", "pytorch")], ids=["tfa-split", "reshape"])
def test_recipe_raises_where_the_size_does_not_divide_and_agrees_where_it_does(pool, recipe,
                                                                                framework):
    """The recipe run in its framework: it raises at the smallest size not divisible by the
    output, and gives the adaptive call's numbers at one that is."""
    result = porting.explain("nn.AdaptiveAvgPool2d(3)", "pytorch", recipe, "recipe", pool=pool)
    assert not result.equivalent and result.unrun == {}
    assert len(result.holds) == 8 * 8 and result.judged == 24 * 24  # 3 divides 8 of 1..24
    broken, held = result.runs.values()
    assert broken.startswith(f"raises {framework}: "), broken
    assert held == "agrees with A"


@pytest.mark.parametrize("call,runs", [
    ("nn.AdaptiveAvgPool2d(0)", {"1x1": "raises"}),
    ("nn.AdaptiveAvgPool2d((0, 3))", {"3x3": "raises"}),
    ("nn.AdaptiveAvgPool2d(50)", {"1x1": "raises", "100x100": "agrees with A"}),
], ids=["output-0", "output-0x3", "output-50-past-the-judged-sizes"])
@pytest.mark.parametrize("recipe", ["reshape", "tfa-split"])
def test_recipe_of_an_output_size_no_judged_size_holds(pool, call, runs, recipe):
    """An output size of 0 (the recipe divides by it) or larger than every judged size: no
    size of 1..24 holds, the recipe still runs where it breaks, and where it holds past them."""
    result = porting.explain(call, "pytorch", recipe, "recipe", pool=pool)
    assert not result.equivalent and result.holds == [] and result.unrun == {}
    assert list(result.runs) == list(runs)
    for size, outcome in runs.items():
        assert result.runs[size].startswith(outcome), result.runs[size]
    text = result.to_text()
    assert ("divides each axis by the output size, here 0" in text) == ("(0" in call)
    proc = cli("explain", "pytorch", call, "recipe", recipe)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_explain_an_empty_adaptive_output_against_a_global_layer(pool):
    result = porting.explain("nn.AdaptiveAvgPool2d(0)", "pytorch", "GlobalAveragePooling2D()",
                             "tensorflow", pool=pool)
    assert not result.equivalent and "cells read" in {c.kind for c in result.causes}
    assert result.witness_outputs["A pytorch"].shape == (0, 0)
    keepdims = next(c.detail for c in result.causes if c.kind == "keepdims")
    assert keepdims == ("pytorch keeps H and W (0, 0), tensorflow drops them: (N, C, 0, 0) vs "
                        "(N, C)"), keepdims  # not "the same numbers": they are not


@pytest.mark.parametrize("call,recipe,verdict,exit_code", [
    ("nn.AdaptiveAvgPool2d(1)", "reshape", "equivalent on every size judged", 0),
    ("nn.AdaptiveAvgPool2d(50)", "keras-jax", "not known: measured for output sizes 1 to 24", 1),
    ("nn.AdaptiveAvgPool2d(3)", "keras-jax", "equivalent where measured", 0),
], ids=["global-by-reshape", "keras-jax-beyond-the-measured", "keras-jax-measured"])
def test_a_recipe_verdict_says_what_was_judged(call, recipe, verdict, exit_code):
    result = porting.explain(call, "pytorch", recipe, "recipe", verify=recipe == "keras-jax")
    assert result.verdict.startswith(verdict), result.verdict
    proc = cli("explain", "pytorch", call, "recipe", recipe)
    assert proc.returncode == exit_code, proc.stdout + proc.stderr


def test_a_recipe_for_an_output_too_large_to_run_where_it_holds_says_so(pool):
    """20000 x 20000 is where the reshape holds with one cell per bin: not made here."""
    result = porting.explain("nn.AdaptiveAvgPool2d(20000)", "pytorch", "reshape", "recipe",
                             pool=pool)
    assert list(result.runs) == ["1x1"] and result.runs["1x1"].startswith("raises")
    assert "not run where it holds: its smallest such input, 20000x20000, is more than" in \
        result.to_text()


@pytest.mark.parametrize("call", ["nn.AdaptiveAvgPool2d(-1)", "nn.AdaptiveMaxPool2d((2, -3))"])
def test_a_negative_output_size_is_refused_where_it_is_read(call):
    with pytest.raises(px.PoolingError, match=r"^call: got output_size=.*allowed: an int >= 0"):
        porting.parse("pytorch", call)


def test_a_call_nested_too_deeply_to_parse_is_a_one_line_refusal():
    deep = "nn.MaxPool2d(" + "+".join(["1"] * 5000) + ")"
    with pytest.raises(px.PoolingError, match="nested too deeply for Python's parser"):
        porting.parse("pytorch", deep)
    proc = cli("translate", "--from", "pytorch", deep, "--shape", "1,1,4,4")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr


def test_recipe_keras_jax_is_documented_not_run():
    """Parse-only: the jax environment holds no Keras; the verdict follows the measured output
    sizes that give NaN."""
    nan = porting.explain("keras.layers.AdaptiveAveragePooling2D(7)", "tensorflow", "keras-jax",
                          "recipe", verify=False)
    assert not nan.equivalent and "not clamped" in nan.to_text() and nan.runs == {}
    fine = porting.explain("nn.AdaptiveAvgPool2d(3)", "pytorch", "keras-jax", "recipe",
                           verify=False)
    assert fine.equivalent and fine.verdict.startswith("equivalent where measured")


@pytest.mark.parametrize("a,b,equivalent,kinds", [
    (("pytorch", "nn.AdaptiveAvgPool2d(1)"), ("tensorflow", "GlobalAveragePooling2D()"), True,
     {"layout", "keepdims"}),
    (("pytorch", "nn.AdaptiveMaxPool2d(3)"), ("paddle", "nn.AdaptiveMaxPool2D(3)"), True,
     {"NaN policy"}),
    (("pytorch", "nn.AdaptiveAvgPool2d(2)"), ("pytorch", "nn.AvgPool2d(2)"), False,
     {"cells read"}),
], ids=["global-avg-torch-keras", "adaptive-max-nan", "adaptive-vs-window"])
def test_explain_adaptive_and_global(pool, a, b, equivalent, kinds):
    result = porting.explain(a[1], a[0], b[1], b[0], pool=pool)
    assert result.equivalent == equivalent and {c.kind for c in result.causes} == kinds
    if not equivalent:  # both frameworks run on the witness and differ
        ya, yb = result.witness_outputs.values()
        assert ya.shape != yb.shape or not np.array_equal(ya, yb, equal_nan=True)


# --- gradients: forward equal, backward not ------------------------------------------------------

GLOBAL_MAX = {"pytorch": "nn.AdaptiveMaxPool2d(1)", "tensorflow": "GlobalMaxPooling2D()",
              "mxnet": "nn.GlobalMaxPool2D()", "paddle": "nn.AdaptiveMaxPool2D(1)"}


@pytest.mark.parametrize("a,b,backward_equal", [
    ("tensorflow", "pytorch", False), ("mxnet", "tensorflow", False),
    ("tensorflow", "paddle", False), ("pytorch", "mxnet", True), ("pytorch", "paddle", True),
], ids=["keras-global-max-vs-torch-adaptive", "gluon-global-max-vs-keras",
        "keras-global-max-vs-paddle-adaptive", "torch-adaptive-vs-gluon-global",
        "torch-adaptive-vs-paddle-adaptive"])
def test_explain_global_max_forward_equal_backward_by_tie_policy(pool, a, b, backward_equal):
    result = porting.explain(GLOBAL_MAX[a], a, GLOBAL_MAX[b], b, pool=pool)
    assert result.equivalent and result.grad_equivalent == backward_equal
    assert ("NOT backward" in result.verdict) != backward_equal
    assert ("gradient ties" in {c.kind for c in result.causes}) != backward_equal
    # run in both autograds on an input whose cells are all equal: each follows its policy
    x, up = result.grad_witness, result.grad_upstream
    ga, gb = (result.grad_outputs[f"{label} {fw} gradient"]
              for label, fw in (("A", a), ("B", b)))
    assert np.array_equal(ga, gb) == backward_equal
    plane = np.full((1, 1) + ga.shape, x.reshape(-1)[0], np.float32)  # the witness's plane
    for grad, call in ((ga, result.a), (gb, result.b)):
        expected = px.pool2d_grad(plane, plane.shape[2:], "max", ties=porting.tie_policy(call),
                                  grad_output=up.reshape(1, 1, 1, 1))
        assert np.allclose(grad, expected[0, 0])
    assert f"A {a} gradient" in result.to_text() and "input with ties" in result.to_text()


@pytest.mark.parametrize("framework,call,shape,to,flagged", [
    ("pytorch", "nn.MaxPool2d(3, stride=1, dilation=2)", (1, 2, 8, 8), "paddle", True),
    ("pytorch", "nn.AdaptiveMaxPool2d(1)", (1, 2, 7, 7), "tensorflow", True),
    ("tensorflow", "GlobalMaxPooling2D()", (1, 7, 7, 2), "pytorch", True),
    ("pytorch", "nn.MaxPool2d(3, stride=1, dilation=2)", (1, 2, 8, 8), "tensorflow", False),
    ("pytorch", "nn.MaxPool2d(3, stride=2, padding=1)", (1, 2, 8, 8), "paddle", False),
    ("tensorflow", "MaxPooling2D(3, strides=2, padding='same')", (1, 7, 7, 2), "mxnet", False),
    ("pytorch", "nn.AvgPool2d(3, stride=2, padding=1)", (1, 2, 8, 8), "tensorflow", False),
], ids=["dilated-max-to-paddle-splits", "torch-global-max-to-tf-reduce-max",
        "keras-global-max-to-torch", "dilated-max-to-tensorflow-clean",
        "max-to-paddle-clean", "keras-same-max-to-mxnet-clean", "avg-to-tensorflow-clean"])
def test_translate_verifies_each_targets_gradient_on_ties(pool, framework, call, shape, to,
                                                         flagged):
    result = porting.translate(call, framework, shape, to=to, pool=pool)
    target = result.targets[to]
    assert target.check.startswith("agrees")  # the verdict and check stay about the forward
    assert target.grad_check.startswith("DIFFERS" if flagged else "agrees"), target.grad_check
    assert ("ties:" in target.grad_check) == flagged
    assert "backward: " + target.grad_check in result.to_text()
    if not flagged:
        assert "(inputs with ties) on" in target.grad_check
        assert target.grad_max_abs_diff is not None and target.grad_max_abs_diff < 1e-5


def test_translate_exits_1_on_a_gradient_only_difference():
    out = cli("translate", "--from", "pytorch", "nn.MaxPool2d(3, stride=1, dilation=2)",
              "--shape", "1,1,8,8", "--to", "paddle", check_exit=1).stdout
    assert "paddle      emulated       agrees with the source call" in out
    assert "backward: DIFFERS" in out
    cli("translate", "--from", "pytorch", "nn.MaxPool2d(3, stride=1, dilation=2)",
        "--shape", "1,1,8,8", "--to", "tensorflow", check_exit=0)
    out = cli("explain", "tensorflow", "GlobalMaxPooling2D()", "pytorch",
              "nn.AdaptiveMaxPool2d(1)", check_exit=1).stdout
    assert "verdict: equivalent forward, NOT backward (ties)" in out


# --- JAX as a source, ONNX Runtime as a target ------------------------------------------------

#: JAX's spellings as people write them -> the spec read (a subset) and what was defaulted
JAX_SPELLINGS = {
    "flax-max-chapter": ("nn.max_pool(X, window_shape=(3, 3), strides=(3, 3))",
                         dict(pool_size=(3, 3), stride=(3, 3), padding="valid", layout="NHWC"),
                         []),
    "flax-max-default-stride-1": ("nn.max_pool(x, (2, 2))", dict(stride=(1, 1)), ["stride"]),
    "flax-avg-pairs": ("nn.avg_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (0, 1)))",
                       dict(mode="avg", padding=((1, 1), (0, 1)), count_include_pad=True), []),
    "flax-avg-same-exclude": ("nn.avg_pool(x, (2, 2), (2, 2), 'same', count_include_pad=False)",
                              dict(mode="avg", padding="same", count_include_pad=False), []),
    "flax-import-linen-as": ("import flax.linen as fnn\nfnn.max_pool(x, (3, 3), (2, 2), 'SAME')",
                             dict(padding="same", stride=(2, 2)), []),
    "flax-same-lower": ("nn.max_pool(x, (2, 2), strides=(2, 2), padding='SAME_LOWER')",
                        dict(padding="same_lower"), []),
    "linen-pooling-min": ("from flax.linen import pooling\npooling.min_pool(x, (2, 2), (2, 2))",
                          dict(mode="min"), []),
    "nnx-max": ("from flax import nnx\nnnx.max_pool(x, (2, 3), strides=(1, 2))",
                dict(pool_size=(2, 3), stride=(1, 2)), []),
    "nnx-avg": ("from flax import nnx\nnnx.avg_pool(x, (2, 2), strides=(2, 2), padding='SAME')",
                dict(mode="avg", padding="same", count_include_pad=True), []),
    "nnx-min": ("from flax import nnx\nnnx.min_pool(x, (3, 3), padding=((1, 1), (1, 1)))",
                dict(mode="min", padding=((1, 1), (1, 1)), stride=(1, 1)), ["stride"]),
    "flax-pool-generic": ("nn.pool(x, -jnp.inf, lax.max, (2, 2), (2, 2), 'VALID')",
                          dict(mode="max", stride=(2, 2)), []),
    "partial": ("from functools import partial\nfrom flax import linen as nn\n"
                "pool = partial(nn.max_pool, window_shape=(3, 3), strides=(2, 2), "
                "padding=((1, 1), (1, 1)))\npool(x)",
                dict(pool_size=(3, 3), stride=(2, 2), padding=((1, 1), (1, 1))), []),
    "reduce-window-max-same": ("from jax import lax\nimport jax.numpy as jnp\n"
                               "lax.reduce_window(x, -jnp.inf, lax.max, (1, 3, 3, 1), "
                               "(1, 2, 2, 1), 'SAME')",
                               dict(mode="max", padding="same", layout="NHWC"), []),
    "reduce-window-jax-lax-nchw": ("import jax\njax.lax.reduce_window(x, float('-inf'), "
                                   "jax.lax.max, (1, 1, 2, 3), (1, 1, 2, 3), 'VALID')",
                                   dict(pool_size=(2, 3), layout="NCHW"), []),
    "reduce-window-min": ("lax.reduce_window(x, jnp.inf, lax.min, (1, 2, 2, 1), (1, 2, 2, 1), "
                          "'VALID')", dict(mode="min"), []),
    "reduce-window-default-stride": ("lax.reduce_window(x, -np.inf, lax.max, (1, 2, 2, 1))",
                                     dict(stride=(1, 1), padding="valid"), ["stride"]),
    "reduce-window-dilated": ("lax.reduce_window(x, -jnp.inf, lax.max, (1, 3, 3, 1), (1, 1, 1, 1),"
                              " 'VALID', window_dilation=(1, 2, 2, 1))",
                              dict(dilation=(2, 2)), []),
    "reduce-window-pairs": ("lax.reduce_window(x, -jnp.inf, lax.max, window_dimensions=(1, 3, 3, "
                            "1), window_strides=(1, 2, 2, 1), padding=((0, 0), (1, 1), (0, 2), "
                            "(0, 0)))", dict(padding=((1, 1), (0, 2))), []),
    "avg-sum-over-kh-kw": ("lax.reduce_window(x, 0., lax.add, (1, 2, 3, 1), (1, 2, 3, 1), "
                           "'VALID') / (2 * 3)", dict(mode="avg", pool_size=(2, 3)), []),
    "avg-sum-over-prod": ("lax.reduce_window(x, 0., lax.add, (1, 3, 3, 1), (1, 1, 1, 1), "
                          "((0, 0), (1, 1), (1, 1), (0, 0))) / np.prod((3, 3))",
                          dict(mode="avg", padding=((1, 1), (1, 1)), count_include_pad=True),
                          []),
    "avg-sum-over-ones": ("lax.reduce_window(x, 0., lax.add, (1, 3, 3, 1), (1, 2, 2, 1), 'SAME')"
                          " / lax.reduce_window(jnp.ones_like(x), 0., lax.add, (1, 3, 3, 1), "
                          "(1, 2, 2, 1), 'SAME')",
                          dict(mode="avg", padding="same", count_include_pad=False), []),
}


@pytest.mark.parametrize("case", list(JAX_SPELLINGS))
def test_parse_jax_spellings(case):
    call, expected, defaulted = JAX_SPELLINGS[case]
    native = porting.parse("jax", call)
    for key, value in expected.items():
        assert native.spec[key] == value, key
    assert native.defaulted == defaulted


#: each spelling run as written in the jax worker (the real jax and flax) against the neutral
#: spec, and ported to PyTorch, at several sizes
JAX_RUN = ["flax-max-chapter", "flax-max-default-stride-1", "flax-avg-pairs",
           "flax-avg-same-exclude", "flax-same-lower", "linen-pooling-min", "nnx-avg", "nnx-min",
           "flax-pool-generic", "partial", "reduce-window-max-same", "reduce-window-jax-lax-nchw",
           "reduce-window-min", "reduce-window-dilated", "reduce-window-pairs",
           "avg-sum-over-kh-kw", "avg-sum-over-prod", "avg-sum-over-ones"]


@pytest.mark.parametrize("case", JAX_RUN)
def test_jax_spelling_runs_as_read(pool, case):
    call, _, _ = JAX_SPELLINGS[case]
    native = porting.parse("jax", call)
    shape = (1, 2, 7, 8) if native.spec["layout"] == "NCHW" else (1, 7, 8, 2)
    result = porting.translate(call, "jax", shape, to="pytorch", pool=pool)
    assert result.source_check == "agrees with the neutral spec", result.source_check
    target = result.targets["pytorch"]
    assert target.check.startswith("agrees with the source call on"), target.check
    if native.spec["dilation"] in (1, (1, 1)):  # JAX has no VJP of a dilated max
        assert target.grad_check.startswith("agrees"), target.grad_check


def test_nnx_pooling_is_linens_and_linen_has_no_min_pool(hook_pool):
    """Measured in the jax worker: flax.nnx's pooling functions are flax.linen's (read as the
    same), and flax.linen exports no min_pool (refused, naming where it is)."""
    code = ("import flax.linen as nn, flax.nnx as nnx, flax.linen.pooling as pooling\n"
            "same = (nnx.max_pool is nn.max_pool and nnx.avg_pool is nn.avg_pool and "
            "nnx.min_pool is pooling.min_pool and nnx.pool is nn.pool)\n"
            "y = x + (1.0 if same else 0.0) + (10.0 if hasattr(nn, 'min_pool') else 0.0)")
    hook_pool.start(["jax"])
    reply, y = _run_printed(hook_pool, "jax", code, np.zeros((1,), np.float32))
    assert reply["status"] == "ok" and y.tolist() == [1.0], (reply, y)
    with pytest.raises(px.PoolingError, match="flax.linen exports no min_pool"):
        porting.parse("jax", "from flax import linen as nn\nnn.min_pool(x, (2, 2))")


@pytest.mark.parametrize("call,message", [
    ("lax.reduce_window(x, 0., lax.max, (1, 2, 2, 1), (1, 2, 2, 1), 'VALID')",
     "init value enters every window"),
    ("lax.reduce_window(x, 0., lax.add, (1, 2, 2, 1), (1, 2, 2, 1), 'VALID') / 2.5",
     r"divided by 2.5, no int, has no neutral spec"),
    ("lax.reduce_window(x, 0., lax.add, (1, 2, 2, 1), (1, 2, 2, 1), 'VALID') / 0",
     r"divided by 0, no int, has no neutral spec"),
    ("lax.reduce_window(x, -jnp.inf, lax.max, (2, 2, 1, 1), (1, 1, 1, 1), 'VALID')",
     "pools axes \\[0, 1\\]"),
    ("lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 1, 1, 1), 'VALID', "
     "base_dilation=(1, 2, 2, 1))", "base_dilation"),
    ("lax.reduce_window(x, -jnp.inf, jnp.maximum, (1, 2, 2, 1))", "allowed: jax.lax.max"),
    ("nn.max_pool(x, [2, 2])", "raises TypeError in flax"),
    ("nn.max_pool(x, 2)", "raises TypeError in flax"),
    ("nn.max_pool(x, (2, 2), padding='FULL')", "allowed: 'SAME', 'SAME_LOWER', 'VALID'"),
    ("keras.layers.MaxPooling2D(2)", "read with --from tensorflow"),
    ("nn.max_pool(x, window)", "is a variable"),
], ids=["max-init-0", "sum-over-a-fraction", "sum-over-0", "batch-axis", "base-dilation",
        "jnp-maximum", "flax-list-window", "flax-int-window", "flax-padding-typo",
        "keras-under-jax", "variable"])
def test_jax_refusals_say_what_is_understood(call, message):
    with pytest.raises(px.PoolingError, match=message):
        porting.parse("jax", call)


def test_onnxruntime_is_a_target_only():
    with pytest.raises(px.PoolingError, match="a graph of nodes.*allowed: mxnet, pytorch, "
                                              "tensorflow, paddle, jax"):
        porting.parse("onnxruntime", "helper.make_node('MaxPool', ['x'], ['y'])")
    message = cli("translate", "x", "--from", "onnxruntime", "--shape", "4,4",
                  check_exit=2).stderr
    assert "--from onnxruntime: a target only" in message


def test_translate_to_onnxruntime_shows_every_node_attribute(pool):
    result = porting.translate("nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True)",
                               "pytorch", (1, 2, 8, 8), to=["onnxruntime", "jax"], pool=pool)
    ort = result.targets["onnxruntime"]
    assert ort.details == ["ONNX node t1: AveragePool(kernel_shape=[3, 3], strides=[2, 2], "
                           "pads=[1, 1, 1, 1], dilations=[1, 1] (default), ceil_mode=1, "
                           "count_include_pad=1, auto_pad='NOTSET' (default))"], ort.details
    assert ort.check.startswith("agrees with the source call on"), ort.check
    assert ort.grad_check.startswith("not compared: onnxruntime has no autograd")
    jax = result.targets["jax"]
    assert jax.check.startswith("agrees") and jax.grad_check.startswith("agrees"), jax
    assert "# ONNX node t1: AveragePool(" in result.to_text()


def test_cli_translate_from_jax_to_onnxruntime_exits_0():
    out = cli("translate", "--from", "jax", "nn.max_pool(x, (3, 3), strides=(2, 2), "
              "padding='SAME')", "--shape", "1,7,7,2", "--to", "onnxruntime",
              check_exit=0).stdout
    assert "source (jax): nn.max_pool" in out and "auto_pad='SAME_UPPER'" in out
    assert "backward: not compared" in out


def test_explain_jax_against_pytorch():
    result = porting.explain("nn.avg_pool(x, (3, 3), strides=(2, 2), padding='SAME')", "jax",
                             "nn.AvgPool2d(3, stride=2, padding=1)", "pytorch", verify=False)
    # JAX's SAME pads (0, 1) where the extent is even: on 45 of the 81 sizes, not on odd ones
    assert [c.kind for c in result.causes] == ["layout", "padding"], result.causes
    assert len(result.bites) == 45 and (4, 4) in result.bites and (5, 5) not in result.bites
    same = porting.explain("nn.max_pool(x, (2, 2), strides=(2, 2))", "jax",
                           "lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1),"
                           " 'VALID')", "jax", verify=False)
    assert same.verdict == "equivalent", same.to_text()


def test_ceil_into_jax_holds_for_every_size(pool):
    """At a size where ceil and floor agree, the JAX code still pads the overhang from the
    input's shape when it runs (no ceil mode in JAX): emulated for every size, not code that
    holds for even sizes only."""
    result = porting.translate("nn.AvgPool2D(kernel_size=2, stride=2, ceil_mode=True)", "paddle",
                               (1, 2, 8, 8), to="jax", pool=pool)
    target = result.targets["jax"]
    assert target.kind == "emulated" and "x.shape" in target.code, target.verdict
    assert target.check.startswith("agrees with the source call on") and "refuses" not in \
        target.check, target.check
