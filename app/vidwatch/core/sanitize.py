"""Make hostile server text safe to store, log and draw.

Server strings may carry terminal escape sequences (``ESC]52;`` writes the
clipboard, ``ESC]2;`` retitles the window), C0/C1 control characters, bidi
overrides that reorder what the user sees, or simply be huge. Everything that
comes from the network passes through :func:`clean_text` before it is kept.

Markup is a separate concern: the UI never parses server text as Textual
markup; it builds ``rich.text.Text`` objects from these cleaned strings.
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_SHORT",
    "MAX_TEXT",
    "MAX_URL",
    "clean_line",
    "clean_text",
    "first_line",
    "has_hidden_characters",
    "shorten_id",
    "strip_fence",
]

MAX_TEXT = 32_768  # long fields: enhanced prompt, error bodies
MAX_SHORT = 256  # short fields: status words, ids
MAX_URL = 4_096

# Escape sequences, 7-bit and 8-bit forms:
#   CSI  ESC [ ... final         / 0x9B ... final
#   OSC  ESC ] ... (BEL | ST)    / 0x9D ...
#   DCS, SOS, PM, APC  ESC P/X/^/_ ... ST   / 0x90, 0x98, 0x9E, 0x9F
#   two-character escapes  ESC <char>
_ESCAPES = re.compile(
    r"""
    (?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?     # CSI
  | (?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])                # OSC, DCS, SOS, PM, APC
        [^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?              #   ... up to BEL or ST
  | \x1b[\x20-\x2f]*[\x30-\x7e]?                           # other ESC sequences
    """,
    re.VERBOSE,
)

# Remaining control characters: C0 except tab and newline, DEL, C1, plus
# bidi embedding/override/isolate controls and a few invisible characters.
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)
_SURROGATES = re.compile("[\ud800-\udfff]")
# Anything clean_text would change: ESC and every control above, CR, surrogates.
_DIRTY = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069"
    "\ufeff\ufff9-\ufffb\ud800-\udfff]"
)


def clean_text(value: str, limit: int = MAX_TEXT) -> str:
    """Remove escape sequences and control characters; cap the length.

    Newlines and tabs survive (``\\r\\n`` and lone ``\\r`` become ``\\n``).
    Text over ``limit`` characters is cut and ends with an ellipsis.
    """
    if len(value) <= limit and not _DIRTY.search(value):
        return value  # the common case, one scan: nothing to remove
    if len(value) > limit * 4:
        # Never run the regexes over megabytes; anything past this cannot be shown.
        value = value[: limit * 4]
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = _ESCAPES.sub("", text)
    text = _CONTROLS.sub("", text)
    text = _SURROGATES.sub("\ufffd", text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def has_hidden_characters(value: str) -> bool:
    """Control, bidi, invisible or surrogate characters: what must never sit in a URL."""
    return bool(_CONTROLS.search(value) or _SURROGATES.search(value))


def clean_line(value: str, limit: int = MAX_SHORT) -> str:
    """Like :func:`clean_text`, but the result is one line (no newline, no tab)."""
    text = clean_text(value, limit=limit)
    return " ".join(text.split()) if ("\n" in text or "\t" in text) else text.strip()


def strip_fence(text: str) -> str:
    """Remove one surrounding Markdown code fence (```` ``` ```` or ``~~~``).

    Linear in the length of ``text`` (a regular expression here once took seconds on a
    hostile prompt of a fence and 32,000 spaces).
    """
    body = text.strip()
    if not body.startswith(("```", "~~~")):
        return body
    mark = body[0]
    fence = mark * (len(body) - len(body.lstrip(mark)))
    newline = body.find("\n")
    if newline == -1:
        return body
    rest = body[newline + 1 :]
    if not rest.endswith(fence) or rest[: -len(fence)].endswith(mark):
        return body
    return rest[: -len(fence)].rstrip().strip("\n")


def first_line(text: str) -> str:
    """The first non-blank line of ``text`` (fence removed), stripped."""
    for line in strip_fence(text).splitlines():
        if line.strip():
            return line.strip()
    return ""


def shorten_id(task_id: str, width: int = 24) -> str:
    """Shorten an ID for a narrow column, keeping the distinguishing part.

    IDs look like ``model:uuid``. The model prefix and the *end* of the UUID
    are what tell jobs apart at a glance; the middle is dropped.
    """
    if len(task_id) <= width:
        return task_id
    if width < 5:
        return task_id[:width]
    prefix, sep, rest = task_id.partition(":")
    if sep and len(prefix) <= width // 3:
        head = prefix + sep
        tail_len = width - len(head) - 1
        if tail_len >= 6:
            return f"{head}…{rest[-tail_len:]}"
    head_len = (width - 1) // 3
    tail_len = width - 1 - head_len
    return f"{task_id[:head_len]}…{task_id[-tail_len:]}"
