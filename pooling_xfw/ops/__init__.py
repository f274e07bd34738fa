"""The pooling operations, each one object (``Operation``): ``POOL`` (``px.pool2d``),
``ADAPTIVE`` (``px.adaptive_pool2d``) and ``GLOBAL`` (``px.global_pool2d``).

An operation owns its arguments and their validation, its reference, its planner entry,
whether it has a gradient, its ``compare`` option and its labels; see ``ops.base``.  Adding
one (argmax indices, unpooling, the two as a model calls them) is adding its module here and
its line in ``OPERATIONS``.
"""
from __future__ import annotations

from ..errors import PoolingError
from .adaptive import ADAPTIVE, Adaptive
from .base import Operation, check_arguments
from .global_pool import GLOBAL, Global
from .indices import INDICES, IndexedGeometry, Indices
from .pool import POOL, Pool
from .pool_unpool import POOL_UNPOOL, PipelineGeometry, PoolUnpool
from .unpool import UNPOOL, Unpool, UnpoolGeometry

#: every operation, in the order the command line and the errors list them
OPERATIONS: tuple[Operation, ...] = (POOL, ADAPTIVE, GLOBAL, INDICES, UNPOOL, POOL_UNPOOL)
#: the operation of a case or a call that names none (``compare``'s ``op=`` default)
DEFAULT = POOL

__all__ = ["Operation", "OPERATIONS", "DEFAULT", "POOL", "ADAPTIVE", "GLOBAL", "INDICES", "Pool",
           "Adaptive", "Global", "Indices", "IndexedGeometry", "UNPOOL", "Unpool", "UnpoolGeometry",
           "POOL_UNPOOL", "PoolUnpool", "PipelineGeometry", "get", "of", "check_arguments"]


def get(name=None) -> Operation:
    """The operation ``name`` (``"pool2d"``, ``"adaptive"``, ``"global"``: the API's ``op=``;
    None: ``DEFAULT``), or an ``Operation`` as it is; ``PoolingError`` naming ``op``
    otherwise."""
    if name is None:
        return DEFAULT
    if isinstance(name, Operation):
        return name
    for op in OPERATIONS:
        if name == op.name or name in op.aliases:
            return op
    raise PoolingError(f"op: got {name!r}; allowed: " + ", ".join(
        repr(op.name) + (f" (or {', '.join(map(repr, op.aliases))})" if op.aliases else "")
        for op in OPERATIONS))


def of(geometry) -> Operation:
    """The operation a resolved geometry is of."""
    from ..adaptive import AdaptiveGeometry, GlobalGeometry

    if isinstance(geometry, AdaptiveGeometry):
        return ADAPTIVE
    if isinstance(geometry, PipelineGeometry):
        return POOL_UNPOOL
    if isinstance(geometry, IndexedGeometry):
        return INDICES
    if isinstance(geometry, UnpoolGeometry):
        return UNPOOL
    return GLOBAL if isinstance(geometry, GlobalGeometry) else POOL
