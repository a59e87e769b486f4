"""URL rules: where the key may be sent, and which links may be kept, opened or fetched.

One home for every URL check (the base URL, loopback hosts, links from the server),
used by the config, the parser, the downloader, the clipboard and ``vidwatch web``.
Pure: no network import.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

# The one URL rule lives beside the character tables it needs; it is re-exported here.
from vidwatch.core.text.sanitize import url_problem

__all__ = [
    "InsecureURLError",
    "check_base_url",
    "clean_url",
    "is_loopback_host",
    "is_loopback_url",
    "url_problem",
    "without_v1",
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


def without_v1(base_url: str) -> str | None:
    """The base URL without the ``/v1`` it ends in (a common slip: vidwatch adds
    ``/v1/video/…`` itself, so the gateway is asked for ``/v1/v1/video/query``), or None
    when it does not end in ``/v1``."""
    url = base_url.strip().rstrip("/")
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    if not path.lower().endswith("/v1"):
        return None
    return url[: -len("/v1")]


def clean_url(value: object) -> str | None:
    """A link from the server, trimmed, when it passes :func:`url_problem`; else None.
    Anything odd is dropped, never shown raw."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    return url if url_problem(url) is None else None
