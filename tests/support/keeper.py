"""A poller tested on its own: its records held by a plain keeper, as a session holds them.

A :class:`~vidwatch.core.polling.poller.Poller` has no records of its own; in the app its
keeper is the :class:`~vidwatch.core.session.Session`. Tests of the poller alone (no task
file) give it this one instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from vidwatch.core.gateway.outcomes import Outcome
from vidwatch.core.model.records import TaskRecord, TaskResult
from vidwatch.core.polling.budget import Policy
from vidwatch.core.polling.poller import Poller, QueryFn
from vidwatch.core.polling.results import keep_known_result


class Keeper:
    """Holds a poller's records in a dict and watches what it is given."""

    def __init__(self, poller: Poller, records: Mapping[str, TaskRecord] | None = None) -> None:
        self.poller = poller
        self.records: dict[str, TaskRecord] = {}
        poller.attach(self)
        if records:
            self.add(records.values())

    def store_result(
        self, task_id: str, result: TaskResult, outcome: Outcome | None = None
    ) -> TaskRecord | None:
        record = self.records.get(task_id)
        if record is None:
            return None
        record = self.records[task_id] = record.with_result(result)
        return record

    def add(self, records: Iterable[TaskRecord], stagger: float = 0.0) -> None:
        """Keep and poll these tasks (known ones keep their result)."""
        kept = []
        for record in records:
            record = self.records[record.id] = keep_known_result(
                self.records.get(record.id), record
            )
            kept.append(record)
        self.poller.track(kept, stagger)

    def remove(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for task_id in ids:
            self.records.pop(task_id, None)
        self.poller.forget(ids)


def polled(
    client: QueryFn | None,
    policy: Policy,
    records: Mapping[str, TaskRecord] | None = None,
    *,
    clock: Callable[[], float] | None = None,
    wall: Callable[[], datetime] | None = None,
    **options: Any,
) -> Poller:
    """A poller whose keeper holds ``records`` (new ones are polled soon)."""
    if clock is not None:
        options["clock"] = clock
    if wall is not None:
        options["wall"] = wall
    poller = Poller(client, policy, **options)
    Keeper(poller, records)
    return poller
