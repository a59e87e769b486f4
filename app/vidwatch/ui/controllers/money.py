"""The balance in the header: the keeper (:class:`~vidwatch.core.money.balance.BalanceKeeper`)
run for the dashboard, refreshed at start, after jobs reach the list, and every few
minutes, on the billing routes' own client (never polling's connections or budget).

A gateway that offers no balance shows none (said once, in the log); a refresh that gets
no answer keeps the last balance shown.
"""

from __future__ import annotations

from collections.abc import Callable

from vidwatch.core.changes import Added, Change
from vidwatch.core.clients import billing_client_for
from vidwatch.core.config import Config
from vidwatch.core.gateway.billing import BillingClient
from vidwatch.core.model.money import Balance
from vidwatch.core.money.balance import EVERY, MIN_GAP, BalanceKeeper, Reading

__all__ = ["BalanceController"]

BillingFactory = Callable[[Config], BillingClient]


class BalanceController:
    def __init__(
        self, show: Callable[[str], None], factory: BillingFactory = billing_client_for
    ) -> None:
        self.show = show
        self.factory = factory
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
        self.keeper = BalanceKeeper(client, self._reading, every=self.every, min_gap=self.min_gap)
        self.keeper.start()

    def _reading(self, reading: Reading) -> None:
        if isinstance(reading.balance, Balance):
            self.show(f"balance {reading.balance.short}")
        elif reading.not_offered:
            self.show("")

    def on_change(self, change: Change) -> None:
        """Jobs reached the list (a create among them): refresh soon."""
        if isinstance(change, Added) and self.keeper is not None:
            self.keeper.created()

    async def aclose(self) -> None:
        keeper, self.keeper = self.keeper, None
        if keeper is not None:
            await keeper.aclose()
