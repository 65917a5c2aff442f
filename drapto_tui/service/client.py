"""A client of the service: the same command API and the same folded state as an in-process Engine, over the
socket. The app, `encode` and `queue` use it when a service runs for their state dir.

The snapshot from `welcome` seeds a local, in-memory StateManager; every event that follows is published on a
local EventBus whose listener folds it, so a client's state and subscriptions behave as the engine's do and a
late viewer sees the same screen as an early one. Commands that the app fires from keys are sent without
waiting (an error comes back as one line to `on_error`); `call` awaits a reply where the answer matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.engine.api import Core
from drapto_tui.engine.bus import EventBus
from drapto_tui.engine.discovery import Preview, preview_files
from drapto_tui.engine.engine import QueueLook
from drapto_tui.engine.fold import StateManager
from drapto_tui.engine.queue import JobQueue
from drapto_tui.engine.workdirs import WorkDirs
from drapto_tui.errors import DraptoError
from drapto_tui.model.events import Event, ProcessingStatus
from drapto_tui.model.state import ProcessingState
from drapto_tui.service.protocol import (
    MAX_LINE,
    Call,
    EventMessage,
    Hello,
    Refused,
    Reply,
    Status,
    Welcome,
    decode,
    encode,
    live_info,
)

P = ParamSpec("P")


class ServiceUnavailable(DraptoError):
    """No service answers for this state dir."""


def _named_arguments(
    command: Callable[..., object], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The call's arguments by name, as its signature binds them (the first parameter, self, left out)."""
    bound = inspect.signature(command).bind(None, *args, **kwargs)
    return dict(list(bound.arguments.items())[1:])


def state_dir_of(config: DraptoConfig) -> Path:
    return WorkDirs.area_of(config, "state")


class ServiceClient:
    #: Quitting the app detaches: the service and its encodes go on.
    default_quit = "detach"

    def __init__(
        self,
        config: DraptoConfig,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        welcome: Welcome,
    ) -> None:
        self.config = config
        self.reader = reader
        self.writer = writer
        self.service_pid = welcome.service_pid
        self.state = StateManager(None)
        self.state.jobs = {
            job["job_id"]: ProcessingState.model_validate(job) for job in welcome.jobs if "job_id" in job
        }
        self.bus = EventBus(None)
        self.bus.add_listener(self.state.update_state)
        self.paused_all = welcome.paused_all
        self._queue_eta = welcome.queue_eta
        self._lifetime_saved = welcome.lifetime_saved
        self.waiting = welcome.waiting
        self.launching = True
        self.clients = welcome.clients
        self.lost = False  # the service went away (stopped elsewhere, or killed)
        self._closing = False
        self.on_error: Callable[[str], None] | None = None
        self.on_added: Callable[[list[str], list[str]], None] | None = None
        self.on_lost: Callable[[], None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Reply]] = {}
        self._answers: dict[tuple[str, str], list[str]] = {}  # (method, job id) → the last answer
        self._reader_task = asyncio.create_task(self._read())
        self._sent: set[asyncio.Task[Any]] = set()

    # -- connecting -----------------------------------------------------------------------------------------
    @classmethod
    async def connect(
        cls, config: DraptoConfig, *, client: str = "app", timeout: float = 5.0
    ) -> ServiceClient:
        """Attach to the running service for the config's state dir; ServiceUnavailable when none runs."""
        state_dir = state_dir_of(config)
        info = live_info(state_dir)
        if info is None or not info.get("socket"):
            raise ServiceUnavailable("no service runs", subject=str(state_dir))
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(info["socket"], limit=MAX_LINE), timeout
            )
        except (TimeoutError, OSError) as exc:
            raise ServiceUnavailable(
                f"the service (pid {info.get('pid')}) does not answer ({exc})", subject=str(state_dir)
            ) from None
        writer.write(encode(Hello(client=client)))
        await writer.drain()
        try:
            line = await asyncio.wait_for(reader.readline(), timeout)
            answer = decode(line)
        except (TimeoutError, ValueError, ConnectionError) as exc:
            writer.close()
            raise ServiceUnavailable(
                f"the service (pid {info.get('pid')}) did not say welcome ({exc or 'no answer'})",
                subject=str(state_dir),
            ) from None
        if isinstance(answer, Refused):
            writer.close()
            raise DraptoError(answer.reason, subject=str(state_dir))
        if not isinstance(answer, Welcome):
            writer.close()
            raise ServiceUnavailable("the service answered out of turn", subject=str(state_dir))
        return cls(config, reader, writer, answer)

    async def _read(self) -> None:
        try:
            while line := await self.reader.readline():
                message = decode(line)
                if isinstance(message, EventMessage):
                    self.bus.publish(Event.from_json(message.event))
                elif isinstance(message, Reply):
                    future = self._pending.pop(message.id, None)
                    if future is not None and not future.done():
                        future.set_result(message)
                elif isinstance(message, Status):
                    self.paused_all, self.launching = message.paused_all, message.launching
                    self.clients, self._queue_eta = message.clients, message.queue_eta
                    self._lifetime_saved = message.lifetime_saved
                    self.waiting = message.waiting
        except (ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ServiceUnavailable("the service went away"))
            self._pending.clear()
            if not self._closing:  # the service went away (our own close is not a loss)
                self.lost = True
                if self.on_lost is not None:
                    self.on_lost()

    # -- calls ----------------------------------------------------------------------------------------------
    async def call(
        self, command: Callable[Concatenate[Any, P], object], /, *args: P.args, **kwargs: P.kwargs
    ) -> Any:
        """Send one command and wait for its reply; its error comes back as DraptoError (one line). `command` is
        the method itself, from ServiceCalls (or Core): mypy checks the arguments against its signature."""
        return await self._call(command.__name__, _named_arguments(command, args, kwargs))

    async def _call(self, method: str, args: dict[str, Any]) -> Any:
        if self.lost:
            raise ServiceUnavailable("the service went away")
        call_id = next(self._ids)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        self.writer.write(encode(Call(id=call_id, method=method, args=args)))
        await self.writer.drain()
        reply = await future
        if reply.error:
            raise DraptoError(reply.error)
        return reply.result

    def send(
        self, command: Callable[Concatenate[Any, P], object], /, *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Task[Any]:
        """Fire a command from a key: its error, if any, goes to on_error as one line."""
        method, named = command.__name__, _named_arguments(command, args, kwargs)

        async def go() -> Any:
            try:
                return await self._call(method, named)
            except DraptoError as err:
                if self.on_error is not None:
                    self.on_error(err.line())
                return None

        task = asyncio.create_task(go())
        self._sent.add(task)
        task.add_done_callback(self._sent.discard)
        return task

    # -- the command API, as the Engine's -------------------------------------------------------------------
    def jobs(self) -> list[ProcessingState]:
        return sorted(self.state.jobs.values(), key=JobQueue.sort_key)

    def queue_eta(self) -> float | None:
        """The service's figure, as its last status line gave it: every viewer shows the same."""
        return self._queue_eta

    def lifetime_saved(self) -> int:
        return self._lifetime_saved

    def is_running(self) -> bool:
        active = (ProcessingStatus.RUNNING, ProcessingStatus.PAUSED)
        return any(job.status in active for job in self.state.jobs.values())

    async def start(self, *, paused: bool = False, **_: Any) -> None:
        if paused and not self.paused_all:
            await self.call(Core.toggle_pause_all)

    def preview(self, paths: Iterable[Path]) -> Preview:
        return preview_files(paths, self.config.input, lambda f: self.state.job_for_file(str(f)) is not None)

    def listen(
        self,
        *,
        on_error: Callable[[str], None],
        on_added: Callable[[list[str], list[str]], None],
        on_lost: Callable[[], None],
    ) -> None:
        self.on_error, self.on_added, self.on_lost = on_error, on_added, on_lost
        if self.lost:
            on_lost()

    def add_paths(self, paths: Iterable[Path], output_dir: Path | None = None) -> None:
        """Sent to the service; what it queued comes to on_added. The films go where this client's command and
        config say (`-o`, output.dir), not where the service was started to put them."""
        wanted = [Path(p).resolve() for p in paths]
        where = (output_dir or self.config.output_root()).resolve()  # the service runs in another folder

        async def go() -> None:
            try:
                result = await self.call(Core.add_paths, paths=wanted, output_dir=where)
            except DraptoError as err:
                result = {"added": [], "errors": [err.line()]}
            if self.on_added is not None:
                self.on_added(list(result["added"]), list(result["errors"]))

        task = asyncio.create_task(go())
        self._sent.add(task)
        task.add_done_callback(self._sent.discard)

    def toggle_pause(self, job_id: str) -> None:
        self.send(Core.toggle_pause, job_id=job_id)

    def toggle_pause_all(self) -> None:
        self.paused_all = not self.paused_all  # shown at once; the service's status line confirms it
        self.send(Core.toggle_pause_all)

    def finish_then_stop(self) -> None:
        self.send(Core.finish_then_stop)

    def move(self, job_id: str, offset: int) -> None:
        self.send(Core.move, job_id=job_id, offset=offset)

    def bump_priority(self, job_id: str, delta: int) -> None:
        self.send(Core.bump_priority, job_id=job_id, delta=delta)

    def toggle_hold(self, job_id: str) -> None:
        self.send(Core.toggle_hold, job_id=job_id)

    def retry(self, job_id: str) -> None:
        self.send(Core.retry, job_id=job_id)

    def remove(self, job_id: str) -> None:
        self.send(Core.remove, job_id=job_id)

    def clear_finished(self) -> list[str]:
        """Sent; the jobs leave the view as the service's removal events arrive."""
        self.send(Core.clear_finished)
        return []

    async def cancel(self, job_id: str) -> None:
        await self.call(Core.cancel, job_id=job_id)

    def commands(self, job_id: str) -> list[str]:
        """The last answer the service gave for this job, and a fresh one asked for (screens refresh on a timer)."""
        return self._cached(Core.commands, job_id)

    def job_log(self, job_id: str) -> list[str]:
        """As commands: the newest lines of the job's FFmpeg log, as last answered."""
        return self._cached(Core.job_log, job_id)

    def _cached(self, command: Callable[[Core, str], list[str]], job_id: str) -> list[str]:
        method = command.__name__

        async def go() -> None:
            with contextlib.suppress(DraptoError):
                self._answers[(method, job_id)] = list(await self.call(command, job_id))

        if not self.lost:
            task = asyncio.create_task(go())
            self._sent.add(task)
            task.add_done_callback(self._sent.discard)
        return self._answers.get((method, job_id), [])

    async def shutdown(self, mode: str = "detach") -> None:
        """detach: this client goes, the service and its encodes go on; finish / stop / cancel: the service
        ends that way (stop and cancel at once; finish once the running jobs are done)."""
        self._closing = True  # the service may end before this client does: that is no loss then
        if mode != "detach" and not self.lost:
            with contextlib.suppress(DraptoError):
                await self.call(Core.shutdown, mode=mode)
        await self.close()

    async def close(self) -> None:
        self._closing = True
        for task in list(self._sent):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 2)
        self._reader_task.cancel()
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
        self.bus.close()


def live_look(config: DraptoConfig) -> QueueLook | None:
    """The queue as the running service holds it (live progress, not the last checkpoint); None when no
    service answers."""

    async def ask() -> QueueLook:
        client = await ServiceClient.connect(config, client="queue")
        try:
            return QueueLook(client.jobs(), client.service_pid, client.waiting)
        finally:
            await client.close()

    try:
        return asyncio.run(ask())
    except DraptoError:
        return None


def spawn_service(config_args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start `drapto-tui service run` detached from this terminal: its own session (no controlling tty, no
    SIGHUP when the terminal goes), stdin from /dev/null, stdout and stderr appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab", opener=lambda p, f: os.open(p, f, 0o600)) as log:  # names films: owner-only
        return subprocess.Popen(
            [sys.executable, "-m", "drapto_tui", "service", "run", *config_args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )


def service_log(config: DraptoConfig) -> Path:
    return WorkDirs.area_of(config, "logs") / "service.log"


async def attach_or_start(
    config: DraptoConfig, config_args: list[str], *, client: str = "app", timeout: float = 20.0
) -> tuple[ServiceClient, bool]:
    """The running service's client, or a service started now and its client; (client, started)."""
    with contextlib.suppress(ServiceUnavailable):
        return await ServiceClient.connect(config, client=client), False
    log = service_log(config)
    try:
        offset = log.stat().st_size if log.exists() else 0
        proc = spawn_service(config_args, log)
    except OSError as exc:  # its log cannot be written (another user's folder, a file where the folder goes)
        raise DraptoError(
            f"cannot start the service: its log cannot be written ({exc.strerror})",
            subject=str(exc.filename or log),
            hint="make the logs folder yours and writable, or set processing.temp_dir to a folder of yours",
        ) from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ServiceUnavailable):
            return await ServiceClient.connect(config, client=client), True
        if proc.poll() is not None:  # it stopped: its log says why (a taken state dir, a bad config)
            await asyncio.sleep(0.1)
            with contextlib.suppress(ServiceUnavailable):  # another service won the race: use that one
                return await ServiceClient.connect(config, client=client), False
            text = log.read_bytes()[offset:].decode(errors="replace").strip().splitlines()
            reason = next((line for line in reversed(text) if line.strip()), f"exit {proc.returncode}")
            raise DraptoError(
                f"the service did not start: {reason.removeprefix('drapto-tui: ')}", subject=str(log)
            )
        await asyncio.sleep(0.1)
    raise DraptoError(f"the service did not answer within {timeout:g} s", subject=str(log))


__all__ = [
    "ServiceClient",
    "ServiceUnavailable",
    "attach_or_start",
    "live_look",
    "service_log",
    "spawn_service",
    "state_dir_of",
]
