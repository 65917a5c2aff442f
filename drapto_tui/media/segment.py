"""Splitting a video into segments by stream copy at keyframes.

Cut points come from FFmpeg's scene scores (threshold lower for HDR, where contrast is compressed) or a fixed
length, are moved onto the source's keyframes (a stream copy can only cut there), merged when closer than
processing.min_segment and split evenly when longer than processing.max_segment. The segment muxer then writes
every video packet to exactly one segment, so the segments' frame counts add up to the source's exactly; this
is checked, not assumed.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

from drapto_tui.errors import MediaError
from drapto_tui.media.ffmpeg import run_ffmpeg
from drapto_tui.model.segment import Segment


@dataclass
class PacketIndex:
    """Presentation times of the video packets, and which are keyframes (from one stream-copy pass)."""

    times: list[float]
    keyframes: list[float]
    sizes: list[int] | None = None  # bytes of each packet, in the order of `times`

    def bytes_between(self, start: float, end: float | None) -> int | None:
        """The source's video bytes presented in [start, end)."""
        if self.sizes is None:
            return None
        return sum(
            n
            for t, n in zip(self.times, self.sizes, strict=True)
            if t >= start - 1e-6 and (end is None or t < end - 1e-6)
        )

    @property
    def frames(self) -> int:
        return len(self.times)


_FRAMECRC_HEADER_TB = re.compile(r"^#tb 0: (\d+)/(\d+)")


async def index_packets(ffmpeg: str, source: Path, stream: int = 0) -> PacketIndex:
    """Every video packet's pts and keyframe flag via `-c copy -f framecrc` (reads, decodes nothing)."""
    result = await run_ffmpeg(
        [ffmpeg, "-i", str(source), "-map", f"0:v:{stream}", "-c", "copy", "-f", "framecrc", "-"],
        what="reading keyframes",
        subject=str(source),
        capture_stdout=True,
    )
    num, den = 1, 1
    packets: list[tuple[float, int]] = []
    keyframes: list[float] = []
    for line in (result.stdout or "").splitlines():
        if line.startswith("#"):
            if m := _FRAMECRC_HEADER_TB.match(line):
                num, den = int(m.group(1)), int(m.group(2))
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 6:
            continue
        pts = int(parts[2]) * num / den
        packets.append((pts, int(parts[4])))
        # framecrc prints flags only when they differ from a plain keyframe: no "F=" or F=0x1 is a keyframe.
        flags = next((p for p in parts[6:] if p.startswith("F=")), None)
        if flags is None or int(flags[2:], 16) & 0x1:
            keyframes.append(pts)
    if not packets:
        raise MediaError("no video packets found", subject=str(source), hint="the file may be damaged")
    start = min(t for t, _ in packets)
    packets.sort()
    return PacketIndex(
        times=[t - start for t, _ in packets],
        keyframes=sorted({k - start for k in keyframes}),
        sizes=[n for _, n in packets],
    )


_PTS_TIME_RE = re.compile(r"pts_time:([\d.]+)")
_SCORE_RE = re.compile(r"lavfi\.scene_score=([\d.]+)")


async def detect_scenes(ffmpeg: str, source: Path, threshold: float, stream: int = 0) -> list[float]:
    """Times where FFmpeg's scene score exceeds `threshold` (decoded at reduced size: scene scores barely change)."""
    result = await run_ffmpeg(
        [
            ffmpeg,
            "-i",
            str(source),
            "-map",
            f"0:v:{stream}",
            "-an",
            "-sn",
            "-vf",
            f"scale=480:-2,select='gt(scene,{threshold})',metadata=print:key=lavfi.scene_score",
            "-f",
            "null",
            "-",
        ],
        what="scene detection",
        subject=str(source),
        keep_stderr=True,
    )
    cuts: list[float] = []
    pending: float | None = None
    for line in (result.stderr or "").splitlines():
        if m := _PTS_TIME_RE.search(line):
            pending = float(m.group(1))
        elif (m := _SCORE_RE.search(line)) and pending is not None:
            cuts.append(pending)
            pending = None
    return cuts


def _snap(t: float, keyframes: list[float]) -> float:
    """The keyframe nearest to t."""
    i = bisect.bisect_left(keyframes, t)
    candidates = keyframes[max(i - 1, 0) : i + 1]
    return min(candidates, key=lambda k: abs(k - t))


def plan_cuts(
    duration: float,
    keyframes: list[float],
    *,
    scene_cuts: list[float] | None,
    chunk_size: float,
    min_segment: float,
    max_segment: float,
) -> list[float]:
    """Cut times (all keyframes, excluding 0) for scene mode (scene_cuts given) or fixed mode."""
    if scene_cuts is None:
        wanted = [chunk_size * k for k in range(1, math.ceil(duration / chunk_size))]
    else:
        wanted = list(scene_cuts)
    cuts: list[float] = []
    for t in sorted(_snap(t, keyframes) for t in wanted):
        last = cuts[-1] if cuts else 0.0
        # Merge cuts closer than the minimum, and never leave a runt at the end.
        if t - last >= min_segment and duration - t >= min_segment:
            cuts.append(t)
    if scene_cuts is None:
        return cuts
    # Split scenes longer than the maximum evenly, each split moved onto a keyframe inside the scene.
    bounds = [0.0, *cuts, duration]
    out: list[float] = []
    for a, b in itertools.pairwise(bounds):
        pieces = math.ceil((b - a) / max_segment - 1e-9)
        for k in range(1, pieces):
            t = _snap(a + (b - a) * k / pieces, keyframes)
            prev = out[-1] if out else a
            if a < t < b and t - prev >= min(min_segment, (b - a) / pieces / 2) and b - t > 0:
                out.append(t)
        if b < duration:
            out.append(b)
    return sorted(set(out))


async def split(
    ffmpeg: str,
    source: Path,
    out_dir: Path,
    cuts: list[float],
    index: PacketIndex,
    duration: float,
    stream: int = 0,
) -> list[Segment]:
    """Write the segments (video only) by stream copy and check that their frames add up to the source's."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("seg-*.mkv"):
        old.unlink()
    args = [
        ffmpeg,
        "-i",
        str(source),
        "-map",
        f"0:v:{stream}",
        "-c",
        "copy",
        "-an",
        "-sn",
        "-dn",
        "-f",
        "segment",
        "-segment_format",
        "matroska",
        "-reset_timestamps",
        "1",
    ]
    if cuts:
        # Just before each keyframe: the muxer cuts at the first keyframe at or after the given time.
        args += ["-segment_times", ",".join(f"{max(t - 0.0005, 0.0):.6f}" for t in cuts)]
    else:
        args += ["-segment_time", "1000000000"]
    args.append(str(out_dir / "seg-%04d.mkv"))
    await run_ffmpeg(args, what="segmenting", subject=str(source))
    files = sorted(out_dir.glob("seg-*.mkv"))
    bounds = [0.0, *cuts]
    segments: list[Segment] = []
    for i, file in enumerate(files):
        start = bounds[i] if i < len(bounds) else bounds[-1]
        end = bounds[i + 1] if i + 1 < len(bounds) else None
        frames = sum(1 for t in index.times if t >= start - 1e-6 and (end is None or t < end - 1e-6))
        segments.append(
            Segment(
                index=i,
                start=start,
                end=end if end is not None else index.times[-1],
                frames=frames,
                path=str(file),
                source_bytes=index.bytes_between(start, end),
            )
        )
    counted = [await count_packets(ffmpeg, Path(s.path)) for s in segments]
    if sum(counted) != index.frames or len(files) != len(bounds):
        raise MediaError(
            f"segments hold {sum(counted)} frames in {len(files)} files, the source {index.frames} frames"
            f" in {len(bounds)} planned segments",
            subject=str(source),
            hint="set processing.segmentation = 'fixed' or report this file",
        )
    for seg, n in zip(segments, counted, strict=False):
        seg.frames = n
    if segments:
        segments[-1].end = max(duration, segments[-1].start)
    return segments


async def count_packets(ffmpeg: str, path: Path) -> int:
    result = await run_ffmpeg(
        [ffmpeg, "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "null", "-"],
        what="counting frames",
        subject=str(path),
        on_progress=lambda p: None,
    )
    return result.progress.frame


async def segment_video(
    ffmpeg: str,
    source: Path,
    out_dir: Path,
    *,
    duration: float,
    mode: str,
    chunk_size: float,
    min_segment: float,
    max_segment: float,
    scene_threshold: float,
    stream: int = 0,
) -> list[Segment]:
    """`stream` is the film among the source's video streams (MediaProbe.video_stream)."""
    index = await index_packets(ffmpeg, source, stream)
    scenes = await detect_scenes(ffmpeg, source, scene_threshold, stream) if mode == "scene" else None
    cuts = plan_cuts(
        duration,
        index.keyframes,
        scene_cuts=scenes,
        chunk_size=chunk_size,
        min_segment=min_segment,
        max_segment=max_segment,
    )
    return await split(ffmpeg, source, out_dir, cuts, index, duration, stream)
