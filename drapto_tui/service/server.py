"""The service: one process per state dir that owns the Engine, so that encoding outlives any terminal.

It holds the state dir's lock (a second service, or a foreground `encode`, is refused with one line), listens on
the Unix socket of service/protocol.py, and serves any number of clients at once: each gets a snapshot and then
every event, and its calls become Engine commands. It ignores SIGHUP (a terminal going away is not a reason to
stop), and on SIGTERM or SIGINT checkpoints the queue, stops every FFmpeg and exits 0: the interrupted jobs
resume on the next start. `service.json` in the state dir names its pid and socket while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import stat
import time
from pathlib import Path
from typing import Any

from drapto_tui import __version__
from drapto_tui.config.schema import DraptoConfig
from drapto_tui.engine.bus import Subscription
from drapto_tui.engine.engine import Engine
from drapto_tui.errors import DraptoError
from drapto_tui.model.events import Event
from drapto_tui.service.protocol import (
    MAX_LINE,
    PROTOCOL_VERSION,
    Call,
    EventMessage,
    Hello,
    Refused,
    Reply,
    Status,
    Welcome,
    decode,
    encode,
    info_path,
    socket_path,
)

#: What a client may ask, by name: the Engine's command API, nothing else.
SYNC_COMMANDS = {
    "toggle_pause",
    "toggle_pause_all",
    "finish_then_stop",
    "move",
    "bump_priority",
    "toggle_hold",
    "retry",
    "remove",
    "clear_finished",
    "commands",
    "job_log",
}


class _Client:
    def __init__(self, writer: asyncio.StreamWriter, hello: Hello, events: Subscription) -> None:
        self.writer = writer
        self.hello = hello
        self.events = events
        self.lock = asyncio.Lock()

    async def send(self, message: Any) -> None:
        async with self.lock:
            self.writer.write(encode(message))
            await self.writer.drain()


class Service:
    def __init__(self, config: DraptoConfig) -> None:
        self.config = config
        self.engine: Engine | None = None
        self.clients: set[_Client] = set()
        self._stop = asyncio.Event()
        self._stop_mode = "stop"
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.socket: Path | None = None

    # -- lifetime -------------------------------------------------------------------------------------------
    async def run(self) -> int:
        """Open the engine (one line and exit 2 if the state dir is taken), listen, schedule, and serve until
        told to stop; then checkpoint, stop every FFmpeg, and remove the socket and service.json."""
        engine = self.engine = Engine(self.config)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            loop.add_signal_handler(signal.SIGTERM, self.request_stop, "stop")
            loop.add_signal_handler(signal.SIGINT, self.request_stop, "stop")
        state_dir = engine.workdirs.state
        self.socket = socket_path(state_dir)
        try:
            await self._listen(self.socket)
            info_path(state_dir).write_text(
                json.dumps(
                    {
                        "pid": os.getpid(),
                        "socket": str(self.socket),
                        "version": __version__,
                        "protocol": PROTOCOL_VERSION,
                        "started": time.time(),
                    }
                ),
                encoding="utf-8",
            )
            try:
                await engine.start()
                if self.config.input.watch_dirs:
                    engine.watch(Path(d) for d in self.config.input.watch_dirs)
            except DraptoError as err:  # no usable FFmpeg: say so in the log and to every client, stay up
                print(f"drapto-tui service: {err.line()}", flush=True)
            watcher = asyncio.create_task(self._watch_status())
            await self._stop.wait()
            watcher.cancel()
            await engine.shutdown(self._stop_mode)
        finally:
            await self._close_clients()
            if self._server is not None:
                self._server.close()
            with contextlib.suppress(OSError):
                self.socket.unlink()
            with contextlib.suppress(OSError):
                info_path(state_dir).unlink()
            await engine.close()
        return 0

    def request_stop(self, mode: str = "stop") -> None:
        self._stop_mode = mode
        self._stop.set()

    async def _listen(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.parent.name.startswith("drapto-tui-"):  # the private folder under the system temp dir
            os.chmod(path.parent, 0o700)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(path.lstat().st_mode):
                path.unlink()  # left by a killed service: this process holds the state dir's lock now
        old_umask = os.umask(0o177)  # the socket is born 0600: no moment when others may connect
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(path), limit=MAX_LINE)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)

    async def _close_clients(self) -> None:
        for client in list(self.clients):
            client.writer.close()
            with contextlib.suppress(Exception):
                await client.writer.wait_closed()
        self.clients.clear()

    # -- one client -----------------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        engine = self.engine
        assert engine is not None
        client: _Client | None = None
        pump: asyncio.Task[None] | None = None
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=10)
            hello = decode(line)
            if not isinstance(hello, Hello):
                return
            if hello.version != PROTOCOL_VERSION:
                writer.write(
                    encode(
                        Refused(
                            reason=f"this service (drapto-tui {__version__}, pid {os.getpid()}) speaks protocol"
                            f" {PROTOCOL_VERSION}, the client speaks {hello.version}: stop the service with"
                            " `drapto-tui service stop` and start it again with one version"
                        )
                    )
                )
                await writer.drain()
                return
            # Subscribe and take the snapshot in one step of the loop: every event after the snapshot reaches
            # the client, none before it is sent twice.
            events = engine.bus.subscribe(f"client-{hello.client}-{hello.pid}")
            client = _Client(writer, hello, events)
            snapshot = [job.model_dump(mode="json") for job in engine.jobs()]
            self.clients.add(client)
            await client.send(
                Welcome(
                    service_pid=os.getpid(),
                    jobs=snapshot,
                    paused_all=engine.paused_all,
                    clients=len(self.clients),
                )
            )
            pump = asyncio.create_task(self._pump(client, events))
            await self._broadcast_status()
            while line := await reader.readline():
                message = decode(line)
                if isinstance(message, Call):
                    task = asyncio.create_task(self._answer(client, message))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # a client that went away or spoke nonsense: forget it, the work goes on
        finally:
            if pump is not None:
                pump.cancel()
            if client is not None:
                self.clients.discard(client)
                await self._broadcast_status()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _pump(self, client: _Client, events: Any) -> None:
        try:
            async for event in events:
                assert isinstance(event, Event)
                await client.send(EventMessage(event=event.to_json()))
        except (ConnectionError, RuntimeError):
            pass
        finally:
            events.close()

    async def _answer(self, client: _Client, call: Call) -> None:
        reply = Reply(id=call.id)
        try:
            reply.result = await self._dispatch(call.method, call.args)
        except DraptoError as err:
            reply.error = err.line()
        except (TypeError, KeyError, ValueError) as exc:
            reply.error = f"bad call {call.method}: {exc}"
        # A reply follows the events its command caused: once they have left this client's queue, the lock
        # (first come, first served) lets the reply out after the one being written.
        deadline = time.monotonic() + 5
        while len(client.events) and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await client.send(reply)
        await self._broadcast_status()

    async def _dispatch(self, method: str, args: dict[str, Any]) -> Any:
        engine = self.engine
        assert engine is not None
        if method in SYNC_COMMANDS:
            return getattr(engine, method)(**args)
        if method == "add_paths":
            added, errors = engine.add_paths([Path(p) for p in args["paths"]])
            return {"added": added, "errors": errors}
        if method == "encode_paths":
            ids = engine.encode_paths([Path(p) for p in args["paths"]], dict(args.get("options") or {}))
            engine.scheduler.poke()
            return sorted(ids)
        if method == "cancel":
            await engine.cancel(args["job_id"])
            return None
        if method == "shutdown":
            mode = args.get("mode", "stop")
            if mode not in ("finish", "stop", "cancel"):
                raise ValueError(f"unknown mode {mode!r}")
            if mode == "finish":
                engine.finish_then_stop()
            self.request_stop(mode)
            return None
        if method == "watch":
            dirs = engine.watch(Path(d) for d in args["dirs"])
            return {"dirs": dirs, "settle": engine.config.input.watch_settle}
        raise ValueError(f"no such command {method!r}")

    # -- service-wide status --------------------------------------------------------------------------------
    def status(self) -> Status:
        engine = self.engine
        assert engine is not None
        return Status(
            paused_all=engine.paused_all, launching=engine.scheduler.launching, clients=len(self.clients)
        )

    async def _broadcast_status(self) -> None:
        status = self.status()
        for client in list(self.clients):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await client.send(status)

    async def _watch_status(self) -> None:
        """Tell clients when the service-wide state changes by any route (a scheduler decision included)."""
        last = None
        while True:
            await asyncio.sleep(0.5)
            current = self.status()
            if current != last:
                last = current
                await self._broadcast_status()


def run_service(config: DraptoConfig) -> int:
    return asyncio.run(Service(config).run())


__all__ = ["Service", "run_service"]
