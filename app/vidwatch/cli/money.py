"""Commands about money: ``vidwatch balance`` (and the balance line of ``check``)."""

from __future__ import annotations

import argparse
import asyncio
import json

from vidwatch.cli.output import EXIT_OK, EXIT_UNREACHABLE, Context, require_key
from vidwatch.core.clients import billing_client_for
from vidwatch.core.config import Config
from vidwatch.core.gateway.billing import BillingClient
from vidwatch.core.gateway.billing_answer import Unanswered
from vidwatch.core.money.balance import Reading, describe, read_balance, reading_json


def make_billing(config: Config) -> BillingClient:
    return billing_client_for(config)


def ask_balance(config: Config) -> Reading:
    """One reading, on the billing routes' own client."""

    async def ask() -> Reading:
        async with make_billing(config) as client:
            return await read_balance(client)

    return asyncio.run(ask())


def balance_line(config: Config) -> str:
    """``balance   31.20 USD (from /api/usage/token)``: what ``check`` adds."""
    return f"balance   {describe(ask_balance(config))}"


def cmd_balance(ctx: Context, ns: argparse.Namespace) -> int:
    """What the key has left, in the site's unit (or quota units, said so). A gateway
    that offers no balance is said so, and is not an error (exit 0)."""
    config = ctx.config()
    require_key(ctx, config)
    reading = ask_balance(config)
    if ns.json:
        print(json.dumps(reading_json(reading), ensure_ascii=False), file=ctx.out)
    else:
        ctx.say(f"balance   {describe(reading)}")
        if not reading.not_offered:
            ctx.say(f"unit      {reading.units.describe()}")
    return EXIT_UNREACHABLE if isinstance(reading.balance, Unanswered) else EXIT_OK
