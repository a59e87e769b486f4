"""What one request to the gateway came to: one typed outcome, never an exception.

Pure data: the parser (:mod:`vidwatch.core.gateway.parsing`) makes them, the client
(:mod:`vidwatch.core.gateway.client`) returns them, the scheduler and the poller act on them.
No HTTP stack is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from vidwatch.core.model.records import Problem, TaskResult
from vidwatch.core.text.urls import without_v1
from vidwatch.core.text.wording import key_hint

__all__ = [
    "MAX_MESSAGE",
    "RETRY_AFTER_TRUSTED",
    "AuthRejected",
    "BadResponse",
    "NetworkError",
    "NotFound",
    "Ok",
    "Outcome",
    "RateLimited",
    "ServerError",
    "WrongUrl",
    "server_wait",
]

MAX_MESSAGE: Final = 300  # characters of a server's or an exception's message kept
RETRY_AFTER_TRUSTED: Final = 1.0  # seconds; a shorter Retry-After gets backoff instead
_EXAMPLE: Final = "https://api.quickrouter.ai (vidwatch adds /v1/video/… itself)"


@dataclass(frozen=True, slots=True)
class Ok:
    """A well-formed answer about the task."""

    result: TaskResult
    poll_after: float | None = None  # the server's hint (``openai-poll-after-ms``), seconds

    @property
    def message(self) -> str:
        return ""

    @property
    def problem(self) -> Problem | None:
        return None


@dataclass(frozen=True, slots=True)
class AuthRejected:
    """401/402/403: the key is wrong, out of balance, or not allowed."""

    status: int
    detail: str = ""

    @property
    def problem(self) -> Problem:
        return Problem.AUTH

    @property
    def message(self) -> str:
        what = {
            401: "The API key was rejected (HTTP 401)",
            402: "The account has no balance left (HTTP 402)",
            403: "The API key is not allowed to do this (HTTP 403)",
        }.get(self.status, f"The API key was rejected (HTTP {self.status})")
        return _join(what, self.detail, key_hint())


@dataclass(frozen=True, slots=True)
class NotFound:
    """404, or 400 with ``task_not_exist``: the server does not know this ID."""

    status: int
    detail: str = ""

    @property
    def problem(self) -> Problem:
        return Problem.NOT_FOUND

    @property
    def message(self) -> str:
        # What to do (check the ID and base_url) is the problem's advice, shown beside it.
        what = f"The server does not know this task (HTTP {self.status})"
        return f"{what}: {self.detail}" if self.detail else what


@dataclass(frozen=True, slots=True)
class WrongUrl:
    """A 404 that is not about the task: the server has no such address. new-api answers
    ``Invalid URL (GET /v1/v1/video/query)`` for an unknown route *before* it looks at the
    key; a proxy or a web server sends its own 404 page. The base URL is wrong: nothing is
    known of the task, nor of the key. The client fills ``url`` (the address asked,
    without its query) and ``base_url`` (the configured one)."""

    status: int
    detail: str = ""
    url: str = ""
    base_url: str = ""

    @property
    def problem(self) -> Problem:
        return Problem.WRONG_URL

    @property
    def made_job(self) -> bool:
        """A create sent to an address the server does not have made no job."""
        return False

    @property
    def fix(self) -> str:
        """What to change, in one sentence (names the right URL when it is plain)."""
        fixed = without_v1(self.base_url) if self.base_url else None
        if fixed is not None:
            return (
                f"base_url should not end in /v1 (vidwatch adds /v1/video/… itself): "
                f"set it to {fixed}"
            )
        if not self.base_url:
            return "check base_url: it should be the gateway's address, such as " + _EXAMPLE
        if urlsplit(self.base_url).path.strip("/"):  # a path: probably one too many
            return (
                f"check base_url ({self.base_url}): it should be the gateway's address alone, "
                f"such as {_EXAMPLE}"
            )
        return (  # a bare host that has no video API: another server than the gateway
            f"check base_url ({self.base_url}): this server does not offer /v1/video/query; "
            "it should be your gateway's address"
        )

    @property
    def message(self) -> str:
        what = f"Wrong base URL: the server has no {self.url or 'such address'}"
        return _join(f"{what} (HTTP {self.status})", self.detail, self.fix)


@dataclass(frozen=True, slots=True)
class RateLimited:
    """429. ``retry_after`` is seconds from now when the server said so."""

    retry_after: float | None = None
    detail: str = ""

    @property
    def problem(self) -> Problem:
        return Problem.RATE_LIMITED

    @property
    def message(self) -> str:
        wait = (
            f"the server asked to wait {self.retry_after:.0f} s"
            if self.retry_after is not None
            else "backing off"
        )
        return _join("Rate limited (HTTP 429)", self.detail, wait)


@dataclass(frozen=True, slots=True)
class ServerError:
    """5xx: the gateway or the upstream model failed; retried later."""

    status: int
    detail: str = ""

    @property
    def problem(self) -> Problem:
        return Problem.SERVER

    @property
    def message(self) -> str:
        return _join(f"Server error (HTTP {self.status})", self.detail, "will retry")


@dataclass(frozen=True, slots=True)
class BadResponse:
    """An answer we cannot use: not JSON, wrong types, missing fields, too big…"""

    reason: str
    status: int | None = None

    @property
    def problem(self) -> Problem:
        return Problem.BAD_RESPONSE

    @property
    def message(self) -> str:
        where = f" (HTTP {self.status})" if self.status is not None else ""
        return f"Unusable answer from the server{where}: {self.reason}; will retry"


@dataclass(frozen=True, slots=True)
class NetworkError:
    """No answer: connection refused, reset, DNS failure, timeout. ``not_sent``: no
    connection was ever made for the request, so it cannot have reached the server (what
    a create needs to know before it may send again)."""

    reason: str
    timeout: bool = False
    not_sent: bool = False

    @property
    def problem(self) -> Problem:
        return Problem.TIMEOUT if self.timeout else Problem.NETWORK

    @property
    def message(self) -> str:
        what = "Timed out" if self.timeout else "Network error"
        return f"{what}: {self.reason}; will retry"


def server_wait(retry_after: float | None, backoff: float) -> float:
    """How long to hold every request after a 429 (polls and creates alike).

    A ``Retry-After`` that names a real wait (at least :data:`RETRY_AFTER_TRUSTED`) is
    obeyed to the letter. One that says "now" (0, a negative number, a date our clock
    has passed: :func:`~vidwatch.core.gateway.parsing.parse_retry_after` makes those 0) is no
    reason to hammer: then the caller's growing ``backoff`` applies, as with no header.
    """
    if retry_after is not None and retry_after >= RETRY_AFTER_TRUSTED:
        return retry_after
    return max(retry_after or 0.0, backoff)


Outcome = (
    Ok | AuthRejected | NotFound | WrongUrl | RateLimited | ServerError | BadResponse | NetworkError
)


def _join(what: str, detail: str, hint: str) -> str:
    return f"{what}: {detail} — {hint}" if detail else f"{what} — {hint}"
