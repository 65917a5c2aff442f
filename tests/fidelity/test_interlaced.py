"""Interlaced films are deinterlaced (bwdif, frame rate kept) and tagged progressive (issue 11, item 7).

Fixtures: 50 fields/s woven into 25 frames/s, once signalled as interlaced (MBAFF, top field first) and once
flagged progressive although its fields are woven (the container is silent). Judged by MediaInfo (scan type),
FFmpeg's idet on the output's pictures (combing) and a full decode (frame count)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from pymediainfo import MediaInfo

from tests.judge import decoded_frames
from tests.reliability.harness import E, encode

WOVEN = "testsrc2=s=320x180:r=50:d=2,tinterlace=mode=interleave_top"


def _make(ffmpeg: str, out: Path, *, signalled: bool) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    flags = ["-flags", "+ildct+ilme", "-x264-params", "tff=1"] if signalled else []
    field = "tff" if signalled else "prog"
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"{WOVEN},setfield={field}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "18",
            *flags,
            str(out),
        ],
        check=True,
    )
    return out


def scan_type(path: Path) -> str:
    video = next(t for t in MediaInfo.parse(str(path)).tracks if t.track_type == "Video")
    return str(video.scan_type or "Progressive")


def combed_frames(ffmpeg: str, path: Path) -> tuple[int, int]:
    """(frames idet finds woven, frames it finds progressive)."""
    proc = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-i", str(path), "-vf", "idet", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    tff, bff, prog = (
        int(v)
        for v in re.findall(
            r"Multi frame detection: TFF:\s*(\d+) BFF:\s*(\d+) Progressive:\s*(\d+)", proc.stderr
        )[-1]
    )
    return tff + bff, prog


@pytest.mark.parametrize("signalled", [True, False], ids=["signalled", "container-silent"])
def test_interlaced_film_comes_out_progressive(ffmpeg: str, tmp_path: Path, signalled: bool) -> None:
    src = _make(ffmpeg, tmp_path / "src" / "woven.mkv", signalled=signalled)
    assert combed_frames(ffmpeg, src)[0] == 50
    if signalled:
        assert scan_type(src) in ("Interlaced", "MBAFF")
    run = encode(tmp_path, src)
    assert run.code == 0, run.stderr + str(run.fatal())
    done = run.completed()[0].data
    out = Path(done.output)
    assert scan_type(out) == "Progressive"
    woven, progressive = combed_frames(ffmpeg, out)
    assert progressive >= 40 and woven <= 10, (woven, progressive)
    assert decoded_frames(ffmpeg, out) == decoded_frames(ffmpeg, src) == 50  # the frame rate is kept
    assert done.deinterlaced == "bwdif, tff"
    notes = [e.data.note for e in run.events if e.event == E.STAGE_STARTED and e.data.note]
    assert any("deinterlaced with bwdif" in n for n in notes), notes


def test_deinterlace_off_leaves_the_fields(ffmpeg: str, tmp_path: Path) -> None:
    src = _make(ffmpeg, tmp_path / "src" / "woven.mkv", signalled=False)
    run = encode(tmp_path, src, extra=('encoding.deinterlace="off"',))
    assert run.code == 0, run.stderr + str(run.fatal())
    assert run.completed()[0].data.deinterlaced is None
    assert combed_frames(ffmpeg, Path(run.completed()[0].data.output))[0] >= 40
