"""The chapter's TensorFlow tab pads with tf.pad (zeros) and pools 'valid'.

That matches the other tabs only because X is non-negative: max pooling must never let the
padding win.  On X - 100 the recipe prints zeros where every other framework (and TensorFlow's own
explicit padding) prints the true maxima.  Runs in the TensorFlow environment.
"""
from _show import flat, np, px

try:
    import tensorflow as tf
except ImportError:
    from pooling_xfw.runtime.envs import reexec_under

    reexec_under("tensorflow")

from pooling_xfw.adapters import tensorflow as tf_adapter  # noqa: E402


def chapter_recipe(X, paddings, pool_size, strides):
    """The tab's code, as printed: tf.pad with zeros, then a 'valid' MaxPool2D."""
    X_padded = tf.pad(X, tf.constant(paddings), "CONSTANT")
    pool2d = tf.keras.layers.MaxPool2D(pool_size=pool_size, padding="valid", strides=strides)
    return pool2d(X_padded).numpy()


X = tf.reshape(tf.range(16, dtype=tf.float32), (1, 4, 4, 1))
examples = [("MaxPool2D(3, padding=1, strides=2)", [[0, 0], [1, 0], [1, 0], [0, 0]], [3, 3], 2,
             dict(pool_size=3, padding=1, stride=2)),
            ("MaxPool2D((2, 3), padding=(0, 1), strides=(2, 3))", [[0, 0], [0, 0], [1, 1], [0, 0]],
             [2, 3], (2, 3), dict(pool_size=(2, 3), padding=(0, 1), stride=(2, 3)))]
differs = 0
for title, paddings, size, strides, spec in examples:
    for shift in (0, -100):
        x = X + shift
        recipe = chapter_recipe(x, paddings, size, strides)[0, :, :, 0]
        reference = px.pool2d(x.numpy(), layout="NHWC", **spec)[0, :, :, 0]
        adapter = tf_adapter.pool2d(x.numpy(), layout="NHWC", **spec)[0, :, :, 0]
        same = np.array_equal(recipe, reference)
        differs += not same
        print(f"\n{title} on X{shift:+d}" if shift else f"\n{title} on X")
        print(f"  chapter's tf.pad recipe   {flat(recipe)}")
        print(f"  reference (-inf padding)  {flat(reference)}")
        print(f"  pooling_xfw.adapters.tensorflow {flat(adapter)}")
        print("  -> same" if same else "  -> DIFFERENT: the zero padding won the max")
print(f"\nthe recipe differs from the reference in {differs} of 4 runs (expected: the 2 negative)")
raise SystemExit(0 if differs == 2 else 1)
