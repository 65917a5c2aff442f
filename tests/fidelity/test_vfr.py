"""Variable frame rate films keep every frame at its own time (issue 11, item 6).

The film: 2 s at 24 fps, then 2 s at 60 fps (168 frames), with audio, in MKV and in MP4. Before, the 60 fps
part was encoded at the container's nominal 24 fps (frames dropped), VMAF collapsed and the job failed with a
hint to lower the target. Judged by FFmpeg's demuxer (every frame's presentation time, source vs output), a
full decode without frame-rate conversion, and MediaInfo (frame rate mode)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pymediainfo import MediaInfo

from tests.judge import video_packets
from tests.reliability.harness import encode


def _make(ffmpeg: str, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            *(ffmpeg, "-v", "error", "-y"),
            *("-f", "lavfi", "-i", "testsrc2=s=320x180:r=24:d=2"),
            *("-f", "lavfi", "-i", "testsrc2=s=320x180:r=60:d=2"),
            *("-f", "lavfi", "-i", "sine=d=4"),
            *("-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-map", "2:a"),
            *(
                "-fps_mode",
                "passthrough",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "24",
                "-c:a",
                "aac",
            ),
            str(out),
        ],
        check=True,
    )
    return out


def frame_times(ffmpeg: str, path: Path) -> list[float]:
    """Every video frame's presentation time (seconds, from the first), as FFmpeg's demuxer reads it."""
    pts = sorted(p.pts for p in video_packets(ffmpeg, path))
    return [t - pts[0] for t in pts]


@pytest.mark.parametrize("container", ["mkv", "mp4"])
def test_every_frame_keeps_its_time(ffmpeg: str, tmp_path: Path, container: str) -> None:
    src = _make(ffmpeg, tmp_path / "src" / f"vfr.{container}")
    source_times = frame_times(ffmpeg, src)
    assert len(source_times) == 168
    run = encode(tmp_path, src, extra=('processing.segmentation="fixed"', "processing.chunk_size=1"))
    assert run.code == 0, run.stderr + str(run.fatal())
    out = Path(run.completed()[0].data.output)
    times = frame_times(ffmpeg, out)
    assert len(times) == len(source_times)
    worst = max(abs(a - b) for a, b in zip(times, source_times, strict=True))
    assert worst <= 0.0015, f"a frame moved by {worst * 1000:.1f} ms"
    video = next(t for t in MediaInfo.parse(str(out)).tracks if t.track_type == "Video")
    assert video.frame_rate_mode == "VFR"
