"""What a video turned out to be, and where it differs from what was asked."""

from __future__ import annotations

from typing import Any

from vidwatch.core.media.wording import aspect_name, differences, facts_line, facts_rows
from vidwatch.core.model.records import (
    State,
    Task,
    TaskRecord,
    TaskRequest,
    TaskResult,
    VideoFacts,
    utcnow,
)

WIDE_8S = VideoFacts(1280, 720, 8.0, 24.0, "h264", "aac", 9_800_000)


def record(asked: dict[str, Any] | None, extras: tuple[tuple[str, Any], ...] = ()) -> TaskRecord:
    request = TaskRequest("sora-2", "a cow", asked) if asked is not None else None
    result = TaskResult(State.SUCCEEDED, "completed", checked_at=utcnow(), extras=extras)
    return TaskRecord(Task("sora-2:1", utcnow(), request=request), result)


def test_asked_16_9_and_10_s_got_1280x720_and_8_s() -> None:
    said = differences(WIDE_8S, record({"aspect_ratio": "16:9", "duration": 10}))
    assert said == ["asked for 10 s, the video is 8.0 s"]


def test_each_kind_of_asking_is_compared() -> None:
    portrait = VideoFacts(720, 1280, 10.0, 30.0, "h264", "", None)
    assert differences(portrait, record({"aspect_ratio": "16:9"})) == [
        "asked for 16:9, the video is 9:16 (720×1280)"
    ]
    assert differences(portrait, record({"orientation": "landscape"})) == [
        "asked for landscape, the video is portrait (9:16 (720×1280))"
    ]
    assert differences(WIDE_8S, record({"size": "1920x1080"})) == [
        "asked for 1920×1080, the video is 1280×720"
    ]
    assert differences(WIDE_8S, record({"size": "large"})) == [
        "asked for large (1080 lines), the video is 1280×720"
    ]
    assert differences(WIDE_8S, record({"seconds": "8"})) == []
    assert differences(WIDE_8S, record(None)) == []


def test_what_the_server_said_is_compared_when_nothing_was_asked() -> None:
    said = differences(WIDE_8S, record(None, extras=(("ratio", "1:1"),)))
    assert said == ["the server says 1:1, the video is 16:9 (1280×720)"]


def test_the_facts_in_words() -> None:
    assert facts_line(WIDE_8S) == "1280×720 (16:9) · 8.0 s · 24 fps · h264 · sound (aac) · 9.3 MB"
    assert ("Sound", "aac") in facts_rows(WIDE_8S)
    silent = VideoFacts(300, 200, None, None, "", "", None)
    assert facts_line(silent) == "300×200 (3:2) · no sound"
    assert aspect_name(1000, 1) is None
