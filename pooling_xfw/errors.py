"""The one exception type of the toolkit."""


class PoolingError(ValueError):
    """An invalid pooling argument.

    The message always names the argument, the value received and what is allowed, e.g.
    ``mode: got 'mean'; allowed: 'max', 'avg', 'min', 'lp'``.
    """
