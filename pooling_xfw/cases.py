"""Every example of the chapter as data: input, neutral arguments, the output the chapter prints.

The expected arrays are the chapter's printed outputs, copied from its MXNet / PyTorch / Paddle
tabs (which agree); the neutral arguments are what each tab's call means.  ``MaxPool2D(3)``
takes its stride from the window (3), as every framework's layer does.
"""
from __future__ import annotations

import dataclasses

import os

import numpy as np


@dataclasses.dataclass(frozen=True)
class Case:
    """One example: ``px.pool2d(input, **kwargs)`` must equal ``expected``; with ``op``
    ``"adaptive"``, ``px.adaptive_pool2d(input, **kwargs)`` (``output_size``, ``mode``,
    ``layout``), with ``"global"``, ``px.global_pool2d(input, **kwargs)`` (``mode``, ``p``,
    ``keepdims``, ``layout``)."""

    name: str
    title: str
    input: np.ndarray
    kwargs: dict
    expected: np.ndarray | None
    op: str = "pool2d"

    @property
    def operation(self):
        """Its operation (``pooling_xfw.ops``)."""
        from . import ops

        return ops.get(self.op)

    def arguments(self) -> dict:
        """The case as ``px.compare_many`` takes it: ``X``, ``op`` and the op's arguments."""
        return dict(self.kwargs, X=self.input, op=self.op)

    def with_layout(self, layout: str) -> "Case":
        """The same example with its channel axis last (a no-op for 2-D inputs)."""
        if layout == "NCHW" or self.input.ndim < 3:
            return self
        move = (lambda a: np.moveaxis(a, -3, -1))
        return dataclasses.replace(self, input=move(self.input), expected=move(self.expected),
                                   kwargs={**self.kwargs, "layout": layout})


_X3 = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]], dtype=np.float32)
_X16 = np.arange(16, dtype=np.float32).reshape((1, 1, 4, 4))
_X16_2CH = np.concatenate((_X16, _X16 + 1), 1)
_F = np.float32

CHAPTER: tuple[Case, ...] = (
    Case("pool2d-max", "pool2d(X, (2, 2)) on the 3x3 X", _X3,
         {"pool_size": (2, 2), "mode": "max"}, np.array([[4, 5], [7, 8]], _F)),
    Case("pool2d-avg", "pool2d(X, (2, 2), 'avg') on the 3x3 X", _X3,
         {"pool_size": (2, 2), "mode": "avg"}, np.array([[2, 3], [5, 6]], _F)),
    Case("maxpool-k3", "MaxPool2D(3): the stride defaults to the window", _X16,
         {"pool_size": 3, "stride": 3}, np.array([[[[10]]]], _F)),
    Case("maxpool-k3-p1-s2", "MaxPool2D(3, padding=1, strides=2)", _X16,
         {"pool_size": 3, "padding": 1, "stride": 2}, np.array([[[[5, 7], [13, 15]]]], _F)),
    Case("maxpool-k2x3-p0x1-s2x3", "MaxPool2D((2, 3), padding=(0, 1), strides=(2, 3))", _X16,
         {"pool_size": (2, 3), "padding": (0, 1), "stride": (2, 3)},
         np.array([[[[5, 7], [13, 15]]]], _F)),
    Case("maxpool-k3-p1-s2-2ch", "MaxPool2D(3, padding=1, strides=2) on concat(X, X + 1)",
         _X16_2CH, {"pool_size": 3, "padding": 1, "stride": 2},
         np.array([[[[5, 7], [13, 15]], [[6, 8], [14, 16]]]], _F)),
)


def by_name(name: str) -> Case:
    from .errors import PoolingError

    for case in CHAPTER:
        if case.name == name:
            return case
    raise PoolingError(f"case: got {name!r}; allowed: {', '.join(c.name for c in CHAPTER)}")


VALUES = ("arange", "randn", "negative")


def generate(shape, values: str = "randn", seed: int = 0, dtype="float32") -> np.ndarray:
    """A generated input: ``arange`` (0, 1, 2, ...), ``randn`` (normal noise of ``seed``) or
    ``negative`` (all below -1), made in int64 / float64 and cast to ``dtype``."""
    rng = np.random.default_rng(seed)
    make = {"arange": lambda: np.arange(np.prod(shape)).reshape(shape),
            "randn": lambda: rng.standard_normal(shape),
            "negative": lambda: -1 - np.abs(rng.standard_normal(shape)) * 10}
    return make[values]().astype(dtype)


def _written(values, dtype: str, where: str, field: str) -> np.ndarray:
    """A nested list of numbers as an array of ``dtype``, refused (``PoolingError``, one line
    naming ``where``) where the dtype cannot hold them as written: a fraction or a value out of
    range for an integer dtype, a finite value beyond a float dtype's (it would become inf)."""
    from .errors import PoolingError

    try:
        target = np.dtype(dtype)
    except TypeError:
        raise PoolingError(f"{where}: dtype {dtype!r} is not a numpy dtype; allowed: float16, "
                           f"float32, float64, int8..int64, uint8..uint64") from None
    try:
        exact = np.asarray(values, dtype=object if target.kind in "iu" else np.float64)
    except (ValueError, TypeError, OverflowError) as exc:
        raise PoolingError(f"{where}: cannot read {field} as numbers ({exc}); allowed: a nested "
                           f"list of numbers") from None
    if exact.dtype == object and not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                         for v in exact.reshape(-1)):
        raise PoolingError(f"{where}: {field} holds something else than numbers; allowed: a "
                           f"nested list of numbers")
    if target.kind in "iu":
        info = np.iinfo(target)
        bad = next((v for v in exact.reshape(-1) if v != int(v) or not info.min <= v <= info.max),
                   None) if exact.size else None
        if bad is not None:
            raise PoolingError(f"{where}: {bad!r} does not fit {target.name} (whole numbers "
                               f"{info.min} to {info.max}); allowed: values the dtype holds as "
                               f"written")
        return np.array(exact.tolist(), dtype=target)
    with np.errstate(over="ignore"):
        array = exact.astype(target)
    overflowed = np.isfinite(exact) & ~np.isfinite(array)
    if overflowed.any():
        first = float(exact[overflowed][0])
        raise PoolingError(f"{where}: {first!r} is beyond {target.name}'s range (it would "
                           f"become inf); allowed: values the dtype holds")
    return array


def _expected(item: dict, where: str) -> np.ndarray | None:
    """A case's expected output, in the dtype the operation gives for its input's (an average
    of integers is float64)."""
    from .reference import output_dtype

    if item.get("expected") is None:
        return None
    dtype = np.dtype(item.get("dtype", "float32"))
    mode = item["kwargs"].get("mode", "max")
    out = output_dtype(mode if isinstance(mode, str) else "max", dtype)
    return _written(item["expected"], out.name, f"{where}: case {item['name']!r}: expected",
                    "expected")


def _input(item: dict, where: str) -> np.ndarray:
    """A case's input: a nested list, or ``{"shape": [...], "values": ..., "seed": ...}``
    (``generate``'s arguments) for an input too large to write out (a classifier head's)."""
    from .errors import PoolingError
    from .spec import format_bytes, memory_limit

    given, dtype = item["input"], item.get("dtype", "float32")
    if not isinstance(given, dict):
        return _written(given, dtype, f"{where}: case {item['name']!r}: input", "input")
    allowed = ('{"shape": 1 to 5 ints >= 1 (the layout\'s spatial axes, C, N), "values": "arange", '
               '"randn" (the default) or "negative", "seed": an int >= 0 (default 0)}')
    unknown = set(given) - {"shape", "values", "seed"}
    shape, values, seed = given.get("shape"), given.get("values", "randn"), given.get("seed", 0)
    problem = (f"has {', '.join(sorted(map(repr, unknown)))}" if unknown else
               "has no shape" if shape is None else
               f"shape {shape!r} is not 1 to 5 ints >= 1" if not (
                   isinstance(shape, list) and 1 <= len(shape) <= 5
                   and all(type(n) is int and n >= 1 for n in shape)) else
               f"values {values!r} is not one of {', '.join(VALUES)}" if values not in VALUES
               else f"seed {seed!r} is not an int >= 0" if not (type(seed) is int and seed >= 0)
               else None)
    if problem is None:
        need = int(np.prod(shape, dtype=object)) * (np.dtype(dtype).itemsize + 16)
        if need > memory_limit():
            problem = (f"shape {shape!r} would need {format_bytes(need)} to make, more than "
                       f"this machine's memory ({format_bytes(memory_limit())})")
    if problem:
        raise PoolingError(f"{where}: case {item['name']!r}: the generated input {problem}; "
                           f"allowed: {allowed}")
    return generate(tuple(shape), values, seed, dtype)


def load(path: str) -> list[Case]:
    """Cases from a JSON file: ``[{"name", "op": "pool2d" (the default), "adaptive" or "global"
    (optional), "input": nested list or {"shape", "values", "seed"}, "kwargs": the op's
    arguments, "expected": nested list (optional), "dtype": "float32" (optional)}, ...]``."""
    import json
    import shlex

    from .errors import PoolingError

    from .files import NotRegular, open_regular
    from .spec import format_bytes, memory_limit

    where = f"--cases {shlex.quote(path)}"
    allowed = "allowed: a JSON list of {name, input, kwargs}"
    try:
        with open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > memory_limit() // 8:  # parsed JSON takes several times the text
                raise PoolingError(f"{where}: {format_bytes(size)} of JSON, more than this "
                                   f"machine's memory can parse; {allowed}")
            items = json.loads(handle.read().decode("utf-8"))
        if not isinstance(items, list):
            raise PoolingError(f"{where}: the file holds a JSON {_json_kind(items)}, not a list "
                               f"of cases; {allowed}")
        cases = []
        for number, item in enumerate(items, 1):
            if not isinstance(item, dict):
                raise PoolingError(f"{where}: case {number} is a JSON {_json_kind(item)}, not an "
                                   f"object; {allowed}")
            missing = [key for key in ("name", "input", "kwargs") if key not in item]
            if missing:
                raise PoolingError(f"{where}: case {number}{_named(item)} has no "
                                   f"{' and no '.join(missing)}; {allowed}")
            if not isinstance(item["kwargs"], dict):
                raise PoolingError(f"{where}: case {number}{_named(item)}: kwargs is a JSON "
                                   f"{_json_kind(item['kwargs'])}, not an object of the op's "
                                   f"arguments; {allowed}")
            if "op" in item["kwargs"]:
                raise PoolingError(f"{where}: case {item['name']!r}: op inside kwargs; allowed: "
                                   f"\"op\" beside \"kwargs\", which holds the op's arguments")
            cases.append(Case(item["name"], item.get("title", item["name"]),
                              _input(item, where), dict(item["kwargs"]),
                              _expected(item, where),
                              item.get("op", "pool2d")))
    except NotRegular as exc:
        raise PoolingError(f"{where}: {exc.what}; {allowed}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, PoolingError):
            raise
        raise PoolingError(f"{where}: cannot read it ({type(exc).__name__}: {exc}); "
                           f"{allowed}") from None
    seen = set()
    for number, case in enumerate(cases, 1):  # a name is a row of a table: one line
        problem = name_problem(case.name) or (
            "is the name of an earlier case" if case.name in seen else None)
        if problem:
            raise PoolingError(f"{where}: case {number}'s name {case.name!r} "
                               f"{problem}; allowed: a name on one line, without control "
                               f"characters, each case's its own")
        seen.add(case.name)
    return cases


def _json_kind(value) -> str:
    """What a JSON value is, in JSON's words: object, list, string, number, true/false, null."""
    return ("object" if isinstance(value, dict) else "list" if isinstance(value, list)
            else "string" if isinstance(value, str) else "true/false" if isinstance(value, bool)
            else "null" if value is None else "number")


def _named(item: dict) -> str:
    """`` ('max-3x3')``: a case's name where it has one (a string), for a message."""
    return f" ({item['name']!r})" if isinstance(item.get("name"), str) else ""


def breaks_a_line(char: str) -> bool:
    """A control character or a line/paragraph separator: text that holds one is not one line
    (a newline, a carriage return, a terminal escape, U+2028)."""
    import unicodedata

    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def name_problem(name) -> str | None:
    """Why ``name`` cannot name a case (a row of the report's table), or None."""
    if not isinstance(name, str):
        return "is not a string"
    if not name:
        return "is empty"
    if any(breaks_a_line(c) for c in name):
        return "has a control character"
    return None
