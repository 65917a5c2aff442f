"""The one async runner for FFmpeg processes.

Every FFmpeg step goes through `FfmpegProcess`: argument lists only (never a shell), progress parsed from
`-progress pipe:1`, pause/resume by SIGSTOP/SIGCONT to the process group, cancel that leaves no child behind,
and the tail of stderr kept for the error log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from drapto_tui.errors import DraptoError


class ProcessTracker(Protocol):
    #: The work was cancelled: its FFmpeg were killed on purpose, and no step may try again.
    cancelled: bool

    def attach(self, proc: FfmpegProcess) -> None: ...
    def detach(self, proc: FfmpegProcess) -> None: ...


#: The job whose FFmpeg processes are being started in this task (set by the pipeline per job). Every process
#: attaches itself, so pause/resume/cancel reach it however deep in the call chain it was started.
current_tracker: ContextVar[ProcessTracker | None] = ContextVar("current_tracker", default=None)


@dataclass
class FfmpegProgress:
    frame: int = 0
    fps: float = 0.0
    out_time: float = 0.0
    speed: float | None = None
    total_size: int = 0
    done: bool = False
    fraction: float | None = None  # out_time / expected duration, when known


def fraction_listener(
    on_fraction: Callable[[float], None] | None,
) -> Callable[[FfmpegProgress], None] | None:
    """FFmpeg's progress as the fraction done (0 to 1) that a step's listener hears (a run given a duration)."""
    if on_fraction is None:
        return None
    return lambda progress: on_fraction(progress.fraction or 0.0)


@dataclass
class FfmpegResult:
    args: list[str]
    returncode: int
    elapsed: float
    paused_seconds: float
    stderr_tail: list[str]
    stderr: str | None = None
    stdout: str | None = None
    progress: FfmpegProgress = field(default_factory=FfmpegProgress)

    @property
    def active_seconds(self) -> float:
        """Wall time not spent paused: what fps and ETA are measured against."""
        return max(self.elapsed - self.paused_seconds, 1e-9)


@dataclass(frozen=True)
class RunWatch:
    """How a caller names and follows one FFmpeg run: `what` names it in errors, progress is read against
    `duration`, `on_start` receives the started process (to pause or end it), `nice` lowers its priority."""

    what: str = "FFmpeg"
    duration: float | None = None
    on_progress: Callable[[FfmpegProgress], None] | None = None
    on_start: Callable[[FfmpegProcess], None] | None = None
    nice: int = 0


class FfmpegError(DraptoError):
    """FFmpeg exited non-zero; carries the stderr tail for the error log."""

    def __init__(self, message: str, *, subject: str | None, result: FfmpegResult) -> None:
        self.result = result
        last = next((line for line in reversed(result.stderr_tail) if line.strip()), "")
        detail = f" ({last.strip()})" if last else ""
        super().__init__(f"{message}: FFmpeg exited {result.returncode}{detail}", subject=subject)

    @property
    def disk_full(self) -> bool:
        """FFmpeg could not write because its filesystem is full: retrying cannot help."""
        return any(
            "No space left on device" in line or "Disk quota exceeded" in line
            for line in self.result.stderr_tail
        )


def _parse_float(value: str) -> float | None:
    try:
        return float(value.rstrip("x"))
    except ValueError:
        return None


class FfmpegProcess:
    """One running FFmpeg. Use `await proc.run()`, or `start()` then `wait()` to pause/cancel in between."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        on_progress: Callable[[FfmpegProgress], None] | None = None,
        duration: float | None = None,
        nice: int = 0,
        tail_lines: int = 40,
        keep_stderr: bool = False,
        capture_stdout: bool = False,
        cwd: Path | None = None,
        ffmpeg_flags: bool = True,
        stop_when: Callable[[str], bool] | None = None,
    ) -> None:
        self.cwd = cwd
        #: A line on stderr that makes the rest of the run worthless: it is ended then, and `stopped_at` holds it.
        self.stop_when = stop_when
        self.stopped_at: str | None = None
        self.args = [str(a) for a in args]
        if on_progress is not None:
            # Progress as key=value blocks on stdout; -nostats silences the stderr status line.
            self.args[1:1] = ["-progress", "pipe:1", "-nostats"]
        if ffmpeg_flags:  # False: another tool run with the same process handling (ab-av1)
            self.args[1:1] = ["-nostdin", "-hide_banner"]
        self.on_progress = on_progress
        self.duration = duration
        self.nice = nice
        self.capture_stdout = capture_stdout and on_progress is None
        self.keep_stderr = keep_stderr
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._stderr_all: list[str] = []
        self._stdout_chunks: list[bytes] = []
        self.proc: asyncio.subprocess.Process | None = None
        self.progress = FfmpegProgress()
        self._started = 0.0
        self._paused_at: float | None = None
        self.paused_seconds = 0.0
        self._readers: list[asyncio.Task[None]] = []
        self._tracker: ProcessTracker | None = None
        self.cancelled = False

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def stopped(self) -> bool:
        """Ended by us at a line `stop_when` matched (its exit status then says nothing of the input)."""
        return self.stopped_at is not None

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def elapsed(self) -> float:
        """Seconds since it started (0 before)."""
        return time.monotonic() - self._started if self._started else 0.0

    def stderr_tail(self) -> list[str]:
        """The last lines it wrote to stderr (where FFmpeg says what went wrong)."""
        return list(self._tail)

    async def start(self) -> None:
        creating = asyncio.ensure_future(
            asyncio.create_subprocess_exec(
                *self.args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # own process group: pause/cancel reach FFmpeg's children too
                limit=1 << 20,
                cwd=self.cwd,
            )
        )
        try:
            # Shielded: a cancel that lands while the process is being created must not leave it running
            # unowned (it would outlive the job, and the event loop that reaps it).
            self.proc = await asyncio.shield(creating)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                proc = await creating
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.communicate()  # to EOF on its pipes too, so its transport closes now
            raise
        except FileNotFoundError:
            raise DraptoError(
                "FFmpeg not found",
                subject=self.args[0],
                hint="set tools.ffmpeg to an FFmpeg binary, or '' for the embedded one",
            ) from None
        except PermissionError:
            raise DraptoError(
                "FFmpeg is not executable", subject=self.args[0], hint="chmod +x it or fix tools.ffmpeg"
            ) from None
        self._started = time.monotonic()
        self._tracker = current_tracker.get()
        if self._tracker is not None:
            self._tracker.attach(self)
        if self.nice:
            with contextlib.suppress(OSError):
                os.setpriority(
                    os.PRIO_PROCESS,
                    self.proc.pid,
                    min(os.getpriority(os.PRIO_PROCESS, self.proc.pid) + self.nice, 19),
                )
        self._readers = [
            asyncio.create_task(self._read_stderr()),
            asyncio.create_task(self._read_stdout()),
        ]

    async def _read_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        async for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self._tail.append(line)
            if self.keep_stderr:
                self._stderr_all.append(line)
            if self.stop_when is not None and self.stopped_at is None and self.stop_when(line):
                self.stopped_at = line
                self._signal(signal.SIGTERM)

    async def _read_stdout(self) -> None:
        assert self.proc and self.proc.stdout
        if self.on_progress is None:
            if self.capture_stdout:
                self._stdout_chunks.append(await self.proc.stdout.read())
            else:
                await self.proc.stdout.read()
            return
        block: dict[str, str] = {}
        async for raw in self.proc.stdout:
            key, _, value = raw.decode("utf-8", "replace").strip().partition("=")
            if key != "progress":
                block[key] = value
                continue
            self._apply_progress(block, done=value == "end")
            block = {}

    def _apply_progress(self, block: dict[str, str], *, done: bool) -> None:
        p = self.progress
        if block.get("frame", "").isdigit():
            p.frame = int(block["frame"])
        fps = _parse_float(block.get("fps", ""))
        if fps is not None:
            p.fps = fps
        out_us = block.get("out_time_us") or block.get("out_time_ms")
        if out_us and out_us.lstrip("-").isdigit():
            p.out_time = max(int(out_us) / 1_000_000, 0.0)
        speed = _parse_float(block.get("speed", ""))
        if speed is not None:
            p.speed = speed
        if block.get("total_size", "").isdigit():
            p.total_size = int(block["total_size"])
        p.done = done
        if self.duration:
            p.fraction = 1.0 if done else min(p.out_time / self.duration, 1.0)
        if self.on_progress is not None:
            self.on_progress(p)

    def _signal(self, sig: signal.Signals) -> bool:
        if self.proc is None or self.proc.returncode is not None:
            return False
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def pause(self) -> None:
        if self._paused_at is None and self._signal(signal.SIGSTOP):
            self._paused_at = time.monotonic()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._signal(signal.SIGCONT)
            self.paused_seconds += time.monotonic() - self._paused_at
            self._paused_at = None

    async def cancel(self, grace: float = 3.0) -> None:
        """End the process group: SIGTERM (after SIGCONT if paused), then SIGKILL after `grace` seconds."""
        self.cancelled = True
        if self.proc is None or self.proc.returncode is not None:
            return
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self.proc.wait()), grace)
        except TimeoutError:
            self._signal(signal.SIGKILL)
            await self.proc.wait()

    def kill_now(self) -> None:
        """Synchronous last resort (signal handlers, atexit): no child may outlive us."""
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGKILL)

    async def wait(self) -> FfmpegResult:
        assert self.proc is not None, "start() first"
        try:
            await self.proc.wait()
            await asyncio.gather(*self._readers)
        except asyncio.CancelledError:
            await asyncio.shield(self.cancel(grace=1.0))
            raise
        finally:
            if self._tracker is not None:
                self._tracker.detach(self)
        if self._paused_at is not None:
            self.resume()
        return FfmpegResult(
            args=self.args,
            returncode=self.proc.returncode if self.proc.returncode is not None else -1,
            elapsed=time.monotonic() - self._started,
            paused_seconds=self.paused_seconds,
            stderr_tail=list(self._tail),
            stderr="\n".join(self._stderr_all) if self.keep_stderr else None,
            stdout=b"".join(self._stdout_chunks).decode("utf-8", "replace") if self.capture_stdout else None,
            progress=self.progress,
        )

    async def run(self) -> FfmpegResult:
        await self.start()
        return await self.wait()


async def run_ffmpeg(
    args: Sequence[str],
    *,
    check: bool = True,
    what: str = "FFmpeg step",
    subject: str | None = None,
    **kwargs: object,
) -> FfmpegResult:
    """Run one FFmpeg command to the end; with check, a non-zero exit raises FfmpegError."""
    result = await FfmpegProcess(args, **kwargs).run()  # type: ignore[arg-type]
    if check and result.returncode != 0:
        raise FfmpegError(what, subject=subject, result=result)
    return result
