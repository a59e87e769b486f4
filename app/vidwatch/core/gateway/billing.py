"""The key's balance, request log and the site's units: the billing client.

Every request goes through the one HTTP factory (:func:`~vidwatch.core.gateway.http.new_client`)
on a client of its own, with :data:`CONNECTIONS` connections: a billing route that hangs
holds none of polling's connections, and a create never waits behind it (creates have a
client of their own too). The key travels in the ``Authorization`` header only, never in
a URL (forks that want ``?key=`` are taken as not offering the route); ``/api/status`` is
public and is asked without it. No redirect is followed, bodies are read under a cap
after decompression, one deadline covers each exchange, and every failure is a typed
:data:`~vidwatch.core.gateway.billing_answer.Failure` with the key redacted: nothing
raises (cancellation aside). What the answers mean is
:mod:`vidwatch.core.gateway.billing_answer`.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Final, TypeVar, cast

import httpx

from vidwatch.core.gateway.billing_answer import (
    MAX_BILLING_BODY,
    MAX_LOG_BODY,
    Failure,
    LogPage,
    NotOffered,
    Subscription,
    TokenUsage,
    Unanswered,
    parse_log,
    parse_status,
    parse_subscription,
    parse_token_usage,
    parse_usage,
)
from vidwatch.core.gateway.http import BodyTooLarge, describe_error, new_client, read_capped
from vidwatch.core.model.money import Units
from vidwatch.core.text.urls import check_base_url

__all__ = [
    "CONNECTIONS",
    "LOG_PAGE_SIZE",
    "LOG_PATH",
    "STATUS_PATH",
    "SUBSCRIPTION_PATH",
    "TOKEN_USAGE_PATH",
    "USAGE_PATH",
    "BillingClient",
]

TOKEN_USAGE_PATH: Final = "/api/usage/token"  # noqa: S105 (a route, not a secret)
SUBSCRIPTION_PATH: Final = "/v1/dashboard/billing/subscription"
USAGE_PATH: Final = "/v1/dashboard/billing/usage"
LOG_PATH: Final = "/api/log/token"
STATUS_PATH: Final = "/api/status"
CONNECTIONS: Final = 2  # its own: never one of polling's
LOG_PAGE_SIZE: Final = 100  # what a paginated log is asked for (new-api's own answer: 100)

T = TypeVar("T")


class BillingClient:
    """One client for the billing routes of the gateway at ``base_url``."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 10.0,
        allow_insecure_http: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self.timeout = timeout
        self._key = api_key or ""
        headers = {"Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        self._http = new_client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            connections=CONNECTIONS,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"BillingClient({self.base_url!r}, key {'set' if self._key else 'not set'})"

    def redact(self, text: str) -> str:
        if self._key and len(self._key) >= 4 and self._key in text:
            return text.replace(self._key, "***")
        return text

    async def _get(
        self,
        path: str,
        cap: int,
        *,
        params: dict[str, str] | None = None,
        with_key: bool = True,
    ) -> tuple[int, bytes] | Failure:
        """One GET and its whole body (under ``cap``), within :attr:`timeout`."""
        headers = httpx.Headers(self._http.headers)
        if not with_key:
            headers.pop("Authorization", None)
        request = self._http.build_request("GET", path, params=params, headers=headers)
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._http.send(request, stream=True)
                try:
                    body = await read_capped(response, cap)
                finally:
                    await response.aclose()
        except BodyTooLarge:
            return NotOffered(f"an answer larger than {cap // 1024} KiB")
        except (httpx.TimeoutException, TimeoutError):
            return Unanswered(f"no answer in {self.timeout:g} s")
        except (httpx.HTTPError, OSError, ValueError) as exc:
            return Unanswered(self.redact(describe_error(exc)))
        except Exception as exc:  # never an exception out of here
            return Unanswered(self.redact(f"unexpected {type(exc).__name__}"))
        return response.status_code, body

    def redacted(self, failure: Failure) -> Failure:
        why = self.redact(failure.why)
        return failure if why == failure.why else type(failure)(why)

    async def units(self) -> Units | Failure:
        """How the site shows money (``/api/status``, asked without the key)."""
        got = await self._get(STATUS_PATH, MAX_BILLING_BODY, with_key=False)
        if not isinstance(got, tuple):
            return got
        return _redact(self, parse_status(*got))

    async def token_usage(self) -> TokenUsage | Failure:
        got = await self._get(TOKEN_USAGE_PATH, MAX_BILLING_BODY)
        if not isinstance(got, tuple):
            return got
        return _redact(self, parse_token_usage(*got))

    async def subscription(self) -> tuple[Subscription, Decimal] | Failure:
        """The OpenAI-style pair: the limit, and what was used (the site's unit)."""
        got = await self._get(SUBSCRIPTION_PATH, MAX_BILLING_BODY)
        if not isinstance(got, tuple):
            return got
        limit = _redact(self, parse_subscription(*got))
        if not isinstance(limit, Subscription):
            return limit
        got = await self._get(USAGE_PATH, MAX_BILLING_BODY)
        if not isinstance(got, tuple):
            return got
        used = _redact(self, parse_usage(*got))
        if not isinstance(used, Decimal):
            return used
        return limit, used

    async def log_page(self, page: int = 1) -> LogPage | Failure:
        """One page of the request log, newest first (new-api answers its last 100
        entries whatever is asked; forks that paginate take ``p`` and ``page_size``)."""
        params = {"p": str(page), "page_size": str(LOG_PAGE_SIZE)}
        got = await self._get(LOG_PATH, MAX_LOG_BODY, params=params)
        if not isinstance(got, tuple):
            return got
        return _redact(self, parse_log(*got))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> BillingClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _redact(client: BillingClient, answer: T) -> T:
    """A failure's words without the key (a route that echoes the header)."""
    if isinstance(answer, NotOffered | Unanswered):
        return cast("T", client.redacted(answer))
    return answer
