"""Reading the files a user names (``--input``, ``--cases``, a scanned tree) without blocking.

A named pipe called ``x.npy`` blocks a reader until something writes to it; a device such as
``/dev/zero`` never ends.  ``open_regular`` opens without blocking and reads nothing until the
file is known to be a regular one: anything else is refused, saying what it is.
"""
from __future__ import annotations

import os
import stat

_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISDIR, "a directory"))


class NotRegular(OSError):
    """The path names something other than a regular file (``what`` says which)."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


def kind_of(mode: int) -> str | None:
    """What a file of ``mode`` is, when it is not a regular file (None when it is)."""
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _KINDS if test(mode)), "not a regular file") + (
        ", not a regular file")


def open_regular(path):
    """``path`` opened for reading in binary, when it is a regular file: opened without
    blocking (a named pipe with no writer would block), then checked before a byte is read.
    Raises ``NotRegular`` for anything else, ``OSError`` when it cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        if os.path.lexists(path) and not os.path.exists(path):
            raise  # a dangling link or a loop: its own error says which
        if os.path.exists(path) and not os.path.isfile(path):
            raise NotRegular(kind_of(os.stat(path).st_mode)) from None
        raise
    what = kind_of(os.fstat(fd).st_mode)
    if what:
        os.close(fd)
        raise NotRegular(what)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")
