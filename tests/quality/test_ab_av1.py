from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from drapto_tui.errors import ToolError
from drapto_tui.media.segment import Segment
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
    probes, done, error = parse_crf_search(SEARCH_OK, seen.append)
    assert [p.crf for p in probes] == [37.5, 30.0] and seen == probes
    assert probes[1].cached and probes[1].percent == pytest.approx(40.0)
    assert done is not None and done["crf"] == 30.0 and error is None
    probes, done, error = parse_crf_search(
        '{"message":"Failed to find a suitable crf","type":"crf-search-error"}'
    )
    assert done is None and error == "Failed to find a suitable crf"


def test_arguments_carry_our_settings() -> None:
    seg = Segment(index=0, start=0, end=10, frames=240, path="/tmp/seg-0000.mkv")
    args = crf_search_args(
        "ab-av1",
        seg,
        SearchSettings(target=93, samples=4, sample_duration=3),
        VideoSettings(preset=6, crf=0, crop="1920:800:0:140", svt_params="tune=0"),
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
        "--stdout-format json",
    ):
        assert part in joined


def test_missing_binary_is_a_clear_error() -> None:
    with pytest.raises(ToolError) as info:
        find_ab_av1("ab-av1-not-installed")
    assert "not found on PATH" in info.value.line() and "search_backend = 'builtin'" in info.value.line()


@pytest.mark.skipif(
    shutil.which("ab-av1") is None,
    reason="the ab-av1 binary is not on PATH (its registry is unreachable from this machine)",
)
async def test_real_ab_av1_search(media: MediaFactory, tmp_path: Path) -> None:
    clip = media.clip(width=320, height=180, duration=6, audio=None, gop=24)
    seg = Segment(index=0, start=0, end=6, frames=144, path=str(clip))
    result = await ab_av1_search(
        find_ab_av1("ab-av1"), seg, SearchSettings(max_encoded_percent=1000), VideoSettings(preset=12, crf=0)
    )
    assert result.score >= 93.0 and result.probes
