from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own XDG folders and no API key from the real environment."""
    home = tmp_path / "home"
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))
    for name in (
        "QUICKROUTER_API_KEY",
        "QUICKROUTER_BASE_URL",
        "VIDWATCH_TASKS_FILE",
        "VIDWATCH_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    return home
