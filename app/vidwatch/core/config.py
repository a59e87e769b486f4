"""Paths and settings: the config file, the environment, the defaults.

Each setting is declared once, as a field of :class:`Config` or of the dataclass of its
table (``[polling]`` is :class:`~vidwatch.core.polling.budget.Policy`, ``[create]``
:class:`CreateSettings`, ``[downloads]`` :class:`DownloadSettings`): its default, kind
and range, one line of help, and the environment variable that overrides it. Reading,
checking, the messages and the README's table come from those declarations
(:mod:`vidwatch.core.runtime.settings`); this module adds the two rules that join
settings (the base URL and ``allow_insecure_http``; where the API key came from) and the
warnings about the file itself. The file is never written.

The API key comes from ``QUICKROUTER_API_KEY`` or the config file only. It is
kept out of ``repr`` so it cannot leak through logs or tracebacks.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import platformdirs

from vidwatch.core.media.settings import PreviewSettings
from vidwatch.core.polling.budget import Policy
from vidwatch.core.runtime.notify import MODES
from vidwatch.core.runtime.settings import (
    Choice,
    ConfigError,
    Entries,
    Flag,
    Folder,
    Name,
    Number,
    Secret,
    Text,
    example_toml,
    markdown_table,
    read,
    section,
    setting,
    setting_factory,
)
from vidwatch.core.text.urls import InsecureURLError, check_base_url, without_v1
from vidwatch.core.text.wording import ENV_API_KEY  # beside the words that name it (key_hint)

__all__ = [
    "APP_NAME",
    "DEFAULT_BASE_URL",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_TASKS_FILE",
    "Config",
    "ConfigError",
    "CreateSettings",
    "DownloadSettings",
    "Paths",
    "default_download_dir",
    "default_sent_dir",
    "load_config",
    "readme_with_settings",
]

APP_NAME: Final = "vidwatch"
DEFAULT_BASE_URL: Final = "https://api.quickrouter.ai"
ENV_BASE_URL: Final = "QUICKROUTER_BASE_URL"
ENV_TASKS_FILE: Final = "VIDWATCH_TASKS_FILE"
ENV_CONFIG_FILE: Final = "VIDWATCH_CONFIG"


@dataclass(frozen=True, slots=True)
class Paths:
    """Where vidwatch keeps things (XDG / platformdirs conventions)."""

    config_file: Path
    tasks_file: Path
    log_dir: Path
    # The record of what was sent (vidwatch.core.create.ledger): the user's, whichever task list
    sent_dir: Path = field(default_factory=lambda: default_sent_dir())

    @classmethod
    def discover(
        cls,
        tasks_file: str | os.PathLike[str] | None = None,
        config_file: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> Paths:
        environ = os.environ if env is None else env
        config_dir = platformdirs.user_config_path(APP_NAME, appauthor=False)
        data_dir = platformdirs.user_data_path(APP_NAME, appauthor=False)
        state_dir = platformdirs.user_state_path(APP_NAME, appauthor=False)
        config = config_file or environ.get(ENV_CONFIG_FILE) or config_dir / "config.toml"
        tasks = tasks_file or environ.get(ENV_TASKS_FILE) or data_dir / "tasks.toml"
        return cls(
            Path(config).expanduser(), Path(tasks).expanduser(), state_dir, data_dir / "sent"
        )

    @property
    def log_file(self) -> Path:
        return self.log_dir / "vidwatch.log"

    @property
    def cache_dir(self) -> Path:
        """Stills of finished videos (``[preview] cache_mb`` bounds it): the user's cache."""
        return platformdirs.user_cache_path(APP_NAME, appauthor=False) / "stills"

    @property
    def view_file(self) -> Path:
        """The dashboard's remembered view (filter, sort, columns), beside the config."""
        return self.config_file.with_name("view.toml")


def default_sent_dir() -> Path:
    """Where the record of what was sent lives: the user's data folder."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False) / "sent"


def default_download_dir() -> Path:
    """``~/Videos/vidwatch`` (the platform's videos folder)."""
    return platformdirs.user_videos_path() / APP_NAME


@dataclass(frozen=True, slots=True)
class CreateSettings:
    """``[create]``: the model used when none is named, and the budget of creates
    (separate from polling's): at most ``per_minute`` sent in any minute, at most
    ``concurrency`` waiting for their answer at once."""

    model: str = setting(
        "grok-video-3",
        Name("a model name"),
        "the model when none is named (`--model`, a row's `model`)",
    )
    per_minute: int = setting(
        30,
        Number(1, 600, "creates a minute"),
        "creates sent in any 60 s; their own budget, not polling's",
    )
    concurrency: int = setting(2, Number(1, 16), "creates waiting for their answer at once")
    max_spend: float | None = setting(
        None,
        Number(0.01, 1_000_000.0, "in the gateway's unit"),
        "refuse a batch whose estimate is above this (no estimate: counts jobs)",
    )


@dataclass(frozen=True, slots=True)
class DownloadSettings:
    """``[downloads]``: what is saved without being asked. Where videos go, how many at
    once and how big they may be are the top-level ``download_dir``, ``max_downloads``
    and ``max_download_mb`` (as they always were), and hold here too."""

    auto: bool = setting(
        False,
        Flag(),
        "save each finished video as soon as it is seen (the dashboard, `vidwatch wait`, "
        "`submit --wait`; `wait --download` for one run), within `max_downloads`, "
        "`max_download_mb` and the free space",
    )


@dataclass(frozen=True, slots=True)
class Config:
    """Effective settings, each declared once here (or in the dataclass of its table):
    the loader, the checks, their messages and the README's table come from these
    declarations. ``api_key`` never appears in ``repr``."""

    base_url: str = setting(
        DEFAULT_BASE_URL,
        Text("an https:// URL"),
        "the gateway, without /v1 (vidwatch adds /v1/video/… itself)",
        env=ENV_BASE_URL,
    )
    api_key: str | None = setting(
        None,
        Secret(),
        "the API key (keep the file `chmod 600`)",
        env=ENV_API_KEY,
        repr=False,
    )
    key_source: str | None = None  # "environment" | "config file" | "demo" | None
    policy: Policy = section("polling", Policy, "how often tasks are asked about")
    allow_insecure_http: bool = setting(
        False, Flag(), "allow plain http:// to a host other than loopback"
    )
    bell: bool = setting(True, Flag(), "ring the terminal bell when a job finishes or fails")
    timeout: float = setting(20.0, Number(0.5, 600.0, "seconds"), "how long one request may take")
    download_dir: Path = setting_factory(
        default_download_dir,
        Folder(),
        "where `D` and `vidwatch download` save videos",
        shown="~/Videos/vidwatch",
    )
    max_downloads: int = setting(3, Number(1, 16), "downloads at once")
    max_download_mb: int = setting(
        4096, Number(1, 65536, "MB"), "no video larger than this is downloaded"
    )
    downloads: DownloadSettings = section(
        "downloads", DownloadSettings, "finished videos saved without asking"
    )
    desktop_notifications: str = setting(
        "auto", Choice(MODES), "how a finished job is announced on the desktop"
    )
    prices: Mapping[str, float] = setting_factory(
        dict,
        Entries(Name("a model, or model:field=value,…"), Number(0.0, 1_000_000.0)),
        'your price per job, in the gateway\'s unit, for estimates (see "What it costs")',
    )
    create: CreateSettings = section(
        "create", CreateSettings, '`vidwatch create` / `submit` (see "Creating jobs")'
    )
    preview: PreviewSettings = section(
        "preview", PreviewSettings, 'stills of finished videos (see "Stills and the closer look")'
    )
    warnings: tuple[str, ...] = ()

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read the config file (missing is fine) and apply the environment."""
    environ = os.environ if env is None else env
    data = _parse(path)
    where = str(path)
    warnings: list[str] = []
    reading = read(Config, data or {}, where=where, environ=environ, warnings=warnings)
    values = reading.values
    file_key = data.get("api_key") if data else None
    if isinstance(file_key, str) and file_key:
        mode = _mode(path)
        if mode is not None and mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.append(
                f"The config file {path} holds an API key and is readable by others "
                f"(mode {mode:04o}); run: chmod 600 {path}"
            )
    if values["api_key"] is None:
        source = None
    else:
        source = "environment" if reading.place("api_key") == ENV_API_KEY else "config file"
    try:
        base = check_base_url(values["base_url"], allow_insecure_http=values["allow_insecure_http"])
    except InsecureURLError as exc:
        raise ConfigError(str(exc)) from None
    fixed = without_v1(base)
    if fixed is not None:  # a common slip: the gateway would answer 404 Invalid URL
        warnings.append(
            f"{reading.place('base_url')} {base} ends in /v1, but vidwatch adds /v1/video/… itself "
            f"(the gateway would be asked for /v1/v1/video/query); set it to {fixed}"
        )
    values.update(base_url=base, key_source=source, warnings=tuple(warnings))
    return Config(**values)


def _parse(path: Path) -> dict[str, Any] | None:
    """The config file as TOML data; ``None`` when there is none."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc.strerror}") from None
    import tomllib  # slow to load: not for a run without a config file

    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"The config file {path} is not valid TOML: {exc}") from None


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None


# -- the README's table and example, from the declarations ---------------------------------

_GENERATED = "generated from core/config.py by `python -m vidwatch.core.config --readme README.md`"
_BLOCKS: Final[dict[str, Callable[[], str]]] = {
    "settings-table": lambda: markdown_table(Config),
    "settings-example": lambda: f"```toml\n{example_toml(Config)}```\n",
}


def readme_with_settings(text: str) -> str:
    """``text`` (the README) with its blocks of settings written afresh; each block sits
    between ``<!-- NAME: … -->`` and ``<!-- /NAME -->``."""
    for name, render in _BLOCKS.items():
        begin, end = f"<!-- {name}: ", f"<!-- /{name} -->"
        start, stop = text.find(begin), text.find(end)
        if start < 0 or stop < start:
            raise ValueError(f"the README has no {begin}… {end} block")
        text = f"{text[:start]}{begin}{_GENERATED} -->\n{render()}{text[stop:]}"
    return text


def main(argv: list[str] | None = None) -> int:
    """``--table`` / ``--example`` print what the README shows; ``--readme PATH`` writes it."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--table"]:
        print(markdown_table(Config), end="")
    elif args == ["--example"]:
        print(example_toml(Config), end="")
    elif len(args) == 2 and args[0] == "--readme":
        from vidwatch.core.store.atomic import atomic_write

        readme = Path(args[1])
        text = readme_with_settings(readme.read_text(encoding="utf-8"))
        atomic_write(readme, text.encode("utf-8"))
    else:
        usage = "usage: python -m vidwatch.core.config --table | --example | --readme README.md"
        print(usage, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
