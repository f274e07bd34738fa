"""Reading what was typed: one checker per kind of value (an int, sizes, padding, a number, a
word, a shape, a backend name), each a usage error that echoes the flag and the text as typed
(``--kernel -3: -3 is below 1; allowed: ...``), never the value as the Python API normalized
it; the argument parser whose own errors say the same; and the options several commands share.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import math
import re
import shlex
import sys

from .. import registry
from ..errors import PoolingError
from ..runtime import envs


EXIT_OK, EXIT_DIFFER, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3


def usage_error(flag: str, text, problem: str, allowed: str) -> PoolingError:
    """A usage error that echoes what was typed: ``--kernel -3: -3 is below 1; allowed: ...``
    (``flag`` empty for a positional word, ``text`` None for a switch)."""
    typed = " ".join(w for w in (flag, None if text is None else shlex.quote(str(text))) if w)
    return PoolingError(f"{typed}: {problem}; allowed: {allowed}")


def did_you_mean(text: str, names, aliases: dict | None = None) -> str:
    """`` (did you mean pytorch?)`` for a close or well-known other name, else ``''``."""
    key = text.strip().lower()
    close = (aliases or {}).get(key) or next(
        iter(difflib.get_close_matches(key, [n.lower() for n in names], n=1)), None)
    if close is None or close not in [n.lower() for n in names]:
        return ""  # an alias of a name not allowed here (onnx, where onnxruntime is not)
    return f" (did you mean {next(n for n in names if n.lower() == close)}?)"


#: what an unknown value of a choice is called: ``--format yaml: unknown format``
_NOUNS = {"frm": "backend", "frm_a": "backend", "frm_b": "backend", "values": "value set"}


class Parser(argparse.ArgumentParser):
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
            raise usage_error(flag, value, "a target only, not read as a source: "
                                      f"{value_is}: {registry.targets_only()[value_is]}",
                         ", ".join(names))
        if isinstance(action, argparse._SubParsersAction):
            flag, noun = "", action.dest  # "command" or "action"
        else:
            flag = "/".join(action.option_strings) or action.metavar or action.dest
            noun = _NOUNS.get(action.dest, action.dest)
        aliases = registry.aliases() if noun == "backend" else None
        raise usage_error(flag, value, f"unknown {noun}{did_you_mean(value, names, aliases)}",
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


def one_backend(flag: str, typed: str, name: str, several: bool = True,
             versions: bool = True) -> str:
    """One backend name (any case) of what was typed for ``flag`` (a list when ``several``):
    ``BACKEND`` or, with ``versions``, ``BACKEND@VERSION`` (``onnxruntime@1.22.1``)."""
    name = name.strip().lower()
    backend, version = envs.split_name(name)
    allowed = (envs.allowed_names() if versions else ", ".join(registry.names())) + (
        ", comma-separated" if several else "")
    if backend not in registry.names():
        hint = did_you_mean(backend, registry.names(), registry.aliases())
        if hint and version is not None:  # torch@2.5: did you mean pytorch@2.5?
            hint = hint.replace("?)", f"@{version}?)")
        raise usage_error(flag, typed, f"unknown backend {backend!r}{hint}", allowed)
    if version is not None and not versions:
        raise usage_error(flag, typed, f"{name!r}: a version is run by --backends, not here", allowed)
    problem = envs.name_problem(name)
    if problem:
        raise usage_error(flag, typed, f"{name!r}: {problem}", allowed)
    return name


def backends_named(text: str | None, flag: str = "--backends") -> list[str]:
    """``--backends`` / ``--to``: comma-separated names, in any case (the default ones,
    ``registry.defaults()``, when not given); ``--backends`` takes ``BACKEND@VERSION`` too."""
    if text is None:
        return list(registry.defaults())
    versions = flag == "--backends"
    names = [one_backend(flag, text, name, versions=versions) for name in text.split(",")
             if name.strip()]
    if not names:
        raise usage_error(flag, text, "no backend named",
                     ", ".join(registry.names()) + ", comma-separated")
    from ..compare import same_backend_twice  # a name twice: refused, as the API does

    twice = same_backend_twice(names)
    if twice:
        raise usage_error(flag, text, twice, "each backend and version once, comma-separated")
    return names


def example_backend() -> str:
    """A backend's name for the examples of help and usage messages."""
    return registry.defaults()[0]


def read_int(flag: str, text: str, part: str, minimum: int, allowed: str) -> int:
    """One int of ``text`` (``part`` of it), >= ``minimum`` and < 2**63 (C int64)."""
    from ..arguments import MAX_SIZE

    try:
        value = int(part)
    except ValueError:
        raise usage_error(flag, text, f"{part!r} is not an int", allowed) from None
    if value < minimum:
        raise usage_error(flag, text, f"{value} is below {minimum}", allowed)
    if value > MAX_SIZE:
        raise usage_error(flag, text, f"{value} is 2**63 or more", allowed)
    return value


def read_sizes(flag: str, text: str, minimum: int, example: str):
    """``--kernel`` / ``--stride`` / ``--dilation``: ``3`` -> 3, ``2,3`` -> (2, 3), one value
    per spatial axis (``3,1,1`` for d,h,w); the layout's rank checks their number."""
    allowed = (f"an int >= {minimum} and < 2**63, or one per spatial axis as w, h,w or d,h,w "
               f"(e.g. {example})")
    parts = text.split(",")
    if len(parts) > 3:
        raise usage_error(flag, text, f"{len(parts)} values", allowed)
    values = tuple(read_int(flag, text, part, minimum, allowed) for part in parts)
    return values[0] if len(values) == 1 else values


def read_padding(text: str):
    """``1``, ``1,2``, ``2:0,0:1`` (top:bottom,left:right; either axis may be one int), one
    value per spatial axis (``0,1,1`` or ``2:0`` for one axis), or a padding name."""
    from ..arguments import PADDING_STRINGS

    if text.strip().lower() in PADDING_STRINGS:
        return text.strip().lower()
    allowed = ("an int >= 0, one per spatial axis (ph,pw), before:after per axis (e.g. "
               "2:0,0:1; 2:0 for one axis), same, same_lower or valid")
    parts = text.split(",")
    if len(parts) > 3:
        raise usage_error("--padding", text, f"{len(parts)} values", allowed)
    axes = []
    for part in parts:
        pads = part.split(":")
        if len(pads) > 2:
            raise usage_error("--padding", text, f"{part!r} is not before:after", allowed)
        pads = tuple(read_int("--padding", text, v, 0, allowed) for v in pads)
        axes.append(pads if len(pads) == 2 else pads[0])
    if len(axes) == 1:
        return (axes[0],) if isinstance(axes[0], tuple) else axes[0]  # 2:0: one axis's pads
    if any(isinstance(a, tuple) for a in axes):
        return tuple(a if isinstance(a, tuple) else (a, a) for a in axes)
    return tuple(axes)


def read_number(flag: str, text: str) -> float:
    """``--p``: a finite number > 0."""
    allowed = "a finite number > 0 (the power of lp pooling)"
    try:
        value = float(text)
    except ValueError:
        raise usage_error(flag, text, f"{text!r} is not a number", allowed) from None
    if not math.isfinite(value):
        raise usage_error(flag, text, "not finite", allowed)
    if value <= 0:
        raise usage_error(flag, text, "not > 0", allowed)
    return value


def read_word(flag: str, text: str, noun: str, names, fold=str.lower) -> str:
    """``--mode`` / ``--layout``: one of ``names``, in any case."""
    if fold(text.strip()) in names:
        return fold(text.strip())
    raise usage_error(flag, text, f"unknown {noun}{did_you_mean(text, names)}", ", ".join(names))


def read_shape(flag: str, text: str, layout: str = "NCHW") -> tuple[int, ...]:
    """``--shape``: as many sizes >= 1 as ``layout``'s spatial axes, one or two more (C, N);
    whether an input of that shape fits in memory is for the command to say (``check_fits``,
    with what it would make)."""
    from ..layout import of_rank, rank, spatial_names

    n, names = rank(layout), ",".join(spatial_names(layout))
    example = ",".join(["1", "3"] + ["8"] * n)
    allowed = (f"{n} to {n + 2} sizes >= 1, comma-separated: {names}, C,{names} or N,C,{names} "
               f"({names},C or N,{names},C for {of_rank('NHWC', n)}), e.g. {example}")
    if not text.strip():
        raise usage_error(flag, text, "empty", allowed)
    shape = []
    for part in text.split(","):
        try:
            shape.append(int(part))
        except ValueError:
            raise usage_error(flag, text, f"{part!r} is not an int", allowed) from None
    shape = tuple(shape)
    if not n <= len(shape) <= n + 2:
        raise usage_error(flag, text, f"{len(shape)} size{'s' if len(shape) != 1 else ''}", allowed)
    for size in shape:
        if size < 1:
            raise usage_error(flag, text, f"{size} is below 1", allowed)
    return shape


def check_fits(flag: str, text: str, cells: int, what: str, bytes_per_cell: int) -> None:
    """Refuse (one line naming ``flag``, with the bytes) an array of ``cells`` cells that would
    take more than this machine's memory to make, ``bytes_per_cell`` each (temporaries
    included): it would fail half-made, or take the machine down, not pool."""
    from ..spec import format_bytes, memory_limit

    need, limit = cells * bytes_per_cell, memory_limit()
    if need > limit:
        raise usage_error(flag, text, f"{what} would need {format_bytes(need)}, more than this "
                                 f"machine's memory ({format_bytes(limit)})",
                     "a shape whose input fits in memory")


def as_typed(flag: str, text: str | None) -> str:
    """An option as typed: ``--adaptive 3,4``, ``--global``."""
    return flag if text is None else f"{flag} {shlex.quote(text)}"


def echo_typed(message: str, typed: dict) -> str:
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
        if sep and not tail.startswith("allowed:") and is_value(value):
            rest = tail
    return f"{flag}{'' if text is None else ' ' + shlex.quote(str(text))}: {rest}"


def is_value(text: str) -> bool:
    """Is ``text`` a value as the API printed it (``(3, 3)``, ``True``, ``<float32 array ...>``)
    rather than words about it (``kernel 9 with dilation 1 ...``)?"""
    if text.startswith("<") and text.endswith(">"):
        return True
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return False
    return True


def could_not_run(unrun: dict[str, str], consequence: str) -> int:
    """Exit 3 with one line on stderr naming each backend that could not run and why, and what
    that leaves (``consequence``); exit 0 when ``unrun`` is empty."""
    if not unrun:
        return EXIT_OK
    why = "; ".join(f"{name} ({' '.join(reason.split())})" for name, reason in unrun.items())
    print(f"pooling-xfw: could not run {why}: {consequence}", file=sys.stderr)
    return EXIT_UNAVAILABLE


_VERSION_HELP = (", each maybe with a version other than the pinned one, BACKEND@VERSION "
                 "(its own environment and column), and maybe on another machine, "
                 "BACKEND:MACHINE (a column of its own, through --gateway BACKEND:MACHINE=SPEC)")


BACKENDS_HELP = ("comma-separated names of " + ", ".join(registry.names()) + _VERSION_HELP +
                  " (default: " + ", ".join(registry.defaults()) + ")")


ENV_BACKENDS_HELP = ("comma-separated names of " + ", ".join(registry.names()) +
                      _VERSION_HELP + " (default: all of them at their pinned versions)")


def grad_arguments(parser, seed: bool = False) -> None:
    """The backward pass's options (``report`` gets its own ``--seed`` for randn)."""
    parser.add_argument("--grad", action="store_true",
                        help="compare the backward pass too: each framework's autograd gradient "
                             "with respect to the input against the reference's "
                             "(px.pool2d_grad, px.adaptive_pool2d_grad; exit 1 when one "
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


def output_options(parser) -> None:
    """report's and compare's options of what is written, and where, and for which backends."""
    from ..report import FORMATS

    parser.add_argument("--format", choices=FORMATS, default="text",
                        help=", ".join(FORMATS[:-1]) + f" or {FORMATS[-1]} (default: text; html "
                             f"is one self-contained page)")
    parser.add_argument("--output", metavar="FILE", help="write here (atomically), not stdout")
    parser.add_argument("--backends", help=BACKENDS_HELP)
    parser.add_argument("--verbose", action="store_true",
                        help="show each backend's calls and the differing positions")


def dest_of(flag: str) -> str:
    """The attribute argparse keeps an option's value in: ``--save-onnx`` -> ``save_onnx``."""
    return flag.lstrip("-").replace("-", "_")
