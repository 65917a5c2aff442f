from __future__ import annotations

from pathlib import Path

import pytest

from drapto_tui.engine.store import StateStore
from drapto_tui.media.segment import Segment
from drapto_tui.model.segment import VideoSettings
from drapto_tui.quality.crf_search import CrfSearch, SearchError, SearchSettings, escalate, sample_starts
from tests.media_helpers import MediaFactory


def test_sample_positions_follow_the_formula() -> None:
    # D = 20, n = 3, d = 2: gap = (20 - 6) / 4 = 3.5 → 3.5, 9.0, 14.5
    assert sample_starts(20.0, 3, 2.0) == pytest.approx([3.5, 9.0, 14.5])
    starts = sample_starts(60.0, 4, 2.0)
    gaps = [b - a - 2.0 for a, b in zip([-2.0, *starts], [*starts, 60.0], strict=False)]
    assert gaps == pytest.approx([gaps[0]] * 5)  # evenly spaced, equal margins


def test_escalation_steps() -> None:
    base = SearchSettings(target=93, samples=3, sample_duration=2.0)
    assert escalate(base, 1) == base
    second = escalate(base, 2)
    assert (second.samples, second.sample_duration, second.target) == (5, 3.0, 93)
    third = escalate(base, 3)
    assert (third.samples, third.target) == (5, 94.0)


@pytest.fixture(scope="module")
def clip(media: MediaFactory) -> Path:
    return media.clip(width=320, height=180, duration=6, fps=24, source="testsrc2", audio=None, gop=24)


def _search(clip: Path, ffmpeg: str, work: Path, cache=None, **overrides) -> CrfSearch:
    settings = SearchSettings(
        **{
            "target": 93.0,
            "tolerance": 1.0,
            "samples": 2,
            "sample_duration": 1.0,
            "max_encoded_percent": 1000.0,
            "n_subsample": 2,
            **overrides,
        }
    )
    seg = Segment(index=0, start=0.0, end=6.0, frames=144, path=str(clip))
    probes: list = []
    search = CrfSearch(
        ffmpeg=ffmpeg,
        segment=seg,
        work_dir=work,
        settings=settings,
        video=VideoSettings(preset=12, crf=0),
        width=320,
        height=180,
        identity="test-clip",
        cache=cache,
        on_probe=probes.append,
    )
    search.seen = probes  # type: ignore[attr-defined]
    return search


async def test_search_converges_within_tolerance_and_cache_skips_every_probe(
    clip: Path, ffmpeg: str, tmp_path: Path
) -> None:
    store = StateStore(tmp_path / "state")
    search = _search(clip, ffmpeg, tmp_path / "w1", cache=store)
    assert not search.full_pass  # 2 x 1 s of 6 s: samples
    result = await search.run()
    chosen = next(p for p in result.probes if p.crf == result.crf)
    accepted_window = 93.0 <= chosen.score <= 94.0
    adjacent = any(p.crf == result.crf + 0.25 and p.score < 93.0 for p in result.probes)
    assert accepted_window or adjacent
    assert result.score >= 93.0 and len(result.probes) <= 8
    assert all(not p.cached for p in result.probes)
    assert len(search.seen) == len(result.probes)  # every probe was reported
    crfs = [p.crf for p in result.probes]
    assert all((c * 4) == int(c * 4) for c in crfs)  # quarter-CRF grid

    # A retry/resume of the same segment: every probe comes from the cache, no encode runs.
    again = _search(clip, ffmpeg, tmp_path / "w2", cache=store)
    result2 = await again.run()
    assert result2.crf == result.crf and all(p.cached for p in result2.probes)
    assert not (tmp_path / "w2").exists()  # not even the samples were cut


async def test_warm_start_from_previous_segment_needs_fewer_probes(
    clip: Path, ffmpeg: str, tmp_path: Path
) -> None:
    cold = await _search(clip, ffmpeg, tmp_path / "cold").run()
    warm_search = _search(clip, ffmpeg, tmp_path / "warm")
    warm_search.start_crf = cold.crf
    warm = await warm_search.run()
    assert abs(warm.crf - cold.crf) <= 1.0
    assert len(warm.probes) <= len(cold.probes)


async def test_full_pass_keeps_its_encode(clip: Path, ffmpeg: str, tmp_path: Path) -> None:
    search = _search(clip, ffmpeg, tmp_path / "full", samples=3, sample_duration=2.0)
    assert search.full_pass  # 3 x 2 s >= 85 % of 6 s
    result = await search.run()
    assert result.full_pass_encode is not None and result.full_pass_encode.exists()


async def test_min_crf_failing_is_an_error(clip: Path, ffmpeg: str, tmp_path: Path) -> None:
    with pytest.raises(SearchError, match="even CRF 50 scores VMAF"):
        await _search(clip, ffmpeg, tmp_path / "x", min_crf=50.0, max_crf=60.0, target=99.0).run()


async def test_a_big_segment_is_not_a_failure(clip: Path, ffmpeg: str, tmp_path: Path) -> None:
    """Over the size share, a segment still gets a CRF that meets the target (the whole film is judged later),
    and the search ends at the highest passing CRF it found rather than the window's middle."""
    result = await _search(clip, ffmpeg, tmp_path / "y", max_encoded_percent=1.0).run()
    passing = [p for p in result.probes if p.score >= 93.0]
    assert result.score >= 93.0 and result.crf == max(p.crf for p in passing)


async def test_partial_probe_encodes_and_scores_only_its_runs(
    clip: Path, ffmpeg: str, tmp_path: Path
) -> None:
    """probe_share 0.3 in 3 runs: 0.6 s each of the 6 s segment, every frame of them scored (n_subsample 1),
    each run's encode and VMAF in one FFmpeg run; the same settings without loopback probe the whole segment."""
    settings = {
        "strategy": "predict",
        "probe_share": 0.3,
        "probe_runs": 3,
        "n_subsample": 1,
        "full_pass_share": 1e-9,
    }
    runs = _search(clip, ffmpeg, tmp_path / "runs", **settings)
    runs.one_pass = True
    assert runs.in_runs
    probe = await runs.probe(40.0)
    assert 3 * 14 <= probe.frame_scores_count <= 3 * 15  # 0.6 s at 24 fps, per run
    assert not probe.full_pass and 50 < probe.score < 100
    assert not list((tmp_path / "runs").glob("*.mkv"))  # the runs' encodes are gone once scored

    whole = _search(clip, ffmpeg, tmp_path / "whole", **settings)
    assert not whole.in_runs  # no loopback decoders: a part could not be scored against the same part
    assert (await whole.probe(40.0)).frame_scores_count == 144


async def test_a_half_size_probe_encodes_and_scores_a_quarter_of_the_pixels(
    media: MediaFactory, ffmpeg: str, tmp_path: Path
) -> None:
    """A 640x360 segment probed at 320x180: the same frames scored as at full size (every 3rd here), far
    fewer bytes at the same CRF, and a score of its own (the file's r maps it to the final's)."""
    big = media.clip(width=640, height=360, duration=2, fps=24, source="testsrc2", audio=None, gop=24)
    seg = Segment(index=0, start=0.0, end=2.0, frames=48, path=str(big))

    def probe_at(size: str | None, work: Path) -> CrfSearch:
        settings = SearchSettings(
            strategy="predict", probe_share=0.5, n_subsample=3, full_pass_share=1e-9, probe_size=size
        )
        return CrfSearch(
            ffmpeg=ffmpeg,
            segment=seg,
            work_dir=work,
            settings=settings,
            video=VideoSettings(preset=12, crf=0, scale=size),
            width=640,
            height=360,
            identity="half",
            one_pass=True,
        )

    half = await probe_at("320:180", tmp_path / "half").probe(40.0)
    full = await probe_at(None, tmp_path / "full").probe(40.0)
    assert half.frame_scores_count == full.frame_scores_count == 8  # 24 frames, every 3rd
    assert half.encoded_bytes < 0.6 * full.encoded_bytes
    assert 50 < half.score < 100 and half.score != full.score
