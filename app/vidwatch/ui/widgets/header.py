"""The one-line header: counts per state, polling state, request rate, DEMO."""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from vidwatch.core.model.records import State
from vidwatch.core.polling.events import PollerStatus

__all__ = ["StateCounts", "StatusBar"]

StateCounts = tuple[tuple[State, int], ...]  # hashable, so reactives compare by value

_ORDER = (State.QUEUED, State.RUNNING, State.SUCCEEDED, State.FAILED, State.UNKNOWN)


class StatusBar(Widget):
    """Everything here is bound from the screen (``data_bind``); it only draws."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-bar--queued",
        "status-bar--running",
        "status-bar--succeeded",
        "status-bar--failed",
        "status-bar--unknown",
        "status-bar--zero",
        "status-bar--live",
        "status-bar--bad",
        "status-bar--held",
        "status-bar--brand",
    }

    counts: reactive[StateCounts] = reactive(())
    fresh: reactive[int] = reactive(0)  # tasks never checked yet
    status: reactive[PollerStatus] = reactive(PollerStatus)
    demo: reactive[bool] = reactive(False)
    saving_failed: reactive[bool] = reactive(False)
    summary: reactive[str] = reactive("")  # e.g. how long jobs take
    marked: reactive[int] = reactive(0)
    balance: reactive[str] = reactive("")  # "balance 31.20" (empty: not known)

    def render(self) -> Text:
        text = self._line(compact=False)
        if text.cell_len > self.size.width:  # narrow: symbols and numbers, state first
            text = self._line(compact=True)
        return text

    def _line(self, *, compact: bool) -> Text:
        style = self._style
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" vw " if compact else " vidwatch ", style=style("status-bar--brand"))
        status = self.status
        if compact:  # what polling is doing matters more than the rest when space is short
            text.append(" ")
            text.append(status.label, style=style(_status_class(status)))
            if self.saving_failed:
                text.append(" NOT SAVING", style=style("status-bar--bad"))
            text.append(" ")
        if self.demo:
            text.append(" DEMO ", style=style("status-bar--held") + Style(reverse=True))
        text.append(" │ " if compact else " ")
        counts = dict(self.counts)
        for state in _ORDER:
            count = counts.get(state, 0)
            if count or state is not State.UNKNOWN:
                component = f"status-bar--{state.value}" if count else "status-bar--zero"
                word = "" if compact else f" {state.value}"
                gap = " " if compact else "  "
                text.append(f"{state.symbol} {count}{word}{gap}", style=style(component))
        if self.fresh:
            text.append(
                f"{State.NEW.symbol} {self.fresh}{'' if compact else ' ' + State.NEW}  ",
                style=style("status-bar--zero"),
            )
        if self.marked:
            marked = f"■ {self.marked}" if compact else f"■ {self.marked} marked"
            text.append(f"{marked}  ", style=style("status-bar--held"))
        if compact:
            if not status.offline:
                text.append(f"│ {status.requests_per_minute}/min")
            return text
        text.append("│ ")
        text.append(status.label, style=style(_status_class(status)))
        if not status.offline:
            text.append(f" │ {status.requests_per_minute} req/min")
        if self.summary:
            text.append(f" │ {self.summary}")
        if self.balance:
            text.append(f" │ {self.balance}")
        if self.saving_failed:
            text.append(" │ ")
            text.append("NOT SAVING", style=style("status-bar--bad"))
        return text

    def _style(self, component: str) -> Style:
        return self.get_component_rich_style(component, partial=True)


def _status_class(status: PollerStatus) -> str:
    if status.auth_error or status.url_error or status.offline or status.unreachable is not None:
        return "status-bar--bad"
    if status.paused or status.hold_until is not None:
        return "status-bar--held"
    return "status-bar--live"
