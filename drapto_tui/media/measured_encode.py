"""An AV1 encode and its quality score in one FFmpeg run: the encoder's output is decoded again inside the run
(`-dec`, FFmpeg's loopback decoder) and scored against the same decoded source frames.

Why: scoring after the encode decodes the source a second time (for a lossless piece, that decode alone costs
as much as libvmaf's own work at n_subsample 5), writes and reads the encode again, and runs the two steps one
after the other. In one run the source is decoded once and libvmaf works while the encoder does, so an encode
and its score cost about 0.9 of the two run apart (720p, preset 8, 2 cores: 4.9 s against 3.7 + 1.8 s), with
the same frame scores.

The price is memory: the source frames wait in the filter graph for the encoder's delayed output (its
look-ahead), about 340 MiB more at 720p 10-bit. That grows with the frame, so frames larger than 1080p are
encoded and scored apart (`fits_one_pass`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

from drapto_tui.media.encode import encode_av1
from drapto_tui.media.ffmpeg import FfmpegProcess, FfmpegProgress, FfmpegResult
from drapto_tui.media.metrics import Metric, ScoreResult, measure_score, score_graph
from drapto_tui.model.segment import VideoSettings

#: Output frames up to this many pixels (1920x1088) are scored in the encode's own run.
ONE_PASS_MAX_PIXELS = 1920 * 1088


def fits_one_pass(width: int, height: int) -> bool:
    return width * height <= ONE_PASS_MAX_PIXELS


async def encode_and_measure(
    ffmpeg: str,
    source: Path,
    output: Path,
    settings: VideoSettings,
    metric: Metric,
    *,
    log_path: Path,
    width: int,
    height: int,
    n_subsample: int,
    one_pass: bool,
    duration: float | None = None,
    on_progress: Callable[[FfmpegProgress], None] | None = None,
    on_start: Callable[[FfmpegProcess], None] | None = None,
    nice: int = 0,
    what: str = "AV1 encode",
    input_args: Sequence[str] = (),
    score_pix_fmt: str | None = None,
) -> tuple[FfmpegResult, ScoreResult]:
    """Encode `source` to `output` (atomically, as encode_av1) and score the encode against `source` by `metric`: in one
    run when `one_pass` (the FFmpeg has loopback decoders) and the frame fits, else one run after the other.
    `input_args` (a part of the source: -ss, -t) need the one run, where the reference is that same part.
    `score_pix_fmt`: both pictures are scored in this format (8 bits for an 8-bit source), else the encode's."""
    together = one_pass and fits_one_pass(width, height)
    if input_args and not together:
        raise ValueError("a part of the source is scored only in one run (see fits_one_pass)")
    encode = functools.partial(
        encode_av1,
        ffmpeg,
        source,
        output,
        settings,
        duration=duration,
        on_progress=on_progress,
        on_start=on_start,
        nice=nice,
        what=what,
    )
    if not together:
        result = await encode()
        score = await measure_score(
            ffmpeg,
            metric,
            output,
            source,
            log_path=log_path,
            width=width,
            height=height,
            crop=settings.crop,
            deinterlace=settings.deinterlace,
            n_subsample=n_subsample,
            pix_fmt=score_pix_fmt or settings.pix_fmt,
        )
        return result, score
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.unlink(missing_ok=True)  # a log left by an earlier run must not pass for this one's
    graph = score_graph(
        metric,
        "dec:0",
        "0:v:0",
        log_name=log_path.name,
        width=width,
        height=height,
        crop=settings.crop,
        deinterlace=settings.deinterlace,
        n_subsample=n_subsample,
        pix_fmt=score_pix_fmt or settings.pix_fmt,
        output="scored",
    )
    # `-dec 0:0`: decode output 0's stream 0 (the AV1 encode, its only stream) back into the graph.
    score_output = ["-dec", "0:0", "-filter_complex", graph, "-map", "[scored]", "-f", "null", "-"]
    result = await encode(
        input_args=input_args,
        after_output=score_output,
        cwd=log_path.parent,  # the log's bare name in the graph: no escaping of odd paths
    )
    return result, ScoreResult(metric, metric.read_frames(log_path, str(output)))


__all__ = ["ONE_PASS_MAX_PIXELS", "encode_and_measure", "fits_one_pass"]
