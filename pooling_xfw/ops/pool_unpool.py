"""A max pooling with indices followed by the unpooling at them, as one operation: SegNet's
encoder and decoder (``y, i = F.max_pool2d(x, 2, return_indices=True)``, then
``F.max_unpool2d(y, i, 2)``), which is how porting reads and translates the two calls.

Its outputs are the unpooled array and the plane indices (the pooling's, as the source returns
them).  The unpooled size is the unpooling's default, ``(out - 1)*stride - 2*padding + kernel``
per axis (``nn.MaxUnpool2d``'s, Paddle's), or the input's own (``output_size=x.shape``:
``unpooled="input"``).  Each index is a flat position in the unpooled plane (PyTorch's rule), so
the default size is defined only where every cell a window reads has a plane index inside the
unpooled plane: at 5x5 a 2x2 window's argmax may be cell 18 of the 5-wide plane, and the
default plane has 16 cells (measured: PyTorch raises "Found an invalid max index: 18 (output
volumes are of size 4x4)", Paddle "index should less than output tensor height * output tensor
width"); such sizes are refused here, naming the condition.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import PoolingError
from ..indices import max_unpool, pool_with_indices
from ..layout import rank as layout_rank
from ..layout import spatial_axes
from ..plan import Expr
from ..spec import window_count
from .indices import IndexedGeometry, Indices
from .pool import Pool

#: the unpooled sizes a pipeline takes: the unpooling's default, or the pooled input's
UNPOOLED = ("default", "input")


@dataclasses.dataclass(frozen=True)
class PipelineGeometry(IndexedGeometry):
    """A window's geometry (its indices in the plane convention) and the unpooled size's
    rule (``UNPOOLED``)."""

    unpooled: str = "default"

    def unpooled_out(self) -> tuple[int, ...]:
        """The unpooled spatial sizes for the input this geometry was resolved for."""
        if self.unpooled == "input":
            return tuple(g.size for g in self.axes)
        return tuple(_default(g.out, s, pb, k) for g, s, (pb, _), k in zip(
            self.axes, self.spec.stride, self.pads, self.spec.pool_size))

    def unpooled_sizes(self) -> tuple:
        """The unpooled spatial sizes as ``Expr``s read from the plan's input ``x`` when the
        code runs (the same rule at every size)."""
        spec, layout = self.spec, self.spec.layout
        sizes = []
        for axis, g, s, k in zip(spatial_axes(len(layout), layout), self.axes, spec.stride,
                                 spec.pool_size):
            n = Expr.dim("x", axis)
            if self.unpooled == "input":
                sizes.append(n)
                continue
            pb, pa = g.pad_before, g.pad_after
            out = window_count(n, pb, pa, g.extent, s, spec.ceil_mode)
            sizes.append(_default(out, s, pb, k))
        return tuple(sizes)


def _default(out, stride: int, pad: int, kernel: int):
    """PyTorch's (and Paddle's) default unpooled size of ``out`` windows."""
    return (out - 1) * stride - 2 * pad + kernel


class PoolUnpool(Indices):
    name = "max_pool_unpool"
    aliases = ()
    title = "max pooling with indices, then the unpooling at them"
    function = "max_unpool2d"
    arguments = Pool.arguments + ("unpooled",)
    modes = ("max",)
    second_name = "unpooled"
    unpools_own_indices = True
    flag, flag_value = "--pool-unpool", "default|input"
    refines = "--kernel"
    metavar = "SIZE"
    flag_help = ("with --kernel: each backend max-pools with its own argmax and unpools at it "
                 "(a SegNet encoder and decoder: the two calls porting translates), to the "
                 "unpooling's default size or the input's; the unpooled array and the plane "
                 "indices judged")
    flag_meaning = "with --kernel: a max pooling with indices, then the unpooling at them"

    def command_line(self, args, typed, layout: str):
        kwargs, options = Pool.command_line(self, args, typed, layout)
        kwargs = {k: v for k, v in kwargs.items() if k in self.arguments}  # an average's aside
        kwargs["unpooled"] = typed.word("--pool-unpool", args.pool_unpool, "unpooled size",
                                        UNPOOLED)
        return kwargs, options

    def resolve_case(self, case: dict, X, grad: bool):
        unpooled = _unpooled(case.pop("unpooled", "default"))
        kwargs, x, geometry = super().resolve_case(case, X, grad)
        geometry = self._checked(PipelineGeometry(geometry.spec, geometry.axes, "plane",
                                                  unpooled))
        return {**kwargs, "unpooled": unpooled}, x, geometry

    def geometry(self, x_shape, pool_size=None, mode="max", *, unpooled="default",
                 indices="plane", **kwargs):
        plain = Pool.geometry(self, x_shape, pool_size, mode, **kwargs)
        return self._checked(PipelineGeometry(plain.spec, plain.axes, "plane",
                                              _unpooled(unpooled)))

    @staticmethod
    def _checked(geometry: PipelineGeometry) -> PipelineGeometry:
        """``geometry`` where every cell its windows read has a plane index inside the
        unpooled plane (always with ``unpooled="input"``); PoolingError naming the sizes."""
        spec = geometry.spec
        if isinstance(spec.padding, str) or any(pb != pa for pb, pa in spec.padding):
            raise PoolingError(f"padding: got {spec.padding!r} with an unpooling; allowed: "
                               f"the same pads before and after on each axis (the unpooling "
                               f"takes one per axis)")
        if geometry.unpooled == "input":
            return geometry
        last = 0
        for g in geometry.axes:  # the plane index of the last cell the windows read
            taps = g.tap_positions()
            real = taps[(taps >= 0) & (taps < g.size)]
            last = last * g.size + (int(real.max()) if real.size else 0)
        cells = math.prod(geometry.unpooled_out())
        if min(geometry.unpooled_out()) < 1 or last >= cells:
            sizes = "x".join(str(g.size) for g in geometry.axes)
            out = "x".join(map(str, geometry.unpooled_out()))
            raise PoolingError(
                f"X: got input size {sizes}; allowed: sizes whose argmax falls inside the "
                f"unpooling's default {out} plane (cell {last} of the {sizes} plane may win, "
                f"an index the unpooling has no cell for): sizes of (out - 1)*stride + "
                f"kernel - 2*padding cells, or unpooled='input' (output_size=x.shape)")
        return geometry

    def kwargs(self, geometry) -> dict:
        return {**geometry.spec.kwargs(), "unpooled": geometry.unpooled}

    def output_shape(self, geometry, input_shape) -> tuple[int, ...]:
        shape = list(input_shape)
        for axis, size in zip(spatial_axes(len(shape), geometry.spec.layout),
                              geometry.unpooled_out()):
            shape[axis] = size
        return tuple(shape)

    def pair_shapes(self, geometry, input_shape) -> tuple[tuple, tuple]:
        return (self.output_shape(geometry, input_shape),
                geometry.pooled_shape(input_shape))

    def reference_pair(self, x: np.ndarray, geometry) -> tuple[np.ndarray, np.ndarray]:
        """The reference's (plane indices, unpooled array) of a validated input."""
        spec = geometry.spec
        values, indices = pool_with_indices(None, x, **spec.kwargs())
        pads = tuple((pb, pb) for pb, _ in geometry.pads)
        unpooled = max_unpool(None, values, indices, spec.pool_size, stride=spec.stride,
                              padding=pads, output_size=geometry.unpooled_out(),
                              layout=spec.layout)
        return indices, unpooled

    def small_size(self, kwargs: dict) -> tuple[int, ...]:
        """One window: the smallest input the default unpooled plane holds."""
        return tuple(self.spec_of(kwargs).pool_size)

    def cell(self, spec: dict) -> str:
        return f"pool{layout_rank(spec['layout'])}d max, unpooled"

    def describe(self, geometry) -> str:
        rule = ("the input's size" if geometry.unpooled == "input" else
                "the unpooling's default, (out - 1)*stride - 2*padding + kernel")
        return (f"pads {geometry.pads}, pooled {'x'.join(map(str, geometry.out))}, unpooled "
                f"{'x'.join(map(str, geometry.unpooled_out()))} ({rule})")

    def no_gradient(self) -> str:
        return "the pooling and unpooling's gradient is not compared yet"


def _unpooled(value) -> str:
    if value not in UNPOOLED:
        raise PoolingError(f"unpooled: got {value!r}; allowed: {', '.join(map(repr, UNPOOLED))}"
                           f" (the unpooling's default size, or the input's)")
    return value


POOL_UNPOOL = PoolUnpool()
