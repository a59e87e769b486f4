"""The banners under the header: which there are, and the order they are read in.

Each concern that can stand in the user's way raises its own banner and clears it when
it is over (:meth:`~vidwatch.ui.screens.main.MainScreen.set_banner`); a member of
:class:`Banner` names it, so a misspelt name is a type error, not a banner that never
clears. Several at once read in the order below, whatever order they came in: what
stops vidwatch working first, then what stops polling, then the rest.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

__all__ = ["Banner", "SetBanner"]


class Banner(enum.IntEnum):
    """One banner each; its value is its place, top first."""

    POLLER = 1  # polling stopped after an internal error (restart)
    STORE = 2  # the task list cannot be read or checked (nothing is saved)
    SAVE = 3  # saving fails (kept in memory, retrying)
    KEY = 4  # no API key, or one that cannot be used
    AUTH = 5  # the server rejected the key (polling paused)
    URL = 6  # the base URL is wrong (polling paused)
    CREATES = 7  # creates whose job may exist but is in no task list
    DEMO = 8  # the demo: what it is and where its files are


SetBanner = Callable[[Banner, str | None], None]
"""Set (a message) or clear (``None``) one banner."""
