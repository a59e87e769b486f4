"""The one atomic writer behind the task file, saved views and exports."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from vidwatch.core.store.atomic import atomic_write


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


# --------------------------------------------------------------------------- symlinks


def test_a_symlink_is_written_through_to_its_target(tmp_path: Path) -> None:
    synced = tmp_path / "synced"
    synced.mkdir()
    target = synced / "tasks.toml"
    target.write_bytes(b"old")
    home = tmp_path / "home"
    home.mkdir()
    link = home / "tasks.toml"
    link.symlink_to(target)
    atomic_write(link, b"new", mode=0o600)
    assert link.is_symlink()
    assert os.readlink(link) == str(target)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    # the temp file lived (and died) beside the target, nothing was left beside the link
    assert sorted(p.name for p in home.iterdir()) == ["tasks.toml"]
    assert sorted(p.name for p in synced.iterdir()) == ["tasks.toml"]


def test_a_relative_link_and_a_chain_of_links_are_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "view.toml"
    target.write_bytes(b"old")
    first = tmp_path / "first.toml"
    first.symlink_to(Path("real") / "view.toml")
    second = tmp_path / "second.toml"
    second.symlink_to("first.toml")
    atomic_write(second, b"new")
    assert second.is_symlink()
    assert first.is_symlink()
    assert target.read_bytes() == b"new"


def test_a_dangling_link_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "export.csv"
    link.symlink_to(tmp_path / "elsewhere.csv")
    atomic_write(link, b"a,b\n")
    assert link.is_symlink()
    assert (tmp_path / "elsewhere.csv").read_bytes() == b"a,b\n"


def test_a_loop_of_links_is_refused_and_left_alone(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(OSError, match="loop"):
        atomic_write(a, b"x")
    assert a.is_symlink()
    assert b.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
