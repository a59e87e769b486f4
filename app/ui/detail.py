"""The detail pane: everything known about the highlighted task.

All server text goes into ``rich.text.Text`` objects built from plain strings,
so nothing the server sends is ever parsed as markup.
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
from app.core.sanitize import clean_text, strip_fence
from app.ui.rows import relative

_ADVICE = {
    "401": "Set a valid key in QUICKROUTER_API_KEY or the config file, then press p to resume.",
    "not know": "Check the ID for typos and that base_url points at the gateway that created it.",
    "Rate limited": (
        "Polling waits as the server asked; lower max_requests_per_second if it repeats."
    ),
    "Server error": "The gateway or the model failed; vidwatch retries with backoff.",
    "Network": "Check your connection; vidwatch retries with backoff.",
    "Timed out": "The server is slow; vidwatch retries with backoff.",
    "Unusable answer": "The server sent something vidwatch cannot read; it retries. See the log.",
}


def advice_for(error: str) -> str:
    for needle, advice in _ADVICE.items():
        if needle in error:
            return advice
    return ""


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "–"
    local = value.astimezone()
    return (
        f"{local:%Y-%m-%d %H:%M:%S} ({relative(value, now)} ago)"
        if value <= now
        else (f"{local:%Y-%m-%d %H:%M:%S} ({relative(value, now)})")
    )


class DetailPane(VerticalScroll, can_focus=False):
    """Shows one :class:`TaskRecord`; follows the table's cursor."""

    record: reactive[TaskRecord | None] = reactive(None, always_update=True)

    def __init__(
        self,
        *,
        next_check: Callable[[str], datetime | None] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.next_check = next_check

    def compose(self) -> ComposeResult:
        yield Static(id="detail-facts", markup=False)
        yield Static("Video URL", classes="detail-heading")
        yield Static(id="detail-url", markup=False)
        yield Static("Error", id="detail-error-heading", classes="detail-heading")
        yield Static(id="detail-error", markup=False)
        yield Static("Enhanced prompt", classes="detail-heading")
        yield Static(id="detail-prompt", markup=False)

    def watch_record(self, record: TaskRecord | None) -> None:
        if not self.is_mounted:
            return
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
            url.update(Text(r.video_url, style="underline"))
        elif r.state is State.SUCCEEDED:
            url.update(Text("finished, but the server sent no usable URL yet"))
        else:
            url.update(Text("not ready yet"))
        problem = r.error or (r.fail_reason if r.state is State.FAILED else None)
        self.set_class(bool(problem), "-has-error")
        if problem:
            text = Text(problem)
            advice = advice_for(problem)
            if advice:
                text.append("\n" + advice, style="italic")
            error.update(text)
        else:
            error.update(Text(""))
        body = strip_fence(r.enhanced_prompt) if r.enhanced_prompt else "(none yet)"
        prompt.update(Text(clean_text(body)))

    def _facts(self, record: TaskRecord) -> Text:
        r = record.result
        now = utcnow()
        state = r.state
        status = r.status or "–"
        rows: list[tuple[str, str]] = [
            ("Task", record.id),
            ("Label", record.task.label or "–"),
            ("Server id", r.server_id or "–"),
            ("State", f"{state.symbol} {state.value}" if r.checked_at else "· not checked yet"),
            (
                "Status",
                status
                + (" (not a word vidwatch knows)" if state is State.UNKNOWN and r.status else ""),
            ),
        ]
        if r.progress is not None:
            rows.append(("Progress", f"{r.progress:.0f}%"))
        if r.fail_reason and state is State.FAILED:
            rows.append(("Reason", r.fail_reason))
        rows += [
            ("Added", _when(record.task.added_at, now)),
            ("Updated", _when(r.status_update_time, now)),
            ("Checked", _when(r.checked_at, now)),
        ]
        due = self.next_check(record.id) if self.next_check else None
        rows.append(("Next check", _when(due, now) if due else ("–" if r.final else "soon")))
        text = Text()
        for index, (label, value) in enumerate(rows):
            if index:
                text.append("\n")
            text.append(f"{label:<11}", style="bold")
            text.append(value)
        return text
