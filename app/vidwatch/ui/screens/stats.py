"""The stats screen (``$``): what was spent, on what, and how long jobs take, at a glance.

Plain text cells (it works in the browser view too) and Textual's own ``Sparkline`` for
jobs finished per minute over the last hours. The figures come from
:mod:`vidwatch.core.stats`; this screen only lays them out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Sparkline, Static

from vidwatch.core.stats import (
    SPARK_MINUTES,
    Stats,
    bar_lines,
    refund_lines,
    table_rows,
    unmatched_text,
)
from vidwatch.core.text.wording import plural

__all__ = ["StatsScreen"]


Copy = Callable[[str, str], Awaitable[None]]  # (text, what it is): copies and says so


class StatsScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,dollar_sign", "close", "Close"),
        Binding("c", "copy_refunds", "Copy failed but charged"),
    ]

    def __init__(self, stats: Stats, copy: Copy | None = None) -> None:
        super().__init__()
        self.stats = stats
        self.copy = copy  # the dashboard's copy (clipboard, or a file), for c

    def compose(self) -> ComposeResult:
        stats = self.stats
        rows = table_rows(stats)
        table = Table.grid(padding=(0, 2))
        for _ in rows[0]:
            table.add_column(no_wrap=True)
        table.add_row(*(Text(cell, style="bold") for cell in rows[0]))
        for row in rows[1:]:
            table.add_row(*(Text(cell) for cell in row))
        unit = f" {stats.unit}" if stats.unit else ""
        spent = Text(
            f"Spent today {stats.spend_today.short if stats.spend_today else '–'}{unit}"
            f" · this week {stats.spend_week.short if stats.spend_week else '–'}{unit}"
            + (f" ({unmatched_text(stats)})" if stats.unmatched_week else "")
        )
        refunds = refund_lines(stats)
        with Vertical(classes="dialog", id="stats"):
            yield Label("Stats", classes="dialog-title")
            with VerticalScroll():
                yield Static(table, id="stats-models")
                yield Static(spent, id="stats-spent")
                hours = SPARK_MINUTES // 60
                yield Label(f"Jobs finished per minute, the last {hours} hours")
                yield Sparkline(list(stats.finished_per_minute), id="stats-finished")
                yield Label("Running times")
                yield Static(
                    Text("\n".join(bar_lines(stats)) or "none finished yet"), id="stats-bars"
                )
                if refunds:
                    yield Label(f"Failed but charged ({len(refunds)}): ask for a refund")
                    yield Static(Text("\n".join(refunds)), id="stats-refunds")
            hint = "c copies the failed but charged · esc closes" if refunds else "esc closes"
            yield Static(hint, classes="dialog-hint")

    async def action_copy_refunds(self) -> None:
        """``c``: what a refund request needs (task id, charge, time), one job a line."""
        refunds = refund_lines(self.stats)
        if not refunds:
            self.notify("No failed job was charged: nothing to copy.", timeout=3)
            return
        if self.copy is not None:
            await self.copy(
                "\n".join(refunds) + "\n", f"{plural(len(refunds), 'failed job')} still charged"
            )

    def action_close(self) -> None:
        self.dismiss(None)
