"""The client the dashboard and the CLI use, made from the settings.

It sits on top of the core, beside :mod:`vidwatch.core.config`: the gateway's client
(:mod:`vidwatch.core.gateway.client`) knows nothing of the config file; this is where
the two meet.
"""

from __future__ import annotations

import httpx

from vidwatch.core.config import Config
from vidwatch.core.gateway.billing import BillingClient
from vidwatch.core.gateway.client import QueryClient

__all__ = ["billing_client_for", "client_for"]


def client_for(config: Config, *, transport: httpx.AsyncBaseTransport | None = None) -> QueryClient:
    """The client the dashboard and the CLI use, from the configuration."""
    return QueryClient(
        config.base_url,
        config.api_key,
        timeout=config.timeout,
        connections=config.policy.concurrency,
        allow_insecure_http=config.allow_insecure_http,
        transport=transport,
    )


def billing_client_for(
    config: Config, *, transport: httpx.AsyncBaseTransport | None = None
) -> BillingClient:
    """The billing routes' client (balance, request log): its own connections."""
    return BillingClient(
        config.base_url,
        config.api_key,
        timeout=min(config.timeout, 10.0),
        allow_insecure_http=config.allow_insecure_http,
        transport=transport,
    )
