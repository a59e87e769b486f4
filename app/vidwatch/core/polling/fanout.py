"""Handing each event to every listener, so that one listener's bug stops no other.

The poller and the session both announce what happened to whoever subscribed; a
:class:`Fanout` is that list of listeners. A listener that raises is logged (with the
caller's logger and words) and the others still get the event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Fanout"]

E = TypeVar("E")


class Fanout(Generic[E]):
    def __init__(self, log: logging.Logger, failure: str) -> None:
        self._log = log
        self._failure = failure  # what the log says when a listener raises
        self._listeners: list[Callable[[E], None]] = []

    def subscribe(self, listener: Callable[[E], None]) -> Callable[[], None]:
        """Call ``listener`` with every event, in order; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def emit(self, event: E) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a listener's bug must not stop the others, or the emitter
                self._log.exception(self._failure)
