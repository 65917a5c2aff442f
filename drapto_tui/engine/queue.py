"""The job queue: order, priority, hold, retry, cancel, remove — all as events, so the StateManager persists them.

Order is (higher priority first, then position). Moving a job past one of a different priority takes that
priority, so a move is always visible. Every command publishes an event; the queue reads the folded state back,
which is why the queue a relaunch shows is the one that was left, in the same order, with the same statuses.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.engine.bus import EventBus
from drapto_tui.engine.fold import StateManager
from drapto_tui.engine.output_names import exists_reason, plan_output
from drapto_tui.engine.replace import replace_problem, replacement_path, trash_root
from drapto_tui.engine.space import output_problem
from drapto_tui.engine.workdirs import WorkDirs
from drapto_tui.errors import DraptoError
from drapto_tui.model.events import (
    EncodingComplete,
    ErrorOccurred,
    JobCancelled,
    JobQueued,
    JobRemoved,
    JobUpdated,
    ProcessingEvents,
    ProcessingStatus,
)
from drapto_tui.model.state import ProcessingStage, ProcessingState, SegmentStatus

E = ProcessingEvents
ACTIVE = {ProcessingStatus.RUNNING, ProcessingStatus.PAUSED}
FINISHED = {
    ProcessingStatus.COMPLETED,
    ProcessingStatus.KEPT,
    ProcessingStatus.FAILED,
    ProcessingStatus.CANCELLED,
}
#: What "clear finished" takes off the queue: failed jobs stay, as they want a look (and may be retried).
CLEARABLE = {ProcessingStatus.COMPLETED, ProcessingStatus.KEPT, ProcessingStatus.CANCELLED}


def new_job_id() -> str:
    return uuid.uuid4().hex[:12]


class QueueError(DraptoError):
    """A queue command that does not apply to the job in its current state."""


class JobQueue:
    def __init__(
        self, config: DraptoConfig, state: StateManager, bus: EventBus, workdirs: WorkDirs | None = None
    ) -> None:
        self.config = config
        self.state = state
        self.bus = bus
        self.workdirs = workdirs

    # -- reading -------------------------------------------------------------------------------------------
    def jobs(self) -> list[ProcessingState]:
        """Every job in queue order."""
        return sorted(self.state.jobs.values(), key=self.sort_key)

    @staticmethod
    def sort_key(job: ProcessingState) -> tuple[Any, ...]:
        return (-job.priority, job.position, job.created)

    def order_key(self, job_id: str) -> tuple[int, int]:
        """Where the job stands now (smaller first): what a free encode slot is given by."""
        job = self.state.jobs.get(job_id)
        return (-job.priority, job.position) if job else (0, 1 << 30)

    def get(self, job_id: str) -> ProcessingState:
        job = self.state.jobs.get(job_id)
        if job is None:
            raise QueueError("no such job", subject=job_id, hint="it may have been removed")
        return job

    def get_next_job(
        self, exclude: set[str] | None = None, only: set[str] | None = None
    ) -> ProcessingState | None:
        """The first queued (not held, not running, not finished) job in order."""
        for job in self.jobs():
            if job.status != ProcessingStatus.QUEUED:
                continue
            if (exclude and job.job_id in exclude) or (only is not None and job.job_id not in only):
                continue
            return job
        return None

    # -- adding --------------------------------------------------------------------------------------------
    def add_job(
        self, input_file: Path, output_file: Path, options: dict[str, Any] | None = None, *, priority: int = 0
    ) -> str:
        job_id = new_job_id()
        position = max((j.position for j in self.state.jobs.values()), default=-1) + 1
        size = input_file.stat().st_size if input_file.exists() else 0
        self.bus.emit(
            JobQueued(
                output=str(output_file),
                options=options or {},
                priority=priority,
                position=position,
                size=size,
            ),
            job_id=job_id,
            file=input_file,
            status=ProcessingStatus.QUEUED,
        )
        return job_id

    def claimed_outputs(self) -> dict[str, str]:
        """Output path → source of every job that holds its name (see output_names)."""
        claimed: dict[str, str] = {}
        for job in self.jobs():
            if not job.output_file or job.status in (ProcessingStatus.CANCELLED, ProcessingStatus.KEPT):
                continue
            if job.status == ProcessingStatus.COMPLETED and not Path(job.output_file).exists():
                continue
            claimed.setdefault(job.output_file, job.current_file or "")
        return claimed

    def output_root(self, options: dict[str, Any] | None = None) -> Path:
        """Where the command at hand puts its films: its own output folder (`output_dir` in its options, from a
        client of the service whose -o or config differs from the service's), else the configured one."""
        given = (options or {}).get("output_dir")
        return Path(given) if given else self.config.output_root()

    def output_for(
        self, input_file: Path, root: Path | None = None, options: dict[str, Any] | None = None
    ) -> Path:
        if (options or {}).get("replace"):
            return replacement_path(input_file.absolute())  # the source's own place (engine/replace.py)
        return plan_output(
            input_file, root, self.output_root(options), self.config.output.layout, self.claimed_outputs()
        )

    def add_file(
        self, input_file: Path, root: Path | None = None, options: dict[str, Any] | None = None
    ) -> str:
        """Queue a film under an output name no other film in the queue holds. An output that cannot be written
        (folder, name length, space) fails the job now with one line, not after the encode."""
        output = self.output_for(input_file, root, options)
        job_id = self.add_job(input_file, output, options)
        self._check_output(self.get(job_id))
        return job_id

    def _check_output(self, job: ProcessingState) -> None:
        if self.workdirs is None or not job.output_file:
            return
        if job.options.get("replace") and job.current_file:
            source = Path(job.current_file)
            problem = replace_problem(source, Path(job.output_file), trash_root(source, self.config))
        else:
            problem = output_problem(
                Path(job.output_file),
                source_size=int(job.stats.get("input_bytes") or 0),
                temp_dir=self.workdirs.base_dir,
            )
        if problem is not None:
            self.bus.emit(
                ErrorOccurred(stage="queueing", fatal=True, message=f"{job.current_file}: {problem}"),
                job_id=job.job_id,
                file=job.current_file,
                status=ProcessingStatus.FAILED,
            )

    def find_or_add(
        self, input_file: Path, options: dict[str, Any] | None = None, root: Path | None = None
    ) -> str:
        """The queue's job for this file if it has one that is not done (a failed one is queued again, keeping
        its finished segments), else a new one. A film done before whose output is still where this command
        would write it keeps its row, and says again that it is skipped (a queue re-run every night must not
        grow by one "completed" row per film); one encoded again (--overwrite, a new output folder, the output
        deleted) takes the old row's place."""
        existing = self.state.job_for_file(str(input_file))
        if existing is None:
            return self.add_file(input_file, root, options)
        if existing.status == ProcessingStatus.COMPLETED:
            if self._still_done(existing, root, options or {}):
                return existing.job_id
            self.remove(existing.job_id)
            return self.add_file(input_file, root, options)
        if existing.status == ProcessingStatus.KEPT and not self._judged_differently_now(existing):
            self._still_kept(existing)
            return existing.job_id
        self._follow_command(existing, root, options or {})
        if existing.status in (ProcessingStatus.FAILED, ProcessingStatus.CANCELLED, ProcessingStatus.KEPT):
            self.retry(existing.job_id, failed_segments_only=existing.status != ProcessingStatus.KEPT)
        self._check_output(existing)
        return existing.job_id

    def _still_done(self, job: ProcessingState, root: Path | None, options: dict[str, Any]) -> bool:
        """True, with the skip said as a fresh run would say it, when the done film's output is where this
        command would put it and it is not to be replaced."""
        if options.get("overwrite") or self.config.output.overwrite or not job.output_file:
            return False
        if job.restored:  # its original is back where the encode was: the file there is not ours
            return False
        planned = self._planned_output(job, root, options)
        if str(planned) != job.output_file or not planned.exists():
            return False
        earlier = {k: v for k, v in job.stats.items() if k in EncodingComplete.model_fields}
        earlier.update(
            output=job.output_file, skipped=True, kept_source=False, reason=exists_reason(job.output_file)
        )
        self.bus.emit(
            EncodingComplete.model_validate(earlier),
            job_id=job.job_id,
            file=job.current_file,
            status=ProcessingStatus.COMPLETED,
        )
        return True

    def _judged_differently_now(self, job: ProcessingState) -> bool:
        """A kept film is encoded again only when the size rule that kept it has been loosened since."""
        search = self.config.search
        judged_by = job.stats.get("max_encoded_percent")
        return search.if_too_big == "encode" or (
            judged_by is not None and search.max_encoded_percent > float(judged_by)
        )

    def _still_kept(self, job: ProcessingState) -> None:
        """Say again why a film named once more is not encoded (one line, the earlier run's reason)."""
        self.bus.emit(
            EncodingComplete(
                output=job.output_file or "",
                skipped=True,
                kept_source=True,
                reason=f"{job.stats.get('reason') or 'kept'} [decided on an earlier run]",
                max_encoded_percent=job.stats.get("max_encoded_percent"),
            ),
            job_id=job.job_id,
            file=job.current_file,
            status=ProcessingStatus.KEPT,
        )

    def _follow_command(self, job: ProcessingState, root: Path | None, options: dict[str, Any]) -> None:
        """A resumed job writes where the command that resumes it says (output dir, layout) and takes its
        options; its finished segments are kept, since they do not depend on either."""
        planned = str(self._planned_output(job, root, options))
        moved, retaken = planned != job.output_file, options != job.options
        if moved and retaken:
            self._update(job, JobUpdated(output=planned, options=options))
        elif moved:
            self._update(job, JobUpdated(output=planned))
        elif retaken:
            self._update(job, JobUpdated(options=options))

    def _planned_output(self, job: ProcessingState, root: Path | None, options: dict[str, Any]) -> Path:
        """Where the command at hand would write this job's film (names other jobs hold are not free)."""
        others = {out: src for out, src in self.claimed_outputs().items() if src != job.current_file}
        source = Path(job.current_file or "")
        if options.get("replace"):
            return replacement_path(source.absolute())
        return plan_output(source, root, self.output_root(options), self.config.output.layout, others)

    def recover(self) -> list[str]:
        """After a crash or kill: jobs left running or paused go back to queued (their done segments stay)."""
        recovered = []
        for job in self.jobs():
            if job.status in ACTIVE:
                self._update(job, JobUpdated(status=ProcessingStatus.QUEUED, note="interrupted; resuming"))
                recovered.append(job.job_id)
        return recovered

    # -- order ---------------------------------------------------------------------------------------------
    def _update(self, job: ProcessingState, update: JobUpdated) -> None:
        self.bus.emit(update, job_id=job.job_id, file=job.current_file)

    def _renumber(self, ordered: list[ProcessingState]) -> None:
        for i, job in enumerate(ordered):
            if job.position != i:
                self._update(job, JobUpdated(position=i))

    def move(self, job_id: str, offset: int) -> None:
        """Move up (negative) or down (positive) by `offset` places."""
        ordered = self.jobs()
        job = self.get(job_id)
        i = ordered.index(job)
        j = max(0, min(len(ordered) - 1, i + offset))
        if i == j:
            return
        ordered.pop(i)
        ordered.insert(j, job)
        neighbour = ordered[j + 1] if offset < 0 else ordered[j - 1]
        if neighbour.priority != job.priority:
            self._update(job, JobUpdated(priority=neighbour.priority))
        self._renumber(ordered)

    def move_up(self, job_id: str) -> None:
        self.move(job_id, -1)

    def move_down(self, job_id: str) -> None:
        self.move(job_id, 1)

    def move_to_top(self, job_id: str) -> None:
        self.move(job_id, -len(self.state.jobs))

    def move_to_bottom(self, job_id: str) -> None:
        self.move(job_id, len(self.state.jobs))

    def set_priority(self, job_id: str, priority: int) -> None:
        self._update(self.get(job_id), JobUpdated(priority=priority))

    def bump_priority(self, job_id: str, delta: int) -> None:
        job = self.get(job_id)
        self._update(job, JobUpdated(priority=job.priority + delta))

    # -- state ---------------------------------------------------------------------------------------------
    def hold(self, job_id: str) -> None:
        job = self.get(job_id)
        if job.status != ProcessingStatus.QUEUED:
            raise QueueError(
                f"cannot hold a {job.status.value} job", subject=job_id, hint="only queued jobs can be held"
            )
        self._update(job, JobUpdated(held=True))

    def release(self, job_id: str) -> None:
        job = self.get(job_id)
        if job.status == ProcessingStatus.HELD:
            self._update(job, JobUpdated(held=False))

    def toggle_hold(self, job_id: str) -> None:
        job = self.get(job_id)
        self.release(job_id) if job.status == ProcessingStatus.HELD else self.hold(job_id)

    def cancel_queued(self, job_id: str) -> None:
        """Cancel a job that is not running (a running one is cancelled through the WorkerPool)."""
        job = self.get(job_id)
        if job.status in ACTIVE:
            raise QueueError("job is running", subject=job_id, hint="cancel it through the worker pool")
        if job.status in FINISHED:
            return
        self.bus.emit(JobCancelled(), job_id=job_id, file=job.current_file, status=ProcessingStatus.CANCELLED)
        if self.workdirs is not None:
            self.workdirs.remove_job(job_id)

    def retry(self, job_id: str, *, failed_segments_only: bool = True) -> None:
        """Queue a failed (or cancelled) job again. By default its finished segments are kept and only the
        failed or unfinished ones run again; with failed_segments_only=False it starts from scratch."""
        job = self.get(job_id)
        if job.status not in (ProcessingStatus.FAILED, ProcessingStatus.CANCELLED, ProcessingStatus.KEPT):
            raise QueueError(
                f"cannot retry a {job.status.value} job",
                subject=job_id,
                hint="only failed, cancelled or kept jobs can be retried",
            )
        if not failed_segments_only and self.workdirs is not None:
            self.workdirs.remove_job(job_id)
        failed = [i for i, s in job.segments.items() if s.status == SegmentStatus.FAILED]
        self._update(
            job,
            JobUpdated(
                status=ProcessingStatus.QUEUED,
                stage=ProcessingStage.DISCOVERED.value,
                retry=True,
                reset_segments=not failed_segments_only,
                failed_segments=failed,
            ),
        )

    def remove(self, job_id: str) -> None:
        job = self.get(job_id)
        if job.status in ACTIVE:
            raise QueueError("job is running", subject=job_id, hint="cancel it first")
        self.bus.emit(JobRemoved(), job_id=job_id, file=job.current_file)
        if self.workdirs is not None:
            self.workdirs.remove_job(job_id)

    def clear_finished(self) -> list[str]:
        """Remove every completed, kept and cancelled job; returns their ids."""
        gone = [job.job_id for job in self.jobs() if job.status in CLEARABLE]
        for job_id in gone:
            self.remove(job_id)
        return gone
