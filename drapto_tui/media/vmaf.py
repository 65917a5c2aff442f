"""VMAF scoring with FFmpeg's libvmaf: distorted vs reference, same crop, same 10-bit format, timestamps reset.

The score of a run is pooled from libvmaf's per-frame scores (mean, 5th percentile or harmonic mean), so the
pooling is ours to choose and the frame scores can be combined across samples and segments.
"""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path

from drapto_tui.errors import DraptoError
from drapto_tui.media.ffmpeg import run_ffmpeg
from drapto_tui.model.segment import source_filters


@dataclass
class VmafResult:
    frame_scores: list[float]

    def pooled(self, method: str = "mean") -> float:
        return pool(self.frame_scores, method)


def pool(scores: list[float], method: str = "mean") -> float:
    if not scores:
        raise ValueError("no VMAF frame scores")
    if method == "mean":
        return statistics.fmean(scores)
    if method == "harmonic":
        return len(scores) / sum(1.0 / (s + 1.0) for s in scores) - 1.0  # libvmaf's harmonic_mean convention
    if method == "perc5":
        ordered = sorted(scores)
        return ordered[int(len(ordered) * 0.05)]
    raise ValueError(f"unknown pooling {method!r}")


def vmaf_model(width: int, height: int) -> str:
    """The 4K model when the frame is wider than 2560 and taller than 1440; the default model otherwise."""
    return "vmaf_4k_v0.6.1" if width > 2560 and height > 1440 else "vmaf_v0.6.1"


def vmaf_threads() -> int:
    return max(os.cpu_count() or 1, 1)


def vmaf_graph(
    distorted: str,
    reference: str,
    *,
    log_name: str,
    width: int,
    height: int,
    crop: str | None = None,
    deinterlace: str | None = None,
    n_subsample: int = 5,
    threads: int | None = None,
    pix_fmt: str = "yuv420p10le",
    output: str = "",
) -> str:
    """The filter graph that scores the stream labelled `distorted` against `reference` (cropped and
    deinterlaced here the same way as the encode's source: the score is the encode's loss, not the
    deinterlacer's change), writing libvmaf's JSON log to `log_name` in the run's working folder."""
    filters = source_filters(crop, deinterlace)
    ref_chain = f"setpts=PTS-STARTPTS,{filters + ',' if filters else ''}format={pix_fmt}"
    dis_chain = f"setpts=PTS-STARTPTS,format={pix_fmt}"
    return (
        f"[{distorted}]{dis_chain}[dis];[{reference}]{ref_chain}[ref];"
        f"[dis][ref]libvmaf=model=version={vmaf_model(width, height)}:n_subsample={n_subsample}"
        f":n_threads={threads or vmaf_threads()}:log_fmt=json:log_path={log_name}"
        + (f"[{output}]" if output else "")
    )


def read_scores(log_path: Path, subject: str) -> VmafResult:
    """libvmaf's per-frame scores from its JSON log."""
    try:
        data = json.loads(log_path.read_text(encoding="utf-8"))
        scores = [float(frame["metrics"]["vmaf"]) for frame in data["frames"]]
    except (OSError, ValueError, KeyError) as exc:
        raise DraptoError(f"libvmaf wrote no usable log ({exc})", subject=subject) from None
    if not scores:
        raise DraptoError(
            "libvmaf scored no frames",
            subject=subject,
            hint="the encode may be empty; check the segment",
        )
    return VmafResult(frame_scores=scores)


async def measure_vmaf(
    ffmpeg: str,
    distorted: Path,
    reference: Path,
    *,
    log_path: Path,
    width: int,
    height: int,
    crop: str | None = None,
    deinterlace: str | None = None,
    n_subsample: int = 5,
    threads: int | None = None,
    pix_fmt: str = "yuv420p10le",
    on_progress=None,
    duration: float | None = None,
) -> VmafResult:
    """Score `distorted` (already cropped, deinterlaced) against `reference`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    graph = vmaf_graph(
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
        what="VMAF",
        subject=str(distorted),
        on_progress=on_progress,
        duration=duration,
        cwd=log_path.parent,
    )
    return read_scores(log_path, str(distorted))
