"""A run stops sending when the charges seen reach ``[create] max_spend``.

The estimate refuses a batch before anything is sent
(:func:`~vidwatch.core.money.estimates.over_limit`); an estimate can be wrong (prices
change, a field costs more than the charges seen said). While a run sends,
:class:`SpendWatch` reads the request log on the billing routes' own client — in a task
of its own, every :data:`EVERY` seconds — and sums the charges less refunds dated from
the run's start: every entry seen in any read, so that a long run's first charges still
count once they fall off the log's newest entries. :meth:`SpendWatch.reached` is what the
sender asks before each row: a plain read of what was last seen, never a request, so a
billing route that fails or hangs never slows a create. Today's spend before the run
counts too (the limit is per batch and per day). A log that is not offered is said once
(the log) and not asked again; the check before the run still held.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from vidwatch.core.gateway.billing import BillingClient
from vidwatch.core.gateway.billing_answer import LogPage, NotOffered
from vidwatch.core.model.money import Money, Units
from vidwatch.core.money.balance import log_costs, stop

__all__ = ["EVERY", "SKEW", "SpendWatch"]

log = logging.getLogger("vidwatch.money")

EVERY: Final = 15.0  # seconds between two reads of the request log during a run
SKEW: Final = timedelta(seconds=5)  # the server's clock a little behind ours


class SpendWatch:
    """The charges seen since ``since`` against ``limit`` (see the module's docstring)."""

    def __init__(
        self,
        client: BillingClient,
        limit: float,
        units: Units,
        *,
        since: datetime,
        spent_before: Money | None = None,
        every: float = EVERY,
    ) -> None:
        self.client = client
        self.cap = Decimal(repr(limit))
        self.units = units
        self.since = since - SKEW
        same = spent_before is not None and spent_before.unit == units.unit
        self.before = spent_before.amount if spent_before is not None and same else Decimal(0)
        self.every = every
        self.seen = Decimal(0)  # charges less refunds since the run began, in units
        # every entry of the run seen in any read (the log answers its newest entries: a
        # long run's first charges fall off it while the run goes on)
        self._run_entries: dict[str, int] = {}
        self.reads = 0  # answers of the log read
        self.offered = True
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Read now, then every :attr:`every` seconds, in a task of its own."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="spend")

    async def read(self) -> None:
        """One read of the log (what :meth:`start` repeats)."""
        page = await self.client.log_page()
        if isinstance(page, NotOffered):
            self.offered = False
            log_costs(page)
        elif isinstance(page, LogPage):
            self._run_entries.update((c.key, c.signed) for c in page.charges if c.at >= self.since)
            self.seen = self.units.amount(sum(self._run_entries.values()))
            self.reads += 1

    async def _run(self) -> None:
        while self.offered:
            try:
                await self.read()
            except Exception:  # a bug here must not stop the sends: logged, asked again
                log.exception("reading the request log during a run failed")
            if not self.offered:
                return
            await asyncio.sleep(self.every)

    def reached(self) -> str | None:
        """Why no further row is sent (the limit is reached), or None."""
        if self.before + self.seen < self.cap:
            return None
        unit = self.units.unit
        seen = Money(self.seen, unit)
        cap = f"{self.cap.normalize():f}"
        if not self.before:
            return (
                f"the charges seen since this run began ({seen}) reached the spending limit {cap}"
            )
        today = Money(self.before + self.seen, unit)
        since = f" ({seen} of it since this run began)" if self.seen else ""
        return f"today's spend {today}{since} reached the spending limit {cap} for a day"

    async def aclose(self) -> None:
        task, self._task = self._task, None
        await stop(task)
        await self.client.aclose()
