"""The ``conventions`` command: each convention run on every backend, the docs' table."""
from __future__ import annotations

import sys

from .. import registry
from ..errors import PoolingError
from .args import BACKENDS_HELP, EXIT_OK, backends_named, could_not_run


def _conventions(args) -> int:
    from .. import conventions
    from ..runtime.client import log
    from ..runtime.envs import PROJECT_ROOT

    backends = backends_named(args.backends)
    page = PROJECT_ROOT / "docs" / "conventions.md"
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
        return could_not_run(unrun, "the table is incomplete")
    if unrun:
        return could_not_run(unrun, f"the table would be incomplete; {shown} not written")
    changed = conventions.update_page(page, text)
    backends_page = page.with_name("backends.md")
    changed_too = conventions.update_page(backends_page, registry.markdown(),
                                          conventions.BACKENDS_START, conventions.BACKENDS_END)
    log(f"{shown} {'updated' if changed else 'already current'}; docs/backends.md "
        f"{'updated' if changed_too else 'already current'}")
    return EXIT_OK


def add_commands(sub) -> None:
    """The parsers of ``conventions``, each with its handler, on ``sub`` (the
    top-level subparsers)."""
    conv = sub.add_parser("conventions", help="run each convention on every backend: the table",
                          description="Run each convention on every backend: the docs' "
                                      "table of native, emulated and differing behaviour.")
    conv.add_argument("--backends", help=BACKENDS_HELP)
    conv.add_argument("--update-docs", "--update-readme", dest="update_docs",
                      action="store_true",
                      help="write the table into docs/conventions.md (and the backends' "
                           "declarations into docs/backends.md) instead of printing it; "
                           "--update-readme is its former name (the table moved to the docs)")
    conv.set_defaults(run=_conventions)
