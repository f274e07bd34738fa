"""The ``report`` and ``compare`` commands: their parsers, the report written, and a
backend's own folder option (``--save-onnx DIR``)."""
from __future__ import annotations

import argparse
import functools
import os
import shlex
import stat
import sys

from .. import registry
from ..runtime import envs
from .. import ops
from .args import backends_named, dest_of, grad_arguments, output_options, usage_error
from .inputs import chosen_cases, grad_options, single_case


def _emit(args, cases, grad=None) -> int:
    from .. import report
    from ..runtime.client import log

    if args.output is not None:
        report.check_writable(args.output)
        given = getattr(args, "input", None)
        if given and os.path.exists(args.output) and os.path.samefile(args.output, given):
            raise usage_error("--output", args.output, "the file --input reads: it would be replaced "
                                                  "by the report", "another file")
    doc = report.build(cases, backends_named(args.backends), progress=log, grad=grad)
    color = (args.output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    text = report.render(doc, args.format, verbose=args.verbose, color=color)
    if args.output is not None:
        report.write(text, args.output)
        log(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return doc["summary"]["exit_code"]


def _report(args) -> int:
    grad = grad_options(args)
    return _emit(args, chosen_cases(args.cases, grad), grad)


def _compare(args) -> int:
    case = single_case(args)
    run = lambda: _emit(args, [case], args.grad_options)  # noqa: E731
    for backend, option in backend_options(args):
        if getattr(args, dest_of(option.flag)) is not None:
            run = functools.partial(_writing_into, args, backend, option, run)
    return run()


def backend_options(args=None):
    """Each backend's own options (``Backend.options``), with the backend."""
    return [(b, option) for b in registry.backends() for option in b.options]


def _writing_into(args, backend, option, run) -> int:
    """A backend's folder option (``--save-onnx DIR``): its worker writes into the folder
    (named in its environment, ``option.variable``), then each file this run wrote there is
    named on stderr."""
    from ..runtime.client import log

    typed = getattr(args, dest_of(option.flag))
    if backend.name not in map(envs.framework_of, backends_named(args.backends)):
        raise usage_error(option.flag, typed, f"no {backend.name} backend to write for",
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
        raise usage_error(flag, text, "empty", allowed)
    folder = Path(text).expanduser()
    try:
        os.stat(folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise usage_error(flag, text, "a symlink loop", allowed) from None
        if folder.is_symlink():
            raise usage_error(flag, text, f"a symlink to {os.readlink(folder)}, which does not exist",
                         allowed) from None
    if folder.exists() and not folder.is_dir():
        raise usage_error(flag, text, "not a directory", allowed)
    if not folder.exists():
        parent = folder.parent
        if not parent.is_dir():
            raise usage_error(flag, text, f"{parent} " + ("is not a directory" if parent.exists()
                                                     else "does not exist"), allowed)
        try:
            folder.mkdir()
        except FileExistsError:
            pass  # made meanwhile
        except OSError as exc:
            raise usage_error(flag, text, f"cannot be made ({exc.strerror or exc})", allowed) from None
    try:  # the permission bits do not tell (root, read-only mounts, /proc)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise usage_error(flag, text, f"cannot write a file in it ({exc.strerror or exc})",
                     allowed) from None
    return folder


def add_commands(sub) -> None:
    """The parsers of ``report`` and ``compare``, each with its handler, on ``sub`` (the
    top-level subparsers)."""
    rep = sub.add_parser("report", help="the chapter's examples (or --cases) on every backend",
                         description="Run the chapter's examples (or the cases named by --cases) "
                                     "on every backend and compare each with the reference.")
    output_options(rep)
    rep.add_argument("--cases", metavar="NAMES|FILE",
                     help="the chapter's cases by name, comma-separated (default: all), or a JSON "
                          "file of cases: a value with a / or ending in .json is a file (write "
                          "./NAME for a file named otherwise)")
    grad_arguments(rep, seed=True)
    rep.set_defaults(run=_report, runs_backends=True)

    cmp_ = sub.add_parser("compare", help="one case from the command line on every backend",
                          description="Pool one input (a .npy file or a generated array) on "
                                      "every backend and compare each with the reference.")
    output_options(cmp_)
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
        cmp_.add_argument(op.flag, dest=dest_of(op.flag), help=f"{op.flag_help} (one of {flags} "
                                                               f"is required)", **kind)
    cmp_.add_argument("--keepdims", action=argparse.BooleanOptionalAction,
                      help="with --global: keep H and W as axes of size 1 (default), or drop "
                           "them (--no-keepdims)")
    cmp_.add_argument("--stride", help="3 or 2,3 (default: the window, as the layers do)")
    cmp_.add_argument("--padding",
                      help="1, 1,2, top:bottom,left:right (2:0,0:1), same, same_lower, valid "
                           "(default: 0)")
    cmp_.add_argument("--dilation", help="3 or 2,3 (default: 1)")
    cmp_.add_argument("--ceil-mode", nargs="?", const=True, default=False, metavar="keep",
                      help="keep a last partial window (dropped when it would start in the "
                           "padding); --ceil-mode keep: kept then too")
    cmp_.add_argument("--allow-empty-windows", action="store_true",
                      help="allow windows that read only padding (max -inf, avg 0 or NaN)")
    cmp_.add_argument("--run-known-crashes", action="store_true",
                      help="with --unpool: also run a call measured to crash its framework "
                           "(an index of -1); its worker is contained by the call timeout")
    cmp_.add_argument("--exclude-pad", action="store_true",
                      help="avg divides by real cells only (count_include_pad=False)")
    cmp_.add_argument("--divisor", help="avg divides every window by this int instead "
                                        "(divisor_override; 1: sum pooling)")
    cmp_.add_argument("--divisor-of", help="sum (default: the window's sum / divisor) or mean "
                                           "(its average x its cells / divisor)")
    cmp_.add_argument("--layout", default="NCHW",
                      help="NCHW (default) or NHWC; NCW or NWC pools one axis (1-D), NCDHW or "
                           "NDHWC three (3-D)")
    cmp_.add_argument("--p", help="power of lp pooling (default: 2)")
    for _, option in backend_options():
        cmp_.add_argument(option.flag, metavar=option.metavar, help=option.help)
    grad_arguments(cmp_)
    cmp_.set_defaults(run=_compare, runs_backends=True)
