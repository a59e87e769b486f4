"""What a record field holds (:class:`Kind`), declared with :func:`stored` in each
field's metadata: the one field list that the store, the export and the redaction
derive from (:mod:`vidwatch.core.model.fields`).

Kept apart from :mod:`vidwatch.core.model.records` so that records in other modules
(:class:`~vidwatch.core.model.money.Cost`) declare their fields the same way without an
import circle.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["Kind", "stored"]


class Kind(enum.Enum):
    """What a record field holds, which decides how it is stored, read back (and
    checked: file contents are hostile), exported and redacted."""

    ID = "id"  # the task ID: required, no control or invisible characters
    TIME = "time"  # a datetime, UTC, plausible (2000–2199)
    LINE = "line"  # one line of text (label, status word, a path), cleaned on read
    TEXT = "text"  # server text, may span lines (prompt, errors), cleaned on read
    URL = "url"  # an http(s) URL that passes the URL rule, re-checked on read
    STATE = "state"  # a State
    PROBLEM = "problem"  # a Problem
    NUMBER = "number"  # a finite float
    HISTORY = "history"  # a tuple of Transition records
    REQUEST = "request"  # a TaskRequest record (or None)
    URLS = "urls"  # a tuple of http(s) URLs, each re-checked on read
    JSON = "json"  # a JSON object (body fields); JSON text in the file, cleaned on read
    EXTRAS = "extras"  # a few (name, scalar) pairs from an answer; a table in the file, capped
    QUOTA = "quota"  # a whole number of quota units, 0 or more (the gateway's money)
    DECIMAL = "decimal"  # an exact amount: decimal text in the file and in JSON ("0.24")
    COST = "cost"  # a Cost record (what a task cost, from the request log), or None
    COUNT = "count"  # a whole number, 0 or more (pixels, bytes)
    VIDEO = "video"  # a VideoFacts record (what a task's video is), or None


def stored(kind: Kind, limit: int = 0, *, if_missing: Any = None) -> dict[str, Any]:
    """A field's metadata: its kind, the length text is cut to when read back, and the
    value a file that lacks it (or holds garbage) gives a required field."""
    return {"kind": kind, "limit": limit, "if_missing": if_missing}
