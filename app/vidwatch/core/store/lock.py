"""The lock beside the task list, and how the store says what went wrong.

Every read-modify-write of the task list runs under an exclusive ``flock`` on a lock
file beside it (``tasks.toml.lock``), so concurrent ``vidwatch add`` runs and a saving
dashboard take turns. The lock file is removed before the lock is released, so none is
left behind. A failure is a :class:`StoreError` whose message says why in one sentence
(:func:`reason` puts an ``OSError`` in words).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOCK_TIMEOUT", "StoreError", "folder_problem", "locked", "reason", "same_file"]

LOCK_TIMEOUT = 15.0


class StoreError(Exception):
    """The task list cannot be read or written; the message says why, in one sentence."""


def reason(exc: OSError) -> str:
    """An ``OSError`` in a few words, for a one-sentence message."""
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        return "a file stands where its folder should be"
    return exc.strerror or type(exc).__name__


def folder_problem(folder: Path, mode: int = 0o777) -> str | None:
    """Make ``folder`` (and its parents) if needed; ``None`` when it is a usable folder,
    else what is wrong with it, in words that name the culprit (a file where a folder
    should be, a link to a folder that does not exist) rather than "File exists"."""
    try:
        folder.mkdir(mode=mode, parents=True, exist_ok=True)
        return None
    except OSError as exc:
        error = exc
    for place in (folder, *folder.parents):
        if place.is_symlink() and not place.exists():
            target = os.readlink(place)
            return (
                f"{place} is a link to {target}, which does not exist "
                "(a drive not mounted?); make that folder, or remove the link"
            )
        if place.exists() and not place.is_dir():
            return f"{place} is a file, not a folder; move it away"
        if place.is_dir():
            break
    return reason(error)


@contextlib.contextmanager
def locked(path: Path, lock_path: Path, what: str = "the task list") -> Iterator[None]:
    """Hold the lock file; it is removed before release, so none is left behind. A
    waiter that got the removed file's lock sees it is gone and locks the new one.
    ``what`` names ``path`` in messages."""
    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        problem = folder_problem(path.parent)
        if problem is not None:
            raise StoreError(f"Cannot save {what} to {path}: {problem}.")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"Cannot save {what} to {path}: {reason(exc)}.") from None
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StoreError(
                            f"{what[0].upper()}{what[1:]} {path} is locked by another "
                            f"vidwatch process (lock file {lock_path})."
                        ) from None
                    time.sleep(0.005)
            if same_file(fd, lock_path):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the holder before us removed that file: lock the new one
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock_path)
        os.close(fd)  # closing releases the lock


def same_file(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path`` (not removed or replaced)."""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)
