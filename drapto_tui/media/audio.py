"""Every audio track to Opus: bitrate by channel count, layouts libopus refuses remapped, tags kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from drapto_tui.config.schema import AudioConfig
from drapto_tui.media.ffmpeg import FfmpegProgress, run_ffmpeg
from drapto_tui.model.media import AudioTrack

#: The layout libopus accepts for each channel count (it refuses e.g. "5.1(side)").
OPUS_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def audio_args(tracks: list[AudioTrack], cfg: AudioConfig) -> list[str]:
    """Output options for input 0's audio tracks, in order; -1 entries (no audio) give an empty list."""
    args: list[str] = []
    for out_index, track in enumerate(tracks):
        channels = max(1, min(track.channels, 8))
        args += [
            "-map",
            f"0:a:{track.index}",
            f"-c:a:{out_index}",
            "libopus",
            f"-b:a:{out_index}",
            f"{cfg.bitrate_for(channels)}k",
            f"-filter:a:{out_index}",
            f"aformat=channel_layouts={OPUS_LAYOUTS[channels]}",
        ]
        if track.language:
            args += [f"-metadata:s:a:{out_index}", f"language={track.language}"]
        if track.title:
            args += [f"-metadata:s:a:{out_index}", f"title={track.title}"]
    return args


async def encode_audio(
    ffmpeg: str,
    source: Path,
    output: Path,
    tracks: list[AudioTrack],
    cfg: AudioConfig,
    *,
    duration: float | None = None,
    on_progress: Callable[[FfmpegProgress], None] | None = None,
) -> Path | None:
    """All tracks into one Matroska audio file (None when the source has no audio)."""
    if not tracks:
        return None
    partial = output.with_name(output.stem + ".partial" + output.suffix)
    await run_ffmpeg(
        [
            ffmpeg,
            "-y",
            "-i",
            str(source),
            "-vn",
            "-sn",
            "-dn",
            *audio_args(tracks, cfg),
            "-map_metadata",
            "-1",
            str(partial),
        ],
        what="audio to Opus",
        subject=str(source),
        on_progress=on_progress,
        duration=duration,
    )
    partial.replace(output)
    return output
