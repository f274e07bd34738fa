"""One module per backend, each exposing ``pool2d`` with ``px.pool2d``'s signature.

A framework is imported only inside its own module, lazily, so ``import pooling_xfw.adapters`` is cheap.
"""
BACKENDS = ("mxnet", "pytorch", "tensorflow", "paddle")
