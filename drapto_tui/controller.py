"""The small command API the UI drives: queue and pool commands, adding paths, shutting down.

The app never touches the pipeline, the queue's state or FFmpeg directly: keys become calls here, and what
happens comes back as events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from drapto_tui.analysis import discover_files
from drapto_tui.config.schema import DraptoConfig
from drapto_tui.errors import DraptoError
from drapto_tui.events import ProcessingEvents, ProcessingStatus
from drapto_tui.media.probe import probe
from drapto_tui.queue import JobQueue
from drapto_tui.session import Session
from drapto_tui.worker import WorkerPool

E = ProcessingEvents


class Controller:
    def __init__(self, session: Session, *, monitor: bool = True) -> None:
        self.session = session
        self.config: DraptoConfig = session.config
        self.queue = JobQueue(self.config, session.state, session.bus, session.temp)
        self.pool = WorkerPool(self.config, session.state, session.bus, queue=self.queue, temp=session.temp,
                               monitor=monitor)
        self.paused_all = False
        self._probe_tasks: set[asyncio.Task[None]] = set()
        self._probe_gate = asyncio.Semaphore(2)

    @property
    def state(self):  # noqa: ANN201
        return self.session.state

    async def start(self, *, paused: bool = False) -> None:
        await self.pool.pipeline.ffmpeg()
        if paused:
            self.paused_all = True
            self.pool.launching = False
        self.pool.start()
        for job in self.queue.jobs():
            if job.media is None and job.status == ProcessingStatus.QUEUED:
                self._preanalyse(job.job_id, Path(job.current_file or ""))

    # -- adding ---------------------------------------------------------------------------------------------
    def preview(self, paths: Iterable[Path]) -> list[Path]:
        """What discovery would queue for these paths (raises DraptoError with one line otherwise)."""
        return [file for file, _ in discover_files(list(paths), self.config.input)]

    def add_paths(self, paths: Iterable[Path]) -> tuple[list[str], list[str]]:
        """Queue the films found under `paths`; returns (new job ids, one-line errors)."""
        added: list[str] = []
        errors: list[str] = []
        for path in paths:
            try:
                files = discover_files([path], self.config.input, self.session.bus)
            except DraptoError as err:
                errors.append(err.line())
                continue
            for file, root in files:
                if self.state.job_for_file(str(file)) is not None:
                    continue
                job_id = self.queue.add_file(file, root)
                added.append(job_id)
                self._preanalyse(job_id, file)
        self.pool.poke()
        return added, errors

    def _preanalyse(self, job_id: str, file: Path) -> None:
        """Probe queued files in the background so the queue shows class, HDR/DV and path before they run."""
        async def run() -> None:
            async with self._probe_gate:
                job = self.state.jobs.get(job_id)
                if job is None or job.media is not None or job.status != ProcessingStatus.QUEUED:
                    return
                try:
                    ffmpeg = await self.pool.pipeline.ffmpeg()
                    media = await probe(file, ffmpeg.path)
                except DraptoError:
                    return  # the job reports it properly when it runs
                job = self.state.jobs.get(job_id)
                if job is not None and job.media is None and job.status == ProcessingStatus.QUEUED:
                    self.session.bus.emit(E.ANALYSIS_COMPLETE, job_id=job_id, file=file, preview=True,
                                          media=media.model_dump(mode="json"), encoding_path=media.encoding_path)

        task = asyncio.create_task(run())
        self._probe_tasks.add(task)
        task.add_done_callback(self._probe_tasks.discard)

    # -- steering -------------------------------------------------------------------------------------------
    def toggle_pause(self, job_id: str) -> None:
        self.pool.toggle_pause(job_id)

    def toggle_pause_all(self) -> None:
        """Pause every running job and start no new one; again to resume."""
        self.paused_all = not self.paused_all
        self.pool.launching = not self.paused_all
        if self.paused_all:
            self.pool.pause_all()
        else:
            self.pool.resume_all()
        self.pool.poke()

    def move(self, job_id: str, offset: int) -> None:
        self.queue.move(job_id, offset)
        self.pool.poke()

    def bump_priority(self, job_id: str, delta: int) -> None:
        self.queue.bump_priority(job_id, delta)
        self.pool.poke()

    def toggle_hold(self, job_id: str) -> None:
        self.queue.toggle_hold(job_id)
        self.pool.poke()

    def retry(self, job_id: str) -> None:
        self.queue.retry(job_id)
        self.pool.poke()

    async def cancel(self, job_id: str) -> None:
        await self.pool.cancel_job(job_id)

    def remove(self, job_id: str) -> None:
        self.queue.remove(job_id)

    def commands(self, job_id: str) -> list[str]:
        return list(self.pool.commands.get(job_id, []))

    def is_running(self) -> bool:
        return bool(self.pool.tasks)

    async def shutdown(self, mode: str = "stop") -> None:
        """finish: let running jobs complete, then stop; stop: end now, resumable; cancel: end and cancel them."""
        if mode == "finish":
            self.pool.launching = False
            while self.pool.tasks:
                await asyncio.sleep(0.2)
        elif mode == "cancel":
            for job_id in list(self.pool.tasks):
                await self.pool.cancel_job(job_id)
        for task in list(self._probe_tasks):
            task.cancel()
        await self.pool.stop(now=True)
        await self.session.close()
