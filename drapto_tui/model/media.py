"""What a probe found in a film: streams, colour, HDR and Dolby Vision, and the path it takes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, computed_field

ResolutionClass = Literal["sd", "hd", "uhd"]

#: The disposition flags a Matroska track can carry (FlagDefault, FlagForced, FlagHearingImpaired,
#: FlagVisualImpaired, FlagTextDescriptions, FlagOriginal, FlagCommentary), as FFmpeg names them.
MKV_DISPOSITIONS = (
    "default",
    "forced",
    "hearing_impaired",
    "visual_impaired",
    "descriptions",
    "original",
    "comment",
)


def mkv_flags(dispositions: list[str], *, default: bool = False, forced: bool = False) -> list[str]:
    """The flags an MKV copy of a track keeps: those of its source that Matroska can hold."""
    wanted = {*dispositions, *(["default"] if default else []), *(["forced"] if forced else [])}
    return [d for d in MKV_DISPOSITIONS if d in wanted]


EncodingPath = Literal["dolby_vision", "chunked"]


class AudioTrack(BaseModel):
    index: int  # order among audio streams (a:N)
    codec: str
    channels: int
    start: float | None = None  # seconds (MediaInfo's delay), for A/V sync checks
    layout: str | None = None  # MediaInfo's speaker list, e.g. "L R LFE"
    #: FFmpeg's layout name ("2.1", "5.1(side)", "6.1"): which speakers the channels are for.
    ffmpeg_layout: str | None = None
    language: str | None = None
    title: str | None = None
    default: bool = False
    #: FFmpeg disposition flags as `-disposition` names (default, forced, comment, hearing_impaired, ...).
    dispositions: list[str] = Field(default_factory=list)

    def mkv_flags(self) -> list[str]:
        return mkv_flags(self.dispositions, default=self.default)


class SubtitleTrack(BaseModel):
    index: int
    codec: str
    language: str | None = None
    title: str | None = None
    forced: bool = False
    default: bool = False
    dispositions: list[str] = Field(default_factory=list)

    def mkv_flags(self) -> list[str]:
        return mkv_flags(self.dispositions, default=self.default, forced=self.forced)


class Attachment(BaseModel):
    """A file stored in the container (a font an ASS subtitle needs, a cover image)."""

    index: int
    codec: str | None = None
    filename: str | None = None
    mimetype: str | None = None


class Cover(BaseModel):
    """A picture stored as a video stream (an MP4 'covr', an MKV image attachment, a one-frame image track)."""

    stream: int  # among the video streams (-map 0:v:N)
    codec: str  # mjpeg, png, ...


class MasteringDisplay(BaseModel):
    primaries: str | None = None  # MediaInfo's name ("Display P3", "BT.2020") when it has one
    red: tuple[float, float] | None = None
    green: tuple[float, float] | None = None
    blue: tuple[float, float] | None = None
    white_point: tuple[float, float] | None = None
    min_luminance: float | None = None
    max_luminance: float | None = None


def resolution_class(width: int) -> ResolutionClass:
    """By width, so that a letterboxed 1920x800 film is HD and a 3840x1600 one UHD."""
    if width <= 1280:
        return "sd"
    if width <= 1920:
        return "hd"
    return "uhd"


class MediaProbe(BaseModel):
    path: str
    size: int
    container: str | None = None
    duration: float
    #: The picture's own length as the header declares it (MediaInfo's video track); None when not declared.
    video_duration: float | None = None
    fps: float
    fps_fraction: str | None = None
    frame_count: int | None = None
    width: int
    height: int
    video_codec: str | None = None
    pix_fmt: str | None = None
    bit_depth: int | None = None
    color_primaries: str | None = None
    color_transfer: str | None = None
    color_matrix: str | None = None
    color_range: str | None = None
    field_order: Literal["tff", "bff"] | None = None  # interlaced, as signalled; None: progressive or silent
    hdr: bool = False
    hdr_format: Literal["PQ", "HLG"] | None = None
    dolby_vision: bool = False
    dv_profile: int | None = None
    dv_level: int | None = None
    dv_compatibility_id: int | None = None
    #: HDR10+ (SMPTE ST 2094-40) dynamic metadata on the frames, per MediaInfo.
    hdr10_plus: bool = False
    mastering_display: MasteringDisplay | None = None
    max_cll: int | None = None
    max_fall: int | None = None
    audio: list[AudioTrack] = Field(default_factory=list)
    subtitle_tracks: list[SubtitleTrack] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    video_stream: int = 0  # the film among the video streams (-map 0:v:N): never a cover image
    covers: list[Cover] = Field(
        default_factory=list
    )  # video streams that are pictures: carried as attachments
    #: Other moving-picture streams (an angle, a picture-in-picture commentary), among the video streams.
    other_videos: list[int] = Field(default_factory=list)
    chapters: int = 0
    video_start: float | None = None  # seconds (MediaInfo's delay)
    start_time: float = 0.0  # the file's first timestamp (FFmpeg's "start:"); stream offsets count from it
    #: The drapto-tui version that made this file (its DRAPTO_TUI tag); None for any other file.
    made_by: str | None = None

    def offsets(self) -> dict[str, float]:
        """When each stream starts after the earliest one (seconds): what lip sync depends on."""
        starts = {"video": self.video_start}
        starts.update({f"audio {a.index}": a.start for a in self.audio})
        known = {k: v for k, v in starts.items() if v is not None}
        base = min(known.values(), default=0.0)
        return {k: v - base for k, v in known.items()}

    def video_offset(self) -> float:
        """How long after the file's start the video begins (the encoded video always starts at 0)."""
        return self.offsets().get("video", 0.0)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def subtitles(self) -> int:
        return len(self.subtitle_tracks)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def resolution_class(self) -> ResolutionClass:
        return resolution_class(self.width)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def encoding_path(self) -> EncodingPath:
        return "dolby_vision" if self.dolby_vision else "chunked"
