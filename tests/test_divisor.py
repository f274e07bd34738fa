"""``divisor=d``: an avg window divided by ``d`` instead of its count.  PyTorch's
``divisor_override`` (the window's sum over ``d``, ``count_include_pad`` ignored; ``d=1`` is sum
pooling: MXNet's ``pool_type='sum'``, JAX's ``reduce_window`` add) and Paddle's
(``divisor_of="mean"``: the window's average times its cells over ``d``), in the reference, every
backend forward and backward, the command line and the porting assistant."""
import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw import porting, registry

from .test_cli import cli

BACKENDS = registry.defaults()
X4 = np.arange(1, 17, dtype=np.float32).reshape(1, 1, 4, 4)
X5 = np.arange(1, 26, dtype=np.float32).reshape(1, 1, 5, 5)

#: each framework's own call as written, the reference's spelling, and the numbers the call
#: gives (run below in its framework, so every row is measured here, not only written down)
MEASURED = [
    ("pytorch", "F.avg_pool2d(x, 2, 2, divisor_override=1)", X4, 2,
     dict(stride=2, divisor=1), [14, 22, 46, 54]),
    ("pytorch", "F.avg_pool2d(x, 2, 2, divisor_override=3)", X4, 2,
     dict(stride=2, divisor=3), [14 / 3, 22 / 3, 46 / 3, 18]),
    ("pytorch", "F.avg_pool2d(x, 3, 2, 1, count_include_pad=False, divisor_override=2)", X4, 3,
     dict(stride=2, padding=1, count_include_pad=False, divisor=2), [7, 15, 28.5, 49.5]),
    ("paddle", "F.avg_pool2d(x, 3, 2, 1, divisor_override=2)", X4, 3,
     dict(stride=2, padding=1, count_include_pad=False, divisor=2, divisor_of="mean"),
     [15.75, 22.5, 42.75, 49.5]),
    ("pytorch", "F.avg_pool2d(x, 2, 2, ceil_mode=True, divisor_override=1)", X5, 2,
     dict(stride=2, ceil_mode=True, divisor=1), [16, 24, 15, 56, 64, 35, 43, 47, 25]),
    ("paddle", "F.avg_pool2d(x, 2, 2, ceil_mode=True, divisor_override=1)", X5, 2,
     dict(stride=2, ceil_mode=True, count_include_pad=False, divisor=1, divisor_of="mean"),
     [16, 24, 30, 56, 64, 70, 86, 94, 100]),
    ("paddle", "F.avg_pool2d(x, 3, 2, 'SAME', divisor_override=1)", X4, 3,
     dict(stride=2, padding="same", count_include_pad=False, divisor=1, divisor_of="mean"),
     [54, 67.5, 108, 121.5]),
    ("paddle", "F.avg_pool2d(x, 2, 2, divisor_override=0)", X4, 2,
     dict(stride=2, count_include_pad=False, divisor=0, divisor_of="mean"), [np.inf] * 4),
    ("pytorch", "F.avg_pool2d(x, 2, 2, divisor_override=-1)", X4, 2,
     dict(stride=2, divisor=-1), [-14, -22, -46, -54]),
    ("mxnet", "npx.pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type='sum')", X4,
     3, dict(stride=2, padding=1, divisor=1), [14, 30, 57, 99]),
    ("mxnet", "npx.pooling(x, kernel=(2, 2), stride=(2, 2), pool_type='sum', "
              "pooling_convention='full')", X5, 2,
     dict(stride=2, ceil_mode=True, divisor=1), [16, 24, 15, 56, 64, 35, 43, 47, 25]),
]


@pytest.mark.parametrize("framework,call,x,k,kwargs,expected", MEASURED,
                         ids=[f"{f}-{c.split('(')[0]}-{i}" for i, (f, c, *_) in
                              enumerate(MEASURED)])
def test_the_reference_gives_what_each_frameworks_own_call_gives(pool, framework, call, x, k,
                                                                 kwargs, expected):
    """The framework's call as written (run in its worker), read into the spec the reference
    computes: the same numbers, which are those the framework notes measured."""
    ours = px.pool2d(x, k, "avg", **kwargs)
    np.testing.assert_allclose(ours.ravel(), expected, rtol=1e-6)
    native = porting.parse(framework, call)
    assert {key: native.spec[key] for key in ("divisor", "divisor_of")} == {
        "divisor": kwargs["divisor"], "divisor_of": kwargs.get("divisor_of", "sum")}
    theirs = porting.run_native(native, x, pool)
    np.testing.assert_allclose(theirs.ravel(), expected, rtol=1e-6)


@pytest.mark.parametrize("kwargs,message", [
    (dict(mode="avg", divisor=0), "divisor: got 0; allowed: a non-zero int (the sum rule has "
                                  "no 0); 0 only with divisor_of='mean'"),
    (dict(mode="avg", divisor=True), "divisor: got True; allowed: None or a non-zero int"),
    (dict(mode="avg", divisor=2.5), "divisor: got 2.5; allowed: None or a non-zero int"),
    (dict(mode="max", divisor=2), "divisor: got 2; allowed: None with mode='max'"),
    (dict(mode="avg", divisor_of="mean"), "divisor_of: got 'mean'; allowed: 'sum' without a "
                                          "divisor"),
    (dict(mode="avg", divisor=2, divisor_of="median"), "divisor_of: got 'median'; allowed: "
                                                       "'sum' or 'mean'"),
], ids=["zero-of-a-sum", "bool", "float", "with-max", "rule-without-divisor", "unknown-rule"])
def test_a_bad_divisor_names_the_argument_and_what_is_allowed(kwargs, message):
    with pytest.raises(px.PoolingError) as info:
        px.pool2d(X4, 2, **kwargs)
    assert str(info.value).startswith(message), info.value


#: (input shape, window, keywords): both rules, every rank and layout, padding, ceil,
#: SAME, dilation, a negative divisor and Paddle's 0
GRID = [
    ((2, 3, 9, 9), 3, dict(stride=2, padding=1, divisor=4)),
    ((2, 3, 9, 9), 3, dict(stride=2, padding=1, divisor=4, count_include_pad=False,
                           divisor_of="mean")),
    ((1, 2, 7, 7), 2, dict(stride=2, ceil_mode=True, divisor=1)),
    ((1, 2, 7, 7), 2, dict(stride=2, ceil_mode=True, divisor=3, divisor_of="mean")),
    ((1, 7, 7, 2), 3, dict(stride=2, padding="same", divisor=-2, layout="NHWC")),
    ((1, 2, 9, 9), 2, dict(dilation=2, divisor=2)),
    ((2, 3, 17), 3, dict(stride=2, padding=1, divisor=2, layout="NCW")),
    ((1, 2, 4, 7, 7), (1, 3, 3), dict(stride=(1, 2, 2), padding=(0, 1, 1), divisor=9,
                                      layout="NCDHW")),
    ((1, 2, 6, 6), 2, dict(stride=2, divisor=0, divisor_of="mean")),
]


def test_a_divisor_override_that_is_no_int_is_refused_naming_the_divisor():
    with pytest.raises(px.PoolingError, match=r"^divisor: got 2.5; allowed: None or a non-zero "):
        porting.translate("nn.AvgPool2d(2, divisor_override=2.5)", "pytorch", (1, 1, 4, 4),
                          verify=False)


@pytest.mark.parametrize("shape,k,kwargs", GRID,
                         ids=[",".join(f"{a}={b}" for a, b in kw.items()) for _, _, kw in GRID])
def test_every_backend_divides_as_the_reference_forward_and_backward(pool, shape, k, kwargs):
    x = np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32)
    result = px.compare(x, k, "avg", grad=True, pool=pool, **kwargs)
    assert set(result.results) == set(BACKENDS)
    for name, r in result.results.items():
        assert r.status == "agree", (name, r.detail)
        if kwargs.get("divisor") == 0:  # inf everywhere: a gradient of inf, not compared
            continue
        if name == "mxnet" and kwargs.get("ceil_mode") and kwargs.get("divisor_of") == "mean":
            # its native average's float32 backward counts the ceil overhang (recorded, as
            # without a divisor: the conventions table), and the diagnosis says so
            assert r.grad_status == "agree" or "the ceil overhang counted" in r.grad_detail
            continue
        expected = "not compared" if name == "onnxruntime" else "agree"
        assert r.grad_status == expected, (name, r.grad_detail)
    pytorch = result.results["pytorch"].how
    native = kwargs.get("divisor_of", "sum") == "sum" and len(shape) > 3 and \
        "dilation" not in kwargs and kwargs.get("padding") != "same"
    assert (pytorch["path"] == "native") == native, pytorch
    if native:
        assert f"divisor_override={kwargs['divisor']}" in pytorch["code"]


def test_the_command_line_divides_and_says_so():
    out = cli("compare", "--shape", "1,2,5,5", "--kernel", "2", "--stride", "2", "--ceil-mode",
              "--mode", "avg", "--divisor", "1", "--grad", env={"NO_COLOR": "1"},
              check_exit=0).stdout
    assert "pool2d avg /1" in out and "summary: 6 agree" in out, out
    err = cli("compare", "--shape", "1,1,4,4", "--kernel", "2", "--mode", "max", "--divisor",
              "2", check_exit=2).stderr
    assert "--divisor 2: not with --mode max; allowed: --divisor with --mode avg" in err


@pytest.mark.parametrize("framework,call,shape", [
    ("pytorch", "nn.AvgPool2d(3, stride=2, padding=1, divisor_override=4)", (1, 2, 7, 7)),
    ("paddle", "nn.AvgPool2D(2, 2, ceil_mode=True, divisor_override=1)", (1, 2, 6, 6)),
    ("mxnet", "npx.pooling(x, kernel=(2, 2), stride=(2, 2), pool_type='sum')", (1, 2, 6, 6)),
    ("jax", "lax.reduce_window(x, 0., lax.add, (1, 3, 3, 1), (1, 2, 2, 1), 'SAME')",
     (1, 7, 7, 2)),
], ids=["torch-divisor-override", "paddle-divisor-override-ceil", "mxnet-sum",
        "jax-window-sum"])
def test_translate_carries_the_divisor_to_every_target(pool, framework, call, shape):
    result = porting.translate(call, framework, shape, pool=pool)
    assert result.source_check == "agrees with the neutral spec"
    for target in result.targets.values():
        assert target.check.startswith("agrees with the source call on "), target.check
        assert target.grad_check.startswith(("agrees", "not compared")), target.grad_check
