"""Splitting a video into segments that follow scenes, whatever the source's keyframes.

Cut points come from FFmpeg's scene scores (threshold lower for HDR, where contrast is compressed) or a fixed
length, merged when closer than processing.min_segment and split evenly when longer than processing.max_segment.
A cut moves onto a keyframe within processing.cut_tolerance seconds (a stream copy can only cut there, for
free); where no keyframe is that close (long-GOP sources: a film with one keyframe, 10 s GOPs), it stays where
the scene changes and the source is cut exactly by decoding.

Both kinds of cut in one pass each: the segment muxer stream-copies the film into runs at the keyframe cuts;
each run holding exact cuts is decoded once into lossless pieces cut at those frames (their timestamps kept),
and the run file is dropped. The pieces are lossless H.264 (x264 -qp 0, superfast, an IDR forced at each cut:
inter prediction keeps them ~4x smaller than all-intra FFV1, measured on Big Buck Bunny 720p), or FFV1 for
pixel formats x264 cannot hold losslessly. Only the GOPs that need it are decoded, so a normal source costs what
it did, and a long-GOP one a decode and a fast lossless encode of the runs concerned (and their lossless size in
temp space). Every video packet lands in exactly one segment; the counts are checked, not assumed.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from drapto_tui.errors import MediaError
from drapto_tui.media.ffmpeg import FfmpegError, FfmpegProcess, FfmpegProgress, fraction_listener, run_ffmpeg
from drapto_tui.model.segment import Segment

#: Hears how far a step has got, 0 to 1 (the scene pass, the stream copy): a long film spends minutes in them.
OnProgress = Callable[[float], None]


@dataclass
class PacketIndex:
    """Presentation times of the video packets, and which are keyframes (from one stream-copy pass)."""

    times: list[float]
    keyframes: list[float]
    sizes: list[int] | None = None  # bytes of each packet, in the order of `times`
    hidden: int = 0  # packets decoded but never shown (an MP4 edit list's pre-roll): not in `times`
    #: Keyframes that are not clean places to cut, left out of `keyframes`: in decode order they are followed by
    #: pictures shown before them (an open GOP's leading pictures: HEVC's RASL after a CRA, H.264's B-frames
    #: after a recovery point), which refer to the GOP before. A stream copy cut there starts a segment that
    #: cannot decode them, and the film would come out frames short; a cut near one is made exactly instead.
    open_keyframes: list[float] = field(default_factory=list)
    #: Where the first shown frame sits on the timeline FFmpeg reports for this source (a video that starts
    #: after its audio, a B-frame delay): `times` count from it, and so must every other pass's times.
    origin: float = 0.0

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

    def extent(self) -> float:
        """Where the video itself ends: its last frame's time plus that frame's duration (the step before it).
        A container may last longer (audio longer than the picture, a wrong Matroska Duration): segments and
        their samples are planned over the picture, never past its last frame."""
        if len(self.times) < 2:
            return self.times[-1] + 1 / 24 if self.times else 0.0
        steps = sorted(b - a for a, b in itertools.pairwise(self.times[-9:]) if b > a)
        return self.times[-1] + (steps[len(steps) // 2] if steps else 0.0)


_FRAMECRC_HEADER_TB = re.compile(r"^#tb 0: (\d+)/(\d+)")


async def index_packets(
    ffmpeg: str,
    source: Path,
    stream: int = 0,
    *,
    on_progress: OnProgress | None = None,
    duration: float = 0.0,
    listing: Path | None = None,
) -> PacketIndex:
    """Every shown video packet's pts and keyframe flag via `-c copy -f framecrc` (reads, decodes nothing).

    Packets flagged discard (0x4) are the pre-roll an MP4 edit list hides (a stream-copied cut starts at the
    keyframe before the cut): decoded as references, never shown, so not frames of the film.

    It reads the whole file at the disk's pace (a 2-hour remux: a minute or more). With `on_progress`, the
    film's `duration` and a `listing` file to write the packet list to (FFmpeg's progress then has its standard
    output), that listener hears how far it has read."""
    if on_progress is None or duration <= 0:
        listing = None  # the list comes on standard output
    result = await run_ffmpeg(
        [ffmpeg, "-y", "-i", str(source), "-map", f"0:v:{stream}", "-c", "copy", "-f", "framecrc",
         str(listing) if listing is not None else "-"],
        what="reading keyframes",
        subject=str(source),
        capture_stdout=listing is None,
        on_progress=fraction_listener(on_progress) if listing is not None else None,
        duration=duration if listing is not None else None,
    )  # fmt: skip
    if listing is not None:
        text = listing.read_text(encoding="utf-8", errors="replace")
        listing.unlink(missing_ok=True)
    else:
        text = result.stdout or ""
    num, den = 1, 1
    packets: list[tuple[float, int]] = []  # in decode order (as the stream copy reads them), sorted below
    keyframes: list[float] = []
    leading: set[float] = set()  # keyframes followed in decode order by a picture shown before them
    last_keyframe: float | None = None
    hidden = 0
    for line in text.splitlines():
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
        if flags is not None and int(flags[2:], 16) & 0x4:
            hidden += 1
            packets.pop()
            continue
        if flags is None or int(flags[2:], 16) & 0x1:
            keyframes.append(pts)
            last_keyframe = pts
        elif last_keyframe is not None and pts < last_keyframe and keyframes[0] != last_keyframe:
            leading.add(last_keyframe)  # (the film's first keyframe is where every decode starts anyway)
    if not packets:
        raise MediaError("no video packets found", subject=str(source), hint="the file may be damaged")
    start = min(t for t, _ in packets)
    packets.sort()
    return PacketIndex(
        times=[t - start for t, _ in packets],
        keyframes=sorted({k - start for k in keyframes if k not in leading}),
        sizes=[n for _, n in packets],
        hidden=hidden,
        open_keyframes=sorted(k - start for k in leading),
        origin=start,
    )


_PTS_TIME_RE = re.compile(r"pts_time:([\d.]+)")
_SCORE_RE = re.compile(r"lavfi\.scene_score=([\d.]+)")


#: A film is scene-scored in time ranges of at least this many seconds, all at once: the pass is a decode, one
#: FFmpeg decodes on about one and a half cores, and everything else waits for it (issue 28's model of a 2-hour
#: film: 60 % of the coordinator's own work). Shorter films are one range.
SCENE_RANGE_SECONDS = 60.0
#: A range is decoded from a keyframe at least this long before its first frame, so that the frame on its
#: boundary is scored against the one before it, as in one pass (a source of all keyframes: 1 s before).
SCENE_LEAD_SECONDS = 1.0


@dataclass(frozen=True)
class SceneRange:
    """One FFmpeg's share of the scene pass: it decodes from `seek` (a keyframe; None: the film's start) for
    `read` seconds (None: to the end) and keeps the changes in [keep_from, keep_to)."""

    seek: float | None
    read: float | None
    keep_from: float
    keep_to: float | None


def scene_ranges(
    keyframes: list[float], duration: float, cores: int, *, range_seconds: float = SCENE_RANGE_SECONDS
) -> list[SceneRange]:
    """The film split at keyframes into at most `cores` ranges of at least `range_seconds` (one range when it
    is shorter, has too few keyframes, or one core is all there is)."""
    parts = min(cores, int(duration // range_seconds)) if range_seconds > 0 else cores
    bounds: list[float] = []
    for i in range(1, max(parts, 1)):
        k = _snap(duration * i / parts, keyframes) if keyframes else 0.0
        if k > (bounds[-1] if bounds else 0.0) and k < duration:
            bounds.append(k)
    if not bounds:
        return [SceneRange(seek=None, read=None, keep_from=0.0, keep_to=None)]
    ranges: list[SceneRange] = []
    edges = [0.0, *bounds]
    for i, start in enumerate(edges):
        end = edges[i + 1] if i + 1 < len(edges) else None
        seek: float | None = None
        if i:
            i_kf = bisect.bisect_right(keyframes, start - SCENE_LEAD_SECONDS) - 1
            seek = keyframes[i_kf] if i_kf >= 0 else None
        read = None if end is None else end - (seek or 0.0) + SCENE_LEAD_SECONDS
        ranges.append(SceneRange(seek=seek, read=read, keep_from=start, keep_to=end))
    return ranges


async def detect_scenes(
    ffmpeg: str,
    source: Path,
    threshold: float,
    stream: int = 0,
    *,
    index: PacketIndex | None = None,
    cores: int = 1,
    range_seconds: float = SCENE_RANGE_SECONDS,
    on_progress: OnProgress | None = None,
    skip_b_frames: bool = False,
) -> list[float]:
    """Times where FFmpeg's scene score exceeds `threshold` (pictures wider than 960 scored at 480 wide: scene
    scores barely change, and a small picture costs more to scale than to score).

    The decoder skips its loop filter: deblocking smooths block edges a scene score does not see, and decoding is
    most of this pass (an H.264 film at 360p: 5.6 s as it was, 5.2 s without the loop filter, 4.75 s without
    scaling it to 480 as well; the same 77 cuts). Given the keyframes, a film longer than two ranges is scored
    in ranges on `cores` cores at once (scene_ranges; that film: 4.3 s in one pass, 3.1 s in two ranges on
    two cores, the same 77 cuts).

    Times count from the film's first frame, as the index's (index.origin: FFmpeg's own timeline starts
    elsewhere when the video starts after the audio, and a scene change at 3 s was put at 3.5 s)."""
    if index is None:
        index = PacketIndex(times=[], keyframes=[])
    extent = index.extent()
    ranges = scene_ranges(index.keyframes, extent, cores, range_seconds=range_seconds)
    threads = max(1, cores // len(ranges)) if len(ranges) > 1 else 0
    meter = RangesMeter(ranges, extent, on_progress)
    gap = frame_gap(index) if skip_b_frames else None
    found = await asyncio.gather(
        *(
            _scene_changes(
                ffmpeg, source, threshold, stream, part, threads, index.origin, meter.part(i), skip_gap=gap
            )
            for i, part in enumerate(ranges)
        )
    )
    return sorted(t for part in found for t in part)


class RangesMeter:
    """The scene pass's progress over all its ranges at once: each range's FFmpeg reports its own, weighted by
    the seconds it reads."""

    def __init__(self, ranges: list[SceneRange], extent: float, on_progress: OnProgress | None) -> None:
        self.spans = [part.read or max(extent - (part.seek or 0.0), 0.0) for part in ranges]
        self.done = [0.0] * len(ranges)
        self.on_progress = on_progress

    def part(self, i: int) -> tuple[float, Callable[[FfmpegProgress], None] | None]:
        """What range i's FFmpeg needs: the seconds it reads (its progress's duration) and its listener."""
        if self.on_progress is None or not self.spans[i]:
            return self.spans[i], None

        def heard(progress: FfmpegProgress) -> None:
            # Never back: a range scored again in full (_scene_changes) starts its FFmpeg's progress from 0.
            self.done[i] = max(self.done[i], progress.fraction or 0.0)
            total = sum(self.spans)
            if self.on_progress is not None and total:
                self.on_progress(sum(d * s for d, s in zip(self.done, self.spans, strict=True)) / total)

        return self.spans[i], heard


#: What a decoder told to skip B-frames may say of an H.264 stream and still have decoded every other picture
#: exactly: x264's B-pyramid makes some B-frames references, so the decoder is later told to drop one it never
#: kept. Anything else it says ("Missing reference picture": a P-frame that refers to a skipped B-frame, as
#: x264 with more references makes them) means a picture may be wrong, and the range is scored again in full.
_SKIPPING_HARMLESS = ("mmco: unref short failure",)
_DECODER_SAID_RE = re.compile(r"\[h264 @ [^\]]*\] (.*)")
_LATE_KEY = "drapto.late"


def _doubtful(line: str) -> bool:
    """A line of a pass without B-frames that says a change may be misplaced or a picture wrong."""
    said = _DECODER_SAID_RE.search(line)
    return _LATE_KEY in line or (said is not None and not said.group(1).startswith(_SKIPPING_HARMLESS))


def frame_gap(index: PacketIndex) -> float | None:
    """How far apart two pictures that follow each other may be shown (half as far again as the closest two):
    any further apart and a picture was skipped between them."""
    gaps = [b - a for a, b in itertools.pairwise(index.times) if b > a]
    return 1.5 * min(gaps) if gaps else None


async def _scene_changes(
    ffmpeg: str,
    source: Path,
    threshold: float,
    stream: int,
    part: SceneRange,
    threads: int,
    origin: float,
    progress: tuple[float, Callable[[FfmpegProgress], None] | None] = (0.0, None),
    *,
    skip_gap: float | None = None,
) -> list[float]:
    """One range's scene changes, as times in the film (an input seek makes FFmpeg count from the seek).

    Given `skip_gap` (an H.264 source: frame_gap), the range is first scored without decoding its
    B-frames, about half of the pass's time (the issue 24 film: 6.1 s → 3.3 s on one core, the same 77
    changes). That pass is kept only where it is exact: a change is placed exactly when the picture shown just
    before it was decoded (its predecessor is no further than the gap), and a decoder that skips B-frames must
    have said nothing but _SKIPPING_HARMLESS. Otherwise (cuts that fall inside a run of B-frames, as where the
    source's encoder did not start a GOP at each scene change; B-frames used as references) the range is
    scored again with every picture. Scores at a change compare a picture with the one before it in either pass,
    but the score also weighs the pair before that, so a change scoring within a few hundredths of the threshold
    may fall on either side of it (a pass that skipped only unreferenced pictures lost a change that scored 0.312
    against 0.3 in a 60 s x264 film with 5 B-frames; on the issue 24 film and the 720p clip, none changed)."""

    async def one_pass(gap: float | None) -> list[float] | None:
        """One FFmpeg's scene pass over the range; with a `gap`, B-frames are not decoded, and None says
        the pass could not place every change exactly.

        The scored pictures are split off to a sink and every picture goes on to the output, so that FFmpeg's
        progress follows the decode (the selected pictures alone would report only the last scene change); the
        split costs nothing measurable (4.26 s against 4.28 s on the issue 24 film)."""
        window: list[str] = []
        if threads:
            window += ["-threads", str(threads)]
        if gap is not None:
            window += ["-skip_frame", "bidir"]
        seek = f"{part.seek + origin:.6f}" if part.seek is not None else None
        if seek is not None:
            window += ["-ss", seek]
        if part.read is not None:
            window += ["-t", f"{part.read:.6f}"]
        span, heard = progress
        scale = f"[0:v:{stream}]scale='if(gt(iw,960),480,iw)':-2,split[score][all];"
        if gap is None:
            select = f"[score]select='gt(scene,{threshold})',metadata=print:key=lavfi.scene_score,nullsink;"
        else:
            # A change whose predecessor was skipped goes to the second output: it may lie on a skipped picture.
            select = (
                f"[score]select=outputs=2:expr='gt(scene,{threshold})*(1+gt(t-prev_t,{gap:.6f}))'[sure][late];"
                "[sure]metadata=print:key=lavfi.scene_score,nullsink;"
                f"[late]metadata=add:key={_LATE_KEY}:value=1,metadata=print:key={_LATE_KEY},nullsink;"
            )
        args = [ffmpeg, "-skip_loop_filter", "all", *window, "-i", str(source), "-an", "-sn",
                "-filter_complex", scale + select + "[all]null[out]", "-map", "[out]", "-f", "null", "-"]  # fmt: skip
        process = FfmpegProcess(
            args,
            keep_stderr=True,
            on_progress=heard,
            duration=span or None,
            stop_when=_doubtful if gap is not None else None,  # no use going on: it is scored again
        )
        result = await process.run()
        if process.stopped:
            return None
        if result.returncode != 0:
            raise FfmpegError("scene detection", subject=str(source), result=result)
        offset = (float(seek) if seek is not None else 0.0) - origin  # the seek as FFmpeg was given it
        cuts: list[float] = []
        pending: float | None = None
        for line in (result.stderr or "").splitlines():
            if m := _PTS_TIME_RE.search(line):
                # As one pass prints it (pts_time has 6 places).
                pending = round(float(m.group(1)) + offset, 6)
            elif (m := _SCORE_RE.search(line)) and pending is not None:
                if pending >= part.keep_from - 1e-6 and (
                    part.keep_to is None or pending < part.keep_to - 1e-6
                ):
                    cuts.append(pending)
                pending = None
        return cuts

    if skip_gap is not None:
        fast = await one_pass(skip_gap)
        if fast is not None:
            return fast
    return await one_pass(None) or []  # every picture decoded: nothing is doubtful, None never comes


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
    frames: list[float] | None = None,
    tolerance: float = math.inf,
) -> list[float]:
    """Cut times (excluding 0) for scene mode (scene_cuts given) or fixed mode: a keyframe within `tolerance`
    of where the cut is wanted, else (given the frames' times) the first frame at or after it."""

    def place(t: float) -> float:
        k = _snap(t, keyframes)
        if abs(k - t) <= tolerance or not frames:
            return k
        i = bisect.bisect_left(frames, t - 1e-6)
        return frames[min(i, len(frames) - 1)]

    if scene_cuts is None:
        wanted = [chunk_size * k for k in range(1, math.ceil(duration / chunk_size))]
    else:
        wanted = list(scene_cuts)
    cuts: list[float] = []
    for t in sorted(place(t) for t in wanted):
        last = cuts[-1] if cuts else 0.0
        # Merge cuts closer than the minimum, and never leave a runt at the end.
        if t - last >= min_segment and duration - t >= min_segment:
            cuts.append(t)
    if scene_cuts is None and tolerance == math.inf:
        return cuts
    # Split spans longer than the maximum evenly, each split placed as above (on a keyframe inside the span
    # when one is close enough).
    bounds = [0.0, *cuts, duration]
    out: list[float] = []
    for a, b in itertools.pairwise(bounds):
        pieces = math.ceil((b - a) / max_segment - 1e-9)
        for k in range(1, pieces):
            t = place(a + (b - a) * k / pieces)
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
    pix_fmt: str | None = None,
    on_progress: OnProgress | None = None,
) -> list[Segment]:
    """Write the segments (video only) and check that their frames add up to the source's: stream copy at
    keyframe cuts, a lossless decode of the runs that hold cuts between keyframes. `on_progress` hears the
    stream copy's, the pass that reads the whole film."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in [*out_dir.glob("seg-*.mkv"), *out_dir.glob("run-*.mkv"), *out_dir.glob("piece-*.mkv")]:
        old.unlink()
    keyframes = set(index.keyframes)
    copy_cuts = [c for c in cuts if c in keyframes]
    runs = await _copy_runs(ffmpeg, source, out_dir, copy_cuts, stream, on_progress, index.extent())
    if len(runs) != len(copy_cuts) + 1:
        raise MediaError(
            f"the stream copy wrote {len(runs)} runs for {len(copy_cuts) + 1} planned",
            subject=str(source),
            hint="set processing.segmentation = 'fixed' or report this file",
        )
    run_bounds = [0.0, *copy_cuts]
    n = 0
    for r, run in enumerate(runs):
        start = run_bounds[r]
        end = run_bounds[r + 1] if r + 1 < len(run_bounds) else None
        inner = [c for c in cuts if c not in keyframes and c > start and (end is None or c < end)]
        # The first run of a source with hidden pre-roll is decoded from the source itself, whose edit list
        # the decoder obeys: a stream copy would carry the hidden frames into the segment as shown ones.
        from_source = r == 0 and index.hidden > 0
        if not inner and not from_source:
            run.rename(out_dir / f"seg-{n:04d}.mkv")
            n += 1
            continue
        first = sum(1 for t in index.times if t < start - 1e-6)
        at = [sum(1 for t in index.times if t < c - 1e-6) - first for c in inner]
        if from_source:
            shown = sum(1 for t in index.times if end is None or t < end - 1e-6)
            pieces = await _decode_pieces(
                ffmpeg, source, out_dir, at, pix_fmt, stream=stream, frames=shown, name=run.stem
            )
        else:
            pieces = await _decode_pieces(ffmpeg, run, out_dir, at, pix_fmt)
        run.unlink()
        for piece in pieces:
            piece.rename(out_dir / f"seg-{n:04d}.mkv")
            n += 1
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
    counted = await _count_all(ffmpeg, [Path(s.path) for s in segments])
    if sum(counted) != index.frames or len(files) != len(bounds):
        raise MediaError(
            f"segments hold {sum(counted)} frames in {len(files)} files, the source {index.frames} frames"
            f" in {len(bounds)} planned segments",
            subject=str(source),
            hint="set processing.segmentation = 'fixed' or report this file",
        )
    # Each file must hold the frames its plan says, not only all of them together: the join places each
    # segment at its planned start, so a cut made a keyframe away would shift pictures against the sound.
    moved = [(seg.index, seg.frames, k) for seg, k in zip(segments, counted, strict=True) if seg.frames != k]
    if moved:
        index_, planned, got = moved[0]
        raise MediaError(
            f"segment {index_} holds {got} frames where {planned} were planned (a cut landed elsewhere)",
            subject=str(source),
            hint="set processing.segmentation = 'fixed' or report this file",
        )
    if segments:
        segments[-1].end = max(duration, segments[-1].start)
    return segments


async def _copy_runs(
    ffmpeg: str,
    source: Path,
    out_dir: Path,
    cuts: list[float],
    stream: int,
    on_progress: OnProgress | None = None,
    extent: float = 0.0,
) -> list[Path]:
    """The film's video by stream copy, cut just before each of `cuts` (keyframes; the segment muxer counts
    from the first packet, as the index does, whatever index.origin is)."""
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
    args.append(str(out_dir / "run-%04d.mkv"))
    heard = fraction_listener(on_progress) if extent > 0 else None
    await run_ffmpeg(args, what="segmenting", subject=str(source), on_progress=heard, duration=extent or None)
    return sorted(out_dir.glob("run-*.mkv"))


#: Pixel formats libx264 encodes losslessly as they are (no conversion on the way in).
_X264_LOSSLESS = {
    "yuv420p",
    "yuv422p",
    "yuv444p",
    "yuv420p10le",
    "yuv422p10le",
    "yuv444p10le",
    "gray",
    "gray10le",
}


def _lossless_args(pix_fmt: str | None, at_frames: list[int]) -> list[str]:
    if pix_fmt in _X264_LOSSLESS:
        args = ["-c:v", "libx264", "-qp", "0", "-preset", "superfast"]
        if at_frames:
            args += ["-force_key_frames", "expr:" + "+".join(f"eq(n,{f})" for f in at_frames)]
        return args
    return ["-c:v", "ffv1", "-level", "3", "-g", "1", "-slices", "4"]


async def _decode_pieces(
    ffmpeg: str,
    run: Path,
    out_dir: Path,
    at_frames: list[int],
    pix_fmt: str | None,
    *,
    stream: int = 0,
    frames: int | None = None,
    name: str | None = None,
) -> list[Path]:
    """Decode a run (it starts on a keyframe) into lossless pieces cut before each frame number in
    `at_frames` (one piece when there is none), its first `frames` frames when given; every frame keeps its
    timestamp (passthrough: none dropped or duplicated, VFR kept)."""
    name = name or run.stem
    pattern = out_dir / f"piece-{name}-%04d.mkv"
    cut = (
        ["-segment_frames", ",".join(str(f) for f in at_frames)]
        if at_frames
        else ["-segment_time", "1000000000"]
    )
    limit = ["-frames:v", str(frames)] if frames is not None else []
    await run_ffmpeg(
        [
            ffmpeg,
            "-i",
            str(run),
            "-map",
            f"0:v:{stream}",
            *limit,
            "-an",
            "-sn",
            "-dn",
            "-fps_mode",
            "passthrough",
            *_lossless_args(pix_fmt, at_frames),
            "-f",
            "segment",
            "-segment_format",
            "matroska",
            *cut,
            "-reset_timestamps",
            "1",
            str(pattern),
        ],
        what="cutting between keyframes (lossless decode)",
        subject=str(run),
    )
    return sorted(out_dir.glob(f"piece-{name}-*.mkv"))


#: Segment files counted at once: each count is a short stream copy, mostly the FFmpeg's own start, and a film
#: has hundreds of segments (the issue 24 film's 37 took 0.5 s one after another).
COUNTS_AT_ONCE = 8


async def _count_all(ffmpeg: str, paths: list[Path]) -> list[int]:
    gate = asyncio.Semaphore(COUNTS_AT_ONCE)

    async def one(path: Path) -> int:
        async with gate:
            return await count_packets(ffmpeg, path)

    return list(await asyncio.gather(*(one(p) for p in paths)))


async def count_packets(ffmpeg: str, path: Path) -> int:
    result = await run_ffmpeg(
        [ffmpeg, "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "null", "-"],
        what="counting frames",
        subject=str(path),
        on_progress=lambda p: None,
    )
    return result.progress.frame


async def segment_in_ranges(
    ffmpeg: str,
    source: Path,
    out_dir: Path,
    rules: CutRules,
    index: PacketIndex,
    *,
    cores: int,
    on_segments: Callable[[list[Segment]], None],
    stream: int = 0,
    pix_fmt: str | None = None,
    on_progress: OnProgress | None = None,
) -> list[Segment]:
    """A long film cut range by range, so that its first segments can be encoded while the rest is still being
    scene-scored (issue 28: the scene pass was the largest part of the work no added machine shortens).

    The film is split at keyframes into ranges of about `rules.scene_range` seconds (a stream copy, while the
    ranges are scored, `cores` at once); each range is planned and cut as a film of its own (min_segment and
    max_segment hold inside it; its edges are cuts on keyframes, free) as soon as it and every range before it
    are scored, and `on_segments` hears its segments, numbered in film order. Returns every segment."""
    duration = index.extent()
    ranges = film_ranges(index, rules)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("seg-*.mkv"):
        old.unlink()
    for left in out_dir.glob("range-*"):  # a killed run's
        shutil.rmtree(left)
    gate = asyncio.Semaphore(max(cores, 1))
    threads = 1 if cores > 1 else 0
    meter = RangesMeter(ranges, duration, on_progress)  # the scene pass: the step's long part

    threshold, gap = rules.scene_threshold, frame_gap(index) if rules.skip_b_frames else None

    async def scored(i: int, part: SceneRange) -> list[float]:
        async with gate:
            return await _scene_changes(
                ffmpeg, source, threshold, stream, part, threads, index.origin, meter.part(i), skip_gap=gap
            )

    scoring = [asyncio.create_task(scored(i, part)) for i, part in enumerate(ranges)]
    try:
        runs_dir = out_dir / "range-runs"
        runs_dir.mkdir()
        runs = await _copy_runs(ffmpeg, source, runs_dir, [r.keep_from for r in ranges[1:]], stream)
        if len(runs) != len(ranges):
            raise MediaError(
                f"the stream copy wrote {len(runs)} ranges for {len(ranges)} planned",
                subject=str(source),
                hint="set processing.segmentation = 'fixed' or report this file",
            )
        segments: list[Segment] = []
        for i, (part, run, task) in enumerate(zip(ranges, runs, scoring, strict=True)):
            scenes = await task
            start = part.keep_from
            end = part.keep_to
            sub = await index_packets(ffmpeg, run)  # the range as its own film (its times, its keyframes)
            planned = sum(1 for t in index.times if t >= start - 1e-6 and (end is None or t < end - 1e-6))
            if sub.frames != planned:  # the copy cut somewhere else than the keyframe planned
                raise MediaError(
                    f"range {i} holds {sub.frames} frames where {planned} were planned",
                    subject=str(source),
                    hint='set processing.cut_in_ranges = "never" or report this file',
                )
            length = (end if end is not None else duration) - start
            cuts = plan_cuts(
                length,
                sub.keyframes,
                scene_cuts=[t - start for t in scenes],
                chunk_size=rules.chunk_size,
                min_segment=rules.min_segment,
                max_segment=rules.max_segment,
                frames=sub.times,
                tolerance=rules.cut_tolerance,
            )
            work = out_dir / f"range-{i:04d}"
            pieces = await split(ffmpeg, run, work, cuts, sub, length, 0, pix_fmt)
            run.unlink(missing_ok=True)
            batch: list[Segment] = []
            for piece in pieces:
                n = len(segments)
                final = out_dir / f"seg-{n:04d}.mkv"
                Path(piece.path).replace(final)
                seg = piece.model_copy(
                    update={
                        "index": n,
                        "start": piece.start + start,
                        "end": piece.end + start,
                        "path": str(final),
                    }
                )
                segments.append(seg)
                batch.append(seg)
            work.rmdir()
            on_segments(batch)
        runs_dir.rmdir()
    except BaseException:
        for task in scoring:
            task.cancel()
        await asyncio.gather(*scoring, return_exceptions=True)
        raise
    # Every range held the frames the film's index puts in it, and split checked each range's segments.
    return segments


def film_ranges(index: PacketIndex, rules: CutRules) -> list[SceneRange]:
    """The film's ranges when it is cut range by range: as many as whole `rules.scene_range`s fit in it."""
    duration = index.extent()
    span = rules.scene_range
    return scene_ranges(index.keyframes, duration, max(int(duration // span), 1), range_seconds=span)


def cuts_in_ranges(index: PacketIndex, rules: CutRules) -> bool:
    """Whether segment_in_ranges fits this film: scene mode, at least two ranges, and nothing a range-wise stream
    copy would get wrong (an edit list's hidden pre-roll, open GOPs: those take the one-pass way)."""
    if rules.mode != "scene" or index.hidden or index.open_keyframes:
        return False
    return len(film_ranges(index, rules)) > 1


@dataclass(frozen=True)
class CutRules:
    """Where a film is cut: at scene changes (`mode` "scene", a change scoring over `scene_threshold`) or every
    `chunk_size` seconds ("fixed"), into pieces of `min_segment` to `max_segment` seconds; a cut further than
    `cut_tolerance` seconds from any keyframe is made exactly, by decoding; a long film is first split at
    keyframes into ranges of about `scene_range` seconds (segment_in_ranges)."""

    mode: str
    chunk_size: float
    min_segment: float
    max_segment: float
    scene_threshold: float = 0.3
    cut_tolerance: float = math.inf
    #: A film longer than two of these (s) is scene-scored in ranges of about this length, split at keyframes.
    scene_range: float = SCENE_RANGE_SECONDS
    #: Score the scenes first without decoding B-frames (an H.264 source: see _scene_changes).
    skip_b_frames: bool = False


async def segment_video(
    ffmpeg: str,
    source: Path,
    out_dir: Path,
    rules: CutRules,
    *,
    duration: float,
    stream: int = 0,
    pix_fmt: str | None = None,
    on_step: Callable[[str], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    cores: int = 1,
    on_segments: Callable[[list[Segment], float], None] | None = None,
    by_ranges: bool = False,
    on_progress: OnProgress | None = None,
) -> list[Segment]:
    """The film cut into segments by `rules`. `stream` is the film among the source's video streams
    (MediaProbe.video_stream); `duration` is used when the picture's own end cannot be read; `on_note` hears
    what the user should know about how it was cut; `cores`: how many the scene pass may use at once.

    `on_segments` hears the segments with where the film's picture ends: all of them at the end, or, `by_ranges`
    and the film long enough, each range's as soon as they are cut (segment_in_ranges)."""
    step = on_step or (lambda name: None)
    step("reading keyframes")
    out_dir.mkdir(parents=True, exist_ok=True)
    index = await index_packets(
        ffmpeg,
        source,
        stream,
        on_progress=on_progress,
        duration=duration,
        listing=out_dir / "packets.framecrc",
    )
    duration = index.extent() or duration  # the picture's own end, whatever the container says
    if on_segments is not None and by_ranges and cuts_in_ranges(index, rules):
        parts = len(film_ranges(index, rules))
        step(f"scene detection and cutting in {parts} ranges, {min(cores, parts)} at once")
        return await segment_in_ranges(
            ffmpeg,
            source,
            out_dir,
            rules,
            index,
            cores=cores,
            on_segments=lambda batch: on_segments(batch, duration),
            stream=stream,
            pix_fmt=pix_fmt,
            on_progress=on_progress,
        )
    segments = await _segment_at_once(
        ffmpeg,
        source,
        out_dir,
        rules,
        index,
        duration,
        stream=stream,
        pix_fmt=pix_fmt,
        step=step,
        on_note=on_note,
        cores=cores,
        on_progress=on_progress,
    )
    if on_segments is not None:
        on_segments(segments, duration)
    return segments


async def _segment_at_once(
    ffmpeg: str,
    source: Path,
    out_dir: Path,
    rules: CutRules,
    index: PacketIndex,
    duration: float,
    *,
    stream: int,
    pix_fmt: str | None,
    step: Callable[[str], None],
    on_note: Callable[[str], None] | None,
    cores: int,
    on_progress: OnProgress | None = None,
) -> list[Segment]:
    """The whole film scene-scored (in ranges at once when long), planned and cut in one go; `on_progress`
    hears each of the two steps' own progress (a new step starts again from 0)."""
    mode = rules.mode
    if mode == "scene":
        parts = len(scene_ranges(index.keyframes, duration, cores, range_seconds=rules.scene_range))
        step("scene detection" + (f" ({parts} parts at once)" if parts > 1 else ""))
    scenes = (
        await detect_scenes(
            ffmpeg,
            source,
            rules.scene_threshold,
            stream,
            index=index,
            cores=cores,
            range_seconds=rules.scene_range,
            on_progress=on_progress,
            skip_b_frames=rules.skip_b_frames,
        )
        if mode == "scene"
        else None
    )
    # Open GOPs (x265's default, for one): an exact cut near an open keyframe would decode everything from the
    # last closed one, which may be the film's start (a lossless copy of the whole film in the temp folder).
    # Cuts then go only where a GOP is closed: fewer, longer segments, but every frame.
    tolerance = math.inf if index.open_keyframes else rules.cut_tolerance
    cuts = plan_cuts(
        duration,
        index.keyframes,
        scene_cuts=scenes,
        chunk_size=rules.chunk_size,
        min_segment=rules.min_segment,
        max_segment=rules.max_segment,
        frames=index.times,
        tolerance=tolerance,
    )
    if index.open_keyframes and on_note is not None:
        total = len(index.open_keyframes) + len(index.keyframes)
        on_note(
            f"{len(index.open_keyframes)} of {total} keyframes open a GOP whose first pictures refer back (an"
            f" open GOP): a cut there would lose them, so the film is cut only where a GOP is closed, into"
            f" {len(cuts) + 1} segment{'s' if cuts else ''}"
        )
    keyframes = set(index.keyframes)
    exact = sum(1 for c in cuts if c not in keyframes)
    step(
        f"cutting {len(cuts) + 1} segments" + (f" ({exact} cuts between keyframes, decoded)" if exact else "")
    )
    return await split(ffmpeg, source, out_dir, cuts, index, duration, stream, pix_fmt, on_progress)
