"""The installed package is ``vidwatch``, and no folder the user stands in can change what
``vidwatch web`` starts (a decoy ``vidwatch/`` or ``app/`` beside them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from vidwatch import __version__
from vidwatch.cli.network import dashboard_argv
from vidwatch.core.config import Paths

pytestmark = pytest.mark.e2e

DECOY = "print('DECOY RAN')\n"


def decoys(folder: Path) -> None:
    for name in ("vidwatch", "app"):
        package = folder / name
        package.mkdir()
        (package / "__init__.py").write_text("", encoding="utf-8")
        (package / "__main__.py").write_text(DECOY, encoding="utf-8")


def test_the_web_dashboards_start_the_real_vidwatch_from_a_folder_with_decoys(
    tmp_path: Path,
) -> None:
    decoys(tmp_path)
    paths = Paths(tmp_path / "c.toml", tmp_path / "t.toml", tmp_path / "logs")
    argv = [*dashboard_argv(paths, demo=False), "--version"]
    run = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "DECOY" not in run.stdout + run.stderr
    assert run.stdout.strip() == f"vidwatch {__version__}"
    # Without -P the decoy would win: the test can tell the difference.
    plain = [sys.executable, "-m", "vidwatch", "--version"]
    naive = subprocess.run(plain, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "DECOY RAN" in naive.stdout


def test_nothing_named_app_is_installed() -> None:
    import importlib.util

    import vidwatch

    assert Path(vidwatch.__file__).parent.name == "vidwatch"
    spec = importlib.util.find_spec("app")
    assert spec is None or "site-packages" not in str(spec.origin or "")
