"""Dolby Vision sample media (tests and the demo) that carry real per-frame RPUs, not only the configuration box.

A profile 8.1 RPU is one HEVC NAL unit of type 62 (UNSPEC62) at the end of every access unit. Its payload,
after the 0x19 prefix, is the RPU syntax: a type-2 header (rpu_format 18, no enhancement layer: residual
disabled), one identity reshaping curve per component (two pivots, a first-order polynomial 0 + 1·x), a DM
block with the usual BT.2020 YCbCr→RGB and RGB→LMS matrices, the source's PQ range, no extension blocks, byte
alignment, a CRC-32/MPEG-2 over everything after the prefix, and the 0x80 terminator. Emulation prevention is
applied to the whole NAL payload, as for any HEVC NAL unit.

Written after the public RPU syntax, so that FFmpeg's HEVC decoder attaches DOVI metadata to decoded frames
(checked by the tests with `showinfo`) and MediaInfo reports the stream as Dolby Vision with an RPU.
"""

from __future__ import annotations

from pathlib import Path

from samples.clips import dv_config_record, hdr10_hevc_args, run_sample_command, write_dv_container


class BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, value: int, n: int) -> None:
        """An n-bit unsigned value, most significant bit first (negative values as n-bit two's complement)."""
        value &= (1 << n) - 1
        self.bits.extend((value >> (n - 1 - i)) & 1 for i in range(n))

    def ue(self, value: int) -> None:
        """Exp-Golomb, unsigned."""
        code = value + 1
        length = code.bit_length()
        self.u(0, length - 1)
        self.u(code, length)

    def se(self, value: int) -> None:
        """Exp-Golomb, signed (1, -1, 2, -2, ... map to 1, 2, 3, 4, ...)."""
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def align(self) -> None:
        while len(self.bits) % 8:
            self.bits.append(0)

    def bytes(self) -> bytes:
        assert len(self.bits) % 8 == 0, "not byte aligned"
        return bytes(int("".join(map(str, self.bits[i : i + 8])), 2) for i in range(0, len(self.bits), 8))


def crc32_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2: polynomial 0x04C11DB7, not reflected, initial value all ones, no final xor."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
    return crc


def add_emulation_prevention(payload: bytes) -> bytes:
    """Insert 0x03 after any two zero bytes that a byte <= 3 follows (no start code inside the NAL unit)."""
    out = bytearray()
    zeros = 0
    for byte in payload:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


#: BT.2020 non-constant luminance YCbCr → RGB (×2^13) and the Dolby RGB → LMS (×2^14), as profile 8 streams carry.
_YCC_TO_RGB = (9575, 0, 14742, 9575, -1754, -4383, 9575, 17372, 0)
_YCC_TO_RGB_OFFSET = (16777216, 134217728, 134217728)  # (1/16, 1/2, 1/2) × 2^28, 10-bit limited range
_RGB_TO_LMS = (7222, 8771, 390, 2654, 12430, 1300, 0, 422, 15962)


def rpu_payload(*, scene_refresh: bool, max_pq: int = 3079, min_pq: int = 62, bit_depth: int = 10) -> bytes:
    """One profile 8.1 RPU (prefix 0x19 .. terminator 0x80), before emulation prevention."""
    w = BitWriter()
    w.u(2, 6)  # rpu_type
    w.u(18, 11)  # rpu_format: no enhancement layer mapping syntax
    w.u(1, 4)  # vdr_rpu_profile
    w.u(0, 4)  # vdr_rpu_level
    w.u(1, 1)  # vdr_seq_info_present_flag
    w.u(0, 1)  # chroma_resampling_explicit_filter_flag
    w.u(0, 2)  # coefficient_data_type: fixed point
    denom = 23
    w.ue(denom)  # coefficient_log2_denom
    w.u(1, 2)  # vdr_rpu_normalized_idc
    w.u(0, 1)  # bl_video_full_range_flag
    w.ue(bit_depth - 8)  # bl_bit_depth_minus8
    w.ue(bit_depth - 8)  # el_bit_depth_minus8
    w.ue(12 - 8)  # vdr_bit_depth_minus8
    w.u(0, 1)  # spatial_resampling_filter_flag
    w.u(0, 3)  # reserved_zero_3bits
    w.u(0, 1)  # el_spatial_resampling_filter_flag
    w.u(1, 1)  # disable_residual_flag: profile 8 has no enhancement layer
    w.u(1, 1)  # vdr_dm_metadata_present_flag
    w.u(0, 1)  # use_prev_vdr_rpu_flag
    w.ue(0)  # vdr_rpu_id
    w.ue(0)  # mapping_color_space
    w.ue(0)  # mapping_chroma_format_idc
    top = (1 << bit_depth) - 1
    for _component in range(3):
        w.ue(0)  # num_pivots_minus2: two pivots, one piece
        w.u(0, bit_depth)  # first pivot
        w.u(top, bit_depth)  # delta to the second pivot
    w.ue(0)  # num_x_partitions_minus1
    w.ue(0)  # num_y_partitions_minus1
    for _component in range(3):
        w.ue(0)  # mapping_idc: polynomial
        w.ue(0)  # poly_order_minus1: first order
        w.u(0, 1)  # linear_interp_flag
        for coefficient in (0, 1):  # identity: 0 + 1·x
            w.se(coefficient)  # integer part
            w.u(0, denom)  # fraction
    w.ue(0)  # affected_dm_metadata_id
    w.ue(0)  # current_dm_metadata_id
    w.ue(int(scene_refresh))  # scene_refresh_flag
    for value in _YCC_TO_RGB:
        w.u(value, 16)
    for value in _YCC_TO_RGB_OFFSET:
        w.u(value, 32)
    for value in _RGB_TO_LMS:
        w.u(value, 16)
    w.u(65535, 16)  # signal_eotf: PQ
    w.u(0, 16)  # signal_eotf_param0
    w.u(0, 16)  # signal_eotf_param1
    w.u(0, 32)  # signal_eotf_param2
    w.u(bit_depth, 5)  # signal_bit_depth
    w.u(0, 2)  # signal_color_space: YCbCr
    w.u(0, 2)  # signal_chroma_format: 4:2:0
    w.u(0, 2)  # signal_full_range_flag: limited
    w.u(min_pq, 12)  # source_min_pq
    w.u(max_pq, 12)  # source_max_pq
    w.u(42, 10)  # source_diagonal (inches)
    w.ue(0)  # num_ext_blocks
    w.align()  # rpu_alignment_zero_bit
    body = w.bytes()
    return bytes([0x19]) + body + crc32_mpeg2(body).to_bytes(4, "big") + bytes([0x80])


def rpu_nal(*, scene_refresh: bool) -> bytes:
    """The RPU as an Annex B NAL unit: start code, header (type 62, layer 0, temporal id 0), escaped payload."""
    header = bytes([62 << 1, 1])
    return b"\x00\x00\x00\x01" + header + add_emulation_prevention(rpu_payload(scene_refresh=scene_refresh))


def _nal_units(stream: bytes) -> list[bytes]:
    """Annex B → NAL units (each without its start code)."""
    units: list[bytes] = []
    i = stream.find(b"\x00\x00\x01")
    while i >= 0:
        start = i + 3
        j = stream.find(b"\x00\x00\x01", start)
        end = len(stream) if j < 0 else j
        unit = stream[start:end]
        if j >= 0 and unit.endswith(b"\x00"):  # the next start code had four bytes
            unit = unit.rstrip(b"\x00")
        units.append(unit)
        i = j
    return units


def inject_rpus(annexb: bytes) -> tuple[bytes, int]:
    """Append one RPU NAL unit to every access unit of an Annex B HEVC stream written with access unit
    delimiters (x265 `aud=1`); returns the new stream and the number of RPUs written."""
    out = bytearray()
    count = 0
    in_access_unit = False
    for unit in _nal_units(annexb):
        kind = (unit[0] >> 1) & 0x3F
        if kind == 35 and in_access_unit:  # the next AUD closes the access unit before it
            out += rpu_nal(scene_refresh=count == 0)
            count += 1
        in_access_unit = True
        out += b"\x00\x00\x00\x01" + unit
    if in_access_unit:
        out += rpu_nal(scene_refresh=count == 0)
        count += 1
    return bytes(out), count


def make_dv_rpu_fixture(
    ffmpeg: str,
    out: Path,
    *,
    width: int = 320,
    height: int = 180,
    duration: float = 2.0,
    fps: int = 24,
    profile: int = 8,
    crf: int | None = None,
) -> Path:
    """An HDR10 HEVC film with a profile 8.1 RPU on every frame and the DV configuration box (MP4, or MKV by
    stream copy when `out` ends in .mkv), with a stereo AAC track. `crf`: x265's quality (a low one makes a
    high-rate master, as films to encode are; x265's default otherwise)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_name(out.stem + ".x265.hevc")
    run_sample_command(
        [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={width}x{height}:rate={fps}:duration={duration}",
            *hdr10_hevc_args("aud=1:bframes=0" + (f":crf={crf}" if crf is not None else "")),
            "-f",
            "hevc",
            str(raw),
        ]
    )
    injected, count = inject_rpus(raw.read_bytes())
    frames = round(duration * fps)
    if count != frames:
        raise ValueError(f"{count} RPUs for {frames} frames: the x265 stream has no access unit delimiters")
    with_rpus = out.with_name(out.stem + ".rpu.hevc")
    with_rpus.write_bytes(injected)
    base = out.with_name(out.stem + ".rpu-base.mp4")
    run_sample_command(
        [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-y",
            "-framerate",
            str(fps),
            "-i",
            str(with_rpus),
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=330:sample_rate=48000:duration={duration}",
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-c:v",
            "copy",
            "-c:a",
            "aac",
            "-ac",
            "2",
            "-tag:v",
            "hvc1",
            # No -shortest: the raw stream's packets carry no timestamps, so FFmpeg would judge the video 0 s
            # long and cut the audio to nothing. The sine is made as long as the film instead.
            str(base),
        ]
    )
    write_dv_container(ffmpeg, base, out, dv_config_record(profile, 4, compatibility_id=1), profile)
    for tmp in (raw, with_rpus, base):
        tmp.unlink()
    return out
