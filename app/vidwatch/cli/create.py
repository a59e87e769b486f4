"""``vidwatch create``: one job from a prompt. Jobs cost money, so:

- everything is checked before anything is sent (a bad field is a usage error, 64);
- on a terminal it says what will be sent and asks; without one it needs ``--yes``;
- a request sent before (from anywhere: :mod:`vidwatch.core.create.ledger`) or already in the
  task list is named; on a terminal it asks again, without one it needs ``--resend``;
- the send is journaled like a batch row (intent fsynced before, the ID after) in the
  journal of single creates of this task list; a job whose answer arrived but never
  reached the task list (vidwatch was killed in between) is listed by the next
  ``create`` or ``submit``;
- a create whose answer was lost (Ctrl-C while it was out, a dropped connection, an
  unusable ID) is said at once and by every later ``create``, ``submit``, ``list`` and
  ``check`` until it is resolved: ``vidwatch create --mark-done REF[=ID]``.

Also the pieces ``submit`` shares: the confirmations, the journal, the sending.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from vidwatch.cli import network, wait
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
    tell_unresolved,
)
from vidwatch.cli.waiting import WaitNotice
from vidwatch.core.config import Config
from vidwatch.core.create.batch import BatchRow
from vidwatch.core.create.journal import (
    CREATE_JOURNAL,
    Manifest,
    ManifestBusy,
    ManifestError,
    RowEntry,
    RowState,
    Verdict,
)
from vidwatch.core.create.ledger import Earlier, Ledger, LedgerError, Unresolved, key_of
from vidwatch.core.create.log import log_resolved
from vidwatch.core.create.plan import Step, Why
from vidwatch.core.create.requests import (
    MAX_PROMPT,
    CreateError,
    CreateRequest,
    parse_param,
    prepare,
    spend_summary,
)
from vidwatch.core.create.sender import (
    CreateBudget,
    Resumed,
    Sender,
    SendEvent,
    SendReport,
    Sent,
    unlisted_tasks,
)
from vidwatch.core.create.verdict import ended_words, mark_done_advice, unrecorded_words
from vidwatch.core.model.ids import escaped
from vidwatch.core.model.records import MAX_LABEL, Task, TaskRecord, utcnow, validate_task_id
from vidwatch.core.store.export import record_json, to_json
from vidwatch.core.store.task_file import TaskStore
from vidwatch.core.text.sanitize import clean_line, escape_hidden

LOCK_WAIT: Final = 60.0  # seconds a create waits for another one's journal
_MARK = re.compile(r"^\s*([0-9a-fA-F]{4,32})\s*(?:=\s*(\S+)\s*)?$")


# --------------------------------------------------------------------------- shared


def body_text(body: dict[str, Any]) -> str:
    """A body as one line of JSON, safe to print (controls and bidi as ``\\uXXXX``)."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return escape_hidden(text, lambda ch: json.dumps(ch)[1:-1] if ord(ch) < 0x10000 else "?")


def terminal(ctx: Context, stdin_used: bool = False) -> bool:
    """Whether there is someone to ask (stdin is a terminal, not the prompt's source)."""
    return not stdin_used and ctx.stdin.isatty()


def confirm(
    ctx: Context,
    requests: Sequence[CreateRequest],
    config: Config,
    *,
    yes: bool,
    stdin_used: bool = False,
    limit: float | None = None,
) -> bool:
    """Spending needs a yes: ``--yes``, or an answer on a terminal after seeing what will
    be sent (count, models, durations). Without a terminal: a usage error, nothing sent."""
    from vidwatch.cli.money import check_spend, quote_for

    quote = quote_for(ctx, requests, config)
    cap = config.create.max_spend if limit is None else limit
    check_spend(ctx, quote, len(requests), cap, config)
    if yes:
        return True
    count = plural(len(requests), "job")
    if not terminal(ctx, stdin_used):
        where = "the prompt came from stdin" if stdin_used else "there is no terminal"
        raise CliError(
            f"Not sending: creating {count} costs money and {where} to ask; "
            "add --yes to send (or --dry-run to see the bodies).",
            EXIT_USAGE,
        )
    host = host_of(config.base_url)
    if len(requests) == 1:  # one job: what it is, the prompt included, what it may cost
        print(f"About to create a job on {host}; it is paid:", file=ctx.err)
        # one_job's values are made safe where they are read; the estimate here
        for name, value in [*one_job(requests[0]), ("cost", safe(quote.text(utcnow()), 2000))]:
            print(f"  {name:<7} {value}", file=ctx.err)
        return ask(ctx, "Create it?")
    print(f"About to create {count} on {host}; each is paid:", file=ctx.err)
    for line in spend_summary(requests):
        print(f"  {safe(line)}", file=ctx.err)
    print(f"  {safe(quote.text(utcnow()), 2000)}", file=ctx.err)
    return ask(ctx, "Send?")


SHOWN_PROMPT: Final = 300  # characters of the prompt a confirmation shows


def one_job(request: CreateRequest) -> list[tuple[str, str]]:
    """What one create will send, line by line for its confirmation: the model (and the
    duration it is billed for), the prompt (one line, cut at :data:`SHOWN_PROMPT`), the
    other fields and the images."""
    duration = request.duration
    lines = [("model", safe(request.model) + (f", {duration} s" if duration is not None else ""))]
    prompt = clean_line(request.prompt, len(request.prompt) + 1)
    cut = prompt if len(prompt) <= SHOWN_PROMPT else prompt[: SHOWN_PROMPT - 1] + "…"
    lines.append(("prompt", safe(cut, SHOWN_PROMPT)))
    fields = [  # as --param takes them: text as it is, the rest as JSON
        f"{key}={value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
        for key, value in request.fields.items()
        if key != "duration"
    ]
    if fields:
        lines.append(("fields", safe(", ".join(fields), 600)))
    if request.images:
        lines.append(("images", safe(", ".join(request.images), 1200)))
    return lines


def ask(ctx: Context, question: str) -> bool:
    print(f"{question} [y/N] ", end="", file=ctx.err, flush=True)
    answer = ctx.stdin.readline().strip().lower()
    if answer in ("y", "yes"):
        return True
    ctx.warn("nothing sent")
    return False


def confirm_again(ctx: Context, lines: Sequence[str], *, stdin_used: bool = False) -> bool:
    """Requests sent before (``lines`` say which, when, as which task): pay for them
    again? Asked on a terminal only (False without one: the caller refuses or skips)."""
    if not terminal(ctx, stdin_used):
        return False
    for line in lines:
        print(f"  {safe(line, 600)}", file=ctx.err)
    return ask(ctx, "Pay for it again (a second job)?" if len(lines) == 1 else "Pay again?")


def open_journal(
    opener: Callable[[], Manifest], *, wait: float = 0.0, ctx: Context | None = None
) -> Manifest:
    """A journal, locked for writing; waits up to ``wait`` seconds for another vidwatch
    that holds it (saying so once). Errors are CLI errors (busy: 1, else 4)."""
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            return opener()
        except ManifestBusy as exc:
            if time.monotonic() >= deadline:
                raise CliError(str(exc), EXIT_FAILED) from None
            if ctx is not None and not told:
                told = True
                ctx.warn("waiting for another vidwatch create to finish…")
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
    known_ids: dict[str, str],
    limit: float | None = None,
) -> SendReport:
    """Send the steps' rows through the one client, within the create budget; with a
    spending ``limit``, the run stops sending when the charges seen reach it."""
    store = ctx.store()
    ledger = ctx.ledger()
    budget = CreateBudget(config.create.per_minute, config.create.concurrency)
    from vidwatch.cli.money import spend_watch

    async def go() -> SendReport:
        async with network.make_client(config) as client:
            watch = spend_watch(ctx, config, limit) if limit is not None else None
            if watch is not None:  # its own client, made in the loop that runs it
                watch.start()
            try:
                sender = Sender(
                    client,
                    manifest,
                    budget,
                    ledger=ledger,
                    add_tasks=store.add,
                    report=report,
                    known_ids=known_ids,
                    halt=watch.reached if watch is not None else None,
                )
                return await sender.run(steps, relist)
            finally:
                if watch is not None:
                    await watch.aclose()

    try:
        return asyncio.run(go())
    except (ManifestError, LedgerError) as exc:
        raise CliError(f"{exc}; the row it was about to send was not sent", EXIT_STORE) from None


def key_rejected(verdict: Verdict) -> bool:
    return verdict.key_rejected


class SentBefore:
    """What was sent before, for one command: the record of sends, then the task list's
    jobs with their requests (a journal deleted or truncated still knows them; read
    once)."""

    def __init__(self, ctx: Context, records: Mapping[str, TaskRecord] | None = None) -> None:
        self.ctx = ctx
        self.records = records
        self._listed: dict[str, Earlier] | None = None

    def __call__(self, key: str, journal: str, row: str) -> Earlier | None:
        found = self.ctx.ledger().earlier(key, journal, row)
        if found is not None:
            return found
        if self._listed is None:
            records = self.records if self.records is not None else load(self.ctx)
            self._listed = Ledger.listed(records.values())
        return self._listed.get(key)


def known_ids(ctx: Context, records: Mapping[str, TaskRecord] | None = None) -> dict[str, str]:
    return Ledger.known_ids((records if records is not None else load(ctx)).values())


# --------------------------------------------------------------------------- create


def read_prompt(ctx: Context, prompt: str) -> str:
    if prompt != "-":
        return prompt
    return ctx.stdin.read(MAX_PROMPT * 4 + 1)


def cmd_create(ctx: Context, ns: argparse.Namespace) -> int:
    if ns.mark_done:
        if ns.prompt is not None:
            raise CliError("--mark-done takes no prompt: it resolves earlier creates", EXIT_USAGE)
        return mark_done(ctx, ns.mark_done)
    if ns.prompt is None:
        raise CliError("create needs a PROMPT (or '-' to read it from stdin)", EXIT_USAGE)
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
    label = clean_line(ns.label or "", MAX_LABEL)
    row = BatchRow(1, 0, uuid.uuid4().hex, label, request)
    key = key_of(request.key())
    if ns.dry_run:
        print(f"POST {config.base_url}/v1/video/create (Authorization: Bearer ***)", file=ctx.err)
        print(body_text(request.body()), file=ctx.out)
        from vidwatch.cli.money import quote_for

        print(f"cost: {safe(quote_for(ctx, [request], config).text(utcnow()), 2000)}", file=ctx.err)
        before = SentBefore(ctx)(key, CREATE_JOURNAL, row.identity)
        if before is not None:
            ctx.warn(f"this request was {before.text()}: sending it needs --resend")
        return EXIT_OK
    require_key(ctx, config)
    tell_unresolved(ctx)
    stdin_used = ns.prompt == "-"
    before = SentBefore(ctx)(key, CREATE_JOURNAL, row.identity)
    if before is not None and not ns.resend:
        ctx.warn(f"this request was {before.text()}")
        if not terminal(ctx, stdin_used):
            raise CliError(
                "Not sending: the same request was sent before and there is no terminal to "
                "ask; add --resend to pay for it again.",
                EXIT_USAGE,
            )
        if not ask(ctx, "Pay for it again (a second job)?"):
            return EXIT_FAILED
    if not confirm(ctx, [request], config, yes=ns.yes, stdin_used=stdin_used):
        return EXIT_FAILED
    accepted = before.send if before is not None else None
    step = Step(row, True, Why.RESEND if before else Why.NEW, key=key, accepted=accepted)
    ledger = ctx.ledger()

    def opener() -> Manifest:
        return ledger.journals.open(CREATE_JOURNAL)

    with open_journal(opener, wait=LOCK_WAIT, ctx=ctx) as manifest:
        manifest.settle_stopped()
        relist = unlisted_tasks(manifest, (), ledger)

        notice = WaitNotice(ctx.err, announce=0.0)  # every retry of a single create is told

        def report(event: SendEvent) -> None:
            if isinstance(event, Sent) and not event.final:
                notice.waiting(event.delay, event.verdict.text)
            elif isinstance(event, Resumed):
                notice.resumed(event.waited)

        try:
            result = send_rows(ctx, config, manifest, [step], relist, report, known_ids(ctx))
        except KeyboardInterrupt:
            _interrupted(ctx, manifest, row)
            raise
        finally:
            notice.close()
    return _ended(ctx, ns, config, row, result)


def _interrupted(ctx: Context, manifest: Manifest, row: BatchRow) -> None:
    """Ctrl-C: if the request was out, its job may exist: say so, and how to find it."""
    entry = manifest.entries.get(row.identity)
    if entry is None or entry.state not in (RowState.SENDING, RowState.UNCERTAIN):
        ctx.warn("interrupted before the request was sent: nothing was paid")
        return
    ref = row.identity[:8]
    ctx.warn(
        "interrupted while the create was waiting for its answer: the job may have been "
        f"made (and paid): {mark_done_advice(ref)}. Until then every create, submit, list "
        "and check reminds you; it is never sent again by itself."
    )


def _ended(
    ctx: Context, ns: argparse.Namespace, config: Config, row: BatchRow, result: SendReport
) -> int:
    """Say how the create ended; print the new ID whatever could not be written."""
    verdict = result.verdicts.get(row.identity)
    earlier = result.skipped.get(row.identity)
    if earlier is not None:
        raise CliError(
            f"Not sent: the same request was {earlier.text()} meanwhile; run again with "
            "--resend to pay for it again.",
            EXIT_FAILED,
        )
    if verdict is None:
        raise CliError(f"the job was not sent: {safe(result.stopped or 'stopped', 400)}", 1)
    created = verdict.state is RowState.CREATED and verdict.task_id is not None
    if created and not ns.json:
        ctx.row(verdict.task_id)  # alone on its line, at once: scripts chain it
        ctx.out.flush()
    problem = result.unrecorded.get(row.identity)
    if problem is not None:
        ctx.warn(unrecorded_words(verdict, problem))  # as the dashboard says it
    for error in result.list_errors:
        ctx.warn(
            f"the job {verdict.task_id} exists, but the task list cannot be written: "
            f"{safe(error, 400)}; it is added by the next create, or now with: "
            f"vidwatch add {verdict.task_id}"
        )
    code = _told(ctx, verdict, row)
    if problem is not None or result.list_errors:
        if created and ns.json:  # the ID, whatever could not be written
            print(to_json({"id": verdict.task_id}), file=ctx.out)
        return EXIT_STORE
    if code != EXIT_OK or not created:
        return code
    assert verdict.task_id is not None
    if ns.wait:  # then as `vidwatch wait`: ID<TAB>URL when it is done
        code = wait.wait_for(
            ctx, config, [verdict.task_id], timeout=ns.timeout, print_urls=not ns.json
        )
    if ns.json:
        record = load(ctx).get(verdict.task_id)
        print(to_json(record_json(record) if record else {"id": verdict.task_id}), file=ctx.out)
    return code


def _told(ctx: Context, verdict: Verdict, row: BatchRow) -> int:
    """Say how the create ended (on stderr); the exit code."""
    if verdict.state is RowState.CREATED:
        return EXIT_OK
    ctx.warn(ended_words(verdict, row.identity[:8]))  # as the dashboard says it
    if verdict.state in (RowState.REFUSED, RowState.UNCERTAIN):
        return EXIT_FAILED
    if key_rejected(verdict):
        return EXIT_KEY
    return EXIT_UNREACHABLE if verdict.unreachable else EXIT_FAILED


# --------------------------------------------------------------------------- resolving


def mark_done(ctx: Context, marks: Sequence[str]) -> int:
    """``--mark-done REF[=ID]``: resolve earlier single creates (REF: the reference every
    command shows). With an ID the job is added to the task list it was made for."""
    ctx.check_config()
    ledger = ctx.ledger()
    wanted: list[tuple[Unresolved, str | None]] = []
    for mark in marks:
        for item in mark.split(","):
            found = _MARK.match(item)
            if not found:
                raise CliError(
                    f"--mark-done takes REF or REF=ID (REF: the create's reference, shown "
                    f"with it), not {safe(item, 80)!r}",
                    EXIT_USAGE,
                )
            ref, task_id = found.group(1).lower(), found.group(2)
            if task_id is not None and (reason := validate_task_id(task_id)) is not None:
                raise CliError(f"--mark-done {ref}={escaped(task_id, 80)}: {reason}", EXIT_USAGE)
            matches = {u.entry.row: u for u in ledger.find_create(ref)}
            if not matches:
                raise CliError(f"--mark-done {ref}: no create has that reference", EXIT_USAGE)
            if len(matches) > 1:
                raise CliError(f"--mark-done {ref}: more than one create starts so", EXIT_USAGE)
            wanted.append((next(iter(matches.values())), task_id))
    for found_create, job in wanted:
        _resolve(ctx, ledger, found_create, job)
    return EXIT_OK


def _resolve(ctx: Context, ledger: Ledger, item: Unresolved, task_id: str | None) -> None:
    here = ctx.paths.tasks_file.resolve()
    tasks_file = item.tasks_file or str(here)
    other = Path(tasks_file) != here

    def opener() -> Manifest:
        if not other and item.journal == ledger.journals.path_for(CREATE_JOURNAL):
            return ledger.journals.open(CREATE_JOURNAL)  # carries an older journal over
        return Manifest.open(item.journal, CREATE_JOURNAL, tasks_file)

    with open_journal(opener, wait=LOCK_WAIT, ctx=ctx) as manifest:
        entry = manifest.entries.get(item.entry.row)
        if entry is None:
            raise CliError(f"--mark-done {item.ref}: the create is no longer recorded", 1)
        replaced = _earlier_resolution(item.ref, entry, task_id)
        job = task_id or entry.unlisted_job
        if replaced is None and entry.resolved:  # the same again: nothing to write
            ctx.warn(f"create {item.ref} was already resolved: {_resolution(entry)}")
            return
        try:
            manifest.mark_done(entry.row, job)
            if entry.key and entry.send:
                with ledger.deciding():
                    ledger.resolve(entry.key, entry.send, job)
        except (ManifestError, LedgerError) as exc:
            raise CliError(str(exc), EXIT_STORE) from None
        log_resolved(item.ref, job, replaced or "")
        if job is None:
            ctx.warn(f"create {item.ref} marked done: no job, nothing added{replaced or ''}")
            return
        request = ledger.request(entry.key) if entry.key else None
        task = Task(job, utcnow(), clean_line(entry.label, MAX_LABEL), request=request)
        store = TaskStore(Path(tasks_file)) if other else ctx.store()
        added, _ = store.add([task])
        try:
            manifest.mark_listed(entry.row)
        except ManifestError as exc:
            raise CliError(str(exc), EXIT_STORE) from None
    where = f" to {tasks_file}" if other else ""
    said = "added" if added else "already listed"
    ctx.warn(f"create {item.ref} resolved: {job} {said}{where}{replaced or ''}")


def _resolution(entry: RowEntry) -> str:
    """How a create stands once resolved: ``made as grok:…`` or ``marked done without a
    job``."""
    if entry.task_id:
        how = "made as" if entry.state is RowState.CREATED else "marked done as"
        return f"{how} {escaped(entry.task_id)}"
    return "marked done without a job"


def _earlier_resolution(ref: str, entry: RowEntry, task_id: str | None) -> str | None:
    """What ``--mark-done REF[=ID]`` would replace: None when nothing (a create still
    uncertain, or the same resolution again), else the words that say it (a mark made
    earlier is replaced, never silently). A create the gateway answered with an ID is no
    one's to overwrite: refused."""
    if entry.state is RowState.CREATED and entry.task_id:
        if task_id in (None, entry.task_id):
            return None
        raise CliError(
            f"--mark-done {ref}={escaped(task_id or '', 80)}: the gateway answered this create "
            f"with {escaped(entry.task_id)}; it is not uncertain, so there is nothing to mark",
            EXIT_USAGE,
        )
    if entry.state is not RowState.DONE or task_id == entry.task_id:
        return None
    earlier = escaped(entry.task_id) if entry.task_id else "no job"
    kept = f" ({earlier} stays in the task list: vidwatch remove it if it was wrong)"
    return f"; it replaces the earlier mark, {earlier}" + (kept if entry.task_id else "")
