"""The browser view against tabs that ask too much, too many tabs, tabs that vanish, another site's page, and a
Ctrl+C or SIGTERM with sessions open. A real `drapto-tui web` and websocket clients (aiohttp's, as a script or
an attacker would write one); the app processes are found as the web command's children."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import psutil

from tests.service.conftest import Service, wait_for


@dataclass
class Web:
    process: asyncio.subprocess.Process
    base: str
    token: str

    def url(self, path: str = "", **query: object) -> str:
        params = "&".join(f"{k}={v}" for k, v in {"token": self.token, **query}.items())
        return f"{self.base}{path}?{params}"

    def apps(self) -> list[psutil.Process]:
        """The app processes of its tabs (and anything they started), zombies left out."""
        try:
            found = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return [p for p in found if _alive(p)]


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@asynccontextmanager
async def serving(service: Service, *extra: str) -> AsyncIterator[Web]:
    assert service.cli("service", "start").returncode == 0
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "drapto_tui", "web", "--port", "0", *service.args(), *extra),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
    found = re.search(r"(http://127\.0\.0\.1:\d+/)\?token=([\w-]+)", line)
    assert found, line
    web = Web(process, *found.groups())
    try:
        yield web
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        for app in web.apps():
            app.kill()


async def _open_tab(
    session: aiohttp.ClientSession, web: Web, *, width: int = 80, height: int = 24, origin: str | None = None
) -> aiohttp.ClientWebSocketResponse:
    headers = {"Origin": origin if origin is not None else web.base.rstrip("/")}
    return await session.ws_connect(web.url("ws", width=width, height=height), headers=headers)


async def _screen_bytes(ws: aiohttp.ClientWebSocketResponse, at_least: int, timeout: float = 60) -> int:
    got, end = 0, time.monotonic() + timeout
    while got < at_least and time.monotonic() < end:
        with_timeout = max(0.1, end - time.monotonic())
        message = await ws.receive(timeout=with_timeout)
        if message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
            got += len(message.data)
        elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            break
    return got


async def test_a_huge_terminal_is_clamped(service: Service) -> None:
    """width=100000&height=100000, then a resize to the same: the app gets 500x200 at most and stays small."""
    async with serving(service) as web, aiohttp.ClientSession() as session:
        ws = await _open_tab(session, web, width=100000, height=100000)
        await wait_for(lambda: len(web.apps()) == 1, timeout=30, what="the tab's app")
        (app,) = web.apps()
        # Seen between its fork and its exec, the child still has the server's environment: wait for the app's.
        await wait_for(lambda: "ROWS" in app.environ(), timeout=30, what="the app's exec")
        env = app.environ()
        assert (env["COLUMNS"], env["ROWS"]) == ("500", "200")
        assert await _screen_bytes(ws, 1000) >= 1000  # it draws
        await ws.send_json(["resize", {"width": 100000, "height": 100000}])
        await asyncio.sleep(8)
        assert app.memory_info().rss < 600 * 1024 * 1024, app.memory_info().rss
        await ws.close()


#: A tab in a process of its own, so that it can vanish the way a killed browser's does (no close frame).
TAB_SCRIPT = """
import asyncio, sys, aiohttp
async def main():
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(sys.argv[1], headers={"Origin": sys.argv[2]})
        print("open", flush=True)
        async for _ in ws:
            pass
asyncio.run(main())
"""


async def test_sessions_are_capped_and_a_closed_tab_ends_its_app(service: Service) -> None:
    async with serving(service, "--set", "web.max_sessions=2") as web, aiohttp.ClientSession() as session:
        browser = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            TAB_SCRIPT,
            web.url("ws"),
            web.base.rstrip("/"),
            stdout=asyncio.subprocess.PIPE,
        )
        assert browser.stdout is not None and await browser.stdout.readline() == b"open\n"
        tab = await _open_tab(session, web)
        assert await _screen_bytes(tab, 200) >= 200
        await wait_for(lambda: len(_tops(web)) == 2, timeout=30, what="two apps")
        # The third tab: a page that says why, and no app process.
        async with session.get(web.url()) as page:
            assert page.status == 503
            assert "all 2 browser sessions are in use (web.max_sessions = 2)" in await page.text()
        try:
            await session.ws_connect(web.url("ws"), headers={"Origin": web.base.rstrip("/")})
            raise AssertionError("a third websocket was accepted")
        except aiohttp.WSServerHandshakeError as err:
            assert err.status == 503
        assert len(_tops(web)) == 2
        # Each app leads a process group of its own, ended with it.
        assert all(os.getpgid(p.pid) == p.pid for p in _tops(web))
        # A browser killed outright (no close frame), and a tab closed: both apps end within seconds.
        browser.kill()
        await browser.wait()
        await tab.close()
        await wait_for(lambda: not web.apps(), timeout=8, what="every gone tab's app to end")
        again = await _open_tab(session, web)  # the slots are free again
        assert await _screen_bytes(again, 200) >= 200
        await again.close()


def _tops(web: Web) -> list[psutil.Process]:
    return [p for p in web.apps() if p.ppid() == web.process.pid]


async def test_a_websocket_from_another_sites_page_is_refused(service: Service) -> None:
    async with serving(service) as web, aiohttp.ClientSession() as session:
        for origin in ("http://evil.example", "http://127.0.0.1:1", "null"):
            try:
                await _open_tab(session, web, origin=origin)
                raise AssertionError(f"origin {origin} was accepted")
            except aiohttp.WSServerHandshakeError as err:
                assert err.status == 403
        assert web.apps() == []
        ws = await _open_tab(session, web)  # the page's own origin
        assert await _screen_bytes(ws, 200) >= 200
        await ws.close()


async def test_sigterm_and_ctrl_c_end_every_session_within_five_seconds(service: Service) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        async with serving(service) as web, aiohttp.ClientSession() as session:
            tabs = [await _open_tab(session, web) for _ in range(3)]
            for ws in tabs:
                assert await _screen_bytes(ws, 200) >= 200
            apps = web.apps()
            assert len([p for p in apps if p.ppid() == web.process.pid]) == 3
            started = time.monotonic()
            web.process.send_signal(sig)
            assert await asyncio.wait_for(web.process.wait(), 5) == 0
            await wait_for(
                lambda apps=apps: not [p for p in apps if _alive(p)],
                timeout=max(0.5, 5 - (time.monotonic() - started)),
                what="the apps to end with the web command",
            )
            assert time.monotonic() - started < 5
