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

import psutil
from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from drapto_tui.errors import StateError, unusable
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
    """The SQLite file under state/: jobs, segments and the search cache; one owner process at a time.

    `read_only=True` opens it beside a running owner (SQLite WAL lets readers in): no lock, no writes, for
    `drapto-tui queue` in a second terminal.
    """

    def __init__(self, state_dir: Path, *, read_only: bool = False) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "state.sqlite3"
        self.read_only = read_only
        self._lock_fh = None
        try:
            if not read_only:
                state_dir.mkdir(parents=True, exist_ok=True)
                self._lock_fh = self._acquire_lock(state_dir / "lock")
            self._refuse_empty_file()
            if read_only:
                self._open_read_only()
                return
        except PermissionError as exc:
            self._release_lock()
            raise unusable(exc, "state folder") from None
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

    def _open_read_only(self) -> None:
        try:
            self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                      check_same_thread=False)
            self._check_integrity()
        except sqlite3.OperationalError as exc:
            # A WAL reader must write the shared-memory index beside the database: another user's queue cannot
            # be read, only its owner's.
            raise unusable(PermissionError(13, str(exc), str(self.path)), "state database") from None
        except sqlite3.DatabaseError as exc:
            raise StateError(f"state database is unreadable ({exc})", subject=str(self.path),
                             hint=f"move it aside (mv {self.path} {self.path}.broken) and relaunch to start a new"
                                  " queue") from None

    def _refuse_empty_file(self) -> None:
        """Our first open writes 4 KiB (the WAL switch), so a 0-byte database is a queue that was lost (a full
        disk, a truncation), never a new one: say so instead of showing an empty queue."""
        try:
            empty = self.path.stat().st_size == 0
        except FileNotFoundError:
            return
        if empty:
            raise StateError(
                "state database is empty (0 bytes): the queue it held is lost", subject=str(self.path),
                hint=f"put a backup back, or move it aside (mv {self.path} {self.path}.empty) and relaunch to start"
                     " a new queue")

    def owner_pid(self) -> int | None:
        """The live process that owns this state dir, or None. The lock file holds the owner's pid and was
        written when it took the lock, so a live pid started before that moment is the owner, not a reuse."""
        lock = self.state_dir / "lock"
        try:
            pid = int(lock.read_text().strip() or 0)
            locked_at = lock.stat().st_mtime
            proc = psutil.Process(pid)
            return pid if proc.create_time() <= locked_at + 1 and proc.status() != psutil.STATUS_ZOMBIE else None
        except (OSError, ValueError, psutil.Error):
            return None

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
        """Every job; a row that is valid SQLite but not a valid job (bad JSON, an unknown status) stops the
        start with one line naming it: nothing is dropped or rewritten silently."""
        jobs: dict[str, ProcessingState] = {}
        try:
            for job_id, data in self.db.execute("SELECT id, data FROM jobs ORDER BY position, id"):
                jobs[job_id] = self._row(ProcessingState, data, f"job {job_id}")
            for job_id, idx, data in self.db.execute("SELECT job_id, idx, data FROM segments"):
                if job_id in jobs:
                    jobs[job_id].segments[idx] = self._row(SegmentState, data, f"segment {idx} of job {job_id}")
        except sqlite3.DatabaseError as exc:
            raise StateError(f"state database is unreadable ({exc})", subject=str(self.path),
                             hint=f"move it aside (mv {self.path} {self.path}.broken) and relaunch to start a new"
                                  " queue") from None
        return jobs

    def _row(self, model: type[BaseModel], data: str, what: str) -> Any:
        try:
            return model.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "row"
            raise StateError(
                f"the saved {what} is not valid ({where}: {first['msg']})", subject=str(self.path),
                hint=f"the queue was written by another program or version; move it aside (mv {self.path}"
                     f" {self.path}.broken) and relaunch to start a new queue") from None

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
        """Best effort: a cache that cannot be written (a full disk) only costs a probe later."""
        try:
            self.db.execute("INSERT OR REPLACE INTO search_cache (key, data) VALUES (?, ?)",
                            (key, json.dumps(value)))
        except sqlite3.OperationalError:
            pass

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
