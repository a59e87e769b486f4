"""Paid once, for real (issue 17), as real processes against a loopback gateway that
counts every body it is sent: copies of one batch submitted at once, the same batch under
another task list, and Ctrl-C while a single create waits for its answer."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from vidwatch.simulator.serve import SimulatorThread

pytestmark = pytest.mark.e2e

KEY = "sk-loopback-0123456789"


class CountingGateway:
    """``POST /v1/video/create`` takes ``delay`` seconds (the first one forever with
    ``hang``) and makes a job for every body; queries answer "pending"."""

    def __init__(self, delay: float = 0.0, hang: bool = False) -> None:
        self.delay = delay
        self.hang = hang
        self.bodies: list[str] = []  # each body as canonical JSON, in arrival order
        self._runner: web.AppRunner | None = None

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(json.dumps(body, sort_keys=True))
        n = len(self.bodies)
        if self.hang and n == 1:
            await asyncio.Event().wait()
        await asyncio.sleep(self.delay)
        task_id = f"grok:{n:08d}-0000-4000-8000-000000000000"
        return web.json_response({"id": task_id, "status": "pending"})

    async def query(self, request: web.Request) -> web.Response:
        return web.json_response({"id": request.query.get("id", ""), "status": "pending"})

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/video/create", self.create)
        app.router.add_get("/v1/video/query", self.query)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@dataclass
class World:
    gateway: CountingGateway
    thread: SimulatorThread
    env: dict[str, str]
    tmp: Path

    def argv(self, *argv: str, tasks: Path | None = None) -> list[str]:
        tasks = tasks or self.tmp / "tasks.toml"
        return [sys.executable, "-m", "vidwatch", "--tasks-file", str(tasks), *argv]

    def run(self, *argv: str, tasks: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*argv, tasks=tasks),
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def bodies(self) -> list[str]:
        return cast(list[str], self.thread.call(lambda: list(self.gateway.bodies)))


def world_of(tmp_path: Path, gateway: CountingGateway) -> Iterator[World]:
    config = tmp_path / "config.toml"
    config.write_text("[create]\nconcurrency = 2\n", encoding="utf-8")
    with SimulatorThread(cast(Any, gateway)) as thread:
        env = {
            **os.environ,
            "QUICKROUTER_BASE_URL": thread.base_url,
            "QUICKROUTER_API_KEY": KEY,
            "VIDWATCH_CONFIG": str(config),
        }
        yield World(gateway, thread, env, tmp_path)


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[World]:
    yield from world_of(tmp_path, CountingGateway(delay=0.3))


@pytest.fixture
def hanging(tmp_path: Path) -> Iterator[World]:
    yield from world_of(tmp_path, CountingGateway(hang=True))


def test_copies_of_a_batch_submitted_at_once_pay_each_request_once(slow: World) -> None:
    rows = [{"prompt": f"clip number {n}", "label": f"c{n}"} for n in range(10)]
    batch = slow.tmp / "d.jsonl"
    batch.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    copy = slow.tmp / "copy.jsonl"
    copy.write_bytes(batch.read_bytes())
    link = slow.tmp / "link.jsonl"
    os.link(batch, link)
    procs = [
        subprocess.Popen(
            slow.argv("submit", "--yes", str(path)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=slow.env,
            text=True,
        )
        for path in (batch, copy, link, batch)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    seen = Counter(slow.bodies())
    assert max(seen.values()) == 1, f"paid twice: {seen.most_common(3)}"
    assert len(seen) == len(rows), outputs  # every row was sent, by one of them
    # Each request not sent by a process is named there (or its journal was busy).
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode in (0, 1), err
        assert out.count("\tcreated") + out.count("sent before") == len(rows) or (
            "another vidwatch is sending this batch" in err
        ), (out, err)

    other = slow.tmp / "other" / "tasks.toml"
    named = slow.run("submit", "--yes", str(batch), tasks=other)
    assert named.returncode == 0, named.stderr  # each row has a job: the earlier send's
    assert len(slow.bodies()) == len(rows)  # nothing paid again, and it says why
    assert named.stdout.count(f"task list {(slow.tmp / 'tasks.toml').resolve()}") == len(rows)
    assert "--resend" in named.stderr
    again = slow.run("submit", "--yes", "--resend", str(batch), tasks=other)
    assert again.returncode == 0, again.stderr
    assert len(slow.bodies()) == 2 * len(rows)


def test_ctrl_c_while_a_create_waits_says_the_job_may_exist_until_resolved(
    hanging: World,
) -> None:
    proc = subprocess.Popen(
        hanging.argv("create", "--yes", "--label", "cat", "a cat on the moon"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=hanging.env,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not hanging.bodies() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hanging.bodies(), "the create never arrived"
    proc.send_signal(signal.SIGINT)  # the job is made; its answer never comes back
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert out == ""
    assert "may have been made" in err
    ref = err.split("--mark-done ", 1)[1].split("=", 1)[0]
    assert len(ref) == 8

    for command in (("list",), ("create", "--yes", "a dog")):
        shown = hanging.run(*command)
        assert f"create {ref} (" in shown.stderr, command
        assert "'a cat on the moon'" in shown.stderr
        assert "label 'cat'" in shown.stderr
        assert f"--mark-done {ref}=ID" in shown.stderr
    again = hanging.run("create", "--yes", "--label", "cat", "a cat on the moon")
    assert again.returncode == 64  # the same request: not paid again without --resend
    assert "sent before" in again.stderr
    assert len(hanging.bodies()) == 2  # the first create and "a dog"

    found = "grok:00000001-0000-4000-8000-000000000000"
    resolved = hanging.run("create", "--mark-done", f"{ref}={found}")
    assert resolved.returncode == 0, resolved.stderr
    listed = hanging.run("list", "--json")
    assert ref not in listed.stderr
    tasks = {task["id"]: task for task in json.loads(listed.stdout)}
    assert tasks[found]["label"] == "cat"
    assert tasks[found]["request"]["prompt"] == "a cat on the moon"
