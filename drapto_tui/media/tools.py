"""Finding FFmpeg and checking that it can do what drapto-tui needs.

The default is the FFmpeg build that the imageio-ffmpeg wheel carries (libsvtav1, libvmaf, libopus, dav1d), so
no system FFmpeg is needed. A configured FFmpeg is checked at start, and the error names exactly what is missing.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from drapto_tui.errors import ToolError
from drapto_tui.media.encoders import DOLBY_VISION_ENCODER, encoder_named
from drapto_tui.media.ffmpeg import run_ffmpeg

REQUIRED_ENCODERS = {
    "libsvtav1": "AV1 video (SVT-AV1), --enable-libsvtav1",
    "libopus": "Opus audio, --enable-libopus",
}
REQUIRED_FILTERS = {
    "libvmaf": "VMAF quality scoring, --enable-libvmaf",
}


@dataclass(frozen=True)
class FfmpegInfo:
    path: str
    version: str
    encoders: frozenset[str]
    filters: frozenset[str]
    hwaccels: frozenset[str]
    svtav1_options: frozenset[str] = field(default_factory=frozenset)
    libavcodec_major: int = 0

    @property
    def svtav1_dolbyvision(self) -> bool:
        return "dolbyvision" in self.svtav1_options

    @property
    def loopback_decoders(self) -> bool:
        """`-dec` (FFmpeg 7.0, libavcodec 61): an encoder's output decoded again inside the same run, so an
        encode and its VMAF share one decode of the source."""
        return self.libavcodec_major >= 61

    def missing(self) -> list[str]:
        gaps = [
            f"encoder {name} ({why})" for name, why in REQUIRED_ENCODERS.items() if name not in self.encoders
        ]
        gaps += [
            f"filter {name} ({why})" for name, why in REQUIRED_FILTERS.items() if name not in self.filters
        ]
        return gaps


def embedded_ffmpeg() -> str:
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - a hard dependency
        raise ToolError(
            "imageio-ffmpeg is not installed", hint="pip install imageio-ffmpeg, or set tools.ffmpeg"
        ) from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def find_ffmpeg(configured: str = "") -> str:
    """The configured FFmpeg (a path or a name on PATH), else the embedded one."""
    if not configured:
        return embedded_ffmpeg()
    candidate = Path(configured).expanduser()
    if candidate.parent != Path(".") or candidate.is_file():
        if not candidate.is_file():
            raise ToolError(
                "no such file",
                subject=f"tools.ffmpeg = {configured}",
                hint="fix the path, or set it to '' for the embedded FFmpeg",
            )
        if not os.access(candidate, os.X_OK):
            raise ToolError(
                "not executable", subject=f"tools.ffmpeg = {configured}", hint=f"chmod +x {candidate}"
            )
        return str(candidate)
    found = shutil.which(configured)
    if not found:
        raise ToolError(
            "not found on PATH",
            subject=f"tools.ffmpeg = {configured}",
            hint="give a full path, or '' for the embedded FFmpeg",
        )
    return found


_TABLE_RE = re.compile(r"^\s*[A-Z.]{6}\s+(\S+)")
_FILTER_RE = re.compile(r"^\s*[TSC.]{2,3}\s+(\S+)\s+\S+->\S+")
_OPTION_RE = re.compile(r"^\s+-([\w-]+)\s")
_LIBAVCODEC_RE = re.compile(r"^\s*libavcodec\s+(\d+)\.", re.MULTILINE)
_cache: dict[tuple[str, float, int], FfmpegInfo] = {}


async def inspect_ffmpeg(path: str) -> FfmpegInfo:
    stat = Path(path).stat()
    key = (path, stat.st_mtime, stat.st_size)
    if key in _cache:
        return _cache[key]

    async def capture(*args: str) -> str:
        result = await run_ffmpeg([path, *args], check=False, keep_stderr=True, capture_stdout=True)
        return (result.stdout or "") + "\n" + (result.stderr or "")

    version_text, enc_text, filt_text, hw_text, svt_text = await asyncio.gather(
        capture("-version"),
        capture("-encoders"),
        capture("-filters"),
        capture("-hwaccels"),
        capture("-h", f"encoder={encoder_named(DOLBY_VISION_ENCODER).ffmpeg_encoder}"),
    )
    first = next((line for line in version_text.splitlines() if line.startswith("ffmpeg version")), "")
    if not first:
        raise ToolError(
            "does not answer like FFmpeg (-version)",
            subject=path,
            hint="point tools.ffmpeg at an FFmpeg binary",
        )
    encoders = frozenset(m.group(1) for line in enc_text.splitlines() if (m := _TABLE_RE.match(line)))
    filters = frozenset(m.group(1) for line in filt_text.splitlines() if (m := _FILTER_RE.match(line)))
    hw_lines = hw_text.split("Hardware acceleration methods:", 1)[-1].splitlines()
    hwaccels = frozenset(line.strip() for line in hw_lines if line.strip() and " " not in line.strip())
    svt_options = frozenset(m.group(1) for line in svt_text.splitlines() if (m := _OPTION_RE.match(line)))
    info = FfmpegInfo(
        path=path,
        version=first.split()[2] if len(first.split()) > 2 else first,
        encoders=encoders,
        filters=filters,
        hwaccels=hwaccels,
        svtav1_options=svt_options,
        libavcodec_major=int(m.group(1)) if (m := _LIBAVCODEC_RE.search(version_text)) else 0,
    )
    _cache[key] = info
    return info


async def require_ffmpeg(configured: str = "") -> FfmpegInfo:
    """Find FFmpeg and check it has libsvtav1, libopus and libvmaf; the error lists every gap."""
    path = find_ffmpeg(configured)
    info = await inspect_ffmpeg(path)
    gaps = info.missing()
    if gaps:
        raise ToolError(
            "FFmpeg lacks " + ", ".join(gaps),
            subject=path,
            hint="install an FFmpeg built with those options, or set tools.ffmpeg = '' to use the embedded build",
        )
    return info
