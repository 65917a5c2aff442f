"""What a film is aimed at: the metric it is judged by, the target and the acceptance window, in that metric's
unit, from the configuration and the film's transfer characteristic.

With `quality.metric = "auto"` an SDR film is judged by VMAF at `quality.target` and an HDR (PQ, HLG) film by
XPSNR at `quality.hdr_target`, each defaulting to its metric's own for that picture (XPSNR: 35 dB, 38.5 on PQ);
an explicit metric uses `quality.target` for every film. A target outside the metric's range (VMAF 40 dB, XPSNR 93) is refused before any work, naming
the key.
"""

from __future__ import annotations

from dataclasses import dataclass

from drapto_tui.config import DraptoConfig
from drapto_tui.errors import ConfigError
from drapto_tui.media.metrics import Metric, is_hdr_transfer, metric_for


@dataclass(frozen=True)
class QualityAim:
    metric: Metric
    target: float
    tolerance: float
    tolerance_below: float

    def describe(self) -> str:
        """E.g. "VMAF 93" or "XPSNR 40 dB"."""
        return f"{self.metric.label} {self.target:g}{self.metric.unit}"


def quality_aim(config: DraptoConfig, transfer: str | None) -> QualityAim:
    quality, search = config.quality, config.search
    metric = metric_for(quality.metric, transfer)
    hdr_of_auto = quality.metric == "auto" and is_hdr_transfer(transfer)
    key = "quality.hdr_target" if hdr_of_auto else "quality.target"
    chosen = quality.hdr_target if hdr_of_auto else quality.target
    target = metric.default_target_for(transfer) if chosen is None else chosen
    low, high = metric.target_range
    if not low <= target <= high:
        raise ConfigError(
            [
                config.describe(
                    key,
                    f"outside the range of {metric.label} ({low:g}–{high:g}{metric.unit}); set {key} in"
                    f" {metric.label}'s unit, or quality.metric to the metric you meant",
                )
            ]
        )
    return QualityAim(
        metric=metric,
        target=target,
        tolerance=metric.default_tolerance if search.tolerance is None else search.tolerance,
        tolerance_below=metric.default_tolerance_below
        if search.tolerance_below is None
        else search.tolerance_below,
    )


__all__ = ["QualityAim", "quality_aim"]
