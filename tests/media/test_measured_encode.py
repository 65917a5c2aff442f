"""An encode and its VMAF in one FFmpeg run (loopback decoder) score exactly what the two runs apart score, on
the same encode; an FFmpeg without loopback decoders is detected and gets the two runs."""

from __future__ import annotations

from pathlib import Path

from drapto_tui.media.encode import EncodeRequest
from drapto_tui.media.ffmpeg import FfmpegProcess, RunWatch
from drapto_tui.media.measured_encode import encode_and_measure, fits_one_pass
from drapto_tui.media.metrics import METRICS, Scoring
from drapto_tui.media.tools import inspect_ffmpeg
from drapto_tui.model.segment import VideoSettings
from tests.fault_ffmpeg import ffmpeg_reporting_libavcodec
from tests.media_helpers import MediaFactory


async def _run(ffmpeg: str, clip: Path, out: Path, settings: VideoSettings, one_pass: bool):
    commands: list[list[str]] = []

    def started(proc: FfmpegProcess) -> None:
        commands.append(proc.args)

    result, vmaf = await encode_and_measure(
        ffmpeg,
        EncodeRequest(clip, out, settings),
        Scoring.of_encode(METRICS["vmaf"], settings, width=160, height=96, n_subsample=3),
        log_path=out.with_suffix(".json"),
        one_pass=one_pass,
        watch=RunWatch(on_start=started),
    )
    assert result.returncode == 0 and out.exists()
    assert not list(out.parent.glob("*.partial.*"))
    return vmaf.frame_scores, commands


async def test_one_run_scores_what_two_runs_score(tmp_path: Path, ffmpeg: str, media: MediaFactory) -> None:
    clip = media.clip(width=192, height=108, duration=2, fps=24, source="testsrc2", audio=None, gop=24)
    # Cropped: the reference must be cropped in the graph exactly as the encoder's input is.
    settings = VideoSettings(preset=12, crf=40, threads=1, crop="160:96:16:6")
    together, one_cmd = await _run(ffmpeg, clip, tmp_path / "one" / "enc.mkv", settings, True)
    apart, two_cmd = await _run(ffmpeg, clip, tmp_path / "two" / "enc.mkv", settings, False)
    assert "-dec" in one_cmd[0] and all("-dec" not in c for c in two_cmd)
    assert len(together) == len(apart) == 16  # 48 frames, every 3rd
    assert max(abs(a - b) for a, b in zip(together, apart, strict=True)) < 1e-3
    # The encode itself is the same either way (the scoring branch does not touch the encoder's input).
    assert (tmp_path / "one" / "enc.mkv").stat().st_size == (tmp_path / "two" / "enc.mkv").stat().st_size


async def test_loopback_detected_by_libavcodec_version(tmp_path: Path, ffmpeg: str) -> None:
    assert (await inspect_ffmpeg(ffmpeg)).loopback_decoders
    old = ffmpeg_reporting_libavcodec(tmp_path, ffmpeg, 60)
    info = await inspect_ffmpeg(str(old))
    assert info.libavcodec_major == 60 and not info.loopback_decoders


def test_frames_above_1080p_are_scored_apart() -> None:
    assert fits_one_pass(1920, 1080) and fits_one_pass(1280, 720)
    assert not fits_one_pass(3840, 2160) and not fits_one_pass(2560, 1440)
