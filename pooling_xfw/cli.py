"""``pooling-xfw`` (also ``python -m pooling_xfw``): the command line.

Exit codes: 0 all agree / success, 1 a backend differs, 2 usage error, 3 a backend could not run.
Bad input never shows a traceback: one line naming the argument and what is allowed.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import errno
import functools
import math
import os
import re
import shlex
import signal
import stat
import sys
import textwrap

from . import registry
from .version import __version__
from .errors import PoolingError
from .runtime import client, envs

EXIT_OK, EXIT_DIFFER, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3


def _usage(flag: str, text, problem: str, allowed: str) -> PoolingError:
    """A usage error that echoes what was typed: ``--kernel -3: -3 is below 1; allowed: ...``
    (``flag`` empty for a positional word, ``text`` None for a switch)."""
    typed = " ".join(w for w in (flag, None if text is None else shlex.quote(str(text))) if w)
    return PoolingError(f"{typed}: {problem}; allowed: {allowed}")


def _did_you_mean(text: str, names, aliases: dict | None = None) -> str:
    """`` (did you mean pytorch?)`` for a close or well-known other name, else ``''``."""
    key = text.strip().lower()
    close = (aliases or {}).get(key) or next(
        iter(difflib.get_close_matches(key, [n.lower() for n in names], n=1)), None)
    if close is None or close not in [n.lower() for n in names]:
        return ""  # an alias of a name not allowed here (onnx, where onnxruntime is not)
    return f" (did you mean {next(n for n in names if n.lower() == close)}?)"


#: what an unknown value of a choice is called: ``--format yaml: unknown format``
_NOUNS = {"frm": "backend", "frm_a": "backend", "frm_b": "backend", "values": "value set"}


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # a value that starts with a minus is a value, not an option: --stride -1,2 is read,
        # and refused as a stride, rather than "expected one argument"
        # (and --adaptive -,3 is an output size whose H is kept, not an option)
        self._negative_number_matcher = re.compile(r"^-\d[\d,:.]*$|^-\.\d+$|^-,[\w-]*$")

    def _check_value(self, action, value):
        """An unknown choice echoed as typed, with the close name when there is one."""
        if action.choices is None or value in action.choices:
            return
        names = [str(c) for c in action.choices]
        value_is = registry.aliases().get(value, value)
        if action.dest in ("frm", "frm_a", "frm_b") and value_is in registry.targets_only():
            flag = "/".join(action.option_strings) or action.metavar
            raise _usage(flag, value, "a target only, not read as a source: "
                                      f"{value_is}: {registry.targets_only()[value_is]}",
                         ", ".join(names))
        if isinstance(action, argparse._SubParsersAction):
            flag, noun = "", action.dest  # "command" or "action"
        else:
            flag = "/".join(action.option_strings) or action.metavar or action.dest
            noun = _NOUNS.get(action.dest, action.dest)
        aliases = registry.aliases() if noun == "backend" else None
        raise _usage(flag, value, f"unknown {noun}{_did_you_mean(value, names, aliases)}",
                     ", ".join(names))

    def error(self, message):
        """One line, exit 2, behind main's one ``pooling-xfw: error:`` prefix (argparse's
        default prints the usage too, and its own prefix)."""
        commands = self._subparsers._group_actions if self._subparsers else []
        for action in commands:  # no command given: say which there are
            if message == f"the following arguments are required: {action.metavar}":
                what = "a command" if action.dest == "command" else "an action"
                context = self.prog.partition(" ")[2]
                message = (f"{context + ': ' if context else ''}{what} is required; allowed: "
                           f"{', '.join(action.choices)}")
        raise PoolingError(message)


def _backend(flag: str, typed: str, name: str, several: bool = True,
             versions: bool = True) -> str:
    """One backend name (any case) of what was typed for ``flag`` (a list when ``several``):
    ``BACKEND`` or, with ``versions``, ``BACKEND@VERSION`` (``onnxruntime@1.22.1``)."""
    name = name.strip().lower()
    backend, version = envs.split_name(name)
    allowed = (envs.allowed_names() if versions else ", ".join(registry.names())) + (
        ", comma-separated" if several else "")
    if backend not in registry.names():
        hint = _did_you_mean(backend, registry.names(), registry.aliases())
        if hint and version is not None:  # torch@2.5: did you mean pytorch@2.5?
            hint = hint.replace("?)", f"@{version}?)")
        raise _usage(flag, typed, f"unknown backend {backend!r}{hint}", allowed)
    if version is not None and not versions:
        raise _usage(flag, typed, f"{name!r}: a version is run by --backends, not here", allowed)
    problem = envs.name_problem(name)
    if problem:
        raise _usage(flag, typed, f"{name!r}: {problem}", allowed)
    return name


def _backends(text: str | None, flag: str = "--backends") -> list[str]:
    """``--backends`` / ``--to``: comma-separated names, in any case (the default ones,
    ``registry.defaults()``, when not given); ``--backends`` takes ``BACKEND@VERSION`` too."""
    if text is None:
        return list(registry.defaults())
    versions = flag == "--backends"
    names = [_backend(flag, text, name, versions=versions) for name in text.split(",")
             if name.strip()]
    if not names:
        raise _usage(flag, text, "no backend named",
                     ", ".join(registry.names()) + ", comma-separated")
    from .compare import same_backend_twice  # a name twice: refused, as the API does

    twice = same_backend_twice(names)
    if twice:
        raise _usage(flag, text, twice, "each backend and version once, comma-separated")
    return names


def _set_per_backend(flag: str, pairs: list[str] | None, example: str, apply) -> None:
    """``--python`` / ``--gateway``: repeated ``BACKEND=VALUE`` pairs, each given to ``apply``;
    ``example`` shows the form (``pytorch=/path/to/python``)."""
    for pair in pairs or []:
        backend, sep, value = pair.partition("=")
        if not sep or not value:
            form = "BACKEND=PATH" if flag == "--python" else "BACKEND=SPEC"
            raise _usage(flag, pair, f"not {form}", f"{form}, e.g. {example}")
        apply(_backend(flag, pair, backend, several=False), value)


def _example() -> str:
    """A backend's name for the examples of help and usage messages."""
    return registry.defaults()[0]


def _set_pythons(pairs: list[str]) -> None:
    _set_per_backend("--python", pairs, f"{_example()}=/opt/conda/envs/{_example()}/bin/python",
                     envs.set_interpreter)


def _set_gateways(pairs: list[str]) -> None:
    from .runtime import gateways

    _set_per_backend("--gateway", pairs, f"{_example()}=ssh=gpu-box//python=/opt/venv/bin/"
                                         f"python", gateways.set_gateway)


def _env_backends(args) -> list[str]:
    """``envs create|list|prune``: the backends named (versions too), else every known one."""
    return _backends(args.backends) if args.backends else list(registry.names())


def _envs_create(args) -> int:
    jobs = _int("--jobs", args.jobs, args.jobs, 1, "an int >= 1")
    statuses = envs.create(_env_backends(args), jobs=jobs)
    return EXIT_OK if all(s.state == "ready" for s in statuses) else EXIT_UNAVAILABLE


def _envs_list(args) -> int:
    from concurrent.futures import ThreadPoolExecutor

    names = _env_backends(args)
    if not args.backends:  # and the other versions built from these pins (BACKEND@VERSION)
        names += sorted(v.backend for v in envs.environments() if v.here and "@" in v.backend)
    with ThreadPoolExecutor(len(names)) as pool:
        statuses = list(pool.map(_inspect, names))
    print(f"environments in {envs.envs_root()} (override: POOLING_XFW_ENVS)")
    width = max(11, *(len(s.backend) for s in statuses))
    for s in statuses:
        versions = f"{s.framework_version or '-':<12} numpy {s.numpy_version or '-':<8}"
        print(f"  {s.backend:<{width}} {s.state:<8} {versions} {s.where:<14} {s.python or '-'}")
        if s.state != "ready":
            print(f"  {'':<{width}} {s.detail}" + (f"; fix: {s.fix}" if s.fix else ""))
    _print_venvs(envs.environments(names if args.backends else registry.names()))
    return EXIT_OK if all(s.state == "ready" for s in statuses) else EXIT_UNAVAILABLE


def _print_venvs(venvs) -> None:
    """Every venv in the root: its fingerprint, whether used, and which pins used it."""
    if not venvs:
        return
    print("all environments there, by fingerprint (`pooling-xfw envs prune` removes the unused "
          "and incomplete ones):")
    width = max(20, *(len(v.name) for v in venvs))
    for v in venvs:
        note = "; unkeyed: built by an earlier version" if v.unkeyed else ""
        print(f"  {v.name:<{width}} {v.fingerprint or '-':<16}  {v.state}{note}")
        for pins, day in v.used_by.items():
            why = f" ({v.still[pins]})" if v.still[pins] else ""
            print(f"  {'':<{width}} used by {pins}, last {day}{why}")


def _envs_prune(args) -> int:
    removed = envs.prune(_env_backends(args), dry_run=args.dry_run)
    if not removed:
        print(f"nothing to remove in {envs.envs_root()}")
    return EXIT_OK


def _check_envs_root(args) -> None:
    """report, compare: a backend with no interpreter yet is fixed by `envs create`; when the
    environments' directory cannot take its venv, that is the error (exit 2), said up front."""
    from .runtime import gateways

    if any(gateways.spec_for(b) is None for b in _backends(args.backends)):
        envs.check_root()


def _inspect(backend: str):
    """A backend's environment as ``envs list`` shows it; through its gateway when it runs
    on another machine (the worker's hello gives the versions and the host)."""
    from .runtime import gateways
    from .runtime.client import WorkerFailure, WorkerPool

    spec = gateways.spec_for(backend)
    if spec is None or gateways.is_local(spec):
        status = envs.inspect(backend)
        status.where = "this machine"
        return status
    with WorkerPool() as pool:
        hello = pool.start([backend])[backend]
    if isinstance(hello, WorkerFailure):
        return envs.EnvStatus(backend, "broken", spec, detail=hello.reason,
                              where=gateways.where(spec))
    return envs.EnvStatus(backend, "ready", f"{spec} ({hello.python})", hello.framework_version,
                          hello.numpy_version, where=hello.host)


# --- report and compare ----------------------------------------------------------------------
# Every flag is read here, so that an error echoes what was typed (``--kernel -3``), never the
# value as the Python API normalized it (``(-3, -3)``).

def _int(flag: str, text: str, part: str, minimum: int, allowed: str) -> int:
    """One int of ``text`` (``part`` of it), >= ``minimum`` and < 2**63 (C int64)."""
    from .spec import MAX_SIZE

    try:
        value = int(part)
    except ValueError:
        raise _usage(flag, text, f"{part!r} is not an int", allowed) from None
    if value < minimum:
        raise _usage(flag, text, f"{value} is below {minimum}", allowed)
    if value > MAX_SIZE:
        raise _usage(flag, text, f"{value} is 2**63 or more", allowed)
    return value


def _sizes(flag: str, text: str, minimum: int, example: str):
    """``--kernel`` / ``--stride`` / ``--dilation``: ``3`` -> 3, ``2,3`` -> (2, 3)."""
    allowed = f"an int >= {minimum} and < 2**63, or two as h,w (e.g. {example})"
    parts = text.split(",")
    if len(parts) > 2:
        raise _usage(flag, text, f"{len(parts)} values", allowed)
    values = tuple(_int(flag, text, part, minimum, allowed) for part in parts)
    return values[0] if len(values) == 1 else values


def _padding(text: str):
    """``1``, ``1,2``, ``2:0,0:1`` (top:bottom,left:right; either axis may be one int) or a
    padding name."""
    from .spec import PADDING_STRINGS

    if text.strip().lower() in PADDING_STRINGS:
        return text.strip().lower()
    allowed = ("an int >= 0, ph,pw, top:bottom,left:right (e.g. 2:0,0:1), same, same_lower or "
               "valid")
    parts = text.split(",")
    if len(parts) > 2:
        raise _usage("--padding", text, f"{len(parts)} values", allowed)
    axes = []
    for part in parts:
        pads = part.split(":")
        if len(pads) > 2:
            raise _usage("--padding", text, f"{part!r} is not before:after", allowed)
        pads = tuple(_int("--padding", text, v, 0, allowed) for v in pads)
        axes.append(pads if len(pads) == 2 else pads[0])
    if len(axes) == 1:
        if isinstance(axes[0], tuple):
            raise _usage("--padding", text, "before:after of one axis only", allowed)
        return axes[0]
    if any(isinstance(a, tuple) for a in axes):
        return tuple(a if isinstance(a, tuple) else (a, a) for a in axes)
    return tuple(axes)


def _number(flag: str, text: str) -> float:
    """``--p``: a finite number > 0."""
    allowed = "a finite number > 0 (the power of lp pooling)"
    try:
        value = float(text)
    except ValueError:
        raise _usage(flag, text, f"{text!r} is not a number", allowed) from None
    if not math.isfinite(value):
        raise _usage(flag, text, "not finite", allowed)
    if value <= 0:
        raise _usage(flag, text, "not > 0", allowed)
    return value


def _word(flag: str, text: str, noun: str, names, fold=str.lower) -> str:
    """``--mode`` / ``--layout``: one of ``names``, in any case."""
    if fold(text.strip()) in names:
        return fold(text.strip())
    raise _usage(flag, text, f"unknown {noun}{_did_you_mean(text, names)}", ", ".join(names))


def _shape(flag: str, text: str) -> tuple[int, ...]:
    """``--shape``: 2 to 4 sizes >= 1 (whether an input of that shape fits in memory is for
    the command to say: ``_check_fits``, with what it would make)."""
    allowed = ("2 to 4 sizes >= 1, comma-separated: H,W, C,H,W or N,C,H,W (H,W,C or N,H,W,C "
               "for NHWC), e.g. 1,3,8,8")
    if not text.strip():
        raise _usage(flag, text, "empty", allowed)
    shape = []
    for part in text.split(","):
        try:
            shape.append(int(part))
        except ValueError:
            raise _usage(flag, text, f"{part!r} is not an int", allowed) from None
    shape = tuple(shape)
    if not 2 <= len(shape) <= 4:
        raise _usage(flag, text, f"{len(shape)} size{'s' if len(shape) != 1 else ''}", allowed)
    for size in shape:
        if size < 1:
            raise _usage(flag, text, f"{size} is below 1", allowed)
    return shape


def _check_fits(flag: str, text: str, cells: int, what: str, bytes_per_cell: int) -> None:
    """Refuse (one line naming ``flag``, with the bytes) an array of ``cells`` cells that would
    take more than this machine's memory to make, ``bytes_per_cell`` each (temporaries
    included): it would fail half-made, or take the machine down, not pool."""
    from .spec import format_bytes, memory_limit

    need, limit = cells * bytes_per_cell, memory_limit()
    if need > limit:
        raise _usage(flag, text, f"{what} would need {format_bytes(need)}, more than this "
                                 f"machine's memory ({format_bytes(limit)})",
                     "a shape whose input fits in memory")


_NPY_MAGIC = b"\x93NUMPY"


def _read_npy(path: str):
    """The array in a .npy file, pickles refused; one line naming --input otherwise."""
    import numpy as np

    def refuse(why: str) -> PoolingError:
        return _usage("--input", path, f"cannot read it as a .npy array without pickles ({why})",
                      "a numeric .npy file")

    from .files import NotRegular, open_regular
    from .spec import format_bytes, memory_limit

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


def _load_input(args):
    import math

    import numpy as np

    if args.input:
        return _read_npy(args.input)
    shape = _shape("--shape", args.shape)
    seed = _int("--seed", args.seed, args.seed, 0, "an int >= 0")
    unsigned = np.dtype(args.dtype).kind == "u"
    chosen = args.values or ("arange" if unsigned else "randn")
    if unsigned and chosen != "arange":  # a cast would wrap them around: not the input asked
        raise PoolingError(f"--values {chosen} --dtype {args.dtype}: {chosen} makes negative "
                           f"values, which {args.dtype} cannot hold; allowed: --values arange "
                           f"with an unsigned --dtype, or a signed or float --dtype")
    itemsize = np.dtype(args.dtype).itemsize  # made in float64 (int64 for arange), then cast
    _check_fits("--shape", args.shape, math.prod(shape),
               f"the {' x '.join(map(str, shape))} {args.dtype} input ({chosen}, made in "
               f"{'int64' if chosen == 'arange' else 'float64'})",
               itemsize + (16 if chosen == "negative" else 8))
    from .cases import generate

    return generate(shape, chosen, seed, args.dtype)


def _ops_allowed() -> str:
    """The operations' options, as a usage error's "allowed": one of them."""
    from . import ops

    each = [f"{op.flag}{' ' + op.flag_value if op.flag_value else ''} "
            f"({op.flag_meaning or op.title})" for op in ops.OPERATIONS]
    return "one of " + ", ".join(each[:-1]) + f" or {each[-1]}"


#: the options of pooling with a window: what an operation without one does not take
_WINDOW_OPTIONS = (("--stride", "stride"), ("--padding", "padding"),
                   ("--dilation", "dilation"), ("--ceil-mode", "ceil_mode"),
                   ("--exclude-pad", "exclude_pad"))


def _typed(flag: str, value) -> tuple[str, str | None]:
    """(flag, text as typed) of an option given on the command line (text None: a switch)."""
    return flag, value if isinstance(value, str) else None


def _operation(args):
    """compare's operation (``pooling_xfw.ops``), from the one option given of those that
    choose one (--kernel, --adaptive, --global); another operation's options beside it are a
    usage error naming both."""
    from . import ops

    given = {op: _typed(op.flag, getattr(args, _dest(op.flag)) or None)
             for op in ops.OPERATIONS if getattr(args, _dest(op.flag)) not in (None, False)}
    if not given:
        raise PoolingError(f"{', '.join(op.flag for op in ops.OPERATIONS[:-1])} or "
                           f"{ops.OPERATIONS[-1].flag} is required; allowed: {_ops_allowed()}")
    (op, (flag, text)), *others = given.items()
    if others:
        other, other_text = others[0][1]
        raise _usage(other, other_text, f"not with {_shown(flag, text)}: one operation per "
                                        f"compare", _ops_allowed())
    windowed = " or ".join(o.flag for o in ops.OPERATIONS if o.has_window)
    if not op.has_window:
        for option, dest in _WINDOW_OPTIONS:
            value = getattr(args, dest)
            if value not in (None, False):
                raise _usage(option, value if isinstance(value, str) else None,
                             f"not with {_shown(flag, text)}: {op.name} pooling has no window",
                             f"{op.options} with {flag}; --stride, --padding, --dilation, "
                             f"--ceil-mode and --exclude-pad with {windowed}")
    if "lp" not in op.modes and args.p is not None:
        with_lp = " or ".join(o.flag for o in ops.OPERATIONS if "lp" in o.modes)
        raise _usage("--p", args.p, f"not with {_shown(flag, text)}: {op.name} pooling has no "
                                    f"lp mode", f"--p with {with_lp}, and --mode lp")
    if not op.drops_axes and args.keepdims is not None:
        switch = "--keepdims" if args.keepdims else "--no-keepdims"
        droppers = [o for o in ops.OPERATIONS if o.drops_axes]
        raise _usage(switch, None, f"not with {_shown(flag, text)}: only "
                                   f"{' or '.join(o.name for o in droppers)} pooling drops H "
                                   f"and W", f"{switch} with "
                                             f"{' or '.join(o.flag for o in droppers)}")
    return op


def _shown(flag: str, text: str | None) -> str:
    """An option as typed: ``--adaptive 3,4``, ``--global``."""
    return flag if text is None else f"{flag} {shlex.quote(text)}"


#: what --adaptive takes
_OUTPUT_SIZE_ALLOWED = ("an int >= 0 (both axes), or h,w, each an int >= 0 or - (None, or "
                        "nothing, also keeps that axis's input size), e.g. 7, 3,4 or -,3")


def _output_size(text: str):
    """``--adaptive``: ``7`` -> 7, ``3,4`` -> (3, 4), ``-,3`` / ``None,3`` / ``,3`` -> (None, 3)."""
    parts = text.split(",")
    if len(parts) > 2:
        raise _usage("--adaptive", text, f"{len(parts)} values", _OUTPUT_SIZE_ALLOWED)
    if len(parts) == 1 and parts[0].strip().lower() in ("", "-", "none"):
        raise _usage("--adaptive", text, "no output size", _OUTPUT_SIZE_ALLOWED)
    sizes = tuple(None if part.strip().lower() in ("", "-", "none") else
                  _int("--adaptive", text, part, 0, _OUTPUT_SIZE_ALLOWED) for part in parts)
    return sizes[0] if len(sizes) == 1 else sizes


def _mode_of(args, op) -> str:
    """``--mode`` for the operation ``op``: one of its modes."""
    from . import ops

    names, every = op.modes, {m for o in ops.OPERATIONS for m in o.modes}
    if args.mode.strip().lower() in every and args.mode.strip().lower() not in names:
        raise _usage("--mode", args.mode, f"not a mode of {op.flag}",
                     f"{', '.join(names)} with {op.flag}")
    return _word("--mode", args.mode, "mode", names)


def _grad_options(args, op=None, op_flag: tuple[str, str | None] | None = None):
    """``--grad``, ``--ties``, ``--grad-output`` (and report's ``--seed``) as the report's
    ``GradOptions``, or None without ``--grad``; each refused where it means nothing: ``--ties``
    or ``--grad-output`` without ``--grad``, ``--grad`` with an operation that has no gradient
    (``op_flag``: that operation's option as typed)."""
    from .report import GradOptions

    for flag, value in (("--ties", args.ties), ("--grad-output", args.grad_output)):
        if value is not None and not args.grad:
            raise _usage(flag, value, "not without --grad: it is an option of the backward pass",
                         f"{flag} with --grad")
    report_seed = getattr(args, "report_seed", None)
    if report_seed is not None and not (args.grad and args.grad_output is not None and
                                        args.grad_output.strip().lower() == "randn"):
        raise _usage("--seed", report_seed, "not without --grad --grad-output randn: a "
                                            "report's inputs are its cases'",
                     "--seed with --grad --grad-output randn")
    if not args.grad:
        return None
    if op is not None and not op.has_gradient:
        from . import ops

        raise _usage("--grad", None, f"not with {_shown(*op_flag)}: {op.no_gradient()}",
                     "--grad with " + " or ".join(o.flag for o in ops.OPERATIONS
                                                  if o.has_gradient))
    ties = _word("--ties", args.ties or "first", "ties rule", ("first", "split", "all"))
    upstream = _word("--grad-output", args.grad_output or "ones", "upstream gradient",
                     ("ones", "randn"))
    seed_text = report_seed if report_seed is not None else getattr(args, "seed", "0")
    seed = _int("--seed", seed_text, seed_text, 0, "an int >= 0")
    return GradOptions(ties, upstream, seed)


def _check_grad_dtype(args, dtype) -> None:
    """``--grad`` needs a float input: a usage error naming ``--grad`` and where the input's
    dtype came from (``--dtype`` or ``--input``)."""
    import numpy as np

    if np.dtype(dtype).kind == "f":
        return
    where = (f"--input {shlex.quote(args.input)} (dtype {np.dtype(dtype)})" if args.input
             else f"--dtype {args.dtype}")
    raise _usage("--grad", None, f"not with {where}: a gradient needs a float input",
                 "--grad with a float16, float32 or float64 input" + (
                     "" if args.input else " (--dtype float16|float32|float64)"))


def _power(args, mode: str) -> float:
    """``--p`` (default 2): lp pooling's power, refused beside another mode, which has none."""
    if args.p is not None and mode != "lp":
        raise _usage("--p", args.p, f"not with --mode {mode}: p is the power of lp pooling",
                     "--p with --mode lp")
    return _number("--p", args.p if args.p is not None else "2")


def _single_case(args):
    from .cases import Case
    from .spec import LAYOUTS

    op = _operation(args)
    op_flag = _typed(op.flag, getattr(args, _dest(op.flag)) or None)
    args.grad_options = _grad_options(args, op, op_flag)
    if args.grad_options is not None and not args.input:
        _check_grad_dtype(args, args.dtype)
    layout = _word("--layout", args.layout, "layout", LAYOUTS, str.upper)
    source = ("--input", args.input) if args.input else ("--shape", args.shape)
    kwargs, typed = op.command_line(args, _CommandLine(args, op), layout)
    # what was typed for each argument, for an error found later against the input
    args.typed = dict(typed, X=source)
    x = _load_input(args)
    if args.grad_options is not None:
        _check_grad_dtype(args, x.dtype)
    return Case("cli", "pooling-xfw compare", x, kwargs, None, op.name)


class _CommandLine:
    """What an operation reads its keyword arguments from (``Operation.command_line``): the
    values typed for compare's options, each checked as its option (a usage error naming it)."""

    def __init__(self, args, op):
        self.args, self.op = args, op

    def mode(self) -> str:
        return _mode_of(self.args, self.op)

    def power(self, mode: str) -> float:
        return _power(self.args, mode)

    def sizes(self, flag: str, text: str, minimum: int, example: str):
        return _sizes(flag, text, minimum, example)

    def padding(self, text: str):
        return _padding(text)

    def output_size(self, text: str):
        return _output_size(text)


def _echo_typed(message: str, typed: dict) -> str:
    """A pool2d argument's error (``pool_size: got kernel 9 ...; allowed: ...``) as the flag
    typed for it (``--kernel 9: got kernel 9 ...``); the argument's own normalized value before
    what is wrong (``padding: got 9; the padded input would need ...``) is dropped: the typed
    text says it."""
    name, _, rest = message.partition(": ")
    if name not in typed:
        return message
    flag, text = typed[name]
    if rest.startswith("got "):
        value, sep, tail = rest[4:].partition("; ")
        if sep and not tail.startswith("allowed:") and _is_value(value):
            rest = tail
    return f"{flag}{'' if text is None else ' ' + shlex.quote(str(text))}: {rest}"


def _is_value(text: str) -> bool:
    """Is ``text`` a value as the API printed it (``(3, 3)``, ``True``, ``<float32 array ...>``)
    rather than words about it (``kernel 9 with dilation 1 ...``)?"""
    if text.startswith("<") and text.endswith(">"):
        return True
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return False
    return True


def _is_case_file(text: str) -> bool:
    """``--cases``: a value with a path separator or ending in .json is a file of cases, any
    other is case names, so that a file in the working directory never stands in for a case."""
    separators = {"/", os.sep, os.altsep} - {None}
    return any(sep in text for sep in separators) or text.strip().lower().endswith(".json")


def _chosen_cases(text: str | None, grad=None):
    """``--cases``'s cases, each checked before any worker starts (with ``grad``, that it has a
    backward pass: a pool2d case of a float input)."""
    from . import cases
    from .compare import resolve_case
    from .reference import work_dtype

    if text is None:
        return list(cases.CHAPTER)
    if _is_case_file(text):
        chosen = cases.load(text)
        for case in chosen:  # which case of the file, before any worker starts
            if grad is not None:
                _check_grad_case(text, case)
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
        raise _usage("--cases", text, "no case named", allowed)
    for name in names:
        if name not in known:
            here = (f" (a file by that name is here: write ./{name} to read it)"
                    if os.path.isfile(name) else _did_you_mean(name, known))
            raise _usage("--cases", text, f"unknown case {name!r}{here}", allowed)
    return [cases.by_name(name) for name in names]


def _check_grad_case(text: str, case) -> None:
    """``report --grad --cases FILE``: a case with no backward pass (adaptive or global
    pooling, an integer input) is a usage error naming --grad, the file and the case."""
    why = (case.operation.no_gradient() or (
        f"its input's dtype {case.input.dtype} has no gradient"
        if case.input.dtype.kind != "f" else ""))
    if why:
        raise _usage("--grad", None, f"not with --cases {shlex.quote(text)}: case "
                                     f"{case.name!r}: {why}",
                     "--grad with cases of op pool2d and a float16, float32 or float64 input")


def _emit(args, cases, grad=None) -> int:
    from . import report
    from .runtime.client import log

    if args.output is not None:
        report.check_writable(args.output)
        given = getattr(args, "input", None)
        if given and os.path.exists(args.output) and os.path.samefile(args.output, given):
            raise _usage("--output", args.output, "the file --input reads: it would be replaced "
                                                  "by the report", "another file")
    doc = report.build(cases, _backends(args.backends), progress=log, grad=grad)
    color = (args.output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    text = report.render(doc, args.format, verbose=args.verbose, color=color)
    if args.output is not None:
        report.write(text, args.output)
        log(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return doc["summary"]["exit_code"]


def _report(args) -> int:
    grad = _grad_options(args)
    return _emit(args, _chosen_cases(args.cases, grad), grad)


def _compare(args) -> int:
    case = _single_case(args)
    run = lambda: _emit(args, [case], args.grad_options)  # noqa: E731
    for backend, option in _options(args):
        if getattr(args, _dest(option.flag)) is not None:
            run = functools.partial(_writing_into, args, backend, option, run)
    return run()


def _options(args=None):
    """Each backend's own options (``Backend.options``), with the backend."""
    return [(b, option) for b in registry.backends() for option in b.options]


def _dest(flag: str) -> str:
    """The attribute argparse keeps an option's value in: ``--save-onnx`` -> ``save_onnx``."""
    return flag.lstrip("-").replace("-", "_")


def _writing_into(args, backend, option, run) -> int:
    """A backend's folder option (``--save-onnx DIR``): its worker writes into the folder
    (named in its environment, ``option.variable``), then each file this run wrote there is
    named on stderr."""
    from .runtime.client import log

    typed = getattr(args, _dest(option.flag))
    if backend.name not in map(envs.framework_of, _backends(args.backends)):
        raise _usage(option.flag, typed, f"no {backend.name} backend to write for",
                     f"with --backends naming {backend.name}")
    folder = _writable_folder(option.flag, typed)
    before = _files_in(folder)
    os.environ[option.variable] = str(folder.resolve())
    try:
        code = run()
    finally:
        os.environ.pop(option.variable, None)
    after = _files_in(folder)
    for name in sorted(n for n in after if n.endswith(option.suffix) and after[n] != before.get(n)):
        log(f"wrote {shlex.quote(str(folder / name))}")  # this run's, new or replaced
    return code


def _files_in(folder) -> dict:
    """Each entry of ``folder`` with what tells a rewrite (inode, size, modification time), not
    following links: a model this run writes is new or replaced."""
    found = {}
    for entry in os.scandir(folder):
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            found[entry.name] = (info.st_ino, info.st_size, info.st_mtime_ns)
    return found


def _writable_folder(flag: str, text: str):
    """A directory files can be written to, made if it is missing (in an existing directory):
    a usage error naming ``flag`` and what is wrong otherwise (empty, a file, a symlink loop or
    to nowhere, a parent that is missing or a file, a place that takes no directories)."""
    import errno
    import tempfile
    from pathlib import Path

    allowed = "a directory, or one to create in an existing directory"
    if not text.strip():
        raise _usage(flag, text, "empty", allowed)
    folder = Path(text).expanduser()
    try:
        os.stat(folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _usage(flag, text, "a symlink loop", allowed) from None
        if folder.is_symlink():
            raise _usage(flag, text, f"a symlink to {os.readlink(folder)}, which does not exist",
                         allowed) from None
    if folder.exists() and not folder.is_dir():
        raise _usage(flag, text, "not a directory", allowed)
    if not folder.exists():
        parent = folder.parent
        if not parent.is_dir():
            raise _usage(flag, text, f"{parent} " + ("is not a directory" if parent.exists()
                                                     else "does not exist"), allowed)
        try:
            folder.mkdir()
        except FileExistsError:
            pass  # made meanwhile
        except OSError as exc:
            raise _usage(flag, text, f"cannot be made ({exc.strerror or exc})", allowed) from None
    try:  # the permission bits do not tell (root, read-only mounts, /proc)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise _usage(flag, text, f"cannot write a file in it ({exc.strerror or exc})",
                     allowed) from None
    return folder


def _could_not_run(unrun: dict[str, str], consequence: str) -> int:
    """Exit 3 with one line on stderr naming each backend that could not run and why, and what
    that leaves (``consequence``); exit 0 when ``unrun`` is empty."""
    if not unrun:
        return EXIT_OK
    why = "; ".join(f"{name} ({' '.join(reason.split())})" for name, reason in unrun.items())
    print(f"pooling-xfw: could not run {why}: {consequence}", file=sys.stderr)
    return EXIT_UNAVAILABLE


def _conventions(args) -> int:
    from pathlib import Path

    from . import conventions
    from .runtime.client import log

    backends = _backends(args.backends)
    page = Path(__file__).resolve().parents[1] / "docs" / "conventions.md"
    shown = "docs/conventions.md"
    if args.update_docs and backends != list(registry.defaults()):
        raise PoolingError(f"--update-docs: got --backends {args.backends}; allowed: every "
                           f"backend ({', '.join(registry.defaults())}, the default): the docs' "
                           f"table has a column for each; {shown} not written")
    if args.update_docs and not page.is_file():
        raise PoolingError(f"--update-docs: {shown} is not here; allowed: in a checkout of "
                           f"pooling-xfw (the docs are not installed)")
    rows = conventions.measure(backends=backends)
    text = conventions.markdown(rows, backends)
    # a gradient that does not exist (no autograd) is measured, not a backend that did not run
    unrun = conventions.could_not_run(rows)
    if not args.update_docs:
        sys.stdout.write(text)
        return _could_not_run(unrun, "the table is incomplete")
    if unrun:
        return _could_not_run(unrun, f"the table would be incomplete; {shown} not written")
    changed = conventions.update_page(page, text)
    backends_page = page.with_name("backends.md")
    changed_too = conventions.update_page(backends_page, registry.markdown(),
                                          conventions.BACKENDS_START, conventions.BACKENDS_END)
    log(f"{shown} {'updated' if changed else 'already current'}; docs/backends.md "
        f"{'updated' if changed_too else 'already current'}")
    return EXIT_OK


def _translate(args) -> int:
    import math

    from .porting import translate

    shape = _shape("--shape", args.shape)
    if args.no_verify:  # rendered for the shape, nothing made: any shape numpy can index
        if math.prod(shape) >= 2**63:
            raise _usage("--shape", args.shape, f"{math.prod(shape)} cells, 2**63 or more",
                         "2 to 4 sizes whose product is < 2**63 (C int64)")
    else:  # a random float32 input, made in float64, and run in every framework
        _check_fits("--shape", args.shape, math.prod(shape),
                   f"the random {' x '.join(map(str, shape))} float32 input (made in float64)",
                   20)
    result = translate(args.call, args.frm, shape,
                       to=_backends(args.to, "--to") if args.to is not None else None,
                       verify=not args.no_verify)
    sys.stdout.write(result.to_text())
    # the backward pass counts like the forward one: a gradient that differs alone exits 1
    checks = [t.check for t in result.targets.values()]
    checks += [t.grad_check for t in result.targets.values() if t.grad_check
               and not t.grad_check.startswith("not compared")]  # none by design: nothing to run
    source = result.source_check
    # a call translated as written (a tf.pad with zeros) is not the spec it names: said in the
    # note, and every target pads as it does; its difference from the spec decides nothing
    told = result.constant_pad is not None and source.startswith("DIFFERS")
    if any(c.startswith("DIFFERS") for c in checks) or (source.startswith("DIFFERS")
                                                         and not told):
        return EXIT_DIFFER
    if args.no_verify or (all(c.startswith("agrees") for c in checks)
                          and (source.startswith("agrees") or told)):
        return EXIT_OK
    return EXIT_UNAVAILABLE


def _explain(args) -> int:
    from .porting import explain

    result = explain(args.call_a, args.frm_a, args.call_b, args.frm_b,
                     shape=_shape("--shape", args.shape) if args.shape else None,
                     verify=not args.no_verify)
    sys.stdout.write(result.to_text())
    incomplete = _could_not_run(result.unrun, "the witness was not run")
    # a gradient routed otherwise on ties exits 1 too: the same outputs, another training
    return EXIT_DIFFER if not (result.equivalent and getattr(result, "grad_equivalent", True)) \
        else incomplete


def _scan(args) -> int:
    from . import report
    from .porting.scan import DEFAULT_SHAPE, python_files, scan

    if not os.path.exists(args.path):
        what = "no such file or directory"
        if os.path.islink(args.path):  # a link to nowhere, or a loop
            try:
                os.stat(args.path)
            except OSError as exc:
                what = ("a symlink loop" if exc.errno == errno.ELOOP else
                        f"a symlink to {os.readlink(args.path)}, which does not exist")
        raise _usage("PATH", args.path, what, "a .py file or a directory")
    shape = _shape("--shape", args.shape) if args.shape else DEFAULT_SHAPE
    if len(shape) != 4:
        raise _usage("--shape", args.shape, f"{len(shape)} sizes",
                     "N,C,H,W, e.g. 1,3,32,32 (an NHWC call gets it as N,H,W,C)")
    if args.verify:
        _check_fits("--shape", args.shape, math.prod(shape), "the random float32 input", 20)
    if args.output is not None:
        report.check_writable(args.output)
    python_files(args.path)
    result = scan(args.path, to=_backends(args.to, "--to") if args.to is not None else None,
                  shape=shape, verify=args.verify)
    text = {"text": result.to_text, "markdown": result.to_markdown,
            "json": result.to_json}[args.format]()
    if args.output is not None:
        report.write(text, args.output)
    else:
        sys.stdout.write(text)
    if not result.portable:
        return EXIT_DIFFER
    return _could_not_run(result.unrun, "the scan's verification is incomplete")


def _audit_chapter(args) -> int:
    from . import report
    from .porting import chapter

    if args.output is not None:
        report.check_writable(args.output)
    text, unrun = chapter.run_audit()
    if args.output is not None:
        report.write(text, args.output)
    else:
        sys.stdout.write(text)
    return _could_not_run(unrun, "the audit is incomplete")


_VERSION_HELP = (", each maybe with a version other than the pinned one, BACKEND@VERSION "
                 "(its own environment and column)")
_BACKENDS_HELP = ("comma-separated names of " + ", ".join(registry.names()) + _VERSION_HELP +
                  " (default: " + ", ".join(registry.defaults()) + ")")

_ENV_BACKENDS_HELP = ("comma-separated names of " + ", ".join(registry.names()) +
                      _VERSION_HELP + " (default: all of them at their pinned versions)")

_DESCRIPTION = textwrap.fill(
    f"2-D pooling compared across the default backends ({', '.join(registry.defaults())}): each "
    f"framework runs in its own environment and is checked against one numpy reference, which "
    f"states every convention.", 92) + """

exit codes: 0 every backend agrees (or the command succeeded), 1 a backend differs,
2 usage error (one line naming the argument), 3 a backend could not run.
Also runs as: python -m pooling_xfw"""


def _grad_arguments(parser, seed: bool = False) -> None:
    """The backward pass's options (``report`` gets its own ``--seed`` for randn)."""
    parser.add_argument("--grad", action="store_true",
                        help="compare the backward pass too: each framework's autograd gradient "
                             "with respect to the input against px.pool2d_grad (exit 1 when one "
                             "differs)")
    parser.add_argument("--ties", help="with --grad: where a max/min window's gradient goes "
                                       "among equal extremes: first (default; every "
                                       "framework's pooling op), split or all")
    parser.add_argument("--grad-output", metavar="ones|randn",
                        help="with --grad: the upstream gradient, ones (default) or randn "
                             "(normal noise of --seed, on a stream of its own)")
    if seed:
        parser.add_argument("--seed", dest="report_seed",
                            help="with --grad --grad-output randn: its seed (default: 0)")


def _output_options(parser) -> None:
    parser.add_argument("--format", choices=("text", "markdown", "json", "html"), default="text",
                        help="text (default), markdown, json or html (one self-contained page)")
    parser.add_argument("--output", metavar="FILE", help="write here (atomically), not stdout")
    parser.add_argument("--backends", help=_BACKENDS_HELP)
    parser.add_argument("--verbose", action="store_true",
                        help="show each backend's calls and the differing positions")


def build_parser() -> argparse.ArgumentParser:
    from . import ops
    from .porting.recipes import recipes

    parser = _Parser(prog="pooling-xfw", description=_DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"pooling-xfw {__version__}",
                        help="print the name and version, then exit")
    parser.add_argument("--python", action="append", metavar="BACKEND=PATH",
                        help="run BACKEND with this interpreter (also POOLING_XFW_PYTHON_<BACKEND>)")
    parser.add_argument("--gateway", action="append", metavar="BACKEND=SPEC",
                        help=f"run BACKEND's worker through an execnet gateway, e.g. "
                             f"{_example()}=ssh=gpu-box//python=/opt/venv/bin/python or "
                             f"{_example()}=socket=127.0.0.1:8888 (also "
                             f"POOLING_XFW_GATEWAY_<BACKEND>)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                title="commands", metavar="COMMAND",
                                help="pooling-xfw COMMAND --help shows its options")
    env = sub.add_parser("envs", help="create, list or prune the per-backend environments",
                         description="The venv each framework runs in, one per backend.")
    env_sub = env.add_subparsers(dest="action", required=True, parser_class=_Parser,
                                 title="actions", metavar="ACTION",
                                 help="pooling-xfw envs ACTION --help shows its options")
    create = env_sub.add_parser("create", help="build missing or outdated environments",
                                description="Build the missing or outdated environments, in "
                                            "parallel, with progress.")
    create.add_argument("--backends", help=_ENV_BACKENDS_HELP)
    create.add_argument("--jobs", default="4",
                        help="environments built at once (default: 4)")
    create.set_defaults(run=_envs_create)
    listing = env_sub.add_parser("list", help="show each backend's interpreter and versions",
                                 description="Each backend's interpreter, framework and numpy "
                                             "version, host and state, and the fix when it is "
                                             "not ready.")
    listing.add_argument("--backends", help=_ENV_BACKENDS_HELP)
    listing.set_defaults(run=_envs_list)
    prune = env_sub.add_parser("prune", help="remove environments no checkout uses any more",
                               description="Remove the environments that no checkout recorded "
                                           "as using them still selects, and unfinished "
                                           "builds; one in use is kept.")
    prune.add_argument("--backends", help=_ENV_BACKENDS_HELP)
    prune.add_argument("--dry-run", action="store_true", help="say what would be removed")
    prune.set_defaults(run=_envs_prune)

    rep = sub.add_parser("report", help="the chapter's examples (or --cases) on every backend",
                         description="Run the chapter's examples (or the cases named by --cases) "
                                     "on every backend and compare each with the reference.")
    _output_options(rep)
    rep.add_argument("--cases", metavar="NAMES|FILE",
                     help="the chapter's cases by name, comma-separated (default: all), or a JSON "
                          "file of cases: a value with a / or ending in .json is a file (write "
                          "./NAME for a file named otherwise)")
    _grad_arguments(rep, seed=True)
    rep.set_defaults(run=_report)

    cmp_ = sub.add_parser("compare", help="one case from the command line on every backend",
                          description="Pool one input (a .npy file or a generated array) on "
                                      "every backend and compare each with the reference.")
    _output_options(cmp_)
    source = cmp_.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", metavar="X.npy", help="input array (.npy, pickles refused)")
    source.add_argument("--shape", help="make an input of this shape, e.g. 1,3,8,8")
    cmp_.add_argument("--values", choices=("arange", "randn", "negative"),
                      help="the generated input: 0, 1, 2, ...; normal noise; or all negative "
                           "(default: randn; arange for an unsigned --dtype, which holds no "
                           "negative values)")
    cmp_.add_argument("--seed", default="0", help="seed of randn and negative (default: 0)")
    cmp_.add_argument("--dtype", default="float32",
                      choices=("float16", "float32", "float64", "int32", "int64", "uint8"),
                      help="dtype of the generated input (default: float32)")
    cmp_.add_argument("--mode", default="max", help="; ".join(
        f"{', '.join(op.modes)} with {op.flag}" for op in ops.OPERATIONS) + " (default: max)")
    flags = ", ".join(op.flag for op in ops.OPERATIONS)
    for op in ops.OPERATIONS:
        kind = dict(metavar=op.metavar or None) if op.flag_value else dict(action="store_true")
        cmp_.add_argument(op.flag, dest=_dest(op.flag), help=f"{op.flag_help} (one of {flags} "
                                                               f"is required)", **kind)
    cmp_.add_argument("--keepdims", action=argparse.BooleanOptionalAction,
                      help="with --global: keep H and W as axes of size 1 (default), or drop "
                           "them (--no-keepdims)")
    cmp_.add_argument("--stride", help="3 or 2,3 (default: the window, as the layers do)")
    cmp_.add_argument("--padding",
                      help="1, 1,2, top:bottom,left:right (2:0,0:1), same, same_lower, valid "
                           "(default: 0)")
    cmp_.add_argument("--dilation", help="3 or 2,3 (default: 1)")
    cmp_.add_argument("--ceil-mode", action="store_true",
                      help="keep a last partial window (dropped when it would start in the "
                           "padding)")
    cmp_.add_argument("--exclude-pad", action="store_true",
                      help="avg divides by real cells only (count_include_pad=False)")
    cmp_.add_argument("--layout", default="NCHW", help="NCHW (default) or NHWC")
    cmp_.add_argument("--p", help="power of lp pooling (default: 2)")
    for _, option in _options():
        cmp_.add_argument(option.flag, metavar=option.metavar, help=option.help)
    _grad_arguments(cmp_)
    cmp_.set_defaults(run=_compare)

    tr = sub.add_parser("translate", help="a framework's own pooling call, in every framework",
                        description="Read a framework's own pooling call with that framework's "
                                    "defaults, show the code that gives the same numbers in "
                                    "every framework, and check it by running them.")
    tr.add_argument("call", help="the call as you write it, e.g. \"nn.MaxPool2d(3, stride=2)\"")
    tr.add_argument("--from", dest="frm", required=True, choices=registry.porting_sources(),
                    type=str.lower,
                    help="the call's framework")
    tr.add_argument("--shape", required=True, help="input shape in the call's layout, e.g. 1,8,8,3")
    tr.add_argument("--to", help=f"comma-separated targets among {', '.join(registry.names())} "
                                 f"(default: {', '.join(registry.defaults())})")
    tr.add_argument("--no-verify", action="store_true", help="render only; run nothing")
    tr.set_defaults(run=_translate)

    ex = sub.add_parser("explain", help="are two native calls equivalent? why not?",
                        description="Are two frameworks' own pooling calls equivalent?  If "
                                    "not, each cause, and the smallest input that shows it.")
    ex.add_argument("frm_a", metavar="FRAMEWORK_A", choices=registry.porting_sources(), type=str.lower,
                    help=f"the first call's framework: {', '.join(registry.porting_sources())}")
    ex.add_argument("call_a", metavar="CALL_A", help="the first call, as you write it")
    ex.add_argument("frm_b", metavar="FRAMEWORK_B", choices=(*registry.porting_sources(), "recipe"),
                    type=str.lower, help="the second call's framework, or 'recipe': CALL_B "
                                         "names a known broken port of A's adaptive pooling")
    ex.add_argument("call_b", metavar="CALL_B", help="the second call, as you write it (or a "
                                                     f"recipe: {', '.join(recipes())})")
    ex.add_argument("--shape", help="judge for this input shape (A's layout); default: all "
                                    "H, W in 1..9")
    ex.add_argument("--no-verify", action="store_true",
                    help="show the witness by the neutral semantics; run no framework")
    ex.set_defaults(run=_explain)

    au = sub.add_parser("audit-chapter", help="every tab of the chapter, as written, audited",
                        description="Every tab of the chapter, run as written, against the "
                                    "chapter's first tab and the reference, and the historical "
                                    "d2l-en 1270/1271 ports.")
    au.add_argument("--output", metavar="FILE", help="write here (atomically), not stdout")
    au.set_defaults(run=_audit_chapter)

    sc = sub.add_parser("scan", help="every pooling call in a file or tree, as a porting worklist",
                        description="Find every pooling call of the frameworks read in a file "
                                    "or a tree (read with ast, never executed), each read with "
                                    "its file's imports: per call the neutral spec, per target "
                                    "the verdict and the code, and a summary.  Exit 0 when "
                                    "every call is understood and native or emulated in every "
                                    "target, 1 otherwise, 3 when --verify could not run a "
                                    "framework.")
    sc.add_argument("path", metavar="PATH", help="a .py file or a directory")
    sc.add_argument("--to", help=f"comma-separated targets among {', '.join(registry.names())} "
                                 f"(default: every default backend but the call's own)")
    sc.add_argument("--shape", help="input N,C,H,W the verdicts are judged for (an NHWC call "
                                    "gets N,H,W,C; default: 1,3,32,32)")
    sc.add_argument("--verify", action="store_true",
                    help="run each call as written and every target on a random input of "
                         "--shape (default: render only; a large tree stays fast)")
    sc.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                    help="text (default), markdown or json")
    sc.add_argument("--output", metavar="FILE", help="write here (atomically), not stdout")
    sc.set_defaults(run=_scan)

    conv = sub.add_parser("conventions", help="run each convention on every backend: the table",
                          description="Run each convention on every backend: the docs' "
                                      "table of native, emulated and differing behaviour.")
    conv.add_argument("--backends", help=_BACKENDS_HELP)
    conv.add_argument("--update-docs", "--update-readme", dest="update_docs",
                      action="store_true",
                      help="write the table into docs/conventions.md (and the backends' "
                           "declarations into docs/backends.md) instead of printing it; "
                           "--update-readme is its former name (the table moved to the docs)")
    conv.set_defaults(run=_conventions)
    return parser


def main(argv: list[str] | None = None) -> int:
    args, replaced = None, {}
    try:
        args = build_parser().parse_args(argv)
        _set_pythons(args.python)
        _set_gateways(args.gateway)
        client.start_timeout(), client.call_timeout()  # a bad value is a usage error, up front
        client.worker_threads(local=True)
        replaced = client.install_signal_handlers()
        if args.run in (_report, _compare):
            _check_envs_root(args)
        return args.run(args)
    except PoolingError as exc:
        typed = getattr(args, "typed", None) or (
            {"shape": ("--shape", args.shape)} if getattr(args, "shape", None) else {})
        message = _echo_typed(str(exc), typed)
        print(f"pooling-xfw: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    finally:
        for signum, handler in replaced.items():
            signal.signal(signum, handler)
        _forget_choices()


def _forget_choices() -> None:
    """``--python`` and ``--gateway`` hold for one command (``main`` may be called again)."""
    from .runtime import gateways

    envs.forget_interpreters()
    gateways.forget_gateways()
