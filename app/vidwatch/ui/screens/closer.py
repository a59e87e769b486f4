"""A closer look at a finished job (``enter``): its still large, a filmstrip of frames
spread over the video, its real facts and where they differ from what was asked, and its
prompt. ←/→ go to the previous/next finished job in the table's order (the table's cursor
follows), ``o`` opens the video, ``D`` downloads it, ``escape`` goes back. Held down, ←/→
start no reads for the jobs passed over: a look not kept is made once the keys rest.

The still and the filmstrip are made in a worker (:class:`~vidwatch.core.media.previews.Previews`,
with ``strip``: a few more frames read, in the same limited decoder); going on to another
job cancels it. Every word shown is plain text.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from vidwatch.core.media.previews import Preview, Previews
from vidwatch.core.media.wording import differences, facts_line
from vidwatch.core.model.records import State, TaskRecord
from vidwatch.core.text.sanitize import clean_text
from vidwatch.ui.controllers.task_actions import TaskActions
from vidwatch.ui.widgets.still import SETTLE, Mode, image_widget, picture_of

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["CloserLook", "finished_ids"]

STILL_ROWS = 20  # the still's height, at most
STRIP_ROWS = 6  # the filmstrip's, at most; on a screen under ROOMY rows, STRIP_ROWS_SMALL
STRIP_ROWS_SMALL = 4
ROOMY = 35
HINT = "←/→ previous/next finished job · o open · D download · esc back"


def finished_ids(main: TaskActions) -> list[str]:
    """The finished jobs in the table's order."""
    records = main.session.records
    return [
        i
        for i in main.table.view_ids
        if i in records and records[i].result.state is State.SUCCEEDED
    ]


class CloserLook(Screen[None]):
    """The full-screen view of one finished job (see the module)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,enter", "app.pop_screen", "Back"),
        Binding("left,h", "step(-1)", "Previous"),
        Binding("right,l", "step(1)", "Next"),
        Binding("o", "open", "Open"),
        Binding("D", "download", "Download"),
    ]

    def __init__(self, main: TaskActions, previews: Previews, mode: Mode, task_id: str) -> None:
        super().__init__(id="closer")
        self.main = main
        self.previews = previews
        self.mode: Mode = mode
        self.task_id = task_id
        self.shown: Preview | None = None  # what is on screen (tests read it)
        self.settle = SETTLE  # after ←/→, a look not kept is made once the keys rest
        self._pictures: tuple[Image | None, Image | None] = (None, None)
        self._placed_for: tuple[int, int] | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="closer-body"):
            yield Static("", id="closer-title", markup=False)
            yield Vertical(id="closer-still")
            yield Vertical(id="closer-strip")
            yield Static("", id="closer-facts", markup=False)
            yield Static("", id="closer-prompt", markup=False)
        yield Static(HINT, id="closer-hint", markup=False)

    def on_mount(self) -> None:
        self._go(self.task_id)

    @property
    def record(self) -> TaskRecord | None:
        return self.main.session.records.get(self.task_id)

    def _go(self, task_id: str, settle: float = 0.0) -> None:
        self.task_id = task_id
        self.shown = None
        self.main.table.move_to(task_id)
        record = self.record
        if record is None:
            return
        self.query_one("#closer-title", Static).update(
            f"{record.task.label or record.id} — {record.id}"
        )
        self._pictures = (None, None)
        self._place()
        self.query_one("#closer-facts", Static).update("Loading the still and filmstrip…")
        prompt = record.prompt or record.result.enhanced_prompt or ""  # grok: the sent one
        self.query_one("#closer-prompt", Static).update(clean_text(prompt, 4000))
        self.run_worker(
            self._load(record, settle), group="closer", exclusive=True, exit_on_error=False
        )

    async def _load(self, record: TaskRecord, settle: float) -> None:
        preview = await self.previews.get(record, strip=True, settle=settle)
        if preview.still is None:  # no filmstrip: the still alone, if there is one
            alone = await self.previews.get(record)
            preview = alone if alone.still is not None else preview
        still = await asyncio.to_thread(picture_of, preview.still or b"", 2)
        strip = await asyncio.to_thread(picture_of, preview.strip or b"", 8)
        if record.id != self.task_id:
            return
        self.shown = preview
        self._pictures = (still, strip)
        self._place()
        lines = [] if still is not None else [f"No still: {preview.why or 'none was made'}."]
        if preview.facts is not None:
            lines.append(facts_line(preview.facts))
            lines += [f"⚠ {said}" for said in differences(preview.facts, record)]
            self.main.session.set_video(record.id, preview.facts)
        if still is not None and strip is None and preview.why:
            lines.append(f"No filmstrip: {preview.why}.")
        self.query_one("#closer-facts", Static).update("\n".join(lines))

    def _place(self) -> None:
        """Mount the still and the filmstrip sized to the screen: at 80×24 too, the facts
        and the start of the prompt stay in view below them."""
        for box in ("#closer-still", "#closer-strip"):
            self.query_one(box).remove_children()
        still, strip = self._pictures
        width, height = max(20, self.size.width - 4), self.size.height
        self._placed_for = (self.size.width, height)
        strip_rows = STRIP_ROWS if height >= ROOMY else STRIP_ROWS_SMALL
        # title, hint, two margins, the facts (two lines) and the prompt (two) with its margin
        still_rows = max(3, min(STILL_ROWS, height - (strip_rows if strip is not None else 0) - 9))
        if still is not None:
            self.query_one("#closer-still").mount(_sized(self.mode, still, width, still_rows))
        if strip is not None:
            self.query_one("#closer-strip").mount(_sized(self.mode, strip, width, strip_rows))

    def on_resize(self) -> None:
        size = (self.size.width, self.size.height)
        if self._pictures != (None, None) and self._placed_for != size:
            self._place()

    def action_step(self, delta: int) -> None:
        ids = finished_ids(self.main)
        if not ids:
            return
        at = ids.index(self.task_id) if self.task_id in ids else -1
        self._go(ids[(at + delta) % len(ids)], self.settle)

    async def action_open(self) -> None:
        await self.main.action_open()

    def action_download(self) -> None:
        self.main.action_download()


def _sized(mode: Mode, picture: Image, width: int, rows: int) -> Widget:
    """The picture within ``width`` columns and ``rows`` rows, its shape kept (a cell is
    about twice as tall as wide)."""
    w, h = picture.size
    height = max(2, min(rows, round(width * h / max(w, 1) / 2)))
    shown = image_widget(mode, picture)
    shown.styles.height = height
    shown.styles.width = max(4, min(width, round(height * 2 * w / max(h, 1))))
    return shown
