"""Configuration checks that need this machine, run when a command starts (not hours later in a job).

The schema checks what a value looks like; these check what it names: the FFmpeg to run, a hardware decode
method that FFmpeg has, folders that can be made and written. Every problem is a config error (exit 2) that
names the key, its value and the layer it came from, all listed at once.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.errors import ConfigError, DraptoError, owner_name
from drapto_tui.media.encoders import DEFAULT_ENCODER, Encoder, encoder_named
from drapto_tui.media.tools import FfmpegInfo, Needs, require_ffmpeg
from drapto_tui.model.segment import VideoSettings
from drapto_tui.quality.aim import quality_aim

ALWAYS_VALID_HWACCEL = ("none", "auto")


def hwaccel_methods(ffmpeg: str) -> list[str]:
    """The methods `ffmpeg -hwaccels` lists on this machine."""
    out = subprocess.run(
        [ffmpeg, "-hide_banner", "-hwaccels"], capture_output=True, text=True, timeout=30
    ).stdout
    lines = out.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().lower().startswith("hardware")), -1)
    return [line.strip() for line in lines[start + 1 :] if line.strip()]


def params_rejected(ffmpeg: str, encoder: Encoder, params: str) -> str | None:
    """The encoder's own complaint about the user's parameters, from one frame of 64x64 encoded with them
    (FFmpeg's explode mode turns an unknown key into an error instead of a warning); None when it takes them.
    Run at start, so a typo is one line now instead of a failed job later, or a key silently ignored."""
    settings = VideoSettings(
        encoder=encoder.name, preset=encoder.probe_preset, crf=40, pix_fmt="yuv420p", params=params
    )
    args = [
        ffmpeg, "-hide_banner", "-nostdin", "-f", "lavfi", "-i", "color=s=64x64:d=0.04", "-frames:v", "1",
        *encoder.codec_args(settings), "-err_detect", "explode", "-f", "null", "-",
    ]  # fmt: skip
    try:
        done = subprocess.run(args, capture_output=True, text=True, errors="replace", timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not ask it: {exc}"
    if done.returncode == 0:
        return None
    lines = done.stderr.splitlines()
    said = [line for line in lines if "Error parsing option" in line or "Svt[error]" in line]
    text = (said or [line for line in lines if "rror" in line] or [f"FFmpeg exited {done.returncode}"])[0]
    return text.split("] ", 1)[-1].removeprefix("Svt[error]: ").strip().rstrip(".")


def _encoder_problems(config: DraptoConfig, info: FfmpegInfo) -> list[str]:
    """The configured encoder: in this FFmpeg, its preset in its range, its parameters taken by it."""
    enc = config.encoding
    encoder = encoder_named(enc.encoder)
    issues = []
    if encoder.ffmpeg_encoder not in info.encoders:
        issues.append(
            config.describe(
                "encoding.encoder",
                f"this FFmpeg has no {encoder.ffmpeg_encoder}; use an FFmpeg built with it, or choose another",
            )
        )
    low, high = encoder.preset_range
    if not low <= enc.preset <= high:
        issues.append(config.describe("encoding.preset", f"{encoder.label} takes {low} to {high}"))
    probe = config.search.probe_preset
    if probe is not None and not low <= probe <= high:
        issues.append(config.describe("search.probe_preset", f"{encoder.label} takes {low} to {high}"))
    if enc.search_backend == "ab-av1" and encoder.name != DEFAULT_ENCODER:
        issues.append(
            config.describe(
                "encoding.search_backend",
                f"the ab-av1 backend drives the default encoder only, not {encoder.label}",
            )
        )
    params = enc.params_of(encoder.name)
    if params and encoder.ffmpeg_encoder in info.encoders:
        rejected = params_rejected(info.path, encoder, params)
        if rejected:
            key = f"encoding.{enc.PARAMS_KEYS[encoder.name]}"
            issues.append(
                config.describe(key, f"{encoder.label} rejects it ({rejected}); fix or remove that key")
            )
    return issues


def _target_problems(config: DraptoConfig) -> list[str]:
    """Each target checked against the metric it will be read in, for SDR and for HDR films alike, so that
    `quality.target = 93` with XPSNR is one line now, not a failed job after its analysis."""
    issues: list[str] = []
    for transfer in (None, "smpte2084"):
        try:
            quality_aim(config, transfer)
        except ConfigError as err:
            issues += [issue for issue in err.issues if issue not in issues]
    return issues


def _folder_problem(path: Path) -> str | None:
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                return f"{candidate} is a file, not a folder"
            if not os.access(candidate, os.W_OK | os.X_OK):
                owner = candidate.stat().st_uid
                whose = f" (it belongs to {owner_name(owner)})" if owner != os.geteuid() else ""
                return f"{candidate} is not writable{whose}"
            return None
    return None


def ffmpeg_needs(config: DraptoConfig) -> Needs:
    """What the configured runs ask of FFmpeg: the encoder and metric they use (no libvmaf for an XPSNR library)."""
    return Needs.of(config.encoding.encoder, config.quality.metric)


def check_machine(config: DraptoConfig) -> FfmpegInfo:
    """Raise ConfigError listing every configured value this machine cannot honour; else the FFmpeg found."""
    issues: list[str] = []
    info: FfmpegInfo | None = None
    try:
        info = asyncio.run(require_ffmpeg(config.tools.ffmpeg, ffmpeg_needs(config)))
    except DraptoError as err:
        if config.tools.ffmpeg:
            issues.append(
                config.describe("tools.ffmpeg", f"{err.message} — {err.hint}" if err.hint else err.message)
            )
        else:
            raise
    hwaccel = config.processing.hwaccel
    if info is not None and hwaccel not in ALWAYS_VALID_HWACCEL:
        methods = hwaccel_methods(info.path)
        if hwaccel not in methods:
            known = ", ".join([*ALWAYS_VALID_HWACCEL, *methods])
            issues.append(
                config.describe(
                    "processing.hwaccel", f"this FFmpeg has no such method; choose one of {known}"
                )
            )
    if info is not None:
        issues += _encoder_problems(config, info)
    issues += _target_problems(config)
    for key, path in (("processing.temp_dir", config.temp_root()), ("output.dir", config.output_root())):
        problem = _folder_problem(path)
        if problem is not None:
            issues.append(config.describe(key, f"{problem}; choose a folder you can write"))
    if issues:
        raise ConfigError(issues)
    assert info is not None
    return info


__all__ = ["check_machine", "hwaccel_methods", "params_rejected"]
