"""The browser view in a real browser: headless Chromium (Debian's) driven by Playwright loads the page with
the printed token, sees the queue, sends a key and sees its effect, on the page and in the service. Requests
without the token are refused."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from drapto_tui.engine.api import Core
from drapto_tui.service.client import ServiceClient
from tests.media_helpers import MediaFactory
from tests.service.conftest import Service, clip, wait_for

CHROMIUM = "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (apt install chromium)"
)
CSI = re.compile(r"\x1b\[[0-9;?$]*[A-Za-z]")


async def test_the_app_in_a_browser(service: Service, media: MediaFactory, tmp_path: Path) -> None:
    film = media.copy_to(clip(media, 2), tmp_path / "films", "browser-film.mkv")
    assert service.cli("service", "start").returncode == 0
    viewer = await ServiceClient.connect(service.config(), client="test")
    await viewer.call(Core.toggle_pause_all)  # the queue holds still while the browser looks at it
    viewer.add_paths([film])
    await wait_for(lambda: len(viewer.jobs()) == 1, what="the job")
    web = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "drapto_tui", "web", "--port", "0", *service.args()),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert web.stdout is not None
        line = (await asyncio.wait_for(web.stdout.readline(), 60)).decode()
        found = re.search(r"(http://127\.0\.0\.1:\d+/)\?token=([\w-]+)", line)
        assert found, line
        base, token = found.groups()
        for bad in (base, f"{base}?token=wrong", f"{base}static/js/textual.js"):
            assert await asyncio.to_thread(_status, bad) == 403
        screen: list[str] = []
        async with playwright.async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
            )
            page = await browser.new_page(viewport={"width": 1100, "height": 700})
            outside: list[str] = []  # the page must need nothing but this server: no network at all

            async def offline(route) -> None:
                if route.request.url.startswith(base):
                    await route.continue_()
                else:
                    outside.append(route.request.url)
                    await route.abort()

            await page.route("**/*", offline)

            def on_socket(ws) -> None:
                ws.on(
                    "framereceived",
                    lambda f: screen.append(f if isinstance(f, str) else f.decode(errors="replace")),
                )

            page.on("websocket", on_socket)
            response = await page.goto(f"{base}?token={token}")
            assert response is not None and response.status == 200

            def shown() -> str:
                return CSI.sub("", "".join(screen))

            await wait_for(lambda: "browser-film.mkv" in shown(), what="the queue in the browser", timeout=60)
            loaded = await page.evaluate(
                "document.fonts.ready.then(() => [...document.fonts]"
                ".filter(f => f.family.includes('Roboto Mono') && f.status === 'loaded').length)"
            )
            assert loaded >= 1 and outside == [], (loaded, outside)  # its own font, served here
            apps = [p for p in psutil.Process(web.pid).children() if p.status() != psutil.STATUS_ZOMBIE]
            assert len(apps) == 1
            assert "PAUSED" in shown()
            await page.mouse.click(500, 200)
            await page.keyboard.press("P")  # resume all, from the browser
            await wait_for(lambda: not viewer.paused_all, what="the key's effect in the service", timeout=30)
            screen.clear()
            await page.keyboard.press("P")  # and pause again: the page shows it
            await wait_for(lambda: "PAUSED" in shown(), what="PAUSED on the page", timeout=30)
            await wait_for(lambda: viewer.paused_all, what="the service paused again", timeout=30)
            await page.screenshot(path=str(tmp_path / "browser.png"))
            await browser.close()
        # The browser is gone: so is its tab's app (and it no longer counts as an attached viewer).
        await wait_for(lambda: not any(_alive(p) for p in apps), what="the tab's app to end", timeout=8)
        await wait_for(lambda: viewer.clients == 1, what="the service to count one client", timeout=10)
    finally:
        web.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(web.wait(), 30) == 0
        await viewer.close()


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return err.code
