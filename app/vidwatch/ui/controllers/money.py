"""The balance in the header: the keeper (:class:`~vidwatch.core.money.balance.BalanceKeeper`)
run for the dashboard, refreshed at start, after jobs reach the list, and every few
minutes, on the billing routes' own client (never polling's connections or budget).

A gateway that offers no balance shows none (said once, in the log); a refresh that gets
no answer keeps the last balance shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from vidwatch.core.changes import Added, Change
from vidwatch.core.clients import billing_client_for
from vidwatch.core.config import Config
from vidwatch.core.downloads.sidecar import note_cost
from vidwatch.core.gateway.billing import BillingClient
from vidwatch.core.model.money import Balance
from vidwatch.core.model.records import TaskRecord
from vidwatch.core.money.balance import EVERY, MIN_GAP, BalanceKeeper, Reading
from vidwatch.core.money.costs import Costs
from vidwatch.core.session import Session
from vidwatch.core.store.charge_book import Book, ChargeBook
from vidwatch.core.store.lock import StoreError

__all__ = ["BalanceController"]

log = logging.getLogger("vidwatch.money")

BillingFactory = Callable[[Config], BillingClient]


class BalanceController:
    def __init__(
        self,
        show: Callable[[str], None],
        factory: BillingFactory = billing_client_for,
        *,
        session: Session | None = None,
        book: Path | None = None,
    ) -> None:
        self.show = show
        self.factory = factory
        self.session = session
        self.book = ChargeBook(book) if book is not None else None
        self._base_url = ""
        self._saving: asyncio.Task[None] | None = None
        self._noting: set[asyncio.Task[None]] = set()  # sidecars being given their cost
        self.every = EVERY
        self.min_gap = MIN_GAP
        self.keeper: BalanceKeeper | None = None

    def start(self, config: Config) -> None:
        """Begin refreshing (with a key; once)."""
        if self.keeper is not None or not config.api_key:
            return
        try:
            client = self.factory(config)
        except ValueError:
            return  # the base URL is refused: the connection says so
        self._base_url = config.base_url
        session = self.session
        self.keeper = BalanceKeeper(
            client,
            self._reading,
            every=self.every,
            min_gap=self.min_gap,
            records=None if session is None else lambda: session.records,
            on_costs=self._costs,
            book=self._read_book(),
        )
        self.keeper.start()

    def _reading(self, reading: Reading) -> None:
        if isinstance(reading.balance, Balance):
            self.show(f"balance {reading.balance.short}")
        elif reading.not_offered:
            self.show("")

    def _read_book(self) -> Book:
        if self.book is None:
            return Book()
        try:
            return self.book.read(self._base_url)
        except (OSError, StoreError) as exc:
            log.warning("the charge book cannot be read: %s", exc)
            return Book()

    def _costs(self, costs: Costs) -> None:
        if self.session is not None:
            changed = self.session.set_costs(costs.matching.costs)
            saved = [r for r in changed if r.task.saved_to]
            if saved:  # videos downloaded before their cost was known: their sidecars
                task = asyncio.get_running_loop().create_task(self._note(saved))
                self._noting.add(task)
                task.add_done_callback(self._noting.discard)
        if self.book is not None and (self._saving is None or self._saving.done()):
            self._saving = asyncio.get_running_loop().create_task(self._save(costs.book))

    async def _note(self, records: list[TaskRecord]) -> None:
        await asyncio.to_thread(lambda: [note_cost(r) for r in records])

    async def _save(self, book: Book) -> None:
        assert self.book is not None
        try:
            await asyncio.to_thread(self.book.write, self._base_url, book)
        except (OSError, StoreError) as exc:
            log.warning("the charge book cannot be written: %s", exc)

    def on_change(self, change: Change) -> None:
        """Jobs reached the list (a create among them): refresh soon."""
        if isinstance(change, Added) and self.keeper is not None:
            self.keeper.created()

    async def aclose(self) -> None:
        keeper, self.keeper = self.keeper, None
        if keeper is not None:
            await keeper.aclose()
        for task in list(self._noting):  # a sidecar being written is finished, not cut
            await task
        if self._saving is not None:
            await self._saving
