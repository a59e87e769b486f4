"""The ``vidwatch`` command line.

Exit codes (also in ``vidwatch --help`` and the README):
  0   success
  1   something the command was asked to do did not happen (an ID was rejected,
      a waited-for job failed, an ID to remove was not watched)
  2   ``wait`` timed out
  3   no API key, or the key was rejected
  4   the task list or config cannot be read or written
  64  the command line itself is wrong (usage error)
  70  internal error (a bug; the log has the details)
  130 interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shlex
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from vidwatch import __version__
from vidwatch.core.api import NotFound, Ok, QueryClient
from vidwatch.core.config import ENV_API_KEY, Config, ConfigError, Paths, load_config
from vidwatch.core.downloads import Downloader, DownloadResult
from vidwatch.core.export import FORMATS, export, record_json, to_json, write_export
from vidwatch.core.logs import add_secret, redact, setup_logging
from vidwatch.core.models import (
    State,
    Task,
    TaskRecord,
    TaskResult,
    split_ids,
    utcnow,
    validate_task_id,
)
from vidwatch.core.poller import Poller, PollerEvent, TaskUpdate
from vidwatch.core.query import QueryError, parse_query, search_text
from vidwatch.core.sanitize import clean_line
from vidwatch.core.store import StoreError, TaskStore

if TYPE_CHECKING:
    from rich.progress import TaskID

log = logging.getLogger("vidwatch.cli")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_TIMEOUT = 2
EXIT_KEY = 3
EXIT_STORE = 4
EXIT_USAGE = 64
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

EXIT_CODES = """\
exit codes:
  0    success
  1    an ID was rejected or not found, or a waited-for job failed
  2    wait: timed out before every job finished
  3    no API key, or the key was rejected
  4    the task list or the config file cannot be read or written
  64   usage error
  70   internal error (a bug: the log has the details)
  130  interrupted
"""


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


@dataclass
class Context:
    paths: Paths
    out: TextIO
    err: TextIO
    stdin: TextIO
    _store: TaskStore | None = None

    def config(self) -> Config:
        try:
            config = load_config(self.paths.config_file)
        except ConfigError as exc:
            raise CliError(str(exc), EXIT_STORE) from None
        add_secret(config.api_key)
        for warning in config.warnings:
            self.warn(warning)
        return config

    def store(self) -> TaskStore:
        """One store per run: it gathers the notices of damaged files it set aside."""
        if self._store is None:
            self._store = TaskStore(self.paths.tasks_file)
        return self._store

    def store_notices(self) -> list[str]:
        return self._store.notices if self._store is not None else []

    def warn(self, message: str) -> None:
        print(f"vidwatch: {message}", file=self.err)


# --------------------------------------------------------------------------- helpers


def _tell_damage(ctx: Context, code: int) -> int:
    """A damaged task file was set aside during the command: say so (once), and make the
    exit code say the list could not be read, even though the command went on."""
    notices = ctx.store_notices()
    if not notices:
        return code
    for notice in dict.fromkeys(notices):
        ctx.warn(notice)
    notices.clear()
    return EXIT_STORE if code == EXIT_OK else code


def _load(ctx: Context) -> dict[str, TaskRecord]:
    return ctx.store().load().records  # a damaged file's notice is told at the end


def _display(text: str | None, limit: int = 200) -> str:
    """Stored text is already cleaned; clean again in case the file was edited by hand."""
    return clean_line(text or "", limit)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _state_word(record: TaskRecord) -> str:
    r = record.result
    if not r.checked_at:
        return "new"
    if r.state is State.UNKNOWN and r.status:
        return f"unknown ({_display(r.status, 30)})"
    if not r.status and r.problem is not None:  # never a status: say what stands in the way
        return r.problem.word
    return r.state.value


def _print_table(ctx: Context, records: Sequence[TaskRecord]) -> None:
    if not records:
        print("No tasks. Add some with: vidwatch add ID…", file=ctx.out)
        return
    rows = [("STATE", "TASK", "LABEL", "UPDATED", "URL / ERROR")]
    for rec in records:
        r = rec.result
        detail = r.video_url or r.error or (r.fail_reason if r.state is State.FAILED else "") or ""
        updated = (
            r.status_update_time.astimezone().strftime("%m-%d %H:%M")
            if r.status_update_time
            else ""
        )
        rows.append(
            (
                _state_word(rec),
                _display(rec.id, 80),
                _display(rec.task.label, 30),
                updated,
                _display(detail, 200),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(4)]
        print("  ".join([*cells, row[4]]).rstrip(), file=ctx.out)


def _require_key(ctx: Context, config: Config) -> None:
    if not config.api_key:
        raise CliError(
            f'No API key. Set {ENV_API_KEY}, or put api_key = "…" in '
            f"{ctx.paths.config_file} (chmod 600).",
            EXIT_KEY,
        )


def _collect_ids(ctx: Context, args: list[str]) -> list[str]:
    ids: list[str] = []
    for arg in args:
        if arg == "-":
            ids.extend(split_ids(ctx.stdin.read()))
        else:
            ids.extend(split_ids(arg) or [arg])
    return ids


def _validated(ctx: Context, ids: list[str]) -> tuple[list[str], int]:
    """(unique valid ids in order, number rejected); prints a reason per rejection."""
    valid: list[str] = []
    seen: set[str] = set()
    rejected = 0
    for task_id in ids:
        reason = validate_task_id(task_id)
        if reason:
            rejected += 1
            ctx.warn(f"rejected {task_id[:60]!r}: {reason}")
        elif task_id not in seen:
            seen.add(task_id)
            valid.append(task_id)
    return valid, rejected


# --------------------------------------------------------------------------- commands


def cmd_add(ctx: Context, ns: argparse.Namespace) -> int:
    ids = _collect_ids(ctx, ns.ids)
    if not ids:
        raise CliError("No IDs given (pass them as arguments, or '-' to read stdin).", EXIT_USAGE)
    valid, rejected = _validated(ctx, ids)
    label = clean_line(ns.label or "", 120)
    now = utcnow()
    added, skipped = ctx.store().add([Task(i, now, label) for i in valid]) if valid else ([], [])
    for task_id in skipped:
        print(f"already watched: {task_id}", file=ctx.out)
    print(
        f"Added {len(added)} task{'s' if len(added) != 1 else ''}"
        + (f", {len(skipped)} already watched" if skipped else "")
        + (f", {rejected} rejected" if rejected else "")
        + ".",
        file=ctx.out,
    )
    return EXIT_FAILED if rejected else EXIT_OK


def cmd_remove(ctx: Context, ns: argparse.Namespace) -> int:
    ids = _collect_ids(ctx, ns.ids)
    removed = set(ctx.store().remove(ids))
    missing = [i for i in ids if i not in removed]
    for task_id in missing:
        ctx.warn(f"not watched: {clean_line(task_id, 80)}")
    print(f"Removed {len(removed)} task{'s' if len(removed) != 1 else ''}.", file=ctx.out)
    return EXIT_FAILED if missing else EXIT_OK


def _filtered(ctx: Context, records: Iterable[TaskRecord], text: str | None) -> list[TaskRecord]:
    """The dashboard's filter language (``state:failed age:<1h cow``) on the command line."""
    if not text:
        return list(records)
    try:
        query = parse_query(text)
    except QueryError as exc:
        raise CliError(f"--filter: {exc}", EXIT_USAGE) from None
    now = utcnow()
    return [r for r in records if query.matches(r, search_text(r), now)]


def cmd_list(ctx: Context, ns: argparse.Namespace) -> int:
    records = _filtered(ctx, _load(ctx).values(), ns.filter)
    if ns.json:
        print(to_json([record_json(r) for r in records]), file=ctx.out)
    elif ns.filter and not records:
        print(f"No task matches {ns.filter!r}.", file=ctx.out)
    else:
        _print_table(ctx, records)
    return EXIT_OK


def cmd_urls(ctx: Context, ns: argparse.Namespace) -> int:
    for record in _load(ctx).values():
        if record.result.state is State.SUCCEEDED and record.result.video_url:
            print(record.result.video_url, file=ctx.out)
    return EXIT_OK


def cmd_paths(ctx: Context, ns: argparse.Namespace) -> int:
    print(f"config  {ctx.paths.config_file}", file=ctx.out)
    print(f"tasks   {ctx.paths.tasks_file}", file=ctx.out)
    print(f"log     {ctx.paths.log_file}", file=ctx.out)
    print(f"view    {ctx.paths.view_file}", file=ctx.out)
    try:
        downloads = str(ctx.config().download_dir)
    except CliError as exc:  # paths must answer even when the config is broken
        downloads = f"(unknown: {exc})"
    print(f"videos  {downloads}", file=ctx.out)
    return EXIT_OK


def _client(config: Config) -> QueryClient:
    return QueryClient(
        config.base_url,
        config.api_key,
        timeout=config.timeout,
        connections=config.policy.concurrency,
        allow_insecure_http=config.allow_insecure_http,
    )


def cmd_poll(ctx: Context, ns: argparse.Namespace) -> int:
    config = ctx.config()
    _require_key(ctx, config)
    records = _load(ctx)
    unknown = [i for i in ns.ids if i not in records]
    for task_id in unknown:
        ctx.warn(f"not watched: {clean_line(task_id, 80)} (add it first)")
    if ns.ids:
        targets = [i for i in dict.fromkeys(ns.ids) if i in records]
    else:
        targets = [i for i, r in records.items() if not r.result.final]

    async def go() -> tuple[list[TaskUpdate], str | None]:
        async with _client(config) as client:
            poller = Poller(client, config.policy, {i: records[i] for i in targets})
            updates = await poller.poll_pass(targets)
            return updates, poller.status.auth_error

    updates, auth_error = asyncio.run(go()) if targets else ([], None)
    ctx.store().merge_results({u.record.id: u.record.result for u in updates})
    polled = [u.record for u in updates]
    if ns.json:
        print(to_json([record_json(r) for r in polled]), file=ctx.out)
    else:
        _print_table(ctx, polled)
    if auth_error:
        ctx.warn(auth_error)
        return EXIT_KEY
    not_found = any(isinstance(u.outcome, NotFound) for u in updates)
    return EXIT_FAILED if unknown or not_found else EXIT_OK


def cmd_wait(ctx: Context, ns: argparse.Namespace) -> int:
    ids, rejected = _validated(ctx, _collect_ids(ctx, ns.ids))
    if rejected:
        return EXIT_FAILED
    if not ids:
        raise CliError("No IDs to wait for.", EXIT_USAGE)
    if ns.timeout is not None and ns.timeout < 0:
        raise CliError("--timeout must be 0 or more seconds.", EXIT_USAGE)
    config = ctx.config()
    _require_key(ctx, config)
    store = ctx.store()
    store.add([Task(i, utcnow()) for i in ids])
    records = _load(ctx)
    watched = {i: records[i] for i in ids if i in records}
    deadline = time.monotonic() + ns.timeout if ns.timeout is not None else None
    quiet = ns.quiet

    async def go() -> Poller:
        async with _client(config) as client:
            poller = Poller(client, config.policy, watched)
            if deadline is not None:  # one last check of what is unfinished, just before it
                poller.check_by(deadline)
            unsaved: dict[str, TaskResult] = {}

            def report(event: PollerEvent) -> None:
                if not (isinstance(event, TaskUpdate) and event.state_changed):
                    return
                unsaved[event.record.id] = event.record.result
                if not quiet:
                    print(f"{event.record.id}: {_state_word(event.record)}", file=ctx.err)

            async def save_changes() -> None:
                """State changes reach the task file every second, written in a thread."""
                while True:
                    await asyncio.sleep(1.0)
                    if unsaved:
                        batch = dict(unsaved)
                        unsaved.clear()
                        await asyncio.to_thread(store.merge_results, batch)

            poller.subscribe(report)

            def done() -> bool:
                if poller.status.auth_error:
                    return True
                return all(poller.scheduler.is_done(i) for i in poller.records)

            saver = asyncio.create_task(save_changes())
            remaining = max(deadline - time.monotonic(), 0.0) if deadline is not None else None
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poller.run(until=done), remaining)
            finally:
                saver.cancel()
                await poller.aclose()
            return poller

    poller = asyncio.run(go())
    store.merge_results({i: r.result for i, r in poller.records.items()})
    code = EXIT_OK
    for task_id, record in poller.records.items():
        r = record.result
        if r.state is State.SUCCEEDED and r.video_url:
            print(f"{task_id}\t{r.video_url}", file=ctx.out)
        elif r.state is State.FAILED:
            ctx.warn(f"{task_id} failed: {_display(r.fail_reason or r.status, 200)}")
            code = EXIT_FAILED if code == EXIT_OK else code
        elif r.state is State.SUCCEEDED and poller.scheduler.is_done(task_id):
            ctx.warn(f"{task_id}: finished, but the server never sent a video URL")
            code = EXIT_FAILED if code == EXIT_OK else code
        elif poller.scheduler.is_done(task_id):  # the server does not know it
            why = _display(r.error or "not found", 200)
            ctx.warn(f"{task_id}: {why} — check the ID and base_url")
            code = EXIT_FAILED if code == EXIT_OK else code
        else:
            code = EXIT_TIMEOUT
            if r.error:  # why it may never finish: a 404, a server that keeps failing
                ctx.warn(f"{task_id}: not finished; last problem: {_display(r.error, 200)}")
    if poller.status.auth_error:
        ctx.warn(poller.status.auth_error)
        return EXIT_KEY
    if code == EXIT_TIMEOUT:
        ctx.warn(f"timed out after {ns.timeout:g} s; unfinished jobs are still watched")
    return code


def cmd_export(ctx: Context, ns: argparse.Namespace) -> int:
    records = _filtered(ctx, _load(ctx).values(), ns.filter)
    text = export(records, ns.format)
    if ns.output in (None, "-"):
        ctx.out.write(text)
        return EXIT_OK
    try:
        path = write_export(ns.output, text)
    except OSError as exc:
        where = ns.output or "''"
        raise CliError(f"Cannot write {where}: {exc.strerror or exc}.", EXIT_STORE) from None
    print(
        f"Exported {len(records)} task{'s' if len(records) != 1 else ''} to {path}.", file=ctx.err
    )
    return EXIT_OK


def cmd_download(ctx: Context, ns: argparse.Namespace) -> int:
    config = ctx.config()
    records = _load(ctx)
    if ns.ids:
        missing = [i for i in ns.ids if i not in records]
        for task_id in missing:
            ctx.warn(f"not watched: {clean_line(task_id, 80)} (add it first)")
        chosen = [records[i] for i in dict.fromkeys(ns.ids) if i in records]
    else:
        missing = []
        chosen = [r for r in records.values() if not _on_disk(r)]
    ready = [r for r in chosen if r.result.state is State.SUCCEEDED and r.result.video_url]
    for record in chosen:
        if record not in ready and ns.ids:
            ctx.warn(f"{record.id}: no finished video yet ({_state_word(record)})")
    if not ready:
        print("Nothing to download.", file=ctx.err)
        return EXIT_FAILED if missing or (ns.ids and chosen) else EXIT_OK
    folder = Path(ns.dir).expanduser() if ns.dir else config.download_dir
    if folder.exists() and not folder.is_dir():
        raise CliError(f"--dir {folder} is a file, not a folder.", EXIT_USAGE)
    progress = _Progress(ctx.err, {r.id: r.task.label or r.id for r in ready})

    async def go() -> list[DownloadResult]:
        client = _client(config) if config.api_key else None

        async def refresh(task_id: str) -> str | None:
            if client is None:
                return None
            outcome = await client.query(task_id)
            if isinstance(outcome, Ok):
                ctx.store().merge_results({task_id: outcome.result})
                return outcome.result.video_url
            return None

        try:
            async with Downloader(
                folder, parallel=ns.parallel or config.max_downloads, refresh=refresh
            ) as downloader:
                return await downloader.download_all(ready, progress.update)
        finally:
            if client is not None:
                await client.aclose()

    try:
        results = asyncio.run(go())
    finally:
        progress.done()
    saved = {r.task_id: str(r.path) for r in results if r.ok and r.path is not None}
    if saved:
        ctx.store().set_saved(saved)
    failed = 0
    for result in results:
        if result.ok:
            print(f"{result.task_id}\t{result.path}", file=ctx.out)
            if result.skipped:
                elsewhere = ns.dir and result.path and result.path.parent != folder
                note = f"; not downloaded again into {folder}" if elsewhere else ""
                ctx.warn(f"{result.task_id}: already saved at {result.path}{note}")
        else:
            failed += 1
            ctx.warn(f"{result.task_id}: {result.message}")
    return EXIT_FAILED if failed or missing else EXIT_OK


def _on_disk(record: TaskRecord) -> bool:
    """Downloaded, and the file is still there (a deleted file is fetched again)."""
    saved = record.task.saved_to
    return saved is not None and Path(saved).is_file()


class _Progress:
    """A progress bar per download on a terminal (rich); nothing when piped."""

    def __init__(self, out: TextIO, names: dict[str, str]) -> None:
        # Imported here: every other command starts without rich's cost.
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.names = {task_id: clean_line(name, 40) for task_id, name in names.items()}
        self.enabled = out.isatty()
        self.bars = Progress(
            TextColumn("{task.description}", markup=False),  # labels are user/server text
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(file=out),
            transient=False,
        )
        self.rows: dict[str, TaskID] = {}
        if self.enabled:
            self.bars.start()

    def update(self, task_id: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        row = self.rows.get(task_id)
        if row is None:
            row = self.rows[task_id] = self.bars.add_task(self.names.get(task_id, task_id))
        self.bars.update(row, completed=done, total=total)

    def done(self) -> None:
        if self.enabled:
            self.bars.stop()


def cmd_web(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.web import loopback_host, serve

    try:
        host = loopback_host(ns.host)
    except ValueError:
        raise CliError(
            f"vidwatch web serves on loopback only (not {ns.host}): the dashboard acts with "
            "your API key, so anyone who reaches it could use it. Use 127.0.0.1, ::1 or "
            "localhost, and forward the port over SSH to reach it from elsewhere.",
            EXIT_USAGE,
        ) from None
    argv = [sys.executable, "-P", "-m", "vidwatch", "--tasks-file", str(ctx.paths.tasks_file)]
    argv += ["--config", str(ctx.paths.config_file)]
    if ns.demo:
        argv.append("--demo")
    command_line = " ".join(shlex.quote(part) for part in argv)

    def announce(url: str) -> None:
        print(f"vidwatch web: open {url} in a browser (Ctrl-C stops)", file=ctx.err, flush=True)

    try:
        interrupted = serve(command_line, host, ns.port, announce)
    except OSError as exc:
        raise CliError(
            f"vidwatch web cannot listen on {ns.host} port {ns.port}: {exc.strerror or exc}",
            EXIT_USAGE,
        ) from None
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def cmd_check(ctx: Context, ns: argparse.Namespace) -> int:
    config = ctx.config()
    print(f"base URL  {config.base_url}", file=ctx.out)
    if config.api_key:
        print(f"API key   set (from the {config.key_source})", file=ctx.out)
        return EXIT_OK
    print(
        f"API key   not set: set {ENV_API_KEY} or api_key in {ctx.paths.config_file}", file=ctx.out
    )
    return EXIT_KEY


def cmd_dashboard(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.ui.app import DashboardOptions, run_dashboard

    config = ctx.config() if not ns.demo else _demo_config(ctx)
    ended = run_dashboard(DashboardOptions(paths=ctx.paths, config=config, demo=ns.demo))
    if ended.unsaved_error:
        raise CliError(f"The last changes could not be saved: {ended.unsaved_error}", EXIT_STORE)
    return EXIT_INTERNAL if ended.crashed else EXIT_OK


def _demo_config(ctx: Context) -> Config:
    try:
        return ctx.config()
    except CliError:
        return Config()  # the demo does not need the user's config to be valid


def cmd_simulate(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.core.simulator import serve_forever

    if not 0.0 <= ns.chaos <= 1.0:
        raise CliError("--chaos is a fraction of requests, from 0 to 1 (0.3 = 30 %).", EXIT_USAGE)
    if ns.speed <= 0:
        raise CliError(
            "--speed must be positive (60 = a minute of job time per second).", EXIT_USAGE
        )
    serve_forever(
        port=ns.port, jobs=ns.jobs, seed=ns.seed, out=ctx.out, chaos=ns.chaos, speed=ns.speed
    )
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def port_number(value: str) -> int:
    """argparse type: a TCP port a server can listen on."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1-65535, not {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vidwatch",
        description="Watch QuickRouter AI video-generation jobs from the terminal.\n"
        "Without a command, opens the dashboard.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vidwatch {__version__}")
    parser.add_argument(
        "--tasks-file", metavar="PATH", help="task list to use (default: see 'vidwatch paths')"
    )
    parser.add_argument("--config", metavar="PATH", help="config file to use")
    parser.add_argument(
        "--debug", action="store_true", help="log every poll, not just changes and errors"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="open the dashboard on the built-in simulator (your task list is untouched)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = command("add", "add task IDs to watch (from arguments, or '-' for stdin)")
    p.add_argument("ids", nargs="+", metavar="ID", help="task IDs; '-' reads them from stdin")
    p.add_argument("--label", help="a label for the added tasks")
    p.set_defaults(func=cmd_add)

    p = command("remove", "stop watching task IDs")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.set_defaults(func=cmd_remove)

    p = command("list", "show the watched tasks and what was last known (no network)")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument("--filter", metavar="QUERY", help="as in the dashboard: state:failed age:<1h")
    p.set_defaults(func=cmd_list)

    p = command("export", "write the watched tasks as CSV, JSON or Markdown (no network)")
    p.add_argument("--format", choices=FORMATS, default="csv")
    p.add_argument("--output", "-o", metavar="FILE", help="where to write (default: stdout)")
    p.add_argument("--filter", metavar="QUERY", help="as in the dashboard: state:failed age:<1h")
    p.set_defaults(func=cmd_export)

    p = command(
        "download",
        "download finished videos (the named ones, or every finished one not yet saved)",
    )
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--dir", metavar="DIR", help="where to save (default: download_dir)")
    p.add_argument("--parallel", type=int, metavar="N", help="downloads at once (default 3)")
    p.set_defaults(func=cmd_download)

    p = command("web", "serve the dashboard to a browser on loopback (textual-serve)")
    p.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    p.add_argument("--port", type=port_number, default=8000, help="1-65535 (default 8000)")
    p.add_argument("--demo", action="store_true", help="serve the demo dashboard")
    p.set_defaults(func=cmd_web)

    p = command("urls", "print the video URL of every finished task, one per line")
    p.set_defaults(func=cmd_urls)

    p = command("poll", "check unfinished tasks (or the named ones) once, save and print")
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.set_defaults(func=cmd_poll)

    p = command("wait", "add the IDs if needed and poll until all finish; prints ID<TAB>URL")
    p.add_argument("ids", nargs="+", metavar="ID", help="task IDs; '-' reads them from stdin")
    p.add_argument("--timeout", type=float, metavar="S", help="give up after S seconds (exit 2)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=cmd_wait)

    p = command("paths", "show where the config, the task list and the log live")
    p.set_defaults(func=cmd_paths)

    p = command("check", "show the base URL and whether an API key is set (exit 3 if not)")
    p.set_defaults(func=cmd_check)

    p = command("simulate", "run the built-in QuickRouter simulator on loopback")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument("--jobs", type=int, default=40, help="jobs it knows at start")
    p.add_argument("--seed", type=int, default=0, help="seed for its jobs")
    p.add_argument(
        "--chaos",
        type=float,
        default=0.0,
        metavar="RATE",
        help="answer this fraction of queries with a random fault (0.3 = 30 %%): 401 bursts, "
        "404, 429 with Retry-After in both forms, 5xx, HTML, empty, truncated, malformed or "
        "huge bodies, wrong types, missing fields, slow answers, dropped and reset connections",
    )
    p.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second (default 1)"
    )
    p.set_defaults(func=cmd_simulate)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    add_secret(os.environ.get(ENV_API_KEY, "").strip())
    parser = build_parser()
    ns = parser.parse_args(argv)
    ctx = Context(
        paths=Paths.discover(tasks_file=ns.tasks_file, config_file=ns.config),
        out=out or sys.stdout,
        err=err or sys.stderr,
        stdin=stdin or sys.stdin,
    )
    if ns.command != "simulate":
        setup_logging(ctx.paths.log_dir, debug=ns.debug)
        log.info("vidwatch %s: %s", __version__, ns.command or "dashboard")
    func = ns.func if ns.command else cmd_dashboard
    try:
        code = _tell_damage(ctx, func(ctx, ns))
    except CliError as exc:
        _tell_damage(ctx, exc.code)
        ctx.warn(str(exc))
        return exc.code
    except StoreError as exc:
        _tell_damage(ctx, EXIT_STORE)
        ctx.warn(str(exc))
        return EXIT_STORE
    except KeyboardInterrupt:
        ctx.warn("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a defect: one clear line, the details in the log
        log.exception("unexpected error")
        ctx.warn(
            redact(
                f"internal error ({type(exc).__name__}: {exc}); details are in the log: "
                f"{ctx.paths.log_file}"
            )
        )
        return EXIT_INTERNAL
    return code
