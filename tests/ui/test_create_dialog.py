"""Creating jobs in the dashboard: ``n`` (the dialog), ``N`` (again), the confirm step,
the one send path, and the request in the detail pane."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual import events as events_module
from textual._xterm_parser import XTermParser
from textual.pilot import Pilot
from textual.widgets import Button, Select, Static, TextArea
from vidwatch.core.config import Config, Paths
from vidwatch.core.model.money import Cost
from vidwatch.core.model.records import State, Task, TaskRecord, TaskRequest, TaskResult
from vidwatch.ui.app import DashboardOptions, VidwatchApp
from vidwatch.ui.dialogs.confirm import ConfirmDialog
from vidwatch.ui.dialogs.create import ConfirmCreate, CreateDialog
from vidwatch.ui.palette import key_help, palette_commands
from vidwatch.ui.screens.main import MainScreen
from vidwatch.ui.widgets.rows import prompt_line

from tests.support.dashboard import KEY, T0, FakeGateway, Harness, make_app, record
from tests.support.waits import until

pytestmark = pytest.mark.ui  # drives the Textual app (a marker main's suite registers)

NEW_ID = "grok:0b5d3c1e-7f2a-4c44-9d8e-1a2b3c4d5e6f"


@dataclass
class CreateGateway(FakeGateway):
    """The fake gateway, which also answers ``POST /v1/video/create``."""

    creates: list[dict[str, Any]] = field(default_factory=list)
    create_status: int = 200
    create_answer: dict[str, Any] = field(
        default_factory=lambda: {"id": NEW_ID, "status": "pending", "status_update_time": 1}
    )

    async def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return await super().handler(request)
        self.seen_keys.append(request.headers.get("authorization", ""))
        self.creates.append(json.loads(request.content))
        return httpx.Response(self.create_status, json=self.create_answer)


def harness(tmp_path: Path, records: list[TaskRecord] | None = None) -> Harness:
    return make_app(tmp_path, records or [], key=KEY, gateway=CreateGateway())


def gateway(h: Harness) -> CreateGateway:
    assert isinstance(h.gateway, CreateGateway)
    return h.gateway


async def open_dialog(h: Harness, pilot: Pilot[None], key: str = "n") -> CreateDialog:
    await until(pilot, lambda: h.app.connection.client is not None)
    await pilot.press(key)
    await until(pilot, lambda: isinstance(h.app.screen, CreateDialog))
    dialog = h.app.screen
    assert isinstance(dialog, CreateDialog)

    def composed() -> bool:  # every Select has its parts (slow on a loaded machine)
        selects = list(dialog.query(Select))
        return bool(selects) and all(s.is_mounted and s.query("#label") for s in selects)

    await until(pilot, composed)
    return dialog


async def fill(pilot: Pilot[None], dialog: CreateDialog, prompt: str, **texts: str) -> None:
    dialog.query_one("#create-prompt", TextArea).text = prompt
    for name, text in texts.items():
        dialog.query_one(f"#create-{name}").value = text  # type: ignore[attr-defined]
    await pilot.pause()


async def test_a_bad_aspect_ratio_is_shown_in_the_dialog_and_nothing_is_sent(
    tmp_path: Path,
) -> None:
    h = harness(tmp_path)
    async with h.app.run_test(size=(120, 50)) as pilot:
        dialog = await open_dialog(h, pilot)
        assert dialog.model == "grok-video-3"  # [create] model
        await fill(pilot, dialog, "a cat")
        dialog.query_one("#create-params", TextArea).text = "aspect_ratio=4:3"
        await pilot.press("ctrl+s")
        error = dialog.query_one("#create-error", Static)
        await until(pilot, lambda: "aspect_ratio" in str(error.render()))
        assert "2:3, 3:2 or 1:1" in str(error.render())
        assert error.display
        assert h.app.screen is dialog  # no confirm: nothing can be sent
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmDialog))
        await pilot.press("y")  # throw the edited form away
        await until(pilot, lambda: isinstance(h.app.screen, MainScreen))
        assert gateway(h).creates == []
        assert h.app.creator.sends == 0


async def test_confirm_sends_one_create_and_the_row_appears_at_once(tmp_path: Path) -> None:
    h = harness(tmp_path, [record("grok:old", State.RUNNING)])
    async with h.app.run_test(size=(120, 50)) as pilot:
        dialog = await open_dialog(h, pilot)
        await fill(pilot, dialog, "  a cat on a skateboard ", label="cats")
        dialog.query_one("#field-aspect_ratio", Select).value = "1:1"
        dialog.query_one("#create-images", TextArea).text = "https://img.example/cat.png\n\n"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmCreate))
        confirm = h.app.screen
        shown = str(confirm.query_one("#confirm-body", Static).render())
        assert '"aspect_ratio": "1:1"' in shown
        assert KEY not in shown
        assert gateway(h).creates == []  # the form alone never spends
        await pilot.click("#create-yes")
        await until(pilot, lambda: NEW_ID in h.app.session.records)
        assert gateway(h).creates == [
            {
                "model": "grok-video-3",
                "prompt": "a cat on a skateboard",
                "aspect_ratio": "1:1",
                "images": ["https://img.example/cat.png"],
            }
        ]
        await until(pilot, lambda: f"Created {NEW_ID}." in h.toasts)
        main = h.app.main
        await until(pilot, lambda: main.current is not None and main.current.id == NEW_ID)
        stored = h.stored()[NEW_ID].task
        assert stored.label == "cats"
        assert stored.request == TaskRequest(
            "grok-video-3",
            "a cat on a skateboard",
            {"aspect_ratio": "1:1"},
            ("https://img.example/cat.png",),
        )
        journal = list(h.app.creator.ledger().journals.folder.iterdir())
        assert journal
        assert all(KEY not in p.read_text() for p in journal)
        assert NEW_ID in journal[0].read_text()  # intent, then the ID
    assert len(gateway(h).creates) == 1


async def test_escape_sends_nothing_at_either_step(tmp_path: Path) -> None:
    h = harness(tmp_path)
    async with h.app.run_test(size=(120, 50)) as pilot:
        dialog = await open_dialog(h, pilot)
        await fill(pilot, dialog, "a cat")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmCreate))
        await pilot.press("escape")  # back to the form, as it was
        await until(pilot, lambda: h.app.screen is dialog)
        assert dialog.query_one("#create-prompt", TextArea).text == "a cat"
        await pilot.press("escape")  # an edited form: asked first
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(h.app.screen, MainScreen))
        await until(pilot, lambda: "Nothing sent." in h.toasts)
        assert gateway(h).creates == []
        assert h.app.session.records == {}


async def test_a_refused_create_says_why_and_adds_no_row(tmp_path: Path) -> None:
    h = harness(tmp_path)
    gateway(h).create_status = 403
    gateway(h).create_answer = {
        "error": {
            "message": "[b]balance[/b] too low",
            "type": "quota",
            "code": "quota_not_enough",
        }
    }
    async with h.app.run_test(size=(120, 50)) as pilot:
        dialog = await open_dialog(h, pilot)
        await fill(pilot, dialog, "a cat")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmCreate))
        await pilot.click("#create-yes")
        await until(pilot, lambda: "quota_not_enough" in h.last_toast())
        assert "[b]balance[/b] too low" in h.last_toast()  # the server's words, as text
        assert "nothing was paid" in h.last_toast()
        assert len(gateway(h).creates) == 1  # an account refusal is not retried
        assert h.app.session.records == {}
    assert h.stored() == {}


def made(request: TaskRequest | None, state: State = State.FAILED) -> TaskRecord:
    base = record("sora-2:task_01", state, label="fox", prompt="an enhanced fox")
    return TaskRecord(Task(base.id, T0, "fox", request=request), base.result)


SORA = TaskRequest(
    "sora-2",
    "[b]x[/b] a fox\nin the snow",
    {"orientation": "portrait", "duration": 15, "seed": 7, "private": True},
    ("https://img.example/[red]fox[/red].png",),
)


async def test_again_opens_the_dialog_prefilled_with_the_request(tmp_path: Path) -> None:
    h = harness(tmp_path, [made(SORA)])
    async with h.app.run_test(size=(120, 50)) as pilot:
        dialog = await open_dialog(h, pilot, "N")
        assert dialog.model == "sora-2"
        assert dialog.query_one("#create-prompt", TextArea).text == SORA.prompt
        await until(pilot, lambda: bool(dialog.query("#field-duration")))
        assert dialog.field_values() == {"orientation": "portrait", "duration": 15, "private": True}
        assert dialog.query_one("#create-params", TextArea).text == "seed=7"
        assert dialog.query_one("#create-images", TextArea).text == SORA.images[0]
        assert dialog.query_one("#create-label").value == "fox"  # type: ignore[attr-defined]
        job = dialog.build()
        assert job.request.record() == SORA  # the same job, field for field
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(h.app.screen, MainScreen))
        assert gateway(h).creates == []


async def test_again_on_a_task_added_by_id_offers_the_form_from_what_is_known(
    tmp_path: Path,
) -> None:
    """No request is kept for a task added by ID, but its ID names the model and the
    answers hold the prompt: N offers them, for the user to check (issue 21, item 4)."""
    by_id = made(None)  # sora-2:task_01, failed, "an enhanced fox"
    grok = record("grok:0b5d3c1e", State.SUCCEEDED, prompt="```\nrewritten\n```")
    grok = TaskRecord(grok.task, replace(grok.result, sent_prompt="a cat, as sent"))
    bare = record("7d1c0b52-1f0e-4a53", State.FAILED, prompt="```\na whale\n```")
    h = harness(tmp_path, [by_id, grok, bare])
    async with h.app.run_test(size=(120, 50)) as pilot:
        dialog = await open_dialog(h, pilot, "N")
        assert dialog.model == "sora-2"  # the ID's prefix, a known model
        assert dialog.query_one("#create-prompt", TextArea).text == "an enhanced fox"
        assert dialog.query_one("#create-label").value == "fox"  # type: ignore[attr-defined]
        note = str(dialog.query_one("#create-note", Static).render())
        assert "Added by ID" in note
        assert "Check both" in note
        await pilot.press("escape")  # as it opened: closes without asking
        await until(pilot, lambda: isinstance(h.app.screen, MainScreen))

        await pilot.press("down")
        dialog = await open_dialog(h, pilot, "N")
        assert dialog.model == "grok-video-3"  # grok: the one known grok model
        assert dialog.query_one("#create-prompt", TextArea).text == "a cat, as sent"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(h.app.screen, MainScreen))

        await pilot.press("down")
        dialog = await open_dialog(h, pilot, "N")
        assert dialog.model == "grok-video-3"  # no prefix: [create] model
        assert dialog.query_one("#create-prompt", TextArea).text == "a whale"  # no fence
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(h.app.screen, MainScreen))
    assert gateway(h).creates == []


async def test_the_failed_hint_of_a_task_added_by_id_names_N(tmp_path: Path) -> None:
    h = make_app(tmp_path, [made(None)])
    async with h.app.run_test(size=(140, 50)) as pilot:
        detail = h.app.main.detail
        await until(pilot, lambda: bool(detail.section_text("problem")))
        assert "Press N to create it again" in detail.section_text("problem")


async def test_the_detail_pane_shows_the_request_literally_above_the_enhanced_prompt(
    tmp_path: Path,
) -> None:
    hostile = TaskRequest(
        "sora-2",
        "[b]x[/b] \x1b[31mred\x1b[0m [@click=app.quit]go[/]",
        {"orientation": "[i]portrait[/i]"},
        ("https://img.example/a.png",),
    )
    h = make_app(tmp_path, [made(hostile)])
    async with h.app.run_test(size=(140, 50)) as pilot:
        detail = h.app.main.detail
        await until(pilot, lambda: bool(detail.section_text("request")))
        text = detail.section_text("request")
        assert "[b]x[/b]" in text
        assert "[@click=app.quit]go[/]" in text
        assert "\x1b" not in text
        assert "orientation: [i]portrait[/i]" in text
        assert "image: https://img.example/a.png" in text
        assert "sora-2" in text
        assert "Press N to create it again" in detail.section_text("problem")
        plain = detail.plain
        assert plain.index("Request") < plain.index("Enhanced prompt")


async def test_help_and_the_palette_list_new_job_and_again(tmp_path: Path) -> None:
    h = make_app(tmp_path)
    async with h.app.run_test(size=(120, 50)) as pilot:
        rows = dict(key_help(h.app, h.app.BINDINGS))
        assert "Create a job" in rows["n"]
        assert "again" in rows["N"]
        titles = [c.title for c in palette_commands([], h.app.main, lambda: None)]
        assert "New job" in titles
        assert "Again" in titles
        await pilot.pause()


async def test_the_demo_creates_a_job_on_the_simulator_with_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QUICKROUTER_API_KEY", raising=False)
    options = DashboardOptions(
        paths=Paths.discover(), config=Config(), demo=True, demo_jobs=2, demo_speed=300.0
    )
    app = VidwatchApp(options)
    async with app.run_test(size=(120, 50)) as pilot:
        await until(pilot, lambda: app.connection.client is not None)
        before = set(app.session.records)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, CreateDialog))
        app.screen.query_one("#create-prompt", TextArea).text = "a demo cat"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmCreate))
        await pilot.click("#create-yes")
        await until(pilot, lambda: len(app.session.records) == len(before) + 1)
        (new,) = set(app.session.records) - before
        created = app.session.records[new]
        assert created.task.request is not None
        assert created.task.request.prompt == "a demo cat"
        await until(pilot, lambda: app.session.records[new].result.final, timeout=15)
        await pilot.press("q")


async def test_a_lost_answer_is_uncertain_never_sent_again_and_said_so(tmp_path: Path) -> None:
    class LosingGateway(CreateGateway):
        async def handler(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST":
                self.creates.append(json.loads(request.content))
                raise httpx.ReadTimeout("no answer", request=request)
            return await super().handler(request)

    h = make_app(tmp_path, key=KEY, gateway=LosingGateway())
    async with h.app.run_test(size=(120, 50)) as pilot:
        dialog = await open_dialog(h, pilot)
        await fill(pilot, dialog, "a cat")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmCreate))
        await pilot.click("#create-yes")
        await until(pilot, lambda: "not sent again by itself" in h.last_toast())
        assert "may have been made (and paid)" in h.last_toast()
        assert len(gateway(h).creates) == 1
        assert h.app.session.records == {}
        await pilot.press("n")  # a new job is a new send: the lost one is not repeated
        await until(pilot, lambda: isinstance(h.app.screen, CreateDialog))
        assert len(gateway(h).creates) == 1


async def test_without_a_key_n_says_how_to_get_one_and_opens_nothing(tmp_path: Path) -> None:
    h = make_app(tmp_path, key=None, gateway=CreateGateway())
    async with h.app.run_test(size=(120, 50)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: "needs an API key" in h.last_toast())
        assert isinstance(h.app.screen, MainScreen)


def test_the_prompt_column_shows_the_prompt_sent_until_the_server_rewrites_it() -> None:
    fresh = TaskRecord(Task("sora-2:task_02", T0, request=SORA))
    assert prompt_line(fresh) == "[b]x[/b] a fox"
    assert prompt_line(made(SORA)) == "an enhanced fox"
    assert prompt_line(made(None)) == "an enhanced fox"
    assert prompt_line(TaskRecord(Task("grok:x", T0))) == ""


async def test_the_fields_follow_the_model_and_any_model_can_be_named(tmp_path: Path) -> None:
    h = harness(tmp_path)
    async with h.app.run_test(size=(120, 50)) as pilot:
        dialog = await open_dialog(h, pilot)
        fields = dialog.query_one("#create-fields")

        def shown() -> list[str]:
            return [w.id or "" for w in fields.query(Select)]

        await until(pilot, lambda: shown() == ["field-aspect_ratio", "field-size"])
        dialog.query_one("#create-model", Select).value = "sora-2-pro"
        await until(pilot, lambda: "field-duration" in shown())

        def duration_ready() -> bool:  # composed: on a loaded machine this takes a while
            select = dialog.query_one("#field-duration", Select)
            return select.is_mounted and bool(select.query("#label"))

        await until(pilot, duration_ready)
        dialog.query_one("#field-duration", Select).value = 25
        await fill(pilot, dialog, "a fox", **{"model-other": "kling-v2"})
        await until(pilot, lambda: shown() == [])
        dialog.query_one("#create-params", TextArea).text = "mode=pro\nseconds=5"
        job = dialog.build()
        assert job.request.body() == {
            "model": "kling-v2",
            "prompt": "a fox",
            "mode": "pro",
            "seconds": 5,
        }
        await fill(pilot, dialog, "a fox", **{"model-other": ""})  # back to sora-2-pro
        await until(pilot, lambda: "field-duration" in shown())
        assert dialog.field_values() == {"duration": 25}  # what was chosen is kept
        dialog.query_one("#create-params", TextArea).text = "nonsense"
        await pilot.press("ctrl+s")
        error = dialog.query_one("#create-error", Static)
        await until(pilot, lambda: "line 1" in str(error.render()))
        assert gateway(h).creates == []


@dataclass
class BusyGateway(CreateGateway):
    """Answers the first create with a 429 that asks for an hour."""

    async def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and not self.creates:
            self.creates.append(json.loads(request.content))
            return httpx.Response(429, headers={"Retry-After": "3600"}, content=b"")
        return await super().handler(request)


async def test_a_long_retry_after_is_said_with_the_time_left(tmp_path: Path) -> None:
    h = make_app(tmp_path, [], key=KEY, gateway=BusyGateway())
    async with h.app.run_test(size=(120, 50)) as pilot:
        dialog = await open_dialog(h, pilot)
        await fill(pilot, dialog, "a cat")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmCreate))
        await pilot.click("#create-yes")
        await until(pilot, lambda: "trying again" in h.last_toast())
        toast = h.last_toast()
        assert toast.startswith("Not sent (429")
        assert "trying again in 1h00m (at " in toast
        assert "nothing paid so far" in toast
        assert len(gateway(h).creates) == 1  # and it waits: nothing sent again yet


def in_view(dialog: CreateDialog, widget: Any) -> bool:
    """The widget is laid out and wholly inside the part of the form on screen."""
    form = dialog.query_one("#create-form")
    shown = form.scrollable_content_region
    return widget.region.height > 0 and shown.contains_region(widget.region)


async def paste(pilot: Pilot[None], raw: str) -> None:
    """What the terminal sends for a bracketed paste of ``raw``, through Textual's own
    parser (which turns an escape sequence inside a paste into keys, ESC as "^")."""
    parser = XTermParser()
    events = [*parser.feed(f"\x1b[200~{raw}\x1b[201~"), *parser.feed("")]
    for event in events:
        if isinstance(event, events_module.Key):
            await pilot.press(event.key)
        elif isinstance(event, events_module.Paste):
            pilot.app.focused.post_message(event)  # type: ignore[union-attr]
    await pilot.pause()


async def test_an_esc_pasted_into_the_prompt_is_refused_and_shown_at_the_prompt(
    tmp_path: Path,
) -> None:
    h = harness(tmp_path)
    async with h.app.run_test(size=(80, 24)) as pilot:
        dialog = await open_dialog(h, pilot)
        prompt = dialog.query_one("#create-prompt", TextArea)
        await paste(pilot, "a \x1b[31mred\x1b[0m fox")
        assert "^[31m" in prompt.text  # where the "^" comes from: Textual's parser
        await pilot.press("ctrl+s")
        error = dialog.query_one("#create-error", Static)
        await until(pilot, lambda: "escape sequence" in str(error.render()))
        assert "^[31m" in str(error.render())
        assert h.app.screen is dialog  # never reaches the confirm screen
        await until(pilot, lambda: in_view(dialog, error))
        assert dialog.focused is prompt
        assert in_view(dialog, prompt)
        await pilot.press("escape")
    assert gateway(h).creates == []


async def test_on_a_short_terminal_an_error_below_the_fold_is_brought_into_view(
    tmp_path: Path,
) -> None:
    h = harness(tmp_path)
    async with h.app.run_test(size=(80, 24)) as pilot:
        dialog = await open_dialog(h, pilot)
        await fill(pilot, dialog, "a cat")
        params = dialog.query_one("#create-params", TextArea)
        params.text = "aspect_ratio=4:3"
        prompt = dialog.query_one("#create-prompt", TextArea)
        prompt.focus()
        await pilot.pause()
        assert not in_view(dialog, params)  # the form shows its top: params are below
        await pilot.press("ctrl+s")
        error = dialog.query_one("#create-error", Static)
        await until(pilot, lambda: "aspect_ratio" in str(error.render()))
        await until(pilot, lambda: in_view(dialog, error))
        assert dialog.focused is params
        assert in_view(dialog, params)
        # fixed there, the next mistake is shown at its own field
        params.text = ""
        prompt.text = ""
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "the prompt is empty" in str(error.render()))
        await until(pilot, lambda: in_view(dialog, error) and in_view(dialog, prompt))
        assert dialog.focused is prompt
    assert gateway(h).creates == []


async def test_escape_on_an_edited_form_asks_before_throwing_it_away(tmp_path: Path) -> None:
    h = harness(tmp_path)
    async with h.app.run_test(size=(120, 35)) as pilot:
        dialog = await open_dialog(h, pilot)
        await pilot.press(*"a cat")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmDialog))
        await pilot.press("n")  # keep it
        await until(pilot, lambda: h.app.screen is dialog)
        assert dialog.query_one("#create-prompt", TextArea).text == "a cat"
        await pilot.click("#create-cancel")  # the button asks too
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(h.app.screen, MainScreen))
        await until(pilot, lambda: "Nothing sent." in h.toasts)
    assert gateway(h).creates == []


async def press_at_once(pilot: Pilot[None], *keys: str) -> None:
    """Keys queued all at once, as a fast typist or a paste on a loaded machine sends
    them: none waits for the one before to be handled."""
    for key in keys:
        char = {"space": " "}.get(key, key if len(key) == 1 else None)
        pilot.app.post_message(events_module.Key(key, char))
    await pilot.pause()


async def test_keys_typed_right_after_n_go_to_the_prompt(tmp_path: Path) -> None:
    """Typed while the dialog was being built, they went to the main screen (p paused
    polling) or were lost (issue 21, item 10)."""
    h = harness(tmp_path, [record("grok:run", State.RUNNING)])
    async with h.app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: h.app.connection.client is not None)
        await press_at_once(pilot, "n", "p", "i", "g", "space", "d", "a", "n", "c", "e", "s")
        await until(pilot, lambda: isinstance(h.app.screen, CreateDialog))
        prompt = h.app.screen.query_one("#create-prompt", TextArea)
        await until(pilot, lambda: prompt.text == "pig dances")
        assert not h.app.poller.paused  # p went to the prompt
        assert "grok:run" in h.app.session.records  # d removed nothing


async def test_keys_typed_right_after_N_go_after_the_prefilled_prompt(tmp_path: Path) -> None:
    h = harness(tmp_path, [made(SORA)])
    async with h.app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: h.app.connection.client is not None)
        await until(pilot, lambda: h.app.main.current is not None)
        await press_at_once(pilot, "N", "space", "a", "t", "space", "d", "u", "s", "k")
        await until(pilot, lambda: isinstance(h.app.screen, CreateDialog))
        prompt = h.app.screen.query_one("#create-prompt", TextArea)
        await until(pilot, lambda: prompt.text.endswith(" at dusk"))
        assert prompt.text == SORA.prompt + " at dusk"


def footer_keys_of(screen: Any) -> dict[str, str]:
    from vidwatch.ui.widgets.footer import KeyFooter

    return {k.key_display: k.description for k in screen.query_one(KeyFooter).shown}


@pytest.mark.parametrize("size", [(120, 35), (80, 24)])
async def test_the_dialog_shows_its_own_keys_and_its_buttons(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    """The footer listed the table's keys, and the buttons were below the fold."""
    h = harness(tmp_path)
    async with h.app.run_test(size=size) as pilot:
        dialog = await open_dialog(h, pilot)
        await pilot.pause()
        keys = footer_keys_of(dialog)
        assert keys.get("esc") == "Cancel"
        assert "Review" in keys.values()
        assert "Add" not in keys.values()  # none of the table's
        height = dialog.size.height
        for button in dialog.query(Button):
            assert button.region.y >= 0
            assert button.region.bottom <= height - 1
        assert dialog.query_one("#create-model", Select).region.height > 0
        assert dialog.query_one("#create-prompt", TextArea).region.height > 0


async def test_the_confirm_screen_shows_the_estimate_and_its_source(tmp_path: Path) -> None:
    charged = Cost(120_000, 0, Decimal(120_000), "quota", "task id", "grok-video-3", T0, "k1")
    seen = TaskRecord(
        Task("grok:seen", T0, request=TaskRequest("grok-video-3", "a cow"), cost=charged),
        TaskResult(State.SUCCEEDED, "completed"),
    )
    h = harness(tmp_path, [seen])
    async with h.app.run_test(size=(120, 50)) as pilot:
        dialog = await open_dialog(h, pilot)
        await fill(pilot, dialog, "a cat")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmCreate))
        facts = str(h.app.screen.query_one("#confirm-facts", Static).render())
        assert "Cost      ≈ 120,000 quota: 1 × grok-video-3 at 120,000 quota" in facts
        assert "from your last job" in facts


async def test_max_spend_refuses_a_job_before_the_confirm_screen(tmp_path: Path) -> None:
    """``[create] max_spend`` holds in the dashboard as in ``create``: a job whose estimate
    is above it, or that would take today's spend above it, never reaches the button that
    spends; under it, the confirm screen opens as before."""
    charged = Cost(120_000, 0, Decimal(120_000), "quota", "task id", "grok-video-3", T0, "k1")
    seen = TaskRecord(
        Task("grok:seen", T0, request=TaskRequest("grok-video-3", "a cow"), cost=charged),
        TaskResult(State.SUCCEEDED, "completed"),
    )
    h = harness(tmp_path, [seen])

    def limit(amount: float) -> None:
        config = h.app.config
        h.app.config = replace(config, create=replace(config.create, max_spend=amount))

    async with h.app.run_test(size=(120, 50)) as pilot:
        dialog = await open_dialog(h, pilot)
        await fill(pilot, dialog, "a cat")
        error = dialog.query_one("#create-error", Static)
        for amount, why in (
            (100_000.0, "the estimate 120,000 quota is above the spending limit 100000"),
            (200_000.0, "today's spend 120,000 quota and the estimate 120,000 quota"),
        ):
            limit(amount)
            await pilot.press("ctrl+s")
            await until(pilot, lambda: why in str(error.render()))  # noqa: B023
            assert "Not sending:" in str(error.render())
            assert isinstance(h.app.screen, CreateDialog)  # no confirm screen: no button
        limit(240_000.0)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmCreate))
    assert gateway(h).creates == []
