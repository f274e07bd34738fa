"""How an array crosses between the caller and a worker: raw or ``.npy`` bytes, never pickles.

Three ways, chosen by size and by where the worker runs; each message names its way in a small
descriptor dict that travels in the request or reply:

* ``{"raw": bytes, "dtype": str, "shape": list}``: the array's bytes inside the message,
  with its dtype (``numpy.dtype.str``, object dtypes refused) and shape, for arrays up to
  ``INLINE_BYTES`` (a round trip costs less than a file would, and parsing a ``.npy`` header
  would cost more than the pooling of a small array).
* ``{"shm": path}``: a ``.npy`` file in shared memory (``/dev/shm`` where the system has it),
  for a worker on this machine.  The reader maps it read-only (``numpy.load(mmap_mode=...)``),
  so no payload crosses a pipe: the caller writes an input once for every local worker, and a
  worker writes its output into the file the caller named.
* ``{"chunks": n}``: for a worker on another machine, the ``.npy`` header then ``n`` messages of
  at most ``CHUNK_BYTES`` raw bytes each, read into a preallocated array (no whole-payload
  copies on either side).

Requests and replies themselves cross as one JSON text plus the raw bytes of their inline
arrays (``encode``/``decode``), never as pickles.

This module is shipped to workers, so it runs under numpy 1.23 as well as 2.x and imports
nothing from outside the standard library and numpy.
"""
from __future__ import annotations

import io
import json
import os

import numpy as np

INLINE_BYTES = 1 << 16
CHUNK_BYTES = 4 << 20
_FORMAT = np.lib.format


def _refuse_objects(array: np.ndarray) -> None:
    if array.dtype.hasobject:
        raise ValueError(f"dtype {array.dtype} holds Python objects; only plain numeric arrays "
                         f"cross to a worker (pickles are refused)")


def contiguous(array) -> np.ndarray:
    """``array`` in C order, with its shape: a 0-d array stays 0-d (numpy 1's
    ``ascontiguousarray`` makes it 1-d, and a global pooling of an (H, W) input without
    ``keepdims`` is 0-d)."""
    array = np.asarray(array)
    return np.ascontiguousarray(array).reshape(array.shape)


def _header(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    _FORMAT.write_array_header_1_0(buffer, _FORMAT.header_data_from_array_1_0(array))
    return buffer.getvalue()


def write_npy(path: str, array: np.ndarray, truncate: bool = True) -> None:
    """Write ``array`` as a ``.npy`` file with plain writes (nothing of it is mapped here, so
    the file's pages do not count in this process's memory): a caller's input, a worker's
    output.  ``truncate=False`` writes over an existing file in place (its pages exist; bytes
    past the array stay, unread: the header says where the array ends)."""
    array = contiguous(array)
    _refuse_objects(array)
    with open(path, "wb" if truncate else "r+b") as handle:
        handle.write(_header(array))
        view = memoryview(array.reshape(-1).view(np.uint8))
        for start in range(0, len(view), CHUNK_BYTES):
            handle.write(view[start:start + CHUNK_BYTES])


def map_npy(path: str, writable: bool = False) -> np.ndarray:
    """A ``.npy`` file mapped into memory: read-only, or copy-on-write (private) when
    ``writable``; a plain ndarray (not a ``numpy.memmap``), valid after the file is unlinked."""
    mapped = np.load(path, mmap_mode="c" if writable else "r", allow_pickle=False)
    return mapped.view(np.ndarray)


def inline(array: np.ndarray) -> dict:
    """A small array as a descriptor holding its bytes (C order)."""
    array = contiguous(array)
    _refuse_objects(array)
    return {"raw": array.tobytes(), "dtype": array.dtype.str, "shape": list(array.shape)}


def from_inline(descriptor: dict) -> np.ndarray:
    """``inline``'s array back, writable (a copy of the message's bytes)."""
    dtype = np.dtype(descriptor["dtype"])
    if dtype.hasobject:
        raise ValueError(f"refused: dtype {dtype} holds Python objects")
    shape = tuple(int(n) for n in descriptor["shape"])
    return np.frombuffer(bytearray(descriptor["raw"]), dtype).reshape(shape)


def pack(array: np.ndarray, shm_path: str | None = None) -> tuple[dict, np.ndarray | None]:
    """The cheapest way to send ``array``: its descriptor for the message, and the array whose
    chunks must follow the message (``send_chunks``), or None when nothing follows.
    ``shm_path``: where to write it when the reader shares this machine's memory."""
    array = np.asarray(array)
    _refuse_objects(array)
    if array.nbytes <= INLINE_BYTES:
        return inline(array), None
    if shm_path is not None:
        write_npy(shm_path, array)
        return {"shm": shm_path}, None
    return {"chunks": -(-array.nbytes // CHUNK_BYTES)}, array


def send_chunks(channel, array: np.ndarray | None) -> None:
    """The ``.npy`` header then the raw bytes of ``array`` in chunks (``pack``'s second value)."""
    if array is None:
        return
    array = contiguous(array)
    channel.send(_header(array))
    view = memoryview(array.reshape(-1).view(np.uint8))
    for start in range(0, len(view), CHUNK_BYTES):
        channel.send(bytes(view[start:start + CHUNK_BYTES]))


def receive(descriptor: dict, next_message, writable: bool = False) -> np.ndarray:
    """The array a descriptor stands for; ``next_message()`` yields the chunks that follow."""
    if "raw" in descriptor:
        return from_inline(descriptor)
    if "shm" in descriptor:
        return map_npy(descriptor["shm"], writable)
    header = io.BytesIO(next_message())
    version = _FORMAT.read_magic(header)
    if version != (1, 0):
        raise ValueError(f"unexpected .npy header version {version}")
    shape, fortran, dtype = _FORMAT.read_array_header_1_0(header)
    if dtype.hasobject or fortran:
        raise ValueError("refused: object dtype or Fortran order in a chunked array")
    array = np.empty(shape, dtype)
    flat = memoryview(array.reshape(-1).view(np.uint8))
    filled = 0
    for _ in range(descriptor["chunks"]):
        chunk = next_message()
        flat[filled:filled + len(chunk)] = chunk
        filled += len(chunk)
    if filled != array.nbytes:
        raise ValueError(f"chunked array: got {filled} bytes, expected {array.nbytes}")
    return array


def encode(message: dict, key: str) -> tuple[str, list[bytes]]:
    """A request or reply (or ``{"batch": [...]}`` of them) for the wire: one JSON text, and
    the raw bytes of the inline arrays in its ``key`` descriptors (``"inputs"`` or
    ``"outputs"``), each replaced by its index.  execnet walks nested containers in Python,
    object by object; a str and a few bytes objects cost it next to nothing."""
    blobs: list[bytes] = []
    for item in message.get("batch") or [message]:
        for descriptor in item.get(key) or ():
            raw = descriptor.get("raw")
            if isinstance(raw, bytes):
                descriptor["raw"] = len(blobs)
                blobs.append(raw)
    return json.dumps(message), blobs


def decode(wire, key: str):
    """``encode``'s message back; anything else is returned as it came (for the caller to
    judge: a worker that breaks the protocol)."""
    if not (isinstance(wire, tuple) and len(wire) == 2 and isinstance(wire[0], str)
            and isinstance(wire[1], (list, tuple))):
        return wire
    text, blobs = wire
    message = json.loads(text)
    batch = message.get("batch") if isinstance(message, dict) else None
    for item in batch if isinstance(batch, list) else [message]:
        descriptors = item.get(key) if isinstance(item, dict) else None
        for descriptor in descriptors if isinstance(descriptors, list) else ():
            if isinstance(descriptor, dict) and isinstance(descriptor.get("raw"), int):
                descriptor["raw"] = blobs[descriptor["raw"]]
    return message


def unlink_quietly(path: str | None) -> None:
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass
