"""ONNX Runtime: ``pool2d`` as a small ONNX model built with ``onnx.helper``, run in an
``InferenceSession`` on the CPU execution provider (opset 22).

A graph, not eager calls: each primitive of the shared planner is a node
(``helper.make_node``, its inputs and output named after the plan's values), the planner's
Python operators are ``Add``/``Mul``/``Div``/``Neg``/``Equal``/``Slice`` nodes, and
``Vocabulary.finish`` closes the plan with the model and the session call, so the rendered
code is the model construction plus ``session.run``, runnable as printed.  The model of a
spec is the same bytes every time, and its session is built once per worker (cached by the
model's bytes).  ``POOLING_XFW_SAVE_ONNX=DIR`` (``compare --save-onnx DIR``) writes each model
run to ``DIR`` (for Netron).

Native (one node): ``MaxPool`` / ``AveragePool`` with per-side ``pads`` each smaller than the
window (ONNX Runtime rejects a pad >= the kernel at session creation:
``pool_attributes.h``: "Pad should be smaller than kernel"), ``ceil_mode`` (its drop rule is
PyTorch's, the reference's), ``count_include_pad`` (the ceil overhang never counted, as the
reference), ``dilations`` (``AveragePool`` from opset 19), ``auto_pad`` ``SAME_UPPER`` /
``SAME_LOWER`` without dilation and with strides no wider than the window (with dilation ONNX
Runtime computes the SAME pads as if the window were not dilated, 3 outputs of 5 on k3 d2 over
5 cells; with a stride wider than the window its SAME pads can be negative, a
RUNTIME_EXCEPTION "padding values must be non-negative": explicit pads for both);
``LpPool`` for an integer ``p``; ``GlobalMaxPool`` / ``GlobalAveragePool``.  Layout: no
layout attribute, NCHW only: NHWC is transposed.

dtypes: ``MaxPool`` takes float16/32/64, int8 and uint8 (other integers in float64, exact
below 2**53, larger refused).  ``AveragePool``, ``LpPool`` and the ``Global*`` ops have no
float64 kernel (NOT_IMPLEMENTED in every opset), so a float64 average (and an integer one: the
reference's is float64) is emulated in float64, never computed in float32 (``avg_missing``:
the planner sums each window's own cells as strided ``Slice`` + ``Add`` nodes, and each
adaptive bin whose length is known only at run time as a ``Slice`` + ``ReduceMean``), global
avg as ``ReduceMean``, global max as ``MaxPool`` with the whole window, lp from
``Abs``/``Pow`` and the window sum.

Adaptive: ONNX has no adaptive op; the planner's emulation (plain pooling per bin length,
``Concat``, ``Gather``).  Gradients: none: ONNX Runtime's ``InferenceSession`` runs inference
only (no autograd), so the gradient is reported ``unavailable`` with that reason.

Measured, reported as differences where the reference disagrees: ``MaxPool``'s result for a
window holding NaN depends on the NaN's position (``[1, nan]`` -> nan, ``[nan, 1]`` -> 1) and
on whether the ``Indices`` output is requested (this adapter never requests it);
``GlobalMaxPool`` likewise (``[nan, 1, 2, 3]`` -> 3, ``[0, 1, 2, nan]`` -> nan); a window of
only -inf gives float32's lowest (-3.4028235e38), not -inf.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import os

import numpy as np

from pooling_xfw.adapter import bind, bind_adaptive, bind_grad
from pooling_xfw.argmax_plan import unpooled_shape
from pooling_xfw.backend import (ANY_CPU_PLAN, CONVENTIONS, FLOATS, INTEL_XEON, MAX_TIES_BACKWARD,
                                  NAN_IN_A_MAX, ONLY_INFINITE, ZEN4, Backend, Option, recorded)
from pooling_xfw.plan import Attr, Call, Expr, Var, render_value
from pooling_xfw.emulation import runtime_pads
from pooling_xfw.layout import full_pads, spatial_axes, spatial_names
from pooling_xfw.spec import keeps_a_dropped_window, reach_after
from pooling_xfw.vocabulary import Vocabulary


OPSET = 22  # AveragePool takes dilations from 19; GlobalLpPool is NOT_IMPLEMENTED at 22 (unused)
PROVIDERS = ["CPUExecutionProvider"]
SAVE_VARIABLE = "POOLING_XFW_SAVE_ONNX"
#: numpy dtype name -> ``TensorProto`` element type name
ELEMENT = {"float16": "FLOAT16", "float32": "FLOAT", "float64": "DOUBLE", "int8": "INT8",
           "int16": "INT16", "int32": "INT32", "int64": "INT64", "uint8": "UINT8",
           "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64", "bool": "BOOL"}
INT64_MAX = 2 ** 63 - 1
POOLING_OPS = ("MaxPool", "AveragePool", "LpPool", "GlobalMaxPool", "GlobalAveragePool",
               "ReduceMean", "MaxUnpool")
NO_AUTOGRAD = ("onnxruntime has no autograd: an InferenceSession runs the model forward only "
               "(training needs onnxruntime-training and a training graph), so there is no "
               "gradient to compare")


class _Runtime:
    """``onnxruntime`` as the plan's ``ort``, with ``InferenceSession`` cached by the model's
    bytes (the same spec and shape build the same bytes: one session per spec), quiet, and
    threaded as the worker was told; anything else is the module's own."""

    CACHED = 256

    def __init__(self, ort):
        self._ort = ort
        self._sessions: collections.OrderedDict = collections.OrderedDict()

    def __getattr__(self, name):
        return getattr(self._ort, name)

    def InferenceSession(self, model: bytes, providers=None):  # noqa: N802 - ort's name
        key = (bytes(model), tuple(providers or ()))
        _save(key[0])
        session = self._sessions.pop(key, None)
        if session is None:
            options = self._ort.SessionOptions()
            options.log_severity_level = 3  # errors only: its warnings are not results
            threads = os.environ.get("OMP_NUM_THREADS", "")
            if threads.isdigit() and int(threads) > 0:
                options.intra_op_num_threads = int(threads)
            session = self._ort.InferenceSession(key[0], options, providers=providers)
        self._sessions[key] = session
        while len(self._sessions) > self.CACHED:
            self._sessions.popitem(last=False)
        return session


def _save(model: bytes) -> None:
    """Write ``model`` to ``$POOLING_XFW_SAVE_ONNX`` (when set) as ``<op>-<sha1[:10]>.onnx``."""
    folder = os.environ.get(SAVE_VARIABLE)
    if not folder:
        return
    import onnx

    from pooling_xfw.errors import PoolingError

    name = onnx.load_from_string(model).graph.name or "pooling"
    path = os.path.join(folder, f"{name}-{hashlib.sha1(model).hexdigest()[:10]}.onnx")
    partial = f"{path}.{os.getpid()}.tmp"
    try:  # the toolkit's own write: its failure is said as such, never as ONNX Runtime's
        os.makedirs(folder, exist_ok=True)
        with open(partial, "wb") as out:
            out.write(model)
        os.replace(partial, path)
    except OSError as exc:
        try:
            os.unlink(partial)
        except OSError:
            pass
        raise PoolingError(f"{SAVE_VARIABLE}: cannot write {path!r} ({exc.strerror or exc}); "
                           f"allowed: a folder where the model's file can be written") from None


def _same_pads_fit(spec) -> bool:
    """Whether every SAME pad, at any input size, is smaller than the kernel (ONNX Runtime's
    rule): the total is at most the dilated extent - 1, the larger side half of it, rounded up."""
    return all(-(-(d * (k - 1)) // 2) < k for k, d in zip(spec.pool_size, spec.dilation))


def _name(v: Var) -> str:
    return v.name


#: ONNX's pooling operators' attributes and their defaults (opset 22), in the spec's order
ONNX_ATTRIBUTES = {
    "MaxPool": (("kernel_shape", None), ("strides", "1s"), ("pads", "0s"), ("dilations", "1s"),
                ("ceil_mode", 0), ("auto_pad", "NOTSET"), ("storage_order", 0)),
    "AveragePool": (("kernel_shape", None), ("strides", "1s"), ("pads", "0s"),
                    ("dilations", "1s"), ("ceil_mode", 0), ("count_include_pad", 0),
                    ("auto_pad", "NOTSET")),
    "LpPool": (("kernel_shape", None), ("strides", "1s"), ("pads", "0s"), ("dilations", "1s"),
               ("ceil_mode", 0), ("p", 2), ("auto_pad", "NOTSET")),
    "GlobalMaxPool": (), "GlobalAveragePool": (),
}


def _onnx_pads(pads) -> list:
    """ONNX's ``pads`` attribute: every axis's before, then every axis's after
    (``[top, left, bottom, right]`` in 2-D)."""
    return [before for before, _ in pads] + [after for _, after in pads]


class OnnxRuntime(Vocabulary):
    name = "onnxruntime"
    imports = ("import onnxruntime as ort", "from onnx import TensorProto, helper")
    layouts = ("NCHW",)
    pool_dtypes = ("float16", "float32", "float64", "int8", "uint8")  # MaxPool's
    avg_missing = {"float64": "its AveragePool has no float64 kernel (NOT_IMPLEMENTED)"}
    no_autograd = NO_AUTOGRAD

    def plan_details(self, plan) -> list[str]:
        """Each pooling node of an ONNX Runtime plan with all its attributes, the ones the code
        leaves out at ONNX's defaults (said so); pads computed from the input's shape shown as
        the expressions they are."""
        lines = []
        for step in plan.steps:
            if step.fn != "helper.make_node" or step.args[0] not in ONNX_ATTRIBUTES:
                continue
            given = dict(step.kwargs)
            n = len(given.get("kernel_shape", ())) or 2
            shown = []
            for name, default in ONNX_ATTRIBUTES[step.args[0]]:
                if name in given:
                    shown.append(f"{name}={render_value(given[name])}")
                elif name == "pads" and given.get("auto_pad", "NOTSET") != "NOTSET":
                    shown.append("pads from auto_pad (computed by ONNX Runtime from the input)")
                else:
                    value = ([1] * n if default == "1s" else [0] * (2 * n) if default == "0s"
                             else repr(default))
                    shown.append(f"{name}={value} (default)")
            lines.append(f"ONNX node {step.out}: {step.args[0]}"
                         + (f"({', '.join(shown)})" if shown else "(no attributes)"))
        return lines

    # --- the run time -------------------------------------------------------------------------
    _ns: dict | None = None

    def namespace(self):
        if self._ns is None:
            import onnxruntime
            from onnx import TensorProto, helper

            OnnxRuntime._ns = {"ort": _Runtime(onnxruntime), "helper": helper,
                               "TensorProto": TensorProto}
        return self._ns

    def to_tensor(self, ns, array):
        return np.ascontiguousarray(array)

    def to_numpy(self, ns, tensor):
        return np.asarray(tensor)

    # --- nodes --------------------------------------------------------------------------------
    def node(self, plan, op: str, inputs, **attrs) -> Var:
        """One node; its output is named as the plan's value that holds the node."""
        out = f"t{plan._counter + 1}"
        v = plan.call("helper.make_node", op, [_name(i) for i in inputs], [out],
                      **{k: a for k, a in attrs.items() if a is not None})
        assert v.name == out
        return v

    def constant(self, plan, values, dtype: str) -> Var:
        """A Constant node: a 1-D int64 list, or a scalar of ``dtype``."""
        if dtype == "int64":  # one node per list: the same list again reuses it
            if isinstance(values, Expr):  # a list computed when the plan runs (adaptive bins)
                return self.node(plan, "Constant", [], value_ints=values)
            values = [v if isinstance(v, Expr) else int(v) for v in values]
            for step in plan.steps:
                if step.fn == "helper.make_node" and step.kwargs == (("value_ints", values),):
                    return Var(step.out)
            return self.node(plan, "Constant", [], value_ints=values)
        out = f"t{plan._counter + 1}"
        value = (values if isinstance(values, Expr)  # a number computed when the plan runs
                 else float(values) if np.dtype(dtype).kind == "f" else int(values))
        return self.node(plan, "Constant", [], value=Call(
            "helper.make_tensor", (out, Attr(f"TensorProto.{ELEMENT[dtype]}"), [], [value])))

    def _scalar(self, plan, value) -> Var:
        return self.constant(plan, value, plan.computes_in)

    # --- the planner's primitives ---------------------------------------------------------------
    def pad(self, plan, v, pads, value, layout):
        width = full_pads(layout, pads)
        before, after = [b for b, _ in width], [a for _, a in width]
        return self.node(plan, "Pad", [v, self.constant(plan, before + after, "int64"),
                                       self._scalar(plan, value)], mode="constant")

    def pool(self, plan, v, mode, kernel, stride, layout):
        op = "MaxPool" if mode == "max" else "AveragePool"
        return self.node(plan, op, [v], kernel_shape=list(kernel), strides=list(stride))

    def reduce(self, plan, v, mode, axis):
        op = "ReduceMean" if mode == "avg" else "ReduceMax"
        return self.node(plan, op, [v, self.constant(plan, [axis], "int64")], keepdims=1)

    def maximum(self, plan, a, b):
        return self.node(plan, "Max", [a, b])

    def abs(self, plan, v):
        return self.node(plan, "Abs", [v])

    def power(self, plan, v, exponent):
        return self.node(plan, "Pow", [v, self._scalar(plan, exponent)])

    def ones_like(self, plan, v):
        return self._filled(plan, v, 1)

    def zeros_like(self, plan, v):
        return self._filled(plan, v, 0)

    def _filled(self, plan, v, value):
        shape = self.node(plan, "Shape", [v])
        out = f"t{plan._counter + 1}"
        dtype = plan.computes_in
        fill = float(value) if np.dtype(dtype).kind == "f" else int(value)
        return self.node(plan, "ConstantOfShape", [shape], value=Call(
            "helper.make_tensor", (out, Attr(f"TensorProto.{ELEMENT[dtype]}"), [1], [fill])))

    def where(self, plan, condition, a, b):
        return self.node(plan, "Where", [condition, a, b])

    def cast(self, plan, v, dtype):
        return self.node(plan, "Cast", [v], to=Attr(f"TensorProto.{ELEMENT[dtype]}"))

    def invert(self, plan, v):
        return self.node(plan, "BitwiseNot", [v])

    def transpose(self, plan, v, perm):
        return self.node(plan, "Transpose", [v], perm=list(perm))

    def add(self, plan, a, b):
        return self.node(plan, "Add", [a, b])

    def multiply(self, plan, v, factor):
        return self.node(plan, "Mul", [v, self._scalar(plan, factor)])

    def divide(self, plan, a, b):
        return self.node(plan, "Div", [a, b if isinstance(b, Var) else self._scalar(plan, b)])

    def negative(self, plan, v):
        return self.node(plan, "Neg", [v])

    def equal(self, plan, v, value):
        return self.node(plan, "Equal", [v, self._scalar(plan, value)])

    def at_least(self, plan, v, value):  # of int64 indices
        return self.node(plan, "GreaterOrEqual", [v, self.constant(plan, [value], "int64")])

    def remainder(self, plan, v, k):  # of int64 indices by a positive k
        return self.node(plan, "Mod", [v, self.constant(plan, [k], "int64")])

    def scale(self, plan, v, k):  # of int64 indices
        return self.node(plan, "Mul", [v, self.constant(plan, [k], "int64")])

    def arange(self, plan, count):
        return self.node(plan, "Range", [self.constant(plan, value, "float64")
                                         for value in (0, count, 1)])

    def reshape(self, plan, v, shape):
        return self.node(plan, "Reshape", [v, self.constant(plan, list(shape), "int64")])

    def getitem(self, plan, v, index):
        starts, ends, axes, steps = [], [], [], []
        for axis, cut in enumerate(index):
            if cut == slice(None):
                continue
            axes.append(axis)
            starts.append(0 if cut.start is None else cut.start)
            ends.append(INT64_MAX if cut.stop is None else cut.stop)
            steps.append(1 if cut.step is None else cut.step)
        if not axes:
            return v
        inputs = [v] + [self.constant(plan, values, "int64") for values in
                        (starts, ends, axes, steps)]
        return self.node(plan, "Slice", inputs)

    def gather(self, plan, v, indices, axis):
        return self.node(plan, "Gather", [v, self.constant(plan, indices, "int64")], axis=axis)

    def concat(self, plan, values, axis):
        return self.node(plan, "Concat", list(values), axis=axis)

    # --- the framework's own pooling nodes ------------------------------------------------------
    def native(self, plan, geom, v, layout, mode):
        spec = geom.spec
        if keeps_a_dropped_window(spec):
            return None  # its ceil_mode drops it (PyTorch's rule): the planner pads instead
        attrs = dict(kernel_shape=list(spec.pool_size), strides=list(spec.stride))
        dilated = any(d != 1 for d in spec.dilation)
        if dilated:
            attrs["dilations"] = list(spec.dilation)
        if spec.padding in ("same", "same_lower"):
            if not dilated and all(s <= k for s, k in zip(spec.stride, spec.pool_size)):
                attrs["auto_pad"] = "SAME_UPPER" if spec.padding == "same" else "SAME_LOWER"
            elif not _same_pads_fit(spec):
                return None  # a pad may reach the kernel: the planner's Pad node
            else:  # its SAME pads are wrong here: the planner's, from the shape at run time
                attrs["pads"] = _onnx_pads(runtime_pads(plan, geom).given())
        else:
            if any(p >= k for pair, k in zip(geom.pads, spec.pool_size) for p in pair):
                return None  # "Pad should be smaller than kernel": explicit Pad instead
            if any(p for pair in geom.pads for p in pair):
                attrs["pads"] = _onnx_pads(geom.pads)
        if spec.ceil_mode:
            attrs["ceil_mode"] = 1
        if mode == "max":
            return self.node(plan, "MaxPool", [v], **attrs)
        if spec.count_include_pad:
            attrs["count_include_pad"] = 1
        return self.node(plan, "AveragePool", [v], **attrs)

    index_dtypes = ("float16", "float32", "float64", "int8", "uint8")

    def native_indices(self, plan, geom, v, layout):
        """``MaxPool`` with its second output, ``Indices``: the whole tensor's flat position,
        ``((n*C + c)*H + y)*W + x`` (``storage_order=0``), where ``MaxPool`` takes the spec."""
        steps = len(plan.steps)
        values = self.native(plan, geom, v, layout, "max")
        if values is None or len(plan.steps) != steps + 1:
            del plan.steps[steps:]
            values = self._padded_max_pool(plan, geom, v, layout)
        step = plan.steps[-1]
        fn, inputs, (out,) = step.args
        plan.steps[-1] = dataclasses.replace(step, args=(fn, inputs, [out, f"{out}_indices"]))
        return values, Var(f"{out}_indices"), "tensor"

    unpool_dtypes = ("float32",)  # MaxUnpool(22): NOT_IMPLEMENTED for float64 (measured)
    unpool_convention = "tensor"

    def native_unpool(self, plan, geom, v, indices, layout):
        """``MaxUnpool(X, I, output_shape)``: whole-tensor indices (``MaxPool``'s own)."""
        spec = geom.spec
        shape = unpooled_shape(geom, layout)
        attrs = dict(kernel_shape=list(spec.pool_size), strides=list(spec.stride))
        if not isinstance(spec.padding, str) and any(p for pair in spec.padding for p in pair):
            attrs["pads"] = _onnx_pads(spec.padding)
        return self.node(plan, "MaxUnpool", [v, indices, self.constant(plan, shape, "int64")],
                         **attrs)

    def _padded_max_pool(self, plan, geom, v, layout) -> Var:
        """``MaxPool`` without pads on the input padded with the dtype's lowest value up to the
        end of the last window (a ``Pad`` node, for this input's size): the spec's windows,
        where its own pads cannot (a pad of a window or more, a kept last window).  Its
        indices number the padded input's cells (``Plan.index_pads``; one naming a padding
        cell, in a window of padding only or of -inf cells beside padding, reads -1)."""
        spec = geom.spec
        pads = tuple((g.pad_before, reach_after(g.size, g.pad_before, g.extent, g.stride, g.out))
                     for g in geom.axes)
        work = np.dtype(plan.computes_in)
        lowest = -np.inf if work.kind == "f" else int(np.iinfo(work).min)
        padded = self.pad(plan, v, pads, lowest, layout)
        plan.index_pads = pads
        plan.emulate(f"argmax: explicit padding, {pads}: its MaxPool pads take less than a "
                     f"window and drop a last window that starts in the padding")
        attrs = dict(kernel_shape=list(spec.pool_size), strides=list(spec.stride))
        if any(d != 1 for d in spec.dilation):
            attrs["dilations"] = list(spec.dilation)
        return self.node(plan, "MaxPool", [padded], **attrs)

    def native_lp(self, plan, geom, v, layout):
        spec = geom.spec
        if (plan.computes_in == "float64" or float(spec.p) != int(spec.p) or spec.p < 1
                or spec.p > INT64_MAX):
            return None  # no float64 LpPool; its p is an integer attribute (an int64)
        if spec.padding in ("same", "same_lower") or keeps_a_dropped_window(spec):
            return None  # pads that follow the size: the planner's, from the shape
        if any(p >= k for pair, k in zip(geom.pads, spec.pool_size) for p in pair):
            return None
        attrs = dict(kernel_shape=list(spec.pool_size), strides=list(spec.stride),
                     p=int(spec.p))
        if any(d != 1 for d in spec.dilation):
            attrs["dilations"] = list(spec.dilation)
        if any(p for pair in geom.pads for p in pair):
            attrs["pads"] = _onnx_pads(geom.pads)
        if spec.ceil_mode:
            attrs["ceil_mode"] = 1
        return self.node(plan, "LpPool", [v], **attrs)

    def native_global(self, plan, geom, v, layout, mode):
        if plan.computes_in in ("float16", "float32"):
            return self.node(plan, "GlobalMaxPool" if mode == "max" else "GlobalAveragePool",
                             [v])
        if plan.computes_in == "float64" and mode == "avg":
            plan.emulate(f"float64 global average: its GlobalAveragePool has no float64 kernel "
                         f"(NOT_IMPLEMENTED); ReduceMean over "
                         f"{' and '.join(spatial_names(layout))}, in float64")
            axes = list(spatial_axes(len(layout), layout))
            return self.node(plan, "ReduceMean", [v, self.constant(plan, axes, "int64")],
                             keepdims=1)
        return None  # float64 max: MaxPool with the whole window; integers: MaxPool likewise

    # --- the model and the session ----------------------------------------------------------------
    def finish(self, plan, y, dtype, out_dtype, layout, second=None):
        """The model of the nodes, its session and the run.  The input's axes are named, not
        sized (``['N', 'C', 'H', 'W']``): the model holds for every size its plan does, and
        one session serves every input of that plan."""
        if y.name == "x":  # nothing to compute (every bin one cell): the model still runs
            y = self.node(plan, "Identity", [y])
        nodes = [Var(step.out) for step in plan.steps if step.fn == "helper.make_node"]
        ops = [step.args[0] for step in plan.steps if step.fn == "helper.make_node"]
        title = next((op for op in ops if op in POOLING_OPS), "pooling")
        tensor = lambda name, dt, dims: Call(  # noqa: E731
            "helper.make_tensor_value_info", (name, Attr(f"TensorProto.{ELEMENT[dt.name]}"),
                                              None if dims is None else list(dims)))
        fed = {"x": Var("x")}
        if any("indices" in step.args[1] for step in plan.steps
               if step.fn == "helper.make_node"):  # unpooling: the indices are an input too
            fed["indices"] = Var("indices")
        graph = plan.call_as("graph", "helper.make_graph", nodes, title,
                             [tensor(name, dtype if name == "x" else np.dtype(np.int64),
                                     list(layout)) for name in fed],
                             [tensor(y.name, out_dtype, None)] + (
                                 [] if second is None else
                                 [tensor(second.name, np.dtype(np.int64), None)]))
        model = plan.call_as("model", "helper.make_model", graph,
                             opset_imports=[Call("helper.make_opsetid", ("", OPSET))])
        session = plan.call_as("session", "ort.InferenceSession",
                               Call(".SerializeToString", (model,)), providers=PROVIDERS)
        outputs = Call(".run", (session, None, fed))
        if second is not None:  # [values, indices]
            return plan.call("op:getitem", outputs, slice(None))
        return plan.call("op:getitem", outputs, 0)


VOCABULARY = OnnxRuntime()
pool2d, plan, run = bind(VOCABULARY)
adaptive_pool2d, global_pool2d, adaptive_plan, global_plan = bind_adaptive(VOCABULARY)
pool2d_grad = bind_grad(VOCABULARY)

MEASURED = (ZEN4, INTEL_XEON)
MLAS_NAN = ("ONNX Runtime's MaxPool and GlobalMaxPool run the MLAS kernel picked for the CPU, "
            "whose vector max instructions treat NaN by instruction set (x86's maxps returns its "
            "second operand, ARM's fmax NaN)")
BACKEND = Backend(
    name="onnxruntime", title="ONNX Runtime", module="onnxruntime", packages=("onnxruntime",),
    position=600, aliases=("onnx", "ort"),
    target_only="an ONNX model is a graph of nodes built with onnx.helper, not a framework "
                "call; read the node's attributes off translate --to onnxruntime, or translate "
                "the call the model was exported from",
    options=(Option("--save-onnx", SAVE_VARIABLE, ".onnx",
                    "write the ONNX model the onnxruntime backend ran to DIR (open it in "
                    "Netron); needs onnxruntime in --backends"),),
    known={
        # MaxPool (also per bin length, then a Gather): float16 and float32 keep a NaN only as
        # the last cell scanned, float64 only as the first (asking for its Indices output
        # changes it again); GlobalMaxPool ignores it
        **recorded(NAN_IN_A_MAX, {"NaN only as the last cell scanned": MEASURED},
                   ("pool2d", "adaptive"), ("float16", "float32")),
        **recorded(NAN_IN_A_MAX, {"NaN only as the first cell scanned": MEASURED},
                   ("pool2d", "adaptive"), "float64"),
        **recorded(NAN_IN_A_MAX, {"ignored": MEASURED}, "global", FLOATS),
        # MaxPool starts from -inf, GlobalMaxPool's float32 kernel from the lowest finite value
        **recorded(ONLY_INFINITE, {"infinity": MEASURED}, ("pool2d", "adaptive"), FLOATS),
        **recorded(ONLY_INFINITE, {"infinity": MEASURED}, "global", ("float16", "float64")),
        **recorded(ONLY_INFINITE, {"finite extreme": MEASURED}, "global", "float32"),
        **recorded(MAX_TIES_BACKWARD, {"no autograd": ANY_CPU_PLAN}),
        **recorded(CONVENTIONS, {"differs: NaN in the window ignored; the reference propagates NaN": MEASURED},
                   ("NaN in a max window", "NaN in an adaptive max bin (4 -> 3)",
                    "NaN in a global max"),
                   why=MLAS_NAN),
        **recorded(CONVENTIONS, {"differs: NaN in the window ignored; the reference propagates "
                                 "NaN": INTEL_XEON},
                   ("1-D NaN in a max window", "3-D NaN in a max window"), why=MLAS_NAN),
    })
