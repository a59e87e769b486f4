"""A setting is declared once; reading, checking, messages and documentation follow.

The dataclasses here are made up: they show that a new setting — a plain one, a table
of its own like ``[prices]`` (model → number), a ``[section]`` — needs its declaration
and nothing else to be read, checked, warned about and documented.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from vidwatch.core.runtime.settings import (
    Choice,
    ConfigError,
    Entries,
    Flag,
    Folder,
    Name,
    Number,
    Refused,
    Secret,
    Text,
    every_setting,
    example_toml,
    markdown_table,
    read,
    section,
    setting,
    setting_factory,
)

WHERE = "/cfg/config.toml"
MODEL = Name("a model name")


@dataclass(frozen=True, slots=True)
class Preview:
    mode: str = setting("inline", Choice(("inline", "external", "off")), "how a video is shown")


@dataclass(frozen=True, slots=True)
class Settings:
    url: str = setting("https://a.example", Text(), "the server", env="TOY_URL")
    token: str | None = setting(None, Secret(), "the key", env="TOY_TOKEN", repr=False)
    loud: bool = setting(True, Flag(), "ring | beep")
    rate: float = setting(1.5, Number(0.1, 10.0, "per second"), "how fast")
    prices: Mapping[str, float] = setting_factory(
        dict, Entries(MODEL, Number(0.0, 100.0, "USD")), "price per second, by model"
    )
    preview: Preview = section("preview", Preview, "the video preview")
    computed: int = 0  # not a setting: the file cannot set it


def load(text: str, env: Mapping[str, str] | None = None) -> tuple[Settings, list[str]]:
    warnings: list[str] = []
    reading = read(Settings, tomllib.loads(text), where=WHERE, environ=env or {}, warnings=warnings)
    return Settings(**reading.values), warnings


def refusal(text: str, env: Mapping[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(text, env)
    return str(caught.value)


def test_missing_settings_take_their_declared_defaults() -> None:
    settings, warnings = load("")
    assert settings == Settings()
    assert settings.prices == {}
    assert warnings == []


def test_a_table_valued_setting_is_read_checked_and_read_only() -> None:
    settings, warnings = load('[prices]\n"sora-2" = 0.5\ngrok-video-3 = 2\n')
    assert settings.prices == {"sora-2": 0.5, "grok-video-3": 2.0}
    assert isinstance(settings.prices["grok-video-3"], float)
    assert isinstance(settings.prices, MappingProxyType)
    assert warnings == []  # its keys are names, not unknown settings


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[prices]\n"sora-2" = "cheap"\n',
            f"{WHERE}: 'prices' entry 'sora-2' must be a number from 0 to 100 USD, not 'cheap'",
        ),
        (
            '[prices]\n"sora-2" = 500\n',
            f"{WHERE}: 'prices' entry 'sora-2' = 500 is out of range: use from 0 to 100 USD",
        ),
        (
            '[prices]\n"two words" = 1\n',
            f"{WHERE}: 'prices' entry 'two words' must be a model name, not 'two words'",
        ),
        (
            "prices = 3\n",
            f"{WHERE}: 'prices' must be a table of a model name = a number from 0 to 100 USD,"
            " not 3",
        ),
    ],
)
def test_a_table_valued_setting_says_which_entry_is_wrong(text: str, message: str) -> None:
    assert refusal(text) == message


def test_sections_are_read_into_their_dataclass_and_unknown_keys_are_named() -> None:
    settings, warnings = load('colour = 1\n[preview]\nmode = "off"\nsize = 3\n')
    assert settings.preview == Preview("off")
    assert warnings == [
        f"{WHERE}: unknown setting 'colour' ignored",
        f"{WHERE}: unknown setting 'preview.size' ignored",
    ]
    assert load("computed = 5\n")[1] == [f"{WHERE}: unknown setting 'computed' ignored"]
    assert refusal("preview = 3\n") == f"{WHERE}: [preview] must be a table, not 3"
    assert refusal('[preview]\nmode = "big"\n') == (
        f"{WHERE}: 'preview.mode' must be one of inline, external, off, not 'big'"
    )


def test_the_environment_wins_and_messages_name_it() -> None:
    settings, _ = load('url = "https://file.example"\n', env={"TOY_URL": " https://env.example "})
    assert settings.url == "https://env.example"
    assert load('url = "https://file.example"\n', env={"TOY_URL": "  "})[0].url == (
        "https://file.example"
    )
    assert refusal("", env={"TOY_TOKEN": "sk-\u200bx"}).startswith("TOY_TOKEN contains spaces")


def test_where_each_value_came_from() -> None:
    warnings: list[str] = []
    reading = read(
        Settings,
        {"url": "https://f.example", "preview": {"mode": "off"}},
        where=WHERE,
        environ={"TOY_TOKEN": "sk-1"},
        warnings=warnings,
    )
    assert reading.place("url") == f"{WHERE}: 'url'"
    assert reading.place("preview.mode") == f"{WHERE}: 'preview.mode'"
    assert reading.place("token") == "TOY_TOKEN"
    assert reading.place("rate") == "'rate'"  # the default


def test_a_secret_is_never_repeated_in_a_message() -> None:
    assert refusal("token = 12345\n") == f"{WHERE}: 'token' must be a string"
    message = refusal('token = "sk-secret value"\n')
    assert "cannot be sent in an HTTP header" in message
    assert "secret" not in message
    assert load('token = "  "\n')[0].token is None  # blank is no key


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        (Flag(), [(True, True), (False, False)], [1, "yes", None]),
        (Number(1, 16), [(1, 1), (16, 16)], [0, 17, 2.5, True, "3", math.nan]),
        (
            Number(0.5, 600.0),
            [(0.5, 0.5), (600, 600.0), (20, 20.0)],
            [0.4, 601, math.inf, math.nan, False],
        ),
        (Choice(("a", "b")), [("a", "a")], ["c", 1, ["a"]]),
        (Text(), [("x", "x"), ("", "")], [1, None]),
        (MODEL, [(" sora-2 ", "sora-2")], ["", " ", "a b", "x" * 129, 3, "a\x1b[2J"]),
        (Folder(), [("/tmp/x", Path("/tmp/x"))], ["", "  ", 3]),
        (Secret(), [(" sk-1 ", "sk-1"), ("", None)], [3, "sk 1", "sk-ключ", "sk-\t1"]),
    ],
)
def test_each_kind_takes_what_it_says_and_refuses_the_rest(
    kind: Any, good: list[tuple[object, object]], bad: list[object]
) -> None:
    for value, expected in good:
        checked = kind.check(value)
        assert checked == expected
        assert type(checked) is type(expected)
    for value in bad:
        with pytest.raises(Refused):
            kind.check(value)


def test_a_number_out_of_range_and_of_the_wrong_type_say_the_range() -> None:
    assert refusal("rate = 11\n") == (
        f"{WHERE}: 'rate' = 11 is out of range: use from 0.1 to 10 per second"
    )
    assert refusal("rate = nan\n") == (
        f"{WHERE}: 'rate' must be a number from 0.1 to 10 per second, not nan"
    )


def test_a_rule_joining_two_settings_becomes_one_clear_error() -> None:
    @dataclass(frozen=True, slots=True)
    class Window:
        low: int = setting(1, Number(1, 10), "low")
        high: int = setting(5, Number(1, 10), "high")

        def __post_init__(self) -> None:
            if self.high < self.low:
                raise ValueError("high must be at least low")

    @dataclass(frozen=True, slots=True)
    class Top:
        window: Window = section("window", Window, "a window")

    with pytest.raises(ConfigError, match=f"^{WHERE}: high must be at least low$"):
        read(Top, {"window": {"low": 6}}, where=WHERE, environ={}, warnings=[])


def test_the_table_documents_every_setting_from_its_declaration() -> None:
    table = markdown_table(Settings)
    lines = table.splitlines()
    assert lines[0] == "| setting | default | allowed | what it does |"
    assert [line.split(" | ")[0] for line in lines[2:]] == [
        "| `url`",
        "| `token`",
        "| `loud`",
        "| `rate`",
        "| `prices`",
        "| `preview.mode`",
    ]
    assert (
        '| `url` | `"https://a.example"` | a string | the server; `TOY_URL` wins over it |' in lines
    )
    assert "| `token` | none | a string | the key; `TOY_TOKEN` wins over it |" in lines
    assert "| `loud` | `true` | true or false | ring \\| beep |" in lines  # a | is escaped
    assert "| `rate` | `1.5` | a number from 0.1 to 10 per second | how fast |" in lines
    assert (
        "| `prices` | none | a table of a model name = a number from 0 to 100 USD"
        " | price per second, by model |" in lines
    )


def test_the_example_sets_every_setting_to_its_default_as_valid_toml() -> None:
    example = example_toml(Settings)
    assert example == (
        'url = "https://a.example"\n'
        '# token = "…"\n'
        "loud = true\n"
        "rate = 1.5\n"
        "\n"
        "[prices]  # price per second, by model\n"
        "\n"
        "[preview]  # the video preview\n"
        'mode = "inline"\n'
    )
    settings, warnings = load(example)
    assert settings == Settings()
    assert warnings == []


def test_a_machine_dependent_default_is_shown_as_declared() -> None:
    @dataclass(frozen=True, slots=True)
    class Where:
        folder: Path = setting_factory(
            lambda: Path("/home/someone/Videos"), Folder(), "videos", shown="~/Videos"
        )
        table: Mapping[str, float] = field(default_factory=dict)  # not a setting

    assert example_toml(Where) == 'folder = "~/Videos"\n'
    assert [(row.name, row.default) for row in every_setting(Where)] == [("folder", "~/Videos")]
    reading = read(Where, {}, where=WHERE, environ={}, warnings=[])
    assert reading.values == {"folder": Path("/home/someone/Videos")}


def test_a_new_table_with_an_optional_number_and_its_own_entries_needs_only_declarations() -> None:
    @dataclass(frozen=True, slots=True)
    class Create:
        max_spend: float | None = setting(None, Number(0.0, 10000.0, "USD"), "stop past this")
        prices: Mapping[str, float] = setting_factory(
            lambda: {"sora-2": 0.5}, Entries(MODEL, Number(0.0, 100.0)), "price by model"
        )

    @dataclass(frozen=True, slots=True)
    class Top:
        create: Create = section("create", Create, "creating jobs")

    example = example_toml(Top)
    assert example == (
        "[create]  # creating jobs\n"
        "# max_spend = …\n"
        "\n"
        "[create.prices]  # price by model\n"
        '"sora-2" = 0.5\n'
    )
    data = tomllib.loads(example)
    warnings: list[str] = []
    reading = read(Top, data, where=WHERE, environ={}, warnings=warnings)
    assert reading.values["create"] == Create()
    assert warnings == []
    assert '| `create.prices` | `"sora-2" = 0.5` |' in markdown_table(Top)
    data["create"]["max_spend"] = 20
    assert read(Top, data, where=WHERE, environ={}, warnings=[]).values["create"].max_spend == 20.0
