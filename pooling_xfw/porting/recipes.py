"""Known broken ports of adaptive pooling found in the wild, for ``explain``.

A recipe is named, not parsed: ``explain(call, frm, "tfa-split", "recipe")`` compares the
adaptive (or global) call with the recipe applied to the same output size, mode and layout,
says for which input sizes the recipe gives the call's numbers and why not elsewhere, and (with
``verify``) runs the recipe in its framework on the smallest size where it breaks and on one
where it holds.

* ``tfa-split``: tensorflow-addons' ``AdaptiveAveragePooling2D`` / ``AdaptiveMaxPooling2D``
  (releases up to 0.23): ``tf.split`` of each axis into ``o`` equal parts, stacked and reduced.
  ``tf.split`` needs ``o`` to divide the axis; any other size raises InvalidArgumentError
  (tensorflow/addons#2321).  Where it runs, its parts are the neutral bins.
* ``reshape``: the port ``x.reshape(N, C, o, H // o, o, W // o).mean((3, 5))`` (PyTorch here;
  the same idiom in JAX/numpy): exact where ``o`` divides the axis; elsewhere the reshape
  raises, and a version that crops to ``o * (H // o)`` first runs and drops the last
  ``H % o`` rows and columns (wrong numbers, silently).
* ``keras-jax``: Keras 3's ``AdaptiveAveragePooling2D`` / ``AdaptiveMaxPooling2D`` on the JAX
  backend.  Not run here (the jax environment holds JAX and Flax, not Keras): documented.  It computes the bins
  in float32 (``ceil((i+1)*n/o)``, which XLA:CPU evaluates as a multiply by ``1/o``, so
  ``21/7`` comes out as 3.0000002 and its ceiling as 4) and does not clamp its gather indices
  (keras/src/backend/jax/nn.py ``_compute_adaptive_pooling_gather_indices``; the TensorFlow
  backend clamps): measured, NaN in the last bins for 7 -> 7, 14 -> 7, 224 -> 7 (13 of 49
  outputs), in 46 of the 576 pairs 1 <= n, o <= 24, all with o in {7, 13, 14, 15}.  Not run:
  the jax environment holds JAX and Flax, not Keras.
"""
from __future__ import annotations

import dataclasses

from ..errors import PoolingError
from ..plan import Plan, Var

#: sizes judged per axis
LIMIT = 24
#: the output sizes for which Keras 3 on JAX was measured to give NaN (n, o <= 24)
KERAS_JAX_NAN_OUTPUTS = {7, 13, 14, 15}


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    framework: str | None  # where it runs (None: documented, not run)
    what: str
    why: str

    def holds(self, n: int, o: int) -> bool | None:
        """Whether the recipe gives the neutral numbers for an axis of ``n`` cells pooled to
        ``o`` (None: not known here)."""
        if self.framework is None:
            return None
        return o > 0 and n % o == 0


RECIPES = {
    "tfa-split": Recipe(
        "tfa-split", "tensorflow",
        "tensorflow-addons AdaptiveAveragePooling2D / AdaptiveMaxPooling2D (<= 0.23): tf.split "
        "into equal parts, stacked and reduced",
        "tf.split needs the output size to divide the axis: any other size raises "
        "InvalidArgumentError (tensorflow/addons#2321); where it runs, its equal parts are the "
        "neutral bins"),
    "reshape": Recipe(
        "reshape", "pytorch",
        "x.reshape(N, C, o, H // o, o, W // o) reduced over the two inner axes",
        "the reshape needs H = o * (H // o): other sizes raise, and cropping to o * (H // o) "
        "first drops the last H % o rows (wrong numbers); where it runs, its blocks are the "
        "neutral bins"),
    "keras-jax": Recipe(
        "keras-jax", None,
        "Keras 3 AdaptiveAveragePooling2D / AdaptiveMaxPooling2D on the JAX backend",
        "the bins' ends are computed in float32 (XLA:CPU divides by multiplying by 1/o: "
        "21/7 = 3.0000002, whose ceiling is 4) and the gather indices are not clamped, so the "
        "last bins read past the input: NaN (measured with keras 3.15.1, jax 0.12 on CPU: "
        "7 -> 7, 14 -> 7, 224 -> 7 give NaN in 13 of 49 outputs; 46 of the 576 pairs "
        "1 <= n, o <= 24, all with o in 7, 13, 14, 15); not run here: the jax environment holds "
        "JAX and Flax, not Keras"),
}


def recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise PoolingError(f"call: got recipe {name!r}; allowed: {', '.join(RECIPES)}")
    return RECIPES[name]


def recipe_plan(r: Recipe, output_size: tuple, mode: str, layout: str, shape: tuple) -> Plan:
    """The recipe as its framework runs it on a 4-D input of ``shape`` (in ``layout``)."""
    oh, ow = output_size
    if r.name == "tfa-split":
        plan = Plan("tensorflow", ("import tensorflow as tf",))
        h_axis = 1 if layout == "NHWC" else 2
        rows = plan.call("tf.split", Var("x"), oh, axis=h_axis)
        rows = plan.call("tf.stack", rows, axis=h_axis)
        cols = plan.call("tf.split", rows, ow, axis=h_axis + 2)
        cols = plan.call("tf.stack", cols, axis=h_axis + 2)
        plan.call("tf.reduce_mean" if mode == "avg" else "tf.reduce_max", cols,
                  axis=[h_axis + 1, h_axis + 3])
        return plan
    plan = Plan("pytorch", ("import torch",))
    n, c, h, w = shape if layout == "NCHW" else (shape[0], shape[3], shape[1], shape[2])
    v = Var("x") if layout == "NCHW" else plan.call(".permute", Var("x"), 0, 3, 1, 2)
    v = plan.call(".reshape", v, n, c, oh, h // oh, ow, w // ow)
    v = plan.call(".mean" if mode == "avg" else ".amax", v, (3, 5))
    if layout == "NHWC":
        plan.call(".permute", v, 0, 2, 3, 1)
    return plan
