"""Which job each charge of the request log was for.

A log entry names its task (``other.task_id``: refunds and settlements do) or it does
not (a create's charge, on new-api). Matched, in this order:

1. **by task id**: the entry's task id is a watched task's ID, that ID without its model
   prefix (``grok:…``), or the server's id for it;
2. **by model and time**, for charges only: the jobs vidwatch created with that model
   whose create's time window (from :data:`BEFORE` before the job reached the list to
   :data:`AFTER` after it: the answer's wait and a server clock a little off) holds the
   charge, and that have no charge yet. One such job: it is that job's. Several: only
   when they are alike in everything that sets a price (model, duration, size,
   upscaling: :func:`~vidwatch.core.money.prices.price_key`) — each would have cost the
   same — the nearest in time takes it. Otherwise, and for anything else, the charge
   stays **unmatched**, kept as such: it is never guessed onto a job.

Matching is idempotent: a task's :class:`~vidwatch.core.model.money.Cost` holds the keys of
the entries it counts, and an entry already counted is never counted again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Final

from vidwatch.core.model.money import QUOTA, Charge, ChargeKind, Cost, Units
from vidwatch.core.model.records import TaskRecord
from vidwatch.core.money.prices import price_key

__all__ = ["AFTER", "BEFORE", "BY_ID", "BY_TIME", "Matching", "match_charges"]

BEFORE: Final = timedelta(seconds=90)  # a create's wait for its answer, and clock skew
AFTER: Final = timedelta(seconds=30)  # the server's clock ahead of ours
BY_ID: Final = "task id"
BY_TIME: Final = "model and time"
MAX_ENTRIES: Final = 24  # entries one cost remembers (a job is charged once or twice)

CostOf = Callable[[str], Cost | None]  # a task's cost so far


@dataclass(frozen=True, slots=True)
class Matching:
    """Costs that changed (task ID → its cost now) and the charges no job takes."""

    costs: dict[str, Cost]
    unmatched: tuple[Charge, ...]

    @property
    def by_id(self) -> int:
        return sum(1 for cost in self.costs.values() if cost.source == BY_ID)


def _index(records: Mapping[str, TaskRecord]) -> dict[str, str]:
    """Every name a log entry may give a task by → the task's ID."""
    names: dict[str, str] = {}
    bare: dict[str, list[str]] = {}
    for task_id, record in records.items():
        names[task_id] = task_id
        _, sep, rest = task_id.partition(":")
        if sep and rest:
            bare.setdefault(rest, []).append(task_id)
        server = record.result.server_id
        if server and server != task_id:
            names.setdefault(server, task_id)
    for rest, ids in bare.items():
        if len(ids) == 1:
            names.setdefault(rest, ids[0])
    return names


def _cost_with(cost: Cost | None, charge: Charge, source: str, units: Units) -> Cost:
    """``cost`` with ``charge`` counted in (an entry counted already: unchanged)."""
    base = cost or Cost()
    keys = base.entries.split()
    if charge.key in keys:
        return base
    charged = base.charged + (charge.quota if charge.kind is ChargeKind.CHARGE else 0)
    refunded = base.refunded + (charge.quota if charge.kind is ChargeKind.REFUND else 0)
    at = base.at
    if charge.kind is ChargeKind.CHARGE and (at is None or charge.at < at):
        at = charge.at
    if at is None:
        at = charge.at
    keys = [*keys, charge.key][-MAX_ENTRIES:]
    by_id = base.source == BY_ID or source == BY_ID
    return replace(
        base,
        charged=charged,
        refunded=refunded,
        amount=units.amount(charged - refunded),
        unit=units.name if units.known else QUOTA,
        source=BY_ID if by_id else source,
        model=base.model or charge.model,
        at=at,
        entries=" ".join(keys),
    )


def match_charges(
    records: Mapping[str, TaskRecord], charges: Iterable[Charge], units: Units
) -> Matching:
    """Match ``charges`` (a log page and the book's unmatched ones) to ``records``."""
    counted = {key for r in records.values() if r.task.cost for key in r.task.cost.keys}
    fresh: dict[str, Charge] = {}
    for charge in charges:
        if charge.key not in counted and charge.key not in fresh:
            fresh[charge.key] = charge
    costs: dict[str, Cost] = {}

    def cost_of(task_id: str) -> Cost | None:
        return costs.get(task_id) or records[task_id].task.cost

    names = _index(records)
    left: list[Charge] = []
    for charge in sorted(fresh.values(), key=lambda c: c.at):
        task_id = names.get(charge.task_id) if charge.task_id else None
        if task_id is not None:
            costs[task_id] = _cost_with(cost_of(task_id), charge, BY_ID, units)
        else:
            left.append(charge)
    unmatched: list[Charge] = []
    for charge in left:
        task_id = _by_time(records, charge, cost_of) if not charge.task_id else None
        if task_id is None:
            unmatched.append(charge)
        else:
            costs[task_id] = _cost_with(cost_of(task_id), charge, BY_TIME, units)
    return Matching(costs, tuple(unmatched))


def _by_time(records: Mapping[str, TaskRecord], charge: Charge, cost_of: CostOf) -> str | None:
    """The one job (or the nearest of alike jobs) this charge can be for, else None."""
    if charge.kind is not ChargeKind.CHARGE or not charge.model:
        return None
    candidates: list[TaskRecord] = []
    for record in records.values():
        request = record.task.request
        if request is None or request.model != charge.model:
            continue
        added = record.task.added_at
        if not (added - BEFORE <= charge.at <= added + AFTER):
            continue
        cost = cost_of(record.id)
        if cost is not None and cost.charged > 0:
            continue  # charged already: a job is charged once when it is made
        candidates.append(record)
    if not candidates:
        return None
    keys = {price_key(r.task.request) for r in candidates if r.task.request is not None}
    if len(keys) > 1:
        return None  # unlike jobs: which one it was cannot be told, so it is not guessed
    nearest = min(candidates, key=lambda r: (abs(r.task.added_at - charge.at), r.task.added_at))
    return nearest.id
