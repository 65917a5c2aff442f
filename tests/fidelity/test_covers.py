"""A cover picture never replaces the film, and is kept as an MKV attachment (issue 11, item 4).

Judged by mkvmerge -J (tracks, attachments), MediaInfo (the video track) and a full FFmpeg decode (frames)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.fidelity.test_flags_and_attachments import mkvmerge_json
from tests.judge import decoded_frames
from tests.reliability.harness import encode


def _film_and_cover(ffmpeg: str, tmp: Path) -> tuple[Path, Path]:
    film = tmp / "film.mp4"
    cover = tmp / "cover.png"
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=120x160,format=yuv420p",
            "-frames:v",
            "1",
            str(cover),
        ],
        check=True,
    )
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=160x96:d=2:r=24",
            "-f",
            "lavfi",
            "-i",
            "sine=d=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "24",
            "-c:a",
            "aac",
            str(film),
        ],
        check=True,
    )
    return film, cover


@pytest.mark.parametrize("layout", ["cover track first", "covr atom"])
def test_the_film_is_encoded_and_the_cover_attached(layout: str, ffmpeg: str, tmp_path: Path) -> None:
    film, cover = _film_and_cover(ffmpeg, tmp_path)
    src = tmp_path / "in" / "tagged.mp4"
    src.parent.mkdir()
    if (
        layout == "cover track first"
    ):  # a one-frame MJPEG video track ahead of the film, as some taggers write
        mapping = [
            "-i",
            str(cover),
            "-i",
            str(film),
            "-map",
            "0:v",
            "-map",
            "1:v",
            "-map",
            "1:a",
            "-c:v:0",
            "mjpeg",
            "-c:v:1",
            "copy",
            "-c:a",
            "copy",
        ]
    else:  # the usual MP4 cover: an attached picture
        mapping = [
            "-i",
            str(film),
            "-i",
            str(cover),
            "-map",
            "0",
            "-map",
            "1",
            "-c",
            "copy",
            "-c:v:1",
            "mjpeg",
            "-disposition:v:1",
            "attached_pic",
        ]
    subprocess.run([ffmpeg, "-v", "error", "-y", *mapping, str(src)], check=True)

    run = encode(tmp_path, src, out=tmp_path / "out")
    assert run.code == 0, run.stderr + str([e.data for e in run.fatal()])
    out = tmp_path / "out" / "tagged.mkv"
    info = mkvmerge_json(out)
    videos = [t for t in info["tracks"] if t["type"] == "video"]
    assert len(videos) == 1 and videos[0]["codec"] == "AV1"
    assert videos[0]["properties"]["pixel_dimensions"] == "160x96"
    assert [(a["file_name"], a["content_type"]) for a in info["attachments"]] == [("cover.jpg", "image/jpeg")]
    assert decoded_frames(ffmpeg, out) == 48
