"""The rotating log in ``$XDG_STATE_HOME/vidwatch/``: polls, outcomes, errors — never the key.

Every record passes through :class:`RedactingFormatter`, which replaces each
registered secret (the API key) after the message, its arguments and any
traceback have been formatted: even a careless ``log.exception`` cannot write it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from io import TextIOWrapper
from pathlib import Path
from typing import Final

__all__ = ["LOG_NAME", "RedactingFormatter", "add_secret", "setup_logging"]

LOG_NAME: Final = "vidwatch.log"
MAX_BYTES: Final = 1024 * 1024
BACKUPS: Final = 3
MIN_SECRET: Final = 4  # shorter strings would redact_secrets ordinary text

_secrets: set[str] = set()


def add_secret(secret: str | None) -> None:
    """Never write ``secret`` to the log (the API key, once it is known)."""
    if secret and len(secret) >= MIN_SECRET:
        _secrets.add(secret)


def redact_secrets(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_secrets(super().format(record))


class _PrivateRotatingHandler(logging.FileHandler):
    """A log file readable by the owner only, rotated when the next record would take it
    past ``max_bytes`` (``vidwatch.log`` → ``.1`` → … → ``.N``, the oldest dropped).

    The standard library's ``RotatingFileHandler``, step for step (a path that is not a
    regular file is never rotated); it lives in ``logging.handlers``, which loads sockets,
    pickle and queues, and every command opens the log: ``vidwatch list`` in a script's
    loop would pay for them at each start.
    """

    def __init__(self, path: Path, *, max_bytes: int, backups: int) -> None:
        super().__init__(path, mode="a", encoding="utf-8")
        self.max_bytes = max_bytes
        self.backups = backups

    def _open(self) -> TextIOWrapper:
        stream = super()._open()
        with contextlib.suppress(OSError):
            os.chmod(self.baseFilename, 0o600)
        return stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self._full(record):
                self._rotate()
            super().emit(record)
        except Exception:
            self.handleError(record)

    def _full(self, record: logging.LogRecord) -> bool:
        name = self.baseFilename
        if os.path.exists(name) and not os.path.isfile(name):
            return False
        if self.stream is None:
            self.stream = self._open()
        self.stream.seek(0, 2)
        return self.stream.tell() + len(f"{self.format(record)}\n") >= self.max_bytes

    def _rotate(self) -> None:
        if self.stream:
            self.stream.close()
            self.stream = None
        name = self.baseFilename
        for n in range(self.backups - 1, 0, -1):
            older, newer = f"{name}.{n}", f"{name}.{n + 1}"
            if os.path.exists(older):
                if os.path.exists(newer):
                    os.remove(newer)
                os.rename(older, newer)
        if os.path.exists(f"{name}.1"):
            os.remove(f"{name}.1")
        if os.path.exists(name):
            os.rename(name, f"{name}.1")
        self.stream = self._open()

    def handleError(self, record: logging.LogRecord) -> None:
        """A full disk must not print a traceback over the dashboard: drop the record."""


def setup_logging(log_dir: Path, *, debug: bool = False) -> Path | None:
    """Log to ``log_dir/vidwatch.log`` (rotated at 1 MiB, 3 kept). Returns the path,
    or ``None`` when the folder cannot be written (vidwatch then runs without a log)."""
    logger = logging.getLogger("vidwatch")
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    path = log_dir / LOG_NAME
    try:
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = _PrivateRotatingHandler(path, max_bytes=MAX_BYTES, backups=BACKUPS)
    except OSError:
        logger.addHandler(logging.NullHandler())
        return None
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logger.addHandler(handler)
    return path
