"""What the log says about creates: every send and how it ended, never the key or the prompt.

Creating a job costs money, so the log (``vidwatch paths`` shows where) keeps one line
for each send and one for its outcome, at ``INFO`` (with or without ``--debug``):

- ``create sent``: which row (its number, label and batch file, or "create"), the model,
  a short hash of the exact body, how long the prompt is and which fields went with it;
- ``create outcome``: created (the new ID), refused (status, code, the gateway's
  words), not sent and why (nothing was paid; and the wait before the next attempt),
  uncertain and why (the job may exist);
- ``create not sent``: rows the batch stopped before sending (and why), sends whose
  intent could not be journaled;
- ``create not sent``, too: rows not sent because the same request was sent before;
- ``create resumed``: a row sent again after its wait (the wait is in its outcome);
- ``create resolved``: ``--mark-done`` (the job found, or none, and what it replaces).

The gateway's words are logged without the prompt: wherever they echo it — whole, or
any run of :data:`ECHO` characters of it, JSON-escaped, its lines collapsed, in any
case — it reads ``<the prompt>``.

The body hash is the first 12 hex digits of the SHA-256 of the body as sent (compact
JSON, sorted keys): the same request logs the same hash, so a send can be matched to
a manifest or a dry run without the log holding the prompt. The key never reaches any
of this (it is only ever in a header), and :mod:`vidwatch.core.runtime.logs` redacts it anyway.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any, Final

from vidwatch.core.create.batch import BatchRow
from vidwatch.core.create.verdict import RowState, Verdict
from vidwatch.core.text.sanitize import clean_line

__all__ = [
    "body_hash",
    "log_intent",
    "log_not_journaled",
    "log_outcome",
    "log_resolved",
    "log_resumed",
    "log_skipped",
    "log_stopped",
    "redact_prompt",
]

log = logging.getLogger("vidwatch.create")

MAX_LOGGED: Final = 200  # characters of the gateway's message (it may echo the prompt)
PROMPT_SHOWN: Final = "<the prompt>"
ECHO: Final = 16  # characters of the prompt in a row that count as echoing it


def body_hash(body: Mapping[str, Any]) -> str:
    """12 hex digits that tell bodies apart (not the body)."""
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _which(row: BatchRow, source: str) -> str:
    label = f" {clean_line(row.label, 60)!r}" if row.label else ""
    if row.line == 0:  # a single create (the CLI's or the dashboard's)
        return f"create{label}"
    return f"row {row.number}{label} of {clean_line(source, 200)}"


def _variants(prompt: str) -> set[str]:
    """The forms in which a gateway may echo the prompt: as sent, JSON-escaped, its
    whitespace collapsed (as cleaned text is), in any letter case."""
    escaped = json.dumps(prompt, ensure_ascii=False)[1:-1]
    ascii_escaped = json.dumps(prompt)[1:-1]
    collapsed = " ".join(prompt.split())
    return {v.casefold() for v in (prompt, escaped, ascii_escaped, collapsed) if v}


def redact_prompt(text: str, prompt: str) -> str:
    """``text`` with every echo of ``prompt`` replaced by :data:`PROMPT_SHOWN`: the whole
    prompt, or any run of :data:`ECHO` characters or more of it (a gateway may quote the
    start of a long prompt, or escape it, or collapse its lines), whatever the case. A
    prompt shorter than :data:`ECHO` is redacted where it appears whole (from 4 chars)."""
    if len(prompt.strip()) < 4 or not text:
        return text
    folded = text.casefold()
    if len(folded) != len(text):  # a case fold that changes lengths: compare as is
        folded = text
    hidden = [False] * len(text)
    for variant in _variants(prompt):
        size = min(ECHO, len(variant))
        windows = {variant[i : i + size] for i in range(len(variant) - size + 1)}
        for start in range(len(folded) - size + 1):
            if folded[start : start + size] in windows:
                hidden[start : start + size] = [True] * size
    out: list[str] = []
    for index, ch in enumerate(text):
        if not hidden[index]:
            out.append(ch)
        elif index == 0 or not hidden[index - 1]:
            out.append(PROMPT_SHOWN)
    return "".join(out)


def _words(text: str, row: BatchRow) -> str:
    """The gateway's words, short, without the prompt if it echoes it (in any form)."""
    prompt = row.request.prompt if row.request is not None else ""
    return clean_line(redact_prompt(text, prompt), MAX_LOGGED)


def log_intent(row: BatchRow, body: Mapping[str, Any], source: str, attempt: int) -> None:
    prompt = body.get("prompt")
    size = len(prompt) if isinstance(prompt, str) else 0
    fields = sorted(key for key in body if key not in ("model", "prompt", "images"))
    images = body.get("images")
    extra = f", fields {','.join(fields)}" if fields else ""
    extra += f", {len(images)} image(s)" if isinstance(images, list) and images else ""
    again = f", attempt {attempt}" if attempt > 1 else ""
    log.info(
        "create sent: %s: model %s, body %s (prompt %d chars%s)%s",
        _which(row, source),
        clean_line(str(body.get("model", "")), 100),
        body_hash(body),
        size,
        extra,
        again,
    )


def log_outcome(row: BatchRow, verdict: Verdict, source: str, *, delay: float | None) -> None:
    """``delay``: seconds until this row is sent again (None: it is not, in this run)."""
    head = f"{verdict.status} {verdict.code}".strip() if verdict.status is not None else ""
    head = head or verdict.code
    what = _words(f"{head}: {verdict.message}" if head and verdict.message else head, row)
    what = what or _words(verdict.message, row)
    which = _which(row, source)
    state = verdict.state
    if state is RowState.CREATED:
        log.info("create outcome: %s: created %s", which, clean_line(verdict.task_id or "", 300))
    elif state is RowState.REFUSED:
        log.warning("create outcome: %s: refused: %s", which, what)
    elif state is RowState.UNCERTAIN:
        log.warning(
            "create outcome: %s: uncertain (the job may exist, not sent again by itself): %s",
            which,
            what,
        )
    else:
        later = f"; sending again in {delay:.0f} s" if delay is not None else ""
        log.warning("create outcome: %s: not sent, nothing paid: %s%s", which, what, later)


def log_stopped(row: BatchRow, reason: str, source: str) -> None:
    log.warning("create not sent: %s: %s", _which(row, source), _words(reason, row))


def log_not_journaled(row: BatchRow, error: BaseException, source: str) -> None:
    log.error(
        "create not sent: %s: its intent could not be journaled (%s)",
        _which(row, source),
        clean_line(str(error), MAX_LOGGED),
    )


def log_skipped(row: BatchRow, why: str, source: str) -> None:
    """A decision not to send a row that has a request: it was sent before (``why``:
    ``its request was sent before …``), or its earlier send is uncertain."""
    log.warning("create not sent: %s: %s", _which(row, source), _words(why, row))


def log_resolved(ref: str, job: str | None, replaced: str = "") -> None:
    """``--mark-done``: the user resolved an uncertain create (``replaced``: the earlier
    mark it replaces, in words)."""
    what = f"marked done as {clean_line(job, 300)}" if job else "marked done without a job"
    log.info("create resolved: create %s: %s%s", clean_line(ref, 40), what, replaced)


def log_resumed(row: BatchRow, waited: float, source: str) -> None:
    log.info("create resumed: %s: after waiting %.0f s", _which(row, source), waited)
