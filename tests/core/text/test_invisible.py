"""The invisible class (format, bidi, invisible, line/paragraph separators) is treated the
same way everywhere: removed from text, refused in URLs and in task IDs."""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vidwatch.core.gateway.outcomes import Ok
from vidwatch.core.gateway.parsing import parse_response
from vidwatch.core.model.records import validate_task_id
from vidwatch.core.store.export import to_json
from vidwatch.core.store.task_file import TaskStore
from vidwatch.core.text import sanitize
from vidwatch.core.text.sanitize import (
    clean_line,
    clean_text,
    first_hidden,
    has_hidden_characters,
    url_problem,
)

# The ones named in the report, and their siblings.
NAMED = (
    "\u00ad",  # soft hyphen
    "\u034f",  # combining grapheme joiner
    "\u061c",  # Arabic letter mark
    "\u115f",  # Hangul choseong filler
    "\u1160",  # Hangul jungseong filler
    "\u180e",  # Mongolian vowel separator
    "\u200b",  # zero-width space
    "\u200c",  # zero-width non-joiner
    "\u200d",  # zero-width joiner
    "\u200e",  # LRM
    "\u200f",  # RLM
    "\u2028",  # line separator
    "\u2029",  # paragraph separator
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",  # bidi embeddings and overrides
    "\u2060",  # word joiner
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",  # bidi isolates
    "\u2800",  # Braille blank: a symbol that draws as a space
    "\u3164",  # Hangul filler
    "\ufe0f",  # variation selector 16 (after a letter)
    "\ufeff",  # BOM
    "\uffa0",  # half-width Hangul filler
    "\U000e0001",
    "\U000e0041",
    "\U000e007f",  # tag characters
    "\U000e0100",  # variation selector 17
)

# An oracle independent of the implementation: Unicode's own categories, plus the
# invisible characters of other categories.
_EXTRA = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0, 0x16FE4, 0x1D159}
_EXTRA_RANGES = ((0x180B, 0x180F), (0xFE00, 0xFE0F), (0xE0000, 0xE007F), (0xE0100, 0xE01EF))
EMOJI_CONTEXT = {"\ufe0e", "\ufe0f", "\u200d"}


def in_class(ch: str) -> bool:
    code = ord(ch)
    if unicodedata.category(ch) in ("Cf", "Zl", "Zp", "Cs"):
        return True
    if unicodedata.category(ch) == "Cc" and ch not in "\t\n":
        return True
    return code in _EXTRA or any(lo <= code <= hi for lo, hi in _EXTRA_RANGES)


def is_emoji(ch: str) -> bool:
    """A visible symbol that may have an emoji form (‼ ↔ ⌚ ❤ 👩 …): never a letter, a
    digit, a space or anything of the class."""
    return not ch.isascii() and unicodedata.category(ch)[0] in "SP"


def assert_clean(text: str) -> None:
    """No character of the class, except a selector or joiner inside an emoji."""
    for i, ch in enumerate(text):
        if not in_class(ch):
            continue
        assert ch in EMOJI_CONTEXT, f"U+{ord(ch):04X} survived in {text!r}"
        before = text[i - 1] if i else ""
        if ch == "\u200d":
            after = text[i + 1] if i + 1 < len(text) else ""
            if before == "\ufe0f":
                before = text[i - 2] if i >= 2 else ""
            assert is_emoji(before[-1:] or "a"), repr(text)
            assert is_emoji(after or "a"), repr(text)
        elif before and (before.isdigit() or before in "#*"):  # a keycap: 1️⃣
            assert text[i + 1 : i + 2] == "\u20e3", repr(text)
        else:
            assert is_emoji(before or "a"), f"U+{ord(ch):04X} after {before!r}"


def test_the_class_covers_every_format_and_separator_character() -> None:
    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    members = [ch for ch in every if in_class(ch)]
    assert len(members) > 250  # Cf alone has ~170 characters; the tag block 128
    missing = [f"U+{ord(ch):04X}" for ch in members if not has_hidden_characters(ch)]
    assert missing == []
    assert set(clean_text("".join(members))) <= {"\n"}  # CR and the separators: newlines


def test_nothing_outside_the_class_counts_as_hidden() -> None:
    every = "".join(chr(c) for c in range(0x20, sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    extra = [
        f"U+{ord(ch):04X}"
        for ch in every
        # unassigned code points inside a format block (U+2065, the Egyptian format
        # controls of Unicode 15) are in the class ahead of time
        if has_hidden_characters(ch) and not in_class(ch) and unicodedata.category(ch) != "Cn"
    ]
    assert extra == []


@pytest.mark.parametrize("ch", NAMED, ids=lambda ch: f"U+{ord(ch):04X}")
def test_each_named_character_is_removed_refused_and_rejected(ch: str) -> None:
    prompt = f"A cow{ch} on the moon"
    assert clean_line(prompt) == "A cow on the moon"
    assert_clean(clean_text(prompt))
    assert has_hidden_characters(prompt)
    assert first_hidden(prompt) == ch
    problem = url_problem(f"https://cdn.example/v{ch}ideo.mp4")
    assert problem is not None
    assert f"U+{ord(ch):04X}" in problem
    reason = validate_task_id(f"grok:eee6{ch}faa8")
    assert reason is not None
    assert f"U+{ord(ch):04X}" in reason


def test_line_and_paragraph_separators_become_newlines() -> None:
    assert clean_text("one\u2028two\u2029three") == "one\ntwo\nthree"
    assert clean_line("one\u2028two") == "one two"


def test_selectors_and_joiners_survive_inside_emoji_only() -> None:
    for emoji in ("❤️", "☺︎", "1️⃣", "#️⃣", "👩‍💻", "👨‍👩‍👧", "🏳️‍🌈", "👍🏽"):
        assert clean_text(f"a {emoji} b") == f"a {emoji} b"
    assert clean_text("a\ufe0fb") == "ab"  # a selector after a letter hides nothing visible
    assert clean_text("1\ufe0f") == "1"  # no keycap follows
    assert clean_text("👩\u200db") == "👩b"  # a joiner into a letter
    assert clean_text(" \u200d👩") == " 👩"
    assert clean_text("🏴\U000e0067\U000e0062\U000e007f") == "🏴"  # tags go, the flag stays


@given(st.text())
def test_after_sanitising_no_character_of_the_class_survives(text: str) -> None:
    assert_clean(clean_text(text))
    assert_clean(clean_line(text))


_MIXED = st.text(
    alphabet=st.sampled_from(
        [*NAMED, "a", "1", "#", " ", "\n", "❤", "👩", "💻", "🏽", "\u20e3", "\x1b", "\u0301"]
    )
)


@given(_MIXED)
def test_mixtures_of_emoji_and_invisible_characters(text: str) -> None:
    cleaned = clean_text(text)
    assert_clean(cleaned)
    assert clean_text(cleaned) == cleaned  # a second pass finds nothing more


@given(st.text(), st.sampled_from(NAMED), st.integers(min_value=0, max_value=40))
def test_an_invisible_character_anywhere_makes_a_url_and_an_id_unusable(
    tail: str, ch: str, at: int
) -> None:
    url = "https://cdn.example/v/" + tail
    url = url[:at] + ch + url[at:]
    assert url_problem(url) is not None
    assert url_problem(url) is not None
    task_id = "grok:" + tail.replace(" ", "x")
    task_id = task_id[:at] + ch + task_id[at:]
    assert validate_task_id(task_id) is not None


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    "url",
    [
        "https://trusted.example@evil.example/x.mp4",
        "https://user:pass@evil.example/x.mp4",
        "https://trusted.example%2F@evil.example/x.mp4",
        "https://@evil.example/x.mp4",
    ],
)
def test_a_url_with_user_information_is_refused_naming_its_real_host(url: str) -> None:
    problem = url_problem(url)
    assert problem is not None
    assert "evil.example" in problem
    assert url_problem(url) == problem
    body = json.dumps({"id": "x", "status": "completed", "video_url": url}).encode()
    outcome = parse_response(200, {"content-type": "application/json"}, body)
    assert isinstance(outcome, Ok)
    assert outcome.result.video_url is None  # never kept, never shown


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("", "empty"),
        ("javascript:alert(1)", "http(s)"),
        ("https://cdn.example/a b.mp4", "spaces"),
        ("https://cdn.example/a\nb.mp4", "line breaks"),
        ("https://evil.example\\trusted.example/x", "backslash"),
        ("https://cdn.example:99999/x", "not a valid URL"),
        ("https:///x.mp4", "no host"),
        ("https://cdn.example/" + "a" * 5000, "longer"),
    ],
)
def test_other_misleading_urls_are_refused(url: str, why: str) -> None:
    problem = url_problem(url)
    assert problem is not None
    assert why in problem


def test_ordinary_urls_pass() -> None:
    for url in (
        "https://cdn.example/v/x.mp4?sig=a%40b&exp=1",
        "http://127.0.0.1:8080/v.mp4",
        "https://cdn.example/视频.mp4#t=1",
    ):
        assert url_problem(url) is None
        assert url_problem(url) is None


@given(st.from_regex(sanitize._PLAIN_URL, fullmatch=True))
def test_the_fast_path_for_plain_urls_agrees_with_the_full_rule(url: str) -> None:
    assert sanitize._url_problem(url) is None or len(url) > sanitize.MAX_URL


# --------------------------------------------------------------------------- read back


def test_urls_and_ids_read_back_from_the_task_file_are_checked_again(tmp_path: Path) -> None:
    path = tmp_path / "tasks.toml"
    path.write_text(
        "schema = 1\n"
        '[[tasks]]\nid = "grok:1"\n[tasks.result]\nstate = "succeeded"\n'
        'video_url = "javascript:alert(1)"\n'
        '[[tasks]]\nid = "grok:2"\n[tasks.result]\nstate = "succeeded"\n'
        'video_url = "https://trusted.example@evil.example/x.mp4"\n'
        '[[tasks]]\nid = "grok:3"\n[tasks.result]\nstate = "succeeded"\n'
        'video_url = "https://cdn.example/a\\nb.mp4"\n'
        '[[tasks]]\nid = "grok:4"\n[tasks.result]\nstate = "succeeded"\n'
        'video_url = "https://cdn.example/ok.mp4"\n'
        '[[tasks]]\nid = "grok:\\u202ecod.exe"\n'
        '[[tasks]]\nid = "grok:\\u001b]52;c;aGk=\\u0007"\n',
        encoding="utf-8",
    )
    loaded = TaskStore(path).load()
    urls = {task_id: r.result.video_url for task_id, r in loaded.records.items()}
    assert urls == {
        "grok:1": None,
        "grok:2": None,
        "grok:3": None,
        "grok:4": "https://cdn.example/ok.mp4",
    }
    # the two IDs that would reach the terminal are set aside, and the user told
    assert loaded.warning is not None
    assert "2 entries" in loaded.warning


def test_json_exports_escape_the_whole_class_and_keep_the_data() -> None:
    text = "a\u2066b\u00adc\U000e0041d❤️e\x85"
    dumped = to_json({"x": text})
    assert not has_hidden_characters(dumped.replace("\ufe0f", ""))
    assert "\\u2066" in dumped
    assert "\\udb40\\udc41" in dumped  # a tag character, as a surrogate pair
    assert "❤️" in dumped  # an emoji keeps its selector
    assert json.loads(dumped) == {"x": text}
