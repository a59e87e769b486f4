"""Commands that never touch the network: add, remove, list, urls, paths, export."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from vidwatch.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_STORE,
    EXIT_USAGE,
    CliError,
    Context,
    plural,
    print_table,
    safe,
    tell_unresolved,
)
from vidwatch.core.model.ids import NOT_AN_ID, Found, extract_ids, looks_like_id, shown
from vidwatch.core.model.records import State, Task, TaskRecord, split_ids, utcnow, validate_task_id
from vidwatch.core.store.export import export, record_json, to_json, write_export
from vidwatch.core.text.sanitize import clean_line
from vidwatch.core.text.urls import url_problem

MAX_IGNORED_SHOWN = 10  # ignored pieces of a paste named one by one; the rest are counted


def load(ctx: Context) -> dict[str, TaskRecord]:
    return ctx.store().load().records  # a damaged file's notice is told at the end


class Gathered:
    """The IDs a command was given, and how many pieces of input did not make it."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.rejected = 0  # an argument that cannot be an ID at all (control characters…)
        self.ignored = 0  # a piece of stdin that is not an ID


def gather_ids(ctx: Context, args: Iterable[str]) -> Gathered:
    """Arguments are taken as given (split on spaces and commas), with a warning for one
    that does not look like an ID; ``-`` reads stdin and keeps only what looks like IDs
    (plain, in a create call's JSON, in a link's ``?id=``), saying what it left out."""
    got = Gathered()
    for arg in args:
        if arg == "-":
            found = extract_ids(ctx.stdin.read())
            got.ids.extend(found.ids)
            got.ignored += len(found.ignored)
            _tell_ignored(ctx, found)
            continue
        for token in split_ids(arg) or [arg]:
            reason = validate_task_id(token)
            if reason is not None:
                got.rejected += 1
                ctx.warn(f"rejected {shown(token)}: {reason}")
                continue
            got.ids.append(token)
            if not looks_like_id(token):
                hint = extract_ids(token).ids
                better = f"; did you mean {shown(hint[0])}?" if hint else ""
                ctx.warn(f"{shown(token)} {NOT_AN_ID}; taken as given{better}")
    got.ids = list(dict.fromkeys(got.ids))
    return got


def _tell_ignored(ctx: Context, found: Found) -> None:
    for item in found.ignored[:MAX_IGNORED_SHOWN]:
        ctx.warn(f"ignored {shown(item.text)}: {item.reason}")
    more = len(found.ignored) - MAX_IGNORED_SHOWN
    if more > 0:
        ctx.warn(f"… and {more} more ignored")


def cmd_add(ctx: Context, ns: argparse.Namespace) -> int:
    ctx.check_config()
    got = gather_ids(ctx, ns.ids)
    if not got.ids and not got.rejected and not got.ignored:
        raise CliError("No IDs given (pass them as arguments, or '-' to read stdin).", EXIT_USAGE)
    label = clean_line(ns.label or "", 120)
    now = utcnow()
    ids = got.ids
    added, skipped = ctx.store().add([Task(i, now, label) for i in ids]) if ids else ([], [])
    for task_id in skipped:
        ctx.say(f"already watched: {task_id}")
    ctx.say(
        f"Added {plural(len(added), 'task')}"
        + (f", {len(skipped)} already watched" if skipped else "")
        + (f", {got.rejected} rejected" if got.rejected else "")
        + (f", {got.ignored} ignored" if got.ignored else "")
        + "."
    )
    if not ids and got.ignored:
        ctx.warn("no task ID found in the input: IDs look like grok:… or sora-2:task_…")
    return EXIT_FAILED if got.rejected or not ids else EXIT_OK


def cmd_remove(ctx: Context, ns: argparse.Namespace) -> int:
    ctx.check_config()
    ids: list[str] = []
    for arg in ns.ids:
        text = ctx.stdin.read() if arg == "-" else arg
        ids.extend(split_ids(text) or ([] if arg == "-" else [arg]))
    removed = set(ctx.store().remove(ids))
    missing = [i for i in ids if i not in removed]
    for task_id in missing:
        ctx.warn(f"not watched: {safe(task_id, 80)}")
    ctx.say(f"Removed {plural(len(removed), 'task')}.")
    return EXIT_FAILED if missing else EXIT_OK


def filtered(ctx: Context, records: Iterable[TaskRecord], text: str | None) -> list[TaskRecord]:
    """The dashboard's filter language (``state:failed age:<1h cow``) on the command line."""
    if not text:
        return list(records)
    from vidwatch.core.model.query import QueryError, parse_query, search_text  # to filter only

    try:
        query = parse_query(text)
    except QueryError as exc:
        raise CliError(f"--filter: {exc}", EXIT_USAGE) from None
    now = utcnow()
    return [r for r in records if query.matches(r, search_text(r), now)]


def cmd_list(ctx: Context, ns: argparse.Namespace) -> int:
    ctx.check_config()
    tell_unresolved(ctx)
    records = filtered(ctx, load(ctx).values(), ns.filter)
    if ns.json:
        print(to_json([record_json(r) for r in records]), file=ctx.out)
    elif ns.filter and not records:
        ctx.say(f"No task matches {ns.filter!r}.")
    else:
        print_table(ctx, records)
    return EXIT_OK


def cmd_urls(ctx: Context, ns: argparse.Namespace) -> int:
    """One URL per line, each checked again: the task file may have been edited by hand."""
    ctx.check_config()
    for record in load(ctx).values():
        url = record.result.video_url
        if record.result.state is not State.SUCCEEDED or not url:
            continue
        reason = url_problem(url)
        if reason is None:
            print(url, file=ctx.out)
        else:
            ctx.warn(f"{safe(record.id, 80)}: URL skipped: {reason}")
    return EXIT_OK


def cmd_paths(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.core.create.ledger import Ledger  # where its journals are: nothing is read

    journals = Ledger(ctx.paths.sent_dir, ctx.paths.tasks_file).journals
    lines: list[tuple[str, object]] = [
        ("config", ctx.paths.config_file),
        ("tasks", ctx.paths.tasks_file),
        ("log", ctx.paths.log_file),
        ("view", ctx.paths.view_file),
        ("sent", ctx.paths.sent_dir),
        ("journals", journals.folder),
        ("stills", ctx.paths.cache_dir),
    ]
    legacy = journals.legacy
    if legacy is not None and legacy.folder.is_dir():  # older versions' journals, read in
        lines.append(("manifests", f"{legacy.folder} (older journals, read in)"))
    try:
        downloads: object = ctx.config().download_dir
    except CliError as exc:  # paths must answer even when the config is broken
        downloads = f"(unknown: {exc})"
    lines.append(("videos", downloads))
    width = max(len(name) for name, _ in lines)
    for name, where in lines:
        ctx.say(f"{name:<{width}}  {where}")
    return EXIT_OK


def cmd_export(ctx: Context, ns: argparse.Namespace) -> int:
    ctx.check_config()
    records = filtered(ctx, load(ctx).values(), ns.filter)
    text = export(records, ns.format)
    if ns.output in (None, "-"):
        ctx.out.write(text)
        return EXIT_OK
    try:
        path = write_export(ns.output, text)
    except OSError as exc:
        where = ns.output or "''"
        raise CliError(f"Cannot write {where}: {exc.strerror or exc}.", EXIT_STORE) from None
    print(f"Exported {plural(len(records), 'task')} to {path}.", file=ctx.err)
    return EXIT_OK
