from __future__ import annotations

from pathlib import Path

import pytest

from drapto_tui.errors import MediaError
from drapto_tui.media.probe import probe
from drapto_tui.model.media import resolution_class
from tests.media_helpers import MediaFactory


@pytest.mark.parametrize(
    ("width", "cls"), [(720, "sd"), (1280, "sd"), (1281, "hd"), (1920, "hd"), (1921, "uhd"), (3840, "uhd")]
)
def test_resolution_class_by_width(width: int, cls: str) -> None:
    assert resolution_class(width) == cls


async def test_big_buck_bunny(media: MediaFactory, ffmpeg: str) -> None:
    info = await probe(media.bbb(), ffmpeg)
    assert (info.width, info.height) == (1280, 720)
    assert info.resolution_class == "sd" and not info.hdr and not info.dolby_vision
    assert info.fps == 25.0 and info.frame_count == 132 and info.duration == pytest.approx(5.3, abs=0.05)
    assert info.bit_depth == 8 and info.video_codec == "AVC"
    assert len(info.audio) == 1 and info.audio[0].channels == 6 and info.audio[0].codec == "AAC"
    assert info.encoding_path == "chunked" and info.subtitles == 0 and info.chapters == 0


@pytest.mark.parametrize(("profile", "suffix"), [(8, ".mp4"), (8, ".mkv"), (5, ".mp4"), (7, ".mkv")])
async def test_dolby_vision_fixture(media: MediaFactory, ffmpeg: str, profile: int, suffix: str) -> None:
    info = await probe(media.dv(suffix, profile=profile, duration=1.0), ffmpeg)
    assert info.dolby_vision and info.dv_profile == profile and info.dv_level == 4
    assert info.encoding_path == "dolby_vision"
    assert info.hdr and info.hdr_format == "PQ"
    assert (info.color_primaries, info.color_transfer, info.color_matrix) == (
        "bt2020",
        "smpte2084",
        "bt2020nc",
    )
    assert info.bit_depth == 10
    md = info.mastering_display
    assert md is not None and md.max_luminance == 1000 and md.min_luminance == pytest.approx(0.005)
    assert md.green == (0.265, 0.69)
    assert (info.max_cll, info.max_fall) == (1000, 400)


async def test_tracks_subtitles_chapters_and_fps(media: MediaFactory, ffmpeg: str) -> None:
    clip = media.clip(
        width=1920, height=800, duration=3, fps=24000 / 1001, audio="5.1", subtitles=True, chapters=3
    )
    info = await probe(clip, ffmpeg)
    assert info.resolution_class == "hd"  # a letterboxed 1920x800 film is HD
    assert info.fps_fraction == "24000/1001"
    assert info.subtitles == 1 and info.subtitle_tracks[0].language == "eng"
    assert info.chapters == 3
    assert info.audio[0].channels == 6 and info.audio[0].language == "eng"
    assert info.frame_count == 72


async def test_frame_count_by_ffmpeg_when_mediainfo_has_none(
    media: MediaFactory, ffmpeg: str, tmp_path: Path
) -> None:
    # A raw H.264 elementary stream carries no frame count for MediaInfo.
    clip = media.clip(".h264", duration=1, fps=24, audio=None)
    info = await probe(clip, ffmpeg)
    assert info.frame_count == 24


async def test_video_without_audio(media: MediaFactory, ffmpeg: str) -> None:
    info = await probe(media.clip(".mp4", audio=None, duration=1), ffmpeg)
    assert info.audio == [] and info.encoding_path == "chunked"


async def test_hdr10_without_dv_takes_the_chunked_path(media: MediaFactory, ffmpeg: str) -> None:
    import subprocess

    src = media.dv(".mp4", profile=8, duration=1.0)
    hdr10 = src.with_name("hdr10-only.mkv")
    if not hdr10.exists():
        # Re-encode the DV fixture's pixels as plain HDR10 HEVC: same PQ signalling, no DOVI record.
        from samples.clips import hdr10_hevc_args

        subprocess.run(
            [
                ffmpeg,
                "-v",
                "error",
                "-y",
                "-i",
                str(src),
                "-map",
                "0:v",
                *hdr10_hevc_args(),
                str(hdr10),
            ],
            check=True,
        )
    info = await probe(hdr10, ffmpeg)
    assert info.hdr and info.hdr_format == "PQ" and not info.dolby_vision and info.encoding_path == "chunked"


def _missing(tmp: Path, media: MediaFactory) -> Path:
    return tmp / "missing.mkv"


def _empty(tmp: Path, media: MediaFactory) -> Path:
    (tmp / "empty.mkv").write_bytes(b"")
    return tmp / "empty.mkv"


def _text_named_mkv(tmp: Path, media: MediaFactory) -> Path:
    (tmp / "notes.mkv").write_text("hello\n" * 20)
    return tmp / "notes.mkv"


def _audio_only(tmp: Path, media: MediaFactory) -> Path:
    import subprocess

    out = tmp / "audio-only.mkv"
    subprocess.run(
        [
            media.ffmpeg,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1",
            "-c:a",
            "libopus",
            str(out),
        ],
        check=True,
    )
    return out


BAD_INPUTS = [
    (_missing, "no such file — check the path"),
    (_empty, "file is empty (0 bytes)"),
    (_text_named_mkv, "not a media file"),
    (_audio_only, "no video stream"),
]


@pytest.mark.parametrize(
    ("make", "message"), BAD_INPUTS, ids=["missing", "zero-byte", "text-as-mkv", "audio-only"]
)
async def test_bad_inputs_raise_one_clear_line(
    tmp_path: Path, media: MediaFactory, ffmpeg: str, make, message
) -> None:
    path = make(tmp_path, media)
    with pytest.raises(MediaError) as info:
        await probe(path, ffmpeg)
    line = info.value.line()
    assert line.startswith(str(path)) and message in line and "\n" not in line
