"""How a user's pooling arguments are read, at any number of spatial axes: ints, one size per
axis, the spellings of padding, the bound every size keeps (C int64), ``ceil_mode``'s three
values and the avg divisor, each refusal naming the argument and what it allows."""
from __future__ import annotations

import functools
import numbers
import os
from typing import Sequence, Union

import numpy as np

from .errors import PoolingError

PADDING_STRINGS = ("valid", "same", "same_lower")

Pads = tuple[tuple[int, int], ...]  # (before, after) per spatial axis
PaddingArg = Union[int, str, Sequence]

#: every size (window, stride, dilation, pad, padded length) is an int <= this (C int64)
MAX_SIZE = 2**63 - 1


def fail(arg: str, value, allowed: str) -> PoolingError:
    """The error for argument ``arg`` given ``value``: what it got and what is allowed."""
    return PoolingError(f"{arg}: got {value!r}; allowed: {allowed}")


def is_int(value) -> bool:
    """Whether ``value`` is an integer (numpy's included), not a bool."""
    if type(value) is int:  # the common case, without the ABC check
        return True
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


#: how one int per spatial axis is written, by the number of axes
_PER_AXIS = {1: "(w,)", 2: "a pair (h, w)", 3: "(d, h, w)"}
_PAIRS = {1: "((before, after),)", 2: "((top, bottom), (left, right))",
          3: "((front, back), (top, bottom), (left, right))"}


def sizes(arg: str, value, minimum: int, rank: int = 2) -> tuple[int, ...]:
    """An int, or one int per spatial axis (``rank`` of them), each >= minimum and < 2**63.

    Raises:
        PoolingError: naming ``arg`` and the forms allowed.
    """
    if type(value) is int and minimum <= value <= MAX_SIZE:
        return (value,) * rank
    given = (value,) * rank if is_int(value) else value
    if (not isinstance(given, (tuple, list)) or len(given) != rank
            or not all(is_int(v) for v in given)
            or any(v < minimum or v > MAX_SIZE for v in given)):
        raise fail(arg, value, f"an int >= {minimum} and < 2**63 (C int64), or "
                                f"{_PER_AXIS[rank]} of such ints")
    return tuple(int(v) for v in given)


def _padding_allowed(rank: int) -> str:
    per_axis = {1: "(p,)", 2: "(ph, pw)", 3: "(pd, ph, pw)"}[rank]
    return (f"an int >= 0 and < 2**63; {per_axis}; {_PAIRS[rank]}; or one of 'valid', 'same', "
            f"'same_lower' (any case)")




def normalize_padding(padding: PaddingArg, rank: int = 2) -> str | Pads:
    """A lower-case padding word, or explicit ``(before, after)`` pads per spatial axis.

    Args:
        padding: an int; one int per axis; one ``(before, after)`` pair per axis; or
            ``"valid"``, ``"same"`` or ``"same_lower"``.
        rank: the number of spatial axes.

    Returns:
        The word, or ``rank`` pairs (2-D: ``((top, bottom), (left, right))``).

    Raises:
        PoolingError: naming ``padding`` and the forms allowed; a bare ``(before, after)`` pair
            for one axis is refused as ambiguous, with the spelling that says it.
    """
    allowed = _padding_allowed(rank)
    if type(padding) is int and 0 <= padding <= MAX_SIZE:
        return ((padding, padding),) * rank
    if isinstance(padding, str):
        if padding.lower() not in PADDING_STRINGS:
            raise fail("padding", padding, allowed)
        return padding.lower()
    if is_int(padding):
        padding = (padding,) * rank
    if (rank == 1 and isinstance(padding, (tuple, list)) and len(padding) == 2
            and all(is_int(p) for p in padding)):
        raise fail("padding", padding, f"{allowed}; a bare pair is ambiguous for one axis: "
                                        f"write (before, after) as (({padding[0]}, "
                                        f"{padding[1]}),)")
    if isinstance(padding, (tuple, list)) and len(padding) == rank:
        if all(is_int(p) for p in padding):
            padding = tuple((p, p) for p in padding)
        if all(isinstance(p, (tuple, list)) and len(p) == 2 and all(is_int(v) for v in p)
               for p in padding):
            pads = tuple((int(a), int(b)) for a, b in padding)
            if min(min(p) for p in pads) < 0:
                raise fail("padding", padding, allowed + " (pads are never negative)")
            if max(max(p) for p in pads) > MAX_SIZE:
                raise fail("padding", padding, allowed + " (pads < 2**63, C int64)")
            return pads
    raise fail("padding", padding, allowed)


#: ``ceil_mode``'s values: floor, ceil with PyTorch's drop rule, ceil keeping every window
CEIL_MODES = (False, True, "keep")


def check_ceil_mode(ceil_mode) -> bool | str:
    """``ceil_mode`` checked: False, True or "keep" (``PoolingError`` naming it otherwise)."""
    if isinstance(ceil_mode, (bool, np.bool_)):
        return bool(ceil_mode)
    if isinstance(ceil_mode, str) and ceil_mode.lower() == "keep":
        return "keep"
    raise fail("ceil_mode", ceil_mode, "False, True (a last window that would start in the "
                                       "padding is dropped) or 'keep' (it is kept)")


#: how ``divisor=d`` divides an avg window: "sum", the window's sum over ``d`` whatever
#: ``count_include_pad`` says (PyTorch's ``divisor_override``, ``d=1``: sum pooling, MXNet's
#: ``pool_type='sum'``); "mean", the window's average (``count_include_pad`` and the ceil
#: overhang as without a divisor) times its cell count over ``d`` (Paddle's
#: ``divisor_override``: equal to "sum" where padding counts and no window overhangs)
DIVISOR_RULES = ("sum", "mean")


def check_divisor(divisor, divisor_of: str, mode: str) -> tuple[int | None, str]:
    """``divisor`` and ``divisor_of`` checked (``make_spec``)."""
    if divisor_of not in DIVISOR_RULES:
        raise fail("divisor_of", divisor_of, " or ".join(map(repr, DIVISOR_RULES)))
    if divisor is None:
        if divisor_of != "sum":
            raise fail("divisor_of", divisor_of, "'sum' without a divisor (divisor_of says "
                                                 "how divisor=d divides)")
        return None, "sum"
    if isinstance(divisor, (bool, np.bool_)) or not isinstance(divisor, numbers.Integral) or (
            abs(int(divisor)) >= MAX_SIZE):
        raise fail("divisor", divisor, "None or a non-zero int (a divisor_override)")
    if mode != "avg":
        raise fail("divisor", divisor, f"None with mode={mode!r} (a divisor divides an avg "
                                       f"window only)")
    if divisor == 0 and divisor_of == "sum":
        raise fail("divisor", divisor, "a non-zero int (the sum rule has no 0); 0 only with "
                                       "divisor_of='mean', which gives inf")
    return int(divisor), divisor_of


@functools.lru_cache(maxsize=1)
def memory_limit() -> int:
    """Bytes of this machine's physical memory (2**63 - 1 where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return MAX_SIZE


def format_bytes(count: int) -> str:
    """``count`` bytes in decimal units: 512 B, 7.4 TB, 32.0 EB."""
    size, unit = float(count), "B"
    for unit in ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"):
        if size < 1000 or unit == "YB":
            break
        size /= 1000
    return f"{count} B" if unit == "B" else f"{size:.1f} {unit}"
