"""Typed models shared by the whole application.

Everything here is a frozen dataclass or an enum; nothing imports Textual.

Each field of a persisted record (:class:`Task`, :class:`TaskRequest`,
:class:`TaskResult`, :class:`Transition`) declares its :class:`Kind` in its metadata:
that declaration is the one field list the store, the export and the redaction derive
from (:mod:`vidwatch.core.model.fields`). A field added here is stored, exported and redacted
by its kind, with no other list to update.
"""

from __future__ import annotations

import enum
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from vidwatch.core.model.kinds import Kind, stored
from vidwatch.core.model.money import Cost
from vidwatch.core.text.sanitize import (
    MAX_SHORT,
    MAX_TEXT,
    MAX_URL,
    clean_line,
    has_hidden_characters,
    url_problem,
)

__all__ = [
    "FINISHED_STATES",
    "MAX_ID_LENGTH",
    "Kind",
    "Problem",
    "State",
    "Task",
    "TaskRecord",
    "TaskRequest",
    "TaskResult",
    "Transition",
    "VideoFacts",
    "canonical_state",
    "clean_extras",
    "epoch_time",
    "model_key",
    "plausible_time",
    "split_ids",
    "stored",
    "utcnow",
    "validate_task_id",
]

MAX_ID_LENGTH = 256
MAX_LABEL = 120
MAX_PATH = 4096
MAX_MODEL = 128
MAX_REQUEST_PROMPT = 20_000  # what vidwatch sends at most (create.MAX_PROMPT)
MAX_REQUEST_FIELDS = 64 * 1024  # characters of the body fields as JSON


EPOCH = datetime.fromtimestamp(0, UTC)  # "added at some unknown time" (a hand-written file)


def plausible_time(value: datetime | None) -> datetime | None:
    """``value`` in UTC if it lies in 2000–2199, else ``None``.

    A server time of year 1 or 9999 would overflow the moment it is shown in local
    time or written to the task file; a job status cannot be from then anyway.
    """
    if value is None:
        return None
    try:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
    except (OverflowError, ValueError, OSError):
        return None
    return value if 2000 <= value.year < 2200 else None


def epoch_time(value: float) -> datetime | None:
    """A server's epoch time: milliseconds above 1e12 (QuickRouter, veo), else seconds
    (grok, sibling gateways); ``None`` when not a plausible time."""
    if not math.isfinite(value) or value <= 0:
        return None
    seconds = value / 1000.0 if value > 1e12 else value
    try:
        return plausible_time(datetime.fromtimestamp(seconds, tz=UTC))
    except (OverflowError, OSError, ValueError):
        return None


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class State(enum.StrEnum):
    """The one status vocabulary: what the dashboard, ``vidwatch list`` (and ``--json``),
    exports and ``state:`` filters call a task's state.

    ``NEW`` is a task vidwatch has not got any answer about yet; it is never a server
    status nor stored (see :attr:`TaskResult.shown_state`). Every server status maps
    onto one of the others (:func:`canonical_state`).
    """

    NEW = "new"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @property
    def finished(self) -> bool:
        return self in FINISHED_STATES

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]


_SYMBOLS: dict[State, str] = {
    State.NEW: "·",
    State.QUEUED: "◷",
    State.RUNNING: "▶",
    State.SUCCEEDED: "✔",
    State.FAILED: "✘",
    State.UNKNOWN: "?",
}

FINISHED_STATES = frozenset({State.SUCCEEDED, State.FAILED})


class Problem(enum.StrEnum):
    """Why the last check of a task did not give a usable answer."""

    AUTH = "auth"
    NOT_FOUND = "not_found"
    WRONG_URL = "wrong_url"
    RATE_LIMITED = "rate_limited"
    SERVER = "server"
    BAD_RESPONSE = "bad_response"
    NETWORK = "network"
    TIMEOUT = "timeout"
    NO_URL = "no_url"


_VOCABULARY: dict[str, State] = {
    **dict.fromkeys(
        (
            "pending",
            "queued",
            "submitted",
            "not_start",
            "in_queue",
            "waiting",
            "throttled",
        ),
        State.QUEUED,
    ),
    **dict.fromkeys(
        (
            "processing",
            "in_progress",
            "running",
            "generating",
            "starting",
            "dreaming",
            "image_downloading",
            "video_generating",
            # veo's steps: the video exists but is not upscaled yet (not success)
            "video_generation_completed",
            "video_upsampling",
            "video_upsampling_completed",
        ),
        State.RUNNING,
    ),
    **dict.fromkeys(
        ("completed", "succeeded", "success", "succeed", "done", "finished"),
        State.SUCCEEDED,
    ),
    **dict.fromkeys(
        (
            "failed",
            "failure",
            "error",
            "cancelled",
            "canceled",
            "expired",
            "rejected",
            "interrupted",
            "timeout",
            "video_generation_failed",
            "video_upsampling_failed",
        ),
        State.FAILED,
    ),
}


def canonical_state(raw: str | None) -> State:
    """Map a raw server status onto the canonical vocabulary.

    Comparison is case-insensitive after trimming. Unknown words, empty and
    missing statuses map to ``State.UNKNOWN``; callers keep the raw word. The word
    alone decides: veo's ``video_generation_completed`` and ``video_upsampling_completed``
    are steps on the way (running), whatever URL the answer carries — only a final word
    (``completed``…) is success.
    """
    if not raw:
        return State.UNKNOWN
    return _VOCABULARY.get(raw.strip().lower(), State.UNKNOWN)


def _frozen_json(value: Any) -> Any:
    """A private deep copy of a JSON value (objects and lists copied)."""
    if isinstance(value, Mapping):
        return {str(k): _frozen_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_frozen_json(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """The request that created a task (``vidwatch create`` / ``submit``): the model,
    the prompt as the user wrote it (the server's rewrite is
    :attr:`TaskResult.enhanced_prompt`), the other body fields and the image URLs.
    Never the key: bodies never hold it."""

    model: str = field(metadata=stored(Kind.LINE, MAX_MODEL))
    prompt: str = field(metadata=stored(Kind.TEXT, MAX_REQUEST_PROMPT))
    fields: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}),
        metadata=stored(Kind.JSON, MAX_REQUEST_FIELDS),
    )
    images: tuple[str, ...] = field(default=(), metadata=stored(Kind.URLS, MAX_URL))

    def __post_init__(self) -> None:
        frozen = {str(k): _frozen_json(v) for k, v in self.fields.items()}
        object.__setattr__(self, "fields", MappingProxyType(frozen))
        object.__setattr__(self, "images", tuple(self.images))

    def __hash__(self) -> int:  # the fields are a mapping: hashed as their JSON
        fields = json.dumps(dict(self.fields), sort_keys=True, default=str)
        return hash((self.model, self.prompt, fields, self.images))


@dataclass(frozen=True, slots=True)
class VideoFacts:
    """What the video itself is, read from its container (:mod:`vidwatch.core.media`), not
    what the server said: the picture's size, its length, frame rate and codec, the audio
    track's codec (``""``: no sound) and the file's size in bytes."""

    width: int = field(metadata=stored(Kind.COUNT))
    height: int = field(metadata=stored(Kind.COUNT))
    duration: float | None = field(default=None, metadata=stored(Kind.NUMBER))  # seconds
    fps: float | None = field(default=None, metadata=stored(Kind.NUMBER))
    codec: str = field(default="", metadata=stored(Kind.LINE, MAX_SHORT))
    audio: str = field(default="", metadata=stored(Kind.LINE, MAX_SHORT))
    size: int | None = field(default=None, metadata=stored(Kind.COUNT))  # bytes


@dataclass(frozen=True, slots=True)
class Task:
    """A job the user asked vidwatch to watch."""

    id: str = field(metadata=stored(Kind.ID))
    added_at: datetime = field(metadata=stored(Kind.TIME, if_missing=EPOCH))
    label: str = field(default="", metadata=stored(Kind.LINE, MAX_LABEL))
    # where the video was downloaded
    saved_to: str | None = field(default=None, metadata=stored(Kind.LINE, MAX_PATH))
    # what created it, when vidwatch did (None: an ID added by hand)
    request: TaskRequest | None = field(default=None, metadata=stored(Kind.REQUEST))
    # what it cost, from the gateway's request log (None: no charge seen)
    cost: Cost | None = field(default=None, metadata=stored(Kind.COST))
    # what its video turned out to be (read when a still of it was made)
    video: VideoFacts | None = field(default=None, metadata=stored(Kind.VIDEO))

    def with_label(self, label: str) -> Task:
        return replace(self, label=label)

    def with_saved_to(self, path: str | None) -> Task:
        return replace(self, saved_to=path)

    def with_cost(self, cost: Cost | None) -> Task:
        return replace(self, cost=cost)

    def with_video(self, facts: VideoFacts | None) -> Task:
        return replace(self, video=facts)


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of a job's status, and when it happened (the server's time when it said).

    ``server_id`` is the id the answer gave when it was not the task's own server id
    (:attr:`TaskResult.server_id`, the first one seen); ``""`` when it was. A change of
    that id between answers is a step of its own (same state and status), so the
    timeline shows when the server began to call the task something else.
    """

    state: State = field(metadata=stored(Kind.STATE))
    status: str = field(metadata=stored(Kind.LINE, MAX_SHORT))
    at: datetime = field(metadata=stored(Kind.TIME))
    server_id: str = field(default="", metadata=stored(Kind.LINE, MAX_SHORT))

    def repeats(self, other: Transition) -> bool:
        """Whether this step only notes a new server id after ``other`` (no status move)."""
        return self.state is other.state and self.status == other.status


HISTORY_LIMIT = 24  # transitions kept per task: the first and the latest

Scalar = str | int | float | bool
Extras = tuple[tuple[str, Scalar], ...]
MAX_EXTRAS = 16  # other fields of an answer kept with a task (ratio, model, video_id…)
MAX_EXTRA_TEXT = 512  # characters of one of them (a link is kept whole or not at all)
MAX_EXTRAS_SIZE = 2048  # characters of all of them, names included
_EXTRA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,39}")
_INT64 = 1 << 63  # what the task file (TOML) can hold


def clean_extras(items: Iterable[tuple[object, object]]) -> Extras:
    """The other fields of an answer as kept with a task (the parser and the file reader
    both go through here): at most :data:`MAX_EXTRAS` pairs, :data:`MAX_EXTRAS_SIZE`
    characters in all, whose name is a plain field name (a letter, then letters, digits
    or ``_.-``; 40 at most) and whose value is one line of text (cleaned, cut to
    :data:`MAX_EXTRA_TEXT`), a boolean, a 64-bit integer or a finite number. A field
    named like a link (``…url``) is kept only whole and passing the URL rule. Anything
    else (objects, lists, nulls, empty text) is left out, so an unexpected field can
    neither bloat nor break the task file, nor put an unchecked link on screen."""
    kept: list[tuple[str, Scalar]] = []
    room = MAX_EXTRAS_SIZE
    for name, value in items:
        if not isinstance(name, str) or _EXTRA_NAME.fullmatch(name) is None:
            continue
        if isinstance(value, str):
            if name.lower().endswith("url"):
                value = value.strip()
                if len(value) > MAX_EXTRA_TEXT or url_problem(value) is not None:
                    continue
            value = clean_line(value, MAX_EXTRA_TEXT)
            if not value:
                continue
            size = len(name) + len(value)
        elif isinstance(value, int):  # bool included
            if not -_INT64 <= value < _INT64:
                continue
            size = len(name) + 8
        elif isinstance(value, float) and math.isfinite(value):
            size = len(name) + 8
        else:
            continue
        if size > room:
            continue
        room -= size
        kept.append((name, value))
        if len(kept) >= MAX_EXTRAS:
            break
    return tuple(kept)


@dataclass(frozen=True, slots=True)
class TaskResult:
    """The last thing vidwatch learned about a task.

    ``status`` is the raw server word (sanitised), ``state`` its canonical
    mapping. ``error`` is the last error seen when checking (``None`` after a
    successful check); ``fail_reason`` is the server's own reason for a failed
    job. ``checked_at`` is when vidwatch last got *any* answer, good or bad.
    """

    state: State = field(default=State.UNKNOWN, metadata=stored(Kind.STATE))
    status: str = field(default="", metadata=stored(Kind.LINE, MAX_SHORT))
    video_url: str | None = field(default=None, metadata=stored(Kind.URL, MAX_URL))
    enhanced_prompt: str | None = field(default=None, metadata=stored(Kind.TEXT, MAX_TEXT))
    server_id: str | None = field(default=None, metadata=stored(Kind.LINE, MAX_SHORT))
    status_update_time: datetime | None = field(default=None, metadata=stored(Kind.TIME))
    checked_at: datetime | None = field(default=None, metadata=stored(Kind.TIME))
    error: str | None = field(default=None, metadata=stored(Kind.TEXT, MAX_TEXT))
    fail_reason: str | None = field(default=None, metadata=stored(Kind.TEXT, MAX_TEXT))
    progress: float | None = field(default=None, metadata=stored(Kind.NUMBER))
    problem: Problem | None = field(default=None, metadata=stored(Kind.PROBLEM))
    history: tuple[Transition, ...] = field(default=(), metadata=stored(Kind.HISTORY))
    # The prompt as the server echoes it (grok's ``prompt``): what was sent, not a rewrite.
    sent_prompt: str | None = field(default=None, metadata=stored(Kind.TEXT, MAX_TEXT))
    # A still of the video (grok's ``thumbnail_url``): shown, copied, never fetched.
    thumbnail_url: str | None = field(default=None, metadata=stored(Kind.URL, MAX_URL))
    # The answer's other fields (ratio, model, video_id, completed_at…): clean_extras.
    extras: Extras = field(default=(), metadata=stored(Kind.EXTRAS))

    @property
    def finished(self) -> bool:
        return self.state.finished

    @property
    def shown_state(self) -> State:
        """The state users see, filter on and export: ``NEW`` until vidwatch got any
        answer about the task, then the canonical state of the server's status."""
        return State.NEW if self.checked_at is None else self.state

    @property
    def final(self) -> bool:
        """Finished for good: failed, or succeeded with the video URL in hand."""
        return self.state is State.FAILED or (
            self.state is State.SUCCEEDED and self.video_url is not None
        )

    def followed_by(self, new: TaskResult) -> TaskResult:
        """``new`` (a fresh answer) merged into this result: the answer's state, status and
        URL, with this result's history (plus a step when the status moved or the server's
        id changed), the first server id seen, and what an answer may leave out kept from
        earlier ones: the last non-empty prompts, the thumbnail and the other fields."""
        kept_id = self.server_id or new.server_id or ""
        history = self.history
        last = history[-1] if history else None
        before = (last.server_id if last is not None else "") or kept_id
        answered = new.server_id or before  # an answer without an id says nothing new
        if (
            last is None
            or last.status != new.status
            or last.state != new.state
            or (answered != before)
        ):
            at = new.status_update_time or new.checked_at or utcnow()
            step = Transition(new.state, new.status, at, "" if answered == kept_id else answered)
            history = (*history, step)
            if len(history) > HISTORY_LIMIT:
                history = (history[0], *history[-(HISTORY_LIMIT - 1) :])
        return replace(
            new,
            history=history,
            server_id=kept_id or None,
            enhanced_prompt=new.enhanced_prompt or self.enhanced_prompt,
            sent_prompt=new.sent_prompt or self.sent_prompt,
            thumbnail_url=new.thumbnail_url or self.thumbnail_url,
            extras=new.extras or self.extras,
        )

    def ran_for(self) -> float | None:
        """Seconds from entering the running state to finishing, when the history shows both."""
        started = next((t.at for t in self.history if t.state is State.RUNNING), None)
        ended = None
        for step in reversed(self.history):  # the step that finished it, not a later note
            if ended is not None and not ended.repeats(step):
                break
            ended = step
        if started is None or ended is None or not ended.state.finished:
            return None
        return (ended.at - started).total_seconds()

    def same_job_state(self, other: TaskResult | None) -> bool:
        """True when ``other`` reports the same observable job state.

        Check times and transient errors are ignored: this is what the poller
        uses to decide whether a task "changed".
        """
        if other is None:
            return False
        return (
            self.state == other.state
            and self.status == other.status
            and self.video_url == other.video_url
            and self.status_update_time == other.status_update_time
            and self.progress == other.progress
        )


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A task together with its last known result (if any)."""

    task: Task
    result: TaskResult = field(default_factory=TaskResult)

    @property
    def id(self) -> str:
        return self.task.id

    @property
    def state(self) -> State:
        return self.result.state

    @property
    def model(self) -> str:
        """The model the job was created with, else the ID's model part (``grok``); ""
        when neither says (what exports and the ``model:`` filter go by)."""
        request = self.task.request
        return request.model if request is not None else model_key(self.id)

    @property
    def prompt(self) -> str:
        """The prompt as it was asked for: as written when vidwatch created the job, else
        as the server echoed it (``sent_prompt``); "" when neither is known."""
        request = self.task.request
        return request.prompt if request is not None else self.result.sent_prompt or ""

    def with_result(self, result: TaskResult) -> TaskRecord:
        return TaskRecord(self.task, result)  # dataclasses.replace costs 4x more, per poll

    @property
    def charged(self) -> bool:
        """The request log shows a charge for it that was not refunded."""
        cost = self.task.cost
        return cost is not None and cost.net > 0

    @property
    def charged_failed(self) -> bool:
        """Failed, and still charged: the case for asking the gateway for a refund."""
        return self.result.state is State.FAILED and self.charged


def model_key(task_id: str) -> str:
    """``grok`` for ``grok:eee6…``; ``""`` for IDs without a model prefix."""
    prefix, sep, _ = task_id.partition(":")
    return prefix.lower() if sep and len(prefix) <= 40 else ""


_ID_SPLIT = re.compile(r"[\s,]+")


def split_ids(text: str) -> list[str]:
    """Split user input into candidate IDs on whitespace, commas and newlines."""
    return [part for part in _ID_SPLIT.split(text) if part]


def validate_task_id(task_id: str, limit: int = MAX_ID_LENGTH) -> str | None:
    """Return ``None`` when ``task_id`` is acceptable, else the reason it is not.

    The one ID rule: what ``vidwatch add`` takes, what a create's answer must be, what
    the task file holds (read back with a longer ``limit``: older versions kept longer
    IDs). No control, invisible, bidi, format or filler character (the whole class
    :mod:`~vidwatch.core.text.sanitize` removes from text: U+3164, U+115F, U+FFA0, U+034F,
    the Braille blank U+2800, variation selectors…), no whitespace, no unassigned or
    private-use code point (it draws as nothing, or as anything), not ending in ``:``.
    Letters of any script are fine (a Cyrillic ``а`` is a letter), and so is markup-like
    text (``[bold]``): IDs are opaque, and every screen draws them as plain text.
    """
    if not task_id:
        return "empty ID"
    if len(task_id) > limit:
        return f"longer than {limit} characters ({len(task_id)})"
    # Printable ASCII without a space holds none of what is looked for below: most IDs,
    # and a list of thousands is checked again at every load.
    if not (task_id.isascii() and task_id.isprintable() and " " not in task_id):
        for ch in task_id:
            code = ord(ch)
            if code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0:
                return f"contains a control character (U+{code:04X})"
            if 0xD800 <= code <= 0xDFFF:
                return "contains an unpaired surrogate"
            if has_hidden_characters(ch):  # the whole class sanitize removes from text
                return f"contains an invisible, bidi or format character (U+{code:04X})"
            if ch.isspace():
                return "contains whitespace"
            if not ch.isprintable():  # unassigned (Cn) or private use (Co): draws nothing sure
                kind = "a private-use" if unicodedata.category(ch) == "Co" else "an unassigned"
                return f"contains {kind} character (U+{code:04X})"
    if task_id.endswith(":"):
        return "ends with ':' (nothing after the model name); paste the whole ID"
    return None
