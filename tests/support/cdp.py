"""A small Chrome DevTools Protocol client for the browser test (headless Chromium).

Chromium from Debian's ``chromium`` package; no downloads, no extra packages: aiohttp
speaks the websocket. Started with the flags this machine's closed network needs.
"""

from __future__ import annotations

import base64
import contextlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
)


@dataclass
class Page:
    ws: aiohttp.ClientWebSocketResponse
    counter: int = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.counter += 1
        await self.ws.send_json({"id": self.counter, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json()
            if message.get("id") == self.counter:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def screenshot(self) -> bytes:
        result = await self.call("Page.captureScreenshot", format="png")
        return base64.b64decode(result["data"])


@asynccontextmanager
async def chromium(
    binary: str, folder: Path, width: int = 1400, height: int = 900
) -> AsyncIterator[Page]:
    """A headless Chromium whose profile lives in ``folder`` (the test's), and goes."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=folder)
    process = subprocess.Popen(
        [
            binary,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        endpoint = ""
        for line in process.stderr:
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                endpoint = found.group(1)
                break
        port = re.search(r":(\d+)/", endpoint)
        assert port, "Chromium did not start its DevTools endpoint"
        async with aiohttp.ClientSession() as session:
            listing = await session.get(f"http://127.0.0.1:{port.group(1)}/json/list")
            targets = await listing.json()
            target = next(t for t in targets if t["type"] == "page")
            async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                page = Page(ws)
                await page.call("Page.enable")
                yield page
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        shutil.rmtree(profile, ignore_errors=True)  # the browser's profile goes with it
