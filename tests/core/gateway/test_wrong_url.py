"""A wrong base URL, and a task the server does not have (issue 16, items 5 and 6).

new-api answers an unknown route (a base URL that already ends in ``/v1`` asks for
``/v1/v1/video/query``) with a 404 ``Invalid URL`` *before* it looks at the key; a proxy in
front answers its own HTML 404 page. Neither says anything about the task or the key: the
address is wrong, polling waits until it is fixed, and no task is marked "not found". An
unknown task is a 400 ``task_not_exist`` (or a 404 that says so): it is confirmed a few
times at the polling floor, then given up, and ``wait`` ends on it at once.
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from vidwatch.cli import EXIT_FAILED, EXIT_KEY, EXIT_OK, EXIT_UNREACHABLE
from vidwatch.core.clients import client_for
from vidwatch.core.config import Config, load_config
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.gateway.outcomes import NotFound, Ok, Outcome, WrongUrl
from vidwatch.core.gateway.parsing import parse_response
from vidwatch.core.gateway.wording import describe
from vidwatch.core.model.records import Problem, State, Task, TaskRecord, TaskResult
from vidwatch.core.polling.budget import Policy
from vidwatch.core.polling.scheduler import KNOWN_NOT_FOUND_LIMIT, NOT_FOUND_LIMIT, Scheduler

from tests.cli.test_cli import Run
from tests.support.keeper import polled
from tests.support.routed_gateway import NGINX_404, QUERY, LoopbackGateway, RoutedGateway
from tests.support.waits import eventually

KEY = "sk-test-0123456789"
CAPTURES = Path("/work/shared/captures/query-answers.json")
RUNNING = {"status": "processing", "video_url": None, "status_update_time": 1750323167}


def capture(name: str) -> dict[str, Any]:
    entries: list[dict[str, Any]] = json.loads(CAPTURES.read_text(encoding="utf-8"))
    return next(e for e in entries if e["name"] == name)


def parsed(status: int, body: bytes | dict[str, Any]) -> Outcome:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_response(status, httpx.Headers(), raw)


# --------------------------------------------------------------------------- parsing


@pytest.mark.skipif(not CAPTURES.exists(), reason="the shared captures are not here")
def test_the_captured_error_answers_mean_what_the_captures_say() -> None:
    relay = capture("RelayNotFound 404")  # "a wrong base URL (not 'not found', not 'key accepted')"
    outcome = parsed(relay["http_status"], relay["body"])
    assert isinstance(outcome, WrongUrl)
    assert outcome.problem is Problem.WRONG_URL
    assert "Invalid URL (GET /v1/v1/video/query)" in outcome.message
    gone = capture("task_not_exist 400")  # "the server does not know the task"
    assert isinstance(parsed(gone["http_status"], gone["body"]), NotFound)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"error": {"message": "Invalid URL (GET /v1/v1/video/query)", "code": ""}}, "Invalid"),
        (NGINX_404, "an HTML page"),  # a proxy's page
        (b"404 page not found\n", "404 page not found"),  # Go's own
        ({"detail": "Not Found"}, ""),  # a web framework's
        (b"", ""),
    ],
)
def test_a_404_that_is_not_about_the_task_is_a_wrong_address(
    body: bytes | dict[str, Any], said: str
) -> None:
    outcome = parsed(404, body)
    assert isinstance(outcome, WrongUrl)
    assert said in outcome.detail
    assert "<" not in outcome.message  # a page is described, never shown


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"code": "task_not_exist", "message": "task_not_exist", "data": None}),
        (404, {"code": "task_not_found", "message": "no", "data": None}),
        (404, {"error": {"message": "task_not_exist", "type": "new_api_error"}}),
        (404, {"error": {"message": "Task not found", "code": "not_found"}}),
        (404, {"message": "task does not exist"}),
        (404, {"message": "任务不存在"}),
        (400, {"message": "no such task"}),
    ],
)
def test_a_gateway_that_says_the_task_is_unknown_is_believed(
    status: int, body: dict[str, Any]
) -> None:
    assert isinstance(parsed(status, body), NotFound)


def test_a_400_about_something_else_is_still_no_answer_about_the_task() -> None:
    assert not isinstance(parsed(400, {"message": "bad id"}), NotFound | WrongUrl)


# --------------------------------------------------------------------------- the client


def routed_client(base_url: str, gateway: RoutedGateway, key: str = KEY) -> QueryClient:
    return QueryClient(base_url, key, transport=gateway.transport())


async def test_the_client_names_the_address_it_asked_and_the_fix() -> None:
    gateway = RoutedGateway(KEY)
    async with routed_client("https://gw.example/v1/", gateway, key="sk-wrong-key-000") as c:
        outcome = await c.query("grok:abc")
    assert isinstance(outcome, WrongUrl)  # before the key: a wrong key changes nothing
    assert outcome.url == "https://gw.example/v1/v1/video/query"
    assert "base_url should not end in /v1" in outcome.fix
    assert "set it to https://gw.example" in outcome.fix
    assert "sk-wrong" not in outcome.message
    async with routed_client("https://gw.example/api", gateway) as c:
        other = await c.query("grok:abc")
    assert isinstance(other, WrongUrl)
    assert "the gateway's address alone" in other.fix
    assert "https://gw.example/api" in other.fix
    said = describe(other, "gw.example")
    assert "https://gw.example/api/v1/video/query" in said


# --------------------------------------------------------------------------- config


def test_a_base_url_ending_in_v1_is_warned_about_when_the_config_is_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('base_url = "https://api.quickrouter.ai/v1/"\n', encoding="utf-8")
    warnings = load_config(path, env={}).warnings
    assert any("ends in /v1" in w and "set it to https://api.quickrouter.ai" in w for w in warnings)
    env = {"QUICKROUTER_BASE_URL": "https://gw.example/V1"}
    from_env = load_config(tmp_path / "none.toml", env=env).warnings
    assert any(w.startswith("QUICKROUTER_BASE_URL") for w in from_env)
    plain = {"QUICKROUTER_BASE_URL": "https://gw.example/v1beta"}
    assert load_config(tmp_path / "none.toml", env=plain).warnings == ()


# --------------------------------------------------------------------------- scheduling

POLICY = Policy(min_interval=3, max_interval=60, concurrency=8, max_requests_per_second=1000)
GONE = NotFound(400, "task_not_exist")
WRONG = WrongUrl(404, "Invalid URL (GET /v1/v1/video/query)")
RUN = Ok(TaskResult(State.RUNNING, "processing"))


def scheduler(*ids: str, known: bool = False) -> Scheduler:
    sched = Scheduler(POLICY, rng=random.Random(1))
    for task_id in ids:
        sched.track(task_id, None, now=0.0, known=known)
    return sched


def answer(sched: Scheduler, now: float, outcome: Outcome) -> str:
    task = sched.next_task(now)
    assert task is not None, f"nothing due at {now}"
    sched.complete(task, outcome, now)
    return task


def test_an_unknown_task_is_confirmed_at_the_polling_floor_then_given_up() -> None:
    sched = scheduler("grok:typo")
    now = 0.0
    for _ in range(NOT_FOUND_LIMIT - 1):
        answer(sched, now, GONE)
        due = sched.due_at("grok:typo")
        assert due is not None
        assert due == pytest.approx(now + POLICY.min_interval)  # not minutes apart
        now = due
    answer(sched, now, GONE)
    assert sched.gave_up("grok:typo")
    assert now <= (NOT_FOUND_LIMIT - 1) * POLICY.min_interval
    assert sched.given_up("grok:typo") == f"not found {NOT_FOUND_LIMIT} times"


def test_a_task_vidwatch_created_is_not_given_up_on_a_few_not_founds() -> None:
    sched = scheduler("veo3:made", known=True)  # the gateway answered a create with it
    now = 0.0
    for _ in range(KNOWN_NOT_FOUND_LIMIT - 1):
        answer(sched, now, GONE)
        assert not sched.gave_up("veo3:made")
        now = sched.due_at("veo3:made") or now
    answer(sched, now, GONE)
    assert sched.gave_up("veo3:made")


def test_a_wrong_address_halts_polling_and_marks_no_task() -> None:
    sched = scheduler("grok:a", "grok:b")
    answer(sched, 0.0, WRONG)
    assert sched.halted is WRONG
    assert sched.next_task(100.0) is None  # nothing more until it is fixed
    assert sched.next_wakeup(100.0) is None
    for task_id in ("grok:a", "grok:b"):
        assert not sched.gave_up(task_id)
        assert not sched.is_done(task_id)
    for _ in range(5):  # however many times it happens
        sched.resume(1.0)
        answer(sched, 1.0, WRONG)
    assert not sched.gave_up("grok:a")
    assert not sched.gave_up("grok:b")
    sched.resume(2.0)  # fixed: both are asked at once
    asked = {answer(sched, 2.0, RUN), answer(sched, 2.0, RUN)}
    assert asked == {"grok:a", "grok:b"}
    assert sched.halted is None


# --------------------------------------------------------------------------- the poller

FAST = Policy(min_interval=0.01, max_interval=0.05, concurrency=4, max_requests_per_second=1000)


def record(task_id: str) -> TaskRecord:
    return TaskRecord(Task(task_id, datetime(2026, 1, 1, tzinfo=UTC)))


async def test_the_poller_pauses_on_a_wrong_address_and_says_so_until_resumed() -> None:
    gateway = RoutedGateway(KEY, {"grok:a": RUNNING})
    client = routed_client("https://gw.example/v1", gateway)
    poller = polled(client, FAST, {"grok:a": record("grok:a"), "grok:b": record("grok:b")})
    runner = asyncio.create_task(poller.run())
    try:
        await eventually(lambda: poller.status.url_error is not None)
        status = poller.status
        assert status.label == "paused: wrong base URL"
        assert "set it to https://gw.example" in (status.url_error or "")
        asked = len(gateway.paths)
        assert asked <= FAST.concurrency  # what was in flight, then nothing
        for result in (r.result for r in poller.records.values()):
            assert result.problem is not Problem.NOT_FOUND
        assert not any(poller.given_up(i) for i in poller.records)
        await asyncio.sleep(0.2)  # a window in which nothing may be asked
        assert len(gateway.paths) == asked
    finally:
        poller.stop()
        await runner
        await client.aclose()
    fixed = routed_client("https://gw.example", gateway)
    poller.set_client(fixed, "gw.example")  # what the dashboard does once base_url is fixed
    runner = asyncio.create_task(poller.run())
    try:
        await eventually(lambda: poller.records["grok:a"].result.state is State.RUNNING)
        await eventually(lambda: poller.is_done("grok:b"))  # really unknown: given up
        assert poller.status.url_error is None
        assert poller.status.label == "live"
    finally:
        poller.stop()
        await runner
        await fixed.aclose()


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("QUICKROUTER_API_KEY", KEY)
    return Run(tmp_path)


def serve(monkeypatch: pytest.MonkeyPatch, gateway: RoutedGateway, base_url: str) -> None:
    monkeypatch.setenv("QUICKROUTER_BASE_URL", base_url)

    def make(config: Config) -> QueryClient:
        return client_for(config, transport=gateway.transport())

    monkeypatch.setattr("vidwatch.cli.network.make_client", make)


@pytest.mark.parametrize("key", [KEY, "sk-wrong-0123456789"])
def test_check_with_a_base_url_ending_in_v1_exits_5_and_says_what_to_fix(
    run: Run, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("QUICKROUTER_API_KEY", key)
    serve(monkeypatch, RoutedGateway(KEY), "https://gw.example/v1")
    code, out, err = run("check")
    assert code == EXIT_UNREACHABLE
    assert "accepted" not in out
    assert "https://gw.example/v1/v1/video/query" in out  # the address it asked
    assert "base_url should not end in /v1" in out
    assert "set it to https://gw.example" in out
    assert "not checked" in out
    assert key not in out + err


@pytest.mark.parametrize("proxy_page", [False, True])
def test_create_with_a_base_url_ending_in_v1_says_what_check_says_and_exits_5(
    run: Run, monkeypatch: pytest.MonkeyPatch, proxy_page: bool
) -> None:
    gateway = RoutedGateway(KEY, proxy_page=proxy_page)
    serve(monkeypatch, gateway, "https://gw.example/v1")
    code, out, err = run("create", "--yes", "a cat")
    assert code == EXIT_UNREACHABLE, err
    assert out == ""
    assert "https://gw.example/v1/v1/video/create" in err  # the address it asked
    assert "base_url should not end in /v1" in err  # check's words
    assert "set it to https://gw.example" in err
    assert "nothing was paid" in err
    assert "may have been made" not in err
    assert KEY not in out + err
    code, _, err = run("create", "--yes", "a cat")  # not sent: nothing to resolve, no --resend
    assert code == EXIT_UNREACHABLE, err
    assert "--resend" not in err
    assert gateway.asked("/v1/v1/video/create") == 2


@pytest.mark.parametrize(
    ("key", "code", "said"),
    [(KEY, EXIT_OK, "API key   accepted"), ("sk-wrong-0123456789", EXIT_KEY, "rejected")],
)
def test_check_with_the_right_base_url_tells_the_key(
    run: Run, monkeypatch: pytest.MonkeyPatch, key: str, code: int, said: str
) -> None:
    monkeypatch.setenv("QUICKROUTER_API_KEY", key)
    serve(monkeypatch, RoutedGateway(KEY), "https://gw.example")
    got, out, _ = run("check")
    assert got == code
    assert said in out


def test_check_behind_a_proxy_that_answers_its_own_404_page(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, RoutedGateway(KEY, proxy_page=True), "https://gw.example/gateway")
    code, out, _ = run("check")
    assert code == EXIT_UNREACHABLE
    assert "an HTML page" in out
    assert "<html" not in out
    assert "https://gw.example/gateway/v1/video/query" in out
    assert "accepted" not in out


def test_poll_with_a_wrong_base_url_marks_no_task_and_says_it_once(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("add", "grok:1", "grok:2", "grok:3")
    serve(monkeypatch, RoutedGateway(KEY, {"grok:1": RUNNING}), "https://gw.example/v1")
    code, out, err = run("poll")
    assert code == EXIT_UNREACHABLE
    assert (out + err).count("should not end in /v1") == 1
    stored = json.loads(run("list", "--json")[1])
    assert all(d["problem"] is None and d["error"] is None for d in stored), stored
    assert {d["state"] for d in stored} == {"new"}


def test_wait_with_a_wrong_base_url_says_it_once_and_exits_5(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, RoutedGateway(KEY, {"grok:1": RUNNING}), "https://gw.example/v1")
    code, out, err = run("wait", "grok:1", "grok:2", "--timeout", "60")
    assert code == EXIT_UNREACHABLE
    assert (out + err).count("should not end in /v1") == 1
    assert out == ""
    stored = json.loads(run("list", "--json")[1])
    assert all(d["problem"] is None for d in stored)


def fast_polling(tmp_path: Path) -> str:
    """A config file whose polling floor is short (the backoff ceiling stays a minute)."""
    path = tmp_path / "fast.toml"
    path.write_text("[polling]\nmin_interval = 0.05\n", encoding="utf-8")
    return str(path)


def test_wait_on_a_task_the_server_does_not_have_ends_at_once_naming_it(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gateway = RoutedGateway(KEY)
    serve(monkeypatch, gateway, "https://gw.example")
    code, out, err = run("--config", fast_polling(tmp_path), "wait", "grok:typo", "--timeout", "60")
    assert code == EXIT_FAILED  # not 2 after a minute's timeout
    assert out == ""
    assert "grok:typo: The server does not know this task (HTTP 400)" in err
    assert f"not found {NOT_FOUND_LIMIT} times" in err
    assert "check the ID and base_url" in err
    assert "press r" not in err  # the dashboard's words, not a command's
    assert gateway.asked(QUERY) == NOT_FOUND_LIMIT


def test_wait_goes_on_for_the_others_once_one_is_given_up(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    done = {"status": "completed", "video_url": "https://v.example/a.mp4"}
    gateway = RoutedGateway(KEY, {"grok:real": done})
    serve(monkeypatch, gateway, "https://gw.example")
    config = fast_polling(tmp_path)
    code, out, err = run("--config", config, "wait", "grok:real", "grok:typo", "--timeout", "60")
    assert code == EXIT_FAILED
    assert out == "grok:real\thttps://v.example/a.mp4\n"
    assert "grok:typo: The server does not know this task" in err  # told as it is given up


@pytest.mark.e2e
def test_check_over_loopback_with_a_base_url_ending_in_v1(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The production transport against a server that routes as new-api does."""
    with LoopbackGateway(RoutedGateway(KEY)) as server:
        monkeypatch.setenv("QUICKROUTER_BASE_URL", server.base_url + "/v1")
        code, out, err = run("check")
        assert code == EXIT_UNREACHABLE
        assert f"{server.base_url}/v1/v1/video/query" in out
        assert f"set it to {server.base_url}" in out
        assert "ends in /v1" in err  # the config warning, before anything is asked
        monkeypatch.setenv("QUICKROUTER_BASE_URL", server.base_url)
        code, out, _ = run("check")
        assert code == EXIT_OK
        assert "API key   accepted" in out
