"""Commands that ask the server or serve: poll, check, web, simulate (``wait`` is in
:mod:`vidwatch.cli.wait`), and what they share with it: the client, the session."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import sys

from vidwatch.cli.offline import load
from vidwatch.cli.output import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_KEY,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
    Context,
    answered,
    host_of,
    key_hint,
    plural,
    print_table,
    require_key,
    safe,
    tell_unresolved,
)
from vidwatch.core.clients import client_for
from vidwatch.core.config import Config, Paths
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.gateway.outcomes import AuthRejected, NotFound, Outcome, WrongUrl
from vidwatch.core.gateway.wording import describe
from vidwatch.core.model.records import TaskRecord, TaskResult
from vidwatch.core.polling.events import TaskUpdate
from vidwatch.core.polling.poller import Poller
from vidwatch.core.session import Session
from vidwatch.core.store.export import record_json, to_json

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


def watch_session(
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
            session = watch_session(ctx, config, client, [records[i] for i in targets])
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


def check_first(
    ctx: Context, config: Config, records: list[TaskRecord], within: float
) -> tuple[dict[str, TaskRecord], int]:
    """Ask once about these tasks, within the budget, for at most ``within`` seconds;
    save what was learned (``download`` does, before it picks what to fetch). The records
    as now known, and how many got no answer (a rejected key is said once)."""

    async def go() -> Session:
        async with make_client(config) as client:
            session = watch_session(ctx, config, client, records)
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(session.poller.poll_pass(), within)
            finally:
                await session.poller.aclose()
            return session

    session = asyncio.run(go())
    session.save()
    status = session.poller.status
    halted = status.auth_error or status.url_error
    if halted:
        ctx.warn(halted)
    fresh = dict(session.records)
    unchecked = sum(
        1 for r in records if r.id in fresh and fresh[r.id].result.checked_at == r.result.checked_at
    )
    return fresh, unchecked


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
        ctx.say(f"API key   not set: {key_hint(ctx.paths.config_file)}")
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
        ctx.say(f"API key   not set: {key_hint(ctx.paths.config_file)}")
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
