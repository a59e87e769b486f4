"""Paths and settings: the config file, the environment, the defaults.

The API key comes from ``QUICKROUTER_API_KEY`` or the config file only. It is
kept out of ``repr`` so it cannot leak through logs or tracebacks.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import platformdirs

from vidwatch.core.polling.budget import Policy
from vidwatch.core.runtime.notify import MODES
from vidwatch.core.text.urls import InsecureURLError, check_base_url, without_v1

__all__ = [
    "APP_NAME",
    "DEFAULT_BASE_URL",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_TASKS_FILE",
    "LIMITS",
    "Config",
    "ConfigError",
    "CreateSettings",
    "Paths",
    "load_config",
]

APP_NAME: Final = "vidwatch"
DEFAULT_BASE_URL: Final = "https://api.quickrouter.ai"
ENV_API_KEY: Final = "QUICKROUTER_API_KEY"
ENV_BASE_URL: Final = "QUICKROUTER_BASE_URL"
ENV_TASKS_FILE: Final = "VIDWATCH_TASKS_FILE"
ENV_CONFIG_FILE: Final = "VIDWATCH_CONFIG"


class ConfigError(Exception):
    """The configuration cannot be used; ``str()`` is one clear sentence."""


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
    def view_file(self) -> Path:
        """The dashboard's remembered view (filter, sort, columns), beside the config."""
        return self.config_file.with_name("view.toml")


def default_sent_dir() -> Path:
    """Where the record of what was sent lives: the user's data folder."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False) / "sent"


@dataclass(frozen=True, slots=True)
class CreateSettings:
    """``[create]``: the model used when none is named, and the budget of creates
    (separate from polling's): at most ``per_minute`` sent in any minute, at most
    ``concurrency`` waiting for their answer at once."""

    model: str = "grok-video-3"
    per_minute: int = 30
    concurrency: int = 2


@dataclass(frozen=True, slots=True)
class Config:
    """Effective settings. ``api_key`` never appears in ``repr``."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = field(default=None, repr=False)
    key_source: str | None = None  # "environment" | "config file" | None
    policy: Policy = field(default_factory=Policy)
    allow_insecure_http: bool = False
    bell: bool = True
    timeout: float = 20.0
    download_dir: Path = field(default_factory=lambda: default_download_dir())
    max_downloads: int = 3
    max_download_mb: int = 4096  # no video is downloaded past this size
    desktop_notifications: str = "auto"  # auto | terminal | notify-send | off
    create: CreateSettings = field(default_factory=CreateSettings)
    warnings: tuple[str, ...] = ()

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)


_TOP_KEYS = {
    "base_url",
    "api_key",
    "allow_insecure_http",
    "bell",
    "timeout",
    "polling",
    "download_dir",
    "max_downloads",
    "max_download_mb",
    "desktop_notifications",
    "create",
}


def default_download_dir() -> Path:
    """``~/Videos/vidwatch`` (the platform's videos folder)."""
    return platformdirs.user_videos_path() / APP_NAME


_POLLING_KEYS = {"min_interval", "max_interval", "concurrency", "max_requests_per_second"}
_CREATE_KEYS = {"model", "per_minute", "concurrency"}

# Every number the config file sets, and the range it must lie in: outside it vidwatch
# misbehaves (100,000 connections at once run out of file descriptors) or stops being
# useful (a timeout of a microsecond). Whole numbers are the ones given as ints.
LIMITS: Final[dict[str, tuple[float, float, str]]] = {
    "timeout": (0.5, 600.0, " seconds"),
    "max_downloads": (1, 16, ""),
    "max_download_mb": (1, 65536, " MB"),
    "polling.min_interval": (0.01, 3600.0, " seconds"),
    "polling.max_interval": (0.01, 86400.0, " seconds"),
    "polling.concurrency": (1, 64, ""),
    "polling.max_requests_per_second": (0.01, 1000.0, ""),
    "create.per_minute": (1, 600, " creates a minute"),
    "create.concurrency": (1, 16, ""),
}


def _show(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


def _bounded(table: dict[str, Any], name: str, where: str, default: float) -> float:
    """The setting ``name`` (``polling.concurrency`` is ``concurrency`` in ``[polling]``),
    checked against :data:`LIMITS`; the message names the key, the value and the range."""
    low, high, unit = LIMITS[name]
    whole = isinstance(low, int)
    value = table.get(name.rpartition(".")[2], default)
    allowed = f"from {_show(low)} to {_show(high)}{unit}"
    if (
        isinstance(value, bool)
        or not isinstance(value, int if whole else int | float)
        or not math.isfinite(value)
    ):
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"{where}: '{name}' must be {kind} {allowed}, not {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{where}: '{name}' = {_show(value)} is out of range: use {allowed}")
    return value


def _flag(table: dict[str, Any], key: str, where: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: '{key}' must be true or false, not {value!r}")
    return value


def load_config(path: Path, env: dict[str, str] | None = None) -> Config:
    """Read the config file (missing is fine) and apply the environment."""
    environ = os.environ if env is None else env
    warnings: list[str] = []
    data: dict[str, Any] = {}
    where = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = None
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc.strerror}") from None
    if raw is not None:
        import tomllib  # slow to load: not for a run without a config file

        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"The config file {path} is not valid TOML: {exc}") from None

    for key in sorted(set(data) - _TOP_KEYS):
        warnings.append(f"{where}: unknown setting '{key}' ignored")
    polling = data.get("polling", {})
    if not isinstance(polling, dict):
        raise ConfigError(f"{where}: [polling] must be a table")
    for key in sorted(set(polling) - _POLLING_KEYS):
        warnings.append(f"{where}: unknown setting 'polling.{key}' ignored")

    defaults = Policy()

    def polled(key: str) -> float:
        return _bounded(polling, f"polling.{key}", where, getattr(defaults, key))

    try:
        policy = Policy(
            min_interval=float(polled("min_interval")),
            max_interval=float(polled("max_interval")),
            concurrency=int(polled("concurrency")),
            max_requests_per_second=float(polled("max_requests_per_second")),
        )
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None

    create = _create_settings(data, where, warnings)

    file_key = data.get("api_key")
    if file_key is not None and not isinstance(file_key, str):
        raise ConfigError(f"{where}: 'api_key' must be a string")
    if file_key and raw is not None:
        mode = _mode(path)
        if mode is not None and mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.append(
                f"The config file {path} holds an API key and is readable by others "
                f"(mode {mode:04o}); run: chmod 600 {path}"
            )
    env_key = environ.get(ENV_API_KEY, "").strip()
    api_key = env_key or (file_key or "").strip() or None
    source = "environment" if env_key else ("config file" if api_key else None)
    if api_key is not None and not _sendable(api_key):
        where_key = ENV_API_KEY if env_key else f"api_key in {path}"
        raise ConfigError(
            f"The API key in {where_key} contains spaces, invisible or non-ASCII characters "
            "that cannot be sent in an HTTP header; paste it again."
        )

    env_base = environ.get(ENV_BASE_URL, "").strip()
    base = env_base or data.get("base_url", DEFAULT_BASE_URL)
    if not isinstance(base, str):
        raise ConfigError(f"{where}: 'base_url' must be a string")
    allow_insecure = _flag(data, "allow_insecure_http", where, False)
    try:
        base = check_base_url(base, allow_insecure_http=allow_insecure)
    except InsecureURLError as exc:
        raise ConfigError(str(exc)) from None
    fixed = without_v1(base)
    if fixed is not None:  # a common slip: the gateway would answer 404 Invalid URL
        setting = ENV_BASE_URL if env_base else f"{where}: base_url"
        warnings.append(
            f"{setting} {base} ends in /v1, but vidwatch adds /v1/video/… itself (the gateway "
            f"would be asked for /v1/v1/video/query); set it to {fixed}"
        )
    timeout = float(_bounded(data, "timeout", where, 20.0))
    folder = data.get("download_dir")
    if folder is not None and not (isinstance(folder, str) and folder.strip()):
        raise ConfigError(f"{where}: 'download_dir' must be a folder path")
    downloads = int(_bounded(data, "max_downloads", where, 3))
    download_mb = int(_bounded(data, "max_download_mb", where, 4096))
    notifications = data.get("desktop_notifications", "auto")
    if notifications not in MODES:
        raise ConfigError(f"{where}: 'desktop_notifications' must be one of {', '.join(MODES)}")
    return Config(
        base_url=base,
        api_key=api_key,
        key_source=source,
        policy=policy,
        allow_insecure_http=allow_insecure,
        bell=_flag(data, "bell", where, True),
        timeout=timeout,
        download_dir=Path(folder).expanduser() if folder else default_download_dir(),
        max_downloads=downloads,
        max_download_mb=download_mb,
        desktop_notifications=notifications,
        create=create,
        warnings=tuple(warnings),
    )


def _create_settings(data: dict[str, Any], where: str, warnings: list[str]) -> CreateSettings:
    table = data.get("create", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [create] must be a table")
    for key in sorted(set(table) - _CREATE_KEYS):
        warnings.append(f"{where}: unknown setting 'create.{key}' ignored")
    defaults = CreateSettings()
    model = table.get("model", defaults.model)
    if (
        not isinstance(model, str)
        or not model.strip()
        or len(model) > 128
        or not all(ch.isprintable() and not ch.isspace() for ch in model.strip())
    ):
        raise ConfigError(f"{where}: 'create.model' must be a model name, not {model!r}")
    return CreateSettings(
        model=model.strip(),
        per_minute=int(_bounded(table, "create.per_minute", where, defaults.per_minute)),
        concurrency=int(_bounded(table, "create.concurrency", where, defaults.concurrency)),
    )


def _sendable(key: str) -> bool:
    """A key that fits in an ``Authorization`` header: printable ASCII, no spaces."""
    return all(0x21 <= ord(ch) <= 0x7E for ch in key)


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
