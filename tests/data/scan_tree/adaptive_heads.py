"""Classifier heads that pool to a fixed size (PyTorch, Keras 3): sizes that need not divide."""
import keras
import torch.nn.functional as F


def torch_head(x):
    return F.adaptive_max_pool2d(x, (3, 3))


def keras_head(x):
    return keras.layers.AdaptiveAveragePooling2D(7)(x)
