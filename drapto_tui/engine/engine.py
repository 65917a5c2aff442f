"""The Engine: one drapto-tui core, wired in one place, and the command API every front end drives.

`Engine(config)` opens the work dirs, the state store (with its lock), the event bus and its JSONL log, the
state fold, the queue, the executor, the pipeline and the scheduler. The app, `encode` and the tests open it
the same way; `Engine.look(config)` reads the queue beside a running engine without taking the lock (for
`drapto-tui queue`). Keys and commands become calls here, and what happens comes back as events; nothing here
knows about Textual.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.engine.bus import EventBus
from drapto_tui.engine.discovery import Preview, discover_files, preview_files
from drapto_tui.engine.eta import EtaTracker
from drapto_tui.engine.fold import StateManager
from drapto_tui.engine.hooks import run_job_end_hook
from drapto_tui.engine.library import left_out
from drapto_tui.engine.pipeline import ProcessingPipeline
from drapto_tui.engine.queue import JobQueue, new_job_id
from drapto_tui.engine.replace import purge, recover
from drapto_tui.engine.replace import restore as restore_original
from drapto_tui.engine.schedule import ScheduleGate
from drapto_tui.engine.scheduler import Scheduler
from drapto_tui.engine.store import StateStore
from drapto_tui.engine.watch import FolderWatch
from drapto_tui.engine.workdirs import WorkDirs
from drapto_tui.errors import ConfigError, DraptoError, MediaError, unusable
from drapto_tui.execution.admission import AdmissionControl
from drapto_tui.execution.base import Executor
from drapto_tui.execution.children import ChildRegistry
from drapto_tui.execution.job_log import JobLog
from drapto_tui.execution.local import LocalExecutor
from drapto_tui.media.probe import probe
from drapto_tui.model.events import (
    AnalysisComplete,
    EncodingComplete,
    ErrorOccurred,
    Event,
    JobUpdated,
    Notice,
    ProcessingEvents,
    ProcessingStatus,
)
from drapto_tui.model.state import ProcessingState

E = ProcessingEvents
#: A job in one of these has ended (until a retry queues it again): its hook runs.
ENDED = (
    ProcessingStatus.COMPLETED,
    ProcessingStatus.KEPT,
    ProcessingStatus.FAILED,
    ProcessingStatus.CANCELLED,
)


class QueueLook:
    """The queue as a second process sees it: the jobs in order and the pid of the live owner, if any."""

    def __init__(
        self, jobs: list[ProcessingState], owner_pid: int | None, waiting: str | None = None
    ) -> None:
        self.jobs = jobs
        self.owner_pid = owner_pid
        self.waiting = waiting  # the live owner's schedule wait ("waiting for the 01:00 window"), if any

    def status(self, job: ProcessingState) -> str:
        """Rows a killed process left running or paused show as interrupted: they resume on the next start."""
        active = job.status in (ProcessingStatus.RUNNING, ProcessingStatus.PAUSED)
        return "interrupted" if active and self.owner_pid is None else job.status.value


class Engine:
    #: Quitting an app that holds the engine in-process stops its encodes (resumable); a service client detaches.
    default_quit = "stop"

    def __init__(
        self, config: DraptoConfig, *, monitor: bool = True, executor: Executor | None = None
    ) -> None:
        self.config = config
        self.workdirs = WorkDirs(config)
        self.store = StateStore(self.workdirs.state)  # fails fast (one line) if locked or corrupt
        try:
            self.bus = EventBus(self.workdirs.logs / "events.jsonl")
        except PermissionError as exc:
            self.store.close()
            raise unusable(exc, "event log") from None
        self.state = StateManager(self.store)
        # The state fold is a synchronous tap: queue commands and the scheduler read state that already holds
        # every event published so far. It is cheap (an in-memory fold; lifecycle events cost one small SQLite
        # commit), unlike the UI and log consumers, which get their own queues.
        self.bus.add_listener(self.state.update_state)
        self.queue = JobQueue(config, self.state, self.bus, self.workdirs)
        self.registry = ChildRegistry(self.workdirs.state / "children.txt")
        self.admission = AdmissionControl(
            self.workdirs.base_dir,
            memory_floor=config.resources.memory_floor,
            temp_free_floor=config.resources.temp_free_floor,
        )
        self.executor: Executor = executor or self._executor()
        self.pipeline = ProcessingPipeline(
            config, self.state, self.bus, workdirs=self.workdirs, executor=self.executor, cache=self.store
        )
        self.scheduler = Scheduler(
            config,
            self.state,
            self.bus,
            queue=self.queue,
            workdirs=self.workdirs,
            pipeline=self.pipeline,
            executor=self.executor,
            registry=self.registry,
            admission=self.admission,
            monitor=monitor,
            job_log=self._job_log,
        )
        self.paused_all = False
        #: Why the queue waits for its schedule now ("waiting for the 01:00 window"), or None (engine/schedule.py).
        self.schedule_wait: str | None = None
        self.gate = ScheduleGate(config.schedule)
        self._held = False  # running jobs paused by pause-all or the schedule
        self._finishing = False
        self._housekeeping: asyncio.Task[None] | None = None
        self._last_sweep = 0.0
        self.emit = self.bus.emit  # an event is published as its payload model (engine/bus.py)
        self.etas = EtaTracker()  # the queue's rate, measured here once for every viewer
        self._watches: dict[Path, FolderWatch] = {}
        self._hook_tasks: set[asyncio.Task[None]] = set()
        if config.hooks.on_job_end:
            self.bus.add_listener(self._job_end)
        self._probe_tasks: set[asyncio.Task[None]] = set()
        self._probe_gate = asyncio.Semaphore(2)
        self._closed = False
        self._settle_swaps()

    @property
    def waiting(self) -> str | None:
        """What the queue waits for now, in one line for the app's header and `queue`: its schedule (a window,
        pause_when), or a cluster with no worker; None when neither holds it."""
        return self.schedule_wait or getattr(self.executor, "waiting_for", None)

    def _cluster_changed(self, line: str, waiting: bool) -> None:
        """A Dask worker joined or left, or none is left: one line in the log, and the wait said where the
        schedule's is (header, `queue`)."""
        if waiting:
            self.bus.emit(ErrorOccurred(message=line, stage="cluster", severity="warning"))
        else:
            self.bus.emit(Notice(stage="cluster", message=line))
        self.store.set_meta("waiting", self.waiting or "")

    def _executor(self) -> Executor:
        """The configured executor: this machine's, or a Dask cluster's (execution.backend)."""
        cfg = self.config.execution
        if cfg.backend == "local":
            return LocalExecutor(
                self.config.parallel_jobs(),
                order=self.queue.order_key,
                admission=self.admission,
                on_wait=self._waiting,
                registry=self.registry,
                job_log=self._job_log,
            )
        try:  # the extra is optional: its absence is one line at start, never a traceback when a job begins
            import distributed  # noqa: F401

            from drapto_tui.execution.dask import DaskExecutor
        except ImportError:
            raise ConfigError(
                [
                    f"execution.backend = {cfg.backend!r}: Dask is not installed; pip install 'drapto-tui[dask]'"
                ]
            ) from None
        return DaskExecutor(
            scheduler=cfg.scheduler if cfg.backend == "dask" else "",
            workers=cfg.workers,
            shared_path=cfg.shared_path,
            order=self.queue.order_key,
            on_wait=self._waiting,
            registry=self.registry,
            on_cluster=self._cluster_changed,
        )

    def _job_log(self, job_id: str) -> JobLog:
        cap = self.config.processing.job_log_max
        return JobLog(JobLog.path_for(self.workdirs.logs, job_id), cap)

    def job_log(self, job_id: str, lines: int = 300) -> list[str]:
        """The newest lines of the job's FFmpeg log (every run's command, exit status and stderr tail)."""
        return JobLog.tail(JobLog.path_for(self.workdirs.logs, job_id), lines)

    @staticmethod
    def look(config: DraptoConfig) -> QueueLook:
        """The queue without opening an engine: a read-only look at the WAL database, no lock, no writes."""
        state_dir = WorkDirs.area_of(config, "state")
        try:
            if state_dir.exists() and not os.access(state_dir, os.R_OK | os.X_OK):  # private: another user's
                raise unusable(PermissionError(13, "Permission denied", str(state_dir)), "state folder")
            exists = (state_dir / "state.sqlite3").exists()
            store = StateStore(state_dir, read_only=True) if exists else None
        except PermissionError as exc:
            raise unusable(exc, "state database") from None
        if store is None:
            return QueueLook([], None)
        try:
            state = StateManager(store)
            jobs = sorted(state.jobs.values(), key=JobQueue.sort_key)
            owner = store.owner_pid()
            return QueueLook(jobs, owner, (store.meta("waiting") or None) if owner is not None else None)
        finally:
            store.close()

    @classmethod
    def open_idle(cls, config: DraptoConfig, *, hint: str) -> Engine:
        """The queue opened in this process for a one-off command (remove, restore) when no live process holds
        it; else one line naming the process that does, with `hint`."""
        owner = cls.look(config).owner_pid
        if owner is not None:
            raise DraptoError(f"drapto-tui pid {owner} holds the queue", hint=hint)
        return cls(config, monitor=False)

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _waiting(self, job_id: str, reason: str) -> None:
        job = self.state.jobs.get(job_id)
        self.bus.emit(
            ErrorOccurred(message=reason, stage="scheduling", severity="warning"),
            job_id=job_id,
            file=job.current_file if job else None,
        )

    # -- running --------------------------------------------------------------------------------------------
    async def start(
        self, *, paused: bool = False, only: set[str] | None = None, preanalyse: bool = True
    ) -> None:
        """Check for FFmpeg (one line if missing) and the executor (a Dask scheduler that does not answer: one
        line), then schedule: all queued jobs, or just `only`."""
        await self.pipeline.ffmpeg()
        await self.executor.open()
        if paused:
            self.paused_all = True
        self.store.set_meta("waiting", self.waiting or "")  # a wait an earlier run left there is gone
        if self.gate.active:  # outside a window no job starts even for a moment
            await self.check_schedule()
        self._apply_hold()
        self.sweep_trash()
        self._housekeeping = asyncio.create_task(self._keep_house())
        self.scheduler.only = only
        self.scheduler.start()
        if preanalyse:
            for job in self.queue.jobs():
                if job.media is None and job.status == ProcessingStatus.QUEUED:
                    self._preanalyse(job.job_id, Path(job.current_file or ""))

    async def run_until_idle(self) -> dict[str, bool]:
        """Until no job the scheduler may start is left; job id → whether it finished."""
        return await self.scheduler.run_until_idle()

    def is_running(self) -> bool:
        return bool(self.scheduler.tasks)

    def jobs(self) -> list[ProcessingState]:
        """Every job in queue order."""
        return self.queue.jobs()

    def lifetime_saved(self) -> int:
        return self.store.ledger.saved()

    def queue_eta(self) -> float | None:
        """The queue's time left, from the rate this engine has seen the whole queue go at (engine/eta.py). Each
        call samples it: the service asks twice a second and sends the figure to every viewer; the app in the
        foreground asks on each refresh."""
        jobs = self.jobs()
        self.etas.tick(jobs)
        eta = self.etas.queue_eta(jobs)
        return round(eta) if eta is not None else None

    def listen(self, **_: Callable[..., None]) -> None:
        """Nothing comes later in-process: commands raise their errors and add_paths answers at once."""

    # -- adding ---------------------------------------------------------------------------------------------
    def preview(self, paths: Iterable[Path]) -> Preview:
        """What adding these paths would queue, and what is queued already (raises DraptoError, one line)."""
        return preview_files(paths, self.config.input, lambda f: self.state.job_for_file(str(f)) is not None)

    def add_paths(
        self,
        paths: Iterable[Path],
        output_dir: Path | None = None,
        *,
        preanalyse: bool = True,
        watched: bool = False,
    ) -> tuple[list[str], list[str]]:
        """Queue the films found under `paths` that are not queued yet, their outputs in `output_dir` (else the
        configured folder); returns (new job ids, one-line errors). Films found in folders (and `watched` ones)
        follow the library's rules."""
        options = {"output_dir": str(output_dir)} if output_dir is not None else None
        added: list[str] = []
        errors: list[str] = []
        ours = self._finished_outputs()
        for path in paths:
            try:
                files = discover_files([path], self.config.input, self.bus)
            except DraptoError as err:
                errors.append(err.line())
                continue
            for file, root in files:
                if self.state.job_for_file(str(file)) is not None or str(file.absolute()) in ours:
                    continue
                film_options, left_out = self._library_gate(file, root is not None or watched, options)
                if left_out is not None:
                    errors.append(left_out.line())
                    continue
                job_id = self.queue.add_file(file, root, film_options)
                added.append(job_id)
                if preanalyse:
                    self._preanalyse(job_id, file)
        self.scheduler.poke()
        return added, errors

    def encode_paths(self, paths: Iterable[Path], options: dict[str, Any]) -> set[str]:
        """The jobs for the films under `paths`, queued now or found in the queue (headless `encode`: the
        same command run again continues its jobs). Raises DraptoError (one line) for the first bad path."""
        ids, refused = self.encode_each(paths, options)
        if refused:
            raise refused[0]
        return ids

    def encode_each(
        self, paths: Iterable[Path], options: dict[str, Any]
    ) -> tuple[set[str], list[DraptoError]]:
        """As encode_paths, path by path: one bad path (missing, a link that loops, a folder without films) is
        refused on its own and the others are queued; returns (job ids, the refusals)."""
        ids: set[str] = set()
        refused: list[DraptoError] = []
        ours = self._finished_outputs()
        for path in paths:
            try:
                files = discover_files([path], self.config.input, self.bus)
            except DraptoError as err:
                refused.append(err)
                continue
            for file, root in files:
                if root is not None and str(file.absolute()) in ours:
                    continue  # found in a folder: a film this queue made (one replaced in place, beside it)
                film_options, left_out = self._library_gate(file, root is not None, options)
                if left_out is None:
                    ids.add(self.queue.find_or_add(file, film_options, root))
                else:
                    refused.append(left_out)
        return ids, refused

    def _finished_outputs(self) -> set[str]:
        """The files finished jobs wrote that are still there, but not sources themselves (replace in place
        under the same name): found again in a folder, they are this queue's work, not films to queue."""
        return {
            str(Path(job.output_file).absolute())
            for job in self.state.jobs.values()
            if job.status == ProcessingStatus.COMPLETED
            and job.output_file
            and Path(job.output_file).absolute() != Path(job.current_file or "").absolute()
            and not job.restored
        }

    def _library_gate(
        self, file: Path, from_folder: bool, options: dict[str, Any] | None
    ) -> tuple[dict[str, Any] | None, MediaError | None]:
        """A film given by its own path is the user's say-so: its failure count is cleared and the library's
        rules do not apply. A film found in a folder is marked for the rules (checked once it is probed) and is
        left out, said in one line, after library.max_failures failed encodes."""
        rules = self.config.library.rules_for(file)
        if rules.replace and not (options or {}).get("replace"):
            options = {**(options or {}), "replace": True}  # library.replace: in place, for these films too
        if not from_folder:
            self.store.ledger.clear_failures(str(file))
            return options, None
        excluded = left_out(file, self.store.ledger.failures(str(file)), rules)
        if excluded is not None:
            return None, MediaError(
                excluded, subject=str(file), hint="retry it (r in the app), or add it by its own path"
            )
        return {**(options or {}), "from_folder": True}, None

    def _preanalyse(self, job_id: str, file: Path) -> None:
        """Probe queued files in the background so the queue shows class, HDR/DV and path before they run."""

        async def run() -> None:
            async with self._probe_gate:
                job = self.state.jobs.get(job_id)
                if job is None or job.media is not None or job.status != ProcessingStatus.QUEUED:
                    return
                try:
                    ffmpeg = await self.pipeline.ffmpeg()
                    media = await probe(file, ffmpeg.path)
                except DraptoError:
                    return  # the job reports it properly when it runs
                job = self.state.jobs.get(job_id)
                if job is not None and job.media is None and job.status == ProcessingStatus.QUEUED:
                    self.bus.emit(
                        AnalysisComplete(preview=True, media=media, encoding_path=media.encoding_path),
                        job_id=job_id,
                        file=file,
                    )

        task = asyncio.create_task(run())
        self._probe_tasks.add(task)
        task.add_done_callback(self._probe_tasks.discard)

    # -- watch folders and hooks ----------------------------------------------------------------------------
    def watch(self, dirs: Iterable[Path], output_dir: Path | None = None) -> list[str]:
        """Watch these folders too (engine/watch.py), their films' outputs in `output_dir` (else the configured
        folder); returns every folder watched now."""
        wanted = [Path(d).expanduser().resolve() for d in dirs]
        for folder in wanted:
            if not folder.is_dir():
                raise DraptoError("not a folder", subject=str(folder), hint="give a folder to watch")
        fresh = [folder for folder in wanted if folder not in self._watches]
        if fresh:
            watch = FolderWatch(
                fresh,
                self.config.input,
                functools.partial(self._queue_watched, output_dir=output_dir),
                settle=self.config.input.watch_settle,
                on_problem=self._watch_skipped,
            )
            watch.start()
            self._watches.update(dict.fromkeys(fresh, watch))
        return sorted(str(folder) for folder in self._watches)

    def has_duties(self) -> bool:
        """Whether anything would happen without a user: a job waiting, running or paused, a film still being
        probed, a folder watched, a hook still running. A service with none of these may exit when idle."""
        waiting = {ProcessingStatus.QUEUED, ProcessingStatus.RUNNING, ProcessingStatus.PAUSED}
        return (
            any(job.status in waiting for job in self.state.jobs.values())
            or bool(self._probe_tasks)
            or bool(self._watches)
            or bool(self._hook_tasks)
        )

    def _watch_skipped(self, line: str) -> None:
        """A file in a watched folder that is not queued, and why (a partial download, a hidden temp name)."""
        self.bus.emit(ErrorOccurred(message=line, stage="watching", severity="warning"))

    def _queue_watched(self, files: list[Path], output_dir: Path | None = None) -> None:
        _, errors = self.add_paths(files, output_dir, watched=True)
        for line in errors:
            self.bus.emit(ErrorOccurred(message=line, stage="watching", severity="warning"))

    def _job_end(self, event: Event) -> None:
        """A job reached its end (done, kept, failed, cancelled): run hooks.on_job_end for it."""
        ended = event.event in (E.ENCODING_COMPLETE, E.JOB_CANCELLED) or (
            event.event == E.ERROR_OCCURRED and getattr(event.data, "fatal", False)
        )
        job = self.state.jobs.get(event.job_id) if ended and event.job_id else None
        if job is None or job.status not in ENDED:
            return
        try:
            task = asyncio.get_running_loop().create_task(self._run_hook(job.model_copy(deep=True)))
        except RuntimeError:
            return  # not on the engine's loop (no job ends there)
        task.set_name(f"hook:{job.job_id}")
        self._hook_tasks.add(task)
        task.add_done_callback(self._hook_tasks.discard)

    def hooks_running(self) -> list[str]:
        """The jobs whose hooks.on_job_end is still running (a client that follows jobs waits for these, so a
        hook's failure reaches it as a warning instead of only the event log)."""
        return sorted(task.get_name().removeprefix("hook:") for task in self._hook_tasks if not task.done())

    async def wait_for_hooks(self) -> None:
        """Until every running hook has ended (each is bounded by hooks.timeout, then killed)."""
        if self._hook_tasks:
            await asyncio.wait(set(self._hook_tasks), timeout=self.config.hooks.timeout + 5)

    async def _run_hook(self, job: ProcessingState) -> None:
        hooks = self.config.hooks
        problem = await run_job_end_hook(hooks.on_job_end, job, hooks.timeout)
        if problem:
            self.bus.emit(
                ErrorOccurred(message=problem, stage="hook", severity="warning"),
                job_id=job.job_id,
                file=job.current_file,
            )

    # -- steering -------------------------------------------------------------------------------------------
    def toggle_pause(self, job_id: str) -> None:
        self.scheduler.toggle_pause(job_id)

    def toggle_pause_all(self) -> None:
        """Pause every running job and start no new one; again to resume (unless the schedule holds them)."""
        self.paused_all = not self.paused_all
        self._apply_hold()

    def _apply_hold(self) -> None:
        """Pause-all by hand and the schedule's wait are one hold: running jobs pause, none starts, until
        neither asks for it."""
        hold = self.paused_all or self.schedule_wait is not None
        self.scheduler.launching = not hold and not self._finishing
        if hold and not self._held:
            self.scheduler.pause_all()
        elif not hold and self._held:
            self.scheduler.resume_all()
        self._held = hold
        self.scheduler.poke()

    async def check_schedule(self) -> str | None:
        """Look at schedule.windows and schedule.pause_when now; a change is said in one line and applied."""
        waiting = await self.gate.look()
        if self.gate.command_problem is not None:
            self.bus.emit(
                ErrorOccurred(message=self.gate.command_problem, stage="schedule", severity="warning")
            )
        if waiting != self.schedule_wait:
            self.schedule_wait = waiting
            self.store.set_meta("waiting", self.waiting or "")
            if waiting is not None:
                line = f"{waiting}: running jobs are paused and none starts until then"
                self.bus.emit(ErrorOccurred(message=line, stage="schedule", severity="warning"))
            else:
                self.bus.emit(Notice(stage="schedule", message="the schedule lets the queue run again"))
            self._apply_hold()
        return waiting

    async def _keep_house(self) -> None:
        """The schedule every schedule.check_every seconds; the trash's expired originals every hour."""
        while True:
            await asyncio.sleep(self.config.schedule.check_every if self.gate.active else 600.0)
            try:
                if self.gate.active:
                    await self.check_schedule()
                if time.monotonic() - self._last_sweep > 3600:
                    self.sweep_trash()
            except Exception as exc:  # a look that fails must not end the loop that looks
                self.bus.emit(ErrorOccurred(message=f"schedule: {exc}", stage="schedule", severity="warning"))

    def finish_then_stop(self) -> None:
        """Start no new job; running ones go on."""
        self._finishing = True
        self.scheduler.launching = False

    def move(self, job_id: str, offset: int) -> None:
        self.queue.move(job_id, offset)
        self.scheduler.poke()

    def bump_priority(self, job_id: str, delta: int) -> None:
        self.queue.bump_priority(job_id, delta)
        self.scheduler.poke()

    def toggle_hold(self, job_id: str) -> None:
        self.queue.toggle_hold(job_id)
        self.scheduler.poke()

    def retry_outside_failures(self) -> list[str]:
        """`encode --resume`: jobs that failed for a cause outside their film (a full disk, a cluster that went
        away) go back to the queue with their finished segments; the ids."""
        again = []
        for job in self.queue.jobs():
            fatal = [e for e in job.errors if e.fatal]
            if job.status == ProcessingStatus.FAILED and fatal and fatal[-1].outside:
                self.queue.retry(job.job_id)
                again.append(job.job_id)
        self.scheduler.poke()
        return again

    def retry(self, job_id: str) -> None:
        if (job := self.state.jobs.get(job_id)) is not None and job.current_file:
            self.store.ledger.clear_failures(job.current_file)  # the user asks for another try
        self.queue.retry(job_id)
        self.scheduler.poke()

    async def cancel(self, job_id: str) -> None:
        await self.scheduler.cancel_job(job_id)

    def remove(self, job_id: str) -> None:
        self.queue.remove(job_id)

    def clear_finished(self) -> list[str]:
        return self.queue.clear_finished()

    def commands(self, job_id: str) -> list[str]:
        return self.scheduler.job_commands(job_id)

    # -- library mode: replace in place and its way back ----------------------------------------------------------
    def _settle_swaps(self) -> None:
        """Before any job runs: a replace-in-place swap a kill cut short is finished or undone (engine/replace.py);
        a finished one reports its job done from the summary its journal carries."""
        journal = self.pipeline.swaps
        for swap, outcome, summary in recover(journal):
            job = self.state.jobs.get(swap.job_id)
            if outcome == "finished":
                if job is not None and job.status != ProcessingStatus.COMPLETED:
                    self.bus.emit(
                        EncodingComplete.model_validate(summary),
                        job_id=swap.job_id,
                        file=swap.source,
                        status=ProcessingStatus.COMPLETED,
                    )
                self.workdirs.finish_job(swap.job_id, success=True)
                line = f"{swap.source}: the replacement a stop cut short is finished ({swap.target})"
            else:
                line = f"{swap.source}: the replacement a stop cut short is undone; the source is as it was"
            self.bus.emit(
                Notice(stage="library", message=line), job_id=swap.job_id if job else None, file=swap.source
            )
            journal.remove(swap.job_id)

    def restore(self, target: str) -> str:
        """Put a replaced film's original back at its path, byte for byte, and take the encode away; the ledger
        takes its saving back out. `target` is the film's path (its source's or its encode's) or its job id."""
        found = self.store.ledger.replacement(target)
        hint = (
            "`drapto-tui stats` lists the folders; replaced films are listed by `drapto-tui restore --list`"
        )
        if found is None:
            raise DraptoError("no film replaced in place by that path or job id", subject=target, hint=hint)
        if found.restored_at:
            raise DraptoError(f"already restored ({found.restored_at[:19]})", subject=found.source)
        if found.purged_at:
            raise DraptoError(
                f"its original was deleted from the trash after library.trash_days ({found.purged_at[:10]})",
                subject=found.source,
            )
        try:
            restore_original(Path(found.source), Path(found.target), Path(found.kept))
        except FileNotFoundError:
            raise DraptoError(
                f"its original is not in the trash any more ({found.kept})",
                subject=found.source,
                hint="it was moved or deleted by hand; nothing was changed",
            ) from None
        self.store.ledger.restored(found.job_id)
        gone = (
            "its encode is gone" if found.source == found.target else f"the encode {found.target} is removed"
        )
        line = f"restored {found.source} (the original, from {found.kept}); {gone}"
        job = self.state.jobs.get(found.job_id)
        self.bus.emit(
            JobUpdated(note=line, restored=True) if job else Notice(stage="library", message=line),
            job_id=found.job_id if job else None,
            file=found.source,
        )
        return line

    def replacements(self) -> list[dict[str, Any]]:
        return [dataclasses.asdict(r) for r in self.store.ledger.replacements()]

    def sweep_trash(self, now: datetime | None = None) -> list[str]:
        """Originals older than library.trash_days are deleted (never sooner; 0 keeps them); the paths gone."""
        self._last_sweep = time.monotonic()
        days = self.config.library.trash_days
        if days <= 0:
            return []
        cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
        gone = []
        for found in self.store.ledger.replacements():
            if found.restored_at or found.purged_at or datetime.fromisoformat(found.replaced_at) > cutoff:
                continue
            purge(Path(found.kept))
            self.store.ledger.purged(found.job_id)
            gone.append(found.kept)
        return gone

    # -- ending ---------------------------------------------------------------------------------------------
    async def shutdown(self, mode: str = "stop") -> None:
        """finish: let running jobs complete, then stop; stop: end now, resumable; cancel: end and cancel them."""
        if mode == "finish":
            self._finishing = True
            self.scheduler.launching = False
            while self.scheduler.tasks:
                await asyncio.sleep(0.2)
        elif mode == "cancel":
            for job_id in list(self.scheduler.tasks):
                await self.scheduler.cancel_job(job_id)
        await self.stop(now=True)
        await self.close()

    async def stop(self, *, now: bool = False) -> None:
        """Stop scheduling (see Scheduler.stop); the queue is checkpointed and resumable."""
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        for task in list(self._probe_tasks):
            task.cancel()
        await self.scheduler.stop(now=now)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for watch in set(self._watches.values()):
            await watch.stop()
        if self._hook_tasks:  # hooks of jobs that just ended: a moment to finish, never a wait on a stuck one
            await asyncio.wait(set(self._hook_tasks), timeout=5)
        if self.scheduler.started and not self.scheduler.stopped:
            await self.stop(now=True)
        for task in list(self._probe_tasks):
            task.cancel()
        await self.executor.aclose()
        self.bus.close()
        self.state.close()


__all__ = ["Engine", "QueueLook", "new_job_id"]
