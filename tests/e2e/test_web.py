"""``vidwatch web``: the dashboard in headless Chromium, through textual-serve on loopback."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from tests.support.cdp import chromium

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def text_bands(png: bytes) -> int:
    """How many 16-pixel bands of the left half hold bright (text) pixels."""
    image = Image.open(BytesIO(png)).convert("L")
    width, height = image.size
    bands = 0
    for top in range(0, height - 16, 16):
        crop = image.crop((0, top, width // 2, top + 16))
        if sum(1 for value in crop.tobytes() if value > 150) > 40:
            bands += 1
    return bands


def picture_pixels(png: bytes) -> int:
    """How many pixels of the right half are vividly coloured: a still drawn in
    half-blocks (text, even coloured state words, is thin and mostly grey)."""
    image = Image.open(BytesIO(png)).convert("HSV")
    width, height = image.size
    right = image.crop((width // 2, 0, width, height))
    data = right.tobytes()  # H, S, V for each pixel
    return sum(1 for at in range(0, len(data), 3) if data[at + 1] > 90 and data[at + 2] > 90)


class WebServer:
    """``vidwatch web --demo`` in its own process group, on a free port."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.home = home
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_STATE_HOME": str(home / "state"),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vidwatch", "web", "--demo", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # textual-serve starts the dashboard in a child of its own
        )
        assert self.process.stderr is not None
        line = self.process.stderr.readline()  # "vidwatch web: open URL in a browser …"
        match = re.search(r"open (http://\S+) in a browser", line)
        assert match, line
        self.url = match.group(1)
        self.base = f"http://127.0.0.1:{self.port}"

    async def ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    assert response.status == 200
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.process.poll() is not None:
            return self.process.returncode
        os.killpg(self.process.pid, sig)
        try:
            return self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return None


async def test_only_the_printed_address_reaches_the_dashboard(tmp_path: Path) -> None:
    """Other web pages (Origin), DNS rebinding (Host) and other local users (no token)
    are refused; the printed address works and its cookie opens the WebSocket."""
    server = WebServer(tmp_path / "home")
    try:
        await server.ready()
        assert "token=" in server.url
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(server.base + "/") as bare:
                assert bare.status == 403
                assert "printed" in await bare.text()
            async with http.get(server.base + "/?token=wrong") as guessed:
                assert guessed.status == 403
            query = server.url.split("?", 1)[1]
            rebound = {"Host": f"evil.example:{server.port}"}
            async with http.get(f"{server.base}/?{query}", headers=rebound) as response:
                assert response.status == 403
            with pytest.raises(aiohttp.WSServerHandshakeError):  # no cookie yet
                await http.ws_connect(server.base + "/ws")
            async with http.get(server.url) as page:
                assert page.status == 200
                assert "ws://127.0.0.1" in await page.text()
            evil = {"Origin": "https://evil.example"}
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(server.base + "/ws", headers=evil)
            assert refused.value.status == 403
            own = {"Origin": server.base}
            async with http.ws_connect(server.base + "/ws?width=80&height=24", headers=own) as ws:
                await ws.send_json(["ping", "x"])
                message = await ws.receive(timeout=20)
                assert message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)
        async with aiohttp.ClientSession() as stranger:  # another user: no cookie
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await stranger.ws_connect(server.base + "/ws", headers={"Origin": server.base})
        assert server.stop(signal.SIGINT) == 130  # Ctrl-C: "interrupted", as documented
    finally:
        server.stop()


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
async def test_the_dashboard_loads_in_a_browser_and_shows_its_rows(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    home = tmp_path / "home"
    server = WebServer(home)
    try:
        await server.ready()
        async with chromium(CHROMIUM, tmp_path) as page:
            await page.call("Page.navigate", url=server.url)
            connected = False
            for _ in range(120):
                await asyncio.sleep(0.25)
                connected = await page.evaluate("document.body.classList.contains('-first-byte')")
                if connected:
                    break
            assert connected, "the page never received the dashboard"
            png = b""
            for _ in range(40):  # until the rows are painted
                await asyncio.sleep(0.5)
                png = await page.screenshot()
                if text_bands(png) >= 30:
                    break
            rows = png
            # The first row's job finishes in the demo: its still appears above the
            # detail pane, drawn in half-blocks (the browser shows cells, not graphics).
            vivid = 0
            for _ in range(120):
                await asyncio.sleep(0.5)
                png = await page.screenshot()
                vivid = picture_pixels(png)
                if vivid > 20_000:
                    break
        shot = Path(os.environ.get("VIDWATCH_WEB_SHOT", tmp_path / "web.png"))
        shot.write_bytes(png)
        assert Image.open(shot).size[0] == 1400
        assert text_bands(rows) >= 30  # the 36 demo rows, the header, the footer
        assert vivid > 20_000, f"no still drawn in the browser ({vivid} vivid pixels)"
        log = (home / "state" / "vidwatch" / "vidwatch.log").read_text(encoding="utf-8")
        assert "dashboard on 36 tasks" in log
        assert "demo" in log
    finally:
        server.stop()


def children_of(pid: int) -> list[int]:
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


def gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")  # ended, not yet reaped


async def until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
async def test_sigterm_stops_the_server_and_its_dashboards_at_once(tmp_path: Path) -> None:
    """A browser keeps its WebSocket open and answers pings: aiohttp alone waits a minute
    for it. The server must stop within about a second, its dashboards with it."""
    server = WebServer(tmp_path / "home")
    try:
        await server.ready()
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(server.url) as page:
                assert page.status == 200
            own = {"Origin": server.base}
            async with http.ws_connect(server.base + "/ws?width=80&height=24", headers=own) as ws:
                await ws.receive(timeout=20)  # the dashboard is running

                async def browse() -> None:  # read everything, as a browser does
                    async for _ in ws:
                        pass

                browser = asyncio.create_task(browse())
                dashboards = children_of(server.process.pid)
                assert dashboards
                sent = time.monotonic()
                os.kill(server.process.pid, signal.SIGTERM)
                await until(lambda: server.process.poll() is not None, timeout=10)
                print(f"vidwatch web: SIGTERM to exit {time.monotonic() - sent:.2f} s")
                await until(lambda: all(gone(pid) for pid in dashboards), timeout=10)
                browser.cancel()
        assert server.process.returncode == 130
    finally:
        server.stop()
