"""The Textual hooks of vidwatch/ui/textual_private.py, on a running app (the names
themselves are checked in tests/test_dependencies.py)."""

from __future__ import annotations

import pytest
from vidwatch.ui.textual_private import CrashHook

pytestmark = pytest.mark.ui

SECRET = "sk-never-shown"


class Crashing(CrashHook[None]):
    def on_mount(self) -> None:
        secret_local = SECRET  # what Textual's own crash report would print
        raise RuntimeError(f"boom ({len(secret_local)})")


async def test_a_crash_reaches_the_hook_and_no_local_variable_is_shown() -> None:
    app = Crashing()
    shown: list[str] = []
    panic = app.panic

    def recording_panic(*renderables: object) -> None:
        shown.extend(str(r) for r in renderables)
        panic(*renderables)  # type: ignore[arg-type]

    app.panic = recording_panic  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="boom"):
        async with app.run_test():
            pass
    assert shown == ["Stopped after an internal error (RuntimeError)."]
    assert app.return_code == 1
