"""Copy and open choose the right way and say which way they went."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from vidwatch.core.runtime.clipboard import copy_text, open_url
from vidwatch.core.text.urls import url_problem


class Recorder:
    def __init__(self, available: set[str], failing: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.available = available
        self.failing = failing
        self.calls: list[tuple[list[str], bytes]] = []

    def which(self, name: str) -> str | None:
        return f"/usr/bin/{name}" if name in self.available else None

    def run(self, argv: Sequence[str], data: bytes) -> int:
        self.calls.append((list(argv), data))
        return 1 if argv[0] in self.failing else 0


def test_inside_tmux_uses_load_buffer_with_w() -> None:
    rec = Recorder({"tmux", "xclip"})
    result = copy_text(
        "https://x/v.mp4", env={"TMUX": "/tmp/t,1,0", "DISPLAY": ":0"}, which=rec.which, run=rec.run
    )
    assert result.method == "tmux"
    assert rec.calls == [(["tmux", "load-buffer", "-w", "-"], b"https://x/v.mp4")]
    assert "tmux" in result.where


def test_old_tmux_without_w_falls_back_to_plain_load_buffer() -> None:
    calls: list[list[str]] = []

    def run(argv: Sequence[str], data: bytes) -> int:
        calls.append(list(argv))
        return 1 if "-w" in argv else 0

    result = copy_text("u", env={"TMUX": "x"}, which=lambda n: n, run=run)
    assert result.method == "tmux"
    assert calls == [["tmux", "load-buffer", "-w", "-"], ["tmux", "load-buffer", "-"]]


@pytest.mark.parametrize(
    ("env", "available", "expected"),
    [
        ({"WAYLAND_DISPLAY": "wayland-0"}, {"wl-copy", "xclip"}, "wl-copy"),
        ({"DISPLAY": ":0"}, {"xclip", "xsel"}, "xclip"),
        ({"DISPLAY": ":0"}, {"xsel"}, "xsel"),
        ({"DISPLAY": ":0"}, set(), "osc52"),
        ({}, {"xclip", "wl-copy"}, "osc52"),  # no display: tools cannot work
    ],
)
def test_system_tools_need_a_display(
    env: dict[str, str], available: set[str], expected: str
) -> None:
    rec = Recorder(available)
    assert (
        copy_text("u", env=env, which=rec.which, run=rec.run, platform="linux").method == expected
    )


def test_macos_uses_pbcopy() -> None:
    rec = Recorder({"pbcopy"})
    assert (
        copy_text("u", env={}, which=rec.which, run=rec.run, platform="darwin").method == "pbcopy"
    )


def test_a_failing_tool_falls_through_to_osc52_and_says_so() -> None:
    rec = Recorder({"xclip", "xsel"}, failing={"xclip", "xsel"})
    result = copy_text("u", env={"DISPLAY": ":0"}, which=rec.which, run=rec.run, platform="linux")
    assert result.method == "osc52"
    assert "xclip, xsel failed" in result.where


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "-oProxyCommand=evil",
        "--help",
        "https://x/a b",
        "https://x/\x1b]52;c;x\x07",
        "http:///nohost",
        "",
    ],
)
def test_open_refuses_anything_but_plain_http_urls(url: str) -> None:
    spawned: list[Sequence[str]] = []

    def spawn(argv: Sequence[str]) -> bool:
        spawned.append(argv)
        return True

    result = open_url(url, env={"DISPLAY": ":0"}, which=lambda n: n, spawn=spawn)
    assert not result.opened
    assert not result.should_copy
    assert result.reason.startswith("refused")
    assert spawned == []


def test_open_runs_xdg_open_with_a_display() -> None:
    spawned: list[list[str]] = []

    def spawn(argv: Sequence[str]) -> bool:
        spawned.append(list(argv))
        return True

    result = open_url(
        "https://cdn.example/v.mp4",
        env={"DISPLAY": ":0"},
        which=lambda n: n,
        spawn=spawn,
        platform="linux",
    )
    assert result.opened
    assert spawned == [["xdg-open", "https://cdn.example/v.mp4"]]


@pytest.mark.parametrize(
    ("env", "reason"),
    [({"DISPLAY": ":0", "SSH_CONNECTION": "1 2 3 4"}, "SSH"), ({}, "no display")],
)
def test_open_over_ssh_or_without_display_asks_to_copy(env: dict[str, str], reason: str) -> None:
    result = open_url(
        "https://cdn.example/v.mp4",
        env=env,
        which=lambda n: n,
        spawn=lambda a: True,
        platform="linux",
    )
    assert not result.opened
    assert result.should_copy
    assert reason in result.reason


def test_safe_url_accepts_signed_https_urls() -> None:
    assert url_problem("https://cdn.example/v.mp4?X-Amz-Signature=abc&e=1") is None
