"""The gradient of adaptive pooling: ``px.adaptive_pool2d_grad`` (and 1-D, 3-D), the
vector-Jacobian product of ``px.adaptive_pool2d`` with respect to ``X``.

Bins are ``pooling_xfw.adaptive``'s, ``[floor(i*n/o), ceil((i+1)*n/o))`` per axis; neighbouring
bins may share cells (7 -> 3: ``[0,3) [2,5) [4,7)``), and a cell's gradient is the sum of what
every bin reading it sends:

* avg: each bin sends ``grad_output / (its cell count)`` to each of its cells.  Bins are
  separable, so this is one small matrix product per axis (each bin's row holding
  ``1 / its length`` on its cells), in float64, cast to ``X``'s dtype.
* max: each bin sends ``grad_output`` to its maximum, as ``px.pool2d_grad`` does for a window:
  a bin with a NaN sends it to its NaN (the forward's NaN came from there); ``ties`` says where
  it goes among equal maxima: ``"first"`` in row-major order (every framework's adaptive
  pooling op: PyTorch, Paddle, MXNet), ``"split"`` evenly (a max written as a reduction),
  ``"all"`` to each.  Vectorized: each bin's cells are gathered at once (bins padded to the
  longest, the padding masked), the winners found along the last axis, and the upstream
  gradient scattered with ``np.add.at``.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .adaptive import AdaptiveGeometry, make_adaptive_spec, resolve_adaptive
from .gradient import check_ties, grad_input, upstream
from .layout import spatial_axes


def adaptive_pool2d_grad(X, output_size, mode: str = "max", *, grad_output=None,
                         ties: str = "first", layout: str = "NCHW") -> np.ndarray:
    """The gradient of ``px.adaptive_pool2d(X, output_size, mode, layout=layout)`` with respect
    to ``X``: the vector-Jacobian product with ``grad_output`` (ones when omitted), shaped and
    typed as ``X``.  See this module's docstring for bins that share cells, NaN and ties.

    Args:
        X: a float input, as ``px.adaptive_pool2d`` takes it.
        output_size: as ``px.adaptive_pool2d``'s.
        mode: ``"max"`` or ``"avg"``.
        grad_output: the upstream gradient, shaped as the output (None: ones).
        ties: where a max bin's gradient goes among equal maxima: ``"first"`` (PyTorch's,
            Paddle's and MXNet's adaptive pooling), ``"split"`` or ``"all"``.
        layout: ``"NCHW"`` or ``"NHWC"``.

    Returns:
        The gradient with respect to ``X``, shaped and typed as ``X``.

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _adaptive_grad(2, X, output_size, mode, grad_output, ties, layout)


def adaptive_pool1d_grad(X, output_size, mode: str = "max", *, grad_output=None,
                         ties: str = "first", layout: str = "NCW") -> np.ndarray:
    """The gradient of ``px.adaptive_pool1d``: ``px.adaptive_pool2d_grad``'s rules on W.

    Args:
        X: a float input, as ``px.adaptive_pool1d`` takes it.
        output_size: as ``px.adaptive_pool1d``'s.
        mode: ``"max"`` or ``"avg"``.
        grad_output: the upstream gradient, shaped as the output (None: ones).
        ties: as ``px.adaptive_pool2d_grad``'s.
        layout: ``"NCW"`` or ``"NWC"``.

    Returns:
        The gradient with respect to ``X``, shaped and typed as ``X``.

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _adaptive_grad(1, X, output_size, mode, grad_output, ties, layout)


def adaptive_pool3d_grad(X, output_size, mode: str = "max", *, grad_output=None,
                         ties: str = "first", layout: str = "NCDHW") -> np.ndarray:
    """The gradient of ``px.adaptive_pool3d``: ``px.adaptive_pool2d_grad``'s rules on D, H
    and W.

    Args:
        X: a float input, as ``px.adaptive_pool3d`` takes it.
        output_size: as ``px.adaptive_pool3d``'s.
        mode: ``"max"`` or ``"avg"``.
        grad_output: the upstream gradient, shaped as the output (None: ones).
        ties: as ``px.adaptive_pool2d_grad``'s.
        layout: ``"NCDHW"`` or ``"NDHWC"``.

    Returns:
        The gradient with respect to ``X``, shaped and typed as ``X``.

    Raises:
        PoolingError: an invalid argument, naming it and what is allowed.
    """
    return _adaptive_grad(3, X, output_size, mode, grad_output, ties, layout)


def _adaptive_grad(rank: int, X, output_size, mode: str, grad_output, ties: str,
                   layout: str) -> np.ndarray:
    spec = make_adaptive_spec(output_size, mode, layout, rank)
    ties = check_ties(ties)
    x = grad_input(X)
    return adaptive_grad_geometry(x, resolve_adaptive(spec, x.shape), grad_output, ties)


def adaptive_grad_geometry(x: np.ndarray, geom: AdaptiveGeometry, grad_output=None,
                           ties: str = "first") -> np.ndarray:
    """The gradient for a validated float input and its resolved bins (the reference's core;
    ``Adaptive.reference_grad``)."""
    up = upstream(grad_output, geom.output_shape(x.shape), x.dtype)
    axes = spatial_axes(x.ndim, geom.spec.layout)
    last = tuple(range(x.ndim - len(axes), x.ndim))
    # every spatial axis last, in order: (..., D, H, W)
    xs, ups = np.moveaxis(x, axes, last), np.moveaxis(up, axes, last)
    if x.size == 0 or up.size == 0:
        grad = np.zeros(xs.shape, x.dtype)
    elif geom.spec.mode == "avg":
        grad = _avg(ups, geom).astype(x.dtype)
    else:
        grad = _max(xs, ups, geom, ties)
    return np.ascontiguousarray(np.moveaxis(grad, last, axes))


def cells_read(geom: AdaptiveGeometry, bins: np.ndarray, x_shape) -> np.ndarray:
    """The input cells (a bool array of ``x_shape``) read by the output bins marked in
    ``bins`` (shaped as the output): ``compare``'s diagnosis of a gradient sent elsewhere."""
    axes = spatial_axes(len(x_shape), geom.spec.layout)
    last = tuple(range(len(x_shape) - len(axes), len(x_shape)))
    marked = np.moveaxis(np.asarray(bins, dtype=np.float64), axes, last)
    return np.ascontiguousarray(np.moveaxis(_avg(marked, geom) > 0, last, axes))


def _avg(up: np.ndarray, geom: AdaptiveGeometry) -> np.ndarray:
    """Each bin's ``up / its cell count`` to each of its cells: per axis, ``up`` times the
    (out x size) matrix of ``1 / length`` on every bin's cells, in float64."""
    grad = up.astype(np.float64)
    first = grad.ndim - len(geom.axes)
    for offset, bins in enumerate(geom.axes):
        cells = np.arange(bins.size)
        inside = (cells >= bins.starts[:, None]) & (cells < bins.ends[:, None])
        matrix = inside / bins.lengths[:, None]  # (out, size)
        axis = first + offset
        grad = np.moveaxis(np.tensordot(grad, matrix, axes=([axis], [0])), -1, axis)
    return grad


def _max(x: np.ndarray, up: np.ndarray, geom: AdaptiveGeometry, ties: str) -> np.ndarray:
    """Each bin's ``up`` to its maximum (its NaN if it has one), per ``ties``: the bins'
    cells gathered at once, ``(..., bins..., cells of a bin)``, padded to the longest bin."""
    rank = len(geom.axes)
    lead = x.shape[:-rank]
    sizes = x.shape[-rank:]
    index, valid = [], []
    for a, bins in enumerate(geom.axes):
        offsets = np.arange(bins.longest)
        cells = np.minimum(bins.starts[:, None] + offsets, bins.size - 1)  # (out, longest)
        shape = [1] * (2 * rank)
        shape[a], shape[rank + a] = bins.out, bins.longest
        index.append(cells.reshape(shape))
        valid.append((offsets < bins.lengths[:, None]).reshape(shape))
    # (bins..., cells...) -> flat position in the spatial block, and whether it is the bin's
    strides = np.cumprod((sizes[1:] + (1,))[::-1])[::-1]
    flat = functools.reduce(np.add, (i * s for i, s in zip(index, strides)))
    inside = functools.reduce(np.logical_and, valid)
    cells = math.prod(b.longest for b in geom.axes)
    out = tuple(b.out for b in geom.axes)
    flat = np.broadcast_to(flat, out + flat.shape[rank:]).reshape(out + (cells,))
    inside = np.broadcast_to(inside, out + inside.shape[rank:]).reshape(out + (cells,))
    planes = x.reshape((-1,) + sizes)
    work = np.float32 if x.dtype == np.float16 else x.dtype  # exact: the same order and ties
    values = planes.reshape(len(planes), -1)[:, flat].astype(work, copy=False)
    values = np.where(inside, values, -np.inf)
    top = values.max(axis=-1, keepdims=True)  # NaN where a bin has one
    hit = inside & ((values == top) | np.isnan(values))
    ups = up.reshape((len(planes),) + out + (1,))
    if ties == "first":
        first = np.argmax(hit, axis=-1)[..., None]  # every bin has a hit: a real cell
        where = np.take_along_axis(np.broadcast_to(flat, hit.shape), first, axis=-1)
        send = ups
    else:
        where = np.broadcast_to(flat, hit.shape)[hit]
        send = ups / hit.sum(axis=-1, keepdims=True) if ties == "split" else ups
        send = np.broadcast_to(send, hit.shape)[hit]
    plane = np.broadcast_to(np.arange(len(planes)).reshape((-1,) + (1,) * (hit.ndim - 1)),
                            hit.shape if ties != "first" else where.shape)
    plane = plane[hit] if ties != "first" else plane
    grad = np.zeros(len(planes) * math.prod(sizes), up.dtype)
    np.add.at(grad, (plane * math.prod(sizes) + where).reshape(-1),
              np.broadcast_to(send, where.shape).reshape(-1))
    return grad.reshape(lead + sizes)
