"""Make hostile server text safe to store, log and draw.

Server strings may carry terminal escape sequences (``ESC]52;`` writes the
clipboard, ``ESC]2;`` retitles the window), C0/C1 control characters, bidi
overrides that reorder what the user sees, or simply be huge. Everything that
comes from the network passes through :func:`clean_text` before it is kept.

Markup is a separate concern: the UI never parses server text as Textual
markup; it builds ``rich.text.Text`` objects from these cleaned strings.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from urllib.parse import urlsplit

__all__ = [
    "MAX_SHORT",
    "MAX_TEXT",
    "MAX_URL",
    "clean_line",
    "clean_text",
    "escape_hidden",
    "first_hidden",
    "first_line",
    "has_hidden_characters",
    "shorten_id",
    "strip_fence",
    "url_problem",
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

# The invisible class: characters that draw nothing (or a blank that is not a space) and
# can reorder, hide or disguise what the user reads. Every one is treated the same way
# everywhere: removed from text, refused in URLs and IDs.
#   Cf  (format): soft hyphen, Arabic letter mark, Mongolian vowel separator, zero-width
#       space/joiners, LRM/RLM, bidi embeddings/overrides/isolates, word joiner and the
#       invisible operators, BOM, interlinear annotation, tag characters, and the rest
#       of the category (tests check this list against ``unicodedata``)
#   Zl, Zp  line and paragraph separators (text: they become a newline)
#   combining grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian free
#   variation selectors, variation selectors (kept in text only after an emoji), the
#   whole tag block E0000–E007F
#   blanks that are letters or symbols, not spaces: the Braille blank (U+2800), the
#   Khitan filler (U+16FE4), the musical null notehead (U+1D159)
_INVISIBLE_BMP = (
    "\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160"
    "\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u2800\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
)
_INVISIBLE = _INVISIBLE_BMP + (
    "\U000110bd\U000110cd\U00013430-\U0001343f\U00016fe4\U0001bca0-\U0001bca3"
    "\U0001d159\U0001d173-\U0001d17a\U000e0000-\U000e007f\U000e0100-\U000e01ef"
)
# C0 except tab and newline, DEL, C1.
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f"
_SURROGATE = "\ud800-\udfff"
# Emoji that a variation selector (text or emoji style) or a zero-width joiner may
# follow: a close superset of Extended_Pictographic in the BMP, and the emoji planes.
_EMOJI = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9\u21aa\u231a\u231b"
    "\u2328\u23cf\u23e9-\u23fa\u24c2\u25aa\u25ab\u25b6\u25c0\u25fb-\u25fe"
    "\u2600-\u27bf\u2934\u2935\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55\u3030\u303d"
    "\u3297\u3299\U0001f000-\U0001faff"
)
# What text keeps of the class: ❤️ (a selector after an emoji), 1️⃣ (a keycap), 👩‍💻
# (a joiner between emoji). Nothing else: a selector after a letter, a joiner after a
# space, is a hiding place.
_KEEP = (
    f"(?<=[{_EMOJI}])[\ufe0e\ufe0f]"
    "|(?<=[#*0-9])\ufe0f(?=\u20e3)"
    f"|(?:(?<=[{_EMOJI}])|(?<=[{_EMOJI}]\ufe0f))\u200d(?=[{_EMOJI}])"
)


def _on_first_use(pattern: str) -> Callable[[], re.Pattern[str]]:
    """The exact classes take milliseconds to compile (the lookbehinds over the emoji
    ranges), and only text the quick look below finds suspect needs them: compiled then,
    once, not by every command at its start."""
    return functools.cache(lambda: re.compile(pattern))


_REMOVE = _on_first_use(f"(?P<keep>{_KEEP})|[{_CONTROL}{_INVISIBLE}]")
_HIDDEN = _on_first_use(f"[{_CONTROL}{_INVISIBLE}{_SURROGATE}]")
_ESCAPE = _on_first_use(f"(?P<keep>{_KEEP})|[{_CONTROL}{_INVISIBLE}{_SURROGATE}]")
_SURROGATES = re.compile(f"[{_SURROGATE}]")
# A quick first look (the exact classes, with their few astral ranges, take ~3x longer
# to scan): anything clean_text might change — ESC and every control, CR, surrogates,
# the invisible class — or any character beyond the BMP, where the exact scan decides.
_ASTRAL = "\U00010000-\U0010ffff"
_MAYBE_HIDDEN = re.compile(f"[{_CONTROL}{_INVISIBLE_BMP}{_SURROGATE}{_ASTRAL}]")
_DIRTY = re.compile(f"[\r{_CONTROL}{_INVISIBLE_BMP}{_SURROGATE}{_ASTRAL}]")
_SPACE = re.compile(r"\s")
# An http(s) URL that every check below would pass: an ASCII host of letters, digits,
# dots and dashes, a port of at most four digits, then printable ASCII.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.\-]+(?::[0-9]{1,4})?(?:[/?#][\x21-\x7e]*)?")
_LINE_BREAKS = str.maketrans({"\r": "\n", "\u2028": "\n", "\u2029": "\n"})


def _kept(match: re.Match[str]) -> str:
    return match.group("keep") or ""


def clean_text(value: str, limit: int = MAX_TEXT) -> str:
    """Remove escape sequences, control and invisible characters; cap the length.

    Newlines and tabs survive (``\\r\\n``, a lone ``\\r`` and the Unicode line and
    paragraph separators become ``\\n``). A variation selector or joiner survives only
    inside an emoji. Text over ``limit`` characters is cut and ends with an ellipsis.
    """
    if len(value) <= limit and not _DIRTY.search(value):
        return value  # the common case, one scan: nothing to remove
    if len(value) > limit * 4:
        # Never run the regexes over megabytes; anything past this cannot be shown.
        value = value[: limit * 4]
    text = value.replace("\r\n", "\n").translate(_LINE_BREAKS)
    text = _ESCAPES.sub("", text)
    text = _REMOVE().sub(_kept, text)
    text = _SURROGATES.sub("\ufffd", text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def first_hidden(value: str) -> str | None:
    """The first control, invisible, bidi or surrogate character in ``value``, if any
    (no exception for emoji: what an ID or a URL must never hold)."""
    if _MAYBE_HIDDEN.search(value) is None:
        return None
    match = _HIDDEN().search(value)
    return match.group() if match else None


def escape_hidden(text: str, escape: Callable[[str], str]) -> str:
    """``text`` with every control, invisible or surrogate character replaced by
    ``escape(ch)`` (a variation selector or joiner inside an emoji stays): for formats
    that must keep the data but never print it raw (JSON's ``\\u200e``)."""
    if _MAYBE_HIDDEN.search(text) is None:
        return text
    return _ESCAPE().sub(lambda m: m.group("keep") or escape(m.group()), text)


def has_hidden_characters(value: str) -> bool:
    """Control, bidi, invisible or surrogate characters: what must never sit in a URL."""
    return first_hidden(value) is not None


def url_problem(url: str) -> str | None:
    """``None`` when ``url`` is a plain http(s) link that leads where it reads; else why
    not, in a few words. The one URL rule: applied where a URL arrives (a server answer),
    where it is read back (the task file) and where it is used (open, copy, download).

    A URL with user information (``https://trusted.example@evil.example/x``) is refused:
    it reads as one host and leads to another.
    """
    if _PLAIN_URL.fullmatch(url) and len(url) <= MAX_URL:
        return None  # the common shape, decided in one scan (10,000 URLs per load)
    return _url_problem(url)


def _url_problem(url: str) -> str | None:
    if not url:
        return "empty URL"
    if len(url) > MAX_URL:
        return f"it is longer than {MAX_URL} characters"
    if url.startswith("-"):
        return "it starts with '-'"
    hidden = first_hidden(url)
    if hidden is not None:
        return f"it contains a control or invisible character (U+{ord(hidden):04X})"
    if _SPACE.search(url):
        return "it contains spaces or line breaks"
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number from 0 to 65535 raises
    except ValueError:
        return "it is not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return f"only http(s) URLs are used, not {parts.scheme or 'this'!r}"
    if "@" in parts.netloc:
        host = clean_line(parts.netloc.rpartition("@")[2], 80) or "another host"
        return f"it names a user before '@' and really leads to {host}"
    if "\\" in parts.netloc:
        return "its host part holds a backslash"
    if not parts.hostname:
        return "it has no host"
    return None


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
