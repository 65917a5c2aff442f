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
import tempfile
import time
from pathlib import Path
from typing import Any

from drapto_tui import __version__
from drapto_tui.config.schema import DraptoConfig
from drapto_tui.engine.bus import Subscription
from drapto_tui.engine.engine import Engine
from drapto_tui.errors import DraptoError, owner_name
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
    call_arguments,
    decode,
    encode,
    info_path,
    socket_path,
)

#: Bytes a client may leave unread before it is disconnected at once (a snapshot of a big queue fits well
#: inside); below that, a client that reads nothing for service.client_timeout seconds is disconnected too.
MAX_BACKLOG = 2 * MAX_LINE
#: Above this many unread bytes the client's event pump waits for it to read before sending more.
HIGH_WATER = 256 * 1024


class _Client:
    """One connection. Sending never waits on the client: a line goes into its transport's buffer at once, so
    a client that stops reading (a suspended app, a stuck script) delays nobody else. Only its own event pump
    waits for it to read, and gives up on it after the timeout."""

    def __init__(
        self, writer: asyncio.StreamWriter, hello: Hello, events: Subscription, timeout: float
    ) -> None:
        self.writer = writer
        self.hello = hello
        self.events = events
        self.timeout = timeout
        self.dropped = False
        self._behind_since: float | None = None  # since when bytes wait for it and it has read none of them
        self._last_backlog = 0

    def backlog(self) -> int:
        return self.writer.transport.get_write_buffer_size()

    def send(self, message: Any) -> None:
        if self.dropped or self.writer.is_closing():
            return
        self.writer.write(encode(message))
        if self.backlog() > MAX_BACKLOG:
            self.drop(f"{self.backlog()} bytes unread")

    async def wait_for_reader(self) -> None:
        """Hold the event pump while this client is behind (check_reading lets go of one that never catches up,
        which ends this wait too)."""
        if self.backlog() > HIGH_WATER:
            await self.writer.drain()

    def check_reading(self) -> None:
        """Called twice a second: bytes waiting that the client has not started to take for the timeout (its
        socket full, the backlog never shrinking) cost it the connection."""
        backlog, now = self.backlog(), time.monotonic()
        if backlog == 0 or backlog < self._last_backlog:
            self._behind_since = None
        elif self._behind_since is None:
            self._behind_since = now
        elif now - self._behind_since >= self.timeout:
            self.drop(f"nothing read for {self.timeout:g} s")
        self._last_backlog = backlog

    def drop(self, why: str) -> None:
        if not self.dropped:
            self.dropped = True
            print(
                f"drapto-tui service: disconnected client {self.hello.client} (pid {self.hello.pid}): {why}",
                flush=True,
            )
            self.writer.transport.abort()


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
        self._idle_since: float | None = None
        self._own_socket_folder: Path | None = None

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
            _write_private(
                info_path(state_dir),
                json.dumps(
                    {
                        "pid": os.getpid(),
                        "socket": str(self.socket),
                        "version": __version__,
                        "protocol": PROTOCOL_VERSION,
                        "started": time.time(),
                        "idle_exit": self.config.service.idle_exit,
                    }
                ),
            )
            try:
                await engine.start()
                if self.config.input.watch_dirs:
                    engine.watch(Path(d) for d in self.config.input.watch_dirs)
            except DraptoError as err:  # no usable FFmpeg: say so in the log and to every client, stay up
                print(f"drapto-tui service: {err.line()}", flush=True)
            watcher = asyncio.create_task(self._watch_status())
            idle = asyncio.create_task(self._exit_when_idle())
            await self._stop.wait()
            watcher.cancel()
            idle.cancel()
            await engine.shutdown(self._stop_mode)
        finally:
            await self._close_clients()
            if self._server is not None:
                self._server.close()
            with contextlib.suppress(OSError):
                self.socket.unlink()
            if self._own_socket_folder is not None:
                with contextlib.suppress(OSError):
                    self._own_socket_folder.rmdir()
            with contextlib.suppress(OSError):
                info_path(state_dir).unlink()
            await engine.close()
        return 0

    def idle_since(self) -> float | None:
        """When the service last had something to do or someone to serve (monotonic), or None while it has."""
        engine = self.engine
        if engine is None or self.clients or engine.has_duties():
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = time.monotonic()
        return self._idle_since

    async def _exit_when_idle(self) -> None:
        """A service with nothing queued or running, no client and no watched folder exits after
        service.idle_exit seconds (a demo's, a finished night's), so none lingers for ever; the next client
        starts one again."""
        limit = self.config.service.idle_exit
        if limit <= 0:
            return
        while True:
            await asyncio.sleep(min(1.0, limit / 4))
            since = self.idle_since()
            if since is not None and time.monotonic() - since >= limit:
                print(f"drapto-tui service: idle for {limit:g} s (service.idle_exit): exiting", flush=True)
                self.request_stop("stop")
                return

    def request_stop(self, mode: str = "stop") -> None:
        self._stop_mode = mode
        self._stop.set()

    async def _listen(self, path: Path) -> None:
        state_dir = self.engine.workdirs.state if self.engine is not None else path.parent
        if path.parent != state_dir:  # the fallback under the system temp dir, for a long state dir path
            path = self.socket = self._private_socket_folder(path.parent) / path.name
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(path.lstat().st_mode):
                path.unlink()  # left by a killed service: this process holds the state dir's lock now
        old_umask = os.umask(0o177)  # the socket is born 0600: no moment when others may connect
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(path), limit=MAX_LINE)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)

    def _private_socket_folder(self, folder: Path) -> Path:
        """`folder` when this user owns it and nobody else can write it (created so if missing); otherwise a
        fresh private folder beside it, said in one line. Another user's folder of that name could swap the
        socket; clients find it through service.json, so any private folder will do."""
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        try:
            st = folder.lstat()
        except OSError as exc:
            why = exc.strerror
        else:
            if not stat.S_ISDIR(st.st_mode):
                why = "it is not a folder (a link or a file)"
            elif st.st_uid != os.getuid():
                why = f"it belongs to {owner_name(st.st_uid)}"
            else:
                os.chmod(folder, 0o700)
                return folder
        private = Path(tempfile.mkdtemp(prefix=f"drapto-tui-{os.getuid()}-", dir=folder.parent))
        print(f"drapto-tui service: not using {folder} for the socket ({why}); using {private}", flush=True)
        self._own_socket_folder = private
        return private

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
            client = _Client(writer, hello, events, self.config.service.client_timeout)
            snapshot = [job.model_dump(mode="json") for job in engine.jobs()]
            self.clients.add(client)
            client.send(
                Welcome(
                    service_pid=os.getpid(),
                    jobs=snapshot,
                    paused_all=engine.paused_all,
                    clients=len(self.clients),
                    queue_eta=engine.queue_eta(),
                    lifetime_saved=engine.lifetime_saved(),
                    waiting=engine.waiting,
                )
            )
            pump = asyncio.create_task(self._pump(client, events))
            self._broadcast_status()
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
                self._broadcast_status()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _pump(self, client: _Client, events: Any) -> None:
        try:
            async for event in events:
                assert isinstance(event, Event)
                client.send(EventMessage(event=event.to_json()))
                await client.wait_for_reader()
                if client.dropped:
                    break
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
            client.send(reply)
        self._broadcast_status()

    async def _dispatch(self, method: str, raw: dict[str, Any]) -> Any:
        """One call, its arguments checked against its typed signature (protocol.ServiceCalls) first."""
        engine = self.engine
        assert engine is not None
        args = call_arguments(method, raw)
        if method == "add_paths":
            added, errors = engine.add_paths(args["paths"], args["output_dir"])
            return {"added": added, "errors": errors}
        if method == "encode_paths":
            ids, refused = engine.encode_each(args["paths"], args["options"])
            engine.scheduler.poke()
            return {"ids": sorted(ids), "errors": [err.line() for err in refused]}
        if method == "cancel":
            await engine.cancel(args["job_id"])
            return None
        if method == "shutdown":
            mode = args["mode"]
            if mode not in ("finish", "stop", "cancel"):
                raise ValueError(f"unknown mode {mode!r}")
            if mode == "finish":
                engine.finish_then_stop()
            self.request_stop(mode)
            return None
        if method == "watch":
            dirs = engine.watch(args["dirs"], args["output_dir"])
            return {"dirs": dirs, "settle": engine.config.input.watch_settle}
        return getattr(engine, method)(**args)

    # -- service-wide status --------------------------------------------------------------------------------
    def status(self) -> Status:
        engine = self.engine
        assert engine is not None
        return Status(
            paused_all=engine.paused_all,
            launching=engine.scheduler.launching,
            clients=len(self.clients),
            queue_eta=engine.queue_eta(),
            lifetime_saved=engine.lifetime_saved(),
            waiting=engine.waiting,
        )

    def _broadcast_status(self) -> None:
        if (
            self._stop.is_set()
        ):  # ending: the engine (and its ledger) may be closed already; clients are let go
            return
        status = self.status()
        for client in list(self.clients):
            with contextlib.suppress(ConnectionError, RuntimeError):
                client.send(status)

    async def _watch_status(self) -> None:
        """Tell clients when the service-wide state changes by any route (a scheduler decision included), and
        let go of clients that stopped reading."""
        last = None
        while True:
            await asyncio.sleep(0.5)
            for client in list(self.clients):
                client.check_reading()
            current = self.status()
            if current != last:
                last = current
                self._broadcast_status()


def _write_private(path: Path, text: str) -> None:
    """Owner-only (0600) like everything in state/, written aside and renamed so a reader sees all or nothing."""
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "w", encoding="utf-8", opener=lambda p, f: os.open(p, f, 0o600)) as fh:
        fh.write(text)
    os.replace(partial, path)


def run_service(config: DraptoConfig) -> int:
    return asyncio.run(Service(config).run())


__all__ = ["Service", "run_service"]
