from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import pytest

from drapto_tui.media.ffmpeg import FfmpegProgress
from drapto_tui.media.segment import (
    CutRules,
    RangesMeter,
    SceneRange,
    count_packets,
    detect_scenes,
    index_packets,
    plan_cuts,
    scene_ranges,
    segment_video,
)
from tests.fault_ffmpeg import ffmpeg_recording
from tests.judge import decoded_frames
from tests.media_helpers import MediaFactory


def test_plan_fixed_snaps_to_keyframes_and_merges_runts() -> None:
    keyframes = [float(k) for k in range(30)]  # one per second
    cuts = plan_cuts(29.5, keyframes, scene_cuts=None, chunk_size=10, min_segment=5, max_segment=15)
    assert cuts == [10.0, 20.0]
    # A tail shorter than the minimum is merged into the segment before it.
    assert plan_cuts(22.0, keyframes, scene_cuts=None, chunk_size=10, min_segment=5, max_segment=15) == [10.0]
    # Sparse keyframes: cuts can only land on them.
    assert plan_cuts(
        30.0, [0.0, 12.0, 24.0], scene_cuts=None, chunk_size=10, min_segment=5, max_segment=15
    ) == [12.0, 24.0]


def test_plan_scene_merges_close_cuts_and_splits_long_scenes() -> None:
    keyframes = [k / 2 for k in range(121)]  # every 0.5 s over 60 s
    cuts = plan_cuts(
        60.0, keyframes, scene_cuts=[3.0, 4.0, 10.2, 12.0, 48.0], chunk_size=10, min_segment=5, max_segment=15
    )
    bounds = [0.0, *cuts, 60.0]
    lengths = [b - a for a, b in itertools.pairwise(bounds)]
    assert all(5.0 <= n <= 15.0 for n in lengths), lengths
    assert 10.0 in cuts or 10.5 in cuts  # the real scene change survives
    assert 48.0 in cuts


@pytest.fixture(scope="module")
def two_scene_clip(media: MediaFactory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of testsrc2 then 4 s of mandelbrot (a hard scene change at 4 s), keyframe every second."""
    out = tmp_path_factory.mktemp("scenes") / "two-scenes.mkv"
    subprocess.run(
        [
            media.ffmpeg,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=24:duration=4",
            "-f",
            "lavfi",
            "-i",
            "mandelbrot=size=320x180:rate=24",
            "-filter_complex",
            "[1:v]trim=duration=4,setpts=PTS-STARTPTS[m];[0:v][m]concat=n=2:v=1[v]",
            "-map",
            "[v]",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "24",
            str(out),
        ],
        check=True,
    )
    return out


async def test_index_and_scenes(two_scene_clip: Path, ffmpeg: str) -> None:
    index = await index_packets(ffmpeg, two_scene_clip)
    assert index.frames == 192 and index.keyframes[:3] == [0.0, 1.0, 2.0]
    scenes = await detect_scenes(ffmpeg, two_scene_clip, 0.3)
    assert any(abs(t - 4.0) < 0.05 for t in scenes)


@pytest.mark.parametrize("mode", ["scene", "fixed"])
async def test_segments_add_up_exactly(two_scene_clip: Path, ffmpeg: str, tmp_path: Path, mode: str) -> None:
    segments = await segment_video(
        ffmpeg,
        two_scene_clip,
        tmp_path,
        CutRules(mode=mode, chunk_size=3, min_segment=1.5, max_segment=3.0, scene_threshold=0.3),
        duration=8.0,
    )
    assert sum(s.frames for s in segments) == 192
    assert [await count_packets(ffmpeg, Path(s.path)) for s in segments] == [s.frames for s in segments]
    assert segments[0].start == 0.0 and segments[-1].end == pytest.approx(8.0)
    assert all(a.end == b.start for a, b in itertools.pairwise(segments))
    if mode == "scene":
        assert 4.0 in [s.start for s in segments]  # the scene change is a cut
        assert all(s.duration <= 3.0 + 1e-6 for s in segments)
    else:
        assert [s.start for s in segments] == [0.0, 3.0, 6.0]


async def test_single_keyframe_source_is_one_segment(
    media: MediaFactory, ffmpeg: str, tmp_path: Path
) -> None:
    # The BBB clip has one keyframe: a stream copy cannot cut it, whatever the plan says.
    segments = await segment_video(
        ffmpeg,
        media.bbb(),
        tmp_path,
        CutRules(mode="fixed", chunk_size=2, min_segment=1, max_segment=3),
        duration=5.312,
    )
    assert len(segments) == 1 and segments[0].frames == 132


async def test_open_gops_are_cut_only_where_a_gop_is_closed(
    tmp_path: Path, media: MediaFactory, ffmpeg: str
) -> None:
    """x265's default open GOPs: after each keyframe but the first come pictures shown before it that refer to the
    GOP before (RASL). A stream-copied segment starting there cannot decode them, and the film used to come out
    frames short, found only at the join after the whole encode. Real footage, decoded by an independent run."""
    source = tmp_path / "open-gop.mkv"
    x265 = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:keyint=48"]
    subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(media.bbb()), "-vf", "scale=320:180", "-an", *x265, str(source)],
        check=True,
    )
    index = await index_packets(ffmpeg, source)
    assert index.open_keyframes and index.keyframes == [0.0]  # every later keyframe opens its GOP
    notes: list[str] = []
    segments = await segment_video(
        ffmpeg,
        source,
        tmp_path / "segments",
        CutRules(mode="fixed", chunk_size=1, min_segment=0.5, max_segment=2, cut_tolerance=0.1),
        duration=5.3,
        on_note=notes.append,
    )
    assert (
        sum(decoded_frames(ffmpeg, Path(s.path)) for s in segments) == decoded_frames(ffmpeg, source) == 132
    )
    assert len(notes) == 1 and "open GOP" in notes[0] and f"into {len(segments)} segment" in notes[0]


@pytest.fixture(scope="module")
def four_scene_clip(media: MediaFactory) -> Path:
    """12 s of four unlike pictures, 3 s each (hard changes at 3, 6 and 9 s, each on a keyframe, one a second),
    the video starting 0.5 s after its audio, as a remux of a broadcast often does."""
    return media.four_scenes(3, audio_first=0.5)


async def test_the_scene_pass_in_ranges_finds_what_one_pass_finds(four_scene_clip: Path, ffmpeg: str) -> None:
    """A long film is scene-scored in ranges at once; split at the very frames where the scenes change (the
    hardest place: a range's first frame has no frame before it in its own pass), nothing is lost or doubled."""
    index = await index_packets(ffmpeg, four_scene_clip)
    duration = index.extent()
    ranges = scene_ranges(index.keyframes, duration, 4, range_seconds=2.0)
    assert [r.keep_from for r in ranges] == [0.0, 3.0, 6.0, 9.0]
    assert all(r.seek is not None and r.seek <= r.keep_from - 1.0 for r in ranges[1:])
    one_pass = await detect_scenes(ffmpeg, four_scene_clip, 0.3, index=index)
    heard: list[float] = []
    in_ranges = await detect_scenes(
        ffmpeg, four_scene_clip, 0.3, index=index, cores=4, range_seconds=2.0, on_progress=heard.append
    )
    # Its progress, over the four FFmpegs at once: one figure for the pass, rising to the end.
    assert len(heard) >= 4 and heard == sorted(heard) and heard[-1] == pytest.approx(1.0)
    # Times count from the film's first frame, as the index's (the video starts 0.5 s into the file).
    assert index.origin == pytest.approx(0.5)
    assert one_pass == [3.0, 6.0, 9.0]
    assert in_ranges == one_pass
    # Short films (and one core) stay one pass.
    assert len(scene_ranges(index.keyframes, duration, 4)) == 1
    assert len(scene_ranges(index.keyframes, duration, 1, range_seconds=2.0)) == 1


def _picture_hashes(ffmpeg: str, path: Path) -> list[str]:
    """Each decoded picture's MD5, in order (timestamps left out): what a viewer sees, frame by frame."""
    out = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "framemd5", "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line and not line.startswith("#")]


async def test_a_long_film_is_cut_range_by_range_into_the_same_pictures(
    four_scene_clip: Path, ffmpeg: str, tmp_path: Path
) -> None:
    """A film longer than two ranges comes out range by range (so encoding can start on the first): each batch
    in film order, the ranges' edges on keyframes and cuts, and the segments together the source's very
    pictures, none lost, doubled or moved (the video starts 0.5 s into this file)."""
    batches: list[tuple[list[int], float]] = []
    segments = await segment_video(
        ffmpeg,
        four_scene_clip,
        tmp_path,
        CutRules(mode="scene", chunk_size=3, min_segment=1.0, max_segment=2.0, scene_range=3.0),
        duration=12.5,
        cores=2,
        on_segments=lambda batch, end: batches.append(([s.index for s in batch], end)),
        by_ranges=True,
    )
    assert len(batches) == 4  # 12 s in ranges of 3 s
    assert [i for b, _ in batches for i in b] == list(range(len(segments)))
    assert all(end == pytest.approx(12.0) for _, end in batches)  # the picture's end, not the audio's
    starts = [s.start for s in segments]
    assert {3.0, 6.0, 9.0} <= set(starts)  # the ranges' edges, here the scene changes
    assert all(a.end == pytest.approx(b.start) for a, b in itertools.pairwise(segments))
    assert segments[-1].end == pytest.approx(12.0)
    assert all(s.duration <= 2.0 + 1e-6 for s in segments)
    assert [decoded_frames(ffmpeg, Path(s.path)) for s in segments] == [s.frames for s in segments]
    joined = [h for s in segments for h in _picture_hashes(ffmpeg, Path(s.path))]
    assert joined == _picture_hashes(ffmpeg, four_scene_clip)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"seg-{i:04d}.mkv" for i in range(len(segments))]


async def test_a_short_film_is_cut_in_one_go(four_scene_clip: Path, ffmpeg: str, tmp_path: Path) -> None:
    batches: list[int] = []
    segments = await segment_video(
        ffmpeg,
        four_scene_clip,
        tmp_path,
        CutRules(mode="scene", chunk_size=3, min_segment=1.0, max_segment=4.0),
        duration=12.5,
        on_segments=lambda batch, end: batches.append(len(batch)),
        by_ranges=True,
    )
    assert batches == [len(segments)] and [s.start for s in segments] == [0.0, 3.0, 6.0, 9.0]


@pytest.fixture(scope="module")
def real_montage(media: MediaFactory, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Four 2 s shots of real footage (Big Buck Bunny, bikes, carphone, Big Buck Bunny flipped), 320x180 at
    24 fps, encoded by x264 with 3 B-frames two ways: as x264 does by default (a GOP starts at each cut), and
    with one GOP and a fixed I-BBB-P pattern, where each cut is a P-frame with skipped B-frames before it."""
    bbb = media.bbb()
    folder = tmp_path_factory.mktemp("montage")
    shots = [
        (bbb, 1.0, ""),
        (bbb.with_name("bikes.mp4"), 3.2, ""),
        (bbb.with_name("carphone_pristine.mp4"), 0.0, ""),
    ]
    shots.append((bbb, 3.0, "hflip,"))
    inputs = [arg for path, start, _ in shots for arg in ("-ss", str(start), "-t", "2", "-i", str(path))]
    graph = "".join(
        f"[{i}:v]{flip}scale=320:180,fps=24,setsar=1,format=yuv420p,trim=end_frame=48,setpts=PTS-STARTPTS[s{i}];"
        for i, (_, _, flip) in enumerate(shots)
    )
    graph += "[s0][s1][s2][s3]concat=n=4:v=1[v]"
    made = {}
    for name, params in (
        ("gop at each cut", "bframes=3"),
        ("cuts inside b-frames", "bframes=3:b-adapt=0:scenecut=0:keyint=240"),
    ):
        out = folder / f"{name.replace(' ', '-')}.mkv"
        subprocess.run(
            [media.ffmpeg, "-v", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[v]",
             "-c:v", "libx264", "-preset", "veryfast", "-x264-params", params, str(out)],
            check=True,
        )  # fmt: skip
        made[name] = out
    return made


def _scene_runs(log: Path) -> list[list[str]]:
    runs = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    return [args for args in runs if any("scene" in a for a in args)]


@pytest.mark.parametrize("encoded", ["gop at each cut", "cuts inside b-frames"])
async def test_an_h264_film_is_scene_scored_without_b_frames_only_where_that_is_exact(
    real_montage: dict[str, Path], encoded: str, ffmpeg: str, tmp_path: Path
) -> None:
    """Scoring without B-frames decodes about a third of an x264 film's pictures. Where x264 started a GOP
    at each cut, that pass finds every change at its very frame and is kept; where the cuts fall on P-frames
    with skipped B-frames before them, the change may lie on a skipped one, so the film is scored again with
    every picture. Either way the changes are those of a pass over every picture: the shots' edges."""
    source = real_montage[encoded]
    index = await index_packets(ffmpeg, source)
    assert index.frames == 192
    every_picture = await detect_scenes(ffmpeg, source, 0.3, index=index)
    assert every_picture == [2.0, 4.0, 6.0]
    recording, log = ffmpeg_recording(tmp_path, ffmpeg)
    without_b = await detect_scenes(str(recording), source, 0.3, index=index, skip_b_frames=True)
    assert without_b == every_picture
    runs = _scene_runs(log)
    assert "bidir" in runs[0]
    if encoded == "gop at each cut":
        assert len(runs) == 1
    else:
        assert len(runs) == 2 and "-skip_frame" not in runs[1]


def test_the_scene_pass_progress_never_goes_back_when_a_range_is_scored_again() -> None:
    """A range whose pass without B-frames was stopped is scored again from its start; the step's figure holds
    where it was until the new pass passes it."""
    heard: list[float] = []
    ranges = [
        SceneRange(seek=None, read=60.0, keep_from=0.0, keep_to=60.0),
        SceneRange(60.0, 60.0, 60.0, None),
    ]
    meter = RangesMeter(ranges, 120.0, heard.append)
    first, second = meter.part(0)[1], meter.part(1)[1]
    assert first is not None and second is not None
    first(FfmpegProgress(fraction=0.5))  # the pass without B-frames, stopped halfway
    second(FfmpegProgress(fraction=1.0))
    first(FfmpegProgress(fraction=0.1))  # the same range again, every picture
    first(FfmpegProgress(fraction=1.0))
    assert heard == [0.25, 0.75, 0.75, 1.0]
