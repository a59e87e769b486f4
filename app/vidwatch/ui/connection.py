"""The dashboard's line to the server: the client, the key, pausing and retrying.

``p`` pauses and resumes polling; with no key or a rejected one it re-reads the
config file instead, so a key fixed there (or set in the environment and given again)
starts polling without a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.app import App

from vidwatch.core.client import QueryClient
from vidwatch.core.config import Config, ConfigError, load_config
from vidwatch.core.logs import add_secret
from vidwatch.core.poller import Poller
from vidwatch.core.wording import host_of

__all__ = ["ClientFactory", "Connection"]

ClientFactory = Callable[[Config], QueryClient]
Banner = Callable[[str, str | None], None]


class Connection:
    """Holds the effective config and the HTTP client; drives the poller's pause and key."""

    def __init__(
        self,
        app: App[Any],
        poller: Poller,
        config: Config,
        factory: ClientFactory,
        *,
        config_file: Path,
        banner: Banner,
        demo: bool,
    ) -> None:
        self.app = app
        self.poller = poller
        self.config = config
        self.factory = factory
        self.config_file = config_file
        self.banner = banner
        self.demo = demo  # the key is the simulator's: nothing to re-read
        self.client: QueryClient | None = None

    def start(self) -> None:
        """Poll with the configured key, or say how to give one."""
        if self.config.api_key:
            self.go_online(self.config)
            return
        self.banner(
            "key",
            "No API key: showing the saved list without polling. Set QUICKROUTER_API_KEY "
            f"or put api_key in {self.config_file} (chmod 600), then press p. "
            "To see vidwatch at work, run: vidwatch --demo",
        )

    def go_online(self, config: Config) -> None:
        try:
            client = self.factory(config)
        except ValueError as exc:
            self.banner("key", str(exc))
            return
        self.client = client
        self.banner("key", None)
        self.poller.set_client(client, host_of(config.base_url))

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    def pause_or_resume(self) -> None:
        """``p``: pause or resume; without a usable key, look for one."""
        poller = self.poller
        if poller.client is None or poller.status.auth_error:
            self.retry_key()
        elif poller.paused:
            poller.resume()
            self.app.notify("Polling resumed.")
        else:
            poller.pause()
            self.app.notify("Polling paused. Press p to resume.")

    def retry_key(self) -> None:
        """Re-read the config: a fixed or new key (or the same one, if it came from the
        environment or the command line) starts polling again."""
        notify = self.app.notify
        if self.demo:
            self.poller.resume()
            notify("Retrying.")
            return
        try:
            fresh = load_config(self.config_file)
        except ConfigError as exc:
            notify(str(exc), severity="error", timeout=10)
            return
        key = fresh.api_key or self.config.api_key
        if not key:
            notify(
                f"Still no API key: set QUICKROUTER_API_KEY or api_key in {self.config_file}.",
                severity="warning",
            )
            return
        add_secret(key)
        changed = key != self.config.api_key
        self.config = replace(self.config, api_key=key, key_source=fresh.key_source)
        if self.poller.client is None:
            self.go_online(replace(fresh, api_key=key, policy=self.config.policy))
            if self.poller.client is not None:
                notify("API key found: polling started.")
        elif changed:
            self.poller.set_key(key)
            notify("Retrying with the new key from the config file.")
        else:
            self.poller.resume()
            notify("Retrying with the same key.")
