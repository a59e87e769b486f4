"""Atomic file writes: a crash leaves the old file or the new one, never half of either.

The data goes to a temp file in the destination's folder, is fsynced, renamed over the
destination with :func:`os.replace`, and the folder is fsynced so the rename itself is
durable. The temp file is removed when anything fails.

A destination that is a symbolic link (a task file kept in a synced folder, linked from
where vidwatch looks) is written *through*: the temp file goes beside the link's target and
is renamed over the target, so the link stays a link.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "fsync_dir", "write_target"]


def _read_umask() -> int:
    umask = os.umask(0o022)  # the only way to read it is to set it: done once, at import
    os.umask(umask)
    return umask


_UMASK = _read_umask()


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_target(path: Path) -> Path:
    """The file a write to ``path`` really replaces: ``path`` with every symbolic link in it
    resolved (a dangling link gives the file it points at, which the write then creates).
    Raises OSError for a loop of links, which has no file to write."""
    target = Path(os.path.realpath(path))
    if target.is_symlink():
        raise OSError(errno.ELOOP, "the symbolic links form a loop", str(path))
    return target


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically. ``mode`` sets the permissions of the new
    file (else the umask decides). Raises OSError; the destination is then untouched.
    A symbolic link is written through: its target is replaced, the link is kept."""
    path = write_target(path)
    folder = path.parent
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            # mkstemp makes 0600; without a mode the file is an ordinary one (the umask's)
            os.fchmod(fd, 0o666 & ~_UMASK if mode is None else mode)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)
