"""What a video encoder is to the rest of drapto-tui: a value behind a small protocol.

The quality path asks the encoder in the settings (`VideoSettings.encoder`, a name in ENCODERS) for the FFmpeg
arguments of one encode, its CRF range and step, its presets (the final's and the fast probe's), and the
parameters that carry HDR10's static metadata. Adding an encoder is one module here and one row in ENCODERS
(media/encoders/__init__.py); its predictive constants are measured per metric (quality/calibration.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from drapto_tui.model.media import MasteringDisplay
    from drapto_tui.model.segment import VideoSettings


class Encoder(Protocol):
    #: The name in config, the cache and events ("svt-av1"); `label` is what people read ("SVT-AV1").
    name: str
    label: str
    #: FFmpeg's name for it (preflight checks the FFmpeg has it), and how an FFmpeg build gets it.
    ffmpeg_encoder: str
    ffmpeg_build: str
    #: CRF bounds and the finest step the encoder takes (SVT-AV1: quarter steps; libaom: whole numbers).
    crf_range: tuple[float, float]
    crf_step: float
    #: Its speed settings, slowest to fastest; the default (encoding.preset) and the one a fast probe uses.
    preset_range: tuple[int, int]
    default_preset: int
    probe_preset: int

    def codec_args(self, settings: VideoSettings) -> list[str]:
        """The arguments after the input's mapping and filters: codec, speed, CRF, pixel format, threads and
        the user's own parameters."""
        ...

    def hdr10_params(
        self, mastering: MasteringDisplay | None, max_cll: int | None, max_fall: int | None
    ) -> tuple[str, ...]:
        """The parameters (for `VideoSettings.extra_params`) that carry HDR10 static metadata; () when it has
        none to give."""
        ...


def split_params(params: str) -> list[str]:
    return [p for p in (part.strip() for part in params.split(":")) if p]


__all__ = ["Encoder", "split_params"]
