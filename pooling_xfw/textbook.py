"""The chapter's ``pool2d``, kept as written (numpy in place of the framework tensors).

It is the baseline: the reference is tested equal to it on its domain (2-D input, stride 1, no
padding, max/avg) and benchmarked against it.  Do not optimize it.
"""
import numpy as np


def pool2d(X, pool_size, mode='max'):
    p_h, p_w = pool_size
    Y = np.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            if mode == 'max':
                Y[i, j] = X[i: i + p_h, j: j + p_w].max()
            elif mode == 'avg':
                Y[i, j] = X[i: i + p_h, j: j + p_w].mean()
    return Y
