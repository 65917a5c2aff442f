"""`drapto-tui web`: the app in a browser, served by textual-serve, as one more client of the service.

Each browser tab runs its own `drapto-tui` app process (a client of the service, like a terminal's), so a tab,
a terminal over SSH and another tab all see and steer the same queue. Closing a tab detaches its app.

Safety: bound to 127.0.0.1 unless another address is asked for; every request needs the random token from the
URL this command prints (the page's first load moves it into a same-site, HTTP-only cookie, which the page's own
requests and its websocket then carry); a websocket opened from another site's page (its Origin is not this
page's) is refused. The app processes are started from an argument list, never a shell, each in its own
process group, so a tab that goes away takes its whole app with it (asked to quit, then ended).

Bounds, whatever a client asks: a terminal of at most MAX_COLUMNS x MAX_ROWS cells, at most web.max_sessions tabs
at once (the next gets a page saying so), and on SIGTERM or Ctrl+C every session is ended and the command exits
within a few seconds. The page needs nothing from outside this server (its font is served here).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import secrets
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

COOKIE = "drapto_tui_token"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


#: The largest terminal a tab gets, in cells (more than any screen shows; a bigger ask is clamped, not obeyed).
MAX_COLUMNS, MAX_ROWS = 500, 200
#: Seconds an app is given to quit on its own once its tab is gone, then to end on SIGTERM, before SIGKILL.
QUIT_GRACE, TERM_GRACE = 2.0, 1.0
TEMPLATES = Path(__file__).with_name("web_templates")


class _ExecAppService(AppService):
    """textual-serve's app process, started from an argument list (its own starts a shell command line) in a
    process group of its own, and ended for certain when its tab goes (its own stop waits for ever on an app
    that does not quit)."""

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
            start_new_session=True,
        )
        self._process = process
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def set_terminal_size(self, width: int, height: int) -> None:
        await super().set_terminal_size(*clamp_size(width, height))

    async def stop(self) -> None:
        """Ask the app to quit; if it has not within QUIT_GRACE, end its process group (SIGTERM, then SIGKILL)."""
        process, task = self._process, self._task
        self._task = None
        if process is None:
            return
        if task is not None:
            with contextlib.suppress(Exception):
                await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.send_meta({"type": "quit"}), 0.5)
        for sig, grace in ((None, QUIT_GRACE), (signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, 5.0)):
            if sig is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, sig)
            try:
                await asyncio.wait_for(process.wait(), grace)
                break
            except TimeoutError:
                continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # anything the app left in its group
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


def clamp_size(width: int, height: int) -> tuple[int, int]:
    return max(1, min(int(width), MAX_COLUMNS)), max(1, min(int(height), MAX_ROWS))


class WebView(Server):
    def __init__(self, argv: list[str], *, host: str, port: int, token: str, max_sessions: int = 4) -> None:
        super().__init__(
            shlex.join(argv), host=host, port=port, title="drapto-tui", templates_path=str(TEMPLATES)
        )
        self.argv = argv
        self.token = token
        self.max_sessions = max_sessions
        self.sessions: dict[web.WebSocketResponse, _ExecAppService] = {}
        self._stopping = False

    def _allowed(self, request: web.Request) -> bool:
        given = request.query.get("token") or request.cookies.get(COOKIE) or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    @staticmethod
    def _same_origin(request: web.Request) -> bool:
        """A browser names the page that opened a websocket in Origin: it must be this server's own page (a
        page of another site must not drive the app with the user's cookie). Non-browser clients send none;
        they still need the token."""
        origin = request.headers.get("Origin")
        return origin is None or origin == f"{request.scheme}://{request.host}"

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

    def _full(self) -> web.Response | None:
        if len(self.sessions) < self.max_sessions:
            return None
        return web.Response(
            status=503,
            content_type="text/html",
            text=FULL_PAGE.format(n=self.max_sessions),
        )

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        full = self._full()
        if full is not None:
            return full
        return await super().handle_index(request)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One browser tab: one app process, fed the tab's keys and sizes, its screen sent back."""
        if not self._same_origin(request):
            raise web.HTTPForbidden(text="drapto-tui: a websocket from another site's page is refused\n")
        if self._stopping or self._full() is not None:
            raise web.HTTPServiceUnavailable(
                text=f"drapto-tui: all {self.max_sessions} browser sessions are in use (web.max_sessions)\n"
            )
        websocket = web.WebSocketResponse(heartbeat=15)
        width, height = clamp_size(
            _int(request.query.get("width"), 80), _int(request.query.get("height"), 24)
        )
        service = _ExecAppService(
            self.argv,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
            debug=self.debug,
        )
        self.sessions[websocket] = service  # counted from here: a burst of tabs cannot overshoot the cap
        try:
            await websocket.prepare(request)
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except (asyncio.CancelledError, ConnectionError):
            pass
        finally:
            self.sessions.pop(websocket, None)
            await service.stop()
            with contextlib.suppress(Exception):
                await websocket.close()
        return websocket

    async def _end_sessions(self) -> None:
        """Every tab's app ended and its websocket closed, together (bounded by the apps' grace times)."""
        self._stopping = True
        sessions = list(self.sessions.items())
        self.sessions.clear()

        async def end(websocket: web.WebSocketResponse, service: _ExecAppService) -> None:
            await service.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(websocket.close(), 0.5)

        if sessions:
            await asyncio.gather(*(end(ws, svc) for ws, svc in sessions), return_exceptions=True)

    async def run(self, on_ready: Callable[[str], None]) -> None:
        """Serve until SIGINT or SIGTERM; `on_ready` gets the URL (with its token) once the port is bound."""
        runner = web.AppRunner(await self._make_app(), handle_signals=False, shutdown_timeout=1.0)
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
            await self._end_sessions()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(runner.cleanup(), 2)


FULL_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>drapto-tui: all sessions in use</title></head>
<body style="background:#0c181f;color:#eee;font:16px monospace;padding:48px">
<p>drapto-tui: all {n} browser sessions are in use (web.max_sessions = {n}).</p>
<p>Close another drapto-tui tab and reload this page, or start <code>drapto-tui web</code> with
<code>--set web.max_sessions=N</code>.</p>
</body></html>
"""


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def web_command(config_args: list[str], *, host: str, port: int, max_sessions: int = 4) -> int:
    """Serve the app; each tab runs `python -m drapto_tui` with this command's configuration options."""
    argv = [sys.executable, "-m", "drapto_tui", *config_args]
    view = WebView(argv, host=host, port=port, token=secrets.token_urlsafe(24), max_sessions=max_sessions)

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
