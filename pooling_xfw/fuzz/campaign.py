"""A fuzz campaign: draw cases (``generate``), run them in batches on every backend through the
workers (``compare_many``: pipelined, small cases sharing messages), classify every result
that is not ``agree`` (``findings``), shrink each unexplained cluster's case to a minimal one
(``shrink``), and write what was found to a folder (``outputs``).

The folder's ``state.json`` holds the campaign after every batch: its seed, backends and
operations, the cases run, the clusters.  ``--resume DIR`` reads it and runs only the cases not
yet run, so a campaign stopped by Ctrl-C or SIGTERM (the batch in flight is lost, and said)
continues where it stopped, drawing exactly the cases one uninterrupted run would.  A
campaign cut into shards (``--shards K --shard I``: group ``g`` of cases is shard ``g % K``'s)
runs its parts anywhere, and ``merge`` joins their folders into the campaign one run would make.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

from ..compare import compare_many
from ..conventions import machines_of
from ..errors import PoolingError
from ..judge import NOT_COMPARED
from . import findings
from .generate import GROUP, OPERATIONS, checked, draw
from .outputs import write
from .shrink import shrink, size

#: cases per batch: one ``compare_many`` call (a call per group of cases), and the state
#: written after it
BATCH = 128
#: the largest output shown side by side in the summary, in cells
SHOWN_CELLS = 64


@dataclasses.dataclass
class Campaign:
    seed: int
    backends: list[str]
    operations: tuple[str, ...]
    done: set = dataclasses.field(default_factory=set)
    clusters: dict = dataclasses.field(default_factory=dict)
    unrun: dict = dataclasses.field(default_factory=dict)  # backend -> why it could not run
    stopped: str = ""  # why the last run ended early ("" where it ran to its end)
    #: the campaign cut into this many disjoint parts: group g (cases g*GROUP on) is part
    #: g % shards
    shards: int = 1
    shard: int = 0
    grad: bool = False  # the backward pass compared too
    #: each column's machine, as its worker said it (``worker.machine``; None: it did not)
    machines: dict = dataclasses.field(default_factory=dict)
    #: the batch running when the state was saved: left there by a process killed mid-batch
    #: (a host lost), whose cases ``merge`` then says were lost and ``--resume`` runs
    in_flight: list = dataclasses.field(default_factory=list)

    def owns(self, index: int) -> bool:
        """Whether case ``index`` is this part's (its whole group is)."""
        return (index // GROUP) % self.shards == self.shard

    @property
    def unexplained(self) -> list[findings.Cluster]:
        return [c for c in self.clusters.values() if not c.explained]

    def to_json(self) -> dict:
        return {"seed": self.seed, "backends": self.backends,
                "operations": list(self.operations), "done": sorted(self.done),
                "clusters": [c.to_json() for c in self.clusters.values()],
                "unrun": self.unrun, "stopped": self.stopped, "shards": self.shards,
                "shard": self.shard, "grad": self.grad, "machines": self.machines,
                "in_flight": self.in_flight}

    @classmethod
    def load(cls, folder: Path) -> "Campaign":
        """The campaign saved in ``folder`` (``--resume``)."""
        path = folder / "state.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            clusters = [findings.Cluster.from_json(c) for c in data["clusters"]]
            return cls(int(data["seed"]), list(data["backends"]), tuple(data["operations"]),
                       set(data["done"]), {c.key: c for c in clusters}, dict(data["unrun"]),
                       str(data["stopped"]), int(data["shards"]), int(data["shard"]),
                       bool(data["grad"]), dict(data.get("machines") or {}),
                       list(data.get("in_flight") or []))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PoolingError(f"--resume: cannot read {path} ({type(exc).__name__}: {exc}); "
                               f"allowed: a folder a fuzz campaign wrote (--out)") from None

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / "state.json.tmp"
        temporary.write_text(json.dumps(self.to_json()), encoding="utf-8")
        temporary.replace(folder / "state.json")


@dataclasses.dataclass(frozen=True)
class Tick:
    """Where a running campaign is, after each batch (``run``'s progress): cases run (of
    ``total``, None for a campaign bound by time), cases per second, clusters and unexplained
    ones so far, seconds left (None for a campaign bound by its cases).  As text: one line."""

    done: int
    total: int | None
    rate: float
    clusters: int
    unexplained: int
    left: float | None

    def __str__(self) -> str:
        return (f"fuzz: {self.done}" + (f"/{self.total}" if self.total is not None else "") +
                f" cases, {self.rate:.0f} cases/s, {self.clusters} clusters "
                f"({self.unexplained} unexplained)" +
                (f", {self.left:.0f} s left" if self.left is not None else ""))


def run(campaign: Campaign, folder: Path, *, cases: int | None = None,
        minutes: float | None = None, pool=None, shrink_budget: int = 150,
        progress=None) -> Campaign:
    """Run the cases of ``campaign`` (of its shard) numbered below ``cases`` that it has not run
    yet, or every next one for ``minutes``, then shrink its unexplained clusters and write
    ``folder``.  KeyboardInterrupt (Ctrl-C, SIGTERM through the CLI) stops it after saving
    what has run.  ``progress`` is called with a ``Tick`` after every batch and with a line
    when the campaign stops early (default: each printed on stderr)."""
    progress = progress or _stderr
    start = time.monotonic()
    deadline = None if minutes is None else start + 60 * minutes
    end = cases if cases is not None else (None if minutes is not None else 200)
    mine = [i for i in range(end) if campaign.owns(i)] if end is not None else None
    todo = (i for i in (mine if mine is not None else itertools.count())
            if campaign.owns(i) and i not in campaign.done)
    ran = 0
    campaign.machines.update(machines_of(pool, campaign.backends))
    try:
        while deadline is None or time.monotonic() < deadline:
            batch = campaign.in_flight = list(itertools.islice(todo, BATCH))
            if not batch:
                break
            campaign.save(folder)  # a process killed now leaves this batch said in flight
            _run_batch(campaign, [draw(campaign.seed, i, campaign.operations, campaign.grad)
                                  for i in batch], pool)
            campaign.done.update(batch)
            campaign.in_flight, ran = [], ran + len(batch)
            campaign.save(folder)
            elapsed = time.monotonic() - start
            progress(Tick(len(campaign.done), None if mine is None else len(mine),
                          ran / max(elapsed, 1e-9), len(campaign.clusters),
                          len(campaign.unexplained),
                          None if deadline is None else max(deadline - time.monotonic(), 0)))
    except KeyboardInterrupt:
        campaign.stopped = (f"stopped after {len(campaign.done)} cases; the batch in flight "
                            f"({len(campaign.in_flight)} cases) was not run: --resume runs it")
        progress(f"fuzz: {campaign.stopped}")
        campaign.save(folder)
        write(campaign, folder)
        return campaign
    campaign.stopped = ""
    try:
        finish(campaign, folder, pool, shrink_budget)
    except KeyboardInterrupt:  # stopped while shrinking: what has run is kept, unshrunk
        campaign.stopped = "stopped while shrinking: the clusters keep the smallest case seen"
        progress(f"fuzz: {campaign.stopped}")
        campaign.save(folder)
        write(campaign, folder)
    return campaign


def finish(campaign: Campaign, folder: Path, pool=None, shrink_budget: int = 150) -> None:
    """Shrink the unexplained clusters not shrunk yet, run each cluster's minimal case on every
    backend for the outputs side by side, and write ``folder``."""
    for cluster in campaign.unexplained:
        if not cluster.outputs:
            _shrink(cluster, pool, shrink_budget)
    for cluster in campaign.clusters.values():
        if not cluster.outputs:
            cluster.outputs, details = _side_by_side(cluster.minimal, campaign.backends, pool,
                                                     cluster.status.startswith("backward"))
            if "between machines" not in cluster.status:  # else: how the twins differ
                cluster.detail = details.get(cluster.backend, cluster.detail)
    campaign.save(folder)
    write(campaign, folder)


def merge(folders: list[Path], folder: Path) -> Campaign:
    """The campaigns in ``folders`` (shards of one seed, or runs on other machines) joined
    into one, written to ``folder``: the cases each ran, their clusters (counts added, the
    smaller minimal case kept), what could not run.  A shard whose cases below the highest
    number run are not all there (a host stopped or killed mid-campaign) is said in
    ``stopped``."""
    parts = [Campaign.load(Path(f)) for f in folders]
    first = parts[0]
    for other, path in zip(parts[1:], folders[1:]):
        if (other.seed, other.backends, other.operations, other.grad) != (
                first.seed, first.backends, first.operations, first.grad):
            raise PoolingError(f"merge: {path} is seed {other.seed} on "
                               f"{','.join(other.backends)} ({','.join(other.operations)}), "
                               f"{folders[0]} seed {first.seed} on {','.join(first.backends)} "
                               f"({','.join(first.operations)}); allowed: parts of one "
                               f"campaign")
    joined = Campaign(first.seed, first.backends, first.operations, grad=first.grad)
    missing = []
    for part, path in zip(parts, folders):
        if part.done & joined.done:
            raise PoolingError(f"merge: {path} ran cases another part ran too; allowed: "
                               f"disjoint parts (--shards K --shard I)")
        joined.done |= part.done
        joined.unrun.update(part.unrun)
        joined.machines.update(part.machines)
        for key, cluster in part.clusters.items():
            mine = joined.clusters.get(key)
            if mine is None:
                joined.clusters[key] = cluster
                continue
            mine.cases = sorted(mine.cases + cluster.cases, key=_number)
            if _minimal_size(cluster) < _minimal_size(mine):
                mine.minimal, mine.minimal_size, mine.outputs, mine.detail = (
                    cluster.minimal, cluster.minimal_size, cluster.outputs, cluster.detail)
        gaps = [i for i in range(max(part.done, default=-1)) if part.owns(i)
                and i not in part.done]
        if part.in_flight and not part.stopped:
            missing.append(f"{path}: its process ended mid-batch (its host killed or lost): "
                           f"the {len(part.in_flight)} cases in flight, {part.in_flight[0]} "
                           f"to {part.in_flight[-1]}, were lost; --resume {path} runs them")
        elif gaps or part.stopped:
            missing.append(f"{path}: {len(gaps)} cases not run" + (f" ({part.stopped})"
                                                                  if part.stopped else ""))
    joined.stopped = "; ".join(missing)
    for cluster in joined.clusters.values():
        cluster.cases.sort(key=_number)
    joined.save(folder)
    write(joined, folder)
    return joined


def _number(name: str) -> int:
    return int(name.rsplit("-", 1)[1])


def _run_batch(campaign: Campaign, drawn: list[dict], pool) -> None:
    """``drawn`` run on the campaign's backends: each group's cases stacked on the batch axis
    in one call (every pooling treats each sample alone: exact); a group where a backend does
    not agree runs again case by case, and each case's results are recorded."""
    groups: dict[int, list] = {}
    for case in drawn:
        groups.setdefault(case["group"], []).append(case)
    stacked = [dict(_arguments(cases[0]), X=np.concatenate([c["X"] for c in cases], axis=0))
               for cases in groups.values()]
    again = []
    for cases, comparison in zip(groups.values(), compare_many(
            stacked, backends=campaign.backends, pool=pool)):
        found = _found(campaign, comparison)
        if not found:
            continue
        if len(cases) == 1:
            _record(campaign, cases[0], found)
        else:
            again += cases
    if again:
        for case, comparison in zip(again, compare_many(
                [_arguments(c) for c in again], backends=campaign.backends, pool=pool)):
            _record(campaign, case, _found(campaign, comparison))


def _stderr(line) -> None:
    print(line, file=sys.stderr, flush=True)


def _arguments(case: dict) -> dict:
    """A case as ``compare_many``'s arguments."""
    return dict(X=case["X"], op=case["op"], **case["kwargs"])


def _outcomes(name: str, result) -> list[tuple]:
    """``(outcome, detail)`` of a backend's result that is not ``agree``: the forward pass's,
    and the backward pass's where it was compared and does not agree."""
    found = []
    outcome = findings.classify(name, result.status, result.detail)
    if outcome is not None:
        found.append((outcome, result.detail))
    if result.grad_status not in (None, "agree", NOT_COMPARED) and result.status != "unavailable":
        backward = findings.classify(name, result.grad_status, result.grad_detail)
        if backward is not None:
            found.append((dataclasses.replace(backward, status=f"backward {backward.status}"),
                          result.grad_detail))
    return found


def _found(campaign: Campaign, comparison) -> list[tuple]:
    """What of ``comparison`` is a finding: each ``(outcome, detail)`` of a backend that does
    not agree, and of columns on two machines that differ; a backend that could not run is
    kept in ``campaign.unrun`` instead."""
    found = findings.twin_outcomes(comparison.results, campaign.grad)
    for name, result in comparison.results.items():
        if result.status == "unavailable":
            campaign.unrun.setdefault(name, result.detail)
            continue
        found += _outcomes(name, result)
    return found


def _record(campaign: Campaign, case: dict, found: list[tuple]) -> None:
    """A case's findings (``_found``'s) into the campaign's clusters, the case kept as a
    cluster's minimal one where it is the smallest so far."""
    for outcome, detail in found:
        cluster = findings.add(campaign.clusters, outcome, case["name"], detail)
        weight = list(size(case))
        if cluster.minimal is None or weight < _minimal_size(cluster):
            # the smallest seen: shrunk later if need be
            cluster.minimal, cluster.minimal_size = as_json(case), weight


def _minimal_size(cluster: findings.Cluster) -> list:
    """``size`` of the cluster's minimal case: as kept beside it, or measured (a folder written
    before the size was kept)."""
    if cluster.minimal_size is None:
        cluster.minimal_size = list(size(as_case(cluster.minimal)))
    return cluster.minimal_size


def _shrink(cluster: findings.Cluster, pool, budget: int) -> None:
    """The cluster's case reduced while it still gives its backend the same outcome."""
    def reproduces(candidate: dict) -> bool:
        result = compare_many([_arguments(candidate)], backends=[cluster.backend],
                              pool=pool)[0].results[cluster.backend]
        return any((o.backend, o.status, o.signature) == cluster.key
                   for o, _ in _outcomes(cluster.backend, result))

    smallest = shrink(as_case(cluster.minimal), reproduces, budget)
    cluster.minimal, cluster.minimal_size = as_json(smallest), list(size(smallest))


def _side_by_side(minimal: dict, backends: list[str], pool, backward: bool = False
                  ) -> tuple[dict, dict]:
    """The reference's and every backend's output on the minimal case (``backward``: their
    gradients; small ones written out), and each backend's detail there."""
    comparison = compare_many([_arguments(as_case(minimal))], backends=backends, pool=pool)[0]
    if backward:
        shown = {"reference gradient": comparison.grad_reference}
        shown.update({name: r.grad_input if r.grad_input is not None else
                      f"{r.grad_status}: {r.grad_detail}"
                      for name, r in comparison.results.items()})
        return _written(shown), {name: r.grad_detail for name, r in comparison.results.items()}
    shown = {"reference": comparison.reference}
    shown.update({name: r.output if r.output is not None else f"{r.status}: {r.detail}"
                  for name, r in comparison.results.items()})
    return _written(shown), {name: r.detail for name, r in comparison.results.items()}


def _written(shown: dict) -> dict:
    return {name: (value if isinstance(value, str) else
                   _finite_json(value.tolist()) if value.size <= SHOWN_CELLS else
                   f"{value.dtype} array of shape {list(value.shape)}")
            for name, value in shown.items()}


def _finite_json(value):
    """Nested lists with NaN and infinities as the strings "nan", "inf", "-inf" (strict JSON)."""
    if isinstance(value, list):
        return [_finite_json(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    return value


def as_json(case: dict) -> dict:
    """A drawn case as ``report --cases`` reads it: the input written out."""
    x = case["X"]
    return {"name": case["name"], "op": case["op"], "dtype": x.dtype.name,
            "shape": list(x.shape), "input": x.tolist(), "kwargs": case["kwargs"]}


def as_case(data: dict) -> dict:
    """``as_json``'s inverse."""
    x = np.array(data["input"], dtype=data["dtype"]).reshape(data["shape"])
    return {"name": data["name"], "op": data["op"], "X": x, "kwargs": dict(data["kwargs"])}


def start(seed: int, backends: list[str], operations, shards: int = 1,
          shard: int = 0, grad: bool = False) -> Campaign:
    """A new campaign, or part ``shard`` of ``shards`` of it; ``grad``: the backward pass
    compared too (its operations checked: ``PoolingError`` naming ``--ops``)."""
    checked(operations, grad)
    if not 0 <= shard < shards:
        raise PoolingError(f"--shard: got {shard} of --shards {shards}; allowed: 0 to "
                           f"{shards - 1}")
    return Campaign(seed, list(backends), tuple(operations), shards=shards, shard=shard,
                    grad=grad)


__all__ = ["Campaign", "Tick", "run", "finish", "merge", "start", "as_json", "as_case", "OPERATIONS"]
