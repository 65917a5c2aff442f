"""FFmpeg processes we started, recorded so a relaunch after kill -9 can end any that outlived us."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import psutil

from drapto_tui.execution.control import JobControl
from drapto_tui.media.ffmpeg import FfmpegProcess


class ChildRegistry:
    """PIDs (with start times) of the FFmpeg processes we started, in the state dir, so that a relaunch after
    kill -9 can end any that outlived us (they are in their own sessions, out of reach of our process group)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.live: dict[int, float] = {}

    def sweep(self) -> int:
        killed = 0
        try:
            lines = self.path.read_text().splitlines()
        except OSError:
            lines = []
        for line in lines:
            try:
                pid_text, created_text = line.split()
                pid, created = int(pid_text), float(created_text)
                proc = psutil.Process(pid)
                if abs(proc.create_time() - created) < 0.01:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGCONT)
                        os.killpg(pid, signal.SIGKILL)
                    killed += 1
            except (ValueError, psutil.Error):
                continue
        self._write()
        return killed

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", opener=lambda p, f: os.open(p, f, 0o600)) as fh:
            fh.write("".join(f"{pid} {created}\n" for pid, created in self.live.items()))
        os.replace(tmp, self.path)

    def add(self, pid: int) -> None:
        try:
            self.live[pid] = psutil.Process(pid).create_time()
        except psutil.Error:
            return
        self._write()

    def remove(self, pid: int) -> None:
        if self.live.pop(pid, None) is not None:
            self._write()


class TrackedControl(JobControl):
    """A JobControl that also records its processes in the child registry."""

    def __init__(self, registry: ChildRegistry) -> None:
        super().__init__()
        self.registry = registry

    def attach(self, proc: FfmpegProcess) -> None:
        super().attach(proc)
        if proc.pid is not None:
            self.registry.add(proc.pid)

    def detach(self, proc: FfmpegProcess) -> None:
        super().detach(proc)
        if proc.pid is not None:
            self.registry.remove(proc.pid)


__all__ = ["ChildRegistry", "TrackedControl"]
