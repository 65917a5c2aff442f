"""The quality metrics drapto-tui can aim at, by name: the only table that says which exist.

`metric_for(name, transfer)`: the metric a job is judged by. "auto" (the default) is VMAF, except on pictures
coded for an HDR display (PQ, HLG), where VMAF's figure is not valid and XPSNR is used (README, "Quality").
"""

from __future__ import annotations

from drapto_tui.media.metrics.base import HDR_TRANSFERS, Metric, ScoreResult, is_hdr_transfer
from drapto_tui.media.metrics.measure import Scoring, measure_score, score_graph
from drapto_tui.media.metrics.vmaf import VMAF
from drapto_tui.media.metrics.xpsnr import XPSNR

METRICS: dict[str, Metric] = {metric.name: metric for metric in (VMAF, XPSNR)}
#: What "auto" means for SDR pictures and for HDR ones.
SDR_DEFAULT = VMAF.name
HDR_DEFAULT = XPSNR.name


def metric_named(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r} (known: {', '.join(METRICS)})") from None


def label_of(name: str | None) -> str:
    """What people read for a metric's name in events and state ("VMAF"); "score" when none is known."""
    metric = METRICS.get(name or "")
    return metric.label if metric else "score"


def metric_for(name: str, transfer: str | None) -> Metric:
    """The metric named, or for "auto" the default for pictures with this transfer characteristic."""
    if name == "auto":
        return METRICS[HDR_DEFAULT if is_hdr_transfer(transfer) else SDR_DEFAULT]
    return metric_named(name)


__all__ = [
    "HDR_DEFAULT",
    "HDR_TRANSFERS",
    "METRICS",
    "SDR_DEFAULT",
    "Metric",
    "ScoreResult",
    "Scoring",
    "is_hdr_transfer",
    "label_of",
    "measure_score",
    "metric_for",
    "metric_named",
    "score_graph",
]
