"""Commands that ask the server or serve: poll, wait, check, web, simulate."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import sys
import time
from collections.abc import Mapping

from vidwatch.cli.offline import gather_ids, load
from vidwatch.cli.output import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_KEY,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
    Context,
    answered,
    host_of,
    plural,
    print_table,
    require_key,
    safe,
    state_text,
    tell_unresolved,
)
from vidwatch.core.clients import client_for
from vidwatch.core.config import ENV_API_KEY, Config, Paths
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.gateway.outcomes import AuthRejected, NotFound, Outcome, WrongUrl
from vidwatch.core.gateway.wording import describe
from vidwatch.core.model.records import Problem, State, Task, TaskRecord, TaskResult, utcnow
from vidwatch.core.polling.events import PollerEvent, TaskUpdate
from vidwatch.core.polling.poller import Poller
from vidwatch.core.session import Session
from vidwatch.core.store.export import record_json, to_json
from vidwatch.core.text.urls import url_problem

# An ID no job has: the answer tells a key that is accepted (400 task_not_exist, or a 404
# that says the task is unknown) from one that is rejected (401/403), and costs nothing.
# Any other 404 is the route's: the base URL is wrong, and the key was not looked at.
CHECK_ID = "vidwatch-check:00000000-0000-4000-8000-000000000000"
SAVE_EVERY = 1.0  # seconds: a waiting command saves state changes this often


def make_client(config: Config) -> QueryClient:
    return client_for(config)


def _tell(result: TaskResult, outcome: Outcome) -> TaskResult | None:
    """How ``poll`` and ``wait`` keep an answer: as the poller words it; a rejected key or
    a wrong address says nothing about the task, so it is told once, never stored in it
    (a wrong address must not mark real tasks "not found")."""
    if isinstance(outcome, AuthRejected | WrongUrl):
        return None
    return result


def _session(
    ctx: Context, config: Config, client: QueryClient, records: list[TaskRecord]
) -> Session:
    """The one owner of the records ``poll`` and ``wait`` ask about, as in the dashboard."""
    host = host_of(config.base_url)  # errors name the server
    poller = Poller(client, config.policy, host=host)
    return Session.part(ctx.store(), poller, records, _tell)


def cmd_poll(ctx: Context, ns: argparse.Namespace) -> int:
    config = ctx.config()
    require_key(ctx, config)
    records = load(ctx)
    unknown = [i for i in ns.ids if i not in records]
    for task_id in unknown:
        ctx.warn(f"not watched: {safe(task_id, 80)} (add it first)")
    if ns.ids:
        targets = [i for i in dict.fromkeys(ns.ids) if i in records]
    else:
        targets = [i for i, r in records.items() if not r.result.final]

    async def go() -> tuple[Session, list[TaskUpdate]]:
        async with make_client(config) as client:
            session = _session(ctx, config, client, [records[i] for i in targets])
            return session, await session.poller.poll_pass(targets)

    updates: list[TaskUpdate] = []
    auth_error: str | None = None
    url_error: str | None = None
    if targets:
        session, updates = asyncio.run(go())
        session.save()
        auth_error, url_error = session.poller.status.auth_error, session.poller.status.url_error
    host = host_of(config.base_url)
    # A rejected key or a wrong address was not kept (see _telling): it is told once.
    told = {
        u.record.id: (u.record, u.outcome)  # the first answer of each, as the session kept it
        for u in updates
        if not isinstance(u.outcome, AuthRejected | WrongUrl)
    }
    polled = [told[i][0] for i in records if i in told]  # in the order of `vidwatch list`
    if ns.json:
        print(to_json([record_json(r) for r in polled]), file=ctx.out)
    elif polled or not records:
        print_table(ctx, polled)  # no tasks at all: it says how to add some
    elif not targets and not unknown:
        ctx.say("Nothing to poll: every watched task has finished (name IDs to ask again).")
    if auth_error:
        ctx.warn(auth_error)
        return EXIT_KEY
    if url_error:
        ctx.warn(url_error)
        return EXIT_UNREACHABLE
    outcomes = [outcome for _, outcome in told.values()]
    failed = [o for o in outcomes if not answered(o)]
    if outcomes and len(failed) == len(outcomes):
        ctx.warn(f"no task could be checked: {describe(failed[0], host)}")
        return EXIT_UNREACHABLE
    if failed:
        ctx.warn(f"{plural(len(failed), 'task')} of {len(outcomes)} could not be checked")
    not_found = any(isinstance(o, NotFound) for o in outcomes)
    return EXIT_FAILED if unknown or not_found or failed else EXIT_OK


def cmd_wait(ctx: Context, ns: argparse.Namespace) -> int:
    got = gather_ids(ctx, ns.ids)
    if got.rejected:
        return EXIT_FAILED
    ids = got.ids
    if not ids:
        raise CliError("No IDs to wait for.", EXIT_USAGE)
    if ns.timeout is not None and ns.timeout < 0:
        raise CliError("--timeout must be 0 or more seconds.", EXIT_USAGE)
    config = ctx.config()
    require_key(ctx, config)
    return wait_for(ctx, config, ids, timeout=ns.timeout, quiet=ns.quiet)


def wait_for(
    ctx: Context,
    config: Config,
    ids: list[str],
    *,
    timeout: float | None = None,
    quiet: bool = False,
    print_urls: bool = True,
) -> int:
    """What ``vidwatch wait`` does once it has its IDs (also ``create``/``submit
    --wait``): add them if needed, poll until each finishes, print ``ID<TAB>URL`` on
    stdout (unless ``print_urls`` is off), and return the exit code."""
    ctx.store().add([Task(i, utcnow()) for i in ids])
    records = load(ctx)
    watched = [records[i] for i in ids if i in records]
    deadline = time.monotonic() + timeout if timeout is not None else None
    last: dict[str, Outcome] = {}

    async def go() -> Session:
        async with make_client(config) as client:
            session = _session(ctx, config, client, watched)
            poller = session.poller
            if deadline is not None:  # one last check of what is unfinished, just before it
                poller.check_by(deadline)
            moved = False  # a task changed state since the last save

            def report(event: PollerEvent) -> None:
                nonlocal moved
                if not isinstance(event, TaskUpdate):
                    return
                task_id = event.record.id
                last[task_id] = event.outcome
                if isinstance(event.outcome, AuthRejected | WrongUrl):
                    return  # told once, at the end
                if isinstance(event.outcome, NotFound) and poller.is_done(task_id):
                    if not quiet and len(session.records) > 1:  # the rest are still awaited
                        print(f"{safe(task_id)}: not found (given up)", file=ctx.err)
                    return
                if not event.state_changed:
                    return
                moved = True
                if not quiet:
                    print(f"{safe(task_id)}: {state_text(event.record)}", file=ctx.err)

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
            saver = asyncio.create_task(session.save_every(SAVE_EVERY, due))
            remaining = max(deadline - time.monotonic(), 0.0) if deadline is not None else None
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poller.run(until=done), remaining)
            finally:
                saver.cancel()
                await poller.aclose()
            return session

    session = asyncio.run(go())
    session.save()
    poller = session.poller
    told = {  # a rejected key or a wrong address is told once, below
        i: r
        for i, r in session.records.items()
        if r.result.problem not in (Problem.AUTH, Problem.WRONG_URL)
        and not isinstance(last.get(i), AuthRejected | WrongUrl)
    }
    code = EXIT_OK
    status = poller.status
    halted = status.auth_error or status.url_error
    for task_id, record in told.items():
        if not (halted and not poller.is_done(task_id)):
            code = _tell_waited(ctx, poller, record, code, print_urls, last)
    if halted:
        ctx.warn(halted)  # once, whatever the number of tasks
        return EXIT_KEY if status.auth_error else EXIT_UNREACHABLE
    if code == EXIT_TIMEOUT:
        ctx.warn(f"timed out after {timeout or 0:g} s; unfinished jobs are still watched")
    return code


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
    else:
        if r.error:  # why it may never finish: a 404, a server that keeps failing
            ctx.warn(f"{shown}: not finished; last problem: {safe(r.error)}")
        return EXIT_TIMEOUT
    return EXIT_FAILED if code == EXIT_OK else code


def cmd_check(ctx: Context, ns: argparse.Namespace) -> int:
    """Ask the server once about an ID no job has: the answer tells whether the server
    is reachable and whether it accepts the key."""
    config = ctx.config()
    tell_unresolved(ctx)
    ctx.say(f"base URL  {config.base_url}")
    if ns.offline:
        if config.api_key:
            ctx.say(f"API key   set (from the {config.key_source}); not checked (--offline)")
            return EXIT_OK
        ctx.say(f"API key   not set: set {ENV_API_KEY} or api_key in {ctx.paths.config_file}")
        return EXIT_KEY

    async def ask() -> Outcome:
        async with make_client(config) as client:
            return await client.query(CHECK_ID)

    outcome = asyncio.run(ask())
    host = host_of(config.base_url)
    if answered(outcome) or isinstance(outcome, AuthRejected):
        ctx.say(f"server    reachable ({host} answered)")
    elif isinstance(outcome, WrongUrl):  # it answered, but not as the gateway's API
        said = f"HTTP {outcome.status}" + (f": {outcome.detail}" if outcome.detail else "")
        ctx.say(f"server    {host} answered, but has no {outcome.url} ({said})")
        ctx.say(f"base URL  looks wrong: {outcome.fix}")
    else:
        ctx.say(f"server    {describe(outcome, host)}")
    if not config.api_key:
        ctx.say(f"API key   not set: set {ENV_API_KEY} or api_key in {ctx.paths.config_file}")
        return EXIT_KEY
    source = f"from the {config.key_source}"
    if isinstance(outcome, WrongUrl):  # answered before the key was looked at
        ctx.say(f"API key   set ({source}), not checked: fix the base URL first")
        return EXIT_UNREACHABLE
    if answered(outcome):
        ctx.say(f"API key   accepted ({source})")
        from vidwatch.cli.money import balance_line  # the billing routes' own client

        ctx.say(balance_line(config))
        return EXIT_OK
    if isinstance(outcome, AuthRejected):
        ctx.say(f"API key   rejected ({source}): {describe(outcome, host)}")
        return EXIT_KEY
    ctx.say(f"API key   set ({source}), not checked: the server gave no usable answer")
    return EXIT_UNREACHABLE


def dashboard_argv(paths: Paths, *, demo: bool) -> list[str]:
    """The command line of each browser session's dashboard. ``-P``: the folder the user
    stands in is not put on ``sys.path``, so a ``vidwatch/`` or ``app/`` there cannot
    change what runs."""
    argv = [sys.executable, "-P", "-m", "vidwatch", "--tasks-file", str(paths.tasks_file)]
    argv += ["--config", str(paths.config_file)]
    return [*argv, "--demo"] if demo else argv


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
    argv = dashboard_argv(ctx.paths, demo=ns.demo)
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


def cmd_simulate(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.simulator.serve import serve_forever

    if not 0.0 <= ns.chaos <= 1.0:
        raise CliError("--chaos is a fraction of requests, from 0 to 1 (0.3 = 30 %).", EXIT_USAGE)
    if ns.speed <= 0:
        raise CliError(
            "--speed must be positive (60 = a minute of job time per second).", EXIT_USAGE
        )
    if ns.idle_close is not None and ns.idle_close <= 0:
        raise CliError("--idle-close is in seconds and must be positive.", EXIT_USAGE)
    if ns.close_delay < 0:
        raise CliError("--close-delay is in seconds and cannot be negative.", EXIT_USAGE)
    serve_forever(
        port=ns.port,
        jobs=ns.jobs,
        seed=ns.seed,
        out=ctx.out,
        chaos=ns.chaos,
        speed=ns.speed,
        id_style=ns.id_style,
        idle_close=ns.idle_close,
        close_delay=ns.close_delay,
        billing=not ns.no_billing,
    )
    return EXIT_OK
