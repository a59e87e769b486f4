"""The suite writes nothing outside its temporary folders: tests/conftest.py gives every
test its own HOME and XDG folders, and whatever vidwatch would touch by default lies there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest
from vidwatch.core.config import Paths, default_download_dir


def defaults() -> dict[str, Path]:
    paths = Paths.discover()
    return {
        "home": Path.home(),
        "~": Path(os.path.expanduser("~")),
        "config file": paths.config_file,
        "tasks file": paths.tasks_file,
        "log": paths.log_file,
        "view": paths.view_file,
        "videos": default_download_dir(),
        "cache": platformdirs.user_cache_path(),
    }


def test_home_and_every_default_path_lie_in_the_tests_own_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert Path(os.environ["HOME"]) == home
    outside = {name: path for name, path in defaults().items() if not path.is_relative_to(home)}
    assert outside == {}


def test_a_user_videos_folder_set_outside_does_not_leak_in(tmp_path: Path) -> None:
    """XDG_VIDEOS_DIR and its friends are cleared: the videos folder follows HOME."""
    assert not [name for name in os.environ if name.startswith("XDG_") and name.endswith("_DIR")]
    assert default_download_dir() == tmp_path / "home" / "Videos" / "vidwatch"


@pytest.mark.e2e
def test_a_vidwatch_process_started_by_a_test_uses_the_same_home(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vidwatch", "paths"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    shown = [line.split(None, 1)[1] for line in proc.stdout.splitlines() if line.strip()]
    assert len(shown) >= 5
    assert [p for p in shown if not Path(p).is_relative_to(tmp_path / "home")] == []


def test_an_unmarked_test_cannot_start_the_app_or_a_process() -> None:
    """What `make test-fast` skips is marked: a unit test that would run the Textual app or
    start a process fails at once and names the marks (tests/conftest.py)."""
    from textual.app import App

    with pytest.raises(AssertionError, match=r"runs the Textual app .* mark it ui or e2e or slow"):
        App().run_test()
    with pytest.raises(AssertionError, match="starts a process"):
        subprocess.run(["true"], check=False)
    import multiprocessing

    with pytest.raises(AssertionError, match="starts a process"):
        multiprocessing.get_context("spawn").Process(target=print).start()


@pytest.mark.ui
async def test_a_marked_test_may() -> None:
    from textual.app import App

    async with App[None]().run_test() as pilot:
        await pilot.pause()
