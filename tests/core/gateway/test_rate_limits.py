"""A 429 as the open-source gateway sends it: an empty body and no ``Retry-After``. No
wait was asked for, so vidwatch's own backoff applies, for polling and for creates."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from pathlib import Path

import httpx
from vidwatch.core.create.batch import parse_batch
from vidwatch.core.create.journal import RowState
from vidwatch.core.create.ledger import Ledger
from vidwatch.core.create.plan import plan_batch
from vidwatch.core.create.sender import CreateBudget, Pacer, Sender
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.gateway.outcomes import Ok, RateLimited
from vidwatch.core.polling.budget import Policy
from vidwatch.core.polling.scheduler import Scheduler

KEY = "sk-test-0123456789"
BARE_429 = httpx.Response(429)  # new-api: no body, no Retry-After
RUNNING = {"id": "grok:a", "status": "processing", "status_update_time": 1770350082}


def gateway(busy: int, answer: dict[str, object]) -> tuple[QueryClient, list[httpx.Request]]:
    """A client whose first ``busy`` requests get the bare 429, then ``answer``."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) <= busy:
            return BARE_429
        if request.method == "POST":  # each create makes its own job (one ID per job)
            return httpx.Response(200, json={**answer, "id": f"{answer['id']}-{len(seen)}"})
        return httpx.Response(200, json=answer)

    return QueryClient("https://gw.example", KEY, transport=httpx.MockTransport(handler)), seen


async def test_polling_backs_off_on_a_bare_429() -> None:
    client, seen = gateway(4, RUNNING)
    scheduler = Scheduler(Policy(min_interval=1.0), rng=random.Random(1))
    scheduler.track("grok:a", None, 0.0)
    now, asked_at = 0.0, []
    async with client:
        while len(seen) < 5:
            task = scheduler.next_task(now)
            if task is None:
                wake = scheduler.next_wakeup(now)
                assert wake is not None
                now = wake
                continue
            asked_at.append(now)
            outcome = await client.query(task)
            if len(seen) <= 4:
                assert isinstance(outcome, RateLimited)
                assert outcome.retry_after is None  # nothing asked: our own backoff
            else:
                assert isinstance(outcome, Ok)
            scheduler.complete(task, outcome, now)
    gaps = [b - a for a, b in itertools.pairwise(asked_at)]
    assert all(gap >= 0.5 for gap in gaps)  # never hammered: half min_interval at least
    assert max(gaps[1:]) > 2 * gaps[0]  # and it grows (jittered), 429 after 429


async def test_creates_back_off_on_a_bare_429(tmp_path: Path) -> None:
    client, seen = gateway(2, {"id": "grok:new", "status": "pending"})
    lines = [json.dumps({"prompt": p, "model": "grok-video-3"}) for p in ("a", "b")]
    batch = parse_batch("\n".join(lines).encode(), source="/data/b.jsonl")
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds
        await asyncio.sleep(0)

    ledger = Ledger(tmp_path / "sent", tmp_path / "tasks.toml").ready()
    with ledger.journals.open(batch.source) as manifest:
        budget = CreateBudget(per_minute=30, concurrency=1)
        sender = Sender(
            client,
            manifest,
            budget,
            ledger=ledger,
            add_tasks=lambda tasks: None,
            pacer=Pacer(budget.per_minute, clock=lambda: now[0], sleep=sleep),
            sleep=sleep,
        )
        async with client:
            report = await sender.run(plan_batch(batch, manifest.entries).steps)
        assert all(entry.state is RowState.CREATED for entry in manifest.entries.values())
    prompts = [json.loads(request.content)["prompt"] for request in seen]
    assert prompts == ["a", "a", "a", "b"]  # a 429 made no job: row a is sent again
    assert report.sends == 4
    assert slept == [1.0, 2.0]  # vidwatch's own backoff, doubling: no wait was asked for
