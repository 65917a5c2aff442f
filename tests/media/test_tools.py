from __future__ import annotations

from pathlib import Path

import pytest

from drapto_tui.errors import ToolError
from drapto_tui.media.tools import find_ffmpeg, inspect_ffmpeg, require_ffmpeg
from tests.fault_ffmpeg import ffmpeg_without


async def test_embedded_ffmpeg_has_everything() -> None:
    info = await require_ffmpeg("")
    assert {"libsvtav1", "libopus"} <= info.encoders
    assert "libvmaf" in info.filters
    assert info.svtav1_dolbyvision
    assert info.missing() == []


async def test_missing_encoder_is_named(tmp_path: Path, ffmpeg: str) -> None:
    fake = ffmpeg_without(tmp_path, ffmpeg, "libsvtav1", "libvmaf")
    info = await inspect_ffmpeg(str(fake))
    assert "libsvtav1" not in info.encoders and "libopus" in info.encoders
    with pytest.raises(ToolError) as err:
        await require_ffmpeg(str(fake))
    line = err.value.line()
    assert line.startswith(f"{fake}: FFmpeg lacks encoder libsvtav1")
    assert "filter libvmaf" in line and "libopus" not in line
    assert "tools.ffmpeg = ''" in line


def test_configured_path_errors(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="no such file"):
        find_ffmpeg(str(tmp_path / "ffmpeg"))
    plain = tmp_path / "ffmpeg-noexec"
    plain.write_text("")
    with pytest.raises(ToolError, match="not executable"):
        find_ffmpeg(str(plain))
    with pytest.raises(ToolError, match="not found on PATH"):
        find_ffmpeg("no-such-ffmpeg-binary")


async def test_not_an_ffmpeg(tmp_path: Path) -> None:
    fake = tmp_path / "fake"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(0o755)
    with pytest.raises(ToolError, match="does not answer like FFmpeg"):
        await require_ffmpeg(str(fake))
