"""Per-job state as the store folds it from events: jobs, segments, probes, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr

from drapto_tui.model.events import ProcessingStatus
from drapto_tui.model.media import MediaProbe
from drapto_tui.model.source_identity import SourceIdentity

#: 2: scores are `score_*` with their `metric` (1 said `vmaf_*`; engine/store.py migrates a version-1 database).
SCHEMA_VERSION = 2


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


#: Steps as the pipeline names them → the word a queue row shows.
_STEP_LABELS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("crop",), "crop"),
    (("end of the picture",), "checking"),
    (("interlac", "field"), "fields"),
    (("keyframe",), "keyframes"),
    (("scene",), "scenes"),
    (("cutting",), "cutting"),
    (("joining",), "joining"),
)
_STAGE_LABELS: dict[ProcessingStage, str] = {
    ProcessingStage.INIT: "starting",
    ProcessingStage.DISCOVERED: "starting",
    ProcessingStage.ANALYZING: "analysing",
    ProcessingStage.ANALYZED: "analysing",
    ProcessingStage.SEGMENTING: "splitting",
    ProcessingStage.ENCODING: "encoding",
    ProcessingStage.AUDIO: "audio",
    ProcessingStage.MUXING: "muxing",
    ProcessingStage.VALIDATING: "checking",
}

#: The stages in which a job has no encode progress yet, so that its row shows its step's.
_BEFORE_ENCODE = frozenset({ProcessingStage.ANALYZING, ProcessingStage.ANALYZED, ProcessingStage.SEGMENTING})


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
    outside: bool = False  # caused outside the film (a full disk, a cluster gone): resume runs the job again


class SegmentState(BaseModel):
    index: int
    start: float = 0.0
    end: float = 0.0
    frames: int | None = None
    status: SegmentStatus = SegmentStatus.QUEUED
    progress: float = 0.0
    crf: float | None = None
    metric: str | None = None  # what the scores are (a name in media/metrics/)
    encoder: str | None = (
        None  # what encoded it (a name in media/encoders/; None: written before there were two)
    )
    score_predicted: float | None = None
    score_measured: float | None = None
    bytes: int | None = None
    bitrate: float | None = None
    encode_seconds: float | None = None
    fps: float | None = None
    attempts: int = 0
    probes: list[SearchProbe] = Field(default_factory=list)
    history: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None
    worker: str | None = None  # the Dask worker that encoded it (None: the coordinator's machine)

    def contribution(self) -> float:
        return 1.0 if self.status == SegmentStatus.DONE else self.progress


class ProcessingState(BaseModel):
    """One job: the seed's fields (current_file, stage, progress, errors, stats) plus what resume needs."""

    job_id: str
    current_file: str | None = None
    output_file: str | None = None
    stage: ProcessingStage = ProcessingStage.INIT
    #: The step within the stage ("crop detection", "scene detection", "cutting 12 segments"), when said.
    step: str | None = None
    #: How far that step has got (0 to 1; None: not said), for the stages around the encode.
    step_progress: float | None = None
    status: ProcessingStatus = ProcessingStatus.QUEUED
    progress: float = 0.0
    errors: list[ErrorRecord] = Field(default_factory=list)
    #: Notices (a quality retry, an audio layout carried in a wider one): what happened, not what went wrong.
    notes: list[str] = Field(default_factory=list)
    stats: dict[str, Any] = Field(default_factory=dict)
    media: MediaProbe | None = None
    encoding_path: str | None = None
    #: The quality path's aim, once encoding starts: the metric, its target and the floor's distance below it.
    metric: str | None = None
    target: float | None = None
    tolerance_below: float | None = None
    #: Where the film's picture ends (a long film's segments arrive in batches while it is cut).
    film_end: float | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    #: The source as it was when the job's work began: finished segments belong to exactly this file.
    source: SourceIdentity | None = None
    position: int = 0
    priority: int = 0
    segments: dict[int, SegmentState] = Field(default_factory=dict)
    created: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated: datetime = Field(default_factory=lambda: datetime.now(UTC))
    #: Time spent working on the job, over every run (not paused, not between runs): ETAs and the closing
    #: time and fps of a resumed job count all of its work, not only the last run's.
    active_seconds: float = 0.0
    #: The last work event of the current run (the fold adds the gap to the next one while the job runs).
    work_at: datetime | None = None
    _progress_parts: tuple[bool, float, float] | None = PrivateAttr(default=None)

    def activity(self) -> str:
        """What a running job is doing, in a word that fits a queue column (at most 9 characters): the stage,
        or its step where the stage is long (finding scenes, cutting); else the status."""
        if self.status != ProcessingStatus.RUNNING:
            if self.status == ProcessingStatus.COMPLETED and self.restored:
                return "restored"  # library mode: the original is back, the encode gone
            return str(self.status.value)
        step = (self.step or "").lower()
        for words, label in _STEP_LABELS:
            if any(w in step for w in words):
                return label
        return _STAGE_LABELS.get(self.stage, "running")

    def shown_progress(self) -> float | None:
        """The % a row shows: the film's once its encode has begun; before that, the current step's own (the
        scene pass of a long film takes minutes, and a blank % says nothing); None when neither is known (a queued
        job, a step that says none)."""
        if self.progress > 0:
            return self.progress
        if self.status in (ProcessingStatus.RUNNING, ProcessingStatus.PAUSED):
            return self.step_progress if self.stage in _BEFORE_ENCODE else self.progress
        return None

    @property
    def restored(self) -> bool:
        """Library mode: replaced in place, then put back (`drapto-tui restore`): the file at its output path is
        the original again, and the job saves nothing."""
        return bool(self.stats.get("restored"))

    def active_time(self, now: datetime | None = None) -> float:
        """Working time so far, counting the current run up to `now` while the job runs."""
        running = self.status == ProcessingStatus.RUNNING and self.work_at is not None
        since = (
            ((now or datetime.now(UTC)) - self.work_at).total_seconds() if running and self.work_at else 0.0
        )
        return self.active_seconds + max(since, 0.0)

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
        done = sum(w * s.contribution() for w, s in zip(weights, segs, strict=False))
        # A film still being cut has only its first segments: they are a share of the whole film.
        total = max(sum(weights), self.film_end or 0.0) if timed else sum(weights)
        self.progress = min(done / total, 1.0) if total else 0.0
        self._progress_parts = (timed, total, done)

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
