"""Commands about money: ``vidwatch balance`` (and the balance line of ``check``)."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence

from vidwatch.cli.output import (
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
    Context,
    require_key,
)
from vidwatch.core import stats
from vidwatch.core.clients import billing_client_for
from vidwatch.core.config import Config
from vidwatch.core.create.requests import CreateRequest
from vidwatch.core.downloads.sidecar import note_cost
from vidwatch.core.gateway.billing import BillingClient
from vidwatch.core.gateway.billing_answer import Failure, NotOffered, Unanswered
from vidwatch.core.model.money import QUOTA_UNITS, Money
from vidwatch.core.model.records import TaskRecord, TaskRequest, utcnow
from vidwatch.core.money.balance import (
    Reading,
    describe,
    log_costs,
    log_reading,
    read_balance,
    reading_json,
    with_reading,
)
from vidwatch.core.money.costs import Costs, read_costs
from vidwatch.core.money.estimates import Quote, batch_quote, over_limit
from vidwatch.core.money.limit import SpendWatch
from vidwatch.core.store.charge_book import ChargeBook, book_path
from vidwatch.core.text.wording import plural


def make_billing(config: Config) -> BillingClient:
    return billing_client_for(config)


def ask_balance(config: Config) -> Reading:
    """One reading, on the billing routes' own client."""

    async def ask() -> Reading:
        async with make_billing(config) as client:
            return await read_balance(client)

    reading = asyncio.run(ask())
    log_reading(reading)
    return reading


def ask_costs(ctx: Context, config: Config, reading: Reading) -> Costs | Failure:
    """The request log matched to the list; the costs stored with the tasks, the
    charges no job takes kept in the charge book."""
    records = ctx.store().load().records
    book = ChargeBook(book_path(ctx.paths.tasks_file))
    before = with_reading(book.read(config.base_url), reading)

    async def ask() -> Costs | Failure:
        async with make_billing(config) as client:
            return await read_costs(client, records, before, reading.units)

    got = asyncio.run(ask())
    log_costs(got)
    if isinstance(got, Costs):
        ctx.store().set_costs(got.matching.costs)
        for task_id, cost in got.matching.costs.items():  # videos saved before: sidecars
            record = records.get(task_id)
            if record is not None and record.task.saved_to:
                note_cost(TaskRecord(record.task.with_cost(cost), record.result))
    book.write(config.base_url, got.book if isinstance(got, Costs) else before)
    return got


def costs_line(got: Costs | Failure) -> str:
    """``costs     2 jobs newly costed (1 by task id); 1 charge for no watched job``."""
    if isinstance(got, NotOffered):
        return "costs     the gateway offers no request log to this key"
    if isinstance(got, Unanswered):
        return f"costs     no answer from the request log this time ({got.why})"
    matching = got.matching
    apart = len(got.book.unmatched)
    return (
        f"costs     {plural(len(matching.costs), 'job')} newly costed "
        f"({matching.by_id} by task id); {plural(apart, 'charge')} for no watched job"
    )


def balance_line(config: Config) -> str:
    """``balance   31.20 USD (from /api/usage/token)``: what ``check`` adds."""
    return f"balance   {describe(ask_balance(config))}"


def cmd_balance(ctx: Context, ns: argparse.Namespace) -> int:
    """What the key has left, in the site's unit (or quota units, said so). A gateway
    that offers no balance is said so, and is not an error (exit 0)."""
    config = ctx.config()
    require_key(ctx, config)
    reading = ask_balance(config)
    costs = ask_costs(ctx, config, reading)
    if ns.json:
        shown = reading_json(reading)
        if isinstance(costs, Costs):
            shown["costed"] = len(costs.matching.costs)
            shown["unmatched"] = len(costs.book.unmatched)
        print(json.dumps(shown, ensure_ascii=False), file=ctx.out)
    else:
        ctx.say(f"balance   {describe(reading)}")
        if not reading.not_offered:
            ctx.say(f"unit      {reading.units.describe()}")
        ctx.say(costs_line(costs))
    return EXIT_UNREACHABLE if isinstance(reading.balance, Unanswered) else EXIT_OK


def quote_for(ctx: Context, requests: Sequence[CreateRequest], config: Config) -> Quote:
    """The estimate of sending ``requests``, from what is at hand (no request made)."""
    wanted = [TaskRequest(r.model, "", r.fields) for r in requests]
    book = ChargeBook(book_path(ctx.paths.tasks_file)).read(config.base_url)
    records = ctx.store().load().records.values()
    return batch_quote(wanted, records, config.prices, book)


def spent_today(ctx: Context, config: Config) -> Money | None:
    """What the list and the charge book say was spent today (no request)."""
    book = ChargeBook(book_path(ctx.paths.tasks_file)).read(config.base_url)
    return stats.spent_today(ctx.store().load().records.values(), book, utcnow(), config.prices)


def spend_watch(ctx: Context, config: Config, limit: float) -> SpendWatch:
    """What stops a run when the charges seen reach ``limit`` (on the billing routes'
    own client; today's spend before the run counts)."""
    book = ChargeBook(book_path(ctx.paths.tasks_file)).read(config.base_url)
    records = ctx.store().load().records.values()
    now = utcnow()
    before = stats.spent_today(records, book, now)
    units = book.units or QUOTA_UNITS
    return SpendWatch(make_billing(config), limit, units, since=now, spent_before=before)


def check_spend(ctx: Context, quote: Quote, jobs: int, limit: float | None, config: Config) -> None:
    """Refuse, before anything is sent, a batch whose estimate is above ``limit`` (alone,
    or with what was spent today)."""
    today = spent_today(ctx, config) if limit is not None else None
    why = over_limit(quote, jobs, limit, today)
    if why is not None:
        raise CliError(f"Not sending: {why} ([create] max_spend, --max-spend).", EXIT_USAGE)
