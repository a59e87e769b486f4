"""The dashboard's add dialog uses the shared ID parser, and asks before adding a token
that does not look like an ID."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Checkbox, Static
from vidwatch.core.model.records import State
from vidwatch.ui.dialogs.add import AddDialog, parse_add
from vidwatch.ui.screens.main import MainScreen

from tests.support.dashboard import make_app, record
from tests.support.waits import until

GROK = "grok:eee6faa8-9dee-455c-aa82-02ac623adf3a"


def test_parse_add_keeps_ids_and_names_the_rest() -> None:
    pasted = f'hello {{"id": "{GROK}", "status": "pending"}} https://example.com/x'
    request = parse_add(pasted, " batch ")
    assert request.ids == (GROK,)
    assert [text for text, _ in request.rejected] == ["hello", "https://example.com/x"]
    assert request.label == "batch"
    anyway = parse_add(pasted, "", anyway=True)
    assert anyway.ids == (GROK, "hello")  # a link without ?id= is never an ID
    assert [text for text, _ in anyway.rejected] == ["https://example.com/x"]


@pytest.mark.ui
async def test_the_dialog_adds_only_ids_unless_told_otherwise(tmp_path: Path) -> None:
    h = make_app(tmp_path, [record("grok:a", State.RUNNING)])
    async with h.app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        dialog = h.app.screen
        assert isinstance(dialog, AddDialog)
        anyway = dialog.query_one("#add-anyway", Checkbox)
        assert not anyway.display
        dialog.query_one("#add-ids").insert(  # type: ignore[attr-defined]
            f"hello world!!, https://example.com/x {json.dumps({'id': GROK})}"
        )
        await until(pilot, lambda: anyway.display)
        preview = str(dialog.query_one("#add-preview", Static).render())
        assert "1 ID(s) to add; 3 left out" in preview
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(h.app.screen, MainScreen))
        await until(pilot, lambda: GROK in h.stored())
        assert "hello" not in h.stored()
        assert "3 rejected" in h.last_toast()

        await pilot.press("a")
        dialog = h.app.screen
        dialog.query_one("#add-ids").insert("my-own-name")  # type: ignore[attr-defined]
        anyway = dialog.query_one("#add-anyway", Checkbox)
        await until(pilot, lambda: anyway.display)
        anyway.value = True
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "my-own-name" in h.stored())
