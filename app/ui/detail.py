"""The detail pane: everything known about the highlighted task.

All server text goes into ``rich.text.Text`` objects built from plain strings,
so nothing the server sends is ever parsed as markup; the core removed escape
and control sequences before it got here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from app.core.models import State, TaskRecord, utcnow
from app.core.sanitize import strip_fence
from app.ui.rows import relative

__all__ = ["DetailPane"]

NextCheck = Callable[[str], datetime | None]


def when(value: datetime | None, now: datetime) -> str:
    """An absolute local time with a relative hint: ``2026-11-24 12:00:05 (5m ago)``."""
    if value is None:
        return "–"
    local = value.astimezone()
    hint = relative(value, now)
    suffix = f"{hint} ago" if value <= now else hint
    return f"{local:%Y-%m-%d %H:%M:%S} ({suffix})"


class DetailPane(VerticalScroll, can_focus=True):
    """Shows one :class:`TaskRecord`; the screen binds ``record`` to the table's cursor."""

    record: reactive[TaskRecord | None] = reactive(None)

    def __init__(
        self,
        *,
        next_check: NextCheck | None = None,
        clock: Callable[[], datetime] = utcnow,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.next_check = next_check
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield Static(id="detail-facts", markup=False)
        yield Static("Video URL", classes="detail-heading")
        yield Static(id="detail-url", markup=False)
        yield Static("Problem", id="detail-error-heading", classes="detail-heading")
        yield Static(id="detail-error", markup=False)
        yield Static("Enhanced prompt", classes="detail-heading")
        yield Static(id="detail-prompt", markup=False)

    def on_mount(self) -> None:
        self._show(self.record)

    def watch_record(self, old: TaskRecord | None, new: TaskRecord | None) -> None:
        if not self.is_mounted:
            return
        moved = (old is None) != (new is None) or (old and new and old.id != new.id)
        self._show(new)
        if moved:
            self.scroll_home(animate=False)

    def refresh_times(self) -> None:
        """Redraw the relative times only (called every second)."""
        if self.record is not None:
            self.query_one("#detail-facts", Static).update(self._facts(self.record))

    def _show(self, record: TaskRecord | None) -> None:
        facts = self.query_one("#detail-facts", Static)
        url = self.query_one("#detail-url", Static)
        error = self.query_one("#detail-error", Static)
        prompt = self.query_one("#detail-prompt", Static)
        if record is None:
            facts.update(Text("No task selected. Press a to add task IDs."))
            for widget in (url, error, prompt):
                widget.update(Text(""))
            self.set_class(False, "-has-error")
            return
        facts.update(self._facts(record))
        r = record.result
        if r.video_url:
            url.update(Text(r.video_url))
        elif r.state is State.SUCCEEDED:
            url.update(Text("finished, but the server sent no usable URL yet"))
        elif r.state is State.FAILED:
            url.update(Text("none: the job failed"))
        else:
            url.update(Text("not ready yet"))
        error_text = self._problem(record)
        self.set_class(error_text is not None, "-has-error")
        error.update(error_text or Text(""))
        body = strip_fence(r.enhanced_prompt) if r.enhanced_prompt else "(none yet)"
        prompt.update(Text(body))

    @staticmethod
    def _problem(record: TaskRecord) -> Text | None:
        r = record.result
        if r.state is State.FAILED:
            text = Text(r.fail_reason or f"The job failed on the server (status {r.status!r}).")
            text.append("\nStart the job again where you created it.", style="italic")
            return text
        if not r.error:
            return None
        text = Text(r.error)
        if r.problem is not None:
            text.append("\n" + r.problem.advice, style="italic")
        return text

    def _facts(self, record: TaskRecord) -> Text:
        r = record.result
        now = self.clock()
        state = r.state
        if r.checked_at is None:
            state_word = "· not checked yet"
        else:
            state_word = f"{state.symbol} {state.value}"
        status = r.status or "–"
        if state is State.UNKNOWN and r.status:
            status += " (a word vidwatch does not know; still polling)"
        rows: list[tuple[str, str]] = [
            ("Task", record.id),
            ("Label", record.task.label or "–"),
            ("Server id", r.server_id or "–"),
            ("State", state_word),
            ("Status", status),
        ]
        if r.progress is not None:
            rows.append(("Progress", f"{r.progress:.0f}%"))
        rows += [
            ("Added", when(record.task.added_at, now)),
            ("Updated", when(r.status_update_time, now)),
            ("Checked", when(r.checked_at, now)),
        ]
        due = self.next_check(record.id) if self.next_check else None
        if due is not None:
            rows.append(("Next check", when(due, now)))
        else:
            rows.append(("Next check", "– (finished)" if r.final else "–"))
        text = Text()
        for index, (label, value) in enumerate(rows):
            if index:
                text.append("\n")
            text.append(f"{label:<11}", style="bold")
            text.append(value)
        return text
