"""A job's segments as a chart: their score in the job's metric (measured, else predicted) against the target, and the chosen CRF, over
film time. The inspector draws the points in the terminal; `output.report = true` writes the same figure as an
SVG beside the output, for people who check results later (a plain SVG: any browser opens it, no plotting
library needed to write it).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from html import escape
from pathlib import Path

from drapto_tui.media.metrics import metric_named
from drapto_tui.model.state import ProcessingState, SegmentStatus


@dataclass(frozen=True)
class ChartPoint:
    index: int
    start: float
    end: float
    crf: float
    score: float
    predicted: bool  # the score is the search's prediction (audit mode), not a measurement of the output

    @property
    def middle(self) -> float:
        return (self.start + self.end) / 2


def chart_points(job: ProcessingState) -> list[ChartPoint]:
    """Finished segments with a CRF and a score, in film order."""
    points = []
    for i in sorted(job.segments):
        seg = job.segments[i]
        if seg.status != SegmentStatus.DONE or seg.crf is None:
            continue
        score = seg.score_measured if seg.score_measured is not None else seg.score_predicted
        if score is None:
            continue
        points.append(ChartPoint(i, seg.start, seg.end, seg.crf, score, seg.score_measured is None))
    return points


def time_axis(job: ProcessingState) -> tuple[float, str]:
    """Seconds per axis unit and its name: minutes for a film, seconds for a clip."""
    end = max((s.end for s in job.segments.values()), default=0.0)
    return (60.0, "min") if end > 180 else (1.0, "s")


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    step = (high - low) / max(count - 1, 1)
    return [low + i * step for i in range(count)]


def report_svg(job: ProcessingState) -> str:
    """The chart as a self-contained SVG document."""
    points = chart_points(job)
    metric = metric_named(job.metric) if job.metric else None
    label = metric.label if metric else "score"
    target = job.target if job.target is not None else (metric.default_target if metric else 0.0)
    width, height, left, right = 900, 460, 70, 20
    panels = {"score": (50, 220), "crf": (270, 400)}  # top and bottom y of each panel
    scale, unit = time_axis(job)
    end = max((s.end for s in job.segments.values()), default=1.0) / scale or 1.0

    def x_of(seconds: float) -> float:
        return left + (width - left - right) * (seconds / scale) / end

    def y_of(value: float, low: float, high: float, panel: str) -> float:
        top, bottom = panels[panel]
        return bottom - (bottom - top) * (value - low) / ((high - low) or 1.0)

    name = Path(job.current_file or "?").name
    measured = [p.score for p in points]
    below = sum(1 for v in measured if v < target)
    crfs = [p.crf for p in points]
    score_unit = metric.unit if metric else ""
    title = f"{name}: {len(points)} segments, target {label} {target:g}{score_unit}"
    if points:
        title += (
            f", {label} {min(measured):.2f}–{max(measured):.2f}{score_unit}, {below} below,"
            f" CRF {min(crfs):g}–{max(crfs):g}"
        )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="24" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    v_low = min([*measured, target]) - 0.5
    v_high = max([*measured, target]) + 0.5
    c_low = min(crfs, default=0.0) - 1
    c_high = max(crfs, default=1.0) + 1
    axes = {"score": (v_low, v_high, label + score_unit), "crf": (c_low, c_high, "CRF")}
    for panel, (low, high, axis_label) in axes.items():
        top, bottom = panels[panel]
        out.append(
            f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{bottom - top}" '
            'fill="none" stroke="#888"/>'
        )
        out.append(
            f'<text x="16" y="{(top + bottom) / 2}" transform="rotate(-90 16 {(top + bottom) / 2})" '
            f'text-anchor="middle">{axis_label}</text>'
        )
        for tick in _ticks(low, high):
            y = y_of(tick, low, high, panel)
            out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:.1f}</text>')
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#eee"/>')
    for tick in _ticks(0.0, end):
        x = left + (width - left - right) * tick / end
        out.append(f'<text x="{x:.1f}" y="{panels["crf"][1] + 18}" text-anchor="middle">{tick:.1f}</text>')
    out.append(
        f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">film time ({unit})</text>'
    )
    ty = y_of(target, v_low, v_high, "score")
    out.append(
        f'<line x1="{left}" y1="{ty:.1f}" x2="{width - right}" y2="{ty:.1f}" stroke="#d08000" '
        'stroke-dasharray="6 4"/>'
    )
    out.append(
        f'<text x="{width - right - 4}" y="{ty - 4:.1f}" text-anchor="end" fill="#d08000">target</text>'
    )
    if points:
        score_line = " ".join(
            f"{x_of(p.middle):.1f},{y_of(p.score, v_low, v_high, 'score'):.1f}" for p in points
        )
        crf_line = " ".join(f"{x_of(p.middle):.1f},{y_of(p.crf, c_low, c_high, 'crf'):.1f}" for p in points)
        out.append(f'<polyline points="{score_line}" fill="none" stroke="#2a8a3a" stroke-width="1.5"/>')
        out.append(f'<polyline points="{crf_line}" fill="none" stroke="#2a5ab8" stroke-width="1.5"/>')
    for p in points:
        x, y = x_of(p.middle), y_of(p.score, v_low, v_high, "score")
        tip = (
            f"segment {p.index}: CRF {p.crf:g}, {label} {p.score:.2f}{' (predicted)' if p.predicted else ''}"
        )
        if p.score < target:
            out.append(
                f'<path d="M{x - 5:.1f},{y - 4:.1f} L{x + 5:.1f},{y - 4:.1f} L{x:.1f},{y + 5:.1f} Z" '
                f'fill="#c02020" class="below"><title>{escape(tip)}</title></path>'
            )
        else:
            fill = "white" if p.predicted else "#2a8a3a"
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{fill}" stroke="#2a8a3a" class="segment">'
                f"<title>{escape(tip)}</title></circle>"
            )
        cy = y_of(p.crf, c_low, c_high, "crf")
        out.append(f'<circle cx="{x:.1f}" cy="{cy:.1f}" r="2.5" fill="#2a5ab8"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def report_path(output: Path) -> Path:
    """Beside the output: `Film (2001).mkv` → `Film (2001).segments.svg`."""
    return output.with_name(f"{output.stem}.segments.svg")


def write_report(job: ProcessingState, output: Path) -> Path:
    """Write the chart beside the output, atomically (never a partial file at the path a user opens)."""
    path = report_path(output)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".svg", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(report_svg(job))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
