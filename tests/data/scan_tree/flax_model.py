"""A Flax stem, a pooling bound with partial, and pooling written with lax.reduce_window."""
from functools import partial

import jax.numpy as jnp
from flax import linen as nn
from jax import lax


class Stem(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.Conv(64, (7, 7), strides=(2, 2), padding=[(3, 3), (3, 3)])(x)
        x = nn.max_pool(x, window_shape=(3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
        return nn.avg_pool(x, (2, 2), strides=(2, 2), padding="SAME", count_include_pad=False)


pool_fn = partial(nn.max_pool, window_shape=(2, 2), strides=(2, 2))


def blur(x):
    return lax.reduce_window(x, 0.0, lax.add, (1, 3, 3, 1), (1, 1, 1, 1), "SAME") / (3 * 3)


def mean_same(x):
    return (lax.reduce_window(x, 0.0, lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "SAME")
            / lax.reduce_window(jnp.ones_like(x), 0.0, lax.add, (1, 2, 2, 1), (1, 2, 2, 1),
                                "SAME"))


def mean_by_name(x):
    ones = lax.reduce_window(jnp.ones_like(x), 0.0, lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "SAME")
    return lax.reduce_window(x, 0.0, lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "SAME") / ones


def max_nchw(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def relu_pool(x):
    return lax.reduce_window(x, 0.0, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def erode(x):
    return nn.min_pool(x, (3, 3), strides=(1, 1), padding="SAME")
