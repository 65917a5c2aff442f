"""The strategy interface every encoding path implements, and what a strategy is given to work with."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.engine.bus import EventBus
from drapto_tui.engine.step_meter import StepMeter
from drapto_tui.engine.store import StateStore
from drapto_tui.engine.workdirs import JobDirs
from drapto_tui.execution.base import Executor
from drapto_tui.execution.control import JobControl
from drapto_tui.media.crop import CropResult
from drapto_tui.media.encode import keyframe_spacing
from drapto_tui.media.encoders import encoder_named
from drapto_tui.media.tools import FfmpegInfo
from drapto_tui.model.events import Payload
from drapto_tui.model.media import MediaProbe
from drapto_tui.model.segment import Segment, VideoSettings
from drapto_tui.model.source_identity import SourceIdentity
from drapto_tui.model.state import ProcessingState


@dataclass
class JobContext:
    job_id: str
    source: Path
    media: MediaProbe
    config: DraptoConfig
    ffmpeg: FfmpegInfo
    dirs: JobDirs
    bus: EventBus
    control: JobControl
    crop: CropResult
    identity: SourceIdentity
    executor: Executor  # where (and when) each encode runs
    cache: StateStore | None = None  # the search cache
    previous: ProcessingState | None = None  # the job's persisted state, for resuming
    deinterlace: Literal["tff", "bff"] | None = None  # bwdif with this field first
    stats: dict[str, Any] = field(default_factory=dict)

    def emit(self, payload: Payload) -> None:
        """Strategies emit typed payload models only: mypy checks every field they give."""
        self.bus.emit(payload, job_id=self.job_id, file=self.source)

    def step_meter(self) -> StepMeter:
        """Where a step's progress goes (StepProgress events, thinned)."""
        return StepMeter(self.emit)

    @property
    def out_width(self) -> int:
        return self.crop.width

    @property
    def out_height(self) -> int:
        return self.crop.height

    def encoder_threads(self, parallel: int) -> int:
        if self.config.resources.encoder_threads:
            return self.config.resources.encoder_threads
        return max(1, (os.cpu_count() or 2) // max(parallel, 1))

    def colour_args(self) -> list[str]:
        """FFmpeg colour tags that carry the source's signalling over."""
        m = self.media
        out: list[str] = []
        for flag, value in (
            ("-color_primaries", m.color_primaries),
            ("-color_trc", m.color_transfer),
            ("-colorspace", m.color_matrix),
        ):
            if value:
                out += [flag, value]
        if m.color_range:
            out += ["-color_range", "tv" if m.color_range == "limited" else "pc"]
        return out

    def video_settings(
        self, crf: float, parallel: int, encoder: str | None = None, piece: Segment | None = None
    ) -> VideoSettings:
        """The encode's settings with the configured encoder (or `encoder`: the Dolby Vision path's own), its
        preset and parameters, and the HDR10 metadata it can carry; keyframes spaced for `piece` (a segment)
        or else the whole film."""
        enc = self.config.encoding
        chosen = encoder_named(encoder or enc.encoder)
        m = self.media
        hdr10 = chosen.hdr10_params(m.mastering_display, m.max_cll, m.max_fall) if m.hdr else ()
        if piece is not None:
            frames, seconds = piece.frames, piece.duration
        else:
            seconds = m.video_duration or m.duration
            frames = m.frame_count or round(seconds * m.fps)
        return VideoSettings(
            encoder=chosen.name,
            # The configured preset is the configured encoder's; another (the direct path's) runs at its default.
            preset=enc.preset if chosen.name == enc.encoder else chosen.default_preset,
            crf=crf,
            pix_fmt=enc.pixel_format,
            threads=self.encoder_threads(parallel),
            params=enc.params_of(chosen.name),
            crop=self.crop.crop,
            extra_params=hdr10,
            deinterlace=self.deinterlace,
            keyint=keyframe_spacing(frames, seconds, enc.keyframe_interval),
        )


class EncodingStrategy(ABC):
    """initialize_encoding → prepare_video → encode → finalize, emitting the seed's events on the way."""

    name: str = "strategy"
    keeps_dolby_vision: bool = False  # validation then requires Dolby Vision on the output

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx

    @abstractmethod
    async def initialize_encoding(self) -> None:
        """Working dirs, state, parameter checks."""

    @abstractmethod
    async def prepare_video(self) -> None:
        """Segment if needed; encoding options; quality targets."""

    @abstractmethod
    async def encode(self) -> Path:
        """Encode the video; return the path of the finished video stream (MKV, video only)."""

    async def finalize(self) -> dict[str, Any]:
        """Statistics for the summary."""
        return dict(self.ctx.stats)

    async def run(self) -> Path:
        await self.initialize_encoding()
        await self.ctx.control.checkpoint()
        await self.prepare_video()
        await self.ctx.control.checkpoint()
        return await self.encode()
