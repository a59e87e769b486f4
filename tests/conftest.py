"""Every test runs in its own home, and a test is only as cheap as its markers say.

Markers (registered in pyproject.toml), chosen so that ``make test-fast`` can run the rest:

- ``ui``: drives the Textual app (Pilot, snapshots);
- ``e2e``: end to end: other processes (the ``vidwatch`` command, multiprocessing,
  Chromium) or the engine against a loopback server;
- ``slow``: takes seconds by design (the soak, the SIGKILL loop).

A test without any of them is a unit test. That is enforced, not hoped: an unmarked test
that starts the Textual app or another process fails and says which marker it needs.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App

XDG_HOMES = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")
OUR_VARIABLES = (
    "QUICKROUTER_API_KEY",
    "QUICKROUTER_BASE_URL",
    "VIDWATCH_TASKS_FILE",
    "VIDWATCH_CONFIG",
)
NOT_UNIT = ("ui", "e2e", "slow")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own HOME and XDG folders and no API key from the real environment.

    Child processes inherit it (they copy ``os.environ``), so nothing a test starts can
    write to the real home either: ``~/Videos/vidwatch``, ``~/.config`` and the rest all
    land under ``tmp_path / "home"``.
    """
    home = tmp_path / "home"  # made by whoever writes there first
    monkeypatch.setenv("HOME", str(home))
    for name in [n for n in os.environ if n.startswith("XDG_") and n.endswith("_DIR")]:
        monkeypatch.delenv(name)  # XDG_VIDEOS_DIR and friends: derived from HOME instead
    for name in XDG_HOMES:
        monkeypatch.setenv(name, str(home / name.lower()))
    for name in OUR_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return home


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first (slow, then e2e, then ui; the original order within each),
    so that the workers of `make test` finish together: the quick unit tests fill the
    gaps at the end instead of one worker starting the soak when the others are done."""

    def rank(item: pytest.Item) -> int:
        marks = [m for m in NOT_UNIT if item.get_closest_marker(m)]
        return min(LONGEST_FIRST[m] for m in marks) if marks else len(LONGEST_FIRST)

    items.sort(key=rank)


LONGEST_FIRST = {"slow": 0, "e2e": 1, "ui": 2}


def _refuse(what: str, nodeid: str) -> Any:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(
            f"{nodeid} {what} but is marked as a unit test: mark it "
            f"{' or '.join(NOT_UNIT)} (see tests/conftest.py) so `make test-fast` skips it"
        )

    return refuse


@pytest.fixture(autouse=True)
def unit_tests_stay_units(request: pytest.FixtureRequest) -> Iterator[None]:
    """An unmarked test may not start the Textual app or another process."""
    if any(request.node.get_closest_marker(name) for name in NOT_UNIT):
        yield
        return
    nodeid = request.node.nodeid
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(App, "run_test", _refuse("runs the Textual app", nodeid))
        patch.setattr(subprocess.Popen, "__init__", _refuse("starts a process", nodeid))
        patch.setattr(
            "multiprocessing.process.BaseProcess.start", _refuse("starts a process", nodeid)
        )
        yield
