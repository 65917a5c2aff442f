"""Track flags and attachments survive (issue 11, items 5 and 8), judged by mkvmerge -J against the source."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.harness import encode

FLAGS = (
    "default_track",
    "forced_track",
    "flag_commentary",
    "flag_hearing_impaired",
    "flag_visual_impaired",
    "flag_original",
    "flag_text_descriptions",
)


def mkvmerge_json(path: Path) -> dict[str, Any]:
    mkvmerge = shutil.which("mkvmerge")
    if mkvmerge is None:
        pytest.skip("mkvmerge (Debian's mkvtoolnix) is the judge here and is not installed")
    return json.loads(
        subprocess.run([mkvmerge, "-J", str(path)], capture_output=True, text=True, check=True).stdout
    )


def flags(info: dict[str, Any]) -> list[tuple[str, dict[str, bool]]]:
    return [(t["type"], {k: bool(t["properties"].get(k, False)) for k in FLAGS}) for t in info["tracks"]]


def attachments(info: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(a["file_name"], a["content_type"], a["size"]) for a in info["attachments"]]


@pytest.fixture
def rich_mkv(ffmpeg: str, tmp_path: Path) -> Path:
    """A film as collectors keep them: main and commentary audio, a forced and an SDH subtitle, a font."""
    srt = tmp_path / "s.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,500\nhello\n", encoding="utf-8")
    font = tmp_path / "Font.ttf"
    font.write_bytes(bytes(range(256)) * 64)  # the bytes of a font file as far as the container is concerned
    out = tmp_path / "in" / "rich.mkv"
    out.parent.mkdir()
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
            "-f",
            "lavfi",
            "-i",
            "sine=d=2:f=880",
            "-i",
            str(srt),
            "-i",
            str(srt),
            "-map",
            "0",
            "-map",
            "1",
            "-map",
            "2",
            "-map",
            "3",
            "-map",
            "4",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "24",
            "-c:a",
            "aac",
            "-c:s",
            "srt",
            "-disposition:v:0",
            "default",
            "-disposition:a:0",
            "default",
            "-disposition:a:1",
            "comment",
            "-metadata:s:a:1",
            "title=Commentary",
            "-disposition:s:0",
            "forced",
            "-disposition:s:1",
            "hearing_impaired",
            "-metadata:s:s:1",
            "title=SDH",
            "-attach",
            str(font),
            "-metadata:s:t:0",
            "mimetype=application/x-truetype-font",
            "-metadata:s:t:0",
            "filename=Font.ttf",
            str(out),
        ],
        check=True,
    )
    return out


def test_every_flag_and_attachment_is_kept(rich_mkv: Path, tmp_path: Path) -> None:
    source = mkvmerge_json(rich_mkv)
    run = encode(tmp_path, rich_mkv, out=tmp_path / "out")
    assert run.code == 0, run.stderr + str([e.data for e in run.fatal()])
    output = mkvmerge_json(tmp_path / "out" / "rich.mkv")
    assert flags(output) == flags(source)
    assert [t["properties"].get("track_name") for t in output["tracks"]] == [
        t["properties"].get("track_name") for t in source["tracks"]
    ]
    assert attachments(output) == attachments(source) and attachments(source)


async def test_validation_names_a_lost_flag_and_a_lost_attachment(
    rich_mkv: Path, ffmpeg: str, tmp_path: Path
) -> None:
    from drapto_tui.media.probe import probe
    from drapto_tui.media.validate import validate_output

    stripped = tmp_path / "stripped.mkv"
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-i",
            str(rich_mkv),
            "-map",
            "0:v",
            "-map",
            "0:a",
            "-map",
            "0:s",
            "-c",
            "copy",
            "-disposition:a:1",
            "0",
            str(stripped),
        ],
        check=True,
    )
    source = await probe(rich_mkv, ffmpeg)
    assert [a.mkv_flags() for a in source.audio] == [["default"], ["comment"]]
    assert [s.mkv_flags() for s in source.subtitle_tracks] == [["forced"], ["hearing_impaired"]]
    report = await validate_output(ffmpeg, stripped, source, width=160, height=96)
    assert "audio track 1 flags none, expected comment" in report.problems
    assert "0 attachments and covers, the source has 1" in report.problems
