"""What a running job's user reads first, as HandBrake and ab-av1 show it: time so far, speed against real time,
and the output's size so far, projected, and the saving that means. Computed from the folded state alone, so
the queue row, the inspector and every viewer read the same figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from drapto_tui.model.state import ProcessingState, SegmentStatus


@dataclass(frozen=True)
class LiveFigures:
    active: float  # working seconds over every run (paused time not counted)
    speed: float | None  # seconds of film encoded per working second (× real time)
    fps: float | None
    done_bytes: int  # the finished segments' encoded video
    projected_bytes: float | None  # the whole film's video at the finished segments' rate
    saving: float | None  # 1 − projected / the source's size (negative: it would grow)


def live_figures(job: ProcessingState, now: datetime | None = None) -> LiveFigures:
    """As of `now` (default: the job's last event, so a frozen screenshot has no clock)."""
    active = job.active_time(now or job.updated)
    media = job.media
    speed = fps = None
    if media is not None and active > 0 and job.progress > 0:
        speed = media.duration * job.progress / active
        frames = (media.frame_count or 0) * job.progress
        fps = frames / active if frames else None
    done = [s for s in job.segments.values() if s.status == SegmentStatus.DONE]
    done_bytes = sum(s.bytes or 0 for s in done)
    film_done = sum(s.end - s.start for s in done if s.end > s.start)
    projected = saving = None
    if done_bytes and film_done > 0 and media is not None and media.duration > 0:
        projected = done_bytes * media.duration / film_done
        saving = 1 - projected / media.size if media.size else None
    return LiveFigures(active, speed, fps, done_bytes, projected, saving)


__all__ = ["LiveFigures", "live_figures"]
