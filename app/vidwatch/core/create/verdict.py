"""What the result of one send means for its row: the manifest's states, and the verdict
on an answer (:func:`judge`) or on a send that got none (:func:`judge_error`). Pure.

=====================================  ==========  ==========================================
result                                 row state   and then
=====================================  ==========  ==========================================
created                                created
4xx about the row (400 bad field…)     refused     not sent again while the row is unchanged
4xx about the account (401, 403        not_sent    stop the batch; the row may go later
quota_not_enough), 404 wrong URL,
a redirect (not followed)
503 model_not_found                    not_sent    skip the model's other rows
429 (Retry-After), plain 503           not_sent    retry soon, after the server's wait
no connection (ConnectError…)          not_sent    retry soon, with backoff
500/502/504/524, unreadable 2xx        uncertain   never sent again automatically
408 (a timeout on the way), 304, 1xx,  uncertain   never sent again automatically
any status no gateway sends
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
from vidwatch.core.text.wording import key_hint

# The answers are imported where they are judged or said: reading a journal (``vidwatch
# list`` does, for creates whose answer was lost) needs the row states, not the answer types.
if TYPE_CHECKING:
    from vidwatch.core.gateway.create_answer import CreateOutcome

__all__ = [
    "RowState",
    "Verdict",
    "duplicate",
    "ended_words",
    "judge",
    "judge_error",
    "mark_done_advice",
    "unrecorded_words",
]


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

    @property
    def key_rejected(self) -> bool:
        """The gateway refused the API key (not the row, not the balance)."""
        return self.status == 401 or self.code.lower() == "invalid_api_key"

    @property
    def unreachable(self) -> bool:
        """The gateway was not reached: no connection, or the base URL is not its."""
        return self.code in ("connect", "wrong_url")

    @property
    def text(self) -> str:
        """``400 invalid_request: grok-video-3 takes …``, as the CLI and the dashboard say
        it (the server's text was cleaned when it was read)."""
        from vidwatch.core.gateway.create_answer import answer_text

        return clean_line(answer_text(self.status, self.code, self.message), 400)


def judge(outcome: CreateOutcome) -> Verdict:
    """The manifest state of an answer. Pure."""
    from vidwatch.core.gateway.create_answer import (
        CreateBadResponse,
        Created,
        CreateRateLimited,
        CreateServerError,
        CreateTimedOut,
        NoAnswer,
        NoChannel,
        Refused,
        SendFate,
    )
    from vidwatch.core.gateway.outcomes import WrongUrl

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
    if isinstance(outcome, WrongUrl):  # the base URL: every row would get the same answer
        said = f"HTTP {outcome.status}" + (f": {outcome.detail}" if outcome.detail else "")
        where = f"the server has no {outcome.url or 'such address'} ({said}); {outcome.fix}"
        return Verdict(RowState.NOT_SENT, "wrong_url", where, stop_batch=True)  # check's words
    if isinstance(outcome, CreateTimedOut):
        why = "a server on the way (the gateway or a proxy) timed out after the request went out"
        said = f"{why}: {outcome.message}" if outcome.message else why
        return Verdict(RowState.UNCERTAIN, outcome.code, said, outcome.status)
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


def mark_done_advice(ref: str) -> str:
    """What to do about a create whose job may exist (``ref``: the create's reference):
    ``look for it in the provider's console, then: vidwatch create --mark-done REF=ID
    (not there: vidwatch create --mark-done REF)``. The command is the dashboard's advice
    too: it has no key for it."""
    return (
        "look for it in the provider's console, then: vidwatch create --mark-done "
        f"{ref}=ID (not there: vidwatch create --mark-done {ref})"
    )


def ended_words(verdict: Verdict, ref: str) -> str:
    """How a single create ended, as ``vidwatch create`` and the dashboard say it:
    ``the gateway refused the job: 400 …``, ``not sent, nothing was paid: …``, or what to
    do when the job may have been made. ``ref``: the create's reference."""
    what = verdict.text
    if verdict.state is RowState.CREATED:
        return f"created {escaped(verdict.task_id or '')}"
    if verdict.state is RowState.REFUSED:
        return f"the gateway refused the job: {what}"
    if verdict.state in (RowState.UNCERTAIN, RowState.SENDING):
        return (
            f"{what}. The job may have been made (and paid): {mark_done_advice(ref)}. "
            "It is not sent again by itself."
        )
    if verdict.key_rejected:
        return f"not sent, nothing was paid: {what} — {key_hint()}"
    return f"not sent, nothing was paid: {what}"


def unrecorded_words(verdict: Verdict, problem: str) -> str:
    """A create whose outcome could not be written to the record of sends: ``the job was
    made as grok:…, but it could not be recorded: …``."""
    if verdict.state is RowState.CREATED and verdict.task_id is not None:
        made = f"was made as {escaped(verdict.task_id)}"
    else:
        made = "may have been made"
    return f"the job {made}, but it could not be recorded: {clean_line(problem, 600)}"
