"""Probing a file with MediaInfo and FFmpeg into one `MediaProbe` model, and choosing its encoding path.

MediaInfo gives the rich description (HDR formats, Dolby Vision profile, mastering display, frame count,
languages); FFmpeg's own reading of the file (`ffmpeg -i`) confirms that FFmpeg can decode what we will encode
and adds what MediaInfo may miss (the DOVI configuration record, chapters, side data). We have no ffprobe.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from drapto_tui.errors import MediaError
from drapto_tui.media.audio import FFMPEG_LAYOUTS
from drapto_tui.media.ffmpeg import run_ffmpeg
from drapto_tui.model.media import (
    Attachment,
    AudioTrack,
    Cover,
    MasteringDisplay,
    MediaProbe,
    SubtitleTrack,
)


def not_a_file_error(path: Path, mode: int) -> MediaError | None:
    """The error for a path that is a pipe, device or socket (a symlink's target is named), else None: such a
    path is never a film, and opening a pipe to read it would block."""
    for test, words in (
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            where = f" ({os.path.realpath(path)})" if os.path.islink(path) else ""
            return MediaError(
                f"is {words}{where}, not a film file",
                subject=str(path),
                hint="give the film's file; a pipe or device cannot be read twice or sought in",
            )
    return None


# -- FFmpeg's reading --------------------------------------------------------------------------------------

_INPUT_RE = re.compile(r"^Input #0, (.+?), from ")
_DURATION_RE = re.compile(r"^\s*Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_START_RE = re.compile(r", start: (-?\d+(?:\.\d+)?)")
_STREAM_RE = re.compile(
    r"^\s*Stream #0:(\d+)(?:\[[^\]]*\])?(?:\((\w+)\))?: (Video|Audio|Subtitle|Data|Attachment): (.*)$"
)
_DOVI_RE = re.compile(r"DOVI configuration record: .*?profile: (\d+), level: (\d+).*?compatibility id: (\d+)")
_CLL_RE = re.compile(r"MaxCLL=(\d+), MaxFALL=(\d+)")
_MASTERING_RE = re.compile(
    r"Mastering Display Metadata.*?r\(([\d.]+)[ ,]+([\d.]+)\) g\(([\d.]+)[ ,]+([\d.]+)\) b\(([\d.]+)[ ,]+([\d.]+)\) "
    r"wp\(([\d.]+)[ ,]+([\d.]+)\) min_luminance=([\d.]+), max_luminance=([\d.]+)"
)
_PIXFMT_RE = re.compile(r"^\w+ \([^)]*\)(?: \([^)]*\))?, (\w+)(?:\(([^)]*)\))?")


class FfmpegReading(BaseModel):
    container: str | None = None
    duration: float | None = None
    start: float = (
        0.0  # the file's first timestamp (FFmpeg's "start:"), what FFmpeg subtracts when it remuxes
    )
    video: list[str] = Field(default_factory=list)  # the streams that are not attached pictures
    #: Every video stream in order (what `-map 0:v:N` counts): its description and whether it is an attached
    #: picture (a cover in an MP4 'covr' atom or an image attachment in MKV).
    video_streams: list[tuple[str, bool]] = Field(default_factory=list)
    audio: list[tuple[str | None, str]] = Field(default_factory=list)
    subtitles: list[tuple[str | None, str]] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    chapters: int = 0
    dovi: tuple[int, int, int] | None = None
    max_cll: tuple[int, int] | None = None
    mastering: tuple[float, ...] | None = None
    error: str | None = None


_DISPOSITION_RE = re.compile(
    r"\((default|dub|original|comment|lyrics|karaoke|forced|hearing impaired|visual impaired|clean effects"
    r"|captions|descriptions|dependent|metadata|non diegetic|still image)\)"
)
_ATTACHMENT_META_RE = re.compile(r"^\s+(filename|mimetype)\s*:\s*(.*?)\s*$")


def dispositions(stream_text: str) -> list[str]:
    """FFmpeg's "(default) (comment)" after a stream, as -disposition flag names."""
    return [d.replace(" ", "_") for d in _DISPOSITION_RE.findall(stream_text)]


def parse_ffmpeg_input(text: str) -> FfmpegReading:
    r = FfmpegReading()
    for line in text.splitlines():
        if r.attachments and (m := _ATTACHMENT_META_RE.match(line)):
            setattr(r.attachments[-1], m.group(1), m.group(2))
            continue
        if m := _INPUT_RE.match(line):
            r.container = m.group(1)
        elif m := _DURATION_RE.match(line):
            h, mnt, s = m.groups()
            r.duration = int(h) * 3600 + int(mnt) * 60 + float(s)
            if start := _START_RE.search(line):
                r.start = float(start.group(1))
        elif m := _STREAM_RE.match(line):
            _, lang, kind, rest = m.groups()
            if kind == "Video":
                attached = "(attached pic)" in rest
                r.video_streams.append((rest, attached))
                if not attached:
                    r.video.append(rest)
            elif kind == "Audio":
                r.audio.append((lang, rest))
            elif kind == "Subtitle":
                r.subtitles.append((lang, rest))
            elif kind == "Attachment":
                r.attachments.append(
                    Attachment(index=len(r.attachments), codec=rest.split(" ", 1)[0] or None)
                )
        elif line.strip().startswith("Chapter #"):
            r.chapters += 1
        elif m := _DOVI_RE.search(line):
            r.dovi = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        elif m := _CLL_RE.search(line):
            r.max_cll = (int(m.group(1)), int(m.group(2)))
        elif m := _MASTERING_RE.search(line):
            r.mastering = tuple(float(g) for g in m.groups())
        elif "Error opening input" in line or "Invalid data found" in line:
            r.error = r.error or line.split(": ", 1)[-1].strip()
    return r


def _main_video(videos: list[dict[str, Any]], reading: FfmpegReading) -> int:
    """Which of the playable video streams is the film: the one with the most frames (then the longest), so a
    cover image stored as a one-frame video track ahead of the film is never encoded in its place."""
    if len(videos) <= 1:
        return 0

    def weight(i: int) -> tuple[int, float]:
        track = videos[i]
        return (_int(track.get("frame_count")) or 0, float(track.get("duration") or 0))

    return max(range(min(len(videos), len(reading.video))), key=weight)  # probe() made sure both have one


def _is_still(rest: str, videos: list[dict[str, Any]], playable: list[int], n: int) -> bool:
    """A playable video stream that is really a picture: an image codec with at most one frame."""
    if n not in playable:
        return False
    position = playable.index(n)
    frames = _int(videos[position].get("frame_count")) if position < len(videos) else None
    return rest.split(" ", 1)[0].rstrip(",") in _IMAGE_CODECS and (frames or 0) <= 1


_IMAGE_CODECS = {"mjpeg", "png", "bmp", "gif", "webp", "tiff"}


async def read_with_ffmpeg(ffmpeg: str, path: Path) -> FfmpegReading:
    result = await run_ffmpeg([ffmpeg, "-i", str(path)], check=False, keep_stderr=True)
    return parse_ffmpeg_input(result.stderr or "")


async def count_frames(ffmpeg: str, path: Path, stream: int = 0) -> int | None:
    """Exact video frame count by stream copy to null (reads the file, decodes nothing)."""
    result = await run_ffmpeg(
        [ffmpeg, "-i", str(path), "-map", f"0:v:{stream}", "-c", "copy", "-f", "null", "-"],
        check=False,
        on_progress=lambda p: None,
    )
    return result.progress.frame if result.returncode == 0 else None


# -- MediaInfo's reading -----------------------------------------------------------------------------------


def _mediainfo_tracks(path: Path) -> list[dict[str, Any]]:
    from pymediainfo import MediaInfo

    return [track.to_data() for track in MediaInfo.parse(str(path)).tracks]


def _first(value: Any) -> str | None:
    """MediaInfo joins per-format values with ' / ' (e.g. 'dvhe.08 / '); the first part is ours."""
    if value in (None, ""):
        return None
    text = str(value).split(" / ")[0].strip()
    return text or None


def _int(value: Any) -> int | None:
    try:
        return int(float(str(value).split(" ")[0]))
    except (TypeError, ValueError):
        return None


_LUM_RE = re.compile(r"min: ([\d.]+) cd/m2, max: ([\d.]+) cd/m2")
_NAMED_PRIMARIES = {
    # (R, G, B, white) chromaticities of the mastering displays MediaInfo names.
    "Display P3": ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060), (0.3127, 0.3290)),
    "BT.2020": ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046), (0.3127, 0.3290)),
    "BT.709": ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060), (0.3127, 0.3290)),
}
_TRANSFER = {
    "PQ": "smpte2084",
    "HLG": "arib-std-b67",
    "BT.709": "bt709",
    "BT.601": "smpte170m",
    "BT.2020 (10-bit)": "bt2020-10",
}
_PRIMARIES = {
    "BT.2020": "bt2020",
    "BT.709": "bt709",
    "BT.601 NTSC": "smpte170m",
    "BT.601 PAL": "bt470bg",
    "Display P3": "smpte432",
}
_MATRIX = {
    "BT.2020 non-constant": "bt2020nc",
    "BT.2020 constant": "bt2020c",
    "BT.709": "bt709",
    "BT.601": "smpte170m",
    "ICtCp": "ictcp",
}


#: FFmpeg's field order words → which field is displayed first (what a deinterlacer needs).
_FIELD_ORDERS = {
    "top first": "tff",
    "bottom first": "bff",
    "top coded first (swapped": "bff",  # top coded first, bottom displayed first
    "bottom coded first (swapped": "tff",
}


def _field_order(video: dict[str, Any], color: dict[str, str]) -> Literal["tff", "bff"] | None:
    """MediaInfo's scan type and order (the bitstream's picture structure), else FFmpeg's field order."""
    scan = str(video.get("scan_type") or "").lower()
    order = str(video.get("scan_order") or "").upper()
    if scan in ("interlaced", "mbaff", "paff") or order in ("TFF", "BFF"):
        if order.startswith("BFF") or order == "BT":
            return "bff"
        if order.startswith("TFF") or order == "TB":
            return "tff"
    if scan == "progressive":
        return None
    found = color.get("field_order")
    return "tff" if found == "tff" else "bff" if found == "bff" else None


def _parse_color_triplet(rest: str) -> dict[str, str]:
    """FFmpeg's 'yuv420p10le(tv, bt2020nc/bt2020/smpte2084, progressive)' → pix_fmt, range, matrix, primaries, trc."""
    out: dict[str, str] = {}
    m = _PIXFMT_RE.match(rest)
    if not m:
        return out
    out["pix_fmt"] = m.group(1)
    for part in (m.group(2) or "").split(", "):
        if part in ("tv", "pc"):
            out["range"] = "limited" if part == "tv" else "full"
        elif "/" in part:
            bits = part.split("/")
            if len(bits) == 3:
                out["matrix"], out["primaries"], out["transfer"] = bits
        elif part.rstrip(")") in _FIELD_ORDERS:  # the pattern stops at the first ')': "(swapped" is cut
            out["field_order"] = _FIELD_ORDERS[part.rstrip(")")]
        elif part and part != "progressive":
            out.setdefault("matrix", part)
            out.setdefault("primaries", part)
            out.setdefault("transfer", part)
    return out


def _fps(video: dict[str, Any]) -> tuple[float, str | None]:
    num, den = _int(video.get("framerate_num")), _int(video.get("framerate_den"))
    if num and den:
        return num / den, str(Fraction(num, den))
    rate = video.get("frame_rate") or video.get("original_frame_rate")
    try:
        value = float(rate)  # type: ignore[arg-type]  # None and odd strings are caught below
    except (TypeError, ValueError):
        return 0.0, None
    return value, str(Fraction(value).limit_denominator(1001))


def _mastering(video: dict[str, Any], reading: FfmpegReading) -> MasteringDisplay | None:
    if reading.mastering:
        v = reading.mastering
        return MasteringDisplay(
            red=(v[0], v[1]),
            green=(v[2], v[3]),
            blue=(v[4], v[5]),
            white_point=(v[6], v[7]),
            min_luminance=v[8],
            max_luminance=v[9],
            primaries=_first(video.get("mastering_display_color_primaries")),
        )
    name = _first(video.get("mastering_display_color_primaries"))
    lum = _LUM_RE.search(str(video.get("mastering_display_luminance") or ""))
    if not name and not lum:
        return None
    md = MasteringDisplay(primaries=name)
    if name in _NAMED_PRIMARIES:
        md.red, md.green, md.blue, md.white_point = _NAMED_PRIMARIES[name]
    if lum:
        md.min_luminance, md.max_luminance = float(lum.group(1)), float(lum.group(2))
    return md


def _depth_from_pix_fmt(pix_fmt: str | None) -> int | None:
    """MediaInfo gives no bit depth for AV1 in Matroska; FFmpeg's pixel format does (yuv420p10le → 10)."""
    if not pix_fmt:
        return None
    m = re.search(r"p(\d\d)(?:le|be)?$", pix_fmt)
    return int(m.group(1)) if m else 8


def _seconds(ms: Any) -> float | None:
    try:
        return float(ms) / 1000.0
    except (TypeError, ValueError):
        return None


def _yes(value: Any) -> bool:
    return str(value).lower() in ("yes", "true", "1")


async def probe(path: Path, ffmpeg: str) -> MediaProbe:
    """Everything the pipeline needs to know about one input; MediaError with one clear line otherwise."""
    path = Path(path)
    label = str(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise MediaError("no such file", subject=label, hint="check the path") from None
    except PermissionError:
        raise MediaError("permission denied", subject=label, hint="make it readable (chmod u+r)") from None
    if path.is_dir():
        raise MediaError(
            "is a directory", subject=label, hint="give a file, or queue the folder to search it"
        )
    not_a_file = not_a_file_error(path, st.st_mode)
    if not_a_file is not None:
        raise not_a_file
    if st.st_size == 0:
        raise MediaError(
            "file is empty (0 bytes)", subject=label, hint="the copy may be incomplete; copy it again"
        )
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except PermissionError:
        raise MediaError("permission denied", subject=label, hint="make it readable (chmod u+r)") from None
    except OSError as exc:
        raise MediaError(
            f"cannot read ({exc.strerror})", subject=label, hint="check the disk and the file"
        ) from None

    tracks, reading = await asyncio.gather(
        asyncio.to_thread(_mediainfo_tracks, path), read_with_ffmpeg(ffmpeg, path)
    )
    general: dict[str, Any] = next((t for t in tracks if t.get("track_type") == "General"), {})
    videos = [t for t in tracks if t.get("track_type") == "Video"]
    if reading.error and not reading.container:
        raise MediaError(
            f"not a media file FFmpeg can read ({reading.error})",
            subject=label,
            hint="it may be damaged or not a video; remove it from the queue or copy it again",
        )
    if not videos or not reading.video:
        raise MediaError(
            "no video stream",
            subject=label,
            hint="drapto-tui encodes video; remove this file from the queue",
        )
    main = _main_video(videos, reading)
    video = videos[main] if main < len(videos) else videos[0]
    playable = [n for n, (_, attached) in enumerate(reading.video_streams) if not attached]
    video_stream = playable[main] if main < len(playable) else 0
    covers = [
        Cover(stream=n, codec=rest.split(" ", 1)[0].rstrip(","))
        for n, (rest, attached) in enumerate(reading.video_streams)
        if n != video_stream and (attached or _is_still(rest, videos, playable, n))
    ]
    other_videos = [
        n
        for n, (_, attached) in enumerate(reading.video_streams)
        if n != video_stream and not attached and n not in {c.stream for c in covers}
    ]
    width, height = _int(video.get("width")), _int(video.get("height"))
    if not width or not height:
        raise MediaError(
            "video stream has no frame size",
            subject=label,
            hint="the file may be damaged; remux or re-copy it",
        )
    fps, fps_fraction = _fps(video)

    duration = None
    for candidate in (general.get("duration"), video.get("duration")):
        if candidate not in (None, ""):
            duration = float(candidate) / 1000.0
            break
    if duration is None:
        duration = reading.duration
    if not duration:
        raise MediaError(
            "duration unknown",
            subject=label,
            hint="the file may be truncated; remux it (ffmpeg -c copy) first",
        )

    video_duration = float(video["duration"]) / 1000.0 if video.get("duration") not in (None, "") else None
    frame_count = _int(video.get("frame_count"))
    if frame_count is None:
        frame_count = await count_frames(ffmpeg, path, video_stream)

    color = _parse_color_triplet(reading.video[main] if main < len(reading.video) else reading.video[0])
    transfer = _TRANSFER.get(_first(video.get("transfer_characteristics")) or "", color.get("transfer"))
    primaries = _PRIMARIES.get(_first(video.get("color_primaries")) or "", color.get("primaries"))
    matrix = _MATRIX.get(_first(video.get("matrix_coefficients")) or "", color.get("matrix"))

    hdr_format_text = str(video.get("hdr_format") or "")
    dv_profile = dv_level = dv_compat = None
    dv_from_mediainfo = "Dolby Vision" in hdr_format_text
    if reading.dovi:
        dv_profile, dv_level, dv_compat = reading.dovi
    elif dv_from_mediainfo:
        profile_text = _first(video.get("hdr_format_profile")) or ""  # e.g. dvhe.08
        if m := re.search(r"\.(\d+)", profile_text):
            dv_profile = int(m.group(1))
        dv_level = _int(_first(video.get("hdr_format_level")))
    dolby_vision = dv_from_mediainfo or reading.dovi is not None

    hdr_format: Literal["PQ", "HLG"] | None = None
    if transfer == "smpte2084":
        hdr_format = "PQ"
    elif transfer == "arib-std-b67":
        hdr_format = "HLG"

    max_cll = _int(video.get("maximum_content_light_level"))
    max_fall = _int(video.get("maximum_frameaverage_light_level"))
    if reading.max_cll and max_cll is None:
        max_cll, max_fall = reading.max_cll

    audio_tracks = [t for t in tracks if t.get("track_type") == "Audio"]
    audio: list[AudioTrack] = []
    for i, (lang, rest) in enumerate(reading.audio):
        mi = audio_tracks[i] if i < len(audio_tracks) else {}
        # FFmpeg names the speakers ("2.1", "5.1(side)"): which channel is the LFE depends on it.
        ffmpeg_layout = next((p.strip() for p in rest.split(", ") if p.strip() in FFMPEG_LAYOUTS), None)
        channels = _int(mi.get("channel_s"))
        if channels is None:
            channels = len(FFMPEG_LAYOUTS[ffmpeg_layout]) if ffmpeg_layout else 2
        audio.append(
            AudioTrack(
                index=i,
                codec=str(mi.get("format") or rest.split(" ", 1)[0].rstrip(",")),
                channels=channels,
                layout=mi.get("channel_layout"),
                ffmpeg_layout=ffmpeg_layout,
                language=(lang if lang and lang != "und" else None) or mi.get("language"),
                title=mi.get("title"),
                default=_yes(mi.get("default")) or "default" in dispositions(rest),
                dispositions=dispositions(rest),
                start=_seconds(mi.get("delay")),
            )
        )
    text_tracks = [t for t in tracks if t.get("track_type") == "Text"]
    subtitles = [
        SubtitleTrack(
            index=i,
            codec=str(
                (text_tracks[i] if i < len(text_tracks) else {}).get("format")
                or rest.split(" ", 1)[0].rstrip(",")
            ),
            language=(lang if lang and lang != "und" else None)
            or (text_tracks[i] if i < len(text_tracks) else {}).get("language"),
            title=(text_tracks[i] if i < len(text_tracks) else {}).get("title"),
            forced=_yes((text_tracks[i] if i < len(text_tracks) else {}).get("forced")),
            default=_yes((text_tracks[i] if i < len(text_tracks) else {}).get("default")),
            dispositions=dispositions(rest),
        )
        for i, (lang, rest) in enumerate(reading.subtitles)
    ]
    chapters = reading.chapters
    if not chapters:
        menu = next((t for t in tracks if t.get("track_type") == "Menu"), None)
        if menu:
            chapters = sum(1 for k in menu if re.fullmatch(r"_?\d\d_\d\d_\d\d_?\d{3}", k))

    return MediaProbe(
        path=label,
        size=st.st_size,
        container=str(general.get("format") or reading.container or "") or None,
        duration=duration,
        video_duration=video_duration,
        fps=fps,
        fps_fraction=fps_fraction,
        frame_count=frame_count,
        width=width,
        height=height,
        video_codec=str(video.get("format") or "") or None,
        pix_fmt=color.get("pix_fmt"),
        bit_depth=_int(video.get("bit_depth")) or _depth_from_pix_fmt(color.get("pix_fmt")),
        color_primaries=primaries,
        color_transfer=transfer,
        color_matrix=matrix,
        field_order=_field_order(video, color),
        color_range=color.get("range")
        or (str(video.get("color_range")).lower() if video.get("color_range") else None),
        hdr=hdr_format is not None or dolby_vision,
        hdr_format=hdr_format,
        dolby_vision=dolby_vision,
        dv_profile=dv_profile,
        dv_level=dv_level,
        dv_compatibility_id=dv_compat,
        mastering_display=_mastering(video, reading),
        hdr10_plus="2094 App 4" in hdr_format_text or "HDR10+" in hdr_format_text,
        max_cll=max_cll,
        max_fall=max_fall,
        audio=audio,
        subtitle_tracks=subtitles,
        attachments=reading.attachments,
        video_stream=video_stream,
        covers=covers,
        other_videos=other_videos,
        chapters=chapters,
        video_start=_seconds(video.get("delay")),
        start_time=reading.start,
        made_by=str(general["drapto_tui"]) if general.get("drapto_tui") else None,
    )
