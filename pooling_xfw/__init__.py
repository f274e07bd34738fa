"""pooling-xfw: 1-, 2- and 3-D pooling that gives the same numbers in MXNet, PyTorch, TensorFlow,
Paddle, JAX and ONNX Runtime, and says exactly why when it doesn't.

Public API: ``pool1d``, ``pool2d``, ``pool3d`` and ``pool`` (the numpy reference; ``pool`` takes
its rank from the layout), ``pool1d_grad``, ``pool2d_grad``, ``pool3d_grad`` and ``pool_grad`` (their gradients,
``pooling_xfw.gradient``), ``adaptive_pool1d/2d/3d`` and ``global_pool1d/2d/3d`` (adaptive and
global pooling, ``pooling_xfw.adaptive``) and ``adaptive_pool1d_grad/2d_grad/3d_grad``, ``compare`` and ``compare_many`` (every backend
against it, each in its own worker process), ``translate`` / ``explain`` (the porting
assistant), ``PoolingError``, ``output_shape``, ``resolve_padding``, ``pool_cost``, ``cases``
(the chapter's examples as data).
Importing this package imports numpy only, so every backend worker can import it.
"""
from . import _checkout, cases
from .adaptive import (adaptive_pool1d, adaptive_pool2d, adaptive_pool3d, global_pool1d,
                       global_pool2d, global_pool3d)
from .adaptive_gradient import adaptive_pool1d_grad, adaptive_pool2d_grad, adaptive_pool3d_grad
from .compare import BackendResult, Comparison, compare, compare_many
from .cost import PoolCost, pool_cost
from .errors import PoolingError
from .gradient import pool1d_grad, pool2d_grad, pool3d_grad, pool_grad
from .indices import (INDEX_CONVENTIONS, convert_indices, max_unpool1d, max_unpool2d,
                      max_unpool3d, pool1d_with_indices, pool2d_with_indices, pool3d_with_indices)
from .reference import pool, pool1d, pool2d, pool3d
from .spec import Geometry, PoolSpec, make_spec, output_shape, resolve, resolve_padding
from .version import __version__


def translate(call: str, frm: str, shape, to=None, verify: bool = True, **kwargs):
    """A framework's own pooling call, read with that framework's defaults, in every framework.

    Args:
        call: the call as written, e.g. ``"nn.MaxPool2d(3, stride=2)"``.
        frm: its framework (a porting source: ``registry.porting_sources()``).
        shape: the input's shape in the call's layout.
        to: the target backends (default: the default ones).
        verify: run the call as written and every target on random inputs of several sizes.
        **kwargs: ``pool``, the ``WorkerPool`` to run in.

    Returns:
        A ``porting.Translation``: the neutral spec, per target its code, verdict and check.

    Raises:
        PoolingError: a call not understood, or an invalid argument, naming what is allowed.
    """
    from .porting import translate as _translate

    return _translate(call, frm, shape, to=to, verify=verify, **kwargs)


def explain(call_a: str, frm_a: str, call_b: str, frm_b: str, shape=None, verify: bool = True,
            **kwargs):
    """Are two native pooling calls equivalent, and if not, why.

    Args:
        call_a: the first call, as written.
        frm_a: its framework.
        call_b: the second call, as written (with ``frm_b="recipe"``: a known broken port's
            name, ``porting.recipes.recipes()``).
        frm_b: its framework, or ``"recipe"``.
        shape: the input shape (in A's layout) to judge; by default every H, W from 1 to 9.
        verify: run both calls on the smallest input that shows each difference.
        **kwargs: ``pool``, the ``WorkerPool`` to run in.

    Returns:
        A ``porting.Explanation`` (or ``RecipeExplanation``): each cause, classified, and its
        witness.

    Raises:
        PoolingError: a call not understood, or an invalid argument, naming what is allowed.
    """
    from .porting import explain as _explain

    return _explain(call_a, frm_a, call_b, frm_b, shape=shape, verify=verify, **kwargs)


_checkout.map_adapters()

__all__ = ["pool1d", "pool2d", "pool3d", "pool", "pool1d_grad", "pool2d_grad", "pool3d_grad",
           "pool_grad",
           "adaptive_pool1d", "adaptive_pool2d", "adaptive_pool3d", "adaptive_pool1d_grad",
           "adaptive_pool2d_grad", "adaptive_pool3d_grad", "global_pool1d",
           "global_pool2d", "global_pool3d", "pool1d_with_indices", "pool2d_with_indices",
           "pool3d_with_indices", "convert_indices", "INDEX_CONVENTIONS", "max_unpool1d",
           "max_unpool2d", "max_unpool3d", "compare",
           "compare_many", "translate", "explain", "Comparison", "BackendResult",
           "PoolingError", "output_shape", "resolve_padding", "pool_cost", "PoolCost", "cases",
           "PoolSpec", "Geometry", "make_spec", "resolve", "__version__"]
