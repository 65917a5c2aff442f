"""What a source holds that the output cannot carry as it is: refused before any work when nothing useful can
be made of it, otherwise said (a notice as the job starts, a line in the summary), never dropped in silence.

- Dolby Vision profile 5 has no HDR10 base layer: its picture is IPTPQc2, whose colours are right only through
  a Dolby Vision decoder's reshaping. Encoded as it is, every colour would be wrong; it is refused in one line.
  (FFmpeg's libplacebo filter can apply the reshaping, but needs a Vulkan device: on the machines this was
  built on, none, and Debian's software Vulkan (lavapipe) fails to create one for it; so no setting offers it.)
- HDR10+ (SMPTE ST 2094-40) per-frame metadata: FFmpeg's libsvtav1 writes none (measured: a source with it on
  every frame gives an AV1 stream with none; libaom would carry it as ITU-T T.35 metadata). The HDR10 static
  metadata is kept; input.hdr10_plus = "refuse" leaves such films alone instead.
- Other moving-picture streams (an angle, a picture-in-picture commentary): only the film's picture is encoded.
- 4:2:2 and 4:4:4 chroma, and more than 10 bits: SVT-AV1 encodes 4:2:0 (AV1's main profile, what players
  decode) at 8 or 10 bits.
"""

from __future__ import annotations

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.errors import DraptoError, MediaError
from drapto_tui.model.media import MediaProbe


def refusal(media: MediaProbe, config: DraptoConfig) -> DraptoError | None:
    """Why this source is not encoded at all (one line), or None."""
    if media.dolby_vision and media.dv_profile == 5:
        return MediaError(
            "Dolby Vision profile 5: its picture has no HDR10 base layer (IPTPQc2 colour, right only through a"
            " Dolby Vision decoder), so it can be neither kept as Dolby Vision in AV1 nor encoded as it is",
            subject=media.path,
            hint="keep this file as it is, or find a profile 8 or HDR10 release of the film",
        )
    if media.hdr10_plus and config.input.hdr10_plus == "refuse":
        return MediaError(
            'HDR10+ dynamic metadata, which the AV1 encode would not carry (input.hdr10_plus = "refuse")',
            subject=media.path,
            hint='keep this file as it is, or set input.hdr10_plus = "encode" to encode it with HDR10 metadata only',
        )
    return None


def source_changes(media: MediaProbe, pixel_format: str) -> list[str]:
    """Each thing the output will not carry as the source has it, as a line for the summary."""
    changes: list[str] = []
    if media.hdr10_plus:
        changes.append(
            "HDR10+ dynamic metadata not carried (SVT-AV1 through FFmpeg writes none); its HDR10 metadata is kept"
        )
    if media.other_videos:
        streams = ", ".join(f"#{n}" for n in media.other_videos)
        changes.append(
            f"{len(media.other_videos)} other video stream(s) left out (video stream {streams}): only the film's picture is"
            " encoded"
        )
    chroma = _chroma(media.pix_fmt)
    depth = media.bit_depth or 8
    out_depth = 10 if pixel_format.endswith("10le") else 8
    if chroma != "4:2:0" or depth > out_depth:
        made = f"4:2:0 {out_depth}-bit"
        changes.append(
            f"{chroma} {depth}-bit picture encoded as {made} (SVT-AV1 encodes 4:2:0, what players decode)"
        )
    return changes


def _chroma(pix_fmt: str | None) -> str:
    name = pix_fmt or ""
    if "444" in name or name.startswith(("gbr", "rgb", "bgr")):
        return "4:4:4"
    if "422" in name:
        return "4:2:2"
    return "4:2:0"


__all__ = ["refusal", "source_changes"]
