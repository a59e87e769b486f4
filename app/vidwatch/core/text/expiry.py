"""When a signed video link stops working, as far as the link itself says.

Video hosts hand out signed links that expire, and say when in the query string, each in
its own dialect:

- an absolute time in Unix seconds (or milliseconds): ``Expires`` (S3's and OSS's
  first signatures, CloudFront, Google Cloud Storage's V2), ``exp``, ``x-expires``;
- a signing time and a lifetime in seconds: ``X-Amz-Date`` + ``X-Amz-Expires`` (S3
  SigV4 and the many stores that speak it), ``X-Goog-Date`` + ``X-Goog-Expires``,
  ``X-Tos-Date`` + ``X-Tos-Expires`` (Volcengine), ``x-oss-date`` + ``x-oss-expires``;
- an ISO time: ``se`` (Azure's shared access signatures).

Names are matched in any case. A value that does not parse, or a time before 2001 or
after 2200, is no answer; when a link says several, the earliest counts. The link is
never fetched to find out. Pure.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from vidwatch.core.text.wording import span

__all__ = ["expiry_words", "link_expiry"]

_ABSOLUTE: Final = ("expires", "exp", "x-expires")
_SIGNED_FOR: Final = (  # the time of signing, and seconds from then
    ("x-amz-date", "x-amz-expires"),
    ("x-goog-date", "x-goog-expires"),
    ("x-tos-date", "x-tos-expires"),
    ("x-oss-date", "x-oss-expires"),
)
_ISO: Final = ("se",)
_EARLIEST: Final = datetime(2001, 1, 1, tzinfo=UTC)
_LATEST: Final = datetime(2200, 1, 1, tzinfo=UTC)
_MAX_LIFETIME: Final = 10 * 365 * 86400  # seconds a signature may be valid for, at most


def link_expiry(url: str | None) -> datetime | None:
    """The time ``url`` says it stops working (UTC), or None when it says nothing usable."""
    if not url:
        return None
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=False):
        params.setdefault(name.lower(), value.strip())
    found = [_unix(params[name]) for name in _ABSOLUTE if name in params]
    for signed, lifetime in _SIGNED_FOR:
        if signed in params and lifetime in params:
            found.append(_signed(params[signed], params[lifetime]))
    found += [_iso(params[name]) for name in _ISO if name in params]
    times = [t for t in found if t is not None and _EARLIEST <= t <= _LATEST]
    return min(times) if times else None


def expiry_words(url: str | None, now: datetime) -> str | None:
    """``link expires in 2h05m (14:05)``, ``link expired 3m ago``, or None when the link
    does not say."""
    ends = link_expiry(url)
    if ends is None:
        return None
    left = (ends - now).total_seconds()
    local = ends.astimezone().strftime("%H:%M" if abs(left) < 86400 else "%Y-%m-%d %H:%M")
    if left <= 0:
        return f"link expired {_long(-left)} ago ({local})"
    return f"link expires in {_long(left)} ({local})"


def _long(seconds: float) -> str:
    """``2h05m``; ``3 days`` past two days (signed links live up to a week or more)."""
    return f"{seconds // 86400:.0f} days" if seconds >= 2 * 86400 else span(seconds)


def _unix(value: str) -> datetime | None:
    if not value.isdigit() or len(value) > 13:
        return None
    number = int(value)
    seconds = number / 1000 if len(value) == 13 else number  # milliseconds
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):  # past what a date can hold
        return None


def _signed(when: str, lifetime: str) -> datetime | None:
    if not lifetime.isdigit() or int(lifetime) > _MAX_LIFETIME:
        return None
    try:
        signed = datetime.strptime(when, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return signed + timedelta(seconds=int(lifetime))


def _iso(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
