"""The video encoders drapto-tui can use, by name: the only table that says which exist."""

from __future__ import annotations

from drapto_tui.media.encoders.aom_av1 import AOM_AV1
from drapto_tui.media.encoders.base import Encoder
from drapto_tui.media.encoders.svt_av1 import SVT_AV1

ENCODERS: dict[str, Encoder] = {encoder.name: encoder for encoder in (SVT_AV1, AOM_AV1)}
DEFAULT_ENCODER = SVT_AV1.name
#: The one encoder that carries Dolby Vision RPUs (the direct path encodes with it whatever is chosen).
DOLBY_VISION_ENCODER = SVT_AV1.name


def encoder_named(name: str) -> Encoder:
    try:
        return ENCODERS[name]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r} (known: {', '.join(ENCODERS)})") from None


__all__ = ["DEFAULT_ENCODER", "DOLBY_VISION_ENCODER", "ENCODERS", "Encoder", "encoder_named"]
