"""The sidecar: ``NAME.json`` beside a downloaded ``NAME.mp4``, so each video keeps what
made it (the ID, the model, the request when the record has one, the enhanced prompt,
the times, the host it came from) wherever the file is copied.

Its keys come from the task record's one field list, through
:func:`vidwatch.core.store.export.record_json`, less the fields in :data:`SIDECAR_EXCLUDED`
(where vidwatch last looked, not what the video is): a field added to the record later
lands in the sidecar with nothing to update here. The signed video URL is never
written, only its host. Every text is redacted of the API key (and anything else
registered with :func:`vidwatch.core.runtime.logs.add_secret`) before it is written, and the
JSON is escaped like an export (no escape or bidi character survives), then written
atomically.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from vidwatch.core.model import fields
from vidwatch.core.model.records import TaskRecord, model_key, utcnow
from vidwatch.core.runtime.logs import redact_secrets
from vidwatch.core.store.atomic import atomic_write
from vidwatch.core.store.export import record_json, to_json

__all__ = [
    "SIDECAR_EXCLUDED",
    "SIDECAR_VERSION",
    "note_cost",
    "sidecar_data",
    "sidecar_note",
    "sidecar_owner",
    "sidecar_path",
    "write_sidecar",
]

SIDECAR_VERSION: Final = 1
# Left out: the signed links (they expire, and may carry a token; the video's host is
# kept), the local path, and the state of vidwatch's last check rather than of the video.
# An extra field of the answer named like a link (``…url``) is left out for the same reason.
SIDECAR_EXCLUDED: Final = (
    "video_url",
    "thumbnail_url",
    "saved_to",
    "checked_at",
    "error",
    "problem",
    "progress",
)
MAX_SIDECAR_READ: Final = 1024 * 1024


def sidecar_path(video: Path) -> Path:
    """``clip [ab12].json`` for ``clip [ab12].mp4``."""
    return video.with_suffix(".json")


def sidecar_data(
    record: TaskRecord, video: Path, size: int, now: datetime | None = None
) -> dict[str, Any]:
    """What the sidecar of ``record``'s video (``size`` bytes at ``video``) holds."""
    record = TaskRecord(
        fields.redact_record(record.task, redact_secrets),
        fields.redact_record(record.result, redact_secrets),
    )
    row = {k: v for k, v in record_json(record).items() if k not in SIDECAR_EXCLUDED}
    if row.get("extras"):
        row["extras"] = {k: v for k, v in row["extras"].items() if not k.lower().endswith("url")}
    url = record.result.video_url
    host = urlsplit(url).hostname if url else None
    data: dict[str, Any] = {
        "vidwatch_sidecar": SIDECAR_VERSION,
        "id": record.id,
        "model": model_key(record.id) or None,
        **row,  # a field of the record named like one above wins
        "source_host": host,
        "file": video.name,
        "size": size,
        "downloaded_at": (now or utcnow()).isoformat(),
    }
    return data


def sidecar_text(data: dict[str, Any]) -> str:
    """The file's text: escaped like an export, redacted once more as a whole."""
    return redact_secrets(to_json(data)) + "\n"


def write_sidecar(record: TaskRecord, video: Path, size: int) -> Path:
    """Write (or rewrite) the sidecar of ``video`` atomically; returns its path.
    Raises OSError."""
    path = sidecar_path(video)
    atomic_write(path, sidecar_text(sidecar_data(record, video, size)).encode("utf-8"))
    return path


def note_cost(record: TaskRecord) -> bool:
    """Put ``record``'s cost into the sidecar beside its saved video: a cost is often
    learned after the download (the request log is read now and then). Only a
    vidwatch sidecar of this very task is rewritten (atomically, the rest as it was);
    returns whether it was. Never raises: a sidecar that cannot be read or written
    keeps what it had."""
    saved = record.task.saved_to
    if not saved or record.task.cost is None:
        return False
    path = sidecar_path(Path(saved))
    data = _read_sidecar(path)
    if not isinstance(data, dict) or data.get("id") != record.id:
        return False
    cost = fields.to_jsonable(record.task)["cost"]
    if data.get("cost") == cost:
        return False
    data["cost"] = cost
    try:
        atomic_write(path, sidecar_text(data).encode("utf-8"))
    except OSError:
        return False
    return True


def sidecar_owner(path: Path) -> str | None:
    """The task ID a sidecar at ``path`` belongs to; ``""`` when there is a file there
    that is not a vidwatch sidecar (the user's own: never replaced); ``None`` when
    there is no file."""
    data = _read_sidecar(path)
    if not isinstance(data, dict):
        return data
    owner = data.get("id")
    return owner if isinstance(owner, str) else ""


def _read_sidecar(path: Path) -> dict[str, Any] | str | None:
    """The vidwatch sidecar at ``path``, read within its size cap; ``None`` when there
    is no file, ``""`` when the file cannot be read or is not a vidwatch sidecar."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SIDECAR_READ + 1)
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    if len(raw) > MAX_SIDECAR_READ:
        return ""
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        return ""
    return data if isinstance(data, dict) and "vidwatch_sidecar" in data else ""


def sidecar_note(record: TaskRecord, video: Path, size: int) -> str:
    """Write ``video``'s sidecar, unless a file of that name is not this task's sidecar
    (the user's own is never replaced). Returns what to add to the download's message:
    ``""`` when the sidecar was written."""
    path = sidecar_path(video)
    if sidecar_owner(path) not in (None, record.id):
        return f"; {path.name} is not vidwatch's, so no sidecar was written"
    try:
        write_sidecar(record, video, size)
    except OSError as exc:
        return f"; the sidecar {path.name} could not be written ({exc.strerror or exc})"
    return ""
