"""The banners under the header: named by an enum, read in a fixed order (issue 18)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from vidwatch.ui.banners import Banner

from tests.support.dashboard import make_app
from tests.support.paths import APP


def test_every_banner_is_named_by_the_enum_never_by_a_string() -> None:
    """A misspelt string made a banner that nothing ever cleared: every call that sets or
    clears one names a member of Banner."""
    calls = 0
    offenders: list[str] = []
    for path in sorted((APP / "ui").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in ("banner", "set_banner"):
                continue
            calls += 1
            first = node.args[0]
            named = (
                isinstance(first, ast.Attribute)
                and isinstance(first.value, ast.Name)
                and first.value.id == "Banner"
            )
            if not named:
                offenders.append(f"{Path(path).name}:{node.lineno}")
    assert calls >= 10
    assert offenders == []


@pytest.mark.ui
async def test_banners_read_in_the_enums_order_whatever_came_first(tmp_path: Path) -> None:
    h = make_app(tmp_path)
    async with h.app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        main = h.app.main
        main.set_banner(Banner.KEY, None)  # the no-key banner of this harness
        main.set_banner(Banner.CREATES, "creates")
        main.set_banner(Banner.AUTH, "auth")
        main.set_banner(Banner.POLLER, "poller")
        assert main.banner_text().splitlines() == ["poller", "auth", "creates"]
        main.set_banner(Banner.AUTH, None)
        assert main.banner_text().splitlines() == ["poller", "creates"]
        assert [b.name for b in sorted(Banner)] == [b.name for b in Banner]
