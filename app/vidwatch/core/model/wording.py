"""What a task's state and problem are called: one wording for every screen.

The table's STATE cell, the detail pane, ``vidwatch list``, ``poll``, ``wait`` and
``download`` all say a task's state with :func:`state_text`: the state's symbol and
word (``✔ succeeded``, ``▶ running 40%``), the server's own word when vidwatch does not
know it (``? brewing``: counted as unknown), and what stands in the way when the server
never gave a status at all (``! not found``). Exports and ``--json`` keep the plain
state (``state``) and the raw word (``status``) apart.

:func:`problem_advice` says what can be done about a problem in words every interface
can use: the dashboard adds which key does it, the command line which command.
"""

from __future__ import annotations

from vidwatch.core.model.records import Problem, State, TaskRecord
from vidwatch.core.text.sanitize import clean_line
from vidwatch.core.text.urls import url_problem
from vidwatch.core.text.wording import capitalized, key_hint

__all__ = [
    "PROBLEM_SYMBOL",
    "no_video_reason",
    "problem_advice",
    "problem_word",
    "state_text",
    "state_word",
]

PROBLEM_SYMBOL = "!"  # a task that never got a status: what stands in the way

_WORDS: dict[Problem, str] = {
    Problem.AUTH: "key rejected",
    Problem.NOT_FOUND: "not found",
    Problem.WRONG_URL: "wrong URL",
    Problem.RATE_LIMITED: "rate limited",
    Problem.SERVER: "server error",
    Problem.BAD_RESPONSE: "bad answer",
    Problem.NETWORK: "no network",
    Problem.TIMEOUT: "timed out",
    Problem.NO_URL: "no URL yet",
}

# What the user can do, as a fact about the task and the settings: never a key of the
# dashboard nor a command line (the interface that shows it adds its own).
_ADVICE: dict[Problem, str] = {
    Problem.AUTH: f"{capitalized(key_hint())}.",
    Problem.NOT_FOUND: (
        "Check the ID for typos and that base_url points at the gateway that created the job."
    ),
    Problem.WRONG_URL: (
        "The server has no such address (no task was marked): set base_url in the config "
        "file to the gateway's address (without /v1)."
    ),
    Problem.RATE_LIMITED: (
        "Polling waits as long as the server asked; lower max_requests_per_second "
        "in the config file if this keeps happening."
    ),
    Problem.SERVER: "The gateway or the model backend failed; vidwatch retries with backoff.",
    Problem.BAD_RESPONSE: (
        "The server sent something vidwatch cannot read; it retries. "
        "The log has details (vidwatch paths)."
    ),
    Problem.NETWORK: "Check your connection and base_url; vidwatch retries with backoff.",
    Problem.TIMEOUT: (
        "The server answered too slowly; vidwatch retries. "
        "Raise timeout in the config file if this persists."
    ),
    Problem.NO_URL: (
        "The job is reported done but no video link was sent; vidwatch checks a few more times."
    ),
}


def problem_word(problem: Problem) -> str:
    """A few words for a table cell: ``not found``, ``server error``."""
    return _WORDS[problem]


def problem_advice(problem: Problem) -> str:
    """What the user can do about ``problem``, in one or two sentences."""
    return _ADVICE[problem]


def _said(record: TaskRecord) -> tuple[str, str]:
    result = record.result
    if result.shown_state is State.NEW:
        return State.NEW.symbol, State.NEW.value
    if not result.status and result.problem is not None:
        # Never got a status: say what stands in the way instead of "unknown".
        return PROBLEM_SYMBOL, _WORDS[result.problem]
    state = result.state
    word: str = state.value
    if state is State.UNKNOWN and result.status:
        word = clean_line(result.status, 40) or word  # the server's word, kept as it came
    elif state is State.RUNNING and result.progress is not None:
        word = f"running {result.progress:.0f}%"
    return state.symbol, word


def state_word(record: TaskRecord) -> str:
    """The state in words, without its symbol: ``running 40%``, ``brewing``, ``not found``
    (for a sentence: ``the job is running 40%``)."""
    return _said(record)[1]


def state_text(record: TaskRecord) -> str:
    """The state as a symbol and a word, readable without colour: ``✔ succeeded``,
    ``▶ running 40%``, ``? brewing``, ``! not found``, ``· new``."""
    symbol, word = _said(record)
    return f"{symbol} {word}"


def no_video_reason(record: TaskRecord) -> str:
    """Why a task has no video to copy, open or download, in a few words: ``no video URL
    yet (the job is running 40%)``, ``the job failed``, ``its video URL is refused (…)``."""
    result = record.result
    refusal = url_problem(result.video_url) if result.video_url else None
    if refusal is not None:
        return f"its video URL is refused ({refusal})"
    if result.checked_at is None:
        return "the task has not been checked yet"
    if result.state is State.FAILED:
        return "the job failed"
    if result.state is State.SUCCEEDED:
        return "the job finished but the server sent no usable URL"
    if not result.status and result.problem is not None:  # no status: what stands in the way
        return f"no video URL yet ({_WORDS[result.problem]})"
    return f"no video URL yet (the job is {state_word(record)})"
