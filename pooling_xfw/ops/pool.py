"""Pooling with a window: ``px.pool2d`` (max, avg, min, lp; stride, padding, dilation, ceil
mode, the divisor's rule, layout), whose arithmetic is ``pooling_xfw.spec`` and whose numbers
are ``pooling_xfw.reference``'s."""
from __future__ import annotations

from ..errors import PoolingError
from ..gradient import grad_input
from ..reference import as_input, pool_geometry
from ..layout import rank as layout_rank
from ..spec import MODES, make_spec, resolve, spatial_axes
from ..emulation import emulate_window, runtime_pads
from .base import Operation


class Pool(Operation):
    name = "pool2d"
    aliases = ("pool", "pool1d", "pool3d")  # the rank is the layout's
    title = "pooling with a window"
    function = "pool2d"
    arguments = ("pool_size", "mode", "stride", "padding", "dilation", "ceil_mode",
                 "count_include_pad", "layout", "p", "divisor", "divisor_of",
                 "allow_empty_windows")
    modes = MODES
    has_gradient = True
    has_window = True
    flag, flag_value = "--kernel", "3|2,3"
    options = ("--stride, --padding, --dilation, --ceil-mode, --exclude-pad, --divisor, "
               "--allow-empty-windows, --mode, --p and --layout")
    metavar = ""
    flag_help = "pooling with this window: 3 or 2,3"

    def resolve_case(self, case: dict, X, grad: bool):
        if "pool_size" not in case:
            raise PoolingError("pool_size: got nothing; allowed: an int or a pair (h, w) of "
                               "ints >= 1, required for op='pool2d' (op='adaptive' takes "
                               "output_size, op='global' no window)")
        spec = make_spec(case.pop("pool_size"), case.pop("mode", "max"), **case)
        x = grad_input(X) if grad else as_input(X)
        return spec.kwargs(), x, resolve(spec, x.shape)

    def command_line(self, args, typed, layout: str):
        mode = typed.mode()
        kwargs = dict(pool_size=typed.sizes("--kernel", args.kernel, 1, "3 or 2,3"), mode=mode,
                      stride=(typed.sizes("--stride", args.stride, 1, "2 or 2,3")
                              if args.stride else None),
                      padding=typed.padding(args.padding if args.padding is not None else "0"),
                      dilation=typed.sizes("--dilation", args.dilation or "1", 1, "2 or 2,3"),
                      ceil_mode=typed.ceil_mode(), count_include_pad=not args.exclude_pad,
                      layout=layout, p=typed.power(mode))
        divisor, divisor_of = typed.divisor()
        if divisor is not None:  # only where given: the case's JSON as before otherwise
            kwargs.update(divisor=divisor, divisor_of=divisor_of)
        if args.allow_empty_windows:  # only where given, as the divisor
            kwargs["allow_empty_windows"] = True
        if kwargs["stride"] is None:  # like the frameworks' layers: the window by default
            kwargs["stride"] = kwargs["pool_size"]
        return kwargs, {"pool_size": ("--kernel", args.kernel),
                        "stride": ("--stride", args.stride),
                        "padding": ("--padding", args.padding),
                        "dilation": ("--dilation", args.dilation),
                        "ceil_mode": ("--ceil-mode", None)}

    def geometry(self, x_shape, pool_size=None, mode="max", *, constant_pad=None, **kwargs):
        """``constant_pad``: ``(pads, value)``: the geometry of the input padded with that
        constant first (a call written after an explicit pad)."""
        spec = make_spec(pool_size, mode, **kwargs)
        shape = list(x_shape)
        if constant_pad is not None:
            for axis, (before, after) in zip(spatial_axes(len(shape), spec.layout),
                                             constant_pad[0]):
                shape[axis] += before + after
        return resolve(spec, tuple(shape))

    def kwargs(self, geometry) -> dict:
        return geometry.spec.kwargs()

    def output_shape(self, geometry, input_shape) -> tuple[int, ...]:
        return geometry.pooled_shape(input_shape)

    def pool(self, x, geometry):
        return pool_geometry(x, geometry)

    def native(self, vocab, plan, geom, v, layout, mode):
        if mode == "avg" and plan.computes_in in vocab.avg_missing:
            return None  # no average pooling in that dtype: each window's cells summed
        return vocab.native(plan, geom, v, layout, mode)

    def emulate(self, vocab, plan, geom, v, layout, mode, slices):
        return emulate_window(vocab, plan, geom, v, layout, mode, slices=slices,
                              run=runtime_pads(plan, geom))

    def spec_of(self, kwargs: dict):
        """The ``PoolSpec`` of its keyword arguments (a translation's): the window's, those
        of an operation built on it (``indices``, ``output_size``) aside."""
        return make_spec(**{k: v for k, v in kwargs.items() if k in Pool.arguments})

    def sample_limit(self, kwargs: dict) -> int:
        """A few periods of every stride past the window."""
        spec = self.spec_of(kwargs)
        reach = max(d * (k - 1) + 1 for k, d in zip(spec.pool_size, spec.dilation))
        return max(reach + 4 * max(spec.stride) + 4, 16)

    def period(self, kwargs: dict) -> tuple[int, ...]:
        return self.spec_of(kwargs).stride

    def small_size(self, kwargs: dict) -> tuple[int, ...]:
        """One smaller than the (dilated) window."""
        spec = self.spec_of(kwargs)
        return tuple(max(d * (k - 1), 1) for k, d in zip(spec.pool_size, spec.dilation))

    def cell(self, spec: dict) -> str:
        text = f"pool{layout_rank(spec['layout'])}d {spec['mode']}"
        if spec.get("divisor") is not None:  # "pool2d avg /3", "... (of the mean)"
            text += f" /{spec['divisor']}" + (" (of the mean)" if spec.get("divisor_of") ==
                                               "mean" else "")
        return text

    def describe(self, geometry) -> str:
        return f"pads {geometry.pads}, output {'x'.join(map(str, geometry.out))}"


POOL = Pool()
