"""Processing state: events folded into per-job state, checkpointed to an embedded SQLite store.

Why SQLite (WAL mode) rather than a JSON file: a night's queue can hold thousands of jobs and tens of
thousands of segments, and a SEGMENT_COMPLETE must be durable the moment it happens. SQLite commits one
segment's row in a small transaction instead of rewriting the whole state; a crash (even mid-commit) leaves
the last committed checkpoint readable because WAL commits are atomic; and the same file holds the CRF-search
cache. One process owns a state dir at a time (an advisory lock), so two instances never interleave writes.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr

from drapto_tui.errors import StateError
from drapto_tui.events import Event, ProcessingEvents, ProcessingStatus
from drapto_tui.source_identity import SourceIdentity

SCHEMA_VERSION = 1


class ProcessingStage(str, Enum):
    INIT = "init"
    DISCOVERED = "discovered"
    ANALYZING = "analyzing"
    ANALYZED = "analyzed"
    SEGMENTING = "segmenting"
    ENCODING = "encoding"
    AUDIO = "audio"
    MUXING = "muxing"
    VALIDATING = "validating"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SegmentStatus(str, Enum):
    QUEUED = "queued"
    SEARCHING = "searching"
    ENCODING = "encoding"
    DONE = "done"
    FAILED = "failed"
    PAUSED = "paused"


class SearchProbe(BaseModel):
    crf: float
    score: float
    bytes: int = 0
    predicted_percent: float | None = None
    cached: bool = False


class ErrorRecord(BaseModel):
    time: datetime
    message: str
    stage: str | None = None
    segment: int | None = None
    stderr_tail: list[str] = Field(default_factory=list)
    fatal: bool = False


class SegmentState(BaseModel):
    index: int
    start: float = 0.0
    end: float = 0.0
    frames: int | None = None
    status: SegmentStatus = SegmentStatus.QUEUED
    progress: float = 0.0
    crf: float | None = None
    vmaf_predicted: float | None = None
    vmaf_measured: float | None = None
    bytes: int | None = None
    bitrate: float | None = None
    encode_seconds: float | None = None
    fps: float | None = None
    attempts: int = 0
    probes: list[SearchProbe] = Field(default_factory=list)
    history: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None

    def contribution(self) -> float:
        return 1.0 if self.status == SegmentStatus.DONE else self.progress


class ProcessingState(BaseModel):
    """One job: the seed's fields (current_file, stage, progress, errors, stats) plus what resume needs."""

    job_id: str
    current_file: str | None = None
    output_file: str | None = None
    stage: ProcessingStage = ProcessingStage.INIT
    status: ProcessingStatus = ProcessingStatus.QUEUED
    progress: float = 0.0
    errors: list[ErrorRecord] = Field(default_factory=list)
    stats: dict[str, Any] = Field(default_factory=dict)
    media: dict[str, Any] | None = None
    encoding_path: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    #: The source as it was when the job's work began: finished segments belong to exactly this file.
    source: SourceIdentity | None = None
    position: int = 0
    priority: int = 0
    segments: dict[int, SegmentState] = Field(default_factory=dict)
    created: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated: datetime = Field(default_factory=lambda: datetime.now(UTC))
    _progress_parts: tuple[bool, float, float] | None = PrivateAttr(default=None)

    def segment(self, index: int) -> SegmentState:
        seg = self.segments.get(index)
        if seg is None:
            seg = self.segments[index] = SegmentState(index=index)
            self._progress_parts = None  # the weights changed: re-sum on the next update
        return seg

    def done_segments(self) -> list[int]:
        return sorted(i for i, s in self.segments.items() if s.status == SegmentStatus.DONE)

    def recompute_progress(self) -> None:
        """Job progress from its segments, weighted by duration when every segment's span is known."""
        if not self.segments:
            return
        segs = list(self.segments.values())
        timed = all(s.end > s.start for s in segs)
        weights = [(s.end - s.start) if timed else 1.0 for s in segs]
        done = sum(w * s.contribution() for w, s in zip(weights, segs))
        self.progress = min(done / sum(weights), 1.0)
        self._progress_parts = (timed, sum(weights), done)

    def set_segment_progress(self, seg: SegmentState, value: float) -> None:
        """Set one segment's progress and move the job's progress by that segment's share only: a job with
        10,000 segments must not be re-summed on every progress event."""
        if self._progress_parts is None:
            seg.progress = value
            self.recompute_progress()
            return
        timed, total, done = self._progress_parts
        weight = (seg.end - seg.start) if timed else 1.0
        before = seg.contribution()
        seg.progress = value
        done += weight * (seg.contribution() - before)
        self._progress_parts = (timed, total, done)
        self.progress = min(max(done / total, 0.0), 1.0) if total else 0.0


class StateStore:
    """The SQLite file under state/: jobs, segments and the search cache; one owner process at a time."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / "state.sqlite3"
        self._lock_fh = self._acquire_lock(state_dir / "lock")
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._check_integrity()
            self._create()
        except sqlite3.DatabaseError as exc:
            self._release_lock()
            raise StateError(
                f"state database is unreadable ({exc})",
                subject=str(self.path),
                hint=f"move it aside (mv {self.path} {self.path}.broken) and relaunch to start a new queue",
            ) from None

    @staticmethod
    def _acquire_lock(path: Path) -> Any:
        fh = path.open("a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            owner = fh.read().strip() or "another process"
            fh.close()
            raise StateError(
                f"state dir is in use by drapto-tui pid {owner}",
                subject=str(path.parent),
                hint="stop that instance first, or give this one another processing.temp_dir",
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        return fh

    def _release_lock(self) -> None:
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def _check_integrity(self) -> None:
        row = self.db.execute("PRAGMA quick_check").fetchone()
        if row is None or row[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {row[0] if row else 'no answer'}")

    def _create(self) -> None:
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, position INTEGER NOT NULL, data TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS segments (
                job_id TEXT NOT NULL, idx INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (job_id, idx));
            CREATE TABLE IF NOT EXISTS search_cache (key TEXT PRIMARY KEY, data TEXT NOT NULL);
            """
        )
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) > SCHEMA_VERSION:
            raise StateError(
                f"state was written by a newer drapto-tui (schema {row[0]})",
                subject=str(self.path),
                hint="upgrade drapto-tui, or use another processing.temp_dir",
            )

    def load(self) -> dict[str, ProcessingState]:
        jobs: dict[str, ProcessingState] = {}
        for job_id, data in self.db.execute("SELECT id, data FROM jobs ORDER BY position, id"):
            jobs[job_id] = ProcessingState.model_validate_json(data)
        for job_id, idx, data in self.db.execute("SELECT job_id, idx, data FROM segments"):
            if job_id in jobs:
                jobs[job_id].segments[idx] = SegmentState.model_validate_json(data)
        return jobs

    def write(
        self,
        jobs: list[ProcessingState],
        segments: list[tuple[str, SegmentState]],
        removed: list[str],
        drop_segments: list[str] = (),  # type: ignore[assignment]
    ) -> None:
        """One atomic transaction: all of it lands, or none of it."""
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for job_id in drop_segments:
                cur.execute("DELETE FROM segments WHERE job_id=?", (job_id,))
            for job_id in removed:
                cur.execute("DELETE FROM jobs WHERE id=?", (job_id,))
                cur.execute("DELETE FROM segments WHERE job_id=?", (job_id,))
            cur.executemany(
                "INSERT OR REPLACE INTO jobs (id, position, data) VALUES (?, ?, ?)",
                [(j.job_id, j.position, j.model_dump_json(exclude={"segments"})) for j in jobs],
            )
            cur.executemany(
                "INSERT OR REPLACE INTO segments (job_id, idx, data) VALUES (?, ?, ?)",
                [(job_id, s.index, s.model_dump_json()) for job_id, s in segments],
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def cache_get(self, key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT data FROM search_cache WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def cache_put(self, key: str, value: dict[str, Any]) -> None:
        self.db.execute("INSERT OR REPLACE INTO search_cache (key, data) VALUES (?, ?)", (key, json.dumps(value)))

    def close(self) -> None:
        try:
            self.db.close()
        finally:
            self._release_lock()


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
        self.store.write(jobs, segments, sorted(self._removed), drop_segments=sorted(self._drop_segments))
        self._drop_segments.clear()
        self._dirty_jobs.clear()
        self._dirty_segments.clear()
        self._removed.clear()
        self._last_save = time.monotonic()

    def close(self) -> None:
        self.save_checkpoint()
        if self.store is not None:
            self.store.close()
