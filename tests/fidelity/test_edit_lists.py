"""An MP4 whose edit list hides pre-roll frames is encoded as it presents itself (issue 11, item 3).

The fixture is what `ffmpeg -ss 1.5 -i film.mp4 -c copy -t 3 cut.mp4` makes: the video starts at the keyframe
before 1.5 s and an edit list hides the 36 frames before the cut. Before, those hidden frames were encoded too
and the job failed on the duration. Judged by FFmpeg's decoder (which obeys the edit list: frame count, and each
output frame against the source frame shown at the same index by PSNR) and MediaInfo (duration)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.judge import decoded_frames, mediainfo_tracks, video_packets
from tests.reliability.harness import encode


def _cut(ffmpeg: str, tmp: Path) -> Path:
    full, cut = tmp / "full.mp4", tmp / "cut.mp4"
    subprocess.run(
        [
            *(ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=24:d=6"),
            *("-f", "lavfi", "-i", "sine=d=6", "-c:v", "libx264", "-preset", "ultrafast"),
            *("-g", "48", "-keyint_min", "48", "-sc_threshold", "0", "-c:a", "aac", str(full)),
        ],
        check=True,
    )
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-ss", "1.5", "-i", str(full), "-c", "copy", "-t", "3", str(cut)],
        check=True,
    )
    return cut


def per_frame_psnr(ffmpeg: str, output: Path, source: Path) -> list[float]:
    pick = "settb=1/24,setpts=N,format=yuv420p"
    proc = subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-i",
            str(output),
            "-i",
            str(source),
            "-lavfi",
            f"[0:v]{pick}[a];[1:v]{pick}[b];[a][b]psnr=stats_file=-",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [float(v) for v in re.findall(r"psnr_avg:([\d.]+|inf)", proc.stdout)]


def test_hidden_preroll_is_not_encoded(ffmpeg: str, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    src = _cut(ffmpeg, tmp_path / "src")
    assert len(video_packets(ffmpeg, src)) > decoded_frames(ffmpeg, src) == 72
    run = encode(tmp_path, src, extra=('processing.segmentation="fixed"', "processing.chunk_size=1"))
    assert run.code == 0, run.stderr + str(run.fatal())
    out = Path(run.completed()[0].data.output)
    assert decoded_frames(ffmpeg, out) == 72
    assert abs(mediainfo_tracks(out).video_seconds - 3.0) < 0.1
    psnr = per_frame_psnr(ffmpeg, out, src)
    assert len(psnr) == 72 and min(psnr) > 25, (
        f"frames do not line up with the source: min PSNR {min(psnr):.1f}"
    )
