"""Create requests: the catalogue's checks, --param typing, the exact body."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from vidwatch.core.create.catalogue import (
    MAX_IMAGES,
    FieldError,
    JsonValue,
    check_body,
    check_image_url,
    lookup,
)
from vidwatch.core.create.requests import (
    MAX_PROMPT,
    CreateError,
    CreateRequest,
    parse_param,
    parse_value,
    prepare,
    spend_summary,
)

URL = "https://cdn.example.com/a.png"


def test_grok_body_is_exact_and_always_carries_images() -> None:
    prepared = prepare("grok-video-3", "  a cat\r\non the moon ", [], {"aspect_ratio": "3:2"})
    assert prepared.request.body() == {
        "model": "grok-video-3",
        "prompt": "a cat\non the moon",
        "aspect_ratio": "3:2",
        "images": [],
    }
    assert prepared.notes == ()


def test_known_words_match_regardless_of_case_and_are_sent_as_documented() -> None:
    body = prepare("grok-video-3", "x", [], {"size": "720p"}).request.body()
    assert body["size"] == "720P"


@pytest.mark.parametrize(
    ("model", "field", "value", "allowed"),
    [
        ("grok-video-3", "aspect_ratio", "16:9", "2:3, 3:2 or 1:1"),
        ("grok-video-3", "size", "4K", "720P or 1080P"),
        ("veo3.1-fast", "aspect_ratio", "1:1", "16:9 or 9:16"),
        ("veo3", "enhance_prompt", "maybe", "true or false"),
        ("sora-2", "orientation", "square", "portrait or landscape"),
        ("sora-2", "size", "medium", "small or large"),
        ("sora-2", "duration", 25, "10 or 15"),
        ("sora-2-pro", "duration", 10, "15 or 25"),
        ("sora-2-pro", "watermark", 1, "true or false"),
        ("sora-2", "private", "yes", "true or false"),
    ],
)
def test_a_bad_known_field_names_the_allowed_values(
    model: str, field: str, value: JsonValue, allowed: str
) -> None:
    with pytest.raises(CreateError) as caught:
        prepare(model, "x", [], {field: value})
    message = str(caught.value)
    assert field in message
    assert allowed in message
    assert model in message


def test_sora_always_sends_a_duration_and_says_when_it_chose_one() -> None:
    prepared = prepare("sora-2", "x")
    assert prepared.request.body()["duration"] == 10
    assert any("duration" in note and "10" in note for note in prepared.notes)
    pro = prepare("sora-2-pro", "x", [], {"duration": "25"})
    assert pro.request.body()["duration"] == 25
    assert pro.notes == ()
    assert prepare("sora-2-pro", "x").request.duration == 15


def test_booleans_in_text_become_booleans_for_known_fields() -> None:
    body = prepare("veo3.1", "x", [], {"enhance_prompt": "TRUE", "enable_upsample": False})
    assert body.request.body()["enhance_prompt"] is True
    assert body.request.body()["enable_upsample"] is False


def test_unknown_models_and_fields_pass_through_as_given() -> None:
    fields: dict[str, JsonValue] = {"aspect_ratio": "21:9", "seed": 7, "style": {"a": [1, 2]}}
    prepared = prepare("wan-2.5", "x", [URL], fields)
    assert prepared.request.body() == {
        "model": "wan-2.5",
        "prompt": "x",
        **fields,
        "images": [URL],
    }
    assert prepare("wan-2.5", "x").request.body() == {"model": "wan-2.5", "prompt": "x"}
    known = prepare("grok-video-3", "x", [], {"seed": 7})
    assert known.request.body()["seed"] == 7
    assert any("seed" in note for note in known.notes)


def test_image_counts_per_model() -> None:
    assert prepare("veo3.1-components", "x", [URL] * 3).request.images == (URL,) * 3
    with pytest.raises(CreateError, match="up to 3"):
        prepare("veo3.1-components", "x", [URL] * 4)
    frames = lookup("veo3.1-fast-frames")
    assert frames is not None
    assert (frames.min_images, frames.max_images) == (1, 2)
    assert prepare("veo3-fast-frames", "x", [URL, URL]).request.images == (URL, URL)
    with pytest.raises(CreateError, match="1 or 2"):
        prepare("veo3-fast-frames", "x", [])
    with pytest.raises(CreateError, match=f"up to {MAX_IMAGES}"):
        prepare("anything-new", "x", [URL] * (MAX_IMAGES + 1))
    assert lookup("frames") is None
    assert lookup("grok-video-3-frames") is None


def test_veo3_pro_frames_takes_a_first_frame_only() -> None:
    """The provider's create page: "supports first-frame transmission but not last-frame"."""
    spec = lookup("veo3-pro-frames")
    assert spec is not None
    assert (spec.min_images, spec.max_images) == (1, 1)
    assert prepare("veo3-pro-frames", "x", [URL]).request.images == (URL,)
    with pytest.raises(CreateError, match=r"takes 1 image \(the first frame; this model takes no"):
        prepare("veo3-pro-frames", "x", [URL, URL])
    with pytest.raises(CreateError, match="takes 1 image"):
        prepare("veo3-pro-frames", "x", [])
    for first_and_last in ("veo2-fast-frames", "veo3-fast-frames", "veo3-frames"):
        other = lookup(first_and_last)
        assert other is not None
        assert (other.min_images, other.max_images) == (1, 2), first_and_last


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.png",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://user:pw@example.com/a.png",
        "https://user@example.com/a.png",
        "https://example.com/a b.png",
        "https://example.com/\x1b]52;c;x\x07.png",
        "https://example.com/\u202egnp.exe",
        "https://example.com:notaport/a.png",
        "https:///nohost.png",
        "",
        "https://example.com/" + "a" * 5000,
    ],
)
def test_bad_image_urls_are_refused(url: str) -> None:
    with pytest.raises(CreateError):
        prepare("grok-video-3", "x", [url])
    with pytest.raises(FieldError):
        check_image_url(url)


def test_good_image_urls() -> None:
    for url in (URL, "http://127.0.0.1:8080/i.jpg?x=1&y=2", "https://例え.jp/画像.png"):
        assert check_image_url(url) == url


@pytest.mark.parametrize(
    ("prompt", "why"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        (None, "text"),
        (42, "text"),
        ("a" * (MAX_PROMPT + 1), "limit"),
        ("red \x1b[31m alert", "control"),
        ("broken \ud800", "broken"),
    ],
)
def test_bad_prompts(prompt: object, why: str) -> None:
    with pytest.raises(CreateError, match=why):
        prepare("grok-video-3", prompt)


def test_prompts_keep_what_people_write() -> None:
    text = "一只橘猫\t在雨夜 👩\u200d👩\u200d👧 שלום"
    assert prepare("grok-video-3", text).request.prompt == text


@pytest.mark.parametrize("model", ["", "  ", "grok video", "grok\x00", "x" * 200])
def test_bad_model_names(model: str) -> None:
    with pytest.raises(CreateError):
        prepare(model, "x")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("False", False),
        ("15", 15),
        ("-3", -3),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ('["a", "b"]', ["a", "b"]),
        ('{"k": 1}', {"k": 1}),
        ("16:9", "16:9"),
        ("720P", "720P"),
        ('"15"', "15"),
        ('"true"', "true"),
        ("007", "007"),
        ("[not json", "[not json"),
        ("[NaN]", "[NaN]"),
        ("1" * 40, "1" * 40),
        ("  spaced  ", "spaced"),
        ("", ""),
    ],
)
def test_parse_value_types(text: str, value: object) -> None:
    parsed = parse_value(text)
    assert parsed == value
    assert type(parsed) is type(value)


def test_parse_param() -> None:
    assert parse_param("duration=15") == ("duration", 15)
    assert parse_param("prompt_extend=a=b") == ("prompt_extend", "a=b")
    for bad in ("novalue", "=x", "a b=1", "x" * 80 + "=1"):
        with pytest.raises(CreateError):
            parse_param(bad)
    with pytest.raises(CreateError, match="--model"):
        parse_param("model=sora-2")
    with pytest.raises(CreateError, match="--image"):
        parse_param("images=[]")


@given(st.text(max_size=200))
@example('"\\ud800"')
@example("[" * 5000)
def test_parse_value_never_raises_and_gives_json(text: str) -> None:
    value = parse_value(text)
    dumped = json.dumps(value)  # always a JSON value
    assert json.loads(dumped) == value


@given(
    st.one_of(
        st.booleans(),
        st.integers(min_value=-(10**15), max_value=10**15),
        st.lists(st.integers(), max_size=3),
        st.text(alphabet="abc:xyz", min_size=1, max_size=8),
    )
)
def test_parse_value_reads_back_what_json_writes(value: object) -> None:
    assert parse_value(json.dumps(value) if not isinstance(value, str) else value) == value


def test_requests_are_frozen_copies() -> None:
    inner: list[JsonValue] = [1]
    style: dict[str, JsonValue] = {"a": inner}
    request = prepare("wan", "x", [], {"style": style}).request
    inner.append(2)
    body_style = request.body()["style"]
    assert isinstance(body_style, dict)
    assert isinstance(body_style["a"], list)
    body_style["a"].append(3)
    assert request.body()["style"] == {"a": [1]}
    with pytest.raises(TypeError):
        request.fields["x"] = 1  # type: ignore[index]
    assert request == CreateRequest("wan", "x", (), {"style": {"a": [1]}}, send_images=False)
    same: dict[str, JsonValue] = {"style": {"a": [1]}}
    assert len({request, prepare("wan", "x", [], same).request}) == 1


@pytest.mark.parametrize("value", [math.nan, math.inf, "a" * 10_000])
def test_fields_must_be_sane_json(value: JsonValue) -> None:
    with pytest.raises(CreateError):
        prepare("wan", "x", [], {"v": value})


def test_reserved_and_bad_field_names_are_refused() -> None:
    for key in ("model", "prompt", "images", "bad key", ""):
        with pytest.raises(CreateError):
            prepare("wan", "x", [], [(key, 1)])
    with pytest.raises(CreateError, match="at most"):
        prepare("wan", "x", [], [(f"f{n}", n) for n in range(100)])


def test_spend_summary_counts_models_and_durations() -> None:
    requests = [
        prepare("sora-2", "a").request,
        prepare("sora-2", "b").request,
        prepare("sora-2", "c", [], {"duration": 15}).request,
        prepare("grok-video-3", "d").request,
    ]
    assert spend_summary(requests) == ["2 × sora-2, 10 s", "1 × grok-video-3", "1 × sora-2, 15 s"]


def test_check_body_is_what_the_gateway_refuses() -> None:
    good = prepare("sora-2", "x", [URL], {"orientation": "portrait"}).request.body()
    assert check_body(good) is None
    assert check_body({"model": "wan", "prompt": "x", "anything": [1]}) is None
    problems: list[dict[str, object]] = [
        {"model": "sora-2", "prompt": ""},
        {"prompt": "x"},
        {"model": "grok-video-3", "prompt": "x", "aspect_ratio": "16:9"},
        {"model": "grok-video-3", "prompt": "x", "size": "720p"},  # the client sends 720P
        {"model": "sora-2", "prompt": "x", "duration": "10"},
        {"model": "sora-2", "prompt": "x", "duration": 10.0},
        {"model": "sora-2", "prompt": "x", "watermark": "false"},
        {"model": "grok-video-3", "prompt": "x", "images": "https://a/b.png"},
        {"model": "grok-video-3", "prompt": "x", "images": ["ftp://a/b.png"]},
    ]
    for body in problems:
        assert check_body(body), body
