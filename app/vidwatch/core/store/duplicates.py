"""One task listed twice in the task file (two lists merged by hand, a sync conflict):
what the single entry it becomes keeps.

Nothing either entry knew is dropped when it matters: the most advanced result, a label,
the saved file, the request that created it, what it cost, the longest timeline and the
earliest time the task was added.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from vidwatch.core.model.records import EPOCH, State, Task, TaskRecord, TaskResult
from vidwatch.core.text.sanitize import shorten_id
from vidwatch.core.text.wording import plural

__all__ = ["describe_merged", "merge_duplicate"]

_RANK = {State.UNKNOWN: 0, State.QUEUED: 1, State.RUNNING: 2, State.SUCCEEDED: 3}


def advance(result: TaskResult) -> tuple[int, datetime]:
    """How far a result has got: finished for good (failed, or succeeded with its video
    URL) beats succeeded without a URL, beats running, queued, unknown, never checked;
    between equals, the later check."""
    if result.final:
        rank = 4
    elif result.checked_at is None and not result.status:
        rank = -1
    else:
        rank = _RANK.get(result.state, 0)
    return rank, result.checked_at or EPOCH


def _saved_to(first: str | None, second: str | None) -> str | None:
    """The saved file: the one still on disk, else the first noted."""
    if first and second and first != second and not os.path.isfile(first):
        return second if os.path.isfile(second) else first
    return first or second


def merge_duplicate(first: TaskRecord, second: TaskRecord) -> TaskRecord:
    """The one record two entries for the same task become (``first`` is the earlier in
    the file and wins ties)."""
    a, b = first.result, second.result
    result = b if advance(b) > advance(a) else a
    longest = max((a.history, b.history), key=len)  # the first on a tie
    if len(longest) > len(result.history):
        result = replace(result, history=longest)
    task = Task(
        first.task.id,
        min(first.task.added_at, second.task.added_at, key=_when_added),
        first.task.label or second.task.label,
        _saved_to(first.task.saved_to, second.task.saved_to),
        first.task.request or second.task.request,
        first.task.cost or second.task.cost,
        first.task.video or second.task.video,
    )
    return TaskRecord(task, result)


def _when_added(when: datetime) -> tuple[bool, datetime]:
    return when == EPOCH, when  # "some unknown time" (a hand-written entry) comes last


def describe_merged(ids: Sequence[str]) -> str:
    """``2 tasks were listed twice (grok:…a3f, veo:…91c)``, for the one-sentence notice."""
    n = len(ids)
    shown = ", ".join(shorten_id(i, 24) for i in ids[:3])
    more = f" and {n - 3} more" if n > 3 else ""
    were = "was" if n == 1 else "were"
    return f"{plural(n, 'task')} {were} listed more than once ({shown}{more})"
