"""Is the film interlaced, and which field comes first?

The container or bitstream usually says (MediaInfo's scan type and order, FFmpeg's field order). When it is
silent (progressive-flagged streams holding woven fields: DVD rips, captures re-encoded carelessly), FFmpeg's
idet filter decides from the pictures: a few hundred frames at three points of the film, where combing shows
in most frames if the fields were woven.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from drapto_tui.media.ffmpeg import run_ffmpeg
from drapto_tui.model.media import MediaProbe

FieldOrder = Literal["tff", "bff"]

_MULTI = re.compile(r"Multi frame detection: TFF:\s*(\d+) BFF:\s*(\d+) Progressive:\s*(\d+)")


@dataclass(frozen=True)
class Interlace:
    order: FieldOrder | None  # None: progressive
    how: str  # "container" or "idet n/m frames": how it was decided, for the log and the summary

    @property
    def interlaced(self) -> bool:
        return self.order is not None


async def detect_interlace(ffmpeg: str, source: Path, media: MediaProbe, frames: int = 100) -> Interlace:
    if media.field_order is not None:
        return Interlace(media.field_order, "container")
    tff = bff = progressive = 0
    for share in (0.2, 0.5, 0.8):
        result = await run_ffmpeg(
            [
                *(ffmpeg, "-ss", f"{media.duration * share:.3f}", "-i", str(source)),
                *("-map", f"0:v:{media.video_stream}", "-frames:v", str(frames), "-an", "-sn", "-dn"),
                *("-vf", "idet", "-f", "null", "-"),
            ],
            what="interlace detection",
            subject=str(source),
            keep_stderr=True,
        )
        found = _MULTI.findall(result.stderr or "")
        if found:
            t, b, p = (int(v) for v in found[-1])
            tff, bff, progressive = tff + t, bff + b, progressive + p
    fields = tff + bff
    # Woven fields comb in most frames; a progressive film shows a few false detections at most.
    if fields >= 20 and fields > 3 * progressive:
        return Interlace("tff" if tff >= bff else "bff", f"idet {fields}/{fields + progressive} frames")
    return Interlace(None, "container" if not fields else f"idet {fields}/{fields + progressive} frames")
