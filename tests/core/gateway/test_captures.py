"""Every captured answer of the real gateways (tests/fixtures/query-answers.json, a copy of
the shared captures): what the parser, the record merge and the client conclude from it is
what the entry's ``means`` says.

Each entry has its expectation here by name, and an entry without one fails the test: a
new capture is read, not skipped.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.gateway.outcomes import NotFound, Ok, Outcome, WrongUrl
from vidwatch.core.gateway.parsing import parse_response
from vidwatch.core.model.records import State, TaskResult
from vidwatch.core.polling.results import apply_outcome

from tests.support.paths import FIXTURES

FIXTURE = FIXTURES / "query-answers.json"
ENTRIES: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))
BY_NAME = {entry["name"]: entry for entry in ENTRIES}
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KEY = "sk-test-0123456789"


def answer(entry: dict[str, Any]) -> Outcome:
    raw = json.dumps(entry["body"], ensure_ascii=False).encode()
    return parse_response(entry["http_status"], httpx.Headers(), raw, now=NOW)


def result_of(entry: dict[str, Any]) -> TaskResult:
    outcome = answer(entry)
    assert isinstance(outcome, Ok), outcome
    return outcome.result


def seconds(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


# --------------------------------------------------------------------------- one by one


def doc_example(entry: dict[str, Any]) -> None:
    # queued; the answer is about the asked task (its id is an unrelated upstream one)
    r = result_of(entry)
    assert (r.state, r.status) == (State.QUEUED, "pending")
    assert r.server_id == entry["body"]["id"] != entry["asked_id"]
    assert r.status_update_time == seconds(1750323167.003)  # milliseconds
    assert r.enhanced_prompt == "```\nA surreal ...\n```"


def veo_completed(entry: dict[str, Any]) -> None:
    # succeeded; URL = top-level video_url (the upscaled one); prompt kept from
    # detail.enhanced_prompt; the stale error texts ignored
    r = result_of(entry)
    body = entry["body"]
    assert r.state is State.SUCCEEDED
    assert r.final
    assert r.video_url == body["video_url"] == body["detail"]["upsample_video_url"]
    assert r.video_url != body["detail"]["video_url"]
    assert r.enhanced_prompt == body["detail"]["enhanced_prompt"]
    assert (r.fail_reason, r.error, r.problem) == (None, None, None)
    assert "reCAPTCHA" not in repr(r)
    assert "unsafe" not in repr(r)
    assert r.status_update_time == seconds(1770350329.098)
    # without the top-level URL, the upscaled one in detail is the video, not the other
    del body["video_url"]
    assert result_of(entry).video_url == body["detail"]["upsample_video_url"]


def veo_generation_completed(entry: dict[str, Any]) -> None:
    # running (an intermediate step); no URL taken from detail.video_url
    r = result_of(entry)
    assert (r.state, r.status) == (State.RUNNING, "video_generation_completed")
    assert r.video_url is None
    assert not r.final
    assert r.problem is None


def grok_completed(entry: dict[str, Any]) -> None:
    # succeeded; status_update_time read as seconds; thumbnail_url is a still of the
    # video; the body's prompt is the prompt sent (no enhanced_prompt)
    r = result_of(entry)
    body = entry["body"]
    assert r.state is State.SUCCEEDED
    assert r.final
    assert r.video_url == body["video_url"]
    assert r.status_update_time == seconds(1764745713)
    assert r.thumbnail_url == body["thumbnail_url"]
    assert r.enhanced_prompt is None
    assert r.sent_prompt == body["prompt"]
    assert (r.fail_reason, r.error) == (None, None)  # "error": "" on success
    assert r.progress == 100.0
    extras = dict(r.extras)
    for name in ("ratio", "video_id", "completed_at", "upscaled", "model"):
        assert extras[name] == body[name], name


def grok_processing(entry: dict[str, Any]) -> None:
    # running
    r = result_of(entry)
    assert (r.state, r.status, r.video_url) == (State.RUNNING, "processing", None)
    assert r.status_update_time == seconds(1764756435)  # seconds


def veo_failed(entry: dict[str, Any]) -> None:
    # failed; reason from detail.video_generation_error
    r = result_of(entry)
    assert r.state is State.FAILED
    assert r.final
    assert r.fail_reason == entry["body"]["detail"]["video_generation_error"]


def task_not_exist(entry: dict[str, Any]) -> None:
    # the server does not know the task
    assert isinstance(answer(entry), NotFound)


def relay_not_found(entry: dict[str, Any]) -> None:
    # a wrong base URL (not 'not found', not 'key accepted')
    assert isinstance(answer(entry), WrongUrl)


EXPECTED: dict[str, Callable[[dict[str, Any]], None]] = {
    "doc example": doc_example,
    "veo completed sample": veo_completed,
    "veo video_generation_completed": veo_generation_completed,
    "grok completed capture": grok_completed,
    "grok processing capture": grok_processing,
    "veo failed": veo_failed,
    "task_not_exist 400": task_not_exist,
    "RelayNotFound 404": relay_not_found,
}


def test_every_capture_has_an_expectation() -> None:
    assert [e["name"] for e in ENTRIES] == list(EXPECTED)
    assert all(e["means"] for e in ENTRIES)


@pytest.mark.parametrize("name", list(BY_NAME))
def test_the_parser_concludes_what_the_capture_means(name: str) -> None:
    EXPECTED[name](json.loads(json.dumps(BY_NAME[name])))  # a copy: a check may edit it


# --------------------------------------------------------------------------- in sequence


def merged(*names: str) -> list[TaskResult]:
    """The record's result after each answer, merged as the poller does."""
    results = [TaskResult()]
    for name in names:
        results.append(apply_outcome(results[-1], answer(BY_NAME[name]), NOW))
    return results[1:]


def test_veo_is_not_finished_at_the_step_before_upscaling() -> None:
    step, done = merged("veo video_generation_completed", "veo completed sample")
    assert (step.state, step.video_url, step.final) == (State.RUNNING, None, False)
    final = BY_NAME["veo completed sample"]["body"]
    assert (done.state, done.video_url) == (State.SUCCEEDED, final["video_url"])
    assert [(t.state, t.status) for t in done.history] == [
        (State.RUNNING, "video_generation_completed"),
        (State.SUCCEEDED, "completed"),
    ]


def test_a_prompt_from_an_earlier_answer_is_kept() -> None:
    """A later answer without a prompt (grok's processing one has none) keeps the last
    non-empty one; veo's completed answer brings its own from detail."""
    kept = merged("doc example", "grok processing capture")[-1]
    assert kept.state is State.RUNNING
    assert kept.enhanced_prompt == BY_NAME["doc example"]["body"]["enhanced_prompt"]
    veo = merged("doc example", "veo video_generation_completed", "veo completed sample")
    assert veo[1].enhanced_prompt == BY_NAME["doc example"]["body"]["enhanced_prompt"]
    assert (
        veo[2].enhanced_prompt
        == BY_NAME["veo completed sample"]["body"]["detail"]["enhanced_prompt"]
    )


def test_a_later_answer_with_another_id_is_kept_and_noted() -> None:
    _first, second = merged("doc example", "grok processing capture")
    doc_id = BY_NAME["doc example"]["body"]["id"]
    grok_id = BY_NAME["grok processing capture"]["body"]["id"]
    assert second.server_id == doc_id  # the first id seen stays the task's
    assert second.status == "processing"
    assert [t.server_id for t in second.history] == ["", grok_id]


# --------------------------------------------------------------------------- the client


@pytest.mark.parametrize("name", list(BY_NAME))
def test_the_client_keeps_every_answer_for_the_task_it_asked(name: str) -> None:
    """Through the client as polling uses it: the answer comes back for the asked ID, its
    body's id whatever it is (the doc example's unrelated one included)."""
    entry = BY_NAME[name]

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["id"] == entry["asked_id"]
        return httpx.Response(entry["http_status"], json=entry["body"])

    async def ask() -> Outcome:
        async with QueryClient(
            "https://api.example", KEY, transport=httpx.MockTransport(handler)
        ) as client:
            return await client.query(entry["asked_id"])

    outcome = asyncio.run(ask())
    assert type(outcome) is type(answer(entry))
    if isinstance(outcome, Ok):
        expected = result_of(entry)
        assert outcome.result.state is expected.state
        assert outcome.result.video_url == expected.video_url
