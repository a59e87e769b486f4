"""``vidwatch submit FILE``: a batch of jobs from a JSONL or CSV file, never paid twice.

Every row gets one line on stdout, ``ROW<TAB>LABEL<TAB>ID<TAB>WHAT`` (``-`` when it has
no job), as soon as its fate is known; a progress bar runs on a terminal; the summary
and what to do about uncertain, refused and unsent rows go to stderr (also after Ctrl-C,
which exits 130). Exit 0 only when every row has a job or was marked done (a row marked
done without a job is counted as that, not as "with a job").

Before anything is sent: jobs of earlier runs that never reached the task list are
added to it, ``--mark-done`` is applied, then :func:`~vidwatch.core.create.plan.plan_batch`
decides each row against the batch's journal and the user's record of sends
(:mod:`vidwatch.core.create.ledger`): a row whose request was sent before from anywhere (a
copy of the file, another task list, a single create) or is in the task list is named
and skipped unless ``--resend`` is given or, on a terminal, the user says yes. Each send
is decided again under the ledger's lock: a row another vidwatch sent meanwhile is
skipped. A job made but not listed or recorded (a full disk) keeps its ID on stdout and
makes the exit 4.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from vidwatch.cli import wait
from vidwatch.cli.create import (
    SentBefore,
    body_text,
    confirm,
    confirm_again,
    key_rejected,
    known_ids,
    open_journal,
    send_rows,
)
from vidwatch.cli.offline import load
from vidwatch.cli.output import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_KEY,
    EXIT_OK,
    EXIT_STORE,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
    Context,
    key_hint,
    plural,
    require_key,
    safe,
    tell_unresolved,
)
from vidwatch.cli.waiting import WaitNotice, countdown_column
from vidwatch.core.config import Config
from vidwatch.core.create.batch import Batch, BatchRow, read_batch
from vidwatch.core.create.journal import Manifest, ManifestError, RowEntry, RowState
from vidwatch.core.create.ledger import Earlier, LedgerError, keys_of
from vidwatch.core.create.log import log_skipped
from vidwatch.core.create.plan import (
    SENT_BEFORE_ADVICE,
    BatchPlan,
    Step,
    Why,
    plan_batch,
    uncertain_advice,
)
from vidwatch.core.create.sender import (
    Resumed,
    SendEvent,
    SendReport,
    Sent,
    Skipped,
    Stopped,
    unlisted_tasks,
)
from vidwatch.core.create.verdict import unrecorded_words
from vidwatch.core.model.records import State, TaskRecord, utcnow, validate_task_id

if TYPE_CHECKING:
    from rich.progress import Progress

_MARK = re.compile(r"^\s*(\d{1,6})\s*(?:=\s*(\S+)\s*)?$")


class RowPrinter:
    """One line per row on ``out``; a progress bar of the sends when ``out`` is a
    terminal (rich; lines are printed above it)."""

    def __init__(self, out: TextIO, total: int, notice: WaitNotice | None = None) -> None:
        self.out = out
        self.bars: Progress | None = None
        if out.isatty() and total:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bars = Progress(
                TextColumn("sending", markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                *([countdown_column(notice)] if notice is not None else []),
                console=Console(file=out, emoji=False, highlight=False),
                transient=True,
            )
            self.bar = self.bars.add_task("sending", total=total)
            self.bars.start()

    def line(self, row: BatchRow, task_id: str | None, what: str) -> None:
        cells = (str(row.number), safe(row.label, 60) or "-", safe(task_id, 256) or "-")
        text = "\t".join((*cells, safe(what, 600)))
        if self.bars is not None:
            self.bars.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            print(text, file=self.out, flush=True)

    def advance(self) -> None:
        if self.bars is not None:
            self.bars.advance(self.bar)

    def close(self) -> None:
        if self.bars is not None:
            self.bars.stop()


def _parse_marks(batch: Batch, marks: Sequence[str]) -> list[tuple[BatchRow, str | None]]:
    rows = {row.number: row for row in batch.rows}
    parsed = []
    for mark in marks:
        for item in mark.split(","):
            found = _MARK.match(item)
            if not found:
                raise CliError(
                    f"--mark-done takes ROW or ROW=ID, not {safe(item, 80)!r}", EXIT_USAGE
                )
            number, task_id = int(found.group(1)), found.group(2)
            if number not in rows:
                raise CliError(f"--mark-done {number}: the file has no row {number}", EXIT_USAGE)
            if task_id is not None and (reason := validate_task_id(task_id)) is not None:
                raise CliError(f"--mark-done {number}={safe(task_id, 80)}: {reason}", EXIT_USAGE)
            parsed.append((rows[number], task_id))
    return parsed


def _skipped_text(step: Step) -> str:
    entry = step.entry
    if step.why is Why.HAS_JOB:
        return "has a job (sent before)"
    if step.why is Why.DONE:
        return "marked done" if step.task_id else "marked done, without a job"
    if step.why is Why.UNCERTAIN:
        cause = entry.message if entry and entry.message else "vidwatch stopped while sending it"
        return f"uncertain: {cause}; not sent again (see below)"
    if step.why is Why.REFUSED:
        return f"refused before: {step.detail}"
    if step.why is Why.SENT_BEFORE:
        return f"not sent: {step.detail}; {SENT_BEFORE_ADVICE}"
    return f"{step.why.value}: {step.detail}" if step.detail else step.why.value


def _dry_run(ctx: Context, plan: BatchPlan, base_url: str, marked: dict[str, str | None]) -> int:
    """Each row's fate, the bodies that would go; ``marked``: rows ``--mark-done`` would
    resolve (row identity: the job found, or None), planned as if they were."""
    printer = RowPrinter(ctx.out, 0)
    for step in plan.steps:
        if step.send and step.row.request is not None:
            printer.line(step.row, None, f"would send ({step.why.value})")
            print(f"  {body_text(step.row.request.body())}", file=ctx.out)
        elif step.row.identity in marked:
            found = marked[step.row.identity]
            what = "would be marked done" + (
                " (its job added to the task list)" if found else ", without a job"
            )
            printer.line(step.row, step.task_id, what)
        else:
            printer.line(step.row, step.task_id, _skipped_text(step))
    count = len(plan.to_send)
    marking = f"; {plural(len(marked), 'row')} would be marked done" if marked else ""
    print(
        f"dry run: {plural(count, 'job')} would be created with "
        f"POST {base_url}/v1/video/create (Authorization: Bearer ***){marking}; "
        "nothing was sent or written",
        file=ctx.err,
    )
    # A script validates a file with --dry-run: a row that cannot be sent fails it.
    invalid = [step.row for step in plan.steps if step.why in (Why.INVALID, Why.BLOCKED)]
    if invalid:
        numbers = ", ".join(str(row.number) for row in invalid)
        ctx.warn(f"invalid rows: {numbers}: fix them in the file (exit 1)")
        return EXIT_FAILED
    return EXIT_OK


def _dry_run_cost(ctx: Context, plan: BatchPlan, config: Config, limit: float | None) -> None:
    """What the rows that would go would cost, and whether the limit lets them go."""
    from vidwatch.cli.money import quote_for, spent_today
    from vidwatch.core.money.estimates import over_limit

    sending = [s.row.request for s in plan.to_send if s.row.request is not None]
    if not sending:
        return
    quote = quote_for(ctx, sending, config)
    print(f"cost: {safe(quote.text(utcnow()), 2000)}", file=ctx.err)
    cap = config.create.max_spend if limit is None else limit
    today = spent_today(ctx, config) if cap is not None else None
    why = over_limit(quote, len(sending), cap, today)
    if why is not None:
        print(f"limit: {why}: sending would be refused", file=ctx.err)


def _never_sent(row: BatchRow) -> CliError:
    return CliError(f"--mark-done {row.number}: that row was never sent from this file", EXIT_USAGE)


def cmd_submit(ctx: Context, ns: argparse.Namespace) -> int:
    config = ctx.config()
    path = Path(ns.file).expanduser()
    batch = read_batch(path, default_model=config.create.model)
    if batch.error:
        raise CliError(f"{batch.source}: {batch.error}; nothing was sent", EXIT_USAGE)
    if not batch.rows:
        raise CliError(f"{batch.source}: no rows (one JSON object per line, or CSV)", EXIT_USAGE)
    marks = _parse_marks(batch, ns.mark_done or ())
    ledger = ctx.ledger()
    records = load(ctx)
    failed = {i for i, r in records.items() if r.result.state is State.FAILED}
    options = {
        "retry_failed": ns.retry_failed,
        "resend_uncertain": ns.resend_uncertain,
        "resend": ns.resend,
    }
    if ns.dry_run:
        try:
            manifest = ledger.journals.read(batch.source)  # read only: marks change it in memory
        except ManifestError as exc:
            raise CliError(str(exc), EXIT_FAILED) from None
        for row, task_id in marks:
            entry = manifest.entries.get(row.identity)
            if entry is None:
                raise _never_sent(row)
            found = task_id or entry.task_id
            manifest.entries[row.identity] = replace(entry, state=RowState.DONE, task_id=found)
        plan = _plan(ctx, batch, manifest, failed, options, records=records)
        code = _dry_run(ctx, plan, config.base_url, {row.identity: t for row, t in marks})
        _dry_run_cost(ctx, plan, config, ns.max_spend)
        return code
    tell_unresolved(ctx)

    def opener() -> Manifest:
        return ledger.journals.open(batch.source)

    with open_journal(opener) as manifest:
        for row, task_id in marks:
            try:
                marked = manifest.mark_done(row.identity, task_id)
                if marked.key and marked.send:
                    with ledger.deciding():
                        ledger.resolve(marked.key, marked.send, task_id)
            except ManifestError:
                raise _never_sent(row) from None
            except LedgerError as exc:
                raise CliError(str(exc), EXIT_STORE) from None
        relist = unlisted_tasks(manifest, batch.rows, ledger)
        plan = _plan(ctx, batch, manifest, failed, options, records=records)
        if plan.blocked:
            raise CliError(f"{plan.blocked}; nothing was sent", EXIT_FAILED)
        again = plan.sent_before
        if again and confirm_again(ctx, [_again_line(step) for step in again]):
            accepted = {step.row.identity for step in again}
            plan = _plan(ctx, batch, manifest, failed, options, accepted, records=records)
        sending = [s.row.request for s in plan.to_send if s.row.request is not None]
        if sending:
            require_key(ctx, config)  # only sending needs it: listing and marking do not
            if not confirm(ctx, sending, config, yes=ns.yes, limit=ns.max_spend):
                return EXIT_FAILED
        notice = WaitNotice(ctx.err)
        printer = RowPrinter(ctx.out, len(sending), notice)
        sent_before = sum(entry.sends for entry in manifest.entries.values())
        interrupted = False
        try:
            for step in plan.skipped:
                printer.line(step.row, step.task_id, _skipped_text(step))
                if step.why is Why.SENT_BEFORE:  # decided not to send: logged like a send
                    log_skipped(step.row, f"its request was {step.detail}", batch.source)
                elif step.why is Why.UNCERTAIN:
                    log_skipped(step.row, f"uncertain: {step.detail}", batch.source)
            result = send_rows(
                ctx,
                config,
                manifest,
                plan.to_send,
                relist,
                _reporter(printer, plan, notice),
                known_ids(ctx, records),
                limit=config.create.max_spend if ns.max_spend is None else ns.max_spend,
            )
        except KeyboardInterrupt:  # the sends out were recorded uncertain: say where it stands
            interrupted = True
            result = SendReport()
            result.sends = sum(e.sends for e in manifest.entries.values()) - sent_before
        finally:
            notice.close()
            printer.close()
        entries = dict(manifest.entries)
    for row_id in result.unrecorded:  # the job was made, though the journal could not say so
        verdict = result.verdicts.get(row_id)
        if row_id in entries and verdict is not None and verdict.state is RowState.CREATED:
            entries[row_id] = replace(
                entries[row_id], state=RowState.CREATED, task_id=verdict.task_id
            )
    code = _summary(ctx, batch, plan, entries, result.sends, manifest.path, result.skipped)
    if interrupted:
        ctx.warn("interrupted: the rows above without a job were not sent, or are uncertain")
        return EXIT_INTERRUPTED
    for error in result.list_errors:
        ctx.warn(
            f"the task list cannot be written: {safe(error, 400).rstrip('.')}; the jobs made "
            "(their IDs are above) are added on the next run, or now with vidwatch add"
        )
    for row_id, why in result.unrecorded.items():
        verdict = result.verdicts.get(row_id)
        said = (
            unrecorded_words(verdict, why)  # the job and its ID, as `create` says it
            if verdict is not None
            else f"its answer could not be recorded: {safe(why, 600)}"
        )
        ctx.warn(f"{_row_named(batch, row_id)}: {said}")
    if result.stopped:
        ctx.warn(f"the batch stopped: {safe(result.stopped, 400)}")
    verdicts = result.verdicts.values()
    if any(key_rejected(v) for v in verdicts):
        ctx.warn(f"the API key was rejected: {key_hint(ctx.paths.config_file)}")
        code = EXIT_KEY
    elif code == EXIT_FAILED and verdicts and all(v.unreachable for v in verdicts):
        code = EXIT_UNREACHABLE  # as `create` says it: nothing reached the gateway
    if result.list_errors or result.unrecorded:
        code = EXIT_STORE
    if ns.wait:
        ids = [
            entry.task_id
            for row in batch.rows
            if (entry := entries.get(row.identity)) is not None
            and entry.task_id
            and entry.state in (RowState.CREATED, RowState.DONE)
        ]
        if ids:
            waited = wait.wait_for(ctx, config, list(dict.fromkeys(ids)), timeout=ns.timeout)
            code = code if code != EXIT_OK else waited
    return code


def _row_named(batch: Batch, row_id: str) -> str:
    row = next((r for r in batch.rows if r.identity == row_id), None)
    return f"row {row.number}" if row is not None else "a row"


def _again_line(step: Step) -> str:
    label = f" ({step.row.label})" if step.row.label else ""
    return f"row {step.row.number}{label}: {step.detail}"


def _plan(
    ctx: Context,
    batch: Batch,
    manifest: Manifest,
    failed: set[str],
    options: dict[str, bool],
    accepted: set[str] | None = None,
    *,
    records: Mapping[str, TaskRecord] | None = None,
) -> BatchPlan:
    keys = keys_of(batch.sendable)
    earlier: dict[str, Earlier] = {}
    sent_before = SentBefore(ctx, records)
    for row_id, key in keys.items():
        found = sent_before(key, batch.source, row_id)
        if found is not None:
            earlier[row_id] = found
    return plan_batch(
        batch,
        manifest.entries,
        blocked=manifest.blocked,
        failed_tasks=failed,
        earlier=earlier,
        keys=keys,
        accepted=accepted or (),
        **options,
    )


def _reporter(
    printer: RowPrinter, plan: BatchPlan, notice: WaitNotice
) -> Callable[[SendEvent], None]:
    replaces = {step.row.identity: step.replaces for step in plan.to_send}

    def report(event: SendEvent) -> None:
        if isinstance(event, Stopped):
            printer.line(event.row, None, f"not sent: {event.reason}")
            printer.advance()
            return
        if isinstance(event, Skipped):
            text = f"not sent: meanwhile {event.earlier.text()}; {SENT_BEFORE_ADVICE}"
            printer.line(event.row, event.earlier.task_id, text)
            printer.advance()
            return
        if isinstance(event, Resumed):
            notice.resumed(event.waited)
            return
        assert isinstance(event, Sent)
        verdict, row = event.verdict, event.row
        if not event.final:  # sent again after the wait: its line comes with its last attempt
            notice.waiting(event.delay, verdict.text, f"row {row.number}")
            return
        printer.advance()
        if verdict.state is RowState.CREATED:
            old = replaces.get(row.identity)
            printer.line(row, verdict.task_id, f"created (replaces {old})" if old else "created")
        elif verdict.state is RowState.REFUSED:
            printer.line(row, None, f"refused: {verdict.text}")
        elif verdict.state is RowState.UNCERTAIN:
            printer.line(row, None, f"uncertain: {verdict.text}")
        else:
            printer.line(row, None, f"not sent: {verdict.text}")

    return report


_WITH_JOB: Final = frozenset({RowState.CREATED, RowState.DONE})


def _summary(
    ctx: Context,
    batch: Batch,
    plan: BatchPlan,
    entries: dict[str, RowEntry],
    sends: int,
    manifest_path: Path,
    skipped: dict[str, Earlier],
) -> int:
    """The counts, then what to do about each kind of row without a job; the exit code."""
    uncertain: list[BatchRow] = []
    refused: list[BatchRow] = []
    unsent: list[BatchRow] = []
    invalid: list[BatchRow] = []
    before: list[BatchRow] = []
    with_job = resolved = 0  # resolved: marked done by the user without a job
    jobs_before: list[BatchRow] = []  # the same request has a job already: nothing to do
    for step in plan.steps:
        row = step.row
        entry = entries.get(row.identity)
        state = entry.state if entry else None
        if state in (RowState.CREATED, RowState.DONE) and entry and entry.task_id:
            with_job += 1
        elif state is RowState.DONE:
            resolved += 1
        elif row.request is None:
            invalid.append(row)
        elif step.why is Why.SENT_BEFORE or row.identity in skipped:
            earlier = skipped.get(row.identity) or step.earlier
            has_job = earlier is not None and earlier.task_id and earlier.state in _WITH_JOB
            (jobs_before if has_job else before).append(row)
        elif state in (RowState.UNCERTAIN, RowState.SENDING):
            uncertain.append(row)
        elif state is RowState.REFUSED:
            refused.append(row)
        else:
            unsent.append(row)
    total = len(batch.rows)
    parts = [f"{with_job + len(jobs_before)} with a job"]
    if jobs_before:
        parts[0] += f" ({len(jobs_before)} by an earlier send of the same request)"
    if resolved:
        parts.append(f"{resolved} marked done without a job")
    parts += [
        f"{len(rows)} {word}"
        for rows, word in (
            (uncertain, "uncertain"),
            (refused, "refused"),
            (unsent, "not sent"),
            (invalid, "invalid"),
            (before, "sent before"),
        )
        if rows
    ]
    ctx.warn(f"{plural(total, 'row')}: {', '.join(parts)}; {plural(sends, 'request')} sent now")

    def rows_text(rows: list[BatchRow]) -> str:
        return ", ".join(
            f"{r.number}" + (f" ({safe(r.label, 40)})" if r.label else "") for r in rows
        )

    file = safe(batch.source, 300)
    if uncertain:
        first = uncertain[0].number
        ctx.warn(f"uncertain rows: {rows_text(uncertain)}: {uncertain_advice(len(uncertain))}.")
        ctx.warn(
            f"  found its job: vidwatch submit {file} --mark-done {first}=ID   "
            f"(not wanted: --mark-done {first}; not there: --resend-uncertain)"
        )
    if refused:
        ctx.warn(f"refused rows: {rows_text(refused)}: fix them in the file and submit again")
    if unsent:
        ctx.warn(f"rows not sent: {rows_text(unsent)}: submit again to send them")
    if invalid:
        ctx.warn(f"invalid rows: {rows_text(invalid)}: fix them in the file and submit again")
    if before or jobs_before:
        ctx.warn(
            f"rows whose request was sent before (named above): "
            f"{rows_text([*jobs_before, *before])}: not paid again; to pay for them again: "
            f"vidwatch submit {file} --resend"
        )
    # A row marked done was resolved by the user, and a row whose request has a job
    # already needs nothing: neither is a failure (exit 1 would invite a --resend).
    done = with_job + len(jobs_before) + resolved
    if done < total:
        ctx.warn(f"journal: {manifest_path}")
    return EXIT_OK if done == total else EXIT_FAILED
