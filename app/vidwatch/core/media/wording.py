"""What a video turned out to be, in words, and where it differs from what was asked.

The facts come from the container (:class:`~vidwatch.core.model.records.VideoFacts`); what
was asked, from the request that created the job (``aspect_ratio``, ``orientation``,
``size``, ``duration``/``seconds``); what the server said, from its answer (grok's
``ratio``). A job asked for 16:9 and 10 s that came back 1280×720 and 8 s says
``asked for 10 s, the video is 8.0 s``. Each interface shows these lines its own way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from vidwatch.core.downloads.diskspace import mb_text
from vidwatch.core.model.records import Extras, TaskRecord, VideoFacts

__all__ = ["aspect_name", "differences", "facts_line", "facts_rows"]

_RATIOS: Final = ((16, 9), (9, 16), (1, 1), (4, 3), (3, 4), (3, 2), (2, 3), (21, 9), (9, 21))
_RATIO_TEXT: Final = re.compile(r"^\s*(\d{1,3})\s*[:/x×]\s*(\d{1,3})\s*$")
_DIMENSIONS: Final = re.compile(r"^\s*(\d{2,5})\s*[x×*]\s*(\d{2,5})\s*$")
_LINES: Final = re.compile(r"^\s*(\d{3,4})\s*p\s*$", re.IGNORECASE)
# The sizes that name a picture by its lines (sora's small and large, grok's 720P…).
_NAMED_LINES: Final = {"small": 720, "large": 1080}
ASPECT_SLACK: Final = 0.03  # a ratio within 3 % is the ratio (1280×720 and 1278×720 alike)
LINES_SLACK: Final = 0.05
SECONDS_SLACK: Final = 0.5


def aspect_name(width: int, height: int) -> str | None:
    """``16:9`` for 1280×720: the common ratio within 3 %, else None."""
    if width <= 0 or height <= 0:
        return None
    ratio = width / height
    for w, h in _RATIOS:
        if abs(ratio / (w / h) - 1) <= ASPECT_SLACK:
            return f"{w}:{h}"
    return None


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 60 else f"{int(value // 60)} min {value % 60:.0f} s"


def facts_line(facts: VideoFacts) -> str:
    """``1280×720 (16:9) · 8.0 s · 24 fps · h264 · sound (aac) · 9.8 MB``."""
    shape = f"{facts.width}×{facts.height}"
    named = aspect_name(facts.width, facts.height)
    parts = [f"{shape} ({named})" if named else shape]
    if facts.duration is not None:
        parts.append(_seconds(facts.duration))
    if facts.fps is not None:
        parts.append(f"{facts.fps:.3g} fps")
    if facts.codec:
        parts.append(facts.codec)
    parts.append(f"sound ({facts.audio})" if facts.audio else "no sound")
    if facts.size:
        parts.append(mb_text(facts.size))
    return " · ".join(parts)


def facts_rows(facts: VideoFacts) -> list[tuple[str, str]]:
    """The facts one to a line (a label, a value), for a pane with room."""
    named = aspect_name(facts.width, facts.height)
    rows = [("Picture", f"{facts.width}×{facts.height}" + (f" ({named})" if named else ""))]
    if facts.duration is not None:
        rows.append(("Length", _seconds(facts.duration)))
    if facts.fps is not None:
        rows.append(("Frame rate", f"{facts.fps:.3g} fps"))
    if facts.codec:
        rows.append(("Codec", facts.codec))
    rows.append(("Sound", facts.audio or "none"))
    if facts.size:
        rows.append(("File", mb_text(facts.size)))
    return rows


def _ratio(value: object) -> tuple[int, int] | None:
    if not isinstance(value, str):
        return None
    match = _RATIO_TEXT.match(value)
    if match is None:
        return None
    w, h = int(match.group(1)), int(match.group(2))
    return (w, h) if w and h else None


def _shape(facts: VideoFacts) -> str:
    named = aspect_name(facts.width, facts.height)
    return f"{named} ({facts.width}×{facts.height})" if named else f"{facts.width}×{facts.height}"


def _ratio_differs(facts: VideoFacts, w: int, h: int) -> bool:
    return abs((facts.width / facts.height) / (w / h) - 1) > ASPECT_SLACK


def _asked_seconds(fields: Mapping[str, object]) -> float | None:
    for name in ("duration", "seconds"):
        value = fields.get(name)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float) and value > 0:
            return float(value)
        if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) < 6:
            return float(value.strip())
    return None


def _size_difference(facts: VideoFacts, value: object) -> str | None:
    if not isinstance(value, str):
        return None
    shown = value.strip()
    if (match := _DIMENSIONS.match(shown)) is not None:
        w, h = int(match.group(1)), int(match.group(2))
        if {w, h} != {facts.width, facts.height}:
            return f"asked for {w}×{h}, the video is {facts.width}×{facts.height}"
        return None
    lines = _NAMED_LINES.get(shown.lower())
    if lines is None and (match := _LINES.match(shown)) is not None:
        lines = int(match.group(1))
    if lines is None:
        return None
    short = min(facts.width, facts.height)
    if abs(short / lines - 1) > LINES_SLACK:
        return f"asked for {shown} ({lines} lines), the video is {facts.width}×{facts.height}"
    return None


def differences(facts: VideoFacts, record: TaskRecord) -> list[str]:
    """Where the video differs from what its request asked for, and from what the
    server's answer says it is; ``[]`` when it matches (or nothing was asked)."""
    said: list[str] = []
    request = record.task.request
    asked: Mapping[str, object] = request.fields if request is not None else {}
    ratio = _ratio(asked.get("aspect_ratio"))
    if ratio is not None and _ratio_differs(facts, *ratio):
        said.append(f"asked for {ratio[0]}:{ratio[1]}, the video is {_shape(facts)}")
    orientation = asked.get("orientation")
    if orientation in ("portrait", "landscape") and facts.width != facts.height:
        shown = "portrait" if facts.height > facts.width else "landscape"
        if shown != orientation:
            said.append(f"asked for {orientation}, the video is {shown} ({_shape(facts)})")
    size = _size_difference(facts, asked.get("size"))
    if size is not None:
        said.append(size)
    seconds = _asked_seconds(asked)
    if (
        seconds is not None
        and facts.duration is not None
        and abs(facts.duration - seconds) > SECONDS_SLACK
    ):
        said.append(f"asked for {seconds:g} s, the video is {_seconds(facts.duration)}")
    server = _ratio(_extra(record.result.extras, "ratio"))
    if server is not None and ratio is None and _ratio_differs(facts, *server):
        said.append(f"the server says {server[0]}:{server[1]}, the video is {_shape(facts)}")
    return said


def _extra(extras: Extras, name: str) -> object:
    for key, value in extras:
        if key == name:
            return value
    return None
