"""Global pooling: ``px.global_pool2d`` (max, avg, lp), the window of the whole input
(``pooling_xfw.adaptive.GlobalGeometry``), H and W kept as axes of size 1 or dropped."""
from __future__ import annotations

import numpy as np

from ..adaptive import GLOBAL_MODES, resolve_global
from ..reference import as_input, pool_geometry
from ..emulation import emulate_window, runtime_pads
from ..layout import spatial_names
from ..vocabulary import Vocabulary
from .base import Operation


class Global(Operation):
    name = "global"
    title = "global pooling"
    function = "global_pool2d"
    arguments = ("mode", "p", "keepdims", "layout")
    modes = GLOBAL_MODES
    flag, flag_value = "--global", ""
    options = "--mode max|avg|lp, --p, --keepdims/--no-keepdims and --layout"
    metavar = ""
    flag_help = "global pooling: each (H, W) plane to one value"
    drops_axes = True
    has_gradient = True

    def resolve_case(self, case: dict, X, grad: bool):
        x = as_input(X)
        geometry = resolve_global(x.shape, **case)
        return geometry.kwargs(), x, geometry

    def command_line(self, args, typed, layout: str):
        mode = typed.mode()
        return dict(mode=mode, p=typed.power(mode), keepdims=args.keepdims is not False,
                    layout=layout), {}

    def geometry(self, x_shape, mode="max", **kwargs):
        return resolve_global(x_shape, mode, **kwargs)

    def kwargs(self, geometry) -> dict:
        return geometry.kwargs()

    def output_shape(self, geometry, input_shape) -> tuple[int, ...]:
        return geometry.output_shape(input_shape)

    def pool(self, x, geometry):
        return pool_geometry(x, geometry)

    def finish(self, geometry, out):
        return geometry.finish(out)

    def layouts(self, vocab, mode):
        return vocab.global_layouts(mode)

    def dtypes(self, vocab):
        return vocab.global_dtypes()

    def own_call(self, vocab, mode):
        return mode != "lp" and type(vocab).native_global is not Vocabulary.native_global

    def native(self, vocab, plan, geom, v, layout, mode):
        y = vocab.native_global(plan, geom, v, layout, mode)
        return y if y is not None else vocab.native(plan, geom, v, layout, mode)

    def gradient(self, x, geometry, grad_output, ties):
        """The gradient of the windowed pooling with the whole input as its window (the
        upstream gradient shaped as that pooling's output: its spatial axes kept)."""
        from ..gradient import grad_geometry

        if grad_output is not None:
            grad_output = np.reshape(grad_output, geometry.pooled_shape(x.shape))
        return grad_geometry(x, geometry, grad_output, ties)

    def emulate(self, vocab, plan, geom, v, layout, mode, slices):
        return emulate_window(vocab, plan, geom, v, layout, mode, slices=slices,
                              run=runtime_pads(plan, geom))

    def keeps_axes(self, spec: dict) -> bool:
        return bool(spec["keepdims"])

    def cell(self, spec: dict) -> str:
        text = f"{self.name} {spec['mode']}"
        if spec["mode"] == "lp":
            text += f" p={spec['p']:g}"
        return text + ("" if spec["keepdims"] else
                       f" ({', '.join(spatial_names(spec['layout']))} dropped)")

    def describe(self, geometry) -> str:
        return (f"global: one window of the whole "
                f"{'x'.join(str(g.size) for g in geometry.axes)} input")


GLOBAL = Global()
