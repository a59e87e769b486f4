"""A gateway that routes as new-api does, for tests of what a wrong base URL and an unknown
task come to (issue 16): the route is looked at first (an unknown one is a 404 ``Invalid
URL (GET /v1/v1/video/query)``, whatever the key), then the key (401), then the task (400
``task_not_exist``). Bodies as ``shared/captures/query-answers.json`` and ``shared/api.md``
have them. Served through ``httpx.MockTransport`` (:meth:`RoutedGateway.transport`) or on
a loopback port (:class:`LoopbackGateway`: HTTP/1.0, a connection per request), and, with
``proxy_page``, as a proxy in front that answers its own HTML 404 page.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

QUERY = "/v1/video/query"
NGINX_404 = (
    b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not "
    b"Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass
class RoutedGateway:
    key: str
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    proxy_page: bool = False  # a proxy answers unknown paths with its own HTML page
    paths: list[str] = field(default_factory=list)  # every path asked, in order
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def answer(
        self, method: str, path: str, query: str, authorization: str
    ) -> tuple[int, str, bytes]:
        """(status, content type, body) for one request."""
        with self.lock:
            self.paths.append(path)
        if (method, path) != ("GET", QUERY):
            if self.proxy_page:
                return 404, "text/html", NGINX_404
            error = {
                "message": f"Invalid URL ({method} {path})",
                "type": "invalid_request_error",
                "param": "",
                "code": "",
            }
            return 404, "application/json", json.dumps({"error": error}).encode()
        if authorization != f"Bearer {self.key}":
            error = {"message": "无效的令牌 (request id: 20260101)", "type": "new_api_error"}
            return 401, "application/json", json.dumps({"error": error}).encode()
        task_id = parse_qs(query).get("id", [""])[0]
        body = self.tasks.get(task_id)
        if body is None:
            gone = {"code": "task_not_exist", "message": "task_not_exist", "data": None}
            return 400, "application/json", json.dumps(gone).encode()
        return 200, "application/json", json.dumps({"id": task_id, **body}).encode()

    def handler(self, request: httpx.Request) -> httpx.Response:
        status, kind, body = self.answer(
            request.method,
            request.url.path,
            request.url.query.decode(),
            request.headers.get("authorization", ""),
        )
        return httpx.Response(status, headers={"Content-Type": kind}, content=body)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def asked(self, path: str) -> int:
        with self.lock:
            return self.paths.count(path)


class LoopbackGateway:
    """:class:`RoutedGateway` on a loopback port (``with`` starts and stops it)."""

    def __init__(self, gateway: RoutedGateway) -> None:
        self.gateway = gateway
        routed = gateway

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                status, kind, body = routed.answer(
                    "GET", parts.path, parts.query, self.headers.get("Authorization", "")
                )
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> LoopbackGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
