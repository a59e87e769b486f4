"""A dialog's own keys show in the footer while it is open, never the table's (issue 21,
item 9); a form with something typed in asks before esc throws it away."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.screen import ModalScreen, Screen
from textual.widgets import TextArea
from vidwatch.core.model.records import State
from vidwatch.ui.dialogs.add import AddDialog
from vidwatch.ui.dialogs.confirm import ConfirmDialog
from vidwatch.ui.screens.main import MainScreen
from vidwatch.ui.widgets.footer import KeyFooter

from tests.support.dashboard import make_app, record
from tests.support.waits import until

pytestmark = pytest.mark.ui


def footer_of(screen: Screen[object]) -> dict[str, str]:
    return {k.key_display: k.description for k in screen.query_one(KeyFooter).keys}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("a", {"^s": "Add", "esc": "Cancel"}),
        ("l", {"⏎": "Save", "esc": "Cancel"}),
        ("v", {"space": "Show or hide", "⏎": "Done", "esc": "Cancel"}),
        ("e", {"^s": "Export", "esc": "Cancel"}),
        ("d", {"y": "Yes", "esc": "No"}),
        ("question_mark", {"esc": "Close"}),
    ],
)
async def test_a_dialog_shows_its_own_keys(
    tmp_path: Path, key: str, expected: dict[str, str]
) -> None:
    h = make_app(tmp_path, [record("grok:a", State.SUCCEEDED)])
    async with h.app.run_test(size=(120, 35)) as pilot:
        await pilot.press(key)
        await until(pilot, lambda: isinstance(h.app.screen, ModalScreen))
        dialog = h.app.screen
        await until(pilot, lambda: bool(dialog.query_one(KeyFooter).keys))
        keys = footer_of(dialog)
        assert expected.items() <= keys.items(), keys
        assert not {"New job", "Copy URL", "Filter"} & set(keys.values())  # not the table's


async def test_esc_on_the_add_dialog_with_a_paste_asks_first(tmp_path: Path) -> None:
    h = make_app(tmp_path)
    async with h.app.run_test(size=(120, 35)) as pilot:
        await pilot.press("a")
        await until(pilot, lambda: isinstance(h.app.screen, AddDialog))
        dialog = h.app.screen
        await pilot.press(*"grok:abc")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmDialog))
        await pilot.press("n")  # keep it
        await until(pilot, lambda: h.app.screen is dialog)
        assert dialog.query_one("#add-ids", TextArea).text == "grok:abc"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(h.app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(h.app.screen, MainScreen))
        assert h.app.session.records == {}
