"""Paid once, for real (issue 17), in the dashboard: quitting while a create is out asks
first; creates whose job may exist stay in a banner; the confirm screen names an earlier
send of the same request; a form is never lost to a busy journal."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import Static, TextArea
from vidwatch.core.model.records import Task, TaskRecord, TaskRequest
from vidwatch.ui.dialogs.confirm import ConfirmDialog
from vidwatch.ui.dialogs.create import ConfirmCreate, CreateDialog
from vidwatch.ui.screens.main import MainScreen

from tests.support.dashboard import KEY, T0, Harness, make_app
from tests.support.waits import until
from tests.ui.test_create_dialog import NEW_ID, CreateGateway, fill, gateway, open_dialog

pytestmark = pytest.mark.ui


@dataclass
class HeldGateway(CreateGateway):
    """Creates wait for ``gate`` before they are answered (the job is made at once)."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.creates.append(json.loads(request.content))
            await self.gate.wait()
            return httpx.Response(200, json=self.create_answer)
        return await super().handler(request)


async def confirm_job(h: Harness, pilot: Pilot[None], prompt: str) -> ConfirmCreate:
    dialog = await open_dialog(h, pilot)
    await fill(pilot, dialog, prompt)
    await pilot.press("ctrl+s")
    await until(pilot, lambda: isinstance(h.app.screen, ConfirmCreate))
    assert isinstance(h.app.screen, ConfirmCreate)
    return h.app.screen


async def test_quitting_while_a_create_is_out_asks_first(tmp_path: Path) -> None:
    h = make_app(tmp_path, key=KEY, gateway=HeldGateway())
    held = h.gateway
    assert isinstance(held, HeldGateway)
    async with h.app.run_test(size=(120, 50)) as pilot:
        await confirm_job(h, pilot, "a cat")
        await pilot.click("#create-yes")
        await until(pilot, lambda: len(held.creates) == 1)  # out, no answer yet
        await pilot.press("q")
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmDialog))
        question = str(h.app.screen.query_one(".dialog-title").render())
        assert "waiting for its answer" in question
        await pilot.press("n")  # stay
        await until(pilot, lambda: isinstance(h.app.screen, MainScreen))
        assert h.app.is_running
        held.gate.set()  # the answer arrives
        await until(pilot, lambda: NEW_ID in h.app.session.records)
        await until(pilot, lambda: not h.app.creator.in_flight)
        await pilot.press("q")  # nothing out: no question
        await until(pilot, lambda: not h.app.is_running)


async def test_quitting_anyway_leaves_the_create_uncertain_and_said(tmp_path: Path) -> None:
    h = make_app(tmp_path, key=KEY, gateway=HeldGateway())
    async with h.app.run_test(size=(120, 50)) as pilot:
        await confirm_job(h, pilot, "a cat on the moon")
        await pilot.click("#create-yes")
        await until(pilot, lambda: len(gateway(h).creates) == 1)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: not h.app.is_running)
    unresolved = h.app.creator.ledger().unresolved()
    assert [u.entry.state.value for u in unresolved] == ["uncertain"]
    assert unresolved[0].entry.prompt == "a cat on the moon"

    again = make_app(tmp_path, key=KEY, gateway=CreateGateway())
    async with again.app.run_test(size=(120, 50)) as pilot:
        main = again.app.main
        await until(pilot, lambda: "--mark-done" in main.banner_text())
        assert f"Create {unresolved[0].ref}" in main.banner_text()
        assert "'a cat on the moon'" in main.banner_text()
        assert "may have made a job" in main.banner_text()


async def test_the_confirm_screen_names_an_earlier_send_of_the_same_request(
    tmp_path: Path,
) -> None:
    made = Task(
        "grok:old-one",
        T0,
        "the first",
        request=TaskRequest("grok-video-3", "a cat", {}, ()),
    )
    h = make_app(tmp_path, [TaskRecord(made)], key=KEY, gateway=CreateGateway())
    async with h.app.run_test(size=(120, 50)) as pilot:
        confirm = await confirm_job(h, pilot, "a cat")
        earlier = str(confirm.query_one("#confirm-earlier", Static).render())
        assert "already in the task list as grok:old-one" in earlier
        assert "pays again" in str(confirm.query_one("#create-yes").render())
        assert gateway(h).creates == []
        await pilot.click("#create-yes")  # the user agreed to pay again
        await until(pilot, lambda: NEW_ID in h.app.session.records)
        confirm = await confirm_job(h, pilot, "  a cat ")
        earlier = str(confirm.query_one("#confirm-earlier", Static).render())
        assert f"sent before as {NEW_ID}" in earlier  # now the record knows it, and when
        assert "UTC" in earlier
        assert len(gateway(h).creates) == 1
        await pilot.click("#create-yes")
        await until(pilot, lambda: len(gateway(h).creates) == 2)


async def test_a_form_confirmed_while_a_cli_create_holds_the_journal_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vidwatch.core.create.journal import CREATE_JOURNAL
    from vidwatch.ui.controllers import creating

    monkeypatch.setattr(creating, "LOCK_WAIT", 0.5)
    h = make_app(tmp_path, key=KEY, gateway=CreateGateway())
    async with h.app.run_test(size=(120, 50)) as pilot:
        held = h.app.creator.ledger().journals.open(CREATE_JOURNAL)  # `vidwatch create`
        try:
            await confirm_job(h, pilot, "a long prompt typed with care")
            await pilot.click("#create-yes")
            await until(pilot, lambda: "Waiting for another vidwatch create" in " ".join(h.toasts))
            await until(
                pilot,
                lambda: (
                    isinstance(h.app.screen, CreateDialog)
                    and bool(h.app.screen.query("#create-prompt"))
                ),  # composed, not only pushed
            )
            assert "Your form is kept" in " ".join(h.toasts)
            dialog = h.app.screen
            assert isinstance(dialog, CreateDialog)
            await until(pilot, lambda: bool(dialog.query("#create-prompt")))  # composed
            prompt = dialog.query_one("#create-prompt", TextArea).text
            assert prompt == "a long prompt typed with care"
            assert gateway(h).creates == []
        finally:
            held.close()
        await pilot.press("ctrl+s")  # as it was: send it now
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmCreate))
        await pilot.click("#create-yes")
        await until(pilot, lambda: NEW_ID in h.app.session.records)
        assert [c["prompt"] for c in gateway(h).creates] == ["a long prompt typed with care"]
