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

from pathlib import Path

from drapto_tui.media.encode import EncodeRequest, encode_av1
from drapto_tui.media.ffmpeg import FfmpegResult, RunWatch
from drapto_tui.media.metrics import ScoreResult, Scoring, measure_score, score_graph

#: Output frames up to this many pixels (1920x1088) are scored in the encode's own run.
ONE_PASS_MAX_PIXELS = 1920 * 1088


def fits_one_pass(width: int, height: int) -> bool:
    return width * height <= ONE_PASS_MAX_PIXELS


async def encode_and_measure(
    ffmpeg: str,
    request: EncodeRequest,
    scoring: Scoring,
    *,
    log_path: Path,
    one_pass: bool,
    watch: RunWatch | None = None,
) -> tuple[FfmpegResult, ScoreResult]:
    """Encode as `request` says (atomically, as encode_av1) and score the encode against its source: in one run
    when `one_pass` (the FFmpeg has loopback decoders) and the frame fits, else one run after the other. A part
    of the source (the request's `input_args`: -ss, -t) needs the one run, where the reference is that same part."""
    together = one_pass and fits_one_pass(scoring.width, scoring.height)
    if request.input_args and not together:
        raise ValueError("a part of the source is scored only in one run (see fits_one_pass)")
    if not together:
        result = await encode_av1(ffmpeg, request, watch)
        score = await measure_score(ffmpeg, scoring, request.output, request.source, log_path=log_path)
        return result, score
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.unlink(missing_ok=True)  # a log left by an earlier run must not pass for this one's
    graph = score_graph(scoring, "dec:0", "0:v:0", log_name=log_path.name, output="scored")
    # `-dec 0:0`: decode output 0's stream 0 (the AV1 encode, its only stream) back into the graph.
    score_output = ["-dec", "0:0", "-filter_complex", graph, "-map", "[scored]", "-f", "null", "-"]
    result = await encode_av1(
        ffmpeg,
        request,
        watch,
        after_output=score_output,
        cwd=log_path.parent,  # the log's bare name in the graph: no escaping of odd paths
    )
    metric = scoring.metric
    return result, ScoreResult(metric, metric.read_frames(log_path, str(request.output)))


__all__ = ["ONE_PASS_MAX_PIXELS", "encode_and_measure", "fits_one_pass"]
