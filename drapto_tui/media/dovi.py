"""Whether a Dolby Vision source's frames carry RPUs, the per-frame metadata that makes it Dolby Vision.

A container's DV configuration box only says what the stream claims; the RPU NAL units are what an encoder can
carry over. FFmpeg's HEVC decoder parses them and attaches them to decoded frames, so decoding a few frames with
`showinfo` tells whether there is anything to keep.
"""

from __future__ import annotations

from pathlib import Path

from drapto_tui.media.ffmpeg import run_ffmpeg

_RPU_MARK = "Dolby Vision Metadata"


async def frames_carry_rpu(ffmpeg: str, source: Path, stream: int = 0, frames: int = 3) -> bool:
    """True when the first decoded frames of the film carry Dolby Vision RPU metadata."""
    result = await run_ffmpeg(
        [
            ffmpeg,
            "-i",
            str(source),
            "-map",
            f"0:v:{stream}",
            "-frames:v",
            str(frames),
            "-vf",
            "showinfo",
            "-f",
            "null",
            "-",
        ],
        what="reading Dolby Vision metadata",
        subject=str(source),
        keep_stderr=True,
    )
    return _RPU_MARK in (result.stderr or "")
