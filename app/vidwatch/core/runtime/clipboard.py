"""Copy to the clipboard and open URLs, telling the truth about how.

Copy, in order of preference:

1. inside tmux: ``tmux load-buffer -w -`` (the tmux buffer, and the system
   clipboard too when tmux's ``set-clipboard`` allows it);
2. with a display: ``wl-copy`` (Wayland), ``xclip`` or ``xsel`` (X11),
   ``pbcopy`` (macOS);
3. otherwise OSC 52, which the caller writes to the terminal (Textual's
   ``App.copy_to_clipboard``); whether it lands depends on the terminal.

Everything external is injectable so tests can drive each path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from vidwatch.core.text.urls import url_problem

__all__ = ["CopyResult", "OpenResult", "copy_text", "open_url"]

Which = Callable[[str], str | None]
Run = Callable[[Sequence[str], bytes], int]


def _run(argv: Sequence[str], data: bytes) -> int:
    try:
        proc = subprocess.run(
            list(argv),
            input=data,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return -1
    return proc.returncode


@dataclass(frozen=True, slots=True)
class CopyResult:
    """How the text was copied. ``method`` is ``tmux``, a tool name, or ``osc52``."""

    method: str
    note: str = ""

    @property
    def where(self) -> str:
        """Where the text went, truthfully: ``to the tmux buffer (…)`` (the toast after
        ``c`` says ``Copied the URL {where}.``)."""
        if self.method == "tmux":
            return "to the tmux buffer (and the system clipboard, if tmux allows it)"
        if self.method == "osc52":
            note = f"; {self.note}" if self.note else ""
            return f"to the terminal's clipboard with OSC 52 (if your terminal allows it{note})"
        return f"to the clipboard with {self.method}"


def _has_display(env: Mapping[str, str], platform: str) -> bool:
    return platform == "darwin" or bool(env.get("WAYLAND_DISPLAY") or env.get("DISPLAY"))


def _tools(env: Mapping[str, str], platform: str) -> list[list[str]]:
    if platform == "darwin":
        return [["pbcopy"]]
    tools: list[list[str]] = []
    if env.get("WAYLAND_DISPLAY"):
        tools.append(["wl-copy"])
    if env.get("DISPLAY"):
        tools += [["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"]]
    return tools


def copy_text(
    text: str,
    *,
    env: Mapping[str, str] | None = None,
    which: Which = shutil.which,
    run: Run = _run,
    platform: str = sys.platform,
) -> CopyResult:
    """Copy ``text``; returns how. Never raises."""
    env = os.environ if env is None else env
    data = text.encode("utf-8")
    failed: list[str] = []
    if env.get("TMUX") and which("tmux"):
        if run(["tmux", "load-buffer", "-w", "-"], data) == 0:
            return CopyResult("tmux")
        # tmux older than 3.2 has no -w: the buffer alone still helps.
        if run(["tmux", "load-buffer", "-"], data) == 0:
            return CopyResult("tmux")
        failed.append("tmux")
    if _has_display(env, platform):
        for argv in _tools(env, platform):
            if which(argv[0]):
                if run(argv, data) == 0:
                    return CopyResult(argv[0])
                failed.append(argv[0])
    note = f"{', '.join(failed)} failed" if failed else ""
    return CopyResult("osc52", note)


@dataclass(frozen=True, slots=True)
class OpenResult:
    opened: bool
    should_copy: bool = False
    reason: str = ""


Spawn = Callable[[Sequence[str]], bool]


def _spawn(argv: Sequence[str]) -> bool:
    try:
        subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return False
    return True


def open_url(
    url: str,
    *,
    env: Mapping[str, str] | None = None,
    which: Which = shutil.which,
    spawn: Spawn = _spawn,
    platform: str = sys.platform,
) -> OpenResult:
    """Open ``url`` in a browser when that can work; otherwise say why (and whether to copy)."""
    env = os.environ if env is None else env
    problem = url_problem(url)
    if problem:
        return OpenResult(False, False, f"refused: {problem}")
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return OpenResult(False, True, "over SSH a browser would open on the other machine")
    if not _has_display(env, platform):
        return OpenResult(False, True, "no display")
    opener = "open" if platform == "darwin" else "xdg-open"
    if not which(opener):
        return OpenResult(False, True, f"{opener} is not installed")
    if not spawn([opener, url]):
        return OpenResult(False, True, f"{opener} could not be started")
    return OpenResult(True)
