"""Writing a report to a file: checked before anything runs (``check_writable``: a file in an
existing, writable folder, not a descriptor), then written atomically (``write``: a new file
beside it, renamed over it, with the old file's mode)."""
from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path


from ..errors import PoolingError


def _names_a_descriptor(path: Path) -> bool:
    """Whether ``path`` (through its symlinks) names an open descriptor, as ``/dev/stdout``,
    ``/dev/fd/1`` and ``/proc/self/fd/1`` do: whatever it is open on is written in place."""
    for _ in range(40):
        if Path(os.path.realpath(path.parent)).parts[1:2] == ("proc",):
            return True
        if not path.is_symlink():
            return False
        path = Path(os.path.realpath(path.parent)) / os.readlink(path)
    return False


def _destination(path: str | os.PathLike) -> tuple[Path, bool]:
    """Where writing ``path`` lands, and whether in place: a device, a pipe or a descriptor
    (``/dev/stdout``) is written in place; a regular file, new or not, is replaced atomically,
    a symlink's final target (the link itself stays)."""
    given = Path(path).absolute()
    try:
        mode = os.stat(given).st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISDIR(mode) and (
            not stat.S_ISREG(mode) or _names_a_descriptor(given)):
        return given, True
    return Path(os.path.realpath(given)), False


def _cannot_write(path, problem: str, after: str = "allowed: a file in an existing, writable "
                                                     "directory") -> PoolingError:
    return PoolingError(f"--output: cannot write {str(path)!r} ({problem}); {after}")


def check_writable(path: str | os.PathLike) -> Path:
    """``path`` as a file we can write (checked before any work is done): its destination (a
    symlink's target) where a temporary file can be created next to it, or an existing device,
    pipe or descriptor (``/dev/stdout``) we may open for writing."""
    if not str(path).strip():
        raise _cannot_write(path, "an empty path", "allowed: a file path")
    if str(path).endswith(os.sep):
        raise _cannot_write(path, "it ends with /, which names a directory")
    try:
        os.path.realpath(Path(path).absolute(), strict=True)
    except OSError as exc:  # a missing file or a link to one is made; a loop never resolves
        if exc.errno == errno.ELOOP:
            raise _cannot_write(path, "a symlink loop") from None
    target, in_place = _destination(path)
    if in_place:
        if not os.access(target, os.W_OK):
            raise _cannot_write(path, "not writable")
        if stat.S_ISFIFO(os.stat(target).st_mode):  # a write would block until one reads
            try:
                os.close(os.open(target, os.O_WRONLY | os.O_NONBLOCK))
            except OSError as exc:
                if exc.errno == errno.ENXIO:
                    raise _cannot_write(path, "a named pipe nothing reads") from None
        return target
    if target.is_dir():
        raise _cannot_write(path, "is a directory")
    if not target.parent.is_dir():
        raise _cannot_write(path, "its directory does not exist")
    try:  # the directory's permission bits do not tell (root, read-only mounts, /proc)
        fd, probe = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                     suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _cannot_write(path, f"cannot create a file in its directory: "
                                  f"{exc.strerror or exc}") from None
    return target


def _new_file(directory: Path, name: str, like: os.stat_result | None) -> tuple[int, Path]:
    """A new temporary file next to the destination, opened for writing: with the mode (and,
    where allowed, the owner) of the file it will replace, ``like``, or else with what the
    umask leaves of 0666, as any new file gets."""
    for _ in range(100):
        tmp = directory / f".{name}.{os.urandom(6).hex()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                         0o666 if like is None else 0o600)
        except FileExistsError:
            continue
        if like is not None:
            try:
                if (like.st_uid, like.st_gid) != (os.getuid(), os.getgid()):
                    try:
                        os.fchown(fd, like.st_uid, like.st_gid)
                    except OSError:
                        pass  # not ours to give away: the mode still holds
                os.fchmod(fd, stat.S_IMODE(like.st_mode))
            except BaseException:
                os.close(fd)
                os.unlink(tmp)
                raise
        return fd, tmp
    raise FileExistsError(f"no free temporary name in {directory}")


def write(text: str, path: str | os.PathLike) -> None:
    """Write ``text`` to ``path`` atomically: a reader sees the old file or the whole new one.

    A new file gets the mode the umask gives (0666 & ~umask), a replaced file keeps its mode,
    and a symlink is written through (its target is replaced, the link stays).  A device, a
    pipe or a descriptor (``/dev/stdout``) is written in place, appended to.  A failure (a full
    disk, a place that takes no files) is a ``PoolingError`` naming ``--output``; a replaced
    file is then as it was."""
    target = check_writable(path)
    try:
        if _destination(path)[1]:
            with open(target, "a", encoding="utf-8") as handle:
                handle.write(text)
            return
        fd, tmp = _new_file(target.parent, target.name,
                            target.stat() if target.exists() else None)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise _cannot_write(path, exc.strerror or str(exc),
                            "nothing was written in its place") from None
