"""The ``fuzz`` command: a seeded random campaign across the backends, its findings clustered,
the unexplained ones shrunk, written to a folder (``pooling_xfw.fuzz``)."""
from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path

from ..errors import PoolingError
from .args import (BACKENDS_HELP, EXIT_DIFFER, EXIT_OK, EXIT_UNAVAILABLE, backends_named,
                   read_int, usage_error)


def _fuzz(args) -> int:
    from ..fuzz import campaign as fuzz
    from ..fuzz.generate import OPERATIONS

    if args.words:
        return _merge(args)
    if args.cases is not None and args.minutes is not None:
        raise PoolingError(f"--minutes {args.minutes}: not with --cases {args.cases}; "
                           f"allowed: one of them (the campaign's end)")
    cases = None if args.cases is None else read_int("--cases", args.cases, args.cases, 1,
                                                     "an int >= 1")
    minutes = None if args.minutes is None else _minutes(args.minutes)
    if args.resume is not None:
        folder = Path(args.resume)
        for flag, given in (("--seed", args.seed), ("--backends", args.backends),
                            ("--ops", args.ops), ("--out", args.out), ("--shards", args.shards),
                            ("--shard", args.shard), ("--grad", args.grad or None)):
            if given is not None:
                raise PoolingError(f"{flag} {given}: not with --resume: the campaign's own "
                                   f"(its state.json) holds; allowed: --cases or --minutes")
        campaign = fuzz.Campaign.load(folder)
    else:
        folder = Path(args.out or "fuzz-out")
        if (folder / "state.json").exists():
            raise PoolingError(f"--out {folder}: a campaign is there already; allowed: a new "
                               f"folder, or --resume {folder}")
        seed = read_int("--seed", args.seed or "0", args.seed or "0", 0, "an int >= 0")
        operations = tuple(o.strip() for o in (args.ops or ",".join(OPERATIONS)).split(","))
        shards = read_int("--shards", args.shards or "1", args.shards or "1", 1, "an int >= 1")
        if args.shard is not None and args.shards is None:
            raise PoolingError(f"--shard {args.shard}: not without --shards; allowed: "
                               f"--shards K --shard I")
        shard = read_int("--shard", args.shard or "0", args.shard or "0", 0,
                         f"0 to {shards - 1}")
        campaign = fuzz.start(seed, backends_named(args.backends), operations, shards, shard,
                              grad=args.grad)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # stop cleanly, as Ctrl-C does
    try:
        with progress_bar(sys.stderr) as progress:
            fuzz.run(campaign, folder, cases=cases, minutes=minutes, progress=progress)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return _said(campaign, folder)


@contextlib.contextmanager
def progress_bar(stream, force: bool = False):
    """A campaign's progress on ``stream``: a live bar (rich's) on a terminal, or where
    ``force``: cases run (of how many), cases/s, clusters so far (unexplained), time left;
    elsewhere (a log, a pipe) and without rich, one line per batch.  Yields ``run``'s
    ``progress``."""
    try:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    except ImportError:
        Console = None
    if Console is None or not (force or stream.isatty()):
        yield lambda tick: print(tick, file=stream, flush=True)
        return
    columns = [TextColumn("fuzz"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]:.0f} cases/s"),
               TextColumn("{task.fields[clusters]} clusters ({task.fields[unexplained]} "
                          "unexplained)"), TextColumn("{task.fields[left]}")]
    with Progress(*columns, console=Console(file=stream, force_terminal=force or None)) as bar:
        task = bar.add_task("fuzz", total=None, rate=0.0, clusters=0, unexplained=0, left="")

        def show(tick) -> None:
            if isinstance(tick, str):  # stopped: said as a line under the bar
                bar.console.print(tick, markup=False, highlight=False)
                return
            left = tick.left if tick.total is None else (
                (tick.total - tick.done) / tick.rate if tick.rate else None)
            bar.update(task, completed=tick.done, total=tick.total, rate=tick.rate,
                       clusters=tick.clusters, unexplained=tick.unexplained,
                       left="" if left is None else f"{left:.0f} s left")
        yield show


def _said(campaign, folder: Path) -> int:
    print(f"wrote {folder}/summary.txt (.md, .json, .html) and cases.json: "
          f"{len(campaign.clusters)} clusters, {len(campaign.unexplained)} unexplained")
    sys.stdout.write((folder / "summary.txt").read_text(encoding="utf-8"))
    if campaign.unrun:
        return EXIT_UNAVAILABLE
    return EXIT_DIFFER if campaign.unexplained else EXIT_OK


def _merge(args) -> int:
    """``fuzz merge DIR [DIR ...] --out DIR``: the parts of one campaign joined."""
    from ..fuzz import campaign as fuzz

    verb, *folders = args.words
    if verb != "merge" or not folders:
        raise PoolingError(f"fuzz {' '.join(args.words)}: allowed: fuzz [options], or fuzz "
                           f"merge DIR [DIR ...] --out DIR (campaign folders)")
    given = [flag for flag, value in (("--seed", args.seed), ("--backends", args.backends),
                                      ("--ops", args.ops), ("--cases", args.cases),
                                      ("--minutes", args.minutes), ("--resume", args.resume),
                                      ("--shards", args.shards), ("--shard", args.shard),
                                      ("--grad", args.grad or None))
             if value is not None]
    if given:
        raise PoolingError(f"{given[0]}: not with fuzz merge; allowed: fuzz merge DIR "
                           f"[DIR ...] --out DIR")
    folder = Path(args.out or "fuzz-out")
    if folder in map(Path, folders):
        raise PoolingError(f"--out {folder}: one of the folders merged; allowed: a new folder")
    return _said(fuzz.merge([Path(f) for f in folders], folder), folder)


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value < float("inf")):
        raise usage_error("--minutes", text, "not a number of minutes > 0",
                          "a finite number > 0")
    return value


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def add_commands(sub) -> None:
    """The parser of ``fuzz``, with its handler, on ``sub`` (the top-level subparsers)."""
    from ..fuzz.generate import OPERATIONS

    fz = sub.add_parser(
        "fuzz", help="random cases on every backend: findings clustered and shrunk",
        description="Draw random cases across every operation, rank, layout, dtype and "
                    "special value (seeded: the same cases on any machine), run them on the "
                    "backends, classify each result that is not agree by the cause the "
                    "diagnosis names, shrink each unexplained one to a minimal case, and "
                    "write the clusters to a folder.  Exit 0: nothing unexplained, 1: "
                    "unexplained findings, 2: usage, 3: a backend could not run.")
    fz.add_argument("--backends", help=BACKENDS_HELP)
    fz.add_argument("--ops", help=f"comma-separated operations to draw from: "
                                  f"{', '.join(OPERATIONS)} (default: all)")
    fz.add_argument("--cases", help="run until the campaign has run this many cases (default "
                                    "200; on --resume, earlier cases count)")
    fz.add_argument("--minutes", help="run for this many minutes instead")
    fz.add_argument("--seed", help="the campaign's seed (default 0)")
    fz.add_argument("--grad", action="store_true",
                    help="compare the backward pass too (each framework's autograd against "
                         "the reference's gradient): pool, adaptive and global, float inputs")
    fz.add_argument("--out", help="the folder written (default: fuzz-out)")
    fz.add_argument("--resume", metavar="DIR",
                    help="continue the campaign in DIR without repeating a case")
    fz.add_argument("--shards", help="cut the campaign into this many disjoint parts (its "
                                     "groups of 16 cases dealt out in turn), for several "
                                     "machines or jobs")
    fz.add_argument("--shard", help="the part this run is, 0 to K-1 (with --shards)")
    fz.add_argument("words", nargs="*", metavar="merge",
                    help="merge DIR [DIR ...] --out DIR: join the folders of a campaign's parts")
    fz.set_defaults(run=_fuzz, runs_backends=True)
