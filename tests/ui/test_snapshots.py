"""Snapshot tests: what the user sees, pinned as SVG (pytest-textual-snapshot).

Regenerate after an intended change with ``pytest tests/test_snapshots.py --snapshot-update``
and look at the report before committing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from vidwatch.core.model.records import State
from vidwatch.core.polling.budget import Policy
from vidwatch.ui.app import VidwatchApp
from vidwatch.ui.widgets.header import StatusBar

from tests.support.dashboard import KEY, FakeGateway, make_app, record
from tests.support.waits import until

pytestmark = pytest.mark.ui

SnapCompare = Callable[..., bool]
CONFIG = Path("/home/user/.config/vidwatch/config.toml")  # a stable path for the banner

LONG_CJK = (
    "```\n"
    + "一只橘猫在雨夜的东京街头散步，霓虹灯倒映在积水中，电影感镜头缓慢推进。" * 12
    + "\n\n镜头二：猫跳上屋顶，远处是东京塔，雨停了，云层散开露出月亮。" * 6
    + "\n```"
)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Absolute times in the detail pane are local: pin the zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def several(tmp_path: Path, **kw: Any) -> VidwatchApp:
    records = [
        record("grok:eee6faa8-9dee-455c-aa82-02ac623adf3a", State.SUCCEEDED,
               label="cow on the moon", url="https://cdn.example/v/eee6faa8.mp4",
               prompt="```\nA majestic brown cow\n```", minutes=42),
        record("sora-2:033fa60e-f37c-4ff6-a44d-5585ffea938d", State.RUNNING,
               prompt="Drone shot over a fjord at sunrise", minutes=12),
        record("veo3.1-fast:7d1c0b52-1f0e-4a53-9f43-63a2d1e0c9aa", State.QUEUED, minutes=3),
        record("kling-v2:0b9d1f8e-4c1a-4e5b-8a7f-2f1c3d4e5f60", State.FAILED, label="robot chef",
               minutes=30),
        record("grok:5a5a5a5a-0000-4000-8000-000000000001", State.UNKNOWN, status="brewing",
               minutes=5),
        record("grok:[@click=app.quit]x", State.RUNNING, label="[/] hostile [b]label",
               prompt="[@click=app.quit]click me[/]", minutes=1),
    ]  # fmt: skip
    return make_app(tmp_path, records, config_file=CONFIG, **kw).app


def test_main_screen(snap_compare: SnapCompare, tmp_path: Path) -> None:
    gateway = FakeGateway(hang=True)
    app = several(tmp_path, key=KEY, gateway=gateway)
    unfinished = 4  # running, queued, unknown and the hostile one

    async def settle(pilot: Pilot[None]) -> None:
        await until(pilot, lambda: len(gateway.calls) == unfinished)  # in flight, forever
        app.tick()  # what the once-a-second redraw would show
        await pilot.pause()

    assert snap_compare(app, terminal_size=(160, 24), run_before=settle)


def test_empty_first_run(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app = make_app(tmp_path, [], config_file=CONFIG).app
    assert snap_compare(app, terminal_size=(120, 20))


def test_detail_pane_with_a_long_cjk_prompt(snap_compare: SnapCompare, tmp_path: Path) -> None:
    records = [
        record("grok:1", State.SUCCEEDED, label="cat in Tokyo", url="https://cdn.example/cat.mp4",
               prompt=LONG_CJK, minutes=9),
        record("grok:2", State.RUNNING, prompt="short"),
    ]  # fmt: skip
    app = make_app(tmp_path, records, config_file=CONFIG).app
    assert snap_compare(app, terminal_size=(140, 40))


def test_help_screen(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app = several(tmp_path)
    assert snap_compare(app, terminal_size=(120, 36), press=["question_mark"])


def test_key_rejected_banner(snap_compare: SnapCompare, tmp_path: Path) -> None:
    one_at_a_time = Policy(min_interval=60, max_interval=60, max_requests_per_second=0.1)
    app = several(tmp_path, key=KEY, gateway=FakeGateway(status=401), policy=one_at_a_time)

    async def rejected(pilot: Pilot[None]) -> None:
        await until(pilot, lambda: "rejected" in app.main.banner_text())
        await until(pilot, lambda: "key rejected" in app.main.query_one(StatusBar).render().plain)
        app.tick()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(160, 24), run_before=rejected)
