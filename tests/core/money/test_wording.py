"""Failed but charged: flagged in the COST cell, the filter and the refund's facts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from vidwatch.core.model.money import Cost
from vidwatch.core.model.query import parse_query, search_text
from vidwatch.core.model.records import State, Task, TaskRecord, TaskResult
from vidwatch.core.money.wording import cost_cell, cost_line, refund_note

T0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
CHARGE = Cost(200_000, 0, Decimal("0.4"), "USD", "task id", "sora-2", T0, "k1")
REFUND = Cost(200_000, 200_000, Decimal(0), "USD", "task id", "sora-2", T0, "k1 k2")


def record(task_id: str, state: State, cost: Cost | None) -> TaskRecord:
    return TaskRecord(Task(task_id, T0, cost=cost), TaskResult(state, state.value))


FAILED_CHARGED = record("sora-2:a", State.FAILED, CHARGE)
FAILED_REFUNDED = record("sora-2:b", State.FAILED, REFUND)
SUCCEEDED = record("sora-2:c", State.SUCCEEDED, CHARGE)
UNKNOWN = record("sora-2:d", State.FAILED, None)
ALL = (FAILED_CHARGED, FAILED_REFUNDED, SUCCEEDED, UNKNOWN)


def matching(text: str) -> list[str]:
    query = parse_query(text)
    return [r.id for r in ALL if query.matches(r, search_text(r), T0)]


def test_the_filter_finds_failed_jobs_still_charged() -> None:
    assert matching("charged:failed") == ["sora-2:a"]
    assert matching("charged:yes") == ["sora-2:a", "sora-2:c"]
    assert matching("charged:no") == ["sora-2:b", "sora-2:d"]
    assert matching("-charged:failed state:failed") == ["sora-2:b", "sora-2:d"]


def test_the_cost_cell_and_the_refund_note() -> None:
    assert cost_cell(FAILED_CHARGED) == "0.40!"
    assert cost_cell(SUCCEEDED) == "0.40"
    assert cost_cell(UNKNOWN) == "–"
    assert refund_note(SUCCEEDED) == ""
    assert refund_note(FAILED_REFUNDED) == ""
    note = refund_note(FAILED_CHARGED)
    assert "sora-2:a" in note
    assert "0.40 USD" in note
    assert "2026-12-07 06:00:00 UTC" in note
    assert "refunded" in cost_line(REFUND)
