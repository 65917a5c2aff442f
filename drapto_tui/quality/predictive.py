"""Predictive CRF choice: one fast probe per segment (two when it lands far off), mapped to the final preset.

Two regularities measured on real footage near VMAF 93 (issue 12) make one cheap probe enough:
- the loss L = 100 − VMAF is close to exponential in CRF: ln L(c) = ln L(c₀) + k·(c − c₀), so the CRF for an
  aimed loss follows from one measured point and the slope k (between two probes the same line interpolates
  within 0.2 VMAF for gaps up to 9 CRF, where a straight line in VMAF errs up to 2.4);
- a probe at a fast preset loses more than the final preset by a nearly constant ratio r: L_fast ≈ r·L_final
  (r ≈ 1.4 from preset 12 to preset 8 on three clips, ± 0.03, but it drifts with content and settings).

So: probe the segment at the probe preset and a prior CRF (the file's typical CRF, else the neighbour's), turn
its loss into the final preset's (÷ r), move along k to the aim; a second probe only when the first landed more
than `far` CRF away, and then k comes from the two probes. r and k start from priors and are learned per file by
the coordinator from every measured segment (QualityModel in the spec). A measured final below the target is
re-encoded from its own measured point, not searched again (run_segment's retries).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from drapto_tui.model.segment import Probe, QualityModel, SearchSettings, VideoSettings
from drapto_tui.quality.crf_search import CrfSearch

#: A probe further than this from where it lands (CRF) is followed by a second probe at the landing point.
FAR = 4.0


def loss(score: float) -> float:
    """100 − VMAF, kept positive (a perfect score would make the logarithm meaningless)."""
    return max(100.0 - score, 0.05)


def crf_for(aim: float, at_crf: float, at_loss: float, slope: float) -> float:
    """The CRF whose loss is 100 − aim on the line through (at_crf, at_loss) with d ln L / d CRF = slope."""
    return at_crf + math.log(loss(aim) / at_loss) / slope


def slope_between(crf_a: float, loss_a: float, crf_b: float, loss_b: float) -> float | None:
    """d ln L / d CRF through two points, None when they cannot give one (same CRF, or loss not rising)."""
    if abs(crf_b - crf_a) < 1e-6:
        return None
    k = math.log(loss_b / loss_a) / (crf_b - crf_a)
    return k if k > 0.005 else None


@dataclass
class Prediction:
    crf: float
    score: float  # the final preset's VMAF predicted at `crf`
    probes: list[Probe]
    probe_loss: float  # the probe preset's loss predicted at `crf` (for the file's r)
    slope: float | None  # d ln L / d CRF measured between two probes, when there were two
    unsure: bool = False  # clamped to the CRF range, or extrapolated more than FAR from the nearest probe


def snap(crf: float, settings: SearchSettings) -> float:
    crf = min(max(crf, settings.min_crf), settings.max_crf)
    return round(crf / settings.step) * settings.step


async def predict_crf(
    search: CrfSearch, settings: SearchSettings, model: QualityModel, aim: float, start: float
) -> Prediction:
    """Probe with `search` (set up at the probe preset) and return the CRF predicted to score `aim` finally."""
    r, k = model.loss_ratio, model.log_slope
    first = await search.probe(snap(start, settings))
    probes = [first]
    c0, probe_l0 = first.crf, loss(first.score)
    crf = snap(crf_for(aim, c0, probe_l0 / r, k), settings)
    measured_k: float | None = None
    if abs(crf - c0) > FAR:
        second = await search.probe(crf)
        probes.append(second)
        measured_k = slope_between(c0, probe_l0, second.crf, loss(second.score))
        k = measured_k or k
        crf = snap(crf_for(aim, second.crf, loss(second.score) / r, k), settings)
    nearest = min(probes, key=lambda p: abs(p.crf - crf))
    probe_loss = loss(nearest.score) * math.exp(k * (crf - nearest.crf))
    unsure = crf in (settings.min_crf, settings.max_crf) or abs(crf - nearest.crf) > FAR
    return Prediction(crf, 100.0 - probe_loss / r, probes, probe_loss, measured_k, unsure)


def prior_loss_ratio(probe_preset: int, final_preset: int) -> float:
    """r before the file taught anything: 1 when the probe is at the final preset, 1.41 measured from preset 12
    to 8 (and held for wider gaps), in between in proportion to the gap."""
    gap = min(max(probe_preset - final_preset, 0), 4)
    return 1.0 + 0.41 * gap / 4


def probe_settings(settings: SearchSettings) -> SearchSettings:
    """The whole segment, every probe: probing part of it changes what the encoder does (issue 12's facts)."""
    return settings.model_copy(update={"full_pass_share": 1e-9})


def probe_video(video: VideoSettings, preset: int) -> VideoSettings:
    """The final encode's settings at the probe preset (everything else equal, so r is all that differs)."""
    return video.model_copy(update={"preset": preset})


__all__ = [
    "FAR",
    "Prediction",
    "crf_for",
    "loss",
    "predict_crf",
    "prior_loss_ratio",
    "probe_settings",
    "probe_video",
    "slope_between",
    "snap",
]
