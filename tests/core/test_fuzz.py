"""Property tests (hypothesis): hostile bytes, any JSON, any string, any typed ID."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.gateway.outcomes import Ok, Outcome
from vidwatch.core.gateway.parsing import parse_response
from vidwatch.core.model.records import (
    MAX_ID_LENGTH,
    State,
    Task,
    TaskRecord,
    TaskResult,
    clean_extras,
    split_ids,
    validate_task_id,
)
from vidwatch.core.store.format import decode_record, dumps, loads
from vidwatch.core.store.task_file import TaskStore
from vidwatch.core.text.sanitize import MAX_TEXT, clean_line, clean_text
from vidwatch.core.text.urls import clean_url, url_problem
from vidwatch.ui.widgets.detail import DetailPane
from vidwatch.ui.widgets.task_table import TaskTable

from tests.support.dashboard import T0, make_app

OUTCOMES = get_args(Outcome)  # every kind there is, however many are added
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 but tab and newline, DEL, C1
FIELDS = (
    "id",
    "status",
    "video_url",
    "enhanced_prompt",
    "status_update_time",
    "error",
    "error_message",
    "fail_reason",
    "progress",
    "url",
    "result_url",
    "detail",
    "output",
    "data",
    "code",
    "message",
    "prompt",  # grok: the prompt sent
    "thumbnail_url",
    "ratio",  # extra fields, kept with the task (clean_extras)
    "completed_at",
    "cover_url",
    "x" * 50,
)
DETAIL_FIELDS = (  # veo's detail object
    "status",
    "video_url",
    "upsample_video_url",
    "enhanced_prompt",
    "error_message",
    "video_generation_error",
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
shaped_details = st.fixed_dictionaries(
    {}, optional={name: json_values | st.text() for name in DETAIL_FIELDS}
)
shaped_bodies = st.fixed_dictionaries(
    {},
    optional={
        **{name: json_values | st.text() for name in FIELDS},
        "detail": shaped_details | json_values,
        "status": st.sampled_from(["completed", "video_generation_completed", "failed"])
        | json_values
        | st.text(),
    },
)
statuses = st.sampled_from([200, 200, 200, 301, 400, 401, 402, 403, 404, 418, 429, 500, 502, 503])
headers = st.dictionaries(
    st.sampled_from(["retry-after", "openai-poll-after-ms", "content-type"]),
    st.text(max_size=40),
    max_size=3,
)


def strings_in(result: TaskResult) -> list[str]:
    values = (
        result.status,
        result.video_url,
        result.enhanced_prompt,
        result.server_id,
        result.error,
        result.fail_reason,
        result.sent_prompt,
        result.thumbnail_url,
        *(text for pair in result.extras for text in pair),
    )
    return [v for v in values if isinstance(v, str)]


def check_outcome(outcome: object) -> None:
    assert isinstance(outcome, OUTCOMES)
    assert isinstance(outcome.message, str)
    if isinstance(outcome, Ok):
        result = outcome.result
        assert isinstance(result.state, State)
        for text in strings_in(result):
            assert "\x1b" not in text
            assert not FORBIDDEN.search(text)
        if result.video_url is not None:
            assert result.video_url.startswith(("http://", "https://", "HTTP", "Http", "hTTp"))
        if result.progress is not None:
            assert 0.0 <= result.progress <= 100.0
        if result.thumbnail_url is not None:
            assert url_problem(result.thumbnail_url) is None
        assert clean_extras(result.extras) == result.extras  # within every cap already
        # whatever an answer held, the task file can hold it and read it back
        record = TaskRecord(Task("grok:1", T0), TaskResult().followed_by(result))
        back = decode_record(loads(dumps([record]).decode())["tasks"][0])
        assert back is not None
        assert back.result.extras == record.result.extras
        assert back.result.thumbnail_url == record.result.thumbnail_url
    else:
        assert not FORBIDDEN.search(outcome.message)


@settings(max_examples=300, deadline=None)
@given(status=statuses, head=headers, body=st.binary(max_size=2000))
def test_any_bytes_give_a_typed_outcome(status: int, head: dict[str, str], body: bytes) -> None:
    check_outcome(parse_response(status, head, body))


@settings(max_examples=300, deadline=None)
@given(status=statuses, head=headers, body=json_values)
def test_any_json_gives_a_typed_outcome(status: int, head: dict[str, str], body: Any) -> None:
    raw = json.dumps(body, allow_nan=True).encode()
    check_outcome(parse_response(status, head, raw))


@settings(max_examples=400, deadline=None)
@given(body=shaped_bodies)
def test_bodies_shaped_like_the_api_with_any_values_give_a_typed_outcome(
    body: dict[str, Any],
) -> None:
    outcome = parse_response(200, {}, json.dumps(body, allow_nan=True).encode())
    check_outcome(outcome)
    if isinstance(outcome, Ok) and "status" in body and outcome.result.state is not State.SUCCEEDED:
        top = body.get("video_url")  # nested URLs are read on a success word only
        assert outcome.result.video_url == (clean_url(top) if top else None)


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_sanitised_text_holds_no_escape_or_control_characters(value: str) -> None:
    cleaned = clean_text(value)
    assert not FORBIDDEN.search(cleaned)
    assert len(cleaned) <= MAX_TEXT
    assert clean_text(cleaned) == cleaned  # idempotent
    line = clean_line(value)
    assert not FORBIDDEN.search(line)
    assert "\n" not in line
    assert "\t" not in line
    cleaned.encode("utf-8")  # no lone surrogates survive


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_any_typed_id_is_accepted_or_rejected_with_a_reason(value: str) -> None:
    reason = validate_task_id(value)
    if reason is None:
        assert value
        assert len(value) <= MAX_ID_LENGTH
        assert not any(ch.isspace() for ch in value)
        assert not FORBIDDEN.search(value)
    else:
        assert isinstance(reason, str)
        assert reason
    for part in split_ids(value):
        assert part
        assert not any(ch in part for ch in " \t\n\r,")


ids = st.text(min_size=1, max_size=80).filter(lambda s: validate_task_id(s) is None)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(task_id=ids)
def test_an_accepted_id_survives_the_store_and_the_query_string(
    tmp_path: Path, task_id: str
) -> None:
    path = tmp_path / "tasks.toml"
    path.unlink(missing_ok=True)
    TaskStore(path).add([Task(task_id, T0)])
    assert list(TaskStore(path).load().records) == [task_id]

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["id"])
        return httpx.Response(200, json={"status": "pending"})

    import asyncio

    async def ask() -> None:
        async with QueryClient(
            "https://gw.example", "k", transport=httpx.MockTransport(handler)
        ) as client:
            assert isinstance(await client.query(task_id), Ok)

    asyncio.run(ask())
    assert seen == [task_id]


@pytest.mark.ui
async def test_any_server_string_renders_literally_in_every_widget(tmp_path: Path) -> None:
    """Cleaned server text is drawn character for character: never markup, never styled away."""
    harness = make_app(tmp_path, [TaskRecord(Task("grok:x", T0))])
    async with harness.app.run_test(size=(220, 60)) as pilot:
        table = harness.app.main.query_one(TaskTable)
        detail = harness.app.main.query_one(DetailPane)
        wide_prompt_column = dict(table_layout(table))["prompt"]

        @settings(max_examples=150, deadline=None)
        @given(st.text(min_size=1, max_size=60))
        @example("[b]bold[/b] and [red]red[/red]")
        @example("[@click=app.quit]quit[/]")
        @example("[/]")
        @example(":rocket: :smile:")
        @example("a\x1b]52;c;ZXZpbA==\x07b")
        def check(raw: str) -> None:
            text = clean_line(raw, 60)
            if not text.strip():
                return
            result = TaskResult(
                state=State.UNKNOWN,
                status=text,
                enhanced_prompt=text,
                checked_at=T0,
                video_url="https://cdn.example/" + text.replace(" ", "%20"),
                server_id=text,
            )
            record = TaskRecord(Task("grok:x", T0, text), result)
            table.upsert([record])
            row = table.render_line(1).text
            assert text[: min(len(text), 20)].rstrip() in row or cells(text) > 20
            if cells(text) < wide_prompt_column:
                assert text in row  # the prompt column, whole
            detail.record = record
            facts = detail.section_text("facts").replace("\n" + " " * 11, "")
            assert f"Label      {text}" in facts
            assert f"Server id  {text}" in facts
            prompt = detail.section_text("prompt").split("\n", 1)[1].replace("\n", "")
            assert prompt.replace(" ", "") == text.strip().replace(" ", "")

        check()
        await pilot.pause()
        assert harness.app.is_running


def cells(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def table_layout(table: TaskTable) -> list[tuple[str, int]]:
    from vidwatch.ui.widgets.columns import layout

    return [(c.key, c.width) for c in layout(table.size.width)]
