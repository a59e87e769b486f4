"""The new-job dialog (``n``, and ``N`` prefilled from a task's request).

A form — model (the catalogue's, or any other by name), prompt, the model's known
fields as choices, image URLs, label, extra ``key=value`` fields — checked by
:func:`~vidwatch.core.create.requests.prepare` before anything can be sent; what is wrong shows
right under the field in error, which takes the focus (so the form scrolls to both, even
on a short terminal). A valid form leads to :class:`ConfirmCreate`, which shows exactly what
will be sent (the body; the key is never in it) and spends only on its
"Create (costs money)" button. When the same request was sent before (from anywhere: the
record of sends, or a task of the list it made), the confirm screen says so — when, and
as which task — and its button says it pays again. Escape anywhere sends nothing (on an
edited form, after asking whether to throw it away). The dialog's keys are in its own
footer; the buttons stay in sight below the form, which scrolls.

A boolean field is a three-way choice (not sent, true, false) rather than a switch: a
switch cannot say "not sent", and sending ``enhance_prompt: false`` or
``watermark: false`` unasked changes what the gateway does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from vidwatch.core.create.catalogue import MODELS, JsonValue, ParamSpec, lookup, model_of_id
from vidwatch.core.create.ledger import Earlier
from vidwatch.core.create.requests import CreateError, CreateRequest, parse_param, prepare
from vidwatch.core.model.records import MAX_LABEL, TaskRecord, TaskRequest
from vidwatch.core.text.sanitize import clean_line, clean_text, escape_hidden, strip_fence
from vidwatch.ui.dialogs.confirm import ConfirmDialog
from vidwatch.ui.widgets.footer import KeyFooter

__all__ = ["ConfirmCreate", "CreateDialog", "NewJob", "Prefill", "body_shown"]


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job the user confirmed: send it (once). ``accepted``: the earlier send of the
    same request the user agreed to pay for again (None: none was shown)."""

    request: CreateRequest
    label: str
    accepted: str | None = None


@dataclass(frozen=True, slots=True)
class Prefill:
    """What the form starts with."""

    model: str
    prompt: str = ""
    fields: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    images: tuple[str, ...] = ()
    label: str = ""

    note: str = ""  # said under the title: where a guessed form came from

    @classmethod
    def of(cls, request: TaskRequest, label: str = "") -> Prefill:
        """The form of a task's request (``N``: the same job again)."""
        return cls(request.model, request.prompt, request.fields, request.images, label)

    @classmethod
    def guessed(cls, record: TaskRecord) -> Prefill:
        """The form of a task added by ID (``N``), from what is known: the model from the
        ID's prefix (:func:`~vidwatch.core.create.catalogue.model_of_id`; ``""`` when it has
        none: the configured model), the prompt the server echoed (grok), else its
        rewrite of it (the enhanced prompt, without its fence)."""
        result = record.result
        prompt = result.sent_prompt or strip_fence(result.enhanced_prompt or "")
        whence = (
            "the prompt from the server's answer. Check both."
            if prompt
            else "no prompt is known yet."
        )
        return cls(
            model_of_id(record.id) or "",
            prompt,
            label=record.task.label,
            note=f"Added by ID, so this is pieced together: the model from the ID; {whence}",
        )


def body_shown(body: Mapping[str, JsonValue]) -> str:
    """A body as indented JSON, safe to draw (hidden characters as ``\\uXXXX``)."""
    text = json.dumps(dict(body), ensure_ascii=False, indent=2)
    return escape_hidden(text, lambda ch: json.dumps(ch)[1:-1] if ord(ch) < 0x10000 else "?")


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class CreateDialog(ModalScreen[NewJob | None]):
    """Fill in a job; ``ctrl+s`` checks it and asks for the yes that spends."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "review", "Review", priority=True),
    ]

    def __init__(
        self,
        prefill: Prefill,
        *,
        again: bool = False,
        earlier: Callable[[CreateRequest], Earlier | None] | None = None,
        estimate: Callable[[CreateRequest], str] | None = None,
        refusal: Callable[[CreateRequest], str | None] | None = None,
    ) -> None:
        super().__init__()
        self.prefill = prefill
        self.again = again
        self.estimate = estimate  # what it would cost, for the confirm screen
        self.refusal = refusal  # why [create] max_spend refuses it (None: it does not)
        self.earlier = earlier  # what the record knows of a request: asked before confirming
        self._model_shown: str | None = None  # whose fields are on the form ("": none)
        self._building = asyncio.Lock()
        self._pending: dict[str, Any] = {}  # values for the fields about to be built
        self._as_opened: tuple[object, ...] | None = None  # the form as it opened

    def compose(self) -> ComposeResult:
        prefill = self.prefill
        known = prefill.model in MODELS
        spec = lookup(prefill.model)
        extra = [
            f"{key}={_value_text(value)}"
            for key, value in prefill.fields.items()
            if spec is None or not self._fits(spec.field(key), value)
        ]
        self._pending = {
            key: value
            for key, value in prefill.fields.items()
            if spec is not None and self._fits(spec.field(key), value)
        }
        title = "Create the job again" if self.again else "New job"
        with Vertical(id="create-dialog", classes="dialog"):
            with Vertical(classes="dialog-head"):
                yield Label(f"{title} (costs money: you confirm first)", classes="dialog-title")
                if prefill.note:
                    yield Static(Text(prefill.note), classes="dialog-hint", id="create-note")
            with VerticalScroll(id="create-form"):
                with Horizontal(classes="create-row"):
                    yield Label("Model", classes="create-key")
                    yield Select(
                        [(Text(name), name) for name in MODELS],
                        value=prefill.model if known else Select.NULL,
                        prompt="another model (type it)",
                        id="create-model",
                    )
                    yield Input(
                        value="" if known else prefill.model,
                        placeholder="or type another model",
                        id="create-model-other",
                    )
                yield Label("Prompt", classes="create-heading")
                yield TextArea(prefill.prompt, id="create-prompt", soft_wrap=True)
                yield Vertical(id="create-fields")
                yield Label("Image URLs (one a line)", classes="create-heading")
                yield TextArea("\n".join(prefill.images), id="create-images", soft_wrap=False)
                yield Label("Other fields (key=value, one a line)", classes="create-heading")
                yield TextArea("\n".join(extra), id="create-params", soft_wrap=False)
                yield Input(value=prefill.label, placeholder="Label (optional)", id="create-label")
                yield Static(id="create-error", markup=False)
            # Outside the scrolling form: always in sight, whatever the terminal's height.
            with Horizontal(classes="dialog-buttons"):
                yield Button("Review  ctrl+s", variant="primary", id="create-review")
                yield Button("Cancel  esc", id="create-cancel")
        yield KeyFooter()

    @staticmethod
    def _fits(spec: ParamSpec | None, value: Any) -> bool:
        """Whether a value is one of the choices the field's widget offers."""
        if spec is None:
            return False
        if spec.kind == "bool":
            return isinstance(value, bool)
        return any(value == c and type(value) is type(c) for c in spec.choices)

    async def on_mount(self) -> None:
        # Before anything slow: keys typed right after n or N (queued while this dialog
        # is built) go to the prompt, after what it holds (set_focus now: focus() would
        # wait behind those keys).
        prompt = self.query_one("#create-prompt", TextArea)
        prompt.move_cursor(prompt.document.end)
        self.set_focus(prompt, scroll_visible=False)
        await self._show_fields()
        self._as_opened = self._form_state()

    def _form_state(self) -> tuple[object, ...]:
        """Everything the user can type or choose, to tell an edited form."""
        texts = [w.text for w in self.query(TextArea).results(TextArea)]
        inputs = [w.value for w in self.query(Input).results(Input)]
        return (self.model, tuple(texts), tuple(inputs), tuple(self.field_values().items()))

    @property
    def edited(self) -> bool:
        """The form differs from what it opened with."""
        return self._as_opened is not None and self._form_state() != self._as_opened

    @property
    def model(self) -> str:
        other = self.query_one("#create-model-other", Input).value.strip()
        if other:
            return other
        chosen = self.query_one("#create-model", Select).value
        return chosen if isinstance(chosen, str) else ""

    @on(Select.Changed, "#create-model")
    @on(Input.Changed, "#create-model-other")
    async def _model_changed(self) -> None:
        await self._show_fields()

    async def _show_fields(self) -> None:
        """The chosen model's known fields as choices (a value chosen is kept across
        models that share the field)."""
        async with self._building:  # one rebuild at a time: field IDs are unique
            spec = lookup(self.model)
            name = spec.name if spec is not None else ""
            if name == self._model_shown:
                return
            self._pending = {**self.field_values(), **self._pending}
            box = self.query_one("#create-fields", Vertical)
            await box.remove_children()
            rows: list[Widget] = []
            for spec_field in spec.fields if spec is not None else ():
                rows.append(self._field_row(spec_field, self._pending.get(spec_field.name)))
            if rows:
                self._pending = {}
                await box.mount_all(rows)
            self._model_shown = name

    @staticmethod
    def _field_row(spec: ParamSpec, value: Any) -> Widget:
        if spec.kind == "bool":
            options: list[tuple[Text, Any]] = [(Text("true"), True), (Text("false"), False)]
        else:
            options = [(Text(str(c)), c) for c in spec.choices]
        initial = value if any(v == value and type(v) is type(value) for _, v in options) else None
        select: Select[Any] = Select(
            options,
            value=Select.NULL if initial is None else initial,
            prompt="(not sent)" if spec.kind != "int_choice" else "(the model's default)",
            id=f"field-{spec.name}",
            classes="create-field",
        )
        hint = Label(Text(spec.help), classes="dialog-hint create-help")
        return Horizontal(
            Label(spec.name, classes="create-key"), select, hint, classes="create-row"
        )

    def field_values(self) -> dict[str, Any]:
        """The known fields chosen on the form (not sent: left out)."""
        values: dict[str, Any] = {}
        for select in self.query(".create-field").results(Select):
            if select.id and select.value is not Select.NULL:
                values[select.id.removeprefix("field-")] = select.value
        return values

    def build(self) -> NewJob:
        """The checked job, or :class:`CreateError` saying what is wrong (its ``field``
        is ``"params"`` for anything typed in "Other fields")."""
        pairs: list[tuple[str, JsonValue]] = list(self.field_values().items())
        typed: set[str] = set()
        for number, line in enumerate(self._lines("#create-params"), 1):
            try:
                pair = parse_param(line)
            except CreateError as exc:
                raise CreateError(f"other fields, line {number}: {exc}", field="params") from None
            pairs.append(pair)
            typed.add(pair[0])
        try:
            return self._prepared(pairs)
        except CreateError as exc:
            if exc.field in typed or exc.field == "fields":
                raise CreateError(str(exc), field="params") from None
            raise

    def _prepared(self, pairs: list[tuple[str, JsonValue]]) -> NewJob:
        prompt = self.query_one("#create-prompt", TextArea).text
        images = self._lines("#create-images")
        prepared = prepare(self.model, prompt, images, pairs)
        label = clean_line(self.query_one("#create-label", Input).value.strip(), MAX_LABEL)
        return NewJob(prepared.request, label)

    def _lines(self, selector: str) -> list[str]:
        text = self.query_one(selector, TextArea).text
        return [line.strip() for line in text.splitlines() if line.strip()]

    def _error(self, message: str) -> None:
        box = self.query_one("#create-error", Static)
        box.update(Text(clean_text(message)))
        box.set_class(bool(message), "-shown")

    def _field_widget(self, field: str | None) -> Widget:
        """The widget to fix for an error about ``field`` (the prompt when unknown)."""
        if field == "model":
            other = self.query_one("#create-model-other", Input)
            return other if other.value.strip() else self.query_one("#create-model", Select)
        selector = {"images": "#create-images", "params": "#create-params"}.get(field or "")
        if selector is None and field and self.query(f"#field-{field}"):
            selector = f"#field-{field}"
        return self.query_one(selector or "#create-prompt")

    def _show_error_at(self, field: str | None) -> None:
        """The message right under the field in error, the focus on it, both in view."""
        form = self.query_one("#create-form", VerticalScroll)
        widget = self._field_widget(field)
        anchor: Widget = widget
        while anchor.parent is not None and anchor.parent is not form:
            anchor = anchor.parent  # type: ignore[assignment]
        box = self.query_one("#create-error", Static)
        if anchor is not box:
            form.move_child(box, after=anchor)
        widget.focus(scroll_visible=False)

        def into_view() -> None:  # after the move is laid out: the field and its message
            both = anchor.virtual_region.union(box.virtual_region)
            form.scroll_to_region(both, animate=False, immediate=True)

        self.call_after_refresh(into_view)

    def action_review(self) -> None:
        try:
            job = self.build()
        except CreateError as exc:
            self._error(str(exc))
            self._show_error_at(exc.field)
            return
        why = self.refusal(job.request) if self.refusal is not None else None
        if why is not None:  # refused before the confirm screen: nothing can be sent
            self._error(f"Not sending: {why} ([create] max_spend in the config).")
            return
        self._error("")
        earlier = self.earlier(job.request) if self.earlier is not None else None

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(replace(job, accepted=earlier.send) if earlier else job)

        cost = self.estimate(job.request) if self.estimate is not None else ""
        self.app.push_screen(ConfirmCreate(job, earlier, cost), answered)

    def action_cancel(self) -> None:
        """Close, sending nothing; what was typed is thrown away only after a yes."""
        if not self.edited:
            self.dismiss(None)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(None)

        self.app.push_screen(
            ConfirmDialog("Throw away this form?", "Nothing was sent; what you typed is lost."),
            answered,
        )

    @on(Button.Pressed, "#create-review")
    def _review_pressed(self) -> None:
        self.action_review()

    @on(Button.Pressed, "#create-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()


class ConfirmCreate(ModalScreen[bool]):
    """What will be sent, and the one button that spends."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def __init__(self, job: NewJob, earlier: Earlier | None = None, cost: str = "") -> None:
        super().__init__()
        self.job = job
        self.earlier = earlier
        self.cost = cost  # the estimate and its source ("": none asked)

    def compose(self) -> ComposeResult:
        request = self.job.request
        duration = request.duration
        lines = [
            f"Model     {request.model}",
            "Duration  "
            + (f"{duration} s" if duration is not None else "not sent (the model decides)"),
        ]
        if self.job.label:
            lines.append(f"Label     {self.job.label}")
        if self.cost:
            lines.append(f"Cost      {self.cost}")
        title = "Create this job? It costs money."
        if self.earlier is not None:
            title = "This request was sent before. Pay for it again?"
        with Vertical(id="create-confirm", classes="dialog"):
            with Vertical(classes="dialog-head"):
                yield Label(title, classes="dialog-title")
            with VerticalScroll(id="confirm-scroll"):
                if self.earlier is not None:
                    text = (
                        f"The same request was {self.earlier.text()}; creating it again pays again."
                    )
                    yield Static(Text(text), markup=False, id="confirm-earlier")
                yield Static(Text("\n".join(lines)), markup=False, id="confirm-facts")
                yield Label("The body sent (the key goes in a header, never here):")
                yield Static(Text(body_shown(request.body())), markup=False, id="confirm-body")
            with Horizontal(classes="dialog-buttons"):
                yes = "Create again (pays again)" if self.earlier else "Create (costs money)"
                yield Button(yes, variant="error", id="create-yes")
                yield Button("Back  esc", id="create-back")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#create-back", Button).focus()  # spending takes a deliberate move

    def action_back(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed, "#create-yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#create-back")
    def _back(self) -> None:
        self.dismiss(False)
