"""What a poll's answer does to a task's record, and who keeps the records.

:func:`apply_outcome` turns the previous result and an answer into the new result (an
error keeps what was known); :func:`keep_known_result` keeps a checked result when a
task is added again. The records themselves belong to one :class:`RecordKeeper`, the
:class:`~vidwatch.core.session.Session` (the dashboard's, and ``poll``'s and ``wait``'s):
the poller holds none of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from vidwatch.core.gateway.outcomes import NotFound, Ok, Outcome
from vidwatch.core.gateway.wording import describe
from vidwatch.core.model.records import TaskRecord, TaskResult
from vidwatch.core.polling.scheduler import NOT_FOUND_LIMIT

__all__ = ["RecordKeeper", "apply_outcome", "keep_known_result"]


class RecordKeeper(Protocol):
    """Who holds the records the poller polls."""

    @property
    def records(self) -> Mapping[str, TaskRecord]: ...

    def store_result(
        self, task_id: str, result: TaskResult, outcome: Outcome | None = None
    ) -> TaskRecord | None:
        """Keep a task's new result (``outcome``: the answer it came from); the record as
        kept, or None if the task is no longer kept."""
        ...


def keep_known_result(known: TaskRecord | None, record: TaskRecord) -> TaskRecord:
    """``record``, with ``known``'s result when only ``known`` was ever checked."""
    if known is not None and known.result.checked_at and not record.result.checked_at:
        return record.with_result(known.result)
    return record


def apply_outcome(
    previous: TaskResult,
    outcome: Outcome,
    now: datetime,
    gave_up: bool | str = False,
    *,
    host: str = "",
) -> TaskResult:
    """The task's new result after ``outcome``; errors keep what was known (and its
    history); a new status is added to the history. ``gave_up``: the task is left alone
    now (or why, as :meth:`Scheduler.given_up` says it). The error is kept as a person
    would say it, the same words whoever polled (the dashboard, ``vidwatch poll`` or
    ``wait``: :func:`~vidwatch.core.gateway.wording.describe`, naming ``host``); the
    client's own words go to the log. A fact, never a hint: which key or command asks
    again is the interface's to say."""
    if isinstance(outcome, Ok):
        return previous.followed_by(outcome.result)
    message = describe(outcome, host)
    if isinstance(outcome, NotFound) and gave_up:
        if isinstance(gave_up, str):
            message += f" (given up: {gave_up})"
        else:
            message += f" (gave up after {NOT_FOUND_LIMIT} tries)"
    return replace(previous, checked_at=now, error=message, problem=outcome.problem)
