"""The local executor: segment encodes on this machine, at most `slots` at once, best job first.

A free slot goes to the waiting segment of the highest-priority job (queue order, asked at the moment the slot
frees, so a reorder takes effect at once): its next segment in film order, except at the job's end, where the
longest of its last segments goes first (`pick`). Every start passes admission control (memory and temp space); a
paused job's encodes are stopped with SIGSTOP and none of its waiting segments starts. Each segment runs
`run_segment` in its own task, with the job's process control as the FFmpeg tracker, so pause and cancel reach
every process it starts; nothing else crosses between the two but the spec, the reports and the outcome.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from drapto_tui.errors import DiskFullError, DraptoError
from drapto_tui.execution.admission import AdmissionControl
from drapto_tui.execution.base import Refresh, Report
from drapto_tui.execution.children import ChildRegistry, TrackedControl
from drapto_tui.execution.control import JobCancelled, JobControl
from drapto_tui.execution.job_log import JobLog
from drapto_tui.media.ffmpeg import current_tracker
from drapto_tui.model.events import JobUsage
from drapto_tui.model.segment import SegmentOutcome, SegmentSpec
from drapto_tui.quality.segment_runner import run_segment

T = TypeVar("T")
Runner = Callable[[SegmentSpec, Path, Report], Coroutine[Any, Any, SegmentOutcome]]


@dataclass(eq=False)
class _Waiter:
    """One segment waiting for a slot. Compared by identity: two jobs' waiters for the same segment index are
    different waiters (value equality once removed another job's waiter and hung the queue)."""

    segment: int
    job_id: str
    resolution_class: str
    future: asyncio.Future[None]
    frames: int = 0  # the segment's length, for the order at the job's end


def pick(waiting: list[_Waiter], slots: int) -> _Waiter:
    """Which of one job's waiting segments starts next: the first in film order (the film's early segments
    teach the later ones their loss ratio, quality/predictive.py), but once no more wait than there are slots,
    the longest. Film order to the end left a 350-frame last segment running alone on one of two cores for
    3.7 s after every other had finished (issue 24's film at preset 8); taking the longest of the last ones
    first leaves the short ones to fill the slots at the end (replaying that run's segment times: 56.3 s → 55.0 s
    on 2 slots, 16.2 → 14.8 s on 8). Giving the longest first from the start was tried: the first to finish
    were merged two-shot segments, unlike the film, and the loss ratio learned from them cost 3 more probes
    and a 4 % larger file (benchmarks/RESULTS.md)."""
    if len(waiting) <= slots:
        return max(waiting, key=lambda w: (w.frames, -w.segment))
    return min(waiting, key=lambda w: w.segment)


class LocalExecutor:
    """At most `slots` encodes at once on this machine, best job first, behind admission control."""

    def __init__(
        self,
        slots: int,
        *,
        order: Callable[[str], tuple[Any, ...]] = lambda job_id: (0,),
        admission: AdmissionControl | None = None,
        on_wait: Callable[[str, str], None] | None = None,
        registry: ChildRegistry | None = None,
        runner: Runner = run_segment,
        job_log: Callable[[str], JobLog] | None = None,
    ) -> None:
        self.slots = slots
        self.job_log = job_log  # each job's FFmpeg log (logs/jobs/<job>/ffmpeg.log), None: none kept
        self.order = order
        self.admission = admission
        self.on_wait = on_wait
        self.registry = registry
        self.runner = runner
        self.running: dict[str, int] = {}
        self._started_at: list[tuple[float, int]] = []
        self._waiters: list[_Waiter] = []
        self._retry: asyncio.TimerHandle | None = None
        self._last_reason = ""
        self._paused: set[str] = set()
        self._cancelled: set[str] = set()
        self._controls: dict[str, JobControl] = {}
        self._tasks: dict[str, set[asyncio.Task[SegmentOutcome]]] = {}
        self._commands: dict[str, deque[str]] = {}  # kept after the job ends, for the inspector
        self.closed = False

    @property
    def busy(self) -> int:
        return sum(self.running.values())

    def running_for(self, job_id: str) -> int:
        return self.running.get(job_id, 0)

    # -- slots --------------------------------------------------------------------------------------------
    async def _acquire(self, job_id: str, segment: int, resolution_class: str, frames: int = 0) -> None:
        if job_id in self._cancelled:
            raise JobCancelled("cancelled")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(segment, job_id, resolution_class, fut, frames)
        self._waiters.append(waiter)
        self.dispatch()
        try:
            await fut
        except BaseException:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif fut.done() and not fut.cancelled() and fut.exception() is None:
                self._release(job_id)  # we were given a slot but are cancelled before using it
            raise

    def _release(self, job_id: str) -> None:
        self.running[job_id] -= 1
        if not self.running[job_id]:
            del self.running[job_id]
        self.dispatch()

    def _reserved(self) -> int:
        """Memory of encodes started in the last few seconds, not yet visible as used."""
        now = time.monotonic()
        self._started_at = [(t, n) for t, n in self._started_at if now - t < 5.0]
        return sum(n for _, n in self._started_at)

    def poke(self) -> None:
        self.dispatch()

    def dispatch(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        while self.busy < self.slots and not self.closed:
            ready = [w for w in self._waiters if not w.future.done() and w.job_id not in self._paused]
            if not ready:
                return
            job = min(ready, key=lambda w: self.order(w.job_id)).job_id
            best = pick([w for w in ready if w.job_id == job], self.slots)
            if self.admission is not None:
                self.admission.reserved = self._reserved()
                verdict = self.admission.check(best.resolution_class)
                if not verdict.ok:
                    if verdict.kind == "disk" and self.busy == 0:
                        # Nothing of ours runs, so nothing will give space back: waiting would be forever.
                        self._waiters.remove(best)
                        best.future.set_exception(
                            DiskFullError(
                                verdict.reason.removeprefix("waiting for disk: "),
                                subject="the temp disk is full",
                                hint="free some space or point processing.temp_dir at a bigger disk, then retry",
                            )
                        )
                        continue
                    if verdict.reason != self._last_reason and self.on_wait is not None:
                        self.on_wait(best.job_id, verdict.reason)
                    self._last_reason = verdict.reason
                    self._retry = asyncio.get_running_loop().call_later(1.0, self.dispatch)
                    return
                self._last_reason = ""
                self._started_at.append(
                    (time.monotonic(), self.admission.estimates.need(best.resolution_class))
                )
            self._waiters.remove(best)
            self.running[best.job_id] = self.running.get(best.job_id, 0) + 1
            best.future.set_result(None)

    # -- running ------------------------------------------------------------------------------------------
    def _control(self, job_id: str) -> JobControl:
        control = self._controls.get(job_id)
        if control is None:
            control = self._controls[job_id] = (
                TrackedControl(self.registry) if self.registry else JobControl()
            )
            control.commands = self._commands.setdefault(job_id, deque(maxlen=100))
            control.log = self.job_log(job_id) if self.job_log is not None else None
            if job_id in self._paused:
                control.pause()
        return control

    async def submit(
        self, spec: SegmentSpec, report: Report, *, refresh: Refresh | None = None
    ) -> SegmentOutcome:
        job_id = spec.job_id
        await self._acquire(job_id, spec.segment.index, spec.resolution_class, spec.segment.frames)
        try:
            if job_id in self._cancelled:
                raise JobCancelled("cancelled")
            if refresh is not None:
                spec = refresh(spec)
            context = contextvars.copy_context()
            context.run(current_tracker.set, self._control(job_id))
            task: asyncio.Task[SegmentOutcome] = asyncio.get_running_loop().create_task(
                self.runner(spec, Path(spec.scratch), report), context=context
            )
            self._tasks.setdefault(job_id, set()).add(task)
            try:
                return await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if job_id in self._cancelled and not (current is not None and current.cancelling()):
                    raise JobCancelled("cancelled") from None
                raise
            except DraptoError:
                if job_id in self._cancelled:  # an FFmpeg ended by the cancel, not a real failure
                    raise JobCancelled("cancelled") from None
                raise
            finally:
                self._tasks.get(job_id, set()).discard(task)
        finally:
            self._release(job_id)

    async def run_local(self, job_id: str, resolution_class: str, work: Callable[[], Awaitable[T]]) -> T:
        await self._acquire(job_id, 0, resolution_class)
        try:
            if job_id in self._cancelled:
                raise JobCancelled("cancelled")
            return await work()
        finally:
            self._release(job_id)

    # -- steering -----------------------------------------------------------------------------------------
    def pause_job(self, job_id: str) -> None:
        self._paused.add(job_id)
        if job_id in self._controls:
            self._controls[job_id].pause()

    def resume_job(self, job_id: str) -> None:
        self._paused.discard(job_id)
        if job_id in self._controls:
            self._controls[job_id].resume()
        self.dispatch()

    async def cancel_job(self, job_id: str) -> None:
        self._cancelled.add(job_id)
        self._paused.discard(job_id)
        for waiter in [w for w in self._waiters if w.job_id == job_id]:
            self._waiters.remove(waiter)
            if not waiter.future.done():
                waiter.future.set_exception(JobCancelled("cancelled"))
        tasks = list(self._tasks.get(job_id, ()))
        for task in tasks:
            task.cancel()
        control = self._controls.get(job_id)
        if control is not None:
            await control.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def forget_job(self, job_id: str) -> None:
        """The job's run is over (done, failed, cancelled or stopped): a retry starts with a clean slate."""
        self._cancelled.discard(job_id)
        self._paused.discard(job_id)
        control = self._controls.pop(job_id, None)
        if control is not None:
            control.kill_now()

    def job_pids(self, job_id: str) -> list[int]:
        control = self._controls.get(job_id)
        return control.pids() if control is not None else []

    def worker_usage(self) -> dict[str, JobUsage]:
        return {}  # every encode runs here: the machine's own meters say it all

    def job_commands(self, job_id: str) -> list[str]:
        return list(self._commands.get(job_id, ()))

    def kill_now(self) -> None:
        for control in self._controls.values():
            control.kill_now()

    async def open(self) -> None:
        """Nothing to reach: the segments run here."""

    async def aclose(self) -> None:
        """Nothing to let go of."""

    def close(self) -> None:
        """No new encode starts; those waiting stay waiting (their jobs are stopped by the scheduler)."""
        self.closed = True


__all__ = ["LocalExecutor"]
