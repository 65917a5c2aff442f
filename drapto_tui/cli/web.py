"""`drapto-tui web`: the app in a browser, served by textual-serve, as one more client of the service.

Each browser tab runs its own `drapto-tui` app process (a client of the service, like a terminal's), so a tab,
a terminal over SSH and another tab all see and steer the same queue. Closing a tab detaches its app.

Safety: bound to 127.0.0.1 unless another address is asked for; every request needs the random token from the
URL this command prints (the page's first load moves it into a same-site, HTTP-only cookie, which the page's own
requests and its websocket then carry). The app processes are started from an argument list, never a shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

COOKIE = "drapto_tui_token"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _ExecAppService(AppService):
    """textual-serve's app process, started from an argument list (its own starts a shell command line)."""

    def __init__(self, argv: list[str], **kwargs: Any) -> None:
        super().__init__(shlex.join(argv), **kwargs)
        self.argv = argv

    async def _open_app_process(self, width: int = 80, height: int = 24) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
        )
        self._process = process
        assert process.stdin is not None
        self._stdin = process.stdin
        return process


class WebView(Server):
    def __init__(self, argv: list[str], *, host: str, port: int, token: str) -> None:
        super().__init__(shlex.join(argv), host=host, port=port, title="drapto-tui")
        self.argv = argv
        self.token = token

    def _allowed(self, request: web.Request) -> bool:
        given = request.query.get("token") or request.cookies.get(COOKIE) or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._allowed(request):
            return web.Response(
                status=403, text="drapto-tui: forbidden; open the URL that `drapto-tui web` printed\n"
            )
        response = await handler(request)
        if request.query.get("token") and not response.prepared:
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
        return response

    async def on_startup(self, app: web.Application) -> None:
        """Quiet: `run` prints the one line a user needs (the URL with its token)."""

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        return app

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One browser tab: one app process, fed the tab's keys and sizes, its screen sent back."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = _int(request.query.get("width"), 80)
        height = _int(request.query.get("height"), 24)
        await websocket.prepare(request)
        service = _ExecAppService(
            self.argv,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
            debug=self.debug,
        )
        try:
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            await websocket.close()
        finally:
            await service.stop()
        return websocket

    async def run(self, on_ready: Callable[[str], None]) -> None:
        """Serve until SIGINT or SIGTERM; `on_ready` gets the URL (with its token) once the port is bound."""
        runner = web.AppRunner(await self._make_app(), handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.public_url = f"http://{host}:{self.port}"
        on_ready(f"{self.public_url}/?token={self.token}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            with contextlib.suppress(Exception):
                await runner.cleanup()


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def web_command(config_args: list[str], *, host: str, port: int) -> int:
    """Serve the app; each tab runs `python -m drapto_tui` with this command's configuration options."""
    argv = [sys.executable, "-m", "drapto_tui", *config_args]
    view = WebView(argv, host=host, port=port, token=secrets.token_urlsafe(24))

    def ready(url: str) -> None:
        where = (
            ""
            if host in ("127.0.0.1", "localhost", "::1")
            else f" (listening on {host}: anyone who can reach it and has the token can steer the queue)"
        )
        print(
            f"drapto-tui: the app in a browser at {url}{where}; Ctrl+C stops serving (the service goes on)",
            flush=True,
        )

    asyncio.run(view.run(ready))
    return 0


__all__ = ["WebView", "web_command"]
