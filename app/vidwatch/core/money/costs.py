"""What each job cost: one page of the request log matched to the watched tasks.

:func:`read_costs` asks the log (on the billing routes' own client), matches its charges
and the book's unmatched ones to the tasks (:func:`~vidwatch.core.money.matching.match_charges`:
by task id, else by model and the create's time window, never guessed) and returns the
costs that changed and the book with the charges still unmatched. The caller stores the
costs with the tasks (``Session.set_costs`` or ``TaskStore.set_costs``) and writes the book.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vidwatch.core.gateway.billing import BillingClient
from vidwatch.core.gateway.billing_answer import Failure, LogPage
from vidwatch.core.model.money import Units
from vidwatch.core.model.records import TaskRecord
from vidwatch.core.money.matching import Matching, match_charges
from vidwatch.core.store.charge_book import Book

__all__ = ["Costs", "match_page", "read_costs"]


@dataclass(frozen=True, slots=True)
class Costs:
    """Costs that changed, and the book as it is now (unmatched charges kept)."""

    matching: Matching
    book: Book


def match_page(records: Mapping[str, TaskRecord], page: LogPage, book: Book, units: Units) -> Costs:
    matching = match_charges(records, (*page.charges, *book.unmatched), units)
    matched = {key for cost in matching.costs.values() for key in cost.keys}
    return Costs(matching, book.with_unmatched(matching.unmatched, matched))


async def read_costs(
    client: BillingClient, records: Mapping[str, TaskRecord], book: Book, units: Units
) -> Costs | Failure:
    page = await client.log_page()
    if not isinstance(page, LogPage):
        return page
    return match_page(records, page, book, units)
