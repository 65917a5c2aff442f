"""Validation names what an output lost against its source: audio language, title and layout (issue 11,
"Validation after this issue"); a 5.1(side) track that libopus takes only as 5.1 passes.

The lossy output is made by FFmpeg directly (a remux that drops tags and channels), so the check is judged on
files, not on models we build by hand."""

from __future__ import annotations

import subprocess
from pathlib import Path

from drapto_tui.media.probe import probe
from drapto_tui.media.validate import validate_output
from tests.fidelity.test_flags_and_attachments import mkvmerge_json
from tests.reliability.harness import encode


def _source(ffmpeg: str, out: Path, layout: str = "5.1(side)") -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            *(ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=160x96:r=24:d=2"),
            *(
                "-f",
                "lavfi",
                "-i",
                "sine=d=2",
                "-filter_complex",
                f"[1:a]aformat=channel_layouts={layout}[a]",
            ),
            *("-map", "0:v", "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "flac"),
            *("-metadata:s:a:0", "language=fra", "-metadata:s:a:0", "title=Version française", str(out)),
        ],
        check=True,
    )
    return out


async def test_lost_audio_tags_and_channels_are_named(ffmpeg: str, tmp_path: Path) -> None:
    src = _source(ffmpeg, tmp_path / "src.mkv")
    lossy = tmp_path / "lossy.mkv"
    subprocess.run(
        [
            *(ffmpeg, "-v", "error", "-y", "-i", str(src), "-map", "0", "-c:v", "libsvtav1", "-preset", "12"),
            *("-pix_fmt", "yuv420p10le", "-c:a", "libopus", "-ac", "2", "-metadata:s:a:0", "language=und"),
            *("-metadata:s:a:0", "title=", str(lossy)),
        ],
        check=True,
    )
    source = await probe(src, ffmpeg)
    report = await validate_output(ffmpeg, lossy, source, width=160, height=96)
    text = "; ".join(report.problems)
    assert "audio track 0 has 2 channels, the source 6" in text
    assert "audio track 0 title is unset, the source's Version française" in text
    assert "audio track 0 language is" in text and "the source's fr" in text


def test_side_surround_passes_and_keeps_its_tags(ffmpeg: str, tmp_path: Path) -> None:
    src = _source(ffmpeg, tmp_path / "src" / "side.mkv")
    run = encode(tmp_path, src)
    assert run.code == 0, run.stderr + str(run.fatal())
    [audio] = [
        t for t in mkvmerge_json(Path(run.completed()[0].data.output))["tracks"] if t["type"] == "audio"
    ]
    props = audio["properties"]
    assert (props["audio_channels"], props["language"], props["track_name"]) == (
        6,
        "fre",
        "Version française",
    )
