"""One file, two frameworks: F is PyTorch's here, tf TensorFlow's."""
import tensorflow as tf
import torch.nn.functional as F
from torch import nn


def torch_branch(x):
    y, indices = F.max_pool2d(x, 2, return_indices=True)
    return F.max_unpool2d(y, indices, 2)


def tf_branch(x):
    return tf.nn.max_pool(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")


def make_pool(k):
    return nn.MaxPool2d(k)


def ceil_pool(x):
    return F.avg_pool2d(x, 3, stride=2, ceil_mode=True)
