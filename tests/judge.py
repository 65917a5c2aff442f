"""Judging outputs with tools other than our own probe: MediaInfo (pymediainfo, called directly) and a full
FFmpeg decode. Compare against the source, never only output streams with each other."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pymediainfo import MediaInfo


def decoded_frames(ffmpeg: str, path: Path) -> int:
    """Frames of the first video stream that actually decode (errors make the decode fail loudly)."""
    proc = subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-xerror",
            "-i",
            str(path),
            "-map",
            "0:v:0",
            "-f",
            "null",
            "-progress",
            "pipe:1",
            "-",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"{path} does not decode cleanly: {proc.stderr[-500:]}"
    frames = re.findall(r"^frame=(\d+)$", proc.stdout, re.M)
    return int(frames[-1]) if frames else 0


@dataclass(frozen=True)
class Packet:
    pts: float  # seconds
    size: int
    key: bool


def video_packets(ffmpeg: str, path: Path) -> list[Packet]:
    """The first video stream's packets in file order, as the container holds them: a stream copy to FFmpeg's
    framecrc (decodes nothing), which gives each packet's pts in the header's time base, its size, and flags every
    packet that is not a keyframe ("F=")."""
    proc = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    num, den = re.findall(r"^#tb 0: (\d+)/(\d+)$", proc.stdout, re.M)[0]
    packets = []
    for line in proc.stdout.splitlines():
        if line[:1].isdigit():
            fields = line.split(",")
            packets.append(Packet(int(fields[2]) * int(num) / int(den), int(fields[4]), "F=" not in line))
    return packets


def keyframe_times(ffmpeg: str, path: Path) -> list[float]:
    """When each keyframe of the first video stream is shown (s), from the container's own packet flags."""
    return [p.pts for p in video_packets(ffmpeg, path) if p.key]


@dataclass
class Tracks:
    video_seconds: float
    audio_seconds: list[float]
    video_format: str


def mediainfo_tracks(path: Path) -> Tracks:
    info = MediaInfo.parse(str(path))
    video = [t for t in info.tracks if t.track_type == "Video"]
    audio = [t for t in info.tracks if t.track_type == "Audio"]
    assert video, f"{path}: MediaInfo sees no video track"
    return Tracks(
        video_seconds=float(video[0].duration or 0) / 1000,
        audio_seconds=[float(a.duration or 0) / 1000 for a in audio],
        video_format=str(video[0].format),
    )


def _filter_by_index(ffmpeg: str, first_input: Path, second_input: Path, pick: str, scorer: str) -> str:
    """Run `scorer` on the two inputs, frames paired by index (both renumbered in one time base: the files' own
    time bases round frame times differently, and the scoring filters pair frames by time); FFmpeg's stderr."""
    proc = subprocess.run(
        [
            *(ffmpeg, "-hide_banner", "-nostdin", "-i", str(first_input), "-i", str(second_input)),
            *("-lavfi", f"[0:v]{pick}[a];[1:v]{pick}[b];[a][b]{scorer}", "-f", "null", "-"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stderr


def vmaf_by_index(
    ffmpeg: str,
    distorted: Path,
    reference: Path,
    *,
    first: int | None = None,
    last: int | None = None,
    pix_fmt: str = "yuv420p10le",
) -> float:
    """A separate libvmaf run of `distorted` against `reference` (frames [first, last) when given), frames paired
    by index."""
    trim = f"trim=start_frame={first or 0}:end_frame={last}," if last is not None else ""
    stderr = _filter_by_index(
        ffmpeg, distorted, reference, f"{trim}settb=1/24,setpts=N,format={pix_fmt}", "libvmaf"
    )
    return float(re.findall(r"VMAF score: ([\d.]+)", stderr)[-1])


def xpsnr_by_index(ffmpeg: str, distorted: Path, reference: Path, *, dither: bool = False) -> float:
    """FFmpeg's own whole-file XPSNR (luma) of `distorted` against `reference`, the reference first (the filter
    weights blocks by its first input's activity), frames paired by index, both in 8 bits (the filter misreads
    deeper pictures at most widths): without dither, or with FFmpeg's default dither when asked."""
    to_8_bits = "format=yuv420p" if dither else "scale=sws_dither=none,format=yuv420p"
    stderr = _filter_by_index(ffmpeg, reference, distorted, f"settb=1/30,setpts=N,{to_8_bits}", "xpsnr")
    return float(re.findall(r"XPSNR\s+y:\s*([\d.]+)", stderr)[-1])
