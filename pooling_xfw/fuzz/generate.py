"""Drawing random cases a campaign runs: every operation, rank, layout, dtype, padding form,
ceil mode, dilation and divisor the toolkit takes, on inputs with ties, NaN, infinities, the
dtype's extremes, denormals and all-negative windows.

Cases come in groups of ``GROUP`` that share an operation, its keywords, a shape and a dtype
(so a group runs as one framework call, its inputs stacked on the batch axis: exact, every
pooling treats each sample alone).  Group ``g`` of seed ``s`` draws its spec from its own
stream, ``numpy.random.default_rng([s, g, _GROUP_STREAM])``, and case ``i`` its values from
``default_rng([s, i])``: the same on every machine and independent of which other cases run,
so a campaign cut into parts or resumed draws exactly the cases a single run would.  A spec
the reference refuses (``Operation.resolve_case``, the toolkit's own validation) is drawn
again from the same stream, so every case is one the reference computes.
"""
from __future__ import annotations

import functools

import numpy as np

from .. import ops
from ..errors import PoolingError
from ..layout import LAYOUTS_BY_RANK, spatial_axes

#: the operations a campaign draws from, by the name ``--ops`` takes
OPERATIONS = {"pool": "pool2d", "adaptive": "adaptive", "global": "global",
              "indices": "pool_with_indices", "unpool": "max_unpool",
              "pool_unpool": "max_pool_unpool"}
#: how often each is drawn, relative to the others asked for
_WEIGHTS = {"pool": 5, "adaptive": 2, "global": 1, "indices": 2, "unpool": 1, "pool_unpool": 1}
#: the operations drawn with a window: the modes each takes, each with how often it is drawn
_WINDOWED = {"pool": {"max": 0.4, "avg": 0.4, "min": 0.1, "lp": 0.1},
             "indices": {"max": 0.6, "min": 0.4}, "unpool": {"max": 1.0},
             "pool_unpool": {"max": 1.0}}
#: the inputs' kinds of values
VALUES = ("randn", "ties", "specials", "negative")
#: the largest input drawn, in cells (a few MB at most in float64)
MAX_CELLS = 1 << 16
#: draws of one group's spec before it is given up (one the reference refuses every time)
_TRIES = 50
#: cases per group: one operation, keywords, shape and dtype, each case its own values
GROUP = 16
#: the third word of a group's stream (a case's stream has two: seed, index)
_GROUP_STREAM = 0x5EC


def draw(seed: int, index: int, operations=tuple(OPERATIONS), grad: bool = False) -> dict:
    """Case ``index`` of the campaign ``seed``: ``{"name", "op", "X", "kwargs", "group"}``,
    valid.  The cases of one group (``index // GROUP``) share their operation, keywords,
    shape and dtype, drawn from the group's own stream, and each draws its values from its
    own: a group runs as one call, its inputs stacked on the batch axis.

    ``grad``: the backward pass compared too (``compare(..., grad=True)``): the operations
    with a gradient, float inputs.

    Raises:
        PoolingError: ``operations`` names none of ``OPERATIONS`` (with ``grad``, none with a
            gradient).
    """
    spec = group_spec(seed, index // GROUP, checked(operations, grad), grad)
    x = values(np.random.default_rng([seed, index]), spec["shape"], spec["dtype"])
    case = {"name": f"fuzz-{seed}-{index}", "op": spec["op"], "X": x,
            "kwargs": dict(spec["kwargs"]), "group": index // GROUP}
    if grad:
        case["kwargs"]["grad"] = True
    return case


#: the operations ``--grad`` takes: those with a gradient
WITH_GRADIENT = ("pool", "adaptive", "global")


def checked(operations, grad: bool = False) -> tuple:
    """``operations`` (``--ops``' names) checked (``PoolingError`` naming the option)."""
    operations = tuple(operations)
    unknown = [name for name in operations if name not in OPERATIONS]
    if unknown or not operations:
        raise PoolingError(f"--ops: got {','.join(operations) or 'nothing'}; allowed: a "
                           f"comma-separated list of {', '.join(OPERATIONS)}")
    if grad and not set(operations) & set(WITH_GRADIENT):
        raise PoolingError(f"--ops: got {','.join(operations)} with --grad; allowed: "
                           f"{', '.join(WITH_GRADIENT)} (the operations with a gradient)")
    return operations


@functools.lru_cache(maxsize=256)
def group_spec(seed: int, group: int, operations: tuple, grad: bool = False) -> dict:
    """The operation, keywords, shape and dtype of a group of cases: drawn from the group's
    stream again until the reference takes them (its own validation, on an input of the
    shape and dtype)."""
    rng = np.random.default_rng([seed, group, _GROUP_STREAM])
    if grad:
        operations = tuple(name for name in operations if name in WITH_GRADIENT)
    for _ in range(_TRIES):
        spec = _draw_spec(rng, operations, grad)
        try:
            ops.get(spec["op"]).resolve_case(dict(spec["kwargs"]),
                                             np.zeros(spec["shape"], spec["dtype"]), grad)
        except PoolingError:
            continue
        return spec
    raise RuntimeError(f"group {group} of seed {seed}: no valid draw in {_TRIES} tries")


def _draw_spec(rng: np.random.Generator, operations, grad: bool = False) -> dict:
    names = list(operations)
    weights = np.array([_WEIGHTS[n] for n in names], float)
    name = names[rng.choice(len(names), p=weights / weights.sum())]
    rank = int(rng.choice([1, 2, 3], p=[0.25, 0.6, 0.15]))
    layout = str(rng.choice(LAYOUTS_BY_RANK[rank]))
    dtype = str(rng.choice(["float32", "float64", "float16", "int32"],
                           p=[0.6, 0.2, 0.1, 0.1]))
    if grad and dtype == "int32":  # a gradient of floats only
        dtype = "float32"
    spatial = _sizes(rng, rank)
    shape = [int(rng.integers(1, 3)), int(rng.integers(1, 5))]
    full = [0] * (rank + 2)
    axes = spatial_axes(rank + 2, layout)
    rest = iter(shape)
    for axis in range(rank + 2):
        full[axis] = spatial[axes.index(axis)] if axis in axes else next(rest)
    kwargs = {"layout": layout}
    if name in _WINDOWED:
        kwargs.update(_window(rng, rank, name))
    elif name == "adaptive":
        kwargs.update(mode=str(rng.choice(["max", "avg"])),
                      output_size=[int(rng.integers(1, n + 3)) for n in spatial])
    else:
        mode = str(rng.choice(["max", "avg", "lp"], p=[0.45, 0.45, 0.1]))
        kwargs.update(mode=mode, keepdims=bool(rng.integers(0, 2)))
        if mode == "lp":
            kwargs["p"] = float(rng.choice([1.0, 2.0, 3.0]))
    return {"op": OPERATIONS[name], "kwargs": kwargs, "shape": tuple(full), "dtype": dtype}


def _sizes(rng: np.random.Generator, rank: int) -> list[int]:
    """Spatial sizes: mostly small (1 to 12), sometimes larger, within ``MAX_CELLS``."""
    top = {1: 400, 2: 64, 3: 16}[rank] if rng.random() < 0.15 else 12
    sizes = [int(rng.integers(1, top + 1)) for _ in range(rank)]
    while np.prod(sizes) * 8 > MAX_CELLS:
        sizes[int(np.argmax(sizes))] //= 2
    return sizes


def _window(rng: np.random.Generator, rank: int, name: str) -> dict:
    """A window's keywords: size, stride, padding form, dilation, ceil mode, and the mode's
    own (count_include_pad, p, divisor; the index convention; the unpooled size)."""
    def per_axis(low, high):
        if rng.random() < 0.7:
            return int(rng.integers(low, high + 1))
        return [int(rng.integers(low, high + 1)) for _ in range(rank)]

    kernel = per_axis(1, 4)
    modes = _WINDOWED[name]
    mode = str(rng.choice(list(modes), p=list(modes.values())))
    form = rng.random()
    padding = (0 if form < 0.4 else per_axis(0, 2) if form < 0.7 else
               [[int(rng.integers(0, 3)), int(rng.integers(0, 3))] for _ in range(rank)]
               if form < 0.8 else str(rng.choice(["same", "valid", "same_lower"])))
    kwargs = dict(pool_size=kernel, mode=mode, stride=per_axis(1, 4), padding=padding,
                  dilation=1 if rng.random() < 0.8 else per_axis(1, 3),
                  ceil_mode=[False, True, "keep"][int(rng.choice(3, p=[0.7, 0.2, 0.1]))])
    if mode == "avg":
        kwargs["count_include_pad"] = bool(rng.integers(0, 2))
        if rng.random() < 0.15:
            kwargs["divisor"] = int(rng.integers(1, 10))
    if mode == "lp":
        kwargs["p"] = float(rng.choice([1.0, 2.0, 3.0]))
    if name == "indices":
        kwargs["indices"] = str(rng.choice(["plane", "tensor", "tf", "tf_batch"]))
    if name == "pool_unpool":
        kwargs["unpooled"] = str(rng.choice(["default", "input"]))
    return kwargs


def values(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """An input of ``shape`` and ``dtype`` of one of ``VALUES``' kinds: normal, small integers
    (ties everywhere), normal with NaN, infinities, the dtype's extremes and denormals
    sprinkled in, or all negative (windows where a zero pad would win)."""
    kind = str(rng.choice(VALUES, p=[0.3, 0.25, 0.3, 0.15]))
    if dtype == "int32":
        if kind == "ties":
            return rng.integers(-2, 3, size=shape).astype(np.int32)
        info = np.iinfo(np.int32)
        x = rng.integers(-1000, 1000, size=shape).astype(np.int32)
        if kind == "specials":
            cells = rng.random(shape) < 0.05
            x[cells] = rng.choice([info.min, info.max], size=int(cells.sum()))
        return -np.abs(x) - 1 if kind == "negative" else x
    x = rng.standard_normal(shape)
    if kind == "ties":
        x = rng.integers(-2, 3, size=shape).astype(np.float64)
    elif kind == "negative":
        x = -np.abs(x) - 1
    x = x.astype(dtype)
    if kind == "specials":
        info = np.finfo(dtype)
        cells = rng.random(shape) < 0.05
        specials = np.array([np.nan, np.inf, -np.inf, info.max, -info.max,
                             info.tiny / 4, -info.tiny / 4], dtype)
        x[cells] = rng.choice(specials, size=int(cells.sum()))
    return x
