"""Chapter exercise 3: what does a pooling layer cost?"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

from .spec import make_spec, output_shape


@dataclasses.dataclass(frozen=True)
class PoolCost:
    output_shape: tuple[int, ...]
    windows: int
    reads: int
    operations: int


def pool_cost(input_shape: Sequence[int], pool_size, mode: str = "max", *, stride=1,
              padding=0, dilation=1, ceil_mode: bool = False, layout: str = "NCHW",
              p: float = 2) -> PoolCost:
    """Cost of direct (window-by-window) pooling, as the chapter's loop computes it.

    With ``W = prod(batch, channel dims) * out_h * out_w`` windows (in 2-D; any rank alike) of
    ``K = k_h * k_w`` taps
    (taps that fall in padding are read too, as from a padded copy):

    * ``reads = W * K`` element reads;
    * ``operations``: max/min ``W * (K - 1)`` comparisons; avg ``W * K`` (``K - 1`` additions
      and one division per window); lp ``W * (2K + 1)`` (``K`` powers of ``|x|``, ``K - 1``
      additions, one root; ``+1`` absolute value per tap folded into the power).

    For the chapter's c x h x w input with window (p_h, p_w), padding (p_h, p_w) and stride
    (s_h, s_w), ``W = c * floor((h + 2p_h - p_h)/s_h + 1) * floor((w + 2p_w - p_w)/s_w + 1)``.
    """
    spec = make_spec(pool_size, mode, stride=stride, padding=padding, dilation=dilation,
                     ceil_mode=ceil_mode, layout=layout, p=p)
    out = output_shape(input_shape, pool_size, stride=stride, padding=padding,
                       dilation=dilation, ceil_mode=ceil_mode, layout=layout)
    windows = math.prod(out)
    taps = math.prod(spec.pool_size)
    per_window = {"max": taps - 1, "min": taps - 1, "avg": taps, "lp": 2 * taps + 1}
    return PoolCost(out, windows, windows * taps, windows * per_window[spec.mode])
