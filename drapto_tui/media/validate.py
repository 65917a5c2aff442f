"""Checking a finished file against its source before it may appear at the output path."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from drapto_tui.errors import DraptoError
from drapto_tui.media.audio import FFMPEG_LAYOUTS, opus_layout
from drapto_tui.media.probe import probe
from drapto_tui.model.media import MasteringDisplay, MediaProbe


class ValidationError(DraptoError):
    """The output does not match what was asked; the job fails and keeps its temp files."""


@dataclass
class ValidationReport:
    output: MediaProbe
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def validate_output(
    ffmpeg: str,
    built: Path,
    source: MediaProbe,
    *,
    width: int,
    height: int,
    source_frames: int | None = None,
    output_frames: int | None = None,
    dolby_vision: bool = False,
    progressive: bool = False,
    duration: float | None = None,
) -> ValidationReport:
    """`dolby_vision`: the output must be Dolby Vision (the source's RPUs were to be carried over); `duration`:
    how long the output should be when not the source's (a damaged source encoded as far as its data goes)."""
    out = await probe(built, ffmpeg)
    problems: list[str] = []
    if (out.video_codec or "").upper() != "AV1":
        problems.append(f"video is {out.video_codec}, not AV1")
    if out.bit_depth != 10:
        problems.append(f"video is {out.bit_depth}-bit, not 10-bit")
    if (out.width, out.height) != (width, height):
        problems.append(f"frame is {out.width}x{out.height}, expected {width}x{height}")
    if duration is not None:
        if out.duration < duration - 0.5:
            problems.append(f"duration {out.duration:.3f} s is short of the source's data ({duration:.3f} s)")
    elif abs(out.duration - source.duration) > 0.2:
        problems.append(
            f"duration {out.duration:.3f} s differs from the source's {source.duration:.3f} s by > 0.2 s"
        )
    if source_frames is not None and output_frames is not None and source_frames != output_frames:
        problems.append(f"{output_frames} video frames, the source has {source_frames}")
    if len(out.audio) != len(source.audio):
        problems.append(f"{len(out.audio)} audio tracks, the source has {len(source.audio)}")
    else:
        for a, b in zip(out.audio, source.audio, strict=False):
            target, widened = opus_layout(b)
            if widened is None and a.channels != b.channels:
                problems.append(f"audio track {a.index} has {a.channels} channels, the source {b.channels}")
            if widened is not None and (a.channels, a.ffmpeg_layout) != (len(FFMPEG_LAYOUTS[target]), target):
                problems.append(
                    f"audio track {a.index} is {a.ffmpeg_layout or f'{a.channels} channels'}, expected {target}"
                    f" (the source's {b.ffmpeg_layout} carried in it)"
                )
            for what, have, want in (
                ("language", a.language, b.language),
                ("title", a.title, b.title),
                ("layout", _layout(a.layout), None if widened else _layout(b.layout)),
            ):
                if want and have != want:
                    problems.append(f"audio track {a.index} {what} is {have or 'unset'}, the source's {want}")
            if a.mkv_flags() != b.mkv_flags():
                problems.append(
                    f"audio track {a.index} flags {_flags(a.mkv_flags())}, expected {_flags(b.mkv_flags())}"
                )

    # Every stream starts where it did in the source, relative to the others, within one frame.
    frame = 1.0 / max(source.fps or 24.0, 1.0)
    src_offsets, out_offsets = source.offsets(), out.offsets()
    for name, wanted in src_offsets.items():
        got = out_offsets.get(name)
        if got is not None and abs(got - wanted) > frame + 0.001:
            problems.append(
                f"{name} starts {got * 1000:.0f} ms after the first stream, in the source {wanted * 1000:.0f} ms"
                f" (limit one frame, {frame * 1000:.0f} ms)"
            )
    if out.subtitles != source.subtitles:
        problems.append(f"{out.subtitles} subtitle tracks, the source has {source.subtitles}")
    else:
        for s, t in zip(out.subtitle_tracks, source.subtitle_tracks, strict=True):
            if s.mkv_flags() != t.mkv_flags():
                problems.append(
                    f"subtitle track {s.index} flags {_flags(s.mkv_flags())}, expected {_flags(t.mkv_flags())}"
                )
    # A cover picture of the source (a video stream there) is an attachment here; FFmpeg shows an image
    # attachment of an MKV as a picture stream again, so both sides count attachments and covers together.
    kept, wanted = len(out.attachments) + len(out.covers), len(source.attachments) + len(source.covers)
    if kept != wanted:
        problems.append(f"{kept} attachments and covers, the source has {wanted}")
    if out.video_stream != 0:
        problems.append("the film is not the output's first video stream")
    problems += _colour_problems(out, source)
    if progressive and out.field_order is not None:
        problems.append(f"the output is tagged interlaced ({out.field_order}) although it was deinterlaced")
    elif not progressive and source.field_order is not None and out.field_order != source.field_order:
        problems.append(f"field order {out.field_order or 'progressive'}, the source's {source.field_order}")
    if dolby_vision and not out.dolby_vision:
        problems.append(
            f"Dolby Vision was lost (the source is profile {source.dv_profile}; the output has none)"
        )
    if out.chapters != source.chapters:
        problems.append(f"{out.chapters} chapters, the source has {source.chapters}")
    return ValidationReport(output=out, problems=problems)


#: Surround speakers: libopus takes 5.1 with back speakers only, so a 5.1(side) source comes out as back.
_SURROUND = {"Ls": "Lsur", "Lss": "Lsur", "Lb": "Lsur", "Rs": "Rsur", "Rss": "Rsur", "Rb": "Rsur"}


def _layout(layout: str | None) -> str | None:
    """MediaInfo's channel layout ('L R C LFE Ls Rs'), side and back surrounds taken as one."""
    if not layout:
        return None
    return " ".join(sorted(_SURROUND.get(c, c) for c in layout.split()))


def hdr_label(media: MediaProbe) -> str:
    """What a player will show: 'Dolby Vision 10.1', 'HDR10', 'HLG' or 'SDR'."""
    if media.dolby_vision:
        return f"Dolby Vision {media.dv_profile}.{media.dv_compatibility_id or 0}"
    if media.hdr_format == "PQ":
        return "HDR10"
    return media.hdr_format or "SDR"


def _colour_problems(out: MediaProbe, source: MediaProbe) -> list[str]:
    """Colour signalling the source has and the output must keep: a player renders the film by it."""
    problems = [
        f"{label} is {got or 'unset'}, the source's {wanted}"
        for label, wanted, got in (
            ("colour primaries", source.color_primaries, out.color_primaries),
            ("transfer", source.color_transfer, out.color_transfer),
            ("matrix", source.color_matrix, out.color_matrix),
            ("colour range", source.color_range, out.color_range),
        )
        if wanted and got != wanted
    ]
    src_md, out_md = source.mastering_display, out.mastering_display
    if src_md is not None and src_md.max_luminance:
        if out_md is None or not out_md.max_luminance:
            problems.append("the mastering display metadata was lost")
        elif _md_values(out_md) != _md_values(src_md):
            problems.append(f"mastering display {_md_values(out_md)}, the source's {_md_values(src_md)}")
    if source.max_cll is not None and (out.max_cll, out.max_fall) != (source.max_cll, source.max_fall):
        problems.append(
            f"content light level {out.max_cll}/{out.max_fall}, the source's {source.max_cll}/{source.max_fall}"
        )
    return problems


def _md_values(md: MasteringDisplay) -> tuple[object, ...]:
    """Mastering display values at the precision the bitstreams carry (chromaticity 1/50000, luminance 1e-4)."""
    points = (md.red, md.green, md.blue, md.white_point)
    return (
        tuple(tuple(round(c, 3) for c in p) if p else None for p in points),
        round(md.max_luminance or 0, 0),
        round(md.min_luminance or 0, 3),
    )


def _flags(dispositions: list[str]) -> str:
    return "+".join(sorted(dispositions)) or "none"
