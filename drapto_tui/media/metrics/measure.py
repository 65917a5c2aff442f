"""Scoring a distorted stream against its reference with any metric: the filter graph and the FFmpeg run.

Both pictures get their timestamps reset and the same pixel format; the reference is cropped and deinterlaced
here the same way as the encode's source, so the score is the encode's loss, not the deinterlacer's change. Which
input comes first is the metric's to say (libvmaf: the distorted; xpsnr: the reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from drapto_tui.media.ffmpeg import RunWatch, run_ffmpeg
from drapto_tui.media.metrics.base import Metric, ScoreResult
from drapto_tui.model.segment import VideoSettings, scale_size, source_filters


@dataclass(frozen=True)
class Scoring:
    """How a distorted stream is scored: the metric, the picture size it is judged at, the crop and deinterlace
    the reference gets (the same as the encode's source), every `n_subsample`-th frame, in `pix_fmt`."""

    metric: Metric
    width: int
    height: int
    crop: str | None = None
    deinterlace: str | None = None
    scale: str | None = None  # "w:h": the reference downscaled as a half-size probe's source was
    n_subsample: int = 5
    threads: int = 0
    pix_fmt: str = "yuv420p10le"

    @classmethod
    def of_encode(
        cls,
        metric: Metric,
        settings: VideoSettings,
        *,
        width: int,
        height: int,
        n_subsample: int,
        pix_fmt: str | None = None,
    ) -> Scoring:
        """Scoring an encode made with `settings` against its source (`pix_fmt`: else the encode's format); a
        downscaled encode is judged at its own size."""
        if settings.scale:
            width, height = scale_size(settings.scale)
        return cls(
            metric,
            width,
            height,
            crop=settings.crop,
            deinterlace=settings.deinterlace,
            scale=settings.scale,
            n_subsample=n_subsample,
            pix_fmt=pix_fmt or settings.pix_fmt,
        )


def score_graph(scoring: Scoring, distorted: str, reference: str, *, log_name: str, output: str = "") -> str:
    """The graph that scores the stream labelled `distorted` against `reference`, writing the metric's log to
    `log_name` in the run's working folder; `output` labels what comes out of it (for a second output)."""
    metric = scoring.metric
    filters = source_filters(scoring.crop, scoring.deinterlace, scoring.scale)
    picture = metric.picture_format(scoring.pix_fmt)
    ref_chain = f"setpts=PTS-STARTPTS,{filters + ',' if filters else ''}{picture}"
    dis_chain = f"setpts=PTS-STARTPTS,{picture}"
    scorer = metric.filter(
        log_name=log_name,
        width=scoring.width,
        height=scoring.height,
        n_subsample=scoring.n_subsample,
        threads=scoring.threads,
    )
    inputs = "[ref][dis]" if metric.reference_first else "[dis][ref]"
    return f"[{distorted}]{dis_chain}[dis];[{reference}]{ref_chain}[ref];{inputs}{scorer}" + (
        f"[{output}]" if output else ""
    )


async def measure_score(
    ffmpeg: str,
    scoring: Scoring,
    distorted: Path,
    reference: Path,
    *,
    log_path: Path,
    watch: RunWatch | None = None,
) -> ScoreResult:
    """Score `distorted` (already cropped, deinterlaced) against `reference`."""
    metric = scoring.metric
    watch = watch or RunWatch(what=metric.label)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.unlink(missing_ok=True)  # a log left by an earlier run must not pass for this one's
    graph = score_graph(scoring, "0:v:0", "1:v:0", log_name=log_path.name)
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
        what=watch.what,
        subject=str(distorted),
        on_progress=watch.on_progress,
        duration=watch.duration,
        nice=watch.nice,
        cwd=log_path.parent,
    )
    return ScoreResult(metric, metric.read_frames(log_path, str(distorted)))


__all__ = ["Scoring", "measure_score", "score_graph"]
