"""The simulator creates jobs like the gateway: its checks, its errors, its lost answers;
and the core pieces together never send a row twice, even when killed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from vidwatch.core.create.batch import parse_batch
from vidwatch.core.create.journal import ManifestDir, RowState
from vidwatch.core.create.plan import Why
from vidwatch.core.create.requests import prepare
from vidwatch.core.gateway.create_answer import (
    CreateBadResponse,
    Created,
    CreateRateLimited,
    NoChannel,
    Refused,
    SendFate,
    classify_transport_error,
    parse_create_response,
)
from vidwatch.simulator.creates import CREATE_FAULTS, CREATE_HELP
from vidwatch.simulator.serve import SimulatorThread
from vidwatch.simulator.server import Simulator

from tests.support.creating import KILL_POINTS, manifest_text, submit_once
from tests.support.paths import ROOT


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(jobs=0, seed=5, clock=Clock(), fail_rate=0.0)
    await simulator.start()
    yield simulator
    await simulator.stop()


async def post(sim: Simulator, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=sim.base_url) as client:
        return await client.post(
            "/v1/video/create", json=body, headers={"Authorization": f"Bearer {sim.api_key}"}
        )


def outcome_of(answer: httpx.Response) -> object:
    return parse_create_response(answer.status_code, answer.headers, answer.content)


async def test_created_jobs_have_the_gateways_ids_and_can_be_queried(sim: Simulator) -> None:
    for model, prefix in (("grok-video-3", "grok:"), ("sora-2", "sora-2:"), ("veo3.1", "veo3.1:")):
        body = prepare(model, "a cow").request.body()
        outcome = outcome_of(await post(sim, body))
        assert isinstance(outcome, Created), outcome
        assert outcome.task_id.startswith(prefix)
        assert outcome.status == "pending"
        assert sim.jobs[outcome.task_id].prompt == "a cow"
        async with httpx.AsyncClient(base_url=sim.base_url) as client:
            answer = await client.get(
                "/v1/video/query",
                params={"id": outcome.task_id},
                headers={"Authorization": f"Bearer {sim.api_key}"},
            )
        assert answer.json()["status"] == "pending"
    assert sim.create.accepted == 3
    assert sim.create.times_accepted(prepare("sora-2", "a cow").request.body()) == 1


async def test_unknown_models_have_no_channel_until_given_one(sim: Simulator) -> None:
    answer = await post(sim, {"model": "veo9-ultra", "prompt": "x"})
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "model_not_found"
    outcome = outcome_of(answer)
    assert isinstance(outcome, NoChannel)
    assert outcome.model_hint == "veo9-ultra"
    async with httpx.AsyncClient(base_url=sim.base_url) as client:
        control = await client.post("/_sim/create", json={"models": ["veo9-ultra"]})
        assert control.status_code == 200
    created = outcome_of(await post(sim, {"model": "veo9-ultra", "prompt": "x", "odd": [1]}))
    assert isinstance(created, Created)
    assert created.task_id.startswith("veo9-ultra:")
    assert sim.create.bodies[-1]["odd"] == [1]  # unknown fields pass through
    assert sim.create.accepted == 1


@pytest.mark.parametrize(
    "body",
    [
        {"model": "grok-video-3", "prompt": "x", "aspect_ratio": "16:9"},
        {"model": "sora-2-pro", "prompt": "x", "duration": 10},
        {"model": "veo3.1-components", "prompt": "x", "images": ["https://a.b/c.png"] * 4},
        {"model": "grok-video-3", "prompt": "x", "images": ["javascript:alert(1)"]},
        {"model": "grok-video-3", "prompt": " "},
    ],
)
async def test_bad_fields_are_refused_in_the_other_envelope(
    sim: Simulator, body: dict[str, Any]
) -> None:
    answer = await post(sim, body)
    assert answer.status_code == 400
    assert set(answer.json()) == {"code", "message", "data"}
    outcome = outcome_of(answer)
    assert isinstance(outcome, Refused)
    assert not outcome.account_level
    assert sim.create.accepted == 0


async def test_the_credit_runs_out(sim: Simulator) -> None:
    sim.create.credit = 2
    body = prepare("grok-video-3", "x").request.body()
    assert isinstance(outcome_of(await post(sim, body)), Created)
    assert isinstance(outcome_of(await post(sim, body)), Created)
    broke = await post(sim, body)
    assert broke.status_code == 403
    assert broke.json() == {
        "code": "quota_not_enough",
        "message": "user quota is not enough",
        "data": None,
    }
    outcome = outcome_of(broke)
    assert isinstance(outcome, Refused)
    assert outcome.account_level
    assert sim.create.accepted == 2
    assert sim.create.times_accepted(body) == 2


async def test_too_many_running_is_429_until_jobs_finish(sim: Simulator) -> None:
    sim.create.max_running = 2
    body = prepare("grok-video-3", "x").request.body()
    for _ in range(2):
        assert isinstance(outcome_of(await post(sim, body)), Created)
    answer = await post(sim, body)
    assert "retry-after" not in answer.headers  # new-api never says how long
    assert answer.json()["error"]["message"].startswith("您已达到请求数限制")
    limited = outcome_of(answer)
    assert isinstance(limited, CreateRateLimited)
    assert limited.retry_after is None  # vidwatch's own backoff applies
    assert isinstance(sim.clock, Clock)
    sim.clock.now = max(job.finishes_at for job in sim.jobs.values()) + 1
    assert isinstance(outcome_of(await post(sim, body)), Created)


@pytest.mark.parametrize(("fault", "made"), [("lose-answer", 1), ("drop", 0)])
async def test_lost_answers_look_the_same_but_only_one_made_a_job(
    sim: Simulator, fault: str, made: int
) -> None:
    sim.create.inject(fault)
    body = prepare("grok-video-3", "x").request.body()
    with pytest.raises(httpx.TransportError) as caught:
        await post(sim, body)
    assert classify_transport_error(caught.value) is SendFate.UNCERTAIN
    assert sim.create.accepted == made
    assert len(sim.jobs) == made
    assert isinstance(outcome_of(await post(sim, body)), Created)  # one fault, one create


async def test_other_faults(sim: Simulator) -> None:
    body = prepare("grok-video-3", "x").request.body()
    sim.create.inject("malformed")
    broken = outcome_of(await post(sim, body))
    assert isinstance(broken, CreateBadResponse)
    assert broken.made_job is None
    assert sim.create.accepted == 1  # the job exists: "uncertain" is the truth
    sim.create.inject("502", 1, after=1)
    assert isinstance(outcome_of(await post(sim, body)), Created)
    answer = await post(sim, body)
    assert answer.status_code == 502
    assert sim.create.accepted == 2
    with pytest.raises(ValueError, match="unknown create fault"):
        sim.create.inject("explode")


async def test_control_and_stats_endpoints(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as client:
        bad = await client.post("/_sim/create", json={"fault": "explode"})
        assert bad.status_code == 400
        ok = await client.post("/_sim/create", json={"credit": 1, "fault": "lose-answer"})
        assert ok.json()["credit"] == 1
    with pytest.raises(httpx.TransportError):
        await post(sim, prepare("grok-video-3", "x").request.body())
    async with httpx.AsyncClient(base_url=sim.base_url) as client:
        stats = (await client.get("/_sim/stats")).json()
    assert stats["creates_accepted"] == 1
    assert stats["credit"] == 0


def test_the_help_says_how_to_trigger_every_error() -> None:
    for kind in CREATE_FAULTS:
        assert kind in CREATE_HELP
    for word in ("model_not_found", "quota_not_enough", "429", "credit", "max_running"):
        assert word in CREATE_HELP


# ---------------------------------------------------------------- the whole loop

ROWS = [
    {"prompt": "a cat", "label": "cat", "aspect_ratio": "3:2"},
    {"prompt": "a dog", "label": "dog"},
    {"prompt": "a cow", "label": "cow"},
    {"prompt": "a fox", "label": "fox", "model": "sora-2", "orientation": "portrait"},
    {"prompt": "an owl", "label": "owl", "size": "1080P"},
]


def batch_file(tmp_path: Path) -> Path:
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in ROWS) + "\n")
    return path


async def test_a_lost_answer_and_a_refusal_are_never_paid_twice(
    sim: Simulator, tmp_path: Path
) -> None:
    batch = parse_batch(batch_file(tmp_path).read_bytes(), source=str(tmp_path / "batch.jsonl"))
    folder = ManifestDir.beside(tmp_path / "tasks.toml")
    sim.create.inject("lose-answer", after=1)  # the dog: taken, answer lost
    sim.create.inject("400")  # the cow: refused
    first = await submit_once(batch, folder, sim.base_url, sim.api_key)
    assert len(first.to_send) == 5
    assert sim.create.accepted == 4
    entries = folder.read(batch.source).entries
    states = [entries[row.identity].state for row in batch.rows]
    assert states == [
        RowState.CREATED,
        RowState.UNCERTAIN,
        RowState.REFUSED,
        RowState.CREATED,
        RowState.CREATED,
    ]
    assert sim.create.bodies[0]["aspect_ratio"] == "3:2"  # extra fields went into the body
    assert sim.create.bodies[2]["duration"] == 10  # sora's duration is always sent
    created = [entries[row.identity].task_id for row in batch.rows]
    assert all(task in sim.jobs for task in (created[0], created[3], created[4]))

    second = await submit_once(batch, folder, sim.base_url, sim.api_key)
    assert second.to_send == ()
    assert [step.why for step in second.steps] == [
        Why.HAS_JOB,
        Why.UNCERTAIN,
        Why.REFUSED,
        Why.HAS_JOB,
        Why.HAS_JOB,
    ]
    assert sim.create.accepted == 4
    assert all(sim.create.times_accepted(body) == 1 for body in sim.create.bodies)
    assert sim.api_key not in manifest_text(folder)

    third = await submit_once(batch, folder, sim.base_url, sim.api_key, resend_uncertain=True)
    assert [step.row.label for step in third.to_send] == ["dog"]  # only when asked


KILLED_RUN = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from vidwatch.core.create.batch import read_batch
    from vidwatch.core.create.journal import ManifestDir
    from tests.support.creating import submit_once

    path, folder, url, point, nth = sys.argv[1:6]
    key = sys.stdin.read()
    batch = read_batch(Path(path))
    asyncio.run(submit_once(batch, ManifestDir(Path(folder)), url, key, kill_at=(point, int(nth))))
    """
)


@pytest.mark.e2e
@pytest.mark.parametrize("point", KILL_POINTS)
def test_kill_9_at_any_point_never_sends_a_row_twice(tmp_path: Path, point: str) -> None:
    path = batch_file(tmp_path)
    folder = ManifestDir(tmp_path / "manifests")
    simulator = Simulator(jobs=0, seed=9, fail_rate=0.0)
    with SimulatorThread(simulator) as thread:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                KILLED_RUN,
                str(path),
                str(folder.folder),
                thread.base_url,
                *[point, "3"],
            ],
            input=simulator.api_key,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if k != "QUICKROUTER_API_KEY"},
            check=False,
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        sent_before = thread.call(lambda: simulator.create.accepted)
        assert sent_before == (2 if point == "after-intent" else 3)
        batch = parse_batch(path.read_bytes(), source=str(path.resolve()))
        rerun = asyncio.run(submit_once(batch, folder, thread.base_url, simulator.api_key))
        bodies = thread.call(lambda: list(simulator.create.bodies))
    assert isinstance(bodies, list)
    # Every row was paid for at most once, and the row in flight at the kill was not sent
    # again unless it had certainly got its answer recorded.
    assert all(bodies.count(body) == 1 for body in bodies)
    third = batch.rows[2].identity
    entries = folder.read(batch.source).entries
    expected = RowState.CREATED if point == "after-record" else RowState.SENDING
    assert entries[third].state is expected
    assert [step.row.number for step in rerun.to_send] == [4, 5]
    assert len(bodies) == (4 if point == "after-intent" else 5)
    assert simulator.api_key not in manifest_text(folder)
