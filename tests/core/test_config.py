from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from vidwatch.core.config import (
    DEFAULT_BASE_URL,
    Config,
    ConfigError,
    Paths,
    load_config,
    main,
    readme_with_settings,
)
from vidwatch.core.runtime.settings import every_setting

from tests.support.paths import README


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path / "nope.toml", env={})
    assert config.base_url == DEFAULT_BASE_URL
    assert config.api_key is None
    assert config.policy.concurrency == 8
    assert config.policy.max_requests_per_second == 10
    assert config.warnings == ()


def test_full_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        'base_url = "https://gw.example/"\napi_key = "file-key"\nbell = false\n'
        "[polling]\nmin_interval = 1.5\nmax_interval = 30\nconcurrency = 4\n"
        "max_requests_per_second = 2\n",
    )
    config = load_config(path, env={})
    assert config.base_url == "https://gw.example"
    assert config.api_key == "file-key"
    assert config.key_source == "config file"
    assert config.policy.min_interval == 1.5
    assert config.policy.concurrency == 4
    assert config.bell is False


def test_environment_wins(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'api_key = "file-key"\nbase_url = "https://a.example"\n')
    env = {"QUICKROUTER_API_KEY": "env-key", "QUICKROUTER_BASE_URL": "https://b.example"}
    config = load_config(path, env=env)
    assert config.api_key == "env-key"
    assert config.key_source == "environment"
    assert config.base_url == "https://b.example"


def test_key_never_in_repr(tmp_path: Path) -> None:
    config = load_config(tmp_path / "x.toml", env={"QUICKROUTER_API_KEY": "sk-SECRET-1234"})
    assert "sk-SECRET-1234" not in repr(config)
    assert "sk-SECRET-1234" not in str(config)


def test_group_readable_key_file_warns(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'api_key = "k"\n', mode=0o644)
    config = load_config(path, env={})
    assert any("chmod 600" in w for w in config.warnings)
    quiet = load_config(write(tmp_path / "d.toml", 'api_key = "k"\n'), env={})
    assert quiet.warnings == ()


def test_unknown_keys_warn(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "c.toml", "colour = 1\n[polling]\nspeed = 2\n"), env={})
    assert len(config.warnings) == 2


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("base_url = [", "not valid TOML"),
        ("[polling]\nconcurrency = 'many'\n", "whole number"),
        ("[polling]\nmin_interval = 'fast'\n", "must be a number"),
        ("[polling]\nmin_interval = 10\nmax_interval = 5\n", "max_interval"),
        ("polling = 3\n", "must be a table"),
        ("api_key = 3\n", "api_key"),
        ('base_url = "http://api.quickrouter.ai"\n', "plain http"),
        ("bell = 'yes'\n", "true or false"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError, match=fragment) as info:
        load_config(path, env={})
    assert "Traceback" not in str(info.value)


def test_insecure_http_needs_the_switch(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'base_url = "http://gw.lan"\nallow_insecure_http = true\n')
    assert load_config(path, env={}).base_url == "http://gw.lan"


def test_paths_follow_xdg_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    paths = Paths.discover(env={})
    assert paths.config_file == tmp_path / "cfg" / "vidwatch" / "config.toml"
    assert paths.tasks_file == tmp_path / "data" / "vidwatch" / "tasks.toml"
    assert paths.log_file.parent == tmp_path / "state" / "vidwatch"
    env = {"VIDWATCH_TASKS_FILE": str(tmp_path / "env.toml")}
    assert Paths.discover(env=env).tasks_file == tmp_path / "env.toml"
    assert (
        Paths.discover(tasks_file=tmp_path / "flag.toml", env=env).tasks_file
        == tmp_path / "flag.toml"
    )


@pytest.mark.parametrize("bad", ["sk-abc\u200bdef", "sk abc", "sk-ключ", "sk-\tx"])
def test_a_key_that_cannot_be_sent_is_refused_without_repeating_it(
    tmp_path: Path, bad: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'api_key = "{bad}"\n'.replace("\t", "\\t"), encoding="utf-8")
    path.chmod(0o600)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert "cannot be sent" in str(info.value)
    assert bad not in str(info.value)
    with pytest.raises(ConfigError, match="QUICKROUTER_API_KEY"):
        load_config(tmp_path / "missing.toml", env={"QUICKROUTER_API_KEY": bad})


def test_every_declared_default_is_one_its_own_kind_takes() -> None:
    for row in every_setting(Config):
        if row.default is not None and row.setting.shown is None:
            assert row.setting.kind.check(row.default) == row.default, row.name


def test_the_readme_shows_the_settings_as_declared() -> None:
    """The README's table and example are generated from the declarations; after adding
    or changing a setting, run ``python -m vidwatch.core.config --readme README.md``."""
    text = README.read_text(encoding="utf-8")
    assert readme_with_settings(text) == text, (
        "run: python -m vidwatch.core.config --readme README.md"
    )


def test_the_readme_example_is_a_config_file_of_the_defaults(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    example = re.search(r"<!-- settings-example: .*?```toml\n(.*?)```", text, re.S)
    assert example is not None
    config = load_config(write(tmp_path / "c.toml", example.group(1)), env={})
    assert config.warnings == ()
    assert config.download_dir == Path("~/Videos/vidwatch").expanduser()
    assert replace(config, download_dir=Config().download_dir) == Config()


def test_the_table_and_the_example_are_printed_for_the_readme(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--table"]) == 0
    table = capsys.readouterr().out
    assert "| `polling.concurrency` | `8` | a whole number from 1 to 64 |" in table
    assert main(["--example"]) == 0
    assert "[create]" in capsys.readouterr().out
    stale = tmp_path / "README.md"
    stale.write_text(
        "intro\n<!-- settings-table: old -->\n| old |\n<!-- /settings-table -->\n"
        "<!-- settings-example: old -->\nold\n<!-- /settings-example -->\nend\n",
        encoding="utf-8",
    )
    assert main(["--readme", str(stale)]) == 0
    fresh = stale.read_text(encoding="utf-8")
    assert "| old |" not in fresh
    assert table in fresh
    assert fresh.startswith("intro\n")
    assert fresh.endswith("<!-- /settings-example -->\nend\n")
    assert main(["--bogus"]) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'desktop_notifications = "loud"\n',
            "'desktop_notifications' must be one of auto, terminal, notify-send, off, not 'loud'",
        ),
        ('download_dir = ""\n', "'download_dir' must be a folder path, not ''"),
        ("base_url = 3\n", "'base_url' must be an https:// URL, not 3"),
        ("bell = 'yes'\n", "'bell' must be true or false, not 'yes'"),
        ("[create]\nmodel = 'a b'\n", "'create.model' must be a model name, not 'a b'"),
        ("polling = 3\n", "[polling] must be a table, not 3"),
    ],
)
def test_every_refusal_names_the_setting_the_value_and_what_is_allowed(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value) == f"{path}: {message}"


def load_error(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path / "e.toml", text), env={})
    return info.value


def test_the_environment_key_wins_over_a_bad_one_in_the_file(tmp_path: Path) -> None:
    """The environment is how a key is given without touching the file: the file's key
    is then not used, so it is not checked either (the 0600 warning still holds)."""
    path = write(tmp_path / "c.toml", 'api_key = "sk old"\n', mode=0o644)
    config = load_config(path, env={"QUICKROUTER_API_KEY": "sk-new"})
    assert (config.api_key, config.key_source) == ("sk-new", "environment")
    assert any("chmod 600" in w for w in config.warnings)
    message = str(load_error(tmp_path, 'api_key = "sk old"\n'))
    assert message.startswith(f"{tmp_path / 'e.toml'}: 'api_key' contains spaces")
    assert "sk old" not in message


def test_a_base_url_ending_in_v1_names_where_it_was_set(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'base_url = "https://gw.example/v1"\n')
    (warning,) = load_config(path, env={}).warnings
    assert warning.startswith(f"{path}: 'base_url' https://gw.example/v1 ends in /v1")
    env = {"QUICKROUTER_BASE_URL": "https://gw.example/v1/"}
    (warning,) = load_config(tmp_path / "none.toml", env=env).warnings
    assert warning.startswith("QUICKROUTER_BASE_URL https://gw.example/v1 ends in /v1")


def test_downloads_auto_is_read_from_its_table(tmp_path: Path) -> None:
    """Issue 21 item 6: ``[downloads] auto = true``; a top-level setting written under
    the table by mistake is named as one."""
    assert load_config(tmp_path / "none.toml", env={}).downloads.auto is False
    path = write(tmp_path / "c.toml", "[downloads]\nauto = true\nmax_downloads = 4\n")
    config = load_config(path, env={})
    assert config.downloads.auto is True
    assert config.max_downloads != 4  # read as downloads.max_downloads: not the top's
    (warning,) = config.warnings
    assert "unknown setting 'downloads.max_downloads' ignored" in warning
    assert "('max_downloads' is set at the top, before the first [table])" in warning
    with pytest.raises(ConfigError, match=r"downloads\.auto"):
        load_config(write(tmp_path / "bad.toml", '[downloads]\nauto = "yes"\n'), env={})
