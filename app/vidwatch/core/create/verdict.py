"""What the result of one send means for its row: the manifest's states, and the verdict
on an answer (:func:`judge`) or on a send that got none (:func:`judge_error`). Pure.

=====================================  ==========  ==========================================
result                                 row state   and then
=====================================  ==========  ==========================================
created                                created
4xx about the row (400 bad field…)     refused     not sent again while the row is unchanged
4xx about the account (401, 403        not_sent    stop the batch; the row may go later
quota_not_enough, 404 wrong URL)
503 model_not_found                    not_sent    skip the model's other rows
429 (Retry-After), plain 503           not_sent    retry soon, after the server's wait
no connection (ConnectError…)          not_sent    retry soon, with backoff
500/502/504/524, unreadable 2xx        uncertain   never sent again automatically
2xx with an ID that fails the ID rule  uncertain   the raw ID kept (shown escaped)
2xx with another request's ID          uncertain   (:func:`duplicate`)
answer lost (ReadTimeout, dropped…)    uncertain   never sent again automatically
=====================================  ==========  ==========================================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from vidwatch.core.model.ids import escaped
from vidwatch.core.text.sanitize import MAX_SHORT, clean_line

# The answers are imported where they are judged: reading a journal (``vidwatch list``
# does, for creates whose answer was lost) needs the row states, not the answer types.
if TYPE_CHECKING:
    from vidwatch.core.gateway.create_answer import CreateOutcome

__all__ = ["RowState", "Verdict", "duplicate", "judge", "judge_error"]


class RowState(StrEnum):
    SENDING = "sending"  # an intent with no outcome after it: treated as uncertain
    CREATED = "created"
    REFUSED = "refused"
    NOT_SENT = "not_sent"
    UNCERTAIN = "uncertain"
    DONE = "done"

    @property
    def may_have_job(self) -> bool:
        """True when paying for this row again could be paying twice."""
        return self in (RowState.SENDING, RowState.CREATED, RowState.UNCERTAIN, RowState.DONE)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one send's result means for the row and for the rest of the batch."""

    state: RowState
    code: str = ""
    message: str = ""
    status: int | None = None
    task_id: str | None = None
    retry_after: float | None = None  # CreateRateLimited: the server's wait
    retry_soon: bool = False  # worth sending again in this run, after a backoff
    stop_batch: bool = False  # every other row would get the same answer (key, balance)
    stop_model: bool = False  # every row of this model would (no channel)
    # UNCERTAIN: an ID the gateway answered with that cannot be used (it fails the one
    # ID rule, or it is already another request's job); raw: show it escaped
    answered: str = ""


def judge(outcome: CreateOutcome) -> Verdict:
    """The manifest state of an answer. Pure."""
    from vidwatch.core.gateway.create_answer import (
        CreateBadResponse,
        Created,
        CreateRateLimited,
        CreateServerError,
        NoAnswer,
        NoChannel,
        Refused,
        SendFate,
    )

    if isinstance(outcome, Created):
        return Verdict(RowState.CREATED, task_id=outcome.task_id)
    if isinstance(outcome, Refused):
        state = RowState.NOT_SENT if outcome.account_level else RowState.REFUSED
        return Verdict(
            state,
            outcome.code,
            outcome.message,
            outcome.status,
            stop_batch=outcome.account_level,
        )
    if isinstance(outcome, NoChannel):
        return Verdict(
            RowState.NOT_SENT,
            "model_not_found",
            outcome.message,
            outcome.status,
            stop_model=True,
        )
    if isinstance(outcome, CreateRateLimited):
        return Verdict(
            RowState.NOT_SENT,
            outcome.code or "rate_limited",
            outcome.message,
            429,
            retry_after=outcome.retry_after,
            retry_soon=True,
        )
    if isinstance(outcome, CreateServerError):
        if outcome.made_job is False:
            return Verdict(
                RowState.NOT_SENT, outcome.code, outcome.message, outcome.status, retry_soon=True
            )
        why = outcome.message or "the gateway failed after it may have passed the job on"
        return Verdict(RowState.UNCERTAIN, outcome.code, why, outcome.status)
    if isinstance(outcome, NoAnswer):
        if outcome.fate is SendFate.NOT_SENT:
            why = f"not sent ({outcome.reason})"
            return Verdict(RowState.NOT_SENT, "connect", why, retry_soon=True)
        why = f"the answer was lost after sending ({outcome.reason})"
        return Verdict(RowState.UNCERTAIN, "lost", why)
    assert isinstance(outcome, CreateBadResponse)
    if outcome.made_job is False:
        return Verdict(RowState.NOT_SENT, "", outcome.reason, outcome.status, stop_batch=True)
    if outcome.answered_id:
        why = f"{outcome.reason}: {escaped(outcome.answered_id)}"
        answered = outcome.answered_id
        return Verdict(RowState.UNCERTAIN, "unusable_id", why, outcome.status, answered=answered)
    return Verdict(RowState.UNCERTAIN, "", f"unreadable answer: {outcome.reason}", outcome.status)


def duplicate(verdict: Verdict, why: str) -> Verdict:
    """A create answered with an ID that is already another request's job (``why`` says
    whose): the answer cannot be trusted, so the row is uncertain, never "created"."""
    task_id = verdict.task_id or ""
    message = f"the gateway answered with {escaped(task_id)}, {why}"
    return Verdict(RowState.UNCERTAIN, "duplicate_id", message, verdict.status, answered=task_id)


def judge_error(exc: BaseException) -> Verdict:
    """The manifest state of a send that got no answer (see ``classify_transport_error``)."""
    from vidwatch.core.gateway.create_answer import NoAnswer, classify_transport_error

    what = clean_line(f"{type(exc).__name__}: {exc}".rstrip(": "), MAX_SHORT)
    return judge(NoAnswer(classify_transport_error(exc), what))
