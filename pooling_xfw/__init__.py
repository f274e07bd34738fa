"""pooling-xfw: 2-D pooling that gives the same numbers in MXNet, PyTorch, TensorFlow and Paddle.

Public API: ``pool2d`` (the numpy reference), ``compare`` (every backend against it, each
in its own worker process), ``PoolingError``, ``output_shape``,
``resolve_padding``, ``pool_cost``, ``cases`` (the chapter's examples as data).
Importing this package imports numpy only, so every backend worker can import it.
"""
from . import cases
from .compare import BackendResult, Comparison, compare
from .cost import PoolCost, pool_cost
from .errors import PoolingError
from .reference import pool2d
from .spec import Geometry, PoolSpec, make_spec, output_shape, resolve, resolve_padding

__all__ = ["pool2d", "compare", "Comparison", "BackendResult", "PoolingError", "output_shape", "resolve_padding", "pool_cost", "PoolCost",
           "cases", "PoolSpec", "Geometry", "make_spec", "resolve"]
__version__ = "0.1.0"
