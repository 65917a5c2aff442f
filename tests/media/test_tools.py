from __future__ import annotations

from pathlib import Path

import pytest

from drapto_tui.errors import ToolError
from drapto_tui.media.ffmpeg import FfmpegProcess
from drapto_tui.media.tools import Needs, find_ffmpeg, inspect_ffmpeg, require_ffmpeg
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


async def test_only_what_the_run_uses_is_required(tmp_path: Path, ffmpeg: str) -> None:
    """An FFmpeg without libvmaf does for a library judged by XPSNR; one without xpsnr does not, nor for "auto"
    (HDR films are judged by XPSNR); the Dolby Vision path's SVT-AV1 is needed whatever the encoder."""
    no_vmaf = ffmpeg_without(tmp_path, ffmpeg, "libvmaf")
    assert (await require_ffmpeg(str(no_vmaf), Needs.of("svt-av1", "xpsnr"))).path == str(no_vmaf)
    with pytest.raises(ToolError, match="lacks filter libvmaf"):
        await require_ffmpeg(str(no_vmaf), Needs.of("svt-av1", "vmaf"))
    no_xpsnr = ffmpeg_without(tmp_path, ffmpeg, "xpsnr")
    with pytest.raises(ToolError, match="lacks filter xpsnr"):
        await require_ffmpeg(str(no_xpsnr), Needs.of("svt-av1", "auto"))
    encoders, filters = Needs.of("aom-av1", "auto").components()
    assert set(encoders) == {"libaom-av1", "libsvtav1", "libopus"} and set(filters) == {"libvmaf", "xpsnr"}


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


async def test_a_run_is_ended_at_the_line_that_makes_the_rest_worthless(ffmpeg: str) -> None:
    """`stop_when`: a scene pass without B-frames that finds a doubtful change stops there, not at the film's
    end (it is scored again in full): here a 10-minute source stopped at the first scene-score line."""
    process = FfmpegProcess(
        [ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=24:duration=600",
         "-vf", "select='gt(scene,0)',metadata=print:key=lavfi.scene_score", "-f", "null", "-"],
        keep_stderr=True,
        stop_when=lambda line: "lavfi.scene_score=" in line,
    )  # fmt: skip
    result = await process.run()
    assert process.stopped and result.returncode != 0
    assert result.elapsed < 30  # the whole source takes minutes at this machine's pace
