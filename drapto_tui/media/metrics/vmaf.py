"""VMAF, FFmpeg's libvmaf: Netflix's model of how viewers rate a picture, in points from 0 to 100.

Its models were trained on SDR pictures (BT.709 gamma) watched on SDR displays: on PQ or HLG code values its
figure does not mean what it says (`valid_for`), so an HDR film is judged by another metric by default
(media/metrics/__init__.py). The 4K model is used for frames wider than 2560 and taller than 1440.

Loss is 100 − VMAF: close to exponential in CRF near VMAF 90-95 (issue 12's measurements, quality/predictive.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from drapto_tui.errors import DraptoError
from drapto_tui.media.metrics.base import arithmetic, is_hdr_transfer, low_percentile


def vmaf_model(width: int, height: int) -> str:
    """The 4K model when the frame is wider than 2560 and taller than 1440; the default model otherwise."""
    return "vmaf_4k_v0.6.1" if width > 2560 and height > 1440 else "vmaf_v0.6.1"


def default_threads() -> int:
    return max(os.cpu_count() or 1, 1)


class Vmaf:
    name = "vmaf"
    label = "VMAF"
    unit = ""
    ffmpeg_filter = "libvmaf"
    ffmpeg_build = "--enable-libvmaf"
    default_target = 93.0
    default_tolerance = 1.0
    default_tolerance_below = 0.5
    target_range = (50.0, 100.0)
    subsamples = True
    reference_first = False

    def default_target_for(self, transfer: str | None) -> float:
        return self.default_target

    def picture_format(self, pix_fmt: str) -> str:
        return f"format={pix_fmt}"

    def filter(self, *, log_name: str, width: int, height: int, n_subsample: int, threads: int) -> str:
        return (
            f"libvmaf=model=version={vmaf_model(width, height)}:n_subsample={n_subsample}"
            f":n_threads={threads or default_threads()}:log_fmt=json:log_path={log_name}"
        )

    def read_frames(self, log_path: Path, subject: str) -> list[float]:
        try:
            data = json.loads(log_path.read_text(encoding="utf-8"))
            scores = [float(frame["metrics"]["vmaf"]) for frame in data["frames"]]
        except (OSError, ValueError, KeyError) as exc:
            raise DraptoError(f"libvmaf wrote no usable log ({exc})", subject=subject) from None
        if not scores:
            raise DraptoError(
                "libvmaf scored no frames", subject=subject, hint="the encode may be empty; check the segment"
            )
        return scores

    def pool(self, scores: Sequence[float], method: str) -> float:
        if not scores:
            raise ValueError("no VMAF frame scores")
        if method == "mean":
            return arithmetic(scores)
        if method == "harmonic":  # libvmaf's harmonic_mean convention
            return len(scores) / sum(1.0 / (s + 1.0) for s in scores) - 1.0
        if method == "perc5":
            return low_percentile(scores)
        raise ValueError(f"unknown pooling {method!r}")

    def loss(self, score: float) -> float:
        """100 − VMAF, kept positive (a perfect score would make the logarithm meaningless)."""
        return max(100.0 - score, 0.05)

    def score_at(self, loss: float) -> float:
        return 100.0 - loss

    def valid_for(self, transfer: str | None) -> bool:
        return not is_hdr_transfer(transfer)


VMAF = Vmaf()

__all__ = ["VMAF", "Vmaf", "vmaf_model"]
