"""One job in depth: probe facts, every segment with its search probes, a chart of the segments, the commands
run, the job's log.

It is refreshed twice a second but redraws only what changed: a table cell whose text changed, a row for a new
segment, a chart when a segment finishes, a tab's text when it differs (a job of 3,000 segments cleared and
refilled its table on every tick, 722 ms each).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import ClassVar, cast

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from drapto_tui.config.units import human_size
from drapto_tui.engine.eta import fmt_eta
from drapto_tui.engine.live_figures import live_figures
from drapto_tui.media.metrics import label_of
from drapto_tui.model.events import ProcessingStatus
from drapto_tui.model.state import ProcessingStage, ProcessingState, SegmentState, SegmentStatus
from drapto_tui.tui.commands import AppCommands
from drapto_tui.tui.widgets.key_footer import KeyFooter
from drapto_tui.tui.widgets.segment_chart import SegmentChart


def status_line(job: ProcessingState) -> str:
    """A live job's status: what it does, that step's own progress where one is said (the scene pass, cutting,
    muxing: not the encode, whose progress is the film's), and the film's."""
    step = job.step_progress if job.stage != ProcessingStage.ENCODING else None
    doing = job.activity() + (f" {step:.0%}" if step is not None else "")
    return f"{job.status.value} · {doing} · {job.progress:.0%} encoded"


def facts(job: ProcessingState) -> Table:
    t = Table(box=None, show_header=False, padding=(0, 1))
    t.add_column(style="bold", no_wrap=True)
    t.add_column()
    m = job.media
    t.add_row("File", job.current_file or "")
    t.add_row("Output", job.output_file or "")
    live = job.status in (ProcessingStatus.RUNNING, ProcessingStatus.PAUSED)
    t.add_row("Status", status_line(job) if live else f"{job.status.value} · {job.stage.value}")
    if m is not None:
        t.add_row(
            "Video",
            f"{m.video_codec} {m.width}x{m.height} {m.fps_fraction or m.fps} fps, {m.bit_depth}-bit, "
            f"{m.duration:.1f} s, {m.frame_count} frames",
        )
        t.add_row(
            "Colour", f"{m.color_primaries or '-'} / {m.color_transfer or '-'} / {m.color_matrix or '-'}"
        )
        hdr = f"Dolby Vision profile {m.dv_profile}" if m.dolby_vision else (m.hdr_format or "SDR")
        if job.stats.get("hdr"):
            hdr += f" → {job.stats['hdr']}"
        t.add_row("HDR", hdr)
        t.add_row("Class / path", f"{m.resolution_class.upper()} · {job.encoding_path or ''}")
        for a in m.audio:
            t.add_row(f"Audio {a.index}", f"{a.codec} {a.channels} ch {a.language or ''}")
        t.add_row("Subtitles / chapters", f"{m.subtitles} / {m.chapters}")
        t.add_row("Size", human_size(m.size))
    for label, text in live_lines(job) if live else result_lines(job.stats):
        t.add_row(label, text)
    for line in job.notes[-5:]:
        t.add_row("Note", line)
    return t


def live_lines(job: ProcessingState, now: datetime | None = None) -> list[tuple[str, str]]:
    """A running job's figures (engine/live_figures.py) as a person reads them."""
    lines: list[tuple[str, str]] = []
    live = live_figures(job, now)
    if live.active > 0:
        lines.append(("Elapsed", fmt_eta(live.active)))
    if live.speed is not None:
        fps = f", {live.fps:.0f} fps" if live.fps else ""
        lines.append(("Speed", f"{live.speed:.2f}× real time{fps}"))
    if live.projected_bytes is not None:
        size = f"{human_size(live.done_bytes)} so far, {human_size(int(live.projected_bytes))} projected"
        lines.append(("Video size", size))
        if (saving := live.saving) is not None:
            lines.append(
                ("Saving", f"{saving:.0%} projected" if saving >= 0 else f"{-saving:.0%} larger, projected")
            )
    return lines


def result_lines(stats: dict) -> list[tuple[str, str]]:
    """A finished job's figures as a person reads them: labels, units, a saving said as smaller or larger."""
    lines: list[tuple[str, str]] = []
    if (out := stats.get("output_bytes")) is not None:
        lines.append(("Output size", human_size(int(out))))
    if (pct := stats.get("reduction_percent")) is not None:
        lines.append(
            ("Saving", f"{pct:.1f} % smaller than the source" if pct >= 0 else f"{-pct:.1f} % larger")
        )
    low, high = stats.get("crf_min"), stats.get("crf_max")
    if low is not None and high is not None:
        lines.append(("CRF", f"{low:g}" if low == high else f"{low:g} to {high:g} (per segment)"))
    if (score := stats.get("score_file")) is not None:
        label = label_of(stats.get("metric"))
        lines.append((f"{label}, whole film", f"{score:.2f} (from every segment's, by its frames)"))
    if (probes := stats.get("probes_per_segment")) is not None:
        lines.append(("Probes per segment", f"{probes:.2f}"))
    if (seconds := stats.get("wall_seconds")) is not None:
        lines.append(
            ("Time", f"{seconds:.1f} s" + (f" at {stats['fps']:.0f} fps" if stats.get("fps") else ""))
        )
    if stats.get("damaged"):
        lines.append(("Damaged source", str(stats["damaged"])))
    for change in stats.get("changes") or []:
        lines.append(("Not carried", str(change)))
    if stats.get("replaced"):
        if stats.get("restored"):
            lines.append(("Replaced in place", f"{stats['replaced']}; restored since (the original is back)"))
        else:
            lines.append(("Replaced in place", str(stats["replaced"])))
            lines.append(
                ("Original kept in", f"{stats.get('original_kept')} (drapto-tui restore puts it back)")
            )
    return lines


COLUMNS = (
    "#",
    "Start",
    "End",
    "Frames",
    "Status",
    "CRF",
    "Pred",
    "Score",
    "Size",
    "Try",
    "Probes CRF:score:size",
)


def row_cells(s: SegmentState, worker: bool) -> tuple:
    """One segment's row of the table, as the cells' contents (compared to tell what changed)."""
    probes = "  ".join(f"{p.crf:g}:{p.score:.1f}:{human_size(p.bytes)}" for p in s.probes)
    status = Text(s.status.value, style="bold reverse" if s.status == SegmentStatus.FAILED else "")
    return (
        str(s.index),
        f"{s.start:.1f}",
        f"{s.end:.1f}",
        str(s.frames or ""),
        status,
        f"{s.crf:g}" if s.crf is not None else "",
        f"{s.score_predicted:.2f}" if s.score_predicted is not None else "",
        f"{s.score_measured:.2f}" if s.score_measured is not None else "",
        human_size(s.bytes) if s.bytes else "",
        str(s.attempts or ""),
        probes,
        *([s.worker or ""] if worker else []),
    )


#: Segment rows added per frame while the table fills (a batch costs about 10 ms of measuring).
FILL_BATCH = 40


class InspectorScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("r", "retry", "Retry", id="inspector_retry"),
    ]
    DEFAULT_CSS = """
    InspectorScreen TabbedContent { height: 1fr; }
    InspectorScreen TabPane { height: 1fr; }
    InspectorScreen #segments { height: 1fr; }
    InspectorScreen #chart-box { height: 1fr; }
    """

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self._rows: dict[int, tuple] = {}  # segment index → the cell texts shown
        self._texts: dict[str, str] = {}  # a tab's widget id → the text shown
        self._job_stamp: object = None
        self._worker_column = False

    def show_job(self, job_id: str) -> None:
        """Point this screen at another job. The app keeps one inspector and re-aims it: composing its six tabs
        afresh cost most of the time between Enter and the inspector on screen (up to 180 ms with 1,000 jobs).
        It opens on Facts each time, as a freshly composed one did."""
        self.query_one(TabbedContent).active = "tab-facts"
        if job_id == self.job_id:
            return
        self.job_id = job_id
        self._rows.clear()
        self._texts.clear()
        self._job_stamp = None
        table = self.query_one("#segments", DataTable)
        table.clear()
        if self._worker_column:
            table.remove_column("Worker")
            self._worker_column = False
        self.query_one("#title", Static).update(self._title())

    def _title(self) -> Text:
        job = self.job
        return Text(f" {Path(job.current_file or '?').name if job else '?'}", style="bold")

    @property
    def job(self) -> ProcessingState | None:
        return cast(AppCommands, self.app).job_state(self.job_id)

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="title")
        with TabbedContent():
            with TabPane("Facts", id="tab-facts"):
                yield VerticalScroll(Static(id="facts"))
            with TabPane("Segments", id="tab-segments"):
                yield DataTable(id="segments", cursor_type="row", zebra_stripes=True)
            with TabPane("Chart", id="tab-chart"):
                yield Vertical(id="chart-box")  # the chart is built when its tab is first shown
            with TabPane("Commands", id="tab-commands"):
                yield VerticalScroll(Static(id="commands"))
            with TabPane("Log", id="tab-log"):
                yield VerticalScroll(Static(id="joblog"))
            with TabPane("FFmpeg log", id="tab-ffmpeg"):
                yield VerticalScroll(Static(id="ffmpeglog"))
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#segments", DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label)
        self._ticker = self.set_interval(0.5, self.refresh_view)

    def on_screen_resume(self) -> None:
        self.refresh_view()
        if (ticker := getattr(self, "_ticker", None)) is not None:
            ticker.resume()

    def on_screen_suspend(self) -> None:
        if (ticker := getattr(self, "_ticker", None)) is not None:
            ticker.pause()  # a hidden inspector redraws nothing

    def refresh_view(self) -> None:
        job = self.job
        if job is None:
            return
        app = cast(AppCommands, self.app)
        if job.updated != self._job_stamp:
            self._job_stamp = job.updated
            self.query_one("#facts", Static).update(facts(job))
            self._sync_segments(job)
            for chart in self.query(SegmentChart):
                chart.show(job)
            log = Text()
            for err in job.errors[-200:]:
                seg = f" segment {err.segment}" if err.segment is not None else ""
                log.append(f"{err.time:%H:%M:%S}{seg} {err.message}\n", style="bold" if err.fatal else "")
                for line in err.stderr_tail[-8:]:
                    log.append(f"    {line}\n", style="dim")
            self._set_text("joblog", log if log else Text("no warnings or errors"))
        commands = app.job_commands(self.job_id)
        self._set_text(
            "commands",
            Text("\n\n".join(commands) if commands else "no FFmpeg command run in this session yet"),
        )
        ffmpeg_log = app.job_ffmpeg_log(self.job_id)
        self._set_text(
            "ffmpeglog",
            Text("\n".join(ffmpeg_log)) if ffmpeg_log else Text("no FFmpeg run finished for this job yet"),
        )

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Build the chart on first sight: opening the inspector stays quick (the chart's plots cost about a
        fifth of it), and most looks at a job never open this tab."""
        if event.pane.id == "tab-chart" and not self.query(SegmentChart):
            chart = SegmentChart(id="chart", target=cast(AppCommands, self.app).default_target())
            self.query_one("#chart-box", Vertical).mount(chart)
            if (job := self.job) is not None:
                self.call_after_refresh(chart.show, job)

    def _set_text(self, widget_id: str, text: Text) -> None:
        if self._texts.get(widget_id) != text.markup:
            self._texts[widget_id] = text.markup
            self.query_one(f"#{widget_id}", Static).update(text)

    def _sync_segments(self, job: ProcessingState) -> None:
        """Rows in segment order, touching only the cells whose text changed; a re-planned job (segments gone or
        new ones before the last row) is drawn afresh."""
        table = self.query_one("#segments", DataTable)
        if not self._worker_column and any(s.worker for s in job.segments.values()):
            # Only when segments ran on other machines (the Dask executor).
            table.add_column("Worker", key="Worker")
            self._worker_column = True
            self._rows.clear()
            table.clear()
        order = sorted(job.segments)
        shown = list(self._rows)
        if shown != order[: len(shown)]:
            cursor = table.cursor_row
            table.clear()
            self._rows.clear()
            if order:
                self._fill(table, job, order)
                table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)
            return
        for i in shown:
            cells = row_cells(job.segments[i], self._worker_column)
            old = self._rows[i]
            if cells == old:
                continue
            for column, (before, after) in enumerate(zip(old, cells, strict=True)):
                if before != after:
                    table.update_cell(str(i), self._column_keys()[column], after)
            self._rows[i] = cells
        self._fill(table, job, order[len(shown) :])

    def _fill(self, table: DataTable, job: ProcessingState, indexes: list[int]) -> None:
        """Add these rows, FILL_BATCH at a time: a film of a thousand segments opens at once and its rows follow
        in the next frames, so a key pressed meanwhile is not kept waiting for all of them."""
        for i in indexes[:FILL_BATCH]:
            cells = row_cells(job.segments[i], self._worker_column)
            table.add_row(*cells, key=str(i))
            self._rows[i] = cells
        if len(indexes) > FILL_BATCH:
            self.set_timer(0.01, self._fill_more)

    def _fill_more(self) -> None:
        if (job := self.job) is not None:
            self._sync_segments(job)

    def _column_keys(self) -> list[str]:
        return [*COLUMNS, *(["Worker"] if self._worker_column else [])]

    def action_back(self) -> None:
        self.dismiss(None)

    def action_retry(self) -> None:
        cast(AppCommands, self.app).action_retry(self.job_id)
