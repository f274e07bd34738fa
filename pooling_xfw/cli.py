"""``pooling-xfw`` (also ``python -m pooling_xfw``): the command line.

Exit codes: 0 all agree / success, 1 a backend differs, 2 usage error, 3 a backend could not run.
Bad input never shows a traceback: one line naming the argument and what is allowed.
"""
from __future__ import annotations

import argparse
import sys

from .errors import PoolingError
from .runtime import envs

EXIT_OK, EXIT_DIFFER, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's default prints usage too)
        raise PoolingError(f"{self.prog}: {message}")


def _backends(text: str | None) -> list[str]:
    if not text:
        return list(envs.BACKENDS)
    return [envs.check_backend(name.strip()) for name in text.split(",") if name.strip()]


def _set_pythons(pairs: list[str]) -> None:
    for pair in pairs or []:
        backend, sep, path = pair.partition("=")
        if not sep or not path:
            raise PoolingError(f"--python: got {pair!r}; allowed: BACKEND=PATH, e.g. "
                               f"pytorch=/opt/conda/envs/torch/bin/python")
        envs.set_interpreter(backend, path)


def _envs_create(args) -> int:
    statuses = envs.create(_backends(args.backends), jobs=args.jobs)
    return EXIT_OK if all(s.state == "ready" for s in statuses) else EXIT_UNAVAILABLE


def _envs_list(args) -> int:
    from concurrent.futures import ThreadPoolExecutor

    names = _backends(args.backends)
    with ThreadPoolExecutor(len(names)) as pool:
        statuses = list(pool.map(envs.inspect, names))
    print(f"environments in {envs.envs_root()} (override: POOLING_XFW_ENVS)")
    for s in statuses:
        versions = f"{s.framework_version or '-':<12} numpy {s.numpy_version or '-':<8}"
        print(f"  {s.backend:<11} {s.state:<8} {versions} {s.python or '-'}")
        if s.state != "ready":
            print(f"  {'':<11} {s.detail}; fix: {s.fix}")
    return EXIT_OK if all(s.state == "ready" for s in statuses) else EXIT_UNAVAILABLE


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pooling-xfw", description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", metavar="BACKEND=PATH",
                        help="run BACKEND with this interpreter (also POOLING_XFW_PYTHON_<BACKEND>)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    env = sub.add_parser("envs", help="create or list the per-backend environments")
    env_sub = env.add_subparsers(dest="action", required=True, parser_class=_Parser)
    create = env_sub.add_parser("create", help="build missing or outdated environments")
    create.add_argument("--backends", help="comma-separated subset (default: all four)")
    create.add_argument("--jobs", type=int, default=4, help="environments built at once")
    create.set_defaults(run=_envs_create)
    listing = env_sub.add_parser("list", help="show each backend's interpreter and versions")
    listing.add_argument("--backends", help="comma-separated subset (default: all four)")
    listing.set_defaults(run=_envs_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        _set_pythons(args.python)
        return args.run(args)
    except PoolingError as exc:
        print(f"pooling-xfw: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
