"""``vidwatch web``: the dashboard in a browser, through textual-serve, locked to its user.

textual-serve itself answers anyone who reaches the port: any web page the user visits
could open a WebSocket to ``ws://127.0.0.1:8000/ws`` and drive a dashboard that holds the
API key, and DNS rebinding gets past "loopback only". So every request must

- name a loopback host and our port in ``Host`` (no rebinding),
- come from our own page when it has an ``Origin`` (browsers always send one on a
  WebSocket, so other sites are refused), and
- carry the secret of this run: the printed address holds it as ``?token=…``; the first
  page load turns it into an HttpOnly, SameSite=Strict cookie for the rest.

On SIGTERM or Ctrl-C it stops within about a second and a half: every dashboard is
asked to quit (each saves its list), one that has not quit after
:data:`QUIT_SECONDS` gets SIGTERM (its own watchdog then saves and ends it), and
connections are not waited for any longer than that (aiohttp waits a minute).

textual-serve's one private name used, ``Server._make_app``, is here only, and
:meth:`GuardedServer.guarded_app` says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import secrets
import signal
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from textual_serve.server import Server

from vidwatch.core.text.urls import is_loopback_host

__all__ = ["WebGuard", "loopback_host", "serve"]

QUIT_SECONDS = 1.0  # dashboards asked to quit get this long before SIGTERM
SHUTDOWN_SECONDS = 0.3  # then connections still open are closed

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

REFUSED = (
    "vidwatch web: open the address that `vidwatch web` printed (it carries this run's token)."
)


def loopback_host(value: str) -> str:
    """``value`` if it names this machine's loopback (``localhost``, ``127.x``, ``::1``);
    raises ValueError otherwise."""
    if not is_loopback_host(value):
        raise ValueError(value)
    return value.strip().lower().removeprefix("[").removesuffix("]")


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class WebGuard:
    """The checks above, as aiohttp middleware."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.cookie = f"vidwatch_{port}"  # cookies ignore ports: one name per server
        self.address = f"{url_host(host)}:{port}"
        names = {url_host(host), "localhost", "127.0.0.1", "[::1]"}
        self.hosts = {f"{name}:{port}" for name in names}
        if port == 80:  # browsers leave the default port out
            self.hosts |= names
        self.origins = {f"http://{h}" for h in self.hosts}
        self.sessions: set[asyncio.Task[object]] = set()  # one per dashboard (a WebSocket)

    @property
    def url(self) -> str:
        return f"http://{self.address}/?token={self.token}"

    def _has(self, value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), self.token.encode())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Host", "").lower() not in self.hosts:
            return web.Response(status=403, text="vidwatch web: unknown host name.\n")
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() not in self.origins:
            return web.Response(status=403, text="vidwatch web: other sites may not connect.\n")
        if self._has(request.query.get("token")):
            response = await handler(request)
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")
            return response
        if not self._has(request.cookies.get(self.cookie)):
            return web.Response(status=403, text=REFUSED + "\n")
        session = asyncio.current_task()
        if request.path != "/ws" or session is None:
            return await handler(request)
        self.sessions.add(session)
        try:
            return await handler(request)
        finally:
            self.sessions.discard(session)


class GuardedServer(Server):
    """textual-serve with :class:`WebGuard` in front and its own start-up chatter off."""

    def __init__(self, command: str, host: str, port: int, guard: WebGuard) -> None:
        public = f"http://{url_host(host)}:{port}"
        super().__init__(command, host=host, port=port, title="vidwatch", public_url=public)
        self.guard = guard
        self.interrupted = False  # stopped by Ctrl-C or SIGTERM (exit 130, not 0)

    def request_exit(self) -> None:
        self.interrupted = True
        super().request_exit()

    async def guarded_app(self) -> web.Application:
        """textual-serve's application (its pages, static files and WebSocket) with the
        guard in front. textual-serve builds it in ``Server._make_app``, its one private
        name used here: it has no public way to add a middleware, and no other way to
        get its routes. ``serve`` below calls it; nothing in textual-serve does (its own
        ``serve`` is replaced), and tests/test_dependencies.py checks it is still there
        (textual-serve is pinned to its major version)."""
        app = await self._make_app()
        app.middlewares.append(self.guard.middleware)
        return app

    def initialize_logging(self) -> None:
        # Not textual-serve's rich tracebacks with locals: warnings only, plainly.
        logging.basicConfig(level=logging.WARNING, format="vidwatch web: %(message)s")

    async def on_startup(self, app: web.Application) -> None:
        pass  # the CLI prints the address, with its token

    async def on_shutdown(self, app: web.Application) -> None:
        """Stop the dashboards, quickly. Cancelling a session makes textual-serve ask its
        dashboard to quit; we wait for the dashboards themselves (not for browsers to
        answer the WebSocket's close), and one still running after QUIT_SECONDS gets
        SIGTERM and is not waited for."""
        sessions = set(self.guard.sessions)
        for session in sessions:
            session.cancel()
        if not sessions:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + QUIT_SECONDS
        children = _children()
        if children is None:  # cannot see them here: wait for the sessions instead
            await asyncio.wait(sessions, timeout=QUIT_SECONDS)
            return
        while children and loop.time() < deadline:
            await asyncio.sleep(0.05)
            children = _children() or []
        for pid in children:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)

    def serve(self, debug: bool = False) -> None:
        """textual-serve's serve(), with a short shutdown (aiohttp waits a minute for open
        connections, and a browser keeps its WebSocket open)."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_exit)
        web.run_app(
            self.guarded_app(),
            host=self.host,
            port=self.port,
            handle_signals=False,
            loop=loop,
            print=None,
            shutdown_timeout=SHUTDOWN_SECONDS,
        )


def _children() -> list[int] | None:
    """This process's live children, or None where the system does not say (Linux does)."""
    pids: list[int] = []
    try:
        for task in Path("/proc/self/task").iterdir():
            pids += [int(p) for p in (task / "children").read_text().split()]
    except (OSError, ValueError):
        return None
    return pids


def serve(command: str, host: str, port: int, announce: Callable[[str], None]) -> bool:
    """Serve ``command`` (the dashboard) until interrupted; ``announce`` gets the URL once
    the port is known to be free. Returns whether a signal stopped it. Raises OSError
    when the address cannot be used."""
    _check_free(host, port)
    guard = WebGuard(host, port, secrets.token_urlsafe(18))
    announce(guard.url)
    server = GuardedServer(command, host, port, guard)
    server.serve()
    return server.interrupted


def _check_free(host: str, port: int) -> None:
    """Bind the address once, so a busy port fails before a URL is printed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
        probe.bind((host, port))
