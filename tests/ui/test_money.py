"""The balance in the header: shown at start, refreshed when jobs reach the list, absent
(and polling untouched) when the gateway offers none."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from textual.widgets import Sparkline, Static
from vidwatch.core.model.money import Cost
from vidwatch.core.model.records import State, Task, TaskRecord, TaskRequest, TaskResult
from vidwatch.core.stats import SPARK_MINUTES
from vidwatch.core.store.task_file import TaskStore
from vidwatch.ui.screens.stats import StatsScreen
from vidwatch.ui.widgets.detail import DetailPane
from vidwatch.ui.widgets.header import StatusBar

from tests.support.dashboard import make_app
from tests.support.waits import until

KEY = "sk-test-HEADER-0123456789"


def header(app: object) -> str:
    bar = app.main.query_one(StatusBar)  # type: ignore[attr-defined]
    return str(bar.render().plain)


@pytest.mark.ui
async def test_the_header_shows_the_balance_and_refreshes_after_a_create(tmp_path: Path) -> None:
    available = [15_600_000]
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path == "/api/status":
            data = {"quota_per_unit": 500000, "quota_display_type": "USD"}
            return httpx.Response(200, json={"success": True, "data": data})
        if request.url.path == "/api/usage/token":
            data = {"total_available": available[0], "total_used": 0, "unlimited_quota": False}
            return httpx.Response(200, content=json.dumps({"code": True, "data": data}))
        return httpx.Response(404)

    h = make_app(tmp_path, key=KEY, billing=httpx.MockTransport(answer))
    h.app.balance.min_gap = 0.0
    async with h.app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: "balance 31.20" in header(h.app), what="the balance")
        available[0] -= 120_000
        h.app.session.add(["grok:made-just-now"])
        await until(pilot, lambda: "balance 30.96" in header(h.app), what="a new balance")
        assert KEY not in header(h.app)
    assert asked.count("/api/usage/token") == 2


@pytest.mark.ui
async def test_a_gateway_without_a_balance_shows_none(tmp_path: Path) -> None:
    h = make_app(tmp_path, key=KEY)  # the harness's billing routes answer 404
    async with h.app.run_test(size=(160, 30)) as pilot:
        keeper = h.app.balance.keeper
        assert keeper is not None
        await until(pilot, lambda: not keeper.offered, what="not offered")
        h.app.session.add(["grok:another"])
        await pilot.pause()
        assert "balance" not in header(h.app)


def sora_charge(at: datetime) -> dict[str, object]:
    """A request log entry: 0.40 USD charged for ``sora-2:a``, naming its task."""
    return {
        "created_at": int(at.timestamp()),
        "type": 2,
        "model_name": "sora-2",
        "quota": 200_000,
        "other": json.dumps({"task_id": "sora-2:a"}),
    }


@pytest.mark.ui
async def test_costs_from_the_log_reach_the_table_and_the_detail_pane(tmp_path: Path) -> None:
    t0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    failed = TaskRecord(Task("sora-2:a", t0), TaskResult(State.FAILED, "failed"))
    entry = sora_charge(t0)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/status":
            data = {"quota_per_unit": 500000, "quota_display_type": "USD"}
            return httpx.Response(200, json={"success": True, "data": data})
        if request.url.path == "/api/log/token":
            return httpx.Response(200, json={"success": True, "data": [entry]})
        return httpx.Response(404)

    h = make_app(tmp_path, [failed], key=KEY, billing=httpx.MockTransport(answer))
    async with h.app.run_test(size=(160, 30)) as pilot:
        session = h.app.session
        await until(
            pilot, lambda: session.records["sora-2:a"].task.cost is not None, what="the cost"
        )
        detail = h.app.main.query_one(DetailPane)
        await until(
            pilot, lambda: "still charged" in detail.section_text("cost"), what="the refund's facts"
        )
        assert "0.40 USD" in detail.section_text("cost")
    saved = TaskStore(h.tasks).load().records["sora-2:a"].task.cost
    assert saved is not None
    assert saved.amount == Decimal("0.4")


@pytest.mark.ui
async def test_the_stats_screen_opens_on_dollar(tmp_path: Path) -> None:
    t0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    cost = Cost(120_000, 0, Decimal("0.24"), "USD", "task id", "grok-video-3", t0, "k")
    failed = TaskRecord(
        Task("grok:a", t0, request=TaskRequest("grok-video-3", "p"), cost=cost),
        TaskResult(State.FAILED, "failed"),
    )
    h = make_app(tmp_path, [failed], key=KEY)
    async with h.app.run_test(size=(120, 40)) as pilot:
        await pilot.press("dollar_sign")
        await until(pilot, lambda: isinstance(h.app.screen, StatsScreen), what="the stats")
        screen = h.app.screen
        await pilot.pause()
        shot = h.app.export_screenshot().replace("&#160;", " ")
        assert "grok-video-3" in shot  # the per-model table
        assert "Failed but charged (1)" in shot
        assert "grok:a  0.24 USD" in shot
        assert screen.query_one("#stats-refunds", Static).display
        assert len(screen.query_one(Sparkline).data or []) == SPARK_MINUTES
        await pilot.press("c")  # what a refund request needs, to paste
        await until(pilot, lambda: bool(h.clipboard.copied), what="copied")
        assert h.clipboard.copied == ["grok:a  0.24 USD  charged 2026-12-07 06:00 UTC\n"]
        await until(pilot, lambda: any("1 failed job still charged" in t for t in h.toasts))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(h.app.screen, StatsScreen), what="closed")


@pytest.mark.ui
async def test_a_cost_learned_after_the_download_reaches_the_sidecar(tmp_path: Path) -> None:
    from vidwatch.core.downloads.sidecar import write_sidecar

    t0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    video = tmp_path / "fox.mp4"
    video.write_bytes(b"\x00" * 64)
    done = TaskRecord(
        Task("sora-2:a", t0, saved_to=str(video)),
        TaskResult(State.SUCCEEDED, "completed"),
    )
    side = write_sidecar(done, video, 64)
    entry = sora_charge(t0)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/log/token":
            return httpx.Response(200, json={"success": True, "data": [entry]})
        return httpx.Response(404)

    def noted() -> bool:
        return json.loads(side.read_text(encoding="utf-8"))["cost"] is not None

    h = make_app(tmp_path, [done], key=KEY, billing=httpx.MockTransport(answer))
    async with h.app.run_test(size=(120, 30)) as pilot:
        await until(pilot, noted, what="the sidecar's cost")
    assert json.loads(side.read_text(encoding="utf-8"))["cost"]["charged"] == 200_000
