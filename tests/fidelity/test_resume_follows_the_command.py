"""A job resumed by a later command writes where that command says (issue 11, item 11)."""

from __future__ import annotations

from pathlib import Path

from tests.judge import decoded_frames, mediainfo_tracks
from tests.media_helpers import MediaFactory
from tests.reliability.harness import encode


def test_a_failed_job_rerun_with_another_output_dir_writes_there(
    media: MediaFactory, ffmpeg: str, tmp_path: Path
) -> None:
    clip = media.clip(width=160, height=96, duration=2, fps=24, source="testsrc2", audio="stereo", gop=24)
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    # The first run fails for good (the bisect search finds no CRF that reaches VMAF 100) and keeps its work.
    failed = encode(
        tmp_path,
        clip,
        out=first_dir,
        extra=("quality.target=100", "search.max_retries=0", 'search.strategy="bisect"'),
    )
    assert failed.code == 1 and len(failed.fatal()) == 1
    done = encode(tmp_path, clip, out=second_dir)
    assert done.code == 0, done.stderr
    [complete] = done.completed()
    assert complete.data.output == str(second_dir / f"{clip.stem}.mkv")
    assert not first_dir.exists() or not list(first_dir.iterdir())
    out = second_dir / f"{clip.stem}.mkv"
    # Judged by MediaInfo and a full FFmpeg decode, not by our probe.
    assert decoded_frames(ffmpeg, out) == 48 and mediainfo_tracks(out).video_format == "AV1"
