"""The QuickRouter client: one send path for every call to the gateway.

``GET /v1/video/query`` (:meth:`QueryClient.query`) and ``POST /v1/video/create``
(:meth:`QueryClient.create`) go through :meth:`QueryClient._send`: one request on the
client from
:func:`vidwatch.core.gateway.http.new_client` (no redirects, so the key never follows one to
another host; no proxy from the environment), the body read while it streams and cut at
:data:`~vidwatch.core.gateway.parsing.MAX_BODY` after decompression, one deadline for the whole
exchange, and every failure turned into a typed :data:`~vidwatch.core.gateway.outcomes.Outcome`
with the key redacted. No exception escapes (cancellation aside).

A create is sent once per call, never again by the transport (aiohttp retries only
idempotent methods on a dropped keep-alive connection), and on a connection opened for
it (a client of its own, ``purpose="create"``), never on one of polling's kept-alive
connections, which the server may close without a word just as the create is written.
Whether a create that got no answer can have made a job is decided from the exception
(:func:`~vidwatch.core.gateway.create_answer.classify_transport_error`): not written whole,
not sent; else uncertain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import urlencode

import httpx

from vidwatch.core.gateway import create_answer as created
from vidwatch.core.gateway.create_answer import (
    CreateOutcome,
    NoAnswer,
    SendFate,
    classify_transport_error,
    parse_create_response,
)
from vidwatch.core.gateway.http import (
    BodyTooLarge,
    Purpose,
    describe_error,
    new_client,
    read_capped,
)
from vidwatch.core.gateway.outcomes import (
    AuthRejected,
    BadResponse,
    NetworkError,
    NotFound,
    Ok,
    Outcome,
    RateLimited,
    ServerError,
    WrongUrl,
)
from vidwatch.core.gateway.parsing import MAX_BODY, parse_response
from vidwatch.core.model import fields
from vidwatch.core.model.records import TaskResult
from vidwatch.core.text.urls import check_base_url

__all__ = ["CREATE_PATH", "QUERY_PATH", "QueryClient"]

QUERY_PATH: Final = "/v1/video/query"
CREATE_PATH: Final = "/v1/video/create"
URL_CACHE: Final = 20_000  # parsed request URLs kept: one per watched task


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer, read whole and under the cap."""

    status: int
    headers: httpx.Headers
    body: bytes


class QueryClient:
    """One long-lived client for the gateway: keep-alive connections for queries, a new
    connection for each create, the key in the ``Authorization`` header, the headers the
    provider's page lists for every call. ``transport`` (tests) serves both."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 20.0,
        connections: int = 16,
        allow_insecure_http: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._timeout = timeout
        self._timeouts = httpx.Timeout(timeout, connect=min(timeout, 10.0)).as_dict()
        self._key = ""
        self._urls: dict[tuple[object, ...], httpx.URL] = {}

        def client(purpose: Purpose) -> httpx.AsyncClient:
            return new_client(
                base_url=self.base_url,
                headers={"Accept": "application/json", "Content-Type": "application/json"},
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                connections=connections,
                purpose=purpose,
                transport=transport,
            )

        self._http = client("api")
        self._creates = client("create")
        self.set_key(api_key)

    def __repr__(self) -> str:
        return f"QueryClient({self.base_url!r}, key {'set' if self._key else 'not set'})"

    @property
    def has_key(self) -> bool:
        return bool(self._key)

    def set_key(self, api_key: str | None) -> None:
        """Use a new key from the next request on."""
        self._key = api_key or ""
        for http in (self._http, self._creates):
            if api_key:
                http.headers["Authorization"] = f"Bearer {api_key}"
            else:
                http.headers.pop("Authorization", None)

    def redact(self, text: str) -> str:
        """Remove the key from text that may echo it (server messages, exceptions)."""
        if self._key and len(self._key) >= 4 and self._key in text:
            return text.replace(self._key, "***")
        return text

    async def query(self, task_id: str) -> Outcome:
        """Ask for one task. Never raises (cancellation aside)."""
        reply = await self._send("GET", QUERY_PATH, params={"id": task_id})
        if not isinstance(reply, Reply):
            return reply
        outcome = parse_response(reply.status, reply.headers, reply.body)
        if isinstance(outcome, WrongUrl):  # say which address, and what the base URL was
            outcome = replace(outcome, url=self.base_url + QUERY_PATH, base_url=self.base_url)
        return self._redacted(outcome)

    async def create(self, body: Mapping[str, Any]) -> CreateOutcome:
        """Send one create, once. Never raises (cancellation aside): a lost answer is
        :class:`~vidwatch.core.gateway.create_answer.NoAnswer`, ``NOT_SENT`` only when it was
        not written whole. ``body`` never holds the key (the header does)."""
        reply = await self._send("POST", CREATE_PATH, json=dict(body), create=True)
        if isinstance(reply, Reply):
            outcome = parse_create_response(reply.status, reply.headers, reply.body)
            if isinstance(outcome, WrongUrl):  # as `check` says it: the address, the fix
                outcome = replace(outcome, url=self.base_url + CREATE_PATH, base_url=self.base_url)
        elif isinstance(reply, BadResponse):  # an answer came, but too large to read
            outcome = created.CreateBadResponse(0, reply.reason)
        else:
            fate = SendFate.NOT_SENT if reply.not_sent else SendFate.UNCERTAIN
            outcome = NoAnswer(fate, reply.reason)
        return self._redacted_create(outcome)

    def _redacted_create(self, outcome: CreateOutcome) -> CreateOutcome:
        if not self._key:
            return outcome
        if isinstance(outcome, created.CreateBadResponse):
            answered = self.redact(outcome.answered_id)
            return replace(outcome, reason=self.redact(outcome.reason), answered_id=answered)
        if isinstance(outcome, NoAnswer):
            return replace(outcome, reason=self.redact(outcome.reason))
        if isinstance(outcome, WrongUrl):
            return replace(outcome, detail=self.redact(outcome.detail))
        if isinstance(outcome, created.Created):
            if self.redact(outcome.task_id) != outcome.task_id:  # a gateway echoing the key
                why = "the gateway answered with an ID that holds the API key"
                return created.CreateBadResponse(200, why, self.redact(outcome.task_id))
            result = outcome.result
            if result is not None and _mentions(result, self._key):  # as a query's answer
                return replace(outcome, result=fields.redact_record(result, self.redact))
            return outcome  # the ID passed the one ID rule
        return replace(outcome, message=self.redact(outcome.message))

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        create: bool = False,
    ) -> Reply | BadResponse | NetworkError:
        """One request and its whole answer, within the deadline and the body cap; every
        failure is an outcome, its text redacted. ``json`` is a request body (a POST).
        ``create``: on the creates' client, a connection opened for this request and
        closed after it (``Connection: close`` says so to any transport)."""
        http = self._creates if create else self._http
        headers = http.headers
        if create:
            headers = httpx.Headers(headers)
            headers["Connection"] = "close"
        try:
            async with asyncio.timeout(self._timeout):
                # Built here rather than by build_request (three URL parses per poll): the
                # client's headers and timeouts, and the URL parsed once per task.
                request = httpx.Request(
                    method,
                    self._url(path, params),
                    headers=headers,
                    json=json,
                    extensions={"timeout": self._timeouts},
                )
                response = await http.send(request, stream=True)
                try:
                    body = await read_capped(response, MAX_BODY)
                finally:
                    await response.aclose()
                return Reply(response.status_code, response.headers, body)
        except BodyTooLarge:
            return BadResponse(f"body larger than {MAX_BODY // 1024} KiB")
        except (httpx.TimeoutException, TimeoutError) as exc:
            return NetworkError("no answer in time", timeout=True, not_sent=_not_sent(exc))
        except (httpx.HTTPError, OSError, ValueError) as exc:
            return NetworkError(self.redact(describe_error(exc)), not_sent=_not_sent(exc))
        except Exception as exc:
            return NetworkError(self.redact(f"unexpected {type(exc).__name__}"))

    def _url(self, path: str, params: Mapping[str, str] | None) -> httpx.URL:
        """The request URL, parsed and checked by httpx once and then kept: the same
        tasks are asked for again and again, and parsing costs more than the rest of
        building a request. At most :data:`URL_CACHE` are kept (~650 bytes each)."""
        key = (path, *params.items()) if params else (path,)
        url = self._urls.get(key)
        if url is None:
            if len(self._urls) >= URL_CACHE:
                self._urls.clear()
            query = f"?{urlencode(params)}" if params else ""
            url = self._urls[key] = httpx.URL(self.base_url + path + query)
        return url

    def _redacted(self, outcome: Outcome) -> Outcome:
        if not self._key or (isinstance(outcome, Ok) and not _mentions(outcome.result, self._key)):
            return outcome
        if isinstance(outcome, Ok):  # every text field, from the record's one field list
            return Ok(fields.redact_record(outcome.result, self.redact), outcome.poll_after)
        if isinstance(outcome, AuthRejected | NotFound | WrongUrl | ServerError | RateLimited):
            return _replace_detail(outcome, self.redact(outcome.detail))
        if isinstance(outcome, BadResponse):
            return BadResponse(self.redact(outcome.reason), outcome.status)
        return NetworkError(self.redact(outcome.reason), outcome.timeout)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._creates.aclose()

    async def __aenter__(self) -> QueryClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _not_sent(exc: BaseException) -> bool:
    return classify_transport_error(exc) is SendFate.NOT_SENT


def _mentions(result: TaskResult, key: str) -> bool:
    return fields.mentions(result, key)


def _replace_detail(
    outcome: AuthRejected | NotFound | WrongUrl | ServerError | RateLimited, detail: str
) -> Outcome:
    return replace(outcome, detail=detail)
