"""Whether a source's picture is all there, found before any encode: a truncated copy (the header promises 10 s,
the data stops at 4.4 s) or a damaged end (the last packet cut short) is said in one line instead of failing the
duration or frame check after a full encode.

The look is cheap for a whole file: the last few seconds of the video stream are read as packets (a stream copy,
nothing decoded) after a seek to just before the end the header declares. A whole file yields packets up to that
end and reads cleanly; a truncated one has no data there (the seek lands past the end, or falls back to the start
and runs out early), and a damaged end makes the demuxer say the file ended prematurely. Only when the tail is not
there is the whole stream read, to say where its data really ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from drapto_tui.media.ffmpeg import run_ffmpeg
from drapto_tui.model.media import MediaProbe

_TB = re.compile(r"^#tb 0: (\d+)/(\d+)")
#: What FFmpeg's demuxers say when a file stops inside a packet or an element (Matroska, MP4, MPEG-TS, ...).
_CUT_SHORT = ("ended prematurely", "partial file", "truncat", "invalid data found when processing input")


@dataclass(frozen=True)
class Damage:
    """What is wrong with a source's end: `kind` truncated or damaged, `data_end` seconds of picture there."""

    kind: str
    declared: float
    data_end: float
    detail: str

    def line(self) -> str:
        if self.kind == "truncated":
            return (
                f"truncated: the file says its picture lasts {self.declared:.1f} s, its data ends at"
                f" {self.data_end:.1f} s ({self.detail})"
            )
        return f"damaged at its end: {self.detail} (the picture's data ends at {self.data_end:.1f} s)"


def _packets(text: str) -> list[tuple[float, float]]:
    """(pts, end) of each packet in framecrc output, in seconds."""
    num, den = 1, 1
    out: list[tuple[float, float]] = []
    for line in text.splitlines():
        if line.startswith("#"):
            if m := _TB.match(line):
                num, den = int(m.group(1)), int(m.group(2))
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 6 and parts[2].lstrip("-").isdigit() and parts[3].isdigit():
            pts = int(parts[2]) * num / den
            out.append((pts, pts + int(parts[3]) * num / den))
    return out


async def _read_packets(ffmpeg: str, source: Path, stream: int, start: float | None) -> tuple[list, str]:
    seek = ["-copyts", "-ss", f"{start:.3f}"] if start is not None else ["-copyts"]
    copy = ["-map", f"0:v:{stream}", "-c", "copy", "-f", "framecrc", "-"]
    result = await run_ffmpeg(
        [ffmpeg, "-v", "warning", *seek, "-i", str(source), *copy],
        what="reading the end of the picture",
        subject=str(source),
        capture_stdout=True,
        check=False,
    )
    return _packets(result.stdout or ""), "\n".join(result.stderr_tail or [])


async def find_damage(ffmpeg: str, source: Path, media: MediaProbe) -> Damage | None:
    """None when the picture's data reaches the end its header declares and reads cleanly; else what is wrong."""
    declared = media.video_duration
    if not declared or declared <= 0:
        return None  # nothing promised to check against (a stream without a declared length)
    origin = media.start_time + media.video_offset()
    tolerance = max(2.0, 0.01 * declared)
    packets, said = await _read_packets(ffmpeg, source, media.video_stream, origin + max(0.0, declared - 4.0))
    cut_short = next((line.strip() for line in said.splitlines() if _cut_short(line)), None)
    end = max((e for _, e in packets), default=None)
    if end is not None and end - origin >= declared - tolerance and cut_short is None:
        return None
    if end is None or end - origin < declared - tolerance:
        if end is None:  # the seek landed where no data is: read the whole stream to find where it stops
            packets, said = await _read_packets(ffmpeg, source, media.video_stream, None)
            end = max((e for _, e in packets), default=origin)
        return Damage("truncated", declared, max(0.0, end - origin), "the copy stops early")
    assert cut_short is not None
    return Damage("damaged", declared, max(0.0, end - origin), f"FFmpeg: {_clean(cut_short)}")


def _cut_short(line: str) -> bool:
    lowered = line.lower()
    return any(word in lowered for word in _CUT_SHORT)


def _clean(line: str) -> str:
    """FFmpeg's message without its [demuxer @ 0x...] prefix."""
    return re.sub(r"^\[[^\]]*\]\s*", "", line).strip()


__all__ = ["Damage", "find_damage"]
