"""A create goes out on a connection opened for it: against servers that close
connections their own way, a create that never reached the server is "not sent" (and
sent again), one that did is never sent twice, and only a lost answer is uncertain.

The servers are raw asyncio ones (``tests/gateways.py``): one speaks HTTP/1.0 and closes
after each answer; one keeps connections alive and closes idle ones without a word, the
close reaching the client a moment later, as over a network. Creates and polls share
one client and interleave, as in the dashboard.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from vidwatch.core.create.batch import Batch, parse_batch
from vidwatch.core.create.journal import Manifest, RowState
from vidwatch.core.create.ledger import Ledger
from vidwatch.core.create.plan import plan_batch
from vidwatch.core.create.sender import CreateBudget, Sender, SendEvent, Sent
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.gateway.create_answer import Created, CreateOutcome
from vidwatch.core.gateway.http import _Transport
from vidwatch.core.gateway.outcomes import Ok
from vidwatch.core.model.records import Task, TaskRecord

from tests.support.gateways import RawGateway

pytestmark = pytest.mark.e2e

KEY = "sk-test-0123456789"
BUDGET = CreateBudget(per_minute=600, concurrency=1)


def batch_of(*prompts: str) -> Batch:
    lines = [json.dumps({"prompt": p, "model": "grok-video-3"}) for p in prompts]
    return parse_batch("\n".join(lines).encode(), source="/data/batch.jsonl")


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "sent", tmp_path / "tasks.toml").ready()


@pytest.fixture
def manifest(ledger: Ledger) -> Iterator[Manifest]:
    with ledger.journals.open("/data/batch.jsonl") as opened:
        yield opened


@pytest.fixture(params=["http10", "keep-alive"])
async def gateway(request: pytest.FixtureRequest) -> AsyncIterator[RawGateway]:
    server = RawGateway(http10=request.param == "http10", idle=0.02, close_delay=0.3)
    await server.start()
    yield server
    await server.stop()


class Interleaved:
    """Before each create, a poll on the same client, and then (keep-alive) the moment
    the server decides to drop that poll's connection: the create is written just as the
    server stops reading, which is when a shared connection loses it."""

    def __init__(self, client: QueryClient, gateway: RawGateway) -> None:
        self.client = client
        self.gateway = gateway
        self.polls: list[object] = []

    async def create(self, body: Mapping[str, Any]) -> CreateOutcome:
        known = list(self.gateway.jobs)
        if known:
            self.gateway.dying.clear()
            self.polls.append(await self.client.query(known[-1]))
            if not self.gateway.http10:
                await asyncio.wait_for(self.gateway.dying.wait(), 10)
        return await self.client.create(body)


def check_no_row_paid_twice_or_called_uncertain_unseen(
    gateway: RawGateway, events: list[SendEvent]
) -> Counter[str]:
    received = Counter(str(body["prompt"]) for body in gateway.creates())
    assert all(n == 1 for n in received.values()), f"a create was sent twice: {received}"
    for event in events:
        assert isinstance(event, Sent)
        prompt = event.row.request.prompt if event.row.request else ""
        if event.verdict.state is RowState.UNCERTAIN:
            assert received[prompt], f"{prompt!r} called uncertain, never received"
    return received


async def test_every_row_of_a_batch_is_created_once_with_polls_in_between(
    gateway: RawGateway, manifest: Manifest, ledger: Ledger
) -> None:
    prompts = [f"row {n}" for n in range(5)]
    events: list[SendEvent] = []
    listed: list[Task | TaskRecord] = []
    async with QueryClient(gateway.base_url, KEY, allow_insecure_http=True) as client:
        first = await client.create({"model": "grok-video-3", "prompt": "before the batch"})
        assert isinstance(first, Created)
        interleaved = Interleaved(client, gateway)
        sender = Sender(
            interleaved,
            manifest,
            BUDGET,
            ledger=ledger,
            add_tasks=listed.extend,
            report=events.append,
            backoff=0.01,
        )
        plan = plan_batch(batch_of(*prompts), manifest.entries)
        await sender.run(plan.steps)
    received = check_no_row_paid_twice_or_called_uncertain_unseen(gateway, events)
    assert all(received[p] == 1 for p in prompts)
    assert all(entry.state is RowState.CREATED for entry in manifest.entries.values())
    assert len(manifest.entries) == len(prompts)
    assert all(isinstance(poll, Ok) for poll in interleaved.polls)
    assert len(listed) == len(prompts)


async def test_polls_and_a_batch_at_the_same_time_lose_nothing(
    manifest: Manifest, ledger: Ledger
) -> None:
    """Free running, as in the dashboard: a poll loop beside the batch, connections
    dropped after 5 ms idle. Whatever the timing, nothing is paid twice or called
    uncertain unseen, and every row is created."""
    gateway = RawGateway(idle=0.005, close_delay=0.05)
    await gateway.start()
    prompts = [f"row {n}" for n in range(8)]
    events: list[SendEvent] = []
    done = asyncio.Event()
    try:
        async with QueryClient(gateway.base_url, KEY, allow_insecure_http=True) as client:
            first = await client.create({"model": "grok-video-3", "prompt": "before"})
            assert isinstance(first, Created)

            async def poll_forever() -> int:
                polls = 0
                while not done.is_set():
                    outcome = await client.query(first.task_id)
                    assert isinstance(outcome, Ok), outcome
                    polls += 1
                    await asyncio.sleep(0.003 * (polls % 4))
                return polls

            polling = asyncio.create_task(poll_forever())
            sender = Sender(
                client,
                manifest,
                BUDGET,
                ledger=ledger,
                add_tasks=lambda tasks: None,
                report=events.append,
            )
            sender.backoff = 0.01
            await sender.run(plan_batch(batch_of(*prompts), manifest.entries).steps)
            done.set()
            assert await polling > 0
    finally:
        await gateway.stop()
    received = check_no_row_paid_twice_or_called_uncertain_unseen(gateway, events)
    assert all(received[p] == 1 for p in prompts)
    assert all(manifest.entries[r].state is RowState.CREATED for r in manifest.entries)


async def test_polls_keep_their_connection_and_every_create_opens_its_own() -> None:
    gateway = RawGateway(idle=60.0)  # never idle long enough to be dropped here
    await gateway.start()
    try:
        async with QueryClient(gateway.base_url, KEY, allow_insecure_http=True) as client:
            created = [await client.create({"model": "m", "prompt": f"p{n}"}) for n in range(3)]
            assert gateway.connections == 3
            task_id = created[0].task_id if isinstance(created[0], Created) else ""
            for _ in range(5):
                assert isinstance(await client.query(task_id), Ok)
            assert gateway.connections == 4  # five polls, one kept-alive connection
            assert isinstance(await client.create({"model": "m", "prompt": "p3"}), Created)
            assert gateway.connections == 5
            assert isinstance(await client.query(task_id), Ok)
            assert gateway.connections == 5  # the poll's connection was still there
    finally:
        await gateway.stop()
    posts = [r for r in gateway.received if r.method == "POST"]
    assert all(r.headers.get("connection") == "close" for r in posts)


async def test_a_create_read_whole_and_then_dropped_stays_uncertain(
    manifest: Manifest, ledger: Ledger
) -> None:
    gateway = RawGateway(drop_creates=True)
    await gateway.start()
    events: list[SendEvent] = []
    try:
        async with QueryClient(gateway.base_url, KEY, allow_insecure_http=True) as client:
            sender = Sender(
                client,
                manifest,
                BUDGET,
                ledger=ledger,
                add_tasks=lambda tasks: None,
                report=events.append,
            )
            await sender.run(plan_batch(batch_of("lost"), manifest.entries).steps)
    finally:
        await gateway.stop()
    assert [body["prompt"] for body in gateway.creates()] == ["lost"]  # once: not sent again
    assert [e.verdict.state for e in events if isinstance(e, Sent)] == [RowState.UNCERTAIN]
    assert next(iter(manifest.entries.values())).state is RowState.UNCERTAIN


async def test_a_create_its_connection_refused_to_write_is_not_sent_and_goes_again(
    manifest: Manifest, ledger: Ledger
) -> None:
    """On aiohttp itself: the connection is found closing just as the body is written
    (aiohttp's ``ClientOSError: Can not write request body``). The row is "not sent",
    sent again on a new connection, and created once."""
    gateway = RawGateway(idle=60.0)
    await gateway.start()
    protocols: list[aiohttp.client_proto.ResponseHandler] = []
    writes = 0

    class Recording(aiohttp.TCPConnector):
        async def _create_connection(self, *args: Any, **kwargs: Any) -> Any:
            protocol = await super()._create_connection(*args, **kwargs)
            protocols.append(protocol)
            return protocol

    async def closing_on_first_write(*args: object) -> None:
        nonlocal writes
        writes += 1
        transport = protocols[-1].transport
        if writes == 1 and transport is not None:
            transport.close()  # as when the server's close is read just before the write

    traces = aiohttp.TraceConfig()
    traces.on_request_chunk_sent.append(closing_on_first_write)

    def session() -> aiohttp.ClientSession:
        connector = Recording(force_close=True)
        return aiohttp.ClientSession(connector=connector, trace_configs=[traces])

    events: list[SendEvent] = []
    transport = _Transport(trust_env=False, client=session)
    try:
        async with QueryClient(
            gateway.base_url, KEY, allow_insecure_http=True, transport=transport
        ) as client:
            sender = Sender(
                client,
                manifest,
                BUDGET,
                ledger=ledger,
                add_tasks=lambda tasks: None,
                report=events.append,
            )
            sender.backoff = 0.01
            await sender.run(plan_batch(batch_of("again"), manifest.entries).steps)
    finally:
        await gateway.stop()
    sent = [e for e in events if isinstance(e, Sent)]
    assert [e.verdict.state for e in sent] == [RowState.NOT_SENT, RowState.CREATED]
    assert "Can not write request body" in sent[0].verdict.message
    assert [body["prompt"] for body in gateway.creates()] == ["again"]
