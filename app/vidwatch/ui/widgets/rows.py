"""How a task is shown in one table row: pure functions, no widgets.

Kept apart from the widget so formatting is unit-testable and cheap.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from datetime import datetime

from vidwatch.core.model.records import State, TaskRecord
from vidwatch.core.polling.scheduler import Eta
from vidwatch.core.text.sanitize import clean_text, first_line, shorten_id
from vidwatch.core.text.urls import url_problem
from vidwatch.core.text.wording import relative


class SortKey(enum.StrEnum):
    ADDED = "added"
    STATE = "state"
    UPDATED = "updated"

    def next(self) -> SortKey:
        members = list(SortKey)
        return members[(members.index(self) + 1) % len(members)]

    @property
    def column(self) -> tuple[str, str]:
        """The column that shows this order, and its arrow as the rows read down:
        added order is oldest first (AGE ▼), updated is newest first (UPDATED ▲), state
        is failures first (STATE ▲, in the order the help gives)."""
        return _SORT_COLUMNS[self]


_SORT_COLUMNS = {
    SortKey.ADDED: ("age", "▼"),
    SortKey.STATE: ("state", "▲"),
    SortKey.UPDATED: ("updated", "▲"),
}


# Attention first: failures, then work in progress, then done.
_STATE_ORDER = {
    State.FAILED: 0,
    State.UNKNOWN: 1,
    State.RUNNING: 2,
    State.QUEUED: 3,
    State.SUCCEEDED: 4,
}


def next_text(due: datetime | None, now: datetime) -> str:
    """The NEXT column: when the task is checked again."""
    if due is None:
        return "–"
    if (due - now).total_seconds() < 1.0:
        return "now"
    return relative(due, now)


def sorted_title(title: str, width: int, arrow: str) -> str:
    """A column's title, with the sort's arrow (``STATE ▲``) when the view is sorted by it."""
    if not arrow:
        return title
    return f"{title} {arrow}" if len(title) + 2 <= width else f"{title}{arrow}"


def video_url(record: TaskRecord) -> str | None:
    """The task's video URL if it may be used (copied, opened, downloaded, shown as a
    link). Checked here, where it is used, not only where it arrived: the task file can
    be edited by hand (the one rule: :func:`~vidwatch.core.text.urls.url_problem`)."""
    url = record.result.video_url
    return url if url and url_problem(url) is None else None


def url_refusal(record: TaskRecord) -> str | None:
    """Why the task's URL is not used (``it contains spaces or line breaks``), or None
    (no URL at all, or a usable one)."""
    url = record.result.video_url
    return url_problem(url) if url else None


def task_name(record: TaskRecord, width: int) -> str:
    return record.task.label or shorten_id(record.id, width)


def prompt_line(record: TaskRecord) -> str:
    """The enhanced prompt's first line; until there is one (grok sends none), the prompt
    sent: as written here (a job created here), else as the server echoes it."""
    prompt = record.result.enhanced_prompt
    if not prompt and record.task.request is not None:
        prompt = clean_text(record.task.request.prompt)
    prompt = prompt or record.result.sent_prompt
    return first_line(prompt) if prompt else ""


def sort_value(record: TaskRecord, key: SortKey) -> float:
    """Where a task goes in the view for ``key`` (smaller first; ADDED keeps list order)."""
    if key is SortKey.STATE:
        return float(_STATE_ORDER[record.result.state])
    if key is SortKey.UPDATED:  # the server's update time, newest first; never-updated last
        when = record.result.status_update_time
        return -when.timestamp() if when else math.inf
    return 0.0


def sort_ids(records: dict[str, TaskRecord], ids: Iterable[str], key: SortKey) -> list[str]:
    """Order ``ids`` for the view. ``records`` keeps insertion (added) order; ties keep it."""
    ordered = list(ids)
    if key is SortKey.ADDED:
        return ordered
    return sorted(ordered, key=lambda i: sort_value(records[i], key))


def eta_text(eta: Eta | None) -> str:
    """The ETA column: ``~40s``, ``late`` when far past the usual time, ``–`` otherwise."""
    if eta is None:
        return "–"
    if eta.late:
        return "late"
    seconds = eta.remaining
    if seconds < 60:
        return f"~{seconds:.0f}s"
    if seconds < 3600:
        return f"~{seconds / 60:.0f}m"
    return f"~{seconds / 3600:.0f}h"
