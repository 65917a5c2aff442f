"""When the queue may run: schedule.windows (local time) and schedule.pause_when (a command whose exit 0 means
"yield now", e.g. someone is streaming from the media server).

`ScheduleGate.look()` answers why the queue must wait now (one line for the app, `queue` and the log), or None.
The clock is a parameter, so tests set the time instead of waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from drapto_tui.config.schema import ScheduleConfig
from drapto_tui.config.units import parse_window

Clock = Callable[[], datetime]


def in_window(start: int, end: int, minute: int) -> bool:
    """Whether `minute` (after midnight) is in the daily window [start, end); end before start crosses midnight."""
    if start == end:
        return True
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def next_opening(windows: list[tuple[int, int]], now: datetime) -> datetime:
    """When the next of the windows opens after `now` (within a day: each opens every day)."""
    minute = now.hour * 60 + now.minute
    waits = [((start - minute) % 1440) or 1440 for start, _ in windows]
    at = now.replace(second=0, microsecond=0) + timedelta(minutes=min(waits))
    return at


def wait_label(waiting: str, *, wide: bool) -> str:
    """What the queue waits for, for a header: the line without its config key, or a word or two where space is
    short (the schedule's window or pause_when, or a cluster without workers)."""
    if wide:
        return waiting.split(" (schedule.", 1)[0]
    if "workers" in waiting:  # a Dask cluster with none connected (execution/dask.py)
        return "NO WORKERS"
    match = re.search(r"the (\d\d:\d\d) window", waiting)
    return f"WAIT {match.group(1)}" if match else "YIELDING"


class ScheduleGate:
    def __init__(self, config: ScheduleConfig, clock: Clock = datetime.now) -> None:
        self.windows = [parse_window(w) for w in config.windows]
        self.pause_when = list(config.pause_when)
        self.timeout = max(5.0, min(config.check_every, 60.0))
        self.clock = clock
        self.command_problem: str | None = None  # the last reason pause_when could not be run, said once

    @property
    def active(self) -> bool:
        return bool(self.windows or self.pause_when)

    def window_wait(self, now: datetime | None = None) -> str | None:
        """ "waiting for the 01:00 window" outside every window, else None."""
        if not self.windows:
            return None
        now = now or self.clock()
        minute = now.hour * 60 + now.minute
        if any(in_window(start, end, minute) for start, end in self.windows):
            return None
        return f"waiting for the {next_opening(self.windows, now):%H:%M} window (schedule.windows)"

    async def command_says_yield(self) -> bool:
        """Run pause_when once (no shell: its arguments are data); exit 0 = yield. One that cannot be run, or
        runs past its time, does not hold the queue: that is said once in command_problem."""
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.pause_when,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            self.command_problem = (
                f"schedule.pause_when {self.pause_when[0]!r} cannot be run ({exc.strerror or exc}); the queue"
                " runs as if it said no"
            )
            return False
        try:
            code = await asyncio.wait_for(proc.wait(), self.timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            self.command_problem = (
                f"schedule.pause_when {self.pause_when[0]!r} ran past {self.timeout:.0f} s and was stopped;"
                " the queue runs as if it said no"
            )
            return False
        self.command_problem = None
        return code == 0

    async def look(self) -> str | None:
        """Why the queue waits now (a window, or pause_when), or None: it may run."""
        waiting = self.window_wait()
        if waiting is not None:
            return waiting
        if self.pause_when and await self.command_says_yield():
            return f"yielding: {' '.join(self.pause_when)} says so (schedule.pause_when)"
        return None


__all__ = ["ScheduleGate", "in_window", "next_opening", "wait_label"]
