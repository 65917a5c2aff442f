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
from drapto_tui.media.tools import FfmpegInfo, require_ffmpeg

ALWAYS_VALID_HWACCEL = ("none", "auto")


def hwaccel_methods(ffmpeg: str) -> list[str]:
    """The methods `ffmpeg -hwaccels` lists on this machine."""
    out = subprocess.run(
        [ffmpeg, "-hide_banner", "-hwaccels"], capture_output=True, text=True, timeout=30
    ).stdout
    lines = out.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().lower().startswith("hardware")), -1)
    return [line.strip() for line in lines[start + 1 :] if line.strip()]


def svt_params_rejected(ffmpeg: str, svt_params: str) -> str | None:
    """SVT-AV1's own complaint about these parameters, from one frame of 64x64 encoded with them (FFmpeg's
    explode mode turns an unknown key into an error instead of a warning); None when it takes them. Run at start,
    so a typo is one line now instead of a failed job later, or a key silently ignored."""
    args = [
        ffmpeg, "-hide_banner", "-nostdin", "-f", "lavfi", "-i", "color=s=64x64:d=0.04", "-frames:v", "1",
        "-c:v", "libsvtav1", "-preset", "12", "-err_detect", "explode", "-svtav1-params", svt_params,
        "-f", "null", "-",
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


def check_machine(config: DraptoConfig) -> FfmpegInfo:
    """Raise ConfigError listing every configured value this machine cannot honour; else the FFmpeg found."""
    issues: list[str] = []
    info: FfmpegInfo | None = None
    try:
        info = asyncio.run(require_ffmpeg(config.tools.ffmpeg))
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
    if info is not None and config.encoding.svt_params:
        rejected = svt_params_rejected(info.path, config.encoding.svt_params)
        if rejected:
            issues.append(
                config.describe(
                    "encoding.svt_params", f"SVT-AV1 rejects it ({rejected}); fix or remove that key"
                )
            )
    for key, path in (("processing.temp_dir", config.temp_root()), ("output.dir", config.output_root())):
        problem = _folder_problem(path)
        if problem is not None:
            issues.append(config.describe(key, f"{problem}; choose a folder you can write"))
    if issues:
        raise ConfigError(issues)
    assert info is not None
    return info


__all__ = ["check_machine", "hwaccel_methods", "svt_params_rejected"]
