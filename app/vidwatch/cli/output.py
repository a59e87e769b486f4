"""What every command shares: exit codes, the run's context, and printing.

Everything printed that came from disk or a server goes through :func:`safe` (or
:meth:`Context.warn`, :meth:`Context.say`, :meth:`Context.row`, which use it): a task
file edited by hand can hold escape sequences as well as any server can.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from vidwatch.core.config import Config, ConfigError, Paths, load_config
from vidwatch.core.model.records import State, TaskRecord

# The words users read live in the core, shared with the dashboard (how an answer is
# said, gateway/wording, is imported by the commands that ask the server).
from vidwatch.core.model.wording import state_text as state_text
from vidwatch.core.runtime.logs import add_secret
from vidwatch.core.store.task_file import TaskStore
from vidwatch.core.text.sanitize import MAX_URL, clean_line
from vidwatch.core.text.wording import host_of as host_of
from vidwatch.core.text.wording import key_hint as key_hint
from vidwatch.core.text.wording import plural as plural

# Commands that need no network import no answer types (a test checks what they load).
if TYPE_CHECKING:
    from vidwatch.core.create.ledger import Ledger
    from vidwatch.core.gateway.outcomes import Outcome

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_TIMEOUT = 2
EXIT_KEY = 3
EXIT_STORE = 4
EXIT_UNREACHABLE = 5
EXIT_USAGE = 64
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

EXIT_CODES = """\
exit codes:
  0    success
  1    an ID was rejected or not found, a task could not be checked, a
       waited-for job failed, or a job was not created (refused, answer lost,
       a batch row without a job, a confirmation declined)
  2    wait: timed out before every job finished
  3    no API key, or the key was rejected
  4    the task list, the config file or the record of sends cannot be read
       or written (create/submit: a job was made but not listed or recorded:
       its ID is printed)
  5    the server could not be reached, or gave no usable answer (poll: no
       task could be checked; check: the key could not be checked; a wrong
       base URL: poll, wait, check; create: nothing was sent)
  64   usage error (create/submit: a wrong field, or no terminal to ask and
       no --yes; create: a request sent before, no terminal to ask and no
       --resend; nothing was sent)
  70   internal error (a bug: the log has the details)
  130  interrupted
"""


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def safe(text: str | None, limit: int = 200) -> str:
    """Text from disk or a server, made one safe line: no escapes, controls, bidi."""
    return clean_line(text or "", limit)


@dataclass
class Context:
    paths: Paths
    out: TextIO
    err: TextIO
    stdin: TextIO
    _store: TaskStore | None = None
    _ledger: Ledger | None = None
    _config_told: bool = False

    def config(self) -> Config:
        try:
            config = load_config(self.paths.config_file)
        except ConfigError as exc:
            raise CliError(str(exc), EXIT_STORE) from None
        add_secret(config.api_key)
        if not self._config_told:
            self._config_told = True
            for warning in config.warnings:
                self.warn(warning)
        return config

    def check_config(self) -> None:
        """Commands that do not need the config still say when it is broken."""
        try:
            self.config()
        except CliError as exc:
            self.warn(f"{exc} (this command does not need it; polling does)")

    def ledger(self) -> Ledger:
        """The record of what was sent, as seen from this run's task list (ready: its
        folder made, older journals read in); a folder that cannot be used is exit 4."""
        if self._ledger is None:
            from vidwatch.core.create.ledger import Ledger, LedgerError  # when a command needs it

            ledger = Ledger(self.paths.sent_dir, self.paths.tasks_file)
            try:
                ledger.ready()
            except LedgerError as exc:
                raise CliError(str(exc), EXIT_STORE) from None
            for notice in ledger.notices:
                self.warn(notice)
            self._ledger = ledger
        return self._ledger

    def store(self) -> TaskStore:
        """One store per run: it gathers the notices of damaged files it set aside."""
        if self._store is None:
            self._store = TaskStore(self.paths.tasks_file)
        return self._store

    def store_notices(self) -> list[str]:
        return self._store.notices if self._store is not None else []

    def warn(self, message: str) -> None:
        print(f"vidwatch: {safe(message, 2000)}", file=self.err)

    def say(self, message: str) -> None:
        print(safe(message, 2000), file=self.out)

    def row(self, *cells: str | None) -> None:
        """One tab-separated line on stdout (``ID<TAB>URL``), every cell made safe."""
        print("\t".join(safe(cell, MAX_URL) for cell in cells), file=self.out)


def tell_damage(ctx: Context, code: int) -> int:
    """A damaged task file was set aside during the command: say so (once), and make the
    exit code say the list could not be read, even though the command went on."""
    notices = ctx.store_notices()
    if not notices:
        return code
    for notice in dict.fromkeys(notices):
        ctx.warn(notice)
    notices.clear()
    return EXIT_STORE if code == EXIT_OK else code


def tell_unresolved(ctx: Context) -> int:
    """Earlier single creates whose job may exist but is in no task list: said by every
    ``create``, ``submit``, ``list`` and ``check`` (and when the dashboard closes) until
    resolved with ``vidwatch create --mark-done``. How many there are."""
    try:
        found = ctx.ledger().unresolved()
    except CliError:
        return 0
    here = ctx.paths.tasks_file.resolve()
    for item in found:
        text = item.text()
        if item.tasks_file and Path(item.tasks_file) != here:
            text += f" [task list {item.tasks_file}]"
        ctx.warn(text)
        if not item.in_flight:
            ctx.warn(f"  {item.advice()}")
    return len(found)


def require_key(ctx: Context, config: Config) -> None:
    if not config.api_key:
        raise CliError(f"No API key: {key_hint(ctx.paths.config_file)}.", EXIT_KEY)


# --------------------------------------------------------------------------- tasks


def print_table(ctx: Context, records: Sequence[TaskRecord]) -> None:
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
                state_text(rec),
                safe(rec.id, 80),
                safe(rec.task.label, 30),
                updated,
                safe(detail, 200),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(4)]
        print("  ".join([*cells, row[4]]).rstrip(), file=ctx.out)


# --------------------------------------------------------------------------- outcomes


def answered(outcome: Outcome) -> bool:
    """Whether the server said something about the task (it knows it, or does not)."""
    from vidwatch.core.gateway.outcomes import NotFound, Ok

    return isinstance(outcome, Ok | NotFound)
