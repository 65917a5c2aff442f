"""Dolby Vision with real per-frame RPUs survives the direct path (issue 11, item 1).

The fixture carries a profile 8.1 RPU NAL unit on every frame (samples/rpu.py), as real streams do.
Judged by FFmpeg's own decoders (showinfo lists the DOVI metadata attached to each decoded frame: HEVC on the
source, dav1d on the output) and by MediaInfo's report of the HDR format, never by our probe."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from pymediainfo import MediaInfo

from samples.rpu import crc32_mpeg2, inject_rpus, make_dv_rpu_fixture, rpu_payload
from tests.reliability.harness import encode


def frames_with_rpu(ffmpeg: str, path: Path, decoder: list[str] | None = None) -> tuple[int, int]:
    """(decoded frames, frames carrying Dolby Vision metadata) by a full decode with showinfo."""
    proc = subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            *(decoder or []),
            "-i",
            str(path),
            "-map",
            "0:v:0",
            "-vf",
            "showinfo",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    frames = len(re.findall(r"\] n:\s*\d+ pts:", proc.stderr))
    return frames, proc.stderr.count("Dolby Vision Metadata")


def hdr_format(path: Path) -> str:
    """MediaInfo's HDR format line, as its CLI prints it ('Dolby Vision, dav1.10.01, BL+RPU / SMPTE ST 2086')."""
    video = next(t for t in MediaInfo.parse(str(path)).tracks if t.track_type == "Video")
    fields = ("hdr_format", "hdr_format_profile", "hdr_format_level", "hdr_format_settings")
    parts = [str(getattr(video, f) or "").split(" / ") for f in fields]
    return " / ".join(", ".join(p for p in layer if p) for layer in zip(*parts, strict=False))


def test_the_rpu_writer_follows_the_syntax() -> None:
    payload = rpu_payload(scene_refresh=True)
    assert payload[0] == 0x19 and payload[-1] == 0x80
    # The CRC covers everything between the prefix and the CRC: recomputed over it and the CRC, it is zero.
    assert crc32_mpeg2(payload[1:-1]) == 0
    # One RPU per access unit, after the access unit's own NAL units.
    aud = b"\x00\x00\x00\x01" + bytes([35 << 1, 1, 0x50])
    slice_ = b"\x00\x00\x00\x01" + bytes([1 << 1, 1, 0xAF, 0x00])
    stream, count = inject_rpus(aud + slice_ + aud + slice_)
    assert count == 2
    assert stream.count(bytes([62 << 1, 1])) == 2 and stream.index(bytes([62 << 1, 1])) < stream.rindex(aud)


def test_fixture_carries_an_rpu_on_every_frame(ffmpeg: str, tmp_path: Path) -> None:
    src = make_dv_rpu_fixture(ffmpeg, tmp_path / "dv81.mkv", duration=1.0)
    frames, with_rpu = frames_with_rpu(ffmpeg, src)
    assert frames == 24 and with_rpu == frames
    assert "dvhe.08" in hdr_format(src) and "BL+RPU" in hdr_format(src)


def test_dolby_vision_is_kept_and_checked(ffmpeg: str, tmp_path: Path) -> None:
    src = make_dv_rpu_fixture(ffmpeg, tmp_path / "src" / "dv81.mkv", duration=1.0)
    run = encode(tmp_path, src, out=tmp_path / "out", extra=("encoding.preset=12",))
    assert run.code == 0, run.stderr + str(run.fatal())
    done = run.completed()[0].data
    out = Path(done.output)
    frames, with_rpu = frames_with_rpu(ffmpeg, out, ["-c:v", "libdav1d"])
    assert frames == 24 and with_rpu == frames, f"{with_rpu} of {frames} output frames carry Dolby Vision"
    judged = hdr_format(out)
    assert "Dolby Vision" in judged and "dav1.10" in judged and "BL+RPU" in judged, judged
    assert done.hdr == "Dolby Vision 10.1"


def test_a_source_without_rpus_says_hdr10_in_one_line(ffmpeg: str, tmp_path: Path) -> None:
    """Only the configuration box, no RPU on the frames: nothing to keep, and the job says so."""
    from samples.clips import make_dv_fixture

    src = make_dv_fixture(ffmpeg, tmp_path / "src" / "box-only.mkv", duration=1.0)
    assert frames_with_rpu(ffmpeg, src)[1] == 0
    run = encode(tmp_path, src, out=tmp_path / "out")
    assert run.code == 0, run.stderr + str(run.fatal())
    warnings = [e.data.message for e in run.events if e.event == "error_occurred" and not e.data.fatal]
    assert any("Dolby Vision cannot be kept" in w and str(src) in w for w in warnings), warnings
    done = run.completed()[0].data
    assert done.hdr == "HDR10"
    judged = hdr_format(Path(done.output))
    assert "Dolby Vision" not in judged and "2086" in judged, judged
