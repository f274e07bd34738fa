"""One module per backend, each exposing ``pool2d`` with ``px.pool2d``'s signature.

A framework is imported only inside its own module, lazily, so ``import pooling_xfw.adapters`` is
cheap.  Which backends there are, and which run by default: ``pooling_xfw.runtime.envs``
(``KNOWN_BACKENDS``, ``BACKENDS``).
"""
