"""The wire format between the calling process and a backend worker.

A message is a JSON header followed by the arrays it names, each as ``.npy`` bytes
(``numpy.lib.format``, pickles refused), so numpy 2.x and numpy 1.23 read each other:

    u32 header length | header JSON (utf-8) | for each array: u64 length | .npy bytes

The worker's first message is a hello carrying ``PROTOCOL_VERSION`` and its framework and numpy
versions; the client refuses a worker that speaks another version.
"""
from __future__ import annotations

import io
import json
import struct
from typing import BinaryIO

import numpy as np

PROTOCOL_VERSION = 1


class ProtocolError(RuntimeError):
    """The other side closed the stream or sent something that is not a message."""


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _npy_array(data: bytes) -> np.ndarray:
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


def encode(header: dict, arrays: list[np.ndarray] = ()) -> bytes:
    head = json.dumps({**header, "n_arrays": len(arrays)}).encode()
    parts = [struct.pack("<I", len(head)), head]
    for array in arrays:
        blob = _npy_bytes(array)
        parts += [struct.pack("<Q", len(blob)), blob]
    return b"".join(parts)


def write(stream: BinaryIO, header: dict, arrays: list[np.ndarray] = ()) -> None:
    stream.write(encode(header, arrays))
    stream.flush()


def read(read_exact) -> tuple[dict, list[np.ndarray]]:
    """Read one message with ``read_exact(n) -> bytes`` (which raises on EOF or timeout)."""
    (size,) = struct.unpack("<I", read_exact(4))
    try:
        header = json.loads(read_exact(size).decode())
    except ValueError as exc:
        raise ProtocolError(f"bad message header: {exc}") from None
    arrays = []
    for _ in range(header.pop("n_arrays", 0)):
        (size,) = struct.unpack("<Q", read_exact(8))
        arrays.append(_npy_array(read_exact(size)))
    return header, arrays


def stream_reader(stream: BinaryIO):
    """``read_exact`` over a blocking binary stream (the worker's side)."""

    def read_exact(n: int) -> bytes:
        data = stream.read(n)
        if data is None or len(data) < n:
            raise ProtocolError("stream closed")
        return data

    return read_exact
