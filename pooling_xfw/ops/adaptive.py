"""Adaptive pooling: ``px.adaptive_pool2d`` (max, avg) to an output size, the bins
``[floor(i*n/o), ceil((i+1)*n/o))`` of ``pooling_xfw.adaptive``."""
from __future__ import annotations

from ..adaptive import (ADAPTIVE_MODES, make_adaptive_spec, pool_adaptive, resolve_adaptive)
from ..errors import PoolingError
from ..reference import as_input
from ..layout import AXIS_WORDS, axis_names
from ..emulation import emulate_bins
from ..vocabulary import Vocabulary
from .base import Operation


class Adaptive(Operation):
    name = "adaptive"
    title = "adaptive pooling"
    function = "adaptive_pool2d"
    arguments = ("output_size", "mode", "layout")
    modes = ADAPTIVE_MODES
    flag, flag_value = "--adaptive", "H,W"
    flag_meaning = "adaptive pooling to that output size"
    options = "--mode max|avg and --layout"
    metavar = "H,W"
    flag_help = ("adaptive pooling to this output size: 7, 3,4, or -,3 (- keeps that axis's "
                 "input size; None or nothing, as in ,3, too)")
    taps = "gathered taps"
    has_gradient = True

    def resolve_case(self, case: dict, X, grad: bool):
        if "output_size" not in case:
            raise PoolingError("output_size: got nothing; allowed: an int, or a pair (h, w) of "
                               "ints >= 0 or None, required for op='adaptive'")
        spec = make_adaptive_spec(case["output_size"], case.get("mode", "max"),
                                  case.get("layout", "NCHW"))
        x = as_input(X)
        return spec.kwargs(), x, resolve_adaptive(spec, x.shape)

    def command_line(self, args, typed, layout: str):
        kwargs = dict(output_size=typed.output_size(args.adaptive), mode=typed.mode(),
                      layout=layout)
        return kwargs, {"output_size": ("--adaptive", args.adaptive)}

    def cells_read(self, geometry, windows, x_shape):
        from ..adaptive_gradient import cells_read

        return cells_read(geometry, windows, x_shape)

    def gradient(self, x, geometry, grad_output, ties):
        from ..adaptive_gradient import adaptive_grad_geometry

        return adaptive_grad_geometry(x, geometry, grad_output, ties)

    def geometry(self, x_shape, output_size=None, mode="max", layout="NCHW"):
        return resolve_adaptive(make_adaptive_spec(output_size, mode, layout), x_shape)

    def kwargs(self, geometry) -> dict:
        return geometry.spec.kwargs()

    def output_shape(self, geometry, input_shape) -> tuple[int, ...]:
        return geometry.output_shape(input_shape)

    def pool(self, x, geometry):
        return pool_adaptive(x, geometry)

    def layouts(self, vocab, mode):
        return vocab.adaptive_layouts(mode)

    def dtypes(self, vocab):
        return vocab.adaptive_dtypes()

    def own_call(self, vocab, mode):
        return type(vocab).native_adaptive is not Vocabulary.native_adaptive

    def native(self, vocab, plan, geom, v, layout, mode):
        return vocab.native_adaptive(plan, geom, v, layout, mode)

    def emulate(self, vocab, plan, geom, v, layout, mode, slices):
        return emulate_bins(vocab, plan, geom, v, layout, mode, slices=slices)

    def sample_limit(self, kwargs: dict) -> int:
        """Past twice the output size."""
        return max(16, 2 * max(o or 0 for o in kwargs["output_size"]) + 4)

    def period(self, kwargs: dict) -> tuple[int, ...]:
        return tuple(o or 1 for o in kwargs["output_size"])

    def cell(self, spec: dict) -> str:
        return f"{self.name} {spec['mode']} {tuple(spec['output_size'])}"

    def describe(self, geometry) -> str:
        def bins(b):
            if b.out == 0:
                return "none (0 outputs)"
            cells = [f"[{s},{e})" for s, e in zip(b.starts[:4].tolist(), b.ends[:4].tolist())]
            return " ".join(cells) + (" ..." if b.out > 4 else "")

        along = ", ".join(f"of {AXIS_WORDS[name]} {bins(b)}"
                          for name, b in zip(axis_names(len(geometry.axes)), geometry.axes))
        return (f"output {'x'.join(map(str, geometry.out))}; bins {along} (start floor(i*n/o), "
                f"end ceil((i+1)*n/o))")


ADAPTIVE = Adaptive()
