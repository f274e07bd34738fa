"""The conventions table's rows: each convention declared once as data (a ``Probe``: its input,
window and keywords, and the causes a difference in it may name), and the inputs they pool
(``probe_input``).  ``pooling_xfw.conventions`` runs every row on every backend."""
from __future__ import annotations

import dataclasses

import numpy as np

from . import registry
from .backend import CONVENTIONS, GRADIENT_ERROR, Outcomes

DIFFERS = "**differs**: "


def cell_of(outcome: str) -> str:
    """A recorded outcome (``differs: cause``, as the legend writes it) as the table's cell."""
    return DIFFERS + outcome.removeprefix("differs: ") if outcome.startswith("differs: ") else (
        outcome)


@dataclasses.dataclass(frozen=True)
class Probe:
    name: str
    input: str  # a ``probe_input`` kind, e.g. "neg6": -1..-36 as 1x1x6x6
    pool_size: object  # None for adaptive and global pooling (``op`` in ``kwargs``)
    kwargs: dict
    #: the causes a difference in this row may name (special values; a plan's gradient)
    causes: tuple[str, ...] = ()
    #: the backward pass (the row's cells are the gradient's)
    grad: bool = False

    @property
    def label(self) -> str:
        """The row's name in the table."""
        return self.name

    def varies(self, backend: str) -> Outcomes | None:
        """``backend``'s recorded outcomes in this row where its cell depends on the CPU
        (``Backend.known``, ``(CONVENTIONS, row)``: each cell as the legend writes it), None
        when it must not vary (a framework's other versions vary as it does)."""
        return registry.get(backend).outcomes(CONVENTIONS, self.name)

    def marked(self, backend: str) -> dict | None:
        """``backend``'s recorded outcomes in this row, {cell as the table writes it: where
        seen}, or None (``varies``)."""
        varies = self.varies(backend)
        return None if varies is None else {cell_of(outcome): where
                                            for outcome, where in varies.seen.items()}

    def grad_error(self, backend: str, detail: str) -> bool:
        """Whether ``detail`` is an error ``backend``'s autograd is recorded to raise in this
        row (``Backend.known``, ``(GRADIENT_ERROR, row)``)."""
        recorded = registry.get(backend).outcomes(GRADIENT_ERROR, self.name)
        return recorded is not None and any(message in detail for message in recorded.seen)


NAN = ("NaN in the window ignored",)
MINUS_INF = ("only -inf",)
EMPTY = ("a window of padding only",)

PROBES = (
    Probe("max k3 s2 p1, symmetric pads", "neg6", 3, dict(stride=2, padding=1)),
    Probe("max per-side pads ((1, 0), (1, 0))", "neg6", 3, dict(stride=2, padding=((1, 0), (1, 0)))),
    Probe("max pad wider than half the window (k3 p2)", "neg6", 3, dict(padding=2)),
    Probe("max 'same' (odd pad bottom/right)", "neg6", 2, dict(padding="same")),
    Probe("max 'same_lower' (odd pad top/left)", "neg6", 2, dict(padding="same_lower")),
    Probe("avg 'same', padding counted", "neg6", 3, dict(stride=2, padding="same", mode="avg")),
    Probe("avg 'same', padding not counted", "neg6", 3,
          dict(stride=2, padding="same", mode="avg", count_include_pad=False)),
    Probe("avg k3 s2 p1, padding not counted", "neg6", 3,
          dict(stride=2, padding=1, mode="avg", count_include_pad=False)),
    Probe("ceil_mode, last window kept (6x6 k3 s2 p1)", "neg6", 3,
          dict(stride=2, padding=1, ceil_mode=True)),
    Probe("ceil_mode, last window dropped (5x5 k2 s2 p1)", "neg5", 2,
          dict(stride=2, padding=1, ceil_mode=True)),
    Probe("avg ceil overhang (never counted)", "neg6", 3,
          dict(stride=2, padding=1, ceil_mode=True, mode="avg")),
    Probe("max dilation 2", "neg6", 2, dict(dilation=2)),
    Probe("avg dilation 2, stride 2", "neg6", 2, dict(dilation=2, stride=2, mode="avg")),
    Probe("min (chapter exercise 5)", "neg6", 3, dict(stride=2, padding=1, mode="min")),
    Probe("lp, p=2", "neg6", 3, dict(stride=2, padding=1, mode="lp")),
    Probe("max of int32", "int", 3, dict(stride=2, padding=1)),
    Probe("avg of int32 (float64 result)", "int", 2, dict(stride=2, mode="avg")),
    Probe("avg of float16 (float32 sums)", "f16", 2, dict(stride=2, mode="avg")),
    Probe("NHWC layout", "nhwc", 3, dict(stride=2, padding=1, layout="NHWC")),
    Probe("NaN in a max window", "nan", 2, dict(stride=2), causes=NAN),
    Probe("max of a window of only -inf", "neginf", 2, dict(stride=2), causes=MINUS_INF),
    Probe("max of a float16 window of only -inf", "neginf16", 2, dict(stride=2),
          causes=MINUS_INF),
    Probe("max of float64 below float32's range (-1e300, k3 p1)", "f64low", 3, dict(padding=1)),
    # adaptive and global pooling (no window: ``pool_size`` None, the operation in ``op``)
    Probe("adaptive avg 7 -> 3 (bins [0,3) [2,5) [4,7) overlap)", "neg7", None,
          dict(op="adaptive", output_size=3, mode="avg")),
    Probe("adaptive max 5 -> 3 (bins of two lengths)", "neg5", None,
          dict(op="adaptive", output_size=3)),
    Probe("adaptive avg 3 -> 5 (output larger than the input)", "neg3", None,
          dict(op="adaptive", output_size=5, mode="avg")),
    Probe("adaptive max (None, 3): None keeps H", "neg5", None,
          dict(op="adaptive", output_size=(None, 3))),
    Probe("adaptive avg NHWC 6 -> 4", "nhwc", None,
          dict(op="adaptive", output_size=4, mode="avg", layout="NHWC")),
    Probe("global avg", "neg7", None, dict(op="global", mode="avg")),
    Probe("global avg of int32 (float64 result)", "int", None, dict(op="global", mode="avg")),
    Probe("global lp, p=2", "neg6", None, dict(op="global", mode="lp")),
    Probe("NaN in an adaptive max bin (4 -> 3)", "nan", None, dict(op="adaptive", output_size=3),
          causes=NAN),
    # TensorFlow's global max is tf.reduce_max, not a pooling kernel
    Probe("NaN in a global max", "nan", None, dict(op="global"), causes=NAN),
    Probe("adaptive max of a bin of only -inf (4 -> 2)", "neginf", None,
          dict(op="adaptive", output_size=2), causes=MINUS_INF),
    Probe("global max of only -inf", "allneginf", None, dict(op="global"), causes=MINUS_INF),
    # the backward pass: where each window's gradient goes (ties="first", upstream ones)
    Probe("backward: max ties in one window (all 1, k2 s2)", "ones4", 2, dict(stride=2),
          grad=True),
    Probe("backward: max ties across overlapping windows (all 1, k3 s1)", "ones6", 3,
          dict(stride=1), grad=True),
    Probe("backward: max ties, dilation 2 (all 1, k2 d2 s1)", "ones6", 2, dict(dilation=2),
          grad=True, causes=("ties in a window",)),
    Probe("backward: NaN in a max window", "nan", 2, dict(stride=2), grad=True,
          causes=("a NaN in a max window",)),
    Probe("backward: max of a window of only -inf", "neginf", 2, dict(stride=2), grad=True,
          causes=("a window of only -inf",)),
    Probe("backward: avg 'same', padding counted", "neg6", 3,
          dict(stride=2, padding="same", mode="avg"), grad=True),
    Probe("backward: avg 'same', padding not counted", "neg6", 3,
          dict(stride=2, padding="same", mode="avg", count_include_pad=False), grad=True),
    Probe("backward: avg k3 s2 p1, padding not counted", "neg6", 3,
          dict(stride=2, padding=1, mode="avg", count_include_pad=False), grad=True),
    Probe("backward: avg ceil overhang (never counted)", "neg6", 3,
          dict(stride=2, padding=1, ceil_mode=True, mode="avg"), grad=True),
    Probe("backward: avg ceil overhang, no padding (7x7 k2 s2)", "neg7", 2,
          dict(stride=2, ceil_mode=True, mode="avg"), grad=True,
          causes=("the ceil overhang counted",)),
    Probe("backward: avg ceil_mode, padding not counted (5x5 k2 s2 p1)", "neg5", 2,
          dict(stride=2, padding=1, ceil_mode=True, mode="avg", count_include_pad=False),
          grad=True),
    Probe("backward: avg ceil_mode, padding not counted, float16 (5x5 k2 s2 p1)", "neg5f16", 2,
          dict(stride=2, padding=1, ceil_mode=True, mode="avg", count_include_pad=False),
          grad=True),
    Probe("backward: lp, p=2", "neg6", 3, dict(stride=2, padding=1, mode="lp"), grad=True),
    # one spatial axis (the 2-D inputs' rows laid end to end) and three (two planes of D)
    Probe("1-D max k3 s2 p1", "neg6@1d", 3, dict(stride=2, padding=1, layout="NCW")),
    Probe("1-D avg 'same', padding not counted", "neg6@1d", 3,
          dict(stride=2, padding="same", mode="avg", count_include_pad=False, layout="NCW")),
    Probe("1-D ceil_mode, last window dropped (L25 k2 s2 p1)", "neg5@1d", 2,
          dict(stride=2, padding=1, ceil_mode=True, layout="NCW")),
    Probe("1-D max of int32", "int@1d", 3, dict(stride=2, padding=1, layout="NCW")),
    Probe("1-D NWC layout", "nhwc@1d", 3, dict(stride=2, padding=1, layout="NWC")),
    Probe("1-D NaN in a max window", "nan@1d", 2, dict(stride=2, layout="NCW"), causes=NAN),
    Probe("1-D adaptive max 25 -> 7 (bins of two lengths)", "neg5@1d", None,
          dict(op="adaptive", output_size=7, layout="NCW")),
    Probe("3-D max k3 s2 p1", "neg6@3d", 3, dict(stride=2, padding=1, layout="NCDHW")),
    Probe("3-D avg ceil_mode, padding not counted (k2 s2 p1)", "neg5@3d", 2,
          dict(stride=2, padding=1, ceil_mode=True, mode="avg", count_include_pad=False,
               layout="NCDHW")),
    Probe("3-D max of float16", "f16@3d", 2, dict(stride=2, layout="NCDHW")),
    Probe("3-D avg of float64", "f64@3d", 2, dict(stride=2, mode="avg", layout="NCDHW")),
    Probe("3-D NDHWC layout", "nhwc@3d", 3, dict(stride=2, padding=1, layout="NDHWC")),
    Probe("3-D NaN in a max window", "nan@3d", 2, dict(stride=2, layout="NCDHW"), causes=NAN),
    Probe("3-D adaptive avg to 1x1x1 (a video head)", "neg6@3d", None,
          dict(op="adaptive", output_size=1, mode="avg", layout="NCDHW")),
    Probe("backward: 1-D avg 'same', padding not counted", "neg6@1d", 3,
          dict(stride=2, padding="same", mode="avg", count_include_pad=False, layout="NCW"),
          grad=True),
    Probe("backward: 3-D max k3 s2 p1", "neg6@3d", 3, dict(stride=2, padding=1, layout="NCDHW"),
          grad=True),
    Probe("backward: 3-D max ties in one window (all 1, k2 s2)", "ones4@3d", 2,
          dict(stride=2, layout="NCDHW"), grad=True, causes=("ties in a window",)),
    # a divisor given: the window's sum over it, or its mean times its cells over it
    Probe("avg divisor 2 (divisor_override; k3 s2 p1)", "neg6", 3,
          dict(stride=2, padding=1, mode="avg", divisor=2)),
    Probe("avg divisor 2 of the mean, padding not counted (k3 s2 p1)", "neg6", 3,
          dict(stride=2, padding=1, mode="avg", count_include_pad=False, divisor=2,
               divisor_of="mean")),
    Probe("sum pooling: divisor 1, ceil overhang (5x5 k2 s2)", "neg5", 2,
          dict(stride=2, ceil_mode=True, mode="avg", divisor=1)),
    Probe("3-D avg divisor 3 (k2 s2)", "neg6@3d", 2,
          dict(stride=2, mode="avg", divisor=3, layout="NCDHW")),
    Probe("backward: avg divisor 2 (k3 s2 p1)", "neg6", 3,
          dict(stride=2, padding=1, mode="avg", divisor=2), grad=True),
    # windows of padding only: ceil_mode="keep" keeps one, allow_empty_windows allows them
    Probe("ceil_mode='keep': the last window starts in the padding (5x5 k2 s2 p1)", "neg5", 2,
          dict(stride=2, padding=1, ceil_mode="keep"), causes=EMPTY),
    Probe("avg ceil_mode='keep', padding counted (5x5 k2 s2 p1)", "neg5", 2,
          dict(stride=2, padding=1, ceil_mode="keep", mode="avg"), causes=EMPTY),
    Probe("avg ceil_mode='keep', padding not counted (5x5 k2 s2 p1)", "neg5", 2,
          dict(stride=2, padding=1, ceil_mode="keep", mode="avg", count_include_pad=False),
          causes=EMPTY),
    Probe("1-D ceil_mode='keep' (L25 k2 s2 p1)", "neg5@1d", 2,
          dict(stride=2, padding=1, ceil_mode="keep", layout="NCW"), causes=EMPTY),
    Probe("3-D avg ceil_mode='keep', padding not counted (k2 s2 p1)", "neg5@3d", 2,
          dict(stride=2, padding=1, ceil_mode="keep", mode="avg", count_include_pad=False,
               layout="NCDHW"), causes=EMPTY),
    Probe("max of a window of padding only (k2 s1 p2)", "neg5", 2,
          dict(padding=2, allow_empty_windows=True), causes=EMPTY),
    Probe("max of a float64 window of padding only (k2 s1 p2)", "f64low", 2,
          dict(padding=2, allow_empty_windows=True), causes=EMPTY),
    Probe("avg of a window of padding only, padding counted (k2 s1 p2)", "neg5", 2,
          dict(padding=2, mode="avg", allow_empty_windows=True), causes=EMPTY),
    Probe("avg of a window of padding only, padding not counted (k2 s1 p2)", "neg5", 2,
          dict(padding=2, mode="avg", count_include_pad=False, allow_empty_windows=True),
          causes=EMPTY),
    Probe("avg of a window of padding only, pads (0, 3) not counted (k2 s3)", "neg5", 2,
          dict(stride=3, padding=((0, 3), (0, 3)), mode="avg", count_include_pad=False,
               allow_empty_windows=True), causes=EMPTY),
    # argmax indices (px.pool2d_with_indices; "plane": y*W + x) and unpooling (px.max_unpool2d)
    Probe("argmax k3 s2 p1 (plane indices)", "neg6", 3,
          dict(stride=2, padding=1, op="pool_with_indices")),
    Probe("argmax of ties, NaN not first (wave 3's 4x4, k2 s2)", "argmax4", 2,
          dict(stride=2, op="pool_with_indices"), causes=NAN),
    Probe("argmax of a NaN first in its window (k2 s2)", "nanfirst", 2,
          dict(stride=2, op="pool_with_indices"), causes=NAN),
    Probe("argmax min, whole-tensor indices, channels last (k2 s2)", "nhwc", 2,
          dict(stride=2, mode="min", layout="NHWC", op="pool_with_indices",
               indices="tensor")),
    Probe("unpool k2 s2 to the input's size", "neg6", 2, dict(stride=2, op="max_unpool")),
    Probe("unpool of a cell four windows share (k2 s1, wave 3's 9)", "peak3", 2,
          dict(stride=1, op="max_unpool"), causes=("values summed",)),
    Probe("backward: max ceil_mode='keep' (5x5 k2 s2 p1)", "neg5", 2,
          dict(stride=2, padding=1, ceil_mode="keep"), grad=True),
    Probe("backward: avg ceil_mode='keep', padding not counted (5x5 k2 s2 p1)", "neg5", 2,
          dict(stride=2, padding=1, ceil_mode="keep", mode="avg", count_include_pad=False),
          grad=True),
    Probe("backward: max of windows of padding only (k2 s1 p2)", "neg5", 2,
          dict(padding=2, allow_empty_windows=True), grad=True),
    # the backward pass of adaptive and global pooling (px.adaptive_pool2d_grad)
    Probe("backward: adaptive avg 7 -> 3 (bins share cells)", "neg7", None,
          dict(op="adaptive", output_size=3, mode="avg"), grad=True),
    Probe("backward: adaptive max ties (all 1, 6 -> 4)", "ones6", None,
          dict(op="adaptive", output_size=4), grad=True, causes=("ties in a window",)),
    Probe("backward: global max ties (all 1)", "ones4", None, dict(op="global"), grad=True,
          causes=("ties in a window",)),
    Probe("backward: global avg, spatial axes dropped (keepdims=False)", "neg6", None,
          dict(op="global", mode="avg", keepdims=False), grad=True),
)


def probe_input(kind: str) -> np.ndarray:
    if "@" in kind:  # "neg6@1d": the "neg6" plane's rows end to end; "@3d": it and it - 50
        plane, rank = probe_input(kind.split("@")[0]), kind.split("@")[1]
        last = kind.startswith("nhwc")  # channels last
        if rank == "1d":
            n, c = (plane.shape[0], plane.shape[-1]) if last else plane.shape[:2]
            return (plane.reshape(n, -1, c) if last else plane.reshape(n, c, -1)).copy()
        return np.stack([plane, plane - 50], axis=1 if last else 2)
    if kind == "f64":
        return probe_input("neg6").astype(np.float64)
    if kind.startswith("ones"):  # "ones6": all 1 as 1x1x6x6, every window a tie
        n = int(kind[4:])
        return np.ones((1, 1, n, n), np.float32)
    if kind == "neginf16":  # the "neginf" input in float16
        return probe_input("neginf").astype(np.float16)
    if kind.endswith("f16") and kind != "f16":  # "neg5f16": the "neg5" input in float16
        return probe_input(kind[:-3]).astype(np.float16)
    if kind == "f64low":
        return np.full((1, 1, 3, 3), -1e300)
    if kind == "allneginf":
        return np.full((1, 1, 2, 2), -np.inf, np.float32)
    if kind == "argmax4":  # wave 3's input: a tie, a NaN (not first), a 3-way tie
        return np.array([[1, 3, 3, 0], [2, 3, 1, np.nan], [5, 5, 0, 2], [5, 4, 2, 1]],
                        np.float32).reshape(1, 1, 4, 4)
    if kind == "peak3":  # wave 3's natural duplicate: every k2 s1 window's max is the 9
        return np.array([[1, 2, 3], [4, 9, 5], [6, 7, 8]], np.float32).reshape(1, 1, 3, 3)
    if kind == "nanfirst":  # each k2 window's first cell NaN, then 1, 2, 3
        return np.tile(np.array([[np.nan, 1], [2, 3]], np.float32), (2, 2)).reshape(1, 1, 4, 4)
    n = int(kind[3:]) if kind[3:].isdigit() else 6  # "neg5": -1..-25 as 1x1x5x5
    x = -np.arange(1, n * n + 1, dtype=np.float32).reshape(1, 1, n, n)
    if kind == "int":
        return (x + 18).astype(np.int32)
    if kind == "f16":
        return (x / 7).astype(np.float16)
    if kind == "nhwc":
        return np.concatenate([x, x * 2], axis=1).transpose(0, 2, 3, 1).copy()
    if kind in ("nan", "neginf"):
        x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
        x[0, 0, 0, 0] = np.nan if kind == "nan" else -np.inf
        if kind == "neginf":
            x[0, 0, :2, :2] = -np.inf
    return x
