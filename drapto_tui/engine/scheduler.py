"""The scheduler: which jobs run, and steering them while they run.

Concurrency is counted in encodes (processing.parallel_jobs slots of the executor), not in files: up to one more
file than there are slots is in flight (analysed and segmented while the others encode), and each job's
segments go to the executor, which gives a free slot to the best job's waiting segment. A job whose estimated
temp space does not fit waits for running jobs to give theirs back, or fails with one line when none runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
from collections import deque
from collections.abc import Callable
from pathlib import Path

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.config.units import human_size
from drapto_tui.engine.bus import EventBus
from drapto_tui.engine.fold import StateManager
from drapto_tui.engine.monitor import ResourceMonitor
from drapto_tui.engine.pipeline import EncodingOptions, ProcessingPipeline
from drapto_tui.engine.queue import JobQueue
from drapto_tui.engine.space import temp_need, used_bytes
from drapto_tui.engine.workdirs import WorkDirs
from drapto_tui.execution.admission import AdmissionControl
from drapto_tui.execution.base import Executor
from drapto_tui.execution.children import ChildRegistry, TrackedControl
from drapto_tui.execution.job_log import JobLog
from drapto_tui.model.events import (
    ErrorOccurred,
    JobPaused,
    JobResumed,
    ProcessingEvents,
    ProcessingStatus,
    ResourceSample,
)
from drapto_tui.model.state import ProcessingState

E = ProcessingEvents


class Scheduler:
    def __init__(
        self,
        config: DraptoConfig,
        state: StateManager,
        bus: EventBus,
        *,
        queue: JobQueue,
        workdirs: WorkDirs,
        pipeline: ProcessingPipeline,
        executor: Executor,
        registry: ChildRegistry,
        admission: AdmissionControl | None = None,
        monitor: bool = True,
        job_log: Callable[[str], JobLog] | None = None,
    ) -> None:
        self.config = config
        self.job_log = job_log
        self.state = state
        self.bus = bus
        self.queue = queue
        self.workdirs = workdirs
        self.pipeline = pipeline
        self.executor = executor
        self.registry = registry
        self.admission = admission
        self.slots = executor.slots
        self.max_in_flight = self.slots + 1  # one more file being analysed/segmented while the others encode
        self.tasks: dict[str, asyncio.Task[bool]] = {}
        self.commands: dict[str, deque[str]] = {}  # job id → the FFmpeg command lines it ran (this session)
        self.controls: dict[str, TrackedControl] = {}
        self.monitor = (
            ResourceMonitor(
                workdirs.base_dir,
                bus,
                interval=config.resources.sample_interval,
                job_pids=self._job_pids,
                workers=executor.worker_usage,
            )
            if monitor
            else None
        )
        self._wake = asyncio.Event()
        self._scheduler: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop_requests = 0
        self._idle = asyncio.Event()
        self._space_waits: dict[str, str] = {}
        self.results: dict[str, bool] = {}
        self.only: set[str] | None = None  # run just these jobs (headless encode of given paths)
        self.launching = True  # False: start no new job (pause-all, finish-then-quit)

    @property
    def started(self) -> bool:
        return self._scheduler is not None

    @property
    def stopped(self) -> bool:
        return self._stopping

    def job_pids(self, job_id: str) -> list[int]:
        """The FFmpeg processes the job has running here: its own steps' and its segments' encodes."""
        control = self.controls.get(job_id)
        return [*(control.pids() if control else []), *self.executor.job_pids(job_id)]

    def _job_pids(self) -> dict[str, list[int]]:
        return {j: self.job_pids(j) for j in self.controls}

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> None:
        killed = self.registry.sweep()
        if killed:
            self.bus.emit(
                ErrorOccurred(
                    message=f"ended {killed} FFmpeg process(es) left by an earlier run", severity="warning"
                )
            )
        self.queue.recover()
        if self.monitor is not None:
            self.monitor.start()
            self._learn = self.bus.subscribe("pool-learning", kinds=[E.RESOURCE_SAMPLE])
        self._scheduler = asyncio.create_task(self._schedule())

    def poke(self) -> None:
        """Something changed (queue, pause, a job ended): look for work again."""
        self._wake.set()
        self.executor.poke()

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
            used = used_bytes(list(self.workdirs.job_dirs(j.job_id, create=False).all()))
            return size, max(0, temp_need(size, j.encoding_path) - used)

        size, need = outstanding(job)
        held = sum(outstanding(self.state.jobs[j])[1] for j in self.tasks if j in self.state.jobs)
        try:
            free = shutil.disk_usage(self.workdirs.base_dir).free - self.config.resources.temp_free_floor
        except OSError:
            return None
        if need + held <= free:
            return None
        others = f", {human_size(held)} of it held for the running jobs" if held else ""
        return (
            f"needs about {human_size(need)} of temp space in {self.workdirs.base_dir} (segments, encodes and the"
            f" muxed file, from its {human_size(size)} source); {human_size(max(free, 0))} is free above"
            f" resources.temp_free_floor{others}"
        )

    def _hold_for_space(self, job: ProcessingState, short: str) -> None:
        if self._space_waits.get(job.job_id) != short.split(";")[0]:
            self._space_waits[job.job_id] = short.split(";")[0]
            self.bus.emit(
                ErrorOccurred(
                    stage="scheduling",
                    severity="warning",
                    message=f"{job.current_file}: waiting for disk: {short}",
                ),
                job_id=job.job_id,
                file=job.current_file,
            )

    def _fail_unstartable(self, job: ProcessingState, short: str) -> None:
        self.bus.emit(
            ErrorOccurred(
                stage="scheduling",
                fatal=True,
                message=f"{job.current_file}: not enough temp space: {short} — free some space or point"
                " processing.temp_dir at a bigger disk, then retry the job",
            ),
            job_id=job.job_id,
            file=job.current_file,
            status=ProcessingStatus.FAILED,
        )
        self.results[job.job_id] = False

    def _learn_memory(self) -> None:
        if self.monitor is None:
            return
        for sample in self._learn.drain():
            if not isinstance(sample.data, ResourceSample):
                continue
            for job_id, usage in sample.data.jobs.items():
                running = self.executor.running_for(job_id)
                job = self.state.jobs.get(job_id)
                if running and job and job.media and self.admission is not None:
                    self.admission.estimates.observe(job.media.resolution_class, int(usage.rss / running))

    def job_commands(self, job_id: str) -> list[str]:
        """The FFmpeg command lines the job ran in this session: its own steps, then its segments' encodes."""
        return [*self.commands.get(job_id, ()), *self.executor.job_commands(job_id)]

    def _launch(self, job_id: str) -> None:
        job = self.state.jobs[job_id]
        control = TrackedControl(self.registry)
        control.log = self.job_log(job_id) if self.job_log is not None else None
        self.controls[job_id] = control
        self.commands[job_id] = control.commands
        output = (
            Path(job.output_file)
            if job.output_file
            else self.config.output_root() / (Path(job.current_file or "out").stem + ".mkv")
        )
        overwrite = bool(job.options.get("overwrite", False))
        task = asyncio.create_task(
            self.pipeline.process(
                Path(job.current_file or ""),
                output,
                EncodingOptions(
                    job_id=job_id,
                    overwrite=overwrite,
                    from_folder=bool(job.options.get("from_folder")),
                    replace=bool(job.options.get("replace")),
                ),
                control=control,
            )
        )
        self.tasks[job_id] = task
        task.add_done_callback(functools.partial(self._finished, job_id))

    def _finished(self, job_id: str, task: asyncio.Task[bool]) -> None:
        self.tasks.pop(job_id, None)
        self.controls.pop(job_id, None)
        self.executor.forget_job(job_id)
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
        self.executor.kill_now()
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
        if self.monitor is not None:
            await self.monitor.stop()
        # Jobs that were running are interrupted, not failed: they resume on the next start.
        self.queue.recover()
        self.state.save_checkpoint()

    # -- steering -----------------------------------------------------------------------------------------
    def pause_job(self, job_id: str) -> None:
        control = self.controls.get(job_id)
        if control is None or control.paused:
            return
        control.pause()
        self.executor.pause_job(job_id)
        job = self.state.jobs.get(job_id)
        self.bus.emit(
            JobPaused(), job_id=job_id, file=job.current_file if job else None, status=ProcessingStatus.PAUSED
        )

    def resume_job(self, job_id: str) -> None:
        control = self.controls.get(job_id)
        if control is None or not control.paused:
            return
        control.resume()
        self.executor.resume_job(job_id)
        job = self.state.jobs.get(job_id)
        self.bus.emit(
            JobResumed(),
            job_id=job_id,
            file=job.current_file if job else None,
            status=ProcessingStatus.RUNNING,
        )
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
        await self.executor.cancel_job(job_id)
        task = self.tasks.get(job_id)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
