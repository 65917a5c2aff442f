"""The predictive search's constants for one encoder and one metric, each measured, never carried over.

The model (quality/predictive.py) is the same for every pair: a metric's loss is close to exponential in CRF,
the segments' ln(loss) lines nearly meet in one point (the pivot) so a segment's slope k follows from one
measured point, and a fast probe preset loses r times what the final preset loses. Where the lines meet, how
steep they are and how far apart two presets sit belong to the encoder and the metric: `python3 dev.py bench
probes --metric M --encoder E` measures them on the film of issue 24 and prints this table's row
(benchmarks/RESULTS.md keeps each run).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass


@dataclass(frozen=True)
class Calibration:
    #: Where the segments' ln(loss) lines against CRF nearly meet; None: they do not (k is the prior).
    pivot_crf: float | None
    pivot_loss: float
    #: A segment's k is kept within this range.
    k_range: tuple[float, float]
    #: A point with more loss than this share of the pivot's is too near it to give a slope: the prior k is used.
    near_pivot: float
    #: k where the pivot says nothing.
    prior_k: float
    #: r, the probe preset's loss over the final preset's, for a gap of `r_gap` presets (SVT-AV1: 12 → 8),
    #: before a file teaches its own; smaller gaps in proportion.
    prior_r: float
    r_gap: int = 4
    #: Where a segment's first probe goes before the file has a typical CRF (the middle of a wide range is a
    #: poor start for a metric whose target sits elsewhere).
    first_crf: float | None = None
    #: A half-size probe's r over a full-size one's, by the probe's width, where measured (None: probes stay
    #: full size); between two widths in proportion, beyond the last held. Encoding and scoring a quarter of the
    #: pixels costs the probe about a third less, but how much of the final's loss a half-size picture shows
    #: belongs to the pair and the size.
    half_size_factors: tuple[tuple[int, float], ...] | None = None

    def half_size_factor(self, probe_width: int) -> float:
        """The factor for a half-size probe `probe_width` wide (1 where none was measured)."""
        points = self.half_size_factors
        if not points:
            return 1.0
        if probe_width <= points[0][0]:
            return points[0][1]
        for (w0, f0), (w1, f1) in itertools.pairwise(points):
            if probe_width <= w1:
                return f0 + (f1 - f0) * (probe_width - w0) / (w1 - w0)
        return points[-1][1]


#: (encoder, metric) → calibration.
CALIBRATIONS: dict[tuple[str, str], Calibration] = {
    # SVT-AV1 / VMAF: issue 12 (r 1.41 ± 0.03 on three clips, k 0.27–0.55 VMAF per CRF at a loss of ~7) and
    # issue 24's film (37 segments at preset 8, CRF 32/37/42: the pivot, k's spread 0.024 with 0.008 left).
    # Half-size probes (every 3rd frame scored): on the film at 640x360 (probes 320 wide) r 1.28 against 1.41
    # full size, sd of ln r 0.063 against 0.073 (`bench probes`); on the 44 s clip at 720p (probes 640 wide)
    # the finals showed r 0.94–1.26 (medians 1.07 and 1.05 of 7 segments in two runs): 0.77 × 1.41 = 1.09.
    ("svt-av1", "vmaf"): Calibration(
        pivot_crf=48.5,
        pivot_loss=11.3,
        k_range=(0.03, 0.12),
        near_pivot=0.85,
        prior_k=0.06,
        prior_r=1.41,
        half_size_factors=((320, 0.91), (640, 0.77)),
    ),
    # SVT-AV1 / XPSNR: `bench calibrate --metric xpsnr` on the film (benchmarks/calibrate-svt-xpsnr.txt). k is
    # nearly one number (median 0.0201, sd 0.0016: 0.175 dB per CRF), so no pivot (the line to the best one left
    # a spread of 0.008, five times k's own); r 1.178 with sd 0.023 in ln r; 35 dB lands near CRF 42.
    ("svt-av1", "xpsnr"): Calibration(
        pivot_crf=None,
        pivot_loss=0.0,
        k_range=(0.015, 0.027),
        near_pivot=1.0,
        prior_k=0.020,
        prior_r=1.178,
        first_crf=42.0,
    ),
    # libaom / VMAF: `bench calibrate --encoder aom-av1 --crfs 28,34,40 --every 3` (13 segments of the film at
    # cpu-used 6, probes at 8; benchmarks/calibrate-aom.txt). The lines meet (k sd 0.020, 0.0065 left by the
    # pivot); r is near 1 (the presets are close) but spreads (sd 0.175 in ln r): the final's measurement
    # corrects what the probe misses.
    ("aom-av1", "vmaf"): Calibration(
        pivot_crf=47.5,
        pivot_loss=12.83,
        k_range=(0.035, 0.12),
        near_pivot=0.85,
        prior_k=0.068,
        prior_r=1.049,
        r_gap=2,
        first_crf=37.0,
    ),
    # libaom / XPSNR: the same run. k nearly one number (median 0.0219, sd 0.0012), no pivot; r 0.979 (sd 0.028).
    ("aom-av1", "xpsnr"): Calibration(
        pivot_crf=None,
        pivot_loss=0.0,
        k_range=(0.017, 0.028),
        near_pivot=1.0,
        prior_k=0.0219,
        prior_r=0.979,
        r_gap=2,
        first_crf=40.0,
    ),
}


def calibration(encoder: str, metric: str) -> Calibration:
    try:
        return CALIBRATIONS[(encoder, metric)]
    except KeyError:
        known = ", ".join(f"{e}/{m}" for e, m in CALIBRATIONS)
        raise ValueError(f"no calibration for {encoder}/{metric} (measured: {known})") from None


__all__ = ["CALIBRATIONS", "Calibration", "calibration"]
