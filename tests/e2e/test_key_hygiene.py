"""Key hygiene: a recognisable key goes through every error path and is found nowhere.

The CLI runs as real processes against the simulator (which can be told to echo the
Authorization header back, or to redirect elsewhere); the dashboard runs under Pilot.
Afterwards everything vidwatch wrote — task file, logs, stdout, stderr, screenshots,
toasts, banners, outcome messages — is searched for the key.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from vidwatch.core.config import Config, Paths, load_config
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.model.records import Task
from vidwatch.core.polling.budget import Policy
from vidwatch.core.polling.events import PollerEvent, TaskUpdate
from vidwatch.core.store.task_file import TaskStore
from vidwatch.simulator.serve import SimulatorThread
from vidwatch.simulator.server import Simulator
from vidwatch.ui.app import DashboardOptions, VidwatchApp

from tests.support.waits import until

pytestmark = pytest.mark.e2e

KEY = "sk-CANARY-9f3e1a77c0d24b51"
FAULTS = ["401", "echo-key", "404", "429", "500", "html", "malformed", "huge", "drop", "redirect"]


@dataclass
class World:
    home: Path
    env: dict[str, str]
    sim: Simulator
    thread: SimulatorThread
    outputs: list[str] = field(default_factory=list)

    def run(self, *argv: str, stdin: str = "", env: dict[str, str] | None = None) -> int:
        proc = subprocess.run(
            [sys.executable, "-m", "vidwatch", *argv],
            input=stdin,
            capture_output=True,
            text=True,
            env=env or self.env,
            timeout=60,
            check=False,
        )
        self.outputs += [proc.stdout, proc.stderr]
        return proc.returncode

    def inject(self, fault: str, count: int = 1) -> None:
        self.thread.call(lambda: self.sim.inject(fault, count))

    def inject_create(self, fault: str, after: int = 0) -> None:
        self.thread.call(lambda: self.sim.create.inject(fault, after=after))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    home = tmp_path / "home"
    sim = Simulator(jobs=3, seed=4, api_key=KEY, speed=50)
    other = Simulator(jobs=0, seed=5)  # "another host": must never see a request
    with SimulatorThread(sim) as thread, SimulatorThread(other) as elsewhere:
        sim.redirect_to = f"{elsewhere.base_url}/v1/video/query"
        config = home / "config" / "vidwatch" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text(
            "timeout = 10.0\n[polling]\nmin_interval = 0.05\nmax_interval = 0.1\n"
            "max_requests_per_second = 200\n",
            encoding="utf-8",
        )
        env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_STATE_HOME": str(home / "state"),
            "QUICKROUTER_API_KEY": KEY,
            "QUICKROUTER_BASE_URL": thread.base_url,
        }
        yield World(home, env, sim, thread)
        assert other.stats.requests == 0, "the key was sent to another host"


def everything_written(world: World) -> dict[str, str]:
    found = {f"output {n}": text for n, text in enumerate(world.outputs)}
    for path in world.home.rglob("*"):
        if path.is_file() and path.name != "config.toml":  # the key's own home
            found[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    return found


def assert_no_leak(world: World) -> dict[str, str]:
    written = everything_written(world)
    assert any("vidwatch.log" in name for name in written)  # the log was written to
    leaks = [name for name, text in written.items() if KEY in text]
    assert leaks == []
    return written


# Two halves (watching, creating) so that a loaded machine runs them side by side.
def test_the_cli_never_writes_or_prints_the_key_while_watching(world: World) -> None:
    ids = world.sim.job_ids
    assert world.run("add", *ids, "bad\x01id") == 1
    for fault in FAULTS:
        world.inject(fault, 2)  # twice: aiohttp retries a dropped connection once
        world.run("--debug", "poll", ids[0])
        world.thread.call(world.sim.clear_faults)
    world.inject("401", 50)
    assert world.run("wait", ids[1], "--timeout", "5") == 3
    world.thread.call(world.sim.clear_faults)
    assert world.run("poll", "--json") == 0
    world.run("list", "--json")
    world.run("list")
    world.run("urls")
    world.run("check")
    world.run("paths")
    # A wrong key rejected, a base URL refused, a port nobody listens on.
    world.run("poll", env={**world.env, "QUICKROUTER_API_KEY": KEY + "x"})
    world.run("poll", env={**world.env, "QUICKROUTER_BASE_URL": "http://example.com"})
    world.run("poll", env={**world.env, "QUICKROUTER_BASE_URL": "http://127.0.0.1:9"})
    # The key in a config file that others can read, with a typo after it.
    config = world.home / "config" / "vidwatch" / "config.toml"
    config.write_text(f'api_key = "{KEY}"\nbell = tru\n', encoding="utf-8")
    config.chmod(0o644)
    assert world.run("check", env={**world.env, "QUICKROUTER_API_KEY": ""}) == 4
    config.write_text(f'api_key = "{KEY}"\n', encoding="utf-8")
    world.run("check", env={**world.env, "QUICKROUTER_API_KEY": ""})
    assert "readable by others" in world.outputs[-1]
    written = assert_no_leak(world)
    assert any("bad auth header" in text for text in written.values())  # the echo arrived


def test_the_cli_never_writes_or_prints_the_key_while_creating(world: World) -> None:
    # Answers that echo the key, lost answers, a batch, a dry run.
    world.run("create", "--dry-run", "a cat")
    world.run("create", "a cat")  # no terminal, no --yes: refused
    assert world.run("create", "--yes", "--label", "one", "a cat") == 0
    world.inject_create("echo-key")
    assert world.run("create", "--yes", "a cat") == 64  # sent before: needs --resend
    assert world.run("--debug", "create", "--yes", "--resend", "a cat") == 1
    world.inject_create("lose-answer")
    assert world.run("create", "--yes", "--json", "a dog") == 1
    batch = world.home / "batch.jsonl"
    batch.write_text(
        "".join(f'{{"prompt": "clip {n}", "label": "c{n}"}}\n' for n in range(4)),
        encoding="utf-8",
    )
    world.inject_create("echo-key", after=1)
    world.inject_create("lose-answer")
    world.run("submit", "--dry-run", str(batch))
    assert world.run("--debug", "submit", "--yes", str(batch)) == 1
    world.run("submit", "--yes", str(batch), "--mark-done", "3")
    world.run("submit", "--yes", str(batch), "--wait", "--timeout", "5")
    manifests = list(world.home.rglob("sent/journals/*.jsonl"))
    assert len(manifests) == 2  # the batch's and the one of single creates
    assert list(world.home.rglob("sent/requests/*/*.json"))  # the record of requests

    written = assert_no_leak(world)
    assert any("bad auth header" in text for text in written.values())  # the echo arrived
    assert (
        sum("bad auth header Bearer ***" in text for text in world.outputs) >= 2
    )  # create, submit


async def test_the_dashboard_never_shows_or_saves_the_key(tmp_path: Path) -> None:
    sim = Simulator(jobs=2, seed=8, api_key=KEY, speed=1)
    base_url = await sim.start()
    try:
        tasks = tmp_path / "tasks.toml"
        TaskStore(tasks).add([Task(i, sim.wall_time(0)) for i in sim.job_ids])
        config = Config(
            base_url=base_url,
            api_key=KEY,
            policy=Policy(min_interval=0.5, max_interval=1.0, max_requests_per_second=200),
            timeout=10.0,  # the simulator shares the app's loop: never a timeout instead
        )
        app = VidwatchApp(DashboardOptions(Paths(tmp_path / "c.toml", tasks, tmp_path), config))
        seen: list[str] = []
        toasts: list[str] = []
        notify = app.notify

        def recording_notify(message: str, **kwargs: Any) -> None:
            toasts.append(message)
            notify(message, **kwargs)

        app.notify = recording_notify  # type: ignore[method-assign]

        def settled() -> bool:
            """No request in flight and the screen shows every answer received."""
            ids = list(app.session.records)
            return not any(app.poller.is_polling(i) for i in ids) and all(
                app.main.table.records.get(i) == app.session.records[i] for i in ids
            )

        updates: list[str] = []  # every record the screen was given, errors included

        def record_update(event: PollerEvent) -> None:
            if isinstance(event, TaskUpdate):
                updates.append(f"{event.record} {event.record.result.error or ''}")

        async with app.run_test(size=(200, 50)) as pilot:
            app.poller.subscribe(record_update)
            for fault in FAULTS:
                sim.inject(fault, 2 if fault == "drop" else 1)
                await until(pilot, lambda: sim.stats.faults[fault], what=fault)  # noqa: B023
                if fault == "echo-key":  # the proof that a leak would be seen: the echo arrives
                    await until(pilot, lambda: any("bad auth header" in u for u in updates))
                await until(pilot, settled, what=f"the {fault} answer on screen")
                await pilot.pause()
                seen += [app.main.banner_text(), app.export_screenshot()]
                seen += [app.main.table.render_line(y).text for y in range(1, 3)]
                if app.poller.status.auth_error:
                    await pilot.press("p")
                sim.clear_faults()
            for record in app.main.table.records.values():
                seen += [str(record), record.result.error or ""]
            await pilot.press("question_mark")
            seen.append(app.export_screenshot())
            await pilot.press("escape", "q")
        seen.append(tasks.read_text(encoding="utf-8"))
        seen += toasts + updates
        assert any("bad auth header" in text for text in seen)  # the echo reached the screen
        assert [n for n, text in enumerate(seen) if KEY in text] == []
        assert sim.stats.requests > len(FAULTS)
    finally:
        await sim.stop()


def test_the_key_is_kept_out_of_reprs(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'api_key = "{KEY}"\n', encoding="utf-8")
    path.chmod(0o600)
    config = load_config(path, env={})
    assert config.api_key == KEY
    assert KEY not in repr(config)
    client = QueryClient("https://gw.example", KEY)  # a traceback shows it by its repr
    assert repr(client) == "QueryClient('https://gw.example', key set)"


def test_plain_http_is_refused_except_to_loopback_or_when_allowed(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('base_url = "http://gateway.example"\n', encoding="utf-8")
    with pytest.raises(Exception, match="plain http") as info:
        load_config(path, env={"QUICKROUTER_API_KEY": KEY})
    assert KEY not in str(info.value)
    path.write_text(
        'base_url = "http://gateway.example"\nallow_insecure_http = true\n', encoding="utf-8"
    )
    assert load_config(path, env={}).base_url == "http://gateway.example"
    path.write_text('base_url = "http://127.0.0.1:8080"\n', encoding="utf-8")
    assert load_config(path, env={}).base_url == "http://127.0.0.1:8080"
