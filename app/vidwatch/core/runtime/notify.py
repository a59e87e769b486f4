"""Desktop notifications: through the terminal (OSC 9 / OSC 777) or ``notify-send``.

Terminals that show OSC notifications as desktop ones: iTerm2, WezTerm, kitty, Ghostty,
foot, Windows Terminal (OSC 9); urxvt, foot, Ghostty, WezTerm (OSC 777). Inside tmux the
sequence is wrapped for pass-through (tmux needs ``set -g allow-passthrough on``).

Only our own words and the user's labels/IDs go into a notification, cleaned of every
control character (a stray BEL or ESC would end the sequence early and let the rest act).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from typing import Final, Literal

from vidwatch.core.text.sanitize import clean_line

__all__ = ["MODES", "desktop_sequence", "notify_send", "payload", "terminal_style"]

Mode = Literal["auto", "terminal", "notify-send", "off"]
MODES: Final = ("auto", "terminal", "notify-send", "off")
Style = Literal["osc9", "osc777"]
_OSC_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f;]")


def payload(text: str, limit: int = 200) -> str:
    """Text safe inside an OSC string: one line, no controls, no ``;`` separators."""
    return _OSC_UNSAFE.sub(" ", clean_line(text, limit)).strip()


def terminal_style(env: Mapping[str, str]) -> Style | None:
    """Which OSC notification this terminal shows, from what it says about itself."""
    program = env.get("TERM_PROGRAM", "").lower()
    term = env.get("TERM", "").lower()
    if program in ("iterm.app", "wezterm") or "kitty" in term or env.get("WT_SESSION"):
        return "osc9"
    if program == "ghostty" or term.startswith(("foot", "rxvt")) or "ghostty" in term:
        return "osc777"
    # Inside tmux (or over SSH with SendEnv) TERM and TERM_PROGRAM name tmux; the outer
    # terminal still shows through the variables it sets in every shell it starts.
    if env.get("LC_TERMINAL") == "iTerm2" or any(
        env.get(name) for name in ("ITERM_SESSION_ID", "KITTY_WINDOW_ID", "WEZTERM_PANE")
    ):
        return "osc9"
    if env.get("GHOSTTY_RESOURCES_DIR"):
        return "osc777"
    return None


def desktop_sequence(title: str, body: str, style: Style, *, in_tmux: bool = False) -> str:
    """The escape sequence that asks the terminal for a desktop notification."""
    if style == "osc9":
        sequence = f"\x1b]9;{payload(title)}: {payload(body)}\x07"
    else:
        sequence = f"\x1b]777;notify;{payload(title)};{payload(body)}\x07"
    if in_tmux:  # DCS pass-through: every ESC inside is doubled
        sequence = "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return sequence


Run = Callable[[Sequence[str]], int]


def _run(argv: Sequence[str]) -> int:
    import subprocess  # here: the config names MODES, and every command reads the config

    try:
        return subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=5,
            check=False,
        ).returncode
    except (OSError, subprocess.TimeoutExpired):
        return -1


def notify_send(
    title: str,
    body: str,
    *,
    which: Callable[[str], str | None] = shutil.which,
    run: Run = _run,
) -> bool:
    """``notify-send`` (libnotify), when it is installed. True when it succeeded."""
    if which("notify-send") is None:
        return False
    argv = ["notify-send", "--app-name=vidwatch", "--", payload(title), payload(body, 400)]
    return run(argv) == 0
