"""Task IDs in pasted text: what is taken, what is left out and why."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vidwatch.core.model.ids import NOT_AN_ID, extract_ids, id_warning, looks_like_id, shown
from vidwatch.core.model.records import validate_task_id

GROK = "grok:eee6faa8-9dee-455c-aa82-02ac623adf3a"
SORA = "sora-2:task_01k81e7r1mf0qtvp3ett3mr4jm"
VEO = "veo3.1-fast:1770350082-trii1OXZc3"
UUID = "033fa60e-f37c-4ff6-a44d-5585ffea938d"


@pytest.mark.parametrize("task_id", [GROK, SORA, VEO, UUID, "a:1", "kling-v2:abc.def"])
def test_what_a_task_id_looks_like(task_id: str) -> None:
    assert looks_like_id(task_id)
    assert id_warning(task_id) is None


@pytest.mark.parametrize(
    "token", ["hello", "world!!", "https://example.com/x", "grok", ":abc", "grok:", "a b:c", ""]
)
def test_what_does_not_look_like_one(token: str) -> None:
    assert not looks_like_id(token)
    assert id_warning(token) is not None


def test_prose_and_a_link_without_an_id_add_nothing_and_say_why() -> None:
    found = extract_ids("hello world!!, https://example.com/x")
    assert found.ids == ()
    assert [(i.text, i.reason) for i in found.ignored] == [
        ("hello", NOT_AN_ID),
        ("world!!", NOT_AN_ID),
        ("https://example.com/x", "a link without an id= parameter"),
    ]
    assert [i.addable for i in found.ignored] == [True, True, False]


def test_plain_ids_on_spaces_commas_and_lines_keep_their_order_once() -> None:
    found = extract_ids(f"{GROK}, {SORA}\n\n{VEO} {GROK}\t{UUID}\n")
    assert found.ids == (GROK, SORA, VEO, UUID)
    assert found.ignored == ()


def test_the_json_a_create_call_answers() -> None:
    answer = {"id": GROK, "status": "pending", "status_update_time": 1750323167003}
    assert extract_ids(json.dumps(answer)).ids == (GROK,)
    assert extract_ids(json.dumps(answer, indent=2)).ids == (GROK,)  # pretty, as jq prints
    lines = "\n".join(json.dumps({"id": i, "status": "pending"}) for i in (SORA, VEO))
    assert extract_ids(lines).ids == (SORA, VEO)  # one answer per line
    listed = extract_ids(json.dumps([{"id": GROK}, SORA, {"data": {"id": VEO}}]))
    assert listed.ids == (GROK, SORA, VEO)
    assert listed.ignored == ()


def test_json_inside_a_line_of_log_text() -> None:
    found = extract_ids(f'created {{"id": "{SORA}", "status": "pending"}} then {VEO}.')
    assert found.ids == (SORA, VEO)
    assert [i.text for i in found.ignored] == ["created", "then"]


def test_json_without_a_usable_id_is_named() -> None:
    found = extract_ids('{"status": "pending"}\n{"id": 5}\n{"id": "bad\\u001bid"}')
    assert found.ids == ()
    reasons = [i.reason for i in found.ignored]
    assert reasons[0] == 'JSON without an "id"'
    assert reasons[1] == 'JSON without an "id"'
    assert "control character" in reasons[2]


def test_links_that_carry_the_id() -> None:
    found = extract_ids(
        f"https://api.quickrouter.ai/v1/video/query?id={GROK.replace(':', '%3A')} "
        f"<http://127.0.0.1:8000/v1/video/query?id={SORA}> "
        "https://x.example/q?id=hello"
    )
    assert found.ids == (GROK, SORA)
    assert [i.reason for i in found.ignored] == ["the link's id= is not a task ID"]


def test_quotes_brackets_and_a_full_stop_around_an_id_are_not_part_of_it() -> None:
    found = extract_ids(f"'{GROK}' ({SORA}) \"{VEO}\", see {UUID}.")
    assert found.ids == (GROK, SORA, VEO, UUID)


def test_hostile_tokens_are_rejected_not_addable() -> None:
    found = extract_ids("grok:a\x1b]2;x\x07b grok:\u202eabc x" * 1)
    assert found.ids == ()
    assert all(not i.addable for i in found.ignored[:2])
    assert "\x1b" not in shown(found.ignored[0].text)
    assert "\u202e" not in shown(found.ignored[1].text)


def test_deep_or_broken_json_is_cheap_and_safe() -> None:
    assert extract_ids("[" * 100_000).ids == ()
    assert extract_ids("{" * 100_000).ids == ()
    deep = extract_ids("[" * 20 + f'"{GROK}"' + "]" * 20)
    assert deep.ids == ()
    assert deep.ignored[0].reason == "JSON nested too deep"


@given(st.text(max_size=300))
def test_every_extracted_id_is_valid_and_nothing_raises(text: str) -> None:
    found = extract_ids(text)
    for task_id in found.ids:
        assert validate_task_id(task_id) is None
        assert looks_like_id(task_id)
    assert len(set(found.ids)) == len(found.ids)
