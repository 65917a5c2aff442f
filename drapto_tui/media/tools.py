"""Finding FFmpeg and checking that it can do what drapto-tui needs.

The default is the FFmpeg build that the imageio-ffmpeg wheel carries (every encoder and metric in ENCODERS and
METRICS, libopus, dav1d), so no system FFmpeg is needed. A configured FFmpeg is checked at start for what the run
uses (`Needs`), and the error names exactly what is missing.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from drapto_tui.errors import ToolError
from drapto_tui.media.encoders import DEFAULT_ENCODER, DOLBY_VISION_ENCODER, encoder_named
from drapto_tui.media.ffmpeg import run_ffmpeg
from drapto_tui.media.metrics import HDR_DEFAULT, SDR_DEFAULT, metric_named

#: Every run encodes its audio to Opus, whatever its video encoder and metric.
AUDIO_ENCODER = ("libopus", "Opus audio, --enable-libopus")


@dataclass(frozen=True)
class Needs:
    """What a run asks of FFmpeg, by the names in ENCODERS and METRICS: its video encoders (the Dolby Vision path
    always encodes with SVT-AV1) and the metrics it scores in. The default is the default configuration's."""

    encoders: tuple[str, ...] = (DEFAULT_ENCODER,)
    metrics: tuple[str, ...] = (SDR_DEFAULT,)

    @classmethod
    def of(cls, encoder: str, metric: str) -> Needs:
        """A run with this `encoding.encoder` and `quality.metric` ("auto" scores SDR and HDR films apart)."""
        metrics = (SDR_DEFAULT, HDR_DEFAULT) if metric == "auto" else (metric,)
        return cls(tuple(dict.fromkeys((encoder, DOLBY_VISION_ENCODER))), metrics)

    def components(self) -> tuple[dict[str, str], dict[str, str]]:
        """(FFmpeg encoders, FFmpeg filters) this needs, each with what it is for."""
        encoders = {
            e.ffmpeg_encoder: f"AV1 video ({e.label}), {e.ffmpeg_build}"
            for e in map(encoder_named, self.encoders)
        }
        encoders[AUDIO_ENCODER[0]] = AUDIO_ENCODER[1]
        filters = {
            m.ffmpeg_filter: f"{m.label} quality scoring, {m.ffmpeg_build}"
            for m in map(metric_named, self.metrics)
        }
        return encoders, filters


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

    def missing(self, needs: Needs | None = None) -> list[str]:
        """What this FFmpeg lacks of what the run needs, each in a few words."""
        encoders, filters = (needs or Needs()).components()
        gaps = [f"encoder {name} ({why})" for name, why in encoders.items() if name not in self.encoders]
        gaps += [f"filter {name} ({why})" for name, why in filters.items() if name not in self.filters]
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


async def require_ffmpeg(configured: str = "", needs: Needs | None = None) -> FfmpegInfo:
    """Find FFmpeg and check it has what the run needs (its encoders, Opus, its metrics' filters); the error lists
    every gap."""
    path = find_ffmpeg(configured)
    info = await inspect_ffmpeg(path)
    gaps = info.missing(needs)
    if gaps:
        raise ToolError(
            "FFmpeg lacks " + ", ".join(gaps),
            subject=path,
            hint="install an FFmpeg built with those options, or set tools.ffmpeg = '' to use the embedded build",
        )
    return info
