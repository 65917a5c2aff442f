"""Time left, one way for every front end: active (not paused) running time per job, scaled by what is left.

The app's queue table and summary line and the headless `encode` progress lines all read ETAs from here, over
the same folded job progress, so the two never disagree.
"""

from __future__ import annotations

import time

from drapto_tui.model.events import ProcessingStatus
from drapto_tui.model.state import ProcessingState


def fmt_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    seconds = int(seconds)
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


class EtaTracker:
    """Active (not paused) running time per job, so ETAs ignore time spent paused."""

    def __init__(self) -> None:
        self.active: dict[str, float] = {}
        self._last = time.monotonic()

    def tick(self, jobs: list[ProcessingState]) -> None:
        now = time.monotonic()
        dt = now - self._last
        self._last = now
        for job in jobs:
            if job.status == ProcessingStatus.RUNNING:
                self.active[job.job_id] = self.active.get(job.job_id, 0.0) + dt

    def eta(self, job: ProcessingState) -> float | None:
        active = self.active.get(job.job_id)
        if (
            not active
            or job.progress <= 0.01
            or job.status not in (ProcessingStatus.RUNNING, ProcessingStatus.PAUSED)
        ):
            return None
        return active * (1 - job.progress) / job.progress

    def total_eta(self, done: float, total: float) -> float | None:
        """Time left for `total - done` units of work at the rate the running jobs have gone so far."""
        active = sum(self.active.values())
        return active * (total - done) / done if done and active and done < total else None


__all__ = ["EtaTracker", "fmt_eta"]
