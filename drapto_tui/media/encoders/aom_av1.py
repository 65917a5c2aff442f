"""libaom (AOM's reference AV1 encoder) through FFmpeg's libaom-av1: slower than SVT-AV1 at the same quality,
and chosen by some for film grain at slow speeds.

Constant quality is `-crf N -b:v 0` (whole numbers, 0–63); speed is `-cpu-used` 0 (slowest) to 8, of which 6 is
the fastest "good" mode and 8 a fast probe; `-row-mt 1` with `-threads` spreads one encode over cores. The
user's own parameters go through `-aom-params`. FFmpeg's wrapper has no parameters for HDR10 static metadata:
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drapto_tui.media.encoders.base import split_params

if TYPE_CHECKING:
    from drapto_tui.model.media import MasteringDisplay
    from drapto_tui.model.segment import VideoSettings


class AomAv1:
    name = "aom-av1"
    label = "libaom"
    ffmpeg_encoder = "libaom-av1"
    ffmpeg_build = "--enable-libaom"
    crf_range = (0.0, 63.0)
    crf_step = 1.0
    preset_range = (0, 8)
    default_preset = 6
    probe_preset = 8

    def codec_args(self, settings: VideoSettings) -> list[str]:
        args = [
            *("-c:v", self.ffmpeg_encoder, "-cpu-used", str(settings.preset)),
            *("-crf", f"{round(settings.crf)}", "-b:v", "0", "-pix_fmt", settings.pix_fmt, "-row-mt", "1"),
        ]
        if settings.threads:
            args += ["-threads", str(settings.threads)]
        if params := ":".join([*settings.extra_params, *split_params(settings.params)]):
            args += ["-aom-params", params]
        return args

    def hdr10_params(
        self, mastering: MasteringDisplay | None, max_cll: int | None, max_fall: int | None
    ) -> tuple[str, ...]:
        return ()


AOM_AV1 = AomAv1()

__all__ = ["AOM_AV1", "AomAv1"]
