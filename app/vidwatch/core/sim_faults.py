"""What can go wrong on the simulator, and what the gateway says when it does.

:data:`FAULTS` are the query faults a test or ``vidwatch simulate --chaos`` can switch on
(the answers themselves are served by :mod:`vidwatch.core.simulator`; the create side's
are in :mod:`vidwatch.core.sim_create`); :data:`CHAOS_WEIGHTS` says how often chaos picks
each. Injected faults wait in a queue of ``(kind, requests left)`` that
:func:`pop_fault` counts down. The gateway answers errors in two envelopes:
:func:`error_body` (OpenAI's ``{"error": {…}}``) and :func:`coded_body` (its own
``{"code", "message", "data"}``).
"""

from __future__ import annotations

__all__ = [
    "AUTH_BURST",
    "CHAOS_WEIGHTS",
    "FAULTS",
    "coded_body",
    "error_body",
    "invalid_key_body",
    "not_found_body",
    "pop_fault",
]

FAULTS = (
    "401",
    "404",
    "429",
    "429-date",
    "429-bare",
    "500",
    "502",
    "503",
    "html",
    "empty",
    "malformed",
    "truncated",
    "reset",
    "wrong-types",
    "missing-fields",
    "huge",
    "slow",
    "drop",
    "echo-key",
    "redirect",
)
# How often chaos picks each fault, relative to the others. A 429 stops the whole host
# for its Retry-After and a 401 burst stops everything until the user resumes, so
# those are rarer; everything else is equally likely.
CHAOS_WEIGHTS: dict[str, float] = {
    **dict.fromkeys(FAULTS, 1.0),
    "401": 0.1,
    "429": 0.25,
    "429-date": 0.25,
    "429-bare": 0.25,
    "huge": 0.5,
    "slow": 0.5,
}
AUTH_BURST = (2, 5)  # a chaos 401 answers this many requests in a row


def pop_fault(queue: list[tuple[str, int]]) -> str | None:
    """The fault for this request from a queue of ``(kind, requests left)``, counted down;
    ``None`` when the queue is empty."""
    if not queue:
        return None
    kind, count = queue[0]
    if count <= 1:
        queue.pop(0)
    else:
        queue[0] = (kind, count - 1)
    return kind


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, object]:
    """OpenAI's error envelope, as the gateway relays it."""
    return {"error": {"message": message, "type": kind, "code": code}}


def coded_body(code: str, message: str) -> dict[str, object]:
    """The gateway's own error envelope."""
    return {"code": code, "message": message, "data": None}


def invalid_key_body() -> dict[str, object]:
    """The 401 for a missing or wrong key."""
    return error_body("Invalid API key", "invalid_request_error", "invalid_api_key")


def not_found_body() -> dict[str, object]:
    """The 404 for a task ID the gateway does not know."""
    return coded_body("task_not_exist", "task not exist")
