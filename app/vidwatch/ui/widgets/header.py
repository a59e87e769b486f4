"""The one-line header: counts per state, polling state, request rate, DEMO, how long
jobs take. Its layout follows the terminal's width (:func:`layout_for`), never the
numbers it shows."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from vidwatch.core.model.records import State
from vidwatch.core.polling.events import PollerStatus

__all__ = ["COMPACT_WIDTH", "FULL_WIDTH", "Layout", "StateCounts", "StatusBar", "layout_for"]

StateCounts = tuple[tuple[State, int], ...]  # hashable, so reactives compare by value

_ORDER = (State.QUEUED, State.RUNNING, State.SUCCEEDED, State.FAILED, State.UNKNOWN)

FULL_WIDTH = 150  # from here: counts with their words ("▶ 6 running")
COMPACT_WIDTH = 100  # below this: symbols and numbers only, "vw"


class Layout(Enum):
    """The header's three layouts, chosen from the width alone: the numbers of the
    moment never make it flip (only its end, how long jobs take, may be cut)."""

    FULL = "full"  # vidwatch  ◷ 4 queued  ▶ 6 running … │ live │ 35 req/min │ jobs take …
    MEDIUM = "medium"  # vidwatch  live  │ ◷ 4  ▶ 6 … │ 35 req/min │ jobs take …
    COMPACT = "compact"  # vw  live  │ ◷ 4 ▶ 6 … │ 35/min


def layout_for(width: int) -> Layout:
    if width >= FULL_WIDTH:
        return Layout.FULL
    return Layout.MEDIUM if width >= COMPACT_WIDTH else Layout.COMPACT


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
        return self._line(layout_for(self.size.width))

    def _line(self, layout: Layout) -> Text:
        style = self._style
        compact = layout is Layout.COMPACT
        worded = layout is Layout.FULL  # counts with their state's word
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" vw " if compact else " vidwatch ", style=style("status-bar--brand"))
        status = self.status
        if not worded:  # what polling is doing first: it must never be cut off
            text.append(" ")
            text.append(status.label, style=style(_status_class(status)))
            if self.saving_failed:
                text.append(" NOT SAVING", style=style("status-bar--bad"))
            text.append(" ")
        if self.demo:
            text.append(" DEMO ", style=style("status-bar--held") + Style(reverse=True))
        text.append(" " if worded else " │ ")
        counts = dict(self.counts)
        for state in _ORDER:
            count = counts.get(state, 0)
            if count or state is not State.UNKNOWN:
                component = f"status-bar--{state.value}" if count else "status-bar--zero"
                word = f" {state.value}" if worded else ""
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
        if worded:
            text.append("│ ")
            text.append(status.label, style=style(_status_class(status)))
            if self.saving_failed:
                text.append(" │ ")
                text.append("NOT SAVING", style=style("status-bar--bad"))
            if not status.offline:
                text.append(" │ ")
        elif not status.offline:
            text.append("│ ")
        if not status.offline:
            text.append(f"{status.requests_per_minute} req/min")
        if self.balance:
            text.append(f" │ {self.balance}")
        if self.summary:  # last: where room runs out, only its end is cut
            text.append(f" │ {self.summary}")
        return text

    def _style(self, component: str) -> Style:
        return self.get_component_rich_style(component, partial=True)


def _status_class(status: PollerStatus) -> str:
    if status.auth_error or status.url_error or status.offline or status.unreachable is not None:
        return "status-bar--bad"
    if status.paused or status.hold_until is not None:
        return "status-bar--held"
    return "status-bar--live"
