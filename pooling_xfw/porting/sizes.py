"""Which input sizes a translation's code holds for.

An adapter's plan for one input size is verified code for that size (the adapters' tests).  The
code printed for ``--shape`` therefore holds for every other size whose plan renders the same
code (its comments aside): that is sufficient, and it is what this module computes, one axis
at a time (the window, stride and pads of one axis never depend on another), over sizes
1..``limit``, and
describes as a condition the printed code checks at run time.  The plans' size-dependent
parts (SAME pads, ceil overhang, a dropped last window) repeat with the stride, so a condition
``H >= a and H % m in (...)`` found on the sampled range holds beyond it.
"""
from __future__ import annotations

import dataclasses
import math

from ..errors import PoolingError
from ..layout import spatial_axes, spatial_names


def code_lines(code: str) -> tuple[str, ...]:
    """The statements of rendered code (comments dropped: they name the input's shape)."""
    return tuple(line for line in code.splitlines() if not line.lstrip().startswith("#"))


def with_spatial(shape: tuple, layout: str, spatial: tuple[int, ...]) -> tuple:
    """``shape`` with its spatial sizes ((W,), (H, W) or (D, H, W)) replaced by ``spatial``."""
    shape = list(shape)
    for axis, n in zip(spatial_axes(len(shape), layout), spatial):
        shape[axis] = n
    return tuple(shape)


def spatial_of(shape: tuple, layout: str) -> tuple[int, ...]:
    """The spatial sizes of an input of ``shape`` in ``layout``."""
    return tuple(int(shape[axis]) for axis in spatial_axes(len(shape), layout))


def label(shape: tuple, layout: str) -> str:
    """The spatial sizes as people write them: ``5x6`` (one number for 1-D pooling)."""
    return "x".join(map(str, spatial_of(shape, layout)))


def at(spatial: tuple[int, ...], index: int, n: int) -> tuple[int, ...]:
    """``spatial`` with its axis ``index`` at ``n``."""
    return spatial[:index] + (n,) + spatial[index + 1:]


def resolve_op(op, kwargs: dict, shape: tuple):
    """The geometry of the operation ``op``'s neutral keywords for an input of ``shape``."""
    return op.geometry(shape, **kwargs)


def defined(op, kwargs: dict, shape: tuple) -> bool:
    """Whether the neutral spec pools an input of ``shape`` (no window of padding only, none
    wider than the padded input; adaptive and global pooling: any non-empty input)."""
    try:
        resolve_op(op, kwargs, shape)
    except PoolingError:
        return False
    return True


def sample_limit(op, kwargs: dict) -> int:
    """Sizes 1..limit sampled per axis (``Operation.sample_limit``)."""
    return op.sample_limit(kwargs)


@dataclasses.dataclass
class AxisCondition:
    """The sizes of one axis that a piece of code holds for, among those the spec defines."""

    axis: str
    start: int  # from this size on, the periodic rule holds
    modulus: int
    residues: tuple[int, ...]  # sizes >= start hold iff size % modulus is one of these
    below: tuple[int, ...]  # sizes < start that hold
    everywhere: bool  # every size the spec defines

    def holds(self, n: int) -> bool:
        return self.everywhere or n in self.below or (
            n >= self.start and n % self.modulus in self.residues)

    def expression(self) -> str:
        """The condition as Python over the axis' name (``H % 2 == 1 and H >= 5``)."""
        a, parts = self.axis, []
        if self.residues:
            rule = [f"{a} >= {self.start}"] if self.start > 1 else []
            if self.modulus > 1:
                rule.insert(0, f"{a} % {self.modulus} == {self.residues[0]}" if len(
                    self.residues) == 1 else f"{a} % {self.modulus} in {self.residues}")
            parts.append(" and ".join(rule) or "True")
        if self.below:
            parts.insert(0, f"{a} == {self.below[0]}" if len(self.below) == 1
                         else f"{a} in {self.below}")
        return " or ".join(f"({p})" if " and " in p and len(parts) > 1 else p
                           for p in parts) or "False"

    def at_least(self, n: int) -> "AxisCondition":
        """This condition and ``size >= n``."""
        if n <= 1:
            return self
        if self.everywhere:
            return AxisCondition(self.axis, n, 1, (0,), (), False)
        return AxisCondition(self.axis, max(self.start, n), self.modulus, self.residues,
                             tuple(b for b in self.below if b >= n), False)

    def examples(self, count: int = 4) -> str:
        found, n = [], 1
        while len(found) < count and n < self.start + count * self.modulus + 1:
            if self.holds(n):
                found.append(n)
            n += 1
        return ", ".join(map(str, found)) + (", ..." if self.residues else "")


def describe(axis: str, holds: dict[int, bool], period: int) -> AxisCondition:
    """The condition matching ``holds`` (size -> the code holds there) on every sampled size,
    of the form "a listed few, or from ``start`` on, sizes of some residues modulo ``m``"; ``m``
    is 1, the stride, or its multiples, whichever fits first with two periods of evidence."""
    sizes = sorted(holds)
    if all(holds.values()):
        return AxisCondition(axis, 1, 1, (0,), (), True)
    last = sizes[-1]
    for modulus in [1] + [period * j for j in range(1, 4)]:
        for start in sizes:
            if last - start + 1 < 2 * modulus:
                break
            residues = {n % modulus for n in sizes if n >= start and holds[n]}
            if all(holds[n] == (n % modulus in residues) for n in sizes if n >= start):
                below = tuple(n for n in sizes if n < start and holds[n])
                return AxisCondition(axis, start, modulus, tuple(sorted(residues)), below,
                                     False)
    return AxisCondition(axis, last + 1, 1, (), tuple(n for n in sizes if holds[n]), False)


def conditions(render, op, kwargs: dict, shape: tuple, also=None) -> list[AxisCondition]:
    """Per axis, where ``render(shape)`` (a target's code for an input of ``shape``, or a
    ``PoolingError``) gives the code it gives for ``shape`` itself, and ``also(shape, axis)``
    holds where given (``axis``: the index of the spatial axis varied)."""
    layout = kwargs["layout"]
    spatial = spatial_of(shape, layout)
    printed = code_lines(render(shape))
    periods = op.period(kwargs)
    found = []
    for index, axis in enumerate(spatial_names(layout)):
        holds = {}
        for n in range(1, sample_limit(op, kwargs) + 1):
            other = with_spatial(shape, layout, at(spatial, index, n))
            if not defined(op, kwargs, other):
                continue
            try:
                holds[n] = code_lines(render(other)) == printed and (
                    also is None or also(other, index))
            except PoolingError:
                holds[n] = False
        found.append(describe(axis, holds, periods[index]))
    return found


def precondition(conds: list[AxisCondition], layout: str) -> list[str]:
    """Lines that make printed code refuse a size it does not hold for (empty: it holds for
    every size the spec defines)."""
    narrow = [c for c in conds if not c.everywhere]
    if not narrow:
        return []
    names = spatial_names(layout)
    axes = spatial_axes(len(layout), layout)
    test = " and ".join(f"({c.expression()})" if " or " in c.expression() else c.expression()
                        for c in narrow)
    got = ", ".join(f"{c.axis}={{{c.axis}}}" for c in narrow)
    return [f"# holds for input sizes with {test}; translate again with --shape for others",
            f"{', '.join(names)} = {', '.join(f'x.shape[{a}]' for a in axes)}",
            f"if not ({test}):",
            f"    raise ValueError(f\"this translation holds for {test} only; got {got}\")"]


def summary(conds: list[AxisCondition]) -> str:
    """``valid for H in 5, 7, 9, ... (H % 2 == 1 and H >= 5)`` for the axes that are narrowed."""
    return "; ".join(f"{c.axis} in {c.examples()} ({c.expression()})"
                     for c in conds if not c.everywhere)


def insert_precondition(code: str, lines: list[str]) -> str:
    """``lines`` placed after the imports and the note on ``x``, before the first step."""
    if not lines:
        return code
    rows = code.splitlines()
    first = next((i for i, row in enumerate(rows) if " = " in row and not row.startswith(
        ("import ", "from ", "#"))), len(rows))
    return "\n".join(rows[:first] + lines + rows[first:])


def smallest_defined(op, kwargs: dict, shape: tuple) -> tuple[int, ...]:
    """Per axis, the smallest size the neutral spec pools (the other axes at their sizes in
    ``shape``): below it a window reads only padding or reaches past the padded input."""
    layout = kwargs["layout"]
    spatial = spatial_of(shape, layout)
    found = []
    for index in range(len(spatial)):
        n = 1
        while not defined(op, kwargs, with_spatial(shape, layout, at(spatial, index, n))):
            n += 1
            if n > sample_limit(op, kwargs):
                break
        found.append(n)
    return tuple(found)


def undefined_shapes(op, kwargs: dict, shape: tuple) -> list[tuple]:
    """``shape`` with every spatial axis at a size the neutral spec does not pool, below the
    smallest it does (1 and the largest size below that, on every axis at once): where a
    framework may still return a result (an empty output, a window reaching past the input)
    and a translation may not."""
    small = min(smallest_defined(op, kwargs, shape))
    layout = kwargs["layout"]
    spatial = len(spatial_of(shape, layout))
    return [with_spatial(shape, layout, (n,) * spatial) for n in sorted({1, small - 1})
            if 1 <= n < small
            and not defined(op, kwargs, with_spatial(shape, layout, (n,) * spatial))]


def verification_shapes(op, kwargs: dict, shape: tuple) -> list[tuple]:
    """``shape``, and the same with every spatial axis at 5, 6, 7, 8 and at a small size
    (``Operation.small_size``), where the spec pools them."""
    layout = kwargs["layout"]
    small = op.small_size(kwargs)
    spatial = len(spatial_of(shape, layout))
    found = [tuple(shape)]
    for sizes in [(n,) * spatial for n in (5, 6, 7, 8)] + [small]:
        other = with_spatial(shape, layout, sizes)
        if other not in found and defined(op, kwargs, other) and math.prod(other) <= 1 << 20:
            found.append(other)
    return found
