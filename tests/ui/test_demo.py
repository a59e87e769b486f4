"""The demo keeps its downloads and exports in a temporary folder of its own, says where,
and leaves nothing behind when it ends."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import Input, Static
from vidwatch.core.config import Config, Paths, default_download_dir
from vidwatch.core.model.records import State
from vidwatch.ui.app import DashboardOptions, VidwatchApp
from vidwatch.ui.controllers.demo import home_relative
from vidwatch.ui.dialogs.export import ExportDialog

from tests.support.waits import until


@pytest.fixture
def demo_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo's own folder (made with tempfile) under the test's, not the system's.
    (The banner tests keep the system's: the banner names the folder, and its length is
    what they measure.)"""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def everything_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*")) if folder.exists() else []


@pytest.mark.ui
async def test_the_demo_downloads_and_exports_into_its_own_folder_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21 item 14: a demo session's videos, sidecars and exports lived on in the
    real data folder after quitting. They go to the demo's temporary folder, which the
    banner names, and are gone with it; so do the stills of its fake videos (never in
    the user's cache)."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_VIDEOS_DIR", raising=False)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    videos = default_download_dir()
    assert videos.is_relative_to(home)  # what the demo must leave alone
    paths = Paths.discover()
    data = paths.tasks_file.parent  # the real data folder: $XDG_DATA_HOME/vidwatch
    options = DashboardOptions(
        paths=paths, config=Config(), demo=True, demo_jobs=4, demo_speed=300.0
    )
    app = VidwatchApp(options)
    assert app.demo is not None
    folder = app.demo.files
    assert folder.is_relative_to(temporary)
    async with app.run_test(size=(160, 30)) as pilot:
        records = app.session.records
        assert home_relative(folder) in app.main.banner_text()  # it says where
        assert "deleted when the demo ends" in app.main.banner_text()
        table = app.main.table  # D acts on the rows shown
        await until(pilot, lambda: any(r.state is State.SUCCEEDED for r in table.visible_records))
        await pilot.press("asterisk", "D")  # every finished video
        await until(pilot, lambda: any(r.task.saved_to for r in records.values()))
        saved = [Path(r.task.saved_to) for r in records.values() if r.task.saved_to]
        assert all(p.parent == folder and p.is_file() for p in saved)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ExportDialog))
        suggested = Path(app.screen.query_one("#export-path", Input).value)
        assert suggested.parent == folder
        await pilot.press("ctrl+s")
        await until(pilot, suggested.exists)
        assert everything_under(folder)  # videos, sidecars, the export: there meanwhile
        # the detail pane shows the highlighted job's still: cached in the demo's folder
        stills = app.demo.stills
        await until(pilot, lambda: any(p.suffix == ".jpg" for p in everything_under(stills)))
        await pilot.press("q")
    assert not paths.cache_dir.exists()  # nothing of the demo in the user's cache
    assert everything_under(data) == []  # nothing of the demo in the data folder
    assert everything_under(temporary) == []  # and its own folder is gone
    assert not videos.exists()
    assert not (home / "Videos").exists()


def test_a_demo_ended_by_a_signal_leaves_no_folder_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing the terminal (SIGHUP) while the loop did not answer within the grace: the
    watchdog saved the demo's list into its temporary folder, which then stayed. It
    removes the folder instead (the demo keeps nothing)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    options = DashboardOptions(paths=Paths.discover(), config=Config(), demo=True, demo_jobs=4)
    app = VidwatchApp(options)
    assert app.demo is not None
    assert app.demo.folder.is_relative_to(temporary)
    app.saver.loaded = True  # the demo's list was read: the watchdog would save it
    assert app._save_for_exit()  # from the watchdog's thread, the loop stuck
    assert everything_under(temporary) == []
    assert everything_under(Paths.discover().tasks_file.parent) == []


@pytest.mark.ui
async def test_the_demo_banner_is_read_whole_at_80x24(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    options = DashboardOptions(paths=Paths.discover(), config=Config(), demo=True, demo_jobs=4)
    app = VidwatchApp(options)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "DEMO" in app.main.banner_text())
        await pilot.pause()
        banner = app.main.query_one("#banner", Static)
        box = banner.content_region
        lines = Text(app.main.banner_text()).wrap(app.console, box.width)
        assert len(lines) <= 3  # leaves the rows their room
        assert box.height >= len(lines)  # and nothing is cut off (the key hint is last)
        await pilot.press("q")


async def test_the_demo_shows_every_model_family(demo_tmp: Path) -> None:
    """Its jobs take the families in turn: grok, sora, veo, each answering in its own
    shape, and one in the doc page's."""
    from datetime import UTC, datetime

    from vidwatch.ui.controllers.demo import Demo

    demo = Demo(jobs=4, seed=7, speed=3.0)
    try:
        await demo.start(Config(), lambda: datetime.now(UTC))
        records = demo.store.load().records
    finally:
        await demo.stop()
    families = ["grok", "kling-v2", "sora-2", "veo3.1-fast"]
    assert sorted(i.partition(":")[0] for i in records) == families
    assert sorted(r.task.label.split()[-1] for r in records.values()) == families  # shown


@pytest.mark.ui
async def test_the_demo_opens_on_the_job_that_succeeds_first(demo_tmp: Path) -> None:
    """The cursor starts on the first row: its still and facts show at once (or within
    moments), not after the slowest job of the list."""
    from datetime import UTC, datetime

    from vidwatch.ui.controllers.demo import Demo

    demo = Demo(jobs=36, seed=0, speed=3.0)
    try:
        await demo.start(Config(), lambda: datetime.now(UTC))
        first = demo.store.load().records
        assert demo.simulator is not None
        jobs = demo.simulator.jobs
    finally:
        await demo.stop()
    done = [j for j in jobs.values() if not j.fails]
    soonest = min(done, key=lambda j: j.finishes_at)
    assert next(iter(first)) == soonest.id
    assert first[soonest.id].task.label.startswith("demo 01 ")


@pytest.mark.ui
async def test_at_80x24_the_demo_banner_leaves_the_table_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole demo (36 jobs): banner, header and footer leave most rows to the table."""
    from vidwatch.ui.widgets.task_table import TaskTable

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    options = DashboardOptions(paths=Paths.discover(), config=Config(), demo=True)
    app = VidwatchApp(options)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "DEMO" in app.main.banner_text())
        table = app.main.query_one(TaskTable)
        await until(pilot, lambda: len(table.view_ids) == 36)
        await pilot.pause()
        banner = app.main.query_one("#banner", Static)
        assert banner.region.height <= 4
        assert table.region.height - 1 >= 15  # rows under the column titles
        await pilot.press("q")


@pytest.mark.ui
async def test_the_demo_shows_what_each_job_cost_for_every_family(demo_tmp: Path) -> None:
    """The demo's jobs carry the request that made them, as jobs created here do: the
    simulator's charges (only sora's name their task) are matched to every one of them,
    so the COST column, the detail pane and the stats view show costs in the demo."""
    from datetime import UTC, datetime

    from vidwatch.core.clients import billing_client_for
    from vidwatch.core.model.money import Units
    from vidwatch.core.money.costs import Costs, read_costs
    from vidwatch.core.store.charge_book import Book
    from vidwatch.ui.controllers.demo import Demo

    demo = Demo(jobs=8, seed=7, speed=3.0)
    try:
        config, _ = await demo.start(Config(), lambda: datetime.now(UTC))
        records = demo.store.load().records
        async with billing_client_for(config) as client:
            units = await client.units()
            assert isinstance(units, Units)
            got = await read_costs(client, records, Book(), units)
    finally:
        await demo.stop()
    assert isinstance(got, Costs)
    costs = got.matching.costs
    assert set(costs) == set(records)  # every job, none left unmatched
    assert got.book.unmatched == ()
    assert {c.unit for c in costs.values()} == {"USD"}
    assert {c.model for c in costs.values()} == {"grok", "kling-v2", "sora-2", "veo3.1-fast"}
