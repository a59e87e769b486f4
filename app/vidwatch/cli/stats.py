"""``vidwatch stats [--json]``: what was spent, on what, and how long jobs take (from the
task list and the charge book: no request, no HTTP stack loaded)."""

from __future__ import annotations

import argparse
import json

from vidwatch.cli.offline import load
from vidwatch.cli.output import EXIT_OK, Context
from vidwatch.core.model.money import QUOTA_UNITS
from vidwatch.core.model.records import utcnow
from vidwatch.core.stats import compute, stats_json, stats_lines
from vidwatch.core.store.charge_book import ChargeBook, book_path


def cmd_stats(ctx: Context, ns: argparse.Namespace) -> int:
    config = ctx.config()
    records = load(ctx)
    book = ChargeBook(book_path(ctx.paths.tasks_file)).read(config.base_url)
    stats = compute(records.values(), book.unmatched, book.units or QUOTA_UNITS, utcnow())
    if ns.json:
        print(json.dumps(stats_json(stats), ensure_ascii=False), file=ctx.out)
    else:
        for line in stats_lines(stats):
            ctx.say(line)
    return EXIT_OK
