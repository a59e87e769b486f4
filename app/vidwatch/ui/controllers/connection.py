"""The dashboard's line to the server: the client, the key, pausing and retrying.

``p`` pauses and resumes polling; with no key, a rejected one, or a base URL the server
has no such address for, it re-reads the config file instead, so a key or a base_url
fixed there (or a key set in the environment and given again) starts polling without a
restart.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.app import App

from vidwatch.core.config import ENV_BASE_URL, Config, ConfigError, load_config
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.polling.poller import Poller
from vidwatch.core.runtime.logs import add_secret
from vidwatch.core.text.wording import capitalized, host_of, key_hint
from vidwatch.ui.banners import Banner, SetBanner

__all__ = ["ClientFactory", "Connection"]

ClientFactory = Callable[[Config], QueryClient]


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
        banner: SetBanner,
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
        # Clients replaced by one for a fixed base URL: a create may still be on its way
        # through one, so they are closed when the dashboard closes, not before.
        self._retired: list[QueryClient] = []

    def start(self) -> None:
        """Poll with the configured key, or say how to give one."""
        if self.config.api_key:
            self.go_online(self.config)
            return
        self.banner(
            Banner.KEY,
            "No API key: showing the saved list without polling. "
            f"{capitalized(key_hint(self.config_file))}, then press p. "
            "To see vidwatch at work, run: vidwatch --demo",
        )

    def go_online(self, config: Config) -> None:
        try:
            client = self.factory(config)
        except ValueError as exc:
            self.banner(Banner.KEY, str(exc))
            return
        self.client = client
        self.banner(Banner.KEY, None)
        self.poller.set_client(client, host_of(config.base_url))

    async def aclose(self) -> None:
        for client in (*self._retired, self.client):
            if client is not None:
                await client.aclose()

    def pause_or_resume(self) -> None:
        """``p``: pause or resume; without a usable key or base URL, look for one."""
        poller = self.poller
        status = poller.status
        if poller.client is None or status.auth_error or status.url_error:
            self.retry_key()
        elif poller.paused:
            poller.resume()
            self.app.notify("Polling resumed.")
        else:
            poller.pause()
            self.app.notify("Polling paused. Press p to resume.")

    def retry_key(self) -> None:
        """Re-read the config: a fixed or new key or base URL (or the same key, if it came
        from the environment or the command line) starts polling again."""
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
                f"Still no API key: {key_hint(self.config_file)}.",
                severity="warning",
            )
            return
        add_secret(key)
        changed = key != self.config.api_key
        # The base URL is taken from the file only when it is what stopped polling (the
        # server had no such address): a retry for the key keeps the address in use.
        wrong_url = self.poller.status.url_error
        where = (fresh.base_url, fresh.allow_insecure_http)
        moved = bool(wrong_url) and where != (self.config.base_url, self.config.allow_insecure_http)
        self.config = replace(self.config, api_key=key, key_source=fresh.key_source)
        if moved:
            self.config = replace(
                self.config, base_url=fresh.base_url, allow_insecure_http=fresh.allow_insecure_http
            )
        if self.poller.client is None:
            self.go_online(replace(fresh, api_key=key, policy=self.config.policy))
            if self.poller.client is not None:
                notify("API key found: polling started.")
        elif moved:  # a new address: a new client for it
            old = self.client
            self.go_online(self.config)
            if self.client is not old and old is not None:
                self._retired.append(old)
            notify(f"Polling again, at {self.config.base_url}.")
        elif wrong_url:
            self.poller.resume()
            source = (
                f"{ENV_BASE_URL} sets it (restart vidwatch once it is fixed)"
                if os.environ.get(ENV_BASE_URL, "").strip()
                else f"base_url is unchanged in {self.config_file}"
            )
            notify(f"Asking {self.config.base_url} again: {source}.", severity="warning")
        elif changed:
            self.poller.set_key(key)
            notify("Retrying with the new key from the config file.")
        else:
            self.poller.resume()
            notify("Retrying with the same key.")
