"""Video encodes through FFmpeg with the settings' encoder (media/encoders/): the argument list, and running it
with progress."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from drapto_tui.media.encoders import encoder_named
from drapto_tui.media.ffmpeg import FfmpegError, FfmpegProcess, FfmpegProgress, FfmpegResult
from drapto_tui.model.segment import VideoSettings


def av1_args(
    ffmpeg: str,
    source: Path,
    output: Path,
    settings: VideoSettings,
    *,
    input_args: Sequence[str] = (),
    output_args: Sequence[str] = (),
    stream: int = 0,
    after_output: Sequence[str] = (),
) -> list[str]:
    """`stream`: which of the input's video streams to encode (the film, never a cover picture);
    `after_output`: a second output of the same run (e.g. the VMAF of the encode, media/measured_encode.py)."""
    args = [ffmpeg, "-y", *input_args, "-i", str(source), "-map", f"0:v:{stream}", "-an", "-sn", "-dn"]
    if filters := settings.source_filters():
        args += ["-vf", filters]
    args += [
        *encoder_named(settings.encoder).codec_args(settings),
        # Every frame with its own timestamp, in the input's time base: FFmpeg would otherwise make a
        # variable-frame-rate film constant at the container's nominal rate (frames dropped and duplicated),
        # or round its timestamps to 1/fps and collapse frames closer than that.
        "-fps_mode",
        "passthrough",
        "-enc_time_base:v",
        "demux",
        *output_args,
        str(output),
        *after_output,
    ]
    return args


async def encode_av1(
    ffmpeg: str,
    source: Path,
    output: Path,
    settings: VideoSettings,
    *,
    duration: float | None = None,
    on_progress: Callable[[FfmpegProgress], None] | None = None,
    on_start: Callable[[FfmpegProcess], None] | None = None,
    nice: int = 0,
    input_args: Sequence[str] = (),
    output_args: Sequence[str] = (),
    what: str = "AV1 encode",
    stream: int = 0,
    after_output: Sequence[str] = (),
    cwd: Path | None = None,
) -> FfmpegResult:
    """Encode to a temporary name beside `output`, then rename: a partial file never sits at `output`."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.stem + ".partial" + output.suffix)
    proc = FfmpegProcess(
        av1_args(
            ffmpeg,
            source.resolve() if cwd is not None else source,
            partial.resolve() if cwd is not None else partial,
            settings,
            input_args=input_args,
            output_args=output_args,
            stream=stream,
            after_output=after_output,
        ),
        on_progress=on_progress or (lambda p: None),
        duration=duration,
        nice=nice,
        cwd=cwd,
    )
    await proc.start()
    if on_start is not None:
        on_start(proc)
    try:
        result = await proc.wait()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise FfmpegError(what, subject=str(source), result=result)
    os.replace(partial, output)
    return result
