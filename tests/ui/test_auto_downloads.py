"""``[downloads] auto = true`` in the dashboard (issue 21 item 6): each video whose job
finishes while the dashboard watches it is saved at once, without D."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from vidwatch.core.config import Config, DownloadSettings, Paths
from vidwatch.core.model.records import State
from vidwatch.ui.app import DashboardOptions, VidwatchApp

from tests.support.dashboard import NO_STILLS


async def until(pilot: Pilot[None], check: Callable[[], bool], timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await pilot.pause(0.02)


@pytest.mark.ui
async def test_finished_videos_are_saved_as_soon_as_they_are_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    options = DashboardOptions(
        paths=Paths.discover(tasks_file=tmp_path / "tasks.toml"),
        config=Config(downloads=DownloadSettings(auto=True), preview=NO_STILLS),
        demo=True,
        demo_jobs=4,
        demo_speed=300.0,
    )
    app = VidwatchApp(options)
    async with app.run_test(size=(160, 30)) as pilot:
        records = app.session.records

        def saved() -> list[str]:
            return [i for i, r in records.items() if r.task.saved_to]

        await until(pilot, lambda: bool(saved()))  # no key pressed
        for task_id in saved():
            assert Path(records[task_id].task.saved_to or "").is_file()
            assert records[task_id].state is State.SUCCEEDED
        await pilot.press("q")
