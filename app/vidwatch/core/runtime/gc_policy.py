"""Keeping the garbage collector out of the way of 10,000 long-lived records.

With 10,000 tasks a full (generation 2) collection walks every record and took 40 ms,
long enough to delay a key press; frozen objects are not walked. Records replaced later
are still freed by reference counting (they hold no cycles); a full collection every
quarter of an hour catches any cycle that was frozen.
"""

from __future__ import annotations

import gc

__all__ = ["SETTLE_AT", "GcPolicy", "settle", "settle_after_load"]

FREEZE_TICKS = 60  # seconds between moving long-lived objects out of the GC's way
FULL_TICKS = 900  # seconds between full collections
SETTLE_AT = 1_000  # records loaded from which a full collection at start pays for itself


def settle() -> None:
    """Collect everything once, then freeze what is left (after loading a big list)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def settle_after_load(records: int) -> bool:
    """:func:`settle` after a list of ``records`` was loaded, if it is big enough for the
    collector's walks to matter (a full collection walks the whole process: for a small
    list it costs more than it saves). Returns whether it settled."""
    if records < SETTLE_AT:
        return False
    settle()
    return True


class GcPolicy:
    """Call :meth:`tick` once a second."""

    def __init__(self) -> None:
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks % FREEZE_TICKS == 0:
            gc.freeze()  # survivors of the last minute join the objects gen-2 passes skip
        if self.ticks % FULL_TICKS == 0:
            settle()
