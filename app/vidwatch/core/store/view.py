"""The dashboard's remembered view: filter, sort and hidden columns, in ``view.toml``.

It lives beside ``config.toml`` but in a file of its own, which vidwatch rewrites as you
change the view — the config file you wrote by hand (comments and all) is never touched.
A damaged or hand-mangled ``view.toml`` just means the default view.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from vidwatch.core.store.atomic import atomic_write

__all__ = ["DEFAULT_HIDDEN", "View", "load_view", "save_view"]

# Columns off until ticked (``v``): the detail pane has them, and at 120 columns the
# table has no room for them beside the prompt.
DEFAULT_HIDDEN = frozenset({"checked", "next"})


@dataclass(frozen=True, slots=True)
class View:
    filter: str = ""
    sort: str = "added"
    hidden: frozenset[str] = DEFAULT_HIDDEN  # column keys


MAX_BYTES = 64 * 1024  # a view is a few lines; anything bigger is not ours


def load_view(path: Path) -> View:
    try:
        raw = path.read_bytes()
        if len(raw) > MAX_BYTES:
            return View()
        data = tomllib.loads(raw.decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # decode and TOML errors are ValueErrors
        return View()
    table = data.get("view", {})
    if not isinstance(table, dict):
        return View()
    text = table.get("filter", "")
    sort = table.get("sort", "added")
    hidden = table.get("hidden_columns", sorted(DEFAULT_HIDDEN))
    return View(
        filter=text[:500] if isinstance(text, str) else "",
        sort=sort if isinstance(sort, str) else "added",
        hidden=frozenset(h for h in hidden if isinstance(h, str))
        if isinstance(hidden, list)
        else DEFAULT_HIDDEN,
    )


def save_view(path: Path, view: View) -> None:
    """Write atomically (temp file, fsync, rename). Raises OSError when it cannot."""

    def text(value: str) -> str:  # a lone surrogate (from a paste) cannot be UTF-8
        return value.encode("utf-8", "replace").decode("utf-8")

    document = {
        "view": {
            "filter": text(view.filter),
            "sort": text(view.sort),
            "hidden_columns": sorted(text(h) for h in view.hidden),
        }
    }
    data = (
        "# Written by vidwatch: the dashboard's filter, sort and hidden columns.\n"
        + tomli_w.dumps(document)
    ).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)
