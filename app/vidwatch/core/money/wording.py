"""The words users read about what a job cost (the detail pane, the CLI, the stats view)."""

from __future__ import annotations

from datetime import UTC

from vidwatch.core.model.money import QUOTA, Cost
from vidwatch.core.model.records import TaskRecord

__all__ = ["cost_cell", "cost_line", "refund_note"]


def cost_cell(record: TaskRecord) -> str:
    """The COST column: ``0.24``, ``0.24!`` when it failed and was still charged, ``–``."""
    cost = record.task.cost
    if cost is None:
        return "–"
    text = cost.money.short if cost.unit != QUOTA else f"{cost.net:,}q"
    return f"{text}!" if record.charged_failed else text


def cost_line(cost: Cost) -> str:
    """``0.24 USD (matched by task id)``; ``0 USD (0.40 charged, refunded)``."""
    how = f"matched by {cost.source}" if cost.source else "from the request log"
    if cost.refunded:
        return f"{cost.money} ({how}; {cost.charged:,} quota charged, {cost.refunded:,} refunded)"
    return f"{cost.money} ({how})"


def refund_note(record: TaskRecord) -> str:
    """What a user needs to ask the gateway for a refund; ``""`` unless it failed and
    was still charged."""
    cost = record.task.cost
    if cost is None or not record.charged_failed:
        return ""
    at = f" at {cost.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if cost.at else ""
    return (
        f"Failed, and still charged {cost.money}{at}. To ask the gateway for a refund, "
        f"give the task id {record.id}, that time and that charge."
    )
