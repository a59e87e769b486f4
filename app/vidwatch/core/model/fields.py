"""The one field list of a task record, and what each consumer does with a field.

The list is the records' own dataclass fields: every field of :class:`Task`,
:class:`TaskRequest`, :class:`TaskResult` and :class:`Transition` declares its
:class:`Kind` (see
:func:`vidwatch.core.model.records.stored`). From that declaration, and nothing else:

* the store writes a field (:func:`to_file`) and reads it back, checked and cleaned
  (:func:`from_file`: file contents are hostile);
* the export and ``vidwatch list --json`` show it (:func:`to_jsonable`);
* the redaction replaces a secret in it (:func:`redact_record`, :func:`mentions`).

A field without a kind stops the import with a :class:`TypeError` naming it, so it
cannot be silently left out of the file, the export or the redaction.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, TypeVar

from vidwatch.core.model.money import Cost, decimal_of
from vidwatch.core.model.records import (
    HISTORY_LIMIT,
    Kind,
    Problem,
    State,
    Task,
    TaskRequest,
    TaskResult,
    Transition,
    VideoFacts,
    clean_extras,
    plausible_time,
    validate_task_id,
)
from vidwatch.core.text.sanitize import clean_line, clean_text
from vidwatch.core.text.urls import url_problem

__all__ = [
    "COST_FIELDS",
    "REQUEST_FIELDS",
    "RESULT_FIELDS",
    "TASK_FIELDS",
    "TRANSITION_FIELDS",
    "VIDEO_FIELDS",
    "FieldSpec",
    "field_specs",
    "from_file",
    "mentions",
    "redact_record",
    "to_file",
    "to_jsonable",
]

MAX_STORED_ID: Final = 1024  # longer than any ID vidwatch accepts; a file may hold older ones


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a record: its name, its kind, the length text is cut to when read
    back, whether the record needs it, and what a file that lacks it gives instead."""

    name: str
    kind: Kind
    limit: int
    required: bool
    if_missing: Any


def field_specs(cls: type[Any]) -> tuple[FieldSpec, ...]:
    """The field list of the dataclass ``cls``, in declaration order."""
    specs: list[FieldSpec] = []
    for f in dataclasses.fields(cls):
        kind = f.metadata.get("kind")
        if not isinstance(kind, Kind):
            raise TypeError(
                f"{cls.__name__}.{f.name} declares no Kind (field(metadata=stored(...))): "
                "the store, the export and the redaction would not know what to do with it"
            )
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        specs.append(
            FieldSpec(f.name, kind, int(f.metadata["limit"]), required, f.metadata["if_missing"])
        )
    return tuple(specs)


TASK_FIELDS: Final = field_specs(Task)
REQUEST_FIELDS: Final = field_specs(TaskRequest)
RESULT_FIELDS: Final = field_specs(TaskResult)
TRANSITION_FIELDS: Final = field_specs(Transition)
COST_FIELDS: Final = field_specs(Cost)
VIDEO_FIELDS: Final = field_specs(VideoFacts)

# Kinds that hold records of their own: a tuple of them (history) or one (request, cost).
_NESTED: Final[dict[Kind, tuple[type[Any], tuple[FieldSpec, ...]]]] = {
    Kind.HISTORY: (Transition, TRANSITION_FIELDS),
    Kind.REQUEST: (TaskRequest, REQUEST_FIELDS),
    Kind.COST: (Cost, COST_FIELDS),
    Kind.VIDEO: (VideoFacts, VIDEO_FIELDS),
}
# a record, not a tuple of them
_ONE_RECORD: Final = frozenset({Kind.REQUEST, Kind.COST, Kind.VIDEO})
MAX_QUOTA: Final = (1 << 63) - 1  # what the task file (TOML) holds
MAX_JSON_DEPTH: Final = 16
MAX_JSON_KEY: Final = 64
MAX_JSON_TEXT: Final = 8_192  # one text value inside a JSON field

R = TypeVar("R")

# --------------------------------------------------------------------------- the file


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)  # TOML keeps offsets; the file holds UTC


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _history_to_file(history: tuple[Transition, ...]) -> list[dict[str, Any]]:
    return [to_file(t) for t in history]


def _json_text(value: Mapping[str, Any]) -> str:
    # JSON text, not a TOML table: TOML has no null, and the body is kept exactly.
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))


def _plain(value: Any) -> Any:
    """A JSON value as plain dicts and lists (a frozen mapping becomes a dict)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


_TO_FILE: Final[dict[Kind, Callable[[Any], Any] | None]] = {
    Kind.ID: None,
    Kind.TIME: _utc,
    Kind.LINE: None,
    Kind.TEXT: None,
    Kind.URL: None,
    Kind.STATE: lambda state: state.value,
    Kind.PROBLEM: lambda problem: problem.value,
    Kind.NUMBER: _finite,
    Kind.HISTORY: _history_to_file,
    Kind.REQUEST: lambda request: to_file(request),
    Kind.URLS: list,
    Kind.JSON: _json_text,
    Kind.EXTRAS: dict,  # a table of scalars: readable, and nothing TOML cannot hold
    Kind.QUOTA: None,
    Kind.DECIMAL: str,  # decimal text: exact, where a TOML float would not be
    Kind.COST: lambda cost: to_file(cost),
    Kind.COUNT: None,
    Kind.VIDEO: lambda facts: to_file(facts),
}


def _plan(specs: tuple[FieldSpec, ...], table: Mapping[Kind, R]) -> tuple[tuple[FieldSpec, R], ...]:
    # Resolved once: looking an Enum up in a dict per field and record costs more than
    # the work itself (10,000 records are written at every save).
    return tuple((spec, table[spec.kind]) for spec in specs)


_NUMBERS: Final = (float, int)  # a zero is a value, not an empty field


def to_file(record: Any) -> dict[str, Any]:
    """``record``'s fields as TOML values; empty ones (``None``, ``""``, ``()``, a
    non-finite number) are left out and read back as the field's default."""
    out: dict[str, Any] = {}
    for spec, encode in _TO_FILE_PLANS[type(record)]:
        value = getattr(record, spec.name)
        if value is None or (not value and value.__class__ not in _NUMBERS and not spec.required):
            continue  # None, "", (): nothing to write (a progress of 0.0, a size of 0 is something)
        if encode is not None:
            value = encode(value)
            if value is None:
                continue
        out[spec.name] = value
    return out


def _id_from_file(value: Any, limit: int) -> str | None:
    # The one ID rule (an ID with escapes, invisible characters or spaces would reach the
    # terminal or hide what it is): the entry is unreadable (copied aside, the user told).
    if not isinstance(value, str) or validate_task_id(value, MAX_STORED_ID) is not None:
        return None
    return value


def _time_from_file(value: Any, limit: int) -> datetime | None:
    return plausible_time(value) if isinstance(value, datetime) else None


def _line_from_file(value: Any, limit: int) -> str | None:
    return clean_line(value, limit) if isinstance(value, str) else None


def _text_from_file(value: Any, limit: int) -> str | None:
    return clean_text(value, limit) if isinstance(value, str) else None


def _url_from_file(value: Any, limit: int) -> str | None:
    # URLs are checked where they are used, and where they are read back: a hand-edited
    # file may hold javascript:, a line break or a user@host that hides the real host.
    if not isinstance(value, str) or len(value) > limit or url_problem(value) is not None:
        return None
    return value


def _state_from_file(value: Any, limit: int) -> State | None:
    if not isinstance(value, str):
        return None
    try:
        state = State(value)
    except ValueError:
        return None
    return None if state is State.NEW else state  # "new" is shown, never stored


def _problem_from_file(value: Any, limit: int) -> Problem | None:
    if not isinstance(value, str):
        return None
    try:
        return Problem(value)
    except ValueError:
        return None


def _number_from_file(value: Any, limit: int) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _history_from_file(value: Any, limit: int) -> tuple[Transition, ...] | None:
    if not isinstance(value, list):
        return None
    history = tuple(
        t for item in value[-HISTORY_LIMIT:] if (t := from_file(item, Transition)) is not None
    )
    return history or None


def _request_from_file(value: Any, limit: int) -> TaskRequest | None:
    return from_file(value, TaskRequest)


def _video_from_file(value: Any, limit: int) -> VideoFacts | None:
    return from_file(value, VideoFacts)


def _urls_from_file(value: Any, limit: int) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    kept = tuple(
        url
        for url in value[:64]
        if isinstance(url, str) and len(url) <= limit and url_problem(url) is None
    )
    return kept or None


def _json_from_file(value: Any, limit: int) -> dict[str, Any] | None:
    """A JSON object from its text in the file: every key and text value cleaned,
    numbers finite, nesting and sizes capped; ``None`` when it is not an object."""
    if not isinstance(value, str) or len(value) > limit:
        return None
    try:
        data = json.loads(value, parse_constant=lambda name: None)
    except (ValueError, RecursionError):
        return None
    cleaned = _clean_json(data, 0)
    return cleaned if isinstance(cleaned, dict) and cleaned else None


def _quota_from_file(value: Any, limit: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_QUOTA:
        return None
    return value


def _decimal_from_file(value: Any, limit: int) -> Decimal | None:
    return decimal_of(value) if isinstance(value, str) else None


def _cost_from_file(value: Any, limit: int) -> Cost | None:
    return from_file(value, Cost)


def _extras_from_file(value: Any, limit: int) -> tuple[tuple[str, Any], ...] | None:
    """The answer's other fields from their table, by the same rule as the parser's."""
    if not isinstance(value, Mapping):
        return None
    return clean_extras(value.items()) or None


def _clean_json(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return clean_text(value, MAX_JSON_TEXT)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if depth >= MAX_JSON_DEPTH:
        return None
    if isinstance(value, list):
        return [_clean_json(item, depth + 1) for item in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            name = clean_line(key, MAX_JSON_KEY)
            if name:
                out[name] = _clean_json(item, depth + 1)
        return out
    return None


_FROM_FILE: Final[dict[Kind, Callable[[Any, int], Any]]] = {
    Kind.ID: _id_from_file,
    Kind.TIME: _time_from_file,
    Kind.LINE: _line_from_file,
    Kind.TEXT: _text_from_file,
    Kind.URL: _url_from_file,
    Kind.STATE: _state_from_file,
    Kind.PROBLEM: _problem_from_file,
    Kind.NUMBER: _number_from_file,
    Kind.HISTORY: _history_from_file,
    Kind.REQUEST: _request_from_file,
    Kind.URLS: _urls_from_file,
    Kind.JSON: _json_from_file,
    Kind.EXTRAS: _extras_from_file,
    Kind.QUOTA: _quota_from_file,
    Kind.DECIMAL: _decimal_from_file,
    Kind.COST: _cost_from_file,
    Kind.COUNT: _quota_from_file,  # a whole number the file can hold, as quota units are
    Kind.VIDEO: _video_from_file,
}

_SPECS: Final[dict[type[Any], tuple[FieldSpec, ...]]] = {
    Task: TASK_FIELDS,
    TaskRequest: REQUEST_FIELDS,
    TaskResult: RESULT_FIELDS,
    Transition: TRANSITION_FIELDS,
    Cost: COST_FIELDS,
    VideoFacts: VIDEO_FIELDS,
}
_TO_FILE_PLANS: Final = {cls: _plan(specs, _TO_FILE) for cls, specs in _SPECS.items()}
_FROM_FILE_PLANS: Final = {cls: _plan(specs, _FROM_FILE) for cls, specs in _SPECS.items()}


def from_file(
    raw: Any, cls: type[R], derive: Callable[[dict[str, Any]], None] | None = None
) -> R | None:
    """A ``cls`` from what the file holds, every field checked and cleaned by its kind;
    ``None`` when ``raw`` is not a table or a required field is unusable. A field that
    is missing or unusable takes its default. ``derive`` may fill in the keyword
    arguments before the record is built (a state from the status word)."""
    if not isinstance(raw, Mapping):
        return None
    values: dict[str, Any] = {}
    for spec, decode in _FROM_FILE_PLANS[cls]:
        value = raw.get(spec.name)
        if value is not None:
            value = decode(value, spec.limit)
        if value is None or (value.__class__ is str and not value and not spec.required):
            if not spec.required:
                continue
            if spec.if_missing is None:
                return None
            value = spec.if_missing
        values[spec.name] = value
    if derive is not None:
        derive(values)
    return cls(**values)


# --------------------------------------------------------------------------- JSON


def _iso(value: datetime) -> str:
    return value.isoformat()


_TO_JSON: Final[dict[Kind, Callable[[Any], Any] | None]] = {
    Kind.ID: None,
    Kind.TIME: _iso,
    Kind.LINE: None,
    Kind.TEXT: None,
    Kind.URL: None,
    Kind.STATE: lambda state: state.value,
    Kind.PROBLEM: lambda problem: problem.value,
    Kind.NUMBER: _finite,  # NaN is not JSON
    Kind.HISTORY: lambda history: [to_jsonable(t) for t in history],
    Kind.REQUEST: lambda request: to_jsonable(request),
    Kind.URLS: list,
    Kind.JSON: _plain,
    Kind.EXTRAS: dict,
    Kind.QUOTA: None,
    Kind.DECIMAL: str,  # decimal text, as in the file: a JSON float would round it
    Kind.COST: lambda cost: to_jsonable(cost),
    Kind.COUNT: None,
    Kind.VIDEO: lambda facts: to_jsonable(facts),
}
_TO_JSON_PLANS: Final = {cls: _plan(specs, _TO_JSON) for cls, specs in _SPECS.items()}


def to_jsonable(record: Any) -> dict[str, Any]:
    """Every field of ``record`` as plain JSON types (``None`` as ``null``)."""
    out: dict[str, Any] = {}
    for spec, encode in _TO_JSON_PLANS[type(record)]:
        value = getattr(record, spec.name)
        out[spec.name] = value if value is None or encode is None else encode(value)
    return out


# --------------------------------------------------------------------------- redaction

# Kinds that hold text: a string, a tuple of strings (URLS) or a JSON object whose keys
# and text values are scrubbed.
_TEXT_KINDS: Final = frozenset(
    {Kind.ID, Kind.LINE, Kind.TEXT, Kind.URL, Kind.URLS, Kind.JSON, Kind.EXTRAS}
)


def _scrubbed(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, tuple):
        return tuple(_scrubbed(item, scrub) for item in value)
    if isinstance(value, list):
        return [_scrubbed(item, scrub) for item in value]
    if isinstance(value, Mapping):
        return {scrub(str(k)): _scrubbed(v, scrub) for k, v in value.items()}
    return value


def _holds(value: Any, secret: str) -> bool:
    if isinstance(value, str):
        return secret in value
    if isinstance(value, list | tuple):
        return any(_holds(item, secret) for item in value)
    if isinstance(value, Mapping):
        return any(secret in str(k) or _holds(v, secret) for k, v in value.items())
    return False


def _nested(value: Any) -> tuple[Any, ...]:
    """The records a nested field holds: a history's, or the one request (or video)."""
    if value is None:
        return ()
    return value if isinstance(value, tuple) else (value,)


def redact_record(record: R, scrub: Callable[[str], str]) -> R:
    """``record`` with ``scrub`` applied to every text it holds, nested records too (the
    same object when nothing changed)."""
    changes: dict[str, Any] = {}
    for spec in _SPECS[type(record)]:
        value = getattr(record, spec.name)
        if spec.kind in _TEXT_KINDS and value:
            new: Any = _scrubbed(value, scrub)
        elif spec.kind in _ONE_RECORD and value is not None:
            new = redact_record(value, scrub)
        elif spec.kind in _NESTED and value:
            new = tuple(redact_record(item, scrub) for item in value)
        else:
            continue
        if new != value:
            changes[spec.name] = new
    return dataclasses.replace(record, **changes) if changes else record  # type: ignore[type-var]


def mentions(record: Any, secret: str) -> bool:
    """Whether any text ``record`` holds (nested records too) contains ``secret``."""
    for spec in _SPECS[type(record)]:
        value = getattr(record, spec.name)
        if spec.kind in _TEXT_KINDS:
            if _holds(value, secret):
                return True
        elif spec.kind in _NESTED and any(mentions(item, secret) for item in _nested(value)):
            return True
    return False
