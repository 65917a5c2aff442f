"""The external ab-av1 backend: `ab-av1 crf-search --stdout-format json` per segment, same settings as ours.

ab-av1's `auto-encode` prints no JSON, so the search runs as `crf-search` (NDJSON on stdout: one
`sample-encode-done` per CRF tried, then `crf-search-done` or `crf-search-error`), and the segment is then
encoded and measured by our own code like any other, so retries and checks behave the same.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable

from drapto_tui.errors import ToolError
from drapto_tui.media.ffmpeg import FfmpegProcess
from drapto_tui.media.segment import Segment
from drapto_tui.model.segment import VideoSettings
from drapto_tui.quality.crf_search import Probe, SearchError, SearchResult, SearchSettings


def find_ab_av1(configured: str) -> str:
    found = shutil.which(configured)
    if not found:
        raise ToolError(
            "not found on PATH",
            subject=f"tools.ab_av1 = {configured}",
            hint="install ab-av1 (cargo install ab-av1) or set encoding.search_backend = 'builtin'",
        )
    return found


#: Each metric ab-av1 can aim at: its target flag, the JSON field of its score, and flags for like-for-like scoring
#: (the frame's own size, as ours is: ab-av1 scales frames under 1728x972 up to 1080p first).
AB_AV1_METRICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "vmaf": ("--min-vmaf", "vmaf", ("--vmaf-scale", "none")),
    "xpsnr": ("--min-xpsnr", "xpsnr", ()),
}


def crf_search_args(binary: str, segment: Segment, search: SearchSettings, video: VideoSettings) -> list[str]:
    flag, _, like_ours = AB_AV1_METRICS[search.metric]
    args = [
        binary,
        "crf-search",
        "-i",
        segment.path,
        "--preset",
        str(video.preset),
        flag,
        f"{search.target:g}",
        # The size limit judges the whole film (engine/strategies/chunked.py), never one segment.
        "--max-encoded-percent",
        "1000",
        "--min-crf",
        f"{search.min_crf:g}",
        "--max-crf",
        f"{search.max_crf:g}",
        "--samples",
        str(search.samples),
        "--sample-duration",
        f"{search.sample_duration:g}s",
        "--pix-format",
        video.pix_fmt,
        *like_ours,
        "--stdout-format",
        "json",
    ]
    if video.crop:
        args += ["--vfilter", f"crop={video.crop}"]
    if video.keyint:
        args += ["--keyint", str(video.keyint)]
    for param in [*video.extra_params, *[p for p in video.params.split(":") if p]]:
        args += ["--svt", param]
    return args


def parse_crf_search(
    stdout: str, metric: str, on_probe: Callable[[Probe], None] | None = None
) -> tuple[list[Probe], dict | None, str | None]:
    field = AB_AV1_METRICS[metric][1]
    probes: list[Probe] = []
    done: dict | None = None
    error: str | None = None
    for line in stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        kind = msg.get("type")
        if kind == "sample-encode-done":
            probe = Probe(
                crf=float(msg["crf"]),
                score=float(msg.get(field, 0.0)),
                encoded_bytes=int(msg.get("predicted_encode_size", 0)),
                source_bytes=int(
                    msg.get("predicted_encode_size", 0)
                    * 100
                    / max(msg.get("predicted_encode_percent", 100.0), 1e-9)
                ),
                cached=bool(msg.get("from_cache", False)),
            )
            probes.append(probe)
            if on_probe:
                on_probe(probe)
        elif kind == "crf-search-done":
            done = msg
        elif kind == "crf-search-error":
            error = str(msg.get("message", "crf-search failed"))
    return probes, done, error


async def ab_av1_search(
    binary: str,
    segment: Segment,
    search: SearchSettings,
    video: VideoSettings,
    on_probe: Callable[[Probe], None] | None = None,
) -> SearchResult:
    proc = FfmpegProcess(
        crf_search_args(binary, segment, search, video), capture_stdout=True, ffmpeg_flags=False
    )
    result = await proc.run()
    probes, done, error = parse_crf_search(result.stdout or "", search.metric, on_probe)
    if done is None:
        last = error or next((line for line in reversed(result.stderr_tail) if line.strip()), "no result")
        raise SearchError(
            f"ab-av1 crf-search: {last}",
            subject=segment.path,
            hint="lower quality.target or encoding.min_crf",
        )
    score = float(done.get(AB_AV1_METRICS[search.metric][1], 0.0))
    return SearchResult(crf=float(done["crf"]), score=score, probes=probes)


__all__ = ["ab_av1_search", "crf_search_args", "find_ab_av1", "parse_crf_search"]
