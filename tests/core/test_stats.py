"""The stats view's figures: per model, spend today and this week, jobs finished per
minute, failed jobs still charged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from vidwatch.core.model.money import Charge, ChargeKind, Cost, Money, Units
from vidwatch.core.model.records import State, Task, TaskRecord, TaskRequest, TaskResult, Transition
from vidwatch.core.stats import SPARK_MINUTES, compute, spark_text, stats_json, stats_lines

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
USD = Units("USD", Decimal(500_000), Decimal(1), known=True)


def job(n: int, model: str, state: State, ran: float, cost: str | None, ago: float) -> TaskRecord:
    added = NOW - timedelta(seconds=ago + ran)
    end = added + timedelta(seconds=ran)
    money = None
    if cost is not None:
        money = Cost(
            int(Decimal(cost) * 500_000), 0, Decimal(cost), "USD", "task id", model, added, f"k{n}"
        )
    result = TaskResult(state, state.value, history=(Transition(state, state.value, end),))
    request = TaskRequest(model, "p")
    return TaskRecord(Task(f"{model}:{n}", added, request=request, cost=money), result)


RECORDS = [
    job(1, "grok-video-3", State.SUCCEEDED, 60, "0.24", 120),
    job(2, "grok-video-3", State.SUCCEEDED, 90, "0.24", 300),
    job(3, "grok-video-3", State.FAILED, 30, "0.24", 600),  # failed, still charged
    job(4, "sora-2", State.SUCCEEDED, 600, "0.40", 86_400 * 3),  # three days ago
]
STRANGER = Charge("x", NOW - timedelta(hours=1), ChargeKind.CHARGE, "veo3", 500_000)


def test_per_model_figures_spend_and_failed_but_charged() -> None:
    stats = compute(RECORDS, [STRANGER], USD, NOW)
    grok = stats.models[0]
    assert (grok.model, grok.jobs, grok.succeeded, grok.failed) == ("grok-video-3", 3, 2, 1)
    assert grok.median_run == 60
    assert grok.p90_run == 90
    assert grok.total_cost is not None
    assert grok.total_cost.amount == Decimal("0.72")
    assert stats.spend_week is not None
    assert stats.spend_week.amount == Decimal("2.12")  # 0.72 + 0.40 + the stranger's 1.00
    assert [r.id for r in stats.charged_failed] == ["grok-video-3:3"]
    assert len(stats.finished_per_minute) == SPARK_MINUTES
    assert sum(stats.finished_per_minute) == 3  # the sora job finished days ago
    assert stats.finished_per_minute[-3] == 1  # two minutes ago


def test_what_the_command_prints() -> None:
    stats = compute(RECORDS, [], USD, NOW)
    text = "\n".join(stats_lines(stats))
    assert "grok-video-3" in text
    assert "failed but charged (1): ask the gateway for a refund" in text
    assert "grok-video-3:3  0.24 USD  charged" in text
    shown = stats_json(stats)
    assert shown["models"][0]["total_cost"] == "0.72"
    assert shown["charged_failed"][0]["id"] == "grok-video-3:3"


def test_the_command_draws_finished_jobs_and_running_times_and_says_when_empty() -> None:
    text = "\n".join(stats_lines(compute(RECORDS, [], USD, NOW)))
    assert "                 ▁▁▁▁" in text  # the last three hours, 3 minutes a character
    assert "▁█▁██  (3 min each)" in text  # the three finished in the last minutes
    assert "running times\ngrok-video-3\n    <30s  0\n    <60s ███████████████ 1\n" in text
    assert "   <2.0m ██████████████████████████████ 2\n" in text
    assert stats_lines(compute([], [], USD, NOW)) == ["no jobs in the list yet: nothing to count"]
    assert spark_text([0, 1, 2, 4], width=4) == "▁▃▅█"
    assert spark_text([1, 1, 0, 0, 0, 0], width=2) == "█▁"
    assert spark_text([0, 0]) == "▁▁"


def test_charges_no_watched_job_took_are_said_apart_so_the_spend_adds_up() -> None:
    old = Charge("o", NOW - timedelta(days=9), ChargeKind.CHARGE, "veo3", 500_000)
    stats = compute(RECORDS, [STRANGER, old], USD, NOW)
    assert (stats.unmatched_week, stats.unmatched_spend) == (1, Money(Decimal("1.00"), "USD"))
    text = "\n".join(stats_lines(stats))
    assert "spent this week  2.12 USD\n" in text
    assert "                 of which 1.00 USD in 1 charge no watched job took\n" in text
    shown = stats_json(stats)
    assert shown["unmatched_week"] == {"charges": 1, "spend": "1"}
    assert "no watched job" not in "\n".join(stats_lines(compute(RECORDS, [], USD, NOW)))
