"""The task file's text: records to TOML and back.

Format (``schema = 1``)::

    schema = 1

    [[tasks]]
    id = "grok:eee6faa8-…"
    label = "cow, take 2"
    added_at = 2026-11-24T10:00:00Z

    [tasks.result]
    state = "succeeded"
    status = "completed"
    video_url = "https://…"
    checked_at = 2026-11-24T10:03:00Z
    …

What is written and read back, field by field, comes from the records' one field list
(:mod:`vidwatch.core.model.fields`); only the shape of an entry is decided here. Files are read
and written by :class:`vidwatch.core.store.task_file.TaskStore`, which also decides what a file
that does not parse means.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import rtoml

from vidwatch.core.model.fields import from_file, to_file
from vidwatch.core.model.records import (
    State,
    Task,
    TaskRecord,
    TaskResult,
    Transition,
    canonical_state,
)

__all__ = [
    "DUMP_CHUNK",
    "LOAD_CHUNK",
    "SCHEMA",
    "NotToml",
    "decode_record",
    "dumps",
    "encode_record",
    "loads",
]

SCHEMA = 1


def _has_news(result: TaskResult) -> bool:
    """Whether a result is worth a ``[tasks.result]`` table: it holds an answer or an error."""
    return result.checked_at is not None or bool(result.status) or bool(result.error)


def encode_record(record: TaskRecord) -> dict[str, Any]:
    entry = to_file(record.task)
    if _has_news(record.result):
        entry["result"] = to_file(record.result)
    return entry


def _derive_state(values: dict[str, Any]) -> None:
    """A result whose state is missing or unreadable: the state its status word means."""
    if "state" not in values:
        values["state"] = canonical_state(values.get("status"))


_AT_WORK = frozenset({State.QUEUED, State.RUNNING})


def _at_work(step: Transition | TaskResult) -> bool:
    """Stored as succeeded on a word that means the job is still at work."""
    return step.state is State.SUCCEEDED and canonical_state(step.status) in _AT_WORK


def _reopened(record: TaskRecord) -> TaskRecord:
    """A task an earlier vidwatch took for done on a step before the end (veo's
    ``video_generation_completed`` with ``detail.video_url``, the video before
    upscaling), running again as its word says, so that it is polled to the real end:
    without that URL, its timeline's steps on such words running too, and without the
    note of a download (that file is the video before upscaling; it stays on disk, and
    the final video is downloaded beside it)."""
    r = record.result
    word = canonical_state(r.status)
    history = tuple(
        replace(step, state=canonical_state(step.status)) if _at_work(step) else step
        for step in r.history
    )
    result = replace(r, state=word, video_url=None, history=history)
    return TaskRecord(record.task.with_saved_to(None), result)


def decode_record(entry: Any) -> TaskRecord | None:
    """One ``[[tasks]]`` entry, or ``None`` when it is not usable."""
    task = from_file(entry, Task)
    if task is None:
        return None
    result = from_file(entry.get("result"), TaskResult, _derive_state)
    if result is None:
        return TaskRecord(task)
    record = TaskRecord(task, result)
    return _reopened(record) if _at_work(result) else record


DUMP_CHUNK = 500  # records per serialiser call: a call holds the GIL, the UI waits for it


def dumps(records: Iterable[TaskRecord]) -> bytes:
    """The task file's text. Written in chunks of ``[[tasks]]`` tables, which TOML joins
    into one array, so the native serialiser never holds the interpreter for long."""
    parts = [rtoml.dumps({"schema": SCHEMA}), "\n"]
    chunk: list[dict[str, Any]] = []
    for record in records:
        chunk.append(encode_record(record))
        if len(chunk) >= DUMP_CHUNK:
            parts.append(rtoml.dumps({"tasks": chunk}))
            chunk = []
    if chunk:
        parts.append(rtoml.dumps({"tasks": chunk}))
    return "".join(parts).encode("utf-8")


LOAD_CHUNK = 400  # ``[[tasks]]`` tables per parser call, for the same reason
_TABLE = "\n[[tasks]]\n"


class NotToml(ValueError):
    """Text that no parser reads as TOML: tomllib's word on it."""


def loads(text: str) -> dict[str, Any]:
    """Parse TOML: rtoml (about eight times faster than tomllib on a large list); tomllib
    decides when rtoml refuses, so only a file that no parser reads counts as damaged.

    A long list is parsed a few hundred tables at a time, so that a load in a worker
    thread never holds the interpreter (and the dashboard) for more than a few ms. A
    split inside a multi-line string leaves a piece that does not parse; then the
    whole text is parsed in one go, which is always correct.
    """
    pieces = ("\n" + text if text.startswith("[[tasks]]\n") else text).split(_TABLE)
    if len(pieces) > LOAD_CHUNK:
        try:
            document = rtoml.loads(pieces[0])
            tasks: list[Any] = []
            for start in range(1, len(pieces), LOAD_CHUNK):
                chunk = "[[tasks]]\n" + _TABLE.join(pieces[start : start + LOAD_CHUNK])
                tasks.extend(rtoml.loads(chunk).get("tasks", []))
        except ValueError:
            pass
        else:
            if "tasks" not in document:
                document["tasks"] = tasks
                return document
    try:
        return rtoml.loads(text)
    except ValueError:
        pass
    import tomllib  # only when rtoml refuses the text: loading it costs more than a list

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NotToml(str(exc)) from None
