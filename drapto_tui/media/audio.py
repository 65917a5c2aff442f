"""Every audio track to Opus: bitrate by channel count, every speaker where it was, tags kept.

libopus (channel mapping family 1) takes eight layouts. A source layout that is one of them is encoded as it is;
another goes into the smallest of them that has a place for each of its speakers, the missing ones silent (2.1 →
5.1: its LFE stays the LFE, never a front channel), and the change is said in one line. Side and back surrounds
count as one pair (5.1(side) → 5.1), as every player treats them. A back centre has no place but 6.1's, and
FFmpeg's libopus 6.1 puts the centre, back centre and side left in each other's places (measured with one tone
per speaker), so a back centre is spread over back left and right in 7.1 instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from drapto_tui.config.schema import AudioConfig
from drapto_tui.media.ffmpeg import FfmpegProgress, run_ffmpeg
from drapto_tui.model.media import AudioTrack

#: The layout libopus accepts for each channel count (it refuses e.g. "5.1(side)").
OPUS_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}

#: FFmpeg's standard layouts by name, as speaker sets (libavutil/channel_layout.c).
FFMPEG_LAYOUTS: dict[str, tuple[str, ...]] = {
    "mono": ("FC",),
    "stereo": ("FL", "FR"),
    "2.1": ("FL", "FR", "LFE"),
    "3.0": ("FL", "FR", "FC"),
    "3.0(back)": ("FL", "FR", "BC"),
    "4.0": ("FL", "FR", "FC", "BC"),
    "quad": ("FL", "FR", "BL", "BR"),
    "quad(side)": ("FL", "FR", "SL", "SR"),
    "3.1": ("FL", "FR", "FC", "LFE"),
    "5.0": ("FL", "FR", "FC", "BL", "BR"),
    "5.0(side)": ("FL", "FR", "FC", "SL", "SR"),
    "4.1": ("FL", "FR", "FC", "LFE", "BC"),
    "5.1": ("FL", "FR", "FC", "LFE", "BL", "BR"),
    "5.1(side)": ("FL", "FR", "FC", "LFE", "SL", "SR"),
    "6.0": ("FL", "FR", "FC", "BC", "SL", "SR"),
    "hexagonal": ("FL", "FR", "FC", "BL", "BR", "BC"),
    "6.1": ("FL", "FR", "FC", "LFE", "BC", "SL", "SR"),
    "6.1(back)": ("FL", "FR", "FC", "LFE", "BL", "BR", "BC"),
    "7.0": ("FL", "FR", "FC", "BL", "BR", "SL", "SR"),
    "7.1": ("FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR"),
}
#: The layouts an Opus track is written in, smallest first; 6.1 left out (its speakers come out swapped).
OPUS_TARGETS = ("mono", "stereo", "3.0", "quad", "5.0", "5.1", "7.1")
#: Surround pairs that stand for each other when the exact pair has no place (5.1(side) as 5.1).
_PAIR = {"SL": "BL", "SR": "BR", "BL": "SL", "BR": "SR"}


def opus_layout(track: AudioTrack) -> tuple[str, str | None]:
    """The layout this track is encoded in, and one line when it is not the source's own (else None)."""
    channels = max(1, min(track.channels, 8))
    name = (track.ffmpeg_layout or "").strip()
    speakers = FFMPEG_LAYOUTS.get(name)
    if speakers is None or len(speakers) != track.channels:
        return OPUS_LAYOUTS[channels], None  # no named layout: by channel count, as FFmpeg would guess it
    if name in OPUS_TARGETS:
        return name, None
    for target in OPUS_TARGETS:
        have = set(FFMPEG_LAYOUTS[target])
        if all(s in have or _PAIR.get(s) in have for s in speakers):
            if len(have) == len(speakers):  # the same speakers, side and back surrounds as one pair
                return target, None
            silent = [s for s in FFMPEG_LAYOUTS[target] if s not in speakers and _PAIR.get(s) not in speakers]
            return (
                target,
                f"{name} carried as {target}: every speaker in its place, {' '.join(silent)} silent",
            )
    spread = [s for s in speakers if s == "BC"]
    return (
        "7.1",
        f"{name} carried as 7.1: the back centre spread over back left and right" if spread else None,
    )


def audio_args(tracks: list[AudioTrack], cfg: AudioConfig) -> list[str]:
    """Output options for input 0's audio tracks, in order; -1 entries (no audio) give an empty list."""
    args: list[str] = []
    for out_index, track in enumerate(tracks):
        channels = max(1, min(track.channels, 8))
        layout, _ = opus_layout(track)
        args += [
            "-map",
            f"0:a:{track.index}",
            f"-c:a:{out_index}",
            "libopus",
            f"-b:a:{out_index}",
            f"{cfg.bitrate_for(channels)}k",
            f"-filter:a:{out_index}",
            f"aformat=channel_layouts={layout}",
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
