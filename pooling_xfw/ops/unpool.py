"""Max unpooling: ``px.max_unpool2d`` (and the other ranks), the inverse scatter of a max pooling
with indices, whose rule is ``pooling_xfw.indices``' (PyTorch's ``F.max_unpool2d``).

A case is the input ``X`` that is pooled, and the pooling's window: the reference pools ``X``
with indices (``px.pool2d_with_indices``, plane convention), every backend unpools those values
and indices with its own call to ``X``'s spatial size (``output_size``: the size the encoder
saw, as SegNet's decoder asks), and the unpooled arrays are judged.  Each backend's indices are
converted from the plane convention to the one its call takes before the call.

A window of padding only has index -1, which writes nothing.  Paddle's ``max_unpool2d`` given
-1 corrupts its heap and hangs (measured): it is not run unless the case asks for it
(``run_known_crashes=True``); then the worker that runs it is contained by the call timeout,
and the other backends keep their results.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import PoolingError
from ..indices import max_unpool, pool_with_indices
from ..layout import rank as layout_rank
from ..layout import spatial_axes
from ..spec import PoolSpec, make_spec
from .pool import Pool


@dataclasses.dataclass(frozen=True)
class UnpoolGeometry:
    """An unpooling: the pooling's spec, the unpooled spatial size, and (the caller's side) the
    indices that go with the values."""

    spec: PoolSpec
    output_size: tuple[int, ...]
    indices: np.ndarray | None = dataclasses.field(default=None, compare=False, repr=False)
    run_known_crashes: bool = False
    #: a cell that several windows name written once (its value, which they share), where the
    #: framework's own recipe does otherwise (TensorFlow's ``scatter_nd`` sums): a translation's
    #: unpooling, which reproduces the source's; False: the recipe as users write it, measured
    write_once: bool = False

    def check_fits(self, shape, dtype) -> None:
        """Nothing padded: the output is the size asked for."""


class Unpool(Pool):
    name = "max_unpool"
    aliases = ("max_unpool1d", "max_unpool2d", "max_unpool3d")
    title = "max unpooling of a max pooling's values at its indices"
    function = "max_unpool2d"
    arguments = ("pool_size", "mode", "stride", "padding", "dilation", "ceil_mode", "layout",
                 "allow_empty_windows", "output_size", "run_known_crashes")
    modes = ("max",)
    has_gradient = False
    inputs = 2
    flag, flag_value = "--unpool", ""
    refines = "--kernel"
    metavar = ""
    flag_help = ("with --kernel: max-pool the input with indices (the reference's), then unpool "
                 "those values at those indices to the input's size in every backend")
    flag_meaning = "with --kernel: unpooling, the pooled values scattered back to their indices"

    def resolve_case(self, case: dict, X, grad: bool):
        if case.get("mode", "max") != "max":
            raise PoolingError(f"mode: got {case.get('mode')!r} with op={self.name!r}; "
                               f"allowed: 'max' (unpooling scatters a max pooling's values)")
        crashes = case.pop("run_known_crashes", False)
        if not isinstance(crashes, (bool, np.bool_)):
            raise PoolingError(f"run_known_crashes: got {crashes!r}; allowed: True or False")
        output_size = case.pop("output_size", None)
        kwargs, x, geometry = super().resolve_case(case, X, grad)
        values, indices = pool_with_indices(None, x, **kwargs)
        spatial = tuple(x.shape[a] for a in spatial_axes(x.ndim, geometry.spec.layout))
        size = spatial if output_size is None else _sizes(output_size, len(spatial))
        kwargs = {**kwargs, "output_size": list(size)}
        if crashes:
            kwargs["run_known_crashes"] = True
        return kwargs, values, UnpoolGeometry(geometry.spec, size, indices, bool(crashes))

    def command_line(self, args, typed, layout: str):
        kwargs, options = super().command_line(args, typed, layout)
        kwargs = {k: v for k, v in kwargs.items() if k in self.arguments}  # an average's aside
        if args.run_known_crashes:
            kwargs["run_known_crashes"] = True
        return kwargs, options

    def geometry(self, x_shape, pool_size=None, mode="max", *, output_size=None,
                 run_known_crashes=False, **kwargs):
        """The worker's side: ``x_shape`` is the pooled values' shape."""
        spec = make_spec(pool_size, mode, **kwargs)
        return UnpoolGeometry(spec, tuple(int(s) for s in output_size), None,
                              bool(run_known_crashes))

    def kwargs(self, geometry) -> dict:
        return {**geometry.spec.kwargs(), "output_size": list(geometry.output_size)}

    def output_shape(self, geometry, input_shape) -> tuple[int, ...]:
        shape = list(input_shape)
        for axis, size in zip(spatial_axes(len(shape), geometry.spec.layout),
                              geometry.output_size):
            shape[axis] = size
        return tuple(shape)

    def more_inputs(self, geometry) -> list[np.ndarray]:
        return [geometry.indices]

    def pool(self, x, geometry):
        spec = geometry.spec
        return max_unpool(None, x, geometry.indices, spec.pool_size, stride=spec.stride,
                          padding=0 if isinstance(spec.padding, str) else spec.padding,
                          output_size=geometry.output_size, layout=spec.layout)

    def native(self, vocab, plan, geom, v, layout, mode):
        raise NotImplementedError("unpooling is planned by argmax_plan")

    def cell(self, spec: dict) -> str:
        return f"unpool{layout_rank(spec['layout'])}d"

    def describe(self, geometry) -> str:
        return f"output {'x'.join(map(str, geometry.output_size))}"

    def no_gradient(self) -> str:
        return "unpooling's gradient is not compared yet"


def _sizes(output_size, rank: int) -> tuple[int, ...]:
    sizes = tuple(int(s) for s in np.atleast_1d(output_size))[-rank:]
    if len(sizes) != rank or min(sizes) < 1:
        raise PoolingError(f"output_size: got {output_size!r}; allowed: {rank} sizes >= 1, one "
                           f"per spatial axis (default: the input's)")
    return sizes


UNPOOL = Unpool()
