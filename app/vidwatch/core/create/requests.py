"""Create requests: what one ``POST /v1/video/create`` sends, checked before it costs money.

:func:`prepare` turns what the user gave (model, prompt, image URLs, ``--param`` fields)
into a frozen :class:`CreateRequest` whose :meth:`~CreateRequest.body` is the exact JSON
body, or raises :class:`CreateError` with one clear sentence. Known models' fields are
checked against :mod:`vidwatch.core.create.catalogue` (a bad ``aspect_ratio`` names the allowed
values); unknown models and fields pass through as given. A model with a duration always
sends one: when none is given, its default is filled in and a note says so.

:func:`parse_param` reads ``--param key=value``: ``true``/``false`` become booleans,
JSON numbers numbers, ``[…]`` and ``{…}`` JSON when they parse, anything else (``16:9``,
``720P``) stays text; a value in double quotes (``"15"``) is always text. Batch files use
the same typing for their extra CSV columns (:func:`parse_value`).

The body never holds the API key: only the HTTP client adds the Authorization header.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from vidwatch.core.create.catalogue import (
    FieldError,
    JsonValue,
    check_field,
    check_images,
    lookup,
)
from vidwatch.core.model.records import TaskRequest
from vidwatch.core.text.sanitize import clean_text

__all__ = [
    "DEFAULT_MODEL",
    "MAX_PROMPT",
    "RESERVED",
    "CreateError",
    "CreateRequest",
    "JsonValue",
    "Prepared",
    "body_of",
    "control_problem",
    "normalise_prompt",
    "normalised_body",
    "parse_param",
    "parse_value",
    "prepare",
    "request_key",
    "request_of",
    "spend_summary",
]

DEFAULT_MODEL = "grok-video-3"
MAX_PROMPT = 20_000  # characters; video prompts are a few hundred, Sora's limit is lower
MAX_FIELDS = 64
MAX_KEY = 64
MAX_VALUE = 8_192  # characters of one field's JSON
RESERVED = frozenset({"model", "prompt", "images"})  # set by their own options, never --param

_OWN_OPTION = {
    "model": "use --model",
    "prompt": "the prompt is the command's argument",
    "images": "use --image URL (once per image)",
}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_NUMBER = re.compile(r"^-?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,17})?(?:[eE][+-]?[0-9]{1,3})?$")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# What is left of an escape sequence when a terminal paste reached the dashboard: Textual
# re-issues an escape sequence it cannot read inside a bracketed paste as keys, and the
# ESC key as "^" (so ESC [ 3 1 m arrives as the text "^[31m"). The same caret notation
# (^[) is how terminals and `cat -v` show ESC, so a copy of such output has it too
# (``^[[31m``). Not ``y^[n]`` (a formula): a final letter followed by "]" is not one.
_CARET_ESCAPE = re.compile(r"\^\[\[?[0-9;?]*[ -/]*[A-Za-z@~](?!\])|\^\][0-9]+;")


class CreateError(ValueError):
    """The request cannot be sent as given; ``str()`` is one sentence saying why.
    ``field``: what is wrong (``"prompt"``, ``"model"``, ``"images"``, a field's name),
    so a form can take the user there; None when it is no one thing."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _freeze(value: JsonValue) -> JsonValue:
    """A private deep copy (lists and objects copied), so a request cannot change later."""
    if isinstance(value, list):
        return [_freeze(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _freeze(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """One job to create. ``fields`` are the extra body fields, in the order given."""

    model: str
    prompt: str
    images: tuple[str, ...] = ()
    fields: Mapping[str, JsonValue] = field(default_factory=lambda: MappingProxyType({}))
    send_images: bool = True  # known models always get "images" (Sora requires it)

    def __post_init__(self) -> None:
        frozen = {key: _freeze(value) for key, value in self.fields.items()}
        object.__setattr__(self, "fields", MappingProxyType(frozen))

    def body(self) -> dict[str, JsonValue]:
        """The exact JSON body: model, prompt, the fields, images. A fresh copy each call."""
        body: dict[str, JsonValue] = {"model": self.model, "prompt": self.prompt}
        for key, value in self.fields.items():
            body[key] = _freeze(value)
        if self.images or self.send_images:
            body["images"] = list(self.images)
        return body

    def canonical(self) -> str:
        """The body as compact JSON with sorted keys: equal requests, equal text."""
        return json.dumps(self.body(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    def key(self) -> str:
        """The digest of the body as the gateway reads it (:func:`request_key`)."""
        return request_key(self.body())

    def record(self) -> TaskRequest:
        """What the task record keeps of this request (model, prompt, fields, images)."""
        return TaskRequest(self.model, self.prompt, self.fields, self.images)

    @property
    def duration(self) -> int | None:
        value = self.fields.get("duration")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def __hash__(self) -> int:
        return hash(self.canonical())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CreateRequest):
            return NotImplemented
        return self.canonical() == other.canonical()


@dataclass(frozen=True, slots=True)
class Prepared:
    """A checked request and what vidwatch decided for the user (``notes``), to be said."""

    request: CreateRequest
    notes: tuple[str, ...] = ()


def parse_value(text: str) -> JsonValue:
    """A ``--param`` value (or an extra CSV cell) as a typed JSON value.

    ``true``/``false`` (any case) → bool; a JSON number → int or float (``007`` and
    numbers of more than 18 digits stay text); ``[…]``/``{…}`` → the JSON when it parses;
    ``"…"`` → the text inside (a way to force text); else the text, spaces trimmed.
    """
    raw = text.strip()
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if _NUMBER.match(raw):
        number = float(raw)
        if "." not in raw and "e" not in raw.lower():
            return int(raw)
        return number if math.isfinite(number) else raw
    if (raw.startswith("[") and raw.endswith("]")) or (raw.startswith("{") and raw.endswith("}")):
        try:
            parsed: JsonValue = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            return raw
        return parsed
    if len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):
        try:
            quoted = json.loads(raw)
        except ValueError:
            return raw
        if isinstance(quoted, str):
            return quoted
    return raw


def _no_constant(name: str) -> JsonValue:
    raise ValueError(f"{name} is not JSON")


def parse_param(text: str) -> tuple[str, JsonValue]:
    """``key=value`` → (key, typed value); :class:`CreateError` when it is not that shape."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise CreateError(f"--param takes key=value, not {_shown(text)}")
    _check_key(key)
    if key in RESERVED:
        raise CreateError(f"{key} is not a --param: {_OWN_OPTION[key]}")
    return key, parse_value(value)


def _check_key(key: str) -> None:
    if len(key) > MAX_KEY or not _KEY.match(key):
        raise CreateError(
            f"a field name is letters, digits, _ . - (at most {MAX_KEY}), not {_shown(key)}",
            field="fields",
        )


def normalise_prompt(prompt: str) -> str:
    """Line ends as ``\\n``, surrounding blank space removed."""
    return prompt.replace("\r\n", "\n").replace("\r", "\n").strip()


def _check_prompt(prompt: object) -> str:
    if not isinstance(prompt, str):
        raise CreateError(f"the prompt must be text, not {_shown(prompt)}", field="prompt")
    text = normalise_prompt(prompt)
    if not text:
        raise CreateError("the prompt is empty", field="prompt")
    if len(text) > MAX_PROMPT:
        raise CreateError(
            f"the prompt is {len(text):,} characters; the limit is {MAX_PROMPT:,}", field="prompt"
        )
    if (why := control_problem(text)) is not None:
        raise CreateError(f"the prompt {why}", field="prompt")
    if not _utf8(text):
        raise CreateError("the prompt has broken characters (lone surrogates)", field="prompt")
    return text


def control_problem(text: str) -> str | None:
    """Why ``text`` cannot be sent as written: a control character (an ESC, a NUL…) or
    the caret form of an escape sequence (``^[31m``, left by pasting coloured terminal
    text); None when it has neither. Tabs and line ends are fine."""
    found = _CONTROL.search(text)
    if found is not None:
        char = found.group()
        name = {"\x1b": "ESC", "\x00": "NUL", "\x7f": "DEL"}.get(char, "")
        code = f"U+{ord(char):04X}" + (f" {name}" if name else "")
        return (
            f"has a control character ({code}, at character {found.start() + 1}): "
            "escape sequences and other controls are refused; remove it"
        )
    caret = _CARET_ESCAPE.search(text)
    if caret is not None:
        return (
            f"has what is left of a terminal escape sequence ({_shown(caret.group())[1:-1]}, "
            f"at character {caret.start() + 1}; pasted from a terminal's coloured output?): "
            "remove it or paste plain text"
        )
    return None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def prepare(
    model: str,
    prompt: object,
    images: Sequence[object] = (),
    fields: Mapping[str, JsonValue] | Iterable[tuple[str, JsonValue]] = (),
) -> Prepared:
    """Check everything and build the request; :class:`CreateError` says what is wrong."""
    model = model.strip() if isinstance(model, str) else model
    if not isinstance(model, str) or not model:
        raise CreateError("no model given", field="model")
    if len(model) > MAX_KEY * 2 or not all(c.isprintable() and not c.isspace() for c in model):
        raise CreateError(f"{_shown(model)} is not a model name", field="model")
    text = _check_prompt(prompt)
    pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
    if len(pairs) > MAX_FIELDS:
        raise CreateError(f"{len(pairs)} fields; at most {MAX_FIELDS} are sent", field="fields")
    spec = lookup(model)
    given: dict[str, JsonValue] = {}
    notes: list[str] = []
    for key, value in pairs:
        _check_key(key)
        if key in RESERVED:
            raise CreateError(f"{key} cannot be set as a field", field=key)
        _check_json(key, value)
        known = spec.field(key) if spec else None
        if known is not None and value is None:
            continue  # an empty cell or a JSON null: not given
        try:
            given[key] = check_field(model, known, value) if known else value
        except FieldError as exc:
            raise CreateError(str(exc), field=key) from None
        if spec is not None and known is None:
            notes.append(f"{key} is not a known field of {model}: sent as given")
    try:
        urls = check_images(model, spec, images)
    except FieldError as exc:
        raise CreateError(str(exc), field="images") from None
    if spec is not None and spec.default_duration is not None and "duration" not in given:
        given["duration"] = spec.default_duration
        notes.append(f"duration not given: sending {spec.default_duration} s ({model}'s default)")
    request = CreateRequest(model, text, tuple(urls), given, send_images=spec is not None)
    return Prepared(request, tuple(notes))


def _check_json(key: str, value: JsonValue) -> None:
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        raise CreateError(f"{key} is not a JSON value", field=key) from None
    if not _utf8(text):
        raise CreateError(f"{key} has broken characters (lone surrogates)", field=key)
    if len(text) > MAX_VALUE:
        raise CreateError(
            f"{key} is {len(text):,} characters long; the limit is {MAX_VALUE:,}", field=key
        )
    for part in _strings(value):
        if (why := control_problem(part)) is not None:
            raise CreateError(f"{key} {why}", field=key)


def _strings(value: JsonValue) -> Iterable[str]:
    """Every text in a JSON value (keys of objects too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)


def _normal(value: JsonValue) -> JsonValue:
    """One value as the gateway reads it (see :func:`normalised_body`); None: absent."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)  # 15.0 is 15
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        return clean_text(unicodedata.normalize("NFC", value), MAX_VALUE * 4)
    if isinstance(value, list):
        return [_normal(item) for item in value] or None
    normal = {str(k): _normal(v) for k, v in value.items()}
    return {k: v for k, v in normal.items() if v is not None} or None


def normalised_body(body: Mapping[str, JsonValue]) -> str:
    """A body as one canonical text, equal for requests the gateway cannot tell apart:
    keys in any order, ``15`` and ``15.0``, an empty list (``"images": []``), an empty
    object or ``null`` and an absent field, text in any Unicode normal form or with
    invisible characters. The body is taken after defaults (a model's default duration
    written out or not: the same body), so this is what "the same request" means when
    vidwatch asks before paying for it again."""
    normal = _normal(dict(body))
    return json.dumps(normal or {}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def request_key(body: Mapping[str, JsonValue]) -> str:
    """A short digest of :func:`normalised_body` (32 hex digits)."""
    return hashlib.sha256(normalised_body(body).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def body_of(request: TaskRequest) -> dict[str, JsonValue]:
    """The body a task's recorded request was sent as (for :func:`request_key`)."""
    body: dict[str, JsonValue] = {"model": request.model, "prompt": request.prompt}
    body.update(request.fields)
    body["images"] = list(request.images)
    return body


def request_of(body: Mapping[str, Any]) -> TaskRequest | None:
    """The task-list form of a body that was sent (None when it is not one)."""
    model, prompt, images = body.get("model"), body.get("prompt"), body.get("images", [])
    if not isinstance(model, str) or not isinstance(prompt, str) or not isinstance(images, list):
        return None
    fields = {k: v for k, v in body.items() if k not in RESERVED}
    return TaskRequest(model, prompt, fields, tuple(str(url) for url in images))


def spend_summary(requests: Iterable[CreateRequest]) -> list[str]:
    """What a batch will cost, for the confirmation: ``3 × sora-2, 10 s``, one line per
    model and duration, most first."""
    counts = Counter((r.model, r.duration) for r in requests)
    lines = []
    for (model, duration), count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0])):
        lines.append(f"{count} × {model}" + (f", {duration} s" if duration is not None else ""))
    return lines


def _shown(value: object, limit: int = 60) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in repr(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"
