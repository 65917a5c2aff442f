"""The direct path for Dolby Vision sources: one SVT-AV1 encode of the whole video, fixed CRF by class.

Chunking would break the DV metadata, so there are no segments here. libsvtav1 carries the decoder's per-frame
RPUs into the AV1 stream (profile 10) only when asked with `-dolbyvision 1`; its default drops them silently.
When Dolby Vision cannot be kept (profile 7's enhancement layer, frames without RPUs, an FFmpeg without the
option), the job says so in one line, encodes HDR10 and its summary says HDR10; otherwise validation checks
that the output is Dolby Vision. Colour tags and HDR10 mastering-display / content-light metadata are set
explicitly from the probe. With processing.hwaccel set, decoding uses that
method; if the hardware decode fails, the same encode reruns in software and the error log says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from drapto_tui.engine.strategies.base import EncodingStrategy
from drapto_tui.errors import DraptoError
from drapto_tui.media.dovi import frames_carry_rpu
from drapto_tui.media.encode import EncodeRequest, encode_av1
from drapto_tui.media.encoders import DOLBY_VISION_ENCODER, encoder_named
from drapto_tui.media.ffmpeg import FfmpegError, FfmpegProgress, RunWatch
from drapto_tui.model.events import (
    EncodingProgress,
    EncodingStarted,
    ErrorOccurred,
    SegmentComplete,
    SegmentPlan,
    SegmentProgress,
    SegmentStarted,
)


class DolbyVisionStrategy(EncodingStrategy):
    name = "dolby_vision"

    async def initialize_encoding(self) -> None:
        ctx = self.ctx
        if not ctx.media.dolby_vision:
            raise DraptoError("the direct path is for Dolby Vision sources", subject=str(ctx.source))
        why_not = await self._why_dolby_vision_cannot_be_kept()
        self.keeps_dolby_vision = why_not is None
        if why_not is not None:
            ctx.emit(
                ErrorOccurred(
                    stage="encoding",
                    severity="warning",
                    message=f"{ctx.source}: Dolby Vision cannot be kept ({why_not}); the output is HDR10",
                )
            )

    async def _why_dolby_vision_cannot_be_kept(self) -> str | None:
        ctx = self.ctx
        if not ctx.ffmpeg.svtav1_dolbyvision:
            return (
                f"{ctx.ffmpeg.path} has no {encoder_named(DOLBY_VISION_ENCODER).ffmpeg_encoder} -dolbyvision option:"
                " use an FFmpeg with SVT-AV1 >= 2.x"
            )
        if ctx.media.dv_profile == 7:
            return "profile 7 keeps part of the picture in an enhancement layer, which AV1 cannot carry"
        if not await frames_carry_rpu(ctx.ffmpeg.path, ctx.source, ctx.media.video_stream):
            return "the file signals Dolby Vision but its frames carry no RPU metadata"
        return None

    async def prepare_video(self) -> None:
        cfg = self.ctx.config.encoding.crf
        self.crf = {"sd": cfg.sd, "hd": cfg.hd, "uhd": cfg.uhd}[self.ctx.media.resolution_class]
        self.settings = self.ctx.video_settings(self.crf, parallel=1, encoder=DOLBY_VISION_ENCODER)
        self.output = self.ctx.dirs.encoded / "video.mkv"

    async def encode(self) -> Path:
        ctx = self.ctx
        media = ctx.media
        frames = media.frame_count
        ctx.emit(
            EncodingStarted(
                path=self.name,
                crf=self.crf,
                segments=[SegmentPlan(index=0, start=0.0, end=media.duration, frames=frames)],
            )
        )
        prev = ctx.previous.segments.get(0) if ctx.previous else None
        if prev is not None and prev.status.value == "done" and self.output.exists():
            return self.output  # resumed: the whole-file encode finished before the interruption
        colour = ctx.colour_args()
        if ctx.ffmpeg.svtav1_dolbyvision:
            colour += ["-dolbyvision", "1" if self.keeps_dolby_vision else "0"]
        ctx.emit(SegmentStarted(segment=0, phase="encoding", attempt=1, crf=self.crf))
        started = time.monotonic()

        def progress(p: FfmpegProgress) -> None:
            fraction = p.fraction or 0.0
            ctx.emit(SegmentProgress(segment=0, progress=fraction, fps=p.fps, speed=p.speed))
            ctx.emit(EncodingProgress(progress=fraction, fps=p.fps))

        return await ctx.executor.run_local(
            ctx.job_id, media.resolution_class, lambda: self._encode_whole(progress, colour, started, frames)
        )

    async def _encode_whole(
        self,
        progress: Callable[[FfmpegProgress], None],
        colour: list[str],
        started: float,
        frames: int | None,
    ) -> Path:
        ctx = self.ctx
        media = ctx.media
        hwaccel = ctx.config.processing.hwaccel
        attempts = 1
        request = EncodeRequest(
            ctx.source, self.output, self.settings, output_args=tuple(colour), stream=media.video_stream
        )
        watch = RunWatch(
            what="Dolby Vision encode",
            duration=media.duration,
            on_progress=progress,
            nice=ctx.config.resources.nice,
        )
        try:
            hardware = ("-hwaccel", hwaccel) if hwaccel != "none" else ()
            result = await encode_av1(ctx.ffmpeg.path, replace(request, input_args=hardware), watch)
        except FfmpegError as err:
            if hwaccel == "none" or ctx.control.cancelled:
                raise
            attempts = 2
            ctx.emit(
                ErrorOccurred(
                    stage="encoding",
                    segment=0,
                    message=f"hardware decode ({hwaccel}) failed: {err.line()}; encoding again with software"
                    " decode",
                    stderr_tail=err.result.stderr_tail[-10:],
                )
            )
            result = await encode_av1(ctx.ffmpeg.path, request, watch)
        seconds = time.monotonic() - started
        size = self.output.stat().st_size
        fps = (frames or 0) / result.active_seconds if frames else result.progress.fps
        ctx.stats.update({"crf_min": self.crf, "crf_max": self.crf, "video_bytes": size, "segments": 1})
        ctx.emit(
            SegmentComplete(
                segment=0,
                start=0.0,
                end=media.duration,
                frames=frames,
                crf=self.crf,
                encoder=self.settings.encoder,
                score_predicted=None,
                score_measured=None,
                bytes=size,
                bitrate=size * 8 / max(media.duration, 1e-6),
                encode_seconds=round(seconds, 3),
                fps=round(fps, 2),
                attempts=attempts,
            )
        )
        return self.output
