"""Events folded into per-job state (the StateManager), checkpointed to the store."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from drapto_tui.engine.ledger import LedgerEntry
from drapto_tui.engine.store import StateStore
from drapto_tui.errors import StateError
from drapto_tui.model.events import (
    AnalysisComplete,
    AnalysisStarted,
    EncodingComplete,
    EncodingProgress,
    EncodingStarted,
    ErrorOccurred,
    Event,
    FileDiscovered,
    JobCancelled,
    JobPaused,
    JobQueued,
    JobRemoved,
    JobResumed,
    JobUpdated,
    Notice,
    Payload,
    ProcessingEvents,
    ProcessingStatus,
    SearchStep,
    SegmentComplete,
    SegmentProgress,
    SegmentStarted,
    StageStarted,
    StepProgress,
)
from drapto_tui.model.state import (
    ErrorRecord,
    ProcessingStage,
    ProcessingState,
    SearchProbe,
    SegmentStatus,
)

#: Notices a job keeps (the newest); the event log has them all.
MAX_NOTES = 50

#: A finished segment's figures that a SegmentComplete event sets on its state when it gives them.
SEGMENT_FIGURES = (
    "start",
    "end",
    "frames",
    "crf",
    "metric",
    "encoder",
    "score_predicted",
    "score_measured",
    "bytes",
    "bitrate",
    "encode_seconds",
    "fps",
    "attempts",
    "worker",
)


def ledger_entry(job: ProcessingState, event: Event, data: EncodingComplete) -> LedgerEntry:
    """A finished job's line in the savings ledger: a kept film counts its bytes in as out (nothing changed)."""
    source = job.current_file or ""
    bytes_in = data.input_bytes or (job.media.size if job.media else 0)
    return LedgerEntry(
        job_id=job.job_id,
        source=source,
        folder=str(Path(source).parent),
        output=data.output,
        outcome="kept" if data.kept_source else "completed",
        codec=job.media.video_codec if job.media else None,
        bytes_in=bytes_in,
        bytes_out=bytes_in if data.kept_source else (data.output_bytes or 0),
        seconds=data.wall_seconds,
        score=data.score_file,
        metric=data.metric,
        replaced=data.replaced is not None,
        finished=event.timestamp.isoformat(),
    )


class StateManager:
    """Folds events into ProcessingState per job and checkpoints them.

    Lifecycle events are checkpointed at once (a finished segment is durable before anyone acts on it);
    progress events only mark the job dirty and are written at most every `progress_interval` seconds.
    """

    def __init__(self, store: StateStore | None = None, *, progress_interval: float = 2.0) -> None:
        self.store = store
        self.progress_interval = progress_interval
        self.jobs: dict[str, ProcessingState] = store.load() if store else {}
        self.current_job_id: str | None = None
        self._dirty_jobs: set[str] = set()
        self._dirty_segments: set[tuple[str, int]] = set()
        self._removed: set[str] = set()
        self._drop_segments: set[str] = set()
        self._last_save = time.monotonic()
        #: Why the last checkpoint could not be written (a full disk), or None; it is tried again on the next.
        self.save_error: str | None = None

    # -- queries ---------------------------------------------------------------------------------------
    def get_current_state(self, job_id: str | None = None) -> ProcessingState | None:
        """The given job's state, else the job most recently active (None before any job)."""
        key = job_id or self.current_job_id
        return self.jobs.get(key) if key else None

    def ordered_jobs(self) -> list[ProcessingState]:
        return sorted(self.jobs.values(), key=lambda j: (j.position, j.created))

    def job_for_file(self, path: str) -> ProcessingState | None:
        """The queue's job for this input (done and failed ones included; a cancelled one may be re-added)."""
        for job in self.jobs.values():
            if job.current_file == path and job.status != ProcessingStatus.CANCELLED:
                return job
        return None

    # -- folding ---------------------------------------------------------------------------------------
    @staticmethod
    def _count_work_time(job: ProcessingState, event: Event) -> None:
        """Working time from the job's own event times: the gap since its last work event is added while it
        runs; a run's first event (after a queue, a pause, a crash) only sets the mark. Folded like the rest,
        so it survives restarts and reads the same in the service and in its clients."""
        if job.status == ProcessingStatus.RUNNING and job.work_at is not None:
            job.active_seconds += max((event.timestamp - job.work_at).total_seconds(), 0.0)
        job.work_at = event.timestamp

    def update_state(self, event: Event) -> None:
        if event.job_id is None:
            return
        kind = event.event
        data = event.data
        job = self.jobs.get(event.job_id)
        if job is None:
            if isinstance(data, JobRemoved):
                return
            position = data.position if isinstance(data, JobQueued) and data.position is not None else None
            job = self.jobs[event.job_id] = ProcessingState(
                job_id=event.job_id,
                current_file=event.file,
                position=self._next_position() if position is None else position,
                created=event.timestamp,
            )
        job.updated = event.timestamp
        if not isinstance(data, JobRemoved | JobUpdated | FileDiscovered | JobQueued):
            self.current_job_id = job.job_id
            self._count_work_time(job, event)
        if isinstance(data, JobRemoved):
            self._forget(job)
            return
        fold = self.FOLDS.get(type(data))
        touched_segment = fold(self, job, event, data) if fold is not None else None
        if event.status is not None and kind != ProcessingEvents.ERROR_OCCURRED:
            job.status = event.status

        self._dirty_jobs.add(job.job_id)
        if touched_segment is not None:
            self._dirty_segments.add((job.job_id, touched_segment))
        self._maybe_save(force=not event.coalescable)

    # -- one handler per payload type: each changes the job and returns the segment it touched, if any --------
    def _discovered(self, job: ProcessingState, event: Event, data: FileDiscovered | JobQueued) -> None:
        job.current_file = event.file or job.current_file
        if isinstance(data, JobQueued):
            if data.output is not None:
                job.output_file = data.output
            job.options = dict(data.options)
            job.priority = data.priority
            if data.size is not None:
                job.stats["input_bytes"] = data.size
        else:
            job.stats["input_bytes"] = data.size
        if job.stage == ProcessingStage.INIT:
            job.stage = ProcessingStage.DISCOVERED

    def _analysis_started(self, job: ProcessingState, event: Event, data: AnalysisStarted) -> None:
        job.stage = ProcessingStage.ANALYZING
        job.step = job.step_progress = None
        job.status = ProcessingStatus.RUNNING

    def _analysis_complete(self, job: ProcessingState, event: Event, data: AnalysisComplete) -> None:
        job.stage = ProcessingStage.ANALYZED
        job.media = data.media
        job.encoding_path = data.encoding_path

    def _stage_started(self, job: ProcessingState, event: Event, data: StageStarted) -> None:
        job.stage = ProcessingStage(data.stage)
        job.step = data.step
        job.step_progress = None  # a new step: its progress is its own
        job.status = ProcessingStatus.RUNNING

    def _encoding_started(self, job: ProcessingState, event: Event, data: EncodingStarted) -> None:
        job.stage = ProcessingStage.ENCODING
        job.step = job.step_progress = None
        job.status = ProcessingStatus.RUNNING
        if data.given("metric"):
            job.metric, job.target, job.tolerance_below = data.metric, data.target, data.tolerance_below
        if data.film_end is not None:
            job.film_end = data.film_end
        for plan in data.segments:
            state = job.segment(plan.index)
            state.start, state.end = plan.start, plan.end
            if plan.frames is not None:
                state.frames = plan.frames
            self._dirty_segments.add((job.job_id, state.index))
        job._progress_parts = None  # spans changed: re-sum once on the next update

    def _segment_started(self, job: ProcessingState, event: Event, data: SegmentStarted) -> int:
        seg = job.segment(data.segment)
        seg.status = SegmentStatus(data.phase)
        seg.attempts = data.attempt
        seg.error = None
        if data.worker is not None:
            seg.worker = data.worker
        return seg.index

    def _search_step(self, job: ProcessingState, event: Event, data: SearchStep) -> int:
        seg = job.segment(data.segment)
        seg.status = SegmentStatus.SEARCHING
        seg.probes.append(SearchProbe.model_validate(data.model_dump(include=set(SearchProbe.model_fields))))
        return seg.index

    def _segment_progress(self, job: ProcessingState, event: Event, data: SegmentProgress) -> int:
        seg = job.segment(data.segment)
        job.set_segment_progress(seg, data.progress)
        if data.given("fps"):
            seg.fps = data.fps
        return seg.index

    def _segment_complete(self, job: ProcessingState, event: Event, data: SegmentComplete) -> int:
        seg = job.segment(data.segment)
        seg.status = SegmentStatus.DONE
        seg.progress = 1.0
        for name in SEGMENT_FIGURES:
            if data.given(name):
                setattr(seg, name, getattr(data, name))
        if data.given("history"):
            seg.history = list(data.history)
        job.recompute_progress()
        return seg.index

    def _encoding_progress(self, job: ProcessingState, event: Event, data: EncodingProgress) -> None:
        job.progress = data.progress

    def _step_progress(self, job: ProcessingState, event: Event, data: StepProgress) -> None:
        job.step_progress = min(max(data.progress, 0.0), 1.0)

    def _encoding_complete(self, job: ProcessingState, event: Event, data: EncodingComplete) -> None:
        job.stage = ProcessingStage.DONE
        job.status = ProcessingStatus.COMPLETED
        job.progress = 1.0
        job.stats.update(data.model_dump(exclude={"segments"}))
        if self.store is not None and not data.by_rule and (data.kept_source or not data.skipped):
            self.store.ledger.record(ledger_entry(job, event, data))
            if data.replaced is not None and data.original_kept is not None:
                self.store.ledger.replaced(
                    job.job_id, data.replaced, data.output, data.original_kept, event.timestamp.isoformat()
                )

    def _error(self, job: ProcessingState, event: Event, data: ErrorOccurred) -> int | None:
        record = ErrorRecord(
            time=event.timestamp,
            message=data.message,
            stage=data.stage,
            segment=data.segment,
            stderr_tail=list(data.stderr_tail),
            fatal=data.fatal,
            outside=data.outside,
        )
        job.errors.append(record)
        touched = None
        if data.segment is not None:
            seg = job.segment(data.segment)
            seg.error = record.message
            if data.segment_failed or record.fatal:
                seg.status = SegmentStatus.FAILED
            seg.history.append({"attempt": seg.attempts, "error": record.message})
            touched = seg.index
        if record.fatal:
            job.status = ProcessingStatus.FAILED
            job.stage = ProcessingStage.FAILED
            if self.store is not None and job.current_file and not record.outside:
                self.store.ledger.failed(job.current_file, record.message)  # the film's own failures only
        return touched

    def _notice(self, job: ProcessingState, event: Event, data: Notice) -> int | None:
        job.notes = [*job.notes[-(MAX_NOTES - 1) :], data.message]
        if data.segment is None:
            return None
        seg = job.segment(data.segment)
        seg.history.append({"attempt": data.attempt or seg.attempts, "notice": data.message})
        return seg.index

    def _paused(self, job: ProcessingState, event: Event, data: JobPaused) -> None:
        job.status = ProcessingStatus.PAUSED

    def _resumed(self, job: ProcessingState, event: Event, data: JobResumed) -> None:
        job.status = ProcessingStatus.RUNNING

    def _cancelled(self, job: ProcessingState, event: Event, data: JobCancelled) -> None:
        job.status = ProcessingStatus.CANCELLED
        job.stage = ProcessingStage.CANCELLED

    def _forget(self, job: ProcessingState) -> None:
        """JobRemoved: the job leaves the state and the store at once."""
        self.jobs.pop(job.job_id, None)
        self._dirty_jobs.discard(job.job_id)
        self._dirty_segments = {k for k in self._dirty_segments if k[0] != job.job_id}
        self._removed.add(job.job_id)
        self._maybe_save(force=True)

    def _update_job(self, job: ProcessingState, event: Event, data: JobUpdated) -> None:
        """A queue command or a restart: only the fields the event gives change."""
        if data.position is not None:
            job.position = data.position
        if data.priority is not None:
            job.priority = data.priority
        if data.held is not None and job.status in (ProcessingStatus.QUEUED, ProcessingStatus.HELD):
            job.status = ProcessingStatus.HELD if data.held else ProcessingStatus.QUEUED
        if data.status is not None:
            job.status = data.status
        if data.stage is not None:
            job.stage = ProcessingStage(data.stage)
        if data.source is not None:
            job.source = data.source
        if data.output is not None:
            job.output_file = data.output
        if data.options is not None:
            job.options = dict(data.options)
        if data.restored:
            job.stats["restored"] = True
            job.notes = [*job.notes[-(MAX_NOTES - 1) :], data.note or "restored"]
        if data.retry or data.restart:
            job.progress = 0.0
            job._progress_parts = None
            if data.reset_segments or data.restart:
                job.active_seconds = 0.0  # its work starts over, and so does the count of its time
                for idx in list(job.segments):
                    self._dirty_segments.discard((job.job_id, idx))
                job.segments.clear()
                self._drop_segments.add(job.job_id)
                if data.restart:
                    job.media, job.encoding_path = None, None
                    job.errors = [e for e in job.errors if not e.fatal]
            else:
                for idx in data.failed_segments:
                    if idx in job.segments:
                        job.segments[idx].status = SegmentStatus.QUEUED
                        job.segments[idx].progress = 0.0
                        self._dirty_segments.add((job.job_id, idx))
                job.recompute_progress()

    #: The fold: each payload type's handler (JobRemoved is handled before it; a ResourceSample has no job).
    FOLDS: ClassVar[dict[type[Payload], Callable[[Any, ProcessingState, Event, Any], int | None]]] = {
        FileDiscovered: _discovered,
        JobQueued: _discovered,
        AnalysisStarted: _analysis_started,
        AnalysisComplete: _analysis_complete,
        StageStarted: _stage_started,
        EncodingStarted: _encoding_started,
        SegmentStarted: _segment_started,
        SearchStep: _search_step,
        SegmentProgress: _segment_progress,
        SegmentComplete: _segment_complete,
        EncodingProgress: _encoding_progress,
        StepProgress: _step_progress,
        EncodingComplete: _encoding_complete,
        ErrorOccurred: _error,
        Notice: _notice,
        JobPaused: _paused,
        JobResumed: _resumed,
        JobCancelled: _cancelled,
        JobUpdated: _update_job,
    }

    def _next_position(self) -> int:
        return max((j.position for j in self.jobs.values()), default=-1) + 1

    # -- checkpoints -----------------------------------------------------------------------------------
    def _maybe_save(self, *, force: bool) -> None:
        if self.store is None:
            return
        if force or time.monotonic() - self._last_save >= self.progress_interval:
            self.save_checkpoint()

    def save_checkpoint(self) -> None:
        """Write every changed job and segment in one atomic transaction."""
        if self.store is None or not (
            self._dirty_jobs or self._dirty_segments or self._removed or self._drop_segments
        ):
            return
        jobs = [self.jobs[j] for j in self._dirty_jobs if j in self.jobs]
        segments = [
            (job_id, self.jobs[job_id].segments[idx])
            for job_id, idx in self._dirty_segments
            if job_id in self.jobs and idx in self.jobs[job_id].segments
        ]
        try:
            self.store.write(jobs, segments, sorted(self._removed), drop_segments=sorted(self._drop_segments))
        except (sqlite3.OperationalError, OSError) as exc:
            # A full disk must not turn every event into a traceback: the changes stay marked and are written
            # with the next checkpoint, once the failed job has given its space back.
            self.save_error = f"{self.store.path}: cannot save the queue ({exc})"
            return
        self.save_error = None
        self._drop_segments.clear()
        self._dirty_jobs.clear()
        self._dirty_segments.clear()
        self._removed.clear()
        self._last_save = time.monotonic()

    def close(self) -> None:
        try:
            self.save_checkpoint()
        finally:
            if self.store is not None:
                self.store.close()
        if self.save_error is not None:
            raise StateError(
                self.save_error.split(": ", 1)[1],
                subject=str(self.store.path if self.store else ""),
                hint="free space on that disk; the last saved checkpoint is kept and resumes",
            )
