"""When a signed link says it expires (issue 21 item 6): each dialect, and no guess."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from vidwatch.core.text.expiry import expiry_words, link_expiry

SIGNED = datetime(2026, 2, 6, 12, 0, tzinfo=UTC)
UNIX = int(SIGNED.timestamp())


@pytest.mark.parametrize(
    ("url", "ends"),
    [
        (f"https://cdn.example/v.mp4?Expires={UNIX}&Signature=x", SIGNED),
        (f"https://cdn.example/v.mp4?exp={UNIX}", SIGNED),
        (f"https://cdn.example/v.mp4?exp={UNIX * 1000}", SIGNED),  # milliseconds
        (f"https://cdn.example/v.mp4?x-expires={UNIX}", SIGNED),
        (
            "https://b.s3.amazonaws.com/v.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Date=20260206T110000Z&X-Amz-Expires=3600&X-Amz-Signature=ab",
            SIGNED,
        ),
        ("https://g.example/v.mp4?x-goog-date=20260206T100000Z&x-goog-expires=7200", SIGNED),
        ("https://a.blob.core.windows.net/v.mp4?se=2026-02-06T12:00:00Z&sig=x", SIGNED),
        # several: the earliest counts
        (f"https://x.example/v?Expires={UNIX + 60}&exp={UNIX}", SIGNED),
    ],
)
def test_each_way_a_link_says_when_it_expires(url: str, ends: datetime) -> None:
    assert link_expiry(url) == ends


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "https://pro.filesystem.site/cdn/20260206/1b50395bad4c6c7bc22e6ada144951.mp4",
        "https://x.example/v.mp4?Expires=soon",
        "https://x.example/v.mp4?Expires=12",  # 1970: no real expiry
        "https://x.example/v.mp4?exp=99999999999999999999",
        "https://x.example/v.mp4?X-Amz-Date=20260206T110000Z",  # no lifetime
        "https://x.example/v.mp4?X-Amz-Date=bad&X-Amz-Expires=3600",
        "https://x.example/v.mp4?X-Amz-Date=20260206T110000Z&X-Amz-Expires=-5",
        "https://x.example/v.mp4?se=not-a-time",
        "http://[::1/v.mp4?exp=1",  # not a URL
    ],
)
def test_a_link_that_does_not_say_gets_no_guess(url: str | None) -> None:
    assert link_expiry(url) is None
    assert expiry_words(url, SIGNED) is None


def test_the_words_say_the_time_left_or_since() -> None:
    url = f"https://cdn.example/v.mp4?Expires={UNIX}"
    before = expiry_words(url, SIGNED - timedelta(hours=2, minutes=5))
    assert before is not None
    assert before.startswith("link expires in 2h05m (")
    after = expiry_words(url, SIGNED + timedelta(minutes=3))
    assert after is not None
    assert after.startswith("link expired 3m ago (")
    week = expiry_words(url, SIGNED - timedelta(days=7))
    assert week is not None
    assert week.startswith("link expires in 7 days (")
