"""Parsing the gateway's answers (pure: no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from vidwatch.core.gateway.outcomes import (
    AuthRejected,
    BadResponse,
    NotFound,
    Ok,
    RateLimited,
    ServerError,
)
from vidwatch.core.gateway.parsing import (
    MAX_BODY,
    MAX_RETRY_AFTER,
    parse_response,
    parse_retry_after,
)
from vidwatch.core.model.records import (
    MAX_EXTRA_TEXT,
    MAX_EXTRAS,
    MAX_EXTRAS_SIZE,
    Problem,
    State,
    TaskResult,
)
from vidwatch.core.model.wording import problem_advice
from vidwatch.core.polling.results import apply_outcome

TaskResultNone = TaskResult()  # a task never checked

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
H = httpx.Headers


def body(**fields: object) -> bytes:
    base: dict[str, object] = {
        "id": "033fa60e",
        "status": "pending",
        "video_url": None,
        "enhanced_prompt": "```\nA cow\n```",
        "status_update_time": 1750323167003,
    }
    base.update(fields)
    return json.dumps(base).encode()


def ok(raw: bytes, headers: httpx.Headers | None = None) -> Ok:
    outcome = parse_response(200, headers or H(), raw, now=NOW)
    assert isinstance(outcome, Ok), outcome
    return outcome


@pytest.mark.parametrize(
    "value",
    ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59", 253402300799, 1e300, -5, "1899-01-01"],
)
def test_implausible_server_times_are_dropped_not_kept(value: object) -> None:
    result = ok(body(status_update_time=value)).result
    assert result.status_update_time is None


def test_documented_example_parses() -> None:
    result = ok(body()).result
    assert result.state is State.QUEUED
    assert result.status == "pending"
    assert result.server_id == "033fa60e"
    assert result.enhanced_prompt == "```\nA cow\n```"
    assert result.status_update_time == datetime.fromtimestamp(1750323167.003, UTC)
    assert result.checked_at == NOW
    assert result.error is None


def test_seconds_timestamps_are_accepted() -> None:
    assert ok(
        body(status_update_time=1750323167)
    ).result.status_update_time == datetime.fromtimestamp(1750323167, UTC)
    iso = ok(body(status_update_time="2026-01-02T03:04:05Z")).result.status_update_time
    assert iso == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_completed_with_url() -> None:
    result = ok(body(status="completed", video_url="https://cdn.example/v.mp4?sig=1")).result
    assert result.state is State.SUCCEEDED
    assert result.video_url == "https://cdn.example/v.mp4?sig=1"
    assert result.final


@pytest.mark.parametrize(
    "extra",
    [
        {"detail": {"video_url": "https://a/b.mp4"}},
        {"url": "https://a/b.mp4"},
        {"result_url": "https://a/b.mp4"},
        {"output": {"url": "https://a/b.mp4"}},
    ],
)
def test_url_fallbacks(extra: dict[str, object]) -> None:
    result = ok(body(status="succeeded", **extra)).result
    assert result.video_url == "https://a/b.mp4"
    assert result.final


def test_succeeded_without_url_is_an_anomaly_not_final() -> None:
    result = ok(body(status="completed")).result
    assert result.state is State.SUCCEEDED
    assert not result.final
    assert result.error
    assert "no video URL" in result.error
    assert result.problem is Problem.NO_URL
    assert problem_advice(Problem.NO_URL)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://a/b\x1b]52;c;x\x07",
        "-o /tmp/x",
        "https://cdn.example/v/\u202eexe.4pm",  # shown reversed: looks like mp4.exe
        "https://cdn.example/v/a\u200bb.mp4",  # an invisible character
        "https://cdn.example/v/a b.mp4",
    ],
)
def test_unsafe_urls_are_dropped(url: str) -> None:
    result = ok(body(status="completed", video_url=url)).result
    assert result.video_url is None
    assert result.error
    assert "not a plain" in result.error


@pytest.mark.parametrize("status", ["video_generation_completed", "video_upsampling_completed"])
def test_veo_completed_steps_are_running_and_take_no_nested_url(status: str) -> None:
    """The video before upscaling sits in detail.video_url: the job is not done."""
    before = "https://cdn.example/before-upscale.mp4"
    extra = {"detail": {"status": status, "video_url": before}, "url": before}
    result = ok(body(status=status, video_url=None, **extra)).result
    assert (result.state, result.video_url, result.problem) == (State.RUNNING, None, None)
    assert not result.final
    top = ok(body(status=status, video_url="https://cdn.example/top.mp4")).result
    assert top.state is State.RUNNING  # a URL does not make a step the end


@pytest.mark.parametrize("status", ["processing", "pending", "Brewing", "failed"])
def test_nested_urls_are_read_on_a_success_word_only(status: str) -> None:
    result = ok(body(status=status, detail={"video_url": "https://a/b.mp4"})).result
    assert result.video_url is None


def test_a_completed_veo_answer_prefers_the_upscaled_video() -> None:
    detail = {
        "video_url": "https://cdn.example/before.mp4",
        "upsample_video_url": "https://cdn.example/upscaled.mp4",
    }
    result = ok(body(status="completed", detail=detail)).result
    assert result.video_url == "https://cdn.example/upscaled.mp4"
    top = ok(body(status="completed", video_url="https://cdn.example/top.mp4", detail=detail))
    assert top.result.video_url == "https://cdn.example/top.mp4"  # the top level first


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"fail_reason": "content policy"}, "content policy"),
        ({"error_message": "upstream timeout"}, "upstream timeout"),
        ({"error": {"message": "nsfw", "code": "x"}}, "nsfw"),
        ({"error": "plain"}, "plain"),
        ({"detail": {"error": "deep"}}, "deep"),
    ],
)
def test_failure_reasons(extra: dict[str, object], reason: str) -> None:
    result = ok(body(status="failed", **extra)).result
    assert result.state is State.FAILED
    assert result.fail_reason == reason


def test_error_message_on_success_is_not_a_failure() -> None:
    result = ok(
        body(status="completed", video_url="https://a/b", error_message="retry 1 failed")
    ).result
    assert result.state is State.SUCCEEDED
    assert (result.fail_reason, result.error, result.problem) == (None, None, None)


@pytest.mark.parametrize("status", ["completed", "processing", "video_generation_completed"])
def test_veo_stale_error_texts_show_nowhere_unless_failed(status: str) -> None:
    """On a job that is not failed, veo's detail still holds text from retried attempts."""
    detail = {
        "error_message": "[403] reCAPTCHA evaluation failed",
        "video_generation_error": "unsafe prompt ... rejected by google",
    }
    result = ok(body(status=status, video_url="https://a/b.mp4", detail=detail)).result
    assert result.fail_reason is None
    assert result.error is None
    assert "reCAPTCHA" not in repr(result)
    assert "unsafe" not in repr(result)


def test_a_failed_veo_job_gives_its_reason_from_detail() -> None:
    detail = {"error_message": "upstream 400", "video_generation_error": "unsafe prompt"}
    result = ok(body(status="video_generation_failed", detail=detail)).result
    assert (result.state, result.fail_reason) == (State.FAILED, "unsafe prompt")
    only = ok(body(status="failed", detail={"error_message": "upstream 400"})).result
    assert only.fail_reason == "upstream 400"


def test_a_completed_veo_answer_gives_its_prompt_from_detail() -> None:
    raw = body(status="completed", video_url="https://a/b.mp4", detail={"enhanced_prompt": "A cow"})
    assert (
        ok(json.dumps({**json.loads(raw), "enhanced_prompt": None}).encode()).result.enhanced_prompt
        == "A cow"
    )
    top = ok(body(enhanced_prompt="top", detail={"enhanced_prompt": "nested"})).result
    assert top.enhanced_prompt == "top"


def test_the_last_non_empty_prompt_is_kept_across_answers() -> None:
    first = apply_outcome(TaskResultNone, ok(body(enhanced_prompt="A cow, enhanced")), NOW)
    later = ok(body(status="completed", video_url="https://a/b.mp4", enhanced_prompt=None))
    done = apply_outcome(first, later, NOW)
    assert (done.state, done.enhanced_prompt) == (State.SUCCEEDED, "A cow, enhanced")
    empty = apply_outcome(
        done, ok(body(status="completed", video_url="https://a/b.mp4", enhanced_prompt="")), NOW
    )
    assert empty.enhanced_prompt == "A cow, enhanced"
    newer = apply_outcome(empty, ok(body(enhanced_prompt="A cow, v2")), NOW)
    assert newer.enhanced_prompt == "A cow, v2"


def test_grok_prompt_is_the_prompt_sent_not_an_enhanced_one() -> None:
    raw = json.dumps(
        {
            "id": "grok:1",
            "status": "completed",
            "video_url": "https://a/b.mp4",
            "prompt": "一头牛\x1b[31m on the moon",
        }
    ).encode()
    result = ok(raw).result
    assert result.enhanced_prompt is None
    assert result.sent_prompt == "一头牛 on the moon"
    assert ok(body(prompt=["not", "text"])).result.sent_prompt is None  # an odd type: left out


def test_unknown_status_keeps_raw_word() -> None:
    result = ok(body(status="Brewing_Coffee")).result
    assert result.state is State.UNKNOWN
    assert result.status == "Brewing_Coffee"


def test_hostile_text_is_sanitised() -> None:
    result = ok(
        body(status="pending\x1b]2;owned\x07", enhanced_prompt="[@click=app.quit]hi\x1b[31m[/]\x9b")
    ).result
    assert result.status == "pending"
    assert result.state is State.QUEUED
    assert result.enhanced_prompt == "[@click=app.quit]hi[/]"


def test_progress_forms() -> None:
    assert ok(body(progress="45%")).result.progress == 45.0
    assert ok(body(progress=0.5)).result.progress == 50.0
    assert ok(body(detail={"progress": 80})).result.progress == 80.0
    assert ok(body(progress=True)).result.progress is None


def test_wrapped_data_envelope() -> None:
    raw = json.dumps({"code": "success", "data": json.loads(body(status="processing"))}).encode()
    assert ok(raw).result.state is State.RUNNING


def test_poll_after_hint() -> None:
    assert ok(body(), H({"openai-poll-after-ms": "2500"})).poll_after == 2.5
    assert ok(body(), H({"openai-poll-after-ms": "nan"})).poll_after is None


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"<html><body>502 Bad Gateway</body></html>", "HTML"),
        (b'{"id": "x", "status": "pen', "not valid JSON"),
        (b"\xff\xfe{}", "not"),
        (b"[1, 2]", "expected a JSON object"),
        (b'"just a string"', "expected a JSON object"),
        (b"{}", "missing field 'status'"),
        (json.dumps({"status": 5}).encode(), "status has type int"),
        (json.dumps({"status": ["x"]}).encode(), "status has type list"),
        (json.dumps({"code": "x", "message": "y"}).encode(), "missing field 'status'"),
        (json.dumps({"id": "x"}).encode(), "missing field 'status'"),
        (json.dumps({"id": "x", "task_id": "y"}).encode(), "missing field 'status'"),
        (json.dumps({"error": {"message": "model overloaded"}}).encode(), "model overloaded"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_bodies_are_bad_responses(raw: bytes, fragment: str) -> None:
    outcome = parse_response(200, H(), raw, now=NOW)
    assert isinstance(outcome, BadResponse), outcome
    assert fragment in outcome.reason
    assert "will retry" in outcome.message


def test_oversized_body_is_refused() -> None:
    outcome = parse_response(200, H(), b" " * (MAX_BODY + 1), now=NOW)
    assert isinstance(outcome, BadResponse)
    assert "larger than" in outcome.reason


@pytest.mark.parametrize("status", [401, 402, 403])
def test_auth_statuses(status: int) -> None:
    raw = json.dumps({"error": {"message": "Invalid token", "code": "invalid_api_key"}}).encode()
    outcome = parse_response(status, H(), raw, now=NOW)
    assert isinstance(outcome, AuthRejected)
    assert outcome.status == status
    assert "Invalid token" in outcome.message
    assert "QUICKROUTER_API_KEY" in outcome.message


def test_not_found_forms() -> None:
    # A 404 is about the task only when it says so; any other is the address's
    # (tests/test_wrong_url.py).
    raw404 = json.dumps({"code": "task_not_found", "message": "no", "data": None}).encode()
    assert isinstance(parse_response(404, H(), raw404, now=NOW), NotFound)
    raw = json.dumps({"code": "task_not_exist", "message": "task not exist", "data": None}).encode()
    outcome = parse_response(400, H(), raw, now=NOW)
    assert isinstance(outcome, NotFound)
    assert "task not exist" in outcome.message
    assert isinstance(parse_response(200, H(), raw, now=NOW), NotFound)


def test_other_400_is_bad_response() -> None:
    outcome = parse_response(400, H(), b'{"message": "bad id"}', now=NOW)
    assert isinstance(outcome, BadResponse)
    assert outcome.reason == "bad id"


def test_rate_limited_with_seconds_and_date() -> None:
    outcome = parse_response(429, H({"Retry-After": "7"}), b"", now=NOW)
    assert isinstance(outcome, RateLimited)
    assert outcome.retry_after == 7.0
    date = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    outcome = parse_response(429, H({"Retry-After": date}), b"<html>slow down</html>", now=NOW)
    assert isinstance(outcome, RateLimited)
    assert outcome.retry_after == 30.0
    outcome = parse_response(429, H(), b"", now=NOW)
    assert isinstance(outcome, RateLimited)
    assert outcome.retry_after is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("-5", 0.0),
        ("1.5", 1.5),
        ("99999999", MAX_RETRY_AFTER),
        ("inf", None),
        ("nan", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors(status: int) -> None:
    outcome = parse_response(status, H(), b"<html>oops</html>", now=NOW)
    assert isinstance(outcome, ServerError)
    assert outcome.status == status


def test_redirect_is_not_followed_and_explained() -> None:
    outcome = parse_response(302, H({"location": "https://evil.example/"}), b"", now=NOW)
    assert isinstance(outcome, BadResponse)
    assert "redirect" in outcome.reason


def test_a_304_is_not_called_a_redirect() -> None:
    outcome = parse_response(304, H(), b"", now=NOW)
    assert isinstance(outcome, BadResponse)
    assert "redirect" not in outcome.reason
    assert "304 Not Modified" in outcome.reason


GOOD_URL = "https://cdn.example/v/final.mp4"


@pytest.mark.parametrize(
    "bad",
    [
        {"status_update_time": True},
        {"status_update_time": [1]},
        {"status_update_time": {"ms": 1}},
        {"id": {"x": 1}},
        {"id": [1, 2]},
        {"id": True},
        {"enhanced_prompt": {"a": 1}},
        {"enhanced_prompt": 7},
        {"progress": {"p": 1}},
        {"thumbnail_url": ["https://x.example/t.jpg"]},
        {"detail": "not an object"},
        {"detail": {"video_url": {"a": 1}, "upsample_video_url": 3}},
    ],
    ids=lambda bad: f"{next(iter(bad))}={type(next(iter(bad.values()))).__name__}",
)
def test_a_field_of_the_wrong_type_is_ignored_and_the_rest_kept(bad: dict[str, object]) -> None:
    """A hostile field must not hide a good status and URL: it is left out, not fatal."""
    raw = json.dumps({"status": "completed", "video_url": GOOD_URL, **bad}).encode()
    result = ok(raw).result
    assert result.state is State.SUCCEEDED
    assert result.video_url == GOOD_URL
    assert result.problem is None


def test_a_video_url_that_is_not_text_is_a_bad_link_not_a_bad_answer() -> None:
    result = ok(json.dumps({"status": "completed", "video_url": 7}).encode()).result
    assert result.state is State.SUCCEEDED
    assert result.video_url is None
    assert result.problem is Problem.NO_URL
    assert "not a plain http(s) link" in (result.error or "")


@pytest.mark.parametrize("status", [None, "", "  "])
def test_an_empty_or_null_status_is_unknown_not_a_bad_answer(status: str | None) -> None:
    raw = json.dumps({"id": "grok:x", "status": status, "video_url": GOOD_URL}).encode()
    result = ok(raw).result
    assert result.state is State.UNKNOWN
    assert result.video_url == GOOD_URL


def test_a_task_answer_without_a_status_is_unknown() -> None:
    result = ok(json.dumps({"id": "grok:x", "progress": 40}).encode()).result
    assert result.state is State.UNKNOWN
    assert result.progress == 40.0


def test_veo_detail_fields_are_kept_as_extras() -> None:
    veo = {
        "id": "veo3.1-fast:1",
        "status": "completed",
        "video_url": GOOD_URL,
        "detail": {
            "id": "veo3.1-fast:1",
            "status": "completed",
            "running": False,
            "video_url": "https://cdn.example/v/before-upscaling.mp4",
            "upsample_status": "MEDIA_GENERATION_STATUS_SUCCESSFUL",
            "upsample_video_url": "https://cdn.example/v/upscaled.mp4",
            "error_message": "[403] reCAPTCHA evaluation failed",  # stale: left out
            "video_generation_error": "rejected by google",  # stale: left out
            "enhanced_prompt": "a long rewrite",  # kept as the prompt, not an extra
            "nested": {"a": 1},
            "evil_url": "javascript:alert(1)",
        },
    }
    result = ok(json.dumps(veo).encode()).result
    extras = dict(result.extras)
    assert extras["detail.upsample_video_url"] == "https://cdn.example/v/upscaled.mp4"
    assert extras["detail.video_url"] == "https://cdn.example/v/before-upscaling.mp4"
    assert extras["detail.upsample_status"] == "MEDIA_GENERATION_STATUS_SUCCESSFUL"
    assert extras["detail.running"] is False
    assert result.video_url == GOOD_URL  # never detail.video_url
    assert result.enhanced_prompt == "a long rewrite"
    for left_out in ("id", "status", "error_message", "video_generation_error", "nested"):
        assert f"detail.{left_out}" not in extras
    assert "detail.evil_url" not in extras  # the URL rule
    assert "detail.enhanced_prompt" not in extras


def test_veo_detail_extras_stay_within_the_caps() -> None:
    detail = {f"field_{n}": "x" * 400 for n in range(40)}
    result = ok(
        json.dumps({"status": "running", "ratio": "16:9", "detail": detail}).encode()
    ).result
    assert len(result.extras) <= MAX_EXTRAS
    assert sum(len(k) + len(str(v)) for k, v in result.extras) <= MAX_EXTRAS_SIZE
    assert result.extras[0] == ("ratio", "16:9")  # the answer's own fields come first


# --------------------------------------------------------------------------- which task


@pytest.mark.parametrize("body_id", ["033fa60e-f37c", "abc", "grok:abc", "sora-2:xyz", 7, None, ""])
def test_an_answer_is_never_refused_for_its_id(body_id: object) -> None:
    """The doc's example answers grok:eee6… with an unrelated upstream id: it is about
    the asked task (no id check at all; the id is kept as extra detail)."""
    raw = body(id=body_id, status="completed", video_url="https://cdn.example/x.mp4")
    result = ok(raw).result
    assert (result.state, result.video_url) == (State.SUCCEEDED, "https://cdn.example/x.mp4")
    assert result.server_id == (str(body_id) if body_id not in (None, "") else None)
    assert result.problem is None


def _answer(body_id: str, status: str, at: int) -> Ok:
    return ok(body(id=body_id, status=status, status_update_time=at))


def test_the_first_server_id_is_kept_and_a_change_is_noted_in_the_timeline() -> None:
    first = apply_outcome(TaskResultNone, _answer("033fa60e", "pending", 1_750_000_000), NOW)
    assert first.server_id == "033fa60e"
    same = apply_outcome(first, _answer("033fa60e", "pending", 1_750_000_001), NOW)
    assert len(same.history) == 1  # nothing moved, nothing to note
    changed = apply_outcome(same, _answer("9abc0001", "pending", 1_750_000_002), NOW)
    assert changed.server_id == "033fa60e"  # the first one stays the task's
    assert (changed.state, changed.status) == (State.QUEUED, "pending")  # the answer is kept
    assert [t.server_id for t in changed.history] == ["", "9abc0001"]
    assert changed.history[1].repeats(changed.history[0])  # a note, not a status move
    again = apply_outcome(changed, _answer("9abc0001", "processing", 1_750_000_003), NOW)
    assert [(t.status, t.server_id) for t in again.history][-1] == ("processing", "9abc0001")
    still = apply_outcome(again, _answer("9abc0001", "processing", 1_750_000_004), NOW)
    assert still.history == again.history  # the same new id again: noted once
    quiet = apply_outcome(still, ok(body(id=None, status="processing")), NOW)
    assert quiet.history == again.history
    assert quiet.server_id == "033fa60e"
    back = apply_outcome(still, _answer("033fa60e", "completed", 1_750_000_005), NOW)
    assert back.history[-1].server_id == ""  # the task's own id again


def test_a_note_after_the_end_does_not_change_how_long_it_ran() -> None:
    result = apply_outcome(TaskResultNone, _answer("a", "processing", 1_750_000_000), NOW)
    result = apply_outcome(
        result,
        ok(
            body(
                id="a",
                status="completed",
                video_url="https://x/v.mp4",
                status_update_time=1_750_000_060,
            )
        ),
        NOW,
    )
    assert result.ran_for() == 60.0
    noted = apply_outcome(
        result,
        ok(
            body(
                id="b",
                status="completed",
                video_url="https://x/v.mp4",
                status_update_time=1_750_000_900,
            )
        ),
        NOW,
    )
    assert len(noted.history) == 3
    assert noted.ran_for() == 60.0


# --------------------------------------------------------------------------- extra fields


def test_a_finished_grok_answer_keeps_its_thumbnail_and_other_fields() -> None:
    raw = json.dumps(
        {
            "id": "grok:5cdad6a7",
            "status": "completed",
            "error": "",
            "model": "grok-3",
            "ratio": "1:1",
            "prompt": "a cow",
            "progress": 100,
            "upscaled": True,
            "video_id": "13e29068",
            "video_url": "https://cdn.example/v.mp4",
            "completed_at": 1764745713,
            "thumbnail_url": "https://cdn.example/t.jpg",
            "status_update_time": 1764745713,
        }
    ).encode()
    result = ok(raw).result
    assert result.thumbnail_url == "https://cdn.example/t.jpg"
    assert dict(result.extras) == {
        "model": "grok-3",
        "ratio": "1:1",
        "upscaled": True,
        "video_id": "13e29068",
        "completed_at": 1764745713,
    }  # what has a field of its own (prompt, progress, the empty error…) is not repeated
    assert result.progress == 100.0


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "https://a/b\x1b]52;c;x\x07", "-o /tmp/x", 7, ["x"]]
)
def test_a_thumbnail_that_fails_the_url_rule_is_dropped_and_the_answer_kept(url: object) -> None:
    result = ok(body(status="completed", video_url="https://a/b.mp4", thumbnail_url=url)).result
    assert result.thumbnail_url is None
    assert (result.state, result.video_url) == (State.SUCCEEDED, "https://a/b.mp4")


def test_hostile_extra_fields_cannot_bloat_or_break_the_record() -> None:
    many = {f"field_{n}": "x" * 200 for n in range(40)}
    fields = {
        "status": "completed",
        "video_url": "https://a/b.mp4",
        "nested": {"a": {"b": [1, 2, 3]}},
        "listed": [1, 2],
        "nothing": None,
        "empty": "",
        "bad name!": "x",
        "\u202ehidden": "x",
        "escaped": "red\x1b[31m text\u200b",
        "long": "y" * 5000,
        "cover_url": "javascript:alert(1)",
        "gif_url": "https://cdn.example/a.gif",
        **many,
    }
    # numbers JSON can spell but TOML cannot hold: infinity, beyond 64 bits
    raw = ('{"huge": 1e999, "big": 1' + "0" * 30 + ", " + json.dumps(fields)[1:]).encode()
    result = ok(raw).result
    extras = dict(result.extras)
    assert "nested" not in extras
    assert "listed" not in extras
    assert "nothing" not in extras
    assert "empty" not in extras
    assert "huge" not in extras
    assert "big" not in extras
    assert "bad name!" not in extras
    assert not any("\u202e" in k for k in extras)
    assert extras["escaped"] == "red text"
    assert extras["long"] == "y" * (MAX_EXTRA_TEXT - 1) + "…"  # cut, and says so
    assert "cover_url" not in extras  # a link that fails the URL rule is never kept
    assert extras["gif_url"] == "https://cdn.example/a.gif"
    assert len(extras) <= MAX_EXTRAS
    assert sum(len(k) + (len(v) if isinstance(v, str) else 8) for k, v in extras.items()) <= (
        MAX_EXTRAS_SIZE
    )
