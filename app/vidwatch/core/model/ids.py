"""Task IDs: what one looks like, and how to find them in pasted text.

A task ID is ``model:rest`` (``grok:eee6…``, ``sora-2:task_01k…``,
``veo3.1-fast:1770350082-trii1OXZc3``) or a bare UUID (the server's own ``id``, without
the model prefix). The ID stays opaque text everywhere else; this shape only decides
what to pick out of a paste, and when to warn.

:func:`extract_ids` reads what people paste or pipe in (``vidwatch add -``, the
dashboard's add dialog): plain IDs separated by spaces, commas or new lines, the JSON a
create call answers (``{"id": "grok:…", "status": "pending"}``, one object, a list, or one
per line), and links that carry ``?id=``. Everything else is listed with the reason it
was left out. Arguments given to ``vidwatch add`` are not extracted: a script knows what
it passes (:func:`id_warning` only says when one does not look like an ID).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from vidwatch.core.model.records import split_ids, validate_task_id
from vidwatch.core.text.sanitize import first_hidden

__all__ = [
    "NOT_AN_ID",
    "Found",
    "Ignored",
    "escaped",
    "extract_ids",
    "id_warning",
    "looks_like_id",
    "shown",
]

NOT_AN_ID: Final = "does not look like a task ID (model:… or a UUID)"

_PREFIXED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}:[A-Za-z0-9][A-Za-z0-9._:~+=-]*")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_WRAPPERS: Final = "\"'`()[]{}<>;"  # stripped from both ends of a pasted token
_TRAILING: Final = ".!?"  # and these from its end: "see grok:1." is grok:1
_ID_KEYS: Final = ("id", "task_id")
_JSON = json.JSONDecoder()
_MAX_DEPTH: Final = 4


def looks_like_id(token: str) -> bool:
    """``model:rest`` or a bare UUID (ASCII letters, digits and ``._:~+=-``)."""
    return bool(_PREFIXED.fullmatch(token) or _UUID.fullmatch(token))


def id_warning(token: str) -> str | None:
    """``None`` when ``token`` looks like a task ID, else why it does not (the first
    reason :func:`~vidwatch.core.model.records.validate_task_id` gives, or :data:`NOT_AN_ID`)."""
    reason = validate_task_id(token)
    if reason is not None:
        return reason
    return None if looks_like_id(token) else NOT_AN_ID


def escaped(token: str, limit: int = 120) -> str:
    """An ID as it really is, safe to print: every hidden character (control, invisible,
    bidi, filler, variation selector, any whitespace but a plain space) as ``\\uXXXX``,
    so ``grok:abc\\u3164def`` never reads as ``grok:abcdef``."""
    text = token if len(token) <= limit else token[: limit - 1] + "…"
    if text.isascii() and text.isprintable():
        return text
    out = []
    for ch in text:
        if (ch != " " and ch.isspace()) or not ch.isprintable() or first_hidden(ch):
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


def shown(token: str, limit: int = 60) -> str:
    """A token in a message: quoted, cut, every hidden character escaped (``'\\x1b'``)."""
    return repr(token if len(token) <= limit else token[: limit - 1] + "…")


@dataclass(frozen=True, slots=True)
class Ignored:
    """A piece of the input that was not taken as an ID."""

    text: str  # as it appeared (for the message)
    reason: str
    candidate: str = ""  # what would be added if the user insists ("" = never an ID)

    @property
    def addable(self) -> bool:
        return bool(self.candidate)


@dataclass(frozen=True, slots=True)
class Found:
    ids: tuple[str, ...]  # unique, in the order they appeared
    ignored: tuple[Ignored, ...]

    @property
    def empty(self) -> bool:
        return not self.ids and not self.ignored


def extract_ids(text: str) -> Found:
    """The task IDs in ``text`` (see the module's docstring), and what was left out."""
    collector = _Collector()
    whole = _decode(text.strip()) if text.lstrip()[:1] in ("{", "[", '"') else _NOTHING
    if whole is not _NOTHING:
        collector.from_json(whole, text.strip())
    else:
        for line in text.splitlines():
            collector.line(line)
    return Found(tuple(collector.ids), tuple(collector.ignored))


_NOTHING: Final[Any] = object()


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOTHING


def _brief(value: object) -> str:
    """A JSON value for a message (the start of it is enough)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)[:80]
    except (ValueError, RecursionError):
        return type(value).__name__


class _Collector:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.ignored: list[Ignored] = []
        self._seen: set[str] = set()

    def line(self, line: str) -> None:
        """Plain tokens, with any JSON objects in the line read as JSON."""
        rest = line
        while (start := rest.find("{")) != -1:
            try:
                value, end = _JSON.raw_decode(rest, start)
            except (ValueError, RecursionError):
                break  # not JSON after all: the rest is plain tokens
            self.tokens(rest[:start])
            self.from_json(value, rest[start:end])
            rest = rest[end:]
        self.tokens(rest)

    def tokens(self, text: str) -> None:
        for raw in split_ids(text):
            self.token(raw)

    def token(self, raw: str) -> None:
        token = raw.strip(_WRAPPERS).rstrip(_TRAILING).strip(_WRAPPERS)
        if not token:
            self.ignored.append(Ignored(raw, "not a task ID"))
            return
        if "://" in token:
            self.link(raw, token)
            return
        reason = validate_task_id(token)
        if reason is not None:
            self.ignored.append(Ignored(raw, reason))
        elif looks_like_id(token):
            self.add(token)
        else:
            self.ignored.append(Ignored(raw, NOT_AN_ID, token))

    def link(self, raw: str, url: str) -> None:
        try:
            query = parse_qs(urlsplit(url).query)
        except ValueError:
            query = {}
        values = [v for key in _ID_KEYS for v in query.get(key, [])]
        if not values:
            self.ignored.append(Ignored(raw, "a link without an id= parameter"))
        for value in values:
            self.candidate(raw, value, "the link's id= is not a task ID")

    def from_json(self, value: object, source: str, depth: int = 0) -> None:
        """A create call's answer, a list of them (or of IDs), or a ``data`` wrapper."""
        if depth > _MAX_DEPTH:
            self.ignored.append(Ignored(source, "JSON nested too deep"))
        elif isinstance(value, str):
            self.candidate(value, value, NOT_AN_ID)
        elif isinstance(value, list):
            for item in value:
                self.from_json(item, _brief(item), depth + 1)
        elif isinstance(value, dict):
            found = [value[k] for k in _ID_KEYS if isinstance(value.get(k), str)]
            if found:
                self.candidate(source, found[0], 'its "id" is not a task ID')
            elif isinstance(value.get("data"), dict | list):
                self.from_json(value["data"], source, depth + 1)
            else:
                self.ignored.append(Ignored(source, 'JSON without an "id"'))
        else:
            self.ignored.append(Ignored(source, "not a task ID"))

    def candidate(self, source: str, token: str, not_id: str) -> None:
        reason = validate_task_id(token)
        if reason is not None:
            self.ignored.append(Ignored(source, reason))
        elif looks_like_id(token):
            self.add(token)
        else:
            self.ignored.append(Ignored(source, not_id, token))

    def add(self, task_id: str) -> None:
        if task_id not in self._seen:
            self._seen.add(task_id)
            self.ids.append(task_id)
