"""The detail pane: everything known about the highlighted task.

A line-API widget (like the table): the record is laid out once into wrapped lines
of ``rich.text.Text``, and only the lines on screen are drawn. Moving the cursor
costs a re-wrap of one record, not a re-layout of the screen — that is what keeps
key presses quick at 500 updates a second.

Server text only ever becomes ``Text(plain_string)``: never markup; the core removed
escape and control sequences before it got here. Mouse selection works as in any
Textual text (the selected text is what was drawn, the URL whole).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from vidwatch.core.model.records import Scalar, State, TaskRecord, Transition, epoch_time, utcnow
from vidwatch.core.model.wording import state_text
from vidwatch.core.money.wording import cost_line, refund_note
from vidwatch.core.polling.scheduler import Eta
from vidwatch.core.text.expiry import expiry_words
from vidwatch.core.text.sanitize import MAX_TEXT, clean_line, clean_text, strip_fence
from vidwatch.core.text.urls import url_problem
from vidwatch.core.text.wording import capitalized, relative, span
from vidwatch.ui.keys import problem_help
from vidwatch.ui.widgets.rows import url_refusal

__all__ = ["DetailPane"]

NextCheck = Callable[[str], datetime | None]
Idle = Callable[[TaskRecord], str]  # no next check planned: "– (finished)", "– (paused; …)"
LABEL = 11  # width of the label column in the facts block
SECTIONS = ("facts", "url", "problem", "cost", "timeline", "request", "prompt", "answer")


def when(value: datetime | None, now: datetime) -> str:
    """An absolute local time with a relative hint: ``2026-11-24 12:00:05 (5m ago)``."""
    if value is None:
        return "–"
    local = value.astimezone()
    hint = relative(value, now)
    suffix = f"{hint} ago" if value <= now else hint
    return f"{local:%Y-%m-%d %H:%M:%S} ({suffix})"


def _spanned(line: Text) -> Text:
    """``Text.render`` ignores a line's own style: carry it as a span underneath instead."""
    if not line.style:
        return line
    line = line.copy()
    line.stylize_before(line.style)
    line.style = ""
    return line


NO_TASKS = "No task selected. Press a to add task IDs."


def _extra_text(name: str, value: Scalar, now: datetime) -> str:
    """One of the answer's other fields as read: a time (``completed_at``, seconds or
    milliseconds) as a time, a boolean as yes/no, the rest as sent (cleaned)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and name.endswith(("_at", "_time")):
        at = epoch_time(float(value))
        if at is not None:
            return when(at, now)
    return clean_line(str(value), MAX_TEXT)


def _same_text(record: TaskRecord, prompt: str) -> bool:
    request = record.task.request
    return request is not None and " ".join(request.prompt.split()) == " ".join(prompt.split())


class DetailPane(ScrollView, can_focus=True):
    """Shows one :class:`TaskRecord`; the screen binds ``record`` to the table's cursor."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "detail--label",
        "detail--heading",
        "detail--url",
        "detail--error",
        "detail--advice",
        "detail--muted",
    }

    record: reactive[TaskRecord | None] = reactive(None)
    hint: reactive[str] = reactive(NO_TASKS)  # shown when there is no record

    def __init__(
        self,
        *,
        next_check: NextCheck | None = None,
        eta: Callable[[str], Eta | None] | None = None,
        idle: Idle | None = None,
        clock: Callable[[], datetime] = utcnow,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.next_check = next_check
        self.eta = eta
        self.idle = idle
        self.clock = clock
        self._sections: dict[str, list[Text]] = {}
        self._lines: list[Text] = []
        self._width = 0
        self._styles: dict[str, Style] = {}

    # ------------------------------------------------------------------ state in

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._restyle, init=False)
        self._layout_all()
        # Component styles are complete only once the stylesheet has reached this widget.
        self.call_after_refresh(self._restyle)

    def watch_hint(self) -> None:
        if self.record is None:
            self._layout_all()

    def watch_record(self, old: TaskRecord | None, new: TaskRecord | None) -> None:
        moved = (old is None) != (new is None) or (old and new and old.id != new.id)
        self._layout_all()
        if moved:
            self.scroll_to(y=0, animate=False, immediate=True)

    def refresh_times(self) -> None:
        """Redraw the relative times (called every second)."""
        if self.record is not None and self.is_mounted:
            self._sections["facts"] = self._facts(self.record)
            self._sections["url"] = self._url(self.record)  # a link's time left
            self._join()

    def on_resize(self, event: events.Resize) -> None:
        self._layout_all()

    def _restyle(self) -> None:
        self._styles.clear()
        self._layout_all()

    # ------------------------------------------------------------------ reading it back

    def section_text(self, name: str) -> str:
        """The plain text of one section as drawn (``facts``, ``url``, ``problem``, ``prompt``)."""
        return "\n".join(line.plain.rstrip() for line in self._sections.get(name, []))

    @property
    def plain(self) -> str:
        return "\n".join(line.plain.rstrip() for line in self._lines)

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract("\n".join(line.plain for line in self._lines)), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()

    # ------------------------------------------------------------------ layout

    def _style(self, component: str) -> Style:
        style = self._styles.get(component)
        if style is None:
            style = self._styles[component] = self.get_component_rich_style(component, partial=True)
        return style

    def _layout_all(self) -> None:
        if not self.is_mounted:
            return
        self._width = max(self.size.width - 1, 10)  # a column for the scrollbar
        record = self.record
        if record is None:
            self._sections = {
                "facts": [Text(self.hint)],
            }
        else:
            self._sections = {
                "facts": self._facts(record),
                "url": self._url(record),
                "problem": self._problem(record),
                "cost": self._cost(record),
                "timeline": self._timeline(record),
                "answer": self._answer(record),
                "request": self._request(record),
                "prompt": self._prompt(record),
            }
        self._join()

    def _join(self) -> None:
        lines: list[Text] = []
        for name in SECTIONS:
            section = self._sections.get(name)
            if section:
                if lines:
                    lines.append(Text(""))
                lines.extend(_spanned(line) for line in section)
        self._lines = lines
        self.virtual_size = Size(0, len(lines))  # wrapped: never scrolls sideways
        self.refresh()

    def _wrap(self, text: Text, width: int | None = None) -> list[Text]:
        return list(text.wrap(self.app.console, width or self._width, overflow="fold"))

    def _heading(self, title: str) -> Text:
        return Text(title, style=self._style("detail--heading"))

    def _facts(self, record: TaskRecord) -> list[Text]:
        r = record.result
        now = self.clock()
        state = r.state
        state_word = state_text(record)  # the row's words, then the header's count
        counted = f"{state.symbol} {state.value}"
        if r.shown_state is State.NEW:
            state_word += " (not checked yet)"
        elif state is State.UNKNOWN and state_word != counted:  # a raw word, or a problem
            state_word += f" (counted as {counted})"
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
        eta = self.eta(record.id) if self.eta and state is State.RUNNING else None
        if eta is not None:
            if eta.late:
                rows.append(("ETA", f"overdue: {span(eta.running_for)} running, longer than most"))
            else:
                rows.append(
                    ("ETA", f"about {span(eta.remaining)} left ({span(eta.running_for)} in)")
                )
        rows += [
            ("Added", when(record.task.added_at, now)),
            ("Updated", when(r.status_update_time, now)),
            ("Checked", when(r.checked_at, now)),
        ]
        rows.append(("Next check", self._next_check_text(record, now)))
        return self._rows(rows)

    def _rows(self, rows: list[tuple[str, str]]) -> list[Text]:
        """``Label      value`` lines, the value wrapped under itself."""
        label_style = self._style("detail--label")
        value_width = max(self._width - LABEL, 4)
        lines: list[Text] = []
        for label, value in rows:
            parts = self._wrap(Text(value), value_width)
            first = Text()
            first.append(f"{label:<{LABEL}}", style=label_style)
            first.append_text(parts[0] if parts else Text(""))
            lines.append(first)
            for part in parts[1:]:
                indented = Text(" " * LABEL)
                indented.append_text(part)
                lines.append(indented)
        return lines

    def _next_check_text(self, record: TaskRecord, now: datetime) -> str:
        """``now``, ``2026-11-24 12:00:05 (in 4s)``, or ``–`` and why not."""
        due = self.next_check(record.id) if self.next_check else None
        if due is not None:
            # Due, or overdue and waiting for its turn in the request budget.
            return "now" if (due - now).total_seconds() < 1.0 else when(due, now)
        if self.idle is not None:
            return self.idle(record)
        return "– (finished)" if record.result.final else "–"

    def _url(self, record: TaskRecord) -> list[Text]:
        r = record.result
        refusal = url_refusal(record)
        if refusal is not None:  # never drawn, copied, opened or fetched (a hand-edited file)
            body = Text(f"refused: {refusal}", style=self._style("detail--error"))
        elif r.video_url:
            body = Text(r.video_url, style=self._style("detail--url"))
        elif r.state is State.SUCCEEDED:
            body = Text("finished, but the server sent no usable URL yet")
        elif r.state is State.FAILED:
            body = Text("none: the job failed", style=self._style("detail--muted"))
        else:
            body = Text("not ready yet", style=self._style("detail--muted"))
        lines = [self._heading("Video URL"), *self._wrap(body)]
        expiry = expiry_words(r.video_url, self.clock()) if refusal is None else None
        if expiry is not None:  # a signed link: how long it still works
            lines += self._wrap(Text(expiry, style=self._style("detail--muted")))
        if r.thumbnail_url:  # a still of the video (grok): shown and selectable, never fetched
            refusal = url_problem(r.thumbnail_url)
            still = (
                Text(f"refused: {refusal}", style=self._style("detail--error"))
                if refusal is not None
                else Text(r.thumbnail_url, style=self._style("detail--url"))
            )
            lines += [self._heading("Thumbnail"), *self._wrap(still)]
        return lines

    def _problem(self, record: TaskRecord) -> list[Text]:
        r = record.result
        if r.state is State.FAILED:
            reason = r.fail_reason or f"The job failed on the server (status {r.status!r})."
            advice = (
                "Press N to create it again (the new-job dialog, prefilled)."
                if record.task.request is not None
                else "Press N to create it again: the new-job dialog, prefilled from what is "
                "known (the model from the ID, the prompt from the answer; check them)."
            )
        elif r.error:
            reason = capitalized(r.error)  # "cannot reach …" starts a sentence here
            advice = problem_help(r.problem) if r.problem is not None else ""
        else:
            return []
        lines = [self._heading("Problem"), *self._wrap(Text(reason, self._style("detail--error")))]
        if advice:
            lines += self._wrap(Text(advice, style=self._style("detail--advice")))
        return lines

    def _cost(self, record: TaskRecord) -> list[Text]:
        """What it cost (from the request log), and a refund's facts when it failed."""
        cost = record.task.cost
        if cost is None:
            return []
        lines = [self._heading("Cost"), *self._wrap(Text(cost_line(cost)))]
        note = refund_note(record)
        if note:
            lines += self._wrap(Text(note, style=self._style("detail--error")))
        return lines

    def _timeline(self, record: TaskRecord) -> list[Text]:
        """Each status the job went through, when, and how long it took; a change of the
        server's id for it, when it began."""
        result = record.result
        history = result.history
        if not history:
            return []
        muted = self._style("detail--muted")
        lines = [self._heading("Timeline")]
        today = self.clock().astimezone().date()
        previous: Transition | None = None
        answered = result.server_id or ""  # the id the answers gave so far
        for step in history:
            local = step.at.astimezone()
            stamp = f"{local:%H:%M:%S}" if local.date() == today else f"{local:%m-%d %H:%M}"
            moved = previous is None or not step.repeats(previous)
            if moved:
                line = Text(f"{stamp:<12}")
                line.append(f"{step.state.symbol} {step.state.value:<10}")
                line.append(f" {step.status}", style=muted)
                if previous is not None:
                    line.append(f"  +{span((step.at - previous.at).total_seconds())}", style=muted)
                lines += self._wrap(line)
                previous = step
            now_id = step.server_id or result.server_id or ""
            if now_id != answered:  # under the step's time, its lines under each other
                said = self._wrap(Text(f"server id now {now_id}", style=muted), self._width - 12)
                for n, part in enumerate(said):
                    note = Text(f"{stamp if n == 0 and not moved else '':<12}", style=muted)
                    note.append_text(part)
                    lines.append(note)
                answered = now_id
        ran = result.ran_for()
        if ran is not None:
            total = (history[-1].at - history[0].at).total_seconds()
            lines.append(Text(f"ran {span(ran)}, {span(total)} in all", style=muted))
        return lines

    def _answer(self, record: TaskRecord) -> list[Text]:
        """The answer's other fields (``ratio``, ``model``, ``completed_at`` as a time…)."""
        r = record.result
        if not r.extras:
            return []
        label_style = self._style("detail--label")
        lines = [self._heading("From the server")]
        now = self.clock()
        for name, value in r.extras:
            line = Text()
            line.append(f"{clean_line(name)}: ", style=label_style)
            line.append(_extra_text(name, value, now))
            lines += self._wrap(line)
        return lines

    def _request(self, record: TaskRecord) -> list[Text]:
        """What created the job (when vidwatch did): model, the prompt as written,
        fields, images. Read from the task file, so cleaned like server text."""
        request = record.task.request
        if request is None:
            return []
        lines = [self._heading("Request"), *self._rows([("Model", clean_line(request.model))])]
        label_style = self._style("detail--label")
        for key, value in request.fields.items():
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            line = Text()
            line.append(f"{clean_line(str(key))}: ", style=label_style)
            line.append(clean_line(shown, MAX_TEXT))
            lines += self._wrap(line)
        for url in request.images:
            line = Text()
            line.append("image: ", style=label_style)
            line.append(clean_line(url, MAX_TEXT))
            lines += self._wrap(line)
        lines += self._wrap(Text(clean_text(request.prompt)))
        return lines

    def _prompt(self, record: TaskRecord) -> list[Text]:
        """The server's enhanced prompt, and the prompt it says it was sent (grok sends that
        one only) unless the request above shows that very text already."""
        r = record.result
        lines: list[Text] = []
        sent = r.sent_prompt if r.sent_prompt and not _same_text(record, r.sent_prompt) else ""
        if r.enhanced_prompt or not sent:
            body = (
                Text(strip_fence(r.enhanced_prompt))
                if r.enhanced_prompt
                else Text("(none yet)", self._style("detail--muted"))
            )
            lines += [self._heading("Enhanced prompt"), *self._wrap(body)]
        if sent:
            if lines:
                lines.append(Text(""))
            lines += [self._heading("Prompt (as the server has it)"), *self._wrap(Text(sent))]
        return lines

    # ------------------------------------------------------------------ drawing

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if index >= len(self._lines):
            return Strip.blank(width, base)
        line = self._lines[index]
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(index)) is not None:
            start, end = span
            line = line.copy()
            selected = self.screen.get_component_rich_style("screen--selection")
            line.stylize(selected, start, len(line) if end == -1 else end)
        segments = Segment.apply_style(line.render(self.app.console), base)
        strip = Strip(list(segments), cell_len(line.plain))
        return strip.crop_extend(scroll_x, scroll_x + width, base).apply_offsets(scroll_x, index)
