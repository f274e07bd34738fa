"""The cause of a difference, found from more than the values: pooling-xfw's own plan
(``plan_cause``, through the plan's numpy mirror), a divisor that leaves padding out, an
average that skips the dtype's lowest value as padding (``lowest_skipped_cause``), and
for the backward pass ties, NaN, infinities, the ceil overhang, lp at 0 and float32
precision (``grad_cause``).  Each returns '' where the data does not show the cause: a
difference stays unexplained rather than wrongly explained.

``job`` is one case on its way through the workers (``pooling_xfw.schedule``): its input
``x``, ``geometry``, ``spec``, ``kwargs``, ``reference``, tolerances and, for the backward
pass, ``grad`` (the request) and ``grad_reference``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import registry
from .backend import FLOAT64_BACKWARD_IN_FLOAT32
from .errors import PoolingError
from .judge import JUDGE_BLOCK, BackendResult, cells_agree, judge



#: inputs up to this size are run through the plan's numpy mirror when an emulated plan
#: differs (``plan_cause``): the plan's temporaries in numpy, a few times the input
MIRROR_BYTES = 64 << 20


def plan_cause(result: BackendResult, job) -> str:
    """The cause of a difference when it is pooling-xfw's own plan, not the framework: the
    backend's plan is emulated, and the same plan with numpy in place of the framework
    (``mirror``; its one native pooling call, if any, the reference's) gives the backend's
    numbers at every differing cell.  '' otherwise (or for an input over ``MIRROR_BYTES``)."""
    how = result.how or {}
    if (how.get("path") != "emulated" or not result.differing or job.x.nbytes > MIRROR_BYTES
            or result.output.shape != job.reference.shape):
        return ""
    from .mirror import mirrored_output

    try:
        with np.errstate(all="ignore"):
            planned = mirrored_output(registry.get(result.backend).vocabulary, job.geometry,
                                      job.x)
    except Exception:  # noqa: BLE001 - no mirror, no claim: the difference stays unexplained
        return ""
    cells = tuple(np.array([index for index, _, _ in result.differing]).T)
    got = result.output[cells]
    if planned.shape != result.output.shape or not cells_agree(
            got, planned[cells], job.tol, 0.0).all():
        return ""
    return (f"pooling-xfw's own plan, not {result.backend}'s behaviour: the plan's arithmetic, "
            f"run in numpy on this input with every framework op exact, gives these numbers "
            f"too; a defect of pooling-xfw's emulation ({'; '.join(how['emulated_by'])})")


def empty_window_cause(result: BackendResult, job) -> str:
    """The cause of a difference found only in windows of padding only: what the backend gives
    for such a window, against the reference's reduction over no cell; '' otherwise."""
    if not job.op.has_window or not result.differing:
        return ""
    empty = job.geometry.empty_windows()
    if not empty.any():
        return ""
    from .layout import spatial_axes

    axes = spatial_axes(result.output.ndim, job.spec.layout)
    if tuple(result.output.shape[a] for a in axes) != empty.shape:
        return ""  # not one cell per window (an unpooled array): no window to blame
    if not all(empty[tuple(index[a] for a in axes)] for index, _, _ in result.differing):
        return ""
    spec, (_, value, expected) = job.spec, result.differing[0]
    rule = {"max": "the max of no cell", "min": "the min of no cell",
            "lp": "the lp norm of no cell"}.get(spec.mode, (
        "the sum 0 over its divisor" if spec.divides_padding() else "0/0, no cell counted"))
    gives = f"{value:.8g}" if isinstance(value, float) else repr(value)
    if spec.mode in ("max", "min") and isinstance(value, float) and np.isfinite(value) and (
            abs(value) in {float(np.finfo(t).max) for t in (np.float16, np.float32,
                                                             np.float64)}):
        gives += (f", the {'lowest' if spec.mode == 'max' else 'highest'} finite value (the "
                  f"{spec.mode} starts from it)")
    return f"a window of padding only gives {gives}; the reference {expected:.8g}, {rule}"


def lowest_skipped_cause(result: BackendResult, job) -> str:
    """The cause of an average that leaves out the cells holding the dtype's lowest finite
    value, as padding: at every differing cell the backend gives the mean of the window's
    other cells (NaN, 0/0, where there are none).  Measured: TensorFlow's float32
    ``avg_pool3d`` (Eigen's average reducer takes -3.4028235e+38 for its padding marker):
    ``[-3.4e38, 2]`` averages to 2.  '' otherwise."""
    x = job.x
    if (job.spec.mode != "avg" or not result.differing or x.dtype.kind != "f"
            or result.output.shape != job.reference.shape):
        return ""
    lowest = np.finfo(x.dtype).min
    skipped = x == lowest
    if not skipped.any():
        return ""
    with np.errstate(all="ignore"):
        total = job.op.reference(np.where(skipped, 0.0, x.astype(np.float64)), job.geometry)
        kept = job.op.reference((~skipped).astype(np.float64), job.geometry)
        mean = (total / kept).astype(result.output.dtype)
    cells = tuple(np.array([index for index, _, _ in result.differing]).T)
    if not cells_agree(result.output[cells], mean[cells], job.tol, 0.0).all():
        return ""
    return (f"cells of {float(lowest):.8g}, the dtype's lowest value, skipped as padding: the "
            f"mean of the window's other cells (NaN where there are none); the reference "
            f"counts them")


def divisor_cause(result: BackendResult, job, tol) -> str:
    """`` (padding left out of the divisor ...)`` when an average that should count padding is,
    at every differing cell, the window's sum over a smaller divisor that leaves some padding
    out (between the cells read and the reference's divisor; measured: ONNX Runtime 1.22's
    ``AveragePool`` with ``auto_pad`` SAME leaves the bottom padding out); else ''."""
    spec = job.spec
    if not (spec.mode == "avg" and spec.count_include_pad and result.differing
            and job.x.size <= JUDGE_BLOCK and np.issubdtype(result.output.dtype, np.floating)):
        return ""
    from .reference import pool2d

    ones = np.ones(job.x.shape, np.float64)
    try:
        read = pool2d(ones, **{**job.kwargs, "mode": "lp", "p": 1})  # real cells per window
        divisor = read / pool2d(ones, **job.kwargs)  # the reference's: padding counted
    except PoolingError:
        return ""
    cells = tuple(np.array([index for index, _, _ in result.differing]).T)
    out = result.output[cells].astype(np.float64)
    ref = np.asarray(job.reference, np.float64)[cells]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        used = ref * divisor[cells] / out  # the divisor the framework's output implies
    whole = np.round(used)
    if not (np.all(np.isfinite(used)) and np.allclose(used, whole, rtol=max(tol[0], 1e-3))
            and np.all((whole >= read[cells]) & (whole < divisor[cells]))):
        return ""
    return (f" (padding left out of the divisor: divides by {int(whole[0])} where the reference, "
            f"counting padding, divides by {int(round(divisor[cells][0]))})")


def grad_scale(job) -> np.ndarray:
    """Per input cell, the magnitude its gradient's tolerance is relative to: the sum of the
    magnitudes routed to it (the reference gradient with ``|grad_output|``, and ``|x|`` for
    avg/lp); 0 where that is not finite (those cells compare exactly)."""
    if not hasattr(job, "_grad_scale"):
        up = job.grad.grad_output
        x = job.x if job.spec.mode in ("max", "min") else np.abs(job.x)
        with np.errstate(invalid="ignore", over="ignore"):
            scale = job.op.gradient(x, job.geometry, None if up is None else np.abs(up),
                                    job.grad.ties).astype(np.float64)
        scale[~np.isfinite(scale)] = 0.0
        job._grad_scale = scale
    return job._grad_scale


def judge_grad(result: BackendResult, grad: np.ndarray, job) -> None:
    """Set ``result``'s ``grad_*`` from the backend's gradient, with the cause of a difference
    where the data shows a known one (``grad_cause``)."""
    scratch = BackendResult(result.backend, "error", output=grad)
    judge(scratch, job.grad_reference, job.grad_tol, lambda: grad_scale(job),
          against="the reference gradient")
    result.grad_input, result.grad_status = grad, scratch.status
    result.grad_max_abs_diff, result.grad_differing = scratch.max_abs_diff, scratch.differing
    result.grad_detail = scratch.detail
    if scratch.status == "differ" and grad.shape == job.grad_reference.shape:
        cause = grad_cause(result, grad, job)
        if cause:
            result.grad_detail += f" ({cause})"


def _where_it_goes(grad: np.ndarray, ref: np.ndarray, cells: np.ndarray, nan_input) -> str:
    """Where a backend's gradient of some windows went, from the cells those windows read."""
    got = grad[cells]
    if not np.any(got):
        return "drops the gradient (0 on every cell the window reads)"
    if float(np.nansum(got)) < float(np.nansum(ref[cells])) - 1e-6 * float(
            np.nansum(np.abs(ref[cells]))):
        return "loses part of the gradient (sent into the padding)"
    if nan_input is not None:
        on_nan = np.any(grad[cells & nan_input])
        on_other = np.any(grad[cells & ~nan_input])
        if on_nan and not on_other:
            return "sends the gradient to another NaN"
        if on_other and not on_nan:
            return "sends the gradient to a cell that is not NaN"
    return "sends the gradient to other cells"


def _read_by(windows: np.ndarray, job) -> np.ndarray:
    """The input cells read by the output windows marked in ``windows`` (output-shaped)."""
    return job.op.cells_read(job.geometry, windows, job.x.shape)


def _tied_extremes(job) -> np.ndarray:
    """The input cells that are an extreme of some window with more than one (the windows'
    extremes given the full gradient each, ``ties="all"``, against an even share,
    ``"split"``: they differ by at least 1/2 exactly there)."""
    with np.errstate(invalid="ignore", over="ignore"):
        every = job.op.gradient(job.x, job.geometry, None, "all").astype(np.float64)
        shared = job.op.gradient(job.x, job.geometry, None, "split").astype(np.float64)
    return every - shared > 0.25


def _same_total(grad: np.ndarray, ref: np.ndarray, job) -> bool:
    """Whether ``grad`` sends as much gradient in total as ``ref`` (none dropped)."""
    total = np.nansum(ref.astype(np.float64))
    return bool(np.isclose(np.nansum(grad.astype(np.float64)), total, rtol=job.grad_tol[0],
                           atol=job.grad_tol[1] * grad.size + job.grad_tol[0] * float(
                               np.nansum(np.abs(ref.astype(np.float64))))))


def _overhang_counted(geometry):
    """``geometry`` with each axis's ceil overhang taken as padding, so that an average that
    counts padding counts it too (what a backward that divides by the whole window computes)."""
    return dataclasses.replace(geometry, axes=tuple(
        dataclasses.replace(g, pad_after=g.pad_after + g.overhang) for g in geometry.axes))


def grad_cause(result: BackendResult, grad: np.ndarray, job) -> str:
    """The known cause of a gradient difference, where the data shows it: every differing
    cell read by a window holding a NaN or only infinities, ties routed by another policy
    (or shared unevenly, every differing cell a tied extreme and no gradient lost), an
    average's ceil overhang counted in its divisor (MXNet's float32 backward, measured),
    lp's NaN at a window sum of 0, or float32 precision in a float64 gradient."""
    ref, mode = job.grad_reference, job.spec.mode
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.isclose(grad.astype(np.float64), ref.astype(np.float64),
                           rtol=job.grad_tol[0],
                           atol=job.grad_tol[1]) | (np.isnan(grad) & np.isnan(ref))
    differ = ~close
    y = job.reference
    causes = []
    if mode in ("max", "min"):
        emulated = " ".join((result.how or {}).get("emulated_by", []))
        why = ("; its plan takes the window as an elementwise maximum of slices, whose "
               "gradient splits ties, where pooling ops send them to the first"
               if "elementwise max" in emulated or "strided slices" in emulated else "")
        for ties in ("split", "all", "first"):
            if ties == job.grad.ties:
                continue
            alt = job.op.gradient(job.x, job.geometry, job.grad.grad_output, ties)
            if np.allclose(grad, alt, rtol=job.grad_tol[0], atol=job.grad_tol[1],
                           equal_nan=True):
                return (f"ties in a window: {result.backend}'s gradient matches ties="
                        f"{ties!r}, the reference uses ties={job.grad.ties!r}{why}")
        nan_cells = _read_by(np.isnan(y), job)
        inf_cells = _read_by(np.isinf(y) & ((y < 0) if mode == "max" else (y > 0)), job)
        if (nan_cells | inf_cells)[differ].all():
            out = result.output
            if nan_cells[differ].any():
                kept = (out.shape == y.shape and bool(np.isnan(out[np.isnan(y)]).all()))
                causes.append(f"a NaN in a {mode} window: the reference sends the window's "
                              f"gradient to its first NaN; {result.backend} outputs "
                              f"{'NaN' if kept else 'the ' + mode + ' of the other cells'} "
                              f"and {_where_it_goes(grad, ref, nan_cells, np.isnan(job.x))}")
            if inf_cells[differ].any():
                sign = "-" if mode == "max" else "+"
                cells = inf_cells & ~nan_cells
                causes.append(f"a window of only {sign}inf: the reference sends its gradient "
                              f"to the window's first cell; {result.backend} "
                              f"{_where_it_goes(grad, ref, cells, None)}")
            return "; ".join(causes)
        if job.grad.ties == "first" and _tied_extremes(job)[differ].all() and _same_total(
                grad, ref, job):
            return (f"ties in a window: {result.backend}'s gradient is shared unevenly among "
                    f"a window's tied extremes (an elementwise maximum of equal values shares it "
                    f"between them), the reference uses ties='first'{why}")
    if mode == "avg" and job.op.has_window and job.spec.count_include_pad and \
            job.geometry.has_overhang():
        counted = _overhang_counted(job.geometry)
        from .gradient import _avg_grad

        up = job.grad.grad_output
        alt = _avg_grad(np.ones(job.reference.shape, ref.dtype) if up is None
                        else up.astype(ref.dtype), counted, job.x.shape)
        if np.allclose(grad, alt, rtol=job.grad_tol[0], atol=job.grad_tol[1]):
            return (f"the ceil overhang counted: {result.backend}'s average backward divides a "
                    f"window that reaches past the padded input by its cells past it too; its "
                    f"forward, like the reference, divides by the cells inside the padded input "
                    f"only")
    if mode == "lp":
        zero = (job.x == 0) & ~np.isfinite(grad) & ~np.isnan(ref)
        if zero[differ].all():
            what = (f"|x|**{job.spec.p:g} (p < 1)" if job.spec.p < 1
                    else "the root of a window sum of 0")
            gives = ("NaN (0 * inf)" if np.isnan(grad[differ]).all() else "inf"
                     if np.isinf(grad[differ]).all() else "NaN (0 * inf) or inf")
            return (f"lp at a cell that is 0: {what} has an infinite slope there, so "
                    f"{result.backend}'s autograd gives {gives}; the reference gives 0")
    if ref.dtype == np.float64 and np.allclose(grad, ref, rtol=1e-6,
                                               atol=1e-6 * float(np.max(grad_scale(job),
                                                                        initial=0)),
                                               equal_nan=True):
        known = registry.get(result.backend).causes.get(FLOAT64_BACKWARD_IN_FLOAT32, "")
        return (f"accurate to float32 only: {result.backend}'s float64 backward computes in "
                f"float32" + (f"; measured: {known}" if known and mode in ("avg", "lp") else ""))
    return ""
