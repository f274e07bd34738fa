"""What a campaign found: each backend's result that is not ``agree``, classified by the cause
``compare``'s diagnosis named (the parenthesized reason after the first differing cell), and
grouped into clusters of one (backend, outcome, cause signature).

A result is **explained** where the diagnosis names its cause (NaN ignored, the divisor's rule,
a tie broken otherwise, ...) or it is a call measured to crash that was not run; it is
**unexplained** where it differs with no cause named, errors, or its worker crashed.  The
signature is the cause with its numbers replaced by ``#`` (the same rule at other cells and
sizes is one cluster); an unexplained error's is its kind and message, numbers replaced too.
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np

from ..runtime.envs import canonical, split_machine

_NUMBER = re.compile(r"-?\d+(\.\d+)?(e[-+]?\d+)?|nan|inf")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One backend's result on one case, classified."""

    backend: str
    status: str  # differ | error | unavailable
    explained: bool
    signature: str  # what clusters it: the cause (or the error) with numbers as "#"


#: how an error begins where the toolkit declines a case for a backend, saying why (a kernel
#: the framework lacks, indices it cannot number in the framework's own code): the adapter's
#: exceptions, not the framework's (those come as ``BackendError: <backend>: ...``)
DECLINED = ("PoolingError: ", "NotImplementedError: ")


def classify(backend: str, status: str, detail: str) -> Outcome | None:
    """The outcome of a result of ``status`` with ``detail``; None for ``agree``."""
    if status == "agree":
        return None
    if status == "differ":
        causes = [c for c in _parenthesized(detail) if re.search("[A-Za-z]", c)]
        if causes:
            return Outcome(backend, status, True, "; ".join(_general(c) for c in causes))
        return Outcome(backend, status, False, "differs, no cause named")
    if status == "error" and ": not run: " in detail:  # a known crash, not run
        return Outcome(backend, status, True, _general(detail.split(": not run: ", 1)[1]))
    if status == "error" and detail.startswith(DECLINED):  # the adapter's own, with its reason
        return Outcome(backend, status, True, _general(detail.split(": ", 1)[1]))
    return Outcome(backend, status, False, _general(detail)[:200])


def twin_outcomes(results: dict, grad: bool = False) -> list[tuple[Outcome, str]]:
    """Columns of one framework and version on different machines (``pytorch`` and
    ``pytorch:gpu-box``) whose outputs (``grad``: and gradients) are not equal (NaN equal to
    NaN; 0.0 and -0.0 equal): each as an outcome of the later column, ``differs between machines``, with
    the column it differs from.  Explained: the machine is the cause, whether or not both agree
    with the reference (a column that does not has its own finding as well)."""
    found, first = [], {}
    for name, result in results.items():
        column = canonical(split_machine(name)[0])
        twin = first.setdefault(column, (name, result))
        if twin[0] == name:
            continue
        pairs = [("", result.output, twin[1].output)]
        if grad:
            pairs.append(("backward ", result.grad_input, twin[1].grad_input))
        for prefix, mine, theirs in pairs:
            apart = None if mine is None or theirs is None else _apart(mine, theirs)
            if apart is not None:
                found.append((Outcome(name, f"{prefix}differs between machines", True,
                                      f"differs from {twin[0]}, the same framework and version "
                                      f"on another machine"), apart))
    return found


def _apart(a: np.ndarray, b: np.ndarray) -> str | None:
    """How two columns' arrays differ, in a few words; None where they are equal (shape,
    dtype and every value, NaN equal to NaN)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"{a.dtype} {list(a.shape)} against {b.dtype} {list(b.shape)}"
    differ = a != b
    if a.dtype.kind in "fc":
        differ &= ~(np.isnan(a) & np.isnan(b))
    if not differ.any():
        return None
    first = tuple(int(i) for i in np.argwhere(differ)[0])
    return (f"{int(differ.sum())} of {a.size} cells differ; first at {first}: {a[first]!r} "
            f"against {b[first]!r}")


def _parenthesized(text: str) -> list[str]:
    """The outermost parenthesized phrases of ``text``, nested ones kept inside them (a cause
    with words; an index tuple such as ``(0, 1, 2)`` has none)."""
    found, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "(":
            depth, start = depth + 1, (i + 1 if depth == 0 else start)
        elif char == ")" and depth:
            depth -= 1
            if depth == 0:
                found.append(text[start:i])
    return found


def _general(text: str) -> str:
    """``text`` with its numbers as ``#``: one signature for one rule at any cell or size."""
    return _NUMBER.sub("#", text).strip()


@dataclasses.dataclass
class Cluster:
    """Findings of one (backend, outcome, signature): how many, and the cases showing it."""

    backend: str
    status: str
    explained: bool
    signature: str
    cases: list[str] = dataclasses.field(default_factory=list)  # their names, in order
    #: the smallest case showing it (``shrink``), as ``cases.json`` holds it; None: not shrunk
    minimal: dict | None = None
    #: ``shrink.size`` of ``minimal``, kept beside it so that a new finding is weighed
    #: against it without reading the case back into an array
    minimal_size: list | None = None
    #: the backends' outputs on the minimal case, side by side: name -> nested list
    outputs: dict = dataclasses.field(default_factory=dict)
    detail: str = ""  # the first finding's own detail

    @property
    def key(self) -> tuple:
        return self.backend, self.status, self.signature

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Cluster":
        return cls(**data)


def add(clusters: dict, outcome: Outcome, case_name: str, detail: str) -> Cluster:
    """``outcome`` of ``case_name`` into its cluster of ``clusters`` (a dict by key)."""
    key = (outcome.backend, outcome.status, outcome.signature)
    cluster = clusters.get(key)
    if cluster is None:
        cluster = clusters[key] = Cluster(outcome.backend, outcome.status, outcome.explained,
                                          outcome.signature, detail=detail)
    cluster.cases.append(case_name)
    return cluster
