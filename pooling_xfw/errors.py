"""The one exception type of the toolkit."""


class PoolingError(ValueError):
    """An invalid pooling argument.

    The message always names the argument, the value received and what is allowed, e.g.
    ``mode: got 'mean'; allowed: 'max', 'avg', 'min', 'lp'``.
    """


def one_line(text: str, limit: int = 400) -> str:
    """``text`` on one line, at most about ``limit`` characters: a longer one keeps its start
    and its end, where frameworks often say why (ONNX Runtime's "... Current official support
    for domain ai.onnx is till opset 21.", after a C++ signature)."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return f"{text[:half]} ... {text[-half:]}"
