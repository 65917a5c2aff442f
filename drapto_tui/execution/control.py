"""Steering a running job: its FFmpeg processes are registered here so pause, resume and cancel reach them."""

from __future__ import annotations

import asyncio
import shlex
from collections import deque

from drapto_tui.errors import DraptoError
from drapto_tui.execution.job_log import JobLog
from drapto_tui.media.ffmpeg import FfmpegProcess


class JobCancelled(DraptoError):
    """The user cancelled the job."""


class JobControl:
    def __init__(self) -> None:
        self._procs: set[FfmpegProcess] = set()
        self.commands: deque[str] = deque(maxlen=100)  # the FFmpeg command lines run, for the inspector
        self.log: JobLog | None = None  # where each finished run is written (logs/jobs/<job>/ffmpeg.log)
        self._running = asyncio.Event()
        self._running.set()
        self.cancelled = False

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def attach(self, proc: FfmpegProcess) -> None:
        self._procs.add(proc)
        self.commands.append(shlex.join(proc.args))
        if self.cancelled:  # started after the job was cancelled: it may not run
            proc.kill_now()
        elif self.paused:
            proc.pause()

    def detach(self, proc: FfmpegProcess) -> None:
        self._procs.discard(proc)
        if self.log is not None:
            self.log.record(proc)

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid is not None]

    def pause(self) -> None:
        self._running.clear()
        for proc in list(self._procs):
            proc.pause()

    def resume(self) -> None:
        for proc in list(self._procs):
            proc.resume()
        self._running.set()

    async def cancel(self) -> None:
        self.cancelled = True
        self._running.set()
        await asyncio.gather(*(proc.cancel() for proc in list(self._procs)), return_exceptions=True)

    def kill_now(self) -> None:
        for proc in list(self._procs):
            proc.kill_now()

    async def checkpoint(self) -> None:
        """Between steps: wait while paused, stop if cancelled."""
        await self._running.wait()
        if self.cancelled:
            raise JobCancelled("cancelled")
