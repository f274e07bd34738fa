"""The porting commands: ``translate``, ``explain``, ``audit-chapter`` and ``scan``."""
from __future__ import annotations

import errno
import math
import os
import sys

from .. import registry
from .args import (EXIT_DIFFER, EXIT_OK, EXIT_UNAVAILABLE, backends_named, check_fits,
                   could_not_run, read_shape, usage_error)


def _call_layout(frm: str, call: str) -> str:
    """The layout the call pools in (its rank: how many sizes ``--shape`` takes)."""
    from ..porting import parse

    return parse(frm, call).spec["layout"]


def _translate(args) -> int:
    from ..porting import translate

    layout = _call_layout(args.frm, args.call)
    shape = read_shape("--shape", args.shape, layout)
    if args.no_verify:  # rendered for the shape, nothing made: any shape numpy can index
        if math.prod(shape) >= 2**63:
            n = len(layout) - 2
            raise usage_error("--shape", args.shape, f"{math.prod(shape)} cells, 2**63 or more",
                              f"{n} to {n + 2} sizes whose product is < 2**63 (C int64)")
    else:  # a random float32 input, made in float64, and run in every framework
        check_fits("--shape", args.shape, math.prod(shape),
                   f"the random {' x '.join(map(str, shape))} float32 input (made in float64)",
                   20)
    result = translate(args.call, args.frm, shape,
                       to=backends_named(args.to, "--to") if args.to is not None else None,
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
    from ..porting import explain

    shape = None
    if args.shape:
        shape = read_shape("--shape", args.shape, _call_layout(args.frm_a, args.call_a))
    result = explain(args.call_a, args.frm_a, args.call_b, args.frm_b, shape=shape,
                     verify=not args.no_verify)
    sys.stdout.write(result.to_text())
    incomplete = could_not_run(result.unrun, "the witness was not run")
    # a gradient routed otherwise on ties exits 1 too: the same outputs, another training
    return EXIT_DIFFER if not (result.equivalent and getattr(result, "grad_equivalent", True)) \
        else incomplete


def _scan(args) -> int:
    from .. import report
    from ..porting.scan import DEFAULT_SHAPE, python_files, scan

    if not os.path.exists(args.path):
        what = "no such file or directory"
        if os.path.islink(args.path):  # a link to nowhere, or a loop
            try:
                os.stat(args.path)
            except OSError as exc:
                what = ("a symlink loop" if exc.errno == errno.ELOOP else
                        f"a symlink to {os.readlink(args.path)}, which does not exist")
        raise usage_error("PATH", args.path, what, "a .py file or a directory")
    shape = read_shape("--shape", args.shape) if args.shape else DEFAULT_SHAPE
    if len(shape) != 4:
        raise usage_error("--shape", args.shape, f"{len(shape)} sizes",
                     "N,C,H,W, e.g. 1,3,32,32 (an NHWC call gets it as N,H,W,C)")
    if args.verify:
        check_fits("--shape", args.shape, math.prod(shape), "the random float32 input", 20)
    if args.output is not None:
        report.check_writable(args.output)
    python_files(args.path)
    result = scan(args.path, to=backends_named(args.to, "--to") if args.to is not None else None,
                  shape=shape, verify=args.verify)
    text = {"text": result.to_text, "markdown": result.to_markdown,
            "json": result.to_json}[args.format]()
    if args.output is not None:
        report.write(text, args.output)
    else:
        sys.stdout.write(text)
    if not result.portable:
        return EXIT_DIFFER
    return could_not_run(result.unrun, "the scan's verification is incomplete")


def _audit_chapter(args) -> int:
    from .. import report
    from ..porting import chapter

    if args.output is not None:
        report.check_writable(args.output)
    text, unrun = chapter.run_audit()
    if args.output is not None:
        report.write(text, args.output)
    else:
        sys.stdout.write(text)
    return could_not_run(unrun, "the audit is incomplete")


def add_commands(sub) -> None:
    """The parsers of ``translate``, ``explain``, ``audit-chapter`` and ``scan``, each with its
    handler, on ``sub`` (the top-level subparsers)."""
    from ..porting.recipes import recipes

    tr = sub.add_parser("translate", help="a framework's own pooling call, in every framework",
                        description="Read a framework's own pooling call with that framework's "
                                    "defaults, show the code that gives the same numbers in "
                                    "every framework, and check it by running them.")
    tr.add_argument("call", help="the call as you write it, e.g. \"nn.MaxPool2d(3, stride=2)\"")
    tr.add_argument("--from", dest="frm", required=True, choices=registry.porting_sources(),
                    type=str.lower,
                    help="the call's framework")
    tr.add_argument("--shape", required=True, help="input shape in the call's layout, e.g. 1,8,8,3 "
                                                   "(1-D: 8,64,16000; 3-D: 2,3,16,112,112)")
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
    ex.add_argument("--shape", help="judge for this input shape (A's layout); default: every "
                                    "size 1..9 on each spatial axis (1..6 in 3-D)")
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
                                    "gets N,H,W,C, a 1-D call N,C,W, a 3-D call N,C,D,H,W "
                                    "with D = min(H, 16); default: 1,3,32,32)")
    sc.add_argument("--verify", action="store_true",
                    help="run each call as written and every target on a random input of "
                         "--shape (default: render only; a large tree stays fast)")
    sc.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                    help="text (default), markdown or json")
    sc.add_argument("--output", metavar="FILE", help="write here (atomically), not stdout")
    sc.set_defaults(run=_scan)
