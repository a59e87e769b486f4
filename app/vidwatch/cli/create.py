"""``vidwatch create``: one job from a prompt. Jobs cost money, so:

- everything is checked before anything is sent (a bad field is a usage error, 64);
- on a terminal it says what will be sent and asks; without one it needs ``--yes``;
- the send is journaled like a batch row (intent fsynced before, the ID after) in the
  manifest of ``vidwatch create``; a job whose answer arrived but never reached the task
  list (vidwatch was killed in between) is listed by the next ``create`` or ``submit``.

Also the pieces ``submit`` shares: the confirmation, the journal, the sending.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final

from vidwatch.cli import network
from vidwatch.cli.offline import load
from vidwatch.cli.output import (
    EXIT_FAILED,
    EXIT_KEY,
    EXIT_OK,
    EXIT_STORE,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
    Context,
    host_of,
    plural,
    require_key,
    safe,
)
from vidwatch.cli.waiting import WaitNotice
from vidwatch.core.batch import BatchRow
from vidwatch.core.config import Config
from vidwatch.core.create import (
    MAX_PROMPT,
    CreateError,
    CreateRequest,
    parse_param,
    prepare,
    spend_summary,
)
from vidwatch.core.export import record_json, to_json
from vidwatch.core.manifest import (
    CREATE_JOURNAL,
    Manifest,
    ManifestBusy,
    ManifestDir,
    ManifestError,
    RowState,
    Verdict,
)
from vidwatch.core.models import MAX_LABEL, Task
from vidwatch.core.plan import Step, Why
from vidwatch.core.sanitize import clean_line, escape_hidden
from vidwatch.core.sender import (
    Budget,
    Resumed,
    Sender,
    SendEvent,
    SendReport,
    Sent,
    unlisted_tasks,
)

LOCK_WAIT: Final = 60.0  # seconds a create waits for another one's journal


# --------------------------------------------------------------------------- shared


def body_text(body: dict[str, Any]) -> str:
    """A body as one line of JSON, safe to print (controls and bidi as ``\\uXXXX``)."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return escape_hidden(text, lambda ch: json.dumps(ch)[1:-1] if ord(ch) < 0x10000 else "?")


def confirm(
    ctx: Context,
    requests: Sequence[CreateRequest],
    config: Config,
    *,
    yes: bool,
    stdin_used: bool = False,
) -> bool:
    """Spending needs a yes: ``--yes``, or an answer on a terminal after seeing what will
    be sent (count, models, durations). Without a terminal: a usage error, nothing sent."""
    if yes:
        return True
    count = plural(len(requests), "job")
    if stdin_used or not ctx.stdin.isatty():
        where = "the prompt came from stdin" if stdin_used else "there is no terminal"
        raise CliError(
            f"Not sending: creating {count} costs money and {where} to ask; "
            "add --yes to send (or --dry-run to see the bodies).",
            EXIT_USAGE,
        )
    print(f"About to create {count} on {host_of(config.base_url)}; each is paid:", file=ctx.err)
    for line in spend_summary(requests):
        print(f"  {safe(line)}", file=ctx.err)
    print("Send? [y/N] ", end="", file=ctx.err, flush=True)
    answer = ctx.stdin.readline().strip().lower()
    if answer in ("y", "yes"):
        return True
    ctx.warn("nothing sent")
    return False


def open_journal(folder: ManifestDir, source: str, *, wait: float = 0.0) -> Manifest:
    """The manifest of ``source``, locked for writing; waits up to ``wait`` seconds for
    another vidwatch that holds it. Errors are CLI errors (busy: 1, else 4)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return folder.open(source)
        except ManifestBusy as exc:
            if time.monotonic() >= deadline:
                raise CliError(str(exc), EXIT_FAILED) from None
            time.sleep(0.05)
        except ManifestError as exc:
            raise CliError(str(exc), EXIT_STORE) from None


def send_rows(
    ctx: Context,
    config: Config,
    manifest: Manifest,
    steps: Sequence[Step],
    relist: Sequence[tuple[str, Task]],
    report: Callable[[SendEvent], None],
) -> SendReport:
    """Send the steps' rows through the one client, within the create budget."""
    store = ctx.store()
    budget = Budget(config.create.per_minute, config.create.concurrency)

    async def go() -> SendReport:
        async with network.make_client(config) as client:
            sender = Sender(client, manifest, budget, add_tasks=store.add, report=report)
            return await sender.run(steps, relist)

    try:
        return asyncio.run(go())
    except ManifestError as exc:
        raise CliError(f"{exc}; the row it was about to send was not sent", EXIT_STORE) from None


def verdict_text(verdict: Verdict) -> str:
    """``400 invalid_request: grok-video-3 takes …`` (server text made safe)."""
    # Codes of sends that got no answer ("lost", "connect") are vidwatch's, not the server's.
    head = f"{verdict.status} {verdict.code}".strip() if verdict.status is not None else ""
    text = f"{head}: {verdict.message}" if head and verdict.message else head or verdict.message
    return safe(text, 400)


def key_rejected(verdict: Verdict) -> bool:
    return verdict.status == 401 or verdict.code.lower() == "invalid_api_key"


def tell_stopped_creates(ctx: Context, manifest: Manifest) -> None:
    """Earlier creates that were stopped while sending (killed): their job may exist.
    Said once (they are then recorded as uncertain)."""
    for row_id, entry in list(manifest.entries.items()):
        if entry.state is not RowState.SENDING:
            continue
        what = f"{entry.model}" + (f", label {entry.label!r}" if entry.label else "")
        ctx.warn(
            f"an earlier vidwatch create ({safe(what, 120)}, {entry.at[:19]} UTC) was stopped "
            "while sending: its job may exist; look for it in the provider's console and "
            "add it with: vidwatch add ID"
        )
        why = "vidwatch was stopped while sending it"
        manifest.record_verdict(row_id, Verdict(RowState.UNCERTAIN, "interrupted", why))


# --------------------------------------------------------------------------- create


def read_prompt(ctx: Context, prompt: str) -> str:
    if prompt != "-":
        return prompt
    return ctx.stdin.read(MAX_PROMPT * 4 + 1)


def cmd_create(ctx: Context, ns: argparse.Namespace) -> int:
    config = ctx.config()
    model = ns.model or config.create.model
    text = read_prompt(ctx, ns.prompt)
    try:
        fields = [parse_param(item) for item in ns.param or ()]
        prepared = prepare(model, text, ns.image or (), fields)
    except CreateError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    for note in prepared.notes:
        ctx.warn(note)
    request = prepared.request
    if ns.dry_run:
        print(f"POST {config.base_url}/v1/video/create (Authorization: Bearer ***)", file=ctx.err)
        print(body_text(request.body()), file=ctx.out)
        return EXIT_OK
    require_key(ctx, config)
    if not confirm(ctx, [request], config, yes=ns.yes, stdin_used=ns.prompt == "-"):
        return EXIT_FAILED
    label = clean_line(ns.label or "", MAX_LABEL)
    row = BatchRow(1, 0, uuid.uuid4().hex, label, request)
    folder = ManifestDir.beside(ctx.paths.tasks_file)
    with open_journal(folder, CREATE_JOURNAL, wait=LOCK_WAIT) as manifest:
        tell_stopped_creates(ctx, manifest)
        relist = unlisted_tasks(manifest, ())

        notice = WaitNotice(ctx.err, announce=0.0)  # every retry of a single create is told

        def report(event: SendEvent) -> None:
            if isinstance(event, Sent) and not event.final:
                notice.waiting(event.delay, verdict_text(event.verdict))
            elif isinstance(event, Resumed):
                notice.resumed(event.waited)

        try:
            result = send_rows(ctx, config, manifest, [Step(row, True, Why.NEW)], relist, report)
        finally:
            notice.close()
    for error in result.list_errors:
        ctx.warn(f"the task list cannot be written: {error}; it is added on the next run")
    verdict = result.verdicts.get(row.identity)
    if verdict is None:
        raise CliError("the job was not sent", EXIT_FAILED)
    code = _told(ctx, verdict)
    if code != EXIT_OK or verdict.task_id is None:
        return code
    if not ns.json:
        ctx.row(verdict.task_id)  # alone on its line, at once: scripts chain it
        ctx.out.flush()
    if ns.wait:  # then as `vidwatch wait`: ID<TAB>URL when it is done
        code = network.wait_for(
            ctx, config, [verdict.task_id], timeout=ns.timeout, print_urls=not ns.json
        )
    if ns.json:
        record = load(ctx).get(verdict.task_id)
        print(to_json(record_json(record) if record else {"id": verdict.task_id}), file=ctx.out)
    return code


def _told(ctx: Context, verdict: Verdict) -> int:
    """Say how the create ended (on stderr); the exit code."""
    what = verdict_text(verdict)
    if verdict.state is RowState.CREATED:
        return EXIT_OK
    if verdict.state is RowState.REFUSED:
        ctx.warn(f"the gateway refused the job: {what}")
        return EXIT_FAILED
    if verdict.state is RowState.UNCERTAIN:
        ctx.warn(
            f"{what}. The job may have been made (and paid): look for it in the provider's "
            "console and add it with: vidwatch add ID. Not sent again by itself."
        )
        return EXIT_FAILED
    # not sent (nothing was paid)
    ctx.warn(f"not sent, nothing was paid: {what}")
    if key_rejected(verdict):
        return EXIT_KEY
    return EXIT_UNREACHABLE if verdict.code == "connect" else EXIT_FAILED
