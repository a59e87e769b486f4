"""Failures said as a person would, and polling that says when the server is out of reach."""

from __future__ import annotations

from collections import deque

import pytest
from vidwatch.core.gateway.outcomes import NetworkError, NotFound, Ok, Outcome, ServerError
from vidwatch.core.gateway.wording import describe
from vidwatch.core.model.records import State, Task, TaskRecord, TaskResult, utcnow
from vidwatch.core.polling.budget import Policy
from vidwatch.core.polling.events import PollerStatus
from vidwatch.core.polling.poller import UNREACHABLE_AFTER, Poller
from vidwatch.core.polling.scheduler import NOT_FOUND_LIMIT
from vidwatch.core.text.wording import host_of

from tests.support.keeper import polled

FAST = Policy(min_interval=0.01, max_interval=0.05, concurrency=4, max_requests_per_second=1000)
AIOHTTP_REFUSED = (
    "ClientConnectorError: Cannot connect to host api.quickrouter.ai:443 ssl:default "
    "[Connect call failed ('203.0.113.9', 443)]"
)


@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        (AIOHTTP_REFUSED, "the connection was refused"),
        ("ConnectError: [Errno 111] Connection refused", "the connection was refused"),
        ("ConnectError: [Errno -2] Name or service not known", "the name does not resolve"),
        ("ConnectError: [SSL: CERTIFICATE_VERIFY_FAILED]", "its certificate was not accepted"),
        ("ReadError: [Errno 104] Connection reset by peer", "the connection was reset"),
        ("ServerDisconnectedError: Server disconnected", "the server closed the connection"),
        ("SomethingOdd: ???", "the connection failed"),
    ],
)
def test_network_errors_are_said_plainly(reason: str, cause: str) -> None:
    said = describe(NetworkError(reason), "api.quickrouter.ai")
    assert said.startswith(f"cannot reach api.quickrouter.ai: {cause}")
    for internal in ("ssl:default", "Errno", "ClientConnectorError", "will retry", "Connect call"):
        assert internal not in said


def test_a_timeout_and_an_unknown_host_are_said_too() -> None:
    timed_out = NetworkError("x", timeout=True)
    assert describe(timed_out, "h.example") == "no answer from h.example in time"
    refused = NetworkError("refused")
    assert describe(refused) == "cannot reach the server: the connection was refused"
    assert describe(ServerError(502), "h.example") == "h.example failed to answer (HTTP 502)"


@pytest.mark.parametrize(
    ("base_url", "host"),
    [
        ("https://api.quickrouter.ai", "api.quickrouter.ai"),
        ("https://api.quickrouter.ai/v1/", "api.quickrouter.ai"),
        ("http://127.0.0.1:9", "127.0.0.1:9"),
        ("http://[::1]:8080", "[::1]:8080"),
        ("https://evil\u202e\u200b.example", "evil.example"),  # bidi and invisible: gone
        ("https://x.example\x1b[31m", "https://x.example"),  # unparsable: shown whole, safe
    ],
)
def test_the_host_is_shown_sanitised(base_url: str, host: str) -> None:
    assert host_of(base_url) == host


# --------------------------------------------------------------------------- the poller


class Script:
    """Each task answers from its script; the last answer repeats."""

    def __init__(self, answers: list[Outcome]) -> None:
        self.answers = deque(answers)

    async def query(self, task_id: str) -> Outcome:
        return self.answers.popleft() if len(self.answers) > 1 else self.answers[0]


def running() -> Ok:
    return Ok(TaskResult(State.RUNNING, "processing", checked_at=utcnow()))


def poller_for(answers: list[Outcome]) -> Poller:
    poller = polled(None, FAST, {"grok:a": TaskRecord(Task("grok:a", utcnow()))})
    poller.set_client(Script(answers), "api.quickrouter.ai")
    return poller


async def one_poll(poller: Poller) -> PollerStatus:
    updates = await poller.poll_pass(["grok:a"])
    assert len(updates) == 1
    return poller.status


async def test_offline_when_nothing_was_ever_reached_and_cleared_by_an_answer() -> None:
    refused = NetworkError(AIOHTTP_REFUSED)
    poller = poller_for([refused, running()])
    status = await one_poll(poller)
    assert status.unreachable == "api.quickrouter.ai"
    assert status.label == "offline: cannot reach api.quickrouter.ai"
    error = poller.records["grok:a"].result.error
    assert error == "cannot reach api.quickrouter.ai: the connection was refused"
    status = await one_poll(poller)  # one answer: reachable again
    assert status.unreachable is None
    assert status.label == "live"
    await poller.aclose()


async def test_once_reached_one_lost_request_is_no_outage() -> None:
    lost = NetworkError("ReadError: [Errno 104] Connection reset by peer")
    poller = poller_for([running(), *[lost] * UNREACHABLE_AFTER, running()])
    assert (await one_poll(poller)).unreachable is None
    for _ in range(UNREACHABLE_AFTER - 1):
        assert (await one_poll(poller)).unreachable is None
    assert (await one_poll(poller)).unreachable == "api.quickrouter.ai"  # every recent one failed
    assert (await one_poll(poller)).unreachable is None
    await poller.aclose()


async def test_a_paused_poller_says_paused_even_when_unreachable() -> None:
    poller = poller_for([NetworkError("refused")])
    await one_poll(poller)
    poller.pause()
    assert poller.status.label == "paused"
    await poller.aclose()


async def test_a_task_given_up_says_why_and_how_many_times() -> None:
    poller = poller_for([NotFound(404)])
    await poller.run(until=lambda: poller.is_done("grok:a"))
    await poller.aclose()
    why = f"not found {NOT_FOUND_LIMIT} times"
    assert poller.given_up("grok:a") == why
    error = poller.records["grok:a"].result.error or ""
    assert error.endswith(f"(given up: {why})")  # a fact: the key to press is the dashboard's


async def test_a_finished_task_is_not_given_up() -> None:
    done = Ok(TaskResult(State.SUCCEEDED, "completed", video_url="https://v.example/a.mp4"))
    poller = poller_for([done])
    await poller.run(until=lambda: poller.is_done("grok:a"))
    await poller.aclose()
    assert poller.given_up("grok:a") is None
