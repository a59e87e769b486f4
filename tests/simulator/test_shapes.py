"""The simulator speaks the real gateways' shapes: raw bodies, per model family, as in
``shared/captures/query-answers.json`` and ``shared/api.md``; new-api's error envelopes;
the answer's id in each style; kept-alive connections closed silently when idle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.gateway.outcomes import AuthRejected, NotFound, Ok
from vidwatch.core.model.records import State
from vidwatch.simulator.jobs import VEO_STEPS, Job
from vidwatch.simulator.server import Simulator
from vidwatch.simulator.shapes import STALE_ERROR

from tests.simulator.test_server import Clock
from tests.support.waits import eventually

# The key sets of the captured bodies (shared/captures/query-answers.json).
GROK_COMPLETED = {
    "id", "mode", "type", "error", "model", "ratio", "prompt", "status", "post_id",
    "asset_id", "progress", "trace_id", "upscaled", "video_id", "video_url",
    "completed_at", "thumbnail_url", "video_file_id", "thumbnail_file_id",
    "status_update_time", "upscale_on_complete",
}  # fmt: skip
GROK_PROCESSING = {"id", "status", "status_update_time"}
VEO_COMPLETED = {"id", "detail", "status", "video_url", "status_update_time"}
VEO_COMPLETED_DETAIL = {
    "id", "status", "running", "video_url", "error_message", "enhanced_prompt",
    "upsample_status", "upsample_video_url", "video_generation_error",
    "video_generation_status",
}  # fmt: skip
SECONDS = 1e12  # status_update_time below this is in seconds, above in milliseconds


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(jobs=0, seed=3, clock=Clock(), fail_rate=0.0)
    await simulator.start()
    yield simulator
    await simulator.stop()


def at(sim: Simulator, seconds: float) -> None:
    assert isinstance(sim.clock, Clock)
    sim.clock.now = seconds


_CLIENTS: dict[int, httpx.AsyncClient] = {}


@pytest.fixture(autouse=True)
async def one_client() -> AsyncIterator[None]:
    """One plain HTTP client per test (a client per request costs ~0.1 s of CPU)."""
    async with httpx.AsyncClient() as client:
        _CLIENTS[0] = client
        yield
    _CLIENTS.clear()


async def raw(sim: Simulator, task_id: str, key: str | None = None) -> httpx.Response:
    return await _CLIENTS[0].get(
        f"{sim.base_url}/v1/video/query",
        params={"id": task_id},
        headers={"Authorization": f"Bearer {key or sim.api_key}"},
    )


async def body(sim: Simulator, task_id: str) -> dict[str, Any]:
    answer = await raw(sim, task_id)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert isinstance(data, dict)
    return data


def job_of(sim: Simulator, task_id: str) -> Job:
    return sim.jobs[task_id]


async def test_grok_answers_like_the_live_captures(sim: Simulator) -> None:
    task_id = sim.add_job(model="grok", queue_time=5, duration=30, fails=False, ratio="3:2")
    pending = await body(sim, task_id)
    assert set(pending) == GROK_PROCESSING
    assert pending["status"] == "pending"
    at(sim, 10)
    running = await body(sim, task_id)
    assert set(running) == GROK_PROCESSING
    assert running["status"] == "processing"
    assert running["id"] == task_id  # the asked id, echoed (prefix included)
    assert running["status_update_time"] < SECONDS  # grok counts in seconds
    at(sim, 40)
    done = await body(sim, task_id)
    assert set(done) == GROK_COMPLETED
    assert done["status"] == "completed"
    assert done["error"] == ""
    assert done["prompt"] == job_of(sim, task_id).prompt  # the prompt sent, no rewrite
    assert done["progress"] == 100
    assert done["ratio"] == "3:2"
    assert done["completed_at"] == done["status_update_time"] < SECONDS
    video = await _CLIENTS[0].get(done["video_url"])
    still = await _CLIENTS[0].get(done["thumbnail_url"])
    assert video.content == job_of(sim, task_id).video()
    assert still.status_code == 200
    assert still.headers["content-type"] == "image/jpeg"
    assert still.content.startswith(b"\xff\xd8\xff")  # a JPEG
    assert still.content.endswith(b"\xff\xd9")
    assert sim.stats.key_sent_to_video_host == 0


async def test_a_failed_grok_job_says_why_in_error(sim: Simulator) -> None:
    task_id = sim.add_job(model="grok", queue_time=0, duration=1, fails=True)
    at(sim, 5)
    failed = await body(sim, task_id)
    assert failed["status"] == "failed"
    assert failed["error"] == job_of(sim, task_id).fail_reason != ""
    assert "video_url" not in failed
    assert "thumbnail_url" not in failed


async def test_veo_goes_through_its_seven_steps_with_the_video_before_upscaling(
    sim: Simulator,
) -> None:
    task_id = sim.add_job(model="veo3.1-fast", queue_time=10, duration=100, fails=False)
    job = job_of(sim, task_id)
    draft = sim.links(job).draft
    after_generation = [*[step for step, _ in VEO_STEPS][2:], "completed"]
    seen: list[str] = []
    for second in range(0, 115):
        at(sim, second)
        answer = await body(sim, task_id)
        word = answer["status"]
        if not seen or seen[-1] != word:
            seen.append(word)
        assert answer["detail"]["status"] == word
        assert answer["status_update_time"] > SECONDS  # veo counts in milliseconds
        if word != "completed":
            assert answer["video_url"] is None  # the final video only once completed
            assert answer["detail"]["running"] is True
            assert answer["enhanced_prompt"] == job.prompt
        generated = word in after_generation  # the video before upscaling exists
        assert (answer["detail"].get("video_url") == draft) is generated
    assert seen == ["pending", *(step for step, _ in VEO_STEPS), "completed"]
    assert set(answer) == VEO_COMPLETED  # no top-level prompt once completed
    detail = answer["detail"]
    assert answer["video_url"] == detail["upsample_video_url"] != detail["video_url"] == draft
    assert detail["enhanced_prompt"] == job.prompt
    assert detail["running"] is False
    before = await _CLIENTS[0].get(draft)
    after = await _CLIENTS[0].get(answer["video_url"])
    assert before.status_code == after.status_code == 200
    assert before.content != after.content


async def test_a_veo_success_may_carry_stale_error_text(sim: Simulator) -> None:
    """As in the captured sample: text from retried attempts, on a job that succeeded."""
    ids = [sim.add_job(model="veo3", queue_time=0, duration=1, fails=False) for _ in range(12)]
    at(sim, 5)
    details = [(await body(sim, i))["detail"] for i in ids]
    stale = [d for d in details if "error_message" in d]
    assert 0 < len(stale) < len(details)  # some were retried, some not
    assert all(set(d) == VEO_COMPLETED_DETAIL for d in stale)
    assert all(d["error_message"] == STALE_ERROR and d["video_generation_error"] for d in stale)
    assert all(d["status"] == "completed" for d in details)


async def test_veo_failures_say_why_in_detail(sim: Simulator) -> None:
    ids = [sim.add_job(model="veo3.1", queue_time=0, duration=10, fails=True) for _ in range(12)]
    at(sim, 20)
    failures = {i: await body(sim, i) for i in ids}
    words = {b["status"] for b in failures.values()}
    assert words == {"video_generation_failed", "video_upsampling_failed"}
    for task_id, answer in failures.items():
        reason = job_of(sim, task_id).fail_reason
        detail = answer["detail"]
        assert answer["video_url"] is None
        assert detail["running"] is False
        if answer["status"] == "video_generation_failed":
            assert detail["video_generation_error"] == reason
            assert "video_url" not in detail  # nothing was generated
        else:
            assert detail["error_message"] == reason
            assert detail["upsample_status"] == "MEDIA_GENERATION_STATUS_FAILED"


async def test_sora_is_in_progress_with_a_percentage(sim: Simulator) -> None:
    task_id = sim.add_job(model="sora-2", queue_time=2, duration=20, fails=False)
    at(sim, 1)
    assert (await body(sim, task_id))["status"] == "pending"
    at(sim, 12)
    running = await body(sim, task_id)
    assert running["status"] == "in_progress"
    assert running["progress"] == 50
    assert running["video_url"] is None
    at(sim, 30)
    done = await body(sim, task_id)
    assert (done["status"], done["progress"]) == ("completed", 100)
    failing = sim.add_job(model="sora-2", queue_time=0, duration=1, fails=True)
    at(sim, 40)
    failed = await body(sim, failing)
    assert failed["status"] == "failed"
    assert failed["error"]["message"] == job_of(sim, failing).fail_reason


async def test_other_models_answer_in_the_doc_pages_shape(sim: Simulator) -> None:
    task_id = sim.add_job(model="kling-v2", queue_time=5, duration=10, fails=False)
    pending = await body(sim, task_id)
    assert set(pending) == {"id", "status", "video_url", "enhanced_prompt", "status_update_time"}
    assert pending["enhanced_prompt"].startswith("```\n")
    assert pending["status_update_time"] > SECONDS


@pytest.mark.parametrize("style", ["asked", "bare", "upstream"])
async def test_the_answers_id_follows_the_style(style: str) -> None:
    sim = Simulator(jobs=0, seed=1, id_style=style)  # type: ignore[arg-type]
    await sim.start()
    try:
        task_id = sim.add_job(model="grok")
        answered = (await body(sim, task_id))["id"]
        again = (await body(sim, task_id))["id"]
    finally:
        await sim.stop()
    job = sim.jobs[task_id]
    expected = {"asked": task_id, "bare": job.server_id, "upstream": job.upstream_id()}[style]
    assert answered == again == expected
    if style == "upstream":
        assert job.server_id not in answered  # unrelated, like the doc page's example


def test_an_unknown_id_style_is_refused() -> None:
    with pytest.raises(ValueError, match="id style"):
        Simulator(jobs=0, id_style="other")  # type: ignore[arg-type]


async def test_errors_come_in_new_apis_envelopes(sim: Simulator) -> None:
    task_id = sim.add_job(model="grok")
    wrong = await raw(sim, task_id, key="sk-wrong")
    assert wrong.status_code == 401
    error = wrong.json()["error"]
    assert error["type"] == "new_api_error"
    assert error["message"].startswith("无效的令牌 (request id: ")
    unknown = await raw(sim, "grok:not-a-task")
    assert (unknown.status_code, unknown.json()) == (
        400,
        {"code": "task_not_exist", "message": "task_not_exist", "data": None},
    )
    sim.inject("401-exhausted")
    used_up = await raw(sim, task_id)
    assert used_up.status_code == 401
    assert used_up.json()["error"]["message"].startswith("该令牌额度已用尽 (request id: ")
    sim.inject("429-bare")
    limited = await raw(sim, task_id)
    assert (limited.status_code, limited.content) == (429, b"")
    assert "retry-after" not in limited.headers
    async with QueryClient(sim.base_url, "sk-wrong") as client:
        assert isinstance(await client.query(task_id), AuthRejected)
    async with QueryClient(sim.base_url, sim.api_key) as client:
        assert isinstance(await client.query("grok:not-a-task"), NotFound)


@pytest.mark.parametrize("key", [None, "sk-wrong"])
async def test_an_unknown_route_is_404_invalid_url_whatever_the_key(
    sim: Simulator, key: str | None
) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    client = _CLIENTS[0]
    doubled = await client.get(f"{sim.base_url}/v1/v1/video/query?id=x", headers=headers)
    posted = await client.post(f"{sim.base_url}/v1/video/query", headers=headers)
    assert doubled.status_code == 404
    assert doubled.json() == {
        "error": {
            "message": "Invalid URL (GET /v1/v1/video/query)",
            "type": "invalid_request_error",
            "param": "",
            "code": "",
        }
    }
    assert posted.status_code == 404
    assert posted.json()["error"]["message"] == "Invalid URL (POST /v1/video/query)"


async def test_an_idle_kept_alive_connection_is_closed_without_a_word() -> None:
    sim = Simulator(jobs=1, seed=2, idle_close=0.05, close_delay=0.5)
    await sim.start()
    port = int(sim.base_url.rsplit(":", 1)[1])
    task_id = sim.job_ids[0]
    request = (
        f"GET /v1/video/query?id={task_id} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {sim.api_key}\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert b"connection: close" not in head.lower()  # it never says it will close
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        await eventually(lambda: sim.stats.idle_closes == 1, what="the idle close")
        asked = sim.stats.requests
        writer.write(request)  # written while the close is on its way: never read
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(), 10)
    except ConnectionResetError:
        rest = b""
    finally:
        writer.close()
        await sim.stop()
    assert rest == b""  # no answer: the connection ended
    assert sim.stats.requests == asked


async def test_a_slow_answer_is_not_idle() -> None:
    """A video sent slowly (longer than the idle time between its pieces) arrives whole."""
    sim = Simulator(jobs=0, seed=2, clock=Clock(), idle_close=0.05)
    await sim.start()
    try:
        task_id = sim.add_job(model="grok", queue_time=0, duration=1, fails=False)
        at(sim, 5)
        sim.video_rate = 200_000  # 64 KiB in two pieces, 0.16 s apart
        video = await _CLIENTS[0].get(sim.video_url(sim.jobs[task_id]))
    finally:
        await sim.stop()
    assert video.content == sim.jobs[task_id].video()
    assert sim.stats.idle_closes == 0


async def test_vidwatch_creates_nothing_twice_on_a_silently_closing_simulator() -> None:
    """Polls and creates on one client, a create written just as the simulator drops
    the poll's idle connection: it goes on a connection of its own and is made once."""
    sim = Simulator(jobs=1, seed=4, idle_close=0.02, close_delay=0.3)
    await sim.start()
    created = []
    try:
        async with QueryClient(sim.base_url, sim.api_key, allow_insecure_http=True) as client:
            for n in range(3):
                closes = sim.stats.idle_closes
                assert isinstance(await client.query(sim.job_ids[0]), Ok)
                await eventually(lambda: sim.stats.idle_closes > closes)  # noqa: B023
                body = {"model": "grok-video-3", "prompt": f"cat {n}"}
                created.append(await client.create(body))
    finally:
        await sim.stop()
    assert [type(c).__name__ for c in created] == ["Created"] * 3
    assert sorted(str(b["prompt"]) for b in sim.create.bodies) == ["cat 0", "cat 1", "cat 2"]


async def test_vidwatch_reads_a_grok_job_to_its_end(sim: Simulator) -> None:
    task_id = sim.add_job(model="grok", queue_time=5, duration=30, fails=False)
    async with QueryClient(sim.base_url, sim.api_key) as client:
        first = await client.query(task_id)
        at(sim, 10)
        running = await client.query(task_id)
        at(sim, 40)
        done = await client.query(task_id)
    assert isinstance(first, Ok)
    assert first.result.state is State.QUEUED
    assert isinstance(running, Ok)
    assert running.result.state is State.RUNNING
    assert isinstance(done, Ok)
    assert done.result.state is State.SUCCEEDED
    assert done.result.video_url == sim.video_url(sim.jobs[task_id])
    assert done.result.status_update_time is not None
    assert done.result.status_update_time.year >= 2025  # seconds read as seconds


async def test_vidwatch_follows_a_veo_job_to_its_upscaled_video(sim: Simulator) -> None:
    task_id = sim.add_job(model="veo3.1-fast", queue_time=0, duration=100, fails=False)
    job = sim.jobs[task_id]
    async with QueryClient(sim.base_url, sim.api_key) as client:
        at(sim, 62)  # video_generation_completed: the video before upscaling exists
        halfway = await client.query(task_id)
        at(sim, 101)
        done = await client.query(task_id)
    assert isinstance(halfway, Ok)
    assert halfway.result.state is State.RUNNING
    assert halfway.result.video_url is None
    assert isinstance(done, Ok)
    assert done.result.state is State.SUCCEEDED
    assert done.result.video_url == sim.video_url(job)
    assert done.result.enhanced_prompt == job.prompt  # from detail
    assert not done.result.fail_reason  # the stale error text is not a reason


async def test_vidwatch_takes_answers_with_an_upstream_id() -> None:
    sim = Simulator(jobs=0, seed=1, id_style="upstream")
    await sim.start()
    try:
        task_id = sim.add_job(model="grok")
        async with QueryClient(sim.base_url, sim.api_key) as client:
            outcome = await client.query(task_id)
    finally:
        await sim.stop()
    assert isinstance(outcome, Ok)
