"""Events: the kinds, the job statuses, one payload model per kind, and the envelope every reader sees.

An event is the seed's envelope (event, timestamp, file, data, status) plus the job it belongs to and a
`schema` version. `data` is the kind's own payload model, so a consumer reads `event.data.segment`, not a dict;
`Event.from_json` picks the right model from the `event` field (a discriminated union). A payload serialises
only the fields its emitter gave, so the JSONL log reads as it always has: `{"event": "segment_progress", ...,
"data": {"segment": 3, "progress": 0.5, "fps": 41.2}, ...}`.

Payloads forbid unknown fields: a misspelt key fails where it is emitted instead of vanishing from the state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    model_serializer,
    model_validator,
)

from drapto_tui.model.media import MediaProbe
from drapto_tui.model.source_identity import SourceIdentity

#: The version of this event format; readers of old logs see no field (version 0) and the same shapes.
#: 2: scores are `score_*` in the job's `metric` (version 1 said `vmaf_*`; its lines still read, OLD_SCORE_NAMES).
EVENT_SCHEMA = 2

#: Field names of schema 1, when every score was VMAF, and their names since; a line or a saved row that has
#: them is read as the new names with metric "vmaf" (engine/store.py migrates saved state the same way).
OLD_SCORE_NAMES = {
    "vmaf_predicted": "score_predicted",
    "vmaf_measured": "score_measured",
    "vmaf_min": "score_min",
    "vmaf_max": "score_max",
    "vmaf_file": "score_file",
}
OLD_METRIC = "vmaf"


def renamed_scores(data: Any) -> Any:
    """A mapping with schema-1 score names, renamed, its metric VMAF where it holds a score; anything else as
    it is."""
    if not isinstance(data, dict) or not any(old in data for old in OLD_SCORE_NAMES):
        return data
    renamed = {OLD_SCORE_NAMES.get(key, key): value for key, value in data.items()}
    if any(data.get(old) is not None for old in OLD_SCORE_NAMES):
        renamed.setdefault("metric", OLD_METRIC)
    return renamed


class ProcessingEvents(str, Enum):
    # The seed's seven lifecycle events.
    FILE_DISCOVERED = "file_discovered"
    ANALYSIS_STARTED = "analysis_started"
    ANALYSIS_COMPLETE = "analysis_complete"
    ENCODING_STARTED = "encoding_started"
    SEGMENT_COMPLETE = "segment_complete"
    ENCODING_COMPLETE = "encoding_complete"
    ERROR_OCCURRED = "error_occurred"
    # What the scheduler and the UI need beyond them.
    STAGE_STARTED = "stage_started"  # data.stage: segmenting, audio, muxing, validating, ...
    SEGMENT_STARTED = "segment_started"
    SEGMENT_PROGRESS = "segment_progress"
    SEARCH_STEP = "search_step"
    ENCODING_PROGRESS = "encoding_progress"
    #: How far the current step has got (the scene pass, cutting, muxing): a long film spends minutes in them.
    STEP_PROGRESS = "step_progress"
    JOB_QUEUED = "job_queued"
    JOB_UPDATED = "job_updated"  # priority, position, hold, status, a restart, the source's identity
    JOB_PAUSED = "job_paused"
    JOB_RESUMED = "job_resumed"
    JOB_CANCELLED = "job_cancelled"
    JOB_REMOVED = "job_removed"
    RESOURCE_SAMPLE = "resource_sample"
    #: Something the user should know that is neither an error nor a warning (a quality retry, a layout carried
    #: in a wider one): a JSON consumer counting error_occurred counts only what went wrong.
    NOTICE = "notice"


#: Events that may be coalesced (newest wins) when a subscriber lags; everything else is delivered in full.
COALESCABLE = frozenset(
    {
        ProcessingEvents.SEGMENT_PROGRESS,
        ProcessingEvents.ENCODING_PROGRESS,
        ProcessingEvents.STEP_PROGRESS,
        ProcessingEvents.RESOURCE_SAMPLE,
    }
)


class ProcessingStatus(str, Enum):
    QUEUED = "queued"
    HELD = "held"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    KEPT = "kept"  # not encoded: AV1 would not save enough (search.max_encoded_percent); the source is kept


def _now() -> datetime:
    return datetime.now(UTC)


# -- payloads -------------------------------------------------------------------------------------------------


class Payload(BaseModel):
    """The data of one kind of event. Serialises only the fields that were given (`model_fields_set`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_serializer(mode="wrap")
    def _given_fields_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        return {k: v for k, v in out.items() if k in self.model_fields_set}

    def given(self, name: str) -> bool:
        """Whether the emitter set this field (a partial update names only what changed)."""
        return name in self.model_fields_set


class FileDiscovered(Payload):
    size: int


class AnalysisStarted(Payload):
    pass


class AnalysisComplete(Payload):
    media: MediaProbe
    encoding_path: str
    preview: bool = False  # probed while queued, before the job runs


class SegmentPlan(BaseModel):
    index: int
    start: float
    end: float
    frames: int | None = None


class EncodingStarted(Payload):
    path: str  # "chunked" or "dolby_vision"
    segments: list[SegmentPlan]
    parallel: int | None = None
    crf: float | None = None  # the fixed CRF of the direct path
    #: The quality path's aim: the metric (a name in media/metrics/), its target and how far below it a segment
    #: may land, in that metric's unit.
    metric: str | None = None
    target: float | None = None
    tolerance_below: float | None = None
    #: Where the film's picture ends. A long film's segments come in batches as it is cut (one EncodingStarted
    #: each, adding to the ones before): the job's progress counts against the whole film, not the batches so far.
    film_end: float | None = None


class ProbeStep(BaseModel):
    """One CRF the search tried, as events and the state carry it."""

    crf: float
    score: float
    bytes: int = 0
    predicted_percent: float | None = None
    cached: bool = False
    full_pass: bool = False


class SegmentComplete(Payload):
    """A finished segment; the encoders give every field, a test or a replay may give fewer."""

    segment: int
    start: float | None = None
    end: float | None = None
    frames: int | None = None
    crf: float | None = None
    metric: str | None = None  # what the scores are (the job's metric)
    encoder: str | None = None  # what encoded it (a name in media/encoders/)
    score_predicted: float | None = None
    score_measured: float | None = None  # None: audit mode left it unmeasured
    bytes: int | None = None
    bitrate: float | None = None
    encode_seconds: float | None = None
    fps: float | None = None
    attempts: int = 1
    history: list[dict[str, Any]] = Field(default_factory=list)
    probes: list[ProbeStep] = Field(default_factory=list)
    #: predict: the file's loss ratio r (probe preset ÷ final preset) this segment was planned with, and the r
    #: its measured final showed (None when unmeasured): how r drifts over a film.
    loss_ratio_used: float | None = None
    loss_ratio_seen: float | None = None
    worker: str | None = None  # the Dask worker that encoded it (None: the coordinator's machine)
    transfer_bytes: int | None = None  # sent to and received from that worker for this segment
    transfer_seconds: float | None = None  # sending the segment's bytes to a worker
    check_seconds: float | None = None  # the worker's FFmpeg check (on its first task)
    queued_seconds: float | None = None  # waiting in Dask for a worker thread, and the answer's way back
    lost_seconds: float | None = None  # earlier tries lost to a worker or a scheduler that went away

    _old_names = model_validator(mode="before")(renamed_scores)


class EncodingComplete(Payload):
    """A placed output and its summary, or `skipped` with the reason (an output that already exists, or
    `kept_source`: the AV1 video would not be small enough to be worth it)."""

    output: str
    skipped: bool = False
    kept_source: bool = False  # skipped because AV1 would not save enough: the job's status is KEPT
    max_encoded_percent: float | None = None  # the limit a kept film was judged by
    by_rule: bool = False  # kept by a [library] rule (already AV1, made here...), before any encode
    reason: str | None = None
    input_bytes: int | None = None
    output_bytes: int | None = None
    reduction_percent: float | None = None
    wall_seconds: float | None = None
    fps: float | None = None
    encoding_path: str | None = None
    hdr: str | None = None  # what the output is: 'Dolby Vision 10.1', 'HDR10', 'HLG', 'SDR'
    deinterlaced: str | None = None  # 'bwdif, tff' when the film was interlaced
    damaged: str | None = None  # the source was truncated or damaged and encoded as far as its data goes
    #: What the output does not carry as the source had it, each in a line (4:2:2 made 4:2:0, HDR10+ dropped,
    #: a second picture left out): said in the summary, never silent.
    changes: list[str] = Field(default_factory=list)
    crop: str | None = None
    width: int | None = None
    height: int | None = None
    segments: int | None = None
    frames: int | None = None
    crf_min: float | None = None
    crf_max: float | None = None
    metric: str | None = None  # what the scores below are (None: the direct path, scored by none)
    score_min: float | None = None
    score_max: float | None = None
    score_file: float | None = None
    probes_per_segment: float | None = None
    video_bytes: int | None = None
    segments_predicted: int | None = None  # segments whose score is predicted, not measured (audit mode)
    report: str | None = None  # the segments chart written beside the output (output.report)
    #: Replace in place (library mode): the source path the output took the place of, and where the original is.
    replaced: str | None = None
    original_kept: str | None = None

    _old_names = model_validator(mode="before")(renamed_scores)


class ErrorOccurred(Payload):
    message: str
    stage: str | None = None
    severity: Literal["error", "warning"] = "error"
    fatal: bool = False  # the job failed
    segment: int | None = None
    attempt: int | None = None
    segment_failed: bool = False  # the segment failed for good (no retry left)
    stderr_tail: list[str] = Field(default_factory=list)
    outside: bool = (
        False  # the cause is outside the film (disk, cluster): `encode --resume` runs the job again
    )


class Notice(Payload):
    message: str
    stage: str | None = None
    segment: int | None = None
    attempt: int | None = None


class StageStarted(Payload):
    stage: str
    step: str | None = None
    note: str | None = None
    crop: str | None = None
    tracks: int | None = None


class SegmentStarted(Payload):
    segment: int
    phase: str
    attempt: int = 1
    samples: int | None = None
    sample_duration: float | None = None
    target: float | None = None
    crf: float | None = None
    worker: str | None = (
        None  # the Dask worker it runs on, "name (address)" (None: the coordinator's machine)
    )


class SegmentProgress(Payload):
    segment: int
    progress: float
    fps: float = 0.0
    speed: float | None = None


class SearchStep(Payload):
    segment: int
    attempt: int = 1
    crf: float
    score: float
    bytes: int = 0
    predicted_percent: float | None = None
    cached: bool = False
    full_pass: bool = False


class EncodingProgress(Payload):
    progress: float
    fps: float = 0.0


class StepProgress(Payload):
    """The fraction of the current stage's step done (the last StageStarted's), 0 to 1."""

    progress: float


class JobQueued(Payload):
    output: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    priority: int = 0
    position: int | None = None
    size: int | None = None


class JobUpdated(Payload):
    """A partial update: only the fields given apply (see `Payload.given`)."""

    priority: int | None = None
    position: int | None = None
    held: bool | None = None
    status: ProcessingStatus | None = None
    stage: str | None = None
    note: str | None = None
    retry: bool = False  # back to the queue; failed segments (or all, with reset_segments) run again
    reset_segments: bool = False
    failed_segments: list[int] = Field(default_factory=list)
    restart: bool = False  # the source changed: everything finished is discarded
    source: SourceIdentity | None = None
    output: str | None = None  # a resumed job writes where the command that resumed it says
    options: dict[str, Any] | None = None
    restored: bool = False  # library mode: the original is back at its path, the encode is gone


class JobPaused(Payload):
    pass


class JobResumed(Payload):
    pass


class JobCancelled(Payload):
    pass


class JobRemoved(Payload):
    pass


class JobUsage(BaseModel):
    cpu: float
    rss: int


class ResourceSample(Payload):
    cpu: list[float]
    mem_total: int
    mem_available: int
    mem_used_percent: float
    rss_tree: int
    processes: int
    disk_read_bps: int
    disk_write_bps: int
    temp_free: int
    jobs: dict[str, JobUsage] = Field(default_factory=dict)
    #: Each Dask worker by name: its process and the FFmpeg it runs, on its own machine (empty when local).
    workers: dict[str, JobUsage] = Field(default_factory=dict)


# -- the envelope -----------------------------------------------------------------------------------------------


class Event(BaseModel):
    """The seed's payload (event, timestamp, file, data, status) plus the job it belongs to; see the kinds below."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    event: ProcessingEvents
    timestamp: datetime = Field(default_factory=_now)
    file: str | None = None
    data: Payload
    status: ProcessingStatus | None = None
    job_id: str | None = None
    schema_version: int = Field(EVENT_SCHEMA, alias="schema")

    @property
    def coalescable(self) -> bool:
        return self.event in COALESCABLE

    def coalesce_key(self) -> tuple[str, str | None, Any]:
        return (self.event.value, self.job_id, getattr(self.data, "segment", None))

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)

    @classmethod
    def from_json(cls, line: str) -> Event:
        event: Event = EVENTS.validate_json(line)
        return event


class FileDiscoveredEvent(Event):
    event: Literal[ProcessingEvents.FILE_DISCOVERED] = ProcessingEvents.FILE_DISCOVERED
    data: FileDiscovered


class AnalysisStartedEvent(Event):
    event: Literal[ProcessingEvents.ANALYSIS_STARTED] = ProcessingEvents.ANALYSIS_STARTED
    data: AnalysisStarted


class AnalysisCompleteEvent(Event):
    event: Literal[ProcessingEvents.ANALYSIS_COMPLETE] = ProcessingEvents.ANALYSIS_COMPLETE
    data: AnalysisComplete


class EncodingStartedEvent(Event):
    event: Literal[ProcessingEvents.ENCODING_STARTED] = ProcessingEvents.ENCODING_STARTED
    data: EncodingStarted


class SegmentCompleteEvent(Event):
    event: Literal[ProcessingEvents.SEGMENT_COMPLETE] = ProcessingEvents.SEGMENT_COMPLETE
    data: SegmentComplete


class EncodingCompleteEvent(Event):
    event: Literal[ProcessingEvents.ENCODING_COMPLETE] = ProcessingEvents.ENCODING_COMPLETE
    data: EncodingComplete


class ErrorOccurredEvent(Event):
    event: Literal[ProcessingEvents.ERROR_OCCURRED] = ProcessingEvents.ERROR_OCCURRED
    data: ErrorOccurred


class NoticeEvent(Event):
    event: Literal[ProcessingEvents.NOTICE] = ProcessingEvents.NOTICE
    data: Notice


class StageStartedEvent(Event):
    event: Literal[ProcessingEvents.STAGE_STARTED] = ProcessingEvents.STAGE_STARTED
    data: StageStarted


class SegmentStartedEvent(Event):
    event: Literal[ProcessingEvents.SEGMENT_STARTED] = ProcessingEvents.SEGMENT_STARTED
    data: SegmentStarted


class SegmentProgressEvent(Event):
    event: Literal[ProcessingEvents.SEGMENT_PROGRESS] = ProcessingEvents.SEGMENT_PROGRESS
    data: SegmentProgress


class SearchStepEvent(Event):
    event: Literal[ProcessingEvents.SEARCH_STEP] = ProcessingEvents.SEARCH_STEP
    data: SearchStep


class EncodingProgressEvent(Event):
    event: Literal[ProcessingEvents.ENCODING_PROGRESS] = ProcessingEvents.ENCODING_PROGRESS
    data: EncodingProgress


class StepProgressEvent(Event):
    event: Literal[ProcessingEvents.STEP_PROGRESS] = ProcessingEvents.STEP_PROGRESS
    data: StepProgress


class JobQueuedEvent(Event):
    event: Literal[ProcessingEvents.JOB_QUEUED] = ProcessingEvents.JOB_QUEUED
    data: JobQueued


class JobUpdatedEvent(Event):
    event: Literal[ProcessingEvents.JOB_UPDATED] = ProcessingEvents.JOB_UPDATED
    data: JobUpdated


class JobPausedEvent(Event):
    event: Literal[ProcessingEvents.JOB_PAUSED] = ProcessingEvents.JOB_PAUSED
    data: JobPaused


class JobResumedEvent(Event):
    event: Literal[ProcessingEvents.JOB_RESUMED] = ProcessingEvents.JOB_RESUMED
    data: JobResumed


class JobCancelledEvent(Event):
    event: Literal[ProcessingEvents.JOB_CANCELLED] = ProcessingEvents.JOB_CANCELLED
    data: JobCancelled


class JobRemovedEvent(Event):
    event: Literal[ProcessingEvents.JOB_REMOVED] = ProcessingEvents.JOB_REMOVED
    data: JobRemoved


class ResourceSampleEvent(Event):
    event: Literal[ProcessingEvents.RESOURCE_SAMPLE] = ProcessingEvents.RESOURCE_SAMPLE
    data: ResourceSample


AnyEvent = Annotated[
    FileDiscoveredEvent
    | AnalysisStartedEvent
    | AnalysisCompleteEvent
    | EncodingStartedEvent
    | SegmentCompleteEvent
    | EncodingCompleteEvent
    | ErrorOccurredEvent
    | NoticeEvent
    | StageStartedEvent
    | SegmentStartedEvent
    | SegmentProgressEvent
    | SearchStepEvent
    | EncodingProgressEvent
    | StepProgressEvent
    | JobQueuedEvent
    | JobUpdatedEvent
    | JobPausedEvent
    | JobResumedEvent
    | JobCancelledEvent
    | JobRemovedEvent
    | ResourceSampleEvent,
    Field(discriminator="event"),
]
EVENTS: TypeAdapter[Event] = TypeAdapter(AnyEvent)

#: Each kind's envelope class, for building events (make_event) and checking that every kind has one.
EVENT_TYPES: dict[ProcessingEvents, type[Event]] = {
    cls.model_fields["event"].default: cls
    for cls in (
        FileDiscoveredEvent,
        AnalysisStartedEvent,
        AnalysisCompleteEvent,
        EncodingStartedEvent,
        SegmentCompleteEvent,
        EncodingCompleteEvent,
        ErrorOccurredEvent,
        NoticeEvent,
        StageStartedEvent,
        SegmentStartedEvent,
        SegmentProgressEvent,
        SearchStepEvent,
        EncodingProgressEvent,
        StepProgressEvent,
        JobQueuedEvent,
        JobUpdatedEvent,
        JobPausedEvent,
        JobResumedEvent,
        JobCancelledEvent,
        JobRemovedEvent,
        ResourceSampleEvent,
    )
}


#: Each payload model's kind: an event is built from its payload alone (event_of), so emitters are type-checked.
PAYLOAD_KINDS: dict[type[Payload], ProcessingEvents] = {
    cls.model_fields["data"].annotation: kind  # type: ignore[misc]
    for kind, cls in EVENT_TYPES.items()
}


def event_of(
    payload: Payload,
    *,
    job_id: str | None = None,
    file: str | Path | None = None,
    status: ProcessingStatus | None = None,
) -> Event:
    """The event that carries this payload (its kind follows from the payload's type)."""
    kind = PAYLOAD_KINDS[type(payload)]
    return EVENT_TYPES[kind](
        event=kind, job_id=job_id, file=str(file) if file is not None else None, status=status, data=payload
    )


def make_event(
    kind: ProcessingEvents,
    *,
    job_id: str | None = None,
    file: str | Path | None = None,
    status: ProcessingStatus | None = None,
    timestamp: datetime | None = None,
    **data: Any,
) -> Event:
    """The event of this kind, its payload validated from `data` (an unknown or mistyped field raises)."""
    cls = EVENT_TYPES[kind]
    payload = cls.model_fields["data"].annotation
    assert isinstance(payload, type) and issubclass(payload, Payload)
    return cls(
        job_id=job_id,
        file=str(file) if file is not None else None,
        status=status,
        data=payload.model_validate(data),
        **({"timestamp": timestamp} if timestamp is not None else {}),
    )
