"""``vidwatch web``: the dashboard in headless Chromium, through textual-serve on loopback."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from tests.cdp import chromium

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


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
async def test_the_dashboard_loads_in_a_browser_and_shows_its_rows(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    port = free_port()
    home = tmp_path / "home"
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "web", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # textual-serve starts the dashboard in a child of its own
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)
        async with chromium(CHROMIUM) as page:
            await page.call("Page.navigate", url=url)
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
        shot = Path(os.environ.get("VIDWATCH_WEB_SHOT", tmp_path / "web.png"))
        shot.write_bytes(png)
        assert Image.open(shot).size[0] == 1400
        assert text_bands(png) >= 30  # the 36 demo rows, the header, the footer
        log = (home / "state" / "vidwatch" / "vidwatch.log").read_text(encoding="utf-8")
        assert "dashboard on 36 tasks" in log
        assert "demo" in log
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
