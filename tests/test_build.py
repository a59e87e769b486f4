"""``make``'s install says nothing a newcomer reads as an error (issue 21 item 15):
setuptools' editable-install notice is filtered by its words, and nothing else is."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

MAKEFILE = Path(__file__).resolve().parents[1] / "Makefile"

# What setuptools' InformationOnly.emit writes (setuptools/command/editable_wheel.py,
# _TopLevelFinder.__exit__): the summary, then the details in a block of asterisks.
NOTICE = (
    "Editable installation.\n!!\n\n"
    "        " + "*" * 80 + "\n"
    "        Please be careful with folders in your working directory with the same\n"
    "        name as your package as they may take precedence during imports.\n"
    "        " + "*" * 80 + "\n\n!!"
)


def quiet_editable() -> str:
    """The PYTHONWARNINGS value the Makefile installs with."""
    text = MAKEFILE.read_text(encoding="utf-8")
    found = re.search(r'^QUIET_EDITABLE := PYTHONWARNINGS="([^"]+)"$', text, re.M)
    assert found, "the Makefile names the notice it filters"
    install = re.search(r"^\t.*pip install --quiet -e", text, re.M)
    assert install
    assert "$(QUIET_EDITABLE)" in install.group(0)  # and installs with it
    return found.group(1)


@pytest.mark.e2e
def test_the_install_hides_the_editable_notice_and_nothing_else() -> None:
    script = (
        "import warnings\n"
        "class InformationOnly(UserWarning): pass\n"  # setuptools' own class, by its base
        f"warnings.warn({NOTICE!r}, InformationOnly)\n"
        "warnings.warn('Editable mode is deprecated', UserWarning)\n"
        "warnings.warn('Installing into an old setuptools', DeprecationWarning)\n"
        "raise SystemExit('error: a real failure')\n"
    )
    env = {"PYTHONWARNINGS": quiet_editable(), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-W", "default::DeprecationWarning", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "Please be careful" not in done.stderr
    assert "Editable mode is deprecated" in done.stderr  # another notice still shows
    assert "Installing into an old setuptools" in done.stderr
    assert "error: a real failure" in done.stderr
    assert done.returncode == 1
