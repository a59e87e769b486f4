"""What each job cost: the request log matched to the watched tasks.

:func:`read_costs` asks the log (on the billing routes' own client), matches its charges
and the book's unmatched ones to the tasks (:func:`~vidwatch.core.money.matching.match_charges`:
by task id, else by model and the create's time window, never guessed) and returns the
costs that changed and the book with the charges still unmatched. The caller stores the
costs with the tasks (``Session.set_costs`` or ``TaskStore.set_costs``) and writes the book.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from vidwatch.core.gateway.billing import BillingClient
from vidwatch.core.gateway.billing_answer import Failure, LogPage
from vidwatch.core.model.money import Charge, Units
from vidwatch.core.model.records import TaskRecord
from vidwatch.core.money.matching import Matching, match_charges
from vidwatch.core.store.charge_book import Book

__all__ = ["MAX_LOG_PAGES", "Costs", "match_page", "read_costs"]

# Older pages of a log that pages (forks of new-api; new-api itself answers its newest
# 100 entries whatever is asked) are read while a job vidwatch created is older than
# every charge read and has no cost yet: at most this many pages in all.
MAX_LOG_PAGES: Final = 10


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
    charges = list(page.charges)
    number = 1
    while page.paginated and number < MAX_LOG_PAGES and _older_wanted(records, charges, page):
        number += 1
        older = await client.log_page(number)
        if not isinstance(older, LogPage) or not older.charges:
            break  # what was read is matched; the rest waits for the next refresh
        if {c.key for c in older.charges} <= {c.key for c in charges}:
            break  # a log that answers the same page whatever is asked
        charges += older.charges
        page = older
    return match_page(records, LogPage(tuple(charges), page.paginated, page.total), book, units)


def _older_wanted(records: Mapping[str, TaskRecord], charges: list[Charge], page: LogPage) -> bool:
    """Whether an older page may hold the charge of a job vidwatch created that has
    no cost yet: the log holds more than was read, and that job is older than every
    charge read."""
    if not charges or (page.total is not None and page.total <= len(charges)):
        return False
    oldest = min(c.at for c in charges)
    return any(
        r.task.request is not None and r.task.cost is None and r.task.added_at < oldest
        for r in records.values()
    )
