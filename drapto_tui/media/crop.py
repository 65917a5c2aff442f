"""Letterbox detection with FFmpeg's cropdetect, sampled across the film, majority vote.

The black limit is higher for HDR (PQ/HLG put black and near-black noise at higher code values relative to
the range than SDR does). A crop is applied only when the bars it removes exceed 1 % of the height (or width),
so noisy edges never trim a clean frame.
"""

from __future__ import annotations

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
    frames_per_point: int = 5,
    stream: int = 0,
) -> CropResult:
    """Run cropdetect at `points` positions (skipping the first and last 5 %), vote on the most common crop."""
    limit = HDR_LIMIT if hdr else SDR_LIMIT
    votes: Counter[tuple[int, int, int, int]] = Counter()
    usable = max(duration * 0.9, 0.0)
    for i in range(points):
        at = duration * 0.05 + usable * (i + 0.5) / points
        result = await run_ffmpeg(
            [
                ffmpeg,
                "-ss",
                f"{at:.3f}",
                "-i",
                source,
                "-map",
                f"0:v:{stream}",
                "-frames:v",
                str(frames_per_point),
                "-vf",
                f"cropdetect=limit={limit:.4f}:round=2:reset=0",
                "-f",
                "null",
                "-",
            ],
            check=False,
            keep_stderr=True,
        )
        found = _CROP_RE.findall(result.stderr or "")
        if found:
            x, y, w, h = (int(v) for v in found[-1])
            votes[(x, y, w, h)] += 1
    if not votes:
        return CropResult(None, width, height, 0, points)
    (w, h, x, y), count = votes.most_common(1)[0]
    # Only crop when the bars are real: more than 1 % of the frame on that axis, and a majority agrees.
    crop_h = height - h > height * 0.01
    crop_w = width - w > width * 0.01
    if count * 2 <= sum(votes.values()) or not (crop_h or crop_w) or w <= 0 or h <= 0:
        return CropResult(None, width, height, count, points)
    if not crop_w:
        w, x = width, 0
    if not crop_h:
        h, y = height, 0
    return CropResult(f"{w}:{h}:{x}:{y}", w, h, count, points)
