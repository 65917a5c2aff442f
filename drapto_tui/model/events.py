"""Events: the kinds, the job statuses and the event envelope that every front end and log reader sees."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
    JOB_QUEUED = "job_queued"
    JOB_UPDATED = "job_updated"  # priority, position, hold
    JOB_PAUSED = "job_paused"
    JOB_RESUMED = "job_resumed"
    JOB_CANCELLED = "job_cancelled"
    JOB_REMOVED = "job_removed"
    RESOURCE_SAMPLE = "resource_sample"


#: Events that may be coalesced (newest wins) when a subscriber lags; everything else is delivered in full.
COALESCABLE = frozenset(
    {ProcessingEvents.SEGMENT_PROGRESS, ProcessingEvents.ENCODING_PROGRESS, ProcessingEvents.RESOURCE_SAMPLE}
)


class ProcessingStatus(str, Enum):
    QUEUED = "queued"
    HELD = "held"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """The seed's payload (event, timestamp, file, data, status) plus the job it belongs to."""

    model_config = ConfigDict(frozen=True)

    event: ProcessingEvents
    timestamp: datetime = Field(default_factory=_now)
    file: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    status: ProcessingStatus | None = None
    job_id: str | None = None

    @property
    def coalescable(self) -> bool:
        return self.event in COALESCABLE

    def coalesce_key(self) -> tuple[str, str | None, Any]:
        return (self.event.value, self.job_id, self.data.get("segment"))

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, line: str) -> Event:
        return cls.model_validate_json(line)


def make_event(
    kind: ProcessingEvents,
    *,
    job_id: str | None = None,
    file: str | Path | None = None,
    status: ProcessingStatus | None = None,
    **data: Any,
) -> Event:
    return Event(event=kind, job_id=job_id, file=str(file) if file is not None else None, status=status, data=data)


