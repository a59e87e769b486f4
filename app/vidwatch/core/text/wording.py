"""The plain words every interface uses: counts, durations, times, hosts.

The ground floor of the words users read. What a task's state is called lives with the
records (:mod:`vidwatch.core.model.wording`), how a request's outcome is said with the
gateway (:mod:`vidwatch.core.gateway.wording`), how a create's answer is said with the
verdict (:func:`vidwatch.core.create.verdict.verdict_text`); each builds on these, and
the command line and the dashboard both call them, so they say the same thing the same
way. Words only: no key of the dashboard, no command of the CLI (each interface adds
its own hint).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from vidwatch.core.text.sanitize import clean_line

__all__ = [
    "ENV_API_KEY",
    "brief_span",
    "capitalized",
    "host_of",
    "key_hint",
    "plural",
    "relative",
    "span",
]

ENV_API_KEY: Final = "QUICKROUTER_API_KEY"


def key_hint(config_file: Path | str | None = None) -> str:
    """How to give vidwatch an API key: the one wording of every message that needs it
    (no key, a rejected key; the CLI, the dashboard, the engine's advice), after a colon
    or a dash (:func:`capitalized` starts a sentence with it). ``config_file``: the path
    when the caller knows it."""
    where = str(config_file) if config_file else "the config file"
    return f"put your key (sk-…) in {ENV_API_KEY} or as api_key in {where} (chmod 600)"


def capitalized(words: str) -> str:
    """``Cannot reach …`` for ``cannot reach …``: words that start a sentence (a toast,
    the detail pane) where the CLI puts them after a colon."""
    return words[:1].upper() + words[1:]


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 task``, ``3 tasks``; ``many`` when the plural is not ``noun`` + s
    (``plural(2, "entry", "entries")``)."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"


def span(seconds: float) -> str:
    """A duration in a sentence, to the second: ``45s``, ``1m30s``, ``2h05m``."""
    total = max(round(seconds), 0)
    if total < 60:
        return f"{total}s"
    if total < 3600:
        minutes, rest = divmod(total, 60)
        return f"{minutes}m{rest:02d}s" if rest else f"{minutes}m"
    hours, rest = divmod(total, 3600)
    return f"{hours}h{rest // 60:02d}m"


def brief_span(seconds: float) -> str:
    """A duration in one unit, for a narrow cell: ``12s``, ``5m``, ``3h``, ``2d``
    (rounded to the second first: 59.6 s is ``1m``, never ``60s``)."""
    whole = round(abs(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86400:
        return f"{whole // 3600}h"
    return f"{whole // 86400}d"


def relative(when: datetime | None, now: datetime) -> str:
    """How long ago ``when`` was, in one unit (``5m``); ``in 4s`` for the future,
    ``–`` for never."""
    if when is None:
        return "–"
    seconds = (now - when).total_seconds()
    text = brief_span(seconds)
    return f"in {text}" if seconds < -0.5 else text


def host_of(base_url: str) -> str:
    """``api.quickrouter.ai`` (with the port when it is not the default), safe to show."""
    try:
        parts = urlsplit(base_url)
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host:
        return clean_line(base_url, 100) or "the server"
    if ":" in host:  # IPv6: brackets keep the port apart
        host = f"[{host}]"
    return clean_line(f"{host}:{port}" if port else host, 100)
