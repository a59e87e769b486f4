"""The one atomic writer behind the task file, saved views and exports."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from vidwatch.core.atomic import atomic_write


def test_replaces_the_file_whole_with_the_mode_asked_for(tmp_path: Path) -> None:
    target = tmp_path / "tasks.toml"
    target.write_bytes(b"old")
    atomic_write(target, b"new" * 100_000, mode=0o600)
    assert target.read_bytes() == b"new" * 100_000
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["tasks.toml"]


def test_without_a_mode_the_file_follows_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    atomic_write(target, b"a,b\n")
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_a_failed_write_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "view.toml"
    target.write_bytes(b"kept")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        atomic_write(target, b"lost")
    assert target.read_bytes() == b"kept"
    assert [p.name for p in tmp_path.iterdir()] == ["view.toml"]
