"""Which rows of a batch to send now, and why each other row is skipped. Pure.

The rules (never pay twice):

- a row the journal has never seen, or whose every earlier attempt certainly did not
  reach the server (``not_sent``), is sent — unless its request (normalised, see
  :mod:`vidwatch.core.create.ledger`) was sent before from anywhere (another file, a copy, a
  hard link, another task list, a single create) or is in the task list: then it is
  skipped and the earlier send named, unless ``resend`` is asked for or the user
  accepted it (``accepted``);
- a row with a job is skipped, unless ``retry_failed`` is asked for and its job failed:
  then a new job is made and the journal links it to the old one;
- a row whose send may have gone out (``uncertain``, or an intent with nothing after it)
  is never sent automatically: only with ``resend_uncertain`` (or ``resend``), after the
  user looked in the provider's console; or the user marks it done;
- a row refused with a definite 4xx is skipped while it is unchanged (an edited row is a
  new row: its identity changes);
- invalid rows, and every row of a batch whose file or journal cannot be trusted, are
  skipped with the reason.

Each step to send carries the request's key and the earlier send the user accepted
paying for again (if any): the ledger checks it again, under its lock, just before the
send (another vidwatch may have sent it meanwhile).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from vidwatch.core.create.batch import Batch, BatchRow
from vidwatch.core.create.journal import RowEntry, RowState
from vidwatch.core.create.ledger import Earlier
from vidwatch.core.gateway.create_answer import answer_text

__all__ = [
    "SENT_BEFORE_ADVICE",
    "UNCERTAIN_ADVICE",
    "BatchPlan",
    "Step",
    "Why",
    "plan_batch",
    "uncertain_advice",
]


def uncertain_advice(rows: int = 1) -> str:
    """What an uncertain row means and what to do, for one row or ``rows`` of them (the
    answer may have been lost, cut by a timeout, or unusable: the causes are named)."""
    if rows == 1:
        return (
            "its request may have made a job (the answer was lost, cut off by a timeout, or "
            "could not be used), so it is not sent again by itself: look for it in the "
            "provider's console, then mark it done, or send it again with --resend-uncertain"
        )
    return (
        "their requests may have made jobs (the answers were lost, cut off by a timeout, or "
        "could not be used), so they are not sent again by themselves: look for them in the "
        "provider's console, then mark them done, or send them again with --resend-uncertain"
    )


UNCERTAIN_ADVICE = uncertain_advice()
SENT_BEFORE_ADVICE = "not sent again by itself: --resend pays for it again"


class Why(StrEnum):
    # sent
    NEW = "new"
    NOT_SENT_BEFORE = "not sent before"
    RETRY_FAILED = "its job failed"
    RESEND_UNCERTAIN = "resending an uncertain row"
    RESEND = "sent before; sending again as asked"
    # skipped
    HAS_JOB = "has a job"
    DONE = "marked done"
    UNCERTAIN = "uncertain"
    REFUSED = "refused"
    SENT_BEFORE = "sent before"
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
    key: str = ""  # the request's key in the ledger
    earlier: Earlier | None = None  # the latest send of the request that may have a job
    accepted: str | None = None  # the earlier send the user agreed to pay for again

    @property
    def task_id(self) -> str | None:
        if self.entry and self.entry.task_id:
            return self.entry.task_id
        return self.earlier.task_id if self.earlier and not self.send else None


@dataclass(frozen=True, slots=True)
class BatchPlan:
    steps: tuple[Step, ...]
    blocked: str | None = None

    @property
    def to_send(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.send)

    @property
    def skipped(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if not step.send)

    @property
    def sent_before(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.why is Why.SENT_BEFORE)

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
    resend: bool = False,
    accepted: Collection[str] = (),
    earlier: Mapping[str, Earlier] | None = None,
    keys: Mapping[str, str] | None = None,
) -> BatchPlan:
    """Decide every row. ``entries`` and ``blocked`` come from the batch's journal;
    ``failed_tasks`` are the task IDs whose jobs failed (from the task list);
    ``earlier`` the latest send (or task) of each row's request that may have a job
    (row identity → it, from the ledger and the task list); ``accepted`` the rows whose
    earlier send the user agreed (on a terminal) to pay for again."""
    stop = batch.error or blocked
    earlier = earlier or {}
    keys = keys or {}
    steps = []
    for row in batch.rows:
        entry = entries.get(row.identity)
        if stop:
            steps.append(Step(row, False, Why.BLOCKED, stop, entry))
            continue
        if row.request is None:
            steps.append(Step(row, False, Why.INVALID, row.error or "", entry))
            continue
        before = earlier.get(row.identity)
        again = resend or row.identity in accepted
        step = _decide(row, entry, before, again, failed_tasks, retry_failed, resend_uncertain)
        steps.append(replace(step, key=keys.get(row.identity, ""), earlier=before))
    return BatchPlan(tuple(steps), stop)


def _decide(
    row: BatchRow,
    entry: RowEntry | None,
    before: Earlier | None,
    again: bool,
    failed_tasks: Collection[str],
    retry_failed: bool,
    resend_uncertain: bool,
) -> Step:
    state = entry.state if entry is not None else None
    accepted = before.send if before is not None else None
    if entry is None or state is RowState.NOT_SENT:
        why = Why.NEW if entry is None else Why.NOT_SENT_BEFORE
        detail = ""
        if entry is not None:
            detail = f"{entry.code}: {entry.message}" if entry.code else entry.message
        replaces = entry.replaces if entry is not None else None
        # A send of this very row that the journal knows of was accepted when it was made;
        # one the journal does not know of (deleted, truncated) was not.
        if before is None or (before.own and entry is not None):
            return Step(row, True, why, detail, entry, replaces, accepted=accepted)
        if again:
            return Step(row, True, Why.RESEND, before.text(), entry, replaces, accepted=accepted)
        return Step(row, False, Why.SENT_BEFORE, before.text(), entry)
    assert entry is not None
    if state in (RowState.CREATED, RowState.DONE):
        failed = entry.task_id is not None and entry.task_id in failed_tasks
        if retry_failed and failed:
            if before is not None and not before.own and not again:
                return Step(row, False, Why.SENT_BEFORE, before.text(), entry)
            return Step(
                row,
                True,
                Why.RETRY_FAILED,
                entry.task_id or "",
                entry,
                entry.task_id,
                accepted=accepted,
            )
        why = Why.HAS_JOB if state is RowState.CREATED else Why.DONE
        return Step(row, False, why, entry.task_id or "", entry)
    if state in (RowState.UNCERTAIN, RowState.SENDING):
        own = before is None or before.own
        if again or (resend_uncertain and own):
            return Step(
                row,
                True,
                Why.RESEND_UNCERTAIN,
                entry.message,
                entry,
                entry.replaces,
                accepted=accepted,
            )
        if resend_uncertain:
            assert before is not None
            return Step(row, False, Why.SENT_BEFORE, before.text(), entry)
        cause = entry.message or "vidwatch stopped while sending it"
        return Step(row, False, Why.UNCERTAIN, f"{cause}; {UNCERTAIN_ADVICE}", entry)
    reason = answer_text(entry.status, entry.code, entry.message)
    return Step(row, False, Why.REFUSED, f"{reason}; edit the row to send it again", entry)
