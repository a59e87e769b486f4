"""URL rules: where the key may go, which links are kept, opened or fetched."""

from __future__ import annotations

import re

import pytest
from vidwatch.core.text.urls import (
    InsecureURLError,
    check_base_url,
    clean_url,
    is_loopback_host,
    is_loopback_url,
    url_problem,
)
from vidwatch.web import loopback_host

# --------------------------------------------------------------------------- base URL policy


@pytest.mark.parametrize(
    "url",
    [
        "https://api.quickrouter.ai",
        "https://api.quickrouter.ai/",
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "http://[::1]:8080",
    ],
)
def test_allowed_base_urls(url: str) -> None:
    assert check_base_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://api.quickrouter.ai", "plain http"),
        ("http://evil.localhost:8080", "plain http"),
        ("ftp://x", "https://"),
        ("https://user:pw@x", "user name"),
        ("https://x/?a=1", "query"),
        ("api.quickrouter.ai", "https://"),
    ],
)
def test_refused_base_urls(url: str, fragment: str) -> None:
    with pytest.raises(InsecureURLError, match=fragment):
        check_base_url(url)


def test_plain_http_allowed_only_when_asked() -> None:
    assert check_base_url("http://gw.internal", allow_insecure_http=True) == "http://gw.internal"


# --------------------------------------------------------------------------- loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("evil.localhost", False),  # a forwarding resolver could answer anything
        ("localhost.example", False),
        ("10.0.0.1", False),
        ("0.0.0.0", False),
        ("", False),
    ],
)
def test_one_loopback_rule_for_the_key_and_for_vidwatch_web(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
    in_url = f"[{host}]" if host.count(":") > 1 and "[" not in host else host
    assert is_loopback_url(f"http://{in_url}:80/x") is loopback
    if loopback:
        assert loopback_host(host) == host.lower().strip("[]")
    else:
        with pytest.raises(ValueError, match="^" + re.escape(host) + "$"):
            loopback_host(host)


# --------------------------------------------------------------------------- links


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("", "empty"),
        ("-o /tmp/x", "starts with '-'"),
        ("https://a/b c", "spaces or line breaks"),
        ("https://a/b\x1b]52;c;x\x07", "control or invisible"),
        ("https://cdn.example/v/\u202eexe.4pm", "control or invisible"),  # looks like mp4.exe
        ("https://cdn.example/v/a\u200bb.mp4", "control or invisible"),
        ("javascript:alert(1)", "only http(s)"),
        ("file:///etc/passwd", "only http(s)"),
        ("https://", "no host"),
        ("https://cdn.example/" + "a" * 5000, "longer than"),
    ],
)
def test_url_problems_are_named(url: str, fragment: str) -> None:
    problem = url_problem(url)
    assert problem is not None
    assert fragment in problem
    assert clean_url(url) is None


def test_plain_links_pass_trimmed() -> None:
    url = "https://cdn.example/v.mp4?X-Amz-Signature=abc&e=1"
    assert url_problem(url) is None
    assert clean_url(f"  {url}\n") == url
    assert clean_url(7) is None
