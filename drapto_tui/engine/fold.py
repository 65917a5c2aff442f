"""Events folded into per-job state (the StateManager), checkpointed to the store."""

from __future__ import annotations

import sqlite3
import time

from drapto_tui.engine.store import StateStore
from drapto_tui.errors import StateError
from drapto_tui.model.events import Event, ProcessingEvents, ProcessingStatus
from drapto_tui.model.source_identity import SourceIdentity
from drapto_tui.model.state import (
    ErrorRecord,
    ProcessingStage,
    ProcessingState,
    SearchProbe,
    SegmentStatus,
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
    def update_state(self, event: Event) -> None:
        if event.job_id is None:
            return
        kind = event.event
        data = event.data
        job = self.jobs.get(event.job_id)
        if job is None:
            if kind in (ProcessingEvents.JOB_REMOVED,):
                return
            job = self.jobs[event.job_id] = ProcessingState(
                job_id=event.job_id,
                current_file=event.file,
                position=int(data.get("position", self._next_position())),
                created=event.timestamp,
            )
        job.updated = event.timestamp
        if kind not in (ProcessingEvents.JOB_REMOVED, ProcessingEvents.JOB_UPDATED):
            if kind not in (ProcessingEvents.FILE_DISCOVERED, ProcessingEvents.JOB_QUEUED):
                self.current_job_id = job.job_id
        segment_index = data.get("segment")
        touched_segment: int | None = None

        if kind in (ProcessingEvents.FILE_DISCOVERED, ProcessingEvents.JOB_QUEUED):
            job.current_file = event.file or job.current_file
            if "output" in data:
                job.output_file = str(data["output"])
            if "options" in data:
                job.options = dict(data["options"])
            if "priority" in data:
                job.priority = int(data["priority"])
            if "size" in data:
                job.stats["input_bytes"] = int(data["size"])
            if job.stage == ProcessingStage.INIT:
                job.stage = ProcessingStage.DISCOVERED
        elif kind == ProcessingEvents.ANALYSIS_STARTED:
            job.stage = ProcessingStage.ANALYZING
            job.status = ProcessingStatus.RUNNING
        elif kind == ProcessingEvents.ANALYSIS_COMPLETE:
            job.stage = ProcessingStage.ANALYZED
            job.media = data.get("media", job.media)
            job.encoding_path = data.get("encoding_path", job.encoding_path)
        elif kind == ProcessingEvents.STAGE_STARTED:
            job.stage = ProcessingStage(data["stage"])
            job.status = ProcessingStatus.RUNNING
        elif kind == ProcessingEvents.ENCODING_STARTED:
            job.stage = ProcessingStage.ENCODING
            job.status = ProcessingStatus.RUNNING
            for seg in data.get("segments", []):
                state = job.segment(int(seg["index"]))
                state.start = float(seg.get("start", state.start))
                state.end = float(seg.get("end", state.end))
                state.frames = seg.get("frames", state.frames)
                self._dirty_segments.add((job.job_id, state.index))
            job._progress_parts = None  # spans changed: re-sum once on the next update
        elif kind == ProcessingEvents.SEGMENT_STARTED and segment_index is not None:
            seg = job.segment(int(segment_index))
            seg.status = SegmentStatus(data.get("phase", SegmentStatus.ENCODING.value))
            seg.attempts = int(data.get("attempt", seg.attempts or 1))
            seg.error = None
            touched_segment = seg.index
        elif kind == ProcessingEvents.SEARCH_STEP and segment_index is not None:
            seg = job.segment(int(segment_index))
            seg.status = SegmentStatus.SEARCHING
            seg.probes.append(SearchProbe.model_validate({k: v for k, v in data.items() if k in SearchProbe.model_fields}))
            touched_segment = seg.index
        elif kind == ProcessingEvents.SEGMENT_PROGRESS and segment_index is not None:
            seg = job.segment(int(segment_index))
            job.set_segment_progress(seg, float(data.get("progress", seg.progress)))
            if "fps" in data:
                seg.fps = data["fps"]
            touched_segment = seg.index
        elif kind == ProcessingEvents.SEGMENT_COMPLETE and segment_index is not None:
            seg = job.segment(int(segment_index))
            seg.status = SegmentStatus.DONE
            seg.progress = 1.0
            for field in ("start", "end", "frames", "crf", "vmaf_predicted", "vmaf_measured", "bytes", "bitrate",
                          "encode_seconds", "fps", "attempts"):
                if field in data:
                    setattr(seg, field, data[field])
            if "history" in data:
                seg.history = list(data["history"])
            job.recompute_progress()
            touched_segment = seg.index
        elif kind == ProcessingEvents.ENCODING_PROGRESS:
            job.progress = float(data.get("progress", job.progress))
        elif kind == ProcessingEvents.ENCODING_COMPLETE:
            job.stage = ProcessingStage.DONE
            job.status = ProcessingStatus.COMPLETED
            job.progress = 1.0
            job.stats.update({k: v for k, v in data.items() if k != "segments"})
        elif kind == ProcessingEvents.ERROR_OCCURRED:
            record = ErrorRecord(
                time=event.timestamp,
                message=str(data.get("message", "error")),
                stage=data.get("stage"),
                segment=segment_index,
                stderr_tail=list(data.get("stderr_tail", [])),
                fatal=bool(data.get("fatal", False)),
            )
            job.errors.append(record)
            if segment_index is not None:
                seg = job.segment(int(segment_index))
                seg.error = record.message
                if data.get("segment_failed", record.fatal):
                    seg.status = SegmentStatus.FAILED
                seg.history.append({"attempt": seg.attempts, "error": record.message})
                touched_segment = seg.index
            if record.fatal:
                job.status = ProcessingStatus.FAILED
                job.stage = ProcessingStage.FAILED
        elif kind == ProcessingEvents.JOB_PAUSED:
            job.status = ProcessingStatus.PAUSED
        elif kind == ProcessingEvents.JOB_RESUMED:
            job.status = ProcessingStatus.RUNNING
        elif kind == ProcessingEvents.JOB_CANCELLED:
            job.status = ProcessingStatus.CANCELLED
            job.stage = ProcessingStage.CANCELLED
        elif kind == ProcessingEvents.JOB_UPDATED:
            for field in ("position", "priority"):
                if field in data:
                    setattr(job, field, int(data[field]))
            if "held" in data and job.status in (ProcessingStatus.QUEUED, ProcessingStatus.HELD):
                job.status = ProcessingStatus.HELD if data["held"] else ProcessingStatus.QUEUED
            if "status" in data:
                job.status = ProcessingStatus(data["status"])
            if "stage" in data:
                job.stage = ProcessingStage(data["stage"])
            if "source" in data:
                job.source = SourceIdentity.model_validate(data["source"]) if data["source"] else None
            if data.get("retry") or data.get("restart"):
                job.progress = 0.0
                job._progress_parts = None
                if data.get("reset_segments") or data.get("restart"):
                    for idx in list(job.segments):
                        self._dirty_segments.discard((job.job_id, idx))
                    job.segments.clear()
                    self._drop_segments.add(job.job_id)
                    if data.get("restart"):
                        job.media, job.encoding_path = None, None
                        job.errors = [e for e in job.errors if not e.fatal]
                else:
                    for idx in data.get("failed_segments", []):
                        if idx in job.segments:
                            job.segments[idx].status = SegmentStatus.QUEUED
                            job.segments[idx].progress = 0.0
                            self._dirty_segments.add((job.job_id, idx))
                    job.recompute_progress()
        elif kind == ProcessingEvents.JOB_REMOVED:
            self.jobs.pop(job.job_id, None)
            self._dirty_jobs.discard(job.job_id)
            self._dirty_segments = {k for k in self._dirty_segments if k[0] != job.job_id}
            self._removed.add(job.job_id)
            self._maybe_save(force=True)
            return
        if event.status is not None and kind not in (ProcessingEvents.ERROR_OCCURRED,):
            job.status = event.status

        self._dirty_jobs.add(job.job_id)
        if touched_segment is not None:
            self._dirty_segments.add((job.job_id, touched_segment))
        self._maybe_save(force=not event.coalescable)

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
        if self.store is None or not (self._dirty_jobs or self._dirty_segments or self._removed
                                      or self._drop_segments):
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
            raise StateError(self.save_error.split(": ", 1)[1], subject=str(self.store.path if self.store else ""),
                             hint="free space on that disk; the last saved checkpoint is kept and resumes")
