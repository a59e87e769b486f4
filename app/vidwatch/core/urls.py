"""URL rules: where the key may be sent, and which links may be kept, opened or fetched.

One home for every URL check (the base URL, loopback hosts, links from the server),
used by the config, the parser, the downloader, the clipboard and ``vidwatch web``.
Pure: no network import.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from urllib.parse import urlsplit

from vidwatch.core.sanitize import MAX_URL, has_hidden_characters

__all__ = [
    "InsecureURLError",
    "check_base_url",
    "clean_url",
    "is_loopback_host",
    "is_loopback_url",
    "url_problem",
]


class InsecureURLError(ValueError):
    """The base URL would send the key somewhere it should not go."""


def is_loopback_host(host: str) -> bool:
    """``localhost``, ``127.x.y.z`` or ``::1`` (brackets allowed). Not ``*.localhost``: a
    resolver that forwards it could answer with any address."""
    host = host.strip().lower().removeprefix("[").removesuffix("]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return is_loopback_host(host)


def check_base_url(url: str, *, allow_insecure_http: bool = False) -> str:
    """Validate a base URL; returns it without a trailing slash.

    The key never travels over plain http except to loopback, unless the user
    set ``allow_insecure_http`` explicitly.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise InsecureURLError(f"The base URL {url!r} is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InsecureURLError(f"The base URL {url!r} must start with https:// and name a host")
    if parts.username or parts.password:
        raise InsecureURLError("The base URL must not contain a user name or password")
    if parts.query or parts.fragment:
        raise InsecureURLError("The base URL must not contain a query or fragment")
    if parts.scheme == "http" and not is_loopback_url(url) and not allow_insecure_http:
        raise InsecureURLError(
            f"Refusing to send the API key over plain http to {parts.hostname}; use https, "
            "or set allow_insecure_http = true in the config file if you really mean it"
        )
    return url.strip().rstrip("/")


def url_problem(url: str) -> str | None:
    """``None`` when ``url`` is a plain http(s) link that may be kept, shown, handed to a
    browser or downloaded; else why not, in a few words."""
    if not url:
        return "empty URL"
    if len(url) > MAX_URL:
        return f"it is longer than {MAX_URL:,} characters"
    if url.startswith("-"):
        return "it starts with '-'"  # a browser launcher would read it as an option
    if any(ord(c) < 0x21 or ord(c) == 0x7F or 0x80 <= ord(c) < 0xA0 for c in url):
        return "it contains spaces or control characters"
    if has_hidden_characters(url) or any(_hidden(ch) for ch in url):
        return "it contains invisible or direction-changing characters"  # a lying link
    try:
        parts = urlsplit(url)
    except ValueError:
        return "it is not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return f"only http(s) URLs are used, not {parts.scheme or 'this'!r}"
    if not parts.netloc:
        return "it has no host"
    if "@" in parts.netloc:
        return "it hides its real host behind a user name (user@host)"
    return None


# Invisible although not in a control or separator category: combining grapheme joiner,
# Hangul and Khmer fillers.
_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0")


def _hidden(ch: str) -> bool:
    """Whitespace, controls, format characters (bidi, soft hyphen, tags), separators."""
    return ch in _INVISIBLE or unicodedata.category(ch)[0] in "CZ"


def clean_url(value: object) -> str | None:
    """A link from the server, trimmed, when it passes :func:`url_problem`; else None.
    Anything odd is dropped, never shown raw."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    return url if url_problem(url) is None else None
