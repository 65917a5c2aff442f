"""XPSNR, FFmpeg's xpsnr filter: PSNR weighted by each block's spatial and temporal activity (Fraunhofer HHI,
JVET), in dB of luma.

Why it is offered: it follows subjective ratings about as well as VMAF at a small share of VMAF's cost, and it is
a PSNR on code values, which is how HDR is judged where VMAF is not valid: PQ and HLG code values are spaced to
what the eye tells apart, so the same dB means the same across the range (JVET's HDR test conditions measure PSNR
on PQ-coded pictures for that reason). It is the default metric for HDR films (media/metrics/__init__.py).

The filter weights its blocks by the activity of its *first* input, which must therefore be the reference. It
needs the two frames before each frame for its temporal term, so it scores every frame (no subsampling).

Pictures are scored in 8 bits, without dither, whatever their depth: this FFmpeg's xpsnr reads pictures of more
than 8 bits wrongly at most widths (an AV1 encode of a 10-bit test pattern scores −4.5 dB at 176x144, −3.9 at
320x180, −2.4 at 480x270, −1.4 at 960x540, and sane values only at 640, 1280 and 1920 wide), where 8 bits read
within 0.1 dB of what 12 bits read where both work (33.40 against 33.49 dB at 320x180, 37.94 against 37.95 at
960x540, 38.75 against 38.77 at 1280x720). Dither is off so that it adds no noise of its own to either picture.

Whole-file figure: the filter's own ("XPSNR average"), which averages each frame's weighted error amplitude,
10^(−XPSNR/20), and converts back: `pool(..., "mean")` does the same from the frame scores, so our figure for a
segment equals an independent `ffmpeg -lavfi xpsnr` run on it. Loss is that amplitude (×10^3, a readable scale):
ln loss is linear in XPSNR, and XPSNR close to linear in CRF.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from pathlib import Path

from drapto_tui.errors import DraptoError
from drapto_tui.media.metrics.base import low_percentile

_FRAME = re.compile(r"^n:\s*\d+\s+XPSNR [yr]:\s*(\S+)", re.IGNORECASE)
#: An identical frame scores infinity; it counts as this (well beyond any target) so that pooling stays finite.
CEILING_DB = 100.0
_SCALE_DB = 60.0  # loss = 10^((60 − XPSNR) / 20): ~18 near 35 dB


class Xpsnr:
    name = "xpsnr"
    label = "XPSNR"
    unit = " dB"
    ffmpeg_filter = "xpsnr"
    ffmpeg_build = "FFmpeg 7.1 or later"
    #: About VMAF 93 on real 8-bit footage: where the film's 37 segments score VMAF 93, XPSNR reads 34.3–36.3 dB,
    #: median 35.2 (benchmarks/calibrate-svt-xpsnr.txt).
    default_target = 35.0
    #: On PQ pictures: where the film carried in PQ (SDR white at 100 cd/m²) reads VMAF 93 seen in SDR, XPSNR on
    #: its PQ code values reads 37.8–39.2 dB, median 38.6 (`bench hdr-metric`, benchmarks/hdr-metric.txt). HLG is
    #: unmeasured; its lower range follows SDR's gamma, so it keeps the SDR target.
    default_pq_target = 38.5
    default_tolerance = 0.5
    default_tolerance_below = 0.25
    target_range = (20.0, 80.0)
    subsamples = False
    reference_first = True

    def default_target_for(self, transfer: str | None) -> float:
        return self.default_pq_target if (transfer or "").lower() == "smpte2084" else self.default_target

    def picture_format(self, pix_fmt: str) -> str:
        return "scale=sws_dither=none,format=yuv420p"

    def filter(self, *, log_name: str, width: int, height: int, n_subsample: int, threads: int) -> str:
        return f"xpsnr=stats_file={log_name}"

    def read_frames(self, log_path: Path, subject: str) -> list[float]:
        try:
            lines = log_path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise DraptoError(f"xpsnr wrote no usable log ({exc})", subject=subject) from None
        scores = []
        for line in lines:
            if match := _FRAME.match(line):
                value = float(match.group(1))  # "inf" for an identical frame
                scores.append(min(value, CEILING_DB))
        if not scores:
            raise DraptoError(
                "xpsnr scored no frames", subject=subject, hint="the encode may be empty; check the segment"
            )
        return scores

    def pool(self, scores: Sequence[float], method: str) -> float:
        if not scores:
            raise ValueError("no XPSNR frame scores")
        if method == "mean":
            return -20.0 * math.log10(statistics.fmean(10.0 ** (-s / 20.0) for s in scores))
        if method == "harmonic":
            return statistics.harmonic_mean(scores)
        if method == "perc5":
            return low_percentile(scores)
        raise ValueError(f"unknown pooling {method!r}")

    def loss(self, score: float) -> float:
        return 10.0 ** ((_SCALE_DB - min(score, CEILING_DB)) / 20.0)

    def score_at(self, loss: float) -> float:
        return _SCALE_DB - 20.0 * math.log10(loss)

    def valid_for(self, transfer: str | None) -> bool:
        return True


XPSNR = Xpsnr()

__all__ = ["CEILING_DB", "XPSNR", "Xpsnr"]
