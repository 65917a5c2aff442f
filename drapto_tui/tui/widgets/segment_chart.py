"""The inspector's chart: each finished segment's score (the job's metric) against the target, and the CRF it was given, over film time.

Drawn with textual-plot (a native Textual plotting widget, kept up to date, that works with the Textual we pin
and draws in braille for more points than cells; textual-plotext wraps plotext's own ANSI output and has not had
a release since 2024). Two plots share the time axis: the score on top, with the target as a line and segments under it
marked ▼ as in the grid, and CRF below. It is redrawn only when a segment finishes or its numbers change.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plot import HiResMode, LegendLocation, PlotWidget

from drapto_tui.media.metrics import label_of
from drapto_tui.model.state import ProcessingState
from drapto_tui.quality.report import ChartPoint, chart_points, time_axis


class SegmentChart(Vertical):
    DEFAULT_CSS = """
    SegmentChart { height: 1fr; }
    SegmentChart PlotWidget { height: 1fr; min-height: 5; }
    SegmentChart #chart-note { height: 1; color: $text-muted; }
    """

    def __init__(self, *, target: float, id: str | None = None) -> None:
        super().__init__(id=id)
        self.default_target = target  # until the job says its own
        self.target = target
        self.label = "score"
        self._signature: tuple = ()

    def compose(self) -> ComposeResult:
        yield Static(id="chart-note")
        yield PlotWidget(id="score-plot", allow_pan_and_zoom=False)
        yield PlotWidget(id="crf-plot", allow_pan_and_zoom=False)

    def on_mount(self) -> None:
        # Room for the plots at 80x24: one line over each, the time axis' name under the lower one only.
        score = self.query_one("#score-plot", PlotWidget)
        crf = self.query_one("#crf-plot", PlotWidget)
        score.margin_top, score.margin_bottom, score.margin_left = 1, 1, 7
        crf.margin_top, crf.margin_bottom, crf.margin_left = 1, 2, 7

    def show(self, job: ProcessingState) -> None:
        plots = list(self.query(PlotWidget))
        if not plots or not all(plot.is_mounted for plot in plots):
            # A plot clears itself when it mounts: drawing before that (a busy machine, a just-built tab) would
            # be wiped, leaving empty axes. Draw once both plots are mounted.
            self.set_timer(0.05, lambda: self.show(job))
            return
        self.target = job.target if job.target is not None else self.default_target
        self.label = label_of(job.metric)
        points = chart_points(job)
        signature = tuple((p.index, p.crf, p.score) for p in points)
        if signature == self._signature and self._signature:
            return
        self._signature = signature
        self._draw(job, points)

    def _draw(self, job: ProcessingState, points: list[ChartPoint]) -> None:
        theme = self.app.current_theme
        note = self.query_one("#chart-note", Static)
        score_plot = self.query_one("#score-plot", PlotWidget)
        crf_plot = self.query_one("#crf-plot", PlotWidget)
        score_plot.clear()
        crf_plot.clear()
        if not points:
            note.update(" no segment finished yet: the chart fills in as segments finish")
            return
        scale, unit = time_axis(job)
        xs = [p.middle / scale for p in points]
        end = max(s.end for s in job.segments.values()) / scale
        predicted = sum(1 for p in points if p.predicted)
        below = [p for p in points if p.score < self.target]
        note.update(
            f" {len(points)}/{len(job.segments)} segments · target {self.target:g} · {len(below)} below"
            + (f" · {predicted} predicted, not measured" if predicted else "")
        )
        score_plot.plot(
            [0.0, end],
            [self.target, self.target],
            line_style=theme.warning or "yellow",
            hires_mode=HiResMode.BRAILLE,
            label=f"target {self.target:g}",
        )
        score_plot.plot(
            xs,
            [p.score for p in points],
            line_style=theme.success or "green",
            hires_mode=HiResMode.BRAILLE,
            label=self.label,
        )
        if below:
            score_plot.scatter(
                [p.middle / scale for p in below],
                [p.score for p in below],
                marker="▼",
                marker_style=theme.error or "red",
            )
        low = min(min(p.score for p in points), self.target) - 0.5
        high = max(max(p.score for p in points), self.target) + 0.5
        score_plot.set_ylimits(low, high)
        score_plot.set_xlimits(0.0, end)
        score_plot.set_ylabel(self.label)
        score_plot.show_legend(LegendLocation.BOTTOMRIGHT)
        crf_plot.plot(
            xs,
            [p.crf for p in points],
            line_style=theme.primary or "blue",
            hires_mode=HiResMode.BRAILLE,
            label="CRF",
        )
        crf_plot.set_xlimits(0.0, end)
        crf_plot.set_ylimits(min(p.crf for p in points) - 1, max(p.crf for p in points) + 1)
        crf_plot.set_ylabel("CRF")
        crf_plot.set_xlabel(f"film time ({unit})")
