"""The rotating log in ``$XDG_STATE_HOME/vidwatch/``: polls, outcomes, errors — never the key.

Every record passes through :class:`RedactingFormatter`, which replaces each
registered secret (the API key) after the message, its arguments and any
traceback have been formatted: even a careless ``log.exception`` cannot write it.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
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


class _PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler whose files are readable by the owner only."""

    def _open(self):  # type: ignore[no-untyped-def]  # typeshed: returns a TextIO
        stream = super()._open()
        with contextlib.suppress(OSError):
            os.chmod(self.baseFilename, 0o600)
        return stream

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
        handler = _PrivateRotatingHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    except OSError:
        logger.addHandler(logging.NullHandler())
        return None
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logger.addHandler(handler)
    return path
