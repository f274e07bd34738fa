"""compare's case from its options: the input (a .npy file, pickles refused, or a generated
array), the operation chosen by its option (``pooling_xfw.ops``), its keyword arguments, the
backward pass's options; and report's ``--cases``."""
from __future__ import annotations

import math
import os
import shlex

from ..errors import PoolingError
from .args import (as_typed, check_fits, dest_of, did_you_mean, read_int, read_number,
                   read_padding, read_shape, read_sizes, read_word, usage_error)


_NPY_MAGIC = b"\x93NUMPY"


def _read_npy(path: str):
    """The array in a .npy file, pickles refused; one line naming --input otherwise."""
    import numpy as np

    def refuse(why: str) -> PoolingError:
        return usage_error("--input", path, f"cannot read it as a .npy array without pickles ({why})",
                      "a numeric .npy file")

    from ..files import NotRegular, open_regular
    from ..arguments import format_bytes, memory_limit

    try:
        with open_regular(path) as handle:
            magic = handle.read(len(_NPY_MAGIC))
            if not magic:
                raise refuse("the file is empty")
            if magic != _NPY_MAGIC:
                raise refuse("not a .npy file: it does not start with the .npy magic string")
            handle.seek(0)
            version = np.lib.format.read_magic(handle)
            shape, _, dtype = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                               np.lib.format.read_array_header_2_0)(handle)
            need = math.prod(shape) * dtype.itemsize
            left = os.fstat(handle.fileno()).st_size - handle.tell()
            if need > left:  # never allocate what the header only claims
                raise refuse(f"its header says {shape} of {dtype}, {format_bytes(need)}, and "
                             f"the file holds {format_bytes(left)} after it")
            if need > memory_limit():
                raise refuse(f"{shape} of {dtype} would need {format_bytes(need)}, more than "
                             f"this machine's memory")
            handle.seek(0)
            return np.load(handle, allow_pickle=False)
    except PoolingError:
        raise
    except NotRegular as exc:
        raise refuse(exc.what) from None
    except (OSError, ValueError, EOFError) as exc:
        raise refuse(getattr(exc, "strerror", None) or str(exc) or type(exc).__name__) from None


def load_input(args):
    import math

    import numpy as np

    if args.input:
        return _read_npy(args.input)
    shape = read_shape("--shape", args.shape, args.layout.strip().upper())
    seed = read_int("--seed", args.seed, args.seed, 0, "an int >= 0")
    unsigned = np.dtype(args.dtype).kind == "u"
    chosen = args.values or ("arange" if unsigned else "randn")
    if unsigned and chosen != "arange":  # a cast would wrap them around: not the input asked
        raise PoolingError(f"--values {chosen} --dtype {args.dtype}: {chosen} makes negative "
                           f"values, which {args.dtype} cannot hold; allowed: --values arange "
                           f"with an unsigned --dtype, or a signed or float --dtype")
    itemsize = np.dtype(args.dtype).itemsize  # made in float64 (int64 for arange), then cast
    check_fits("--shape", args.shape, math.prod(shape),
               f"the {' x '.join(map(str, shape))} {args.dtype} input ({chosen}, made in "
               f"{'int64' if chosen == 'arange' else 'float64'})",
               itemsize + (16 if chosen == "negative" else 8))
    from ..cases import generate

    return generate(shape, chosen, seed, args.dtype)


def _ops_allowed() -> str:
    """The operations' options, as a usage error's "allowed": one of them."""
    from .. import ops

    each = [f"{op.flag}{' ' + op.flag_value if op.flag_value else ''} "
            f"({op.flag_meaning or op.title})" for op in ops.OPERATIONS if not op.refines]
    refining = [f"; {op.flag} {op.flag_value} {op.flag_meaning or op.title}"
                for op in ops.OPERATIONS if op.refines]
    return "one of " + ", ".join(each[:-1]) + f" or {each[-1]}" + "".join(refining)


#: the options of pooling with a window: what an operation without one does not take
_WINDOW_OPTIONS = (("--stride", "stride"), ("--padding", "padding"),
                   ("--dilation", "dilation"), ("--ceil-mode", "ceil_mode"),
                   ("--exclude-pad", "exclude_pad"), ("--divisor", "divisor"),
                   ("--divisor-of", "divisor_of"),
                   ("--allow-empty-windows", "allow_empty_windows"))


def typed_option(flag: str, value) -> tuple[str, str | None]:
    """(flag, text as typed) of an option given on the command line (text None: a switch)."""
    return flag, value if isinstance(value, str) else None


def read_operation(args):
    """compare's operation (``pooling_xfw.ops``), from the one option given of those that
    choose one (--kernel, --adaptive, --global); another operation's options beside it are a
    usage error naming both."""
    from .. import ops

    given = {op: typed_option(op.flag, getattr(args, dest_of(op.flag)) or None)
             for op in ops.OPERATIONS if getattr(args, dest_of(op.flag)) not in (None, False)}
    if args.run_known_crashes and not any(op.inputs == 2 for op in given):
        raise usage_error("--run-known-crashes", None, "not without --unpool: only unpooling "
                          "has a call measured to crash", "--run-known-crashes with --unpool")
    for op in list(given):  # --indices refines --kernel: the one operation of the two
        if op.refines:
            refined = next(o for o in ops.OPERATIONS if o.flag == op.refines)
            if refined not in given:
                raise usage_error(op.flag, given[op][1], f"not without {op.refines}: "
                                  f"{op.flag_meaning}", f"{op.flag} with {op.refines}")
            del given[refined]
    if not given:
        chosen = [op.flag for op in ops.OPERATIONS if not op.refines]
        raise PoolingError(f"{', '.join(chosen[:-1])} or {chosen[-1]} is required; allowed: "
                           f"{_ops_allowed()}")
    (op, (flag, text)), *others = given.items()
    if others:
        other, other_text = others[0][1]
        raise usage_error(other, other_text, f"not with {as_typed(flag, text)}: one operation per "
                                        f"compare", _ops_allowed())
    windowed = " or ".join(o.flag for o in ops.OPERATIONS if o.has_window)
    if not op.has_window:
        for option, dest in _WINDOW_OPTIONS:
            value = getattr(args, dest)
            if value not in (None, False):
                raise usage_error(option, value if isinstance(value, str) else None,
                             f"not with {as_typed(flag, text)}: {op.name} pooling has no window",
                             f"{op.options} with {flag}; --stride, --padding, --dilation, "
                             f"--ceil-mode, --exclude-pad and --divisor with {windowed}")
    if "lp" not in op.modes and args.p is not None:
        with_lp = " or ".join(o.flag for o in ops.OPERATIONS if "lp" in o.modes)
        raise usage_error("--p", args.p, f"not with {as_typed(flag, text)}: {op.name} pooling has no "
                                    f"lp mode", f"--p with {with_lp}, and --mode lp")
    if not op.drops_axes and args.keepdims is not None:
        switch = "--keepdims" if args.keepdims else "--no-keepdims"
        droppers = [o for o in ops.OPERATIONS if o.drops_axes]
        raise usage_error(switch, None, f"not with {as_typed(flag, text)}: only "
                                   f"{' or '.join(o.name for o in droppers)} pooling drops H "
                                   f"and W", f"{switch} with "
                                             f"{' or '.join(o.flag for o in droppers)}")
    return op


#: what --adaptive takes
_OUTPUT_SIZE_ALLOWED = ("an int >= 0 (every axis), or one per spatial axis (w, h,w or d,h,w), "
                        "each an int >= 0 or - (None, or nothing, also keeps that axis's input "
                        "size), e.g. 7, 3,4, -,3 or 1,1,1")


def read_output_size(text: str):
    """``--adaptive``: ``7`` -> 7, ``3,4`` -> (3, 4), ``-,3`` / ``None,3`` / ``,3`` -> (None, 3),
    one value per spatial axis (``1,1,1``)."""
    parts = text.split(",")
    if len(parts) > 3:
        raise usage_error("--adaptive", text, f"{len(parts)} values", _OUTPUT_SIZE_ALLOWED)
    if len(parts) == 1 and parts[0].strip().lower() in ("", "-", "none"):
        raise usage_error("--adaptive", text, "no output size", _OUTPUT_SIZE_ALLOWED)
    sizes = tuple(None if part.strip().lower() in ("", "-", "none") else
                  read_int("--adaptive", text, part, 0, _OUTPUT_SIZE_ALLOWED) for part in parts)
    return sizes[0] if len(sizes) == 1 else sizes


def read_mode(args, op) -> str:
    """``--mode`` for the operation ``op``: one of its modes."""
    from .. import ops

    names, every = op.modes, {m for o in ops.OPERATIONS for m in o.modes}
    if args.mode.strip().lower() in every and args.mode.strip().lower() not in names:
        raise usage_error("--mode", args.mode, f"not a mode of {op.flag}",
                     f"{', '.join(names)} with {op.flag}")
    return read_word("--mode", args.mode, "mode", names)


def grad_options(args, op=None, op_flag: tuple[str, str | None] | None = None):
    """``--grad``, ``--ties``, ``--grad-output`` (and report's ``--seed``) as the report's
    ``GradOptions``, or None without ``--grad``; each refused where it means nothing: ``--ties``
    or ``--grad-output`` without ``--grad``, ``--grad`` with an operation that has no gradient
    (``op_flag``: that operation's option as typed)."""
    from ..report import GradOptions

    for flag, value in (("--ties", args.ties), ("--grad-output", args.grad_output)):
        if value is not None and not args.grad:
            raise usage_error(flag, value, "not without --grad: it is an option of the backward pass",
                         f"{flag} with --grad")
    report_seed = getattr(args, "report_seed", None)
    if report_seed is not None and not (args.grad and args.grad_output is not None and
                                        args.grad_output.strip().lower() == "randn"):
        raise usage_error("--seed", report_seed, "not without --grad --grad-output randn: a "
                                            "report's inputs are its cases'",
                     "--seed with --grad --grad-output randn")
    if not args.grad:
        return None
    if op is not None and not op.has_gradient:
        from .. import ops

        raise usage_error("--grad", None, f"not with {as_typed(*op_flag)}: {op.no_gradient()}",
                     "--grad with " + " or ".join(o.flag for o in ops.OPERATIONS
                                                  if o.has_gradient))
    ties = read_word("--ties", args.ties or "first", "ties rule", ("first", "split", "all"))
    upstream = read_word("--grad-output", args.grad_output or "ones", "upstream gradient",
                     ("ones", "randn"))
    seed_text = report_seed if report_seed is not None else getattr(args, "seed", "0")
    seed = read_int("--seed", seed_text, seed_text, 0, "an int >= 0")
    return GradOptions(ties, upstream, seed)


def check_grad_dtype(args, dtype) -> None:
    """``--grad`` needs a float input: a usage error naming ``--grad`` and where the input's
    dtype came from (``--dtype`` or ``--input``)."""
    import numpy as np

    if np.dtype(dtype).kind == "f":
        return
    where = (f"--input {shlex.quote(args.input)} (dtype {np.dtype(dtype)})" if args.input
             else f"--dtype {args.dtype}")
    raise usage_error("--grad", None, f"not with {where}: a gradient needs a float input",
                 "--grad with a float16, float32 or float64 input" + (
                     "" if args.input else " (--dtype float16|float32|float64)"))


def read_power(args, mode: str) -> float:
    """``--p`` (default 2): lp pooling's power, refused beside another mode, which has none."""
    if args.p is not None and mode != "lp":
        raise usage_error("--p", args.p, f"not with --mode {mode}: p is the power of lp pooling",
                     "--p with --mode lp")
    return read_number("--p", args.p if args.p is not None else "2")


def single_case(args):
    from ..cases import Case
    from ..layout import LAYOUTS

    op = read_operation(args)
    op_flag = typed_option(op.flag, getattr(args, dest_of(op.flag)) or None)
    args.grad_options = grad_options(args, op, op_flag)
    if args.grad_options is not None and not args.input:
        check_grad_dtype(args, args.dtype)
    layout = read_word("--layout", args.layout, "layout", LAYOUTS, str.upper)
    source = ("--input", args.input) if args.input else ("--shape", args.shape)
    kwargs, typed = op.command_line(args, CommandLine(args, op), layout)
    # what was typed for each argument, for an error found later against the input
    args.typed = dict(typed, X=source)
    x = load_input(args)
    if args.grad_options is not None:
        check_grad_dtype(args, x.dtype)
    return Case("cli", "pooling-xfw compare", x, kwargs, None, op.name)


class CommandLine:
    """What an operation reads its keyword arguments from (``Operation.command_line``): the
    values typed for compare's options, each checked as its option (a usage error naming it)."""

    def __init__(self, args, op):
        self.args, self.op = args, op

    def mode(self) -> str:
        return read_mode(self.args, self.op)

    def power(self, mode: str) -> float:
        return read_power(self.args, mode)

    def sizes(self, flag: str, text: str, minimum: int, example: str):
        return read_sizes(flag, text, minimum, example)

    def padding(self, text: str):
        return read_padding(text)

    def output_size(self, text: str):
        return read_output_size(text)

    def word(self, flag: str, text: str, noun: str, names) -> str:
        """One of ``names`` as typed for ``flag`` (any case)."""
        return read_word(flag, text, noun, names)

    def ceil_mode(self) -> bool | str:
        """``--ceil-mode`` (True: PyTorch's, a last window starting in the padding dropped) or
        ``--ceil-mode keep`` (kept: MXNet's 'full'); False without it."""
        value = self.args.ceil_mode
        if value in (False, True):
            return value
        if value.strip().lower() == "keep":
            return "keep"
        raise usage_error("--ceil-mode", value, "unknown ceil rule",
                          "--ceil-mode alone (a last window that would start in the padding is "
                          "dropped) or --ceil-mode keep (it is kept)")

    def divisor(self) -> tuple[int | None, str]:
        """``--divisor D`` (a non-zero int; 0 with ``--divisor-of mean``) and
        ``--divisor-of sum|mean``: (divisor, divisor_of)."""
        args = self.args
        of = (args.divisor_of or "sum").strip().lower()
        if of not in ("sum", "mean"):
            raise usage_error("--divisor-of", args.divisor_of, "unknown divisor rule",
                              "sum (the window's sum / divisor) or mean (its average x its "
                              "cells / divisor)")
        if args.divisor is None:
            if args.divisor_of is not None:
                raise usage_error("--divisor-of", args.divisor_of, "not without --divisor",
                                  "--divisor-of with --divisor")
            return None, "sum"
        allowed = "a non-zero int (0 only with --divisor-of mean)"
        value = read_int("--divisor", args.divisor, args.divisor, -(2**63) + 1, allowed)
        if value == 0 and of == "sum":
            raise usage_error("--divisor", args.divisor, "0 divides a sum", allowed)
        mode = read_mode(args, self.op)
        if mode != "avg":
            raise usage_error("--divisor", args.divisor, f"not with --mode {mode}",
                              "--divisor with --mode avg")
        return value, of


def is_case_file(text: str) -> bool:
    """``--cases``: a value with a path separator or ending in .json is a file of cases, any
    other is case names, so that a file in the working directory never stands in for a case."""
    separators = {"/", os.sep, os.altsep} - {None}
    return any(sep in text for sep in separators) or text.strip().lower().endswith(".json")


def chosen_cases(text: str | None, grad=None):
    """``--cases``'s cases, each checked before any worker starts (with ``grad``, that it has a
    backward pass: a pool2d case of a float input)."""
    from .. import cases
    from ..compare import resolve_case
    from ..reference import work_dtype

    if text is None:
        return list(cases.CHAPTER)
    if is_case_file(text):
        chosen = cases.load(text)
        for case in chosen:  # which case of the file, before any worker starts
            if grad is not None:
                check_grad_case(text, case)
            try:
                _, _, x, geometry = resolve_case(case.arguments())
                geometry.check_fits(x.shape, work_dtype(geometry.spec.mode, x.dtype))
            except (PoolingError, TypeError) as exc:
                why = "" if isinstance(exc, PoolingError) else (
                    "; allowed: pool2d's arguments, or an op beside the kwargs: 'adaptive' "
                    "(output_size, mode, layout) or 'global' (mode, p, keepdims, layout)")
                raise PoolingError(f"--cases {shlex.quote(text)}: case {case.name!r}: "
                                   f"{exc}{why}") from None
        return chosen
    known = [case.name for case in cases.CHAPTER]
    allowed = (f"{', '.join(known)}, comma-separated, or a JSON file of cases (a path with a / "
               f"or ending in .json)")
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise usage_error("--cases", text, "no case named", allowed)
    for name in names:
        if name not in known:
            here = (f" (a file by that name is here: write ./{name} to read it)"
                    if os.path.isfile(name) else did_you_mean(name, known))
            raise usage_error("--cases", text, f"unknown case {name!r}{here}", allowed)
    return [cases.by_name(name) for name in names]


def check_grad_case(text: str, case) -> None:
    """``report --grad --cases FILE``: a case with no backward pass (adaptive or global
    pooling, an integer input) is a usage error naming --grad, the file and the case."""
    why = (case.operation.no_gradient() or (
        f"its input's dtype {case.input.dtype} has no gradient"
        if case.input.dtype.kind != "f" else ""))
    if why:
        raise usage_error("--grad", None, f"not with --cases {shlex.quote(text)}: case "
                                     f"{case.name!r}: {why}",
                     "--grad with cases of op pool2d and a float16, float32 or float64 input")
