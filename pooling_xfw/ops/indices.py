"""Max (or min) pooling with each window's argmax: ``px.pool2d_with_indices`` (and the other
ranks), whose winner and index conventions are ``pooling_xfw.indices``'.

Its judged output is the indices, in the convention asked for (``indices=``: ``"plane"``,
``"tensor"``, ``"tf"``, ``"tf_batch"``); each backend's own indices are converted to it first.
The values of the same call are its second output, judged too: a framework whose call with
indices gives other values than its plain pooling (Paddle, TensorFlow and ONNX Runtime treat
NaN otherwise) is judged on the values that call gives.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import PoolingError
from ..indices import INDEX_CONVENTIONS, check_convention, pool_with_indices
from ..layout import rank as layout_rank
from ..spec import Geometry
from .pool import Pool


@dataclasses.dataclass(frozen=True)
class IndexedGeometry(Geometry):
    """A window's geometry and the index convention asked for."""

    convention: str = "plane"


class Indices(Pool):
    name = "pool_with_indices"
    aliases = ("pool1d_with_indices", "pool2d_with_indices", "pool3d_with_indices")
    title = "max pooling with each window's argmax"
    function = "pool2d_with_indices"
    arguments = Pool.arguments + ("indices",)
    modes = ("max", "min")
    has_gradient = False
    outputs = 2
    flag, flag_value = "--indices", "plane|tensor|tf|tf_batch"
    refines = "--kernel"
    options = Pool.options
    metavar = "CONVENTION"
    flag_help = ("with --kernel: max (or min) pooling with each window's argmax, its indices "
                 "in this convention: plane (y*W + x in each sample and channel), tensor (the "
                 "flat position in the input), tf ((y*W + x)*C + c) or tf_batch (that plus "
                 "n*H*W*C); each backend's converted to it")
    flag_meaning = "with --kernel: the argmax indices, in that convention"

    def resolve_case(self, case: dict, X, grad: bool):
        convention = check_convention("indices", case.pop("indices", "plane"))
        if case.get("mode", "max") not in self.modes:
            raise PoolingError(f"mode: got {case.get('mode')!r} with op={self.name!r}; "
                               f"allowed: 'max' or 'min' (a window's argmax)")
        kwargs, x, geometry = super().resolve_case(case, X, grad)
        return ({**kwargs, "indices": convention}, x,
                IndexedGeometry(geometry.spec, geometry.axes, convention))

    def command_line(self, args, typed, layout: str):
        kwargs, options = super().command_line(args, typed, layout)
        kwargs["indices"] = typed.word("--indices", args.indices, "index convention",
                                       INDEX_CONVENTIONS)
        return kwargs, options

    def geometry(self, x_shape, pool_size=None, mode="max", *, indices="plane", **kwargs):
        plain = super().geometry(x_shape, pool_size, mode, **kwargs)
        return IndexedGeometry(plain.spec, plain.axes, check_convention("indices", indices))

    def kwargs(self, geometry) -> dict:
        return {**geometry.spec.kwargs(), "indices": geometry.convention}

    def pool(self, x, geometry):
        return self.reference_pair(x, geometry)[0]

    def reference_pair(self, x: np.ndarray, geometry) -> tuple[np.ndarray, np.ndarray]:
        """The reference's (indices, values) of a validated input."""
        values, indices = pool_with_indices(None, x, **geometry.spec.kwargs(),
                                            indices=geometry.convention)
        return indices, values

    def native(self, vocab, plan, geom, v, layout, mode):
        raise NotImplementedError("the argmax is planned by argmax_plan")

    def cell(self, spec: dict) -> str:
        return (f"pool{layout_rank(spec['layout'])}d {spec['mode']} indices "
                f"({spec.get('indices', 'plane')})")

    def no_gradient(self) -> str:
        return ("the indices have no gradient (the values' gradient is pool2d's: compare "
                "--kernel ... --grad)")


INDICES = Indices()
