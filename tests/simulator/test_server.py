"""The built-in simulator speaks the documented API, deterministically."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import httpx
import pytest
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.gateway.outcomes import (
    AuthRejected,
    BadResponse,
    NotFound,
    Ok,
    RateLimited,
    ServerError,
)
from vidwatch.core.model.records import State
from vidwatch.simulator.faults import FAULTS
from vidwatch.simulator.server import Simulator


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(jobs=5, seed=3, clock=Clock(), fail_rate=0.0)
    await simulator.start()
    yield simulator
    await simulator.stop()


def clock_of(sim: Simulator) -> Clock:
    assert isinstance(sim.clock, Clock)
    return sim.clock


def test_same_seed_same_jobs() -> None:
    a, b = Simulator(jobs=20, seed=7), Simulator(jobs=20, seed=7)
    assert a.job_ids == b.job_ids
    assert [j.duration for j in a.jobs.values()] == [j.duration for j in b.jobs.values()]
    assert Simulator(jobs=20, seed=8).job_ids != a.job_ids
    model, _, rest = a.job_ids[0].partition(":")
    assert model
    assert len(rest) == 36


def test_durations_are_spread_like_real_jobs() -> None:
    sim = Simulator(jobs=2000, seed=1)
    durations = sorted(j.duration for j in sim.jobs.values())
    median = durations[len(durations) // 2]
    assert 75 < median < 105
    assert durations[int(len(durations) * 0.95)] > 2 * median  # a long tail
    failed = sum(j.fails for j in sim.jobs.values())
    assert 100 < failed < 320  # about 10 %


async def test_lifecycle_over_http(sim: Simulator) -> None:
    task_id = sim.add_job(model="kling-v2", queue_time=5, duration=30, fails=False)
    clock = clock_of(sim)
    async with QueryClient(sim.base_url, sim.api_key) as client:
        first = await client.query(task_id)
        assert isinstance(first, Ok)
        assert first.result.status == "pending"
        assert first.result.state is State.QUEUED
        assert first.result.server_id == task_id  # the asked id, echoed (id_style "asked")
        assert first.result.enhanced_prompt
        assert "```" in first.result.enhanced_prompt
        clock.now = 10
        second = await client.query(task_id)
        assert isinstance(second, Ok)
        assert second.result.state is State.RUNNING
        clock.now = 40
        done = await client.query(task_id)
        assert isinstance(done, Ok)
        assert done.result.state is State.SUCCEEDED
        assert done.result.video_url is not None
        assert done.result.status_update_time is not None
    async with httpx.AsyncClient() as plain:
        video = await plain.get(done.result.video_url)
        assert video.status_code == 200
        assert video.content == sim.jobs[task_id].video()
        part = await plain.get(done.result.video_url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206
        assert part.content == video.content[100:200]
        assert part.headers["Content-Range"] == f"bytes 100-199/{len(video.content)}"
    assert sim.stats.key_sent_to_video_host == 0


@pytest.mark.parametrize("model", ["grok", "sora-2", "kling-v2"])
async def test_failed_jobs_carry_a_reason(sim: Simulator, model: str) -> None:
    task_id = sim.add_job(model=model, queue_time=0, duration=1, fails=True)
    clock_of(sim).now = 5
    async with QueryClient(sim.base_url, sim.api_key) as client:
        outcome = await client.query(task_id)
    assert isinstance(outcome, Ok)
    assert outcome.result.state is State.FAILED
    assert outcome.result.fail_reason


async def test_wrong_key_and_unknown_id(sim: Simulator) -> None:
    async with QueryClient(sim.base_url, "wrong") as client:
        assert isinstance(await client.query(sim.job_ids[0]), AuthRejected)
    async with QueryClient(sim.base_url, sim.api_key) as client:
        assert isinstance(await client.query("grok:no-such-job"), NotFound)


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("401", AuthRejected),
        ("401-exhausted", AuthRejected),
        ("404", NotFound),
        ("429", RateLimited),
        ("429-date", RateLimited),
        ("429-bare", RateLimited),
        ("500", ServerError),
        ("502", ServerError),
        ("503", ServerError),
        ("html", ServerError),
        ("empty", BadResponse),
        ("malformed", BadResponse),
        ("truncated", BadResponse),
        ("wrong-types", BadResponse),
        ("missing-fields", BadResponse),
        ("huge", BadResponse),
    ],
)
async def test_each_fault_gives_its_typed_outcome(sim: Simulator, fault: str, kind: type) -> None:
    sim.inject(fault)
    async with QueryClient(sim.base_url, sim.api_key) as client:
        outcome = await client.query(sim.job_ids[0])
        assert isinstance(outcome, kind), outcome
        if fault.startswith("429") and fault != "429-bare":
            assert isinstance(outcome, RateLimited)
            assert outcome.retry_after is not None
            assert 0 < outcome.retry_after <= 4
        # The fault was for one request only.
        assert isinstance(await client.query(sim.job_ids[0]), Ok)


async def test_connection_faults_are_network_errors(sim: Simulator) -> None:
    from vidwatch.core.gateway.outcomes import NetworkError

    for fault in ("drop", "reset"):
        # aiohttp retries an idempotent GET once when the server drops it: drop twice.
        async with QueryClient(sim.base_url, sim.api_key) as client:
            sim.inject(fault, 2)
            outcome = await client.query(sim.job_ids[0])
            assert isinstance(outcome, NetworkError), (fault, outcome)
            assert not outcome.timeout, (fault, outcome)  # a drop is not a timeout
            sim.clear_faults()
            assert isinstance(await client.query(sim.job_ids[0]), Ok)


async def test_chaos_mixes_every_fault_and_401s_come_in_bursts(sim: Simulator) -> None:
    sim.chaos = 1.0
    sim.slow_seconds = 0.05
    outcomes = []
    async with QueryClient(sim.base_url, sim.api_key, timeout=5) as client:
        for _ in range(400):
            outcomes.append(await client.query(sim.job_ids[0]))
    assert set(sim.stats.faults) == set(FAULTS)
    kinds = [type(o).__name__ for o in outcomes]
    assert "Ok" in kinds  # "slow" answers normally in the end
    runs = [len(list(g)) for k, g in itertools.groupby(kinds) if k == "AuthRejected"]
    assert max(runs) >= 2
    assert all(run >= 2 for run in runs)
    assert sim.stats.retry_afters  # the 429s with a Retry-After were recorded


def test_unknown_fault_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        Simulator(jobs=0).inject("explode")


async def test_create_endpoint(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as client:
        r = await client.post(
            "/v1/video/create",
            json={"model": "grok-video-3", "prompt": "a cow"},
            headers={"Authorization": f"Bearer {sim.api_key}"},
        )
    body = r.json()
    assert r.status_code == 200
    assert body["id"].startswith("grok:")
    assert body["status"] == "pending"
    assert body["id"] in sim.jobs
