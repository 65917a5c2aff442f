"""The predictive strategy: the model's arithmetic exactly, then real encodes judged by an independent libvmaf.

One fast probe (two when it lands far off) picks the CRF; a final that measures short is encoded again from its
own measured point, without probing again."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from drapto_tui.media.metrics import METRICS
from drapto_tui.model.segment import (
    ProbeReport,
    ProblemReport,
    QualityModel,
    SearchSettings,
    SegmentReport,
    VideoSettings,
)
from drapto_tui.quality.calibration import CALIBRATIONS
from drapto_tui.quality.predictive import LossModel, probe_video, slope_between, snap
from drapto_tui.quality.segment_runner import run_segment
from tests.judge import vmaf_by_index
from tests.media_helpers import MediaFactory
from tests.quality.test_segment_runner import _spec

#: SVT-AV1 judged by VMAF, the default pair.
LM = LossModel.of(VideoSettings(preset=8, crf=0), SearchSettings())
CAL = LM.cal


def test_crf_for_follows_the_log_loss_line() -> None:
    k, c0, l0 = 0.06, 30.0, 8.0
    for aim in (92.0, 93.5, 95.0):
        c = LM.crf_for(aim, c0, l0, k)
        assert math.isclose(l0 * math.exp(k * (c - c0)), 100 - aim)
    assert math.isclose(slope_between(30.0, 8.0, 36.0, 8.0 * math.exp(6 * 0.05)) or 0.0, 0.05)
    assert slope_between(30.0, 8.0, 30.0, 9.0) is None  # one CRF gives no slope
    assert slope_between(30.0, 8.0, 36.0, 7.0) is None  # loss falling with CRF: noise, not a slope
    assert LM.loss(100.0) > 0


def test_snap_stays_on_the_grid_and_in_range() -> None:
    s = SearchSettings(min_crf=10, max_crf=55, step=0.25)
    assert snap(33.13, s) == 33.25 and snap(3.0, s) == 10.0 and snap(70.0, s) == 55.0


async def test_one_probe_then_the_final(media: MediaFactory, ffmpeg: str, tmp_path: Path) -> None:
    spec = await _spec(media, ffmpeg, tmp_path, max_retries=2, scratch=str(tmp_path / "w"))
    spec = spec.model_copy(
        update={
            "search": spec.search.model_copy(update={"strategy": "predict", "tolerance": 1.0, "target": 93.0})
        }
    )
    reports: list[SegmentReport] = []
    outcome = await run_segment(spec, Path(spec.scratch), reports.append)
    probes = [r.probe for r in reports if isinstance(r, ProbeReport)]
    assert 1 <= len(probes) <= 2 and all(p.full_pass for p in probes)
    judged = vmaf_by_index(ffmpeg, Path(outcome.encoded), Path(spec.segment.path))
    assert judged >= 93.0 - spec.tolerance_below, f"the final scores {judged:.2f} by an independent libvmaf"
    # What the file learns from this segment: the fast preset's loss over the final's, a plausible ratio.
    assert outcome.observed_loss_ratio is not None and 0.5 < outcome.observed_loss_ratio < 4


async def test_a_short_final_is_encoded_again_from_its_measured_point(
    media: MediaFactory, ffmpeg: str, tmp_path: Path
) -> None:
    """A model that takes the probe preset for far worse than it is (r = 4) sends the first final far too high in CRF; the
    next attempt starts from the measured final, probes nothing, and lands at or above the floor."""
    spec = await _spec(media, ffmpeg, tmp_path, max_retries=3, scratch=str(tmp_path / "w"))
    spec = spec.model_copy(
        update={
            "search": spec.search.model_copy(
                update={"strategy": "predict", "tolerance": 1.0, "target": 93.0}
            ),
            "model": QualityModel(loss_ratio=4.0, learned_from=1),
        }
    )
    reports: list[SegmentReport] = []
    outcome = await run_segment(spec, Path(spec.scratch), reports.append)
    assert outcome.attempts >= 2
    crfs = [h["crf"] for h in outcome.history]
    assert crfs == sorted(crfs, reverse=True) and crfs[-1] < crfs[0]
    probe_attempts = {r.attempt for r in reports if isinstance(r, ProbeReport)}
    assert probe_attempts == {1}, "later attempts start from the measured final, not from new probes"
    assert outcome.score_measured >= 93.0 - spec.tolerance_below
    # Encoding again is a normal step: said as a notice (its own event kind), never as an error.
    retries = [r for r in reports if isinstance(r, ProblemReport)]
    assert retries and all(r.notice and "encoding again" in r.message for r in retries)


async def test_audit_mode_leaves_a_sure_prediction_unmeasured(
    media: MediaFactory, ffmpeg: str, tmp_path: Path
) -> None:
    """measure = if_unsure: a prediction inside the CRF range, near its probe, is encoded and reported as
    predicted (no libvmaf run); the prediction is then checked here by an independent libvmaf."""
    spec = await _spec(media, ffmpeg, tmp_path, max_retries=1, scratch=str(tmp_path / "w"))
    spec = spec.model_copy(
        update={
            "search": spec.search.model_copy(
                update={"strategy": "predict", "tolerance": 1.0, "target": 93.0}
            ),
            "measure": "if_unsure",
            "model": QualityModel(
                crf=34.0
            ),  # a start near where this clip lands: one probe, no extrapolation
        }
    )
    outcome = await run_segment(spec, Path(spec.scratch), lambda r: None)
    assert not list(Path(spec.scratch).glob("measure*.json")), "a sure prediction is not measured"
    assert outcome.score_measured is None and outcome.score_predicted >= 93.0
    judged = vmaf_by_index(ffmpeg, Path(outcome.encoded), Path(spec.segment.path))
    assert abs(judged - outcome.score_predicted) < 2.0, (judged, outcome.score_predicted)


def test_prior_loss_ratio_follows_the_preset_gap() -> None:
    prior_loss_ratio = LM.prior_loss_ratio
    assert prior_loss_ratio(12, 12) == 1.0  # a probe at the final preset loses what the final loses
    assert math.isclose(prior_loss_ratio(12, 8), 1.41)  # the measured gap
    assert math.isclose(prior_loss_ratio(12, 10), 1.205) and prior_loss_ratio(12, 4) == prior_loss_ratio(
        12, 8
    )


def test_a_segment_s_slope_is_its_line_to_the_pivot() -> None:
    """k from one point: the line through that point and the pivot, so a low-loss (clean) segment gets a steep
    slope and a high-loss (grainy) one a shallow slope, as the film's 37 segments showed; clamped near the pivot."""
    for k in (0.04, 0.07, 0.1):
        crf = 38.0
        assert CAL.pivot_crf is not None
        at_loss = CAL.pivot_loss * math.exp(-k * (CAL.pivot_crf - crf))
        assert math.isclose(LM.slope_at(crf, at_loss), k)
    assert LM.slope_at(38.0, 3.0) > LM.slope_at(38.0, 8.0)
    assert LM.slope_at(30.0, 0.5) == CAL.k_range[1]  # far below: clamped, not a wild slope
    # Near or beyond the pivot (heavy grain scoring 88.7 at CRF 41): no slope from it, the prior instead; the
    # pivot's 0.0003 there once sent a grainy segment's second encode from CRF 41 to 23.
    assert LM.slope_at(41.0, 11.28) == CAL.prior_k and LM.slope_at(CAL.pivot_crf - 1, 5.0) == CAL.prior_k


def test_every_encoder_and_metric_pair_has_its_own_calibration() -> None:
    """The constants are per pair, and a pair nobody measured is refused rather than given another's."""
    from drapto_tui.media.encoders import ENCODERS
    from drapto_tui.quality.calibration import calibration

    assert set(CALIBRATIONS) == {(e, m) for e in ENCODERS for m in METRICS}
    with pytest.raises(ValueError, match="no calibration"):
        calibration("no-such-encoder", "vmaf")


def test_an_eight_bit_source_is_probed_in_eight_bits() -> None:
    final = VideoSettings(preset=6, crf=30, pix_fmt="yuv420p10le")
    eight = SearchSettings(probe_preset=12, eight_bit_source=True)
    assert probe_video(final, eight).pix_fmt == "yuv420p" and probe_video(final, eight).preset == 12
    assert eight.score_pix_fmt == "yuv420p"
    ten = SearchSettings(probe_preset=12)
    assert probe_video(final, ten).pix_fmt == "yuv420p10le" and ten.score_pix_fmt is None
    # The probe cache never mixes the two.
    assert eight.identity() != ten.identity()


def test_a_large_enough_picture_is_probed_at_half_size_where_the_pair_was_measured_so() -> None:
    """Half size (each side even) from 640x360 up, for SVT-AV1 with VMAF, whose r at half size was measured;
    the probe then scores every 3rd frame at most, and its prior r is the calibration's half-size one."""
    from drapto_tui.media.metrics.measure import Scoring, score_graph
    from drapto_tui.model.segment import half_size
    from drapto_tui.quality.predictive import half_size_probes, probe_settings

    assert half_size(640, 360) == "320:180" and half_size(1918, 802) == "958:400"
    measured = CAL.half_size_factors is not None
    assert measured and half_size_probes(measured, 640, 360) and half_size_probes(measured, 1920, 800)
    assert not half_size_probes(measured, 638, 360) and not half_size_probes(measured, 320, 180)
    assert not half_size_probes(CALIBRATIONS[("svt-av1", "xpsnr")].half_size_factors is not None, 1920, 1080)
    # The factor by the probe's width: as measured at 320 and 640, in proportion between, held beyond.
    assert CAL.half_size_factor(320) == 0.91 and CAL.half_size_factor(640) == 0.77
    assert math.isclose(CAL.half_size_factor(480), 0.84) and CAL.half_size_factor(960) == 0.77
    assert CALIBRATIONS[("svt-av1", "xpsnr")].half_size_factor(320) == 1.0

    final = VideoSettings(preset=8, crf=30, crop="640:352:0:4")
    half = SearchSettings(probe_preset=12, probe_size="320:176", n_subsample=5)
    probe = probe_video(final, half)
    assert probe.scale == "320:176" and probe.source_filters() == "crop=640:352:0:4,scale=320:176"
    assert probe_video(final, SearchSettings(probe_preset=12)).scale is None  # full size by default
    assert probe_settings(half).n_subsample == 3
    assert probe_settings(half.model_copy(update={"n_subsample": 1})).n_subsample == 1
    # The reference is cut and shrunk as the probe's source was, and judged at the probe's size.
    scoring = Scoring.of_encode(METRICS["vmaf"], probe, width=640, height=352, n_subsample=3)
    assert (scoring.width, scoring.height) == (320, 176)
    assert "[0:v:0]setpts=PTS-STARTPTS,crop=640:352:0:4,scale=320:176," in score_graph(
        scoring, "dec:0", "0:v:0", log_name="x.log"
    )
    # Never mixed with full-size probes in the cache; the prior r is the half-size one.
    assert half.identity() != SearchSettings(probe_preset=12, n_subsample=5).identity()
    assert probe.cache_identity() != probe_video(final, SearchSettings(probe_preset=12)).cache_identity()
    assert math.isclose(LM.prior_loss_ratio(12, 8, half_width=320), 1.41 * 0.91)


async def test_eight_bit_scoring_agrees_with_an_independent_ten_bit_libvmaf(
    media: MediaFactory, ffmpeg: str, tmp_path: Path
) -> None:
    """A 10-bit encode of an 8-bit source scored in 8 bits (both pictures) reads what an independent 10-bit
    libvmaf of every frame reads, within the noise of scoring every 5th frame."""
    from drapto_tui.media.encode import EncodeRequest
    from drapto_tui.media.measured_encode import encode_and_measure
    from drapto_tui.media.metrics import Scoring
    from drapto_tui.model.segment import VideoSettings

    spec = await _spec(media, ffmpeg, tmp_path, max_retries=0, scratch=str(tmp_path / "w"))
    out = tmp_path / "final.mkv"
    settings = VideoSettings(preset=12, crf=40, pix_fmt="yuv420p10le")
    _, vmaf = await encode_and_measure(
        ffmpeg,
        EncodeRequest(Path(spec.segment.path), out, settings),
        Scoring.of_encode(
            METRICS["vmaf"],
            settings,
            width=spec.out_width,
            height=spec.out_height,
            n_subsample=1,
            pix_fmt="yuv420p",
        ),
        log_path=tmp_path / "log.json",
        one_pass=True,
    )
    judged = vmaf_by_index(ffmpeg, out, Path(spec.segment.path))
    assert abs(vmaf.pooled() - judged) < 0.3, (vmaf.pooled(), judged)
