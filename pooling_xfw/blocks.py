"""The reference's numbers for a large input, computed in blocks of the axes before the first
spatial one (batch, and channels in a channels-first layout): pooling never mixes those axes,
so the temporaries stay near ``REFERENCE_BLOCK_BYTES`` instead of a multiple of the input."""
from __future__ import annotations

import math

import numpy as np

from . import ops
from .spec import spatial_axes



#: inputs larger than this are pooled by the reference in blocks of the batch/channel axes
REFERENCE_BLOCK_BYTES = 64 << 20


def reference_in_blocks(x: np.ndarray, geometry, transform=None) -> np.ndarray:
    """The reference's numbers (of ``transform(x)`` when given), computed block by block over
    the axes before H (batch, and channels in NCHW) for a large input, so temporaries stay near
    ``REFERENCE_BLOCK_BYTES`` instead of a multiple of the input (pooling never mixes those
    axes)."""
    transform = transform or (lambda block: block)
    h_axis = spatial_axes(x.ndim, geometry.spec.layout)[0]
    op = ops.of(geometry)

    def pool(array):
        return op.pool(array, geometry)

    if x.nbytes <= 2 * REFERENCE_BLOCK_BYTES or h_axis == 0 or not x.size:
        return pool(transform(x))
    out = None
    for index in _leading_blocks(x.shape[:h_axis], x.nbytes // math.prod(x.shape[:h_axis])):
        part = pool(transform(x[index]))
        if out is None:
            out = np.empty(x.shape[:h_axis] + part.shape[h_axis:], part.dtype)
        out[index] = part
    return out


def _leading_blocks(lead: tuple[int, ...], item_bytes: int) -> list[tuple[slice, ...]]:
    """Index blocks over the leading axes ``lead`` of about ``REFERENCE_BLOCK_BYTES`` each."""
    per_first = item_bytes * math.prod(lead[1:])
    if per_first <= REFERENCE_BLOCK_BYTES or len(lead) == 1:
        step = max(1, REFERENCE_BLOCK_BYTES // per_first)
        return [(slice(i, i + step),) for i in range(0, lead[0], step)]
    step = max(1, REFERENCE_BLOCK_BYTES // item_bytes)
    return [(slice(i, i + 1), slice(j, j + step)) for i in range(lead[0])
            for j in range(0, lead[1], step)]
