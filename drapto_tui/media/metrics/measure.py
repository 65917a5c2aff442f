"""Scoring a distorted stream against its reference with any metric: the filter graph and the FFmpeg run.

Both pictures get their timestamps reset and the same pixel format; the reference is cropped and deinterlaced
here the same way as the encode's source, so the score is the encode's loss, not the deinterlacer's change. Which
input comes first is the metric's to say (libvmaf: the distorted; xpsnr: the reference).
"""

from __future__ import annotations

from pathlib import Path

from drapto_tui.media.ffmpeg import run_ffmpeg
from drapto_tui.media.metrics.base import Metric, ScoreResult
from drapto_tui.model.segment import source_filters


def score_graph(
    metric: Metric,
    distorted: str,
    reference: str,
    *,
    log_name: str,
    width: int,
    height: int,
    crop: str | None = None,
    deinterlace: str | None = None,
    n_subsample: int = 5,
    threads: int = 0,
    pix_fmt: str = "yuv420p10le",
    output: str = "",
) -> str:
    """The graph that scores the stream labelled `distorted` against `reference`, writing the metric's log to
    `log_name` in the run's working folder; `output` labels what comes out of it (for a second output)."""
    filters = source_filters(crop, deinterlace)
    picture = metric.picture_format(pix_fmt)
    ref_chain = f"setpts=PTS-STARTPTS,{filters + ',' if filters else ''}{picture}"
    dis_chain = f"setpts=PTS-STARTPTS,{picture}"
    scorer = metric.filter(
        log_name=log_name, width=width, height=height, n_subsample=n_subsample, threads=threads
    )
    inputs = "[ref][dis]" if metric.reference_first else "[dis][ref]"
    return f"[{distorted}]{dis_chain}[dis];[{reference}]{ref_chain}[ref];{inputs}{scorer}" + (
        f"[{output}]" if output else ""
    )


async def measure_score(
    ffmpeg: str,
    metric: Metric,
    distorted: Path,
    reference: Path,
    *,
    log_path: Path,
    width: int,
    height: int,
    crop: str | None = None,
    deinterlace: str | None = None,
    n_subsample: int = 5,
    threads: int = 0,
    pix_fmt: str = "yuv420p10le",
    on_progress=None,
    duration: float | None = None,
) -> ScoreResult:
    """Score `distorted` (already cropped, deinterlaced) against `reference`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.unlink(missing_ok=True)  # a log left by an earlier run must not pass for this one's
    graph = score_graph(
        metric,
        "0:v:0",
        "1:v:0",
        log_name=log_path.name,
        width=width,
        height=height,
        crop=crop,
        deinterlace=deinterlace,
        n_subsample=n_subsample,
        threads=threads,
        pix_fmt=pix_fmt,
    )
    args = [
        ffmpeg,
        "-i",
        str(distorted.resolve()),
        "-i",
        str(reference.resolve()),
        "-filter_complex",
        graph,
        "-f",
        "null",
        "-",
    ]
    # Run in the log's folder so that the filter option holds a bare file name (no escaping of odd paths).
    await run_ffmpeg(
        args,
        what=metric.label,
        subject=str(distorted),
        on_progress=on_progress,
        duration=duration,
        cwd=log_path.parent,
    )
    return ScoreResult(metric, metric.read_frames(log_path, str(distorted)))


__all__ = ["measure_score", "score_graph"]
