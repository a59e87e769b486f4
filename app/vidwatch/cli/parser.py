"""The command line's parser and ``main``: parse, set up, dispatch, turn errors into
one clear line and an exit code."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final, NoReturn, TextIO

from vidwatch import __version__

# The commands' modules are imported when their command runs (see cli/commands.py).
from vidwatch.cli.commands import (
    cmd_add,
    cmd_balance,
    cmd_check,
    cmd_create,
    cmd_download,
    cmd_export,
    cmd_list,
    cmd_paths,
    cmd_poll,
    cmd_remove,
    cmd_simulate,
    cmd_stats,
    cmd_submit,
    cmd_thumb,
    cmd_urls,
    cmd_wait,
    cmd_web,
    simulate_help,
)
from vidwatch.cli.output import (
    EXIT_CODES,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STORE,
    EXIT_USAGE,
    CliError,
    Context,
    tell_damage,
    tell_unresolved,
)
from vidwatch.core.config import ENV_API_KEY, Config, Paths
from vidwatch.core.runtime.logs import add_secret, redact_secrets, setup_logging
from vidwatch.core.store.export import FORMATS
from vidwatch.core.store.task_file import StoreError
from vidwatch.simulator.shapes import ID_STYLES

log = logging.getLogger("vidwatch.cli")

_NEEDS_VALUE = re.compile(r"argument (\S+): expected one argument")
_INVALID_CHOICE = re.compile(r"argument (\S+): invalid choice: '([^']*)'")


class _Parser(argparse.ArgumentParser):
    """Exits 64 on a usage error, with a hint where argparse's own message is cryptic."""

    argv: Sequence[str] = ()  # the whole command line, for hints
    commands: dict[str, _Parser]
    more_help: Callable[[], str] | None = None  # put before the epilog when help is shown
    idle = False  # a command not on the command line: named in the list, its options not built

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        if self.idle:  # options that will not be read: building them is most of the cost
            return _IDLE
        return super().add_argument(*args, **kwargs)

    def format_help(self) -> str:
        if self.more_help is not None:
            self.epilog = f"{self.more_help()}\n{self.epilog or ''}"
            self.more_help = None
        return super().format_help()

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}{self._hint(message)}\n")

    def _hint(self, message: str) -> str:
        """``vidwatch lsit``: the command (or choice) meant; ``--filter -state:x``: a value
        that starts with '-' needs '='."""
        choice = _INVALID_CHOICE.match(message)
        if choice:
            return self._choice_hint(choice.group(1), choice.group(2))
        match = _NEEDS_VALUE.match(message)
        if not match:
            return ""
        names = match.group(1).split("/")
        argv = list(self.argv)
        for index, token in enumerate(argv[:-1]):
            value = argv[index + 1]
            if token in names and value.startswith("-") and value != "--":
                return f"\n  a value that starts with '-' needs '=': {token}={value}"
        return ""

    def _choice_hint(self, name: str, value: str) -> str:
        """``did you mean 'list'?`` for ``lsit``, as option typos get one."""
        import difflib  # only for a mistake

        names = name.split("/")
        for action in self._actions:
            if not action.choices:
                continue
            if not set(names) & {*action.option_strings, str(action.metavar), action.dest}:
                continue
            close = difflib.get_close_matches(value, [str(c) for c in action.choices], 1)
            if close:
                return f"\n  did you mean '{close[0]}'?"
        return ""

    def reject_extras(self, extras: Sequence[str]) -> NoReturn:
        """Unknown arguments, told by the (sub)command they were given to."""
        import difflib  # only for a mistake

        options = [o for action in self._actions for o in action.option_strings]
        hints = [
            f"{extra} (did you mean {close[0]}?)"
            if extra.startswith("-") and (close := difflib.get_close_matches(extra, options, 1))
            else extra
            for extra in extras
        ]
        self.error(f"unrecognized arguments: {' '.join(hints)}")


def cmd_dashboard(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.ui.app import DashboardOptions, run_dashboard

    config = ctx.config() if not ns.demo else _demo_config(ctx)
    ended = run_dashboard(DashboardOptions(paths=ctx.paths, config=config, demo=ns.demo))
    if not ns.demo:  # a create the dashboard left out (quit while it waited) is said here
        tell_unresolved(ctx)
    if ended.unsaved_error:
        raise CliError(f"The last changes could not be saved: {ended.unsaved_error}", EXIT_STORE)
    return EXIT_INTERNAL if ended.crashed else EXIT_OK


def _demo_config(ctx: Context) -> Config:
    try:
        return ctx.config()
    except CliError:
        return Config()  # the demo does not need the user's config to be valid


def port_number(value: str) -> int:
    """argparse type: a TCP port a server can listen on."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1-65535, not {port}")
    return port


def _global_options(parser: argparse.ArgumentParser, default: object) -> None:
    """The options of every command, before or after its name. A command's copy defaults
    to SUPPRESS, so that not giving it there keeps what was given before the name."""
    parser.add_argument(
        "--tasks-file",
        metavar="PATH",
        default=default,
        help="task list to use (default: see 'vidwatch paths')",
    )
    parser.add_argument("--config", metavar="PATH", default=default, help="config file to use")
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if default is None else default,
        help="log every poll, not just changes and errors",
    )


_IDLE: Final = argparse.Action([], argparse.SUPPRESS)


def build_parser(argv: Sequence[str] | None = None) -> _Parser:
    """The parser of every command; with ``argv``, only the commands it names get their
    options (the others are listed, with their help, as ``vidwatch --help`` shows them)."""
    parser = _Parser(
        prog="vidwatch",
        description="Watch QuickRouter AI video-generation jobs from the terminal.\n"
        "Without a command, opens the dashboard.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vidwatch {__version__}")
    _global_options(parser, None)
    parser.add_argument(
        "--demo",
        action="store_true",
        help="open the dashboard on the built-in simulator (your task list is untouched)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    parser.commands = {}

    def command(name: str, help_text: str) -> _Parser:
        idle = argv is not None and name not in argv
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            add_help=not idle,
        )
        assert isinstance(p, _Parser)
        p.idle = idle
        parser.commands[name] = p
        _global_options(p, argparse.SUPPRESS)  # also after the command: `list --tasks-file X`
        return p

    p = command(
        "add",
        "add task IDs to watch: arguments are taken as given; '-' reads stdin and keeps "
        "what looks like an ID (plain, a create call's JSON, a link's ?id=)",
    )
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
    p.add_argument(
        "--parallel", type=int, metavar="N", help="downloads at once (default: max_downloads)"
    )
    p.set_defaults(func=cmd_download)

    p = command("thumb", "write a still (JPEG) of each finished video; its facts are kept")
    p.add_argument("ids", nargs="+", metavar="ID")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--output", "-o", metavar="FILE", help="the file, for one ID")
    where.add_argument(
        "--dir", metavar="DIR", help="where (default: beside a downloaded video, else download_dir)"
    )
    p.set_defaults(func=cmd_thumb)

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

    p = command(
        "wait",
        "add the IDs if needed and poll until all finish (no ID: every unfinished task); "
        "prints ID<TAB>URL as each one finishes",
    )
    p.add_argument(
        "ids",
        nargs="*",
        metavar="ID",
        help="task IDs; '-' reads them from stdin (none: every unfinished task)",
    )
    p.add_argument("--all", action="store_true", help="wait for every unfinished task")
    p.add_argument(
        "--ordered", action="store_true", help="print in the order of the IDs given, not as done"
    )
    p.add_argument(
        "--download",
        action="store_true",
        help="save each finished video as it finishes (as [downloads] auto = true does)",
    )
    p.add_argument("--timeout", type=float, metavar="S", help="give up after S seconds (exit 2)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=cmd_wait)

    p = command(
        "create",
        "create one job from a prompt (it costs money: asks first on a terminal, else needs "
        "--yes); prints the new task ID and watches it",
    )
    p.add_argument(
        "prompt", metavar="PROMPT", nargs="?", help="the prompt; '-' reads it from stdin"
    )
    p.add_argument("--model", help="model (default: [create] model in the config)")
    p.add_argument(
        "--image", action="append", metavar="URL", help="a reference image URL (repeatable)"
    )
    p.add_argument(
        "--param",
        action="append",
        metavar="K=V",
        help="a body field, typed like JSON (aspect_ratio=3:2, duration=15, watermark=false; "
        'repeatable); "..." keeps text',
    )
    p.add_argument("--label", help="a label for the new task")
    p.add_argument("--yes", action="store_true", help="send without asking")
    p.add_argument("--dry-run", action="store_true", help="print the exact body; send nothing")
    p.add_argument("--wait", action="store_true", help="then wait for it as 'vidwatch wait' does")
    p.add_argument("--timeout", type=float, metavar="S", help="with --wait: give up after S s")
    p.add_argument("--json", action="store_true", help="print the new task as JSON")
    p.add_argument(
        "--resend",
        action="store_true",
        help="send a request that was sent before (same body, from anywhere): pays again",
    )
    p.add_argument(
        "--mark-done",
        action="extend",
        nargs="+",
        metavar="REF[=ID]",
        help="resolve earlier creates whose answer was lost (REF: shown with each): "
        "REF=ID adds the job found in the provider's console, REF alone means none was made",
    )
    p.set_defaults(func=cmd_create)

    p = command(
        "submit",
        "create a job for each row of a JSONL or CSV file; rows that already have a job, "
        "or whose answer was lost, are never sent again by themselves",
    )
    p.add_argument("file", metavar="FILE", help="JSONL (one object a line) or CSV with a header")
    p.add_argument("--yes", action="store_true", help="send without asking")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the exact bodies; send nothing (exit 1 when a row is invalid)",
    )
    p.add_argument("--retry-failed", action="store_true", help="new jobs for rows whose job failed")
    p.add_argument(
        "--resend-uncertain",
        action="store_true",
        help="send uncertain rows again (after checking the provider's console: it may pay twice)",
    )
    p.add_argument(
        "--resend",
        action="store_true",
        help="send rows whose request was sent before (from this file, a copy, another task "
        "list or a create) or whose answer was lost: it may pay twice",
    )
    p.add_argument(
        "--mark-done",
        action="extend",
        nargs="+",
        metavar="ROW[=ID]",
        help="resolve uncertain rows: ROW=ID adds the job found in the console, ROW alone "
        "means it is not wanted",
    )
    p.add_argument(
        "--max-spend",
        type=float,
        metavar="AMOUNT",
        help="refuse the batch, before anything is sent, when its estimate is above AMOUNT "
        "(in the gateway's unit; with no estimate, AMOUNT counts jobs), and stop sending "
        "when the charges seen reach it; default [create] max_spend",
    )
    p.add_argument("--wait", action="store_true", help="then wait for every row's job")
    p.add_argument("--timeout", type=float, metavar="S", help="with --wait: give up after S s")
    p.set_defaults(func=cmd_submit)

    p = command("paths", "show where the config, the task list and the log live")
    p.set_defaults(func=cmd_paths)

    p = command(
        "check",
        "ask the server once whether it is reachable and accepts the API key "
        "(exit 0 accepted, 3 no key or rejected, 5 unreachable, no usable answer, or a "
        "wrong base URL)",
    )
    p.add_argument(
        "--offline", action="store_true", help="only say whether a key is set (no request)"
    )
    p.set_defaults(func=cmd_check)

    p = command(
        "balance",
        "what the API key has left to spend, in the site's unit (quota units when the "
        "site does not say); a gateway that offers no balance is said so (exit 0)",
    )
    p.add_argument("--json", action="store_true", help="print it as JSON")
    p.set_defaults(func=cmd_balance)

    p = command(
        "stats",
        "what was spent (today, this week, per model), failed jobs still charged, and how "
        "long jobs take; from the list (no request)",
    )
    p.add_argument("--json", action="store_true", help="print it as JSON")
    p.set_defaults(func=cmd_stats)

    p = command("simulate", "run the built-in QuickRouter simulator on loopback")
    p.more_help = simulate_help
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument("--jobs", type=int, default=40, help="jobs it knows at start")
    p.add_argument("--seed", type=int, default=0, help="seed for its jobs")
    p.add_argument(
        "--no-billing",
        action="store_true",
        help="answer the balance and request-log routes with 404, as a gateway that "
        "offers none of them",
    )
    p.add_argument(
        "--chaos",
        type=float,
        default=0.0,
        metavar="RATE",
        help="answer this fraction of queries with a random fault (0.3 = 30 %%): 401 bursts "
        "(a wrong or a used-up key), 404, 429 with Retry-After in both forms or bare (no "
        "body, no header, as new-api), 5xx, HTML, empty, truncated, malformed or huge "
        "bodies, wrong types, missing fields, slow answers, dropped and reset connections, "
        "an error echoing the key, a redirect",
    )
    p.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second (default 1)"
    )
    p.add_argument(
        "--id-style",
        choices=ID_STYLES,
        default="asked",
        help="what the answer's id is: the ID asked for (default), bare (no model prefix) "
        "or upstream (an unrelated id); see below",
    )
    p.add_argument(
        "--idle-close",
        type=float,
        metavar="S",
        help="close kept-alive connections idle for S seconds without a word (no "
        "'Connection: close'), as proxies in front of gateways do (default: never)",
    )
    p.add_argument(
        "--close-delay",
        type=float,
        default=0.0,
        metavar="S",
        help="with --idle-close: stop reading at once, but let the close reach the client "
        "S seconds later, as over a network; a request sent meanwhile is never read "
        "(default 0)",
    )
    p.set_defaults(func=cmd_simulate)
    return parser


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse, or exit 64 with the usage of the (sub)command that was misused."""
    args = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args)
    for p in (parser, *parser.commands.values()):
        p.argv = args
    ns, extras = parser.parse_known_args(args)
    if extras:
        parser.commands.get(ns.command or "", parser).reject_extras(extras)
    return ns


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    add_secret(os.environ.get(ENV_API_KEY, "").strip())
    ns = parse(argv)
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
        code = tell_damage(ctx, func(ctx, ns))
    except CliError as exc:
        tell_damage(ctx, exc.code)
        ctx.warn(str(exc))
        return exc.code
    except StoreError as exc:
        tell_damage(ctx, EXIT_STORE)
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
            redact_secrets(
                f"internal error ({type(exc).__name__}: {exc}); details are in the log: "
                f"{ctx.paths.log_file}"
            )
        )
        return EXIT_INTERNAL
    return code
