"""Concatenating encoded segments, and muxing the final MKV (video, Opus audio, subtitles, chapters, attachments,
metadata, every track's disposition flags).

The MKV is written inside the job's working folder; `place_output` then moves it to the output path by a
same-filesystem rename, so a partial file never appears there.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from drapto_tui import __version__
from drapto_tui.errors import DraptoError
from drapto_tui.media.ffmpeg import FfmpegProgress, run_ffmpeg
from drapto_tui.model.media import MediaProbe

#: Subtitle codecs Matroska cannot hold as they are, and what to convert them to.
SUBTITLE_CONVERSIONS = {"mov_text": "srt", "tx3g": "srt", "Timed Text": "srt"}


def _concat_line(path: Path) -> str:
    return "file '" + str(path.resolve()).replace("'", "'\\''") + "'"


async def concat_segments(
    ffmpeg: str, parts: list[Path], output: Path, starts: list[float] | None = None
) -> Path:
    """Join encoded segments by stream copy (concat demuxer). With `starts` (each segment's start in the
    source), every part begins exactly there: the demuxer otherwise places a part after the previous one's
    last frame plus that frame's duration, which a variable-frame-rate film's encode does not know."""
    lines = []
    for i, part in enumerate(parts):
        lines.append(_concat_line(part))
        if starts is not None and i + 1 < len(parts):
            lines.append(f"duration {starts[i + 1] - starts[i]:.6f}")
    listing = output.with_suffix(".concat.txt")
    listing.write_text("ffconcat version 1.0\n" + "\n".join(lines) + "\n", encoding="utf-8")
    partial = output.with_name(output.stem + ".partial" + output.suffix)
    await run_ffmpeg(
        [
            ffmpeg,
            "-y",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(listing),
            "-map",
            "0:v:0",
            "-c",
            "copy",
            str(partial),
        ],
        what="joining segments",
        subject=str(output),
    )
    partial.replace(output)
    return output


async def mux(
    ffmpeg: str,
    source: Path,
    video: Path,
    audio: Path | None,
    output: Path,
    media: MediaProbe,
    *,
    on_progress: Callable[[FfmpegProgress], None] | None = None,
) -> Path:
    # Lip sync: the segments (and so the encoded video) start at 0, the Opus file keeps each track's start after
    # the source's first timestamp. -copyts keeps those timestamps; the video moves to where it began in the
    # source, and the source (subtitles) is counted from its own first timestamp, like the audio.
    args = [ffmpeg, "-y", "-copyts"]
    offset = media.video_offset()
    if offset > 0.0005:
        args += ["-itsoffset", f"{offset:.6f}"]
    args += ["-i", str(video)]
    audio_input = None
    if audio is not None:
        args += ["-i", str(audio)]
        audio_input = 1
    source_input = 2 if audio is not None else 1
    if abs(media.start_time) > 0.0005:
        args += ["-itsoffset", f"{-media.start_time:.6f}"]
    args += ["-i", str(source)]
    covers = await _extract_covers(ffmpeg, source, media, output.parent)
    args += ["-map", "0:v:0"]
    if audio_input is not None:
        args += ["-map", f"{audio_input}:a"]
    args += [
        "-map",
        f"{source_input}:s?",
        "-map",
        f"{source_input}:t?",  # attachments: fonts that ASS subtitles need, cover images
        "-map_chapters",
        str(source_input),
        "-map_metadata",
        str(source_input),
        "-c",
        "copy",
    ]
    for i, sub in enumerate(media.subtitle_tracks):
        target = SUBTITLE_CONVERSIONS.get(sub.codec)
        if target:
            args += [f"-c:s:{i}", target]
    # Flags as the source has them (commentary, forced, hearing impaired...): the audio was re-encoded through a
    # file of its own, and the film's video is the default video track.
    args += ["-disposition:v:0", "default"]
    for i, track in enumerate(media.audio):
        args += [f"-disposition:a:{i}", "+".join(track.mkv_flags()) or "0"]
    for i, sub in enumerate(media.subtitle_tracks):
        args += [f"-disposition:s:{i}", "+".join(sub.mkv_flags()) or "0"]
    for k, (cover, mimetype) in enumerate(covers, start=len(media.attachments)):
        args += [
            "-attach",
            str(cover),
            f"-metadata:s:t:{k}",
            f"mimetype={mimetype}",
            f"-metadata:s:t:{k}",
            f"filename={cover.name}",
        ]
    # FFmpeg writes its own name as the muxing and writing application; this tag is what says drapto-tui made the
    # file (library.skip_own reads it back, so a library scan never encodes its own outputs again).
    args += ["-metadata", f"DRAPTO_TUI={__version__}", str(output)]
    partial = output.with_name(output.stem + ".partial" + output.suffix)
    args[-1] = str(partial)
    await run_ffmpeg(
        args, what="muxing", subject=str(source), on_progress=on_progress, duration=media.duration
    )
    partial.replace(output)
    return output


#: How a cover picture is kept: its codec → (file suffix, MIME type). Others are converted to PNG.
COVER_FORMATS = {"mjpeg": (".jpg", "image/jpeg"), "png": (".png", "image/png")}


async def _extract_covers(
    ffmpeg: str, source: Path, media: MediaProbe, folder: Path
) -> list[tuple[Path, str]]:
    """Each cover picture of the source as a file (its own bytes when Matroska can label them), to be attached:
    a cover is never a video track of the output."""
    out: list[tuple[Path, str]] = []
    for n, cover in enumerate(media.covers):
        suffix, mimetype = COVER_FORMATS.get(cover.codec, (".png", "image/png"))
        path = folder / (f"cover{suffix}" if n == 0 else f"cover-{n + 1}{suffix}")
        codec = ["-c", "copy"] if cover.codec in COVER_FORMATS else ["-c:v", "png"]
        await run_ffmpeg(
            [
                ffmpeg,
                "-y",
                "-i",
                str(source),
                "-map",
                f"0:v:{cover.stream}",
                "-frames:v",
                "1",
                *codec,
                "-f",
                "image2",
                str(path),
            ],
            what="extracting a cover picture",
            subject=str(source),
        )
        out.append((path, mimetype))
    return out


def place_output(built: Path, output: Path, *, overwrite: bool) -> Path:
    """Move the validated file to `output`: rename on the same filesystem, else copy to a hidden temp beside it
    and rename. Never leaves a partial file at `output`."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DraptoError(
            f"cannot create the output folder ({exc.strerror})",
            subject=str(output.parent),
            hint="choose a writable --output-dir",
        ) from None
    if output.exists() and not overwrite:
        raise DraptoError(
            "output exists", subject=str(output), hint="pass --overwrite (output.overwrite) to replace it"
        )
    try:
        os.replace(built, output)
        return output
    except OSError as exc:
        if exc.errno != 18:  # EXDEV: another filesystem
            raise DraptoError(
                f"cannot write the output ({exc.strerror})",
                subject=str(output),
                hint="check that the output folder is writable",
            ) from None
    tmp = output.with_name(
        f".drapto-partial-{uuid.uuid4().hex[:12]}.mkv"
    )  # short: only the output name must fit
    try:
        shutil.copyfile(built, tmp)
        os.replace(tmp, output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DraptoError(
            f"cannot write the output ({exc.strerror})",
            subject=str(output),
            hint="check free space and permissions of the output folder",
        ) from None
    built.unlink(missing_ok=True)
    return output
