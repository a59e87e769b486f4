"""End to end: the dashboard against the built-in simulator over real loopback HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from vidwatch.core.config import Config, Paths
from vidwatch.core.model.records import State, Task
from vidwatch.core.polling.budget import Policy
from vidwatch.core.store.task_file import TaskStore
from vidwatch.simulator.server import Simulator
from vidwatch.ui.app import DashboardOptions, VidwatchApp
from vidwatch.ui.widgets.header import StatusBar
from vidwatch.ui.widgets.task_table import TaskTable

from tests.support.dashboard import NO_STILLS, Clipboard
from tests.support.waits import until

pytestmark = pytest.mark.e2e


class Clock:
    """The simulator's clock, in seconds; moved by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_job_goes_from_queued_to_succeeded_on_screen_and_its_url_is_copied(
    tmp_path: Path,
) -> None:
    clock = Clock()  # the test moves the job along: no state can be missed on a slow machine
    sim = Simulator(jobs=0, seed=11, clock=clock)
    base_url = await sim.start()
    try:
        job = sim.add_job(queue_time=10, duration=60, fails=False)
        tasks = tmp_path / "tasks.toml"
        TaskStore(tasks).add([Task(job, sim.wall_time(0), "e2e job")])
        config = Config(
            base_url=base_url,
            api_key=sim.api_key,
            policy=Policy(min_interval=0.2, max_interval=0.4, max_requests_per_second=50),
            preview=NO_STILLS,
        )
        clipboard = Clipboard()
        app = VidwatchApp(
            DashboardOptions(paths=Paths(tmp_path / "c.toml", tasks, tmp_path), config=config),
            copier=clipboard.copy,
        )
        seen: list[str] = []
        async with app.run_test(size=(160, 30)) as pilot:
            table = app.main.query_one(TaskTable)

            def state_cell() -> str:
                start = table.render_line(0).text.index("STATE")
                word = table.render_line(1).text[start : start + 14].strip()
                if not seen or seen[-1] != word:
                    seen.append(word)
                return word

            await until(pilot, lambda: "queued" in state_cell())
            clock.now = 30.0  # rendering
            await until(pilot, lambda: "running" in state_cell())
            clock.now = 80.0  # done
            await until(pilot, lambda: "succeeded" in state_cell())
            words = [w.split()[-1] for w in seen if w]
            assert words[-1] == "succeeded"
            assert "queued" in words
            assert "running" in words
            assert words.index("queued") < words.index("running") < words.index("succeeded")
            await pilot.press("c")
            await pilot.pause()
            assert clipboard.copied == [f"{base_url}/videos/{sim.jobs[job].server_id}.mp4"]
            record = table.records[job]
            assert record.result.state is State.SUCCEEDED
            assert record.result.status == "completed"
        stored = TaskStore(tasks).load().records[job]
        assert stored.result.video_url == clipboard.copied[0]
        assert sim.stats.requests >= 3
    finally:
        await sim.stop()


async def test_demo_runs_on_its_own_simulator_and_leaves_the_users_list_alone(
    tmp_path: Path,
) -> None:
    tasks = tmp_path / "tasks.toml"
    TaskStore(tasks).add([Task("mine:1", sim_time())])
    before = tasks.read_bytes()
    options = DashboardOptions(
        paths=Paths(tmp_path / "c.toml", tasks, tmp_path),
        config=Config(),  # no key at all
        demo=True,
        demo_jobs=6,
        demo_speed=60.0,
    )
    app = VidwatchApp(options)
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.main.query_one(TaskTable)
        await until(pilot, lambda: any(r.result.finished for r in table.records.values()))
        assert len(table.records) == 6
        assert "mine:1" not in table.records
        assert any(r.result.finished for r in table.records.values())
        assert "DEMO" in app.main.query_one(StatusBar).render().plain
        assert "DEMO" in app.main.banner_text()
        demo_dir = app.session.store.path.parent
        assert demo_dir.exists()
        await pilot.press("q")
    assert tasks.read_bytes() == before
    assert not demo_dir.exists()


def sim_time() -> datetime:
    return datetime.now(UTC)
