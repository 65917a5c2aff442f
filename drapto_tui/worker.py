"""The worker pool: which jobs run, which segment encodes start, and steering them while they run.

Concurrency is counted in FFmpeg encodes (processing.parallel_jobs slots), not in files: several files may be
in flight, and a free slot goes to the waiting segment of the highest-priority job (queue order, checked at the
moment the slot frees, so a reorder takes effect at once). Every start passes admission control.

The one seam for running segments elsewhere is `SegmentExecutor.submit(job, segment, work)`: the local
executor gates `work()` and runs it here; another executor (a distributed one) could ship the segment out
instead, with the queue, the pipeline and the UI unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import psutil

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.config.units import human_size
from drapto_tui.control import JobControl
from drapto_tui.events import EventBus, ProcessingEvents, ProcessingStatus
from drapto_tui.media.ffmpeg import FfmpegProcess
from drapto_tui.pipeline import EncodingOptions, ProcessingPipeline
from drapto_tui.queue import JobQueue
from drapto_tui.resources import AdmissionControl, ResourceMonitor
from drapto_tui.space import DiskFullError, temp_need, used_bytes
from drapto_tui.state import ProcessingState, StateManager
from drapto_tui.temp import TempManager

T = TypeVar("T")
E = ProcessingEvents


class SegmentExecutor(Protocol):
    async def submit(self, job_id: str, segment: int, resolution_class: str, work: Callable[[], Awaitable[T]]) -> T: ...


@dataclass(eq=False)
class _Waiter:
    """One segment waiting for a slot. Compared by identity: two jobs' waiters for the same segment index are
    different waiters (value equality once removed another job's waiter and hung the queue)."""

    segment: int
    job_id: str
    resolution_class: str
    future: asyncio.Future[None]


class LocalExecutor:
    """At most `slots` encodes at once on this machine, best job first, behind admission control."""

    def __init__(
        self,
        slots: int,
        *,
        order: Callable[[str], tuple[Any, ...]] = lambda job_id: (0,),
        paused: Callable[[str], bool] = lambda job_id: False,
        admission: AdmissionControl | None = None,
        on_wait: Callable[[str, str], None] | None = None,
    ) -> None:
        self.slots = slots
        self.order = order
        self.paused = paused
        self.admission = admission
        self.on_wait = on_wait
        self.running: dict[str, int] = {}
        self._started_at: list[tuple[float, int]] = []
        self._waiters: list[_Waiter] = []
        self._retry: asyncio.TimerHandle | None = None
        self._last_reason = ""
        self.closed = False

    @property
    def busy(self) -> int:
        return sum(self.running.values())

    def running_for(self, job_id: str) -> int:
        return self.running.get(job_id, 0)

    async def submit(self, job_id: str, segment: int, resolution_class: str, work: Callable[[], Awaitable[T]]) -> T:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(segment, job_id, resolution_class, fut)
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
        try:
            return await work()
        finally:
            self._release(job_id)

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

    def dispatch(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        while self.busy < self.slots and not self.closed:
            ready = [w for w in self._waiters if not w.future.done() and not self.paused(w.job_id)]
            if not ready:
                return
            best = min(ready, key=lambda w: (self.order(w.job_id), w.segment))
            if self.admission is not None:
                self.admission.reserved = self._reserved()
                verdict = self.admission.check(best.resolution_class)
                if not verdict.ok:
                    if verdict.kind == "disk" and self.busy == 0:
                        # Nothing of ours runs, so nothing will give space back: waiting would be forever.
                        self._waiters.remove(best)
                        best.future.set_exception(DiskFullError(
                            verdict.reason.removeprefix("waiting for disk: "), subject="the temp disk is full",
                            hint="free some space or point processing.temp_dir at a bigger disk, then retry"))
                        continue
                    if verdict.reason != self._last_reason and self.on_wait is not None:
                        self.on_wait(best.job_id, verdict.reason)
                    self._last_reason = verdict.reason
                    self._retry = asyncio.get_running_loop().call_later(1.0, self.dispatch)
                    return
                self._last_reason = ""
                self._started_at.append((time.monotonic(), self.admission.estimates.need(best.resolution_class)))
            self._waiters.remove(best)
            self.running[best.job_id] = self.running.get(best.job_id, 0) + 1
            best.future.set_result(None)

    def close(self) -> None:
        """No new encode starts; those waiting stay waiting (their jobs are stopped by the pool)."""
        self.closed = True


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
        tmp.write_text("".join(f"{pid} {created}\n" for pid, created in self.live.items()))
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

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid is not None]


class WorkerPool:
    def __init__(
        self,
        config: DraptoConfig,
        status: StateManager,
        events: EventBus,
        *,
        queue: JobQueue,
        temp: TempManager,
        pipeline: ProcessingPipeline | None = None,
        monitor: bool = True,
    ) -> None:
        self.config = config
        self.status = status
        self.events = events
        self.queue = queue
        self.temp = temp
        self.slots = config.parallel_jobs()
        self.registry = ChildRegistry(temp.state / "children.txt")
        self.admission = AdmissionControl(temp.base_dir, memory_floor=config.resources.memory_floor,
                                          temp_free_floor=config.resources.temp_free_floor)
        self.executor = LocalExecutor(self.slots, order=self._order, paused=self._paused, admission=self.admission,
                                      on_wait=self._waiting)
        self.pipeline = pipeline or ProcessingPipeline(config, status, events, temp=temp, cache=status.store)
        self.pipeline.executor = self.executor
        self.max_in_flight = self.slots + 1  # one more file being analysed/segmented while the others encode
        self.tasks: dict[str, asyncio.Task[bool]] = {}
        self.commands: dict[str, Any] = {}  # job id → the FFmpeg command lines it ran (this session)
        self.controls: dict[str, TrackedControl] = {}
        self.monitor = ResourceMonitor(temp.base_dir, events, interval=config.resources.sample_interval,
                                       job_pids=lambda: {j: c.pids() for j, c in self.controls.items()}) \
            if monitor else None
        self._wake = asyncio.Event()
        self._scheduler: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop_requests = 0
        self._idle = asyncio.Event()
        self._space_waits: dict[str, str] = {}
        self.results: dict[str, bool] = {}
        self.only: set[str] | None = None  # run just these jobs (headless encode of given paths)
        self.launching = True  # False: start no new job (pause-all, finish-then-quit)

    # -- ordering for the executor ------------------------------------------------------------------------
    def _order(self, job_id: str) -> tuple[Any, ...]:
        job = self.status.jobs.get(job_id)
        return (-job.priority, job.position) if job else (0, 1 << 30)

    def _paused(self, job_id: str) -> bool:
        control = self.controls.get(job_id)
        return control is not None and control.paused

    def _waiting(self, job_id: str, reason: str) -> None:
        job = self.status.jobs.get(job_id)
        self.events.emit(E.ERROR_OCCURRED, job_id=job_id, file=job.current_file if job else None,
                         message=reason, stage="scheduling", severity="warning")

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> None:
        killed = self.registry.sweep()
        if killed:
            self.events.emit(E.ERROR_OCCURRED, message=f"ended {killed} FFmpeg process(es) left by an earlier run",
                             severity="warning")
        self.queue.recover()
        if self.monitor is not None:
            self.monitor.start()
            self._learn = self.events.subscribe("pool-learning", kinds=[E.RESOURCE_SAMPLE])
        self._scheduler = asyncio.create_task(self._schedule())

    def poke(self) -> None:
        """Something changed (queue, pause, a job ended): look for work again."""
        self._wake.set()
        self.executor.dispatch()

    async def _schedule(self) -> None:
        while not self._stopping:
            self._learn_memory()
            while self.launching and len(self.tasks) < self.max_in_flight and not self._stopping:
                job = self.queue.get_next_job(exclude=set(self.tasks), only=self.only)
                if job is None:
                    break
                short = self._space_shortfall(job)
                if short is not None:
                    if self.tasks:  # running jobs give their space back when they finish: wait for them
                        self._hold_for_space(job, short)
                        break
                    self._fail_unstartable(job, short)
                    continue
                self._launch(job.job_id)
            if not self.tasks and self.queue.get_next_job(only=self.only) is None:
                self._idle.set()
            else:
                self._idle.clear()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)

    def _space_shortfall(self, job: ProcessingState) -> str | None:
        """Why the job's estimated temp space (see space.py) does not fit beside what running jobs still need,
        or None when it fits."""
        def outstanding(j: ProcessingState) -> tuple[int, int]:
            size = int(j.stats.get("input_bytes") or 0)
            if not size and j.current_file:
                with contextlib.suppress(OSError):
                    size = os.stat(j.current_file).st_size
            used = used_bytes(list(self.temp.job_dirs(j.job_id, create=False).all()))
            return size, max(0, temp_need(size, j.encoding_path) - used)

        size, need = outstanding(job)
        held = sum(outstanding(self.status.jobs[j])[1] for j in self.tasks if j in self.status.jobs)
        try:
            free = shutil.disk_usage(self.temp.base_dir).free - self.config.resources.temp_free_floor
        except OSError:
            return None
        if need + held <= free:
            return None
        others = f", {human_size(held)} of it held for the running jobs" if held else ""
        return (f"needs about {human_size(need)} of temp space in {self.temp.base_dir} (segments, encodes and the"
                f" muxed file, from its {human_size(size)} source); {human_size(max(free, 0))} is free above"
                f" resources.temp_free_floor{others}")

    def _hold_for_space(self, job: ProcessingState, short: str) -> None:
        if self._space_waits.get(job.job_id) != short.split(";")[0]:
            self._space_waits[job.job_id] = short.split(";")[0]
            self.events.emit(E.ERROR_OCCURRED, job_id=job.job_id, file=job.current_file, stage="scheduling",
                             severity="warning", message=f"{job.current_file}: waiting for disk: {short}")

    def _fail_unstartable(self, job: ProcessingState, short: str) -> None:
        self.events.emit(E.ERROR_OCCURRED, job_id=job.job_id, file=job.current_file, stage="scheduling",
                         status=ProcessingStatus.FAILED, fatal=True,
                         message=f"{job.current_file}: not enough temp space: {short} — free some space or point"
                                 " processing.temp_dir at a bigger disk, then retry the job")
        self.results[job.job_id] = False

    def _learn_memory(self) -> None:
        if self.monitor is None:
            return
        for sample in self._learn.drain():
            for job_id, usage in sample.data.get("jobs", {}).items():
                running = self.executor.running_for(job_id)
                job = self.status.jobs.get(job_id)
                if running and job and job.media:
                    self.admission.estimates.observe(job.media.get("resolution_class", "hd"),
                                                     int(usage["rss"] / running))

    def _launch(self, job_id: str) -> None:
        job = self.status.jobs[job_id]
        control = TrackedControl(self.registry)
        self.controls[job_id] = control
        self.commands[job_id] = control.commands
        self.pipeline.controls[job_id] = control
        output = Path(job.output_file) if job.output_file else self.config.output_root() / (
            Path(job.current_file or "out").stem + ".mkv")
        overwrite = bool(job.options.get("overwrite", False))
        task = asyncio.create_task(self.pipeline.process(Path(job.current_file or ""), output,
                                                         EncodingOptions(job_id=job_id, overwrite=overwrite)))
        self.tasks[job_id] = task
        task.add_done_callback(lambda t, job_id=job_id: self._finished(job_id, t))

    def _finished(self, job_id: str, task: asyncio.Task[bool]) -> None:
        self.tasks.pop(job_id, None)
        self.controls.pop(job_id, None)
        if not task.cancelled() and task.exception() is None:
            self.results[job_id] = task.result()
        self.poke()

    async def run_until_idle(self) -> dict[str, bool]:
        if self._scheduler is None:
            self.start()
        self._idle.clear()  # the scheduler sets it again only after it has looked at the queue
        self.poke()
        await self._idle.wait()
        return self.results

    async def stop(self, *, now: bool = False) -> None:
        """Stop scheduling. Graceful: running encodes finish (their segments are kept), then the jobs stop and
        go back to queued. `now`, or a second stop: everything ends at once. No FFmpeg outlives this."""
        self._stop_requests += 1
        self._stopping = True
        self.executor.close()
        self._wake.set()
        if not now and self._stop_requests == 1:
            while self.executor.busy and self._stop_requests == 1:
                await asyncio.sleep(0.1)
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for control in list(self.controls.values()):
            control.kill_now()
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
        if self.monitor is not None:
            await self.monitor.stop()
        # Jobs that were running are interrupted, not failed: they resume on the next start.
        self.queue.recover()
        self.status.save_checkpoint()

    # -- steering -----------------------------------------------------------------------------------------
    def pause_job(self, job_id: str) -> None:
        control = self.controls.get(job_id)
        if control is None or control.paused:
            return
        control.pause()
        job = self.status.jobs.get(job_id)
        self.events.emit(E.JOB_PAUSED, job_id=job_id, file=job.current_file if job else None,
                         status=ProcessingStatus.PAUSED)

    def resume_job(self, job_id: str) -> None:
        control = self.controls.get(job_id)
        if control is None or not control.paused:
            return
        control.resume()
        job = self.status.jobs.get(job_id)
        self.events.emit(E.JOB_RESUMED, job_id=job_id, file=job.current_file if job else None,
                         status=ProcessingStatus.RUNNING)
        self.poke()

    def toggle_pause(self, job_id: str) -> None:
        control = self.controls.get(job_id)
        if control is not None:
            self.resume_job(job_id) if control.paused else self.pause_job(job_id)

    def pause_all(self) -> None:
        for job_id in list(self.controls):
            self.pause_job(job_id)

    def resume_all(self) -> None:
        for job_id in list(self.controls):
            self.resume_job(job_id)

    async def cancel_job(self, job_id: str) -> None:
        control = self.controls.get(job_id)
        if control is None:
            self.queue.cancel_queued(job_id)
            self.poke()
            return
        await control.cancel()
        task = self.tasks.get(job_id)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
