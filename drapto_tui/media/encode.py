"""Video encodes through FFmpeg with the settings' encoder (media/encoders/): the argument list, and running it
with progress."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from drapto_tui.media.encoders import encoder_named
from drapto_tui.media.ffmpeg import FfmpegError, FfmpegProcess, FfmpegResult, RunWatch
from drapto_tui.model.segment import VideoSettings


@dataclass(frozen=True)
class EncodeRequest:
    """One video encode: the source, where it goes, the settings, and what part of it. `stream` is which of the
    input's video streams to encode (the film, never a cover picture); `input_args` pick a part (-ss, -t)."""

    source: Path
    output: Path
    settings: VideoSettings
    input_args: Sequence[str] = ()
    output_args: Sequence[str] = ()
    stream: int = 0


def av1_args(
    ffmpeg: str,
    request: EncodeRequest,
    *,
    source: Path | None = None,
    output: Path | None = None,
    after_output: Sequence[str] = (),
) -> list[str]:
    """The encode's FFmpeg arguments (`source`/`output`: other names for the request's files, such as the
    partial file it writes first); `after_output`: a second output of the same run (e.g. the score of the
    encode, media/measured_encode.py)."""
    settings = request.settings
    args = [
        ffmpeg,
        "-y",
        *request.input_args,
        "-i",
        str(source or request.source),
        "-map",
        f"0:v:{request.stream}",
        "-an",
        "-sn",
        "-dn",
    ]
    if filters := settings.source_filters():
        args += ["-vf", filters]
    args += encoder_named(settings.encoder).codec_args(settings)
    if settings.keyint:
        # FFmpeg's own GOP option: SVT-AV1's intra period, libaom's kf-max-dist.
        args += ["-g", str(settings.keyint)]
    args += [
        # Every frame with its own timestamp, in the input's time base: FFmpeg would otherwise make a
        # variable-frame-rate film constant at the container's nominal rate (frames dropped and duplicated),
        # or round its timestamps to 1/fps and collapse frames closer than that.
        "-fps_mode",
        "passthrough",
        "-enc_time_base:v",
        "demux",
        *request.output_args,
        str(output or request.output),
        *after_output,
    ]
    return args


def keyframe_spacing(frames: int, seconds: float, interval: float) -> int:
    """The most frames from one keyframe to the next in a piece of `frames` frames lasting `seconds`: no gap over
    `interval` seconds, the gaps even, none where the piece is no longer than that (0: `interval` 0, the
    encoder's own default). The encoder's own interval puts a keyframe wherever it falls: SVT-AV1's (161 frames
    at 25 fps) put one at frame 161 of a 163-frame segment, a whole intra picture for two frames; on issue 24's
    film such keyframes cost the longer segments 7.5 % of their bytes at the same VMAF (1.9–10.5 % each)."""
    if interval <= 0 or frames <= 0 or seconds <= 0:
        return 0
    pieces = max(1, math.ceil(seconds / interval - 1e-9))
    return math.ceil(frames / pieces)


async def encode_av1(
    ffmpeg: str,
    request: EncodeRequest,
    watch: RunWatch | None = None,
    *,
    after_output: Sequence[str] = (),
    cwd: Path | None = None,
) -> FfmpegResult:
    """Encode to a temporary name beside the output, then rename: a partial file never sits at the output.
    `cwd`: the folder FFmpeg runs in (then every path is made absolute)."""
    watch = watch or RunWatch(what="AV1 encode")
    source, output = request.source, request.output
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.stem + ".partial" + output.suffix)
    proc = FfmpegProcess(
        av1_args(
            ffmpeg,
            request,
            source=source.resolve() if cwd is not None else source,
            output=partial.resolve() if cwd is not None else partial,
            after_output=after_output,
        ),
        on_progress=watch.on_progress or (lambda p: None),
        duration=watch.duration,
        nice=watch.nice,
        cwd=cwd,
    )
    await proc.start()
    if watch.on_start is not None:
        watch.on_start(proc)
    try:
        result = await proc.wait()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise FfmpegError(watch.what, subject=str(source), result=result)
    os.replace(partial, output)
    return result
