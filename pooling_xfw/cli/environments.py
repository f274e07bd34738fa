"""The ``envs`` command (create, list, prune) and the global ``--python`` / ``--gateway``
choices of which interpreter or machine runs a backend."""
from __future__ import annotations

from .. import registry
from ..runtime import envs
from .args import (ENV_BACKENDS_HELP, EXIT_OK, EXIT_UNAVAILABLE, Parser, backends_named,
                   example_backend, one_backend, read_int, usage_error)


def _set_per_backend(flag: str, pairs: list[str] | None, example: str, apply) -> None:
    """``--python`` / ``--gateway``: repeated ``BACKEND=VALUE`` pairs, each given to ``apply``;
    ``example`` shows the form (``pytorch=/path/to/python``)."""
    for pair in pairs or []:
        backend, sep, value = pair.partition("=")
        if not sep or not value:
            form = "BACKEND=PATH" if flag == "--python" else "BACKEND=SPEC"
            raise usage_error(flag, pair, f"not {form}", f"{form}, e.g. {example}")
        apply(one_backend(flag, pair, backend, several=False), value)


def set_pythons(pairs: list[str]) -> None:
    _set_per_backend("--python", pairs, f"{example_backend()}=/opt/conda/envs/{example_backend()}/bin/python",
                     envs.set_interpreter)


def set_gateways(pairs: list[str]) -> None:
    from ..runtime import gateways

    _set_per_backend("--gateway", pairs, f"{example_backend()}=ssh=gpu-box//python=/opt/venv/bin/"
                                         f"python", gateways.set_gateway)


def _env_backends(args) -> list[str]:
    """``envs create|list|prune``: the backends named (versions too), else every known one."""
    return backends_named(args.backends) if args.backends else list(registry.names())


def _envs_create(args) -> int:
    jobs = read_int("--jobs", args.jobs, args.jobs, 1, "an int >= 1")
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


def check_envs_root(args) -> None:
    """report, compare: a backend with no interpreter yet is fixed by `envs create`; when the
    environments' directory cannot take its venv, that is the error (exit 2), said up front."""
    from ..runtime import gateways

    if any(gateways.spec_for(b) is None for b in backends_named(args.backends)):
        envs.check_root()


def _inspect(backend: str):
    """A backend's environment as ``envs list`` shows it; through its gateway when it runs
    on another machine (the worker's hello gives the versions and the host)."""
    from ..runtime import gateways
    from ..runtime.client import WorkerFailure, WorkerPool

    spec = gateways.spec_for(backend)
    machine = envs.split_machine(backend)[1]
    if spec is None and machine is not None:  # another machine's column, no gateway given
        detail, _, fix = envs.unavailable_reason(backend).partition("; fix: ")
        return envs.EnvStatus(backend, "missing", None, detail=detail, fix=fix, where=machine)
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


def add_commands(sub) -> None:
    """The parsers of ``envs``, each with its handler, on ``sub`` (the
    top-level subparsers)."""
    env = sub.add_parser("envs", help="create, list or prune the per-backend environments",
                         description="The venv each framework runs in, one per backend.")
    env_sub = env.add_subparsers(dest="action", required=True, parser_class=Parser,
                                 title="actions", metavar="ACTION",
                                 help="pooling-xfw envs ACTION --help shows its options")
    create = env_sub.add_parser("create", help="build missing or outdated environments",
                                description="Build the missing or outdated environments, in "
                                            "parallel, with progress.")
    create.add_argument("--backends", help=ENV_BACKENDS_HELP)
    create.add_argument("--jobs", default="4",
                        help="environments built at once (default: 4)")
    create.set_defaults(run=_envs_create)
    listing = env_sub.add_parser("list", help="show each backend's interpreter and versions",
                                 description="Each backend's interpreter, framework and numpy "
                                             "version, host and state, and the fix when it is "
                                             "not ready.")
    listing.add_argument("--backends", help=ENV_BACKENDS_HELP)
    listing.set_defaults(run=_envs_list)
    prune = env_sub.add_parser("prune", help="remove environments no checkout uses any more",
                               description="Remove the environments that no checkout recorded "
                                           "as using them still selects, and unfinished "
                                           "builds; one in use is kept.")
    prune.add_argument("--backends", help=ENV_BACKENDS_HELP)
    prune.add_argument("--dry-run", action="store_true", help="say what would be removed")
    prune.set_defaults(run=_envs_prune)
