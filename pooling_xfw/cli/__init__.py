"""``pooling-xfw`` (also ``python -m pooling_xfw``): the command line.

Exit codes: 0 all agree / success, 1 a backend differs, 2 usage error, 3 a backend could not run.
Bad input never shows a traceback: one line naming the argument and what is allowed.

Each command's parser sits beside its handler: ``environments`` (envs), ``comparing`` (report,
compare), ``porting`` (translate, explain, audit-chapter, scan), ``conventions`` and
``fuzzing`` (fuzz); the values
typed are read by ``args`` (one checker per kind of value) and ``inputs`` (compare's case).
"""
from __future__ import annotations

import argparse
import signal
import sys
import textwrap

from .. import registry
from ..version import __version__
from ..errors import PoolingError
from ..runtime import client, envs
from . import comparing, conventions, environments, fuzzing, porting
from .args import EXIT_DIFFER, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, Parser, echo_typed, \
    example_backend

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_DIFFER", "EXIT_USAGE", "EXIT_UNAVAILABLE"]

_DESCRIPTION = textwrap.fill(
    f"Pooling compared across the default backends ({', '.join(registry.defaults())}): each "
    f"framework runs in its own environment and is checked against one numpy reference, which "
    f"states every convention.", 92) + """

exit codes: 0 every backend agrees (or the command succeeded), 1 a backend differs,
2 usage error (one line naming the argument), 3 a backend could not run.
Also runs as: python -m pooling_xfw"""

#: the commands, in the order ``--help`` lists them
COMMANDS = (environments, comparing, porting, conventions, fuzzing)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the global options, then each command module's parsers."""
    parser = Parser(prog="pooling-xfw", description=_DESCRIPTION,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"pooling-xfw {__version__}",
                        help="print the name and version, then exit")
    parser.add_argument("--python", action="append", metavar="BACKEND=PATH",
                        help="run BACKEND with this interpreter (also POOLING_XFW_PYTHON_<BACKEND>)")
    parser.add_argument("--gateway", action="append", metavar="BACKEND=SPEC",
                        help=f"run BACKEND's worker through an execnet gateway, e.g. "
                             f"{example_backend()}=ssh=gpu-box//python=/opt/venv/bin/python or "
                             f"{example_backend()}=socket=127.0.0.1:8888 (also "
                             f"POOLING_XFW_GATEWAY_<BACKEND>)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser,
                                title="commands", metavar="COMMAND",
                                help="pooling-xfw COMMAND --help shows its options")
    for command in COMMANDS:
        command.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args, replaced = None, {}
    try:
        args = build_parser().parse_args(argv)
        environments.set_pythons(args.python)
        environments.set_gateways(args.gateway)
        client.start_timeout(), client.call_timeout()  # a bad value is a usage error, up front
        client.worker_threads(local=True), client.slot_count()
        replaced = client.install_signal_handlers()
        if getattr(args, "runs_backends", False):
            environments.check_envs_root(args)
        return args.run(args)
    except PoolingError as exc:
        typed = getattr(args, "typed", None) or (
            {"shape": ("--shape", args.shape)} if getattr(args, "shape", None) else {})
        message = echo_typed(str(exc), typed)
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
    from ..runtime import gateways

    envs.forget_interpreters()
    gateways.forget_gateways()
