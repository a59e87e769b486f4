"""``[preview]``: how stills of finished videos are drawn, and how much disk they may keep.

Declared once here (the way ``[polling]`` is :class:`~vidwatch.core.polling.budget.Policy`);
:class:`~vidwatch.core.config.Config` names the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from vidwatch.core.runtime.settings import Choice, Number, setting

__all__ = ["MODES", "PreviewSettings"]

# auto: half-blocks unless the terminal is known to show images (kitty, or sixel in the
# terminals that have it), and always inside `vidwatch web` and tmux.
MODES: Final = ("auto", "kitty", "sixel", "halfblock", "off")


@dataclass(frozen=True, slots=True)
class PreviewSettings:
    """``[preview]``: how the still of a finished job is drawn, and its disk cache."""

    mode: str = setting(
        "auto",
        Choice(MODES),
        "how stills are drawn: auto picks kitty or sixel where the terminal is known to "
        "show them, else half-blocks (in `vidwatch web`, tmux, unknown terminals); off: none",
    )
    cache_mb: int = setting(
        64,
        Number(1, 4096, "MB"),
        "disk kept for stills (a small JPEG a job); the oldest go first",
    )
