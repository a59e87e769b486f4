"""The models vidwatch knows how to create, and the body fields each one takes.

From QuickRouter's create pages (doc.quickrouter.ai) and ``shared/api.md``:

========  ==========================================  =========================================
family    models                                      fields (besides ``model``, ``prompt``)
========  ==========================================  =========================================
Grok      ``grok-video-3``                            ``aspect_ratio`` 2:3 3:2 1:1; ``size``
                                                      720P 1080P; ``images``
Veo       ``veo3`` ``veo3-fast`` ``veo3-pro``         ``images`` (``*-frames``: first and last
          ``veo3.1`` ``veo3.1-fast`` ``veo3.1-pro``   frame, 1–2, but ``veo3-pro-frames``: the
                                                      first only, 1; ``veo3.1-components``: ≤ 3),
          ``veo3.1-4k`` ``veo3.1-components``         ``enhance_prompt`` bool,
          ``veo…-frames``                             ``enable_upsample`` bool,
                                                      ``aspect_ratio`` 16:9 9:16
Sora      ``sora-2`` ``sora-2-pro``                   ``images``, ``orientation`` portrait
                                                      landscape, ``size`` small large,
                                                      ``duration`` 10 15 (pro: 15 25),
                                                      ``watermark`` bool, ``private`` bool
========  ==========================================  =========================================

Only known fields of known models are checked. Any other model, and any other field of
a known model, is sent exactly as given: gateways add models and options every month.
A model with a duration always gets one in the body (its default when none is given):
gateways have billed a default that differed from what ran.

The simulator checks bodies with :func:`check_body`, so it refuses what vidwatch would.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias, cast
from urllib.parse import urlsplit

from vidwatch.core.text.sanitize import MAX_URL

__all__ = [
    "MAX_IMAGES",
    "MODELS",
    "FieldError",
    "JsonValue",
    "ModelSpec",
    "ParamSpec",
    "check_body",
    "check_field",
    "check_image_url",
    "check_images",
    "lookup",
    "model_of_id",
]

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"

MAX_IMAGES = 16  # any model: more reference images than this is a mistake, not a request


class FieldError(ValueError):
    """A value a known model does not take; ``str()`` names the field and what it allows."""


Kind = Literal["choice", "bool", "int_choice"]


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One body field a model is known to take."""

    name: str
    kind: Kind
    choices: tuple[str | int, ...] = ()
    help: str = ""

    def describe(self) -> str:
        """``16:9 or 9:16``, ``true or false``: the allowed values, for messages and dialogs."""
        if self.kind == "bool":
            return "true or false"
        words = [str(c) for c in self.choices]
        return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What one known model takes."""

    name: str
    family: str  # grok | veo | sora
    fields: tuple[ParamSpec, ...]
    min_images: int = 0
    max_images: int = MAX_IMAGES
    images_help: str = "reference images"
    default_duration: int | None = None  # seconds; set for models that take a duration

    def field(self, name: str) -> ParamSpec | None:
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    @property
    def id_prefix(self) -> str:
        """The model part of the task IDs the gateway answers with (``grok:…``)."""
        return "grok" if self.family == "grok" else self.name


def _choice(name: str, *choices: str, help: str = "") -> ParamSpec:
    return ParamSpec(name, "choice", choices, help)


def _flag(name: str, help: str = "") -> ParamSpec:
    return ParamSpec(name, "bool", (), help)


_GROK = (
    _choice("aspect_ratio", "2:3", "3:2", "1:1", help="output shape (an image decides it)"),
    _choice("size", "720P", "1080P", help="resolution"),
)
_VEO = (
    _flag("enhance_prompt", "let the model rewrite (and translate) the prompt"),
    _flag("enable_upsample", "upscale the result"),
    _choice("aspect_ratio", "16:9", "9:16", help="output shape"),
)


def _sora(*durations: int) -> tuple[ParamSpec, ...]:
    return (
        _choice("orientation", "portrait", "landscape", help="portrait or landscape"),
        _choice("size", "small", "large", help="small ≈ 720p, large ≈ 1080p"),
        ParamSpec("duration", "int_choice", durations, "seconds"),
        _flag("watermark", "false forces a video without a watermark"),
        _flag("private", "true: not published, cannot be remixed"),
    )


VEO_MODELS = (
    "veo3",
    "veo3-fast",
    "veo3-pro",
    "veo3.1",
    "veo3.1-fast",
    "veo3.1-pro",
    "veo3.1-4k",
)

MODELS: Mapping[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("grok-video-3", "grok", _GROK, images_help="the output follows the image"),
        *(ModelSpec(name, "veo", _VEO) for name in VEO_MODELS),
        ModelSpec(
            "veo3.1-components",
            "veo",
            _VEO,
            max_images=3,
            images_help="components to put in the video",
        ),
        ModelSpec("sora-2", "sora", _sora(10, 15), default_duration=10),
        ModelSpec("sora-2-pro", "sora", _sora(15, 25), default_duration=15),
    )
}

_FRAMES = re.compile(r"^veo[0-9][a-z0-9.-]*-frames$")
# Frames models that take a first frame and no last one (the provider's create page:
# "supports first-frame transmission but not last-frame transmission").
_FIRST_FRAME_ONLY = frozenset({"veo3-pro-frames"})


def lookup(model: str) -> ModelSpec | None:
    """The spec of a known model (exact name), or None: unknown models pass through.

    Any ``veo…-frames`` model (``veo3.1-fast-frames``…) is a Veo model that takes a first
    and an optional last frame; ``veo3-pro-frames`` the first frame only.
    """
    spec = MODELS.get(model)
    if spec is not None:
        return spec
    if model in _FIRST_FRAME_ONLY:
        return ModelSpec(
            model,
            "veo",
            _VEO,
            min_images=1,
            max_images=1,
            images_help="the first frame; this model takes no last frame",
        )
    if _FRAMES.match(model):
        return ModelSpec(
            model,
            "veo",
            _VEO,
            min_images=1,
            max_images=2,
            images_help="the first frame, then optionally the last",
        )
    return None


def model_of_id(task_id: str) -> str | None:
    """The model that most likely made ``task_id``, from its prefix (``grok:…``,
    ``veo3.1-fast:…``): a known model of that name, else the one known model whose IDs
    carry that prefix (``grok`` → ``grok-video-3``), else the prefix itself (gateways name
    IDs after the model). None for an ID without a prefix. A guess, for a form the user
    checks (``N`` on a task added by ID), never for anything sent unasked."""
    prefix, sep, _ = task_id.partition(":")
    prefix = prefix.strip()
    if not sep or not prefix or len(prefix) > 40 or not prefix.isprintable():
        return None
    if lookup(prefix) is not None:
        return prefix
    named = [spec.name for spec in MODELS.values() if spec.id_prefix == prefix.lower()]
    if len(named) == 1:
        return named[0]
    return prefix


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_field(model: str, spec: ParamSpec, value: JsonValue) -> JsonValue:
    """``value`` in the form the model takes, or :class:`FieldError`.

    Words match regardless of case (``720p`` → ``720P``); a boolean may be written as the
    text ``true``/``false``; a duration as a whole number or its digits (``"15"``).
    """
    allowed = spec.describe()
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    elif spec.kind == "int_choice":
        number: int | None = None
        if _is_int(value):
            assert isinstance(value, int)
            number = value
        elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) < 6:
            number = int(value.strip())
        if number is not None and number in spec.choices:
            return number
    elif isinstance(value, str):
        for choice in spec.choices:
            if isinstance(choice, str) and value.strip().lower() == choice.lower():
                return choice
    raise FieldError(f"{model} takes {spec.name} {allowed}, not {_shown(value)}")


def check_image_url(url: object) -> str:
    """An image URL the gateway may fetch: http(s), a host, no user:password, no control,
    invisible or space characters, at most :data:`MAX_URL` long. Else :class:`FieldError`."""
    if not isinstance(url, str):
        raise FieldError(f"an image must be a URL (text), not {_shown(url)}")
    if not url or len(url) > MAX_URL:
        raise FieldError(f"an image URL must be 1 to {MAX_URL} characters long")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise FieldError(f"the image URL {_shown(url)} has spaces or hidden characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        raise FieldError(f"the image URL {_shown(url)} does not parse") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FieldError(f"an image URL must start with https:// or http://: {_shown(url)}")
    if not host:
        raise FieldError(f"the image URL {_shown(url)} has no host")
    if "@" in parts.netloc:
        raise FieldError("an image URL must not carry a user name or password")
    return url


def check_images(model: str, spec: ModelSpec | None, images: Sequence[object]) -> list[str]:
    """Every URL checked, and the count the model takes (any model: ≤ :data:`MAX_IMAGES`)."""
    low = spec.min_images if spec else 0
    high = spec.max_images if spec else MAX_IMAGES
    if not low <= len(images) <= high:
        if low == high:
            span = str(low)
        elif low == 0:
            span = f"up to {high}"
        else:
            span = f"{low} or {high}" if high == low + 1 else f"{low} to {high}"
        what = spec.images_help if spec else "images"
        noun = "image" if high == 1 else "images"
        raise FieldError(f"{model} takes {span} {noun} ({what}), not {len(images)}")
    return [check_image_url(url) for url in images]


def check_body(body: Mapping[str, object]) -> str | None:
    """What a gateway would refuse in a create body, as one sentence; None when fine.

    For the simulator. Checks the prompt, the images and the known fields of known
    models; unknown models and fields are not its business.
    """
    model, prompt = body.get("model"), body.get("prompt")
    if not isinstance(model, str) or not model.strip():
        return "model is required"
    if not isinstance(prompt, str) or not prompt.strip():
        return "prompt is required"
    spec = lookup(model)
    images = body.get("images", [])
    if not isinstance(images, list):
        return "images must be a list of URLs"
    try:
        check_images(model, spec, images)
        if spec is not None:
            for field in spec.fields:
                if field.name in body:
                    value = cast("JsonValue", body[field.name])
                    if check_field(model, field, value) != value or type(value) is float:
                        raise FieldError(
                            f"{model} takes {field.name} {field.describe()}, not {_shown(value)}"
                        )
    except FieldError as exc:
        return str(exc)
    return None


def _shown(value: object, limit: int = 60) -> str:
    """A value quoted for a message: one line, no control characters, capped."""
    text = repr(value)
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"
