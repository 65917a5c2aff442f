"""Keyframes where a viewer seeks and nowhere else (issue 24): each segment starts on one, and a segment gets more
only where it is longer than `encoding.keyframe_interval`, evenly spaced. SVT-AV1's own interval (161 frames)
put a keyframe at frame 161 of a 163-frame segment of the film, an intra picture for two frames: the longer
segments lost 7.5 % of their bytes to such keyframes at the same VMAF.

The film: 16 s at 24 fps cut into two 8 s segments (192 frames, longer than SVT-AV1's 161). Judged by the
output's own packet flags (a stream copy to FFmpeg's framecrc) against the segment starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from drapto_tui.media.encode import keyframe_spacing
from tests.judge import decoded_frames, keyframe_times
from tests.media_helpers import MediaFactory
from tests.reliability.harness import E, encode

FPS = 24


@pytest.fixture(scope="module")
def film(media: MediaFactory) -> Path:
    return media.clip(width=160, height=90, duration=16, fps=FPS, audio=None, gop=FPS)


def encoded_keyframes(
    ffmpeg: str, tmp_path: Path, film: Path, interval: float
) -> tuple[list[float], list[float]]:
    """The output's keyframe times and the segments' starts, with `interval` as encoding.keyframe_interval."""
    run = encode(
        tmp_path,
        film,
        extra=("processing.chunk_size=8", f"encoding.keyframe_interval={interval:g}"),
    )
    assert run.code == 0, run.stderr + str(run.fatal())
    [started] = [e.data for e in run.events if e.event == E.ENCODING_STARTED]
    out = Path(run.completed()[0].data.output)
    assert decoded_frames(ffmpeg, out) == 16 * FPS
    return keyframe_times(ffmpeg, out), [s.start for s in started.segments]


def test_a_segment_within_the_interval_holds_one_keyframe_at_its_start(
    ffmpeg: str, tmp_path: Path, film: Path
) -> None:
    keyframes, starts = encoded_keyframes(ffmpeg, tmp_path, film, 10)
    assert starts == pytest.approx([0.0, 8.0])
    assert keyframes == pytest.approx(starts, abs=0.5 / FPS)


def test_a_segment_longer_than_the_interval_gets_evenly_spaced_keyframes(
    ffmpeg: str, tmp_path: Path, film: Path
) -> None:
    keyframes, starts = encoded_keyframes(ffmpeg, tmp_path, film, 3)
    # 8 s in three even pieces of 64 frames (2.67 s), each segment from its own start.
    expected = [start + k * 64 / FPS for start in starts for k in range(3)]
    assert keyframes == pytest.approx(expected, abs=0.5 / FPS)


def test_interval_zero_leaves_keyframes_to_the_encoder(ffmpeg: str, tmp_path: Path, film: Path) -> None:
    """The encoder's own interval: SVT-AV1 adds one inside each 8 s segment (the waste the setting removes)."""
    keyframes, starts = encoded_keyframes(ffmpeg, tmp_path, film, 0)
    assert all(any(abs(k - start) < 0.5 / FPS for k in keyframes) for start in starts), (keyframes, starts)
    assert len(keyframes) > len(starts), keyframes


@pytest.mark.parametrize(
    ("frames", "seconds", "interval", "spacing"),
    [
        (163, 6.52, 10, 163),  # within the interval: the segment's own keyframe only
        (250, 10.0, 10, 250),  # exactly the interval: still one
        (260, 10.4, 10, 130),  # just over: two even halves, never 250 frames and a 10-frame stub
        (350, 14.0, 10, 175),
        (100, 4.0, 0, 0),  # 0: the encoder's own interval
    ],
)
def test_keyframe_spacing_splits_a_piece_evenly(
    frames: int, seconds: float, interval: float, spacing: int
) -> None:
    assert keyframe_spacing(frames, seconds, interval) == spacing
