from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from drapto_tui.errors import ToolError
from drapto_tui.media.encode import EncodeRequest, encode_av1
from drapto_tui.media.metrics import METRICS, Scoring, measure_score
from drapto_tui.media.segment import Segment
from drapto_tui.media.tools import embedded_ffmpeg
from drapto_tui.model.segment import VideoSettings
from drapto_tui.quality.ab_av1 import ab_av1_search, crf_search_args, find_ab_av1, parse_crf_search
from drapto_tui.quality.crf_search import SearchSettings
from tests.media_helpers import MediaFactory

# NDJSON as `ab-av1 crf-search --stdout-format json` documents it (stdout-format-json.md in its repository).
SEARCH_OK = "\n".join(
    [
        '{"crf":37.5,"from_cache":false,"predicted_encode_percent":20.0,"predicted_encode_seconds":9.0,'
        '"predicted_encode_size":2000,"type":"sample-encode-done","vmaf":90.4}',
        '{"crf":30.0,"from_cache":true,"predicted_encode_percent":40.0,"predicted_encode_seconds":13.0,'
        '"predicted_encode_size":4000,"type":"sample-encode-done","vmaf":93.6}',
        '{"crf":30.0,"from_cache":true,"predicted_encode_percent":40.0,"predicted_encode_seconds":13.0,'
        '"predicted_encode_size":4000,"type":"crf-search-done","vmaf":93.6}',
    ]
)


def test_parse_crf_search_output() -> None:
    seen = []
    probes, done, error = parse_crf_search(SEARCH_OK, "vmaf", seen.append)
    assert [p.crf for p in probes] == [37.5, 30.0] and seen == probes
    assert probes[1].cached and probes[1].percent == pytest.approx(40.0)
    assert done is not None and done["crf"] == 30.0 and error is None
    probes, done, error = parse_crf_search(
        '{"message":"Failed to find a suitable crf","type":"crf-search-error"}', "vmaf"
    )
    assert done is None and error == "Failed to find a suitable crf"


def test_arguments_carry_our_settings() -> None:
    seg = Segment(index=0, start=0, end=10, frames=240, path="/tmp/seg-0000.mkv")
    args = crf_search_args(
        "ab-av1",
        seg,
        SearchSettings(target=93, samples=4, sample_duration=3),
        VideoSettings(preset=6, crf=0, crop="1920:800:0:140", params="tune=0", keyint=240),
    )
    joined = " ".join(args)
    for part in (
        "crf-search -i /tmp/seg-0000.mkv",
        "--preset 6",
        "--min-vmaf 93",
        "--max-encoded-percent 1000",  # the limit judges the whole film, never one segment
        "--samples 4",
        "--sample-duration 3s",
        "--pix-format yuv420p10le",
        "--vfilter crop=1920:800:0:140",
        "--svt tune=0",
        "--keyint 240",  # the segment's keyframe spacing, as our own encodes use
        "--vmaf-scale none",
        "--stdout-format json",
    ):
        assert part in joined


def test_missing_binary_is_a_clear_error() -> None:
    with pytest.raises(ToolError) as info:
        find_ab_av1("ab-av1-not-installed")
    assert "not found on PATH" in info.value.line() and "search_backend = 'builtin'" in info.value.line()


#: Where `bash ../shared/peers/build.sh` puts the real ab-av1 0.11.7 (built from source, offline).
PEERS_AB_AV1 = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "drapto-tui-peers/bin/ab-av1"
AB_AV1 = shutil.which("ab-av1") or (str(PEERS_AB_AV1) if PEERS_AB_AV1.exists() else None)


@pytest.mark.skipif(
    AB_AV1 is None,
    reason="ab-av1 is not built: run `bash ../shared/peers/build.sh` (about 3 minutes, offline)",
)
async def test_real_ab_av1_search(media: MediaFactory, tmp_path: Path) -> None:
    """The real binary, through our backend: its probes reach us and its CRF meets the target by our own
    independent VMAF of an encode at that CRF."""
    assert AB_AV1 is not None
    clip = media.clip(width=320, height=180, duration=6, audio=None, gop=24)
    seg = Segment(index=0, start=0, end=6, frames=144, path=str(clip))
    seen: list = []
    result = await ab_av1_search(
        find_ab_av1(AB_AV1),
        seg,
        SearchSettings(max_encoded_percent=1000),
        VideoSettings(preset=12, crf=0),
        on_probe=seen.append,
    )
    assert result.probes and seen == result.probes
    assert 10 <= result.crf <= 55 and result.score >= 93.0
    out = tmp_path / "at-crf.mkv"
    await encode_av1(embedded_ffmpeg(), EncodeRequest(clip, out, VideoSettings(preset=12, crf=result.crf)))
    vmaf = await measure_score(
        embedded_ffmpeg(), Scoring(METRICS["vmaf"], 320, 180), out, clip, log_path=tmp_path / "v.json"
    )
    assert vmaf.pooled("mean") >= 92.0, f"ab-av1's CRF {result.crf:g} scores {vmaf.pooled('mean'):.2f} here"
