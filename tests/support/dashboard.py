"""Shared pieces for the dashboard tests: a fake gateway, recorded clipboard, fixed clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from vidwatch.core.clients import billing_client_for, client_for
from vidwatch.core.config import Config, Paths
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.media.settings import PreviewSettings
from vidwatch.core.model.records import State, Task, TaskRecord, TaskResult
from vidwatch.core.polling.budget import Policy
from vidwatch.core.runtime.clipboard import CopyResult, OpenResult
from vidwatch.core.store.task_file import TaskStore
from vidwatch.ui.app import DashboardOptions, VidwatchApp

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KEY = "sk-test-4f9a1c2b7e"
FAST = Policy(min_interval=0.05, max_interval=0.1, concurrency=4, max_requests_per_second=500)


@dataclass
class FakeGateway:
    """Answers /v1/video/query from a dict the test edits; counts requests per ID.

    With ``hang`` set, every request waits forever (until cancelled): the
    screen then shows exactly what was stored, which snapshots need.
    """

    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: int = 200
    calls: list[str] = field(default_factory=list)
    seen_keys: list[str] = field(default_factory=list)
    hang: bool = False

    async def handler(self, request: httpx.Request) -> httpx.Response:
        task_id = request.url.params.get("id", "")
        self.calls.append(task_id)
        self.seen_keys.append(request.headers.get("authorization", ""))
        if self.hang:
            await asyncio.Event().wait()
        if self.status != 200:
            error = {"error": {"message": "nope", "type": "auth"}}
            return httpx.Response(self.status, content=json.dumps(error).encode())
        answer = self.bodies.get(task_id)
        if answer is None:
            return httpx.Response(404, content=b'{"code": "task_not_exist", "message": "no"}')
        answer = {"id": task_id.partition(":")[2] or task_id, **answer}  # as the gateway does
        return httpx.Response(200, content=json.dumps(answer).encode())

    def factory(self, config: Config) -> QueryClient:
        """The client the app makes (``client_for``), with this gateway as its transport."""
        return client_for(config, transport=httpx.MockTransport(self.handler))


def body(
    status: str, url: str | None = None, prompt: str = "a cow", **extra: Any
) -> dict[str, Any]:
    return {
        "status": status,
        "video_url": url,
        "enhanced_prompt": prompt,
        "status_update_time": 1750323167003,
        **extra,
    }


@dataclass
class Clipboard:
    copied: list[str] = field(default_factory=list)
    method: str = "tmux"

    def copy(self, text: str) -> CopyResult:
        self.copied.append(text)
        return CopyResult(self.method)


@dataclass
class Browser:
    result: OpenResult = field(default_factory=lambda: OpenResult(True))
    opened: list[str] = field(default_factory=list)

    def open(self, url: str) -> OpenResult:
        self.opened.append(url)
        return self.result


def record(
    task_id: str,
    state: State | None = None,
    *,
    label: str = "",
    url: str | None = None,
    prompt: str | None = None,
    minutes: int = 0,
    status: str | None = None,
    error: str | None = None,
) -> TaskRecord:
    result = TaskResult()
    if state is not None:
        result = TaskResult(
            state=state,
            status=status if status is not None else state.value,
            video_url=url,
            enhanced_prompt=prompt,
            status_update_time=T0 - timedelta(minutes=1),
            checked_at=T0 - timedelta(seconds=10),
            error=error,
        )
    return TaskRecord(Task(task_id, T0 - timedelta(minutes=minutes), label), result)


@dataclass
class Harness:
    app: VidwatchApp
    tasks: Path
    config_file: Path
    gateway: FakeGateway
    clipboard: Clipboard
    browser: Browser
    toasts: list[str] = field(default_factory=list)
    bells: int = 0

    def stored(self) -> dict[str, TaskRecord]:
        return TaskStore(self.tasks).load().records

    def last_toast(self) -> str:
        return self.toasts[-1] if self.toasts else ""


# Stills are off unless a test asks for them (with a video host of its own): no test
# reaches a real video host.
NO_STILLS = PreviewSettings(mode="off")


def make_app(
    tmp_path: Path,
    records: Sequence[TaskRecord] = (),
    *,
    key: str | None = None,
    policy: Policy = FAST,
    bell: bool = True,
    gateway: FakeGateway | None = None,
    clock: Callable[[], datetime] = lambda: T0,
    config_file: Path | None = None,
    base_url: str = "https://gateway.example",
    factory: Callable[[Config], QueryClient] | None = None,
    billing: httpx.AsyncBaseTransport | None = None,
    preview: PreviewSettings = NO_STILLS,
    video_host: httpx.AsyncBaseTransport | None = None,
) -> Harness:
    """``billing``: the balance routes' server (default: a gateway without them)."""
    tasks = tmp_path / "data" / "tasks.toml"
    if records:
        TaskStore(tasks).replace_all(records)
    config_file = config_file or tmp_path / "config" / "config.toml"
    paths = Paths(config_file, tasks, tmp_path / "state")
    config = Config(base_url=base_url, api_key=key, policy=policy, bell=bell, preview=preview)
    gateway = gateway or FakeGateway()
    clipboard = Clipboard()
    browser = Browser()
    app = VidwatchApp(
        DashboardOptions(paths=paths, config=config),
        clock=clock,
        copier=clipboard.copy,
        opener=browser.open,
        client_factory=factory or gateway.factory,
        billing_factory=lambda config: billing_client_for(
            config, transport=billing or httpx.MockTransport(lambda r: httpx.Response(404))
        ),
        downloader_transport=video_host,
    )
    harness = Harness(app, tasks, config_file, gateway, clipboard, browser)
    notify = app.notify

    def recording_notify(message: str, *args: Any, **kwargs: Any) -> None:
        harness.toasts.append(message)
        notify(message, *args, **kwargs)

    def counting_bell() -> None:
        harness.bells += 1

    app.notify = recording_notify  # type: ignore[method-assign]
    app.bell = counting_bell  # type: ignore[method-assign]
    return harness
