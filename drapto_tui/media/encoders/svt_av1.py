"""SVT-AV1 through FFmpeg's libsvtav1: the default encoder, and the one the Dolby Vision path needs (its
`-dolbyvision` option carries the source's per-frame RPUs).

CRF 0–63 in quarter steps; presets −1 (slowest) to 13; `lp` is its thread count. HDR10's mastering display and
content light level go in its own parameters, which FFmpeg passes through `-svtav1-params`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drapto_tui.media.encoders.base import split_params

if TYPE_CHECKING:
    from drapto_tui.model.media import MasteringDisplay
    from drapto_tui.model.segment import VideoSettings


class SvtAv1:
    name = "svt-av1"
    label = "SVT-AV1"
    ffmpeg_encoder = "libsvtav1"
    ffmpeg_build = "--enable-libsvtav1"
    crf_range = (0.0, 63.0)
    crf_step = 0.25
    preset_range = (-1, 13)
    default_preset = 6
    probe_preset = 12

    def param_string(self, settings: VideoSettings) -> str:
        params = [f"crf={settings.crf:g}"]
        if settings.threads:
            params.append(f"lp={settings.threads}")
        params += list(settings.extra_params)
        params += split_params(settings.params)
        return ":".join(params)

    def codec_args(self, settings: VideoSettings) -> list[str]:
        return [
            *("-c:v", self.ffmpeg_encoder, "-preset", str(settings.preset), "-pix_fmt", settings.pix_fmt),
            *("-svtav1-params", self.param_string(settings)),
        ]

    def hdr10_params(
        self, mastering: MasteringDisplay | None, max_cll: int | None, max_fall: int | None
    ) -> tuple[str, ...]:
        out: list[str] = []
        md = mastering
        if md and md.red and md.green and md.blue and md.white_point and md.max_luminance:
            out.append(
                "mastering-display="
                f"G({md.green[0]:.4f},{md.green[1]:.4f})B({md.blue[0]:.4f},{md.blue[1]:.4f})"
                f"R({md.red[0]:.4f},{md.red[1]:.4f})WP({md.white_point[0]:.4f},{md.white_point[1]:.4f})"
                f"L({md.max_luminance:.4f},{(md.min_luminance or 0):.4f})"
            )
        if max_cll is not None:
            out.append(f"content-light={max_cll},{max_fall or 0}")
        return tuple(out)


SVT_AV1 = SvtAv1()

__all__ = ["SVT_AV1", "SvtAv1"]
