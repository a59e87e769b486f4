"""Which rows of a batch to send now, and why each other row is skipped. Pure.

The rules (never pay twice):

- a row the manifest has never seen, or whose every earlier attempt certainly did not
  reach the server (``not_sent``), is sent;
- a row with a job is skipped, unless ``retry_failed`` is asked for and its job failed:
  then a new job is made and the manifest links it to the old one;
- a row whose send may have gone out (``uncertain``, or an intent with nothing after it)
  is never sent automatically: only with ``resend_uncertain``, after the user looked in
  the provider's console; or the user marks it done;
- a row refused with a definite 4xx is skipped while it is unchanged (an edited row is a
  new row: its identity changes);
- a row that another batch file (renamed or copied) already sent is skipped unless
  ``send_elsewhere`` is asked for;
- invalid rows, and every row of a batch whose file or manifest cannot be trusted, are
  skipped with the reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from vidwatch.core.batch import Batch, BatchRow
from vidwatch.core.manifest import RowEntry, RowState

__all__ = ["UNCERTAIN_ADVICE", "Plan", "Step", "Why", "plan_batch"]

UNCERTAIN_ADVICE = (
    "its request may have reached the server but the answer was lost, so it is not sent "
    "again by itself: look for it in the provider's console, then mark it done, or send "
    "it again with --resend-uncertain"
)


class Why(StrEnum):
    # sent
    NEW = "new"
    NOT_SENT_BEFORE = "not sent before"
    RETRY_FAILED = "its job failed"
    RESEND_UNCERTAIN = "resending an uncertain row"
    SEND_ELSEWHERE = "sent from another file before; sending again as asked"
    # skipped
    HAS_JOB = "has a job"
    DONE = "marked done"
    UNCERTAIN = "uncertain"
    REFUSED = "refused"
    ELSEWHERE = "already sent from another file"
    INVALID = "invalid"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class Step:
    """One row's fate: ``send`` or not, the reason, and the details to show."""

    row: BatchRow
    send: bool
    why: Why
    detail: str = ""
    entry: RowEntry | None = None
    replaces: str | None = None  # the failed job a new one replaces (retry_failed)

    @property
    def task_id(self) -> str | None:
        return self.entry.task_id if self.entry else None


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]
    blocked: str | None = None

    @property
    def to_send(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.send)

    @property
    def skipped(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if not step.send)

    def counts(self) -> Counter[Why]:
        return Counter(step.why for step in self.steps)


def plan_batch(
    batch: Batch,
    entries: Mapping[str, RowEntry],
    *,
    blocked: str | None = None,
    failed_tasks: Collection[str] = (),
    retry_failed: bool = False,
    resend_uncertain: bool = False,
    elsewhere: Mapping[str, tuple[str, RowEntry]] | None = None,
    send_elsewhere: bool = False,
) -> Plan:
    """Decide every row. ``entries`` and ``blocked`` come from the batch's manifest;
    ``failed_tasks`` are the task IDs whose jobs failed (from the task list)."""
    stop = batch.error or blocked
    steps = []
    for row in batch.rows:
        entry = entries.get(row.identity)
        if stop:
            steps.append(Step(row, False, Why.BLOCKED, stop, entry))
        elif row.request is None:
            steps.append(Step(row, False, Why.INVALID, row.error or "", entry))
        elif entry is None:
            steps.append(_fresh(row, (elsewhere or {}).get(row.identity), send_elsewhere))
        else:
            steps.append(_known(row, entry, failed_tasks, retry_failed, resend_uncertain))
    return Plan(tuple(steps), stop)


def _fresh(row: BatchRow, other: tuple[str, RowEntry] | None, send_elsewhere: bool) -> Step:
    if other is None:
        return Step(row, True, Why.NEW)
    source, entry = other
    where = f"{source}, row {entry.number}" if entry.number else source
    if send_elsewhere:
        return Step(row, True, Why.SEND_ELSEWHERE, where)
    job = f" as {entry.task_id}" if entry.task_id else ""
    return Step(row, False, Why.ELSEWHERE, f"the same row was sent from {where}{job}", entry)


def _known(
    row: BatchRow,
    entry: RowEntry,
    failed_tasks: Collection[str],
    retry_failed: bool,
    resend_uncertain: bool,
) -> Step:
    state = entry.state
    if state is RowState.NOT_SENT:
        why = f"{entry.code}: {entry.message}" if entry.code else entry.message
        return Step(row, True, Why.NOT_SENT_BEFORE, why, entry, entry.replaces)
    if state in (RowState.CREATED, RowState.DONE):
        if retry_failed and entry.task_id is not None and entry.task_id in failed_tasks:
            return Step(row, True, Why.RETRY_FAILED, entry.task_id, entry, entry.task_id)
        why = Why.HAS_JOB if state is RowState.CREATED else Why.DONE
        return Step(row, False, why, entry.task_id or "", entry)
    if state in (RowState.UNCERTAIN, RowState.SENDING):
        if resend_uncertain:
            return Step(row, True, Why.RESEND_UNCERTAIN, entry.message, entry, entry.replaces)
        cause = entry.message or "vidwatch stopped while sending it"
        return Step(row, False, Why.UNCERTAIN, f"{cause}; {UNCERTAIN_ADVICE}", entry)
    head = f"{entry.status} {entry.code}".strip() if entry.status else entry.code
    reason = f"{head}: {entry.message}" if head and entry.message else head or entry.message
    return Step(row, False, Why.REFUSED, f"{reason}; edit the row to send it again", entry)
