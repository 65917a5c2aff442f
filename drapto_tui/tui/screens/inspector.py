"""One job in depth: probe facts, every segment with its search probes, the commands run, the job's log."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, cast

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from drapto_tui.config.units import human_size
from drapto_tui.model.state import ProcessingState, SegmentStatus
from drapto_tui.tui.commands import AppCommands


def facts(job: ProcessingState) -> Table:
    t = Table(box=None, show_header=False, padding=(0, 1))
    t.add_column(style="bold", no_wrap=True)
    t.add_column()
    m = job.media
    t.add_row("File", job.current_file or "")
    t.add_row("Output", job.output_file or "")
    t.add_row("Status", f"{job.status.value} · {job.stage.value} · {job.progress:.0%}")
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
    for key in ("output_bytes", "reduction_percent", "crf_min", "crf_max", "vmaf_file", "probes_per_segment"):
        if key in job.stats:
            t.add_row(key.replace("_", " "), str(job.stats[key]))
    return t


class InspectorScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("r", "retry", "Retry", id="inspector_retry"),
    ]
    DEFAULT_CSS = """
    InspectorScreen #segments { height: 1fr; }
    """

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id

    @property
    def job(self) -> ProcessingState | None:
        return cast(AppCommands, self.app).job_state(self.job_id)

    def compose(self) -> ComposeResult:
        job = self.job
        yield Static(Text(f" {Path(job.current_file or '?').name if job else '?'}", style="bold"), id="title")
        with TabbedContent():
            with TabPane("Facts", id="tab-facts"):
                yield VerticalScroll(Static(id="facts"))
            with TabPane("Segments", id="tab-segments"):
                yield DataTable(id="segments", cursor_type="row", zebra_stripes=True)
            with TabPane("Commands", id="tab-commands"):
                yield VerticalScroll(Static(id="commands"))
            with TabPane("Log", id="tab-log"):
                yield VerticalScroll(Static(id="joblog"))
            with TabPane("FFmpeg log", id="tab-ffmpeg"):
                yield VerticalScroll(Static(id="ffmpeglog"))
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#segments", DataTable)
        for label in (
            "#",
            "Start",
            "End",
            "Frames",
            "Status",
            "CRF",
            "Pred",
            "VMAF",
            "Size",
            "Try",
            "Probes CRF:score:size",
        ):
            table.add_column(label)
        self.refresh_view()
        self.set_interval(0.5, self.refresh_view)

    def refresh_view(self) -> None:
        job = self.job
        if job is None:
            return
        self.query_one("#facts", Static).update(facts(job))
        table = self.query_one("#segments", DataTable)
        cursor = table.cursor_row
        table.clear()
        remote = any(s.worker for s in job.segments.values())
        if remote and not getattr(self, "_worker_column", False):
            table.add_column("Worker")  # only when segments ran on other machines (the Dask executor)
            self._worker_column = True
        for i in sorted(job.segments):
            s = job.segments[i]
            probes = "  ".join(f"{p.crf:g}:{p.score:.1f}:{human_size(p.bytes)}" for p in s.probes)
            status = Text(s.status.value, style="bold reverse" if s.status == SegmentStatus.FAILED else "")
            table.add_row(
                str(i),
                f"{s.start:.1f}",
                f"{s.end:.1f}",
                str(s.frames or ""),
                status,
                f"{s.crf:g}" if s.crf is not None else "",
                f"{s.vmaf_predicted:.2f}" if s.vmaf_predicted is not None else "",
                f"{s.vmaf_measured:.2f}" if s.vmaf_measured is not None else "",
                human_size(s.bytes) if s.bytes else "",
                str(s.attempts or ""),
                probes,
                *([s.worker or ""] if getattr(self, "_worker_column", False) else []),
                key=str(i),
            )
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)
        commands = cast(AppCommands, self.app).job_commands(self.job_id)
        self.query_one("#commands", Static).update(
            Text("\n\n".join(commands) if commands else "no FFmpeg command run in this session yet")
        )
        log = Text()
        for err in job.errors[-200:]:
            seg = f" segment {err.segment}" if err.segment is not None else ""
            log.append(f"{err.time:%H:%M:%S}{seg} {err.message}\n", style="bold" if err.fatal else "")
            for line in err.stderr_tail[-8:]:
                log.append(f"    {line}\n", style="dim")
        self.query_one("#joblog", Static).update(log if log else Text("no warnings or errors"))
        ffmpeg_log = cast(AppCommands, self.app).job_ffmpeg_log(self.job_id)
        self.query_one("#ffmpeglog", Static).update(
            Text("\n".join(ffmpeg_log)) if ffmpeg_log else Text("no FFmpeg run finished for this job yet")
        )

    def action_back(self) -> None:
        self.dismiss(None)

    def action_retry(self) -> None:
        cast(AppCommands, self.app).action_retry(self.job_id)
