"""What a quality metric is to the rest of drapto-tui: a value behind a small protocol.

The quality path never names a metric: it asks the one in its settings for the FFmpeg filter that scores a
distorted picture against the reference, how to read that filter's per-frame log, how frame scores pool into one
figure, the metric's unit and acceptance window, and where it is valid. The CRF search works on the metric's
*loss* (a positive number that falls as quality rises, close to exponential in CRF), so one predictive model
serves every metric; its constants are per encoder and metric (quality/calibration.py).

Adding a metric is one module here and one row in `METRICS` (media/metrics/__init__.py).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Transfer characteristics (FFmpeg's names, as the probe reports them) of pictures coded for an HDR display.
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})  # PQ, HLG


def is_hdr_transfer(transfer: str | None) -> bool:
    return (transfer or "").strip().lower() in HDR_TRANSFERS


class Metric(Protocol):
    """One quality metric as FFmpeg computes it."""

    #: The name in config, events, the cache and JSON ("vmaf"); `label` is what people read ("VMAF").
    name: str
    label: str
    #: The unit after a figure ("" for VMAF's points, " dB" for XPSNR).
    unit: str
    #: The FFmpeg filter that computes it (preflight checks the FFmpeg has it).
    ffmpeg_filter: str
    #: How an FFmpeg build gets that filter (said when a configured FFmpeg lacks it).
    ffmpeg_build: str
    #: The default target (for SDR pictures; `default_target_for` says it per transfer), the acceptance window
    #: above it, and how far below it a final may land before it is encoded again, all in the metric's own unit.
    default_target: float
    default_tolerance: float
    default_tolerance_below: float
    #: Targets outside this range are refused by the config (a VMAF of 300, an XPSNR of 5 dB).
    target_range: tuple[float, float]
    #: Whether the filter can score every n-th frame only (libvmaf's n_subsample); else every frame is scored.
    subsamples: bool
    #: Whether the filter takes the reference first (xpsnr weights blocks by its first input's activity) or the
    #: distorted picture first (libvmaf).
    reference_first: bool

    def default_target_for(self, transfer: str | None) -> float:
        """The target when none is set, for pictures with this transfer characteristic (a PQ picture's code
        values read differently from an SDR one's)."""
        ...

    def picture_format(self, pix_fmt: str) -> str:
        """The filters that put both pictures into the format the metric scores in (`pix_fmt`: the encode's,
        or 8 bits for an 8-bit source)."""
        ...

    def filter(self, *, log_name: str, width: int, height: int, n_subsample: int, threads: int) -> str:
        """The filter (with its options) that scores the two inputs and writes its log to `log_name`."""
        ...

    def read_frames(self, log_path: Path, subject: str) -> list[float]:
        """The per-frame scores from the filter's log (raises DraptoError when it holds none)."""
        ...

    def pool(self, scores: Sequence[float], method: str) -> float:
        """One figure from frame scores: "mean" (the metric's own whole-file figure), "perc5", "harmonic"."""
        ...

    def loss(self, score: float) -> float:
        """A positive number that falls as quality rises and whose logarithm is close to linear in CRF."""
        ...

    def score_at(self, loss: float) -> float:
        """The score whose loss is `loss` (the inverse of `loss`)."""
        ...

    def valid_for(self, transfer: str | None) -> bool:
        """Whether the metric's figure means what it says on pictures with this transfer characteristic."""
        ...


def low_percentile(scores: Sequence[float], percent: float = 5.0) -> float:
    ordered = sorted(scores)
    return ordered[int(len(ordered) * percent / 100)]


def arithmetic(scores: Sequence[float]) -> float:
    return statistics.fmean(scores)


@dataclass
class ScoreResult:
    """A scoring run's frame scores and the metric that made them (so pooling follows the metric's rules)."""

    metric: Metric
    frame_scores: list[float]

    def pooled(self, method: str = "mean") -> float:
        return self.metric.pool(self.frame_scores, method)


__all__ = ["HDR_TRANSFERS", "Metric", "ScoreResult", "arithmetic", "is_hdr_transfer", "low_percentile"]
