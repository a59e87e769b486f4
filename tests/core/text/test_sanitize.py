from __future__ import annotations

from vidwatch.core.text.sanitize import clean_line, clean_text, first_line, shorten_id, strip_fence


def test_osc_sequences_are_removed_whole() -> None:
    assert clean_text("a\x1b]2;pwned title\x07b") == "ab"
    assert clean_text("a\x1b]52;c;aGVsbG8=\x1b\\b") == "ab"
    assert clean_text("a\x9d52;c;aGk=\x9cb") == "ab"


def test_csi_and_other_escapes_are_removed() -> None:
    assert clean_text("\x1b[31mred\x1b[0m \x1b[2J\x1b[?1049h") == "red "
    assert clean_text("x\x1bcy") == "xy"  # RIS
    assert clean_text("x\x9b31my") == "xy"  # 8-bit CSI
    assert clean_text("a\x1bPq#0;2;0;0;0\x1b\\b") == "ab"  # DCS (sixel)


def test_controls_removed_but_newline_and_tab_kept() -> None:
    assert clean_text("a\x00b\x07c\x08d\x7fe\x85f") == "abcdef"
    assert clean_text("l1\r\nl2\rl3\tt") == "l1\nl2\nl3\tt"
    assert clean_text("a\u202eevil\u202cb\u200b") == "aevilb"


def test_markup_looking_text_is_left_as_text() -> None:
    # Markup safety is the renderer's job; the text itself must survive intact.
    assert clean_text("[@click=app.quit]x[/]") == "[@click=app.quit]x[/]"


def test_length_is_capped_with_an_ellipsis() -> None:
    out = clean_text("x" * 100, limit=10)
    assert len(out) == 10
    assert out.endswith("…")
    assert len(clean_text("y" * 10_000_000, limit=50)) == 50


def test_clean_line_is_one_line() -> None:
    assert clean_line("  a\nb\tc  ") == "a b c"


def test_strip_fence() -> None:
    assert strip_fence("```\nhello\nworld\n```") == "hello\nworld"
    assert strip_fence("```text\n你好\n```  ") == "你好"
    assert strip_fence("~~~\nx\n~~~") == "x"
    assert strip_fence("no fence") == "no fence"
    assert strip_fence("```\nunterminated") == "```\nunterminated"
    assert strip_fence("````\nfour\n```") == "````\nfour\n```"  # the closing fence differs
    assert strip_fence("```\nsame line```") == "same line"
    assert strip_fence("```") == "```"


def test_strip_fence_on_a_hostile_prompt() -> None:
    hostile = "```" + " " * 32_000 + "x"
    assert first_line(hostile) == hostile
    assert strip_fence(hostile) == hostile
    assert strip_fence("```\n" + " " * 32_000 + "\n```") == ""


def test_first_line_skips_fence_and_blanks() -> None:
    assert first_line("```\n\n  A cow flies.  \nMore.\n```") == "A cow flies."
    assert first_line("") == ""


def test_shorten_id_keeps_prefix_and_tail() -> None:
    task_id = "grok:eee6faa8-9dee-455c-aa82-02ac623adf3a"
    short = shorten_id(task_id, 24)
    assert len(short) == 24
    assert short.startswith("grok:…")
    assert short.endswith("02ac623adf3a")
    assert shorten_id("short", 24) == "short"
    long_plain = "x" * 10 + "DISTINCT"
    assert shorten_id(long_plain, 12).endswith("DISTINCT")
