"""The dashboard's remembered view: filter, sort and hidden columns, in ``view.toml``.

It lives beside ``config.toml`` but in a file of its own, which vidwatch rewrites as you
change the view — the config file you wrote by hand (comments and all) is never touched.
A damaged or hand-mangled ``view.toml`` just means the default view.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

__all__ = ["View", "load_view", "save_view"]


@dataclass(frozen=True, slots=True)
class View:
    filter: str = ""
    sort: str = "added"
    hidden: frozenset[str] = field(default_factory=frozenset)  # column keys


def load_view(path: Path) -> View:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return View()
    table = data.get("view", {})
    if not isinstance(table, dict):
        return View()
    text = table.get("filter", "")
    sort = table.get("sort", "added")
    hidden = table.get("hidden_columns", [])
    return View(
        filter=text[:500] if isinstance(text, str) else "",
        sort=sort if isinstance(sort, str) else "added",
        hidden=frozenset(h for h in hidden if isinstance(h, str))
        if isinstance(hidden, list)
        else frozenset(),
    )


def save_view(path: Path, view: View) -> None:
    """Write atomically (temp file, fsync, rename). Raises OSError when it cannot."""
    document = {
        "view": {"filter": view.filter, "sort": view.sort, "hidden_columns": sorted(view.hidden)}
    }
    data = (
        "# Written by vidwatch: the dashboard's filter, sort and hidden columns.\n"
        + tomli_w.dumps(document)
    ).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".view.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
