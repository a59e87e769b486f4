"""One lock helper (issue 18): every file lock in vidwatch is taken by core/store/lock.py,
on the file that is at its path when the lock is had."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from vidwatch.core.store import lock
from vidwatch.core.store.lock import LockBusy, is_locked, lock_file, open_locked, try_lock

from tests.support.paths import APP


def test_only_the_lock_module_takes_file_locks() -> None:
    """The task list, the record of sends, the journals and the downloads once took their
    locks each their own way (one without the check below): now they call one helper."""
    users = set()
    for path in APP.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("flock", "lockf"):
                users.add(path.relative_to(APP).as_posix())
    assert users == {"core/store/lock.py"}


def test_a_held_lock_is_busy_to_another_and_free_after(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with lock_file(path):
        assert is_locked(path)
        with pytest.raises(LockBusy):
            open_locked(path)  # no wait: at once
    assert not path.exists()  # none left behind
    assert not is_locked(path)
    fd = open_locked(path)
    os.close(fd)


def test_the_lock_is_on_the_file_at_the_path_not_one_its_holder_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A waiter that opened the file just before its holder removed it would lock a file
    nobody else can see (and a third process would take the new one): it locks again."""
    path = tmp_path / "x.lock"
    real = lock.try_lock
    tries: list[int] = []

    def holder_finishes_first(fd: int, *, shared: bool = False) -> bool:
        if not tries:  # between our open and our lock, the holder removes the file
            os.unlink(path)
        tries.append(fd)
        return real(fd, shared=shared)

    monkeypatch.setattr(lock, "try_lock", holder_finishes_first)
    fd = open_locked(path)
    try:
        assert len(tries) == 2  # the removed file's lock was let go, the new one taken
        assert lock.same_file(fd, path)
        other = os.open(path, os.O_RDONLY)
        try:
            assert not try_lock(other)  # the file at the path is the one held
        finally:
            os.close(other)
    finally:
        os.close(fd)
