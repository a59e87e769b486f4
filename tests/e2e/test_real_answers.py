"""The whole poll path meets the answers the real gateways send (issue 16): the client,
the poller, the record merge, the task file, ``vidwatch wait``/``list --json`` and the
dashboard's detail pane, with an ``httpx.MockTransport`` gateway answering in the captured
shapes (tests/fixtures/query-answers.json)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from vidwatch.cli import EXIT_OK, main
from vidwatch.core.clients import client_for
from vidwatch.core.config import Config
from vidwatch.core.model.records import State
from vidwatch.core.polling.events import TaskUpdate
from vidwatch.core.store.task_file import TaskStore
from vidwatch.ui.widgets.detail import DetailPane

from tests.core.gateway.test_captures import BY_NAME
from tests.support.dashboard import FakeGateway, make_app, record
from tests.support.waits import until

KEY = "sk-test-0123456789"
DOC = BY_NAME["doc example"]
VEO_ID = BY_NAME["veo completed sample"]["asked_id"]
FINAL_URL = BY_NAME["veo completed sample"]["body"]["video_url"]
BEFORE_UPSCALING = BY_NAME["veo video_generation_completed"]["body"]["detail"]["video_url"]


def veo_steps() -> list[dict[str, Any]]:
    """Veo's seven steps as the gateway answers them, the captured ones among them:
    detail.video_url (before upscaling) from video_generation_completed on, the top-level
    URL only at completed, which has no top-level prompt."""

    def step(status: str, n: int, **detail: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": VEO_ID,
            "status": status,
            "video_url": None,
            # between the captured ones: ... 1770350300000 (generated), 1770350329098 (done)
            "status_update_time": 1770350082000 + n * 20_000
            if n < 3
            else 1770350300000 + (n - 3) * 9_000,
        }
        if n < 3:
            body["enhanced_prompt"] = "A vibrant and whimsical animation"
        if detail:
            body["detail"] = {"status": status, "running": True, **detail}
        return body

    return [
        step("pending", 0),
        step("image_downloading", 1),
        step("video_generating", 2),
        BY_NAME["veo video_generation_completed"]["body"],
        step("video_upsampling", 4, video_url=BEFORE_UPSCALING),
        step("video_upsampling_completed", 5, video_url=BEFORE_UPSCALING),
        BY_NAME["veo completed sample"]["body"],
    ]


class Gateway:
    """Answers each asked ID with its bodies in turn (the last one again and again)."""

    def __init__(self, answers: dict[str, list[dict[str, Any]]]) -> None:
        self.answers = answers
        self.asked: list[str] = []
        self.paths: set[str] = set()

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.paths.add(request.url.path)
        task_id = request.url.params["id"]
        bodies = self.answers[task_id]
        n = sum(1 for asked in self.asked if asked == task_id)
        self.asked.append(task_id)
        return httpx.Response(200, json=bodies[min(n, len(bodies) - 1)])

    def factory(self, config: Config) -> Any:
        return client_for(config, transport=httpx.MockTransport(self.handler))


def vidwatch(tmp_path: Path) -> Callable[..., tuple[int, str, str]]:
    config = tmp_path / "config.toml"
    config.write_text(
        "[polling]\nmin_interval = 0.01\nmax_interval = 0.02\nmax_requests_per_second = 1000\n",
        encoding="utf-8",
    )

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        args = ["--config", str(config), "--tasks-file", str(tmp_path / "tasks.toml"), *argv]
        return main(args, out=out, err=err), out.getvalue(), err.getvalue()

    return run


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Gateway:
    monkeypatch.setenv("QUICKROUTER_API_KEY", KEY)
    gateway = Gateway({})
    monkeypatch.setattr("vidwatch.cli.network.make_client", gateway.factory)
    return gateway


def test_wait_finishes_a_task_answered_with_an_unrelated_id(
    tmp_path: Path, gateway: Gateway
) -> None:
    """The doc's example: grok:eee6… answered as 033fa60e-… (an upstream id), pending,
    then done. Main refused every answer as "about another task" and wait timed out."""
    asked = DOC["asked_id"]
    done = {**DOC["body"], "status": "completed", "video_url": "https://cdn.example/cow.mp4"}
    gateway.answers[asked] = [DOC["body"], done]
    run = vidwatch(tmp_path)
    code, out, err = run("wait", asked, "--timeout", "60")
    assert code == EXIT_OK, err
    assert out == f"{asked}\thttps://cdn.example/cow.mp4\n"
    (stored,) = json.loads(run("list", "--json")[1])
    assert stored["id"] == asked  # keyed by the ID asked for
    assert stored["server_id"] == DOC["body"]["id"]  # the body's id, kept as detail
    assert stored["state"] == "succeeded"
    assert stored["enhanced_prompt"] == DOC["body"]["enhanced_prompt"]


def test_wait_on_veo_takes_the_upscaled_video_at_the_real_end(
    tmp_path: Path, gateway: Gateway
) -> None:
    steps = veo_steps()
    gateway.answers[VEO_ID] = steps
    run = vidwatch(tmp_path)
    code, out, err = run("wait", VEO_ID, "--timeout", "60")
    assert code == EXIT_OK, err
    assert out == f"{VEO_ID}\t{FINAL_URL}\n"
    assert BEFORE_UPSCALING not in out
    assert len(gateway.asked) >= len(steps)  # asked until completed, not stopped early
    result = TaskStore(tmp_path / "tasks.toml").load().records[VEO_ID].result
    assert (result.state, result.video_url) == (State.SUCCEEDED, FINAL_URL)
    assert result.enhanced_prompt == steps[6]["detail"]["enhanced_prompt"]  # from detail
    assert result.fail_reason is None
    assert result.error is None
    states = [(t.state, t.status) for t in result.history]
    assert states[-1] == (State.SUCCEEDED, "completed")
    assert all(state is not State.SUCCEEDED for state, _ in states[:-1])
    assert (State.RUNNING, "video_upsampling_completed") in states


def test_a_veo_task_an_earlier_version_took_for_done_is_polled_to_its_end(
    tmp_path: Path, gateway: Gateway
) -> None:
    """Stored as succeeded on video_generation_completed with the video before upscaling:
    `poll` (which skips finished tasks) asks again, and the real end is kept."""
    (tmp_path / "tasks.toml").write_text(
        f'schema = 1\n[[tasks]]\nid = "{VEO_ID}"\nadded_at = 2026-02-06T03:54:00Z\n'
        '[tasks.result]\nstate = "succeeded"\nstatus = "video_generation_completed"\n'
        f'video_url = "{BEFORE_UPSCALING}"\nchecked_at = 2026-02-06T04:00:00Z\n',
        encoding="utf-8",
    )
    gateway.answers[VEO_ID] = [BY_NAME["veo completed sample"]["body"]]
    run = vidwatch(tmp_path)
    assert run("poll")[0] == EXIT_OK
    assert gateway.asked == [VEO_ID]
    (row,) = json.loads(run("list", "--json")[1])
    assert (row["state"], row["video_url"]) == ("succeeded", FINAL_URL)


def test_poll_then_list_json_has_the_finished_grok_answer(tmp_path: Path, gateway: Gateway) -> None:
    grok = BY_NAME["grok completed capture"]
    gateway.answers[grok["asked_id"]] = [BY_NAME["grok processing capture"]["body"], grok["body"]]
    run = vidwatch(tmp_path)
    assert run("add", grok["asked_id"])[0] == EXIT_OK
    assert run("poll")[0] == EXIT_OK
    assert run("poll")[0] == EXIT_OK
    (row,) = json.loads(run("list", "--json")[1])
    body = grok["body"]
    assert row["state"] == "succeeded"
    assert row["status_update_time"].startswith("2025-12-03T07:08:33")  # seconds
    assert row["thumbnail_url"] == body["thumbnail_url"]
    assert row["sent_prompt"] == body["prompt"]
    assert row["enhanced_prompt"] is None
    assert row["extras"]["ratio"] == "1:1"
    assert row["extras"]["completed_at"] == body["completed_at"]
    # the first answer's id is the server id; the later one's change is in the timeline
    assert row["server_id"] == BY_NAME["grok processing capture"]["body"]["id"]
    assert row["history"][-1]["server_id"] == body["id"]
    csv = run("export", "--format", "csv")[1]
    assert body["thumbnail_url"] in csv
    assert '""ratio"":""1:1""' in csv


# --------------------------------------------------------------------------- the dashboard


class SequenceGateway(FakeGateway):
    """The dashboard's fake gateway, answering each ID with its bodies in turn."""

    def __init__(self, answers: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__()
        self.sequence = Gateway(answers)

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.params.get("id", ""))
        return self.sequence.handler(request)


@pytest.mark.ui
async def test_the_dashboard_follows_veo_to_its_end_and_shows_grok_extras(
    tmp_path: Path,
) -> None:
    grok = BY_NAME["grok completed capture"]
    doc_id = DOC["body"]["id"]
    gateway = SequenceGateway(
        {
            VEO_ID: veo_steps(),
            # first answered with the doc's upstream id, then with the capture's own
            grok["asked_id"]: [{**DOC["body"], "status": "processing"}, grok["body"]],
        }
    )
    records = [record(VEO_ID), record(grok["asked_id"])]
    h = make_app(tmp_path, records, key=KEY, gateway=gateway)
    seen: list[tuple[State, str | None]] = []
    async with h.app.run_test(size=(160, 60)) as pilot:

        def watch(event: object) -> None:
            if isinstance(event, TaskUpdate) and event.record.id == VEO_ID:
                seen.append((event.record.result.state, event.record.result.video_url))

        def done(task_id: str) -> bool:
            return h.app.session.records[task_id].result.final

        h.app.session.subscribe(watch)
        await until(pilot, lambda: done(VEO_ID) and done(grok["asked_id"]), what="both done")
        veo = h.app.session.records[VEO_ID].result
        assert veo.video_url == FINAL_URL
        assert all(url is None for state, url in seen if state is not State.SUCCEEDED)
        assert [state for state, _ in seen].count(State.SUCCEEDED) == 1  # not done early
        pane = h.app.main.query_one(DetailPane)
        await pilot.press("down")  # the cursor to the grok task: the pane follows it
        await until(pilot, lambda: pane.record is not None and pane.record.id == grok["asked_id"])
        facts, url, answer = (pane.section_text(n) for n in ("facts", "url", "answer"))
        timeline, prompt = pane.section_text("timeline"), pane.section_text("prompt")
        await until(pilot, lambda: bool(h.stored()[grok["asked_id"]].result.extras))
    assert f"Server id  {doc_id}" in facts  # the first id seen
    assert f"server id now {grok['body']['id']}" in " ".join(timeline.split())
    assert "Thumbnail" + grok["body"]["thumbnail_url"] in "".join(url.split())  # folded
    assert answer.startswith("From the server\n")
    assert "ratio: 1:1" in answer
    assert "upscaled: yes" in answer
    assert "completed_at: 2025-12-03 " in " ".join(answer.split())  # seconds, as a time
    assert prompt.startswith("Enhanced prompt\nA surreal ...\n")  # kept from the first answer
    assert "\nPrompt (as the server has it)\n**固定镜头→推镜**" in prompt
    assert gateway.sequence.paths == {"/v1/video/query"}  # the thumbnail is never fetched
    stored = h.stored()
    assert stored[VEO_ID].result.video_url == FINAL_URL
    assert stored[grok["asked_id"]].result.thumbnail_url == grok["body"]["thumbnail_url"]
