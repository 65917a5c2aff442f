"""Lip sync survives a track that starts late (issue 11, item 2): every stream starts where it did in the source,
relative to the others, within one frame. Judged by MediaInfo's delays and FFmpeg's first packet times."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from pymediainfo import MediaInfo

from tests.reliability.harness import encode

FRAME = 1 / 24


def first_packet_seconds(ffmpeg: str, path: Path, spec: str) -> float:
    """The first packet's timestamp of one stream, from FFmpeg's framecrc (timebase from its header)."""
    out = subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-copyts",
            "-i",
            str(path),
            "-map",
            spec,
            "-c",
            "copy",
            "-f",
            "framecrc",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    num, den = map(int, re.search(r"^#tb 0: (\d+)/(\d+)", out, re.M).groups())  # type: ignore[union-attr]
    first = next(line for line in out.splitlines() if line and not line.startswith("#"))
    return int(first.split(",")[2]) * num / den


def starts(ffmpeg: str, path: Path) -> dict[str, float]:
    """Each stream's start after the earliest, by MediaInfo and by FFmpeg (they must agree to a frame)."""
    info = MediaInfo.parse(str(path))
    by_mediainfo = {
        t.track_type: float(t.delay or 0) / 1000 for t in info.tracks if t.track_type in ("Video", "Audio")
    }
    by_ffmpeg = {
        "Video": first_packet_seconds(ffmpeg, path, "0:v:0"),
        "Audio": first_packet_seconds(ffmpeg, path, "0:a:0"),
    }
    for kind in by_ffmpeg:
        assert abs(by_mediainfo[kind] - by_ffmpeg[kind]) <= FRAME, (path, by_mediainfo, by_ffmpeg)
    base = min(by_ffmpeg.values())
    return {k: v - base for k, v in by_ffmpeg.items()}


@pytest.mark.parametrize("late", ["audio", "video"])
def test_a_track_that_starts_half_a_second_late_stays_late(late: str, ffmpeg: str, tmp_path: Path) -> None:
    src = tmp_path / "in" / f"{late}-late.mkv"
    src.parent.mkdir()
    video = ["-f", "lavfi", "-i", f"testsrc2=s=160x96:d={3.5 if late == 'video' else 4}:r=24"]
    audio = ["-f", "lavfi", "-i", f"sine=d={3.5 if late == 'audio' else 4}"]
    delayed = ["-itsoffset", "0.5"]
    inputs = [*video, *delayed, *audio] if late == "audio" else [*delayed, *video, *audio]
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            *inputs,
            "-map",
            "0",
            "-map",
            "1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "24",
            "-c:a",
            "aac",
            str(src),
        ],
        check=True,
    )
    before = starts(ffmpeg, src)
    assert abs(before["Video" if late == "video" else "Audio"] - 0.5) <= FRAME  # the fixture is what it says

    run = encode(tmp_path, src, out=tmp_path / "out", extra=("search.max_encoded_percent=1000",))
    assert run.code == 0, run.stderr + str([e.data for e in run.fatal()])
    after = starts(ffmpeg, tmp_path / "out" / src.name)
    for kind in ("Video", "Audio"):
        assert abs(after[kind] - before[kind]) <= FRAME, (before, after)


async def test_validation_names_a_stream_that_moved(ffmpeg: str, tmp_path: Path) -> None:
    from drapto_tui.media.probe import probe
    from drapto_tui.media.validate import validate_output

    src = tmp_path / "late.mkv"
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=160x96:d=4:r=24",
            "-itsoffset",
            "0.5",
            "-f",
            "lavfi",
            "-i",
            "sine=d=3.5",
            "-map",
            "0",
            "-map",
            "1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            str(src),
        ],
        check=True,
    )
    synced_away = tmp_path / "moved.mkv"  # what the mux used to write: every input restarted at 0
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
            "-c",
            "copy",
            "-f",
            "matroska",
            str(tmp_path / "v.mkv"),
        ],
        check=True,
    )
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-i", str(src), "-map", "0:a", "-c", "copy", str(tmp_path / "a.mka")],
        check=True,
    )
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-i",
            str(tmp_path / "v.mkv"),
            "-i",
            str(tmp_path / "a.mka"),
            "-map",
            "0",
            "-map",
            "1",
            "-c",
            "copy",
            str(synced_away),
        ],
        check=True,
    )
    report = await validate_output(ffmpeg, synced_away, await probe(src, ffmpeg), width=160, height=96)
    assert any(
        p.startswith("audio 0 starts 0 ms after the first stream, in the source 50") for p in report.problems
    ), report.problems
