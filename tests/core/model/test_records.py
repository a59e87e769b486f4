from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from vidwatch.core.model.records import (
    MAX_ID_LENGTH,
    State,
    TaskResult,
    canonical_state,
    split_ids,
    validate_task_id,
)

QUEUED = ["pending", "queued", "submitted", "not_start", "in_queue", "waiting", "throttled"]
RUNNING = [
    "processing",
    "in_progress",
    "running",
    "generating",
    "starting",
    "dreaming",
    "image_downloading",
    "video_generating",
    "video_generation_completed",  # veo: before upscaling, not the end
    "video_upsampling",
    "video_upsampling_completed",
]
SUCCEEDED = ["completed", "succeeded", "success", "succeed", "done", "finished"]
FAILED = [
    "failed",
    "failure",
    "error",
    "cancelled",
    "canceled",
    "expired",
    "rejected",
    "interrupted",
    "timeout",
    "video_generation_failed",
    "video_upsampling_failed",
]


@pytest.mark.parametrize(
    ("words", "state"),
    [
        (QUEUED, State.QUEUED),
        (RUNNING, State.RUNNING),
        (SUCCEEDED, State.SUCCEEDED),
        (FAILED, State.FAILED),
    ],
)
def test_vocabulary_maps_every_documented_word(words: list[str], state: State) -> None:
    for word in words:
        assert canonical_state(word) is state
        assert canonical_state(f"  {word.upper()} ") is state


@pytest.mark.parametrize("word", ["", None, "unknown", "weird_new_status", "   "])
def test_unknown_words_map_to_unknown(word: str | None) -> None:
    assert canonical_state(word) is State.UNKNOWN


@pytest.mark.parametrize("word", ["video_generation_completed", "VIDEO_UPSAMPLING_COMPLETED"])
def test_veo_completed_steps_are_running_not_success(word: str) -> None:
    assert canonical_state(word) is State.RUNNING


def test_final_means_failed_or_succeeded_with_url() -> None:
    assert TaskResult(state=State.FAILED).final
    assert TaskResult(state=State.SUCCEEDED, video_url="https://x/v.mp4").final
    assert not TaskResult(state=State.SUCCEEDED).final
    assert not TaskResult(state=State.RUNNING).final
    assert State.SUCCEEDED.finished
    assert not State.QUEUED.finished


def test_every_state_has_a_distinct_symbol() -> None:
    symbols = {state.symbol for state in State}
    assert len(symbols) == len(State)


def test_split_ids_on_whitespace_commas_and_newlines() -> None:
    text = "a:1, b:2\n\nc:3\t d:4,,e:5\r\n"
    assert split_ids(text) == ["a:1", "b:2", "c:3", "d:4", "e:5"]
    assert split_ids("  \n ") == []


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "empty"),
        ("x" * (MAX_ID_LENGTH + 1), "longer than"),
        ("a b", "whitespace"),
        ("a\u00a0b", "whitespace"),
        ("a\x1b]2;x", "control"),
        ("a\x00", "control"),
        ("a\x9b", "control"),
        ("a\u202eb", "bidi"),
        ("a\u200bb", "invisible"),
        ("grok:", "ends with ':'"),
        ("sora-2::", "nothing after the model"),
    ],
)
def test_invalid_ids_have_a_reason(value: str, fragment: str) -> None:
    reason = validate_task_id(value)
    assert reason is not None
    assert fragment in reason


@pytest.mark.parametrize(
    "value", ["grok:eee6faa8-9dee-455c-aa82-02ac623adf3a", "x" * MAX_ID_LENGTH, "任务:1"]
)
def test_valid_ids(value: str) -> None:
    assert validate_task_id(value) is None


# Characters that draw as a blank although Unicode calls them letters, marks or symbols.
_BLANKS = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0, 0x16FE4, 0x1D159}
_SELECTORS = ((0x180B, 0x180F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))


def _visible(ch: str) -> bool:
    """The oracle, from Unicode's categories alone: a letter, mark, number, punctuation
    or symbol that is assigned, and not one of the blanks or selectors."""
    code = ord(ch)
    if unicodedata.category(ch)[0] not in "LMNPS":  # C* (Cc Cf Cs Co Cn) and Z*: never
        return False
    return code not in _BLANKS and not any(lo <= code <= hi for lo, hi in _SELECTORS)


@given(st.characters())
@example("\u2800")  # Braille blank: looks like a space
@example("\ud7fc")  # unassigned in Hangul Jamo Extended-B: not printable
@example("\ue000")  # private use
@example("\u3164")
@example("\u0430")  # Cyrillic a: a letter like any other, accepted
@example("[")
def test_the_id_rule_takes_exactly_the_visible_characters(ch: str) -> None:
    reason = validate_task_id(f"grok:a{ch}b")
    assert (reason is None) == _visible(ch), (f"U+{ord(ch):04X}", reason)
    if reason is not None:
        assert f"U+{ord(ch):04X}" in reason or "whitespace" in reason or "surrogate" in reason


def test_markup_and_look_alike_letters_are_ids_like_any_other() -> None:
    for task_id in ("grok:[bold]x[/bold]", "grok:[@click=app.quit]x", "grok:\u0430\u0435\u043e"):
        assert validate_task_id(task_id) is None


def test_the_quick_path_of_the_id_rule_agrees_with_its_character_checks() -> None:
    """An ID of printable ASCII without a space skips the checks character by character:
    every such character passes them (a letter beyond ASCII makes the rule look at each)."""
    for code in range(0x21, 0x7F):
        assert validate_task_id(f"é{chr(code)}x") is None, chr(code)
        assert validate_task_id(f"a{chr(code)}x") is None, chr(code)
    assert validate_task_id("a b") == validate_task_id("é b") == "contains whitespace"
    assert validate_task_id("grok:") is not None
