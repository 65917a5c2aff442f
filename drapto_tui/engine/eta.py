"""Time left, one way for every front end, from measured throughput and the work that remains.

A job's ETA: its working time over every run (the fold's active time, so a resumed job is not judged by its
last run alone, and paused time does not count) scaled by the share left. The queue's ETA: the work left
(seconds of film still to encode, in the jobs that will run) over the rate at which the whole queue has been
getting through film lately, measured on the wall clock. With two jobs in parallel the rate is the sum of both,
so nothing counts twice (adding each job's own time left did: it doubled the queue's ETA).

The app's queue table and summary line and the headless `encode` progress lines all read ETAs from here, over
the same folded job progress, so the two never disagree.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from drapto_tui.model.events import ProcessingStatus
from drapto_tui.model.state import ProcessingState

#: The queue's rate is measured over this much recent wall time (long enough to span several segments).
RATE_WINDOW = 300.0
#: And not before this much of it has been seen with work running (a rate over two seconds is noise).
MIN_WINDOW = 20.0
#: Jobs whose remaining work counts: those that will run without the user doing anything.
PENDING = (ProcessingStatus.QUEUED, ProcessingStatus.RUNNING, ProcessingStatus.PAUSED)


def fmt_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    seconds = int(seconds)
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


def film_seconds(job: ProcessingState) -> float:
    return job.media.duration if job.media else 0.0


def film_seconds_done(job: ProcessingState) -> float:
    """Seconds of the film encoded so far (all of it once the job is done or its source kept)."""
    finished = job.status in (ProcessingStatus.COMPLETED, ProcessingStatus.KEPT)
    return film_seconds(job) * (1.0 if finished else job.progress)


class EtaTracker:
    """Samples of film seconds done against the time some job was running; the queue's rate is read from them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._samples: deque[tuple[float, float]] = deque()  # (working clock, film seconds done)
        self._working = 0.0  # wall seconds during which some job ran: the clock the rate is measured on
        self._last_tick: float | None = None
        self._done_base: dict[str, float] = {}  # film seconds each job had done when first seen
        self._credit: dict[str, float] = {}  # film seconds each job has done since

    def tick(self, jobs: list[ProcessingState]) -> None:
        now = self.clock()
        since, self._last_tick = (now - self._last_tick if self._last_tick is not None else 0.0), now
        if not any(job.status == ProcessingStatus.RUNNING for job in jobs):
            return  # paused or idle: the working clock stops, so a pause does not look like a slow queue
        self._working += since
        self._samples.append((self._working, self._done_this_session(jobs)))
        while len(self._samples) > 2 and self._working - self._samples[1][0] > RATE_WINDOW:
            self._samples.popleft()

    def _done_this_session(self, jobs: list[ProcessingState]) -> float:
        """Film seconds done since this tracker first saw each job (work done before it — an earlier run,
        a film finished before a relaunch — is not work this session's rate may claim)."""
        for job in jobs:
            done = film_seconds_done(job)
            base = self._done_base.setdefault(job.job_id, done)
            # Never less than before: a job removed or restarted takes back no work already counted.
            self._credit[job.job_id] = max(self._credit.get(job.job_id, 0.0), done - base)
        return sum(self._credit.values())

    def rate(self) -> float | None:
        """Film seconds encoded per wall second over the recent window, or None before it can be told."""
        if len(self._samples) < 2:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        if t1 - t0 < MIN_WINDOW or d1 <= d0:
            return None
        return (d1 - d0) / (t1 - t0)

    def eta(self, job: ProcessingState, now: datetime | None = None) -> float | None:
        """A job's time left: its working time over every run, scaled by the share it has left."""
        if job.status not in (ProcessingStatus.RUNNING, ProcessingStatus.PAUSED) or job.progress <= 0.01:
            return None
        active = job.active_time(now or datetime.now(UTC))
        return active * (1 - job.progress) / job.progress if active > 0 else None

    def queue_eta(self, jobs: list[ProcessingState]) -> float | None:
        """The queue's time left: film seconds still to do in jobs that will run, over the measured rate."""
        rate = self.rate()
        if rate is None:
            return None
        left = sum(film_seconds(job) * (1.0 - job.progress) for job in jobs if job.status in PENDING)
        return left / rate if left > 0 else None


__all__ = ["EtaTracker", "fmt_eta"]
