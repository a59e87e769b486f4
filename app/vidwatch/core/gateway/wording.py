"""What went wrong with a request, said as a person would: one wording for every screen.

The poller keeps it in a task's ``error`` (whoever polled: the dashboard, ``vidwatch
poll`` or ``wait``); the CLI prints it, the dashboard shows it in the rows and the
detail pane. A client's own message (``ClientConnectorError: Cannot connect to host …
ssl:default [Connect call failed …]``) stays in the log; people read which host could
not be reached and why, in a few plain words. Never a key to press or a command to run:
each interface adds its own.
"""

from __future__ import annotations

import time

from vidwatch.core.gateway.outcomes import (
    AuthRejected,
    BadResponse,
    NetworkError,
    NotFound,
    Ok,
    Outcome,
    RateLimited,
    ServerError,
    WrongUrl,
)
from vidwatch.core.text.sanitize import clean_line
from vidwatch.core.text.wording import span

__all__ = ["describe", "network_cause", "resend_words", "retry_words"]

_CAUSES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("refused", "connect call failed"), "the connection was refused"),
    (
        (
            "name or service not known",
            "nodename nor servname",
            "name resolution",
            "getaddrinfo",
            "dnserror",
            "no address associated",
        ),
        "the name does not resolve (DNS)",
    ),
    (("certificate",), "its certificate was not accepted"),
    (("network is unreachable", "no route to host"), "the network is unreachable"),
    (("reset",), "the connection was reset"),
    (("disconnected", "closed", "remote protocol"), "the server closed the connection"),
)


def retry_words(why: str, seconds: float, at: float, *, row: bool = False) -> str:
    """A create that was not sent and waits before it is sent again (``create``,
    ``submit``, the dashboard): ``not sent (429 rate_limited: …); trying again in 59m30s
    (at 14:05:12), nothing paid so far``. ``at``: when, in epoch seconds (local time).
    ``row``: one row of a batch, whose other rows may have been paid for: what is true is
    that nothing was paid for this one (``nothing paid for it yet``)."""
    when = time.strftime("%H:%M:%S", time.localtime(at))
    cause = f" ({why})" if why else ""
    paid = "nothing paid for it yet" if row else "nothing paid so far"
    return f"not sent{cause}; trying again in {span(seconds)} (at {when}), {paid}"


def resend_words(waited: float) -> str:
    """A create that waited is being sent now: ``sending again after waiting 59m30s``."""
    return f"sending again after waiting {span(waited)}"


def network_cause(reason: str) -> str:
    """``the connection was refused``: what a client's message means, in a few words."""
    reason = reason.lower()
    return next(
        (text for needles, text in _CAUSES if any(n in reason for n in needles)),
        "the connection failed",
    )


def describe(outcome: Outcome, host: str = "") -> str:
    """An unsuccessful answer as a person would say it: no client internals such as
    ``ssl:default``, no "will retry" (a one-shot command does not; the dashboard says
    when it asks again in its own words). ``""`` for :class:`Ok`."""
    host = host or "the server"
    if isinstance(outcome, NetworkError):
        if outcome.timeout:
            return f"no answer from {host} in time"
        return f"cannot reach {host}: {network_cause(outcome.reason)}"
    if isinstance(outcome, ServerError):
        return _with(f"{host} failed to answer (HTTP {outcome.status})", outcome.detail)
    if isinstance(outcome, BadResponse):
        where = f" (HTTP {outcome.status})" if outcome.status is not None else ""
        return f"{host} sent an unusable answer{where}: {clean_line(outcome.reason, 200)}"
    if isinstance(outcome, RateLimited):
        wait = (
            f"; it asked to wait {outcome.retry_after:.0f} s"
            if outcome.retry_after is not None
            else ""
        )
        return _with(f"{host} is limiting requests (HTTP 429)", outcome.detail) + wait
    if isinstance(outcome, AuthRejected | NotFound):
        return clean_line(outcome.message, 400)
    if isinstance(outcome, WrongUrl):  # the address asked, the server's words, the fix
        return clean_line(outcome.message, 800)
    assert isinstance(outcome, Ok)
    return ""


def _with(what: str, detail: str) -> str:
    return f"{what}: {clean_line(detail, 200)}" if detail else what
