"""Letterbox detection with FFmpeg's cropdetect, sampled across the film, majority vote.

The black limit is higher for HDR (PQ/HLG put black and near-black noise at higher code values relative to
the range than SDR does). A crop is applied only when the bars it removes exceed 1 % of the height (or width),
so noisy edges never trim a clean frame.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections import Counter
from dataclasses import dataclass

from drapto_tui.media.ffmpeg import run_ffmpeg

SDR_LIMIT = 24 / 255
HDR_LIMIT = 128 / 1023
_CROP_RE = re.compile(r"crop=(\d+):(\d+):(\d+):(\d+)")


@dataclass(frozen=True)
class CropResult:
    crop: str | None  # "w:h:x:y" for FFmpeg's crop filter, or None
    width: int
    height: int
    votes: int
    samples: int


async def detect_crop(
    ffmpeg: str,
    source: str,
    *,
    width: int,
    height: int,
    duration: float,
    hdr: bool,
    points: int = 9,
    frames_per_point: int = 24,
    stream: int = 0,
) -> CropResult:
    """cropdetect at `points` positions (skipping the first and last 5 %), majority vote.

    Keyframes only, first: at each point the decoder jumps to the nearest keyframe and decodes nothing else
    (a long-GOP source would otherwise decode a whole GOP per point: 7.6 s on a 20 s HEVC clip). When the
    film has too few keyframes for distinct samples (one or two keyframes for the whole film), the second after
    each keyframe is decoded instead."""
    limit = HDR_LIMIT if hdr else SDR_LIMIT
    usable = max(duration * 0.9, 0.0)
    starts = [duration * 0.05 + usable * (i + 0.5) / points for i in range(points)]
    seen: dict[str, tuple[int, int, int, int]] = {}
    keyframes_only = ["-copyts", "-noaccurate_seek", "-skip_frame", "nokey"]
    gate = asyncio.Semaphore(
        max(os.cpu_count() or 1, 1)
    )  # short runs: their start-up, not decoding, dominates

    async def at_point(at: float) -> list[tuple[str, tuple[int, int, int, int]]]:
        async with gate:
            return await _cropdetect(ffmpeg, source, stream, at, limit, keyframes_only, 2)

    for found in await asyncio.gather(*(at_point(at) for at in starts)):
        for t, crop in found:
            seen.setdefault(t, crop)
    votes: Counter[tuple[int, int, int, int]] = Counter(seen.values())
    samples = len(seen)
    if samples < min(points, 3):
        # Too few keyframes for distinct samples: cropdetect over the first second after each keyframe there
        # is (the frames a decoder reaches at once), never decoding into a long GOP to reach a fixed point.
        votes, samples = Counter(), 0
        for key_time in sorted({float(t) for t in seen})[:3] or [duration * 0.05]:
            found = await _cropdetect(
                ffmpeg, source, stream, key_time, limit, ["-copyts", "-noaccurate_seek"], frames_per_point
            )
            if found:
                votes[found[-1][1]] += 1
                samples += 1
    if not votes:
        return CropResult(None, width, height, 0, samples)
    (w, h, x, y), count = votes.most_common(1)[0]
    # Only crop when the bars are real: more than 1 % of the frame on that axis, and a majority agrees.
    crop_h = height - h > height * 0.01
    crop_w = width - w > width * 0.01
    if count * 2 <= sum(votes.values()) or not (crop_h or crop_w) or w <= 0 or h <= 0:
        return CropResult(None, width, height, count, samples)
    if not crop_w:
        w, x = width, 0
    if not crop_h:
        h, y = height, 0
    return CropResult(f"{w}:{h}:{x}:{y}", w, h, count, samples)


_DETECTED = re.compile(r" t:([\d.]+) .*crop=(\d+):(\d+):(\d+):(\d+)")


async def _cropdetect(
    ffmpeg: str, source: str, stream: int, at: float, limit: float, input_args: list[str], frames: int
) -> list[tuple[str, tuple[int, int, int, int]]]:
    """(frame time, w:h:x:y) for each frame cropdetect saw from `at` on."""
    result = await run_ffmpeg(
        [
            *(ffmpeg, *input_args, "-ss", f"{at:.3f}", "-i", source, "-map", f"0:v:{stream}"),
            *("-frames:v", str(frames), "-vf", f"cropdetect=limit={limit:.4f}:round=2:reset=0:skip=0"),
            *("-f", "null", "-"),
        ],
        check=False,
        keep_stderr=True,
    )
    found = []
    for m in _DETECTED.finditer(result.stderr or ""):
        t, w, h, x, y = m.groups()
        found.append((t, (int(w), int(h), int(x), int(y))))
    return found
