"""Predictive CRF choice: one fast probe per segment (two when it lands far off), mapped to the final preset.

Two regularities measured on real footage near VMAF 93 (issue 12) make one cheap probe enough:
- the loss L = 100 − VMAF is close to exponential in CRF: ln L(c) = ln L(c₀) + k·(c − c₀), so the CRF for an
  aimed loss follows from one measured point and the slope k (between two probes the same line interpolates
  within 0.2 VMAF for gaps up to 9 CRF, where a straight line in VMAF errs up to 2.4);
- a probe at a fast preset loses more than the final preset by a nearly constant ratio r: L_fast ≈ r·L_final
  (r ≈ 1.4 from preset 12 to preset 8 on three clips, ± 0.03, but it drifts with content and settings).

So: probe the segment at the probe preset and a prior CRF (the file's typical CRF, else the neighbour's), turn
its loss into the final preset's (÷ r), move along k to the aim; a second probe only when the first landed more
than FAR CRF away, and then k comes from the two probes. r starts from a prior and is learned per file by the
coordinator from every measured segment (QualityModel in the spec). A measured final below the target is
re-encoded from its own measured point, not searched again (run_segment's retries).

k is not one number per file: on the 4-minute film of issue 24 (37 segments, each encoded whole at preset 8 and
CRF 32, 37 and 42) it ranged 0.038–0.103, low for grainy live action and high for clean animation, and a file's
median put single-probe predictions up to 1 VMAF off where the landing was 5 CRF from the probe. It follows the
loss itself: the segments' ln L lines nearly meet in one point (the pivot), so a segment's own k is the slope
from its measured (or predicted) point to that pivot. That left 0.008 of k's spread of 0.024
(benchmarks/RESULTS.md, issue 24), and is clamped to a range where a point sits near the pivot.

The same model serves every metric and encoder: a metric says what its loss is (media/metrics/), and the pivot,
the slopes and the prior r are measured per encoder and metric (quality/calibration.py).

The probe encodes one run over the middle half of the segment. Measured on the same 37 segments against the
whole-segment truth: three runs over 30 % (the previous default) spread r with a standard deviation of 0.19 in
ln r, one run over 50 % 0.085, the whole segment 0.077; one run is also one encoder start instead of three. For
an 8-bit source the probe is encoded and scored in 8 bits (0.073, and a fifth cheaper): r absorbs the depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from drapto_tui.media.metrics import Metric, metric_named
from drapto_tui.model.segment import Probe, QualityModel, SearchSettings, VideoSettings, scale_size
from drapto_tui.quality.calibration import Calibration, calibration
from drapto_tui.quality.crf_search import CrfSearch

#: A probe further than this from where it lands (CRF) is followed by a second probe at the landing point.
FAR = 6.0


@dataclass(frozen=True)
class LossModel:
    """One metric's loss and one encoder's calibration for it: the arithmetic of the predictive search."""

    metric: Metric
    cal: Calibration

    @classmethod
    def of(cls, video: VideoSettings, settings: SearchSettings) -> LossModel:
        return cls(metric_named(settings.metric), calibration(video.encoder, settings.metric))

    def loss(self, score: float) -> float:
        return self.metric.loss(score)

    def score_at(self, loss: float) -> float:
        return self.metric.score_at(loss)

    def crf_for(self, aim: float, at_crf: float, at_loss: float, slope: float) -> float:
        """The CRF whose loss is the aim's on the line through (at_crf, at_loss) with d ln L / d CRF = slope."""
        return at_crf + math.log(self.loss(aim) / at_loss) / slope

    def slope_at(self, crf: float, at_loss: float) -> float:
        """The segment's own k from one point at the final preset: the slope of the line from it to the pivot,
        where the point lies in the region the pivot was measured from (clearly below it in loss, left of it
        in CRF); a point near or beyond the pivot (heavy grain scoring under VMAF 90 at CRF 41) says nothing
        about the slope, and gets the prior."""
        cal = self.cal
        if cal.pivot_crf is None or at_loss >= cal.pivot_loss * cal.near_pivot or crf > cal.pivot_crf - 4:
            return cal.prior_k
        lo, hi = cal.k_range
        k = (math.log(cal.pivot_loss) - math.log(at_loss)) / (cal.pivot_crf - crf)
        return min(max(k, lo), hi)

    def prior_loss_ratio(
        self, probe_preset: int, final_preset: int, *, half_width: int | None = None
    ) -> float:
        """r before the file taught anything: 1 when the probe is at the final preset, the calibration's r for
        the gap it was measured at (and held for wider gaps), in between in proportion to the gap; a half-size
        probe's (`half_width` wide) by the calibration's factor for that width."""
        gap = min(max(probe_preset - final_preset, 0), self.cal.r_gap)
        r = 1.0 + (self.cal.prior_r - 1.0) * gap / self.cal.r_gap
        return r * self.cal.half_size_factor(half_width) if half_width else r


def slope_between(crf_a: float, loss_a: float, crf_b: float, loss_b: float) -> float | None:
    """d ln L / d CRF through two points, None when they cannot give one (same CRF, or loss not rising)."""
    if abs(crf_b - crf_a) < 1e-6:
        return None
    k = math.log(loss_b / loss_a) / (crf_b - crf_a)
    return k if k > 0.005 else None


@dataclass
class Prediction:
    crf: float
    score: float  # the final preset's score predicted at `crf`
    probes: list[Probe]
    probe_loss: float  # the probe preset's loss predicted at `crf` (for the file's r)
    slope: float | None  # d ln L / d CRF measured between two probes, when there were two
    unsure: bool = False  # clamped to the CRF range, or extrapolated more than FAR from the nearest probe


def snap(crf: float, settings: SearchSettings) -> float:
    crf = min(max(crf, settings.min_crf), settings.max_crf)
    return round(crf / settings.step) * settings.step


async def predict_crf(
    search: CrfSearch, settings: SearchSettings, lm: LossModel, model: QualityModel, aim: float, start: float
) -> Prediction:
    """Probe with `search` (set up at the probe preset) and return the CRF predicted to score `aim` finally."""
    r = model.loss_ratio
    first = await search.probe(snap(start, settings))
    probes = [first]
    c0, probe_l0 = first.crf, lm.loss(first.score)
    k = lm.slope_at(c0, probe_l0 / r)
    crf = snap(lm.crf_for(aim, c0, probe_l0 / r, k), settings)
    measured_k: float | None = None
    if abs(crf - c0) > FAR:
        second = await search.probe(crf)
        probes.append(second)
        measured_k = slope_between(c0, probe_l0, second.crf, lm.loss(second.score))
        k = measured_k or k
        crf = snap(lm.crf_for(aim, second.crf, lm.loss(second.score) / r, k), settings)
    nearest = min(probes, key=lambda p: abs(p.crf - crf))
    probe_loss = lm.loss(nearest.score) * math.exp(k * (crf - nearest.crf))
    unsure = crf in (settings.min_crf, settings.max_crf) or abs(crf - nearest.crf) > FAR
    return Prediction(crf, lm.score_at(probe_loss / r), probes, probe_loss, measured_k, unsure)


#: A half-size probe scores every 3rd frame (at most): a quarter of the pixels makes it cheap, and on the film it
#: told the final better than every 5th (landed sd 0.40 against 0.47 VMAF, `bench probes`).
HALF_SIZE_SUBSAMPLE = 3


def half_size_probes(calibrated: bool, width: int, height: int) -> bool:
    """Whether predict's probes run at half size: where the encoder and metric were measured that way, and the
    half is at least 320x180 (smaller pictures hold too little for the metric)."""
    return calibrated and width >= 640 and height >= 360


def probe_width(settings: SearchSettings) -> int | None:
    """A half-size probe's width (None: the probes are full size)."""
    return scale_size(settings.probe_size)[0] if settings.probe_size else None


def probe_settings(settings: SearchSettings) -> SearchSettings:
    """The whole segment, every probe: probing part of it changes what the encoder does (issue 12's facts)."""
    update: dict[str, object] = {"full_pass_share": 1e-9}
    if settings.probe_size:
        update["n_subsample"] = min(settings.n_subsample, HALF_SIZE_SUBSAMPLE)
    return settings.model_copy(update=update)


def probe_video(video: VideoSettings, settings: SearchSettings) -> VideoSettings:
    """The final encode's settings at the probe preset, in 8 bits where the source has no more, and at half
    size where the search says so (everything else equal, so r is all that differs)."""
    update: dict[str, object] = {"preset": settings.probe_preset}
    if settings.score_pix_fmt:
        update["pix_fmt"] = settings.score_pix_fmt
    if settings.probe_size:
        update["scale"] = settings.probe_size
    return video.model_copy(update=update)


__all__ = [
    "FAR",
    "HALF_SIZE_SUBSAMPLE",
    "LossModel",
    "Prediction",
    "half_size_probes",
    "predict_crf",
    "probe_settings",
    "probe_video",
    "probe_width",
    "slope_between",
    "snap",
]
