"""Every number in the config file is bounded, with a message naming the key, the value
and the allowed range (issue 12 item 7: concurrency = 100000 ran out of descriptors). The
ranges are the settings' declarations (issue 18: each setting declared once)."""

from __future__ import annotations

from pathlib import Path

import pytest
from vidwatch.core.config import Config, ConfigError, load_config
from vidwatch.core.runtime.settings import Number, every_setting

# Every number the file sets, and its range: read from the declarations.
LIMITS = {
    row.name: (row.setting.kind.low, row.setting.kind.high, row.setting.kind.unit)
    for row in every_setting(Config)
    if isinstance(row.setting.kind, Number)
}

# The other interval, set so that only the bound under test can refuse the file.
_COMPANION = {
    "polling.min_interval": "max_interval = 86400\n",
    "polling.max_interval": "min_interval = 0.01\n",
}


def config_text(name: str, value: object) -> str:
    table, _, key = name.rpartition(".")
    line = f"{key} = {value}\n"
    if table:
        return f"[{table}]\n{line}{_COMPANION.get(name, '')}"
    return line


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, env={})


def setting(config: Config, name: str) -> object:
    table, _, key = name.rpartition(".")
    holder: object = {
        "polling": config.policy,
        "create": config.create,
        "preview": config.preview,
    }.get(table, config)
    return getattr(holder, key)


def test_every_setting_with_a_number_for_default_has_a_range() -> None:
    numbers = {
        row.name
        for row in every_setting(Config)
        if (isinstance(row.default, int | float) and not isinstance(row.default, bool))
        # an optional number (create.max_spend: none by default) has a range all the same
        or (row.default is None and isinstance(row.setting.kind, Number))
    }
    assert numbers == set(LIMITS)
    assert numbers >= {
        "timeout",
        "max_downloads",
        "max_download_mb",
        "polling.min_interval",
        "polling.max_interval",
        "polling.concurrency",
        "polling.max_requests_per_second",
        "create.per_minute",
        "create.concurrency",
    }


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_each_bound_is_accepted_at_its_ends(tmp_path: Path, name: str) -> None:
    low, high, _ = LIMITS[name]
    for value in (low, high):
        config = load(tmp_path, config_text(name, value))
        assert setting(config, name) == value


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_each_bound_refuses_values_beyond_it_naming_key_value_and_range(
    tmp_path: Path, name: str
) -> None:
    low, high, unit = LIMITS[name]
    unit = f" {unit}" if unit else ""
    step = 1 if isinstance(low, int) else low / 2
    for value in (low - step, high * 10):
        with pytest.raises(ConfigError) as caught:
            load(tmp_path, config_text(name, value))
        message = str(caught.value)
        assert f"'{name}'" in message
        assert f"{value:g}" in message
        assert f"from {low:g} to {high:g}{unit}" in message


def test_the_reported_case(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'polling.concurrency' = 100000 is out of range"):
        load(tmp_path, "[polling]\nconcurrency = 100000\n")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("timeout = nan\n", "'timeout' must be a number from 0.5 to 600 seconds, not nan"),
        ("timeout = inf\n", "not inf"),
        ("max_downloads = 2.5\n", "'max_downloads' must be a whole number from 1 to 16"),
        ("[polling]\nconcurrency = true\n", "whole number"),
        ("[polling]\nmax_requests_per_second = '5'\n", "must be a number"),
    ],
)
def test_values_that_are_not_numbers_say_the_range_too(
    tmp_path: Path, text: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert fragment in str(caught.value)
