"""The README is for users and docs/ for contributors: their links hold, and every path the
contributors' pages name exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.paths import README, ROOT

DOCS = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)#\s]*)(?:#([^)\s]+))?\)")


def _anchors(text: str) -> set[str]:
    """GitHub's anchors for the headings of a Markdown text."""
    heads = re.findall(r"^#+ (.*)$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_every_link_of_a_page_leads_somewhere(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    broken = []
    for target, anchor in LINK.findall(text):
        if target.startswith(("http://", "https://")):
            continue
        where = (page.parent / target).resolve() if target else page
        if not where.exists():
            broken.append(target)
        elif (
            anchor
            and where.suffix == ".md"
            and anchor not in _anchors(where.read_text(encoding="utf-8"))
        ):
            broken.append(f"{target}#{anchor}")
    assert broken == []


def test_the_paths_the_contributors_pages_name_exist() -> None:
    """`core/gateway/http.py`, `tests/e2e/test_signals.py`…: a page that names a file
    names one that is there (a move updates the docs)."""
    missing = []
    for page in DOCS:
        for name in re.findall(
            r"`((?:app/vidwatch/|tests/|core/|ui/|cli/|bench/)[\w/]+\.py)`",
            page.read_text(encoding="utf-8"),
        ):
            candidates = [ROOT / name, ROOT / "app" / "vidwatch" / name]
            if not any(c.exists() for c in candidates):
                missing.append(f"{page.name}: {name}")
    assert missing == []


def test_the_readme_points_contributors_to_docs() -> None:
    assert "](docs/README.md)" in README.read_text(encoding="utf-8")


def test_the_readme_says_how_to_get_a_key_before_asking_for_one() -> None:
    """Issue 21 item 16: a newcomer learns where a key comes from and what it looks like,
    in the section that first asks for it."""
    text = README.read_text(encoding="utf-8")
    configuration = text[text.index("## Configuration") :]
    getting = configuration.index("**Getting a key.**")
    assert getting < configuration.index("QUICKROUTER_API_KEY")
    section = configuration[getting : configuration.index("\n\n", getting)]
    assert "https://api.quickrouter.ai" in section  # where
    assert "`sk-`" in section  # what it looks like
    assert "vidwatch check" in section  # how to see it works
