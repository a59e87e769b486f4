"""The still of the highlighted finished job, above the detail pane: a frame of its video
(or the server's own still), its real facts, and where they differ from what was asked.

Drawn with textual-image. ``[preview] mode`` picks how (:func:`resolve_mode`); ``auto``
picks kitty graphics or sixel only where the terminal is known to show them, and
half-blocks everywhere else: inside ``vidwatch web`` (Textual's web driver), inside tmux
(which drops graphics unless passthrough is set up), and in terminals it does not know.
textual-image asks the terminal about itself when it is imported, which only works before
Textual reads the keyboard: :func:`prepare` imports it then (``run_dashboard``).

The still is made in a worker (:class:`~vidwatch.core.media.previews.Previews`: at most a
few at a time, the newest selection first), once the cursor has rested on the job for
:data:`SETTLE` (a still kept in memory or on disk shows at once); moving on cancels the
worker of the job left (exclusive group), which kills its decoder. The JPEG from the
decoder is opened here only after its size is checked. Every word shown is plain text, never markup.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from vidwatch.core.media.previews import STILL_BOX, Preview, Previews, why_none
from vidwatch.core.media.wording import differences, facts_line
from vidwatch.core.model.records import TaskRecord, VideoFacts

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["Mode", "StillView", "image_widget", "picture_of", "prepare", "resolve_mode"]

Mode = Literal["off", "halfblock", "kitty", "sixel"]
OnFacts = Callable[[str, VideoFacts], object]
LOADING: Final = "Loading the still…"
MAX_ROWS: Final = 14  # the still's height in the column, at most
SETTLE: Final = 0.15  # seconds the cursor rests on a job before its still is made

# Terminals known to show kitty graphics (textual-image's placeholders), and sixel.
_KITTY_TERMS: Final = ("xterm-kitty", "xterm-ghostty")
_SIXEL_TERMS: Final = ("foot", "foot-extra", "mlterm", "contour", "yaft-256color")
_SIXEL_PROGRAMS: Final = ("WezTerm", "iTerm.app", "mintty")


def resolve_mode(setting: str, environ: Mapping[str, str]) -> Mode:
    """How stills are drawn, from ``[preview] mode`` and where vidwatch runs."""
    if setting in ("off", "halfblock", "kitty", "sixel"):
        return setting  # type: ignore[return-value]
    if "web_driver" in environ.get("TEXTUAL_DRIVER", ""):
        return "halfblock"  # vidwatch web: the browser shows cells, not graphics
    if environ.get("TMUX") or environ.get("TERM", "").startswith(("tmux", "screen")):
        return "halfblock"  # graphics need tmux's passthrough, rarely set up
    term = environ.get("TERM", "")
    if term in _KITTY_TERMS or environ.get("KITTY_WINDOW_ID"):
        return "kitty"
    if term in _SIXEL_TERMS or environ.get("TERM_PROGRAM") in _SIXEL_PROGRAMS:
        return "sixel"
    return "halfblock"


def prepare(mode: Mode) -> None:
    """Load textual-image before Textual starts (it asks the terminal its cell size)."""
    if mode != "off":
        import textual_image.widget  # noqa: F401


def image_widget(mode: Mode, picture: Image) -> Widget:
    """textual-image's widget for ``mode``, showing ``picture``."""
    from textual_image import widget

    kinds: dict[str, Any] = {
        "kitty": widget.TGPImage,
        "sixel": widget.SixelImage,
        "halfblock": widget.HalfcellImage,
    }
    shown: Widget = kinds.get(mode, widget.HalfcellImage)(picture, classes="still--image")
    return shown


def picture_of(data: bytes, scale: int = 2) -> Image | None:
    """The decoder's JPEG as a picture, when it is one of a sane size (``scale`` stills
    wide at most: a filmstrip is several)."""
    from PIL import Image as PILImage

    if not data:
        return None
    try:
        opened = PILImage.open(io.BytesIO(data), formats=("JPEG",))
        if max(opened.size) > STILL_BOX * scale:
            return None
        opened.load()
    except Exception:
        return None
    return opened


def _key(record: TaskRecord | None) -> tuple[object, ...] | None:
    if record is None:
        return None
    return (record.id, record.result.state, record.result.video_url, record.task.saved_to)


class StillView(Vertical):
    """The still and facts of ``record`` (hidden when it has none to show)."""

    record: reactive[TaskRecord | None] = reactive(None, always_update=True)

    def __init__(
        self,
        previews: Previews | None = None,
        *,
        mode: Mode = "off",
        on_facts: OnFacts | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.previews = previews
        self.mode: Mode = mode
        self.on_facts = on_facts
        self.shown: Preview | None = None  # what is on screen (tests read it)
        self.settle = SETTLE  # a still not kept is made once the cursor rests this long
        self._showing: tuple[object, ...] | None = None
        self.display = False

    def compose(self) -> ComposeResult:
        yield Static("", id="still-words", markup=False)

    def on_mount(self) -> None:
        if self.previews is not None and self.mode != "off":
            self.previews.decoders.warm()  # a decoder waits ready for the first still

    def watch_record(self, record: TaskRecord | None) -> None:
        key = _key(record)
        if key == self._showing:
            return
        self._showing = key
        previews = self.previews
        if record is None or previews is None or self.mode == "off" or why_none(record):
            self.workers.cancel_group(self, "still")
            self._clear()
            self.display = False
            return
        self.display = True
        remembered = previews.remembered(record)
        if remembered is not None:
            self.workers.cancel_group(self, "still")
            self._show(record, remembered, picture_of(remembered.still or b""))
            return
        self._clear()
        self._words(LOADING)
        self.run_worker(
            self._load(record, self.settle), group="still", exclusive=True, exit_on_error=False
        )

    async def _load(self, record: TaskRecord, settle: float) -> None:
        import asyncio

        assert self.previews is not None
        preview = await self.previews.get(record, settle=settle)
        picture = await asyncio.to_thread(picture_of, preview.still) if preview.still else None
        if _key(record) == self._showing:
            self._show(record, preview, picture)

    def _clear(self) -> None:
        for old in self.query(".still--image"):
            old.display = False  # kept for the next still: no widget mounted per key press
        self.shown = None

    def _cells(self, width: int, height: int) -> tuple[int, int]:
        """Columns and rows for a picture of ``width``×``height`` pixels (a cell is
        about twice as tall as it is wide)."""
        room = self.parent.size.width if isinstance(self.parent, Widget) else 0
        room = max(8, (room or 40) - 3)
        rows = max(2, min(MAX_ROWS, round(room * height / max(width, 1) / 2)))
        return max(4, min(room, round(rows * 2 * width / max(height, 1)))), rows

    def _words(self, text: str) -> None:
        self.query_one("#still-words", Static).update(text)

    def _show(self, record: TaskRecord, preview: Preview, picture: Image | None) -> None:
        self._clear()
        self.shown = preview
        lines: list[str] = []
        if picture is not None:
            shown = next(iter(self.query(".still--image")), None)
            if shown is None:
                shown = image_widget(self.mode, picture)
                self.mount(shown, before=0)
            else:  # the same widget, another picture: nothing to mount or style anew
                shown.image = picture  # type: ignore[attr-defined]
                shown.display = True
            # a size of its own in cells: its shape, within the column and MAX_ROWS
            shown.styles.width, shown.styles.height = self._cells(*picture.size)
        else:
            lines.append(f"No still: {preview.why or 'the still could not be shown'}.")
        facts = preview.facts
        if facts is not None:
            lines.append(facts_line(facts))
            lines += [f"⚠ {said}" for said in differences(facts, record)]
            if self.on_facts is not None:
                self.on_facts(record.id, facts)
        self._words("\n".join(lines))
