"""``vidwatch wait`` (and ``create``/``submit --wait``): poll until each task finishes,
print ``ID<TAB>URL`` as each one does, save the videos when asked (``--download``,
``[downloads] auto``), and name the jobs still unfinished at a timeout."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Mapping

from vidwatch.cli import network
from vidwatch.cli.offline import gather_ids, load
from vidwatch.cli.output import (
    EXIT_FAILED,
    EXIT_KEY,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
    Context,
    plural,
    require_key,
    safe,
    state_text,
)
from vidwatch.core.config import Config
from vidwatch.core.downloads.auto import AutoSaver
from vidwatch.core.downloads.fetch import MB, Downloader, DownloadResult
from vidwatch.core.gateway.outcomes import AuthRejected, NotFound, Outcome, WrongUrl
from vidwatch.core.gateway.wording import describe
from vidwatch.core.model.records import Problem, State, Task, TaskRecord, utcnow
from vidwatch.core.polling.events import PollerEvent, TaskUpdate
from vidwatch.core.polling.poller import Poller
from vidwatch.core.session import Session
from vidwatch.core.text.urls import url_problem


def cmd_wait(ctx: Context, ns: argparse.Namespace) -> int:
    if ns.all and ns.ids:
        raise CliError("--all waits for every unfinished task: name no IDs with it.", EXIT_USAGE)
    if ns.timeout is not None and ns.timeout < 0:
        raise CliError("--timeout must be 0 or more seconds.", EXIT_USAGE)
    if ns.ids:
        got = gather_ids(ctx, ns.ids)
        if got.rejected:
            return EXIT_FAILED
        ids = got.ids
        if not ids:
            raise CliError("No IDs to wait for.", EXIT_USAGE)
    else:  # every unfinished task
        ids = [i for i, r in load(ctx).items() if not r.result.final]
        if not ids:
            ctx.warn("Nothing to wait for: no watched task is unfinished.")
            return EXIT_OK
    config = ctx.config()
    require_key(ctx, config)
    return wait_for(
        ctx,
        config,
        ids,
        timeout=ns.timeout,
        quiet=ns.quiet,
        ordered=ns.ordered,
        download=True if ns.download else None,
    )


def wait_for(
    ctx: Context,
    config: Config,
    ids: list[str],
    *,
    timeout: float | None = None,
    quiet: bool = False,
    print_urls: bool = True,
    ordered: bool = False,
    download: bool | None = None,
) -> int:
    """What ``vidwatch wait`` does once it has its IDs (also ``create``/``submit
    --wait``): add them if needed, poll until each finishes, print ``ID<TAB>URL`` on
    stdout as each one finishes (in the order they finish; ``ordered``: in the order of
    ``ids``, each as soon as those before it are told; none when ``print_urls`` is off),
    save each finished video when ``download`` (None: ``[downloads] auto``), and return
    the exit code."""
    ctx.store().add([Task(i, utcnow()) for i in ids])
    records = load(ctx)
    watched = [records[i] for i in ids if i in records]
    deadline = time.monotonic() + timeout if timeout is not None else None
    last: dict[str, Outcome] = {}
    ends = _Ends(ctx, [r.id for r in watched], last, print_urls=print_urls, ordered=ordered)
    saving = config.downloads.auto if download is None else download
    saves = _Saves(ctx, quiet)

    async def go() -> Session:
        async with network.make_client(config) as client:
            session = network.watch_session(ctx, config, client, watched)
            poller = session.poller
            ends.poller = poller
            saver = saves.saver(config, session) if saving else None
            if deadline is not None:  # one last check of what is unfinished, just before it
                poller.check_by(deadline)
            moved = False  # a task changed state since the last save

            def finished(record: TaskRecord) -> None:
                ends.ended(record)
                if saver is not None:
                    saver.offer(record)

            for record in list(session.records.values()):
                if poller.is_done(record.id):  # finished before: told at once
                    finished(record)

            def report(event: PollerEvent) -> None:
                nonlocal moved
                if not isinstance(event, TaskUpdate):
                    return
                task_id = event.record.id
                last[task_id] = event.outcome
                if isinstance(event.outcome, AuthRejected | WrongUrl):
                    return  # told once, at the end
                if event.state_changed:
                    moved = True
                    if not quiet:
                        print(f"{safe(task_id)}: {state_text(event.record)}", file=ctx.err)
                if poller.is_done(task_id):
                    finished(event.record)

            def due() -> bool:
                nonlocal moved
                was, moved = moved, False
                return was

            poller.subscribe(report)

            def done() -> bool:
                if poller.scheduler.halted is not None:  # a rejected key, a wrong address
                    return True
                return all(poller.is_done(i) for i in session.records)

            # State changes reach the task file every second, written in a thread.
            saving_task = asyncio.create_task(session.save_every(network.SAVE_EVERY, due))
            remaining = max(deadline - time.monotonic(), 0.0) if deadline is not None else None
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poller.run(until=done), remaining)
            finally:
                saving_task.cancel()
                await poller.aclose()
            if saver is not None:  # the videos under way are saved before it ends
                try:
                    if saver.busy and not quiet:
                        ctx.warn(f"saving {plural(saver.busy, 'video')}…")
                    await saver.drain()
                finally:
                    await saver.aclose()
            return session

    session = asyncio.run(go())
    session.save()
    poller = session.poller
    status = poller.status
    halted = status.auth_error or status.url_error
    unfinished: list[TaskRecord] = []
    for task_id in ends.order:
        record = session.records.get(task_id)
        if record is None or ends.told(task_id):
            continue
        if poller.is_done(task_id):  # held back behind an unfinished one (ordered)
            ends.tell(record)
        elif not halted and record.result.problem not in (Problem.AUTH, Problem.WRONG_URL):
            unfinished.append(record)
    if halted:
        ctx.warn(halted)  # once, whatever the number of tasks
        return EXIT_KEY if status.auth_error else EXIT_UNREACHABLE
    code = ends.code
    if saves.failed and code == EXIT_OK:
        code = EXIT_FAILED
    if unfinished:
        _tell_unfinished(ctx, unfinished, timeout)
        code = EXIT_TIMEOUT
    return code


MAX_UNFINISHED_SHOWN = 20  # unfinished jobs named one a line at a timeout; the rest counted


def _tell_unfinished(ctx: Context, records: list[TaskRecord], timeout: float | None) -> None:
    """``timed out after 30 s; 2 jobs not finished (still watched):`` and one line each."""
    when = f"timed out after {timeout or 0:g} s" if timeout is not None else "stopped"
    count = plural(len(records), "job")
    ctx.warn(f"{when}; {count} not finished (still watched):")
    shown = records[:MAX_UNFINISHED_SHOWN]
    width = max(len(safe(r.id)) for r in shown)  # IDs are ASCII: the states line up
    for record in shown:
        error = record.result.error  # why it may never finish: a 404, a failing server
        problem = f"; last problem: {error}" if error else ""
        line = f"  {safe(record.id):<{width}}  {safe(state_text(record) + problem, 600)}"
        print(line, file=ctx.err)
    more = len(records) - MAX_UNFINISHED_SHOWN
    if more > 0:
        print(f"  … and {more} more: vidwatch list --filter=-state:succeeded,failed", file=ctx.err)


class _Ends:
    """Each waited-for task's end, told once: at once, in the order they finish; or
    (``ordered``) in the order asked, each as soon as every one before it is told."""

    def __init__(
        self,
        ctx: Context,
        order: list[str],
        last: Mapping[str, Outcome],
        *,
        print_urls: bool,
        ordered: bool,
    ) -> None:
        self.ctx = ctx
        self.order = order
        self.last = last
        self.print_urls = print_urls
        self.ordered = ordered
        self.poller: Poller | None = None
        self.code = EXIT_OK
        self._ended: dict[str, TaskRecord] = {}
        self._told: set[str] = set()
        self._next = 0  # ordered: the first task in ``order`` not told yet

    def told(self, task_id: str) -> bool:
        return task_id in self._told

    def ended(self, record: TaskRecord) -> None:
        """``record`` needs no more polling (finished, or given up on)."""
        if record.id in self._told or record.id in self._ended:
            return
        if not self.ordered:
            self.tell(record)
            return
        self._ended[record.id] = record
        while self._next < len(self.order) and self.order[self._next] in self._ended:
            self.tell(self._ended[self.order[self._next]])
            self._next += 1

    def tell(self, record: TaskRecord) -> None:
        if record.id in self._told:
            return
        self._told.add(record.id)
        assert self.poller is not None
        self.code = _tell_waited(
            self.ctx, self.poller, record, self.code, self.print_urls, self.last
        )
        with contextlib.suppress(OSError, ValueError):
            self.ctx.out.flush()  # a pipe gets each line as the job finishes


class _Saves:
    """The videos ``wait`` saves as their jobs finish (``--download``, ``[downloads]
    auto``): each noted in the task list as it is saved, and said on stderr."""

    def __init__(self, ctx: Context, quiet: bool) -> None:
        self.ctx = ctx
        self.quiet = quiet
        self.failed = 0

    def saver(self, config: Config, session: Session) -> AutoSaver:
        downloader = Downloader(
            config.download_dir,
            parallel=config.max_downloads,
            refresh=session.fresh_url,  # a signed link that expired: ask for the task again
            max_bytes=config.max_download_mb * MB,
        )
        return AutoSaver(downloader, self.done)

    async def done(self, result: DownloadResult) -> None:
        shown = safe(result.task_id)
        if not result.ok or result.path is None:
            self.failed += 1
            self.ctx.warn(f"{shown}: not saved: {result.message}")
            return
        if result.skipped:
            return
        store = self.ctx.store()
        await asyncio.to_thread(store.set_saved, {result.task_id: str(result.path)})
        if not self.quiet:
            self.ctx.warn(f"{shown}: {result.message}")


def _tell_waited(
    ctx: Context,
    poller: Poller,
    record: TaskRecord,
    code: int,
    print_urls: bool = True,
    last: Mapping[str, Outcome] | None = None,
) -> int:
    """Print a waited-for task's end (``ID<TAB>URL`` on stdout); the exit code so far."""
    task_id, r = record.id, record.result
    shown = safe(task_id)
    if r.state is State.SUCCEEDED and r.video_url:
        reason = url_problem(r.video_url)
        if reason is None:
            if print_urls:
                ctx.row(task_id, r.video_url)
            return code
        ctx.warn(f"{shown}: finished, but its URL is not usable: {reason}")
    elif r.state is State.FAILED:
        ctx.warn(f"{shown} failed: {safe(r.fail_reason or r.status)}")
    elif r.state is State.SUCCEEDED and poller.is_done(task_id):
        ctx.warn(f"{shown}: finished, but the server never sent a video URL")
    elif poller.is_done(task_id):  # the server does not know it
        outcome = (last or {}).get(task_id)
        said = describe(outcome) if isinstance(outcome, NotFound) else r.error or "not found"
        why = poller.given_up(task_id)
        given_up = f"; given up ({why})" if why else ""
        ctx.warn(f"{shown}: {safe(said)}{given_up} — check the ID and base_url")
    else:  # not finished: named with the others (_tell_unfinished)
        return EXIT_TIMEOUT
    return EXIT_FAILED if code == EXIT_OK else code
