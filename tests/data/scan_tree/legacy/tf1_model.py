"""A TF1-era graph (TensorFlow through tf.compat.v1)."""
import tensorflow.compat.v1 as tf


def pool(net):
    return tf.nn.max_pool(net, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="VALID")
