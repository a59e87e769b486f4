"""The filter language of the dashboard (``/``) and of ``vidwatch list/export --filter``.

Words are ANDed. A plain word matches ID, label, state, status, model or prompt (the
one sent and the server's rewrite; any case).
Fields narrow it down::

    state:failed            canonical state or raw word; state:new, state:failed,unknown
    label:cow  id:7f3a
    prompt:moon             the prompt sent (vidwatch create/submit) or the enhanced one
    model:veo               the model it was created with, or the ID's model part,
                            starts with it
    age:<1h  age:>30m       since the task was added (s, m, h, d, w)
    updated:<10m            since the server last changed its status
    url:yes  saved:no       a video URL is known / the video is on disk
    charged:yes             the request log shows a charge (not refunded);
                            charged:failed: failed and still charged (ask for a refund)
    -state:succeeded        a leading - (or !) negates any word

A known field with a bad value gives a readable error, never a crash; anything else
with a colon (``grok:eee6…``, a URL) is a plain word.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vidwatch.core.model.records import TaskRecord, model_key

__all__ = ["Query", "QueryError", "parse_query", "parse_usable", "search_text"]

Check = Callable[[TaskRecord, str, datetime], bool]  # (record, its search text, now)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SPAN = re.compile(r"^(<=|>=|<|>)?\s*(\d+(?:\.\d+)?)\s*([smhdw]?)$")
_UNIT_NAMES = "s, m, h, d or w"
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}
FIELDS = (
    "state",
    "label",
    "id",
    "prompt",
    "model",
    "age",
    "updated",
    "url",
    "saved",
    "charged",
)


class QueryError(ValueError):
    """The filter text does not parse; ``str()`` says what and how to write it."""


def search_text(record: TaskRecord) -> str:
    """What a plain word is looked for in (lower-cased)."""
    r = record.result
    parts = [record.id, record.task.label, r.shown_state.value, r.status]
    parts += [r.enhanced_prompt or "", r.sent_prompt or ""]
    request = record.task.request
    if request is not None:
        parts += [request.model, request.prompt]
    return "\n".join(parts).lower()


@dataclass(frozen=True)
class Query:
    text: str
    checks: tuple[Check, ...]

    @property
    def empty(self) -> bool:
        return not self.checks

    def matches(self, record: TaskRecord, haystack: str, now: datetime) -> bool:
        return all(check(record, haystack, now) for check in self.checks)


def parse_query(text: str) -> Query:
    """Parse ``text``; raises :class:`QueryError` with a one-line explanation."""
    checks: list[Check] = []
    for word in text.split():
        negate = word[0] in "-!" and len(word) > 1
        term = word[1:] if negate else word
        check = _term(term)
        checks.append(_negated(check) if negate else check)
    return Query(text, tuple(checks))


def parse_usable(text: str) -> Query:
    """The terms of ``text`` that parse, the others left out: what to show while a
    filter is half typed (``state:failed age:`` filters by state meanwhile)."""
    kept = []
    for word in text.split():
        try:
            parse_query(word)
        except QueryError:
            continue
        kept.append(word)
    return parse_query(" ".join(kept))


def _negated(check: Check) -> Check:
    return lambda record, hay, now: not check(record, hay, now)


def _term(term: str) -> Check:
    field, sep, value = term.partition(":")
    field = field.lower()
    if not sep or field not in FIELDS:
        # Not a field: a plain word. Task IDs look like fields (grok:eee6…), URLs too.
        needle = term.lower()
        return lambda record, hay, now: needle in hay
    if not value:
        raise QueryError(f"{field}: needs a value, as in {field}:{_EXAMPLES[field]}")
    needle = value.lower()
    if field == "state":
        wanted = {w for w in needle.split(",") if w}  # State names or raw status words

        def state(record: TaskRecord, hay: str, now: datetime) -> bool:
            r = record.result
            return r.shown_state.value in wanted or (bool(r.status) and r.status.lower() in wanted)

        return state
    if field == "label":
        return lambda record, hay, now: needle in record.task.label.lower()
    if field == "id":
        return lambda record, hay, now: needle in record.id.lower()
    if field == "prompt":
        return lambda record, hay, now: needle in _prompts(record)
    if field == "model":
        return lambda record, hay, now: (
            _model_of(record).startswith(needle) or model_key(record.id).startswith(needle)
        )
    if field == "charged" and needle == "failed":
        return lambda record, hay, now: record.charged_failed
    if field in ("url", "saved", "charged"):
        if needle not in _YES | _NO:
            also = " or failed" if field == "charged" else ""
            raise QueryError(f"{field}: say yes or no{also}, as in {field}:yes")
        want = needle in _YES
        if field == "url":
            return lambda record, hay, now: (record.result.video_url is not None) == want
        if field == "charged":
            return lambda record, hay, now: record.charged == want
        return lambda record, hay, now: (record.task.saved_to is not None) == want
    return _age_check(field, value)


def _prompts(record: TaskRecord) -> str:
    """The prompt sent (when vidwatch created the job, or as the server echoes it) and
    the server's enhanced one."""
    request = record.task.request
    sent = request.prompt if request is not None else ""
    r = record.result
    return f"{sent}\n{r.sent_prompt or ''}\n{r.enhanced_prompt or ''}".lower()


def _model_of(record: TaskRecord) -> str:
    request = record.task.request
    return request.model.lower() if request is not None else ""


def _age_check(field: str, value: str) -> Check:
    match = _SPAN.match(value.strip().lower())
    if match is None:
        raise QueryError(f"{field}: write a time like {field}:<1h or {field}:>30m")
    op, number, unit = match.groups()
    if not unit:  # 5 what? a guess would filter silently wrong
        raise QueryError(f"{field}: add a unit ({_UNIT_NAMES}), as in {field}:<{number}m")
    limit = float(number) * _UNITS[unit]
    compare: Callable[[float], bool]
    if op in (None, "<"):
        compare = lambda seconds: seconds < limit  # noqa: E731
    elif op == "<=":
        compare = lambda seconds: seconds <= limit  # noqa: E731
    elif op == ">":
        compare = lambda seconds: seconds > limit  # noqa: E731
    else:
        compare = lambda seconds: seconds >= limit  # noqa: E731

    def check(record: TaskRecord, hay: str, now: datetime) -> bool:
        when = record.task.added_at if field == "age" else record.result.status_update_time
        return when is not None and compare((now - when).total_seconds())

    return check


_EXAMPLES = {
    "state": "failed",
    "label": "cow",
    "id": "7f3a",
    "prompt": "moon",
    "model": "grok",
    "age": "<1h",
    "updated": "<10m",
    "url": "yes",
    "saved": "no",
    "charged": "failed",
}
