"""A source with a single keyframe is cut where its scenes change, exactly (issue 11, item 9).

The film: three scenes (3 s, 3 s, 2 s; the middle one hard) in one GOP. Before, it was one segment with one
CRF. Judged by a full FFmpeg decode (frames), MediaInfo (duration) and a separate libvmaf run of each scene of
the output against the same frames of the source."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.judge import decoded_frames, keyframe_times, mediainfo_tracks, vmaf_by_index
from tests.reliability.harness import E, encode

FPS = 24
SCENES = (
    "testsrc2=s=320x180:r=24:d=3",
    "mandelbrot=s=320x180:r=24,trim=duration=3,setpts=PTS-STARTPTS,noise=alls=30:allf=t",
    "smptehdbars=s=320x180:r=24:d=2",
)


@pytest.fixture(scope="module")
def one_gop(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gop") / "one-gop.mp4"
    inputs: list[str] = []
    for scene in SCENES:
        inputs += ["-f", "lavfi", "-i", scene]
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            *inputs,
            "-filter_complex",
            "[0:v][1:v][2:v]concat=n=3:v=1,format=yuv420p[v]",
            "-map",
            "[v]",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "18",
            "-g",
            "100000",
            "-keyint_min",
            "100000",
            "-sc_threshold",
            "0",
            str(out),
        ],
        check=True,
    )
    assert len(keyframe_times(ffmpeg, out)) == 1
    return out


def test_scenes_are_cut_exactly_in_a_single_gop(ffmpeg: str, tmp_path: Path, one_gop: Path) -> None:
    run = encode(
        tmp_path,
        one_gop,
        # Every frame scored (the fast suite settings score every 2nd): the hard scene is judged to 0.5 below.
        extra=(
            'processing.segmentation="scene"',
            "processing.min_segment=1",
            "processing.max_segment=15",
            "search.n_subsample=1",
        ),
    )
    assert run.code == 0, run.stderr + str(run.fatal())
    # No long step is silent: crop detection and each segmenting step are announced.
    steps = [e.data.step for e in run.events if e.event == E.STAGE_STARTED and e.data.step]
    assert "crop detection" in steps and "scene detection" in steps, steps
    assert "cutting 3 segments (2 cuts between keyframes, decoded)" in steps, steps
    [started] = [e.data for e in run.events if e.event == E.ENCODING_STARTED]
    starts = [s.start for s in started.segments]
    assert len(starts) == 3 and abs(starts[1] - 3.0) < 1 / FPS and abs(starts[2] - 6.0) < 1 / FPS, starts
    out = Path(run.completed()[0].data.output)
    assert decoded_frames(ffmpeg, out) == decoded_frames(ffmpeg, one_gop) == 8 * FPS
    assert abs(mediainfo_tracks(out).video_seconds - 8.0) < 0.1
    # Each scene got its own CRF, and the hard one meets the target by an independent measure.
    crfs = {e.data.segment: e.data.crf for e in run.events if e.event == E.SEGMENT_COMPLETE}
    assert len(set(crfs.values())) > 1, crfs
    hard = vmaf_by_index(ffmpeg, out, one_gop, first=3 * FPS, last=6 * FPS, pix_fmt="yuv420p")
    assert hard >= 92.5, f"the hard scene measures VMAF {hard:.2f} by libvmaf"


def test_max_segment_splits_a_long_gop(ffmpeg: str, tmp_path: Path, one_gop: Path) -> None:
    run = encode(tmp_path, one_gop, extra=('processing.segmentation="fixed"', "processing.chunk_size=2"))
    assert run.code == 0, run.stderr + str(run.fatal())
    [started] = [e.data for e in run.events if e.event == E.ENCODING_STARTED]
    assert [s.frames for s in started.segments] == [48, 48, 48, 48]
    assert decoded_frames(ffmpeg, Path(run.completed()[0].data.output)) == 8 * FPS
