"""The stats view's figures (``vidwatch stats`` and the dashboard's ``$``): what was spent,
on what, and how long jobs take — from the task list and the charge book, no request.

Per model (the model a job was created with, else its ID's prefix): jobs, succeeded and
failed, the median and p90 running time (added → finished), the total and median cost.
Spend today (local midnight) and this week (the last 7 days) counts the tasks' costs
and the charges that match no watched job. Jobs finished per minute over the last
:data:`SPARK_MINUTES` minutes feed a sparkline. Failed jobs still charged are listed
with what a refund asks for.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from vidwatch.core.model.money import QUOTA_UNITS, Charge, Money, Units
from vidwatch.core.model.records import FINISHED_STATES, State, TaskRecord, model_key
from vidwatch.core.money.estimates import Estimator
from vidwatch.core.money.prices import PriceList
from vidwatch.core.store.charge_book import Book
from vidwatch.core.text.wording import plural

__all__ = [
    "SPARK_MINUTES",
    "ModelStats",
    "Stats",
    "compute",
    "spark_text",
    "spent_today",
    "stats_json",
    "stats_lines",
    "unmatched_text",
]

SPARK_MINUTES: Final = 180  # the sparkline's span: the last three hours
BAR_EDGES: Final = (30.0, 60.0, 120.0, 300.0, 600.0)  # seconds: running-time buckets


def _model(record: TaskRecord) -> str:
    request = record.task.request
    return (request.model if request is not None else model_key(record.id)) or "(no model)"


def _finished_at(record: TaskRecord) -> datetime | None:
    result = record.result
    if result.state not in FINISHED_STATES:
        return None
    for step in result.history:
        if step.state in FINISHED_STATES:
            return step.at
    return result.status_update_time


def _running(record: TaskRecord) -> float | None:
    end = _finished_at(record)
    if end is None:
        return None
    seconds = (end - record.task.added_at).total_seconds()
    return seconds if 0 < seconds < 86_400 * 7 else None


def _p90(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


@dataclass(frozen=True, slots=True)
class ModelStats:
    model: str
    jobs: int
    succeeded: int
    failed: int
    median_run: float | None
    p90_run: float | None
    total_cost: Money | None
    median_cost: Money | None
    runs: tuple[int, ...]  # jobs per running-time bucket (BAR_EDGES, then longer)


@dataclass(frozen=True, slots=True)
class Stats:
    models: tuple[ModelStats, ...]
    spend_today: Money | None
    spend_week: Money | None
    finished_per_minute: tuple[int, ...]  # oldest first, SPARK_MINUTES of them
    charged_failed: tuple[TaskRecord, ...]
    unit: str
    # Charges of the week no watched job took (made elsewhere with this key, or for jobs
    # not in the list): counted in the spend, said apart so the totals add up.
    unmatched_week: int = 0
    unmatched_spend: Money | None = None


def _bucket(seconds: float) -> int:
    for number, edge in enumerate(BAR_EDGES):
        if seconds < edge:
            return number
    return len(BAR_EDGES)


def _unit(records: Sequence[TaskRecord], units: Units) -> str:
    seen = Counter(r.task.cost.unit for r in records if r.task.cost is not None)
    return seen.most_common(1)[0][0] if seen else units.unit


def compute(
    records: Iterable[TaskRecord], unmatched: Iterable[Charge], units: Units, now: datetime
) -> Stats:
    """The figures for ``records`` (and the charges no job took) at ``now`` (aware)."""
    listed = list(records)
    unit = _unit(listed, units)
    by_model: defaultdict[str, list[TaskRecord]] = defaultdict(list)
    for record in listed:
        by_model[_model(record)].append(record)
    models = []
    for model, group in sorted(by_model.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        runs = [s for s in (_running(r) for r in group) if s is not None]
        costs = [
            r.task.cost.amount
            for r in group
            if r.task.cost is not None and r.task.cost.unit == unit
        ]
        buckets = Counter(_bucket(s) for s in runs)
        models.append(
            ModelStats(
                model,
                len(group),
                sum(1 for r in group if r.result.state is State.SUCCEEDED),
                sum(1 for r in group if r.result.state is State.FAILED),
                statistics.median(runs) if runs else None,
                _p90(runs) if runs else None,
                Money(sum(costs, Decimal(0)), unit) if costs else None,
                Money(statistics.median(costs), unit) if costs else None,
                tuple(buckets.get(n, 0) for n in range(len(BAR_EDGES) + 1)),
            )
        )
    local = now.astimezone()
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = now - timedelta(days=7)
    spent: list[tuple[datetime, Decimal]] = [
        (r.task.cost.at, r.task.cost.amount)
        for r in listed
        if r.task.cost is not None and r.task.cost.at is not None and r.task.cost.unit == unit
    ]
    apart = [c for c in unmatched if c.at >= week]
    if unit == units.unit:
        spent += [(c.at, units.amount(c.signed)) for c in unmatched]
    apart_spend = (
        Money(sum((units.amount(c.signed) for c in apart), Decimal(0)), unit)
        if apart and unit == units.unit
        else None
    )
    today = [a for at, a in spent if at >= midnight]
    this_week = [a for at, a in spent if at >= week]
    minutes = [0] * SPARK_MINUTES
    for record in listed:
        end = _finished_at(record)
        if end is not None:
            ago = int((now - end).total_seconds() // 60)
            if 0 <= ago < SPARK_MINUTES:
                minutes[SPARK_MINUTES - 1 - ago] += 1
    return Stats(
        tuple(models),
        Money(sum(today, Decimal(0)), unit) if spent else None,
        Money(sum(this_week, Decimal(0)), unit) if spent else None,
        tuple(minutes),
        tuple(r for r in listed if r.charged_failed),
        unit,
        len(apart),
        apart_spend,
    )


def spent_today(
    records: Iterable[TaskRecord],
    book: Book,
    now: datetime,
    prices: Mapping[str, float] | None = None,
) -> Money | None:
    """What was spent today (local day), for ``[create] max_spend`` per day: the jobs'
    costs and the charges no job took and, with ``prices`` (the config's ``[prices]``),
    the estimate of each job created today whose charge is not seen yet (the request
    log is read now and then: creates in a row must not pass the limit meanwhile).
    None when nothing is known."""
    listed = list(records)
    units = book.units or QUOTA_UNITS
    seen = compute(listed, book.unmatched, units, now).spend_today
    if prices is None:
        return seen
    midnight = now.astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    estimator = Estimator(listed, PriceList(prices), units)
    pending = [
        each
        for r in listed
        if r.task.request is not None and r.task.cost is None and r.task.added_at >= midnight
        if (each := estimator.estimate(r.task.request).each) is not None
    ]
    if not pending:
        return seen
    unit = seen.unit if seen is not None else pending[0].unit  # [prices]: "" when unknown
    amounts = [m.amount for m in pending if m.unit == unit]
    if not amounts:
        return seen
    return Money((seen.amount if seen else Decimal(0)) + sum(amounts, Decimal(0)), unit)


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def _money(money: Money | None) -> str:
    return "–" if money is None else money.short


def table_rows(stats: Stats) -> list[tuple[str, ...]]:
    """The per-model table: a header row, then one row a model (plain text cells)."""
    rows: list[tuple[str, ...]] = [
        ("MODEL", "JOBS", "OK", "FAILED", "MEDIAN", "P90", f"COST {stats.unit}", "MEDIAN COST")
    ]
    for m in stats.models:
        rows.append(
            (
                m.model,
                str(m.jobs),
                str(m.succeeded),
                str(m.failed),
                _span(m.median_run),
                _span(m.p90_run),
                _money(m.total_cost),
                _money(m.median_cost),
            )
        )
    return rows


def bar_lines(stats: Stats, width: int = 30) -> list[str]:
    """Running times per model as bars of ``█`` per bucket."""
    names = [f"<{_span(e)}" for e in BAR_EDGES] + [f"≥{_span(BAR_EDGES[-1])}"]
    lines: list[str] = []
    for m in stats.models:
        if not sum(m.runs):
            continue
        lines.append(m.model)
        top = max(m.runs)
        for name, count in zip(names, m.runs, strict=True):
            bar = "█" * max(1 if count else 0, round(width * count / top))
            lines.append(f"  {name:>6} {bar} {count}")
    return lines


def refund_lines(stats: Stats) -> list[str]:
    lines = []
    for record in stats.charged_failed:
        cost = record.task.cost
        assert cost is not None
        at = f"{cost.at:%Y-%m-%d %H:%M} UTC" if cost.at else "time unknown"
        lines.append(f"{record.id}  {cost.money}  charged {at}")
    return lines


def unmatched_text(stats: Stats) -> str:
    """``of which 13.80 USD in 41 charges no watched job took``: why the spend is more
    than the models' costs add up to."""
    count = plural(stats.unmatched_week, "charge")
    if stats.unmatched_spend is None:
        return f"and {count} no watched job took (in another unit)"
    return f"of which {_money(stats.unmatched_spend)} {stats.unit} in {count} no watched job took"


SPARK_LEVELS: Final = "▁▂▃▄▅▆▇█"
SPARK_WIDTH: Final = 60  # characters of the command's sparkline (3 minutes each)


def spark_text(values: Sequence[int], width: int = SPARK_WIDTH) -> str:
    """``values`` (oldest first) summed into ``width`` buckets, drawn as ``▁…█``."""
    if not values:
        return ""
    size = -(-len(values) // width)  # values a character, rounded up
    sums = [sum(values[i : i + size]) for i in range(0, len(values), size)]
    top = max(sums)
    if not top:
        return SPARK_LEVELS[0] * len(sums)
    last = len(SPARK_LEVELS) - 1
    return "".join(SPARK_LEVELS[-(-v * last // top)] for v in sums)


def stats_lines(stats: Stats) -> list[str]:
    """What ``vidwatch stats`` prints."""
    if not stats.models:
        return ["no jobs in the list yet: nothing to count"]
    widths = [max(len(row[i]) for row in table_rows(stats)) for i in range(8)]
    out = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in table_rows(stats)
    ]
    out.append("")
    out.append(f"spent today      {_money(stats.spend_today)} {stats.unit}".rstrip())
    out.append(f"spent this week  {_money(stats.spend_week)} {stats.unit}".rstrip())
    if stats.unmatched_week:
        out.append(f"                 {unmatched_text(stats)}")
    finished = sum(stats.finished_per_minute)
    out.append(
        f"finished         {plural(finished, 'job')} in the last {SPARK_MINUTES // 60} hours"
    )
    if finished:
        minutes = -(-SPARK_MINUTES // SPARK_WIDTH)
        out.append(
            f"                 {spark_text(stats.finished_per_minute)}  ({minutes} min each)"
        )
    bars = bar_lines(stats)
    if bars:
        out += ["", "running times", *bars]
    refunds = refund_lines(stats)
    if refunds:
        out += ["", f"failed but charged ({len(refunds)}): ask the gateway for a refund", *refunds]
    return out


def stats_json(stats: Stats) -> dict[str, Any]:
    def amount(money: Money | None) -> str | None:
        return None if money is None else str(money.amount)

    return {
        "unit": stats.unit,
        "models": [
            {
                "model": m.model,
                "jobs": m.jobs,
                "succeeded": m.succeeded,
                "failed": m.failed,
                "median_seconds": m.median_run,
                "p90_seconds": m.p90_run,
                "total_cost": amount(m.total_cost),
                "median_cost": amount(m.median_cost),
            }
            for m in stats.models
        ],
        "spend_today": amount(stats.spend_today),
        "spend_week": amount(stats.spend_week),
        "unmatched_week": {"charges": stats.unmatched_week, "spend": amount(stats.unmatched_spend)},
        "finished_per_minute": list(stats.finished_per_minute),
        "charged_failed": [
            {
                "id": r.id,
                "charged": amount(r.task.cost.money if r.task.cost else None),
                "at": r.task.cost.at.isoformat() if r.task.cost and r.task.cost.at else None,
            }
            for r in stats.charged_failed
        ],
    }
