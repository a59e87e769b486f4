"""File locks, the one helper every writer uses; the lock beside the task list; and how
the store says what went wrong.

:func:`open_locked` is the one way vidwatch takes a lock: an exclusive ``flock`` on a
file, waiting a while or not at all, on the file that is *still* at its path (a holder
that removed or replaced it meanwhile leaves the waiter a stale descriptor: it locks the
new file instead). :func:`lock_file` holds a lock file and removes it before release, so
none is left behind; :func:`is_locked` asks without taking it. The task list
(:func:`locked`), the record of sends, the journals of sends and the downloads all use
them.

Every read-modify-write of the task list runs under the lock file beside it
(``tasks.toml.lock``), so concurrent ``vidwatch add`` runs and a saving dashboard take
turns. A failure is a :class:`StoreError` whose message says why in one sentence
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

from vidwatch.core.text.wording import capitalized

__all__ = [
    "LOCK_TIMEOUT",
    "LockBusy",
    "StoreError",
    "folder_problem",
    "is_locked",
    "lock_file",
    "locked",
    "open_locked",
    "reason",
    "same_file",
    "try_lock",
]

LOCK_TIMEOUT = 15.0
LOCK_POLL = 0.005  # seconds between tries while another process holds a lock


class StoreError(Exception):
    """The task list cannot be read or written; the message says why, in one sentence."""


class LockBusy(Exception):
    """Another process holds the lock (and did not let go in the time given)."""


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
        # Each missing folder, from the top, gets ``mode``: ``mkdir(parents=True)`` would
        # give the parents the umask's default, and a private folder (0700: the record of
        # sends) made as the parent of its first file would be left open to all.
        missing = [p for p in (folder, *folder.parents) if not p.is_dir()]
        for place in reversed(missing):
            place.mkdir(mode=mode, exist_ok=True)
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


def try_lock(fd: int, *, shared: bool = False) -> bool:
    """Take ``fd``'s ``flock`` without waiting: True when taken, False when another
    process holds it. ``shared``: a reader's lock (any number at once)."""
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def open_locked(path: Path, *, flags: int = 0, wait: float = 0.0) -> int:
    """A descriptor of ``path`` (made 0600 when missing) holding its exclusive lock;
    closing it releases the lock. It is the file that is at ``path`` now: when the holder
    before us removed or replaced the file, the new one is locked. Waits up to ``wait``
    seconds for another holder, then raises :class:`LockBusy`; an ``OSError`` when the
    file cannot be opened. ``flags``: more for ``os.open`` (``os.O_APPEND``)."""
    deadline = time.monotonic() + wait
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | flags, 0o600)
        try:
            while not try_lock(fd):
                if time.monotonic() >= deadline:
                    raise LockBusy(str(path))
                time.sleep(LOCK_POLL)
            if same_file(fd, path):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the holder before us removed or replaced it: lock the new one


def is_locked(path: Path) -> bool:
    """Whether another process holds ``path``'s lock now (taken and dropped at once;
    no file is made)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return not try_lock(fd, shared=True)
    finally:
        os.close(fd)


@contextlib.contextmanager
def lock_file(lock_path: Path, *, wait: float = 0.0) -> Iterator[None]:
    """Hold the lock file ``lock_path`` (:func:`open_locked`: :class:`LockBusy` or an
    ``OSError`` when it cannot be had). It is removed before the lock is released, so
    none is left behind; a waiter that got the removed file's lock sees it is gone and
    locks the new one."""
    fd = open_locked(lock_path, wait=wait)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock_path)
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def locked(path: Path, lock_path: Path, what: str = "the task list") -> Iterator[None]:
    """Hold ``path``'s lock file for a read-modify-write (:func:`lock_file`, waiting up
    to :data:`LOCK_TIMEOUT`); a :class:`StoreError` that says why when it cannot be had.
    ``what`` names ``path`` in messages."""
    problem = folder_problem(path.parent)
    if problem is not None:
        raise StoreError(f"Cannot save {what} to {path}: {problem}.")
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(lock_file(lock_path, wait=LOCK_TIMEOUT))
        except LockBusy:
            raise StoreError(
                f"{capitalized(what)} {path} is locked by another "
                f"vidwatch process (lock file {lock_path})."
            ) from None
        except OSError as exc:
            raise StoreError(f"Cannot save {what} to {path}: {reason(exc)}.") from None
        yield


def same_file(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path`` (not removed or replaced)."""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)
