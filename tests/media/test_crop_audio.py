from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from drapto_tui.config import load_config
from drapto_tui.media.audio import OPUS_LAYOUTS, encode_audio
from drapto_tui.media.crop import detect_crop
from drapto_tui.media.probe import probe
from tests.media_helpers import MediaFactory


@pytest.fixture(scope="module")
def letterboxed(media: MediaFactory) -> Path:
    """A 640x360 frame holding a 640x272 picture between black bars (2.35:1 in 16:9)."""
    out = media.root / "letterboxed.mkv"
    if not out.exists():
        subprocess.run(
            [
                media.ffmpeg,
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=640x272:rate=24:duration=3",
                "-vf",
                "pad=640:360:0:44:black",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                str(out),
            ],
            check=True,
        )
    return out


async def test_letterbox_is_detected(letterboxed: Path, ffmpeg: str) -> None:
    result = await detect_crop(ffmpeg, str(letterboxed), width=640, height=360, duration=3.0, hdr=False)
    assert result.crop == "640:272:0:44" and (result.width, result.height) == (640, 272)
    assert result.votes > result.samples // 2


async def test_full_frame_is_not_cropped(media: MediaFactory, ffmpeg: str) -> None:
    clip = media.clip(width=320, height=180, duration=2, audio=None)
    result = await detect_crop(ffmpeg, str(clip), width=320, height=180, duration=2.0, hdr=False)
    assert result.crop is None and (result.width, result.height) == (320, 180)


@pytest.mark.parametrize(
    ("layout", "channels", "kbps"), [("mono", 1, 64), ("stereo", 2, 128), ("5.1", 6, 256), ("7.1", 8, 384)]
)
async def test_audio_to_opus_by_channels(
    media: MediaFactory, ffmpeg: str, tmp_path: Path, layout: str, channels: int, kbps: int
) -> None:
    src = media.clip(width=160, height=90, duration=2, audio=layout)
    info = await probe(src, ffmpeg)
    out = await encode_audio(
        ffmpeg, src, tmp_path / "a.mka", info.audio, load_config(env={}, use_default_file=False).audio
    )
    assert out is not None
    result = subprocess.run([ffmpeg, "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert f"(eng): Audio: opus, 48000 Hz, {OPUS_LAYOUTS[channels]}" in result  # language kept
    from pymediainfo import MediaInfo

    track = next(t for t in MediaInfo.parse(str(out)).tracks if t.track_type == "Audio")
    assert int(track.channel_s) == channels
    bitrate = subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-i",
            str(src),
            "-map",
            "0:a",
            "-c:a",
            "libopus",
            "-b:a",
            f"{kbps}k",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
    )
    assert bitrate.returncode == 0  # the configured rate is one libopus takes for this layout
    args = " ".join(
        __import__("drapto_tui.media.audio", fromlist=["audio_args"]).audio_args(
            info.audio, load_config(env={}, use_default_file=False).audio
        )
    )
    assert f"-b:a:0 {kbps}k" in args


async def test_side_layout_is_remapped(media: MediaFactory, ffmpeg: str, tmp_path: Path) -> None:
    src = tmp_path / "side.mkv"
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1",
            "-af",
            "aformat=channel_layouts=5.1(side)",
            "-c:a",
            "flac",
            str(src),
        ],
        check=True,
    )
    # libopus refuses 5.1(side) as it is:
    direct = subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-i", str(src), "-c:a", "libopus", str(tmp_path / "x.mka")],
        capture_output=True,
        text=True,
    )
    from drapto_tui.model.media import AudioTrack

    out = await encode_audio(
        ffmpeg,
        src,
        tmp_path / "a.mka",
        [AudioTrack(index=0, codec="FLAC", channels=6)],
        load_config(env={}, use_default_file=False).audio,
    )
    assert out is not None and out.stat().st_size > 0
    shown = subprocess.run([ffmpeg, "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert "opus" in shown and "5.1" in shown
    assert direct.returncode != 0, "libopus now accepts 5.1(side); the remap could go"


async def test_no_audio_is_fine(media: MediaFactory, ffmpeg: str, tmp_path: Path) -> None:
    src = media.clip(duration=1, audio=None)
    assert (
        await encode_audio(
            ffmpeg, src, tmp_path / "a.mka", [], load_config(env={}, use_default_file=False).audio
        )
        is None
    )
