"""Where the tests find the project: its root, the README, the fixtures."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FIXTURES = ROOT / "tests" / "fixtures"
APP = ROOT / "app" / "vidwatch"
