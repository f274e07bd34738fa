"""What the toolkit knows of one framework, declared once, beside its adapter.

Each adapter module (``adapters/<name>.py``) ends with ``BACKEND = Backend(...)``: its name and
the names people type for it, the module its environment must import, the packages its pins
set, its roles (a default column, a porting source, a target only), what another version's
venv would download, the options it adds to the command line, the environment that quiets it,
and what it was measured to do where it parts from the reference (``known``).  The registry
(``pooling_xfw.registry``) collects the declarations; shared code asks it, and names no
framework itself.
"""
from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Mapping


#: a cause ``compare`` names whose measured detail a backend may add (``Backend.causes``):
#: its float64 backward computes in float32
FLOAT64_BACKWARD_IN_FLOAT32 = "float64 backward in float32"

# The situations a backend's ``known`` outcomes are recorded for, each a key's first element:
#: ``(CONVENTIONS, row)``: a cell of the conventions table that depends on the CPU; its
#: outcomes are cells as the table writes them
CONVENTIONS = "conventions"
#: ``(GRADIENT_ERROR, row)``: the conventions row whose backward the framework's autograd
#: refuses where its forward ran; its outcome is what the error says
GRADIENT_ERROR = "gradient error"
#: ``(NAN_IN_A_MAX, op, dtype)``: a max window (or bin, or plane) holding a NaN; outcomes
#: ``NAN_OUTCOMES``
NAN_IN_A_MAX = "NaN in a max window"
NAN_OUTCOMES = ("propagated", "ignored", "NaN only as the last cell scanned",
                "NaN only as the first cell scanned")
#: ``(ONLY_INFINITE, op, dtype)``: a max window of only -inf (a min window of only +inf);
#: outcomes ``"infinity"`` (the reference's) or ``"finite extreme"`` (the dtype's lowest, or
#: highest, finite value)
ONLY_INFINITE = "a window of only infinities"
#: ``(MAX_TIES_BACKWARD,)``: where the gradient of a max window with tied extremes goes, by
#: plan; outcomes: ``"agree"`` (the first extreme, the reference's ``ties="first"``),
#: ``"split"`` (shared evenly), ``"uneven"``, ``"no dilated-max VJP"``, ``"no autograd"``
MAX_TIES_BACKWARD = "max ties, backward"

# Where an outcome was seen (``Outcomes.seen``), a machine and what else decided it:
ZEN4 = "AMD EPYC, family 25 model 17 (Zen 4), AVX-512"
INTEL_XEON = "Intel Xeon, family 6 model 167, AVX-512"
#: the machine the test recording it was first written on
FIRST_MACHINE = "the machine the test was first written on (CPU not recorded)"
#: an outcome of an elementwise maximum or a reduction, not of a kernel picked by CPU
ANY_CPU = "any CPU (an elementwise maximum or a reduction, no kernel picked by CPU)"
#: reported by an earlier probe of the framework's own call, not reproduced on ``ZEN4``
EARLIER_PROBE = "an earlier probe of the framework's own call (not reproduced on Zen 4)"
#: a property of the plan the adapter runs (which ops, in which order), not of a CPU
ANY_CPU_PLAN = "any CPU (a property of the plan the adapter runs)"

#: the float dtypes the situations are recorded for
FLOATS = ("float16", "float32", "float64")


@dataclasses.dataclass(frozen=True)
class Option:
    """A folder a backend's worker writes files into when the user asks (ONNX Runtime's
    ``--save-onnx DIR``, the models it ran): ``compare`` offers ``flag``, makes sure the folder
    can be written to, hands it to the worker in the environment variable ``variable`` and
    names each file ending in ``suffix`` the run wrote."""

    flag: str
    variable: str
    suffix: str
    help: str
    metavar: str = "DIR"


@dataclasses.dataclass(frozen=True)
class Outcomes:
    """What a framework was measured to give in one situation: each outcome (as the conventions
    table's cell or a test's name for it writes it) with where it was seen; ``why`` says why it
    varies from machine to machine, when it does."""

    seen: Mapping[str, tuple[str, ...]]
    why: str = ""

    def __post_init__(self):
        object.__setattr__(self, "seen", MappingProxyType(
            {outcome: (where,) if isinstance(where, str) else tuple(where)
             for outcome, where in self.seen.items()}))


def recorded(situation: str, seen: Mapping[str, str | tuple[str, ...]], *qualifiers,
             why: str = "") -> dict[tuple, Outcomes]:
    """The same outcomes for each combination of the ``qualifiers`` (each a value or a tuple
    of values): ``recorded(NAN_IN_A_MAX, {"ignored": ZEN4}, ("adaptive", "global"), FLOATS)``
    is six keys, ``(NAN_IN_A_MAX, "adaptive", "float16")``... ."""
    axes = [q if isinstance(q, tuple) else (q,) for q in qualifiers]
    return {(situation, *combination): Outcomes(seen, why)
            for combination in itertools.product(*axes)}


@dataclasses.dataclass(frozen=True)
class Backend:
    """One framework as the toolkit runs it (see the module docstring).

    ``known`` maps a situation (a key whose first element is one of this module's situation
    names: ``CONVENTIONS``, ``GRADIENT_ERROR``, ``NAN_IN_A_MAX``, ``ONLY_INFINITE``,
    ``MAX_TIES_BACKWARD``) to its measured ``Outcomes``, each with where it was seen: what the
    conventions table marks and lets vary, and what the tests accept and nothing else.  ``causes`` names, by key, the framework's own causes of
    a difference that ``compare`` reports (``FLOAT64_BACKWARD_IN_FLOAT32``): what was measured
    of it, in a phrase."""

    name: str  # what the command line and the reports call it: "pytorch"
    title: str  # in prose: "PyTorch"
    module: str  # what its environment imports (and reads the version of): "torch"
    packages: tuple[str, ...]  # its pins that BACKEND@VERSION sets to VERSION: ("torch",)
    #: the module of its Vocabulary and its pool2d / plan / run functions (set by the registry
    #: from the module that declares it)
    adapter: ModuleType | None = dataclasses.field(default=None, repr=False, compare=False)
    position: int = 1000  # its column among the default backends, lowest first
    aliases: tuple[str, ...] = ()  # names people type for it ("torch", "pt"), for "did you mean"
    default: bool = True  # a column of every report when no --backends are given
    dialect: ModuleType | None = dataclasses.field(default=None, repr=False, compare=False)
    target_only: str = ""  # why it is a porting target only (no dialect: its calls are not read)
    large_build: str = ""  # what a venv of another version would download, when that is much
    options: tuple[Option, ...] = ()
    # its noise off, and how its worker runs it (set before the framework is imported)
    environment: Mapping[str, str] = dataclasses.field(default_factory=dict)
    known: Mapping[tuple, Outcomes] = dataclasses.field(default_factory=dict)
    causes: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def vocabulary(self):
        """The adapter's ``Vocabulary``: how this framework spells the planner's primitives."""
        return self.adapter.VOCABULARY

    @property
    def requirements(self) -> Path:
        """Its pins: ``requirements/<name>.txt`` beside its adapter module."""
        return Path(self.adapter.__file__).resolve().parent / "requirements" / f"{self.name}.txt"

    @property
    def porting_source(self) -> bool:
        """Whether ``translate --from`` / ``explain`` / ``scan`` read its calls."""
        return not self.target_only

    def outcomes(self, *situation) -> Outcomes | None:
        """Its recorded outcomes in ``situation`` (None where none are recorded)."""
        return self.known.get(tuple(situation))
