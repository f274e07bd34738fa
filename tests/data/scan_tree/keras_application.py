"""A Keras-applications-like ResNet50 stem and a DenseNet transition (TensorFlow)."""
from tensorflow.keras import layers


def stem(img_input):
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    return x


def transition_block(x, name):
    x = layers.AveragePooling2D(2, strides=2, name=name + "_pool")(x)
    return x


def top(x):
    return layers.GlobalAveragePooling2D(name="avg_pool")(x)
