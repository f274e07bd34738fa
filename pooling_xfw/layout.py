"""Where a layout puts its axes, for any number of spatial axes.

A layout names the axes of a full input: ``N`` (batch), ``C`` (channels) and the spatial axes
(``W``; ``H, W``; ``D, H, W``), channels first (``"NCHW"``) or last (``"NHWC"``).  An input may
leave out ``N``, or ``N`` and ``C``: ``(C, H, W)`` / ``(H, W, C)`` and ``(H, W)`` are pooled as
``(1, C, H, W)`` / ``(1, H, W, C)`` and ``(1, 1, H, W)``.  Every rule here reads the rank from
the layout's letters, so one spelling serves 1-D, 2-D and 3-D alike.
"""
from __future__ import annotations

from collections.abc import Sequence

from .errors import PoolingError

#: the layouts of each number of spatial axes, the default first (channels first, as PyTorch,
#: ONNX, Paddle and MXNet take them)
LAYOUTS_BY_RANK = {1: ("NCW", "NWC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}
LAYOUTS = tuple(layout for pair in LAYOUTS_BY_RANK.values() for layout in pair)


def check_layout(layout, spatial_rank: int | None = None) -> str:
    """``layout`` in upper case, checked: one of the layouts of ``spatial_rank`` spatial axes
    (any rank's when None).

    Raises:
        PoolingError: naming ``layout`` and the layouts allowed.
    """
    allowed = LAYOUTS if spatial_rank is None else LAYOUTS_BY_RANK[spatial_rank]
    if not isinstance(layout, str) or layout.upper() not in allowed:
        names = ", ".join(f"'{a}'" for a in allowed)
        raise PoolingError(f"layout: got {layout!r}; allowed: "
                           f"{names.replace(', ', ' or ') if len(allowed) == 2 else names}")
    return layout.upper()


def channels_last(layout: str) -> bool:
    """Whether ``layout`` puts the channels after the spatial axes (``"NHWC"``)."""
    return layout.endswith("C")


def spatial_names(layout: str) -> str:
    """The spatial axes' letters in order: ``"HW"`` for ``"NCHW"`` and ``"NHWC"``."""
    return layout[1:-1] if channels_last(layout) else layout[2:]


def spatial_list(layout: str) -> str:
    """The spatial axes' letters as a sentence lists them: ``"W"``, ``"H and W"``,
    ``"D, H and W"``."""
    names = spatial_names(layout)
    return names if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def rank(layout: str) -> int:
    """How many spatial axes ``layout`` has."""
    return len(layout) - 2


def axis_labels(ndim: int, layout: str) -> tuple[str, ...]:
    """The axes of an input of rank ``ndim`` in ``layout``: the layout's letters, without ``N``
    when one axis is left out, and without ``N`` and ``C`` when two are."""
    spatial_axes(ndim, layout)  # checks ndim
    if ndim == len(layout):
        return tuple(layout)
    if ndim == rank(layout):
        return tuple(spatial_names(layout))
    return tuple(layout[1:])


def spatial_axes(ndim: int, layout: str) -> tuple[int, ...]:
    """The positions of the spatial axes in an input of rank ``ndim`` and ``layout``.

    Args:
        ndim: the input's rank: the layout's, or one or two less (``N``, or ``N`` and ``C``,
            left out).
        layout: a layout such as ``"NCHW"`` or ``"NHWC"``.

    Returns:
        One axis per spatial axis, in the layout's order.

    Raises:
        PoolingError: ``ndim`` is none of the three ranks, naming ``X`` and the ranks allowed.
    """
    names, n = ", ".join(spatial_names(layout)), rank(layout)
    if ndim not in (n, n + 1, n + 2):
        raise PoolingError(
            f"X: got '<array of rank {ndim}>'; allowed: rank {n} ({names}), {n + 1} (C, {names}) / "
            f"({names}, C), or {n + 2} (N, C, {names}) / (N, {names}, C)")
    first = ndim - n - (1 if channels_last(layout) and ndim > n else 0)
    return tuple(range(first, first + n))


def spatial_index(ndim: int, layout: str, slices: Sequence) -> tuple:
    """An index of an array of rank ``ndim`` in ``layout``: ``slices`` (one per spatial axis)
    on the spatial axes, every other axis whole."""
    index = [slice(None)] * ndim
    for axis, part in zip(spatial_axes(ndim, layout), slices):
        index[axis] = part
    return tuple(index)


def full_shape(shape: Sequence[int], layout: str) -> tuple[int, ...]:
    """The shape of the full-rank array an input of ``shape`` is pooled as (1s added for the
    axes left out)."""
    shape = tuple(shape)
    if len(shape) == len(layout):
        return shape
    if len(shape) == rank(layout):
        return (1, *shape, 1) if channels_last(layout) else (1, 1, *shape)
    return (1, *shape)


def full_pads(layout: str, pads, ndim: int | None = None) -> tuple[tuple, ...]:
    """``(before, after)`` for every axis of an array in ``layout``: ``pads`` (one pair per
    spatial axis) there, ``(0, 0)`` on N and C (what ``np.pad`` and its kin take); ``ndim``:
    the array's rank where N, or N and C, are left out (None: the full rank)."""
    ndim = len(layout) if ndim is None else ndim
    width = [(0, 0)] * ndim
    for axis, pair in zip(spatial_axes(ndim, layout), pads):
        width[axis] = tuple(pair)
    return tuple(width)


def permutation(source: str, target: str) -> tuple[int, ...]:
    """The axes' order that transposes a full array in ``source`` into ``target`` (``"NCHW"``
    to ``"NHWC"``: ``(0, 2, 3, 1)``)."""
    return tuple(source.index(axis) for axis in target)


def of_rank(layout: str, spatial_rank: int) -> str:
    """The layout with ``layout``'s channel order and ``spatial_rank`` spatial axes (``"NHWC"``
    at 3: ``"NDHWC"``): how a framework's declared channel order reads at another rank."""
    names = "".join(axis_names(spatial_rank))
    return f"N{names}C" if channels_last(layout) else f"NC{names}"


def other_layout(layout: str) -> str:
    """The layout with the same spatial axes and the channels at the other end."""
    names = spatial_names(layout)
    return f"NC{names}" if channels_last(layout) else f"N{names}C"


#: what the cells along each spatial axis are called in words
AXIS_WORDS = {"D": "planes", "H": "rows", "W": "columns"}


def axis_names(rank: int) -> tuple[str, ...]:
    """The spatial axes' names, in order, for ``rank`` spatial axes: ("W",), ("H", "W") or
    ("D", "H", "W")."""
    return ("D", "H", "W")[3 - rank:]
